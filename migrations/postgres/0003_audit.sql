-- The audit log: an append-only, hash-chained record of every command, decision and action.
-- Rows are written only by idp's audit writer (src/store/audit.rs), in batches, one transaction
-- per batch; replicas take turns through `pg_advisory_xact_lock(audit_lock_key())` and read
-- `audit_head` inside that transaction.
--
-- `seq` is assigned by the writer: 1, 2, 3, … with no gaps (a gap means a deleted row).
-- `hash` is SHA-256 (lower-case hex) of the canonical JSON of every other column plus `seq` and
-- `prev_hash` (the scheme is documented in src/audit/mod.rs); `prev_hash` is the `hash` of row
-- `seq - 1`, or 64 zeros for row 1.
-- `at` has microsecond precision, like the RFC 3339 text that was hashed.
-- `arguments` is canonical JSON kept as TEXT, not JSONB, so the stored bytes are the hashed bytes.
-- `origin` and `decision` are the lower-case names of `AuditOrigin` and `AuditDecision`.
CREATE TABLE audit_log (
    seq            BIGINT PRIMARY KEY,
    at             TIMESTAMPTZ NOT NULL,
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

-- Append-only: idp never updates, deletes or truncates a record. Whoever drops or disables these
-- triggers to tamper with the log is caught by `idp audit verify` (the chain and `audit_head`).
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- One row: the last record's `seq` and `hash`, updated in the same transaction as every append.
-- A chain alone cannot show that its newest rows were deleted; comparing with the head can.
-- `seq = 0` with 64 zeros means the log is empty.
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   BIGINT NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Bearer tokens for the REST API (`idp token create --scope …`). Only the SHA-256 (hex) of the
-- whole secret is kept; the secret is shown once, when it is created. `scopes` is a
-- space-separated list such as `audit.read`. A revoked token keeps its row (for the audit trail)
-- with `revoked_at` set.
CREATE TABLE api_tokens (
    token_id     TEXT PRIMARY KEY,
    secret_hash  TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ
);
