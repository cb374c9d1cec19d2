//! Slack interactivity (<https://docs.slack.dev/reference/interaction-payloads>): every button
//! (`block_actions`), form step (`view_submission`), picker (`block_suggestion`) and the "Who owns
//! this?" message shortcut (`message_action`) is decoded here into a [`Command`] and sent through
//! the one door ([`AppState::execute`]); this module only turns the outcome into Slack's answer
//! (a `response_url` reply, `views.open` / `views.update`, the ack body). It never asks the policy
//! or writes the audit log itself.
//!
//! The golden-path modal (<https://docs.slack.dev/surfaces/modals>) opens with a `trigger_id`,
//! and each step is answered inside Slack's 3 s with `response_action: errors | update | clear`.
//!
//! What a multi-step modal collected so far is kept server-side (`modal_sessions`), keyed by a
//! session id in the view's `private_metadata`, so it survives replicas and stays far under
//! Slack's 3,000-character cap.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::actions::run::now_ms;
use crate::app::{AppState, RequestMeta};
use crate::authz::Caller;
use crate::catalog::{NameQuery, Snapshot};
use crate::command::Command;
use crate::handlers::new_service::NewService;
use crate::handlers::rollback::ApprovalOutcome;
use crate::handlers::{Handled, Outcome};
use crate::slack::client::SlackApiError;
use crate::slack::inbound::{ActionPayload, Interaction, SlashCommand};
use crate::slack::modal;
use crate::slack::render::Reply;
use crate::slack::rollback_message::{CONFIRM_ACTION, ConfirmValue, DISMISS_ACTION};
use crate::slack::run_message::{APPROVE_ACTION, CANCEL_ACTION, DENY_ACTION};
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

async fn tell(state: &AppState, response_url: Option<&str>, text: &str) {
    let (Some(api), Some(url)) = (&state.slack, response_url) else {
        tracing::info!(message = text, "could not tell the user (no response_url)");
        return;
    };
    let reply = Reply {
        text: crate::slack::mrkdwn::escape(text),
        blocks: Vec::new(),
    };
    if let Err(e) = api.respond(url, &reply).await {
        tracing::warn!(error = %e, "could not answer through response_url");
    }
}

/// Where a golden-path form was asked for: who, in which channel (its status message goes there),
/// and how to reach them (`trigger_id` opens the modal, `response_url` tells of problems).
#[derive(Debug, Clone, Default)]
pub struct FormOrigin {
    /// Workspace id.
    pub team_id: String,
    /// The person.
    pub user_id: String,
    /// The channel (empty from the App Home: status messages then go to the person's DM).
    pub channel_id: String,
    /// The channel's name, when Slack gave it.
    pub channel_name: Option<String>,
    /// Where to tell the person what went wrong.
    pub response_url: Option<String>,
    /// Opens the modal within about 3 s of the click or command.
    pub trigger_id: Option<String>,
}

impl From<&SlashCommand> for FormOrigin {
    fn from(form: &SlashCommand) -> Self {
        Self {
            team_id: form.team_id.clone(),
            user_id: form.user_id.clone(),
            channel_id: form.channel_id.clone(),
            channel_name: form.channel_name.clone(),
            response_url: form.response_url.clone(),
            trigger_id: form.trigger_id.clone(),
        }
    }
}

impl From<&Interaction> for FormOrigin {
    fn from(interaction: &Interaction) -> Self {
        let (channel_id, channel_name) = channel_of(interaction);
        Self {
            team_id: interaction.team_id().to_owned(),
            user_id: interaction.user_id().to_owned(),
            channel_id,
            channel_name,
            response_url: interaction.response_url.clone(),
            trigger_id: interaction.trigger_id.clone(),
        }
    }
}

/// Opens the `new-service` modal: the template's first step, or the template list. Call it at
/// once: the `trigger_id` dies about 3 s after the command or click. An expired trigger is told
/// to the user through `response_url` and logged.
pub async fn open_new_service(
    state: &AppState,
    form: &FormOrigin,
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
        tracing::warn!("a new-service form was asked for without a trigger_id");
        tell(
            state,
            form.response_url.as_deref(),
            "Slack sent no way to open the form here. Please run `/idp new-service` instead.",
        )
        .await;
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

/// The person behind an interaction, as the policy sees them (identity, channel kind).
async fn caller_of(state: &AppState, interaction: &Interaction) -> Caller {
    let (channel_id, channel_name) = channel_of(interaction);
    state
        .slack_caller(
            interaction.team_id(),
            interaction.user_id(),
            &channel_id,
            channel_name.as_deref(),
        )
        .await
}

fn channel_of(interaction: &Interaction) -> (String, Option<String>) {
    interaction
        .channel
        .as_ref()
        .map_or((String::new(), None), |c| (c.id.clone(), c.name.clone()))
}

/// What a button asks for, decoded.
enum Click {
    /// A command for the door, how the audit log describes it, and its idempotency key.
    Command {
        command: Command,
        text: String,
        key: Option<String>,
    },
    /// A button idp cannot read (an older version's, a value that does not parse): what to say.
    Unreadable(&'static str),
    /// Nothing to do (a link button, an element idp does not act on).
    Ignore,
}

/// Reads one `block_actions` action into a [`Click`].
fn decode_click(interaction: &Interaction, action: &ActionPayload) -> Click {
    let value = action
        .value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty());
    fn run_id(value: Option<&str>) -> Option<&str> {
        value.filter(|v| {
            v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
    }
    match action.action_id.as_str() {
        CONFIRM_ACTION => match value.and_then(|v| serde_json::from_str::<ConfirmValue>(v).ok()) {
            Some(v) => Click::Command {
                text: format!(
                    "rollback {} {} to {} (confirmed plan {})",
                    v.s, v.e, v.t, v.h
                ),
                key: Some(format!("slack-rollback:{}:{}", v.h, interaction.user_id())),
                command: Command::Rollback {
                    service: Some(NameQuery::parse(&v.s)),
                    environment: Some(v.e),
                    to: Some(v.t),
                    confirm: Some(v.h),
                },
            },
            None => Click::Unreadable(
                "This [Roll back] button carries no plan idp can read (it may come from an older version of idp). Nothing was started; run `/idp rollback` again for a fresh preview.",
            ),
        },
        DISMISS_ACTION => Click::Command {
            command: Command::DismissRollback,
            text: "rollback preview dismissed".to_owned(),
            key: None,
        },
        CANCEL_ACTION => match run_id(value) {
            Some(id) => Click::Command {
                command: Command::CancelRun {
                    run_id: id.to_owned(),
                },
                text: format!("cancel run {id}"),
                key: None,
            },
            None => Click::Unreadable(
                "This [Cancel] button names no run idp can read (it may come from an older version of idp). Nothing was cancelled.",
            ),
        },
        APPROVE_ACTION | DENY_ACTION => {
            let approve = action.action_id == APPROVE_ACTION;
            match run_id(value) {
                Some(id) => Click::Command {
                    command: Command::Approval {
                        run_id: id.to_owned(),
                        approve,
                    },
                    text: format!(
                        "{} rollback run {id}",
                        if approve { "approve" } else { "deny" }
                    ),
                    key: None,
                },
                None => Click::Unreadable(
                    "This button names no rollback idp can read (it may come from an older version of idp). Nothing was approved or denied.",
                ),
            }
        }
        modal::TEMPLATE_SELECT => match action.selected_option.as_ref().map(|o| o.value.trim()) {
            Some(chosen) if !chosen.is_empty() => Click::Command {
                command: Command::ChooseTemplate {
                    template: chosen.to_owned(),
                },
                text: format!("new-service {chosen} (chosen in the form)"),
                key: None,
            },
            _ => Click::Ignore,
        },
        crate::slack::home::NEW_SERVICE_ACTION => Click::Command {
            command: Command::NewService {
                template: None,
                values: Vec::new(),
            },
            text: "new-service (App Home)".to_owned(),
            key: None,
        },
        crate::slack::scorecard_message::FIX_TEMPLATE_ACTION => match value {
            Some(template) => Click::Command {
                command: Command::ChooseTemplate {
                    template: template.to_owned(),
                },
                text: format!("new-service {template} (scorecard fix)"),
                key: None,
            },
            None => Click::Command {
                command: Command::NewService {
                    template: None,
                    values: Vec::new(),
                },
                text: "new-service (scorecard fix)".to_owned(),
                key: None,
            },
        },
        crate::slack::home::SCORECARD_ACTION => match value {
            Some(target) if target.chars().count() <= crate::command::MAX_NAME_CHARS => {
                Click::Command {
                    command: Command::Scorecard {
                        target: NameQuery::parse(target),
                        scorecard: None,
                    },
                    text: format!("scorecard {target} (App Home)"),
                    key: None,
                }
            }
            _ => Click::Unreadable("This [Scorecard] button names no service idp can read."),
        },
        _ if action.url.is_some() => Click::Ignore,
        _ if interaction.view.is_some() => Click::Ignore,
        _ => Click::Unreadable(
            "This button comes from an older version of idp and does nothing now. Run the command again for a fresh message.",
        ),
    }
}

/// Handles a `block_actions` payload after the HTTP acknowledgement: each button becomes a
/// command through the door, and every click that fails gets a visible, private answer with its
/// request id.
pub async fn block_actions(state: &AppState, interaction: Interaction) {
    let caller = caller_of(state, &interaction).await;
    for action in &interaction.actions {
        let request_id = state.next_request_id();
        if !first_delivery(state, &interaction, action).await {
            tracing::info!(%request_id, action_id = %action.action_id, "a click already handled (a retried interaction) is ignored");
            continue;
        }
        match decode_click(&interaction, action) {
            Click::Ignore => tracing::debug!(action_id = %action.action_id, "block action ignored"),
            Click::Unreadable(why) => {
                tracing::info!(%request_id, action_id = %action.action_id, "a button idp cannot read");
                let command = Command::Unreadable {
                    reason: format!("{why} (ref {request_id})"),
                };
                let text: String = format!(
                    "button {} with value {}",
                    action.action_id,
                    action.value.as_deref().unwrap_or_default()
                )
                .chars()
                .take(300)
                .collect();
                let (snapshot, handled) = state
                    .execute(
                        &request_id,
                        &caller,
                        Ok(command),
                        &text,
                        RequestMeta::default(),
                    )
                    .await;
                let reply = state.render(&request_id, &snapshot, &handled);
                answer_click(state, &interaction, &reply, false).await;
            }
            Click::Command { command, text, key } => {
                let (channel_id, _) = channel_of(&interaction);
                let (snapshot, handled) = state
                    .execute(
                        &request_id,
                        &caller,
                        Ok(command),
                        &text,
                        RequestMeta {
                            idempotency_key: key.as_deref(),
                            channel_id: Some(&channel_id),
                        },
                    )
                    .await;
                after_click(state, &interaction, &request_id, &snapshot, &handled).await;
            }
        }
    }
}

/// Whether this click is seen for the first time (by any replica): a retry of the same payload
/// carries the same `action_ts`. A click without one, or a store that cannot tell, counts as new
/// (the commands it makes are idempotent on their own keys).
async fn first_delivery(
    state: &AppState,
    interaction: &Interaction,
    action: &ActionPayload,
) -> bool {
    let Some(ts) = action
        .action_ts
        .as_deref()
        .filter(|t| !t.is_empty() && t.len() <= 32)
    else {
        return true;
    };
    let key = format!(
        "action:{}:{}:{}:{ts}",
        interaction.team_id(),
        interaction.user_id(),
        action.action_id
    );
    let now = chrono::Utc::now().timestamp_millis();
    match state.catalog.store().first_delivery(&key, now).await {
        Ok(first) => first,
        Err(e) => {
            tracing::warn!(error = %e, "could not check whether a click was handled; handling it");
            true
        }
    }
}

/// A plain-text notice as a reply (escaped).
fn notice(text: &str) -> Reply {
    Reply {
        text: crate::slack::mrkdwn::escape(text),
        blocks: Vec::new(),
    }
}

/// Answers the person who clicked: through the message's `response_url` (privately, or replacing
/// the message), else in a modal (App Home buttons have no `response_url`).
async fn answer_click(state: &AppState, interaction: &Interaction, reply: &Reply, replace: bool) {
    let Some(api) = &state.slack else {
        tracing::info!(text = %reply.text, "could not answer a click (no Slack client)");
        return;
    };
    if let Some(url) = interaction.response_url.as_deref() {
        if let Err(e) = api.respond_with(url, reply, replace).await {
            tracing::warn!(error = %e, "could not answer a click through response_url");
        }
    } else if let Some(trigger) = interaction.trigger_id.as_deref() {
        if let Err(e) = api.views_open(trigger, modal::answer_view(reply)).await {
            tracing::warn!(error = %e, "could not answer a click in a modal");
        }
    } else {
        tracing::info!(text = %reply.text, "could not answer a click (no response_url or trigger_id)");
    }
}

/// What the person sees after a click, by outcome: a form opens, a preview is replaced, an
/// approval or cancellation is quiet (the run's message changes in place), anything refused or
/// failed is told privately.
async fn after_click(
    state: &AppState,
    interaction: &Interaction,
    request_id: &str,
    snapshot: &Snapshot,
    handled: &Handled,
) {
    match &handled.outcome {
        Outcome::NewService(outcome) => match outcome.as_ref() {
            NewService::OpenForm { template, .. } => {
                let template = template.as_deref();
                if let Some(view) = interaction.view.as_ref().filter(|_| template.is_some()) {
                    show_template_in_form(state, interaction, view, template).await;
                } else {
                    open_new_service(
                        state,
                        &FormOrigin::from(interaction),
                        template,
                        &BTreeMap::new(),
                    )
                    .await;
                }
            }
            NewService::Lookup(_) if interaction.view.is_none() => {
                // A fix whose template left the catalog: the template list instead.
                open_new_service(
                    state,
                    &FormOrigin::from(interaction),
                    None,
                    &BTreeMap::new(),
                )
                .await;
            }
            _ => {
                answer_click(
                    state,
                    interaction,
                    &state.render(request_id, snapshot, handled),
                    false,
                )
                .await;
            }
        },
        Outcome::Rollback(_) => {
            if let Some(runs) = &state.runs {
                runs.wake();
            }
            answer_click(
                state,
                interaction,
                &state.render(request_id, snapshot, handled),
                true,
            )
            .await;
        }
        Outcome::Dismissed => {
            answer_click(
                state,
                interaction,
                &state.render(request_id, snapshot, handled),
                true,
            )
            .await;
        }
        Outcome::Approval(a) if !matches!(a.as_ref(), ApprovalOutcome::Refused(_)) => {}
        Outcome::Cancelled {
            cancelled: true, ..
        } => {}
        Outcome::Scorecard(_) if interaction.response_url.is_none() => {
            let reply = state.render(request_id, snapshot, handled);
            if let (Some(api), Some(trigger)) = (&state.slack, interaction.trigger_id.as_deref())
                && let Err(e) = api.views_open(trigger, modal::answer_view(&reply)).await
            {
                tracing::warn!(error = %e, "could not open an answer in a modal");
            }
        }
        _ => {
            answer_click(
                state,
                interaction,
                &state.render(request_id, snapshot, handled),
                false,
            )
            .await;
        }
    }
}

/// The template select inside the open form: the chosen template's first step replaces the list.
async fn show_template_in_form(
    state: &AppState,
    interaction: &Interaction,
    view: &crate::slack::inbound::ViewPayload,
    template: Option<&Template>,
) {
    let (Some(api), Some(template)) = (&state.slack, template) else {
        return;
    };
    let raw_metadata = view.private_metadata.clone().unwrap_or_default();
    let session_id = parse_metadata(&raw_metadata).0.to_owned();
    let Some(mut session) = load_session(state, Some(&session_id)).await else {
        let gone =
            modal::notice_view("This form has expired. Please run `/idp new-service` again.");
        if let Err(e) = api.views_update(&view.id, view.hash.as_deref(), gone).await {
            tracing::warn!(error = %e, "views.update failed on an expired form");
        }
        return;
    };
    if session.user_id != interaction.user_id() {
        return;
    }
    session.template = Some(template.entity_ref.key());
    session.step = 0;
    if !save_session(state, &session_id, &session).await {
        return;
    }
    let next = modal::step_view(template, 0, &session.values, &metadata(&session_id, 0));
    if let Err(e) = api.views_update(&view.id, view.hash.as_deref(), next).await {
        tracing::warn!(error = %e, "views.update failed after a template was chosen");
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
            out.insert(field.clone(), crate::slack::render::truncate(message, 150));
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
        out.insert(
            (*first).to_owned(),
            crate::slack::render::truncate(&text, 150),
        );
    }
    out
}

fn expired_form() -> Value {
    json!({
        "response_action": "update",
        "view": modal::notice_view("This form has expired or comes from an older version of idp. Please run `/idp new-service` again.")
    })
}

/// Handles a `view_submission` of the `new-service` modal and returns the HTTP response body:
/// `errors` with a message per input, `update` to the next step, or `clear` once the run is
/// recorded (the worker then posts the status message). Each step is one command through the
/// door ([`Command::NewServiceStep`]).
pub async fn view_submission(state: &AppState, interaction: Interaction) -> Value {
    let Some(view) = &interaction.view else {
        return json!({});
    };
    if view.callback_id.as_deref() != Some(modal::CALLBACK_ID) {
        let request_id = state.next_request_id();
        tracing::info!(%request_id, callback_id = ?view.callback_id, "submission of a view idp did not open");
        return json!({
            "response_action": "update",
            "view": modal::notice_view(&format!("idp does not know this form (it may come from an older version of idp); nothing was submitted. Run the command again for a fresh one. (ref {request_id})")),
        });
    }
    let raw_metadata = view.private_metadata.clone().unwrap_or_default();
    let (session_id, shown_step) = parse_metadata(&raw_metadata);
    let session_id = session_id.to_owned();
    let Some(mut session) = load_session(state, Some(&session_id)).await else {
        return expired_form();
    };
    if session.user_id != interaction.user_id() {
        tracing::warn!("a form was submitted by someone other than the person who opened it");
        return json!({"response_action": "update", "view": modal::notice_view("This form belongs to someone else.")});
    }
    let caller = state
        .slack_caller(
            &session.team_id,
            interaction.user_id(),
            &session.channel_id,
            session.channel_name.as_deref(),
        )
        .await;
    let request_id = state.next_request_id();
    let meta_key = format!("slack-view:{}", view.id);
    let meta = RequestMeta {
        idempotency_key: Some(&meta_key),
        channel_id: Some(&session.channel_id),
    };
    let snapshot = state.catalog.snapshot();
    let Some(template_key) = session.template.clone() else {
        // Submitted from the template list: the chosen template's first step.
        let Some(chosen) = view.state.as_ref().and_then(modal::chosen_template) else {
            return errors_response(BTreeMap::from([(
                modal::PICKER_BLOCK.to_owned(),
                "Pick a template first.".to_owned(),
            )]));
        };
        let text = format!("new-service {chosen} (chosen in the form)");
        let (_, handled) = state
            .execute(
                &request_id,
                &caller,
                Ok(Command::ChooseTemplate { template: chosen }),
                &text,
                meta,
            )
            .await;
        let template = match &handled.outcome {
            Outcome::NewService(n) => match n.as_ref() {
                NewService::OpenForm {
                    template: Some(t), ..
                } => t.as_ref().clone(),
                NewService::NotRunnable(t) => {
                    return errors_response(BTreeMap::from([(
                        modal::PICKER_BLOCK.to_owned(),
                        crate::slack::render::truncate(
                            &format!(
                                "This template cannot be run here: {}",
                                t.not_runnable.clone().unwrap_or_default()
                            ),
                            150,
                        ),
                    )]));
                }
                NewService::Lookup(e) => {
                    return errors_response(BTreeMap::from([(
                        modal::PICKER_BLOCK.to_owned(),
                        crate::slack::render::truncate(&e.to_string(), 150),
                    )]));
                }
                _ => return expired_form(),
            },
            _ => {
                return errors_response(BTreeMap::from([(
                    modal::PICKER_BLOCK.to_owned(),
                    format!("Something went wrong (ref {request_id}); please try again."),
                )]));
            }
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
    };
    let template = match templates::find(&snapshot, &state.templates, &template_key) {
        Ok(t) => t,
        Err(e) => {
            return json!({"response_action": "update", "view": modal::notice_view(&format!("The template is gone: {e}"))});
        }
    };
    let step = session.step.min(template.steps.len().saturating_sub(1));
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
    let command = Command::NewServiceStep {
        template: template_key,
        step,
        raw,
        collected: session.values.clone(),
    };
    let text = if step + 1 < template.steps.len() {
        format!(
            "new-service {} step {} (form)",
            template.entity_ref.name,
            step + 1
        )
    } else {
        format!("new-service {} (form)", template.entity_ref.name)
    };
    let (_, handled) = state
        .execute(&request_id, &caller, Ok(command), &text, meta)
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
            NewService::StepAccepted { values, .. } => {
                session.values.extend(values);
                session.step = step + 1;
                if !save_session(state, &session_id, &session).await {
                    return problem("the form could not be saved; please submit again".to_owned());
                }
                json!({
                    "response_action": "update",
                    "view": modal::step_view(&template, step + 1, &session.values, &metadata(&session_id, step + 1)),
                })
            }
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
        Outcome::Denied(decision) => problem(format!("You may not do this: {}", decision.reason)),
        _ => problem(format!(
            "this form could not be submitted (ref {request_id})"
        )),
    }
}

/// Answers a `block_suggestion` (an entity picker's options) within Slack's 3 s: at most 100
/// options, empty when the form is unknown. The options come from the door
/// ([`Command::Suggest`]).
pub async fn block_suggestion(state: &AppState, interaction: Interaction) -> Value {
    let empty = json!({ "options": [] });
    let Some(view) = &interaction.view else {
        return empty;
    };
    let raw_metadata = view.private_metadata.clone().unwrap_or_default();
    let Some(session) = load_session(state, Some(parse_metadata(&raw_metadata).0)).await else {
        return empty;
    };
    let Some(template) = session.template.clone() else {
        return empty;
    };
    let field = interaction.block_id.clone().unwrap_or_default();
    let query: String = interaction
        .value
        .as_deref()
        .unwrap_or_default()
        .chars()
        .take(crate::command::MAX_NAME_CHARS)
        .collect();
    let caller = caller_of(state, &interaction).await;
    let request_id = state.next_request_id();
    let text = format!("options for {field} in {template}");
    let (_, handled) = state
        .execute(
            &request_id,
            &caller,
            Ok(Command::Suggest {
                template,
                field,
                query,
            }),
            &text,
            RequestMeta::default(),
        )
        .await;
    match handled.outcome {
        Outcome::Options(items) => modal::options_response(&items),
        _ => empty,
    }
}

/// The most of a message the shortcut reads, in characters.
pub const MAX_SHORTCUT_TEXT: usize = 40_000;

/// The `callback_id` of the "Who owns this?" message shortcut (declared in `manifest.yml`).
pub const WHO_OWNS_CALLBACK: &str = "who_owns_this";

/// Handles a message shortcut (`message_action`) after the acknowledgement: "Who owns this?"
/// reads the message's text and links and answers privately through `response_url`.
pub async fn message_action(state: &AppState, interaction: Interaction) {
    let request_id = state.next_request_id();
    if interaction.callback_id.as_deref() != Some(WHO_OWNS_CALLBACK) {
        tracing::info!(callback_id = ?interaction.callback_id, "a message shortcut idp does not know");
        answer_click(
            state,
            &interaction,
            &notice(&format!(
                "idp has no shortcut by that name any more (ref {request_id})."
            )),
            false,
        )
        .await;
        return;
    }
    let text = interaction
        .message
        .as_ref()
        .map(crate::slack::inbound::MessageRef::searchable_text)
        .unwrap_or_default();
    let text: String = text.chars().take(MAX_SHORTCUT_TEXT + 1).collect();
    let caller = caller_of(state, &interaction).await;
    let audit_text = format!(
        "who-owns (message shortcut on {} characters)",
        text.chars().count().min(MAX_SHORTCUT_TEXT)
    );
    let (snapshot, handled) = state
        .execute(
            &request_id,
            &caller,
            Ok(Command::WhoOwns { text }),
            &audit_text,
            RequestMeta::default(),
        )
        .await;
    answer_click(
        state,
        &interaction,
        &state.render(&request_id, &snapshot, &handled),
        false,
    )
    .await;
}

/// Publishes `user_id`'s App Home tab (after `app_home_opened`), built by the door
/// ([`Command::Home`]). Failures are logged: the tab keeps its previous content.
pub async fn publish_home(state: &AppState, team_id: &str, user_id: &str) {
    let Some(api) = &state.slack else {
        return;
    };
    let caller = state.slack_caller(team_id, user_id, "", None).await;
    let request_id = state.next_request_id();
    let (_, handled) = state
        .execute(
            &request_id,
            &caller,
            Ok(Command::Home),
            "home (App Home opened)",
            RequestMeta::default(),
        )
        .await;
    let Outcome::Home(home) = &handled.outcome else {
        tracing::error!(%request_id, "the App Home could not be built");
        return;
    };
    if let Err(e) = api
        .views_publish(user_id, crate::slack::home::home_view(home))
        .await
    {
        tracing::warn!(%request_id, error = %e, "could not publish an App Home tab");
    }
}
