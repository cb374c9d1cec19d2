-- Scorecards (src/scorecards, src/store/scorecards.rs): the latest result of every scorecard for
-- every entity it applies to, when each check last changed, and a daily history of scores, so a
-- digest can say what changed since the previous one. Written by `record_evaluation`, which
-- writes only what changed, in one transaction per scorecard.
--
-- scorecard_evaluations: one row per scorecard: when it was last evaluated and over how many
--                 entities (rewritten by every evaluation; its write also takes SQLite's write
--                 lock before anything is read).
-- scorecard_scores: one row per (scorecard, entity): score 0-100, level (NULL below the first),
--                 changed_at = when score or level last changed. Deleted when the scorecard no
--                 longer applies to the entity.
-- scorecard_checks: one row per (scorecard, entity, check): passed (0/1), the failure reason, and
--                 since = when the check last flipped (or was first evaluated).
-- scorecard_check_changes: append-only log of check states: a row when a check is first
--                 evaluated for an entity (first_seen = 1) and at every flip (first_seen = 0).
--                 The first row after a time T says what the state was at T (the opposite of a
--                 flip's new state; unknown for a first sighting).
-- scorecard_history: one row per (scorecard, entity, UTC day): the score and level as last
--                 recorded that day (upserted), recorded_at = when that row was last written.
-- entity is the entity ref key, lower-case (component:default/checkout-api).
-- Times are Unix milliseconds (UTC); day is YYYY-MM-DD.
CREATE TABLE scorecard_evaluations (
    scorecard     TEXT PRIMARY KEY NOT NULL,
    evaluated_at  INTEGER NOT NULL,
    entities      INTEGER NOT NULL
);

CREATE TABLE scorecard_scores (
    scorecard   TEXT NOT NULL,
    entity      TEXT NOT NULL,
    score       INTEGER NOT NULL,
    level       TEXT,
    changed_at  INTEGER NOT NULL,
    PRIMARY KEY (scorecard, entity)
);

CREATE TABLE scorecard_checks (
    scorecard  TEXT NOT NULL,
    entity     TEXT NOT NULL,
    check_id   TEXT NOT NULL,
    passed     INTEGER NOT NULL,
    reason     TEXT,
    since      INTEGER NOT NULL,
    PRIMARY KEY (scorecard, entity, check_id)
);
-- "checks that changed after T" for a digest.
CREATE INDEX scorecard_checks_since ON scorecard_checks (scorecard, since);

CREATE TABLE scorecard_check_changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    scorecard   TEXT NOT NULL,
    entity      TEXT NOT NULL,
    check_id    TEXT NOT NULL,
    at          INTEGER NOT NULL,
    passed      INTEGER NOT NULL,
    first_seen  INTEGER NOT NULL
);
CREATE INDEX scorecard_check_changes_at ON scorecard_check_changes (scorecard, entity, at);

CREATE TABLE scorecard_history (
    scorecard    TEXT NOT NULL,
    entity       TEXT NOT NULL,
    day          TEXT NOT NULL,
    score        INTEGER NOT NULL,
    level        TEXT,
    recorded_at  INTEGER NOT NULL,
    PRIMARY KEY (scorecard, entity, day)
);

-- The scorer asks often whether deploys changed: MAX(received_at) is read from this index.
CREATE INDEX deploy_events_received ON deploy_events (received_at);
