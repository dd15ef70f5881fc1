//! Reading a config repo from disk: the walk, symlink policy and size limits.
//!
//! Every `*.yaml` / `*.yml` file below the root is read, in a stable (sorted) order;
//! hidden files and directories (`.git`, `.keelson`, ...) are skipped. A symbolic link is
//! followed only when its target stays inside the repository; a directory reached twice
//! through links is read once.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::config::loader::MAX_FILE_BYTES;
use crate::config::yaml::Pos;
use crate::config::{Diagnostic, Rule, SourceFile};

/// The files of a repo and the problems met while reading them.
#[derive(Debug, Default)]
pub struct RepoFiles {
    /// Files read, sorted by relative path.
    pub files: Vec<SourceFile>,
    /// Files that could not be read, too large, or behind links leaving the repo.
    pub diagnostics: Vec<Diagnostic>,
}

/// Why a repo could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// The root does not exist or is not a directory.
    #[error("repository directory {path} cannot be read")]
    Root {
        /// The path given.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The root is a file, not a directory.
    #[error("repository path {0} is not a directory")]
    NotADirectory(String),
}

fn is_yaml(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml")
}

/// Read every YAML file below `root`.
///
/// # Errors
/// Only when `root` itself cannot be read; problems with single files are diagnostics.
pub fn read_repo(root: &Path) -> Result<RepoFiles, FsError> {
    let shown = root.display().to_string();
    let meta = std::fs::metadata(root).map_err(|source| FsError::Root {
        path: shown.clone(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(FsError::NotADirectory(shown));
    }
    let canon_root = root.canonicalize().map_err(|source| FsError::Root {
        path: shown.clone(),
        source,
    })?;
    let mut out = RepoFiles::default();
    let mut visited: BTreeSet<PathBuf> = BTreeSet::new();
    visited.insert(canon_root.clone());
    // (path on disk, relative path)
    let mut stack: Vec<(PathBuf, String)> = vec![(root.to_path_buf(), String::new())];
    let report = |out: &mut RepoFiles, display: &str, rule: Rule, message: String| {
        out.diagnostics
            .push(Diagnostic::new(display, Pos::START, rule, message));
    };
    while let Some((dir, rel_dir)) = stack.pop() {
        let dir_display = dir.display().to_string();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                report(
                    &mut out,
                    &dir_display,
                    Rule::FileUnreadable,
                    format!("cannot list directory: {e}"),
                );
                continue;
            }
        };
        let mut names: Vec<(String, PathBuf)> = entries
            .filter_map(Result::ok)
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .filter(|(n, _)| !n.starts_with('.'))
            .collect();
        names.sort();
        let mut subdirs = Vec::new();
        for (name, path) in names {
            let rel = if rel_dir.is_empty() {
                name.clone()
            } else {
                format!("{rel_dir}/{name}")
            };
            let display = path.display().to_string();
            let Ok(lmeta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let (is_dir, is_file) = if lmeta.file_type().is_symlink() {
                let target = match path.canonicalize() {
                    Ok(t) => t,
                    Err(e) => {
                        if is_yaml(&name) {
                            report(
                                &mut out,
                                &display,
                                Rule::FileUnreadable,
                                format!("broken symbolic link: {e}"),
                            );
                        }
                        continue;
                    }
                };
                if !target.starts_with(&canon_root) {
                    report(
                        &mut out,
                        &display,
                        Rule::SymlinkEscape,
                        format!(
                            "symbolic link to {} leaves the repository; keelson reads only files inside it",
                            target.display()
                        ),
                    );
                    continue;
                }
                let m = std::fs::metadata(&target);
                let is_dir = m.as_ref().map(|m| m.is_dir()).unwrap_or(false);
                if is_dir && !visited.insert(target) {
                    continue; // already read through another path
                }
                (is_dir, m.map(|m| m.is_file()).unwrap_or(false))
            } else {
                if lmeta.is_dir() {
                    if let Ok(c) = path.canonicalize() {
                        if !visited.insert(c) {
                            continue;
                        }
                    }
                }
                (lmeta.is_dir(), lmeta.is_file())
            };
            if is_dir {
                subdirs.push((path, rel));
            } else if is_file && is_yaml(&name) {
                read_file(&path, display, rel, &mut out);
            }
        }
        // Reverse so that the stack pops directories in sorted order.
        stack.extend(subdirs.into_iter().rev());
    }
    out.files.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

fn read_file(path: &Path, display: String, rel: String, out: &mut RepoFiles) {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            out.diagnostics.push(Diagnostic::new(
                &display,
                Pos::START,
                Rule::FileUnreadable,
                format!("cannot open: {e}"),
            ));
            return;
        }
    };
    // Read one byte past the limit rather than trusting the size in the metadata, which a
    // growing file or a special file can get wrong.
    let mut bytes = Vec::new();
    match file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes) {
        Ok(_) if bytes.len() as u64 > MAX_FILE_BYTES => {
            out.diagnostics.push(Diagnostic::new(
                &display,
                Pos::START,
                Rule::FileTooLarge,
                format!(
                    "larger than {} MiB; split it into smaller files",
                    MAX_FILE_BYTES / (1024 * 1024)
                ),
            ));
        }
        Ok(_) => out.files.push(SourceFile {
            display,
            rel,
            bytes,
        }),
        Err(e) => out.diagnostics.push(Diagnostic::new(
            &display,
            Pos::START,
            Rule::FileUnreadable,
            format!("cannot read: {e}"),
        )),
    }
}
