//! idp's integration tests: one binary (faster linking on two cores), one module per area.

mod support;

mod catalog_real;
mod cli;
mod http;
mod parser;
mod render;
mod store;
