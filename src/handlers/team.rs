//! `team <group>`: a group's people and what it owns.

use super::{Context, GROUP_KINDS, Handled, OWNED_KINDS, Outcome, permit};
use crate::authz::Caller;
use crate::catalog::{NameQuery, RelationType, Target};

/// Answers `team` (permission `catalog.read` on the group).
pub fn handle(ctx: &Context<'_>, caller: &Caller, query: &NameQuery) -> Handled {
    let (target, mut handled) = match permit(ctx, caller, "team", query, GROUP_KINDS, "group") {
        Ok(permitted) => permitted,
        Err(refused) => {
            // A component's name: the team that owns it.
            if matches!(refused.outcome, Outcome::NotFound { .. })
                && let Ok((entity, _)) = permit(ctx, caller, "team", query, OWNED_KINDS, "service")
                && let Some(Target::Resolved(owner)) =
                    ctx.snapshot.related(entity, RelationType::OwnedBy).next()
                && let Ok((team, mut handled)) = permit(
                    ctx,
                    caller,
                    "team",
                    &NameQuery::parse(&ctx.snapshot.node(*owner).entity.entity_ref.key()),
                    GROUP_KINDS,
                    "group",
                )
            {
                let e = &ctx.snapshot.node(entity).entity;
                let owner_name = ctx.snapshot.node(team).entity.display_name().to_owned();
                handled.outcome = Outcome::Noted {
                    note: format!(
                        "{} is a {}, not a team; it is owned by {owner_name}.",
                        e.display_name(),
                        e.entity_ref.kind
                    ),
                    outcome: Box::new(Outcome::Team(team)),
                };
                return handled;
            }
            return *refused;
        }
    };
    handled.outcome = Outcome::Team(target);
    handled
}
