//! The recogniser behind the "Who owns this?" shortcut and `owner <what people paste>`: pasted
//! Slack text in, catalog entities out, against the demo catalog and the real public catalogs.

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use idp::catalog::recognise::{MAX_CHARS, MAX_LOOKED_FOR};
use idp::catalog::{
    Clue, Entity, EntityRef, Matched, Recognised, Snapshot, owned_by_person, read_source,
    recognise, service_from_channel_name,
};

use crate::support;

/// The demo catalog as a snapshot, read once for the whole module.
fn demo() -> &'static Snapshot {
    static DEMO: OnceLock<Snapshot> = OnceLock::new();
    DEMO.get_or_init(|| snapshot_of(&support::demo_catalog()))
}

fn snapshot_of(path: &Path) -> Snapshot {
    let read = read_source(path);
    assert!(!read.entities.is_empty(), "{} has entities", path.display());
    let entities = read
        .entities
        .iter()
        .map(|e| {
            let doc: serde_json::Value = serde_json::from_str(&e.body).expect("stored JSON");
            Entity::from_document(&doc).expect("a valid entity stays valid")
        })
        .collect();
    Snapshot::build(entities, 1)
}

/// `kind:name` of every recognised entity, best first.
fn names(snapshot: &Snapshot, r: &Recognised) -> Vec<String> {
    r.found
        .iter()
        .map(|f| {
            let e = &snapshot.node(f.entity).entity.entity_ref;
            format!("{}:{}", e.kind.to_ascii_lowercase(), e.name)
        })
        .collect()
}

fn first(snapshot: &Snapshot, text: &str) -> String {
    let r = recognise(snapshot, text);
    names(snapshot, &r)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("nothing recognised in {text:?}: {r:?}"))
}

#[test]
fn a_repository_url_finds_the_component_built_from_it() {
    let r = recognise(demo(), "https://github.com/acme-shop/checkout-api");
    assert_eq!(names(demo(), &r), ["component:checkout-api"]);
    assert_eq!(
        r.found[0].because,
        Clue::Repo("github.com/acme-shop/checkout-api".into())
    );
    assert_eq!(r.found[0].matched, Matched::ProjectSlug);
    assert!(!r.truncated);
}

#[test]
fn blob_tree_pull_run_git_and_ssh_urls_of_the_repository_find_it_too() {
    for text in [
        "https://github.com/acme-shop/checkout-api/blob/main/src/main/java/App.java#L42",
        "https://github.com/acme-shop/checkout-api/tree/release/2.3/",
        "https://github.com/acme-shop/checkout-api/pull/981/files",
        "failing: https://github.com/acme-shop/checkout-api/actions/runs/123456/job/789?pr=3",
        "https://github.com/acme-shop/checkout-api.git",
        "git clone git@github.com:acme-shop/checkout-api.git",
        "ssh://git@github.com/acme-shop/checkout-api.git",
        "the repo is github.com/acme-shop/checkout-api.",
    ] {
        assert_eq!(first(demo(), text), "component:checkout-api", "{text}");
    }
}

#[test]
fn an_issue_url_of_the_repository_finds_its_component() {
    let r = recognise(
        demo(),
        "https://github.com/acme-shop/web-storefront/issues/4",
    );
    assert_eq!(names(demo(), &r), ["component:web-storefront"]);
}

#[test]
fn a_slack_formatted_link_with_a_label_is_read() {
    let text = "build broke: <https://github.com/acme-shop/checkout-api/actions/runs/42|run #42> \
                and <https://github.com/acme-shop/fraud-scoring>";
    let r = recognise(demo(), text);
    assert_eq!(
        names(demo(), &r),
        ["component:checkout-api", "component:fraud-scoring"]
    );
}

#[test]
fn a_dashboard_link_finds_the_entity_that_links_it() {
    let text = "latency spike <https://grafana.example.com/d/payment-gateway/overview?orgId=1&amp;from=now-1h|here>";
    let r = recognise(demo(), text);
    assert_eq!(names(demo(), &r), ["component:payment-gateway"]);
    assert_eq!(r.found[0].matched, Matched::Link);
    assert_eq!(
        r.found[0].because,
        Clue::Link("grafana.example.com/d/payment-gateway/overview".into())
    );
    // A dashboard whose name is not the service's: found by the link alone.
    assert_eq!(
        first(demo(), "https://grafana.example.com/d/frontend-builds/"),
        "component:ui-kit"
    );
}

#[test]
fn a_link_shared_by_a_whole_team_identifies_no_single_service() {
    let r = recognise(demo(), "https://acme-shop.pagerduty.com/schedules/payments");
    assert!(r.found.is_empty(), "{:?}", names(demo(), &r));
}

#[test]
fn a_stack_trace_mentioning_the_service_finds_it() {
    let text = "```java.lang.IllegalStateException: payment declined\n\
        \tat com.acme.checkout.PaymentClient.charge(PaymentClient.java:88)\n\
        \tat com.acme.checkout.CheckoutController.placeOrder(CheckoutController.java:42)\n\
        \tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:897)\n\
        pod checkout-api-7d9f8b6c5-x2x4z in namespace shop, logs in /var/log/checkout-api/app.log```";
    let r = recognise(demo(), text);
    assert_eq!(names(demo(), &r), ["component:checkout-api"]);
    assert!(r.looked_for.contains(&Clue::Name("checkout-api".into())));
}

#[test]
fn a_service_named_in_prose_is_found_and_exact_names_come_first() {
    let r = recognise(
        demo(),
        "500s from checkout-api since 10:02, maybe fraud-scoring-worker too",
    );
    assert_eq!(
        names(demo(), &r),
        ["component:checkout-api", "component:fraud-scoring"]
    );
    assert_eq!(r.found[0].matched, Matched::Name);
    assert_eq!(r.found[1].matched, Matched::NameWithin);
}

#[test]
fn a_hostname_finds_the_service_named_by_its_first_label() {
    let r = recognise(
        demo(),
        "curl checkout-api.prod.acme.internal/health times out",
    );
    assert_eq!(names(demo(), &r), ["component:checkout-api"]);
    assert_eq!(
        r.found[0].because,
        Clue::Hostname("checkout-api.prod.acme.internal".into())
    );
    // Slack turns a typed hostname into a link.
    let linked = "<http://order-service.eu.acme.internal|order-service.eu.acme.internal> is down";
    assert_eq!(first(demo(), linked), "component:order-service");
}

#[test]
fn a_message_with_nothing_recognisable_returns_nothing_and_says_what_it_looked_for() {
    let text = "hey <@U123ABC> can you look at https://example.org/some/page and \
                fizz-buzz on host.example.net? thanks <!here>";
    let r = recognise(demo(), text);
    assert!(r.found.is_empty(), "{:?}", names(demo(), &r));
    assert_eq!(
        r.looked_for,
        [
            Clue::Link("example.org/some/page".into()),
            Clue::Hostname("example.org".into()),
            Clue::Name("fizz-buzz".into()),
            Clue::Hostname("host.example.net".into()),
        ]
    );
    assert!(!r.truncated);
}

#[test]
fn empty_and_blank_text_recognise_nothing() {
    for text in [
        "",
        "   \n\t",
        "<>",
        "<",
        "&amp;&lt;&gt;",
        "<@U1> <#C1> <!channel>",
    ] {
        let r = recognise(demo(), text);
        assert_eq!(r, Recognised::default(), "{text:?}");
    }
}

#[test]
fn common_words_never_match_even_when_an_entity_bears_the_name() {
    // `payments` and `storefront` are Systems of the demo catalog: plain words long enough to
    // count; these are not.
    let r = recognise(
        demo(),
        "the service failed with an error on main since this morning, please check the build",
    );
    assert!(r.found.is_empty(), "{:?}", names(demo(), &r));
    assert!(r.looked_for.is_empty(), "{:?}", r.looked_for);
    assert_eq!(first(demo(), "payments look slow"), "system:payments");
}

#[test]
fn html_entities_are_decoded_before_reading() {
    let text = "Map&lt;String, checkout-api&gt; &amp;&amp; https://github.com/acme-shop/money-lib?a=1&amp;b=2";
    let r = recognise(demo(), text);
    assert_eq!(
        names(demo(), &r),
        ["component:money-lib", "component:checkout-api"]
    );
}

#[test]
fn urls_and_names_match_whatever_their_case() {
    assert_eq!(
        first(
            demo(),
            "HTTPS://GitHub.com/Acme-Shop/Checkout-API/Tree/Main"
        ),
        "component:checkout-api"
    );
    assert_eq!(
        first(demo(), "CHECKOUT-API is down"),
        "component:checkout-api"
    );
    assert_eq!(
        first(demo(), "https://Grafana.Example.com/D/Payment-Gateway"),
        "component:payment-gateway"
    );
}

#[test]
fn each_entity_is_returned_once_with_its_strongest_clue() {
    let text = "checkout-api checkout-api https://grafana.example.com/d/checkout-api \
                https://github.com/acme-shop/checkout-api";
    let r = recognise(demo(), text);
    assert_eq!(names(demo(), &r), ["component:checkout-api"]);
    assert_eq!(r.found[0].matched, Matched::ProjectSlug);
}

#[test]
fn a_forty_thousand_character_message_is_read_quickly_and_a_longer_one_is_cut() {
    let filler = "lorem ipsum dolor sit amet consectetur 1234 ";
    let mut text = filler.repeat(MAX_CHARS / filler.len() + 1);
    text.truncate(MAX_CHARS - " checkout-api".len());
    text.push_str(" checkout-api");
    assert_eq!(text.chars().count(), MAX_CHARS);
    let start = Instant::now();
    let r = recognise(demo(), &text);
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(names(demo(), &r), ["component:checkout-api"]);
    assert!(!r.truncated);

    // One more character pushes the name past the cap.
    let longer = format!("x{text}");
    let r = recognise(demo(), &longer);
    assert!(r.truncated);
    assert!(r.found.is_empty());

    // Many distinct name-shaped words: the list of what was looked for stays short.
    let words: String = (0..10_000).map(|i| format!("svc-{i} ")).collect();
    let start = Instant::now();
    let r = recognise(demo(), &words);
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(r.looked_for.len(), MAX_LOOKED_FOR);
    assert!(r.truncated, "past the cap on characters");
}

#[test]
fn multibyte_text_is_cut_on_a_character_boundary() {
    let text = "é".repeat(MAX_CHARS + 10);
    let r = recognise(demo(), &text);
    assert!(r.truncated);
    assert!(r.found.is_empty());
}

#[test]
fn a_person_owns_what_their_teams_own() {
    let owned = owned_by_person(demo(), &EntityRef::new("User", "default", "sofia.marquez"));
    let names: Vec<String> = owned
        .iter()
        .map(|&i| demo().node(i).entity.entity_ref.name.clone())
        .collect();
    for name in ["checkout-api", "payment-gateway", "payments-db", "payments"] {
        assert!(names.contains(&name.to_owned()), "{name} in {names:?}");
    }
    assert!(!names.contains(&"order-service".to_owned()));
    // Components first.
    assert_eq!(
        demo()
            .node(owned[0])
            .entity
            .entity_ref
            .kind
            .to_ascii_lowercase(),
        "component"
    );
    assert!(owned_by_person(demo(), &EntityRef::new("User", "default", "nobody")).is_empty());
}

#[test]
fn a_channel_named_after_a_service_names_that_service() {
    for channel in [
        "checkout-api",
        "#checkout-api",
        "inc-42-checkout-api",
        "team-checkout-api-alerts",
        "INC-2024-07-01-checkout-api-latency",
    ] {
        let found = service_from_channel_name(demo(), channel)
            .unwrap_or_else(|| panic!("nothing for {channel}"));
        assert_eq!(
            demo().node(found).entity.entity_ref.name,
            "checkout-api",
            "{channel}"
        );
    }
    // The longest name wins: `product-catalog-rest` over `product-catalog`.
    let api = service_from_channel_name(demo(), "inc-7-product-catalog-rest").expect("found");
    assert_eq!(
        demo().node(api).entity.entity_ref.name,
        "product-catalog-rest"
    );
    for channel in ["general", "random", "team-alerts", "inc-42", ""] {
        assert_eq!(
            service_from_channel_name(demo(), channel),
            None,
            "{channel}"
        );
    }
}

/// The real public catalogs (`IDP_REAL_CATALOGS`, default `../shared/catalog`), or `None`.
fn real(sub: &str) -> Option<Snapshot> {
    let root = std::env::var("IDP_REAL_CATALOGS")
        .ok()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "../shared/catalog".to_owned());
    let dir = Path::new(&root).join(sub);
    if !dir.is_dir() {
        eprintln!("{} missing; skipping", dir.display());
        return None;
    }
    Some(snapshot_of(&dir))
}

#[test]
fn real_catalogs_recognise_repositories_pipelines_and_names() {
    let Some(wild) = real("wild") else {
        return;
    };
    // Source location with a `/tree/main` tail and a project slug.
    assert_eq!(
        first(
            &wild,
            "flaky: <https://github.com/elastic/kibana/pull/123456|#123456>"
        ),
        "component:kibana"
    );
    // A CI pipeline a Resource links.
    let r = recognise(
        &wild,
        "https://buildkite.com/elastic/kibana-tests/builds/991",
    );
    assert_eq!(names(&wild, &r), ["resource:kibana-tests-pipeline"]);
    // Slug only, mixed case as written in the descriptor.
    assert_eq!(
        first(&wild, "https://github.com/redhatqe/teflo.git"),
        first(&wild, "teflo")
    );
    assert_eq!(
        first(&wild, "git@github.com:grafana/k6.git"),
        "component:k6"
    );

    let Some(examples) = real("backstage-examples") else {
        return;
    };
    let r = recognise(
        &examples,
        "is artist-lookup down? nothing at https://status.acme.test/x",
    );
    assert_eq!(names(&examples, &r), ["component:artist-lookup"]);
    let snapshot = &examples;
    let owner = service_from_channel_name(snapshot, "inc-3-artist-lookup").expect("channel");
    assert_eq!(snapshot.node(owner).entity.entity_ref.name, "artist-lookup");
}
