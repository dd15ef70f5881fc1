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
use std::borrow::Cow;

use crate::config::{Diagnostic, FileSource, Rule, SourceFile};

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

/// `name` with its extension in lower case.
fn lower_extension(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.{}", ext.to_ascii_lowercase()),
        None => name.to_string(),
    }
}

fn is_yaml(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml")
}

/// A YAML file found by the walk, not read yet.
#[derive(Debug, Clone)]
pub struct PendingFile {
    path: PathBuf,
    display: String,
    rel: String,
    len: u64,
}

impl PendingFile {
    /// The path relative to the repository root, `/`-separated.
    pub fn rel(&self) -> &str {
        &self.rel
    }
}

/// The files of a repo, found but not read: a [`FileSource`] that reads each file when
/// the loader asks for it, so that reading overlaps with parsing on the loader's threads.
#[derive(Debug, Default)]
pub struct RepoWalk {
    /// Files to read, sorted by relative path.
    pub files: Vec<PendingFile>,
    /// Problems met during the walk (links out of the repo, unlistable directories).
    pub diagnostics: Vec<Diagnostic>,
}

impl FileSource for RepoWalk {
    fn count(&self) -> usize {
        self.files.len()
    }

    fn get(&self, i: usize) -> Result<Cow<'_, SourceFile>, Diagnostic> {
        let p = self.files.get(i).ok_or_else(|| {
            Diagnostic::new(
                "<keelson>",
                Pos::START,
                Rule::FileUnreadable,
                format!("no file {i}"),
            )
        })?;
        read_file(&p.path, &p.display, &p.rel, p.len).map(Cow::Owned)
    }
}

/// Read every YAML file below `root`.
///
/// # Errors
/// Only when `root` itself cannot be read; problems with single files are diagnostics.
pub fn read_repo(root: &Path) -> Result<RepoFiles, FsError> {
    let walk = walk_repo(root)?;
    let mut out = RepoFiles {
        files: Vec::new(),
        diagnostics: walk.diagnostics.clone(),
    };
    for i in 0..walk.count() {
        match walk.get(i) {
            Ok(f) => out.files.push(f.into_owned()),
            Err(d) => out.diagnostics.push(d),
        }
    }
    Ok(out)
}

/// Find every YAML file below `root` without reading it.
///
/// # Errors
/// Only when `root` itself cannot be read; problems with single entries are diagnostics.
pub fn walk_repo(root: &Path) -> Result<RepoWalk, FsError> {
    walk_repo_from(root, "")
}

/// Find every YAML file below the directory `start` (relative to `root`, `/`-separated;
/// empty: the whole repository) without reading it. Relative paths and the symbolic-link
/// policy are those of the whole repository, so that a daemon can reload one cluster's
/// directory alone.
///
/// # Errors
/// Only when `root` or `start` cannot be read; problems with single entries are
/// diagnostics.
pub fn walk_repo_from(root: &Path, start: &str) -> Result<RepoWalk, FsError> {
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
    let mut out = RepoWalk::default();
    // Directories already read, by identity, so that links cannot make the walk loop or
    // read a directory twice.
    let mut visited: BTreeSet<DirId> = BTreeSet::new();
    let start_dir = if start.is_empty() {
        root.to_path_buf()
    } else {
        root.join(start)
    };
    let start_meta = if start.is_empty() {
        meta
    } else {
        let m = std::fs::metadata(&start_dir).map_err(|source| FsError::Root {
            path: start_dir.display().to_string(),
            source,
        })?;
        if !m.is_dir() {
            return Err(FsError::NotADirectory(start_dir.display().to_string()));
        }
        m
    };
    visited.insert(dir_id(&start_meta, &start_dir));
    let mut pending: Vec<(PathBuf, String, String, u64)> = Vec::new();
    // (path on disk, relative path)
    let mut stack: Vec<(PathBuf, String)> = vec![(start_dir, start.to_string())];
    let report = |out: &mut RepoWalk, display: &str, rule: Rule, message: String| {
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
            let kind = if lmeta.file_type().is_symlink() {
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
                let Ok(m) = std::fs::metadata(&target) else {
                    continue;
                };
                if m.is_dir() && !visited.insert(dir_id(&m, &target)) {
                    continue; // already read through another path
                }
                (m.is_dir(), m.is_file(), m.len())
            } else {
                if lmeta.is_dir() && !visited.insert(dir_id(&lmeta, &path)) {
                    continue;
                }
                (lmeta.is_dir(), lmeta.is_file(), lmeta.len())
            };
            let (is_dir, is_file, len) = kind;
            if is_dir {
                subdirs.push((path, rel));
            } else if is_file && is_yaml(&name) {
                pending.push((path, display, rel, len));
            } else if is_file && is_yaml(&name.to_ascii_lowercase()) {
                // `nodegroups.YAML` is not read: say so, or whatever it declares would
                // look deleted from git.
                report(
                    &mut out,
                    &display,
                    Rule::SkippedFile,
                    format!(
                        "not read: keelson reads files ending in .yaml or .yml (lower case); rename it to {} if it belongs to the repository, or anything it declares counts as removed",
                        lower_extension(&name)
                    ),
                );
            }
        }
        // Reverse so that the stack pops directories in sorted order.
        stack.extend(subdirs.into_iter().rev());
    }
    pending.sort_by(|a, b| a.2.cmp(&b.2));
    out.files = pending
        .into_iter()
        .map(|(path, display, rel, len)| PendingFile {
            path,
            display,
            rel,
            len,
        })
        .collect();
    Ok(out)
}

/// One YAML file of the repository by its relative path, not read yet; `None` when it
/// is not a regular YAML file inside the repository (gone, a directory, a link leaving
/// the repository).
pub fn pending_file(root: &Path, rel: &str) -> Option<PendingFile> {
    if !is_yaml(rel) {
        return None;
    }
    let path = root.join(rel);
    let canon = path.canonicalize().ok()?;
    if !canon.starts_with(root.canonicalize().ok()?) {
        return None;
    }
    let m = std::fs::metadata(&canon).ok()?;
    if !m.is_file() {
        return None;
    }
    Some(PendingFile {
        display: path.display().to_string(),
        path,
        rel: rel.to_string(),
        len: m.len(),
    })
}

/// A directory's identity: device and inode where the platform has them.
#[cfg(unix)]
type DirId = (u64, u64);
#[cfg(not(unix))]
type DirId = PathBuf;

#[cfg(unix)]
fn dir_id(m: &std::fs::Metadata, _path: &Path) -> DirId {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn dir_id(_m: &std::fs::Metadata, path: &Path) -> DirId {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

fn read_file(
    path: &Path,
    display: &str,
    rel: &str,
    len_hint: u64,
) -> Result<SourceFile, Diagnostic> {
    use std::io::Read;
    let fail = |rule: Rule, message: String| Diagnostic::new(display, Pos::START, rule, message);
    let file = std::fs::File::open(path)
        .map_err(|e| fail(Rule::FileUnreadable, format!("cannot open: {e}")))?;
    // Read one byte past the limit rather than trusting the size from the walk, which a
    // growing file or a special file can get wrong.
    let mut bytes = Vec::with_capacity(len_hint.min(MAX_FILE_BYTES) as usize + 1);
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(Rule::FileUnreadable, format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(fail(
            Rule::FileTooLarge,
            format!(
                "larger than {} MiB; split it into smaller files",
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        ));
    }
    Ok(SourceFile {
        display: display.to_string(),
        rel: rel.to_string(),
        bytes,
    })
}
