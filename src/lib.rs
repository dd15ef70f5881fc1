//! keelson: GitOps for fleets of Amazon EKS clusters.
//!
//! ```text
//!  repo files ──adapters::fs──► config::load (YAML + schema + rules) ──► config::Repo
//! ```
//!
//! The pure core (`config`, `model`, `versions`) does no I/O; `adapters` does all of it.

pub mod adapters;
pub mod apply;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod deprecations;
pub mod model;
pub mod observe;
pub mod plan;
pub mod ports;
pub mod sync;
pub mod versions;
