//! keelson's integration tests: one binary, one module per area.

// Test helpers outside #[test] functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod accounts;
mod aws_mocks;
mod aws_mocks_rollback;
mod aws_mocks_transport;
mod aws_timeouts;
mod bootstrap;
mod calendar;
mod classes;
mod contract;
mod corpus;
mod corpus_auto;
mod create_wait;
mod daemon;
mod daemon_git;
mod daemon_loop;
mod deprecations;
mod eks_api;
mod faults;
mod fields;
mod fields_aws;
mod fuzz;
mod hostile;
mod import;
mod import_moto;
mod kube_mock;
mod kube_real;
mod kube_real_apis;
mod kube_real_bootstrap;
mod kube_real_validation;
mod lock_kube;
mod lock_policy;
mod lock_s3;
mod moto;
mod moto_fleet;
mod plan_cli;
mod plan_direct;
mod planner;
mod render;
mod rollback;
mod rules;
mod saved_plan;
mod schemas;
mod sim;
mod simkit;
mod skipped;
mod stats;
mod stub_eks;
mod token;
mod upgrade;
mod util;
mod validate_cli;
