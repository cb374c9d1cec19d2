//! A fake GitHub REST API on 127.0.0.1 for GitHub Actions: `workflow_dispatch`, the runs list of a
//! workflow and one run, at the root (github.com's shape) and under `/api/v3` (GitHub Enterprise
//! Server's). It checks what it receives (`Authorization: Bearer`, `Accept`,
//! `X-GitHub-Api-Version`, `User-Agent`, the dispatch body: `ref`, string `inputs`, at most 25 of
//! them; the runs list's query) and records every request. Each dispatch takes the next scripted
//! [`Answer`]; an accepted one creates a queued run titled after its `idp_run_id` input, as a
//! workflow following idp's `run-name` contract would be, whose status tests advance.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{Server, header, hmac_hex, lock};

/// The token the fake accepts.
pub const TOKEN: &str = "ghs_fakeInstallationToken0001";

/// The secret tests sign `workflow_run` webhooks with.
pub const WEBHOOK_SECRET: &str = "gh-webhook-secret-7d1e";

const DOCS: &str =
    "https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event";

/// How the fake answers one dispatch.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Starts a run: 204, or 200 with the run's details when `return_run_details` is true.
    Accept,
    /// 204 whatever was asked (a GitHub Enterprise Server without run details).
    AcceptWithoutDetails,
    /// 422 with this `message`.
    Unprocessable(&'static str),
    /// 500.
    ServerError,
    /// 429 with `Retry-After: secs`.
    TooManyRequests {
        /// `Retry-After`, seconds.
        retry_after_secs: u64,
    },
    /// 403 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset` this far ahead.
    RateLimitExhausted {
        /// Seconds until the reset.
        reset_in_secs: i64,
    },
}

/// One workflow run.
#[derive(Debug, Clone)]
pub struct Run {
    /// GitHub's run id.
    pub id: u64,
    /// Repository owner.
    pub owner: String,
    /// Repository name.
    pub repo: String,
    /// Workflow file.
    pub workflow: String,
    /// The branch or tag dispatched.
    pub git_ref: String,
    /// The run's title (`run-name`).
    pub display_title: String,
    /// `queued`, `in_progress`, `completed`…
    pub status: String,
    /// Set when completed.
    pub conclusion: Option<String>,
    /// `run_number`.
    pub run_number: u64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The inputs dispatched.
    pub inputs: BTreeMap<String, String>,
}

impl Run {
    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "name": "Scaffold",
            "display_title": self.display_title,
            "run_number": self.run_number,
            "run_attempt": 1,
            "event": "workflow_dispatch",
            "status": self.status,
            "conclusion": self.conclusion,
            "workflow_id": 161_335,
            "head_branch": self.git_ref,
            "path": format!(".github/workflows/{}", self.workflow),
            "url": format!("https://api.github.com/repos/{}/{}/actions/runs/{}", self.owner, self.repo, self.id),
            "html_url": self.html_url(),
            "created_at": self.created_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            "updated_at": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        })
    }

    /// The run's page.
    pub fn html_url(&self) -> String {
        format!(
            "https://github.com/{}/{}/actions/runs/{}",
            self.owner, self.repo, self.id
        )
    }
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Call {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The path, without `/api/v3`.
    pub path: String,
    /// The decoded query.
    pub query: Vec<(String, String)>,
    /// The status answered.
    pub status: u16,
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Answer>,
    runs: Vec<Run>,
    dispatch_bodies: Vec<Value>,
    calls: Vec<Call>,
    problems: Vec<String>,
}

type Shared = Arc<Mutex<Inner>>;

/// The running fake.
pub struct FakeGithub {
    /// `http://127.0.0.1:<port>`: what `GITHUB_API_URL` would hold for github.com.
    pub url: String,
    inner: Shared,
    _server: Server,
}

impl FakeGithub {
    /// Starts the fake; every dispatch is accepted until [`Self::script`] says otherwise.
    pub async fn start() -> Self {
        let inner: Shared = Arc::default();
        let routes = || {
            Router::new()
                .route(
                    "/repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches",
                    post(dispatch),
                )
                .route(
                    "/repos/{owner}/{repo}/actions/workflows/{workflow}/runs",
                    get(list_runs),
                )
                .route("/repos/{owner}/{repo}/actions/runs/{id}", get(one_run))
        };
        let app = routes().nest("/api/v3", routes()).with_state(inner.clone());
        let server = Server::start(app, "GitHub fake").await;
        Self {
            url: server.url.clone(),
            inner,
            _server: server,
        }
    }

    /// The base a GitHub Enterprise Server would have: `{url}/api/v3`.
    pub fn ghes_url(&self) -> String {
        format!("{}/api/v3", self.url)
    }

    /// Queues answers for the next dispatches (then [`Answer::Accept`] again).
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        lock(&self.inner).script.extend(answers);
    }

    /// Every run created.
    pub fn runs(&self) -> Vec<Run> {
        lock(&self.inner).runs.clone()
    }

    /// Every dispatch body received, valid or not.
    pub fn dispatch_bodies(&self) -> Vec<Value> {
        lock(&self.inner).dispatch_bodies.clone()
    }

    /// Every request.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.inner).calls.clone()
    }

    /// Everything malformed the fake saw.
    pub fn problems(&self) -> Vec<String> {
        lock(&self.inner).problems.clone()
    }

    /// Moves run `id` to `status` (and `conclusion`).
    pub fn advance(&self, id: u64, status: &str, conclusion: Option<&str>) {
        let mut inner = lock(&self.inner);
        let run = inner
            .runs
            .iter_mut()
            .find(|r| r.id == id)
            .expect("a run the fake created");
        run.status = status.to_owned();
        run.conclusion = conclusion.map(str::to_owned);
    }

    /// The `workflow_run` webhook payload GitHub would send for run `id` with `action`
    /// (`requested`, `in_progress`, `completed`).
    pub fn workflow_run_payload(&self, id: u64, action: &str) -> Value {
        let inner = lock(&self.inner);
        let run = inner
            .runs
            .iter()
            .find(|r| r.id == id)
            .expect("a run the fake created");
        json!({
            "action": action,
            "workflow_run": run.json(),
            "workflow": {"id": 161_335, "name": "Scaffold", "path": format!(".github/workflows/{}", run.workflow)},
            "repository": {"full_name": format!("{}/{}", run.owner, run.repo)},
            "sender": {"login": "idp-app[bot]", "type": "Bot"},
        })
    }
}

/// Posts a GitHub webhook delivery to `url` as GitHub does: `X-GitHub-Event`,
/// `X-GitHub-Delivery`, `X-Hub-Signature-256` over the raw body with `secret`. Returns the status.
pub async fn send_webhook(url: &str, event: &str, payload: &Value, secret: &str) -> u16 {
    let body = serde_json::to_vec(payload).expect("JSON");
    let signature = format!("sha256={}", hmac_hex(secret, &[&body]));
    reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/json")
        .header("User-Agent", "GitHub-Hookshot/fake")
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
        .header("X-Hub-Signature-256", signature)
        .body(body)
        .send()
        .await
        .expect("deliver the webhook")
        .status()
        .as_u16()
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"message": message, "documentation_url": DOCS, "status": status.as_u16().to_string()})),
    )
        .into_response()
}

fn record(
    inner: &Shared,
    method: &'static str,
    path: String,
    query: Vec<(String, String)>,
    status: StatusCode,
) {
    lock(inner).calls.push(Call {
        method,
        path,
        query,
        status: status.as_u16(),
    });
}

/// Checks the headers every request must carry; false when the token is not the fake's.
fn authorized(inner: &Shared, path: &str, headers: &HeaderMap) -> bool {
    let mut state = lock(inner);
    let expect = [
        (header::ACCEPT.as_str(), "application/vnd.github+json"),
        ("x-github-api-version", "2022-11-28"),
    ];
    for (name, want) in expect {
        let got = header(headers, name);
        if got != Some(want) {
            state
                .problems
                .push(format!("{path}: {name} is {got:?}, not {want}"));
        }
    }
    if !header(headers, "user-agent").is_some_and(|ua| ua.starts_with("idp/")) {
        state.problems.push(format!("{path}: no idp User-Agent"));
    }
    header(headers, "authorization") == Some(&format!("Bearer {TOKEN}"))
}

async fn dispatch(
    State(inner): State<Shared>,
    Path((owner, repo, workflow)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let path = format!("/repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches");
    let answer = |status: StatusCode, response: Response| {
        record(&inner, "POST", path.clone(), Vec::new(), status);
        response
    };
    if !authorized(&inner, &path, &headers) {
        return answer(
            StatusCode::UNAUTHORIZED,
            error(StatusCode::UNAUTHORIZED, "Bad credentials"),
        );
    }
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            lock(&inner)
                .problems
                .push(format!("{path}: body is not JSON: {e}"));
            return answer(
                StatusCode::BAD_REQUEST,
                error(StatusCode::BAD_REQUEST, "Problems parsing JSON"),
            );
        }
    };
    lock(&inner).dispatch_bodies.push(body.clone());
    let mut problems = Vec::new();
    if let Some(fields) = body.as_object() {
        for key in fields.keys() {
            if !["ref", "inputs", "return_run_details"].contains(&key.as_str()) {
                problems.push(format!("{path}: unknown body key `{key}`"));
            }
        }
    }
    let git_ref = body.get("ref").and_then(Value::as_str).map(str::to_owned);
    let empty = serde_json::Map::new();
    let inputs = body
        .get("inputs")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut texts = BTreeMap::new();
    for (k, v) in inputs {
        match v.as_str() {
            Some(s) => {
                texts.insert(k.clone(), s.to_owned());
            }
            None => problems.push(format!("{path}: input `{k}` is {v}, not a string")),
        }
    }
    if inputs.len() > 25 {
        problems.push(format!("{path}: {} inputs, more than 25", inputs.len()));
    }
    if !texts.contains_key("idp_run_id") {
        problems.push(format!("{path}: no idp_run_id input"));
    }
    let Some(git_ref) = git_ref else {
        lock(&inner).problems.push(format!("{path}: no ref"));
        return answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid request.\n\n\"ref\" wasn't supplied.",
            ),
        );
    };
    if !problems.is_empty() {
        lock(&inner).problems.extend(problems);
        return answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            error(StatusCode::UNPROCESSABLE_ENTITY, "Invalid request."),
        );
    }
    let scripted = lock(&inner).script.pop_front().unwrap_or(Answer::Accept);
    let details = match scripted {
        Answer::Accept => body.get("return_run_details") == Some(&Value::Bool(true)),
        Answer::AcceptWithoutDetails => false,
        Answer::Unprocessable(message) => {
            return answer(
                StatusCode::UNPROCESSABLE_ENTITY,
                error(StatusCode::UNPROCESSABLE_ENTITY, message),
            );
        }
        Answer::ServerError => {
            return answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error"),
            );
        }
        Answer::TooManyRequests { retry_after_secs } => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                retry_after_secs.to_string().parse().expect("header"),
            );
            return answer(StatusCode::TOO_MANY_REQUESTS, response);
        }
        Answer::RateLimitExhausted { reset_in_secs } => {
            let mut response = error(
                StatusCode::FORBIDDEN,
                "API rate limit exceeded for installation ID 1.",
            );
            let reset = Utc::now().timestamp() + reset_in_secs;
            let h = response.headers_mut();
            h.insert("x-ratelimit-limit", "5000".parse().expect("header"));
            h.insert("x-ratelimit-remaining", "0".parse().expect("header"));
            h.insert(
                "x-ratelimit-reset",
                reset.to_string().parse().expect("header"),
            );
            return answer(StatusCode::FORBIDDEN, response);
        }
    };
    let run = {
        let mut state = lock(&inner);
        let number = state.runs.len() as u64 + 1;
        let name = texts
            .get("name")
            .cloned()
            .unwrap_or_else(|| "service".to_owned());
        let run = Run {
            id: 30_433_641 + number,
            owner,
            repo,
            workflow,
            git_ref,
            display_title: format!("Scaffold {name} (idp {})", texts["idp_run_id"]),
            status: "queued".to_owned(),
            conclusion: None,
            run_number: number,
            created_at: Utc::now(),
            inputs: texts,
        };
        state.runs.push(run.clone());
        run
    };
    if details {
        answer(
            StatusCode::OK,
            Json(json!({
                "workflow_run_id": run.id,
                "run_url": format!("https://api.github.com/repos/{}/{}/actions/runs/{}", run.owner, run.repo, run.id),
                "html_url": run.html_url(),
            }))
            .into_response(),
        )
    } else {
        answer(
            StatusCode::NO_CONTENT,
            StatusCode::NO_CONTENT.into_response(),
        )
    }
}

/// Parameters of "List workflow runs for a workflow".
const LIST_PARAMS: &[&str] = &[
    "actor",
    "branch",
    "event",
    "status",
    "per_page",
    "page",
    "created",
    "exclude_pull_requests",
    "check_suite_id",
    "head_sha",
];

async fn list_runs(
    State(inner): State<Shared>,
    Path((owner, repo, workflow)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let path = format!("/repos/{owner}/{repo}/actions/workflows/{workflow}/runs");
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or_default()).unwrap_or_default();
    if !authorized(&inner, &path, &headers) {
        record(&inner, "GET", path, query, StatusCode::UNAUTHORIZED);
        return error(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    let value = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let mut problems = Vec::new();
    for (k, _) in &query {
        if !LIST_PARAMS.contains(&k.as_str()) {
            problems.push(format!("{path}: unknown parameter `{k}`"));
        }
    }
    if value("event") != Some("workflow_dispatch") {
        problems.push(format!("{path}: event is {:?}", value("event")));
    }
    let since = value("created")
        .and_then(|c| c.strip_prefix(">="))
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    if since.is_none() {
        problems.push(format!(
            "{path}: created {:?} is not >=<date-time>",
            value("created")
        ));
    }
    let per_page = value("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(30);
    if per_page > 100 {
        problems.push(format!("{path}: per_page {per_page} over 100"));
    }
    if !problems.is_empty() {
        lock(&inner).problems.extend(problems);
        record(&inner, "GET", path, query, StatusCode::UNPROCESSABLE_ENTITY);
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed");
    }
    let runs: Vec<Value> = {
        let state = lock(&inner);
        let mut runs: Vec<&Run> = state
            .runs
            .iter()
            .filter(|r| r.owner == owner && r.repo == repo && r.workflow == workflow)
            .filter(|r| since.is_none_or(|s| r.created_at >= s))
            .collect();
        runs.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        runs.iter().take(per_page).map(|r| r.json()).collect()
    };
    record(&inner, "GET", path, query, StatusCode::OK);
    Json(json!({"total_count": runs.len(), "workflow_runs": runs})).into_response()
}

async fn one_run(
    State(inner): State<Shared>,
    Path((owner, repo, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/repos/{owner}/{repo}/actions/runs/{id}");
    if !authorized(&inner, &path, &headers) {
        record(&inner, "GET", path, Vec::new(), StatusCode::UNAUTHORIZED);
        return error(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    let found = lock(&inner)
        .runs
        .iter()
        .find(|r| r.id.to_string() == id && r.owner == owner && r.repo == repo)
        .map(Run::json);
    match found {
        Some(run) => {
            record(&inner, "GET", path, Vec::new(), StatusCode::OK);
            Json(run).into_response()
        }
        None => {
            record(&inner, "GET", path, Vec::new(), StatusCode::NOT_FOUND);
            error(StatusCode::NOT_FOUND, "Not Found")
        }
    }
}
