//! The base every Slack renderer builds on: [`Reply`], Block Kit's limits, text cutting and
//! escaping helpers, and the [`Blocks`] builder that enforces the limits by construction. The
//! per-message renderers (`rollback_message`, `run_message`, `scorecard_message`,
//! `digest_message`, `home`, `modal`) and the outcome renderer (`render`) all use this module, and
//! it uses none of them.

use slack_morphism::prelude::*;

use super::mrkdwn::escape;

/// Most blocks in one message.
pub const MAX_BLOCKS: usize = 50;
/// Most characters in a section's text.
pub const MAX_SECTION: usize = 3000;
/// Most characters in a header.
pub const MAX_HEADER: usize = 150;
/// Most characters in one section field.
pub const MAX_FIELD: usize = 2000;
/// Most fields in one section.
pub const MAX_FIELDS: usize = 10;
/// Most elements in one context block.
pub const MAX_CONTEXT: usize = 10;
/// Most characters of a button's text.
pub const MAX_BUTTON: usize = 75;
/// Lines of a list shown before "…and N more".
/// Most lines in one list before "…and N more".
pub(crate) const LIST_LINES: usize = 15;

/// A rendered reply: Block Kit blocks and the notification/fallback text.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Reply {
    /// Plain fallback text (notifications, screen readers).
    pub text: String,
    /// The Block Kit blocks.
    pub blocks: Vec<SlackBlock>,
}

/// The JSON body of a slash-command reply sent in the HTTP response
/// (<https://docs.slack.dev/interactivity/implementing-slash-commands>): shown only to the caller.
#[derive(Debug, serde::Serialize)]
pub struct EphemeralResponse<'a> {
    /// Always `ephemeral`.
    pub response_type: &'static str,
    /// The fallback text.
    pub text: &'a str,
    /// The blocks.
    pub blocks: &'a [SlackBlock],
}

impl Reply {
    /// The ephemeral slash-command response for this reply.
    pub fn ephemeral(&self) -> EphemeralResponse<'_> {
        EphemeralResponse {
            response_type: "ephemeral",
            text: &self.text,
            blocks: &self.blocks,
        }
    }

    /// The reply to an internal failure: no detail, only a reference to find it in the logs.
    pub fn internal_error(request_id: &str) -> Self {
        let text = format!(
            "Something went wrong on idp's side (ref `{}`). Please try again.",
            escape(request_id)
        );
        let mut b = Blocks::default();
        b.section(text.clone());
        b.finish(&text)
    }
}

/// Cuts `text` to at most `max` characters, ending with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// Escapes raw text for mrkdwn so that the escaped result is at most `max` characters: the longest
/// raw prefix whose escaped form, plus `…`, fits.
pub fn escape_within(raw: &str, max: usize) -> String {
    let escaped = escape(raw);
    if escaped.chars().count() <= max {
        return escaped;
    }
    if max == 0 {
        return String::new();
    }
    let chars: Vec<char> = raw.chars().collect();
    let fits = |n: usize| {
        escape(&chars[..n].iter().collect::<String>())
            .chars()
            .count()
            < max
    };
    let (mut lo, mut hi) = (0usize, chars.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if fits(mid) { lo = mid } else { hi = mid - 1 }
    }
    let mut out = escape(&chars[..lo].iter().collect::<String>());
    out.push('…');
    out
}

/// Joins whole lines into one mrkdwn text of at most `max` characters and `max_lines` lines,
/// ending with "…and N more" when some did not fit. Lines are never cut in half, so a link or
/// an entity is never broken.
pub fn join_lines(lines: &[String], max: usize, max_lines: usize) -> String {
    let total: usize =
        lines.iter().map(|l| l.chars().count()).sum::<usize>() + lines.len().saturating_sub(1);
    if lines.len() <= max_lines && total <= max {
        return lines.join("\n");
    }
    let trailer = |left: usize| format!("…and {left} more");
    let mut out = String::new();
    let mut used = 0usize;
    let mut shown = 0usize;
    for (i, line) in lines.iter().enumerate() {
        let len = line.chars().count() + usize::from(i > 0);
        let left_after = lines.len() - i - 1;
        let room_for_trailer = if left_after > 0 {
            trailer(left_after).chars().count() + 1
        } else {
            0
        };
        if shown >= max_lines || used + len + room_for_trailer > max {
            break;
        }
        if i > 0 {
            out.push('\n');
        }
        out.push_str(line);
        used += len;
        shown += 1;
    }
    if shown < lines.len() {
        if shown > 0 {
            out.push('\n');
        }
        out.push_str(&trailer(lines.len() - shown));
    }
    out
}

/// A block list that enforces Block Kit's limits as it grows.
#[derive(Default)]
pub(crate) struct Blocks {
    blocks: Vec<SlackBlock>,
    dropped: usize,
}

impl Blocks {
    pub(crate) fn push(&mut self, block: SlackBlock) {
        if self.blocks.len() < MAX_BLOCKS - 1 {
            self.blocks.push(block);
        } else {
            self.dropped += 1;
        }
    }

    pub(crate) fn header(&mut self, text: &str) {
        let text = truncate(text, MAX_HEADER);
        self.push(SlackHeaderBlock::new(SlackBlockPlainText::new(text).into()).into());
    }

    /// A section whose text is already-escaped mrkdwn; cut at a line boundary if too long.
    pub(crate) fn section(&mut self, text: String) {
        let text = if text.chars().count() > MAX_SECTION {
            let lines: Vec<String> = text
                .lines()
                .map(|l| truncate(l, MAX_SECTION - 40))
                .collect();
            join_lines(&lines, MAX_SECTION, usize::MAX)
        } else {
            text
        };
        if text.is_empty() {
            return;
        }
        self.push(SlackSectionBlock::new().with_text(md!(text)).into());
    }

    /// A section of fields (already-escaped mrkdwn), at most 10, each cut to 2,000 characters.
    pub(crate) fn fields(&mut self, fields: Vec<String>) {
        let fields: Vec<SlackBlockText> = fields
            .into_iter()
            .take(MAX_FIELDS)
            .map(|f| md!(truncate(&f, MAX_FIELD)))
            .collect();
        if !fields.is_empty() {
            self.push(SlackSectionBlock::new().with_fields(fields).into());
        }
    }

    /// A context block of already-escaped mrkdwn elements, at most 10.
    pub(crate) fn context(&mut self, items: Vec<String>) {
        let elements: Vec<SlackContextBlockElement> = items
            .into_iter()
            .take(MAX_CONTEXT)
            .map(|t| {
                SlackContextBlockElement::MarkDown(SlackBlockMarkDownText::new(truncate(
                    &t, MAX_FIELD,
                )))
            })
            .collect();
        if !elements.is_empty() {
            self.push(SlackContextBlock::new(elements).into());
        }
    }

    pub(crate) fn finish(mut self, text: &str) -> Reply {
        if self.dropped > 0 {
            let note = format!("…and {} more blocks not shown", self.dropped);
            self.blocks.push(
                SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(
                    SlackBlockMarkDownText::new(note),
                )])
                .into(),
            );
        }
        Reply {
            text: escape_within(&text.replace('`', ""), 3000),
            blocks: self.blocks,
        }
    }
}

pub(crate) fn code(text: &str) -> String {
    format!("`{}`", escape(&text.replace('`', "'")))
}
