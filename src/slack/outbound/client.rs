//! The Slack Web API client: slack-morphism over a hyper connector that speaks HTTPS to Slack and
//! plain HTTP to a loopback fake in tests, with the base URL from `SLACK_API_URL` and a hard timeout
//! on every call (Slack's own client has none).

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use crate::slack::render::Reply;

/// The hyper connector type: HTTPS or HTTP (the latter only for loopback fakes).
pub type Connector =
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

/// A Slack user as idp needs it (from `users.info`, <https://docs.slack.dev/reference/methods/users.info>).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackUser {
    /// The user id.
    pub id: String,
    /// `profile.email`, present only with the `users:read.email` scope.
    pub email: Option<String>,
    /// `profile.real_name` or `profile.display_name`.
    pub name: Option<String>,
    /// Whether the account is deactivated.
    pub deleted: bool,
}

/// Why a Slack call failed. Messages name the method and never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackApiError {
    /// Slack answered `ok: false` with this error code (e.g. `user_not_found`, `missing_scope`).
    #[error("Slack {method} answered `{code}`")]
    Api {
        /// The method.
        method: &'static str,
        /// Slack's error code.
        code: String,
    },
    /// Rate limited (HTTP 429), with the `Retry-After` seconds when given.
    #[error("Slack {method} is rate limited (retry after {retry_after:?} s)")]
    RateLimited {
        /// The method.
        method: &'static str,
        /// Seconds to wait.
        retry_after: Option<u64>,
    },
    /// The call did not finish in time.
    #[error("Slack {method} timed out after {millis} ms")]
    Timeout {
        /// The method.
        method: &'static str,
        /// The budget.
        millis: u128,
    },
    /// Transport or protocol failure.
    #[error("Slack {method} failed: {detail}")]
    Transport {
        /// The method.
        method: &'static str,
        /// What happened.
        detail: String,
    },
}

/// A Slack Web API client bound to one bot token.
#[derive(Clone)]
pub struct SlackApi {
    client: Arc<SlackClient<SlackClientHyperConnector<Connector>>>,
    token: SlackApiToken,
    timeout: Duration,
}

impl std::fmt::Debug for SlackApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackApi")
            .field("token", &"[redacted]")
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl SlackApi {
    /// A client for `api_url` (e.g. `https://slack.com/api`) with a bot token and a per-call timeout.
    ///
    /// # Errors
    /// When the system's root certificates cannot be loaded.
    pub fn new(api_url: &str, token: &SecretString, timeout: Duration) -> std::io::Result<Self> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        let connector = SlackClientHyperConnector::with_connector(https)
            .with_slack_api_url(api_url.trim_end_matches('/'));
        Ok(Self {
            client: Arc::new(SlackClient::new(connector)),
            token: SlackApiToken::new(token.expose_secret().to_owned().into()),
            timeout,
        })
    }

    fn map_error(method: &'static str, e: SlackClientError) -> SlackApiError {
        match e {
            SlackClientError::ApiError(api) => SlackApiError::Api {
                method,
                code: api.code,
            },
            SlackClientError::RateLimitError(r) => SlackApiError::RateLimited {
                method,
                retry_after: r.retry_after.map(|d| d.as_secs()),
            },
            other => SlackApiError::Transport {
                method,
                detail: other.to_string(),
            },
        }
    }

    /// `users.info`: the user's email and name.
    ///
    /// # Errors
    /// [`SlackApiError`].
    pub async fn users_info(&self, user_id: &str) -> Result<SlackUser, SlackApiError> {
        const METHOD: &str = "users.info";
        let session = self.client.open_session(&self.token);
        let request = SlackApiUsersInfoRequest::new(user_id.to_owned().into());
        let response = tokio::time::timeout(self.timeout, session.users_info(&request))
            .await
            .map_err(|_| SlackApiError::Timeout {
                method: METHOD,
                millis: self.timeout.as_millis(),
            })?
            .map_err(|e| Self::map_error(METHOD, e))?;
        let user = response.user;
        let profile = user.profile.as_ref();
        Ok(SlackUser {
            id: user.id.to_string(),
            email: profile
                .and_then(|p| p.email.as_ref())
                .map(|e| e.0.clone())
                .filter(|e| !e.is_empty()),
            name: profile.and_then(|p| p.real_name.clone().or_else(|| p.display_name.clone())),
            deleted: user.deleted.unwrap_or(false),
        })
    }
    async fn timed<T>(
        &self,
        method: &'static str,
        limit: Duration,
        call: impl std::future::Future<Output = Result<T, SlackClientError>>,
    ) -> Result<T, SlackApiError> {
        tokio::time::timeout(limit, call)
            .await
            .map_err(|_| SlackApiError::Timeout {
                method,
                millis: limit.as_millis(),
            })?
            .map_err(|e| Self::map_error(method, e))
    }

    /// `views.open`: opens a modal with a `trigger_id` (valid about 3 s, single use). Returns the
    /// view's id and hash (for `views.update`). The call gets at most [`VIEWS_OPEN_BUDGET`].
    ///
    /// # Errors
    /// [`SlackApiError`]; an expired trigger is `Api { code: "expired_trigger_id" }`.
    pub async fn views_open(
        &self,
        trigger_id: &str,
        view: SlackView,
    ) -> Result<OpenedView, SlackApiError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiViewsOpenRequest::new(trigger_id.to_owned().into(), view);
        let response = self
            .timed(
                "views.open",
                VIEWS_OPEN_BUDGET.min(self.timeout),
                session.views_open(&request),
            )
            .await?;
        Ok(OpenedView {
            id: response.view.state_params.id.to_string(),
            hash: response.view.state_params.hash,
        })
    }

    /// `views.update`: replaces an open view; with `hash`, only if nobody changed it since.
    ///
    /// # Errors
    /// [`SlackApiError`] (`hash_conflict` when the view moved on).
    pub async fn views_update(
        &self,
        view_id: &str,
        hash: Option<&str>,
        view: SlackView,
    ) -> Result<OpenedView, SlackApiError> {
        let session = self.client.open_session(&self.token);
        let mut request = SlackApiViewsUpdateRequest::new(view).with_view_id(view_id.into());
        if let Some(h) = hash {
            request = request.with_hash(h.to_owned());
        }
        let response = self
            .timed("views.update", self.timeout, session.views_update(&request))
            .await?;
        Ok(OpenedView {
            id: response.view.state_params.id.to_string(),
            hash: response.view.state_params.hash,
        })
    }

    /// `views.publish`: replaces a person's App Home tab
    /// (<https://docs.slack.dev/reference/methods/views.publish>).
    ///
    /// # Errors
    /// [`SlackApiError`] (`not_enabled` when the Home tab is off in the app's settings).
    pub async fn views_publish(&self, user_id: &str, view: SlackView) -> Result<(), SlackApiError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiViewsPublishRequest::new(user_id.into(), view);
        self.timed(
            "views.publish",
            self.timeout,
            session.views_publish(&request),
        )
        .await
        .map(|_| ())
    }

    /// `chat.postMessage` of a rendered reply; `thread_ts` makes it a thread reply. Returns the
    /// channel id and the message's `ts`.
    ///
    /// # Errors
    /// [`SlackApiError`] (`not_in_channel`, `channel_not_found`…).
    pub async fn chat_post_message(
        &self,
        channel: &str,
        reply: &Reply,
        thread_ts: Option<&str>,
    ) -> Result<(String, String), SlackApiError> {
        let session = self.client.open_session(&self.token);
        let mut request = SlackApiChatPostMessageRequest::new(channel.into(), content_of(reply))
            .with_unfurl_links(false);
        if let Some(ts) = thread_ts {
            request = request.with_thread_ts(ts.into());
        }
        let response = self
            .timed(
                "chat.postMessage",
                self.timeout,
                session.chat_post_message(&request),
            )
            .await?;
        Ok((response.channel.to_string(), response.ts.to_string()))
    }

    /// `chat.update` of a message the bot posted.
    ///
    /// # Errors
    /// [`SlackApiError`] (`message_not_found`…).
    pub async fn chat_update(
        &self,
        channel: &str,
        ts: &str,
        reply: &Reply,
    ) -> Result<(), SlackApiError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiChatUpdateRequest::new(channel.into(), content_of(reply), ts.into());
        self.timed("chat.update", self.timeout, session.chat_update(&request))
            .await
            .map(|_| ())
    }

    /// `conversations.info`: when the channel was created
    /// (<https://docs.slack.dev/reference/methods/conversations.info>, `channel.created`, Unix
    /// seconds).
    ///
    /// # Errors
    /// [`SlackApiError`] (`channel_not_found`, `missing_scope`…).
    pub async fn channel_created(
        &self,
        channel: &str,
    ) -> Result<chrono::DateTime<chrono::Utc>, SlackApiError> {
        const METHOD: &str = "conversations.info";
        let session = self.client.open_session(&self.token);
        let request = SlackApiConversationsInfoRequest::new(channel.into());
        let response = self
            .timed(METHOD, self.timeout, session.conversations_info(&request))
            .await?;
        chrono::DateTime::from_timestamp_millis(response.channel.created.0.as_millisecond())
            .ok_or_else(|| SlackApiError::Transport {
                method: METHOD,
                detail: "the channel's creation time is out of range".to_owned(),
            })
    }

    /// `conversations.info`: the channel's name, for classifying where a mention came from
    /// (`None` for a DM, which has no name).
    ///
    /// # Errors
    /// [`SlackApiError`] (`channel_not_found`, `missing_scope`…).
    pub async fn channel_name(&self, channel: &str) -> Result<Option<String>, SlackApiError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiConversationsInfoRequest::new(channel.into());
        let response = self
            .timed(
                "conversations.info",
                self.timeout,
                session.conversations_info(&request),
            )
            .await?;
        if response.channel.flags.is_im == Some(true) {
            return Ok(None);
        }
        Ok(response.channel.name)
    }

    /// `chat.postEphemeral`: a message only `user` sees, in `channel` (and thread `thread_ts`).
    ///
    /// # Errors
    /// [`SlackApiError`] (`user_not_in_channel`, `channel_not_found`…).
    pub async fn chat_post_ephemeral(
        &self,
        channel: &str,
        user: &str,
        reply: &Reply,
        thread_ts: Option<&str>,
    ) -> Result<(), SlackApiError> {
        let session = self.client.open_session(&self.token);
        let mut request =
            SlackApiChatPostEphemeralRequest::new(channel.into(), user.into(), content_of(reply));
        if let Some(ts) = thread_ts {
            request = request.with_thread_ts(ts.into());
        }
        self.timed(
            "chat.postEphemeral",
            self.timeout,
            session.chat_post_ephemeral(&request),
        )
        .await
        .map(|_| ())
    }

    /// `conversations.join`: the bot joins a public channel (scope `channels:join`).
    ///
    /// # Errors
    /// [`SlackApiError`]: `method_not_supported_for_channel_type` for a private channel,
    /// `is_archived`, `channel_not_found`, `missing_scope`…
    pub async fn conversations_join(&self, channel: &str) -> Result<(), SlackApiError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiConversationsJoinRequest::new(channel.into());
        self.timed(
            "conversations.join",
            self.timeout,
            session.conversations_join(&request),
        )
        .await
        .map(|_| ())
    }

    /// Posts an ephemeral reply to an interaction's or command's `response_url` (valid 30 min).
    ///
    /// # Errors
    /// [`SlackApiError`]; a URL that does not parse is `Transport`.
    pub async fn respond(&self, response_url: &str, reply: &Reply) -> Result<(), SlackApiError> {
        self.respond_with(response_url, reply, false).await
    }

    /// Like [`SlackApi::respond`], replacing the message the interaction came from (an ephemeral
    /// preview) when `replace` is true.
    ///
    /// # Errors
    /// [`SlackApiError`].
    pub async fn respond_with(
        &self,
        response_url: &str,
        reply: &Reply,
        replace: bool,
    ) -> Result<(), SlackApiError> {
        let url = url::Url::parse(response_url).map_err(|e| SlackApiError::Transport {
            method: "response_url",
            detail: e.to_string(),
        })?;
        let mut request = SlackApiPostWebhookMessageRequest::new(content_of(reply));
        if replace {
            request = request.with_replace_original(true);
        }
        self.timed(
            "response_url",
            self.timeout,
            self.client
                .respond_to_event(&SlackResponseUrl(url), &request),
        )
        .await
        .map(|_| ())
    }
}

/// The most `views.open` may take: the `trigger_id` dies about 3 s after the click, and part of
/// that went by before idp got the command.
pub const VIEWS_OPEN_BUDGET: Duration = Duration::from_millis(2500);

/// An open view: its id and the hash `views.update` checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedView {
    /// `V…`.
    pub id: String,
    /// Changes with every update.
    pub hash: String,
}

fn content_of(reply: &Reply) -> SlackMessageContent {
    SlackMessageContent::new()
        .with_text(reply.text.clone())
        .with_blocks(reply.blocks.clone())
}
