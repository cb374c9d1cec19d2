//! The one door: [`dispatch`] takes a [`Command`] from any entry point (slash command, mention,
//! shortcut, button, form, App Home, shell), runs the command's handler (each handler starts with
//! its permission check), and records exactly one audit entry for it. Handlers return an
//! [`Outcome`] plus the facts the audit log records; outcomes refer to entities by their index in
//! the snapshot they were computed on; rendering happens at the edge.
//!
//! One file per command; this file holds the dispatcher and the shared types only.

pub mod audit;
pub mod can;
pub mod cancel;
pub mod deploys;
pub mod digest;
pub mod help;
pub mod home;
pub mod new_service;
pub mod oncall;
pub mod owner;
pub mod rollback;
pub mod scorecard;
pub mod search;
pub mod service;
pub mod suggest;
pub mod team;
pub mod templates;
pub mod who_owns;
pub mod whoami;

use chrono::{DateTime, Utc};

use crate::authz::{
    self, AccessRequest, Action, Caller, Decision, OnCallStatus, Outcome as Verdict, Policy,
    TargetFacts,
};
use crate::catalog::{EntityRef, Lookup, NameQuery, Snapshot};
use crate::command::{Command, CommandSpec, ParseError, spec};
use crate::oncall::{OnCall, OnCallError, OnCallService, Shift};

/// Kinds `owner` and `service` look among: everything with an owner.
pub const OWNED_KINDS: &[&str] = &[
    "component",
    "api",
    "resource",
    "system",
    "domain",
    "template",
];
/// Kinds `team` looks among.
pub const GROUP_KINDS: &[&str] = &["group"];
/// Kinds `oncall` and `can` look among.
pub const TARGET_KINDS: &[&str] = &[
    "component",
    "api",
    "resource",
    "system",
    "domain",
    "template",
    "group",
];
/// How many deploys `deploys` shows.
pub const DEPLOYS_LIMIT: i64 = 15;
/// How many search hits a reply shows.
pub const SEARCH_LIMIT: usize = 10;

/// What a command produced, ready to be rendered.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `owner`: the entity whose owner to show, and who is on call for it.
    Owner(u32, Result<OnCall, OnCallError>),
    /// `service`: the entity whose card to show, and what runs in each environment (its latest
    /// succeeded deploy per environment; empty when none is known or the history is unreadable).
    Service(u32, Vec<crate::deploys::Deployment>),
    /// `deploys`: a service's recent deploys, newest first.
    Deploys {
        /// The service.
        target: u32,
        /// The environment asked for, if any.
        environment: Option<String>,
        /// At most [`DEPLOYS_LIMIT`] deploys.
        history: Vec<crate::deploys::Deployment>,
    },
    /// `team`: the group to show.
    Team(u32),
    /// `oncall`: the entity and who is on call for it.
    OnCall(u32, Result<OnCall, OnCallError>),
    /// `whoami`.
    Whoami(Whoami),
    /// `can`: the decision explained.
    Explain(Explanation),
    /// `audit`: the latest audit records, newest first.
    Audit {
        /// The target asked about, if any.
        target: Option<u32>,
        /// The records.
        records: Vec<crate::audit::AuditRecord>,
    },
    /// `search`: the words, the best hits and how many matched in all.
    Search {
        /// The words searched for.
        words: Vec<String>,
        /// Best hits first.
        hits: Vec<u32>,
        /// All matches.
        total: usize,
    },
    /// `help`: the command list, or one command.
    Help(Option<&'static CommandSpec>),
    /// `help <x>` where `x` is no command.
    HelpUnknown {
        /// What was asked for.
        topic: String,
        /// Close command names.
        suggestions: Vec<String>,
    },
    /// The named entity does not exist.
    NotFound {
        /// "service" or "group".
        what: &'static str,
        /// The name as typed.
        query: String,
        /// Up to 3 close names.
        suggestions: Vec<String>,
        /// The command, to show how to retry.
        command: &'static str,
    },
    /// The name matches several entities.
    Ambiguous {
        /// The name as typed.
        query: String,
        /// The candidates.
        candidates: Vec<u32>,
        /// The command, to show how to pick one.
        command: &'static str,
    },
    /// The text could not be parsed.
    Invalid(ParseError),
    /// The policy refused.
    Denied(Decision),
    /// `templates`: every template in the catalog, runnable or not.
    Templates(Vec<crate::templates::Template>),
    /// `new-service`: the form to open, the problems, the refusal or the run started.
    NewService(Box<new_service::NewService>),
    /// `rollback`: the plan to confirm, the refusal, or the run started.
    Rollback(Box<crate::actions::rollback::RollbackOutcome>),
    /// `digest`: a subscription made, listed or removed, or a digest previewed.
    Digest(Box<digest::DigestOutcome>),
    /// `scorecard`: a service's checks or a group's ranking.
    Scorecard(Box<scorecard::ScorecardOutcome>),
    /// [Approve] / [Deny]: what the approver's decision came to.
    Approval(Box<rollback::ApprovalOutcome>),
    /// A rollback preview withdrawn ([Cancel] on the preview): nothing was started.
    Dismissed,
    /// A run status message's [Cancel]: the run, and whether this click cancelled it (`false`:
    /// it had already left the queue).
    Cancelled {
        /// The run as it is now.
        run: Box<crate::actions::Run>,
        /// Whether this request cancelled it.
        cancelled: bool,
    },
    /// A click or form about something idp no longer knows (a message from an older version,
    /// an expired form, a run that is gone): what to tell the person.
    Stale(String),
    /// A form picker's options (Slack `block_suggestion`): (label, value) pairs, best first.
    Options(Vec<(String, String)>),
    /// The App Home of the caller.
    Home(Box<home::Home>),
    /// `owner @person`: what the person's teams own.
    OwnedBy {
        /// The person (a User entity).
        person: u32,
        /// What their teams own, by name.
        owned: Vec<u32>,
    },
    /// An answer to something slightly different from what was asked, with a note saying so
    /// (`owner payments-platform`: "that's a team").
    Noted {
        /// The note, shown first (plain text).
        note: String,
        /// The answer.
        outcome: Box<Outcome>,
    },
    /// "Who owns this?": what a message refers to, and where that was looked for.
    WhoOwns(Box<who_owns::WhoOwnsAnswer>),
    /// Something on idp's side failed; the message is safe to show.
    Failed(String),
}

/// The `whoami` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Whoami {
    /// The catalog user, when mapped.
    pub user: Option<u32>,
    /// Why the caller is a guest, when they are.
    pub guest_reason: Option<String>,
    /// Groups, ancestors included.
    pub groups: Vec<EntityRef>,
    /// Roles regardless of scope.
    pub roles: Vec<String>,
    /// Shifts now and next: (what, shift).
    pub shifts: Vec<(String, Shift)>,
}

/// The `can` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The action asked about.
    pub action: Action,
    /// The target.
    pub target: u32,
    /// The environment considered.
    pub environment: Option<String>,
    /// The caller's on-call status for the target.
    pub on_call: OnCallStatus,
    /// The decision.
    pub decision: Decision,
}

/// A handled command: the outcome and what the audit log records about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Handled {
    /// What to show.
    pub outcome: Outcome,
    /// The action that was authorized (or refused).
    pub action: Action,
    /// The target, when one was resolved.
    pub target: Option<EntityRef>,
    /// The environment, when one applies.
    pub environment: Option<String>,
    /// The decision on the command itself (`None` when no decision was needed).
    pub decision: Option<Decision>,
}

impl Handled {
    /// An outcome with no target, environment or decision to record.
    pub fn plain(outcome: Outcome, action: Action) -> Self {
        Self {
            outcome,
            action,
            target: None,
            environment: None,
            decision: None,
        }
    }

    /// A short word for the audit log: answered, denied, not_found, ambiguous, invalid.
    pub fn outcome_label(&self) -> &'static str {
        match &self.outcome {
            Outcome::Denied(_) => "denied",
            Outcome::NotFound { .. } | Outcome::HelpUnknown { .. } => "not_found",
            Outcome::Ambiguous { .. } => "ambiguous",
            Outcome::Invalid(_) => "invalid",
            Outcome::Failed(_) => "failed",
            Outcome::Rollback(r) => {
                use crate::actions::rollback::RollbackOutcome as R;
                match r.as_ref() {
                    R::NotHere(_) | R::Denied(_) => "denied",
                    R::NoPlan(_) => "no_plan",
                    R::Preview { .. } => "previewed",
                    R::PlanChanged(_) => "plan_changed",
                    R::InProgress(_) => "in_progress",
                    R::Started { created: true, .. } => "started",
                    R::Started { created: false, .. } => "repeated",
                }
            }
            Outcome::Digest(d) => match d.as_ref() {
                digest::DigestOutcome::Subscribed { .. } => "subscribed",
                digest::DigestOutcome::Unsubscribed(_) => "unsubscribed",
                digest::DigestOutcome::NoSuchSubscription(_) => "not_found",
                digest::DigestOutcome::NoChannel => "invalid",
                digest::DigestOutcome::List { .. } | digest::DigestOutcome::Preview(_) => {
                    "answered"
                }
                digest::DigestOutcome::PreviewUnavailable(_) => "not_found",
            },
            Outcome::Approval(a) => match a.as_ref() {
                rollback::ApprovalOutcome::Approved(_) => "approved",
                rollback::ApprovalOutcome::Denied(_) => "rejected",
                rollback::ApprovalOutcome::Refused(_) => "refused",
            },
            Outcome::Dismissed => "dismissed",
            Outcome::Cancelled {
                cancelled: true, ..
            } => "cancelled",
            Outcome::Cancelled { .. } => "not_cancelled",
            Outcome::Stale(_) => "stale",
            Outcome::WhoOwns(w) if w.found.is_empty() => "not_found",
            Outcome::NewService(n) => {
                use new_service::NewService;
                match n.as_ref() {
                    NewService::OpenForm { .. } => "form_opened",
                    NewService::StepAccepted { .. } => "step_accepted",
                    NewService::Lookup(_) => "not_found",
                    NewService::NotRunnable(_) => "not_runnable",
                    NewService::Invalid { .. } => "invalid",
                    NewService::Denied { .. } => "denied",
                    NewService::Started { created: true, .. } => "started",
                    NewService::Started { created: false, .. } => "repeated",
                }
            }
            _ => "answered",
        }
    }
}

/// What handlers need besides the command.
pub struct Context<'a> {
    /// The catalog snapshot for this request.
    pub snapshot: &'a Snapshot,
    /// The authorization policy.
    pub policy: &'a Policy,
    /// On-call lookups.
    pub oncall: &'a OnCallService,
    /// The deploy history: what runs where (`service`), recent deploys (`deploys`), and the
    /// versions a rollback plan goes from and to. Read errors are `StoreError`s, which handlers
    /// log and answer with [`Outcome::Failed`] (the service card shows no deploys instead).
    pub deploys: &'a dyn crate::deploys::DeployHistory,
    /// Reading the audit log (`audit`); appending goes through [`Context::audit`].
    pub audit_reader: &'a dyn crate::audit::AuditReader,
    /// Digest subscriptions (`digest`): subscribe, list, look up by id, unsubscribe.
    pub subscriptions: &'a dyn crate::scorecards::subscription::Subscriptions,
    /// Stored scorecard history (what changed since a time), for a `digest` preview.
    pub score_history: &'a dyn crate::scorecards::ScoreHistory,
    /// Reading stored runs: a rollback's lock holder, the Home tab's open runs. Starting and
    /// changing runs goes through [`Context::runs`].
    pub run_lookup: &'a dyn crate::runs::RunLookup,
    /// The time of the request.
    pub now: DateTime<Utc>,
    /// Template defaults (execution backend, compliance).
    pub templates: &'a crate::templates::TemplateDefaults,
    /// The run queue, where this process has one.
    pub runs: Option<&'a crate::actions::RunService>,
    /// The request's idempotency key (Slack view or trigger id), for commands that start runs.
    pub idempotency_key: Option<&'a str>,
    /// The Slack channel the request came from, where run status messages go.
    pub channel_id: Option<&'a str>,
    /// `[rollbacks]` settings.
    pub rollbacks: &'a crate::actions::rollback::RollbackSettings,
    /// When the incident behind a channel began (Slack: the channel's creation), if known.
    pub incident_clock: Option<&'a dyn crate::actions::rollback::IncidentClock>,
    /// The scorecards and their latest results, where configured.
    pub scorer: Option<&'a crate::scorecards::Scorer>,
    /// Scorecard standings for the App Home.
    pub scores: &'a dyn home::ScoreLookup,
    /// Slack user → catalog user, for `owner @person`; `None` makes everyone unknown.
    pub identity: Option<&'a crate::identity::IdentityService>,
    /// The audit log the dispatcher records each command in; `None` records nothing.
    pub audit: Option<&'a crate::audit::AuditLog>,
}

fn query_text(q: &NameQuery) -> String {
    let mut s = String::new();
    if let Some(k) = &q.kind {
        s.push_str(k);
        s.push(':');
    }
    if let Some(ns) = &q.namespace {
        s.push_str(ns);
        s.push('/');
    }
    s.push_str(&q.name);
    s
}

/// Finds the one entity `query` names among `kinds`, or the outcome that says why not (not
/// found, with suggestions; ambiguous, with the candidates).
pub fn resolve(
    snapshot: &Snapshot,
    query: &NameQuery,
    kinds: &[&str],
    what: &'static str,
    command: &'static str,
) -> Result<u32, Box<Outcome>> {
    match snapshot.lookup(query, kinds) {
        Lookup::Found(i) => Ok(i),
        Lookup::Ambiguous(candidates) => Err(Box::new(Outcome::Ambiguous {
            query: query_text(query),
            candidates,
            command,
        })),
        Lookup::NotFound(suggestions) => Err(Box::new(Outcome::NotFound {
            what,
            query: query_text(query),
            suggestions,
            command,
        })),
    }
}

/// A one-line description of who is on call now, for denial reasons: "Mei Tanaka until 18:00 UTC".
pub fn on_call_summary(answer: &OnCall) -> Option<String> {
    let shift = answer.primary().next()?;
    Some(match shift.end {
        Some(end) => format!("{} until {} UTC", shift.person.name, end.format("%a %H:%M")),
        None => shift.person.name.clone(),
    })
}

/// The caller's on-call status for a target, failing closed.
pub async fn on_call_status(ctx: &Context<'_>, caller: &Caller, target: u32) -> OnCallStatus {
    let answer = ctx.oncall.for_entity(ctx.snapshot, target, ctx.now).await;
    match (answer, &caller.user) {
        (Ok(a), Some(me)) if a.is_primary(me) => OnCallStatus::Yes,
        (Ok(a), _) => OnCallStatus::No(on_call_summary(&a)),
        (Err(OnCallError::NotResolvable(why)), _) => {
            OnCallStatus::No(Some(format!("nobody known: {why}")))
        }
        (Err(e), _) => OnCallStatus::Unknown(e.to_string()),
    }
}

/// The policy's decision on `action` for `caller` (whose groups are `groups`) on an optional
/// target, with no environment or on-call status involved.
pub fn decide_simple(
    ctx: &Context<'_>,
    caller: &Caller,
    groups: &[EntityRef],
    action: Action,
    target: Option<&TargetFacts>,
) -> Decision {
    authz::decide(
        ctx.policy,
        &AccessRequest {
            action,
            caller,
            groups,
            target,
            environment: None,
            on_call: OnCallStatus::NotAsked,
            requester: None,
            now: ctx.now,
        },
    )
}

/// The permission a typed command declares in its `commands/<name>.toml` (`catalog.read`,
/// `rollback`…). A command without a known permission is refused by [`permit`].
pub fn declared_action(command: &str) -> Option<Action> {
    spec::by_name(command).and_then(|s| Action::parse(&s.permission).ok())
}

/// The start of every handler that acts on one resolved entity: find it, then ask the policy for
/// the command's declared permission on it. `Ok` carries the entity's index and a [`Handled`]
/// with the action, target and decision filled in (its outcome still to be set); `Err` is the
/// answer to give instead (not found, ambiguous, refused).
///
/// # Errors
/// The finished [`Handled`] of a lookup that failed or a refusal.
pub fn permit(
    ctx: &Context<'_>,
    caller: &Caller,
    command: &'static str,
    query: &NameQuery,
    kinds: &[&str],
    what: &'static str,
) -> Result<(u32, Handled), Box<Handled>> {
    let Some(action) = declared_action(command) else {
        return Err(Box::new(undeclared()));
    };
    let target = resolve(ctx.snapshot, query, kinds, what, command)
        .map_err(|outcome| Box::new(Handled::plain(*outcome, action)))?;
    let facts = TargetFacts::of(ctx.snapshot, target);
    let mut handled = Handled::plain(Outcome::Help(None), action);
    handled.target = Some(facts.entity.clone());
    if action != Action::Public {
        let groups = authz::groups_of(ctx.snapshot, caller.user.as_ref());
        let decision = decide_simple(ctx, caller, &groups, action, Some(&facts));
        handled.decision = Some(decision.clone());
        if !decision.allowed() {
            handled.outcome = Outcome::Denied(decision);
            return Err(Box::new(handled));
        }
    }
    Ok((target, handled))
}

/// The start of a handler with no target: the command's declared permission for the caller.
///
/// # Errors
/// The finished [`Handled`] of a refusal.
pub fn permit_untargeted(
    ctx: &Context<'_>,
    caller: &Caller,
    command: &'static str,
) -> Result<Handled, Box<Handled>> {
    let Some(action) = declared_action(command) else {
        return Err(Box::new(undeclared()));
    };
    let mut handled = Handled::plain(Outcome::Help(None), action);
    if action != Action::Public {
        let groups = authz::groups_of(ctx.snapshot, caller.user.as_ref());
        let decision = decide_simple(ctx, caller, &groups, action, None);
        handled.decision = Some(decision.clone());
        if !decision.allowed() {
            handled.outcome = Outcome::Denied(decision);
            return Err(Box::new(handled));
        }
    }
    Ok(handled)
}

fn undeclared() -> Handled {
    let decision = Decision {
        outcome: Verdict::Deny,
        rule: None,
        reason: "this command declares no known permission, so it is refused".to_owned(),
    };
    Handled {
        decision: Some(decision.clone()),
        ..Handled::plain(Outcome::Denied(decision), Action::Public)
    }
}

/// The run a button names, with the run queue; `Err` is the answer instead: no queue in this
/// process, a run that is gone (`what` names it: "rollback", "run"), or a queue that cannot be
/// read.
///
/// # Errors
/// The [`Outcome`] to answer with.
pub async fn clicked_run<'a>(
    ctx: &Context<'a>,
    run_id: &str,
    what: &str,
) -> Result<(&'a crate::actions::RunService, crate::actions::Run), Outcome> {
    let Some(runs) = ctx.runs else {
        return Err(Outcome::Failed(
            "runs are not set up in this process".to_owned(),
        ));
    };
    match runs.get(run_id).await {
        Ok(Some(run)) => Ok((runs, run)),
        Ok(None) => Err(Outcome::Stale(format!(
            "That {what} is not known here any more (it may come from an older message)."
        ))),
        Err(e) => {
            tracing::error!(error = %e, run_id, "could not read a run a button names");
            Err(Outcome::Failed(
                "the run queue could not be read".to_owned(),
            ))
        }
    }
}

/// One request at the door: who asks, what they asked (or why it could not be read), and how to
/// describe it in the audit log.
#[derive(Debug)]
pub struct Request<'a> {
    /// The request id (logs, error replies, the audit record).
    pub request_id: &'a str,
    /// The caller, resolved by the entry point.
    pub caller: &'a Caller,
    /// The command, or why the text could not be parsed.
    pub command: Result<Command, ParseError>,
    /// What the audit log records as asked: the typed text, or a description of the click.
    pub text: &'a str,
}

/// The one dispatcher every entry point calls: runs the command's handler (which asks the policy
/// first) and records exactly one audit entry for the request. Refusals, failures and privileged
/// actions are recorded before this returns; plain reads are queued.
pub async fn dispatch(ctx: &Context<'_>, request: Request<'_>) -> Handled {
    let Request {
        request_id,
        caller,
        command,
        text,
    } = request;
    let (handled, name) = match command {
        Ok(command) => (handle(ctx, caller, &command).await, command.name()),
        Err(e) => (
            Handled::plain(Outcome::Invalid(e), Action::Public),
            "invalid",
        ),
    };
    record(ctx, request_id, caller, name, text, &handled).await;
    handled
}

/// Routes a command to its handler.
async fn handle(ctx: &Context<'_>, caller: &Caller, command: &Command) -> Handled {
    match command {
        Command::Owner(q) => owner::handle(ctx, caller, q).await,
        Command::Service(q) => service::handle(ctx, caller, q).await,
        Command::Deploys {
            service,
            environment,
        } => deploys::handle(ctx, caller, service, environment.as_deref()).await,
        Command::Search(words) => search::handle(ctx, caller, words),
        Command::Team(q) => team::handle(ctx, caller, q),
        Command::OnCall(q) => oncall::handle(ctx, caller, q).await,
        Command::Whoami => whoami::handle(ctx, caller).await,
        Command::Audit { target, since } => {
            audit::handle(ctx, caller, target.as_ref(), *since).await
        }
        Command::Can {
            action,
            target,
            environment,
        } => can::handle(ctx, caller, *action, target, environment.as_deref()).await,
        Command::Templates => templates::handle(ctx, caller),
        Command::NewService { template, values } => {
            new_service::handle(ctx, caller, template.as_deref(), values).await
        }
        Command::ChooseTemplate { template } => new_service::choose(ctx, template),
        Command::NewServiceStep {
            template,
            step,
            raw,
            collected,
        } => new_service::step(ctx, caller, template, *step, raw, collected).await,
        Command::Rollback {
            service,
            environment,
            to,
            confirm,
        } => {
            rollback::handle(
                ctx,
                caller,
                service.as_ref(),
                environment.as_deref(),
                to.as_deref(),
                confirm.as_deref(),
            )
            .await
        }
        Command::DismissRollback => rollback::dismiss(),
        Command::Approval { run_id, approve } => {
            rollback::approval(ctx, caller, run_id, *approve).await
        }
        Command::CancelRun { run_id } => cancel::handle(ctx, caller, run_id).await,
        Command::Digest(d) => digest::handle(ctx, caller, d).await,
        Command::Scorecard { target, scorecard } => {
            scorecard::handle(ctx, caller, target, scorecard.as_deref()).await
        }
        Command::Help(topic) => help::handle(topic.as_deref()),
        Command::Suggest {
            template,
            field,
            query,
        } => suggest::handle(ctx, caller, template, field, query),
        Command::Home => home::handle(ctx, caller).await,
        Command::Unreadable { reason } => {
            Handled::plain(Outcome::Stale(reason.clone()), Action::Public)
        }
        Command::WhoOwns { text } => who_owns::handle(ctx, caller, text).await,
    }
}

/// Records a handled command: refusals, failures and privileged actions are awaited (nothing
/// refused or started goes unrecorded), plain answers are queued without waiting.
async fn record(
    ctx: &Context<'_>,
    request_id: &str,
    caller: &Caller,
    command: &str,
    text: &str,
    handled: &Handled,
) {
    use crate::audit::{AuditDecision, AuditEntry};
    let Some(audit) = ctx.audit else { return };
    let mut entry = AuditEntry::for_caller(caller, request_id, handled.action.as_str(), command)
        .with_arguments(match &handled.outcome {
            // `can` authorizes policy.explain; the decision it explains is on record too.
            Outcome::Explain(x) => serde_json::json!({
                "text": text,
                "explained": {
                    "action": x.action.as_str(),
                    "environment": x.environment,
                    "outcome": verdict_label(&x.decision.outcome),
                    "rule": x.decision.rule,
                    "reason": x.decision.reason,
                }
            }),
            _ => serde_json::json!({ "text": text }),
        })
        .with_outcome(handled.outcome_label());
    entry.target = handled.target.as_ref().map(EntityRef::key);
    entry.environment.clone_from(&handled.environment);
    let mut must_wait = matches!(handled.outcome, Outcome::Failed(_))
        || !matches!(
            handled.action,
            Action::Public | Action::CatalogRead | Action::PolicyExplain
        );
    if let Some(d) = &handled.decision {
        let decision = match d.outcome {
            Verdict::Allow => AuditDecision::Allow,
            Verdict::Deny => AuditDecision::Deny,
            Verdict::RequireApproval(_) => AuditDecision::NeedsApproval,
        };
        must_wait |= decision != AuditDecision::Allow;
        entry = entry.with_decision(decision, d.rule.clone(), Some(d.reason.clone()));
    }
    if must_wait {
        if let Err(e) = audit.record(entry).await {
            tracing::error!(%request_id, error = %e, "could not record a command in the audit log");
        }
    } else {
        audit.record_nowait(entry);
    }
}

fn verdict_label(outcome: &Verdict) -> &'static str {
    match outcome {
        Verdict::Allow => "allow",
        Verdict::Deny => "deny",
        Verdict::RequireApproval(_) => "needs_approval",
    }
}

/// `asked` as the deploy history of the entity at `target` names that environment (`prod` →
/// `production` when that is what was deployed to); `asked` itself when the history can't be read.
pub(crate) async fn environment_named(ctx: &Context<'_>, target: u32, asked: &str) -> String {
    let key = ctx.snapshot.node(target).entity.entity_ref.key();
    ctx.deploys
        .environment_named(&key, asked)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the environments of a service could not be read");
            asked.to_ascii_lowercase()
        })
}
