//! Turning an [`Outcome`] into a Slack reply: Block Kit `blocks` plus a plain `text` fallback
//! (<https://docs.slack.dev/reference/block-kit/blocks>). All user-visible wording lives here.
//!
//! Every catalog or user string is escaped with [`mrkdwn::escape`] before it enters mrkdwn, and
//! Block Kit's limits are enforced by construction: at most [`MAX_BLOCKS`] blocks, section text
//! [`MAX_SECTION`] characters, header [`MAX_HEADER`], field [`MAX_FIELD`] (at most 10 fields),
//! context at most 10 elements; whatever does not fit is cut with "…and N more".

pub mod base;
pub mod digest_message;
pub mod home;
pub mod modal;
pub mod mrkdwn;
pub mod rollback_message;
pub mod run_message;
pub mod scorecard_message;

use slack_morphism::prelude::*;

use crate::authz::{Decision, OnCallStatus, Outcome as Verdict};
use crate::catalog::{Entity, EntityRef, RelationType, Snapshot, Target};
use crate::command::{ParseError, REGISTRY};
use crate::handlers::{Explanation, Outcome, Whoami};
use crate::oncall::{OnCall, OnCallError, OnCallSource, Shift};
pub(crate) use base::{Blocks, LIST_LINES, code};
pub use base::{
    EphemeralResponse, MAX_BLOCKS, MAX_BUTTON, MAX_CONTEXT, MAX_FIELD, MAX_FIELDS, MAX_HEADER,
    MAX_SECTION, Reply, escape_within, join_lines, truncate,
};
use mrkdwn::escape;

fn entity_label(e: &Entity) -> String {
    match (e.title(), e.profile().display_name) {
        (Some(t), _) | (None, Some(t)) if t != e.entity_ref.name => {
            format!("{} ({})", escape_within(t, 150), code(&e.entity_ref.name))
        }
        _ => code(&e.entity_ref.name),
    }
}

fn target_label(snapshot: &Snapshot, target: &Target) -> String {
    match target {
        Target::Resolved(i) => entity_label(&snapshot.node(*i).entity),
        Target::Unresolved(r) => format!("{} _(not in the catalog)_", code(&r.short())),
    }
}

fn person_line(snapshot: &Snapshot, target: &Target) -> String {
    match target {
        Target::Resolved(i) => {
            let e = &snapshot.node(*i).entity;
            let name = escape_within(e.display_name(), 100);
            match e.profile().email {
                Some(email) => format!("• {name} · {}", escape_within(email, 200)),
                None => format!("• {name}"),
            }
        }
        Target::Unresolved(r) => format!("• {} _(not in the catalog)_", code(&r.short())),
    }
}

/// The repository of an entity: `github.com/project-slug`, else `backstage.io/source-location`.
pub fn repo_link(e: &Entity) -> Option<(String, String)> {
    if let Some(slug) = e.annotation("github.com/project-slug") {
        return Some((format!("https://github.com/{slug}"), slug.to_owned()));
    }
    let loc = e.annotation("backstage.io/source-location")?;
    let url = loc.strip_prefix("url:").unwrap_or(loc).to_owned();
    Some((url.clone(), url))
}

fn links_lines(e: &Entity) -> Vec<String> {
    e.links()
        .map(|l| {
            let title = l.title.unwrap_or(l.url);
            format!(
                "• {}",
                mrkdwn::link(&truncate(l.url, 2900), &truncate(title, 200))
            )
        })
        .collect()
}

fn owner_line(snapshot: &Snapshot, idx: u32) -> String {
    let owners: Vec<String> = snapshot
        .related(idx, RelationType::OwnedBy)
        .map(|t| target_label(snapshot, t))
        .collect();
    if owners.is_empty() {
        "_no owner declared_".to_owned()
    } else {
        owners.join(", ")
    }
}

fn field(label: &str, value: Option<&str>) -> Option<String> {
    value.map(|v| format!("*{label}*\n{}", escape_within(v, 500)))
}

fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map_or_else(
        || "further notice".to_owned(),
        |t| format!("{} UTC", t.format("%a %d %b %H:%M")),
    )
}

fn shift_line(shift: &Shift) -> String {
    let who = escape_within(&shift.person.name, 100);
    let who = match &shift.person.user {
        Some(u) => format!("{who} ({})", code(&u.name)),
        None => who,
    };
    format!("{who} until {}", when(shift.end))
}

fn on_call_text(answer: &Result<OnCall, OnCallError>) -> String {
    match answer {
        Ok(a) => {
            let primary: Vec<String> = a.primary().map(shift_line).collect();
            if primary.is_empty() {
                "nobody is on call right now".to_owned()
            } else {
                primary.join(", ")
            }
        }
        Err(e) => format!("_{}_", escape(&e.to_string())),
    }
}

fn render_owner(snapshot: &Snapshot, idx: u32, on_call: &Result<OnCall, OnCallError>) -> Reply {
    let node = snapshot.node(idx);
    let e = &node.entity;
    let mut b = Blocks::default();
    b.header(&format!("Who owns {}", e.display_name()));
    let owner_target = snapshot.related(idx, RelationType::OwnedBy).next().cloned();
    let owner_name = owner_target.as_ref().map(|t| match t {
        Target::Resolved(i) => snapshot.node(*i).entity.display_name().to_owned(),
        Target::Unresolved(r) => r.short(),
    });
    let mut text = format!(
        "*Owner:* {}\n*On call:* {}",
        owner_line(snapshot, idx),
        on_call_text(on_call)
    );
    if let Some(Target::Resolved(o)) = &owner_target {
        let owner = &snapshot.node(*o).entity;
        if let Some(email) = owner.profile().email {
            text.push_str(&format!("\n*Team email:* {}", escape_within(email, 200)));
        }
        let parents: Vec<String> = snapshot
            .related(*o, RelationType::ChildOf)
            .map(|t| target_label(snapshot, t))
            .collect();
        if !parents.is_empty() {
            text.push_str(&format!("\n*Parent team:* {}", parents.join(", ")));
        }
    }
    b.section(text);
    if let Some(Target::Resolved(o)) = &owner_target {
        let owner = &snapshot.node(*o).entity;
        if owner.entity_ref.kind.eq_ignore_ascii_case("group") {
            let members: Vec<String> = snapshot
                .related(*o, RelationType::HasMember)
                .map(|t| person_line(snapshot, t))
                .collect();
            let body = if members.is_empty() {
                "_no members listed in the catalog_".to_owned()
            } else {
                join_lines(&members, MAX_SECTION - 40, LIST_LINES)
            };
            b.section(format!("*Members ({}):*\n{body}", members.len()));
        }
    }
    let mut fields = vec![format!("*Kind*\n{}", escape(&e.entity_ref.kind))];
    fields.extend(field("Type", e.spec_type()));
    fields.extend(field("Lifecycle", e.lifecycle()));
    let systems: Vec<String> = snapshot
        .related(idx, RelationType::PartOf)
        .filter(|t| snapshot.target_ref(t).kind.eq_ignore_ascii_case("system"))
        .map(|t| target_label(snapshot, t))
        .collect();
    if !systems.is_empty() {
        fields.push(format!("*System*\n{}", systems.join(", ")));
    }
    if let Some((url, label)) = repo_link(e) {
        fields.push(format!("*Repository*\n{}", mrkdwn::link(&url, &label)));
    }
    b.fields(fields);
    let links = links_lines(e);
    if !links.is_empty() {
        b.section(format!(
            "*Links:*\n{}",
            join_lines(&links, MAX_SECTION - 20, LIST_LINES)
        ));
    }
    b.context(vec![format!(
        "{} · `/idp service {}` shows the whole card",
        code(&e.entity_ref.short()),
        escape(&if e.entity_ref.kind.eq_ignore_ascii_case("component") {
            e.entity_ref.name.clone()
        } else {
            e.entity_ref.short()
        })
    )]);
    let text = match owner_name {
        Some(owner) => format!("{} is owned by {}", e.entity_ref.name, owner),
        None => format!("{} has no owner declared", e.entity_ref.name),
    };
    b.finish(&text)
}

fn relation_list(snapshot: &Snapshot, idx: u32, rel: RelationType) -> Vec<String> {
    snapshot
        .related(idx, rel)
        .map(|t| format!("• {}", target_label(snapshot, t)))
        .collect()
}

/// The annotations shown on a service card, with their labels. The PagerDuty integration key is a
/// secret for sending events: only its presence is shown.
const CARD_ANNOTATIONS: &[(&str, &str)] = &[
    ("pagerduty.com/service-id", "PagerDuty service"),
    ("argocd/app-name", "Argo CD app"),
    ("argocd/app-selector", "Argo CD selector"),
    ("backstage.io/kubernetes-id", "Kubernetes id"),
    ("sonarqube.org/project-key", "SonarQube"),
];

/// One deploy on one line: `*1.5.0* succeeded · production · Mon 30 Nov 09:03 UTC · by mei · link`.
fn deploy_line(d: &crate::deploys::Deployment, with_environment: bool) -> String {
    let mut parts = vec![format!(
        "*{}* {}",
        escape_within(&d.version, 100),
        d.status.as_str()
    )];
    if with_environment {
        parts.push(escape_within(&d.environment, 100));
    }
    parts.push(match d.sort_time() {
        Some(t) => format!("{} UTC", t.format("%a %d %b %H:%M")),
        None => "time unknown".to_owned(),
    });
    if let Some(by) = &d.deployed_by {
        parts.push(format!("by {}", escape_within(by, 100)));
    }
    if let Some(url) = &d.url {
        parts.push(crate::slack::mrkdwn::link(url, "link"));
    }
    parts.join(" · ")
}

fn render_deploys(
    snapshot: &Snapshot,
    idx: u32,
    environment: Option<&str>,
    history: &[crate::deploys::Deployment],
) -> Reply {
    let name = &snapshot.node(idx).entity.entity_ref.name;
    let mut b = Blocks::default();
    b.header(&match environment {
        Some(env) => format!("Deploys: {name} in {env}"),
        None => format!("Deploys: {name}"),
    });
    if history.is_empty() {
        b.section(
            "No deploys are known yet. CI and GitOps tools report them to idp's `/hooks/events`."
                .to_owned(),
        );
        return b.finish(&format!("No deploys of {name} are known"));
    }
    let lines: Vec<String> = history
        .iter()
        .map(|d| format!("• {}", deploy_line(d, environment.is_none())))
        .collect();
    b.section(join_lines(&lines, MAX_SECTION, 15));
    b.context(vec!["Newest first".to_owned()]);
    b.finish(&format!("{} recent deploys of {name}", history.len()))
}

fn render_service(snapshot: &Snapshot, idx: u32, current: &[crate::deploys::Deployment]) -> Reply {
    let e = &snapshot.node(idx).entity;
    let mut b = Blocks::default();
    b.header(e.display_name());
    if let Some(d) = e.description() {
        b.section(escape_within(d.trim(), 1500));
    }
    let mut fields = vec![
        format!("*Kind*\n{}", escape(&e.entity_ref.kind)),
        format!("*Owner*\n{}", owner_line(snapshot, idx)),
    ];
    fields.extend(field("Type", e.spec_type()));
    fields.extend(field("Lifecycle", e.lifecycle()));
    let parts: Vec<(EntityRef, String)> = snapshot
        .related(idx, RelationType::PartOf)
        .map(|t| (snapshot.target_ref(t), target_label(snapshot, t)))
        .collect();
    for (r, label) in &parts {
        fields.push(format!("*{}*\n{label}", escape(&r.kind)));
    }
    // The domain comes through the system.
    for t in snapshot.related(idx, RelationType::PartOf) {
        if let Target::Resolved(sys) = t
            && snapshot
                .node(*sys)
                .entity
                .entity_ref
                .kind
                .eq_ignore_ascii_case("system")
        {
            for d in snapshot.related(*sys, RelationType::PartOf) {
                fields.push(format!("*Domain*\n{}", target_label(snapshot, d)));
            }
        }
    }
    if !e
        .entity_ref
        .namespace
        .eq_ignore_ascii_case(crate::catalog::DEFAULT_NAMESPACE)
    {
        fields.push(format!("*Namespace*\n{}", escape(&e.entity_ref.namespace)));
    }
    if e.tags().len() != 0 {
        fields.push(format!(
            "*Tags*\n{}",
            e.tags().map(code).collect::<Vec<_>>().join(" ")
        ));
    }
    b.fields(fields);
    if !current.is_empty() {
        let lines: Vec<String> = current
            .iter()
            .map(|d| {
                format!(
                    "• {}: {}",
                    escape_within(&d.environment, 100),
                    deploy_line(d, false)
                )
            })
            .collect();
        b.section(format!(
            "*Running now*\n{}",
            join_lines(&lines, MAX_SECTION - 20, 10)
        ));
    }
    let mut annotations: Vec<String> = Vec::new();
    if let Some((url, label)) = repo_link(e) {
        annotations.push(format!("• *Repository:* {}", mrkdwn::link(&url, &label)));
    }
    for (key, label) in CARD_ANNOTATIONS {
        if let Some(v) = e.annotation(key) {
            annotations.push(format!("• *{label}:* {}", code(&truncate(v, 300))));
        }
    }
    if e.annotation("backstage.io/techdocs-ref").is_some() {
        annotations.push("• *TechDocs:* published with the repository".to_owned());
    }
    if e.annotation("pagerduty.com/integration-key").is_some() {
        annotations.push("• *PagerDuty integration key:* set (not shown)".to_owned());
    }
    if !annotations.is_empty() {
        b.section(join_lines(&annotations, MAX_SECTION, LIST_LINES));
    }
    let links = links_lines(e);
    if !links.is_empty() {
        b.section(format!(
            "*Links:*\n{}",
            join_lines(&links, MAX_SECTION - 20, LIST_LINES)
        ));
    }
    for (rel, title) in [
        (RelationType::DependsOn, "Depends on"),
        (RelationType::DependencyOf, "Dependents"),
        (RelationType::ProvidesApi, "APIs provided"),
        (RelationType::ConsumesApi, "APIs consumed"),
        (RelationType::ApiProvidedBy, "Provided by"),
        (RelationType::ApiConsumedBy, "Consumed by"),
        (RelationType::HasPart, "Parts"),
    ] {
        let lines = relation_list(snapshot, idx, rel);
        if !lines.is_empty() {
            b.section(format!(
                "*{title} ({}):*\n{}",
                lines.len(),
                join_lines(&lines, MAX_SECTION - 40, LIST_LINES)
            ));
        }
    }
    b.context(vec![code(&e.entity_ref.short())]);
    let text = format!(
        "{}: {} owned by {}",
        e.entity_ref.name,
        e.entity_ref.kind,
        owner_plain(snapshot, idx)
    );
    b.finish(&text)
}

fn owner_plain(snapshot: &Snapshot, idx: u32) -> String {
    snapshot
        .related(idx, RelationType::OwnedBy)
        .next()
        .map(|t| snapshot.target_ref(t).name)
        .unwrap_or_else(|| "nobody".to_owned())
}

fn render_team(snapshot: &Snapshot, idx: u32) -> Reply {
    let e = &snapshot.node(idx).entity;
    let mut b = Blocks::default();
    b.header(e.display_name());
    let mut text = Vec::new();
    if let Some(d) = e.description() {
        text.push(escape_within(d.trim(), 1000));
    }
    if let Some(email) = e.profile().email {
        text.push(format!("*Email:* {}", escape_within(email, 200)));
    }
    let parents = relation_list(snapshot, idx, RelationType::ChildOf);
    if !parents.is_empty() {
        text.push(format!("*Parent:* {}", parents.join(" ").replace("• ", "")));
    }
    let children = relation_list(snapshot, idx, RelationType::ParentOf);
    if !children.is_empty() {
        text.push(format!(
            "*Child teams ({}):*\n{}",
            children.len(),
            join_lines(&children, 1200, LIST_LINES)
        ));
    }
    b.section(text.join("\n"));
    let members: Vec<String> = snapshot
        .related(idx, RelationType::HasMember)
        .map(|t| person_line(snapshot, t))
        .collect();
    b.section(if members.is_empty() {
        "*Members:* _none listed in the catalog_".to_owned()
    } else {
        format!(
            "*Members ({}):*\n{}",
            members.len(),
            join_lines(&members, MAX_SECTION - 40, LIST_LINES)
        )
    });
    let mut by_kind: Vec<(String, Vec<String>)> = Vec::new();
    for t in snapshot.related(idx, RelationType::OwnerOf) {
        let r = snapshot.target_ref(t);
        let label = code(&r.name);
        match by_kind
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(&r.kind))
        {
            Some((_, v)) => v.push(label),
            None => by_kind.push((r.kind.clone(), vec![label])),
        }
    }
    by_kind.sort_by(|a, b| a.0.cmp(&b.0));
    if by_kind.is_empty() {
        b.section("*Owns:* _nothing in the catalog_".to_owned());
    } else {
        let lines: Vec<String> = by_kind
            .iter()
            .map(|(kind, names)| {
                let shown: Vec<String> = names.iter().take(20).cloned().collect();
                let more = if names.len() > 20 {
                    format!(" …and {} more", names.len() - 20)
                } else {
                    String::new()
                };
                format!(
                    "*{} ({})*: {}{more}",
                    escape(kind),
                    names.len(),
                    shown.join(", ")
                )
            })
            .collect();
        b.section(format!(
            "*Owns:*\n{}",
            join_lines(&lines, MAX_SECTION - 10, LIST_LINES)
        ));
    }
    b.context(vec![code(&e.entity_ref.short())]);
    b.finish(&format!(
        "{}: {} member{}",
        e.entity_ref.name,
        members.len(),
        if members.len() == 1 { "" } else { "s" }
    ))
}

fn render_search(snapshot: &Snapshot, words: &[String], hits: &[u32], total: usize) -> Reply {
    let mut b = Blocks::default();
    let phrase = words.join(" ");
    b.header(&format!("Search: {phrase}"));
    if hits.is_empty() {
        b.section(format!("Nothing in the catalog matches {}. Every word must match a name, title, description, tag, type or owner.", code(&phrase)));
        return b.finish(&format!("No matches for {phrase}"));
    }
    let lines: Vec<String> = hits
        .iter()
        .map(|&i| {
            let e = &snapshot.node(i).entity;
            let mut line = format!(
                "• {} · {}",
                entity_label(e),
                escape(&e.entity_ref.kind.to_ascii_lowercase())
            );
            if let Some(t) = e.spec_type() {
                line.push_str(&format!(" ({})", escape_within(t, 40)));
            }
            if let Some(o) = snapshot.owner_name(i) {
                line.push_str(&format!(" · owner {}", code(o)));
            }
            if let Some(d) = e.description() {
                line.push_str(&format!(
                    "\n      {}",
                    escape_within(d.trim().lines().next().unwrap_or(""), 150)
                ));
            }
            line
        })
        .collect();
    for line in lines {
        b.section(line);
    }
    let more = total.saturating_sub(hits.len());
    let note = if more > 0 {
        format!(
            "Showing the {} best of {total} matches ({more} more). Add words to narrow it down.",
            hits.len()
        )
    } else {
        format!("{total} match{}.", if total == 1 { "" } else { "es" })
    };
    b.context(vec![note]);
    b.finish(&format!(
        "{total} match{} for {phrase}",
        if total == 1 { "" } else { "es" }
    ))
}

fn render_help(topic: Option<&crate::command::CommandSpec>) -> Reply {
    let mut b = Blocks::default();
    match topic {
        None => {
            b.header("idp: your developer portal in Slack");
            let lines: Vec<String> = REGISTRY
                .iter()
                .map(|s| format!("`/idp {}` · {}", escape(&s.usage), escape(&s.summary)))
                .collect();
            b.section(join_lines(&lines, MAX_SECTION, usize::MAX));
            b.context(vec![
                "`/idp help &lt;command&gt;` shows details and examples.".to_owned(),
            ]);
            b.finish(&format!(
                "idp commands: {}",
                REGISTRY
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
        Some(spec) => {
            b.header(&format!("/idp {}", spec.name));
            let mut text = format!(
                "{}\n*Usage:* `/idp {}`",
                escape(&spec.summary),
                escape(&spec.usage)
            );
            if !spec.aliases.is_empty() {
                text.push_str(&format!(
                    "\n*Also:* {}",
                    spec.aliases
                        .iter()
                        .map(|a| code(a))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            for a in &spec.arguments {
                text.push_str(&format!(
                    "\n• `{}`{}: {}",
                    escape(&a.name),
                    if a.required { "" } else { " (optional)" },
                    escape(&a.help)
                ));
            }
            b.section(text);
            if !spec.examples.is_empty() {
                let ex: Vec<String> = spec
                    .examples
                    .iter()
                    .map(|e| format!("`/idp {}`", escape(e)))
                    .collect();
                b.section(format!("*Examples:*\n{}", ex.join("\n")));
            }
            b.finish(&format!("/idp {}", spec.usage))
        }
    }
}

fn suggestion_text(suggestions: &[String], command: &str) -> String {
    if suggestions.is_empty() {
        return String::new();
    }
    let list: Vec<String> = suggestions
        .iter()
        .map(|s| {
            if command.is_empty() {
                code(&format!("/idp {s}"))
            } else {
                code(&format!("/idp {command} {s}"))
            }
        })
        .collect();
    format!("\nDid you mean {}?", list.join(", "))
}

fn pick_hint(snapshot: &Snapshot, candidates: &[u32], command: &str) -> Vec<String> {
    let refs: Vec<&EntityRef> = candidates
        .iter()
        .map(|&i| &snapshot.node(i).entity.entity_ref)
        .collect();
    let kinds_differ = refs
        .iter()
        .any(|r| !r.kind.eq_ignore_ascii_case(&refs[0].kind));
    let ns_differ = refs
        .iter()
        .any(|r| !r.namespace.eq_ignore_ascii_case(&refs[0].namespace));
    refs.iter()
        .map(|r| {
            let mut q = String::new();
            if kinds_differ {
                q.push_str(&r.kind.to_ascii_lowercase());
                q.push(':');
            }
            if ns_differ {
                q.push_str(&r.namespace);
                q.push('/');
            }
            q.push_str(&r.name);
            format!(
                "• {} · {}",
                code(&format!("/idp {command} {q}")),
                owner_line_for(snapshot, r)
            )
        })
        .collect()
}

fn owner_line_for(snapshot: &Snapshot, r: &EntityRef) -> String {
    snapshot.get(r).map_or_else(String::new, |i| {
        format!("owned by {}", owner_line(snapshot, i))
    })
}

fn render_error(message: String, fallback: String) -> Reply {
    let mut b = Blocks::default();
    b.section(message);
    b.context(vec!["`/idp help` lists every command.".to_owned()]);
    b.finish(&fallback)
}

/// Renders an outcome computed on `snapshot`.
pub fn render(snapshot: &Snapshot, outcome: &Outcome) -> Reply {
    match outcome {
        Outcome::Owner(i, on_call) => render_owner(snapshot, *i, on_call),
        Outcome::OnCall(i, answer) => render_oncall(snapshot, *i, answer),
        Outcome::Whoami(w) => render_whoami(snapshot, w),
        Outcome::Explain(x) => render_explain(snapshot, x),
        Outcome::Service(i, current) => render_service(snapshot, *i, current),
        Outcome::Deploys {
            target,
            environment,
            history,
        } => render_deploys(snapshot, *target, environment.as_deref(), history),
        Outcome::Team(i) => render_team(snapshot, *i),
        Outcome::Search { words, hits, total } => render_search(snapshot, words, hits, *total),
        Outcome::Help(topic) => render_help(*topic),
        Outcome::HelpUnknown { topic, suggestions } => render_error(
            format!(
                "There is no command {}.{}",
                code(topic),
                suggestion_text(suggestions, "")
            ),
            format!("No command {topic}"),
        ),
        Outcome::NotFound {
            what,
            query,
            suggestions,
            command,
        } => {
            let extra = if snapshot.is_empty() {
                "\nThe catalog is empty: has a sync run? (`idp catalog sync`)".to_owned()
            } else {
                String::new()
            };
            render_error(
                format!(
                    "I can't find a {what} called {} in the catalog.{}{extra}",
                    code(query),
                    suggestion_text(suggestions, command)
                ),
                format!("No {what} called {query}"),
            )
        }
        Outcome::Ambiguous {
            query,
            candidates,
            command,
        } => {
            let lines = pick_hint(snapshot, candidates, command);
            render_error(
                format!(
                    "{} matches {} entities. Pick one:\n{}",
                    code(query),
                    candidates.len(),
                    join_lines(&lines, MAX_SECTION - 100, LIST_LINES)
                ),
                format!("{query} is ambiguous"),
            )
        }
        Outcome::Invalid(err) => {
            let text = match err {
                ParseError::UnknownCommand { given, .. } => format!(
                    "{} is not an idp command.{}",
                    code(given),
                    suggestion_text(&err.suggested_commands(), "")
                ),
                other => escape(&other.to_string()),
            };
            render_error(text, err.to_string())
        }
        Outcome::Denied(decision) => render_denied(decision),
        Outcome::Audit { target, records } => render_audit(snapshot, *target, records),
        Outcome::Failed(why) => render_error(escape(why), format!("Failed: {why}")),
        Outcome::Templates(list) => render_templates(list),
        Outcome::NewService(outcome) => render_new_service(outcome),
        Outcome::Rollback(outcome) => rollback_message::render(outcome),
        Outcome::Digest(outcome) => digest_message::render(outcome),
        Outcome::Scorecard(outcome) => scorecard_message::render(outcome),
        Outcome::Approval(outcome) => render_approval(outcome),
        Outcome::Dismissed => {
            let text = "Rollback not started.".to_owned();
            let mut b = Blocks::default();
            b.section(text.clone());
            b.finish(&text)
        }
        Outcome::Cancelled { run, cancelled } => {
            let text = if *cancelled {
                "Cancelled: the run will not start.".to_owned()
            } else {
                format!(
                    "This run is already {}; only a queued run can be cancelled.",
                    run.status.as_str().replace('_', " ")
                )
            };
            let mut b = Blocks::default();
            b.section(escape(&text));
            b.finish(&text)
        }
        Outcome::Stale(why) => render_error(escape(why), why.clone()),
        Outcome::Options(items) => {
            let text = format!("{} options", items.len());
            let mut b = Blocks::default();
            let lines: Vec<String> = items.iter().map(|(label, _)| escape(label)).collect();
            b.section(join_lines(&lines, MAX_SECTION, LIST_LINES));
            b.finish(&text)
        }
        Outcome::Home(home) => {
            let mut b = Blocks::default();
            for block in home::home_blocks(home) {
                b.push(block);
            }
            b.finish("Your idp home")
        }
        Outcome::WhoOwns(answer) => render_who_owns(snapshot, answer),
        Outcome::OwnedBy { person, owned } => render_owned_by(snapshot, *person, owned),
        Outcome::Noted { note, outcome } => {
            let inner = render(snapshot, outcome);
            let mut b = Blocks::default();
            b.context(vec![escape(note)]);
            for block in inner.blocks {
                b.push(block);
            }
            b.finish(&format!("{note} {}", inner.text))
        }
    }
}

fn render_owned_by(snapshot: &Snapshot, person: u32, owned: &[u32]) -> Reply {
    let name = snapshot.node(person).entity.display_name().to_owned();
    let mut b = Blocks::default();
    b.header(&format!("What {name}'s teams own"));
    if owned.is_empty() {
        b.section(format!(
            "{}'s teams own nothing in the catalog.",
            escape(&name)
        ));
        return b.finish(&format!("{name}'s teams own nothing"));
    }
    let lines: Vec<String> = owned
        .iter()
        .map(|&i| {
            let e = &snapshot.node(i).entity;
            format!(
                "• *{}* ({}) · {}",
                escape(e.display_name()),
                escape(&e.entity_ref.short()),
                owner_line(snapshot, i)
            )
        })
        .collect();
    b.section(join_lines(&lines, MAX_SECTION - 100, LIST_LINES));
    if owned.len() > LIST_LINES {
        b.context(vec![format!("{} in all", owned.len())]);
    }
    b.finish(&format!("{name}'s teams own {} entities", owned.len()))
}

fn render_approval(outcome: &crate::handlers::rollback::ApprovalOutcome) -> Reply {
    use crate::handlers::rollback::ApprovalOutcome;
    let text = match outcome {
        ApprovalOutcome::Approved(_) => "Approved: the rollback is queued.".to_owned(),
        ApprovalOutcome::Denied(_) => "Denied: the rollback will not happen.".to_owned(),
        ApprovalOutcome::Refused(why) => format!("Not done: {why}."),
    };
    let mut b = Blocks::default();
    b.section(escape(&text));
    b.finish(&text)
}

fn render_who_owns(
    snapshot: &Snapshot,
    answer: &crate::handlers::who_owns::WhoOwnsAnswer,
) -> Reply {
    if answer.found.is_empty() {
        let looked = answer.looked_for.join(", ");
        let text = format!(
            "I found nothing there that the catalog knows. I looked for {}.{}",
            if looked.is_empty() {
                "names and links"
            } else {
                looked.as_str()
            },
            if answer.truncated {
                " (The message is long; I read only its beginning.)"
            } else {
                ""
            }
        );
        return render_error(escape(&text), "Nothing recognised".to_owned());
    }
    let mut b = Blocks::default();
    let mut names = Vec::new();
    for found in &answer.found {
        let card = render_owner(snapshot, found.entity, &found.on_call);
        for block in card.blocks {
            b.push(block);
        }
        b.context(vec![format!("Recognised from {}", escape(&found.because))]);
        b.push(SlackDividerBlock::new().into());
        names.push(snapshot.node(found.entity).entity.display_name().to_owned());
    }
    if answer.more > 0 {
        b.context(vec![format!(
            "…and {} more; `/idp search` finds the rest.",
            answer.more
        )]);
    }
    b.finish(&format!("Who owns {}", names.join(", ")))
}

fn render_templates(list: &[crate::templates::Template]) -> Reply {
    let mut b = Blocks::default();
    b.header("Golden-path templates");
    if list.is_empty() {
        b.section(
            "The catalog has no templates yet: add `kind: Template` entities \
             (scaffolder.backstage.io/v1beta3) to a catalog source."
                .to_owned(),
        );
        return b.finish("No templates");
    }
    for t in list.iter().take(40) {
        let mut line = format!("*{}* {}", escape(&t.title), code(&t.entity_ref.name));
        if let Some(d) = &t.description {
            line.push_str(&format!("\n{}", escape_within(d, 500)));
        }
        let mut facts = Vec::new();
        if let Some(owner) = &t.owner {
            facts.push(format!("owner {}", code(&owner.name)));
        }
        if !t.tags.is_empty() {
            facts.push(
                t.tags
                    .iter()
                    .take(8)
                    .map(|tag| code(tag))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        match &t.not_runnable {
            None => facts.push(format!(
                "`/idp new-service {}`",
                t.entity_ref.name.replace('`', "'")
            )),
            Some(why) => facts.push(format!(
                ":warning: not runnable from Slack: {}",
                escape(why)
            )),
        }
        line.push_str(&format!("\n{}", facts.join(" · ")));
        b.section(line);
    }
    if list.len() > 40 {
        b.context(vec![format!("…and {} more", list.len() - 40)]);
    }
    b.finish(&format!("{} templates", list.len()))
}

fn render_new_service(outcome: &crate::handlers::new_service::NewService) -> Reply {
    use crate::handlers::new_service::NewService;
    match outcome {
        NewService::OpenForm { template, .. } => {
            let mut b = Blocks::default();
            match template {
                Some(t) => {
                    let missing: Vec<String> = t
                        .fields()
                        .filter(|f| !f.optional() && f.default.is_none())
                        .map(|f| code(&format!("{}=…", f.name)))
                        .collect();
                    b.section(format!(
                        "{} needs a few values. In Slack a form opens; elsewhere give them all: {}",
                        escape(&t.title),
                        missing.join(" ")
                    ));
                }
                None => b.section(
                    "Name a template: `new-service <template>` (see `templates`).".to_owned(),
                ),
            }
            b.finish("new-service needs more values")
        }
        NewService::Lookup(e) => render_error(escape(&e.to_string()), e.to_string()),
        NewService::NotRunnable(t) => render_error(
            format!(
                "{} cannot be run here: {}",
                escape(&t.title),
                escape(
                    t.not_runnable
                        .as_deref()
                        .unwrap_or("it has no name or owner field")
                )
            ),
            format!("{} cannot be run here", t.title),
        ),
        NewService::Invalid { template, errors } => {
            let lines: Vec<String> = errors
                .iter()
                .map(|(field, message)| format!("• {}: {}", code(field), escape(message)))
                .collect();
            render_error(
                format!(
                    "{} was not started:\n{}",
                    escape(&template.title),
                    join_lines(&lines, MAX_SECTION - 200, LIST_LINES)
                ),
                format!("{} was not started", template.title),
            )
        }
        NewService::Denied { decision, .. } => render_denied(decision),
        NewService::StepAccepted { template, step, .. } => {
            let text = format!("{}: step {} accepted.", template.title, step + 1);
            let mut b = Blocks::default();
            b.section(escape(&text));
            b.finish(&text)
        }
        NewService::Started { run, created, .. } => {
            let mut b = Blocks::default();
            let subject = run.subject.as_deref().unwrap_or("the service");
            b.section(if *created {
                format!(
                    ":rocket: Creating {} from {}. Run {}; its status follows in this channel.",
                    code(subject),
                    code(run.template.as_deref().unwrap_or("a template")),
                    code(&run.id)
                )
            } else {
                format!(
                    "This request already started run {} ({}).",
                    code(&run.id),
                    run.status.as_str()
                )
            });
            b.finish(&format!("Creating {subject}"))
        }
    }
}

fn render_denied(decision: &Decision) -> Reply {
    let mut b = Blocks::default();
    b.section(format!(
        ":no_entry: You can't do that. {}",
        escape_within(&decision.reason, 2500)
    ));
    b.context(vec![match &decision.rule {
        Some(rule) => format!("Decided by policy rule {}", code(rule)),
        None => "No policy rule allows it (deny by default)".to_owned(),
    }]);
    b.finish(&format!("Denied: {}", decision.reason))
}

fn render_oncall(snapshot: &Snapshot, idx: u32, answer: &Result<OnCall, OnCallError>) -> Reply {
    let e = &snapshot.node(idx).entity;
    let mut b = Blocks::default();
    b.header(&format!("On call for {}", e.display_name()));
    match answer {
        Ok(a) => {
            let mut levels: Vec<u32> = a.now.iter().map(|s| s.level).collect();
            levels.sort_unstable();
            levels.dedup();
            let mut lines = Vec::new();
            for level in levels {
                let people: Vec<String> = a
                    .now
                    .iter()
                    .filter(|s| s.level == level)
                    .map(shift_line)
                    .collect();
                let label = if level == 1 {
                    "*On call now:*".to_owned()
                } else {
                    format!("*Level {level}:*")
                };
                lines.push(format!("{label} {}", people.join(", ")));
            }
            if lines.is_empty() {
                lines.push("*On call now:* nobody".to_owned());
            }
            if let Some(next) = &a.next {
                lines.push(format!(
                    "*Next:* {} from {}",
                    escape_within(&next.person.name, 100),
                    when(next.start)
                ));
            }
            b.section(join_lines(&lines, MAX_SECTION, LIST_LINES));
            let source = match &a.source {
                OnCallSource::PagerDuty {
                    escalation_policy_name,
                    service_id,
                    ..
                } => format!(
                    "From PagerDuty: escalation policy {} (service {})",
                    escape_within(escalation_policy_name, 200),
                    code(service_id)
                ),
                OnCallSource::Rotation { group } => {
                    format!("From the rotation of {}", code(&group.short()))
                }
            };
            b.context(vec![source]);
            let text = match a.primary().next() {
                Some(s) => format!("{} is on call for {}", s.person.name, e.entity_ref.name),
                None => format!("Nobody is on call for {}", e.entity_ref.name),
            };
            b.finish(&text)
        }
        Err(err) => {
            b.section(escape(&capitalize_first(&err.to_string())));
            b.finish(&format!("{}: {err}", e.entity_ref.name))
        }
    }
}

fn capitalize_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| {
        f.to_uppercase().collect::<String>() + c.as_str()
    })
}

fn render_whoami(snapshot: &Snapshot, w: &Whoami) -> Reply {
    let mut b = Blocks::default();
    let Some(user) = w.user else {
        b.header("You are a guest");
        let why = w
            .guest_reason
            .clone()
            .unwrap_or_else(|| "idp could not match you to a catalog user".to_owned());
        b.section(format!(
            "{}.\nGuests can read the catalog but belong to no group and hold no role. Ask your platform team to add your email to a catalog User, or to map your Slack id in `idp.toml`.",
            escape_within(&why, 1000)
        ));
        return b.finish("You are a guest");
    };
    let e = &snapshot.node(user).entity;
    b.header(&format!("You are {}", e.display_name()));
    let mut lines = vec![format!("*Catalog user:* {}", code(&e.entity_ref.short()))];
    if let Some(email) = e.profile().email {
        lines.push(format!("*Email:* {}", escape(email)));
    }
    lines.push(format!(
        "*Groups:* {}",
        if w.groups.is_empty() {
            "_none_".to_owned()
        } else {
            w.groups
                .iter()
                .map(|g| code(&g.name))
                .collect::<Vec<_>>()
                .join(", ")
        }
    ));
    lines.push(format!(
        "*Roles:* {}",
        if w.roles.is_empty() {
            "_none_".to_owned()
        } else {
            w.roles
                .iter()
                .map(|r| code(r))
                .collect::<Vec<_>>()
                .join(", ")
        }
    ));
    b.section(join_lines(&lines, MAX_SECTION, LIST_LINES));
    let shifts: Vec<String> = w
        .shifts
        .iter()
        .map(|(what, s)| {
            format!(
                "• {}: {} → {}",
                escape_within(what, 200),
                when(s.start),
                when(s.end)
            )
        })
        .collect();
    b.section(if shifts.is_empty() {
        "*On-call shifts:* none now or next".to_owned()
    } else {
        format!(
            "*On-call shifts:*\n{}",
            join_lines(&shifts, MAX_SECTION - 30, LIST_LINES)
        )
    });
    b.finish(&format!("You are {}", e.entity_ref.short()))
}

fn render_explain(snapshot: &Snapshot, x: &Explanation) -> Reply {
    let e = &snapshot.node(x.target).entity;
    let mut b = Blocks::default();
    let env = x
        .environment
        .as_deref()
        .map(|e| format!(" in {e}"))
        .unwrap_or_default();
    b.header(&format!(
        "Can you {} {}{env}?",
        x.action.as_str(),
        e.entity_ref.name
    ));
    let verdict = match &x.decision.outcome {
        Verdict::Allow => ":white_check_mark: *Yes.*".to_owned(),
        Verdict::Deny => ":no_entry: *No.*".to_owned(),
        Verdict::RequireApproval(a) => format!(
            ":raised_hand: *Only with approval* from {} ({} needed, never yourself).",
            escape(&a.describe()),
            a.count
        ),
    };
    let mut lines = vec![verdict, escape_within(&x.decision.reason, 2000)];
    let said =
        x.decision.reason.contains("on call now") || x.decision.reason.contains("on call for");
    match &x.on_call {
        _ if said => {}
        OnCallStatus::Yes => lines.push("You are on call for it now.".to_owned()),
        OnCallStatus::No(Some(who)) => lines.push(format!("On call now: {}.", escape(who))),
        OnCallStatus::Unknown(why) => {
            lines.push(format!("On-call status unknown: {}.", escape(why)));
        }
        OnCallStatus::No(None) | OnCallStatus::NotAsked => {}
    }
    b.section(lines.join("\n"));
    b.context(vec![match &x.decision.rule {
        Some(rule) => format!("Decided by policy rule {} · nothing was done", code(rule)),
        None => "No rule matched: denied by default · nothing was done".to_owned(),
    }]);
    let short = match &x.decision.outcome {
        Verdict::Allow => "yes",
        Verdict::Deny => "no",
        Verdict::RequireApproval(_) => "with approval",
    };
    b.finish(&format!(
        "can {} {}{env}: {short}",
        x.action.as_str(),
        e.entity_ref.name
    ))
}

fn render_audit(
    snapshot: &Snapshot,
    target: Option<u32>,
    records: &[crate::audit::AuditRecord],
) -> Reply {
    let mut b = Blocks::default();
    let about = target.map(|i| snapshot.node(i).entity.entity_ref.name.clone());
    b.header(&match &about {
        Some(name) => format!("Audit log: {name}"),
        None => "Audit log".to_owned(),
    });
    if records.is_empty() {
        b.section("No records match.".to_owned());
        return b.finish("No audit records match");
    }
    let lines: Vec<String> = records
        .iter()
        .map(|r| format!("• {}", escape_within(&r.summary_line(), 400)))
        .collect();
    b.section(join_lines(&lines, MAX_SECTION, 20));
    b.context(vec![
        "Newest first · `idp audit export` on the server gives everything as JSON lines".to_owned(),
    ]);
    b.finish(&format!("{} audit records", records.len()))
}
