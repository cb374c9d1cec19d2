//! Benchmarks of the `/idp owner checkout-api` hot path, in process (no HTTP, no sockets).
//!
//! * `owner_checkout_api_signed_10k`: [`idp::slack::http::handle_command`] on a signed slash-command
//!   body against a synthetic 10,000-component catalog synced into SQLite: signature check, form
//!   decoding, command parsing, snapshot lookup and Block Kit JSON rendering.
//! * `verify_only`: only [`SignatureVerifier::verify`] on the same body.
//! * `parse_only`: only [`idp::command::parse`] of `owner checkout-api`.
//!
//! Run with `cargo bench --bench hot_path`. The catalog is generated, synced and loaded once
//! before measuring (a few seconds); the store is not touched inside the measured loops.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use axum::http::StatusCode;
use criterion::{Criterion, criterion_main};
use idp::AppState;
use idp::authz::Policy;
use idp::catalog::CatalogService;
use idp::command::Dialect;
use idp::slack::verify::{SignatureVerifier, sign};
use idp::store::Store;

/// The allocator `idp serve` runs with (see `src/main.rs`), so the figures are the binary's.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The shared test signing secret (the same one `../shared/bench` and the tests use).
const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
/// Components in the synthetic catalog.
const COMPONENTS: usize = 10_000;
/// The command text measured.
const TEXT: &str = "owner checkout-api";

/// A slash-command form body exactly as Slack sends it (same field set as
/// `tests/it/support.rs::command_body`).
fn command_body(text: &str) -> String {
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
    .expect("encode the slash-command form")
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .expect("clock after 1970")
}

/// Generates the catalog into `dir`, syncs it into a SQLite store there and builds the state.
fn build_state(rt: &tokio::runtime::Runtime, dir: &Path) -> Arc<AppState> {
    let catalog_dir = dir.join("catalog");
    let report =
        idp::catalog::generate::generate(COMPONENTS, &catalog_dir).expect("generate the catalog");
    assert_eq!(report.components, COMPONENTS, "generated component count");
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    rt.block_on(async {
        let store = Store::connect(&url, None)
            .await
            .expect("open the SQLite store");
        store.migrate().await.expect("migrate the store");
        let service = CatalogService::open(store)
            .await
            .expect("open the catalog service");
        let reports = service.sync(&[catalog_dir.join("all.yaml")]).await;
        assert!(
            reports.iter().all(|r| r.outcome.is_ok()),
            "the synthetic catalog syncs"
        );
        assert!(
            service.snapshot().len() > COMPONENTS,
            "the snapshot holds the catalog"
        );
        let verifier = SignatureVerifier::new(&secrecy::SecretString::from(SECRET));
        // As `idp serve` builds it: identity lookups (no bot token here, so callers are guests,
        // cached) and the audit log writing every command in the background.
        let identity = idp::identity::IdentityService::new(
            service.store().clone(),
            None,
            &idp::config::IdentityConfig::default(),
        )
        .expect("identity service");
        let audit = idp::audit::AuditLog::start(service.store().clone());
        Arc::new(
            AppState::with_services(
                Arc::new(service),
                Arc::new(Policy::builtin()),
                Arc::new(idp::oncall::OnCallService::default()),
                Some(verifier),
            )
            .with_identity(Arc::new(identity))
            .with_audit(audit),
        )
    })
}

fn hot_path(c: &mut Criterion) {
    idp::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let state = build_state(&rt, dir.path());

    let body = command_body(TEXT);
    let ts = now_secs();
    let ts_text = ts.to_string();
    let signature = sign(SECRET, ts, body.as_bytes());

    // `now` equals the signed timestamp, so the signature stays valid however long criterion runs.
    let (status, reply) = rt.block_on(idp::slack::http::handle_command(
        &state,
        Some(&ts_text),
        Some(&signature),
        body.as_bytes(),
        ts,
    ));
    assert_eq!(status, StatusCode::OK, "signed command answered");
    let reply_text = String::from_utf8(reply).expect("UTF-8 reply");
    assert!(
        reply_text.contains("payments-platform")
            && reply_text.contains("\"ephemeral\"")
            && reply_text.contains("\"blocks\""),
        "reply names the owner team: {reply_text}"
    );

    c.bench_function("owner_checkout_api_signed_10k", |b| {
        b.to_async(&rt).iter(|| {
            idp::slack::http::handle_command(
                black_box(&state),
                black_box(Some(ts_text.as_str())),
                black_box(Some(signature.as_str())),
                black_box(body.as_bytes()),
                black_box(ts),
            )
        });
    });

    // The same without the audit log, to show what recording every command costs.
    let quiet = Arc::new(AppState::with_services(
        state.catalog.clone(),
        state.policy.clone(),
        state.oncall.clone(),
        state.verifier.clone(),
    ));
    c.bench_function("owner_checkout_api_signed_10k_without_audit", |b| {
        b.to_async(&rt).iter(|| {
            idp::slack::http::handle_command(
                black_box(&quiet),
                black_box(Some(ts_text.as_str())),
                black_box(Some(signature.as_str())),
                black_box(body.as_bytes()),
                black_box(ts),
            )
        });
    });
    drop(quiet);

    let verifier = state.verifier.as_ref().expect("state has a verifier");
    verifier
        .verify(Some(&ts_text), Some(&signature), body.as_bytes(), ts)
        .expect("signature verifies");
    c.bench_function("verify_only", |b| {
        b.iter(|| {
            verifier.verify(
                black_box(Some(ts_text.as_str())),
                black_box(Some(signature.as_str())),
                black_box(body.as_bytes()),
                black_box(ts),
            )
        });
    });

    // An authorization decision for a rollback with the on-call status looked up (a rotation,
    // computed in memory) and the caller's groups resolved: what `/idp can rollback` and the
    // rollback confirmation do before anything else.
    let snapshot = state.catalog.snapshot();
    let team = snapshot
        .get(&idp::catalog::EntityRef::new(
            "Group",
            "default",
            "payments-platform",
        ))
        .expect("payments-platform");
    let member = snapshot
        .related(team, idp::catalog::RelationType::HasMember)
        .find_map(|t| match t {
            idp::catalog::Target::Resolved(i) => Some(snapshot.node(*i).entity.entity_ref.clone()),
            idp::catalog::Target::Unresolved(_) => None,
        })
        .expect("a member");
    let rotation: idp::oncall::OnCallConfig = toml::from_str(&format!(
        "[[rotations]]\ngroup = \"payments-platform\"\nmembers = [\"{}\", \"someone-else\"]\nshift = \"2d\"\nhandoff = \"09:00\"\ntime_zone = \"Europe/Berlin\"\nstart = \"{}\"\n",
        member.name,
        (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%d")
    ))
    .expect("rotation config");
    let oncall = idp::oncall::OnCallService::new(&rotation, "http://127.0.0.1:9", None)
        .expect("on-call service");
    let policy = Policy::builtin();
    let caller = idp::authz::Caller::user(idp::authz::Origin::Shell, member);
    let now = chrono::Utc::now();
    let defaults = idp::templates::TemplateDefaults::default();
    let rollbacks = idp::actions::rollback::RollbackSettings::default();
    let decide_once = || async {
        let ctx = idp::handlers::Context {
            snapshot: &snapshot,
            policy: &policy,
            oncall: &oncall,
            deploys: state.catalog.store(),
            audit_reader: state.catalog.store(),
            subscriptions: state.catalog.store(),
            score_history: state.catalog.store(),
            run_lookup: state.catalog.store(),
            now,
            templates: &defaults,
            runs: None,
            idempotency_key: None,
            channel_id: None,
            rollbacks: &rollbacks,
            incident_clock: None,
            scorer: None,
            scores: &idp::handlers::home::NoScores,
            identity: None,
            audit: None,
        };
        let groups = idp::authz::groups_of(&snapshot, caller.user.as_ref());
        let facts = idp::authz::TargetFacts::of(&snapshot, team);
        let on_call = idp::handlers::on_call_status(&ctx, &caller, team).await;
        idp::authz::decide(
            &policy,
            &idp::authz::AccessRequest {
                action: idp::authz::Action::Rollback,
                caller: &caller,
                groups: &groups,
                target: Some(&facts),
                environment: Some("production"),
                on_call,
                requester: None,
                now,
            },
        )
    };
    let first = rt.block_on(decide_once());
    assert!(
        first.allowed(),
        "the on-call member may roll back: {first:?}"
    );
    c.bench_function("authz_rollback_decision_with_on_call", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(decide_once().await) });
    });

    let now = chrono::Utc::now();
    idp::command::parse(TEXT, Dialect::Slack, now).expect("the command parses");
    c.bench_function("parse_only", |b| {
        b.iter(|| idp::command::parse(black_box(TEXT), black_box(Dialect::Slack), black_box(now)));
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
    hot_path(&mut criterion);
}

criterion_main!(benches);
