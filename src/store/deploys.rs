//! Deploy events and the deploy history (migrations `0005_deploys`, `0006_deploys_order`). Events
//! are recorded in batches ([`Store::record_events`]): each is inserted (its id is the primary
//! key, so a redelivery changes nothing) and folded into its deployment row in the same
//! transaction. On PostgreSQL, events of one service and environment are serialized with
//! transaction-scoped advisory locks; SQLite has a single writer, taken by the first insert.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::QueryBuilder;

use super::{Store, StoreError, q};
use crate::deploys::history::{self, Tracked};
use crate::deploys::{
    DeployData, DeployEvent, DeployHistory, DeployStatus, Deployment, EventOutcome, LastDeploys,
};

const COLUMNS: &str = "id, service, environment, version, revision, deployed_by, started_at, \
    finished_at, status, status_at, url, source, argocd_history_id, event_ids";

/// Newest first: by finished_at, else started_at, then id: the order of the
/// `deployments_history` index (migration `0008_deploys_order`), so reads of one service and
/// environment need no sort.
const NEWEST_FIRST: &str = "ORDER BY COALESCE(finished_at, started_at) DESC, id DESC";

/// The history of one service (`$1`), newest first, at most `$2` rows: with an environment
/// (`$3`), an index range; across environments, sorted (bounded by the limit).
fn list_sql(with_environment: bool) -> String {
    let environment = if with_environment {
        "AND environment = $3"
    } else {
        ""
    };
    format!(
        "SELECT {COLUMNS} FROM deployments WHERE service = $1 {environment} {NEWEST_FIRST} LIMIT $2"
    )
}

/// The newest succeeded deploy of service `$1` in environment `$2` that also meets `filter`.
fn one_succeeded_sql(filter: &str) -> String {
    format!(
        "SELECT {COLUMNS} FROM deployments WHERE service = $1 AND environment = $2 \
         AND status = 'succeeded' {filter} {NEWEST_FIRST} LIMIT 1"
    )
}

/// `deployment_before`'s filter: another version than `$3`, sorting before `$4` and not after
/// `$5`.
const BEFORE_FILTER: &str = "AND version <> $3 AND COALESCE(finished_at, started_at) < $4 \
    AND COALESCE(finished_at, started_at) <= $5";

/// `succeeded_version`'s filter: version `$3` (served by `deployments_by_version`).
const VERSION_FILTER: &str = "AND version = $3";

/// The newest succeeded deploy of service `$1` in each of its environments: per environment one
/// `LIMIT 1` range of `deployments_history`.
fn current_per_environment_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM deployments WHERE id IN (SELECT (SELECT id FROM deployments \
         WHERE service = $1 AND environment = envs.environment AND status = 'succeeded' \
         {NEWEST_FIRST} LIMIT 1) FROM (SELECT DISTINCT environment FROM deployments \
         WHERE service = $1) envs) ORDER BY environment"
    )
}

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

/// Rows per multi-row statement: far below SQLite's 32,766 and PostgreSQL's 65,535 bound
/// parameters (14 per deployment row).
const CHUNK: usize = 500;

/// Multi-row statements of at most this many rows are kept prepared (one statement per size and
/// kind); larger, rarer ones are prepared for one use.
const PREPARED_ROWS: usize = 64;

/// Writes `$rows[id]` for every id of `$dirty` (in one multi-row upsert per [`CHUNK`]) inside
/// the open transaction `$tx`, and empties `$dirty`.
macro_rules! flush_rows {
    ($db:ty, $tx:expr, $rows:expr, $dirty:expr) => {{
        let dirty: &mut Vec<String> = $dirty;
        let rows: &HashMap<String, Tracked> = $rows;
        let written: Vec<&Tracked> = dirty.iter().filter_map(|id| rows.get(id)).collect();
        for chunk in written.chunks(CHUNK) {
            let mut upsert =
                QueryBuilder::<$db>::new(format!("INSERT INTO deployments ({COLUMNS}) "));
            upsert.push_values(chunk, |mut b, t| {
                let d = &t.deployment;
                b.push_bind(d.id.as_str())
                    .push_bind(d.service.as_str())
                    .push_bind(d.environment.as_str())
                    .push_bind(d.version.as_str())
                    .push_bind(d.revision.as_deref())
                    .push_bind(d.deployed_by.as_deref())
                    .push_bind(d.started_at.map(|t| t.timestamp_millis()))
                    .push_bind(d.finished_at.map(|t| t.timestamp_millis()))
                    .push_bind(d.status.as_str())
                    .push_bind(t.status_at.timestamp_millis())
                    .push_bind(d.url.as_deref())
                    .push_bind(d.source.as_str())
                    .push_bind(d.argocd_history_id)
                    .push_bind(
                        serde_json::to_string(&t.event_ids).unwrap_or_else(|_| "[]".to_owned()),
                    );
            });
            upsert.push(
                " ON CONFLICT (id) DO UPDATE SET version = excluded.version, \
                 revision = excluded.revision, deployed_by = excluded.deployed_by, \
                 started_at = excluded.started_at, finished_at = excluded.finished_at, \
                 status = excluded.status, status_at = excluded.status_at, url = excluded.url, \
                 argocd_history_id = excluded.argocd_history_id, event_ids = excluded.event_ids",
            );
            upsert
                .build()
                .persistent(chunk.len() <= PREPARED_ROWS)
                .execute(&mut *$tx)
                .await
                .map_err(q("writing deployments"))?;
        }
        dirty.clear();
    }};
}

/// The advisory lock keys of the deploy events in `events`, sorted, each once.
fn lock_keys(events: &[DeployEvent]) -> Vec<i64> {
    let mut keys: Vec<i64> = events
        .iter()
        .filter(|e| e.kind.deploy_status().is_some())
        .filter_map(|e| e.deploy.as_ref().map(lock_key))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Records a batch of events in the open transaction `$tx` of either backend (`$db`) and commits
/// it, in a handful of statements whatever the batch's size:
///
/// 1. (on PostgreSQL, before this macro: one transaction-scoped advisory lock per service and
///    environment, taken in key order in one statement, since output expressions are evaluated
///    after `ORDER BY`; replicas writing overlapping batches serialize without deadlocking;)
/// 2. one multi-row insert of the events (first occurrence of each id), `ON CONFLICT DO NOTHING
///    RETURNING id`: the ids returned are the new events, the others duplicates;
/// 3. one read of the deployment rows the new deploy events name (by deployment id);
/// 4. the fold of each new deploy event, in batch order, in memory; an event without a
///    deployment id is correlated by a query (after writing the rows folded so far, so it sees
///    them);
/// 5. one multi-row upsert of the rows changed.
macro_rules! record_in {
    ($db:ty, $tx:ident, $events:expr) => {{
        let mut tx = $tx;
        let events: &[DeployEvent] = $events;
        let mut outcomes = vec![EventOutcome::Duplicate; events.len()];
        let mut seen = HashSet::new();
        let firsts: Vec<&DeployEvent> = events
            .iter()
            .filter(|e| seen.insert(e.id.as_str()))
            .collect();
        let received_at = Utc::now().timestamp_millis();
        let mut new_ids: HashSet<String> = HashSet::new();
        for chunk in firsts.chunks(CHUNK) {
            let mut insert = QueryBuilder::<$db>::new(
                "INSERT INTO deploy_events (id, source, type, time, received_at, raw) ",
            );
            insert.push_values(chunk, |mut b, e| {
                b.push_bind(e.id.as_str())
                    .push_bind(e.source.as_str())
                    .push_bind(e.kind.as_str())
                    .push_bind(e.time.timestamp_millis())
                    .push_bind(received_at)
                    .push_bind(e.to_json());
            });
            insert.push(" ON CONFLICT (id) DO NOTHING RETURNING id");
            let ids: Vec<String> = insert
                .build_query_scalar()
                .persistent(chunk.len() <= PREPARED_ROWS)
                .fetch_all(&mut *tx)
                .await
                .map_err(q("storing events"))?;
            new_ids.extend(ids);
        }
        let mut stored = HashSet::new();
        for (event, outcome) in events.iter().zip(outcomes.iter_mut()) {
            if new_ids.contains(&event.id) && stored.insert(event.id.as_str()) {
                *outcome = EventOutcome::Stored;
            }
        }
        let folds: Vec<(&DeployEvent, &DeployData, DeployStatus)> = firsts
            .iter()
            .filter(|e| new_ids.contains(&e.id))
            .filter_map(|e| Some((*e, e.deploy.as_ref()?, e.kind.deploy_status()?)))
            .collect();
        let named: BTreeSet<String> = folds
            .iter()
            .filter(|(_, d, _)| d.deployment_id.is_some())
            .map(|(e, d, _)| history::deployment_id(e, d))
            .collect();
        let mut rows: HashMap<String, Tracked> = HashMap::new();
        let named: Vec<&String> = named.iter().collect();
        for chunk in named.chunks(CHUNK) {
            let mut select = QueryBuilder::<$db>::new(format!(
                "SELECT {COLUMNS} FROM deployments WHERE id IN ("
            ));
            let mut list = select.separated(", ");
            for id in chunk {
                list.push_bind(id.as_str());
            }
            select.push(")");
            let found: Vec<DeploymentRow> = select
                .build_query_as()
                .persistent(chunk.len() <= PREPARED_ROWS)
                .fetch_all(&mut *tx)
                .await
                .map_err(q("finding the events' deployments"))?;
            for row in found {
                let t = Tracked::try_from(row)?;
                rows.insert(t.deployment.id.clone(), t);
            }
        }
        let mut dirty: Vec<String> = Vec::new();
        for (event, data, status) in folds {
            let existing = match &data.deployment_id {
                Some(_) => rows.remove(&history::deployment_id(event, data)),
                None => {
                    flush_rows!($db, tx, &rows, &mut dirty);
                    let row: Option<DeploymentRow> = sqlx::query_as(&correlate_sql(status))
                        .bind(&data.service)
                        .bind(&data.environment)
                        .bind(&data.version)
                        .bind(&event.source)
                        .bind(event.time.timestamp_millis())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(q("finding an event's deployment"))?;
                    match row {
                        Some(row) => {
                            let t = Tracked::try_from(row)?;
                            rows.remove(&t.deployment.id);
                            Some(t)
                        }
                        None => None,
                    }
                }
            };
            let t = history::fold(existing, event, data, status);
            let id = t.deployment.id.clone();
            if !dirty.contains(&id) {
                dirty.push(id.clone());
            }
            rows.insert(id, t);
        }
        flush_rows!($db, tx, &rows, &mut dirty);
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
    /// transaction at a time; SQLite has a single writer, taken by the first insert. A batch
    /// costs a handful of statements whatever its size (see `record_in!`).
    ///
    /// # Errors
    /// [`StoreError::Query`]; [`StoreError::Corrupt`] if a deployment row cannot be read.
    pub async fn record_events(
        &self,
        events: &[DeployEvent],
    ) -> Result<Vec<EventOutcome>, StoreError> {
        match self {
            Self::Sqlite(pool) => {
                let tx = pool.begin().await.map_err(q("starting to record events"))?;
                record_in!(sqlx::Sqlite, tx, events)
            }
            Self::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(q("starting to record events"))?;
                let keys = lock_keys(events);
                if !keys.is_empty() {
                    sqlx::query(
                        "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS u(k) \
                         ORDER BY k",
                    )
                    .bind(keys)
                    .execute(&mut *tx)
                    .await
                    .map_err(q("taking the deploy locks"))?;
                }
                record_in!(sqlx::Postgres, tx, events)
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
        let sql = list_sql(environment.is_some());
        let service = crate::deploys::service_key(service);
        let environment = environment.map(str::to_ascii_lowercase);
        let found: Vec<DeploymentRow> = on_pool!(self, |pool| {
            let mut query = sqlx::query_as(&sql).bind(&service).bind(limit.max(0));
            if let Some(environment) = &environment {
                query = query.bind(environment);
            }
            query.fetch_all(pool).await
        })
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
            BEFORE_FILTER,
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
            VERSION_FILTER,
            &[Bind::Text(version.to_owned())],
        )
        .await
    }

    /// What runs in each environment of `service`: its latest succeeded deploy per environment,
    /// in environment order, in one query (for the service card). Environments without a
    /// succeeded deploy are left out.
    ///
    /// # Errors
    /// [`StoreError::Query`], [`StoreError::Corrupt`].
    pub async fn current_deployments(&self, service: &str) -> Result<Vec<Deployment>, StoreError> {
        let sql = current_per_environment_sql();
        let service = crate::deploys::service_key(service);
        let found: Vec<DeploymentRow> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(&service)
            .fetch_all(pool)
            .await)
        .map_err(q("reading current deploys"))?;
        rows(found)
    }

    /// The last succeeded deploy of every service to every environment, in one query (by
    /// `finished_at`, else `started_at`): what scorecards' `deployed_within` checks read.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn last_successful_deploys(&self) -> Result<LastDeploys, StoreError> {
        let sql = "SELECT service, environment, MAX(COALESCE(finished_at, started_at)) \
                   FROM deployments WHERE status = 'succeeded' GROUP BY service, environment";
        let found: Vec<(String, String, Option<i64>)> =
            on_pool!(self, |pool| sqlx::query_as(sql).fetch_all(pool).await)
                .map_err(q("reading the last deploys"))?;
        let mut out = LastDeploys::default();
        for (service, environment, at) in found {
            if let Some(at) = time(at) {
                out.insert(&service, &environment, at);
            }
        }
        Ok(out)
    }

    /// When the deploy history last changed: the arrival time of the newest stored event (any
    /// replica's), `None` before the first. Cheap (an index holds the maximum); a change of this
    /// value is the scorer's cue to read [`Self::last_successful_deploys`] again.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn deploys_changed_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let sql = "SELECT MAX(received_at) FROM deploy_events";
        let found: (Option<i64>,) =
            on_pool!(self, |pool| sqlx::query_as(sql).fetch_one(pool).await)
                .map_err(q("reading when deploys last changed"))?;
        Ok(time(found.0))
    }

    /// The name `asked` has in the deploy history of `service`: the history's own spelling of
    /// that environment when it has one under an alias (`prod` finds `production`), else `asked`
    /// lower-cased (see [`crate::deploys::environment::in_history`]).
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn environment_named(
        &self,
        service: &str,
        asked: &str,
    ) -> Result<String, StoreError> {
        let sql = "SELECT DISTINCT environment FROM deployments WHERE service = $1";
        let service = crate::deploys::service_key(service);
        let found: Vec<(String,)> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(&service)
            .fetch_all(pool)
            .await)
        .map_err(q("reading a service's environments"))?;
        Ok(crate::deploys::environment::in_history(
            asked,
            found.iter().map(|(e,)| e.as_str()),
        ))
    }

    async fn one_succeeded(
        &self,
        service: &str,
        environment: &str,
        filter: &str,
        extra: &[Bind],
    ) -> Result<Option<Deployment>, StoreError> {
        let sql = one_succeeded_sql(filter);
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

/// Handlers read the history through [`DeployHistory`]; each method is the inherent one of the
/// same name.
#[async_trait::async_trait]
impl DeployHistory for Store {
    async fn environment_named(&self, service: &str, asked: &str) -> Result<String, StoreError> {
        Store::environment_named(self, service, asked).await
    }

    async fn current_deployments(&self, service: &str) -> Result<Vec<Deployment>, StoreError> {
        Store::current_deployments(self, service).await
    }

    async fn deployments(
        &self,
        service: &str,
        environment: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Deployment>, StoreError> {
        Store::deployments(self, service, environment, limit).await
    }

    async fn current_deployment(
        &self,
        service: &str,
        environment: &str,
    ) -> Result<Option<Deployment>, StoreError> {
        Store::current_deployment(self, service, environment).await
    }

    async fn deployment_before(
        &self,
        service: &str,
        environment: &str,
        before: &Deployment,
        not_after: Option<DateTime<Utc>>,
    ) -> Result<Option<Deployment>, StoreError> {
        Store::deployment_before(self, service, environment, before, not_after).await
    }

    async fn succeeded_version(
        &self,
        service: &str,
        environment: &str,
        version: &str,
    ) -> Result<Option<Deployment>, StoreError> {
        Store::succeeded_version(self, service, environment, version).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite's plan of `sql` (bound with `binds` text parameters), one line per step.
    async fn plan(store: &Store, sql: &str, binds: usize) -> String {
        let Store::Sqlite(pool) = store else {
            unreachable!("a SQLite store")
        };
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut query = sqlx::query_as::<_, (i64, i64, i64, String)>(&explain);
        for i in 0..binds {
            query = query.bind(format!("p{i}"));
        }
        let steps = query.fetch_all(pool).await.expect("explain");
        steps
            .into_iter()
            .map(|(_, _, _, detail)| detail)
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[tokio::test]
    async fn the_rollback_reads_are_index_ranges_without_a_sort() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("plan.db").display());
        let store = Store::connect(&url, None).await.expect("connect");
        store.migrate().await.expect("migrate");
        let cases = [
            (
                "history of an environment",
                list_sql(true),
                3,
                "deployments_history",
            ),
            (
                "current deploy",
                one_succeeded_sql(""),
                2,
                "deployments_history",
            ),
            (
                "deploy before",
                one_succeeded_sql(BEFORE_FILTER),
                5,
                "deployments_history (service=? AND environment=? AND <expr><?)",
            ),
            (
                "a version's deploy",
                one_succeeded_sql(VERSION_FILTER),
                3,
                "deployments_by_version (service=? AND environment=? AND version=? AND status=?)",
            ),
        ];
        for (what, sql, binds, index) in cases {
            let plan = plan(&store, &sql, binds).await;
            assert!(plan.contains(index), "{what}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{what} sorts: {plan}");
            assert!(!plan.contains("SCAN deployments"), "{what} scans: {plan}");
        }
        // Per environment one LIMIT 1 range; the only sort is of the few rows found.
        let per_environment = plan(&store, &current_per_environment_sql(), 1).await;
        assert!(
            per_environment.contains(
                "SEARCH deployments USING INDEX deployments_history (service=? AND environment=?)"
            ),
            "{per_environment}"
        );
        assert_eq!(
            per_environment.matches("TEMP B-TREE").count(),
            1,
            "{per_environment}"
        );
        for status in [DeployStatus::Started, DeployStatus::Succeeded] {
            let correlated = plan(&store, &correlate_sql(status), 5).await;
            assert!(
                correlated.contains("deployments_by_version"),
                "{correlated}"
            );
        }
    }
}
