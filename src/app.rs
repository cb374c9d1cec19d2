//! The application state shared by every entry point, and the one dispatcher they all call:
//! text → [`Command`](crate::command::Command) → authorization → handler → rendered reply.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::authz::{Caller, Policy};
use crate::catalog::CatalogService;
use crate::command::{self, Dialect};
use crate::handlers::{self, Context, Handled, Outcome};
use crate::identity::IdentityService;
use crate::oncall::OnCallService;
use crate::slack::render::{self, Reply};
use crate::slack::verify::SignatureVerifier;

/// Everything a request needs. Cheap to share behind an `Arc`.
pub struct AppState {
    /// The catalog (store + snapshot).
    pub catalog: Arc<CatalogService>,
    /// The authorization policy.
    pub policy: Arc<Policy>,
    /// On-call lookups.
    pub oncall: Arc<OnCallService>,
    /// Slack request verification; `None` only for the shell, which takes no HTTP.
    pub verifier: Option<SignatureVerifier>,
    /// Slack caller → catalog user; `None` makes every Slack caller a guest.
    pub identity: Option<Arc<IdentityService>>,
    request_counter: AtomicU64,
    boot: u64,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("catalog", &self.catalog).finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the state with no on-call providers.
    pub fn new(catalog: Arc<CatalogService>, policy: Policy, verifier: Option<SignatureVerifier>) -> Self {
        Self::with_services(catalog, Arc::new(policy), Arc::new(OnCallService::default()), verifier)
    }

    /// Builds the state from its services.
    pub fn with_services(
        catalog: Arc<CatalogService>,
        policy: Arc<Policy>,
        oncall: Arc<OnCallService>,
        verifier: Option<SignatureVerifier>,
    ) -> Self {
        let boot = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() & 0xffff_ffff)
            .unwrap_or_default();
        Self { catalog, policy, oncall, verifier, identity: None, request_counter: AtomicU64::new(0), boot }
    }

    /// The same state with identity resolution for Slack callers.
    pub fn with_identity(mut self, identity: Arc<IdentityService>) -> Self {
        self.identity = Some(identity);
        self
    }

    /// The caller behind a Slack request: identity from the catalog, channel kind from the policy.
    pub async fn slack_caller(
        &self,
        team_id: &str,
        user_id: &str,
        channel_id: &str,
        channel_name: Option<&str>,
    ) -> Caller {
        let origin = crate::authz::Origin::Slack {
            team_id: team_id.to_owned(),
            user_id: user_id.to_owned(),
            channel_id: channel_id.to_owned(),
        };
        let identity = match &self.identity {
            Some(service) => service.resolve(&self.catalog.snapshot(), user_id).await,
            None => crate::identity::Identity {
                user: None,
                guest_reason: Some("identity lookup is not configured".to_owned()),
            },
        };
        Caller {
            origin,
            user: identity.user,
            guest_reason: identity.guest_reason,
            channel: crate::authz::ChannelKind::classify(channel_name, &self.policy),
        }
    }

    /// A short id for one request, unique per process run: used in logs and error replies.
    pub fn next_request_id(&self) -> String {
        let n = self.request_counter.fetch_add(1, Ordering::Relaxed);
        format!("{:x}-{n:x}", self.boot)
    }

    /// Parses, authorizes, handles and renders one command for a caller.
    pub async fn dispatch(&self, caller: &Caller, text: &str, dialect: Dialect) -> Reply {
        let snapshot = self.catalog.snapshot();
        let handled = match command::parse(text, dialect) {
            Ok(cmd) => {
                let ctx = Context {
                    snapshot: &snapshot,
                    policy: &self.policy,
                    oncall: &self.oncall,
                    now: chrono::Utc::now(),
                };
                handlers::handle(&ctx, caller, &cmd).await
            }
            Err(e) => Handled {
                outcome: Outcome::Invalid(e),
                action: crate::authz::Action::Public,
                target: None,
                environment: None,
                decision: None,
            },
        };
        render::render(&snapshot, &handled.outcome)
    }
}
