//! The doors added on top of the one dispatcher, over signed HTTP against the Slack fake:
//! `@idp <command>` answered in the thread (once per event id, never to a bot, privately when
//! there is no command), the "Who owns this?" message shortcut, and buttons idp cannot read.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{DEV, Options, TestApp as Harness, spawn_app};
use crate::support;

const BOT: &str = "U0IDPBOT";
const CHANNEL: &str = "CDEV0001";

fn mention(event_id: &str, text: &str, ts: &str, thread_ts: Option<&str>) -> Value {
    let mut event = json!({
        "type": "app_mention",
        "user": "U2147483697",
        "text": text,
        "ts": ts,
        "channel": CHANNEL,
        "event_ts": ts,
    });
    if let Some(t) = thread_ts {
        event["thread_ts"] = json!(t);
    }
    json!({
        "token": "unused",
        "team_id": "T0001",
        "api_app_id": "A123456",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1_700_000_000,
        "authorizations": [{"team_id": "T0001", "user_id": BOT, "is_bot": true}],
        "event": event,
    })
}

async fn send_event(h: &Harness, payload: &Value, retry: Option<u32>) {
    let answer = h.event_envelope(payload, retry).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

async fn interact(h: &Harness, payload: &Value, retry: Option<u32>) {
    let answer = h.interact(payload, retry).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

/// Waits up to 10 s for `method` calls matching `pred`, then a little longer for strays.
async fn calls_of(h: &Harness, method: &str, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
    for _ in 0..400 {
        if h.slack.posted(method).iter().any(&pred) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.slack
        .posted(method)
        .into_iter()
        .filter(|v| pred(v))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mention_with_a_command_is_answered_once_in_its_thread_even_when_slack_retries_it() {
    for backend in support::backends() {
        let h = spawn_app(&backend, Options::default()).await;
        h.slack.add_channel(CHANNEL, "dev", support::now() - 3600);
        let payload = mention(
            "Ev0MENTION1",
            &format!("<@{BOT}> owner checkout-api"),
            "1700000000.000100",
            None,
        );
        send_event(&h, &payload, None).await;
        send_event(&h, &payload, Some(1)).await;
        let posts = calls_of(&h, "chat.postMessage", |p| {
            p["thread_ts"] == json!("1700000000.000100")
        })
        .await;
        assert_eq!(posts.len(), 1, "{}: {posts:?}", backend.name);
        assert_eq!(posts[0]["channel"], json!(CHANNEL));
        let shown = posts[0].to_string();
        assert!(
            shown.contains("checkout-api") || shown.contains("Checkout"),
            "{shown}"
        );
        // A mention inside a thread answers in that thread.
        let in_thread = mention(
            "Ev0MENTION2",
            &format!("<@{BOT}|idp>   oncall checkout-api"),
            "1700000100.000100",
            Some("1700000050.000100"),
        );
        send_event(&h, &in_thread, None).await;
        let posts = calls_of(&h, "chat.postMessage", |p| {
            p["thread_ts"] == json!("1700000050.000100")
        })
        .await;
        assert_eq!(posts.len(), 1, "{}: {posts:?}", backend.name);
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mentions_from_bots_are_ignored_and_an_empty_mention_gets_a_private_hint() {
    let backend = &support::backends()[0];
    let h = spawn_app(backend, Options::default()).await;
    h.slack.add_channel(CHANNEL, "dev", support::now() - 3600);
    let mut from_bot = mention(
        "Ev0BOT",
        &format!("<@{BOT}> owner checkout-api"),
        "1700000200.000100",
        None,
    );
    from_bot["event"]["bot_id"] = json!("B0OTHER");
    send_event(&h, &from_bot, None).await;
    let empty = mention("Ev0EMPTY", &format!("<@{BOT}>"), "1700000300.000100", None);
    send_event(&h, &empty, None).await;
    let hints = calls_of(&h, "chat.postEphemeral", |p| {
        p["user"] == json!("U2147483697")
    })
    .await;
    assert_eq!(hints.len(), 1, "{hints:?}");
    assert!(
        hints[0]["text"]
            .as_str()
            .unwrap_or("")
            .contains("without a command"),
        "{hints:?}"
    );
    let answered_bot = h
        .slack
        .posted("chat.postMessage")
        .into_iter()
        .any(|p| p["thread_ts"] == json!("1700000200.000100"));
    assert!(!answered_bot, "a bot's mention was answered");
    h.stop().await;
}

fn shortcut(h: &Harness, text: &str, reply: &str) -> Value {
    json!({
        "type": "message_action",
        "callback_id": "who_owns_this",
        "team": {"id": "T0001", "domain": "acme"},
        "user": {"id": "U2147483697", "name": "jane"},
        "channel": {"id": CHANNEL, "name": "dev"},
        "trigger_id": format!("trigger-{reply}"),
        "response_url": h.slack.response_url(reply),
        "message_ts": "1700000000.000100",
        "message": {"type": "message", "user": "U0OTHER", "ts": "1700000000.000100", "text": text},
    })
}

async fn answer_at(h: &Harness, id: &str) -> Value {
    let method = format!("response_url/{id}");
    for _ in 0..400 {
        if let Some(v) = h.slack.posted(&method).pop() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("nothing answered at {method}");
}

#[tokio::test(flavor = "multi_thread")]
async fn who_owns_this_on_a_message_with_a_repository_url_answers_privately_with_its_owner() {
    for backend in support::backends() {
        let h = spawn_app(&backend, Options::default()).await;
        let text = "deploy failed: <https://github.com/acme-shop/web-storefront/actions/runs/123|run 123> @channel";
        interact(&h, &shortcut(&h, text, "who-1"), None).await;
        let answer = answer_at(&h, "who-1").await;
        let shown = answer.to_string();
        assert!(shown.contains("storefront"), "{}: {shown}", backend.name);
        assert!(shown.contains("acme-shop/web-storefront"), "{shown}");
        assert_ne!(answer["response_type"], json!("in_channel"), "{answer}");
        // Nothing recognisable: says what it looked for.
        interact(
            &h,
            &shortcut(&h, "lunch at <https://example.org/menu|noon>?", "who-2"),
            None,
        )
        .await;
        let nothing = answer_at(&h, "who-2").await.to_string();
        assert!(nothing.contains("found nothing"), "{nothing}");
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn who_owns_this_survives_an_empty_and_a_huge_message() {
    let backend = &support::backends()[0];
    let h = spawn_app(backend, Options::default()).await;
    interact(&h, &shortcut(&h, "", "empty"), None).await;
    assert!(
        answer_at(&h, "empty")
            .await
            .to_string()
            .contains("found nothing")
    );
    let huge = format!("{} checkout-api", "x".repeat(40_000));
    interact(&h, &shortcut(&h, &huge, "huge"), None).await;
    let shown = answer_at(&h, "huge").await.to_string();
    assert!(
        shown.contains("only its beginning") || shown.contains("found nothing"),
        "{shown}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_button_idp_cannot_read_gets_a_private_answer_with_a_reference() {
    let backend = &support::backends()[0];
    let h = spawn_app(backend, Options::default()).await;
    for (action, value, reply) in [
        ("rollback_confirm", "{not json", "bad-plan"),
        ("run_approve", "../../etc", "bad-run"),
        ("an_old_button_v1", "x", "old"),
    ] {
        let payload = h.click_payload("U2147483697", DEV, action, value, reply);
        interact(&h, &payload, None).await;
        let answer = answer_at(&h, reply).await;
        let text = answer["text"].as_str().unwrap_or_default();
        assert!(text.contains("ref "), "{action}: {answer}");
        assert_ne!(answer["replace_original"], json!(true), "{answer}");
    }
    // Each went through the dispatcher and is on record.
    let unreadable = h
        .audit_entries()
        .await
        .into_iter()
        .filter(|e| e.command == "unreadable-click")
        .count();
    assert_eq!(unreadable, 3);
    // A run that is not known any more.
    let payload = h.click_payload("U2147483697", DEV, "run_cancel", "run_gone", "gone");
    interact(&h, &payload, None).await;
    let gone = answer_at(&h, "gone").await.to_string();
    assert!(gone.contains("not known here"), "{gone}");
    h.stop().await;
}
