//! Reading the stored scorecard history: what a digest needs, without the rest of the store
//! (recording evaluations stays with the [`crate::scorecards::Scorer`]).

use chrono::{DateTime, Utc};

use crate::store::{EntityChanges, StoreError};

/// What changed on a scorecard since a time, for [`crate::scorecards::report::digest`].
/// Entities are ref keys (`component:default/checkout-api`). Implemented by
/// [`crate::store::Store`].
#[async_trait::async_trait]
pub trait ScoreHistory: Send + Sync {
    /// What changed for `entities` on scorecard `scorecard` since `since`: checks that passed
    /// then and fail now (regressions) or the reverse (improvements), each with when it flipped;
    /// the current score and level; and the score then ([`EntityChanges::then`]). A check that
    /// flipped and flipped back counts as unchanged; a check first evaluated after `since` is
    /// neither. Entities the scorecard never scored are left out; the others come in the order
    /// asked.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    async fn changes_since(
        &self,
        scorecard: &str,
        entities: &[String],
        since: DateTime<Utc>,
    ) -> Result<Vec<EntityChanges>, StoreError>;
}
