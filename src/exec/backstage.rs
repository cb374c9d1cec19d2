//! The Backstage scaffolder's tasks API (`@backstage/plugin-scaffolder-backend`, routes under
//! `{BACKSTAGE_URL}/api/scaffolder`), for organisations that keep their steps in Backstage.
//!
//! - **Dispatch**: `POST /api/scaffolder/v2/tasks` with `{"templateRef", "values"}` → 201
//!   `{"id"}`. `values` are the template's values plus `idp_run_id`, `controls` (list) and
//!   `labels` (object), which Backstage's parameter validation lets through unless a step's schema
//!   forbids additional properties. A 400 `{"errors": [{"message"}…]}` (values the template's
//!   schema refuses) is a rejection showing those messages. The task's page is
//!   `{BACKSTAGE_URL}/create/tasks/{id}`.
//! - **Poll**: `GET /api/scaffolder/v2/tasks/{id}` → `{"id", "status", "spec", "createdAt", …}`
//!   with `status` one of `open`, `processing` (running), `completed`, `failed`, `cancelled`. The
//!   task itself carries no result: once it has ended, `GET /api/scaffolder/v2/tasks/{id}/events`
//!   returns its events, the last of type `completion` holding `{"message", "output"}` on success
//!   (the template's `output`: `links: [{title, url, entityRef}]`, and whatever else the template
//!   puts there) or `{"message", "error": {"name", "message"}}` on failure.
//!
//! On success idp keeps the task's page as the link, and as the new entity's location the
//! output's `catalogInfoUrl` (what `catalog:register` is usually given), else the first output
//! link to a `catalog-info.yaml`.

use std::time::Duration;

use reqwest::header::AUTHORIZATION;
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{self, Backend};
use super::{BackstageConfig, DispatchRequest, Dispatched, ExecError, Progress};

/// This backend, for messages.
const BACKEND: Backend = Backend {
    kind: "backstage",
    credentials: "BACKSTAGE_TOKEN",
};

/// The Backstage scaffolder client. The token only ever goes in the `Authorization` header.
#[derive(Clone)]
pub(crate) struct Backstage {
    http: reqwest::Client,
    config: BackstageConfig,
    timeout: Duration,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
struct Task {
    status: String,
}

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    body: Value,
}

impl Backstage {
    pub(crate) fn new(http: reqwest::Client, config: BackstageConfig, timeout: Duration) -> Self {
        Self {
            http,
            config,
            timeout,
        }
    }

    /// `{BACKSTAGE_URL}/…segments`, each segment percent-encoded.
    fn url(&self, segments: &[&str]) -> Result<reqwest::Url, ExecError> {
        http::endpoint(&self.config.url, "BACKSTAGE_URL", segments)
    }

    /// `{BACKSTAGE_URL}/create/tasks/{id}`: the task's page in Backstage.
    fn task_page(&self, id: &str) -> Option<String> {
        self.url(&["create", "tasks", id]).ok().map(String::from)
    }

    fn request(
        &self,
        builder: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, ExecError> {
        Ok(match &self.config.token {
            Some(token) => builder.header(AUTHORIZATION, http::bearer(token, "BACKSTAGE_TOKEN")?),
            None => builder,
        })
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &[&str]) -> Result<T, ExecError> {
        let mut segments = vec!["api", "scaffolder", "v2"];
        segments.extend_from_slice(path);
        let url = self.url(&segments)?;
        let request = self.request(self.http.get(url))?;
        let response = http::send(BACKEND, self.timeout, request).await?;
        http::json(BACKEND, self.timeout, response).await
    }

    /// Creates a task running `template_ref` with the request's values.
    ///
    /// # Errors
    /// [`ExecError`] as mapped by [`super::http`]; [`ExecError::BadResponse`] without an `id`.
    pub(crate) async fn dispatch(
        &self,
        template_ref: &str,
        req: &DispatchRequest,
    ) -> Result<Dispatched, ExecError> {
        let mut values = serde_json::Map::new();
        values.extend(req.inputs.iter().map(|(k, v)| (k.clone(), v.clone())));
        values.insert("idp_run_id".to_owned(), json!(req.run_id));
        values.insert("controls".to_owned(), json!(req.controls));
        values.insert("labels".to_owned(), json!(req.labels));
        let url = self.url(&["api", "scaffolder", "v2", "tasks"])?;
        let request = self
            .request(self.http.post(url))?
            .json(&json!({"templateRef": template_ref, "values": values}));
        let response = http::send(BACKEND, self.timeout, request).await?;
        let created: Created = http::json(BACKEND, self.timeout, response).await?;
        Ok(Dispatched {
            url: self.task_page(&created.id),
            external_id: Some(created.id),
            notes: Vec::new(),
        })
    }

    /// Where the task stands; [`Progress::Pending`] without a task id (the dispatch's answer was
    /// lost).
    ///
    /// # Errors
    /// [`ExecError`] as mapped by [`super::http`].
    pub(crate) async fn poll(&self, external_id: Option<&str>) -> Result<Progress, ExecError> {
        let Some(id) = external_id else {
            return Ok(Progress::Pending);
        };
        let task: Task = self.get(&["tasks", id]).await?;
        let url = self.task_page(id);
        match task.status.as_str() {
            "open" | "processing" => Ok(Progress::Running {
                external_id: Some(id.to_owned()),
                url,
                step: None,
            }),
            "completed" => {
                let completion = self.completion(id).await?;
                let output = completion.as_ref().and_then(|b| b.get("output"));
                Ok(Progress::Succeeded {
                    url,
                    descriptor: None,
                    location: output.and_then(location),
                })
            }
            "failed" => {
                let completion = self.completion(id).await?;
                let message = completion
                    .as_ref()
                    .and_then(|b| b.pointer("/error/message"))
                    .and_then(Value::as_str)
                    .map(|m| http::excerpt(m.as_bytes()))
                    .unwrap_or_else(|| "the Backstage task failed".to_owned());
                Ok(Progress::Failed { message, url })
            }
            "cancelled" => Ok(Progress::Failed {
                message: "the Backstage task was cancelled".to_owned(),
                url,
            }),
            other => Err(ExecError::BadResponse {
                backend: BACKEND.kind,
                detail: format!("unknown task status `{}`", http::excerpt(other.as_bytes())),
            }),
        }
    }

    /// The body of the task's last `completion` event, if it has one.
    async fn completion(&self, id: &str) -> Result<Option<Value>, ExecError> {
        let events: Vec<Event> = self.get(&["tasks", id, "events"]).await?;
        Ok(events
            .into_iter()
            .rev()
            .find(|e| e.kind == "completion")
            .map(|e| e.body))
    }
}

/// The new entity's `catalog-info.yaml` URL in a task's output.
fn location(output: &Value) -> Option<String> {
    let is_http = |s: &&str| s.starts_with("https://") || s.starts_with("http://");
    if let Some(url) = output
        .get("catalogInfoUrl")
        .and_then(Value::as_str)
        .filter(is_http)
    {
        return Some(url.to_owned());
    }
    output
        .get("links")?
        .as_array()?
        .iter()
        .filter_map(|l| l.get("url").and_then(Value::as_str))
        .filter(is_http)
        .find(|u| {
            let path = u.split(['?', '#']).next().unwrap_or_default();
            path.ends_with("/catalog-info.yaml") || path.ends_with("/catalog-info.yml")
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_location_is_the_catalog_info_url_or_a_link_to_one() {
        assert_eq!(
            location(&json!({"catalogInfoUrl": "https://git.example.com/a/catalog-info.yaml"})),
            Some("https://git.example.com/a/catalog-info.yaml".to_owned())
        );
        assert_eq!(
            location(&json!({"links": [
                {"title": "Repository", "url": "https://git.example.com/a"},
                {"title": "Descriptor", "url": "https://git.example.com/a/blob/main/catalog-info.yaml"},
                {"title": "Open in catalog", "entityRef": "component:default/a"}
            ]})),
            Some("https://git.example.com/a/blob/main/catalog-info.yaml".to_owned())
        );
        assert_eq!(location(&json!({"links": "nope"})), None);
    }
}
