//! The findings of a run, rendered as text, JSON, Markdown or CSV, and the exit code.
//!
//! ```text
//!  Finding[] + Stats + Targets ─► Report ─┬─► text      (grouped by severity, one line each, summary)
//!                                         ├─► json      (stable; one flat object per finding)
//!                                         ├─► markdown  (a table for a pull-request comment, < 60,000 chars)
//!                                         ├─► csv       (a header and one row per finding)
//!                                         └─► exit code (0 clean · 1 error · 2 deprecated · 3 removed; highest wins)
//! ```

use std::fmt::Write as _;

use serde::Serialize;

use super::{Finding, Severity, Signal, Targets};

/// Counts of what was read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Files read.
    pub files: u64,
    /// Bytes read.
    pub bytes: u64,
    /// YAML/JSON documents.
    pub documents: u64,
    /// Kubernetes objects (Helm manifests and List items included).
    pub objects: u64,
    /// Documents that took the full parser rather than the fast path.
    #[serde(skip)]
    pub full_parses: u64,
}

impl Stats {
    /// Add another run's counts.
    pub fn add(&mut self, o: &Stats) {
        self.files += o.files;
        self.bytes += o.bytes;
        self.documents += o.documents;
        self.objects += o.objects;
        self.full_parses += o.full_parses;
    }
}

/// Everything a run found.
#[derive(Debug, Clone)]
pub struct Report {
    /// What objects were judged against.
    pub targets: Targets,
    /// The findings, in the order they are reported within a severity.
    pub findings: Vec<Finding>,
    /// What was read.
    pub stats: Stats,
}

/// Largest Markdown rendering, so that it fits a pull-request comment (65,536).
pub(crate) const MARKDOWN_LIMIT: usize = 60_000;

#[derive(Serialize)]
struct Summary {
    removed: usize,
    deprecated: usize,
    errors: usize,
    files: u64,
    bytes: u64,
    documents: u64,
    objects: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonReport<'a> {
    target_versions: serde_json::Map<String, serde_json::Value>,
    exit_code: u8,
    summary: Summary,
    findings: &'a [Finding],
}

impl Report {
    /// How many findings of a severity.
    pub fn count(&self, s: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == s).count()
    }

    /// 0 clean, 1 something could not be read, 2 deprecated APIs, 3 removed APIs; the
    /// highest applies.
    pub fn exit_code(&self) -> u8 {
        self.findings
            .iter()
            .map(|f| f.severity.exit_code())
            .max()
            .unwrap_or(0)
    }

    fn targets_text(&self) -> String {
        let mut s = format!("Kubernetes {}", self.targets.kubernetes);
        for (c, v) in &self.targets.components {
            let _ = write!(s, ", {c} {v}");
        }
        s
    }

    fn counts_text(&self) -> String {
        let n = |count: usize, one: &str, many: &str| {
            format!("{count} {}", if count == 1 { one } else { many })
        };
        let st = &self.stats;
        let read = format!(
            "{}, {}, {}",
            n(st.files as usize, "file", "files"),
            n(st.documents as usize, "document", "documents"),
            n(st.objects as usize, "object", "objects")
        );
        let (r, d, e) = (
            self.count(Severity::Removed),
            self.count(Severity::Deprecated),
            self.count(Severity::Error),
        );
        if r + d + e == 0 {
            format!("no deprecated or removed APIs in {read}")
        } else {
            format!(
                "{} removed, {} deprecated, {} in {read}",
                r,
                d,
                n(e, "error", "errors")
            )
        }
    }

    /// Text for a terminal: the findings grouped by severity (removed first), one line
    /// each, then a summary line.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (severity, title) in [
            (Severity::Removed, "removed"),
            (Severity::Deprecated, "deprecated"),
            (Severity::Error, "could not be read"),
        ] {
            let group: Vec<&Finding> = self
                .findings
                .iter()
                .filter(|f| f.severity == severity)
                .collect();
            if group.is_empty() {
                continue;
            }
            let _ = writeln!(out, "{title} ({}):", group.len());
            for f in group {
                let _ = writeln!(out, "  {}", text_line(f));
            }
            out.push('\n');
        }
        let _ = writeln!(out, "{}: {}.", self.targets_text(), self.counts_text());
        out
    }

    /// The JSON document (see the module docs of `cli::deprecations` for the contract).
    ///
    /// # Errors
    /// Never in practice; serialising plain data does not fail.
    pub fn json(&self) -> Result<String, serde_json::Error> {
        let mut targets = serde_json::Map::new();
        targets.insert(
            "kubernetes".into(),
            self.targets.kubernetes.to_string().into(),
        );
        for (c, v) in &self.targets.components {
            targets.insert(c.clone(), v.to_string().into());
        }
        let doc = JsonReport {
            target_versions: targets,
            exit_code: self.exit_code(),
            summary: Summary {
                removed: self.count(Severity::Removed),
                deprecated: self.count(Severity::Deprecated),
                errors: self.count(Severity::Error),
                files: self.stats.files,
                bytes: self.stats.bytes,
                documents: self.stats.documents,
                objects: self.stats.objects,
            },
            findings: &self.findings,
        };
        let mut s = serde_json::to_string_pretty(&doc)?;
        s.push('\n');
        Ok(s)
    }

    /// Markdown for a pull-request comment: a summary and a table, removed first, cut
    /// short (with a note) before `MARKDOWN_LIMIT` characters.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "### Deprecated APIs: {}\n\n{}.\n",
            self.targets_text(),
            capitalise(&self.counts_text())
        );
        let mut sorted: Vec<&Finding> = self.findings.iter().collect();
        sorted.sort_by_key(|f| std::cmp::Reverse(f.severity));
        if sorted.is_empty() {
            return out;
        }
        out.push_str(
            "\n| | Where | Object | apiVersion | Deprecated in | Removed in | Replacement | Signal |\n\
             |---|---|---|---|---|---|---|---|\n",
        );
        for (i, f) in sorted.iter().enumerate() {
            let row = if f.severity == Severity::Error {
                format!(
                    "| **error** | {} | | | | | {} | {} |\n",
                    md(&location(f)),
                    md(&format!(
                        "{}: {}",
                        f.rule.as_deref().unwrap_or("error"),
                        f.message.as_deref().unwrap_or("")
                    )),
                    f.signal.as_str()
                )
            } else {
                format!(
                    "| **{}** | {} | {} | `{}` | {} | {} | {} | {} |\n",
                    f.severity.as_str(),
                    md(&location(f)),
                    md(&object_name(f)),
                    md(f.api_version.as_deref().unwrap_or("")),
                    md(&version_text(f, f.deprecated_in.as_deref())),
                    md(&version_text(f, f.removed_in.as_deref())),
                    md(f.replacement.as_deref().unwrap_or("none")),
                    f.signal.as_str()
                )
            };
            let note_room = 120;
            if out.len() + row.len() + note_room > MARKDOWN_LIMIT {
                let _ = writeln!(
                    out,
                    "\n… and {} more; run `keelson deprecations` for the full list.",
                    sorted.len() - i
                );
                break;
            }
            out.push_str(&row);
        }
        out
    }

    /// CSV (RFC 4180) with a header row.
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "severity,signal,file,line,column,document,item,namespace,kind,name,api_version,\
             deprecated_in,removed_in,replacement,component,release_namespace,release,revision,\
             hook,template,manager,rule,message,source\n",
        );
        for f in &self.findings {
            let num = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
            let rel = f.release.as_ref();
            let cells: [String; 24] = [
                f.severity.as_str().to_string(),
                f.signal.as_str().to_string(),
                f.file.clone(),
                num(f.line.map(u64::from)),
                num(f.column.map(u64::from)),
                num(f.document.map(|d| d as u64)),
                num(f.item.map(|d| d as u64)),
                f.namespace.clone().unwrap_or_default(),
                f.kind.clone().unwrap_or_default(),
                f.name.clone().unwrap_or_default(),
                f.api_version.clone().unwrap_or_default(),
                f.deprecated_in.clone().unwrap_or_default(),
                f.removed_in.clone().unwrap_or_default(),
                f.replacement.clone().unwrap_or_default(),
                f.component.clone().unwrap_or_default(),
                rel.map(|r| r.namespace.clone()).unwrap_or_default(),
                rel.map(|r| r.name.clone()).unwrap_or_default(),
                num(rel.map(|r| r.revision)),
                f.hook.clone().unwrap_or_default(),
                f.template.clone().unwrap_or_default(),
                f.manager.clone().unwrap_or_default(),
                f.rule.clone().unwrap_or_default(),
                f.message.clone().unwrap_or_default(),
                f.source.clone().unwrap_or_default(),
            ];
            let row: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
            out.push_str(&row.join(","));
            out.push('\n');
        }
        out
    }
}

/// One finding on one line: where, what, and what to do.
pub(crate) fn text_line(f: &Finding) -> String {
    let loc = location(f);
    if f.severity == Severity::Error {
        return format!(
            "{loc}: {}: {}",
            f.rule.as_deref().unwrap_or("error"),
            f.message.as_deref().unwrap_or("")
        );
    }
    let mut s = format!(
        "{loc}: {} uses {}",
        object_name(f),
        f.api_version.as_deref().unwrap_or("?")
    );
    let removed = version_text(f, f.removed_in.as_deref());
    let deprecated = version_text(f, f.deprecated_in.as_deref());
    match (
        f.severity,
        f.removed_in.is_some(),
        f.deprecated_in.is_some(),
    ) {
        (Severity::Removed, _, true) => {
            let _ = write!(s, ", removed in {removed} (deprecated in {deprecated})");
        }
        (Severity::Removed, _, false) => {
            let _ = write!(s, ", removed in {removed}");
        }
        (_, true, _) => {
            let _ = write!(s, ", deprecated in {deprecated}, removed in {removed}");
        }
        (_, false, _) => {
            let _ = write!(s, ", deprecated in {deprecated} (removal not scheduled)");
        }
    }
    match &f.replacement {
        Some(r) => {
            let _ = write!(s, "; use {r}");
        }
        None => s.push_str("; no replacement"),
    }
    s
}

/// Where a finding is: `file:line:col (doc N)` for files, the release and manifest for
/// Helm, the origin and signal for live objects.
pub fn location(f: &Finding) -> String {
    let pos = match (f.line, f.column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    };
    let mut extra: Vec<String> = Vec::new();
    if let Some(d) = f.document {
        extra.push(format!("doc {d}"));
    }
    if let Some(i) = f.item {
        extra.push(format!("item {i}"));
    }
    if let Some(t) = &f.template {
        extra.push(t.clone());
    }
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(" ({})", extra.join(", "))
    };
    match f.signal {
        Signal::RepoManifest => format!("{}{pos}{extra}", f.file),
        Signal::HelmManifest | Signal::HelmHook => {
            let rel = f.release.as_ref().map_or_else(String::new, |r| {
                format!("helm release {}/{} rev {}", r.namespace, r.name, r.revision)
            });
            let part = match &f.hook {
                Some(h) => format!("hook {h}"),
                None => "manifest".to_string(),
            };
            format!("{}: {rel} {part}{pos}{extra}", f.file)
        }
        Signal::LastApplied | Signal::ManagedFields | Signal::Insight => {
            let by = f
                .manager
                .as_ref()
                .map_or_else(String::new, |m| format!(", manager {m}"));
            format!("{} ({}{by})", f.file, f.signal.as_str())
        }
    }
}

/// `Kind namespace/name`, with whatever parts are known.
fn object_name(f: &Finding) -> String {
    let kind = f.kind.as_deref().unwrap_or("object");
    match (&f.namespace, &f.name) {
        (Some(ns), Some(n)) => format!("{kind} {ns}/{n}"),
        (None, Some(n)) => format!("{kind} {n}"),
        _ => format!("{kind} (unnamed)"),
    }
}

/// A version as shown to people: `1.22`, or `cert-manager 1.6` for a component.
fn version_text(f: &Finding, v: Option<&str>) -> String {
    match (v, &f.component) {
        (None, _) => "-".to_string(),
        (Some(v), None) => v.to_string(),
        (Some(v), Some(c)) => format!("{c} {v}"),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A Markdown table cell: pipes escaped, no line breaks.
fn md(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versions::Minor;

    fn report(findings: Vec<Finding>) -> Report {
        Report {
            targets: Targets::kubernetes(Minor::v1(33)),
            findings,
            stats: Stats::default(),
        }
    }

    #[test]
    fn the_highest_severity_sets_the_exit_code() {
        let e = Finding::error(Signal::RepoManifest, "a", "yaml-syntax", "x".into());
        let d = Finding::new(Severity::Deprecated, Signal::RepoManifest, "a");
        let r = Finding::new(Severity::Removed, Signal::HelmHook, "a");
        assert_eq!(report(vec![]).exit_code(), 0);
        assert_eq!(report(vec![e.clone()]).exit_code(), 1);
        assert_eq!(report(vec![d.clone(), e.clone()]).exit_code(), 2);
        assert_eq!(report(vec![e, r, d]).exit_code(), 3);
    }

    #[test]
    fn markdown_stays_under_the_comment_limit() {
        let f = Finding {
            api_version: Some("extensions/v1beta1".into()),
            kind: Some("Ingress".into()),
            name: Some("a-rather-long-ingress-name".into()),
            line: Some(1),
            ..Finding::new(
                Severity::Removed,
                Signal::RepoManifest,
                "some/long/path/ingress.yaml",
            )
        };
        let md = report(vec![f; 5_000]).markdown();
        assert!(md.len() <= MARKDOWN_LIMIT, "{}", md.len());
        assert!(md.contains("more; run `keelson deprecations`"), "{md}");
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("plain"), "plain");
    }
}
