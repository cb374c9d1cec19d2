//! The rules a submission must pass, the same for the Slack modal and the shell: required
//! fields, types, number bounds, patterns (the whole value must match), lengths in characters,
//! choices, entities that exist and fit the picker, values fixed by the template or by policy,
//! and a name no Component has yet. Each problem is one short message for the field.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::{Number, Value};

use super::{
    Field, FieldErrors, FieldKind, RawValue, Template, Values, format_number, picker, schema,
};
use crate::catalog::{Lookup, NameQuery, Snapshot};

/// Validates the fields of one step (0-based) and returns their values: what was given, the
/// default for what was not, and fixed values filled in. Keys of `raw` that are not fields of
/// the step are ignored.
///
/// # Errors
/// One message per failing field, keyed by parameter name; a step that does not exist is
/// reported under the key `step`.
pub fn validate_step(
    t: &Template,
    step: usize,
    raw: &BTreeMap<String, RawValue>,
    snapshot: &Snapshot,
) -> Result<Values, FieldErrors> {
    match t.steps.get(step) {
        Some(s) => check(t, s.fields.iter(), raw, snapshot),
        None => Err(FieldErrors::from([(
            "step".to_owned(),
            format!("The template has no step {}.", step + 1),
        )])),
    }
}

/// Validates every field of every step at once (the shell, or a final check before a run).
///
/// # Errors
/// One message per failing field, keyed by parameter name.
pub fn validate_all(
    t: &Template,
    raw: &BTreeMap<String, RawValue>,
    snapshot: &Snapshot,
) -> Result<Values, FieldErrors> {
    check(t, t.fields(), raw, snapshot)
}

fn check<'a>(
    t: &Template,
    fields: impl Iterator<Item = &'a Field>,
    raw: &BTreeMap<String, RawValue>,
    snapshot: &Snapshot,
) -> Result<Values, FieldErrors> {
    let mut values = Values::new();
    let mut errors = FieldErrors::new();
    for field in fields {
        match value(t, field, raw.get(&field.name), snapshot) {
            Ok(Some(v)) => {
                values.insert(field.name.clone(), v);
            }
            Ok(None) => {}
            Err(message) => {
                errors.insert(field.name.clone(), message);
            }
        }
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
}

/// The raw form of a stored value: how a default or an earlier answer would have been entered.
/// Booleans become a ticked (`["true"]`) or unticked (`[]`) box; numbers their decimal text.
pub fn raw_from_value(kind: &FieldKind, value: &Value) -> Option<RawValue> {
    match (kind, value) {
        (FieldKind::Boolean, Value::Bool(b)) => Some(RawValue::Many(if *b {
            vec!["true".to_owned()]
        } else {
            Vec::new()
        })),
        (_, Value::String(s)) => Some(RawValue::Text(s.clone())),
        (_, Value::Number(n)) => Some(RawValue::Text(n.to_string())),
        (_, Value::Bool(b)) => Some(RawValue::Text(b.to_string())),
        (_, Value::Array(items)) => Some(RawValue::Many(
            items
                .iter()
                .filter_map(|i| match i {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect(),
        )),
        _ => None,
    }
}

/// Whether nothing was entered (an empty text, no selection); an unticked box is an answer.
fn is_blank(kind: &FieldKind, raw: &RawValue) -> bool {
    match raw {
        RawValue::Text(s) => s.trim().is_empty() && !matches!(kind, FieldKind::Boolean),
        RawValue::Many(v) => v.is_empty() && !matches!(kind, FieldKind::Boolean),
    }
}

/// Whether an answer says the same as a fixed value.
fn same(raw: &RawValue, fixed: &Value) -> bool {
    match (raw, fixed) {
        (RawValue::Text(s), Value::String(f)) => s.trim() == f,
        (RawValue::Text(s), other) => {
            // A number or boolean as it would be typed (`3`, `true`).
            let typed = other.to_string();
            s.trim() == typed
        }
        (RawValue::Many(v), Value::Array(items)) => {
            v.len() == items.len()
                && v.iter()
                    .zip(items)
                    .all(|(a, b)| b.as_str().is_some_and(|b| b == a))
        }
        (RawValue::Many(v), Value::Bool(b)) => v.iter().any(|x| x == "true") == *b,
        (RawValue::Many(_), _) => false,
    }
}

fn value(
    t: &Template,
    field: &Field,
    raw: Option<&RawValue>,
    snapshot: &Snapshot,
) -> Result<Option<Value>, String> {
    let raw = raw.filter(|r| !is_blank(&field.kind, r));
    if let Some(fixed) = &field.fixed {
        return match raw {
            Some(r) if !same(r, fixed) => Err(if field.fixed_by_policy {
                "Set by policy; it cannot be changed.".to_owned()
            } else {
                "Set by the template; it cannot be changed.".to_owned()
            }),
            _ => Ok(Some(fixed.clone())),
        };
    }
    let raw = match (raw, &field.default, &field.kind) {
        (Some(r), _, _) => r.clone(),
        (None, Some(d), kind) => match raw_from_value(kind, d) {
            Some(r) => r,
            None => return Ok(Some(d.clone())),
        },
        (None, None, FieldKind::Boolean) => return Ok(Some(Value::Bool(false))),
        (None, None, _) if field.required => return Err(required(&field.kind).to_owned()),
        (None, None, _) => return Ok(None),
    };
    let v = convert(&field.kind, &raw, snapshot)?;
    if t.name_field.as_deref() == Some(field.name.as_str())
        && let Value::String(name) = &v
    {
        taken(name, snapshot)?;
    }
    Ok(Some(v))
}

fn required(kind: &FieldKind) -> &'static str {
    match kind {
        FieldKind::Choice { .. } | FieldKind::EntityPicker { .. } => "Choose one.",
        FieldKind::MultiChoice { .. } => "Choose at least one.",
        _ => "This is required.",
    }
}

/// `Err("`x` already exists, owned by team")` when a Component has this name.
fn taken(name: &str, snapshot: &Snapshot) -> Result<(), String> {
    let query = NameQuery {
        kind: None,
        namespace: None,
        name: name.to_owned(),
    };
    let existing = match snapshot.lookup(&query, &["component"]) {
        Lookup::Found(i) => i,
        Lookup::Ambiguous(found) => found[0],
        Lookup::NotFound(_) => return Ok(()),
    };
    Err(match snapshot.owner_name(existing) {
        Some(owner) => format!("`{name}` already exists, owned by {owner}."),
        None => format!("`{name}` already exists."),
    })
}

/// One answer, read as the field's kind.
fn one(raw: &RawValue) -> Result<&str, String> {
    match raw {
        RawValue::Text(s) => Ok(s.as_str()),
        RawValue::Many(v) if v.len() == 1 => Ok(v[0].as_str()),
        RawValue::Many(_) => Err("Give one value.".to_owned()),
    }
}

fn labels(options: &[(String, String)]) -> String {
    const SHOWN: usize = 8;
    let mut text = options
        .iter()
        .take(SHOWN)
        .map(|(_, l)| l.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if options.len() > SHOWN {
        text.push_str(&format!(" and {} more", options.len() - SHOWN));
    }
    text
}

/// The option an answer names: its value, or (for typed answers) its value or label in any case.
fn option<'a>(options: &'a [(String, String)], answer: &str) -> Result<&'a str, String> {
    let answer = answer.trim();
    options
        .iter()
        .find(|(v, _)| v == answer)
        .or_else(|| {
            options
                .iter()
                .find(|(v, l)| v.eq_ignore_ascii_case(answer) || l.eq_ignore_ascii_case(answer))
        })
        .map(|(v, _)| v.as_str())
        .ok_or_else(|| format!("`{answer}` is not one of: {}.", labels(options)))
}

fn convert(kind: &FieldKind, raw: &RawValue, snapshot: &Snapshot) -> Result<Value, String> {
    match kind {
        FieldKind::Text {
            multiline,
            pattern,
            min_length,
            max_length,
        } => {
            let text = one(raw)?;
            let text = if *multiline { text } else { text.trim() };
            let len = text.chars().count() as u64;
            if let Some(min) = min_length
                && len < *min
            {
                return Err(format!("Use at least {min} characters (this has {len})."));
            }
            if let Some(max) = max_length
                && len > *max
            {
                return Err(format!("Use at most {max} characters (this has {len})."));
            }
            if let Some(p) = pattern {
                let re = Regex::new(&schema::anchored(p))
                    .map_err(|_| "The template's pattern cannot be checked.".to_owned())?;
                if !re.is_match(text) {
                    return Err(format!("Must match the pattern `{p}`."));
                }
            }
            Ok(Value::String(text.to_owned()))
        }
        FieldKind::Number {
            integer,
            minimum,
            maximum,
        } => {
            let text = one(raw)?.trim();
            let n: f64 = text
                .parse()
                .ok()
                .filter(|n: &f64| n.is_finite())
                .ok_or_else(|| format!("`{text}` is not a number."))?;
            if *integer && n.fract() != 0.0 {
                return Err("Use a whole number.".to_owned());
            }
            if let Some(min) = minimum
                && n < *min
            {
                return Err(format!("Must be at least {}.", format_number(*min)));
            }
            if let Some(max) = maximum
                && n > *max
            {
                return Err(format!("Must be at most {}.", format_number(*max)));
            }
            if *integer && n.abs() < 9.0e15 {
                Ok(Value::from(n as i64))
            } else {
                Number::from_f64(n)
                    .map(Value::Number)
                    .ok_or_else(|| format!("`{text}` is not a number."))
            }
        }
        FieldKind::Boolean => match raw {
            RawValue::Many(v) => Ok(Value::Bool(v.iter().any(|x| x == "true"))),
            RawValue::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "y" | "on" | "1" => Ok(Value::Bool(true)),
                "false" | "no" | "n" | "off" | "0" | "" => Ok(Value::Bool(false)),
                _ => Err("Answer yes or no.".to_owned()),
            },
        },
        FieldKind::Choice { options, .. } => {
            Ok(Value::String(option(options, one(raw)?)?.to_owned()))
        }
        FieldKind::MultiChoice { options } => {
            let answers: Vec<&str> = match raw {
                RawValue::Many(v) => v.iter().map(String::as_str).collect(),
                RawValue::Text(s) => s
                    .split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .collect(),
            };
            let mut chosen: Vec<Value> = Vec::with_capacity(answers.len());
            for a in answers {
                let v = Value::String(option(options, a)?.to_owned());
                if !chosen.contains(&v) {
                    chosen.push(v);
                }
            }
            Ok(Value::Array(chosen))
        }
        FieldKind::EntityPicker { .. } => {
            let index = picker::resolve(kind, snapshot, one(raw)?)?;
            Ok(Value::String(snapshot.node(index).entity.entity_ref.key()))
        }
    }
}
