//! `new-service`: from a template and typed or submitted values to a recorded run. The slash
//! command, the modal's submission and the shell's prompts all end here with the same
//! [`Command::NewService`](crate::command::Command::NewService), so they apply the same rules.

use std::collections::BTreeMap;

use super::run::{Run, RunControls, RunKind, RunStatus, new_run_id, now_ms};
use super::service::{RunService, SubmitError, requester_of};
use crate::authz::{self, Action, Caller, Decision};
use crate::catalog::{EntityRef, Snapshot};
use crate::templates::{
    self, FieldErrors, FieldKind, RawValue, Template, TemplateDefaults, TemplateLookupError,
};

/// What `new-service` comes to.
#[derive(Debug, Clone, PartialEq)]
pub enum NewService {
    /// Not every required value is there: show the form (Slack: a modal; shell: prompts), starting
    /// with a template list when none was named.
    OpenForm {
        /// The template, when named.
        template: Option<Box<Template>>,
        /// Values given so far, as typed.
        prefill: BTreeMap<String, String>,
    },
    /// The named template does not exist, or the name fits several.
    Lookup(TemplateLookupError),
    /// The template cannot be run from Slack (a required field the form cannot express…).
    NotRunnable(Box<Template>),
    /// Some values are wrong; one message per field.
    Invalid {
        /// The template.
        template: Box<Template>,
        /// By field name.
        errors: FieldErrors,
    },
    /// The policy refused the owner: the field to show it on, and the decision.
    Denied {
        /// The template.
        template: Box<Template>,
        /// The owner field's name.
        field: String,
        /// The decision, with its reason.
        decision: Decision,
    },
    /// The run is recorded (`created` is false when the same request came before).
    Started {
        /// The run.
        run: Box<Run>,
        /// Whether this request created it.
        created: bool,
        /// The decision that allowed it.
        decision: Decision,
    },
}

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

/// What the request needs besides the command.
pub struct Request<'a> {
    /// The catalog snapshot.
    pub snapshot: &'a Snapshot,
    /// The policy.
    pub policy: &'a authz::Policy,
    /// Template defaults (execution, compliance).
    pub defaults: &'a TemplateDefaults,
    /// The run queue; `None` where runs cannot be recorded.
    pub runs: Option<&'a RunService>,
    /// The Slack request's identity (view id, trigger id) or the shell's, so the same request
    /// twice records one run.
    pub idempotency_key: Option<&'a str>,
    /// Where the status message goes (the channel the command came from).
    pub channel_id: Option<&'a str>,
    /// When.
    pub now: chrono::DateTime<chrono::Utc>,
}

/// Runs `new-service` for a caller.
///
/// # Errors
/// [`SubmitError`] when the run cannot be recorded.
pub async fn new_service(
    req: &Request<'_>,
    caller: &Caller,
    template: Option<&str>,
    values: &[(String, String)],
) -> Result<NewService, SubmitError> {
    let Some(name) = template else {
        return Ok(NewService::OpenForm {
            template: None,
            prefill: values.iter().cloned().collect(),
        });
    };
    let template = match templates::find(req.snapshot, req.defaults, name) {
        Ok(t) => t,
        Err(e) => return Ok(NewService::Lookup(e)),
    };
    if template.not_runnable.is_some() {
        return Ok(NewService::NotRunnable(Box::new(template)));
    }
    let unknown: FieldErrors = values
        .iter()
        .filter(|(k, _)| template.field(k).is_none())
        .map(|(k, _)| {
            let known: Vec<&str> = template.fields().map(|f| f.name.as_str()).collect();
            (
                k.clone(),
                format!(
                    "this template has no field `{k}` (its fields: {})",
                    known.join(", ")
                ),
            )
        })
        .collect();
    if !unknown.is_empty() {
        return Ok(NewService::Invalid {
            template: Box::new(template),
            errors: unknown,
        });
    }
    let missing_required = template.fields().any(|f| {
        f.required
            && f.fixed.is_none()
            && f.default.is_none()
            && !values.iter().any(|(k, _)| *k == f.name)
    });
    if missing_required {
        return Ok(NewService::OpenForm {
            template: Some(Box::new(template)),
            prefill: values.iter().cloned().collect(),
        });
    }
    let raw = raw_values(&template, values);
    let checked = match templates::validate_all(&template, &raw, req.snapshot) {
        Ok(v) => v,
        Err(errors) => {
            return Ok(NewService::Invalid {
                template: Box::new(template),
                errors,
            });
        }
    };
    let (Some(name_field), Some(owner_field)) = (template.name_field(), template.owner_field())
    else {
        return Ok(NewService::NotRunnable(Box::new(template)));
    };
    let owner_key = checked
        .get(&owner_field.name)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    let owner = EntityRef::parse(&owner_key, Some("group"), "default")
        .ok()
        .and_then(|r| req.snapshot.get(&r));
    let decision = authz::decide_on(
        req.policy,
        req.snapshot,
        caller,
        Action::TemplateRun,
        owner,
        req.now,
    );
    if !decision.allowed() {
        return Ok(NewService::Denied {
            field: owner_field.name.clone(),
            template: Box::new(template),
            decision,
        });
    }
    let Some(runs) = req.runs else {
        return Err(SubmitError::NotConfigured(
            "runs are not set up in this process".to_owned(),
        ));
    };
    let Some(execution) = template.execution.clone() else {
        return Ok(NewService::NotRunnable(Box::new(template)));
    };
    if let Err(why) = runs.check_backend(&execution) {
        let mut template = template;
        template.not_runnable = Some(why);
        return Ok(NewService::NotRunnable(Box::new(template)));
    }
    let controls = req.defaults.compliance.evaluate(&checked);
    let now = now_ms();
    let requested_by = caller
        .user
        .as_ref()
        .and_then(|u| req.snapshot.get(u))
        .map(|i| req.snapshot.node(i).entity.display_name().to_owned())
        .unwrap_or_else(|| "a guest".to_owned());
    let id = new_run_id();
    let run = Run {
        idempotency_key: req
            .idempotency_key
            .map_or_else(|| format!("once:{id}"), str::to_owned),
        id,
        kind: RunKind::Template,
        template: Some(template.entity_ref.key()),
        target: Some(owner_key),
        subject: checked
            .get(&name_field.name)
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
        channel_id: req.channel_id.map(str::to_owned),
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
    let (run, created) = runs.submit(run).await?;
    Ok(NewService::Started {
        run: Box::new(run),
        created,
        decision,
    })
}
