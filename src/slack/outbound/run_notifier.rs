//! Shows runs in Slack: [`RunNotifier`] over `chat.postMessage` / `chat.update`. When the bot
//! cannot post in the channel the request came from (not a member, private, archived), the status
//! message goes to the requester's direct messages instead.

use async_trait::async_trait;

use crate::actions::{NotifyError, Run, RunNotifier};
use crate::slack::client::{SlackApi, SlackApiError};
use crate::slack::run_message::{failure_reply, run_status};

/// Slack's errors that mean "post somewhere else".
const CANNOT_POST_HERE: &[&str] = &[
    "not_in_channel",
    "channel_not_found",
    "is_archived",
    "restricted_action",
];

/// Posts and updates status messages with the bot token.
#[derive(Debug, Clone)]
pub struct SlackRunNotifier {
    api: SlackApi,
}

impl SlackRunNotifier {
    /// A notifier over a Slack client.
    pub fn new(api: SlackApi) -> Self {
        Self { api }
    }
}

fn classify(e: SlackApiError) -> NotifyError {
    match e {
        SlackApiError::Api { ref code, .. }
            if code != "ratelimited" && code != "internal_error" =>
        {
            NotifyError::Refused(e.to_string())
        }
        other => NotifyError::Unavailable(other.to_string()),
    }
}

fn cannot_post_here(e: &SlackApiError) -> bool {
    matches!(e, SlackApiError::Api { code, .. } if CANNOT_POST_HERE.contains(&code.as_str()))
}

#[async_trait]
impl RunNotifier for SlackRunNotifier {
    async fn show(&self, run: &Run) -> Result<Option<(String, String)>, NotifyError> {
        let reply = run_status(run);
        if let (Some(channel), Some(ts)) = (&run.channel_id, &run.message_ts) {
            return self
                .api
                .chat_update(channel, ts, &reply)
                .await
                .map(|()| None)
                .map_err(classify);
        }
        let dm = run.requester.slack_user_id.as_deref();
        let first = run.channel_id.as_deref().or(dm);
        let Some(first) = first else {
            return Ok(None);
        };
        match self.api.chat_post_message(first, &reply, None).await {
            Ok(place) => Ok(Some(place)),
            Err(e) if cannot_post_here(&e) && dm.is_some_and(|d| d != first) => {
                tracing::info!(run = %run.id, channel = first, error = %e, "cannot post in the request's channel; sending the status to the requester directly");
                let dm = dm.unwrap_or_default();
                self.api
                    .chat_post_message(dm, &reply, None)
                    .await
                    .map(Some)
                    .map_err(classify)
            }
            Err(e) => Err(classify(e)),
        }
    }

    async fn thread_reply(&self, run: &Run, text: &str) -> Result<(), String> {
        let (Some(channel), Some(ts)) = (&run.channel_id, &run.message_ts) else {
            return Ok(());
        };
        self.api
            .chat_post_message(channel, &failure_reply(run, text), Some(ts))
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
