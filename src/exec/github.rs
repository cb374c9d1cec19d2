//! GitHub Actions through the REST API (version `2022-11-28`), and its `workflow_run` webhooks.
//!
//! **Dispatch**: `POST {api}/repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches` with
//! `{"ref", "inputs", "return_run_details"}`
//! (<https://docs.github.com/en/rest/actions/workflows#create-a-workflow-dispatch-event>). GitHub
//! answers 200 `{"workflow_run_id", "run_url", "html_url"}` when run details are asked for and
//! supported, else 204 with nothing. Inputs are strings, at most [`MAX_INPUTS`] of them and
//! [`MAX_INPUTS_CHARS`] characters in all; [`workflow_inputs`] builds them and refuses a request
//! over either limit before calling.
//!
//! **Finding the run after a 204**: `GET …/actions/workflows/{workflow}/runs?event=workflow_dispatch
//! &created=>={dispatched − 2 min}&per_page=100`
//! (<https://docs.github.com/en/rest/actions/workflow-runs#list-workflow-runs-for-a-workflow>;
//! `created` takes GitHub's search syntax for dates), then the run whose `display_title` or `name`
//! mentions the idp run id. Once the run id is known: `GET …/actions/runs/{id}`.
//!
//! **The workflow's side of the contract** (also in `docs/webhook-backend.md`): it declares the
//! `workflow_dispatch` inputs `idp_run_id`, `controls` and `labels` besides the template's own, and
//! names its runs after the idp run id, so that both the runs list and `workflow_run` webhooks can
//! be matched to the idp run:
//!
//! ```yaml
//! run-name: "Scaffold ${{ inputs.name }} (idp ${{ inputs.idp_run_id }})"
//! on:
//!   workflow_dispatch:
//!     inputs:
//!       idp_run_id: { type: string, required: true }
//!       controls: { type: string, default: "[]" }   # JSON list, fromJSON() it
//!       labels: { type: string, default: "{}" }     # JSON object
//!       name: { type: string, required: true }
//! ```
//!
//! An idp run id is `run_` followed by letters, digits, `_` or `-` ([`find_run_id`]).
//!
//! **Status**: a run `completed` with conclusion `success` or `neutral` succeeded; completed with
//! any other conclusion (`failure`, `cancelled`, `timed_out`, `skipped`, `startup_failure`,
//! `action_required`, `stale`) failed, with a message naming it; any other status (`requested`,
//! `queued`, `pending`, `waiting`, `in_progress`) is running.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use regex::Regex;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{self, Backend};
use super::{DispatchRequest, Dispatched, ExecError, GithubConfig, Progress};

/// This backend, for messages.
const BACKEND: Backend = Backend {
    kind: "github-actions",
    credentials: "GITHUB_TOKEN",
};

/// The REST API version idp speaks.
pub const API_VERSION: &str = "2022-11-28";

/// The media type GitHub recommends in `Accept`.
pub const MEDIA_TYPE: &str = "application/vnd.github+json";

/// The most `workflow_dispatch` inputs GitHub accepts (raised from 10 to 25 in December 2025).
pub const MAX_INPUTS: usize = 25;

/// The most characters GitHub accepts in all inputs together (the JSON object's length).
pub const MAX_INPUTS_CHARS: usize = 65_535;

/// The input carrying idp's run id.
pub const RUN_ID_INPUT: &str = "idp_run_id";
/// The input carrying the required controls, a JSON list of strings.
pub const CONTROLS_INPUT: &str = "controls";
/// The input carrying the required labels, a JSON object of strings.
pub const LABELS_INPUT: &str = "labels";

/// How far before the dispatch the runs list is searched (clock skew between idp and GitHub).
pub const LOOKBACK_SECS: i64 = 120;

/// Where a workflow runs: the fields of [`super::Execution::GithubActions`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Workflow<'a> {
    pub owner: &'a str,
    pub repo: &'a str,
    pub workflow: &'a str,
    pub git_ref: &'a str,
}

/// A GitHub Actions client. The token is only ever put in the `Authorization` header.
#[derive(Clone)]
pub(crate) struct GithubActions {
    http: reqwest::Client,
    config: GithubConfig,
    timeout: Duration,
}

static RUN_ID: LazyLock<Regex> = LazyLock::new(|| {
    #[expect(
        clippy::unwrap_used,
        reason = "a literal pattern, checked by the tests"
    )]
    Regex::new(r"\brun_[0-9A-Za-z][0-9A-Za-z_-]*").unwrap()
});

/// The first idp run id (`run_…`) mentioned in a run's title, if any.
pub fn find_run_id(title: &str) -> Option<&str> {
    RUN_ID.find(title).map(|m| m.as_str())
}

/// Whether `title` mentions `run_id` as a whole word (`run_1` is not in `run_12`).
fn mentions(title: &str, run_id: &str) -> bool {
    RUN_ID.find_iter(title).any(|m| m.as_str() == run_id)
}

/// One input value as text: strings as they are, numbers and booleans written out, arrays joined
/// with commas (elements written the same way), objects as JSON; `None` for null (the workflow's
/// default applies).
fn input_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(input_text)
                .collect::<Vec<_>>()
                .join(","),
        ),
        Value::Object(_) => Some(value.to_string()),
    }
}

fn refused(message: String) -> ExecError {
    ExecError::Rejected {
        backend: BACKEND.kind,
        status: StatusCode::UNPROCESSABLE_ENTITY.as_u16(),
        message,
    }
}

/// The `inputs` of a dispatch: the template's values as strings, plus `idp_run_id`, `controls`
/// (JSON list) and `labels` (JSON object).
///
/// # Errors
/// [`ExecError::Rejected`] (status 422, as GitHub would answer) without calling GitHub: a template
/// value named like one of idp's three inputs, more than [`MAX_INPUTS`] inputs, or more than
/// [`MAX_INPUTS_CHARS`] characters.
pub fn workflow_inputs(req: &DispatchRequest) -> Result<BTreeMap<String, String>, ExecError> {
    let mut inputs: BTreeMap<String, String> = req
        .inputs
        .iter()
        .filter_map(|(name, value)| input_text(value).map(|text| (name.clone(), text)))
        .collect();
    for (name, text) in [
        (RUN_ID_INPUT, req.run_id.clone()),
        (CONTROLS_INPUT, json!(req.controls).to_string()),
        (LABELS_INPUT, json!(req.labels).to_string()),
    ] {
        if inputs.insert(name.to_owned(), text).is_some() {
            return Err(refused(format!(
                "the template has a parameter named `{name}`, which idp sends itself; rename the parameter (checked by idp before calling GitHub)"
            )));
        }
    }
    if inputs.len() > MAX_INPUTS {
        return Err(refused(format!(
            "{} workflow inputs ({} from the template, plus {RUN_ID_INPUT}, {CONTROLS_INPUT} and {LABELS_INPUT}); GitHub accepts at most {MAX_INPUTS} (checked by idp before calling GitHub)",
            inputs.len(),
            inputs.len() - 3
        )));
    }
    let chars = json!(inputs).to_string().chars().count();
    if chars > MAX_INPUTS_CHARS {
        return Err(refused(format!(
            "the workflow inputs are {chars} characters long; GitHub accepts at most {MAX_INPUTS_CHARS} (checked by idp before calling GitHub)"
        )));
    }
    Ok(inputs)
}

/// GitHub's 200 answer to a dispatch with `return_run_details`.
#[derive(Deserialize)]
struct RunDetails {
    workflow_run_id: u64,
    #[serde(default)]
    html_url: Option<String>,
}

/// The part of a workflow run idp reads.
#[derive(Debug, Deserialize)]
struct WireRun {
    id: u64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    display_title: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    conclusion: Option<String>,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    run_number: Option<u64>,
}

impl WireRun {
    fn mentions(&self, run_id: &str) -> bool {
        [&self.display_title, &self.name]
            .into_iter()
            .flatten()
            .any(|title| mentions(title, run_id))
    }

    fn progress(&self) -> Progress {
        let url = self.html_url.clone();
        if self.status.as_deref() != Some("completed") {
            return Progress::Running {
                external_id: Some(self.id.to_string()),
                url,
                step: None,
            };
        }
        let what = match self.conclusion.as_deref() {
            Some("success" | "neutral") => {
                return Progress::Succeeded {
                    url,
                    descriptor: None,
                    location: None,
                };
            }
            Some("failure") => "failed".to_owned(),
            Some("cancelled") => "was cancelled".to_owned(),
            Some("timed_out") => "timed out".to_owned(),
            Some("skipped") => "was skipped".to_owned(),
            Some("startup_failure") => {
                "could not start (startup failure: check the workflow file)".to_owned()
            }
            Some("action_required") => "needs an approval in GitHub".to_owned(),
            Some("stale") => "went stale".to_owned(),
            Some(other) => format!(
                "ended with conclusion `{}`",
                http::excerpt(other.as_bytes())
            ),
            None => "ended without a conclusion".to_owned(),
        };
        let run = match self.run_number {
            Some(n) => format!("workflow run #{n}"),
            None => "the workflow run".to_owned(),
        };
        Progress::Failed {
            message: format!("{run} {what}"),
            url,
        }
    }
}

#[derive(Deserialize)]
struct RunList {
    #[serde(default)]
    workflow_runs: Vec<WireRun>,
}

impl GithubActions {
    pub(crate) fn new(http: reqwest::Client, config: GithubConfig, timeout: Duration) -> Self {
        Self {
            http,
            config,
            timeout,
        }
    }

    /// `{api}/repos/{owner}/{repo}/actions/…segments`, each segment percent-encoded.
    fn url(&self, target: &Workflow<'_>, segments: &[&str]) -> Result<reqwest::Url, ExecError> {
        let mut all = vec!["repos", target.owner, target.repo, "actions"];
        all.extend_from_slice(segments);
        http::endpoint(&self.config.api_url, "GITHUB_API_URL", &all)
    }

    fn request(
        &self,
        method: reqwest::Method,
        url: reqwest::Url,
    ) -> Result<reqwest::RequestBuilder, ExecError> {
        Ok(self
            .http
            .request(method, url)
            .header(
                AUTHORIZATION,
                http::bearer(&self.config.token, "GITHUB_TOKEN")?,
            )
            .header(ACCEPT, MEDIA_TYPE)
            .header("X-GitHub-Api-Version", API_VERSION))
    }

    /// Starts the workflow for `req`.
    ///
    /// # Errors
    /// [`workflow_inputs`]'s refusals; [`ExecError`] as mapped by [`super::http`].
    pub(crate) async fn dispatch(
        &self,
        target: &Workflow<'_>,
        req: &DispatchRequest,
    ) -> Result<Dispatched, ExecError> {
        let inputs = workflow_inputs(req)?;
        let mut body = json!({"ref": target.git_ref, "inputs": inputs});
        if self.config.return_run_details {
            body["return_run_details"] = json!(true);
        }
        let url = self.url(target, &["workflows", target.workflow, "dispatches"])?;
        let request = self.request(reqwest::Method::POST, url)?.json(&body);
        let response = http::send(BACKEND, self.timeout, request).await?;
        let response = http::success(BACKEND, self.timeout, response).await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(Dispatched::default());
        }
        // The workflow has been started whatever the body says: an unreadable one must not make
        // the caller dispatch again, so the run is found through the runs list instead.
        let bytes = http::body(BACKEND, self.timeout, response)
            .await
            .unwrap_or_default();
        match serde_json::from_slice::<RunDetails>(&bytes) {
            Ok(details) => Ok(Dispatched {
                external_id: Some(details.workflow_run_id.to_string()),
                url: details.html_url,
                notes: Vec::new(),
            }),
            Err(e) => {
                tracing::warn!(
                    run_id = %req.run_id,
                    backend = BACKEND.kind,
                    error = %e,
                    "GitHub accepted the dispatch with unreadable run details; the run will be found by its idp_run_id",
                );
                Ok(Dispatched::default())
            }
        }
    }

    /// Where the run stands: by its GitHub id when known, else by finding it in the runs list of
    /// the workflow created since `dispatched_at` − 2 min ([`Progress::Pending`] while none
    /// mentions `run_id`).
    ///
    /// # Errors
    /// [`ExecError`] as mapped by [`super::http`].
    pub(crate) async fn poll(
        &self,
        target: &Workflow<'_>,
        run_id: &str,
        external_id: Option<&str>,
        dispatched_at: DateTime<Utc>,
    ) -> Result<Progress, ExecError> {
        if let Some(id) = external_id {
            let url = self.url(target, &["runs", id])?;
            let response = http::send(
                BACKEND,
                self.timeout,
                self.request(reqwest::Method::GET, url)?,
            )
            .await?;
            let run: WireRun = http::json(BACKEND, self.timeout, response).await?;
            return Ok(run.progress());
        }
        let since = dispatched_at - chrono::Duration::seconds(LOOKBACK_SECS);
        let mut url = self.url(target, &["workflows", target.workflow, "runs"])?;
        url.query_pairs_mut()
            .append_pair("event", "workflow_dispatch")
            .append_pair(
                "created",
                &format!(">={}", since.to_rfc3339_opts(SecondsFormat::Secs, false)),
            )
            .append_pair("per_page", "100");
        let response = http::send(
            BACKEND,
            self.timeout,
            self.request(reqwest::Method::GET, url)?,
        )
        .await?;
        let list: RunList = http::json(BACKEND, self.timeout, response).await?;
        let found: Vec<&WireRun> = list
            .workflow_runs
            .iter()
            .filter(|r| r.mentions(run_id))
            .collect();
        // Two runs for one idp run mean the dispatch was sent twice; follow the earliest.
        let Some(earliest) = found.iter().min_by_key(|r| r.id) else {
            return Ok(Progress::Pending);
        };
        if found.len() > 1 {
            tracing::warn!(
                run_id,
                backend = BACKEND.kind,
                github_run = earliest.id,
                runs = found.len(),
                "several workflow runs mention this idp run; following the earliest",
            );
        }
        Ok(earliest.progress())
    }
}

/// Why a `workflow_run` webhook body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GithubEventError {
    /// No `X-GitHub-Event` header.
    #[error("missing X-GitHub-Event header")]
    MissingEvent,
    /// The body is not the JSON GitHub documents for `workflow_run`.
    #[error("unreadable workflow_run payload: {0}")]
    Unreadable(String),
}

#[derive(Deserialize)]
struct WorkflowRunEvent {
    workflow_run: WireRun,
}

/// Reads a GitHub webhook delivery (already signature-checked with
/// [`super::signing::verify_github_webhook`]): for a `workflow_run` event
/// (<https://docs.github.com/en/webhooks/webhook-events-and-payloads#workflow_run>, actions
/// `requested`, `in_progress`, `completed`) whose run title mentions an idp run id, that id and
/// the run's progress. Other events (`ping`…) and runs not started by idp are `Ok(None)`.
///
/// # Errors
/// [`GithubEventError`]: no event header, or a `workflow_run` body without a readable
/// `workflow_run` object.
pub fn parse_workflow_run(
    event_header: Option<&str>,
    body: &[u8],
) -> Result<Option<(String, Progress)>, GithubEventError> {
    let event = event_header.ok_or(GithubEventError::MissingEvent)?;
    if event.trim() != "workflow_run" {
        return Ok(None);
    }
    let event: WorkflowRunEvent =
        serde_json::from_slice(body).map_err(|e| GithubEventError::Unreadable(e.to_string()))?;
    let run = event.workflow_run;
    let run_id = [&run.display_title, &run.name]
        .into_iter()
        .flatten()
        .find_map(|title| find_run_id(title));
    Ok(run_id.map(|id| (id.to_owned(), run.progress())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_found_as_whole_words() {
        assert_eq!(
            find_run_id("Scaffold checkout (idp run_01HZX9-a)"),
            Some("run_01HZX9-a")
        );
        assert_eq!(find_run_id("rerun_12 of dry_run"), None);
        assert!(mentions("Scaffold [run_12]", "run_12"));
        assert!(!mentions("Scaffold [run_12]", "run_1"));
    }

    #[test]
    fn conclusions_map_to_progress() {
        let run = |status: &str, conclusion: Option<&str>| WireRun {
            id: 9,
            name: None,
            display_title: None,
            status: Some(status.to_owned()),
            conclusion: conclusion.map(str::to_owned),
            html_url: Some("https://github.com/acme/x/actions/runs/9".to_owned()),
            run_number: Some(4),
        };
        assert!(matches!(
            run("queued", None).progress(),
            Progress::Running { external_id: Some(id), .. } if id == "9"
        ));
        assert!(matches!(
            run("completed", Some("neutral")).progress(),
            Progress::Succeeded { .. }
        ));
        assert!(matches!(
            run("completed", Some("timed_out")).progress(),
            Progress::Failed { message, .. } if message == "workflow run #4 timed out"
        ));
    }
}
