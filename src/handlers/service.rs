//! `service <name>`: a service's whole card, with what runs in each environment.

use super::{Context, Handled, OWNED_KINDS, Outcome, permit};
use crate::authz::Caller;
use crate::catalog::NameQuery;

/// Answers `service` (permission `catalog.read` on the entity). An unreadable deploy history
/// leaves the environments out (logged), never the card.
pub async fn handle(ctx: &Context<'_>, caller: &Caller, query: &NameQuery) -> Handled {
    let (target, mut handled) = match permit(ctx, caller, "service", query, OWNED_KINDS, "service")
    {
        Ok(permitted) => permitted,
        Err(refused) => return *refused,
    };
    let key = ctx.snapshot.node(target).entity.entity_ref.key();
    let current = ctx
        .deploys
        .current_deployments(&key)
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "current deploys could not be read");
            Vec::new()
        });
    handled.outcome = Outcome::Service(target, current);
    handled
}
