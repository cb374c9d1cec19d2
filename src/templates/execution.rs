//! Which backend runs a template, read from its annotations:
//!
//! - `idp.dev/execution`: `github-actions`, `webhook` or `backstage`;
//! - `idp.dev/github-workflow`: `<owner>/<repo>/<workflow-file>@<ref>` (ref `main` when left
//!   out), the workflow `workflow_dispatch` starts
//!   (<https://docs.github.com/en/rest/actions/workflows#create-a-workflow-dispatch-event>).
//!   Naming a workflow implies `github-actions`.
//!
//! Without either, the deployment's default applies ([`super::TemplateDefaults::execution`]).

use std::sync::LazyLock;

use regex::Regex;

use crate::catalog::Entity;
use crate::exec::Execution;

/// The annotation that names a template's backend.
pub const EXECUTION_ANNOTATION: &str = "idp.dev/execution";
/// The annotation that names the GitHub Actions workflow of a template.
pub const GITHUB_WORKFLOW_ANNOTATION: &str = "idp.dev/github-workflow";

/// GitHub's owner and repository names: letters, digits, `-`, `_`, `.`.
static GITHUB_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9._-]{1,100}$").expect("static regex"));

/// Reads `<owner>/<repo>/<workflow-file>@<ref>` (the workflow may also be written with its
/// `.github/workflows/` folder, or as its numeric id).
///
/// # Errors
/// What is wrong with the text, naming the expected shape.
pub fn parse_github_workflow(text: &str) -> Result<Execution, String> {
    let shape = || {
        format!("{GITHUB_WORKFLOW_ANNOTATION} `{text}` is not <owner>/<repo>/<workflow-file>@<ref>")
    };
    let text = text.trim();
    let (path, git_ref) = match text.split_once('@') {
        Some((path, r)) if !r.trim().is_empty() => (path, r.trim()),
        Some(_) => return Err(shape()),
        None => (text, "main"),
    };
    let mut parts = path.splitn(3, '/');
    let (Some(owner), Some(repo), Some(workflow)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(shape());
    };
    let workflow = workflow
        .strip_prefix(".github/workflows/")
        .unwrap_or(workflow);
    if !GITHUB_NAME.is_match(owner)
        || !GITHUB_NAME.is_match(repo)
        || workflow.is_empty()
        || workflow.contains('/')
    {
        return Err(shape());
    }
    Ok(Execution::GithubActions {
        owner: owner.to_owned(),
        repo: repo.to_owned(),
        workflow: workflow.to_owned(),
        git_ref: git_ref.to_owned(),
    })
}

/// The backend of a template entity, else `default`.
///
/// # Errors
/// Why there is none: an unknown backend name, an unreadable workflow annotation, or neither an
/// annotation nor a default.
pub(super) fn of(entity: &Entity, default: Option<&Execution>) -> Result<Execution, String> {
    let workflow = entity.annotation(GITHUB_WORKFLOW_ANNOTATION);
    match entity.annotation(EXECUTION_ANNOTATION).map(str::trim) {
        Some("github-actions") | None if workflow.is_some() => {
            parse_github_workflow(workflow.unwrap_or_default())
        }
        Some("github-actions") => Err(format!(
            "{EXECUTION_ANNOTATION} is github-actions but {GITHUB_WORKFLOW_ANNOTATION} is not set"
        )),
        Some("webhook") => Ok(Execution::Webhook),
        Some("backstage") => Ok(Execution::Backstage {
            template_ref: entity.entity_ref.to_string(),
        }),
        Some(other) => Err(format!(
            "{EXECUTION_ANNOTATION} `{other}` is not one of github-actions, webhook, backstage"
        )),
        None => default.cloned().ok_or_else(|| {
            format!(
                "no execution backend: set the {EXECUTION_ANNOTATION} annotation (github-actions, webhook or backstage) or a default in the config"
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_annotations_read_with_a_default_ref() {
        assert_eq!(
            parse_github_workflow("acme/golden-paths/scaffold-frontend.yml@main"),
            Ok(Execution::GithubActions {
                owner: "acme".into(),
                repo: "golden-paths".into(),
                workflow: "scaffold-frontend.yml".into(),
                git_ref: "main".into(),
            })
        );
        assert!(matches!(
            parse_github_workflow("acme/repo/.github/workflows/x.yml"),
            Ok(Execution::GithubActions { workflow, git_ref, .. }) if workflow == "x.yml" && git_ref == "main"
        ));
        for bad in [
            "acme/x.yml",
            "acme/repo/x.yml@",
            "ac me/repo/x.yml",
            "a/b/c/d.yml",
        ] {
            assert!(parse_github_workflow(bad).is_err(), "{bad}");
        }
    }
}
