//! Slack interactivity for golden paths (<https://docs.slack.dev/surfaces/modals>): opening the
//! `new-service` modal with the slash command's `trigger_id`, the template select
//! (`block_actions` → `views.update`), each step's `view_submission` (validated inside Slack's
//! 3 s, answered with `response_action: errors | update | clear`), the pickers'
//! `block_suggestion`, and the status message's Cancel button.
//!
//! What a multi-step modal collected so far is kept server-side (`modal_sessions`), keyed by a
//! session id in the view's `private_metadata`, so it survives replicas and stays far under
//! Slack's 3,000-character cap.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::client::SlackApiError;
use super::inbound::{Interaction, SlashCommand};
use super::modal;
use super::render::Reply;
use super::rollback_message::{CONFIRM_ACTION, ConfirmValue, DISMISS_ACTION};
use super::run_message::{APPROVE_ACTION, CANCEL_ACTION, DENY_ACTION};
use crate::actions::run::now_ms;
use crate::actions::scaffold::NewService;
use crate::app::{AppState, RequestMeta};
use crate::authz::{self, Action};
use crate::catalog::EntityRef;
use crate::command::Command;
use crate::handlers::Outcome;
use crate::templates::{self, FieldKind, Template, Values};

/// Errors `views.open` gives for a trigger that is too old or already used.
const EXPIRED_TRIGGER: &[&str] = &[
    "expired_trigger_id",
    "invalid_trigger_id",
    "trigger_expired",
    "trigger_exchanged",
];

/// What a `new-service` modal has collected, stored per session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModalSession {
    /// Workspace of the user who opened it.
    pub team_id: String,
    /// The user who opened it (only they can submit it).
    pub user_id: String,
    /// Where the command was typed: the status message goes there.
    pub channel_id: String,
    /// That channel's name, as the slash command gave it.
    #[serde(default)]
    pub channel_name: Option<String>,
    /// The slash command's `response_url`, for telling the user what went wrong.
    #[serde(default)]
    pub response_url: Option<String>,
    /// The chosen template's ref key.
    #[serde(default)]
    pub template: Option<String>,
    /// The step shown (0-based).
    #[serde(default)]
    pub step: usize,
    /// The values of the steps done (and the typed prefill).
    #[serde(default)]
    pub values: Values,
}

/// A view's `private_metadata`: the session id and the step the view shows, so a submission can
/// be matched to the step the user saw (a repeated submission of an earlier step is not taken as
/// the next one).
fn metadata(session_id: &str, step: usize) -> String {
    format!("{session_id}:{step}")
}

/// Reads [`metadata`]: the session id, and the step when present.
fn parse_metadata(text: &str) -> (&str, Option<usize>) {
    match text.rsplit_once(':') {
        Some((id, step)) => (id, step.parse().ok()),
        None => (text, None),
    }
}

fn new_session_id() -> String {
    format!(
        "ms_{}",
        hex::encode(crate::audit::token::random_bytes::<12>())
    )
}

async fn load_session(state: &AppState, id: Option<&str>) -> Option<ModalSession> {
    let id = id?.trim();
    if id.is_empty() || id.len() > 64 {
        return None;
    }
    match state.catalog.store().modal_session(id).await {
        Ok(Some(text)) => serde_json::from_str(&text).ok(),
        Ok(None) => None,
        Err(e) => {
            tracing::error!(error = %e, "could not read a form's progress");
            None
        }
    }
}

async fn save_session(state: &AppState, id: &str, session: &ModalSession) -> bool {
    let text = serde_json::to_string(session).unwrap_or_default();
    match state
        .catalog
        .store()
        .put_modal_session(id, &text, now_ms())
        .await
    {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, "could not save a form's progress");
            false
        }
    }
}

/// Typed values as a template's fields expect them: comma-separated lists for multi-selects.
fn prefill_values(template: Option<&Template>, prefill: &BTreeMap<String, String>) -> Values {
    prefill
        .iter()
        .map(|(k, v)| {
            let many = template
                .and_then(|t| t.field(k))
                .is_some_and(|f| matches!(f.kind, FieldKind::MultiChoice { .. }));
            let value = if many {
                Value::Array(
                    v.split(',')
                        .map(|s| Value::String(s.trim().to_owned()))
                        .collect(),
                )
            } else {
                Value::String(v.clone())
            };
            (k.clone(), value)
        })
        .collect()
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

async fn tell(state: &AppState, response_url: Option<&str>, text: &str) {
    let (Some(api), Some(url)) = (&state.slack, response_url) else {
        tracing::info!(message = text, "could not tell the user (no response_url)");
        return;
    };
    let reply = Reply {
        text: super::mrkdwn::escape(text),
        blocks: Vec::new(),
    };
    if let Err(e) = api.respond(url, &reply).await {
        tracing::warn!(error = %e, "could not answer through response_url");
    }
}

/// Opens the `new-service` modal for a slash command: the template's first step, or the
/// template list. Call it at once: the `trigger_id` dies about 3 s after the command was typed.
/// An expired trigger is told to the user through `response_url` and logged.
pub async fn open_new_service(
    state: &AppState,
    form: &SlashCommand,
    template: Option<&Template>,
    prefill: &BTreeMap<String, String>,
) {
    let Some(api) = &state.slack else {
        tell(
            state,
            form.response_url.as_deref(),
            "This idp has no Slack bot token, so it cannot open forms.",
        )
        .await;
        return;
    };
    let Some(trigger) = form.trigger_id.as_deref().filter(|t| !t.is_empty()) else {
        tracing::warn!("a new-service command came without a trigger_id");
        return;
    };
    let session_id = new_session_id();
    let values = prefill_values(template, prefill);
    let session = ModalSession {
        team_id: form.team_id.clone(),
        user_id: form.user_id.clone(),
        channel_id: form.channel_id.clone(),
        channel_name: form.channel_name.clone(),
        response_url: form.response_url.clone(),
        template: template.map(|t| t.entity_ref.key()),
        step: 0,
        values,
    };
    let view = match template {
        Some(t) => modal::step_view(t, 0, &session.values, &metadata(&session_id, 0)),
        None => modal::picker_view(
            &crate::actions::scaffold::templates(
                &state.catalog.snapshot(),
                &state.templates,
                state.runs.as_deref(),
            ),
            &metadata(&session_id, 0),
        ),
    };
    // The session first: a quick user must not submit a form whose session is not there yet.
    let saved = save_session(state, &session_id, &session).await;
    if !saved {
        tell(
            state,
            form.response_url.as_deref(),
            "The form could not be prepared (the database did not answer). Please try again.",
        )
        .await;
        return;
    }
    match api.views_open(trigger, view).await {
        Ok(_) => {}
        Err(SlackApiError::Api { code, .. }) if EXPIRED_TRIGGER.contains(&code.as_str()) => {
            tracing::warn!(code = %code, "views.open refused the trigger_id: it expired before the form could open");
            tell(state, form.response_url.as_deref(), "That took too long and Slack would no longer open the form. Please run `/idp new-service` again.").await;
        }
        Err(e) => {
            tracing::error!(error = %e, "views.open failed");
            tell(
                state,
                form.response_url.as_deref(),
                "Slack would not open the form. Please try again in a moment.",
            )
            .await;
        }
    }
}

/// Handles a `block_actions` payload: the template select in the modal, the Cancel button on a
/// status message. Runs after the HTTP acknowledgement.
pub async fn block_actions(state: &AppState, interaction: Interaction) {
    for action in &interaction.actions {
        match action.action_id.as_str() {
            modal::TEMPLATE_SELECT => choose_template(state, &interaction, action).await,
            CANCEL_ACTION => cancel_run(state, &interaction, action.value.as_deref()).await,
            CONFIRM_ACTION => confirm_rollback(state, &interaction, action.value.as_deref()).await,
            DISMISS_ACTION => {
                if let (Some(api), Some(url)) = (&state.slack, interaction.response_url.as_deref())
                {
                    let reply = Reply {
                        text: "Rollback not started.".to_owned(),
                        blocks: Vec::new(),
                    };
                    if let Err(e) = api.respond_with(url, &reply, true).await {
                        tracing::warn!(error = %e, "could not withdraw a rollback preview");
                    }
                }
            }
            super::home::NEW_SERVICE_ACTION => new_service_from_home(state, &interaction).await,
            super::scorecard_message::FIX_TEMPLATE_ACTION => {
                fix_with_template(state, &interaction, action.value.as_deref()).await;
            }
            super::home::SCORECARD_ACTION => {
                let text = format!("scorecard {}", action.value.as_deref().unwrap_or_default());
                answer_in_modal(state, &interaction, &text).await;
            }
            APPROVE_ACTION | DENY_ACTION => {
                let approve = action.action_id == APPROVE_ACTION;
                decide_rollback(state, &interaction, action.value.as_deref(), approve).await;
            }
            other => tracing::debug!(action_id = other, "block action ignored"),
        }
    }
}

async fn choose_template(
    state: &AppState,
    interaction: &Interaction,
    action: &super::inbound::ActionPayload,
) {
    let (Some(api), Some(view)) = (&state.slack, &interaction.view) else {
        return;
    };
    let Some(chosen) = action.selected_option.as_ref().map(|o| o.value.clone()) else {
        return;
    };
    let raw_metadata = view.private_metadata.clone().unwrap_or_default();
    let session_id = parse_metadata(&raw_metadata).0.to_owned();
    let Some(mut session) = load_session(state, Some(&session_id)).await else {
        tracing::warn!("template chosen in a form whose session is gone");
        return;
    };
    if session.user_id != interaction.user_id() {
        return;
    }
    let snapshot = state.catalog.snapshot();
    let Ok(template) = templates::find(&snapshot, &state.templates, &chosen) else {
        tracing::warn!(template = %chosen, "a chosen template is no longer in the catalog");
        return;
    };
    session.template = Some(template.entity_ref.key());
    session.step = 0;
    if !save_session(state, &session_id, &session).await {
        return;
    }
    let next = modal::step_view(&template, 0, &session.values, &metadata(&session_id, 0));
    if let Err(e) = api.views_update(&view.id, view.hash.as_deref(), next).await {
        tracing::warn!(error = %e, "views.update failed after a template was chosen");
    }
}

async fn cancel_run(state: &AppState, interaction: &Interaction, run_id: Option<&str>) {
    let Some(runs) = &state.runs else { return };
    let Some(run_id) = run_id else { return };
    let response_url = interaction.response_url.as_deref();
    let run = match runs.get(run_id).await {
        Ok(Some(run)) => run,
        Ok(None) => {
            tell(state, response_url, "That run is not known here any more.").await;
            return;
        }
        Err(e) => {
            tracing::error!(error = %e, "could not read a run to cancel");
            return;
        }
    };
    let caller = state
        .slack_caller(
            interaction.team_id(),
            interaction.user_id(),
            interaction.channel.as_ref().map_or("", |c| c.id.as_str()),
            None,
        )
        .await;
    let own = run.requester.slack_user_id.as_deref() == Some(interaction.user_id())
        || (caller.user.is_some()
            && caller.user.as_ref().map(EntityRef::key) == run.requester.user);
    if !own {
        let snapshot = state.catalog.snapshot();
        let target = run
            .target
            .as_deref()
            .and_then(|t| EntityRef::parse(t, Some("group"), "default").ok())
            .and_then(|t| snapshot.get(&t));
        let decision = authz::decide_on(
            &state.policy,
            &snapshot,
            &caller,
            Action::TemplateRun,
            target,
            chrono::Utc::now(),
        );
        if !decision.allowed() {
            tell(
                state,
                response_url,
                &format!("You cannot cancel this run: {}", decision.reason),
            )
            .await;
            return;
        }
    }
    let by = caller
        .user
        .as_ref()
        .map_or_else(|| interaction.user_id().to_owned(), |u| u.name.clone());
    match runs.cancel(run_id, &by).await {
        Ok((_, true)) => {}
        Ok((run, false)) => {
            tell(
                state,
                response_url,
                &format!(
                    "This run is already {}; only a queued run can be cancelled.",
                    run.status.as_str()
                ),
            )
            .await;
        }
        Err(e) => tracing::error!(error = %e, "could not cancel a run"),
    }
}

fn errors_response(errors: BTreeMap<String, String>) -> Value {
    json!({ "response_action": "errors", "errors": errors })
}

/// Field errors keyed by blocks of the view on screen: an error about a field of an earlier step
/// is shown on the first input of this one, naming its field.
fn on_screen(
    template: &Template,
    step: usize,
    errors: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let here: Vec<&str> = template
        .steps
        .get(step)
        .map(|s| {
            s.fields
                .iter()
                .filter(|f| f.fixed.is_none())
                .map(|f| f.name.as_str())
                .collect()
        })
        .unwrap_or_default();
    let mut out = BTreeMap::new();
    let mut elsewhere = Vec::new();
    for (field, message) in errors {
        if here.contains(&field.as_str()) {
            out.insert(field.clone(), super::render::truncate(message, 150));
        } else {
            elsewhere.push(if field.is_empty() {
                message.clone()
            } else {
                format!("{field}: {message}")
            });
        }
    }
    if !elsewhere.is_empty()
        && let Some(first) = here.first()
    {
        let text = out
            .remove(*first)
            .into_iter()
            .chain(elsewhere)
            .collect::<Vec<_>>()
            .join("; ");
        out.insert((*first).to_owned(), super::render::truncate(&text, 150));
    }
    out
}

/// Handles a `view_submission` of the `new-service` modal and returns the HTTP response body:
/// `errors` with a message per input, `update` to the next step, or `clear` once the run is
/// recorded (the worker then posts the status message).
pub async fn view_submission(state: &AppState, interaction: Interaction) -> Value {
    let Some(view) = &interaction.view else {
        return json!({});
    };
    if view.callback_id.as_deref() != Some(modal::CALLBACK_ID) {
        tracing::debug!(callback_id = ?view.callback_id, "submission of a view idp did not open");
        return json!({});
    }
    let raw_metadata = view.private_metadata.clone().unwrap_or_default();
    let (session_id, shown_step) = parse_metadata(&raw_metadata);
    let session_id = session_id.to_owned();
    let Some(mut session) = load_session(state, Some(&session_id)).await else {
        return json!({
            "response_action": "update",
            "view": modal::notice_view("This form has expired. Please run `/idp new-service` again.")
        });
    };
    let snapshot = state.catalog.snapshot();
    let template = match session
        .template
        .as_deref()
        .map(|t| templates::find(&snapshot, &state.templates, t))
    {
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            return json!({"response_action": "update", "view": modal::notice_view(&format!("The template is gone: {e}"))});
        }
        None => {
            // Submitted from the template list: show the chosen template's first step.
            let chosen = view.state.as_ref().and_then(modal::chosen_template);
            let found = chosen
                .as_deref()
                .map(|c| templates::find(&snapshot, &state.templates, c));
            let Some(Ok(template)) = found else {
                return errors_response(BTreeMap::from([(
                    modal::PICKER_BLOCK.to_owned(),
                    "Pick a template first.".to_owned(),
                )]));
            };
            session.template = Some(template.entity_ref.key());
            session.step = 0;
            if !save_session(state, &session_id, &session).await {
                return errors_response(BTreeMap::from([(
                    modal::PICKER_BLOCK.to_owned(),
                    "The form could not be saved; please try again.".to_owned(),
                )]));
            }
            return json!({
                "response_action": "update",
                "view": modal::step_view(&template, 0, &session.values, &metadata(&session_id, 0)),
            });
        }
    };
    let step = session.step.min(template.steps.len().saturating_sub(1));
    if session.user_id != interaction.user_id() {
        tracing::warn!("a form was submitted by someone other than the person who opened it");
        return json!({"response_action": "update", "view": modal::notice_view("This form belongs to someone else.")});
    }
    // A second submission of a step already done (a double click, a retry): show the step the
    // form is at, instead of reading the old values as this step's.
    if shown_step.is_some_and(|s| s < step) {
        return json!({
            "response_action": "update",
            "view": modal::step_view(&template, step, &session.values, &metadata(&session_id, step)),
        });
    }
    let state_values = view.state.clone().unwrap_or(Value::Null);
    let raw = modal::read_state(&state_values, &template, step);
    let checked = match templates::validate_step(&template, step, &raw, &snapshot) {
        Ok(v) => v,
        Err(errors) => return errors_response(on_screen(&template, step, &errors)),
    };
    // The owner is checked on the step that asks for it, so a refusal shows under its input.
    if let Some(owner_field) = template.owner_field()
        && let Some(owner) = checked.get(&owner_field.name).and_then(Value::as_str)
    {
        let caller = state
            .slack_caller(
                &session.team_id,
                interaction.user_id(),
                &session.channel_id,
                session.channel_name.as_deref(),
            )
            .await;
        let target = EntityRef::parse(owner, Some("group"), "default")
            .ok()
            .and_then(|r| snapshot.get(&r));
        let decision = authz::decide_on(
            &state.policy,
            &snapshot,
            &caller,
            Action::TemplateRun,
            target,
            chrono::Utc::now(),
        );
        if !decision.allowed() {
            if let Some(audit) = &state.audit {
                let entry = crate::audit::AuditEntry::for_caller(
                    &caller,
                    state.next_request_id(),
                    Action::TemplateRun.as_str(),
                    "new-service",
                )
                .with_arguments(json!({ "template": template.entity_ref.key(), "step": step }))
                .with_target(owner.to_owned())
                .with_decision(
                    crate::audit::AuditDecision::Deny,
                    decision.rule.clone(),
                    Some(decision.reason.clone()),
                )
                .with_outcome("denied");
                if let Err(e) = audit.record(entry).await {
                    tracing::error!(error = %e, "could not record a refusal in the audit log");
                }
            }
            return errors_response(on_screen(
                &template,
                step,
                &BTreeMap::from([(
                    owner_field.name.clone(),
                    format!("You may not create for this team: {}", decision.reason),
                )]),
            ));
        }
    }
    session.values.extend(checked);
    if step + 1 < template.steps.len() {
        session.step = step + 1;
        if !save_session(state, &session_id, &session).await {
            return errors_response(on_screen(
                &template,
                step,
                &BTreeMap::from([(
                    String::new(),
                    "the form could not be saved; please submit again".to_owned(),
                )]),
            ));
        }
        return json!({
            "response_action": "update",
            "view": modal::step_view(&template, step + 1, &session.values, &metadata(&session_id, step + 1)),
        });
    }
    let values: Vec<(String, String)> = session
        .values
        .iter()
        .filter(|(k, _)| template.field(k).is_some_and(|f| f.fixed.is_none()))
        .map(|(k, v)| (k.clone(), value_text(v)))
        .collect();
    let command = Command::NewService {
        template: Some(template.entity_ref.key()),
        values,
    };
    let audit_text = format!("new-service {} (form)", template.entity_ref.name);
    let caller = state
        .slack_caller(
            &session.team_id,
            interaction.user_id(),
            &session.channel_id,
            session.channel_name.as_deref(),
        )
        .await;
    let request_id = state.next_request_id();
    let key = format!("slack-view:{}", view.id);
    let (_, handled) = state
        .execute(
            &request_id,
            &caller,
            Ok(command),
            &audit_text,
            RequestMeta {
                idempotency_key: Some(&key),
                channel_id: Some(&session.channel_id),
            },
        )
        .await;
    let problem = |message: String| {
        errors_response(on_screen(
            &template,
            step,
            &BTreeMap::from([(String::new(), message)]),
        ))
    };
    match handled.outcome {
        Outcome::NewService(outcome) => match *outcome {
            NewService::Started { .. } => {
                if let Some(runs) = &state.runs {
                    runs.wake();
                }
                json!({ "response_action": "clear" })
            }
            NewService::Invalid { errors, .. } => {
                errors_response(on_screen(&template, step, &errors))
            }
            NewService::Denied {
                field, decision, ..
            } => errors_response(on_screen(
                &template,
                step,
                &BTreeMap::from([(
                    field,
                    format!("You may not create for this owner: {}", decision.reason),
                )]),
            )),
            NewService::NotRunnable(t) => problem(format!(
                "this template cannot be run here: {}",
                t.not_runnable.unwrap_or_default()
            )),
            NewService::Lookup(e) => problem(e.to_string()),
            NewService::OpenForm { .. } => problem("some required values are missing".to_owned()),
        },
        Outcome::Failed(why) => {
            tracing::error!(%request_id, reason = %why, "new-service failed");
            problem(format!(
                "something went wrong (ref {request_id}); please submit again"
            ))
        }
        _ => problem("this form could not be submitted".to_owned()),
    }
}

/// Answers a `block_suggestion` (an entity picker's options) within Slack's 3 s: at most 100
/// options, empty when the form is unknown.
pub async fn block_suggestion(state: &AppState, interaction: Interaction) -> Value {
    let empty = json!({ "options": [] });
    let Some(view) = &interaction.view else {
        return empty;
    };
    let raw_metadata = view.private_metadata.clone().unwrap_or_default();
    let Some(session) = load_session(state, Some(parse_metadata(&raw_metadata).0)).await else {
        return empty;
    };
    let snapshot = state.catalog.snapshot();
    let Some(Ok(template)) = session
        .template
        .as_deref()
        .map(|t| templates::find(&snapshot, &state.templates, t))
    else {
        return empty;
    };
    let field = interaction.block_id.as_deref().unwrap_or_default();
    let query = interaction.value.as_deref().unwrap_or_default();
    modal::options_response(&modal::suggestions(&snapshot, &template, field, query))
}

fn channel_of(interaction: &Interaction) -> (String, Option<String>) {
    interaction
        .channel
        .as_ref()
        .map_or((String::new(), None), |c| (c.id.clone(), c.name.clone()))
}

/// [Roll back] on a preview: the same `rollback` command with the plan's hash, so the plan is made
/// again and refused when it changed. The preview is replaced with the answer.
async fn confirm_rollback(state: &AppState, interaction: &Interaction, value: Option<&str>) {
    let Some(value) = value.and_then(|v| serde_json::from_str::<ConfirmValue>(v).ok()) else {
        tracing::warn!("a rollback confirmation without a readable plan");
        return;
    };
    let (channel_id, channel_name) = channel_of(interaction);
    let caller = state
        .slack_caller(
            interaction.team_id(),
            interaction.user_id(),
            &channel_id,
            channel_name.as_deref(),
        )
        .await;
    // A double click or a retried interaction carries the same plan from the same person.
    let key = format!("slack-rollback:{}:{}", value.h, interaction.user_id());
    let command = Command::Rollback {
        service: Some(crate::catalog::NameQuery::parse(&value.s)),
        environment: Some(value.e.clone()),
        to: Some(value.t.clone()),
        confirm: Some(value.h.clone()),
    };
    let request_id = state.next_request_id();
    let (snapshot, handled) = state
        .execute(
            &request_id,
            &caller,
            Ok(command),
            &format!(
                "rollback {} {} to {} (confirmed plan {})",
                value.s, value.e, value.t, value.h
            ),
            RequestMeta {
                idempotency_key: Some(&key),
                channel_id: Some(&channel_id),
            },
        )
        .await;
    if let Some(runs) = &state.runs {
        runs.wake();
    }
    let reply = state.render(&request_id, &snapshot, &handled);
    if let (Some(api), Some(url)) = (&state.slack, interaction.response_url.as_deref())
        && let Err(e) = api.respond_with(url, &reply, true).await
    {
        tracing::warn!(error = %e, "could not answer a rollback confirmation");
    }
}

/// [Approve] or [Deny] on a rollback waiting for approval.
async fn decide_rollback(
    state: &AppState,
    interaction: &Interaction,
    run_id: Option<&str>,
    approve: bool,
) {
    use crate::actions::rollback::{ApprovalOutcome, RollbackRequest, decide_approval};
    let (Some(runs), Some(run_id)) = (&state.runs, run_id) else {
        return;
    };
    let response_url = interaction.response_url.as_deref();
    let run = match runs.get(run_id).await {
        Ok(Some(run)) => run,
        Ok(None) => {
            tell(
                state,
                response_url,
                "That rollback is not known here any more.",
            )
            .await;
            return;
        }
        Err(e) => {
            tracing::error!(error = %e, "could not read a rollback to approve");
            return;
        }
    };
    let (channel_id, channel_name) = channel_of(interaction);
    let approver = state
        .slack_caller(
            interaction.team_id(),
            interaction.user_id(),
            &channel_id,
            channel_name.as_deref(),
        )
        .await;
    let snapshot = state.catalog.snapshot();
    let target = run
        .target
        .as_deref()
        .and_then(|t| EntityRef::parse(t, Some("component"), "default").ok())
        .and_then(|r| snapshot.get(&r));
    let ctx = crate::handlers::Context {
        snapshot: &snapshot,
        policy: &state.policy,
        oncall: &state.oncall,
        store: state.catalog.store(),
        now: chrono::Utc::now(),
        templates: &state.templates,
        runs: Some(runs),
        idempotency_key: None,
        channel_id: None,
        rollbacks: &state.rollbacks,
        incident_clock: None,
        scorer: state.scorecards.as_deref(),
    };
    let on_call = match target {
        Some(i) => crate::handlers::on_call_status(&ctx, &approver, i).await,
        None => crate::authz::OnCallStatus::NotAsked,
    };
    let request = RollbackRequest {
        snapshot: &snapshot,
        policy: &state.policy,
        store: state.catalog.store(),
        runs: Some(runs),
        settings: &state.rollbacks,
        on_call,
        idempotency_key: None,
        channel_id: None,
        now: ctx.now,
    };
    match decide_approval(&request, &approver, &run, approve).await {
        Ok(ApprovalOutcome::Approved(_) | ApprovalOutcome::Denied(_)) => runs.wake(),
        Ok(ApprovalOutcome::Refused(why)) => {
            if let Some(audit) = &state.audit {
                let entry = crate::audit::AuditEntry::for_caller(
                    &approver,
                    state.next_request_id(),
                    Action::Approve.as_str(),
                    "rollback",
                )
                .with_arguments(json!({ "run_id": run.id, "approve": approve }))
                .with_target(run.target.clone().unwrap_or_default())
                .with_decision(crate::audit::AuditDecision::Deny, None, Some(why.clone()))
                .with_outcome("refused");
                if let Err(e) = audit.record(entry).await {
                    tracing::error!(error = %e, "could not record a refused approval");
                }
            }
            tell(state, response_url, &format!("Not done: {why}.")).await;
        }
        Err(e) => tracing::error!(error = %e, "an approval could not be recorded"),
    }
}

/// Publishes `user_id`'s App Home tab (after `app_home_opened`). Failures are logged: the tab
/// keeps its previous content.
pub async fn publish_home(state: &AppState, team_id: &str, user_id: &str) {
    let Some(api) = &state.slack else {
        return;
    };
    let caller = state.slack_caller(team_id, user_id, "", None).await;
    let snapshot = state.catalog.snapshot();
    let sources = crate::handlers::home::HomeSources {
        snapshot: &snapshot,
        policy: &state.policy,
        oncall: &state.oncall,
        store: state.catalog.store(),
        scores: state.scores.as_ref(),
        now: chrono::Utc::now(),
    };
    let home = crate::handlers::home::build(&sources, &caller).await;
    if let Err(e) = api
        .views_publish(user_id, super::home::home_view(&home))
        .await
    {
        tracing::warn!(error = %e, "could not publish an App Home tab");
    }
}

/// The home's [New service]: the template list in a modal, as `/idp new-service` opens it. Run
/// status messages go to the person's DM (a home has no channel).
async fn new_service_from_home(state: &AppState, interaction: &Interaction) {
    let form = SlashCommand {
        team_id: interaction.team_id().to_owned(),
        enterprise_id: None,
        channel_id: String::new(),
        channel_name: None,
        user_id: interaction.user_id().to_owned(),
        command: "/idp".to_owned(),
        text: "new-service".to_owned(),
        response_url: None,
        trigger_id: interaction.trigger_id.clone(),
        ssl_check: None,
    };
    open_new_service(state, &form, None, &BTreeMap::new()).await;
}

/// A scorecard's [Fix] button: the golden-path modal of the fixing template (its ref key in the
/// button's value), as `/idp new-service <template>` opens it. Status messages go to the channel
/// the button was in, else the person's DM.
async fn fix_with_template(state: &AppState, interaction: &Interaction, template: Option<&str>) {
    let snapshot = state.catalog.snapshot();
    let found = template
        .and_then(|t| EntityRef::parse(t, Some("template"), "default").ok())
        .and_then(|r| templates::find(&snapshot, &state.templates, &r.key()).ok());
    let (channel_id, channel_name) = channel_of(interaction);
    let form = SlashCommand {
        team_id: interaction.team_id().to_owned(),
        enterprise_id: None,
        channel_id,
        channel_name,
        user_id: interaction.user_id().to_owned(),
        command: "/idp".to_owned(),
        text: "new-service".to_owned(),
        response_url: interaction.response_url.clone(),
        trigger_id: interaction.trigger_id.clone(),
        ssl_check: None,
    };
    if found.is_none() {
        tracing::info!(template = ?template, "a fix's template is not in the catalog; opening the template list");
    }
    open_new_service(state, &form, found.as_ref(), &BTreeMap::new()).await;
}

/// Answers `text` as a command typed by the person who clicked, in a modal (a home has no
/// `response_url`): the same authorization, audit record and rendering as the slash command.
async fn answer_in_modal(state: &AppState, interaction: &Interaction, text: &str) {
    let (Some(api), Some(trigger)) = (&state.slack, interaction.trigger_id.as_deref()) else {
        return;
    };
    let caller = state
        .slack_caller(interaction.team_id(), interaction.user_id(), "", None)
        .await;
    let reply = state
        .dispatch(&caller, text, crate::command::Dialect::Slack)
        .await;
    if let Err(e) = api.views_open(trigger, modal::answer_view(&reply)).await {
        tracing::warn!(error = %e, "could not open an answer in a modal");
    }
}
