//! Ingest throughput of `POST /hooks/events`: the events router served on 127.0.0.1 over a
//! SQLite file, driven by 32 concurrent HTTP connections that each send signed `deploy.succeeded`
//! events (distinct ids, 64 services, 3 environments) for about 5 seconds. Prints events/s.
//! Target (idp issue 5): at least 5,000 events per second.
//!
//! Run with `cargo bench --bench events` (a plain program, no criterion).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use idp::config::EventCredential;
use idp::deploys::{EventWriter, EventWriterOptions};
use idp::exec::signing::sign;
use idp::hooks::events::{EventsState, router};
use idp::store::Store;
use secrecy::SecretString;

const CONNECTIONS: usize = 32;
const SECONDS: u64 = 5;
const SECRET: &str = "bench-secret";

/// The allocator `idp serve` runs with (see `src/main.rs`), so the figures are the binary's.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() {
    idp::install_crypto_provider();
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("events.db").display());
    let store = Store::connect(&url, None).await.expect("connect");
    store.migrate().await.expect("migrate");
    let mut sources = BTreeMap::new();
    sources.insert(
        "ci".to_owned(),
        EventCredential::Hmac(SecretString::from(SECRET)),
    );
    let mut options = EventWriterOptions::default();
    if let Some(us) = std::env::var("IDP_BENCH_LINGER_US")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        options.linger = Duration::from_micros(us);
    }
    let state = EventsState::new(store.clone(), sources);
    let app = router(EventsState {
        writer: EventWriter::start_with(store, options),
        ..state
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!(
        "http://{}/hooks/events",
        listener.local_addr().expect("addr")
    );
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });

    let sent = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..CONNECTIONS {
        let (base, sent, failed) = (base.clone(), sent.clone(), failed.clone());
        workers.push(tokio::spawn(async move {
            // One client per worker with one pooled connection: 32 connections in all.
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .expect("client");
            let secret = SecretString::from(SECRET);
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let environment = ["production", "staging", "dev"][(n % 3) as usize];
                let body = serde_json::json!({
                    "id": format!("bench-{worker}-{n}"),
                    "type": "deploy.succeeded",
                    "time": chrono::Utc::now().to_rfc3339(),
                    "data": {
                        "service": format!("svc-{}", n % 64),
                        "environment": environment,
                        "version": format!("1.{n}.0"),
                        "deployment_id": format!("{worker}-{n}"),
                    }
                })
                .to_string();
                let ts = chrono::Utc::now().timestamp();
                let ok = client
                    .post(&base)
                    .header("X-Idp-Source", "ci")
                    .header("X-Idp-Timestamp", ts.to_string())
                    .header("X-Idp-Signature", sign(&secret, ts, body.as_bytes()))
                    .body(body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ok {
                    sent.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for w in workers {
        w.await.expect("worker");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ok = sent.load(Ordering::Relaxed);
    println!(
        "events: {ok} stored in {elapsed:.2} s over {CONNECTIONS} connections = {:.0} events/s ({} failed)",
        ok as f64 / elapsed,
        failed.load(Ordering::Relaxed)
    );
}
