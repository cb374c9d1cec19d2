//! A fake Backstage scaffolder backend on 127.0.0.1: `POST /api/scaffolder/v2/tasks`,
//! `GET /api/scaffolder/v2/tasks/{id}` and `GET /api/scaffolder/v2/tasks/{id}/events`, in the
//! shapes `@backstage/plugin-scaffolder-backend` answers (201 `{"id"}`; a task with `status`
//! `open` | `processing` | `completed` | `failed` | `cancelled` and no result; events of type
//! `log` and a last `completion` whose body holds `output` or `error`; errors as
//! `{"error": {"name", "message"}, "request", "response"}`, and 400 `{"errors": [...]}` for values
//! the template's schema refuses). It checks the bearer token and the body, and records requests.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{Server, header, lock};

/// The token the fake accepts (a static external-access token).
pub const TOKEN: &str = "bs-external-access-token-41";

/// A template the fake knows, and the values its parameters require.
#[derive(Debug, Clone)]
pub struct Template {
    /// Its entity ref, `template:default/backend-service`.
    pub entity_ref: &'static str,
    /// Required value names.
    pub required: &'static [&'static str],
}

/// One task.
#[derive(Debug, Clone)]
pub struct Task {
    /// Its id (a UUID).
    pub id: String,
    /// `templateRef` as received.
    pub template_ref: String,
    /// `values` as received.
    pub values: Value,
    /// Its status.
    pub status: String,
    /// Its events.
    pub events: Vec<Value>,
}

#[derive(Default)]
struct Inner {
    templates: Vec<Template>,
    tasks: Vec<Task>,
    requests: Vec<String>,
    problems: Vec<String>,
}

type Shared = Arc<Mutex<Inner>>;

/// The running fake.
pub struct FakeBackstage {
    /// `http://127.0.0.1:<port>`: what `BACKSTAGE_URL` would hold.
    pub url: String,
    inner: Shared,
    _server: Server,
}

impl FakeBackstage {
    /// Starts the fake knowing these templates.
    pub async fn start(templates: Vec<Template>) -> Self {
        let inner: Shared = Arc::new(Mutex::new(Inner {
            templates,
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/api/scaffolder/v2/tasks", post(create))
            .route("/api/scaffolder/v2/tasks/{id}", get(task))
            .route("/api/scaffolder/v2/tasks/{id}/events", get(events))
            .with_state(inner.clone());
        let server = Server::start(app, "Backstage fake").await;
        Self {
            url: server.url.clone(),
            inner,
            _server: server,
        }
    }

    /// Every task created.
    pub fn tasks(&self) -> Vec<Task> {
        lock(&self.inner).tasks.clone()
    }

    /// `METHOD path` of every request.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.inner).requests.clone()
    }

    /// Everything malformed the fake saw.
    pub fn problems(&self) -> Vec<String> {
        lock(&self.inner).problems.clone()
    }

    fn update(&self, id: &str, status: &str, event: Option<(&str, Value)>) {
        let mut inner = lock(&self.inner);
        let task = inner
            .tasks
            .iter_mut()
            .find(|t| t.id == id)
            .expect("a task the fake created");
        task.status = status.to_owned();
        if let Some((kind, body)) = event {
            let event = json!({
                "id": task.events.len() + 1,
                "taskId": id,
                "type": kind,
                "body": body,
                "createdAt": now(),
            });
            task.events.push(event);
        }
    }

    /// The worker claims the task and runs its first step.
    pub fn start_processing(&self, id: &str) {
        self.update(
            id,
            "processing",
            Some((
                "log",
                json!({"message": "Beginning step Fetch Base", "stepId": "fetch-base", "status": "processing"}),
            )),
        );
    }

    /// The task completes with the template's `output`.
    pub fn complete(&self, id: &str, output: Value) {
        self.update(
            id,
            "completed",
            Some((
                "completion",
                json!({"message": "Run completed with status: completed", "output": output}),
            )),
        );
    }

    /// The task fails in a step with `message`.
    pub fn fail(&self, id: &str, message: &str) {
        self.update(
            id,
            "failed",
            Some((
                "log",
                json!({"message": message, "stepId": "publish", "status": "failed"}),
            )),
        );
        self.update(
            id,
            "failed",
            Some((
                "completion",
                json!({"message": "Run completed with status: failed", "error": {"name": "Error", "message": message}}),
            )),
        );
    }

    /// Someone cancels the task in Backstage.
    pub fn cancel(&self, id: &str) {
        self.update(
            id,
            "cancelled",
            Some((
                "cancelled",
                json!({"message": "Run completed with status: cancelled"}),
            )),
        );
    }
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Backstage's error body (`@backstage/errors`' `serializeError` through the error handler).
fn error(status: StatusCode, name: &str, message: &str, method: &str, url: &str) -> Response {
    (
        status,
        Json(json!({
            "error": {"name": name, "message": message},
            "request": {"method": method, "url": url},
            "response": {"statusCode": status.as_u16()},
        })),
    )
        .into_response()
}

/// Records the request; false (answer 401) when the bearer token is not the fake's.
fn authorized(inner: &Shared, request: &str, headers: &HeaderMap) -> bool {
    let mut state = lock(inner);
    state.requests.push(request.to_owned());
    let ok = header(headers, "authorization") == Some(&format!("Bearer {TOKEN}"));
    if !ok {
        state
            .problems
            .push(format!("{request}: no valid bearer token"));
    }
    ok
}

async fn create(
    State(inner): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let url = "/api/scaffolder/v2/tasks";
    if !authorized(&inner, &format!("POST {url}"), &headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            "AuthenticationError",
            "Missing credentials",
            "POST",
            url,
        );
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let template_ref = body.get("templateRef").and_then(Value::as_str);
    let values = body.get("values").filter(|v| v.is_object());
    let (Some(template_ref), Some(values)) = (template_ref, values) else {
        lock(&inner)
            .problems
            .push(format!("POST {url}: body is {body}"));
        return error(
            StatusCode::BAD_REQUEST,
            "InputError",
            "Malformed request",
            "POST",
            url,
        );
    };
    let mut state = lock(&inner);
    let Some(template) = state
        .templates
        .iter()
        .find(|t| t.entity_ref == template_ref)
        .cloned()
    else {
        drop(state);
        return error(
            StatusCode::NOT_FOUND,
            "NotFoundError",
            &format!("No entity named '{template_ref}' found"),
            "POST",
            url,
        );
    };
    let missing: Vec<Value> = template
        .required
        .iter()
        .filter(|name| values.get(**name).is_none())
        .map(|name| {
            json!({
                "property": "instance",
                "message": format!("requires property \"{name}\""),
                "name": "required",
                "argument": name,
                "stack": format!("instance requires property \"{name}\""),
            })
        })
        .collect();
    if !missing.is_empty() {
        return (StatusCode::BAD_REQUEST, Json(json!({"errors": missing}))).into_response();
    }
    let n = state.tasks.len() + 1;
    let id = format!("{n:08x}-5e1f-4c2a-9d3b-{:012x}", n * 7919);
    state.tasks.push(Task {
        id: id.clone(),
        template_ref: template_ref.to_owned(),
        values: values.clone(),
        status: "open".to_owned(),
        events: Vec::new(),
    });
    (StatusCode::CREATED, Json(json!({"id": id}))).into_response()
}

/// The task `id` for a `GET` of `url`, or the error response (401 without the token, 404 for an
/// unknown task).
fn get_task(
    inner: &Shared,
    id: &str,
    url: &str,
    headers: &HeaderMap,
) -> Result<Task, Box<Response>> {
    if !authorized(inner, &format!("GET {url}"), headers) {
        return Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "AuthenticationError",
            "Missing credentials",
            "GET",
            url,
        )));
    }
    let found = lock(inner).tasks.iter().find(|t| t.id == id).cloned();
    found.ok_or_else(|| {
        Box::new(error(
            StatusCode::NOT_FOUND,
            "NotFoundError",
            &format!("Task with id {id} does not exist"),
            "GET",
            url,
        ))
    })
}

async fn task(State(inner): State<Shared>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let task = match get_task(
        &inner,
        &id,
        &format!("/api/scaffolder/v2/tasks/{id}"),
        &headers,
    ) {
        Ok(task) => task,
        Err(response) => return *response,
    };
    Json(json!({
        "id": task.id,
        "spec": {
            "apiVersion": "scaffolder.backstage.io/v1beta3",
            "steps": [{"id": "fetch-base", "name": "Fetch Base", "action": "fetch:template"}],
            "output": {},
            "parameters": task.values,
            "templateInfo": {"entityRef": task.template_ref},
        },
        "status": task.status,
        "createdAt": now(),
        "lastHeartbeatAt": now(),
        "createdBy": "user:default/idp",
    }))
    .into_response()
}

async fn events(
    State(inner): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let url = format!("/api/scaffolder/v2/tasks/{id}/events");
    match get_task(&inner, &id, &url, &headers) {
        Ok(task) => Json(Value::Array(task.events)).into_response(),
        Err(response) => *response,
    }
}
