//! Execution backends: the systems idp hands work to. idp never runs a pipeline itself; it asks
//! one of these to, and follows what they report.
//!
//! - [`Execution::GithubActions`][]: `workflow_dispatch`
//!   (<https://docs.github.com/en/rest/actions/workflows#create-a-workflow-dispatch-event>).
//! - [`Execution::Webhook`][]: a signed `POST` to the organisation's own receiver, which reports
//!   back on `POST /hooks/runs/{run_id}`.
//! - [`Execution::Backstage`][]: Backstage's scaffolder API (`POST /api/scaffolder/v2/tasks`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

/// Which system runs a template, and where. Read from a Template's annotations (or the config's
/// default) by [`crate::templates`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Execution {
    /// A GitHub Actions workflow started with `workflow_dispatch`.
    GithubActions {
        /// Repository owner (user or organisation).
        owner: String,
        /// Repository name.
        repo: String,
        /// Workflow file name (`scaffold.yml`) or numeric id.
        workflow: String,
        /// The git ref to run on (branch or tag).
        git_ref: String,
    },
    /// The configured signed webhook receiver.
    Webhook,
    /// The Backstage scaffolder, running the template of this entity ref (`template:default/x`).
    Backstage {
        /// The template's entity ref as Backstage knows it.
        template_ref: String,
    },
}

impl Execution {
    /// A short name for logs, the audit log and the status message: `github-actions`, `webhook`,
    /// `backstage`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::GithubActions { .. } => "github-actions",
            Self::Webhook => "webhook",
            Self::Backstage { .. } => "backstage",
        }
    }
}

/// What a backend is asked to do for one run.
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchRequest {
    /// idp's run id (`run_…`); the receiver's idempotency key.
    pub run_id: String,
    /// The template's entity ref key (`template:default/backend-service`).
    pub template: String,
    /// Where to run it.
    pub execution: Execution,
    /// The validated parameter values, by parameter name.
    pub inputs: BTreeMap<String, Value>,
    /// The requester's catalog entity ref (`user:default/mei.tanaka`).
    pub requested_by: String,
    /// Where the backend reports progress (`{public_url}/hooks/runs/{run_id}`).
    pub callback_url: String,
    /// Controls required by the compliance rules (`encrypt_at_rest`…).
    pub controls: Vec<String>,
    /// Labels required by the compliance rules.
    pub labels: BTreeMap<String, String>,
}

/// What a backend answered to a dispatch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dispatched {
    /// The backend's id for the work (GitHub run id, Backstage task id), when known yet.
    pub external_id: Option<String>,
    /// A link a person can open.
    pub url: Option<String>,
}

/// One step a backend reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepNote {
    /// What the step is.
    pub name: String,
    /// A link, if the backend gave one.
    pub url: Option<String>,
}

/// Where a run stands according to its backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Accepted but not found or not started yet.
    Pending,
    /// Running; optionally a step that started or finished.
    Running {
        /// The external id, once the backend reveals it (GitHub run id).
        external_id: Option<String>,
        /// A link to the backend's page for the run.
        url: Option<String>,
        /// The step reported with this update.
        step: Option<StepNote>,
    },
    /// Finished well.
    Succeeded {
        /// A link to the backend's page for the run.
        url: Option<String>,
        /// The new entity's descriptor (YAML or JSON text), if the backend sent it.
        descriptor: Option<String>,
        /// Where the new entity's `catalog-info.yaml` can be read (an http(s) URL), if sent.
        location: Option<String>,
    },
    /// Finished badly.
    Failed {
        /// The backend's message.
        message: String,
        /// A link to the backend's page for the run.
        url: Option<String>,
    },
}

/// Why a backend call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// The backend refused the request (a 4xx other than 408/429): retrying cannot help.
    #[error("{backend} refused the request (HTTP {status}): {message}")]
    Rejected {
        /// Backend kind.
        backend: &'static str,
        /// HTTP status.
        status: u16,
        /// The backend's own message.
        message: String,
    },
    /// The backend is down, overloaded or rate limiting (5xx, 429, connection refused).
    #[error("{backend} is unavailable: {message}")]
    Unavailable {
        /// Backend kind.
        backend: &'static str,
        /// What happened.
        message: String,
        /// How long the backend asked us to wait (`Retry-After`), if it did.
        retry_after: Option<Duration>,
    },
    /// No answer in time.
    #[error("{backend} did not answer within {millis} ms")]
    Timeout {
        /// Backend kind.
        backend: &'static str,
        /// The timeout, in milliseconds.
        millis: u128,
    },
    /// An answer that does not have the shape the backend's API documents.
    #[error("{backend} answered something idp cannot read: {detail}")]
    BadResponse {
        /// Backend kind.
        backend: &'static str,
        /// What was wrong with it.
        detail: String,
    },
    /// idp is not configured for this backend (no token, no URL).
    #[error("{0}")]
    NotConfigured(String),
}

impl ExecError {
    /// Whether trying again later may succeed (unavailable, timeout, unreadable answer).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unavailable { .. } | Self::Timeout { .. } | Self::BadResponse { .. }
        )
    }

    /// The wait the backend asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
