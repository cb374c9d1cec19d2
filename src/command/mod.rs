//! The `/idp` command language: one [`Command`] value for every entry point (slash command, shell,
//! later modals and the API), parsed by a pure function from text. No IO here.

pub mod digest;
pub mod spec;
pub mod text;

use crate::catalog::NameQuery;
pub use digest::{ChannelRef, DigestCommand};
pub use spec::{CommandSpec, REGISTRY};
pub use text::{Dialect, Token};

/// A parsed `/idp` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `owner <service>`: who owns it.
    Owner(NameQuery),
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
    /// step. Records nothing by itself; the submission of the steps does.
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
            Self::WhoOwns { .. } => "who-owns",
        }
    }
}

/// Why command text could not be read. Every variant is shown to the user as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The first word names no command.
    #[error("`{given}` is not an idp command")]
    UnknownCommand {
        /// What was typed.
        given: String,
        /// Up to 3 close command names.
        suggestions: Vec<String>,
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

fn token_text(token: &Token) -> String {
    text::token_display(token)
}

/// The longest `[kind:][namespace/]name` worth looking up.
pub const MAX_NAME_CHARS: usize = 200;

/// Reads the single name argument of `owner`, `service` and `team`.
/// `scorecard <service|group> [scorecard-id]`.
fn parse_scorecard(spec: &'static CommandSpec, args: &[Token]) -> Result<Command, ParseError> {
    let (name, rest) = match args {
        [] => (args, args),
        [first, rest @ ..] => (std::slice::from_ref(first), rest),
    };
    let target = one_name(spec, "scorecard", name)?;
    let scorecard = match rest {
        [] => None,
        [Token::Word(id)] => Some(id.trim().chars().take(80).collect()),
        _ => {
            return Err(ParseError::UnexpectedArgument {
                command: "scorecard",
                argument: "service or group, then a scorecard id".to_owned(),
                extra: rest.iter().map(token_text).collect::<Vec<_>>().join(" "),
                usage: spec.usage.clone(),
            });
        }
    };
    Ok(Command::Scorecard { target, scorecard })
}

fn one_name(
    spec: &'static CommandSpec,
    command: &'static str,
    args: &[Token],
) -> Result<NameQuery, ParseError> {
    let argument = spec
        .arguments
        .first()
        .map(|a| a.name.clone())
        .unwrap_or_else(|| "name".to_owned());
    let usage = spec.usage.clone();
    let Some(first) = args.first() else {
        return Err(ParseError::MissingArgument {
            command,
            argument,
            usage,
        });
    };
    if args.len() > 1 {
        let extra = args[1..]
            .iter()
            .map(token_text)
            .collect::<Vec<_>>()
            .join(" ");
        return Err(ParseError::UnexpectedArgument {
            command,
            argument,
            extra,
            usage,
        });
    }
    let name = match first {
        Token::Word(w) => w.trim().to_owned(),
        // A user-group handle usually is the team's name: `<!subteam^S1|@payments-platform>`.
        Token::Subteam {
            label: Some(label), ..
        } if command == "team" => label.trim_start_matches('@').to_owned(),
        // A channel mention names a channel, which often carries the service's name.
        Token::Channel {
            label: Some(label), ..
        } => label.clone(),
        other => {
            let found = match other {
                Token::User { .. } => "a user mention",
                Token::Subteam { .. } => "a user-group mention",
                Token::Special(_) => "a broadcast mention",
                Token::Channel { .. } => "a channel mention",
                _ => "a link",
            };
            return Err(ParseError::WrongToken {
                command,
                argument,
                found,
                usage,
            });
        }
    };
    // In a terminal `@team` and `#service` are how people write what Slack sends as mentions.
    let name = name.strip_prefix(['@', '#']).unwrap_or(&name).to_owned();
    if name.is_empty() {
        return Err(ParseError::MissingArgument {
            command,
            argument,
            usage,
        });
    }
    // kind (63) + ':' + namespace (63) + '/' + name (63): anything longer names nothing, and the
    // "did you mean" search over it would cost time for nothing.
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ParseError::InvalidArgument {
            command,
            argument,
            given: name.chars().take(40).collect::<String>() + "…",
            reason: format!("names are at most {MAX_NAME_CHARS} characters"),
            usage,
        });
    }
    Ok(NameQuery::parse(&name))
}

/// Parses the text after `/idp` (the shell may also pass a leading `/idp`). Empty text is `help`.
///
/// # Errors
/// [`ParseError`] with a message fit for the user.
pub fn parse(text: &str, dialect: Dialect) -> Result<Command, ParseError> {
    let mut tokens = text::tokenize(text, dialect);
    if matches!(tokens.first(), Some(Token::Word(w)) if w == "/idp") {
        tokens.remove(0);
    }
    let Some(first) = tokens.first() else {
        return Ok(Command::Help(None));
    };
    let word = token_text(first);
    let Some(spec) = spec::find(&word) else {
        return Err(ParseError::UnknownCommand {
            suggestions: suggest_command(&word),
            given: word,
        });
    };
    let args = &tokens[1..];
    match spec.name.as_str() {
        "owner" => one_name(spec, "owner", args).map(Command::Owner),
        "service" => one_name(spec, "service", args).map(Command::Service),
        "deploys" => parse_deploys(spec, args),
        "team" => one_name(spec, "team", args).map(Command::Team),
        "oncall" => one_name(spec, "oncall", args).map(Command::OnCall),
        "whoami" => {
            if !args.is_empty() {
                return Err(ParseError::UnexpectedArgument {
                    command: "whoami",
                    argument: "nothing".to_owned(),
                    extra: args.iter().map(token_text).collect::<Vec<_>>().join(" "),
                    usage: spec.usage.clone(),
                });
            }
            Ok(Command::Whoami)
        }
        "can" => parse_can(spec, args),
        "new-service" => parse_new_service(spec, args),
        "rollback" => parse_rollback(spec, args),
        "digest" => digest::parse(spec, args, dialect),
        "scorecard" => parse_scorecard(spec, args),
        "templates" => {
            if !args.is_empty() {
                return Err(ParseError::UnexpectedArgument {
                    command: "templates",
                    argument: "nothing".to_owned(),
                    extra: args.iter().map(token_text).collect::<Vec<_>>().join(" "),
                    usage: spec.usage.clone(),
                });
            }
            Ok(Command::Templates)
        }
        "audit" => parse_audit(spec, args),
        "search" => {
            let words: Vec<String> = args
                .iter()
                .map(token_text)
                .map(|w| w.trim().to_owned())
                .filter(|w| !w.is_empty())
                .collect();
            if words.is_empty() {
                return Err(ParseError::MissingArgument {
                    command: "search",
                    argument: "words".to_owned(),
                    usage: spec.usage.clone(),
                });
            }
            Ok(Command::Search(words))
        }
        _ => {
            if args.len() > 1 {
                let extra = args[1..]
                    .iter()
                    .map(token_text)
                    .collect::<Vec<_>>()
                    .join(" ");
                return Err(ParseError::UnexpectedArgument {
                    command: "help",
                    argument: "command".to_owned(),
                    extra,
                    usage: spec.usage.clone(),
                });
            }
            Ok(Command::Help(args.first().map(token_text)))
        }
    }
}

/// `deploys <service> [environment]`: a name, then optionally one word.
fn parse_deploys(spec: &'static CommandSpec, args: &[Token]) -> Result<Command, ParseError> {
    let service = one_name(spec, "deploys", args.get(..1).unwrap_or_default())?;
    let environment = match args.get(1..).unwrap_or_default() {
        [] => None,
        [Token::Word(w)] if !w.trim().is_empty() && w.len() <= MAX_NAME_CHARS => {
            Some(w.trim().to_ascii_lowercase())
        }
        [other] => {
            return Err(ParseError::InvalidArgument {
                command: "deploys",
                argument: "environment".to_owned(),
                given: token_text(other),
                reason: "an environment is one word such as production".to_owned(),
                usage: spec.usage.clone(),
            });
        }
        [_, extra @ ..] => {
            return Err(ParseError::UnexpectedArgument {
                command: "deploys",
                argument: "environment".to_owned(),
                extra: extra.iter().map(token_text).collect::<Vec<_>>().join(" "),
                usage: spec.usage.clone(),
            });
        }
    };
    Ok(Command::Deploys {
        service,
        environment,
    })
}

/// `audit [target] [since]`: a word that reads as a time (`24h`, `7d`, `2026-11-01`) is the
/// since; another word is the target.
fn parse_audit(spec: &'static CommandSpec, args: &[Token]) -> Result<Command, ParseError> {
    let usage = spec.usage.clone();
    let mut target = None;
    let mut since = None;
    for t in args {
        let word = token_text(t);
        if let Ok(at) = crate::audit::parse_time_now(&word) {
            if since.replace(at).is_some() {
                return Err(ParseError::UnexpectedArgument {
                    command: "audit",
                    argument: "since".to_owned(),
                    extra: word,
                    usage,
                });
            }
        } else if target.is_none() {
            target = Some(one_name(spec, "audit", std::slice::from_ref(t))?);
        } else {
            return Err(ParseError::UnexpectedArgument {
                command: "audit",
                argument: "target".to_owned(),
                extra: word,
                usage,
            });
        }
    }
    Ok(Command::Audit { target, since })
}

fn parse_can(spec: &'static CommandSpec, args: &[Token]) -> Result<Command, ParseError> {
    let usage = spec.usage.clone();
    let Some(action_token) = args.first() else {
        return Err(ParseError::MissingArgument {
            command: "can",
            argument: "action".to_owned(),
            usage,
        });
    };
    let given = token_text(action_token);
    let lower = given.to_ascii_lowercase();
    let action = crate::authz::Action::parse(&lower)
        .ok()
        .filter(|a| *a != crate::authz::Action::Public)
        .ok_or_else(|| {
            let known = crate::authz::ACTION_NAMES.join(", ");
            let close: Vec<&str> = crate::authz::ACTION_NAMES
                .iter()
                .copied()
                .filter(|a| strsim::jaro_winkler(a, &lower) >= 0.85)
                .collect();
            let reason = if close.is_empty() {
                format!("known actions: {known}")
            } else {
                format!(
                    "did you mean {}? Known actions: {known}",
                    close.join(" or ")
                )
            };
            ParseError::InvalidArgument {
                command: "can",
                argument: "action".to_owned(),
                given: given.clone(),
                reason,
                usage: usage.clone(),
            }
        })?;
    if args.len() < 2 {
        return Err(ParseError::MissingArgument {
            command: "can",
            argument: "target".to_owned(),
            usage,
        });
    }
    if args.len() > 3 {
        let extra = args[3..]
            .iter()
            .map(token_text)
            .collect::<Vec<_>>()
            .join(" ");
        return Err(ParseError::UnexpectedArgument {
            command: "can",
            argument: "environment".to_owned(),
            extra,
            usage,
        });
    }
    let target = one_name(spec, "can", &args[1..2])?;
    let environment = args.get(2).map(token_text).map(|e| e.to_ascii_lowercase());
    Ok(Command::Can {
        action,
        target,
        environment,
    })
}

/// Most `field=value` pairs one `new-service` takes (more than any template has fields).
pub const MAX_FIELD_VALUES: usize = 50;

/// `new-service [template] [field=value …]`. A quoted value arrives as its own token after a word
/// ending in `=` (`description="A shop"`), so the two are joined again.
fn parse_new_service(spec: &'static CommandSpec, args: &[Token]) -> Result<Command, ParseError> {
    let usage = spec.usage.clone();
    let invalid = |argument: &str, given: String, reason: String| ParseError::InvalidArgument {
        command: "new-service",
        argument: argument.to_owned(),
        given,
        reason,
        usage: usage.clone(),
    };
    let mut template = None;
    let mut values: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let Token::Word(word) = &args[i] else {
            return Err(ParseError::WrongToken {
                command: "new-service",
                argument: "template or field=value".to_owned(),
                found: match &args[i] {
                    Token::User { .. } => "a user mention",
                    Token::Subteam { .. } => "a user-group mention",
                    Token::Special(_) => "a broadcast mention",
                    Token::Channel { .. } => "a channel mention",
                    _ => "a link",
                },
                usage,
            });
        };
        i += 1;
        match word.split_once('=') {
            Some((key, value)) => {
                let key = key.trim();
                let mut value = value.to_owned();
                if value.is_empty()
                    && let Some(Token::Word(next)) = args.get(i)
                {
                    value.clone_from(next);
                    i += 1;
                }
                if key.is_empty()
                    || key.chars().count() > 64
                    || !key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    return Err(invalid(
                        "field name",
                        key.chars().take(40).collect(),
                        "field names are letters, digits, `_` and `-`".to_owned(),
                    ));
                }
                if values.iter().any(|(k, _)| k == key) {
                    return Err(invalid(
                        "field=value",
                        key.to_owned(),
                        "this field is given twice".to_owned(),
                    ));
                }
                if values.len() == MAX_FIELD_VALUES {
                    return Err(invalid(
                        "field=value",
                        key.to_owned(),
                        format!("at most {MAX_FIELD_VALUES} values"),
                    ));
                }
                values.push((key.to_owned(), value));
            }
            None if template.is_none() && values.is_empty() => {
                if word.chars().count() > MAX_NAME_CHARS {
                    return Err(invalid(
                        "template",
                        word.chars().take(40).collect::<String>() + "…",
                        format!("names are at most {MAX_NAME_CHARS} characters"),
                    ));
                }
                template = Some(word.trim().to_owned());
            }
            None => {
                return Err(ParseError::UnexpectedArgument {
                    command: "new-service",
                    argument: "field=value".to_owned(),
                    extra: word.clone(),
                    usage,
                });
            }
        }
    }
    Ok(Command::NewService { template, values })
}

/// `rollback [service] [environment] [to <version>]`.
fn parse_rollback(spec: &'static CommandSpec, args: &[Token]) -> Result<Command, ParseError> {
    let usage = spec.usage.clone();
    let mut words: Vec<String> = args.iter().map(token_text).collect();
    let mut to = None;
    if let Some(i) = words.iter().position(|w| w.eq_ignore_ascii_case("to")) {
        let Some(version) = words.get(i + 1).cloned() else {
            return Err(ParseError::MissingArgument {
                command: "rollback",
                argument: "version after `to`".to_owned(),
                usage,
            });
        };
        if words.len() > i + 2 {
            return Err(ParseError::UnexpectedArgument {
                command: "rollback",
                argument: "version".to_owned(),
                extra: words[i + 2..].join(" "),
                usage,
            });
        }
        if version.chars().count() > 128 {
            return Err(ParseError::InvalidArgument {
                command: "rollback",
                argument: "version".to_owned(),
                given: version.chars().take(40).collect::<String>() + "…",
                reason: "versions are at most 128 characters".to_owned(),
                usage,
            });
        }
        to = Some(version);
        words.truncate(i);
    }
    if words.len() > 2 {
        return Err(ParseError::UnexpectedArgument {
            command: "rollback",
            argument: "environment".to_owned(),
            extra: words[2..].join(" "),
            usage,
        });
    }
    let service = match args.first() {
        Some(_) if !words.is_empty() => Some(one_name(spec, "rollback", &args[..1])?),
        _ => None,
    };
    let environment = words.get(1).map(|e| e.to_ascii_lowercase());
    Ok(Command::Rollback {
        service,
        environment,
        to,
        confirm: None,
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
