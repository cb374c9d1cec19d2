//! The `/idp` command language: one [`Command`] value for every entry point (slash command, shell,
//! later modals and the API), parsed by a pure function from text.
//!
//! [`parse`] tokenizes the text ([`text`]), finds the command's declaration by name or alias in
//! the registry read from `commands/` ([`spec`]), then hands the remaining words to that command's
//! own small parser, looked up by canonical name in a table (`parsers.rs`; `owner.rs` and
//! `digest.rs` hold the larger ones). No IO here: no network, files, environment or clock; the
//! caller passes in the current time.

mod args;
pub mod digest;
mod owner;
mod parsers;
pub mod spec;
pub mod text;

use chrono::{DateTime, Utc};

use crate::catalog::NameQuery;
pub use digest::{ChannelRef, DigestCommand};
pub use owner::{MAX_URL_CHARS, OwnerQuery};
pub use parsers::MAX_FIELD_VALUES;
pub use spec::{CommandSpec, REGISTRY};
pub use text::{Dialect, Token};

/// A parsed `/idp` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `owner <service | repository URL | @person | #channel>`: who owns it.
    Owner(OwnerQuery),
    /// `service <name>`: the whole card.
    Service(NameQuery),
    /// `deploys <service> [environment]`: the recent deploy history.
    Deploys {
        /// The service.
        service: NameQuery,
        /// Only this environment, when given (lower-case).
        environment: Option<String>,
    },
    /// `search <words>`: free-text search.
    Search(Vec<String>),
    /// `team <group>`: a group's people and what it owns.
    Team(NameQuery),
    /// `oncall <service|group>`: who is on call now and next.
    OnCall(NameQuery),
    /// `whoami`: the caller's identity, groups, roles and shifts.
    Whoami,
    /// `audit [target] [since]`: the latest audit records.
    Audit {
        /// Only records about this target.
        target: Option<NameQuery>,
        /// Only records at or after this time.
        since: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// `can <action> <target> [environment]`: explain a decision without acting.
    Can {
        /// The action asked about.
        action: crate::authz::Action,
        /// The target.
        target: NameQuery,
        /// The environment, if given.
        environment: Option<String>,
    },
    /// `templates`: the golden-path templates.
    Templates,
    /// `new-service [template] [field=value …]`: run a template. A modal submission becomes this
    /// same command with every value filled in.
    NewService {
        /// The template's name, title or ref, if given.
        template: Option<String>,
        /// `field=value` pairs in the order given (values as typed, not yet validated).
        values: Vec<(String, String)>,
    },
    /// `rollback [service] [environment] [to <version>]`. A confirmation button sends the same
    /// command with the plan's hash.
    Rollback {
        /// The service, when named (else inferred from the incident channel).
        service: Option<NameQuery>,
        /// The environment, when named.
        environment: Option<String>,
        /// The version to go back to, when named.
        to: Option<String>,
        /// The hash of the plan being confirmed (only from the preview's button).
        confirm: Option<String>,
    },
    /// `digest subscribe|list|unsubscribe|preview …`: scheduled scorecard digests in channels.
    Digest(DigestCommand),
    /// `scorecard <service|group> [scorecard-id]`: a service's checks, or a group's ranking.
    Scorecard {
        /// The service or group.
        target: NameQuery,
        /// The scorecard asked for, if any (default: the first that applies).
        scorecard: Option<String>,
    },
    /// `help [command]`: the command list, or one command's usage.
    Help(Option<String>),

    // Internal commands: never typed, made at the edge from a click, a form, an event or a
    // shortcut, and dispatched, authorized and recorded like the typed ones.
    /// A rollback preview's [Cancel]: withdraw the preview; nothing is started.
    DismissRollback,
    /// [Approve] or [Deny] on a rollback waiting for a second person.
    Approval {
        /// The run waiting for approval.
        run_id: String,
        /// `true` to approve, `false` to deny.
        approve: bool,
    },
    /// A run status message's [Cancel]: cancel a queued run.
    CancelRun {
        /// The run to cancel.
        run_id: String,
    },
    /// A template picked in the golden-path form (its list, a scorecard's [Fix]): open its first
    /// step (recorded as `form_opened`; the owner is decided when its step is submitted).
    ChooseTemplate {
        /// The template's name, title or ref key.
        template: String,
    },
    /// One step of a golden-path form submitted (Slack `view_submission`): validate the step,
    /// check the owner it names, and on the last step record the run.
    NewServiceStep {
        /// The template's ref key.
        template: String,
        /// The step submitted (0-based).
        step: usize,
        /// The step's values as the form gave them.
        raw: std::collections::BTreeMap<String, crate::templates::RawValue>,
        /// The values of the steps before, already checked.
        collected: crate::templates::Values,
    },
    /// A form's entity picker asks for options (Slack `block_suggestion`).
    Suggest {
        /// The template's ref key.
        template: String,
        /// The field (picker) asking.
        field: String,
        /// What the person typed so far.
        query: String,
    },
    /// A click idp cannot act on (a button from an older version, a value that does not parse):
    /// answered with why, and recorded like every other click.
    Unreadable {
        /// What to tell the person (plain text).
        reason: String,
    },
    /// The App Home tab was opened: the person's teams, services, on-call and runs.
    Home,
    /// "Who owns this?" on a message: the entities its text and links refer to, and their owners.
    WhoOwns {
        /// The message's text, links and attachment texts (bounded by the edge).
        text: String,
    },
}

impl Command {
    /// The canonical subcommand name, as in `commands/`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Owner(_) => "owner",
            Self::Service(_) => "service",
            Self::Deploys { .. } => "deploys",
            Self::Search(_) => "search",
            Self::Team(_) => "team",
            Self::OnCall(_) => "oncall",
            Self::Whoami => "whoami",
            Self::Audit { .. } => "audit",
            Self::Can { .. } => "can",
            Self::Templates => "templates",
            Self::NewService { .. } => "new-service",
            Self::Rollback { .. } => "rollback",
            Self::Digest(_) => "digest",
            Self::Scorecard { .. } => "scorecard",
            Self::Help(_) => "help",
            Self::DismissRollback => "rollback-dismiss",
            Self::Approval { approve: true, .. } => "approve",
            Self::Approval { approve: false, .. } => "deny",
            Self::CancelRun { .. } => "cancel",
            Self::ChooseTemplate { .. } | Self::NewServiceStep { .. } => "new-service",
            Self::Suggest { .. } => "suggest",
            Self::Home => "home",
            Self::Unreadable { .. } => "unreadable-click",
            Self::WhoOwns { .. } => "who-owns",
        }
    }
}

/// Why command text could not be read. Every variant is shown to the user as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The text is longer than any command (see [`MAX_TEXT_CHARS`]); it was not read.
    #[error("that is {chars} characters; an idp command is at most {max}")]
    TooLong {
        /// How many characters were sent.
        chars: usize,
        /// The most a command may have.
        max: usize,
    },
    /// The first word names no command.
    #[error("`{given}` is not an idp command")]
    UnknownCommand {
        /// What was typed.
        given: String,
        /// Up to 3 close command names.
        suggestions: Vec<String>,
        /// The words after the mistyped one, as Slack showed them, so that a suggestion can repeat
        /// them (`rollback checkout-api production`). Empty when there were none, or more than
        /// [`MAX_REST_CHARS`] characters of them.
        rest: String,
    },
    /// A required argument is missing.
    #[error("`{command}` is missing its {argument}. Usage: `/idp {usage}`")]
    MissingArgument {
        /// The command.
        command: &'static str,
        /// The missing argument's name.
        argument: String,
        /// The usage line.
        usage: String,
    },
    /// More words than the command takes.
    #[error("`{command}` got more than it takes: `{extra}` is left over. Usage: `/idp {usage}`")]
    UnexpectedArgument {
        /// The command.
        command: &'static str,
        /// The argument's name.
        argument: String,
        /// The words left over.
        extra: String,
        /// The usage line.
        usage: String,
    },
    /// An argument that is not one of the accepted values.
    #[error("`{command}`: `{given}` is not a valid {argument}: {reason}. Usage: `/idp {usage}`")]
    InvalidArgument {
        /// The command.
        command: &'static str,
        /// The argument's name.
        argument: String,
        /// What was given.
        given: String,
        /// Why it is not accepted.
        reason: String,
        /// The usage line.
        usage: String,
    },
    /// A mention or link where a name was expected.
    #[error("`{command}` expects a {argument} name, not {found}. Usage: `/idp {usage}`")]
    WrongToken {
        /// The command.
        command: &'static str,
        /// The argument's name.
        argument: String,
        /// What was found, e.g. "a user mention".
        found: &'static str,
        /// The usage line.
        usage: String,
    },
}

impl ParseError {
    /// For an unknown command, the command lines to offer instead (without `/idp`): each close
    /// command name followed by the rest of what was typed. Empty for every other error.
    pub fn suggested_commands(&self) -> Vec<String> {
        match self {
            Self::UnknownCommand {
                suggestions, rest, ..
            } => suggestions
                .iter()
                .map(|name| {
                    if rest.is_empty() {
                        name.clone()
                    } else {
                        format!("{name} {rest}")
                    }
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The longest `[kind:][namespace/]name` worth looking up.
pub const MAX_NAME_CHARS: usize = 200;

/// The longest command text read at all, in characters. Far above any real command; it bounds the
/// work a pasted wall of text (Slack allows 40,000 characters) can cause.
pub const MAX_TEXT_CHARS: usize = 10_000;

/// The longest rest of a mistyped command that a suggestion repeats.
pub const MAX_REST_CHARS: usize = 300;

/// Parses the text after `/idp` (the shell may also pass a leading `/idp`). Empty text is `help`.
/// `now` is the caller's current time: relative times such as `audit 2h` count back from it, so
/// the same text and `now` always give the same [`Command`].
///
/// # Errors
/// [`ParseError`] with a message fit for the user.
pub fn parse(text: &str, dialect: Dialect, now: DateTime<Utc>) -> Result<Command, ParseError> {
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(ParseError::TooLong {
            chars,
            max: MAX_TEXT_CHARS,
        });
    }
    let mut tokens = text::tokenize(text, dialect);
    if matches!(tokens.first(), Some(Token::Word(w)) if w == "/idp") {
        tokens.remove(0);
    }
    let Some((first, rest)) = tokens.split_first() else {
        return Ok(Command::Help(None));
    };
    let word = text::token_display(first);
    let found = spec::find(&word).and_then(|spec| {
        parsers::lookup(&spec.name).map(|(command, parser)| (spec, command, parser))
    });
    let Some((spec, command, parser)) = found else {
        let rest = text::display_line(rest);
        return Err(ParseError::UnknownCommand {
            suggestions: suggest_command(&word),
            rest: if rest.chars().count() > MAX_REST_CHARS {
                String::new()
            } else {
                rest
            },
            given: args::shorten(&word),
        });
    };
    parser(&args::Args {
        command,
        spec,
        tokens: rest,
        dialect,
        now,
    })
}

/// Up to 3 command names or aliases close to `word`.
pub fn suggest_command(word: &str) -> Vec<String> {
    let word = word.to_ascii_lowercase();
    let mut scored: Vec<(f64, &str)> = REGISTRY
        .iter()
        .flat_map(|s| {
            std::iter::once(&s.name)
                .chain(&s.aliases)
                .map(move |n| (n, s))
        })
        .map(|(n, _)| (strsim::jaro_winkler(&word, n), n.as_str()))
        .filter(|(score, _)| *score >= 0.7)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut out: Vec<String> = Vec::new();
    for (_, n) in scored {
        let canonical = spec::find(n).map_or(n, |s| s.name.as_str());
        if !out.iter().any(|o| o == canonical) {
            out.push(canonical.to_owned());
        }
        if out.len() == 3 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_command_has_exactly_one_parser_and_every_parser_a_command() {
        for spec in REGISTRY.iter() {
            let parsers = parsers::PARSERS
                .iter()
                .filter(|(name, _)| *name == spec.name)
                .count();
            assert_eq!(parsers, 1, "`{}` has {parsers} parsers", spec.name);
        }
        for (name, _) in parsers::PARSERS {
            assert!(
                spec::by_name(name).is_some(),
                "the parser `{name}` has no commands/{name}.toml"
            );
        }
        assert_eq!(parsers::PARSERS.len(), REGISTRY.len());
    }

    #[test]
    fn every_name_and_alias_reaches_the_parser_of_its_command() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        for spec in REGISTRY.iter() {
            for word in std::iter::once(&spec.name).chain(&spec.aliases) {
                let parsed = parse(word, Dialect::Plain, now);
                let reached = match &parsed {
                    Ok(command) => command.name(),
                    Err(
                        ParseError::MissingArgument { command, .. }
                        | ParseError::UnexpectedArgument { command, .. }
                        | ParseError::InvalidArgument { command, .. }
                        | ParseError::WrongToken { command, .. },
                    ) => command,
                    Err(other) => panic!("`{word}` gave {other:?}"),
                };
                assert_eq!(reached, spec.name, "`{word}`");
            }
        }
    }

    #[test]
    fn a_mistyped_command_keeps_the_rest_of_the_line_in_its_suggestions() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let err = parse(
            "rolback checkout-api production to 1.4.2",
            Dialect::Slack,
            now,
        )
        .expect_err("typo");
        assert_eq!(
            err.suggested_commands().first().map(String::as_str),
            Some("rollback checkout-api production to 1.4.2")
        );
        let err = parse("ownr", Dialect::Slack, now).expect_err("typo");
        assert_eq!(err.suggested_commands(), vec!["owner".to_owned()]);
        let long = format!("ownr {}", "x ".repeat(MAX_REST_CHARS));
        let err = parse(&long, Dialect::Slack, now).expect_err("typo");
        assert_eq!(err.suggested_commands(), vec!["owner".to_owned()]);
    }
}
