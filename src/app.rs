//! The application state shared by every entry point, and the one dispatcher they all call:
//! text → [`Command`](crate::command::Command) → authorization → handler → rendered reply.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::actions::RunService;
use crate::audit::AuditLog;
use crate::authz::{Caller, Policy};
use crate::catalog::CatalogService;
use crate::catalog::Snapshot;
use crate::command::{self, Command, Dialect, ParseError};
use crate::handlers::{self, Context, Handled, Outcome};
use crate::identity::IdentityService;
use crate::oncall::OnCallService;
use crate::slack::client::SlackApi;
use crate::slack::render::{self, Reply};
use crate::slack::verify::SignatureVerifier;
use crate::templates::TemplateDefaults;

/// What an entry point knows about a request besides the command.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestMeta<'a> {
    /// The request's idempotency key (Slack view id, trigger id), for commands that start runs.
    pub idempotency_key: Option<&'a str>,
    /// The Slack channel the request came from.
    pub channel_id: Option<&'a str>,
}

/// Everything a request needs. Cheap to share behind an `Arc`.
pub struct AppState {
    /// The catalog (store + snapshot).
    pub catalog: Arc<CatalogService>,
    /// The authorization policy.
    pub policy: Arc<Policy>,
    /// On-call lookups.
    pub oncall: Arc<OnCallService>,
    /// Slack request verification; `None` only for the shell, which takes no HTTP.
    pub verifier: Option<SignatureVerifier>,
    /// Slack caller → catalog user; `None` makes every Slack caller a guest.
    pub identity: Option<Arc<IdentityService>>,
    /// The audit log; `None` records nothing (tests of rendering only).
    pub audit: Option<AuditLog>,
    /// The Slack Web API client (modals, status messages); `None` without a bot token.
    pub slack: Option<SlackApi>,
    /// The run queue; `None` where runs cannot be recorded.
    pub runs: Option<Arc<RunService>>,
    /// Template defaults (execution backend, compliance rules).
    pub templates: TemplateDefaults,
    /// `[rollbacks]` settings.
    pub rollbacks: crate::actions::rollback::RollbackSettings,
    /// Scorecard standings for the App Home (none until scorecards are configured).
    pub scores: Arc<dyn crate::handlers::home::ScoreLookup>,
    /// When an incident channel's incident began; set with the Slack client.
    pub incident_clock: Option<Arc<dyn crate::actions::rollback::IncidentClock>>,
    /// The scorecards and their latest results; `None` when no scorecards file is configured.
    pub scorecards: Option<Arc<crate::scorecards::Scorer>>,
    /// Channel names for mentions (Slack sends only the id), cached.
    pub channel_names: crate::slack::mention::ChannelNames,
    request_counter: AtomicU64,
    boot: u64,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("catalog", &self.catalog)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the state with no on-call providers.
    pub fn new(
        catalog: Arc<CatalogService>,
        policy: Policy,
        verifier: Option<SignatureVerifier>,
    ) -> Self {
        Self::with_services(
            catalog,
            Arc::new(policy),
            Arc::new(OnCallService::default()),
            verifier,
        )
    }

    /// Builds the state from its services.
    pub fn with_services(
        catalog: Arc<CatalogService>,
        policy: Arc<Policy>,
        oncall: Arc<OnCallService>,
        verifier: Option<SignatureVerifier>,
    ) -> Self {
        let boot = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() & 0xffff_ffff)
            .unwrap_or_default();
        Self {
            catalog,
            policy,
            oncall,
            verifier,
            identity: None,
            audit: None,
            slack: None,
            runs: None,
            templates: TemplateDefaults::default(),
            rollbacks: crate::actions::rollback::RollbackSettings::default(),
            incident_clock: None,
            scores: Arc::new(crate::handlers::home::NoScores),
            scorecards: None,
            channel_names: crate::slack::mention::ChannelNames::default(),
            request_counter: AtomicU64::new(0),
            boot,
        }
    }

    /// The same state with identity resolution for Slack callers.
    pub fn with_identity(mut self, identity: Arc<IdentityService>) -> Self {
        self.identity = Some(identity);
        self
    }

    /// The same state recording every command in the audit log.
    pub fn with_audit(mut self, audit: AuditLog) -> Self {
        self.audit = Some(audit);
        self
    }

    /// The same state with a Slack Web API client.
    pub fn with_slack(mut self, slack: SlackApi) -> Self {
        self.incident_clock = Some(Arc::new(crate::slack::channels::ChannelClock::new(
            slack.clone(),
        )));
        self.slack = Some(slack);
        self
    }

    /// The same state with a run queue.
    pub fn with_runs(mut self, runs: Arc<RunService>) -> Self {
        self.runs = Some(runs);
        self
    }

    /// The same state with template defaults.
    pub fn with_templates(mut self, templates: TemplateDefaults) -> Self {
        self.templates = templates;
        self
    }

    /// The same state with `[rollbacks]` settings.
    pub fn with_rollbacks(mut self, rollbacks: crate::actions::rollback::RollbackSettings) -> Self {
        self.rollbacks = rollbacks;
        self
    }

    /// The same state with scorecards (see [`crate::scorecards::Scorer`]): `/idp scorecard`,
    /// digest previews, and the App Home's scores (the default scorecard).
    pub fn with_scorecards(mut self, scorer: Arc<crate::scorecards::Scorer>) -> Self {
        self.scores = Arc::new(crate::handlers::home::ScorerScores(scorer.clone()));
        self.scorecards = Some(scorer);
        self
    }

    /// The caller behind a Slack request: identity from the catalog, channel kind from the policy.
    pub async fn slack_caller(
        &self,
        team_id: &str,
        user_id: &str,
        channel_id: &str,
        channel_name: Option<&str>,
    ) -> Caller {
        let origin = crate::authz::Origin::Slack {
            team_id: team_id.to_owned(),
            user_id: user_id.to_owned(),
            channel_id: channel_id.to_owned(),
        };
        let identity = match &self.identity {
            Some(service) => service.resolve(&self.catalog.snapshot(), user_id).await,
            None => crate::identity::Identity {
                user: None,
                guest_reason: Some("identity lookup is not configured".to_owned()),
            },
        };
        Caller {
            origin,
            user: identity.user,
            guest_reason: identity.guest_reason,
            channel: crate::authz::ChannelKind::classify(channel_name, &self.policy),
        }
    }

    /// A short id for one request, unique per process run: used in logs and error replies.
    pub fn next_request_id(&self) -> String {
        let n = self.request_counter.fetch_add(1, Ordering::Relaxed);
        format!("{:x}-{n:x}", self.boot)
    }

    /// Parses, authorizes, handles and renders one command for a caller, under a new request id.
    pub async fn dispatch(&self, caller: &Caller, text: &str, dialect: Dialect) -> Reply {
        let request_id = self.next_request_id();
        self.dispatch_as(&request_id, caller, text, dialect).await
    }

    /// Like [`Self::dispatch`], with the outcome's label ([`Handled::outcome_label`]: `answered`,
    /// `denied`, `not_found`, `invalid`, `failed`, …) beside the reply, for callers that act on
    /// it (the shell's exit status).
    pub async fn dispatch_labelled(
        &self,
        caller: &Caller,
        text: &str,
        dialect: Dialect,
    ) -> (Reply, &'static str) {
        let request_id = self.next_request_id();
        let parsed = command::parse(text, dialect, chrono::Utc::now());
        let (snapshot, handled) = self
            .execute(&request_id, caller, parsed, text, RequestMeta::default())
            .await;
        (
            self.render(&request_id, &snapshot, &handled),
            handled.outcome_label(),
        )
    }

    /// Parses, authorizes, handles, records and renders one command for a caller.
    pub async fn dispatch_as(
        &self,
        request_id: &str,
        caller: &Caller,
        text: &str,
        dialect: Dialect,
    ) -> Reply {
        let parsed = command::parse(text, dialect, chrono::Utc::now());
        let (snapshot, handled) = self
            .execute(request_id, caller, parsed, text, RequestMeta::default())
            .await;
        self.render(request_id, &snapshot, &handled)
    }

    /// Sends one command (or its parse error) through the door: [`handlers::dispatch`] runs its
    /// handler, which asks the policy first, and records one audit entry. `text` is what the
    /// audit log records as asked. Returns the snapshot it was answered from and the result.
    pub async fn execute(
        &self,
        request_id: &str,
        caller: &Caller,
        parsed: Result<Command, ParseError>,
        text: &str,
        meta: RequestMeta<'_>,
    ) -> (Arc<Snapshot>, Handled) {
        let snapshot = self.catalog.snapshot();
        let ctx = Context {
            snapshot: &snapshot,
            policy: &self.policy,
            oncall: &self.oncall,
            deploys: self.catalog.store(),
            audit_reader: self.catalog.store(),
            subscriptions: self.catalog.store(),
            score_history: self.catalog.store(),
            run_lookup: self.catalog.store(),
            now: chrono::Utc::now(),
            templates: &self.templates,
            runs: self.runs.as_deref(),
            idempotency_key: meta.idempotency_key,
            channel_id: meta.channel_id,
            rollbacks: &self.rollbacks,
            incident_clock: self.incident_clock.as_deref(),
            scorer: self.scorecards.as_deref(),
            scores: self.scores.as_ref(),
            identity: self.identity.as_deref(),
            audit: self.audit.as_ref(),
        };
        let handled = handlers::dispatch(
            &ctx,
            handlers::Request {
                request_id,
                caller,
                command: parsed,
                text,
            },
        )
        .await;
        (snapshot, handled)
    }

    /// Renders a handled command; an internal failure becomes "something went wrong (ref …)" and
    /// a log line.
    pub fn render(&self, request_id: &str, snapshot: &Snapshot, handled: &Handled) -> Reply {
        match &handled.outcome {
            Outcome::Failed(why) => {
                tracing::error!(%request_id, reason = %why, "command failed");
                Reply::internal_error(request_id)
            }
            outcome => render::render(snapshot, outcome),
        }
    }
}
