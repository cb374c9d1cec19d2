//! `deploys <service> [environment]`: a service's recent deploys, newest first.

use super::{Context, DEPLOYS_LIMIT, Handled, OWNED_KINDS, Outcome, permit};
use crate::authz::Caller;
use crate::catalog::NameQuery;

/// Answers `deploys` (permission `catalog.read` on the service).
pub async fn handle(
    ctx: &Context<'_>,
    caller: &Caller,
    query: &NameQuery,
    environment: Option<&str>,
) -> Handled {
    let (target, mut handled) = match permit(ctx, caller, "deploys", query, OWNED_KINDS, "service")
    {
        Ok(permitted) => permitted,
        Err(refused) => return *refused,
    };
    let environment = match environment {
        Some(asked) => Some(super::environment_named(ctx, target, asked).await),
        None => None,
    };
    let environment = environment.as_deref();
    handled.environment = environment.map(str::to_owned);
    let key = ctx.snapshot.node(target).entity.entity_ref.key();
    handled.outcome = match ctx
        .deploys
        .deployments(&key, environment, DEPLOYS_LIMIT)
        .await
    {
        Ok(history) => Outcome::Deploys {
            target,
            environment: environment.map(str::to_owned),
            history,
        },
        Err(e) => {
            tracing::error!(error = %e, "deploy history query failed");
            Outcome::Failed("the deploy history could not be read".to_owned())
        }
    };
    handled
}
