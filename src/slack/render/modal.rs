//! The `/idp new-service` modal (<https://docs.slack.dev/surfaces/modals>): a template select,
//! then one view per step of the chosen template, built from [`crate::templates`]' form model;
//! reading a `view_submission`'s state back into raw answers; and the options an external select
//! asks for (`block_suggestion`).
//!
//! Block Kit's limits (<https://docs.slack.dev/reference/views/modal-views>,
//! <https://docs.slack.dev/reference/block-kit/blocks/input-block>) hold by construction: at most
//! [`MAX_BLOCKS`] blocks; title, submit and close at most [`MAX_TITLE`] characters; labels and
//! hints [`MAX_LABEL`]; placeholders [`MAX_PLACEHOLDER`]; option text [`MAX_OPTION_TEXT`] and
//! values [`MAX_OPTION_VALUE`]; at most [`MAX_OPTIONS`] options in a select
//! and [`MAX_RADIO`] radio buttons (more become a select). What cannot be cut to fit (a field too
//! long to be a `block_id`, an `enum` of 101 values) was already reported by
//! [`crate::templates`] as unsupported, so Slack never answers `invalid_arguments`. The caller
//! keeps `private_metadata` under [`MAX_PRIVATE_METADATA`] characters (larger state belongs in
//! the store, keyed by view id).
//!
//! Every element of an input block has the action id [`VALUE_ACTION`] and the block id of its
//! parameter name, so `response_action: errors` can be keyed by parameter name as it is.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use slack_morphism::prelude::*;

use super::base::{escape_within, join_lines, truncate};
use crate::catalog::{EntityRef, Snapshot};
use crate::templates::{
    Field, FieldKind, MAX_OPTION_VALUE, MAX_OPTIONS, MAX_TEXT, RawValue, Template, Values,
    format_number, picker, raw_from_value,
};

/// The `callback_id` of every view of the modal.
pub const CALLBACK_ID: &str = "idp_new_service";
/// The `block_id` of the template select.
pub const PICKER_BLOCK: &str = "template";
/// The `action_id` of the template select; it dispatches `block_actions` when a template is
/// chosen, so the view can be updated to that template's first step.
pub const TEMPLATE_SELECT: &str = "template_select";
/// The `action_id` of every parameter's input element.
pub const VALUE_ACTION: &str = "value";

/// Most blocks in a modal.
pub const MAX_BLOCKS: usize = 100;
/// Most characters of a modal's title, submit and close texts.
pub const MAX_TITLE: usize = 24;
/// Most characters of an input's label or hint.
pub const MAX_LABEL: usize = 2000;
/// Most characters of a placeholder.
pub const MAX_PLACEHOLDER: usize = 150;
/// Most characters of an option's text or description.
pub const MAX_OPTION_TEXT: usize = 75;
/// Most radio buttons in one group; a choice with more options is shown as a select.
pub const MAX_RADIO: usize = 10;
/// Most characters of a view's `private_metadata`.
pub const MAX_PRIVATE_METADATA: usize = 3000;
/// Most characters of a mrkdwn text in a section or context element here.
const MAX_MRKDWN: usize = 2000;

fn plain(text: &str, max: usize) -> SlackBlockPlainTextOnly {
    SlackBlockPlainText::new(truncate(text, max)).into()
}

fn mrkdwn(text: String) -> SlackContextBlockElement {
    SlackContextBlockElement::MarkDown(SlackBlockMarkDownText::new(text))
}

fn choice(label: &str, value: &str) -> SlackBlockChoiceItem<SlackBlockPlainTextOnly> {
    SlackBlockChoiceItem::new(plain(label, MAX_OPTION_TEXT), value.to_owned())
}

fn radio_choice(label: &str, value: &str) -> SlackBlockChoiceItem<SlackBlockText> {
    SlackBlockChoiceItem::new(
        SlackBlockPlainText::new(truncate(label, MAX_OPTION_TEXT)).into(),
        value.to_owned(),
    )
}

fn modal(title: &str, blocks: Vec<SlackBlock>, private_metadata: &str) -> SlackModalView {
    SlackModalView::new(plain(title, MAX_TITLE), blocks)
        .with_close(plain("Cancel", MAX_TITLE))
        .with_callback_id(SlackCallbackId(CALLBACK_ID.to_owned()))
        .with_private_metadata(private_metadata.to_owned())
}

/// The first view when no template was named: a select of the runnable templates (title, with
/// the description under it) that dispatches `block_actions` on choice, and the templates that
/// cannot run from Slack with their reasons. Submit is "Next".
pub fn picker_view(templates: &[Template], private_metadata: &str) -> SlackView {
    let runnable: Vec<&Template> = templates
        .iter()
        // A template's ref key is at most 136 characters (`template:` and two 63-character
        // parts), so it always fits an option's value.
        .filter(|t| t.is_runnable())
        .collect();
    let mut blocks: Vec<SlackBlock> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    if runnable.is_empty() {
        blocks.push(
            SlackSectionBlock::new()
                .with_text(md!("No golden-path template can be run from Slack yet."))
                .into(),
        );
    } else {
        let options: Vec<SlackBlockChoiceItem<SlackBlockPlainTextOnly>> = runnable
            .iter()
            .take(MAX_OPTIONS)
            .map(|t| {
                let item = choice(&t.title, &t.entity_ref.key());
                match &t.description {
                    Some(d) => item.with_description(plain(d, MAX_OPTION_TEXT)),
                    None => item,
                }
            })
            .collect();
        let select = SlackBlockStaticSelectElement::new()
            .with_action_id(SlackActionId(TEMPLATE_SELECT.to_owned()))
            .with_placeholder(plain("Choose a golden path", MAX_PLACEHOLDER))
            .with_options(options);
        blocks.push(
            SlackInputBlock::new(plain("Template", MAX_LABEL), select.into())
                .with_block_id(SlackBlockId(PICKER_BLOCK.to_owned()))
                .with_dispatch_action(true)
                .into(),
        );
        if runnable.len() > MAX_OPTIONS {
            notes.push(format!(
                "{} more templates are not listed: name one with `/idp new-service <template>`.",
                runnable.len() - MAX_OPTIONS
            ));
        }
    }
    let blocked: Vec<String> = templates
        .iter()
        .filter_map(|t| {
            let reason = t.not_runnable.as_deref()?;
            Some(format!(
                "• *{}* cannot run from Slack: {}",
                escape_within(&t.title, 100),
                escape_within(reason, 300)
            ))
        })
        .collect();
    if !blocked.is_empty() {
        notes.push(join_lines(&blocked, MAX_MRKDWN, 10));
    }
    if !notes.is_empty() {
        blocks.push(SlackContextBlock::new(notes.into_iter().map(mrkdwn).collect()).into());
    }
    let mut view = modal("New service", blocks, private_metadata);
    if !runnable.is_empty() {
        view = view.with_submit(plain("Next", MAX_TITLE));
    }
    SlackView::Modal(view)
}

/// The answer to show for a field: an earlier answer in `values`, else its default.
fn initial(field: &Field, values: &Values) -> Option<RawValue> {
    values
        .get(&field.name)
        .or(field.default.as_ref())
        .and_then(|v| raw_from_value(&field.kind, v))
}

fn initial_text(raw: Option<&RawValue>) -> Option<&str> {
    match raw {
        Some(RawValue::Text(s)) => Some(s.as_str()),
        Some(RawValue::Many(v)) if v.len() == 1 => Some(v[0].as_str()),
        _ => None,
    }
}

/// A fixed value as a person reads it: a choice by its label, a boolean as yes/no, a list joined.
fn shown(field: &Field, value: &Value) -> String {
    let label = |v: &str| match &field.kind {
        FieldKind::Choice { options, .. } | FieldKind::MultiChoice { options } => options
            .iter()
            .find(|(o, _)| o == v)
            .map_or_else(|| v.to_owned(), |(_, l)| l.clone()),
        _ => v.to_owned(),
    };
    match value {
        Value::String(s) => label(s),
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), format_number),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), label))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// The context line of a fixed field: `*Cost center:* cc-1234 — set by policy`.
fn fixed_line(field: &Field, value: &Value) -> SlackBlock {
    let by = if field.fixed_by_policy {
        "set by policy"
    } else {
        "set by the template"
    };
    let text = format!(
        "*{}:* {} — {by}",
        escape_within(&field.title, 200),
        escape_within(&shown(field, value), 1500)
    );
    SlackContextBlock::new(vec![mrkdwn(text)]).into()
}

/// The input element of a field, with its initial value.
fn element(field: &Field, values: &Values) -> SlackInputBlockElement {
    let raw = initial(field, values);
    let action = SlackActionId(VALUE_ACTION.to_owned());
    let placeholder = field
        .placeholder
        .as_deref()
        .map(|p| plain(p, MAX_PLACEHOLDER));
    match &field.kind {
        FieldKind::Text {
            multiline,
            min_length,
            max_length,
            ..
        } => {
            let limit = MAX_TEXT as u64;
            SlackBlockPlainTextInputElement::new()
                .with_action_id(action)
                .with_multiline(*multiline)
                .opt_min_length(min_length.map(|m| m.min(limit)))
                .opt_max_length(max_length.map(|m| m.clamp(1, limit)))
                .opt_initial_value(
                    initial_text(raw.as_ref())
                        .filter(|s| s.chars().count() <= MAX_TEXT)
                        .map(str::to_owned),
                )
                .opt_placeholder(placeholder)
                .into()
        }
        FieldKind::Number {
            integer,
            minimum,
            maximum,
        } => SlackBlockNumberInputElement::new(!integer)
            .with_action_id(action)
            .opt_min_value(minimum.map(format_number))
            .opt_max_value(maximum.map(format_number))
            .opt_initial_value(initial_text(raw.as_ref()).map(str::to_owned))
            .opt_placeholder(placeholder)
            .into(),
        FieldKind::Boolean => {
            let yes = radio_choice("Yes", "true");
            let ticked = matches!(&raw, Some(RawValue::Many(v)) if v.iter().any(|x| x == "true"))
                || matches!(&raw, Some(RawValue::Text(t)) if t == "true");
            SlackBlockCheckboxesElement::new(vec![yes.clone()])
                .with_action_id(action)
                .opt_initial_options(ticked.then(|| vec![yes]))
                .into()
        }
        FieldKind::Choice { options, radio } => {
            let chosen = initial_text(raw.as_ref());
            let selected = options.iter().find(|(v, _)| Some(v.as_str()) == chosen);
            if *radio && options.len() <= MAX_RADIO {
                SlackBlockRadioButtonsElement::new(
                    options.iter().map(|(v, l)| radio_choice(l, v)).collect(),
                )
                .with_action_id(action)
                .opt_initial_option(selected.map(|(v, l)| radio_choice(l, v)))
                .into()
            } else {
                SlackBlockStaticSelectElement::new()
                    .with_action_id(action)
                    .with_placeholder(plain("Choose…", MAX_PLACEHOLDER))
                    .with_options(options.iter().map(|(v, l)| choice(l, v)).collect())
                    .opt_initial_option(selected.map(|(v, l)| choice(l, v)))
                    .into()
            }
        }
        FieldKind::MultiChoice { options } => {
            let chosen: Vec<SlackBlockChoiceItem<SlackBlockPlainTextOnly>> = match &raw {
                Some(RawValue::Many(v)) => options
                    .iter()
                    .filter(|(o, _)| v.contains(o))
                    .map(|(v, l)| choice(l, v))
                    .collect(),
                _ => Vec::new(),
            };
            SlackBlockMultiStaticSelectElement::new()
                .with_action_id(action)
                .with_placeholder(plain("Choose any…", MAX_PLACEHOLDER))
                .with_options(options.iter().map(|(v, l)| choice(l, v)).collect())
                .opt_initial_options((!chosen.is_empty()).then_some(chosen))
                .into()
        }
        FieldKind::EntityPicker { .. } => {
            let selected = initial_text(raw.as_ref())
                .filter(|key| key.chars().count() <= MAX_OPTION_VALUE)
                .map(|key| {
                    let label = EntityRef::parse(key, None, crate::catalog::DEFAULT_NAMESPACE)
                        .map_or_else(|_| key.to_owned(), |r| r.short());
                    choice(&label, key)
                });
            SlackBlockExternalSelectElement::new()
                .with_action_id(action)
                .with_placeholder(plain("Type to search the catalog", MAX_PLACEHOLDER))
                .with_min_query_length(0)
                .opt_initial_option(selected)
                .into()
        }
    }
}

fn input(field: &Field, values: &Values) -> SlackBlock {
    SlackInputBlock::new(plain(&field.title, MAX_LABEL), element(field, values))
        .with_block_id(SlackBlockId(field.name.clone()))
        .with_optional(field.optional())
        .opt_hint(field.description.as_deref().map(|d| plain(d, MAX_LABEL)))
        .into()
}

/// The view of one step (0-based) of a template: the step's title and description, one input
/// per field (block id = parameter name, action id [`VALUE_ACTION`]) filled from `values` or the
/// defaults, and fixed fields as read-only lines. Submit is "Next" before the last step and
/// "Create" on it; close is "Cancel".
pub fn step_view(t: &Template, step: usize, values: &Values, private_metadata: &str) -> SlackView {
    let mut blocks: Vec<SlackBlock> = Vec::new();
    let Some(s) = t.steps.get(step) else {
        blocks.push(
            SlackSectionBlock::new()
                .with_text(md!(format!(
                    "This template has no step {}.",
                    step.saturating_add(1)
                )))
                .into(),
        );
        return SlackView::Modal(modal(&t.title, blocks, private_metadata));
    };
    let mut intro = format!("*{}*", escape_within(&s.title, 300));
    if t.steps.len() > 1 {
        intro.push_str(&format!("  ·  step {} of {}", step + 1, t.steps.len()));
    }
    if let Some(d) = &s.description {
        intro.push('\n');
        intro.push_str(&escape_within(d, 1000));
    }
    blocks.push(SlackSectionBlock::new().with_text(md!(intro)).into());
    for field in &s.fields {
        if blocks.len() >= MAX_BLOCKS {
            break;
        }
        blocks.push(match &field.fixed {
            Some(value) => fixed_line(field, value),
            None => input(field, values),
        });
    }
    let submit = if step + 1 < t.steps.len() {
        "Next"
    } else {
        "Create"
    };
    SlackView::Modal(
        modal(&t.title, blocks, private_metadata).with_submit(plain(submit, MAX_TITLE)),
    )
}

/// One block's answer from `view.state.values`: `value` (text and number inputs),
/// `selected_option.value` (selects, radio buttons), `selected_options[].value` (multi-selects,
/// checkboxes). `None` when nothing was entered or chosen.
fn answer(action: &Value) -> Option<RawValue> {
    if let Some(options) = action.get("selected_options").and_then(Value::as_array) {
        return Some(RawValue::Many(
            options
                .iter()
                .filter_map(|o| o.get("value").and_then(Value::as_str))
                .map(str::to_owned)
                .collect(),
        ));
    }
    if let Some(option) = action.get("selected_option") {
        return option
            .get("value")
            .and_then(Value::as_str)
            .map(|v| RawValue::Text(v.to_owned()));
    }
    action
        .get("value")
        .and_then(Value::as_str)
        .map(|v| RawValue::Text(v.to_owned()))
}

/// `view.state.values`, found in what the caller passes: the `values` map itself, the `state`
/// object, or the whole `view`.
fn state_values(state: &Value) -> Option<&serde_json::Map<String, Value>> {
    if let Some(values) = state.pointer("/state/values").and_then(Value::as_object) {
        return Some(values);
    }
    if let Some(values) = state.get("values").and_then(Value::as_object) {
        return Some(values);
    }
    state.as_object()
}

/// The action state of one block: the one under [`VALUE_ACTION`], else the block's only one.
fn action_of<'a>(values: &'a serde_json::Map<String, Value>, block: &str) -> Option<&'a Value> {
    let actions = values.get(block)?.as_object()?;
    actions.get(VALUE_ACTION).or_else(|| {
        (actions.len() == 1)
            .then(|| actions.values().next())
            .flatten()
    })
}

/// Reads a `view_submission`'s state (`view.state.values`, or the `state` or the `view` around
/// it) into raw answers for the fields of one step (0-based), by parameter name. Fixed fields and
/// unanswered inputs are left out; an unticked boolean is an empty list.
pub fn read_state(state: &Value, t: &Template, step: usize) -> BTreeMap<String, RawValue> {
    let mut out = BTreeMap::new();
    let (Some(values), Some(s)) = (state_values(state), t.steps.get(step)) else {
        return out;
    };
    for field in s.fields.iter().filter(|f| f.fixed.is_none()) {
        if let Some(raw) = action_of(values, &field.name).and_then(answer) {
            out.insert(field.name.clone(), raw);
        }
    }
    out
}

/// The template chosen in the picker view (its ref key), from a `view_submission`'s state or a
/// `block_actions` payload's `actions[0]` / `view`.
pub fn chosen_template(payload: &Value) -> Option<String> {
    let from_action = payload
        .get("actions")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .find(|a| a.get("action_id").and_then(Value::as_str) == Some(TEMPLATE_SELECT))
        })
        .and_then(answer);
    let from_state = || {
        let view = payload.get("view").unwrap_or(payload);
        state_values(view)
            .and_then(|v| v.get(PICKER_BLOCK)?.get(TEMPLATE_SELECT))
            .and_then(answer)
    };
    match from_action.or_else(from_state)? {
        RawValue::Text(key) => Some(key),
        RawValue::Many(_) => None,
    }
}

/// The options an entity-picker field offers for what was typed (`block_suggestion`): at most
/// [`MAX_OPTIONS`], as (label, value) with the value the entity's ref key. Labels are
/// `Display name (kind:name)`. Empty for a field that is not a picker.
pub fn suggestions(
    snapshot: &Snapshot,
    t: &Template,
    field: &str,
    query: &str,
) -> Vec<(String, String)> {
    let Some(field) = t.field(field) else {
        return Vec::new();
    };
    picker::search(&field.kind, snapshot, query, MAX_OPTIONS)
        .into_iter()
        .filter_map(|i| {
            let e = &snapshot.node(i).entity;
            let key = e.entity_ref.key();
            if key.chars().count() > MAX_OPTION_VALUE {
                return None;
            }
            let short = e.entity_ref.short();
            let name = e.display_name();
            let label = if name == e.entity_ref.name {
                short
            } else {
                format!("{name} ({short})")
            };
            Some((truncate(&label, MAX_OPTION_TEXT), key))
        })
        .collect()
}

/// The JSON answer to a `block_suggestion` request:
/// `{"options":[{"text":{"type":"plain_text","text":…},"value":…}]}`, at most
/// [`MAX_OPTIONS`] options, texts cut to [`MAX_OPTION_TEXT`] characters.
pub fn options_response(items: &[(String, String)]) -> Value {
    let options: Vec<Value> = items
        .iter()
        .take(MAX_OPTIONS)
        .map(|(label, value)| {
            json!({"text": {"type": "plain_text", "text": truncate(label, MAX_OPTION_TEXT)}, "value": value})
        })
        .collect();
    json!({ "options": options })
}

/// A view that only tells something (an expired form, a template that is gone), with a Close
/// button and no submit.
pub fn notice_view(text: &str) -> SlackView {
    let blocks: Vec<SlackBlock> = vec![
        SlackSectionBlock::new()
            .with_text(md!(escape_within(text, MAX_MRKDWN)))
            .into(),
    ];
    SlackView::Modal(
        SlackModalView::new(plain("New service", MAX_TITLE), blocks)
            .with_close(plain("Close", MAX_TITLE))
            .with_callback_id(SlackCallbackId(CALLBACK_ID.to_owned())),
    )
}

/// A read-only modal showing a command's answer (from the App Home, which has no `response_url`):
/// its blocks, or its text when it has none.
pub fn answer_view(reply: &super::base::Reply) -> SlackView {
    let blocks = if reply.blocks.is_empty() {
        vec![
            SlackSectionBlock::new()
                .with_text(md!(escape_within(&reply.text, MAX_MRKDWN)))
                .into(),
        ]
    } else {
        reply.blocks.clone()
    };
    SlackView::Modal(
        SlackModalView::new(plain("idp", MAX_TITLE), blocks).with_close(plain("Close", MAX_TITLE)),
    )
}
