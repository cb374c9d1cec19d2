//! Slack callers mapped to catalog users through the fake Slack's `users.info`.

use std::sync::Arc;
use std::time::Duration;

use idp::catalog::CatalogService;
use idp::config::IdentityConfig;
use idp::identity::IdentityService;
use idp::slack::client::SlackApi;

use crate::fakes::slack::{BOT_TOKEN, FakeSlack};
use crate::harness::{DEV, Options, spawn_app};
use crate::support;

fn api(fake: &FakeSlack) -> SlackApi {
    SlackApi::new(
        &fake.url,
        &secrecy::SecretString::from(BOT_TOKEN),
        Duration::from_secs(2),
    )
    .expect("client")
}

#[tokio::test(flavor = "multi_thread")]
async fn slack_users_map_to_catalog_users_by_email_and_others_are_guests_with_a_reason() {
    for backend in support::backends() {
        let h = spawn_app(&backend, Options::default()).await;
        let fake = &h.slack;
        let catalog = &h.state.catalog;
        let snapshot = catalog.snapshot();
        let service = h.state.identity.clone().expect("identity is wired");

        let mei = service.resolve(&snapshot, "U1MEI").await;
        assert_eq!(
            mei.user.as_ref().map(|u| u.name.as_str()),
            Some("mei.tanaka"),
            "{}",
            backend.name
        );
        let grid = service.resolve(&snapshot, "W1MEI").await;
        assert_eq!(
            grid.user, mei.user,
            "the Enterprise Grid id maps to the same user"
        );

        let no_mail = service.resolve(&snapshot, "U2NOMAIL").await;
        assert!(no_mail.user.is_none());
        assert!(
            no_mail
                .guest_reason
                .as_deref()
                .is_some_and(|r| r.contains("users:read.email")),
            "{no_mail:?}"
        );

        let unknown = service.resolve(&snapshot, "U404").await;
        assert!(
            unknown.user.is_none()
                && unknown
                    .guest_reason
                    .as_deref()
                    .is_some_and(|r| r.contains("doesn't know"))
        );

        // Cached: in memory, and in the store for a fresh service (another replica).
        let before = fake.calls("users.info").len();
        service.resolve(&snapshot, "U1MEI").await;
        let other = IdentityService::new(
            catalog.store().clone(),
            Some(Arc::new(api(fake))),
            &IdentityConfig::default(),
        )
        .expect("service");
        assert_eq!(other.resolve(&snapshot, "U1MEI").await.user, mei.user);
        assert_eq!(
            fake.calls("users.info").len(),
            before,
            "no new users.info call"
        );
        let sent: Vec<String> = fake
            .calls("users.info")
            .iter()
            .filter_map(|q| q.get("user").cloned())
            .collect();
        assert!(sent.contains(&"W1MEI".to_owned()));
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_explicit_mapping_wins_and_an_unreachable_slack_makes_a_guest() {
    idp::install_crypto_provider();
    let backend = &support::backends()[0];
    let catalog = CatalogService::open(backend.store().await)
        .await
        .expect("open");
    catalog.sync(&[support::demo_catalog()]).await;
    let snapshot = catalog.snapshot();
    let mut config = IdentityConfig::default();
    config
        .users
        .insert("U9".to_owned(), "vera.lindholm".to_owned());
    config
        .users
        .insert("U10".to_owned(), "user:nobody".to_owned());
    // Slack on a closed port: nothing answers.
    let dead = SlackApi::new(
        "http://127.0.0.1:9/api",
        &secrecy::SecretString::from(BOT_TOKEN),
        Duration::from_millis(500),
    )
    .expect("client");
    let service = IdentityService::new(catalog.store().clone(), Some(Arc::new(dead)), &config)
        .expect("service");
    assert_eq!(
        service.resolve(&snapshot, "U9").await.user.map(|u| u.name),
        Some("vera.lindholm".to_owned())
    );
    assert!(
        service
            .resolve(&snapshot, "U10")
            .await
            .guest_reason
            .is_some_and(|r| r.contains("not in the catalog"))
    );
    let down = service.resolve(&snapshot, "U1MEI").await;
    assert!(
        down.user.is_none()
            && down
                .guest_reason
                .is_some_and(|r| r.contains("couldn't ask Slack"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn whoami_over_signed_http_shows_the_mapped_user_groups_and_roles() {
    let backend = &support::backends()[0];
    let h = spawn_app(backend, Options::default()).await;
    let mei = h.slash("U1MEI", DEV, "whoami").await.body;
    assert!(mei.contains("You are Mei Tanaka"), "{mei}");
    assert!(
        mei.contains("payments-platform") && mei.contains("engineering"),
        "groups, ancestors included: {mei}"
    );
    assert!(
        mei.contains("developer"),
        "role from the engineering binding: {mei}"
    );
    let guest = h.slash("U2NOMAIL", DEV, "whoami").await.body;
    assert!(
        guest.contains("You are a guest") && guest.contains("users:read.email"),
        "{guest}"
    );
    h.stop().await;
}
