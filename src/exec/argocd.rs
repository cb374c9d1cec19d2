//! Argo CD's application API (`/api/v1/applications`, the gRPC-gateway routes of
//! `server/application/application.proto`), for rollbacks of services whose deployments Argo CD
//! owns. Every call sends `Authorization: Bearer {ARGOCD_TOKEN}`.
//!
//! - **Dispatch** (a rollback run):
//!   1. `GET /api/v1/applications/{name}` → the `Application`: `spec.syncPolicy.automated`
//!      (present while auto-sync is on) and `status.history[]` (`{id, revision, revisions?,
//!      deployedAt, source}`, oldest first).
//!   2. The history id to roll back to: the run's `argocd_history_id` input when given, else the
//!      newest history entry whose `revision` (or one of its `revisions`, for multi-source
//!      applications) is the `revision` input, or the `version` input when there is no revision
//!      (a Helm chart's history records the chart version). None: a rejection.
//!   3. Argo CD refuses to roll back an application with auto-sync on. Unless
//!      `ARGOCD_DISABLE_AUTOSYNC` allows idp to turn it off, that is a rejection (409) saying how
//!      to do it; when allowed, `PATCH /api/v1/applications/{name}` with
//!      `{"name", "patch": "{\"spec\":{\"syncPolicy\":{\"automated\":null}}}", "patchType":
//!      "merge"}` turns it off, and the dispatch's [`Dispatched::notes`] say so.
//!   4. `POST /api/v1/applications/{name}/rollback` with `{"name", "id", "prune": false,
//!      "dryRun": false}` starts the rollback (a sync operation to that history entry).
//! - **Poll**: `GET /api/v1/applications/{name}`. A queued `operation` is running; else
//!   `status.operationState` `{phase, message, startedAt, finishedAt}` tells where the rollback
//!   stands, provided it started after the run was created (less [`CLOCK_SKEW`]): an older one is
//!   the previous sync's, and the run is [`Progress::Pending`] until its own appears. Phases
//!   `Running` and `Terminating` are running, `Succeeded` succeeded, `Failed` and `Error` failed
//!   with the state's `message`.
//!
//! Argo CD answers errors as `{"error", "code", "message"}` (a gRPC status); they map as in
//! [`super::http`] (403 `permission denied` is a rejection showing Argo CD's message).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::AUTHORIZATION;
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{self, Backend};
use super::{ArgoCdConfig, DispatchRequest, Dispatched, ExecError, Progress};

/// This backend, for messages.
const BACKEND: Backend = Backend {
    kind: "argocd",
    credentials: "ARGOCD_TOKEN",
};

/// How much earlier than the run's creation an operation may have started and still be taken
/// for the run's own (clocks of idp and Argo CD differ): 60 s.
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// The run input naming the target's git revision.
pub const REVISION_INPUT: &str = "revision";
/// The run input naming the target version (used when there is no revision).
pub const VERSION_INPUT: &str = "version";
/// The run input giving the Argo CD history id directly.
pub const HISTORY_ID_INPUT: &str = "argocd_history_id";

/// The merge patch that turns auto-sync off.
const AUTOSYNC_OFF: &str = r#"{"spec":{"syncPolicy":{"automated":null}}}"#;

/// The Argo CD client. The token only ever goes in the `Authorization` header.
#[derive(Clone)]
pub(crate) struct ArgoCd {
    http: reqwest::Client,
    config: ArgoCdConfig,
    disable_autosync: bool,
    timeout: Duration,
}

/// The part of an `Application` idp reads.
#[derive(Debug, Default, Deserialize)]
struct Application {
    #[serde(default)]
    spec: Spec,
    #[serde(default)]
    status: Status,
    /// An operation requested and not yet picked up by the controller.
    #[serde(default)]
    operation: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
struct Spec {
    #[serde(default, rename = "syncPolicy")]
    sync_policy: Option<SyncPolicy>,
}

#[derive(Debug, Default, Deserialize)]
struct SyncPolicy {
    #[serde(default)]
    automated: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
struct Status {
    #[serde(default)]
    history: Vec<HistoryEntry>,
    #[serde(default, rename = "operationState")]
    operation_state: Option<OperationState>,
}

#[derive(Debug, Deserialize)]
struct HistoryEntry {
    /// An int64: a JSON number, or a string from a protobuf-JSON encoder.
    id: Value,
    #[serde(default)]
    revision: Option<String>,
    #[serde(default)]
    revisions: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct OperationState {
    #[serde(default)]
    phase: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "startedAt")]
    started_at: Option<DateTime<Utc>>,
}

impl Application {
    fn autosync(&self) -> bool {
        self.spec
            .sync_policy
            .as_ref()
            .is_some_and(|p| p.automated.as_ref().is_some_and(|a| !a.is_null()))
    }
}

/// A rejection idp makes itself, before Argo CD is asked to roll back.
fn refused(status: u16, message: String) -> ExecError {
    ExecError::Rejected {
        backend: BACKEND.kind,
        status,
        message,
    }
}

/// A run input as text: a non-empty string, or a number.
fn input<'a>(inputs: &'a BTreeMap<String, Value>, name: &str) -> Option<std::borrow::Cow<'a, str>> {
    match inputs.get(name)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().into()),
        Value::Number(n) => Some(n.to_string().into()),
        _ => None,
    }
}

fn history_id(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The history id to roll `application` back to (see the module docs, step 2).
fn target_id(
    application: &str,
    app: &Application,
    inputs: &BTreeMap<String, Value>,
) -> Result<i64, ExecError> {
    if let Some(given) = input(inputs, HISTORY_ID_INPUT) {
        return given.parse().map_err(|_| {
            refused(
                422,
                format!("{HISTORY_ID_INPUT} `{given}` is not an Argo CD history id (a number)"),
            )
        });
    }
    let Some(revision) = input(inputs, REVISION_INPUT).or_else(|| input(inputs, VERSION_INPUT))
    else {
        return Err(refused(
            422,
            format!(
                "the rollback names no revision, version or {HISTORY_ID_INPUT} to find in {application}'s deploy history"
            ),
        ));
    };
    app.status
        .history
        .iter()
        .filter(|h| {
            h.revision.as_deref() == Some(&*revision) || h.revisions.iter().any(|r| *r == revision)
        })
        .filter_map(|h| history_id(&h.id))
        .max()
        .ok_or_else(|| {
            refused(
                422,
                format!("revision {revision} is not in {application}'s deploy history"),
            )
        })
}

impl ArgoCd {
    pub(crate) fn new(
        http: reqwest::Client,
        config: ArgoCdConfig,
        disable_autosync: bool,
        timeout: Duration,
    ) -> Self {
        Self {
            http,
            config,
            disable_autosync,
            timeout,
        }
    }

    /// `{ARGOCD_URL}/api/v1/applications/{name}/…rest`, each segment percent-encoded.
    fn api(&self, name: &str, rest: &[&str]) -> Result<reqwest::Url, ExecError> {
        let mut segments = vec!["api", "v1", "applications", name];
        segments.extend_from_slice(rest);
        http::endpoint(&self.config.url, "ARGOCD_URL", &segments)
    }

    /// `{ARGOCD_URL}/applications/{name}`: the application's page.
    fn page(&self, name: &str) -> Option<String> {
        http::endpoint(&self.config.url, "ARGOCD_URL", &["applications", name])
            .ok()
            .map(String::from)
    }

    fn request(
        &self,
        method: reqwest::Method,
        url: reqwest::Url,
    ) -> Result<reqwest::RequestBuilder, ExecError> {
        Ok(self.http.request(method, url).header(
            AUTHORIZATION,
            http::bearer(&self.config.token, "ARGOCD_TOKEN")?,
        ))
    }

    async fn application(&self, name: &str) -> Result<Application, ExecError> {
        let request = self.request(reqwest::Method::GET, self.api(name, &[])?)?;
        let response = http::send(BACKEND, self.timeout, request).await?;
        http::json(BACKEND, self.timeout, response).await
    }

    /// Rolls `application` back as the module docs describe.
    ///
    /// # Errors
    /// [`ExecError::Rejected`] (409) while auto-sync is on and idp may not turn it off; (422) for
    /// a target not in the history or a malformed history id; [`ExecError`] as mapped by
    /// [`super::http`] for Argo CD's answers.
    pub(crate) async fn dispatch(
        &self,
        application: &str,
        req: &DispatchRequest,
    ) -> Result<Dispatched, ExecError> {
        let app = self.application(application).await?;
        let id = target_id(application, &app, &req.inputs)?;
        let mut notes = Vec::new();
        if app.autosync() {
            if !self.disable_autosync {
                return Err(refused(
                    409,
                    format!(
                        "Argo CD refuses to roll back {application} while auto-sync is on: turn auto-sync off for it (argocd app set {application} --sync-policy none), or let idp do it with ARGOCD_DISABLE_AUTOSYNC=true"
                    ),
                ));
            }
            let request = self
                .request(reqwest::Method::PATCH, self.api(application, &[])?)?
                .json(&json!({"name": application, "patch": AUTOSYNC_OFF, "patchType": "merge"}));
            let response = http::send(BACKEND, self.timeout, request).await?;
            http::success(BACKEND, self.timeout, response).await?;
            notes.push(format!(
                "auto-sync was turned off for {application}; turn it back on when the fix ships (argocd app set {application} --sync-policy automated)"
            ));
        }
        let request = self
            .request(reqwest::Method::POST, self.api(application, &["rollback"])?)?
            .json(&json!({"name": application, "id": id, "prune": false, "dryRun": false}));
        let response = http::send(BACKEND, self.timeout, request).await?;
        http::success(BACKEND, self.timeout, response).await?;
        Ok(Dispatched {
            external_id: Some(application.to_owned()),
            url: self.page(application),
            notes,
        })
    }

    /// Where the rollback of `application` started for a run created at `created_at` stands.
    ///
    /// # Errors
    /// [`ExecError`] as mapped by [`super::http`]; [`ExecError::BadResponse`] for a phase Argo CD
    /// does not document.
    pub(crate) async fn poll(
        &self,
        application: &str,
        created_at: DateTime<Utc>,
    ) -> Result<Progress, ExecError> {
        let app = self.application(application).await?;
        let url = self.page(application);
        let running = |url| Progress::Running {
            external_id: Some(application.to_owned()),
            url,
            step: None,
        };
        if app.operation.as_ref().is_some_and(|o| !o.is_null()) {
            return Ok(running(url));
        }
        let since = created_at - CLOCK_SKEW;
        let Some(state) = app
            .status
            .operation_state
            .filter(|s| s.started_at.is_some_and(|at| at >= since))
        else {
            return Ok(Progress::Pending);
        };
        match state.phase.as_str() {
            "Running" | "Terminating" => Ok(running(url)),
            "Succeeded" => Ok(Progress::Succeeded {
                url,
                descriptor: None,
                location: None,
            }),
            "Failed" | "Error" => Ok(Progress::Failed {
                message: state
                    .message
                    .filter(|m| !m.trim().is_empty())
                    .unwrap_or_else(|| {
                        format!(
                            "the rollback of {application} ended in {} without a message",
                            state.phase
                        )
                    }),
                url,
            }),
            other => Err(ExecError::BadResponse {
                backend: BACKEND.kind,
                detail: format!(
                    "unknown operation phase `{}`",
                    http::excerpt(other.as_bytes())
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(history: Value) -> Application {
        serde_json::from_value(json!({"status": {"history": history}})).expect("application")
    }

    fn inputs(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn the_target_is_the_given_id_else_the_newest_entry_with_the_revision_or_version() {
        let history = app(json!([
            {"id": 3, "revision": "abc"},
            {"id": "4", "revision": "def"},
            {"id": 5, "revision": "abc"},
            {"id": 6, "revisions": ["1.4.2", "ghi"]},
        ]));
        let t = |pairs: &[(&str, Value)]| target_id("checkout", &history, &inputs(pairs));
        assert_eq!(t(&[("revision", json!("abc"))]), Ok(5));
        assert_eq!(t(&[("revision", json!("def"))]), Ok(4));
        assert_eq!(t(&[("version", json!("1.4.2"))]), Ok(6));
        assert_eq!(
            t(&[
                ("revision", json!("abc")),
                ("argocd_history_id", json!("2"))
            ]),
            Ok(2)
        );
        let unknown = t(&[("revision", json!("zzz")), ("version", json!("abc"))])
            .expect_err("not in the history");
        assert!(
            unknown
                .to_string()
                .contains("revision zzz is not in checkout's deploy history"),
            "{unknown}"
        );
        assert!(t(&[("argocd_history_id", json!("x"))]).is_err());
        assert!(t(&[]).is_err());
    }

    #[test]
    fn auto_sync_is_on_only_with_an_automated_policy() {
        let read = |v: Value| serde_json::from_value::<Application>(v).expect("app");
        assert!(read(json!({"spec": {"syncPolicy": {"automated": {"prune": true}}}})).autosync());
        assert!(read(json!({"spec": {"syncPolicy": {"automated": {}}}})).autosync());
        assert!(!read(json!({"spec": {"syncPolicy": {"automated": null}}})).autosync());
        assert!(!read(json!({"spec": {"syncPolicy": {}}})).autosync());
        assert!(!read(json!({})).autosync());
    }
}
