//! Run progress from the systems idp delegates to. Every hook is authenticated before its body
//! is read as anything:
//!
//! - `POST /hooks/runs/{run_id}`: progress of a run from the webhook backend, signed with
//!   `X-Idp-Timestamp` / `X-Idp-Signature` (see `docs/webhook-backend.md`).
//! - `POST /hooks/github`: GitHub's `workflow_run` webhooks, signed with `X-Hub-Signature-256`
//!   (<https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries>).
//!
//! Answers: 401 (empty) for a bad or missing signature, 400 with `{"error"}` for a body that does
//! not read, 404 for a run idp does not know, 200 with `{"ok", "status", "applied"}` otherwise.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use super::{bad_request, header};
use crate::actions::{RunService, SubmitError};
use crate::exec::signing::{GITHUB_SIGNATURE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::exec::{Executors, Progress};
use crate::exec::{MAX_CALLBACK_BYTES, parse_callback};

/// What the hooks need.
#[derive(Clone)]
pub struct HooksState {
    /// The run queue the reports apply to.
    pub runs: Arc<RunService>,
    /// The backends, which hold the secrets the signatures are checked with.
    pub executors: Arc<Executors>,
}

/// The hooks' routes.
pub fn router(state: HooksState) -> Router {
    Router::new()
        .route("/hooks/runs/{run_id}", post(run_callback))
        .route("/hooks/github", post(github))
        .layer(DefaultBodyLimit::max(MAX_CALLBACK_BYTES + 1024))
        .with_state(state)
}

/// Whether `id` has the shape of idp's run ids (`run_` and 16 hex digits): anything else is no run
/// of ours and is not looked up.
fn is_run_id(id: &str) -> bool {
    id.strip_prefix("run_")
        .is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

async fn apply(
    runs: &RunService,
    run_id: &str,
    progress: &Progress,
    sequence: Option<i64>,
) -> Response {
    match runs.report(run_id, progress, sequence).await {
        Ok((run, applied)) => axum::Json(json!({
            "ok": true,
            "status": run.status.as_str(),
            "applied": applied,
        }))
        .into_response(),
        Err(SubmitError::UnknownRun(_)) => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "error": format!("no run `{run_id}` is known here") })),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(run = run_id, error = %e, "a run report could not be applied");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({ "error": "the report could not be recorded; send it again" })),
            )
                .into_response()
        }
    }
}

async fn run_callback(
    State(state): State<HooksState>,
    Path(run_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = chrono::Utc::now().timestamp();
    if let Err(e) = state.executors.verify_callback(
        header(&headers, TIMESTAMP_HEADER),
        header(&headers, SIGNATURE_HEADER),
        &body,
        now,
    ) {
        tracing::warn!(route = "/hooks/runs", reason = %e, "rejected a run callback that failed verification");
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if !is_run_id(&run_id) {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "error": "not an idp run id" })),
        )
            .into_response();
    }
    let callback = match parse_callback(&body) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(run = %run_id, error = %e, "a run callback could not be read");
            return bad_request(e);
        }
    };
    apply(&state.runs, &run_id, &callback.progress, callback.sequence).await
}

async fn github(State(state): State<HooksState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(e) = state
        .executors
        .verify_github(header(&headers, GITHUB_SIGNATURE_HEADER), &body)
    {
        tracing::warn!(route = "/hooks/github", reason = %e, "rejected a GitHub webhook that failed verification");
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match crate::exec::parse_workflow_run(header(&headers, "x-github-event"), &body) {
        Ok(Some((run_id, progress))) if is_run_id(&run_id) => {
            let response = apply(&state.runs, &run_id, &progress, None).await;
            if response.status() == StatusCode::NOT_FOUND {
                // GitHub sends every run of the repository; one idp does not know is not an error.
                return axum::Json(json!({ "ok": true, "ignored": "unknown run" })).into_response();
            }
            response
        }
        Ok(_) => axum::Json(json!({ "ok": true, "ignored": "not an idp run" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "a GitHub webhook could not be read");
            bad_request(e)
        }
    }
}
