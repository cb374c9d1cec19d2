//! Bodies of `idp audit verify`, `idp audit export`, `idp token create` and `idp token revoke`.
//! Each writes to `out` and records itself in the audit log (origin `shell`) when it changes
//! something or reads the log out.

use std::io::Write;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};

use super::{AuditDecision, AuditEntry, AuditOrigin, AuditQuery, Scope, new_request_id};
use crate::store::Store;

/// Records per page while exporting.
const PAGE: u32 = 1_000;

/// `idp audit verify`: checks the chain and prints `audit chain ok: N records` (with the head's
/// seq and hash, worth keeping outside the database) or
/// `audit chain broken at record #seq (request …): reason`. Returns whether the chain is intact.
///
/// # Errors
/// The log cannot be read, or `out` cannot be written.
pub async fn verify(store: &Store, out: &mut impl Write) -> anyhow::Result<bool> {
    let report = store
        .verify_audit()
        .await
        .context("reading the audit log")?;
    match &report.first_broken {
        None => {
            writeln!(out, "audit chain ok: {} records", report.records)?;
            let (seq, hash) = &report.head;
            if *seq > 0 {
                writeln!(out, "head: #{seq} {hash}")?;
            }
            Ok(true)
        }
        Some(b) => {
            match &b.request_id {
                Some(id) => writeln!(
                    out,
                    "audit chain broken at record #{} (request {id}): {}",
                    b.seq, b.reason
                )?,
                None => writeln!(out, "audit chain broken at record #{}: {}", b.seq, b.reason)?,
            }
            Ok(false)
        }
    }
}

/// `idp audit export --since … --until …`: every record with `since <= at < until`, oldest first,
/// as JSON lines (the fields of [`AuditRecord`](super::AuditRecord), hashes included). Returns how
/// many were written. The export itself is recorded afterwards.
///
/// # Errors
/// The log cannot be read, or `out` cannot be written.
pub async fn export(
    store: &Store,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    out: &mut impl Write,
) -> anyhow::Result<u64> {
    if let (Some(s), Some(u)) = (since, until)
        && s > u
    {
        bail!("--since ({s}) is after --until ({u})");
    }
    let mut written = 0_u64;
    let mut after_seq = None;
    loop {
        let page = store
            .audit_query(&AuditQuery {
                since,
                until,
                after_seq,
                limit: PAGE,
                ..AuditQuery::default()
            })
            .await
            .context("reading the audit log")?;
        for record in &page {
            serde_json::to_writer(&mut *out, record)?;
            out.write_all(b"\n")?;
        }
        written += page.len() as u64;
        match page.last() {
            Some(last) if page.len() == PAGE as usize => after_seq = Some(last.seq),
            _ => break,
        }
    }
    out.flush()?;
    let mut arguments = serde_json::Map::new();
    if let Some(s) = since {
        arguments.insert("since".into(), super::format_at(&s).into());
    }
    if let Some(u) = until {
        arguments.insert("until".into(), super::format_at(&u).into());
    }
    record(
        store,
        AuditEntry::new(
            AuditOrigin::Shell,
            new_request_id("shell"),
            "audit.read",
            "audit export",
        )
        .with_arguments(arguments.into())
        .with_outcome("answered"),
    )
    .await?;
    Ok(written)
}

/// `idp token create --scope …`: creates a REST API token and prints its secret once, with a
/// warning that it cannot be shown again (only its SHA-256 is stored). The creation is recorded
/// (token id and scope, never the secret).
///
/// # Errors
/// An unknown scope (the message lists the known ones), or the store fails.
pub async fn create_token(store: &Store, scope: &str, out: &mut impl Write) -> anyhow::Result<()> {
    let scope = Scope::parse(scope).map_err(anyhow::Error::msg)?;
    let (token_id, secret) = store
        .create_api_token(&[scope])
        .await
        .context("storing the token")?;
    let recorded = record(
        store,
        AuditEntry::new(
            AuditOrigin::Shell,
            new_request_id("shell"),
            "token.create",
            "token create",
        )
        .with_arguments(serde_json::json!({ "scope": scope.as_str(), "token_id": token_id }))
        .with_decision(AuditDecision::Allow, None, None)
        .with_outcome("created"),
    )
    .await;
    if let Err(e) = recorded {
        // An unrecorded token must not stay usable.
        let _ = store.revoke_api_token(&token_id).await;
        return Err(e.context("the token was not issued"));
    }
    writeln!(out, "token {token_id} created with scope {scope}")?;
    writeln!(out)?;
    writeln!(out, "    {secret}")?;
    writeln!(out)?;
    writeln!(
        out,
        "Copy it now: it cannot be shown again (idp keeps only its SHA-256 hash)."
    )?;
    writeln!(out, "Send it as `Authorization: Bearer <token>`.")?;
    writeln!(out, "Revoke it with `idp token revoke {token_id}`.")?;
    Ok(())
}

/// `idp token revoke <token id>`: revokes a token; the revocation is recorded.
///
/// # Errors
/// No live token has that id, or the store fails.
pub async fn revoke_token(
    store: &Store,
    token_id: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let revoked = store
        .revoke_api_token(token_id)
        .await
        .context("revoking the token")?;
    record(
        store,
        AuditEntry::new(
            AuditOrigin::Shell,
            new_request_id("shell"),
            "token.revoke",
            "token revoke",
        )
        .with_arguments(serde_json::json!({ "token_id": token_id }))
        .with_decision(AuditDecision::Allow, None, None)
        .with_outcome(if revoked { "revoked" } else { "not_found" }),
    )
    .await?;
    if !revoked {
        bail!("no live token has the id `{token_id}`");
    }
    writeln!(out, "token {token_id} revoked")?;
    Ok(())
}

async fn record(store: &Store, entry: AuditEntry) -> anyhow::Result<()> {
    store
        .append_audit(&[entry])
        .await
        .context("recording in the audit log")?;
    Ok(())
}
