//! Scorecard benchmarks (issue 6): 10,000 generated services against a scorecard of 10 checks
//! must evaluate in under 500 ms; a 500-service digest must render in under 20 ms.
//!
//! The synthetic catalog of `idp catalog generate` (10,000 components with their groups, systems,
//! APIs and resources) is written to a temporary folder, read and built into a snapshot once;
//! `[oncall]` has rotations for a few teams and the deploy history a last deploy for half of the
//! services. The measured loop is [`idp::scorecards::evaluate`] only: every check of every
//! component, scores and levels, no I/O.
//!
//! The digest bench renders [`idp::scorecards::report::synthetic_digest`] of 500 services (250
//! regressions, 166 improvements, up to 9 failing checks each with fixes) to Block Kit with
//! [`idp::slack::scorecard_message::render_digest`] and serializes it as posted.
//!
//! Run with `cargo bench --bench scorecards`; criterion's medians are in
//! `target/criterion/evaluate_10k_services_10_checks/new/estimates.json` and
//! `target/criterion/render_digest_500_services/new/estimates.json`.

use std::hint::black_box;
use std::sync::Arc;

use chrono::{Duration, Utc};
use criterion::{Criterion, criterion_main};
use idp::catalog::{Entity, Snapshot};
use idp::deploys::LastDeploys;
use idp::oncall::{OnCallConfig, OnCallService};
use idp::scorecards::{self, Facts};

/// The allocator `idp serve` runs with (see `src/main.rs`), so the figures are the binary's.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Components in the synthetic catalog.
const COMPONENTS: usize = 10_000;

/// Ten checks touching every kind of rule that reads the entity or the facts.
const SCORECARD: &str = r#"
scorecards:
  - id: bench
    title: Bench readiness
    applies_to: { kind: Component }
    checks:
      - { id: owner, title: Owner, weight: 2, relation: owner }
      - { id: on-call, title: On-call, weight: 3, on_call: resolvable }
      - id: runbook
        title: Runbook
        weight: 2
        any_of:
          - link: { type: runbook }
          - link: { title: Runbook }
      - { id: repo, title: Repository, weight: 1, annotation: { key: github.com/project-slug } }
      - { id: pd-id, title: PagerDuty id, weight: 1, annotation: { key: pagerduty.com/service-id, matches: '^P[A-Z0-9]{6}$' } }
      - { id: production, title: In production, weight: 1, field: { path: spec.lifecycle, equals: production } }
      - { id: system, title: System, weight: 1, relation: system }
      - { id: api, title: Provides an API, weight: 1, relation: provides_api }
      - { id: go, title: Written in Go or Rust, weight: 1, any_of: [ { tag: go }, { tag: rust } ] }
      - { id: deployed, title: Deployed this month, weight: 2, deployed_within: { days: 30, environment: production } }
    levels:
      - { name: bronze, checks: [owner, on-call] }
      - { name: silver, checks: [runbook, repo, system] }
      - { name: gold, checks: [deployed, api] }
"#;

fn snapshot() -> Snapshot {
    let dir = tempfile::tempdir().expect("temp dir");
    let report =
        idp::catalog::generate::generate(COMPONENTS, dir.path()).expect("generate the catalog");
    assert_eq!(report.components, COMPONENTS);
    let read = idp::catalog::read_source(&dir.path().join("all.yaml"));
    let entities: Vec<Entity> = read
        .entities
        .iter()
        .filter_map(|e| {
            let doc: serde_json::Value = serde_json::from_str(&e.body).ok()?;
            Entity::from_document(&doc).ok()
        })
        .collect();
    Snapshot::build(entities, 1)
}

fn evaluation(c: &mut Criterion) {
    let snapshot = snapshot();
    let definitions = scorecards::from_yaml(SCORECARD, "bench.yaml").expect("valid scorecard");
    let card = definitions.scorecards[0].clone();
    assert_eq!(card.checks.len(), 10);

    // Rotations for every fifth team; the generator's libraries carry no PagerDuty id.
    let groups: Vec<String> = snapshot
        .entities()
        .iter()
        .filter(|n| n.entity.entity_ref.kind.eq_ignore_ascii_case("group"))
        .map(|n| n.entity.entity_ref.name.clone())
        .step_by(5)
        .collect();
    let mut toml = String::new();
    for g in &groups {
        toml.push_str(&format!(
            "[[rotations]]\ngroup = \"{g}\"\nmembers = [\"someone\"]\nshift = \"1w\"\nhandoff = \"09:00\"\ntime_zone = \"UTC\"\nstart = \"2026-01-05\"\n"
        ));
    }
    let config: OnCallConfig = toml::from_str(&toml).expect("rotations");
    let oncall = OnCallService::new(&config, "https://api.pagerduty.com", None).expect("on-call");

    let now = Utc::now();
    let mut deploys = LastDeploys::default();
    for (i, n) in snapshot.entities().iter().enumerate().step_by(2) {
        deploys.insert(
            &n.entity.entity_ref.key(),
            "production",
            now - Duration::days((i % 60) as i64),
        );
    }
    let facts = Facts {
        now,
        oncall: &oncall,
        deploys: &deploys,
    };

    let results = scorecards::evaluate(&card, &snapshot, &facts);
    assert_eq!(results.len(), COMPONENTS, "every component is scored");
    let levels = |name: Option<&str>| {
        results
            .iter()
            .filter(|e| e.level.map(|l| l.name.as_str()) == name)
            .count()
    };
    eprintln!(
        "scorecards bench: {} components; levels: none {}, bronze {}, silver {}, gold {}",
        results.len(),
        levels(None),
        levels(Some("bronze")),
        levels(Some("silver")),
        levels(Some("gold"))
    );

    let card = Arc::clone(&card);
    c.bench_function("evaluate_10k_services_10_checks", |b| {
        b.iter(|| black_box(scorecards::evaluate(&card, &snapshot, &facts)));
    });
}

fn digest_rendering(c: &mut Criterion) {
    let digest = idp::scorecards::report::synthetic_digest(500, Utc::now());
    let reply = idp::slack::scorecard_message::render_digest(&digest);
    eprintln!("digest bench: 500 services, {} blocks", reply.blocks.len());
    c.bench_function("render_digest_500_services", |b| {
        b.iter(|| {
            let reply = idp::slack::scorecard_message::render_digest(black_box(&digest));
            black_box(serde_json::to_vec(&reply).expect("serializes"))
        });
    });
}

/// Runs the benchmark with criterion's command-line configuration (what `criterion_group!`
/// generates, written out so that it carries a doc comment).
pub fn benches() {
    let mut criterion = Criterion::default().sample_size(20).configure_from_args();
    evaluation(&mut criterion);
    digest_rendering(&mut criterion);
}

criterion_main!(benches);
