//! The `/idp` command language: every decoding rule of the Slack dialect, the plain dialect, and the
//! agreement between `commands/`, the compiled-in registry, the help reply and `manifest.yml`.

use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use idp::authz::{Caller, Origin};
use idp::catalog::NameQuery;
use idp::command::spec::{COMMAND_FILES, REGISTRY, load_specs};
use idp::command::{Command, Dialect, OwnerQuery, ParseError};

/// The fixed "now" every row is parsed at, so relative times are deterministic.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 10, 12, 0, 0)
        .single()
        .expect("a valid time")
}

/// Parses at [`now`].
fn parse(text: &str, dialect: Dialect) -> Result<Command, ParseError> {
    idp::command::parse(text, dialect, now())
}

fn name(n: &str) -> NameQuery {
    NameQuery {
        kind: None,
        namespace: None,
        name: n.to_owned(),
    }
}

fn owner(n: &str) -> Command {
    Command::Owner(OwnerQuery::Name(name(n)))
}

fn words(w: &[&str]) -> Command {
    Command::Search(w.iter().map(|s| (*s).to_owned()).collect())
}

/// The usage line and argument name each one-name command reports in its errors.
fn usage_of(command: &'static str) -> (String, String) {
    match command {
        "owner" => (
            "service".to_owned(),
            "owner <service|repo-url|@person|#channel>".to_owned(),
        ),
        "service" => ("name".to_owned(), "service <name>".to_owned()),
        "team" => ("group".to_owned(), "team <group>".to_owned()),
        "search" => ("words".to_owned(), "search <words>".to_owned()),
        "oncall" => ("target".to_owned(), "oncall <service|group>".to_owned()),
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

fn person(user_id: &str) -> Result<Command, ParseError> {
    Ok(Command::Owner(OwnerQuery::Person {
        user_id: user_id.to_owned(),
    }))
}

fn channel(id: &str, name: Option<&str>) -> Result<Command, ParseError> {
    Ok(Command::Owner(OwnerQuery::Channel {
        id: id.to_owned(),
        name: name.map(str::to_owned),
    }))
}

fn url(u: &str) -> Result<Command, ParseError> {
    Ok(Command::Owner(OwnerQuery::Url(u.to_owned())))
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
        ("owner &lt;@U123&gt;", Slack, Ok(owner("<@U123>"))),
        // User mentions, including Enterprise Grid `W` ids without a label: `owner` asks what
        // that person's teams own; other commands want a name.
        ("owner <@U123|jane>", Slack, person("U123")),
        ("owner <@W123>", Slack, person("W123")),
        (
            "service <@U123|jane>",
            Slack,
            wrong("service", "a user mention"),
        ),
        ("team <@W123>", Slack, wrong("team", "a user mention")),
        ("search <@U123|jane>", Slack, Ok(words(&["@jane"]))),
        ("search <@W123>", Slack, Ok(words(&["@W123"]))),
        // Channel mentions: `owner` keeps the channel; elsewhere the label is taken as the name.
        (
            "owner <#C123|checkout-api>",
            Slack,
            channel("C123", Some("checkout-api")),
        ),
        (
            "service <#C123|checkout-api>",
            Slack,
            Ok(Command::Service(name("checkout-api"))),
        ),
        ("owner <#C123>", Slack, channel("C123", None)),
        ("owner <#C123|>", Slack, channel("C123", None)),
        (
            "service <#C123>",
            Slack,
            wrong("service", "a channel mention"),
        ),
        (
            "service <#C123|>",
            Slack,
            wrong("service", "a channel mention"),
        ),
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
        // Links: `owner` reads a web URL (never its label); elsewhere a link is not a name, but its
        // label is a search word.
        (
            "owner <https://x.example|label>",
            Slack,
            url("https://x.example/"),
        ),
        (
            "owner <https://x.example>",
            Slack,
            url("https://x.example/"),
        ),
        (
            "service <https://x.example>",
            Slack,
            wrong("service", "a link"),
        ),
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
            Ok(owner("checkout-api")),
        ),
        // Non-breaking and repeated spaces separate words like one space.
        ("owner\u{a0}checkout-api", Slack, Ok(owner("checkout-api"))),
        ("owner    checkout-api   ", Slack, Ok(owner("checkout-api"))),
        (
            "\u{a0} owner\u{a0}\u{a0} checkout-api\u{a0}",
            Slack,
            Ok(owner("checkout-api")),
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
            Ok(owner("checkout-api")),
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
        ("who-owns checkout-api", Slack, Ok(owner("checkout-api"))),
        ("OWNER checkout-api", Slack, Ok(owner("checkout-api"))),
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
            Ok(Command::Owner(OwnerQuery::Name(NameQuery {
                kind: Some("component".to_owned()),
                namespace: Some("payments".to_owned()),
                name: "checkout-api".to_owned(),
            }))),
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
            Ok(Command::Owner(OwnerQuery::Name(NameQuery {
                kind: None,
                namespace: Some("payments".to_owned()),
                name: "checkout-api".to_owned(),
            }))),
        ),
        // Unknown subcommands come with close command names.
        (
            "ownr checkout-api",
            Slack,
            Err(ParseError::UnknownCommand {
                given: "ownr".to_owned(),
                suggestions: vec!["owner".to_owned()],
                rest: "checkout-api".to_owned(),
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
                rest: "payments".to_owned(),
            }),
        ),
        (
            "deploy checkout-api",
            Slack,
            Err(ParseError::UnknownCommand {
                given: "deploy".to_owned(),
                suggestions: vec!["deploys".to_owned()],
                rest: "checkout-api".to_owned(),
            }),
        ),
        (
            "<@U123|jane> owner",
            Slack,
            Err(ParseError::UnknownCommand {
                given: "@jane".to_owned(),
                suggestions: vec![],
                rest: "owner".to_owned(),
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
        ("owner <@U123|jane>", Plain, Ok(owner("<@U123|jane>"))),
        ("owner <!here>", Plain, Ok(owner("<!here>"))),
        ("owner AT&amp;T", Plain, Ok(owner("AT&amp;T"))),
        // Quotes, non-breaking spaces and `/idp` work the same in both dialects.
        (
            "search \u{201c}checkout api\u{201d}",
            Plain,
            Ok(words(&["checkout api"])),
        ),
        (
            "/idp\u{a0}owner  checkout-api",
            Plain,
            Ok(owner("checkout-api")),
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
        parse("team <@U123|jane>", Dialect::Slack).expect_err("a user mention is no group name");
    assert_eq!(
        err.to_string(),
        "`team` expects a group name, not a user mention. Usage: `/idp team <group>`"
    );
    let err = parse("owner a b", Dialect::Slack).expect_err("two names");
    assert_eq!(
        err.to_string(),
        "`owner` got more than it takes: `b` is left over. Usage: `/idp owner <service|repo-url|@person|#channel>`"
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
    let long = "x".repeat(5_000);
    let err = parse(&format!("owner {long}"), Dialect::Slack).expect_err("too long");
    assert!(err.to_string().contains("at most 200 characters"), "{err}");
    let long = "x".repeat(100_000);
    let err = parse(&format!("owner {long}"), Dialect::Slack).expect_err("far too long");
    assert_eq!(
        err,
        ParseError::TooLong {
            chars: 100_006,
            max: idp::command::MAX_TEXT_CHARS
        }
    );
    let err = parse("can none checkout-api", Dialect::Slack).expect_err("none is not an action");
    assert!(err.to_string().contains("known actions"), "{err}");
    let err = parse("can rolback checkout-api", Dialect::Slack).expect_err("typo");
    assert!(err.to_string().contains("did you mean rollback"), "{err}");
    assert!(
        matches!(parse("team @payments-platform", Dialect::Plain), Ok(idp::command::Command::Team(q)) if q.name == "payments-platform")
    );
}

#[test]
fn owner_takes_a_name_a_repository_url_a_person_or_a_channel() {
    use Dialect::{Plain, Slack};
    let checkout = "https://github.com/acme/checkout-api";
    let rows: Vec<(&str, Dialect, Result<Command, ParseError>)> = vec![
        // Names, as before, from both dialects.
        ("owner checkout-api", Slack, Ok(owner("checkout-api"))),
        ("owner #checkout-api", Plain, Ok(owner("checkout-api"))),
        ("owner @jane", Plain, Ok(owner("jane"))),
        // A repository URL as Slack sends a pasted link: with and without its `|label`, which is
        // dropped (it may be shortened or differ from the URL).
        (
            "owner <https://github.com/acme/checkout-api|github.com/acme/checkout-api>",
            Slack,
            url(checkout),
        ),
        (
            "owner <https://github.com/acme/checkout-api>",
            Slack,
            url(checkout),
        ),
        (
            "who-owns <https://github.com/acme/checkout-api|the repo>",
            Slack,
            url(checkout),
        ),
        (
            "owner <https://github.com/acme/checkout-api/tree/main?tab=x&amp;y=1|link>",
            Slack,
            url("https://github.com/acme/checkout-api/tree/main?tab=x&y=1"),
        ),
        (
            "owner <HTTPS://GitHub.com/acme/checkout-api>",
            Slack,
            url(checkout),
        ),
        // Typed or pasted in a terminal, with or without the scheme.
        (
            "owner https://github.com/acme/checkout-api",
            Plain,
            url(checkout),
        ),
        ("owner github.com/acme/checkout-api", Plain, url(checkout)),
        ("owner github.com/acme/checkout-api", Slack, url(checkout)),
        // A namespace has no dot, so `namespace/name` stays a name.
        (
            "owner payments/checkout-api",
            Plain,
            Ok(Command::Owner(OwnerQuery::Name(NameQuery::parse(
                "payments/checkout-api",
            )))),
        ),
        // A person: the id counts, the label does not.
        ("owner <@U123>", Slack, person("U123")),
        ("owner <@U123|jane>", Slack, person("U123")),
        ("who-owns <@W0AB12|jane.doe>", Slack, person("W0AB12")),
        // A channel: the id, and its name when Slack sends one.
        (
            "owner <#C123|checkout-api>",
            Slack,
            channel("C123", Some("checkout-api")),
        ),
        ("owner <#G42|ops>", Slack, channel("G42", Some("ops"))),
        ("owner <#C123>", Slack, channel("C123", None)),
        // Still refused: user groups, broadcasts, mail links, and more than one thing.
        (
            "owner <!subteam^S1|@payments>",
            Slack,
            wrong("owner", "a user-group mention"),
        ),
        (
            "owner <!channel>",
            Slack,
            wrong("owner", "a broadcast mention"),
        ),
        (
            "owner <mailto:jane@x.example|jane@x.example>",
            Slack,
            wrong("owner", "a link"),
        ),
        ("owner <@U1> <#C1|x>", Slack, unexpected("owner", "#x")),
        ("owner", Slack, missing("owner")),
    ];
    check_table(&rows);
}

#[test]
fn malformed_mentions_and_urls_given_to_owner_get_a_specific_error() {
    let invalid = |text: &str, argument: &str, says: &str| match parse(text, Dialect::Slack) {
        Err(ParseError::InvalidArgument {
            command: "owner",
            argument: a,
            reason,
            ..
        }) => {
            assert_eq!(a, argument, "{text}");
            assert!(reason.contains(says), "{text}: {reason}");
        }
        other => panic!("{text}: {other:?}"),
    };
    invalid("owner <@>", "person", "carries no id");
    invalid("owner <@|jane>", "person", "carries no id");
    invalid("owner <#>", "channel", "carries no id");
    invalid("owner <#|checkout-api>", "channel", "carries no id");
    invalid("owner <@U1-2>", "person", "letters and digits");
    invalid(
        &format!("owner <@U{}>", "1".repeat(40)),
        "person",
        "letters and digits",
    );
    invalid(
        &format!("owner <#C1|{}>", "a".repeat(81)),
        "channel",
        "at most 80",
    );
    invalid("owner https://", "repository URL", "not a URL");
    invalid("owner <https://|label>", "repository URL", "not a URL");
    invalid(
        &format!("owner https://github.com/{}", "a".repeat(2_000)),
        "repository URL",
        "at most 2000 characters",
    );
    // `<#C1|>` is what Slack sends for a channel it does not name: well formed, without a name.
    assert_eq!(parse("owner <#C1|>", Dialect::Slack), channel("C1", None));
    // The message says what was wrong in a sentence.
    let err = parse("owner <@>", Dialect::Slack).expect_err("no id");
    assert_eq!(
        err.to_string(),
        "`owner`: `<@>` is not a valid person: the mention carries no id; pick from the list Slack \
         shows as you type @. Usage: `/idp owner <service|repo-url|@person|#channel>`"
    );
}

#[test]
fn huge_input_is_refused_quickly_with_a_short_message() {
    let started = std::time::Instant::now();
    let shapes = [
        format!("owner {}", "x".repeat(40_000)),
        format!("search {}", "word ".repeat(8_000)),
        format!("owner {}", "<".repeat(40_000)),
        format!("ownr {}", "<@U1> ".repeat(7_000)),
        "\u{a0}".repeat(40_000),
        format!("owner <https://github.com/{}>", "a/".repeat(20_000)),
    ];
    for text in &shapes {
        assert!(text.chars().count() >= 40_000);
        for dialect in [Dialect::Slack, Dialect::Plain] {
            let err = parse(text, dialect).expect_err("too long");
            assert!(
                matches!(err, ParseError::TooLong { max, .. } if max == idp::command::MAX_TEXT_CHARS),
                "{err:?}"
            );
            assert!(err.to_string().len() < 100, "{err}");
        }
    }
    // Just under the limit, every shape is read in one pass and errs with a bounded message.
    let near = [
        format!("search {}", "<".repeat(9_000)),
        format!("owner {}", "x y ".repeat(2_400)),
        format!("rollback a b to {}", "v ".repeat(4_900)),
        format!("ownr {}", "x ".repeat(4_900)),
    ];
    for text in &near {
        assert!(text.chars().count() <= idp::command::MAX_TEXT_CHARS);
        if let Err(err) = parse(text, Dialect::Slack) {
            assert!(err.to_string().chars().count() < 500, "{err}");
        }
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn audit_times_count_back_from_the_now_passed_in() {
    let at = |text: &str, now: DateTime<Utc>| match idp::command::parse(text, Dialect::Slack, now) {
        Ok(Command::Audit { since, target }) => (since, target.map(|t| t.name)),
        other => panic!("{text}: {other:?}"),
    };
    let two_hours_before = now() - chrono::TimeDelta::hours(2);
    assert_eq!(at("audit since 2h", now()), (Some(two_hours_before), None));
    assert_eq!(at("audit 2h", now()), (Some(two_hours_before), None));
    assert_eq!(
        at("audit checkout-api since 2h", now()),
        (Some(two_hours_before), Some("checkout-api".to_owned()))
    );
    assert_eq!(at("audit since now", now()), (Some(now()), None));
    // The same text at another now gives another, equally exact, time.
    let later = now() + chrono::TimeDelta::days(1);
    assert_eq!(
        at("audit since 2h", later),
        (Some(later - chrono::TimeDelta::hours(2)), None)
    );
    // Dates do not depend on now at all.
    let may_first = Utc
        .with_ymd_and_hms(2026, 5, 1, 0, 0, 0)
        .single()
        .expect("a valid time");
    assert_eq!(at("audit since 2026-05-01", later), (Some(may_first), None));
    // `since` wants a time after it.
    assert!(matches!(
        parse("audit since", Dialect::Slack),
        Err(ParseError::MissingArgument {
            command: "audit",
            ..
        })
    ));
    assert!(matches!(
        parse("audit since yesterday", Dialect::Slack),
        Err(ParseError::InvalidArgument { command: "audit", ref argument, .. }) if argument == "since"
    ));
}

#[test]
fn a_mistyped_command_is_suggested_with_the_rest_of_the_line() {
    let suggestions = |text: &str| {
        parse(text, Dialect::Slack)
            .expect_err(text)
            .suggested_commands()
    };
    let rows = [
        (
            "rolback checkout-api production to 1.4.2",
            "rollback checkout-api production to 1.4.2",
        ),
        (
            "cann deploy checkout-api production",
            "can deploy checkout-api production",
        ),
        (
            "digets subscribe <#C0PAY|payments> <!subteam^S1|@payments-platform> weekly mon 09:00 Europe/Berlin",
            "digest subscribe #payments @payments-platform weekly mon 09:00 Europe/Berlin",
        ),
        (
            "serach \u{201c}order history\u{201d} grpc",
            "search \"order history\" grpc",
        ),
        ("ownr", "owner"),
    ];
    for (typed, suggested) in rows {
        let offered = suggestions(typed);
        assert!(
            offered.iter().any(|o| o == suggested),
            "{typed}: {offered:?}"
        );
    }
    // Other errors suggest nothing.
    let err = parse("owner", Dialect::Slack).expect_err("missing");
    assert!(err.suggested_commands().is_empty());
}

#[test]
fn the_command_module_does_no_io_and_reads_no_clock() {
    let dir = manifest_dir().join("src/command");
    let forbidden = [
        "tokio",
        "sqlx",
        "reqwest",
        "axum",
        "hyper",
        "slack_morphism",
        "std::fs",
        "std::env",
        "std::net",
        "std::process",
        "std::io",
        "Utc::now",
        "Local::now",
        "SystemTime",
        "Instant::now",
        "parse_time_now",
        "crate::store",
        "crate::slack",
        "crate::handlers",
        "crate::app",
    ];
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("src/command is readable")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "found {files:?}");
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a readable source file");
        for (n, line) in text.lines().enumerate() {
            for name in forbidden {
                if line.contains(name) {
                    found.push(format!("{}:{}: {name}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "command/ must stay pure:\n{}",
        found.join("\n")
    );
}
