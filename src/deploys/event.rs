//! The event shape `POST /hooks/events` accepts, and its parsing. One JSON object per request:
//!
//! ```json
//! {
//!   "id": "gha-812345-deploy-succeeded",
//!   "type": "deploy.succeeded",
//!   "source": "ci",
//!   "time": "2026-11-30T09:15:02Z",
//!   "data": {
//!     "service": "checkout-api",
//!     "environment": "production",
//!     "version": "1.5.0",
//!     "revision": "9f2c1e4",
//!     "deployed_by": "mei.tanaka",
//!     "url": "https://github.com/acme/checkout-api/actions/runs/812345",
//!     "deployment_id": "812345",
//!     "argocd_history_id": 42
//!   }
//! }
//! ```
//!
//! - `id` (required, 1 to 200 characters, no control characters): unique per event; a second
//!   event with the same id is ignored.
//! - `type` (required): one of [`EventType`]'s names.
//! - `source` (optional): when present it must equal the authenticated source (`X-Idp-Source`).
//! - `time` (required): RFC 3339, when it happened at the sender. History is ordered by it, not
//!   by arrival.
//! - `data` (required object): for `deploy.*` and `k8s.deployment.updated`, [`DeployData`]'s
//!   fields (`service`, `environment`, `version` required); for other types anything.
//!
//! The shape follows CloudEvents' core attributes (`id`, `source`, `type`, `time`, `data`;
//! <https://github.com/cloudevents/spec/blob/main/cloudevents/spec.md>) without its envelope.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::DeployStatus;

/// The longest event id, service, environment, version or deployment id accepted, in characters.
pub const MAX_FIELD_CHARS: usize = 200;
/// The longest url, revision or `deployed_by` accepted, in characters.
pub const MAX_LONG_FIELD_CHARS: usize = 2_000;

/// An event type idp knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// `git.repo.created`: a repository was created (stored, not part of the history yet).
    GitRepoCreated,
    /// `ci.pipeline.completed`: a CI pipeline finished (stored, not part of the history yet).
    CiPipelineCompleted,
    /// `k8s.deployment.updated`: a Kubernetes rollout finished; with [`DeployData`] it counts
    /// as a succeeded deploy.
    K8sDeploymentUpdated,
    /// `deploy.started`.
    DeployStarted,
    /// `deploy.succeeded`.
    DeploySucceeded,
    /// `deploy.failed`.
    DeployFailed,
}

impl EventType {
    /// Every type, for messages.
    pub const ALL: [Self; 6] = [
        Self::GitRepoCreated,
        Self::CiPipelineCompleted,
        Self::K8sDeploymentUpdated,
        Self::DeployStarted,
        Self::DeploySucceeded,
        Self::DeployFailed,
    ];

    /// The type's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GitRepoCreated => "git.repo.created",
            Self::CiPipelineCompleted => "ci.pipeline.completed",
            Self::K8sDeploymentUpdated => "k8s.deployment.updated",
            Self::DeployStarted => "deploy.started",
            Self::DeploySucceeded => "deploy.succeeded",
            Self::DeployFailed => "deploy.failed",
        }
    }

    /// Reads a type name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The deploy status an event of this type reports, for types that build the history.
    pub fn deploy_status(self) -> Option<DeployStatus> {
        match self {
            Self::DeployStarted => Some(DeployStatus::Started),
            Self::DeploySucceeded | Self::K8sDeploymentUpdated => Some(DeployStatus::Succeeded),
            Self::DeployFailed => Some(DeployStatus::Failed),
            Self::GitRepoCreated | Self::CiPipelineCompleted => None,
        }
    }
}

/// The `data` of a deploy event, checked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeployData {
    /// The service's key ([`super::service_key`] of `data.service`).
    pub service: String,
    /// `data.environment`, lower-case.
    pub environment: String,
    /// `data.version`.
    pub version: String,
    /// `data.revision`: the commit.
    pub revision: Option<String>,
    /// `data.deployed_by`.
    pub deployed_by: Option<String>,
    /// `data.url`, an http(s) URL.
    pub url: Option<String>,
    /// `data.deployment_id`: the sender's id of the deploy, which ties its events together.
    pub deployment_id: Option<String>,
    /// `data.argocd_history_id`: an integer.
    pub argocd_history_id: Option<i64>,
}

/// One accepted event.
#[derive(Debug, Clone, PartialEq)]
pub struct DeployEvent {
    /// The sender's unique id.
    pub id: String,
    /// Its type.
    pub kind: EventType,
    /// The authenticated source (`ci`, `argocd`, `github`).
    pub source: String,
    /// When it happened, per the sender.
    pub time: DateTime<Utc>,
    /// `data` as sent.
    pub data: Value,
    /// `data` checked, for types that build the history.
    pub deploy: Option<DeployData>,
}

impl DeployEvent {
    /// The event as stored in `deploy_events.raw`: the documented JSON shape.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "id": self.id,
            "type": self.kind.as_str(),
            "source": self.source,
            "time": self.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": self.data,
        })
        .to_string()
    }
}

/// Why an event body was refused. Every message is safe to send back to the sender.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Not a JSON object.
    #[error("the body is not a JSON object: {0}")]
    NotJson(String),
    /// A required field is absent or null.
    #[error("`{0}` is required")]
    MissingField(&'static str),
    /// A field has the wrong type or value.
    #[error("`{field}` {reason}")]
    InvalidField {
        /// The field, e.g. `data.version`.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// `type` is none of the known types.
    #[error(
        "`type` `{0}` is not one of git.repo.created, ci.pipeline.completed, k8s.deployment.updated, deploy.started, deploy.succeeded, deploy.failed"
    )]
    UnknownType(String),
    /// `source` names another source than the one that signed the request.
    #[error("`source` is `{given}` but the request was signed as source `{authenticated}`")]
    SourceMismatch {
        /// The `source` in the body.
        given: String,
        /// The source that signed.
        authenticated: String,
    },
}

fn text(
    object: &Map<String, Value>,
    key: &str,
    field: &'static str,
    max: usize,
) -> Result<Option<String>, EventError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                Err(EventError::InvalidField {
                    field,
                    reason: "is empty".to_owned(),
                })
            } else if s.chars().count() > max {
                Err(EventError::InvalidField {
                    field,
                    reason: format!("is longer than {max} characters"),
                })
            } else if s.chars().any(char::is_control) {
                Err(EventError::InvalidField {
                    field,
                    reason: "contains control characters".to_owned(),
                })
            } else {
                Ok(Some(s.to_owned()))
            }
        }
        Some(_) => Err(EventError::InvalidField {
            field,
            reason: "must be a string".to_owned(),
        }),
    }
}

fn required(
    object: &Map<String, Value>,
    key: &str,
    field: &'static str,
    max: usize,
) -> Result<String, EventError> {
    text(object, key, field, max)?.ok_or(EventError::MissingField(field))
}

/// Checks the `data` of a deploy event.
///
/// # Errors
/// [`EventError::MissingField`] for `data.service`, `data.environment` or `data.version`;
/// [`EventError::InvalidField`] for a field of the wrong type, too long, a url that is not
/// http(s), or an `argocd_history_id` that is not an integer.
pub fn parse_deploy_data(data: &Map<String, Value>) -> Result<DeployData, EventError> {
    let service = required(data, "service", "data.service", MAX_FIELD_CHARS)?;
    let environment = required(data, "environment", "data.environment", MAX_FIELD_CHARS)?;
    let version = required(data, "version", "data.version", MAX_FIELD_CHARS)?;
    let url = text(data, "url", "data.url", MAX_LONG_FIELD_CHARS)?;
    if let Some(u) = &url
        && !(u.starts_with("https://") || u.starts_with("http://"))
    {
        return Err(EventError::InvalidField {
            field: "data.url",
            reason: "must be an http(s) URL".to_owned(),
        });
    }
    let deployment_id = match data.get("deployment_id") {
        // GitHub and most CI systems number their deployments.
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => text(data, "deployment_id", "data.deployment_id", MAX_FIELD_CHARS)?,
    };
    let argocd_history_id = match data.get("argocd_history_id") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().ok_or(EventError::InvalidField {
            field: "data.argocd_history_id",
            reason: "must be an integer".to_owned(),
        })?),
    };
    Ok(DeployData {
        service: super::service_key(&service),
        environment: environment.to_ascii_lowercase(),
        version,
        revision: text(data, "revision", "data.revision", MAX_LONG_FIELD_CHARS)?,
        deployed_by: text(
            data,
            "deployed_by",
            "data.deployed_by",
            MAX_LONG_FIELD_CHARS,
        )?,
        url,
        deployment_id,
        argocd_history_id,
    })
}

/// Reads one event sent by the authenticated `source`.
///
/// # Errors
/// An [`EventError`] naming the first problem: not JSON, a missing or invalid field, an unknown
/// type, a `source` other than the signer's, or deploy `data` that does not check.
pub fn parse_event(body: &[u8], source: &str) -> Result<DeployEvent, EventError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| EventError::NotJson(e.to_string()))?;
    let Value::Object(object) = value else {
        return Err(EventError::NotJson(
            "the top level is not an object".to_owned(),
        ));
    };
    let id = required(&object, "id", "id", MAX_FIELD_CHARS)?;
    let kind_name = required(&object, "type", "type", MAX_FIELD_CHARS)?;
    let kind = EventType::parse(&kind_name).ok_or(EventError::UnknownType(kind_name))?;
    if let Some(given) = text(&object, "source", "source", MAX_FIELD_CHARS)?
        && given != source
    {
        return Err(EventError::SourceMismatch {
            given,
            authenticated: source.to_owned(),
        });
    }
    let time_text = required(&object, "time", "time", MAX_FIELD_CHARS)?;
    let time = DateTime::parse_from_rfc3339(&time_text)
        .map_err(|e| EventError::InvalidField {
            field: "time",
            reason: format!("is not an RFC 3339 time ({e})"),
        })?
        .with_timezone(&Utc);
    let data = match object.get("data") {
        None | Some(Value::Null) => return Err(EventError::MissingField("data")),
        Some(Value::Object(data)) => data,
        Some(_) => {
            return Err(EventError::InvalidField {
                field: "data",
                reason: "must be an object".to_owned(),
            });
        }
    };
    let deploy = match kind.deploy_status() {
        Some(_) => Some(parse_deploy_data(data)?),
        None => None,
    };
    Ok(DeployEvent {
        id,
        kind,
        source: source.to_owned(),
        time,
        data: Value::Object(data.clone()),
        deploy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<DeployEvent, EventError> {
        parse_event(body.as_bytes(), "ci")
    }

    #[test]
    fn a_documented_deploy_event_reads() {
        let e = parse(
            r#"{"id":"e1","type":"deploy.succeeded","time":"2026-11-30T09:15:02Z",
               "data":{"service":"Checkout-API","environment":"Production","version":"1.5.0",
                       "deployment_id":812345,"argocd_history_id":7}}"#,
        )
        .expect("reads");
        let d = e.deploy.expect("deploy data");
        assert_eq!(d.service, "component:default/checkout-api");
        assert_eq!(d.environment, "production");
        assert_eq!(d.deployment_id.as_deref(), Some("812345"));
        assert_eq!(d.argocd_history_id, Some(7));
    }

    #[test]
    fn each_problem_has_its_own_message() {
        let cases = [
            ("[]", "not a JSON object"),
            ("{", "not a JSON object"),
            (r#"{"type":"deploy.started"}"#, "`id` is required"),
            (
                r#"{"id":"e","type":"deploy.done","time":"x","data":{}}"#,
                "deploy.done",
            ),
            (
                r#"{"id":"e","type":"git.repo.created","time":"yesterday","data":{}}"#,
                "RFC 3339",
            ),
            (
                r#"{"id":"e","type":"git.repo.created","time":"2026-01-01T00:00:00Z"}"#,
                "`data` is required",
            ),
            (
                r#"{"id":"e","type":"deploy.started","time":"2026-01-01T00:00:00Z","data":{"service":"a","environment":"p"}}"#,
                "`data.version` is required",
            ),
            (
                r#"{"id":"e","type":"deploy.started","time":"2026-01-01T00:00:00Z","data":{"service":"a","environment":"p","version":1}}"#,
                "`data.version` must be a string",
            ),
            (
                r#"{"id":"e","type":"deploy.started","time":"2026-01-01T00:00:00Z","data":{"service":"a","environment":"p","version":"1","url":"javascript:x"}}"#,
                "http(s)",
            ),
            (
                r#"{"id":"e","source":"argocd","type":"git.repo.created","time":"2026-01-01T00:00:00Z","data":{}}"#,
                "signed as source `ci`",
            ),
        ];
        for (body, expected) in cases {
            let message = parse(body).expect_err(body).to_string();
            assert!(message.contains(expected), "{body}: {message}");
        }
    }
}
