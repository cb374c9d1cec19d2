//! The layering rules of issue 11, checked on the source text: Slack's wire types and
//! slack-morphism stay in `src/slack/`; SQL and sqlx stay in `src/store/`; nothing under
//! `src/slack/` asks the policy or writes the audit log (the dispatcher in `src/handlers/` does);
//! `src/store/` depends on domain types, never on `actions`, `exec` or `handlers`; handlers get
//! narrow services, and `src/command/` does no I/O (checked in `parser.rs`).

use std::path::{Path, PathBuf};

fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("read file");
                out.push((path, text));
            }
        }
    }
    out
}

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `(file, line)` under `src/` whose path does not start with one of `allowed` and whose
/// code (comments excluded) contains one of `needles`.
fn offenders(allowed: &[&str], needles: &[&str]) -> Vec<String> {
    let root = src();
    let mut out = Vec::new();
    for (path, text) in sources(&root) {
        let rel = path
            .strip_prefix(&root)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        if allowed.iter().any(|a| rel.starts_with(a)) {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if needles.iter().any(|needle| code.contains(needle)) {
                out.push(format!("src/{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    out
}

#[test]
fn only_the_slack_edge_names_slack_morphism() {
    let found = offenders(&["slack/"], &["slack_morphism", "SlackBlock", "SlackView"]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn only_the_store_names_sqlx() {
    let found = offenders(&["store/"], &["sqlx"]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn nothing_under_slack_asks_the_policy_or_writes_the_audit_log() {
    let root = src().join("slack");
    let needles = [
        "authz::decide",
        "decide_on",
        "decide_simple",
        "AuditEntry",
        "AuditLog",
        "record_nowait",
        ".record(",
        "handlers::dispatch",
    ];
    let mut found = Vec::new();
    for (path, text) in sources(&root) {
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if needles.iter().any(|needle| code.contains(needle)) {
                found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn the_store_sits_below_the_domain() {
    let root = src().join("store");
    let mut found = Vec::new();
    for (path, text) in sources(&root) {
        for (n, line) in text.lines().enumerate() {
            if [
                "crate::actions",
                "crate::exec",
                "crate::handlers",
                "crate::slack",
                "crate::app",
            ]
            .iter()
            .any(|m| line.contains(m))
            {
                found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn every_command_has_its_own_handler_file() {
    let handlers = src().join("handlers");
    for spec in idp::command::REGISTRY.iter() {
        let file = handlers.join(format!("{}.rs", spec.name.replace('-', "_")));
        assert!(
            file.exists(),
            "no handler file for `{}`: {}",
            spec.name,
            file.display()
        );
    }
}

#[test]
fn http_clients_stay_out_of_actions_and_handlers() {
    let mut found = Vec::new();
    for dir in ["actions", "handlers", "command", "authz"] {
        for (path, text) in sources(&src().join(dir)) {
            for (n, line) in text.lines().enumerate() {
                if line.contains("reqwest") || line.contains("axum") {
                    found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn renderers_build_on_the_base_module_and_never_on_the_outcome_renderer() {
    let root = src().join("slack").join("render");
    let mut found = Vec::new();
    for (path, text) in sources(&root) {
        if path.ends_with("mod.rs") {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            let parent = code.contains("slack::render::") && !code.contains("slack::render::base");
            if parent || code.contains("super::render") || code.contains("super::{") {
                found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}
