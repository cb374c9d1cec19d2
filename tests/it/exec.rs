//! Execution backends against fakes on loopback: GitHub Actions (dispatch, finding the run by its
//! idp run id, statuses, refusals, rate limits, input rules, `workflow_run` webhooks), the signed
//! webhook receiver (signatures both ways, answers idp cannot read, failures, timeouts, callback
//! checks) and the Backstage scaffolder (tasks to completion, failure and cancellation).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::Utc;
use idp::exec::{
    Callback, DispatchRequest, Dispatched, ExecConfig, ExecError, Execution, Executors,
    GithubConfig, GithubEventError, Progress, SigningError, StepNote, parse_callback,
    parse_workflow_run, verify_github_webhook, verify_signed,
};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::fakes::backstage::{self, FakeBackstage, Template};
use crate::fakes::github::{self, Answer, FakeGithub};
use crate::fakes::webhook::{self, FakeReceiver};
use crate::fakes::{Server, header, lock};

const RUN_ID: &str = "run_01HZTEST0001";

fn request(run_id: &str, execution: Execution) -> DispatchRequest {
    let inputs: BTreeMap<String, Value> = [
        ("name", json!("ledger-api")),
        ("owner", json!("group:default/payments-platform")),
        ("replicas", json!(3)),
        ("cpu", json!(0.5)),
        ("public", json!(false)),
        ("regions", json!(["eu-west-1", "us-east-1"])),
        ("notes", Value::Null),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    DispatchRequest {
        run_id: run_id.to_owned(),
        kind: "template".to_owned(),
        template: "template:default/backend-service".to_owned(),
        execution,
        inputs,
        requested_by: "user:default/mei.tanaka".to_owned(),
        callback_url: format!("https://idp.example.com/hooks/runs/{run_id}"),
        controls: vec!["encrypt_at_rest".to_owned(), "access_logging".to_owned()],
        labels: [("data-classification".to_owned(), "pii".to_owned())].into(),
    }
}

fn workflow() -> Execution {
    Execution::GithubActions {
        owner: "acme".to_owned(),
        repo: "golden-paths".to_owned(),
        workflow: "scaffold.yml".to_owned(),
        git_ref: "main".to_owned(),
    }
}

fn executors(config: ExecConfig) -> Executors {
    Executors::new(config).expect("HTTP client")
}

/// GitHub Actions on the fake, without asking for run details (the 204 path).
fn github_without_details(fake: &FakeGithub) -> Executors {
    executors(ExecConfig {
        github: Some(GithubConfig {
            api_url: fake.url.clone(),
            token: SecretString::from(github::TOKEN),
            return_run_details: false,
        }),
        github_webhook_secret: Some(SecretString::from(github::WEBHOOK_SECRET)),
        ..ExecConfig::default()
    })
}

fn running(external_id: u64, url: &str) -> Progress {
    Progress::Running {
        external_id: Some(external_id.to_string()),
        url: Some(url.to_owned()),
        step: None,
    }
}

// ---------------------------------------------------------------------------------------------
// GitHub Actions

#[tokio::test]
async fn a_dispatch_github_answers_with_204_is_found_by_its_idp_run_id_and_followed_to_success() {
    let fake = FakeGithub::start().await;
    let ex = github_without_details(&fake);
    let dispatched_at = Utc::now();
    // Another run whose id starts like this one's must not be taken for it.
    let other = request("run_01HZTEST00012", workflow());
    assert_eq!(ex.dispatch(&other).await, Ok(Dispatched::default()));
    let pending = ex.poll(&workflow(), RUN_ID, None, dispatched_at).await;
    assert_eq!(pending, Ok(Progress::Pending));

    let answer = ex.dispatch(&request(RUN_ID, workflow())).await;
    assert_eq!(answer, Ok(Dispatched::default()), "204 carries no run id");
    let run = fake.runs().pop().expect("a run");
    assert!(run.display_title.contains(RUN_ID));
    let url = run.html_url();

    let found = ex.poll(&workflow(), RUN_ID, None, dispatched_at).await;
    assert_eq!(found, Ok(running(run.id, &url)));
    fake.advance(run.id, "in_progress", None);
    let id = run.id.to_string();
    let by_id = ex.poll(&workflow(), RUN_ID, Some(&id), dispatched_at).await;
    assert_eq!(by_id, Ok(running(run.id, &url)));
    fake.advance(run.id, "completed", Some("success"));
    let done = Progress::Succeeded {
        url: Some(url),
        descriptor: None,
        location: None,
    };
    let by_id = ex.poll(&workflow(), RUN_ID, Some(&id), dispatched_at).await;
    assert_eq!(by_id, Ok(done.clone()));
    let by_list = ex.poll(&workflow(), RUN_ID, None, dispatched_at).await;
    assert_eq!(by_list, Ok(done));

    assert_eq!(fake.problems(), Vec::<String>::new());
    let list = fake
        .calls()
        .into_iter()
        .find(|c| c.path.ends_with("/runs"))
        .expect("a runs list call");
    assert_eq!(
        (list.method, list.path.as_str(), list.status),
        (
            "GET",
            "/repos/acme/golden-paths/actions/workflows/scaffold.yml/runs",
            200
        )
    );
    let created = list
        .query
        .iter()
        .find(|(k, _)| k == "created")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let since = (dispatched_at - chrono::Duration::seconds(120)).timestamp();
    let parsed = chrono::DateTime::parse_from_rfc3339(created.trim_start_matches(">="))
        .map(|t| t.timestamp());
    assert_eq!(parsed, Ok(since), "{created}");
    assert!(
        fake.dispatch_bodies()
            .iter()
            .all(|b| b.get("return_run_details").is_none())
    );
}

#[tokio::test]
async fn run_details_give_the_run_at_once_also_under_a_github_enterprise_api_path() {
    let fake = FakeGithub::start().await;
    let ex = executors(ExecConfig::default().with_github(&fake.ghes_url(), github::TOKEN));
    let answer = ex
        .dispatch(&request(RUN_ID, workflow()))
        .await
        .expect("dispatched");
    let run = fake.runs().pop().expect("a run");
    assert_eq!(
        answer,
        Dispatched {
            external_id: Some(run.id.to_string()),
            url: Some(run.html_url()),
            notes: Vec::new(),
        }
    );
    assert_eq!(fake.dispatch_bodies()[0]["return_run_details"], json!(true));
    let progress = ex
        .poll(
            &workflow(),
            RUN_ID,
            answer.external_id.as_deref(),
            Utc::now(),
        )
        .await;
    assert_eq!(progress, Ok(running(run.id, &run.html_url())));
    assert_eq!(fake.problems(), Vec::<String>::new());

    // A server that ignores `return_run_details` answers 204: still dispatched, found later.
    fake.script([Answer::AcceptWithoutDetails]);
    let answer = ex.dispatch(&request("run_01HZTEST0002", workflow())).await;
    assert_eq!(answer, Ok(Dispatched::default()));
}

#[tokio::test]
async fn githubs_422_fails_the_run_at_once_with_githubs_own_message() {
    let fake = FakeGithub::start().await;
    let ex = executors(ExecConfig::default().with_github(&fake.url, github::TOKEN));
    fake.script([Answer::Unprocessable(
        r#"Unexpected inputs provided: ["foo"]"#,
    )]);
    let error = ex
        .dispatch(&request(RUN_ID, workflow()))
        .await
        .expect_err("refused");
    assert_eq!(
        error,
        ExecError::Rejected {
            backend: "github-actions",
            status: 422,
            message: r#"Unexpected inputs provided: ["foo"]"#.to_owned(),
        }
    );
    assert!(!error.is_transient());
    assert_eq!(
        error.to_string(),
        r#"github-actions refused the request (HTTP 422): Unexpected inputs provided: ["foo"]"#
    );
    assert!(fake.runs().is_empty());
}

#[tokio::test]
async fn a_github_500_is_transient_and_the_next_attempt_goes_through() {
    let fake = FakeGithub::start().await;
    let ex = executors(ExecConfig::default().with_github(&fake.url, github::TOKEN));
    fake.script([Answer::ServerError]);
    let req = request(RUN_ID, workflow());
    let error = ex.dispatch(&req).await.expect_err("500");
    assert!(
        matches!(&error, ExecError::Unavailable { message, retry_after: None, .. } if message == "HTTP 500: Server Error"),
        "{error:?}"
    );
    assert!(error.is_transient());
    assert!(ex.dispatch(&req).await.is_ok());
    assert_eq!(fake.runs().len(), 1);
}

#[tokio::test]
async fn github_rate_limits_are_transient_and_say_how_long_to_wait() {
    let fake = FakeGithub::start().await;
    let ex = executors(ExecConfig::default().with_github(&fake.url, github::TOKEN));
    fake.script([
        Answer::TooManyRequests {
            retry_after_secs: 30,
        },
        Answer::RateLimitExhausted { reset_in_secs: 120 },
    ]);
    let req = request(RUN_ID, workflow());
    let error = ex.dispatch(&req).await.expect_err("429");
    assert!(error.is_transient());
    assert_eq!(error.retry_after(), Some(Duration::from_secs(30)));
    let error = ex.dispatch(&req).await.expect_err("403 rate limit");
    assert!(error.is_transient(), "{error:?}");
    let wait = error.retry_after().expect("a wait").as_secs();
    assert!((110..=120).contains(&wait), "{wait}");
    assert!(
        error.to_string().contains("API rate limit exceeded"),
        "{error}"
    );
}

#[tokio::test]
async fn inputs_reach_the_workflow_as_strings_with_the_run_id_controls_and_labels() {
    let fake = FakeGithub::start().await;
    let ex = executors(ExecConfig::default().with_github(&fake.url, github::TOKEN));
    ex.dispatch(&request(RUN_ID, workflow()))
        .await
        .expect("dispatched");
    let expected: BTreeMap<String, String> = [
        ("name", "ledger-api"),
        ("owner", "group:default/payments-platform"),
        ("replicas", "3"),
        ("cpu", "0.5"),
        ("public", "false"),
        ("regions", "eu-west-1,us-east-1"),
        ("idp_run_id", RUN_ID),
        ("controls", r#"["encrypt_at_rest","access_logging"]"#),
        ("labels", r#"{"data-classification":"pii"}"#),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let run = fake.runs().pop().expect("a run");
    assert_eq!(
        run.inputs, expected,
        "null inputs are left to the workflow's default"
    );
    assert_eq!(run.git_ref, "main");
    assert_eq!(fake.problems(), Vec::<String>::new());
}

#[tokio::test]
async fn more_than_25_inputs_are_refused_before_github_is_called() {
    let fake = FakeGithub::start().await;
    let ex = executors(ExecConfig::default().with_github(&fake.url, github::TOKEN));
    let with = |n: usize| {
        let mut req = request(RUN_ID, workflow());
        req.inputs = (0..n)
            .map(|i| (format!("param_{i:02}"), json!(i)))
            .collect();
        req
    };
    // 22 of the template's plus idp_run_id, controls and labels: 25, the most GitHub takes.
    assert!(ex.dispatch(&with(22)).await.is_ok());
    let error = ex.dispatch(&with(23)).await.expect_err("26 inputs");
    assert!(
        matches!(&error, ExecError::Rejected { status: 422, message, .. }
            if message.starts_with("26 workflow inputs (23 from the template") && message.contains("at most 25")),
        "{error:?}"
    );
    let mut clash = request(RUN_ID, workflow());
    clash.inputs.insert("labels".to_owned(), json!("x"));
    let error = ex.dispatch(&clash).await.expect_err("a name idp uses");
    assert!(
        error.to_string().contains("parameter named `labels`"),
        "{error}"
    );
    let mut long = request(RUN_ID, workflow());
    long.inputs
        .insert("notes".to_owned(), json!("é".repeat(70_000)));
    let error = ex.dispatch(&long).await.expect_err("too long");
    assert!(error.to_string().contains("at most 65535"), "{error}");
    assert_eq!(
        fake.calls().len(),
        1,
        "only the 25-input dispatch reached GitHub"
    );
}

/// A stand-in for idp's `/hooks/github` and `/hooks/runs/{run_id}` routes, built only from the
/// functions `idp::exec` offers them, recording what they accepted.
struct Hooks {
    url: String,
    callbacks: Arc<Mutex<Vec<(String, Callback)>>>,
    github: Arc<Mutex<Vec<(String, Progress)>>>,
    _server: Server,
}

#[derive(Clone)]
struct HookState {
    executors: Executors,
    callbacks: Arc<Mutex<Vec<(String, Callback)>>>,
    github: Arc<Mutex<Vec<(String, Progress)>>>,
}

async fn hooks(executors: Executors) -> Hooks {
    let state = HookState {
        executors,
        callbacks: Arc::default(),
        github: Arc::default(),
    };
    let app = Router::new()
        .route("/hooks/runs/{run_id}", post(run_hook))
        .route("/hooks/github", post(github_hook))
        .with_state(state.clone());
    let server = Server::start(app, "hooks stand-in").await;
    Hooks {
        url: server.url.clone(),
        callbacks: state.callbacks,
        github: state.github,
        _server: server,
    }
}

async fn run_hook(
    State(state): State<HookState>,
    axum::extract::Path(run_id): axum::extract::Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, String) {
    let verified = state.executors.verify_callback(
        header(&headers, "x-idp-timestamp"),
        header(&headers, "x-idp-signature"),
        &body,
        Utc::now().timestamp(),
    );
    if let Err(e) = verified {
        return (StatusCode::UNAUTHORIZED, e.to_string());
    }
    match parse_callback(&body) {
        Ok(callback) => {
            lock(&state.callbacks).push((run_id, callback));
            (StatusCode::OK, "ok".to_owned())
        }
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn github_hook(
    State(state): State<HookState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    if state
        .executors
        .verify_github(header(&headers, "x-hub-signature-256"), &body)
        .is_err()
    {
        return StatusCode::UNAUTHORIZED;
    }
    match parse_workflow_run(header(&headers, "x-github-event"), &body) {
        Ok(Some(found)) => {
            lock(&state.github).push(found);
            StatusCode::OK
        }
        Ok(None) => StatusCode::NO_CONTENT,
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

#[tokio::test]
async fn signed_workflow_run_webhooks_are_verified_and_matched_to_the_idp_run() {
    let fake = FakeGithub::start().await;
    let ex = github_without_details(&fake);
    let hooks = hooks(ex.clone()).await;
    let url = format!("{}/hooks/github", hooks.url);
    ex.dispatch(&request(RUN_ID, workflow()))
        .await
        .expect("dispatched");
    let run = fake.runs().pop().expect("a run");

    let requested = fake.workflow_run_payload(run.id, "requested");
    let status =
        github::send_webhook(&url, "workflow_run", &requested, github::WEBHOOK_SECRET).await;
    assert_eq!(status, 200);
    fake.advance(run.id, "completed", Some("failure"));
    let completed = fake.workflow_run_payload(run.id, "completed");
    let status =
        github::send_webhook(&url, "workflow_run", &completed, github::WEBHOOK_SECRET).await;
    assert_eq!(status, 200);
    let forged = github::send_webhook(&url, "workflow_run", &completed, "not-the-secret").await;
    assert_eq!(forged, 401);
    let ping = github::send_webhook(
        &url,
        "ping",
        &json!({"zen": "Keep it logically awesome."}),
        github::WEBHOOK_SECRET,
    )
    .await;
    assert_eq!(ping, 204);

    assert_eq!(
        lock(&hooks.github).clone(),
        vec![
            (RUN_ID.to_owned(), running(run.id, &run.html_url())),
            (
                RUN_ID.to_owned(),
                Progress::Failed {
                    message: "workflow run #1 failed".to_owned(),
                    url: Some(run.html_url()),
                }
            ),
        ]
    );

    // Directly: the header checks and unreadable bodies.
    let secret = SecretString::from(github::WEBHOOK_SECRET);
    assert_eq!(
        verify_github_webhook(&secret, None, b"{}"),
        Err(SigningError::MissingHeader("X-Hub-Signature-256"))
    );
    assert!(matches!(
        parse_workflow_run(Some("workflow_run"), b"<html>"),
        Err(GithubEventError::Unreadable(_))
    ));
    assert_eq!(
        parse_workflow_run(None, b"{}"),
        Err(GithubEventError::MissingEvent)
    );
    let foreign = json!({"action": "completed", "workflow_run": {"id": 1, "name": "CI", "display_title": "Fix typo", "status": "completed", "conclusion": "success"}});
    let foreign = serde_json::to_vec(&foreign).expect("JSON");
    assert_eq!(parse_workflow_run(Some("workflow_run"), &foreign), Ok(None));
}

#[tokio::test]
async fn a_backend_without_settings_is_not_configured_and_says_what_to_set() {
    let ex = executors(ExecConfig::default());
    let github = ex.dispatch(&request(RUN_ID, workflow())).await;
    assert_eq!(
        github,
        Err(ExecError::NotConfigured(
            "GitHub Actions is not configured: set GITHUB_TOKEN".to_owned()
        ))
    );
    let hook = ex.poll(&Execution::Webhook, RUN_ID, None, Utc::now()).await;
    assert!(
        matches!(&hook, Err(ExecError::NotConfigured(m)) if m.contains("IDP_WEBHOOK_URL")),
        "{hook:?}"
    );
    let backstage = ex.check(&Execution::Backstage {
        template_ref: "template:default/x".to_owned(),
    });
    assert!(
        matches!(&backstage, Err(ExecError::NotConfigured(m)) if m.contains("BACKSTAGE_URL")),
        "{backstage:?}"
    );
    assert_eq!(
        ex.verify_callback(Some("1"), Some("v1=00"), b"", 1),
        Err(SigningError::NotConfigured("IDP_WEBHOOK_SECRET"))
    );
    assert_eq!(
        ex.verify_github(Some("sha256=00"), b""),
        Err(SigningError::NotConfigured("GITHUB_WEBHOOK_SECRET"))
    );
}

// ---------------------------------------------------------------------------------------------
// The signed webhook backend

fn webhook_executors(receiver: &FakeReceiver) -> Executors {
    executors(ExecConfig::default().with_webhook(&receiver.url, webhook::SECRET))
}

#[tokio::test]
async fn a_webhook_dispatch_is_signed_and_carries_the_documented_body() {
    let receiver = FakeReceiver::start().await;
    let ex = webhook_executors(&receiver);
    receiver.script([webhook::Answer::Accept(Some(
        json!({"external_id": "job-981", "url": "https://ci.example.com/jobs/981"}),
    ))]);
    let req = request(RUN_ID, Execution::Webhook);
    let answer = ex.dispatch(&req).await;
    assert_eq!(
        answer,
        Ok(Dispatched {
            external_id: Some("job-981".to_owned()),
            url: Some("https://ci.example.com/jobs/981".to_owned()),
            notes: Vec::new(),
        })
    );
    assert_eq!(receiver.problems(), Vec::<String>::new());
    let delivery = &receiver.deliveries()[0];
    assert!(delivery.signed && !delivery.duplicate);
    assert_eq!(delivery.run_id.as_deref(), Some(RUN_ID));
    assert_eq!(
        delivery.body,
        json!({
            "run_id": RUN_ID,
            "kind": "template",
            "template": "template:default/backend-service",
            "inputs": {
                "name": "ledger-api", "owner": "group:default/payments-platform", "replicas": 3,
                "cpu": 0.5, "public": false, "regions": ["eu-west-1", "us-east-1"], "notes": null
            },
            "requested_by": "user:default/mei.tanaka",
            "callback_url": format!("https://idp.example.com/hooks/runs/{RUN_ID}"),
            "controls": ["encrypt_at_rest", "access_logging"],
            "labels": {"data-classification": "pii"},
        })
    );
    // idp may deliver a run twice after a crash; the run id lets the receiver notice.
    assert_eq!(ex.dispatch(&req).await, Ok(Dispatched::default()));
    assert!(receiver.deliveries()[1].duplicate);
    // Nothing to poll: the receiver calls back.
    let progress = ex.poll(&Execution::Webhook, RUN_ID, None, Utc::now()).await;
    assert_eq!(progress, Ok(Progress::Pending));
}

#[tokio::test]
async fn a_webhook_answer_idp_cannot_read_still_counts_as_dispatched() {
    let receiver = FakeReceiver::start().await;
    let ex = webhook_executors(&receiver);
    receiver.script([
        webhook::Answer::Status(200, "text/html", "<html><body>Thanks!</body></html>"),
        webhook::Answer::Status(
            201,
            "application/json",
            r#"{"external_id": {"nested": 1}, "url": "ftp://x"}"#,
        ),
    ]);
    let req = request(RUN_ID, Execution::Webhook);
    assert_eq!(ex.dispatch(&req).await, Ok(Dispatched::default()));
    assert_eq!(ex.dispatch(&req).await, Ok(Dispatched::default()));
}

#[tokio::test]
async fn webhook_failures_are_mapped_with_a_short_safe_excerpt_of_the_answer() {
    let receiver = FakeReceiver::start().await;
    let ex = webhook_executors(&receiver);
    receiver.script([
        webhook::Answer::Status(
            500,
            "text/html",
            "<html><head><script>alert('x')</script></head><body><h1>Internal Server Error</h1>\n<p>nginx</p></body></html>",
        ),
        webhook::Answer::Status(400, "application/json", r#"{"message": "unknown template backend-service"}"#),
        webhook::Answer::Status(503, "text/plain", ""),
    ]);
    let req = request(RUN_ID, Execution::Webhook);
    let error = ex.dispatch(&req).await.expect_err("500");
    assert_eq!(
        error,
        ExecError::Unavailable {
            backend: "webhook",
            message: "HTTP 500: Internal Server Error nginx".to_owned(),
            retry_after: None,
        }
    );
    let error = ex.dispatch(&req).await.expect_err("400");
    assert_eq!(
        error,
        ExecError::Rejected {
            backend: "webhook",
            status: 400,
            message: "unknown template backend-service".to_owned(),
        }
    );
    let error = ex.dispatch(&req).await.expect_err("503");
    assert_eq!(
        error.to_string(),
        "webhook is unavailable: HTTP 503: no message"
    );
}

#[tokio::test]
async fn a_webhook_receiver_slower_than_the_timeout_times_out() {
    let receiver = FakeReceiver::start().await;
    let ex = executors(
        ExecConfig::default()
            .with_webhook(&receiver.url, webhook::SECRET)
            .with_timeout(Duration::from_millis(300)),
    );
    receiver.script([webhook::Answer::Slow(Duration::from_secs(3))]);
    let started = Instant::now();
    let error = ex
        .dispatch(&request(RUN_ID, Execution::Webhook))
        .await
        .expect_err("timeout");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        error,
        ExecError::Timeout {
            backend: "webhook",
            millis: 300
        }
    );
    assert!(error.is_transient());
}

#[tokio::test]
async fn callbacks_with_a_bad_signature_a_stale_timestamp_or_missing_headers_are_refused() {
    let ex = executors(
        ExecConfig::default().with_webhook("https://hooks.example.com/idp", webhook::SECRET),
    );
    let hooks = hooks(ex).await;
    let now = Utc::now().timestamp();
    let step = json!({"status": "step", "step": {"name": "Repository created", "url": "https://git.example.com/acme/ledger-api"}, "sequence": 2});

    let answer = webhook::send_callback(&hooks.url, RUN_ID, &step, "wrong-secret", now).await;
    assert_eq!(answer, (401, "signature mismatch".to_owned()));
    let answer =
        webhook::send_callback(&hooks.url, RUN_ID, &step, webhook::SECRET, now - 301).await;
    assert_eq!(
        answer,
        (
            401,
            "stale timestamp: -301 s from now (window is 300 s)".to_owned()
        )
    );
    let body = serde_json::to_vec(&step).expect("JSON");
    let signature = webhook::sign(webhook::SECRET, now, &body);
    let header_cases = [
        (
            None,
            Some(signature.clone()),
            "missing or unreadable header X-Idp-Timestamp",
        ),
        (
            Some(now.to_string()),
            None,
            "missing or unreadable header X-Idp-Signature",
        ),
        (
            Some(now.to_string()),
            Some(signature.replace("v1=", "v0=")),
            "malformed X-Idp-Signature: does not start with v1=",
        ),
    ];
    for (timestamp, sig, expected) in header_cases {
        let answer =
            webhook::send_raw_callback(&hooks.url, RUN_ID, body.clone(), timestamp, sig).await;
        assert_eq!(answer, (401, expected.to_owned()));
    }
    assert!(lock(&hooks.callbacks).is_empty());

    let answer = webhook::send_callback(&hooks.url, RUN_ID, &step, webhook::SECRET, now).await;
    assert_eq!(answer, (200, "ok".to_owned()));
    let answer = webhook::send_callback(
        &hooks.url,
        RUN_ID,
        &json!({"status": "done"}),
        webhook::SECRET,
        now,
    )
    .await;
    assert_eq!(
        answer,
        (
            400,
            "unknown status `done`: expected running, step, succeeded or failed".to_owned()
        )
    );
    assert_eq!(
        lock(&hooks.callbacks).clone(),
        vec![(
            RUN_ID.to_owned(),
            Callback {
                progress: Progress::Running {
                    external_id: None,
                    url: None,
                    step: Some(StepNote {
                        name: "Repository created".to_owned(),
                        url: Some("https://git.example.com/acme/ledger-api".to_owned()),
                    }),
                },
                sequence: Some(2),
            }
        )]
    );

    // The same checks, directly, with their specific errors.
    let secret = SecretString::from(webhook::SECRET);
    assert_eq!(
        verify_signed(&secret, Some("soon"), Some(&signature), &body, now),
        Err(SigningError::Malformed {
            header: "X-Idp-Timestamp",
            reason: "not a whole number of Unix seconds"
        })
    );
    assert_eq!(
        verify_signed(
            &secret,
            Some(&(now + 400).to_string()),
            Some(&signature),
            &body,
            now
        ),
        Err(SigningError::Stale { skew_secs: 400 })
    );
    assert_eq!(
        verify_signed(
            &secret,
            Some(&now.to_string()),
            Some(&signature),
            &body,
            now + 299
        ),
        Ok(())
    );
}

#[test]
fn callback_bodies_idp_cannot_use_get_specific_errors() {
    let big = "x".repeat(300 * 1024);
    let descriptor = "kind: Component\n".repeat(5000);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not json", b"status=running".to_vec()),
        ("an array", b"[]".to_vec()),
        (
            "no status",
            br#"{"url": "https://ci.example.com/1"}"#.to_vec(),
        ),
        ("status not a string", br#"{"status": 3}"#.to_vec()),
        ("unknown status", br#"{"status": "cancelled"}"#.to_vec()),
        ("step without a step", br#"{"status": "step"}"#.to_vec()),
        (
            "step without a name",
            br#"{"status": "step", "step": {"url": "https://x.example"}}"#.to_vec(),
        ),
        (
            "step not an object",
            br#"{"status": "running", "step": "build"}"#.to_vec(),
        ),
        (
            "a link that is not http",
            br#"{"status": "running", "url": "javascript:alert(1)"}"#.to_vec(),
        ),
        (
            "a step link that is not http",
            br#"{"status": "step", "step": {"name": "a", "url": "file:///etc/passwd"}}"#.to_vec(),
        ),
        (
            "sequence as text",
            br#"{"status": "running", "sequence": "3"}"#.to_vec(),
        ),
        (
            "sequence not whole",
            br#"{"status": "running", "sequence": 1.5}"#.to_vec(),
        ),
        (
            "external id a boolean",
            br#"{"status": "running", "external_id": true}"#.to_vec(),
        ),
        (
            "message a number",
            br#"{"status": "failed", "message": 500}"#.to_vec(),
        ),
        (
            "location not http",
            br#"{"status": "succeeded", "location": "s3://bucket/catalog-info.yaml"}"#.to_vec(),
        ),
        (
            "descriptor too large",
            serde_json::to_vec(&json!({"status": "succeeded", "descriptor": descriptor}))
                .expect("JSON"),
        ),
        (
            "body too large",
            serde_json::to_vec(&json!({"status": "running", "message": big})).expect("JSON"),
        ),
    ];
    let errors: BTreeMap<&str, String> = cases
        .into_iter()
        .map(|(name, body)| {
            let outcome = parse_callback(&body)
                .map_or_else(|e| e.to_string(), |c| format!("accepted: {c:?}"));
            (name, outcome)
        })
        .collect();
    insta::assert_json_snapshot!("callback_errors", errors);

    let succeeded = parse_callback(
        br#"{"status": "succeeded", "url": "https://ci.example.com/9", "location": "https://git.example.com/acme/ledger-api/blob/main/catalog-info.yaml", "descriptor": "kind: Component", "sequence": 9, "extra": "ignored"}"#,
    );
    assert_eq!(
        succeeded,
        Ok(Callback {
            progress: Progress::Succeeded {
                url: Some("https://ci.example.com/9".to_owned()),
                descriptor: Some("kind: Component".to_owned()),
                location: Some(
                    "https://git.example.com/acme/ledger-api/blob/main/catalog-info.yaml"
                        .to_owned()
                ),
            },
            sequence: Some(9),
        })
    );
    let failed = parse_callback(br#"{"status": "failed", "message": "terraform apply failed"}"#);
    assert_eq!(
        failed.map(|c| c.progress),
        Ok(Progress::Failed {
            message: "terraform apply failed".to_owned(),
            url: None
        })
    );
}

// ---------------------------------------------------------------------------------------------
// The Backstage scaffolder

const TEMPLATE: &str = "template:default/backend-service";

async fn backstage() -> (FakeBackstage, Executors) {
    let fake = FakeBackstage::start(vec![Template {
        entity_ref: TEMPLATE,
        required: &["name", "owner"],
    }])
    .await;
    let ex = executors(ExecConfig::default().with_backstage(&fake.url, Some(backstage::TOKEN)));
    (fake, ex)
}

fn scaffolder() -> Execution {
    Execution::Backstage {
        template_ref: TEMPLATE.to_owned(),
    }
}

#[tokio::test]
async fn a_backstage_task_is_followed_to_completion_and_points_at_the_new_entity() {
    let (fake, ex) = backstage().await;
    let answer = ex
        .dispatch(&request(RUN_ID, scaffolder()))
        .await
        .expect("created");
    let task = fake.tasks().pop().expect("a task");
    let page = format!("{}/create/tasks/{}", fake.url, task.id);
    assert_eq!(
        answer,
        Dispatched {
            external_id: Some(task.id.clone()),
            url: Some(page.clone()),
            notes: Vec::new(),
        }
    );
    assert_eq!(task.template_ref, TEMPLATE);
    assert_eq!(task.values["name"], json!("ledger-api"));
    assert_eq!(task.values["replicas"], json!(3));
    assert_eq!(task.values["idp_run_id"], json!(RUN_ID));
    assert_eq!(
        task.values["controls"],
        json!(["encrypt_at_rest", "access_logging"])
    );
    assert_eq!(task.values["labels"], json!({"data-classification": "pii"}));

    let execution = scaffolder();
    let poll = || ex.poll(&execution, RUN_ID, Some(&task.id), Utc::now());
    let running = Progress::Running {
        external_id: Some(task.id.clone()),
        url: Some(page.clone()),
        step: None,
    };
    assert_eq!(poll().await, Ok(running.clone()));
    fake.start_processing(&task.id);
    assert_eq!(poll().await, Ok(running));
    fake.complete(
        &task.id,
        json!({"links": [
            {"title": "Repository", "url": "https://github.com/acme/ledger-api"},
            {"title": "Descriptor", "url": "https://github.com/acme/ledger-api/blob/main/catalog-info.yaml"},
            {"title": "Open in catalog", "icon": "catalog", "entityRef": "component:default/ledger-api"}
        ]}),
    );
    assert_eq!(
        poll().await,
        Ok(Progress::Succeeded {
            url: Some(page),
            descriptor: None,
            location: Some(
                "https://github.com/acme/ledger-api/blob/main/catalog-info.yaml".to_owned()
            ),
        })
    );
    assert_eq!(fake.problems(), Vec::<String>::new());
    assert_eq!(
        fake.requests().last().map(String::as_str),
        Some(format!("GET /api/scaffolder/v2/tasks/{}/events", task.id).as_str())
    );
    // Without a task id (the dispatch's answer was lost) there is nothing to ask.
    let lost = ex.poll(&scaffolder(), RUN_ID, None, Utc::now()).await;
    assert_eq!(lost, Ok(Progress::Pending));
}

#[tokio::test]
async fn a_failed_or_cancelled_backstage_task_fails_the_run_with_its_message() {
    let (fake, ex) = backstage().await;
    let req = request(RUN_ID, scaffolder());
    let first = ex.dispatch(&req).await.expect("created");
    let second = ex.dispatch(&req).await.expect("created");
    let (Some(first), Some(second)) = (first.external_id, second.external_id) else {
        panic!("task ids");
    };
    fake.start_processing(&first);
    fake.fail(&first, "Repository acme/ledger-api already exists");
    let failed = ex
        .poll(&scaffolder(), RUN_ID, Some(&first), Utc::now())
        .await;
    assert_eq!(
        failed,
        Ok(Progress::Failed {
            message: "Repository acme/ledger-api already exists".to_owned(),
            url: Some(format!("{}/create/tasks/{first}", fake.url)),
        })
    );
    fake.cancel(&second);
    let cancelled = ex
        .poll(&scaffolder(), RUN_ID, Some(&second), Utc::now())
        .await;
    assert!(
        matches!(&cancelled, Ok(Progress::Failed { message, .. }) if message == "the Backstage task was cancelled"),
        "{cancelled:?}"
    );
}

#[tokio::test]
async fn backstage_refusals_show_backstages_own_message() {
    let (fake, ex) = backstage().await;
    let unknown = Execution::Backstage {
        template_ref: "template:default/nope".to_owned(),
    };
    let error = ex
        .dispatch(&request(RUN_ID, unknown))
        .await
        .expect_err("404");
    assert_eq!(
        error,
        ExecError::Rejected {
            backend: "backstage",
            status: 404,
            message: "No entity named 'template:default/nope' found".to_owned(),
        }
    );
    let mut incomplete = request(RUN_ID, scaffolder());
    incomplete.inputs.remove("owner");
    let error = ex.dispatch(&incomplete).await.expect_err("400");
    assert_eq!(
        error.to_string(),
        r#"backstage refused the request (HTTP 400): requires property "owner""#
    );
    let anonymous = executors(ExecConfig::default().with_backstage(&fake.url, None));
    let error = anonymous
        .dispatch(&request(RUN_ID, scaffolder()))
        .await
        .expect_err("401");
    assert_eq!(
        error.to_string(),
        "backstage refused the request (HTTP 401): Missing credentials (check BACKSTAGE_TOKEN)"
    );
    let missing = ex
        .poll(&scaffolder(), RUN_ID, Some("00000000-dead"), Utc::now())
        .await;
    assert!(
        matches!(&missing, Err(ExecError::Rejected { status: 404, message, .. }) if message.contains("does not exist")),
        "{missing:?}"
    );
    assert!(fake.tasks().is_empty());
}
