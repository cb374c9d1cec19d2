//! The signed webhook backend: idp `POST`s each run to the organisation's receiver
//! (`IDP_WEBHOOK_URL`), which reports back on the run's callback URL. The whole contract, in the
//! words a receiver's author needs, is `docs/webhook-backend.md`; in short:
//!
//! **Dispatch.** `POST {IDP_WEBHOOK_URL}` with `Content-Type: application/json`, signed as
//! [`super::signing`] describes (`X-Idp-Timestamp`, `X-Idp-Signature: v1=…`), with
//! `Idempotency-Key: {run_id}`, and the body
//! `{"run_id", "kind", "template", "inputs", "requested_by", "callback_url", "controls",
//! "labels"}` (kind `template` or `rollback`; template empty for a rollback; inputs as the
//! template's typed values, or a rollback's strings; controls a list of strings; labels an object
//! of strings). Any 2xx accepts the run; its body may be `{"external_id", "url"}` (both optional).
//! Other statuses map as in [`super::http`].
//!
//! **Callbacks.** `POST {callback_url}`, signed the same way, body at most 256 KiB:
//! `{"status": "running" | "step" | "succeeded" | "failed", "step": {"name", "url"?}?, "url"?,
//! "message"?, "external_id"?, "descriptor"?, "location"?, "sequence"?}`, read by
//! [`parse_callback`].

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use serde_json::{Map, Value, json};

use super::http::{self, Backend};
use super::signing::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use super::{DispatchRequest, Dispatched, ExecError, Progress, StepNote, WebhookConfig};

/// This backend, for messages.
const BACKEND: Backend = Backend {
    kind: "webhook",
    credentials: "IDP_WEBHOOK_URL and IDP_WEBHOOK_SECRET",
};

/// The largest callback body accepted, in bytes (256 KiB).
pub const MAX_CALLBACK_BYTES: usize = 256 * 1024;

/// The largest `descriptor` accepted in a callback, in bytes (64 KiB).
pub const MAX_DESCRIPTOR_BYTES: usize = 64 * 1024;

/// The message of a `failed` callback that sent none: a failure is never dropped for want of a
/// message.
pub const FAILED_WITHOUT_MESSAGE: &str = "the backend reported a failure without a message";

/// The header that repeats the run id for receivers that deduplicate on a header.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// The signed webhook backend.
#[derive(Clone)]
pub(crate) struct WebhookBackend {
    http: reqwest::Client,
    config: WebhookConfig,
    timeout: Duration,
}

impl WebhookBackend {
    pub(crate) fn new(http: reqwest::Client, config: WebhookConfig, timeout: Duration) -> Self {
        Self {
            http,
            config,
            timeout,
        }
    }

    /// The JSON body of a dispatch.
    pub(crate) fn body(req: &DispatchRequest) -> Value {
        json!({
            "run_id": req.run_id,
            "kind": req.kind,
            "template": req.template,
            "inputs": req.inputs,
            "requested_by": req.requested_by,
            "callback_url": req.callback_url,
            "controls": req.controls,
            "labels": req.labels,
        })
    }

    /// Sends the run to the receiver, signed at `now_unix`.
    ///
    /// # Errors
    /// [`ExecError`] as mapped by [`super::http`].
    pub(crate) async fn dispatch(
        &self,
        req: &DispatchRequest,
        now_unix: i64,
    ) -> Result<Dispatched, ExecError> {
        let body = serde_json::to_vec(&Self::body(req)).map_err(|e| ExecError::BadResponse {
            backend: BACKEND.kind,
            detail: format!("the inputs cannot be written as JSON: {e}"),
        })?;
        let signature = signing::sign(&self.config.secret, now_unix, &body);
        let request = self
            .http
            .post(&self.config.url)
            .header(CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, now_unix.to_string())
            .header(SIGNATURE_HEADER, signature)
            .header(IDEMPOTENCY_HEADER, &req.run_id)
            .body(body);
        let response = http::send(BACKEND, self.timeout, request).await?;
        let response = http::success(BACKEND, self.timeout, response).await?;
        let bytes = http::body(BACKEND, self.timeout, response).await?;
        Ok(read_acceptance(&req.run_id, &bytes))
    }
}

/// What a 2xx answer to a dispatch says: `{"external_id", "url"}`, each optional. Anything else is
/// still an acceptance (the status said so), logged at warn.
fn read_acceptance(run_id: &str, bytes: &[u8]) -> Dispatched {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Dispatched::default();
    }
    let Ok(Value::Object(answer)) = serde_json::from_slice::<Value>(bytes) else {
        tracing::warn!(
            run_id,
            backend = BACKEND.kind,
            answer = %http::excerpt(bytes),
            "the webhook receiver accepted the run with an answer that is not a JSON object; going on without an external id",
        );
        return Dispatched::default();
    };
    let external_id = match answer.get("external_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(other) => {
            tracing::warn!(run_id, backend = BACKEND.kind, external_id = %other, "ignoring an external_id that is not a string or a number");
            None
        }
    };
    let url = match answer.get("url") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if is_http_url(s) => Some(s.trim().to_owned()),
        Some(other) => {
            tracing::warn!(run_id, backend = BACKEND.kind, url = %http::excerpt(other.to_string().as_bytes()), "ignoring a url that is not an http(s) URL");
            None
        }
    };
    Dispatched {
        external_id,
        url,
        notes: Vec::new(),
    }
}

fn is_http_url(s: &str) -> bool {
    let s = s.trim();
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.contains(char::is_whitespace))
}

/// One progress report from the receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    /// Where the run stands.
    pub progress: Progress,
    /// The receiver's ordering of its reports, when it sends one: idp ignores a callback whose
    /// sequence is not above the last one applied.
    pub sequence: Option<i64>,
}

/// Why a callback body was refused (answered with 400, and logged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// Over [`MAX_CALLBACK_BYTES`].
    #[error("the callback is {bytes} bytes; at most {MAX_CALLBACK_BYTES} are accepted")]
    TooLarge {
        /// Its size.
        bytes: usize,
    },
    /// Not JSON at all.
    #[error("the callback is not JSON: {0}")]
    NotJson(String),
    /// JSON, but not an object.
    #[error("the callback must be a JSON object")]
    NotAnObject,
    /// A required field is absent or null.
    #[error("`{0}` is missing")]
    Missing(&'static str),
    /// A field has the wrong JSON type, or is empty where text is required.
    #[error("`{field}` must be {expected}")]
    WrongType {
        /// The field (`step.name` for nested ones).
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// `status` is none of the four.
    #[error("unknown status `{0}`: expected running, step, succeeded or failed")]
    UnknownStatus(String),
    /// `descriptor` over [`MAX_DESCRIPTOR_BYTES`].
    #[error("`descriptor` is {bytes} bytes; at most {MAX_DESCRIPTOR_BYTES} are accepted")]
    DescriptorTooLarge {
        /// Its size.
        bytes: usize,
    },
    /// A link that is not `http://` or `https://` (it would reach Slack as a link).
    #[error("`{0}` must be an http(s) URL")]
    NotHttpUrl(&'static str),
}

/// Reads a callback body (already signature-checked).
///
/// | `status` | [`Progress`] | needs |
/// | --- | --- | --- |
/// | `running` | `Running { external_id, url, step }` | nothing |
/// | `step` | `Running { external_id, url, step }` | `step.name` |
/// | `succeeded` | `Succeeded { url, descriptor, location }` | nothing |
/// | `failed` | `Failed { message, url }` | nothing; without `message`, [`FAILED_WITHOUT_MESSAGE`] |
///
/// `external_id` may be a string or an integer; `sequence` an integer; links must be http(s);
/// `descriptor` is YAML or JSON text of at most 64 KiB. Unknown fields are ignored, so receivers
/// can send more than idp reads.
///
/// # Errors
/// [`CallbackError`], one specific reason.
pub fn parse_callback(body: &[u8]) -> Result<Callback, CallbackError> {
    if body.len() > MAX_CALLBACK_BYTES {
        return Err(CallbackError::TooLarge { bytes: body.len() });
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| CallbackError::NotJson(e.to_string()))?;
    let Value::Object(fields) = value else {
        return Err(CallbackError::NotAnObject);
    };
    let status = text(&fields, "status", "status")?.ok_or(CallbackError::Missing("status"))?;
    let url = link(&fields, "url", "url")?;
    let sequence = match fields.get("sequence") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().ok_or(CallbackError::WrongType {
            field: "sequence",
            expected: "an integer",
        })?),
    };
    let progress = match status {
        "running" | "step" => {
            let step = step(&fields)?;
            if status == "step" && step.is_none() {
                return Err(CallbackError::Missing("step"));
            }
            Progress::Running {
                external_id: external_id(&fields)?,
                url,
                step,
            }
        }
        "succeeded" => {
            let descriptor = text(&fields, "descriptor", "descriptor")?;
            if let Some(d) = descriptor
                && d.len() > MAX_DESCRIPTOR_BYTES
            {
                return Err(CallbackError::DescriptorTooLarge { bytes: d.len() });
            }
            Progress::Succeeded {
                url,
                descriptor: descriptor.map(str::to_owned),
                location: link(&fields, "location", "location")?,
            }
        }
        "failed" => Progress::Failed {
            message: text(&fields, "message", "message")?
                .unwrap_or(FAILED_WITHOUT_MESSAGE)
                .to_owned(),
            url,
        },
        other => {
            return Err(CallbackError::UnknownStatus(
                other.chars().take(40).collect(),
            ));
        }
    };
    Ok(Callback { progress, sequence })
}

/// A string field, trimmed; absent, null or blank is `None`.
fn text<'a>(
    fields: &'a Map<String, Value>,
    key: &str,
    field: &'static str,
) -> Result<Option<&'a str>, CallbackError> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim()).filter(|s| !s.is_empty())),
        Some(_) => Err(CallbackError::WrongType {
            field,
            expected: "a string",
        }),
    }
}

fn link(
    fields: &Map<String, Value>,
    key: &str,
    field: &'static str,
) -> Result<Option<String>, CallbackError> {
    match text(fields, key, field)? {
        None => Ok(None),
        Some(s) if is_http_url(s) => Ok(Some(s.to_owned())),
        Some(_) => Err(CallbackError::NotHttpUrl(field)),
    }
}

fn external_id(fields: &Map<String, Value>) -> Result<Option<String>, CallbackError> {
    match fields.get("external_id") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => Ok(Some(n.to_string())),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
        Some(_) => Err(CallbackError::WrongType {
            field: "external_id",
            expected: "a string or an integer",
        }),
    }
}

fn step(fields: &Map<String, Value>) -> Result<Option<StepNote>, CallbackError> {
    match fields.get("step") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(step)) => {
            let name =
                text(step, "name", "step.name")?.ok_or(CallbackError::Missing("step.name"))?;
            Ok(Some(StepNote {
                name: name.to_owned(),
                url: link(step, "url", "step.url")?,
            }))
        }
        Some(_) => Err(CallbackError::WrongType {
            field: "step",
            expected: "an object with a name",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_acceptance_may_carry_an_external_id_and_a_link() {
        assert_eq!(
            read_acceptance(
                "run_1",
                br#"{"external_id": 981, "url": "https://ci.example.com/981"}"#
            ),
            Dispatched {
                external_id: Some("981".to_owned()),
                url: Some("https://ci.example.com/981".to_owned()),
                notes: Vec::new(),
            }
        );
        assert_eq!(read_acceptance("run_1", b""), Dispatched::default());
        assert_eq!(read_acceptance("run_1", b"OK"), Dispatched::default());
        assert_eq!(
            read_acceptance("run_1", br#"{"url": "javascript:alert(1)"}"#),
            Dispatched::default()
        );
    }

    #[test]
    fn each_status_becomes_its_progress() {
        let c = parse_callback(
            br#"{"status": "step", "step": {"name": "create repo", "url": "https://git.example.com/x"}, "external_id": 7, "sequence": 2}"#,
        );
        assert_eq!(
            c,
            Ok(Callback {
                progress: Progress::Running {
                    external_id: Some("7".to_owned()),
                    url: None,
                    step: Some(StepNote {
                        name: "create repo".to_owned(),
                        url: Some("https://git.example.com/x".to_owned())
                    })
                },
                sequence: Some(2)
            })
        );
        let c = parse_callback(br#"{"status": "failed"}"#).map(|c| c.progress);
        assert_eq!(
            c,
            Ok(Progress::Failed {
                message: FAILED_WITHOUT_MESSAGE.to_owned(),
                url: None
            })
        );
    }
}
