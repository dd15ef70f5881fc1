//! keelson's integration tests: one binary, one module per area.

// Test helpers outside #[test] functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod deprecations;
mod fuzz;
mod plan_cli;
mod planner;
mod render;
mod rules;
mod schemas;
mod sim;
mod simkit;
mod util;
mod validate_cli;
