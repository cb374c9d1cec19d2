//! The durable run: one row per piece of work handed to another system, and the pure state
//! transitions the worker, the callbacks and the Cancel button apply to it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::execution::{Execution, Progress, StepNote};

/// What kind of work a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// A golden-path template run (`new-service`).
    Template,
    /// A rollback (`rollback`).
    Rollback,
}

impl RunKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Template => "template",
            Self::Rollback => "rollback",
        }
    }

    /// Reads a stored name.
    ///
    /// # Errors
    /// The unknown name.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "template" => Ok(Self::Template),
            "rollback" => Ok(Self::Rollback),
            other => Err(format!("unknown run kind `{other}`")),
        }
    }
}

/// Where a run stands: `queued → dispatched → running → succeeded | failed | cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    /// Recorded, waiting for someone to approve it; nothing is handed over before.
    AwaitingApproval,
    /// Recorded; not handed over yet (or waiting to retry).
    Queued,
    /// Handed over; the backend has not reported it running yet.
    Dispatched,
    /// The backend reported it running.
    Running,
    /// Finished well.
    Succeeded,
    /// Finished badly, or given up on.
    Failed,
    /// Cancelled before it was handed over.
    Cancelled,
}

impl RunStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingApproval => "awaiting_approval",
            Self::Queued => "queued",
            Self::Dispatched => "dispatched",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Reads a stored name.
    ///
    /// # Errors
    /// The unknown name.
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "awaiting_approval" => Self::AwaitingApproval,
            "queued" => Self::Queued,
            "dispatched" => Self::Dispatched,
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            other => return Err(format!("unknown run status `{other}`")),
        })
    }

    /// Whether nothing more will happen to the run.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

/// Who asked for a run and from where: enough to ask the policy again before dispatching.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requester {
    /// The catalog user's ref key (`user:default/mei.tanaka`); `None` for a guest.
    pub user: Option<String>,
    /// `slack`, `shell` or `api`.
    pub origin: String,
    /// Slack workspace id, for Slack callers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// Slack user id, for Slack callers (the status message mentions them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack_user_id: Option<String>,
    /// The channel the request came from, for Slack callers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
    /// The channel's kind when asked: `incident`, `direct_message` or `other`.
    pub channel_kind: String,
}

/// Controls and labels the compliance rules require of what a run creates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunControls {
    /// Control names, sorted.
    pub controls: Vec<String>,
    /// Labels, by key.
    pub labels: BTreeMap<String, String>,
}

/// One step of a run as shown in its status message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStep {
    /// What happened ("Dispatched to GitHub Actions", a backend's step name…).
    pub name: String,
    /// A link, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// When, in Unix milliseconds.
    pub at: i64,
}

/// Most steps kept per run (the status message shows the last ones).
pub const MAX_STEPS: usize = 30;

/// A run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// `run_` and 16 hex digits.
    pub id: String,
    /// Template run or rollback.
    pub kind: RunKind,
    /// From the Slack request (view id) or the shell; unique.
    pub idempotency_key: String,
    /// The template's ref key, for template runs.
    pub template: Option<String>,
    /// The ref key the authorization decision was about (the owning group).
    pub target: Option<String>,
    /// What the run makes or changes (the new component's name).
    pub subject: Option<String>,
    /// Where it runs.
    pub execution: Execution,
    /// The validated inputs.
    pub inputs: BTreeMap<String, Value>,
    /// Required controls and labels.
    pub controls: RunControls,
    /// Who asked, from where.
    pub requester: Requester,
    /// The requester's display name (for messages and the backend).
    pub requested_by: String,
    /// Where the status message is (or goes).
    pub channel_id: Option<String>,
    /// The status message's `ts`, once posted.
    pub message_ts: Option<String>,
    /// Where it stands.
    pub status: RunStatus,
    /// Dispatch attempts so far.
    pub attempts: i64,
    /// When the worker next looks at it (Unix ms): retry, poll or staleness check.
    pub next_attempt_at: i64,
    /// The backend's id for it.
    pub external_id: Option<String>,
    /// A link to the backend's page.
    pub external_url: Option<String>,
    /// The last error or failure message.
    pub error: Option<String>,
    /// What happened so far, oldest first.
    pub steps: Vec<RunStep>,
    /// The highest callback sequence applied.
    pub last_sequence: Option<i64>,
    /// When it was handed over (Unix ms).
    pub dispatched_at: Option<i64>,
    /// When the backend last said anything (Unix ms).
    pub last_news_at: Option<i64>,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Last changed (Unix ms).
    pub updated_at: i64,
    /// Finished (Unix ms).
    pub finished_at: Option<i64>,
    /// Bumped by every change.
    pub version: i64,
    /// The version the status message shows.
    pub notified_version: i64,
    /// Whether a failure has been told in the status message's thread.
    pub failure_told: bool,
    /// What the run holds exclusively while unfinished (`rollback:<service>:<env>`), if anything.
    pub lock_key: Option<String>,
}

/// Current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A new run id: `run_` and 16 random hex digits.
pub fn new_run_id() -> String {
    format!(
        "run_{}",
        hex::encode(crate::audit::token::random_bytes::<8>())
    )
}

impl Run {
    fn step(&mut self, name: impl Into<String>, url: Option<String>, at: i64) {
        let name = name.into();
        if self
            .steps
            .last()
            .is_some_and(|s| s.name == name && s.url == url)
        {
            return;
        }
        self.steps.push(RunStep { name, url, at });
        if self.steps.len() > MAX_STEPS {
            let extra = self.steps.len() - MAX_STEPS;
            self.steps.drain(..extra);
        }
    }

    fn finish(&mut self, status: RunStatus, at: i64) {
        self.status = status;
        self.finished_at = Some(at);
    }

    /// The backend accepted the work. A callback may have moved the run on already; nothing
    /// moves backwards.
    pub fn mark_dispatched(&mut self, external_id: Option<String>, url: Option<String>, at: i64) {
        if self.external_id.is_none() {
            self.external_id = external_id;
        }
        if url.is_some() {
            self.external_url = url;
        }
        self.dispatched_at.get_or_insert(at);
        self.last_news_at.get_or_insert(at);
        self.error = None;
        if self.status == RunStatus::Queued {
            self.status = RunStatus::Dispatched;
            let name = format!("Handed to {}", execution_label(&self.execution));
            self.step(name, self.external_url.clone(), at);
        }
    }

    /// A transient failure: try again at `retry_at`, or give up after `max_attempts`.
    pub fn mark_retry(&mut self, message: String, retry_at: i64, max_attempts: i64, at: i64) {
        if self.status != RunStatus::Queued {
            return;
        }
        if self.attempts >= max_attempts {
            self.error = Some(format!(
                "gave up after {} attempts: {message}",
                self.attempts
            ));
            self.step("Failed: the backend stayed unavailable", None, at);
            self.finish(RunStatus::Failed, at);
        } else {
            self.error = Some(message);
            self.next_attempt_at = retry_at;
        }
    }

    /// A permanent failure (refused by the backend or the policy, misconfigured).
    pub fn mark_failed(&mut self, message: String, at: i64) {
        if self.status.is_finished() {
            return;
        }
        self.step(format!("Failed: {message}"), self.external_url.clone(), at);
        self.error = Some(message);
        self.finish(RunStatus::Failed, at);
    }

    /// Approved by `by`: queued for the worker. Returns whether it was waiting for that.
    pub fn approve(&mut self, by: &str, at: i64) -> bool {
        if self.status != RunStatus::AwaitingApproval {
            return false;
        }
        self.step(format!("Approved by {by}"), None, at);
        self.status = RunStatus::Queued;
        self.next_attempt_at = at;
        true
    }

    /// Cancelled by someone before it was handed over (a queued run, or one waiting for an
    /// approval: denied or expired). Returns whether it was cancelled.
    pub fn cancel(&mut self, by: &str, at: i64) -> bool {
        if !matches!(self.status, RunStatus::Queued | RunStatus::AwaitingApproval) {
            return false;
        }
        self.step(format!("Cancelled by {by}"), None, at);
        self.finish(RunStatus::Cancelled, at);
        true
    }

    /// Applies what the backend reported. A report for a finished run, or older than the last
    /// applied `sequence`, changes nothing; returns whether anything changed.
    pub fn apply(&mut self, progress: &Progress, sequence: Option<i64>, at: i64) -> bool {
        if self.status.is_finished() {
            return false;
        }
        if let (Some(seq), Some(last)) = (sequence, self.last_sequence)
            && seq <= last
        {
            return false;
        }
        if sequence.is_some() {
            self.last_sequence = sequence;
        }
        self.last_news_at = Some(at);
        self.dispatched_at.get_or_insert(at);
        match progress {
            Progress::Pending => {
                if self.status == RunStatus::Queued {
                    self.status = RunStatus::Dispatched;
                }
            }
            Progress::Running {
                external_id,
                url,
                step,
            } => {
                if self.external_id.is_none() {
                    self.external_id.clone_from(external_id);
                }
                if url.is_some() {
                    self.external_url.clone_from(url);
                }
                if self.status != RunStatus::Running {
                    self.status = RunStatus::Running;
                    self.step("Running", self.external_url.clone(), at);
                }
                if let Some(StepNote { name, url }) = step {
                    self.step(name.clone(), url.clone(), at);
                }
            }
            Progress::Succeeded { url, .. } => {
                if url.is_some() {
                    self.external_url.clone_from(url);
                }
                self.step("Created", self.external_url.clone(), at);
                self.finish(RunStatus::Succeeded, at);
            }
            Progress::Failed { message, url } => {
                if url.is_some() {
                    self.external_url.clone_from(url);
                }
                self.mark_failed(message.clone(), at);
            }
        }
        true
    }
}

/// How a backend is named to people.
pub fn execution_label(execution: &Execution) -> String {
    match execution {
        Execution::GithubActions {
            owner,
            repo,
            workflow,
            ..
        } => format!("GitHub Actions ({owner}/{repo}, {workflow})"),
        Execution::Webhook => "the webhook backend".to_owned(),
        Execution::Backstage { .. } => "the Backstage scaffolder".to_owned(),
        Execution::ArgoCd { application } => format!("Argo CD ({application})"),
    }
}
