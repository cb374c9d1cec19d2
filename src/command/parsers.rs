//! The parser table: one small function per command, keyed by the canonical name declared in
//! `commands/<name>.toml`. [`super::parse`] finds the spec by name or alias, then the parser by
//! the spec's name; a test checks that the registry and this table name the same commands.
//!
//! Each parser gets the words after the command word ([`Args`]) and either builds its
//! [`Command`] or says what is wrong with a [`ParseError`] that carries the usage line.

use super::args::Args;
use super::text::Token;
use super::{Command, MAX_NAME_CHARS, ParseError, digest, owner};
use crate::authz::{ACTION_NAMES, Action};

/// One command's parser.
pub(super) type Parser = fn(&Args<'_>) -> Result<Command, ParseError>;

/// Every command's parser, by canonical name, in the order of `commands/`.
pub(super) static PARSERS: &[(&str, Parser)] = &[
    ("owner", owner::parse),
    ("service", parse_service),
    ("deploys", parse_deploys),
    ("search", parse_search),
    ("team", parse_team),
    ("oncall", parse_oncall),
    ("whoami", parse_whoami),
    ("can", parse_can),
    ("audit", parse_audit),
    ("templates", parse_templates),
    ("new-service", parse_new_service),
    ("rollback", parse_rollback),
    ("digest", digest::parse),
    ("scorecard", parse_scorecard),
    ("help", parse_help),
];

/// The parser for a canonical command name, with the name as a `'static` string.
pub(super) fn lookup(name: &str) -> Option<(&'static str, Parser)> {
    PARSERS.iter().find(|(n, _)| *n == name).copied()
}

/// The longest version `rollback … to <version>` takes.
const MAX_VERSION_CHARS: usize = 128;

/// Most `field=value` pairs one `new-service` takes (more than any template has fields).
pub const MAX_FIELD_VALUES: usize = 50;

/// `service <name>`.
fn parse_service(args: &Args<'_>) -> Result<Command, ParseError> {
    args.single_name("name").map(Command::Service)
}

/// `team <group>`. A user-group handle usually is the team's name:
/// `<!subteam^S1|@payments-platform>` reads as `payments-platform`.
fn parse_team(args: &Args<'_>) -> Result<Command, ParseError> {
    let token = args.exactly_one("group")?;
    let query = match token {
        Token::Subteam {
            label: Some(label), ..
        } => args.name_text("group", label)?,
        other => args.name("group", other)?,
    };
    Ok(Command::Team(query))
}

/// `oncall <service|group>`.
fn parse_oncall(args: &Args<'_>) -> Result<Command, ParseError> {
    args.single_name("target").map(Command::OnCall)
}

/// `whoami`.
fn parse_whoami(args: &Args<'_>) -> Result<Command, ParseError> {
    args.nothing_more(Command::Whoami)
}

/// `templates`.
fn parse_templates(args: &Args<'_>) -> Result<Command, ParseError> {
    args.nothing_more(Command::Templates)
}

/// `search <words>`: every token's visible text is a word.
fn parse_search(args: &Args<'_>) -> Result<Command, ParseError> {
    let words: Vec<String> = args
        .tokens
        .iter()
        .map(super::text::token_display)
        .map(|w| w.trim().to_owned())
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        return Err(args.missing("words"));
    }
    Ok(Command::Search(words))
}

/// `help [command]`.
fn parse_help(args: &Args<'_>) -> Result<Command, ParseError> {
    match args.tokens {
        [] => Ok(Command::Help(None)),
        [topic] => Ok(Command::Help(Some(super::text::token_display(topic)))),
        [_, extra @ ..] => Err(args.unexpected("command", extra)),
    }
}

/// `scorecard <service|group> [scorecard-id]`.
fn parse_scorecard(args: &Args<'_>) -> Result<Command, ParseError> {
    let Some((first, rest)) = args.tokens.split_first() else {
        return Err(args.missing("service|group"));
    };
    let target = args.name("service|group", first)?;
    let scorecard = match rest {
        [] => None,
        [Token::Word(id)] => Some(id.trim().chars().take(80).collect()),
        _ => return Err(args.unexpected("service or group, then a scorecard id", rest)),
    };
    Ok(Command::Scorecard { target, scorecard })
}

/// `deploys <service> [environment]`: a name, then optionally one word.
fn parse_deploys(args: &Args<'_>) -> Result<Command, ParseError> {
    let Some((first, rest)) = args.tokens.split_first() else {
        return Err(args.missing("service"));
    };
    let service = args.name("service", first)?;
    let environment = match rest {
        [] => None,
        [Token::Word(w)] if !w.trim().is_empty() && w.len() <= MAX_NAME_CHARS => {
            Some(w.trim().to_ascii_lowercase())
        }
        [other] => {
            return Err(args.invalid(
                "environment",
                &super::text::token_display(other),
                "an environment is one word such as production",
            ));
        }
        [_, extra @ ..] => return Err(args.unexpected("environment", extra)),
    };
    Ok(Command::Deploys {
        service,
        environment,
    })
}

/// `audit [target] [since]`: a word that reads as a time (`24h`, `7d`, `2026-11-01`, `now`),
/// counted back from the `now` the caller passed in, is the since, and may follow the word
/// `since`; another word is the target.
fn parse_audit(args: &Args<'_>) -> Result<Command, ParseError> {
    let mut target = None;
    let mut since = None;
    let mut tokens = args.tokens.iter();
    while let Some(token) = tokens.next() {
        let mut word = super::text::token_display(token);
        // `since 2h` reads like `2h`; `since` without a time after it is a mistake worth naming.
        if word.eq_ignore_ascii_case("since") {
            let Some(next) = tokens.next() else {
                return Err(args.missing("time after `since`"));
            };
            word = super::text::token_display(next);
            if crate::audit::parse_time(&word, args.now).is_err() {
                return Err(args.invalid(
                    "since",
                    &word,
                    "use an age such as 30m, 24h or 7d, a date (2026-05-01) or an RFC 3339 time",
                ));
            }
        }
        if let Ok(at) = crate::audit::parse_time(&word, args.now) {
            if since.replace(at).is_some() {
                return Err(args.unexpected_text("since", &word));
            }
        } else if target.is_none() {
            target = Some(args.name("target", token)?);
        } else {
            return Err(args.unexpected_text("target", &word));
        }
    }
    Ok(Command::Audit { target, since })
}

/// `can <action> <target> [environment]`.
fn parse_can(args: &Args<'_>) -> Result<Command, ParseError> {
    // The action is read first: a typo there is the most useful thing to point out.
    let Some((action_token, rest)) = args.tokens.split_first() else {
        return Err(args.missing("action"));
    };
    let action = can_action(args, action_token)?;
    let (target_token, environment) = match rest {
        [] => return Err(args.missing("target")),
        [target] => (target, None),
        [target, environment] => (target, Some(environment)),
        [_, _, extra @ ..] => return Err(args.unexpected("environment", extra)),
    };
    let target = args.name("target", target_token)?;
    let environment = environment
        .map(super::text::token_display)
        .map(|e| e.to_ascii_lowercase());
    Ok(Command::Can {
        action,
        target,
        environment,
    })
}

/// The action `can` asks about, with close names offered for a typo.
fn can_action(args: &Args<'_>, token: &Token) -> Result<Action, ParseError> {
    let given = super::text::token_display(token);
    let lower = given.to_ascii_lowercase();
    if let Some(action) = Action::parse(&lower).ok().filter(|a| *a != Action::Public) {
        return Ok(action);
    }
    let known = ACTION_NAMES.join(", ");
    let close: Vec<&str> = ACTION_NAMES
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
    Err(args.invalid("action", &given, reason))
}

/// `new-service [template] [field=value …]`. A quoted value arrives as its own token after a word
/// ending in `=` (`description="A shop"`), so the two are joined again.
fn parse_new_service(args: &Args<'_>) -> Result<Command, ParseError> {
    let mut template = None;
    let mut values: Vec<(String, String)> = Vec::new();
    let mut tokens = args.tokens.iter().peekable();
    while let Some(token) = tokens.next() {
        let Token::Word(word) = token else {
            return Err(args.wrong("template or field=value", token));
        };
        let Some((key, value)) = word.split_once('=') else {
            if template.is_some() || !values.is_empty() {
                return Err(args.unexpected_text("field=value", word));
            }
            if word.chars().count() > MAX_NAME_CHARS {
                return Err(args.invalid(
                    "template",
                    &(word.chars().take(40).collect::<String>() + "…"),
                    format!("names are at most {MAX_NAME_CHARS} characters"),
                ));
            }
            template = Some(word.trim().to_owned());
            continue;
        };
        let key = key.trim();
        let mut value = value.to_owned();
        if value.is_empty()
            && let Some(Token::Word(next)) = tokens.peek()
        {
            value.clone_from(next);
            tokens.next();
        }
        if key.is_empty()
            || key.chars().count() > 64
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(args.invalid(
                "field name",
                &key.chars().take(40).collect::<String>(),
                "field names are letters, digits, `_` and `-`",
            ));
        }
        if values.iter().any(|(k, _)| k == key) {
            return Err(args.invalid("field=value", key, "this field is given twice"));
        }
        if values.len() == MAX_FIELD_VALUES {
            return Err(args.invalid(
                "field=value",
                key,
                format!("at most {MAX_FIELD_VALUES} values"),
            ));
        }
        values.push((key.to_owned(), value));
    }
    Ok(Command::NewService { template, values })
}

/// `rollback [service] [environment] [to <version>]`.
fn parse_rollback(args: &Args<'_>) -> Result<Command, ParseError> {
    let (before, to) = match args
        .tokens
        .iter()
        .position(|t| matches!(t, Token::Word(w) if w.eq_ignore_ascii_case("to")))
    {
        None => (args.tokens, None),
        Some(i) => match &args.tokens[i + 1..] {
            [] => return Err(args.missing("version after `to`")),
            [version] => {
                let version = super::text::token_display(version);
                if version.chars().count() > MAX_VERSION_CHARS {
                    return Err(args.invalid(
                        "version",
                        &(version.chars().take(40).collect::<String>() + "…"),
                        format!("versions are at most {MAX_VERSION_CHARS} characters"),
                    ));
                }
                (&args.tokens[..i], Some(version))
            }
            [_, extra @ ..] => return Err(args.unexpected("version", extra)),
        },
    };
    let (service, environment) = match before {
        [] => (None, None),
        [service] => (Some(args.name("service", service)?), None),
        [service, environment] => (
            Some(args.name("service", service)?),
            Some(super::text::token_display(environment).to_ascii_lowercase()),
        ),
        [_, _, extra @ ..] => return Err(args.unexpected("environment", extra)),
    };
    Ok(Command::Rollback {
        service,
        environment,
        to,
        confirm: None,
    })
}
