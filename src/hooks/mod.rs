//! Inbound hooks from the systems idp works with. Every hook is authenticated before its body is
//! read as anything. [`runs`]: progress of delegated runs (webhook backend, GitHub `workflow_run`).
//! [`events`]: deploy events (`/hooks/events`, GitHub `deployment_status`).

pub mod events;
pub mod runs;

pub use runs::{HooksState, router};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// A header's value when present and visible ASCII.
fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// 400 with `{"error": message}`.
fn bad_request(message: impl std::fmt::Display) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(serde_json::json!({ "error": message.to_string() })),
    )
        .into_response()
}
