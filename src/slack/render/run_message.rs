//! The status message of a run (<https://docs.slack.dev/reference/block-kit/blocks>): posted once
//! in the channel the request came from, then updated in place with `chat.update` as the run
//! moves. It shows the template, who asked, every step with its link, a link to the CI run, and a
//! Cancel button while the run is still queued.

use slack_morphism::prelude::*;

use super::base::{Blocks, Reply, code};
use super::mrkdwn::{escape, is_safe_url, link};
use crate::actions::{Run, RunKind, RunStatus};

/// `action_id` of the Cancel button; its `value` is the run id.
pub const CANCEL_ACTION: &str = "run_cancel";
/// `action_id` of the Approve button of a run waiting for approval; its `value` is the run id.
pub const APPROVE_ACTION: &str = "run_approve";
/// `action_id` of the Deny button of a run waiting for approval; its `value` is the run id.
pub const DENY_ACTION: &str = "run_deny";

/// Steps shown (the latest ones).
const SHOWN_STEPS: usize = 12;

fn status_line(run: &Run) -> &'static str {
    let rollback = run.kind == RunKind::Rollback;
    match run.status {
        RunStatus::AwaitingApproval => ":raised_hand: Waiting for approval",
        RunStatus::Queued => ":hourglass_flowing_sand: Queued",
        RunStatus::Dispatched if rollback => ":outbox_tray: Handed over, waiting for it to start",
        RunStatus::Dispatched => ":outbox_tray: Handed over, waiting for CI to start",
        RunStatus::Running => ":gear: Running",
        RunStatus::Succeeded if rollback => ":white_check_mark: Rolled back",
        RunStatus::Succeeded => ":white_check_mark: Created",
        RunStatus::Failed => ":x: Failed",
        RunStatus::Cancelled => ":no_entry_sign: Cancelled",
    }
}

fn input<'r>(run: &'r Run, key: &str) -> &'r str {
    run.inputs
        .get(key)
        .and_then(serde_json::Value::as_str)
        .unwrap_or("?")
}

fn button(
    label: &str,
    action: &str,
    value: &str,
    style: SlackBlockButtonStyle,
) -> SlackActionBlockElement {
    SlackBlockButtonElement::new(SlackBlockPlainTextOnly::from(label))
        .with_action_id(action.into())
        .with_value(value.to_owned())
        .with_style(style)
        .into()
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

/// The status message for a run: a template run's ("New service: …") or a rollback's ("<who> is
/// rolling back … from … to …", with Approve and Deny while it waits for an approval).
pub fn run_status(run: &Run) -> Reply {
    let mut b = Blocks::default();
    let subject = run.subject.as_deref().unwrap_or("a new service");
    let backend = maybe_link(
        run.external_url.as_deref(),
        &crate::actions::run::execution_label(&run.execution),
    );
    let text = match run.kind {
        RunKind::Template => {
            let template = run
                .template
                .as_deref()
                .map(|t| t.rsplit('/').next().unwrap_or(t))
                .unwrap_or("a template");
            b.header(&format!("New service: {subject}"));
            b.fields(vec![
                format!("*Status*\n{}", status_line(run)),
                format!("*Requested by*\n{}", requester(run)),
                format!("*Template*\n{}", code(template)),
                format!("*Runs on*\n{backend}"),
            ]);
            format!("New service {subject}")
        }
        RunKind::Rollback => {
            let env = input(run, "environment");
            b.header(&format!("Rollback of {subject} in {env}"));
            b.section(format!(
                "{} is rolling back {} in {} from {} to {}",
                requester(run),
                code(subject),
                escape(env),
                code(input(run, "from_version")),
                code(input(run, "version"))
            ));
            b.fields(vec![
                format!("*Status*\n{}", status_line(run)),
                format!("*Done by*\n{backend}"),
            ]);
            format!(
                "{} is rolling back {subject} in {env} from {} to {}",
                escape(&run.requested_by),
                input(run, "from_version"),
                input(run, "version")
            )
        }
    };
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
    if matches!(run.status, RunStatus::Failed | RunStatus::Cancelled)
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
    match run.status {
        RunStatus::AwaitingApproval => {
            let who = run
                .inputs
                .get("approvers")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("an approver");
            let until = run
                .inputs
                .get("approval_expires_at")
                .and_then(serde_json::Value::as_i64)
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.format("%H:%M UTC").to_string())
                .unwrap_or_default();
            b.section(format!(
                "Needs approval from {} (not the requester), until {until}.",
                escape(who)
            ));
            b.push(
                SlackActionsBlock::new(vec![
                    button(
                        "Approve",
                        APPROVE_ACTION,
                        &run.id,
                        SlackBlockButtonStyle::Primary,
                    ),
                    button("Deny", DENY_ACTION, &run.id, SlackBlockButtonStyle::Danger),
                ])
                .into(),
            );
        }
        RunStatus::Queued => {
            let confirm = SlackBlockConfirmItem::new(
                pt!("Cancel this run?"),
                md!(format!(
                    "Nothing will be handed over for {}.",
                    code(subject)
                )),
                pt!("Cancel the run"),
                pt!("Keep it"),
            );
            let cancel = SlackBlockButtonElement::new(SlackBlockPlainTextOnly::from("Cancel"))
                .with_action_id(CANCEL_ACTION.into())
                .with_value(run.id.clone())
                .with_style(SlackBlockButtonStyle::Danger)
                .with_confirm(confirm);
            b.push(SlackActionsBlock::new(vec![cancel.into()]).into());
        }
        _ => {}
    }
    b.context(vec![format!("Run {}", code(&run.id))]);
    let text = format!(
        "{text}: {}",
        status_line(run).split_once(' ').map_or("", |(_, s)| s)
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
