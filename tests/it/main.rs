//! keelson's integration tests: one binary, one module per area.

// Test helpers outside #[test] functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fuzz;
mod rules;
mod schemas;
mod util;
mod validate_cli;
