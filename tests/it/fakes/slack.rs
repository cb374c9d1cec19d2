//! A fake Slack Web API on 127.0.0.1: `users.info` with scripted users; `views.open`,
//! `views.update`, `chat.postMessage` and `chat.update` answering in Slack's shapes; and a
//! `response_url` endpoint. It checks the bot token and Block Kit's limits on every view and
//! message (title 24 characters, 100 blocks per modal, 50 per message, `private_metadata` 3,000),
//! `conversations.info` for channels added with [`FakeSlack::add_channel`], answers Slack's errors (`expired_trigger_id` for triggers starting with `expired`,
//! `not_in_channel` for channel `CNOTIN` until the bot joins it with `conversations.join`;
//! `channel_not_found` for `CGONE`; `is_archived` for `CARCHIVED`; `not_in_channel` for the
//! private `CPRIVATE`, which `conversations.join` refuses with
//! `method_not_supported_for_channel_type`), answers scripted errors and 429s with `Retry-After`
//! ([`FakeSlack::script`]), and records every call with its JSON body.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
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
    base: String,
    calls: Arc<Mutex<Vec<Call>>>,
    posted: Arc<Mutex<Vec<(String, Value)>>>,
    channels: Channels,
    scripts: Arc<Mutex<Vec<Script>>>,
}

/// A scripted answer: what the fake says instead of its usual answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scripted {
    /// HTTP 429 with `Retry-After: <seconds>` and `{"ok":false,"error":"ratelimited"}`.
    RateLimited(u64),
    /// `{"ok":false,"error":<code>}`.
    Error(&'static str),
}

/// A scripted answer for the next `times` calls of a method (to one channel, when given).
#[derive(Debug, Clone)]
struct Script {
    method: String,
    channel: Option<String>,
    times: usize,
    answer: Scripted,
}

/// Channel id → (name, creation time in Unix seconds), for `conversations.info`.
type Channels = Arc<Mutex<HashMap<String, (String, i64)>>>;

#[derive(Clone)]
struct FakeState {
    users: Arc<HashMap<String, Value>>,
    calls: Arc<Mutex<Vec<Call>>>,
    posted: Arc<Mutex<Vec<(String, Value)>>>,
    counter: Arc<std::sync::atomic::AtomicU64>,
    channels: Channels,
    scripts: Arc<Mutex<Vec<Script>>>,
    joined: Arc<Mutex<HashSet<String>>>,
}

impl FakeState {
    /// The scripted answer for this call, if one is left (and counts it).
    fn scripted(&self, method: &str, channel: &str) -> Option<Response> {
        let mut scripts = self.scripts.lock().expect("lock");
        let script = scripts.iter_mut().find(|s| {
            s.times > 0 && s.method == method && s.channel.as_deref().is_none_or(|c| c == channel)
        })?;
        script.times -= 1;
        Some(match &script.answer {
            Scripted::RateLimited(secs) => (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", secs.to_string())],
                Json(json!({"ok": false, "error": "ratelimited"})),
            )
                .into_response(),
            Scripted::Error(code) => Json(json!({"ok": false, "error": code})).into_response(),
        })
    }
}

impl FakeState {
    fn next(&self) -> u64 {
        self.counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1
    }
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {BOT_TOKEN}"))
}

fn chars(v: &Value, pointer: &str) -> usize {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map_or(0, |s| s.chars().count())
}

/// Block Kit's limits for a modal view; the first broken one.
fn check_view(view: &Value) -> Result<(), String> {
    if view.get("type").and_then(Value::as_str) != Some("modal") {
        return Err("view type must be modal".into());
    }
    for (p, max) in [
        ("/title/text", 24),
        ("/submit/text", 24),
        ("/close/text", 24),
    ] {
        if chars(view, p) > max {
            return Err(format!("{p} longer than {max}"));
        }
    }
    if chars(view, "/title/text") == 0 {
        return Err("title missing".into());
    }
    if chars(view, "/private_metadata") > 3000 {
        return Err("private_metadata longer than 3000".into());
    }
    if chars(view, "/callback_id") > 255 {
        return Err("callback_id longer than 255".into());
    }
    let blocks = view
        .get("blocks")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if blocks.len() > 100 {
        return Err("more than 100 blocks".into());
    }
    let has_input = blocks
        .iter()
        .any(|b| b.get("type").and_then(Value::as_str) == Some("input"));
    if has_input && view.get("submit").is_none() {
        return Err("a view with inputs needs a submit button".into());
    }
    Ok(())
}

fn check_message(body: &Value) -> Result<(), String> {
    let blocks = body
        .get("blocks")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if blocks.len() > 50 {
        return Err("more than 50 blocks".into());
    }
    if blocks.is_empty() && chars(body, "/text") == 0 {
        return Err("no_text".into());
    }
    Ok(())
}

async fn post_method(
    State(state): State<FakeState>,
    axum::extract::Path(method): axum::extract::Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or_else(|_| {
        serde_urlencoded::from_bytes::<HashMap<String, String>>(&body)
            .map(|m| json!(m))
            .unwrap_or(Value::Null)
    });
    state
        .posted
        .lock()
        .expect("lock")
        .push((method.clone(), parsed.clone()));
    if !authorized(&headers) {
        return Json(json!({"ok": false, "error": "invalid_auth"})).into_response();
    }
    let channel = parsed.get("channel").and_then(Value::as_str).unwrap_or("");
    if let Some(answer) = state.scripted(&method, channel) {
        return answer;
    }
    answer(&state, &method, &parsed).into_response()
}

fn answer(state: &FakeState, method: &str, parsed: &Value) -> Json<Value> {
    let invalid = |why: String| {
        Json(
            json!({"ok": false, "error": "invalid_arguments", "response_metadata": {"messages": [why]}}),
        )
    };
    match method {
        "views.open" | "views.update" | "views.push" => {
            let trigger = parsed
                .get("trigger_id")
                .and_then(Value::as_str)
                .unwrap_or("");
            if method != "views.update" && trigger.starts_with("expired") {
                return Json(json!({"ok": false, "error": "expired_trigger_id"}));
            }
            if method != "views.update" && trigger.is_empty() {
                return invalid("trigger_id missing".into());
            }
            let Some(view) = parsed.get("view") else {
                return invalid("view missing".into());
            };
            if let Err(why) = check_view(view) {
                return invalid(why);
            }
            let n = state.next();
            let mut out = view.clone();
            let id = parsed
                .get("view_id")
                .and_then(Value::as_str)
                .map_or_else(|| format!("V{n:08}"), str::to_owned);
            out["id"] = json!(id);
            out["team_id"] = json!("T0001");
            out["hash"] = json!(format!("{n}.hash"));
            out["state"] = json!({"values": {}});
            Json(json!({"ok": true, "view": out}))
        }
        "views.publish" => {
            let user = parsed.get("user_id").and_then(Value::as_str).unwrap_or("");
            let Some(view) = parsed.get("view") else {
                return invalid("view missing".into());
            };
            if user.is_empty() {
                return invalid("user_id missing".into());
            }
            if view.get("type").and_then(Value::as_str) != Some("home") {
                return invalid("views.publish takes a home view".into());
            }
            let blocks = view
                .get("blocks")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            if blocks > 100 {
                return invalid("more than 100 blocks".into());
            }
            Json(json!({"ok": true, "view": view}))
        }
        "chat.postMessage" | "chat.update" => {
            let channel = parsed.get("channel").and_then(Value::as_str).unwrap_or("");
            if channel.is_empty() {
                return Json(json!({"ok": false, "error": "channel_not_found"}));
            }
            let joined = state.joined.lock().expect("lock").contains(channel);
            if (channel == "CNOTIN" && !joined) || channel == "CPRIVATE" {
                return Json(json!({"ok": false, "error": "not_in_channel"}));
            }
            if channel == "CGONE" {
                return Json(json!({"ok": false, "error": "channel_not_found"}));
            }
            if channel == "CARCHIVED" {
                return Json(json!({"ok": false, "error": "is_archived"}));
            }
            if let Err(why) = check_message(parsed) {
                return invalid(why);
            }
            let ts = match parsed.get("ts").and_then(Value::as_str) {
                Some(ts) if method == "chat.update" => ts.to_owned(),
                _ => format!("1700000000.{:06}", state.next()),
            };
            let text = parsed.get("text").cloned().unwrap_or(json!(""));
            Json(json!({"ok": true, "channel": channel, "ts": ts,
                        "message": {"type": "message", "ts": ts, "text": text, "bot_id": "B0001"}}))
        }
        "conversations.join" => {
            let channel = parsed.get("channel").and_then(Value::as_str).unwrap_or("");
            match channel {
                "" | "CGONE" => Json(json!({"ok": false, "error": "channel_not_found"})),
                "CARCHIVED" => Json(json!({"ok": false, "error": "is_archived"})),
                "CPRIVATE" => {
                    Json(json!({"ok": false, "error": "method_not_supported_for_channel_type"}))
                }
                _ => {
                    state
                        .joined
                        .lock()
                        .expect("lock")
                        .insert(channel.to_owned());
                    Json(
                        json!({"ok": true, "channel": {"id": channel, "created": 1_700_000_000,
                                "name": channel.to_lowercase(), "is_channel": true}}),
                    )
                }
            }
        }
        _ => Json(json!({"ok": false, "error": "unknown_method"})),
    }
}

async fn response_url(
    State(state): State<FakeState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> &'static str {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state
        .posted
        .lock()
        .expect("lock")
        .push((format!("response_url/{id}"), parsed));
    "ok"
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
    if !authorized(&headers) {
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

async fn conversations_info(
    State(state): State<FakeState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Json<Value> {
    // slack-morphism sends a GET with the channel in the query; accept a form body too.
    let mut args = q;
    if let Ok(form) = serde_urlencoded::from_bytes::<HashMap<String, String>>(&body) {
        args.extend(form);
    }
    state
        .calls
        .lock()
        .expect("lock")
        .push(("conversations.info".to_owned(), args.clone()));
    if !authorized(&headers) {
        return Json(json!({"ok": false, "error": "invalid_auth"}));
    }
    let id = args.get("channel").cloned().unwrap_or_default();
    match state.channels.lock().expect("lock").get(&id) {
        Some((name, created)) => Json(json!({"ok": true, "channel": {
            "id": id, "name": name, "created": created, "is_channel": true, "is_private": false,
            "is_archived": false, "is_member": true, "creator": "U7DARIA"}})),
        None => Json(json!({"ok": false, "error": "channel_not_found"})),
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
                "U7DARIA",
                user(
                    "U7DARIA",
                    Some("daria.volkova@example.com"),
                    "Daria Volkova",
                ),
            ),
            (
                "U9TOBIAS",
                user(
                    "U9TOBIAS",
                    Some("tobias.lindqvist@example.com"),
                    "Tobias Lindqvist",
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
        let posted = Arc::new(Mutex::new(Vec::new()));
        let channels = Channels::default();
        let scripts = Arc::new(Mutex::new(Vec::new()));
        let state = FakeState {
            users: Arc::new(users),
            calls: calls.clone(),
            posted: posted.clone(),
            counter: Arc::default(),
            channels: channels.clone(),
            scripts: scripts.clone(),
            joined: Arc::default(),
        };
        let app = Router::new()
            .route("/api/users.info", any(users_info))
            .route("/api/conversations.info", any(conversations_info))
            .route("/api/{method}", axum::routing::post(post_method))
            .route("/response/{id}", axum::routing::post(response_url))
            .fallback(|| async { Json(json!({"ok": false, "error": "unknown_method"})) })
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Self {
            url: format!("http://{addr}/api"),
            base: format!("http://{addr}"),
            calls,
            posted,
            channels,
            scripts,
        }
    }

    /// Answers the next `times` calls of `method` (to `channel`, when given) with `answer`
    /// instead of the usual reply. Scripts are used in the order they were added.
    pub fn script(&self, method: &str, channel: Option<&str>, times: usize, answer: Scripted) {
        self.scripts.lock().expect("lock").push(Script {
            method: method.to_owned(),
            channel: channel.map(str::to_owned),
            times,
            answer,
        });
    }

    /// `chat.postMessage` bodies sent to one channel (or user, for direct messages) so far.
    pub fn messages_to(&self, channel: &str) -> Vec<Value> {
        self.posted("chat.postMessage")
            .into_iter()
            .filter(|m| m.get("channel").and_then(Value::as_str) == Some(channel))
            .collect()
    }

    /// Makes `conversations.info` know a public channel, created at `created` (Unix seconds).
    pub fn add_channel(&self, id: &str, name: &str, created: i64) {
        self.channels
            .lock()
            .expect("lock")
            .insert(id.to_owned(), (name.to_owned(), created));
    }

    /// JSON bodies posted to one method (or `response_url/<id>`) so far, oldest first.
    pub fn posted(&self, method: &str) -> Vec<Value> {
        self.posted
            .lock()
            .expect("lock")
            .iter()
            .filter(|(m, _)| m == method)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Every body posted to a `response_url` of this fake.
    pub fn responses(&self) -> Vec<Value> {
        self.posted
            .lock()
            .expect("lock")
            .iter()
            .filter(|(m, _)| m.starts_with("response_url/"))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A `response_url` that points at this fake.
    pub fn response_url(&self, id: &str) -> String {
        format!("{}/response/{id}", self.base)
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
