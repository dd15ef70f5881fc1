//! keelson's integration tests: one binary, one module per area.

// Test helpers outside #[test] functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod aws_mocks;
mod daemon;
mod daemon_loop;
mod deprecations;
mod fuzz;
mod kube_mock;
mod kube_real;
mod kube_real_validation;
mod moto;
mod plan_cli;
mod planner;
mod render;
mod rules;
mod schemas;
mod sim;
mod simkit;
mod token;
mod upgrade;
mod util;
mod validate_cli;
