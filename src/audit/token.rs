//! REST API bearer tokens: scopes, secret generation and hashing. The store keeps only
//! [`hash_secret`] of a secret; the secret itself is shown once, when it is created.
//!
//! A secret reads `idp_<token id: 16 hex>_<64 hex: 32 random bytes>`. It is looked up by its
//! SHA-256, so no comparison of secrets happens in idp code and no constant-time comparison is
//! needed: timing can at most reveal something about a hash of a 256-bit random value.

use std::fmt;

use sha2::{Digest, Sha256};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Read the audit log: `GET /api/v1/audit`.
    AuditRead,
    /// Read the catalog through the REST API (reserved for its catalog endpoints).
    CatalogRead,
}

impl Scope {
    /// Every scope idp knows.
    pub const ALL: [Self; 2] = [Self::AuditRead, Self::CatalogRead];

    /// The scope's name: `audit.read`, `catalog.read`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuditRead => "audit.read",
            Self::CatalogRead => "catalog.read",
        }
    }

    /// Reads a scope name.
    ///
    /// # Errors
    /// A message naming the unknown scope and listing the known ones.
    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|s| s.as_str()).collect();
                format!(
                    "unknown scope `{name}` (known scopes: {})",
                    known.join(", ")
                )
            })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A live (not revoked) token, as found by its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Its public id (the part between `idp_` and the second `_`); safe to log and record.
    pub token_id: String,
    /// Its scopes (names idp does not know, from a newer version, are left out).
    pub scopes: Vec<Scope>,
}

impl ApiToken {
    /// Whether the token carries `scope`.
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// SHA-256 (lower-case hex) of a secret: what the store keeps and looks tokens up by.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new token id and its secret.
pub(crate) fn generate() -> (String, String) {
    let id = hex::encode(random_bytes::<8>());
    let secret = format!("idp_{id}_{}", hex::encode(random_bytes::<32>()));
    (id, secret)
}

/// `N` bytes from the operating system's CSPRNG (through ring, which rustls already links).
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0_u8; N];
    let provider = rustls::crypto::ring::default_provider();
    if provider.secure_random.fill(&mut bytes).is_err() {
        // The OS refused randomness: nothing secure can be made, and continuing would hand out
        // a predictable secret.
        panic!("the operating system's random number generator failed");
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_the_documented_shape_and_differ() {
        let (id, secret) = generate();
        let (_, other) = generate();
        assert_eq!(id.len(), 16);
        assert!(secret.starts_with(&format!("idp_{id}_")));
        assert_eq!(secret.len(), 4 + 16 + 1 + 64);
        assert_ne!(secret, other);
        assert_eq!(crate::audit::redact(&secret), "idp_[redacted]");
    }

    #[test]
    fn unknown_scopes_are_refused_with_the_known_ones_listed() {
        assert_eq!(Scope::parse("audit.read"), Ok(Scope::AuditRead));
        let err = Scope::parse("audit.write").expect_err("unknown");
        assert!(err.contains("audit.read, catalog.read"), "{err}");
    }
}
