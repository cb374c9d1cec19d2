//! Golden-path runs: typed values as form values, the template list with what this deployment can
//! run, and recording an allowed run. Deciding whether a request may run is the `new-service`
//! handler's (`handlers::new_service`).

use std::collections::BTreeMap;

use super::run::{Run, RunControls, RunKind, RunStatus, new_run_id, now_ms};
use super::service::{RunService, SubmitError, requester_of};
use crate::authz::Caller;
use crate::catalog::Snapshot;
use crate::templates::{self, FieldKind, RawValue, Template, TemplateDefaults, Values};

/// Turns typed `field=value` pairs into raw form values for this template: a multi-select's
/// values are comma-separated.
pub fn raw_values(template: &Template, values: &[(String, String)]) -> BTreeMap<String, RawValue> {
    values
        .iter()
        .map(|(k, v)| {
            let many = template
                .field(k)
                .is_some_and(|f| matches!(f.kind, FieldKind::MultiChoice { .. }));
            let raw = if many {
                RawValue::Many(
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect(),
                )
            } else {
                RawValue::Text(v.clone())
            };
            (k.clone(), raw)
        })
        .collect()
}

/// Every template of the catalog, with those whose backend this deployment does not configure
/// marked not runnable (and why), so lists and pickers never offer what would be refused.
pub fn templates(
    snapshot: &Snapshot,
    defaults: &TemplateDefaults,
    runs: Option<&RunService>,
) -> Vec<Template> {
    let mut list = templates::load(snapshot, defaults);
    if let Some(runs) = runs {
        for t in &mut list {
            if t.not_runnable.is_none()
                && let Some(execution) = &t.execution
                && let Err(why) = runs.check_backend(execution)
            {
                t.not_runnable = Some(why);
            }
        }
    }
    list
}

/// What recording a template run needs: the checked values and where it came from.
pub struct Start<'a> {
    /// The catalog snapshot (the requester's display name).
    pub snapshot: &'a Snapshot,
    /// Template defaults (compliance rules).
    pub defaults: &'a TemplateDefaults,
    /// The run queue.
    pub runs: &'a RunService,
    /// The template.
    pub template: &'a Template,
    /// Every value, validated (`templates::validate_all`).
    pub checked: Values,
    /// The owner's ref key.
    pub owner_key: String,
    /// The field naming the new thing.
    pub name_field: &'a str,
    /// The execution backend, already checked as configured.
    pub execution: crate::exec::Execution,
    /// The request's idempotency key (Slack view or trigger id, shell), so the same request
    /// twice records one run.
    pub idempotency_key: Option<&'a str>,
    /// Where the status message goes.
    pub channel_id: Option<&'a str>,
}

/// Records an allowed template run, queued for the worker. Returns the run and whether this call
/// created it (`false`: the same request came before).
///
/// # Errors
/// [`SubmitError`] when the run cannot be recorded.
pub async fn start(req: Start<'_>, caller: &Caller) -> Result<(Run, bool), SubmitError> {
    let Start {
        snapshot,
        defaults,
        runs,
        template,
        checked,
        owner_key,
        name_field,
        execution,
        idempotency_key,
        channel_id,
    } = req;
    let controls = defaults.compliance.evaluate(&checked);
    let now = now_ms();
    let requested_by = caller
        .user
        .as_ref()
        .and_then(|u| snapshot.get(u))
        .map(|i| snapshot.node(i).entity.display_name().to_owned())
        .unwrap_or_else(|| "a guest".to_owned());
    let id = new_run_id();
    let run = Run {
        idempotency_key: idempotency_key.map_or_else(|| format!("once:{id}"), str::to_owned),
        id,
        kind: RunKind::Template,
        template: Some(template.entity_ref.key()),
        target: Some(owner_key),
        subject: checked
            .get(name_field)
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        execution,
        inputs: checked,
        controls: RunControls {
            controls: controls.controls,
            labels: controls.labels,
        },
        requester: requester_of(caller),
        requested_by,
        channel_id: channel_id.map(str::to_owned),
        message_ts: None,
        status: RunStatus::Queued,
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
        lock_key: None,
    };
    runs.submit(run).await
}
