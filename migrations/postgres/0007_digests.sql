-- Scorecard digests: a channel subscribes to a group's digest on a schedule; the scheduler posts
-- each due period once, even with several replicas on one database.
--
-- digest_subscriptions: one per channel and group (subscribing again replaces the schedule).
--   id:                 short, human-typable (`d-7kq3xm`), see scorecards::subscription::new_id.
--   group_ref:          the group's entity ref key, lower-case (group:default/payments-platform).
--   schedule:           canonical schedule text (weekly mon 09:00 Europe/Berlin, or cron + zone).
--   created_by_slack:   the Slack user who subscribed (told by DM when the subscription pauses).
--   created_by_user:    their catalog user ref key, when known.
--   paused_reason/at:   set while paused (channel_not_found, is_archived, not_in_channel,
--                       group_not_found, refused:<slack error>); the scheduler skips it.
--   last_posted_period: the period key of the latest digest posted; last_posted_at when.
--
-- digest_posts: one row per subscription and period, unique, INSERTed (ON CONFLICT DO NOTHING)
-- BEFORE posting: the replica whose insert lands is the one that posts.
--   period_key:   the due instant in RFC 3339 UTC (2026-03-30T07:00:00Z); due_at the same in ms.
--   status:       claimed → posted | failed, or claimed → retry → claimed … (Slack's Retry-After).
--                 A `claimed` row older than the lease (a replica crashed mid-post) and a `retry`
--                 row past retry_at may be claimed again with a compare-and-set UPDATE.
--   claimed_by:   the claiming instance; claimed_at when; attempts counts claims.
--   message_ts:   the posted message (chat.postMessage ts); error the last error.
-- Times are Unix milliseconds (UTC).
CREATE TABLE digest_subscriptions (
    id                  TEXT PRIMARY KEY NOT NULL,
    channel_id          TEXT NOT NULL,
    group_ref           TEXT NOT NULL,
    schedule            TEXT NOT NULL,
    created_by_slack    TEXT,
    created_by_user     TEXT,
    created_at          BIGINT NOT NULL,
    paused_reason       TEXT,
    paused_at           BIGINT,
    last_posted_period  TEXT,
    last_posted_at      BIGINT,
    UNIQUE (channel_id, group_ref)
);

CREATE TABLE digest_posts (
    subscription_id  TEXT NOT NULL REFERENCES digest_subscriptions (id) ON DELETE CASCADE,
    period_key       TEXT NOT NULL,
    due_at           BIGINT NOT NULL,
    status           TEXT NOT NULL,
    claimed_by       TEXT NOT NULL,
    claimed_at       BIGINT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 1,
    retry_at         BIGINT,
    message_ts       TEXT,
    posted_at        BIGINT,
    error            TEXT,
    PRIMARY KEY (subscription_id, period_key)
);

-- "When was the previous digest posted": the latest posted row of a subscription before a time.
CREATE INDEX digest_posts_by_due ON digest_posts (subscription_id, due_at);
