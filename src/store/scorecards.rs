//! Scorecard results and their history (migration `0006_scorecards`): the current score, level
//! and check states per (scorecard, entity), when each check last flipped, a log of flips, and a
//! daily history of scores, so a digest can ask what changed since a time.
//!
//! [`Store::record_evaluation`] writes one scorecard's evaluation in one transaction, and only
//! what changed: it reads the stored state, compares, and upserts in batches. On PostgreSQL,
//! replicas recording the same scorecard take turns through a transaction-scoped advisory lock;
//! on SQLite the first write of the transaction takes the single write lock before anything is
//! read.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use super::{Store, StoreError, q};
use crate::scorecards::ScoreHistory;

/// Rows per multi-row statement (6 values each: well inside both backends' parameter limits).
const CHUNK: usize = 500;

/// One check's state for one entity, as [`Store::record_evaluation`] takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckState<'a> {
    /// The check id.
    pub id: &'a str,
    /// Whether it passed.
    pub passed: bool,
    /// Why it failed; `None` when it passed.
    pub reason: Option<&'a str>,
}

/// One entity's result for one scorecard, as [`Store::record_evaluation`] takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityState<'a> {
    /// The entity ref key, lower-case (`component:default/checkout-api`).
    pub entity: String,
    /// 0 to 100.
    pub score: u8,
    /// The level reached, if any.
    pub level: Option<&'a str>,
    /// Every check of the scorecard.
    pub checks: Vec<CheckState<'a>>,
}

/// What [`Store::record_evaluation`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordOutcome {
    /// Check rows inserted or updated (new checks, flips, changed reasons).
    pub checks_written: usize,
    /// Checks that flipped (pass → fail or fail → pass).
    pub flips: usize,
    /// Score rows inserted or updated.
    pub scores_written: usize,
    /// Daily history rows inserted or updated.
    pub history_written: usize,
    /// Entities no longer scored (their current rows deleted; history kept).
    pub entities_removed: usize,
}

/// A check that changed between a time and now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckChange {
    /// The check id.
    pub check_id: String,
    /// When it last flipped into its current state.
    pub since: DateTime<Utc>,
    /// Why it fails now (regressions); `None` for improvements.
    pub reason: Option<String>,
}

/// A score of the daily history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyScore {
    /// The UTC day.
    pub day: NaiveDate,
    /// 0 to 100.
    pub score: u8,
    /// The level reached, if any.
    pub level: Option<String>,
}

/// What changed for one entity since a time ([`Store::changes_since`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityChanges {
    /// The entity ref key.
    pub entity: String,
    /// The current score; `None` when the scorecard no longer scores the entity.
    pub score: Option<u8>,
    /// The current level.
    pub level: Option<String>,
    /// The score at the time asked about, from the daily history: the row of that time's UTC
    /// day when nothing was written to it after the time, else the latest earlier day's (the
    /// score at the start of that day). `None` when the history does not go back that far.
    pub then: Option<DailyScore>,
    /// Checks that passed at the time and fail now, oldest flip first.
    pub regressions: Vec<CheckChange>,
    /// Checks that failed at the time and pass now, oldest flip first.
    pub improvements: Vec<CheckChange>,
}

/// The advisory lock key for recording one scorecard: the first 8 bytes of a SHA-256, so every
/// replica computes the same key.
fn lock_key(scorecard: &str) -> i64 {
    let digest = Sha256::digest(format!("scorecards:{scorecard}"));
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

fn day_text(at: DateTime<Utc>) -> String {
    at.date_naive().format("%Y-%m-%d").to_string()
}

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// A stored check: (check id, passed, reason).
type StoredCheck = (String, bool, Option<String>);

/// What is stored for one scorecard before an evaluation is recorded.
#[derive(Default)]
struct Stored {
    checks: HashMap<String, Vec<StoredCheck>>,
    scores: HashMap<String, (i64, Option<String>)>,
    today: HashMap<String, (i64, Option<String>)>,
}

struct CheckRow<'a> {
    entity: &'a str,
    check_id: &'a str,
    passed: bool,
    reason: Option<&'a str>,
    /// `Some` when the state changed (the new `since`); `None` keeps the stored one.
    flipped: Option<bool>,
}

struct ScoreRow<'a> {
    entity: &'a str,
    score: i64,
    level: Option<&'a str>,
}

/// The writes one evaluation needs, computed from what is stored.
#[derive(Default)]
struct Plan<'a> {
    /// Checks to upsert; `flipped`: `Some(first_seen)` for new states, `None` for a reason-only
    /// change.
    checks: Vec<CheckRow<'a>>,
    scores: Vec<ScoreRow<'a>>,
    history: Vec<ScoreRow<'a>>,
    gone_entities: Vec<String>,
    gone_checks: Vec<(String, String)>,
}

fn plan<'a>(entities: &'a [EntityState<'a>], stored: &Stored) -> Plan<'a> {
    let mut out = Plan::default();
    let mut present: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for e in entities {
        present.insert(&e.entity);
        let old = stored.checks.get(&e.entity);
        for c in &e.checks {
            let before = old.and_then(|v| v.iter().find(|(id, _, _)| id == c.id));
            let flipped = match before {
                None => Some(true),
                Some((_, passed, _)) if *passed != c.passed => Some(false),
                Some((_, _, reason)) if reason.as_deref() != c.reason => None,
                Some(_) => continue,
            };
            out.checks.push(CheckRow {
                entity: &e.entity,
                check_id: c.id,
                passed: c.passed,
                reason: c.reason,
                flipped,
            });
        }
        if let Some(old) = old {
            for (id, _, _) in old {
                if !e.checks.iter().any(|c| c.id == id) {
                    out.gone_checks.push((e.entity.clone(), id.clone()));
                }
            }
        }
        let row = ScoreRow {
            entity: &e.entity,
            score: i64::from(e.score),
            level: e.level,
        };
        let same = |s: Option<&(i64, Option<String>)>| {
            s.is_some_and(|(score, level)| *score == row.score && level.as_deref() == row.level)
        };
        if !same(stored.today.get(&e.entity)) {
            out.history.push(ScoreRow {
                entity: row.entity,
                score: row.score,
                level: row.level,
            });
        }
        if !same(stored.scores.get(&e.entity)) {
            out.scores.push(row);
        }
    }
    let gone: std::collections::BTreeSet<&String> = stored
        .scores
        .keys()
        .chain(stored.checks.keys())
        .filter(|e| !present.contains(e.as_str()))
        .collect();
    out.gone_entities = gone.into_iter().cloned().collect();
    out
}

/// Runs the same expression against whichever pool the store holds.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store {
            Store::Sqlite($pool) => $body,
            Store::Postgres($pool) => $body,
        }
    };
}

/// Records one evaluation inside a transaction of either backend; the same code for both.
macro_rules! record_in {
    ($pool:expr, $lock_sql:expr, $scorecard:expr, $entities:expr, $now:expr) => {{
        let scorecard: &str = $scorecard;
        let entities: &[EntityState<'_>] = $entities;
        let now: DateTime<Utc> = $now;
        let now_ms = now.timestamp_millis();
        let today = day_text(now);
        let mut tx = $pool
            .begin()
            .await
            .map_err(q("starting to record a scorecard evaluation"))?;
        sqlx::query($lock_sql)
            .bind(lock_key(scorecard))
            .execute(&mut *tx)
            .await
            .map_err(q("taking the scorecard lock"))?;
        sqlx::query(
            "INSERT INTO scorecard_evaluations (scorecard, evaluated_at, entities) \
             VALUES ($1, $2, $3) ON CONFLICT (scorecard) DO UPDATE SET \
             evaluated_at = excluded.evaluated_at, entities = excluded.entities",
        )
        .bind(scorecard)
        .bind(now_ms)
        .bind(entities.len() as i64)
        .execute(&mut *tx)
        .await
        .map_err(q("recording a scorecard evaluation"))?;

        let mut stored = Stored::default();
        let rows: Vec<(String, String, bool, Option<String>)> = sqlx::query_as(
            "SELECT entity, check_id, passed, reason FROM scorecard_checks WHERE scorecard = $1",
        )
        .bind(scorecard)
        .fetch_all(&mut *tx)
        .await
        .map_err(q("reading stored scorecard checks"))?;
        for (entity, id, passed, reason) in rows {
            stored
                .checks
                .entry(entity)
                .or_default()
                .push((id, passed, reason));
        }
        let rows: Vec<(String, i64, Option<String>)> = sqlx::query_as(
            "SELECT entity, score, level FROM scorecard_scores WHERE scorecard = $1",
        )
        .bind(scorecard)
        .fetch_all(&mut *tx)
        .await
        .map_err(q("reading stored scores"))?;
        stored.scores = rows.into_iter().map(|(e, s, l)| (e, (s, l))).collect();
        let rows: Vec<(String, i64, Option<String>)> = sqlx::query_as(
            "SELECT entity, score, level FROM scorecard_history WHERE scorecard = $1 AND day = $2",
        )
        .bind(scorecard)
        .bind(&today)
        .fetch_all(&mut *tx)
        .await
        .map_err(q("reading today's scorecard history"))?;
        stored.today = rows.into_iter().map(|(e, s, l)| (e, (s, l))).collect();

        let plan = plan(entities, &stored);
        let outcome = RecordOutcome {
            checks_written: plan.checks.len(),
            flips: plan
                .checks
                .iter()
                .filter(|c| c.flipped == Some(false))
                .count(),
            scores_written: plan.scores.len(),
            history_written: plan.history.len(),
            entities_removed: plan.gone_entities.len(),
        };

        for chunk in plan.checks.chunks(CHUNK) {
            let mut b = sqlx::QueryBuilder::new(
                "INSERT INTO scorecard_checks (scorecard, entity, check_id, passed, reason, since) ",
            );
            b.push_values(chunk, |mut row, c| {
                row.push_bind(scorecard)
                    .push_bind(c.entity)
                    .push_bind(c.check_id)
                    .push_bind(c.passed)
                    .push_bind(c.reason)
                    .push_bind(now_ms);
            });
            // A reason-only change keeps `since`: the state did not flip.
            b.push(
                " ON CONFLICT (scorecard, entity, check_id) DO UPDATE SET \
                 passed = excluded.passed, reason = excluded.reason, \
                 since = CASE WHEN scorecard_checks.passed = excluded.passed \
                 THEN scorecard_checks.since ELSE excluded.since END",
            );
            b.build()
                .execute(&mut *tx)
                .await
                .map_err(q("writing scorecard checks"))?;
        }
        let changes: Vec<&CheckRow<'_>> =
            plan.checks.iter().filter(|c| c.flipped.is_some()).collect();
        for chunk in changes.chunks(CHUNK) {
            let mut b = sqlx::QueryBuilder::new(
                "INSERT INTO scorecard_check_changes \
                 (scorecard, entity, check_id, at, passed, first_seen) ",
            );
            b.push_values(chunk, |mut row, c| {
                row.push_bind(scorecard)
                    .push_bind(c.entity)
                    .push_bind(c.check_id)
                    .push_bind(now_ms)
                    .push_bind(c.passed)
                    .push_bind(c.flipped == Some(true));
            });
            b.build()
                .execute(&mut *tx)
                .await
                .map_err(q("logging scorecard check changes"))?;
        }
        for chunk in plan.scores.chunks(CHUNK) {
            let mut b = sqlx::QueryBuilder::new(
                "INSERT INTO scorecard_scores (scorecard, entity, score, level, changed_at) ",
            );
            b.push_values(chunk, |mut row, s| {
                row.push_bind(scorecard)
                    .push_bind(s.entity)
                    .push_bind(s.score)
                    .push_bind(s.level)
                    .push_bind(now_ms);
            });
            b.push(
                " ON CONFLICT (scorecard, entity) DO UPDATE SET score = excluded.score, \
                 level = excluded.level, changed_at = excluded.changed_at",
            );
            b.build()
                .execute(&mut *tx)
                .await
                .map_err(q("writing scores"))?;
        }
        for chunk in plan.history.chunks(CHUNK) {
            let mut b = sqlx::QueryBuilder::new(
                "INSERT INTO scorecard_history (scorecard, entity, day, score, level, recorded_at) ",
            );
            b.push_values(chunk, |mut row, s| {
                row.push_bind(scorecard)
                    .push_bind(s.entity)
                    .push_bind(today.as_str())
                    .push_bind(s.score)
                    .push_bind(s.level)
                    .push_bind(now_ms);
            });
            b.push(
                " ON CONFLICT (scorecard, entity, day) DO UPDATE SET score = excluded.score, \
                 level = excluded.level, recorded_at = excluded.recorded_at",
            );
            b.build()
                .execute(&mut *tx)
                .await
                .map_err(q("writing the scorecard history"))?;
        }
        for (entity, check_id) in &plan.gone_checks {
            sqlx::query(
                "DELETE FROM scorecard_checks WHERE scorecard = $1 AND entity = $2 AND check_id = $3",
            )
            .bind(scorecard)
            .bind(entity)
            .bind(check_id)
            .execute(&mut *tx)
            .await
            .map_err(q("forgetting a removed check"))?;
        }
        for chunk in plan.gone_entities.chunks(CHUNK) {
            for table in ["scorecard_checks", "scorecard_scores"] {
                let mut b = sqlx::QueryBuilder::new(format!(
                    "DELETE FROM {table} WHERE scorecard = "
                ));
                b.push_bind(scorecard).push(" AND entity IN (");
                let mut list = b.separated(", ");
                for e in chunk {
                    list.push_bind(e.as_str());
                }
                b.push(")");
                b.build()
                    .execute(&mut *tx)
                    .await
                    .map_err(q("forgetting entities no longer scored"))?;
            }
        }
        tx.commit()
            .await
            .map_err(q("committing a scorecard evaluation"))?;
        Ok(outcome)
    }};
}

/// Builds `<select> WHERE scorecard = ? [AND <filter> ? <close>] AND entity IN (…) <tail>` for
/// either backend and fetches it.
macro_rules! fetch_in {
    ($pool:expr, $row:ty, $sql:expr, $scorecard:expr, $extra:expr, $entities:expr, $tail:expr) => {{
        let mut b = sqlx::QueryBuilder::new($sql);
        b.push(" WHERE scorecard = ").push_bind($scorecard);
        if let Some((filter, value, close)) = $extra {
            b.push(" AND ").push(filter).push_bind(value).push(close);
        }
        b.push(" AND entity IN (");
        let mut list = b.separated(", ");
        for e in $entities {
            list.push_bind(e.as_str());
        }
        b.push(")").push($tail);
        b.build_query_as::<$row>().fetch_all($pool).await
    }};
}

impl Store {
    /// Records one scorecard's evaluation at `now`, in one transaction, writing only what
    /// changed: check rows that are new, flipped or give a new reason (a flip sets `since` to
    /// `now` and is logged), score rows whose score or level changed, and the day's history row
    /// (`now`'s UTC day) where it is missing or differs. Entities stored for the scorecard but
    /// absent from `entities` lose their current rows (their history stays); so do checks no
    /// longer in the scorecard.
    ///
    /// `entities` must be the scorecard's whole result (every entity it applies to).
    ///
    /// # Errors
    /// [`StoreError::Query`]; nothing is written then.
    pub async fn record_evaluation(
        &self,
        scorecard: &str,
        entities: &[EntityState<'_>],
        now: DateTime<Utc>,
    ) -> Result<RecordOutcome, StoreError> {
        match self {
            // SQLite: the upsert of `scorecard_evaluations` takes the only write lock first.
            Self::Sqlite(pool) => record_in!(pool, "SELECT $1", scorecard, entities, now),
            Self::Postgres(pool) => record_in!(
                pool,
                "SELECT pg_advisory_xact_lock($1)",
                scorecard,
                entities,
                now
            ),
        }
    }

    /// What changed for these entities (ref keys) on one scorecard since `since`: checks that
    /// passed then and fail now (regressions) or the reverse (improvements), each with when it
    /// flipped; the current score and level; and the score then (see [`EntityChanges::then`]).
    /// A check that flipped and flipped back counts as unchanged; a check first evaluated after
    /// `since` is neither. Entities the scorecard never scored are left out; the others come in
    /// the order asked.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn changes_since(
        &self,
        scorecard: &str,
        entities: &[String],
        since: DateTime<Utc>,
    ) -> Result<Vec<EntityChanges>, StoreError> {
        let since_ms = since.timestamp_millis();
        let day = day_text(since);
        let mut scores: HashMap<String, (i64, Option<String>)> = HashMap::new();
        let mut then: HashMap<String, DailyScore> = HashMap::new();
        let mut changed: Vec<(String, String, bool, Option<String>, i64)> = Vec::new();
        let mut first_after: HashMap<(String, String), (bool, bool)> = HashMap::new();
        for chunk in entities.chunks(CHUNK) {
            let rows: Vec<(String, i64, Option<String>)> = on_pool!(self, |pool| fetch_in!(
                pool,
                (String, i64, Option<String>),
                "SELECT entity, score, level FROM scorecard_scores",
                scorecard,
                None::<(&str, i64, &str)>,
                chunk,
                ""
            ))
            .map_err(q("reading current scores"))?;
            scores.extend(rows.into_iter().map(|(e, s, l)| (e, (s, l))));

            let rows: Vec<(String, String, i64, Option<String>, i64)> =
                on_pool!(self, |pool| fetch_in!(
                    pool,
                    (String, String, i64, Option<String>, i64),
                    "SELECT entity, day, score, level, recorded_at FROM scorecard_history",
                    scorecard,
                    Some(("day = ", day.as_str(), "")),
                    chunk,
                    ""
                ))
                .map_err(q("reading the scorecard history"))?;
            for (entity, d, score, level, recorded_at) in rows {
                if recorded_at <= since_ms
                    && let Ok(d) = NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                {
                    then.insert(entity, daily(d, score, level));
                }
            }
            let rows: Vec<(String, String, i64, Option<String>)> =
                on_pool!(self, |pool| fetch_in!(
                    pool,
                    (String, String, i64, Option<String>),
                    "SELECT entity, day, score, level FROM scorecard_history h",
                    scorecard,
                    Some((
                        "day = (SELECT MAX(x.day) FROM scorecard_history x \
                         WHERE x.scorecard = h.scorecard AND x.entity = h.entity AND x.day < ",
                        day.as_str(),
                        ")"
                    )),
                    chunk,
                    ""
                ))
                .map_err(q("reading the scorecard history"))?;
            for (entity, d, score, level) in rows {
                if let Ok(d) = NaiveDate::parse_from_str(&d, "%Y-%m-%d") {
                    then.entry(entity).or_insert_with(|| daily(d, score, level));
                }
            }

            let rows: Vec<(String, String, bool, Option<String>, i64)> =
                on_pool!(self, |pool| fetch_in!(
                    pool,
                    (String, String, bool, Option<String>, i64),
                    "SELECT entity, check_id, passed, reason, since FROM scorecard_checks",
                    scorecard,
                    Some(("since > ", since_ms, "")),
                    chunk,
                    ""
                ))
                .map_err(q("reading changed checks"))?;
            changed.extend(rows);

            let rows: Vec<(String, String, bool, bool)> = on_pool!(self, |pool| fetch_in!(
                pool,
                (String, String, bool, bool),
                "SELECT entity, check_id, passed, first_seen FROM scorecard_check_changes",
                scorecard,
                Some(("at > ", since_ms, "")),
                chunk,
                " ORDER BY at, seq"
            ))
            .map_err(q("reading the check log"))?;
            for (entity, check_id, passed, first_seen) in rows {
                first_after
                    .entry((entity, check_id))
                    .or_insert((passed, first_seen));
            }
        }
        let mut regressions: HashMap<&str, Vec<CheckChange>> = HashMap::new();
        let mut improvements: HashMap<&str, Vec<CheckChange>> = HashMap::new();
        changed.sort_by_key(|c| c.4);
        for (entity, check_id, passed, reason, at) in &changed {
            // The first logged state after `since` tells the state at `since`.
            let Some(&(first_passed, first_seen)) =
                first_after.get(&(entity.clone(), check_id.clone()))
            else {
                continue;
            };
            if first_seen {
                continue;
            }
            let was_passing = !first_passed;
            let change = CheckChange {
                check_id: check_id.clone(),
                since: time(*at),
                reason: if *passed { None } else { reason.clone() },
            };
            match (was_passing, *passed) {
                (true, false) => regressions.entry(entity).or_default().push(change),
                (false, true) => improvements.entry(entity).or_default().push(change),
                _ => {}
            }
        }
        let mut out = Vec::new();
        for entity in entities {
            let now = scores.get(entity);
            let then = then.remove(entity);
            if now.is_none() && then.is_none() {
                continue;
            }
            out.push(EntityChanges {
                entity: entity.clone(),
                score: now.map(|(s, _)| clamp_score(*s)),
                level: now.and_then(|(_, l)| l.clone()),
                then,
                regressions: regressions.remove(entity.as_str()).unwrap_or_default(),
                improvements: improvements.remove(entity.as_str()).unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// The daily history of one entity on one scorecard from `from` (a UTC day) on, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn score_history(
        &self,
        scorecard: &str,
        entity: &str,
        from: NaiveDate,
    ) -> Result<Vec<DailyScore>, StoreError> {
        let sql = "SELECT day, score, level FROM scorecard_history WHERE scorecard = $1 \
                   AND entity = $2 AND day >= $3 ORDER BY day";
        let from = from.format("%Y-%m-%d").to_string();
        let rows: Vec<(String, i64, Option<String>)> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(scorecard)
            .bind(entity)
            .bind(&from)
            .fetch_all(pool)
            .await)
        .map_err(q("reading the scorecard history"))?;
        Ok(rows
            .into_iter()
            .filter_map(|(d, s, l)| {
                NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                    .ok()
                    .map(|d| daily(d, s, l))
            })
            .collect())
    }

    /// When a scorecard was last recorded ([`Self::record_evaluation`]), by any replica.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn scorecard_evaluated_at(
        &self,
        scorecard: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let sql = "SELECT evaluated_at FROM scorecard_evaluations WHERE scorecard = $1";
        let row: Option<(i64,)> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(scorecard)
            .fetch_optional(pool)
            .await)
        .map_err(q("reading when a scorecard was evaluated"))?;
        Ok(row.map(|(ms,)| time(ms)))
    }
}

fn clamp_score(s: i64) -> u8 {
    s.clamp(0, 100) as u8
}

fn daily(day: NaiveDate, score: i64, level: Option<String>) -> DailyScore {
    DailyScore {
        day,
        score: clamp_score(score),
        level,
    }
}

#[async_trait::async_trait]
impl ScoreHistory for Store {
    async fn changes_since(
        &self,
        scorecard: &str,
        entities: &[String],
        since: DateTime<Utc>,
    ) -> Result<Vec<EntityChanges>, StoreError> {
        Store::changes_since(self, scorecard, entities, since).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state<'a>(entity: &str, score: u8, checks: &[(&'a str, bool)]) -> EntityState<'a> {
        EntityState {
            entity: entity.to_owned(),
            score,
            level: None,
            checks: checks
                .iter()
                .map(|&(id, passed)| CheckState {
                    id,
                    passed,
                    reason: (!passed).then_some("no"),
                })
                .collect(),
        }
    }

    #[test]
    fn the_plan_writes_only_what_changed() {
        let mut stored = Stored::default();
        stored.checks.insert(
            "a".to_owned(),
            vec![
                ("x".to_owned(), true, None),
                ("y".to_owned(), false, Some("no".to_owned())),
                ("old".to_owned(), true, None),
            ],
        );
        stored.scores.insert("a".to_owned(), (50, None));
        stored.scores.insert("gone".to_owned(), (10, None));
        stored.today.insert("a".to_owned(), (50, None));
        let entities = [state("a", 50, &[("x", false), ("y", false), ("z", true)])];
        let p = plan(&entities, &stored);
        let written: Vec<(&str, Option<bool>)> =
            p.checks.iter().map(|c| (c.check_id, c.flipped)).collect();
        assert_eq!(written, [("x", Some(false)), ("z", Some(true))]);
        assert!(p.scores.is_empty() && p.history.is_empty());
        assert_eq!(p.gone_checks, [("a".to_owned(), "old".to_owned())]);
        assert_eq!(p.gone_entities, ["gone"]);
    }
}
