//! The Slack identity cache: user id → email as `users.info` last gave it.

use chrono::{DateTime, Utc};

use super::{Store, StoreError, q};

/// One cached Slack user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedSlackUser {
    /// The email, when Slack gave one.
    pub email: Option<String>,
    /// `ok`, `no_email` or `unknown`.
    pub status: String,
    /// When it was fetched.
    pub fetched_at: DateTime<Utc>,
}

impl Store {
    /// The cached entry for a Slack user id.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn slack_identity(
        &self,
        user_id: &str,
    ) -> Result<Option<CachedSlackUser>, StoreError> {
        const SQL: &str =
            "SELECT email, status, fetched_at FROM slack_identities WHERE user_id = $1";
        let row: Option<(Option<String>, String, DateTime<Utc>)> = match self {
            Self::Sqlite(pool) => sqlx::query_as(SQL).bind(user_id).fetch_optional(pool).await,
            Self::Postgres(pool) => sqlx::query_as(SQL).bind(user_id).fetch_optional(pool).await,
        }
        .map_err(q("reading the Slack identity cache"))?;
        Ok(row.map(|(email, status, fetched_at)| CachedSlackUser {
            email,
            status,
            fetched_at,
        }))
    }

    /// Stores (or replaces) the cached entry for a Slack user id.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn put_slack_identity(
        &self,
        user_id: &str,
        entry: &CachedSlackUser,
    ) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO slack_identities (user_id, email, status, fetched_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, status = excluded.status, fetched_at = excluded.fetched_at";
        match self {
            Self::Sqlite(pool) => sqlx::query(SQL)
                .bind(user_id)
                .bind(&entry.email)
                .bind(&entry.status)
                .bind(entry.fetched_at)
                .execute(pool)
                .await
                .map(|_| ()),
            Self::Postgres(pool) => sqlx::query(SQL)
                .bind(user_id)
                .bind(&entry.email)
                .bind(&entry.status)
                .bind(entry.fetched_at)
                .execute(pool)
                .await
                .map(|_| ()),
        }
        .map_err(q("writing the Slack identity cache"))
    }
}
