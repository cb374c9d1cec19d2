//! `rollback [service] [environment] [to <version>]` and the clicks that follow it: the preview's
//! [Roll back] (the same command with the plan's hash), its [Cancel], and a second person's
//! [Approve] / [Deny]. Each decides first: the channel and `rollback` on the plan; `approve` on the
//! waiting run, never by the person who asked. The plan, the run and the queue are `actions`'.

use serde_json::Value;

use super::{Context, Handled, OWNED_KINDS, Outcome, on_call_status, resolve};
use crate::actions::Run;
use crate::actions::SubmitError;
use crate::actions::rollback::{self, Plan, RollbackOutcome, RollbackRequest};
use crate::actions::run::{RunStatus, now_ms};
use crate::authz::{
    self, AccessRequest, Action, Caller, ChannelKind, Decision, OnCallStatus, Outcome as Verdict,
};
use crate::catalog::{EntityRef, NameQuery};

/// Answers `rollback` (typed, mentioned, or confirmed with the preview's button and the plan's
/// hash): checks the channel, makes the plan, asks the policy (`rollback` on the service in the
/// environment, with the caller's on-call status), then previews, refuses, or records the run.
pub async fn handle(
    ctx: &Context<'_>,
    caller: &Caller,
    service: Option<&NameQuery>,
    environment: Option<&str>,
    to: Option<&str>,
    confirm: Option<&str>,
) -> Handled {
    let mut handled = Handled::plain(Outcome::Help(None), Action::Rollback);
    let done = |handled: &mut Handled, outcome: RollbackOutcome| {
        handled.outcome = Outcome::Rollback(Box::new(outcome));
    };
    let channel = match check_channel(caller) {
        Ok(name) => name.to_owned(),
        Err(why) => {
            handled.decision = Some(Decision {
                outcome: Verdict::Deny,
                rule: None,
                reason: why.clone(),
            });
            done(&mut handled, RollbackOutcome::NotHere(why));
            return handled;
        }
    };
    // `rollback prod` in an incident channel names the environment, not a service.
    let mut environment = environment;
    let mut service = service;
    let named_environment;
    if environment.is_none()
        && let Some(q) = service
        && q.kind.is_none()
        && q.namespace.is_none()
        && crate::deploys::environment::is_known(&q.name)
        && !matches!(
            ctx.snapshot.lookup(q, OWNED_KINDS),
            crate::catalog::Lookup::Found(_)
        )
    {
        named_environment = q.name.clone();
        environment = Some(named_environment.as_str());
        service = None;
    }
    let inferred;
    let query = match service {
        Some(q) => q,
        None => match rollback::service_from_channel(ctx.rollbacks, &channel) {
            Some(name) => {
                inferred = NameQuery::parse(&name);
                &inferred
            }
            None => {
                done(
                    &mut handled,
                    RollbackOutcome::NoPlan(format!(
                        "#{channel} does not name a service; say which: `/idp rollback <service>`"
                    )),
                );
                return handled;
            }
        },
    };
    let target = match resolve(ctx.snapshot, query, OWNED_KINDS, "service", "rollback") {
        Ok(i) => i,
        Err(outcome) => {
            handled.outcome = *outcome;
            return handled;
        }
    };
    let environment = environment
        .map(str::to_owned)
        .unwrap_or_else(|| ctx.rollbacks.default_environment.clone());
    handled.target = Some(ctx.snapshot.node(target).entity.entity_ref.clone());
    handled.environment = Some(environment.clone());
    let on_call = on_call_status(ctx, caller, target).await;
    let request = RollbackRequest {
        snapshot: ctx.snapshot,
        policy: ctx.policy,
        deploys: ctx.deploys,
        runs: ctx.runs,
        settings: ctx.rollbacks,
        on_call,
        idempotency_key: ctx.idempotency_key,
        channel_id: ctx.channel_id,
        now: ctx.now,
    };
    // The default target finished before the incident began (its channel's creation).
    let began = match (to, ctx.incident_clock, ctx.channel_id) {
        (None, Some(clock), Some(channel)) => clock.began(channel).await,
        _ => None,
    };
    let plan = match rollback::make_plan(
        ctx.deploys,
        ctx.snapshot,
        ctx.rollbacks,
        target,
        &environment,
        to,
        began,
    )
    .await
    {
        Ok(plan) => plan,
        Err(why) => {
            done(&mut handled, RollbackOutcome::NoPlan(why));
            return handled;
        }
    };
    let decision = decide(&request, caller, &plan);
    handled.decision = Some(decision.clone());
    if decision.outcome == Verdict::Deny {
        done(&mut handled, RollbackOutcome::Denied(decision));
        return handled;
    }
    let lock = format!("rollback:{}:{}", plan.service, plan.environment);
    match ctx.run_lookup.run_holding(&lock).await {
        Ok(Some(run)) if confirm.is_none() => {
            done(&mut handled, RollbackOutcome::InProgress(Box::new(run)));
            return handled;
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(error = %e, "could not check for a rollback in progress");
            handled.outcome = Outcome::Failed("the run queue could not be read".to_owned());
            return handled;
        }
    }
    let outcome = match confirm {
        None => rollback::preview(&request, plan, decision),
        Some(hash) if hash != plan.hash => RollbackOutcome::PlanChanged(Box::new(plan)),
        Some(_) => match rollback::start(&request, caller, &plan, &decision).await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(error = %e, "a rollback could not be recorded");
                handled.outcome =
                    Outcome::Failed(format!("the rollback could not be recorded: {e}"));
                return handled;
            }
        },
    };
    done(&mut handled, outcome);
    handled
}

/// The policy's answer for this caller and plan.
pub fn decide(req: &RollbackRequest<'_>, caller: &Caller, plan: &Plan) -> Decision {
    let groups = authz::groups_of(req.snapshot, caller.user.as_ref());
    let facts = authz::TargetFacts::of(req.snapshot, plan.target);
    authz::decide(
        req.policy,
        &AccessRequest {
            action: Action::Rollback,
            caller,
            groups: &groups,
            target: Some(&facts),
            environment: Some(&plan.environment),
            on_call: req.on_call.clone(),
            requester: None,
            now: req.now,
        },
    )
}

/// Whether the caller is in an incident channel; otherwise the refusal.
pub fn check_channel(caller: &Caller) -> Result<&str, String> {
    match &caller.channel {
        ChannelKind::Incident(name) => Ok(name),
        ChannelKind::DirectMessage => Err(
            "rollbacks happen in the incident channel, where everyone working the incident sees them, not in a direct message".to_owned(),
        ),
        ChannelKind::Other(Some(name)) => Err(format!(
            "#{name} is not an incident channel; run rollbacks in the incident's channel (named like inc-42-checkout-api)"
        )),
        ChannelKind::Other(None) => Err(
            "this channel is not an incident channel (private channels and unknown ones are not); run rollbacks in the incident's channel".to_owned(),
        ),
    }
}

/// A preview's [Cancel]: nothing was started, so the preview is withdrawn.
pub fn dismiss() -> Handled {
    Handled::plain(Outcome::Dismissed, Action::Rollback)
}

/// [Approve] or [Deny] on a rollback waiting for approval: the approver's on-call status is looked
/// up, then the policy decides `approve` on the run's service ([`decide_approval`]).
pub async fn approval(
    ctx: &Context<'_>,
    approver: &Caller,
    run_id: &str,
    approve: bool,
) -> Handled {
    let mut handled = Handled::plain(Outcome::Help(None), Action::Approve);
    let (runs, run) = match super::clicked_run(ctx, run_id, "rollback").await {
        Ok(found) => found,
        Err(outcome) => {
            handled.outcome = outcome;
            return handled;
        }
    };
    handled.target = run
        .target
        .as_deref()
        .and_then(|t| EntityRef::parse(t, Some("component"), "default").ok());
    handled.environment = run
        .inputs
        .get("environment")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let on_call = match handled.target.as_ref().and_then(|r| ctx.snapshot.get(r)) {
        Some(i) => on_call_status(ctx, approver, i).await,
        None => OnCallStatus::NotAsked,
    };
    let request = RollbackRequest {
        snapshot: ctx.snapshot,
        policy: ctx.policy,
        deploys: ctx.deploys,
        runs: Some(runs),
        settings: ctx.rollbacks,
        on_call,
        idempotency_key: None,
        channel_id: None,
        now: ctx.now,
    };
    match decide_approval(&request, approver, &run, approve).await {
        Ok((outcome, decision)) => {
            handled.decision = Some(decision);
            if matches!(
                outcome,
                ApprovalOutcome::Approved(_) | ApprovalOutcome::Denied(_)
            ) {
                runs.wake();
            }
            handled.outcome = Outcome::Approval(Box::new(outcome));
        }
        Err(e) => {
            tracing::error!(error = %e, "an approval could not be recorded");
            handled.outcome = Outcome::Failed(format!("the approval could not be recorded: {e}"));
        }
    }
    handled
}

fn refusal(reason: impl Into<String>) -> Decision {
    Decision {
        outcome: Verdict::Deny,
        rule: None,
        reason: reason.into(),
    }
}

/// What an Approve or Deny click comes to.
#[derive(Debug, Clone, PartialEq)]
pub enum ApprovalOutcome {
    /// Approved: the run is queued.
    Approved(Box<Run>),
    /// Denied: the run is cancelled.
    Denied(Box<Run>),
    /// Not done, and why (not allowed, the requester themself, expired, already decided, the
    /// plan changed).
    Refused(String),
}

/// Applies an approver's decision to a run waiting for approval. The approver must be allowed to
/// `approve` by the policy (never the requester); an expired request or a plan that no longer
/// holds (a newer deploy since) is cancelled instead.
///
/// # Errors
/// [`SubmitError`].
async fn decide_approval(
    req: &RollbackRequest<'_>,
    approver: &Caller,
    run: &Run,
    approve: bool,
) -> Result<(ApprovalOutcome, Decision), SubmitError> {
    let Some(runs) = req.runs else {
        return Err(SubmitError::NotConfigured(
            "runs are not set up in this process".to_owned(),
        ));
    };
    if run.status != RunStatus::AwaitingApproval {
        return Ok(refused(format!(
            "this rollback is already {}",
            run.status.as_str().replace('_', " ")
        )));
    }
    let by = approver
        .user
        .as_ref()
        .map_or_else(|| "a guest".to_owned(), |u| u.name.clone());
    let now = now_ms();
    let expires = run
        .inputs
        .get("approval_expires_at")
        .and_then(Value::as_i64)
        .unwrap_or(i64::MAX);
    if now > expires {
        runs.cancel(&run.id, "nobody (the approval request expired)")
            .await?;
        return Ok(refused(
            "the approval request expired; ask for the rollback again".to_owned(),
        ));
    }
    let Some(target) = run
        .target
        .as_deref()
        .and_then(|t| crate::catalog::EntityRef::parse(t, Some("component"), "default").ok())
        .and_then(|r| req.snapshot.get(&r))
    else {
        return Ok(refused(
            "the service is no longer in the catalog".to_owned(),
        ));
    };
    let requester = run
        .requester
        .user
        .as_deref()
        .and_then(|u| crate::catalog::EntityRef::parse(u, Some("user"), "default").ok());
    let groups = authz::groups_of(req.snapshot, approver.user.as_ref());
    let facts = authz::TargetFacts::of(req.snapshot, target);
    let environment = run
        .inputs
        .get("environment")
        .and_then(Value::as_str)
        .unwrap_or("production");
    let same_person = match (&requester, &approver.user) {
        (Some(r), Some(a)) => r.same_as(a),
        _ => {
            run.requester.slack_user_id.is_some()
                && run.requester.slack_user_id == slack_user(approver)
        }
    };
    if same_person {
        return Ok(refused(
            "you asked for this rollback, so someone else has to approve it".to_owned(),
        ));
    }
    let decision = authz::decide(
        req.policy,
        &AccessRequest {
            action: Action::Approve,
            caller: approver,
            groups: &groups,
            target: Some(&facts),
            environment: Some(environment),
            on_call: req.on_call.clone(),
            requester: requester.as_ref(),
            now: req.now,
        },
    );
    if !decision.allowed() {
        let why = format!("you may not approve this: {}", decision.reason);
        return Ok((ApprovalOutcome::Refused(why), decision));
    }
    if !approve {
        let (run, _) = runs.cancel(&run.id, &format!("{by} (denied)")).await?;
        return Ok((ApprovalOutcome::Denied(Box::new(run)), decision));
    }
    // The plan must still be the one asked for.
    let version = run
        .inputs
        .get("version")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let current = rollback::make_plan(
        req.deploys,
        req.snapshot,
        req.settings,
        target,
        environment,
        Some(version),
        None,
    )
    .await;
    let asked = run
        .inputs
        .get("plan_hash")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match current {
        Ok(plan) if plan.hash == asked => {}
        Ok(plan) => {
            runs.cancel(&run.id, "nobody (the plan changed before it was approved)")
                .await?;
            return Ok(refused(format!(
                "the plan changed since it was asked for ({} now runs {}); ask for the rollback again",
                plan.service_name, plan.from.version
            )));
        }
        Err(why) => {
            runs.cancel(&run.id, "nobody (the plan no longer holds)")
                .await?;
            return Ok(refused(why));
        }
    }
    let (run, approved) = runs.approve(&run.id, &by).await?;
    if approved {
        Ok((ApprovalOutcome::Approved(Box::new(run)), decision))
    } else {
        Ok(refused(format!(
            "this rollback is already {}",
            run.status.as_str()
        )))
    }
}

fn slack_user(caller: &Caller) -> Option<String> {
    match &caller.origin {
        authz::Origin::Slack { user_id, .. } => Some(user_id.clone()),
        _ => None,
    }
}

/// A refusal made before (or without) the policy: the outcome and the decision on record.
fn refused(why: impl Into<String>) -> (ApprovalOutcome, Decision) {
    let why = why.into();
    (ApprovalOutcome::Refused(why.clone()), refusal(why))
}
