//! `/idp scorecard` and the digest's content: a service's checks with their fixes, a group's
//! ranking, digest rendering (3 and 500 services, within Block Kit's limits), regressions first
//! from the stored history, `digest preview`, and the end-to-end "done when": a subscription made
//! with `/idp digest subscribe` posts the production-readiness digest once at its time.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use idp::AppState;
use idp::app::RequestMeta;
use idp::authz::{Caller, Origin, Policy};
use idp::catalog::{CatalogService, EntityRef};
use idp::command::{self, Dialect};
use idp::oncall::OnCallService;
use idp::scorecards::report::{self, Digest};
use idp::scorecards::scheduler::{ManualClock, Scheduler, SchedulerOptions};
use idp::scorecards::source::ScorerDigests;
use idp::scorecards::{self, Scorer, ScorerOptions};
use idp::slack::client::SlackApi;
use idp::slack::digest_sink::SlackDigestSink;
use idp::slack::render::{MAX_BLOCKS, MAX_SECTION, Reply};
use idp::slack::scorecard_message::{FIX_TEMPLATE_ACTION, render_digest};
use idp::slack::verify::SignatureVerifier;
use serde_json::Value;

use crate::fakes::slack::{BOT_TOKEN, FakeSlack};
use crate::harness::{INCIDENT, Options, spawn_app};
use crate::support::{self, Backend};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("a time")
        .with_timezone(&Utc)
}

/// The demo catalog copied to a temporary directory, so a test can change it.
fn demo_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    for entry in std::fs::read_dir(repo().join("catalog/demo")).expect("the demo catalog") {
        let entry = entry.expect("an entry");
        if entry.file_type().expect("a type").is_file() {
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copied");
        }
    }
    dir
}

/// Edits checkout-api in the copy: its alerts annotation goes (a regression), tracing is enabled
/// (an improvement).
fn break_alerts_fix_tracing(dir: &Path) {
    let path = dir.join("components.yaml");
    let text = std::fs::read_to_string(&path).expect("components");
    let edited = text.replacen(
        "    argocd/app-name: checkout-api-prod\n    prometheus.io/alert: all\n",
        "    argocd/app-name: checkout-api-prod\n    idp.dev/tracing: enabled\n",
        1,
    );
    assert_ne!(
        text, edited,
        "checkout-api's annotations are where the test expects"
    );
    std::fs::write(&path, edited).expect("written");
}

struct Rig {
    state: Arc<AppState>,
    scorer: Arc<Scorer>,
    entry: PathBuf,
    _dir: tempfile::TempDir,
}

impl Rig {
    async fn resync(&self) {
        let reports = self
            .state
            .catalog
            .sync(std::slice::from_ref(&self.entry))
            .await;
        assert!(
            reports.iter().all(|r| r.outcome.is_ok()),
            "the catalog syncs"
        );
    }
}

/// The demo catalog (a changeable copy) with the repository's scorecards attached.
async fn rig(backend: &Backend) -> Rig {
    let dir = demo_copy();
    let entry = dir.path().join("all.yaml");
    let catalog = Arc::new(
        CatalogService::open(backend.store().await)
            .await
            .expect("open catalog"),
    );
    let reports = catalog.sync(std::slice::from_ref(&entry)).await;
    assert!(reports.iter().all(|r| r.outcome.is_ok()), "the demo syncs");
    let settings =
        idp::config::Settings::load(Some(&repo().join("idp.toml")), |_| None).expect("settings");
    let oncall = Arc::new(
        OnCallService::new(&settings.file.oncall, "https://api.pagerduty.com", None)
            .expect("on-call"),
    );
    let definitions = scorecards::load(&repo().join("scorecards.yaml")).expect("demo scorecards");
    let scorer = Arc::new(Scorer::new(
        Arc::new(definitions),
        catalog.clone(),
        oncall.clone(),
        ScorerOptions::default(),
    ));
    let verifier = SignatureVerifier::new(&secrecy::SecretString::from(support::SECRET));
    let state =
        AppState::with_services(catalog, Arc::new(Policy::builtin()), oncall, Some(verifier))
            .with_scorecards(scorer.clone());
    Rig {
        state: Arc::new(state),
        scorer,
        entry,
        _dir: dir,
    }
}

fn slack_caller(user: Option<&str>) -> Caller {
    let origin = Origin::Slack {
        team_id: "T0001".into(),
        user_id: "U1MEI".into(),
        channel_id: "C0PAY".into(),
    };
    match user {
        Some(u) => Caller::user(origin, EntityRef::new("user", "default", u)),
        None => Caller::guest(origin),
    }
}

async fn run(state: &AppState, caller: &Caller, text: &str) -> Reply {
    let (snapshot, handled) = state
        .execute(
            "req-1",
            caller,
            command::parse(text, Dialect::Slack, chrono::Utc::now()),
            text,
            RequestMeta {
                idempotency_key: None,
                channel_id: Some("C0PAY"),
            },
        )
        .await;
    state.render("req-1", &snapshot, &handled)
}

fn json_of(reply: &Reply) -> Value {
    serde_json::to_value(reply.ephemeral()).expect("json")
}

/// The mrkdwn and plain texts of a reply's blocks, in order.
fn texts(blocks: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for b in blocks.as_array().into_iter().flatten() {
        if let Some(t) = b.pointer("/text/text").and_then(Value::as_str) {
            out.push(t.to_owned());
        }
        for e in b
            .get("elements")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(t) = e.get("text").and_then(Value::as_str) {
                out.push(t.to_owned());
            }
        }
    }
    out
}

/// Block Kit's limits: at most 50 blocks, sections of at most 3,000 characters.
fn assert_within_limits(blocks: &Value, what: &str) {
    let blocks = blocks.as_array().expect("blocks");
    assert!(
        blocks.len() <= MAX_BLOCKS,
        "{what}: {} blocks",
        blocks.len()
    );
    for b in blocks {
        if let Some(t) = b.pointer("/text/text").and_then(Value::as_str) {
            assert!(
                t.chars().count() <= MAX_SECTION,
                "{what}: a section of {} chars",
                t.chars().count()
            );
        }
    }
}

const T0: &str = "2026-03-01T09:00:00Z";
const T1: &str = "2026-03-09T10:00:00Z";

#[tokio::test(flavor = "multi_thread")]
async fn scorecard_checkout_api_tells_what_to_fix_and_the_group_ranks_its_services() {
    for backend in support::backends() {
        let r = rig(&backend).await;
        r.scorer.evaluate_now(utc(T0)).await.expect("evaluated");
        let guest = slack_caller(None);

        let reply = run(&r.state, &guest, "scorecard checkout-api").await;
        insta::assert_json_snapshot!("scorecard_checkout_api", reply.ephemeral());
        let json = json_of(&reply);
        let all = texts(&json["blocks"]).join("\n");
        assert!(all.contains("Tracing enabled"), "{}: {all}", backend.name);
        assert!(all.contains("/idp new-service backend-service"), "{all}");
        assert!(
            all.contains("Next level, gold:* needs Tracing enabled"),
            "{all}"
        );
        let button = json["blocks"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|b| b.get("accessory"))
            .expect("a Fix button");
        assert_eq!(button["action_id"], FIX_TEMPLATE_ACTION);
        assert_eq!(button["value"], "template:default/backend-service");

        let reply = run(&r.state, &guest, "scorecard payments-platform").await;
        insta::assert_json_snapshot!("scorecard_payments_platform", reply.ephemeral());
        let all = texts(&json_of(&reply)["blocks"]).join("\n");
        let fraud = all.find("`fraud-scoring`").expect("fraud-scoring listed");
        let gateway = all
            .find("`payment-gateway`")
            .expect("payment-gateway listed");
        assert!(fraud < gateway, "lowest score first: {all}");
        assert!(all.contains("*Tracing enabled* fails in 2 of 3"), "{all}");

        let reply = run(&r.state, &guest, "scorecard checkout-api no-such-card").await;
        assert!(
            reply.text.contains("there is no scorecard no-such-card"),
            "{}",
            reply.text
        );
        let reply = run(&r.state, &guest, "scorecard money-lib").await;
        assert!(
            reply.text.contains("no scorecard applies"),
            "{}",
            reply.text
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scorecard_without_results_yet_is_evaluated_on_demand() {
    let backends = support::backends();
    let r = rig(&backends[0]).await;
    assert!(r.scorer.latest().is_none());
    let reply = run(&r.state, &slack_caller(None), "scorecard checkout-api").await;
    assert!(
        reply.text.contains("Checkout API: 92/100"),
        "{}",
        reply.text
    );
    assert!(r.scorer.latest().is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_digest_leads_with_regressions_from_the_stored_history() {
    for backend in support::backends() {
        let r = rig(&backend).await;
        r.scorer.evaluate_now(utc(T0)).await.expect("evaluated");
        break_alerts_fix_tracing(r._dir.path());
        r.resync().await;
        let latest = r.scorer.evaluate_now(utc(T1)).await.expect("re-evaluated");
        let group = EntityRef::new("group", "default", "payments-platform");
        let digest = report::digest(
            &latest,
            r.state.catalog.store(),
            &group,
            Some(utc("2026-03-09T09:00:00Z")),
            utc("2026-03-16T09:00:00Z"),
        )
        .await
        .expect("a digest");
        assert_eq!(digest.regressions.len(), 1, "{}: {digest:#?}", backend.name);
        assert_eq!(digest.regressions[0].check, "Alerts configured");
        assert_eq!(digest.regressions[0].since, utc(T1));
        assert_eq!(digest.improvements.len(), 1);
        assert_eq!(digest.improvements[0].check, "Tracing enabled");
        let reply = render_digest(&digest);
        insta::assert_json_snapshot!("digest_payments_platform", reply.ephemeral());
        let all = texts(&json_of(&reply)["blocks"]).join("\n");
        let worse = all.find("Got worse").expect("regressions shown");
        let next = all.find("Fix next").expect("what to fix shown");
        let better = all.find("Got better").expect("improvements shown");
        assert!(worse < next && next < better, "regressions first: {all}");
        assert!(
            all.contains(
                "`checkout-api` started failing *Alerts configured* since Mon 2026-03-09 10:00 UTC"
            ),
            "{all}"
        );
        assert_within_limits(&json_of(&reply)["blocks"], "3 services");
    }
}

fn large_digest(n: usize) -> Digest {
    let at = Utc
        .with_ymd_and_hms(2026, 3, 9, 10, 0, 0)
        .single()
        .expect("a time");
    report::synthetic_digest(n, at)
}

#[test]
fn digests_of_3_and_500_services_hold_block_kit_limits() {
    let small = render_digest(&large_digest(3));
    insta::assert_json_snapshot!("digest_3_services", small.ephemeral());
    assert_within_limits(&json_of(&small)["blocks"], "3 services");
    let big = render_digest(&large_digest(500));
    insta::assert_json_snapshot!("digest_500_services", big.ephemeral());
    let json = json_of(&big);
    assert_within_limits(&json["blocks"], "500 services");
    let all = texts(&json["blocks"]).join("\n");
    assert!(
        all.contains("…and 241 more"),
        "regressions cut with a count: {all}"
    );
    assert!(
        all.contains("`/idp scorecard big-team` shows them all"),
        "{all}"
    );
    assert!(!all.contains("<b>"), "catalog text is escaped");
    let chars: usize = texts(&json["blocks"])
        .iter()
        .map(|t| t.chars().count())
        .sum();
    assert!(chars < 50 * MAX_SECTION, "{chars} characters");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_made_with_the_command_posts_the_digest_once_at_its_time_regressions_first()
{
    for backend in support::backends() {
        let r = rig(&backend).await;
        let now = Utc::now();
        // History: passing ten days ago, alerts broken yesterday.
        r.scorer
            .evaluate_now(now - chrono::Duration::days(10))
            .await
            .expect("evaluated");
        break_alerts_fix_tracing(r._dir.path());
        r.resync().await;
        r.scorer
            .evaluate_now(now - chrono::Duration::days(1))
            .await
            .expect("re-evaluated");

        let mei = slack_caller(Some("mei.tanaka"));
        let reply = run(
            &r.state,
            &mei,
            "digest subscribe payments-platform daily 09:00 UTC",
        )
        .await;
        assert!(
            reply.text.contains("subscribed"),
            "{}: {}",
            backend.name,
            reply.text
        );

        let fake = FakeSlack::start().await;
        let api = SlackApi::new(
            &fake.url,
            &secrecy::SecretString::from(BOT_TOKEN),
            Duration::from_secs(5),
        )
        .expect("a Slack client");
        let due = idp::scorecards::schedule::Schedule::parse("daily 09:00 UTC")
            .expect("a schedule")
            .next_due_after(now)
            .expect("a due time");
        let clock = Arc::new(ManualClock::new(due - chrono::Duration::seconds(1)));
        let scheduler = Scheduler::new(
            r.state.catalog.clone(),
            Arc::new(ScorerDigests::new(r.scorer.clone())),
            Arc::new(SlackDigestSink::new(api, render_digest)),
            clock.clone(),
            SchedulerOptions::default(),
        );
        let early = scheduler.tick().await.expect("a tick");
        assert_eq!(early.posted, 0, "not before its time");
        clock.set(due);
        assert_eq!(scheduler.tick().await.expect("a tick").posted, 1);
        clock.advance(chrono::Duration::minutes(5));
        assert_eq!(scheduler.tick().await.expect("a tick").posted, 0, "once");
        let posts = fake.messages_to("C0PAY");
        assert_eq!(posts.len(), 1, "{}", backend.name);
        let blocks: Value = match &posts[0]["blocks"] {
            Value::String(s) => serde_json::from_str(s).expect("blocks json"),
            other => other.clone(),
        };
        let all = texts(&blocks).join("\n");
        assert!(all.contains("Production readiness digest"), "{all}");
        let worse = all.find("Got worse").expect("regressions shown");
        let next = all.find("Fix next").expect("fixes shown");
        assert!(worse < next, "regressions first: {all}");
        assert!(
            all.contains("`checkout-api` started failing *Alerts configured*"),
            "{all}"
        );

        // The same content previewed, to the caller only.
        let preview = run(&r.state, &mei, "digest preview payments-platform").await;
        let shown = texts(&json_of(&preview)["blocks"]).join("\n");
        assert!(
            shown.contains("`checkout-api` started failing *Alerts configured*"),
            "{shown}"
        );
        assert_eq!(json_of(&preview)["response_type"], "ephemeral");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn digest_preview_answers_for_unknown_groups_and_without_scorecards() {
    let backends = support::backends();
    let r = rig(&backends[0]).await;
    let reply = run(&r.state, &slack_caller(None), "digest preview no-such-team").await;
    assert!(
        reply.text.to_lowercase().contains("no-such-team"),
        "{}",
        reply.text
    );
    let plain = support::demo_state(&backends[0]).await;
    let reply = run(
        &plain,
        &slack_caller(None),
        "digest preview payments-platform",
    )
    .await;
    assert!(
        reply.text.contains("No digest to preview"),
        "{}",
        reply.text
    );
    let reply = run(&plain, &slack_caller(None), "scorecard checkout-api").await;
    assert!(
        reply.text.contains("No scorecards configured"),
        "{}",
        reply.text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fix_button_opens_the_golden_path_modal_of_its_template() {
    let backend = &support::backends()[0];
    let h = spawn_app(backend, Options::default()).await;
    let clicked = h
        .click(
            "U1MEI",
            INCIDENT,
            FIX_TEMPLATE_ACTION,
            "template:default/backend-service",
            "fix-1",
        )
        .await;
    assert_eq!(clicked.status, 200, "{}", clicked.body);
    let opened = h.wait_for("views.open", 1).await;
    let view = opened[0]["view"].to_string();
    assert!(
        view.contains("idp_new_service"),
        "the new-service modal: {view}"
    );
    assert!(
        !view.contains("template:default/frontend-app"),
        "the template's own step, not the list: {view}"
    );
    h.stop().await;
}
