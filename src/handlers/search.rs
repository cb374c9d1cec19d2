//! `search <words>`: free-text search over the catalog.

use super::{Context, Handled, Outcome, SEARCH_LIMIT, permit_untargeted};
use crate::authz::Caller;

/// Answers `search` (permission `catalog.read`): the best [`SEARCH_LIMIT`] hits and the total.
pub fn handle(ctx: &Context<'_>, caller: &Caller, words: &[String]) -> Handled {
    let mut handled = match permit_untargeted(ctx, caller, "search") {
        Ok(handled) => handled,
        Err(refused) => return *refused,
    };
    let (hits, total) = ctx.snapshot.search(words, SEARCH_LIMIT);
    handled.outcome = Outcome::Search {
        words: words.to_vec(),
        hits: hits.into_iter().map(|h| h.index).collect(),
        total,
    };
    handled
}
