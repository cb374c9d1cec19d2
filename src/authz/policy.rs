//! The policy file: roles, bindings, incident channels, change freezes and ordered rules, read from
//! YAML (see `policy.yaml` at the repository root for the format, commented). The first rule whose
//! action and conditions match decides; when none matches, the request is denied.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use regex::Regex;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::Action;
use crate::catalog::{DEFAULT_NAMESPACE, EntityRef};

/// The built-in policy (the repository's `policy.yaml`), used when `idp.toml` names none.
pub const DEFAULT_POLICY: &str = include_str!("../../policy.yaml");

/// A problem in a policy file, with its line when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(": line {l}")).unwrap_or_default())]
pub struct PolicyError {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: Option<u64>,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleSpec {
    #[serde(default)]
    includes: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeSpec {
    #[serde(default)]
    namespaces: Vec<String>,
    #[serde(default)]
    systems: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct BindingSpec {
    role: String,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    scope: ScopeSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FreezeSpec {
    name: String,
    start: String,
    end: String,
    time_zone: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn items(&self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s.clone()],
            Self::Many(v) => v.clone(),
        }
    }
}

/// The conditions of a rule; every one given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// The caller holds at least one of these roles.
    #[serde(default)]
    pub role: Option<Vec<String>>,
    /// The caller holds none of these roles.
    #[serde(default)]
    pub not_role: Option<Vec<String>>,
    /// The caller is (or is not) in the target's owning group or one of its child groups.
    #[serde(default)]
    pub member_of_owner: Option<bool>,
    /// The caller is (or is not) on call for the target now. Unknown counts as not on call.
    #[serde(default)]
    pub on_call: Option<bool>,
    /// `production`, `non-production`, or an environment name.
    #[serde(default)]
    pub environment: Option<String>,
    /// `incident`, `direct_message` or `other`.
    #[serde(default)]
    pub channel: Option<ChannelCondition>,
    /// A change freeze is (or is not) open.
    #[serde(default)]
    pub freeze: Option<bool>,
    /// The caller is (or is not) a guest (no catalog identity).
    #[serde(default)]
    pub guest: Option<bool>,
    /// The caller is (or is not) the requester of what is being approved.
    #[serde(default)]
    pub requester: Option<bool>,
}

/// A channel kind named in a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelCondition {
    /// A channel whose name matches `incident_channel_pattern`.
    Incident,
    /// A direct message with the bot.
    DirectMessage,
    /// Any other channel.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum OutcomeSpec {
    Allow,
    Deny,
    RequireApproval,
}

/// Who must approve a request that needs approval.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approvers {
    /// The on-call (level 1) of the target's owning group may approve.
    #[serde(default)]
    pub on_call_of_owner: bool,
    /// Holders of this role may approve.
    #[serde(default)]
    pub role: Option<String>,
    /// How many distinct approvers are needed (never the requester). Default 1.
    #[serde(default = "one")]
    pub count: u32,
}

impl Approvers {
    /// Who may approve, in words: "the owning team's on-call or a team-admin" ("an approver"
    /// when the rule names nobody). The count is left to the sentence around it.
    pub fn describe(&self) -> String {
        let mut who = Vec::new();
        if self.on_call_of_owner {
            who.push("the owning team's on-call".to_owned());
        }
        if let Some(role) = &self.role {
            who.push(format!("a {role}"));
        }
        if who.is_empty() {
            who.push("an approver".to_owned());
        }
        who.join(" or ")
    }
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    name: String,
    action: OneOrMany,
    #[serde(default)]
    when: Conditions,
    outcome: OutcomeSpec,
    #[serde(default)]
    approvers: Option<Approvers>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    roles: BTreeMap<String, RoleSpec>,
    #[serde(default)]
    bindings: Vec<Spanned<BindingSpec>>,
    #[serde(default)]
    incident_channel_pattern: Option<String>,
    #[serde(default)]
    freezes: Vec<Spanned<FreezeSpec>>,
    #[serde(default)]
    rules: Vec<Spanned<RuleSpec>>,
}

/// What a rule decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Go ahead.
    Allow,
    /// Refused.
    Deny,
    /// Allowed once these approvers agree.
    RequireApproval(Approvers),
}

/// A role binding.
#[derive(Debug, Clone)]
struct Binding {
    role: String,
    group: Option<EntityRef>,
    user: Option<EntityRef>,
    namespaces: Vec<String>,
    systems: Vec<String>,
    groups: Vec<String>,
    line: u64,
}

/// A change-freeze window, in UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freeze {
    /// Its name.
    pub name: String,
    /// Opens at.
    pub start: DateTime<Utc>,
    /// Closes at (exclusive).
    pub end: DateTime<Utc>,
}

/// One rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Its name, shown with every decision it makes.
    pub name: String,
    /// The line it starts on.
    pub line: u64,
    /// The actions it covers.
    pub actions: Vec<Action>,
    /// Its conditions.
    pub when: Conditions,
    /// What it decides.
    pub outcome: Outcome,
    /// The reason shown to people, if the rule gives one.
    pub reason: Option<String>,
}

/// A compiled policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Role name → the roles it includes, itself included (transitively closed).
    roles: BTreeMap<String, BTreeSet<String>>,
    bindings: Vec<Binding>,
    incident: Option<Regex>,
    freezes: Vec<Freeze>,
    rules: Vec<Rule>,
    /// Problems that do not stop idp (e.g. rules that can never match), with lines.
    pub warnings: Vec<PolicyError>,
}

fn parse_local(text: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M"))
        .or_else(|_| {
            NaiveDateTime::parse_from_str(&format!("{text}T00:00:00"), "%Y-%m-%dT%H:%M:%S")
        })
        .ok()?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|d| d.with_timezone(&Utc))
}

impl Policy {
    /// Reads a policy from YAML text; `file` names it in errors.
    ///
    /// # Errors
    /// The first [`PolicyError`] that makes the policy unusable (syntax, unknown field, unknown
    /// role or action, bad pattern, time zone or time). Softer problems land in `warnings`.
    pub fn from_yaml(text: &str, file: &str) -> Result<Self, PolicyError> {
        let err = |line: Option<u64>, message: String| PolicyError {
            file: file.to_owned(),
            line,
            message,
        };
        let spec: PolicyFile = serde_saphyr::from_str(text)
            .map_err(|e| err(None, e.to_string().lines().next().unwrap_or("").to_owned()))?;

        let mut roles: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for name in spec.roles.keys() {
            let mut closure = BTreeSet::new();
            let mut stack = vec![name.clone()];
            while let Some(r) = stack.pop() {
                if !closure.insert(r.clone()) {
                    continue;
                }
                match spec.roles.get(&r) {
                    Some(role) => stack.extend(role.includes.iter().cloned()),
                    None => {
                        return Err(err(
                            None,
                            format!("role `{name}` includes unknown role `{r}`"),
                        ));
                    }
                }
            }
            roles.insert(name.clone(), closure);
        }
        let known_role = |r: &str| roles.contains_key(r);

        let mut bindings = Vec::new();
        for b in &spec.bindings {
            let line = b.referenced.line();
            let v = &b.value;
            if !known_role(&v.role) {
                return Err(err(
                    Some(line),
                    format!("binding names unknown role `{}`", v.role),
                ));
            }
            if v.group.is_some() == v.user.is_some() {
                return Err(err(
                    Some(line),
                    "a binding names exactly one of `group` or `user`".to_owned(),
                ));
            }
            let parse = |text: &str, kind: &str| {
                EntityRef::parse(text, Some(kind), DEFAULT_NAMESPACE)
                    .map_err(|e| err(Some(line), e.to_string()))
            };
            bindings.push(Binding {
                role: v.role.clone(),
                group: v.group.as_deref().map(|g| parse(g, "Group")).transpose()?,
                user: v.user.as_deref().map(|u| parse(u, "User")).transpose()?,
                namespaces: v
                    .scope
                    .namespaces
                    .iter()
                    .map(|s| s.to_ascii_lowercase())
                    .collect(),
                systems: v
                    .scope
                    .systems
                    .iter()
                    .map(|s| s.to_ascii_lowercase())
                    .collect(),
                groups: v
                    .scope
                    .groups
                    .iter()
                    .map(|s| s.to_ascii_lowercase())
                    .collect(),
                line,
            });
        }

        let incident = match &spec.incident_channel_pattern {
            Some(p) => Some(Regex::new(p).map_err(|e| {
                err(
                    None,
                    format!("incident_channel_pattern is not a valid regex: {e}"),
                )
            })?),
            None => None,
        };

        let mut freezes = Vec::new();
        for f in &spec.freezes {
            let line = f.referenced.line();
            let v = &f.value;
            let tz: chrono_tz::Tz = v.time_zone.parse().map_err(|_| {
                err(
                    Some(line),
                    format!("freeze `{}`: unknown time zone `{}`", v.name, v.time_zone),
                )
            })?;
            let start = parse_local(&v.start, tz).ok_or_else(|| {
                err(
                    Some(line),
                    format!(
                        "freeze `{}`: start `{}` is not a date-time",
                        v.name, v.start
                    ),
                )
            })?;
            let end = parse_local(&v.end, tz).ok_or_else(|| {
                err(
                    Some(line),
                    format!("freeze `{}`: end `{}` is not a date-time", v.name, v.end),
                )
            })?;
            if end <= start {
                return Err(err(
                    Some(line),
                    format!("freeze `{}` ends before it starts", v.name),
                ));
            }
            freezes.push(Freeze {
                name: v.name.clone(),
                start,
                end,
            });
        }

        let mut rules: Vec<Rule> = Vec::new();
        let mut warnings = Vec::new();
        let mut names = BTreeSet::new();
        for r in &spec.rules {
            let line = r.referenced.line();
            let v = &r.value;
            if !names.insert(v.name.clone()) {
                return Err(err(
                    Some(line),
                    format!("rule name `{}` is used twice", v.name),
                ));
            }
            let mut actions = Vec::new();
            for a in v.action.items() {
                actions.push(
                    Action::parse(&a)
                        .map_err(|e| err(Some(line), format!("rule `{}`: {e}", v.name)))?,
                );
            }
            for role in v.when.role.iter().chain(v.when.not_role.iter()).flatten() {
                if !known_role(role) {
                    return Err(err(
                        Some(line),
                        format!("rule `{}` names unknown role `{role}`", v.name),
                    ));
                }
            }
            let outcome = match (v.outcome, &v.approvers) {
                (OutcomeSpec::Allow, None) => Outcome::Allow,
                (OutcomeSpec::Deny, None) => Outcome::Deny,
                (OutcomeSpec::RequireApproval, Some(a)) => {
                    if let Some(role) = &a.role
                        && !known_role(role)
                    {
                        return Err(err(
                            Some(line),
                            format!("rule `{}`: approvers name unknown role `{role}`", v.name),
                        ));
                    }
                    if !a.on_call_of_owner && a.role.is_none() {
                        return Err(err(
                            Some(line),
                            format!(
                                "rule `{}`: approvers need `on_call_of_owner: true` or a `role`",
                                v.name
                            ),
                        ));
                    }
                    if a.count == 0 {
                        return Err(err(
                            Some(line),
                            format!("rule `{}`: approvers count must be at least 1", v.name),
                        ));
                    }
                    Outcome::RequireApproval(a.clone())
                }
                (OutcomeSpec::RequireApproval, None) => {
                    return Err(err(
                        Some(line),
                        format!("rule `{}`: require_approval needs `approvers`", v.name),
                    ));
                }
                (_, Some(_)) => {
                    return Err(err(
                        Some(line),
                        format!(
                            "rule `{}`: `approvers` only go with require_approval",
                            v.name
                        ),
                    ));
                }
            };
            if v.when.environment.is_some()
                && !matches!(v.when.environment.as_deref(), Some(e) if !e.trim().is_empty())
            {
                return Err(err(
                    Some(line),
                    format!("rule `{}`: environment is empty", v.name),
                ));
            }
            if v.when.channel == Some(ChannelCondition::Incident) && incident.is_none() {
                warnings.push(err(
                    Some(line),
                    format!("rule `{}` can never match: it needs an incident channel but no incident_channel_pattern is set", v.name),
                ));
            }
            if let (Some(has), Some(lacks)) = (&v.when.role, &v.when.not_role)
                && has.iter().all(|r| {
                    lacks
                        .iter()
                        .any(|l| roles.get(r).is_some_and(|c| c.contains(l)))
                })
            {
                warnings.push(err(
                    Some(line),
                    format!("rule `{}` can never match: every role it asks for includes a role it excludes", v.name),
                ));
            }
            for earlier in &rules {
                if earlier.when == Conditions::default()
                    && actions.iter().all(|a| earlier.actions.contains(a))
                {
                    warnings.push(err(
                        Some(line),
                        format!(
                            "rule `{}` can never match: rule `{}` (line {}) already decides every request for its actions",
                            v.name, earlier.name, earlier.line
                        ),
                    ));
                    break;
                }
            }
            rules.push(Rule {
                name: v.name.clone(),
                line,
                actions,
                when: v.when.clone(),
                outcome,
                reason: v.reason.clone(),
            });
        }
        Ok(Self {
            roles,
            bindings,
            incident,
            freezes,
            rules,
            warnings,
        })
    }

    /// Reads a policy file.
    ///
    /// # Errors
    /// [`PolicyError`] naming the file (and line).
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
            file: shown.clone(),
            line: None,
            message: e.to_string(),
        })?;
        Self::from_yaml(&text, &shown)
    }

    /// The built-in default policy.
    pub fn builtin() -> Self {
        Self::from_yaml(DEFAULT_POLICY, "policy.yaml (built in)")
            .unwrap_or_else(|_| Self::deny_all())
    }

    /// A policy that allows nothing: every request is denied by default.
    pub fn deny_all() -> Self {
        Self {
            roles: BTreeMap::new(),
            bindings: Vec::new(),
            incident: None,
            freezes: Vec::new(),
            rules: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether a channel name is an incident channel.
    pub fn is_incident_channel(&self, name: &str) -> bool {
        self.incident.as_ref().is_some_and(|re| re.is_match(name))
    }

    /// The freeze open at `now`, if any.
    pub fn freeze_at(&self, now: DateTime<Utc>) -> Option<&Freeze> {
        self.freezes.iter().find(|f| f.start <= now && now < f.end)
    }

    /// Groups and users the bindings name, for checking them against the catalog: (line, ref).
    pub fn named_refs(&self) -> Vec<(u64, EntityRef)> {
        self.bindings
            .iter()
            .flat_map(|b| {
                b.group
                    .iter()
                    .chain(b.user.iter())
                    .map(move |r| (b.line, r.clone()))
            })
            .collect()
    }

    /// The roles a caller holds for a target (or regardless of target when `target` is `None`,
    /// counting scoped bindings too), each with everything it includes.
    pub fn roles_of(
        &self,
        user: Option<&EntityRef>,
        groups: &[EntityRef],
        target: Option<&super::TargetFacts>,
    ) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for b in &self.bindings {
            let holds = match (&b.user, &b.group) {
                (Some(u), _) => user.is_some_and(|me| me.same_as(u)),
                (None, Some(g)) => groups.iter().any(|mine| mine.same_as(g)),
                (None, None) => false,
            };
            if !holds {
                continue;
            }
            if let Some(t) = target {
                let in_ns = b.namespaces.is_empty()
                    || b.namespaces
                        .contains(&t.entity.namespace.to_ascii_lowercase());
                let in_sys = b.systems.is_empty()
                    || t.system
                        .as_ref()
                        .is_some_and(|s| b.systems.contains(&s.name.to_ascii_lowercase()));
                let in_group = b.groups.is_empty()
                    || t.owner
                        .as_ref()
                        .is_some_and(|o| b.groups.contains(&o.name.to_ascii_lowercase()));
                if !(in_ns && in_sys && in_group) {
                    continue;
                }
            }
            if let Some(closure) = self.roles.get(&b.role) {
                out.extend(closure.iter().cloned());
            }
        }
        out
    }
}
