//! The HTTP side shared by every backend: one `reqwest` client (rustls, a per-call timeout), and
//! the one place where a failed call becomes an [`ExecError`]:
//!
//! | answer | error |
//! | --- | --- |
//! | no answer within the timeout | [`ExecError::Timeout`] |
//! | connection refused, reset, DNS failure | [`ExecError::Unavailable`] |
//! | 429, or 403 with `x-ratelimit-remaining: 0` or a `Retry-After` (GitHub's primary and secondary rate limits) | [`ExecError::Unavailable`] with the wait asked for (60 s when none is given) |
//! | 408, 5xx | [`ExecError::Unavailable`] (with `Retry-After` when sent, e.g. with a 503) |
//! | any other 4xx | [`ExecError::Rejected`] with the backend's own message |
//! | 1xx, 3xx, an unreadable 2xx | [`ExecError::BadResponse`] |
//!
//! The wait comes from `Retry-After` (delay-seconds or an HTTP date, RFC 9110 §10.2.3), else from
//! GitHub's `x-ratelimit-reset` (Unix seconds)
//! (<https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api>).
//! Error bodies are reduced to a short, single-line excerpt: the `message` of a JSON error
//! (GitHub's `{"message"}`, Backstage's `{"error": {"message"}}` or `{"errors": [{"message"}]}`),
//! else the text with any HTML tags and control characters removed, cut at
//! [`EXCERPT_CHARS`] characters.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use regex::Regex;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ExecError;

/// The `User-Agent` of every call (GitHub refuses requests without one).
pub const USER_AGENT: &str = concat!("idp/", env!("CARGO_PKG_VERSION"));

/// The longest excerpt of an error body kept in a message, in characters.
pub const EXCERPT_CHARS: usize = 200;

/// The TCP connect timeout, within the per-call timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The most of an answer's body idp reads (1 MiB): backends answer far less.
const MAX_BODY_BYTES: usize = 1 << 20;

/// One backend as seen by the HTTP layer: its kind (for messages) and the setting holding its
/// credentials (named when it refuses them).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backend {
    /// [`super::Execution::kind`].
    pub kind: &'static str,
    /// The variable to check when it answers 401.
    pub credentials: &'static str,
}

/// Builds the client every backend shares.
///
/// # Errors
/// Why the TLS stack could not be set up.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    crate::install_crypto_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(CONNECT_TIMEOUT.min(timeout))
        .user_agent(USER_AGENT)
        .build()
        .map_err(|e| format!("cannot build the HTTP client of the execution backends: {e}"))
}

/// `Authorization: Bearer <token>`, marked sensitive so it never shows in a `Debug` output.
///
/// # Errors
/// [`ExecError::NotConfigured`] when the token cannot go in a header (a newline pasted in).
pub(crate) fn bearer(token: &SecretString, variable: &str) -> Result<HeaderValue, ExecError> {
    let mut value =
        HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).map_err(|_| {
            ExecError::NotConfigured(format!(
                "{variable} holds characters that cannot go in an HTTP header"
            ))
        })?;
    value.set_sensitive(true);
    Ok(value)
}

/// `base` (a setting's URL, which may have a path such as `/api/v3`) with `segments` appended, each
/// percent-encoded as one path segment.
///
/// # Errors
/// [`ExecError::NotConfigured`] when `base` (named by `setting`) is not a URL that can take a
/// path, or a segment is empty, `.` or `..` (it would change the path rather than name a thing).
pub(crate) fn endpoint(
    base: &str,
    setting: &str,
    segments: &[&str],
) -> Result<reqwest::Url, ExecError> {
    if let Some(bad) = segments.iter().find(|s| matches!(**s, "" | "." | "..")) {
        return Err(ExecError::NotConfigured(format!(
            "`{bad}` cannot name a repository, workflow or task"
        )));
    }
    let mut url = reqwest::Url::parse(base)
        .map_err(|e| ExecError::NotConfigured(format!("{setting} is not a usable URL: {e}")))?;
    url.path_segments_mut()
        .map_err(|()| ExecError::NotConfigured(format!("{setting} cannot take a path")))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// Sends a request, turning transport failures into [`ExecError`]s. The answer may be any status.
///
/// # Errors
/// [`ExecError::Timeout`] or [`ExecError::Unavailable`].
pub(crate) async fn send(
    backend: Backend,
    timeout: Duration,
    request: RequestBuilder,
) -> Result<Response, ExecError> {
    request
        .send()
        .await
        .map_err(|e| transport_error(backend, timeout, e))
}

fn transport_error(backend: Backend, timeout: Duration, error: reqwest::Error) -> ExecError {
    if error.is_timeout() {
        return ExecError::Timeout {
            backend: backend.kind,
            millis: timeout.as_millis(),
        };
    }
    let what = if error.is_connect() {
        "cannot connect"
    } else {
        "the request failed"
    };
    ExecError::Unavailable {
        backend: backend.kind,
        message: format!("{what}: {}", causes(error)),
        retry_after: None,
    }
}

/// An error and its causes, `a: b: c`, without the URL (it may hold a token).
fn causes(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Reads a body of at most 1 MiB.
///
/// # Errors
/// [`ExecError::Timeout`] when the body does not arrive in time, [`ExecError::BadResponse`] when
/// it is larger or the connection breaks.
pub(crate) async fn body(
    backend: Backend,
    timeout: Duration,
    mut response: Response,
) -> Result<Vec<u8>, ExecError> {
    let mut bytes = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(ExecError::BadResponse {
                        backend: backend.kind,
                        detail: format!("an answer larger than {MAX_BODY_BYTES} bytes"),
                    });
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(bytes),
            Err(e) if e.is_timeout() => {
                return Err(ExecError::Timeout {
                    backend: backend.kind,
                    millis: timeout.as_millis(),
                });
            }
            Err(e) => {
                return Err(ExecError::BadResponse {
                    backend: backend.kind,
                    detail: format!("the answer broke off: {}", causes(e)),
                });
            }
        }
    }
}

/// The answer when its status is 2xx, else the [`ExecError`] its status, headers and body stand
/// for (see the module table).
///
/// # Errors
/// As in the module table.
pub(crate) async fn success(
    backend: Backend,
    timeout: Duration,
    response: Response,
) -> Result<Response, ExecError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let headers = response.headers().clone();
    // A body that cannot be read still leaves the status to go by.
    let bytes = body(backend, timeout, response).await.unwrap_or_default();
    Err(status_error(backend, status, &headers, &bytes, now_unix()))
}

/// A 2xx answer's body as `T`.
///
/// # Errors
/// [`success`]'s errors; [`ExecError::BadResponse`] when the body is not the JSON expected.
pub(crate) async fn json<T: DeserializeOwned>(
    backend: Backend,
    timeout: Duration,
    response: Response,
) -> Result<T, ExecError> {
    let response = success(backend, timeout, response).await?;
    let bytes = body(backend, timeout, response).await?;
    serde_json::from_slice(&bytes).map_err(|e| ExecError::BadResponse {
        backend: backend.kind,
        detail: format!("{e} in `{}`", excerpt(&bytes)),
    })
}

/// The error a non-2xx answer stands for, at `now` (Unix seconds, for `x-ratelimit-reset`).
pub(crate) fn status_error(
    backend: Backend,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> ExecError {
    let message = error_message(body);
    let rate_limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN
            && (header(headers, "x-ratelimit-remaining") == Some("0")
                || headers.contains_key(RETRY_AFTER)));
    if rate_limited {
        return ExecError::Unavailable {
            backend: backend.kind,
            message: format!("rate limited (HTTP {}): {message}", status.as_u16()),
            retry_after: Some(retry_after(headers, now).unwrap_or(Duration::from_secs(60))),
        };
    }
    if status == StatusCode::REQUEST_TIMEOUT || status.is_server_error() {
        return ExecError::Unavailable {
            backend: backend.kind,
            message: format!("HTTP {}: {message}", status.as_u16()),
            retry_after: retry_after(headers, now),
        };
    }
    if status.is_client_error() {
        let message = if status == StatusCode::UNAUTHORIZED {
            format!("{message} (check {})", backend.credentials)
        } else {
            message
        };
        return ExecError::Rejected {
            backend: backend.kind,
            status: status.as_u16(),
            message,
        };
    }
    ExecError::BadResponse {
        backend: backend.kind,
        detail: format!("unexpected HTTP {}: {message}", status.as_u16()),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

/// Now, in Unix seconds.
pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// How long an answer asks to wait: `Retry-After` as delay-seconds or an HTTP date, else GitHub's
/// `x-ratelimit-reset` (Unix seconds) relative to `now`. A time already past is no wait.
pub fn retry_after(headers: &HeaderMap, now: i64) -> Option<Duration> {
    let until = |at: i64| Duration::from_secs(u64::try_from(at.saturating_sub(now)).unwrap_or(0));
    if let Some(text) = header(headers, RETRY_AFTER.as_str()) {
        if let Ok(secs) = text.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(at) = httpdate::parse_http_date(text) {
            let at = at
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            return Some(until(at));
        }
    }
    let reset = header(headers, "x-ratelimit-reset")?.parse::<i64>().ok()?;
    Some(until(reset))
}

/// The message of an error body: a JSON error's own message, else a safe excerpt of the text;
/// `no message` for an empty body.
pub fn error_message(body: &[u8]) -> String {
    let from_json = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| json_message(&v));
    match from_json {
        Some(message) => excerpt(message.as_bytes()),
        None if body.iter().all(u8::is_ascii_whitespace) => "no message".to_owned(),
        None => excerpt(body),
    }
}

/// `message` (GitHub), `error.message` or a string `error` (Backstage, others), or the first
/// `errors[].message` (Backstage's 400 on invalid values), with GitHub's `errors[].message`
/// details appended when there are some.
fn json_message(value: &Value) -> Option<String> {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let details: Vec<String> = value
        .get("errors")
        .and_then(Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| {
                    e.get("message")
                        .or_else(|| e.get("stack"))
                        .and_then(Value::as_str)
                        .or_else(|| e.as_str())
                })
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let main = value
        .get("message")
        .and_then(text)
        .or_else(|| {
            value
                .get("error")
                .and_then(|e| e.get("message"))
                .and_then(text)
        })
        .or_else(|| value.get("error").and_then(text));
    match (main, details.is_empty()) {
        (Some(main), true) => Some(main),
        (Some(main), false) => Some(format!("{main}: {}", details.join("; "))),
        (None, false) => Some(details.join("; ")),
        (None, true) => None,
    }
}

static TAG: LazyLock<Regex> = LazyLock::new(|| {
    #[expect(
        clippy::unwrap_used,
        reason = "a literal pattern, checked by the tests"
    )]
    Regex::new(r"(?s)<(script|style)\b.*?</(script|style)\s*>|<[^>]*>").unwrap()
});

/// A safe, single-line excerpt of a body: HTML tags, scripts and styles removed, control
/// characters and runs of whitespace turned into one space, at most [`EXCERPT_CHARS`] characters
/// (then `…`).
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = TAG.replace_all(&text, " ");
    let mut out = String::new();
    let mut chars = 0;
    for word in text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
            chars += 1;
        }
        for c in word.chars() {
            if chars == EXCERPT_CHARS {
                out.push('…');
                return out;
            }
            out.push(c);
            chars += 1;
        }
    }
    if out.is_empty() {
        "an empty or unreadable body".to_owned()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GITHUB: Backend = Backend {
        kind: "github-actions",
        credentials: "GITHUB_TOKEN",
    };

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).expect("header"));
        }
        map
    }

    #[test]
    fn retry_after_reads_seconds_http_dates_and_github_reset_times() {
        let now = 1_700_000_000;
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")]), now),
            Some(Duration::from_secs(7))
        );
        let date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(1_700_000_030));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &date)]), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(&headers(&[("x-ratelimit-reset", "1700000090")]), now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            retry_after(&headers(&[("x-ratelimit-reset", "1600000000")]), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
    }

    #[test]
    fn statuses_map_to_rejected_unavailable_or_bad_response() {
        let none = HeaderMap::new();
        let e = status_error(
            GITHUB,
            StatusCode::UNPROCESSABLE_ENTITY,
            &none,
            br#"{"message": "Unexpected inputs provided: [\"foo\"]", "documentation_url": "x"}"#,
            0,
        );
        assert_eq!(
            e,
            ExecError::Rejected {
                backend: "github-actions",
                status: 422,
                message: r#"Unexpected inputs provided: ["foo"]"#.to_owned()
            }
        );
        let e = status_error(GITHUB, StatusCode::UNAUTHORIZED, &none, b"", 0);
        assert!(e.to_string().contains("check GITHUB_TOKEN"), "{e}");
        let limited = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "100")]);
        let e = status_error(GITHUB, StatusCode::FORBIDDEN, &limited, b"{}", 40);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(60)));
        assert!(e.is_transient());
        let e = status_error(GITHUB, StatusCode::FORBIDDEN, &none, b"{}", 0);
        assert!(!e.is_transient());
        let e = status_error(GITHUB, StatusCode::BAD_GATEWAY, &none, b"<html>", 0);
        assert!(e.is_transient() && e.retry_after().is_none());
        let e = status_error(GITHUB, StatusCode::FOUND, &none, b"", 0);
        assert!(matches!(e, ExecError::BadResponse { .. }));
    }

    #[test]
    fn error_bodies_become_short_safe_excerpts() {
        assert_eq!(
            error_message(br#"{"error": {"name": "InputError", "message": "bad ref"}}"#),
            "bad ref"
        );
        assert_eq!(
            error_message(br#"{"errors": [{"message": "name is required"}]}"#),
            "name is required"
        );
        assert_eq!(
            error_message(
                b"<html><head><style>p{}</style><title>502</title></head>\n<body><h1>Bad\tGateway</h1>\x07</body></html>"
            ),
            "502 Bad Gateway"
        );
        assert_eq!(error_message(b"  \n"), "no message");
        let long = "x".repeat(500);
        let cut = error_message(long.as_bytes());
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(error_message(&[0xff, 0xfe, b'o', b'k']), "��ok");
    }
}
