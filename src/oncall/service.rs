//! [`OnCallService`]: picks the provider for an entity, caches PagerDuty answers, enforces the
//! lookup budget and turns provider data into [`OnCall`] answers matched to catalog users.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use moka::Expiry;
use moka::future::Cache;
use secrecy::SecretString;

use super::pagerduty::{self, PdError, ServiceOnCalls};
use super::rotation::{RotationConfig, RotationShift};
use super::{OnCall, OnCallConfig, OnCallError, OnCallSource, Person, Shift};
use crate::catalog::{EntityRef, RelationType, Snapshot, Target};

/// The annotation naming a Component's PagerDuty service (`pagerduty.com/service-id`), as
/// Backstage's PagerDuty plugin reads it.
pub const SERVICE_ID_ANNOTATION: &str = "pagerduty.com/service-id";

/// The annotation holding a PagerDuty Events API integration key: a secret for *sending* events,
/// useless for looking up who is on call.
pub const INTEGRATION_KEY_ANNOTATION: &str = "pagerduty.com/integration-key";

/// The default hard budget of one PagerDuty lookup (the whole conversation, every page and retry).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1500);

/// How long a PagerDuty answer is reused by default.
pub const DEFAULT_ANSWER_TTL: Duration = Duration::from_secs(30);

/// How long a PagerDuty failure is reused by default (so an outage costs one slow lookup every few
/// seconds, not one per request).
pub const DEFAULT_ERROR_TTL: Duration = Duration::from_secs(5);

/// The TCP connect timeout of PagerDuty requests.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

const PROVIDER: &str = "PagerDuty";

/// The reason given for an entity with an integration key but no service id.
const SERVICE_ID_MISSING: &str = "service id missing";

/// Where the on-call of an entity comes from ([`OnCallService::route`]).
#[derive(Debug, Clone, Copy)]
pub enum Route<'a> {
    /// PagerDuty, for this service id (`pagerduty.com/service-id`, trimmed).
    PagerDuty(&'a str),
    /// This rotation from `idp.toml`.
    Rotation(&'a RotationConfig),
}

type Answer = Result<Arc<ServiceOnCalls>, OnCallError>;

/// Answers live for `ok`, failures for `err`.
struct TtlByOutcome {
    ok: Duration,
    err: Duration,
}

impl Expiry<String, Answer> for TtlByOutcome {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Answer,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(if value.is_ok() { self.ok } else { self.err })
    }
}

fn build_cache(ok: Duration, err: Duration) -> Cache<String, Answer> {
    Cache::builder()
        .max_capacity(10_000)
        .expire_after(TtlByOutcome { ok, err })
        .build()
}

/// Finds who is on call for catalog entities: PagerDuty for entities annotated with
/// `pagerduty.com/service-id`, else the `idp.toml` rotation of their owning group.
///
/// PagerDuty answers are cached per service id (30 s; failures 5 s) and each lookup has a hard
/// budget (1.5 s) covering every request, page and retry; concurrent lookups of one service share a
/// single conversation. Rotations are computed on every call (no I/O). `Send + Sync`: share it in
/// an `Arc`.
pub struct OnCallService {
    rotations: Vec<RotationConfig>,
    by_group: HashMap<String, usize>,
    pagerduty: Option<pagerduty::Client>,
    cache: Cache<String, Answer>,
    timeout: Duration,
}

// Handlers share one service across tasks.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<OnCallService>();
};

impl std::fmt::Debug for OnCallService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnCallService")
            .field("rotations", &self.rotations.len())
            .field("pagerduty", &self.pagerduty)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Default for OnCallService {
    /// No rotations and no PagerDuty token: every lookup is [`OnCallError::NotResolvable`].
    fn default() -> Self {
        Self {
            rotations: Vec::new(),
            by_group: HashMap::new(),
            pagerduty: None,
            cache: build_cache(DEFAULT_ANSWER_TTL, DEFAULT_ERROR_TTL),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// A catalog user as a [`Person`]: display name and email from the catalog when the ref is there.
fn catalog_person(snapshot: &Snapshot, user: &EntityRef) -> Person {
    match snapshot.get(user) {
        Some(i) => {
            let e = &snapshot.node(i).entity;
            Person {
                name: e.display_name().to_owned(),
                email: e.profile().email.map(str::to_owned),
                user: Some(e.entity_ref.clone()),
            }
        }
        None => Person {
            name: user.name.clone(),
            email: None,
            user: None,
        },
    }
}

fn rotation_shift(snapshot: &Snapshot, s: &RotationShift) -> Shift {
    Shift {
        person: catalog_person(snapshot, &s.user),
        level: 1,
        start: Some(s.start),
        end: Some(s.end),
    }
}

/// A PagerDuty id as it may appear in a URL path: letters and digits (PagerDuty's ids look like
/// `PABC123`), plus `-` and `_` to be lenient.
fn is_plain_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl OnCallService {
    /// Builds the service from `[oncall]` and the PagerDuty settings (`PAGERDUTY_API_URL`, e.g.
    /// `https://api.pagerduty.com`; `PAGERDUTY_TOKEN`, optional: without it PagerDuty-annotated
    /// entities are not resolvable). Timeout 1.5 s, cache 30 s / 5 s for failures; see
    /// [`Self::with_timeout`] and [`Self::with_cache_ttl`].
    ///
    /// # Errors
    /// The config's problems ([`super::validate`]) joined by `; `, or why the HTTP client cannot
    /// be built.
    pub fn new(
        config: &OnCallConfig,
        pagerduty_api_url: &str,
        pagerduty_token: Option<SecretString>,
    ) -> Result<Self, String> {
        let problems = super::validate(config);
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        let pagerduty = match pagerduty_token {
            Some(token) => {
                crate::install_crypto_provider();
                let http = reqwest::Client::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .user_agent(concat!("idp/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| format!("cannot build the PagerDuty HTTP client: {e}"))?;
                Some(pagerduty::Client::new(http, pagerduty_api_url, token))
            }
            None => None,
        };
        let by_group = config
            .rotations
            .iter()
            .enumerate()
            .map(|(i, r)| (r.group.key(), i))
            .collect();
        Ok(Self {
            rotations: config.rotations.clone(),
            by_group,
            pagerduty,
            ..Self::default()
        })
    }

    /// Replaces the hard budget of one PagerDuty lookup (default 1.5 s).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Replaces how long PagerDuty answers (default 30 s) and failures (default 5 s) are reused.
    /// Empties the cache.
    #[must_use]
    pub fn with_cache_ttl(mut self, answers: Duration, errors: Duration) -> Self {
        self.cache = build_cache(answers, errors);
        self
    }

    /// Whether `group` has a rotation in `idp.toml` (refs compared case-insensitively).
    pub fn has_rotation(&self, group: &EntityRef) -> bool {
        self.by_group.contains_key(&group.key())
    }

    /// The rotations, as configured.
    pub fn rotations(&self) -> &[RotationConfig] {
        &self.rotations
    }

    fn rotation(&self, group: &EntityRef) -> Option<&RotationConfig> {
        // A short list is searched without building the key (scorecards ask for every service).
        if self.rotations.len() <= 16 {
            return self.rotations.iter().find(|r| r.group.same_as(group));
        }
        self.by_group
            .get(&group.key())
            .and_then(|&i| self.rotations.get(i))
    }

    /// Where the on-call of the entity at `index` of `snapshot` comes from, decided from the
    /// catalog and `[oncall]` alone: no I/O, so scorecards can ask it for every service. This is
    /// what "on-call is resolvable" means everywhere in idp.
    ///
    /// - A Group: its rotation, else its `pagerduty.com/service-id` if it has one.
    /// - A User: never (ask about a service or a team).
    /// - Any other kind (Component, API, Resource, System…): PagerDuty when it has a
    ///   `pagerduty.com/service-id` annotation; else, when it has only a
    ///   `pagerduty.com/integration-key`, not resolvable ("service id missing"); else the rotation
    ///   of its owner (relation `ownedBy`).
    ///
    /// A PagerDuty route does not say that `PAGERDUTY_TOKEN` is set or that PagerDuty knows the
    /// service: [`Self::for_entity`] finds that out.
    ///
    /// # Errors
    /// [`OnCallError::NotResolvable`] with the reason (`"service id missing"`, `"no PagerDuty
    /// service id and no rotation for group:…"`, `"no rotation for group:…"`, …).
    pub fn route<'a>(
        &'a self,
        snapshot: &'a Snapshot,
        index: u32,
    ) -> Result<Route<'a>, OnCallError> {
        let entity = &snapshot.node(index).entity;
        let this = &entity.entity_ref;
        let service_id = entity
            .annotation(SERVICE_ID_ANNOTATION)
            .map(str::trim)
            .filter(|s| !s.is_empty());
        if this.kind.eq_ignore_ascii_case("group") {
            if let Some(rotation) = self.rotation(this) {
                return Ok(Route::Rotation(rotation));
            }
            return match service_id {
                Some(id) => Ok(Route::PagerDuty(id)),
                None => Err(OnCallError::NotResolvable(format!(
                    "no rotation for {}",
                    this.short()
                ))),
            };
        }
        if this.kind.eq_ignore_ascii_case("user") {
            return Err(OnCallError::NotResolvable(format!(
                "{} is a user; ask about a service or a team",
                this.short()
            )));
        }
        if let Some(id) = service_id {
            return Ok(Route::PagerDuty(id));
        }
        if entity.annotation(INTEGRATION_KEY_ANNOTATION).is_some() {
            return Err(OnCallError::NotResolvable(SERVICE_ID_MISSING.to_owned()));
        }
        match snapshot.related(index, RelationType::OwnedBy).next() {
            Some(owner) => {
                let found = match owner {
                    Target::Resolved(i) => self.rotation(&snapshot.node(*i).entity.entity_ref),
                    Target::Unresolved(r) => self.rotation(r),
                };
                found.map(Route::Rotation).ok_or_else(|| {
                    OnCallError::NotResolvable(format!(
                        "no PagerDuty service id and no rotation for {}",
                        snapshot.target_ref(owner).short()
                    ))
                })
            }
            None => Err(OnCallError::NotResolvable(
                "no PagerDuty service id and no owner".to_owned(),
            )),
        }
    }

    /// Who is on call for the entity at `index` of `snapshot`, at `now`, found along
    /// [`Self::route`].
    ///
    /// PagerDuty gives every escalation level (level 1 first) and the next level-1 shift within 7
    /// days; a rotation gives level 1 only.
    ///
    /// # Errors
    /// [`OnCallError::NotResolvable`] when nothing says how to find the on-call (see
    /// [`Self::route`]; also `"PAGERDUTY_TOKEN is not set"` and an unknown PagerDuty service);
    /// [`OnCallError::Unreachable`] when PagerDuty fails, rejects the token or exceeds the budget
    /// (`detail` `"timed out after 1.5 s"`).
    pub async fn for_entity(
        &self,
        snapshot: &Snapshot,
        index: u32,
        now: DateTime<Utc>,
    ) -> Result<OnCall, OnCallError> {
        match self.route(snapshot, index) {
            Ok(Route::PagerDuty(id)) => self.pagerduty_answer(snapshot, id, now).await,
            Ok(Route::Rotation(rotation)) => Ok(self.rotation_answer(snapshot, rotation, now)),
            Err(e) => {
                if e.detail() == SERVICE_ID_MISSING {
                    tracing::warn!(
                        entity = %snapshot.node(index).entity.entity_ref,
                        "{INTEGRATION_KEY_ANNOTATION} is set but {SERVICE_ID_ANNOTATION} is not; an integration key cannot look up on-call"
                    );
                }
                Err(e)
            }
        }
    }

    /// The shifts of one catalog user across every rotation: for each rotation the user belongs to
    /// (as a member or through an override), the shift the user holds at `now` if any, and the
    /// user's next one. Each item is the rotation's group (`group:search-team`) and the shift.
    /// PagerDuty schedules are not listed.
    pub async fn shifts_of(
        &self,
        snapshot: &Snapshot,
        user: &EntityRef,
        now: DateTime<Utc>,
    ) -> Vec<(String, Shift)> {
        let key = user.key();
        let mut out = Vec::new();
        for rotation in &self.rotations {
            let involved = rotation.members.iter().any(|m| m.key() == key)
                || rotation.overrides.iter().any(|o| o.user.key() == key);
            if !involved {
                continue;
            }
            let what = rotation.group.short();
            out.extend(
                rotation
                    .shifts_of(user, now)
                    .iter()
                    .map(|s| (what.clone(), rotation_shift(snapshot, s))),
            );
        }
        out
    }

    fn rotation_answer(
        &self,
        snapshot: &Snapshot,
        rotation: &RotationConfig,
        now: DateTime<Utc>,
    ) -> OnCall {
        OnCall {
            source: OnCallSource::Rotation {
                group: rotation.group.clone(),
            },
            now: rotation
                .on_call_at(now)
                .iter()
                .map(|s| rotation_shift(snapshot, s))
                .collect(),
            next: rotation
                .next_after(now)
                .map(|s| rotation_shift(snapshot, &s)),
        }
    }

    async fn pagerduty_answer(
        &self,
        snapshot: &Snapshot,
        service_id: &str,
        now: DateTime<Utc>,
    ) -> Result<OnCall, OnCallError> {
        let Some(client) = &self.pagerduty else {
            return Err(OnCallError::NotResolvable(
                "PAGERDUTY_TOKEN is not set".to_owned(),
            ));
        };
        if !is_plain_id(service_id) {
            return Err(OnCallError::NotResolvable(format!(
                "`{SERVICE_ID_ANNOTATION}` `{service_id}` is not a PagerDuty service id"
            )));
        }
        let timeout = self.timeout;
        let data = self
            .cache
            .get_with(service_id.to_owned(), async move {
                let deadline = tokio::time::Instant::now() + timeout;
                let outcome = tokio::time::timeout(
                    timeout,
                    client.service_on_calls(service_id, now, deadline),
                )
                .await;
                let answer = match outcome {
                    Ok(Ok(data)) => Ok(Arc::new(data)),
                    Ok(Err(PdError::ServiceNotFound)) => Err(OnCallError::NotResolvable(format!(
                        "PagerDuty has no service `{service_id}`"
                    ))),
                    Ok(Err(PdError::Failed(detail))) => Err(OnCallError::Unreachable {
                        provider: PROVIDER,
                        detail,
                    }),
                    Err(_elapsed) => Err(OnCallError::Unreachable {
                        provider: PROVIDER,
                        detail: format!("timed out after {} s", timeout.as_secs_f64()),
                    }),
                };
                if let Err(e) = &answer {
                    tracing::warn!(
                        service_id,
                        detail = e.detail(),
                        "PagerDuty on-call lookup failed"
                    );
                }
                answer
            })
            .await?;
        Ok(pagerduty_on_call(snapshot, service_id, &data, now))
    }
}

/// The answer at `now` from PagerDuty's entries: the entries covering `now` (every level, level 1
/// first), and the earliest level-1 entry starting after `now`, preferring someone who is not on
/// call at level 1 already.
fn pagerduty_on_call(
    snapshot: &Snapshot,
    service_id: &str,
    data: &ServiceOnCalls,
    now: DateTime<Utc>,
) -> OnCall {
    let person = |e: &pagerduty::Entry| Person {
        name: e.name.clone(),
        email: e.email.clone(),
        user: e
            .email
            .as_deref()
            .and_then(|m| snapshot.user_by_email(m))
            .map(|i| snapshot.node(i).entity.entity_ref.clone()),
    };
    let shift = |e: &pagerduty::Entry| Shift {
        person: person(e),
        level: e.level,
        start: e.start,
        end: e.end,
    };
    let mut current: Vec<&pagerduty::Entry> = data
        .entries
        .iter()
        .filter(|e| e.start.is_none_or(|s| s <= now) && e.end.is_none_or(|t| now < t))
        .collect();
    current.sort_by(|a, b| (a.level, &a.name, &a.user_id).cmp(&(b.level, &b.name, &b.user_id)));
    current.dedup_by(|a, b| a.level == b.level && a.user_id == b.user_id);
    let primary_ids: Vec<&str> = current
        .iter()
        .filter(|e| e.level == 1)
        .map(|e| e.user_id.as_str())
        .collect();
    let mut upcoming: Vec<&pagerduty::Entry> = data
        .entries
        .iter()
        .filter(|e| e.level == 1 && e.start.is_some_and(|s| s > now))
        .collect();
    upcoming.sort_by_key(|e| e.start);
    let next = upcoming
        .iter()
        .find(|e| !primary_ids.contains(&e.user_id.as_str()))
        .or(upcoming.first())
        .map(|e| shift(e));
    OnCall {
        source: OnCallSource::PagerDuty {
            service_id: service_id.to_owned(),
            escalation_policy_id: data.policy_id.clone(),
            escalation_policy_name: data.policy_name.clone(),
        },
        now: current.into_iter().map(shift).collect(),
        next,
    }
}
