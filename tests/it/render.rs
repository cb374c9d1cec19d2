//! Block Kit replies: snapshots of the demo catalog's replies, the escaping rule for catalog text,
//! and Block Kit's size limits on an oversized catalog.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use idp::AppState;
use idp::authz::{Caller, Origin, Policy};
use idp::catalog::CatalogService;
use idp::command::Dialect;
use idp::slack::render::{
    MAX_BLOCKS, MAX_CONTEXT, MAX_FIELD, MAX_FIELDS, MAX_HEADER, MAX_SECTION, Reply, escape_within,
    join_lines, truncate,
};
use serde_json::Value;

use crate::support::{self, Backend};

fn caller() -> Caller {
    Caller::guest(Origin::Slack {
        team_id: "T0001".to_owned(),
        user_id: "U2147483697".to_owned(),
        channel_id: "C2147483705".to_owned(),
    })
}

/// Dispatches `text` as Slack sends it against the demo catalog.
async fn demo_reply(text: &str) -> Reply {
    let backends = support::backends();
    let state = support::demo_state(&backends[0]).await;
    crate::support::block(state.dispatch(&caller(), text, Dialect::Slack))
}

fn json_of(reply: &Reply) -> Value {
    serde_json::to_value(reply.ephemeral()).expect("the reply serializes")
}

#[tokio::test(flavor = "multi_thread")]
async fn owner_of_checkout_api_shows_the_team_its_members_and_links() {
    let reply = demo_reply("owner checkout-api").await;
    insta::assert_json_snapshot!("owner_checkout_api", reply.ephemeral());
    insta::assert_snapshot!(
        "owner_checkout_api_shell",
        idp::shell::render(&reply, false)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn service_checkout_api_shows_the_whole_card() {
    let reply = demo_reply("service checkout-api").await;
    insta::assert_json_snapshot!("service_checkout_api", reply.ephemeral());
}

#[tokio::test(flavor = "multi_thread")]
async fn team_payments_platform_shows_members_and_what_it_owns() {
    let reply = demo_reply("team payments-platform").await;
    insta::assert_json_snapshot!("team_payments_platform", reply.ephemeral());
}

#[tokio::test(flavor = "multi_thread")]
async fn search_payments_lists_the_best_matches() {
    let reply = demo_reply("search payments").await;
    insta::assert_json_snapshot!("search_payments", reply.ephemeral());
}

#[tokio::test(flavor = "multi_thread")]
async fn help_lists_every_command() {
    let reply = demo_reply("help").await;
    insta::assert_json_snapshot!("help", reply.ephemeral());
}

#[tokio::test(flavor = "multi_thread")]
async fn help_owner_shows_usage_aliases_and_examples() {
    let reply = demo_reply("help owner").await;
    insta::assert_json_snapshot!("help_owner", reply.ephemeral());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_service_suggests_the_close_name() {
    let reply = demo_reply("owner chekout-api").await;
    let json = json_of(&reply).to_string();
    assert!(
        json.contains("`/idp owner checkout-api`"),
        "suggests checkout-api: {json}"
    );
    insta::assert_json_snapshot!("owner_unknown_service", reply.ephemeral());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_command_suggests_the_close_command() {
    let reply = demo_reply("ownr checkout-api").await;
    let json = json_of(&reply).to_string();
    assert!(
        json.contains("`/idp owner checkout-api`"),
        "suggests owner with the rest of the line: {json}"
    );
    insta::assert_json_snapshot!("unknown_command", reply.ephemeral());
}

// ---------------------------------------------------------------------------------------------
// Fixture catalogs.

fn write_catalog(dir: &Path, yaml: &str) -> PathBuf {
    let path = dir.join("catalog.yaml");
    std::fs::write(&path, yaml).expect("write the fixture catalog");
    path
}

/// An app state on `backend` with exactly the catalog file `file` synced, which must read cleanly.
async fn state_for(backend: &Backend, file: &Path) -> Arc<AppState> {
    let service = Arc::new(
        CatalogService::open(backend.store().await)
            .await
            .expect("open the catalog"),
    );
    let reports = service.sync(&[file.to_path_buf()]).await;
    for r in &reports {
        assert!(
            r.outcome.is_ok() && r.problems.is_empty(),
            "the fixture syncs cleanly: {r:#?}"
        );
    }
    Arc::new(AppState::new(service, Policy::builtin(), None))
}

/// Every text object of a reply as `(type, text)`, wherever it sits in the blocks.
fn text_objects(value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            if let (Some(Value::String(kind)), Some(Value::String(text))) =
                (map.get("type"), map.get("text"))
            {
                out.push((kind.clone(), text.clone()));
            }
            for v in map.values() {
                text_objects(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| text_objects(v, out)),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Escaping.

const EVIL_CATALOG: &str = r#"apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: sneaky-team
  title: "<!channel> team"
  description: "Ping <!everyone> & <@U999>"
spec:
  type: team
  profile:
    email: "<!here>@x.example"
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: mallory
spec:
  profile:
    displayName: "<@U777> @channel"
    email: "mallory@x.example"
  memberOf: [sneaky-team]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: evil-service
  title: "<@U123>"
  description: "<!channel> @here see <https://evil.example|docs> & more"
  tags: ["<!everyone>", "@here"]
  links:
    - url: "javascript:alert(1)"
      title: "<!here>"
    - url: "https://ok.example/a|b>c"
      title: "<https://evil.example|@everyone>"
  annotations:
    github.com/project-slug: "acme/<!here>"
    pagerduty.com/service-id: "<!channel>"
spec:
  type: "<!subteam^S1|@all>"
  lifecycle: "@everyone"
  owner: sneaky-team
"#;

const FORBIDDEN: &[&str] = &[
    "<!",
    "<@",
    "<https://evil",
    "<javascript",
    "@here",
    "@channel",
    "@everyone",
];

#[tokio::test(flavor = "multi_thread")]
async fn catalog_text_cannot_mention_broadcast_or_link_in_any_reply() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_catalog(dir.path(), EVIL_CATALOG);
    let backends = support::backends();
    let state = state_for(&backends[0], &file).await;
    for command in [
        "service evil-service",
        "owner evil-service",
        "team sneaky-team",
        "search evil",
    ] {
        let reply = crate::support::block(state.dispatch(&caller(), command, Dialect::Slack));
        let json = json_of(&reply);
        let mut texts = Vec::new();
        text_objects(&json["blocks"], &mut texts);
        assert!(
            texts.iter().any(|(kind, _)| kind == "mrkdwn"),
            "{command}: has mrkdwn text"
        );
        for (kind, text) in &texts {
            match kind.as_str() {
                "mrkdwn" => {
                    for bad in FORBIDDEN {
                        assert!(
                            !text.contains(bad),
                            "{command}: mrkdwn text contains {bad:?}: {text:?}"
                        );
                    }
                }
                "plain_text" => {}
                other => panic!("{command}: unexpected text type {other}: {text:?}"),
            }
        }
        for block in json["blocks"].as_array().expect("blocks") {
            if block["type"] == "header" {
                assert_eq!(
                    block["text"]["type"], "plain_text",
                    "{command}: headers are plain_text: {block}"
                );
            }
        }
        // The word joiner is what keeps the escaped broadcasts inert.
        let all: String = texts.iter().map(|(_, t)| t.as_str()).collect();
        assert!(
            all.contains("@\u{2060}"),
            "{command}: a broadcast word was neutralised: {all:?}"
        );
    }
    // The javascript: link is shown as text, never as a link.
    let reply =
        crate::support::block(state.dispatch(&caller(), "service evil-service", Dialect::Slack));
    let json = json_of(&reply).to_string();
    assert!(
        json.contains("&lt;!here&gt; (javascript:alert(1))"),
        "{json}"
    );
    assert!(
        json.contains("<https://ok.example/a%7Cb%3Ec|"),
        "the | and > of a URL are encoded: {json}"
    );
}

/// The top-level `text` of a reply is mrkdwn too (Slack shows it in notifications and where blocks
/// cannot be shown), so catalog text in it must be escaped like the blocks.
#[tokio::test(flavor = "multi_thread")]
async fn the_fallback_text_carries_no_mention_either() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_catalog(dir.path(), EVIL_CATALOG);
    let backends = support::backends();
    let state = state_for(&backends[0], &file).await;
    let commands = [
        "service evil-service",
        "owner evil-service",
        "team sneaky-team",
        "search evil",
        "owner &lt;!channel&gt;",
        "search &lt;!channel&gt;",
        "&lt;!channel&gt;",
        "help &lt;!channel&gt;",
    ];
    let leaks: Vec<String> = commands
        .iter()
        .map(|command| {
            (
                command,
                crate::support::block(state.dispatch(&caller(), command, Dialect::Slack)).text,
            )
        })
        .filter(|(_, text)| text.contains("<!") || text.contains("<@"))
        .map(|(command, text)| format!("{command}: {text:?}"))
        .collect();
    assert!(
        leaks.is_empty(),
        "fallback texts with a live mention:\n{}",
        leaks.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Block Kit limits.

const HEADER: &str = "apiVersion: backstage.io/v1alpha1";

/// A group owning 300 components with 120 members, and one component that is too big everywhere:
/// a 400-character title, a 10,000-character description, 200 links, 300 tags and 60 dependsOn.
fn big_catalog() -> String {
    let mut docs: Vec<String> = Vec::new();
    docs.push(format!(
        "{HEADER}\nkind: Group\nmetadata:\n  name: big-team\n  description: Owns a great deal & more.\nspec:\n  type: team\n  profile:\n    displayName: Big Team\n    email: big-team@x.example\n  children: []\n"
    ));
    for i in 0..120 {
        docs.push(format!(
            "{HEADER}\nkind: User\nmetadata:\n  name: user-{i:03}\nspec:\n  profile:\n    displayName: \"Person number {i} with a rather long display name & <title>\"\n    email: user-{i:03}@x.example\n  memberOf: [big-team]\n"
        ));
    }
    let long_title = "Bulk component with a long title & <angle brackets> ".repeat(3);
    for i in 0..300 {
        docs.push(format!(
            "{HEADER}\nkind: Component\nmetadata:\n  name: bulk-{i:03}\n  title: \"{long_title}{i}\"\n  description: \"Bulk & <b>component</b> number {i}, described at some length so that search lines get long.\"\n  tags: [bulk]\nspec:\n  type: service\n  lifecycle: production\n  owner: big-team\n"
        ));
    }
    let title: String = "A very long service title & more "
        .repeat(20)
        .chars()
        .take(400)
        .collect();
    let description: String = "Fast & <safe> ".repeat(800).chars().take(10_000).collect();
    let links: String = (0..200)
        .map(|i| format!("    - url: https://links.example/big-service/{i:03}/{}\n      title: \"Link {i} & <docs>\"\n", "p".repeat(80)))
        .collect();
    let tags: String = (0..300)
        .map(|i| format!("tag-{i:03}"))
        .collect::<Vec<_>>()
        .join(", ");
    let depends: String = (0..60)
        .map(|i| format!("    - component:bulk-{i:03}\n"))
        .collect();
    docs.push(format!(
        "{HEADER}\nkind: Component\nmetadata:\n  name: big-service\n  title: \"{title}\"\n  description: \"{description}\"\n  tags: [{tags}]\n  links:\n{links}  annotations:\n    github.com/project-slug: acme/big-service\nspec:\n  type: service\n  lifecycle: production\n  owner: big-team\n  dependsOn:\n{depends}"
    ));
    docs.join("---\n")
}

/// Asserts Block Kit's limits on a reply and returns its mrkdwn and plain texts joined.
fn assert_within_limits(command: &str, json: &Value) -> String {
    let blocks = json["blocks"].as_array().expect("blocks");
    assert!(!blocks.is_empty(), "{command}: no blocks");
    assert!(
        blocks.len() <= MAX_BLOCKS,
        "{command}: {} blocks",
        blocks.len()
    );
    let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    for block in blocks {
        match block["type"].as_str() {
            Some("header") => {
                assert_eq!(block["text"]["type"], "plain_text", "{command}");
                let n = chars(&block["text"]["text"]);
                assert!(n <= MAX_HEADER, "{command}: header of {n} characters");
            }
            Some("section") => {
                if let Some(text) = block.get("text") {
                    let n = chars(&text["text"]);
                    assert!(
                        n <= MAX_SECTION,
                        "{command}: section text of {n} characters"
                    );
                }
                if let Some(fields) = block.get("fields").and_then(Value::as_array) {
                    assert!(
                        fields.len() <= MAX_FIELDS,
                        "{command}: {} fields",
                        fields.len()
                    );
                    for f in fields {
                        let n = chars(&f["text"]);
                        assert!(n <= MAX_FIELD, "{command}: field of {n} characters");
                    }
                }
                assert!(
                    block.get("text").is_some() || block.get("fields").is_some(),
                    "{command}: empty section"
                );
            }
            Some("context") => {
                let elements = block["elements"].as_array().expect("context elements");
                assert!(
                    !elements.is_empty() && elements.len() <= MAX_CONTEXT,
                    "{command}: {} elements",
                    elements.len()
                );
                for e in elements {
                    let n = chars(&e["text"]);
                    assert!(
                        n <= MAX_SECTION,
                        "{command}: context element of {n} characters"
                    );
                }
            }
            other => panic!("{command}: unexpected block type {other:?}"),
        }
    }
    let text = json["text"].as_str().expect("fallback text");
    assert!(
        !text.is_empty() && text.chars().count() <= 3000,
        "{command}: fallback text length"
    );
    let mut texts = Vec::new();
    text_objects(&json["blocks"], &mut texts);
    texts
        .into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_catalog_entries_stay_within_every_block_kit_limit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_catalog(dir.path(), &big_catalog());
    let backends = support::backends();
    let state = state_for(&backends[0], &file).await;
    assert_eq!(
        state.catalog.snapshot().len(),
        1 + 120 + 300 + 1,
        "every fixture entity was read"
    );

    let team = assert_within_limits(
        "team",
        &json_of(&crate::support::block(state.dispatch(
            &caller(),
            "team big-team",
            Dialect::Slack,
        ))),
    );
    assert!(team.contains("*Members (120):*"), "{team}");
    assert!(
        team.contains("…and 105 more"),
        "the member list is cut after 15: {team}"
    );
    assert!(team.contains("*Component (301)*"), "{team}");
    assert!(
        team.contains("…and 281 more"),
        "the owned list is cut after 20: {team}"
    );

    let owner = assert_within_limits(
        "owner",
        &json_of(&crate::support::block(state.dispatch(
            &caller(),
            "owner big-service",
            Dialect::Slack,
        ))),
    );
    assert!(owner.contains("*Members (120):*"), "{owner}");
    assert!(
        owner.contains("…and 105 more"),
        "the member list is cut: {owner}"
    );
    assert!(
        owner.contains("*Links:*") && owner.contains("…and 185 more"),
        "the links are cut after 15: {owner}"
    );

    let service = json_of(&crate::support::block(state.dispatch(
        &caller(),
        "service big-service",
        Dialect::Slack,
    )));
    let card = assert_within_limits("service", &service);
    let header = service["blocks"][0]["text"]["text"]
        .as_str()
        .expect("a header");
    assert_eq!(
        header.chars().count(),
        MAX_HEADER,
        "the 400-character title is cut: {header}"
    );
    assert!(header.ends_with('…'), "{header}");
    let description = service["blocks"][1]["text"]["text"]
        .as_str()
        .expect("a description section");
    assert!(
        description.starts_with("Fast &amp; &lt;safe&gt; "),
        "{description}"
    );
    assert!(
        description.ends_with('…') && description.chars().count() <= 1500,
        "{description}"
    );
    assert!(
        !description.trim_end_matches('…').ends_with('&'),
        "no entity is cut in half: {description}"
    );
    assert!(
        card.contains("*Links:*") && card.contains("…and 185 more"),
        "{card}"
    );
    assert!(
        card.contains("*Depends on (60):*") && card.contains("…and 45 more"),
        "{card}"
    );
    let tags = service["blocks"][2]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["text"].as_str())
        .find(|t| t.starts_with("*Tags*"))
        .expect("a tags field");
    assert!(
        tags.ends_with('…'),
        "300 tags are cut to the field limit: {} characters",
        tags.chars().count()
    );

    let search = json_of(&crate::support::block(state.dispatch(
        &caller(),
        "search bulk",
        Dialect::Slack,
    )));
    let found = assert_within_limits("search", &search);
    assert!(
        found.contains("Showing the 10 best of 300 matches (290 more)"),
        "{found}"
    );
}

// ---------------------------------------------------------------------------------------------
// The cutting helpers.

#[test]
fn truncate_cuts_at_characters_not_bytes_and_marks_the_cut() {
    assert_eq!(truncate("", 5), "");
    assert_eq!(truncate("abc", 3), "abc");
    assert_eq!(truncate("abcd", 3), "ab…");
    assert_eq!(truncate("abc", 1), "…");
    assert_eq!(truncate("héllo wörld", 11), "héllo wörld");
    assert_eq!(truncate("héllo wörld", 5), "héll…");
    assert_eq!(truncate("😀😀😀", 2), "😀…");
    let long = "x".repeat(MAX_HEADER + 1);
    let cut = truncate(&long, MAX_HEADER);
    assert_eq!(cut.chars().count(), MAX_HEADER);
    assert!(cut.ends_with('…'));
    assert_eq!(
        truncate(&"x".repeat(MAX_HEADER), MAX_HEADER),
        "x".repeat(MAX_HEADER)
    );
}

#[test]
fn escape_within_counts_the_escaped_length_and_never_splits_an_entity() {
    assert_eq!(
        escape_within("a & b", 9),
        "a &amp; b",
        "exactly at the limit is kept whole"
    );
    assert_eq!(escape_within("a & b", 8), "a &amp;…");
    assert_eq!(escape_within("<x>", 100), "&lt;x&gt;");
    assert_eq!(escape_within(&"x".repeat(10), 10), "x".repeat(10));
    assert_eq!(
        escape_within(&"x".repeat(11), 10),
        format!("{}…", "x".repeat(9))
    );
    assert_eq!(escape_within("@here", 100), "@\u{2060}here");

    for max in [1, 2, 5, 6, 7, 150, 1500, 3000] {
        let many = "&".repeat(5000);
        let cut = escape_within(&many, max);
        assert!(
            cut.chars().count() <= max,
            "max {max}: {} characters",
            cut.chars().count()
        );
        assert!(cut.ends_with('…'), "max {max}: {cut:?}");
        assert!(
            cut.trim_end_matches('…').replace("&amp;", "").is_empty(),
            "max {max}: an entity was split: {cut:?}"
        );

        let mixed = "a<b>&c ".repeat(1000);
        let cut = escape_within(&mixed, max);
        assert!(
            cut.chars().count() <= max,
            "max {max}: {} characters",
            cut.chars().count()
        );
        assert!(cut.ends_with('…'), "max {max}: {cut:?}");
        let body = cut.trim_end_matches('…');
        assert!(
            ["&", "&a", "&am", "&amp", "&l", "&lt", "&g", "&gt"]
                .iter()
                .all(|partial| !body.ends_with(partial)),
            "max {max}: an entity was split: {cut:?}"
        );
    }
}

/// `escape_within` should keep as much as fits: for 5,000 `&` and a 3,000-character budget that is
/// 599 `&amp;` and `…`, not `…` alone.
#[test]
fn escape_within_keeps_as_much_as_fits() {
    let cut = escape_within(&"&".repeat(5000), 3000);
    assert_eq!(
        cut.chars().count(),
        599 * 5 + 1,
        "kept {:?}",
        truncate(&cut, 60)
    );
    let cut = escape_within(&"Fast & <safe> ".repeat(800), 1500);
    assert!(
        cut.chars().count() >= 1500 - 6,
        "kept {} of 1500 characters",
        cut.chars().count()
    );
}

#[test]
fn join_lines_keeps_whole_lines_and_counts_what_it_leaves_out() {
    let lines = |n: usize, width: usize| -> Vec<String> {
        (0..n).map(|i| format!("{i:0width$}")).collect()
    };
    assert_eq!(join_lines(&[], 100, 10), "");
    assert_eq!(join_lines(&lines(3, 4), 100, 10), "0000\n0001\n0002");
    assert_eq!(
        join_lines(&lines(3, 4), 100, 3),
        "0000\n0001\n0002",
        "exactly max_lines lines are all shown"
    );
    assert_eq!(
        join_lines(&lines(4, 4), 100, 3),
        "0000\n0001\n0002\n…and 1 more"
    );
    assert_eq!(join_lines(&lines(20, 4), 3000, 15).lines().count(), 16);
    assert!(join_lines(&lines(20, 4), 3000, 15).ends_with("\n…and 5 more"));
    // The last line may use the room kept for the "…and N more" line.
    assert_eq!(join_lines(&lines(1, 30), 30, 10), "0".repeat(29) + "0");
    // A line longer than the whole budget is left out rather than cut.
    assert_eq!(join_lines(&lines(1, 50), 30, 10), "…and 1 more");

    for (n, width, max) in [
        (1000, 50, 3000),
        (300, 199, 2960),
        (61, 2959, 2960),
        (500, 7, 1200),
    ] {
        let input = lines(n, width);
        let out = join_lines(&input, max, usize::MAX);
        assert!(
            out.chars().count() <= max,
            "{n}×{width} in {max}: {} characters",
            out.chars().count()
        );
        let shown: Vec<&str> = out.lines().filter(|l| !l.starts_with("…and ")).collect();
        assert!(
            shown.iter().zip(&input).all(|(a, b)| a == b),
            "only whole lines, in order"
        );
        assert!(
            out.ends_with(&format!("…and {} more", n - shown.len())),
            "{out}"
        );
    }
}

/// Replies to a spread of commands on the demo catalog, keyed by the command text.
async fn demo_replies() -> Vec<(String, Reply)> {
    let backends = support::backends();
    let state = support::demo_state(&backends[0]).await;
    let mut commands: Vec<String> = [
        "owner checkout-api",
        "service checkout-api",
        "team payments-platform",
        "search payments",
        "search zzzz",
        "owner chekout-api",
        "ownr checkout-api",
        "owner <@U1|jane>",
        "owner a b",
        "help",
        "help nope",
    ]
    .iter()
    .map(|c| (*c).to_owned())
    .collect();
    commands.extend(
        idp::command::REGISTRY
            .iter()
            .map(|s| format!("help {}", s.name)),
    );
    commands
        .iter()
        .map(|c| {
            (
                c.clone(),
                crate::support::block(state.dispatch(&caller(), c, Dialect::Slack)),
            )
        })
        .collect()
}

/// In mrkdwn a raw `<` opens a control sequence, so the only ones idp may send open links.
#[tokio::test(flavor = "multi_thread")]
async fn every_raw_angle_bracket_in_mrkdwn_opens_a_link() {
    let mut bad = Vec::new();
    for (command, reply) in demo_replies().await {
        let mut texts = Vec::new();
        text_objects(&json_of(&reply)["blocks"], &mut texts);
        for (_, text) in texts.iter().filter(|(kind, _)| kind == "mrkdwn") {
            for (i, _) in text.match_indices('<') {
                let rest = &text[i + 1..];
                let link = ["https://", "http://", "mailto:"]
                    .iter()
                    .any(|p| rest.starts_with(p))
                    && rest.contains('>');
                if !link {
                    bad.push(format!("{command}: {text:?}"));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "raw `<` that is no link:\n{}",
        bad.join("\n")
    );
}

/// The examples `help` shows are what people paste first; on the bundled demo catalog each should
/// find something.
#[tokio::test(flavor = "multi_thread")]
async fn every_help_example_finds_something_in_the_demo_catalog() {
    let backends = support::backends();
    let state = support::demo_state(&backends[0]).await;
    let failing: Vec<String> = idp::command::REGISTRY
        .iter()
        .flat_map(|s| s.examples.iter())
        .map(|ex| {
            (
                ex,
                crate::support::block(state.dispatch(&caller(), ex, Dialect::Slack)),
            )
        })
        .filter(|(_, reply)| {
            reply.text.starts_with("No matches")
                || json_of(reply)
                    .to_string()
                    .contains("`/idp help` lists every command.")
        })
        .map(|(ex, reply)| format!("{ex}: {}", reply.text))
        .collect();
    assert!(
        failing.is_empty(),
        "examples that fail on the demo catalog:\n{}",
        failing.join("\n")
    );
}

/// When every remaining line fits, the room kept for "…and N more" is not needed.
#[test]
fn join_lines_uses_the_whole_budget_when_everything_fits() {
    let lines = vec!["a".repeat(10), "b".repeat(10)];
    assert_eq!(
        join_lines(&lines, 21, 10),
        format!("{}\n{}", lines[0], lines[1])
    );
}
