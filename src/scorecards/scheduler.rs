//! The digest scheduler: a task on every replica that posts each subscription's due period once.
//!
//! Every tick (`[digests] tick_secs`, and early when a period or a retry falls due sooner) it
//! reads the active subscriptions and, for each, the latest instant its schedule was due at or
//! before now ([`Schedule::latest_due_at_or_before`]). A period is posted when that instant is
//! after the subscription was made and the period is not posted yet:
//!
//! 1. **Claim** the period in the store ([`Store::claim_digest_period`]): one row per subscription
//!    and period, inserted before anything is sent. Of several replicas on one database only the
//!    one whose insert lands goes on.
//! 2. **Render** the digest with a [`DigestSource`] (what changed since the previous posted
//!    digest, [`Store::previous_digest_posted_at`]).
//! 3. **Deliver** it through a [`DigestSink`] (Slack in production, [`crate::slack::digest_sink`])
//!    and record the [`Delivery`]: posted; retry later (Slack's `Retry-After`, at most
//!    [`SchedulerOptions::max_attempts`] claims, then failed); paused (the subscription stops and
//!    its creator is told why); or failed.
//!
//! After downtime only the **latest** due period is posted, once: older missed periods are
//! skipped, not queued. A group that left the catalog pauses its subscriptions (unless the
//! catalog is empty, as before a first sync, when nothing is judged).
//!
//! **Lease**: a period claimed by a replica that died before recording the outcome can be claimed
//! again after [`SchedulerOptions::lease`] (default 5 minutes). If that replica had already posted,
//! the channel gets the digest twice; the lease is long enough that a live replica always
//! finishes first (a Slack call has its own timeout of seconds).

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use super::schedule::{Schedule, period_key};
use super::subscription::{Claim, PauseReason, Subscription};
use crate::catalog::{CatalogService, EntityRef, Snapshot};
use crate::store::{Store, StoreError};

/// Where the scheduler reads the time: the system clock in production, a hand-set one in tests.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until it is set or advanced (tests, simulations).
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }

    /// Shows `at` from now on.
    pub fn set(&self, at: DateTime<Utc>) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = at;
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Why a digest could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The group is not in the catalog (any more): the subscription is paused.
    #[error("the group is no longer in the catalog")]
    GroupGone,
    /// Anything else; the period is recorded as failed with this text.
    #[error("the digest could not be made: {0}")]
    Failed(String),
}

/// Makes the digest of a group: its scores and what changed since the previous digest.
#[async_trait]
pub trait DigestSource: Send + Sync {
    /// The rendered digest, free of Slack types; the sink turns it into a message.
    type Digest: Send + Sync;

    /// The digest of `group` at `now`, covering changes since `since` (the previous posted
    /// digest of this subscription; `None` for the first).
    ///
    /// # Errors
    /// [`SourceError`].
    async fn render(
        &self,
        group: &EntityRef,
        since: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Self::Digest, SourceError>;
}

/// What became of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Posted; the message's `ts`.
    Delivered {
        /// Slack's message timestamp.
        message_ts: String,
    },
    /// Not now: try again after `wait` (Slack's `Retry-After`, or a back-off for a passing error).
    RetryAfter {
        /// How long to wait.
        wait: Duration,
        /// What happened, for the record.
        error: String,
    },
    /// It cannot be posted until someone acts: pause the subscription and tell its creator.
    Paused(PauseReason),
    /// This period is given up (e.g. the message was refused, or a timeout left it unknown
    /// whether it was posted); the next period is tried as usual.
    Failed(String),
}

/// Delivers digests of type `D` to a subscription's channel and tells creators about pauses.
#[async_trait]
pub trait DigestSink<D>: Send + Sync {
    /// Posts `digest` to `subscription.channel_id`.
    async fn deliver(&self, subscription: &Subscription, digest: &D) -> Delivery;

    /// Tells the subscription's creator that it was paused, why, and how to fix it.
    ///
    /// # Errors
    /// Why the message could not be sent (logged; the pause stands).
    async fn tell_paused(
        &self,
        subscription: &Subscription,
        reason: &PauseReason,
    ) -> Result<(), String>;
}

/// How the scheduler behaves.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Time between ticks when nothing falls due sooner.
    pub tick: Duration,
    /// How long a claim holds before another instance may take the period over.
    pub lease: Duration,
    /// Claims of one period before it is recorded as failed (each `RetryAfter` costs one).
    pub max_attempts: i64,
    /// The longest wait honoured for one retry (a longer `Retry-After` is cut to this).
    pub max_wait: Duration,
    /// Subscriptions handled at once within a tick.
    pub concurrency: usize,
    /// This instance's name in claims (unique per process).
    pub instance: String,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(30),
            lease: Duration::from_secs(300),
            max_attempts: 5,
            max_wait: Duration::from_secs(900),
            concurrency: 8,
            instance: format!(
                "digests-{}",
                hex::encode(crate::audit::token::random_bytes::<4>())
            ),
        }
    }
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Periods posted.
    pub posted: usize,
    /// Periods set to be retried.
    pub retrying: usize,
    /// Periods given up.
    pub failed: usize,
    /// Subscriptions paused.
    pub paused: usize,
    /// Due periods another instance held (or that were posted, failed or not yet retryable).
    pub not_claimed: usize,
    /// The earliest retry this tick set, if any.
    pub next_retry_at: Option<DateTime<Utc>>,
    /// The earliest instant an active subscription is next due.
    pub next_due_at: Option<DateTime<Utc>>,
}

/// What became of one due period.
enum Handled {
    NotClaimed,
    Posted,
    Retrying(DateTime<Utc>),
    Failed,
    Paused,
}

/// The scheduler over a store, a catalog (to notice groups that are gone), a source of digests of
/// type `D`, a sink and a clock. See the module docs.
pub struct Scheduler<D> {
    store: Store,
    catalog: Arc<CatalogService>,
    source: Arc<dyn DigestSource<Digest = D>>,
    sink: Arc<dyn DigestSink<D>>,
    clock: Arc<dyn Clock>,
    options: SchedulerOptions,
}

impl<D> std::fmt::Debug for Scheduler<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl<D: Send + Sync + 'static> Scheduler<D> {
    /// A scheduler; nothing happens until [`Scheduler::tick`] or [`Scheduler::run`].
    pub fn new(
        catalog: Arc<CatalogService>,
        source: Arc<dyn DigestSource<Digest = D>>,
        sink: Arc<dyn DigestSink<D>>,
        clock: Arc<dyn Clock>,
        options: SchedulerOptions,
    ) -> Self {
        Self {
            store: catalog.store().clone(),
            catalog,
            source,
            sink,
            clock,
            options,
        }
    }

    /// The options.
    pub fn options(&self) -> &SchedulerOptions {
        &self.options
    }

    /// Runs ticks until `shutdown` resolves: every [`SchedulerOptions::tick`], or sooner when a
    /// subscription or a retry falls due before that. A failing tick is logged and retried.
    pub async fn run(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        tracing::info!(instance = %self.options.instance, "digest scheduler started");
        loop {
            let wait = match self.tick().await {
                Ok(report) => {
                    let now = self.clock.now();
                    [report.next_due_at, report.next_retry_at]
                        .into_iter()
                        .flatten()
                        .map(|t| (t - now).to_std().unwrap_or_default())
                        .fold(self.options.tick, Duration::min)
                        .max(Duration::from_millis(200))
                }
                Err(e) => {
                    tracing::error!(error = %e, "digest scheduler tick failed; trying again");
                    self.options.tick
                }
            };
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
        tracing::info!(instance = %self.options.instance, "digest scheduler stopped");
    }

    /// One pass over every active subscription at the clock's now (see the module docs).
    ///
    /// # Errors
    /// [`StoreError`] when the subscriptions cannot be listed; errors on one subscription are
    /// logged and leave the others alone.
    pub async fn tick(&self) -> Result<TickReport, StoreError> {
        let now = self.clock.now();
        let snapshot = self.catalog.snapshot();
        let mut report = TickReport::default();
        let mut due = Vec::new();
        for sub in self.store.digest_subscriptions(None).await? {
            if sub.paused.is_some() {
                continue;
            }
            let schedule = match Schedule::parse(&sub.schedule) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(subscription = %sub.id, error = %e, "a stored digest schedule no longer parses; skipped");
                    continue;
                }
            };
            if let Some(next) = schedule.next_due_after(now) {
                report.next_due_at = Some(report.next_due_at.map_or(next, |t| t.min(next)));
            }
            let Some(at) = schedule.latest_due_at_or_before(now) else {
                continue;
            };
            if at <= sub.created_at
                || sub.last_posted_period.as_deref() == Some(period_key(at).as_str())
            {
                continue;
            }
            due.push((sub, at));
        }
        let outcomes: Vec<Handled> = futures_util::stream::iter(due)
            .map(|(sub, at)| {
                let snapshot = &snapshot;
                async move {
                    let id = sub.id.clone();
                    self.period(sub, at, now, snapshot)
                        .await
                        .unwrap_or_else(|e| {
                            tracing::error!(subscription = %id, error = %e, "a digest period could not be handled");
                            Handled::NotClaimed
                        })
                }
            })
            .buffer_unordered(self.options.concurrency.max(1))
            .collect()
            .await;
        for outcome in outcomes {
            match outcome {
                Handled::NotClaimed => report.not_claimed += 1,
                Handled::Posted => report.posted += 1,
                Handled::Retrying(at) => {
                    report.retrying += 1;
                    report.next_retry_at = Some(report.next_retry_at.map_or(at, |t| t.min(at)));
                }
                Handled::Failed => report.failed += 1,
                Handled::Paused => report.paused += 1,
            }
        }
        Ok(report)
    }

    /// Claims, renders, delivers and records one due period.
    async fn period(
        &self,
        sub: Subscription,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
        snapshot: &Snapshot,
    ) -> Result<Handled, StoreError> {
        let key = period_key(due);
        let claim = self
            .store
            .claim_digest_period(
                &sub.id,
                &key,
                due,
                &self.options.instance,
                now,
                chrono_of(self.options.lease),
            )
            .await?;
        let Claim::Won { attempt } = claim else {
            return Ok(Handled::NotClaimed);
        };
        if !snapshot.is_empty() && snapshot.get(&sub.group).is_none() {
            return self.pause(&sub, &key, PauseReason::GroupGone, now).await;
        }
        let since = self.store.previous_digest_posted_at(&sub.id, due).await?;
        let digest = match self.source.render(&sub.group, since, now).await {
            Ok(digest) => digest,
            Err(SourceError::GroupGone) => {
                return self.pause(&sub, &key, PauseReason::GroupGone, now).await;
            }
            Err(e) => {
                tracing::error!(subscription = %sub.id, period = %key, error = %e, "digest not made");
                self.store
                    .mark_digest_failed(&sub.id, &key, &e.to_string())
                    .await?;
                return Ok(Handled::Failed);
            }
        };
        match self.sink.deliver(&sub, &digest).await {
            Delivery::Delivered { message_ts } => {
                self.store
                    .mark_digest_posted(&sub.id, &key, &self.options.instance, &message_ts, now)
                    .await?;
                tracing::info!(subscription = %sub.id, period = %key, channel = %sub.channel_id, "digest posted");
                Ok(Handled::Posted)
            }
            Delivery::RetryAfter { wait, error } if attempt < self.options.max_attempts => {
                let at = now + chrono_of(wait.min(self.options.max_wait));
                tracing::info!(subscription = %sub.id, period = %key, %error, retry_at = %at, "digest will be retried");
                self.store
                    .retry_digest_period(&sub.id, &key, at, &error)
                    .await?;
                Ok(Handled::Retrying(at))
            }
            Delivery::RetryAfter { error, .. } => {
                let why = format!("gave up after {attempt} attempts: {error}");
                tracing::warn!(subscription = %sub.id, period = %key, %why, "digest not posted");
                self.store.mark_digest_failed(&sub.id, &key, &why).await?;
                Ok(Handled::Failed)
            }
            Delivery::Paused(reason) => self.pause(&sub, &key, reason, now).await,
            Delivery::Failed(why) => {
                tracing::warn!(subscription = %sub.id, period = %key, %why, "digest not posted");
                self.store.mark_digest_failed(&sub.id, &key, &why).await?;
                Ok(Handled::Failed)
            }
        }
    }

    /// Pauses the subscription, records the period as failed, and tells the creator (once: only
    /// the call that paused it tells).
    async fn pause(
        &self,
        sub: &Subscription,
        key: &str,
        reason: PauseReason,
        now: DateTime<Utc>,
    ) -> Result<Handled, StoreError> {
        tracing::warn!(subscription = %sub.id, channel = %sub.channel_id, reason = %reason, "digest subscription paused");
        let paused = self
            .store
            .pause_digest_subscription(&sub.id, &reason.code(), now)
            .await?;
        self.store
            .mark_digest_failed(&sub.id, key, &format!("paused: {reason}"))
            .await?;
        if paused && let Err(e) = self.sink.tell_paused(sub, &reason).await {
            tracing::warn!(subscription = %sub.id, error = %e, "the subscriber could not be told about the pause");
        }
        Ok(Handled::Paused)
    }
}
