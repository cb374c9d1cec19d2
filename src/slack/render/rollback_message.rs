//! What `rollback` shows the person who asked (ephemeral): the plan with [Roll back] and
//! [Cancel], a changed plan, a refusal, or where the run is. The in-channel progress message is
//! [`super::run_message::run_status`].

use slack_morphism::prelude::*;

use super::base::{Blocks, Reply, code};
use super::mrkdwn::escape;
use crate::actions::rollback::{Plan, RollbackOutcome};
use crate::authz::{Approvers, Outcome as Verdict};
use crate::deploys::Deployment;

/// `action_id` of the preview's [Roll back]; its `value` is [`ConfirmValue`] as JSON.
pub const CONFIRM_ACTION: &str = "rollback_confirm";
/// `action_id` of the preview's [Cancel].
pub const DISMISS_ACTION: &str = "rollback_dismiss";

/// What the [Roll back] button carries back: enough to make the same plan again and check its
/// hash. Small (Slack allows 2,000 characters in a button value).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConfirmValue {
    /// The service's ref key.
    pub s: String,
    /// The environment.
    pub e: String,
    /// The target version.
    pub t: String,
    /// The plan's hash.
    pub h: String,
}

fn when(d: &Deployment) -> String {
    d.finished_at
        .or(d.started_at)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "at an unknown time".to_owned())
}

fn plan_text(plan: &Plan) -> String {
    let ran_for = match (
        plan.to.finished_at,
        plan.from.finished_at.or(plan.from.started_at),
    ) {
        (Some(start), Some(end)) if end > start => {
            let hours = (end - start).num_hours();
            if hours >= 48 {
                format!(", ran {} days", hours / 24)
            } else {
                format!(", ran {hours} h")
            }
        }
        _ => String::new(),
    };
    format!(
        "*Roll back {}* in *{}*\nfrom {} (deployed {}{})\nto {} (deployed {}{})\nDone by {}",
        code(&plan.service_name),
        escape(&plan.environment),
        code(&plan.from.version),
        when(&plan.from),
        plan.from
            .deployed_by
            .as_deref()
            .map(|b| format!(" by {}", escape(b)))
            .unwrap_or_default(),
        code(&plan.to.version),
        when(&plan.to),
        ran_for,
        escape(&crate::actions::run::execution_label(&plan.execution)),
    )
}

/// The policy's reason and who must approve, as one sentence: "You're not on call for
/// checkout-api. Only the on-call … on their own, so this rollback needs approval from the owning
/// team's on-call before anything happens."
fn approval_sentence(reason: &str, approvers: &Approvers) -> String {
    let who = match approvers.count {
        0 | 1 => approvers.describe(),
        n => format!("{n} people among {}", approvers.describe()),
    };
    let reason = reason.trim().trim_end_matches('.');
    let needs = format!("this rollback needs approval from {who} before anything happens.");
    if reason.is_empty() {
        let mut c = needs.chars();
        return c
            .next()
            .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect());
    }
    format!("{reason}, so {needs}")
}

fn preview(plan: &Plan, approval: Option<String>, changed: bool) -> Reply {
    let mut b = Blocks::default();
    if changed {
        b.section(
            ":warning: The plan changed since the preview (a newer deploy?). This is the plan now:"
                .to_owned(),
        );
    }
    b.section(plan_text(plan));
    if let Some(sentence) = approval {
        b.context(vec![escape(&sentence)]);
    }
    let value = serde_json::to_string(&ConfirmValue {
        s: plan.service.clone(),
        e: plan.environment.clone(),
        t: plan.to.version.clone(),
        h: plan.hash.clone(),
    })
    .unwrap_or_default();
    b.push(
        SlackActionsBlock::new(vec![
            SlackBlockButtonElement::new(SlackBlockPlainTextOnly::from("Roll back"))
                .with_action_id(CONFIRM_ACTION.into())
                .with_value(value)
                .with_style(SlackBlockButtonStyle::Danger)
                .into(),
            SlackBlockButtonElement::new(SlackBlockPlainTextOnly::from("Cancel"))
                .with_action_id(DISMISS_ACTION.into())
                .with_value(plan.hash.clone())
                .into(),
        ])
        .into(),
    );
    b.context(vec![format!("Plan {}", code(&plan.hash))]);
    b.finish(&format!(
        "Roll back {} in {} from {} to {}?",
        plan.service_name, plan.environment, plan.from.version, plan.to.version
    ))
}

/// The reply for a `rollback` outcome.
pub fn render(outcome: &RollbackOutcome) -> Reply {
    let mut b = Blocks::default();
    match outcome {
        RollbackOutcome::Preview { plan, decision } => {
            let approval = match &decision.outcome {
                Verdict::RequireApproval(a) => Some(approval_sentence(&decision.reason, a)),
                _ => None,
            };
            preview(plan, approval, false)
        }
        RollbackOutcome::PlanChanged(plan) => preview(plan, None, true),
        RollbackOutcome::NotHere(why) | RollbackOutcome::NoPlan(why) => {
            b.section(format!(":no_entry: {}", escape(why)));
            b.finish(why)
        }
        RollbackOutcome::Denied(decision) => {
            b.section(format!(
                ":no_entry: You can't roll this back. {}",
                escape(&decision.reason)
            ));
            b.context(vec![match &decision.rule {
                Some(rule) => format!("Decided by policy rule {}", code(rule)),
                None => "No policy rule allows it (deny by default)".to_owned(),
            }]);
            b.finish(&format!("Denied: {}", decision.reason))
        }
        RollbackOutcome::InProgress(run) => {
            b.section(format!(
                ":lock: A rollback of {} is already under way ({}, run {}); one at a time.",
                code(run.subject.as_deref().unwrap_or("this service")),
                run.status.as_str().replace('_', " "),
                code(&run.id)
            ));
            b.finish("A rollback is already under way")
        }
        RollbackOutcome::Started { run, created } => {
            b.section(if *created {
                format!(
                    ":white_check_mark: Rollback recorded (run {}); follow it in the channel.",
                    code(&run.id)
                )
            } else {
                format!(
                    "This confirmation was already taken: run {}.",
                    code(&run.id)
                )
            });
            b.finish("Rollback recorded")
        }
    }
}
