//! Scorecards: every check kind as a table, levels and weights, the stored history on both
//! backends, the scorer over the demo catalog, and bad files stopping `idp serve`.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use idp::catalog::{Entity, EntityRef, Snapshot};
use idp::deploys::LastDeploys;
use idp::oncall::{OnCallConfig, OnCallService};
use idp::scorecards::{self, Facts, ScorecardResults, Scorer, ScorerOptions};
use idp::store::{CheckState, EntityState, Store};

use crate::support;

/// A small catalog with one entity for each situation the checks tell apart.
const CATALOG: &str = r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: { name: team-a }
spec: { type: team, children: [] }
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: { name: team-b }
spec: { type: team, children: [] }
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: { name: u1 }
spec: { memberOf: [team-a] }
---
apiVersion: backstage.io/v1alpha1
kind: Domain
metadata: { name: dom }
spec: { owner: team-a }
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata: { name: sys }
spec: { owner: team-a, domain: dom }
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata: { name: api-1 }
spec: { type: openapi, lifecycle: production, owner: team-a, definition: "openapi: 3.0.0" }
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: full
  title: Full
  tags: [java, pci]
  labels: { tier: "1" }
  links:
    - { url: "https://runbooks.example.com/full", title: Runbook, type: runbook }
  annotations:
    pagerduty.com/service-id: PFULL01
    idp.dev/slo: "99.9% of requests succeed"
    idp.dev/tracing: Enabled
spec:
  type: service
  lifecycle: production
  owner: team-a
  system: sys
  providesApis: [api-1]
  consumesApis: [api-1]
  dependsOn: [component:bare]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: { name: bare }
spec: { type: library, lifecycle: experimental, owner: team-b }
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: orphan
  annotations: { pagerduty.com/integration-key: not-a-service-id }
spec:
  type: service
  lifecycle: production
  owner: missing-group
  system: missing-sys
  providesApis: [missing-api]
  dependsOn: [component:ghost]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: { name: user-owned }
spec: { type: service, lifecycle: production, owner: user:u1 }
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: rota
  tags: [java]
  labels: { tier: "3" }
  links:
    - { url: "https://runbooks.example.com/rota", title: Runbook }
  annotations:
    idp.dev/slo: soon
    idp.dev/tracing: disabled
spec: { type: service, lifecycle: production, owner: team-a }
"#;

const ROTATION: &str = r#"
[[rotations]]
group = "team-a"
members = ["u1"]
shift = "1w"
handoff = "09:00"
time_zone = "UTC"
start = "2026-01-05"
"#;

fn snapshot() -> Snapshot {
    let read = idp::catalog::ingest::read_descriptor_text("table", CATALOG);
    assert!(read.problems.is_empty(), "{:?}", read.problems);
    let entities: Vec<Entity> = read
        .entities
        .iter()
        .map(|e| {
            let doc: serde_json::Value = serde_json::from_str(&e.body).expect("json");
            Entity::from_document(&doc).expect("entity")
        })
        .collect();
    Snapshot::build(entities, 1)
}

fn oncall() -> OnCallService {
    let config: OnCallConfig = toml::from_str(ROTATION).expect("rotation");
    OnCallService::new(&config, "https://api.pagerduty.com", None).expect("on-call")
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0)
        .single()
        .expect("time")
}

fn deploys() -> LastDeploys {
    let mut d = LastDeploys::default();
    d.insert(
        "component:default/full",
        "production",
        now() - Duration::days(10),
    );
    d.insert(
        "component:default/rota",
        "production",
        now() - Duration::days(40),
    );
    d
}

fn card(checks: &str, rest: &str) -> Arc<idp::scorecards::Scorecard> {
    let yaml = format!("scorecards:\n  - id: t\n    title: T\n    checks:\n{checks}{rest}");
    let defs = scorecards::from_yaml(&yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    defs.scorecards[0].clone()
}

fn evaluate(card: &Arc<idp::scorecards::Scorecard>, snapshot: &Snapshot) -> ScorecardResults {
    let oncall = oncall();
    let deploys = deploys();
    scorecards::evaluate(
        card,
        snapshot,
        &Facts {
            now: now(),
            oncall: &oncall,
            deploys: &deploys,
        },
    )
}

fn index(snapshot: &Snapshot, r: &str) -> u32 {
    let r = EntityRef::parse(r, Some("Component"), "default").expect("ref");
    snapshot.get(&r).expect("in the table catalog")
}

#[test]
fn each_check_kind_passes_and_fails_as_the_table_says() {
    // (rule, entity, None = passes | Some(part of the failure reason))
    let table: &[(&str, &str, Option<&str>)] = &[
        // annotation exists / equals / matches
        ("annotation: { key: idp.dev/slo }", "full", None),
        (
            "annotation: { key: idp.dev/slo }",
            "bare",
            Some("no `idp.dev/slo` annotation"),
        ),
        (
            "annotation: { key: idp.dev/tracing, equals: enabled }",
            "full",
            None,
        ),
        (
            "annotation: { key: idp.dev/tracing, equals: enabled }",
            "rota",
            Some("`idp.dev/tracing` annotation is not `enabled`"),
        ),
        (
            "annotation: { key: idp.dev/tracing, equals: enabled }",
            "bare",
            Some("no `idp.dev/tracing` annotation"),
        ),
        (
            "annotation: { key: idp.dev/slo, matches: '^\\d+(\\.\\d+)?%' }",
            "full",
            None,
        ),
        (
            "annotation: { key: idp.dev/slo, matches: '^\\d+(\\.\\d+)?%' }",
            "rota",
            Some("does not match `^\\d+(\\.\\d+)?%`"),
        ),
        // label present / equals
        ("label: { key: tier }", "full", None),
        ("label: { key: tier }", "bare", Some("no `tier` label")),
        (
            "label: { key: tier, equals: '1' }",
            "rota",
            Some("`tier` label is not `1`"),
        ),
        // tag
        ("tag: PCI", "full", None),
        ("tag: pci", "rota", Some("no `pci` tag")),
        // link by title, by type
        ("link: { title: runbook }", "rota", None),
        (
            "link: { title: runbook }",
            "bare",
            Some("no link titled `runbook`"),
        ),
        ("link: { type: runbook }", "full", None),
        (
            "link: { type: runbook }",
            "rota",
            Some("no link of type `runbook`"),
        ),
        (
            "link: { title: Runbook, type: runbook }",
            "rota",
            Some("no link titled `Runbook` of type `runbook`"),
        ),
        // fields exist / equal / match
        ("field: { path: spec.system }", "full", None),
        (
            "field: { path: spec.system }",
            "bare",
            Some("no `spec.system`"),
        ),
        (
            "field: { path: spec.system, equals: default/sys }",
            "full",
            None,
        ),
        (
            "field: { path: spec.lifecycle, equals: Production }",
            "full",
            None,
        ),
        (
            "field: { path: spec.lifecycle, equals: production }",
            "bare",
            Some("`spec.lifecycle` is not `production`"),
        ),
        (
            "field: { path: spec.type, equals: service }",
            "bare",
            Some("`spec.type` is not `service`"),
        ),
        ("field: { path: spec.owner, equals: team-a }", "full", None),
        (
            "field: { path: spec.owner, equals: team-a }",
            "bare",
            Some("`spec.owner` is not `team-a`"),
        ),
        ("field: { path: metadata.title }", "full", None),
        (
            "field: { path: metadata.title }",
            "bare",
            Some("no `metadata.title`"),
        ),
        (
            "field: { path: metadata.name, matches: '^f' }",
            "full",
            None,
        ),
        (
            "field: { path: metadata.annotations.idp.dev/slo }",
            "bare",
            Some("no `metadata.annotations.idp.dev/slo`"),
        ),
        (
            "field: { path: metadata.labels.tier, equals: '3' }",
            "rota",
            None,
        ),
        // relations exist and resolve
        ("relation: owner", "full", None),
        (
            "relation: owner",
            "orphan",
            Some("`spec.owner` names group:missing-group, which is not in the catalog"),
        ),
        (
            "relation: owner",
            "user-owned",
            Some("`spec.owner` names user:u1, which is a User, not a group"),
        ),
        ("relation: system", "full", None),
        (
            "relation: system",
            "bare",
            Some("not part of a system (`spec.system`)"),
        ),
        (
            "relation: system",
            "orphan",
            Some("system:missing-sys, which is not in the catalog"),
        ),
        ("relation: domain", "system:sys", None),
        ("relation: domain", "full", Some("not part of a domain")),
        ("relation: provides_api", "full", None),
        (
            "relation: provides_api",
            "bare",
            Some("provides no API (`spec.providesApis`)"),
        ),
        (
            "relation: provides_api",
            "orphan",
            Some("api:missing-api, which is not in the catalog"),
        ),
        ("relation: consumes_api", "full", None),
        ("relation: consumes_api", "bare", Some("consumes no API")),
        ("relation: depends_on", "full", None),
        (
            "relation: depends_on",
            "orphan",
            Some("component:ghost, which is not in the catalog"),
        ),
        // on-call: a PagerDuty service id, or a rotation of the owner
        ("on_call: resolvable", "full", None),
        ("on_call: resolvable", "rota", None),
        (
            "on_call: resolvable",
            "bare",
            Some(
                "on-call not resolvable: no PagerDuty service id and no rotation for group:team-b",
            ),
        ),
        (
            "on_call: resolvable",
            "orphan",
            Some("on-call not resolvable: service id missing"),
        ),
        // deploy recency, any environment or one
        ("deployed_within: { days: 30 }", "full", None),
        (
            "deployed_within: { days: 30 }",
            "rota",
            Some("last successful deploy was 40 days ago (2026-01-29), more than 30"),
        ),
        (
            "deployed_within: { days: 30 }",
            "bare",
            Some("no successful deploy recorded"),
        ),
        (
            "deployed_within: { days: 30, environment: Production }",
            "full",
            None,
        ),
        (
            "deployed_within: { days: 30, environment: staging }",
            "full",
            Some("no successful deploy to staging recorded"),
        ),
        (
            "deployed_within: { days: 45, environment: production }",
            "rota",
            None,
        ),
        // all of / any of, nested
        ("all_of: [ { tag: java }, { tag: pci } ]", "full", None),
        (
            "all_of: [ { tag: java }, { tag: pci } ]",
            "rota",
            Some("no `pci` tag"),
        ),
        ("any_of: [ { tag: go }, { tag: java } ]", "rota", None),
        (
            "any_of: [ { tag: go }, { tag: java } ]",
            "bare",
            Some("none of: no `go` tag; no `java` tag"),
        ),
        (
            "any_of: [ { title: Go or Rust, any_of: [ { tag: go }, { tag: rust } ] }, { all_of: [ { tag: java }, { relation: system } ] } ]",
            "full",
            None,
        ),
        (
            "any_of: [ { title: Go or Rust, any_of: [ { tag: go }, { tag: rust } ] }, { all_of: [ { tag: java }, { relation: system } ] } ]",
            "rota",
            Some("none of: Go or Rust; no `java` tag or not part of a system"),
        ),
    ];
    let snapshot = snapshot();
    let mut wrong = Vec::new();
    for (rule, entity, want) in table {
        let c = card(
            &format!("      - id: c\n        title: C\n        weight: 1\n        {rule}\n"),
            "",
        );
        let results = evaluate(&c, &snapshot);
        let e = results
            .entity(index(&snapshot, entity))
            .expect("no applies_to: every entity is scored");
        let got = &e.outcomes[0];
        let ok = match want {
            None => got.passed && got.reason.is_none(),
            Some(part) => !got.passed && got.reason.as_deref().is_some_and(|r| r.contains(part)),
        };
        if !ok {
            wrong.push(format!("{rule} on {entity}: want {want:?}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn scores_are_weighted_shares_rounded_down_and_levels_are_cumulative() {
    let snapshot = snapshot();
    let c = card(
        "      - { id: java, title: Java, weight: 1, tag: java }\n\
         \x20     - { id: pci, title: PCI, weight: 2, tag: pci }\n\
         \x20     - { id: runbook, title: Runbook, weight: 3.5, link: { title: Runbook } }\n",
        "    applies_to: { kind: Component, lifecycle: production }\n\
         \x20   levels:\n\
         \x20     - { name: bronze, checks: [java] }\n\
         \x20     - { name: silver, checks: [pci] }\n\
         \x20     - { name: gold, checks: [runbook] }\n",
    );
    let results = evaluate(&c, &snapshot);
    let at = |name: &str| results.entity(index(&snapshot, name));
    // Only production components: full, orphan, user-owned, rota.
    assert_eq!(results.len(), 4);
    assert!(at("bare").is_none(), "experimental: not scored");

    let full = at("full").expect("full");
    assert_eq!(
        (full.score, full.level.map(|l| l.name.as_str())),
        (100, Some("gold"))
    );
    assert!(full.next_level().is_none() && full.failing().is_empty());

    // java (1) and runbook (3.5) of 6.5 → 69.2 → 69; gold's check passes but silver's does not.
    let rota = at("rota").expect("rota");
    assert_eq!(rota.score, 69);
    assert_eq!(rota.level.map(|l| l.name.as_str()), Some("bronze"));
    let (next, missing) = rota.next_level().expect("silver is next");
    assert_eq!(next.name, "silver");
    assert_eq!(
        missing.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["pci"]
    );

    let orphan = at("orphan").expect("orphan");
    assert_eq!((orphan.score, orphan.level), (0, None));
    let failing: Vec<&str> = orphan
        .failing()
        .iter()
        .map(|(c, _)| c.id.as_str())
        .collect();
    assert_eq!(failing, ["runbook", "pci", "java"], "heaviest first");
    let (next, missing) = orphan.next_level().expect("bronze is next");
    assert_eq!((next.name.as_str(), missing.len()), ("bronze", 1));

    // Fractions that add up to the total give 100, not 99.
    let c = card(
        "      - { id: a, title: A, weight: 0.1, tag: java }\n\
         \x20     - { id: b, title: B, weight: 0.2, tag: pci }\n",
        "",
    );
    let results = evaluate(&c, &snapshot);
    let full = results.entity(index(&snapshot, "full")).expect("full");
    assert_eq!(full.score, 100);
    let rota = results.entity(index(&snapshot, "rota")).expect("rota");
    assert_eq!(rota.score, 33, "0.1 of 0.3, rounded down");
    let (avg, n) = results
        .average([index(&snapshot, "full"), index(&snapshot, "rota")])
        .expect("two scored");
    assert_eq!((avg, n), (66.5, 2));
}

#[test]
fn applies_to_filters_by_kind_type_lifecycle_namespace_system_and_tags() {
    let snapshot = snapshot();
    let names = |rest: &str| {
        let c = card("      - { id: x, title: X, weight: 1, tag: java }\n", rest);
        let results = evaluate(&c, &snapshot);
        let mut v: Vec<String> = results
            .iter()
            .map(|e| snapshot.node(e.index).entity.entity_ref.name.clone())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names("    applies_to: { kind: component, type: service, system: SYS }\n"),
        ["full"]
    );
    assert_eq!(
        names("    applies_to: { kind: [Component], tags: [java, go] }\n"),
        ["full", "rota"]
    );
    assert_eq!(
        names("    applies_to: { kind: Component, lifecycle: [experimental] }\n"),
        ["bare"]
    );
    assert!(names("    applies_to: { namespace: elsewhere }\n").is_empty());
    assert_eq!(
        names("    applies_to: { kind: [System, Domain] }\n"),
        ["dom", "sys"]
    );
}

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0)
        .single()
        .expect("time")
}

fn state<'a>(
    entity: &str,
    score: u8,
    level: Option<&'a str>,
    checks: &[(&'a str, bool)],
) -> EntityState<'a> {
    EntityState {
        entity: entity.to_owned(),
        score,
        level,
        checks: checks
            .iter()
            .map(|&(id, passed)| CheckState {
                id,
                passed,
                reason: (!passed).then_some("it fails"),
            })
            .collect(),
    }
}

async fn record(
    store: &Store,
    states: &[EntityState<'_>],
    now: DateTime<Utc>,
) -> idp::store::RecordOutcome {
    store
        .record_evaluation("ready", states, now)
        .await
        .expect("recorded")
}

#[tokio::test]
async fn the_history_keeps_flips_with_their_time_and_a_score_per_day_on_both_backends() {
    let a = "component:default/a";
    let b = "component:default/b";
    let both = [a.to_owned(), b.to_owned()];
    for backend in support::backends() {
        let store = backend.store().await;
        let name = backend.name;

        // Day 1, 08:00: first evaluation; everything is new.
        let first = [
            state(a, 100, Some("gold"), &[("slo", true), ("alerts", true)]),
            state(b, 50, Some("bronze"), &[("slo", false), ("alerts", true)]),
        ];
        let o = record(&store, &first, at(1, 8)).await;
        assert_eq!(
            (
                o.checks_written,
                o.flips,
                o.scores_written,
                o.history_written
            ),
            (4, 0, 2, 2),
            "{name}"
        );
        // The same result again writes nothing.
        let o = record(&store, &first, at(1, 9)).await;
        assert_eq!(o, idp::store::RecordOutcome::default(), "{name}");
        assert_eq!(
            store.scorecard_evaluated_at("ready").await.expect("read"),
            Some(at(1, 9)),
            "{name}"
        );

        // Day 2, 10:00: a's slo breaks, b's slo is fixed.
        let second = [
            state(a, 50, Some("bronze"), &[("slo", false), ("alerts", true)]),
            state(b, 100, Some("gold"), &[("slo", true), ("alerts", true)]),
        ];
        let o = record(&store, &second, at(2, 10)).await;
        assert_eq!(
            (
                o.checks_written,
                o.flips,
                o.scores_written,
                o.history_written
            ),
            (2, 2, 2, 2),
            "{name}"
        );

        // Day 3: only the reason of a's failure changes; its `since` stays at day 2.
        let mut third = second.clone();
        third[0].checks[0].reason = Some("a new reason");
        let o = record(&store, &third, at(3, 10)).await;
        assert_eq!(
            (
                o.checks_written,
                o.flips,
                o.scores_written,
                o.history_written
            ),
            (1, 0, 0, 2),
            "{name}"
        );

        // Since day 1 noon: a regressed (slo, since day 2), b improved; scores then from day 1.
        let changes = store
            .changes_since("ready", &both, at(1, 12))
            .await
            .expect("changes");
        assert_eq!(changes.len(), 2, "{name}");
        let ca = &changes[0];
        assert_eq!(ca.entity, a);
        assert_eq!(
            (ca.score, ca.level.as_deref()),
            (Some(50), Some("bronze")),
            "{name}"
        );
        let then = ca.then.as_ref().expect("day 1's score");
        assert_eq!(
            (
                then.day.to_string().as_str(),
                then.score,
                then.level.as_deref()
            ),
            ("2026-03-01", 100, Some("gold"))
        );
        assert_eq!(ca.regressions.len(), 1, "{name}");
        assert_eq!(ca.regressions[0].check_id, "slo");
        assert_eq!(ca.regressions[0].since, at(2, 10));
        assert_eq!(ca.regressions[0].reason.as_deref(), Some("a new reason"));
        assert!(ca.improvements.is_empty());
        let cb = &changes[1];
        assert_eq!(cb.improvements.len(), 1, "{name}");
        assert_eq!(
            (
                cb.improvements[0].check_id.as_str(),
                cb.improvements[0].since
            ),
            ("slo", at(2, 10))
        );
        assert!(cb.regressions.is_empty());

        // Since day 2, 09:00 (before that day's evaluation): the day-2 row was written after the
        // time, so the score then is the latest earlier day's.
        let changes = store
            .changes_since("ready", &both, at(2, 9))
            .await
            .expect("changes");
        assert_eq!(
            changes[0].then.as_ref().map(|t| t.score),
            Some(100),
            "{name}"
        );
        assert_eq!(changes[0].regressions.len(), 1, "{name}");
        // Since day 2, 11:00: the flip is older, nothing changed; the score then is day 2's.
        let changes = store
            .changes_since("ready", &both, at(2, 11))
            .await
            .expect("changes");
        assert!(
            changes
                .iter()
                .all(|c| c.regressions.is_empty() && c.improvements.is_empty()),
            "{name}"
        );
        assert_eq!(
            changes[0].then.as_ref().map(|t| t.score),
            Some(50),
            "{name}"
        );

        // Day 4: a's alerts break and are fixed again the same day: no net change since day 3.
        let mut broken = third.clone();
        broken[0].checks[1].passed = false;
        broken[0].checks[1].reason = Some("no alerts");
        record(&store, &broken, at(4, 8)).await;
        record(&store, &third, at(4, 9)).await;
        let changes = store
            .changes_since("ready", &both, at(3, 12))
            .await
            .expect("changes");
        assert!(
            changes
                .iter()
                .all(|c| c.regressions.is_empty() && c.improvements.is_empty()),
            "{name}: {changes:?}"
        );

        // A check added to the scorecard after a time is neither a regression nor an improvement.
        let mut added = third.clone();
        added[0].checks.push(CheckState {
            id: "tracing",
            passed: false,
            reason: Some("off"),
        });
        let o = record(&store, &added, at(5, 8)).await;
        assert_eq!((o.checks_written, o.flips), (1, 0), "{name}");
        let changes = store
            .changes_since("ready", &both, at(4, 12))
            .await
            .expect("changes");
        assert!(changes.iter().all(|c| c.regressions.is_empty()), "{name}");

        // b is no longer scored: its current rows go, its history stays.
        let o = record(&store, &added[..1], at(6, 8)).await;
        assert_eq!(o.entities_removed, 1, "{name}");
        let changes = store
            .changes_since("ready", &both, at(4, 12))
            .await
            .expect("changes");
        let gone = changes
            .iter()
            .find(|c| c.entity == b)
            .expect("b has history");
        assert_eq!(
            (gone.score, gone.then.as_ref().map(|t| t.score)),
            (None, Some(100)),
            "{name}"
        );
        let history = store
            .score_history("ready", a, at(1, 0).date_naive())
            .await
            .expect("history");
        let scores: Vec<(String, u8)> = history
            .iter()
            .map(|d| (d.day.to_string(), d.score))
            .collect();
        assert_eq!(
            scores,
            [
                ("2026-03-01".to_owned(), 100),
                ("2026-03-02".to_owned(), 50),
                ("2026-03-03".to_owned(), 50),
                ("2026-03-04".to_owned(), 50),
                ("2026-03-05".to_owned(), 50),
                ("2026-03-06".to_owned(), 50),
            ],
            "{name}"
        );
        // Another scorecard's history is its own.
        let other = store
            .changes_since("other", &both, at(1, 0))
            .await
            .expect("changes");
        assert!(other.is_empty(), "{name}");
    }
}

#[tokio::test]
async fn a_large_evaluation_is_recorded_in_batches_on_both_backends() {
    for backend in support::backends() {
        let store = backend.store().await;
        let ids: Vec<String> = (0..10).map(|i| format!("check-{i}")).collect();
        let states: Vec<EntityState<'_>> = (0..1200)
            .map(|n| EntityState {
                entity: format!("component:default/svc-{n}"),
                score: (n % 101) as u8,
                level: None,
                checks: ids
                    .iter()
                    .enumerate()
                    .map(|(i, id)| CheckState {
                        id,
                        passed: (n + i) % 3 != 0,
                        reason: None,
                    })
                    .collect(),
            })
            .collect();
        let o = record(&store, &states, at(1, 8)).await;
        assert_eq!(
            (o.checks_written, o.scores_written, o.history_written),
            (12_000, 1200, 1200),
            "{}",
            backend.name
        );
        let o = record(&store, &states, at(1, 9)).await;
        assert_eq!(o, idp::store::RecordOutcome::default(), "{}", backend.name);
    }
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A scorer over the demo catalog, with the repository's scorecards and `[oncall]`.
async fn demo_scorer(backend: &support::Backend) -> (Arc<idp::AppState>, Scorer) {
    let state = support::demo_state(backend).await;
    let settings =
        idp::config::Settings::load(Some(&repo().join("idp.toml")), |_| None).expect("settings");
    let definitions = scorecards::load(&repo().join("scorecards.yaml")).expect("demo scorecards");
    let oncall = OnCallService::new(&settings.file.oncall, "https://api.pagerduty.com", None)
        .expect("on-call");
    let scorer = Scorer::new(
        Arc::new(definitions),
        state.catalog.clone(),
        Arc::new(oncall),
        ScorerOptions::default(),
    );
    (state, scorer)
}

#[tokio::test]
async fn the_demo_scores_a_mix_of_services_and_tells_what_to_fix() {
    for backend in support::backends() {
        let name = backend.name;
        let (state, scorer) = demo_scorer(&backend).await;
        // Stored times have millisecond precision.
        let now = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).expect("now");
        let latest = scorer
            .evaluate_now(now)
            .await
            .expect("evaluated and recorded");
        let results = latest
            .scorecard("production-readiness")
            .expect("the scorecard");
        let snapshot = &latest.snapshot;
        let of = |service: &str| {
            let i = index(snapshot, service);
            results.entity(i)
        };
        let summary =
            |service: &str| of(service).map(|e| (e.score, e.level.map(|l| l.name.clone())));
        assert_eq!(
            summary("payment-gateway"),
            Some((100, Some("gold".to_owned()))),
            "{name}"
        );
        assert_eq!(
            summary("order-service"),
            Some((100, Some("gold".to_owned()))),
            "{name}"
        );
        assert_eq!(
            summary("checkout-api"),
            Some((92, Some("silver".to_owned()))),
            "{name}"
        );
        assert_eq!(
            summary("accounts-service"),
            Some((84, Some("bronze".to_owned()))),
            "{name}"
        );
        assert_eq!(summary("web-storefront"), Some((30, None)), "{name}");
        assert_eq!(
            of("recommendations").map(|e| e.score),
            None,
            "experimental: not scored"
        );
        assert_eq!(of("ui-kit").map(|e| e.score), None, "a library: not scored");

        // checkout-api: exactly one thing to fix, with the golden path that fixes it.
        let checkout = of("checkout-api").expect("scored");
        let failing = checkout.failing();
        assert_eq!(failing.len(), 1, "{name}");
        let (check, outcome) = failing[0];
        assert_eq!(check.id, "tracing");
        assert_eq!(
            outcome.reason.as_deref(),
            Some("no `idp.dev/tracing` annotation")
        );
        assert!(matches!(
            check.fix.as_ref().and_then(|f| f.link.as_ref()),
            Some(idp::scorecards::FixLink::Template(t)) if t.name == "backend-service"
        ));
        let storefront = of("web-storefront").expect("scored");
        let reasons: Vec<String> = storefront
            .failing()
            .iter()
            .filter_map(|(_, o)| o.reason.as_deref().map(str::to_owned))
            .collect();
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("no rotation for group:storefront-web")),
            "{reasons:?}"
        );
        let search = of("search-service").expect("scored");
        assert!(search.failing().iter().any(|(c, o)| {
            c.id == "slo"
                && o.reason
                    .as_deref()
                    .is_some_and(|r| r.contains("does not match"))
        }));
        assert_eq!(
            of("login-web")
                .and_then(|e| e.level.map(|l| l.name.clone()))
                .as_deref(),
            Some("bronze"),
            "a rotation counts as on-call"
        );

        // The evaluation is in the store.
        let store = state.catalog.store();
        assert_eq!(
            store
                .scorecard_evaluated_at("production-readiness")
                .await
                .expect("read"),
            Some(now)
        );
        let changes = store
            .changes_since(
                "production-readiness",
                &["component:default/checkout-api".to_owned()],
                now - Duration::hours(1),
            )
            .await
            .expect("changes");
        assert_eq!(changes[0].score, Some(92), "{name}");

        // Nothing changed: no re-evaluation. A deploy event: re-evaluated. An hour later: too.
        assert!(
            !scorer
                .refresh_if_changed(now + Duration::seconds(5))
                .await
                .expect("look"),
            "{name}"
        );
        let event = serde_json::json!({
            "id": "ev-1", "type": "deploy.succeeded", "source": "ci", "time": now.to_rfc3339(),
            "data": {"service": "checkout-api", "environment": "production", "version": "1.2.3"}
        });
        let event = idp::deploys::parse_event(event.to_string().as_bytes(), "ci").expect("event");
        store.record_event(&event).await.expect("stored");
        assert!(
            scorer
                .refresh_if_changed(now + Duration::seconds(10))
                .await
                .expect("look"),
            "{name}"
        );
        assert!(
            !scorer
                .refresh_if_changed(now + Duration::seconds(15))
                .await
                .expect("look"),
            "{name}"
        );
        assert!(
            scorer
                .refresh_if_changed(now + Duration::hours(2))
                .await
                .expect("look"),
            "{name}"
        );
        // A new snapshot (another sync, here a reload): re-evaluated.
        state.catalog.reload().await.expect("reload");
        assert!(
            scorer
                .refresh_if_changed(now + Duration::hours(2))
                .await
                .expect("look"),
            "{name}"
        );
        assert!(
            scorer
                .latest()
                .is_some_and(|l| Arc::ptr_eq(&l.snapshot, &state.catalog.snapshot()))
        );
    }
}

/// Runs idp in `cwd` as `crate::cli` does, with a signing secret so `serve` gets to the file.
fn idp_bin(cwd: &Path, args: &[&str]) -> std::process::Output {
    crate::cli::idp(
        cwd,
        args,
        &[
            ("SLACK_SIGNING_SECRET", "test-secret"),
            ("IDP_LISTEN", "127.0.0.1:0"),
        ],
    )
}

#[test]
fn an_invalid_scorecards_file_stops_serve_and_fails_check_with_file_and_line() {
    let tmp = tempfile::tempdir().expect("tmp");
    let demo = repo().join("catalog/demo/all.yaml");
    std::fs::write(
        tmp.path().join("idp.toml"),
        format!(
            "[catalog]\nsources = [{:?}]\n\n[scorecards]\nfile = \"cards.yaml\"\n",
            demo.display().to_string()
        ),
    )
    .expect("write");
    std::fs::write(
        tmp.path().join("cards.yaml"),
        "scorecards:\n  - id: x\n    title: X\n    checks:\n      - { id: a, title: A, weight: 1, tag: t }\n    levels:\n      - { name: bronze, checks: [a, b] }\n",
    )
    .expect("write");
    let out = idp_bin(tmp.path(), &["serve"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("cards.yaml: line 7: scorecard `x`: level `bronze` names unknown check `b`"),
        "{err}"
    );

    let out = idp_bin(tmp.path(), &["check"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("cards.yaml: line 7:"),
        "{err}"
    );

    // Valid, with a fix naming a template the catalog lacks: a warning, not an error.
    std::fs::write(
        tmp.path().join("cards.yaml"),
        "scorecards:\n  - id: x\n    title: X\n    checks:\n      - { id: a, title: A, weight: 1, tag: t, fix: { text: run it, template: no-such-path } }\n      - { id: b, title: B, weight: 1, tag: u, fix: { text: run it, template: backend-service } }\n",
    )
    .expect("write");
    let out = idp_bin(tmp.path(), &["check"]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains("scorecards: ") && all.contains("(1 scorecards, 2 checks)"),
        "{all}"
    );
    assert!(
        all.contains("warning: ") && all.contains("cards.yaml: line 5: scorecard `x`, check `a`: fix template template:no-such-path is not in the catalog"),
        "{all}"
    );
    assert!(
        !all.contains("template:backend-service is not in the catalog"),
        "{all}"
    );
}
