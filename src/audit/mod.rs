//! The audit log: an append-only, hash-chained record of every command, decision and action.
//!
//! Callers fill an [`AuditEntry`] (when, who, what, target, decision, outcome, request id) and
//! hand it to an [`AuditLog`], a cheap handle on one background writer that appends entries in
//! batches, one transaction per batch. [`AuditLog::record`] waits until the entry is durably
//! written (denials and actions: nothing refused goes unrecorded); [`AuditLog::record_nowait`]
//! only enqueues (plain reads on the slash-command hot path).
//!
//! Secrets never belong in an entry; callers leave them out. As a second line of defence, every
//! string of an entry is passed through [`redact`] before it is hashed and stored: Slack tokens
//! (`xoxb-…`, `xoxp-…`, `xapp-…`), `Bearer …` credentials, idp API tokens (`idp_<id>_<secret>`)
//! and Slack webhook URLs are replaced by `[redacted]` markers.
//!
//! # Hash scheme (`idp-audit/1`)
//!
//! Every stored record has a `seq` (1, 2, 3, … without gaps), a `prev_hash` (the `hash` of record
//! `seq - 1`, or [`GENESIS_HASH`], 64 zeros, for record 1) and
//!
//! ```text
//! hash = lower-case hex( SHA-256( canonical_json(H) ) )
//! H = { "scheme": "idp-audit/1", "seq": <integer>, "prev_hash": <string>,
//!       "at": <RFC 3339 UTC, exactly 6 fractional digits, "Z">, "request_id", "origin",
//!       "slack_team_id", "slack_user_id", "user_ref", "action", "command", "arguments",
//!       "target", "environment", "channel_id", "decision", "rule", "reason", "outcome" }
//! ```
//!
//! Absent optional fields are JSON `null`; `origin` and `decision` are their lower-case names
//! (`slack`, `needs_approval`, …); `arguments` is the JSON value itself. `at` is truncated to whole
//! microseconds before hashing and storing (PostgreSQL's precision).
//!
//! The canonical JSON ([`canonical_json`]) has no whitespace; object keys are sorted by the bytes of
//! their UTF-8 form (recursively, including inside `arguments`); arrays keep their order; strings
//! escape `"` and `\` and the control characters U+0000–U+001F (`\b \f \n \r \t`, the others as
//! `\u00xx` in lower-case hex) and nothing else; numbers are written as `serde_json` writes them
//! (integers in decimal). For strings and integers this is what Python's
//! `json.dumps(h, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` produces, so an
//! export can be checked outside idp.
//!
//! [`Store::verify_audit`](crate::store::Store::verify_audit) walks the records in `seq` order and
//! reports the first one whose content does not match its hash, whose `prev_hash` is not the
//! previous record's hash, or that is missing (a gap in `seq`); then it compares the last record
//! with the single-row `audit_head` table, written in the same transaction as every append, which
//! shows that the newest records were deleted. The chain has no key: someone who can write the
//! database *and* recompute every later hash and the head can rewrite history undetected. Keep a
//! copy of the head (`idp audit verify` prints it) outside the database to close that gap.

pub mod cli;
mod log;
mod redact;
pub(crate) mod token;

use std::fmt;

use chrono::{DateTime, NaiveDate, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use log::{AuditError, AuditLog, AuditLogOptions};
pub use redact::{REDACTED, redact, redact_value};
pub(crate) use token::generate as token_generate;
pub use token::{ApiToken, Scope, hash_secret};

use crate::authz::{Caller, Origin};
use crate::store::StoreError;

/// The `prev_hash` of the first record: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The name of the hash scheme, hashed into every record as `"scheme"`.
pub const HASH_SCHEME: &str = "idp-audit/1";

/// Where a recorded request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOrigin {
    /// A Slack slash command, interaction or event.
    Slack,
    /// The local shell or another `idp` subcommand on the operator's machine.
    Shell,
    /// The REST API (a bearer token).
    Api,
    /// A background worker finishing an action.
    Worker,
}

impl AuditOrigin {
    /// The stored and hashed name: `slack`, `shell`, `api` or `worker`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Shell => "shell",
            Self::Api => "api",
            Self::Worker => "worker",
        }
    }

    /// Reads a stored name.
    ///
    /// # Errors
    /// The unknown name.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "slack" => Ok(Self::Slack),
            "shell" => Ok(Self::Shell),
            "api" => Ok(Self::Api),
            "worker" => Ok(Self::Worker),
            other => Err(format!("unknown audit origin `{other}`")),
        }
    }
}

impl fmt::Display for AuditOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What authorization decided (or `None` when no decision was needed, e.g. help).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditDecision {
    /// Allowed.
    Allow,
    /// Refused.
    Deny,
    /// Waiting for an approver.
    NeedsApproval,
    /// The decision could not be made (e.g. the on-call provider failed; fail closed).
    Error,
    /// No decision was needed.
    None,
}

impl AuditDecision {
    /// The stored and hashed name: `allow`, `deny`, `needs_approval`, `error` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::NeedsApproval => "needs_approval",
            Self::Error => "error",
            Self::None => "none",
        }
    }

    /// Reads a stored name.
    ///
    /// # Errors
    /// The unknown name.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "allow" => Ok(Self::Allow),
            "deny" => Ok(Self::Deny),
            "needs_approval" => Ok(Self::NeedsApproval),
            "error" => Ok(Self::Error),
            "none" => Ok(Self::None),
            other => Err(format!("unknown audit decision `{other}`")),
        }
    }
}

impl fmt::Display for AuditDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing that happened, as callers fill it. Never put a token or a secret in any field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When it happened.
    #[serde(serialize_with = "serialize_at")]
    pub at: DateTime<Utc>,
    /// The request id shown to users in error replies and logs.
    pub request_id: String,
    /// Where the request came from.
    pub origin: AuditOrigin,
    /// Slack workspace (`T…`) or enterprise id.
    pub slack_team_id: Option<String>,
    /// Slack user (`U…`/`W…`).
    pub slack_user_id: Option<String>,
    /// The catalog User the caller maps to (`user:default/jane.doe`).
    pub user_ref: Option<String>,
    /// The permission exercised, e.g. `catalog.read`, `rollback`, `audit.read`.
    pub action: String,
    /// The subcommand, e.g. `owner`, `rollback`, `audit`.
    pub command: String,
    /// What the user typed after the command, as JSON (e.g. `{"text": "checkout-api prod"}`).
    pub arguments: serde_json::Value,
    /// The entity the command is about (its ref, e.g. `component:default/checkout-api`).
    pub target: Option<String>,
    /// The environment acted on (`production`, …).
    pub environment: Option<String>,
    /// The Slack channel the command was typed in.
    pub channel_id: Option<String>,
    /// What authorization decided.
    pub decision: AuditDecision,
    /// The policy rule that decided.
    pub rule: Option<String>,
    /// Why (the reason shown to the user for a denial).
    pub reason: Option<String>,
    /// How it ended: `answered`, `denied`, `not_found`, `invalid`, `failed`, `started`, …
    pub outcome: String,
}

fn serialize_at<S: serde::Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_at(at))
}

impl AuditEntry {
    /// An entry stamped now with no optional field set, no arguments (`null`), decision
    /// [`AuditDecision::None`] and outcome `answered`; set the other fields directly.
    pub fn new(
        origin: AuditOrigin,
        request_id: impl Into<String>,
        action: impl Into<String>,
        command: impl Into<String>,
    ) -> Self {
        Self {
            at: Utc::now(),
            request_id: request_id.into(),
            origin,
            slack_team_id: None,
            slack_user_id: None,
            user_ref: None,
            action: action.into(),
            command: command.into(),
            arguments: serde_json::Value::Null,
            target: None,
            environment: None,
            channel_id: None,
            decision: AuditDecision::None,
            rule: None,
            reason: None,
            outcome: "answered".to_owned(),
        }
    }

    /// An entry for a caller: origin, Slack team, user and channel, and catalog user taken from
    /// the [`Caller`].
    pub fn for_caller(
        caller: &Caller,
        request_id: impl Into<String>,
        action: impl Into<String>,
        command: impl Into<String>,
    ) -> Self {
        let mut entry = match &caller.origin {
            Origin::Slack {
                team_id,
                user_id,
                channel_id,
            } => {
                let mut e = Self::new(AuditOrigin::Slack, request_id, action, command);
                e.slack_team_id = Some(team_id.clone());
                e.slack_user_id = Some(user_id.clone());
                e.channel_id = Some(channel_id.clone());
                e
            }
            Origin::Shell => Self::new(AuditOrigin::Shell, request_id, action, command),
            Origin::Api => Self::new(AuditOrigin::Api, request_id, action, command),
        };
        entry.user_ref = caller.user.as_ref().map(|u| u.key());
        entry
    }

    /// Builder: the decision with its rule and reason.
    #[must_use]
    pub fn with_decision(
        mut self,
        decision: AuditDecision,
        rule: Option<String>,
        reason: Option<String>,
    ) -> Self {
        self.decision = decision;
        self.rule = rule;
        self.reason = reason;
        self
    }

    /// Builder: the outcome.
    #[must_use]
    pub fn with_outcome(mut self, outcome: impl Into<String>) -> Self {
        self.outcome = outcome.into();
        self
    }

    /// Builder: the arguments.
    #[must_use]
    pub fn with_arguments(mut self, arguments: serde_json::Value) -> Self {
        self.arguments = arguments;
        self
    }

    /// Builder: the target entity ref.
    #[must_use]
    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// What is actually hashed and stored: `at` truncated to microseconds, NUL characters
    /// (which PostgreSQL text cannot hold) replaced by U+FFFD, and every string passed through
    /// [`redact`].
    pub fn sanitized(&self) -> Self {
        fn text(s: &str) -> String {
            let s = redact(s);
            if s.contains('\0') {
                s.replace('\0', "\u{fffd}")
            } else {
                s.into_owned()
            }
        }
        fn opt(s: Option<&String>) -> Option<String> {
            s.map(|s| text(s))
        }
        let mut arguments = self.arguments.clone();
        redact_value(&mut arguments);
        Self {
            at: self.at.trunc_subsecs(6),
            request_id: text(&self.request_id),
            origin: self.origin,
            slack_team_id: opt(self.slack_team_id.as_ref()),
            slack_user_id: opt(self.slack_user_id.as_ref()),
            user_ref: opt(self.user_ref.as_ref()),
            action: text(&self.action),
            command: text(&self.command),
            arguments,
            target: opt(self.target.as_ref()),
            environment: opt(self.environment.as_ref()),
            channel_id: opt(self.channel_id.as_ref()),
            decision: self.decision,
            rule: opt(self.rule.as_ref()),
            reason: opt(self.reason.as_ref()),
            outcome: text(&self.outcome),
        }
    }

    /// The record hash of this entry (already [sanitized](Self::sanitized)) stored as `seq` after
    /// a record whose hash is `prev_hash`.
    pub fn chain_hash(&self, seq: i64, prev_hash: &str) -> String {
        record_hash(&HashInput {
            seq,
            prev_hash,
            at: &format_at(&self.at),
            request_id: &self.request_id,
            origin: self.origin.as_str(),
            slack_team_id: self.slack_team_id.as_deref(),
            slack_user_id: self.slack_user_id.as_deref(),
            user_ref: self.user_ref.as_deref(),
            action: &self.action,
            command: &self.command,
            arguments: &self.arguments,
            target: self.target.as_deref(),
            environment: self.environment.as_deref(),
            channel_id: self.channel_id.as_deref(),
            decision: self.decision.as_str(),
            rule: self.rule.as_deref(),
            reason: self.reason.as_deref(),
            outcome: &self.outcome,
        })
    }
}

/// A stored record: the entry with its place in the chain. Serialises as one flat JSON object
/// (the JSON lines of `idp audit export` and `GET /api/v1/audit`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the log, from 1.
    pub seq: i64,
    /// The entry as stored (sanitized).
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// The previous record's hash.
    pub prev_hash: String,
    /// This record's hash.
    pub hash: String,
}

impl AuditRecord {
    /// One line for a human (the shell, a chat reply): time, who, what, decision and outcome.
    pub fn summary_line(&self) -> String {
        let e = &self.entry;
        let who = e
            .user_ref
            .clone()
            .or_else(|| e.slack_user_id.clone())
            .unwrap_or_else(|| e.origin.as_str().to_owned());
        let mut line = format!(
            "#{} {} {} {} {}",
            self.seq,
            e.at.format("%Y-%m-%d %H:%M:%SZ"),
            who,
            e.command,
            e.action
        );
        if let Some(t) = &e.target {
            line.push(' ');
            line.push_str(t);
        }
        if let Some(env) = &e.environment {
            line.push_str(" in ");
            line.push_str(env);
        }
        line.push_str(": ");
        line.push_str(e.decision.as_str());
        if let Some(r) = &e.reason {
            line.push_str(" (");
            line.push_str(r);
            line.push(')');
        }
        // `can` records the policy.explain it was allowed; the verdict it explained matters more.
        if let Some(x) = e.arguments.get("explained") {
            let field = |k: &str| x.get(k).and_then(serde_json::Value::as_str).unwrap_or("");
            line.push_str(&format!(
                "; explained {} → {}",
                field("action"),
                field("outcome")
            ));
            if !field("rule").is_empty() {
                line.push_str(&format!(" by `{}`", field("rule")));
            }
        }
        line.push_str(", ");
        line.push_str(&e.outcome);
        line
    }
}

/// Order of query results, by `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Oldest first.
    #[default]
    Oldest,
    /// Newest first.
    Newest,
}

/// A selection of records. `since` is inclusive, `until` exclusive; `target` matches exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// Records at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Records before this time.
    pub until: Option<DateTime<Utc>>,
    /// Records about this entity ref (compared exactly; callers resolve refs first).
    pub target: Option<String>,
    /// Records with a larger `seq` than this (paging forward).
    pub after_seq: Option<i64>,
    /// At most this many records.
    pub limit: u32,
    /// Oldest or newest first.
    pub order: Order,
}

impl Default for AuditQuery {
    /// Everything, oldest first, 1000 at a time.
    fn default() -> Self {
        Self {
            since: None,
            until: None,
            target: None,
            after_seq: None,
            limit: 1000,
            order: Order::Oldest,
        }
    }
}

impl AuditQuery {
    /// The newest `limit` records about `target` (any when `None`) since `since`: what
    /// `/idp audit [target] [since]` shows.
    pub fn latest(target: Option<String>, since: Option<DateTime<Utc>>, limit: u32) -> Self {
        Self {
            since,
            target,
            limit,
            order: Order::Newest,
            ..Self::default()
        }
    }
}

/// What [`Store::verify_audit`](crate::store::Store::verify_audit) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records checked (all of them when the chain is intact; up to the broken one otherwise).
    pub records: u64,
    /// The last record's seq and hash as `audit_head` holds them (worth keeping elsewhere).
    pub head: (i64, String),
    /// The first problem, if any.
    pub first_broken: Option<Broken>,
}

impl VerifyReport {
    /// Whether the chain is intact.
    pub fn ok(&self) -> bool {
        self.first_broken.is_none()
    }
}

/// The first record at which the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The record's seq (for a deleted record, the seq that is missing; 0 for the head itself).
    pub seq: i64,
    /// Its request id, when the record is there to read it from.
    pub request_id: Option<String>,
    /// What is wrong, one sentence.
    pub reason: String,
}

/// The fields that are hashed, as stored text (see the module docs for the scheme).
#[derive(Debug)]
pub(crate) struct HashInput<'a> {
    pub seq: i64,
    pub prev_hash: &'a str,
    pub at: &'a str,
    pub request_id: &'a str,
    pub origin: &'a str,
    pub slack_team_id: Option<&'a str>,
    pub slack_user_id: Option<&'a str>,
    pub user_ref: Option<&'a str>,
    pub action: &'a str,
    pub command: &'a str,
    pub arguments: &'a serde_json::Value,
    pub target: Option<&'a str>,
    pub environment: Option<&'a str>,
    pub channel_id: Option<&'a str>,
    pub decision: &'a str,
    pub rule: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub outcome: &'a str,
}

/// SHA-256 hex of the canonical JSON of a record (the `idp-audit/1` scheme).
pub(crate) fn record_hash(h: &HashInput<'_>) -> String {
    let value = serde_json::json!({
        "scheme": HASH_SCHEME,
        "seq": h.seq,
        "prev_hash": h.prev_hash,
        "at": h.at,
        "request_id": h.request_id,
        "origin": h.origin,
        "slack_team_id": h.slack_team_id,
        "slack_user_id": h.slack_user_id,
        "user_ref": h.user_ref,
        "action": h.action,
        "command": h.command,
        "arguments": h.arguments,
        "target": h.target,
        "environment": h.environment,
        "channel_id": h.channel_id,
        "decision": h.decision,
        "rule": h.rule,
        "reason": h.reason,
        "outcome": h.outcome,
    });
    hex::encode(Sha256::digest(canonical_json(&value).as_bytes()))
}

/// `at` as hashed and as stored in SQLite: RFC 3339 UTC with six fractional digits and `Z`.
pub fn format_at(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Canonical JSON: no whitespace, object keys sorted by their UTF-8 bytes (recursively), strings
/// escaping only `"`, `\` and U+0000–U+001F, numbers as `serde_json` writes them.
pub fn canonical_json(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let b = c as u32 as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[b >> 4]));
                out.push(char::from(HEX[b & 0xf]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Reads a time as an operator types it: RFC 3339 (`2025-05-01T12:00:00Z`), a date (`2025-05-01`,
/// midnight UTC), an age before `now` (`90s`, `15m`, `24h`, `7d`, `2w`) or `now`.
///
/// # Errors
/// A one-line reason naming the accepted forms.
pub fn parse_time(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc());
    }
    let bad = || {
        format!(
            "`{s}` is not a time: use RFC 3339 (2025-05-01T12:00:00Z), a date (2025-05-01) or an age such as 30m, 24h or 7d"
        )
    };
    let unit_at = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (digits, unit) = s.split_at(unit_at);
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let seconds_per = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    n.checked_mul(seconds_per)
        .and_then(chrono::TimeDelta::try_seconds)
        .and_then(|age| now.checked_sub_signed(age))
        .ok_or_else(|| format!("`{s}` reaches too far back"))
}

/// [`parse_time`] against the current time: a `value_parser` for clap arguments.
///
/// # Errors
/// As [`parse_time`].
pub fn parse_time_now(s: &str) -> Result<DateTime<Utc>, String> {
    parse_time(s, Utc::now())
}

/// A fresh request id for requests that do not come with one (API calls, `idp` subcommands):
/// `<prefix>-` and 16 random hex digits.
pub fn new_request_id(prefix: &str) -> String {
    format!("{prefix}-{}", hex::encode(token::random_bytes::<8>()))
}

/// Reading the audit log: what the `audit` command needs, without the rest of the store (appending
/// goes through [`AuditLog`]). Implemented by [`crate::store::Store`].
#[async_trait::async_trait]
pub trait AuditReader: Send + Sync {
    /// The records matching `query`, in `seq` order (oldest or newest first, per
    /// [`AuditQuery::order`]), at most [`AuditQuery::limit`].
    ///
    /// # Errors
    /// [`StoreError::Query`], or [`StoreError::Corrupt`] for a record that cannot be read back.
    async fn audit_query(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_recursively_and_escapes_controls() {
        let v = serde_json::json!({"b": [1, {"z": null, "a": "x\u{1}\"y\n"}], "a": true});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":true,"b":[1,{"a":"x\u0001\"y\n","z":null}]}"#
        );
    }

    #[test]
    fn times_parse_as_rfc3339_dates_and_ages() {
        let now = DateTime::parse_from_rfc3339("2025-05-10T12:00:00Z")
            .expect("now")
            .with_timezone(&Utc);
        let at = |s: &str| parse_time(s, now).map(|t| format_at(&t));
        assert_eq!(
            at("2025-05-01T10:00:00+02:00").as_deref(),
            Ok("2025-05-01T08:00:00.000000Z")
        );
        assert_eq!(
            at("2025-05-01").as_deref(),
            Ok("2025-05-01T00:00:00.000000Z")
        );
        assert_eq!(at("24h").as_deref(), Ok("2025-05-09T12:00:00.000000Z"));
        assert_eq!(at("7d").as_deref(), Ok("2025-05-03T12:00:00.000000Z"));
        assert_eq!(at("30m").as_deref(), Ok("2025-05-10T11:30:00.000000Z"));
        assert!(at("yesterday").is_err());
        assert!(at("7y").is_err());
        assert!(at("").is_err());
    }
}
