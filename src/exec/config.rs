//! What the execution backends need to know, taken from [`Settings`](crate::config::Settings)
//! (the environment) or built directly by tests. A backend whose credentials or URL are absent is
//! not configured, and a run that needs it fails with [`super::ExecError::NotConfigured`].

use std::time::Duration;

use secrecy::SecretString;

use crate::config::{DEFAULT_EXEC_TIMEOUT_SECS, Settings, url_origin};

/// GitHub Actions settings.
#[derive(Clone)]
pub struct GithubConfig {
    /// REST API base without a trailing `/`: `https://api.github.com`, or
    /// `https://ghe.example.com/api/v3` for GitHub Enterprise Server (`GITHUB_API_URL`).
    pub api_url: String,
    /// A fine-grained token or GitHub App installation token with *Actions: write* on the
    /// repositories (`GITHUB_TOKEN`).
    pub token: SecretString,
    /// Whether dispatches send `return_run_details: true`, so GitHub answers 200 with the run id
    /// instead of 204 (`GITHUB_RETURN_RUN_DETAILS`).
    pub return_run_details: bool,
}

/// The signed webhook receiver.
#[derive(Clone)]
pub struct WebhookConfig {
    /// Where dispatches are `POST`ed (`IDP_WEBHOOK_URL`). It may carry a token, so it is shown
    /// by its origin only.
    pub url: String,
    /// Signs dispatches and verifies callbacks (`IDP_WEBHOOK_SECRET`).
    pub secret: SecretString,
}

/// The Backstage scaffolder.
#[derive(Clone)]
pub struct BackstageConfig {
    /// Backstage's base URL without a trailing `/` (`BACKSTAGE_URL`); the API is under
    /// `{url}/api/scaffolder`.
    pub url: String,
    /// Sent as `Authorization: Bearer` when set (`BACKSTAGE_TOKEN`).
    pub token: Option<SecretString>,
}

/// Argo CD's API server.
#[derive(Clone)]
pub struct ArgoCdConfig {
    /// Argo CD's base URL without a trailing `/` (`ARGOCD_URL`); the API is under `{url}/api/v1`
    /// and an application's page is `{url}/applications/{name}`.
    pub url: String,
    /// An API token (`ARGOCD_TOKEN`), sent as `Authorization: Bearer`.
    pub token: SecretString,
}

/// Every execution backend's settings.
#[derive(Clone)]
pub struct ExecConfig {
    /// GitHub Actions, when `GITHUB_TOKEN` is set.
    pub github: Option<GithubConfig>,
    /// Verifies `workflow_run` webhooks (`GITHUB_WEBHOOK_SECRET`), independent of [`Self::github`].
    pub github_webhook_secret: Option<SecretString>,
    /// The signed webhook receiver, when `IDP_WEBHOOK_URL` is set.
    pub webhook: Option<WebhookConfig>,
    /// Verifies callbacks; the webhook's secret, or `IDP_WEBHOOK_SECRET` alone.
    pub webhook_secret: Option<SecretString>,
    /// The Backstage scaffolder, when `BACKSTAGE_URL` is set.
    pub backstage: Option<BackstageConfig>,
    /// Argo CD, when `ARGOCD_URL` and `ARGOCD_TOKEN` are both set.
    pub argocd: Option<ArgoCdConfig>,
    /// Whether idp may turn auto-sync off for an application it rolls back
    /// (`ARGOCD_DISABLE_AUTOSYNC`, default false: it refuses and says how instead).
    pub argocd_disable_autosync: bool,
    /// The timeout of one HTTP call, connect to last byte (`IDP_EXEC_TIMEOUT_SECS`, default 10 s).
    pub timeout: Duration,
}

impl Default for ExecConfig {
    /// Nothing configured, 10 s timeout.
    fn default() -> Self {
        Self {
            github: None,
            github_webhook_secret: None,
            webhook: None,
            webhook_secret: None,
            backstage: None,
            argocd: None,
            argocd_disable_autosync: false,
            timeout: Duration::from_secs(DEFAULT_EXEC_TIMEOUT_SECS),
        }
    }
}

impl std::fmt::Debug for ExecConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |s: bool| if s { "[set]" } else { "[unset]" };
        f.debug_struct("ExecConfig")
            .field(
                "github",
                &self.github.as_ref().map(|g| {
                    format!(
                        "{} token=[set] return_run_details={}",
                        url_origin(&g.api_url),
                        g.return_run_details
                    )
                }),
            )
            .field(
                "github_webhook_secret",
                &set(self.github_webhook_secret.is_some()),
            )
            .field(
                "webhook",
                &self
                    .webhook
                    .as_ref()
                    .map(|w| format!("{} secret=[set]", url_origin(&w.url))),
            )
            .field("webhook_secret", &set(self.webhook_secret.is_some()))
            .field(
                "backstage",
                &self
                    .backstage
                    .as_ref()
                    .map(|b| format!("{} token={}", url_origin(&b.url), set(b.token.is_some()))),
            )
            .field(
                "argocd",
                &self
                    .argocd
                    .as_ref()
                    .map(|a| format!("{} token=[set]", url_origin(&a.url))),
            )
            .field("argocd_disable_autosync", &self.argocd_disable_autosync)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl ExecConfig {
    /// The backends' settings from the resolved settings.
    pub fn from_settings(settings: &Settings) -> Self {
        let github = settings.github_token.clone().map(|token| GithubConfig {
            api_url: settings.github_api_url.clone(),
            token,
            return_run_details: settings.github_return_run_details,
        });
        let webhook = settings
            .webhook_url
            .clone()
            .zip(settings.webhook_secret.clone())
            .map(|(url, secret)| WebhookConfig { url, secret });
        let backstage = settings.backstage_url.clone().map(|url| BackstageConfig {
            url,
            token: settings.backstage_token.clone(),
        });
        let argocd = settings
            .argocd_url
            .clone()
            .zip(settings.argocd_token.clone())
            .map(|(url, token)| ArgoCdConfig { url, token });
        Self {
            github,
            github_webhook_secret: settings.github_webhook_secret.clone(),
            webhook,
            webhook_secret: settings.webhook_secret.clone(),
            backstage,
            argocd,
            argocd_disable_autosync: settings.argocd_disable_autosync,
            timeout: settings.exec_timeout,
        }
    }

    /// GitHub Actions on `api_url` with `token`, run details asked for.
    pub fn with_github(mut self, api_url: &str, token: &str) -> Self {
        self.github = Some(GithubConfig {
            api_url: api_url.trim_end_matches('/').to_owned(),
            token: SecretString::from(token),
            return_run_details: true,
        });
        self
    }

    /// The webhook receiver at `url`, signing with `secret` (which also verifies callbacks).
    pub fn with_webhook(mut self, url: &str, secret: &str) -> Self {
        self.webhook = Some(WebhookConfig {
            url: url.to_owned(),
            secret: SecretString::from(secret),
        });
        self.webhook_secret = Some(SecretString::from(secret));
        self
    }

    /// The Backstage scaffolder at `url`, with an optional token.
    pub fn with_backstage(mut self, url: &str, token: Option<&str>) -> Self {
        self.backstage = Some(BackstageConfig {
            url: url.trim_end_matches('/').to_owned(),
            token: token.map(SecretString::from),
        });
        self
    }

    /// Argo CD at `url` with `token`; `disable_autosync` as `ARGOCD_DISABLE_AUTOSYNC`.
    pub fn with_argocd(mut self, url: &str, token: &str, disable_autosync: bool) -> Self {
        self.argocd = Some(ArgoCdConfig {
            url: url.trim_end_matches('/').to_owned(),
            token: SecretString::from(token),
        });
        self.argocd_disable_autosync = disable_autosync;
        self
    }

    /// Replaces the per-call timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_configure_the_backends_that_have_credentials_and_debug_shows_no_secret() {
        let vars = [
            ("GITHUB_TOKEN", "github_pat_SECRET"),
            (
                "IDP_WEBHOOK_URL",
                "https://hooks.example.com/idp?token=SECRET",
            ),
            ("IDP_WEBHOOK_SECRET", "whsec-SECRET"),
            ("ARGOCD_URL", "https://argocd.example.com"),
            ("ARGOCD_TOKEN", "argo-SECRET"),
        ];
        let settings = Settings::load(None, |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .expect("valid");
        let config = ExecConfig::from_settings(&settings);
        assert!(config.github.is_some() && config.webhook.is_some() && config.argocd.is_some());
        assert!(!config.argocd_disable_autosync);
        assert!(config.backstage.is_none() && config.github_webhook_secret.is_none());
        assert_eq!(config.timeout, Duration::from_secs(10));
        let shown = format!("{config:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("https://api.github.com"), "{shown}");
    }
}
