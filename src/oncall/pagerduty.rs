//! The PagerDuty REST API v2 conversation behind one on-call lookup:
//!
//! 1. `GET /services/{id}` → `{"service": {"id", "name", "escalation_policy": {"id", "summary", …}}}`
//!    (<https://developer.pagerduty.com/api-reference/> → Services → *Get a service*);
//! 2. `GET /oncalls?escalation_policy_ids[]={policy}&include[]=users&since=…&until=…&limit=100&offset=N`
//!    → `{"oncalls": [{"escalation_level", "start", "end", "user": {"id", "summary", "name",
//!    "email"}, "escalation_policy", "schedule"}], "limit", "offset", "more"}`, every page while
//!    `more` is true (On-Calls → *List all of the on-calls*; classic pagination as described in
//!    <https://developer.pagerduty.com/docs/rest-api-v2/pagination/>).
//!
//! Every request carries `Authorization: Token token=<PAGERDUTY_TOKEN>` and
//! `Accept: application/vnd.pagerduty+json;version=2`. A 429 is retried after its `Retry-After`
//! only when that wait fits in the lookup's remaining budget
//! (<https://developer.pagerduty.com/docs/rest-api-rate-limits/>).

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

/// The media type PagerDuty's REST API v2 expects in `Accept`.
pub const ACCEPT_V2: &str = "application/vnd.pagerduty+json;version=2";

/// How far ahead on-call entries are read, to know who is next.
pub const LOOKAHEAD_DAYS: i64 = 7;

/// Entries per page asked for (PagerDuty's maximum).
const PAGE_LIMIT: usize = 100;

/// Pages read at most (10 000 entries), a guard against a server that always says `more`.
const MAX_PAGES: usize = 100;

/// How often a 429 is retried within one lookup, at most.
const MAX_RATE_LIMIT_RETRIES: u32 = 2;

/// What went wrong, before it becomes an [`super::OnCallError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PdError {
    /// 404 on the service: the annotation names no PagerDuty service.
    ServiceNotFound,
    /// Anything else, with the operator-facing detail.
    Failed(String),
}

/// One on-call entry, as much of it as idp uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub level: u32,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub user_id: String,
    pub name: String,
    pub email: Option<String>,
}

/// What PagerDuty said about one service: its escalation policy and the on-call entries of that
/// policy overlapping `[since, since + 7 days]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceOnCalls {
    pub policy_id: String,
    pub policy_name: String,
    pub entries: Vec<Entry>,
}

#[derive(Deserialize)]
struct ServiceEnvelope {
    service: WireService,
}

#[derive(Deserialize)]
struct WireService {
    escalation_policy: Option<WireReference>,
}

#[derive(Deserialize)]
struct WireReference {
    id: String,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct OnCallPage {
    #[serde(default)]
    oncalls: Vec<WireOnCall>,
    #[serde(default)]
    more: bool,
}

#[derive(Deserialize)]
struct WireOnCall {
    escalation_level: u32,
    #[serde(default)]
    start: Option<DateTime<Utc>>,
    #[serde(default)]
    end: Option<DateTime<Utc>>,
    #[serde(default)]
    user: Option<WireUser>,
}

#[derive(Deserialize)]
struct WireUser {
    id: String,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

/// A PagerDuty REST API v2 client for on-call lookups. The token is only ever put in the
/// `Authorization` header (marked sensitive), never in a message or a log line.
pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    token: SecretString,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PagerDuty")
            .field("base", &self.base)
            .field("token", &"[set]")
            .finish()
    }
}

/// An error and its causes, `a: b: c`, without the URL (the path is named separately).
fn causes(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `Retry-After` as a wait: delay-seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(text).ok()?.with_timezone(&Utc);
    Some((at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
}

impl Client {
    pub(crate) fn new(http: reqwest::Client, base: &str, token: SecretString) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
        }
    }

    /// One GET with PagerDuty's headers, retrying a 429 when its wait fits before `deadline`.
    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        deadline: Instant,
    ) -> Result<T, PdError> {
        let url = format!("{}{path}", self.base);
        let mut auth = HeaderValue::from_str(&format!(
            "Token token={}",
            self.token.expose_secret()
        ))
        .map_err(|_| {
            PdError::Failed(
                "PAGERDUTY_TOKEN holds characters that cannot go in an HTTP header".to_owned(),
            )
        })?;
        auth.set_sensitive(true);
        let mut retries = 0;
        loop {
            let response = self
                .http
                .get(&url)
                .query(query)
                .header(AUTHORIZATION, auth.clone())
                .header(ACCEPT, ACCEPT_V2)
                .send()
                .await
                .map_err(|e| PdError::Failed(format!("GET {path} failed: {}", causes(e))))?;
            let status = response.status();
            if status.is_success() {
                return response.json::<T>().await.map_err(|e| {
                    PdError::Failed(format!(
                        "GET {path}: unexpected response body: {}",
                        causes(e)
                    ))
                });
            }
            match status {
                StatusCode::UNAUTHORIZED => {
                    return Err(PdError::Failed(
                        "PagerDuty rejected the API token (401 Unauthorized): check PAGERDUTY_TOKEN"
                            .to_owned(),
                    ));
                }
                StatusCode::FORBIDDEN => {
                    return Err(PdError::Failed(format!(
                        "PagerDuty refused GET {path} (403 Forbidden): the PAGERDUTY_TOKEN lacks read access"
                    )));
                }
                StatusCode::NOT_FOUND if path.starts_with("/services/") => {
                    return Err(PdError::ServiceNotFound);
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    let wait = retry_after(response.headers());
                    let left = deadline.saturating_duration_since(Instant::now());
                    match wait {
                        Some(wait) if retries < MAX_RATE_LIMIT_RETRIES && wait < left => {
                            retries += 1;
                            tokio::time::sleep(wait).await;
                        }
                        Some(wait) => {
                            return Err(PdError::Failed(format!(
                                "PagerDuty rate-limited GET {path} (429) and asks to wait {} s, more than the {:.1} s left of the lookup budget",
                                wait.as_secs_f64(),
                                left.as_secs_f64()
                            )));
                        }
                        None => {
                            return Err(PdError::Failed(format!(
                                "PagerDuty rate-limited GET {path} (429) without a usable Retry-After"
                            )));
                        }
                    }
                }
                other => {
                    return Err(PdError::Failed(format!("GET {path} answered {other}")));
                }
            }
        }
    }

    /// The escalation policy of `service_id` and its on-call entries from `now` to 7 days later,
    /// every page read.
    pub(crate) async fn service_on_calls(
        &self,
        service_id: &str,
        now: DateTime<Utc>,
        deadline: Instant,
    ) -> Result<ServiceOnCalls, PdError> {
        let service: ServiceEnvelope = self
            .get(&format!("/services/{service_id}"), &[], deadline)
            .await?;
        let policy = service.service.escalation_policy.ok_or_else(|| {
            PdError::Failed(format!(
                "PagerDuty service {service_id} has no escalation policy"
            ))
        })?;
        let policy_name = policy
            .summary
            .or(policy.name)
            .unwrap_or_else(|| policy.id.clone());
        let since = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let until = (now + chrono::Duration::days(LOOKAHEAD_DAYS))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut entries = Vec::new();
        let mut offset = 0usize;
        for _ in 0..MAX_PAGES {
            let query = [
                ("escalation_policy_ids[]", policy.id.clone()),
                ("include[]", "users".to_owned()),
                ("since", since.clone()),
                ("until", until.clone()),
                ("limit", PAGE_LIMIT.to_string()),
                ("offset", offset.to_string()),
            ];
            let page: OnCallPage = self.get("/oncalls", &query, deadline).await?;
            let received = page.oncalls.len();
            entries.extend(page.oncalls.into_iter().filter_map(|o| {
                let user = o.user?;
                Some(Entry {
                    level: o.escalation_level,
                    start: o.start,
                    end: o.end,
                    name: user
                        .name
                        .or(user.summary)
                        .unwrap_or_else(|| user.id.clone()),
                    email: user.email.filter(|e| !e.trim().is_empty()),
                    user_id: user.id,
                })
            }));
            if !page.more || received == 0 {
                break;
            }
            offset += received;
        }
        Ok(ServiceOnCalls {
            policy_id: policy.id,
            policy_name,
            entries,
        })
    }
}
