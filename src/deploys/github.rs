//! GitHub's `deployment_status` webhook as a deploy event
//! (<https://docs.github.com/en/webhooks/webhook-events-and-payloads#deployment_status>).
//!
//! Mapping: service = `deployment.payload.service`, else the repository's name; environment =
//! `deployment_status.environment`, else `deployment.environment`; version =
//! `deployment.payload.version`, else `deployment.ref`; revision = `deployment.sha`; deployed_by =
//! the deployment creator's login; url = `deployment_status.target_url` / `log_url`, else
//! `environment_url`; the deployment id ties a deploy's statuses together. States: `queued`,
//! `pending`, `in_progress` → started; `success` → succeeded; `failure`, `error` → failed;
//! `inactive` (a newer deploy replaced it) is not news and is skipped.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::{DeployEvent, EventError, EventType, event::parse_deploy_data};

/// The source name GitHub's events are stored under.
pub const SOURCE: &str = "github";

fn str_at<'v>(value: &'v Value, pointer: &str) -> Option<&'v str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// Reads a `deployment_status` delivery. `Ok(None)` for a state that is no news (`inactive`).
///
/// # Errors
/// [`EventError`] when the body is not JSON or lacks what the mapping needs (a status id, a
/// state, a time, a repository or a ref).
pub fn parse_deployment_status(body: &[u8]) -> Result<Option<DeployEvent>, EventError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| EventError::NotJson(e.to_string()))?;
    let status_id = v
        .pointer("/deployment_status/id")
        .and_then(Value::as_i64)
        .ok_or(EventError::MissingField("deployment_status.id"))?;
    let state = str_at(&v, "/deployment_status/state")
        .ok_or(EventError::MissingField("deployment_status.state"))?;
    let kind = match state {
        "queued" | "pending" | "in_progress" => EventType::DeployStarted,
        "success" => EventType::DeploySucceeded,
        "failure" | "error" => EventType::DeployFailed,
        _ => return Ok(None),
    };
    let time_text = str_at(&v, "/deployment_status/updated_at")
        .or_else(|| str_at(&v, "/deployment_status/created_at"))
        .ok_or(EventError::MissingField("deployment_status.created_at"))?;
    let time = DateTime::parse_from_rfc3339(time_text)
        .map_err(|e| EventError::InvalidField {
            field: "deployment_status.created_at",
            reason: format!("is not an RFC 3339 time ({e})"),
        })?
        .with_timezone(&Utc);
    let payload = v.pointer("/deployment/payload");
    let from_payload = |key: &str| payload.and_then(|p| p.get(key)).and_then(Value::as_str);
    let service = from_payload("service")
        .or_else(|| str_at(&v, "/repository/name"))
        .ok_or(EventError::MissingField("repository.name"))?;
    let environment = str_at(&v, "/deployment_status/environment")
        .or_else(|| str_at(&v, "/deployment/environment"))
        .ok_or(EventError::MissingField("deployment.environment"))?;
    let version = from_payload("version")
        .or_else(|| str_at(&v, "/deployment/ref"))
        .ok_or(EventError::MissingField("deployment.ref"))?;
    let url = str_at(&v, "/deployment_status/target_url")
        .or_else(|| str_at(&v, "/deployment_status/log_url"))
        .or_else(|| str_at(&v, "/deployment_status/environment_url"))
        .filter(|u| !u.is_empty());
    let mut data = Map::new();
    data.insert("service".into(), json!(service));
    data.insert("environment".into(), json!(environment));
    data.insert("version".into(), json!(version));
    data.insert("revision".into(), json!(str_at(&v, "/deployment/sha")));
    data.insert(
        "deployed_by".into(),
        json!(str_at(&v, "/deployment/creator/login")),
    );
    data.insert("url".into(), json!(url));
    data.insert(
        "deployment_id".into(),
        json!(v.pointer("/deployment/id").and_then(Value::as_i64)),
    );
    let deploy = parse_deploy_data(&data)?;
    Ok(Some(DeployEvent {
        id: format!("github-deployment-status-{status_id}"),
        kind,
        source: SOURCE.to_owned(),
        time,
        data: Value::Object(data),
        deploy: Some(deploy),
    }))
}
