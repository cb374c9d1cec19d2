//! `/idp new-service` over signed HTTP against the Slack fake: the slash command opens the modal
//! with `views.open`, each step's `view_submission` is answered inside the HTTP response, the
//! status message is posted and updated, and the new service answers `/idp owner`.

use std::time::Duration;

use idp::slack::verify::sign;
use serde_json::{Value, json};

use crate::fakes::webhook;
use crate::runs::Harness;
use crate::support::{self, SECRET};

async fn signed_post(base: &str, path: &str, body: String) -> (u16, String) {
    let ts = support::now();
    let response = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", sign(SECRET, ts, body.as_bytes()))
        .body(body)
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn slash(h: &Harness, user: &str, text: &str, trigger: &str) -> (u16, String) {
    let body = serde_urlencoded::to_string([
        ("team_id", "T0001"),
        ("channel_id", "C1"),
        ("channel_name", "dev"),
        ("user_id", user),
        ("command", "/idp"),
        ("text", text),
        ("response_url", &h.slack.response_url(trigger)),
        ("trigger_id", trigger),
    ])
    .expect("form");
    signed_post(&h.base, "/slack/commands", body).await
}

async fn interact(h: &Harness, payload: &Value) -> (u16, Value) {
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).expect("form");
    let (status, text) = signed_post(&h.base, "/slack/interactions", body).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub(crate) async fn wait_for(h: &Harness, method: &str, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let posted = h.slack.posted(method);
        if posted.len() >= n {
            return posted;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no {method} call #{n}: {:?}", h.slack.posted(method));
}

fn submission(user: &str, view: &Value, view_id: &str, values: Value) -> Value {
    json!({
        "type": "view_submission",
        "team": {"id": "T0001", "domain": "acme"},
        "user": {"id": user, "username": "mei", "team_id": "T0001"},
        "api_app_id": "A1",
        "trigger_id": "1.2.3",
        "view": {
            "id": view_id,
            "team_id": "T0001",
            "type": "modal",
            "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
            "hash": "1.hash",
            "state": {"values": values},
            "title": view["title"],
            "blocks": view["blocks"],
        },
        "response_urls": [],
    })
}

fn text(v: &str) -> Value {
    json!({"value": {"type": "plain_text_input", "value": v}})
}

fn selected(v: &str) -> Value {
    json!({"value": {"type": "static_select", "selected_option": {"text": {"type": "plain_text", "text": v}, "value": v}}})
}

fn step_one(name: &str, owner: &str) -> Value {
    json!({
        "name": text(name),
        "description": text("Stock levels per warehouse"),
        "owner": {"value": {"type": "external_select", "selected_option": {"text": {"type": "plain_text", "text": owner}, "value": owner}}},
        "system": {"value": {"type": "external_select", "selected_option": {"text": {"type": "plain_text", "text": "payments"}, "value": "system:default/payments"}}},
    })
}

fn step_two() -> Value {
    json!({
        "language": selected("rust"),
        "replicas": {"value": {"type": "number_input", "value": "3"}},
        "dataClassification": {"value": {"type": "radio_buttons", "selected_option": {"text": {"type": "plain_text", "text": "PII"}, "value": "pii"}}},
        "features": {"value": {"type": "checkboxes", "selected_options": [{"text": {"type": "plain_text", "text": "PostgreSQL"}, "value": "postgres"}]}},
        "enableTracing": {"value": {"type": "checkboxes", "selected_options": []}},
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn new_service_from_slash_command_to_created_over_signed_http() {
    for backend in support::backends() {
        let h = Harness::start(&backend, true).await;
        let (status, body) = slash(&h, "U1MEI", "new-service backend-service", "trig-1").await;
        assert_eq!((status, body.as_str()), (200, ""), "{}", backend.name);
        let opened = wait_for(&h, "views.open", 1).await;
        assert_eq!(opened[0]["trigger_id"], json!("trig-1"));
        let view = opened[0]["view"].clone();
        assert_eq!(view["callback_id"], json!("idp_new_service"));
        // A name that breaks the pattern and one that is taken: errors under the name input.
        let (status, answer) = interact(
            &h,
            &submission(
                "U1MEI",
                &view,
                "V1",
                step_one("Inventory_API", "group:default/payments-platform"),
            ),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(answer["response_action"], json!("errors"), "{answer}");
        assert!(answer["errors"]["name"].is_string(), "{answer}");
        let (_, answer) = interact(
            &h,
            &submission(
                "U1MEI",
                &view,
                "V1",
                step_one("checkout-api", "group:default/payments-platform"),
            ),
        )
        .await;
        assert!(
            answer["errors"]["name"]
                .as_str()
                .unwrap_or("")
                .contains("already exists"),
            "{answer}"
        );
        // An owner Mei may not create for.
        let (_, answer) = interact(
            &h,
            &submission(
                "U1MEI",
                &view,
                "V1",
                step_one("inventory-api", "group:default/storefront-web"),
            ),
        )
        .await;
        assert!(
            answer["errors"]["owner"]
                .as_str()
                .unwrap_or("")
                .contains("may not"),
            "{answer}"
        );
        // Step one passes: the modal moves to step two.
        let (_, answer) = interact(
            &h,
            &submission(
                "U1MEI",
                &view,
                "V1",
                step_one("inventory-api", "group:default/payments-platform"),
            ),
        )
        .await;
        assert_eq!(answer["response_action"], json!("update"), "{answer}");
        let second = answer["view"].clone();
        // The same step submitted again (a double click): the form stays on step two.
        let (_, again) = interact(
            &h,
            &submission(
                "U1MEI",
                &view,
                "V1",
                step_one("inventory-api", "group:default/payments-platform"),
            ),
        )
        .await;
        assert_eq!(again["response_action"], json!("update"), "{again}");
        assert_eq!(
            again["view"]["private_metadata"],
            second["private_metadata"]
        );
        assert!(second["blocks"].as_array().is_some_and(|b| b.len() <= 100));
        // Step two passes: the modal closes; a Slack retry of the same submission changes nothing.
        let last = submission("U1MEI", &second, "V1", step_two());
        let (_, answer) = interact(&h, &last).await;
        assert_eq!(
            answer,
            json!({"response_action": "clear"}),
            "{}",
            backend.name
        );
        let (_, again) = interact(&h, &last).await;
        assert_eq!(again["response_action"], json!("clear"));
        // The status message appears in the channel; the receiver got one dispatch.
        let posts = wait_for(&h, "chat.postMessage", 1).await;
        assert_eq!(posts[0]["channel"], json!("C1"));
        for _ in 0..200 {
            if !h.receiver.deliveries().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let deliveries = h.receiver.deliveries();
        assert_eq!(deliveries.len(), 1, "{}", backend.name);
        let dispatch = &deliveries[0].body;
        assert_eq!(dispatch["inputs"]["name"], json!("inventory-api"));
        assert_eq!(dispatch["inputs"]["replicas"], json!(3));
        assert_eq!(dispatch["requested_by"], json!("user:default/mei.tanaka"));
        let run_id = dispatch["run_id"].as_str().expect("run id").to_owned();
        // The receiver reports back; the run ends in "created".
        let now = support::now();
        for (i, report) in [
            json!({"status": "running", "url": "https://ci.example.com/r/1", "sequence": 1}),
            json!({"status": "step", "step": {"name": "Repository created", "url": "https://github.com/acme/inventory-api"}, "sequence": 2}),
            json!({"status": "succeeded", "sequence": 3}),
        ]
        .iter()
        .enumerate()
        {
            let (code, body) = webhook::send_callback(&h.base, &run_id, report, webhook::SECRET, now).await;
            assert_eq!(code, 200, "report {i}: {body}");
        }
        let run = h.finished(&run_id).await;
        assert_eq!(run.status, idp::actions::RunStatus::Succeeded);
        let updates = h.slack.posted("chat.update");
        let final_message = updates.last().expect("updated in place");
        assert!(
            updates
                .iter()
                .all(|u| u["ts"] == final_message["ts"] && u["channel"] == json!("C1")),
            "one message, updated in place: {updates:?}"
        );
        assert_eq!(h.slack.posted("chat.postMessage").len(), 1, "posted once");
        assert!(
            final_message["text"]
                .as_str()
                .unwrap_or("")
                .contains("Created"),
            "{final_message}"
        );
        // The new service answers /idp owner.
        let (status, reply) = slash(&h, "U1MEI", "owner inventory-api", "trig-2").await;
        assert_eq!(status, 200);
        assert!(
            reply.contains("Payments Platform"),
            "{}: {reply}\nsteps: {:?}",
            backend.name,
            run.steps
        );
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_template_list_then_a_choice_updates_the_modal_with_its_fields() {
    let backend = &support::backends()[0];
    let h = Harness::start(backend, false).await;
    let (status, _) = slash(&h, "U1MEI", "new-service", "trig-3").await;
    assert_eq!(status, 200);
    let opened = wait_for(&h, "views.open", 1).await;
    let view = opened[0]["view"].clone();
    let listed = view["blocks"].to_string();
    assert!(listed.contains("template:default/frontend-app"), "{listed}");
    let payload = json!({
        "type": "block_actions",
        "team": {"id": "T0001"},
        "user": {"id": "U1MEI"},
        "trigger_id": "4.5.6",
        "view": {"id": "V00000001", "hash": "1.hash", "callback_id": "idp_new_service", "private_metadata": view["private_metadata"]},
        "actions": [{"action_id": "template_select", "block_id": "template", "type": "static_select",
                     "selected_option": {"text": {"type": "plain_text", "text": "Frontend web app"}, "value": "template:default/frontend-app"}}],
    });
    let (status, _) = interact(&h, &payload).await;
    assert_eq!(status, 200);
    let updated = wait_for(&h, "views.update", 1).await;
    assert_eq!(updated[0]["view_id"], json!("V00000001"));
    assert_eq!(updated[0]["hash"], json!("1.hash"));
    let blocks = updated[0]["view"]["blocks"].to_string();
    assert!(blocks.contains("\"block_id\":\"framework\""), "{blocks}");
    // The owner picker's options come from the catalog, filtered to groups.
    let suggestion = json!({
        "type": "block_suggestion",
        "team": {"id": "T0001"},
        "user": {"id": "U1MEI"},
        "action_id": "value",
        "block_id": "owner",
        "value": "pay",
        "view": {"id": "V00000001", "private_metadata": view["private_metadata"]},
    });
    let (status, options) = interact(&h, &suggestion).await;
    assert_eq!(status, 200);
    let values: Vec<&str> = options["options"]
        .as_array()
        .expect("options")
        .iter()
        .filter_map(|o| o["value"].as_str())
        .collect();
    assert!(
        values.contains(&"group:default/payments-platform"),
        "{values:?}"
    );
    assert!(values.iter().all(|v| v.starts_with("group:")), "{values:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_trigger_is_told_to_the_user_and_nothing_is_recorded() {
    let backend = &support::backends()[0];
    let h = Harness::start(backend, false).await;
    let (status, _) = slash(&h, "U1MEI", "new-service frontend-app", "expired-7").await;
    assert_eq!(status, 200);
    let mut told = Vec::new();
    for _ in 0..200 {
        told = h.slack.responses();
        if !told.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0]["text"]
            .as_str()
            .unwrap_or("")
            .contains("took too long"),
        "{told:?}"
    );
    let counts = h
        .state
        .catalog
        .store()
        .count_runs_by_status()
        .await
        .expect("count");
    assert!(counts.is_empty(), "{counts:?}");
    h.stop().await;
}
