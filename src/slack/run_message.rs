//! The status message of a run (<https://docs.slack.dev/reference/block-kit/blocks>): posted once
//! in the channel the request came from, then updated in place with `chat.update` as the run
//! moves. It shows the template, who asked, every step with its link, a link to the CI run, and a
//! Cancel button while the run is still queued.

use slack_morphism::prelude::*;

use super::mrkdwn::{escape, is_safe_url, link};
use super::render::{Blocks, Reply, code};
use crate::actions::{Run, RunStatus};

/// `action_id` of the Cancel button; its `value` is the run id.
pub const CANCEL_ACTION: &str = "run_cancel";

/// Steps shown (the latest ones).
const SHOWN_STEPS: usize = 12;

fn status_line(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Queued => ":hourglass_flowing_sand: Queued",
        RunStatus::Dispatched => ":outbox_tray: Handed over, waiting for CI to start",
        RunStatus::Running => ":gear: Running",
        RunStatus::Succeeded => ":white_check_mark: Created",
        RunStatus::Failed => ":x: Failed",
        RunStatus::Cancelled => ":no_entry_sign: Cancelled",
    }
}

fn maybe_link(url: Option<&str>, label: &str) -> String {
    match url {
        Some(u) if is_safe_url(u) => link(u, label),
        _ => escape(label),
    }
}

/// Who asked, as shown: a Slack mention when the request came from Slack (idp writes the
/// mention itself from a user id), else the catalog name.
fn requester(run: &Run) -> String {
    match &run.requester.slack_user_id {
        Some(id) if id.chars().all(|c| c.is_ascii_alphanumeric()) && !id.is_empty() => {
            format!("<@{id}>")
        }
        _ => escape(&run.requested_by),
    }
}

/// The status message for a run.
pub fn run_status(run: &Run) -> Reply {
    let mut b = Blocks::default();
    let subject = run.subject.as_deref().unwrap_or("a new service");
    let template = run
        .template
        .as_deref()
        .map(|t| t.rsplit('/').next().unwrap_or(t))
        .unwrap_or("a template");
    b.header(&format!("New service: {subject}"));
    b.fields(vec![
        format!("*Status*\n{}", status_line(run.status)),
        format!("*Requested by*\n{}", requester(run)),
        format!("*Template*\n{}", code(template)),
        format!(
            "*Runs on*\n{}",
            maybe_link(
                run.external_url.as_deref(),
                &crate::actions::run::execution_label(&run.execution)
            )
        ),
    ]);
    let steps: Vec<String> = run
        .steps
        .iter()
        .map(|s| {
            let at = chrono::DateTime::from_timestamp_millis(s.at)
                .map(|t| t.format("%H:%M:%S").to_string())
                .unwrap_or_default();
            format!("`{at}` {}", maybe_link(s.url.as_deref(), &s.name))
        })
        .collect();
    if !steps.is_empty() {
        let skip = steps.len().saturating_sub(SHOWN_STEPS);
        b.section(steps[skip..].join("\n"));
    }
    if run.status == RunStatus::Queued
        && let Some(e) = &run.error
    {
        let when = chrono::DateTime::from_timestamp_millis(run.next_attempt_at)
            .map(|t| t.format("%H:%M:%S UTC").to_string())
            .unwrap_or_default();
        b.section(format!(
            ":repeat: Attempt {} did not get through: {}. Next try at {when}.",
            run.attempts,
            escape(e)
        ));
    }
    if run.status == RunStatus::Failed
        && let Some(e) = &run.error
    {
        b.section(format!("*Why:* {}", escape(e)));
    }
    if !run.controls.controls.is_empty() {
        b.context(vec![format!(
            "Required controls: {}",
            run.controls
                .controls
                .iter()
                .map(|c| code(c))
                .collect::<Vec<_>>()
                .join(", ")
        )]);
    }
    if run.status == RunStatus::Queued {
        let confirm = SlackBlockConfirmItem::new(
            pt!("Cancel this run?"),
            md!(format!("{} will not be created.", code(subject))),
            pt!("Cancel the run"),
            pt!("Keep it"),
        );
        b.push(
            SlackActionsBlock::new(vec![
                SlackBlockButtonElement::new(SlackBlockPlainTextOnly::from("Cancel"))
                    .with_action_id(CANCEL_ACTION.into())
                    .with_value(run.id.clone())
                    .with_style(SlackBlockButtonStyle::Danger)
                    .with_confirm(confirm)
                    .into(),
            ])
            .into(),
        );
    }
    b.context(vec![format!("Run {}", code(&run.id))]);
    let text = format!(
        "New service {subject}: {}",
        status_line(run.status)
            .split_once(' ')
            .map_or("", |(_, s)| s)
    );
    b.finish(&text)
}

/// The thread reply that tells a failure.
pub fn failure_reply(run: &Run, text: &str) -> Reply {
    let mut b = Blocks::default();
    let mut line = escape(text);
    if let Some(url) = run.external_url.as_deref().filter(|u| is_safe_url(u)) {
        line.push_str(&format!(" ({})", link(url, "the CI run")));
    }
    b.section(line);
    b.finish(text)
}
