//! What a run is handed to and what comes back, as data: the [`Execution`] (which backend, and
//! where), and the [`Progress`] a backend reports. The backends themselves (HTTP clients,
//! signing) live in [`crate::exec`], which re-exports these types.

/// Which system runs a template or a rollback, and where. Read from a Template's annotations (or
/// the config's default) by [`crate::templates`]; for rollbacks, from the service's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "backend", rename_all = "kebab-case")]
pub enum Execution {
    /// A GitHub Actions workflow started with `workflow_dispatch`.
    GithubActions {
        /// Repository owner (user or organisation).
        owner: String,
        /// Repository name.
        repo: String,
        /// Workflow file name (`scaffold.yml`) or numeric id.
        workflow: String,
        /// The git ref to run on (branch or tag).
        git_ref: String,
    },
    /// The configured signed webhook receiver.
    Webhook,
    /// The Backstage scaffolder, running the template of this entity ref (`template:default/x`).
    Backstage {
        /// The template's entity ref as Backstage knows it.
        template_ref: String,
    },
    /// An Argo CD application, rolled back to an entry of its deploy history (rollbacks only).
    #[serde(rename = "argocd")]
    ArgoCd {
        /// The application's name (the `argocd/app-name` annotation).
        application: String,
    },
}

impl Execution {
    /// A short name for logs, the audit log and the status message: `github-actions`, `webhook`,
    /// `backstage`, `argocd`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::GithubActions { .. } => "github-actions",
            Self::Webhook => "webhook",
            Self::Backstage { .. } => "backstage",
            Self::ArgoCd { .. } => "argocd",
        }
    }
}

/// One step a backend reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepNote {
    /// What the step is.
    pub name: String,
    /// A link, if the backend gave one.
    pub url: Option<String>,
}

/// Where a run stands according to its backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Accepted but not found or not started yet.
    Pending,
    /// Running; optionally a step that started or finished.
    Running {
        /// The external id, once the backend reveals it (GitHub run id).
        external_id: Option<String>,
        /// A link to the backend's page for the run.
        url: Option<String>,
        /// The step reported with this update.
        step: Option<StepNote>,
    },
    /// Finished well.
    Succeeded {
        /// A link to the backend's page for the run.
        url: Option<String>,
        /// The new entity's descriptor (YAML or JSON text), if the backend sent it.
        descriptor: Option<String>,
        /// Where the new entity's `catalog-info.yaml` can be read (an http(s) URL), if sent.
        location: Option<String>,
    },
    /// Finished badly.
    Failed {
        /// The backend's message.
        message: String,
        /// A link to the backend's page for the run.
        url: Option<String>,
    },
}
