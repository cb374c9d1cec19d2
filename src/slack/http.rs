//! Slack over HTTP: `POST /slack/commands`, `/slack/interactions`, `/slack/events`, plus
//! `GET /healthz` and `/readyz`. Every Slack route verifies the signature on the raw body before
//! parsing anything; a body larger than [`MAX_BODY_BYTES`] is refused before that.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tracing::Instrument;

use super::inbound::{self, EventEnvelope, SlashCommand};
use super::render::Reply;
use super::verify::VerifyError;
use crate::app::AppState;
use crate::command::Dialect;

/// Largest request body accepted, in bytes (Slack's payloads are far smaller).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The router of the Slack app.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/slack/commands", post(commands))
        .route("/slack/interactions", post(interactions))
        .route("/slack/events", post(events))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Verifies a request's signature; on failure logs why and returns the empty 401.
fn check(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    route: &'static str,
) -> Result<(), StatusCode> {
    let Some(verifier) = &state.verifier else {
        tracing::error!(
            route,
            "no signing secret configured; refusing Slack request"
        );
        return Err(StatusCode::UNAUTHORIZED);
    };
    let result = verifier.verify(
        header_str(headers, "x-slack-request-timestamp"),
        header_str(headers, "x-slack-signature"),
        body,
        now_secs(),
    );
    result.map_err(|e: VerifyError| {
        tracing::warn!(route, reason = %e, "rejected a Slack request that failed verification");
        StatusCode::UNAUTHORIZED
    })
}

fn json_response(bytes: Vec<u8>) -> Response {
    let mut response = (StatusCode::OK, bytes).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The whole in-process path of one slash command after the HTTP layer: verify, decode, parse,
/// look up, render to JSON. Returns the status and the body (empty on 401). The benchmark and the
/// HTTP handler both call this.
pub async fn handle_command(
    state: &AppState,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> (StatusCode, Vec<u8>) {
    let Some(verifier) = &state.verifier else {
        return (StatusCode::UNAUTHORIZED, Vec::new());
    };
    if let Err(e) = verifier.verify(timestamp, signature, body, now) {
        tracing::warn!(route = "/slack/commands", reason = %e, "rejected a Slack request that failed verification");
        return (StatusCode::UNAUTHORIZED, Vec::new());
    }
    let form = match SlashCommand::from_form(body) {
        Ok(form) => form,
        Err(e) => {
            tracing::warn!(error = %e, "signed slash command could not be decoded");
            return (StatusCode::BAD_REQUEST, Vec::new());
        }
    };
    if form.ssl_check.as_deref() == Some("1") {
        return (StatusCode::OK, Vec::new());
    }
    if let Err(e) = form.validate() {
        tracing::warn!(error = %e, "signed slash command is incomplete");
        return (StatusCode::BAD_REQUEST, Vec::new());
    }
    let request_id = state.next_request_id();
    let span = tracing::debug_span!("slash_command", %request_id, team = %form.team_id, user = %form.user_id);
    let reply = async {
        let caller = state
            .slack_caller(
                &form.team_id,
                &form.user_id,
                &form.channel_id,
                form.channel_name.as_deref(),
            )
            .await;
        state
            .dispatch_as(&request_id, &caller, &form.text, Dialect::Slack)
            .await
    }
    .instrument(span)
    .await;
    match serde_json::to_vec(&reply.ephemeral()) {
        Ok(bytes) => (StatusCode::OK, bytes),
        Err(e) => {
            tracing::error!(%request_id, error = %e, "could not serialise a reply");
            let fallback = Reply::internal_error(&request_id);
            (
                StatusCode::OK,
                serde_json::to_vec(&fallback.ephemeral()).unwrap_or_default(),
            )
        }
    }
}

async fn commands(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let (status, bytes) = handle_command(
        &state,
        header_str(&headers, "x-slack-request-timestamp"),
        header_str(&headers, "x-slack-signature"),
        &body,
        now_secs(),
    )
    .await;
    if status == StatusCode::OK && !bytes.is_empty() {
        json_response(bytes)
    } else {
        status.into_response()
    }
}

async fn interactions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check(&state, &headers, &body, "/slack/interactions") {
        return r.into_response();
    }
    match inbound::interaction_kind(&body) {
        Ok(kind) => {
            tracing::info!(kind, "interaction acknowledged (no handler yet)");
            StatusCode::OK.into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "signed interaction could not be decoded");
            StatusCode::BAD_REQUEST.into_response()
        }
    }
}

async fn events(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = check(&state, &headers, &body, "/slack/events") {
        return r.into_response();
    }
    let envelope: EventEnvelope = match serde_json::from_slice(&body) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "signed event could not be decoded");
            return StatusCode::BAD_REQUEST.into_response();
        }
    };
    if envelope.kind == "url_verification" {
        let challenge = envelope.challenge.unwrap_or_default();
        return axum::Json(serde_json::json!({ "challenge": challenge })).into_response();
    }
    if let Some(retry) = header_str(&headers, "x-slack-retry-num") {
        tracing::info!(retry, reason = header_str(&headers, "x-slack-retry-reason"), event_id = ?envelope.event_id, "Slack retried an event");
    }
    tracing::debug!(kind = %envelope.kind, event_id = ?envelope.event_id, "event acknowledged");
    StatusCode::OK.into_response()
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    match state.catalog.store().ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "store unreachable").into_response()
        }
    }
}
