-- Slack deliveries already handled: Slack retries an Events API event it thinks was not
-- acknowledged in 3 s (same `event_id`, `X-Slack-Retry-Num` 1..3), and with several replicas a
-- retry may reach another process. The first process to insert the key answers; the others see
-- the conflict and stay quiet. Rows older than a day are deleted by the server's sweeper.
CREATE TABLE slack_deliveries (
    -- `event:<event_id>` (other kinds of delivery may be added with their own prefix).
    key        TEXT PRIMARY KEY,
    -- When it was first seen, Unix milliseconds.
    seen_at    BIGINT NOT NULL
);
CREATE INDEX slack_deliveries_seen_at ON slack_deliveries (seen_at);
