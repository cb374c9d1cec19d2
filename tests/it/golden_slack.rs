//! `/idp new-service` over signed HTTP against the Slack fake: the slash command opens the modal
//! with `views.open`, each step's `view_submission` is answered inside the HTTP response, the
//! status message is posted and updated, and the new service answers `/idp owner`.

use serde_json::{Value, json};

use crate::fakes::webhook;
use crate::harness::{DEV, Options, spawn_app};
use crate::support;

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
        let h = spawn_app(&backend, Options::default().worker()).await;
        let asked = h.slash("U1MEI", DEV, "new-service backend-service").await;
        assert_eq!(
            (asked.status, asked.body.as_str()),
            (200, ""),
            "{}",
            backend.name
        );
        let opened = h.wait_for("views.open", 1).await;
        assert_eq!(opened[0]["trigger_id"], json!(asked.reply));
        let view = opened[0]["view"].clone();
        assert_eq!(view["callback_id"], json!("idp_new_service"));
        // A name that breaks the pattern and one that is taken: errors under the name input.
        let submitted = h
            .submit(
                "U1MEI",
                &view,
                "V1",
                step_one("Inventory_API", "group:default/payments-platform"),
            )
            .await;
        assert_eq!(submitted.status, 200);
        let answer = submitted.json();
        assert_eq!(answer["response_action"], json!("errors"), "{answer}");
        assert!(answer["errors"]["name"].is_string(), "{answer}");
        let answer = h
            .submit(
                "U1MEI",
                &view,
                "V1",
                step_one("checkout-api", "group:default/payments-platform"),
            )
            .await
            .json();
        assert!(
            answer["errors"]["name"]
                .as_str()
                .unwrap_or("")
                .contains("already exists"),
            "{answer}"
        );
        // An owner Mei may not create for.
        let answer = h
            .submit(
                "U1MEI",
                &view,
                "V1",
                step_one("inventory-api", "group:default/storefront-web"),
            )
            .await
            .json();
        assert!(
            answer["errors"]["owner"]
                .as_str()
                .unwrap_or("")
                .contains("may not"),
            "{answer}"
        );
        // Step one passes: the modal moves to step two.
        let answer = h
            .submit(
                "U1MEI",
                &view,
                "V1",
                step_one("inventory-api", "group:default/payments-platform"),
            )
            .await
            .json();
        assert_eq!(answer["response_action"], json!("update"), "{answer}");
        let second = answer["view"].clone();
        // The same step submitted again (a double click): the form stays on step two.
        let again = h
            .submit(
                "U1MEI",
                &view,
                "V1",
                step_one("inventory-api", "group:default/payments-platform"),
            )
            .await
            .json();
        assert_eq!(again["response_action"], json!("update"), "{again}");
        assert_eq!(
            again["view"]["private_metadata"],
            second["private_metadata"]
        );
        assert!(second["blocks"].as_array().is_some_and(|b| b.len() <= 100));
        // Step two passes: the modal closes; a Slack retry of the same submission changes nothing.
        let answer = h.submit("U1MEI", &second, "V1", step_two()).await.json();
        assert_eq!(
            answer,
            json!({"response_action": "clear"}),
            "{}",
            backend.name
        );
        let again = h.submit("U1MEI", &second, "V1", step_two()).await.json();
        assert_eq!(again["response_action"], json!("clear"));
        // The status message appears in the channel; the receiver got one dispatch.
        let posts = h.wait_for("chat.postMessage", 1).await;
        assert_eq!(posts[0]["channel"], json!("C1"));
        let deliveries = h
            .eventually("a dispatch", || {
                Some(h.receiver.deliveries()).filter(|d| !d.is_empty())
            })
            .await;
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
        let owner = h.slash("U1MEI", DEV, "owner inventory-api").await;
        assert_eq!(owner.status, 200);
        let reply = owner.body;
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
    let h = spawn_app(backend, Options::default()).await;
    assert_eq!(h.slash("U1MEI", DEV, "new-service").await.status, 200);
    let opened = h.wait_for("views.open", 1).await;
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
    assert_eq!(h.interact(&payload, None).await.status, 200);
    let updated = h.wait_for("views.update", 1).await;
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
    let options = h.interact(&suggestion, None).await.ok_json();
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
    let h = spawn_app(backend, Options::default()).await;
    let asked = h
        .slash_with_trigger("U1MEI", DEV, "new-service frontend-app", "expired-7")
        .await;
    assert_eq!(asked.status, 200);
    h.response(&asked.reply).await;
    let told = h.slack.responses();
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
