//! `audit [target] [since]`: the latest audit records, newest first.

use chrono::{DateTime, Utc};

use super::{Context, Handled, Outcome, TARGET_KINDS, permit, permit_untargeted};
use crate::authz::Caller;
use crate::catalog::{EntityRef, NameQuery};

/// How many records `audit` shows.
pub const AUDIT_LIMIT: u32 = 20;

/// Answers `audit` (permission `audit.read`, on the target when one is named).
pub async fn handle(
    ctx: &Context<'_>,
    caller: &Caller,
    target: Option<&NameQuery>,
    since: Option<DateTime<Utc>>,
) -> Handled {
    let permitted = match target {
        Some(q) => permit(ctx, caller, "audit", q, TARGET_KINDS, "service or group")
            .map(|(i, handled)| (Some(i), handled)),
        None => permit_untargeted(ctx, caller, "audit").map(|handled| (None, handled)),
    };
    let (index, mut handled) = match permitted {
        Ok(permitted) => permitted,
        Err(refused) => return *refused,
    };
    let query = crate::audit::AuditQuery::latest(
        handled.target.as_ref().map(EntityRef::key),
        since,
        AUDIT_LIMIT,
    );
    handled.outcome = match ctx.audit_reader.audit_query(&query).await {
        Ok(records) => Outcome::Audit {
            target: index,
            records,
        },
        Err(e) => {
            tracing::error!(error = %e, "audit query failed");
            Outcome::Failed("the audit log could not be read".to_owned())
        }
    };
    handled
}
