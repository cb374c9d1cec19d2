//! Slack deliveries already handled (`slack_deliveries`, migration 0009), so an Events API event
//! retried by Slack, to this replica or another, is answered once.

use super::{Store, StoreError, q};

impl Store {
    /// Marks delivery `key` as seen at `now_ms`: `true` the first time, `false` when any replica
    /// saw it before.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn first_delivery(&self, key: &str, now_ms: i64) -> Result<bool, StoreError> {
        const SQL: &str = "INSERT INTO slack_deliveries (key, seen_at) VALUES ($1, $2) \
             ON CONFLICT (key) DO NOTHING";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(key)
            .bind(now_ms)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1))
        .map_err(q("recording a Slack delivery"))
    }

    /// Forgets deliveries seen before `before_ms` (Slack retries within minutes); returns how
    /// many.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn expire_deliveries(&self, before_ms: i64) -> Result<u64, StoreError> {
        const SQL: &str = "DELETE FROM slack_deliveries WHERE seen_at < $1";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(before_ms)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(q("expiring Slack deliveries"))
    }
}
