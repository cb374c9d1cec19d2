//! `/idp rollback` in an incident channel: deploy events in, a plan with a hash, confirmation,
//! approvals bound to the plan, the per-service lock, and Argo CD doing the rollback (its fake on
//! 127.0.0.1), with the progress message in the channel.

use std::time::Duration;

use idp::actions::RunStatus;
use idp::actions::rollback::{RollbackOutcome, RollbackRequest};
use idp::app::RequestMeta;
use idp::authz::{Caller, ChannelKind, OnCallStatus, Origin};
use idp::catalog::{EntityRef, NameQuery};
use idp::command::Command;
use idp::handlers::Outcome;
use idp::handlers::rollback::ApprovalOutcome;
use serde_json::json;

use crate::harness::{EVENTS_SOURCE, Options, TestApp, spawn_app};
use crate::support;

fn person(name: &str, slack: &str, channel: &str) -> Caller {
    Caller::user(
        Origin::Slack {
            team_id: "T0001".into(),
            user_id: slack.into(),
            channel_id: "CINC42".into(),
        },
        EntityRef::new("user", "default", name),
    )
    .in_channel(if channel.starts_with("inc-") {
        ChannelKind::Incident(channel.to_owned())
    } else {
        ChannelKind::Other(Some(channel.to_owned()))
    })
}

pub(crate) async fn deploy(h: &TestApp, id: &str, version: &str, revision: &str, hours_ago: i64) {
    deploy_minutes_ago(h, id, version, revision, hours_ago * 60).await;
}

/// A signed `deploy.succeeded` of checkout-api to production, `minutes_ago`.
pub(crate) async fn deploy_minutes_ago(
    h: &TestApp,
    id: &str,
    version: &str,
    revision: &str,
    minutes_ago: i64,
) {
    let at = (chrono::Utc::now() - chrono::Duration::minutes(minutes_ago)).to_rfc3339();
    let event = json!({"id": id, "type": "deploy.succeeded", "source": EVENTS_SOURCE, "time": at,
        "data": {"service": "checkout-api", "environment": "production", "version": version,
                 "revision": revision, "deployed_by": "ci", "url": "https://ci.example.com/d/1"}});
    let (status, body) = h.deploy_event(&event).await;
    assert_eq!(status, 200, "{body}");
}

async fn rollback(h: &TestApp, caller: &Caller, command: Command, key: &str) -> RollbackOutcome {
    let (_, handled) = h
        .state
        .execute(
            "test",
            caller,
            Ok(command),
            "rollback",
            RequestMeta {
                idempotency_key: Some(key),
                channel_id: Some("CINC42"),
            },
        )
        .await;
    match handled.outcome {
        Outcome::Rollback(r) => *r,
        other => panic!("not a rollback outcome: {other:?}"),
    }
}

/// [Approve] on run `run_id` by `caller`, through the dispatcher.
async fn approval(h: &TestApp, caller: &Caller, run_id: &str) -> ApprovalOutcome {
    let (_, handled) = h
        .state
        .execute(
            "test",
            caller,
            Ok(Command::Approval {
                run_id: run_id.to_owned(),
                approve: true,
            }),
            "approve",
            RequestMeta::default(),
        )
        .await;
    match handled.outcome {
        Outcome::Approval(a) => *a,
        other => panic!("not an approval outcome: {other:?}"),
    }
}

fn ask(to: Option<&str>, confirm: Option<&str>) -> Command {
    Command::Rollback {
        service: None,
        environment: None,
        to: to.map(str::to_owned),
        confirm: confirm.map(str::to_owned),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_platform_admin_rolls_back_from_the_incident_channel_through_argo_cd() {
    for backend in support::backends() {
        let h = spawn_app(&backend, Options::default().worker()).await;
        h.argocd
            .add_app("checkout-api-prod", false, &[(7, "aaa111"), (8, "bbb222")]);
        deploy(&h, "e1", "1.4.2", "aaa111", 30).await;
        deploy(&h, "e2", "1.5.0", "bbb222", 2).await;
        let daria = person("daria.volkova", "U7DARIA", "inc-42-checkout-api");
        // Outside an incident channel: refused with the reason.
        let elsewhere = person("daria.volkova", "U7DARIA", "dev");
        assert!(matches!(
            rollback(&h, &elsewhere, ask(None, None), "r0").await,
            RollbackOutcome::NotHere(_)
        ));
        // The preview: service from the channel, production, 1.5.0 → 1.4.2, allowed (platform-admin).
        let RollbackOutcome::Preview { plan, decision } =
            rollback(&h, &daria, ask(None, None), "r1").await
        else {
            panic!("no preview");
        };
        assert!(decision.allowed(), "{decision:?}");
        assert_eq!(
            (plan.service_name.as_str(), plan.environment.as_str()),
            ("checkout-api", "production")
        );
        assert_eq!(
            (plan.from.version.as_str(), plan.to.version.as_str()),
            ("1.5.0", "1.4.2")
        );
        // Confirm twice (a double click): one run.
        let confirm = ask(Some("1.4.2"), Some(&plan.hash));
        let key = format!("slack-rollback:{}:U7DARIA", plan.hash);
        let RollbackOutcome::Started { run, created } =
            rollback(&h, &daria, confirm.clone(), &key).await
        else {
            panic!("not started");
        };
        assert!(created);
        let RollbackOutcome::Started {
            run: again,
            created,
        } = rollback(&h, &daria, confirm, &key).await
        else {
            panic!("not started");
        };
        assert!(!created);
        assert_eq!(again.id, run.id);
        // Argo CD gets the rollback to history id 7; the operation succeeds.
        let running = h
            .until(&run.id, |r| {
                r.status == RunStatus::Running || r.status.is_finished()
            })
            .await;
        assert_eq!(
            running.status,
            RunStatus::Running,
            "{}: {:?}",
            backend.name,
            running.error
        );
        h.argocd
            .advance("checkout-api-prod", "Succeeded", "successfully rolled back");
        let done = h.finished(&run.id).await;
        assert_eq!(done.status, RunStatus::Succeeded, "{}", backend.name);
        let rollbacks: Vec<_> = h
            .argocd
            .calls()
            .into_iter()
            .filter(|c| c.path.ends_with("/rollback"))
            .collect();
        assert_eq!(rollbacks.len(), 1);
        assert_eq!(rollbacks[0].body["id"], json!(7));
        // The channel saw one message, updated in place, ending in "Rolled back".
        let posts = h.slack.posted("chat.postMessage");
        assert_eq!(posts.len(), 1, "{posts:?}");
        let last = h.slack.posted("chat.update").pop().expect("updated");
        assert!(
            last["text"].as_str().unwrap_or("").contains("Rolled back"),
            "{last}"
        );
        assert!(
            last["blocks"]
                .to_string()
                .contains("from `1.5.0` to `1.4.2`"),
            "{last}"
        );
        // Every step is in the audit log.
        if let Some(audit) = &h.state.audit {
            audit.flush().await;
        }
        let records = h
            .state
            .catalog
            .store()
            .audit_query(&idp::audit::AuditQuery::latest(None, None, 50))
            .await
            .expect("audit");
        let outcomes: Vec<&str> = records.iter().map(|r| r.entry.outcome.as_str()).collect();
        for expected in [
            "previewed",
            "started",
            "run.queued",
            "run.dispatched",
            "run.succeeded",
        ] {
            assert!(
                outcomes.contains(&expected),
                "{}: {outcomes:?}",
                backend.name
            );
        }
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_engineer_off_call_needs_the_on_calls_approval_and_cannot_approve_their_own() {
    let backend = &support::backends()[0];
    let h = spawn_app(backend, Options::default().worker()).await;
    h.argocd
        .add_app("checkout-api-prod", false, &[(7, "aaa111"), (8, "bbb222")]);
    deploy(&h, "e1", "1.4.2", "aaa111", 30).await;
    deploy(&h, "e2", "1.5.0", "bbb222", 2).await;
    let tobias = person("tobias.lindqvist", "U9TOBIAS", "inc-42-checkout-api");
    let RollbackOutcome::Preview { plan, decision } =
        rollback(&h, &tobias, ask(None, None), "a1").await
    else {
        panic!("no preview");
    };
    assert!(
        matches!(decision.outcome, idp::authz::Outcome::RequireApproval(_)),
        "{decision:?}"
    );
    let RollbackOutcome::Started { run, .. } =
        rollback(&h, &tobias, ask(Some("1.4.2"), Some(&plan.hash)), "a2").await
    else {
        panic!("not started");
    };
    assert_eq!(run.status, RunStatus::AwaitingApproval);
    // The approval request is in the channel with Approve and Deny.
    let posted = loop {
        let posts = h.slack.posted("chat.postMessage");
        if let Some(p) = posts.first() {
            break p.clone();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert!(
        posted["blocks"].to_string().contains("run_approve"),
        "{posted}"
    );
    // A second rollback of the same service meanwhile sees the first.
    let mei = person("mei.tanaka", "U1MEI", "inc-42-checkout-api");
    assert!(matches!(
        rollback(&h, &mei, ask(None, None), "a3").await,
        RollbackOutcome::InProgress(_)
    ));
    // The requester cannot approve their own request.
    let own = approval(&h, &tobias, &run.id).await;
    assert!(
        matches!(own, ApprovalOutcome::Refused(ref why) if why.contains("someone else")),
        "{own:?}"
    );
    // The on-call approves: the run is queued and Argo CD does it.
    let approved = approval(&h, &mei, &run.id).await;
    assert!(
        matches!(approved, ApprovalOutcome::Approved(_)),
        "{approved:?}"
    );
    h.runs.wake();
    let running = h.until(&run.id, |r| r.status == RunStatus::Running).await;
    assert!(
        running
            .steps
            .iter()
            .any(|s| s.name == "Approved by mei.tanaka"),
        "{:?}",
        running.steps
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_newer_deploy_between_preview_and_confirm_is_refused_with_the_new_plan() {
    let backend = &support::backends()[0];
    let h = spawn_app(backend, Options::default()).await;
    deploy(&h, "e1", "1.4.2", "aaa111", 30).await;
    deploy(&h, "e2", "1.5.0", "bbb222", 2).await;
    let mei = person("mei.tanaka", "U1MEI", "inc-42-checkout-api");
    let RollbackOutcome::Preview { plan, .. } = rollback(&h, &mei, ask(None, None), "n1").await
    else {
        panic!("no preview");
    };
    deploy(&h, "e3", "1.5.1", "ccc333", 0).await;
    let outcome = rollback(&h, &mei, ask(Some("1.4.2"), Some(&plan.hash)), "n2").await;
    let RollbackOutcome::PlanChanged(new_plan) = outcome else {
        panic!("expected the new plan: {outcome:?}");
    };
    assert_eq!(new_plan.from.version, "1.5.1");
    // A version never deployed, and a named service without history, get specific refusals.
    let never = rollback(&h, &mei, ask(Some("9.9.9"), None), "n3").await;
    assert!(
        matches!(never, RollbackOutcome::NoPlan(ref why) if why.contains("never deployed")),
        "{never:?}"
    );
    let other = Command::Rollback {
        service: Some(NameQuery::parse("returns-portal")),
        environment: None,
        to: None,
        confirm: None,
    };
    let none = rollback(&h, &mei, other, "n4").await;
    assert!(
        matches!(none, RollbackOutcome::NoPlan(ref why) if why.contains("no successful deploy")),
        "{none:?}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_people_confirming_at_once_start_one_rollback_and_the_other_sees_it() {
    for backend in support::backends() {
        let h = spawn_app(&backend, Options::default()).await;
        deploy(&h, "e1", "1.4.2", "aaa111", 30).await;
        deploy(&h, "e2", "1.5.0", "bbb222", 2).await;
        let daria = person("daria.volkova", "U7DARIA", "inc-42-checkout-api");
        let mei = person("mei.tanaka", "U1MEI", "inc-42-checkout-api");
        let RollbackOutcome::Preview { plan, .. } = rollback(&h, &mei, ask(None, None), "p").await
        else {
            panic!("no preview");
        };
        let confirm = ask(Some("1.4.2"), Some(&plan.hash));
        let (a, b) = tokio::join!(
            rollback(&h, &daria, confirm.clone(), "slack-rollback:daria"),
            rollback(&h, &mei, confirm.clone(), "slack-rollback:mei"),
        );
        let started: Vec<&RollbackOutcome> = [&a, &b]
            .into_iter()
            .filter(|o| matches!(o, RollbackOutcome::Started { created: true, .. }))
            .collect();
        let shown: Vec<&RollbackOutcome> = [&a, &b]
            .into_iter()
            .filter(|o| matches!(o, RollbackOutcome::InProgress(_)))
            .collect();
        assert_eq!(
            (started.len(), shown.len()),
            (1, 1),
            "{}: {a:?} / {b:?}",
            backend.name
        );
        let (RollbackOutcome::Started { run, .. }, RollbackOutcome::InProgress(other)) =
            (started[0], shown[0])
        else {
            unreachable!()
        };
        assert_eq!(run.id, other.id, "{}", backend.name);
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_mid_rollback_still_rolls_back_exactly_once() {
    for backend in support::backends() {
        let mut h = spawn_app(&backend, Options::default().worker()).await;
        h.argocd
            .add_app("checkout-api-prod", false, &[(7, "aaa111"), (8, "bbb222")]);
        deploy(&h, "e1", "1.4.2", "aaa111", 30).await;
        deploy(&h, "e2", "1.5.0", "bbb222", 2).await;
        let daria = person("daria.volkova", "U7DARIA", "inc-42-checkout-api");
        let RollbackOutcome::Preview { plan, .. } =
            rollback(&h, &daria, ask(None, None), "p").await
        else {
            panic!("no preview");
        };
        let RollbackOutcome::Started { run, .. } =
            rollback(&h, &daria, ask(Some("1.4.2"), Some(&plan.hash)), "c").await
        else {
            panic!("not started");
        };
        h.until(&run.id, |r| r.status == RunStatus::Running).await;
        // The process dies while Argo CD works; a new one takes over the run.
        h.restart_worker().await;
        h.argocd
            .advance("checkout-api-prod", "Succeeded", "successfully rolled back");
        let done = h.finished(&run.id).await;
        assert_eq!(done.status, RunStatus::Succeeded, "{}", backend.name);
        let rollbacks = h
            .argocd
            .calls()
            .into_iter()
            .filter(|c| c.path.ends_with("/rollback"))
            .count();
        assert_eq!(rollbacks, 1, "{}", backend.name);
        // And the confirmation replayed after the restart finds the same run.
        let RollbackOutcome::Started {
            run: again,
            created,
        } = rollback(&h, &daria, ask(Some("1.4.2"), Some(&plan.hash)), "c").await
        else {
            panic!("not the same run");
        };
        assert!(!created);
        assert_eq!(again.id, run.id);
        h.stop().await;
    }
}

/// The repo's policy with its change freeze open now.
fn policy_in_a_freeze() -> idp::authz::Policy {
    let text = include_str!("../../policy.yaml")
        .replace("2026-12-21T00:00:00", "2020-01-01T00:00:00")
        .replace("2027-01-04T09:00:00", "2099-01-01T00:00:00");
    idp::authz::Policy::from_yaml(&text, "policy.yaml").expect("policy")
}

#[tokio::test(flavor = "multi_thread")]
async fn during_a_freeze_a_platform_admin_may_roll_back_and_the_on_call_may_not() {
    let backend = &support::backends()[0];
    let h = spawn_app(backend, Options::default()).await;
    deploy(&h, "e1", "1.4.2", "aaa111", 30).await;
    deploy(&h, "e2", "1.5.0", "bbb222", 2).await;
    let snapshot = h.state.catalog.snapshot();
    let policy = policy_in_a_freeze();
    let target = snapshot
        .get(&EntityRef::new("component", "default", "checkout-api"))
        .expect("checkout-api");
    let store = h.state.catalog.store();
    let plan = idp::actions::rollback::make_plan(
        store,
        &snapshot,
        &h.state.rollbacks,
        target,
        "production",
        None,
        None,
    )
    .await
    .expect("plan");
    let request = |on_call| RollbackRequest {
        snapshot: &snapshot,
        policy: &policy,
        deploys: store,
        runs: None,
        settings: &h.state.rollbacks,
        on_call,
        idempotency_key: None,
        channel_id: None,
        now: chrono::Utc::now(),
    };
    let daria = person("daria.volkova", "U7DARIA", "inc-42-checkout-api");
    let admin = idp::handlers::rollback::decide(&request(OnCallStatus::No(None)), &daria, &plan);
    assert!(admin.allowed(), "{admin:?}");
    let mei = person("mei.tanaka", "U1MEI", "inc-42-checkout-api");
    let on_call = idp::handlers::rollback::decide(&request(OnCallStatus::Yes), &mei, &plan);
    assert!(!on_call.allowed(), "{on_call:?}");
    assert!(on_call.reason.contains("freeze"), "{on_call:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guest_is_denied_with_the_reason_and_private_channels_and_dms_are_refused() {
    let backend = &support::backends()[0];
    let h = spawn_app(backend, Options::default()).await;
    deploy(&h, "e1", "1.4.2", "aaa111", 30).await;
    deploy(&h, "e2", "1.5.0", "bbb222", 2).await;
    let mut guest = Caller::guest(Origin::Slack {
        team_id: "T0001".into(),
        user_id: "U2NOMAIL".into(),
        channel_id: "CINC42".into(),
    })
    .in_channel(ChannelKind::Incident("inc-42-checkout-api".into()));
    guest.guest_reason = Some("Slack shows no email for you".into());
    let denied = rollback(&h, &guest, ask(None, None), "g").await;
    let RollbackOutcome::Denied(decision) = denied else {
        panic!("a guest must be denied: {denied:?}");
    };
    assert!(!decision.reason.is_empty(), "{decision:?}");
    let daria = person("daria.volkova", "U7DARIA", "inc-42-checkout-api");
    for (channel, expected) in [
        (ChannelKind::DirectMessage, "direct message"),
        (
            ChannelKind::classify(Some("privategroup"), &h.state.policy),
            "private channels",
        ),
        (
            ChannelKind::classify(Some("general"), &h.state.policy),
            "#general is not an incident channel",
        ),
    ] {
        let caller = daria.clone().in_channel(channel);
        let outcome = rollback(&h, &caller, ask(None, None), "x").await;
        assert!(
            matches!(&outcome, RollbackOutcome::NotHere(why) if why.contains(expected)),
            "{expected}: {outcome:?}"
        );
    }
    // Naming a service outside the channel's is allowed; one the catalog lacks is not found.
    let other = Command::Rollback {
        service: Some(NameQuery::parse("no-such-service")),
        environment: None,
        to: None,
        confirm: None,
    };
    let (_, handled) = h
        .state
        .execute(
            "test",
            &daria,
            Ok(other),
            "rollback no-such-service",
            RequestMeta::default(),
        )
        .await;
    assert!(
        !matches!(handled.outcome, Outcome::Rollback(_)),
        "{:?}",
        handled.outcome
    );
    h.stop().await;
}

#[test]
fn rollbacks_settings_are_checked_with_the_key_at_fault() {
    let read = |text: &str| {
        let file: idp::config::FileConfig = toml::from_str(text).expect("toml");
        idp::wiring::rollback_settings(&file.rollbacks).map_err(|e| e.to_string())
    };
    let repo = read(include_str!("../../idp.toml")).expect("the repo's idp.toml");
    assert_eq!(
        idp::actions::rollback::service_from_channel(&repo, "inc-1234-checkout-api").as_deref(),
        Some("checkout-api")
    );
    assert_eq!(repo.default_environment, "production");
    let custom = read(
        "[rollbacks]\nservice_from_channel = '^incident-(.+)$'\ndefault_environment = \"prod\"\napproval_ttl_mins = 10\ndefault_execution = \"none\"\n",
    )
    .expect("custom");
    assert_eq!(
        idp::actions::rollback::service_from_channel(&custom, "incident-payments-api").as_deref(),
        Some("payments-api")
    );
    assert_eq!(custom.approval_ttl_mins, 10);
    assert!(custom.default_execution.is_none());
    for (text, expected) in [
        (
            "[rollbacks]\nservice_from_channel = '^inc-(('\n",
            "not a valid regex",
        ),
        ("[rollbacks]\napproval_ttl_mins = 0\n", "approval_ttl_mins"),
        (
            "[rollbacks]\ndefault_environment = \"two words\"\n",
            "default_environment",
        ),
        (
            "[rollbacks]\ndefault_execution = \"jenkins\"\n",
            "default_execution",
        ),
    ] {
        let err = read(text).expect_err(text);
        assert!(err.contains(expected), "{text}: {err}");
    }
    let unknown: Result<idp::config::FileConfig, _> = toml::from_str("[rollbacks]\nttl = 3\n");
    assert!(unknown.is_err(), "unknown keys are refused");
}

fn ask_in(environment: &str) -> Command {
    Command::Rollback {
        service: None,
        environment: Some(environment.to_owned()),
        to: None,
        confirm: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn prod_finds_the_deploys_recorded_under_production_and_the_approval_line_is_one_sentence() {
    for backend in support::backends() {
        let h = spawn_app(&backend, Options::default().worker()).await;
        deploy(&h, "e1", "1.4.2", "aaa111", 30).await;
        deploy(&h, "e2", "1.5.0", "bbb222", 2).await;
        let daria = person("daria.volkova", "U7DARIA", "inc-42-checkout-api");
        for alias in ["prod", "PRD", "production"] {
            let RollbackOutcome::Preview { plan, .. } =
                rollback(&h, &daria, ask_in(alias), &format!("p-{alias}")).await
            else {
                panic!("no preview for {alias}");
            };
            assert_eq!(plan.environment, "production", "{alias}");
        }
        // Someone off call sees why, and who approves, as one sentence.
        let tobias = person("tobias.lindqvist", "U9TOBIAS", "inc-42-checkout-api");
        let outcome = rollback(&h, &tobias, ask_in("prod"), "p-tobias").await;
        assert!(
            matches!(outcome, RollbackOutcome::Preview { .. }),
            "{outcome:?}"
        );
        let shown = idp::shell::render(&idp::slack::rollback_message::render(&outcome), false);
        assert!(
            shown.contains(
                ", so this rollback needs approval from the owning team's on-call before anything happens."
            ),
            "{shown}"
        );
        assert!(!shown.contains("Needs approval from You"), "{shown}");
        // An environment the history lacks is named as asked.
        let none = rollback(&h, &daria, ask_in("stg"), "p-stg").await;
        let RollbackOutcome::NoPlan(why) = none else {
            panic!("{none:?}");
        };
        assert!(why.contains("in stg"), "{why}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_preview_never_names_a_backend_this_process_has_not_configured() {
    use std::sync::Arc;
    for backend in support::backends() {
        let h = spawn_app(&backend, Options::default()).await;
        deploy(&h, "e1", "1.4.2", "aaa111", 30).await;
        deploy(&h, "e2", "1.5.0", "bbb222", 2).await;
        // The same catalog and history, in a process with no execution backend configured.
        let policy = Arc::new(idp::authz::Policy::builtin());
        let executors =
            idp::exec::Executors::new(idp::exec::ExecConfig::default()).expect("executors");
        let runs = Arc::new(idp::actions::RunService::new(
            h.state.catalog.clone(),
            policy.clone(),
            Arc::new(executors),
            Arc::new(idp::shell_form::ShellNotifier::default()),
            crate::harness::test_run_options(&h.base),
        ));
        let bare = idp::app::AppState::with_services(
            h.state.catalog.clone(),
            policy,
            Arc::new(
                idp::oncall::OnCallService::new(
                    &crate::harness::payments_rotation(),
                    "http://127.0.0.1:9",
                    None,
                )
                .expect("on-call"),
            ),
            None,
        )
        .with_runs(runs);
        let daria = person("daria.volkova", "U7DARIA", "inc-42-checkout-api");
        let (_, handled) = bare
            .execute(
                "test",
                &daria,
                Ok(ask(None, None)),
                "rollback",
                RequestMeta {
                    idempotency_key: Some("bare-1"),
                    channel_id: Some("CINC42"),
                },
            )
            .await;
        let Outcome::Rollback(outcome) = handled.outcome else {
            panic!("not a rollback: {:?}", handled.outcome);
        };
        let RollbackOutcome::NoPlan(why) = *outcome else {
            panic!("a preview named an unconfigured backend: {outcome:?}");
        };
        assert!(
            why.contains("can't be delegated from here")
                && why.contains("ARGOCD_URL")
                && why.contains("checkout-api"),
            "{why}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deploys_and_can_read_prod_as_the_production_the_history_names() {
    for backend in support::backends() {
        let h = spawn_app(&backend, Options::default()).await;
        deploy(&h, "e1", "1.4.2", "aaa111", 30).await;
        let daria = person("daria.volkova", "U7DARIA", "inc-42-checkout-api");
        let (_, handled) = h
            .state
            .execute(
                "test",
                &daria,
                idp::command::parse(
                    "deploys checkout-api prod",
                    idp::command::Dialect::Plain,
                    chrono::Utc::now(),
                ),
                "deploys checkout-api prod",
                RequestMeta::default(),
            )
            .await;
        let Outcome::Deploys {
            environment,
            history,
            ..
        } = handled.outcome
        else {
            panic!("{:?}", handled.outcome);
        };
        assert_eq!(environment.as_deref(), Some("production"));
        assert_eq!(history.len(), 1);
        let (_, handled) = h
            .state
            .execute(
                "test",
                &daria,
                idp::command::parse(
                    "can rollback checkout-api prod",
                    idp::command::Dialect::Plain,
                    chrono::Utc::now(),
                ),
                "can rollback checkout-api prod",
                RequestMeta::default(),
            )
            .await;
        let Outcome::Explain(x) = handled.outcome else {
            panic!("{:?}", handled.outcome);
        };
        assert_eq!(x.environment.as_deref(), Some("production"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_prod_in_an_incident_channel_names_the_environment_not_a_service() {
    let backend = &support::backends()[0];
    let h = spawn_app(backend, Options::default()).await;
    deploy(&h, "e1", "1.4.2", "aaa111", 30).await;
    deploy(&h, "e2", "1.5.0", "bbb222", 2).await;
    let daria = person("daria.volkova", "U7DARIA", "inc-42-checkout-api");
    let command = Command::Rollback {
        service: Some(NameQuery::parse("prod")),
        environment: None,
        to: None,
        confirm: None,
    };
    let RollbackOutcome::Preview { plan, .. } = rollback(&h, &daria, command, "env-only").await
    else {
        panic!("`rollback prod` was not read as the environment");
    };
    assert_eq!(plan.environment, "production");
    assert_eq!(plan.service_name, "checkout-api");
}
