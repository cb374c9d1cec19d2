//! The `idp` command line: argument definitions and the subcommands' bodies. `main` only parses,
//! sets up logging and calls [`run`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::authz::{Caller, Origin, Policy};
use crate::catalog::{CatalogService, EntityRef, SourceReport};
use crate::config::{Settings, redact_url};
use crate::slack::verify::SignatureVerifier;
use crate::store::Store;
use crate::wiring::{App, Tasks, policy_of, rollback_settings, scorecards_of, template_defaults};

/// idp: the chat front door of your developer portal.
#[derive(Debug, Parser)]
#[command(name = "idp", version, about)]
pub struct Cli {
    /// Path of idp.toml (default: $IDP_CONFIG, else ./idp.toml when present).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Serve the Slack app over HTTP ($IDP_LISTEN, default 127.0.0.1:3000).
    Serve,
    /// A local chat: type commands as in Slack and read the replies in the terminal.
    #[command(after_help = SHELL_EXIT_CODES)]
    Shell {
        /// Run one command and exit, e.g. -c "owner checkout-api".
        #[arg(short = 'c', long = "command", value_name = "COMMAND")]
        command: Option<String>,
        /// Print the Block Kit JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Act as this catalog user (entity ref such as user:jane.doe, or an email).
        #[arg(long = "as", value_name = "USER")]
        as_user: Option<String>,
        /// Act as if typing in this Slack channel (e.g. inc-1234-checkout-api, or directmessage).
        #[arg(long, value_name = "NAME")]
        channel: Option<String>,
    },
    /// Catalog maintenance.
    Catalog {
        /// What to do with the catalog.
        #[command(subcommand)]
        command: CatalogCmd,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// The audit log.
    Audit {
        /// What to do with it.
        #[command(subcommand)]
        command: AuditCmd,
    },
    /// REST API tokens.
    Token {
        /// What to do with tokens.
        #[command(subcommand)]
        command: TokenCmd,
    },
    /// Validate idp.toml, the catalog's templates, the policy, commands/, manifest.yml (when
    /// present) and the secrets what is configured needs; exits 1 when it found an error.
    #[command(
        after_help = "Lines: `note:` (information), `warning:` (worth a look; the catalog may lag behind \
                      the config), `error:` (on standard error). Exit status: 0 no errors, 1 errors \
                      found (the last line counts them). Secrets are named, never printed."
    )]
    Check,
}

/// The exit statuses of `idp shell -c` (see [`crate::shell::exit_code`]).
const SHELL_EXIT_CODES: &str = "Exit status of -c (the reply is printed in every case):
  0  answered (a rollback preview or a form counts as answered)
  1  failed: an internal error, or it could not be done (no rollback plan, already under way)
  2  invalid: unknown command or bad arguments
  3  refused: the policy denied it, or not allowed in this channel
  4  not found: no such service, group or help topic, or an ambiguous name";

/// Ends `idp` with this exit status and no further message: what went wrong was printed already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit(pub u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for Exit {}

/// `idp audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Check the hash chain and name the first broken record.
    Verify,
    /// Write records as JSON lines. Times: RFC 3339, YYYY-MM-DD, or an age like 24h / 7d.
    Export {
        /// Only records at or after this time.
        #[arg(long, value_parser = crate::audit::parse_time_now)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Only records before this time.
        #[arg(long, value_parser = crate::audit::parse_time_now)]
        until: Option<chrono::DateTime<chrono::Utc>>,
    },
}

/// `idp token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Create a token (the secret is printed once).
    Create {
        /// The scope, e.g. audit.read.
        #[arg(long)]
        scope: String,
    },
    /// Revoke a token by id.
    Revoke {
        /// The token id printed at creation.
        token_id: String,
    },
}

/// `idp catalog …`.
#[derive(Debug, Subcommand)]
pub enum CatalogCmd {
    /// Ingest descriptor files or folders (default: the sources in idp.toml) and report.
    Sync {
        /// Files or folders of catalog-info.yaml descriptors.
        paths: Vec<PathBuf>,
    },
    /// Write a synthetic catalog for benchmarks.
    Generate {
        /// How many components.
        #[arg(long)]
        components: usize,
        /// Folder to write into (created).
        #[arg(long)]
        out: PathBuf,
    },
}

async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let store = Store::connect(&settings.database_url, None)
        .await
        .with_context(|| format!("opening {}", redact_url(&settings.database_url)))?;
    store.migrate().await.context("migrating the database")?;
    Ok(store)
}

/// Prints a sync report in the shape operators read: per source, what was read, stored and every
/// problem with its file and document.
pub fn print_reports(
    reports: &[SourceReport],
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    for r in reports {
        writeln!(
            out,
            "source {}: {} files, {} documents",
            r.source, r.files_read, r.documents
        )?;
        if !r.read_by_kind.is_empty() {
            let kinds: Vec<String> = r
                .read_by_kind
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect();
            writeln!(out, "  read: {}", kinds.join(", "))?;
        }
        match &r.outcome {
            Ok(o) => {
                writeln!(
                    out,
                    "  stored: {} inserted, {} updated, {} deleted, {} unchanged{}",
                    o.inserted,
                    o.updated,
                    o.deleted,
                    o.unchanged,
                    if o.kept_despite_errors > 0 {
                        format!(", {} kept from files with errors", o.kept_despite_errors)
                    } else {
                        String::new()
                    }
                )?;
            }
            Err(e) => writeln!(out, "  not stored: {e}")?,
        }
        if !r.problems.is_empty() {
            writeln!(out, "  problems ({}):", r.problems.len())?;
            for p in &r.problems {
                writeln!(out, "    {p}")?;
            }
        }
    }
    Ok(())
}

async fn print_catalog(store: &Store) -> anyhow::Result<()> {
    let counts = store.count_by_kind().await?;
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let kinds: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    println!(
        "catalog: {total} entities ({})",
        if kinds.is_empty() {
            "empty".to_owned()
        } else {
            kinds.join(", ")
        }
    );
    Ok(())
}

fn resolve_caller(service: &CatalogService, as_user: Option<&str>) -> anyhow::Result<Caller> {
    let Some(who) = as_user else {
        return Ok(Caller::guest(Origin::Shell));
    };
    let snapshot = service.snapshot();
    let found = if who.contains('@') {
        snapshot.user_by_email(who)
    } else {
        EntityRef::parse(who, Some("User"), crate::catalog::DEFAULT_NAMESPACE)
            .ok()
            .and_then(|r| snapshot.get(&r))
    };
    match found {
        Some(i) => Ok(Caller::user(
            Origin::Shell,
            snapshot.node(i).entity.entity_ref.clone(),
        )),
        None => bail!("--as {who}: no catalog User has that ref or email"),
    }
}

async fn sync_configured(service: &CatalogService, settings: &Settings) {
    let sources = settings.sources();
    if sources.is_empty() {
        return;
    }
    let reports = service.sync(&sources).await;
    for r in &reports {
        match &r.outcome {
            Ok(o) => tracing::info!(
                source = %r.source, inserted = o.inserted, updated = o.updated, deleted = o.deleted,
                unchanged = o.unchanged, problems = r.problems.len(), "catalog source synced"
            ),
            Err(e) => tracing::error!(source = %r.source, error = %e, "catalog source not synced"),
        }
        for p in &r.problems {
            tracing::warn!(source = %r.source, problem = %p, "catalog problem");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down");
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let secret = settings.require_signing_secret()?;
    let verifier = SignatureVerifier::new(secret);
    policy_of(&settings)?;
    let scorecards = scorecards_of(&settings)?;
    let store = open_store(&settings).await?;
    let service = Arc::new(
        CatalogService::open(store)
            .await
            .context("loading the catalog")?,
    );
    sync_configured(&service, &settings).await;
    let app = App::builder(&settings, service.clone())
        .verify_with(verifier)
        .scorecards(scorecards)
        .build()?;
    let background = app.start_background(Tasks::ALL);
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("IDP_LISTEN: cannot listen on {}", settings.listen))?;
    tracing::info!(
        listen = %settings.listen,
        store = service.store().backend(),
        entities = service.snapshot().len(),
        "idp serving Slack on /slack/commands, /slack/interactions, /slack/events"
    );
    axum::serve(listener, crate::app(&app))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    background.stop().await;
    if let Some(audit) = &app.state.audit {
        audit.flush().await;
    }
    Ok(())
}

/// The shell runs its own worker, and (when a webhook backend is configured) listens for the
/// backend's callbacks on `IDP_LISTEN`, so `new-service` finishes without an `idp serve`.
async fn shell_background(settings: &Settings, app: &App) -> Vec<tokio::task::JoinHandle<()>> {
    let Some(runs) = app.state.runs.clone() else {
        return Vec::new();
    };
    let mut tasks = vec![tokio::spawn(runs.run_worker(std::future::pending()))];
    if settings.webhook_url.is_some()
        && let Some(router) = app.hooks_router()
    {
        match tokio::net::TcpListener::bind(settings.listen).await {
            Ok(listener) => {
                tasks.push(tokio::spawn(async move {
                    if let Err(e) = axum::serve(listener, router).await {
                        tracing::warn!(error = %e, "the shell's callback listener stopped");
                    }
                }));
            }
            Err(e) => {
                tracing::info!(listen = %settings.listen, error = %e, "the shell cannot listen for run callbacks on IDP_LISTEN; they reach whichever idp listens there");
            }
        }
    }
    tasks
}

fn check(settings: &Settings) -> anyhow::Result<()> {
    let mut problems: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    match &settings.config_path {
        Some(p) => notes.push(format!("config: {}", p.display())),
        None => notes.push("config: none (idp uses the store as it is)".to_owned()),
    }
    let mut known_refs = std::collections::HashSet::new();
    let mut entities = Vec::new();
    for s in settings.sources() {
        if !s.exists() {
            problems.push(format!("[catalog] sources: {} does not exist", s.display()));
        } else {
            let read = crate::catalog::read_source(&s);
            known_refs.extend(read.entities.iter().map(|e| e.entity_ref.key()));
            entities.extend(read.entities.iter().filter_map(|e| {
                let doc: serde_json::Value = serde_json::from_str(&e.body).ok()?;
                crate::catalog::Entity::from_document(&doc).ok()
            }));
        }
    }
    let catalog_snapshot = crate::catalog::Snapshot::build(entities, 0);
    let mut warnings: Vec<String> = Vec::new();
    let config_name = settings
        .config_path
        .as_ref()
        .map_or_else(|| "idp.toml".to_owned(), |p| p.display().to_string());
    problems.extend(
        crate::oncall::validate(&settings.file.oncall)
            .into_iter()
            .map(|p| format!("{config_name}: {p}")),
    );
    if !catalog_snapshot.is_empty() {
        warnings.extend(
            crate::oncall::catalog_warnings(&settings.file.oncall, &catalog_snapshot)
                .into_iter()
                .map(|w| format!("{config_name}: {w}")),
        );
    }
    problems.extend(
        settings
            .file
            .compliance
            .validate()
            .into_iter()
            .map(|p| format!("{config_name}: {p}")),
    );
    let template_defaults = match template_defaults(settings) {
        Ok(d) => d,
        Err(e) => {
            problems.push(format!("{config_name}: {e}"));
            crate::templates::TemplateDefaults {
                execution: None,
                compliance: settings.file.compliance.clone(),
            }
        }
    };
    let rollbacks = match rollback_settings(&settings.file.rollbacks) {
        Ok(r) => Some(r),
        Err(e) => {
            problems.push(format!("{config_name}: {e}"));
            None
        }
    };
    let report = crate::check::templates(&catalog_snapshot, &template_defaults);
    notes.extend(report.notes);
    warnings.extend(report.warnings);
    // Which backends the runnable templates and the rollbacks need, and whether this environment
    // configures them (with their secrets); a missing one is an error.
    match crate::exec::Executors::new(crate::exec::ExecConfig::from_settings(settings)) {
        Ok(executors) => {
            for t in crate::templates::load(&catalog_snapshot, &template_defaults) {
                if let (None, Some(execution)) = (&t.not_runnable, &t.execution)
                    && let Err(e) = executors.check(execution)
                {
                    problems.push(format!("{}: cannot run here: {e}", t.entity_ref));
                }
            }
            let secrets =
                crate::check::secrets(settings, &catalog_snapshot, rollbacks.as_ref(), &executors);
            problems.extend(secrets.errors);
            notes.extend(secrets.notes);
        }
        Err(e) => problems.push(format!("execution backends: {e}")),
    }
    let policy_path = settings
        .file
        .authz
        .policy
        .as_ref()
        .map(|p| settings.resolve_path(p));
    let policy = match &policy_path {
        Some(path) => Policy::load(path),
        None => Ok(Policy::builtin()),
    };
    match policy {
        Ok(policy) => {
            notes.push(format!(
                "policy: {} ({} rules)",
                policy_path
                    .as_ref()
                    .map_or_else(|| "built in".to_owned(), |p| p.display().to_string()),
                policy.rules().len()
            ));
            warnings.extend(policy.warnings.iter().map(ToString::to_string));
            if policy.rules().is_empty() {
                warnings.push(
                    "the policy has no rules, so every request is denied (deny by default)"
                        .to_owned(),
                );
            }
            if !known_refs.is_empty() {
                let file = policy_path.as_ref().map_or_else(
                    || "policy.yaml (built in)".to_owned(),
                    |p| p.display().to_string(),
                );
                for (line, r) in policy.named_refs() {
                    if !known_refs.contains(&r.key()) {
                        warnings.push(format!(
                            "{file}: line {line}: {} is not in the catalog",
                            r.short()
                        ));
                    }
                }
            }
        }
        Err(e) => problems.push(e.to_string()),
    }
    if let Some(path) = &settings.file.scorecards.file {
        let path = settings.resolve_path(path);
        match crate::scorecards::load(&path) {
            Ok(definitions) => {
                notes.push(format!(
                    "scorecards: {} ({} scorecards, {} checks)",
                    path.display(),
                    definitions.scorecards.len(),
                    definitions
                        .scorecards
                        .iter()
                        .map(|c| c.checks.len())
                        .sum::<usize>()
                ));
                if !known_refs.is_empty() {
                    warnings.extend(crate::check::scorecard_templates(
                        &definitions,
                        &catalog_snapshot,
                    ));
                }
            }
            Err(errors) => problems.extend(errors.0.iter().map(ToString::to_string)),
        }
    }
    let base = settings
        .config_path
        .as_deref()
        .and_then(Path::parent)
        .unwrap_or(Path::new(""));
    let commands_dir = if base.join("commands").is_dir() {
        base.join("commands")
    } else {
        PathBuf::from("commands")
    };
    let specs = if commands_dir.is_dir() {
        let (specs, p) = crate::check::commands_dir(&commands_dir);
        problems.extend(p);
        notes.push(format!(
            "commands: {} in {}",
            specs.len(),
            commands_dir.display()
        ));
        specs
    } else {
        notes.push("commands: no commands/ folder here; checking the built-in registry".to_owned());
        crate::command::REGISTRY.clone()
    };
    let manifest_path = if base.join("manifest.yml").exists() {
        base.join("manifest.yml")
    } else {
        PathBuf::from("manifest.yml")
    };
    match std::fs::read_to_string(&manifest_path) {
        Ok(text) => {
            problems.extend(crate::check::manifest(&text, &specs));
            notes.push(format!("manifest: {}", manifest_path.display()));
        }
        // A container carries the binary and idp.toml, not the Slack app manifest.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => notes.push(format!(
            "manifest: no {} here; the Slack app manifest was not compared",
            manifest_path.display()
        )),
        Err(e) => problems.push(format!("{}: {e}", manifest_path.display())),
    }
    for n in &notes {
        println!("note: {n}");
    }
    for w in &warnings {
        println!("warning: {w}");
    }
    if problems.is_empty() {
        println!(
            "ok: no errors{}",
            match warnings.len() {
                0 => String::new(),
                n => format!(" ({n} warning(s), which do not fail the check)"),
            }
        );
        Ok(())
    } else {
        for p in &problems {
            eprintln!("error: {p}");
        }
        bail!("{} problem(s) found", problems.len())
    }
}

/// Runs the chosen subcommand.
///
/// # Errors
/// Anything that stops the subcommand, with context for the operator.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::from_env(cli.config.as_deref())?;
    tracing::debug!(?settings, "settings resolved");
    match cli.command {
        Cmd::Serve => serve(settings).await,
        Cmd::Migrate => {
            let store = open_store(&settings).await?;
            println!(
                "migrations applied to {} ({})",
                redact_url(&settings.database_url),
                store.backend()
            );
            Ok(())
        }
        Cmd::Check => check(&settings),
        Cmd::Audit {
            command: AuditCmd::Verify,
        } => {
            let store = open_store(&settings).await?;
            if !crate::audit::cli::verify(&store, &mut std::io::stdout()).await? {
                bail!("the audit chain is broken");
            }
            Ok(())
        }
        Cmd::Audit {
            command: AuditCmd::Export { since, until },
        } => {
            let store = open_store(&settings).await?;
            let mut out = std::io::BufWriter::new(std::io::stdout());
            let n = crate::audit::cli::export(&store, since, until, &mut out).await?;
            eprintln!("{n} records exported");
            Ok(())
        }
        Cmd::Token {
            command: TokenCmd::Create { scope },
        } => {
            let store = open_store(&settings).await?;
            crate::audit::cli::create_token(&store, &scope, &mut std::io::stdout()).await
        }
        Cmd::Token {
            command: TokenCmd::Revoke { token_id },
        } => {
            let store = open_store(&settings).await?;
            crate::audit::cli::revoke_token(&store, &token_id, &mut std::io::stdout()).await
        }
        Cmd::Catalog {
            command: CatalogCmd::Generate { components, out },
        } => {
            let report = crate::catalog::generate::generate(components, &out)
                .with_context(|| format!("writing the catalog into {}", out.display()))?;
            println!(
                "wrote {} files into {}: {} components, {} apis, {} systems, {} resources, {} groups, {} users",
                report.files,
                out.display(),
                report.components,
                report.apis,
                report.systems,
                report.resources,
                report.groups,
                report.users
            );
            Ok(())
        }
        Cmd::Catalog {
            command: CatalogCmd::Sync { paths },
        } => {
            let paths = if paths.is_empty() {
                settings.sources()
            } else {
                paths
            };
            if paths.is_empty() {
                bail!(
                    "nothing to sync: name a file or folder, or set [catalog] sources in idp.toml"
                );
            }
            let store = open_store(&settings).await?;
            let service = CatalogService::open_unloaded(store);
            let reports = service.sync_store_only(&paths).await;
            print_reports(&reports, &mut std::io::stdout().lock())?;
            print_catalog(service.store()).await?;
            if reports.iter().all(SourceReport::failed) {
                bail!("nothing could be read from any source");
            }
            Ok(())
        }
        Cmd::Shell {
            command,
            json,
            as_user,
            channel,
        } => {
            let store = open_store(&settings).await?;
            let service = Arc::new(
                CatalogService::open(store)
                    .await
                    .context("loading the catalog")?,
            );
            sync_configured(&service, &settings).await;
            let caller = resolve_caller(&service, as_user.as_deref())?;
            let caller = match channel {
                Some(name) => {
                    let kind =
                        crate::authz::ChannelKind::classify(Some(&name), &policy_of(&settings)?);
                    caller.in_channel(kind)
                }
                None => caller,
            };
            let scorecards = scorecards_of(&settings)?;
            let app = App::builder(&settings, service)
                .for_shell()
                .scorecards(scorecards)
                .build()?;
            if let Some(scorer) = &app.scorer
                && let Err(e) = scorer.evaluate_now(chrono::Utc::now()).await
            {
                tracing::warn!(error = %e, "scorecards evaluated but not recorded");
            }
            let state = app.state.clone();
            let background = shell_background(&settings, &app).await;
            let status = crate::shell::run(&state, &caller, command.as_deref(), json).await?;
            for task in background {
                task.abort();
            }
            if let Some(audit) = &state.audit {
                audit.flush().await;
            }
            if status == crate::shell::EXIT_ANSWERED {
                Ok(())
            } else {
                Err(Exit(status).into())
            }
        }
    }
}
