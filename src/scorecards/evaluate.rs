//! Evaluating scorecards: a pure function of the catalog [`Snapshot`] and [`Facts`] (on-call
//! configuration, last deploys, now). No I/O.
//!
//! **Score.** The weighted share of passing checks, `floor(100 × passed weight / total weight)`:
//! 0 to 100, rounded down, so 100 means every check passes (a failing check of weight 1 among
//! weights summing to 1,000 gives 99, not 100).
//!
//! **Level.** Levels are cumulative, in file order: an entity reaches a level when that level's
//! checks and those of every level before it pass. Its level is the last one reached; none when
//! the first level's checks do not all pass.
//!
//! The loop over entities allocates nothing per passing check (besides the results themselves):
//! rules and failure texts were compiled with the definitions, and a failure's reason is a shared
//! `Arc<str>` except for the few that name something of the entity (an unresolved owner, why
//! on-call is not resolvable, the date of the last deploy).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::definition::{
    Check, FieldValue, Level, RelationKind, Rule, Scorecard, Scorecards, target_of_kind,
};
use crate::catalog::{EntityRef, Snapshot, Target};
use crate::deploys::LastDeploys;
use crate::oncall::OnCallService;

/// What evaluation knows besides the catalog.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The evaluation time (deploy recency is measured from it).
    pub now: DateTime<Utc>,
    /// On-call configuration: PagerDuty annotations and `[oncall]` rotations decide
    /// resolvability ([`OnCallService::route`]); nothing is asked over the network.
    pub oncall: &'a OnCallService,
    /// The last successful deploy of every service per environment
    /// ([`crate::store::Store::last_successful_deploys`]).
    pub deploys: &'a LastDeploys,
}

/// One check's result for one entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    /// Whether it passed.
    pub passed: bool,
    /// Why it failed (a short sentence without a final period); `None` when it passed.
    pub reason: Option<Arc<str>>,
}

impl CheckOutcome {
    const PASS: Self = Self {
        passed: true,
        reason: None,
    };
}

/// One entity's score in a [`ScorecardResults`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityScore {
    /// The entity's index in the snapshot evaluated.
    pub index: u32,
    /// 0 to 100 (see the module docs for rounding).
    pub score: u8,
    /// Position of the level reached in [`Scorecard::levels`]; `None` below the first.
    pub level: Option<usize>,
}

/// One scorecard evaluated over a snapshot: every entity it applies to, in snapshot order, with
/// its score, level and each check's outcome.
#[derive(Debug, Clone)]
pub struct ScorecardResults {
    /// The scorecard.
    pub scorecard: Arc<Scorecard>,
    /// When it was evaluated ([`Facts::now`]).
    pub evaluated_at: DateTime<Utc>,
    /// The generation of the snapshot evaluated (indices refer to that snapshot).
    pub generation: i64,
    entities: Vec<EntityScore>,
    /// `entities.len() × checks.len()` outcomes, entity by entity, in check order.
    outcomes: Vec<CheckOutcome>,
}

/// One entity's result, borrowed from [`ScorecardResults`].
#[derive(Debug, Clone, Copy)]
pub struct EntityResult<'a> {
    /// The scorecard.
    pub scorecard: &'a Scorecard,
    /// The entity's index in the snapshot evaluated.
    pub index: u32,
    /// 0 to 100.
    pub score: u8,
    /// The level reached, if any.
    pub level: Option<&'a Level>,
    /// Outcomes in the order of [`Scorecard::checks`].
    pub outcomes: &'a [CheckOutcome],
}

impl<'a> EntityResult<'a> {
    /// Each check with its outcome, in file order.
    pub fn checks(&self) -> impl Iterator<Item = (&'a Check, &'a CheckOutcome)> + 'a {
        self.scorecard.checks.iter().zip(self.outcomes)
    }

    /// The failing checks with their outcomes, heaviest first (file order among equals): what to
    /// fix first.
    pub fn failing(&self) -> Vec<(&'a Check, &'a CheckOutcome)> {
        let mut out: Vec<_> = self.checks().filter(|(_, o)| !o.passed).collect();
        out.sort_by(|a, b| b.0.weight.total_cmp(&a.0.weight));
        out
    }

    /// The next level up and the checks still failing for it (cumulative: those of the levels
    /// before it too); `None` at the top level or without levels.
    pub fn next_level(&self) -> Option<(&'a Level, Vec<&'a Check>)> {
        let next = self.level.map_or(0, |l| {
            self.scorecard
                .levels
                .iter()
                .position(|x| std::ptr::eq(x, l))
                .map_or(0, |p| p + 1)
        });
        let level = self.scorecard.levels.get(next)?;
        let failing = self.scorecard.levels[..=next]
            .iter()
            .flat_map(|l| &l.checks)
            .filter(|&&c| !self.outcomes[c].passed)
            .map(|&c| &self.scorecard.checks[c])
            .collect();
        Some((level, failing))
    }
}

impl ScorecardResults {
    /// How many entities were scored.
    pub fn len(&self) -> usize {
        self.entities.len()
    }

    /// True when the scorecard applies to no entity.
    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    /// The scores, in snapshot order.
    pub fn scores(&self) -> &[EntityScore] {
        &self.entities
    }

    /// Every entity's result, in snapshot order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = EntityResult<'_>> + '_ {
        (0..self.entities.len()).map(|i| self.at(i))
    }

    /// The result of the entity at `index` of the snapshot evaluated, if the scorecard applies
    /// to it.
    pub fn entity(&self, index: u32) -> Option<EntityResult<'_>> {
        self.entities
            .binary_search_by_key(&index, |e| e.index)
            .ok()
            .map(|i| self.at(i))
    }

    fn at(&self, i: usize) -> EntityResult<'_> {
        let e = self.entities[i];
        let n = self.scorecard.checks.len();
        EntityResult {
            scorecard: &self.scorecard,
            index: e.index,
            score: e.score,
            level: e.level.and_then(|l| self.scorecard.levels.get(l)),
            outcomes: &self.outcomes[i * n..(i + 1) * n],
        }
    }

    /// The average score over the entities at these snapshot indices that the scorecard applies
    /// to (for a group's services), and how many those were; `None` when there are none.
    pub fn average(&self, indices: impl IntoIterator<Item = u32>) -> Option<(f64, usize)> {
        let (sum, n) = indices
            .into_iter()
            .filter_map(|i| self.entity(i))
            .fold((0u64, 0usize), |(s, n), e| (s + u64::from(e.score), n + 1));
        (n > 0).then(|| (sum as f64 / n as f64, n))
    }
}

/// Evaluates every scorecard of `definitions` (see [`evaluate`]).
pub fn evaluate_all(
    definitions: &Scorecards,
    snapshot: &Snapshot,
    facts: &Facts<'_>,
) -> Vec<ScorecardResults> {
    definitions
        .scorecards
        .iter()
        .map(|card| evaluate(card, snapshot, facts))
        .collect()
}

/// Evaluates one scorecard over every entity of `snapshot` it applies to.
pub fn evaluate(card: &Arc<Scorecard>, snapshot: &Snapshot, facts: &Facts<'_>) -> ScorecardResults {
    let n = card.checks.len();
    let mut entities = Vec::new();
    let mut outcomes = Vec::new();
    let mut key = String::new();
    for index in 0..snapshot.len() as u32 {
        if !card.applies_to.matches(snapshot, index) {
            continue;
        }
        if card.needs_key {
            snapshot.node(index).entity.entity_ref.write_key(&mut key);
        }
        let ctx = Ctx {
            snapshot,
            facts,
            index,
            key: &key,
        };
        let first = outcomes.len();
        let mut passed_weight = 0.0;
        for check in &card.checks {
            let outcome = match ctx.test(&check.rule) {
                Ok(()) => {
                    passed_weight += check.weight;
                    CheckOutcome::PASS
                }
                Err(reason) => CheckOutcome {
                    passed: false,
                    reason: Some(reason),
                },
            };
            outcomes.push(outcome);
        }
        let done = &outcomes[first..first + n];
        let mut level = None;
        for (l, lvl) in card.levels.iter().enumerate() {
            if lvl.checks.iter().all(|&c| done[c].passed) {
                level = Some(l);
            } else {
                break;
            }
        }
        entities.push(EntityScore {
            index,
            score: score(passed_weight, card.total_weight),
            level,
        });
    }
    ScorecardResults {
        scorecard: card.clone(),
        evaluated_at: facts.now,
        generation: snapshot.generation,
        entities,
        outcomes,
    }
}

/// `floor(100 × passed / total)`, clamped to 0..=100; the small allowance keeps a sum of
/// fractional weights that is exactly the total from landing at 99.
fn score(passed: f64, total: f64) -> u8 {
    if total <= 0.0 {
        return 0;
    }
    let s = (100.0 * passed / total + 1e-9).floor();
    s.clamp(0.0, 100.0) as u8
}

/// One entity being evaluated.
struct Ctx<'a> {
    snapshot: &'a Snapshot,
    facts: &'a Facts<'a>,
    index: u32,
    /// The entity's ref key (`component:default/x`), when the scorecard needs it.
    key: &'a str,
}

/// `Ok` when `ok`, else the (shared) reason.
fn pass_if(ok: bool, reason: &Arc<str>) -> Result<(), Arc<str>> {
    if ok { Ok(()) } else { Err(reason.clone()) }
}

fn ref_equals(r: &EntityRef, want: &str) -> bool {
    match want.split_once('/') {
        Some((ns, name)) => {
            r.namespace.eq_ignore_ascii_case(ns) && r.name.eq_ignore_ascii_case(name)
        }
        None => r.name.eq_ignore_ascii_case(want),
    }
}

impl Ctx<'_> {
    fn test(&self, rule: &Rule) -> Result<(), Arc<str>> {
        let node = self.snapshot.node(self.index);
        let e = &node.entity;
        let check_value = |v: Option<&str>,
                           test: &super::ValueTest,
                           missing: &Arc<str>,
                           wrong: &Arc<str>| {
            match v {
                None => Err(missing.clone()),
                Some(v) if test.test(v) => Ok(()),
                Some(v) if v.trim().is_empty() => Err(missing.clone()),
                Some(_) => Err(wrong.clone()),
            }
        };
        match rule {
            Rule::Annotation {
                key,
                test,
                missing,
                wrong,
            } => check_value(e.annotation(key), test, missing, wrong),
            Rule::Label {
                key,
                test,
                missing,
                wrong,
            } => check_value(e.label(key), test, missing, wrong),
            Rule::Tag { tag, missing } => {
                pass_if(e.tags().any(|t| t.eq_ignore_ascii_case(tag)), missing)
            }
            Rule::Link {
                title,
                link_type,
                missing,
            } => {
                let fits = |want: &Option<String>, got: Option<&str>| {
                    want.as_deref()
                        .is_none_or(|w| got.is_some_and(|g| g.trim().eq_ignore_ascii_case(w)))
                };
                pass_if(
                    e.links()
                        .any(|l| fits(title, l.title) && fits(link_type, l.link_type)),
                    missing,
                )
            }
            Rule::Field {
                field,
                test,
                missing,
                wrong,
            } => match field.value(self.snapshot, self.index) {
                None => Err(missing.clone()),
                Some(FieldValue::Text(v)) => check_value(Some(v), test, missing, wrong),
                Some(FieldValue::Ref(r)) => {
                    let ok = match test {
                        super::ValueTest::Exists => true,
                        super::ValueTest::Equals(want) => ref_equals(r, want),
                        super::ValueTest::Matches(re) => re.is_match(&r.name),
                    };
                    pass_if(ok, wrong)
                }
            },
            Rule::Relation { kind, missing } => self.relation(*kind, missing),
            Rule::OnCall => match self.facts.oncall.route(self.snapshot, self.index) {
                Ok(_) => Ok(()),
                Err(e) => Err(Arc::from(format!("on-call not resolvable: {}", e.detail()))),
            },
            Rule::DeployedWithin {
                days,
                environment,
                never,
            } => match self.facts.deploys.last(self.key, environment.as_deref()) {
                None => Err(never.clone()),
                Some(at) => {
                    let age = self.facts.now.signed_duration_since(at);
                    if age <= chrono::Duration::days(i64::from(*days)) {
                        Ok(())
                    } else {
                        let to = environment
                            .as_deref()
                            .map(|e| format!(" to {e}"))
                            .unwrap_or_default();
                        Err(Arc::from(format!(
                            "last successful deploy{to} was {} days ago ({}), more than {days}",
                            age.num_days(),
                            at.format("%Y-%m-%d")
                        )))
                    }
                }
            },
            Rule::AllOf(parts) => parts.iter().try_for_each(|p| self.test(p)),
            Rule::AnyOf { parts, none } => {
                pass_if(parts.iter().any(|p| self.test(p).is_ok()), none)
            }
        }
    }

    fn relation(&self, kind: RelationKind, missing: &Arc<str>) -> Result<(), Arc<str>> {
        let (relation, target_kind) = kind.relation();
        let mut any = false;
        for t in self.snapshot.related(self.index, relation) {
            // `partOf` also holds domains and parent components: only the wanted kind counts.
            if matches!(kind, RelationKind::System | RelationKind::Domain)
                && target_of_kind(self.snapshot, t, target_kind.unwrap_or("")).is_none()
            {
                continue;
            }
            any = true;
            match t {
                Target::Unresolved(r) => {
                    return Err(Arc::from(format!(
                        "`{}` names {}, which is not in the catalog",
                        kind.spec_field(),
                        r.short()
                    )));
                }
                Target::Resolved(i) => {
                    let r = &self.snapshot.node(*i).entity.entity_ref;
                    if let Some(k) = target_kind
                        && !r.kind.eq_ignore_ascii_case(k)
                    {
                        return Err(Arc::from(format!(
                            "`{}` names {}, which is a {}, not a {k}",
                            kind.spec_field(),
                            r.short(),
                            r.kind
                        )));
                    }
                }
            }
        }
        pass_if(any, missing)
    }
}
