//! The `/idp new-service` modal: snapshots of its views for every parameter type, each checked
//! against Block Kit's limits; reading real-shaped `view_submission` state; `block_suggestion`
//! answers on a large catalog.

use std::collections::BTreeMap;

use idp::catalog::{Entity, Snapshot};
use idp::slack::modal::{
    self, CALLBACK_ID, PICKER_BLOCK, TEMPLATE_SELECT, VALUE_ACTION, picker_view, read_state,
    step_view, suggestions,
};
use idp::templates::{self, RawValue, TemplateDefaults, Values, validate_step};
use serde_json::{Value, json};

use crate::templates::{BASICS, demo_snapshot, repo_defaults, template_doc, template_from};

/// Characters of a text, as Slack counts them.
fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// Checks a view against Block Kit's documented limits and returns every breach.
fn limit_breaches(view: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut at_most = |what: &str, v: &Value, max: usize| {
        if chars(v) > max {
            out.push(format!("{what}: {} > {max}", chars(v)));
        }
    };
    at_most("title", &view["title"]["text"], 24);
    at_most("submit", &view["submit"]["text"], 24);
    at_most("close", &view["close"]["text"], 24);
    at_most("private_metadata", &view["private_metadata"], 3000);
    at_most("callback_id", &view["callback_id"], 255);
    let blocks = view["blocks"].as_array().cloned().unwrap_or_default();
    let mut problems = Vec::new();
    if blocks.len() > 100 {
        problems.push(format!("{} blocks > 100", blocks.len()));
    }
    let has_input = blocks.iter().any(|b| b["type"] == "input");
    if has_input && view.get("submit").is_none() {
        problems.push("an input block without a submit button".to_owned());
    }
    for b in &blocks {
        at_most("block_id", &b["block_id"], 255);
        match b["type"].as_str() {
            Some("section") => at_most("section text", &b["text"]["text"], 3000),
            Some("context") => {
                let elements = b["elements"].as_array().cloned().unwrap_or_default();
                if elements.is_empty() || elements.len() > 10 {
                    problems.push(format!("context with {} elements", elements.len()));
                }
                for e in &elements {
                    at_most("context text", &e["text"], 3000);
                }
            }
            Some("input") => {
                at_most("label", &b["label"]["text"], 2000);
                at_most("hint", &b["hint"]["text"], 2000);
                let e = &b["element"];
                at_most("action_id", &e["action_id"], 255);
                at_most("placeholder", &e["placeholder"]["text"], 150);
                at_most("initial_value", &e["initial_value"], 3000);
                for key in ["min_length", "max_length"] {
                    if e[key].as_u64().is_some_and(|n| n > 3000) {
                        problems.push(format!("{key} > 3000"));
                    }
                }
                if e["max_length"].as_u64() == Some(0) {
                    problems.push("max_length 0".to_owned());
                }
                let options = e["options"].as_array().cloned().unwrap_or_default();
                let most = match e["type"].as_str() {
                    Some("radio_buttons" | "checkboxes") => 10,
                    _ => 100,
                };
                if options.len() > most {
                    problems.push(format!("{} options > {most}", options.len()));
                }
                let chosen = e["initial_options"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .chain(e.get("initial_option").cloned());
                for o in options.iter().cloned().chain(chosen) {
                    at_most("option text", &o["text"]["text"], 75);
                    at_most("option value", &o["value"], 150);
                    at_most("option description", &o["description"]["text"], 75);
                }
                if let Some(initial) = e.get("initial_option")
                    && !options.is_empty()
                    && !options.contains(initial)
                {
                    problems.push("initial_option is not one of the options".to_owned());
                }
            }
            Some(other) => problems.push(format!("unexpected block type {other}")),
            None => problems.push("a block without a type".to_owned()),
        }
    }
    out.extend(problems);
    out
}

fn view_json(view: &impl serde::Serialize) -> Value {
    serde_json::to_value(view).expect("the view serializes")
}

#[test]
fn each_step_view_of_the_backend_template_snapshots_every_parameter_type() {
    let snapshot = demo_snapshot();
    let t = templates::find(&snapshot, &repo_defaults(), "backend-service").expect("demo");
    let first = view_json(&step_view(&t, 0, &Values::new(), r#"{"channel":"C1"}"#));
    assert_eq!(limit_breaches(&first), Vec::<String>::new());
    insta::assert_json_snapshot!("step_backend_service_1", first);
    let second = view_json(&step_view(&t, 1, &Values::new(), r#"{"channel":"C1"}"#));
    assert_eq!(limit_breaches(&second), Vec::<String>::new());
    insta::assert_json_snapshot!("step_backend_service_2", second);
    assert_eq!(first["callback_id"], CALLBACK_ID);
    assert_eq!(
        (
            first["submit"]["text"].clone(),
            second["submit"]["text"].clone()
        ),
        (json!("Next"), json!("Create"))
    );
}

#[test]
fn earlier_answers_are_shown_again_as_initial_values() {
    let snapshot = demo_snapshot();
    let t = templates::find(&snapshot, &repo_defaults(), "backend-service").expect("demo");
    let values: Values = serde_json::from_value(json!({
        "name": "inventory-api",
        "owner": "group:default/payments-platform",
        "language": "rust",
        "replicas": 4,
        "dataClassification": "pii",
        "features": ["redis", "s3"],
        "enableTracing": false
    }))
    .expect("values");
    let first = view_json(&step_view(&t, 0, &values, ""));
    let second = view_json(&step_view(&t, 1, &values, ""));
    let element = |view: &Value, block: &str| {
        view["blocks"]
            .as_array()
            .and_then(|b| b.iter().find(|b| b["block_id"] == block))
            .map(|b| b["element"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(element(&first, "name")["initial_value"], "inventory-api");
    assert_eq!(
        element(&first, "owner")["initial_option"],
        json!({"text": {"type": "plain_text", "text": "group:payments-platform"}, "value": "group:default/payments-platform"})
    );
    assert_eq!(
        element(&second, "language")["initial_option"]["value"],
        "rust"
    );
    assert_eq!(element(&second, "replicas")["initial_value"], "4");
    assert_eq!(
        element(&second, "dataClassification")["initial_option"]["value"],
        "pii"
    );
    assert_eq!(
        element(&second, "features")["initial_options"],
        json!([
            {"text": {"type": "plain_text", "text": "Redis cache"}, "value": "redis"},
            {"text": {"type": "plain_text", "text": "S3 bucket"}, "value": "s3"}
        ])
    );
    assert_eq!(
        element(&second, "enableTracing").get("initial_options"),
        None,
        "unticked"
    );
    assert_eq!(limit_breaches(&second), Vec::<String>::new());
}

#[test]
fn the_picker_offers_runnable_templates_and_explains_the_others() {
    let extra = template_doc(
        "needs-repo",
        "",
        "    - required: [name, owner, repoUrl]\n      properties:\n        name: {type: string}\n        owner: {type: string, ui:field: OwnerPicker}\n        repoUrl: {type: string, ui:field: RepoUrlPicker}\n",
    )
    .replace("metadata:\n", "metadata:\n  title: Needs <a> repo & more\n");
    let snapshot = crate::templates::snapshot_with(&extra);
    let all = templates::load(&snapshot, &TemplateDefaults::default());
    let view = view_json(&picker_view(&all, "{}"));
    assert_eq!(limit_breaches(&view), Vec::<String>::new());
    insta::assert_json_snapshot!("picker_demo", view);
    let input = &view["blocks"][0];
    assert_eq!(input["block_id"], PICKER_BLOCK);
    assert_eq!(input["dispatch_action"], true);
    assert_eq!(input["element"]["action_id"], TEMPLATE_SELECT);
    assert_eq!(
        input["element"]["options"].as_array().map(Vec::len),
        Some(3)
    );

    let none = view_json(&picker_view(&[], ""));
    assert_eq!(none.get("submit"), None, "nothing to submit");
    assert_eq!(limit_breaches(&none), Vec::<String>::new());
}

#[test]
fn oversized_templates_are_cut_to_block_kit_limits_or_reported() {
    let long = "Ω".repeat(3100);
    let labels: Vec<String> = (0..12)
        .map(|i| format!("\"{i} {}\"", "L".repeat(200)))
        .collect();
    let values: Vec<String> = (0..12).map(|i| format!("v{i}")).collect();
    let fields: String = (0..templates::MAX_STEP_FIELDS - 4)
        .map(|i| format!("        f{i:03}: {{type: string, title: \"{long}\", description: \"{long}\", ui:placeholder: \"{long}\", maxLength: 100000, default: \"{long}\"}}\n"))
        .collect();
    let yaml = template_doc(
        "oversized",
        "",
        &format!(
            "    - title: \"{long}\"\n      description: \"{long}\"\n      required: [name, owner]\n      properties:\n        name: {{type: string}}\n        owner: {{type: string, ui:field: OwnerPicker}}\n        wide: {{type: string, ui:widget: radio, enum: [{}], enumNames: [{}]}}\n        tiny: {{type: string, maxLength: 0}}\n{fields}",
            values.join(", "),
            labels.join(", ")
        ),
    )
    .replace("metadata:\n", &format!("metadata:\n  title: \"{long}\"\n  description: \"{long}\"\n"));
    let (t, _) = template_from(&yaml, &TemplateDefaults::default());
    assert!(t.is_runnable(), "{:?}", t.not_runnable);
    let view = view_json(&step_view(&t, 0, &Values::new(), &"m".repeat(3000)));
    assert_eq!(limit_breaches(&view), Vec::<String>::new());
    let blocks = view["blocks"].as_array().expect("blocks");
    assert_eq!(blocks.len(), templates::MAX_STEP_FIELDS + 1);
    let wide = blocks
        .iter()
        .find(|b| b["block_id"] == "wide")
        .expect("wide");
    assert_eq!(
        wide["element"]["type"], "static_select",
        "12 options are too many radio buttons"
    );
    let all = templates::load(
        &crate::templates::snapshot_with(&yaml),
        &TemplateDefaults::default(),
    );
    assert_eq!(
        limit_breaches(&view_json(&picker_view(&all, ""))),
        Vec::<String>::new()
    );
}

/// A `view_submission` payload as Slack sends it for step 2 of the backend template.
fn submission() -> Value {
    json!({
        "type": "view_submission",
        "team": {"id": "T0001", "domain": "acme"},
        "user": {"id": "U2147483697", "username": "jane", "name": "jane", "team_id": "T0001"},
        "api_app_id": "A123456",
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "trigger_id": "12466734323.1395872398.4bbf9d4c5a5e",
        "view": {
            "id": "V0123ABCDEF",
            "team_id": "T0001",
            "type": "modal",
            "callback_id": "idp_new_service",
            "private_metadata": "{\"run\":\"draft_1\"}",
            "hash": "1712345678.abcDEF12",
            "title": {"type": "plain_text", "text": "Backend service on Kub…"},
            "blocks": [],
            "state": {"values": {
                "language": {"value": {"type": "static_select", "selected_option": {"text": {"type": "plain_text", "text": "Rust", "emoji": true}, "value": "rust"}}},
                "replicas": {"value": {"type": "number_input", "value": "3"}},
                "dataClassification": {"value": {"type": "radio_buttons", "selected_option": {"text": {"type": "plain_text", "text": "Personal data (PII)"}, "value": "pii"}}},
                "features": {"value": {"type": "multi_static_select", "selected_options": [
                    {"text": {"type": "plain_text", "text": "PostgreSQL database"}, "value": "postgres"},
                    {"text": {"type": "plain_text", "text": "Kafka topic"}, "value": "kafka"}
                ]}},
                "enableTracing": {"value": {"type": "checkboxes", "selected_options": []}},
                "unrelated": {"other": {"type": "plain_text_input", "value": "ignored"}}
            }},
            "previous_view_id": null,
            "root_view_id": "V0123ABCDEF",
            "app_id": "A123456",
            "bot_id": "B0001"
        },
        "response_urls": [],
        "is_enterprise_install": false
    })
}

#[test]
fn read_state_reads_every_element_shape_of_a_view_submission() {
    let snapshot = demo_snapshot();
    let t = templates::find(&snapshot, &repo_defaults(), "backend-service").expect("demo");
    let payload = submission();
    let expected = BTreeMap::from([
        ("language".to_owned(), RawValue::Text("rust".into())),
        ("replicas".to_owned(), RawValue::Text("3".into())),
        (
            "dataClassification".to_owned(),
            RawValue::Text("pii".into()),
        ),
        (
            "features".to_owned(),
            RawValue::Many(vec!["postgres".into(), "kafka".into()]),
        ),
        ("enableTracing".to_owned(), RawValue::Many(vec![])),
    ]);
    for shape in [
        &payload["view"],
        &payload["view"]["state"],
        &payload["view"]["state"]["values"],
    ] {
        assert_eq!(read_state(shape, &t, 1), expected);
    }
    let values = validate_step(&t, 1, &read_state(&payload["view"], &t, 1), &snapshot)
        .expect("the submission is valid");
    assert_eq!(
        serde_json::to_value(&values).expect("json"),
        json!({"language": "rust", "replicas": 3, "dataClassification": "pii",
               "features": ["postgres", "kafka"], "enableTracing": false, "costCenter": "cc-1234"})
    );

    let first_step = json!({"values": {
        "name": {"value": {"type": "plain_text_input", "value": null}},
        "description": {"value": {"type": "plain_text_input", "value": "Stock levels"}},
        "owner": {"value": {"type": "external_select", "selected_option": null}},
        "system": {"value": {"type": "external_select", "selected_option": {"text": {"type": "plain_text", "text": "Payments (system:payments)"}, "value": "system:default/payments"}}}
    }});
    let answers = read_state(&first_step, &t, 0);
    assert_eq!(
        answers,
        BTreeMap::from([
            (
                "description".to_owned(),
                RawValue::Text("Stock levels".into())
            ),
            (
                "system".to_owned(),
                RawValue::Text("system:default/payments".into())
            ),
        ]),
        "empty inputs are absent"
    );
    let errors = validate_step(&t, 0, &answers, &snapshot).expect_err("name and owner missing");
    assert_eq!(
        errors,
        BTreeMap::from([
            ("name".to_owned(), "This is required.".to_owned()),
            ("owner".to_owned(), "Choose one.".to_owned()),
        ]),
        "keyed by block id, as response_action: errors wants"
    );
}

#[test]
fn the_chosen_template_is_read_from_block_actions_and_from_the_picker_state() {
    let action = json!({"type": "block_actions", "actions": [{
        "type": "static_select", "action_id": TEMPLATE_SELECT, "block_id": PICKER_BLOCK,
        "selected_option": {"text": {"type": "plain_text", "text": "Frontend web app"}, "value": "template:default/frontend-app"},
        "action_ts": "1712345678.1"}]});
    assert_eq!(
        modal::chosen_template(&action).as_deref(),
        Some("template:default/frontend-app")
    );
    let submitted = json!({"view": {"state": {"values": {PICKER_BLOCK: {TEMPLATE_SELECT: {
        "type": "static_select",
        "selected_option": {"text": {"type": "plain_text", "text": "x"}, "value": "template:default/backend-service"}}}}}}});
    assert_eq!(
        modal::chosen_template(&submitted).as_deref(),
        Some("template:default/backend-service")
    );
    assert_eq!(
        modal::chosen_template(&json!({"view": {"state": {"values": {}}}})),
        None
    );
    assert_eq!(VALUE_ACTION, "value");
}

/// A catalog of `teams` groups (every third of type `department`), `teams` users, 10 systems and
/// `components` components, built in memory.
fn large_catalog(teams: usize, components: usize) -> Snapshot {
    let mut entities = Vec::with_capacity(teams * 2 + components + 10);
    let mut add = |doc: Value| entities.push(Entity::from_document(&doc).expect("valid"));
    for i in 0..teams {
        let kind = if i % 3 == 0 { "department" } else { "team" };
        add(
            json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Group",
            "metadata": {"name": format!("team-{i:05}"), "title": format!("Team number {i}")},
            "spec": {"type": kind, "children": []}}),
        );
        add(
            json!({"apiVersion": "backstage.io/v1alpha1", "kind": "User",
            "metadata": {"name": format!("person.{i:05}")},
            "spec": {"profile": {"displayName": format!("Person {i}")}, "memberOf": [format!("team-{i:05}")]}}),
        );
    }
    for i in 0..10 {
        add(
            json!({"apiVersion": "backstage.io/v1alpha1", "kind": "System",
            "metadata": {"name": format!("system-{i}")}, "spec": {"owner": "team-00001"}}),
        );
    }
    for i in 0..components {
        add(
            json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": {"name": format!("team-service-{i:06}")},
            "spec": {"type": "service", "lifecycle": "production", "owner": format!("team-{:05}", i % teams.max(1))}}),
        );
    }
    Snapshot::build(entities, 1)
}

#[test]
fn suggestions_are_filtered_and_capped_at_100_on_a_large_catalog() {
    let snapshot = large_catalog(4_000, 100_000);
    let yaml = template_doc(
        "pickers",
        "",
        &format!(
            "{BASICS}        team:\n          type: string\n          ui:field: EntityPicker\n          ui:options:\n            catalogFilter: {{kind: Group, spec.type: team}}\n        system: {{type: string, ui:field: EntityPicker, ui:options: {{catalogFilter: {{kind: System}}}}}}\n"
        ),
    );
    let doc: Value = serde_saphyr::from_str(&yaml).expect("yaml");
    let entity = Entity::from_document(&doc).expect("template");
    let t = templates::Template::from_entity(&entity, &snapshot, &TemplateDefaults::default());

    // How fast this is belongs to the benchmarks; here only what comes back.
    let all_owners = suggestions(&snapshot, &t, "owner", "");
    let team_hits = suggestions(&snapshot, &t, "owner", "team-0001");
    let person_hits = suggestions(&snapshot, &t, "owner", "person 12");

    assert_eq!(all_owners.len(), 100);
    assert!(
        all_owners
            .iter()
            .all(|(_, v)| v.starts_with("group:") || v.starts_with("user:"))
    );
    assert_eq!(team_hits.len(), 10, "team-00010…19: {team_hits:?}");
    assert_eq!(
        team_hits[0],
        (
            "Team number 10 (group:team-00010)".to_owned(),
            "group:default/team-00010".to_owned()
        )
    );
    assert!(
        person_hits.iter().all(|(l, _)| l.starts_with("Person 12")),
        "titles and display names match too: {person_hits:?}"
    );
    let teams_only = suggestions(&snapshot, &t, "team", "team-0000");
    assert_eq!(
        teams_only
            .iter()
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>(),
        [
            "group:default/team-00001",
            "group:default/team-00002",
            "group:default/team-00004",
            "group:default/team-00005",
            "group:default/team-00007",
            "group:default/team-00008"
        ],
        "departments (every third) are filtered out by spec.type"
    );
    let systems = suggestions(&snapshot, &t, "system", "sys");
    assert_eq!(systems.len(), 10);
    assert!(
        suggestions(&snapshot, &t, "name", "team").is_empty(),
        "not a picker"
    );
    assert!(suggestions(&snapshot, &t, "nope", "team").is_empty());

    let response = modal::options_response(&systems[..2]);
    assert_eq!(
        response,
        json!({"options": [
            {"text": {"type": "plain_text", "text": "system:system-0"}, "value": "system:default/system-0"},
            {"text": {"type": "plain_text", "text": "system:system-1"}, "value": "system:default/system-1"}
        ]})
    );
}
