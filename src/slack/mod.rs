//! Everything that knows Slack's wire formats: request verification, inbound payloads, the HTTP
//! routes, mrkdwn escaping and Block Kit rendering.

pub mod channels;
pub mod client;
pub mod digest_message;
pub mod digest_sink;
pub mod directory;
pub mod home;
pub mod http;
pub mod inbound;
pub mod interact;
pub mod mention;
pub mod modal;
pub mod mrkdwn;
pub mod render;
pub mod rollback_message;
pub mod run_message;
pub mod run_notifier;
pub mod scorecard_message;
pub mod verify;
