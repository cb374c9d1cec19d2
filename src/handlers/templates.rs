//! `templates`: every golden-path template in the catalog, runnable or not.

use super::{Context, Handled, Outcome, permit_untargeted};
use crate::authz::Caller;

/// Answers `templates` (permission `catalog.read`).
pub fn handle(ctx: &Context<'_>, caller: &Caller) -> Handled {
    let mut handled = match permit_untargeted(ctx, caller, "templates") {
        Ok(handled) => handled,
        Err(refused) => return *refused,
    };
    handled.outcome = Outcome::Templates(crate::actions::scaffold::templates(
        ctx.snapshot,
        ctx.templates,
        ctx.runs,
    ));
    handled
}
