//! `team <group>`: a group's people and what it owns.

use super::{Context, GROUP_KINDS, Handled, Outcome, permit};
use crate::authz::Caller;
use crate::catalog::NameQuery;

/// Answers `team` (permission `catalog.read` on the group).
pub fn handle(ctx: &Context<'_>, caller: &Caller, query: &NameQuery) -> Handled {
    let (target, mut handled) = match permit(ctx, caller, "team", query, GROUP_KINDS, "group") {
        Ok(permitted) => permitted,
        Err(refused) => return *refused,
    };
    handled.outcome = Outcome::Team(target);
    handled
}
