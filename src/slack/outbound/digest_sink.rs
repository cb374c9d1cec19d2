//! Posting digests to Slack: [`SlackDigestSink`], the [`DigestSink`] the scheduler uses in
//! production.
//!
//! `chat.postMessage` to the subscription's channel, and Slack's answers
//! (<https://docs.slack.dev/reference/methods/chat.postMessage>) mapped to a [`Delivery`]:
//!
//! | Slack says | what happens |
//! | --- | --- |
//! | HTTP 429 | retry after its `Retry-After` (or [`DEFAULT_WAIT`] without one) |
//! | `not_in_channel` | `conversations.join` (a public channel) and post once more; if joining is refused (`method_not_supported_for_channel_type`: private) → paused |
//! | `channel_not_found` | paused: deleted, or private and the bot is not in it |
//! | `is_archived` | paused |
//! | `restricted_action…` | paused (posting is restricted in that channel) |
//! | `internal_error`, `fatal_error`, `service_unavailable`, `request_timeout`, a transport error | retry after [`DEFAULT_WAIT`] |
//! | a timeout | failed for this period, not retried: Slack may have posted it |
//! | anything else (`invalid_blocks`, `msg_too_long`, `missing_scope`, `invalid_auth`…) | failed for this period |
//!
//! A paused subscription's creator gets a direct message ([`crate::slack::digest_message::paused_notice`]).

use std::time::Duration;

use async_trait::async_trait;

use crate::scorecards::scheduler::{Delivery, DigestSink};
use crate::scorecards::subscription::{PauseReason, Subscription};
use crate::slack::client::{SlackApi, SlackApiError};
use crate::slack::render::Reply;

/// The wait before a retry when Slack gives no `Retry-After`, or after a passing error.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// Slack errors that pass by themselves.
const PASSING: &[&str] = &[
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

/// Posts digests of type `D`, rendered to a [`Reply`] by `render`.
pub struct SlackDigestSink<D> {
    api: SlackApi,
    render: fn(&D) -> Reply,
}

impl<D> std::fmt::Debug for SlackDigestSink<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackDigestSink")
            .field("api", &self.api)
            .finish_non_exhaustive()
    }
}

impl<D> SlackDigestSink<D> {
    /// A sink posting with `api`, turning each digest into a message with `render`.
    pub fn new(api: SlackApi, render: fn(&D) -> Reply) -> Self {
        Self { api, render }
    }
}

fn code_of(e: &SlackApiError) -> Option<&str> {
    match e {
        SlackApiError::Api { code, .. } => Some(code.as_str()),
        _ => None,
    }
}

/// What a failed Slack call means for the digest.
fn delivery_of(e: SlackApiError) -> Delivery {
    match &e {
        SlackApiError::RateLimited { retry_after, .. } => Delivery::RetryAfter {
            wait: retry_after.map_or(DEFAULT_WAIT, Duration::from_secs),
            error: e.to_string(),
        },
        SlackApiError::Timeout { .. } => {
            Delivery::Failed(format!("{e}; not retried, since Slack may have posted it"))
        }
        SlackApiError::Transport { .. } => Delivery::RetryAfter {
            wait: DEFAULT_WAIT,
            error: e.to_string(),
        },
        SlackApiError::Api { code, .. } => match code.as_str() {
            "channel_not_found" => Delivery::Paused(PauseReason::ChannelNotFound),
            "is_archived" => Delivery::Paused(PauseReason::ChannelArchived),
            "not_in_channel" | "method_not_supported_for_channel_type" => {
                Delivery::Paused(PauseReason::NotInChannel)
            }
            c if c.starts_with("restricted_action") => {
                Delivery::Paused(PauseReason::Refused(c.to_owned()))
            }
            c if PASSING.contains(&c) => Delivery::RetryAfter {
                wait: DEFAULT_WAIT,
                error: e.to_string(),
            },
            _ => Delivery::Failed(e.to_string()),
        },
    }
}

#[async_trait]
impl<D: Send + Sync> DigestSink<D> for SlackDigestSink<D> {
    async fn deliver(&self, subscription: &Subscription, digest: &D) -> Delivery {
        let reply = (self.render)(digest);
        let channel = subscription.channel_id.as_str();
        let first = self.api.chat_post_message(channel, &reply, None).await;
        let e = match first {
            Ok((_, ts)) => return Delivery::Delivered { message_ts: ts },
            Err(e) => e,
        };
        if code_of(&e) != Some("not_in_channel") {
            return delivery_of(e);
        }
        // A public channel the bot is not in: join it and try once more.
        if let Err(e) = self.api.conversations_join(channel).await {
            tracing::info!(channel, error = %e, "could not join the digest's channel");
            return delivery_of(e);
        }
        tracing::info!(channel, "joined the digest's channel");
        match self.api.chat_post_message(channel, &reply, None).await {
            Ok((_, ts)) => Delivery::Delivered { message_ts: ts },
            Err(e) => delivery_of(e),
        }
    }

    async fn tell_paused(
        &self,
        subscription: &Subscription,
        reason: &PauseReason,
    ) -> Result<(), String> {
        let Some(user) = subscription.created_by.slack_user_id.as_deref() else {
            return Ok(());
        };
        let notice = crate::slack::digest_message::paused_notice(subscription, reason);
        self.api
            .chat_post_message(user, &notice, None)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
