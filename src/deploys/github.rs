//! GitHub's webhooks as deploy events: `deployment_status`
//! (<https://docs.github.com/en/webhooks/webhook-events-and-payloads#deployment_status>, read by
//! [`parse_deployment_status`]) and the `workflow_run` of workflows configured as deploy
//! workflows (<https://docs.github.com/en/webhooks/webhook-events-and-payloads#workflow_run>, read
//! by [`parse_workflow_run`] with [`DeployWorkflow`]s).
//!
//! `deployment_status` mapping: service = `deployment.payload.service`, else the repository's name; environment =
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

/// Where a deploy workflow's version comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionFrom {
    /// The run's `head_sha`, shortened to 7 characters (the default).
    #[default]
    Sha,
    /// The run's `display_title` (e.g. a workflow with `run-name: Deploy ${{ inputs.version }}`).
    DisplayTitle,
    /// The run's `name`.
    Name,
}

/// One entry of `[events.github] deploy_workflows`: a GitHub Actions workflow whose runs are
/// deploys. Example: `{ workflow = "deploy.yml", environment = "production" }`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployWorkflow {
    /// The workflow's file name (`deploy.yml`), its path (`.github/workflows/deploy.yml`) or its
    /// name (`Deploy`), matched exactly against `workflow_run.path` and `workflow.name`.
    pub workflow: String,
    /// The environment its runs deploy to.
    pub environment: String,
    /// Only runs of this repository (`owner/name`, any case); default: any repository.
    #[serde(default)]
    pub repository: Option<String>,
    /// The service deployed (a catalog name or ref); default: the repository's name.
    #[serde(default)]
    pub service: Option<String>,
    /// Where the version comes from; default [`VersionFrom::Sha`].
    #[serde(default)]
    pub version: VersionFrom,
}

impl DeployWorkflow {
    /// Checks the entry.
    ///
    /// # Errors
    /// A sentence naming the field at fault.
    pub fn check(&self) -> Result<(), String> {
        if self.workflow.trim().is_empty() {
            return Err("a deploy workflow needs `workflow` (e.g. \"deploy.yml\")".to_owned());
        }
        if self.environment.trim().is_empty() {
            return Err(format!(
                "deploy workflow `{}` needs `environment` (e.g. \"production\")",
                self.workflow
            ));
        }
        if let Some(repo) = &self.repository
            && repo.split('/').filter(|p| !p.is_empty()).count() != 2
        {
            return Err(format!(
                "deploy workflow `{}`: `repository` must be owner/name, not `{repo}`",
                self.workflow
            ));
        }
        Ok(())
    }

    /// Whether a run of the workflow at `path` (`.github/workflows/deploy.yml`, possibly followed
    /// by `@ref`) named `name`, in repository `full_name`, is one of this entry's.
    fn matches(&self, path: &str, name: Option<&str>, full_name: Option<&str>) -> bool {
        if let Some(repo) = &self.repository
            && !full_name.is_some_and(|f| f.eq_ignore_ascii_case(repo))
        {
            return false;
        }
        let path = path.split('@').next().unwrap_or(path);
        let file = path.rsplit('/').next().unwrap_or(path);
        let wanted = self.workflow.trim();
        wanted == path || wanted == file || name.is_some_and(|n| n == wanted)
    }
}

/// A string at `pointer`: `Ok(None)` when absent or null, an error naming `field` when it is
/// another type.
fn optional_str<'v>(
    value: &'v Value,
    pointer: &str,
    field: &'static str,
) -> Result<Option<&'v str>, EventError> {
    match value.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(EventError::InvalidField {
            field,
            reason: "must be a string".to_owned(),
        }),
    }
}

fn required_str<'v>(
    value: &'v Value,
    pointer: &str,
    field: &'static str,
) -> Result<&'v str, EventError> {
    optional_str(value, pointer, field)?.ok_or(EventError::MissingField(field))
}

fn required_int(value: &Value, pointer: &str, field: &'static str) -> Result<i64, EventError> {
    match value.pointer(pointer) {
        None | Some(Value::Null) => Err(EventError::MissingField(field)),
        Some(v) => v.as_i64().ok_or(EventError::InvalidField {
            field,
            reason: "must be an integer".to_owned(),
        }),
    }
}

fn rfc3339(text: &str, field: &'static str) -> Result<DateTime<Utc>, EventError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| EventError::InvalidField {
            field,
            reason: format!("is not an RFC 3339 time ({e})"),
        })
}

/// Reads a `workflow_run` delivery
/// (<https://docs.github.com/en/webhooks/webhook-events-and-payloads#workflow_run>) as a deploy
/// event, when its workflow is one of `workflows` (the first entry that matches). `Ok(None)` for
/// a run of any other workflow, and for an action other than `requested`, `in_progress` or
/// `completed`.
///
/// Mapping: `requested` / `in_progress` → `deploy.started` at `run_started_at` (else
/// `created_at`); `completed` → `deploy.succeeded` when `conclusion` is `success`, else
/// `deploy.failed` (failure, cancelled, timed_out, …), at `updated_at`. Service = the entry's
/// `service`, else `repository.name`; environment = the entry's; version per
/// [`DeployWorkflow::version`]; revision = `head_sha`; deployed_by = `actor.login` (else
/// `triggering_actor.login`, else `sender.login`); url = `html_url`; deployment id =
/// `{id}-{run_attempt}` (a re-run is another deploy); event id =
/// `github-workflow-run-{id}-{run_attempt}-{action}`, so a redelivery is a duplicate.
///
/// # Errors
/// [`EventError`] naming the field at fault: not a JSON object, no `action`, no
/// `workflow_run` object or `workflow_run.path`; and, for a deploy workflow's run, a missing or
/// mistyped `workflow_run.id`, `head_sha`, time, `repository.name`, or the version field.
pub fn parse_workflow_run(
    body: &[u8],
    workflows: &[DeployWorkflow],
) -> Result<Option<DeployEvent>, EventError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| EventError::NotJson(e.to_string()))?;
    if !v.is_object() {
        return Err(EventError::NotJson(
            "the top level is not an object".to_owned(),
        ));
    }
    let action = required_str(&v, "/action", "action")?;
    match v.get("workflow_run") {
        Some(Value::Object(_)) => {}
        None | Some(Value::Null) => return Err(EventError::MissingField("workflow_run")),
        Some(_) => {
            return Err(EventError::InvalidField {
                field: "workflow_run",
                reason: "must be an object".to_owned(),
            });
        }
    }
    let path = required_str(&v, "/workflow_run/path", "workflow_run.path")?;
    let name = optional_str(&v, "/workflow/name", "workflow.name")?.or(optional_str(
        &v,
        "/workflow_run/name",
        "workflow_run.name",
    )?);
    let full_name = optional_str(&v, "/repository/full_name", "repository.full_name")?;
    let Some(entry) = workflows.iter().find(|w| w.matches(path, name, full_name)) else {
        return Ok(None);
    };
    let kind = match action {
        "requested" | "in_progress" => EventType::DeployStarted,
        "completed" => {
            match optional_str(&v, "/workflow_run/conclusion", "workflow_run.conclusion")? {
                Some("success") => EventType::DeploySucceeded,
                _ => EventType::DeployFailed,
            }
        }
        _ => return Ok(None),
    };
    let run_id = required_int(&v, "/workflow_run/id", "workflow_run.id")?;
    let attempt = match v.pointer("/workflow_run/run_attempt") {
        None | Some(Value::Null) => 1,
        Some(_) => required_int(&v, "/workflow_run/run_attempt", "workflow_run.run_attempt")?,
    };
    let head_sha = required_str(&v, "/workflow_run/head_sha", "workflow_run.head_sha")?;
    let time = if kind == EventType::DeployStarted {
        match optional_str(
            &v,
            "/workflow_run/run_started_at",
            "workflow_run.run_started_at",
        )? {
            Some(t) => rfc3339(t, "workflow_run.run_started_at")?,
            None => rfc3339(
                required_str(&v, "/workflow_run/created_at", "workflow_run.created_at")?,
                "workflow_run.created_at",
            )?,
        }
    } else {
        rfc3339(
            required_str(&v, "/workflow_run/updated_at", "workflow_run.updated_at")?,
            "workflow_run.updated_at",
        )?
    };
    let service = match &entry.service {
        Some(s) => s.as_str(),
        None => required_str(&v, "/repository/name", "repository.name")?,
    };
    let version = match entry.version {
        VersionFrom::Sha => head_sha.get(..7).unwrap_or(head_sha),
        VersionFrom::DisplayTitle => required_str(
            &v,
            "/workflow_run/display_title",
            "workflow_run.display_title",
        )?,
        VersionFrom::Name => required_str(&v, "/workflow_run/name", "workflow_run.name")?,
    };
    let deployed_by = [
        "/workflow_run/actor/login",
        "/workflow_run/triggering_actor/login",
        "/sender/login",
    ]
    .into_iter()
    .find_map(|p| str_at(&v, p));
    let mut data = Map::new();
    data.insert("service".into(), json!(service));
    data.insert("environment".into(), json!(entry.environment));
    data.insert("version".into(), json!(version));
    data.insert("revision".into(), json!(head_sha));
    data.insert("deployed_by".into(), json!(deployed_by));
    let url = optional_str(&v, "/workflow_run/html_url", "workflow_run.html_url")?;
    if url.is_some_and(|u| !(u.starts_with("https://") || u.starts_with("http://"))) {
        return Err(EventError::InvalidField {
            field: "workflow_run.html_url",
            reason: "must be an http(s) URL".to_owned(),
        });
    }
    data.insert("url".into(), json!(url));
    data.insert("deployment_id".into(), json!(format!("{run_id}-{attempt}")));
    data.insert("workflow".into(), json!(path));
    let deploy = parse_deploy_data(&data)?;
    Ok(Some(DeployEvent {
        id: format!("github-workflow-run-{run_id}-{attempt}-{action}"),
        kind,
        source: SOURCE.to_owned(),
        time,
        data: Value::Object(data),
        deploy: Some(deploy),
    }))
}
