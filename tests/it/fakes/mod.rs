//! HTTP fakes of the systems idp talks to, each an axum app on 127.0.0.1 that checks what it
//! receives and records it.

pub mod argocd;
pub mod backstage;
pub mod github;
pub mod pagerduty;
pub mod slack;
pub mod webhook;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A fake's server task on 127.0.0.1; stops when dropped.
pub struct Server {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// Serves `app` on a free loopback port.
    pub async fn start(app: axum::Router, what: &'static str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind the {what}: {e}"));
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .unwrap_or_else(|e| panic!("serve the {what}: {e}"));
        });
        Self {
            url: format!("http://{addr}"),
            task,
        }
    }
}

/// Locks a fake's state, ignoring poisoning (a failed assertion elsewhere must not hide the
/// fake's records).
pub fn lock<T>(state: &Arc<Mutex<T>>) -> MutexGuard<'_, T> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Lowercase hex HMAC-SHA256 of `parts` under `secret`, written here rather than taken from idp so
/// that the fakes check idp's signatures independently.
pub fn hmac_hex(secret: &str, parts: &[&[u8]]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("any key length");
    for part in parts {
        mac.update(part);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// A header as text, if present and readable.
pub fn header<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
