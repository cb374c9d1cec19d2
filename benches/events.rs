//! Ingest throughput of `POST /hooks/events`: the events router (as `idp serve` builds it, with
//! its batching [`EventWriter`]) served on 127.0.0.1 over a SQLite file, driven by 32 concurrent
//! HTTP connections from this process, each sending signed `deploy.succeeded` events (distinct
//! ids, each its own deploy, 64 services x 3 environments) in a closed loop. Prints events/s, then
//! checks that the store holds exactly one deploy per event answered.
//! Target (idp issue 5): at least 5,000 events per second on SQLite with 32 connections.
//!
//! Run with `cargo bench --bench events` (a plain program, no criterion). The client shares the
//! machine's cores with the server; `scripts/bench-events-http.sh` drives `idp serve` with wrk
//! instead.
//!
//! Settings: `IDP_BENCH_SECONDS` (10), `IDP_BENCH_ROUNDS` (1; the median is printed too),
//! `IDP_BENCH_POSTGRES_URL` (also a PostgreSQL round in a fresh schema, dropped afterwards),
//! `IDP_BENCH_LINGER_US` (the writer's linger; default [`EventWriterOptions`]'s), `RUST_LOG`
//! (e.g. `idp::deploys::writer=trace` prints every batch).

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
const SERVICES: u64 = 64;
const SECRET: &str = "bench-secret";

/// The allocator `idp serve` runs with (see `src/main.rs`), so the figures are the binary's.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn setting<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// One timed run against `store`; returns events/s.
async fn run(store: Store, round: usize, seconds: u64) -> f64 {
    let mut sources = BTreeMap::new();
    sources.insert(
        "ci".to_owned(),
        EventCredential::Hmac(SecretString::from(SECRET)),
    );
    let mut options = EventWriterOptions::default();
    if let Some(us) = setting("IDP_BENCH_LINGER_US") {
        options.linger = Duration::from_micros(us);
    }
    let state = EventsState::new(store.clone(), sources);
    let app = router(EventsState {
        writer: EventWriter::start_with(store.clone(), options),
        ..state
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!(
        "http://{}/hooks/events",
        listener.local_addr().expect("addr")
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });

    let sent = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
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
                    "id": format!("bench-{round}-{worker}-{n}"),
                    "type": "deploy.succeeded",
                    "time": chrono::Utc::now().to_rfc3339(),
                    "data": {
                        "service": format!("svc-{}", n % SERVICES),
                        "environment": environment,
                        "version": format!("1.{n}.0"),
                        "deployment_id": format!("{round}-{worker}-{n}"),
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
    server.abort();
    let ok = sent.load(Ordering::Relaxed);
    let rate = ok as f64 / elapsed;
    println!(
        "events ({}, round {round}): {ok} stored in {elapsed:.2} s over {CONNECTIONS} connections = {rate:.0} events/s ({} failed)",
        store.backend(),
        failed.load(Ordering::Relaxed)
    );
    // Every answer came after its commit: the store holds exactly the deploys answered.
    let mut stored = 0;
    for svc in 0..SERVICES {
        stored += store
            .deployments(&format!("svc-{svc}"), None, i64::MAX)
            .await
            .expect("history")
            .len();
    }
    assert_eq!(
        stored as u64, ok,
        "one deploy stored per event answered 200"
    );
    rate
}

/// A fresh store: SQLite in `dir`, or a new PostgreSQL schema.
async fn open(dir: &std::path::Path, postgres: Option<(&str, &str)>, round: usize) -> Store {
    let store = match postgres {
        Some((url, schema)) => Store::connect(url, Some(schema)).await,
        None => {
            let path = dir.join(format!("events-{round}.db"));
            Store::connect(&format!("sqlite://{}", path.display()), None).await
        }
    }
    .expect("connect");
    store.migrate().await.expect("migrate");
    store
}

fn median(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

#[tokio::main]
async fn main() {
    idp::install_crypto_provider();
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let seconds = setting("IDP_BENCH_SECONDS").unwrap_or(10);
    let rounds = setting::<usize>("IDP_BENCH_ROUNDS").unwrap_or(1).max(1);
    let postgres = std::env::var("IDP_BENCH_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let dir = tempfile::tempdir().expect("temp dir");
    let mut sqlite = Vec::new();
    let mut pg = Vec::new();
    for round in 1..=rounds {
        let store = open(dir.path(), None, round).await;
        sqlite.push(run(store.clone(), round, seconds).await);
        store.close().await;
        if let Some(url) = &postgres {
            let schema = format!("idp_bench_events_{}_{round}", std::process::id());
            let store = open(dir.path(), Some((url, &schema)), round).await;
            pg.push(run(store.clone(), round, seconds).await);
            if let Store::Postgres(pool) = &store {
                let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                    .execute(pool)
                    .await;
            }
            store.close().await;
        }
    }
    if rounds > 1 {
        println!(
            "events: median of {rounds} rounds: sqlite {:.0} events/s{}",
            median(sqlite),
            if pg.is_empty() {
                String::new()
            } else {
                format!(", postgres {:.0} events/s", median(pg))
            }
        );
    }
}
