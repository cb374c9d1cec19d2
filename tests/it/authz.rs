//! The authorization matrix of the default policy, as one table: role × membership of the owning
//! group × on call × environment × channel kind × freeze → outcome and deciding rule.

use chrono::{DateTime, TimeZone, Utc};
use idp::authz::{
    AccessRequest, Action, Caller, ChannelKind, Decision, OnCallStatus, Origin, Outcome, Policy,
    TargetFacts, decide, groups_of,
};
use idp::catalog::{CatalogService, EntityRef, Snapshot};

use crate::support;

fn user(name: &str) -> EntityRef {
    EntityRef::new("User", "default", name)
}

fn outside_freeze() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0)
        .single()
        .expect("time")
}

fn inside_freeze() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 28, 10, 0, 0)
        .single()
        .expect("time")
}

struct Case {
    who: Option<&'static str>,
    action: Action,
    env: Option<&'static str>,
    on_call: bool,
    channel: ChannelKind,
    freeze: bool,
    requester: Option<&'static str>,
    expect: &'static str,
    rule: Option<&'static str>,
}

#[allow(clippy::too_many_arguments)]
const fn case(
    who: Option<&'static str>,
    action: Action,
    env: Option<&'static str>,
    on_call: bool,
    channel: ChannelKind,
    freeze: bool,
    expect: &'static str,
    rule: Option<&'static str>,
) -> Case {
    Case {
        who,
        action,
        env,
        on_call,
        channel,
        freeze,
        requester: None,
        expect,
        rule,
    }
}

fn verdict(d: &Decision) -> &'static str {
    match d.outcome {
        Outcome::Allow => "allow",
        Outcome::Deny => "deny",
        Outcome::RequireApproval(_) => "approval",
    }
}

fn run(policy: &Policy, snapshot: &Snapshot, c: &Case) -> Decision {
    let target_index = snapshot
        .get(&EntityRef::new("Component", "default", "checkout-api"))
        .expect("checkout-api");
    let facts = TargetFacts::of(snapshot, target_index);
    let me = c.who.map(user);
    let caller = Caller {
        origin: Origin::Shell,
        user: me.clone(),
        guest_reason: None,
        channel: c.channel.clone(),
    };
    let groups = groups_of(snapshot, me.as_ref());
    let requester = c.requester.map(user);
    decide(
        policy,
        &AccessRequest {
            action: c.action,
            caller: &caller,
            groups: &groups,
            target: Some(&facts),
            environment: c.env,
            on_call: if c.on_call {
                OnCallStatus::Yes
            } else {
                OnCallStatus::No(Some("Mei Tanaka until Mon 09:00 UTC".to_owned()))
            },
            requester: requester.as_ref(),
            now: if c.freeze {
                inside_freeze()
            } else {
                outside_freeze()
            },
        },
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_policy_decides_the_whole_matrix_as_documented() {
    use Action::*;
    let other = || ChannelKind::Other(Some("dev".to_owned()));
    let incident = || ChannelKind::Incident("inc-42-checkout-api".to_owned());
    let dm = || ChannelKind::DirectMessage;
    // daria: platform-admin (platform-sre); sofia: payments-platform member (owner of checkout-api);
    // mei: payments-platform team-admin; amara: developer in storefront-web; vera: engineering only.
    let table = vec![
        case(
            None,
            CatalogRead,
            None,
            false,
            other(),
            false,
            "allow",
            Some("anyone-reads"),
        ),
        case(
            Some("amara.okafor"),
            CatalogRead,
            None,
            false,
            dm(),
            true,
            "allow",
            Some("anyone-reads"),
        ),
        // Rollback in production.
        case(
            Some("sofia.marquez"),
            Rollback,
            Some("production"),
            true,
            incident(),
            false,
            "allow",
            Some("on-call-rolls-back"),
        ),
        case(
            Some("sofia.marquez"),
            Rollback,
            Some("production"),
            true,
            other(),
            false,
            "allow",
            Some("on-call-rolls-back"),
        ),
        case(
            Some("sofia.marquez"),
            Rollback,
            Some("production"),
            true,
            dm(),
            false,
            "deny",
            Some("no-rollbacks-in-direct-messages"),
        ),
        case(
            Some("sofia.marquez"),
            Rollback,
            Some("production"),
            false,
            incident(),
            false,
            "approval",
            Some("others-ask-the-on-call"),
        ),
        case(
            Some("amara.okafor"),
            Rollback,
            Some("production"),
            false,
            incident(),
            false,
            "approval",
            Some("others-ask-the-on-call"),
        ),
        case(
            Some("daria.volkova"),
            Rollback,
            Some("production"),
            false,
            incident(),
            false,
            "allow",
            Some("platform-admins-roll-back"),
        ),
        case(
            None,
            Rollback,
            Some("production"),
            false,
            incident(),
            false,
            "deny",
            None,
        ),
        // Freeze: production is closed to everyone but platform-admins, on call or not.
        case(
            Some("sofia.marquez"),
            Rollback,
            Some("production"),
            true,
            incident(),
            true,
            "deny",
            Some("production-freeze"),
        ),
        case(
            Some("daria.volkova"),
            Rollback,
            Some("production"),
            false,
            incident(),
            true,
            "allow",
            Some("platform-admins-roll-back"),
        ),
        case(
            Some("sofia.marquez"),
            Rollback,
            Some("staging"),
            true,
            incident(),
            true,
            "allow",
            Some("on-call-rolls-back"),
        ),
        // Outside production developers may roll back; guests may not.
        case(
            Some("amara.okafor"),
            Rollback,
            Some("staging"),
            false,
            other(),
            false,
            "allow",
            Some("developers-roll-back-outside-production"),
        ),
        case(
            None,
            Rollback,
            Some("staging"),
            false,
            other(),
            false,
            "deny",
            None,
        ),
        // Templates: members of the owning group (child groups count for parents, not the reverse).
        case(
            Some("sofia.marquez"),
            TemplateRun,
            Some("production"),
            false,
            other(),
            false,
            "allow",
            Some("team-members-run-templates"),
        ),
        case(
            Some("vera.lindholm"),
            TemplateRun,
            Some("production"),
            false,
            other(),
            false,
            "deny",
            None,
        ),
        case(
            Some("amara.okafor"),
            TemplateRun,
            Some("production"),
            false,
            other(),
            false,
            "deny",
            None,
        ),
        case(
            Some("sofia.marquez"),
            TemplateRun,
            Some("production"),
            false,
            other(),
            true,
            "deny",
            Some("production-freeze"),
        ),
        case(
            Some("daria.volkova"),
            TemplateRun,
            Some("production"),
            false,
            other(),
            true,
            "allow",
            Some("platform-admins-run-templates"),
        ),
        // Approvals.
        case(
            Some("sofia.marquez"),
            Approve,
            Some("production"),
            true,
            incident(),
            false,
            "allow",
            Some("on-call-or-team-admins-approve"),
        ),
        case(
            Some("mei.tanaka"),
            Approve,
            Some("production"),
            false,
            incident(),
            false,
            "allow",
            Some("team-admins-approve"),
        ),
        case(
            Some("amara.okafor"),
            Approve,
            Some("production"),
            false,
            incident(),
            false,
            "deny",
            None,
        ),
        // The audit log.
        case(
            Some("daria.volkova"),
            AuditRead,
            None,
            false,
            other(),
            false,
            "allow",
            Some("platform-admins-read-the-audit-log"),
        ),
        case(
            Some("mei.tanaka"),
            AuditRead,
            None,
            false,
            other(),
            false,
            "deny",
            None,
        ),
    ];
    for backend in support::backends().into_iter().take(1) {
        let catalog = CatalogService::open(backend.store().await)
            .await
            .expect("open");
        catalog.sync(&[support::demo_catalog()]).await;
        let snapshot = catalog.snapshot();
        let policy = Policy::builtin();
        assert!(policy.warnings.is_empty(), "{:?}", policy.warnings);
        let mut failures = Vec::new();
        for (i, c) in table.iter().enumerate() {
            let d = run(&policy, &snapshot, c);
            if verdict(&d) != c.expect || d.rule.as_deref() != c.rule {
                failures.push(format!(
                    "row {i}: {:?} {:?} env={:?} on_call={} channel={:?} freeze={}: expected {} by {:?}, got {} by {:?} ({})",
                    c.who, c.action, c.env, c.on_call, c.channel, c.freeze, c.expect, c.rule, verdict(&d), d.rule, d.reason
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_requester_can_never_approve_their_own_request_even_on_call() {
    let backend = &support::backends()[0];
    let catalog = CatalogService::open(backend.store().await)
        .await
        .expect("open");
    catalog.sync(&[support::demo_catalog()]).await;
    let snapshot = catalog.snapshot();
    let policy = Policy::builtin();
    let mut own = case(
        Some("mei.tanaka"),
        Action::Approve,
        Some("production"),
        true,
        ChannelKind::Incident("inc-1".into()),
        false,
        "deny",
        None,
    );
    own.requester = Some("mei.tanaka");
    let d = run(&policy, &snapshot, &own);
    assert_eq!(
        (verdict(&d), d.rule.as_deref()),
        ("deny", Some("requesters-never-approve-their-own")),
        "{}",
        d.reason
    );
    own.requester = Some("sofia.marquez");
    assert_eq!(verdict(&run(&policy, &snapshot, &own)), "allow");
}

#[test]
fn denials_say_who_is_on_call_and_what_to_do() {
    let policy = Policy::builtin();
    let snapshot = Snapshot::default();
    let facts = TargetFacts {
        entity: EntityRef::new("Component", "default", "checkout-api"),
        owner: None,
        system: None,
    };
    let caller = Caller::guest(Origin::Shell);
    let d = decide(
        &policy,
        &AccessRequest {
            action: Action::Rollback,
            caller: &caller,
            groups: &[],
            target: Some(&facts),
            environment: Some("production"),
            on_call: OnCallStatus::No(Some("Mei Tanaka until Mon 18:00 UTC".to_owned())),
            requester: None,
            now: outside_freeze(),
        },
    );
    assert!(
        d.reason.contains(
            "You're not on call for checkout-api (on call now: Mei Tanaka until Mon 18:00 UTC)"
        ),
        "{}",
        d.reason
    );
    assert!(snapshot.is_empty());
}

#[test]
fn malformed_policies_name_the_file_line_and_problem() {
    let bad = [
        (
            "rules:\n  - name: x\n    action: launch-missiles\n    outcome: allow\n",
            "unknown action `launch-missiles`",
        ),
        (
            "roles: {a: {}}\nbindings:\n  - role: b\n    group: g\n",
            "line 3: binding names unknown role `b`",
        ),
        (
            "rules:\n  - name: x\n    action: rollback\n    outcome: maybe\n",
            "policy.yaml",
        ),
        (
            "freezes:\n  - {name: f, start: '2026-01-02', end: '2026-01-01', time_zone: Europe/Berlin}\n",
            "ends before it starts",
        ),
        (
            "freezes:\n  - {name: f, start: '2026-01-01', end: '2026-01-02', time_zone: Mars/Olympus}\n",
            "unknown time zone",
        ),
        ("incident_channel_pattern: '(['\n", "not a valid regex"),
        (
            "rules:\n  - name: x\n    action: rollback\n    outcome: require_approval\n",
            "needs `approvers`",
        ),
    ];
    for (text, needle) in bad {
        let err = Policy::from_yaml(text, "policy.yaml")
            .expect_err(text)
            .to_string();
        assert!(
            err.starts_with("policy.yaml") && err.contains(needle),
            "{text:?} → {err}"
        );
    }
    let shadowed = "rules:\n  - name: everyone\n    action: rollback\n    outcome: allow\n  - name: never\n    action: rollback\n    when: {on_call: true}\n    outcome: deny\n";
    let p = Policy::from_yaml(shadowed, "policy.yaml").expect("valid");
    assert!(
        p.warnings
            .iter()
            .any(|w| w.to_string().contains("line 5") && w.to_string().contains("can never match")),
        "{:?}",
        p.warnings
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn members_of_a_group_run_templates_for_it_when_the_group_is_the_target() {
    let backend = &support::backends()[0];
    let catalog = CatalogService::open(backend.store().await)
        .await
        .expect("open");
    catalog.sync(&[support::demo_catalog()]).await;
    let snapshot = catalog.snapshot();
    let team = snapshot
        .get(&EntityRef::new("Group", "default", "payments-platform"))
        .expect("team");
    let facts = TargetFacts::of(&snapshot, team);
    let me = user("sofia.marquez");
    let caller = Caller::user(Origin::Shell, me.clone());
    let groups = groups_of(&snapshot, Some(&me));
    let d = decide(
        &Policy::builtin(),
        &AccessRequest {
            action: Action::TemplateRun,
            caller: &caller,
            groups: &groups,
            target: Some(&facts),
            environment: None,
            on_call: OnCallStatus::NotAsked,
            requester: None,
            now: outside_freeze(),
        },
    );
    assert_eq!(
        (verdict(&d), d.rule.as_deref()),
        ("allow", Some("team-members-run-templates")),
        "{}",
        d.reason
    );
}
