//! The catalog's one HTTP fetcher: reads an entity descriptor (a `catalog-info.yaml`) from an
//! http(s) location, such as the one a backend names when a template run finished. Callers see
//! only [`DescriptorFetcher`]; [`HttpFetcher`] is the reqwest implementation.

use std::time::Duration;

/// Largest descriptor fetched from a location, in bytes.
pub const MAX_DESCRIPTOR_BYTES: usize = 256 * 1024;

/// How long one fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a location could not be read: one line for people (a run's steps), never with the URL's
/// query string or credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(pub String);

/// Reads descriptor text from a location.
#[async_trait::async_trait]
pub trait DescriptorFetcher: Send + Sync {
    /// The text at `location`: UTF-8, at most [`MAX_DESCRIPTOR_BYTES`].
    ///
    /// # Errors
    /// [`FetchError`]: not an http(s) URL, unreachable, a non-2xx answer, too large, not UTF-8.
    async fn fetch(&self, location: &str) -> Result<String, FetchError>;
}

/// [`DescriptorFetcher`] over HTTP(S) with its own client (10 s per request).
#[derive(Debug, Clone)]
pub struct HttpFetcher {
    http: reqwest::Client,
}

impl Default for HttpFetcher {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpFetcher {
    /// A fetcher with a fresh client (the default client when the TLS stack cannot be set up).
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(FETCH_TIMEOUT)
                .build()
                .unwrap_or_default(),
        }
    }
}

#[async_trait::async_trait]
impl DescriptorFetcher for HttpFetcher {
    async fn fetch(&self, location: &str) -> Result<String, FetchError> {
        let err = |reason: String| FetchError(reason);
        if !(location.starts_with("https://") || location.starts_with("http://")) {
            return Err(err("only http(s) locations are read".to_owned()));
        }
        let response = self
            .http
            .get(location)
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .map_err(|e| err(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(err(format!("HTTP {}", response.status().as_u16())));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_DESCRIPTOR_BYTES as u64)
        {
            return Err(err(format!("larger than {MAX_DESCRIPTOR_BYTES} bytes")));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| err(e.without_url().to_string()))?;
        if bytes.len() > MAX_DESCRIPTOR_BYTES {
            return Err(err(format!("larger than {MAX_DESCRIPTOR_BYTES} bytes")));
        }
        String::from_utf8(bytes.to_vec()).map_err(|_| err("not UTF-8 text".to_owned()))
    }
}
