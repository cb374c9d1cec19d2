//! Command handlers: given a parsed [`Command`] and a caller, ask [`authz`](crate::authz), look
//! things up, and return an [`Outcome`] plus the facts the audit log records. Outcomes refer to
//! entities by their index in the snapshot they were computed on; rendering happens at the edge.

pub mod digest;
pub mod home;
pub mod scorecard;

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
    NewService(Box<crate::actions::scaffold::NewService>),
    /// `rollback`: the plan to confirm, the refusal, or the run started.
    Rollback(Box<crate::actions::rollback::RollbackOutcome>),
    /// `digest`: a subscription made, listed or removed, or a digest previewed.
    Digest(Box<digest::DigestOutcome>),
    /// `scorecard`: a service's checks or a group's ranking.
    Scorecard(Box<scorecard::ScorecardOutcome>),
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
    fn plain(outcome: Outcome, action: Action) -> Self {
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
            Outcome::NewService(n) => {
                use crate::actions::scaffold::NewService;
                match n.as_ref() {
                    NewService::OpenForm { .. } => "form_opened",
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
    /// The store, for commands that read history (audit).
    pub store: &'a crate::store::Store,
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

fn resolve(
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

fn decide_simple(
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

/// Runs a parsed command for a caller: resolves the target, asks the policy, then answers.
pub async fn handle(ctx: &Context<'_>, caller: &Caller, command: &Command) -> Handled {
    let action = spec::by_name(command.name()).map(|s| Action::parse(&s.permission));
    let Some(Ok(action)) = action else {
        let decision = Decision {
            outcome: Verdict::Deny,
            rule: None,
            reason: "this command declares no known permission, so it is refused".to_owned(),
        };
        return Handled {
            decision: Some(decision.clone()),
            ..Handled::plain(Outcome::Denied(decision), Action::Public)
        };
    };
    // new-service decides on the owner it is given, once it knows it.
    if let Command::NewService { template, values } = command {
        return new_service(ctx, caller, template.as_deref(), values).await;
    }
    // digest decides per subcommand, on the group the subscription is about.
    if let Command::Digest(d) = command {
        return digest::handle(ctx, caller, d).await;
    }
    // rollback decides on the plan it makes (service, environment, on-call), once it has one.
    if let Command::Rollback {
        service,
        environment,
        to,
        confirm,
    } = command
    {
        return rollback(
            ctx,
            caller,
            service.as_ref(),
            environment.as_deref(),
            to.as_deref(),
            confirm.as_deref(),
        )
        .await;
    }
    let groups = authz::groups_of(ctx.snapshot, caller.user.as_ref());

    // Resolve the target first, so the decision can see its owner.
    let (query, kinds, what) = match command {
        Command::Owner(q) | Command::Service(q) => (Some(q), OWNED_KINDS, "service"),
        Command::Deploys { service, .. } => (Some(service), OWNED_KINDS, "service"),
        Command::Team(q) => (Some(q), GROUP_KINDS, "group"),
        Command::OnCall(q) => (Some(q), TARGET_KINDS, "service or group"),
        Command::Scorecard { target, .. } => (Some(target), TARGET_KINDS, "service or group"),
        Command::Can { target, .. } => (Some(target), TARGET_KINDS, "service or group"),
        Command::Audit {
            target: Some(t), ..
        } => (Some(t), TARGET_KINDS, "service or group"),
        _ => (None, OWNED_KINDS, "service"),
    };
    let target = match query.map(|q| resolve(ctx.snapshot, q, kinds, what, command.name())) {
        Some(Ok(i)) => Some(i),
        Some(Err(outcome)) => return Handled::plain(*outcome, action),
        None => None,
    };
    let facts = target.map(|i| TargetFacts::of(ctx.snapshot, i));
    let target_ref = facts.as_ref().map(|f| f.entity.clone());

    let decision = if action == Action::Public {
        None
    } else {
        let d = decide_simple(ctx, caller, &groups, action, facts.as_ref());
        if !d.allowed() {
            return Handled {
                outcome: Outcome::Denied(d.clone()),
                action,
                target: target_ref,
                environment: None,
                decision: Some(d),
            };
        }
        Some(d)
    };
    let mut environment = None;
    let outcome = match (command, target) {
        (Command::Owner(_), Some(i)) => {
            Outcome::Owner(i, ctx.oncall.for_entity(ctx.snapshot, i, ctx.now).await)
        }
        (Command::Service(_), Some(i)) => {
            let key = ctx.snapshot.node(i).entity.entity_ref.key();
            let current = ctx.store.current_deployments(&key).await;
            Outcome::Service(
                i,
                current.unwrap_or_else(|e| {
                    tracing::error!(error = %e, "current deploys could not be read");
                    Vec::new()
                }),
            )
        }
        (
            Command::Deploys {
                environment: env, ..
            },
            Some(i),
        ) => {
            let env = match env {
                Some(e) => Some(environment_named(ctx, i, e).await),
                None => None,
            };
            environment.clone_from(&env);
            let key = ctx.snapshot.node(i).entity.entity_ref.key();
            match ctx
                .store
                .deployments(&key, env.as_deref(), DEPLOYS_LIMIT)
                .await
            {
                Ok(history) => Outcome::Deploys {
                    target: i,
                    environment: env.clone(),
                    history,
                },
                Err(e) => {
                    tracing::error!(error = %e, "deploy history query failed");
                    Outcome::Failed("the deploy history could not be read".to_owned())
                }
            }
        }
        (Command::Team(_), Some(i)) => Outcome::Team(i),
        (
            Command::Scorecard {
                scorecard: card, ..
            },
            Some(i),
        ) => scorecard::handle(ctx, i, card.as_deref()).await,
        (Command::OnCall(_), Some(i)) => {
            Outcome::OnCall(i, ctx.oncall.for_entity(ctx.snapshot, i, ctx.now).await)
        }
        (
            Command::Can {
                action: asked,
                environment: env,
                ..
            },
            Some(i),
        ) => {
            let env = env
                .clone()
                .or_else(|| (*asked == Action::Rollback).then(|| "production".to_owned()));
            let env = match env {
                Some(e) => Some(environment_named(ctx, i, &e).await),
                None => None,
            };
            environment.clone_from(&env);
            let on_call = if matches!(asked, Action::Rollback | Action::Approve) {
                on_call_status(ctx, caller, i).await
            } else {
                OnCallStatus::NotAsked
            };
            let decision = authz::decide(
                ctx.policy,
                &AccessRequest {
                    action: *asked,
                    caller,
                    groups: &groups,
                    target: facts.as_ref(),
                    environment: env.as_deref(),
                    on_call: on_call.clone(),
                    requester: None,
                    now: ctx.now,
                },
            );
            Outcome::Explain(Explanation {
                action: *asked,
                target: i,
                environment: env,
                on_call,
                decision,
            })
        }
        (Command::Whoami, _) => {
            let user = caller.user.as_ref().and_then(|u| ctx.snapshot.get(u));
            let roles = ctx
                .policy
                .roles_of(caller.user.as_ref(), &groups, None)
                .into_iter()
                .collect();
            let shifts = match &caller.user {
                Some(u) => ctx.oncall.shifts_of(ctx.snapshot, u, ctx.now).await,
                None => Vec::new(),
            };
            Outcome::Whoami(Whoami {
                user,
                guest_reason: caller.guest_reason.clone(),
                groups: groups.clone(),
                roles,
                shifts,
            })
        }
        (Command::Audit { since, .. }, target) => {
            let query = crate::audit::AuditQuery::latest(
                target_ref.as_ref().map(EntityRef::key),
                *since,
                20,
            );
            match ctx.store.audit_query(&query).await {
                Ok(records) => Outcome::Audit { target, records },
                Err(e) => {
                    tracing::error!(error = %e, "audit query failed");
                    Outcome::Failed("the audit log could not be read".to_owned())
                }
            }
        }
        (Command::Search(words), _) => {
            let (hits, total) = ctx.snapshot.search(words, SEARCH_LIMIT);
            Outcome::Search {
                words: words.clone(),
                hits: hits.into_iter().map(|h| h.index).collect(),
                total,
            }
        }
        (Command::Help(None), _) => Outcome::Help(None),
        (Command::Help(Some(topic)), _) => match spec::find(topic) {
            Some(s) => Outcome::Help(Some(s)),
            None => Outcome::HelpUnknown {
                topic: topic.clone(),
                suggestions: crate::command::suggest_command(topic),
            },
        },
        // Every command with a target resolved it above.
        (Command::Templates, _) => Outcome::Templates(crate::actions::scaffold::templates(
            ctx.snapshot,
            ctx.templates,
            ctx.runs,
        )),
        (_, None) => Outcome::Help(None),
        (Command::NewService { .. } | Command::Rollback { .. } | Command::Digest(_), _) => {
            Outcome::Help(None)
        }
    };
    Handled {
        outcome,
        action,
        target: target_ref,
        environment,
        decision,
    }
}

async fn new_service(
    ctx: &Context<'_>,
    caller: &Caller,
    template: Option<&str>,
    values: &[(String, String)],
) -> Handled {
    use crate::actions::scaffold::{self, NewService, Request};
    let request = Request {
        snapshot: ctx.snapshot,
        policy: ctx.policy,
        defaults: ctx.templates,
        runs: ctx.runs,
        idempotency_key: ctx.idempotency_key,
        channel_id: ctx.channel_id,
        now: ctx.now,
    };
    let result = scaffold::new_service(&request, caller, template, values).await;
    let mut handled = Handled::plain(Outcome::Help(None), Action::TemplateRun);
    match result {
        Ok(outcome) => {
            match &outcome {
                NewService::Denied { decision, .. } | NewService::Started { decision, .. } => {
                    handled.decision = Some(decision.clone());
                }
                _ => {}
            }
            if let NewService::Started { run, .. } = &outcome {
                handled.target = run
                    .target
                    .as_deref()
                    .and_then(|t| EntityRef::parse(t, Some("group"), "default").ok());
            }
            handled.outcome = Outcome::NewService(Box::new(outcome));
        }
        Err(e) => {
            tracing::error!(error = %e, "new-service could not record its run");
            handled.outcome = Outcome::Failed(format!("the run could not be recorded: {e}"));
        }
    }
    handled
}

async fn rollback(
    ctx: &Context<'_>,
    caller: &Caller,
    service: Option<&NameQuery>,
    environment: Option<&str>,
    to: Option<&str>,
    confirm: Option<&str>,
) -> Handled {
    use crate::actions::rollback::{self, RollbackOutcome, RollbackRequest};
    let mut handled = Handled::plain(Outcome::Help(None), Action::Rollback);
    let done = |handled: &mut Handled, outcome: RollbackOutcome| {
        handled.outcome = Outcome::Rollback(Box::new(outcome));
    };
    let channel = match rollback::check_channel(caller) {
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
        store: ctx.store,
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
        ctx.store,
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
    let decision = rollback::decide(&request, caller, &plan);
    handled.decision = Some(decision.clone());
    if decision.outcome == Verdict::Deny {
        done(&mut handled, RollbackOutcome::Denied(decision));
        return handled;
    }
    let lock = format!("rollback:{}:{}", plan.service, plan.environment);
    match ctx.store.run_holding(&lock).await {
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

/// `asked` as the deploy history of the entity at `target` names that environment (`prod` →
/// `production` when that is what was deployed to); `asked` itself when the history can't be read.
async fn environment_named(ctx: &Context<'_>, target: u32, asked: &str) -> String {
    let key = ctx.snapshot.node(target).entity.entity_ref.key();
    ctx.store
        .environment_named(&key, asked)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the environments of a service could not be read");
            asked.to_ascii_lowercase()
        })
}
