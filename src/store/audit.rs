//! The audit repository: appending hash-chained records in one transaction per batch, querying
//! them, verifying the chain against `audit_head`, and the REST API's bearer tokens (kept only as
//! SHA-256 hashes). The hash scheme is documented in [`crate::audit`].

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sqlx::{QueryBuilder, Row};

use super::{Store, StoreError, q};
use crate::audit::{
    ApiToken, AuditDecision, AuditEntry, AuditOrigin, AuditQuery, AuditReader, AuditRecord, Broken,
    GENESIS_HASH, HashInput, Order, Scope, VerifyReport, canonical_json, format_at, hash_secret,
    record_hash,
};

/// Records per multi-row statement: 19 binds each, well under SQLite's 32,766 and PostgreSQL's
/// 65,535.
const CHUNK: usize = 500;

/// The PostgreSQL advisory lock key that serialises audit appends across replicas.
pub fn audit_lock_key() -> i64 {
    0x1d9_a0d1
}

const COLUMNS: &str = "seq, at, request_id, origin, slack_team_id, slack_user_id, user_ref, \
     action, command, arguments, target, environment, channel_id, decision, rule, reason, \
     outcome, prev_hash, hash";

const HEAD: &str = "SELECT seq, hash FROM audit_head WHERE id = 1";
const SET_HEAD: &str = "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1";

/// One sanitized entry with its place in the chain, ready to insert.
struct Chained<'a> {
    seq: i64,
    entry: &'a AuditEntry,
    at: String,
    arguments: String,
    prev_hash: String,
    hash: String,
}

/// Links `entries` (already sanitized) after the record `(seq, hash)`.
fn chain(entries: &[AuditEntry], mut seq: i64, mut prev: String) -> Vec<Chained<'_>> {
    entries
        .iter()
        .map(|entry| {
            seq += 1;
            let hash = entry.chain_hash(seq, &prev);
            Chained {
                seq,
                entry,
                at: format_at(&entry.at),
                arguments: canonical_json(&entry.arguments),
                prev_hash: std::mem::replace(&mut prev, hash.clone()),
                hash,
            }
        })
        .collect()
}

macro_rules! append_in {
    ($tx:expr, $db:ty, $entries:expr, $at:expr) => {{
        let (seq, hash): (i64, String) = sqlx::query_as(HEAD)
            .fetch_one(&mut *$tx)
            .await
            .map_err(q("reading the audit head"))?;
        let rows = chain($entries, seq, hash);
        for chunk in rows.chunks(CHUNK) {
            let mut qb = QueryBuilder::<$db>::new(format!("INSERT INTO audit_log ({COLUMNS}) "));
            qb.push_values(chunk, |mut b, r| {
                let e = r.entry;
                b.push_bind(r.seq)
                    .push_bind(($at)(r))
                    .push_bind(e.request_id.clone())
                    .push_bind(e.origin.as_str())
                    .push_bind(e.slack_team_id.clone())
                    .push_bind(e.slack_user_id.clone())
                    .push_bind(e.user_ref.clone())
                    .push_bind(e.action.clone())
                    .push_bind(e.command.clone())
                    .push_bind(r.arguments.clone())
                    .push_bind(e.target.clone())
                    .push_bind(e.environment.clone())
                    .push_bind(e.channel_id.clone())
                    .push_bind(e.decision.as_str())
                    .push_bind(e.rule.clone())
                    .push_bind(e.reason.clone())
                    .push_bind(e.outcome.clone())
                    .push_bind(r.prev_hash.clone())
                    .push_bind(r.hash.clone());
            });
            qb.build()
                .execute(&mut *$tx)
                .await
                .map_err(q("appending audit records"))?;
        }
        let (last_seq, last_hash) = rows
            .last()
            .map_or((seq, String::new()), |r| (r.seq, r.hash.clone()));
        sqlx::query(SET_HEAD)
            .bind(last_seq)
            .bind(last_hash)
            .execute(&mut *$tx)
            .await
            .map_err(q("moving the audit head"))?;
        last_seq
    }};
}

/// A record as stored, every column as text (`at` formatted as it was hashed).
struct Raw {
    seq: i64,
    at: String,
    request_id: String,
    origin: String,
    slack_team_id: Option<String>,
    slack_user_id: Option<String>,
    user_ref: Option<String>,
    action: String,
    command: String,
    arguments: String,
    target: Option<String>,
    environment: Option<String>,
    channel_id: Option<String>,
    decision: String,
    rule: Option<String>,
    reason: Option<String>,
    outcome: String,
    prev_hash: String,
    hash: String,
}

/// Reads a row selected with [`COLUMNS`]; `$at` turns column 1 into the hashed text.
macro_rules! raw_from {
    ($row:expr, $at:expr) => {{
        let row = $row;
        Raw {
            seq: row.try_get(0)?,
            at: ($at)(&row)?,
            request_id: row.try_get(2)?,
            origin: row.try_get(3)?,
            slack_team_id: row.try_get(4)?,
            slack_user_id: row.try_get(5)?,
            user_ref: row.try_get(6)?,
            action: row.try_get(7)?,
            command: row.try_get(8)?,
            arguments: row.try_get(9)?,
            target: row.try_get(10)?,
            environment: row.try_get(11)?,
            channel_id: row.try_get(12)?,
            decision: row.try_get(13)?,
            rule: row.try_get(14)?,
            reason: row.try_get(15)?,
            outcome: row.try_get(16)?,
            prev_hash: row.try_get(17)?,
            hash: row.try_get(18)?,
        }
    }};
}

fn raw_sqlite(row: &sqlx::sqlite::SqliteRow) -> Result<Raw, sqlx::Error> {
    Ok(raw_from!(row, |r: &&sqlx::sqlite::SqliteRow| r
        .try_get::<String, _>(1)))
}

fn raw_pg(row: &sqlx::postgres::PgRow) -> Result<Raw, sqlx::Error> {
    Ok(raw_from!(row, |r: &&sqlx::postgres::PgRow| r
        .try_get::<DateTime<Utc>, _>(1)
        .map(|t| format_at(&t))))
}

impl Raw {
    /// The hash this record's content calls for, or why it cannot be computed.
    fn recompute(&self) -> Result<String, String> {
        let arguments: serde_json::Value = serde_json::from_str(&self.arguments)
            .map_err(|e| format!("its arguments are not JSON ({e})"))?;
        Ok(record_hash(&HashInput {
            seq: self.seq,
            prev_hash: &self.prev_hash,
            at: &self.at,
            request_id: &self.request_id,
            origin: &self.origin,
            slack_team_id: self.slack_team_id.as_deref(),
            slack_user_id: self.slack_user_id.as_deref(),
            user_ref: self.user_ref.as_deref(),
            action: &self.action,
            command: &self.command,
            arguments: &arguments,
            target: self.target.as_deref(),
            environment: self.environment.as_deref(),
            channel_id: self.channel_id.as_deref(),
            decision: &self.decision,
            rule: self.rule.as_deref(),
            reason: self.reason.as_deref(),
            outcome: &self.outcome,
        }))
    }

    fn into_record(self) -> Result<AuditRecord, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            entity_ref: format!("audit record #{}", self.seq),
            reason,
        };
        let at = DateTime::parse_from_rfc3339(&self.at)
            .map_err(|e| corrupt(format!("time `{}`: {e}", self.at)))?
            .with_timezone(&Utc);
        let arguments = serde_json::from_str(&self.arguments)
            .map_err(|e| corrupt(format!("arguments: {e}")))?;
        let origin = AuditOrigin::parse(&self.origin).map_err(corrupt)?;
        let decision = AuditDecision::parse(&self.decision).map_err(corrupt)?;
        Ok(AuditRecord {
            seq: self.seq,
            entry: AuditEntry {
                at,
                request_id: self.request_id,
                origin,
                slack_team_id: self.slack_team_id,
                slack_user_id: self.slack_user_id,
                user_ref: self.user_ref,
                action: self.action,
                command: self.command,
                arguments,
                target: self.target,
                environment: self.environment,
                channel_id: self.channel_id,
                decision,
                rule: self.rule,
                reason: self.reason,
                outcome: self.outcome,
            },
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

/// Walks records in `seq` order and remembers the first break.
struct Walk {
    records: u64,
    last_seq: i64,
    last_hash: String,
    last_request_id: Option<String>,
}

impl Walk {
    fn new() -> Self {
        Self {
            records: 0,
            last_seq: 0,
            last_hash: GENESIS_HASH.to_owned(),
            last_request_id: None,
        }
    }

    fn step(&mut self, raw: Raw) -> Option<Broken> {
        let expected = self.last_seq + 1;
        if raw.seq != expected {
            let reason = if raw.seq > expected {
                let gap = if raw.seq - expected == 1 {
                    format!("record #{expected} is missing")
                } else {
                    format!("records #{expected} to #{} are missing", raw.seq - 1)
                };
                if self.last_seq == 0 {
                    format!("{gap}: the log starts at #{}", raw.seq)
                } else {
                    format!(
                        "{gap}: the log jumps from #{} to #{}",
                        self.last_seq, raw.seq
                    )
                }
            } else {
                format!(
                    "record #{} is out of sequence after #{}",
                    raw.seq, self.last_seq
                )
            };
            return Some(Broken {
                seq: expected.min(raw.seq),
                request_id: None,
                reason,
            });
        }
        self.records += 1;
        let broken = |reason: String| Broken {
            seq: raw.seq,
            request_id: Some(raw.request_id.clone()),
            reason,
        };
        match raw.recompute() {
            Err(why) => return Some(broken(why)),
            Ok(hash) if hash != raw.hash => {
                return Some(broken(
                    "its content does not match its hash (the record was altered)".to_owned(),
                ));
            }
            Ok(_) => {}
        }
        if raw.prev_hash != self.last_hash {
            let reason = if raw.seq == 1 {
                "its prev_hash is not the genesis hash (64 zeros)".to_owned()
            } else {
                format!(
                    "its prev_hash does not match the hash of record #{} (that record was rewritten)",
                    self.last_seq
                )
            };
            return Some(broken(reason));
        }
        self.last_seq = raw.seq;
        self.last_hash = raw.hash;
        self.last_request_id = Some(raw.request_id);
        None
    }

    fn finish(self, head: Option<(i64, String)>) -> VerifyReport {
        let Some((head_seq, head_hash)) = head else {
            return VerifyReport {
                records: self.records,
                head: (0, String::new()),
                first_broken: Some(Broken {
                    seq: 0,
                    request_id: None,
                    reason: "the audit_head row is missing".to_owned(),
                }),
            };
        };
        let first_broken = if head_seq > self.last_seq {
            let missing = if head_seq == self.last_seq + 1 {
                format!("record #{head_seq} is missing")
            } else {
                format!("records #{} to #{head_seq} are missing", self.last_seq + 1)
            };
            Some(Broken {
                seq: self.last_seq + 1,
                request_id: None,
                reason: format!(
                    "{missing}: the head says the log ends at #{head_seq}, the last stored record is #{}",
                    self.last_seq
                ),
            })
        } else if head_seq < self.last_seq {
            Some(Broken {
                seq: head_seq + 1,
                request_id: None,
                reason: format!(
                    "the log goes on to #{} but the head ends at #{head_seq} (records were added outside idp)",
                    self.last_seq
                ),
            })
        } else if head_hash != self.last_hash {
            Some(Broken {
                seq: self.last_seq,
                request_id: self.last_request_id.clone(),
                reason: "its hash does not match the audit head (the last record was replaced)"
                    .to_owned(),
            })
        } else {
            None
        };
        VerifyReport {
            records: self.records,
            head: (head_seq, head_hash),
            first_broken,
        }
    }
}

macro_rules! push_filters {
    ($qb:expr, $query:expr, $at:expr) => {{
        let query: &AuditQuery = $query;
        $qb.push(" WHERE 1 = 1");
        if let Some(since) = &query.since {
            $qb.push(" AND at >= ").push_bind(($at)(since));
        }
        if let Some(until) = &query.until {
            $qb.push(" AND at < ").push_bind(($at)(until));
        }
        if let Some(target) = &query.target {
            $qb.push(" AND target = ").push_bind(target.clone());
        }
        if let Some(after) = query.after_seq {
            $qb.push(" AND seq > ").push_bind(after);
        }
        $qb.push(match query.order {
            Order::Oldest => " ORDER BY seq ASC",
            Order::Newest => " ORDER BY seq DESC",
        });
        $qb.push(" LIMIT ").push_bind(i64::from(query.limit));
    }};
}

impl Store {
    /// Appends entries to the audit log in one transaction: each is [sanitized]
    /// (redacted, `at` truncated to microseconds), numbered after the current head, chained to
    /// its predecessor's hash, and the head is moved to the last one. On PostgreSQL appends from
    /// several replicas take turns through an advisory lock; on SQLite through `BEGIN IMMEDIATE`.
    /// Returns the seq of the last record (the head).
    ///
    /// [sanitized]: AuditEntry::sanitized
    ///
    /// # Errors
    /// [`StoreError::Query`]; nothing is appended then.
    pub async fn append_audit(&self, entries: &[AuditEntry]) -> Result<i64, StoreError> {
        if entries.is_empty() {
            return Ok(self.audit_head().await?.0);
        }
        let entries: Vec<AuditEntry> = entries.iter().map(AuditEntry::sanitized).collect();
        match self {
            Self::Sqlite(pool) => {
                let mut tx = pool
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(q("starting an audit append"))?;
                let last = append_in!(tx, sqlx::Sqlite, &entries, |r: &Chained<'_>| r.at.clone());
                tx.commit().await.map_err(q("committing audit records"))?;
                Ok(last)
            }
            Self::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(q("starting an audit append"))?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(audit_lock_key())
                    .execute(&mut *tx)
                    .await
                    .map_err(q("taking the audit lock"))?;
                let last = append_in!(tx, sqlx::Postgres, &entries, |r: &Chained<'_>| r.entry.at);
                tx.commit().await.map_err(q("committing audit records"))?;
                Ok(last)
            }
        }
    }

    /// The audit head: the last record's seq and hash (`0` and 64 zeros for an empty log).
    ///
    /// # Errors
    /// [`StoreError::Query`], also when the head row is missing.
    pub async fn audit_head(&self) -> Result<(i64, String), StoreError> {
        match self {
            Self::Sqlite(pool) => sqlx::query_as(HEAD).fetch_one(pool).await,
            Self::Postgres(pool) => sqlx::query_as(HEAD).fetch_one(pool).await,
        }
        .map_err(q("reading the audit head"))
    }

    /// Records matching a query, in `seq` order (oldest or newest first).
    ///
    /// # Errors
    /// [`StoreError::Query`], or [`StoreError::Corrupt`] for a row that cannot be read back.
    pub async fn audit_query(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let raws: Vec<Raw> = match self {
            Self::Sqlite(pool) => {
                let mut qb =
                    QueryBuilder::<sqlx::Sqlite>::new(format!("SELECT {COLUMNS} FROM audit_log"));
                push_filters!(qb, query, format_at);
                let rows = qb
                    .build()
                    .fetch_all(pool)
                    .await
                    .map_err(q("querying the audit log"))?;
                rows.iter()
                    .map(raw_sqlite)
                    .collect::<Result<_, _>>()
                    .map_err(q("reading audit records"))?
            }
            Self::Postgres(pool) => {
                let mut qb =
                    QueryBuilder::<sqlx::Postgres>::new(format!("SELECT {COLUMNS} FROM audit_log"));
                push_filters!(qb, query, |t: &DateTime<Utc>| *t);
                let rows = qb
                    .build()
                    .fetch_all(pool)
                    .await
                    .map_err(q("querying the audit log"))?;
                rows.iter()
                    .map(raw_pg)
                    .collect::<Result<_, _>>()
                    .map_err(q("reading audit records"))?
            }
        };
        raws.into_iter().map(Raw::into_record).collect()
    }

    /// Checks the whole chain in one consistent read: every record's hash against its content,
    /// every `prev_hash` against the previous record, no gap in `seq`, and the last record against
    /// `audit_head`. Stops at the first problem.
    ///
    /// # Errors
    /// [`StoreError::Query`] when the log cannot be read (a broken chain is not an error: see
    /// [`VerifyReport::first_broken`]).
    pub async fn verify_audit(&self) -> Result<VerifyReport, StoreError> {
        let select = format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq");
        let mut walk = Walk::new();
        let mut broken = None;
        let head: Option<(i64, String)> = match self {
            Self::Sqlite(pool) => {
                let mut tx = pool.begin().await.map_err(q("starting a read"))?;
                let head = sqlx::query_as(HEAD)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(q("reading the audit head"))?;
                let mut rows = sqlx::query(&select).fetch(&mut *tx);
                while let Some(row) = rows.try_next().await.map_err(q("reading the audit log"))? {
                    let raw = raw_sqlite(&row).map_err(q("reading audit records"))?;
                    if let Some(b) = walk.step(raw) {
                        broken = Some(b);
                        break;
                    }
                }
                drop(rows);
                tx.commit().await.map_err(q("finishing a read"))?;
                head
            }
            Self::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(q("starting a read"))?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    .execute(&mut *tx)
                    .await
                    .map_err(q("starting a consistent read"))?;
                let head = sqlx::query_as(HEAD)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(q("reading the audit head"))?;
                let mut rows = sqlx::query(&select).fetch(&mut *tx);
                while let Some(row) = rows.try_next().await.map_err(q("reading the audit log"))? {
                    let raw = raw_pg(&row).map_err(q("reading audit records"))?;
                    if let Some(b) = walk.step(raw) {
                        broken = Some(b);
                        break;
                    }
                }
                drop(rows);
                tx.commit().await.map_err(q("finishing a read"))?;
                head
            }
        };
        match broken {
            Some(b) => Ok(VerifyReport {
                records: walk.records,
                head: head.unwrap_or((0, String::new())),
                first_broken: Some(b),
            }),
            None => Ok(walk.finish(head)),
        }
    }

    /// Creates a REST API token with these scopes and returns `(token_id, secret)`. Only the
    /// secret's SHA-256 is stored: the secret cannot be shown again.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn create_api_token(&self, scopes: &[Scope]) -> Result<(String, String), StoreError> {
        const SQL: &str = "INSERT INTO api_tokens (token_id, secret_hash, scopes, created_at) \
                           VALUES ($1, $2, $3, $4)";
        let (token_id, secret) = crate::audit::token_generate();
        let names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        let now = Utc::now();
        match self {
            Self::Sqlite(pool) => sqlx::query(SQL)
                .bind(&token_id)
                .bind(hash_secret(&secret))
                .bind(names.join(" "))
                .bind(format_at(&now))
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
            Self::Postgres(pool) => sqlx::query(SQL)
                .bind(&token_id)
                .bind(hash_secret(&secret))
                .bind(names.join(" "))
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
        }
        .map_err(q("creating an API token"))?;
        Ok((token_id, secret))
    }

    /// The live token whose secret this is, or `None` (unknown, revoked, or not shaped like an
    /// idp token). Looked up by the secret's SHA-256, so no secret is ever compared.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn check_api_token(&self, secret: &str) -> Result<Option<ApiToken>, StoreError> {
        const SQL: &str = "SELECT token_id, scopes FROM api_tokens \
                           WHERE secret_hash = $1 AND revoked_at IS NULL";
        if !secret.starts_with("idp_") || secret.len() > 256 {
            return Ok(None);
        }
        let hash = hash_secret(secret);
        let found: Option<(String, String)> = match self {
            Self::Sqlite(pool) => sqlx::query_as(SQL).bind(hash).fetch_optional(pool).await,
            Self::Postgres(pool) => sqlx::query_as(SQL).bind(hash).fetch_optional(pool).await,
        }
        .map_err(q("checking an API token"))?;
        Ok(found.map(|(token_id, scopes)| ApiToken {
            token_id,
            scopes: scopes
                .split_whitespace()
                .filter_map(|s| Scope::parse(s).ok())
                .collect(),
        }))
    }

    /// Revokes a token by its id; `false` when no live token has that id.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn revoke_api_token(&self, token_id: &str) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE api_tokens SET revoked_at = $1 \
                           WHERE token_id = $2 AND revoked_at IS NULL";
        let now = Utc::now();
        let done = match self {
            Self::Sqlite(pool) => sqlx::query(SQL)
                .bind(format_at(&now))
                .bind(token_id)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
            Self::Postgres(pool) => sqlx::query(SQL)
                .bind(now)
                .bind(token_id)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
        }
        .map_err(q("revoking an API token"))?;
        Ok(done > 0)
    }
}

/// Handlers read the log through [`AuditReader`]; the method is the inherent one of the same name.
#[async_trait::async_trait]
impl AuditReader for Store {
    async fn audit_query(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        Store::audit_query(self, query).await
    }
}
