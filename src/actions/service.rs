//! [`RunService`]: submitting runs, the worker loop, callbacks and cancellation.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use tokio::sync::Notify;

use super::run::{Requester, Run, RunStatus, execution_label, now_ms};
use crate::audit::{AuditDecision, AuditEntry, AuditLog, AuditOrigin};
use crate::authz::{self, Action, Caller, ChannelKind, Origin, Policy};
use crate::catalog::fetch::{DescriptorFetcher, HttpFetcher};
use crate::catalog::{CatalogService, EntityRef};
use crate::exec::{DispatchRequest, Dispatched, ExecError, Execution, Progress};
use crate::store::{Store, StoreError};

/// The systems runs are handed to. [`crate::exec::Executors`] is the real one.
#[async_trait]
pub trait Delegate: Send + Sync {
    /// Hands a run over.
    ///
    /// # Errors
    /// [`ExecError`]; transient ones are retried by the worker.
    async fn dispatch(&self, request: &DispatchRequest) -> Result<Dispatched, ExecError>;

    /// Asks the backend where a run stands. Backends that only report by callback answer
    /// [`Progress::Pending`].
    ///
    /// # Errors
    /// [`ExecError`].
    async fn poll(
        &self,
        execution: &Execution,
        run_id: &str,
        external_id: Option<&str>,
        dispatched_at: DateTime<Utc>,
    ) -> Result<Progress, ExecError>;

    /// Whether the worker should poll runs of this backend (otherwise it waits for callbacks).
    fn polls(&self, execution: &Execution) -> bool;

    /// Whether this backend is set up at all; the reason names the setting that is missing.
    ///
    /// # Errors
    /// What to configure.
    fn check(&self, _execution: &Execution) -> Result<(), String> {
        Ok(())
    }
}

/// Why a run could not be shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// The chat system refused for good (no such channel, no permission): this version of the
    /// run is given up on, and the next change tries again.
    #[error("{0}")]
    Refused(String),
    /// Worth trying again later (timeout, rate limit, unreachable).
    #[error("{0}")]
    Unavailable(String),
}

/// Shows runs to people: the status message (posted once, then updated in place) and thread
/// replies. The Slack implementation lives in `slack/`; the shell prints.
#[async_trait]
pub trait RunNotifier: Send + Sync {
    /// Posts or updates the run's status message; returns `(channel, ts)` of the message when it
    /// was posted or moved.
    ///
    /// # Errors
    /// [`NotifyError`]; an unavailable chat system is retried after the run's lease runs out.
    async fn show(&self, run: &Run) -> Result<Option<(String, String)>, NotifyError>;

    /// Adds a reply in the status message's thread (failures are told there too).
    ///
    /// # Errors
    /// A message for the log.
    async fn thread_reply(&self, run: &Run, text: &str) -> Result<(), String>;
}

/// A notifier that tells nobody (runs with no channel, tests of the queue alone).
#[derive(Debug, Default)]
pub struct Silent;

#[async_trait]
impl RunNotifier for Silent {
    async fn show(&self, _run: &Run) -> Result<Option<(String, String)>, NotifyError> {
        Ok(None)
    }

    async fn thread_reply(&self, _run: &Run, _text: &str) -> Result<(), String> {
        Ok(())
    }
}

/// How the worker behaves. Durations are wall-clock.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// How long a claimed run is reserved for one worker (a crashed worker's runs come back after).
    pub lease: Duration,
    /// How often runs of polling backends are polled.
    pub poll_every: Duration,
    /// A dispatched run with no news for this long fails ("no status from CI for 30 min").
    pub stale_after: Duration,
    /// Dispatch attempts before a run fails for good.
    pub max_attempts: i64,
    /// First retry delay; doubles each attempt (with jitter) up to `max_backoff`.
    pub min_backoff: Duration,
    /// Longest retry delay, and the cap on a backend's `Retry-After`.
    pub max_backoff: Duration,
    /// Runs claimed per round.
    pub batch: i64,
    /// Runs processed at once.
    pub concurrency: usize,
    /// How long the worker sleeps when there is nothing to do (it also wakes on news).
    pub idle: Duration,
    /// idp's public base URL; callbacks go to `{public_url}/hooks/runs/{id}`.
    pub public_url: String,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(60),
            poll_every: Duration::from_secs(10),
            stale_after: Duration::from_secs(30 * 60),
            max_attempts: 8,
            min_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(300),
            batch: 64,
            concurrency: 32,
            idle: Duration::from_secs(1),
            public_url: "http://127.0.0.1:3000".to_owned(),
        }
    }
}

/// Why a run could not be recorded or changed.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No such run.
    #[error("there is no run `{0}`")]
    UnknownRun(String),
    /// This process cannot record runs (no worker configured).
    #[error("{0}")]
    NotConfigured(String),
    /// The run kept changing under us.
    #[error("run `{0}` is changing too fast to update; try again")]
    Contended(String),
}

/// Runs: recording, working, following, cancelling.
pub struct RunService {
    store: Store,
    catalog: Arc<CatalogService>,
    policy: Arc<Policy>,
    delegate: Arc<dyn Delegate>,
    notifier: Arc<dyn RunNotifier>,
    audit: Option<AuditLog>,
    options: RunOptions,
    wake: Notify,
    worker_id: String,
    fetcher: Arc<dyn DescriptorFetcher>,
    /// When old modal sessions were last deleted (Unix ms).
    last_cleanup: std::sync::atomic::AtomicI64,
}

impl std::fmt::Debug for RunService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunService")
            .field("worker_id", &self.worker_id)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// The caller a stored requester stands for, to ask the policy again.
pub fn caller_of(requester: &Requester) -> Caller {
    let origin = match requester.origin.as_str() {
        "slack" => Origin::Slack {
            team_id: requester.team_id.clone().unwrap_or_default(),
            user_id: requester.slack_user_id.clone().unwrap_or_default(),
            channel_id: requester.channel_id.clone().unwrap_or_default(),
        },
        "api" => Origin::Api,
        _ => Origin::Shell,
    };
    let user = requester
        .user
        .as_deref()
        .and_then(|k| EntityRef::parse(k, Some("user"), "default").ok());
    let channel = match requester.channel_kind.split_once(':') {
        Some(("incident", name)) => ChannelKind::Incident(name.to_owned()),
        _ if requester.channel_kind == "direct_message" => ChannelKind::DirectMessage,
        Some(("other", name)) if !name.is_empty() => ChannelKind::Other(Some(name.to_owned())),
        _ => ChannelKind::Other(None),
    };
    Caller {
        origin,
        user,
        guest_reason: None,
        channel,
    }
}

/// How a caller's channel is stored in a [`Requester`]: `incident:<name>`, `direct_message`,
/// `other:<name>` or `other:`.
pub fn channel_kind_text(kind: &ChannelKind) -> String {
    match kind {
        ChannelKind::Incident(name) => format!("incident:{name}"),
        ChannelKind::DirectMessage => "direct_message".to_owned(),
        ChannelKind::Other(name) => format!("other:{}", name.as_deref().unwrap_or_default()),
    }
}

/// The requester record for a caller.
pub fn requester_of(caller: &Caller) -> Requester {
    let mut r = Requester {
        user: caller.user.as_ref().map(EntityRef::key),
        origin: "shell".to_owned(),
        channel_kind: channel_kind_text(&caller.channel),
        ..Requester::default()
    };
    match &caller.origin {
        Origin::Slack {
            team_id,
            user_id,
            channel_id,
        } => {
            r.origin = "slack".to_owned();
            r.team_id = Some(team_id.clone());
            r.slack_user_id = Some(user_id.clone());
            r.channel_id = Some(channel_id.clone());
        }
        Origin::Api => r.origin = "api".to_owned(),
        Origin::Shell => {}
    }
    r
}

fn to_utc(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_else(Utc::now)
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl RunService {
    /// A service over the store; nothing runs until [`RunService::run_worker`] is spawned.
    pub fn new(
        catalog: Arc<CatalogService>,
        policy: Arc<Policy>,
        delegate: Arc<dyn Delegate>,
        notifier: Arc<dyn RunNotifier>,
        options: RunOptions,
    ) -> Self {
        Self {
            store: catalog.store().clone(),
            catalog,
            policy,
            delegate,
            notifier,
            audit: None,
            options,
            wake: Notify::new(),
            worker_id: format!(
                "worker-{}",
                hex::encode(crate::audit::token::random_bytes::<4>())
            ),
            fetcher: Arc::new(HttpFetcher::new()),
            last_cleanup: std::sync::atomic::AtomicI64::new(0),
        }
    }

    /// The same service recording every step in the audit log.
    #[must_use]
    pub fn with_audit(mut self, audit: AuditLog) -> Self {
        self.audit = Some(audit);
        self
    }

    /// The same service reading finished runs' descriptor locations through `fetcher` (the
    /// default is [`HttpFetcher`]).
    #[must_use]
    pub fn with_fetcher(mut self, fetcher: Arc<dyn DescriptorFetcher>) -> Self {
        self.fetcher = fetcher;
        self
    }

    /// The same service showing runs through `notifier`.
    #[must_use]
    pub fn with_notifier(mut self, notifier: Arc<dyn RunNotifier>) -> Self {
        self.notifier = notifier;
        self
    }

    /// Whether runs on `execution` can be handed over here (the backend is configured).
    ///
    /// # Errors
    /// What to configure.
    pub fn check_backend(&self, execution: &Execution) -> Result<(), String> {
        self.delegate.check(execution)
    }

    /// The worker's options.
    pub fn options(&self) -> &RunOptions {
        &self.options
    }

    /// The store runs live in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Records a new run (or finds the one with the same idempotency key) and wakes the worker.
    /// Returns the stored run and whether this call created it.
    ///
    /// # Errors
    /// [`SubmitError::Store`].
    pub async fn submit(&self, run: Run) -> Result<(Run, bool), SubmitError> {
        let (stored, created) = self.store.insert_run(&run).await?;
        if created {
            self.audit_run(&stored, "run.queued", AuditDecision::Allow, None)
                .await;
            self.wake.notify_one();
        } else {
            tracing::info!(run = %stored.id, key = %stored.idempotency_key, "the same request again: no second run");
        }
        Ok((stored, created))
    }

    /// The run with this id.
    ///
    /// # Errors
    /// [`SubmitError::Store`].
    pub async fn get(&self, id: &str) -> Result<Option<Run>, SubmitError> {
        Ok(self.store.run(id).await?)
    }

    /// Reads a run, lets `change` edit it, and writes it back if nobody changed it meanwhile
    /// (retrying a few times). Returns the run as stored and whether `change` changed it.
    async fn mutate(
        &self,
        id: &str,
        mut change: impl FnMut(&mut Run),
    ) -> Result<(Run, bool), SubmitError> {
        for _ in 0..8 {
            let Some(mut run) = self.store.run(id).await? else {
                return Err(SubmitError::UnknownRun(id.to_owned()));
            };
            let before = run.clone();
            change(&mut run);
            if run == before {
                return Ok((run, false));
            }
            let now = now_ms();
            if self.store.update_run(&run, now).await? {
                run.version += 1;
                run.updated_at = now;
                return Ok((run, true));
            }
        }
        Err(SubmitError::Contended(id.to_owned()))
    }

    /// Cancels a queued run on someone's request. Returns the run and whether it was cancelled
    /// (a run already handed over cannot be).
    ///
    /// # Errors
    /// [`SubmitError`].
    pub async fn cancel(&self, id: &str, by: &str) -> Result<(Run, bool), SubmitError> {
        let now = now_ms();
        let (run, changed) = self.mutate(id, |r| _ = r.cancel(by, now)).await?;
        if changed {
            self.audit_run(&run, "run.cancelled", AuditDecision::Allow, Some(by))
                .await;
            self.wake.notify_one();
        }
        Ok((run, changed))
    }

    /// Approves a run waiting for an approval: it is queued for the worker. Returns the run and
    /// whether it was approved now.
    ///
    /// # Errors
    /// [`SubmitError`].
    pub async fn approve(&self, id: &str, by: &str) -> Result<(Run, bool), SubmitError> {
        let now = now_ms();
        let (run, changed) = self.mutate(id, |r| _ = r.approve(by, now)).await?;
        if changed {
            self.audit_run(&run, "run.approved", AuditDecision::Allow, Some(by))
                .await;
            self.wake.notify_one();
        }
        Ok((run, changed))
    }

    /// Applies a backend's report (a callback or a webhook). Returns the run and whether it
    /// changed (an old or repeated report changes nothing).
    ///
    /// # Errors
    /// [`SubmitError::UnknownRun`] for a run idp does not know.
    pub async fn report(
        &self,
        id: &str,
        progress: &Progress,
        sequence: Option<i64>,
    ) -> Result<(Run, bool), SubmitError> {
        let now = now_ms();
        let (run, changed) = self
            .mutate(id, |r| {
                if r.apply(progress, sequence, now) && !r.status.is_finished() {
                    self.schedule_check(r, now);
                }
            })
            .await?;
        if changed {
            self.after_progress(&run, progress).await;
            self.wake.notify_one();
        }
        Ok((run, changed))
    }

    /// When the worker should next look at a dispatched run: the next poll, or when silence
    /// would make it stale.
    fn schedule_check(&self, run: &mut Run, now: i64) {
        run.next_attempt_at = if self.delegate.polls(&run.execution) {
            now + ms(self.options.poll_every)
        } else {
            run.last_news_at.unwrap_or(now) + ms(self.options.stale_after)
        };
    }

    async fn after_progress(&self, run: &Run, progress: &Progress) {
        match progress {
            Progress::Succeeded {
                descriptor,
                location,
                ..
            } => {
                let outcome = super::created::register(
                    &self.catalog,
                    self.fetcher.as_ref(),
                    run,
                    descriptor.as_deref(),
                    location.as_deref(),
                )
                .await;
                let mut notes = match &outcome {
                    Ok(done) => {
                        let mut n = done.notes.clone();
                        n.push(format!("{} is in the catalog", done.entity));
                        n
                    }
                    Err(e) => vec![format!(
                        "The new component could not be added to the catalog: {e}"
                    )],
                };
                if let Err(e) = &outcome {
                    tracing::warn!(run = %run.id, error = %e, "a finished run's component was not catalogued");
                }
                notes.dedup();
                let now = now_ms();
                let _ = self
                    .mutate(&run.id, |r| {
                        for note in &notes {
                            if !r.steps.iter().any(|s| &s.name == note) {
                                r.steps.push(super::run::RunStep {
                                    name: note.clone(),
                                    url: None,
                                    at: now,
                                });
                            }
                        }
                    })
                    .await;
                self.audit_run(run, "run.succeeded", AuditDecision::Allow, None)
                    .await;
            }
            Progress::Failed { .. } => {
                self.audit_run(run, "run.failed", AuditDecision::Allow, None)
                    .await;
            }
            _ => {}
        }
    }

    /// Wakes the worker now (new runs, news to show).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The worker loop: claims and processes due runs until `shutdown` resolves. Runs on every
    /// replica; leases keep them from working on the same run.
    pub async fn run_worker(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        tracing::info!(worker = %self.worker_id, "run worker started");
        loop {
            let worked = match self.work_once().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(error = %e, "run worker could not claim runs; retrying");
                    0
                }
            };
            if worked > 0 {
                continue;
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.options.idle) => {}
            }
        }
        tracing::info!(worker = %self.worker_id, "run worker stopped");
    }

    /// One round: claims up to a batch of due runs and processes them concurrently. Returns how
    /// many were claimed.
    ///
    /// # Errors
    /// [`StoreError`] when claiming fails.
    pub async fn work_once(&self) -> Result<usize, StoreError> {
        use futures_util::StreamExt;
        let now = now_ms();
        let runs = self
            .store
            .claim_runs(
                &self.worker_id,
                now,
                now + ms(self.options.lease),
                self.options.batch,
            )
            .await?;
        let n = runs.len();
        futures_util::stream::iter(runs)
            .for_each_concurrent(self.options.concurrency, |run| self.process(run, now))
            .await;
        // Forms left open for a day are gone for good; tidy them up every ten minutes at most.
        let last = self.last_cleanup.load(std::sync::atomic::Ordering::Relaxed);
        if n == 0 && now - last > 10 * 60 * 1000 {
            self.last_cleanup
                .store(now, std::sync::atomic::Ordering::Relaxed);
            if let Err(e) = self
                .store
                .expire_modal_sessions(now - 24 * 3600 * 1000)
                .await
            {
                tracing::warn!(error = %e, "old forms could not be deleted");
            }
            if let Err(e) = self.store.expire_deliveries(now - 24 * 3600 * 1000).await {
                tracing::warn!(error = %e, "old Slack deliveries could not be deleted");
            }
        }
        Ok(n)
    }

    /// Works on a claimed run. Whether it is due is judged at `claimed_at`, the instant the claim
    /// counted the attempt: a run claimed only to update its message must not be dispatched
    /// because its backoff ran out between the claim and now (that attempt would go uncounted).
    async fn process(&self, run: Run, claimed_at: i64) {
        let id = run.id.clone();
        let due = run.next_attempt_at <= claimed_at;
        let result = match run.status {
            RunStatus::Queued if due => self.dispatch(run).await,
            RunStatus::Dispatched | RunStatus::Running if due => self.check(run).await,
            _ => Ok(()),
        };
        if let Err(e) = result {
            tracing::error!(run = %id, error = %e, "run could not be processed; it will be retried");
        }
        match self.notify(&id).await {
            Ok(true) => {}
            // Shown later: keep the lease until it runs out, so the retry waits that long.
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(run = %id, error = %e, "status message not updated; will retry");
            }
        }
        if let Err(e) = self.store.release_run(&id, &self.worker_id).await {
            tracing::warn!(run = %id, error = %e, "lease not released; it expires by itself");
        }
    }

    /// Asks the policy again, just before delegating: memberships or rules may have changed.
    fn reauthorize(&self, run: &Run) -> Result<(), String> {
        let caller = caller_of(&run.requester);
        let snapshot = self.catalog.snapshot();
        let target = run
            .target
            .as_deref()
            .and_then(|t| EntityRef::parse(t, None, "default").ok())
            .and_then(|t| snapshot.get(&t));
        if run.target.is_some() && target.is_none() {
            return Err(format!(
                "{} is no longer in the catalog",
                run.target.as_deref().unwrap_or_default()
            ));
        }
        match run.kind {
            super::RunKind::Template => {
                let decision = authz::decide_on(
                    &self.policy,
                    &snapshot,
                    &caller,
                    Action::TemplateRun,
                    target,
                    Utc::now(),
                );
                if decision.allowed() {
                    Ok(())
                } else {
                    Err(decision.reason)
                }
            }
            // A rollback was allowed at confirmation (on call then) or approved since; what can
            // still stop it is a refusal: a freeze that began, a membership that ended.
            super::RunKind::Rollback => {
                let groups = authz::groups_of(&snapshot, caller.user.as_ref());
                let facts = target.map(|i| authz::TargetFacts::of(&snapshot, i));
                let environment = run
                    .inputs
                    .get("environment")
                    .and_then(serde_json::Value::as_str);
                let decision = authz::decide(
                    &self.policy,
                    &authz::AccessRequest {
                        action: Action::Rollback,
                        caller: &caller,
                        groups: &groups,
                        target: facts.as_ref(),
                        environment,
                        on_call: authz::OnCallStatus::NotAsked,
                        requester: None,
                        now: Utc::now(),
                    },
                );
                match decision.outcome {
                    authz::Outcome::Deny => Err(decision.reason),
                    _ => Ok(()),
                }
            }
        }
    }

    fn backoff(&self, attempts: i64) -> Duration {
        use backon::BackoffBuilder;
        let n = usize::try_from(attempts.max(1) - 1).unwrap_or(0);
        backon::ExponentialBuilder::default()
            .with_min_delay(self.options.min_backoff)
            .with_max_delay(self.options.max_backoff)
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(n + 1)
            .build()
            .nth(n)
            .unwrap_or(self.options.max_backoff)
    }

    async fn dispatch(&self, run: Run) -> Result<(), SubmitError> {
        let now = now_ms();
        if let Err(reason) = self.reauthorize(&run) {
            let message = format!("not allowed any more: {reason}");
            let (run, _) = self
                .mutate(&run.id, |r| r.mark_failed(message.clone(), now))
                .await?;
            self.audit_run(&run, "run.denied", AuditDecision::Deny, Some(&reason))
                .await;
            return Ok(());
        }
        // A second attempt may follow a crash mid-dispatch: ask a backend that can tell whether the
        // first one arrived before sending it again.
        if run.attempts > 1
            && self.delegate.polls(&run.execution)
            && let Ok(progress @ Progress::Running { .. }) = self
                .delegate
                .poll(
                    &run.execution,
                    &run.id,
                    run.external_id.as_deref(),
                    to_utc(run.created_at),
                )
                .await
        {
            tracing::info!(run = %run.id, "found the run at the backend already; not dispatching again");
            let (run, _) = self
                .mutate(&run.id, |r| {
                    r.mark_dispatched(None, None, now);
                    r.apply(&progress, None, now);
                    self.schedule_check(r, now);
                })
                .await?;
            self.audit_run(&run, "run.dispatched", AuditDecision::Allow, None)
                .await;
            return Ok(());
        }
        let request = DispatchRequest {
            run_id: run.id.clone(),
            kind: run.kind.as_str().to_owned(),
            template: run.template.clone().unwrap_or_default(),
            execution: run.execution.clone(),
            inputs: run.inputs.clone(),
            requested_by: run
                .requester
                .user
                .clone()
                .unwrap_or_else(|| run.requested_by.clone()),
            callback_url: format!(
                "{}/hooks/runs/{}",
                self.options.public_url.trim_end_matches('/'),
                run.id
            ),
            controls: run.controls.controls.clone(),
            labels: run.controls.labels.clone(),
        };
        match self.delegate.dispatch(&request).await {
            Ok(dispatched) => {
                let (run, _) = self
                    .mutate(&run.id, |r| {
                        r.mark_dispatched(
                            dispatched.external_id.clone(),
                            dispatched.url.clone(),
                            now,
                        );
                        // What the backend did on the way (Argo CD turning auto-sync off).
                        for note in &dispatched.notes {
                            if !r.steps.iter().any(|s| &s.name == note) {
                                r.steps.push(super::run::RunStep {
                                    name: note.clone(),
                                    url: None,
                                    at: now,
                                });
                            }
                        }
                        if !r.status.is_finished() {
                            self.schedule_check(r, now);
                        }
                    })
                    .await?;
                self.audit_run(&run, "run.dispatched", AuditDecision::Allow, None)
                    .await;
            }
            Err(e) if e.is_transient() => {
                let wait = e.retry_after().map_or_else(
                    || self.backoff(run.attempts),
                    |d| d.min(self.options.max_backoff),
                );
                let message = e.to_string();
                tracing::warn!(run = %run.id, attempt = run.attempts, wait_ms = ms(wait), error = %message, "dispatch failed; will retry");
                let max = self.options.max_attempts;
                let (run, _) = self
                    .mutate(&run.id, |r| {
                        r.mark_retry(message.clone(), now + ms(wait), max, now);
                    })
                    .await?;
                if run.status == RunStatus::Failed {
                    self.audit_run(&run, "run.failed", AuditDecision::Allow, Some(&message))
                        .await;
                }
            }
            Err(e) => {
                let message = e.to_string();
                tracing::warn!(run = %run.id, error = %message, "dispatch refused");
                let (run, _) = self
                    .mutate(&run.id, |r| r.mark_failed(message.clone(), now))
                    .await?;
                self.audit_run(&run, "run.failed", AuditDecision::Allow, Some(&message))
                    .await;
            }
        }
        Ok(())
    }

    async fn check(&self, run: Run) -> Result<(), SubmitError> {
        let now = now_ms();
        let silent_for = now - run.last_news_at.or(run.dispatched_at).unwrap_or(now);
        if silent_for >= ms(self.options.stale_after) {
            let minutes = self.options.stale_after.as_secs() / 60;
            let message = format!(
                "no status from {} for {minutes} min",
                match run.execution {
                    Execution::Webhook => "the webhook backend",
                    _ => "CI",
                }
            );
            let (run, _) = self
                .mutate(&run.id, |r| r.mark_failed(message.clone(), now))
                .await?;
            self.audit_run(&run, "run.failed", AuditDecision::Allow, Some(&message))
                .await;
            return Ok(());
        }
        if !self.delegate.polls(&run.execution) {
            self.mutate(&run.id, |r| self.schedule_check(r, now))
                .await?;
            return Ok(());
        }
        let polled = self
            .delegate
            .poll(
                &run.execution,
                &run.id,
                run.external_id.as_deref(),
                to_utc(run.dispatched_at.unwrap_or(run.created_at)),
            )
            .await;
        match polled {
            Ok(Progress::Pending) => {
                self.mutate(&run.id, |r| {
                    r.next_attempt_at = now + ms(self.options.poll_every);
                })
                .await?;
            }
            Ok(progress) => {
                let (run, changed) = self
                    .mutate(&run.id, |r| {
                        r.apply(&progress, None, now);
                        if !r.status.is_finished() {
                            r.next_attempt_at = now + ms(self.options.poll_every);
                        }
                    })
                    .await?;
                if changed {
                    self.after_progress(&run, &progress).await;
                }
            }
            Err(e) if e.is_transient() => {
                let wait = e.retry_after().unwrap_or(self.options.poll_every * 2);
                tracing::warn!(run = %run.id, error = %e, "poll failed; will poll again");
                self.mutate(&run.id, |r| r.next_attempt_at = now + ms(wait))
                    .await?;
            }
            Err(e) => {
                let message = e.to_string();
                let (run, _) = self
                    .mutate(&run.id, |r| r.mark_failed(message.clone(), now))
                    .await?;
                self.audit_run(&run, "run.failed", AuditDecision::Allow, Some(&message))
                    .await;
            }
        }
        Ok(())
    }

    /// Brings the status message up to the run's current version. Returns `false` when the chat
    /// system was unavailable and the message should be tried again later.
    async fn notify(&self, id: &str) -> Result<bool, SubmitError> {
        let Some(run) = self.store.run(id).await? else {
            return Ok(true);
        };
        if run.notified_version >= run.version {
            return Ok(true);
        }
        match self.notifier.show(&run).await {
            Ok(place) => {
                let (channel, ts) = place.unzip();
                let mut run = run;
                if ts.is_some() {
                    run.message_ts.clone_from(&ts);
                    run.channel_id = channel.clone().or(run.channel_id);
                }
                let tell = run.status == RunStatus::Failed
                    && run.message_ts.is_some()
                    && !run.failure_told;
                if tell {
                    let text = format!(
                        "The run failed: {}",
                        run.error.as_deref().unwrap_or("no reason given")
                    );
                    if let Err(e) = self.notifier.thread_reply(&run, &text).await {
                        tracing::warn!(run = %run.id, error = %e, "failure not told in the thread");
                    }
                    // Not a change people need to see: the version (and the message) stay as they are.
                    self.store.mark_failure_told(&run.id).await?;
                }
                self.store
                    .mark_run_notified(&run.id, run.version, channel.as_deref(), ts.as_deref())
                    .await?;
                Ok(true)
            }
            Err(NotifyError::Refused(e)) => {
                tracing::warn!(run = %run.id, error = %e, "the status message was refused; giving up on this update");
                self.store
                    .mark_run_notified(&run.id, run.version, None, None)
                    .await?;
                Ok(true)
            }
            Err(NotifyError::Unavailable(e)) => {
                tracing::warn!(run = %run.id, error = %e, "status message not shown; will retry after the lease");
                Ok(false)
            }
        }
    }

    async fn audit_run(
        &self,
        run: &Run,
        outcome: &str,
        decision: AuditDecision,
        reason: Option<&str>,
    ) {
        let Some(audit) = &self.audit else { return };
        let mut entry = AuditEntry::new(
            AuditOrigin::Worker,
            run.id.clone(),
            match run.kind {
                super::RunKind::Template => "template.run",
                super::RunKind::Rollback => "rollback",
            },
            match run.kind {
                super::RunKind::Template => "new-service",
                super::RunKind::Rollback => "rollback",
            },
        )
        .with_outcome(outcome)
        .with_arguments(serde_json::json!({
            "run_id": run.id,
            "template": run.template,
            "subject": run.subject,
            "backend": execution_label(&run.execution),
            "status": run.status.as_str(),
            "attempts": run.attempts,
            "external_id": run.external_id,
            "external_url": run.external_url,
            "error": run.error,
        }))
        .with_decision(decision, None, reason.map(str::to_owned));
        entry.user_ref.clone_from(&run.requester.user);
        entry.slack_team_id.clone_from(&run.requester.team_id);
        entry.slack_user_id.clone_from(&run.requester.slack_user_id);
        entry.channel_id.clone_from(&run.channel_id);
        entry.target.clone_from(&run.target);
        if let Err(e) = audit.record(entry).await {
            tracing::error!(run = %run.id, error = %e, "a run step could not be recorded in the audit log");
        }
    }
}
