//! Digest subscriptions, schedules and the exactly-once scheduler: schedule parsing, time zones
//! and daylight saving, the due instant, two schedulers on one database, a restart after missed
//! periods, Slack's errors from the fake (not_in_channel, channel_not_found, is_archived, 429),
//! the store on both backends, and the `digest` command.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use idp::app::RequestMeta;
use idp::authz::{Caller, Origin};
use idp::catalog::{CatalogService, EntityRef};
use idp::command::{self, Command, Dialect, DigestCommand};
use idp::scorecards::schedule::{EXPECTED, Schedule, period_key};
use idp::scorecards::scheduler::{
    DigestSource, ManualClock, Scheduler, SchedulerOptions, SourceError, TickReport,
};
use idp::scorecards::subscription::{Claim, Creator, NewSubscription, PauseReason, PostStatus};
use idp::slack::client::SlackApi;
use idp::slack::digest_sink::SlackDigestSink;
use idp::slack::render::Reply;
use idp::store::Store;
use serde_json::Value;

use crate::fakes::slack::{BOT_TOKEN, FakeSlack, Scripted};
use crate::support::{self, Backend};

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("an RFC 3339 time")
        .with_timezone(&Utc)
}

fn schedule(text: &str) -> Schedule {
    Schedule::parse(text).unwrap_or_else(|e| panic!("`{text}` parses: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Schedules

#[test]
fn schedules_read_naturally_or_as_cron_with_an_optional_time_zone() {
    let good = [
        (
            "weekly mon 09:00 Europe/Berlin",
            "weekly mon 09:00 Europe/Berlin",
        ),
        (
            "Weekly Monday 9:00 europe/berlin",
            "weekly mon 09:00 Europe/Berlin",
        ),
        ("weekly mon,thu 17:30 UTC", "weekly mon,thu 17:30 UTC"),
        (
            "daily 08:30 America/New_York",
            "daily 08:30 America/New_York",
        ),
        ("daily 08:30", "daily 08:30 UTC"),
        (
            "weekdays 09:00 Europe/London",
            "weekdays 09:00 Europe/London",
        ),
        ("  weekdays   23:59  ", "weekdays 23:59 UTC"),
        ("0 9 * * 1-5 Europe/London", "0 9 * * 1-5 Europe/London"),
        ("30 7 1 * *", "30 7 1 * * UTC"),
        ("0 */6 * * *", "0 */6 * * * UTC"),
        ("@weekly Asia/Tokyo", "@weekly Asia/Tokyo"),
    ];
    for (text, canonical) in good {
        let s = schedule(text);
        assert_eq!(s.canonical(), canonical, "{text}");
        assert_eq!(schedule(canonical), s, "{canonical} reads back the same");
    }
    assert!(!schedule("daily 08:30").time_zone_given());
    assert_eq!(
        schedule("daily 08:30").describe(),
        "every day at 08:30 (UTC)"
    );
    assert_eq!(
        schedule("weekly mon,thu 09:00 Europe/Berlin").describe(),
        "every Monday and Thursday at 09:00 (Europe/Berlin)"
    );

    let bad = [
        ("", "the schedule is missing"),
        ("daily", "`daily` takes a time"),
        ("daily 25:00", "`25:00` is not a time of day"),
        ("daily 9", "`9` is not a time of day"),
        (
            "daily 09:00 Mars/Olympus",
            "`Mars/Olympus` is not an IANA time zone",
        ),
        ("weekly funday 09:00", "`funday` is not a day of the week"),
        ("weekly 09:00", "`weekly` takes a day, a time"),
        ("every monday at nine", "is not a schedule"),
        ("0 9 * *", "is not a schedule"),
        ("0 25 * * *", "is not a cron expression"),
        ("* * * * *", "more often than once an hour"),
        ("*/30 9 * * *", "more often than once an hour"),
        ("0 0 30 2 *", "is never due"),
    ];
    for (text, problem) in bad {
        let err = Schedule::parse(text).expect_err(text);
        let message = err.to_string();
        assert!(
            message.contains(problem),
            "`{text}`: `{message}` names `{problem}`"
        );
        assert!(
            message.ends_with(EXPECTED),
            "`{text}`: `{message}` says what is expected"
        );
    }
    assert!(EXPECTED.contains("e.g. weekly mon 09:00 Europe/Berlin"));
}

/// Which question a row of a time table asks.
#[derive(Clone, Copy)]
enum Ask {
    /// `next_due_after(at)`.
    Next,
    /// `latest_due_at_or_before(at)`.
    Latest,
}

/// Checks rows of (schedule, question, at, expected answer, why).
fn check_times(rows: &[(&str, Ask, &str, &str, &str)]) {
    for (text, ask, at, expected, why) in rows {
        let s = schedule(text);
        let got = match ask {
            Ask::Next => s.next_due_after(utc(at)),
            Ask::Latest => s.latest_due_at_or_before(utc(at)),
        };
        assert_eq!(got, Some(utc(expected)), "{text} at {at}: {why}");
    }
}

#[test]
fn a_weekly_digest_keeps_its_wall_time_across_both_daylight_saving_changes() {
    const WEEKLY: &str = "weekly mon 09:00 Europe/Berlin";
    // Berlin moves to CEST on Sunday 2026-03-29 and back to CET on Sunday 2026-10-25.
    check_times(&[
        (
            WEEKLY,
            Ask::Next,
            "2026-03-23T08:00:00Z",
            "2026-03-30T07:00:00Z",
            "09:00 CEST is 07:00 UTC",
        ),
        (
            WEEKLY,
            Ask::Latest,
            "2026-03-30T06:59:59Z",
            "2026-03-23T08:00:00Z",
            "a second early",
        ),
        (
            WEEKLY,
            Ask::Next,
            "2026-10-19T07:00:00Z",
            "2026-10-26T08:00:00Z",
            "09:00 CET is 08:00 UTC",
        ),
        (
            WEEKLY,
            Ask::Latest,
            "2026-10-26T07:59:59Z",
            "2026-10-19T07:00:00Z",
            "a second early",
        ),
        (
            "30 8 * * * America/New_York",
            Ask::Next,
            "2026-03-07T13:30:00Z",
            "2026-03-08T12:30:00Z",
            "New York's change",
        ),
    ]);
    assert_eq!(
        period_key(utc("2026-03-30T07:00:00Z")),
        "2026-03-30T07:00:00Z"
    );
}

#[test]
fn a_wall_time_in_the_spring_gap_is_due_when_the_clocks_jump_and_a_repeated_one_once() {
    const SUNDAY: &str = "weekly sun 02:30 Europe/Berlin";
    check_times(&[
        // 2026-03-29 02:30 does not exist in Berlin (02:00 → 03:00 CEST): due at 03:00 CEST.
        (
            SUNDAY,
            Ask::Next,
            "2026-03-28T12:00:00Z",
            "2026-03-29T01:00:00Z",
            "when the clocks jump",
        ),
        (
            SUNDAY,
            Ask::Latest,
            "2026-03-29T01:00:00Z",
            "2026-03-29T01:00:00Z",
            "due at the jump",
        ),
        (
            SUNDAY,
            Ask::Latest,
            "2026-03-29T00:59:59Z",
            "2026-03-22T01:30:00Z",
            "not before it",
        ),
        // 2026-10-25 02:30 happens twice (CEST, then CET): due once, at the first.
        (
            SUNDAY,
            Ask::Next,
            "2026-10-24T12:00:00Z",
            "2026-10-25T00:30:00Z",
            "the first 02:30",
        ),
        (
            SUNDAY,
            Ask::Next,
            "2026-10-25T00:30:00Z",
            "2026-11-01T01:30:00Z",
            "not the repeated one",
        ),
        (
            SUNDAY,
            Ask::Latest,
            "2026-10-25T01:45:00Z",
            "2026-10-25T00:30:00Z",
            "after the repeat",
        ),
    ]);
}

// ---------------------------------------------------------------------------------------------
// A placeholder digest (the real content plugs in through the same trait).

#[derive(Debug, Clone)]
struct Placeholder {
    group: String,
    since: Option<DateTime<Utc>>,
}

struct PlaceholderSource;

#[async_trait]
impl DigestSource for PlaceholderSource {
    type Digest = Placeholder;

    async fn render(
        &self,
        group: &EntityRef,
        since: Option<DateTime<Utc>>,
        _now: DateTime<Utc>,
    ) -> Result<Placeholder, SourceError> {
        Ok(Placeholder {
            group: group.name.clone(),
            since,
        })
    }
}

fn placeholder_reply(d: &Placeholder) -> Reply {
    Reply {
        text: format!(
            "Digest of {} since {}",
            d.group,
            d.since
                .map_or_else(|| "the start".to_owned(), |t| t.to_rfc3339())
        ),
        blocks: Vec::new(),
    }
}

struct Rig {
    catalog: Arc<CatalogService>,
    fake: FakeSlack,
    clock: Arc<ManualClock>,
    scheduler: Scheduler<Placeholder>,
}

impl Rig {
    fn store(&self) -> &Store {
        self.catalog.store()
    }

    async fn at(&self, now: &str) -> TickReport {
        self.clock.set(utc(now));
        self.scheduler.tick().await.expect("a tick")
    }

    /// Subscribes `channel` to payments-platform (or `group`) as Mei, made at `made`.
    async fn subscribe(&self, channel: &str, group: &str, when: &str, made: &str) -> String {
        let new = NewSubscription {
            channel_id: channel.to_owned(),
            group: EntityRef::new("group", "default", group),
            schedule: schedule(when).canonical(),
            created_by: Creator {
                slack_user_id: Some("U1MEI".to_owned()),
                user: Some(EntityRef::new("user", "default", "mei.tanaka")),
            },
            created_at: utc(made),
        };
        let subscribed = self
            .store()
            .subscribe_digest(&new)
            .await
            .expect("subscribed");
        assert!(subscribed.replaced.is_none(), "a new subscription");
        subscribed.subscription.id
    }

    /// Subscribes `channel` to payments-platform daily at 09:00 UTC, made on 2026-03-01.
    async fn daily(&self, channel: &str) -> String {
        self.subscribe(
            channel,
            "payments-platform",
            "daily 09:00",
            "2026-03-01T00:00:00Z",
        )
        .await
    }

    fn posts_to(&self, channel: &str) -> Vec<Value> {
        self.fake.messages_to(channel)
    }
}

fn make_scheduler(
    catalog: Arc<CatalogService>,
    fake: &FakeSlack,
    clock: Arc<ManualClock>,
    options: SchedulerOptions,
) -> Scheduler<Placeholder> {
    let api = SlackApi::new(
        &fake.url,
        &secrecy::SecretString::from(BOT_TOKEN),
        Duration::from_secs(5),
    )
    .expect("a Slack client");
    Scheduler::new(
        catalog,
        Arc::new(PlaceholderSource),
        Arc::new(SlackDigestSink::new(api, placeholder_reply)),
        clock,
        options,
    )
}

async fn rig_with(backend: &Backend, options: SchedulerOptions) -> Rig {
    let state = support::demo_state(backend).await;
    let fake = FakeSlack::start().await;
    let clock = Arc::new(ManualClock::new(utc("2026-03-01T00:00:00Z")));
    let scheduler = make_scheduler(state.catalog.clone(), &fake, clock.clone(), options);
    Rig {
        catalog: state.catalog.clone(),
        fake,
        clock,
        scheduler,
    }
}

async fn rig(backend: &Backend) -> Rig {
    rig_with(backend, SchedulerOptions::default()).await
}

fn text(message: &Value) -> &str {
    message.get("text").and_then(Value::as_str).unwrap_or("")
}

// ---------------------------------------------------------------------------------------------
// The scheduler

#[tokio::test(flavor = "multi_thread")]
async fn a_weekly_digest_is_due_at_its_instant_not_a_second_before_across_dst() {
    for backend in support::backends() {
        let r = rig(&backend).await;
        let id = r
            .subscribe(
                "CPAY",
                "payments-platform",
                "weekly mon 09:00 Europe/Berlin",
                "2026-03-20T10:00:00Z",
            )
            .await;
        let report = r.at("2026-03-23T07:59:59Z").await;
        assert_eq!(report.posted, 0, "{}: not due a second early", backend.name);
        assert_eq!(report.next_due_at, Some(utc("2026-03-23T08:00:00Z")));
        assert!(r.posts_to("CPAY").is_empty());

        assert_eq!(
            r.at("2026-03-23T08:00:00Z").await.posted,
            1,
            "{}",
            backend.name
        );
        assert_eq!(r.at("2026-03-23T08:00:01Z").await.posted, 0, "posted once");
        // After the change to summer time 09:00 Berlin is 07:00 UTC.
        assert_eq!(r.at("2026-03-30T06:59:59Z").await.posted, 0);
        assert_eq!(r.at("2026-03-30T07:00:00Z").await.posted, 1);

        let posts = r.posts_to("CPAY");
        assert_eq!(posts.len(), 2, "{}: {posts:?}", backend.name);
        assert_eq!(
            text(&posts[0]),
            "Digest of payments-platform since the start"
        );
        assert!(
            text(&posts[1]).starts_with("Digest of payments-platform since 2026-03-23T08:00:00"),
            "the second digest covers what changed since the first: {}",
            text(&posts[1])
        );
        let stored = r.store().digest_posts(&id).await.expect("posts");
        let keys: Vec<&str> = stored.iter().map(|p| p.period_key.as_str()).collect();
        assert_eq!(keys, ["2026-03-23T08:00:00Z", "2026-03-30T07:00:00Z"]);
        assert!(
            stored
                .iter()
                .all(|p| p.status == PostStatus::Posted && p.message_ts.is_some())
        );
        let sub = r
            .store()
            .digest_subscription(&id)
            .await
            .expect("read")
            .expect("kept");
        assert_eq!(
            sub.last_posted_period.as_deref(),
            Some("2026-03-30T07:00:00Z")
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_period_due_before_the_subscription_was_made_is_not_posted() {
    let backends = support::backends();
    let backend = &backends[0];
    let r = rig(backend).await;
    r.subscribe(
        "CPAY",
        "payments-platform",
        "daily 09:00",
        "2026-03-02T09:05:00Z",
    )
    .await;
    assert_eq!(r.at("2026-03-02T12:00:00Z").await.posted, 0);
    assert_eq!(r.at("2026-03-03T09:00:00Z").await.posted, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_after_missing_two_periods_posts_the_latest_once() {
    for backend in support::backends() {
        let r = rig(&backend).await;
        let id = r
            .subscribe(
                "CPAY",
                "payments-platform",
                "daily 09:00 Europe/Berlin",
                "2026-03-01T12:00:00Z",
            )
            .await;
        assert_eq!(r.at("2026-03-02T08:00:00Z").await.posted, 1);
        // Down from 2026-03-02 until 2026-03-05 10:00 UTC: the 3rd, 4th and 5th were due.
        let report = r.at("2026-03-05T10:00:00Z").await;
        assert_eq!(
            report.posted, 1,
            "{}: one digest for the missed days",
            backend.name
        );
        assert_eq!(r.at("2026-03-05T10:00:30Z").await.posted, 0);
        let keys: Vec<String> = r
            .store()
            .digest_posts(&id)
            .await
            .expect("posts")
            .into_iter()
            .map(|p| p.period_key)
            .collect();
        assert_eq!(keys, ["2026-03-02T08:00:00Z", "2026-03-05T08:00:00Z"]);
        let posts = r.posts_to("CPAY");
        assert_eq!(posts.len(), 2);
        assert!(
            text(&posts[1]).contains("since 2026-03-02T08:00:00"),
            "it says what changed since the last digest posted: {}",
            text(&posts[1])
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_schedulers_on_one_database_post_each_period_once() {
    for backend in support::backends() {
        let r = rig(&backend).await;
        // A second app instance: its own pool, catalog and clock on the same database.
        let other_catalog = Arc::new(
            CatalogService::open(backend.store().await)
                .await
                .expect("a second instance"),
        );
        let other_clock = Arc::new(ManualClock::new(utc("2026-03-01T00:00:00Z")));
        let other = make_scheduler(
            other_catalog,
            &r.fake,
            other_clock.clone(),
            SchedulerOptions::default(),
        );
        let channels: Vec<String> = (0..6).map(|i| format!("CTEAM{i}")).collect();
        for c in &channels {
            r.subscribe(
                c,
                "payments-platform",
                "daily 09:00 UTC",
                "2026-03-01T00:00:00Z",
            )
            .await;
        }
        for day in 2..=4 {
            let now = utc(&format!("2026-03-0{day}T09:00:00Z"));
            r.clock.set(now);
            other_clock.set(now);
            for _ in 0..2 {
                let (a, b) = tokio::join!(r.scheduler.tick(), other.tick());
                let (a, b) = (a.expect("tick a"), b.expect("tick b"));
                assert_eq!(a.failed + b.failed, 0, "{a:?} {b:?}");
            }
        }
        for c in &channels {
            assert_eq!(
                r.posts_to(c).len(),
                3,
                "{}: {c} got each of three days once",
                backend.name
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_claim_left_by_a_crashed_instance_is_taken_over_after_the_lease() {
    for backend in support::backends() {
        let r = rig(&backend).await;
        let id = r.daily("CPAY").await;
        let store = r.store();
        let due = utc("2026-03-02T09:00:00Z");
        let key = period_key(due);
        let lease = chrono::Duration::minutes(5);
        let claim = |who: &'static str, at: &'static str| {
            store.claim_digest_period(&id, &key, due, who, utc(at), lease)
        };
        assert_eq!(
            claim("a", "2026-03-02T09:00:00Z").await.expect("claim"),
            Claim::Won { attempt: 1 }
        );
        assert_eq!(
            claim("b", "2026-03-02T09:00:01Z").await.expect("claim"),
            Claim::Lost
        );
        assert_eq!(
            claim("b", "2026-03-02T09:04:59Z").await.expect("claim"),
            Claim::Lost
        );
        assert_eq!(
            claim("b", "2026-03-02T09:05:00Z").await.expect("claim"),
            Claim::Won { attempt: 2 },
            "{}: a's lease ran out",
            backend.name
        );
        assert_eq!(
            claim("c", "2026-03-02T09:05:00Z").await.expect("claim"),
            Claim::Lost
        );
        // The scheduler leaves a period another instance holds alone.
        let report = r.at("2026-03-02T09:06:00Z").await;
        assert_eq!((report.posted, report.not_claimed), (0, 1));
        store
            .mark_digest_posted(&id, &key, "b", "1.2", utc("2026-03-02T09:06:00Z"))
            .await
            .expect("posted");
        assert_eq!(
            claim("d", "2026-03-03T00:00:00Z").await.expect("claim"),
            Claim::Lost
        );
        assert_eq!(
            store
                .previous_digest_posted_at(&id, utc("2026-03-03T09:00:00Z"))
                .await
                .expect("read"),
            Some(utc("2026-03-02T09:06:00Z"))
        );
        assert_eq!(
            store
                .previous_digest_posted_at(&id, due)
                .await
                .expect("read"),
            None,
            "nothing before the first"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Slack's answers

#[tokio::test(flavor = "multi_thread")]
async fn not_in_channel_joins_the_public_channel_and_posts() {
    let backends = support::backends();
    let backend = &backends[0];
    let r = rig(backend).await;
    r.daily("CNOTIN").await;
    let report = r.at("2026-03-02T09:00:00Z").await;
    assert_eq!(report.posted, 1, "{report:?}");
    let joins = r.fake.posted("conversations.join");
    assert_eq!(joins.len(), 1);
    assert_eq!(joins[0]["channel"], "CNOTIN");
    assert_eq!(r.posts_to("CNOTIN").len(), 2, "refused once, then posted");
    // Joined for good: the next day posts straight away.
    assert_eq!(r.at("2026-03-03T09:00:00Z").await.posted, 1);
    assert_eq!(r.fake.posted("conversations.join").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_channel_idp_cannot_post_in_pauses_the_subscription_and_tells_its_creator() {
    let cases = [
        ("CGONE", PauseReason::ChannelNotFound, "invite idp to it", 0),
        (
            "CARCHIVED",
            PauseReason::ChannelArchived,
            "Unarchive the channel",
            0,
        ),
        (
            "CPRIVATE",
            PauseReason::NotInChannel,
            "Invite idp to the channel",
            1,
        ),
    ];
    for (channel, reason, fix, joins) in &cases {
        for backend in support::backends() {
            let r = rig(&backend).await;
            let id = r.daily(channel).await;
            let report = r.at("2026-03-02T09:00:00Z").await;
            assert_eq!(report.paused, 1, "{channel}: {report:?}");
            assert_eq!(
                r.fake.posted("conversations.join").len(),
                *joins,
                "{channel}"
            );
            let sub = r
                .store()
                .digest_subscription(&id)
                .await
                .expect("read")
                .expect("kept");
            let paused = sub.paused.expect("paused");
            assert_eq!(PauseReason::from_code(&paused.reason), *reason);
            let posts = r.store().digest_posts(&id).await.expect("posts");
            assert_eq!(posts[0].status, PostStatus::Failed);
            assert!(
                posts[0]
                    .error
                    .as_deref()
                    .is_some_and(|e| e.starts_with("paused"))
            );

            let dms = r.posts_to("U1MEI");
            assert_eq!(dms.len(), 1, "{channel}: the creator is told once");
            let dm = serde_json::to_string(&dms[0]).expect("json");
            assert!(dm.contains("is paused"), "{dm}");
            assert!(dm.contains(fix), "{channel}: {dm}");
            assert!(
                dm.contains(&format!("/idp digest unsubscribe {id}")),
                "{dm}"
            );

            // Paused: later periods are skipped without a call to Slack.
            let before = r.fake.posted("chat.postMessage").len();
            assert_eq!(
                r.at("2026-03-03T09:00:00Z").await,
                TickReport {
                    next_due_at: None,
                    ..TickReport::default()
                }
            );
            assert_eq!(r.fake.posted("chat.postMessage").len(), before);

            // Subscribing again (after inviting idp) resumes it under the same id.
            r.store()
                .resume_digest_subscription(&id)
                .await
                .expect("resume");
            let sub = r
                .store()
                .digest_subscription(&id)
                .await
                .expect("read")
                .expect("kept");
            assert!(sub.paused.is_none());
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_that_left_the_catalog_pauses_its_digest_and_tells_the_creator() {
    let backends = support::backends();
    let backend = &backends[0];
    let r = rig(backend).await;
    let id = r
        .subscribe("CPAY", "ghost-team", "daily 09:00", "2026-03-01T00:00:00Z")
        .await;
    let report = r.at("2026-03-02T09:00:00Z").await;
    assert_eq!(report.paused, 1);
    assert!(
        r.posts_to("CPAY").is_empty(),
        "nothing posted in the channel"
    );
    let sub = r
        .store()
        .digest_subscription(&id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(
        PauseReason::from_code(&sub.paused.expect("paused").reason),
        PauseReason::GroupGone
    );
    let dm = serde_json::to_string(&r.posts_to("U1MEI")).expect("json");
    assert!(dm.contains("no longer in the catalog"), "{dm}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_is_retried_after_its_retry_after_and_posted_once() {
    for backend in support::backends() {
        let r = rig(&backend).await;
        let id = r.daily("CBUSY").await;
        r.fake.script(
            "chat.postMessage",
            Some("CBUSY"),
            1,
            Scripted::RateLimited(1),
        );
        let report = r.at("2026-03-02T09:00:00Z").await;
        assert_eq!(report.retrying, 1, "{report:?}");
        assert_eq!(report.next_retry_at, Some(utc("2026-03-02T09:00:01Z")));
        let posts = r.store().digest_posts(&id).await.expect("posts");
        assert_eq!(posts[0].status, PostStatus::Retry);
        assert!(
            posts[0]
                .error
                .as_deref()
                .is_some_and(|e| e.contains("rate limited"))
        );

        // Not before Retry-After.
        let report = r.at("2026-03-02T09:00:00.500Z").await;
        assert_eq!((report.posted, report.not_claimed), (0, 1));
        assert_eq!(r.posts_to("CBUSY").len(), 1);

        assert_eq!(
            r.at("2026-03-02T09:00:01Z").await.posted,
            1,
            "{}",
            backend.name
        );
        assert_eq!(r.posts_to("CBUSY").len(), 2);
        let posts = r.store().digest_posts(&id).await.expect("posts");
        assert_eq!(
            (posts[0].status, posts[0].attempts),
            (PostStatus::Posted, 2)
        );
        assert_eq!(r.at("2026-03-02T09:00:02Z").await.posted, 0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_period_still_rate_limited_after_its_attempts_is_recorded_as_failed() {
    let backends = support::backends();
    let backend = &backends[0];
    let r = rig_with(
        backend,
        SchedulerOptions {
            max_attempts: 2,
            ..SchedulerOptions::default()
        },
    )
    .await;
    let id = r.daily("CBUSY").await;
    r.fake.script(
        "chat.postMessage",
        Some("CBUSY"),
        2,
        Scripted::RateLimited(1),
    );
    assert_eq!(r.at("2026-03-02T09:00:00Z").await.retrying, 1);
    assert_eq!(r.at("2026-03-02T09:00:01Z").await.failed, 1);
    assert_eq!(r.at("2026-03-02T09:00:02Z").await.not_claimed, 1);
    let posts = r.store().digest_posts(&id).await.expect("posts");
    assert_eq!(posts[0].status, PostStatus::Failed);
    assert!(
        posts[0]
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("gave up after 2 attempts")),
        "{:?}",
        posts[0].error
    );
    assert_eq!(r.posts_to("CBUSY").len(), 2);
    // The next period is tried as usual.
    assert_eq!(r.at("2026-03-03T09:00:00Z").await.posted, 1);
}

// ---------------------------------------------------------------------------------------------
// The store

#[tokio::test(flavor = "multi_thread")]
async fn a_channel_has_one_subscription_per_group_and_subscribing_again_replaces_it() {
    for backend in support::backends() {
        let store = backend.store().await;
        let new = |channel: &str, group: &str, when: &str| NewSubscription {
            channel_id: channel.to_owned(),
            group: EntityRef::new("Group", "default", group),
            schedule: when.to_owned(),
            created_by: Creator {
                slack_user_id: Some("U1MEI".to_owned()),
                user: Some(EntityRef::new("user", "default", "mei.tanaka")),
            },
            created_at: utc("2026-03-01T10:00:00Z"),
        };
        let a = store
            .subscribe_digest(&new("C1", "payments-platform", "daily 09:00 UTC"))
            .await
            .expect("subscribe");
        assert!(a.replaced.is_none(), "created");
        let a = a.subscription;
        assert!(idp::scorecards::subscription::is_id(&a.id), "{}", a.id);
        assert_eq!(a.group.key(), "group:default/payments-platform");
        assert_eq!(a.created_by.slack_user_id.as_deref(), Some("U1MEI"));
        store
            .subscribe_digest(&new("C1", "fulfilment-ops", "daily 09:00 UTC"))
            .await
            .expect("subscribe");
        store
            .subscribe_digest(&new("C2", "payments-platform", "daily 09:00 UTC"))
            .await
            .expect("subscribe");
        assert_eq!(
            store.digest_subscriptions(None).await.expect("all").len(),
            3
        );
        assert_eq!(
            store
                .digest_subscriptions(Some("C1"))
                .await
                .expect("C1")
                .len(),
            2
        );

        assert!(
            store
                .pause_digest_subscription(&a.id, "is_archived", utc("2026-03-02T00:00:00Z"))
                .await
                .expect("pause")
        );
        assert!(
            !store
                .pause_digest_subscription(&a.id, "is_archived", utc("2026-03-03T00:00:00Z"))
                .await
                .expect("pause"),
            "already paused"
        );
        let again = store
            .subscribe_digest(&new(
                "C1",
                "payments-platform",
                "weekly mon 09:00 Europe/Berlin",
            ))
            .await
            .expect("again");
        let (before, after) = (again.replaced.expect("replaced"), again.subscription);
        assert_eq!(
            (before.id.as_str(), after.id.as_str()),
            (a.id.as_str(), a.id.as_str())
        );
        assert!(before.paused.is_some() && after.paused.is_none());
        assert_eq!(after.schedule, "weekly mon 09:00 Europe/Berlin");
        assert_eq!(after.created_at, a.created_at);

        assert!(
            store
                .digest_subscription(&a.id.to_uppercase())
                .await
                .expect("read")
                .is_some()
        );
        let gone = store
            .delete_digest_subscription(&a.id)
            .await
            .expect("delete");
        assert_eq!(gone.map(|s| s.id), Some(a.id.clone()));
        assert!(
            store
                .delete_digest_subscription(&a.id)
                .await
                .expect("delete")
                .is_none()
        );
        assert_eq!(
            store
                .claim_digest_period(
                    &a.id,
                    "2026-03-02T09:00:00Z",
                    utc("2026-03-02T09:00:00Z"),
                    "x",
                    utc("2026-03-02T09:00:00Z"),
                    chrono::Duration::minutes(5)
                )
                .await
                .expect("claim"),
            Claim::Lost,
            "{}: a deleted subscription has no periods",
            backend.name
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The command

#[test]
fn the_digest_command_reads_channels_groups_and_schedules() {
    let parsed = command::parse(
        "digest subscribe <#C0PAY|payments> <!subteam^S1|@payments-platform> weekly mon 09:00 Europe/Berlin",
        Dialect::Slack,
        chrono::Utc::now(),
    )
    .expect("parses");
    let Command::Digest(DigestCommand::Subscribe {
        channel,
        group,
        schedule: s,
    }) = parsed
    else {
        panic!("a subscribe: {parsed:?}")
    };
    assert_eq!(channel.map(|c| c.id), Some("C0PAY".to_owned()));
    assert_eq!(group.name, "payments-platform");
    assert_eq!(s, schedule("weekly mon 09:00 Europe/Berlin"));

    let parsed = command::parse(
        "digest subscribe payments-platform 0 9 * * 1-5",
        Dialect::Slack,
        chrono::Utc::now(),
    )
    .expect("parses");
    assert!(matches!(
        parsed,
        Command::Digest(DigestCommand::Subscribe { channel: None, .. })
    ));
    let parsed = command::parse(
        "digest subscribe #team payments-platform daily 08:00",
        Dialect::Plain,
        chrono::Utc::now(),
    )
    .expect("the shell names channels");
    assert!(matches!(
        parsed,
        Command::Digest(DigestCommand::Subscribe { channel: Some(c), .. }) if c.id == "team"
    ));
    assert_eq!(
        command::parse("digest list all", Dialect::Slack, chrono::Utc::now()).expect("parses"),
        Command::Digest(DigestCommand::List { all: true })
    );
    assert_eq!(
        command::parse(
            "digests unsubscribe d-7kq3xm",
            Dialect::Slack,
            chrono::Utc::now()
        )
        .expect("parses"),
        Command::Digest(DigestCommand::Unsubscribe {
            id: "d-7kq3xm".to_owned()
        })
    );

    let err = command::parse(
        "digest subscribe payments-platform every monday",
        Dialect::Slack,
        chrono::Utc::now(),
    )
    .expect_err("no schedule");
    assert_eq!(
        err.to_string(),
        format!(
            "`digest`: `every monday` is not a valid schedule: `every monday` is not a schedule; {EXPECTED}. \
             Usage: `/idp digest subscribe [#channel] <group> <schedule> | list [all] | unsubscribe <id> | preview <group>`"
        )
    );
    for (text, says) in [
        (
            "digest",
            "missing its subscribe, list, unsubscribe or preview",
        ),
        (
            "digest frobnicate",
            "say subscribe, list, unsubscribe or preview",
        ),
        ("digest subscribe", "missing its group"),
        ("digest subscribe payments-platform", "missing its schedule"),
        (
            "digest subscribe <@U1MEI> daily 09:00",
            "expects a group name, not a user mention",
        ),
        (
            "digest subscribe #nowhere payments-platform daily 09:00",
            "Slack knows no such channel",
        ),
        ("digest unsubscribe", "missing its subscription id"),
        ("digest list everything", "`everything` is left over"),
    ] {
        let err = command::parse(text, Dialect::Slack, chrono::Utc::now()).expect_err(text);
        assert!(err.to_string().contains(says), "`{text}`: {err}");
    }
}

fn slack_caller(user: Option<&str>, slack_id: &str) -> Caller {
    let origin = Origin::Slack {
        team_id: "T0001".into(),
        user_id: slack_id.into(),
        channel_id: "C0PAY".into(),
    };
    match user {
        Some(u) => Caller::user(origin, EntityRef::new("user", "default", u)),
        None => Caller::guest(origin),
    }
}

async fn run(state: &idp::AppState, caller: &Caller, text: &str) -> (String, &'static str) {
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
    let reply = state.render("req-1", &snapshot, &handled);
    (
        serde_json::to_string(&reply.ephemeral()).expect("json"),
        handled.outcome_label(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn members_subscribe_their_team_list_and_unsubscribe_and_others_are_refused() {
    for backend in support::backends() {
        let state = support::demo_state(&backend).await;
        let mei = slack_caller(Some("mei.tanaka"), "U1MEI");
        let (reply, label) = run(
            &state,
            &mei,
            "digest subscribe payments-platform weekly mon 09:00 Europe/Berlin",
        )
        .await;
        assert_eq!(label, "subscribed", "{reply}");
        assert!(reply.contains("<#C0PAY> gets the scorecard digest of *payments-platform* every Monday at 09:00 (Europe/Berlin)"), "{reply}");
        let subs = state
            .catalog
            .store()
            .digest_subscriptions(Some("C0PAY"))
            .await
            .expect("list");
        assert_eq!(subs.len(), 1);
        let sub = &subs[0];
        assert_eq!(sub.created_by.slack_user_id.as_deref(), Some("U1MEI"));
        assert_eq!(sub.schedule, "weekly mon 09:00 Europe/Berlin");
        assert!(reply.contains(&sub.id), "{reply}");

        // No time zone: UTC, and the reply says so.
        let (reply, _) = run(
            &state,
            &mei,
            "digest subscribe <#C0OTHER|other> payments-platform daily 08:30",
        )
        .await;
        assert!(reply.contains("<#C0OTHER>"), "{reply}");
        assert!(
            reply.contains("No time zone was given, so the time is UTC"),
            "{reply}"
        );

        // Others: a guest, a member of another team.
        let (reply, label) = run(
            &state,
            &slack_caller(None, "U9"),
            "digest subscribe payments-platform daily 09:00",
        )
        .await;
        assert_eq!(label, "denied", "{reply}");
        let rafael = slack_caller(Some("rafael.costa"), "U5RAFAEL");
        let (_, label) = run(
            &state,
            &rafael,
            "digest subscribe payments-platform daily 09:00",
        )
        .await;
        assert_eq!(label, "denied");
        let (_, label) = run(&state, &rafael, &format!("digest unsubscribe {}", sub.id)).await;
        assert_eq!(
            label, "denied",
            "only who may manage the group's digests removes one"
        );
        // A platform-admin may.
        let daria = slack_caller(Some("daria.volkova"), "U7DARIA");
        let (reply, label) = run(
            &state,
            &daria,
            "digest subscribe fulfilment-ops weekdays 09:00 Europe/Berlin",
        )
        .await;
        assert_eq!(label, "subscribed", "{reply}");

        let (reply, _) = run(&state, &rafael, "digest list").await;
        assert!(
            reply.contains(&sub.id) && reply.contains("fulfilment-ops"),
            "{reply}"
        );
        assert!(!reply.contains("C0OTHER"), "this channel only: {reply}");
        assert!(reply.contains("next Mon"), "{reply}");
        let (reply, _) = run(&state, &rafael, "digest list all").await;
        assert!(reply.contains("C0OTHER"), "{reply}");

        let (reply, label) = run(&state, &mei, "digest subscribe ghost-team daily 09:00").await;
        assert_eq!(label, "not_found", "{reply}");

        let (reply, label) = run(
            &state,
            &mei,
            &format!("digest unsubscribe {}", sub.id.to_uppercase()),
        )
        .await;
        assert_eq!(label, "unsubscribed", "{reply}");
        assert!(reply.contains("no longer gets the digest"), "{reply}");
        let (reply, label) = run(&state, &mei, &format!("digest unsubscribe {}", sub.id)).await;
        assert_eq!(label, "not_found", "{reply}");
        let (_, label) = run(&state, &mei, "digest unsubscribe nonsense").await;
        assert_eq!(label, "not_found");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shell_must_name_the_channel() {
    let backends = support::backends();
    let backend = &backends[0];
    let state = support::demo_state(backend).await;
    let mei = Caller::user(
        Origin::Shell,
        EntityRef::new("user", "default", "mei.tanaka"),
    );
    let reply = state
        .dispatch(
            &mei,
            "digest subscribe payments-platform daily 09:00",
            Dialect::Plain,
        )
        .await;
    let shown = idp::shell::render(&reply, false);
    assert!(shown.contains("Say which channel"), "{shown}");
    let reply = state
        .dispatch(
            &mei,
            "digest subscribe #payments payments-platform daily 09:00",
            Dialect::Plain,
        )
        .await;
    let shown = idp::shell::render(&reply, false);
    assert!(
        shown.contains("#payments gets the scorecard digest"),
        "{shown}"
    );
}

#[test]
fn a_stored_utc_due_time_is_the_same_instant_everywhere() {
    let t = Utc
        .with_ymd_and_hms(2026, 3, 30, 7, 0, 0)
        .single()
        .expect("a time");
    assert_eq!(period_key(t), "2026-03-30T07:00:00Z");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_passing_slack_error_is_retried_and_a_refused_message_fails_only_its_period() {
    let backends = support::backends();
    let r = rig(&backends[0]).await;
    let id = r.daily("CPAY").await;
    r.fake.script(
        "chat.postMessage",
        Some("CPAY"),
        1,
        Scripted::Error("internal_error"),
    );
    let report = r.at("2026-03-02T09:00:00Z").await;
    assert_eq!(report.retrying, 1, "{report:?}");
    assert_eq!(report.next_retry_at, Some(utc("2026-03-02T09:00:30Z")));
    assert_eq!(r.at("2026-03-02T09:00:30Z").await.posted, 1);

    r.fake.script(
        "chat.postMessage",
        Some("CPAY"),
        1,
        Scripted::Error("invalid_blocks"),
    );
    assert_eq!(r.at("2026-03-03T09:00:00Z").await.failed, 1);
    let posts = r.store().digest_posts(&id).await.expect("posts");
    assert_eq!(posts[1].status, PostStatus::Failed);
    assert!(
        posts[1]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("invalid_blocks"))
    );
    let sub = r
        .store()
        .digest_subscription(&id)
        .await
        .expect("read")
        .expect("kept");
    assert!(sub.paused.is_none(), "not paused for one bad message");
    assert_eq!(r.at("2026-03-04T09:00:00Z").await.posted, 1);
}
