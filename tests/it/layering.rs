//! Layering rules checked on the source text: handlers receive narrow domain services (deploy
//! history, audit reader, digest subscriptions, score history, run lookup) through
//! `handlers::Context`, never the store itself, and write no SQL.

use std::path::{Path, PathBuf};

use regex::Regex;

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// `(file:line, rule)` for every line of `files` matching one of `rules`.
fn violations(files: &[PathBuf], rules: &[(&str, Regex)]) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let text =
            std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for (n, line) in text.lines().enumerate() {
            for (what, re) in rules {
                if re.is_match(line) {
                    found.push(format!(
                        "{}:{}: {what}: {}",
                        file.display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    found
}

/// What no handler may name: the store module (directly or in a grouped import), the `Store`
/// type, or `sqlx`.
fn handler_rules() -> [(&'static str, Regex); 3] {
    [
        (
            "names the store module",
            Regex::new(r"\b(crate|idp)::store\b|\b(crate|idp)::\{[^}]*\bstore\b").expect("regex"),
        ),
        ("names Store", Regex::new(r"\bStore\b").expect("regex")),
        ("names sqlx", Regex::new(r"\bsqlx\b").expect("regex")),
    ]
}

#[test]
fn handlers_name_neither_the_store_nor_sqlx() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/handlers");
    let files = rust_files(&dir);
    assert!(
        files.iter().any(|f| f.ends_with("mod.rs")) && files.len() > 10,
        "src/handlers looks empty: {files:?}"
    );
    let found = violations(&files, &handler_rules());
    assert!(
        found.is_empty(),
        "handlers take narrow services from `Context` (deploys, audit_reader, subscriptions, \
         score_history, run_lookup), not the store:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_rule_catches_what_it_is_meant_to() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.rs");
    std::fs::write(
        &bad,
        "use crate::store::Store;\nuse crate::{catalog, store};\nfn f(_: &Store) {}\nsqlx::query(\"\");\nuse crate::store_like::StoreError;\n",
    )
    .expect("write");
    let found = violations(&rust_files(dir.path()), &handler_rules());
    let lines: Vec<&str> = found
        .iter()
        .map(|f| {
            f.split(": ")
                .next()
                .expect("location")
                .rsplit(':')
                .next()
                .expect("line")
        })
        .collect();
    assert_eq!(lines, ["1", "1", "2", "3", "4"], "{found:#?}");
}
