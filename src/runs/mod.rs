//! The run model at the bottom of the domain: what a [`Run`] is, where it stands
//! ([`RunStatus`]), who asked ([`Requester`]), which backend runs it ([`Execution`]) and what a
//! backend reports ([`Progress`]), with the pure state transitions applied to it.
//!
//! Nothing here does IO or names a module above it: [`crate::store`] reads and writes these
//! types, [`crate::actions`] (the queue and its worker) and [`crate::exec`] (the backends) use
//! them, and both re-export them at their old paths (`actions::run::Run`, `exec::Execution`).
//! [`RunLookup`] is the narrow read-only view of stored runs a handler needs; the store
//! implements it.

mod execution;
mod model;

pub use execution::{Execution, Progress, StepNote};
pub use model::{
    MAX_STEPS, Requester, Run, RunControls, RunKind, RunStatus, RunStep, execution_label,
    new_run_id, now_ms,
};

use crate::store::StoreError;

/// Reading stored runs, for handlers that show them or check for one in progress (the Home tab's
/// open runs, a rollback's lock holder). Implemented by [`crate::store::Store`]; writing runs
/// goes through [`crate::actions::RunService`].
#[async_trait::async_trait]
pub trait RunLookup: Send + Sync {
    /// The run with this id (`run_…`), if there is one.
    ///
    /// # Errors
    /// [`StoreError::Query`], or [`StoreError::Corrupt`] for an unreadable stored row.
    async fn run(&self, id: &str) -> Result<Option<Run>, StoreError>;

    /// The unfinished run holding `lock_key` (`rollback:<service>:<env>`), if any.
    ///
    /// # Errors
    /// As [`RunLookup::run`].
    async fn run_holding(&self, lock_key: &str) -> Result<Option<Run>, StoreError>;

    /// Unfinished runs, newest first, at most `limit`.
    ///
    /// # Errors
    /// As [`RunLookup::run`].
    async fn open_runs(&self, limit: i64) -> Result<Vec<Run>, StoreError>;
}
