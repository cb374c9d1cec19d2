//! A fake webhook receiver on 127.0.0.1 (`POST /hooks/idp`), standing for an organisation's
//! service behind `IDP_WEBHOOK_URL`. It checks each dispatch as `docs/webhook-backend.md` says a
//! receiver must: the signature (`X-Idp-Signature: v1=` HMAC-SHA256 of `v1:{ts}:{body}`, computed
//! here independently of idp), the timestamp window, `Content-Type`, `Idempotency-Key`, and the
//! body's eight fields and their types. It treats `run_id` as an idempotency key (a repeat is
//! recorded as a duplicate), answers each dispatch with the next scripted [`Answer`], and
//! [`send_callback`] reports progress back the way a receiver would.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;

use super::{Server, header, hmac_hex, lock};

/// The secret shared with idp (`IDP_WEBHOOK_SECRET`).
pub const SECRET: &str = "idp-webhook-secret-5b2c9e";

/// How the fake answers one dispatch.
#[derive(Debug, Clone)]
pub enum Answer {
    /// 202 with this JSON body, or an empty one.
    Accept(Option<Value>),
    /// This status, content type and body.
    Status(u16, &'static str, &'static str),
    /// Sleeps this long, then accepts with an empty 202.
    Slow(Duration),
}

/// One dispatch received.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The body's `run_id`.
    pub run_id: Option<String>,
    /// The body.
    pub body: Value,
    /// Whether the signature and timestamp checked out.
    pub signed: bool,
    /// Whether this run id had been delivered before.
    pub duplicate: bool,
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Answer>,
    deliveries: Vec<Delivery>,
    seen: HashSet<String>,
    problems: Vec<String>,
}

type Shared = Arc<Mutex<Inner>>;

/// The running receiver.
pub struct FakeReceiver {
    /// `http://127.0.0.1:<port>/hooks/idp`: what `IDP_WEBHOOK_URL` would hold.
    pub url: String,
    inner: Shared,
    _server: Server,
}

impl FakeReceiver {
    /// Starts the receiver; every dispatch gets an empty 202 until [`Self::script`] says otherwise.
    pub async fn start() -> Self {
        let inner: Shared = Arc::default();
        let app = Router::new()
            .route("/hooks/idp", post(receive))
            .with_state(inner.clone());
        let server = Server::start(app, "webhook receiver fake").await;
        Self {
            url: format!("{}/hooks/idp", server.url),
            inner,
            _server: server,
        }
    }

    /// Queues answers for the next dispatches.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        lock(&self.inner).script.extend(answers);
    }

    /// Every dispatch received.
    pub fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.inner).deliveries.clone()
    }

    /// Everything malformed the receiver saw.
    pub fn problems(&self) -> Vec<String> {
        lock(&self.inner).problems.clone()
    }
}

/// `v1=` + hex HMAC-SHA256 of `v1:{timestamp}:{body}`, written from the documented scheme.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "v1={}",
        hmac_hex(secret, &[format!("v1:{timestamp}:").as_bytes(), body])
    )
}

/// Reports progress for `run_id` to idp at `base_url` (`POST {base_url}/hooks/runs/{run_id}`),
/// signed with `secret` as sent at `timestamp` (Unix seconds). Returns the status and body.
pub async fn send_callback(
    base_url: &str,
    run_id: &str,
    json: &Value,
    secret: &str,
    timestamp: i64,
) -> (u16, String) {
    let body = serde_json::to_vec(json).expect("JSON");
    send_raw_callback(
        base_url,
        run_id,
        body.clone(),
        Some(timestamp.to_string()),
        Some(sign(secret, timestamp, &body)),
    )
    .await
}

/// Like [`send_callback`] with the body and both headers as given (`None` leaves one out).
pub async fn send_raw_callback(
    base_url: &str,
    run_id: &str,
    body: Vec<u8>,
    timestamp: Option<String>,
    signature: Option<String>,
) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(format!("{base_url}/hooks/runs/{run_id}"))
        .header("Content-Type", "application/json");
    if let Some(t) = timestamp {
        request = request.header("X-Idp-Timestamp", t);
    }
    if let Some(s) = signature {
        request = request.header("X-Idp-Signature", s);
    }
    let response = request.body(body).send().await.expect("send the callback");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// A check of one JSON value's type.
type TypeCheck = fn(&Value) -> bool;

/// The body's fields and whether each has the documented JSON type.
fn shape_problems(body: &Value) -> Vec<String> {
    let Some(fields) = body.as_object() else {
        return vec!["body is not a JSON object".to_owned()];
    };
    let expected: [(&str, TypeCheck); 8] = [
        ("run_id", Value::is_string),
        ("kind", |v| {
            matches!(v.as_str(), Some("template" | "rollback"))
        }),
        ("template", Value::is_string),
        ("inputs", Value::is_object),
        ("requested_by", Value::is_string),
        ("callback_url", Value::is_string),
        ("controls", |v| {
            v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
        }),
        ("labels", |v| {
            v.as_object()
                .is_some_and(|o| o.values().all(Value::is_string))
        }),
    ];
    let mut problems: Vec<String> = expected
        .iter()
        .filter(|(name, ok)| !fields.get(*name).is_some_and(ok))
        .map(|(name, _)| format!("`{name}` missing or of the wrong type"))
        .collect();
    problems.extend(
        fields
            .keys()
            .filter(|k| !expected.iter().any(|(name, _)| name == k))
            .map(|k| format!("unexpected field `{k}`")),
    );
    problems
}

async fn receive(
    State(inner): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let now = chrono::Utc::now().timestamp();
    let timestamp = header(&headers, "x-idp-timestamp").and_then(|t| t.parse::<i64>().ok());
    let signed = match (timestamp, header(&headers, "x-idp-signature")) {
        (Some(ts), Some(sig)) => (ts - now).abs() <= 300 && sig == sign(SECRET, ts, &body),
        _ => false,
    };
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let run_id = value
        .get("run_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut problems = shape_problems(&value);
    if header(&headers, header::CONTENT_TYPE.as_str()) != Some("application/json") {
        problems.push("Content-Type is not application/json".to_owned());
    }
    if header(&headers, "idempotency-key") != run_id.as_deref() {
        problems.push("Idempotency-Key is not the run id".to_owned());
    }
    if !signed {
        problems.push("bad or missing signature".to_owned());
    }
    let answer = {
        let mut state = lock(&inner);
        let duplicate = run_id
            .as_ref()
            .is_some_and(|id| !state.seen.insert(id.clone()));
        state.problems.extend(problems);
        state.deliveries.push(Delivery {
            run_id,
            body: value,
            signed,
            duplicate,
        });
        if !signed {
            return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
        }
        state.script.pop_front().unwrap_or(Answer::Accept(None))
    };
    match answer {
        Answer::Accept(Some(json)) => (StatusCode::ACCEPTED, axum::Json(json)).into_response(),
        Answer::Accept(None) => StatusCode::ACCEPTED.into_response(),
        Answer::Status(status, content_type, body) => (
            StatusCode::from_u16(status).expect("a status"),
            [(header::CONTENT_TYPE, content_type)],
            body,
        )
            .into_response(),
        Answer::Slow(wait) => {
            tokio::time::sleep(wait).await;
            StatusCode::ACCEPTED.into_response()
        }
    }
}
