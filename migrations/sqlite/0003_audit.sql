-- The audit log: an append-only, hash-chained record of every command, decision and action.
-- Rows are written only by idp's audit writer (src/store/audit.rs), in batches, one transaction
-- per batch, under `BEGIN IMMEDIATE` so that two processes on the same file take turns.
--
-- `seq` is assigned by the writer: 1, 2, 3, … with no gaps (a gap means a deleted row).
-- `hash` is SHA-256 (lower-case hex) of the canonical JSON of every other column plus `seq` and
-- `prev_hash` (the scheme is documented in src/audit/mod.rs); `prev_hash` is the `hash` of row
-- `seq - 1`, or 64 zeros for row 1.
-- `at` is RFC 3339 UTC with exactly six fractional digits and a `Z` (fixed width, so text order is
-- time order, and the stored text is exactly the text that was hashed).
-- `arguments` is canonical JSON text. `origin` and `decision` are the lower-case names of
-- `AuditOrigin` and `AuditDecision`.
CREATE TABLE audit_log (
    seq            INTEGER PRIMARY KEY NOT NULL,
    at             TEXT NOT NULL,
    request_id     TEXT NOT NULL,
    origin         TEXT NOT NULL,
    slack_team_id  TEXT,
    slack_user_id  TEXT,
    user_ref       TEXT,
    action         TEXT NOT NULL,
    command        TEXT NOT NULL,
    arguments      TEXT NOT NULL,
    target         TEXT,
    environment    TEXT,
    channel_id     TEXT,
    decision       TEXT NOT NULL,
    rule           TEXT,
    reason         TEXT,
    outcome        TEXT NOT NULL,
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_target ON audit_log (target, at);

-- Append-only: idp never updates or deletes a record. Whoever drops these triggers to tamper
-- with the log is caught by `idp audit verify` (the hash chain and `audit_head`).
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- One row: the last record's `seq` and `hash`, updated in the same transaction as every append.
-- A chain alone cannot show that its newest rows were deleted; comparing with the head can.
-- `seq = 0` with 64 zeros means the log is empty.
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Bearer tokens for the REST API (`idp token create --scope …`). Only the SHA-256 (hex) of the
-- whole secret is kept; the secret is shown once, when it is created. `scopes` is a
-- space-separated list such as `audit.read`. A revoked token keeps its row (for the audit trail)
-- with `revoked_at` set.
CREATE TABLE api_tokens (
    token_id     TEXT PRIMARY KEY NOT NULL,
    secret_hash  TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    revoked_at   TEXT
);
