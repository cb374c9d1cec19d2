//! idp's integration tests: one binary (faster linking on two cores), one module per area.

mod harness;
mod support;

mod architecture;
mod argocd;
mod audit;
mod authz;
mod catalog_real;
mod cli;
mod deploys;
mod digests;
mod doors;
mod exec;
mod fakes;
mod gating;
mod golden_slack;
mod home;
mod http;
mod identity;
mod layering;
mod modal;
mod oncall;
mod parser;
mod recognise;
mod render;
mod rollback;
mod rollback_slack;
mod runs;
mod scorecard_cmd;
mod scorecards;
mod store;
mod templates;
