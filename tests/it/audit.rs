//! The audit log on every backend: the hash chain verifies after concurrent writes from two
//! writers; an edited, deleted or rewritten record is named by `idp audit verify`; export filters
//! by time; the REST endpoint checks bearer tokens and their scope; secrets are redacted.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use idp::audit::{
    self, AuditDecision, AuditEntry, AuditError, AuditLog, AuditLogOptions, AuditOrigin,
    AuditQuery, AuditRecord, Scope,
};
use idp::store::Store;

use crate::support;

fn entry(n: usize) -> AuditEntry {
    let mut e = AuditEntry::new(
        AuditOrigin::Slack,
        format!("req-{n}"),
        "catalog.read",
        "owner",
    )
    .with_arguments(serde_json::json!({ "text": format!("service-{n}") }))
    .with_target(format!("component:default/service-{n}"))
    .with_decision(AuditDecision::Allow, Some("open-reads".to_owned()), None);
    e.slack_team_id = Some("T0001".to_owned());
    e.slack_user_id = Some(format!("U{n:04}"));
    e.channel_id = Some("C0001".to_owned());
    e
}

/// Runs raw SQL as someone with direct access to the database would.
async fn exec(store: &Store, sql: &str) {
    match store {
        Store::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
        Store::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
    }
    .expect(sql);
}

/// Like [`exec`], expecting the database to refuse.
async fn refused(store: &Store, sql: &str) -> String {
    match store {
        Store::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
        Store::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
    }
    .expect_err(sql)
    .to_string()
}

/// What an attacker with DDL rights does first: switch off the append-only triggers.
async fn drop_guards(store: &Store) {
    match store {
        Store::Sqlite(_) => {
            exec(
                store,
                "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;",
            )
            .await;
        }
        Store::Postgres(_) => exec(store, "ALTER TABLE audit_log DISABLE TRIGGER USER").await,
    }
}

/// A store holding records #1 to #5.
async fn five_records(backend: &support::Backend) -> Store {
    let store = backend.store().await;
    let entries: Vec<AuditEntry> = (1..=5).map(entry).collect();
    assert_eq!(store.append_audit(&entries).await.expect("append"), 5);
    assert!(store.verify_audit().await.expect("verify").ok());
    store
}

async fn verify_text(store: &Store) -> (bool, String) {
    let mut out = Vec::new();
    let ok = audit::cli::verify(store, &mut out).await.expect("verify");
    (ok, String::from_utf8(out).expect("utf-8"))
}

fn all() -> AuditQuery {
    AuditQuery {
        limit: 10_000,
        ..AuditQuery::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn records_from_many_tasks_and_two_writers_form_one_chain_that_verifies() {
    for backend in support::backends() {
        let first = AuditLog::start(backend.store().await);
        let second = AuditLog::start(backend.store().await);
        let mut tasks = Vec::new();
        for t in 0..8 {
            let log = if t % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            tasks.push(tokio::spawn(async move {
                for i in 0..25 {
                    let e = entry(t * 100 + i);
                    if i % 3 == 0 {
                        log.record(e).await.expect("recorded");
                    } else {
                        log.record_nowait(e);
                    }
                }
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        first.flush().await;
        second.flush().await;
        assert_eq!(first.lost() + second.lost(), 0, "{}", backend.name);

        let store = backend.store().await;
        let report = store.verify_audit().await.expect("verify");
        assert_eq!(report.first_broken, None, "{}", backend.name);
        assert_eq!(report.records, 200, "{}", backend.name);
        assert_eq!(report.head.0, 200);
        let seqs: Vec<i64> = store
            .audit_query(&all())
            .await
            .expect("query")
            .iter()
            .map(|r| r.seq)
            .collect();
        assert_eq!(seqs, (1..=200).collect::<Vec<i64>>());
        let (ok, text) = verify_text(&store).await;
        assert!(
            ok && text.starts_with("audit chain ok: 200 records\n"),
            "{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_database_refuses_to_update_or_delete_a_record() {
    for backend in support::backends() {
        let store = five_records(&backend).await;
        let err = refused(&store, "UPDATE audit_log SET outcome = 'x' WHERE seq = 2").await;
        assert!(err.contains("append-only"), "{}: {err}", backend.name);
        let err = refused(&store, "DELETE FROM audit_log WHERE seq = 5").await;
        assert!(err.contains("append-only"), "{}: {err}", backend.name);
        assert!(store.verify_audit().await.expect("verify").ok());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn editing_one_field_of_a_record_makes_verify_name_that_record() {
    for backend in support::backends() {
        let store = five_records(&backend).await;
        drop_guards(&store).await;
        exec(
            &store,
            "UPDATE audit_log SET outcome = 'denied' WHERE seq = 3",
        )
        .await;
        let report = store.verify_audit().await.expect("verify");
        let broken = report.first_broken.expect("broken");
        assert_eq!(broken.seq, 3, "{}", backend.name);
        assert_eq!(broken.request_id.as_deref(), Some("req-3"));
        let (ok, text) = verify_text(&store).await;
        assert!(!ok);
        assert_eq!(
            text,
            "audit chain broken at record #3 (request req-3): its content does not match its hash (the record was altered)\n",
            "{}",
            backend.name
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_record_in_the_middle_makes_verify_name_the_missing_one() {
    for backend in support::backends() {
        let store = five_records(&backend).await;
        drop_guards(&store).await;
        exec(&store, "DELETE FROM audit_log WHERE seq = 3").await;
        let (ok, text) = verify_text(&store).await;
        assert!(!ok);
        assert_eq!(
            text,
            "audit chain broken at record #3: record #3 is missing: the log jumps from #2 to #4\n",
            "{}",
            backend.name
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_the_last_record_is_caught_by_the_head() {
    for backend in support::backends() {
        let store = five_records(&backend).await;
        drop_guards(&store).await;
        exec(&store, "DELETE FROM audit_log WHERE seq = 5").await;
        let broken = store
            .verify_audit()
            .await
            .expect("verify")
            .first_broken
            .expect("broken");
        assert_eq!(broken.seq, 5, "{}", backend.name);
        assert!(
            broken.reason.contains("the head says the log ends at #5"),
            "{}",
            broken.reason
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_record_rewritten_with_a_fresh_hash_breaks_the_link_of_the_next_one() {
    for backend in support::backends() {
        let store = five_records(&backend).await;
        let second = store
            .audit_query(&AuditQuery {
                after_seq: Some(1),
                limit: 1,
                ..AuditQuery::default()
            })
            .await
            .expect("query")
            .remove(0);
        let mut forged = second.entry.clone();
        forged.outcome = "denied".to_owned();
        let hash = forged.chain_hash(2, &second.prev_hash);
        drop_guards(&store).await;
        exec(
            &store,
            &format!("UPDATE audit_log SET outcome = 'denied', hash = '{hash}' WHERE seq = 2"),
        )
        .await;
        let broken = store
            .verify_audit()
            .await
            .expect("verify")
            .first_broken
            .expect("broken");
        assert_eq!(broken.seq, 3, "{}", backend.name);
        assert!(
            broken.reason.contains("hash of record #2"),
            "{}",
            broken.reason
        );
    }
}

fn noon(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 5, day, 12, 0, 0)
        .single()
        .expect("a valid date")
}

#[tokio::test(flavor = "multi_thread")]
async fn export_writes_the_records_between_since_and_until_as_json_lines() {
    for backend in support::backends() {
        let store = backend.store().await;
        let entries: Vec<AuditEntry> = (1..=5)
            .map(|d| {
                let mut e = entry(d as usize);
                e.at = noon(d);
                e
            })
            .collect();
        store.append_audit(&entries).await.expect("append");
        let now = noon(10);
        let since = audit::parse_time("2025-05-02", now).expect("date");
        let until = audit::parse_time("2025-05-04T00:00:00Z", now).expect("rfc 3339");
        let mut out = Vec::new();
        let n = audit::cli::export(&store, Some(since), Some(until), &mut out)
            .await
            .expect("export");
        assert_eq!(n, 2, "{}", backend.name);
        let text = String::from_utf8(out).expect("utf-8");
        let records: Vec<AuditRecord> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON record per line"))
            .collect();
        assert_eq!(
            records.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![2, 3]
        );
        assert!(
            text.contains(r#""at":"2025-05-02T12:00:00.000000Z""#),
            "{text}"
        );
        for r in &records {
            assert_eq!(
                r.entry.chain_hash(r.seq, &r.prev_hash),
                r.hash,
                "an export can be re-hashed outside the database"
            );
        }

        let mut out = Vec::new();
        let n = audit::cli::export(&store, Some(noon(5)), None, &mut out)
            .await
            .expect("export");
        assert_eq!(n, 2, "record #5 and the first export's own record");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.contains(r#""command":"audit export""#), "{text}");
        assert!(store.verify_audit().await.expect("verify").ok());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn token_looking_arguments_are_redacted_before_they_are_hashed_and_stored() {
    for backend in support::backends() {
        let store = backend.store().await;
        let log = AuditLog::start(store.clone());
        let (_, secret) = store
            .create_api_token(&[Scope::AuditRead])
            .await
            .expect("token");
        let mut e = entry(1).with_arguments(serde_json::json!({
            "text": "deploy xoxb-1234-5678-AbCdEf with Authorization: Bearer abc.def",
            "key": secret,
        }));
        e.reason = Some("webhook https://hooks.slack.com/services/T0/B0/XyZ failed".to_owned());
        log.record(e).await.expect("recorded");
        let stored = store.audit_query(&all()).await.expect("query").remove(0);
        assert_eq!(
            stored.entry.arguments,
            serde_json::json!({
                "text": "deploy xoxb-[redacted] with Authorization: Bearer [redacted]",
                "key": "idp_[redacted]",
            }),
            "{}",
            backend.name
        );
        assert_eq!(
            stored.entry.reason.as_deref(),
            Some("webhook https://hooks.slack.com/[redacted] failed")
        );
        let mut out = Vec::new();
        audit::cli::export(&store, None, None, &mut out)
            .await
            .expect("export");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(
            !text.contains("1234-5678") && !text.contains(&secret) && !text.contains("XyZ"),
            "{text}"
        );
        assert!(store.verify_audit().await.expect("verify").ok());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_is_shown_once_stored_as_a_hash_and_an_unknown_scope_is_refused() {
    for backend in support::backends() {
        let store = backend.store().await;
        let mut out = Vec::new();
        let err = audit::cli::create_token(&store, "audit.write", &mut out)
            .await
            .expect_err("unknown scope");
        assert_eq!(
            err.to_string(),
            "unknown scope `audit.write` (known scopes: audit.read, catalog.read)"
        );

        audit::cli::create_token(&store, "audit.read", &mut out)
            .await
            .expect("created");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.contains("cannot be shown again"), "{text}");
        let secret = text
            .split_whitespace()
            .find(|w| w.starts_with("idp_"))
            .expect("the secret is printed")
            .to_owned();
        let token = store
            .check_api_token(&secret)
            .await
            .expect("check")
            .expect("live");
        assert_eq!(token.scopes, vec![Scope::AuditRead], "{}", backend.name);

        let hash = audit::hash_secret(&secret);
        let stored: Vec<(String, String)> = match &store {
            Store::Sqlite(pool) => sqlx::query_as("SELECT token_id, secret_hash FROM api_tokens")
                .fetch_all(pool)
                .await
                .expect("read"),
            Store::Postgres(pool) => sqlx::query_as("SELECT token_id, secret_hash FROM api_tokens")
                .fetch_all(pool)
                .await
                .expect("read"),
        };
        assert_eq!(stored, vec![(token.token_id.clone(), hash)]);

        let records = store.audit_query(&all()).await.expect("query");
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].entry.action, "token.create");
        assert_eq!(
            records[0].entry.arguments,
            serde_json::json!({ "scope": "audit.read", "token_id": token.token_id })
        );

        let mut out = Vec::new();
        audit::cli::revoke_token(&store, &token.token_id, &mut out)
            .await
            .expect("revoked");
        assert_eq!(store.check_api_token(&secret).await.expect("check"), None);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_that_cannot_be_written_is_reported_and_the_writer_carries_on() {
    for backend in support::backends() {
        let store = backend.store().await;
        let log = AuditLog::start_with(
            store.clone(),
            AuditLogOptions {
                attempts: 3,
                retry_delay: Duration::from_millis(1),
                ..AuditLogOptions::default()
            },
        );
        log.record(entry(1)).await.expect("recorded");
        let (seq, hash) = store.audit_head().await.expect("head");

        exec(&store, "DELETE FROM audit_head").await;
        let err = log.record(entry(2)).await.expect_err("cannot be written");
        assert!(
            matches!(err, AuditError::Write { attempts: 3, .. }),
            "{}: {err}",
            backend.name
        );

        exec(
            &store,
            &format!("INSERT INTO audit_head (id, seq, hash) VALUES (1, {seq}, '{hash}')"),
        )
        .await;
        log.record(entry(3)).await.expect("recorded again");
        let report = store.verify_audit().await.expect("verify");
        assert_eq!((report.records, report.first_broken), (2, None));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_endpoint_wants_a_bearer_token_with_the_audit_read_scope() {
    for backend in support::backends() {
        let store = backend.store().await;
        store
            .append_audit(&(1..=3).map(entry).collect::<Vec<_>>())
            .await
            .expect("append");
        let log = AuditLog::start(store.clone());
        let (_, reader) = store
            .create_api_token(&[Scope::AuditRead])
            .await
            .expect("token");
        let (_, other) = store
            .create_api_token(&[Scope::CatalogRead])
            .await
            .expect("token");

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!(
            "http://{}{}",
            listener.local_addr().expect("addr"),
            idp::api::API_AUDIT_PATH
        );
        let app = idp::api::router(log.clone(), store.clone());
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let client = reqwest::Client::new();

        let r = client.get(&url).send().await.expect("send");
        assert_eq!(r.status(), 401, "{}", backend.name);
        let challenge = r
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .expect("a challenge");
        assert!(challenge.starts_with("Bearer"), "{challenge}");

        let forged = format!("idp_0000000000000000_{}", "ab".repeat(32));
        let r = client
            .get(&url)
            .bearer_auth(&forged)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 401);

        let r = client
            .get(&url)
            .bearer_auth(&other)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 403, "{}", backend.name);

        let r = client
            .get(format!("{url}?limit=none"))
            .bearer_auth(&reader)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 400);
        let reason = r.text().await.expect("body");
        assert_eq!(reason.lines().count(), 1, "{reason}");
        assert!(reason.starts_with("limit:"), "{reason}");

        let r = client
            .get(format!("{url}?since=1h&target=component:default/service-2"))
            .bearer_auth(&reader)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200, "{}", backend.name);
        assert_eq!(
            r.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/x-ndjson")
        );
        let body = r.text().await.expect("body");
        let lines: Vec<serde_json::Value> = body
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect();
        assert_eq!(lines.len(), 1, "{body}");
        assert_eq!(lines[0]["seq"], 2);
        assert_eq!(lines[0]["request_id"], "req-2");

        log.flush().await;
        let api: Vec<(String, String)> = store
            .audit_query(&all())
            .await
            .expect("query")
            .into_iter()
            .filter(|r| r.entry.origin == AuditOrigin::Api)
            .map(|r| (r.entry.decision.to_string(), r.entry.outcome))
            .collect();
        let expected: Vec<(String, String)> = [
            ("deny", "unauthenticated"),
            ("deny", "unauthenticated"),
            ("deny", "denied"),
            ("allow", "invalid"),
            ("allow", "answered"),
        ]
        .iter()
        .map(|(d, o)| ((*d).to_owned(), (*o).to_owned()))
        .collect();
        assert_eq!(api, expected, "every API request is recorded, refusals too");
        let mut out = Vec::new();
        audit::cli::export(&store, None, None, &mut out)
            .await
            .expect("export");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(
            !text.contains(&reader) && !text.contains(&other) && !text.contains(&forged),
            "no secret is recorded"
        );
        assert!(store.verify_audit().await.expect("verify").ok());
        server.abort();
    }
}
