//! A fake PagerDuty REST API v2 on 127.0.0.1: `GET /services/{id}` and `GET /oncalls`, answering
//! in PagerDuty's shapes (references with `type`, `summary`, `self`, `html_url`; full users only
//! with `include[]=users`; classic `limit`/`offset`/`more` pagination; times with an offset). It
//! checks what it receives (the `Authorization` and `Accept` headers, every query parameter) and
//! records each request, so tests can count calls and assert that nothing was malformed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{Value, json};

/// The API token the fake accepts.
pub const TOKEN: &str = "pd-fake-token-3c1f9e";

/// The `Accept` header PagerDuty's REST API v2 expects.
const ACCEPT_V2: &str = "application/vnd.pagerduty+json;version=2";

/// Query parameters `GET /oncalls` knows (PagerDuty's list).
const ONCALLS_PARAMS: &[&str] = &[
    "time_zone",
    "limit",
    "offset",
    "total",
    "include[]",
    "user_ids[]",
    "escalation_policy_ids[]",
    "schedule_ids[]",
    "since",
    "until",
    "earliest",
];

/// A PagerDuty user.
#[derive(Debug, Clone)]
pub struct User {
    /// `PU…` id.
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Login email.
    pub email: &'static str,
}

/// One on-call entry of an escalation policy.
#[derive(Debug, Clone)]
pub struct Entry {
    /// `escalation_level`, 1 first.
    pub level: u32,
    /// Who.
    pub user: User,
    /// `start`; `None` for a user always on call at this level.
    pub start: Option<DateTime<Utc>>,
    /// `end`; `None` for a user always on call at this level.
    pub end: Option<DateTime<Utc>>,
}

/// How the fake treats requests about one service.
#[derive(Debug, Clone)]
pub enum Behavior {
    /// Answers at once.
    Normal,
    /// The first `times` requests to `/oncalls` answer 429 with `Retry-After: retry_after_secs`.
    RateLimited {
        /// Seconds in `Retry-After`.
        retry_after_secs: u64,
        /// How many 429s before answering normally.
        times: u32,
    },
    /// Every request sleeps this long before answering.
    Slow(Duration),
}

/// A PagerDuty service, its escalation policy and that policy's on-calls.
#[derive(Debug, Clone)]
pub struct Service {
    /// `P…` id, as in the `pagerduty.com/service-id` annotation.
    pub id: &'static str,
    /// Service name.
    pub name: &'static str,
    /// Escalation policy id.
    pub policy_id: &'static str,
    /// Escalation policy name.
    pub policy_name: &'static str,
    /// The policy's on-call entries.
    pub entries: Vec<Entry>,
    /// Entries per page at most (the fake's own cap, below the client's `limit`).
    pub page_size: usize,
    /// How requests are answered.
    pub behavior: Behavior,
}

impl Service {
    /// A normally answering service with pages of 100.
    pub fn new(
        id: &'static str,
        policy_id: &'static str,
        policy_name: &'static str,
        entries: Vec<Entry>,
    ) -> Self {
        Self {
            id,
            name: id,
            policy_id,
            policy_name,
            entries,
            page_size: 100,
            behavior: Behavior::Normal,
        }
    }
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Call {
    /// The path, e.g. `/services/PCHECK1`.
    pub path: String,
    /// The decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// The status answered.
    pub status: u16,
}

#[derive(Default)]
struct Inner {
    services: Vec<Service>,
    calls: Vec<Call>,
    problems: Vec<String>,
    rate_limited: HashMap<&'static str, u32>,
}

type Shared = Arc<Mutex<Inner>>;

/// The running fake. Stops when dropped.
pub struct FakePagerDuty {
    /// Base URL, e.g. `http://127.0.0.1:40123` (what `PAGERDUTY_API_URL` would hold).
    pub url: String,
    inner: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakePagerDuty {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock(inner: &Shared) -> std::sync::MutexGuard<'_, Inner> {
    inner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FakePagerDuty {
    /// Starts the fake on 127.0.0.1 with these services.
    pub async fn start(services: Vec<Service>) -> Self {
        let inner: Shared = Arc::new(Mutex::new(Inner {
            services,
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/services/{id}", get(service))
            .route("/oncalls", get(oncalls))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the PagerDuty fake");
        let addr = listener.local_addr().expect("local addr");
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("serve the PagerDuty fake");
        });
        Self {
            url: format!("http://{addr}"),
            inner,
            server,
        }
    }

    /// Every request so far.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.inner).calls.clone()
    }

    /// How many requests went to paths starting with `prefix`.
    pub fn calls_to(&self, prefix: &str) -> usize {
        lock(&self.inner)
            .calls
            .iter()
            .filter(|c| c.path.starts_with(prefix))
            .count()
    }

    /// Everything malformed the fake saw (missing or wrong headers, unknown or bad parameters).
    pub fn problems(&self) -> Vec<String> {
        lock(&self.inner).problems.clone()
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": {"message": message}}))).into_response()
}

/// PagerDuty renders times in the account's zone; this account is on UTC−05:00.
fn pd_time(t: Option<DateTime<Utc>>) -> Value {
    let zone = FixedOffset::west_opt(5 * 3600).expect("offset");
    t.map_or(Value::Null, |t| json!(t.with_timezone(&zone).to_rfc3339()))
}

fn reference(kind: &str, path: &str, id: &str, summary: &str) -> Value {
    json!({
        "id": id,
        "type": format!("{kind}_reference"),
        "summary": summary,
        "self": format!("https://api.pagerduty.com/{path}/{id}"),
        "html_url": format!("https://acme.pagerduty.com/{path}/{id}"),
    })
}

/// Checks the headers every request must carry and records problems; false when the token is not
/// the fake's (answer 401).
fn authorized(inner: &Shared, path: &str, headers: &HeaderMap) -> bool {
    let mut state = lock(inner);
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    if accept != Some(ACCEPT_V2) {
        state
            .problems
            .push(format!("{path}: Accept is {accept:?}, not {ACCEPT_V2}"));
    }
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match auth.strip_prefix("Token token=") {
        Some(token) => token == TOKEN,
        None => {
            state.problems.push(format!(
                "{path}: Authorization is not `Token token=…` (got {} characters)",
                auth.len()
            ));
            false
        }
    }
}

fn record(inner: &Shared, path: String, query: Vec<(String, String)>, status: StatusCode) {
    lock(inner).calls.push(Call {
        path,
        query,
        status: status.as_u16(),
    });
}

async fn service(
    State(inner): State<Shared>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let path = format!("/services/{id}");
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or_default()).unwrap_or_default();
    if !query.is_empty() {
        lock(&inner)
            .problems
            .push(format!("{path}: unexpected query {query:?}"));
    }
    if !authorized(&inner, &path, &headers) {
        record(&inner, path, query, StatusCode::UNAUTHORIZED);
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let found = lock(&inner).services.iter().find(|s| s.id == id).cloned();
    let Some(found) = found else {
        record(&inner, path, query, StatusCode::NOT_FOUND);
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    record(&inner, path, query, StatusCode::OK);
    if let Behavior::Slow(wait) = found.behavior {
        tokio::time::sleep(wait).await;
    }
    let mut body = reference("service", "services", found.id, found.name);
    body["type"] = json!("service");
    body["name"] = json!(found.name);
    body["status"] = json!("active");
    body["escalation_policy"] = reference(
        "escalation_policy",
        "escalation_policies",
        found.policy_id,
        found.policy_name,
    );
    Json(json!({ "service": body })).into_response()
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

async fn oncalls(
    State(inner): State<Shared>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let path = "/oncalls".to_owned();
    let query: Vec<(String, String)> =
        match serde_urlencoded::from_str(raw.as_deref().unwrap_or_default()) {
            Ok(q) => q,
            Err(e) => {
                lock(&inner)
                    .problems
                    .push(format!("/oncalls: unreadable query: {e}"));
                Vec::new()
            }
        };
    if !authorized(&inner, &path, &headers) {
        record(&inner, path, query, StatusCode::UNAUTHORIZED);
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let values = |key: &str| -> Vec<&str> {
        query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let mut problems = Vec::new();
    for (k, _) in &query {
        if !ONCALLS_PARAMS.contains(&k.as_str()) {
            problems.push(format!("/oncalls: unknown parameter `{k}`"));
        }
    }
    if !values("include[]").contains(&"users") {
        problems.push("/oncalls: include[]=users missing, so no emails".to_owned());
    }
    let limit = match values("limit").as_slice() {
        [l] => l.parse::<usize>().ok().filter(|l| (1..=100).contains(l)),
        _ => None,
    };
    let offset = match values("offset").as_slice() {
        [o] => o.parse::<usize>().ok(),
        [] => Some(0),
        _ => None,
    };
    if limit.is_none() {
        problems.push(format!(
            "/oncalls: limit {:?} is not one number in 1..=100",
            values("limit")
        ));
    }
    if offset.is_none() {
        problems.push(format!(
            "/oncalls: offset {:?} is not a number",
            values("offset")
        ));
    }
    let since = values("since").first().map(|s| parse_time(s));
    let until = values("until").first().map(|s| parse_time(s));
    let (since, until) = match (since, until) {
        (Some(Some(s)), Some(Some(u))) if s < u => (Some(s), Some(u)),
        (None, None) => (None, None),
        other => {
            problems.push(format!(
                "/oncalls: since/until unreadable or out of order: {other:?}"
            ));
            (None, None)
        }
    };
    let policies = values("escalation_policy_ids[]");
    let found = {
        let state = lock(&inner);
        state
            .services
            .iter()
            .find(|s| policies.contains(&s.policy_id))
            .cloned()
    };
    if policies.len() != 1 || found.is_none() {
        problems.push(format!(
            "/oncalls: escalation_policy_ids[] {policies:?} names no known policy"
        ));
    }
    let include_users = values("include[]").contains(&"users");
    if !problems.is_empty() {
        lock(&inner).problems.extend(problems);
        record(&inner, path, query, StatusCode::BAD_REQUEST);
        return error(StatusCode::BAD_REQUEST, "Invalid Input Provided");
    }
    let Some(found) = found else {
        record(&inner, path, query, StatusCode::BAD_REQUEST);
        return error(StatusCode::BAD_REQUEST, "Invalid Input Provided");
    };
    if let Behavior::RateLimited {
        retry_after_secs,
        times,
    } = found.behavior
    {
        let mut state = lock(&inner);
        let served = state.rate_limited.entry(found.id).or_insert(0);
        if *served < times {
            *served += 1;
            drop(state);
            record(&inner, path, query, StatusCode::TOO_MANY_REQUESTS);
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, retry_after_secs.to_string())],
                Json(json!({"error": {"message": "Rate Limit Exceeded"}})),
            )
                .into_response();
        }
    }
    if let Behavior::Slow(wait) = found.behavior {
        tokio::time::sleep(wait).await;
    }
    // PagerDuty includes every on-call period that overlaps [since, until].
    let matching: Vec<&Entry> = found
        .entries
        .iter()
        .filter(|e| {
            let after_since = match (since, e.end) {
                (Some(s), Some(end)) => end > s,
                _ => true,
            };
            let before_until = match (until, e.start) {
                (Some(u), Some(start)) => start < u,
                _ => true,
            };
            after_since && before_until
        })
        .collect();
    let limit = limit.unwrap_or(100).min(found.page_size);
    let offset = offset.unwrap_or(0);
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|e| {
            let mut user = reference("user", "users", e.user.id, e.user.name);
            if include_users {
                user["type"] = json!("user");
                user["name"] = json!(e.user.name);
                user["email"] = json!(e.user.email);
                user["time_zone"] = json!("Europe/Berlin");
            }
            let schedule = if e.start.is_some() {
                reference("schedule", "schedules", "PSCHED1", "Primary")
            } else {
                Value::Null
            };
            json!({
                "escalation_policy": reference("escalation_policy", "escalation_policies", found.policy_id, found.policy_name),
                "escalation_level": e.level,
                "schedule": schedule,
                "user": user,
                "start": pd_time(e.start),
                "end": pd_time(e.end),
            })
        })
        .collect();
    let more = offset + page.len() < matching.len();
    record(&inner, path, query, StatusCode::OK);
    Json(json!({
        "oncalls": page,
        "limit": limit,
        "offset": offset,
        "more": more,
        "total": null,
    }))
    .into_response()
}
