//! Slack to idp: signature verification ([`verify`]), payload decoding ([`payload`], re-exported
//! here), the HTTP routes ([`http`]), and the translation of interactions ([`interact`]) and
//! mentions ([`mention`]) into commands for the one door.

pub mod http;
pub mod interact;
pub mod mention;
pub mod payload;
pub mod verify;

pub use payload::*;
