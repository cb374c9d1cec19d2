//! `scorecard <service|group> [scorecard-id]`: a service's checks with their fixes, or a group's
//! services ranked, from the [`crate::scorecards::Scorer`]'s latest results (evaluated on demand
//! when there are none yet). A plain read (`catalog.read`), decided by the common flow.

use super::{Context, Handled, Outcome, TARGET_KINDS, permit};
use crate::authz::Caller;
use crate::catalog::NameQuery;
use crate::scorecards::report::{self, GroupReport, ReportError, ServiceReport};

/// What `scorecard` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScorecardOutcome {
    /// A service's report.
    Service(Box<ServiceReport>),
    /// A group's report.
    Group(Box<GroupReport>),
    /// No scorecards file is configured.
    NotConfigured,
    /// The entity (its short ref) could not be reported on, and why.
    Problem {
        /// The entity's short ref.
        entity: String,
        /// Why.
        error: ReportError,
    },
}

/// Answers `scorecard` (permission `catalog.read` on the service or group).
pub async fn handle(
    ctx: &Context<'_>,
    caller: &Caller,
    query: &NameQuery,
    scorecard: Option<&str>,
) -> Handled {
    let (index, mut handled) = match permit(
        ctx,
        caller,
        "scorecard",
        query,
        TARGET_KINDS,
        "service or group",
    ) {
        Ok(permitted) => permitted,
        Err(refused) => return *refused,
    };
    handled.outcome = report(ctx, index, scorecard).await;
    handled
}

/// The scorecard answer for the resolved entity `index` of `ctx.snapshot`.
async fn report(ctx: &Context<'_>, index: u32, scorecard: Option<&str>) -> Outcome {
    let Some(scorer) = ctx.scorer else {
        return Outcome::Scorecard(Box::new(ScorecardOutcome::NotConfigured));
    };
    let entity = &ctx.snapshot.node(index).entity.entity_ref;
    let latest = match crate::scorecards::source::latest_or_evaluate(scorer, entity, ctx.now).await
    {
        Ok(latest) => latest,
        Err(e) => {
            tracing::error!(error = %e, "scorecards could not be evaluated");
            return Outcome::Failed("the scorecards could not be evaluated".to_owned());
        }
    };
    let answer = if entity.kind.eq_ignore_ascii_case("group") {
        report::group_report(&latest, entity, scorecard).map(|r| ScorecardOutcome::Group(r.into()))
    } else {
        report::service_report(&latest, entity, scorecard)
            .map(|r| ScorecardOutcome::Service(r.into()))
    };
    Outcome::Scorecard(Box::new(answer.unwrap_or_else(|error| {
        ScorecardOutcome::Problem {
            entity: entity.short(),
            error,
        }
    })))
}
