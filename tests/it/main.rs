//! keelson's integration tests: one binary, one module per area.

// Test helpers outside #[test] functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod aws_mocks;
mod aws_mocks_transport;
mod calendar;
mod contract;
mod corpus;
mod corpus_auto;
mod daemon;
mod daemon_git;
mod daemon_loop;
mod daemon_ops;
mod deploy_policies;
mod deprecations;
mod eks_api;
mod faults;
mod fields;
mod fields_aws;
mod fuzz;
mod hostile;
mod kube_mock;
mod kube_real;
mod kube_real_apis;
mod kube_real_validation;
mod moto;
mod ops;
mod plan_cli;
mod plan_direct;
mod planner;
mod render;
mod rules;
mod saved_plan;
mod schemas;
mod sim;
mod simkit;
mod skipped;
mod token;
mod upgrade;
mod util;
mod validate_cli;
