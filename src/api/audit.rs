//! `GET /api/v1/audit?since=…&until=…&target=…&limit=…&after=…`: the audit log as JSON lines
//! (`application/x-ndjson`, oldest first) for a bearer token with the `audit.read` scope.
//!
//! | answer | when |
//! | --- | --- |
//! | 200 | JSON lines, one [`AuditRecord`](crate::audit::AuditRecord) each (page on with `after=<last seq>`) |
//! | 400 | a query parameter is unknown or invalid (one-line reason) |
//! | 401 | no bearer token, or an unknown or revoked one (`WWW-Authenticate: Bearer …`) |
//! | 403 | a valid token without `audit.read` |
//! | 503 | the request could not be recorded in the audit log, or the store is down |
//!
//! Every request is itself recorded (origin `api`, action `audit.read`, command `audit`, the raw
//! query and the token id as arguments, never the secret); refusals are recorded before they are
//! answered. Every answer carries an `x-request-id` header matching the record.

use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use serde::Deserialize;

use crate::audit::{
    AuditDecision, AuditEntry, AuditLog, AuditOrigin, AuditQuery, Scope, new_request_id, parse_time,
};
use crate::store::Store;

/// The route of the audit endpoint.
pub const API_AUDIT_PATH: &str = "/api/v1/audit";

/// Records one page returns when `limit` is not given.
const DEFAULT_LIMIT: u32 = 1_000;
/// The largest `limit` accepted.
const MAX_LIMIT: u32 = 10_000;
/// The longest query string recorded (the rest is cut off).
const MAX_RECORDED_QUERY: usize = 1_024;

struct ApiState {
    log: AuditLog,
    store: Store,
}

/// The REST API's audit routes ([`API_AUDIT_PATH`]); [`super::router`] merges them. Requests are
/// recorded through `log`, and tokens checked and records read from `store`.
pub fn router(log: AuditLog, store: Store) -> Router {
    Router::new()
        .route(API_AUDIT_PATH, get(get_audit))
        .with_state(Arc::new(ApiState { log, store }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    since: Option<String>,
    until: Option<String>,
    target: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

fn parse_params(raw: &str) -> Result<AuditQuery, String> {
    let p: Params = serde_urlencoded::from_str(raw).map_err(|e| e.to_string())?;
    let now = Utc::now();
    let time = |name: &str, v: Option<String>| {
        v.map(|s| parse_time(&s, now).map_err(|e| format!("{name}: {e}")))
            .transpose()
    };
    let since = time("since", p.since)?;
    let until = time("until", p.until)?;
    if let (Some(s), Some(u)) = (since, until)
        && s > u
    {
        return Err("since is after until".to_owned());
    }
    let limit = match p.limit {
        None => DEFAULT_LIMIT,
        Some(l) => match l.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(format!(
                    "limit: `{l}` is not a number from 1 to {MAX_LIMIT}"
                ));
            }
        },
    };
    let after_seq = match p.after {
        None => None,
        Some(a) => match a.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => return Err(format!("after: `{a}` is not a record number")),
        },
    };
    let target = p.target.filter(|t| !t.is_empty());
    Ok(AuditQuery {
        since,
        until,
        target,
        after_seq,
        limit,
        ..AuditQuery::default()
    })
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn text(status: StatusCode, request_id: &str, line: &str) -> Response {
    let mut response = (status, format!("{line}\n")).into_response();
    set_request_id(&mut response, request_id);
    response
}

fn set_request_id(response: &mut Response, request_id: &str) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-request-id", v);
    }
}

fn challenge(mut response: Response, value: &'static str) -> Response {
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
    response
}

fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl ApiState {
    /// Records and waits; a failure is logged and reported as `false`.
    async fn record(&self, entry: AuditEntry) -> bool {
        let request_id = entry.request_id.clone();
        match self.log.record(entry).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(%request_id, error = %e, "API request not recorded in the audit log");
                false
            }
        }
    }
}

async fn get_audit(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let request_id = new_request_id("api");
    let raw = raw.unwrap_or_default();
    let mut arguments = serde_json::json!({ "query": cut(&raw, MAX_RECORDED_QUERY) });
    let entry = |arguments: &serde_json::Value| {
        AuditEntry::new(AuditOrigin::Api, request_id.clone(), "audit.read", "audit")
            .with_arguments(arguments.clone())
    };
    let rule = || Some(format!("scope:{}", Scope::AuditRead));

    let Some(secret) = bearer(&headers) else {
        state
            .record(
                entry(&arguments)
                    .with_decision(
                        AuditDecision::Deny,
                        None,
                        Some("no bearer token".to_owned()),
                    )
                    .with_outcome("unauthenticated"),
            )
            .await;
        return challenge(
            text(
                StatusCode::UNAUTHORIZED,
                &request_id,
                "a bearer token is required",
            ),
            "Bearer realm=\"idp\"",
        );
    };
    let token = match state.store.check_api_token(secret).await {
        Ok(Some(token)) => token,
        Ok(None) => {
            state
                .record(
                    entry(&arguments)
                        .with_decision(
                            AuditDecision::Deny,
                            None,
                            Some("unknown or revoked token".to_owned()),
                        )
                        .with_outcome("unauthenticated"),
                )
                .await;
            return challenge(
                text(
                    StatusCode::UNAUTHORIZED,
                    &request_id,
                    "the bearer token is unknown or revoked",
                ),
                "Bearer realm=\"idp\", error=\"invalid_token\"",
            );
        }
        Err(e) => {
            tracing::error!(%request_id, error = %e, "could not check an API token");
            state
                .record(
                    entry(&arguments)
                        .with_decision(
                            AuditDecision::Error,
                            None,
                            Some("the token could not be checked".to_owned()),
                        )
                        .with_outcome("failed"),
                )
                .await;
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                &request_id,
                &format!("the store is unavailable (ref {request_id})"),
            );
        }
    };
    arguments["token_id"] = token.token_id.clone().into();
    if !token.allows(Scope::AuditRead) {
        state
            .record(
                entry(&arguments)
                    .with_decision(
                        AuditDecision::Deny,
                        rule(),
                        Some(format!(
                            "token {} lacks the {} scope",
                            token.token_id,
                            Scope::AuditRead
                        )),
                    )
                    .with_outcome("denied"),
            )
            .await;
        return challenge(
            text(
                StatusCode::FORBIDDEN,
                &request_id,
                "this token lacks the audit.read scope",
            ),
            "Bearer realm=\"idp\", error=\"insufficient_scope\", scope=\"audit.read\"",
        );
    }
    let query = match parse_params(&raw) {
        Ok(q) => q,
        Err(reason) => {
            let reason = reason.replace('\n', " ");
            state
                .record(
                    entry(&arguments)
                        .with_decision(AuditDecision::Allow, rule(), Some(reason.clone()))
                        .with_outcome("invalid"),
                )
                .await;
            return text(StatusCode::BAD_REQUEST, &request_id, &reason);
        }
    };
    if let Some(t) = &query.target {
        arguments["target"] = t.clone().into();
    }
    let records = match state.store.audit_query(&query).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(%request_id, error = %e, "could not query the audit log");
            state
                .record(
                    entry(&arguments)
                        .with_decision(AuditDecision::Allow, rule(), None)
                        .with_outcome("failed"),
                )
                .await;
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                &request_id,
                &format!("something went wrong (ref {request_id})"),
            );
        }
    };
    let mut body = Vec::with_capacity(records.len() * 512);
    for r in &records {
        if let Err(e) = serde_json::to_writer(&mut body, r) {
            tracing::error!(%request_id, error = %e, "could not serialise an audit record");
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                &request_id,
                &format!("something went wrong (ref {request_id})"),
            );
        }
        body.push(b'\n');
    }
    let mut read = entry(&arguments)
        .with_decision(AuditDecision::Allow, rule(), None)
        .with_outcome("answered");
    read.target = query.target.clone();
    if !state.record(read).await {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            &request_id,
            &format!("the audit log is unavailable, so nothing is answered (ref {request_id})"),
        );
    }
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    set_request_id(&mut response, &request_id);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_checked_with_one_line_reasons() {
        assert!(parse_params("").is_ok());
        let q = parse_params("since=2025-05-01&limit=10&after=4&target=component:default/x")
            .expect("valid");
        assert_eq!(
            (q.limit, q.after_seq, q.target.as_deref()),
            (10, Some(4), Some("component:default/x"))
        );
        for (raw, needle) in [
            ("since=yesterday", "since:"),
            ("limit=0", "limit:"),
            ("limit=100000", "limit:"),
            ("after=-1", "after:"),
            ("colour=red", "unknown field"),
            ("since=2025-05-02&until=2025-05-01", "since is after until"),
        ] {
            let err = parse_params(raw).expect_err(raw);
            assert!(err.contains(needle) && !err.contains('\n'), "{raw}: {err}");
        }
    }

    #[test]
    fn only_bearer_credentials_are_taken() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  idp_x "),
        );
        assert_eq!(bearer(&h), Some("idp_x"));
    }
}
