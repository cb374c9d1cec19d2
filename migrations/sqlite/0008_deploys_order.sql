-- Indexes that serve the deploy history's reads as they are written (store/deploys.rs), checked
-- with EXPLAIN QUERY PLAN (a test in store/deploys.rs keeps them so):
--
-- deployments_history: one service and environment, newest first by COALESCE(finished_at,
--   started_at) then id: the history list, the current deploy, the deploy before it (a rollback's
--   target) and the current deploy per environment, each a short backward range scan with no sort.
-- deployments_by_version: one version of a service in an environment: whether a version ever ran
--   there (`rollback to <version>`), and joining a deploy's events without a deployment id.
--
-- They replace the two single-column-time indexes of 0005, which left every one of those reads
-- sorting the service's whole history.
DROP INDEX IF EXISTS deployments_by_finish;
DROP INDEX IF EXISTS deployments_by_start;
CREATE INDEX deployments_history
    ON deployments (service, environment, COALESCE(finished_at, started_at), id);
CREATE INDEX deployments_by_version
    ON deployments (service, environment, version, status, COALESCE(finished_at, started_at), id);
