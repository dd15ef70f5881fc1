//! The config repo: YAML with positions, JSON Schemas, semantic rules, and the loader that
//! turns a set of files into a validated [`loader::Repo`] plus every problem found.

pub mod diag;
pub mod loader;
pub mod rules;
pub mod schema;
pub mod yaml;

pub use diag::{Diagnostic, Rule, Severity};
pub use loader::{
    load, load_from, ClusterConfig, FileSource, Item, LoadOptions, Loaded, Manifest, Origin, Repo,
    SourceFile,
};
