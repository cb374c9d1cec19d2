//! The App Home tab (<https://docs.slack.dev/surfaces/app-home>): published with `views.publish`
//! when a person opens it (`app_home_opened`). It shows their teams, each team's services with
//! scorecard level and score and who is on call, their open runs, and buttons for `new-service`
//! and each team's scorecard. At most [`MAX_HOME_BLOCKS`] blocks whatever the person's teams
//! (Slack allows 100 on a Home tab): each team is two blocks, its services lines of one section.

use slack_morphism::prelude::*;

use super::base::{Blocks, code, join_lines};
use super::mrkdwn::escape;
use crate::actions::Run;
use crate::handlers::home::{Home, HomeGroup, HomeService};

/// `action_id` of the home's [New service] button (opens the golden-path modal).
pub const NEW_SERVICE_ACTION: &str = "home_new_service";
/// `action_id` of a team's [Scorecard] button; its `value` is the team's ref key.
pub const SCORECARD_ACTION: &str = "home_scorecard";
/// The most blocks a home uses (Slack's limit is 100; [`Blocks`] stops at 50).
pub const MAX_HOME_BLOCKS: usize = 50;
/// Services listed per team before "…and N more".
const SERVICES_PER_GROUP: usize = 15;

fn button(label: &str, action: &str, value: &str) -> SlackBlockButtonElement {
    SlackBlockButtonElement::new(SlackBlockPlainTextOnly::from(label))
        .with_action_id(action.into())
        .with_value(value.to_owned())
}

fn service_line(s: &HomeService) -> String {
    let standing = match &s.score {
        Some(score) => format!(
            "{} · {}",
            score
                .level
                .as_deref()
                .map_or_else(|| "no level".to_owned(), escape),
            score.score
        ),
        None => "not scored".to_owned(),
    };
    let lifecycle = s
        .lifecycle
        .as_deref()
        .map(|l| format!(" · {}", escape(l)))
        .unwrap_or_default();
    format!("• {} — {standing}{lifecycle}", code(&s.entity_ref.name))
}

fn group_blocks(b: &mut Blocks, g: &HomeGroup) {
    b.push(SlackDividerBlock::new().into());
    let title = format!("*{}*  ·  on call: {}", escape(&g.name), escape(&g.on_call));
    b.push(
        SlackSectionBlock::new()
            .with_text(md!(title))
            .with_accessory(button("Scorecard", SCORECARD_ACTION, &g.entity_ref.key()).into())
            .into(),
    );
    let lines: Vec<String> = g.services.iter().map(service_line).collect();
    let text = if lines.is_empty() {
        "_owns no components in the catalog_".to_owned()
    } else {
        let mut text = join_lines(&lines, 2800, SERVICES_PER_GROUP);
        if lines.len() > SERVICES_PER_GROUP {
            text.push_str(&format!(
                "\nAll of them: `/idp team {}`",
                escape(&g.entity_ref.name)
            ));
        }
        text
    };
    b.section(text);
}

fn run_line(run: &Run) -> String {
    let what = match run.kind {
        crate::actions::RunKind::Rollback => format!(
            "Rollback of {} in {}",
            code(run.subject.as_deref().unwrap_or("?")),
            escape(
                run.inputs
                    .get("environment")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("?")
            )
        ),
        crate::actions::RunKind::Template => format!(
            "New service {}",
            code(run.subject.as_deref().unwrap_or("?"))
        ),
    };
    format!(
        "• {what} — {} (run {})",
        run.status.as_str().replace('_', " "),
        code(&run.id)
    )
}

/// The Home tab's blocks for `home`.
pub fn home_blocks(home: &Home) -> Vec<SlackBlock> {
    let mut b = Blocks::default();
    match home {
        Home::Guest(why) => {
            b.header("idp");
            b.section(format!(
                "idp does not know who you are yet: {}.\nAsk a platform engineer to map your Slack account to a catalog user (`[identity.users]` in idp.toml).",
                escape(why)
            ));
        }
        Home::Denied(decision) => {
            b.header("idp");
            b.section(format!(
                "You may not read the catalog: {}",
                escape(&decision.reason)
            ));
        }
        Home::Member {
            name,
            groups,
            more_groups,
            runs,
            more_runs,
        } => {
            b.header(&format!("Hello, {name}"));
            b.push(
                SlackActionsBlock::new(vec![
                    button("New service", NEW_SERVICE_ACTION, "new-service")
                        .with_style(SlackBlockButtonStyle::Primary)
                        .into(),
                ])
                .into(),
            );
            if groups.is_empty() {
                b.section(
                    "You are not in any team in the catalog. `/idp whoami` shows what idp knows about you; `/idp search <words>` finds services.".to_owned(),
                );
            }
            for g in groups {
                group_blocks(&mut b, g);
            }
            if *more_groups > 0 {
                b.context(vec![format!(
                    "…and {more_groups} more teams: `/idp whoami` lists them all"
                )]);
            }
            b.push(SlackDividerBlock::new().into());
            if runs.is_empty() {
                b.context(vec!["No runs of yours are open.".to_owned()]);
            } else {
                let mut text = format!("*Your open runs*\n{}", {
                    let lines: Vec<String> = runs.iter().map(run_line).collect();
                    lines.join("\n")
                });
                if *more_runs > 0 {
                    text.push_str(&format!("\n…and {more_runs} more"));
                }
                b.section(text);
            }
        }
    }
    b.finish("idp").blocks
}

/// The Home tab view for `home`.
pub fn home_view(home: &Home) -> SlackView {
    SlackView::Home(SlackHomeView::new(home_blocks(home)))
}
