//! Command handlers: given a parsed [`Command`] and an authorized caller, look things up in the
//! catalog and return an [`Outcome`]. The outcome refers to entities by their index in the
//! snapshot it was computed on; rendering (Block Kit or terminal text) happens at the edge.

use crate::authz::{Action, Caller, Decision, Policy};
use crate::catalog::{Lookup, NameQuery, Snapshot};
use crate::command::{Command, CommandSpec, ParseError, spec};

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
/// How many search hits a reply shows.
pub const SEARCH_LIMIT: usize = 10;

/// What a command produced, ready to be rendered.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `owner`: the entity whose owner to show.
    Owner(u32),
    /// `service`: the entity whose card to show.
    Service(u32),
    /// `team`: the group to show.
    Team(u32),
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
    Denied(String),
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
    found: fn(u32) -> Outcome,
) -> Outcome {
    match snapshot.lookup(query, kinds) {
        Lookup::Found(i) => found(i),
        Lookup::Ambiguous(candidates) => Outcome::Ambiguous {
            query: query_text(query),
            candidates,
            command,
        },
        Lookup::NotFound(suggestions) => Outcome::NotFound {
            what,
            query: query_text(query),
            suggestions,
            command,
        },
    }
}

/// Runs a parsed command for a caller: asks the policy first, then looks up.
pub fn handle(snapshot: &Snapshot, policy: &Policy, caller: &Caller, command: &Command) -> Outcome {
    let action = spec::by_name(command.name())
        .map(|s| Action::parse(&s.permission))
        .unwrap_or(Err(String::new()));
    let Ok(action) = action else {
        return Outcome::Denied(
            "this command has no known permission, so it is refused".to_owned(),
        );
    };
    if let Decision::Deny(reason) = policy.decide(caller, action) {
        return Outcome::Denied(reason);
    }
    match command {
        Command::Owner(q) => resolve(snapshot, q, OWNED_KINDS, "service", "owner", Outcome::Owner),
        Command::Service(q) => resolve(
            snapshot,
            q,
            OWNED_KINDS,
            "service",
            "service",
            Outcome::Service,
        ),
        Command::Team(q) => resolve(snapshot, q, GROUP_KINDS, "group", "team", Outcome::Team),
        Command::Search(words) => {
            let (hits, total) = snapshot.search(words, SEARCH_LIMIT);
            Outcome::Search {
                words: words.clone(),
                hits: hits.into_iter().map(|h| h.index).collect(),
                total,
            }
        }
        Command::Help(None) => Outcome::Help(None),
        Command::Help(Some(topic)) => match spec::find(topic) {
            Some(s) => Outcome::Help(Some(s)),
            None => Outcome::HelpUnknown {
                topic: topic.clone(),
                suggestions: crate::command::suggest_command(topic),
            },
        },
    }
}
