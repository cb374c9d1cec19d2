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
        STALE_SWEEP.call_once(|| drop_stale_schemas(&url));
        out.push(Backend {
            name: "postgres",
            url,
            schema: Some(unique(&format!("idp_test_t{}", now()))),
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

impl Drop for Backend {
    /// Drops this backend's PostgreSQL schema (SQLite's temp dir goes with `_dir`), also when the
    /// test panicked. Drop cannot await, and may run on a runtime's worker thread, so the
    /// statement runs on a thread of its own with a small runtime and a fresh connection.
    fn drop(&mut self) {
        if let Some(schema) = self.schema.take() {
            let url = self.url.clone();
            if let Err(why) =
                on_own_runtime(move || async move { drop_schema(&url, &schema).await })
            {
                eprintln!("test schema left behind (the next run's sweep drops it): {why}");
            }
        }
    }
}

/// Test schemas older than this are left from crashed or killed runs and dropped when a run
/// starts; younger ones may belong to a run going on now (on this machine, or another's).
const STALE_AFTER_HOURS: i64 = 3;

/// Sweeps stale test schemas once per test process.
static STALE_SWEEP: std::sync::Once = std::sync::Once::new();

/// Runs `work` to completion on a new thread with its own current-thread runtime, from any
/// context (synchronous code, a `Drop`, a task of a multi-thread runtime).
fn on_own_runtime<F, Fut>(work: F) -> Result<(), String>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(work())
    })
    .join()
    .map_err(|_| "the cleanup thread panicked".to_owned())?
}

/// A fresh connection that gives up waiting for locks after a few seconds (a store of the test
/// still holding one must not hang the run).
async fn cleanup_connection(url: &str) -> Result<sqlx::PgConnection, String> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query("SET lock_timeout = '5s'")
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    Ok(conn)
}

/// `DROP SCHEMA … CASCADE` for one test schema.
async fn drop_schema(url: &str, schema: &str) -> Result<(), String> {
    let mut conn = cleanup_connection(url).await?;
    let sql = format!(
        "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
        schema.replace('"', "")
    );
    sqlx::query(&sql)
        .execute(&mut conn)
        .await
        .map(|_| ())
        .map_err(|e| format!("{schema}: {e}"))
}

/// Drops `idp_test_*` schemas created more than [`STALE_AFTER_HOURS`] ago, by the time their
/// migrations were installed (`_sqlx_migrations.installed_on`). A schema without that table is
/// judged by the creation time in its name (`idp_test_t<unix seconds>_…`), and left alone when
/// it has neither. Failures are reported and do not stop the run.
fn drop_stale_schemas(url: &str) {
    let url = url.to_owned();
    let swept = on_own_runtime(move || async move {
        let mut conn = cleanup_connection(&url).await?;
        let schemas: Vec<String> = sqlx::query_scalar(
            "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'idp\\_test\\_%'",
        )
        .fetch_all(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
        let cutoff = now() - STALE_AFTER_HOURS * 3600;
        for schema in schemas {
            let migrated: Result<Option<i64>, _> = sqlx::query_scalar(&format!(
                "SELECT EXTRACT(EPOCH FROM MIN(installed_on))::bigint FROM \"{}\"._sqlx_migrations",
                schema.replace('"', "")
            ))
            .fetch_one(&mut conn)
            .await;
            let created = match migrated {
                Ok(Some(at)) => Some(at),
                _ => created_at_in_name(&schema),
            };
            if created.is_some_and(|at| at < cutoff)
                && let Err(why) = drop_schema(&url, &schema).await
            {
                eprintln!("a stale test schema could not be dropped: {why}");
            }
        }
        Ok(())
    });
    if let Err(why) = swept {
        eprintln!("stale test schemas were not swept: {why}");
    }
}

/// The creation time a test schema's name carries (`idp_test_t<unix seconds>_…`), if it does.
fn created_at_in_name(schema: &str) -> Option<i64> {
    schema
        .strip_prefix("idp_test_t")?
        .split('_')
        .next()?
        .parse()
        .ok()
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
