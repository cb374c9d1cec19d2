//! Authorization: the one place that decides whether a caller may perform an action. Every entry
//! point (Slack, shell, API) builds an [`AccessRequest`] and asks [`decide`]; nothing else decides.
//! Deny by default: when no rule of the [`Policy`] matches, the answer is no.
//!
//! Group membership: a user is a member of the groups listed in `memberOf`/`hasMember` **and of
//! every ancestor of those groups** (`spec.parent`), so a binding to `engineering` reaches the
//! members of its teams, and a member of `payments-platform` counts as a member of a service owned
//! by `engineering`. Membership of a parent never counts for its children.

pub mod policy;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::catalog::{EntityRef, RelationType, Snapshot, Target};
pub use policy::{Approvers, ChannelCondition, Outcome, Policy, PolicyError};

/// An action, as named in `commands/*.toml` and in policy rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read catalog entities (`catalog.read`).
    CatalogRead,
    /// Run a golden-path template (`template.run`).
    TemplateRun,
    /// Roll a service back (`rollback`).
    Rollback,
    /// Approve someone else's request (`approve`).
    Approve,
    /// Manage scorecard digests (`digest.manage`).
    DigestManage,
    /// Read the audit log (`audit.read`).
    AuditRead,
    /// Explain a decision without acting (`policy.explain`).
    PolicyExplain,
    /// Needs no permission (`none`): help.
    Public,
}

/// Every action name, as accepted in policy files and `/idp can`.
pub const ACTION_NAMES: &[&str] = &[
    "catalog.read",
    "template.run",
    "rollback",
    "approve",
    "digest.manage",
    "audit.read",
    "policy.explain",
];

impl Action {
    /// Reads an action name.
    ///
    /// # Errors
    /// A message listing the known names.
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "catalog.read" => Ok(Self::CatalogRead),
            "template.run" => Ok(Self::TemplateRun),
            "rollback" => Ok(Self::Rollback),
            "approve" => Ok(Self::Approve),
            "digest.manage" => Ok(Self::DigestManage),
            "audit.read" => Ok(Self::AuditRead),
            "policy.explain" => Ok(Self::PolicyExplain),
            "none" => Ok(Self::Public),
            other => Err(format!(
                "unknown action `{other}` (known: {}, none)",
                ACTION_NAMES.join(", ")
            )),
        }
    }

    /// The action's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CatalogRead => "catalog.read",
            Self::TemplateRun => "template.run",
            Self::Rollback => "rollback",
            Self::Approve => "approve",
            Self::DigestManage => "digest.manage",
            Self::AuditRead => "audit.read",
            Self::PolicyExplain => "policy.explain",
            Self::Public => "none",
        }
    }
}

/// Where a request came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A Slack slash command or interaction.
    Slack {
        /// Workspace id (`T…`), or the enterprise id for org-wide installs.
        team_id: String,
        /// User id (`U…` or, on Enterprise Grid, `W…`).
        user_id: String,
        /// Channel id where the command was typed.
        channel_id: String,
    },
    /// The local shell on the operator's machine.
    Shell,
    /// The HTTP API, with a token.
    Api,
}

/// The kind of channel a request was made in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelKind {
    /// A channel whose name matches the incident pattern.
    Incident(String),
    /// A direct message with the bot.
    DirectMessage,
    /// Any other channel (name when known).
    Other(Option<String>),
}

impl ChannelKind {
    /// Classifies a channel from its name as Slack sends it in a slash command
    /// (`directmessage` for DMs, `privategroup` for private channels it cannot name).
    pub fn classify(name: Option<&str>, policy: &Policy) -> Self {
        match name {
            Some("directmessage") => Self::DirectMessage,
            // Slack's placeholder for a private channel or group DM whose name it withholds.
            Some("privategroup") | None => Self::Other(None),
            Some(n) if policy.is_incident_channel(n) => Self::Incident(n.to_owned()),
            other => Self::Other(other.map(str::to_owned)),
        }
    }
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Where the request came from.
    pub origin: Origin,
    /// The catalog User, or `None` for a guest.
    pub user: Option<EntityRef>,
    /// Why the caller is a guest, when they are (shown in replies).
    pub guest_reason: Option<String>,
    /// The channel the request was made in.
    pub channel: ChannelKind,
}

impl Caller {
    /// A caller with no catalog identity.
    pub fn guest(origin: Origin) -> Self {
        Self {
            origin,
            user: None,
            guest_reason: None,
            channel: ChannelKind::Other(None),
        }
    }

    /// A caller mapped to a catalog user.
    pub fn user(origin: Origin, user: EntityRef) -> Self {
        Self {
            origin,
            user: Some(user),
            guest_reason: None,
            channel: ChannelKind::Other(None),
        }
    }

    /// The same caller in another channel.
    pub fn in_channel(mut self, channel: ChannelKind) -> Self {
        self.channel = channel;
        self
    }
}

/// Facts about the target of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetFacts {
    /// The entity.
    pub entity: EntityRef,
    /// Its owner, if declared.
    pub owner: Option<EntityRef>,
    /// The system it is part of, if any.
    pub system: Option<EntityRef>,
}

impl TargetFacts {
    /// Reads the facts from the snapshot.
    pub fn of(snapshot: &Snapshot, index: u32) -> Self {
        let e = &snapshot.node(index).entity;
        Self {
            entity: e.entity_ref.clone(),
            // A group is its own owner for "member of the owning group" (running a template for
            // the team, managing its digests).
            owner: if e.entity_ref.kind.eq_ignore_ascii_case("group") {
                Some(e.entity_ref.clone())
            } else {
                snapshot.owner_of(index)
            },
            system: snapshot.system_of(index),
        }
    }
}

/// Whether the caller is on call for the target now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnCallStatus {
    /// On call (level 1) now.
    Yes,
    /// Not on call; who is, when known ("Mei Tanaka until 18:00 UTC").
    No(Option<String>),
    /// Could not be determined (provider down); treated as not on call.
    Unknown(String),
    /// Not relevant to this request.
    NotAsked,
}

/// Everything a decision looks at.
#[derive(Debug, Clone)]
pub struct AccessRequest<'a> {
    /// The action.
    pub action: Action,
    /// Who.
    pub caller: &'a Caller,
    /// The caller's groups, ancestors included (see the module docs).
    pub groups: &'a [EntityRef],
    /// The target, if the action has one.
    pub target: Option<&'a TargetFacts>,
    /// The environment, if the action has one (`production`, `staging`…).
    pub environment: Option<&'a str>,
    /// The caller's on-call status for the target.
    pub on_call: OnCallStatus,
    /// For `approve`: who asked for the change.
    pub requester: Option<&'a EntityRef>,
    /// The time of the decision.
    pub now: DateTime<Utc>,
}

/// A decision: the outcome, the rule that made it, and a reason a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Allow, deny or require approval.
    pub outcome: Outcome,
    /// The deciding rule, or `None` for the default denial.
    pub rule: Option<String>,
    /// Why, in words for the caller.
    pub reason: String,
}

impl Decision {
    /// Whether the request may go ahead without approval.
    pub fn allowed(&self) -> bool {
        self.outcome == Outcome::Allow
    }
}

/// The caller's groups: the groups they are a member of, and every ancestor of those.
pub fn groups_of(snapshot: &Snapshot, user: Option<&EntityRef>) -> Vec<EntityRef> {
    let Some(index) = user.and_then(|u| snapshot.get(u)) else {
        return Vec::new();
    };
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut stack: Vec<Target> = snapshot
        .related(index, RelationType::MemberOf)
        .cloned()
        .collect();
    while let Some(t) = stack.pop() {
        let r = snapshot.target_ref(&t);
        if !seen.insert(r.key()) {
            continue;
        }
        if let Target::Resolved(g) = t {
            stack.extend(snapshot.related(g, RelationType::ChildOf).cloned());
        }
        out.push(r);
    }
    out
}

fn is_production(env: &str) -> bool {
    crate::deploys::environment::canonical(env) == "production"
}

fn conditions_hold(
    policy: &Policy,
    when: &policy::Conditions,
    req: &AccessRequest<'_>,
    roles: &BTreeSet<String>,
) -> bool {
    if let Some(wanted) = &when.role
        && !wanted.iter().any(|r| roles.contains(r))
    {
        return false;
    }
    if let Some(excluded) = &when.not_role
        && excluded.iter().any(|r| roles.contains(r))
    {
        return false;
    }
    if let Some(want) = when.member_of_owner {
        let member = req.target.and_then(|t| t.owner.as_ref()).is_some_and(|o| {
            req.groups.iter().any(|g| g.same_as(o))
                || req.caller.user.as_ref().is_some_and(|u| u.same_as(o))
        });
        if member != want {
            return false;
        }
    }
    if let Some(want) = when.on_call
        && (req.on_call == OnCallStatus::Yes) != want
    {
        return false;
    }
    if let Some(env) = &when.environment {
        let Some(actual) = req.environment else {
            return false;
        };
        let matches = match env.as_str() {
            "production" => is_production(actual),
            "non-production" => !is_production(actual),
            other => crate::deploys::environment::same(other, actual),
        };
        if !matches {
            return false;
        }
    }
    if let Some(want) = when.channel {
        let actual = match req.caller.channel {
            ChannelKind::Incident(_) => ChannelCondition::Incident,
            ChannelKind::DirectMessage => ChannelCondition::DirectMessage,
            ChannelKind::Other(_) => ChannelCondition::Other,
        };
        if actual != want {
            return false;
        }
    }
    if let Some(want) = when.freeze
        && policy.freeze_at(req.now).is_some() != want
    {
        return false;
    }
    if let Some(want) = when.guest
        && req.caller.user.is_none() != want
    {
        return false;
    }
    if let Some(want) = when.requester {
        let is_requester = match (req.requester, &req.caller.user) {
            (Some(r), Some(me)) => r.same_as(me),
            _ => false,
        };
        if is_requester != want {
            return false;
        }
    }
    true
}

fn target_name(req: &AccessRequest<'_>) -> String {
    req.target
        .map_or_else(|| "this".to_owned(), |t| t.entity.name.clone())
}

/// Decides a request under a policy: the first matching rule wins; none → denied.
pub fn decide(policy: &Policy, req: &AccessRequest<'_>) -> Decision {
    let roles = policy.roles_of(req.caller.user.as_ref(), req.groups, req.target);
    let on_call_note = match (&req.on_call, req.action) {
        (OnCallStatus::No(current), Action::Rollback | Action::Approve) => Some(match current {
            Some(who) => format!(
                "You're not on call for {} (on call now: {who}).",
                target_name(req)
            ),
            None => format!("You're not on call for {}.", target_name(req)),
        }),
        (OnCallStatus::Unknown(why), Action::Rollback | Action::Approve) => Some(format!(
            "idp can't tell whether you're on call for {} ({why}), so it assumes you're not.",
            target_name(req)
        )),
        _ => None,
    };
    for rule in policy.rules() {
        if !rule.actions.contains(&req.action) || !conditions_hold(policy, &rule.when, req, &roles)
        {
            continue;
        }
        let base = rule.reason.clone().unwrap_or_else(|| match &rule.outcome {
            Outcome::Allow => format!("allowed by rule `{}`", rule.name),
            Outcome::Deny => format!("denied by rule `{}`", rule.name),
            Outcome::RequireApproval(_) => format!("rule `{}` asks for an approval", rule.name),
        });
        let mut reason = match (&rule.outcome, &on_call_note) {
            (Outcome::Allow, _) | (_, None) => base,
            (_, Some(note)) => format!("{note} {}", capitalize(&base)),
        };
        if let (Outcome::Deny, Some(f)) = (&rule.outcome, policy.freeze_at(req.now))
            && rule.when.freeze == Some(true)
        {
            reason = format!(
                "{reason} (freeze `{}` until {} UTC)",
                f.name,
                f.end.format("%Y-%m-%d %H:%M")
            );
        }
        return Decision {
            outcome: rule.outcome.clone(),
            rule: Some(rule.name.clone()),
            reason,
        };
    }
    let mut reason = format!(
        "no rule allows `{}` for you, so it is denied by default",
        req.action.as_str()
    );
    if req.caller.user.is_none() {
        reason.push_str(". idp doesn't know who you are in the catalog (guest)");
    }
    if let Some(note) = on_call_note {
        reason = format!("{note} {}", capitalize(&reason));
    }
    Decision {
        outcome: Outcome::Deny,
        rule: None,
        reason,
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// The decision for `action` on the entity at `target` (a snapshot index) with no environment
/// and no on-call question: the common case of every entry point that acts on one entity (a
/// template run for a team, re-checked by the worker before it delegates).
pub fn decide_on(
    policy: &Policy,
    snapshot: &Snapshot,
    caller: &Caller,
    action: Action,
    target: Option<u32>,
    now: DateTime<Utc>,
) -> Decision {
    let groups = groups_of(snapshot, caller.user.as_ref());
    let facts = target.map(|i| TargetFacts::of(snapshot, i));
    decide(
        policy,
        &AccessRequest {
            action,
            caller,
            groups: &groups,
            target: facts.as_ref(),
            environment: None,
            on_call: OnCallStatus::NotAsked,
            requester: None,
            now,
        },
    )
}
