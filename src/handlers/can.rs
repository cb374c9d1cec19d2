//! `can <action> <target> [environment]`: explains what the policy would decide, without acting.
//! Authorized as `policy.explain` on the target; the explained decision is recorded with it.

use super::{Context, Explanation, Handled, Outcome, TARGET_KINDS, on_call_status, permit};
use crate::authz::{self, AccessRequest, Action, Caller, OnCallStatus, TargetFacts};
use crate::catalog::NameQuery;

/// Answers `can`: rollbacks are considered in `production` unless an environment is named, and
/// on-call status is looked up for the actions that depend on it.
pub async fn handle(
    ctx: &Context<'_>,
    caller: &Caller,
    asked: Action,
    query: &NameQuery,
    environment: Option<&str>,
) -> Handled {
    let (target, mut handled) =
        match permit(ctx, caller, "can", query, TARGET_KINDS, "service or group") {
            Ok(permitted) => permitted,
            Err(refused) => return *refused,
        };
    let environment = environment
        .map(str::to_owned)
        .or_else(|| (asked == Action::Rollback).then(|| "production".to_owned()));
    let environment = match environment {
        Some(e) => Some(super::environment_named(ctx, target, &e).await),
        None => None,
    };
    handled.environment.clone_from(&environment);
    let on_call = if matches!(asked, Action::Rollback | Action::Approve) {
        on_call_status(ctx, caller, target).await
    } else {
        OnCallStatus::NotAsked
    };
    let groups = authz::groups_of(ctx.snapshot, caller.user.as_ref());
    let facts = TargetFacts::of(ctx.snapshot, target);
    let decision = authz::decide(
        ctx.policy,
        &AccessRequest {
            action: asked,
            caller,
            groups: &groups,
            target: Some(&facts),
            environment: environment.as_deref(),
            on_call: on_call.clone(),
            requester: None,
            now: ctx.now,
        },
    );
    handled.outcome = Outcome::Explain(Explanation {
        action: asked,
        target,
        environment,
        on_call,
        decision,
    });
    handled
}
