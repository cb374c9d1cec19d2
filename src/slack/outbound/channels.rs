//! What idp learns about a Slack channel beyond its name: when it was created, which for an
//! incident channel is when the incident began (`conversations.info`, scope `channels:read` /
//! `groups:read`). A channel's creation time never changes, so answers are cached for a day;
//! failures are not cached and make the rollback fall back to "the deploy before the current one".

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::actions::rollback::IncidentClock;
use crate::slack::client::SlackApi;

/// How long one lookup may take: it sits in front of the rollback preview, which Slack expects
/// within 3 s together with the on-call lookup.
pub const LOOKUP_BUDGET: Duration = Duration::from_millis(800);

/// [`IncidentClock`] over `conversations.info`, cached per channel id.
#[derive(Clone)]
pub struct ChannelClock {
    api: SlackApi,
    created: moka::future::Cache<String, DateTime<Utc>>,
}

impl ChannelClock {
    /// A clock asking Slack through `api`.
    pub fn new(api: SlackApi) -> Self {
        Self {
            api,
            created: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(24 * 3600))
                .build(),
        }
    }
}

#[async_trait::async_trait]
impl IncidentClock for ChannelClock {
    async fn began(&self, channel_id: &str) -> Option<DateTime<Utc>> {
        if let Some(t) = self.created.get(channel_id).await {
            return Some(t);
        }
        match tokio::time::timeout(LOOKUP_BUDGET, self.api.channel_created(channel_id)).await {
            Ok(Ok(t)) => {
                self.created.insert(channel_id.to_owned(), t).await;
                Some(t)
            }
            Ok(Err(e)) => {
                tracing::warn!(channel = channel_id, error = %e, "could not learn when the incident channel was created; the rollback target ignores the incident's start");
                None
            }
            Err(_) => {
                tracing::warn!(
                    channel = channel_id,
                    "conversations.info took too long; the rollback target ignores the incident's start"
                );
                None
            }
        }
    }
}
