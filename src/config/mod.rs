//! The config repo: YAML with positions, JSON Schemas, semantic rules, and the loader that
//! turns a set of files into a validated [`Repo`] plus every problem found.
//!
//! ```text
//!  yaml ──► loader ──► schema ──► repo (Repo, ClusterConfig, Loaded) ◄── rules
//! ```
//!
//! The loader runs the rules; the rules read only the repo types, so the dependency goes
//! one way.

pub(crate) mod diag;
pub(crate) mod loader;
pub(crate) mod repo;
pub(crate) mod rules;
pub mod schema;
pub(crate) mod yaml;

pub use diag::{Diagnostic, Rule, Severity};
pub use loader::{load, load_from, FileSource, LoadOptions, SourceFile, MAX_FILE_BYTES};
pub use repo::{ClusterConfig, Item, Loaded, Manifest, Origin, Repo};
