//! The REST API: HTTP endpoints for programs, authenticated with bearer tokens (`idp token
//! create`; only their SHA-256 is stored, see [`crate::audit::ApiToken`]) and recorded in the audit
//! log like every other entrance.
//!
//! | route | what | module |
//! | --- | --- | --- |
//! | `GET /api/v1/audit` ([`API_AUDIT_PATH`]) | the audit log as JSON lines, scope `audit.read` | [`audit`] |

pub mod audit;

use axum::Router;

pub use audit::API_AUDIT_PATH;

use crate::audit::AuditLog;
use crate::store::Store;

/// Every REST API route, to merge into the app's router. Requests are recorded through `log`;
/// tokens are checked against, and answers read from, `store`.
pub fn router(log: AuditLog, store: Store) -> Router {
    audit::router(log, store)
}
