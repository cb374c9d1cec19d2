//! Action runs and modal sessions (migration `0004_runs`). Runs change by compare-and-set on
//! `version`, so a callback and the worker never overwrite each other's news; the worker claims
//! runs with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, SQLite's single writer otherwise).

use std::collections::BTreeMap;

use super::{Store, StoreError, q};
use crate::runs::{Execution, Requester, Run, RunControls, RunKind, RunLookup, RunStatus, RunStep};

const COLUMNS: &str = "id, kind, idempotency_key, template, target, subject, execution, inputs, controls, \
    requester, requested_by, channel_id, message_ts, status, attempts, next_attempt_at, external_id, \
    external_url, error, steps, last_sequence, dispatched_at, last_news_at, created_at, updated_at, \
    finished_at, version, notified_version, failure_told, lock_key";

#[derive(sqlx::FromRow)]
struct RunRow {
    id: String,
    kind: String,
    idempotency_key: String,
    template: Option<String>,
    target: Option<String>,
    subject: Option<String>,
    execution: String,
    inputs: String,
    controls: String,
    requester: String,
    requested_by: String,
    channel_id: Option<String>,
    message_ts: Option<String>,
    status: String,
    attempts: i64,
    next_attempt_at: i64,
    external_id: Option<String>,
    external_url: Option<String>,
    error: Option<String>,
    steps: String,
    last_sequence: Option<i64>,
    dispatched_at: Option<i64>,
    last_news_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
    finished_at: Option<i64>,
    version: i64,
    notified_version: i64,
    failure_told: i64,
    lock_key: Option<String>,
}

fn corrupt(id: &str, what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        entity_ref: id.to_owned(),
        reason: format!("{what}: {e}"),
    }
}

impl TryFrom<RunRow> for Run {
    type Error = StoreError;

    fn try_from(r: RunRow) -> Result<Self, StoreError> {
        let id = r.id;
        let execution: Execution =
            serde_json::from_str(&r.execution).map_err(|e| corrupt(&id, "execution", e))?;
        let inputs: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(&r.inputs).map_err(|e| corrupt(&id, "inputs", e))?;
        let controls: RunControls =
            serde_json::from_str(&r.controls).map_err(|e| corrupt(&id, "controls", e))?;
        let requester: Requester =
            serde_json::from_str(&r.requester).map_err(|e| corrupt(&id, "requester", e))?;
        let steps: Vec<RunStep> =
            serde_json::from_str(&r.steps).map_err(|e| corrupt(&id, "steps", e))?;
        Ok(Run {
            kind: RunKind::parse(&r.kind).map_err(|e| corrupt(&id, "kind", e))?,
            status: RunStatus::parse(&r.status).map_err(|e| corrupt(&id, "status", e))?,
            idempotency_key: r.idempotency_key,
            template: r.template,
            target: r.target,
            subject: r.subject,
            execution,
            inputs,
            controls,
            requester,
            requested_by: r.requested_by,
            channel_id: r.channel_id,
            message_ts: r.message_ts,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            external_id: r.external_id,
            external_url: r.external_url,
            error: r.error,
            steps,
            last_sequence: r.last_sequence,
            dispatched_at: r.dispatched_at,
            last_news_at: r.last_news_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
            finished_at: r.finished_at,
            version: r.version,
            notified_version: r.notified_version,
            failure_told: r.failure_told != 0,
            lock_key: r.lock_key,
            id,
        })
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

impl Store {
    /// Records a new run unless one with the same idempotency key exists. Returns the stored run
    /// and whether this call created it.
    ///
    /// # Errors
    /// [`StoreError::Query`]; [`StoreError::Corrupt`] if the existing row cannot be read.
    pub async fn insert_run(&self, run: &Run) -> Result<(Run, bool), StoreError> {
        let sql = format!(
            "INSERT INTO action_runs ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
             $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30) \
             ON CONFLICT (idempotency_key) DO NOTHING"
        );
        let inserted = on_pool!(self, |pool| sqlx::query(&sql)
            .bind(&run.id)
            .bind(run.kind.as_str())
            .bind(&run.idempotency_key)
            .bind(&run.template)
            .bind(&run.target)
            .bind(&run.subject)
            .bind(json(&run.execution))
            .bind(json(&run.inputs))
            .bind(json(&run.controls))
            .bind(json(&run.requester))
            .bind(&run.requested_by)
            .bind(&run.channel_id)
            .bind(&run.message_ts)
            .bind(run.status.as_str())
            .bind(run.attempts)
            .bind(run.next_attempt_at)
            .bind(&run.external_id)
            .bind(&run.external_url)
            .bind(&run.error)
            .bind(json(&run.steps))
            .bind(run.last_sequence)
            .bind(run.dispatched_at)
            .bind(run.last_news_at)
            .bind(run.created_at)
            .bind(run.updated_at)
            .bind(run.finished_at)
            .bind(run.version)
            .bind(run.notified_version)
            .bind(i64::from(run.failure_told))
            .bind(&run.lock_key)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1));
        let inserted = match inserted {
            Ok(inserted) => inserted,
            // Another unfinished run holds the lock: that one is the answer.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() && run.lock_key.is_some() => {
                let key = run.lock_key.as_deref().unwrap_or_default();
                if let Some(holder) = self.run_holding(key).await? {
                    return Ok((holder, false));
                }
                return Err(StoreError::Query {
                    doing: "recording a run",
                    source: sqlx::Error::Database(e),
                });
            }
            Err(e) => return Err(q("recording a run")(e)),
        };
        let stored = self
            .run_by_key(&run.idempotency_key)
            .await?
            .ok_or_else(|| corrupt(&run.id, "run", "vanished right after it was written"))?;
        Ok((stored, inserted))
    }

    /// The one run matching `condition` (SQL over `action_runs` with one `$1` parameter).
    async fn run_where(&self, condition: &str, value: &str) -> Result<Option<Run>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM action_runs WHERE {condition}");
        let row: Option<RunRow> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(value)
            .fetch_optional(pool)
            .await)
        .map_err(q("reading a run"))?;
        row.map(Run::try_from).transpose()
    }

    /// The run with this id.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn run(&self, id: &str) -> Result<Option<Run>, StoreError> {
        self.run_where("id = $1", id).await
    }

    /// The unfinished run holding `lock_key`, if any.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn run_holding(&self, lock_key: &str) -> Result<Option<Run>, StoreError> {
        self.run_where(
            "lock_key = $1 AND status IN ('awaiting_approval', 'queued', 'dispatched', 'running')",
            lock_key,
        )
        .await
    }

    /// Unfinished runs (awaiting approval, queued, dispatched, running), newest first, at most
    /// `limit`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn open_runs(&self, limit: i64) -> Result<Vec<Run>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM action_runs \
             WHERE status IN ('awaiting_approval', 'queued', 'dispatched', 'running') \
             ORDER BY created_at DESC LIMIT $1"
        );
        let rows: Vec<RunRow> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(limit)
            .fetch_all(pool)
            .await)
        .map_err(q("listing open runs"))?;
        rows.into_iter().map(Run::try_from).collect()
    }

    /// The run with this idempotency key.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn run_by_key(&self, key: &str) -> Result<Option<Run>, StoreError> {
        self.run_where("idempotency_key = $1", key).await
    }

    /// Writes a changed run if nobody changed it since it was read (its `version` is still
    /// `run.version`); bumps the version. Returns whether it was written. Where the status
    /// message is (`channel_id`, `message_ts`) and `failure_told` are not written here: only
    /// [`Store::mark_run_notified`] and [`Store::mark_failure_told`] set them, so a change made
    /// while a message is being posted never erases them.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn update_run(&self, run: &Run, now_ms: i64) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE action_runs SET status = $1, attempts = $2, next_attempt_at = $3, \
             external_id = $4, external_url = $5, error = $6, steps = $7, last_sequence = $8, \
             dispatched_at = $9, last_news_at = $10, updated_at = $11, finished_at = $12, \
             version = version + 1 \
             WHERE id = $13 AND version = $14";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(run.status.as_str())
            .bind(run.attempts)
            .bind(run.next_attempt_at)
            .bind(&run.external_id)
            .bind(&run.external_url)
            .bind(&run.error)
            .bind(json(&run.steps))
            .bind(run.last_sequence)
            .bind(run.dispatched_at)
            .bind(run.last_news_at)
            .bind(now_ms)
            .bind(run.finished_at)
            .bind(&run.id)
            .bind(run.version)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1))
        .map_err(q("updating a run"))
    }

    /// Claims up to `limit` runs that need the worker: due for a dispatch, a poll or a staleness
    /// check (`next_attempt_at <= now`, not finished), or whose status message is behind; and
    /// whose lease is free. Each claimed run is leased to `owner` until `lease_until`; a dispatch
    /// attempt is counted for queued runs.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn claim_runs(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<Run>, StoreError> {
        const DUE: &str = "lease_until < $3 AND ((status IN ('queued', 'dispatched', 'running') \
             AND next_attempt_at <= $3) OR notified_version < version)";
        let rows: Vec<RunRow> = match self {
            Self::Postgres(pool) => {
                let sql = format!(
                    "UPDATE action_runs SET lease_owner = $1, lease_until = $2, \
                     attempts = attempts + CASE WHEN status = 'queued' AND next_attempt_at <= $3 THEN 1 ELSE 0 END \
                     WHERE id IN (SELECT id FROM action_runs WHERE {DUE} \
                     ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING {COLUMNS}"
                );
                sqlx::query_as(&sql)
                    .bind(owner)
                    .bind(lease_until)
                    .bind(now_ms)
                    .bind(limit)
                    .fetch_all(pool)
                    .await
            }
            Self::Sqlite(pool) => {
                // One writer at a time: the UPDATE's own write lock makes the claim exclusive.
                let sql = format!(
                    "UPDATE action_runs SET lease_owner = $1, lease_until = $2, \
                     attempts = attempts + CASE WHEN status = 'queued' AND next_attempt_at <= $3 THEN 1 ELSE 0 END \
                     WHERE id IN (SELECT id FROM action_runs WHERE {DUE} \
                     ORDER BY next_attempt_at LIMIT $4) RETURNING {COLUMNS}"
                );
                sqlx::query_as(&sql)
                    .bind(owner)
                    .bind(lease_until)
                    .bind(now_ms)
                    .bind(limit)
                    .fetch_all(pool)
                    .await
            }
        }
        .map_err(q("claiming runs"))?;
        rows.into_iter().map(Run::try_from).collect()
    }

    /// Gives a claimed run's lease back (only if `owner` still holds it).
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn release_run(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE action_runs SET lease_owner = NULL, lease_until = 0 \
             WHERE id = $1 AND lease_owner = $2";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(id)
            .bind(owner)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(q("releasing a run"))
    }

    /// Records that the status message shows `version` (and where it is). Never moves back.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn mark_run_notified(
        &self,
        id: &str,
        version: i64,
        channel_id: Option<&str>,
        message_ts: Option<&str>,
    ) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE action_runs SET notified_version = $1, \
             channel_id = COALESCE($2, channel_id), message_ts = COALESCE($3, message_ts) \
             WHERE id = $4 AND notified_version < $1";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(version)
            .bind(channel_id)
            .bind(message_ts)
            .bind(id)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(q("recording a status message"))
    }

    /// Records that a run's failure was told in its thread, without counting it as a change of
    /// the run (the status message needs no update for it).
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn mark_failure_told(&self, id: &str) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE action_runs SET failure_told = 1 WHERE id = $1";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(id)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(q("recording a failure told"))
    }

    /// How many runs are in each status (for `idp check` and tests).
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn count_runs_by_status(&self) -> Result<Vec<(String, i64)>, StoreError> {
        const SQL: &str =
            "SELECT status, COUNT(*) FROM action_runs GROUP BY status ORDER BY status";
        on_pool!(self, |pool| sqlx::query_as(SQL).fetch_all(pool).await).map_err(q("counting runs"))
    }

    /// Stores (or replaces) a modal session's state (JSON text).
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn put_modal_session(
        &self,
        id: &str,
        state: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO modal_sessions (id, state, created_at, updated_at) \
             VALUES ($1, $2, $3, $3) ON CONFLICT (id) DO UPDATE SET state = excluded.state, \
             updated_at = excluded.updated_at";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(id)
            .bind(state)
            .bind(now_ms)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(q("saving a form's progress"))
    }

    /// A modal session's state (JSON text).
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn modal_session(&self, id: &str) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT state FROM modal_sessions WHERE id = $1";
        on_pool!(self, |pool| sqlx::query_scalar(SQL)
            .bind(id)
            .fetch_optional(pool)
            .await)
        .map_err(q("reading a form's progress"))
    }

    /// Deletes modal sessions last touched before `before_ms`; returns how many.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn expire_modal_sessions(&self, before_ms: i64) -> Result<u64, StoreError> {
        const SQL: &str = "DELETE FROM modal_sessions WHERE updated_at < $1";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(before_ms)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(q("expiring old forms"))
    }
}

/// Handlers read runs through this narrow view (see [`RunLookup`]); each method is the inherent
/// one of the same name.
#[async_trait::async_trait]
impl RunLookup for Store {
    async fn run(&self, id: &str) -> Result<Option<Run>, StoreError> {
        Store::run(self, id).await
    }

    async fn run_holding(&self, lock_key: &str) -> Result<Option<Run>, StoreError> {
        Store::run_holding(self, lock_key).await
    }

    async fn open_runs(&self, limit: i64) -> Result<Vec<Run>, StoreError> {
        Store::open_runs(self, limit).await
    }
}
