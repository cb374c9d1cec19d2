//! On-call gating end to end: `/idp whoami`, `/idp oncall`, `/idp can rollback` over signed HTTP
//! and in the shell, for an on-call engineer, a team member off call and a guest, against the
//! PagerDuty fake and against a rotation; every request lands in the audit log and the chain
//! verifies.

use chrono::{Duration, Utc};
use idp::authz::{Caller, Origin};
use idp::catalog::EntityRef;
use idp::command::Dialect;
use idp::config::FileConfig;

use crate::harness::{Channel, Options, payments_escalation, spawn_app};
use crate::support;

/// The incident channel of incident 7, on checkout-api.
const INCIDENT_7: Channel = Channel {
    id: "C2147483705",
    name: "inc-7-checkout-api",
};

#[tokio::test(flavor = "multi_thread")]
async fn on_call_engineers_team_members_and_guests_get_the_right_answers_and_all_of_it_is_audited()
{
    let now = Utc::now();
    let start = (now - Duration::days(2)).format("%Y-%m-%d");
    let file: FileConfig = toml::from_str(&format!(
        "[[oncall.rotations]]\ngroup = \"fulfilment-ops\"\nmembers = [\"rafael.costa\", \"ingrid.halvorsen\"]\nshift = \"7d\"\nhandoff = \"09:00\"\ntime_zone = \"Europe/Berlin\"\nstart = \"{start}\"\n"
    ))
    .expect("config");

    for backend in support::backends() {
        let options = Options::default()
            .oncall(file.oncall.clone())
            .pagerduty(payments_escalation(true));
        let h = spawn_app(&backend, options).await;
        let ask = |user: &'static str, text: &'static str| {
            let h = &h;
            async move { h.slash(user, INCIDENT_7, text).await.body }
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
        let reply = h
            .state
            .dispatch(
                &shell_sofia,
                "can rollback checkout-api production",
                Dialect::Plain,
            )
            .await;
        assert!(reply.text.contains("yes"), "{}", reply.text);
        let reply = h
            .state
            .dispatch(
                &Caller::guest(Origin::Shell),
                "can rollback checkout-api production",
                Dialect::Plain,
            )
            .await;
        assert!(reply.text.contains(": no"), "{}", reply.text);

        // Every request is in the audit log, with its decision, and the chain verifies.
        let records = h.audit_records().await;
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
        let report = h
            .state
            .catalog
            .store()
            .verify_audit()
            .await
            .expect("verify");
        assert!(report.ok(), "{report:?}");
        h.stop().await;
    }
}
