//! The `idp` binary as an operator runs it.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_idp");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs idp in `cwd` with a fresh SQLite database and no inherited idp settings.
fn idp(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(cwd).args(args);
    for var in [
        "IDP_CONFIG",
        "DATABASE_URL",
        "SLACK_SIGNING_SECRET",
        "SLACK_BOT_TOKEN",
        "SLACK_API_URL",
        "IDP_LISTEN",
    ] {
        cmd.env_remove(var);
    }
    cmd.env(
        "DATABASE_URL",
        format!("sqlite://{}", cwd.join("test.db").display()),
    );
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run idp")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_shell_answers_owner_checkout_api_from_the_demo_catalog() {
    let tmp = tempfile::tempdir().expect("tmp");
    let config = repo().join("idp.toml");
    let out = idp(
        tmp.path(),
        &[
            "--config",
            config.to_str().expect("utf-8"),
            "shell",
            "-c",
            "owner checkout-api",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Payments Platform")
            && stdout.contains("https://github.com/acme-shop/checkout-api"),
        "{stdout}"
    );

    let out = idp(
        tmp.path(),
        &[
            "--config",
            config.to_str().expect("utf-8"),
            "shell",
            "--json",
            "-c",
            "/idp owner checkout-api",
        ],
        &[],
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["response_type"], "ephemeral");

    // Lines on standard input go through the same dispatcher.
    let mut child = Command::new(BIN)
        .current_dir(tmp.path())
        .args(["--config", config.to_str().expect("utf-8"), "shell"])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", tmp.path().join("test.db").display()),
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(b"team payments-platform\nsearch checkout\nexit\n")
            .expect("write");
    }
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Members (") && stdout.contains("checkout-api"),
        "{stdout}"
    );

    let out = idp(
        tmp.path(),
        &[
            "--config",
            config.to_str().expect("utf-8"),
            "shell",
            "--as",
            "nobody@example.com",
            "-c",
            "help",
        ],
        &[],
    );
    assert!(
        !out.status.success() && text(&out).contains("no catalog User"),
        "{}",
        text(&out)
    );
}

#[test]
fn catalog_sync_reports_each_error_with_file_and_document_and_exits_zero_when_good_documents_were_stored()
 {
    let tmp = tempfile::tempdir().expect("tmp");
    let cat = tmp.path().join("cat");
    std::fs::create_dir_all(&cat).expect("mkdir");
    std::fs::write(
        cat.join("catalog-info.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: fine\nspec: {type: service, lifecycle: production, owner: a}\n---\nkind: Component\nmetadata:\n  name: no-api-version\n---\napiVersion: backstage.io/v1alpha1\nkind: Widget\nmetadata:\n  name: odd-kind\n",
    )
    .expect("write");
    let out = idp(tmp.path(), &["catalog", "sync", "cat"], &[]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains(
            "catalog-info.yaml: document 2 (line 7): invalid entity: `apiVersion` is required"
        ),
        "{all}"
    );
    assert!(
        all.contains("1 widget"),
        "other kinds are stored and listed: {all}"
    );

    let out = idp(tmp.path(), &["catalog", "sync", "does-not-exist"], &[]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("does-not-exist"));

    let out = idp(
        tmp.path(),
        &["catalog", "generate", "--components", "40", "--out", "gen"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = idp(tmp.path(), &["catalog", "sync", "gen"], &[]);
    assert!(
        out.status.success() && text(&out).contains("40 component"),
        "{}",
        text(&out)
    );
    let out = idp(tmp.path(), &["shell", "-c", "owner checkout-api"], &[]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("payments-platform"),
        "{}",
        text(&out)
    );
}

#[test]
fn bad_settings_fail_with_one_line_naming_the_setting() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = idp(tmp.path(), &["serve"], &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SLACK_SIGNING_SECRET is not set"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let out = idp(tmp.path(), &["migrate"], &[("IDP_LISTEN", "somewhere")]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("IDP_LISTEN is invalid"));

    std::fs::write(
        tmp.path().join("idp.toml"),
        "[catalog]\nsources = \"not-a-list\"\n",
    )
    .expect("write");
    let out = idp(tmp.path(), &["migrate"], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("idp.toml: line 2"),
        "{err}"
    );

    let out = idp(
        tmp.path(),
        &["serve"],
        &[
            ("SLACK_SIGNING_SECRET", "topsecret-value"),
            ("IDP_CONFIG", "missing.toml"),
        ],
    );
    let err = text(&out);
    assert!(
        !out.status.success() && err.contains("missing.toml") && !err.contains("topsecret-value"),
        "{err}"
    );
}

#[test]
fn check_passes_on_the_repo_and_names_each_problem_otherwise() {
    let out = idp(repo(), &["check"], &[("DATABASE_URL", "sqlite::memory:")]);
    assert!(out.status.success(), "{}", text(&out));

    let tmp = tempfile::tempdir().expect("tmp");
    let manifest = std::fs::read_to_string(repo().join("manifest.yml")).expect("manifest");
    std::fs::write(
        tmp.path().join("manifest.yml"),
        manifest.replace("should_escape: true", "should_escape: false"),
    )
    .expect("write");
    std::fs::create_dir_all(tmp.path().join("commands")).expect("mkdir");
    for entry in std::fs::read_dir(repo().join("commands"))
        .expect("commands")
        .flatten()
    {
        std::fs::copy(
            entry.path(),
            tmp.path().join("commands").join(entry.file_name()),
        )
        .expect("copy");
    }
    std::fs::write(
        tmp.path().join("commands/owner.toml"),
        "name = \"owner\"\nsummary = \"x\"\nusage = \"owner <s>\"\npermission = \"launch-missiles\"\n",
    )
    .expect("write");
    std::fs::write(
        tmp.path().join("idp.toml"),
        "[catalog]\nsources = [\"nowhere\"]\n",
    )
    .expect("write");
    let out = idp(tmp.path(), &["check"], &[]);
    let err = text(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("should_escape"), "{err}");
    assert!(err.contains("unknown action `launch-missiles`"), "{err}");
    assert!(err.contains("nowhere does not exist"), "{err}");
}
