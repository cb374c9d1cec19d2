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

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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
    /// The compliance section: fixed inputs and the controls parameter values require.
    #[serde(default)]
    pub compliance: crate::templates::ComplianceConfig,
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
        let slack_api_url =
            non_empty("SLACK_API_URL").unwrap_or_else(|| DEFAULT_SLACK_API_URL.to_owned());
        if !(slack_api_url.starts_with("https://") || slack_api_url.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                name: "SLACK_API_URL",
                reason: format!(
                    "`{slack_api_url}` must be an http(s) URL such as https://slack.com/api"
                ),
            });
        }
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
        let pagerduty_api_url =
            non_empty("PAGERDUTY_API_URL").unwrap_or_else(|| DEFAULT_PAGERDUTY_API_URL.to_owned());
        if !(pagerduty_api_url.starts_with("https://") || pagerduty_api_url.starts_with("http://"))
        {
            return Err(ConfigError::Invalid {
                name: "PAGERDUTY_API_URL",
                reason: format!(
                    "`{pagerduty_api_url}` must be an http(s) URL such as https://api.pagerduty.com"
                ),
            });
        }
        let pagerduty_token = non_empty("PAGERDUTY_TOKEN").map(SecretString::from);
        Ok(Self {
            pagerduty_api_url: pagerduty_api_url.trim_end_matches('/').to_owned(),
            pagerduty_token,
            config_path,
            file,
            database_url,
            signing_secret,
            bot_token: bot_token.map(SecretString::from),
            slack_api_url: slack_api_url.trim_end_matches('/').to_owned(),
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
}
