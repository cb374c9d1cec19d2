//! [`ScorerDigests`]: the scheduler's [`DigestSource`] over the [`Scorer`]'s latest results and
//! the stored history ([`super::report::digest`]).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::report::{Digest, DigestError, ReportError, digest};
use super::scheduler::{DigestSource, SourceError};
use super::scorer::{Latest, Scorer};
use crate::catalog::EntityRef;

/// Makes digests from a [`Scorer`]: its latest results (evaluating now when there are none yet).
#[derive(Debug, Clone)]
pub struct ScorerDigests {
    scorer: Arc<Scorer>,
}

impl ScorerDigests {
    /// A source over `scorer`.
    pub fn new(scorer: Arc<Scorer>) -> Self {
        Self { scorer }
    }
}

/// The scorer's latest results, evaluating at `now` when there are none yet (an evaluation that
/// could not be recorded still publishes its results, so those are used), or when `entity` is
/// not in the snapshot they were made from and the catalog changed since (an entity just added).
///
/// # Errors
/// The evaluation's error, when it published nothing.
pub async fn latest_or_evaluate(
    scorer: &Scorer,
    entity: &EntityRef,
    now: DateTime<Utc>,
) -> Result<Arc<Latest>, super::ScorerError> {
    let latest = match scorer.latest() {
        Some(latest) => latest,
        None => match scorer.evaluate_now(now).await {
            Ok(latest) => latest,
            Err(e) => scorer.latest().ok_or(e)?,
        },
    };
    if latest.snapshot.get(entity).is_some() {
        return Ok(latest);
    }
    if let Err(e) = scorer.refresh_if_changed(now).await {
        tracing::warn!(error = %e, "scorecards not re-evaluated for a new entity");
    }
    Ok(scorer.latest().unwrap_or(latest))
}

#[async_trait]
impl DigestSource for ScorerDigests {
    type Digest = Digest;

    async fn render(
        &self,
        group: &EntityRef,
        since: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Digest, SourceError> {
        let latest = latest_or_evaluate(&self.scorer, group, now)
            .await
            .map_err(|e| SourceError::Failed(e.to_string()))?;
        let store = self.scorer.store();
        match digest(&latest, store, group, since, now).await {
            Ok(d) => Ok(d),
            Err(DigestError::Report(ReportError::NotEvaluated(_)))
                if latest.snapshot.get(group).is_none() && !latest.snapshot.is_empty() =>
            {
                Err(SourceError::GroupGone)
            }
            Err(e) => Err(SourceError::Failed(e.to_string())),
        }
    }
}
