-- Slack users as idp last saw them through users.info: the email that maps them to a catalog User.
-- `status` is `ok` (email known), `no_email` (profile has none visible) or `unknown` (Slack does not
-- know the id). Rows older than [identity] cache_ttl_secs are refreshed on next use.
CREATE TABLE slack_identities (
    user_id     TEXT PRIMARY KEY,
    email       TEXT,
    status      TEXT NOT NULL,
    fetched_at  TIMESTAMPTZ NOT NULL
);
