//! The Slack Web API client: slack-morphism over a hyper connector that speaks HTTPS to Slack and
//! plain HTTP to a loopback fake in tests, with the base URL from `SLACK_API_URL` and a hard timeout
//! on every call (Slack's own client has none).

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

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
}
