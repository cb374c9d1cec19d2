//! The application builder: settings and a loaded catalog in, the whole application out. `idp
//! serve`, `idp shell` and the integration tests all build idp here, so they run the same wiring:
//!
//! ```text
//! Settings + CatalogService ──App::builder(..).build()──▶ App { state, executors, scorer, digests }
//!                                                          ├─ App::router()  Slack, /hooks/*, /api/v1/*, health
//!                                                          └─ App::start_background(..)  run worker, scorecards,
//!                                                                                       digests, catalog refresh
//! ```
//!
//! The settings are read here and nowhere else after [`Settings`] resolved them: the policy file,
//! on-call providers, the Slack client, identity, the audit log, execution backends, the run queue
//! and its notifier, template defaults, `[rollbacks]`, scorecards and the digest scheduler.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;

use crate::actions::{RunOptions, RunService};
use crate::app::AppState;
use crate::authz::Policy;
use crate::catalog::CatalogService;
use crate::config::{EventCredential, Settings};
use crate::deploys::github::DeployWorkflow;
use crate::exec::Executors;
use crate::scorecards::report::Digest;
use crate::scorecards::scheduler::Scheduler;
use crate::scorecards::{Scorecards, Scorer};
use crate::slack::verify::SignatureVerifier;

/// Who the application is built for: the notifier of runs differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Audience {
    /// `idp serve`: run messages go to Slack (when a bot token is set).
    Slack,
    /// `idp shell`: run messages are printed in the terminal.
    Shell,
}

/// The built application: its shared state, the execution backends, and the background services
/// it may run. Build it with [`App::builder`].
pub struct App {
    /// The state every request handler shares.
    pub state: Arc<AppState>,
    /// The execution backends (their secrets also check the run hooks' signatures).
    pub executors: Arc<Executors>,
    /// The scorecards, when `[scorecards] file` is configured.
    pub scorer: Option<Arc<Scorer>>,
    /// The digest scheduler: with scorecards and a Slack client, for `idp serve` only.
    pub digests: Option<Arc<Scheduler<Digest>>>,
    events: EventsSettings,
    catalog_sync: CatalogSync,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("state", &self.state)
            .field("scorer", &self.scorer.is_some())
            .field("digests", &self.digests.is_some())
            .finish_non_exhaustive()
    }
}

/// What the deploy-event hooks are configured with.
#[derive(Clone)]
struct EventsSettings {
    sources: std::collections::BTreeMap<String, EventCredential>,
    github_secret: Option<secrecy::SecretString>,
    deploy_workflows: Vec<DeployWorkflow>,
}

/// `[catalog]`'s background work: re-reading the sources, and noticing other replicas' writes.
#[derive(Debug, Clone)]
struct CatalogSync {
    sources: Vec<PathBuf>,
    refresh_every: Option<Duration>,
    poll_every: Duration,
}

/// Builds an [`App`] from [`Settings`] and a loaded catalog; see [`App::builder`].
pub struct AppBuilder<'s> {
    settings: &'s Settings,
    catalog: Arc<CatalogService>,
    verifier: Option<SignatureVerifier>,
    audience: Audience,
    scorecards: Option<Option<Arc<Scorecards>>>,
    tune_runs: Option<Box<dyn FnOnce(RunOptions) -> RunOptions + Send>>,
}

impl std::fmt::Debug for AppBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppBuilder")
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Starts building the application from `settings` over `catalog` (opened and synced by the
    /// caller). Without [`AppBuilder::verify_with`] the Slack routes answer every request 401.
    pub fn builder(settings: &Settings, catalog: Arc<CatalogService>) -> AppBuilder<'_> {
        AppBuilder {
            settings,
            catalog,
            verifier: None,
            audience: Audience::Slack,
            scorecards: None,
            tune_runs: None,
        }
    }

    /// The whole HTTP application: the Slack routes (`/slack/*`, `/healthz`, `/readyz`), the deploy
    /// event hooks (`/hooks/events`, `/hooks/github/deployments`), the run hooks
    /// (`/hooks/runs/{id}`, `/hooks/github`) where runs are recorded, and the REST API
    /// (`/api/v1/*`) where the audit log is kept.
    ///
    /// # Panics
    /// Outside a Tokio runtime (the deploy events' writer is a task).
    pub fn router(&self) -> Router {
        let store = self.state.catalog.store().clone();
        let events =
            crate::hooks::events::EventsState::new(store.clone(), self.events.sources.clone())
                .with_github(
                    self.events.github_secret.clone(),
                    self.events.deploy_workflows.clone(),
                );
        let mut router = crate::slack::http::router(self.state.clone())
            .merge(crate::hooks::events::router(events));
        if let Some(hooks) = self.hooks_router() {
            router = router.merge(hooks);
        }
        if let Some(audit) = &self.state.audit {
            router = router.merge(crate::api::router(audit.clone(), store));
        }
        router
    }

    /// The run hooks alone (`/hooks/runs/{id}`, `/hooks/github`); `None` where no runs are
    /// recorded.
    pub fn hooks_router(&self) -> Option<Router> {
        let runs = self.state.runs.clone()?;
        Some(crate::hooks::router(crate::hooks::HooksState {
            runs,
            executors: self.executors.clone(),
        }))
    }

    /// Starts the chosen background services; they stop with [`Background::stop`].
    pub fn start_background(&self, tasks: Tasks) -> Background {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut background = Background {
            stop,
            joined: Vec::new(),
            aborted: Vec::new(),
        };
        let until_stopped = || wait_for_stop(stopped.clone());
        if tasks.runs
            && let Some(runs) = self.state.runs.clone()
        {
            background
                .joined
                .push(tokio::spawn(runs.run_worker(until_stopped())));
        }
        if tasks.scorecards {
            if let Some(scorer) = self.scorer.clone() {
                background
                    .joined
                    .push(tokio::spawn(scorer.run(until_stopped())));
            }
            if let Some(digests) = self.digests.clone() {
                background
                    .joined
                    .push(tokio::spawn(digests.run(until_stopped())));
            }
        }
        if tasks.catalog {
            background.aborted.extend(self.catalog_tasks());
        }
        background
    }

    /// The periodic re-sync of the configured sources and the poll for other replicas' writes.
    fn catalog_tasks(&self) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = Vec::new();
        let sync = self.catalog_sync.clone();
        if let Some(every) = sync.refresh_every
            && !sync.sources.is_empty()
        {
            let service = self.state.catalog.clone();
            let sources = sync.sources.clone();
            tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let reports = service.sync(&sources).await;
                    let failed = reports.iter().filter(|r| r.failed()).count();
                    tracing::info!(
                        sources = reports.len(),
                        failed,
                        "periodic catalog re-sync done"
                    );
                }
            }));
        }
        let service = self.state.catalog.clone();
        let poll = sync.poll_every;
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(poll);
            loop {
                tick.tick().await;
                match service.refresh_if_changed().await {
                    Ok(true) => tracing::info!("catalog changed in the store; snapshot rebuilt"),
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "could not check the catalog generation"),
                }
            }
        }));
        tasks
    }
}

/// Which background services [`App::start_background`] starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tasks {
    /// The run queue's worker.
    pub runs: bool,
    /// The scorecards' evaluation and the digest scheduler.
    pub scorecards: bool,
    /// The catalog's periodic re-sync and its poll for changes made by other replicas.
    pub catalog: bool,
}

impl Tasks {
    /// Everything `idp serve` runs.
    pub const ALL: Self = Self {
        runs: true,
        scorecards: true,
        catalog: true,
    };
    /// The run worker alone.
    pub const RUNS: Self = Self {
        runs: true,
        scorecards: false,
        catalog: false,
    };
}

/// Background services started by [`App::start_background`].
#[derive(Debug)]
pub struct Background {
    stop: tokio::sync::watch::Sender<bool>,
    joined: Vec<tokio::task::JoinHandle<()>>,
    aborted: Vec<tokio::task::JoinHandle<()>>,
}

impl Background {
    /// Asks the worker, the scorer and the digest scheduler to stop and waits for them; the
    /// catalog's timers are cancelled.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.aborted {
            task.abort();
        }
        for task in self.joined {
            let _ = task.await;
        }
    }

    /// Kills every task at once, as a crashed process would (work in hand is taken over once its
    /// lease runs out).
    pub async fn kill(self) {
        for task in self.joined.into_iter().chain(self.aborted) {
            task.abort();
            let _ = task.await;
        }
    }
}

/// Resolves once `true` is sent on `stop` (or its sender is gone).
async fn wait_for_stop(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

impl AppBuilder<'_> {
    /// Verifies Slack's requests with this verifier (`SLACK_SIGNING_SECRET`).
    #[must_use]
    pub fn verify_with(mut self, verifier: SignatureVerifier) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// Builds for `idp shell`: run messages are printed, not posted, and no digests are sent.
    #[must_use]
    pub fn for_shell(mut self) -> Self {
        self.audience = Audience::Shell;
        self
    }

    /// Uses these scorecard definitions (already loaded and checked) instead of reading
    /// `[scorecards] file`; `None` runs without scorecards.
    #[must_use]
    pub fn scorecards(mut self, definitions: Option<Arc<Scorecards>>) -> Self {
        self.scorecards = Some(definitions);
        self
    }

    /// Adjusts the run worker's options after they are read from `[runs]` (tests poll faster).
    #[must_use]
    pub fn tune_runs(
        mut self,
        tune: impl FnOnce(RunOptions) -> RunOptions + Send + 'static,
    ) -> Self {
        self.tune_runs = Some(Box::new(tune));
        self
    }

    /// Builds the application.
    ///
    /// # Errors
    /// A setting that does not read (policy, scorecards, on-call, identity, execution backends,
    /// `[runs]`, `[compliance]`, `[rollbacks]`), or a Slack client that cannot be built.
    pub fn build(self) -> anyhow::Result<App> {
        let settings = self.settings;
        let catalog = self.catalog;
        let policy = policy_of(settings)?;
        let snapshot = catalog.snapshot();
        let unknown: Vec<String> = policy
            .named_refs()
            .into_iter()
            .filter(|(_, r)| snapshot.get(r).is_none())
            .map(|(line, r)| format!("{} (line {line})", r.short()))
            .collect();
        if !unknown.is_empty() {
            tracing::warn!(unknown = %unknown.join(", "), "the policy names groups or users that are not in the catalog");
        }
        let oncall = crate::oncall::OnCallService::new(
            &settings.file.oncall,
            &settings.pagerduty_api_url,
            settings.pagerduty_token.clone(),
        )
        .map_err(anyhow::Error::msg)?;
        for w in crate::oncall::catalog_warnings(&settings.file.oncall, &snapshot) {
            tracing::warn!(problem = %w, "on-call rotation");
        }
        let slack = match &settings.bot_token {
            Some(token) => Some(
                crate::slack::client::SlackApi::new(
                    &settings.slack_api_url,
                    token,
                    Duration::from_millis(1500),
                )
                .context("building the Slack client")?,
            ),
            None => None,
        };
        let identity = crate::identity::IdentityService::new(
            catalog.store().clone(),
            slack
                .clone()
                .map(|s| Arc::new(s) as Arc<dyn crate::identity::Directory>),
            &settings.file.identity,
        )
        .map_err(anyhow::Error::msg)?;
        let audit = crate::audit::AuditLog::start(catalog.store().clone());
        let policy = Arc::new(policy);
        let defaults = template_defaults(settings)?;
        let executors = Arc::new(
            Executors::new(crate::exec::ExecConfig::from_settings(settings))
                .map_err(anyhow::Error::msg)?,
        );
        let notifier: Arc<dyn crate::actions::RunNotifier> = match (&slack, self.audience) {
            (_, Audience::Shell) => Arc::new(crate::shell_form::ShellNotifier::default()),
            (Some(api), Audience::Slack) => Arc::new(
                crate::slack::run_notifier::SlackRunNotifier::new(api.clone()),
            ),
            (None, Audience::Slack) => Arc::new(crate::actions::service::Silent),
        };
        let mut options = run_options(settings);
        if let Some(tune) = self.tune_runs {
            options = tune(options);
        }
        let runs = Arc::new(
            RunService::new(
                catalog.clone(),
                policy.clone(),
                executors.clone(),
                notifier,
                options,
            )
            .with_audit(audit.clone()),
        );
        let mut state = AppState::with_services(catalog, policy, Arc::new(oncall), self.verifier)
            .with_identity(Arc::new(identity))
            .with_audit(audit)
            .with_runs(runs)
            .with_templates(defaults)
            .with_rollbacks(rollback_settings(&settings.file.rollbacks)?);
        if let Some(api) = slack {
            state = state.with_slack(api);
        }
        let definitions = match self.scorecards {
            Some(given) => given,
            None => scorecards_of(settings)?,
        };
        let mut scorer = None;
        if let Some(definitions) = definitions {
            let config = &settings.file.scorecards;
            let built = Arc::new(Scorer::new(
                definitions,
                state.catalog.clone(),
                state.oncall.clone(),
                crate::scorecards::ScorerOptions {
                    poll_every: Duration::from_secs(config.poll_interval_secs),
                    refresh_every: Duration::from_secs(config.refresh_interval_secs),
                },
            ));
            state = state.with_scorecards(built.clone());
            scorer = Some(built);
        }
        let digests = match (&scorer, self.audience) {
            (Some(scorer), Audience::Slack) => {
                let scheduler = digest_scheduler(&state, scorer.clone(), settings);
                if scheduler.is_none() {
                    tracing::warn!(
                        "no Slack bot token: scorecard digests are not posted (subscriptions wait)"
                    );
                }
                scheduler
            }
            _ => None,
        };
        let catalog_config = &settings.file.catalog;
        Ok(App {
            state: Arc::new(state),
            executors,
            scorer,
            digests,
            events: EventsSettings {
                sources: settings.event_sources.clone(),
                github_secret: settings.github_webhook_secret.clone(),
                deploy_workflows: settings.file.events.github.deploy_workflows.clone(),
            },
            catalog_sync: CatalogSync {
                sources: settings.sources(),
                refresh_every: (catalog_config.refresh_interval_secs > 0)
                    .then(|| Duration::from_secs(catalog_config.refresh_interval_secs)),
                poll_every: Duration::from_secs(catalog_config.poll_interval_secs.max(1)),
            },
        })
    }
}

/// The policy named in `idp.toml`, or the built-in one; its warnings are logged.
///
/// # Errors
/// The policy file does not read.
pub fn policy_of(settings: &Settings) -> anyhow::Result<Policy> {
    let policy = match &settings.file.authz.policy {
        Some(path) => Policy::load(&settings.resolve_path(path))?,
        None => Policy::builtin(),
    };
    for w in &policy.warnings {
        tracing::warn!(problem = %w, "policy");
    }
    Ok(policy)
}

/// The scorecards named by `[scorecards] file`, checked; `None` when none is configured.
///
/// # Errors
/// Every problem of the file, one line each with file and line.
pub fn scorecards_of(settings: &Settings) -> anyhow::Result<Option<Arc<Scorecards>>> {
    let Some(path) = &settings.file.scorecards.file else {
        return Ok(None);
    };
    let definitions = crate::scorecards::load(&settings.resolve_path(path))
        .map_err(|e| anyhow::anyhow!("the scorecards file is invalid:\n{e}"))?;
    Ok(Some(Arc::new(definitions)))
}

/// The digest scheduler: digests made from `scorer` ([`crate::scorecards::source::ScorerDigests`])
/// and posted with the state's Slack client, on the system clock, with `[digests]` settings.
/// `None` without a Slack client.
fn digest_scheduler(
    state: &AppState,
    scorer: Arc<Scorer>,
    settings: &Settings,
) -> Option<Arc<Scheduler<Digest>>> {
    use crate::scorecards::scheduler::SystemClock;
    let api = state.slack.clone()?;
    let sink = crate::slack::digest_sink::SlackDigestSink::new(
        api,
        crate::slack::scorecard_message::render_digest,
    );
    Some(Arc::new(Scheduler::new(
        state.catalog.clone(),
        Arc::new(crate::scorecards::source::ScorerDigests::new(scorer)),
        Arc::new(sink),
        Arc::new(SystemClock),
        settings.file.digests.scheduler_options(),
    )))
}

/// The worker's options from `[runs]` and `IDP_PUBLIC_URL`.
fn run_options(settings: &Settings) -> RunOptions {
    let runs = &settings.file.runs;
    RunOptions {
        poll_every: Duration::from_secs(runs.poll_interval_secs),
        stale_after: Duration::from_secs(runs.stale_after_mins * 60),
        max_attempts: i64::from(runs.max_attempts),
        public_url: settings.public_url.clone(),
        ..RunOptions::default()
    }
}

/// Reads a `default_execution` setting: `webhook`, `github-actions:<owner>/<repo>/<workflow>@<ref>`,
/// or one of `others` (answered `None`).
fn execution_setting(
    key: &str,
    value: &str,
    others: &[&str],
) -> anyhow::Result<Option<crate::exec::Execution>> {
    match value.trim() {
        "webhook" => Ok(Some(crate::exec::Execution::Webhook)),
        v if others.contains(&v) => Ok(None),
        other => match other.strip_prefix("github-actions:") {
            Some(workflow) => crate::templates::parse_github_workflow(workflow)
                .map(Some)
                .map_err(|e| anyhow::anyhow!("{key}: {e}")),
            None => anyhow::bail!(
                "{key}: `{other}` is not {}, webhook or github-actions:<owner>/<repo>/<workflow>@<ref>",
                others.join(", ")
            ),
        },
    }
}

/// `[rollbacks]`, checked: the channel regex compiles, the TTL is sane, the backend reads.
///
/// # Errors
/// One line naming the key and the problem.
pub fn rollback_settings(
    file: &crate::config::RollbacksConfig,
) -> anyhow::Result<crate::actions::rollback::RollbackSettings> {
    let mut settings = crate::actions::rollback::RollbackSettings::default();
    if let Some(pattern) = file.service_from_channel.as_deref() {
        settings.service_from_channel = if pattern.trim().is_empty() {
            None
        } else {
            Some(regex::Regex::new(pattern).map_err(|e| {
                anyhow::anyhow!("[rollbacks] service_from_channel is not a valid regex: {e}")
            })?)
        };
    }
    if let Some(env) = file.default_environment.as_deref() {
        let env = env.trim();
        if env.is_empty() || env.len() > 63 || env.contains(char::is_whitespace) {
            anyhow::bail!(
                "[rollbacks] default_environment must be one word of at most 63 characters, like production"
            );
        }
        env.clone_into(&mut settings.default_environment);
    }
    if let Some(ttl) = file.approval_ttl_mins {
        if !(1..=1440).contains(&ttl) {
            anyhow::bail!("[rollbacks] approval_ttl_mins must be 1 to 1440 minutes, not {ttl}");
        }
        settings.approval_ttl_mins = ttl;
    }
    if let Some(value) = file.default_execution.as_deref() {
        settings.default_execution =
            execution_setting("[rollbacks] default_execution", value, &["none"])?;
    }
    Ok(settings)
}

/// `[runs] default_execution` and `[compliance]`, checked.
///
/// # Errors
/// One line naming the key and the problem.
pub fn template_defaults(
    settings: &Settings,
) -> anyhow::Result<crate::templates::TemplateDefaults> {
    let execution = match settings.file.runs.default_execution.as_deref() {
        None => None,
        Some(v) if v.trim().is_empty() => None,
        Some(v) => execution_setting("[runs] default_execution", v, &["backstage"])?,
    };
    let problems = settings.file.compliance.validate();
    if !problems.is_empty() {
        anyhow::bail!("[compliance]: {}", problems.join("; "));
    }
    Ok(crate::templates::TemplateDefaults {
        execution,
        compliance: settings.file.compliance.clone(),
    })
}
