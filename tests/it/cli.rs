//! The `idp` binary as an operator runs it.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_idp");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs idp in `cwd` with a fresh SQLite database and no inherited idp settings.
pub(crate) fn idp(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
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
    // The demo configures PagerDuty services, Argo CD apps and every template backend: with
    // their secrets set, the repo checks clean.
    let out = idp(
        repo(),
        &["check"],
        &[
            ("DATABASE_URL", "sqlite::memory:"),
            ("SLACK_SIGNING_SECRET", "signing-value"),
            ("PAGERDUTY_TOKEN", "pagerduty-value"),
            ("GITHUB_TOKEN", "github-value"),
            ("IDP_WEBHOOK_URL", "http://127.0.0.1:9/hook"),
            ("IDP_WEBHOOK_SECRET", "webhook-value"),
            ("BACKSTAGE_URL", "http://127.0.0.1:9"),
            ("ARGOCD_URL", "http://127.0.0.1:9"),
            ("ARGOCD_TOKEN", "argocd-value"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("-value"), "{}", text(&out));
    // Without them, each missing one is an error naming the variable and what needs it.
    let out = idp(repo(), &["check"], &[("DATABASE_URL", "sqlite::memory:")]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    for needed in [
        "SLACK_SIGNING_SECRET is not set",
        "PAGERDUTY_TOKEN is not set, but",
        "set ARGOCD_URL and ARGOCD_TOKEN (needed by",
        "GitHub Actions is not configured: set GITHUB_TOKEN",
    ] {
        assert!(all.contains(needed), "{needed}: {all}");
    }

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

/// `idp shell` runs `new-service` with the webhook backend on its own: it records the run, its
/// worker dispatches it, its callback listener takes the receiver's reports, and it prints the
/// steps until the service is created; the next shell then finds the service.
#[tokio::test(flavor = "multi_thread")]
async fn the_shell_creates_a_service_through_the_webhook_backend() {
    use crate::fakes::webhook::{self, FakeReceiver};
    let receiver = FakeReceiver::start().await;
    let tmp = tempfile::tempdir().expect("tmp");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let listen = format!("127.0.0.1:{port}");
    let public = format!("http://{listen}");
    let config = repo().join("idp.toml");
    let mut cmd = std::process::Command::new(BIN);
    cmd.current_dir(tmp.path())
        .args([
            "--config",
            config.to_str().expect("utf-8"),
            "shell",
            "--as",
            "mei.tanaka",
            "-c",
            "new-service backend-service name=inventory-api owner=payments-platform system=payments language=rust dataClassification=internal",
        ])
        .env_remove("IDP_CONFIG")
        .env_remove("SLACK_BOT_TOKEN")
        .env("DATABASE_URL", format!("sqlite://{}", tmp.path().join("test.db").display()))
        .env("IDP_WEBHOOK_URL", &receiver.url)
        .env("IDP_WEBHOOK_SECRET", webhook::SECRET)
        .env("IDP_LISTEN", &listen)
        .env("IDP_PUBLIC_URL", &public)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("spawn idp shell");
    let mut delivery = None;
    for _ in 0..400 {
        if let Some(d) = receiver.deliveries().first() {
            delivery = Some(d.clone());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let delivery = delivery.expect("the shell's worker dispatched the run");
    let callback = delivery.body["callback_url"]
        .as_str()
        .expect("callback url");
    assert_eq!(
        callback,
        format!(
            "{public}/hooks/runs/{}",
            delivery.run_id.clone().unwrap_or_default()
        )
    );
    let run_id = delivery.run_id.clone().expect("run id");
    let report = serde_json::json!({"status": "succeeded", "url": "https://ci.example.com/runs/1"});
    let mut sent = 0;
    for _ in 0..100 {
        let (code, _) = webhook::send_callback(
            &public,
            &run_id,
            &report,
            webhook::SECRET,
            crate::support::now(),
        )
        .await;
        if code == 200 {
            sent = code;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(sent, 200, "the shell took the callback");
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait"))
        .await
        .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout.contains("Handed to the webhook backend"), "{stdout}");
    assert!(stdout.contains("inventory-api created"), "{stdout}");
    assert_eq!(receiver.deliveries().len(), 1);
    let owner = idp(
        tmp.path(),
        &[
            "--config",
            config.to_str().expect("utf-8"),
            "shell",
            "-c",
            "owner inventory-api",
        ],
        &[],
    );
    assert!(
        String::from_utf8_lossy(&owner.stdout).contains("Payments Platform"),
        "{}",
        text(&owner)
    );
}

/// The shell asks for what a typed `new-service` lacks, checks each answer with the form's rules
/// (re-asking only what was wrong), and reports a backend that is not configured as the run's
/// failure instead of hanging.
#[test]
fn the_shell_prompts_for_missing_fields_and_re_asks_the_wrong_ones() {
    use std::io::Write;
    let tmp = tempfile::tempdir().expect("tmp");
    let config = repo().join("idp.toml");
    let mut child = Command::new(BIN)
        .current_dir(tmp.path())
        .args([
            "--config",
            config.to_str().expect("utf-8"),
            "shell",
            "--as",
            "mei.tanaka",
            "-c",
            "new-service frontend-app owner=payments-platform",
        ])
        .env_remove("IDP_CONFIG")
        .env_remove("GITHUB_TOKEN")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", tmp.path().join("test.db").display()),
        )
        .env("IDP_LISTEN", "127.0.0.1:0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"Bad_Name\n\nshop-ui\n")
        .expect("answers");
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The form was filled, but the run could not be handed over: the shell says so and fails.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stdout.contains("✗ name:"), "{stdout}");
    assert_eq!(stdout.matches("Name").count(), 2, "asked twice: {stdout}");
    assert!(
        stdout.contains("cannot be run here: GitHub Actions is not configured: set GITHUB_TOKEN"),
        "{stdout}"
    );
}

#[test]
fn check_outside_the_repository_skips_the_manifest_and_fails_only_on_missing_secrets() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = idp(tmp.path(), &["check"], &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("error: SLACK_SIGNING_SECRET is not set"),
        "{all}"
    );
    assert!(
        all.contains(
            "note: manifest: no manifest.yml here; the Slack app manifest was not compared"
        ),
        "{all}"
    );
    assert!(!all.contains("No such file"), "{all}");

    let out = idp(
        tmp.path(),
        &["check"],
        &[("SLACK_SIGNING_SECRET", "topsecret-value")],
    );
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("SLACK_SIGNING_SECRET: set"), "{all}");
    assert!(!all.contains("topsecret-value"), "{all}");
}

#[test]
fn the_shell_exits_with_a_status_that_says_how_the_command_went() {
    let tmp = tempfile::tempdir().expect("tmp");
    let config = repo().join("idp.toml");
    let config = config.to_str().expect("utf-8");
    for (args, want) in [
        (vec!["-c", "owner checkout-api"], 0),
        (vec!["-c", "frobnicate checkout-api"], 2),
        (
            vec![
                "--as",
                "rafael.costa",
                "--channel",
                "general",
                "-c",
                "rollback checkout-api",
            ],
            3,
        ),
        (vec!["-c", "owner no-such-service-anywhere"], 4),
        (
            vec![
                "--as",
                "daria.volkova",
                "--channel",
                "inc-7-checkout-api",
                "-c",
                "rollback checkout-api prod",
            ],
            1,
        ),
    ] {
        let mut all = vec!["--config", config, "shell"];
        all.extend(&args);
        let out = idp(tmp.path(), &all, &[]);
        assert_eq!(out.status.code(), Some(want), "{args:?}: {}", text(&out));
        assert!(!out.stdout.is_empty(), "{args:?}: the reply is printed too");
    }
    let out = idp(tmp.path(), &["shell", "--help"], &[]);
    let help = text(&out);
    assert!(
        help.contains("3  refused") && help.contains("4  not found"),
        "{help}"
    );
}
