//! Identity: mapping a Slack caller to a catalog User.
//!
//! Order of precedence: an explicit mapping in `idp.toml` (`[identity.users]`, Slack user id →
//! user ref) wins; otherwise the Slack user's email, read from a [`Directory`] (for Slack,
//! `users.info` with scope `users:read.email`, implemented in `slack::directory`) and cached in
//! memory and in the store for `cache_ttl_secs`, is matched to a catalog User's
//! `spec.profile.email`. The same person seen under a `U…` and an Enterprise Grid
//! `W…` id has one email, so both ids map to the same User. Anyone else is a guest, with the reason
//! said in replies. When Slack cannot be asked, the caller is a guest for now (fail closed).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::catalog::{DEFAULT_NAMESPACE, EntityRef, Snapshot};
use crate::config::IdentityConfig;
use crate::store::{CachedSlackUser, Store};

/// What a [`Directory`] knows about one chat user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// The user's email, when the directory shares it (Slack: only with `users:read.email`).
    pub email: Option<String>,
    /// A display name (Slack: `real_name`, else `display_name`), when known.
    pub name: Option<String>,
    /// Whether the account is deactivated.
    pub deleted: bool,
}

/// Why a [`Directory`] gave no profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// The directory does not know this user id (Slack: `user_not_found`, `users_not_found`).
    #[error("the directory does not know this user")]
    NotFound,
    /// The directory could not be asked now; the reason is one phrase for the person asking
    /// ("Slack did not answer in time"), never a token or an internal detail.
    #[error("{0}")]
    Unavailable(String),
}

/// The chat platform's user directory: who a chat user id is. Only `slack/` implements it (with
/// `users.info`), so identity never names Slack's client or wire types.
#[async_trait::async_trait]
pub trait Directory: Send + Sync {
    /// The profile of `user_id` (`U…` or an Enterprise Grid `W…`).
    ///
    /// # Errors
    /// [`DirectoryError::NotFound`] for an unknown id; [`DirectoryError::Unavailable`] when the
    /// directory cannot be asked (missing scope, rate limited, timeout, unreachable).
    async fn profile(&self, user_id: &str) -> Result<Profile, DirectoryError>;
}

/// Who a Slack caller is in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The catalog User, or `None` for a guest.
    pub user: Option<EntityRef>,
    /// Why the caller is a guest, when they are.
    pub guest_reason: Option<String>,
}

impl Identity {
    /// A guest, with the reason shown to them.
    pub fn guest(reason: impl Into<String>) -> Self {
        Self {
            user: None,
            guest_reason: Some(reason.into()),
        }
    }
}

/// What Slack said about a user id.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SlackAnswer {
    Email(String),
    NoEmail,
    Unknown,
    Unavailable(String),
}

/// Resolves Slack callers to catalog users.
pub struct IdentityService {
    directory: Option<Arc<dyn Directory>>,
    store: Store,
    explicit: HashMap<String, EntityRef>,
    cache: moka::future::Cache<String, SlackAnswer>,
    ttl: Duration,
}

impl std::fmt::Debug for IdentityService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityService")
            .field("directory", &self.directory.is_some())
            .field("explicit", &self.explicit.len())
            .finish_non_exhaustive()
    }
}

impl IdentityService {
    /// Builds the service. `directory` (Slack's `users.info`: `slack::client::SlackApi`) is
    /// `None` when no bot token is configured; callers are then guests unless mapped explicitly.
    ///
    /// # Errors
    /// A message naming an explicit mapping whose user ref cannot be read.
    pub fn new(
        store: Store,
        directory: Option<Arc<dyn Directory>>,
        config: &IdentityConfig,
    ) -> Result<Self, String> {
        let mut explicit = HashMap::new();
        for (slack_id, user) in &config.users {
            let r = EntityRef::parse(user, Some("User"), DEFAULT_NAMESPACE)
                .map_err(|e| format!("[identity.users] {slack_id} = \"{user}\": {e}"))?;
            explicit.insert(slack_id.clone(), r);
        }
        let ttl = Duration::from_secs(config.cache_ttl_secs.max(1));
        let cache = moka::future::Cache::builder()
            .max_capacity(100_000)
            .expire_after(AnswerExpiry {
                ok: ttl.min(Duration::from_secs(600)),
            })
            .build();
        Ok(Self {
            directory,
            store,
            explicit,
            cache,
            ttl,
        })
    }

    /// Who this Slack user is in the catalog.
    pub async fn resolve(&self, snapshot: &Snapshot, user_id: &str) -> Identity {
        if let Some(user) = self.explicit.get(user_id) {
            return match snapshot.get(user) {
                Some(i) => Identity {
                    user: Some(snapshot.node(i).entity.entity_ref.clone()),
                    guest_reason: None,
                },
                None => Identity::guest(format!(
                    "idp.toml maps your Slack id to {}, which is not in the catalog",
                    user.short()
                )),
            };
        }
        let answer = match self.cache.get(user_id).await {
            Some(a) => a,
            None => {
                let a = self.ask(user_id).await;
                self.cache.insert(user_id.to_owned(), a.clone()).await;
                a
            }
        };
        match answer {
            SlackAnswer::Email(email) => match snapshot.user_by_email(&email) {
                Some(i) => Identity {
                    user: Some(snapshot.node(i).entity.entity_ref.clone()),
                    guest_reason: None,
                },
                None => Identity::guest(format!("no catalog User has your email {email}")),
            },
            SlackAnswer::NoEmail => Identity::guest(
                "your Slack profile shows idp no email (the app needs the users:read.email scope), so idp can't match you to a catalog User",
            ),
            SlackAnswer::Unknown => Identity::guest("Slack doesn't know your user id"),
            SlackAnswer::Unavailable(why) => {
                Identity::guest(format!("idp couldn't ask Slack who you are ({why})"))
            }
        }
    }

    async fn ask(&self, user_id: &str) -> SlackAnswer {
        match self.store.slack_identity(user_id).await {
            Ok(Some(cached))
                if Utc::now() - cached.fetched_at
                    < chrono::Duration::from_std(self.ttl).unwrap_or_default() =>
            {
                return match (cached.status.as_str(), cached.email) {
                    ("ok", Some(email)) => SlackAnswer::Email(email),
                    ("unknown", _) => SlackAnswer::Unknown,
                    _ => SlackAnswer::NoEmail,
                };
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "Slack identity cache unreadable; asking Slack"),
        }
        let Some(directory) = &self.directory else {
            return SlackAnswer::Unavailable("SLACK_BOT_TOKEN is not set".to_owned());
        };
        let (answer, status) = match directory.profile(user_id).await {
            Ok(p) if p.deleted => (SlackAnswer::Unknown, "unknown"),
            Ok(p) => match p.email {
                Some(email) => (SlackAnswer::Email(email), "ok"),
                None => (SlackAnswer::NoEmail, "no_email"),
            },
            Err(DirectoryError::NotFound) => (SlackAnswer::Unknown, "unknown"),
            Err(DirectoryError::Unavailable(why)) => return SlackAnswer::Unavailable(why),
        };
        let email = match &answer {
            SlackAnswer::Email(e) => Some(e.clone()),
            _ => None,
        };
        let entry = CachedSlackUser {
            email,
            status: status.to_owned(),
            fetched_at: Utc::now(),
        };
        if let Err(e) = self.store.put_slack_identity(user_id, &entry).await {
            tracing::warn!(error = %e, "could not cache a Slack identity");
        }
        answer
    }
}

/// Cache lifetimes: answers from Slack are kept up to `ok`; failures only briefly so a Slack
/// outage heals quickly.
struct AnswerExpiry {
    ok: Duration,
}

impl moka::Expiry<String, SlackAnswer> for AnswerExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &SlackAnswer,
        _now: std::time::Instant,
    ) -> Option<Duration> {
        Some(match value {
            SlackAnswer::Unavailable(_) => Duration::from_secs(15),
            _ => self.ok,
        })
    }
}
