//! The App Home tab: `app_home_opened` over signed HTTP publishes the person's home with
//! `views.publish` (checked by the Slack fake: a home view, at most 100 blocks), and the home of a
//! person in no team, one team and ten teams (of 30 services each) stays within Block Kit's limits.

use std::sync::Arc;

use idp::authz::{Caller, Origin, Policy};
use idp::catalog::{CatalogService, EntityRef};
use idp::handlers::home::{self, Home, HomeSources, ScoreLookup, ServiceScore};
use serde_json::{Value, json};

use crate::harness::{Options, TestApp, spawn_app};
use crate::support;

/// `user` opens idp's App Home; what idp published for them with `views.publish`.
async fn open_home(h: &TestApp, user: &str) -> Value {
    let opened = h
        .event(
            json!({"type": "app_home_opened", "user": user, "channel": "D0001", "tab": "home",
                      "event_ts": "1700000000.000100"}),
        )
        .await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    h.eventually(&format!("views.publish for {user}"), || {
        h.slack
            .posted("views.publish")
            .into_iter()
            .find(|p| p["user_id"] == json!(user))
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn opening_the_home_tab_publishes_the_persons_teams_services_and_buttons() {
    let backend = &support::backends()[0];
    let h = spawn_app(backend, Options::default()).await;
    let published = open_home(&h, "U1MEI").await;
    let view = &published["view"];
    assert_eq!(view["type"], json!("home"));
    let text = view.to_string();
    for expected in [
        "Hello, Mei Tanaka",
        "checkout-api",
        "on call: Mei Tanaka",
        "home_new_service",
        "home_scorecard",
        "group:default/payments-platform",
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
    // Someone idp cannot identify gets the reason, not an error.
    let guest = open_home(&h, "U2NOMAIL").await;
    assert!(
        guest["view"]
            .to_string()
            .contains("does not know who you are"),
        "{guest}"
    );
    h.stop().await;
}

struct Scores;

impl ScoreLookup for Scores {
    fn score_of(&self, key: &str) -> Option<ServiceScore> {
        let n = key.bytes().map(u32::from).sum::<u32>() % 101;
        Some(ServiceScore {
            level: (n > 50).then(|| "silver".to_owned()),
            score: u8::try_from(n).unwrap_or(100),
        })
    }
}

/// A catalog with `lonely.person` (no team) and `busy.person` (in ten teams of 30 services).
fn crowded_catalog(dir: &std::path::Path) {
    let mut yaml = String::new();
    let groups: Vec<String> = (0..10).map(|g| format!("team-{g:02}")).collect();
    for person in ["lonely.person", "busy.person"] {
        let member_of = if person == "busy.person" {
            format!("[{}]", groups.join(", "))
        } else {
            "[]".to_owned()
        };
        yaml.push_str(&format!(
            "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: {person}\nspec:\n  profile:\n    email: {person}@example.com\n  memberOf: {member_of}\n---\n"
        ));
    }
    for g in &groups {
        yaml.push_str(&format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: {g}\nspec:\n  type: team\n  children: []\n---\n"
        ));
        for s in 0..30 {
            yaml.push_str(&format!(
                "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {g}-svc-{s:02}\n  description: \"<!channel> *bold* <https://evil.example|click>\"\nspec:\n  type: service\n  lifecycle: production\n  owner: group:{g}\n---\n"
            ));
        }
    }
    std::fs::write(dir.join("catalog-info.yaml"), yaml).expect("write");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_home_of_someone_in_no_team_one_team_or_ten_teams_fits_block_kit() {
    let backend = &support::backends()[0];
    let tmp = tempfile::tempdir().expect("tmp");
    crowded_catalog(tmp.path());
    let catalog = Arc::new(
        CatalogService::open(backend.store().await)
            .await
            .expect("open"),
    );
    let reports = catalog
        .sync(&[tmp.path().to_path_buf(), support::demo_catalog()])
        .await;
    assert!(reports.iter().all(|r| r.outcome.is_ok()), "{reports:?}");
    let snapshot = catalog.snapshot();
    let policy = Policy::builtin();
    let oncall = idp::oncall::OnCallService::new(
        &crate::harness::payments_rotation(),
        "http://127.0.0.1:9",
        None,
    )
    .expect("on-call");
    let sources = HomeSources {
        snapshot: &snapshot,
        policy: &policy,
        oncall: &oncall,
        runs: catalog.store(),
        scores: &Scores,
        now: chrono::Utc::now(),
    };
    let person = |name: &str| {
        Caller::user(
            Origin::Slack {
                team_id: "T0001".into(),
                user_id: "U0".into(),
                channel_id: String::new(),
            },
            EntityRef::new("user", "default", name),
        )
    };
    let blocks_of =
        |home: &Home| serde_json::to_value(idp::slack::home::home_blocks(home)).expect("json");
    // No team: a hint instead of an empty page.
    let lonely = home::build(&sources, &person("lonely.person")).await;
    assert!(
        matches!(&lonely, Home::Member { groups, .. } if groups.is_empty()),
        "{lonely:?}"
    );
    let text = blocks_of(&lonely).to_string();
    assert!(text.contains("not in any team"), "{text}");
    // One team (the demo's payments-platform): its services, lowest score first.
    let mei = home::build(&sources, &person("mei.tanaka")).await;
    let Home::Member { groups, .. } = &mei else {
        panic!("{mei:?}");
    };
    assert_eq!(groups.len(), 1, "{groups:?}");
    let scores: Vec<u8> = groups[0]
        .services
        .iter()
        .filter_map(|s| s.score.as_ref().map(|x| x.score))
        .collect();
    assert!(scores.windows(2).all(|w| w[0] <= w[1]), "{scores:?}");
    // Ten teams of 30 services: every team shown, services cut with a pointer, within limits.
    let busy = home::build(&sources, &person("busy.person")).await;
    let Home::Member { groups, .. } = &busy else {
        panic!("{busy:?}");
    };
    assert_eq!(groups.len(), 10);
    let blocks = blocks_of(&busy);
    let count = blocks.as_array().map_or(0, Vec::len);
    assert!(count <= 100, "{count} blocks");
    let text = blocks.to_string();
    assert!(text.contains("…and 15 more"), "{text}");
    assert!(text.contains("/idp team team-09"), "{text}");
    assert!(!text.contains("<!channel>"), "catalog text is escaped");
    for section in blocks.as_array().into_iter().flatten() {
        if let Some(t) = section.pointer("/text/text").and_then(Value::as_str) {
            assert!(t.chars().count() <= 3000, "{t}");
        }
    }
}
