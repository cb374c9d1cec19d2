//! The local chat adapter: lines typed in a terminal go through the same dispatcher as Slack, and
//! the Block Kit reply is printed as readable text (or as JSON with `--json`).

use std::io::{IsTerminal, Write};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::app::{AppState, RequestMeta};
use crate::authz::Caller;
use crate::command::{self, Command, Dialect};
use crate::handlers::Outcome;
use crate::slack::render::Reply;

static LINK_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<([^<>|]+)\|([^<>]*)>|<([^<>|]+)>").expect("static regex"));
static BOLD_RE: LazyLock<Regex> =
    // As in Slack, bold needs a non-space right inside each `*` (so `0 9 * * 1-5` stays as is).
    LazyLock::new(|| Regex::new(r"\*([^*\s](?:[^*\n]*[^*\s])?)\*").expect("static regex"));
static ITALIC_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)(^|[\s(])_([^\n]+?)_($|[\s).,])").expect("static regex"));

/// mrkdwn to terminal text: links as `label <url>`, bold and italic markers dropped, entities
/// decoded.
pub fn mrkdwn_to_text(text: &str) -> String {
    let text = LINK_RE.replace_all(text, |c: &regex::Captures<'_>| {
        match (c.get(1), c.get(2), c.get(3)) {
            (Some(url), Some(label), _) if label.as_str() == url.as_str() => {
                url.as_str().to_owned()
            }
            (Some(url), Some(label), _) => format!("{} <{}>", label.as_str(), url.as_str()),
            (_, _, Some(url)) => url.as_str().to_owned(),
            _ => String::new(),
        }
    });
    let text = BOLD_RE.replace_all(&text, "$1");
    let text = ITALIC_RE.replace_all(&text, "$1$2$3");
    crate::command::text::decode_entities(&text)
        .replace('\u{2060}', "")
        .replace("&amp;", "&")
}

fn text_of(v: &Value) -> String {
    match v.get("type").and_then(Value::as_str) {
        Some("mrkdwn") => mrkdwn_to_text(v.get("text").and_then(Value::as_str).unwrap_or("")),
        _ => v
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
    }
}

/// Renders Block Kit blocks (as JSON) as terminal text.
pub fn blocks_to_text(blocks: &[Value]) -> String {
    let mut out = String::new();
    for block in blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("header") => {
                let title = block.get("text").map(text_of).unwrap_or_default();
                out.push_str(&format!(
                    "{title}\n{}\n",
                    "=".repeat(title.chars().count().min(72))
                ));
            }
            Some("section") => {
                if let Some(t) = block.get("text") {
                    out.push_str(&text_of(t));
                    out.push('\n');
                }
                if let Some(fields) = block.get("fields").and_then(Value::as_array) {
                    for f in fields {
                        let t = text_of(f);
                        let mut lines = t.lines();
                        let label = lines.next().unwrap_or("");
                        let value: Vec<&str> = lines.collect();
                        out.push_str(&format!("  {label}: {}\n", value.join(" ")));
                    }
                }
            }
            Some("context") => {
                let parts: Vec<String> = block
                    .get("elements")
                    .and_then(Value::as_array)
                    .map(|els| els.iter().map(text_of).collect())
                    .unwrap_or_default();
                out.push_str(&format!("  ({})\n", parts.join(" · ")));
            }
            Some("divider") => out.push_str("----\n"),
            _ => {}
        }
    }
    out
}

/// Renders a reply for the terminal, as text or as pretty JSON.
pub fn render(reply: &Reply, json: bool) -> String {
    if json {
        return serde_json::to_string_pretty(&reply.ephemeral()).unwrap_or_default();
    }
    let blocks: Vec<Value> = reply
        .blocks
        .iter()
        .filter_map(|b| serde_json::to_value(b).ok())
        .collect();
    blocks_to_text(&blocks)
}

/// Exit status of `idp shell -c`: the command was answered (a preview or a form counts).
pub const EXIT_ANSWERED: u8 = 0;
/// Exit status: the command could not be carried out (an internal error, no rollback plan, a
/// template that cannot run, a rollback already under way).
pub const EXIT_FAILED: u8 = 1;
/// Exit status: the command line is invalid (unknown command, bad arguments).
pub const EXIT_INVALID: u8 = 2;
/// Exit status: refused (by the policy, or not allowed in this channel).
pub const EXIT_REFUSED: u8 = 3;
/// Exit status: the name matched nothing, or several things (ambiguous), or an unknown help topic.
pub const EXIT_NOT_FOUND: u8 = 4;

/// The exit status for an outcome label ([`crate::handlers::Handled::outcome_label`]).
pub fn exit_code(label: &str) -> u8 {
    match label {
        "denied" => EXIT_REFUSED,
        "not_found" | "ambiguous" => EXIT_NOT_FOUND,
        "invalid" => EXIT_INVALID,
        "failed" | "no_plan" | "not_runnable" | "in_progress" | "plan_changed" => EXIT_FAILED,
        _ => EXIT_ANSWERED,
    }
}

/// Runs the shell: one command (`one_shot`) or a read–reply loop on standard input until EOF or
/// `exit`. Returns the exit status: for one command, [`exit_code`] of its outcome; for the loop,
/// [`EXIT_ANSWERED`].
///
/// # Errors
/// I/O errors on standard input or output.
pub async fn run(
    state: &AppState,
    caller: &Caller,
    one_shot: Option<&str>,
    json: bool,
) -> std::io::Result<u8> {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    if let Some(line) = one_shot {
        return quiet_on_closed_pipe(answer(state, caller, line, json, &mut lines).await);
    }
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        writeln!(
            std::io::stdout().lock(),
            "idp shell: {} entities in the catalog. Type `help`, or `exit` to leave.",
            state.catalog.snapshot().len()
        )?;
    }
    loop {
        if interactive {
            print!("idp> ");
            std::io::stdout().flush()?;
        }
        let Some(line) = lines.next_line().await? else {
            break;
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if matches!(line, "exit" | "quit" | ":q") {
            break;
        }
        let written = answer(state, caller, line, json, &mut lines).await;
        if written
            .as_ref()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
        {
            break;
        }
        written?;
    }
    Ok(EXIT_ANSWERED)
}

/// Answers one line: `new-service` runs the terminal form, anything else is dispatched. Returns
/// the exit status of its outcome.
async fn answer<R: tokio::io::AsyncBufRead + Unpin>(
    state: &AppState,
    caller: &Caller,
    line: &str,
    json: bool,
    input: &mut crate::shell_form::Input<R>,
) -> std::io::Result<u8> {
    if let Ok(Command::NewService { template, values }) =
        command::parse(line, Dialect::Plain, chrono::Utc::now())
    {
        return new_service(state, caller, line, template, values, json, input).await;
    }
    let (reply, label) = state.dispatch_labelled(caller, line, Dialect::Plain).await;
    writeln!(std::io::stdout().lock(), "{}", render(&reply, json))?;
    Ok(exit_code(label))
}

/// `new-service` in the terminal: pick a template, fill its fields, run the same command the
/// modal would, then follow the run.
async fn new_service<R: tokio::io::AsyncBufRead + Unpin>(
    state: &AppState,
    caller: &Caller,
    line: &str,
    mut template: Option<String>,
    mut values: Vec<(String, String)>,
    json: bool,
    input: &mut crate::shell_form::Input<R>,
) -> std::io::Result<u8> {
    use crate::handlers::new_service::NewService;
    use crate::shell_form::{fill, follow, pick, summary};
    let key = format!(
        "shell:{}",
        hex::encode(crate::audit::token::random_bytes::<12>())
    );
    for _ in 0..3 {
        let request_id = state.next_request_id();
        let command = Command::NewService {
            template: template.clone(),
            values: values.clone(),
        };
        let (snapshot, handled) = state
            .execute(
                &request_id,
                caller,
                Ok(command),
                line,
                RequestMeta {
                    idempotency_key: Some(&key),
                    channel_id: None,
                },
            )
            .await;
        if let Outcome::NewService(outcome) = &handled.outcome {
            match outcome.as_ref() {
                NewService::OpenForm { template: None, .. } => {
                    let list = crate::actions::scaffold::templates(
                        &snapshot,
                        &state.templates,
                        state.runs.as_deref(),
                    );
                    match pick(&list, input).await? {
                        Some(t) => template = Some(t),
                        None => return nothing_created(),
                    }
                    continue;
                }
                NewService::OpenForm {
                    template: Some(t), ..
                } => match fill(t, &values, &snapshot, input).await? {
                    Some(all) => {
                        values = all;
                        template = Some(t.entity_ref.key());
                        continue;
                    }
                    None => return nothing_created(),
                },
                NewService::Started { run, .. } => {
                    writeln!(
                        std::io::stdout().lock(),
                        "{}",
                        render(&state.render(&request_id, &snapshot, &handled), json)
                    )?;
                    let Some(runs) = &state.runs else {
                        return Ok(EXIT_ANSWERED);
                    };
                    runs.wake();
                    writeln!(
                        std::io::stdout().lock(),
                        "Waiting for {} to report back (Ctrl-C stops waiting; the run goes on).",
                        crate::actions::run::execution_label(&run.execution)
                    )?;
                    if let Some(done) = follow(runs, &run.id).await {
                        writeln!(std::io::stdout().lock(), "{}", summary(&done))?;
                    }
                    return Ok(EXIT_ANSWERED);
                }
                _ => {}
            }
        }
        let reply = state.render(&request_id, &snapshot, &handled);
        writeln!(std::io::stdout().lock(), "{}", render(&reply, json))?;
        return Ok(exit_code(handled.outcome_label()));
    }
    nothing_created()
}

/// The person left the form: nothing was asked of a backend, nothing failed.
fn nothing_created() -> std::io::Result<u8> {
    writeln!(std::io::stdout().lock(), "Nothing created.")?;
    Ok(EXIT_ANSWERED)
}

/// A reader that went away (`idp shell -c … | head -3`) is not an error.
fn quiet_on_closed_pipe(result: std::io::Result<u8>) -> std::io::Result<u8> {
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(EXIT_ANSWERED),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_outcome_label_has_its_documented_exit_status() {
        for (label, want) in [
            ("answered", EXIT_ANSWERED),
            ("previewed", EXIT_ANSWERED),
            ("form_opened", EXIT_ANSWERED),
            ("started", EXIT_ANSWERED),
            ("failed", EXIT_FAILED),
            ("no_plan", EXIT_FAILED),
            ("in_progress", EXIT_FAILED),
            ("invalid", EXIT_INVALID),
            ("denied", EXIT_REFUSED),
            ("not_found", EXIT_NOT_FOUND),
            ("ambiguous", EXIT_NOT_FOUND),
        ] {
            assert_eq!(exit_code(label), want, "{label}");
        }
    }
}
