//! `digest subscribe|list|unsubscribe`: managing a channel's scorecard digest subscriptions.
//! Subscribing and unsubscribing take `digest.manage` on the group (by the demo policy: its
//! members, team-admins and platform-admins); listing and previewing are plain reads.

use chrono::{DateTime, Utc};

use super::{Context, GROUP_KINDS, Handled, Outcome, decide_simple, resolve};
use crate::authz::{self, Action, Caller, Origin, TargetFacts};
use crate::command::{ChannelRef, DigestCommand};
use crate::scorecards::schedule::Schedule;
use crate::scorecards::subscription::{Creator, NewSubscription, Subscribed, Subscription};

/// A subscription with what a listing shows about its schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The subscription.
    pub subscription: Subscription,
    /// Its schedule, when the stored text still parses.
    pub schedule: Option<Schedule>,
    /// When it is next due (after the request's time).
    pub next_due: Option<DateTime<Utc>>,
}

/// What a `digest` command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestOutcome {
    /// Subscribed (or re-subscribed, which replaces the schedule and lifts a pause).
    Subscribed {
        /// What the store did.
        subscribed: Subscribed,
        /// The schedule.
        schedule: Schedule,
        /// When the first digest is due.
        next_due: Option<DateTime<Utc>>,
    },
    /// The subscriptions of `channel` (every channel's when `None`), oldest first.
    List {
        /// The channel listed, or `None` for all.
        channel: Option<String>,
        /// The subscriptions.
        subscriptions: Vec<Listed>,
    },
    /// Removed.
    Unsubscribed(Subscription),
    /// No subscription has this id.
    NoSuchSubscription(String),
    /// The command came from no channel (the shell) and named none.
    NoChannel,
    /// `preview`: the group's digest as it would be posted now (changes of the last
    /// [`crate::scorecards::report::FIRST_DIGEST_LOOKBACK_DAYS`] days).
    Preview(Box<crate::scorecards::report::Digest>),
    /// `preview`: no digest can be made, and why (no scorecards, nothing scored).
    PreviewUnavailable(String),
}

fn channel_of<'a>(ctx: &'a Context<'_>, caller: &'a Caller) -> Option<&'a str> {
    ctx.channel_id.or(match &caller.origin {
        Origin::Slack { channel_id, .. } if !channel_id.is_empty() => Some(channel_id.as_str()),
        _ => None,
    })
}

fn done(outcome: DigestOutcome, action: Action) -> Handled {
    Handled::plain(Outcome::Digest(Box::new(outcome)), action)
}

/// Handles a `digest` command.
pub async fn handle(ctx: &Context<'_>, caller: &Caller, command: &DigestCommand) -> Handled {
    match command {
        DigestCommand::Subscribe {
            channel,
            group,
            schedule,
        } => subscribe(ctx, caller, channel.as_ref(), group, schedule).await,
        DigestCommand::List { all } => list(ctx, caller, *all).await,
        DigestCommand::Unsubscribe { id } => unsubscribe(ctx, caller, id).await,
        DigestCommand::Preview { group } => preview(ctx, caller, group).await,
    }
}

/// Asks the policy for `digest.manage` on the group: the refusal to answer with, or the handled
/// command (target and decision filled in) to finish.
fn manage(
    ctx: &Context<'_>,
    caller: &Caller,
    facts: &TargetFacts,
) -> Result<Handled, Box<Handled>> {
    let action = Action::DigestManage;
    let groups = authz::groups_of(ctx.snapshot, caller.user.as_ref());
    let decision = decide_simple(ctx, caller, &groups, action, Some(facts));
    let handled = Handled {
        target: Some(facts.entity.clone()),
        decision: Some(decision.clone()),
        ..Handled::plain(Outcome::Denied(decision.clone()), action)
    };
    if decision.allowed() {
        Ok(handled)
    } else {
        Err(Box::new(handled))
    }
}

async fn subscribe(
    ctx: &Context<'_>,
    caller: &Caller,
    channel: Option<&ChannelRef>,
    group: &crate::catalog::NameQuery,
    schedule: &Schedule,
) -> Handled {
    let action = Action::DigestManage;
    let target = match resolve(ctx.snapshot, group, GROUP_KINDS, "group", "digest") {
        Ok(i) => i,
        Err(outcome) => return Handled::plain(*outcome, action),
    };
    let facts = TargetFacts::of(ctx.snapshot, target);
    let mut handled = match manage(ctx, caller, &facts) {
        Ok(handled) => handled,
        Err(refused) => return *refused,
    };
    let channel_id = match channel {
        Some(c) => c.id.clone(),
        None => match channel_of(ctx, caller) {
            Some(id) => id.to_owned(),
            None => {
                handled.outcome = Outcome::Digest(Box::new(DigestOutcome::NoChannel));
                return handled;
            }
        },
    };
    let slack_user_id = match &caller.origin {
        Origin::Slack { user_id, .. } => Some(user_id.clone()),
        _ => None,
    };
    let new = NewSubscription {
        channel_id,
        group: facts.entity.clone(),
        schedule: schedule.canonical(),
        created_by: Creator {
            slack_user_id,
            user: caller.user.clone(),
        },
        created_at: ctx.now,
    };
    handled.outcome = match ctx.subscriptions.subscribe_digest(&new).await {
        Ok(subscribed) => Outcome::Digest(Box::new(DigestOutcome::Subscribed {
            subscribed,
            schedule: schedule.clone(),
            next_due: schedule.next_due_after(ctx.now),
        })),
        Err(e) => {
            tracing::error!(error = %e, "a digest subscription could not be stored");
            Outcome::Failed("the subscription could not be stored".to_owned())
        }
    };
    handled
}

async fn list(ctx: &Context<'_>, caller: &Caller, all: bool) -> Handled {
    let action = Action::CatalogRead;
    let groups = authz::groups_of(ctx.snapshot, caller.user.as_ref());
    let decision = decide_simple(ctx, caller, &groups, action, None);
    if !decision.allowed() {
        return Handled {
            decision: Some(decision.clone()),
            ..Handled::plain(Outcome::Denied(decision), action)
        };
    }
    let channel = if all {
        None
    } else {
        channel_of(ctx, caller).map(str::to_owned)
    };
    match ctx
        .subscriptions
        .digest_subscriptions(channel.as_deref())
        .await
    {
        Ok(found) => {
            let subscriptions = found
                .into_iter()
                .map(|subscription| {
                    let schedule = Schedule::parse(&subscription.schedule).ok();
                    let next_due = schedule.as_ref().and_then(|s| s.next_due_after(ctx.now));
                    Listed {
                        subscription,
                        schedule,
                        next_due,
                    }
                })
                .collect();
            Handled {
                decision: Some(decision),
                ..done(
                    DigestOutcome::List {
                        channel,
                        subscriptions,
                    },
                    action,
                )
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "digest subscriptions could not be read");
            Handled::plain(
                Outcome::Failed("the digest subscriptions could not be read".to_owned()),
                action,
            )
        }
    }
}

async fn unsubscribe(ctx: &Context<'_>, caller: &Caller, id: &str) -> Handled {
    let action = Action::DigestManage;
    if !crate::scorecards::subscription::is_id(id) {
        return done(DigestOutcome::NoSuchSubscription(id.to_owned()), action);
    }
    let found = match ctx.subscriptions.digest_subscription(id).await {
        Ok(Some(found)) => found,
        Ok(None) => return done(DigestOutcome::NoSuchSubscription(id.to_owned()), action),
        Err(e) => {
            tracing::error!(error = %e, "a digest subscription could not be read");
            return Handled::plain(
                Outcome::Failed("the subscription could not be read".to_owned()),
                action,
            );
        }
    };
    // A group that left the catalog is still its own owner for the decision.
    let facts = match ctx.snapshot.get(&found.group) {
        Some(i) => TargetFacts::of(ctx.snapshot, i),
        None => TargetFacts {
            entity: found.group.clone(),
            owner: Some(found.group.clone()),
            system: None,
        },
    };
    let mut handled = match manage(ctx, caller, &facts) {
        Ok(handled) => handled,
        Err(refused) => return *refused,
    };
    handled.outcome = match ctx
        .subscriptions
        .delete_digest_subscription(&found.id)
        .await
    {
        Ok(Some(gone)) => Outcome::Digest(Box::new(DigestOutcome::Unsubscribed(gone))),
        Ok(None) => Outcome::Digest(Box::new(DigestOutcome::NoSuchSubscription(id.to_owned()))),
        Err(e) => {
            tracing::error!(error = %e, "a digest subscription could not be deleted");
            Outcome::Failed("the subscription could not be removed".to_owned())
        }
    };
    handled
}

async fn preview(ctx: &Context<'_>, caller: &Caller, group: &crate::catalog::NameQuery) -> Handled {
    let action = Action::CatalogRead;
    let target = match resolve(ctx.snapshot, group, GROUP_KINDS, "group", "digest") {
        Ok(i) => i,
        Err(outcome) => return Handled::plain(*outcome, action),
    };
    let facts = TargetFacts::of(ctx.snapshot, target);
    let groups = authz::groups_of(ctx.snapshot, caller.user.as_ref());
    let decision = decide_simple(ctx, caller, &groups, action, Some(&facts));
    let mut handled = Handled {
        target: Some(facts.entity.clone()),
        decision: Some(decision.clone()),
        ..Handled::plain(Outcome::Denied(decision.clone()), action)
    };
    if !decision.allowed() {
        return handled;
    }
    let Some(scorer) = ctx.scorer else {
        handled.outcome = Outcome::Digest(Box::new(DigestOutcome::PreviewUnavailable(
            "no scorecards are configured (`[scorecards] file` in idp.toml)".to_owned(),
        )));
        return handled;
    };
    let latest = match crate::scorecards::source::latest_or_evaluate(scorer, &facts.entity, ctx.now)
        .await
    {
        Ok(latest) => latest,
        Err(e) => {
            tracing::error!(error = %e, "scorecards could not be evaluated for a preview");
            handled.outcome = Outcome::Failed("the scorecards could not be evaluated".to_owned());
            return handled;
        }
    };
    use crate::scorecards::report::{DigestError, digest};
    handled.outcome = match digest(&latest, ctx.score_history, &facts.entity, None, ctx.now).await {
        Ok(d) => Outcome::Digest(Box::new(DigestOutcome::Preview(Box::new(d)))),
        Err(DigestError::Report(e)) => {
            Outcome::Digest(Box::new(DigestOutcome::PreviewUnavailable(e.to_string())))
        }
        Err(DigestError::History(e)) => {
            tracing::error!(error = %e, "the scorecard history could not be read for a preview");
            Outcome::Failed("the scorecard history could not be read".to_owned())
        }
    };
    handled
}
