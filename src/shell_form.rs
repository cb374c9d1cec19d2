//! `new-service` in the terminal: the shell's form. It asks for each field of the template in
//! turn (with the same hints, defaults and choices as the Slack modal), validates each step with
//! the same rules, then runs the same `new-service` command the modal would, and follows the run
//! until it ends. [`ShellNotifier`] prints the run's steps as they happen.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::Value;
use tokio::io::{AsyncBufRead, Lines};

use crate::actions::{NotifyError, Run, RunNotifier, RunStatus};
use crate::templates::{self, FieldKind, RawValue, Template};

/// Prints a run's new steps to standard output.
#[derive(Debug, Default)]
pub struct ShellNotifier {
    shown: Mutex<HashMap<String, usize>>,
}

#[async_trait]
impl RunNotifier for ShellNotifier {
    async fn show(&self, run: &Run) -> Result<Option<(String, String)>, NotifyError> {
        let from = {
            let mut shown = self.shown.lock().map_err(|_| {
                NotifyError::Refused("the shell's step list is unusable".to_owned())
            })?;
            let seen = shown.entry(run.id.clone()).or_default();
            let from = *seen;
            *seen = run.steps.len();
            from
        };
        let mut out = std::io::stdout().lock();
        for step in run.steps.iter().skip(from) {
            let link = step
                .url
                .as_deref()
                .map(|u| format!(" <{u}>"))
                .unwrap_or_default();
            let _ = writeln!(out, "  [{}] {}{link}", run.id, step.name);
        }
        Ok(None)
    }

    async fn thread_reply(&self, _run: &Run, _text: &str) -> Result<(), String> {
        Ok(())
    }
}

/// Standard input as lines, shared by the shell loop and the form.
pub type Input<R> = Lines<R>;

async fn ask<R: AsyncBufRead + Unpin>(
    input: &mut Input<R>,
    prompt: &str,
) -> std::io::Result<Option<String>> {
    print!("{prompt}");
    std::io::stdout().flush()?;
    Ok(input.next_line().await?.map(|l| l.trim().to_owned()))
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

fn describe(field: &crate::templates::Field) -> String {
    let mut line = field.title.clone();
    if field.optional() {
        line.push_str(" (optional)");
    }
    match &field.kind {
        FieldKind::Choice { options, .. } | FieldKind::MultiChoice { options } => {
            let values: Vec<String> = options
                .iter()
                .map(|(v, l)| {
                    if v == l {
                        v.clone()
                    } else {
                        format!("{v} = {l}")
                    }
                })
                .collect();
            line.push_str(&format!(" [{}]", values.join(", ")));
            if matches!(field.kind, FieldKind::MultiChoice { .. }) {
                line.push_str(" (comma-separated)");
            }
        }
        FieldKind::Boolean => line.push_str(" [yes/no]"),
        FieldKind::EntityPicker { kinds, .. } if !kinds.is_empty() => {
            line.push_str(&format!(" (a {} name)", kinds.join(" or ")));
        }
        _ => {}
    }
    if let Some(d) = field.default.as_ref() {
        line.push_str(&format!(" <default: {}>", value_text(d)));
    }
    line
}

/// Asks for every field `values` lacks, step by step, re-asking the fields a step's validation
/// refuses. Returns `None` when input ends (or the user types `cancel`).
///
/// # Errors
/// I/O errors on the terminal.
pub async fn fill<R: AsyncBufRead + Unpin>(
    template: &Template,
    values: &[(String, String)],
    snapshot: &crate::catalog::Snapshot,
    input: &mut Input<R>,
) -> std::io::Result<Option<Vec<(String, String)>>> {
    let mut given: BTreeMap<String, String> = values.iter().cloned().collect();
    println!(
        "{}: {} step(s). Type `cancel` to stop.",
        template.title,
        template.steps.len()
    );
    for (index, step) in template.steps.iter().enumerate() {
        if template.steps.len() > 1 {
            println!("— {} —", step.title);
        }
        let mut ask_for: Vec<&str> = step
            .fields
            .iter()
            .filter(|f| f.fixed.is_none() && !given.contains_key(&f.name))
            .map(|f| f.name.as_str())
            .collect();
        for f in step.fields.iter().filter(|f| f.fixed.is_some()) {
            let fixed = f.fixed.as_ref().map(value_text).unwrap_or_default();
            println!(
                "  {}: {fixed} (set by {})",
                f.title,
                if f.fixed_by_policy {
                    "policy"
                } else {
                    "the template"
                }
            );
        }
        loop {
            for name in &ask_for {
                let Some(field) = step.fields.iter().find(|f| f.name == *name) else {
                    continue;
                };
                if let Some(hint) = &field.description {
                    println!("  {hint}");
                }
                let Some(answer) = ask(input, &format!("{}: ", describe(field))).await? else {
                    return Ok(None);
                };
                if answer == "cancel" {
                    return Ok(None);
                }
                if answer.is_empty() {
                    given.remove(*name);
                } else {
                    given.insert((*name).to_owned(), answer);
                }
            }
            let raw: BTreeMap<String, RawValue> = given
                .iter()
                .filter(|(k, _)| step.fields.iter().any(|f| &f.name == *k))
                .map(|(k, v)| {
                    let many = step
                        .fields
                        .iter()
                        .any(|f| &f.name == k && matches!(f.kind, FieldKind::MultiChoice { .. }));
                    let raw = if many {
                        RawValue::Many(
                            v.split(',')
                                .map(|s| s.trim().to_owned())
                                .filter(|s| !s.is_empty())
                                .collect(),
                        )
                    } else {
                        RawValue::Text(v.clone())
                    };
                    (k.clone(), raw)
                })
                .collect();
            match templates::validate_step(template, index, &raw, snapshot) {
                Ok(_) => break,
                Err(errors) => {
                    for (field, message) in &errors {
                        println!("  ✗ {field}: {message}");
                    }
                    ask_for = step
                        .fields
                        .iter()
                        .filter(|f| errors.contains_key(&f.name))
                        .map(|f| f.name.as_str())
                        .collect();
                    if ask_for.is_empty() {
                        return Ok(None);
                    }
                }
            }
        }
    }
    Ok(Some(given.into_iter().collect()))
}

/// Picks a template by asking, listing the runnable ones.
///
/// # Errors
/// I/O errors on the terminal.
pub async fn pick<R: AsyncBufRead + Unpin>(
    list: &[Template],
    input: &mut Input<R>,
) -> std::io::Result<Option<String>> {
    let runnable: Vec<&Template> = list.iter().filter(|t| t.not_runnable.is_none()).collect();
    if runnable.is_empty() {
        println!("No template can be run: see `templates`.");
        return Ok(None);
    }
    for (i, t) in runnable.iter().enumerate() {
        println!(
            "  {}. {} ({}){}",
            i + 1,
            t.title,
            t.entity_ref.name,
            t.description
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        );
    }
    let Some(answer) = ask(input, "Template (number or name): ").await? else {
        return Ok(None);
    };
    let chosen = answer
        .parse::<usize>()
        .ok()
        .and_then(|n| runnable.get(n.wrapping_sub(1)))
        .map(|t| t.entity_ref.key())
        .unwrap_or(answer);
    Ok((!chosen.is_empty() && chosen != "cancel").then_some(chosen))
}

/// Waits until a run ends, printing nothing itself (the notifier prints); returns its last state.
pub async fn follow(runs: &crate::actions::RunService, id: &str) -> Option<Run> {
    loop {
        match runs.get(id).await {
            Ok(Some(run)) if run.status.is_finished() && run.notified_version >= run.version => {
                return Some(run);
            }
            Ok(Some(_)) => {}
            _ => return None,
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The closing line for a finished run.
pub fn summary(run: &Run) -> String {
    match run.status {
        RunStatus::Succeeded => format!(
            "{} created. Try `owner {}`.",
            run.subject.as_deref().unwrap_or("The service"),
            run.subject.as_deref().unwrap_or("…")
        ),
        RunStatus::Failed => format!(
            "The run failed: {}",
            run.error.as_deref().unwrap_or("no reason given")
        ),
        RunStatus::Cancelled => "The run was cancelled.".to_owned(),
        other => format!("The run is {}.", other.as_str()),
    }
}
