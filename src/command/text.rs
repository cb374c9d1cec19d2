//! Tokenizing slash-command text as Slack sends it
//! (<https://docs.slack.dev/messaging/formatting-message-text>): with "escape channels, users, and
//! links" on, mentions and links arrive as `<…>` tokens and the user's own `&`, `<`, `>` arrive as
//! `&amp;`, `&lt;`, `&gt;`. Pure: no IO.

/// How the text was produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// From Slack: `<…>` are control tokens and `&amp;` `&lt;` `&gt;` are decoded exactly once.
    Slack,
    /// Typed in a terminal: taken literally.
    Plain,
}

/// One token of command text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A word or a quoted phrase, decoded.
    Word(String),
    /// `<@U123|name>` or `<@W123>`: a user mention (Enterprise Grid ids start with `W`).
    User {
        /// The user id.
        id: String,
        /// The label after `|`, if any.
        label: Option<String>,
    },
    /// `<#C123|general>`: a channel mention.
    Channel {
        /// The channel id.
        id: String,
        /// The label after `|`, if any.
        label: Option<String>,
    },
    /// `<!subteam^S123|@team>`: a user-group mention.
    Subteam {
        /// The user-group id.
        id: String,
        /// The label after `|` (usually `@handle`), if any.
        label: Option<String>,
    },
    /// `<!here>`, `<!channel>`, `<!everyone>` and other `<!…>` specials.
    Special(String),
    /// `<https://…|label>` or `<mailto:…>`: a link.
    Link {
        /// The URL.
        url: String,
        /// The label after `|`, if any.
        label: Option<String>,
    },
}

/// Decodes `&amp;`, `&lt;` and `&gt;` exactly once, left to right (`&amp;lt;` becomes `&lt;`).
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(t) = tail.strip_prefix("&amp;") {
            out.push('&');
            rest = t;
        } else if let Some(t) = tail.strip_prefix("&lt;") {
            out.push('<');
            rest = t;
        } else if let Some(t) = tail.strip_prefix("&gt;") {
            out.push('>');
            rest = t;
        } else {
            out.push('&');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// Maps typographic quotes to ASCII ones and every Unicode space (non-breaking, thin, ideographic…)
/// to a plain space.
fn normalize(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{201f}' | '\u{00ab}' | '\u{00bb}' => '"',
            '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}' => '\'',
            c if c.is_whitespace() => ' ',
            '\u{200b}' | '\u{2060}' | '\u{feff}' => ' ',
            c => c,
        })
        .collect()
}

fn split_label(inner: &str) -> (String, Option<String>) {
    match inner.split_once('|') {
        Some((a, b)) => (
            a.to_owned(),
            Some(decode_entities(b)).filter(|l| !l.is_empty()),
        ),
        None => (inner.to_owned(), None),
    }
}

fn control_token(inner: &str) -> Token {
    if let Some(rest) = inner.strip_prefix('@') {
        let (id, label) = split_label(rest);
        Token::User { id, label }
    } else if let Some(rest) = inner.strip_prefix('#') {
        let (id, label) = split_label(rest);
        Token::Channel { id, label }
    } else if let Some(rest) = inner.strip_prefix("!subteam^") {
        let (id, label) = split_label(rest);
        Token::Subteam { id, label }
    } else if let Some(rest) = inner.strip_prefix('!') {
        let (name, _) = split_label(rest);
        Token::Special(name)
    } else {
        let (url, label) = split_label(inner);
        Token::Link {
            url: decode_entities(&url),
            label,
        }
    }
}

/// The text a token shows in Slack: a mention's label or id, a link's label or URL.
pub fn token_display(token: &Token) -> String {
    match token {
        Token::Word(w) => w.clone(),
        Token::User { id, label } => format!("@{}", label.as_deref().unwrap_or(id)),
        Token::Channel { id, label } => format!("#{}", label.as_deref().unwrap_or(id)),
        Token::Subteam { id, label } => label.clone().unwrap_or_else(|| id.clone()),
        Token::Special(s) => format!("@{s}"),
        Token::Link { url, label } => label.clone().unwrap_or_else(|| url.clone()),
    }
}

/// What kind of token this is, as an error message names it ("a user mention", "a link").
pub fn describe(token: &Token) -> &'static str {
    match token {
        Token::Word(_) => "a word",
        Token::User { .. } => "a user mention",
        Token::Channel { .. } => "a channel mention",
        Token::Subteam { .. } => "a user-group mention",
        Token::Special(_) => "a broadcast mention",
        Token::Link { .. } => "a link",
    }
}

/// Tokens written back as one line the way Slack showed them: each token's visible text,
/// separated by single spaces, a word with a space or a quote in it quoted again. Typing the line
/// back gives the same tokens (mentions and links aside, which Slack links again as they are sent).
pub fn display_line(tokens: &[Token]) -> String {
    let shown: Vec<String> = tokens
        .iter()
        .map(|t| match t {
            Token::Word(w) if w.is_empty() || w.contains([' ', '"']) => {
                format!("\"{}\"", w.replace('"', "'"))
            }
            other => token_display(other),
        })
        .collect();
    shown.join(" ")
}

/// Splits command text into tokens. Words are separated by any run of spaces; `"a phrase"` is one
/// word; in the Slack dialect `<…>` spans are mentions or links and entities are decoded once.
pub fn tokenize(text: &str, dialect: Dialect) -> Vec<Token> {
    let text = normalize(text);
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut in_quotes = false;
    let mut quoted = false;
    let finish = |word: &mut String, quoted: &mut bool, tokens: &mut Vec<Token>| {
        if !word.is_empty() || *quoted {
            let w = match dialect {
                Dialect::Slack => decode_entities(word),
                Dialect::Plain => word.clone(),
            };
            tokens.push(Token::Word(w));
        }
        word.clear();
        *quoted = false;
    };
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '<' if dialect == Dialect::Slack => {
                if let Some(end) = text[i + 1..].find('>') {
                    let inner = &text[i + 1..i + 1 + end];
                    if in_quotes {
                        // Inside a quoted phrase a mention or link contributes its visible text.
                        word.push_str(&token_display(&control_token(inner)));
                    } else {
                        finish(&mut word, &mut quoted, &mut tokens);
                        tokens.push(control_token(inner));
                    }
                    while chars.peek().is_some_and(|(j, _)| *j <= i + 1 + end) {
                        chars.next();
                    }
                } else {
                    word.push(c);
                }
            }
            '"' => {
                if in_quotes {
                    in_quotes = false;
                    quoted = true;
                } else {
                    finish(&mut word, &mut quoted, &mut tokens);
                    in_quotes = true;
                }
            }
            ' ' if !in_quotes => finish(&mut word, &mut quoted, &mut tokens),
            c => word.push(c),
        }
    }
    finish(&mut word, &mut quoted, &mut tokens);
    tokens
}
