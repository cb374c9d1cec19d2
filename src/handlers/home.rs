//! What a person's home (Slack's App Home tab) shows: their teams (direct `memberOf` groups), each
//! team's services with their scorecard level and score and who is on call, and the runs they
//! started that are still open. Built from the catalog snapshot, the on-call service, the stored runs
//! ([`RunLookup`]) and a [`ScoreLookup`]; the Slack rendering is `slack::home`.

use chrono::{DateTime, Utc};
use futures_util::future::join_all;

use crate::actions::Run;
use crate::authz::{self, Action, Caller, Decision};
use crate::catalog::{EntityRef, RelationType, Snapshot, Target};
use crate::oncall::OnCallService;
use crate::runs::RunLookup;

/// Teams looked at, at most (a person in more sees "…and N more").
pub const MAX_GROUPS: usize = 10;
/// Open runs listed, at most.
pub const MAX_RUNS: usize = 5;

/// A service's standing on the scorecard the home shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceScore {
    /// The highest level all of whose checks pass (`gold`), if any.
    pub level: Option<String>,
    /// Weighted share of passing checks, 0 to 100.
    pub score: u8,
}

/// Where the home reads scores from (the scorecard service's latest evaluation).
pub trait ScoreLookup: Send + Sync {
    /// The score of the entity with this ref key (`component:default/checkout-api`), if it was
    /// evaluated.
    fn score_of(&self, entity_key: &str) -> Option<ServiceScore>;
}

/// No scores (no scorecards configured).
pub struct NoScores;

impl ScoreLookup for NoScores {
    fn score_of(&self, _: &str) -> Option<ServiceScore> {
        None
    }
}

/// Scores from a [`crate::scorecards::Scorer`]'s latest results on its default scorecard (the
/// first of the file); nothing before the first evaluation.
#[derive(Debug, Clone)]
pub struct ScorerScores(pub std::sync::Arc<crate::scorecards::Scorer>);

impl ScoreLookup for ScorerScores {
    fn score_of(&self, entity_key: &str) -> Option<ServiceScore> {
        let latest = self.0.latest()?;
        let entity = EntityRef::parse(entity_key, None, crate::catalog::DEFAULT_NAMESPACE).ok()?;
        let index = latest.snapshot.get(&entity)?;
        let result = latest.results.first()?.entity(index)?;
        Some(ServiceScore {
            level: result.level.map(|l| l.name.clone()),
            score: result.score,
        })
    }
}

/// One service on the home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeService {
    /// Its ref.
    pub entity_ref: EntityRef,
    /// `spec.lifecycle`.
    pub lifecycle: Option<String>,
    /// Its scorecard standing, when evaluated.
    pub score: Option<ServiceScore>,
}

/// One team on the home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeGroup {
    /// Its ref.
    pub entity_ref: EntityRef,
    /// Its display name.
    pub name: String,
    /// Who is on call now ("Mei Tanaka until Tue 18:00 UTC"), or why nobody is known.
    pub on_call: String,
    /// The components it owns, lowest score first (unscored last), then by name.
    pub services: Vec<HomeService>,
}

/// The home of one person.
#[derive(Debug, Clone, PartialEq)]
pub enum Home {
    /// A person idp cannot map to a catalog user, and why.
    Guest(String),
    /// The policy does not let them read the catalog.
    Denied(Decision),
    /// Their home.
    Member {
        /// Their display name.
        name: String,
        /// Their teams (at most [`MAX_GROUPS`]).
        groups: Vec<HomeGroup>,
        /// Teams beyond [`MAX_GROUPS`].
        more_groups: usize,
        /// Their open runs, newest first (at most [`MAX_RUNS`]).
        runs: Vec<Run>,
        /// Open runs beyond [`MAX_RUNS`].
        more_runs: usize,
    },
}

/// What building a home needs.
pub struct HomeSources<'a> {
    /// The catalog.
    pub snapshot: &'a Snapshot,
    /// The policy (the home needs `catalog.read`).
    pub policy: &'a authz::Policy,
    /// On-call lookups (cached; PagerDuty within its budget).
    pub oncall: &'a OnCallService,
    /// Stored runs: the caller's open ones are shown.
    pub runs: &'a dyn RunLookup,
    /// Scores.
    pub scores: &'a dyn ScoreLookup,
    /// Now.
    pub now: DateTime<Utc>,
}

/// Builds the home of `caller`. Runs that cannot be read are left out (logged).
pub async fn build(sources: &HomeSources<'_>, caller: &Caller) -> Home {
    let snapshot = sources.snapshot;
    let Some(user) = caller.user.as_ref() else {
        return Home::Guest(
            caller
                .guest_reason
                .clone()
                .unwrap_or_else(|| "idp does not know who you are".to_owned()),
        );
    };
    let groups = authz::groups_of(snapshot, Some(user));
    let decision = authz::decide(
        sources.policy,
        &authz::AccessRequest {
            action: Action::CatalogRead,
            caller,
            groups: &groups,
            target: None,
            environment: None,
            on_call: authz::OnCallStatus::NotAsked,
            requester: None,
            now: sources.now,
        },
    );
    if !decision.allowed() {
        return Home::Denied(decision);
    }
    let Some(me) = snapshot.get(user) else {
        return Home::Guest(format!("{} is not in the catalog", user.short()));
    };
    let name = snapshot.node(me).entity.display_name().to_owned();
    let mut teams: Vec<u32> = snapshot
        .related(me, RelationType::MemberOf)
        .filter_map(|t| match t {
            Target::Resolved(i) => Some(*i),
            Target::Unresolved(_) => None,
        })
        .collect();
    teams.sort_by(|a, b| {
        snapshot
            .node(*a)
            .entity
            .display_name()
            .cmp(snapshot.node(*b).entity.display_name())
    });
    teams.dedup();
    let more_groups = teams.len().saturating_sub(MAX_GROUPS);
    teams.truncate(MAX_GROUPS);
    let groups = join_all(teams.iter().map(|&g| group(sources, g))).await;
    let (runs, more_runs) = open_runs(sources.runs, caller).await;
    Home::Member {
        name,
        groups,
        more_groups,
        runs,
        more_runs,
    }
}

async fn group(sources: &HomeSources<'_>, index: u32) -> HomeGroup {
    let snapshot = sources.snapshot;
    let entity = &snapshot.node(index).entity;
    let mut services: Vec<HomeService> = snapshot
        .related(index, RelationType::OwnerOf)
        .filter_map(|t| match t {
            Target::Resolved(i) => Some(*i),
            Target::Unresolved(_) => None,
        })
        .filter(|&i| {
            snapshot
                .node(i)
                .entity
                .entity_ref
                .kind
                .eq_ignore_ascii_case("component")
        })
        .map(|i| {
            let e = &snapshot.node(i).entity;
            HomeService {
                entity_ref: e.entity_ref.clone(),
                lifecycle: e.lifecycle().map(str::to_owned),
                score: sources.scores.score_of(&e.entity_ref.key()),
            }
        })
        .collect();
    services.sort_by(|a, b| {
        let rank = |s: &HomeService| s.score.as_ref().map_or(u16::MAX, |x| u16::from(x.score));
        rank(a)
            .cmp(&rank(b))
            .then_with(|| a.entity_ref.name.cmp(&b.entity_ref.name))
    });
    HomeGroup {
        entity_ref: entity.entity_ref.clone(),
        name: entity.display_name().to_owned(),
        on_call: on_call_of(sources, index).await,
        services,
    }
}

/// The team's on-call: its rotation or PagerDuty service, else the first owned service that
/// names one.
async fn on_call_of(sources: &HomeSources<'_>, index: u32) -> String {
    let snapshot = sources.snapshot;
    let candidates = std::iter::once(index).chain(
        snapshot
            .related(index, RelationType::OwnerOf)
            .filter_map(|t| match t {
                Target::Resolved(i) => Some(*i),
                Target::Unresolved(_) => None,
            })
            .filter(|&i| {
                snapshot
                    .node(i)
                    .entity
                    .annotation(crate::oncall::SERVICE_ID_ANNOTATION)
                    .is_some()
            })
            .take(1),
    );
    let mut why = "nobody known".to_owned();
    for i in candidates {
        match sources.oncall.for_entity(snapshot, i, sources.now).await {
            Ok(answer) => {
                return super::on_call_summary(&answer)
                    .unwrap_or_else(|| "nobody on call now".to_owned());
            }
            Err(crate::oncall::OnCallError::NotResolvable(_)) => {}
            Err(e) => why = format!("unknown ({e})"),
        }
    }
    why
}

async fn open_runs(runs: &dyn RunLookup, caller: &Caller) -> (Vec<Run>, usize) {
    let user = caller.user.as_ref().map(EntityRef::key);
    let slack_user = match &caller.origin {
        authz::Origin::Slack { user_id, .. } => Some(user_id.as_str()),
        _ => None,
    };
    match runs.open_runs(500).await {
        Ok(runs) => {
            let mut mine: Vec<Run> = runs
                .into_iter()
                .filter(|r| {
                    (user.is_some() && r.requester.user == user)
                        || (slack_user.is_some()
                            && r.requester.slack_user_id.as_deref() == slack_user)
                })
                .collect();
            let more = mine.len().saturating_sub(MAX_RUNS);
            mine.truncate(MAX_RUNS);
            (mine, more)
        }
        Err(e) => {
            tracing::error!(error = %e, "could not read open runs for a home tab");
            (Vec::new(), 0)
        }
    }
}

/// Answers the App Home (permission `catalog.read`, decided by [`build`]): the caller's home,
/// recorded with the decision it was built under.
pub async fn handle(ctx: &super::Context<'_>, caller: &Caller) -> super::Handled {
    let sources = HomeSources {
        snapshot: ctx.snapshot,
        policy: ctx.policy,
        oncall: ctx.oncall,
        runs: ctx.run_lookup,
        scores: ctx.scores,
        now: ctx.now,
    };
    let home = build(&sources, caller).await;
    let mut handled = super::Handled::plain(super::Outcome::Help(None), Action::CatalogRead);
    if let Home::Denied(decision) = &home {
        handled.decision = Some(decision.clone());
    }
    handled.outcome = super::Outcome::Home(Box::new(home));
    handled
}
