//! Shared helpers: stores on both backends, a demo-catalog app state, Slack-style signing.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use idp::AppState;
use idp::authz::Policy;
use idp::catalog::CatalogService;
use idp::slack::verify::SignatureVerifier;
use idp::store::Store;

/// The signing secret tests sign with (the one the shared bench uses).
pub const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

/// The repo's demo catalog entry file.
pub fn demo_catalog() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("catalog/demo/all.yaml")
}

/// A database to test against.
pub struct Backend {
    /// `sqlite` or `postgres`.
    pub name: &'static str,
    /// Its URL.
    pub url: String,
    /// The PostgreSQL schema that keeps this test apart from others.
    pub schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

/// Every backend this run covers: SQLite always, PostgreSQL when `IDP_TEST_POSTGRES_URL` is set.
pub fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("idp.db").display());
    let mut out = vec![Backend {
        name: "sqlite",
        url,
        schema: None,
        _dir: Some(dir),
    }];
    if let Ok(url) = std::env::var("IDP_TEST_POSTGRES_URL")
        && !url.is_empty()
    {
        out.push(Backend {
            name: "postgres",
            url,
            schema: Some(unique("idp_test")),
            _dir: None,
        });
    }
    out
}

impl Backend {
    /// A migrated store on this backend.
    pub async fn store(&self) -> Store {
        idp::install_crypto_provider();
        let store = Store::connect(&self.url, self.schema.as_deref())
            .await
            .expect("connect");
        store.migrate().await.expect("migrate");
        store
    }
}

/// An app state on `backend` with the demo catalog synced.
pub async fn demo_state(backend: &Backend) -> Arc<AppState> {
    let service = Arc::new(
        CatalogService::open(backend.store().await)
            .await
            .expect("open catalog"),
    );
    let reports = service.sync(&[demo_catalog()]).await;
    assert!(
        reports.iter().all(|r| r.outcome.is_ok()),
        "demo catalog syncs"
    );
    let verifier = SignatureVerifier::new(&secrecy::SecretString::from(SECRET));
    Arc::new(AppState::new(service, Policy::builtin(), Some(verifier)))
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// A slash-command form body exactly as Slack sends it (form-urlencoded, `+` for spaces).
pub fn command_body(text: &str) -> String {
    serde_urlencoded::to_string([
        ("token", "gIkuvaNzQIHg97ATvDxqgjtO"),
        ("team_id", "T0001"),
        ("team_domain", "acme"),
        ("enterprise_id", "E0001"),
        ("channel_id", "C2147483705"),
        ("channel_name", "dev"),
        ("user_id", "U2147483697"),
        ("user_name", "jane"),
        ("command", "/idp"),
        ("text", text),
        ("api_app_id", "A123456"),
        ("is_enterprise_install", "false"),
        ("response_url", "https://hooks.slack.com/commands/1234/5678"),
        ("trigger_id", "13345224609.738474920.8088930838d88f008e0"),
    ])
    .expect("form")
}

/// Runs a future to completion from synchronous code inside a multi-thread tokio test (for
/// iterator chains that dispatch commands).
pub fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}
