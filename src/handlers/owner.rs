//! `owner <service>`: who owns a service, how to reach them, and who is on call for it.

use super::{Context, GROUP_KINDS, Handled, OWNED_KINDS, Outcome, permit, permit_untargeted};
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

/// `owner <name>` (permission `catalog.read` on the entity). A group's name is answered with
/// the team, saying so.
async fn by_name(ctx: &Context<'_>, caller: &Caller, query: &NameQuery) -> Handled {
    let (target, mut handled) = match permit(ctx, caller, "owner", query, OWNED_KINDS, "service") {
        Ok(permitted) => permitted,
        Err(refused) => {
            if matches!(refused.outcome, Outcome::NotFound { .. })
                && let Ok((team, mut handled)) =
                    permit(ctx, caller, "owner", query, GROUP_KINDS, "group")
            {
                let name = ctx.snapshot.node(team).entity.display_name().to_owned();
                handled.outcome = Outcome::Noted {
                    note: format!("{name} is a team, not a service; here is the team."),
                    outcome: Box::new(Outcome::Team(team)),
                };
                return handled;
            }
            return *refused;
        }
    };
    let on_call = ctx.oncall.for_entity(ctx.snapshot, target, ctx.now).await;
    handled.outcome = Outcome::Owner(target, on_call);
    handled
}

/// `owner @person`: what that person's teams own (permission `catalog.read`).
async fn by_person(ctx: &Context<'_>, caller: &Caller, user_id: &str) -> Handled {
    let mut handled = match permit_untargeted(ctx, caller, "owner") {
        Ok(handled) => handled,
        Err(refused) => return *refused,
    };
    let identity = match ctx.identity {
        Some(identity) => identity.resolve(ctx.snapshot, user_id).await,
        None => crate::identity::Identity::guest("identity lookup is not configured"),
    };
    let Some(person) = identity.user.as_ref().and_then(|u| ctx.snapshot.get(u)) else {
        tracing::info!(user_id, reason = ?identity.guest_reason, "a mentioned person is not in the catalog");
        handled.outcome = Outcome::NotFound {
            what: "person",
            query: format!("<@{user_id}>"),
            suggestions: Vec::new(),
            command: "owner",
        };
        return handled;
    };
    let user = ctx.snapshot.node(person).entity.entity_ref.clone();
    let owned = crate::catalog::recognise::owned_by_person(ctx.snapshot, &user);
    handled.target = Some(user);
    handled.outcome = Outcome::OwnedBy { person, owned };
    handled
}

/// `owner #channel`: the service the channel is named after (`#checkout-api`,
/// `#inc-42-checkout-api`).
async fn by_channel(ctx: &Context<'_>, caller: &Caller, id: &str, name: Option<&str>) -> Handled {
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        let mut handled = match permit_untargeted(ctx, caller, "owner") {
            Ok(handled) => handled,
            Err(refused) => return *refused,
        };
        handled.outcome = Outcome::Stale(format!(
            "Slack did not tell me the name of that channel ({id}); give the service's name instead: `/idp owner <service>`."
        ));
        return handled;
    };
    match crate::catalog::recognise::service_from_channel_name(ctx.snapshot, name) {
        Some(index) => {
            let node = ctx.snapshot.node(index);
            by_name(
                ctx,
                caller,
                &NameQuery::parse(&node.entity.entity_ref.key()),
            )
            .await
        }
        None => {
            let mut handled = match permit_untargeted(ctx, caller, "owner") {
                Ok(handled) => handled,
                Err(refused) => return *refused,
            };
            handled.outcome = Outcome::Stale(format!(
                "#{name} is not named after a service in the catalog; give the service's name instead: `/idp owner <service>`."
            ));
            handled
        }
    }
}
