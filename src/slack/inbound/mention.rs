//! `@idp <command>` in a channel or thread (Events API `app_mention`,
//! <https://docs.slack.dev/reference/events/app_mention>): the bot's own mention token is
//! stripped, the rest is parsed as the slash command's text and sent through the one door. The
//! answer goes to the thread (the mention's thread, or a new one under the mention); refusals,
//! mistakes and personal answers go privately to the person (`chat.postEphemeral`), in the thread.
//! Messages written by bots, idp included, are ignored; an event Slack retries (same `event_id`)
//! is answered once across replicas.

use std::time::Duration;

use crate::app::{AppState, RequestMeta};
use crate::command::{self, Dialect};
use crate::handlers::{Handled, Outcome};
use crate::slack::inbound::{EventEnvelope, InnerEvent};
use crate::slack::render::Reply;

/// How long a channel's name is remembered for classifying mentions (channels are renamed
/// rarely; an incident channel lives days).
pub const CHANNEL_NAME_TTL: Duration = Duration::from_secs(3600);

/// The most of a mention read, in characters (a slash command's text is at most 4,000 too).
pub const MAX_MENTION_CHARS: usize = 4_000;

/// Channel names learnt from `conversations.info`, by channel id.
#[derive(Clone)]
pub struct ChannelNames {
    names: moka::future::Cache<String, Option<String>>,
}

impl Default for ChannelNames {
    fn default() -> Self {
        Self {
            names: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CHANNEL_NAME_TTL)
                .build(),
        }
    }
}

impl std::fmt::Debug for ChannelNames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelNames").finish_non_exhaustive()
    }
}

impl ChannelNames {
    /// The channel's name, asked of Slack once per [`CHANNEL_NAME_TTL`]; `None` for a DM or when
    /// Slack could not say (then the policy treats the channel as unknown).
    pub async fn name(&self, state: &AppState, channel: &str) -> Option<String> {
        if let Some(known) = self.names.get(channel).await {
            return known;
        }
        let api = state.slack.as_ref()?;
        match tokio::time::timeout(
            crate::slack::channels::LOOKUP_BUDGET,
            api.channel_name(channel),
        )
        .await
        {
            Ok(Ok(name)) => {
                self.names.insert(channel.to_owned(), name.clone()).await;
                name
            }
            Ok(Err(e)) => {
                tracing::warn!(channel, error = %e, "could not learn a channel's name");
                None
            }
            Err(_) => {
                tracing::warn!(channel, "conversations.info took too long");
                None
            }
        }
    }
}

/// The command in a mention's text: what follows idp's own mention token (`<@U0BOT>`,
/// `<@U0BOT|idp>`), wherever it stands ("hey <@U0BOT> owner checkout-api" asks `owner
/// checkout-api`), with any further tokens of idp's removed. Without a known bot user id, a
/// leading user mention is taken as idp's.
pub fn strip_mention(text: &str, bot_user: Option<&str>) -> String {
    let Some(bot) = bot_user else {
        let rest = text.trim_start();
        return match rest
            .strip_prefix("<@")
            .and_then(|after| after.find('>').map(|end| &after[end + 1..]))
        {
            Some(after) => after.trim().to_owned(),
            None => rest.trim().to_owned(),
        };
    };
    let mut out = String::new();
    let mut rest = text;
    let mut seen_bot = false;
    while let Some(start) = rest.find("<@") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('>') else { break };
        let id = after[..end].split('|').next().unwrap_or_default();
        if id == bot {
            if !seen_bot {
                // Words before idp's mention are talk, not the command.
                out.clear();
                seen_bot = true;
            } else {
                out.push_str(&rest[..start]);
            }
            rest = &after[end + 1..];
        } else {
            out.push_str(&rest[..start + 2 + end + 1]);
            rest = &after[end + 1..];
        }
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether a bot wrote the message (idp itself included): such messages are never answered.
fn from_a_bot(event: &InnerEvent, bot_user: Option<&str>) -> bool {
    event.bot_id.is_some()
        || event.subtype.as_deref() == Some("bot_message")
        || (bot_user.is_some() && event.user.as_deref() == bot_user)
}

/// Outcomes fit to share in the thread; everything else is answered privately.
fn shareable(outcome: &Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Owner(..)
            | Outcome::Service(..)
            | Outcome::Deploys { .. }
            | Outcome::Team(_)
            | Outcome::OnCall(..)
            | Outcome::Search { .. }
            | Outcome::Scorecard(_)
            | Outcome::Templates(_)
            | Outcome::WhoOwns(_)
    )
}

/// Answers one `app_mention` (after the HTTP acknowledgement).
pub async fn app_mention(state: &AppState, envelope: EventEnvelope) {
    let Some(event) = envelope.event.as_ref() else {
        return;
    };
    let bot_user = envelope
        .authorizations
        .iter()
        .find(|a| a.is_bot)
        .and_then(|a| a.user_id.as_deref());
    if from_a_bot(event, bot_user) {
        tracing::debug!("a mention written by a bot is ignored");
        return;
    }
    let (Some(user), Some(channel)) = (event.user.as_deref(), event.channel.as_deref()) else {
        tracing::info!("a mention without a user or channel is ignored");
        return;
    };
    if let Some(event_id) = envelope.event_id.as_deref() {
        let now = chrono::Utc::now().timestamp_millis();
        match state
            .catalog
            .store()
            .first_delivery(&format!("event:{event_id}"), now)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(event_id, "a mention already answered is ignored");
                return;
            }
            Err(e) => {
                tracing::warn!(event_id, error = %e, "could not check whether a mention was answered; answering");
            }
        }
    }
    let thread = event.thread_ts.as_deref().or(event.ts.as_deref());
    let raw = event.text.as_deref().unwrap_or_default();
    let text: String = strip_mention(raw, bot_user)
        .chars()
        .take(MAX_MENTION_CHARS)
        .collect();
    let request_id = state.next_request_id();
    let team = event
        .team
        .as_deref()
        .or(envelope.team_id.as_deref())
        .unwrap_or_default();
    let channel_name = state.channel_names.name(state, channel).await;
    let caller = state
        .slack_caller(team, user, channel, channel_name.as_deref())
        .await;
    if text.is_empty() {
        let reply = Reply {
            text: "You mentioned me without a command. Try `@idp owner checkout-api`, or `@idp help` for everything I answer.".to_owned(),
            blocks: Vec::new(),
        };
        answer(state, channel, user, thread, &reply, false).await;
        return;
    }
    let parsed = command::parse(&text, Dialect::Slack, chrono::Utc::now());
    let key = envelope
        .event_id
        .as_deref()
        .map(|id| format!("slack-event:{id}"));
    let (snapshot, handled) = state
        .execute(
            &request_id,
            &caller,
            parsed,
            &text,
            RequestMeta {
                idempotency_key: key.as_deref(),
                channel_id: Some(channel),
            },
        )
        .await;
    let reply = reply_for(state, &request_id, &snapshot, &handled);
    answer(
        state,
        channel,
        user,
        thread,
        &reply,
        shareable(&handled.outcome),
    )
    .await;
}

fn reply_for(
    state: &AppState,
    request_id: &str,
    snapshot: &crate::catalog::Snapshot,
    handled: &Handled,
) -> Reply {
    if let Outcome::NewService(n) = &handled.outcome
        && matches!(
            n.as_ref(),
            crate::handlers::new_service::NewService::OpenForm { .. }
        )
    {
        return Reply {
            text: "Forms open from `/idp new-service` (Slack lets a form open only from a command or a button), not from a mention.".to_owned(),
            blocks: Vec::new(),
        };
    }
    state.render(request_id, snapshot, handled)
}

/// Posts the answer in the thread, or privately to `user` in it; a private answer Slack refuses
/// (the person left the channel) is logged.
async fn answer(
    state: &AppState,
    channel: &str,
    user: &str,
    thread: Option<&str>,
    reply: &Reply,
    public: bool,
) {
    let Some(api) = &state.slack else {
        tracing::info!("a mention could not be answered: no Slack bot token");
        return;
    };
    let result = if public {
        api.chat_post_message(channel, reply, thread)
            .await
            .map(|_| ())
    } else {
        api.chat_post_ephemeral(channel, user, reply, thread).await
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, public, "could not answer a mention");
    }
}

#[cfg(test)]
mod tests {
    use super::strip_mention;

    #[test]
    fn the_bot_mention_is_stripped_wherever_it_stands() {
        let bot = Some("UBOT");
        assert_eq!(
            strip_mention("<@UBOT> owner checkout-api", bot),
            "owner checkout-api"
        );
        assert_eq!(strip_mention("<@UBOT|idp>   whoami", bot), "whoami");
        assert_eq!(
            strip_mention("hey <@UBOT> team payments-platform", bot),
            "team payments-platform"
        );
        assert_eq!(
            strip_mention("<@UBOT> owner <@U9|mei> <@UBOT>", bot),
            "owner <@U9|mei>"
        );
        assert_eq!(strip_mention("<@UBOT>", bot), "");
        assert_eq!(strip_mention("<@UOTHER> owner x", None), "owner x");
        assert_eq!(strip_mention("<@UBOT", bot), "<@UBOT");
    }
}
