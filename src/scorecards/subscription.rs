//! Digest subscriptions (a channel gets a group's digest on a schedule) and digest posts (one row
//! per subscription and period, claimed before posting so each period is posted once). Stored by
//! [`crate::store`] (migration `0007_digests`).

use chrono::{DateTime, Utc};

use crate::catalog::EntityRef;
use crate::store::StoreError;

/// Characters of subscription ids: lower-case letters and digits without look-alikes (no `0`,
/// `o`, `1`, `l`, `i`), so an id read aloud or copied by hand survives.
const ID_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
/// Characters of a subscription id after the `d-` prefix (31^6 ≈ 887 million ids).
pub const ID_CHARS: usize = 6;

/// A new subscription id: `d-` and [`ID_CHARS`] characters of [`ID_ALPHABET`], e.g. `d-7kq3xm`.
pub fn new_id() -> String {
    let bytes = crate::audit::token::random_bytes::<ID_CHARS>();
    let mut id = String::from("d-");
    id.extend(
        bytes
            .iter()
            .map(|b| char::from(ID_ALPHABET[usize::from(*b) % ID_ALPHABET.len()])),
    );
    id
}

/// Whether `text` could be a subscription id (so a typo gets "no such subscription" without a
/// query for obvious garbage). Case-insensitive.
pub fn is_id(text: &str) -> bool {
    text.len() == ID_CHARS + 2
        && text[..2].eq_ignore_ascii_case("d-")
        && text[2..]
            .bytes()
            .all(|b| ID_ALPHABET.contains(&b.to_ascii_lowercase()))
}

/// Who made a subscription: where to tell them when it is paused.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Creator {
    /// Their Slack user id (`U…`/`W…`), when subscribed from Slack: the direct message goes here.
    pub slack_user_id: Option<String>,
    /// Their catalog user, when known.
    pub user: Option<EntityRef>,
}

/// Why a subscription was paused, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paused {
    /// The reason, as [`PauseReason::code`] (or free text from an older version).
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A channel's subscription to a group's digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The short id people type (`d-7kq3xm`), see [`new_id`].
    pub id: String,
    /// The Slack channel id the digest is posted to.
    pub channel_id: String,
    /// The group whose digest it is.
    pub group: EntityRef,
    /// The schedule's canonical text ([`super::schedule::Schedule::canonical`]).
    pub schedule: String,
    /// Who subscribed (or last re-subscribed) the channel.
    pub created_by: Creator,
    /// When it was made; only periods due after this are posted.
    pub created_at: DateTime<Utc>,
    /// Set while paused; the scheduler skips it.
    pub paused: Option<Paused>,
    /// The key of the latest period posted.
    pub last_posted_period: Option<String>,
    /// When that period was posted.
    pub last_posted_at: Option<DateTime<Utc>>,
}

/// A subscription to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    /// The Slack channel id.
    pub channel_id: String,
    /// The group.
    pub group: EntityRef,
    /// The schedule's canonical text.
    pub schedule: String,
    /// Who asks.
    pub created_by: Creator,
    /// Now.
    pub created_at: DateTime<Utc>,
}

/// What subscribing did: the subscription as it is now and, when the channel already had one
/// for the group, that one as it was (its schedule and creator are replaced and any pause lifted;
/// id, creation time and history stay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribed {
    /// The subscription as it is now.
    pub subscription: Subscription,
    /// The channel's earlier subscription to the group, before it was replaced.
    pub replaced: Option<Box<Subscription>>,
}

/// Why the scheduler paused a subscription. Stored as [`PauseReason::code`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PauseReason {
    /// Slack does not know the channel: deleted, or private and the bot is not in it.
    ChannelNotFound,
    /// The channel is archived.
    ChannelArchived,
    /// The bot is not in the channel and could not join it (private, or joining not allowed).
    NotInChannel,
    /// The group is no longer in the catalog.
    GroupGone,
    /// Slack refused for another reason that will not pass by itself (the error code).
    Refused(String),
}

impl PauseReason {
    /// A stable code for the store: `channel_not_found`, `is_archived`, `not_in_channel`,
    /// `group_not_found`, or `refused:<slack error>`.
    pub fn code(&self) -> String {
        match self {
            Self::ChannelNotFound => "channel_not_found".to_owned(),
            Self::ChannelArchived => "is_archived".to_owned(),
            Self::NotInChannel => "not_in_channel".to_owned(),
            Self::GroupGone => "group_not_found".to_owned(),
            Self::Refused(code) => format!("refused:{code}"),
        }
    }

    /// Reads a stored code back ([`PauseReason::code`]); unknown text becomes `Refused`.
    pub fn from_code(code: &str) -> Self {
        match code {
            "channel_not_found" => Self::ChannelNotFound,
            "is_archived" => Self::ChannelArchived,
            "not_in_channel" => Self::NotInChannel,
            "group_not_found" => Self::GroupGone,
            other => Self::Refused(other.strip_prefix("refused:").unwrap_or(other).to_owned()),
        }
    }
}

impl std::fmt::Display for PauseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ChannelNotFound => f.write_str(
                "the channel was not found: it was deleted, or it is private and idp is not in it",
            ),
            Self::ChannelArchived => f.write_str("the channel is archived"),
            Self::NotInChannel => f.write_str("idp is not in the channel and could not join it"),
            Self::GroupGone => f.write_str("the group is no longer in the catalog"),
            Self::Refused(code) => write!(f, "Slack refused the post (`{code}`)"),
        }
    }
}

/// Where one period's post stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostStatus {
    /// An instance claimed it and is posting (or crashed; the claim lapses after the lease).
    Claimed,
    /// Slack asked to wait; any instance may claim it again from `retry_at`.
    Retry,
    /// Posted.
    Posted,
    /// Given up (attempts used up, Slack refused, or the subscription was paused).
    Failed,
}

impl PostStatus {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Claimed => "claimed",
            Self::Retry => "retry",
            Self::Posted => "posted",
            Self::Failed => "failed",
        }
    }

    /// Reads the stored word.
    ///
    /// # Errors
    /// The unknown word.
    pub fn parse(word: &str) -> Result<Self, String> {
        match word {
            "claimed" => Ok(Self::Claimed),
            "retry" => Ok(Self::Retry),
            "posted" => Ok(Self::Posted),
            "failed" => Ok(Self::Failed),
            other => Err(format!("unknown digest post status `{other}`")),
        }
    }
}

/// One period of one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestPost {
    /// The subscription.
    pub subscription_id: String,
    /// [`super::schedule::period_key`] of the due instant.
    pub period_key: String,
    /// The due instant.
    pub due_at: DateTime<Utc>,
    /// Where it stands.
    pub status: PostStatus,
    /// The instance that claimed it last.
    pub claimed_by: String,
    /// When it was claimed last.
    pub claimed_at: DateTime<Utc>,
    /// Claims so far (1 on the first).
    pub attempts: i64,
    /// For `Retry`: not before this.
    pub retry_at: Option<DateTime<Utc>>,
    /// For `Posted`: the Slack message `ts`.
    pub message_ts: Option<String>,
    /// For `Posted`: when.
    pub posted_at: Option<DateTime<Utc>>,
    /// For `Retry` and `Failed`: the last error.
    pub error: Option<String>,
}

/// The outcome of claiming a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This instance holds the period now; `attempt` counts claims including this one.
    Won {
        /// 1 for the first claim.
        attempt: i64,
    },
    /// Another instance holds it, or it is posted, failed, or waiting for its retry time.
    Lost,
}

/// Managing digest subscriptions: what the `digest` command needs, without the rest of the store
/// (the scheduler's claims and posts stay on [`crate::store::Store`]). Ids are compared
/// case-insensitively. Implemented by [`crate::store::Store`].
#[async_trait::async_trait]
pub trait Subscriptions: Send + Sync {
    /// Subscribes a channel to a group's digest. A channel has at most one subscription per
    /// group: when it already has one, its schedule and creator are replaced and a pause lifted
    /// ([`Subscribed::replaced`] is the old one), keeping its id and history.
    ///
    /// # Errors
    /// [`StoreError::Query`]; [`StoreError::Corrupt`] for an unreadable stored row.
    async fn subscribe_digest(&self, new: &NewSubscription) -> Result<Subscribed, StoreError>;

    /// The subscription with this id, if any.
    ///
    /// # Errors
    /// As [`Subscriptions::subscribe_digest`].
    async fn digest_subscription(&self, id: &str) -> Result<Option<Subscription>, StoreError>;

    /// Every subscription, or one channel's (`channel_id`), oldest first.
    ///
    /// # Errors
    /// As [`Subscriptions::subscribe_digest`].
    async fn digest_subscriptions(
        &self,
        channel_id: Option<&str>,
    ) -> Result<Vec<Subscription>, StoreError>;

    /// Deletes a subscription and its posts; returns it, or `None` when there was none.
    ///
    /// # Errors
    /// As [`Subscriptions::subscribe_digest`].
    async fn delete_digest_subscription(
        &self,
        id: &str,
    ) -> Result<Option<Subscription>, StoreError>;
}
