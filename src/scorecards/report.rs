//! What `/idp scorecard` and the digest show, built from the [`Scorer`]'s latest results: a
//! service's checks ([`ServiceReport`]), a group's ranking ([`GroupReport`]) and a group's digest
//! ([`Digest`]: what changed since a time, from [`ScoreHistory::changes_since`]). Plain owned data, free
//! of Slack types and of snapshot indices, so the edge renders it from any snapshot.
//!
//! The scorecard shown is the one asked for by id, else the default: the first of the file that
//! applies to the entity (for a group: to at least one of its components).

use chrono::{DateTime, Utc};

use super::definition::{FixLink, Scorecard};
use super::evaluate::{EntityResult, ScorecardResults};
use super::history::ScoreHistory;
use super::scorer::Latest;
use crate::catalog::{EntityRef, RelationType, Snapshot, Target};
use crate::store::{EntityChanges, StoreError};

/// How a failing check is fixed, ready to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixHint {
    /// What to do (plain text).
    pub text: String,
    /// A page to read, or a golden-path template to run.
    pub link: Option<FixLink>,
}

/// One check's result for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckLine {
    /// The check id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Whether it passed.
    pub passed: bool,
    /// Why it failed (plain text), when it did and the evaluation said.
    pub reason: Option<String>,
    /// How to fix it (failing checks only, when the scorecard says).
    pub fix: Option<FixHint>,
}

/// The next level up and the titles of the checks still failing for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextLevel {
    /// The level's name.
    pub name: String,
    /// Titles of the checks it still needs, in file order.
    pub needs: Vec<String>,
}

/// The scorecard a report is about, and the others that also apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardInfo {
    /// Its id (`production-readiness`).
    pub id: String,
    /// Its title.
    pub title: String,
    /// Ids of the other scorecards that apply, in file order.
    pub others: Vec<String>,
}

/// `/idp scorecard <service>`: each check, the level and score, the next level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceReport {
    /// The service.
    pub entity: EntityRef,
    /// Its display name.
    pub name: String,
    /// The scorecard shown.
    pub card: CardInfo,
    /// 0 to 100.
    pub score: u8,
    /// The level reached, if any.
    pub level: Option<String>,
    /// The next level, if there is one above.
    pub next_level: Option<NextLevel>,
    /// Failing checks first (heaviest first), then the passing ones in file order.
    pub checks: Vec<CheckLine>,
    /// When the results were computed.
    pub evaluated_at: DateTime<Utc>,
}

/// A group's service in a ranking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceLine {
    /// The service.
    pub entity: EntityRef,
    /// Its display name.
    pub name: String,
    /// 0 to 100.
    pub score: u8,
    /// The level reached, if any.
    pub level: Option<String>,
    /// Its failing checks, heaviest first.
    pub failing: Vec<CheckLine>,
}

/// A check and how many of a group's services fail it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommonFailure {
    /// The check's title.
    pub title: String,
    /// Services failing it.
    pub count: usize,
    /// Its fix, if any.
    pub fix: Option<FixHint>,
}

/// `/idp scorecard <group>`: its services ranked, lowest score first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupReport {
    /// The group.
    pub group: EntityRef,
    /// Its display name.
    pub name: String,
    /// The scorecard shown.
    pub card: CardInfo,
    /// The mean score of its scored services, rounded down; `None` when none is scored.
    pub average: Option<u8>,
    /// Every scored service, lowest score first, then by name.
    pub services: Vec<ServiceLine>,
    /// Checks failing in at least one service, most failures first.
    pub common_failures: Vec<CommonFailure>,
    /// When the results were computed.
    pub evaluated_at: DateTime<Utc>,
}

/// A check that started failing (or passing) for a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The service's display name.
    pub service: String,
    /// The service.
    pub entity: EntityRef,
    /// The check's title (its id when the scorecard no longer has it).
    pub check: String,
    /// When it flipped.
    pub since: DateTime<Utc>,
    /// Why it fails (regressions).
    pub reason: Option<String>,
    /// How to fix it (regressions).
    pub fix: Option<FixHint>,
}

/// A group's digest: its standing, then what got worse, what to fix next, what got better.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// The group's ranking (services lowest first, common failures).
    pub report: GroupReport,
    /// Changes are counted from this time.
    pub since: DateTime<Utc>,
    /// Whether `since` is the previous digest (else a default look-back for a first one).
    pub since_previous: bool,
    /// The group's average score at `since`, over the services whose history goes back that far.
    pub average_then: Option<u8>,
    /// Checks that started failing since then, newest first.
    pub regressions: Vec<Change>,
    /// Checks that started passing since then, newest first.
    pub improvements: Vec<Change>,
    /// When the digest was made.
    pub made_at: DateTime<Utc>,
}

/// Why a report could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// No scorecard has this id.
    #[error("there is no scorecard {given}; known: {}", known.join(", "))]
    UnknownScorecard {
        /// As asked.
        given: String,
        /// Every scorecard id.
        known: Vec<String>,
    },
    /// No scorecard (or not the one asked for) applies to the entity.
    #[error("no scorecard applies to {0}")]
    NotScored(String),
    /// The entity is not in the snapshot the results were computed from (added since).
    #[error("{0} was not evaluated yet")]
    NotEvaluated(String),
}

/// The components a group owns (resolved `ownerOf`), in snapshot order.
pub fn services_of(snapshot: &Snapshot, group: u32) -> Vec<u32> {
    let mut out: Vec<u32> = snapshot
        .related(group, RelationType::OwnerOf)
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
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn fix_of(check: &super::definition::Check) -> Option<FixHint> {
    check.fix.as_ref().map(|f| FixHint {
        text: f.text.clone(),
        link: f.link.clone(),
    })
}

fn line_of(check: &super::definition::Check, outcome: &super::CheckOutcome) -> CheckLine {
    CheckLine {
        id: check.id.clone(),
        title: check.title.clone(),
        passed: outcome.passed,
        reason: outcome.reason.as_deref().map(str::to_owned),
        fix: if outcome.passed { None } else { fix_of(check) },
    }
}

fn failing_of(r: &EntityResult<'_>) -> Vec<CheckLine> {
    r.failing()
        .into_iter()
        .map(|(c, o)| line_of(c, o))
        .collect()
}

/// Picks the scorecard: the one named, else the first whose results include one of `indices`.
fn pick<'a>(
    latest: &'a Latest,
    asked: Option<&str>,
    indices: &[u32],
    what: &str,
) -> Result<(&'a ScorecardResults, CardInfo), ReportError> {
    let applies = |r: &ScorecardResults| indices.iter().any(|&i| r.entity(i).is_some());
    let chosen = match asked {
        Some(id) => {
            let Some(r) = latest
                .results
                .iter()
                .find(|r| r.scorecard.id.eq_ignore_ascii_case(id))
            else {
                return Err(ReportError::UnknownScorecard {
                    given: id.to_owned(),
                    known: latest
                        .results
                        .iter()
                        .map(|r| r.scorecard.id.clone())
                        .collect(),
                });
            };
            if !applies(r) {
                return Err(ReportError::NotScored(what.to_owned()));
            }
            r
        }
        None => latest
            .results
            .iter()
            .find(|r| applies(r))
            .ok_or_else(|| ReportError::NotScored(what.to_owned()))?,
    };
    let card: &Scorecard = &chosen.scorecard;
    let others = latest
        .results
        .iter()
        .filter(|r| r.scorecard.id != card.id && applies(r))
        .map(|r| r.scorecard.id.clone())
        .collect();
    Ok((
        chosen,
        CardInfo {
            id: card.id.clone(),
            title: card.title.clone(),
            others,
        },
    ))
}

fn index_in(latest: &Latest, entity: &EntityRef) -> Result<u32, ReportError> {
    latest
        .snapshot
        .get(entity)
        .ok_or_else(|| ReportError::NotEvaluated(entity.short()))
}

/// The report of one service on the scorecard `asked` (or the default).
///
/// # Errors
/// [`ReportError`].
pub fn service_report(
    latest: &Latest,
    entity: &EntityRef,
    asked: Option<&str>,
) -> Result<ServiceReport, ReportError> {
    let index = index_in(latest, entity)?;
    let (results, card) = pick(latest, asked, &[index], &entity.short())?;
    let r = results
        .entity(index)
        .ok_or_else(|| ReportError::NotScored(entity.short()))?;
    let mut checks = failing_of(&r);
    checks.extend(
        r.checks()
            .filter(|(_, o)| o.passed)
            .map(|(c, o)| line_of(c, o)),
    );
    let e = &latest.snapshot.node(index).entity;
    Ok(ServiceReport {
        entity: e.entity_ref.clone(),
        name: e.display_name().to_owned(),
        card,
        score: r.score,
        level: r.level.map(|l| l.name.clone()),
        next_level: r.next_level().map(|(l, needs)| NextLevel {
            name: l.name.clone(),
            needs: needs.iter().map(|c| c.title.clone()).collect(),
        }),
        checks,
        evaluated_at: latest.evaluated_at,
    })
}

/// The report of a group: its components on the scorecard `asked` (or the default), ranked.
///
/// # Errors
/// [`ReportError`] (`NotScored` when the scorecard applies to none of its components).
pub fn group_report(
    latest: &Latest,
    group: &EntityRef,
    asked: Option<&str>,
) -> Result<GroupReport, ReportError> {
    let index = index_in(latest, group)?;
    let snapshot = &latest.snapshot;
    let members = services_of(snapshot, index);
    let (results, card) = pick(latest, asked, &members, &group.short())?;
    let mut services: Vec<ServiceLine> = Vec::new();
    let mut counts: Vec<usize> = vec![0; results.scorecard.checks.len()];
    for &i in &members {
        let Some(r) = results.entity(i) else { continue };
        for (n, o) in r.outcomes.iter().enumerate() {
            counts[n] += usize::from(!o.passed);
        }
        let e = &snapshot.node(i).entity;
        services.push(ServiceLine {
            entity: e.entity_ref.clone(),
            name: e.display_name().to_owned(),
            score: r.score,
            level: r.level.map(|l| l.name.clone()),
            failing: failing_of(&r),
        });
    }
    services.sort_by(|a, b| a.score.cmp(&b.score).then_with(|| a.name.cmp(&b.name)));
    let average = mean(services.iter().map(|s| s.score));
    let mut common_failures: Vec<CommonFailure> = results
        .scorecard
        .checks
        .iter()
        .zip(&counts)
        .filter(|(_, n)| **n > 0)
        .map(|(c, &count)| CommonFailure {
            title: c.title.clone(),
            count,
            fix: fix_of(c),
        })
        .collect();
    common_failures.sort_by_key(|f| std::cmp::Reverse(f.count));
    let e = &snapshot.node(index).entity;
    Ok(GroupReport {
        group: e.entity_ref.clone(),
        name: e.display_name().to_owned(),
        card,
        average,
        services,
        common_failures,
        evaluated_at: latest.evaluated_at,
    })
}

fn mean(scores: impl Iterator<Item = u8>) -> Option<u8> {
    let (sum, n) = scores.fold((0u64, 0u64), |(s, n), x| (s + u64::from(x), n + 1));
    (n > 0).then(|| u8::try_from(sum / n).unwrap_or(100))
}

/// Assembles a digest from a group report and the stored changes of its services since `since`
/// (pure: [`digest`] reads the history). Regressions and improvements come newest first.
pub fn assemble_digest(
    report: GroupReport,
    changes: &[EntityChanges],
    scorecard: &Scorecard,
    since: DateTime<Utc>,
    since_previous: bool,
    made_at: DateTime<Utc>,
) -> Digest {
    let name_of = |key: &str| {
        report
            .services
            .iter()
            .find(|s| s.entity.key() == key)
            .map(|s| (s.entity.clone(), s.name.clone()))
    };
    let mut regressions = Vec::new();
    let mut improvements = Vec::new();
    for c in changes {
        let Some((entity, service)) = name_of(&c.entity) else {
            continue;
        };
        let check_of = |id: &str| scorecard.check_index(id).map(|i| &scorecard.checks[i]);
        for (list, into, failing) in [
            (&c.regressions, &mut regressions, true),
            (&c.improvements, &mut improvements, false),
        ] {
            for ch in list {
                let check = check_of(&ch.check_id);
                into.push(Change {
                    service: service.clone(),
                    entity: entity.clone(),
                    check: check.map_or_else(|| ch.check_id.clone(), |k| k.title.clone()),
                    since: ch.since,
                    reason: ch.reason.clone(),
                    fix: if failing {
                        check.and_then(fix_of)
                    } else {
                        None
                    },
                });
            }
        }
    }
    for list in [&mut regressions, &mut improvements] {
        list.sort_by(|a, b| {
            b.since
                .cmp(&a.since)
                .then_with(|| a.service.cmp(&b.service))
                .then_with(|| a.check.cmp(&b.check))
        });
    }
    let average_then = mean(
        changes
            .iter()
            .filter_map(|c| c.then.as_ref().map(|t| t.score)),
    );
    Digest {
        report,
        since,
        since_previous,
        average_then,
        regressions,
        improvements,
        made_at,
    }
}

/// A group none of whose services is scored, on the file's first scorecard.
fn empty_report(latest: &Latest, group: &EntityRef) -> Result<GroupReport, ReportError> {
    let index = index_in(latest, group)?;
    let Some(first) = latest.results.first() else {
        return Err(ReportError::NotScored(group.short()));
    };
    let e = &latest.snapshot.node(index).entity;
    Ok(GroupReport {
        group: e.entity_ref.clone(),
        name: e.display_name().to_owned(),
        card: CardInfo {
            id: first.scorecard.id.clone(),
            title: first.scorecard.title.clone(),
            others: Vec::new(),
        },
        average: None,
        services: Vec::new(),
        common_failures: Vec::new(),
        evaluated_at: latest.evaluated_at,
    })
}

/// How far back a first digest (no previous one) looks for changes.
pub const FIRST_DIGEST_LOOKBACK_DAYS: i64 = 7;

/// Why a digest could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    /// The group or scorecard problem.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// Reading the score history failed.
    #[error(transparent)]
    History(#[from] StoreError),
}

/// The digest of `group` on its default scorecard at `now`, with changes since `since` (the
/// previous digest) or, for a first digest, the last [`FIRST_DIGEST_LOOKBACK_DAYS`] days.
///
/// # Errors
/// [`DigestError`]: the group is not in the results' snapshot (`Report(NotEvaluated)`), no
/// scorecard applies to its services (`Report(NotScored)`), or reading `history` failed
/// (`History`).
pub async fn digest(
    latest: &Latest,
    history: &dyn ScoreHistory,
    group: &EntityRef,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Digest, DigestError> {
    let report = match group_report(latest, group, None) {
        Err(ReportError::NotScored(_)) => empty_report(latest, group)?,
        other => other?,
    };
    let Some(card) = latest
        .scorecard(&report.card.id)
        .map(|r| r.scorecard.clone())
    else {
        return Err(ReportError::NotScored(group.short()).into());
    };
    let start = since.unwrap_or(now - chrono::Duration::days(FIRST_DIGEST_LOOKBACK_DAYS));
    let keys: Vec<String> = report.services.iter().map(|s| s.entity.key()).collect();
    let changes = history.changes_since(&card.id, &keys, start).await?;
    Ok(assemble_digest(
        report,
        &changes,
        &card,
        start,
        since.is_some(),
        now,
    ))
}

/// A made-up digest of a group of `services` services, for benches and rendering tests: each
/// service fails up to 9 of 10 checks (fixes alternate between a page and a golden-path
/// template), half the services regressed and a third improved at `at`, and titles carry mrkdwn
/// and HTML-like characters to exercise escaping. Not used by the application.
pub fn synthetic_digest(services: usize, at: DateTime<Utc>) -> Digest {
    let template = || FixHint {
        text: "Run the golden path <that> & sets it up. ".repeat(3),
        link: Some(FixLink::Template(EntityRef::new(
            "template",
            "default",
            "backend-service",
        ))),
    };
    let check = |i: usize| CheckLine {
        id: format!("check-{i}"),
        title: format!("Check number {i} with a rather long title *bold* <b>"),
        passed: false,
        reason: Some("the annotation `x` is missing".to_owned()),
        fix: Some(if i.is_multiple_of(2) {
            template()
        } else {
            FixHint {
                text: "Read the page".to_owned(),
                link: Some(FixLink::Url(format!("https://docs.example.com/fix/{i}"))),
            }
        }),
    };
    let entity = |i: usize| EntityRef::new("component", "default", format!("service-{i:04}"));
    let lines: Vec<ServiceLine> = (0..services)
        .map(|i| ServiceLine {
            entity: entity(i),
            name: format!("Service {i}"),
            score: u8::try_from(i % 101).unwrap_or(100),
            level: (i % 3 == 0).then(|| "bronze".to_owned()),
            failing: (0..(i % 10)).map(check).collect(),
        })
        .collect();
    let change = |i: usize| Change {
        service: format!("Service {i}"),
        entity: entity(i),
        check: format!("Check number {}", i % 10),
        since: at,
        reason: Some("no `prometheus.io/alert` annotation".to_owned()),
        fix: Some(template()),
    };
    Digest {
        report: GroupReport {
            group: EntityRef::new("group", "default", "big-team"),
            name: "Big Team".to_owned(),
            card: CardInfo {
                id: "production-readiness".to_owned(),
                title: "Production readiness".to_owned(),
                others: Vec::new(),
            },
            average: mean(lines.iter().map(|s| s.score)),
            services: lines,
            common_failures: (0..10)
                .map(|i| CommonFailure {
                    title: format!("Check number {i}"),
                    count: services / (i + 1),
                    fix: Some(template()),
                })
                .collect(),
            evaluated_at: at,
        },
        since: at - chrono::Duration::days(7),
        since_previous: true,
        average_then: Some(55),
        regressions: (0..services / 2).map(change).collect(),
        improvements: (0..services / 3).map(change).collect(),
        made_at: at,
    }
}
