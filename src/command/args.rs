//! What one command's parser is given ([`Args`]), and the small readers every parser shares: a
//! name, "nothing more", and the errors that carry the command's usage line.

use chrono::{DateTime, Utc};

use super::text::{self, Dialect, Token};
use super::{CommandSpec, MAX_NAME_CHARS, ParseError};
use crate::catalog::NameQuery;

/// The longest piece of typed text an error message repeats; longer text is cut with `…`.
const MAX_ECHO_CHARS: usize = 300;

/// The words after the command word, with everything a parser may look at. The parser table
/// hands one to each parser; nothing in it comes from outside the call (the time is passed in).
#[derive(Debug, Clone, Copy)]
pub(super) struct Args<'a> {
    /// The canonical command name, the parser table's key.
    pub(super) command: &'static str,
    /// The command's declaration in `commands/`, for its usage line.
    pub(super) spec: &'static CommandSpec,
    /// The tokens after the command word.
    pub(super) tokens: &'a [Token],
    /// How the text was produced.
    pub(super) dialect: Dialect,
    /// The current time, as the caller read it.
    pub(super) now: DateTime<Utc>,
}

/// `text` cut to [`MAX_ECHO_CHARS`] characters, with `…` when it was longer.
pub(super) fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_ECHO_CHARS {
        text.to_owned()
    } else {
        text.chars().take(MAX_ECHO_CHARS).collect::<String>() + "…"
    }
}

impl<'a> Args<'a> {
    /// The same command, time and dialect over other tokens (a subcommand's words).
    pub(super) fn with<'b>(&self, tokens: &'b [Token]) -> Args<'b> {
        Args {
            command: self.command,
            spec: self.spec,
            tokens,
            dialect: self.dialect,
            now: self.now,
        }
    }

    /// The usage line, without `/idp`.
    pub(super) fn usage(&self) -> String {
        self.spec.usage.clone()
    }

    /// `argument` is missing.
    pub(super) fn missing(&self, argument: &str) -> ParseError {
        ParseError::MissingArgument {
            command: self.command,
            argument: argument.to_owned(),
            usage: self.usage(),
        }
    }

    /// `extra` is left over after `argument`.
    pub(super) fn unexpected(&self, argument: &str, extra: &[Token]) -> ParseError {
        self.unexpected_text(argument, &text::display_line(extra))
    }

    /// `extra` (already text) is left over after `argument`.
    pub(super) fn unexpected_text(&self, argument: &str, extra: &str) -> ParseError {
        ParseError::UnexpectedArgument {
            command: self.command,
            argument: argument.to_owned(),
            extra: shorten(extra),
            usage: self.usage(),
        }
    }

    /// `given` is not a valid `argument`, because `reason`.
    pub(super) fn invalid(
        &self,
        argument: &str,
        given: &str,
        reason: impl Into<String>,
    ) -> ParseError {
        ParseError::InvalidArgument {
            command: self.command,
            argument: argument.to_owned(),
            given: shorten(given),
            reason: reason.into(),
            usage: self.usage(),
        }
    }

    /// A mention or link stands where a plain `argument` was expected.
    pub(super) fn wrong(&self, argument: &str, token: &Token) -> ParseError {
        ParseError::WrongToken {
            command: self.command,
            argument: argument.to_owned(),
            found: text::describe(token),
            usage: self.usage(),
        }
    }

    /// The one token of a command that takes exactly one `argument`.
    pub(super) fn exactly_one(&self, argument: &str) -> Result<&'a Token, ParseError> {
        match self.tokens {
            [] => Err(self.missing(argument)),
            [one] => Ok(one),
            [_, extra @ ..] => Err(self.unexpected(argument, extra)),
        }
    }

    /// `command` itself when no words follow (`whoami`, `templates`).
    pub(super) fn nothing_more(
        &self,
        command: super::Command,
    ) -> Result<super::Command, ParseError> {
        if self.tokens.is_empty() {
            Ok(command)
        } else {
            Err(self.unexpected("nothing", self.tokens))
        }
    }

    /// The single `argument` of a one-name command (`service`, `team`, `oncall`).
    pub(super) fn single_name(&self, argument: &str) -> Result<NameQuery, ParseError> {
        let token = self.exactly_one(argument)?;
        self.name(argument, token)
    }

    /// A catalog name from one token: a word, or a channel mention's label (channels are often
    /// named after the service). Other mentions and links are refused.
    pub(super) fn name(&self, argument: &str, token: &Token) -> Result<NameQuery, ParseError> {
        match token {
            Token::Word(w) => self.name_text(argument, w),
            Token::Channel {
                label: Some(label), ..
            } => self.name_text(argument, label),
            other => Err(self.wrong(argument, other)),
        }
    }

    /// A catalog name `[kind:][namespace/]name` from text. A leading `@` or `#` is dropped: in a
    /// terminal that is how people write what Slack sends as mentions.
    pub(super) fn name_text(&self, argument: &str, text: &str) -> Result<NameQuery, ParseError> {
        let text = text.trim();
        let name = text.strip_prefix(['@', '#']).unwrap_or(text);
        if name.is_empty() {
            return Err(self.missing(argument));
        }
        // kind (63) + ':' + namespace (63) + '/' + name (63): anything longer names nothing, and
        // the "did you mean" search over it would cost time for nothing.
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(self.invalid(
                argument,
                &(name.chars().take(40).collect::<String>() + "…"),
                format!("names are at most {MAX_NAME_CHARS} characters"),
            ));
        }
        Ok(NameQuery::parse(name))
    }
}
