//! On-call gating end to end: `/idp whoami`, `/idp oncall`, `/idp can rollback` over signed HTTP
//! and in the shell, for an on-call engineer, a team member off call and a guest, against the
//! PagerDuty fake and against a rotation; every request lands in the audit log and the chain
//! verifies.

use std::sync::Arc;

use chrono::{Duration, Utc};
use idp::authz::{Caller, Origin, Policy};
use idp::catalog::{CatalogService, EntityRef};
use idp::command::Dialect;
use idp::config::FileConfig;
use idp::identity::IdentityService;
use idp::oncall::OnCallService;
use idp::slack::client::SlackApi;
use idp::slack::verify::{SignatureVerifier, sign};
use secrecy::SecretString;

use crate::fakes::pagerduty::{Entry, FakePagerDuty, Service, User};
use crate::slack_fake::{BOT_TOKEN, FakeSlack};
use crate::support::{self, SECRET};

fn pd_user(id: &'static str, name: &'static str, email: &'static str) -> User {
    User { id, name, email }
}

#[tokio::test(flavor = "multi_thread")]
async fn on_call_engineers_team_members_and_guests_get_the_right_answers_and_all_of_it_is_audited()
{
    idp::install_crypto_provider();
    let now = Utc::now();
    let sofia = pd_user("PUSOFIA", "Sofia Marquez", "sofia.marquez@example.com");
    let mei = pd_user("PUMEI01", "Mei Tanaka", "mei.tanaka@example.com");
    let pagerduty = FakePagerDuty::start(vec![Service::new(
        "PC8KD2Q",
        "PPAYESC",
        "Payments escalation",
        vec![
            Entry {
                level: 1,
                user: sofia,
                start: Some(now - Duration::hours(2)),
                end: Some(now + Duration::hours(22)),
            },
            Entry {
                level: 1,
                user: mei.clone(),
                start: Some(now + Duration::hours(22)),
                end: Some(now + Duration::hours(46)),
            },
            Entry {
                level: 2,
                user: mei,
                start: None,
                end: None,
            },
        ],
    )])
    .await;
    let slack = FakeSlack::start().await;
    let start = (now - Duration::days(2)).format("%Y-%m-%d");
    let file: FileConfig = toml::from_str(&format!(
        "[[oncall.rotations]]\ngroup = \"fulfilment-ops\"\nmembers = [\"rafael.costa\", \"ingrid.halvorsen\"]\nshift = \"7d\"\nhandoff = \"09:00\"\ntime_zone = \"Europe/Berlin\"\nstart = \"{start}\"\n"
    ))
    .expect("config");

    for backend in support::backends() {
        let catalog = Arc::new(
            CatalogService::open(backend.store().await)
                .await
                .expect("open"),
        );
        catalog.sync(&[support::demo_catalog()]).await;
        let store = catalog.store().clone();
        let oncall = OnCallService::new(
            &file.oncall,
            &pagerduty.url,
            Some(SecretString::from(crate::fakes::pagerduty::TOKEN)),
        )
        .expect("oncall");
        let api = SlackApi::new(
            &slack.url,
            &SecretString::from(BOT_TOKEN),
            std::time::Duration::from_secs(2),
        )
        .expect("slack");
        let identity = IdentityService::new(store.clone(), Some(Arc::new(api)), &file.identity)
            .expect("identity");
        let audit = idp::audit::AuditLog::start(store.clone());
        let verifier = SignatureVerifier::new(&SecretString::from(SECRET));
        let state = Arc::new(
            idp::AppState::with_services(
                catalog.clone(),
                Arc::new(Policy::builtin()),
                Arc::new(oncall),
                Some(verifier),
            )
            .with_identity(Arc::new(identity))
            .with_audit(audit.clone()),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app_state = state.clone();
        tokio::spawn(async move {
            axum::serve(listener, idp::app(app_state))
                .await
                .expect("serve");
        });
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");

        let ask = |user: &'static str, text: &'static str| {
            let body = support::command_body(text)
                .replace("U2147483697", user)
                .replace("channel_name=dev", "channel_name=inc-7-checkout-api");
            let ts = support::now();
            let request = client
                .post(format!("http://{addr}/slack/commands"))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-slack-request-timestamp", ts.to_string())
                .header("x-slack-signature", sign(SECRET, ts, body.as_bytes()))
                .body(body);
            async move {
                request
                    .send()
                    .await
                    .expect("send")
                    .text()
                    .await
                    .expect("body")
            }
        };

        // PagerDuty: Sofia is on call for checkout-api, Mei (team-admin, payments-platform) is not.
        let on_call = ask("U4SOFIA", "can rollback checkout-api production").await;
        assert!(
            on_call.contains("*Yes.*") && on_call.contains("on-call-rolls-back"),
            "{}: {on_call}",
            backend.name
        );
        let off_call = ask("U1MEI", "can rollback checkout-api production").await;
        assert!(
            off_call.contains("Only with approval") && off_call.contains("others-ask-the-on-call"),
            "{off_call}"
        );
        assert!(
            off_call.contains("not on call for checkout-api (on call now: Sofia Marquez until"),
            "{off_call}"
        );
        let guest = ask("U2NOMAIL", "can rollback checkout-api production").await;
        assert!(
            guest.contains("*No.*") && guest.contains("denied by default"),
            "{guest}"
        );
        let who = ask("U1MEI", "oncall checkout-api").await;
        assert!(
            who.contains("Sofia Marquez")
                && who.contains("Level 2")
                && who.contains("Payments escalation"),
            "{who}"
        );
        let owner = ask("U2NOMAIL", "owner checkout-api").await;
        assert!(
            owner.contains("*On call:* Sofia Marquez"),
            "owner shows the on-call: {owner}"
        );

        // Rotation: Rafael holds the first week of the fulfilment-ops rotation, Ingrid is next.
        let rafael = ask("U5RAFAEL", "can rollback returns-portal production").await;
        assert!(rafael.contains("*Yes.*"), "{rafael}");
        let ingrid = ask("U6INGRID", "can rollback returns-portal production").await;
        assert!(
            ingrid.contains("Only with approval") && ingrid.contains("Rafael Costa"),
            "{ingrid}"
        );
        let me = ask("U5RAFAEL", "whoami").await;
        assert!(
            me.contains("You are Rafael Costa") && me.contains("fulfilment-ops"),
            "{me}"
        );
        assert!(
            me.contains("On-call shifts:*\\n•"),
            "whoami lists the shift: {me}"
        );
        let guest_me = ask("U2NOMAIL", "whoami").await;
        assert!(guest_me.contains("You are a guest"), "{guest_me}");

        // The same answers in the shell.
        let shell_sofia = Caller::user(
            Origin::Shell,
            EntityRef::new("User", "default", "sofia.marquez"),
        );
        let reply = state
            .dispatch(
                &shell_sofia,
                "can rollback checkout-api production",
                Dialect::Plain,
            )
            .await;
        assert!(reply.text.contains("yes"), "{}", reply.text);
        let reply = state
            .dispatch(
                &Caller::guest(Origin::Shell),
                "can rollback checkout-api production",
                Dialect::Plain,
            )
            .await;
        assert!(reply.text.contains(": no"), "{}", reply.text);

        // Every request is in the audit log, with its decision, and the chain verifies.
        audit.flush().await;
        let records = store
            .audit_query(&idp::audit::AuditQuery::latest(None, None, 100))
            .await
            .expect("query");
        assert_eq!(
            records.len(),
            11,
            "{}: {:#?}",
            backend.name,
            records.iter().map(|r| r.summary_line()).collect::<Vec<_>>()
        );
        assert!(
            records
                .iter()
                .any(|r| r.entry.slack_user_id.as_deref() == Some("U4SOFIA")
                    && r.entry.user_ref.as_deref() == Some("user:default/sofia.marquez"))
        );
        let report = store.verify_audit().await.expect("verify");
        assert!(report.ok(), "{report:?}");
    }
}
