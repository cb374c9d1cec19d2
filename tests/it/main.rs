//! idp's integration tests: one binary (faster linking on two cores), one module per area.

mod support;

mod audit;
mod authz;
mod catalog_real;
mod cli;
mod fakes;
mod gating;
mod http;
mod identity;
mod modal;
mod oncall;
mod parser;
mod render;
mod slack_fake;
mod store;
mod templates;
