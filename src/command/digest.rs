//! `digest subscribe [#channel] <group> <schedule>`, `digest list [all]`,
//! `digest unsubscribe <id>`, `digest preview <group>`: parsing only (pure, no IO).

use super::args::Args;
use super::text::{Dialect, Token, token_display};
use super::{Command, ParseError};
use crate::catalog::NameQuery;
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

/// Parses the words after `digest`.
pub(super) fn parse(args: &Args<'_>) -> Result<Command, ParseError> {
    let Some((first, rest)) = args.tokens.split_first() else {
        return Err(args.missing(SUBCOMMANDS));
    };
    let sub = args.with(rest);
    let word = token_display(first).to_ascii_lowercase();
    let parsed = match word.as_str() {
        "subscribe" | "sub" => subscribe(&sub)?,
        "list" | "ls" => match rest {
            [] => DigestCommand::List { all: false },
            [Token::Word(w)] if w.eq_ignore_ascii_case("all") => DigestCommand::List { all: true },
            _ => return Err(args.unexpected("all", rest)),
        },
        "preview" => DigestCommand::Preview {
            group: group(&sub, sub.exactly_one("group")?)?,
        },
        "unsubscribe" | "unsub" | "remove" => match rest {
            [] => return Err(args.missing("subscription id (see `/idp digest list`)")),
            [Token::Word(id)] => DigestCommand::Unsubscribe {
                id: id.trim().chars().take(64).collect(),
            },
            [other] => return Err(args.wrong("subscription id", other)),
            [_, extra @ ..] => return Err(args.unexpected("id", extra)),
        },
        _ => {
            return Err(args.invalid(
                "subcommand",
                &token_display(first).chars().take(40).collect::<String>(),
                format!("say {SUBCOMMANDS}"),
            ));
        }
    };
    Ok(Command::Digest(parsed))
}

/// The group a digest is about. A user-group handle usually is the team's name:
/// `<!subteam^S1|@payments-platform>` reads as `payments-platform`.
fn group(args: &Args<'_>, token: &Token) -> Result<NameQuery, ParseError> {
    match token {
        Token::Subteam {
            label: Some(label), ..
        } => args.name_text("group", label),
        other => args.name("group", other),
    }
}

/// `subscribe [#channel] <group> <schedule…>`.
fn subscribe(args: &Args<'_>) -> Result<DigestCommand, ParseError> {
    let (channel, rest) = match args.tokens.split_first() {
        Some((Token::Channel { id, label }, rest)) => (
            Some(ChannelRef {
                id: id.clone(),
                label: label.clone(),
            }),
            rest,
        ),
        Some((Token::Word(w), rest)) if w.starts_with('#') => {
            if args.dialect == Dialect::Slack {
                // Slack turns every channel it knows into `<#C…|name>`; a bare `#name` is none.
                return Err(args.invalid(
                    "channel",
                    &w.chars().take(80).collect::<String>(),
                    "Slack knows no such channel; pick it from the list that appears as you type #",
                ));
            }
            let name = w.trim_start_matches('#');
            if name.is_empty() {
                return Err(args.missing("channel name after #"));
            }
            (
                Some(ChannelRef {
                    id: name.chars().take(80).collect(),
                    label: Some(name.chars().take(80).collect()),
                }),
                rest,
            )
        }
        _ => (None, args.tokens),
    };
    let Some((group_token, schedule_tokens)) = rest.split_first() else {
        return Err(args.missing("group"));
    };
    let group = group(args, group_token)?;
    if schedule_tokens.is_empty() {
        return Err(args.missing("schedule (e.g. weekly mon 09:00 Europe/Berlin)"));
    }
    let text = schedule_tokens
        .iter()
        .map(token_display)
        .collect::<Vec<_>>()
        .join(" ");
    let schedule = Schedule::parse(&text).map_err(|e| {
        args.invalid(
            "schedule",
            &text.chars().take(80).collect::<String>(),
            e.to_string(),
        )
    })?;
    Ok(DigestCommand::Subscribe {
        channel,
        group,
        schedule,
    })
}
