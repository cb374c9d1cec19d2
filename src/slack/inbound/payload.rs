//! Decoding Slack's inbound payloads: the slash-command form
//! (<https://docs.slack.dev/interactivity/implementing-slash-commands#app_command_handling>), the
//! interactivity `payload` field, and Events API envelopes. Only the fields idp reads are kept.

use serde::Deserialize;

/// A slash-command request, `application/x-www-form-urlencoded`. Every field is optional on the
/// wire; [`SlashCommand::validate`] insists on the ones idp needs.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SlashCommand {
    /// Workspace id (`T…`).
    #[serde(default)]
    pub team_id: String,
    /// Enterprise Grid org id (`E…`), if any.
    #[serde(default)]
    pub enterprise_id: Option<String>,
    /// Channel id.
    #[serde(default)]
    pub channel_id: String,
    /// Channel name (`directmessage` and `privategroup` for DMs and private channels).
    #[serde(default)]
    pub channel_name: Option<String>,
    /// User id (`U…` or `W…`).
    #[serde(default)]
    pub user_id: String,
    /// The command, e.g. `/idp`.
    #[serde(default)]
    pub command: String,
    /// Everything after the command, escaped by Slack.
    #[serde(default)]
    pub text: String,
    /// Where to post follow-ups (valid 30 minutes, 5 uses).
    #[serde(default)]
    pub response_url: Option<String>,
    /// Opens a modal within 3 seconds.
    #[serde(default)]
    pub trigger_id: Option<String>,
    /// Slack's `ssl_check=1` probe of the command URL.
    #[serde(default)]
    pub ssl_check: Option<String>,
}

/// Why an inbound payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    /// Not the expected encoding.
    #[error("malformed payload: {0}")]
    Malformed(String),
    /// A field idp needs is missing.
    #[error("payload lacks `{0}`")]
    Missing(&'static str),
}

impl SlashCommand {
    /// Decodes the form body.
    ///
    /// # Errors
    /// [`InboundError::Malformed`].
    pub fn from_form(body: &[u8]) -> Result<Self, InboundError> {
        serde_urlencoded::from_bytes(body).map_err(|e| InboundError::Malformed(e.to_string()))
    }

    /// Checks the fields idp needs to answer: team, user and channel ids.
    ///
    /// # Errors
    /// [`InboundError::Missing`].
    pub fn validate(&self) -> Result<(), InboundError> {
        if self.team_id.is_empty() && self.enterprise_id.as_deref().is_none_or(str::is_empty) {
            return Err(InboundError::Missing("team_id"));
        }
        if self.user_id.is_empty() {
            return Err(InboundError::Missing("user_id"));
        }
        if self.channel_id.is_empty() {
            return Err(InboundError::Missing("channel_id"));
        }
        Ok(())
    }
}

/// The envelope of an Events API request (`application/json`).
#[derive(Debug, Clone, Deserialize)]
pub struct EventEnvelope {
    /// `url_verification`, `event_callback`, `app_rate_limited`…
    #[serde(rename = "type")]
    pub kind: String,
    /// The challenge to echo for `url_verification`.
    #[serde(default)]
    pub challenge: Option<String>,
    /// The event id, for de-duplicating retries.
    #[serde(default)]
    pub event_id: Option<String>,
    /// The workspace (`T…`).
    #[serde(default)]
    pub team_id: Option<String>,
    /// The inner event of an `event_callback`.
    #[serde(default)]
    pub event: Option<InnerEvent>,
    /// The Enterprise Grid org (`E…`), if any.
    #[serde(default)]
    pub enterprise_id: Option<String>,
    /// The installations the event is delivered for: their bot user ids tell idp its own
    /// mention token (<https://docs.slack.dev/apis/events-api/#authorizations>).
    #[serde(default)]
    pub authorizations: Vec<Authorization>,
}

/// One entry of an event's `authorizations`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Authorization {
    /// The installation's user: idp's bot user for a bot install.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Whether that user is a bot.
    #[serde(default)]
    pub is_bot: bool,
}

/// The inner event of an `event_callback`, the fields idp reads
/// (<https://docs.slack.dev/reference/events/app_home_opened>).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct InnerEvent {
    /// `app_home_opened`, `app_mention`…
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The user the event is about (`U…`).
    #[serde(default)]
    pub user: Option<String>,
    /// For `app_home_opened`: `home` or `messages`.
    #[serde(default)]
    pub tab: Option<String>,
    /// For messages and `app_mention`: the text, with the mention token `<@U…>` in it.
    #[serde(default)]
    pub text: Option<String>,
    /// The channel of a message or mention.
    #[serde(default)]
    pub channel: Option<String>,
    /// The message's `ts`.
    #[serde(default)]
    pub ts: Option<String>,
    /// The thread's parent `ts`, when the message is in a thread.
    #[serde(default)]
    pub thread_ts: Option<String>,
    /// Set when a bot (idp included) wrote the message.
    #[serde(default)]
    pub bot_id: Option<String>,
    /// `bot_message`, `message_changed`…; absent for a person's plain message.
    #[serde(default)]
    pub subtype: Option<String>,
    /// The workspace of the person who wrote it (Enterprise Grid: may differ from the event's).
    #[serde(default)]
    pub team: Option<String>,
}

/// The interactivity form: one field, `payload`, holding JSON.
#[derive(Debug, Clone, Deserialize)]
pub struct InteractionForm {
    /// The JSON payload.
    pub payload: String,
}

/// The part of an interaction payload idp reads today.
#[derive(Debug, Clone, Deserialize)]
pub struct InteractionHead {
    /// `block_actions`, `view_submission`, `block_suggestion`…
    #[serde(rename = "type")]
    pub kind: String,
}

/// Reads the `type` of an interactivity request.
///
/// # Errors
/// [`InboundError::Malformed`].
pub fn interaction_kind(body: &[u8]) -> Result<String, InboundError> {
    let form: InteractionForm =
        serde_urlencoded::from_bytes(body).map_err(|e| InboundError::Malformed(e.to_string()))?;
    let head: InteractionHead =
        serde_json::from_str(&form.payload).map_err(|e| InboundError::Malformed(e.to_string()))?;
    Ok(head.kind)
}

/// The parts of an interactivity payload idp reads
/// (<https://docs.slack.dev/reference/interaction-payloads>), for every `type`. Unknown fields are
/// ignored and every field is optional on the wire, so an org-wide install (no `team`) or a new
/// field never makes a payload unreadable.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Interaction {
    /// `block_actions`, `view_submission`, `view_closed`, `block_suggestion`…
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The workspace.
    #[serde(default)]
    pub team: Option<IdOnly>,
    /// The user who acted.
    #[serde(default)]
    pub user: Option<IdOnly>,
    /// The channel, for actions on messages.
    #[serde(default)]
    pub channel: Option<IdOnly>,
    /// Opens a modal within 3 seconds.
    #[serde(default)]
    pub trigger_id: Option<String>,
    /// Where to answer, for actions on messages (valid 30 minutes).
    #[serde(default)]
    pub response_url: Option<String>,
    /// The view, for actions in modals, submissions and suggestions.
    #[serde(default)]
    pub view: Option<ViewPayload>,
    /// The actions, for `block_actions`.
    #[serde(default)]
    pub actions: Vec<ActionPayload>,
    /// For `block_suggestion`: the element's `action_id`.
    #[serde(default)]
    pub action_id: Option<String>,
    /// For `block_suggestion`: the element's `block_id`.
    #[serde(default)]
    pub block_id: Option<String>,
    /// For `block_suggestion`: what the user typed.
    #[serde(default)]
    pub value: Option<String>,
    /// The message, for actions on messages and message shortcuts.
    #[serde(default)]
    pub message: Option<MessageRef>,
    /// For shortcuts (`message_action`, `shortcut`): the `callback_id` declared in the manifest.
    #[serde(default)]
    pub callback_id: Option<String>,
}

/// An object of which idp reads the id (`team`, `user`, `channel`) and, for a channel, its name.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IdOnly {
    /// `T…`, `U…`, `C…`.
    #[serde(default)]
    pub id: String,
    /// A channel's name (`inc-42-checkout-api`; `directmessage` for DMs), when Slack sends it.
    #[serde(default)]
    pub name: Option<String>,
}

/// The message an action or a message shortcut came from.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MessageRef {
    /// Its `ts`.
    #[serde(default)]
    pub ts: String,
    /// Its text (mrkdwn, with Slack's `<url|label>` links), for message shortcuts.
    #[serde(default)]
    pub text: Option<String>,
    /// Legacy attachments (CI bots still post these): their texts and links are read too.
    #[serde(default)]
    pub attachments: Vec<serde_json::Value>,
    /// Block Kit blocks: the URLs and texts in them are read too.
    #[serde(default)]
    pub blocks: Vec<serde_json::Value>,
}

/// Keys of a message's attachments and blocks whose string values carry text or links.
const TEXT_KEYS: &[&str] = &[
    "text",
    "fallback",
    "pretext",
    "title",
    "title_link",
    "from_url",
    "url",
    "value",
];

impl MessageRef {
    /// Everything in the message worth reading for names and links: its text, then the texts and
    /// URLs of its attachments and blocks, one per line, stopping after about
    /// [`crate::slack::interact::MAX_SHORTCUT_TEXT`] characters.
    pub fn searchable_text(&self) -> String {
        let limit = crate::slack::interact::MAX_SHORTCUT_TEXT + 1;
        let mut out = self.text.clone().unwrap_or_default();
        let mut stack: Vec<&serde_json::Value> = self
            .attachments
            .iter()
            .chain(self.blocks.iter())
            .rev()
            .collect();
        // Depth-first over the JSON, bounded by the text gathered and by a node budget.
        let mut budget = 10_000usize;
        while let Some(node) = stack.pop() {
            if out.len() > limit * 4 || budget == 0 {
                break;
            }
            budget -= 1;
            match node {
                serde_json::Value::Object(map) => {
                    for (k, v) in map.iter().rev() {
                        match v {
                            serde_json::Value::String(text) if TEXT_KEYS.contains(&k.as_str()) => {
                                out.push('\n');
                                out.push_str(text);
                            }
                            serde_json::Value::Object(_) | serde_json::Value::Array(_) => {
                                stack.push(v);
                            }
                            _ => {}
                        }
                    }
                }
                serde_json::Value::Array(items) => stack.extend(items.iter().rev()),
                _ => {}
            }
        }
        out
    }
}

/// The view of a modal interaction.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ViewPayload {
    /// `V…`.
    #[serde(default)]
    pub id: String,
    /// Changes with every update; `views.update` checks it.
    #[serde(default)]
    pub hash: Option<String>,
    /// The `callback_id` idp gave the view.
    #[serde(default)]
    pub callback_id: Option<String>,
    /// The `private_metadata` idp gave the view.
    #[serde(default)]
    pub private_metadata: Option<String>,
    /// The inputs' values: `state.values[block_id][action_id]`.
    #[serde(default)]
    pub state: Option<serde_json::Value>,
}

/// One action of a `block_actions` payload.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ActionPayload {
    /// The element's `action_id`.
    #[serde(default)]
    pub action_id: String,
    /// The element's `block_id`.
    #[serde(default)]
    pub block_id: Option<String>,
    /// A button's `value`.
    #[serde(default)]
    pub value: Option<String>,
    /// A select's chosen option.
    #[serde(default)]
    pub selected_option: Option<OptionPayload>,
    /// A link button's URL (Slack sends `block_actions` for those too; idp ignores them).
    #[serde(default)]
    pub url: Option<String>,
    /// When the click happened (`1700000001.000200`): unique per click, the same in a retry of
    /// the same payload, so a retried interaction is handled once.
    #[serde(default)]
    pub action_ts: Option<String>,
}

/// A chosen option.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OptionPayload {
    /// The option's `value`.
    #[serde(default)]
    pub value: String,
}

impl Interaction {
    /// Decodes the interactivity form (`payload=<JSON>`).
    ///
    /// # Errors
    /// [`InboundError::Malformed`]; [`InboundError::Missing`] without a user.
    pub fn from_form(body: &[u8]) -> Result<Self, InboundError> {
        let form: InteractionForm = serde_urlencoded::from_bytes(body)
            .map_err(|e| InboundError::Malformed(e.to_string()))?;
        let interaction: Self = serde_json::from_str(&form.payload)
            .map_err(|e| InboundError::Malformed(e.to_string()))?;
        if interaction.user.as_ref().is_none_or(|u| u.id.is_empty()) {
            return Err(InboundError::Missing("user.id"));
        }
        Ok(interaction)
    }

    /// The user id (checked non-empty by [`Interaction::from_form`]).
    pub fn user_id(&self) -> &str {
        self.user.as_ref().map_or("", |u| u.id.as_str())
    }

    /// The workspace id, or empty for an org-wide install.
    pub fn team_id(&self) -> &str {
        self.team.as_ref().map_or("", |t| t.id.as_str())
    }
}
