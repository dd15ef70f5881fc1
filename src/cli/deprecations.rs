//! `keelson deprecations`: deprecated and removed Kubernetes APIs in manifest files.
//!
//! ```text
//!  PATH... ──walk (sorted; *.yaml *.yml *.json; hidden skipped)──► inputs
//!  inputs ──N threads: read into a reused buffer ─► Checker::check_file ─► findings
//!         ──► Report (input order, then line) ──► text | json | markdown | csv, exit code
//! ```
//!
//! Files are read and scanned one at a time per thread, so memory holds the findings and
//! one file per thread, never the whole corpus.
//!
//! Exit codes follow pluto's: 0 clean, 1 error (an input could not be read or parsed),
//! 2 deprecated APIs found, 3 removed APIs found; the highest applies.
//!
//! `--format json` prints one object:
//!
//! ```json
//! {
//!   "target_versions": {"kubernetes": "1.33"},
//!   "exit_code": 3,
//!   "summary": {"removed": 1, "deprecated": 0, "errors": 0,
//!               "files": 1, "bytes": 210, "documents": 1, "objects": 1},
//!   "findings": [
//!     {"severity": "removed", "signal": "repo-manifest", "file": "k8s/web.yaml",
//!      "line": 1, "column": 1, "document": 0, "item": null,
//!      "api_version": "extensions/v1beta1", "kind": "Ingress", "namespace": "prod",
//!      "name": "web", "deprecated_in": "1.14", "removed_in": "1.22",
//!      "replacement": "networking.k8s.io/v1 Ingress", "component": null,
//!      "source": "k8s deprecation guide, …; confidence high", "release": null,
//!      "hook": null, "template": null, "manager": null, "rule": null, "message": null}
//!   ]
//! }
//! ```
//!
//! Every finding has every key (null when it does not apply). `severity` is `removed`,
//! `deprecated` or `error`; `signal` is `repo-manifest`, `helm-manifest`, `helm-hook`,
//! `last-applied`, `managed-fields` or `insight`; `release` is null or
//! `{name, namespace, revision, status, chart}`; errors carry `rule` and `message`.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};

use crate::deprecations::table::{ApiTable, Targets};
use crate::deprecations::{Checker, Finding, Report, Signal, Stats};
use crate::versions::Minor;

/// The largest input read; larger files are reported as errors, not read.
pub const MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;

/// Output format of `deprecations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Findings grouped by severity, one line each, and a summary.
    Text,
    /// One JSON object (see the module docs).
    Json,
    /// A Markdown table for a pull-request comment.
    Markdown,
    /// CSV with a header row.
    Csv,
}

/// Options of `keelson deprecations`.
#[derive(Debug, Args)]
pub struct DeprecationsArgs {
    /// Files or directories to scan (directories recursively: *.yaml, *.yml, *.json;
    /// hidden entries skipped), or `-` for standard input.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The Kubernetes version to judge against: 1.N (also v1.N, 1.N.P, k8s=v1.N.P).
    #[arg(long, value_name = "1.N")]
    pub target_version: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// More table entries, in the format of the built-in table (repeatable); an entry
    /// for a group/version/kind already known replaces it.
    #[arg(long = "extra-rules", value_name = "FILE")]
    pub extra_rules: Vec<PathBuf>,
    /// The version of a third-party component whose API removals the table lists
    /// (repeatable), e.g. `cert-manager=1.15`; without it the newest is assumed.
    #[arg(long = "component-version", value_name = "NAME=X.Y")]
    pub component_versions: Vec<String>,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0, hide = true)]
    pub threads: usize,
}

/// Run `keelson deprecations`.
///
/// # Errors
/// Bad options or an unreadable rules file; problems with the scanned inputs are
/// findings, not errors.
pub fn deprecations_cmd(args: &DeprecationsArgs) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let Some(target) = &args.target_version else {
        bail!("--target-version is required, e.g. --target-version 1.33");
    };
    let table = crate::sync::api_table(&args.extra_rules)?;
    let kubernetes = parse_target(target)?;
    if let Some(warning) = judge_target(kubernetes, table.newest_release())? {
        crate::logging::say(
            crate::logging::Level::Warn,
            None,
            &format!("warning: {warning}"),
        );
    }
    let mut targets = Targets::kubernetes(kubernetes);
    for c in &args.component_versions {
        let (name, v) = c
            .split_once('=')
            .filter(|(n, _)| !n.is_empty())
            .with_context(|| format!("`{c}` is not NAME=X.Y, e.g. cert-manager=1.15"))?;
        targets.components.insert(
            name.to_string(),
            parse_version(v).with_context(|| format!("in `{c}`"))?,
        );
    }
    if args.paths.is_empty() {
        bail!("no PATH given: name files or directories to scan, or `-` for standard input");
    }
    let inputs = collect_inputs(&args.paths);
    let (findings, stats) = scan_inputs(&table, &targets, &inputs, args.threads);
    tracing::debug!(
        files = stats.files,
        bytes = stats.bytes,
        documents = stats.documents,
        objects = stats.objects,
        full_parses = stats.full_parses,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "scanned"
    );
    let report = Report {
        targets,
        findings,
        stats,
    };
    let text = match args.format {
        Format::Text => report.text(),
        Format::Json => report.json()?,
        Format::Markdown => report.markdown(),
        Format::Csv => report.csv(),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::from(report.exit_code()))
}

/// Kubernetes ships about three minors a year (KEP-2572, release cadence): a target more
/// than this many minors past the table's newest release is a typo, not a release.
const MINORS_PAST_THE_TABLE: u32 = 3;

/// Whether `target` can be a Kubernetes release: an error for a version there is none of
/// (another major, far past anything released), a warning past the table's newest
/// release, whose later removals the table cannot know.
///
/// # Errors
/// When `target` is not a Kubernetes minor.
pub fn judge_target(target: Minor, newest: Option<Minor>) -> Result<Option<String>> {
    if target.major != 1 {
        bail!(
            "--target-version {target}: Kubernetes releases are 1.N (there is no Kubernetes {}.x)",
            target.major
        );
    }
    let Some(newest) = newest else {
        return Ok(None);
    };
    if target.minor > newest.minor.saturating_add(MINORS_PAST_THE_TABLE) {
        bail!(
            "--target-version {target} is not a Kubernetes release: keelson's table knows releases up to {newest} and Kubernetes ships about three a year; write a version such as {newest}"
        );
    }
    Ok((target > newest).then(|| {
        format!(
            "Kubernetes {target} is newer than keelson's table, which covers releases up to {newest}: only what {newest} and earlier deprecate or remove is reported; what {target} removes is not known here"
        )
    }))
}

/// `1.33`, `v1.33`, `1.33.2`, `k8s=v1.33.0` → 1.33.
///
/// # Errors
/// When it is none of those.
pub fn parse_target(s: &str) -> Result<Minor> {
    parse_version(s.strip_prefix("k8s=").unwrap_or(s))
}

fn parse_version(s: &str) -> Result<Minor> {
    let t = s.trim().trim_start_matches('v');
    let parts: Vec<&str> = t.split('.').collect();
    let minor_part = match parts.as_slice() {
        [major, minor] | [major, minor, _] => format!("{major}.{minor}"),
        _ => String::new(),
    };
    let patch_ok = parts.get(2).is_none_or(|p| p.parse::<u32>().is_ok());
    match minor_part.parse::<Minor>() {
        Ok(m) if patch_ok => Ok(m),
        _ => bail!("`{s}` is not a version such as 1.33"),
    }
}

/// Something to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Input {
    /// A file on disk and how it is shown.
    File(PathBuf, String),
    /// Standard input, shown as `-`.
    Stdin,
    /// A path that could not be read, and why.
    Unreadable(String, String),
}

fn is_manifest_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".yaml") || lower.ends_with(".yml") || lower.ends_with(".json")
}

/// Every input named by the paths, in order: files as given, the files below a directory
/// sorted by path. Symbolic links to files are read; links to directories are not
/// followed.
fn collect_inputs(paths: &[PathBuf]) -> Vec<Input> {
    let mut out = Vec::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(Input::Stdin);
            continue;
        }
        match std::fs::metadata(p) {
            Err(e) => out.push(Input::Unreadable(p.display().to_string(), e.to_string())),
            Ok(m) if m.is_dir() => {
                let from = out.len();
                walk(p, &mut out, &mut seen);
                // By path, as `adapters::fs` orders a repo (a directory's files and
                // subdirectories interleaved by name).
                out[from..].sort_by(|a, b| input_path(a).cmp(input_path(b)));
            }
            Ok(_) => {
                if seen.insert(p.clone()) {
                    out.push(Input::File(p.clone(), p.display().to_string()));
                }
            }
        }
    }
    out
}

fn input_path(i: &Input) -> &str {
    match i {
        Input::File(_, shown) | Input::Unreadable(shown, _) => shown,
        Input::Stdin => "-",
    }
}

fn walk(root: &Path, out: &mut Vec<Input>, seen: &mut HashSet<PathBuf>) {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                out.push(Input::Unreadable(dir.display().to_string(), e.to_string()));
                continue;
            }
        };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let Ok(ft) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if ft.is_dir() {
                stack.push(path);
            } else if is_manifest_name(&name) {
                let is_file = ft.is_file()
                    || (ft.is_symlink() && std::fs::metadata(&path).is_ok_and(|m| m.is_file()));
                if is_file && seen.insert(path.clone()) {
                    let shown = path.display().to_string();
                    out.push(Input::File(path, shown));
                }
            }
        }
    }
}

/// Scan every input on `threads` threads (0: one per core); findings in input order.
fn scan_inputs(
    table: &ApiTable,
    targets: &Targets,
    inputs: &[Input],
    threads: usize,
) -> (Vec<Finding>, Stats) {
    let checker = Checker { table, targets };
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .clamp(1, inputs.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Vec<Finding>)>> = Mutex::new(Vec::new());
    let total: Mutex<Stats> = Mutex::new(Stats::default());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut buf: Vec<u8> = Vec::new();
                let mut mine: Vec<(usize, Vec<Finding>)> = Vec::new();
                let mut stats = Stats::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(input) = inputs.get(i) else {
                        break;
                    };
                    let mut found = Vec::new();
                    stats.add(&scan_one(&checker, input, &mut buf, &mut found));
                    if buf.capacity() > 4 * 1024 * 1024 {
                        // Do not keep a large file's buffer for the small files that follow.
                        buf = Vec::new();
                    }
                    if !found.is_empty() {
                        mine.push((i, found));
                    }
                }
                if let Ok(mut r) = results.lock() {
                    r.extend(mine);
                }
                if let Ok(mut t) = total.lock() {
                    t.add(&stats);
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _)| *i);
    let findings = results.into_iter().flat_map(|(_, f)| f).collect();
    (findings, total.into_inner().unwrap_or_default())
}

fn scan_one(
    checker: &Checker<'_>,
    input: &Input,
    buf: &mut Vec<u8>,
    out: &mut Vec<Finding>,
) -> Stats {
    let (shown, read) = match input {
        Input::Unreadable(shown, why) => {
            out.push(Finding::error(
                Signal::RepoManifest,
                shown,
                "file-unreadable",
                format!("cannot read: {why}"),
            ));
            return Stats::default();
        }
        Input::Stdin => ("-", read_limited(std::io::stdin().lock(), buf)),
        Input::File(path, shown) => (
            shown.as_str(),
            std::fs::File::open(path).and_then(|f| read_limited(f, buf)),
        ),
    };
    match read {
        Err(e) => {
            out.push(Finding::error(
                Signal::RepoManifest,
                shown,
                "file-unreadable",
                format!("cannot read: {e}"),
            ));
            Stats::default()
        }
        Ok(false) => {
            out.push(Finding::error(
                Signal::RepoManifest,
                shown,
                "file-too-large",
                format!(
                    "larger than {} MiB; not read",
                    MAX_INPUT_BYTES / (1024 * 1024)
                ),
            ));
            Stats {
                files: 1,
                ..Stats::default()
            }
        }
        Ok(true) => checker.check_file(shown, buf, out),
    }
}

/// Read all of `r` into `buf` (cleared first, capacity kept); `false` when it holds more
/// than [`MAX_INPUT_BYTES`].
fn read_limited(r: impl Read, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    buf.clear();
    r.take(MAX_INPUT_BYTES + 1).read_to_end(buf)?;
    Ok(buf.len() as u64 <= MAX_INPUT_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_versions_in_the_forms_people_write() {
        for s in ["1.33", "v1.33", "1.33.0", "v1.33.4", "k8s=v1.33.0"] {
            assert_eq!(parse_target(s).unwrap(), Minor::v1(33), "{s}");
        }
        for s in ["1", "1.x", "one.33", "1.33.x", "1.33.0.1", ""] {
            assert!(parse_target(s).is_err(), "{s}");
        }
        assert!(parse_target("1.9").unwrap() < parse_target("1.10").unwrap());
    }

    #[test]
    fn a_target_must_be_a_real_release_and_warns_past_the_table() {
        let newest = Some(Minor::v1(37));
        assert_eq!(judge_target(Minor::v1(33), newest).unwrap(), None);
        assert_eq!(judge_target(Minor::v1(37), newest).unwrap(), None);
        let warning = judge_target(Minor::v1(38), newest).unwrap().unwrap();
        assert!(warning.contains("covers releases up to 1.37"), "{warning}");
        assert!(judge_target(Minor::v1(40), newest).unwrap().is_some());
        for nonsense in [
            Minor::v1(41),
            Minor::v1(99),
            Minor { major: 2, minor: 1 },
            Minor { major: 0, minor: 5 },
        ] {
            let e = judge_target(nonsense, newest).unwrap_err().to_string();
            assert!(e.contains("Kubernetes"), "{e}");
        }
    }
}
