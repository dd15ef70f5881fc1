//! keelson: GitOps for fleets of Amazon EKS clusters.
//!
//! ```text
//!  main ─► cli (clap → TargetSpec) ─┐
//!          daemon (loop, HTTP) ─────┼─► sync: load_repo ─► connect ─► observe ─► plan::plan ─► apply
//!          tests ───────────────────┘         config          adapters    ports     (pure)     executor
//! ```
//!
//! Layers depend one way: `cli` on everything, `daemon` and the tests on `sync` and below,
//! `sync` on `config`, `observe`, `plan`, `apply` and the adapters. Nothing below `cli`
//! imports it. The pure core (`config`, `model`, `plan`, `versions`, `deprecations`'s
//! table) does no I/O; `adapters` does all of it, behind the `ports` traits, each remote
//! call wrapped once with a timeout and a metric (`adapters::instrumented`).

pub mod adapters;
pub mod apply;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod deprecations;
pub mod errors;
pub mod import;
pub mod logging;
pub mod model;
pub mod observe;
pub mod par;
pub mod plan;
pub mod ports;
pub mod sync;
pub mod versions;
