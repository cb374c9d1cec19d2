//! Deploy history from events: `/hooks/events` and `/hooks/github/deployments` over real HTTP on
//! 127.0.0.1, on both backends.

use std::collections::BTreeMap;
use std::sync::Arc;

use idp::config::EventCredential;
use idp::deploys::github::{DeployWorkflow, VersionFrom};
use idp::deploys::{DeployStatus, Deployment};
use idp::exec::signing::{sign, sign_github};
use idp::hooks::events::{EventsState, router};
use idp::store::Store;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::support::{self, Backend};

const CI_SECRET: &str = "ci-secret-0123456789";
const ARGO_TOKEN: &str = "argo-token-abcdef";
const GITHUB_SECRET: &str = "gh-secret-9876";

/// `[events.github] deploy_workflows` of these tests: `deploy.yml` of any repository deploys the
/// repository's service to production; `release.yml` of `acme/monorepo` deploys `cart` to
/// staging, versioned by the run's title.
fn deploy_workflows() -> Vec<DeployWorkflow> {
    vec![
        DeployWorkflow {
            workflow: "deploy.yml".to_owned(),
            environment: "production".to_owned(),
            repository: None,
            service: None,
            version: VersionFrom::Sha,
        },
        DeployWorkflow {
            workflow: "release.yml".to_owned(),
            environment: "staging".to_owned(),
            repository: Some("acme/monorepo".to_owned()),
            service: Some("cart".to_owned()),
            version: VersionFrom::DisplayTitle,
        },
    ]
}

struct Hooks {
    base: String,
    client: reqwest::Client,
    store: Store,
    server: tokio::task::JoinHandle<()>,
}

impl Hooks {
    async fn start(backend: &Backend) -> Self {
        let store = backend.store().await;
        let mut sources = BTreeMap::new();
        sources.insert(
            "ci".to_owned(),
            EventCredential::Hmac(SecretString::from(CI_SECRET)),
        );
        sources.insert(
            "argocd".to_owned(),
            EventCredential::Bearer(SecretString::from(ARGO_TOKEN)),
        );
        let app = router(
            EventsState::new(store.clone(), sources)
                .with_github(Some(SecretString::from(GITHUB_SECRET)), deploy_workflows()),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self {
            base,
            client: reqwest::Client::new(),
            store,
            server,
        }
    }

    /// Posts `body` as source `ci`, signed at `ts` with `secret`.
    async fn post_signed(&self, body: &str, ts: i64, secret: &str) -> (u16, String) {
        let signature = sign(&SecretString::from(secret), ts, body.as_bytes());
        let response = self
            .client
            .post(format!("{}/hooks/events", self.base))
            .header("X-Idp-Source", "ci")
            .header("X-Idp-Timestamp", ts.to_string())
            .header("X-Idp-Signature", signature)
            .body(body.to_owned())
            .send()
            .await
            .expect("send");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    async fn post(&self, event: &Value) -> (u16, String) {
        self.post_signed(&event.to_string(), support::now(), CI_SECRET)
            .await
    }
}

fn deploy(id: &str, kind: &str, time: &str, service: &str, version: &str) -> Value {
    json!({
        "id": id,
        "type": kind,
        "source": "ci",
        "time": time,
        "data": {
            "service": service,
            "environment": "production",
            "version": version,
            "deployed_by": "mei.tanaka",
            "deployment_id": format!("{service}-{version}"),
        }
    })
}

fn versions(history: &[Deployment]) -> Vec<(&str, DeployStatus)> {
    history
        .iter()
        .map(|d| (d.version.as_str(), d.status))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_signature_a_stale_timestamp_or_an_unknown_source_gets_401() {
    for backend in support::backends() {
        let hooks = Hooks::start(&backend).await;
        let body = deploy(
            "e1",
            "deploy.started",
            "2026-11-30T09:00:00Z",
            "checkout-api",
            "1.0",
        )
        .to_string();
        let now = support::now();
        assert_eq!(hooks.post_signed(&body, now, "wrong").await.0, 401);
        assert_eq!(hooks.post_signed(&body, now - 301, CI_SECRET).await.0, 401);
        let unknown = hooks
            .client
            .post(format!("{}/hooks/events", hooks.base))
            .header("X-Idp-Source", "elsewhere")
            .header("X-Idp-Timestamp", now.to_string())
            .header(
                "X-Idp-Signature",
                sign(&SecretString::from(CI_SECRET), now, body.as_bytes()),
            )
            .body(body.clone())
            .send()
            .await
            .expect("send");
        assert_eq!(unknown.status().as_u16(), 401);
        assert_eq!(unknown.text().await.expect("body"), "");
        let wrong_token = hooks
            .client
            .post(format!("{}/hooks/events", hooks.base))
            .header("X-Idp-Source", "argocd")
            .header("Authorization", "Bearer nope")
            .body(body.clone())
            .send()
            .await
            .expect("send");
        assert_eq!(wrong_token.status().as_u16(), 401);
        assert!(
            hooks
                .store
                .deployments("checkout-api", None, 10)
                .await
                .expect("history")
                .is_empty(),
            "{}: nothing stored",
            backend.name
        );
        hooks.server.abort();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_duplicate_event_id_is_stored_once() {
    for backend in support::backends() {
        let hooks = Hooks::start(&backend).await;
        let event = deploy(
            "dup-1",
            "deploy.succeeded",
            "2026-11-30T09:00:00Z",
            "checkout-api",
            "1.0",
        );
        let first = hooks.post(&event).await;
        assert_eq!(first, (200, r#"{"ok":true,"stored":true}"#.to_owned()));
        let again = hooks.post(&event).await;
        assert_eq!(again, (200, r#"{"ok":true,"stored":false}"#.to_owned()));
        let history = hooks
            .store
            .deployments("checkout-api", Some("production"), 10)
            .await
            .expect("history");
        assert_eq!(history.len(), 1, "{}", backend.name);
        hooks.server.abort();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn events_out_of_order_build_the_history_by_their_time() {
    for backend in support::backends() {
        let hooks = Hooks::start(&backend).await;
        let svc = "checkout-api";
        // Arrival order scrambled: 1.2 finishes before its start arrives; 1.1's events come last.
        let events = [
            deploy(
                "c-ok",
                "deploy.succeeded",
                "2026-11-30T12:05:00Z",
                svc,
                "1.2",
            ),
            deploy(
                "c-start",
                "deploy.started",
                "2026-11-30T12:00:00Z",
                svc,
                "1.2",
            ),
            deploy(
                "d-start",
                "deploy.started",
                "2026-11-30T13:00:00Z",
                svc,
                "1.3",
            ),
            deploy(
                "d-fail",
                "deploy.failed",
                "2026-11-30T13:02:00Z",
                svc,
                "1.3",
            ),
            deploy(
                "b-ok",
                "deploy.succeeded",
                "2026-11-30T11:05:00Z",
                svc,
                "1.1",
            ),
            deploy(
                "a-ok",
                "deploy.succeeded",
                "2026-11-30T10:05:00Z",
                svc,
                "1.0",
            ),
            deploy(
                "b-start",
                "deploy.started",
                "2026-11-30T11:00:00Z",
                svc,
                "1.1",
            ),
        ];
        for e in &events {
            assert_eq!(hooks.post(e).await.0, 200);
        }
        let store = &hooks.store;
        let history = store
            .deployments("Checkout-API", Some("production"), 10)
            .await
            .expect("history");
        assert_eq!(
            versions(&history),
            [
                ("1.3", DeployStatus::Failed),
                ("1.2", DeployStatus::Succeeded),
                ("1.1", DeployStatus::Succeeded),
                ("1.0", DeployStatus::Succeeded),
            ],
            "{}",
            backend.name
        );
        assert!(history[1].started_at.is_some() && history[1].started_at < history[1].finished_at);
        let current = store
            .current_deployment(svc, "production")
            .await
            .expect("current")
            .expect("a current deploy");
        assert_eq!(current.version, "1.2");
        let before = store
            .deployment_before(svc, "production", &current, None)
            .await
            .expect("before")
            .expect("a previous deploy");
        assert_eq!(before.version, "1.1");
        let incident = chrono::DateTime::parse_from_rfc3339("2026-11-30T11:00:00Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        let before_incident = store
            .deployment_before(svc, "production", &current, Some(incident))
            .await
            .expect("before")
            .expect("a deploy before the incident");
        assert_eq!(before_incident.version, "1.0");
        assert!(
            store
                .succeeded_version(svc, "production", "1.3")
                .await
                .expect("lookup")
                .is_none(),
            "1.3 failed"
        );
        assert_eq!(
            store
                .succeeded_version(svc, "production", "1.0")
                .await
                .expect("lookup")
                .map(|d| d.version),
            Some("1.0".to_owned())
        );
        let per_env = store.current_deployments(svc).await.expect("current");
        assert_eq!(per_env.len(), 1);
        assert_eq!(per_env[0].version, "1.2");
        hooks.server.abort();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn events_without_a_deployment_id_are_correlated_by_version() {
    for backend in support::backends() {
        let hooks = Hooks::start(&backend).await;
        let mut ok = deploy(
            "n-ok",
            "deploy.succeeded",
            "2026-11-30T12:05:00Z",
            "cart",
            "2.0",
        );
        let mut start = deploy(
            "n-start",
            "deploy.started",
            "2026-11-30T12:00:00Z",
            "cart",
            "2.0",
        );
        for e in [&mut ok, &mut start] {
            e["data"]
                .as_object_mut()
                .expect("data")
                .remove("deployment_id");
        }
        assert_eq!(hooks.post(&ok).await.0, 200);
        assert_eq!(hooks.post(&start).await.0, 200);
        let history = hooks
            .store
            .deployments("cart", None, 10)
            .await
            .expect("history");
        assert_eq!(history.len(), 1, "{}", backend.name);
        assert!(history[0].started_at.is_some());
        assert_eq!(history[0].status, DeployStatus::Succeeded);
        hooks.server.abort();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_events_get_specific_400s_and_store_nothing() {
    for backend in support::backends() {
        let hooks = Hooks::start(&backend).await;
        let cases = [
            ("not json".to_owned(), "not a JSON object"),
            (json!({"type": "deploy.started"}).to_string(), "`id` is required"),
            (
                json!({"id": "x", "type": "deploy.shipped", "time": "2026-11-30T09:00:00Z", "data": {}})
                    .to_string(),
                "`type` `deploy.shipped` is not one of",
            ),
            (
                json!({"id": "x", "type": "deploy.started", "time": "noon", "data": {}}).to_string(),
                "`time` is not an RFC 3339 time",
            ),
            (
                json!({"id": "x", "type": "deploy.started", "time": "2026-11-30T09:00:00Z",
                       "data": {"service": "a", "environment": "production"}})
                .to_string(),
                "`data.version` is required",
            ),
            (
                json!({"id": "x", "type": "deploy.started", "time": "2026-11-30T09:00:00Z",
                       "data": {"service": "a", "environment": "production", "version": "1",
                                "argocd_history_id": "seven"}})
                .to_string(),
                "`data.argocd_history_id` must be an integer",
            ),
            (
                json!({"id": "x", "source": "argocd", "type": "git.repo.created",
                       "time": "2026-11-30T09:00:00Z", "data": {}})
                .to_string(),
                "signed as source `ci`",
            ),
            ("[1, 2]".to_owned(), "the top level is not an object"),
            (
                json!({"id": "x", "type": "deploy.started", "data": {}}).to_string(),
                "`time` is required",
            ),
            (
                json!({"id": "x", "type": "deploy.started", "time": 1_764_493_200, "data": {}})
                    .to_string(),
                "`time` must be a string",
            ),
            (
                json!({"id": 7, "type": "deploy.started", "time": "2026-11-30T09:00:00Z", "data": {}})
                    .to_string(),
                "`id` must be a string",
            ),
            (
                json!({"id": "x", "type": "deploy.started", "time": "2026-11-30T09:00:00Z"})
                    .to_string(),
                "`data` is required",
            ),
            (
                json!({"id": "x", "type": "deploy.started", "time": "2026-11-30T09:00:00Z",
                       "data": ["a"]})
                .to_string(),
                "`data` must be an object",
            ),
            (
                json!({"id": "x", "type": "deploy.started", "time": "2026-11-30T09:00:00Z",
                       "data": {"environment": "production", "version": "1"}})
                .to_string(),
                "`data.service` is required",
            ),
            (
                json!({"id": "x", "type": "deploy.started", "time": "2026-11-30T09:00:00Z",
                       "data": {"service": 12, "environment": "production", "version": "1"}})
                .to_string(),
                "`data.service` must be a string",
            ),
            (
                json!({"id": "x", "type": "deploy.started", "time": "2026-11-30T09:00:00Z",
                       "data": {"service": "a", "environment": "production", "version": "1",
                                "deployed_by": ["mei"]}})
                .to_string(),
                "`data.deployed_by` must be a string",
            ),
        ];
        for (body, expected) in cases {
            let (status, answer) = hooks.post_signed(&body, support::now(), CI_SECRET).await;
            assert_eq!(status, 400, "{body}");
            let answer: Value = serde_json::from_str(&answer).expect("json error");
            let message = answer["error"].as_str().expect("error");
            assert!(message.contains(expected), "{body}: {message}");
        }
        assert!(
            hooks
                .store
                .deployments("a", None, 10)
                .await
                .expect("history")
                .is_empty()
        );
        hooks.server.abort();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deploy_of_a_service_not_in_the_catalog_attaches_when_it_appears() {
    for backend in support::backends() {
        let hooks = Hooks::start(&backend).await;
        let event = deploy(
            "new-1",
            "deploy.succeeded",
            "2026-11-30T09:00:00Z",
            "Not-Yet-Svc",
            "0.1",
        );
        assert_eq!(hooks.post(&event).await.0, 200);
        // The catalog later gains component:default/not-yet-svc: its key finds the deploy, as do
        // the name alone and the ref in any case.
        for name in [
            "not-yet-svc",
            "component:default/not-yet-svc",
            "default/NOT-YET-SVC",
        ] {
            let current = hooks
                .store
                .current_deployment(name, "Production")
                .await
                .expect("current");
            assert_eq!(
                current.map(|d| d.service),
                Some("component:default/not-yet-svc".to_owned()),
                "{name}"
            );
        }
        hooks.server.abort();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn argo_cd_sends_with_a_bearer_token() {
    for backend in support::backends() {
        let hooks = Hooks::start(&backend).await;
        let mut event = deploy(
            "argo-1",
            "deploy.succeeded",
            "2026-11-30T09:00:00Z",
            "checkout-api",
            "1.4.2",
        );
        event["source"] = json!("argocd");
        event["data"]["argocd_history_id"] = json!(12);
        let response = hooks
            .client
            .post(format!("{}/hooks/events", hooks.base))
            .header("X-Idp-Source", "argocd")
            .header("Authorization", format!("Bearer {ARGO_TOKEN}"))
            .body(event.to_string())
            .send()
            .await
            .expect("send");
        assert_eq!(response.status().as_u16(), 200);
        let current = hooks
            .store
            .current_deployment("checkout-api", "production")
            .await
            .expect("current")
            .expect("deployed");
        assert_eq!(
            (current.source.as_str(), current.argocd_history_id),
            ("argocd", Some(12))
        );
        hooks.server.abort();
    }
}

fn deployment_status(status_id: i64, state: &str, at: &str) -> String {
    // The fields GitHub sends that idp reads, as in GitHub's webhook payload reference.
    json!({
        "action": "created",
        "deployment_status": {
            "id": status_id,
            "state": state,
            "environment": "production",
            "target_url": "https://github.com/acme/checkout-api/actions/runs/42",
            "created_at": at,
            "updated_at": at,
            "creator": {"login": "github-actions[bot]"}
        },
        "deployment": {
            "id": 1_234_567,
            "sha": "9f2c1e4b",
            "ref": "v1.5.0",
            "environment": "production",
            "payload": {},
            "creator": {"login": "mei-tanaka"},
            "created_at": "2026-11-30T08:59:00Z"
        },
        "repository": {"name": "checkout-api", "full_name": "acme/checkout-api"}
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn github_deployment_status_is_verified_and_mapped() {
    for backend in support::backends() {
        let hooks = Hooks::start(&backend).await;
        let send = |body: String, signature: String, event: &'static str| {
            hooks
                .client
                .post(format!("{}/hooks/github/deployments", hooks.base))
                .header("X-GitHub-Event", event)
                .header("X-Hub-Signature-256", signature)
                .body(body)
                .send()
        };
        let secret = SecretString::from(GITHUB_SECRET);
        let pending = deployment_status(1, "in_progress", "2026-11-30T09:00:00Z");
        let forged = send(
            pending.clone(),
            sign_github(&SecretString::from("x"), pending.as_bytes()),
            "deployment_status",
        )
        .await
        .expect("send");
        assert_eq!(forged.status().as_u16(), 401);
        for body in [
            pending,
            deployment_status(2, "success", "2026-11-30T09:03:00Z"),
        ] {
            let signature = sign_github(&secret, body.as_bytes());
            let r = send(body, signature, "deployment_status")
                .await
                .expect("send");
            assert_eq!(r.status().as_u16(), 200);
        }
        let history = hooks
            .store
            .deployments("checkout-api", Some("production"), 10)
            .await
            .expect("history");
        assert_eq!(history.len(), 1, "{}", backend.name);
        let d = &history[0];
        assert_eq!(
            d.id,
            "github:component:default/checkout-api:production:1234567"
        );
        assert_eq!(d.version, "v1.5.0");
        assert_eq!(d.revision.as_deref(), Some("9f2c1e4b"));
        assert_eq!(d.deployed_by.as_deref(), Some("mei-tanaka"));
        assert_eq!(d.status, DeployStatus::Succeeded);
        assert!(d.started_at.is_some() && d.finished_at.is_some());
        let ping = r#"{"zen":"Keep it logically awesome."}"#.to_owned();
        let signature = sign_github(&secret, ping.as_bytes());
        let r = send(ping, signature, "ping").await.expect("send");
        assert_eq!(r.status().as_u16(), 200);
        hooks.server.abort();
    }
}

/// Records `events` straight into the store of a demo-catalog app on `backend`.
async fn demo_with_deploys(backend: &Backend, events: &[Value]) -> Arc<idp::AppState> {
    let state = support::demo_state(backend).await;
    for e in events {
        let event = idp::deploys::parse_event(e.to_string().as_bytes(), "ci").expect("event");
        state
            .catalog
            .store()
            .record_event(&event)
            .await
            .expect("recorded");
    }
    state
}

fn guest() -> idp::authz::Caller {
    idp::authz::Caller::guest(idp::authz::Origin::Slack {
        team_id: "T0001".to_owned(),
        user_id: "U2147483697".to_owned(),
        channel_id: "C2147483705".to_owned(),
    })
}

fn with_url(mut event: Value, url: &str) -> Value {
    event["data"]["url"] = json!(url);
    event
}

#[tokio::test(flavor = "multi_thread")]
async fn deploys_shows_the_recent_history_newest_first() {
    let backends = support::backends();
    let svc = "checkout-api";
    let mut staging = deploy(
        "s-ok",
        "deploy.succeeded",
        "2026-11-30T08:00:00Z",
        svc,
        "1.5.0",
    );
    staging["data"]["environment"] = json!("staging");
    let state = demo_with_deploys(
        &backends[0],
        &[
            deploy(
                "a-ok",
                "deploy.succeeded",
                "2026-11-29T10:05:00Z",
                svc,
                "1.4.2",
            ),
            staging,
            with_url(
                deploy(
                    "b-ok",
                    "deploy.succeeded",
                    "2026-11-30T09:03:00Z",
                    svc,
                    "1.5.0",
                ),
                "https://ci.example.com/runs/812",
            ),
            deploy(
                "c-start",
                "deploy.started",
                "2026-11-30T11:00:00Z",
                svc,
                "1.5.1",
            ),
            deploy(
                "c-fail",
                "deploy.failed",
                "2026-11-30T11:04:00Z",
                svc,
                "1.5.1",
            ),
        ],
    )
    .await;
    let all = state
        .dispatch(
            &guest(),
            "deploys checkout-api",
            idp::command::Dialect::Slack,
        )
        .await;
    insta::assert_json_snapshot!("deploys_checkout_api", all.ephemeral());
    let production = state
        .dispatch(
            &guest(),
            "deploys checkout-api Production",
            idp::command::Dialect::Slack,
        )
        .await;
    let text = serde_json::to_string(&production.ephemeral()).expect("json");
    assert!(
        text.contains("Deploys: checkout-api in production"),
        "{text}"
    );
    assert!(!text.contains("staging"), "{text}");
    let none = state
        .dispatch(
            &guest(),
            "deploys search-service",
            idp::command::Dialect::Slack,
        )
        .await;
    let text = serde_json::to_string(&none.ephemeral()).expect("json");
    assert!(text.contains("No deploys are known yet"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_card_shows_the_current_version_per_environment() {
    let backends = support::backends();
    let svc = "checkout-api";
    let mut staging = deploy(
        "s-ok",
        "deploy.succeeded",
        "2026-11-30T08:00:00Z",
        svc,
        "1.6.0-rc1",
    );
    staging["data"]["environment"] = json!("staging");
    let state = demo_with_deploys(
        &backends[0],
        &[
            deploy(
                "a-ok",
                "deploy.succeeded",
                "2026-11-29T10:05:00Z",
                svc,
                "1.4.2",
            ),
            deploy(
                "b-ok",
                "deploy.succeeded",
                "2026-11-30T09:03:00Z",
                svc,
                "1.5.0",
            ),
            deploy(
                "c-fail",
                "deploy.failed",
                "2026-11-30T11:04:00Z",
                svc,
                "1.5.1",
            ),
            staging,
        ],
    )
    .await;
    let card = state
        .dispatch(
            &guest(),
            "service checkout-api",
            idp::command::Dialect::Slack,
        )
        .await;
    let text = serde_json::to_string(&card.ephemeral()).expect("json");
    assert!(text.contains("*Running now*"), "{text}");
    assert!(
        text.contains("• production: *1.5.0* succeeded"),
        "production runs 1.5.0, not the failed 1.5.1: {text}"
    );
    assert!(text.contains("• staging: *1.6.0-rc1* succeeded"), "{text}");
    assert!(!text.contains("1.4.2"), "{text}");
}

/// A `workflow_run` delivery in GitHub's payload shape (the fields of the webhook reference,
/// trimmed of URLs idp does not read). `action`: `requested`, `in_progress` or `completed`.
fn workflow_run(action: &str, conclusion: Option<&str>, path: &str, attempt: i64) -> Value {
    let status = match action {
        "requested" => "queued",
        "in_progress" => "in_progress",
        _ => "completed",
    };
    let updated_at = if action == "completed" {
        "2026-11-30T09:06:30Z"
    } else {
        "2026-11-30T09:00:05Z"
    };
    json!({
        "action": action,
        "workflow_run": {
            "id": 30_433_642,
            "name": "Deploy",
            "node_id": "WFR_kwLOA4tLRM8AAAABxAbc",
            "head_branch": "main",
            "head_sha": "acb5820ced9479c074f688cc328bf03f341a511d",
            "path": path,
            "display_title": "Release 2.4.0",
            "run_number": 562,
            "event": "push",
            "status": status,
            "conclusion": conclusion,
            "workflow_id": 159_038,
            "check_suite_id": 414_944_374,
            "url": "https://api.github.com/repos/acme/checkout-api/actions/runs/30433642",
            "html_url": "https://github.com/acme/checkout-api/actions/runs/30433642",
            "pull_requests": [],
            "created_at": "2026-11-30T09:00:00Z",
            "updated_at": updated_at,
            "run_attempt": attempt,
            "run_started_at": "2026-11-30T09:00:02Z",
            "actor": {"login": "mei-tanaka", "id": 21031067, "type": "User"},
            "triggering_actor": {"login": "mei-tanaka", "id": 21031067, "type": "User"},
            "previous_attempt_url": null,
            "head_commit": {
                "id": "acb5820ced9479c074f688cc328bf03f341a511d",
                "message": "Ship 2.4.0",
                "timestamp": "2026-11-30T08:58:11Z",
                "author": {"name": "Mei Tanaka", "email": "mei@example.com"}
            },
            "repository": {"id": 186_853_002, "name": "checkout-api", "full_name": "acme/checkout-api"},
            "head_repository": {"id": 186_853_002, "name": "checkout-api", "full_name": "acme/checkout-api"}
        },
        "workflow": {
            "id": 159_038,
            "name": "Deploy",
            "path": path,
            "state": "active"
        },
        "repository": {"id": 186_853_002, "name": "checkout-api", "full_name": "acme/checkout-api",
                       "private": true, "owner": {"login": "acme"}},
        "sender": {"login": "mei-tanaka", "id": 21031067, "type": "User"}
    })
}

impl Hooks {
    /// Posts a GitHub delivery of `event` to `/hooks/github/deployments`, signed with `secret`.
    async fn post_github(&self, event: &str, body: &str, secret: &str) -> (u16, String) {
        let response = self
            .client
            .post(format!("{}/hooks/github/deployments", self.base))
            .header("X-GitHub-Event", event)
            .header("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
            .header(
                "X-Hub-Signature-256",
                sign_github(&SecretString::from(secret), body.as_bytes()),
            )
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("send");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_github_deploy_workflow_run_builds_the_history() {
    for backend in support::backends() {
        let hooks = Hooks::start(&backend).await;
        let path = ".github/workflows/deploy.yml";
        for action in ["requested", "in_progress"] {
            let body = workflow_run(action, None, path, 1).to_string();
            let answer = hooks
                .post_github("workflow_run", &body, GITHUB_SECRET)
                .await;
            assert_eq!(answer, (200, r#"{"ok":true,"stored":true}"#.to_owned()));
        }
        let started = hooks
            .store
            .deployments("checkout-api", Some("production"), 10)
            .await
            .expect("history");
        assert_eq!(versions(&started), [("acb5820", DeployStatus::Started)]);
        let done = workflow_run("completed", Some("success"), path, 1).to_string();
        assert_eq!(
            hooks
                .post_github("workflow_run", &done, GITHUB_SECRET)
                .await,
            (200, r#"{"ok":true,"stored":true}"#.to_owned())
        );
        // GitHub redelivers: the same run, attempt and action is the same event.
        assert_eq!(
            hooks
                .post_github("workflow_run", &done, GITHUB_SECRET)
                .await,
            (200, r#"{"ok":true,"stored":false}"#.to_owned())
        );
        let history = hooks
            .store
            .deployments("checkout-api", Some("production"), 10)
            .await
            .expect("history");
        assert_eq!(history.len(), 1, "{}", backend.name);
        let d = &history[0];
        assert_eq!(
            d.id,
            "github:component:default/checkout-api:production:30433642-1"
        );
        assert_eq!(d.status, DeployStatus::Succeeded);
        assert_eq!(d.version, "acb5820");
        assert_eq!(
            d.revision.as_deref(),
            Some("acb5820ced9479c074f688cc328bf03f341a511d")
        );
        assert_eq!(d.deployed_by.as_deref(), Some("mei-tanaka"));
        assert_eq!(
            d.url.as_deref(),
            Some("https://github.com/acme/checkout-api/actions/runs/30433642")
        );
        assert_eq!(d.source, "github");
        assert_eq!(
            d.started_at.map(|t| t.to_rfc3339()),
            Some("2026-11-30T09:00:02+00:00".to_owned())
        );
        assert_eq!(
            d.finished_at.map(|t| t.to_rfc3339()),
            Some("2026-11-30T09:06:30+00:00".to_owned())
        );
        // A re-run (attempt 2) that is cancelled is another deploy, and a failed one.
        let mut rerun = workflow_run("completed", Some("cancelled"), path, 2);
        rerun["workflow_run"]["updated_at"] = json!("2026-11-30T10:00:00Z");
        let rerun = rerun.to_string();
        assert_eq!(
            hooks
                .post_github("workflow_run", &rerun, GITHUB_SECRET)
                .await
                .0,
            200
        );
        let history = hooks
            .store
            .deployments("checkout-api", Some("production"), 10)
            .await
            .expect("history");
        assert_eq!(
            versions(&history),
            [
                ("acb5820", DeployStatus::Failed),
                ("acb5820", DeployStatus::Succeeded)
            ],
            "{}",
            backend.name
        );
        assert!(history[0].id.ends_with(":30433642-2"));
        hooks.server.abort();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deploy_workflow_can_name_its_service_and_take_the_version_from_the_run_title() {
    for backend in support::backends() {
        let hooks = Hooks::start(&backend).await;
        let mut run = workflow_run(
            "completed",
            Some("success"),
            ".github/workflows/release.yml",
            1,
        );
        run["repository"]["full_name"] = json!("Acme/Monorepo");
        run["repository"]["name"] = json!("monorepo");
        let (status, _) = hooks
            .post_github("workflow_run", &run.to_string(), GITHUB_SECRET)
            .await;
        assert_eq!(status, 200);
        let current = hooks
            .store
            .current_deployment("cart", "staging")
            .await
            .expect("current")
            .expect("cart deployed to staging");
        assert_eq!(current.version, "Release 2.4.0");
        assert_eq!(current.service, "component:default/cart");
        hooks.server.abort();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_workflow_run_gets_401_and_other_workflows_are_ignored() {
    for backend in support::backends() {
        let hooks = Hooks::start(&backend).await;
        let deploy_run = workflow_run(
            "completed",
            Some("success"),
            ".github/workflows/deploy.yml",
            1,
        )
        .to_string();
        let (status, answer) = hooks
            .post_github("workflow_run", &deploy_run, "not-the-secret")
            .await;
        assert_eq!((status, answer.as_str()), (401, ""));
        let ignored = json!({"ok": true, "ignored": "not a deploy workflow"});
        // CI, not a deploy workflow.
        let ci = workflow_run("completed", Some("success"), ".github/workflows/ci.yml", 1);
        // release.yml, but of another repository than the one configured.
        let elsewhere = workflow_run(
            "completed",
            Some("success"),
            ".github/workflows/release.yml",
            1,
        );
        for body in [ci, elsewhere] {
            let (status, answer) = hooks
                .post_github("workflow_run", &body.to_string(), GITHUB_SECRET)
                .await;
            assert_eq!(status, 200);
            assert_eq!(
                serde_json::from_str::<Value>(&answer).expect("json"),
                ignored
            );
        }
        assert!(
            hooks
                .store
                .deployments("checkout-api", None, 10)
                .await
                .expect("history")
                .is_empty(),
            "{}: nothing stored",
            backend.name
        );
        hooks.server.abort();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_workflow_runs_get_400s_naming_the_field() {
    for backend in support::backends() {
        let hooks = Hooks::start(&backend).await;
        let path = ".github/workflows/deploy.yml";
        let with = |pointer: &str, value: Value| {
            let mut run = workflow_run("completed", Some("success"), path, 1);
            *run.pointer_mut(pointer).expect(pointer) = value;
            run.to_string()
        };
        let mut release = workflow_run(
            "completed",
            Some("success"),
            ".github/workflows/release.yml",
            1,
        );
        release["repository"]["full_name"] = json!("acme/monorepo");
        release["workflow_run"]
            .as_object_mut()
            .expect("run")
            .remove("display_title");
        let cases = [
            ("{\"action\": ".to_owned(), "the body is not a JSON object"),
            ("[1, 2]".to_owned(), "the body is not a JSON object"),
            (with("/action", Value::Null), "`action` is required"),
            (
                with("/workflow_run", json!("30433642")),
                "`workflow_run` must be an object",
            ),
            (
                with("/workflow_run/path", Value::Null),
                "`workflow_run.path` is required",
            ),
            (
                with("/workflow_run/id", json!("30433642")),
                "`workflow_run.id` must be an integer",
            ),
            (
                with("/workflow_run/head_sha", Value::Null),
                "`workflow_run.head_sha` is required",
            ),
            (
                with("/workflow_run/head_sha", json!(42)),
                "`workflow_run.head_sha` must be a string",
            ),
            (
                with("/workflow_run/updated_at", json!("yesterday")),
                "`workflow_run.updated_at` is not an RFC 3339 time",
            ),
            (
                with("/repository/name", Value::Null),
                "`repository.name` is required",
            ),
            (
                with("/workflow_run/html_url", json!("javascript:alert(1)")),
                "`workflow_run.html_url` must be an http(s) URL",
            ),
            (
                release.to_string(),
                "`workflow_run.display_title` is required",
            ),
        ];
        for (body, expected) in cases {
            let (status, answer) = hooks
                .post_github("workflow_run", &body, GITHUB_SECRET)
                .await;
            assert_eq!(status, 400, "{body}");
            let answer: Value = serde_json::from_str(&answer).expect("json error");
            let message = answer["error"].as_str().expect("error");
            assert!(message.contains(expected), "{expected}: {message}");
        }
        let missing_event = hooks
            .client
            .post(format!("{}/hooks/github/deployments", hooks.base))
            .header(
                "X-Hub-Signature-256",
                sign_github(&SecretString::from(GITHUB_SECRET), b"{}"),
            )
            .body("{}")
            .send()
            .await
            .expect("send");
        assert_eq!(missing_event.status().as_u16(), 400);
        assert!(
            hooks
                .store
                .deployments("checkout-api", None, 10)
                .await
                .expect("history")
                .is_empty(),
            "{}: nothing stored",
            backend.name
        );
        hooks.server.abort();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_events_are_each_stored_once_and_answered_after_they_are_committed() {
    for backend in support::backends() {
        let hooks = Arc::new(Hooks::start(&backend).await);
        // 64 distinct events over 4 services and 2 environments; 32 of them sent twice at once.
        let event = |n: usize| {
            let mut e = deploy(
                &format!("burst-{n}"),
                "deploy.succeeded",
                &format!("2026-11-30T09:{:02}:00Z", n % 60),
                &format!("burst-svc-{}", n % 4),
                &format!("1.{n}.0"),
            );
            e["data"]["environment"] = json!(["production", "staging"][(n / 4) % 2]);
            e
        };
        let sends: Vec<_> = (0..64)
            .chain(0..32)
            .map(|n| {
                let hooks = hooks.clone();
                let body = event(n);
                tokio::spawn(async move { (n, hooks.post(&body).await) })
            })
            .collect();
        let mut stored = std::collections::BTreeMap::<usize, usize>::new();
        for send in sends {
            let (n, (status, answer)) = send.await.expect("send");
            assert_eq!(status, 200, "{}: {answer}", backend.name);
            let answer: Value = serde_json::from_str(&answer).expect("json");
            *stored.entry(n).or_default() += usize::from(answer["stored"] == json!(true));
        }
        assert_eq!(stored.len(), 64);
        assert!(
            stored.values().all(|&times| times == 1),
            "{}: every id answered stored:true exactly once: {stored:?}",
            backend.name
        );
        // Every answer came after its commit: all 64 deploys are readable now.
        let mut total = 0;
        for svc in 0..4 {
            total += hooks
                .store
                .deployments(&format!("burst-svc-{svc}"), None, 100)
                .await
                .expect("history")
                .len();
        }
        assert_eq!(total, 64, "{}", backend.name);
        hooks.server.abort();
    }
}

/// SQL that makes the database refuse any event whose id starts with `poison`.
fn poison_trigger(backend: &Backend) -> &'static str {
    if backend.name == "sqlite" {
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON deploy_events \
         WHEN NEW.id LIKE 'poison%' BEGIN SELECT RAISE(ABORT, 'poisoned event'); END;"
    } else {
        "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN \
           IF NEW.id LIKE 'poison%' THEN RAISE EXCEPTION 'poisoned event'; END IF; \
           RETURN NEW; END $$ LANGUAGE plpgsql; \
         CREATE TRIGGER refuse_poison BEFORE INSERT ON deploy_events \
           FOR EACH ROW EXECUTE FUNCTION refuse_poison();"
    }
}

async fn raw_sql(store: &Store, sql: &'static str) {
    match store {
        Store::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
        Store::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
    }
    .expect("raw sql");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_the_database_refuses_gets_503_and_the_events_beside_it_are_stored() {
    for backend in support::backends() {
        let hooks = Arc::new(Hooks::start(&backend).await);
        raw_sql(&hooks.store, poison_trigger(&backend)).await;
        // Sent at once, so the refused event most likely shares a batch with others.
        let ids: Vec<String> = std::iter::once("poison-1".to_owned())
            .chain((0..24).map(|n| format!("good-{n}")))
            .collect();
        let sends: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(n, id)| {
                let hooks = hooks.clone();
                let body = deploy(
                    id,
                    "deploy.succeeded",
                    &format!("2026-11-30T10:{n:02}:00Z"),
                    "checkout-api",
                    &format!("2.{n}.0"),
                );
                let id = id.clone();
                tokio::spawn(async move { (id, hooks.post(&body).await) })
            })
            .collect();
        for send in sends {
            let (id, (status, answer)) = send.await.expect("send");
            if id.starts_with("poison") {
                assert_eq!(status, 503, "{}: {answer}", backend.name);
                let answer: Value = serde_json::from_str(&answer).expect("json");
                assert_eq!(
                    answer["error"],
                    json!("the event could not be recorded; send it again")
                );
            } else {
                assert_eq!(
                    (status, answer.as_str()),
                    (200, r#"{"ok":true,"stored":true}"#),
                    "{}: {id}",
                    backend.name
                );
            }
        }
        let history = hooks
            .store
            .deployments("checkout-api", Some("production"), 100)
            .await
            .expect("history");
        assert_eq!(history.len(), 24, "{}", backend.name);
        assert!(history.iter().all(|d| d.version != "2.0.0"));
        hooks.server.abort();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deploys_of_a_service_the_catalog_gains_later_show_up_under_it() {
    let backends = support::backends();
    let svc = "ledger-export";
    let state = demo_with_deploys(
        &backends[0],
        &[
            deploy(
                "l-1",
                "deploy.succeeded",
                "2026-11-29T10:00:00Z",
                svc,
                "0.9.0",
            ),
            deploy(
                "l-2",
                "deploy.succeeded",
                "2026-11-30T10:00:00Z",
                svc,
                "1.0.0",
            ),
        ],
    )
    .await;
    let before = state
        .dispatch(
            &guest(),
            "deploys ledger-export",
            idp::command::Dialect::Slack,
        )
        .await;
    let text = serde_json::to_string(&before.ephemeral()).expect("json");
    assert!(!text.contains("1.0.0"), "not in the catalog yet: {text}");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("ledger-export.yaml");
    std::fs::write(
        &file,
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: ledger-export\n\
         spec:\n  type: service\n  lifecycle: production\n  owner: group:default/payments-platform\n",
    )
    .expect("write");
    let reports = state.catalog.sync(&[file]).await;
    assert!(
        reports.iter().all(|r| r.outcome.is_ok()),
        "the new component syncs"
    );
    let after = state
        .dispatch(
            &guest(),
            "deploys ledger-export",
            idp::command::Dialect::Slack,
        )
        .await;
    let text = serde_json::to_string(&after.ephemeral()).expect("json");
    assert!(
        text.contains("1.0.0") && text.contains("0.9.0"),
        "both deploys, kept from before the catalog knew the service: {text}"
    );
    let card = state
        .dispatch(
            &guest(),
            "service ledger-export",
            idp::command::Dialect::Slack,
        )
        .await;
    let text = serde_json::to_string(&card.ephemeral()).expect("json");
    assert!(text.contains("• production: *1.0.0* succeeded"), "{text}");
}
