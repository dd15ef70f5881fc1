//! The config repo: YAML with positions, JSON Schemas, semantic rules, and the loader that
//! turns a set of files into a validated [`Repo`] plus every problem found.
//!
//! ```text
//!  yaml ──► loader ──► schema ──► repo (Repo, ClusterConfig, Loaded) ◄── rules
//! ```
//!
//! The loader runs the rules; the rules read only the repo types, so the dependency goes
//! one way.

pub(crate) mod bootstrap;
pub(crate) mod diag;
pub(crate) mod loader;
pub(crate) mod repo;
pub(crate) mod rules;
pub mod schema;
pub(crate) mod yaml;

pub use diag::{Diagnostic, Rule, Severity};
pub use loader::{load, load_from, FileSource, LoadOptions, SourceFile, MAX_FILE_BYTES};
pub use repo::{ClusterConfig, Item, Loaded, Manifest, Origin, Repo};

/// Entry points for the `cargo fuzz` targets in `fuzz/`. They exist only in builds with
/// `--cfg fuzzing` (which cargo fuzz sets), so they are not part of keelson's API.
#[cfg(fuzzing)]
pub mod fuzzing {
    use super::yaml::{self, Limits, Node, Pos, Value};

    /// Every position the YAML reader reports for `text`: of each value and key when it
    /// parses, of the error when it does not.
    pub fn yaml_positions(text: &str) -> Vec<Pos> {
        fn walk(node: &Node, out: &mut Vec<Pos>) {
            out.push(node.pos);
            match &node.value {
                Value::Seq(items) => items.iter().for_each(|n| walk(n, out)),
                Value::Map(entries) => entries.iter().for_each(|e| {
                    out.push(e.key_pos);
                    walk(&e.value, out);
                }),
                _ => {}
            }
        }
        let mut out = Vec::new();
        match yaml::parse(text, Limits::default()) {
            Ok(docs) => docs.iter().for_each(|d| walk(&d.root, &mut out)),
            Err(e) => out.push(e.pos),
        }
        out
    }

    /// Lines in `bytes` as YAML counts line breaks (LF, CRLF, a lone CR), plus one.
    pub fn line_count(bytes: &[u8]) -> u32 {
        let lf = bytes.iter().filter(|&&b| b == b'\n').count();
        let lone_cr = bytes
            .windows(2)
            .filter(|w| w[0] == b'\r' && w[1] != b'\n')
            .count()
            + usize::from(bytes.last() == Some(&b'\r'));
        u32::try_from(lf + lone_cr + 1).unwrap_or(u32::MAX)
    }
}
