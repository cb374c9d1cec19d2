//! `oncall <service|group>`: who is on call now and next.

use super::{Context, Handled, Outcome, TARGET_KINDS, permit};
use crate::authz::Caller;
use crate::catalog::NameQuery;

/// Answers `oncall` (permission `catalog.read` on the entity).
pub async fn handle(ctx: &Context<'_>, caller: &Caller, query: &NameQuery) -> Handled {
    let (target, mut handled) = match permit(
        ctx,
        caller,
        "oncall",
        query,
        TARGET_KINDS,
        "service or group",
    ) {
        Ok(permitted) => permitted,
        Err(refused) => return *refused,
    };
    let on_call = ctx.oncall.for_entity(ctx.snapshot, target, ctx.now).await;
    handled.outcome = Outcome::OnCall(target, on_call);
    handled
}
