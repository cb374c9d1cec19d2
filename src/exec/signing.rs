//! HMAC-SHA256 signatures on the webhook backend's requests and callbacks, and on GitHub's
//! webhooks.
//!
//! **idp's scheme** (both directions, one shared secret, `IDP_WEBHOOK_SECRET`), shaped like
//! Slack's request signing:
//!
//! - `X-Idp-Timestamp`: the sending time, whole Unix seconds (`1767225600`);
//! - `X-Idp-Signature`: `v1=` followed by the lowercase hex HMAC-SHA256, under the secret, of the
//!   bytes `v1:{timestamp}:{raw body}`.
//!
//! A receiver recomputes the HMAC over the raw body exactly as received, compares in constant
//! time, and refuses a timestamp more than [`MAX_SKEW_SECS`] from its clock (a replay).
//!
//! **GitHub's scheme** (`GITHUB_WEBHOOK_SECRET`): `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of
//! the raw body>`, no timestamp
//! (<https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries>).
//!
//! Comparisons go through `hmac`'s `verify_slice` (constant time). A [`SigningError`] says which
//! check failed for the logs; it never holds the expected signature or the secret.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// The header carrying the signing time.
pub const TIMESTAMP_HEADER: &str = "X-Idp-Timestamp";
/// The header carrying idp's signature.
pub const SIGNATURE_HEADER: &str = "X-Idp-Signature";
/// GitHub's signature header.
pub const GITHUB_SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
/// The replay window, in seconds, either side of now.
pub const MAX_SKEW_SECS: i64 = 300;

/// Why a signature was refused. The messages go to logs; none holds a signature or a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    /// A header is absent or not visible ASCII.
    #[error("missing or unreadable header {0}")]
    MissingHeader(&'static str),
    /// A header does not have the documented shape.
    #[error("malformed {header}: {reason}")]
    Malformed {
        /// The header.
        header: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The timestamp is outside the window.
    #[error("stale timestamp: {skew_secs} s from now (window is {MAX_SKEW_SECS} s)")]
    Stale {
        /// Signing time minus now, in seconds.
        skew_secs: i64,
    },
    /// The signature does not match the body (and timestamp).
    #[error("signature mismatch")]
    Mismatch,
    /// idp has no secret to check with.
    #[error("{0} is not set, so signed requests cannot be verified")]
    NotConfigured(&'static str),
}

fn mac(secret: &SecretString) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail; an empty key is the fallback.
    <Hmac<Sha256> as Mac>::new_from_slice(secret.expose_secret().as_bytes()).unwrap_or_else(|_| {
        <Hmac<Sha256> as Mac>::new_from_slice(&[]).unwrap_or_else(|_| unreachable!())
    })
}

fn signed_mac(secret: &SecretString, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = mac(secret);
    mac.update(format!("v1:{timestamp}:").as_bytes());
    mac.update(body);
    mac
}

/// The `X-Idp-Signature` value for `body` sent at `timestamp` (Unix seconds): `v1=<hex>`.
pub fn sign(secret: &SecretString, timestamp: i64, body: &[u8]) -> String {
    let tag = signed_mac(secret, timestamp, body).finalize().into_bytes();
    format!("v1={}", hex::encode(tag))
}

/// Checks an idp-signed request (a callback from the webhook receiver) at `now_unix` from its
/// `X-Idp-Timestamp` and `X-Idp-Signature` headers and its raw body.
///
/// # Errors
/// [`SigningError`]: a missing header, a timestamp that is not whole seconds or a signature not
/// `v1=<64 hex digits>` (malformed), a timestamp more than 300 s away (stale, checked before any
/// hashing), or a signature that does not match.
pub fn verify_signed(
    secret: &SecretString,
    timestamp_header: Option<&str>,
    signature_header: Option<&str>,
    body: &[u8],
    now_unix: i64,
) -> Result<(), SigningError> {
    let timestamp = timestamp_header.ok_or(SigningError::MissingHeader(TIMESTAMP_HEADER))?;
    let signature = signature_header.ok_or(SigningError::MissingHeader(SIGNATURE_HEADER))?;
    let timestamp: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SigningError::Malformed {
            header: TIMESTAMP_HEADER,
            reason: "not a whole number of Unix seconds",
        })?;
    let tag = hex_tag(SIGNATURE_HEADER, signature, "v1=")?;
    let skew_secs = timestamp.saturating_sub(now_unix);
    if skew_secs.abs() > MAX_SKEW_SECS {
        return Err(SigningError::Stale { skew_secs });
    }
    signed_mac(secret, timestamp, body)
        .verify_slice(&tag)
        .map_err(|_| SigningError::Mismatch)
}

/// Checks a GitHub webhook delivery from its `X-Hub-Signature-256` header (`sha256=<hex>`) and raw
/// body.
///
/// # Errors
/// [`SigningError`]: missing header, not `sha256=<64 hex digits>`, or no match.
pub fn verify_github_webhook(
    secret: &SecretString,
    signature_header: Option<&str>,
    body: &[u8],
) -> Result<(), SigningError> {
    let signature = signature_header.ok_or(SigningError::MissingHeader(GITHUB_SIGNATURE_HEADER))?;
    let tag = hex_tag(GITHUB_SIGNATURE_HEADER, signature, "sha256=")?;
    let mut mac = mac(secret);
    mac.update(body);
    mac.verify_slice(&tag).map_err(|_| SigningError::Mismatch)
}

/// Signs a body the way GitHub does: the `X-Hub-Signature-256` value. For tests and tools.
pub fn sign_github(secret: &SecretString, body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The 32 bytes of `prefix<64 hex digits>`.
fn hex_tag(header: &'static str, value: &str, prefix: &str) -> Result<Vec<u8>, SigningError> {
    let digits = value
        .trim()
        .strip_prefix(prefix)
        .ok_or(SigningError::Malformed {
            header,
            reason: if prefix == "v1=" {
                "does not start with v1="
            } else {
                "does not start with sha256="
            },
        })?;
    match hex::decode(digits) {
        Ok(tag) if tag.len() == 32 => Ok(tag),
        _ => Err(SigningError::Malformed {
            header,
            reason: "not 64 hexadecimal digits after the prefix",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SecretString {
        SecretString::from("whsec-test-0123456789")
    }

    #[test]
    fn a_signature_is_hmac_sha256_of_version_timestamp_and_body() {
        // Computed independently (Python's hmac over b'v1:1700000000:{"a":1}').
        let s = sign(&secret(), 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(
            s,
            "v1=bedd4c627b8bcbca0c177ea2754f196cefcba85d2ac44981596eb63d121b8c30"
        );
        let ok = verify_signed(
            &secret(),
            Some("1700000000"),
            Some(&s),
            br#"{"a":1}"#,
            1_700_000_100,
        );
        assert_eq!(ok, Ok(()));
        let other_body = verify_signed(
            &secret(),
            Some("1700000000"),
            Some(&s),
            br#"{"a":2}"#,
            1_700_000_100,
        );
        assert_eq!(other_body, Err(SigningError::Mismatch));
        let other_time = verify_signed(
            &secret(),
            Some("1700000001"),
            Some(&s),
            br#"{"a":1}"#,
            1_700_000_100,
        );
        assert_eq!(other_time, Err(SigningError::Mismatch));
    }

    #[test]
    fn the_test_vector_in_the_webhook_docs_holds() {
        let s = sign(
            &SecretString::from("example-secret"),
            1_767_225_600,
            br#"{"status":"running","sequence":1}"#,
        );
        assert_eq!(
            s,
            "v1=e1b8c8e170728e9417f5f3d858b85cfd774139cb41a68251d9896446819f1dd0"
        );
    }

    #[test]
    fn github_signatures_cover_the_raw_body() {
        let body = br#"{"action":"completed"}"#;
        let s = sign_github(&secret(), body);
        assert_eq!(verify_github_webhook(&secret(), Some(&s), body), Ok(()));
        assert_eq!(
            verify_github_webhook(&SecretString::from("other"), Some(&s), body),
            Err(SigningError::Mismatch)
        );
        assert!(matches!(
            verify_github_webhook(&secret(), Some("sha1=abc"), body),
            Err(SigningError::Malformed { .. })
        ));
    }
}
