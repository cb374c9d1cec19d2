//! `/idp rollback` end to end over signed HTTP against the Slack fake, with on-call from the
//! PagerDuty fake and Argo CD's fake doing the rollback: deploy events in, the slash command in
//! `#inc-42-checkout-api`, the ephemeral preview, one click on [Roll back] (and Slack retrying it),
//! the progress message updated in place until "Rolled back", and every step in the audit log.
//! An engineer off call gets the approval flow instead, and cannot approve their own request.

use std::time::Duration;

use chrono::Utc;
use idp::actions::{Run, RunStatus};
use idp::slack::verify::sign;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::fakes::github::FakeGithub;
use crate::fakes::pagerduty::{self, Entry, FakePagerDuty, Service, User};
use crate::fakes::webhook::FakeReceiver;
use crate::rollback::{deploy, deploy_minutes_ago};
use crate::runs::Harness;
use crate::slack_fake::FakeSlack;
use crate::support::{self, Backend, SECRET};

const CHANNEL: &str = "CINC42";
const CHANNEL_NAME: &str = "inc-42-checkout-api";
const LOCK: &str = "rollback:component:default/checkout-api:production";

/// PagerDuty: Sofia Marquez is on call for checkout-api (`PC8KD2Q`) now, Mei Tanaka next.
async fn pagerduty_fake() -> FakePagerDuty {
    let now = Utc::now();
    let sofia = User {
        id: "PUSOFIA",
        name: "Sofia Marquez",
        email: "sofia.marquez@example.com",
    };
    let mei = User {
        id: "PUMEI01",
        name: "Mei Tanaka",
        email: "mei.tanaka@example.com",
    };
    FakePagerDuty::start(vec![Service::new(
        "PC8KD2Q",
        "PPAYESC",
        "Payments escalation",
        vec![
            Entry {
                level: 1,
                user: sofia,
                start: Some(now - chrono::Duration::hours(2)),
                end: Some(now + chrono::Duration::hours(22)),
            },
            Entry {
                level: 1,
                user: mei,
                start: Some(now + chrono::Duration::hours(22)),
                end: Some(now + chrono::Duration::hours(46)),
            },
        ],
    )])
    .await
}

/// idp with the worker, on-call from `pagerduty`, the incident channel known to Slack (created an
/// hour ago), Argo CD's application and two deploys: 1.4.2 (30 h ago), then 1.5.0 (2 h ago).
async fn start(backend: &Backend, pagerduty: &FakePagerDuty) -> Harness {
    let oncall = idp::oncall::OnCallService::new(
        &idp::oncall::OnCallConfig::default(),
        &pagerduty.url,
        Some(SecretString::from(pagerduty::TOKEN)),
    )
    .expect("on-call");
    let fakes = (
        FakeSlack::start().await,
        FakeReceiver::start().await,
        FakeGithub::start().await,
    );
    let h = Harness::start_full(backend, true, fakes, |o| o, oncall).await;
    h.slack
        .add_channel(CHANNEL, CHANNEL_NAME, support::now() - 3600);
    h.argocd
        .add_app("checkout-api-prod", false, &[(7, "aaa111"), (8, "bbb222")]);
    deploy(&h, "e1", "1.4.2", "aaa111", 30).await;
    deploy(&h, "e2", "1.5.0", "bbb222", 2).await;
    h
}

pub(crate) async fn signed(
    h: &Harness,
    path: &str,
    body: String,
    retry: Option<u32>,
) -> (u16, String) {
    let ts = support::now();
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", h.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", sign(SECRET, ts, body.as_bytes()));
    if let Some(n) = retry {
        request = request
            .header("x-slack-retry-num", n.to_string())
            .header("x-slack-retry-reason", "http_timeout");
    }
    let response = request.body(body).send().await.expect("send");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// `/idp <text>` typed by `user` in the incident channel; the JSON answer.
async fn slash(h: &Harness, user: &str, text: &str, trigger: &str) -> Value {
    let body = serde_urlencoded::to_string([
        ("team_id", "T0001"),
        ("channel_id", CHANNEL),
        ("channel_name", CHANNEL_NAME),
        ("user_id", user),
        ("command", "/idp"),
        ("text", text),
        ("response_url", &h.slack.response_url(trigger)),
        ("trigger_id", trigger),
    ])
    .expect("form");
    let (status, text) = signed(h, "/slack/commands", body, None).await;
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A `block_actions` payload: `user` clicked the button `action_id` carrying `value`, on a
/// message in the incident channel; Slack's answer goes to `response_url/<reply>`.
pub(crate) fn click(h: &Harness, user: &str, action_id: &str, value: &str, reply: &str) -> Value {
    json!({
        "type": "block_actions",
        "team": {"id": "T0001", "domain": "acme"},
        "user": {"id": user},
        "api_app_id": "A123456",
        "trigger_id": format!("trigger-{reply}"),
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": CHANNEL, "is_ephemeral": true},
        "channel": {"id": CHANNEL, "name": CHANNEL_NAME},
        "response_url": h.slack.response_url(reply),
        "actions": [{"type": "button", "action_id": action_id, "block_id": "actions",
                     "value": value, "action_ts": action_ts(reply)}]
    })
}

/// A click's `action_ts`: one per click (here, per answer id), the same when Slack retries it.
fn action_ts(reply: &str) -> String {
    let n = reply.bytes().fold(7u64, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(u64::from(b))
    });
    format!("1700000001.{:06}", n % 1_000_000)
}

pub(crate) async fn interact(h: &Harness, payload: &Value, retry: Option<u32>) {
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).expect("form");
    let (status, text) = signed(h, "/slack/interactions", body, retry).await;
    assert_eq!(status, 200, "{text}");
}

/// The `value` of the first button with this `action_id` anywhere in `blocks`.
fn button_value(blocks: &Value, action_id: &str) -> Option<String> {
    match blocks {
        Value::Object(map) => {
            if map.get("action_id").and_then(Value::as_str) == Some(action_id) {
                return map.get("value").and_then(Value::as_str).map(str::to_owned);
            }
            map.values().find_map(|v| button_value(v, action_id))
        }
        Value::Array(items) => items.iter().find_map(|v| button_value(v, action_id)),
        _ => None,
    }
}

/// Waits (up to 10 s) for what the fake received at `response_url/<id>`.
async fn answer(h: &Harness, id: &str) -> Value {
    let method = format!("response_url/{id}");
    for _ in 0..400 {
        if let Some(v) = h.slack.posted(&method).pop() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("nothing answered at {method}");
}

/// Waits (up to 10 s) for the run holding the checkout-api production lock.
async fn the_rollback(h: &Harness) -> Run {
    for _ in 0..400 {
        if let Some(run) = h
            .state
            .catalog
            .store()
            .run_holding(LOCK)
            .await
            .expect("runs")
        {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no rollback run was recorded");
}

async fn audit_records(h: &Harness) -> Vec<idp::audit::AuditEntry> {
    if let Some(audit) = &h.state.audit {
        audit.flush().await;
    }
    h.state
        .catalog
        .store()
        .audit_query(&idp::audit::AuditQuery::latest(None, None, 100))
        .await
        .expect("audit")
        .into_iter()
        .map(|r| r.entry)
        .collect()
}

fn argocd_rollbacks(h: &Harness) -> Vec<Value> {
    h.argocd
        .calls()
        .into_iter()
        .filter(|c| c.path.ends_with("/rollback"))
        .map(|c| c.body)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_on_call_engineer_rolls_back_from_the_incident_channel_with_one_click() {
    let pagerduty = pagerduty_fake().await;
    for backend in support::backends() {
        let h = start(&backend, &pagerduty).await;
        // Sofia (on call in PagerDuty) types `/idp rollback` with no arguments.
        let preview = slash(&h, "U4SOFIA", "rollback", "preview-1").await;
        assert_eq!(preview["response_type"], json!("ephemeral"), "{preview}");
        let shown = preview.to_string();
        for expected in ["checkout-api", "production", "1.5.0", "1.4.2", "Argo CD"] {
            assert!(shown.contains(expected), "{expected}: {shown}");
        }
        let confirm = button_value(&preview["blocks"], "rollback_confirm").expect("[Roll back]");
        assert!(button_value(&preview["blocks"], "rollback_dismiss").is_some());
        // One click, then Slack retries the same interaction (as after a slow acknowledgement).
        let payload = click(&h, "U4SOFIA", "rollback_confirm", &confirm, "confirm-1");
        interact(&h, &payload, None).await;
        interact(&h, &payload, Some(1)).await;
        let started = answer(&h, "confirm-1").await;
        assert_eq!(started["replace_original"], json!(true), "{started}");
        let run = the_rollback(&h).await;
        let running = h.until(&run.id, |r| r.status == RunStatus::Running).await;
        assert_eq!(running.channel_id.as_deref(), Some(CHANNEL));
        h.argocd
            .advance("checkout-api-prod", "Succeeded", "successfully rolled back");
        let done = h.finished(&run.id).await;
        assert_eq!(done.status, RunStatus::Succeeded, "{}", backend.name);
        // Exactly one rollback reached Argo CD, to the history id of 1.4.2.
        let calls = argocd_rollbacks(&h);
        assert_eq!(calls.len(), 1, "{}: {calls:?}", backend.name);
        assert_eq!(calls[0]["id"], json!(7));
        // One message in the channel, updated in place until it says so.
        let posts: Vec<Value> = h
            .slack
            .posted("chat.postMessage")
            .into_iter()
            .filter(|p| p["channel"] == json!(CHANNEL) && p.get("thread_ts").is_none())
            .collect();
        assert_eq!(posts.len(), 1, "{}: {posts:?}", backend.name);
        let first = posts[0]["text"].as_str().unwrap_or_default();
        assert!(
            first.contains("rolling back") && first.contains("checkout-api"),
            "{first}"
        );
        let last = h.slack.posted("chat.update").pop().expect("updated");
        assert!(
            last["text"].as_str().unwrap_or("").contains("Rolled back"),
            "{last}"
        );
        // The whole story is in the audit log, tied to the incident channel.
        let records = audit_records(&h).await;
        let rollback: Vec<_> = records
            .iter()
            .filter(|r| r.target.as_deref() == Some("component:default/checkout-api"))
            .collect();
        let outcomes: Vec<&str> = rollback.iter().map(|r| r.outcome.as_str()).collect();
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
        assert!(
            rollback
                .iter()
                .all(|r| r.channel_id.as_deref() == Some(CHANNEL)),
            "{rollback:?}"
        );
        // The click and its retry left exactly one record of the confirmation, by the dispatcher.
        let confirmations: Vec<_> = records
            .iter()
            .filter(|r| {
                r.command == "rollback"
                    && r.outcome != "previewed"
                    && !r.outcome.starts_with("run.")
            })
            .collect();
        assert_eq!(
            confirmations.len(),
            1,
            "{}: {confirmations:?}",
            backend.name
        );
        assert_eq!(confirmations[0].outcome, "started");
        assert!(
            rollback
                .iter()
                .filter(|r| r.outcome == "previewed" || r.outcome == "started")
                .all(|r| r.user_ref.as_deref() == Some("user:default/sofia.marquez")),
            "{rollback:?}"
        );
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_engineer_off_call_gets_the_approval_flow_over_http() {
    let pagerduty = pagerduty_fake().await;
    let backend = &support::backends()[0];
    let h = start(backend, &pagerduty).await;
    // Tobias is in payments-platform but not on call: the preview says who must approve.
    let preview = slash(&h, "U9TOBIAS", "rollback checkout-api", "p-tobias").await;
    let shown = preview.to_string();
    assert!(shown.contains("approv"), "{shown}");
    let confirm = button_value(&preview["blocks"], "rollback_confirm").expect("[Roll back]");
    interact(
        &h,
        &click(&h, "U9TOBIAS", "rollback_confirm", &confirm, "c-tobias"),
        None,
    )
    .await;
    let run = the_rollback(&h).await;
    assert_eq!(run.status, RunStatus::AwaitingApproval);
    // The channel is asked, with [Approve] and [Deny] bound to this run.
    let request = loop {
        if let Some(p) = h
            .slack
            .posted("chat.postMessage")
            .into_iter()
            .find(|p| button_value(&p["blocks"], "run_approve").is_some())
        {
            break p;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let run_id = button_value(&request["blocks"], "run_approve").expect("approve");
    assert_eq!(run_id, run.id);
    // Tobias cannot approve his own request.
    interact(
        &h,
        &click(&h, "U9TOBIAS", "run_approve", &run_id, "own"),
        None,
    )
    .await;
    let refused = answer(&h, "own").await;
    assert!(
        refused["text"]
            .as_str()
            .unwrap_or("")
            .contains("someone else"),
        "{refused}"
    );
    assert_eq!(
        h.runs
            .get(&run.id)
            .await
            .expect("read")
            .expect("run")
            .status,
        RunStatus::AwaitingApproval
    );
    // Sofia, on call, approves: Argo CD rolls back and the channel sees it finish.
    interact(
        &h,
        &click(&h, "U4SOFIA", "run_approve", &run_id, "sofia"),
        None,
    )
    .await;
    h.until(&run.id, |r| r.status == RunStatus::Running).await;
    h.argocd
        .advance("checkout-api-prod", "Succeeded", "successfully rolled back");
    let done = h.finished(&run.id).await;
    assert_eq!(done.status, RunStatus::Succeeded);
    assert!(
        done.steps.iter().any(|s| s.name.contains("sofia.marquez")),
        "{:?}",
        done.steps
    );
    assert_eq!(argocd_rollbacks(&h).len(), 1);
    let records = audit_records(&h).await;
    let approvals: Vec<_> = records
        .iter()
        .filter(|r| r.action == "approve")
        .map(|r| (r.user_ref.clone(), r.outcome.clone()))
        .collect();
    assert!(
        approvals.contains(&(
            Some("user:default/tobias.lindqvist".to_owned()),
            "refused".to_owned()
        )),
        "{approvals:?}"
    );
    // Sofia's approval is one record, written by the dispatcher for the `approve` command.
    let approved: Vec<_> = records
        .iter()
        .filter(|r| r.command == "approve" && r.outcome == "approved")
        .collect();
    assert_eq!(approved.len(), 1, "{approved:?}");
    assert_eq!(
        approved[0].user_ref.as_deref(),
        Some("user:default/sofia.marquez")
    );

    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_target_finished_before_the_incident_channel_was_created() {
    let pagerduty = pagerduty_fake().await;
    let backend = &support::backends()[0];
    let h = start(backend, &pagerduty).await;
    // The incident began an hour ago; two fixes were shipped since, neither helped.
    deploy_minutes_ago(&h, "e3", "1.5.1", "ccc333", 30).await;
    let preview = slash(&h, "U4SOFIA", "rollback", "p-cutoff").await;
    let shown = preview.to_string();
    // Without the cutoff the target would be 1.5.0 (the deploy before 1.5.1); 1.5.0 finished
    // before the incident began, so it is the target either way here. A deploy inside the
    // incident is never the target:
    assert!(
        shown.contains("1.5.1") && shown.contains("1.5.0"),
        "{shown}"
    );
    deploy_minutes_ago(&h, "e4", "1.5.2", "ddd444", 10).await;
    let preview = slash(&h, "U4SOFIA", "rollback", "p-cutoff-2").await;
    let confirm: Value = serde_json::from_str(
        &button_value(&preview["blocks"], "rollback_confirm").expect("[Roll back]"),
    )
    .expect("value");
    assert_eq!(
        confirm["t"],
        json!("1.5.0"),
        "1.5.1 shipped during the incident: {preview}"
    );
    assert_eq!(h.slack.calls("conversations.info").len(), 1, "cached");
    h.stop().await;
}
