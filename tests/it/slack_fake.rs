//! A fake Slack Web API on 127.0.0.1: `users.info` with scripted users, checking the bot token
//! and recording every call.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{Value, json};

/// The bot token the fake accepts.
pub const BOT_TOKEN: &str = "xoxb-test-1234";

/// One recorded call: method and query parameters.
pub type Call = (String, HashMap<String, String>);

/// A running fake.
#[derive(Clone)]
pub struct FakeSlack {
    /// Base URL to put in `SLACK_API_URL`.
    pub url: String,
    calls: Arc<Mutex<Vec<Call>>>,
}

#[derive(Clone)]
struct FakeState {
    users: Arc<HashMap<String, Value>>,
    calls: Arc<Mutex<Vec<Call>>>,
}

async fn users_info(
    State(state): State<FakeState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    state
        .calls
        .lock()
        .expect("lock")
        .push(("users.info".to_owned(), q.clone()));
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {BOT_TOKEN}"))
    {
        return Json(json!({"ok": false, "error": "invalid_auth"}));
    }
    let Some(id) = q.get("user") else {
        return Json(json!({"ok": false, "error": "user_not_found"}));
    };
    match state.users.get(id) {
        Some(user) => Json(json!({"ok": true, "user": user})),
        None => Json(json!({"ok": false, "error": "user_not_found"})),
    }
}

fn user(id: &str, email: Option<&str>, name: &str) -> Value {
    let mut profile = json!({"real_name": name, "display_name": name, "team": "T0001"});
    if let Some(e) = email {
        profile["email"] = json!(e);
    }
    json!({"id": id, "team_id": "T0001", "name": name.to_lowercase(), "deleted": false, "is_bot": false,
           "tz": "Europe/Berlin", "profile": profile})
}

impl FakeSlack {
    /// Starts the fake with a few users: `U1MEI` and Enterprise Grid `W1MEI` (same email, a
    /// payments-platform member), `U2NOMAIL` (no email), `U3VERA` (engineering); anything else is
    /// `user_not_found`.
    pub async fn start() -> Self {
        let users: HashMap<String, Value> = [
            (
                "U1MEI",
                user("U1MEI", Some("mei.tanaka@example.com"), "Mei Tanaka"),
            ),
            (
                "W1MEI",
                user("W1MEI", Some("Mei.Tanaka@example.com"), "Mei Tanaka"),
            ),
            ("U2NOMAIL", user("U2NOMAIL", None, "No Mail")),
            (
                "U3VERA",
                user("U3VERA", Some("vera.lindholm@example.com"), "Vera Lindholm"),
            ),
            (
                "U4SOFIA",
                user(
                    "U4SOFIA",
                    Some("sofia.marquez@example.com"),
                    "Sofia Marquez",
                ),
            ),
            (
                "U5RAFAEL",
                user("U5RAFAEL", Some("rafael.costa@example.com"), "Rafael Costa"),
            ),
            (
                "U6INGRID",
                user(
                    "U6INGRID",
                    Some("ingrid.halvorsen@example.com"),
                    "Ingrid Halvorsen",
                ),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let state = FakeState {
            users: Arc::new(users),
            calls: calls.clone(),
        };
        let app = Router::new()
            .route("/api/users.info", any(users_info))
            .fallback(|| async { Json(json!({"ok": false, "error": "unknown_method"})) })
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Self {
            url: format!("http://{addr}/api"),
            calls,
        }
    }

    /// Calls of one method so far.
    pub fn calls(&self, method: &str) -> Vec<HashMap<String, String>> {
        self.calls
            .lock()
            .expect("lock")
            .iter()
            .filter(|(m, _)| m == method)
            .map(|(_, q)| q.clone())
            .collect()
    }
}
