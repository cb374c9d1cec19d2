//! Golden-path templates: the parameter mapping per type, unsupported fields and not-runnable
//! templates, execution backends, lookup, every validation rule, compliance, and the Backstage
//! templates found in real catalogs.

use std::collections::BTreeMap;
use std::path::Path;

use idp::catalog::{Entity, Snapshot, read_source};
use idp::config::Settings;
use idp::exec::Execution;
use idp::templates::{
    self, ComplianceConfig, FieldKind, RawValue, Template, TemplateDefaults, TemplateLookupError,
    validate_all, validate_step,
};
use serde_json::{Value, json};

use crate::support;

/// The entities of catalog sources, as `idp check` reads them.
fn entities_of(paths: &[&Path]) -> Vec<Entity> {
    paths
        .iter()
        .flat_map(|p| read_source(p).entities)
        .filter_map(|e| {
            let doc: Value = serde_json::from_str(&e.body).ok()?;
            Entity::from_document(&doc).ok()
        })
        .collect()
}

/// The demo catalog, plus the documents of `extra` (YAML) read through the same ingestion.
pub fn snapshot_with(extra: &str) -> Snapshot {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("extra.yaml");
    std::fs::write(&file, extra).expect("write");
    let demo = support::demo_catalog();
    let paths: Vec<&Path> = if extra.is_empty() {
        vec![demo.as_path()]
    } else {
        vec![demo.as_path(), file.as_path()]
    };
    Snapshot::build(entities_of(&paths), 1)
}

/// The demo catalog alone.
pub fn demo_snapshot() -> Snapshot {
    snapshot_with("")
}

/// The repo's `[compliance]` section (`idp.toml`).
pub fn repo_compliance() -> ComplianceConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("idp.toml");
    Settings::load(Some(&path), |_| None)
        .expect("idp.toml loads")
        .file
        .compliance
}

/// Defaults with the repo's compliance section and no default backend.
pub fn repo_defaults() -> TemplateDefaults {
    TemplateDefaults {
        execution: None,
        compliance: repo_compliance(),
    }
}

/// One template from YAML (a whole Template document, or just its `parameters` and annotations
/// through [`template_doc`]) read with `defaults`.
pub fn template_from(yaml: &str, defaults: &TemplateDefaults) -> (Template, Snapshot) {
    let snapshot = snapshot_with(yaml);
    let name = serde_saphyr::from_str::<Value>(yaml.split("\n---").next().unwrap_or(yaml))
        .ok()
        .and_then(|d| d.pointer("/metadata/name")?.as_str().map(str::to_owned))
        .expect("the first document has a name");
    let t = templates::find(&snapshot, defaults, &name).expect("the template is found");
    (t, snapshot)
}

/// A step's first lines with the two fields every runnable template needs (a name and an owner
/// picker); more properties follow, indented by eight spaces.
pub const BASICS: &str = "    - required: [name, owner]\n      properties:\n        name: {type: string}\n        owner: {type: string, ui:field: OwnerPicker}\n";

/// A Template document run by the webhook backend, with these `parameters` (YAML, indented by
/// four spaces) and extra annotations.
pub fn template_doc(name: &str, annotations: &str, parameters: &str) -> String {
    format!(
        "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: {name}\n  annotations:\n    idp.dev/execution: webhook\n{annotations}spec:\n  owner: platform-sre\n  type: service\n  parameters:\n{parameters}"
    )
}

fn raw(pairs: &[(&str, &str)]) -> BTreeMap<String, RawValue> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), RawValue::Text((*v).to_owned())))
        .collect()
}

/// `base` with `field` answered `value` instead.
fn with<'a>(
    base: &[(&'a str, &'a str)],
    field: &'a str,
    value: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut v: Vec<(&str, &str)> = base.iter().filter(|(k, _)| *k != field).copied().collect();
    v.push((field, value));
    v
}

fn backend_service(defaults: &TemplateDefaults) -> (Template, Snapshot) {
    let snapshot = demo_snapshot();
    let t = templates::find(&snapshot, defaults, "backend-service").expect("demo template");
    (t, snapshot)
}

fn field_names(t: &Template, step: usize) -> Vec<&str> {
    t.steps[step]
        .fields
        .iter()
        .map(|f| f.name.as_str())
        .collect()
}

#[test]
fn the_demo_templates_load_sorted_runnable_and_with_their_backends() {
    let snapshot = demo_snapshot();
    let all = templates::load(&snapshot, &repo_defaults());
    let refs: Vec<String> = all.iter().map(|t| t.entity_ref.key()).collect();
    assert_eq!(
        refs,
        [
            "template:default/backend-service",
            "template:default/frontend-app",
            "template:default/shared-library"
        ]
    );
    for t in &all {
        assert!(t.is_runnable(), "{}: {:?}", t.entity_ref, t.not_runnable);
    }
    let backend = &all[0];
    assert_eq!(backend.execution, Some(Execution::Webhook));
    assert_eq!(backend.title, "Backend service on Kubernetes");
    assert_eq!(
        backend.owner.as_ref().map(|o| o.key()).as_deref(),
        Some("group:default/platform-sre")
    );
    assert_eq!(backend.tags, ["kubernetes", "backend", "recommended"]);
    assert_eq!(backend.steps.len(), 2);
    assert_eq!(
        field_names(backend, 0),
        ["name", "description", "owner", "system"],
        "fields keep the order the YAML declares"
    );
    assert_eq!(
        field_names(backend, 1),
        [
            "language",
            "replicas",
            "dataClassification",
            "features",
            "enableTracing",
            "costCenter"
        ]
    );
    assert_eq!(backend.name_field().map(|f| f.name.as_str()), Some("name"));
    assert_eq!(
        backend.owner_field().map(|f| f.name.as_str()),
        Some("owner")
    );

    let frontend = &all[1];
    assert_eq!(frontend.steps.len(), 1, "one parameters object is one step");
    assert_eq!(
        frontend.execution,
        Some(Execution::GithubActions {
            owner: "acme".into(),
            repo: "golden-paths".into(),
            workflow: "scaffold-frontend.yml".into(),
            git_ref: "main".into(),
        })
    );
    let library = &all[2];
    assert_eq!(
        library.execution,
        Some(Execution::Backstage {
            template_ref: "template:default/shared-library".into()
        })
    );
    assert_eq!(library.unsupported.len(), 1);
    assert_eq!(library.unsupported[0].field, "repoUrl");
    assert!(!library.unsupported[0].required);
    assert!(
        matches!(
            library.owner_field().map(|f| &f.kind),
            Some(FieldKind::EntityPicker { owner: true, kinds, .. }) if kinds == &["group", "user"]
        ),
        "a plain `owner` text field becomes an owner picker"
    );
}

#[test]
fn each_parameter_type_maps_to_its_field_kind() {
    let (t, _) = backend_service(&TemplateDefaults::default());
    let kind = |name: &str| t.field(name).map(|f| f.kind.clone()).expect(name);
    assert_eq!(
        kind("name"),
        FieldKind::Text {
            multiline: false,
            pattern: Some("^[a-z][a-z0-9-]{2,39}$".into()),
            min_length: None,
            max_length: None
        }
    );
    assert_eq!(
        kind("description"),
        FieldKind::Text {
            multiline: true,
            pattern: None,
            min_length: None,
            max_length: Some(300)
        }
    );
    assert_eq!(
        kind("owner"),
        FieldKind::EntityPicker {
            owner: true,
            kinds: vec!["group".into()],
            filter: vec![]
        }
    );
    assert_eq!(
        kind("system"),
        FieldKind::EntityPicker {
            owner: false,
            kinds: vec!["system".into()],
            filter: vec![]
        }
    );
    assert_eq!(
        kind("language"),
        FieldKind::Choice {
            options: vec![
                ("go".into(), "Go".into()),
                ("kotlin".into(), "Kotlin (JVM)".into()),
                ("python".into(), "Python".into()),
                ("rust".into(), "Rust".into()),
                ("typescript".into(), "TypeScript (Node.js)".into()),
            ],
            radio: false
        }
    );
    assert_eq!(
        kind("replicas"),
        FieldKind::Number {
            integer: true,
            minimum: Some(1.0),
            maximum: Some(10.0)
        }
    );
    assert!(
        matches!(kind("dataClassification"), FieldKind::Choice { radio: true, options } if options.len() == 3)
    );
    assert!(
        matches!(kind("features"), FieldKind::MultiChoice { options } if options[0] == ("postgres".into(), "PostgreSQL database".into()))
    );
    assert_eq!(kind("enableTracing"), FieldKind::Boolean);

    let field = |name: &str| t.field(name).expect(name);
    assert_eq!(field("replicas").default, Some(json!(2)));
    assert_eq!(field("enableTracing").default, Some(json!(true)));
    assert!(field("name").required && field("owner").required && !field("replicas").required);
    assert_eq!(field("name").placeholder.as_deref(), Some("inventory-api"));
    assert_eq!(
        field("description").description.as_deref(),
        Some("One or two sentences for the catalog.")
    );
    assert_eq!(
        field("costCenter").fixed,
        Some(json!("cc-0000")),
        "ui:readonly with a default"
    );
    assert!(!field("costCenter").fixed_by_policy);

    let (t, _) = backend_service(&repo_defaults());
    let cost = t.field("costCenter").expect("costCenter");
    assert_eq!(
        cost.fixed,
        Some(json!("cc-1234")),
        "[compliance] fixed wins"
    );
    assert!(cost.fixed_by_policy);

    let yaml = template_doc(
        "constants",
        "",
        &format!(
            "{BASICS}        region: {{type: string, const: eu-west-1}}\n        tier: {{type: string, enum: [gold, silver], default: gold, ui:widget: hidden}}\n        cidr: {{type: string, format: ipv4, const: 10.0.0.0/16}}\n"
        ),
    );
    let (t, _) = template_from(&yaml, &TemplateDefaults::default());
    assert_eq!(
        t.field("region").and_then(|f| f.fixed.clone()),
        Some(json!("eu-west-1"))
    );
    assert_eq!(
        t.field("tier").and_then(|f| f.fixed.clone()),
        Some(json!("gold")),
        "hidden with a default"
    );
    assert_eq!(
        t.field("cidr").and_then(|f| f.fixed.clone()),
        Some(json!("10.0.0.0/16")),
        "a constant needs no input, whatever its schema"
    );
    assert!(t.unsupported.is_empty(), "{:?}", t.unsupported);
}

#[test]
fn unsupported_fields_are_reported_and_a_required_one_makes_the_template_not_runnable() {
    let many: Vec<String> = (0..101).map(|i| format!("v{i}")).collect();
    let yaml = template_doc(
        "odd-fields",
        "",
        &format!(
            "    - required: [name, owner, repoUrl]
      properties:
        name: {{type: string}}
        owner: {{type: string, ui:field: OwnerPicker}}
        repoUrl: {{type: string, ui:field: RepoUrlPicker}}
        settings: {{type: object, properties: {{a: {{type: string}}}}}}
        either: {{oneOf: [{{type: string}}, {{type: number}}]}}
        hosts: {{type: array, items: {{type: string}}}}
        lookahead: {{type: string, pattern: '^(?=a)a+$'}}
        secret: {{type: string, ui:widget: password}}
        huge: {{type: string, enum: [{}]}}
        mail: {{type: string, format: email}}
        fromfile: {{$yaml: ./shared/field.yaml}}
      dependencies:
        hosts:
          oneOf: [{{properties: {{port: {{type: number}}}}}}]
",
            many.join(", ")
        ),
    );
    let (t, _) = template_from(&yaml, &TemplateDefaults::default());
    let reason = |field: &str| {
        t.unsupported
            .iter()
            .find(|p| p.field == field)
            .map(|p| (p.reason.as_str(), p.required))
            .unwrap_or_else(|| panic!("{field} not reported: {:?}", t.unsupported))
    };
    assert_eq!(
        reason("repoUrl"),
        ("ui:field RepoUrlPicker is not supported", true)
    );
    assert_eq!(
        reason("settings"),
        ("nested objects are not supported", false)
    );
    assert_eq!(reason("either"), ("`oneOf` is not supported", false));
    assert!(
        reason("hosts").0.contains("lists other than a choice")
            || reason("hosts").0.contains("dependencies")
    );
    assert!(
        reason("lookahead")
            .0
            .contains("is not a regular expression idp can check"),
        "{:?}",
        reason("lookahead")
    );
    assert!(
        reason("secret")
            .0
            .starts_with("ui:widget password is not supported")
    );
    assert!(reason("huge").0.contains("at most 100"));
    assert_eq!(reason("mail"), ("`format` is not supported", false));
    assert_eq!(reason("fromfile"), ("`$yaml` is not supported", false));
    assert!(
        t.unsupported
            .iter()
            .any(|p| p.field == "hosts" && p.required && p.reason.contains("`dependencies`")),
        "{:?}",
        t.unsupported
    );
    let not_runnable = t.not_runnable.as_deref().expect("not runnable");
    assert!(
        not_runnable.contains("required field `repoUrl`: ui:field RepoUrlPicker is not supported"),
        "{not_runnable}"
    );
    assert_eq!(
        t.fields().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        ["name", "owner"],
        "only what the form can show is in it"
    );
}

#[test]
fn steps_beyond_what_a_modal_holds_make_the_template_not_runnable() {
    let props: String = (0..templates::MAX_STEP_FIELDS + 1)
        .map(|i| format!("        f{i:03}: {{type: string}}\n"))
        .collect();
    let yaml = template_doc("too-many", "", &format!("{BASICS}{props}"));
    let (t, _) = template_from(&yaml, &TemplateDefaults::default());
    assert!(
        t.not_runnable
            .as_deref()
            .is_some_and(|r| r.contains("step 1 has 98 fields; a Slack form holds at most 95")),
        "{:?}",
        t.not_runnable
    );
}

#[test]
fn the_backend_comes_from_annotations_then_the_config_default() {
    let params = BASICS;
    let bare = params_template("no-backend", "", params);
    let (t, _) = template_from(&bare, &TemplateDefaults::default());
    assert!(
        t.not_runnable
            .as_deref()
            .is_some_and(|r| r.starts_with("no execution backend")),
        "{:?}",
        t.not_runnable
    );
    let defaults = TemplateDefaults {
        execution: Some(Execution::Webhook),
        ..TemplateDefaults::default()
    };
    let (t, _) = template_from(&bare, &defaults);
    assert_eq!(
        (t.execution, t.not_runnable),
        (Some(Execution::Webhook), None)
    );

    let cases = [
        (
            "    idp.dev/execution: jenkins\n",
            "`jenkins` is not one of github-actions, webhook, backstage",
        ),
        (
            "    idp.dev/execution: github-actions\n",
            "idp.dev/github-workflow is not set",
        ),
        (
            "    idp.dev/github-workflow: acme/only-two\n",
            "is not <owner>/<repo>/<workflow-file>@<ref>",
        ),
    ];
    for (annotations, expected) in cases {
        let yaml = params_template("bad-backend", annotations, params);
        let (t, _) = template_from(&yaml, &defaults);
        assert!(
            t.not_runnable
                .as_deref()
                .is_some_and(|r| r.contains(expected)),
            "{annotations}: {:?}",
            t.not_runnable
        );
    }
    let yaml = params_template(
        "tagged",
        "    idp.dev/github-workflow: acme/paths/.github/workflows/new.yml@v2\n",
        params,
    );
    let (t, _) = template_from(&yaml, &TemplateDefaults::default());
    assert_eq!(
        t.execution,
        Some(Execution::GithubActions {
            owner: "acme".into(),
            repo: "paths".into(),
            workflow: "new.yml".into(),
            git_ref: "v2".into()
        })
    );
}

/// A Template document without an execution annotation unless `annotations` gives one.
fn params_template(name: &str, annotations: &str, parameters: &str) -> String {
    format!(
        "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: {name}\n  annotations:\n    x: y\n{annotations}spec:\n  owner: platform-sre\n  parameters:\n{parameters}"
    )
}

#[test]
fn name_and_owner_fields_are_found_or_the_template_says_which_is_missing() {
    let yaml = template_doc(
        "by-annotation",
        "    idp.dev/name-parameter: serviceName\n",
        "    - properties:\n        serviceName: {type: string}\n        owner: {type: string}\n",
    );
    let (t, _) = template_from(&yaml, &TemplateDefaults::default());
    assert_eq!(t.name_field().map(|f| f.name.as_str()), Some("serviceName"));
    assert!(
        t.name_field().is_some_and(|f| f.required),
        "idp needs a name"
    );
    assert!(t.owner_field().is_some_and(|f| f.required), "and an owner");
    assert!(t.is_runnable(), "{:?}", t.not_runnable);

    let yaml = template_doc(
        "component-id",
        "",
        "    - properties:\n        component_id: {type: string}\n        team: {type: string, ui:field: OwnerPicker}\n",
    );
    let (t, _) = template_from(&yaml, &TemplateDefaults::default());
    assert_eq!(
        t.name_field().map(|f| f.name.as_str()),
        Some("component_id")
    );
    assert_eq!(t.owner_field().map(|f| f.name.as_str()), Some("team"));

    let yaml = template_doc(
        "nameless",
        "",
        "    - properties:\n        title: {type: string}\n",
    );
    let (t, _) = template_from(&yaml, &TemplateDefaults::default());
    let reason = t.not_runnable.expect("not runnable");
    assert!(
        reason.contains("no name field") && reason.contains("no owner field"),
        "{reason}"
    );

    let yaml = template_doc(
        "wrong-annotation",
        "    idp.dev/name-parameter: nope\n",
        "    - properties:\n        name: {type: string}\n        owner: {type: string}\n",
    );
    let (t, _) = template_from(&yaml, &TemplateDefaults::default());
    assert!(
        t.not_runnable
            .as_deref()
            .is_some_and(|r| r.contains("names `nope`")),
        "{:?}",
        t.not_runnable
    );
}

#[test]
fn catalog_filters_decide_which_entities_a_picker_accepts() {
    let yaml = template_doc(
        "filters",
        "",
        "    - required: [name, owner]
      properties:
        name: {type: string}
        owner:
          type: string
          ui:field: OwnerPicker
          ui:options:
            catalogFilter:
              - kind: Group
                spec.type: team
        api:
          type: string
          ui:field: EntityPicker
          ui:options:
            catalogFilter:
              - kind: [Component, API]
                metadata.tags: {exists: true}
        legacy:
          type: string
          ui:field: EntityPicker
          ui:options:
            allowedKinds: [Resource]
        mixed:
          type: string
          ui:field: EntityPicker
          ui:options:
            catalogFilter:
              - kind: Group
                spec.type: team
              - kind: User
        deep:
          type: string
          ui:field: EntityPicker
          ui:options:
            catalogFilter: {relations.ownedBy: x}
",
    );
    let (t, snapshot) = template_from(&yaml, &TemplateDefaults::default());
    assert_eq!(
        t.field("api").map(|f| f.kind.clone()),
        Some(FieldKind::EntityPicker {
            owner: false,
            kinds: vec!["api".into(), "component".into()],
            filter: vec![("metadata.tags".into(), vec![])]
        })
    );
    assert!(matches!(
        t.field("legacy").map(|f| &f.kind),
        Some(FieldKind::EntityPicker { kinds, .. }) if kinds == &["resource"]
    ));
    let problems: BTreeMap<&str, &str> = t
        .unsupported
        .iter()
        .map(|p| (p.field.as_str(), p.reason.as_str()))
        .collect();
    assert_eq!(
        problems.get("mixed"),
        Some(&"`catalogFilter` alternatives with different conditions are not supported")
    );
    assert_eq!(
        problems.get("deep"),
        Some(&"`catalogFilter` on `relations.ownedBy` is not supported")
    );

    let check = |answers: &[(&str, &str)]| validate_step(&t, 0, &raw(answers), &snapshot);
    let base = [("name", "brand-new")];
    let ok = check(&[base[0], ("owner", "payments-platform")]).expect("a team");
    assert_eq!(ok["owner"], json!("group:default/payments-platform"));
    let err = check(&[base[0], ("owner", "engineering")]).expect_err("a department");
    assert_eq!(
        err["owner"],
        "`engineering` is not allowed here: its `spec.type` must be team."
    );
}

#[test]
fn find_takes_a_name_title_or_ref_in_any_case_and_suggests_close_names() {
    let snapshot = demo_snapshot();
    let defaults = TemplateDefaults::default();
    for asked in [
        "Backend-Service",
        "backend service on kubernetes",
        "template:default/backend-service",
        "default/backend-service",
    ] {
        let t = templates::find(&snapshot, &defaults, asked).expect(asked);
        assert_eq!(t.entity_ref.name, "backend-service", "{asked}");
    }
    let err = templates::find(&snapshot, &defaults, "backend-servce").expect_err("typo");
    assert_eq!(
        err,
        TemplateLookupError::NotFound {
            name: "backend-servce".into(),
            suggestions: vec!["backend-service".into()]
        }
    );
    assert_eq!(
        err.to_string(),
        "no template named `backend-servce` (did you mean backend-service?)"
    );
    let two = format!(
        "{}\n---\n{}",
        template_doc(
            "twin",
            "",
            "    - properties:\n        name: {type: string}\n"
        )
        .replace("  name: twin\n", "  name: twin\n  namespace: team-a\n"),
        template_doc(
            "twin",
            "",
            "    - properties:\n        name: {type: string}\n"
        )
        .replace("  name: twin\n", "  name: twin\n  namespace: team-b\n"),
    );
    let snapshot = snapshot_with(&two);
    let err = templates::find(&snapshot, &defaults, "twin").expect_err("ambiguous");
    assert_eq!(
        err.to_string(),
        "`twin` matches several templates: template:team-a/twin, template:team-b/twin; use the full ref"
    );
    assert!(templates::find(&snapshot, &defaults, "team-b/twin").is_ok());
}

#[test]
fn every_validation_rule_has_a_short_specific_message() {
    let (t, snapshot) = backend_service(&repo_defaults());
    let step0 = |answers: &[(&str, &str)]| {
        validate_step(&t, 0, &raw(answers), &snapshot).expect_err("invalid")
    };
    let step1 = |answers: &[(&str, &str)]| {
        validate_step(&t, 1, &raw(answers), &snapshot).expect_err("invalid")
    };
    let good0 = [
        ("name", "inventory-api"),
        ("owner", "payments-platform"),
        ("system", "payments"),
    ];
    let long_description = "x".repeat(301);
    let long_description = long_description.as_str();

    // (field, answer, message), each against otherwise valid answers.
    let cases = [
        ("name", "", "This is required."),
        (
            "name",
            "Inventory_API",
            "Must match the pattern `^[a-z][a-z0-9-]{2,39}$`.",
        ),
        (
            "name",
            "checkout-api",
            "`checkout-api` already exists, owned by payments-platform.",
        ),
        (
            "description",
            long_description,
            "Use at most 300 characters (this has 301).",
        ),
        (
            "owner",
            "nobody-at-all",
            "No Group named `nobody-at-all` in the catalog.",
        ),
        (
            "owner",
            "checkout-api",
            "`checkout-api` is a Component; pick a Group.",
        ),
        ("owner", "", "Choose one."),
        (
            "system",
            "payments-platform",
            "`payments-platform` is a Group; pick a System.",
        ),
        (
            "system",
            "paymnts",
            "No System named `paymnts` in the catalog. Did you mean payments?",
        ),
    ];
    for (field, answer, expected) in cases {
        let errors = step0(&with(&good0, field, answer));
        assert_eq!(
            errors.get(field).map(String::as_str),
            Some(expected),
            "{errors:?}"
        );
        assert_eq!(errors.len(), 1, "only the broken field: {errors:?}");
    }
    let good1 = [("language", "go"), ("dataClassification", "internal")];
    let cases = [
        ("replicas", "0", "Must be at least 1."),
        ("replicas", "11", "Must be at most 10."),
        ("replicas", "2.5", "Use a whole number."),
        ("replicas", "two", "`two` is not a number."),
        (
            "language",
            "cobol",
            "`cobol` is not one of: Go, Kotlin (JVM), Python, Rust, TypeScript (Node.js).",
        ),
        (
            "features",
            "mongodb",
            "`mongodb` is not one of: PostgreSQL database, Redis cache, Kafka topic, S3 bucket.",
        ),
        (
            "costCenter",
            "cc-9999",
            "Set by policy; it cannot be changed.",
        ),
        ("enableTracing", "maybe", "Answer yes or no."),
    ];
    for (field, answer, expected) in cases {
        let errors = step1(&with(&good1, field, answer));
        assert_eq!(
            errors.get(field).map(String::as_str),
            Some(expected),
            "{errors:?}"
        );
    }

    let (plain, snapshot) = backend_service(&TemplateDefaults::default());
    let errors = validate_step(&plain, 1, &raw(&[("costCenter", "cc-1")]), &snapshot)
        .expect_err("fixed by the template");
    assert_eq!(
        errors["costCenter"],
        "Set by the template; it cannot be changed."
    );

    let yaml = template_doc(
        "lengths",
        "",
        "    - required: [name, owner]\n      properties:\n        name: {type: string, minLength: 5}\n        owner: {type: string, ui:field: OwnerPicker}\n        ratio: {type: number, minimum: 0.5, maximum: 2.5}\n",
    );
    let (t, snapshot) = template_from(&yaml, &TemplateDefaults::default());
    let errors = validate_all(
        &t,
        &raw(&[
            ("name", "ab"),
            ("owner", "payments-platform"),
            ("ratio", "3"),
        ]),
        &snapshot,
    )
    .expect_err("short");
    assert_eq!(errors["name"], "Use at least 5 characters (this has 2).");
    assert_eq!(errors["ratio"], "Must be at most 2.5.");
    let ok = validate_all(
        &t,
        &raw(&[
            ("name", "  émile  "),
            ("owner", "payments-platform"),
            ("ratio", "1.25"),
        ]),
        &snapshot,
    )
    .expect("lengths count characters, after trimming a one-line answer");
    assert_eq!(
        (ok["name"].clone(), ok["ratio"].clone()),
        (json!("émile"), json!(1.25))
    );
    assert_eq!(
        validate_step(&t, 3, &BTreeMap::new(), &snapshot).expect_err("no such step")["step"],
        "The template has no step 4."
    );
}

#[test]
fn a_valid_submission_fills_defaults_and_fixed_values_and_keeps_full_refs() {
    let (t, snapshot) = backend_service(&repo_defaults());
    let answers = raw(&[
        ("name", "inventory-api"),
        ("description", "Stock levels per warehouse."),
        ("owner", "group:payments-platform"),
        ("system", "system:default/payments"),
        ("language", "rust"),
        ("dataClassification", "pii"),
    ]);
    let step0 = validate_step(&t, 0, &answers, &snapshot).expect("step 1 is valid");
    assert_eq!(step0.len(), 4, "only the first step's fields: {step0:?}");
    let values = validate_all(&t, &answers, &snapshot).expect("valid");
    assert_eq!(
        serde_json::to_value(&values).expect("json"),
        json!({
            "name": "inventory-api",
            "description": "Stock levels per warehouse.",
            "owner": "group:default/payments-platform",
            "system": "system:default/payments",
            "language": "rust",
            "replicas": 2,
            "dataClassification": "pii",
            "enableTracing": true,
            "costCenter": "cc-1234"
        })
    );
    let controls = repo_compliance().evaluate(&values);
    assert_eq!(
        controls.controls,
        [
            "access_logging",
            "encrypt_at_rest",
            "private_network_only",
            "secrets_manager"
        ]
    );
    assert_eq!(controls.labels["data-classification"], "pii");
}

#[test]
fn typed_answers_may_use_labels_yes_no_and_commas() {
    let (t, snapshot) = backend_service(&repo_defaults());
    let answers = raw(&[
        ("language", "kotlin (jvm)"),
        ("dataClassification", "Public"),
        ("features", "postgres, Kafka topic, postgres"),
        ("enableTracing", "no"),
        ("replicas", "3"),
        ("costCenter", "cc-1234"),
    ]);
    let values = validate_step(&t, 1, &answers, &snapshot).expect("valid");
    assert_eq!(values["language"], json!("kotlin"));
    assert_eq!(values["dataClassification"], json!("public"));
    assert_eq!(values["features"], json!(["postgres", "kafka"]));
    assert_eq!(values["enableTracing"], json!(false));
    assert_eq!(values["replicas"], json!(3));
    assert_eq!(
        values["costCenter"],
        json!("cc-1234"),
        "the fixed value itself is accepted"
    );
    let unticked = BTreeMap::from([("enableTracing".to_owned(), RawValue::Many(vec![]))]);
    let values = validate_step(&t, 1, &unticked, &snapshot).expect("defaults fill the rest");
    assert_eq!(
        values["enableTracing"],
        json!(false),
        "an unticked box is false, not its default"
    );
    assert_eq!(values["language"], json!("go"));
    assert_eq!(values["dataClassification"], json!("internal"));
    assert!(
        !values.contains_key("features"),
        "no default, not required: left out"
    );
}

#[test]
fn the_repo_compliance_section_is_valid() {
    let compliance = repo_compliance();
    assert_eq!(compliance.validate(), Vec::<String>::new());
    assert_eq!(compliance.fixed.get("costCenter"), Some(&json!("cc-1234")));
}

/// The ref keys of every Template document of every YAML file under `dir`, each document read
/// on its own (independently of ingestion).
fn template_documents(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = crate::catalog_real::yaml_files(dir)
        .iter()
        .flat_map(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            serde_saphyr::from_multiple::<Value>(&text).unwrap_or_default()
        })
        .filter_map(|doc| {
            let e = Entity::from_document(&doc).ok()?;
            e.entity_ref
                .kind
                .eq_ignore_ascii_case("template")
                .then(|| e.entity_ref.key())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn templates_of_real_catalogs_load_and_say_why_they_cannot_run() {
    let Ok(root) = std::env::var("IDP_REAL_CATALOGS") else {
        eprintln!("IDP_REAL_CATALOGS not set; skipping the real-catalog template test");
        return;
    };
    let root = Path::new(&root);
    let sources: Vec<std::path::PathBuf> = std::fs::read_dir(root)
        .expect("real catalogs")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    let paths: Vec<&Path> = sources.iter().map(|p| p.as_path()).collect();
    let snapshot = Snapshot::build(entities_of(&paths), 1);
    let defaults = TemplateDefaults::default();
    let loaded = templates::load(&snapshot, &defaults);
    let expected: Vec<String> = sources.iter().flat_map(|s| template_documents(s)).collect();
    let mut keys: Vec<String> = loaded.iter().map(|t| t.entity_ref.key()).collect();
    keys.sort();
    assert_eq!(keys, expected, "every Template document is loaded");
    assert!(
        !loaded.is_empty(),
        "the real catalogs hold at least one template"
    );

    let report = idp::check::templates(&snapshot, &defaults);
    for line in report.notes.iter().chain(&report.warnings) {
        eprintln!("{line}");
    }
    for t in &loaded {
        // No default backend and Backstage's own pickers: none of these can run from Slack, and
        // each says why.
        let reason = t.not_runnable.as_deref().unwrap_or_default();
        assert!(
            reason.contains("no execution backend"),
            "{}: {reason}",
            t.entity_ref
        );
        for p in &t.unsupported {
            assert!(!p.reason.is_empty());
            assert!(
                report.warnings.contains(&format!(
                    "{}: field `{}`: {}",
                    t.entity_ref, p.field, p.reason
                )),
                "{p:?}"
            );
        }
    }
    if let Some(express) = loaded
        .iter()
        .find(|t| t.entity_ref.name == "express-template")
    {
        let reason = express.not_runnable.as_deref().unwrap_or_default();
        assert!(
            reason.contains("required field `name`: ui:field ValidateKebabCase is not supported")
                && reason
                    .contains("required field `repoUrl`: ui:field RepoUrlPicker is not supported"),
            "{reason}"
        );
        assert!(express.unsupported.iter().any(|p| p.field == "owner"
            && !p.required
            && p.reason == "ui:field MyGroupsPicker is not supported"));
        assert_eq!(
            express
                .fields()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>(),
            ["description", "system"]
        );
    }
}
