//! Verifying that a request comes from Slack
//! (<https://docs.slack.dev/authentication/verifying-requests-from-slack>): `X-Slack-Signature` is
//! `v0=` + hex HMAC-SHA256 of `v0:{X-Slack-Request-Timestamp}:{raw body}` under the signing secret,
//! compared in constant time, and the timestamp must be within 5 minutes of now in either
//! direction. The HMAC and the comparison are slack-morphism's; the window is checked first so a
//! replayed request costs no hashing.

use secrecy::{ExposeSecret, SecretString};
use slack_morphism::prelude::SlackSigningSecret;
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;

/// The replay window, in seconds, either side of now.
pub const MAX_SKEW_SECS: i64 = 300;

/// Why a request was refused. The messages never contain the signature or the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A header is absent or not ASCII.
    #[error("missing or unreadable header {0}")]
    MissingHeader(&'static str),
    /// The timestamp is not an integer number of seconds.
    #[error("X-Slack-Request-Timestamp is not a number of seconds")]
    BadTimestamp,
    /// The timestamp is outside the window.
    #[error("stale timestamp: {skew_secs} s from now (window is {MAX_SKEW_SECS} s)")]
    Stale {
        /// Request time minus now, in seconds.
        skew_secs: i64,
    },
    /// The body is not UTF-8, so it cannot be a Slack payload.
    #[error("body is not UTF-8")]
    NotUtf8,
    /// The signature does not match the body and timestamp.
    #[error("signature mismatch")]
    Mismatch,
}

/// Checks Slack request signatures with one signing secret.
#[derive(Clone)]
pub struct SignatureVerifier {
    inner: SlackEventSignatureVerifier,
}

impl std::fmt::Debug for SignatureVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignatureVerifier { secret: [redacted] }")
    }
}

impl SignatureVerifier {
    /// A verifier for this signing secret (Slack app settings → Basic Information).
    pub fn new(secret: &SecretString) -> Self {
        let secret = SlackSigningSecret::new(secret.expose_secret().to_owned());
        Self {
            inner: SlackEventSignatureVerifier::new(&secret),
        }
    }

    /// Verifies a request at time `now` (Unix seconds) from the two headers and the raw body.
    ///
    /// # Errors
    /// [`VerifyError`] saying which check failed.
    pub fn verify(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        let ts_text = timestamp.ok_or(VerifyError::MissingHeader("X-Slack-Request-Timestamp"))?;
        let signature = signature.ok_or(VerifyError::MissingHeader("X-Slack-Signature"))?;
        let ts: i64 = ts_text
            .trim()
            .parse()
            .map_err(|_| VerifyError::BadTimestamp)?;
        let skew_secs = ts.saturating_sub(now);
        if skew_secs.abs() > MAX_SKEW_SECS {
            return Err(VerifyError::Stale { skew_secs });
        }
        let body = std::str::from_utf8(body).map_err(|_| VerifyError::NotUtf8)?;
        self.inner
            .verify(signature, body, ts_text)
            .map_err(|_| VerifyError::Mismatch)
    }
}

/// Signs a body the way Slack does, for tests, benchmarks and load drivers: returns the
/// `X-Slack-Signature` value for `timestamp` and `body`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac =
        <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| {
            // HMAC accepts keys of any length; this branch cannot be taken.
            <Hmac<sha2::Sha256> as Mac>::new_from_slice(b"-").unwrap_or_else(|_| unreachable!())
        });
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}
