//! How one deploy event changes the history: a pure fold of the event into the deployment row it
//! belongs to (or a new one). The store finds the row and writes the result.
//!
//! Rules:
//! - a `deploy.started` sets `started_at` (the earliest start wins); it never turns a finished
//!   deploy back into a started one, so a `started` arriving after its `succeeded` only fills in
//!   the start;
//! - a `deploy.succeeded` / `deploy.failed` without a prior `started` creates the row;
//! - between two outcomes of the same deploy, the later `time` wins, whatever the arrival order;
//! - descriptive fields (`revision`, `deployed_by`, `url`, `argocd_history_id`) are filled when
//!   missing and replaced by the values of a newer event.

use chrono::{DateTime, Utc};

use super::{DeployData, DeployEvent, DeployStatus, Deployment};

/// A deployment row with the bookkeeping the fold needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    /// The row.
    pub deployment: Deployment,
    /// The time of the event that set `status`.
    pub status_at: DateTime<Utc>,
    /// The ids of the events folded in, oldest first.
    pub event_ids: Vec<String>,
}

/// The id a new deployment row gets: `{source}:{service}:{environment}:{deployment_id}` when the
/// sender names the deploy (scoped, so an id reused for another environment is another deploy),
/// else the event's id.
pub fn deployment_id(event: &DeployEvent, data: &DeployData) -> String {
    match &data.deployment_id {
        Some(d) => format!("{}:{}:{}:{d}", event.source, data.service, data.environment),
        None => event.id.clone(),
    }
}

fn newer<T: Clone>(old: &Option<T>, new: &Option<T>, event_is_newer: bool) -> Option<T> {
    match (old, new) {
        (_, Some(n)) if event_is_newer || old.is_none() => Some(n.clone()),
        _ => old.clone(),
    }
}

/// Folds a deploy event reporting `status` into `existing` (the row it belongs to, if any).
pub fn fold(
    existing: Option<Tracked>,
    event: &DeployEvent,
    data: &DeployData,
    status: DeployStatus,
) -> Tracked {
    let t = event.time;
    let Some(mut row) = existing else {
        let finished = status.is_finished().then_some(t);
        return Tracked {
            deployment: Deployment {
                id: deployment_id(event, data),
                service: data.service.clone(),
                environment: data.environment.clone(),
                version: data.version.clone(),
                revision: data.revision.clone(),
                deployed_by: data.deployed_by.clone(),
                started_at: (!status.is_finished()).then_some(t),
                finished_at: finished,
                status,
                url: data.url.clone(),
                source: event.source.clone(),
                argocd_history_id: data.argocd_history_id,
            },
            status_at: t,
            event_ids: vec![event.id.clone()],
        };
    };
    let event_is_newer = t >= row.status_at;
    let d = &mut row.deployment;
    match status {
        DeployStatus::Started => {
            d.started_at = Some(d.started_at.map_or(t, |s| s.min(t)));
            if !d.status.is_finished() && event_is_newer {
                row.status_at = t;
            }
        }
        DeployStatus::Succeeded | DeployStatus::Failed => {
            if !d.status.is_finished() || event_is_newer {
                d.status = status;
                d.finished_at = Some(t);
                row.status_at = t;
            }
        }
    }
    d.revision = newer(&d.revision, &data.revision, event_is_newer);
    d.deployed_by = newer(&d.deployed_by, &data.deployed_by, event_is_newer);
    d.url = newer(&d.url, &data.url, event_is_newer);
    d.argocd_history_id = newer(
        &d.argocd_history_id,
        &data.argocd_history_id,
        event_is_newer,
    );
    if event_is_newer {
        d.version.clone_from(&data.version);
    }
    row.event_ids.push(event.id.clone());
    row
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploys::parse_event;

    fn event(id: &str, kind: &str, time: &str) -> DeployEvent {
        parse_event(
            format!(
                r#"{{"id":"{id}","type":"{kind}","time":"{time}","data":{{"service":"api","environment":"prod","version":"1.0","deployment_id":"d1"}}}}"#
            )
            .as_bytes(),
            "ci",
        )
        .expect("event")
    }

    fn apply(row: Option<Tracked>, e: &DeployEvent) -> Tracked {
        let data = e.deploy.clone().expect("deploy data");
        let status = e.kind.deploy_status().expect("deploy type");
        fold(row, e, &data, status)
    }

    #[test]
    fn a_started_after_its_success_only_fills_in_the_start() {
        let done = apply(
            None,
            &event("b", "deploy.succeeded", "2026-01-01T10:05:00Z"),
        );
        assert_eq!(done.deployment.id, "ci:component:default/api:prod:d1");
        assert_eq!(done.deployment.started_at, None);
        let both = apply(
            Some(done),
            &event("a", "deploy.started", "2026-01-01T10:00:00Z"),
        );
        assert_eq!(both.deployment.status, DeployStatus::Succeeded);
        assert!(both.deployment.started_at < both.deployment.finished_at);
        assert_eq!(both.event_ids, ["b", "a"]);
    }

    #[test]
    fn the_later_outcome_wins_whatever_the_arrival_order() {
        let failed = apply(None, &event("f", "deploy.failed", "2026-01-01T10:09:00Z"));
        let older = apply(
            Some(failed),
            &event("s", "deploy.succeeded", "2026-01-01T10:05:00Z"),
        );
        assert_eq!(older.deployment.status, DeployStatus::Failed);
    }
}
