//! `owner <service>`: who owns a service, how to reach them, and who is on call for it.

use super::{Context, Handled, OWNED_KINDS, Outcome, permit};
use crate::authz::Caller;
use crate::catalog::NameQuery;
use crate::command::OwnerQuery;

/// Answers `owner` for what was given: a name, a repository URL, a person, or a channel.
pub async fn handle(ctx: &Context<'_>, caller: &Caller, query: &OwnerQuery) -> Handled {
    match query {
        OwnerQuery::Name(q) => by_name(ctx, caller, q).await,
        OwnerQuery::Url(url) => super::who_owns::handle(ctx, caller, url).await,
        OwnerQuery::Person { user_id } => by_person(ctx, caller, user_id).await,
        OwnerQuery::Channel { id, name } => by_channel(ctx, caller, id, name.as_deref()).await,
    }
}

/// `owner <name>` (permission `catalog.read` on the entity).
async fn by_name(ctx: &Context<'_>, caller: &Caller, query: &NameQuery) -> Handled {
    let (target, mut handled) = match permit(ctx, caller, "owner", query, OWNED_KINDS, "service") {
        Ok(permitted) => permitted,
        Err(refused) => return *refused,
    };
    let on_call = ctx.oncall.for_entity(ctx.snapshot, target, ctx.now).await;
    handled.outcome = Outcome::Owner(target, on_call);
    handled
}

async fn by_person(ctx: &Context<'_>, caller: &Caller, user_id: &str) -> Handled {
    let _ = (ctx, caller, user_id);
    todo_outcome()
}

async fn by_channel(ctx: &Context<'_>, caller: &Caller, id: &str, name: Option<&str>) -> Handled {
    let _ = (ctx, caller, id, name);
    todo_outcome()
}

fn todo_outcome() -> Handled {
    Handled::plain(
        Outcome::Failed("not yet".to_owned()),
        crate::authz::Action::CatalogRead,
    )
}
