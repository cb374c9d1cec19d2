//! Configuration: `idp.toml` for what the deployment serves (catalog sources, intervals), and the
//! environment for deployment settings and secrets. This is the only module that reads
//! environment variables. Secrets are held as [`SecretString`] and never printed.
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `IDP_CONFIG` | `./idp.toml` if present | path of the config file (`--config` wins) |
//! | `DATABASE_URL` | `sqlite://idp.db` | `sqlite://path` (created if missing) or `postgres://…` |
//! | `SLACK_SIGNING_SECRET` | none; `serve` needs it | verifies Slack's requests |
//! | `SLACK_BOT_TOKEN` | none | `xoxb-…`, for Web API calls |
//! | `SLACK_API_URL` | `https://slack.com/api` | Slack Web API base (tests point it at a fake) |
//! | `IDP_LISTEN` | `127.0.0.1:3000` | address `serve` listens on |
//! | `PAGERDUTY_API_URL` | `https://api.pagerduty.com` | PagerDuty REST API v2 base (tests point it at a fake) |
//! | `PAGERDUTY_TOKEN` | none | PagerDuty REST API token (read-only is enough) |
//! | `GITHUB_API_URL` | `https://api.github.com` | GitHub REST API base; `https://ghe.example.com/api/v3` for GitHub Enterprise Server |
//! | `GITHUB_TOKEN` | none | fine-grained or GitHub App installation token with Actions: write; enables the GitHub Actions backend |
//! | `GITHUB_WEBHOOK_SECRET` | none | verifies `workflow_run` webhooks (`X-Hub-Signature-256`) |
//! | `GITHUB_RETURN_RUN_DETAILS` | `true` | ask `workflow_dispatch` for the run id (`return_run_details`); `false` for GitHub Enterprise Server versions that refuse it |
//! | `IDP_WEBHOOK_URL` | none | the signed webhook receiver; enables the webhook backend (needs `IDP_WEBHOOK_SECRET`) |
//! | `IDP_WEBHOOK_SECRET` | none | signs requests to the receiver and verifies its callbacks |
//! | `BACKSTAGE_URL` | none | Backstage base URL (`https://backstage.example.com`); enables the scaffolder backend |
//! | `BACKSTAGE_TOKEN` | none | Backstage token (`Authorization: Bearer`), e.g. a static external-access token |
//! | `ARGOCD_URL` | none | Argo CD base URL (`https://argocd.example.com`); with `ARGOCD_TOKEN`, enables the Argo CD rollback backend |
//! | `ARGOCD_TOKEN` | none | Argo CD API token (`Authorization: Bearer`) of an account allowed to get, update and sync the applications |
//! | `ARGOCD_DISABLE_AUTOSYNC` | `false` | `true` lets idp turn auto-sync off for an application before rolling it back (Argo CD refuses to roll back while it is on) |
//! | `IDP_EXEC_TIMEOUT_SECS` | `10` | timeout of one call to an execution backend, 1 to 300 |

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

/// Default `DATABASE_URL`.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://idp.db";
/// Default `SLACK_API_URL`.
pub const DEFAULT_SLACK_API_URL: &str = "https://slack.com/api";
/// Default `IDP_LISTEN`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3000";
/// Default `PAGERDUTY_API_URL`.
pub const DEFAULT_PAGERDUTY_API_URL: &str = "https://api.pagerduty.com";
/// Default `GITHUB_API_URL`.
pub const DEFAULT_GITHUB_API_URL: &str = "https://api.github.com";
/// Default `IDP_EXEC_TIMEOUT_SECS`.
pub const DEFAULT_EXEC_TIMEOUT_SECS: u64 = 10;

/// A configuration problem, one line naming the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required setting is absent.
    #[error("{name} is not set: {why}")]
    Missing {
        /// The variable.
        name: &'static str,
        /// What needs it and where to find it.
        why: &'static str,
    },
    /// A setting has an unusable value. The value is shown only when it is not a secret.
    #[error("{name} is invalid: {reason}")]
    Invalid {
        /// The variable or config key.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// The config file cannot be read or parsed.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why (with line and column for syntax errors).
        reason: String,
    },
}

/// `[catalog]` in `idp.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogConfig {
    /// Descriptor files or folders, relative to the config file's folder.
    #[serde(default)]
    pub sources: Vec<PathBuf>,
    /// Seconds between re-syncs in `serve`; 0 turns re-syncing off. Default 300.
    #[serde(default = "default_refresh")]
    pub refresh_interval_secs: u64,
    /// Seconds between checks for another replica's sync. Default 2.
    #[serde(default = "default_poll")]
    pub poll_interval_secs: u64,
}

fn default_refresh() -> u64 {
    300
}

fn default_poll() -> u64 {
    2
}

impl Default for CatalogConfig {
    fn default() -> Self {
        Self {
            sources: Vec::new(),
            refresh_interval_secs: default_refresh(),
            poll_interval_secs: default_poll(),
        }
    }
}

/// `[authz]` in `idp.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthzConfig {
    /// The policy file (YAML), relative to the config file. Without one, the built-in default
    /// policy applies (see `authz`).
    #[serde(default)]
    pub policy: Option<PathBuf>,
}

/// `[identity]` in `idp.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// Explicit mappings, Slack user id → catalog user ref; they win over email matching.
    #[serde(default)]
    pub users: std::collections::BTreeMap<String, String>,
    /// How long a Slack user's email (from `users.info`) is cached, in seconds. Default 3600.
    #[serde(default = "default_identity_ttl")]
    pub cache_ttl_secs: u64,
}

fn default_identity_ttl() -> u64 {
    3600
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            users: Default::default(),
            cache_ttl_secs: default_identity_ttl(),
        }
    }
}

/// The contents of `idp.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The catalog section.
    #[serde(default)]
    pub catalog: CatalogConfig,
    /// The authorization section.
    #[serde(default)]
    pub authz: AuthzConfig,
    /// The identity section.
    #[serde(default)]
    pub identity: IdentityConfig,
    /// The on-call section.
    #[serde(default)]
    pub oncall: crate::oncall::OnCallConfig,
    /// The runs section: how the worker follows delegated work.
    #[serde(default)]
    pub runs: RunsConfig,
    /// The compliance section: fixed inputs and the controls parameter values require.
    #[serde(default)]
    pub compliance: crate::templates::ComplianceConfig,
    /// The events section: who may send deploy events.
    #[serde(default)]
    pub events: EventsConfig,
    /// The rollbacks section: how `/idp rollback` reads incident channels and who acts.
    #[serde(default)]
    pub rollbacks: RollbacksConfig,
    /// The digests section: how the digest scheduler runs.
    #[serde(default)]
    pub digests: DigestsConfig,
    /// The scorecards section: the definitions file and how often results are refreshed.
    #[serde(default)]
    pub scorecards: ScorecardsConfig,
}

/// `[rollbacks]`: settings of `/idp rollback`. Which channels are incident channels is the
/// policy's `incident_channel` pattern; this section says how to read the service out of one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbacksConfig {
    /// A regex over the channel name; its `service` group (else group 1) names the service.
    /// Default `^inc-\d+-(?P<service>[a-z0-9][a-z0-9._-]*)$` (`inc-1234-checkout-api` →
    /// `checkout-api`). Empty: never infer, the service must be named.
    #[serde(default)]
    pub service_from_channel: Option<String>,
    /// The environment when the command names none. Default `production`.
    #[serde(default)]
    pub default_environment: Option<String>,
    /// Minutes an approval request stays open, 1 to 1440. Default 30.
    #[serde(default)]
    pub approval_ttl_mins: Option<i64>,
    /// The backend for services with neither an `argocd/app-name` nor an
    /// `idp.dev/rollback-workflow` annotation: `webhook` (the default) or
    /// `github-actions:<owner>/<repo>/<workflow>@<ref>`; `none` to refuse such rollbacks.
    #[serde(default)]
    pub default_execution: Option<String>,
}

/// `[digests]`: the scheduler that posts scorecard digests (see [`crate::scorecards::scheduler`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestsConfig {
    /// Seconds between the scheduler's looks at the subscriptions (it also wakes when a digest
    /// falls due sooner). 1 to 3600.
    #[serde(default = "default_digest_tick")]
    pub tick_secs: u64,
    /// Seconds a replica's claim on a period holds before another may take it over (a replica
    /// that died mid-post). At least 30.
    #[serde(default = "default_digest_lease")]
    pub lease_secs: u64,
    /// Attempts at one period (Slack's `Retry-After` costs one) before it is recorded as failed.
    /// 1 to 50.
    #[serde(default = "default_digest_attempts")]
    pub max_attempts: u32,
}

fn default_digest_tick() -> u64 {
    30
}
fn default_digest_lease() -> u64 {
    300
}
fn default_digest_attempts() -> u32 {
    5
}

impl Default for DigestsConfig {
    fn default() -> Self {
        Self {
            tick_secs: default_digest_tick(),
            lease_secs: default_digest_lease(),
            max_attempts: default_digest_attempts(),
        }
    }
}

impl DigestsConfig {
    /// The scheduler's options from this section (the rest at their defaults).
    pub fn scheduler_options(&self) -> crate::scorecards::scheduler::SchedulerOptions {
        crate::scorecards::scheduler::SchedulerOptions {
            tick: Duration::from_secs(self.tick_secs),
            lease: Duration::from_secs(self.lease_secs),
            max_attempts: i64::from(self.max_attempts),
            ..crate::scorecards::scheduler::SchedulerOptions::default()
        }
    }

    /// What is wrong with the values, if anything.
    fn check(&self) -> Result<(), ConfigError> {
        if !(1..=3600).contains(&self.tick_secs)
            || self.lease_secs < 30
            || !(1..=50).contains(&self.max_attempts)
        {
            return Err(ConfigError::Invalid {
                name: "[digests]",
                reason: "tick_secs must be 1 to 3600, lease_secs at least 30, max_attempts 1 to 50"
                    .to_owned(),
            });
        }
        Ok(())
    }
}

/// `[scorecards]` in `idp.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScorecardsConfig {
    /// The scorecards file (YAML, format in `idp::scorecards`), relative to the config file.
    /// Without one, nothing is scored.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Seconds between looks for a changed catalog or deploy history. Default 30, at least 1.
    #[serde(default = "default_scorecards_poll")]
    pub poll_interval_secs: u64,
    /// Seconds after which scores are re-evaluated even when nothing changed (deploys age, days
    /// turn). Default 3600, at least 60.
    #[serde(default = "default_scorecards_refresh")]
    pub refresh_interval_secs: u64,
}

fn default_scorecards_poll() -> u64 {
    30
}

fn default_scorecards_refresh() -> u64 {
    3600
}

impl Default for ScorecardsConfig {
    fn default() -> Self {
        Self {
            file: None,
            poll_interval_secs: default_scorecards_poll(),
            refresh_interval_secs: default_scorecards_refresh(),
        }
    }
}

/// `[events]`: the sources allowed to send events to `POST /hooks/events`, and which GitHub
/// workflows are deploys.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsConfig {
    /// `[events.sources.<name>]`, by source name (`X-Idp-Source`; letters, digits, `-`, `_`).
    #[serde(default)]
    pub sources: std::collections::BTreeMap<String, EventSourceConfig>,
    /// `[events.github]`.
    #[serde(default)]
    pub github: GithubEventsConfig,
}

/// `[events.github]`: GitHub webhooks read as deploys (`POST /hooks/github/deployments`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubEventsConfig {
    /// `deploy_workflows = [{ workflow = "deploy.yml", environment = "production" }, …]`: the
    /// workflows whose `workflow_run` deliveries are deploys (see
    /// [`crate::deploys::github::DeployWorkflow`] for the optional `repository`, `service` and
    /// `version` keys).
    #[serde(default)]
    pub deploy_workflows: Vec<crate::deploys::github::DeployWorkflow>,
}

/// `[events.sources.<name>]`: how one source authenticates. Exactly one of the two; each names an
/// environment variable holding the secret (the secret itself is never in the file).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSourceConfig {
    /// The variable holding the HMAC-SHA256 secret the source signs with (`X-Idp-Signature`).
    #[serde(default)]
    pub secret_env: Option<String>,
    /// The variable holding a bearer token (`Authorization: Bearer …`), for senders that cannot
    /// compute an HMAC (Argo CD notifications).
    #[serde(default)]
    pub token_env: Option<String>,
}

/// How one event source proves itself, resolved from the environment.
#[derive(Clone)]
pub enum EventCredential {
    /// It signs every request with this secret (idp's `v1` scheme, 5-minute window).
    Hmac(SecretString),
    /// It sends this bearer token.
    Bearer(SecretString),
}

impl std::fmt::Debug for EventCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Hmac(_) => "Hmac([set])",
            Self::Bearer(_) => "Bearer([set])",
        })
    }
}

/// Resolves `[events.sources]` against the environment.
fn event_sources(
    config: &EventsConfig,
    non_empty: &dyn Fn(&str) -> Option<String>,
) -> Result<std::collections::BTreeMap<String, EventCredential>, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        name: "[events.sources]",
        reason,
    };
    let mut out = std::collections::BTreeMap::new();
    for (name, source) in &config.sources {
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid(format!(
                "`{name}` is not a source name (1 to 64 letters, digits, - or _)"
            )));
        }
        let (var, make): (&str, fn(SecretString) -> EventCredential) =
            match (&source.secret_env, &source.token_env) {
                (Some(var), None) => (var, EventCredential::Hmac),
                (None, Some(var)) => (var, EventCredential::Bearer),
                _ => {
                    return Err(invalid(format!(
                        "source `{name}` needs exactly one of secret_env or token_env"
                    )));
                }
            };
        let value = non_empty(var).ok_or_else(|| {
            invalid(format!(
                "source `{name}` reads its secret from {var}, which is not set"
            ))
        })?;
        out.insert(name.clone(), make(SecretString::from(value)));
    }
    Ok(out)
}

/// `[runs]`: how the worker treats delegated work.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunsConfig {
    /// Minutes without news from a backend after which a run fails ("no status from CI for 30
    /// min"). At least 1.
    #[serde(default = "default_stale_mins")]
    pub stale_after_mins: u64,
    /// Seconds between polls of GitHub Actions and Backstage runs. At least 1.
    #[serde(default = "default_run_poll")]
    pub poll_interval_secs: u64,
    /// Dispatch attempts before a run fails for good (transient errors only). 1 to 50.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// The backend for templates that name none: `webhook`, `backstage`, or
    /// `github-actions:<owner>/<repo>/<workflow>@<ref>`. Empty: such templates cannot run.
    #[serde(default)]
    pub default_execution: Option<String>,
}

fn default_stale_mins() -> u64 {
    30
}
fn default_run_poll() -> u64 {
    10
}
fn default_attempts() -> u32 {
    8
}

impl Default for RunsConfig {
    fn default() -> Self {
        Self {
            stale_after_mins: default_stale_mins(),
            poll_interval_secs: default_run_poll(),
            max_attempts: default_attempts(),
            default_execution: None,
        }
    }
}

/// Every setting, resolved.
pub struct Settings {
    /// The config file read, if any.
    pub config_path: Option<PathBuf>,
    /// Its contents (defaults when there is no file).
    pub file: FileConfig,
    /// `DATABASE_URL`.
    pub database_url: String,
    /// `SLACK_SIGNING_SECRET`.
    pub signing_secret: Option<SecretString>,
    /// `SLACK_BOT_TOKEN`.
    pub bot_token: Option<SecretString>,
    /// `SLACK_API_URL`.
    pub slack_api_url: String,
    /// `IDP_LISTEN`.
    pub listen: SocketAddr,
    /// `PAGERDUTY_API_URL`.
    pub pagerduty_api_url: String,
    /// `PAGERDUTY_TOKEN`.
    pub pagerduty_token: Option<SecretString>,
    /// `GITHUB_API_URL`, without a trailing `/`.
    pub github_api_url: String,
    /// `GITHUB_TOKEN`.
    pub github_token: Option<SecretString>,
    /// `GITHUB_WEBHOOK_SECRET`.
    pub github_webhook_secret: Option<SecretString>,
    /// `GITHUB_RETURN_RUN_DETAILS`.
    pub github_return_run_details: bool,
    /// `IDP_WEBHOOK_URL`. Shown in `Debug` as its origin only: receivers often carry a token in
    /// the path or query.
    pub webhook_url: Option<String>,
    /// `IDP_WEBHOOK_SECRET`.
    pub webhook_secret: Option<SecretString>,
    /// `BACKSTAGE_URL`, without a trailing `/`.
    pub backstage_url: Option<String>,
    /// `BACKSTAGE_TOKEN`.
    pub backstage_token: Option<SecretString>,
    /// `ARGOCD_URL`, without a trailing `/`.
    pub argocd_url: Option<String>,
    /// `ARGOCD_TOKEN`.
    pub argocd_token: Option<SecretString>,
    /// `ARGOCD_DISABLE_AUTOSYNC`.
    pub argocd_disable_autosync: bool,
    /// `IDP_EXEC_TIMEOUT_SECS`.
    pub exec_timeout: Duration,
    /// `IDP_PUBLIC_URL`: the base URL backends reach idp at (callbacks go to
    /// `{public_url}/hooks/runs/{run_id}`); default `http://{IDP_LISTEN}`.
    pub public_url: String,
    /// The event sources of `[events.sources]`, with their secrets from the environment.
    pub event_sources: std::collections::BTreeMap<String, EventCredential>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |s: &Option<SecretString>| if s.is_some() { "[set]" } else { "[unset]" };
        f.debug_struct("Settings")
            .field("config_path", &self.config_path)
            .field("file", &self.file)
            .field("database_url", &redact_url(&self.database_url))
            .field("signing_secret", &redact(&self.signing_secret))
            .field("bot_token", &redact(&self.bot_token))
            .field("slack_api_url", &self.slack_api_url)
            .field("listen", &self.listen)
            .field("pagerduty_api_url", &self.pagerduty_api_url)
            .field("pagerduty_token", &redact(&self.pagerduty_token))
            .field("github_api_url", &url_origin(&self.github_api_url))
            .field("github_token", &redact(&self.github_token))
            .field(
                "github_webhook_secret",
                &redact(&self.github_webhook_secret),
            )
            .field("github_return_run_details", &self.github_return_run_details)
            .field("webhook_url", &self.webhook_url.as_deref().map(url_origin))
            .field("webhook_secret", &redact(&self.webhook_secret))
            .field(
                "backstage_url",
                &self.backstage_url.as_deref().map(url_origin),
            )
            .field("backstage_token", &redact(&self.backstage_token))
            .field("argocd_url", &self.argocd_url.as_deref().map(url_origin))
            .field("argocd_token", &redact(&self.argocd_token))
            .field("argocd_disable_autosync", &self.argocd_disable_autosync)
            .field("exec_timeout", &self.exec_timeout)
            .field("public_url", &redact_url(&self.public_url))
            .field("event_sources", &self.event_sources)
            .finish()
    }
}

/// A database URL with any password replaced by `***`, fit for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// An http(s) URL reduced to its scheme and host (`https://hooks.example.com/…`), fit for logs:
/// receivers and proxies often carry a token in the user info, path or query.
pub fn url_origin(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return "[not a URL]".to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let elided = if authority_end < rest.len() || host.len() < authority.len() {
        "/…"
    } else {
        ""
    };
    format!("{}{host}{elided}", &url[..scheme_end + 3])
}

/// `value` when it is an http(s) URL, without a trailing `/`; else the error naming `name`, with
/// `example` as a hint. The value is shown reduced to its origin.
fn http_url(name: &'static str, value: &str, example: &str) -> Result<String, ConfigError> {
    let value = value.trim();
    let host = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    match host {
        Some(host) if !host.is_empty() && !host.starts_with('/') => {
            Ok(value.trim_end_matches('/').to_owned())
        }
        _ => Err(ConfigError::Invalid {
            name,
            reason: format!(
                "`{}` must be an http(s) URL such as {example}",
                if value.contains("://") {
                    url_origin(value)
                } else {
                    value.to_owned()
                }
            ),
        }),
    }
}

impl Settings {
    /// Resolves every setting from an explicit config path (the `--config` flag), the file, and
    /// environment lookups (`env("NAME")`).
    ///
    /// # Errors
    /// The first [`ConfigError`].
    pub fn load(
        config_arg: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let non_empty = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let config_path = match (config_arg, non_empty("IDP_CONFIG")) {
            (Some(p), _) => Some(p.to_path_buf()),
            (None, Some(p)) => Some(PathBuf::from(p)),
            (None, None) => Some(PathBuf::from("idp.toml")).filter(|p| p.exists()),
        };
        let file = match &config_path {
            Some(path) => read_file_config(path)?,
            None => FileConfig::default(),
        };

        let database_url =
            non_empty("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let scheme = database_url.split(':').next().unwrap_or_default();
        if !matches!(scheme, "sqlite" | "postgres" | "postgresql") || !database_url.contains(':') {
            return Err(ConfigError::Invalid {
                name: "DATABASE_URL",
                reason: format!(
                    "`{}` must start with sqlite:// or postgres://",
                    redact_url(&database_url)
                ),
            });
        }
        let signing_secret = non_empty("SLACK_SIGNING_SECRET").map(SecretString::from);
        let bot_token = non_empty("SLACK_BOT_TOKEN");
        if let Some(token) = &bot_token
            && !token.starts_with("xoxb-")
        {
            return Err(ConfigError::Invalid {
                name: "SLACK_BOT_TOKEN",
                reason:
                    "a bot token starts with `xoxb-` (OAuth & Permissions → Bot User OAuth Token)"
                        .to_owned(),
            });
        }
        let slack_api_url = http_url(
            "SLACK_API_URL",
            &non_empty("SLACK_API_URL").unwrap_or_else(|| DEFAULT_SLACK_API_URL.to_owned()),
            DEFAULT_SLACK_API_URL,
        )?;
        let listen_text = non_empty("IDP_LISTEN").unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = listen_text
            .trim()
            .parse()
            .map_err(|_| ConfigError::Invalid {
                name: "IDP_LISTEN",
                reason: format!(
                    "`{listen_text}` is not an address like 127.0.0.1:3000 or 0.0.0.0:8080"
                ),
            })?;
        let pagerduty_api_url = http_url(
            "PAGERDUTY_API_URL",
            &non_empty("PAGERDUTY_API_URL").unwrap_or_else(|| DEFAULT_PAGERDUTY_API_URL.to_owned()),
            DEFAULT_PAGERDUTY_API_URL,
        )?;
        let pagerduty_token = non_empty("PAGERDUTY_TOKEN").map(SecretString::from);
        let exec = ExecSettings::load(&non_empty)?;
        let public_url = match non_empty("IDP_PUBLIC_URL") {
            Some(url) => {
                let url = http_url("IDP_PUBLIC_URL", &url, "https://idp.example.com")?;
                if url.contains(['?', '#']) {
                    return Err(ConfigError::Invalid {
                        name: "IDP_PUBLIC_URL",
                        reason: "a base URL such as https://idp.example.com, without a query or fragment"
                            .to_owned(),
                    });
                }
                url.trim_end_matches('/').to_owned()
            }
            None => format!("http://{listen}"),
        };
        let runs = &file.runs;
        if runs.stale_after_mins == 0
            || runs.poll_interval_secs == 0
            || !(1..=50).contains(&runs.max_attempts)
        {
            return Err(ConfigError::Invalid {
                name: "[runs]",
                reason: "stale_after_mins and poll_interval_secs must be at least 1, max_attempts 1 to 50".to_owned(),
            });
        }
        file.digests.check()?;
        if file.scorecards.poll_interval_secs == 0 || file.scorecards.refresh_interval_secs < 60 {
            return Err(ConfigError::Invalid {
                name: "[scorecards]",
                reason:
                    "poll_interval_secs must be at least 1 and refresh_interval_secs at least 60"
                        .to_owned(),
            });
        }
        let event_sources = event_sources(&file.events, &non_empty)?;
        for workflow in &file.events.github.deploy_workflows {
            workflow.check().map_err(|reason| ConfigError::Invalid {
                name: "[events.github] deploy_workflows",
                reason,
            })?;
        }
        Ok(Self {
            event_sources,
            public_url,
            pagerduty_api_url,
            pagerduty_token,
            github_api_url: exec.github_api_url,
            github_token: exec.github_token,
            github_webhook_secret: exec.github_webhook_secret,
            github_return_run_details: exec.github_return_run_details,
            webhook_url: exec.webhook_url,
            webhook_secret: exec.webhook_secret,
            backstage_url: exec.backstage_url,
            backstage_token: exec.backstage_token,
            argocd_url: exec.argocd_url,
            argocd_token: exec.argocd_token,
            argocd_disable_autosync: exec.argocd_disable_autosync,
            exec_timeout: exec.timeout,
            config_path,
            file,
            database_url,
            signing_secret,
            bot_token: bot_token.map(SecretString::from),
            slack_api_url,
            listen,
        })
    }

    /// Resolves settings from the process environment.
    ///
    /// # Errors
    /// The first [`ConfigError`].
    pub fn from_env(config_arg: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load(config_arg, |name| std::env::var(name).ok())
    }

    /// The signing secret, or the error `serve` reports without it.
    ///
    /// # Errors
    /// [`ConfigError::Missing`].
    pub fn require_signing_secret(&self) -> Result<&SecretString, ConfigError> {
        self.signing_secret.as_ref().ok_or(ConfigError::Missing {
            name: "SLACK_SIGNING_SECRET",
            why: "idp serve verifies every Slack request with it (Slack app settings → Basic Information → Signing Secret)",
        })
    }

    /// A path from the config file, taken relative to the config file's folder.
    pub fn resolve_path(&self, path: &Path) -> PathBuf {
        let base = self
            .config_path
            .as_deref()
            .and_then(Path::parent)
            .unwrap_or(Path::new(""));
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            base.join(path)
        }
    }

    /// The configured catalog sources, relative paths taken from the config file's folder.
    pub fn sources(&self) -> Vec<PathBuf> {
        let base = self
            .config_path
            .as_deref()
            .and_then(Path::parent)
            .unwrap_or(Path::new(""));
        self.file
            .catalog
            .sources
            .iter()
            .map(|s| {
                if s.is_absolute() {
                    s.clone()
                } else {
                    base.join(s)
                }
            })
            .collect()
    }
}

/// The execution backends' settings, read together (see the module table).
struct ExecSettings {
    github_api_url: String,
    github_token: Option<SecretString>,
    github_webhook_secret: Option<SecretString>,
    github_return_run_details: bool,
    webhook_url: Option<String>,
    webhook_secret: Option<SecretString>,
    backstage_url: Option<String>,
    backstage_token: Option<SecretString>,
    argocd_url: Option<String>,
    argocd_token: Option<SecretString>,
    argocd_disable_autosync: bool,
    timeout: Duration,
}

impl ExecSettings {
    fn load(non_empty: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let secret = |name: &str| non_empty(name).map(SecretString::from);
        let github_api_url = http_url(
            "GITHUB_API_URL",
            &non_empty("GITHUB_API_URL").unwrap_or_else(|| DEFAULT_GITHUB_API_URL.to_owned()),
            "https://api.github.com or https://ghe.example.com/api/v3",
        )?;
        let github_return_run_details = flag(non_empty, "GITHUB_RETURN_RUN_DETAILS", true)?;
        let argocd_disable_autosync = flag(non_empty, "ARGOCD_DISABLE_AUTOSYNC", false)?;
        let webhook_url = non_empty("IDP_WEBHOOK_URL")
            .map(|v| http_url("IDP_WEBHOOK_URL", &v, "https://hooks.example.com/idp"))
            .transpose()?;
        let webhook_secret = secret("IDP_WEBHOOK_SECRET");
        if webhook_url.is_some() && webhook_secret.is_none() {
            return Err(ConfigError::Missing {
                name: "IDP_WEBHOOK_SECRET",
                why: "IDP_WEBHOOK_URL is set, and every request to it and every callback from it is signed with this secret",
            });
        }
        let backstage_url = non_empty("BACKSTAGE_URL")
            .map(|v| http_url("BACKSTAGE_URL", &v, "https://backstage.example.com"))
            .transpose()?;
        let argocd_url = non_empty("ARGOCD_URL")
            .map(|v| http_url("ARGOCD_URL", &v, "https://argocd.example.com"))
            .transpose()?;
        let timeout = match non_empty("IDP_EXEC_TIMEOUT_SECS") {
            None => Duration::from_secs(DEFAULT_EXEC_TIMEOUT_SECS),
            Some(text) => match text.trim().parse::<u64>() {
                Ok(secs @ 1..=300) => Duration::from_secs(secs),
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "IDP_EXEC_TIMEOUT_SECS",
                        reason: format!("`{text}` is not a whole number of seconds from 1 to 300"),
                    });
                }
            },
        };
        Ok(Self {
            github_api_url,
            github_token: secret("GITHUB_TOKEN"),
            github_webhook_secret: secret("GITHUB_WEBHOOK_SECRET"),
            github_return_run_details,
            webhook_url,
            webhook_secret,
            backstage_url,
            backstage_token: secret("BACKSTAGE_TOKEN"),
            argocd_url,
            argocd_token: secret("ARGOCD_TOKEN"),
            argocd_disable_autosync,
            timeout,
        })
    }
}

/// A boolean setting: `true`/`1`/`yes` or `false`/`0`/`no` (any case), `default` when unset.
fn flag(
    non_empty: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match non_empty(name)
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(other) => Err(ConfigError::Invalid {
            name,
            reason: format!("`{other}` is not true or false"),
        }),
    }
}

fn read_file_config(path: &Path) -> Result<FileConfig, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| {
        let reason = match e.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                format!("line {line}: {}", e.message())
            }
            None => e.message().to_owned(),
        };
        ConfigError::File {
            path: shown,
            reason,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn bad_settings_are_one_line_errors_naming_the_setting() {
        let e = Settings::load(None, env(&[("IDP_LISTEN", "nowhere")]))
            .err()
            .map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|e| e.starts_with("IDP_LISTEN is invalid")),
            "{e:?}"
        );
        let e = Settings::load(None, env(&[("DATABASE_URL", "mysql://x")]))
            .err()
            .map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|e| e.starts_with("DATABASE_URL is invalid")),
            "{e:?}"
        );
        let e = Settings::load(None, env(&[("SLACK_BOT_TOKEN", "xoxp-user-token")]))
            .err()
            .map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|e| e.starts_with("SLACK_BOT_TOKEN") && !e.contains("xoxp-user")),
            "{e:?}"
        );
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let s = Settings::load(
            None,
            env(&[
                ("SLACK_SIGNING_SECRET", "s3cr3t-value"),
                ("DATABASE_URL", "postgres://u:pw123@h/db"),
            ]),
        )
        .expect("valid");
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("s3cr3t-value") && !shown.contains("pw123"),
            "{shown}"
        );
    }

    #[test]
    fn execution_backend_settings_are_read_checked_and_redacted() {
        let s = Settings::load(
            None,
            env(&[
                ("GITHUB_API_URL", "https://ghe.example.com/api/v3/"),
                ("GITHUB_TOKEN", "github_pat_SECRET1"),
                ("GITHUB_WEBHOOK_SECRET", "gh-hook-SECRET2"),
                ("GITHUB_RETURN_RUN_DETAILS", "false"),
                (
                    "IDP_WEBHOOK_URL",
                    "https://hooks.example.com/T0/B0/tokenSECRET3?k=SECRET4",
                ),
                ("IDP_WEBHOOK_SECRET", "whsec-SECRET5"),
                (
                    "BACKSTAGE_URL",
                    "https://user:SECRET6@backstage.example.com",
                ),
                ("BACKSTAGE_TOKEN", "bs-SECRET7"),
                ("ARGOCD_URL", "https://argocd.example.com/"),
                ("ARGOCD_TOKEN", "argo-SECRET8"),
                ("ARGOCD_DISABLE_AUTOSYNC", "TRUE"),
                ("IDP_EXEC_TIMEOUT_SECS", "3"),
            ]),
        )
        .expect("valid");
        assert_eq!(s.github_api_url, "https://ghe.example.com/api/v3");
        assert!(!s.github_return_run_details);
        assert_eq!(s.argocd_url.as_deref(), Some("https://argocd.example.com"));
        assert!(s.argocd_disable_autosync);
        assert_eq!(s.exec_timeout, Duration::from_secs(3));
        let shown = format!("{s:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("https://hooks.example.com/…"), "{shown}");

        let defaults = Settings::load(None, env(&[])).expect("valid");
        assert_eq!(defaults.github_api_url, DEFAULT_GITHUB_API_URL);
        assert!(defaults.github_return_run_details && defaults.webhook_url.is_none());
        assert!(!defaults.argocd_disable_autosync && defaults.argocd_url.is_none());
        assert_eq!(defaults.exec_timeout, Duration::from_secs(10));

        let error = |pairs: &[(&str, &str)]| {
            Settings::load(None, env(pairs))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(
            error(&[("IDP_WEBHOOK_URL", "https://hooks.example.com/x")])
                .starts_with("IDP_WEBHOOK_SECRET is not set"),
        );
        assert!(
            error(&[("BACKSTAGE_URL", "backstage.local")]).starts_with("BACKSTAGE_URL is invalid")
        );
        assert!(
            error(&[("IDP_EXEC_TIMEOUT_SECS", "0")])
                .starts_with("IDP_EXEC_TIMEOUT_SECS is invalid")
        );
        assert!(
            error(&[("GITHUB_RETURN_RUN_DETAILS", "maybe")])
                .starts_with("GITHUB_RETURN_RUN_DETAILS is invalid")
        );
        assert!(
            error(&[("ARGOCD_DISABLE_AUTOSYNC", "sometimes")])
                .starts_with("ARGOCD_DISABLE_AUTOSYNC is invalid")
        );
        assert!(error(&[("ARGOCD_URL", "argocd:443")]).starts_with("ARGOCD_URL is invalid"));
    }
}
