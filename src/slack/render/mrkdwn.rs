//! Escaping for Slack's mrkdwn (<https://docs.slack.dev/messaging/formatting-message-text>).
//!
//! Every string from a user or the catalog goes through [`escape`] before it is placed in mrkdwn:
//! `&`, `<` and `>` become entities, so `<!channel>`, `<@U1>` or `<https://evil|docs>` arrive as
//! inert text, and the bare words `@here`, `@channel` and `@everyone` get an invisible word joiner
//! after the `@` so that no client setting can turn them into a broadcast.

/// The word joiner (U+2060): invisible, and breaks Slack's `@here` recognition.
const JOINER: char = '\u{2060}';

/// Bidirectional overrides and zero-width characters (U+200B–U+200F, U+202A–U+202E,
/// U+2066–U+2069, U+FEFF): they can make text read differently than it is, so escaping drops
/// them.
fn is_invisible_control(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Escapes text for mrkdwn. See the module docs for the rules; bidirectional overrides and
/// zero-width characters are dropped first, so they can neither reorder what is shown nor hide
/// an `@channel` from the word joiner.
pub fn escape(text: &str) -> String {
    let cleaned: String;
    let text = if text.contains(is_invisible_control) {
        cleaned = text.chars().filter(|c| !is_invisible_control(*c)).collect();
        cleaned.as_str()
    } else {
        text
    };
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    while let Some(pos) = rest.find(['&', '<', '>', '@']) {
        out.push_str(&rest[..pos]);
        let c = rest.as_bytes()[pos];
        let tail = &rest[pos + 1..];
        match c {
            b'&' => out.push_str("&amp;"),
            b'<' => out.push_str("&lt;"),
            b'>' => out.push_str("&gt;"),
            _ => {
                out.push('@');
                let lower = tail.get(..8).unwrap_or(tail).to_ascii_lowercase();
                if lower.starts_with("here")
                    || lower.starts_with("channel")
                    || lower.starts_with("everyone")
                {
                    out.push(JOINER);
                }
            }
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// Whether a URL may be shown as a link: `http`/`https` only, no spaces or control characters.
pub fn is_safe_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://"))
        && url.len() <= 3000
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A mrkdwn link `<url|label>` with the label escaped and `|`, `<`, `>` in the URL
/// percent-encoded. A URL that is not http(s) is shown as escaped text, never as a link.
pub fn link(url: &str, label: &str) -> String {
    if !is_safe_url(url) {
        return if label == url {
            escape(url)
        } else {
            format!("{} ({})", escape(label), escape(url))
        };
    }
    let url = url
        .replace('&', "&amp;")
        .replace('|', "%7C")
        .replace('<', "%3C")
        .replace('>', "%3E");
    format!("<{url}|{}>", escape(label))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_overrides_and_zero_width_characters_are_dropped_before_escaping() {
        assert_eq!(escape("\u{202E}checkout-api"), "checkout-api");
        let hidden = escape("@\u{200B}channel");
        assert!(hidden.contains('\u{2060}'), "{hidden:?}");
    }

    #[test]
    fn broadcasts_and_links_are_neutralised() {
        assert_eq!(
            escape("<!channel> & <https://evil.example|docs>"),
            "&lt;!channel&gt; &amp; &lt;https://evil.example|docs&gt;"
        );
        assert_eq!(escape("ping @here now"), "ping @\u{2060}here now");
        assert_eq!(escape("mail a@example.com"), "mail a@example.com");
        assert_eq!(link("javascript:alert(1)", "x"), "x (javascript:alert(1))");
        assert_eq!(
            link("https://a.example/?q=1&r=|", "<b>"),
            "<https://a.example/?q=1&amp;r=%7C|&lt;b&gt;>"
        );
    }
}
