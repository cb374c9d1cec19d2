//! idp: the chat front door of an internal developer portal.
//!
//! A Slack app (and a local shell) that answers questions about a Backstage-format software
//! catalog: `/idp owner checkout-api`, `/idp service …`, `/idp search …`, `/idp team …`.
//! Every entry point turns its input into the same [`command::Command`], asks [`authz`], runs a
//! [`handlers`] function against the in-memory [`catalog::Snapshot`], and renders the
//! [`handlers::Outcome`] at the edge.

pub mod actions;
pub mod api;
pub mod app;
pub mod audit;
pub mod authz;
pub mod catalog;
pub mod check;
pub mod cli;
pub mod command;
pub mod config;
pub mod deploys;
pub mod exec;
pub mod handlers;
pub mod hooks;
pub mod identity;
pub mod oncall;
pub mod runs;
pub mod scorecards;
pub mod shell;
pub mod shell_form;
pub mod slack;
pub mod store;
pub mod templates;
pub mod wiring;

pub use app::AppState;

/// The whole HTTP application of a built [`wiring::App`]: Slack (`/slack/*`), health
/// (`/healthz`, `/readyz`), hooks (`/hooks/*`) and the REST API (`/api/v1/*`). `idp serve` serves
/// it, and the integration tests drive it on `127.0.0.1:0`.
///
/// # Panics
/// Outside a Tokio runtime (the deploy events' writer is a task).
pub fn app(app: &wiring::App) -> axum::Router {
    app.router()
}

/// Installs rustls' ring crypto provider for the process (slack-morphism issue 286: with more than
/// one provider linked, rustls cannot pick one and panics). Safe to call more than once.
pub fn install_crypto_provider() {
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
}
