//! Deploy history: which version of a service runs in which environment, since when, who put it
//! there. Built from events (see [`event`] and `docs/deploy-events.md`) that CI, Kubernetes and
//! GitOps tools send to `POST /hooks/events`, and from native webhooks ([`github`]'s
//! `deployment_status`). No Slack or HTTP types here; the SQL lives in `store::deploys`.
//!
//! Reading the history ([`crate::store::Store`]; handlers take the narrower [`DeployHistory`]):
//!
//! - `deployments(service, environment, limit)`: newest first;
//! - `current_deployment(service, environment)`: the latest succeeded deploy;
//! - `current_deployments(service)`: that, for every environment (one query, for the card);
//! - `deployment_before(service, environment, before, not_after)`: a rollback's default target;
//! - `succeeded_version(service, environment, version)`: whether (and when) a version ran;
//! - `environment_named(service, asked)`: `prod` as the history spells it (`production`), see
//!   [`environment`];
//! - `record_event(event)`: stores an event once and folds it into the history;
//! - `record_events(events)`: the same for a batch, in one transaction.
//!
//! `POST /hooks/events` writes through an [`EventWriter`] ([`writer`]), which batches concurrent
//! events into one transaction and answers each request once its batch is committed.

pub mod environment;
pub mod event;
pub mod github;
pub mod history;
pub mod writer;

use chrono::{DateTime, Utc};

pub use event::{DeployData, DeployEvent, EventError, EventType, parse_event};
pub use writer::{EventWriter, EventWriterOptions, RecordError};

use crate::store::StoreError;

/// One deploy of a service to an environment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Deployment {
    /// Stable id: `{source}:{service}:{environment}:{deployment_id}` when the sender names the
    /// deployment, else the id of the event that opened the row.
    pub id: String,
    /// The component's entity ref key, lower-case: `component:default/checkout-api`
    /// ([`service_key`]).
    pub service: String,
    /// The environment as sent (`production`, `staging`), lower-case.
    pub environment: String,
    /// The version deployed (a tag, a chart version, an image tag).
    pub version: String,
    /// The commit (git sha) behind the version, when known.
    pub revision: Option<String>,
    /// Who or what deployed it (a person's login, a pipeline), when known.
    pub deployed_by: Option<String>,
    /// When the deploy started, when a `deploy.started` event said so.
    pub started_at: Option<DateTime<Utc>>,
    /// When it succeeded or failed.
    pub finished_at: Option<DateTime<Utc>>,
    /// Where it stands.
    pub status: DeployStatus,
    /// A link to the pipeline run, the Argo CD application or the GitHub deployment.
    pub url: Option<String>,
    /// The event source that reported it (`ci`, `argocd`, `github`).
    pub source: String,
    /// Argo CD's history id of this sync (`status.history[].id`), which its rollback API takes.
    pub argocd_history_id: Option<i64>,
}

impl Deployment {
    /// The time the history sorts by: `finished_at`, else `started_at`.
    pub fn sort_time(&self) -> Option<DateTime<Utc>> {
        self.finished_at.or(self.started_at)
    }
}

/// Where a deploy stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeployStatus {
    /// Started, no outcome yet.
    Started,
    /// Finished and healthy: the version runs in the environment.
    Succeeded,
    /// Finished and failed.
    Failed,
}

impl DeployStatus {
    /// The stored word: `started`, `succeeded` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// Reads a stored word.
    ///
    /// # Errors
    /// The word itself, when it is none of the three.
    pub fn parse(word: &str) -> Result<Self, String> {
        match word {
            "started" => Ok(Self::Started),
            "succeeded" => Ok(Self::Succeeded),
            "failed" => Ok(Self::Failed),
            other => Err(format!("unknown deploy status `{other}`")),
        }
    }

    /// Whether the deploy is over.
    pub fn is_finished(self) -> bool {
        !matches!(self, Self::Started)
    }
}

/// What [`crate::store::Store::record_event`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    /// First seen: stored (and folded into the history when it is a deploy event).
    Stored,
    /// An event with this id was stored before; nothing changed.
    Duplicate,
}

/// The last successful deploy of every service, per environment: the input of the scorecards'
/// `deployed_within` checks, read in one query
/// ([`crate::store::Store::last_successful_deploys`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastDeploys {
    /// Service key ([`service_key`]) → (environment, when its last succeeded deploy finished).
    by_service: std::collections::HashMap<String, Vec<(String, DateTime<Utc>)>>,
}

impl LastDeploys {
    /// Records that `service` (a key, as stored) last deployed successfully to `environment` at
    /// `at`; a later time for the same pair wins.
    pub fn insert(&mut self, service: &str, environment: &str, at: DateTime<Utc>) {
        let envs = self.by_service.entry(service.to_owned()).or_default();
        match envs
            .iter_mut()
            .find(|(e, _)| e.eq_ignore_ascii_case(environment))
        {
            Some((_, t)) => *t = (*t).max(at),
            None => envs.push((environment.to_ascii_lowercase(), at)),
        }
    }

    /// When the service with this key (`component:default/checkout-api`) last deployed
    /// successfully to `environment` (any environment when `None`). Allocates nothing.
    pub fn last(&self, service_key: &str, environment: Option<&str>) -> Option<DateTime<Utc>> {
        self.by_service
            .get(service_key)?
            .iter()
            .filter(|(e, _)| environment.is_none_or(|want| e.eq_ignore_ascii_case(want)))
            .map(|(_, t)| *t)
            .max()
    }

    /// How many services have a successful deploy.
    pub fn len(&self) -> usize {
        self.by_service.len()
    }

    /// True when no service has one.
    pub fn is_empty(&self) -> bool {
        self.by_service.is_empty()
    }
}

/// The key deploys are stored under for a service name or ref: `checkout-api`,
/// `default/checkout-api` and `component:default/Checkout-API` all give
/// `component:default/checkout-api` (kind `component` and namespace `default` when absent,
/// lower-case). Text that is no ref is lower-cased and trimmed into the name.
pub fn service_key(name: &str) -> String {
    match crate::catalog::EntityRef::parse(name, Some("component"), "default") {
        Ok(r) => r.key(),
        Err(_) => format!("component:default/{}", name.trim().to_ascii_lowercase()),
    }
}

/// Reading the deploy history: what a handler (the service card, `deploys`, a rollback plan)
/// needs, without the rest of the store. Services are names or refs, keyed by [`service_key`];
/// environments are matched case-insensitively. Implemented by [`crate::store::Store`].
#[async_trait::async_trait]
pub trait DeployHistory: Send + Sync {
    /// What runs in each environment of `service`: its latest succeeded deploy per environment,
    /// in environment order. Environments without a succeeded deploy are left out.
    ///
    /// # Errors
    /// [`StoreError::Query`], [`StoreError::Corrupt`] for an unreadable stored row.
    async fn current_deployments(&self, service: &str) -> Result<Vec<Deployment>, StoreError>;

    /// The deploys of `service` in one environment or all, newest first (by `finished_at`, else
    /// `started_at`), at most `limit`.
    ///
    /// # Errors
    /// As [`DeployHistory::current_deployments`].
    async fn deployments(
        &self,
        service: &str,
        environment: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Deployment>, StoreError>;

    /// The latest succeeded deploy of `service` to `environment`: what runs there now.
    ///
    /// # Errors
    /// As [`DeployHistory::current_deployments`].
    async fn current_deployment(
        &self,
        service: &str,
        environment: &str,
    ) -> Result<Option<Deployment>, StoreError>;

    /// The last succeeded deploy of `service` to `environment` before `before`, with another
    /// version, finished at or before `not_after` when given: a rollback's default target.
    ///
    /// # Errors
    /// As [`DeployHistory::current_deployments`].
    async fn deployment_before(
        &self,
        service: &str,
        environment: &str,
        before: &Deployment,
        not_after: Option<DateTime<Utc>>,
    ) -> Result<Option<Deployment>, StoreError>;

    /// The latest succeeded deploy of `version` of `service` to `environment`, if it ever ran
    /// there.
    ///
    /// # Errors
    /// As [`DeployHistory::current_deployments`].
    async fn succeeded_version(
        &self,
        service: &str,
        environment: &str,
        version: &str,
    ) -> Result<Option<Deployment>, StoreError>;

    /// The name `asked` has in the deploy history of `service` (`prod` finds `production` when
    /// that is what was deployed to); `asked` lower-cased when the history has no alias of it.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn environment_named(&self, service: &str, asked: &str) -> Result<String, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_keys_are_lower_case_component_refs() {
        assert_eq!(
            service_key("checkout-api"),
            "component:default/checkout-api"
        );
        assert_eq!(
            service_key("Payments/Checkout-API"),
            "component:payments/checkout-api"
        );
        assert_eq!(
            service_key("component:default/checkout-api"),
            "component:default/checkout-api"
        );
    }
}
