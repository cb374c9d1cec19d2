//! Deploy events and the deploy history (migration `0005_deploys`). An event is inserted first
//! (its id is the primary key, so a redelivery changes nothing) and folded into its deployment row
//! in the same transaction. On PostgreSQL, events of one service and environment are serialized
//! with a transaction-scoped advisory lock; SQLite has a single writer, taken by the first insert.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{Store, StoreError, q};
use crate::deploys::history::{self, Tracked};
use crate::deploys::{DeployData, DeployEvent, DeployStatus, Deployment, EventOutcome};

/// Runs the same expression against whichever pool the store holds.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store {
            Store::Sqlite($pool) => $body,
            Store::Postgres($pool) => $body,
        }
    };
}

const COLUMNS: &str = "id, service, environment, version, revision, deployed_by, started_at, \
    finished_at, status, status_at, url, source, argocd_history_id, event_ids";

/// Newest first: by finished_at, else started_at (the same expression the indexes serve).
const NEWEST_FIRST: &str = "ORDER BY COALESCE(finished_at, started_at) DESC, id DESC";

#[derive(sqlx::FromRow)]
struct DeploymentRow {
    id: String,
    service: String,
    environment: String,
    version: String,
    revision: Option<String>,
    deployed_by: Option<String>,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    status: String,
    status_at: i64,
    url: Option<String>,
    source: String,
    argocd_history_id: Option<i64>,
    event_ids: String,
}

fn time(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.and_then(DateTime::from_timestamp_millis)
}

impl TryFrom<DeploymentRow> for Tracked {
    type Error = StoreError;

    fn try_from(r: DeploymentRow) -> Result<Self, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            entity_ref: format!("deployment {}", r.id),
            reason,
        };
        let status = DeployStatus::parse(&r.status).map_err(corrupt)?;
        let event_ids: Vec<String> =
            serde_json::from_str(&r.event_ids).map_err(|e| corrupt(format!("event_ids: {e}")))?;
        Ok(Tracked {
            status_at: time(Some(r.status_at)).unwrap_or_default(),
            event_ids,
            deployment: Deployment {
                id: r.id,
                service: r.service,
                environment: r.environment,
                version: r.version,
                revision: r.revision,
                deployed_by: r.deployed_by,
                started_at: time(r.started_at),
                finished_at: time(r.finished_at),
                status,
                url: r.url,
                source: r.source,
                argocd_history_id: r.argocd_history_id,
            },
        })
    }
}

fn rows(rows: Vec<DeploymentRow>) -> Result<Vec<Deployment>, StoreError> {
    rows.into_iter()
        .map(|r| Tracked::try_from(r).map(|t| t.deployment))
        .collect()
}

/// The advisory lock key for one service and environment: the first 8 bytes of a SHA-256, so
/// every replica computes the same key.
fn lock_key(data: &DeployData) -> i64 {
    let digest = Sha256::digest(format!("deploys:{}:{}", data.service, data.environment));
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// How to find the row an event without a `deployment_id` belongs to: a `started` joins an
/// outcome that arrived first (no start yet, finished at or after it); an outcome joins the
/// latest open start at or before it. Same service, environment, version and source.
fn correlate_sql(status: DeployStatus) -> String {
    let base = format!(
        "SELECT {COLUMNS} FROM deployments WHERE service = $1 AND environment = $2 \
         AND version = $3 AND source = $4"
    );
    match status {
        DeployStatus::Started => format!(
            "{base} AND started_at IS NULL AND finished_at >= $5 ORDER BY finished_at ASC LIMIT 1"
        ),
        DeployStatus::Succeeded | DeployStatus::Failed => format!(
            "{base} AND status = 'started' AND started_at <= $5 ORDER BY started_at DESC LIMIT 1"
        ),
    }
}

/// Inserts a deployment row or replaces its mutable columns.
const UPSERT_SQL: &str = "INSERT INTO deployments (id, service, environment, version, revision, \
    deployed_by, started_at, finished_at, status, status_at, url, source, argocd_history_id, \
    event_ids) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
    ON CONFLICT (id) DO UPDATE SET version = excluded.version, revision = excluded.revision, \
    deployed_by = excluded.deployed_by, started_at = excluded.started_at, \
    finished_at = excluded.finished_at, status = excluded.status, status_at = excluded.status_at, \
    url = excluded.url, argocd_history_id = excluded.argocd_history_id, \
    event_ids = excluded.event_ids";

/// Stores one event and folds it into its deployment, inside the open transaction `$tx`.
/// Evaluates to `Result<EventOutcome, StoreError>`.
macro_rules! record_one {
    ($tx:expr, $event:expr) => {
        async {
            let event: &DeployEvent = $event;
            let inserted = sqlx::query(
                "INSERT INTO deploy_events (id, source, type, time, received_at, raw) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&event.id)
            .bind(&event.source)
            .bind(event.kind.as_str())
            .bind(event.time.timestamp_millis())
            .bind(Utc::now().timestamp_millis())
            .bind(event.to_json())
            .execute(&mut *$tx)
            .await
            .map_err(q("storing an event"))?
            .rows_affected();
            if inserted == 0 {
                return Ok(EventOutcome::Duplicate);
            }
            let (Some(data), Some(status)) = (&event.deploy, event.kind.deploy_status()) else {
                return Ok(EventOutcome::Stored);
            };
            let row: Option<DeploymentRow> = match &data.deployment_id {
                Some(_) => {
                    sqlx::query_as(&format!("SELECT {COLUMNS} FROM deployments WHERE id = $1"))
                        .bind(history::deployment_id(event, data))
                        .fetch_optional(&mut *$tx)
                        .await
                }
                None => {
                    sqlx::query_as(&correlate_sql(status))
                        .bind(&data.service)
                        .bind(&data.environment)
                        .bind(&data.version)
                        .bind(&event.source)
                        .bind(event.time.timestamp_millis())
                        .fetch_optional(&mut *$tx)
                        .await
                }
            }
            .map_err(q("finding an event's deployment"))?;
            let existing = row.map(Tracked::try_from).transpose()?;
            let t = history::fold(existing, event, data, status);
            let d = &t.deployment;
            sqlx::query(UPSERT_SQL)
                .bind(&d.id)
                .bind(&d.service)
                .bind(&d.environment)
                .bind(&d.version)
                .bind(&d.revision)
                .bind(&d.deployed_by)
                .bind(d.started_at.map(|t| t.timestamp_millis()))
                .bind(d.finished_at.map(|t| t.timestamp_millis()))
                .bind(d.status.as_str())
                .bind(t.status_at.timestamp_millis())
                .bind(&d.url)
                .bind(&d.source)
                .bind(d.argocd_history_id)
                .bind(serde_json::to_string(&t.event_ids).unwrap_or_else(|_| "[]".to_owned()))
                .execute(&mut *$tx)
                .await
                .map_err(q("writing a deployment"))?;
            Ok::<_, StoreError>(EventOutcome::Stored)
        }
    };
}

/// Records `events` in one transaction of either backend, in the order given; `$lock_sql`, when
/// `Some`, takes one transaction-scoped lock per service and environment first, in key order (so
/// two replicas writing overlapping batches cannot deadlock on them).
macro_rules! record_in {
    ($pool:expr, $events:expr, $lock_sql:expr) => {{
        let events: &[DeployEvent] = $events;
        let lock_sql: Option<&str> = $lock_sql;
        let mut tx = $pool
            .begin()
            .await
            .map_err(q("starting to record events"))?;
        if let Some(lock_sql) = lock_sql {
            let mut keys: Vec<i64> = events
                .iter()
                .filter(|e| e.kind.deploy_status().is_some())
                .filter_map(|e| e.deploy.as_ref().map(lock_key))
                .collect();
            keys.sort_unstable();
            keys.dedup();
            for key in keys {
                sqlx::query(lock_sql)
                    .bind(key)
                    .execute(&mut *tx)
                    .await
                    .map_err(q("taking the deploy lock"))?;
            }
        }
        let mut outcomes = Vec::with_capacity(events.len());
        for event in events {
            outcomes.push(record_one!(tx, event).await?);
        }
        tx.commit().await.map_err(q("committing events"))?;
        Ok(outcomes)
    }};
}

impl Store {
    /// Stores an event once (by id) and, for deploy events, folds it into the history
    /// ([`crate::deploys::history`]). A second event with a stored id changes nothing.
    ///
    /// # Errors
    /// [`StoreError::Query`]; [`StoreError::Corrupt`] if the deployment row cannot be read.
    pub async fn record_event(&self, event: &DeployEvent) -> Result<EventOutcome, StoreError> {
        let outcomes = self.record_events(std::slice::from_ref(event)).await?;
        Ok(outcomes.first().copied().unwrap_or(EventOutcome::Duplicate))
    }

    /// Stores a batch of events in one transaction, as [`record_event`](Self::record_event) would
    /// one after the other (in slice order; an id repeated within the batch is a duplicate of its
    /// first occurrence). Returns one outcome per event, in slice order. All or nothing: on an
    /// error nothing of the batch is stored.
    ///
    /// On PostgreSQL the batch first takes a transaction-scoped advisory lock per service and
    /// environment (in key order), so replicas fold the events of one service and environment one
    /// transaction at a time; SQLite has a single writer, taken by the first insert.
    ///
    /// # Errors
    /// [`StoreError::Query`]; [`StoreError::Corrupt`] if a deployment row cannot be read.
    pub async fn record_events(
        &self,
        events: &[DeployEvent],
    ) -> Result<Vec<EventOutcome>, StoreError> {
        match self {
            Self::Sqlite(pool) => record_in!(pool, events, None),
            Self::Postgres(pool) => {
                record_in!(pool, events, Some("SELECT pg_advisory_xact_lock($1)"))
            }
        }
    }

    /// The deploys of `service` (a name or ref, see [`crate::deploys::service_key`]), in one
    /// environment or all, newest first (by `finished_at`, else `started_at`); at most `limit`.
    ///
    /// # Errors
    /// [`StoreError::Query`], [`StoreError::Corrupt`].
    pub async fn deployments(
        &self,
        service: &str,
        environment: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Deployment>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM deployments WHERE service = $1 \
             AND ($2 IS NULL OR environment = $2) {NEWEST_FIRST} LIMIT $3"
        );
        let service = crate::deploys::service_key(service);
        let environment = environment.map(str::to_ascii_lowercase);
        let found: Vec<DeploymentRow> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(&service)
            .bind(&environment)
            .bind(limit.max(0))
            .fetch_all(pool)
            .await)
        .map_err(q("reading deploy history"))?;
        rows(found)
    }

    /// The latest succeeded deploy of `service` to `environment`: what runs there now.
    ///
    /// # Errors
    /// [`StoreError::Query`], [`StoreError::Corrupt`].
    pub async fn current_deployment(
        &self,
        service: &str,
        environment: &str,
    ) -> Result<Option<Deployment>, StoreError> {
        self.one_succeeded(service, environment, "", &[]).await
    }

    /// The last succeeded deploy of `service` to `environment` strictly before `before` (by
    /// `finished_at`, else `started_at`) with a version other than `before`'s, and, when
    /// `not_after` is given, finished at or before it (e.g. the incident's start): the default
    /// rollback target.
    ///
    /// # Errors
    /// [`StoreError::Query`], [`StoreError::Corrupt`].
    pub async fn deployment_before(
        &self,
        service: &str,
        environment: &str,
        before: &Deployment,
        not_after: Option<DateTime<Utc>>,
    ) -> Result<Option<Deployment>, StoreError> {
        let before_ms = before
            .sort_time()
            .map_or(i64::MAX, |t| t.timestamp_millis());
        let not_after_ms = not_after.map_or(i64::MAX, |t| t.timestamp_millis());
        self.one_succeeded(
            service,
            environment,
            "AND version <> $3 AND COALESCE(finished_at, started_at) < $4 \
             AND COALESCE(finished_at, started_at) <= $5",
            &[
                Bind::Text(before.version.clone()),
                Bind::Int(before_ms),
                Bind::Int(not_after_ms),
            ],
        )
        .await
    }

    /// The latest succeeded deploy of `version` of `service` to `environment`, if it ever ran
    /// there.
    ///
    /// # Errors
    /// [`StoreError::Query`], [`StoreError::Corrupt`].
    pub async fn succeeded_version(
        &self,
        service: &str,
        environment: &str,
        version: &str,
    ) -> Result<Option<Deployment>, StoreError> {
        self.one_succeeded(
            service,
            environment,
            "AND version = $3",
            &[Bind::Text(version.to_owned())],
        )
        .await
    }

    /// What runs in each environment of `service`: its latest succeeded deploy per environment,
    /// in environment order, in one query (for the service card).
    ///
    /// # Errors
    /// [`StoreError::Query`], [`StoreError::Corrupt`].
    pub async fn current_deployments(&self, service: &str) -> Result<Vec<Deployment>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM deployments d WHERE service = $1 AND status = 'succeeded' \
             AND COALESCE(finished_at, started_at) = (SELECT MAX(COALESCE(e.finished_at, \
             e.started_at)) FROM deployments e WHERE e.service = d.service \
             AND e.environment = d.environment AND e.status = 'succeeded') \
             ORDER BY environment, id DESC"
        );
        let service = crate::deploys::service_key(service);
        let found: Vec<DeploymentRow> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(&service)
            .fetch_all(pool)
            .await)
        .map_err(q("reading current deploys"))?;
        let mut out = rows(found)?;
        out.dedup_by(|a, b| a.environment == b.environment);
        Ok(out)
    }

    async fn one_succeeded(
        &self,
        service: &str,
        environment: &str,
        filter: &str,
        extra: &[Bind],
    ) -> Result<Option<Deployment>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM deployments WHERE service = $1 AND environment = $2 \
             AND status = 'succeeded' {filter} {NEWEST_FIRST} LIMIT 1"
        );
        let service = crate::deploys::service_key(service);
        let environment = environment.to_ascii_lowercase();
        let found: Option<DeploymentRow> = on_pool!(self, |pool| {
            let mut query = sqlx::query_as(&sql).bind(&service).bind(&environment);
            for b in extra {
                query = match b {
                    Bind::Text(s) => query.bind(s.clone()),
                    Bind::Int(i) => query.bind(*i),
                };
            }
            query.fetch_optional(pool).await
        })
        .map_err(q("reading deploy history"))?;
        found
            .map(|r| Tracked::try_from(r).map(|t| t.deployment))
            .transpose()
    }
}

/// An extra bound parameter of [`Store::one_succeeded`].
enum Bind {
    Text(String),
    Int(i64),
}
