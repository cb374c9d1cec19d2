//! The rollback preview with a long deploy history: `/idp rollback` typed by a platform-admin in
//! `#inc-42-checkout-api`, without confirmation, answered through [`AppState::execute`] and
//! rendered to Block Kit as the slash-command handler does. The demo catalog is synced into a
//! SQLite file with 1,000 deploys of `checkout-api` to production (one in ten failed) and 200 to
//! staging, recorded through the store as `POST /hooks/events` records them.
//!
//! * `rollback_preview_1000_deploys`: the default plan (the current deploy back to the last good
//!   one before it): `current_deployment`, `deployment_before`, the lock check, the policy.
//! * `rollback_preview_to_version_1000_deploys`: `rollback to <version>` naming the 10th oldest
//!   deploy, which adds `succeeded_version`.
//!
//! Target (idp issue 5): the preview within 100 ms at p99. Criterion reports means and medians;
//! before it runs, this program times 1,000 previews of each kind one after the other and prints
//! their p50, p90, p99 and maximum.
//!
//! Run with `cargo bench --bench rollback`.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_main};
use idp::AppState;
use idp::actions::rollback::RollbackOutcome;
use idp::app::RequestMeta;
use idp::authz::{Caller, ChannelKind, Origin, Policy};
use idp::catalog::{CatalogService, EntityRef};
use idp::command::Command;
use idp::deploys::{DeployEvent, parse_event};
use idp::handlers::Outcome;
use idp::store::Store;

/// The allocator `idp serve` runs with (see `src/main.rs`), so the figures are the binary's.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Deploys of the service to production.
const DEPLOYS: usize = 1_000;
/// Deploys of the service to staging, so the history holds more than one environment.
const STAGING_DEPLOYS: usize = 200;
/// Previews timed one by one for the percentiles.
const SAMPLES: usize = 1_000;

/// A deploy event of `checkout-api`: the `n`-th deploy to `environment`, `hours_ago` hours ago.
fn deploy(environment: &str, n: usize, hours_ago: usize, failed: bool) -> DeployEvent {
    let at = chrono::Utc::now() - chrono::Duration::hours(i64::try_from(hours_ago).unwrap_or(0));
    let body = serde_json::json!({
        "id": format!("bench-{environment}-{n}"),
        "type": if failed { "deploy.failed" } else { "deploy.succeeded" },
        "time": at.to_rfc3339(),
        "data": {
            "service": "checkout-api",
            "environment": environment,
            "version": format!("1.{n}.0"),
            "revision": format!("{n:040x}"),
            "deployed_by": "ci-bot",
            "url": format!("https://ci.example.com/runs/{n}"),
            "deployment_id": format!("{environment}-{n}"),
        }
    });
    parse_event(body.to_string().as_bytes(), "ci").expect("a valid event")
}

/// The demo catalog in a SQLite file with the deploy history, and the state `idp serve` builds
/// (the audit log on).
fn build_state(rt: &tokio::runtime::Runtime, dir: &std::path::Path) -> Arc<AppState> {
    let url = format!("sqlite://{}", dir.join("rollback.db").display());
    rt.block_on(async {
        let store = Store::connect(&url, None).await.expect("open SQLite");
        store.migrate().await.expect("migrate");
        let service = CatalogService::open(store).await.expect("catalog");
        let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("catalog/demo/all.yaml");
        let reports = service.sync(&[demo]).await;
        assert!(
            reports.iter().all(|r| r.outcome.is_ok()),
            "demo catalog syncs"
        );
        // Oldest first, an hour apart; every tenth deploy failed (never the newest two).
        let mut events: Vec<DeployEvent> = (0..DEPLOYS)
            .map(|n| deploy("production", n, DEPLOYS - n, n % 10 == 5))
            .collect();
        events.extend(
            (0..STAGING_DEPLOYS).map(|n| deploy("staging", n, 3 * (STAGING_DEPLOYS - n), false)),
        );
        for batch in events.chunks(256) {
            service
                .store()
                .record_events(batch)
                .await
                .expect("recorded");
        }
        let history = service
            .store()
            .deployments("checkout-api", Some("production"), 2_000)
            .await
            .expect("history");
        assert_eq!(history.len(), DEPLOYS, "the production history");
        let audit = idp::audit::AuditLog::start(service.store().clone());
        Arc::new(
            AppState::with_services(
                Arc::new(service),
                Arc::new(Policy::builtin()),
                Arc::new(idp::oncall::OnCallService::default()),
                None,
            )
            .with_audit(audit),
        )
    })
}

fn platform_admin() -> Caller {
    Caller::user(
        Origin::Slack {
            team_id: "T0001".into(),
            user_id: "U7DARIA".into(),
            channel_id: "CINC42".into(),
        },
        EntityRef::new("user", "default", "daria.volkova"),
    )
    .in_channel(ChannelKind::Incident("inc-42-checkout-api".to_owned()))
}

fn rollback(to: Option<&str>) -> Command {
    Command::Rollback {
        service: None,
        environment: None,
        to: to.map(str::to_owned),
        confirm: None,
    }
}

/// One preview as the slash-command handler answers it: execute, then render to Block Kit JSON.
/// Returns the reply's size, so the work cannot be optimised away.
async fn preview(state: &AppState, caller: &Caller, to: Option<&str>) -> usize {
    let (snapshot, handled) = state
        .execute(
            "bench",
            caller,
            Ok(rollback(to)),
            "rollback",
            RequestMeta {
                idempotency_key: None,
                channel_id: Some("CINC42"),
            },
        )
        .await;
    let reply = state.render("bench", &snapshot, &handled);
    serde_json::to_vec(&reply.ephemeral())
        .map(|v| v.len())
        .unwrap_or_default()
}

/// Checks the preview is the expected plan, so the bench measures the real thing.
fn check_plan(rt: &tokio::runtime::Runtime, state: &AppState, caller: &Caller, to: Option<&str>) {
    let (_, handled) = rt.block_on(state.execute(
        "bench",
        caller,
        Ok(rollback(to)),
        "rollback",
        RequestMeta {
            idempotency_key: None,
            channel_id: Some("CINC42"),
        },
    ));
    let Outcome::Rollback(outcome) = handled.outcome else {
        panic!("not a rollback outcome: {:?}", handled.outcome);
    };
    let RollbackOutcome::Preview { plan, decision } = *outcome else {
        panic!("not a preview: {outcome:?}");
    };
    assert!(decision.allowed(), "{decision:?}");
    let newest = format!("1.{}.0", DEPLOYS - 1);
    let expected_to = to.map_or_else(|| format!("1.{}.0", DEPLOYS - 2), str::to_owned);
    assert_eq!(
        (plan.from.version.as_str(), plan.to.version.as_str()),
        (newest.as_str(), expected_to.as_str())
    );
}

/// Times `SAMPLES` previews one after the other and prints the percentiles, in ms.
fn percentiles(
    rt: &tokio::runtime::Runtime,
    state: &AppState,
    caller: &Caller,
    to: Option<&str>,
    name: &str,
) {
    let mut samples: Vec<Duration> = Vec::with_capacity(SAMPLES);
    rt.block_on(async {
        for _ in 0..SAMPLES {
            let started = Instant::now();
            black_box(preview(state, caller, to).await);
            samples.push(started.elapsed());
        }
    });
    samples.sort_unstable();
    let at = |p: f64| {
        let i = ((p * SAMPLES as f64).ceil() as usize).clamp(1, SAMPLES) - 1;
        samples[i].as_secs_f64() * 1e3
    };
    println!(
        "{name}: {SAMPLES} previews, {DEPLOYS} deploys in production: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms (target: p99 under 100 ms)",
        at(0.50),
        at(0.90),
        at(0.99),
        samples[SAMPLES - 1].as_secs_f64() * 1e3
    );
}

fn rollback_preview(c: &mut Criterion) {
    idp::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let state = build_state(&rt, dir.path());
    let caller = platform_admin();
    let old = "1.9.0";
    check_plan(&rt, &state, &caller, None);
    check_plan(&rt, &state, &caller, Some(old));
    percentiles(&rt, &state, &caller, None, "rollback_preview_1000_deploys");
    percentiles(
        &rt,
        &state,
        &caller,
        Some(old),
        "rollback_preview_to_version_1000_deploys",
    );

    c.bench_function("rollback_preview_1000_deploys", |b| {
        b.to_async(&rt)
            .iter(|| preview(black_box(&state), black_box(&caller), None));
    });
    c.bench_function("rollback_preview_to_version_1000_deploys", |b| {
        b.to_async(&rt)
            .iter(|| preview(black_box(&state), black_box(&caller), Some(old)));
    });

    // The store's pool lives on `rt`; drop the state before the runtime, and the files last.
    drop(state);
    drop(rt);
    drop(dir);
}

/// Runs every benchmark of this file with criterion's command-line configuration (what
/// `criterion_group!` generates, written out so that it carries a doc comment).
pub fn benches() {
    let mut criterion = Criterion::default().configure_from_args();
    rollback_preview(&mut criterion);
}

criterion_main!(benches);
