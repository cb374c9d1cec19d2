//! [`Scorer`]: keeps scorecard results current. It re-evaluates every scorecard when the catalog
//! snapshot changes (a sync here or on another replica), when the deploy history changes (a new
//! event anywhere), and at least every `refresh_every` (deploys age, days turn); it records each
//! evaluation in the store (only what changed, see
//! [`crate::store::Store::record_evaluation`]) and keeps the latest results in memory for
//! commands.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use chrono::{DateTime, Utc};

use super::definition::Scorecards;
use super::evaluate::{Facts, ScorecardResults, evaluate_all};
use crate::catalog::{CatalogService, Snapshot};
use crate::oncall::OnCallService;
use crate::store::{CheckState, EntityState, StoreError};

/// How often the scorer looks for changes, and how stale results may get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScorerOptions {
    /// Between two looks at the snapshot and the deploy history (`[scorecards]
    /// poll_interval_secs`, default 30 s).
    pub poll_every: Duration,
    /// Re-evaluate at least this often even when nothing changed (`[scorecards]
    /// refresh_interval_secs`, default 1 h), so deploy recency and the daily history follow the
    /// clock.
    pub refresh_every: Duration,
}

impl Default for ScorerOptions {
    fn default() -> Self {
        Self {
            poll_every: Duration::from_secs(30),
            refresh_every: Duration::from_secs(3600),
        }
    }
}

/// Why an evaluation could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum ScorerError {
    /// Reading deploys or recording results failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The evaluation task stopped (it panicked or the runtime is shutting down).
    #[error("the scorecard evaluation task stopped: {0}")]
    Task(String),
}

/// The latest evaluation: the snapshot it was made from (entity indices refer to it) and one
/// result per scorecard, in file order.
#[derive(Debug)]
pub struct Latest {
    /// The snapshot evaluated.
    pub snapshot: Arc<Snapshot>,
    /// When.
    pub evaluated_at: DateTime<Utc>,
    /// One per scorecard of the file.
    pub results: Vec<ScorecardResults>,
    /// The deploy history's change marker the evaluation saw.
    deploys_marker: Option<DateTime<Utc>>,
    /// Whether every scorecard was recorded in the store (if not, the next look retries).
    recorded: bool,
}

impl Latest {
    /// The results of the scorecard with this id.
    pub fn scorecard(&self, id: &str) -> Option<&ScorecardResults> {
        self.results.iter().find(|r| r.scorecard.id == id)
    }
}

/// Evaluates the scorecards when something they read changes; see the module docs.
/// `Send + Sync`: share it in an `Arc`.
pub struct Scorer {
    definitions: Arc<Scorecards>,
    catalog: Arc<CatalogService>,
    oncall: Arc<OnCallService>,
    options: ScorerOptions,
    latest: ArcSwapOption<Latest>,
    /// One evaluation at a time.
    busy: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Scorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scorer")
            .field("scorecards", &self.definitions.scorecards.len())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Scorer {
    /// A scorer over the catalog's snapshots and store, with on-call resolvability from `oncall`
    /// (no network: [`OnCallService::route`]). Nothing is evaluated until
    /// [`Self::evaluate_now`], [`Self::refresh_if_changed`] or [`Self::run`].
    pub fn new(
        definitions: Arc<Scorecards>,
        catalog: Arc<CatalogService>,
        oncall: Arc<OnCallService>,
        options: ScorerOptions,
    ) -> Self {
        Self {
            definitions,
            catalog,
            oncall,
            options,
            latest: ArcSwapOption::empty(),
            busy: tokio::sync::Mutex::new(()),
        }
    }

    /// The scorecard definitions.
    pub fn definitions(&self) -> &Scorecards {
        &self.definitions
    }

    /// The store results are recorded in (the catalog's).
    pub fn store(&self) -> &crate::store::Store {
        self.catalog.store()
    }

    /// The latest evaluation, if one was made.
    pub fn latest(&self) -> Option<Arc<Latest>> {
        self.latest.load_full()
    }

    /// Evaluates every scorecard now against the current snapshot and deploy history, records
    /// each in the store and publishes the results. When recording fails the results are still
    /// published (commands keep working) and the error is returned; the next
    /// [`Self::refresh_if_changed`] tries again.
    ///
    /// # Errors
    /// [`ScorerError`].
    pub async fn evaluate_now(&self, now: DateTime<Utc>) -> Result<Arc<Latest>, ScorerError> {
        let _turn = self.busy.lock().await;
        self.evaluate_locked(now).await
    }

    async fn evaluate_locked(&self, now: DateTime<Utc>) -> Result<Arc<Latest>, ScorerError> {
        let store = self.catalog.store();
        let deploys_marker = store.deploys_changed_at().await?;
        let deploys = store.last_successful_deploys().await?;
        let snapshot = self.catalog.snapshot();
        let definitions = self.definitions.clone();
        let oncall = self.oncall.clone();
        let evaluated = snapshot.clone();
        let started = std::time::Instant::now();
        let results = tokio::task::spawn_blocking(move || {
            let facts = Facts {
                now,
                oncall: &oncall,
                deploys: &deploys,
            };
            evaluate_all(&definitions, &evaluated, &facts)
        })
        .await
        .map_err(|e| ScorerError::Task(e.to_string()))?;
        let mut recorded = true;
        let mut failure = None;
        for r in &results {
            match record(store, &snapshot, r, now).await {
                Ok(outcome) => tracing::debug!(
                    scorecard = %r.scorecard.id, entities = r.len(), flips = outcome.flips,
                    checks_written = outcome.checks_written, "scorecard recorded"
                ),
                Err(e) => {
                    tracing::warn!(scorecard = %r.scorecard.id, error = %e, "could not record a scorecard evaluation");
                    recorded = false;
                    failure.get_or_insert(e);
                }
            }
        }
        tracing::info!(
            scorecards = results.len(),
            generation = snapshot.generation,
            took_ms = started.elapsed().as_millis() as u64,
            "scorecards evaluated"
        );
        let latest = Arc::new(Latest {
            snapshot,
            evaluated_at: now,
            results,
            deploys_marker,
            recorded,
        });
        self.latest.store(Some(latest.clone()));
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(latest),
        }
    }

    /// Re-evaluates when the snapshot is not the one last evaluated, the deploy history changed,
    /// the last evaluation is older than `refresh_every` or was not fully recorded, or nothing
    /// was evaluated yet. Returns whether it evaluated.
    ///
    /// # Errors
    /// [`ScorerError`].
    pub async fn refresh_if_changed(&self, now: DateTime<Utc>) -> Result<bool, ScorerError> {
        let _turn = self.busy.lock().await;
        let due = match self.latest.load_full() {
            None => true,
            Some(last) => {
                let stale = now.signed_duration_since(last.evaluated_at)
                    >= chrono::Duration::from_std(self.options.refresh_every)
                        .unwrap_or(chrono::Duration::MAX);
                !last.recorded
                    || stale
                    || !Arc::ptr_eq(&last.snapshot, &self.catalog.snapshot())
                    || self.catalog.store().deploys_changed_at().await? != last.deploys_marker
            }
        };
        if due {
            self.evaluate_locked(now).await?;
        }
        Ok(due)
    }

    /// Evaluates at once, then looks for changes every `poll_every` until `stop` completes.
    /// Errors are logged, never fatal.
    pub async fn run(self: Arc<Self>, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut tick = tokio::time::interval(self.options.poll_every.max(Duration::from_secs(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut stop => return,
                _ = tick.tick() => {
                    if let Err(e) = self.refresh_if_changed(Utc::now()).await {
                        tracing::warn!(error = %e, "scorecards not re-evaluated");
                    }
                }
            }
        }
    }
}

/// Records one scorecard's results: entity keys from the snapshot evaluated, check ids and
/// reasons borrowed from the results.
async fn record(
    store: &crate::store::Store,
    snapshot: &Snapshot,
    results: &ScorecardResults,
    now: DateTime<Utc>,
) -> Result<crate::store::RecordOutcome, StoreError> {
    let card = &results.scorecard;
    let states: Vec<EntityState<'_>> = results
        .iter()
        .map(|e| EntityState {
            entity: snapshot.node(e.index).entity.entity_ref.key(),
            score: e.score,
            level: e.level.map(|l| l.name.as_str()),
            checks: e
                .checks()
                .map(|(c, o)| CheckState {
                    id: &c.id,
                    passed: o.passed,
                    reason: o.reason.as_deref(),
                })
                .collect(),
        })
        .collect();
    store.record_evaluation(&card.id, &states, now).await
}
