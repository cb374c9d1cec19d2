//! `rollback`: from an incident channel to a bound plan, a decision, and a locked run. The plan
//! (service, environment, from which deploy to which, the backend) has a hash; a confirmation or
//! an approval binds to it, so nobody acts on a plan they did not see. One rollback per service
//! and environment at a time: the run's `lock_key` makes a second one find the first.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::run::{Run, RunControls, RunKind, RunStatus, new_run_id, now_ms};
use super::service::{RunService, SubmitError, requester_of};
use crate::authz::{self, Caller, Decision, OnCallStatus, Outcome};
use crate::catalog::Snapshot;
use crate::deploys::{DeployHistory, Deployment, service_key};
use crate::exec::Execution;
use crate::store::StoreError;

/// The annotation naming a service's Argo CD application (as Backstage's Argo CD plugin reads it).
pub const ARGOCD_ANNOTATION: &str = "argocd/app-name";
/// The annotation naming a service's rollback workflow: `<owner>/<repo>/<workflow>@<ref>`.
pub const ROLLBACK_WORKFLOW_ANNOTATION: &str = "idp.dev/rollback-workflow";

/// `[rollbacks]` settings, resolved.
#[derive(Debug, Clone)]
pub struct RollbackSettings {
    /// Picks the service out of an incident channel's name: the `service` group, else group 1
    /// (`^inc-\d+-(?P<service>.+)$` makes `inc-1234-checkout-api` → `checkout-api`).
    pub service_from_channel: Option<regex::Regex>,
    /// The environment when none is named.
    pub default_environment: String,
    /// How long an approval request stays open, in minutes.
    pub approval_ttl_mins: i64,
    /// The backend for services with neither an Argo CD application nor a rollback workflow.
    pub default_execution: Option<Execution>,
}

impl Default for RollbackSettings {
    fn default() -> Self {
        Self {
            service_from_channel: regex::Regex::new(r"^inc-\d+-(?P<service>[a-z0-9][a-z0-9._-]*)$")
                .ok(),
            default_environment: "production".to_owned(),
            approval_ttl_mins: 30,
            default_execution: Some(Execution::Webhook),
        }
    }
}

/// When an incident began, as far as the chat system knows: the creation time of its channel.
/// The default rollback target is the last good deploy that finished before then.
#[async_trait::async_trait]
pub trait IncidentClock: Send + Sync {
    /// The creation time of `channel_id`, or `None` when it cannot be learned (the lookup failed,
    /// timed out, or the channel is unknown); a rollback then falls back to "the deploy before the
    /// current one".
    async fn began(&self, channel_id: &str) -> Option<DateTime<Utc>>;
}

/// A rollback plan: what would change, and who acts.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The service's snapshot index.
    pub target: u32,
    /// The service's ref key.
    pub service: String,
    /// Its name.
    pub service_name: String,
    /// The environment.
    pub environment: String,
    /// What runs now.
    pub from: Deployment,
    /// What it goes back to.
    pub to: Deployment,
    /// Who does the rollback.
    pub execution: Execution,
    /// `sha256(service, environment, from, to, backend)`, hex, first 16 digits.
    pub hash: String,
}

/// What `rollback` comes to.
#[derive(Debug, Clone, PartialEq)]
pub enum RollbackOutcome {
    /// Not in an incident channel.
    NotHere(String),
    /// Something is missing to make a plan (no service named or inferred, no history, an unknown
    /// version, nothing older to go back to, no backend).
    NoPlan(String),
    /// The plan to confirm, with what the policy said.
    Preview {
        /// The plan.
        plan: Box<Plan>,
        /// Allow, or require approval.
        decision: Decision,
    },
    /// The plan changed between the preview and the confirmation: the new one.
    PlanChanged(Box<Plan>),
    /// Refused by the policy.
    Denied(Decision),
    /// Another rollback of this service and environment is under way.
    InProgress(Box<Run>),
    /// Recorded: queued, or waiting for an approval.
    Started {
        /// The run.
        run: Box<Run>,
        /// Whether this request created it (false: the same confirmation came before).
        created: bool,
    },
}

/// The service a channel's name points at, if the settings' pattern finds one.
pub fn service_from_channel(settings: &RollbackSettings, channel: &str) -> Option<String> {
    let captures = settings.service_from_channel.as_ref()?.captures(channel)?;
    captures
        .name("service")
        .or_else(|| captures.get(1))
        .map(|m| m.as_str().to_owned())
}

fn plan_hash(
    service: &str,
    environment: &str,
    from: &Deployment,
    to: &Deployment,
    execution: &Execution,
) -> String {
    let text = json!([
        service,
        environment,
        from.id,
        from.version,
        to.id,
        to.version,
        execution
    ])
    .to_string();
    hex::encode(Sha256::digest(text.as_bytes()))[..16].to_owned()
}

/// The backend a service's rollback goes to: its Argo CD application, its rollback workflow, or
/// the default.
pub fn execution_for(
    snapshot: &Snapshot,
    target: u32,
    settings: &RollbackSettings,
) -> Result<Execution, String> {
    let entity = &snapshot.node(target).entity;
    if let Some(app) = entity
        .annotation(ARGOCD_ANNOTATION)
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        return Ok(Execution::ArgoCd {
            application: app.to_owned(),
        });
    }
    if let Some(workflow) = entity.annotation(ROLLBACK_WORKFLOW_ANNOTATION) {
        return crate::templates::parse_github_workflow(workflow);
    }
    settings.default_execution.clone().ok_or_else(|| {
        format!(
            "{} has no `{ARGOCD_ANNOTATION}` or `{ROLLBACK_WORKFLOW_ANNOTATION}` annotation and no default rollback backend is configured",
            entity.entity_ref.name
        )
    })
}

/// Builds the plan for `target` in `environment` (an alias such as `prod` is read as the
/// history names that environment), back to `to` (a version) or to the last good deploy before
/// the current one.
///
/// # Errors
/// A sentence saying what is missing; a [`StoreError`] from `deploys` wrapped as text.
pub async fn make_plan(
    deploys: &dyn DeployHistory,
    snapshot: &Snapshot,
    settings: &RollbackSettings,
    target: u32,
    environment: &str,
    to: Option<&str>,
    not_after: Option<DateTime<Utc>>,
) -> Result<Plan, String> {
    let entity = &snapshot.node(target).entity;
    let name = entity.entity_ref.name.clone();
    let service = service_key(&entity.entity_ref.key());
    let db = |e: StoreError| format!("the deploy history could not be read: {e}");
    // `prod` finds the history's `production` (and the other way round).
    let environment = &deploys
        .environment_named(&service, environment)
        .await
        .map_err(db)?;
    let Some(from) = deploys
        .current_deployment(&service, environment)
        .await
        .map_err(db)?
    else {
        return Err(format!(
            "idp has no successful deploy of {name} in {environment} on record, so there is nothing to roll back"
        ));
    };
    let to = match to {
        Some(version) => match deploys
            .succeeded_version(&service, environment, version)
            .await
            .map_err(db)?
        {
            Some(d) if d.version == from.version => {
                return Err(format!("{name} already runs {version} in {environment}"));
            }
            Some(d) => d,
            None => {
                let known: Vec<String> = deploys
                    .deployments(&service, Some(environment), 10)
                    .await
                    .map_err(db)?
                    .into_iter()
                    .filter(|d| d.status == crate::deploys::DeployStatus::Succeeded)
                    .map(|d| d.version)
                    .collect();
                return Err(format!(
                    "{version} was never deployed successfully to {name} in {environment} (recent: {})",
                    if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                ));
            }
        },
        None => deploys
            .deployment_before(&service, environment, &from, not_after)
            .await
            .map_err(db)?
            .ok_or_else(|| {
                format!(
                    "{name} has no earlier successful deploy in {environment} than {} to go back to",
                    from.version
                )
            })?,
    };
    let execution = execution_for(snapshot, target, settings)?;
    let hash = plan_hash(&service, environment, &from, &to, &execution);
    Ok(Plan {
        target,
        service,
        service_name: name,
        environment: environment.to_owned(),
        from,
        to,
        execution,
        hash,
    })
}

/// What a rollback request needs besides the command.
pub struct RollbackRequest<'a> {
    /// The snapshot.
    pub snapshot: &'a Snapshot,
    /// The policy.
    pub policy: &'a authz::Policy,
    /// The deploy history the plan is made from (and checked again on confirmation).
    pub deploys: &'a dyn DeployHistory,
    /// The run queue.
    pub runs: Option<&'a RunService>,
    /// `[rollbacks]`.
    pub settings: &'a RollbackSettings,
    /// The caller's on-call status for the service, already looked up.
    pub on_call: OnCallStatus,
    /// The request's idempotency key (the confirmation's interaction).
    pub idempotency_key: Option<&'a str>,
    /// The Slack channel.
    pub channel_id: Option<&'a str>,
    /// When.
    pub now: DateTime<Utc>,
}

/// What the caller is shown before confirming: the plan, or, when this process cannot hand the
/// plan's backend a rollback (its URL or token is not configured), why rollbacks of this service
/// cannot be delegated from here; a preview never offers a backend that would only fail on
/// confirm.
pub fn preview(req: &RollbackRequest<'_>, plan: Plan, decision: Decision) -> RollbackOutcome {
    if let Some(runs) = req.runs
        && let Err(why) = runs.check_backend(&plan.execution)
    {
        return RollbackOutcome::NoPlan(format!(
            "rollbacks of {} in {} can't be delegated from here: {why}",
            plan.service_name, plan.environment
        ));
    }
    RollbackOutcome::Preview {
        plan: Box::new(plan),
        decision,
    }
}

/// Records the confirmed plan as a run: queued when allowed, waiting for an approval when the
/// policy requires one. A run already holding the service and environment is returned instead.
///
/// # Errors
/// [`SubmitError`].
pub async fn start(
    req: &RollbackRequest<'_>,
    caller: &Caller,
    plan: &Plan,
    decision: &Decision,
) -> Result<RollbackOutcome, SubmitError> {
    let Some(runs) = req.runs else {
        return Err(SubmitError::NotConfigured(
            "runs are not set up in this process".to_owned(),
        ));
    };
    if let Err(why) = runs.check_backend(&plan.execution) {
        return Ok(RollbackOutcome::NoPlan(why));
    }
    let now = now_ms();
    let awaiting = matches!(decision.outcome, Outcome::RequireApproval(_));
    let approvers = match &decision.outcome {
        Outcome::RequireApproval(a) => a.describe(),
        _ => String::new(),
    };
    let mut inputs: BTreeMap<String, Value> = BTreeMap::new();
    inputs.insert("service".into(), json!(plan.service_name));
    inputs.insert("environment".into(), json!(plan.environment));
    inputs.insert("version".into(), json!(plan.to.version));
    inputs.insert("from_version".into(), json!(plan.from.version));
    if let Some(r) = &plan.to.revision {
        inputs.insert("revision".into(), json!(r));
    }
    if let Some(h) = plan.to.argocd_history_id {
        inputs.insert("argocd_history_id".into(), json!(h.to_string()));
    }
    let mut meta = BTreeMap::new();
    meta.insert("plan_hash".to_owned(), json!(plan.hash));
    if awaiting {
        meta.insert("approvers".to_owned(), json!(approvers));
        meta.insert(
            "approval_expires_at".to_owned(),
            json!(now + req.settings.approval_ttl_mins * 60_000),
        );
    }
    let id = new_run_id();
    let requested_by = caller
        .user
        .as_ref()
        .and_then(|u| req.snapshot.get(u))
        .map(|i| req.snapshot.node(i).entity.display_name().to_owned())
        .unwrap_or_else(|| "a guest".to_owned());
    let run = Run {
        idempotency_key: req
            .idempotency_key
            .map_or_else(|| format!("once:{id}"), str::to_owned),
        id,
        kind: RunKind::Rollback,
        template: None,
        target: Some(plan.service.clone()),
        subject: Some(plan.service_name.clone()),
        execution: plan.execution.clone(),
        inputs: inputs.into_iter().chain(meta).collect(),
        controls: RunControls::default(),
        requester: requester_of(caller),
        requested_by,
        channel_id: req.channel_id.map(str::to_owned),
        message_ts: None,
        status: if awaiting {
            RunStatus::AwaitingApproval
        } else {
            RunStatus::Queued
        },
        attempts: 0,
        next_attempt_at: now,
        external_id: None,
        external_url: None,
        error: None,
        steps: Vec::new(),
        last_sequence: None,
        dispatched_at: None,
        last_news_at: None,
        created_at: now,
        updated_at: now,
        finished_at: None,
        version: 1,
        notified_version: 0,
        failure_told: false,
        lock_key: Some(format!("rollback:{}:{}", plan.service, plan.environment)),
    };
    let (stored, created) = runs.submit(run.clone()).await?;
    if !created && stored.idempotency_key != run.idempotency_key {
        return Ok(RollbackOutcome::InProgress(Box::new(stored)));
    }
    Ok(RollbackOutcome::Started {
        run: Box::new(stored),
        created,
    })
}
