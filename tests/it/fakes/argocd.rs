//! A fake Argo CD API server on 127.0.0.1: `GET` and `PATCH /api/v1/applications/{name}` and
//! `POST /api/v1/applications/{name}/rollback`, in the shapes Argo CD answers (an `Application`
//! with `spec.syncPolicy`, `status.history[]` `{id, revision, deployedAt, source}` and
//! `status.operationState` `{phase, message, startedAt, finishedAt}`; errors as a gRPC status
//! `{"error", "code", "message"}`). It checks the bearer token and each body, refuses a rollback
//! while auto-sync is on as Argo CD does, records every call, answers scripted failures first, and
//! lets the test move the operation along with [`FakeArgoCd::advance`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{Server, header, lock};

/// The token the fake accepts.
pub const TOKEN: &str = "argocd-api-token-7c1d";

/// A scripted answer to the next authenticated call: this status, content type and body.
#[derive(Debug, Clone)]
pub struct Answer(pub u16, pub &'static str, pub &'static str);

/// One call received.
#[derive(Debug, Clone)]
pub struct Call {
    /// `GET`, `PATCH`, `POST`.
    pub method: String,
    /// The path.
    pub path: String,
    /// The JSON body (`null` when none).
    pub body: Value,
    /// The status answered.
    pub status: u16,
}

struct App {
    autosync: bool,
    history: Vec<Value>,
    operation_state: Option<Value>,
}

#[derive(Default)]
struct Inner {
    apps: BTreeMap<String, App>,
    script: VecDeque<Answer>,
    calls: Vec<Call>,
    problems: Vec<String>,
}

type Shared = Arc<Mutex<Inner>>;

/// The running fake.
pub struct FakeArgoCd {
    /// `http://127.0.0.1:<port>`: what `ARGOCD_URL` would hold.
    pub url: String,
    inner: Shared,
    _server: Server,
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl FakeArgoCd {
    /// Starts the fake with no applications.
    pub async fn start() -> Self {
        let inner: Shared = Arc::default();
        let app = Router::new()
            .route("/api/v1/applications/{name}", get(api).patch(api))
            .route("/api/v1/applications/{name}/rollback", post(api))
            .with_state(inner.clone());
        let server = Server::start(app, "Argo CD fake").await;
        Self {
            url: server.url.clone(),
            inner,
            _server: server,
        }
    }

    /// Adds an application with auto-sync on or off and a deploy history of `(id, revision)`,
    /// oldest first, its last sync `Succeeded` an hour ago.
    pub fn add_app(&self, name: &str, autosync: bool, history: &[(i64, &str)]) {
        let history = history
            .iter()
            .map(|(id, revision)| {
                json!({
                    "id": id,
                    "revision": revision,
                    "deployedAt": now(),
                    "deployStartedAt": now(),
                    "source": {"repoURL": "https://github.com/acme/deploy.git", "path": name, "targetRevision": "HEAD"},
                })
            })
            .collect();
        let hour_ago =
            (Utc::now() - chrono::Duration::hours(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
        let state = json!({
            "phase": "Succeeded",
            "message": "successfully synced (all tasks run)",
            "startedAt": hour_ago,
            "finishedAt": hour_ago,
            "operation": {"sync": {"revision": "old"}},
        });
        lock(&self.inner).apps.insert(
            name.to_owned(),
            App {
                autosync,
                history,
                operation_state: Some(state),
            },
        );
    }

    /// Queues answers for the next authenticated calls.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        lock(&self.inner).script.extend(answers);
    }

    /// Moves `name`'s current operation to `phase` with `message`.
    pub fn advance(&self, name: &str, phase: &str, message: &str) {
        let mut inner = lock(&self.inner);
        let state = inner
            .apps
            .get_mut(name)
            .and_then(|a| a.operation_state.as_mut())
            .expect("an operation");
        state["phase"] = json!(phase);
        state["message"] = json!(message);
        if !matches!(phase, "Running" | "Terminating") {
            state["finishedAt"] = json!(now());
        }
    }

    /// Whether auto-sync is on for `name`.
    pub fn autosync(&self, name: &str) -> bool {
        lock(&self.inner).apps.get(name).is_some_and(|a| a.autosync)
    }

    /// Every call received.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.inner).calls.clone()
    }

    /// Everything malformed the fake saw.
    pub fn problems(&self) -> Vec<String> {
        lock(&self.inner).problems.clone()
    }
}

/// A gRPC-status error body, as Argo CD's API server writes one.
fn grpc_error(status: StatusCode, code: u16, message: &str) -> Response {
    (
        status,
        Json(json!({"error": message, "code": code, "message": message})),
    )
        .into_response()
}

fn to_json(name: &str, app: &App) -> Value {
    let sync_policy = if app.autosync {
        json!({"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]})
    } else {
        json!({"syncOptions": ["CreateNamespace=true"]})
    };
    json!({
        "metadata": {"name": name, "namespace": "argocd", "resourceVersion": "4242"},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://github.com/acme/deploy.git", "path": name, "targetRevision": "HEAD"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
            "syncPolicy": sync_policy,
        },
        "status": {
            "sync": {"status": "Synced"},
            "health": {"status": "Healthy"},
            "history": app.history,
            "operationState": app.operation_state,
        },
    })
}

/// Reads the body and records the call; the body to go on with, or the answer of the script or
/// the token check.
fn gate(
    inner: &mut Inner,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<Value, Box<Response>> {
    let body = parse_body(inner, bytes);
    let expected = format!("Bearer {TOKEN}");
    let answer = if header(headers, header::AUTHORIZATION.as_str()) != Some(expected.as_str()) {
        Some(grpc_error(
            StatusCode::UNAUTHORIZED,
            16,
            "invalid session: token signature is invalid",
        ))
    } else {
        inner.script.pop_front().map(|Answer(status, ct, text)| {
            (
                StatusCode::from_u16(status).expect("a status"),
                [(header::CONTENT_TYPE, ct)],
                text,
            )
                .into_response()
        })
    };
    inner.calls.push(Call {
        method: method.to_string(),
        path: uri.path().to_owned(),
        body: body.clone(),
        status: answer.as_ref().map_or(200, |r| r.status().as_u16()),
    });
    answer.map_or(Ok(body), |a| Err(Box::new(a)))
}

fn parse_body(inner: &mut Inner, bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes).unwrap_or_else(|_| {
        inner.problems.push("a body that is not JSON".to_owned());
        Value::Null
    })
}

fn not_found(name: &str) -> Response {
    grpc_error(
        StatusCode::NOT_FOUND,
        5,
        &format!("applications.argoproj.io \"{name}\" not found"),
    )
}

/// Every route: records the call, answers the script or the token check, then `GET` or `PATCH`
/// an application or `POST` its rollback.
async fn api(
    State(inner): State<Shared>,
    method: Method,
    uri: Uri,
    Path(name): Path<String>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Response {
    let mut inner = lock(&inner);
    let body = match gate(&mut inner, &method, &uri, &headers, &bytes) {
        Ok(body) => body,
        Err(answer) => return *answer,
    };
    if uri.path().ends_with("/rollback") {
        return rollback(&mut inner, &name, &body);
    }
    if method == Method::PATCH {
        patch(&mut inner, &name, &body);
    }
    match inner.apps.get(&name) {
        Some(app) => Json(to_json(&name, app)).into_response(),
        None => not_found(&name),
    }
}

/// Applies a `PATCH`, which must turn auto-sync off.
fn patch(inner: &mut Inner, name: &str, body: &Value) {
    let patch = body
        .get("patch")
        .and_then(Value::as_str)
        .and_then(|p| serde_json::from_str::<Value>(p).ok());
    if body.get("name").and_then(Value::as_str) != Some(name)
        || body.get("patchType").and_then(Value::as_str) != Some("merge")
    {
        inner.problems.push(format!(
            "a PATCH without the name or patchType merge: {body}"
        ));
    }
    let turns_off = patch.as_ref().is_some_and(|p| {
        p.pointer("/spec/syncPolicy/automated")
            .is_some_and(Value::is_null)
    });
    if !turns_off {
        inner
            .problems
            .push(format!("a PATCH that does not turn auto-sync off: {body}"));
    }
    if let Some(app) = inner.apps.get_mut(name)
        && turns_off
    {
        app.autosync = false;
    }
}

/// Starts a rollback as Argo CD does: refused while auto-sync is on or for an unknown history id.
fn rollback(inner: &mut Inner, name: &str, body: &Value) -> Response {
    let well_formed = body.get("name").and_then(Value::as_str) == Some(name)
        && body.get("id").is_some_and(Value::is_i64)
        && body.get("prune").is_some_and(Value::is_boolean)
        && body.get("dryRun").is_some_and(Value::is_boolean);
    if !well_formed {
        inner.problems.push(format!(
            "a rollback body not {{name, id, prune, dryRun}}: {body}"
        ));
    }
    let Some(app) = inner.apps.get_mut(name) else {
        return not_found(name);
    };
    if app.autosync {
        return grpc_error(
            StatusCode::BAD_REQUEST,
            9,
            "rollback cannot be initiated when auto-sync is enabled",
        );
    }
    let id = body.get("id").and_then(Value::as_i64).unwrap_or(-1);
    let Some(entry) = app.history.iter().find(|h| h["id"] == json!(id)) else {
        return grpc_error(
            StatusCode::BAD_REQUEST,
            3,
            &format!("application {name} does not have deployment with id {id}"),
        );
    };
    let revision = entry["revision"].clone();
    app.operation_state = Some(json!({
        "phase": "Running",
        "message": "",
        "startedAt": now(),
        "operation": {"sync": {"revision": revision}, "initiatedBy": {"username": "idp"}},
    }));
    Json(to_json(name, app)).into_response()
}
