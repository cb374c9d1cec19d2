//! Execution backends: the systems idp hands work to. idp never runs a pipeline itself; it asks
//! one of these to, and follows what they report.
//!
//! - GitHub Actions ([`Execution::GithubActions`]), `workflow_dispatch`
//!   (<https://docs.github.com/en/rest/actions/workflows#create-a-workflow-dispatch-event>).
//! - A signed webhook ([`Execution::Webhook`]), a `POST` to the organisation's own receiver,
//!   which reports back on `POST /hooks/runs/{run_id}`.
//! - Backstage ([`Execution::Backstage`]), the scaffolder API (`POST /api/scaffolder/v2/tasks`).
//! - Argo CD ([`Execution::ArgoCd`]), for rollbacks: `POST /api/v1/applications/{name}/rollback`
//!   to the history entry of the target revision.
//!
//! [`Executors`] holds the configured ones and routes a run to its backend: [`Executors::dispatch`]
//! hands it over once, [`Executors::poll`] asks where it stands. The webhook receiver and GitHub
//! also push news; the HTTP routes check those with [`Executors::verify_callback`] /
//! [`Executors::verify_github`] and read them with [`parse_callback`] / [`parse_workflow_run`].
//! Every HTTP failure becomes an [`ExecError`] in one place ([`http`]).

mod argocd;
mod backstage;
mod config;
mod github;
pub mod http;
pub mod signing;
mod webhook;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use argocd::{
    CLOCK_SKEW as ARGOCD_CLOCK_SKEW, HISTORY_ID_INPUT, REVISION_INPUT, VERSION_INPUT,
};
pub use config::{ArgoCdConfig, BackstageConfig, ExecConfig, GithubConfig, WebhookConfig};
pub use github::{
    API_VERSION as GITHUB_API_VERSION, CONTROLS_INPUT, GithubEventError, LABELS_INPUT,
    MAX_INPUTS as GITHUB_MAX_INPUTS, MAX_INPUTS_CHARS as GITHUB_MAX_INPUTS_CHARS, RUN_ID_INPUT,
    find_run_id, parse_workflow_run, workflow_inputs,
};
pub use signing::{SigningError, verify_github_webhook, verify_signed};
pub use webhook::{
    Callback, CallbackError, FAILED_WITHOUT_MESSAGE, MAX_CALLBACK_BYTES, MAX_DESCRIPTOR_BYTES,
    parse_callback,
};

use argocd::ArgoCd;
use backstage::Backstage;
use github::{GithubActions, Workflow};
use webhook::WebhookBackend;

pub use crate::runs::{Execution, Progress, StepNote};

/// What a backend is asked to do for one run.
///
/// A rollback run (`kind` `rollback`) has no template (`template` is empty) and these string
/// inputs: `service`, `environment`, `version` (the target), `revision` (the target's git
/// revision, may be absent), `from_version`, and `argocd_history_id` (may be absent).
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchRequest {
    /// idp's run id (`run_…`); the receiver's idempotency key.
    pub run_id: String,
    /// What the run is: `template` or `rollback`.
    pub kind: String,
    /// The template's entity ref key (`template:default/backend-service`); empty for a rollback.
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
    /// What the backend did besides starting the work that people must know about (Argo CD:
    /// auto-sync turned off, to be turned back on), one sentence each.
    pub notes: Vec<String>,
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

/// A configured backend, chosen for one execution.
enum Route<'a> {
    Github(&'a GithubActions, Workflow<'a>),
    Webhook(&'a WebhookBackend),
    Backstage(&'a Backstage, &'a str),
    ArgoCd(&'a ArgoCd, &'a str),
}

/// The configured execution backends, sharing one HTTP client. Cheap to clone.
#[derive(Clone)]
pub struct Executors {
    github: Option<GithubActions>,
    github_webhook_secret: Option<secrecy::SecretString>,
    webhook: Option<WebhookBackend>,
    webhook_secret: Option<secrecy::SecretString>,
    backstage: Option<Backstage>,
    argocd: Option<ArgoCd>,
}

impl std::fmt::Debug for Executors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executors")
            .field("github", &self.github.is_some())
            .field("webhook", &self.webhook.is_some())
            .field("backstage", &self.backstage.is_some())
            .field("argocd", &self.argocd.is_some())
            .finish_non_exhaustive()
    }
}

impl Executors {
    /// The backends `config` configures.
    ///
    /// # Errors
    /// Why the HTTP client could not be built (the TLS stack).
    pub fn new(config: ExecConfig) -> Result<Self, String> {
        let client = http::client(config.timeout)?;
        let timeout = config.timeout;
        Ok(Self {
            github: config
                .github
                .map(|c| GithubActions::new(client.clone(), c, timeout)),
            github_webhook_secret: config.github_webhook_secret,
            webhook: config
                .webhook
                .map(|c| WebhookBackend::new(client.clone(), c, timeout)),
            webhook_secret: config.webhook_secret,
            backstage: config
                .backstage
                .map(|c| Backstage::new(client.clone(), c, timeout)),
            argocd: config
                .argocd
                .map(|c| ArgoCd::new(client, c, config.argocd_disable_autosync, timeout)),
        })
    }

    /// `execution`'s backend, with what it needs from the execution.
    fn route<'a>(&'a self, execution: &'a Execution) -> Result<Route<'a>, ExecError> {
        let missing = match execution {
            Execution::GithubActions {
                owner,
                repo,
                workflow,
                git_ref,
            } => match &self.github {
                Some(github) => {
                    let target = Workflow {
                        owner,
                        repo,
                        workflow,
                        git_ref,
                    };
                    return Ok(Route::Github(github, target));
                }
                None => "GitHub Actions is not configured: set GITHUB_TOKEN",
            },
            Execution::Webhook => match &self.webhook {
                Some(webhook) => return Ok(Route::Webhook(webhook)),
                None => {
                    "the webhook backend is not configured: set IDP_WEBHOOK_URL and IDP_WEBHOOK_SECRET"
                }
            },
            Execution::Backstage { template_ref } => match &self.backstage {
                Some(backstage) => return Ok(Route::Backstage(backstage, template_ref)),
                None => "the Backstage scaffolder is not configured: set BACKSTAGE_URL",
            },
            Execution::ArgoCd { application } => match &self.argocd {
                Some(argocd) => return Ok(Route::ArgoCd(argocd, application)),
                None => "Argo CD is not configured: set ARGOCD_URL and ARGOCD_TOKEN",
            },
        };
        Err(ExecError::NotConfigured(missing.to_owned()))
    }

    /// Whether `execution`'s backend is configured.
    ///
    /// # Errors
    /// [`ExecError::NotConfigured`] naming the setting to set.
    pub fn check(&self, execution: &Execution) -> Result<(), ExecError> {
        self.route(execution).map(|_| ())
    }

    /// Hands the run to its backend, once. Nothing here retries: the caller decides from
    /// [`ExecError::is_transient`] and [`ExecError::retry_after`].
    ///
    /// - GitHub Actions: `workflow_dispatch`; `external_id` and `url` only when GitHub returns run
    ///   details (else the run is found by [`Self::poll`]).
    /// - Webhook: the signed `POST`; `external_id` and `url` when the receiver answers them.
    /// - Backstage: a new task; its id and page.
    /// - Argo CD: a rollback of the application; its name and page, and a note when auto-sync
    ///   was turned off first.
    ///
    /// # Errors
    /// [`ExecError::NotConfigured`] for a backend without settings; the backend's refusals and
    /// failures otherwise.
    pub async fn dispatch(&self, req: &DispatchRequest) -> Result<Dispatched, ExecError> {
        match self.route(&req.execution)? {
            Route::Github(github, target) => github.dispatch(&target, req).await,
            Route::Webhook(webhook) => webhook.dispatch(req, http::now_unix()).await,
            Route::Backstage(backstage, template_ref) => {
                backstage.dispatch(template_ref, req).await
            }
            Route::ArgoCd(argocd, application) => argocd.dispatch(application, req).await,
        }
    }

    /// Asks the backend where run `run_id` stands.
    ///
    /// - GitHub Actions: by the GitHub run id when `external_id` is known, else by searching the
    ///   workflow's runs created since `dispatched_at` − 2 min for one naming `run_id`
    ///   ([`Progress::Pending`] until one does).
    /// - Webhook: always [`Progress::Pending`]; the receiver reports through callbacks.
    /// - Backstage: the task `external_id` ([`Progress::Pending`] without one).
    /// - Argo CD: the application's operation, once one started after `dispatched_at` (less
    ///   [`ARGOCD_CLOCK_SKEW`]).
    ///
    /// # Errors
    /// As [`Self::dispatch`].
    pub async fn poll(
        &self,
        execution: &Execution,
        run_id: &str,
        external_id: Option<&str>,
        dispatched_at: DateTime<Utc>,
    ) -> Result<Progress, ExecError> {
        match self.route(execution)? {
            Route::Github(github, target) => {
                github
                    .poll(&target, run_id, external_id, dispatched_at)
                    .await
            }
            Route::Webhook(_) => Ok(Progress::Pending),
            Route::Backstage(backstage, _) => backstage.poll(external_id).await,
            Route::ArgoCd(argocd, application) => argocd.poll(application, dispatched_at).await,
        }
    }

    /// Checks a callback from the webhook receiver (`X-Idp-Timestamp`, `X-Idp-Signature`, raw
    /// body) at `now_unix` with `IDP_WEBHOOK_SECRET`; see [`verify_signed`].
    ///
    /// # Errors
    /// [`SigningError`]; [`SigningError::NotConfigured`] without the secret.
    pub fn verify_callback(
        &self,
        timestamp_header: Option<&str>,
        signature_header: Option<&str>,
        body: &[u8],
        now_unix: i64,
    ) -> Result<(), SigningError> {
        let secret = self
            .webhook_secret
            .as_ref()
            .ok_or(SigningError::NotConfigured("IDP_WEBHOOK_SECRET"))?;
        verify_signed(secret, timestamp_header, signature_header, body, now_unix)
    }

    /// Checks a GitHub webhook delivery (`X-Hub-Signature-256`, raw body) with
    /// `GITHUB_WEBHOOK_SECRET`; see [`verify_github_webhook`].
    ///
    /// # Errors
    /// [`SigningError`]; [`SigningError::NotConfigured`] without the secret.
    pub fn verify_github(
        &self,
        signature_header: Option<&str>,
        body: &[u8],
    ) -> Result<(), SigningError> {
        let secret = self
            .github_webhook_secret
            .as_ref()
            .ok_or(SigningError::NotConfigured("GITHUB_WEBHOOK_SECRET"))?;
        verify_github_webhook(secret, signature_header, body)
    }
}

#[async_trait::async_trait]
impl crate::actions::Delegate for Executors {
    async fn dispatch(&self, request: &DispatchRequest) -> Result<Dispatched, ExecError> {
        Executors::dispatch(self, request).await
    }

    async fn poll(
        &self,
        execution: &Execution,
        run_id: &str,
        external_id: Option<&str>,
        dispatched_at: DateTime<Utc>,
    ) -> Result<Progress, ExecError> {
        Executors::poll(self, execution, run_id, external_id, dispatched_at).await
    }

    fn polls(&self, execution: &Execution) -> bool {
        !matches!(execution, Execution::Webhook)
    }

    fn check(&self, execution: &Execution) -> Result<(), String> {
        Executors::check(self, execution).map_err(|e| e.to_string())
    }
}
