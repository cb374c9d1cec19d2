//! Rollbacks handed to a backend, against fakes on loopback: Argo CD (the rollback to the target's
//! history entry followed to its end, the auto-sync refusal and the auto-sync patch when allowed,
//! outages, refusals, answers that are not JSON, history lookups) and the rollback inputs and
//! `kind` sent over GitHub Actions and the signed webhook.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use idp::exec::{
    DispatchRequest, Dispatched, ExecConfig, ExecError, Execution, Executors, Progress,
};
use serde_json::{Value, json};

use crate::fakes::argocd::{self, Answer, FakeArgoCd};
use crate::fakes::github::{self, FakeGithub};
use crate::fakes::webhook::{self, FakeReceiver};

const RUN_ID: &str = "run_01HZROLLBACK01";
const APP: &str = "checkout-api-prod";

/// The history of [`APP`]: 1.4.1, 1.4.2, 1.5.0 (now), with 1.4.2 deployed twice.
const HISTORY: &[(i64, &str)] = &[
    (10, "a1f0c3d"),
    (11, "9f2c1e7"),
    (12, "b7e4402"),
    (13, "9f2c1e7"),
    (14, "c0ffee5"),
];

fn rollback(execution: Execution, extra: &[(&str, &str)]) -> DispatchRequest {
    let mut inputs: BTreeMap<String, Value> = [
        ("service", "checkout-api"),
        ("environment", "production"),
        ("version", "1.4.2"),
        ("from_version", "1.5.0"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| ((*k).to_owned(), json!(v)))
    .collect();
    inputs.retain(|_, v| v.as_str().is_some_and(|s| !s.is_empty()));
    DispatchRequest {
        run_id: RUN_ID.to_owned(),
        kind: "rollback".to_owned(),
        template: String::new(),
        execution,
        inputs,
        requested_by: "user:default/mei.tanaka".to_owned(),
        callback_url: format!("https://idp.example.com/hooks/runs/{RUN_ID}"),
        controls: vec![],
        labels: BTreeMap::new(),
    }
}

fn argo() -> Execution {
    Execution::ArgoCd {
        application: APP.to_owned(),
    }
}

async fn fake(autosync: bool) -> FakeArgoCd {
    let fake = FakeArgoCd::start().await;
    fake.add_app(APP, autosync, HISTORY);
    fake
}

fn executors(fake: &FakeArgoCd, disable_autosync: bool) -> Executors {
    let config = ExecConfig::default()
        .with_argocd(&fake.url, argocd::TOKEN, disable_autosync)
        .with_timeout(Duration::from_secs(2));
    Executors::new(config).expect("HTTP client")
}

/// The `id` of every rollback call the fake received.
fn rollback_ids(fake: &FakeArgoCd) -> Vec<Value> {
    fake.calls()
        .into_iter()
        .filter(|c| c.path.ends_with("/rollback"))
        .map(|c| c.body["id"].clone())
        .collect()
}

#[tokio::test]
async fn an_argo_cd_rollback_goes_to_the_target_revision_and_is_followed_to_success() {
    let fake = fake(false).await;
    let ex = executors(&fake, false);
    let created = Utc::now();
    let page = format!("{}/applications/{APP}", fake.url);
    // Before the dispatch, the last sync (an hour old) is not this run's.
    assert_eq!(
        ex.poll(&argo(), RUN_ID, None, created).await,
        Ok(Progress::Pending)
    );

    let answer = ex
        .dispatch(&rollback(argo(), &[("revision", "9f2c1e7")]))
        .await;
    assert_eq!(
        answer,
        Ok(Dispatched {
            external_id: Some(APP.to_owned()),
            url: Some(page.clone()),
            notes: vec![],
        })
    );
    let running = Progress::Running {
        external_id: Some(APP.to_owned()),
        url: Some(page.clone()),
        step: None,
    };
    assert_eq!(
        ex.poll(&argo(), RUN_ID, Some(APP), created).await,
        Ok(running.clone())
    );
    fake.advance(APP, "Terminating", "");
    assert_eq!(
        ex.poll(&argo(), RUN_ID, Some(APP), created).await,
        Ok(running)
    );
    fake.advance(APP, "Succeeded", "successfully synced (all tasks run)");
    assert_eq!(
        ex.poll(&argo(), RUN_ID, Some(APP), created).await,
        Ok(Progress::Succeeded {
            url: Some(page),
            descriptor: None,
            location: None,
        })
    );

    assert_eq!(fake.problems(), Vec::<String>::new());
    let calls: Vec<(String, String)> = fake
        .calls()
        .into_iter()
        .map(|c| (c.method, c.path))
        .collect();
    let app_path = format!("/api/v1/applications/{APP}");
    assert_eq!(calls[1], ("GET".to_owned(), app_path.clone()));
    assert_eq!(
        calls[2],
        ("POST".to_owned(), format!("{app_path}/rollback"))
    );
    let body = fake.calls()[2].body.clone();
    assert_eq!(
        body,
        json!({"name": APP, "id": 13, "prune": false, "dryRun": false}),
        "the newest entry of the revision"
    );
}

#[tokio::test]
async fn a_failed_rollback_reports_argo_cds_message() {
    let fake = fake(false).await;
    let ex = executors(&fake, false);
    let created = Utc::now();
    ex.dispatch(&rollback(argo(), &[("revision", "a1f0c3d")]))
        .await
        .expect("dispatched");
    fake.advance(
        APP,
        "Failed",
        "one or more objects failed to apply: Deployment is invalid",
    );
    let Ok(Progress::Failed { message, .. }) = ex.poll(&argo(), RUN_ID, None, created).await else {
        panic!("a failure");
    };
    assert_eq!(
        message,
        "one or more objects failed to apply: Deployment is invalid"
    );
    fake.advance(APP, "Error", "");
    let Ok(Progress::Failed { message, .. }) = ex.poll(&argo(), RUN_ID, None, created).await else {
        panic!("a failure");
    };
    assert!(message.contains("ended in Error"), "{message}");
}

#[tokio::test]
async fn auto_sync_on_is_refused_with_what_to_do_and_nothing_is_changed() {
    let fake = fake(true).await;
    let ex = executors(&fake, false);
    let error = ex
        .dispatch(&rollback(argo(), &[("revision", "9f2c1e7")]))
        .await
        .expect_err("refused");
    assert_eq!(
        error,
        ExecError::Rejected {
            backend: "argocd",
            status: 409,
            message: format!(
                "Argo CD refuses to roll back {APP} while auto-sync is on: turn auto-sync off for it (argocd app set {APP} --sync-policy none), or let idp do it with ARGOCD_DISABLE_AUTOSYNC=true"
            ),
        }
    );
    assert!(!error.is_transient());
    assert!(fake.autosync(APP));
    assert!(fake.calls().iter().all(|c| c.method == "GET"));
}

#[tokio::test]
async fn when_allowed_idp_turns_auto_sync_off_first_and_says_so() {
    let fake = fake(true).await;
    let ex = executors(&fake, true);
    let answer = ex
        .dispatch(&rollback(argo(), &[("revision", "9f2c1e7")]))
        .await
        .expect("dispatched");
    assert_eq!(
        answer.notes,
        vec![format!(
            "auto-sync was turned off for {APP}; turn it back on when the fix ships (argocd app set {APP} --sync-policy automated)"
        )]
    );
    assert!(!fake.autosync(APP));
    assert_eq!(fake.problems(), Vec::<String>::new());
    let calls = fake.calls();
    let methods: Vec<&str> = calls.iter().map(|c| c.method.as_str()).collect();
    assert_eq!(methods, ["GET", "PATCH", "POST"]);
    let patch = &calls[1].body;
    assert_eq!(patch["name"], json!(APP));
    assert_eq!(patch["patchType"], json!("merge"));
    let inner: Value =
        serde_json::from_str(patch["patch"].as_str().expect("a string")).expect("JSON");
    assert_eq!(inner, json!({"spec": {"syncPolicy": {"automated": null}}}));
}

#[tokio::test]
async fn a_5xx_is_transient_and_the_next_attempt_rolls_back() {
    let fake = fake(false).await;
    let ex = executors(&fake, false);
    fake.script([Answer(
        503,
        "application/json",
        r#"{"error":"connection refused","code":14,"message":"connection refused"}"#,
    )]);
    let request = rollback(argo(), &[("revision", "9f2c1e7")]);
    let error = ex.dispatch(&request).await.expect_err("unavailable");
    assert!(
        matches!(&error, ExecError::Unavailable { backend: "argocd", message, .. } if message.contains("HTTP 503")),
        "{error:?}"
    );
    assert!(error.is_transient());
    assert!(rollback_ids(&fake).is_empty());
    assert_eq!(fake.calls()[0].status, 503);
    ex.dispatch(&request).await.expect("dispatched");
    assert_eq!(rollback_ids(&fake), [json!(13)]);
}

#[tokio::test]
async fn a_403_is_a_rejection_showing_argo_cds_message() {
    let fake = fake(false).await;
    let ex = executors(&fake, false);
    fake.script([
        Answer(
            200,
            "application/json",
            r#"{"metadata":{"name":"checkout-api-prod"},"spec":{},"status":{"history":[{"id":11,"revision":"9f2c1e7"}]}}"#,
        ),
        Answer(
            403,
            "application/json",
            r#"{"error":"permission denied: applications, sync, default/checkout-api-prod, sub: idp","code":7,"message":"permission denied: applications, sync, default/checkout-api-prod, sub: idp"}"#,
        ),
    ]);
    let error = ex
        .dispatch(&rollback(argo(), &[("revision", "9f2c1e7")]))
        .await
        .expect_err("rejected");
    assert_eq!(
        error,
        ExecError::Rejected {
            backend: "argocd",
            status: 403,
            message: "permission denied: applications, sync, default/checkout-api-prod, sub: idp"
                .to_owned(),
        }
    );
    assert_eq!(
        rollback_ids(&fake),
        [json!(11)],
        "the call was made, and refused"
    );
}

#[tokio::test]
async fn an_answer_that_is_not_json_is_a_bad_response_with_an_excerpt() {
    let fake = fake(false).await;
    let ex = executors(&fake, false);
    fake.script([Answer(
        200,
        "text/html",
        "<html><body><h1>Argo CD</h1><p>Please log in</p></body></html>",
    )]);
    let error = ex
        .dispatch(&rollback(argo(), &[("revision", "9f2c1e7")]))
        .await
        .expect_err("unreadable");
    let ExecError::BadResponse { backend, detail } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(*backend, "argocd");
    assert!(detail.contains("Argo CD Please log in"), "{detail}");
    assert!(rollback_ids(&fake).is_empty());
}

#[tokio::test]
async fn the_history_id_comes_from_the_input_or_the_revision_and_an_unknown_revision_is_refused() {
    let fake = fake(false).await;
    let ex = executors(&fake, false);
    // The given history id wins over the revision.
    ex.dispatch(&rollback(
        argo(),
        &[("revision", "9f2c1e7"), ("argocd_history_id", "11")],
    ))
    .await
    .expect("dispatched");
    // Without a revision, the version is looked for (a Helm chart's history holds versions).
    let error = ex
        .dispatch(&rollback(argo(), &[]))
        .await
        .expect_err("1.4.2 is no revision here");
    assert_eq!(
        error.to_string(),
        format!(
            "argocd refused the request (HTTP 422): revision 1.4.2 is not in {APP}'s deploy history"
        )
    );
    let error = ex
        .dispatch(&rollback(argo(), &[("revision", "deadbee")]))
        .await
        .expect_err("unknown");
    assert!(
        error.to_string().ends_with(&format!(
            "revision deadbee is not in {APP}'s deploy history"
        )),
        "{error}"
    );
    let error = ex
        .dispatch(&rollback(argo(), &[("argocd_history_id", "eleven")]))
        .await
        .expect_err("not a number");
    assert!(error.to_string().contains("`eleven`"), "{error}");
    assert_eq!(rollback_ids(&fake), [json!(11)]);
}

#[tokio::test]
async fn argo_cd_needs_its_url_and_token_and_a_wrong_token_is_named() {
    let unconfigured = Executors::new(ExecConfig::default()).expect("client");
    assert_eq!(
        unconfigured.check(&argo()),
        Err(ExecError::NotConfigured(
            "Argo CD is not configured: set ARGOCD_URL and ARGOCD_TOKEN".to_owned()
        ))
    );
    let fake = fake(false).await;
    let wrong = Executors::new(ExecConfig::default().with_argocd(&fake.url, "stale", false))
        .expect("client");
    let error = wrong
        .dispatch(&rollback(argo(), &[("revision", "9f2c1e7")]))
        .await
        .expect_err("401");
    assert!(
        matches!(&error, ExecError::Rejected { status: 401, message, .. } if message.contains("check ARGOCD_TOKEN")),
        "{error:?}"
    );
    let shown = format!(
        "{:?}",
        ExecConfig::default().with_argocd(&fake.url, "SECRET-TOKEN", true)
    );
    assert!(!shown.contains("SECRET"), "{shown}");
    assert_eq!(
        serde_json::to_value(argo()).expect("JSON"),
        json!({"backend": "argocd", "application": APP})
    );
    assert_eq!(argo().kind(), "argocd");
}

#[tokio::test]
async fn a_rollback_over_github_actions_dispatches_the_rollback_inputs() {
    let fake = FakeGithub::start().await;
    let ex = Executors::new(ExecConfig::default().with_github(&fake.url, github::TOKEN))
        .expect("client");
    let workflow = Execution::GithubActions {
        owner: "acme".to_owned(),
        repo: "checkout-api".to_owned(),
        workflow: "rollback.yml".to_owned(),
        git_ref: "main".to_owned(),
    };
    ex.dispatch(&rollback(workflow, &[("revision", "9f2c1e7")]))
        .await
        .expect("dispatched");
    assert_eq!(fake.problems(), Vec::<String>::new());
    let body = fake.dispatch_bodies().pop().expect("a dispatch");
    assert_eq!(
        body["inputs"],
        json!({
            "service": "checkout-api",
            "environment": "production",
            "version": "1.4.2",
            "revision": "9f2c1e7",
            "from_version": "1.5.0",
            "idp_run_id": RUN_ID,
            "controls": "[]",
            "labels": "{}",
        })
    );
}

#[tokio::test]
async fn a_rollback_over_the_webhook_is_signed_and_says_kind_rollback() {
    let receiver = FakeReceiver::start().await;
    let ex = Executors::new(ExecConfig::default().with_webhook(&receiver.url, webhook::SECRET))
        .expect("client");
    ex.dispatch(&rollback(
        Execution::Webhook,
        &[("argocd_history_id", "11")],
    ))
    .await
    .expect("dispatched");
    assert_eq!(receiver.problems(), Vec::<String>::new());
    let delivery = receiver.deliveries().pop().expect("a delivery");
    assert!(delivery.signed);
    assert_eq!(delivery.body["kind"], json!("rollback"));
    assert_eq!(delivery.body["template"], json!(""));
    assert_eq!(
        delivery.body["inputs"],
        json!({
            "service": "checkout-api",
            "environment": "production",
            "version": "1.4.2",
            "from_version": "1.5.0",
            "argocd_history_id": "11",
        })
    );
}
