//! The catalog repository: applying a source's read in one transaction, the sync generation, and
//! loading every entity back for the in-memory snapshot.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use futures_util::TryStreamExt;
use sqlx::{QueryBuilder, Row};

use super::{Store, StoreError, q};
use crate::catalog::ingest::Position;
use crate::catalog::{Entity, Problem, SourceRead};

/// Rows per multi-row statement: 9 binds each, well under SQLite's 32,766 and PostgreSQL's 65,535.
const CHUNK: usize = 1_000;

/// The PostgreSQL advisory lock key that serialises catalog syncs across replicas.
pub fn catalog_lock_key() -> i64 {
    0x1d9_ca7a
}

/// What applying one source changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncOutcome {
    /// Entities new to the store.
    pub inserted: usize,
    /// Entities whose document changed.
    pub updated: usize,
    /// Entities that left the source and were removed.
    pub deleted: usize,
    /// Entities left as they were.
    pub unchanged: usize,
    /// Entities no longer valid in a file that had errors this time: kept at their last good state
    /// rather than dropped.
    pub kept_despite_errors: usize,
    /// Refs already owned by another source (that source keeps them).
    pub conflicts: Vec<Problem>,
    /// The catalog generation after the sync.
    pub generation: i64,
}

struct Plan<'a> {
    upserts: Vec<&'a crate::catalog::ReadEntity>,
    deletes: Vec<String>,
    outcome: SyncOutcome,
}

fn plan<'a>(read: &'a SourceRead, existing: Vec<(String, String, String, String)>) -> Plan<'a> {
    let mut outcome = SyncOutcome::default();
    let existing: HashMap<String, (String, String, String)> = existing
        .into_iter()
        .map(|(r, s, h, l)| (r, (s, h, l)))
        .collect();
    let mut upserts = Vec::new();
    let mut present = HashSet::with_capacity(read.entities.len());
    for e in &read.entities {
        let key = e.entity_ref.key();
        match existing.get(&key) {
            Some((source, _, location)) if *source != read.source => {
                outcome.conflicts.push(Problem::Conflict {
                    entity_ref: e.entity_ref.to_string(),
                    kept: format!("{location} (source `{source}`)"),
                    dropped: e.location.clone(),
                });
                continue;
            }
            Some((_, hash, _)) if *hash == e.hash => outcome.unchanged += 1,
            Some(_) => {
                outcome.updated += 1;
                upserts.push(e);
            }
            None => {
                outcome.inserted += 1;
                upserts.push(e);
            }
        }
        present.insert(key);
    }
    let files_with_errors: HashSet<&str> = read
        .problems
        .iter()
        .filter(|p| {
            matches!(
                p,
                Problem::UnreadableFile { .. } | Problem::NotYaml { .. } | Problem::Invalid { .. }
            )
        })
        .map(Problem::file)
        .collect();
    let mut deletes = Vec::new();
    for (key, (source, _, location)) in &existing {
        if *source != read.source || present.contains(key) {
            continue;
        }
        let file = location
            .rsplit_once('#')
            .map_or(location.as_str(), |(f, _)| f);
        if files_with_errors.contains(file) {
            outcome.kept_despite_errors += 1;
        } else {
            deletes.push(key.clone());
        }
    }
    deletes.sort();
    outcome.deleted = deletes.len();
    Plan {
        upserts,
        deletes,
        outcome,
    }
}

macro_rules! apply_plan {
    ($tx:expr, $db:ty, $plan:expr, $source:expr) => {{
        let now = Utc::now();
        for chunk in $plan.upserts.chunks(CHUNK) {
            let mut qb = QueryBuilder::<$db>::new(
                "INSERT INTO catalog_entities (entity_ref, kind, namespace, name, source, location, hash, body, updated_at) ",
            );
            qb.push_values(chunk, |mut b, e| {
                let r = &e.entity_ref;
                b.push_bind(r.key())
                    .push_bind(r.kind.clone())
                    .push_bind(r.namespace.clone())
                    .push_bind(r.name.clone())
                    .push_bind($source.to_owned())
                    .push_bind(e.location.clone())
                    .push_bind(e.hash.clone())
                    .push_bind(e.body.clone())
                    .push_bind(now);
            });
            qb.push(
                " ON CONFLICT (entity_ref) DO UPDATE SET kind = excluded.kind, namespace = excluded.namespace, \
                 name = excluded.name, source = excluded.source, location = excluded.location, \
                 hash = excluded.hash, body = excluded.body, updated_at = excluded.updated_at",
            );
            qb.build().execute(&mut *$tx).await.map_err(q("writing entities"))?;
        }
        for chunk in $plan.deletes.chunks(CHUNK) {
            let mut qb = QueryBuilder::<$db>::new("DELETE FROM catalog_entities WHERE entity_ref IN (");
            let mut sep = qb.separated(", ");
            for key in chunk {
                sep.push_bind(key.clone());
            }
            qb.push(")");
            qb.build().execute(&mut *$tx).await.map_err(q("removing entities"))?;
        }
        let changed = !$plan.upserts.is_empty() || !$plan.deletes.is_empty();
        if changed {
            sqlx::query("UPDATE catalog_state SET generation = generation + 1, synced_at = $1 WHERE id = 1")
                .bind(now)
                .execute(&mut *$tx)
                .await
                .map_err(q("bumping the catalog generation"))?;
        }
        let generation: i64 = sqlx::query_scalar("SELECT generation FROM catalog_state WHERE id = 1")
            .fetch_one(&mut *$tx)
            .await
            .map_err(q("reading the catalog generation"))?;
        generation
    }};
}

impl Store {
    /// Replaces, in one transaction, what one source contributed with what was just read from it:
    /// new entities are inserted, changed ones updated (by document hash), those gone from the
    /// files deleted, unchanged ones left alone. A ref already held by another source stays with
    /// that source and is reported as a conflict. Entities of a file that had errors this time are
    /// kept at their last good state. If any statement fails, nothing changes.
    ///
    /// # Errors
    /// [`StoreError::Query`]; the previous catalog is then intact.
    pub async fn apply_source(&self, read: &SourceRead) -> Result<SyncOutcome, StoreError> {
        const EXISTING: &str = "SELECT entity_ref, source, hash, location FROM catalog_entities";
        match self {
            Self::Sqlite(pool) => {
                // Read then write: take the write lock up front, or a write committed by another
                // connection in between makes SQLite refuse this one (SQLITE_BUSY_SNAPSHOT).
                let mut tx = pool
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(q("starting the sync transaction"))?;
                let existing: Vec<(String, String, String, String)> = sqlx::query_as(EXISTING)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(q("reading the catalog"))?;
                let mut plan = plan(read, existing);
                plan.outcome.generation = apply_plan!(tx, sqlx::Sqlite, plan, read.source);
                tx.commit().await.map_err(q("committing the sync"))?;
                Ok(plan.outcome)
            }
            Self::Postgres(pool) => {
                let mut tx = pool
                    .begin()
                    .await
                    .map_err(q("starting the sync transaction"))?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(catalog_lock_key())
                    .execute(&mut *tx)
                    .await
                    .map_err(q("taking the catalog sync lock"))?;
                let existing: Vec<(String, String, String, String)> = sqlx::query_as(EXISTING)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(q("reading the catalog"))?;
                let mut plan = plan(read, existing);
                plan.outcome.generation = apply_plan!(tx, sqlx::Postgres, plan, read.source);
                tx.commit().await.map_err(q("committing the sync"))?;
                Ok(plan.outcome)
            }
        }
    }

    /// The catalog generation: grows with every sync that changed something.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn catalog_generation(&self) -> Result<i64, StoreError> {
        const SQL: &str = "SELECT generation FROM catalog_state WHERE id = 1";
        match self {
            Self::Sqlite(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await,
            Self::Postgres(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await,
        }
        .map_err(q("reading the catalog generation"))
    }

    /// Every stored entity, in ref order, with the generation read in the same pass. Rows that no
    /// longer validate (stored by an older idp) are skipped and returned as problems.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn load_entities(&self) -> Result<(Vec<Entity>, i64, Vec<Problem>), StoreError> {
        const SQL: &str =
            "SELECT entity_ref, location, body FROM catalog_entities ORDER BY entity_ref";
        let mut entities = Vec::new();
        let mut problems = Vec::new();
        let mut take = |row: (String, String, String)| {
            let (key, location, body) = row;
            let parsed = serde_json::from_str::<serde_json::Value>(&body)
                .map_err(|e| e.to_string())
                .and_then(|doc| Entity::from_document(&doc).map_err(|e| e.to_string()));
            match parsed {
                Ok(e) => entities.push(e),
                Err(reason) => problems.push(Problem::Invalid {
                    at: Position {
                        file: format!("{location} (stored as {key})"),
                        document: None,
                        line: None,
                    },
                    reason,
                }),
            }
        };
        let generation = match self {
            Self::Sqlite(pool) => {
                let mut tx = pool.begin().await.map_err(q("starting a read"))?;
                let generation: i64 =
                    sqlx::query_scalar("SELECT generation FROM catalog_state WHERE id = 1")
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(q("reading the catalog generation"))?;
                let mut rows = sqlx::query(SQL).fetch(&mut *tx);
                while let Some(row) = rows.try_next().await.map_err(q("loading the catalog"))? {
                    take((row.get(0), row.get(1), row.get(2)));
                }
                drop(rows);
                tx.commit().await.map_err(q("finishing a read"))?;
                generation
            }
            Self::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(q("starting a read"))?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    .execute(&mut *tx)
                    .await
                    .map_err(q("starting a consistent read"))?;
                let generation: i64 =
                    sqlx::query_scalar("SELECT generation FROM catalog_state WHERE id = 1")
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(q("reading the catalog generation"))?;
                let mut rows = sqlx::query(SQL).fetch(&mut *tx);
                while let Some(row) = rows.try_next().await.map_err(q("loading the catalog"))? {
                    take((row.get(0), row.get(1), row.get(2)));
                }
                drop(rows);
                tx.commit().await.map_err(q("finishing a read"))?;
                generation
            }
        };
        Ok((entities, generation, problems))
    }

    /// How many entities the store holds per kind (lower case), sorted by kind.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn count_by_kind(&self) -> Result<Vec<(String, i64)>, StoreError> {
        const SQL: &str = "SELECT LOWER(kind) AS k, COUNT(*) FROM catalog_entities GROUP BY LOWER(kind) ORDER BY k";
        match self {
            Self::Sqlite(pool) => sqlx::query_as(SQL).fetch_all(pool).await,
            Self::Postgres(pool) => sqlx::query_as(SQL).fetch_all(pool).await,
        }
        .map_err(q("counting entities per kind"))
    }

    /// How many entities each source holds, by source name.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn entities_per_source(&self) -> Result<Vec<(String, i64)>, StoreError> {
        const SQL: &str =
            "SELECT source, COUNT(*) FROM catalog_entities GROUP BY source ORDER BY source";
        match self {
            Self::Sqlite(pool) => sqlx::query_as(SQL).fetch_all(pool).await,
            Self::Postgres(pool) => sqlx::query_as(SQL).fetch_all(pool).await,
        }
        .map_err(q("counting entities per source"))
    }
}
