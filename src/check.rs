//! `idp check`: validates the config, the command files and the Slack app manifest, and returns
//! every problem as a specific message.

use std::path::Path;

use serde_json::Value;

use crate::authz::Action;
use crate::catalog::Snapshot;
use crate::command::spec::{CommandSpec, load_specs};
use crate::scorecards::Scorecards;
use crate::templates::{self, TemplateDefaults};

/// The Template apiVersion idp reads (<https://backstage.io/docs/features/software-templates/writing-templates>).
pub const TEMPLATE_API_VERSION: &str = "scaffolder.backstage.io/v1beta3";

/// What `idp check` says about the catalog's templates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateReport {
    /// One line per runnable template: `template:default/x: runnable from Slack (webhook)`.
    pub notes: Vec<String>,
    /// Templates not runnable from Slack, with the reason; every field the form cannot express
    /// (`template:default/x: field `repoUrl`: ui:field RepoUrlPicker is not supported`); other
    /// Template apiVersions.
    pub warnings: Vec<String>,
}

/// Reads every Template of the snapshot as `/idp new-service` would and reports on each.
pub fn templates(snapshot: &Snapshot, defaults: &TemplateDefaults) -> TemplateReport {
    let mut report = TemplateReport::default();
    for t in templates::load(snapshot, defaults) {
        let at = t.entity_ref.to_string();
        if let Some(i) = snapshot.get(&t.entity_ref) {
            let api_version = &snapshot.node(i).entity.api_version;
            if !api_version.eq_ignore_ascii_case(TEMPLATE_API_VERSION) {
                report.warnings.push(format!(
                    "{at}: apiVersion {api_version} is not {TEMPLATE_API_VERSION}; its parameters are read as {TEMPLATE_API_VERSION} parameters"
                ));
            }
        }
        match (&t.not_runnable, &t.execution) {
            (Some(reason), _) => report
                .warnings
                .push(format!("{at}: not runnable from Slack: {reason}")),
            (None, Some(execution)) => report
                .notes
                .push(format!("{at}: runnable from Slack ({})", execution.kind())),
            (None, None) => {}
        }
        for p in &t.unsupported {
            report
                .warnings
                .push(format!("{at}: field `{}`: {}", p.field, p.reason));
        }
    }
    report
}

/// Warnings for fix hints of `scorecards` that name a template the catalog does not have (not
/// errors: the catalog may gain it later), one per check:
/// `scorecards.yaml: line 40: scorecard `x`, check `y`: fix template template:default/z is not in
/// the catalog`.
pub fn scorecard_templates(scorecards: &Scorecards, snapshot: &Snapshot) -> Vec<String> {
    scorecards
        .template_refs()
        .into_iter()
        .filter(|(_, _, _, r)| snapshot.get(r).is_none())
        .map(|(line, card, check, r)| {
            format!(
                "{}: line {line}: scorecard `{card}`, check `{check}`: fix template {} is not in the catalog",
                scorecards.file,
                r.short()
            )
        })
        .collect()
}

/// Bot scopes the manifest must request.
pub const REQUIRED_SCOPES: &[&str] = &[
    "commands",
    "chat:write",
    "users:read",
    "users:read.email",
    "channels:read",
    "groups:read",
    "im:write",
    "channels:join",
    "app_mentions:read",
];

/// Checks the command files of a `commands/` folder; returns the specs and the problems.
pub fn commands_dir(dir: &Path) -> (Vec<CommandSpec>, Vec<String>) {
    let mut files: Vec<(String, String)> = Vec::new();
    let mut problems = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                    continue;
                }
                match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        files.push((entry.file_name().to_string_lossy().into_owned(), text));
                    }
                    Err(e) => problems.push(format!("{}: {e}", path.display())),
                }
            }
        }
        Err(e) => problems.push(format!("{}: {e}", dir.display())),
    }
    files.sort();
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let specs = match load_specs(&borrowed) {
        Ok(specs) => specs,
        Err(errors) => {
            problems.extend(errors.iter().map(|e| format!("{}/{e}", dir.display())));
            return (Vec::new(), problems);
        }
    };
    for s in &specs {
        if let Err(e) = Action::parse(&s.permission) {
            problems.push(format!("{}/{}.toml: {e}", dir.display(), s.name));
        }
        if crate::command::spec::by_name(&s.name).is_none() {
            problems.push(format!(
                "{}/{}.toml: this build of idp has no handler for `{}`",
                dir.display(),
                s.name,
                s.name
            ));
        }
    }
    for compiled in crate::command::REGISTRY.iter() {
        if !specs.iter().any(|s| s.name == compiled.name) {
            problems.push(format!(
                "{}: `{}.toml` is missing",
                dir.display(),
                compiled.name
            ));
        }
    }
    (specs, problems)
}

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, key| v.get(key))
}

/// Checks a Slack app manifest (YAML) against what idp serves: the `/idp` command with escaping on
/// and every subcommand in its usage hint, request URLs on idp's routes, and the bot scopes.
pub fn manifest(text: &str, specs: &[CommandSpec]) -> Vec<String> {
    let doc: Value = match serde_saphyr::from_str(text) {
        Ok(doc) => doc,
        Err(e) => {
            return vec![format!(
                "manifest.yml is not valid YAML: {}",
                e.to_string().lines().next().unwrap_or("")
            )];
        }
    };
    let mut problems = Vec::new();
    if get(&doc, &["display_information", "name"])
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        problems.push("manifest.yml: display_information.name is required".to_owned());
    }
    if get(&doc, &["features", "bot_user", "display_name"]).is_none() {
        problems
            .push("manifest.yml: features.bot_user.display_name is required for a bot".to_owned());
    }
    let commands = get(&doc, &["features", "slash_commands"]).and_then(Value::as_array);
    match commands.and_then(|c| {
        c.iter()
            .find(|c| c.get("command").and_then(Value::as_str) == Some("/idp"))
    }) {
        None => {
            problems.push("manifest.yml: features.slash_commands has no `/idp` entry".to_owned());
        }
        Some(cmd) => {
            if cmd.get("should_escape").and_then(Value::as_bool) != Some(true) {
                problems.push(
                    "manifest.yml: `/idp` must set should_escape: true so mentions and links arrive as tokens".to_owned(),
                );
            }
            if cmd
                .get("description")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                problems.push("manifest.yml: `/idp` needs a description".to_owned());
            }
            let hint = cmd.get("usage_hint").and_then(Value::as_str).unwrap_or("");
            for s in specs {
                if !hint
                    .split(|c: char| !c.is_alphanumeric() && c != '-')
                    .any(|w| w == s.name)
                {
                    problems.push(format!(
                        "manifest.yml: `/idp` usage_hint does not mention `{}`",
                        s.name
                    ));
                }
            }
            if !cmd
                .get("url")
                .and_then(Value::as_str)
                .is_some_and(|u| u.ends_with("/slack/commands"))
            {
                problems.push("manifest.yml: `/idp` url must end with /slack/commands".to_owned());
            }
        }
    }
    for (path, route) in [
        (
            &["settings", "interactivity", "request_url"][..],
            "/slack/interactions",
        ),
        (
            &["settings", "event_subscriptions", "request_url"][..],
            "/slack/events",
        ),
    ] {
        if !get(&doc, path)
            .and_then(Value::as_str)
            .is_some_and(|u| u.ends_with(route))
        {
            problems.push(format!(
                "manifest.yml: {} must end with {route}",
                path.join(".")
            ));
        }
    }
    let scopes: Vec<&str> = get(&doc, &["oauth_config", "scopes", "bot"])
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for scope in REQUIRED_SCOPES {
        if !scopes.contains(scope) {
            problems.push(format!(
                "manifest.yml: oauth_config.scopes.bot lacks `{scope}`"
            ));
        }
    }
    problems
}

/// What `idp check` says about secrets and tokens: `errors` for those something configured needs
/// and lacks, `notes` for optional ones. Only names of variables, never their values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretsReport {
    /// Missing secrets that make something configured fail (exit non-zero).
    pub errors: Vec<String>,
    /// What is set, and optional secrets that are not.
    pub notes: Vec<String>,
}

/// Checks the secrets and tokens `settings` has against what is configured: Slack for `serve`,
/// PagerDuty for components that name a PagerDuty service, and the execution backend each
/// component's rollback goes to (`executors` knows which backends are configured).
pub fn secrets(
    settings: &crate::config::Settings,
    snapshot: &Snapshot,
    rollbacks: Option<&crate::actions::rollback::RollbackSettings>,
    executors: &crate::exec::Executors,
) -> SecretsReport {
    let mut report = SecretsReport::default();
    let set =
        |name: &str, value: bool| format!("{name}: {}", if value { "set" } else { "not set" });
    if settings.signing_secret.is_none() {
        report.errors.push(
            "SLACK_SIGNING_SECRET is not set: `idp serve` needs it to verify Slack's requests (Slack app → Basic Information → Signing Secret)".to_owned(),
        );
    } else {
        report.notes.push(set("SLACK_SIGNING_SECRET", true));
    }
    report.notes.push(if settings.bot_token.is_some() {
        set("SLACK_BOT_TOKEN", true)
    } else {
        "SLACK_BOT_TOKEN: not set, so Slack callers are guests unless [identity] users maps them"
            .to_owned()
    });
    let components: Vec<u32> = (0..snapshot.len())
        .filter_map(|i| u32::try_from(i).ok())
        .filter(|&i| {
            snapshot
                .node(i)
                .entity
                .entity_ref
                .kind
                .eq_ignore_ascii_case("component")
        })
        .collect();
    let paged = components
        .iter()
        .filter(|&&i| {
            snapshot
                .node(i)
                .entity
                .annotation(crate::oncall::SERVICE_ID_ANNOTATION)
                .is_some()
        })
        .count();
    match (paged, settings.pagerduty_token.is_some()) {
        (0, has) => report.notes.push(set("PAGERDUTY_TOKEN", has)),
        (n, false) => report.errors.push(format!(
            "PAGERDUTY_TOKEN is not set, but {n} component(s) name a PagerDuty service (`{}`): their on-call would be unknown",
            crate::oncall::SERVICE_ID_ANNOTATION
        )),
        (_, true) => report.notes.push(set("PAGERDUTY_TOKEN", true)),
    }
    if settings.github_token.is_some() && settings.github_webhook_secret.is_none() {
        report.notes.push(
            "GITHUB_WEBHOOK_SECRET: not set, so GitHub's workflow_run webhooks are refused"
                .to_owned(),
        );
    }
    // Where each component's rollback would go, grouped by what is missing for it.
    if let Some(rollbacks) = rollbacks {
        let mut missing: std::collections::BTreeMap<String, Vec<String>> =
            std::collections::BTreeMap::new();
        for &i in &components {
            if let Ok(execution) = crate::actions::rollback::execution_for(snapshot, i, rollbacks)
                && let Err(e) = executors.check(&execution)
            {
                missing
                    .entry(e.to_string())
                    .or_default()
                    .push(snapshot.node(i).entity.entity_ref.name.clone());
            }
        }
        for (why, services) in missing {
            let shown: Vec<&str> = services.iter().take(5).map(String::as_str).collect();
            let more = services.len().saturating_sub(shown.len());
            report.errors.push(format!(
                "rollbacks cannot be delegated: {why} (needed by {}{})",
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ));
        }
    }
    report
}
