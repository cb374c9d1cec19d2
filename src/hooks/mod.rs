//! Inbound hooks from the systems idp works with. Every hook is authenticated before its body is
//! read as anything. [`runs`]: progress of delegated runs (webhook backend, GitHub `workflow_run`).

pub mod runs;

pub use runs::{HooksState, router};
