//! A run status message's [Cancel]: cancel a queued run. The person who asked for the run may
//! cancel it; anyone else needs `template.run` on the run's target (for the demo policy: the
//! owning team's members and the admins).

use super::{Context, Handled, Outcome};
use crate::authz::{self, Action, Caller, Origin};
use crate::catalog::EntityRef;

/// Answers a cancel click on run `run_id`.
pub async fn handle(ctx: &Context<'_>, caller: &Caller, run_id: &str) -> Handled {
    let mut handled = Handled::plain(Outcome::Help(None), Action::TemplateRun);
    let (runs, run) = match super::clicked_run(ctx, run_id, "run").await {
        Ok(found) => found,
        Err(outcome) => {
            handled.outcome = outcome;
            return handled;
        }
    };
    handled.target = run
        .target
        .as_deref()
        .and_then(|t| EntityRef::parse(t, Some("group"), "default").ok());
    let slack_user = match &caller.origin {
        Origin::Slack { user_id, .. } => Some(user_id.as_str()),
        _ => None,
    };
    let own = (slack_user.is_some() && run.requester.slack_user_id.as_deref() == slack_user)
        || (caller.user.is_some()
            && caller.user.as_ref().map(EntityRef::key) == run.requester.user);
    if !own {
        let target = handled.target.as_ref().and_then(|t| ctx.snapshot.get(t));
        let decision = authz::decide_on(
            ctx.policy,
            ctx.snapshot,
            caller,
            Action::TemplateRun,
            target,
            ctx.now,
        );
        handled.decision = Some(decision.clone());
        if !decision.allowed() {
            handled.outcome = Outcome::Denied(decision);
            return handled;
        }
    }
    let by = caller.user.as_ref().map_or_else(
        || slack_user.unwrap_or("a guest").to_owned(),
        |u| u.name.clone(),
    );
    handled.outcome = match runs.cancel(run_id, &by).await {
        Ok((run, cancelled)) => {
            if cancelled {
                runs.wake();
            }
            Outcome::Cancelled {
                run: Box::new(run),
                cancelled,
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "could not cancel a run");
            Outcome::Failed("the run could not be cancelled".to_owned())
        }
    };
    handled
}
