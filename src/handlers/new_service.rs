//! `new-service [template] [field=value …]`: run a golden-path template. The slash command, the
//! shell's prompts and the Slack form all come here: the typed command and the form's last step
//! record the run; each earlier step of the form is checked here too ([`step`]), so a refused
//! owner shows under its input. The permission is `template.run` on the owner the values name.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Context, Handled, Outcome};
use crate::actions::scaffold;
use crate::actions::{Run, SubmitError};
use crate::authz::{self, Action, Caller, Decision};
use crate::catalog::EntityRef;
use crate::templates::{self, FieldErrors, RawValue, Template, TemplateLookupError, Values};

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
    /// A step of the form is valid and its owner allowed: the values it adds, checked. The edge
    /// keeps them and shows the next step.
    StepAccepted {
        /// The template.
        template: Box<Template>,
        /// The step accepted (0-based).
        step: usize,
        /// Its values, validated.
        values: Values,
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

/// Answers `new-service` (typed, or the form's last step).
pub async fn handle(
    ctx: &Context<'_>,
    caller: &Caller,
    template: Option<&str>,
    values: &[(String, String)],
) -> Handled {
    finish(decide(ctx, caller, template, values).await)
}

/// A template picked in the form: its first step to show, or why it cannot be (not found,
/// not runnable here). The owner is decided when the step naming it is submitted.
pub fn choose(ctx: &Context<'_>, template: &str) -> Handled {
    let outcome = match templates::find(ctx.snapshot, ctx.templates, template) {
        Err(e) => NewService::Lookup(e),
        Ok(t) if t.not_runnable.is_some() => NewService::NotRunnable(Box::new(t)),
        Ok(t) => NewService::OpenForm {
            template: Some(Box::new(t)),
            prefill: BTreeMap::new(),
        },
    };
    finish(Ok(outcome))
}

/// Answers one submitted step of the form: its values checked, the owner it names authorized,
/// and on the last step the run recorded with every value collected.
pub async fn step(
    ctx: &Context<'_>,
    caller: &Caller,
    template: &str,
    step: usize,
    raw: &BTreeMap<String, RawValue>,
    collected: &Values,
) -> Handled {
    let template = match templates::find(ctx.snapshot, ctx.templates, template) {
        Ok(t) => t,
        Err(e) => return finish(Ok(NewService::Lookup(e))),
    };
    let step = step.min(template.steps.len().saturating_sub(1));
    let checked = match templates::validate_step(&template, step, raw, ctx.snapshot) {
        Ok(v) => v,
        Err(errors) => {
            return finish(Ok(NewService::Invalid {
                template: Box::new(template),
                errors,
            }));
        }
    };
    // The owner is decided on the step that names it, so a refusal shows under its input.
    if let Some(owner_field) = template.owner_field()
        && let Some(owner) = checked.get(&owner_field.name).and_then(Value::as_str)
    {
        let target = EntityRef::parse(owner, Some("group"), "default")
            .ok()
            .and_then(|r| ctx.snapshot.get(&r));
        let decision = authz::decide_on(
            ctx.policy,
            ctx.snapshot,
            caller,
            Action::TemplateRun,
            target,
            ctx.now,
        );
        if !decision.allowed() {
            let mut handled = finish(Ok(NewService::Denied {
                field: owner_field.name.clone(),
                template: Box::new(template),
                decision,
            }));
            handled.target = EntityRef::parse(owner, Some("group"), "default").ok();
            return handled;
        }
    }
    if step + 1 < template.steps.len() {
        return finish(Ok(NewService::StepAccepted {
            template: Box::new(template),
            step,
            values: checked,
        }));
    }
    let mut all = collected.clone();
    all.extend(checked);
    let values: Vec<(String, String)> = all
        .iter()
        .filter(|(k, _)| template.field(k).is_some_and(|f| f.fixed.is_none()))
        .map(|(k, v)| (k.clone(), value_text(v)))
        .collect();
    handle(ctx, caller, Some(&template.entity_ref.key()), &values).await
}

/// A validated value as the text of a `field=value` pair.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(","),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The handled command for a result: the decision and owner on record, a failure to record the
/// run shown as one.
fn finish(result: Result<NewService, SubmitError>) -> Handled {
    let mut handled = Handled::plain(Outcome::Help(None), Action::TemplateRun);
    match result {
        Ok(outcome) => {
            match &outcome {
                NewService::Denied { decision, .. } | NewService::Started { decision, .. } => {
                    handled.decision = Some(decision.clone());
                }
                _ => {}
            }
            if let NewService::Started { run, .. } = &outcome {
                handled.target = run
                    .target
                    .as_deref()
                    .and_then(|t| EntityRef::parse(t, Some("group"), "default").ok());
            }
            handled.outcome = Outcome::NewService(Box::new(outcome));
        }
        Err(e) => {
            tracing::error!(error = %e, "new-service could not record its run");
            handled.outcome = Outcome::Failed(format!("the run could not be recorded: {e}"));
        }
    }
    handled
}

/// Decides `new-service` for a caller: the form to open, the problems, the refusal, or the run
/// recorded.
///
/// # Errors
/// [`SubmitError`] when the run cannot be recorded.
async fn decide(
    ctx: &Context<'_>,
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
    let template = match templates::find(ctx.snapshot, ctx.templates, name) {
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
    let raw = scaffold::raw_values(&template, values);
    let checked = match templates::validate_all(&template, &raw, ctx.snapshot) {
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
        .and_then(|r| ctx.snapshot.get(&r));
    let decision = authz::decide_on(
        ctx.policy,
        ctx.snapshot,
        caller,
        Action::TemplateRun,
        owner,
        ctx.now,
    );
    if !decision.allowed() {
        return Ok(NewService::Denied {
            field: owner_field.name.clone(),
            template: Box::new(template),
            decision,
        });
    }
    let Some(runs) = ctx.runs else {
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
    let (run, created) = scaffold::start(
        scaffold::Start {
            snapshot: ctx.snapshot,
            defaults: ctx.templates,
            runs,
            template: &template,
            checked,
            owner_key,
            name_field: &name_field.name,
            execution,
            idempotency_key: ctx.idempotency_key,
            channel_id: ctx.channel_id,
        },
        caller,
    )
    .await?;
    Ok(NewService::Started {
        run: Box::new(run),
        created,
        decision,
    })
}
