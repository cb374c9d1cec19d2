//! `/idp scorecard` answers and the scheduled digest message, from
//! [`crate::scorecards::report`]. Catalog and scorecard text is escaped; every list is cut to a
//! top N with "…and N more" and the command that shows everything, so a reply stays within Block
//! Kit's limits (50 blocks, 3,000 characters a section) whatever the group's size.
//!
//! A failing check's fix shows its text and its link; when the fix is a golden-path template, a
//! [Fix] button ([`FIX_TEMPLATE_ACTION`], value: the template's ref key) opens the `new-service`
//! modal for it.

use chrono::{DateTime, Utc};
use slack_morphism::prelude::*;

use super::base::{Blocks, MAX_SECTION, Reply, code, join_lines, truncate};
use super::mrkdwn::{escape, link};
use crate::catalog::{DEFAULT_NAMESPACE, EntityRef};
use crate::handlers::scorecard::ScorecardOutcome;
use crate::scorecards::FixLink;
use crate::scorecards::report::{
    CardInfo, Change, CheckLine, Digest, FixHint, GroupReport, ReportError, ServiceLine,
    ServiceReport,
};

/// `action_id` of a [Fix] button; its `value` is the fixing template's ref key.
pub const FIX_TEMPLATE_ACTION: &str = "scorecard_fix_template";
/// Failing checks of a service shown one section each (each may carry a [Fix] button).
const FAILING_SHOWN: usize = 15;
/// Lines of a list section before "…and N more".
const LIST_LINES: usize = 20;
/// Services of a digest shown with their failing checks.
const LOWEST_SHOWN: usize = 5;
/// Failing checks listed under each of those services.
const CHECKS_PER_SERVICE: usize = 4;
/// Regressions listed in a digest.
const REGRESSIONS_SHOWN: usize = 15;
/// Improvements listed in a digest.
const IMPROVEMENTS_SHOWN: usize = 10;

/// The name as people type it: `checkout-api`, or `namespace/name` outside `default`.
fn typed(r: &EntityRef) -> String {
    if r.namespace.eq_ignore_ascii_case(DEFAULT_NAMESPACE) {
        r.name.clone()
    } else {
        format!("{}/{}", r.namespace, r.name)
    }
}

fn day(at: DateTime<Utc>) -> String {
    at.format("%a %Y-%m-%d %H:%M UTC").to_string()
}

/// A fix as mrkdwn: its text, then its page or the golden path to run.
pub fn fix_text(fix: &FixHint) -> String {
    let mut out = escape(&truncate(&fix.text, 500));
    match &fix.link {
        Some(FixLink::Url(url)) => {
            out.push(' ');
            out.push_str(&link(url, "How to fix"));
        }
        Some(FixLink::Template(t)) => {
            out.push_str(" Golden path: ");
            out.push_str(&code(&format!("/idp new-service {}", typed(t))));
        }
        None => {}
    }
    out
}

fn fix_button(fix: Option<&FixHint>) -> Option<SlackSectionBlockElement> {
    match fix.and_then(|f| f.link.as_ref()) {
        Some(FixLink::Template(t)) => Some(
            SlackBlockButtonElement::new(SlackBlockPlainTextOnly::from("Fix"))
                .with_action_id(FIX_TEMPLATE_ACTION.into())
                .with_value(t.key())
                .into(),
        ),
        _ => None,
    }
}

/// A section (text cut to the limit) with an optional accessory.
fn section_with(b: &mut Blocks, text: String, accessory: Option<SlackSectionBlockElement>) {
    let text = if text.chars().count() > MAX_SECTION {
        let lines: Vec<String> = text
            .lines()
            .map(|l| truncate(l, MAX_SECTION - 40))
            .collect();
        join_lines(&lines, MAX_SECTION, usize::MAX)
    } else {
        text
    };
    let block = SlackSectionBlock::new().with_text(md!(text));
    b.push(match accessory {
        Some(a) => block.with_accessory(a).into(),
        None => block.into(),
    });
}

fn standing(score: u8, level: Option<&str>) -> String {
    match level {
        Some(l) => format!("*{score}*/100 · {}", escape(l)),
        None => format!("*{score}*/100 · no level yet"),
    }
}

fn others_note(card: &CardInfo, name: &str) -> Option<String> {
    let first = card.others.first()?;
    let ids: Vec<String> = card.others.iter().map(|o| code(o)).collect();
    Some(format!(
        "Also scored on {}: {}",
        ids.join(", "),
        code(&format!("/idp scorecard {name} {first}"))
    ))
}

fn failing_check(c: &CheckLine) -> String {
    let mut text = format!(":x: *{}*", escape(&truncate(&c.title, 200)));
    if let Some(r) = &c.reason {
        text.push_str(&format!(": {}", escape(&truncate(r, 300))));
    }
    if let Some(f) = &c.fix {
        text.push_str(&format!("\n{}", fix_text(f)));
    }
    text
}

fn render_service(r: &ServiceReport) -> Reply {
    let mut b = Blocks::default();
    let name = typed(&r.entity);
    b.header(&format!("{} · {}", r.name, r.card.title));
    let mut head = format!("Score {}", standing(r.score, r.level.as_deref()));
    match &r.next_level {
        Some(next) if !next.needs.is_empty() => {
            let needs: Vec<String> = next.needs.iter().map(|t| escape(t)).collect();
            head.push_str(&format!(
                "\n*Next level, {}:* needs {}",
                escape(&next.name),
                needs.join(", ")
            ));
        }
        Some(next) => head.push_str(&format!("\n*Next level:* {}", escape(&next.name))),
        None => {}
    }
    b.section(head);
    let failing: Vec<&CheckLine> = r.checks.iter().filter(|c| !c.passed).collect();
    if failing.is_empty() {
        b.section(":tada: Every check passes.".to_owned());
    } else {
        b.section(format!("*To fix* ({})", failing.len()));
        for c in failing.iter().take(FAILING_SHOWN) {
            section_with(&mut b, failing_check(c), fix_button(c.fix.as_ref()));
        }
        if failing.len() > FAILING_SHOWN {
            b.context(vec![format!(
                "…and {} more failing checks",
                failing.len() - FAILING_SHOWN
            )]);
        }
    }
    let passing: Vec<String> = r
        .checks
        .iter()
        .filter(|c| c.passed)
        .map(|c| format!(":white_check_mark: {}", escape(&truncate(&c.title, 200))))
        .collect();
    if !passing.is_empty() {
        b.section(format!(
            "*Passing* ({})\n{}",
            passing.len(),
            join_lines(&passing, MAX_SECTION - 40, LIST_LINES)
        ));
    }
    let mut notes = vec![format!("Evaluated {}", day(r.evaluated_at))];
    notes.extend(others_note(&r.card, &name));
    b.context(notes);
    let failing_text = match failing.len() {
        0 => "every check passes".to_owned(),
        1 => "1 check failing".to_owned(),
        n => format!("{n} checks failing"),
    };
    b.finish(&format!(
        "{}: {}/100 on {}, {failing_text}",
        r.name, r.score, r.card.title
    ))
}

fn service_line(s: &ServiceLine) -> String {
    let failing = match s.failing.len() {
        0 => "all checks pass".to_owned(),
        1 => "1 failing check".to_owned(),
        n => format!("{n} failing checks"),
    };
    format!(
        "• {} {} · {failing}",
        code(&typed(&s.entity)),
        standing(s.score, s.level.as_deref())
    )
}

fn average_text(average: Option<u8>) -> String {
    average.map_or_else(|| "no scored services".to_owned(), |a| format!("*{a}*/100"))
}

fn common_failures(r: &GroupReport) -> Option<String> {
    if r.common_failures.is_empty() {
        return None;
    }
    let total = r.services.len();
    let lines: Vec<String> = r
        .common_failures
        .iter()
        .map(|f| {
            let mut line = format!(
                "• *{}* fails in {} of {total}",
                escape(&truncate(&f.title, 200)),
                f.count
            );
            if let Some(fix) = &f.fix {
                line.push_str(&format!(" — {}", fix_text(fix)));
            }
            line
        })
        .collect();
    Some(format!(
        "*Failing most often*\n{}",
        join_lines(&lines, MAX_SECTION - 40, 10)
    ))
}

fn render_group(r: &GroupReport) -> Reply {
    let mut b = Blocks::default();
    let name = typed(&r.group);
    b.header(&format!("{} · {}", r.name, r.card.title));
    b.section(format!(
        "Average score {} over {} services",
        average_text(r.average),
        r.services.len()
    ));
    if r.services.is_empty() {
        b.section(format!(
            "The scorecard applies to none of {}'s components.",
            escape(&r.name)
        ));
    } else {
        let lines: Vec<String> = r.services.iter().map(service_line).collect();
        b.section(format!(
            "*Services, lowest score first*\n{}",
            join_lines(&lines, MAX_SECTION - 40, LIST_LINES)
        ));
    }
    if let Some(text) = common_failures(r) {
        b.section(text);
    }
    let mut notes = vec![
        format!(
            "{} shows what one service needs",
            code("/idp scorecard <service>")
        ),
        format!("Evaluated {}", day(r.evaluated_at)),
    ];
    notes.extend(others_note(&r.card, &name));
    b.context(notes);
    b.finish(&format!(
        "{}: average {} on {}",
        r.name,
        r.average
            .map_or_else(|| "none".to_owned(), |a| format!("{a}/100")),
        r.card.title
    ))
}

fn problem(entity: &str, error: &ReportError) -> Reply {
    let mut b = Blocks::default();
    let text = match error {
        ReportError::UnknownScorecard { given, known } => format!(
            "There is no scorecard {}. The scorecards are {}.",
            code(given),
            known.iter().map(|k| code(k)).collect::<Vec<_>>().join(", ")
        ),
        ReportError::NotScored(_) => format!(
            "No scorecard applies to {}: scorecards choose what they score with `applies_to` (kind, type, lifecycle…).",
            code(entity)
        ),
        ReportError::NotEvaluated(_) => format!(
            "{} is new in the catalog and was not scored yet; try again in a minute.",
            code(entity)
        ),
    };
    b.section(text);
    b.finish(&error.to_string())
}

/// Renders a `scorecard` outcome.
pub fn render(outcome: &ScorecardOutcome) -> Reply {
    match outcome {
        ScorecardOutcome::Service(r) => render_service(r),
        ScorecardOutcome::Group(r) => render_group(r),
        ScorecardOutcome::NotConfigured => {
            let mut b = Blocks::default();
            b.section(
                "No scorecards are configured here: name a scorecards file under `[scorecards] file` in idp.toml.".to_owned(),
            );
            b.finish("No scorecards configured")
        }
        ScorecardOutcome::Problem { entity, error } => problem(entity, error),
    }
}

fn change_line(c: &Change, failing: bool) -> String {
    let mut line = format!(
        "• {} {} *{}* since {}",
        code(&typed(&c.entity)),
        if failing {
            "started failing"
        } else {
            "now passes"
        },
        escape(&truncate(&c.check, 200)),
        day(c.since)
    );
    if let Some(r) = &c.reason {
        line.push_str(&format!(": {}", escape(&truncate(r, 200))));
    }
    if let Some(f) = &c.fix {
        line.push_str(&format!("\n   {}", fix_text(f)));
    }
    line
}

fn trend(now: Option<u8>, then: Option<u8>) -> String {
    match (now, then) {
        (Some(n), Some(t)) if n > t => format!(" (:arrow_up: +{} since then)", n - t),
        (Some(n), Some(t)) if n < t => format!(" (:arrow_down: −{} since then)", t - n),
        (Some(_), Some(_)) => " (unchanged)".to_owned(),
        _ => String::new(),
    }
}

/// The digest message: the group and its average (with the change since `since`), regressions
/// first, then the lowest-scoring services with what to fix, then improvements. At most about
/// 20 blocks whatever the group's size.
pub fn render_digest(d: &Digest) -> Reply {
    let r = &d.report;
    let name = typed(&r.group);
    let mut b = Blocks::default();
    b.header(&format!("{} · {} digest", r.name, r.card.title));
    let since = if d.since_previous {
        format!("since the last digest ({})", day(d.since))
    } else {
        format!("since {}", day(d.since))
    };
    b.section(format!(
        "Average score {}{} over {} services. Changes {since}.",
        average_text(r.average),
        trend(r.average, d.average_then),
        r.services.len()
    ));
    let see_all = code(&format!("/idp scorecard {name}"));
    if !d.regressions.is_empty() {
        let lines: Vec<String> = d.regressions.iter().map(|c| change_line(c, true)).collect();
        b.section(format!(
            ":small_red_triangle_down: *Got worse* ({})\n{}",
            d.regressions.len(),
            join_lines(&lines, MAX_SECTION - 60, REGRESSIONS_SHOWN)
        ));
    } else {
        b.section(":ok_hand: Nothing got worse.".to_owned());
    }
    let to_fix: Vec<&ServiceLine> = r
        .services
        .iter()
        .filter(|s| !s.failing.is_empty())
        .collect();
    if !to_fix.is_empty() {
        b.section("*Fix next: the lowest scores*".to_owned());
        for s in to_fix.iter().take(LOWEST_SHOWN) {
            let lines: Vec<String> = s
                .failing
                .iter()
                .map(|c| {
                    let mut line = format!("• {}", escape(&truncate(&c.title, 200)));
                    if let Some(f) = &c.fix {
                        line.push_str(&format!(" — {}", fix_text(f)));
                    }
                    line
                })
                .collect();
            let text = format!(
                "{} {}\n{}",
                code(&typed(&s.entity)),
                standing(s.score, s.level.as_deref()),
                join_lines(&lines, MAX_SECTION - 200, CHECKS_PER_SERVICE)
            );
            let button = fix_button(s.failing.iter().find_map(|c| {
                matches!(
                    c.fix.as_ref().and_then(|f| f.link.as_ref()),
                    Some(FixLink::Template(_))
                )
                .then_some(c.fix.as_ref())
                .flatten()
            }));
            section_with(&mut b, text, button);
        }
        if to_fix.len() > LOWEST_SHOWN {
            b.context(vec![format!(
                "…and {} more services with failing checks: {see_all} shows them all",
                to_fix.len() - LOWEST_SHOWN
            )]);
        }
    }
    if !d.improvements.is_empty() {
        let lines: Vec<String> = d
            .improvements
            .iter()
            .map(|c| change_line(c, false))
            .collect();
        b.section(format!(
            ":chart_with_upwards_trend: *Got better* ({})\n{}",
            d.improvements.len(),
            join_lines(&lines, MAX_SECTION - 60, IMPROVEMENTS_SHOWN)
        ));
    }
    b.context(vec![format!(
        "{see_all} shows every service · {} what one needs",
        code("/idp scorecard <service>")
    )]);
    b.finish(&format!(
        "{} digest: average {}, {} got worse, {} got better",
        r.name,
        r.average
            .map_or_else(|| "none".to_owned(), |a| format!("{a}/100")),
        d.regressions.len(),
        d.improvements.len()
    ))
}
