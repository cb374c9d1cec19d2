//! The one integration harness: [`spawn_app`] builds idp with [`idp::wiring::App::builder`]
//! (the builder `idp serve` uses) from settings that point every outside system at a fake on
//! 127.0.0.1 (Slack, PagerDuty, GitHub, Argo CD, Backstage, the webhook receiver), serves
//! [`idp::app`] on `127.0.0.1:0`, and gives the test Slack's requests, signed as Slack signs them
//! ([`TestApp::slash`], [`TestApp::click`], [`TestApp::submit`], [`TestApp::event`],
//! [`TestApp::shortcut`]), the fakes' records (through `Deref` to [`Fakes`]: `app.slack`,
//! `app.argocd`…) and the audit log ([`TestApp::audit_entries`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use idp::AppState;
use idp::actions::{Run, RunOptions, RunService};
use idp::config::{EventCredential, Settings};
use idp::oncall::OnCallConfig;
use idp::slack::verify::sign;
use idp::wiring::{App, Background, Tasks};
use serde_json::{Value, json};

use crate::fakes::argocd::{self, FakeArgoCd};
use crate::fakes::github::{self, FakeGithub};
use crate::fakes::pagerduty::{self, FakePagerDuty};
use crate::fakes::slack::{BOT_TOKEN, FakeSlack};
use crate::fakes::webhook::{self, FakeReceiver};
use crate::support::{self, Backend, SECRET};

/// The deploy-event source the app accepts (`X-Idp-Source`).
pub const EVENTS_SOURCE: &str = "ci";
/// The secret of [`EVENTS_SOURCE`].
pub const EVENTS_SECRET: &str = "ci-events-secret-0042";
/// The workspace every request comes from.
pub const TEAM: &str = "T0001";
/// How long the `wait_*` helpers wait before failing the test.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A Slack channel requests come from: its id and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Channel {
    /// `C…`.
    pub id: &'static str,
    /// Its name, as Slack sends it with slash commands.
    pub name: &'static str,
}

/// An ordinary channel, `#dev`.
pub const DEV: Channel = Channel {
    id: "C1",
    name: "dev",
};

/// The incident channel of the demo's checkout-api incident 42.
pub const INCIDENT: Channel = Channel {
    id: "CINC42",
    name: "inc-42-checkout-api",
};

/// Every fake the app talks to, each on its own loopback port.
pub struct Fakes {
    /// The Slack Web API and `response_url`s.
    pub slack: FakeSlack,
    /// PagerDuty's REST API (asked only with [`Options::pagerduty`]).
    pub pagerduty: FakePagerDuty,
    /// GitHub Actions and GitHub's run API.
    pub github: FakeGithub,
    /// Argo CD.
    pub argocd: FakeArgoCd,
    /// The webhook backend's receiver.
    pub receiver: FakeReceiver,
}

impl Fakes {
    /// Starts every fake; PagerDuty knows `services`.
    pub async fn start(services: Vec<pagerduty::Service>) -> Self {
        Self {
            slack: FakeSlack::start().await,
            pagerduty: FakePagerDuty::start(services).await,
            github: FakeGithub::start().await,
            argocd: FakeArgoCd::start().await,
            receiver: FakeReceiver::start().await,
        }
    }
}

/// How [`spawn_app`] builds the app; `Options::default()` is idp with the demo catalog, the
/// payments-platform rotation, no worker running, PagerDuty not configured.
pub struct Options {
    worker: bool,
    pagerduty: Option<Vec<pagerduty::Service>>,
    oncall: OnCallConfig,
    fakes: Option<Fakes>,
    tune_runs: Box<dyn FnOnce(RunOptions) -> RunOptions + Send>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            worker: false,
            pagerduty: None,
            oncall: payments_rotation(),
            fakes: None,
            tune_runs: Box::new(|o| o),
        }
    }
}

impl Options {
    /// Runs the run queue's worker from the start.
    #[must_use]
    pub fn worker(mut self) -> Self {
        self.worker = true;
        self
    }

    /// Sets `PAGERDUTY_TOKEN`: on-call of annotated services comes from the PagerDuty fake,
    /// which knows `services`.
    #[must_use]
    pub fn pagerduty(mut self, services: Vec<pagerduty::Service>) -> Self {
        self.pagerduty = Some(services);
        self
    }

    /// `[oncall]` instead of the payments-platform rotation.
    #[must_use]
    pub fn oncall(mut self, config: OnCallConfig) -> Self {
        self.oncall = config;
        self
    }

    /// Talks to these fakes (from an earlier life of the app) instead of new ones.
    #[must_use]
    pub fn fakes(mut self, fakes: Fakes) -> Self {
        self.fakes = Some(fakes);
        self
    }

    /// Adjusts the worker's (already fast) test options.
    #[must_use]
    pub fn tune_runs(
        mut self,
        tune: impl FnOnce(RunOptions) -> RunOptions + Send + 'static,
    ) -> Self {
        self.tune_runs = Box::new(tune);
        self
    }
}

/// On-call for payments-platform: Mei Tanaka now (a two-day shift that began yesterday), then
/// Tobias Lindqvist.
pub fn payments_rotation() -> OnCallConfig {
    toml::from_str(&format!(
        "[[rotations]]\ngroup = \"payments-platform\"\nmembers = [\"mei.tanaka\", \"tobias.lindqvist\"]\nshift = \"2d\"\nhandoff = \"00:00\"\ntime_zone = \"UTC\"\nstart = \"{}\"\n",
        (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%d")
    ))
    .expect("rotation")
}

/// PagerDuty's "Payments escalation" for checkout-api (`PC8KD2Q`): Sofia Marquez on call now (a
/// shift that began two hours ago), Mei Tanaka next; Mei also holds level 2 when `mei_level_two`.
pub fn payments_escalation(mei_level_two: bool) -> Vec<pagerduty::Service> {
    use crate::fakes::pagerduty::{Entry, User};
    let now = chrono::Utc::now();
    let sofia = User {
        id: "PUSOFIA",
        name: "Sofia Marquez",
        email: "sofia.marquez@example.com",
    };
    let mei = User {
        id: "PUMEI01",
        name: "Mei Tanaka",
        email: "mei.tanaka@example.com",
    };
    let mut entries = vec![
        Entry {
            level: 1,
            user: sofia,
            start: Some(now - chrono::Duration::hours(2)),
            end: Some(now + chrono::Duration::hours(22)),
        },
        Entry {
            level: 1,
            user: mei.clone(),
            start: Some(now + chrono::Duration::hours(22)),
            end: Some(now + chrono::Duration::hours(46)),
        },
    ];
    if mei_level_two {
        entries.push(Entry {
            level: 2,
            user: mei,
            start: None,
            end: None,
        });
    }
    vec![pagerduty::Service::new(
        "PC8KD2Q",
        "PPAYESC",
        "Payments escalation",
        entries,
    )]
}

/// The repo's `idp.toml` compliance rules (pii → four controls and a label; a pinned cost center).
pub fn repo_compliance() -> idp::templates::ComplianceConfig {
    let file: idp::config::FileConfig =
        toml::from_str(include_str!("../../idp.toml")).expect("the repo's idp.toml reads");
    file.compliance
}

/// Fast settings for tests: short polls and backoffs.
pub fn test_run_options(base: &str) -> RunOptions {
    RunOptions {
        lease: Duration::from_secs(5),
        poll_every: Duration::from_millis(50),
        stale_after: Duration::from_secs(600),
        max_attempts: 4,
        min_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(300),
        idle: Duration::from_millis(25),
        public_url: base.to_owned(),
        ..RunOptions::default()
    }
}

/// idp running on 127.0.0.1 with its fakes.
pub struct TestApp {
    /// `http://127.0.0.1:<port>` of idp.
    pub base: String,
    /// The app's shared state.
    pub state: Arc<AppState>,
    /// The run queue.
    pub runs: Arc<RunService>,
    /// The fakes (also reachable through `Deref`: `app.slack`).
    pub fakes: Fakes,
    app: App,
    worker: Option<Background>,
    server: tokio::task::JoinHandle<()>,
    client: reqwest::Client,
    counter: AtomicU64,
    _config_dir: tempfile::TempDir,
}

impl std::ops::Deref for TestApp {
    type Target = Fakes;

    fn deref(&self) -> &Fakes {
        &self.fakes
    }
}

/// The settings `idp serve` would read with the fakes' URLs in the environment and an empty
/// `idp.toml` in `dir`.
fn settings_for(
    dir: &std::path::Path,
    backend: &Backend,
    listen: std::net::SocketAddr,
    fakes: &Fakes,
    options: &Options,
) -> Settings {
    let config = dir.join("idp.toml");
    std::fs::write(&config, "").expect("write idp.toml");
    let base = format!("http://{listen}");
    let mut env: Vec<(&str, String)> = vec![
        ("DATABASE_URL", backend.url.clone()),
        ("SLACK_SIGNING_SECRET", SECRET.to_owned()),
        ("SLACK_BOT_TOKEN", BOT_TOKEN.to_owned()),
        ("SLACK_API_URL", fakes.slack.url.clone()),
        ("IDP_LISTEN", listen.to_string()),
        ("IDP_PUBLIC_URL", base),
        ("PAGERDUTY_API_URL", fakes.pagerduty.url.clone()),
        ("GITHUB_API_URL", fakes.github.url.clone()),
        ("GITHUB_TOKEN", github::TOKEN.to_owned()),
        ("GITHUB_WEBHOOK_SECRET", github::WEBHOOK_SECRET.to_owned()),
        ("IDP_WEBHOOK_URL", fakes.receiver.url.clone()),
        ("IDP_WEBHOOK_SECRET", webhook::SECRET.to_owned()),
        ("ARGOCD_URL", fakes.argocd.url.clone()),
        ("ARGOCD_TOKEN", argocd::TOKEN.to_owned()),
        ("IDP_EXEC_TIMEOUT_SECS", "2".to_owned()),
    ];
    if options.pagerduty.is_some() {
        env.push(("PAGERDUTY_TOKEN", pagerduty::TOKEN.to_owned()));
    }
    let mut settings = Settings::load(Some(&config), |name| {
        env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
    })
    .expect("the test settings read");
    settings.file.oncall = options.oncall.clone();
    settings.file.compliance = repo_compliance();
    settings.event_sources.insert(
        EVENTS_SOURCE.to_owned(),
        EventCredential::Hmac(secrecy::SecretString::from(EVENTS_SECRET)),
    );
    settings
}

/// Starts idp on `backend` as `options` say: the catalog synced, every outside system a fake,
/// the whole router ([`idp::app`]) served on `127.0.0.1:0`.
pub async fn spawn_app(backend: &Backend, mut options: Options) -> TestApp {
    idp::install_crypto_provider();
    let fakes = match options.fakes.take() {
        Some(fakes) => fakes,
        None => Fakes::start(options.pagerduty.clone().unwrap_or_default()).await,
    };
    let catalog = Arc::new(
        idp::catalog::CatalogService::open(backend.store().await)
            .await
            .expect("open the catalog"),
    );
    let reports = catalog.sync(&[support::demo_catalog()]).await;
    assert!(
        reports.iter().all(|r| r.outcome.is_ok()),
        "the test catalogs sync: {reports:?}"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let listen = listener.local_addr().expect("addr");
    let base = format!("http://{listen}");
    let config_dir = tempfile::tempdir().expect("temp dir");
    let settings = settings_for(config_dir.path(), backend, listen, &fakes, &options);
    let tune = options.tune_runs;
    let fast = test_run_options(&base);
    let app = App::builder(&settings, catalog)
        .verify_with(idp::slack::verify::SignatureVerifier::new(
            &secrecy::SecretString::from(SECRET),
        ))
        .tune_runs(move |_| tune(fast))
        .build()
        .expect("the app builds");
    let router = idp::app(&app);
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    let state = app.state.clone();
    let runs = state.runs.clone().expect("the app records runs");
    let mut test_app = TestApp {
        base,
        state,
        runs,
        fakes,
        app,
        worker: None,
        server,
        client: reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client"),
        counter: AtomicU64::new(0),
        _config_dir: config_dir,
    };
    if options.worker {
        test_app.start_worker();
    }
    test_app
}

/// What idp answered an HTTP request.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body as text.
    pub body: String,
    /// The `response_url` id (at the Slack fake) the request carried, for [`TestApp::response`].
    pub reply: String,
}

impl Answer {
    /// The body as JSON (`Null` when it is not JSON, e.g. an empty acknowledgement).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The body as JSON, after checking the status is 200.
    pub fn ok_json(&self) -> Value {
        assert_eq!(self.status, 200, "{}", self.body);
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

impl TestApp {
    /// Starts the run queue's worker (as `idp serve` does).
    pub fn start_worker(&mut self) {
        self.worker = Some(self.app.start_background(Tasks::RUNS));
    }

    /// Kills the worker mid-work (as a crashed process would) and starts a new one; what it held
    /// is picked up again once its lease runs out.
    pub async fn restart_worker(&mut self) {
        if let Some(worker) = self.worker.take() {
            worker.kill().await;
        }
        self.start_worker();
    }

    /// Stops idp as a process exit would (worker and server killed, the audit log flushed) and
    /// hands back the fakes for a next life ([`Options::fakes`]).
    pub async fn stop(mut self) -> Fakes {
        if let Some(worker) = self.worker.take() {
            worker.kill().await;
        }
        self.server.abort();
        let _ = (&mut self.server).await;
        if let Some(audit) = &self.state.audit {
            audit.flush().await;
        }
        self.fakes
    }

    /// A fresh id for triggers and `response_url`s.
    fn next_id(&self, prefix: &str) -> String {
        format!("{prefix}-{}", self.counter.fetch_add(1, Ordering::Relaxed))
    }

    /// POSTs `body` to `path` signed as Slack signs (`v0` HMAC-SHA256 of `v0:{ts}:{body}` under
    /// the signing secret), with Slack's retry headers when `retry` is given.
    pub async fn signed(
        &self,
        path: &str,
        content_type: &str,
        body: String,
        retry: Option<u32>,
    ) -> (u16, String) {
        let ts = support::now();
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", sign(SECRET, ts, body.as_bytes()));
        if let Some(n) = retry {
            request = request
                .header("x-slack-retry-num", n.to_string())
                .header("x-slack-retry-reason", "http_timeout");
        }
        let response = request.body(body).send().await.expect("send");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// POSTs `body` to `path` as it is, with `headers` and no signature of its own.
    pub async fn post_raw(
        &self,
        path: &str,
        body: &str,
        content_type: &str,
        headers: &[(&str, String)],
    ) -> (u16, String) {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.expect("send");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// GETs `path`; the status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("get");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// `/idp <text>` typed by `user` in `channel`, with a fresh trigger id (also the id of its
    /// `response_url` at the Slack fake).
    pub async fn slash(&self, user: &str, channel: Channel, text: &str) -> Answer {
        let trigger = self.next_id("trigger");
        self.slash_with_trigger(user, channel, text, &trigger).await
    }

    /// As [`Self::slash`] with a chosen trigger id (`expired…` makes the Slack fake refuse to open
    /// a modal with it).
    pub async fn slash_with_trigger(
        &self,
        user: &str,
        channel: Channel,
        text: &str,
        trigger: &str,
    ) -> Answer {
        let body = serde_urlencoded::to_string([
            ("token", "gIkuvaNzQIHg97ATvDxqgjtO"),
            ("team_id", TEAM),
            ("team_domain", "acme"),
            ("channel_id", channel.id),
            ("channel_name", channel.name),
            ("user_id", user),
            ("command", "/idp"),
            ("text", text),
            ("api_app_id", "A123456"),
            ("response_url", &self.slack.response_url(trigger)),
            ("trigger_id", trigger),
        ])
        .expect("form");
        let (status, body) = self.signed("/slack/commands", FORM, body, None).await;
        Answer {
            status,
            body,
            reply: trigger.to_owned(),
        }
    }

    /// Sends an interactivity payload (`payload=<json>`), as Slack does; `retry` as Slack's
    /// `X-Slack-Retry-Num`.
    pub async fn interact(&self, payload: &Value, retry: Option<u32>) -> Answer {
        let body = serde_urlencoded::to_string([("payload", payload.to_string())]).expect("form");
        let (status, body) = self.signed("/slack/interactions", FORM, body, retry).await;
        let reply = payload["response_url"]
            .as_str()
            .and_then(|u| u.rsplit('/').next())
            .unwrap_or_default()
            .to_owned();
        Answer {
            status,
            body,
            reply,
        }
    }

    /// The `block_actions` payload of `user` clicking the button `action_id` carrying `value` on
    /// an ephemeral message in `channel`; Slack's `response_url` is `response_url/<reply>` at the
    /// Slack fake.
    pub fn click_payload(
        &self,
        user: &str,
        channel: Channel,
        action_id: &str,
        value: &str,
        reply: &str,
    ) -> Value {
        json!({
            "type": "block_actions",
            "team": {"id": TEAM, "domain": "acme"},
            "user": {"id": user},
            "api_app_id": "A123456",
            "trigger_id": format!("trigger-{reply}"),
            "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": channel.id, "is_ephemeral": true},
            "channel": {"id": channel.id, "name": channel.name},
            "response_url": self.slack.response_url(reply),
            "actions": [{"type": "button", "action_id": action_id, "block_id": "actions",
                         "value": value, "action_ts": action_ts(reply)}]
        })
    }

    /// `user` clicks the button `action_id` carrying `value` in `channel` (see
    /// [`Self::click_payload`]); idp acknowledges at once and answers at `response_url/<reply>`.
    pub async fn click(
        &self,
        user: &str,
        channel: Channel,
        action_id: &str,
        value: &str,
        reply: &str,
    ) -> Answer {
        let payload = self.click_payload(user, channel, action_id, value, reply);
        self.interact(&payload, None).await
    }

    /// `user` submits the modal `view` (as opened or updated by idp) under the Slack view id
    /// `view_id` with these `state.values`; the answer is Slack's `response_action`.
    pub async fn submit(&self, user: &str, view: &Value, view_id: &str, values: Value) -> Answer {
        let payload = json!({
            "type": "view_submission",
            "team": {"id": TEAM, "domain": "acme"},
            "user": {"id": user, "username": user.to_lowercase(), "team_id": TEAM},
            "api_app_id": "A123456",
            "trigger_id": format!("submit-{view_id}"),
            "view": {
                "id": view_id,
                "team_id": TEAM,
                "type": "modal",
                "callback_id": view["callback_id"],
                "private_metadata": view["private_metadata"],
                "hash": "1.hash",
                "state": {"values": values},
                "title": view["title"],
                "blocks": view["blocks"],
            },
            "response_urls": [],
        });
        self.interact(&payload, None).await
    }

    /// `user` runs the message shortcut `callback_id` on a message reading `text` in `channel`;
    /// idp answers at `response_url/<reply>`.
    pub async fn shortcut(
        &self,
        user: &str,
        channel: Channel,
        callback_id: &str,
        text: &str,
        reply: &str,
    ) -> Answer {
        let payload = json!({
            "type": "message_action",
            "team": {"id": TEAM, "domain": "acme"},
            "user": {"id": user},
            "channel": {"id": channel.id, "name": channel.name},
            "callback_id": callback_id,
            "trigger_id": format!("trigger-{reply}"),
            "response_url": self.slack.response_url(reply),
            "message_ts": "1700000000.000300",
            "message": {"type": "message", "ts": "1700000000.000300", "user": "U3VERA", "text": text},
        });
        self.interact(&payload, None).await
    }

    /// Delivers an Events API `event` (the inner object) in its `event_callback` envelope; the
    /// envelope's `event_id` is fresh.
    pub async fn event(&self, event: Value) -> Answer {
        let envelope = json!({
            "token": "x", "team_id": TEAM, "api_app_id": "A123456", "type": "event_callback",
            "event_id": self.next_id("Ev"), "event_time": support::now(), "event": event,
        });
        self.event_envelope(&envelope, None).await
    }

    /// POSTs a whole Events API body (envelope included) to `/slack/events`.
    pub async fn event_envelope(&self, envelope: &Value, retry: Option<u32>) -> Answer {
        let (status, body) = self
            .signed(
                "/slack/events",
                "application/json",
                envelope.to_string(),
                retry,
            )
            .await;
        Answer {
            status,
            body,
            reply: String::new(),
        }
    }

    /// Waits for what the Slack fake received at `response_url/<reply>`.
    pub async fn response(&self, reply: &str) -> Value {
        let method = format!("response_url/{reply}");
        self.eventually(&format!("an answer at {method}"), || {
            self.slack.posted(&method).pop()
        })
        .await
    }

    /// Waits until the Slack fake received `n` calls of `method`; all of them, oldest first.
    pub async fn wait_for(&self, method: &str, n: usize) -> Vec<Value> {
        self.eventually(&format!("{method} call #{n}"), || {
            let posted = self.slack.posted(method);
            (posted.len() >= n).then_some(posted)
        })
        .await
    }

    /// Polls `probe` until it finds something, for up to [`PATIENCE`].
    pub async fn eventually<T>(&self, what: &str, probe: impl Fn() -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(found) = probe() {
                return found;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited {PATIENCE:?} for {what}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Every audit entry so far (the log flushed first), newest first.
    pub async fn audit_entries(&self) -> Vec<idp::audit::AuditEntry> {
        self.audit_records()
            .await
            .into_iter()
            .map(|r| r.entry)
            .collect()
    }

    /// Every audit record so far (the log flushed first), newest first.
    pub async fn audit_records(&self) -> Vec<idp::audit::AuditRecord> {
        if let Some(audit) = &self.state.audit {
            audit.flush().await;
        }
        self.state
            .catalog
            .store()
            .audit_query(&idp::audit::AuditQuery::latest(None, None, 1000))
            .await
            .expect("audit query")
    }

    /// Waits until the run is finished and its message shows it.
    pub async fn finished(&self, id: &str) -> Run {
        self.until(id, |r| {
            r.status.is_finished() && r.notified_version >= r.version
        })
        .await
    }

    /// Waits for a condition on the run.
    pub async fn until(&self, id: &str, what: impl Fn(&Run) -> bool) -> Run {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let run = self.runs.get(id).await.expect("read").expect("run");
            if what(&run) {
                return run;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "run {id} never got there: {run:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Sends one deploy event from [`EVENTS_SOURCE`], signed with its secret, to
    /// `/hooks/events`; the status and body.
    pub async fn deploy_event(&self, event: &Value) -> (u16, String) {
        let body = event.to_string();
        let ts = support::now();
        let signature = webhook::sign(EVENTS_SECRET, ts, body.as_bytes());
        self.post_raw(
            "/hooks/events",
            &body,
            "application/json",
            &[
                ("x-idp-source", EVENTS_SOURCE.to_owned()),
                ("x-idp-timestamp", ts.to_string()),
                ("x-idp-signature", signature),
            ],
        )
        .await
    }
}

/// Slack's content type for slash commands and interactions.
pub const FORM: &str = "application/x-www-form-urlencoded";

/// The `value` of the first element with this `action_id` anywhere in `blocks`.
pub fn button_value(blocks: &Value, action_id: &str) -> Option<String> {
    match blocks {
        Value::Object(map) => {
            if map.get("action_id").and_then(Value::as_str) == Some(action_id) {
                return map.get("value").and_then(Value::as_str).map(str::to_owned);
            }
            map.values().find_map(|v| button_value(v, action_id))
        }
        Value::Array(items) => items.iter().find_map(|v| button_value(v, action_id)),
        _ => None,
    }
}

/// A click's `action_ts`: one per click (here, per answer id `reply`), the same when Slack
/// retries the same payload.
fn action_ts(reply: &str) -> String {
    let n = reply.bytes().fold(7u64, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(u64::from(b))
    });
    format!("1700000001.{:06}", n % 1_000_000)
}
