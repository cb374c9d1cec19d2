//! `digest subscribe [#channel] <group> <schedule>`, `digest list [all]`,
//! `digest unsubscribe <id>`, `digest preview <group>`: parsing only (pure, no IO).

use super::{CommandSpec, ParseError, Token, one_name, token_text};
use crate::catalog::NameQuery;
use crate::command::text::Dialect;
use crate::scorecards::schedule::Schedule;

/// A channel named in a command: `<#C123|payments>` from Slack, `#payments` in the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRef {
    /// The Slack channel id (`C…`, `G…`); in the shell, the name as typed.
    pub id: String,
    /// The channel's name, when Slack sent it.
    pub label: Option<String>,
}

/// What `digest` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestCommand {
    /// Subscribe a channel (default: the one the command came from) to a group's digest.
    Subscribe {
        /// The channel named, if any.
        channel: Option<ChannelRef>,
        /// The group.
        group: NameQuery,
        /// When.
        schedule: Schedule,
    },
    /// List this channel's subscriptions, or every channel's with `all`.
    List {
        /// Every channel's.
        all: bool,
    },
    /// Remove a subscription by id.
    Unsubscribe {
        /// The id as typed.
        id: String,
    },
    /// Show the group's digest to the caller only.
    Preview {
        /// The group.
        group: NameQuery,
    },
}

const SUBCOMMANDS: &str = "subscribe, list, unsubscribe or preview";

fn found(token: &Token) -> &'static str {
    match token {
        Token::User { .. } => "a user mention",
        Token::Subteam { .. } => "a user-group mention",
        Token::Special(_) => "a broadcast mention",
        Token::Channel { .. } => "a channel mention",
        Token::Link { .. } => "a link",
        Token::Word(_) => "a word",
    }
}

/// Parses the words after `digest`.
pub(super) fn parse(
    spec: &'static CommandSpec,
    args: &[Token],
    dialect: Dialect,
) -> Result<super::Command, ParseError> {
    let usage = spec.usage.clone();
    let Some(first) = args.first() else {
        return Err(ParseError::MissingArgument {
            command: "digest",
            argument: SUBCOMMANDS.to_owned(),
            usage,
        });
    };
    let rest = &args[1..];
    let word = token_text(first).to_ascii_lowercase();
    let parsed = match word.as_str() {
        "subscribe" | "sub" => subscribe(spec, rest, dialect)?,
        "list" | "ls" => match rest {
            [] => DigestCommand::List { all: false },
            [Token::Word(w)] if w.eq_ignore_ascii_case("all") => DigestCommand::List { all: true },
            _ => {
                return Err(ParseError::UnexpectedArgument {
                    command: "digest",
                    argument: "all".to_owned(),
                    extra: rest.iter().map(token_text).collect::<Vec<_>>().join(" "),
                    usage,
                });
            }
        },
        "preview" => {
            let group = match rest {
                [
                    Token::Subteam {
                        label: Some(label), ..
                    },
                ] => vec![Token::Word(label.trim_start_matches('@').to_owned())],
                _ => rest.to_vec(),
            };
            DigestCommand::Preview {
                group: one_name(spec, "digest", &group).map_err(about_group)?,
            }
        }
        "unsubscribe" | "unsub" | "remove" => match rest {
            [] => {
                return Err(ParseError::MissingArgument {
                    command: "digest",
                    argument: "subscription id (see `/idp digest list`)".to_owned(),
                    usage,
                });
            }
            [Token::Word(id)] => DigestCommand::Unsubscribe {
                id: id.trim().chars().take(64).collect(),
            },
            [other] => {
                return Err(ParseError::WrongToken {
                    command: "digest",
                    argument: "subscription id".to_owned(),
                    found: found(other),
                    usage,
                });
            }
            [_, extra @ ..] => {
                return Err(ParseError::UnexpectedArgument {
                    command: "digest",
                    argument: "id".to_owned(),
                    extra: extra.iter().map(token_text).collect::<Vec<_>>().join(" "),
                    usage,
                });
            }
        },
        _ => {
            return Err(ParseError::InvalidArgument {
                command: "digest",
                argument: "subcommand".to_owned(),
                given: token_text(first).chars().take(40).collect(),
                reason: format!("say {SUBCOMMANDS}"),
                usage,
            });
        }
    };
    Ok(super::Command::Digest(parsed))
}

/// [`one_name`]'s error, about the group argument.
fn about_group(e: ParseError) -> ParseError {
    match e {
        ParseError::WrongToken {
            command,
            found,
            usage,
            ..
        } => ParseError::WrongToken {
            command,
            argument: "group".to_owned(),
            found,
            usage,
        },
        ParseError::InvalidArgument {
            command,
            given,
            reason,
            usage,
            ..
        } => ParseError::InvalidArgument {
            command,
            argument: "group".to_owned(),
            given,
            reason,
            usage,
        },
        ParseError::MissingArgument { command, usage, .. } => ParseError::MissingArgument {
            command,
            argument: "group".to_owned(),
            usage,
        },
        other => other,
    }
}

/// `subscribe [#channel] <group> <schedule…>`.
fn subscribe(
    spec: &'static CommandSpec,
    args: &[Token],
    dialect: Dialect,
) -> Result<DigestCommand, ParseError> {
    let usage = spec.usage.clone();
    let (channel, rest) = match args.first() {
        Some(Token::Channel { id, label }) => (
            Some(ChannelRef {
                id: id.clone(),
                label: label.clone(),
            }),
            &args[1..],
        ),
        Some(Token::Word(w)) if w.starts_with('#') => {
            if dialect == Dialect::Slack {
                // Slack turns every channel it knows into `<#C…|name>`; a bare `#name` is none.
                return Err(ParseError::InvalidArgument {
                    command: "digest",
                    argument: "channel".to_owned(),
                    given: w.chars().take(80).collect(),
                    reason: "Slack knows no such channel; pick it from the list that appears as you type #".to_owned(),
                    usage,
                });
            }
            let name = w.trim_start_matches('#');
            if name.is_empty() {
                return Err(ParseError::MissingArgument {
                    command: "digest",
                    argument: "channel name after #".to_owned(),
                    usage,
                });
            }
            (
                Some(ChannelRef {
                    id: name.chars().take(80).collect(),
                    label: Some(name.chars().take(80).collect()),
                }),
                &args[1..],
            )
        }
        _ => (None, args),
    };
    let Some(group_token) = rest.first() else {
        return Err(ParseError::MissingArgument {
            command: "digest",
            argument: "group".to_owned(),
            usage,
        });
    };
    // A user-group handle usually is the team's name: `<!subteam^S1|@payments-platform>`.
    let group_token = match group_token {
        Token::Subteam {
            label: Some(label), ..
        } => Token::Word(label.trim_start_matches('@').to_owned()),
        other => other.clone(),
    };
    let group: NameQuery =
        one_name(spec, "digest", std::slice::from_ref(&group_token)).map_err(about_group)?;
    let words: Vec<String> = rest[1..].iter().map(token_text).collect();
    if words.is_empty() {
        return Err(ParseError::MissingArgument {
            command: "digest",
            argument: "schedule (e.g. weekly mon 09:00 Europe/Berlin)".to_owned(),
            usage,
        });
    }
    let text = words.join(" ");
    let schedule = Schedule::parse(&text).map_err(|e| ParseError::InvalidArgument {
        command: "digest",
        argument: "schedule".to_owned(),
        given: text.chars().take(80).collect(),
        reason: e.to_string(),
        usage,
    })?;
    Ok(DigestCommand::Subscribe {
        channel,
        group,
        schedule,
    })
}
