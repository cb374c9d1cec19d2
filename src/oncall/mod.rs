//! On-call: who is on call for a service or a group, now and next, from one of two providers
//! chosen per entity: PagerDuty (REST API v2) for components with a `pagerduty.com/service-id`
//! annotation, or a rotation declared in `idp.toml` for groups without PagerDuty.
//!
//! Answers are cached briefly and every provider call has a hard timeout, so a slash command still
//! answers within Slack's 3 s. When a provider fails, callers get an [`OnCallError`] and
//! authorization treats the caller as *not* on call (fail closed).

pub mod pagerduty;
pub mod rotation;
mod service;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::catalog::{EntityRef, Snapshot};

pub use rotation::{RotationConfig, RotationOverride, RotationShift, ShiftLength, resolve_local};
pub use service::{
    DEFAULT_ANSWER_TTL, DEFAULT_ERROR_TTL, DEFAULT_TIMEOUT, INTEGRATION_KEY_ANNOTATION,
    OnCallService, Route, SERVICE_ID_ANNOTATION,
};

/// A person on call, as the provider names them, matched to a catalog User by email when possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Display name from the provider (or the catalog).
    pub name: String,
    /// Email address, if the provider gives one.
    pub email: Option<String>,
    /// The catalog User: matched by email for PagerDuty, by ref for rotations; `None` when the
    /// catalog has no such user.
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
        self.primary()
            .any(|s| s.person.user.as_ref().is_some_and(|u| u.same_as(user)))
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

/// `[oncall]` in `idp.toml`:
///
/// ```toml
/// [[oncall.rotations]]
/// group = "search-team"
/// members = ["user:ana", "user:ben"]
/// shift = "1w"
/// handoff = "09:00"
/// time_zone = "Europe/Berlin"
/// start = "2026-01-05"
///
/// [[oncall.rotations.overrides]]
/// user = "user:cara"
/// start = "2026-03-29T08:00:00+02:00"
/// end = "2026-03-30T08:00:00+02:00"
/// ```
///
/// See [`rotation`] for every field and how shifts are counted.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnCallConfig {
    /// Rotations for groups without PagerDuty, one per group.
    #[serde(default)]
    pub rotations: Vec<RotationConfig>,
}

/// Every problem with `[oncall]`, one message each naming the rotation and the field (for
/// `idp check`; the caller adds the file). Empty when the config is usable. Deserialized rotations
/// are already checked one by one; this adds what needs them all (a group with two rotations) and
/// re-checks rotations built in code.
pub fn validate(config: &OnCallConfig) -> Vec<String> {
    rotation::problems(&config.rotations)
}

/// Warnings about rotations that name refs the catalog does not have (the group, members, override
/// users), one message each. Not errors: the catalog may lag behind `idp.toml`.
pub fn catalog_warnings(config: &OnCallConfig, snapshot: &Snapshot) -> Vec<String> {
    rotation::catalog_warnings(&config.rotations, snapshot)
}
