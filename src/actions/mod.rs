//! Actions idp hands to other systems, made durable: a [`Run`] is recorded before anything is
//! called, a worker claims due runs (on any replica), re-checks authorization, delegates through
//! [`crate::exec`], follows the backend's news (polls and callbacks), gives up on silence, and
//! keeps the status message up to date. A restart loses nothing: every step is a row change.

pub mod created;
pub mod rollback;
pub mod run;
pub mod scaffold;
pub mod service;

pub use run::{Requester, Run, RunControls, RunKind, RunStatus, RunStep};
pub use service::{Delegate, NotifyError, RunNotifier, RunOptions, RunService, SubmitError};
