//! The Slack HTTP surface over real HTTP on 127.0.0.1, with requests signed exactly as Slack signs
//! them.

use idp::slack::verify::sign;

use crate::harness::{DEV, FORM, Options, TestApp, spawn_app};
use crate::support::{self, SECRET, command_body, now};

/// idp with its fakes on the first backend.
async fn serve(backend: &support::Backend) -> TestApp {
    spawn_app(backend, Options::default()).await
}

fn signed(ts: i64, body: &str) -> Vec<(&'static str, String)> {
    vec![
        ("x-slack-request-timestamp", ts.to_string()),
        ("x-slack-signature", sign(SECRET, ts, body.as_bytes())),
    ]
}

/// A named request: what it is, the body sent, the headers sent.
type Case = (&'static str, String, Vec<(&'static str, String)>);

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_owner_command_gets_the_owner_reply_on_every_backend() {
    for backend in support::backends() {
        let h = serve(&backend).await;
        let body = command_body("owner checkout-api");
        let (status, text) = h
            .post_raw("/slack/commands", &body, FORM, &signed(now(), &body))
            .await;
        assert_eq!(status, 200, "{}: {text}", backend.name);
        let json: serde_json::Value = serde_json::from_str(&text).expect("json reply");
        assert_eq!(json["response_type"], "ephemeral");
        assert!(json["blocks"].as_array().is_some_and(|b| !b.is_empty()));
        assert!(
            json["text"]
                .as_str()
                .is_some_and(|t| t.contains("Payments Platform")),
            "{text}"
        );
        assert!(text.contains("payments-platform"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn badly_signed_requests_get_an_empty_401() {
    let backend = &support::backends()[0];
    let h = serve(backend).await;
    let body = command_body("owner checkout-api");
    let ts = now();
    let mut cases: Vec<Case> = Vec::new();
    let mut wrong = signed(ts, &body);
    wrong[1].1 = sign("not-the-secret", ts, body.as_bytes());
    cases.push(("bad signature", body.clone(), wrong));
    cases.push(("no headers", body.clone(), Vec::new()));
    cases.push((
        "no signature",
        body.clone(),
        vec![("x-slack-request-timestamp", ts.to_string())],
    ));
    cases.push((
        "no timestamp",
        body.clone(),
        vec![("x-slack-signature", sign(SECRET, ts, body.as_bytes()))],
    ));
    cases.push(("6 minutes old", body.clone(), signed(ts - 360, &body)));
    cases.push(("6 minutes ahead", body.clone(), signed(ts + 360, &body)));
    cases.push((
        "body changed after signing",
        command_body("owner checkout-apj"),
        signed(ts, &body),
    ));
    // Slack encodes spaces as `+`; a proxy that re-encodes them as %20 changes the raw bytes.
    let reencoded = body.replace('+', "%20");
    assert_ne!(reencoded, body);
    cases.push(("+ re-encoded as %20", reencoded, signed(ts, &body)));
    cases.push((
        "timestamp not a number",
        body.clone(),
        vec![
            ("x-slack-request-timestamp", "yesterday".to_owned()),
            ("x-slack-signature", sign(SECRET, ts, body.as_bytes())),
        ],
    ));
    for (name, sent, headers) in cases {
        for path in ["/slack/commands", "/slack/interactions", "/slack/events"] {
            let (status, text) = h.post_raw(path, &sent, FORM, &headers).await;
            assert_eq!(status, 401, "{name} on {path}");
            assert!(
                text.is_empty(),
                "{name} on {path}: body must be empty, got {text}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn url_verification_is_answered_with_the_challenge() {
    let backend = &support::backends()[0];
    let h = serve(backend).await;
    let body = r#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let (status, text) = h
        .post_raw(
            "/slack/events",
            body,
            "application/json",
            &signed(now(), body),
        )
        .await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        json["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );

    let event =
        r#"{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention","text":"hi"}}"#;
    let (status, _) = h
        .post_raw(
            "/slack/events",
            event,
            "application/json",
            &signed(now(), event),
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn interactions_are_acknowledged_and_garbage_is_refused_after_verification() {
    let backend = &support::backends()[0];
    let h = serve(backend).await;
    let payload = serde_urlencoded::to_string([(
        "payload",
        r#"{"type":"block_actions","user":{"id":"U1"},"team":{"id":"T1"},"actions":[]}"#,
    )])
    .expect("form");
    let (status, text) = h
        .post_raw(
            "/slack/interactions",
            &payload,
            FORM,
            &signed(now(), &payload),
        )
        .await;
    assert_eq!((status, text.as_str()), (200, ""));
    let junk = "payload=%7Bnot-json";
    let (status, _) = h
        .post_raw("/slack/interactions", junk, FORM, &signed(now(), junk))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_are_refused_before_verification() {
    let backend = &support::backends()[0];
    let h = serve(backend).await;
    let body = format!("text={}", "a".repeat(idp::slack::http::MAX_BODY_BYTES + 10));
    let (status, _) = h
        .post_raw("/slack/commands", &body, FORM, &signed(now(), &body))
        .await;
    assert_eq!(status, 413);
}

#[tokio::test(flavor = "multi_thread")]
async fn ssl_check_health_and_readiness_answer() {
    let backend = &support::backends()[0];
    let h = serve(backend).await;
    let body = "ssl_check=1&token=x";
    let (status, text) = h
        .post_raw("/slack/commands", body, FORM, &signed(now(), body))
        .await;
    assert_eq!((status, text.as_str()), (200, ""));
    for path in ["/healthz", "/readyz"] {
        let (status, _) = h.get(path).await;
        assert_eq!(status, 200, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_subcommand_gets_a_specific_reply_with_suggestions() {
    let backend = &support::backends()[0];
    let h = serve(backend).await;
    let body = command_body("ownr checkout-api");
    let (status, text) = h
        .post_raw("/slack/commands", &body, FORM, &signed(now(), &body))
        .await;
    assert_eq!(status, 200);
    assert!(
        text.contains("is not an idp command") && text.contains("owner"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_app_serves_the_hooks_and_the_rest_api_beside_slack_and_each_checks_its_credentials() {
    let backend = &support::backends()[0];
    let h = serve(backend).await;
    for (path, body) in [
        ("/hooks/events", "{}"),
        ("/hooks/github/deployments", "{}"),
        ("/hooks/runs/run_0000000000000000", "{}"),
        ("/hooks/github", "{}"),
    ] {
        let (status, _) = h.post_raw(path, body, "application/json", &[]).await;
        assert_eq!(status, 401, "{path}");
    }
    let (status, _) = h.get(idp::api::API_AUDIT_PATH).await;
    assert_eq!(status, 401, "the REST API wants a token");
    let (status, body) = h
        .deploy_event(
            &serde_json::json!({"id": "e1", "type": "deploy.succeeded", "source": "ci",
            "time": chrono::Utc::now().to_rfc3339(), "data": {"service": "checkout-api",
            "environment": "production", "version": "1.0.0"}}),
        )
        .await;
    assert_eq!(status, 200, "a signed deploy event is stored: {body}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_who_owns_this_shortcut_on_a_message_with_a_repository_link_names_its_owner() {
    let backend = &support::backends()[0];
    let h = serve(backend).await;
    let text = "CI failed on <https://github.com/acme-shop/search-service/pull/12|#12>";
    let acknowledged = h
        .shortcut("U1MEI", DEV, "who_owns_this", text, "shortcut-1")
        .await;
    assert_eq!((acknowledged.status, acknowledged.body.as_str()), (200, ""));
    let answer = h.response("shortcut-1").await.to_string();
    assert!(answer.contains("search-service"), "{answer}");
    h.stop().await;
}
