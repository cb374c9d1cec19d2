-- Action runs: work idp hands to another system (a golden-path template run now; rollbacks next).
-- A run is written here BEFORE anything is called, so it survives a restart; the worker claims due
-- runs by taking a lease (lease_owner, lease_until), then dispatches, polls and finishes them.
--
-- status:          queued → dispatched → running → succeeded | failed | cancelled; a run that
--                  needs an approval first waits as awaiting_approval (approved → queued,
--                  denied or expired → cancelled).
-- lock_key:        what the run holds exclusively while unfinished (`rollback:<service>:<env>`):
--                  a partial unique index makes a second one fail to insert.
-- idempotency_key: taken from the Slack request (view id) or the shell; a second submission with
--                  the same key finds the first run instead of making another.
-- execution:       JSON of the backend and where (exec::Execution).
-- target, subject: the entity ref the decision was about (the owning group); what the run makes
--                  or changes (the new component's name, the service rolled back).
-- inputs, controls: JSON objects (validated values; required controls and labels).
-- requester:       JSON of who asked and from where, to re-check authorization before dispatch.
-- attempts:        dispatch attempts so far; next_attempt_at is when the worker may try again.
-- version / notified_version: every change bumps version; the status message in Slack is brought
--                  up to date until notified_version catches up (so a restart never loses one).
-- failure_told:    1 once a failure has been told in the status message's thread (told once).
-- last_sequence:   the highest callback sequence applied (out-of-order callbacks are ignored).
-- Times are Unix milliseconds (UTC).
CREATE TABLE action_runs (
    id               TEXT PRIMARY KEY NOT NULL,
    kind             TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL UNIQUE,
    template         TEXT,
    target           TEXT,
    subject          TEXT,
    execution        TEXT NOT NULL,
    inputs           TEXT NOT NULL,
    controls         TEXT NOT NULL,
    requester        TEXT NOT NULL,
    requested_by     TEXT NOT NULL,
    channel_id       TEXT,
    message_ts       TEXT,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_until      INTEGER NOT NULL DEFAULT 0,
    external_id      TEXT,
    external_url     TEXT,
    error            TEXT,
    steps            TEXT NOT NULL DEFAULT '[]',
    last_sequence    INTEGER,
    dispatched_at    INTEGER,
    last_news_at     INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    finished_at      INTEGER,
    version          INTEGER NOT NULL DEFAULT 1,
    notified_version INTEGER NOT NULL DEFAULT 0,
    lock_key         TEXT,
    failure_told     INTEGER NOT NULL DEFAULT 0
);

-- The worker's two questions: which runs are due (by status and time), which messages are stale.
CREATE INDEX action_runs_due ON action_runs (status, next_attempt_at);
CREATE INDEX action_runs_unnotified ON action_runs (notified_version, version);
CREATE UNIQUE INDEX action_runs_lock ON action_runs (lock_key)
    WHERE lock_key IS NOT NULL AND status IN ('awaiting_approval', 'queued', 'dispatched', 'running');

-- Modal sessions: what a multi-step new-service modal has collected so far, keyed by a session id
-- carried in the view's private_metadata (which Slack caps at 3,000 characters). Rows older than
-- a day are deleted by the worker.
CREATE TABLE modal_sessions (
    id          TEXT PRIMARY KEY NOT NULL,
    state       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
