//! The application state shared by every entry point, and the one dispatcher they all call:
//! text → [`Command`](crate::command::Command) → authorization → handler → rendered reply.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::authz::{Caller, Policy};
use crate::catalog::CatalogService;
use crate::command::{self, Dialect};
use crate::handlers::{self, Outcome};
use crate::slack::render::{self, Reply};
use crate::slack::verify::SignatureVerifier;

/// Everything a request needs. Cheap to share behind an `Arc`.
pub struct AppState {
    /// The catalog (store + snapshot).
    pub catalog: Arc<CatalogService>,
    /// The authorization policy.
    pub policy: Policy,
    /// Slack request verification; `None` only for the shell, which takes no HTTP.
    pub verifier: Option<SignatureVerifier>,
    request_counter: AtomicU64,
    boot: u64,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("catalog", &self.catalog)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the state.
    pub fn new(
        catalog: Arc<CatalogService>,
        policy: Policy,
        verifier: Option<SignatureVerifier>,
    ) -> Self {
        let boot = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() & 0xffff_ffff)
            .unwrap_or_default();
        Self {
            catalog,
            policy,
            verifier,
            request_counter: AtomicU64::new(0),
            boot,
        }
    }

    /// A short id for one request, unique per process run: used in logs and error replies.
    pub fn next_request_id(&self) -> String {
        let n = self.request_counter.fetch_add(1, Ordering::Relaxed);
        format!("{:x}-{n:x}", self.boot)
    }

    /// Parses, authorizes, handles and renders one command for a caller.
    pub fn dispatch(&self, caller: &Caller, text: &str, dialect: Dialect) -> Reply {
        let snapshot = self.catalog.snapshot();
        let outcome = match command::parse(text, dialect) {
            Ok(cmd) => handlers::handle(&snapshot, &self.policy, caller, &cmd),
            Err(e) => Outcome::Invalid(e),
        };
        render::render(&snapshot, &outcome)
    }
}
