//! Reading a Template's `spec.parameters` (JSON Schema with react-jsonschema-form `ui:` keys, as
//! Backstage's scaffolder takes them:
//! <https://backstage.io/docs/features/software-templates/writing-templates>) into steps and
//! fields. What the form model cannot express becomes a [`FieldProblem`] with the reason.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::{Map, Value};

use super::{
    Field, FieldKind, FieldProblem, MAX_FIELD_NAME, MAX_OPTION_VALUE, MAX_OPTIONS, MAX_TEXT, Step,
    picker,
};

/// JSON Schema keywords of a property that change what is valid in ways the form cannot check or
/// show; a property using one is unsupported.
const UNSUPPORTED_KEYWORDS: &[&str] = &[
    "$yaml",
    "$ref",
    "oneOf",
    "anyOf",
    "allOf",
    "not",
    "if",
    "dependencies",
    "format",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "properties",
];

/// Keys of a step that make fields appear or change with other answers.
const UNSUPPORTED_STEP_KEYS: &[&str] = &["$yaml", "$ref", "oneOf", "anyOf", "allOf", "if", "not"];

/// `ui:widget` values the form can honour (the others change the input beyond what it offers).
const WIDGETS: &[&str] = &[
    "text",
    "textarea",
    "select",
    "radio",
    "checkboxes",
    "checkbox",
    "updown",
    "range",
    "hidden",
];

/// The steps of `spec.parameters`, and the parameters that could not be read.
#[derive(Debug, Default)]
pub(super) struct Parameters {
    /// Steps with at least one field.
    pub steps: Vec<Step>,
    /// Every parameter (or step construct) the form cannot express.
    pub problems: Vec<FieldProblem>,
}

/// `^(?:pattern)$`: JSON Schema patterns match anywhere; idp asks for the whole value to match.
pub(super) fn anchored(pattern: &str) -> String {
    format!("^(?:{pattern})$")
}

fn text<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn truthy(obj: &Map<String, Value>, key: &str) -> bool {
    obj.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// A numeric keyword read with `read` (`as_u64` for lengths, `as_f64` for bounds); `what` says
/// what it must be when it is something else.
fn number<T>(
    obj: &Map<String, Value>,
    key: &str,
    read: fn(&Value) -> Option<T>,
    what: &str,
) -> Result<Option<T>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => read(v)
            .map(Some)
            .ok_or_else(|| format!("`{key}` must be {what}")),
    }
}

/// Reads every step. `policy_fixed` are the `[compliance] fixed` values, by parameter name.
pub(super) fn read(spec: Option<&Value>, policy_fixed: &BTreeMap<String, Value>) -> Parameters {
    let mut out = Parameters::default();
    let steps: Vec<&Value> = match spec.and_then(|s| s.get("parameters")) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(steps)) => steps.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        Some(_) => {
            out.problems.push(FieldProblem {
                field: "parameters".to_owned(),
                required: true,
                reason: "`spec.parameters` must be a step or a list of steps".to_owned(),
            });
            return out;
        }
    };
    for (i, step) in steps.into_iter().enumerate() {
        let number = i + 1;
        let Some(obj) = step.as_object() else {
            out.problems.push(FieldProblem {
                field: format!("step {number}"),
                required: true,
                reason: "the step is not a mapping".to_owned(),
            });
            continue;
        };
        if let Some(step) = read_step(obj, number, policy_fixed, &mut out.problems) {
            out.steps.push(step);
        }
    }
    out
}

fn read_step(
    obj: &Map<String, Value>,
    number: usize,
    policy_fixed: &BTreeMap<String, Value>,
    problems: &mut Vec<FieldProblem>,
) -> Option<Step> {
    for key in UNSUPPORTED_STEP_KEYS {
        if obj.contains_key(*key) {
            problems.push(FieldProblem {
                field: format!("step {number}"),
                required: true,
                reason: format!("`{key}` in a step cannot be expressed in a Slack form"),
            });
        }
    }
    if let Some(Value::Object(deps)) = obj.get("dependencies") {
        for key in deps.keys() {
            problems.push(FieldProblem {
                field: key.clone(),
                required: true,
                reason: format!(
                    "`dependencies`: fields that appear depending on `{key}` cannot be expressed in a Slack form"
                ),
            });
        }
    }
    let required: Vec<&str> = obj
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let empty = Map::new();
    let properties = obj
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut fields = Vec::new();
    for name in ordered(properties, obj.get("ui:order")) {
        let is_required = required.contains(&name);
        match read_field(name, &properties[name], is_required, policy_fixed.get(name)) {
            Ok(field) => fields.push(field),
            Err(reason) => problems.push(FieldProblem {
                field: name.to_owned(),
                required: is_required,
                reason,
            }),
        }
    }
    for name in required {
        if !properties.contains_key(name) {
            problems.push(FieldProblem {
                field: name.to_owned(),
                required: true,
                reason: "listed in `required` but not defined in `properties`".to_owned(),
            });
        }
    }
    if fields.is_empty() {
        return None;
    }
    Some(Step {
        title: text(obj, "title").map_or_else(|| format!("Step {number}"), str::to_owned),
        description: text(obj, "description").map(str::to_owned),
        fields,
    })
}

/// Property names in `ui:order` order: the names it lists, with `*` standing for the others (in
/// key order); names it leaves out without a `*` come last.
fn ordered<'a>(properties: &'a Map<String, Value>, order: Option<&'a Value>) -> Vec<&'a str> {
    let listed: Vec<&str> = order
        .and_then(Value::as_array)
        .map(|o| o.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let rest: Vec<&str> = properties
        .keys()
        .map(String::as_str)
        .filter(|k| !listed.contains(k))
        .collect();
    let mut out = Vec::with_capacity(properties.len());
    let mut rest_placed = false;
    for name in listed {
        if name == "*" {
            out.extend(&rest);
            rest_placed = true;
        } else if let Some((k, _)) = properties.get_key_value(name) {
            out.push(k.as_str());
        }
    }
    if !rest_placed {
        out.extend(rest);
    }
    out
}

/// One property as a field, or why it cannot be one.
fn read_field(
    name: &str,
    schema: &Value,
    required: bool,
    policy: Option<&Value>,
) -> Result<Field, String> {
    let obj = schema
        .as_object()
        .ok_or_else(|| "its schema is not a mapping".to_owned())?;
    if name.chars().count() > MAX_FIELD_NAME {
        return Err(format!(
            "the parameter name is longer than {MAX_FIELD_NAME} characters"
        ));
    }
    let default = obj.get("default").filter(|d| !d.is_null()).cloned();
    let read_only = truthy(obj, "ui:readonly")
        || truthy(obj, "ui:disabled")
        || text(obj, "ui:widget") == Some("hidden");
    let fixed = match (policy, obj.get("const")) {
        (Some(v), _) => Some(v.clone()),
        (None, Some(c)) if !c.is_null() => Some(c.clone()),
        _ if read_only => Some(default.clone().ok_or_else(|| {
            "it is read-only (`ui:readonly`, `ui:disabled` or a hidden widget) but has no `default` to show".to_owned()
        })?),
        _ => None,
    };
    let kind = match kind(obj) {
        Ok(kind) => kind,
        // A value nobody types needs no input: a fixed field of any shape is shown as text.
        Err(_) if fixed.is_some() => FieldKind::Text {
            multiline: false,
            pattern: None,
            min_length: None,
            max_length: None,
        },
        Err(reason) => return Err(reason),
    };
    Ok(Field {
        name: name.to_owned(),
        title: text(obj, "title").unwrap_or(name).to_owned(),
        description: text(obj, "description")
            .or_else(|| text(obj, "ui:help"))
            .map(str::to_owned),
        required,
        kind,
        default,
        fixed,
        fixed_by_policy: policy.is_some(),
        placeholder: text(obj, "ui:placeholder").map(str::to_owned),
    })
}

/// The input a property becomes.
fn kind(obj: &Map<String, Value>) -> Result<FieldKind, String> {
    if let Some(key) = UNSUPPORTED_KEYWORDS.iter().find(|k| obj.contains_key(**k)) {
        return Err(match *key {
            "properties" => "nested objects are not supported".to_owned(),
            "dependencies" => "`dependencies` (conditional fields) is not supported".to_owned(),
            other => format!("`{other}` is not supported"),
        });
    }
    let ty = match obj.get("type") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(t.as_str()),
        Some(_) => {
            return Err("`type` must name one type (lists of types are not supported)".into());
        }
    };
    if let Some(field) = text(obj, "ui:field") {
        if ty.is_some_and(|t| t != "string") {
            return Err(format!(
                "ui:field {field} on a `{}` parameter is not supported",
                ty.unwrap_or("")
            ));
        }
        return match field {
            "OwnerPicker" => picker::read_options(obj.get("ui:options"), true),
            "EntityPicker" => picker::read_options(obj.get("ui:options"), false),
            other => Err(format!("ui:field {other} is not supported")),
        };
    }
    let widget = text(obj, "ui:widget");
    match widget {
        Some("password") => {
            return Err(
                "ui:widget password is not supported: a secret does not belong in a chat form"
                    .to_owned(),
            );
        }
        Some(w) if !WIDGETS.contains(&w) => return Err(format!("ui:widget {w} is not supported")),
        _ => {}
    }
    if ty != Some("array")
        && let Some(values) = obj.get("enum")
    {
        return Ok(FieldKind::Choice {
            options: options(values, obj.get("enumNames"))?,
            radio: widget == Some("radio"),
        });
    }
    match ty {
        Some("string") => {
            let pattern = text(obj, "pattern").map(str::to_owned);
            if let Some(p) = &pattern
                && let Err(e) = Regex::new(&anchored(p))
            {
                let why = e.to_string();
                let why = why.lines().last().unwrap_or("").trim();
                return Err(format!(
                    "`pattern` `{p}` is not a regular expression idp can check ({why})"
                ));
            }
            let min_length = number(obj, "minLength", Value::as_u64, "a whole number")?;
            let max_length = number(obj, "maxLength", Value::as_u64, "a whole number")?;
            if min_length.is_some_and(|m| m > MAX_TEXT as u64) {
                return Err(format!(
                    "`minLength` is more than the {MAX_TEXT} characters a Slack input takes"
                ));
            }
            if let (Some(lo), Some(hi)) = (min_length, max_length)
                && lo > hi
            {
                return Err("`minLength` is greater than `maxLength`".to_owned());
            }
            Ok(FieldKind::Text {
                multiline: widget == Some("textarea"),
                pattern,
                min_length,
                max_length,
            })
        }
        Some(t @ ("number" | "integer")) => {
            let minimum = number(obj, "minimum", Value::as_f64, "a number")?;
            let maximum = number(obj, "maximum", Value::as_f64, "a number")?;
            if let (Some(lo), Some(hi)) = (minimum, maximum)
                && lo > hi
            {
                return Err("`minimum` is greater than `maximum`".to_owned());
            }
            Ok(FieldKind::Number {
                integer: t == "integer",
                minimum,
                maximum,
            })
        }
        Some("boolean") => Ok(FieldKind::Boolean),
        Some("array") => {
            let items = obj.get("items").and_then(Value::as_object);
            match items.and_then(|i| i.get("enum").map(|e| (e, i))) {
                Some((values, items)) => Ok(FieldKind::MultiChoice {
                    options: options(values, items.get("enumNames"))?,
                }),
                None if items.is_some_and(|i| i.contains_key("ui:field")) => {
                    Err("lists of picked entities are not supported".to_owned())
                }
                None => Err(
                    "lists other than a choice among fixed values (`items.enum`) are not supported"
                        .to_owned(),
                ),
            }
        }
        Some("object") => Err("nested objects are not supported".to_owned()),
        Some(other) => Err(format!("type `{other}` is not supported")),
        None => Err("it has no `type`".to_owned()),
    }
}

/// `enum` values with their `enumNames` labels, as (value, label) pairs.
fn options(values: &Value, names: Option<&Value>) -> Result<Vec<(String, String)>, String> {
    let values = values
        .as_array()
        .ok_or_else(|| "`enum` must be a list".to_owned())?;
    let names: Vec<Option<&str>> = names
        .and_then(Value::as_array)
        .filter(|n| n.len() == values.len())
        .map(|n| n.iter().map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out: Vec<(String, String)> = Vec::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        let Some(value) = v.as_str() else {
            return Err("`enum` values other than strings are not supported".to_owned());
        };
        if value.is_empty() || value.chars().count() > MAX_OPTION_VALUE {
            return Err(format!(
                "an `enum` value is empty or longer than {MAX_OPTION_VALUE} characters"
            ));
        }
        if out.iter().any(|(v, _)| v == value) {
            continue;
        }
        let label = names
            .get(i)
            .copied()
            .flatten()
            .filter(|l| !l.trim().is_empty())
            .unwrap_or(value);
        out.push((value.to_owned(), label.to_owned()));
    }
    if out.is_empty() {
        return Err("`enum` is empty".to_owned());
    }
    if out.len() > MAX_OPTIONS {
        return Err(format!(
            "`enum` has {} values; a Slack select holds at most {MAX_OPTIONS}",
            out.len()
        ));
    }
    Ok(out)
}
