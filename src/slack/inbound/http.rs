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

use crate::app::{AppState, RequestMeta};
use crate::command::{self, Dialect};
use crate::handlers::Outcome;
use crate::handlers::new_service::NewService;
use crate::slack::inbound::{EventEnvelope, Interaction, SlashCommand};
use crate::slack::interact;
use crate::slack::render::Reply;
use crate::slack::verify::VerifyError;

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
    state: &Arc<AppState>,
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
    let trigger_key = form
        .trigger_id
        .as_deref()
        .map(|t| format!("slack-trigger:{t}"));
    let reply = async {
        let caller = state
            .slack_caller(
                &form.team_id,
                &form.user_id,
                &form.channel_id,
                form.channel_name.as_deref(),
            )
            .await;
        let parsed = command::parse(&form.text, Dialect::Slack, chrono::Utc::now());
        let meta = RequestMeta {
            idempotency_key: trigger_key.as_deref(),
            channel_id: Some(&form.channel_id),
        };
        let (snapshot, handled) = state
            .execute(&request_id, &caller, parsed, &form.text, meta)
            .await;
        if let Outcome::NewService(outcome) = &handled.outcome
            && let NewService::OpenForm { template, prefill } = outcome.as_ref()
        {
            // The trigger_id dies about 3 s after the command: open the modal now, answer the
            // command with an empty acknowledgement.
            let state = Arc::clone(state);
            let template = template.clone();
            let prefill = prefill.clone();
            let origin = interact::FormOrigin::from(&form);
            tokio::spawn(async move {
                interact::open_new_service(&state, &origin, template.as_deref(), &prefill).await;
            });
            return None;
        }
        Some(state.render(&request_id, &snapshot, &handled))
    }
    .instrument(span)
    .await;
    let Some(reply) = reply else {
        return (StatusCode::OK, Vec::new());
    };
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
    let interaction = match Interaction::from_form(&body) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "signed interaction could not be decoded");
            return StatusCode::BAD_REQUEST.into_response();
        }
    };
    match interaction.kind.as_str() {
        "view_submission" => {
            let body = interact::view_submission(&state, interaction).await;
            if body.as_object().is_some_and(serde_json::Map::is_empty) {
                StatusCode::OK.into_response()
            } else {
                axum::Json(body).into_response()
            }
        }
        "block_suggestion" => {
            axum::Json(interact::block_suggestion(&state, interaction).await).into_response()
        }
        "block_actions" => {
            tokio::spawn(async move { interact::block_actions(&state, interaction).await });
            StatusCode::OK.into_response()
        }
        "message_action" => {
            tokio::spawn(async move { interact::message_action(&state, interaction).await });
            StatusCode::OK.into_response()
        }
        other => {
            tracing::debug!(kind = other, "interaction acknowledged");
            StatusCode::OK.into_response()
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
    match envelope.event.as_ref().map(|e| e.kind.as_str()) {
        Some("app_home_opened") => {
            if let Some(event) = &envelope.event
                && event.tab.as_deref() == Some("home")
                && let Some(user) = event.user.clone()
            {
                let team = envelope.team_id.clone().unwrap_or_default();
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    crate::slack::interact::publish_home(&state, &team, &user).await;
                });
            }
        }
        Some("app_mention") => {
            let state = Arc::clone(&state);
            let envelope = envelope.clone();
            tokio::spawn(async move { crate::slack::mention::app_mention(&state, envelope).await });
        }
        _ => {}
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
