//! Digest subscriptions and digest posts (migration `0007_digests`).
//!
//! Exactly once per period: a post row is keyed by (subscription, period) and INSERTed with
//! `ON CONFLICT DO NOTHING` before anything is sent, so of several replicas only the one whose
//! insert lands posts. A row left `claimed` by a replica that died is claimed again, by one
//! compare-and-set `UPDATE`, once its claim is older than the lease; a `retry` row (Slack said
//! "later") the same way once its `retry_at` has passed. On PostgreSQL the `UPDATE` re-checks its
//! condition after waiting for a concurrent one, and SQLite has a single writer, so two instances
//! never both win.

use chrono::{DateTime, Utc};

use super::{Store, StoreError, q};
use crate::catalog::EntityRef;
use crate::scorecards::subscription::{
    Claim, Creator, DigestPost, NewSubscription, Paused, PostStatus, Subscribed, Subscription,
    Subscriptions, new_id,
};

const SUB_COLUMNS: &str = "id, channel_id, group_ref, schedule, created_by_slack, created_by_user, \
    created_at, paused_reason, paused_at, last_posted_period, last_posted_at";

const POST_COLUMNS: &str = "subscription_id, period_key, due_at, status, claimed_by, claimed_at, \
    attempts, retry_at, message_ts, posted_at, error";

/// Attempts at a fresh random id before giving up (a collision is one in hundreds of millions).
const ID_TRIES: usize = 5;

#[derive(sqlx::FromRow)]
struct SubscriptionRow {
    id: String,
    channel_id: String,
    group_ref: String,
    schedule: String,
    created_by_slack: Option<String>,
    created_by_user: Option<String>,
    created_at: i64,
    paused_reason: Option<String>,
    paused_at: Option<i64>,
    last_posted_period: Option<String>,
    last_posted_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct PostRow {
    subscription_id: String,
    period_key: String,
    due_at: i64,
    status: String,
    claimed_by: String,
    claimed_at: i64,
    attempts: i64,
    retry_at: Option<i64>,
    message_ts: Option<String>,
    posted_at: Option<i64>,
    error: Option<String>,
}

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn corrupt(what: &str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        entity_ref: what.to_owned(),
        reason: reason.to_string(),
    }
}

impl TryFrom<SubscriptionRow> for Subscription {
    type Error = StoreError;

    fn try_from(r: SubscriptionRow) -> Result<Self, StoreError> {
        let what = format!("digest subscription {}", r.id);
        let group = EntityRef::parse(&r.group_ref, Some("group"), "default")
            .map_err(|e| corrupt(&what, e))?;
        let user = r
            .created_by_user
            .as_deref()
            .map(|u| EntityRef::parse(u, Some("user"), "default"))
            .transpose()
            .map_err(|e| corrupt(&what, e))?;
        Ok(Self {
            id: r.id,
            channel_id: r.channel_id,
            group,
            schedule: r.schedule,
            created_by: Creator {
                slack_user_id: r.created_by_slack,
                user,
            },
            created_at: time(r.created_at),
            paused: r.paused_reason.map(|reason| Paused {
                reason,
                at: time(r.paused_at.unwrap_or_default()),
            }),
            last_posted_period: r.last_posted_period,
            last_posted_at: r.last_posted_at.map(time),
        })
    }
}

impl TryFrom<PostRow> for DigestPost {
    type Error = StoreError;

    fn try_from(r: PostRow) -> Result<Self, StoreError> {
        let status = PostStatus::parse(&r.status).map_err(|e| {
            corrupt(
                &format!("digest post {}/{}", r.subscription_id, r.period_key),
                e,
            )
        })?;
        Ok(Self {
            subscription_id: r.subscription_id,
            period_key: r.period_key,
            due_at: time(r.due_at),
            status,
            claimed_by: r.claimed_by,
            claimed_at: time(r.claimed_at),
            attempts: r.attempts,
            retry_at: r.retry_at.map(time),
            message_ts: r.message_ts,
            posted_at: r.posted_at.map(time),
            error: r.error,
        })
    }
}

fn subscriptions(rows: Vec<SubscriptionRow>) -> Result<Vec<Subscription>, StoreError> {
    rows.into_iter().map(Subscription::try_from).collect()
}

impl Store {
    /// Subscribes a channel to a group's digest. A channel has at most one subscription per
    /// group: when it already has one, its schedule and creator are replaced and a pause is
    /// lifted ([`Subscribed::replaced`] is the old one), keeping its id, creation time and history.
    ///
    /// # Errors
    /// [`StoreError::Query`]; [`StoreError::Corrupt`] for an unreadable stored row.
    pub async fn subscribe_digest(&self, new: &NewSubscription) -> Result<Subscribed, StoreError> {
        let insert = format!(
            "INSERT INTO digest_subscriptions ({SUB_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, \
             NULL, NULL, NULL, NULL) ON CONFLICT DO NOTHING"
        );
        let group = new.group.key();
        let user = new.created_by.user.as_ref().map(EntityRef::key);
        for _ in 0..ID_TRIES {
            let id = new_id();
            let inserted = on_pool!(self, |pool| sqlx::query(&insert)
                .bind(&id)
                .bind(&new.channel_id)
                .bind(&group)
                .bind(&new.schedule)
                .bind(&new.created_by.slack_user_id)
                .bind(&user)
                .bind(new.created_at.timestamp_millis())
                .execute(pool)
                .await
                .map(|r| r.rows_affected() == 1))
            .map_err(q("subscribing a channel to a digest"))?;
            if inserted {
                let created = self
                    .digest_subscription(&id)
                    .await?
                    .ok_or_else(|| corrupt(&id, "vanished right after it was written"))?;
                return Ok(Subscribed {
                    subscription: created,
                    replaced: None,
                });
            }
            let Some(before) = self
                .digest_subscription_for(&new.channel_id, &new.group)
                .await?
            else {
                // The random id was taken: try another.
                continue;
            };
            const UPDATE: &str = "UPDATE digest_subscriptions SET schedule = $1, \
                 created_by_slack = $2, created_by_user = $3, paused_reason = NULL, \
                 paused_at = NULL WHERE id = $4";
            on_pool!(self, |pool| sqlx::query(UPDATE)
                .bind(&new.schedule)
                .bind(&new.created_by.slack_user_id)
                .bind(&user)
                .bind(&before.id)
                .execute(pool)
                .await
                .map(|_| ()))
            .map_err(q("updating a digest subscription"))?;
            let after = self
                .digest_subscription(&before.id)
                .await?
                .ok_or_else(|| corrupt(&before.id, "deleted while it was being updated"))?;
            return Ok(Subscribed {
                subscription: after,
                replaced: Some(Box::new(before)),
            });
        }
        Err(corrupt(
            "digest subscription id",
            "no free id after several tries",
        ))
    }

    /// The subscription with this id (case-insensitive), if any.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn digest_subscription(&self, id: &str) -> Result<Option<Subscription>, StoreError> {
        let sql = format!("SELECT {SUB_COLUMNS} FROM digest_subscriptions WHERE id = $1");
        let row: Option<SubscriptionRow> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(id.to_ascii_lowercase())
            .fetch_optional(pool)
            .await)
        .map_err(q("reading a digest subscription"))?;
        row.map(Subscription::try_from).transpose()
    }

    /// A channel's subscription to a group, if any.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn digest_subscription_for(
        &self,
        channel_id: &str,
        group: &EntityRef,
    ) -> Result<Option<Subscription>, StoreError> {
        let sql = format!(
            "SELECT {SUB_COLUMNS} FROM digest_subscriptions WHERE channel_id = $1 AND group_ref = $2"
        );
        let row: Option<SubscriptionRow> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(channel_id)
            .bind(group.key())
            .fetch_optional(pool)
            .await)
        .map_err(q("reading a digest subscription"))?;
        row.map(Subscription::try_from).transpose()
    }

    /// Every subscription, or one channel's, oldest first.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn digest_subscriptions(
        &self,
        channel_id: Option<&str>,
    ) -> Result<Vec<Subscription>, StoreError> {
        let sql = format!(
            "SELECT {SUB_COLUMNS} FROM digest_subscriptions WHERE ($1 IS NULL OR channel_id = $1) \
             ORDER BY created_at, id"
        );
        let rows: Vec<SubscriptionRow> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(channel_id)
            .fetch_all(pool)
            .await)
        .map_err(q("listing digest subscriptions"))?;
        subscriptions(rows)
    }

    /// Deletes a subscription and its posts; returns it, or `None` when there was none.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn delete_digest_subscription(
        &self,
        id: &str,
    ) -> Result<Option<Subscription>, StoreError> {
        let Some(found) = self.digest_subscription(id).await? else {
            return Ok(None);
        };
        const SQL: &str = "DELETE FROM digest_subscriptions WHERE id = $1";
        let deleted = on_pool!(self, |pool| sqlx::query(SQL)
            .bind(&found.id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1))
        .map_err(q("deleting a digest subscription"))?;
        Ok(deleted.then_some(found))
    }

    /// Pauses a subscription (unless it is already paused); returns whether this call paused it.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn pause_digest_subscription(
        &self,
        id: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE digest_subscriptions SET paused_reason = $1, paused_at = $2 \
             WHERE id = $3 AND paused_reason IS NULL";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(reason)
            .bind(at.timestamp_millis())
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1))
        .map_err(q("pausing a digest subscription"))
    }

    /// Lifts a pause; returns whether the subscription was paused.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn resume_digest_subscription(&self, id: &str) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE digest_subscriptions SET paused_reason = NULL, paused_at = NULL \
             WHERE id = $1 AND paused_reason IS NOT NULL";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1))
        .map_err(q("resuming a digest subscription"))
    }

    /// Claims one period of a subscription for `instance`, before anything is posted:
    /// inserts its post row, or takes over a row whose claim is older than `lease` (a replica died
    /// mid-post) or whose retry time has come. [`Claim::Lost`] when another instance holds it, it
    /// is posted or failed, its retry is not due, or the subscription is gone.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn claim_digest_period(
        &self,
        subscription_id: &str,
        period_key: &str,
        due_at: DateTime<Utc>,
        instance: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<Claim, StoreError> {
        const INSERT: &str = "INSERT INTO digest_posts (subscription_id, period_key, due_at, \
             status, claimed_by, claimed_at, attempts) VALUES ($1, $2, $3, 'claimed', $4, $5, 1) \
             ON CONFLICT (subscription_id, period_key) DO NOTHING";
        let inserted = on_pool!(self, |pool| sqlx::query(INSERT)
            .bind(subscription_id)
            .bind(period_key)
            .bind(due_at.timestamp_millis())
            .bind(instance)
            .bind(now.timestamp_millis())
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1));
        match inserted {
            Ok(true) => return Ok(Claim::Won { attempt: 1 }),
            Ok(false) => {}
            // The subscription was deleted since it was listed.
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                return Ok(Claim::Lost);
            }
            Err(e) => return Err(q("claiming a digest period")(e)),
        }
        const TAKE_OVER: &str = "UPDATE digest_posts SET status = 'claimed', claimed_by = $1, \
             claimed_at = $2, attempts = attempts + 1, retry_at = NULL \
             WHERE subscription_id = $3 AND period_key = $4 \
             AND ((status = 'claimed' AND claimed_at <= $5) OR (status = 'retry' AND retry_at <= $2)) \
             RETURNING attempts";
        let attempt: Option<i64> = on_pool!(self, |pool| sqlx::query_scalar(TAKE_OVER)
            .bind(instance)
            .bind(now.timestamp_millis())
            .bind(subscription_id)
            .bind(period_key)
            .bind((now - lease).timestamp_millis())
            .fetch_optional(pool)
            .await)
        .map_err(q("re-claiming a digest period"))?;
        Ok(attempt.map_or(Claim::Lost, |attempt| Claim::Won { attempt }))
    }

    /// Records that `instance` posted the period (message `ts`), and moves the subscription's
    /// last posted period forward (never back).
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn mark_digest_posted(
        &self,
        subscription_id: &str,
        period_key: &str,
        instance: &str,
        message_ts: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        const POST: &str = "UPDATE digest_posts SET status = 'posted', message_ts = $1, \
             posted_at = $2, error = NULL, claimed_by = $3 \
             WHERE subscription_id = $4 AND period_key = $5";
        const SUB: &str = "UPDATE digest_subscriptions SET last_posted_period = $1, \
             last_posted_at = $2 WHERE id = $3 \
             AND (last_posted_period IS NULL OR last_posted_period < $1)";
        macro_rules! in_tx {
            ($pool:expr) => {{
                let mut tx = $pool.begin().await?;
                sqlx::query(POST)
                    .bind(message_ts)
                    .bind(now.timestamp_millis())
                    .bind(instance)
                    .bind(subscription_id)
                    .bind(period_key)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(SUB)
                    .bind(period_key)
                    .bind(now.timestamp_millis())
                    .bind(subscription_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await
            }};
        }
        let result: Result<(), sqlx::Error> = match self {
            Self::Sqlite(pool) => async { in_tx!(pool) }.await,
            Self::Postgres(pool) => async { in_tx!(pool) }.await,
        };
        result.map_err(q("recording a posted digest"))
    }

    /// Asks for the period to be tried again from `retry_at` (by any instance), with the error
    /// that made it wait.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn retry_digest_period(
        &self,
        subscription_id: &str,
        period_key: &str,
        retry_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.set_digest_period(
            subscription_id,
            period_key,
            PostStatus::Retry,
            Some(retry_at),
            error,
        )
        .await
        .map_err(q("scheduling a digest retry"))
    }

    /// Records that the period was given up, and why.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn mark_digest_failed(
        &self,
        subscription_id: &str,
        period_key: &str,
        error: &str,
    ) -> Result<(), StoreError> {
        self.set_digest_period(subscription_id, period_key, PostStatus::Failed, None, error)
            .await
            .map_err(q("recording a failed digest"))
    }

    /// Sets an unposted period's status, retry time and error.
    async fn set_digest_period(
        &self,
        subscription_id: &str,
        period_key: &str,
        status: PostStatus,
        retry_at: Option<DateTime<Utc>>,
        error: &str,
    ) -> Result<(), sqlx::Error> {
        const SQL: &str = "UPDATE digest_posts SET status = $1, retry_at = $2, error = $3 \
             WHERE subscription_id = $4 AND period_key = $5 AND status <> 'posted'";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(status.as_str())
            .bind(retry_at.map(|t| t.timestamp_millis()))
            .bind(error)
            .bind(subscription_id)
            .bind(period_key)
            .execute(pool)
            .await
            .map(|_| ()))
    }

    /// When the subscription's previous digest was posted: the latest posted period due before
    /// `before` (the digest being made says what changed since then). `None` for the first.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn previous_digest_posted_at(
        &self,
        subscription_id: &str,
        before: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        const SQL: &str = "SELECT posted_at FROM digest_posts WHERE subscription_id = $1 \
             AND status = 'posted' AND due_at < $2 ORDER BY due_at DESC LIMIT 1";
        let found: Option<Option<i64>> = on_pool!(self, |pool| sqlx::query_scalar(SQL)
            .bind(subscription_id)
            .bind(before.timestamp_millis())
            .fetch_optional(pool)
            .await)
        .map_err(q("reading the previous digest"))?;
        Ok(found.flatten().map(time))
    }

    /// The posts of a subscription, oldest period first (for `idp check`, support and tests).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn digest_posts(&self, subscription_id: &str) -> Result<Vec<DigestPost>, StoreError> {
        let sql = format!(
            "SELECT {POST_COLUMNS} FROM digest_posts WHERE subscription_id = $1 ORDER BY due_at"
        );
        let rows: Vec<PostRow> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(subscription_id)
            .fetch_all(pool)
            .await)
        .map_err(q("reading digest posts"))?;
        rows.into_iter().map(DigestPost::try_from).collect()
    }
}

/// Handlers manage subscriptions through [`Subscriptions`]; each method is the inherent one of
/// the same name.
#[async_trait::async_trait]
impl Subscriptions for Store {
    async fn subscribe_digest(&self, new: &NewSubscription) -> Result<Subscribed, StoreError> {
        Store::subscribe_digest(self, new).await
    }

    async fn digest_subscription(&self, id: &str) -> Result<Option<Subscription>, StoreError> {
        Store::digest_subscription(self, id).await
    }

    async fn digest_subscriptions(
        &self,
        channel_id: Option<&str>,
    ) -> Result<Vec<Subscription>, StoreError> {
        Store::digest_subscriptions(self, channel_id).await
    }

    async fn delete_digest_subscription(
        &self,
        id: &str,
    ) -> Result<Option<Subscription>, StoreError> {
        Store::delete_digest_subscription(self, id).await
    }
}
