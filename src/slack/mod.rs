//! Everything that knows Slack's wire formats, in three parts:
//! - [`inbound`]: request verification, payload decoding, the HTTP routes, and turning each
//!   payload into a [`Command`](crate::command::Command) for the one door (slash commands,
//!   interactions, events, mentions, the message shortcut);
//! - [`render`]: outcomes to Block Kit and mrkdwn (one [`render::base`] module the per-message
//!   renderers use; no renderer imports another);
//! - [`outbound`]: the Web API client (slack-morphism), and the notifiers and sinks that post
//!   run status and digests.
//!
//! The old flat paths (`slack::client`, `slack::verify`, …) stay as re-exports.

pub mod inbound;
pub mod outbound;
pub mod render;

pub use inbound::{http, interact, mention, verify};
pub use outbound::{channels, client, digest_sink, directory, run_notifier};
pub use render::{
    digest_message, home, modal, mrkdwn, rollback_message, run_message, scorecard_message,
};
