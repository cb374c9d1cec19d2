-- Deploy history, built from events sent to POST /hooks/events (CI, Kubernetes, GitOps) and from
-- native webhooks (GitHub deployment_status, Argo CD notifications). See docs/deploy-events.md.
--
-- deploy_events: every accepted event, once. The sender's event id is the primary key, so a
--                 redelivery is recognised and ignored (idempotency). raw is the event as JSON.
-- deployments:   one row per deploy of a service to an environment.
--   id:          the sender's deployment id when it gives one (to correlate started → succeeded),
--                else derived from the event (see deploys::DeployEvent::deployment_key).
--   service:     the component's entity ref key, lower-case (component:default/checkout-api). A
--                service not (yet) in the catalog is kept under its name's key and attaches when
--                the catalog gains it.
--   status:      started | succeeded | failed.
--   started_at / finished_at: from the events' own times, so out-of-order delivery still places
--                a deploy where it happened.
--   status_at:   the time of the event that set status; a later-arriving older event never
--                overwrites a newer one.
--   event_ids:   JSON array of the ids of the events that built the row.
-- Times are Unix milliseconds (UTC).
CREATE TABLE deploy_events (
    id           TEXT PRIMARY KEY NOT NULL,
    source       TEXT NOT NULL,
    type         TEXT NOT NULL,
    time         BIGINT NOT NULL,
    received_at  BIGINT NOT NULL,
    raw          TEXT NOT NULL
);

CREATE TABLE deployments (
    id                 TEXT PRIMARY KEY NOT NULL,
    service            TEXT NOT NULL,
    environment        TEXT NOT NULL,
    version            TEXT NOT NULL,
    revision           TEXT,
    deployed_by        TEXT,
    started_at         BIGINT,
    finished_at        BIGINT,
    status             TEXT NOT NULL,
    status_at          BIGINT NOT NULL,
    url                TEXT,
    source             TEXT NOT NULL,
    argocd_history_id  BIGINT,
    event_ids          TEXT NOT NULL DEFAULT '[]'
);

-- History per service and environment, newest first; the current deploy; a version's deploys.
CREATE INDEX deployments_by_finish ON deployments (service, environment, finished_at);
CREATE INDEX deployments_by_start ON deployments (service, environment, started_at);
