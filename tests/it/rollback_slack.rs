//! `/idp rollback` end to end over signed HTTP against the Slack fake, with on-call from the
//! PagerDuty fake and Argo CD's fake doing the rollback: deploy events in, the slash command in
//! `#inc-42-checkout-api`, the ephemeral preview, one click on [Roll back] (and Slack retrying it),
//! the progress message updated in place until "Rolled back", and every step in the audit log.
//! An engineer off call gets the approval flow instead, and cannot approve their own request.

use std::time::Duration;

use idp::actions::{Run, RunStatus};
use idp::oncall::OnCallConfig;
use serde_json::{Value, json};

use crate::harness::{
    Channel, INCIDENT, Options, TestApp, button_value, payments_escalation, spawn_app,
};
use crate::rollback::{deploy, deploy_minutes_ago};
use crate::support::{self, Backend};

const CHANNEL: Channel = INCIDENT;
const LOCK: &str = "rollback:component:default/checkout-api:production";

/// idp with the worker, on-call from the PagerDuty fake, the incident channel known to Slack
/// (created an hour ago), Argo CD's application and two deploys: 1.4.2 (30 h ago), then 1.5.0
/// (2 h ago).
async fn start(backend: &Backend) -> TestApp {
    let options = Options::default()
        .worker()
        .oncall(OnCallConfig::default())
        .pagerduty(payments_escalation(false));
    let h = spawn_app(backend, options).await;
    h.slack
        .add_channel(CHANNEL.id, CHANNEL.name, support::now() - 3600);
    h.argocd
        .add_app("checkout-api-prod", false, &[(7, "aaa111"), (8, "bbb222")]);
    deploy(&h, "e1", "1.4.2", "aaa111", 30).await;
    deploy(&h, "e2", "1.5.0", "bbb222", 2).await;
    h
}

/// `/idp <text>` typed by `user` in the incident channel; the JSON answer.
async fn slash(h: &TestApp, user: &str, text: &str) -> Value {
    h.slash(user, CHANNEL, text).await.ok_json()
}

/// `user` clicks `action_id` carrying `value` in the incident channel, then Slack retries the
/// same interaction `retries` times; idp answers at `response_url/<reply>`.
async fn click(h: &TestApp, user: &str, action_id: &str, value: &str, reply: &str, retries: u32) {
    let payload = h.click_payload(user, CHANNEL, action_id, value, reply);
    for retry in std::iter::once(None).chain((1..=retries).map(Some)) {
        let acknowledged = h.interact(&payload, retry).await;
        assert_eq!(acknowledged.status, 200, "{}", acknowledged.body);
    }
}

/// Waits for the run holding the checkout-api production lock.
async fn the_rollback(h: &TestApp) -> Run {
    let deadline = tokio::time::Instant::now() + crate::harness::PATIENCE;
    loop {
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
        assert!(
            tokio::time::Instant::now() < deadline,
            "no rollback run was recorded"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn argocd_rollbacks(h: &TestApp) -> Vec<Value> {
    h.argocd
        .calls()
        .into_iter()
        .filter(|c| c.path.ends_with("/rollback"))
        .map(|c| c.body)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_on_call_engineer_rolls_back_from_the_incident_channel_with_one_click() {
    for backend in support::backends() {
        let h = start(&backend).await;
        // Sofia (on call in PagerDuty) types `/idp rollback` with no arguments.
        let preview = slash(&h, "U4SOFIA", "rollback").await;
        assert_eq!(preview["response_type"], json!("ephemeral"), "{preview}");
        let shown = preview.to_string();
        for expected in ["checkout-api", "production", "1.5.0", "1.4.2", "Argo CD"] {
            assert!(shown.contains(expected), "{expected}: {shown}");
        }
        let confirm = button_value(&preview["blocks"], "rollback_confirm").expect("[Roll back]");
        assert!(button_value(&preview["blocks"], "rollback_dismiss").is_some());
        // One click, then Slack retries the same interaction (as after a slow acknowledgement).
        click(&h, "U4SOFIA", "rollback_confirm", &confirm, "confirm-1", 1).await;
        let started = h.response("confirm-1").await;
        assert_eq!(started["replace_original"], json!(true), "{started}");
        let run = the_rollback(&h).await;
        let running = h.until(&run.id, |r| r.status == RunStatus::Running).await;
        assert_eq!(running.channel_id.as_deref(), Some(CHANNEL.id));
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
            .filter(|p| p["channel"] == json!(CHANNEL.id) && p.get("thread_ts").is_none())
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
        let records = h.audit_entries().await;
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
                .all(|r| r.channel_id.as_deref() == Some(CHANNEL.id)),
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
    let backend = &support::backends()[0];
    let h = start(backend).await;
    // Tobias is in payments-platform but not on call: the preview says who must approve.
    let preview = slash(&h, "U9TOBIAS", "rollback checkout-api").await;
    let shown = preview.to_string();
    assert!(shown.contains("approv"), "{shown}");
    let confirm = button_value(&preview["blocks"], "rollback_confirm").expect("[Roll back]");
    click(&h, "U9TOBIAS", "rollback_confirm", &confirm, "c-tobias", 0).await;
    let run = the_rollback(&h).await;
    assert_eq!(run.status, RunStatus::AwaitingApproval);
    // The channel is asked, with [Approve] and [Deny] bound to this run.
    let request = h
        .eventually("the approval request", || {
            h.slack
                .posted("chat.postMessage")
                .into_iter()
                .find(|p| button_value(&p["blocks"], "run_approve").is_some())
        })
        .await;
    let run_id = button_value(&request["blocks"], "run_approve").expect("approve");
    assert_eq!(run_id, run.id);
    // Tobias cannot approve his own request.
    click(&h, "U9TOBIAS", "run_approve", &run_id, "own", 0).await;
    let refused = h.response("own").await;
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
    click(&h, "U4SOFIA", "run_approve", &run_id, "sofia", 0).await;
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
    let records = h.audit_entries().await;
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
    let backend = &support::backends()[0];
    let h = start(backend).await;
    // The incident began an hour ago; two fixes were shipped since, neither helped.
    deploy_minutes_ago(&h, "e3", "1.5.1", "ccc333", 30).await;
    let preview = slash(&h, "U4SOFIA", "rollback").await;
    let shown = preview.to_string();
    // Without the cutoff the target would be 1.5.0 (the deploy before 1.5.1); 1.5.0 finished
    // before the incident began, so it is the target either way here. A deploy inside the
    // incident is never the target:
    assert!(
        shown.contains("1.5.1") && shown.contains("1.5.0"),
        "{shown}"
    );
    deploy_minutes_ago(&h, "e4", "1.5.2", "ddd444", 10).await;
    let preview = slash(&h, "U4SOFIA", "rollback").await;
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
