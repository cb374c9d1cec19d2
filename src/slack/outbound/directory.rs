//! Slack as the [`Directory`] identity asks: `users.info` (scope `users:read`, and
//! `users:read.email` for the email), its answers and failures turned into a [`Profile`] or a
//! [`DirectoryError`] a person can read.

use crate::identity::{Directory, DirectoryError, Profile};
use crate::slack::client::{SlackApi, SlackApiError};

#[async_trait::async_trait]
impl Directory for SlackApi {
    async fn profile(&self, user_id: &str) -> Result<Profile, DirectoryError> {
        match self.users_info(user_id).await {
            Ok(user) => Ok(Profile {
                email: user.email,
                name: user.name,
                deleted: user.deleted,
            }),
            Err(SlackApiError::Api { code, .. })
                if code == "user_not_found" || code == "users_not_found" =>
            {
                Err(DirectoryError::NotFound)
            }
            Err(e) => {
                tracing::warn!(error = %e, user_id, "could not identify a Slack user");
                Err(DirectoryError::Unavailable(unavailable_reason(&e)))
            }
        }
    }
}

/// Why Slack could not say who someone is, as a phrase for them.
fn unavailable_reason(e: &SlackApiError) -> String {
    match e {
        SlackApiError::Api { code, .. } if code == "missing_scope" => {
            "the app lacks the users:read scope".to_owned()
        }
        SlackApiError::Api { code, .. } => format!("Slack said {code}"),
        SlackApiError::RateLimited { .. } => "Slack is rate limiting idp".to_owned(),
        SlackApiError::Timeout { .. } => "Slack did not answer in time".to_owned(),
        SlackApiError::Transport { .. } => "Slack is unreachable".to_owned(),
    }
}
