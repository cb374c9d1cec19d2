//! Golden-path runs end to end: slash command or typed command → durable run → delegation to the
//! GitHub and webhook fakes → callbacks → status message in the Slack fake → the new component
//! in the catalog. Every outside system is a fake on 127.0.0.1.

use std::time::Duration;

use idp::actions::{RunOptions, RunStatus};
use idp::app::RequestMeta;
use idp::authz::{Caller, ChannelKind, Origin};
use idp::catalog::EntityRef;
use idp::command::Command;
use idp::exec::{ExecConfig, Executors};
use idp::handlers::Outcome;
use idp::handlers::new_service::NewService;
use serde_json::{Value, json};

use crate::fakes::github;
use crate::fakes::webhook;
use crate::harness::{Options, TestApp, spawn_app};
use crate::support;

/// The caller Mei Tanaka (payments-platform) in Slack channel C1.
fn mei() -> Caller {
    Caller::user(
        Origin::Slack {
            team_id: "T0001".into(),
            user_id: "U1MEI".into(),
            channel_id: "C1".into(),
        },
        EntityRef::new("user", "default", "mei.tanaka"),
    )
    .in_channel(ChannelKind::Other(Some("dev".into())))
}

/// Runs a typed `new-service` as `caller` with an idempotency key in channel `channel`; returns
/// the outcome.
async fn new_service_in(
    h: &TestApp,
    caller: &Caller,
    text: &str,
    key: &str,
    channel: &str,
) -> NewService {
    let parsed = idp::command::parse(text, idp::command::Dialect::Plain, chrono::Utc::now());
    let (_, handled) = h
        .state
        .execute(
            "test",
            caller,
            parsed,
            text,
            RequestMeta {
                idempotency_key: Some(key),
                channel_id: Some(channel),
            },
        )
        .await;
    match handled.outcome {
        Outcome::NewService(n) => *n,
        other => panic!("not a new-service outcome: {other:?}"),
    }
}

/// [`new_service_in`] channel C1.
async fn new_service(h: &TestApp, caller: &Caller, text: &str, key: &str) -> NewService {
    new_service_in(h, caller, text, key, "C1").await
}

const BACKEND_TEXT: &str = "new-service backend-service name=inventory-api owner=payments-platform system=payments language=rust dataClassification=pii features=postgres,redis description=\"Stock levels\"";

fn started(outcome: NewService) -> (idp::actions::Run, bool) {
    match outcome {
        NewService::Started { run, created, .. } => (*run, created),
        other => panic!("not started: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_submission_twice_records_one_run_and_dispatches_once() {
    for backend in support::backends() {
        let h = spawn_app(&backend, Options::default().worker()).await;
        let mei = mei();
        let (first, created) = started(new_service(&h, &mei, BACKEND_TEXT, "slack-view:V1").await);
        assert!(created, "{}", backend.name);
        let (second, created_again) =
            started(new_service(&h, &mei, BACKEND_TEXT, "slack-view:V1").await);
        assert!(
            !created_again,
            "{}: a repeat finds the first run",
            backend.name
        );
        assert_eq!(first.id, second.id);
        h.until(&first.id, |r| r.status == RunStatus::Dispatched)
            .await;
        let deliveries = h.receiver.deliveries();
        assert_eq!(deliveries.len(), 1, "{}: one dispatch", backend.name);
        assert!(deliveries[0].signed, "{}", backend.name);
        assert_eq!(deliveries[0].body["run_id"], json!(first.id));
        assert_eq!(
            deliveries[0].body["controls"],
            json!([
                "access_logging",
                "encrypt_at_rest",
                "private_network_only",
                "secrets_manager"
            ]),
            "{}: pii requires four controls",
            backend.name
        );
        assert_eq!(
            deliveries[0].body["labels"],
            json!({"data-classification": "pii"})
        );
        assert_eq!(
            deliveries[0].body["inputs"]["costCenter"],
            json!("cc-1234"),
            "pinned by [compliance] fixed"
        );
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_run_ends_in_created_and_the_new_service_answers_owner() {
    for backend in support::backends() {
        let h = spawn_app(&backend, Options::default().worker()).await;
        let (run, _) = started(new_service(&h, &mei(), BACKEND_TEXT, "k1").await);
        h.until(&run.id, |r| {
            r.status == RunStatus::Dispatched && r.message_ts.is_some()
        })
        .await;
        let now = support::now();
        let step = json!({"status": "step", "step": {"name": "Repository created", "url": "https://github.com/acme/inventory-api"}, "sequence": 2});
        let (code, _) = webhook::send_callback(&h.base, &run.id, &step, webhook::SECRET, now).await;
        assert_eq!(code, 200, "{}", backend.name);
        // An older report arriving late changes nothing.
        let late = json!({"status": "running", "sequence": 1});
        let (code, body) =
            webhook::send_callback(&h.base, &run.id, &late, webhook::SECRET, now).await;
        assert_eq!(code, 200);
        assert!(body.contains("\"applied\":false"), "{body}");
        let done =
            json!({"status": "succeeded", "url": "https://ci.example.com/runs/7", "sequence": 3});
        let (code, _) = webhook::send_callback(&h.base, &run.id, &done, webhook::SECRET, now).await;
        assert_eq!(code, 200);
        let run = h.finished(&run.id).await;
        assert_eq!(run.status, RunStatus::Succeeded, "{}", backend.name);
        // The status message was posted once and then updated in place.
        let posts = h.slack.posted("chat.postMessage");
        assert_eq!(posts.len(), 1, "{}: {posts:?}", backend.name);
        assert_eq!(posts[0]["channel"], json!("C1"));
        let updates = h.slack.posted("chat.update");
        let last = updates.last().expect("updates");
        assert!(
            last["text"].as_str().unwrap_or("").contains("Created"),
            "{last}"
        );
        let blocks = last["blocks"].to_string();
        assert!(blocks.contains("Repository created"), "{blocks}");
        // The new component is in the catalog, with its controls recorded.
        let reply = h
            .state
            .dispatch(&mei(), "owner inventory-api", idp::command::Dialect::Plain)
            .await;
        let text = serde_json::to_string(&reply.blocks).expect("json");
        assert!(
            text.contains("Payments Platform"),
            "{}: {text}",
            backend.name
        );
        // The controls and labels the run required are on the new entity.
        let snapshot = h.state.catalog.snapshot();
        let created = snapshot
            .get(&EntityRef::new("component", "default", "inventory-api"))
            .expect("catalogued");
        assert_eq!(
            snapshot.node(created).entity.annotation("idp.dev/controls"),
            Some("access_logging,encrypt_at_rest,private_network_only,secrets_manager"),
            "{}",
            backend.name
        );
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn callbacks_with_a_bad_signature_a_stale_timestamp_or_an_unknown_run_are_refused() {
    let backend = &support::backends()[0];
    let h = spawn_app(backend, Options::default()).await;
    let (run, _) = started(new_service(&h, &mei(), BACKEND_TEXT, "k2").await);
    let body = json!({"status": "running"});
    let now = support::now();
    let (code, _) = webhook::send_callback(&h.base, &run.id, &body, "wrong-secret", now).await;
    assert_eq!(code, 401);
    let (code, _) =
        webhook::send_callback(&h.base, &run.id, &body, webhook::SECRET, now - 3600).await;
    assert_eq!(code, 401);
    let (code, _) = webhook::send_raw_callback(
        &h.base,
        &run.id,
        serde_json::to_vec(&body).expect("json"),
        None,
        None,
    )
    .await;
    assert_eq!(code, 401);
    let (code, text) =
        webhook::send_callback(&h.base, "run_0000000000000000", &body, webhook::SECRET, now).await;
    assert_eq!(code, 404, "{text}");
    let garbage = b"<html>oops</html>".to_vec();
    let (code, text) = webhook::send_raw_callback(
        &h.base,
        &run.id,
        garbage.clone(),
        Some(now.to_string()),
        Some(webhook::sign(webhook::SECRET, now, &garbage)),
    )
    .await;
    assert_eq!(code, 400, "{text}");
    let run = h.runs.get(&run.id).await.expect("read").expect("run");
    assert_eq!(run.status, RunStatus::Queued, "nothing changed it");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_interrupted_by_a_restart_completes_exactly_once() {
    for backend in support::backends() {
        // First life: the run is recorded, then idp stops before its worker ever ran.
        let h = spawn_app(&backend, Options::default()).await;
        let (run, _) = started(new_service(&h, &mei(), BACKEND_TEXT, "k3").await);
        let fakes = h.stop().await;
        assert!(fakes.receiver.deliveries().is_empty());
        // Second life on the same database: it dispatches once, the callback finishes it.
        let h = spawn_app(&backend, Options::default().worker().fakes(fakes)).await;
        h.until(&run.id, |r| r.status == RunStatus::Dispatched)
            .await;
        let fakes = h.stop().await;
        // Third life: a callback arrives; nothing is dispatched again.
        let h = spawn_app(&backend, Options::default().worker().fakes(fakes)).await;
        let done = json!({"status": "succeeded"});
        let (code, _) =
            webhook::send_callback(&h.base, &run.id, &done, webhook::SECRET, support::now()).await;
        assert_eq!(code, 200, "{}", backend.name);
        let finished = h.finished(&run.id).await;
        assert_eq!(finished.status, RunStatus::Succeeded);
        let deliveries = h.receiver.deliveries();
        assert_eq!(
            deliveries.len(),
            1,
            "{}: dispatched exactly once",
            backend.name
        );
        assert!(!deliveries[0].duplicate);
        h.stop().await;
    }
}

const FRONTEND_TEXT: &str = "new-service frontend-app name=shop-ui owner=payments-platform";

#[tokio::test(flavor = "multi_thread")]
async fn github_runs_retry_server_errors_and_rate_limits_and_are_found_by_their_run_id() {
    for backend in support::backends() {
        let h = spawn_app(&backend, Options::default().worker()).await;
        h.github.script([
            github::Answer::ServerError,
            github::Answer::TooManyRequests {
                retry_after_secs: 1,
            },
            github::Answer::Accept,
        ]);
        let (run, _) = started(new_service(&h, &mei(), FRONTEND_TEXT, "k4").await);
        let run = h
            .until(&run.id, |r| {
                r.status == RunStatus::Running || r.status.is_finished()
            })
            .await;
        assert!(
            run.attempts >= 3,
            "{}: 500, 429, then 204 ({} attempts)",
            backend.name,
            run.attempts
        );
        // However the attempts fell, GitHub started exactly one workflow run.
        let gh_runs = h.github.runs();
        assert_eq!(gh_runs.len(), 1);
        assert_eq!(
            run.external_id.as_deref(),
            Some(gh_runs[0].id.to_string().as_str())
        );
        h.github
            .advance(gh_runs[0].id, "completed", Some("success"));
        let run = h.finished(&run.id).await;
        assert_eq!(run.status, RunStatus::Succeeded, "{}", backend.name);
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_github_422_fails_the_run_at_once_with_githubs_message() {
    let backend = &support::backends()[0];
    let h = spawn_app(backend, Options::default().worker()).await;
    h.github.script([github::Answer::Unprocessable(
        "Unexpected inputs provided: [\"foo\"]",
    )]);
    let (run, _) = started(new_service(&h, &mei(), FRONTEND_TEXT, "k5").await);
    let run = h.finished(&run.id).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.attempts, 1);
    assert!(
        run.error
            .as_deref()
            .unwrap_or("")
            .contains("Unexpected inputs provided"),
        "{:?}",
        run.error
    );
    // The failure is told in the status message's thread too.
    let replies: Vec<Value> = h
        .slack
        .posted("chat.postMessage")
        .into_iter()
        .filter(|p| p.get("thread_ts").is_some())
        .collect();
    assert_eq!(replies.len(), 1, "{replies:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_with_no_news_fails_as_stale_with_a_clear_reason() {
    let backend = &support::backends()[0];
    let options = Options::default().worker().tune_runs(|o| RunOptions {
        stale_after: Duration::from_millis(300),
        ..o
    });
    let h = spawn_app(backend, options).await;
    let (run, _) = started(new_service(&h, &mei(), BACKEND_TEXT, "k6").await);
    let run = h.finished(&run.id).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert!(
        run.error
            .as_deref()
            .unwrap_or("")
            .starts_with("no status from the webhook backend for"),
        "{:?}",
        run.error
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_owner_the_caller_may_not_create_for_is_refused_with_the_policy_reason() {
    let backend = &support::backends()[0];
    let h = spawn_app(backend, Options::default()).await;
    let text = "new-service frontend-app name=shop-ui owner=storefront-web";
    match new_service(&h, &mei(), text, "k7").await {
        NewService::Denied {
            field, decision, ..
        } => {
            assert_eq!(field, "owner");
            assert!(!decision.reason.is_empty());
        }
        other => panic!("expected a denial: {other:?}"),
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn typed_values_are_checked_with_the_forms_rules() {
    let backend = &support::backends()[0];
    let h = spawn_app(backend, Options::default()).await;
    let text = "new-service frontend-app name=Shop_UI owner=payments-platform framework=angular colour=blue";
    match new_service(&h, &mei(), text, "k8").await {
        NewService::Invalid { errors, .. } => {
            assert!(errors.contains_key("colour"), "{errors:?}");
        }
        other => panic!("expected errors: {other:?}"),
    }
    let text = "new-service frontend-app name=Shop_UI owner=payments-platform framework=angular";
    match new_service(&h, &mei(), text, "k9").await {
        NewService::Invalid { errors, .. } => {
            assert!(errors.contains_key("name"), "{errors:?}");
            assert!(errors.contains_key("framework"), "{errors:?}");
        }
        other => panic!("expected errors: {other:?}"),
    }
    // An existing component's name.
    let text = "new-service frontend-app name=checkout-api owner=payments-platform";
    match new_service(&h, &mei(), text, "k10").await {
        NewService::Invalid { errors, .. } => {
            assert!(errors["name"].contains("already exists"), "{errors:?}");
        }
        other => panic!("expected errors: {other:?}"),
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queued_run_can_be_cancelled_and_is_then_never_dispatched() {
    let backend = &support::backends()[0];
    let mut h = spawn_app(backend, Options::default()).await;
    let (run, _) = started(new_service(&h, &mei(), BACKEND_TEXT, "k11").await);
    let (cancelled, changed) = h.runs.cancel(&run.id, "mei.tanaka").await.expect("cancel");
    assert!(changed);
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    h.start_worker();
    let run = h.finished(&run.id).await;
    assert_eq!(run.status, RunStatus::Cancelled);
    assert!(h.receiver.deliveries().is_empty());
    let _ = Command::Templates;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_message_goes_to_a_direct_message_where_the_bot_cannot_post() {
    let backend = &support::backends()[0];
    let h = spawn_app(backend, Options::default().worker()).await;
    let (run, _) = started(new_service_in(&h, &mei(), BACKEND_TEXT, "k12", "CNOTIN").await);
    let run = h.until(&run.id, |r| r.message_ts.is_some()).await;
    assert_eq!(run.channel_id.as_deref(), Some("U1MEI"), "moved to the DM");
    let channels: Vec<Value> = h
        .slack
        .posted("chat.postMessage")
        .iter()
        .map(|p| p["channel"].clone())
        .collect();
    assert_eq!(channels, vec![json!("CNOTIN"), json!("U1MEI")]);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_between_a_github_dispatch_and_its_record_does_not_dispatch_twice() {
    for backend in support::backends() {
        let mut h = spawn_app(&backend, Options::default()).await;
        let (run, _) = started(new_service(&h, &mei(), FRONTEND_TEXT, "k13").await);
        // First life: a worker claimed the run and GitHub accepted the dispatch, then the process
        // died before writing that down (the lease ran out).
        let now = chrono::Utc::now().timestamp_millis();
        let claimed = h
            .state
            .catalog
            .store()
            .claim_runs("dead-worker", now, now, 10)
            .await
            .expect("claim");
        assert_eq!(claimed.len(), 1);
        let mut exec = ExecConfig::default()
            .with_github(&h.github.url, github::TOKEN)
            .with_timeout(Duration::from_secs(2));
        exec.github.as_mut().expect("github").return_run_details = false;
        let executors = Executors::new(exec).expect("executors");
        let request = idp::exec::DispatchRequest {
            run_id: run.id.clone(),
            kind: run.kind.as_str().to_owned(),
            template: run.template.clone().unwrap_or_default(),
            execution: run.execution.clone(),
            inputs: run.inputs.clone(),
            requested_by: "user:default/mei.tanaka".into(),
            callback_url: format!("{}/hooks/runs/{}", h.base, run.id),
            controls: vec![],
            labels: Default::default(),
        };
        executors.dispatch(&request).await.expect("first dispatch");
        // Second life: the worker finds GitHub's run by its idp_run_id instead of dispatching again.
        h.start_worker();
        let found = h.until(&run.id, |r| r.status == RunStatus::Running).await;
        assert_eq!(h.github.dispatch_bodies().len(), 1, "{}", backend.name);
        assert!(found.external_id.is_some());
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backends_descriptor_can_add_only_the_runs_own_component() {
    let backend = &support::backends()[0];
    let h = spawn_app(backend, Options::default().worker()).await;
    let (run, _) = started(new_service(&h, &mei(), BACKEND_TEXT, "k14").await);
    h.until(&run.id, |r| r.status == RunStatus::Dispatched)
        .await;
    let descriptor = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: inventory-api}\nspec: {type: service, lifecycle: production, owner: payments-platform}\n---\napiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: sneaky}\nspec: {type: team, parent: platform-sre, children: [], members: [mei.tanaka]}\n---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: checkout-api}\nspec: {type: service, lifecycle: production, owner: payments-platform}\n";
    let done = json!({"status": "succeeded", "descriptor": descriptor});
    let (code, _) =
        webhook::send_callback(&h.base, &run.id, &done, webhook::SECRET, support::now()).await;
    assert_eq!(code, 200);
    let run = h.finished(&run.id).await;
    let snapshot = h.state.catalog.snapshot();
    assert!(
        snapshot
            .get(&EntityRef::new("group", "default", "sneaky"))
            .is_none()
    );
    let created = snapshot
        .get(&EntityRef::new("component", "default", "inventory-api"))
        .expect("the run's component");
    assert_eq!(
        snapshot.node(created).entity.lifecycle(),
        Some("production")
    );
    let steps: Vec<&str> = run.steps.iter().map(|s| s.name.as_str()).collect();
    assert!(
        steps
            .iter()
            .any(|s| s.contains("group:default/sneaky is not a Component")),
        "{steps:?}"
    );
    let whoami = h
        .state
        .dispatch(&mei(), "whoami", idp::command::Dialect::Plain)
        .await;
    assert!(!whoami.text.contains("platform-admin"), "{}", whoami.text);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_location_that_cannot_be_read_falls_back_to_a_descriptor_from_the_inputs() {
    let backend = &support::backends()[0];
    let h = spawn_app(backend, Options::default().worker()).await;
    let (run, _) = started(new_service(&h, &mei(), BACKEND_TEXT, "k15").await);
    h.until(&run.id, |r| r.status == RunStatus::Dispatched)
        .await;
    let done = json!({"status": "succeeded", "location": format!("{}/nothing-here/catalog-info.yaml", h.base)});
    let (code, _) =
        webhook::send_callback(&h.base, &run.id, &done, webhook::SECRET, support::now()).await;
    assert_eq!(code, 200);
    let run = h.finished(&run.id).await;
    assert!(
        run.steps
            .iter()
            .any(|s| s.name.starts_with("The backend's location was not used")),
        "{:?}",
        run.steps
    );
    let reply = h
        .state
        .dispatch(&mei(), "owner inventory-api", idp::command::Dialect::Plain)
        .await;
    assert!(reply.text.contains("inventory-api"), "{}", reply.text);
    let templates = h
        .state
        .dispatch(&mei(), "templates", idp::command::Dialect::Plain)
        .await;
    let listed = serde_json::to_string(&templates.blocks).expect("json");
    assert!(listed.contains("Backend service on Kubernetes"), "{listed}");
    assert!(
        listed.contains("not runnable"),
        "the Backstage one is not configured: {listed}"
    );
    h.stop().await;
}
