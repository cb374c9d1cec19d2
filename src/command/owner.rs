//! `owner` takes what people paste: a catalog name, a repository URL (as a Slack link or typed),
//! a person (a user mention) or a channel (a channel mention). Parsing only: which entity a URL,
//! person or channel leads to is the handler's question.

use super::args::Args;
use super::text::Token;
use super::{Command, ParseError};
use crate::catalog::NameQuery;

/// The longest URL `owner` reads. Repository URLs are far shorter; this only bounds the work.
pub const MAX_URL_CHARS: usize = 2_000;

/// The longest Slack user or channel id accepted (real ids are about 11 characters).
const MAX_SLACK_ID_CHARS: usize = 32;

/// The longest Slack channel name (Slack's own limit).
const MAX_CHANNEL_NAME_CHARS: usize = 80;

/// What `owner` was asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerQuery {
    /// A catalog name, `[kind:][namespace/]name`: `owner checkout-api`.
    Name(NameQuery),
    /// An absolute `http`/`https` URL, normalized (lower-case scheme and host), such as a
    /// repository's `https://github.com/acme/checkout-api`: the owner of the entity whose source
    /// location, project slug or links match it. A Slack link's label is dropped; a typed
    /// `github.com/acme/checkout-api` (no scheme) gets `https://`.
    Url(String),
    /// A person, from a Slack user mention `<@U123>` or `<@U123|jane>`: what that person's teams
    /// own.
    Person {
        /// The Slack user id (`U…`, or `W…` on Enterprise Grid).
        user_id: String,
    },
    /// A channel, from a Slack channel mention `<#C123|checkout-api>`: the service the channel is
    /// named after.
    Channel {
        /// The Slack channel id (`C…`, `G…`).
        id: String,
        /// The channel's name as Slack sent it, without `#`. `None` when Slack sent none
        /// (`<#C123>` or `<#C123|>`, as it does for channels it does not name to the app).
        name: Option<String>,
    },
}

/// `owner <service | repository URL | @person | #channel>`.
pub(super) fn parse(args: &Args<'_>) -> Result<Command, ParseError> {
    const ARGUMENT: &str = "service";
    let token = args.exactly_one(ARGUMENT)?;
    let query = match token {
        Token::Word(w) => match typed_url(w) {
            Some(url) => OwnerQuery::Url(web_url(args, &url)?),
            None => OwnerQuery::Name(args.name_text(ARGUMENT, w)?),
        },
        Token::Link { url, .. } if has_web_scheme(url) => OwnerQuery::Url(web_url(args, url)?),
        Token::User { id, .. } => OwnerQuery::Person {
            user_id: slack_id(args, "person", token, id, "@")?,
        },
        Token::Channel { id, label } => OwnerQuery::Channel {
            id: slack_id(args, "channel", token, id, "#")?,
            name: channel_name(args, label.as_deref())?,
        },
        // A user group, a broadcast or a `mailto:` link names nothing `owner` can look up.
        other => return Err(args.wrong(ARGUMENT, other)),
    };
    Ok(Command::Owner(query))
}

/// Whether `url` starts with `http://` or `https://` (any case).
fn has_web_scheme(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// A typed word that is a URL: with a web scheme, or `host.tld/path` (what people copy from a
/// browser's address bar). A catalog namespace never has a dot, so `payments/checkout-api` stays a
/// name.
fn typed_url(word: &str) -> Option<String> {
    let word = word.trim();
    if has_web_scheme(word) {
        return Some(word.to_owned());
    }
    let (host, path) = word.split_once('/')?;
    let host_like = host.contains('.')
        && !host.starts_with('.')
        && !host.ends_with('.')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    (host_like && !path.is_empty()).then(|| format!("https://{word}"))
}

/// Checks and normalizes a web URL.
fn web_url(args: &Args<'_>, url: &str) -> Result<String, ParseError> {
    let url = url.trim();
    if url.chars().count() > MAX_URL_CHARS {
        return Err(args.invalid(
            "repository URL",
            url,
            format!("URLs are at most {MAX_URL_CHARS} characters"),
        ));
    }
    match url::Url::parse(url) {
        Ok(parsed)
            if matches!(parsed.scheme(), "http" | "https")
                && parsed.host_str().is_some_and(|h| !h.is_empty()) =>
        {
            Ok(parsed.into())
        }
        Ok(_) => Err(args.invalid("repository URL", url, "it names no web host")),
        Err(e) => Err(args.invalid("repository URL", url, format!("it is not a URL ({e})"))),
    }
}

/// The id inside a user or channel mention, which Slack always fills with letters and digits.
fn slack_id(
    args: &Args<'_>,
    argument: &str,
    token: &Token,
    id: &str,
    sigil: &str,
) -> Result<String, ParseError> {
    let id = id.trim();
    if id.is_empty() {
        return Err(args.invalid(
            argument,
            &format!("<{sigil}>"),
            format!(
                "the mention carries no id; pick from the list Slack shows as you type {sigil}"
            ),
        ));
    }
    if id.chars().count() > MAX_SLACK_ID_CHARS || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(args.invalid(
            argument,
            &super::text::token_display(token),
            "Slack ids are letters and digits",
        ));
    }
    Ok(id.to_ascii_uppercase())
}

/// A channel mention's label, without `#`; `None` when empty.
fn channel_name(args: &Args<'_>, label: Option<&str>) -> Result<Option<String>, ParseError> {
    let Some(name) = label.map(|l| l.trim().trim_start_matches('#')) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_CHANNEL_NAME_CHARS {
        return Err(args.invalid(
            "channel",
            name,
            format!("channel names are at most {MAX_CHANNEL_NAME_CHARS} characters"),
        ));
    }
    Ok(Some(name.to_owned()).filter(|n| !n.is_empty()))
}
