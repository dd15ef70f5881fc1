//! Deprecated and removed Kubernetes APIs: the facts table and the scanners.
//!
//! ```text
//!  repo file bytes ─────────► scan ─► objects ─┐
//!  Helm record (Secret/CM) ─► helm ─► manifest, hooks[].manifest ─► scan ─► objects ─┤
//!  live object (JSON) ──────► live ─► last-applied apiVersion, managedFields[].apiVersion ─┤
//!                                                                                  ▼
//!          table (apis.yaml + --extra-rules) + Targets ─► classify ─► Finding[] ─► report
//! ```
//!
//! Every finding says which signal found it ([`Signal`]), since each has blind spots: a
//! manifest in git may not be what is deployed, a Helm record's manifest is what the next
//! `helm upgrade` starts from, the last-applied annotation can be stale, and managed-field
//! entries linger after their manager stopped writing. Nothing here does I/O: files,
//! records and objects come in as bytes or JSON values.

pub mod helm;
pub mod kube_version;
pub(crate) mod live;
pub(crate) mod report;
pub mod scan;
pub mod table;

use serde::Serialize;

pub use report::{Report, Stats};
pub use scan::{scan, Object, Scan, ScanError};
pub use table::{ApiEntry, ApiTable, Replacement, Status, TableError, Targets, Verdict};

/// Where a finding comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Signal {
    /// A manifest file (in the repository, or given on the command line).
    RepoManifest,
    /// The `manifest` of a deployed Helm release record.
    HelmManifest,
    /// A hook's manifest in a deployed Helm release record.
    HelmHook,
    /// The `kubectl.kubernetes.io/last-applied-configuration` annotation of a live object.
    LastApplied,
    /// A `metadata.managedFields[].apiVersion` of a live object.
    ManagedFields,
    /// An EKS upgrade insight (from the cluster's API traffic).
    Insight,
}

impl Signal {
    /// The name used in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::RepoManifest => "repo-manifest",
            Signal::HelmManifest => "helm-manifest",
            Signal::HelmHook => "helm-hook",
            Signal::LastApplied => "last-applied",
            Signal::ManagedFields => "managed-fields",
            Signal::Insight => "insight",
        }
    }
}

/// How bad a finding is; the order is the order of the exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something could not be read (exit 1).
    Error,
    /// A deprecated API version (exit 2).
    Deprecated,
    /// A removed API version (exit 3).
    Removed,
}

impl Severity {
    /// The name used in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Deprecated => "deprecated",
            Severity::Removed => "removed",
        }
    }

    /// The exit code this severity stands for.
    pub fn exit_code(self) -> u8 {
        match self {
            Severity::Error => 1,
            Severity::Deprecated => 2,
            Severity::Removed => 3,
        }
    }
}

impl From<Status> for Severity {
    fn from(s: Status) -> Self {
        match s {
            Status::Deprecated => Severity::Deprecated,
            Status::Removed => Severity::Removed,
        }
    }
}

/// The Helm release a finding came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseRef {
    /// Release name.
    pub name: String,
    /// Release namespace.
    pub namespace: String,
    /// Revision.
    pub revision: u64,
    /// Status of the revision (`deployed`, …).
    pub status: String,
    /// `name-version` of the chart.
    pub chart: String,
}

impl ReleaseRef {
    /// The reference to a decoded release.
    pub fn of(r: &helm::Release) -> ReleaseRef {
        ReleaseRef {
            name: r.name.clone(),
            namespace: r.namespace.clone(),
            revision: r.revision,
            status: r.status.clone(),
            chart: r.chart.clone(),
        }
    }
}

/// One deprecated or removed API use, or one input that could not be read.
///
/// Positions (`line`, `column`, `document`, `item`) are inside `file` for
/// [`Signal::RepoManifest`], and inside the release's manifest (or the hook's) for the
/// Helm signals; live signals have none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Removed, deprecated or error.
    pub severity: Severity,
    /// What found it.
    pub signal: Signal,
    /// The file read (`-` for standard input), or for live signals the caller's label
    /// of the object's origin (e.g. `cluster/prod-use1`).
    pub file: String,
    /// Line, from 1.
    pub line: Option<u32>,
    /// Column, from 1.
    pub column: Option<u32>,
    /// Document index in the file or manifest, from 0.
    pub document: Option<usize>,
    /// Index in a `List`'s items or a top-level array.
    pub item: Option<usize>,
    /// The apiVersion found.
    pub api_version: Option<String>,
    /// The object's kind.
    pub kind: Option<String>,
    /// The object's namespace.
    pub namespace: Option<String>,
    /// The object's name.
    pub name: Option<String>,
    /// Release that deprecated it.
    pub deprecated_in: Option<String>,
    /// Release that removed it.
    pub removed_in: Option<String>,
    /// What to use instead.
    pub replacement: Option<String>,
    /// The component whose releases the two versions count (`None`: Kubernetes).
    pub component: Option<String>,
    /// Where the table's dates come from.
    pub source: Option<String>,
    /// The Helm release, for the Helm signals.
    pub release: Option<ReleaseRef>,
    /// The hook's name, for [`Signal::HelmHook`].
    pub hook: Option<String>,
    /// The chart template that rendered the object (`# Source:` comment, or hook path).
    pub template: Option<String>,
    /// The field manager, for [`Signal::ManagedFields`].
    pub manager: Option<String>,
    /// Rule id of an error (`yaml-syntax`, `file-encoding`, …).
    pub rule: Option<String>,
    /// What went wrong, for errors.
    pub message: Option<String>,
}

impl Finding {
    /// A finding with only severity, signal and file set.
    pub fn new(severity: Severity, signal: Signal, file: &str) -> Finding {
        Finding {
            severity,
            signal,
            file: file.to_string(),
            line: None,
            column: None,
            document: None,
            item: None,
            api_version: None,
            kind: None,
            namespace: None,
            name: None,
            deprecated_in: None,
            removed_in: None,
            replacement: None,
            component: None,
            source: None,
            release: None,
            hook: None,
            template: None,
            manager: None,
            rule: None,
            message: None,
        }
    }

    /// An error finding.
    pub fn error(signal: Signal, file: &str, rule: &str, message: String) -> Finding {
        Finding {
            rule: Some(rule.to_string()),
            message: Some(message),
            ..Finding::new(Severity::Error, signal, file)
        }
    }

    fn with_verdict(mut self, v: &Verdict<'_>) -> Finding {
        let e = v.entry;
        self.deprecated_in = e.deprecated_in.map(|m| m.to_string());
        self.removed_in = e.removed_in.map(|m| m.to_string());
        self.replacement = v.replacement.map(str::to_string);
        self.component.clone_from(&e.component);
        self.source = Some(e.source.clone());
        self
    }

    fn of_object(signal: Signal, file: &str, o: &Object<'_>, v: &Verdict<'_>) -> Finding {
        Finding {
            line: Some(o.line),
            column: Some(o.column),
            document: Some(o.document),
            item: o.item,
            api_version: Some(o.api_version.to_string()),
            kind: Some(o.kind.to_string()),
            namespace: o.namespace.as_deref().map(str::to_string),
            name: o.name.as_deref().map(str::to_string),
            template: o.template.as_deref().map(str::to_string),
            ..Finding::new(v.status.into(), signal, file)
        }
        .with_verdict(v)
    }

    fn of_scan_error(signal: Signal, file: &str, e: &ScanError) -> Finding {
        Finding {
            line: Some(e.line),
            column: Some(e.column),
            document: e.document,
            ..Finding::error(signal, file, e.rule, e.message.clone())
        }
    }
}

/// The table and targets, applied to files, release records and live objects.
#[derive(Debug, Clone, Copy)]
pub struct Checker<'t> {
    /// The API table.
    pub table: &'t ApiTable,
    /// What objects are judged against.
    pub targets: &'t Targets,
}

impl Checker<'_> {
    /// Check one manifest file. Helm release records found in it (Secrets or ConfigMaps
    /// named `sh.helm.release.v1.*`, e.g. from `kubectl get secret -o yaml`) are decoded
    /// and their manifests checked too, for the revisions with status `deployed` (what
    /// the next `helm upgrade` starts from).
    pub(crate) fn check_file(&self, file: &str, bytes: &[u8], out: &mut Vec<Finding>) -> Stats {
        let s = scan(bytes);
        let mut stats = self.collect(Signal::RepoManifest, file, &s, out, |f| f);
        stats.files = 1;
        stats.bytes = bytes.len() as u64;
        for o in &s.objects {
            let Some(record) = &o.helm_record else {
                continue;
            };
            match helm::decode_data(record.driver, &record.data) {
                Ok(r) if r.status == "deployed" => stats.add(&self.check_release(file, &r, out)),
                Ok(_) => {}
                Err(e) => out.push(Finding {
                    line: Some(o.line),
                    column: Some(o.column),
                    document: Some(o.document),
                    item: o.item,
                    kind: Some(o.kind.to_string()),
                    namespace: o.namespace.as_deref().map(str::to_string),
                    name: o.name.as_deref().map(str::to_string),
                    ..Finding::error(
                        Signal::HelmManifest,
                        file,
                        "helm-record",
                        crate::errors::error_chain(&e),
                    )
                }),
            }
        }
        stats
    }

    /// Check a decoded Helm release: its manifest ([`Signal::HelmManifest`]) and every
    /// hook's manifest ([`Signal::HelmHook`]). `file` names where the record was read
    /// (a file, or e.g. `secret/<namespace>/<name>`).
    pub fn check_release(
        &self,
        file: &str,
        release: &helm::Release,
        out: &mut Vec<Finding>,
    ) -> Stats {
        let rel = ReleaseRef::of(release);
        let s = scan(release.manifest.as_bytes());
        let mut stats = self.collect(Signal::HelmManifest, file, &s, out, |f| Finding {
            release: Some(rel.clone()),
            ..f
        });
        for h in &release.hooks {
            let s = scan(h.manifest.as_bytes());
            stats.add(&self.collect(Signal::HelmHook, file, &s, out, |f| {
                Finding {
                    release: Some(rel.clone()),
                    hook: Some(h.name.clone()),
                    template: f
                        .template
                        .or_else(|| (!h.path.is_empty()).then(|| h.path.clone())),
                    ..f
                }
            }));
        }
        stats
    }

    /// Check a live object's records of how it was written: the last-applied annotation
    /// ([`Signal::LastApplied`]) and each managed-fields entry
    /// ([`Signal::ManagedFields`]). `origin` labels where the object was read, e.g.
    /// `cluster/prod-use1`. The object's own apiVersion is not checked: the API server
    /// converts it to whatever version was asked for.
    pub fn check_live(
        &self,
        origin: &str,
        object: &serde_json::Value,
        out: &mut Vec<Finding>,
    ) -> Stats {
        let text = |p: &str| {
            object
                .pointer(p)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let kind = text("/kind");
        let base = |severity: Severity, signal: Signal| Finding {
            kind: kind.clone(),
            namespace: text("/metadata/namespace"),
            name: text("/metadata/name"),
            ..Finding::new(severity, signal, origin)
        };
        let stats = Stats {
            objects: 1,
            ..Stats::default()
        };
        let mut written: Vec<(Signal, live::Written)> = Vec::new();
        match live::last_applied(object) {
            Ok(Some(w)) => written.push((Signal::LastApplied, w)),
            Ok(None) => {}
            Err(e) => {
                out.push(Finding {
                    rule: Some("last-applied".to_string()),
                    message: Some(e.to_string()),
                    ..base(Severity::Error, Signal::LastApplied)
                });
            }
        }
        written.extend(
            live::managed_fields(object)
                .into_iter()
                .map(|w| (Signal::ManagedFields, w)),
        );
        let Some(kind_str) = kind.as_deref() else {
            return stats;
        };
        for (signal, w) in written {
            if let Some(v) = self.table.classify(&w.api_version, kind_str, self.targets) {
                out.push(
                    Finding {
                        api_version: Some(w.api_version),
                        manager: w.manager,
                        ..base(v.status.into(), signal)
                    }
                    .with_verdict(&v),
                );
            }
        }
        stats
    }

    fn collect(
        &self,
        signal: Signal,
        file: &str,
        s: &Scan<'_>,
        out: &mut Vec<Finding>,
        decorate: impl Fn(Finding) -> Finding,
    ) -> Stats {
        let stats = Stats {
            documents: s.documents as u64,
            objects: s.objects.len() as u64,
            full_parses: s.full_parses as u64,
            ..Stats::default()
        };
        // Findings in file order: errors and objects interleaved by line.
        let start = out.len();
        for e in &s.errors {
            out.push(decorate(Finding::of_scan_error(signal, file, e)));
        }
        for o in &s.objects {
            if let Some(v) = self.table.classify(&o.api_version, &o.kind, self.targets) {
                out.push(decorate(Finding::of_object(signal, file, o, &v)));
            }
        }
        out[start..].sort_by_key(|f| (f.line, f.column, f.item));
        stats
    }
}
