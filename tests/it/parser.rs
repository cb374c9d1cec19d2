//! The `/idp` command language: every decoding rule of the Slack dialect, the plain dialect, and the
//! agreement between `commands/`, the compiled-in registry, the help reply and `manifest.yml`.

use std::path::PathBuf;

use idp::authz::{Caller, Origin};
use idp::catalog::NameQuery;
use idp::command::spec::{COMMAND_FILES, REGISTRY, load_specs};
use idp::command::{Command, Dialect, ParseError, parse};

fn name(n: &str) -> NameQuery {
    NameQuery {
        kind: None,
        namespace: None,
        name: n.to_owned(),
    }
}

fn words(w: &[&str]) -> Command {
    Command::Search(w.iter().map(|s| (*s).to_owned()).collect())
}

/// The usage line and argument name each one-name command reports in its errors.
fn usage_of(command: &'static str) -> (String, String) {
    match command {
        "owner" => ("service".to_owned(), "owner <service>".to_owned()),
        "service" => ("name".to_owned(), "service <name>".to_owned()),
        "team" => ("group".to_owned(), "team <group>".to_owned()),
        "search" => ("words".to_owned(), "search <words>".to_owned()),
        other => panic!("no usage known for {other}"),
    }
}

fn wrong(command: &'static str, found: &'static str) -> Result<Command, ParseError> {
    let (argument, usage) = usage_of(command);
    Err(ParseError::WrongToken {
        command,
        argument,
        found,
        usage,
    })
}

fn missing(command: &'static str) -> Result<Command, ParseError> {
    let (argument, usage) = usage_of(command);
    Err(ParseError::MissingArgument {
        command,
        argument,
        usage,
    })
}

fn unexpected(command: &'static str, extra: &str) -> Result<Command, ParseError> {
    let (argument, usage) = usage_of(command);
    Err(ParseError::UnexpectedArgument {
        command,
        argument,
        extra: extra.to_owned(),
        usage,
    })
}

/// Runs a table of `(text, dialect, expected)` rows and reports every row that disagrees at once.
fn check_table(rows: &[(&str, Dialect, Result<Command, ParseError>)]) {
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|(text, dialect, expected)| {
            let got = parse(text, *dialect);
            (got != *expected).then(|| {
                format!("{dialect:?} {text:?}\n  expected {expected:?}\n  got      {got:?}")
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows disagree:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn every_decoding_rule_of_the_slack_dialect_holds() {
    use Dialect::Slack;
    let rows: Vec<(&str, Dialect, Result<Command, ParseError>)> = vec![
        // Empty and whitespace-only text is help.
        ("", Slack, Ok(Command::Help(None))),
        ("   ", Slack, Ok(Command::Help(None))),
        ("\u{a0}\t\u{a0} ", Slack, Ok(Command::Help(None))),
        ("", Dialect::Plain, Ok(Command::Help(None))),
        // `&amp;` `&lt;` `&gt;` are decoded exactly once; other `&` text is left alone.
        ("search a&amp;b", Slack, Ok(words(&["a&b"]))),
        ("search &lt;b&gt;", Slack, Ok(words(&["<b>"]))),
        ("search &amp;lt;", Slack, Ok(words(&["&lt;"]))),
        ("search &amp;amp;", Slack, Ok(words(&["&amp;"]))),
        (
            "search AT&amp;T &amp;gt;x",
            Slack,
            Ok(words(&["AT&T", "&gt;x"])),
        ),
        (
            "search &foo; & &am",
            Slack,
            Ok(words(&["&foo;", "&", "&am"])),
        ),
        // A decoded `<` is the user's own text, never a mention.
        (
            "owner &lt;@U123&gt;",
            Slack,
            Ok(Command::Owner(name("<@U123>"))),
        ),
        // User mentions, including Enterprise Grid `W` ids without a label.
        (
            "owner <@U123|jane>",
            Slack,
            wrong("owner", "a user mention"),
        ),
        ("owner <@W123>", Slack, wrong("owner", "a user mention")),
        ("team <@W123>", Slack, wrong("team", "a user mention")),
        ("search <@U123|jane>", Slack, Ok(words(&["@jane"]))),
        ("search <@W123>", Slack, Ok(words(&["@W123"]))),
        // Channel mentions: the label is taken as the name.
        (
            "owner <#C123|checkout-api>",
            Slack,
            Ok(Command::Owner(name("checkout-api"))),
        ),
        (
            "service <#C123|checkout-api>",
            Slack,
            Ok(Command::Service(name("checkout-api"))),
        ),
        ("owner <#C123>", Slack, wrong("owner", "a channel mention")),
        ("owner <#C123|>", Slack, wrong("owner", "a channel mention")),
        (
            "search <#C123|checkout-api>",
            Slack,
            Ok(words(&["#checkout-api"])),
        ),
        // User-group mentions: `team` takes the handle without `@`; other commands refuse them.
        (
            "team <!subteam^S123|@payments-platform>",
            Slack,
            Ok(Command::Team(name("payments-platform"))),
        ),
        (
            "group <!subteam^S123|@payments-platform>",
            Slack,
            Ok(Command::Team(name("payments-platform"))),
        ),
        (
            "owner <!subteam^S123|@payments-platform>",
            Slack,
            wrong("owner", "a user-group mention"),
        ),
        (
            "team <!subteam^S123>",
            Slack,
            wrong("team", "a user-group mention"),
        ),
        (
            "search <!subteam^S123|@payments-platform>",
            Slack,
            Ok(words(&["@payments-platform"])),
        ),
        // Broadcasts are never names.
        (
            "owner <!here>",
            Slack,
            wrong("owner", "a broadcast mention"),
        ),
        (
            "team <!channel>",
            Slack,
            wrong("team", "a broadcast mention"),
        ),
        (
            "service <!everyone>",
            Slack,
            wrong("service", "a broadcast mention"),
        ),
        (
            "owner <!here|here>",
            Slack,
            wrong("owner", "a broadcast mention"),
        ),
        // Links: not a name, but their label is a search word.
        (
            "owner <https://x.example|label>",
            Slack,
            wrong("owner", "a link"),
        ),
        ("owner <https://x.example>", Slack, wrong("owner", "a link")),
        (
            "owner <mailto:jane@x.example|jane@x.example>",
            Slack,
            wrong("owner", "a link"),
        ),
        (
            "search <https://x.example|label>",
            Slack,
            Ok(words(&["label"])),
        ),
        (
            "search <https://x.example>",
            Slack,
            Ok(words(&["https://x.example"])),
        ),
        (
            "search <https://x.example/?a=1&amp;b=2>",
            Slack,
            Ok(words(&["https://x.example/?a=1&b=2"])),
        ),
        (
            "search <https://x.example|a &amp; b>",
            Slack,
            Ok(words(&["a & b"])),
        ),
        (
            "search checkout<https://x.example|docs>api",
            Slack,
            Ok(words(&["checkout", "docs", "api"])),
        ),
        // Quotes, straight or typographic, group a phrase.
        (
            "search \u{201c}checkout api\u{201d}",
            Slack,
            Ok(words(&["checkout api"])),
        ),
        (
            "search \u{201c}order history\u{201d} grpc",
            Slack,
            Ok(words(&["order history", "grpc"])),
        ),
        (
            "search \"checkout api\"",
            Slack,
            Ok(words(&["checkout api"])),
        ),
        (
            "search \u{ab}checkout api\u{bb}",
            Slack,
            Ok(words(&["checkout api"])),
        ),
        (
            "search \"checkout  api",
            Slack,
            Ok(words(&["checkout  api"])),
        ),
        (
            "owner \u{201c}checkout-api\u{201d}",
            Slack,
            Ok(Command::Owner(name("checkout-api"))),
        ),
        // Non-breaking and repeated spaces separate words like one space.
        (
            "owner\u{a0}checkout-api",
            Slack,
            Ok(Command::Owner(name("checkout-api"))),
        ),
        (
            "owner    checkout-api   ",
            Slack,
            Ok(Command::Owner(name("checkout-api"))),
        ),
        (
            "\u{a0} owner\u{a0}\u{a0} checkout-api\u{a0}",
            Slack,
            Ok(Command::Owner(name("checkout-api"))),
        ),
        (
            "search checkout\u{a0}\u{a0}api",
            Slack,
            Ok(words(&["checkout", "api"])),
        ),
        (
            "search checkout\u{200b}api",
            Slack,
            Ok(words(&["checkout", "api"])),
        ),
        // A leading `/idp` (as the shell may pass it) is dropped.
        (
            "/idp owner checkout-api",
            Dialect::Plain,
            Ok(Command::Owner(name("checkout-api"))),
        ),
        ("/idp", Dialect::Plain, Ok(Command::Help(None))),
        (
            "/idp   help owner",
            Dialect::Plain,
            Ok(Command::Help(Some("owner".to_owned()))),
        ),
        // Aliases and case-insensitive command names.
        (
            "info checkout-api",
            Slack,
            Ok(Command::Service(name("checkout-api"))),
        ),
        ("find payments", Slack, Ok(words(&["payments"]))),
        (
            "group payments-platform",
            Slack,
            Ok(Command::Team(name("payments-platform"))),
        ),
        (
            "who-owns checkout-api",
            Slack,
            Ok(Command::Owner(name("checkout-api"))),
        ),
        (
            "OWNER checkout-api",
            Slack,
            Ok(Command::Owner(name("checkout-api"))),
        ),
        (
            "Info checkout-api",
            Slack,
            Ok(Command::Service(name("checkout-api"))),
        ),
        (
            "Search Payments API",
            Slack,
            Ok(words(&["Payments", "API"])),
        ),
        ("help", Slack, Ok(Command::Help(None))),
        (
            "help owner",
            Slack,
            Ok(Command::Help(Some("owner".to_owned()))),
        ),
        (
            "HELP who-owns",
            Slack,
            Ok(Command::Help(Some("who-owns".to_owned()))),
        ),
        // `[kind:][namespace/]name`.
        (
            "owner component:payments/checkout-api",
            Slack,
            Ok(Command::Owner(NameQuery {
                kind: Some("component".to_owned()),
                namespace: Some("payments".to_owned()),
                name: "checkout-api".to_owned(),
            })),
        ),
        (
            "service api:checkout",
            Slack,
            Ok(Command::Service(NameQuery {
                kind: Some("api".to_owned()),
                namespace: None,
                name: "checkout".to_owned(),
            })),
        ),
        (
            "owner payments/checkout-api",
            Slack,
            Ok(Command::Owner(NameQuery {
                kind: None,
                namespace: Some("payments".to_owned()),
                name: "checkout-api".to_owned(),
            })),
        ),
        // Unknown subcommands come with close command names.
        (
            "ownr checkout-api",
            Slack,
            Err(ParseError::UnknownCommand {
                given: "ownr".to_owned(),
                suggestions: vec!["owner".to_owned()],
            }),
        ),
        (
            "serach payments",
            Slack,
            Err(ParseError::UnknownCommand {
                given: "serach".to_owned(),
                suggestions: vec![
                    "search".to_owned(),
                    "service".to_owned(),
                    "scorecard".to_owned(),
                ],
            }),
        ),
        (
            "deploy checkout-api",
            Slack,
            Err(ParseError::UnknownCommand {
                given: "deploy".to_owned(),
                suggestions: vec!["deploys".to_owned()],
            }),
        ),
        (
            "<@U123|jane> owner",
            Slack,
            Err(ParseError::UnknownCommand {
                given: "@jane".to_owned(),
                suggestions: vec![],
            }),
        ),
        // Missing arguments, including an empty quoted one.
        ("owner", Slack, missing("owner")),
        ("service", Slack, missing("service")),
        ("team\u{a0}", Slack, missing("team")),
        ("search", Slack, missing("search")),
        ("owner \"\"", Slack, missing("owner")),
        ("owner \" \"", Slack, missing("owner")),
        ("search \"\" \"  \"", Slack, missing("search")),
        // Extra arguments are refused, not silently dropped.
        (
            "owner checkout-api payments-api",
            Slack,
            unexpected("owner", "payments-api"),
        ),
        (
            "service checkout-api now please",
            Slack,
            unexpected("service", "now please"),
        ),
        (
            "team payments-platform <@U1|jane> <#C1|ops>",
            Slack,
            unexpected("team", "@jane #ops"),
        ),
    ];
    check_table(&rows);
}

#[test]
fn the_plain_dialect_keeps_angle_brackets_and_entities_literally() {
    use Dialect::Plain;
    let rows: Vec<(&str, Dialect, Result<Command, ParseError>)> = vec![
        (
            "search <b> &amp; a&lt;",
            Plain,
            Ok(words(&["<b>", "&amp;", "a&lt;"])),
        ),
        (
            "search <https://x.example|label>",
            Plain,
            Ok(words(&["<https://x.example|label>"])),
        ),
        (
            "owner <@U123|jane>",
            Plain,
            Ok(Command::Owner(name("<@U123|jane>"))),
        ),
        ("owner <!here>", Plain, Ok(Command::Owner(name("<!here>")))),
        (
            "owner AT&amp;T",
            Plain,
            Ok(Command::Owner(name("AT&amp;T"))),
        ),
        // Quotes, non-breaking spaces and `/idp` work the same in both dialects.
        (
            "search \u{201c}checkout api\u{201d}",
            Plain,
            Ok(words(&["checkout api"])),
        ),
        (
            "/idp\u{a0}owner  checkout-api",
            Plain,
            Ok(Command::Owner(name("checkout-api"))),
        ),
    ];
    check_table(&rows);
    // The same text from Slack is read as tokens (`<b>` is a link to `b`) and entities.
    assert_eq!(
        parse("search <b> &amp;", Dialect::Slack),
        Ok(words(&["b", "&"]))
    );
}

#[test]
fn parse_errors_read_as_sentences_with_the_usage_line() {
    let err =
        parse("owner <@U123|jane>", Dialect::Slack).expect_err("a user mention is no service name");
    assert_eq!(
        err.to_string(),
        "`owner` expects a service name, not a user mention. Usage: `/idp owner <service>`"
    );
    let err = parse("owner a b", Dialect::Slack).expect_err("two names");
    assert_eq!(
        err.to_string(),
        "`owner` got more than it takes: `b` is left over. Usage: `/idp owner <service>`"
    );
    let err = parse("search", Dialect::Slack).expect_err("no words");
    assert!(
        err.to_string().ends_with("Usage: `/idp search <words>`"),
        "{err}"
    );
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_manifest() -> String {
    std::fs::read_to_string(manifest_dir().join("manifest.yml")).expect("manifest.yml is readable")
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_folder_registry_help_and_manifest_agree() {
    // commands/ on disk and the compiled-in files are the same set, byte for byte.
    let dir = manifest_dir().join("commands");
    let mut on_disk: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("commands/ is readable")
        .map(|entry| {
            let entry = entry.expect("a directory entry");
            let text = std::fs::read_to_string(entry.path()).expect("a readable command file");
            (entry.file_name().to_string_lossy().into_owned(), text)
        })
        .collect();
    on_disk.sort();
    let mut compiled: Vec<(String, String)> = COMMAND_FILES
        .iter()
        .map(|(file, text)| ((*file).to_owned(), (*text).to_owned()))
        .collect();
    compiled.sort();
    let disk_names: Vec<&str> = on_disk.iter().map(|(f, _)| f.as_str()).collect();
    let compiled_names: Vec<&str> = compiled.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        disk_names, compiled_names,
        "commands/ and COMMAND_FILES list the same files"
    );
    for ((file, disk), (_, built)) in on_disk.iter().zip(&compiled) {
        assert_eq!(
            disk, built,
            "{file} on disk differs from the compiled-in copy"
        );
    }

    // The registry is exactly the compiled files, loaded without a single problem.
    let loaded = load_specs(COMMAND_FILES).expect("the compiled-in command files are valid");
    assert_eq!(loaded, *REGISTRY, "REGISTRY holds every command file");
    let registry_files: Vec<String> = REGISTRY
        .iter()
        .map(|s| format!("{}.toml", s.name))
        .collect();
    let compiled_order: Vec<&str> = COMMAND_FILES.iter().map(|(f, _)| *f).collect();
    assert_eq!(
        registry_files, compiled_order,
        "REGISTRY keeps the order of COMMAND_FILES"
    );

    // `idp check` finds nothing wrong with the folder or the manifest.
    let (specs, problems) = idp::check::commands_dir(&dir);
    assert!(problems.is_empty(), "commands/ has problems: {problems:#?}");
    assert_eq!(specs.len(), REGISTRY.len());
    let manifest = read_manifest();
    let problems = idp::check::manifest(&manifest, &specs);
    assert!(
        problems.is_empty(),
        "manifest.yml has problems: {problems:#?}"
    );

    // The help reply shows every command's usage line.
    let backends = crate::support::backends();
    let state = crate::support::demo_state(&backends[0]).await;
    let reply = crate::support::block(state.dispatch(
        &Caller::guest(Origin::Shell),
        "help",
        Dialect::Plain,
    ));
    let json = serde_json::to_string(&reply.ephemeral()).expect("the reply serializes");
    let shown = idp::shell::render(&reply, false);
    for spec in REGISTRY.iter() {
        let escaped = format!("/idp {}", idp::slack::mrkdwn::escape(&spec.usage));
        assert!(
            json.contains(&escaped),
            "help blocks lack `{escaped}`: {json}"
        );
        let plain = format!("/idp {}", spec.usage);
        assert!(
            shown.contains(&plain),
            "help text lacks `{plain}`:\n{shown}"
        );
        assert!(
            reply.text.contains(&spec.name),
            "help fallback lacks `{}`: {}",
            spec.name,
            reply.text
        );
    }
}

#[test]
fn the_manifest_check_catches_escaping_off_and_a_missing_email_scope() {
    let manifest = read_manifest();
    let specs = REGISTRY.as_slice();

    let unescaped = manifest.replace("should_escape: true", "should_escape: false");
    assert_ne!(unescaped, manifest, "the manifest sets should_escape: true");
    let problems = idp::check::manifest(&unescaped, specs);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].contains("should_escape"), "{problems:#?}");

    let no_email: String = manifest
        .lines()
        .filter(|l| !l.trim_start().starts_with("- users:read.email"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(no_email, manifest, "the manifest asks for users:read.email");
    assert!(
        no_email.contains("- users:read "),
        "only the email scope was removed"
    );
    let problems = idp::check::manifest(&no_email, specs);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].contains("users:read.email"), "{problems:#?}");

    let no_team: String = manifest.replace(" | team <group>", "");
    let problems = idp::check::manifest(&no_team, specs);
    assert!(
        problems.iter().any(|p| p.contains("`team`")),
        "{problems:#?}"
    );
}

#[test]
fn an_absurdly_long_name_is_refused_before_any_lookup() {
    let long = "x".repeat(100_000);
    let err = idp::command::parse(&format!("owner {long}"), Dialect::Slack).expect_err("too long");
    assert!(err.to_string().contains("at most 200 characters"), "{err}");
    let err = idp::command::parse("can none checkout-api", Dialect::Slack)
        .expect_err("none is not an action");
    assert!(err.to_string().contains("known actions"), "{err}");
    let err = idp::command::parse("can rolback checkout-api", Dialect::Slack).expect_err("typo");
    assert!(err.to_string().contains("did you mean rollback"), "{err}");
    assert!(
        matches!(idp::command::parse("team @payments-platform", Dialect::Plain), Ok(idp::command::Command::Team(q)) if q.name == "payments-platform")
    );
}
