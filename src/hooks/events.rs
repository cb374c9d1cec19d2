//! Deploy events in, authenticated per source before the body is read as anything:
//!
//! - `POST /hooks/events`: one event in idp's JSON shape ([`crate::deploys::event`]), from a
//!   source named in `X-Idp-Source` and configured under `[events.sources.<name>]`. A source with
//!   `secret_env` signs: `X-Idp-Timestamp` (Unix seconds) and `X-Idp-Signature: v1=<hex
//!   HMAC-SHA256 of "v1:{timestamp}:{body}">`, within 5 minutes of idp's clock (the scheme of
//!   [`crate::exec::signing`]). A source with `token_env` sends `Authorization: Bearer <token>`
//!   instead (Argo CD notifications cannot compute an HMAC; see `docs/deploy-events.md`).
//! - `POST /hooks/github/deployments`: GitHub's `deployment_status` webhooks, and `workflow_run`
//!   webhooks of the workflows configured as deploy workflows (`[events.github]
//!   deploy_workflows`, [`crate::deploys::github::DeployWorkflow`]), signed with
//!   `X-Hub-Signature-256` under `GITHUB_WEBHOOK_SECRET` and dispatched on `X-GitHub-Event`. A
//!   route of its own, not a branch of `/hooks/github`: that route belongs to the run queue (it
//!   exists only where runs do, and reads only idp's own runs), while deploy history is kept by
//!   every server; a repository's webhook can subscribe to `deployment_status` and `workflow_run`
//!   alone and point here.
//!
//! Events are written through an [`EventWriter`], which commits concurrent events in batches;
//! each request is answered once its event is committed.
//!
//! Answers: 401 (empty; the reason is logged, never a secret) when authentication fails, 400 with
//! `{"error"}` for a body that does not read, 413 for a body over [`MAX_EVENT_BYTES`], 503 with
//! `{"error"}` when the database fails (send again), else 200 with `{"ok": true, "stored": bool}`
//! (`false`: an event with that id was stored before) or `{"ok": true, "ignored": why}` (another
//! GitHub event, an `inactive` status, a run of a workflow that is no deploy workflow).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use subtle::ConstantTimeEq;

use super::{bad_request, header};
use crate::config::EventCredential;
use crate::deploys::github::DeployWorkflow;
use crate::deploys::{DeployEvent, EventOutcome, EventWriter, github, parse_event};
use crate::exec::signing::{
    GITHUB_SIGNATURE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_github_webhook,
    verify_signed,
};
use crate::store::Store;

/// The header naming the sending source.
pub const SOURCE_HEADER: &str = "X-Idp-Source";
/// The largest event body accepted, in bytes (GitHub's deployment payloads included).
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// What the event hooks need. Build it with [`EventsState::new`] (inside a Tokio runtime).
#[derive(Clone)]
pub struct EventsState {
    /// The batching writer events are recorded through.
    pub writer: EventWriter,
    /// The configured sources and how each authenticates (`Settings::event_sources`).
    pub sources: Arc<BTreeMap<String, EventCredential>>,
    /// `GITHUB_WEBHOOK_SECRET`, for `/hooks/github/deployments`; without it those deliveries get
    /// 401.
    pub github_secret: Option<SecretString>,
    /// `[events.github] deploy_workflows`: the workflows whose `workflow_run` is a deploy.
    pub deploy_workflows: Arc<[DeployWorkflow]>,
}

impl EventsState {
    /// The state for `sources`, writing to `store` through a new [`EventWriter`] (default
    /// options); no GitHub secret and no deploy workflows.
    ///
    /// # Panics
    /// Outside a Tokio runtime (the writer is a task).
    pub fn new(store: Store, sources: BTreeMap<String, EventCredential>) -> Self {
        Self {
            writer: EventWriter::start(store),
            sources: Arc::new(sources),
            github_secret: None,
            deploy_workflows: Arc::from(Vec::new()),
        }
    }

    /// The same state verifying GitHub's deliveries with `secret` and reading the `workflow_run`
    /// of `workflows` as deploys.
    #[must_use]
    pub fn with_github(
        mut self,
        secret: Option<SecretString>,
        workflows: Vec<DeployWorkflow>,
    ) -> Self {
        self.github_secret = secret;
        self.deploy_workflows = Arc::from(workflows);
        self
    }
}

/// The event hooks' routes: `POST /hooks/events` and `POST /hooks/github/deployments`.
pub fn router(state: EventsState) -> Router {
    Router::new()
        .route("/hooks/events", post(events))
        .route("/hooks/github/deployments", post(github_deployments))
        .layer(DefaultBodyLimit::max(MAX_EVENT_BYTES))
        .with_state(state)
}

/// Checks the request against its source's credential; the error is the reason, for logs.
fn authenticate(
    state: &EventsState,
    headers: &HeaderMap,
    body: &[u8],
    now_unix: i64,
) -> Result<String, String> {
    let source = header(headers, SOURCE_HEADER).ok_or("missing X-Idp-Source")?;
    let credential = state
        .sources
        .get(source)
        .ok_or_else(|| format!("unknown source `{}`", source.escape_default()))?;
    match credential {
        EventCredential::Hmac(secret) => verify_signed(
            secret,
            header(headers, TIMESTAMP_HEADER),
            header(headers, SIGNATURE_HEADER),
            body,
            now_unix,
        )
        .map_err(|e| format!("source `{source}`: {e}"))?,
        EventCredential::Bearer(token) => {
            let given = header(headers, "authorization")
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or_else(|| format!("source `{source}`: missing bearer token"))?;
            let same: bool = given
                .trim()
                .as_bytes()
                .ct_eq(token.expose_secret().as_bytes())
                .into();
            if !same {
                return Err(format!("source `{source}`: wrong bearer token"));
            }
        }
    }
    Ok(source.to_owned())
}

async fn record(writer: &EventWriter, event: DeployEvent) -> Response {
    let id = event.id.clone();
    match writer.record(event).await {
        Ok(outcome) => axum::Json(json!({
            "ok": true,
            "stored": outcome == EventOutcome::Stored,
        }))
        .into_response(),
        Err(e) => {
            tracing::error!(event = %id, error = %e, "an event could not be recorded");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({ "error": "the event could not be recorded; send it again" })),
            )
                .into_response()
        }
    }
}

async fn events(State(state): State<EventsState>, headers: HeaderMap, body: Bytes) -> Response {
    let now = chrono::Utc::now().timestamp();
    let source = match authenticate(&state, &headers, &body, now) {
        Ok(source) => source,
        Err(reason) => {
            tracing::warn!(route = "/hooks/events", %reason, "rejected an event that failed authentication");
            return StatusCode::UNAUTHORIZED.into_response();
        }
    };
    match parse_event(&body, &source) {
        Ok(event) => record(&state.writer, event).await,
        Err(e) => {
            tracing::warn!(%source, error = %e, "an event could not be read");
            bad_request(e)
        }
    }
}

async fn github_deployments(
    State(state): State<EventsState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let verified = match &state.github_secret {
        Some(secret) => {
            verify_github_webhook(secret, header(&headers, GITHUB_SIGNATURE_HEADER), &body)
                .map_err(|e| e.to_string())
        }
        None => Err("GITHUB_WEBHOOK_SECRET is not set".to_owned()),
    };
    if let Err(reason) = verified {
        tracing::warn!(route = "/hooks/github/deployments", %reason, "rejected a GitHub webhook that failed verification");
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let parsed = match header(&headers, "x-github-event") {
        Some("deployment_status") => {
            github::parse_deployment_status(&body).map(|e| e.ok_or("inactive status"))
        }
        Some("workflow_run") => github::parse_workflow_run(&body, &state.deploy_workflows)
            .map(|e| e.ok_or("not a deploy workflow")),
        Some(other) => {
            return axum::Json(json!({ "ok": true, "ignored": format!("event `{other}`") }))
                .into_response();
        }
        None => return bad_request("X-GitHub-Event is missing"),
    };
    match parsed {
        Ok(Ok(event)) => record(&state.writer, event).await,
        Ok(Err(why)) => axum::Json(json!({ "ok": true, "ignored": why })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "a GitHub deploy webhook could not be read");
            bad_request(e)
        }
    }
}
