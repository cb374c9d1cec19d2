//! A form picker's options (Slack `block_suggestion`): entities matching what the person typed,
//! for the field of the template the form runs. A plain read (`catalog.read`).

use super::{Context, Handled, Outcome, permit_untargeted};
use crate::authz::Caller;
use crate::templates::{self, picker};

/// At most this many options (Slack's limit for external selects).
pub const MAX_OPTIONS: usize = 100;

/// Answers a picker: (label, value) pairs, the value the entity's ref key; empty for an unknown
/// template or a field that is not a picker.
pub fn handle(
    ctx: &Context<'_>,
    caller: &Caller,
    template: &str,
    field: &str,
    query: &str,
) -> Handled {
    let mut handled = match permit_untargeted(ctx, caller, "templates") {
        Ok(handled) => handled,
        Err(refused) => return *refused,
    };
    let options = match templates::find(ctx.snapshot, ctx.templates, template) {
        Ok(t) => match t.field(field) {
            Some(f) => picker::search(&f.kind, ctx.snapshot, query, MAX_OPTIONS)
                .into_iter()
                .map(|i| {
                    let e = &ctx.snapshot.node(i).entity;
                    let short = e.entity_ref.short();
                    let name = e.display_name();
                    let label = if name == e.entity_ref.name {
                        short
                    } else {
                        format!("{name} ({short})")
                    };
                    (label, e.entity_ref.key())
                })
                .collect(),
            None => Vec::new(),
        },
        Err(_) => Vec::new(),
    };
    handled.outcome = Outcome::Options(options);
    handled
}
