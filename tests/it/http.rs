//! The Slack HTTP surface over real HTTP on 127.0.0.1, with requests signed exactly as Slack signs
//! them.

use std::net::SocketAddr;

use idp::slack::verify::sign;

use crate::support::{self, SECRET, command_body, now};

async fn serve(backend: &support::Backend) -> SocketAddr {
    let state = support::demo_state(backend).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, idp::app(state)).await.expect("serve") });
    addr
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

async fn post(
    addr: SocketAddr,
    path: &str,
    body: &str,
    content_type: &str,
    headers: &[(&str, String)],
) -> (u16, String) {
    let mut req = client()
        .post(format!("http://{addr}{path}"))
        .header("content-type", content_type)
        .body(body.to_owned());
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

fn signed(ts: i64, body: &str) -> Vec<(&'static str, String)> {
    vec![
        ("x-slack-request-timestamp", ts.to_string()),
        ("x-slack-signature", sign(SECRET, ts, body.as_bytes())),
    ]
}

/// A named request: what it is, the body sent, the headers sent.
type Case = (&'static str, String, Vec<(&'static str, String)>);

const FORM: &str = "application/x-www-form-urlencoded";

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_owner_command_gets_the_owner_reply_on_every_backend() {
    for backend in support::backends() {
        let addr = serve(&backend).await;
        let body = command_body("owner checkout-api");
        let (status, text) =
            post(addr, "/slack/commands", &body, FORM, &signed(now(), &body)).await;
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
    let addr = serve(backend).await;
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
            let (status, text) = post(addr, path, &sent, FORM, &headers).await;
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
    let addr = serve(backend).await;
    let body = r#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let (status, text) = post(
        addr,
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
    let (status, _) = post(
        addr,
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
    let addr = serve(backend).await;
    let payload = serde_urlencoded::to_string([(
        "payload",
        r#"{"type":"block_actions","user":{"id":"U1"},"team":{"id":"T1"},"actions":[]}"#,
    )])
    .expect("form");
    let (status, text) = post(
        addr,
        "/slack/interactions",
        &payload,
        FORM,
        &signed(now(), &payload),
    )
    .await;
    assert_eq!((status, text.as_str()), (200, ""));
    let junk = "payload=%7Bnot-json";
    let (status, _) = post(
        addr,
        "/slack/interactions",
        junk,
        FORM,
        &signed(now(), junk),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_are_refused_before_verification() {
    let backend = &support::backends()[0];
    let addr = serve(backend).await;
    let body = format!("text={}", "a".repeat(idp::slack::http::MAX_BODY_BYTES + 10));
    let (status, _) = post(addr, "/slack/commands", &body, FORM, &signed(now(), &body)).await;
    assert_eq!(status, 413);
}

#[tokio::test(flavor = "multi_thread")]
async fn ssl_check_health_and_readiness_answer() {
    let backend = &support::backends()[0];
    let addr = serve(backend).await;
    let body = "ssl_check=1&token=x";
    let (status, text) = post(addr, "/slack/commands", body, FORM, &signed(now(), body)).await;
    assert_eq!((status, text.as_str()), (200, ""));
    for path in ["/healthz", "/readyz"] {
        let resp = client()
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .expect("get");
        assert_eq!(resp.status().as_u16(), 200, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_subcommand_gets_a_specific_reply_with_suggestions() {
    let backend = &support::backends()[0];
    let addr = serve(backend).await;
    let body = command_body("ownr checkout-api");
    let (status, text) = post(addr, "/slack/commands", &body, FORM, &signed(now(), &body)).await;
    assert_eq!(status, 200);
    assert!(
        text.contains("is not an idp command") && text.contains("owner"),
        "{text}"
    );
}
