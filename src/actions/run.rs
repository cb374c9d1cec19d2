//! The durable run, re-exported from its home in [`crate::runs`] (the run model sits below the
//! store and the actions; this path stays for existing callers).

pub use crate::runs::{
    MAX_STEPS, Requester, Run, RunControls, RunKind, RunStatus, RunStep, execution_label,
    new_run_id, now_ms,
};
