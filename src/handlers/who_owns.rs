//! "Who owns this?" on a message (Slack message shortcut): the catalog entities the message's
//! text and links refer to (repository URLs, linked dashboards and CI runs, hostnames, service
//! names) and who owns each, or what was looked for when nothing matched. A plain read
//! (`catalog.read`).

use super::{Context, Handled, Outcome, permit_untargeted};
use crate::authz::Caller;
use crate::oncall::{OnCall, OnCallError};

/// At most this many owner cards in one answer.
pub const MAX_FOUND: usize = 3;

/// One thing the message refers to.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The entity (index in the snapshot answered from).
    pub entity: u32,
    /// Why: what in the message pointed at it ("the repository github.com/acme/checkout-api").
    pub because: String,
    /// Who is on call for it now.
    pub on_call: Result<OnCall, OnCallError>,
}

/// The answer to "Who owns this?".
#[derive(Debug, Clone, PartialEq)]
pub struct WhoOwnsAnswer {
    /// What was recognised, best first (at most [`MAX_FOUND`]).
    pub found: Vec<Found>,
    /// How many more were recognised than shown.
    pub more: usize,
    /// What idp looked for (for "found nothing": "repository URLs, links, hostnames, names").
    pub looked_for: Vec<String>,
    /// Whether the message was cut before it was read to its end.
    pub truncated: bool,
}

/// Answers the shortcut for the message text (links included).
pub async fn handle(ctx: &Context<'_>, caller: &Caller, text: &str) -> Handled {
    let mut handled = match permit_untargeted(ctx, caller, "owner") {
        Ok(handled) => handled,
        Err(refused) => return *refused,
    };
    let (hits, looked_for, truncated) = recognise(ctx, text);
    let more = hits.len().saturating_sub(MAX_FOUND);
    let mut found = Vec::new();
    for (entity, because) in hits.into_iter().take(MAX_FOUND) {
        let on_call = ctx.oncall.for_entity(ctx.snapshot, entity, ctx.now).await;
        found.push(Found {
            entity,
            because,
            on_call,
        });
    }
    if let [one] = found.as_slice() {
        handled.target = Some(ctx.snapshot.node(one.entity).entity.entity_ref.clone());
    }
    handled.outcome = Outcome::WhoOwns(Box::new(WhoOwnsAnswer {
        found,
        more,
        looked_for,
        truncated,
    }));
    handled
}

fn recognise(ctx: &Context<'_>, text: &str) -> (Vec<(u32, String)>, Vec<String>, bool) {
    use crate::catalog::recognise::{Clue, Matched};
    let found = crate::catalog::recognise::recognise(ctx.snapshot, text);
    let hits = found
        .found
        .iter()
        .map(|r| {
            let why = match (&r.because, r.matched) {
                (Clue::Repo(repo), _) => format!("the repository {repo}"),
                (Clue::Link(url), Matched::Link) => format!("the link {url}"),
                (Clue::Link(url), _) => format!("the URL {url}"),
                (Clue::Hostname(host), _) => format!("the hostname {host}"),
                (Clue::Name(name), _) => format!("the name {name}"),
            };
            (r.entity, why)
        })
        .collect();
    let mut looked_for: Vec<String> = found
        .looked_for
        .iter()
        .take(8)
        .map(|c| format!("`{c}`"))
        .collect();
    if looked_for.is_empty() {
        looked_for.push("repository URLs, links, hostnames and service names".to_owned());
    }
    (hits, looked_for, found.truncated)
}
