//! On-call: PagerDuty against a fake on loopback that checks what it receives, rotations from
//! `idp.toml` across daylight-saving changes, overrides, validation, caching and the time budget.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use idp::catalog::{CatalogService, EntityRef, Snapshot};
use idp::oncall::{
    OnCall, OnCallConfig, OnCallError, OnCallService, OnCallSource, RotationConfig, Shift,
    catalog_warnings, validate,
};
use secrecy::SecretString;

use crate::fakes::pagerduty::{Behavior, Entry, FakePagerDuty, Service, TOKEN, User};
use crate::support;

// ---------------------------------------------------------------------------------------------
// A catalog in a tempdir, synced into SQLite.

fn group(name: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: {name}\nspec:\n  type: team\n  children: []\n"
    )
}

fn user(name: &str, display: &str, email: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: {name}\nspec:\n  profile:\n    displayName: {display}\n    email: {email}\n  memberOf: []\n"
    )
}

fn component(name: &str, owner: &str, annotations: &[(&str, &str)]) -> String {
    let mut notes = String::new();
    if !annotations.is_empty() {
        notes.push_str("  annotations:\n");
        for (k, v) in annotations {
            notes.push_str(&format!("    {k}: {v}\n"));
        }
    }
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n{notes}spec:\n  type: service\n  lifecycle: production\n  owner: {owner}\n"
    )
}

const SERVICE_ID: &str = "pagerduty.com/service-id";

struct Catalog {
    snapshot: Arc<Snapshot>,
    _dir: tempfile::TempDir,
    _backends: Vec<support::Backend>,
}

impl Catalog {
    async fn build() -> Self {
        let docs = [
            group("payments-team"),
            group("search-team"),
            user("ana", "Ana Lima", "ana@example.com"),
            user("ben", "Ben Okafor", "ben@example.com"),
            user("cara", "Cara Diaz", "Cara.Diaz@Example.com"),
            component("checkout-api", "payments-team", &[(SERVICE_ID, "PCHECK1")]),
            component("pages-api", "payments-team", &[(SERVICE_ID, "PPAGED1")]),
            component("slow-api", "payments-team", &[(SERVICE_ID, "PSLOW01")]),
            component("limited-api", "payments-team", &[(SERVICE_ID, "PRATE01")]),
            component("throttled-api", "payments-team", &[(SERVICE_ID, "PRATE02")]),
            component("ghost-api", "payments-team", &[(SERVICE_ID, "PNOPE01")]),
            component(
                "ledger",
                "payments-team",
                &[(
                    "pagerduty.com/integration-key",
                    "0123456789abcdef0123456789abcdef",
                )],
            ),
            component("search-api", "search-team", &[]),
            component("billing", "payments-team", &[]),
        ];
        let dir = tempfile::tempdir().expect("tmp");
        write(dir.path(), "catalog.yaml", &docs.join("---\n"));
        let backends = support::backends();
        let service = CatalogService::open(backends[0].store().await)
            .await
            .expect("open catalog");
        let reports = service.sync(&[dir.path().to_path_buf()]).await;
        assert!(
            reports
                .iter()
                .all(|r| r.outcome.is_ok() && r.problems.is_empty()),
            "the test catalog syncs cleanly: {reports:?}"
        );
        Self {
            snapshot: service.snapshot(),
            _dir: dir,
            _backends: backends,
        }
    }

    fn index(&self, kind: &str, name: &str) -> u32 {
        self.snapshot
            .get(&EntityRef::new(kind, "default", name))
            .unwrap_or_else(|| panic!("{kind}:{name} is in the test catalog"))
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write");
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("test time")
        .with_timezone(&Utc)
}

/// The moment every PagerDuty test asks about.
fn now() -> DateTime<Utc> {
    at("2026-03-30T10:00:00Z")
}

fn hours(h: i64) -> DateTime<Utc> {
    now() + chrono::Duration::hours(h)
}

fn ana() -> User {
    User {
        id: "PUANA01",
        name: "Ana Lima",
        email: "ana@example.com",
    }
}

fn ben() -> User {
    User {
        id: "PUBEN01",
        name: "Ben Okafor",
        email: "ben@example.com",
    }
}

fn cara() -> User {
    User {
        id: "PUCARA1",
        name: "Cara Diaz",
        email: "cara.diaz@example.com",
    }
}

fn outsider() -> User {
    User {
        id: "PUDEV01",
        name: "Dev Contractor",
        email: "dev@contractor.example",
    }
}

/// Level 1: Ana now, Ben next (and Cara after that, outside the 7-day window); level 2: Cara and
/// an outsider, always; level 3: Ana again, always.
fn checkout() -> Service {
    Service::new(
        "PCHECK1",
        "PPOLCHK",
        "Checkout escalation",
        vec![
            Entry {
                level: 1,
                user: ana(),
                start: Some(hours(-2)),
                end: Some(hours(22)),
            },
            Entry {
                level: 1,
                user: ben(),
                start: Some(hours(22)),
                end: Some(hours(46)),
            },
            Entry {
                level: 1,
                user: cara(),
                start: Some(hours(24 * 9)),
                end: Some(hours(24 * 10)),
            },
            Entry {
                level: 2,
                user: cara(),
                start: None,
                end: None,
            },
            Entry {
                level: 2,
                user: outsider(),
                start: None,
                end: None,
            },
            Entry {
                level: 3,
                user: ana(),
                start: None,
                end: None,
            },
        ],
    )
}

fn service(fake: &FakePagerDuty, token: &str) -> OnCallService {
    OnCallService::new(
        &OnCallConfig::default(),
        &fake.url,
        Some(SecretString::from(token.to_owned())),
    )
    .expect("service")
}

fn users_at(answer: &OnCall, level: u32) -> Vec<String> {
    answer
        .now
        .iter()
        .filter(|s| s.level == level)
        .map(|s| {
            s.person
                .user
                .as_ref()
                .map_or_else(|| format!("?{}", s.person.name), EntityRef::short)
        })
        .collect()
}

fn unreachable_detail(result: &Result<OnCall, OnCallError>) -> String {
    match result {
        Err(e @ OnCallError::Unreachable { provider, detail }) => {
            assert_eq!(*provider, "PagerDuty");
            assert_eq!(e.to_string(), "on-call unknown (PagerDuty unreachable)");
            detail.clone()
        }
        other => panic!("expected PagerDuty unreachable, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// PagerDuty

#[tokio::test(flavor = "multi_thread")]
async fn the_level_one_person_from_pagerduty_is_resolved_to_the_catalog_user_by_email() {
    let catalog = Catalog::build().await;
    let fake = FakePagerDuty::start(vec![checkout()]).await;
    let oncall = service(&fake, TOKEN);
    let answer = oncall
        .for_entity(
            &catalog.snapshot,
            catalog.index("Component", "checkout-api"),
            now(),
        )
        .await
        .expect("answer");
    assert_eq!(
        answer.source,
        OnCallSource::PagerDuty {
            service_id: "PCHECK1".to_owned(),
            escalation_policy_id: "PPOLCHK".to_owned(),
            escalation_policy_name: "Checkout escalation".to_owned(),
        }
    );
    let primary: Vec<&Shift> = answer.primary().collect();
    assert_eq!(primary.len(), 1, "{answer:?}");
    assert_eq!(primary[0].person.name, "Ana Lima");
    assert_eq!(
        primary[0].person.user,
        Some(EntityRef::new("User", "default", "ana"))
    );
    assert_eq!(
        (primary[0].start, primary[0].end),
        (Some(hours(-2)), Some(hours(22)))
    );
    assert!(answer.is_primary(&EntityRef::new("user", "default", "ANA")));
    let next = answer.next.as_ref().expect("someone is next");
    assert_eq!(
        next.person.user,
        Some(EntityRef::new("User", "default", "ben"))
    );
    assert_eq!(
        next.start,
        Some(hours(22)),
        "next starts when Ana's shift ends"
    );
    assert_eq!(
        users_at(&answer, 2),
        ["user:cara", "?Dev Contractor"],
        "emails match case-insensitively; a stranger keeps the PagerDuty name and no catalog user"
    );
    assert!(fake.problems().is_empty(), "{:?}", fake.problems());
    let calls = fake.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].path, "/services/PCHECK1");
    let has = |k: &str, v: &str| calls[1].query.iter().any(|(a, b)| a == k && b == v);
    assert!(
        has("escalation_policy_ids[]", "PPOLCHK") && has("include[]", "users"),
        "{calls:?}"
    );
    assert!(
        has("since", "2026-03-30T10:00:00Z") && has("until", "2026-04-06T10:00:00Z"),
        "{calls:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_of_on_calls_is_read_while_pagerduty_says_there_is_more() {
    let catalog = Catalog::build().await;
    let mut paged = checkout();
    paged.id = "PPAGED1";
    paged.page_size = 2;
    let fake = FakePagerDuty::start(vec![paged]).await;
    let answer = service(&fake, TOKEN)
        .for_entity(
            &catalog.snapshot,
            catalog.index("Component", "pages-api"),
            now(),
        )
        .await
        .expect("answer");
    let offsets: Vec<String> = fake
        .calls()
        .iter()
        .filter(|c| c.path == "/oncalls")
        .flat_map(|c| {
            c.query
                .iter()
                .filter(|(k, _)| k == "offset")
                .map(|(_, v)| v.clone())
        })
        .collect();
    assert_eq!(
        offsets,
        ["0", "2", "4"],
        "five entries in the window, two per page"
    );
    assert_eq!(users_at(&answer, 3), ["user:ana"], "the last page was read");
    assert!(
        answer.next.is_some(),
        "the upcoming shift on page one is kept"
    );
    assert!(fake.problems().is_empty(), "{:?}", fake.problems());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_user_at_two_escalation_levels_appears_at_both() {
    let catalog = Catalog::build().await;
    let fake = FakePagerDuty::start(vec![checkout()]).await;
    let answer = service(&fake, TOKEN)
        .for_entity(
            &catalog.snapshot,
            catalog.index("Component", "checkout-api"),
            now(),
        )
        .await
        .expect("answer");
    let levels: Vec<u32> = answer.now.iter().map(|s| s.level).collect();
    assert_eq!(levels, [1, 2, 2, 3], "level 1 first: {answer:?}");
    assert_eq!(users_at(&answer, 1), ["user:ana"]);
    assert_eq!(users_at(&answer, 3), ["user:ana"]);
    let always = answer.now.iter().find(|s| s.level == 3).expect("level 3");
    assert_eq!(
        (always.start, always.end),
        (None, None),
        "an always-on level is open-ended"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_token_is_unreachable_for_users_and_names_pagerduty_token_for_the_operator() {
    let catalog = Catalog::build().await;
    let fake = FakePagerDuty::start(vec![checkout()]).await;
    let result = service(&fake, "expired-token-value")
        .for_entity(
            &catalog.snapshot,
            catalog.index("Component", "checkout-api"),
            now(),
        )
        .await;
    let detail = unreachable_detail(&result);
    assert!(
        detail.contains("PAGERDUTY_TOKEN") && detail.contains("401"),
        "{detail}"
    );
    assert!(
        !detail.contains("expired-token-value"),
        "the token never shows: {detail}"
    );
    assert_eq!(fake.calls_to("/oncalls"), 0, "nothing after the rejection");
    assert!(fake.problems().is_empty(), "{:?}", fake.problems());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pagerduty_that_does_not_answer_in_time_is_unreachable_within_the_budget() {
    let catalog = Catalog::build().await;
    let mut slow = checkout();
    slow.id = "PSLOW01";
    slow.behavior = Behavior::Slow(Duration::from_secs(10));
    let fake = FakePagerDuty::start(vec![slow]).await;
    let oncall = service(&fake, TOKEN);
    let started = Instant::now();
    let result = oncall
        .for_entity(
            &catalog.snapshot,
            catalog.index("Component", "slow-api"),
            now(),
        )
        .await;
    let elapsed = started.elapsed();
    assert_eq!(unreachable_detail(&result), "timed out after 1.5 s");
    assert!(
        elapsed < Duration::from_secs(3),
        "the 1.5 s budget is respected (took {elapsed:?})"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_lookup_within_the_cache_ttl_makes_no_new_call_and_one_after_it_does() {
    let catalog = Catalog::build().await;
    let fake = FakePagerDuty::start(vec![checkout()]).await;
    let oncall = service(&fake, TOKEN)
        .with_cache_ttl(Duration::from_millis(400), Duration::from_millis(100));
    let index = catalog.index("Component", "checkout-api");
    let first = oncall
        .for_entity(&catalog.snapshot, index, now())
        .await
        .expect("first");
    let second = oncall
        .for_entity(&catalog.snapshot, index, now())
        .await
        .expect("second");
    assert_eq!(first, second);
    assert_eq!(
        fake.calls().len(),
        2,
        "one service and one on-call request in all"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    oncall
        .for_entity(&catalog.snapshot, index, now())
        .await
        .expect("third");
    assert_eq!(fake.calls().len(), 4, "asked again once the answer expired");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failure_is_cached_briefly_so_an_outage_does_not_cost_every_request() {
    let catalog = Catalog::build().await;
    let fake = FakePagerDuty::start(vec![checkout()]).await;
    let oncall = service(&fake, "wrong-token")
        .with_cache_ttl(Duration::from_secs(30), Duration::from_millis(300));
    let index = catalog.index("Component", "checkout-api");
    for _ in 0..3 {
        let result = oncall.for_entity(&catalog.snapshot, index, now()).await;
        unreachable_detail(&result);
    }
    assert_eq!(fake.calls().len(), 1, "the failure is reused");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let result = oncall.for_entity(&catalog.snapshot, index, now()).await;
    unreachable_detail(&result);
    assert_eq!(fake.calls().len(), 2, "and retried once it expired");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limit_whose_retry_after_fits_the_budget_is_waited_out_and_retried() {
    let catalog = Catalog::build().await;
    let mut limited = checkout();
    limited.id = "PRATE01";
    limited.behavior = Behavior::RateLimited {
        retry_after_secs: 1,
        times: 1,
    };
    let fake = FakePagerDuty::start(vec![limited]).await;
    let answer = service(&fake, TOKEN)
        .with_timeout(Duration::from_secs(5))
        .for_entity(
            &catalog.snapshot,
            catalog.index("Component", "limited-api"),
            now(),
        )
        .await
        .expect("answer after one retry");
    assert_eq!(users_at(&answer, 1), ["user:ana"]);
    let statuses: Vec<u16> = fake
        .calls()
        .iter()
        .filter(|c| c.path == "/oncalls")
        .map(|c| c.status)
        .collect();
    assert_eq!(statuses, [429, 200]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limit_asking_for_longer_than_the_budget_fails_at_once_without_sleeping() {
    let catalog = Catalog::build().await;
    let mut throttled = checkout();
    throttled.id = "PRATE02";
    throttled.behavior = Behavior::RateLimited {
        retry_after_secs: 30,
        times: 5,
    };
    let fake = FakePagerDuty::start(vec![throttled]).await;
    let started = Instant::now();
    let result = service(&fake, TOKEN)
        .for_entity(
            &catalog.snapshot,
            catalog.index("Component", "throttled-api"),
            now(),
        )
        .await;
    let elapsed = started.elapsed();
    let detail = unreachable_detail(&result);
    assert!(
        detail.contains("429") && detail.contains("30 s"),
        "{detail}"
    );
    assert_eq!(fake.calls_to("/oncalls"), 1, "no retry that cannot fit");
    assert!(
        elapsed < Duration::from_secs(3),
        "did not sleep 30 s (took {elapsed:?})"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_pagerduty_service_is_not_resolvable_and_names_the_id() {
    let catalog = Catalog::build().await;
    let fake = FakePagerDuty::start(vec![checkout()]).await;
    let result = service(&fake, TOKEN)
        .for_entity(
            &catalog.snapshot,
            catalog.index("Component", "ghost-api"),
            now(),
        )
        .await;
    match result {
        Err(OnCallError::NotResolvable(reason)) => assert!(reason.contains("PNOPE01"), "{reason}"),
        other => panic!("expected not resolvable, got {other:?}"),
    }
    assert_eq!(fake.calls_to("/services/PNOPE01"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_with_only_an_integration_key_is_not_resolvable_because_the_service_id_is_missing()
 {
    let catalog = Catalog::build().await;
    let fake = FakePagerDuty::start(vec![checkout()]).await;
    let result = service(&fake, TOKEN)
        .for_entity(
            &catalog.snapshot,
            catalog.index("Component", "ledger"),
            now(),
        )
        .await;
    let error = result.expect_err("not resolvable");
    assert_eq!(
        error,
        OnCallError::NotResolvable("service id missing".to_owned())
    );
    assert_eq!(
        error.to_string(),
        "on-call not resolvable: service id missing"
    );
    assert!(
        fake.calls().is_empty(),
        "an integration key is never used for lookups"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_token_a_pagerduty_component_is_not_resolvable_and_nothing_is_called() {
    let catalog = Catalog::build().await;
    let fake = FakePagerDuty::start(vec![checkout()]).await;
    let oncall = OnCallService::new(&OnCallConfig::default(), &fake.url, None).expect("service");
    let result = oncall
        .for_entity(
            &catalog.snapshot,
            catalog.index("Component", "checkout-api"),
            now(),
        )
        .await;
    assert_eq!(
        result.expect_err("not resolvable"),
        OnCallError::NotResolvable("PAGERDUTY_TOKEN is not set".to_owned())
    );
    assert!(fake.calls().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Rotations

const ROTATIONS: &str = r#"
[[rotations]]
group = "berlin-weekly"
members = ["user:ana", "user:ben", "user:cara"]
shift = "1w"
handoff = "09:00"
time_zone = "Europe/Berlin"
start = "2026-01-05"

[[rotations]]
group = "berlin-daily"
members = ["ana", "ben"]
shift_hours = 24
handoff = "09:00"
time_zone = "Europe/Berlin"
start = 2026-03-01

[[rotations]]
group = "berlin-night"
members = ["user:ana", "user:ben"]
shift = "1d"
handoff = "02:30"
time_zone = "Europe/Berlin"
start = "2026-03-01"

[[rotations]]
group = "berlin-12h"
members = ["user:ana", "user:ben"]
shift = "12h"
handoff = "09:00"
time_zone = "Europe/Berlin"
start = "2026-03-28"

[[rotations]]
group = "ny-weekly"
members = ["user:dan", "user:eve"]
shift = "1w"
handoff = "10:00"
time_zone = "America/New_York"
start = "2026-01-05"

[[rotations]]
group = "ny-night"
members = ["user:dan", "user:eve"]
shift = "1d"
handoff = "02:30"
time_zone = "America/New_York"
start = "2026-03-01"

[[rotations]]
group = "ny-early"
members = ["user:dan", "user:eve"]
shift = "1d"
handoff = "01:30"
time_zone = "America/New_York"
start = "2026-03-01"
"#;

fn config(text: &str) -> OnCallConfig {
    toml::from_str(text).expect("valid [oncall] config")
}

fn rotation<'a>(config: &'a OnCallConfig, group: &str) -> &'a RotationConfig {
    config
        .rotations
        .iter()
        .find(|r| r.group.name == group)
        .expect("rotation")
}

fn who(rotation: &RotationConfig, when: &str) -> String {
    rotation
        .on_call_at(at(when))
        .map_or_else(|| "nobody".to_owned(), |s| s.user.name)
}

#[test]
fn rotations_hand_over_at_the_local_handoff_time_across_daylight_saving_changes() {
    let config = config(ROTATIONS);
    assert!(validate(&config).is_empty(), "{:?}", validate(&config));
    #[rustfmt::skip]
    let cases: &[(&str, &str, &str, &str)] = &[
        // Weekly, Monday 09:00 Berlin: 08:00Z in winter, 07:00Z in summer.
        ("berlin-weekly", "2026-01-05T08:59:59+01:00", "nobody", "before the first handoff"),
        ("berlin-weekly", "2026-01-05T09:00:00+01:00", "ana", "the first handoff"),
        ("berlin-weekly", "2026-03-30T08:59:59+02:00", "cara", "a second before the first summer handoff"),
        ("berlin-weekly", "2026-03-30T09:00:00+02:00", "ana", "at the first summer handoff (07:00Z)"),
        ("berlin-weekly", "2026-03-30T09:00:01+02:00", "ana", "a second after it"),
        ("berlin-weekly", "2026-04-06T09:00:00+02:00", "ben", "a week later"),
        ("berlin-weekly", "2026-10-26T08:59:59+01:00", "cara", "a second before the first winter handoff"),
        ("berlin-weekly", "2026-10-26T09:00:00+01:00", "ana", "at the first winter handoff (08:00Z)"),
        ("berlin-weekly", "2026-10-26T09:00:01+01:00", "ana", "a second after it"),
        // Daily (shift_hours = 24 counts calendar days), 09:00 Berlin.
        ("berlin-daily", "2026-03-29T08:59:59+02:00", "ben", "the 23-hour day, a second before"),
        ("berlin-daily", "2026-03-29T09:00:00+02:00", "ana", "the 23-hour day, at the handoff"),
        ("berlin-daily", "2026-03-29T09:00:01+02:00", "ana", "the 23-hour day, a second after"),
        ("berlin-daily", "2026-10-25T08:59:59+01:00", "ben", "the 25-hour day, a second before"),
        ("berlin-daily", "2026-10-25T09:00:00+01:00", "ana", "the 25-hour day, at the handoff"),
        ("berlin-daily", "2026-10-25T09:00:01+01:00", "ana", "the 25-hour day, a second after"),
        // Handoff 02:30 Berlin: missing on 2026-03-29 (→ 03:00 CEST), twice on 2026-10-25 (→ first).
        ("berlin-night", "2026-03-29T00:59:59Z", "ben", "a second before the clocks jump"),
        ("berlin-night", "2026-03-29T01:00:00Z", "ana", "the first instant after the gap"),
        ("berlin-night", "2026-03-29T01:00:01Z", "ana", "a second after it"),
        ("berlin-night", "2026-10-25T00:29:59Z", "ben", "a second before the first 02:30"),
        ("berlin-night", "2026-10-25T00:30:00Z", "ana", "the first 02:30 (CEST)"),
        ("berlin-night", "2026-10-25T01:30:00Z", "ana", "the second 02:30 (CET) is no handoff"),
        // 12-hour shifts count absolute hours: the wall-clock handoff moves to 10:00 CEST.
        ("berlin-12h", "2026-03-29T07:00:00Z", "ben", "09:00 CEST is no handoff for 12h shifts"),
        ("berlin-12h", "2026-03-29T07:59:59Z", "ben", "a second before 12 h later"),
        ("berlin-12h", "2026-03-29T08:00:00Z", "ana", "exactly 24 absolute hours after the start"),
        // Weekly, Monday 10:00 New York: 15:00Z in winter, 14:00Z in summer.
        ("ny-weekly", "2026-03-09T09:59:59-04:00", "dan", "a second before the first EDT handoff"),
        ("ny-weekly", "2026-03-09T10:00:00-04:00", "eve", "at the first EDT handoff (14:00Z)"),
        ("ny-weekly", "2026-03-09T10:00:01-04:00", "eve", "a second after it"),
        ("ny-weekly", "2026-11-02T09:59:59-05:00", "dan", "a second before the first EST handoff"),
        ("ny-weekly", "2026-11-02T10:00:00-05:00", "eve", "at the first EST handoff (15:00Z)"),
        ("ny-weekly", "2026-11-02T10:00:01-05:00", "eve", "a second after it"),
        // 02:30 New York does not exist on 2026-03-08 (→ 03:00 EDT = 07:00Z).
        ("ny-night", "2026-03-08T06:59:59Z", "dan", "a second before the clocks jump"),
        ("ny-night", "2026-03-08T07:00:00Z", "eve", "the first instant after the gap"),
        ("ny-night", "2026-03-08T07:00:01Z", "eve", "a second after it"),
        // 01:30 New York happens twice on 2026-11-01 (→ 01:30 EDT = 05:30Z).
        ("ny-early", "2026-11-01T05:29:59Z", "dan", "a second before the first 01:30"),
        ("ny-early", "2026-11-01T05:30:00Z", "eve", "the first 01:30 (EDT)"),
        ("ny-early", "2026-11-01T06:30:00Z", "eve", "the second 01:30 (EST) is no handoff"),
    ];
    for (group, when, expected, why) in cases {
        assert_eq!(
            who(rotation(&config, group), when),
            *expected,
            "{group} at {when}: {why}"
        );
    }
}

#[test]
fn a_shift_across_a_daylight_saving_change_is_23_or_25_hours_long() {
    let config = config(ROTATIONS);
    let daily = rotation(&config, "berlin-daily");
    let spring = daily.on_call_at(at("2026-03-29T03:00:00Z")).expect("ben");
    assert_eq!(
        (spring.start, spring.end),
        (at("2026-03-28T08:00:00Z"), at("2026-03-29T07:00:00Z"))
    );
    let autumn = daily.on_call_at(at("2026-10-24T12:00:00Z")).expect("ben");
    assert_eq!(
        (autumn.start, autumn.end),
        (at("2026-10-24T07:00:00Z"), at("2026-10-25T08:00:00Z"))
    );
    let next = daily
        .next_after(at("2026-10-24T12:00:00Z"))
        .expect("ana next");
    assert_eq!(
        (next.user.name.as_str(), next.start),
        ("ana", at("2026-10-25T08:00:00Z"))
    );
}

const WITH_OVERRIDES: &str = r#"
[[rotations]]
group = "search-team"
members = ["user:ana", "user:ben", "user:cara"]
shift = "1w"
handoff = "09:00"
time_zone = "Europe/Berlin"
start = "2026-01-05"

[[rotations.overrides]]
user = "user:ben"
start = "2026-03-31T12:00:00+02:00"
end = "2026-04-01T12:00:00+02:00"

[[rotations.overrides]]
user = "user:cara"
start = "2026-03-31T18:00:00+02:00"
end = "2026-03-31T20:00:00+02:00"

[[rotations.overrides]]
user = "ben"
start = "2026-04-06T06:00"
end = "2026-04-06T09:00"
"#;

#[test]
fn overrides_win_over_the_rotation_and_the_later_listed_override_wins_where_they_overlap() {
    let config = config(WITH_OVERRIDES);
    let r = rotation(&config, "search-team");
    #[rustfmt::skip]
    let cases: &[(&str, &str, &str)] = &[
        ("2026-03-31T11:59:59+02:00", "ana", "a second before the override"),
        ("2026-03-31T12:00:00+02:00", "ben", "at the override's start"),
        ("2026-03-31T17:59:59+02:00", "ben", "inside the first override"),
        ("2026-03-31T18:00:00+02:00", "cara", "the later override wins"),
        ("2026-03-31T20:00:00+02:00", "ben", "back to the first override"),
        ("2026-04-01T11:59:59+02:00", "ben", "a second before the override ends"),
        ("2026-04-01T12:00:00+02:00", "ana", "at its end the rotation is back"),
        ("2026-04-06T06:00:00+02:00", "ben", "a local-time override in the rotation's zone"),
    ];
    for (when, expected, why) in cases {
        assert_eq!(who(r, when), *expected, "at {when}: {why}");
    }
    let during = r.on_call_at(at("2026-03-31T13:00:00+02:00")).expect("ben");
    assert!(during.overridden);
    assert_eq!(
        (during.start, during.end),
        (
            at("2026-03-31T12:00:00+02:00"),
            at("2026-03-31T18:00:00+02:00")
        )
    );
    let before = r.on_call_at(at("2026-03-31T11:00:00+02:00")).expect("ana");
    assert!(!before.overridden);
    assert_eq!(
        before.end,
        at("2026-03-31T12:00:00+02:00"),
        "Ana's shift is cut by the override"
    );
    let after = r
        .next_after(at("2026-04-01T12:00:00+02:00"))
        .expect("ben next");
    assert_eq!(
        (after.user.name.as_str(), after.start, after.end),
        (
            "ben",
            at("2026-04-06T06:00:00+02:00"),
            at("2026-04-13T09:00:00+02:00")
        ),
        "an override that runs into the same person's shift joins it"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_without_pagerduty_answers_with_its_owning_groups_rotation() {
    let catalog = Catalog::build().await;
    let oncall =
        OnCallService::new(&config(WITH_OVERRIDES), "http://127.0.0.1:9", None).expect("service");
    assert!(oncall.has_rotation(&EntityRef::new("Group", "default", "Search-Team")));
    assert!(!oncall.has_rotation(&EntityRef::new("Group", "default", "payments-team")));
    let when = at("2026-03-31T13:00:00+02:00");
    for index in [
        catalog.index("Component", "search-api"),
        catalog.index("Group", "search-team"),
    ] {
        let answer = oncall
            .for_entity(&catalog.snapshot, index, when)
            .await
            .expect("answer");
        assert_eq!(
            answer.source,
            OnCallSource::Rotation {
                group: EntityRef::new("Group", "default", "search-team")
            }
        );
        assert_eq!(answer.now.len(), 1);
        let now = &answer.now[0];
        assert_eq!((now.level, now.person.name.as_str()), (1, "Ben Okafor"));
        assert_eq!(now.person.email.as_deref(), Some("ben@example.com"));
        assert!(answer.is_primary(&EntityRef::new("User", "default", "ben")));
        let next = answer.next.as_ref().expect("next");
        assert_eq!(
            next.person.user,
            Some(EntityRef::new("User", "default", "cara"))
        );
        assert_eq!(next.start, Some(at("2026-03-31T18:00:00+02:00")));
    }
    let billing = oncall
        .for_entity(
            &catalog.snapshot,
            catalog.index("Component", "billing"),
            when,
        )
        .await;
    assert_eq!(
        billing.expect_err("no rotation").to_string(),
        "on-call not resolvable: no PagerDuty service id and no rotation for group:payments-team"
    );
    let team = oncall
        .for_entity(
            &catalog.snapshot,
            catalog.index("Group", "payments-team"),
            when,
        )
        .await;
    assert!(
        matches!(team, Err(OnCallError::NotResolvable(_))),
        "{team:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_users_shifts_list_the_current_one_and_the_next_one_per_rotation() {
    let catalog = Catalog::build().await;
    let oncall =
        OnCallService::new(&config(WITH_OVERRIDES), "http://127.0.0.1:9", None).expect("service");
    let when = at("2026-03-30T10:00:00+02:00");
    let ana = oncall
        .shifts_of(
            &catalog.snapshot,
            &EntityRef::new("User", "default", "ana"),
            when,
        )
        .await;
    type Span<'a> = (&'a str, Option<DateTime<Utc>>, Option<DateTime<Utc>>);
    let spans: Vec<Span> = ana
        .iter()
        .map(|(what, s)| (what.as_str(), s.start, s.end))
        .collect();
    assert_eq!(
        spans,
        [
            (
                "group:search-team",
                Some(at("2026-03-30T09:00:00+02:00")),
                Some(at("2026-03-31T12:00:00+02:00"))
            ),
            (
                "group:search-team",
                Some(at("2026-04-01T12:00:00+02:00")),
                Some(at("2026-04-06T06:00:00+02:00"))
            ),
        ],
        "now until the override, then again after it"
    );
    let cara = oncall
        .shifts_of(
            &catalog.snapshot,
            &EntityRef::new("User", "default", "cara"),
            when,
        )
        .await;
    assert_eq!(cara.len(), 1, "not on call now, one next: {cara:?}");
    assert_eq!(
        cara[0].1.start,
        Some(at("2026-03-31T18:00:00+02:00")),
        "the override comes first"
    );
    let nobody = oncall
        .shifts_of(
            &catalog.snapshot,
            &EntityRef::new("User", "default", "zed"),
            when,
        )
        .await;
    assert!(nobody.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Validation

#[test]
fn a_bad_rotation_is_rejected_on_load_with_an_error_naming_the_rotation_and_the_field() {
    let base = |field: &str| {
        let mut fields = [
            ("members", r#"["user:ana"]"#),
            ("shift", r#""1w""#),
            ("handoff", r#""09:00""#),
            ("time_zone", r#""Europe/Berlin""#),
            ("start", r#""2026-01-05""#),
        ];
        let mut extra = String::new();
        match field {
            "time_zone" => fields[3].1 = r#""Europe/Berln""#,
            "handoff" => fields[2].1 = r#""9am""#,
            "members" => fields[0].1 = "[]",
            "shift" => fields[1].1 = r#""1x""#,
            "start" => fields[4].1 = r#""05.01.2026""#,
            "overrides[0].end" => {
                extra = "\n[[rotations.overrides]]\nuser = \"user:ben\"\nstart = \"2026-03-29T08:00:00+02:00\"\nend = \"2026-03-29T08:00:00+02:00\"\n".to_owned();
            }
            _ => {}
        }
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        format!(
            "[[rotations]]\ngroup = \"search-team\"\n{}\n{extra}",
            body.join("\n")
        )
    };
    for field in [
        "time_zone",
        "handoff",
        "members",
        "shift",
        "start",
        "overrides[0].end",
    ] {
        let error = toml::from_str::<OnCallConfig>(&base(field))
            .expect_err("invalid")
            .to_string();
        assert!(
            error.contains("search-team`") && error.contains(&format!("`{field}`")),
            "{field}: {error}"
        );
        assert!(
            error.contains("line"),
            "the TOML reader adds the line: {error}"
        );
    }
    assert!(toml::from_str::<OnCallConfig>(&base("none")).is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn validation_reports_a_group_with_two_rotations_and_warns_about_members_missing_from_the_catalog()
 {
    let text = r#"
[[rotations]]
group = "search-team"
members = ["user:ana", "user:zed"]
shift = "1w"
handoff = "09:00"
time_zone = "Europe/Berlin"
start = "2026-01-05"

[[rotations]]
group = "group:default/Search-Team"
members = ["user:ben"]
shift = "1d"
handoff = "09:00"
time_zone = "UTC"
start = "2026-01-05"
"#;
    let config = config(text);
    let problems = validate(&config);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("already has a rotation"),
        "{problems:?}"
    );
    let refused = OnCallService::new(&config, "http://127.0.0.1:9", None).expect_err("refused");
    assert!(refused.contains("already has a rotation"), "{refused}");

    let catalog = Catalog::build().await;
    let warnings = catalog_warnings(&config, &catalog.snapshot);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("user:zed") && warnings[0].contains("`members`"),
        "{warnings:?}"
    );
}

#[test]
fn a_bad_rotation_in_idp_toml_is_reported_with_the_file_and_line_and_a_good_one_loads() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("idp.toml");
    let file = |zone: &str| {
        format!(
            "[catalog]\nsources = []\n\n[[oncall.rotations]]\ngroup = \"search-team\"\nmembers = [\"user:ana\"]\nshift = \"1w\"\nhandoff = \"09:00\"\ntime_zone = \"{zone}\"\nstart = \"2026-01-05\"\n\n[[oncall.rotations.overrides]]\nuser = \"user:ben\"\nstart = 2026-03-29T08:00:00+02:00\nend = 2026-03-30T08:00:00+02:00\n"
        )
    };
    std::fs::write(&path, file("Mars/Olympus")).expect("write");
    let error = idp::config::Settings::load(Some(&path), |_| None)
        .expect_err("invalid")
        .to_string();
    assert!(
        error.contains("idp.toml")
            && error.contains("line ")
            && error.contains("`time_zone`")
            && error.contains("Mars/Olympus"),
        "{error}"
    );
    std::fs::write(&path, file("Europe/Berlin")).expect("write");
    let settings = idp::config::Settings::load(Some(&path), |_| None).expect("valid");
    let rotations = &settings.file.oncall.rotations;
    assert_eq!(rotations.len(), 1);
    assert_eq!(rotations[0].overrides[0].start, at("2026-03-29T06:00:00Z"));
}
