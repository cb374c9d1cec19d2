//! Scorecards and digests: production-readiness checks per service, their history, and the
//! scheduled per-team digests posted to Slack channels.
//!
//! - [`schedule`]: when a digest is due (natural schedules or cron, time zones, daylight saving).
//! - [`subscription`]: a channel's subscription to a group's digest, and its posts per period.
//! - [`scheduler`]: the task that posts each due period exactly once across replicas.

pub mod schedule;
pub mod scheduler;
pub mod subscription;
