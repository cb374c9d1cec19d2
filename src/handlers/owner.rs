//! `owner <service>`: who owns a service, how to reach them, and who is on call for it.

use super::{Context, Handled, OWNED_KINDS, Outcome, permit};
use crate::authz::Caller;
use crate::catalog::NameQuery;

/// Answers `owner` (permission `catalog.read` on the entity).
pub async fn handle(ctx: &Context<'_>, caller: &Caller, query: &NameQuery) -> Handled {
    let (target, mut handled) = match permit(ctx, caller, "owner", query, OWNED_KINDS, "service") {
        Ok(permitted) => permitted,
        Err(refused) => return *refused,
    };
    let on_call = ctx.oncall.for_entity(ctx.snapshot, target, ctx.now).await;
    handled.outcome = Outcome::Owner(target, on_call);
    handled
}
