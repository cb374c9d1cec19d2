//! `whoami`: the caller's identity, groups, roles and on-call shifts.

use super::{Context, Handled, Outcome, Whoami, permit_untargeted};
use crate::authz::{self, Caller};

/// Answers `whoami` (permission `catalog.read`).
pub async fn handle(ctx: &Context<'_>, caller: &Caller) -> Handled {
    let mut handled = match permit_untargeted(ctx, caller, "whoami") {
        Ok(handled) => handled,
        Err(refused) => return *refused,
    };
    let groups = authz::groups_of(ctx.snapshot, caller.user.as_ref());
    let user = caller.user.as_ref().and_then(|u| ctx.snapshot.get(u));
    let roles = ctx
        .policy
        .roles_of(caller.user.as_ref(), &groups, None)
        .into_iter()
        .collect();
    let shifts = match &caller.user {
        Some(u) => ctx.oncall.shifts_of(ctx.snapshot, u, ctx.now).await,
        None => Vec::new(),
    };
    handled.outcome = Outcome::Whoami(Whoami {
        user,
        guest_reason: caller.guest_reason.clone(),
        groups,
        roles,
        shifts,
    });
    handled
}
