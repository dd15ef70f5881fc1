//! The table of deprecated and removed API versions, and the verdict for one object.
//!
//! ```text
//!  apis.yaml (built in) ─┐
//!  --extra-rules FILE ───┴─► parse (positions, every field checked) ─► ApiTable
//!                                                                        │
//!  (apiVersion, kind) + Targets ──► lookup (group index) ──► Verdict: removed | deprecated | none
//! ```
//!
//! Versions are [`Minor`]s and compare as numbers (1.9 < 1.10). An entry with a
//! `component` counts its versions in that component's releases (cert-manager, Istio)
//! and is judged against that component's target, not Kubernetes'.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::config::yaml::{self, Limits, Node, Pos, Value};
use crate::versions::Minor;

/// The built-in table, as shipped in the binary.
pub const BUILTIN_TEXT: &str = include_str!("apis.yaml");

/// The name the built-in table goes by in messages.
pub const BUILTIN_NAME: &str = "<built-in apis.yaml>";

/// One deprecated or removed group/version/kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiEntry {
    /// API group; empty for the core group.
    pub group: String,
    /// API version, or `*` for every version of the group.
    pub version: String,
    /// Kind, or `*` for every kind of the group/version.
    pub kind: String,
    /// The software whose releases `deprecated_in`/`removed_in` count; `None` for
    /// Kubernetes.
    pub component: Option<String>,
    /// First release that marks it deprecated.
    pub deprecated_in: Option<Minor>,
    /// First release that no longer serves it.
    pub removed_in: Option<Minor>,
    /// What to use instead, as `group/version Kind`: the preferred one (the first of
    /// `replacements`).
    pub replacement: Option<String>,
    /// Every replacement, preferred first, each with the release that first serves it:
    /// at a given target the first one served there is named
    /// ([`ApiTable::replacement_at`]).
    pub replacements: Vec<Replacement>,
    /// Whether kube-apiserver serves it without `--runtime-config` (which EKS does not
    /// expose): beta APIs introduced in 1.24 or later are off by default (KEP-3136), and
    /// CRD-defined groups are served only where their CRDs are installed.
    pub served_by_default: bool,
    /// Where the dates come from, and how sure they are.
    pub source: String,
}

/// One replacement of a deprecated API and the first release that serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    /// `group/version Kind`.
    pub api: String,
    /// First release that serves it (`None`: every release the entry is reported at).
    pub since: Option<Minor>,
}

impl ApiEntry {
    /// `group/version`, as written in an `apiVersion` field.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Where this entry stands at `target` (`None`: the newest release of the entry's
    /// component, so every known deprecation and removal has happened).
    pub fn status_at(&self, target: Option<Minor>) -> Option<Status> {
        let reached = |v: Option<Minor>| match (v, target) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(v), Some(t)) => v <= t,
        };
        if reached(self.removed_in) {
            Some(Status::Removed)
        } else if reached(self.deprecated_in) {
            Some(Status::Deprecated)
        } else {
            None
        }
    }
}

/// What an API version means for an object at the target version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Still served, but deprecated: it will stop working in a later release.
    Deprecated,
    /// No longer served: the object cannot be applied.
    Removed,
}

/// The versions objects are judged against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    /// The Kubernetes minor the cluster runs or is about to run.
    pub kubernetes: Minor,
    /// Versions of third-party components (`cert-manager` → 1.15). A component not named
    /// here is taken to be at its newest release.
    pub components: BTreeMap<String, Minor>,
}

impl Targets {
    /// Kubernetes `version`, every component at its newest release.
    pub fn kubernetes(version: Minor) -> Targets {
        Targets {
            kubernetes: version,
            components: BTreeMap::new(),
        }
    }

    /// The target an entry is judged against.
    pub fn for_entry(&self, entry: &ApiEntry) -> Option<Minor> {
        match &entry.component {
            None => Some(self.kubernetes),
            Some(c) => self.components.get(c).copied(),
        }
    }
}

/// A flagged API version and the entry that flagged it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict<'t> {
    /// Deprecated or removed.
    pub status: Status,
    /// The matching entry.
    pub entry: &'t ApiEntry,
    /// What to use instead, served at the target; `None` when nothing is (PodSecurityPolicy
    /// at 1.25: remove it).
    pub replacement: Option<&'t str>,
}

/// Why a table file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{pos}: {message}")]
pub struct TableError {
    /// The file, as shown to the user.
    pub file: String,
    /// Where the problem is.
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
}

/// The deprecated/removed API table, indexed by group.
#[derive(Debug, Clone, Default)]
pub struct ApiTable {
    entries: Vec<ApiEntry>,
    by_group: HashMap<String, Vec<usize>>,
    newest_release: Option<Minor>,
}

impl ApiTable {
    /// The built-in table.
    ///
    /// # Errors
    /// Never with the shipped file (a test reads it); the signature lets a broken build
    /// report instead of panic.
    pub fn builtin() -> Result<ApiTable, TableError> {
        let mut t = ApiTable::default();
        t.extend(parse(BUILTIN_NAME, BUILTIN_TEXT)?);
        t.newest_release = newest_release(BUILTIN_TEXT);
        Ok(t)
    }

    /// The built-in table, parsed once per process and shared; `None` only if the shipped
    /// file failed to parse (a test reads it).
    pub fn shared() -> Option<&'static ApiTable> {
        static TABLE: std::sync::OnceLock<Option<ApiTable>> = std::sync::OnceLock::new();
        TABLE.get_or_init(|| ApiTable::builtin().ok()).as_ref()
    }

    /// Add entries. A later entry wins over an earlier one for the same group, version
    /// and kind, so `--extra-rules` can correct the built-in table.
    pub fn extend(&mut self, entries: Vec<ApiEntry>) {
        for e in entries {
            let i = self.entries.len();
            self.by_group.entry(e.group.clone()).or_default().push(i);
            self.entries.push(e);
        }
    }

    /// Every entry, in the order they were added.
    pub fn entries(&self) -> &[ApiEntry] {
        &self.entries
    }

    /// The entry for an `apiVersion` and kind, if any. An exact kind beats `FooList`
    /// read as `Foo`, which beats `*`; an exact version beats `*`; among equals the
    /// entry added last wins.
    pub fn lookup(&self, api_version: &str, kind: &str) -> Option<&ApiEntry> {
        let (group, version) = split_api_version(api_version);
        let candidates = self.by_group.get(group)?;
        let item_kind = kind.strip_suffix("List").filter(|k| !k.is_empty());
        let mut best: Option<(u8, usize)> = None;
        for &i in candidates {
            let e = &self.entries[i];
            let v = if e.version == version {
                2
            } else if e.version == "*" {
                1
            } else {
                continue;
            };
            let k = if e.kind == kind {
                3
            } else if Some(e.kind.as_str()) == item_kind {
                2
            } else if e.kind == "*" {
                1
            } else {
                continue;
            };
            let score = k * 3 + v;
            if best.is_none_or(|b| (score, i) > b) {
                best = Some((score, i));
            }
        }
        best.map(|(_, i)| &self.entries[i])
    }

    /// Whether an object of this `apiVersion` and kind is deprecated or removed at the
    /// targets; `None` when it is fine.
    pub fn classify(
        &self,
        api_version: &str,
        kind: &str,
        targets: &Targets,
    ) -> Option<Verdict<'_>> {
        let entry = self.lookup(api_version, kind)?;
        let target = targets.for_entry(entry);
        let status = entry.status_at(target)?;
        Some(Verdict {
            status,
            entry,
            replacement: self.replacement_at(entry, target),
        })
    }

    /// The replacement to name at `target` (`None`: the newest release): the first of
    /// the entry's replacements that is served there, i.e. released by then and not
    /// itself removed by then according to this table. At 1.26 FlowSchema `v1beta1` goes
    /// to `v1beta3` (`v1` comes in 1.29); `extensions/v1beta1` PodSecurityPolicy has no
    /// replacement from 1.25, when `policy/v1beta1` went too.
    pub fn replacement_at<'e>(
        &self,
        entry: &'e ApiEntry,
        target: Option<Minor>,
    ) -> Option<&'e str> {
        entry
            .replacements
            .iter()
            .find(|r| {
                let released = match (r.since, target) {
                    (Some(since), Some(t)) => since <= t,
                    _ => true,
                };
                let (api_version, kind) = r.api.split_once(' ').unwrap_or((r.api.as_str(), ""));
                let gone = self
                    .lookup(api_version, kind)
                    .filter(|e| e.component == entry.component)
                    .and_then(|e| e.status_at(target))
                    == Some(Status::Removed);
                released && !gone
            })
            .map(|r| r.api.as_str())
    }

    /// The newest release the built-in table covers (its `newest_release`).
    pub fn newest_release(&self) -> Option<Minor> {
        self.newest_release
    }
}

/// The `newest_release` of a table file that parses; `None` without one.
pub fn newest_release(text: &str) -> Option<Minor> {
    let docs = yaml::parse(text, Limits::default()).ok()?;
    let root = &docs.first()?.root;
    root.get("newest_release")?.as_str()?.parse().ok()
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

const FIELDS: &[&str] = &[
    "group",
    "version",
    "kind",
    "component",
    "deprecated_in",
    "removed_in",
    "replacement",
    "served_by_default",
    "source",
];

/// Read a table file: a mapping with an `apis` list (and optionally `format_version: 1`
/// and `newest_release`), every entry checked.
///
/// # Errors
/// The first problem, with its position: YAML errors, unknown or missing fields, values
/// of the wrong type, versions that are not `1.N`, `deprecated_in` after `removed_in`,
/// and the same group/version/kind twice in one file.
pub fn parse(file: &str, text: &str) -> Result<Vec<ApiEntry>, TableError> {
    let fail = |pos: Pos, message: String| TableError {
        file: file.to_string(),
        pos,
        message,
    };
    let docs = yaml::parse(text, Limits::default()).map_err(|e| fail(e.pos, e.message))?;
    let mut docs = docs.into_iter();
    let root = match (docs.next(), docs.next()) {
        (Some(d), None) => d.root,
        (None, _) => {
            return Err(fail(
                Pos::START,
                "the file is empty; expected `apis:`".into(),
            ))
        }
        (Some(_), Some(extra)) => {
            return Err(fail(
                extra.root.pos,
                "expected one document, found more than one".into(),
            ))
        }
    };
    let Value::Map(top) = &root.value else {
        return Err(fail(
            root.pos,
            format!(
                "expected a mapping with `apis:`, found {}",
                root.type_name()
            ),
        ));
    };
    let mut apis = None;
    for e in top {
        match e.key.as_str() {
            "apis" => apis = Some(&e.value),
            "format_version" => {
                if !matches!(e.value.value, Value::Int(1)) {
                    return Err(fail(e.value.pos, "only `format_version: 1` is known".into()));
                }
            }
            "newest_release" => {
                version(file, &e.value)?;
            }
            other => {
                return Err(fail(
                    e.key_pos,
                    format!("unknown field `{other}`; expected `apis`, `format_version` or `newest_release`"),
                ))
            }
        }
    }
    let Some(apis) = apis else {
        return Err(fail(root.pos, "missing `apis:` (a list of entries)".into()));
    };
    let Value::Seq(items) = &apis.value else {
        return Err(fail(
            apis.pos,
            format!("`apis` must be a list, found {}", apis.type_name()),
        ));
    };
    let mut out: Vec<ApiEntry> = Vec::with_capacity(items.len());
    let mut seen: HashMap<(String, String, String), Pos> = HashMap::new();
    for item in items {
        let e = entry(file, item)?;
        let key = (e.group.clone(), e.version.clone(), e.kind.clone());
        if let Some(first) = seen.insert(key, item.pos) {
            return Err(fail(
                item.pos,
                format!(
                    "{} {} is listed twice (first at line {})",
                    e.api_version(),
                    e.kind,
                    first.line
                ),
            ));
        }
        out.push(e);
    }
    Ok(out)
}

fn entry(file: &str, node: &Node) -> Result<ApiEntry, TableError> {
    let fail = |pos: Pos, message: String| TableError {
        file: file.to_string(),
        pos,
        message,
    };
    let Value::Map(fields) = &node.value else {
        return Err(fail(
            node.pos,
            format!("an entry must be a mapping, found {}", node.type_name()),
        ));
    };
    for f in fields {
        if !FIELDS.contains(&f.key.as_str()) {
            return Err(fail(
                f.key_pos,
                format!(
                    "unknown field `{}`; fields are {}",
                    f.key,
                    FIELDS.join(", ")
                ),
            ));
        }
    }
    let text = |key: &str, required: bool| -> Result<Option<String>, TableError> {
        match node.get(key) {
            None if required => Err(fail(node.pos, format!("missing `{key}`"))),
            None => Ok(None),
            Some(Node {
                value: Value::Null, ..
            }) if !required => Ok(None),
            Some(Node {
                value: Value::Str(s),
                pos,
            }) => {
                if s.trim().is_empty() || s.trim() != s {
                    Err(fail(
                        *pos,
                        format!("`{key}` must be a non-empty word without surrounding spaces"),
                    ))
                } else {
                    Ok(Some(s.clone()))
                }
            }
            Some(n) => Err(fail(
                n.pos,
                format!("`{key}` must be a string, found {}", n.type_name()),
            )),
        }
    };
    let group = match node.get("group") {
        Some(Node {
            value: Value::Str(s),
            ..
        }) if s.is_empty() => String::new(),
        _ => text("group", true)?.unwrap_or_default(),
    };
    let version_name = text("version", true)?.unwrap_or_default();
    let kind = text("kind", true)?.unwrap_or_default();
    if group.contains('/') || version_name.contains('/') {
        return Err(fail(
            node.pos,
            "write the group and the version apart (`group: apps`, `version: v1beta1`)".into(),
        ));
    }
    let at = |key: &str| -> Result<Option<Minor>, TableError> {
        match node.get(key) {
            None => Err(fail(
                node.pos,
                format!("missing `{key}` (write null when there is none)"),
            )),
            Some(n) => version(file, n),
        }
    };
    let deprecated_in = at("deprecated_in")?;
    let removed_in = at("removed_in")?;
    if let (Some(d), Some(r)) = (deprecated_in, removed_in) {
        if d > r {
            return Err(fail(
                node.pos,
                format!("deprecated_in {d} is after removed_in {r}"),
            ));
        }
    }
    let Some(replacement) = node.get("replacement") else {
        return Err(fail(
            node.pos,
            "missing `replacement` (write null when there is none)".into(),
        ));
    };
    let replacements = replacements(file, replacement)?;
    Ok(ApiEntry {
        group,
        version: version_name,
        kind,
        component: text("component", false)?,
        deprecated_in,
        removed_in,
        replacement: replacements.first().map(|r| r.api.clone()),
        replacements,
        served_by_default: match node.get("served_by_default") {
            None => true,
            Some(Node {
                value: Value::Bool(b),
                ..
            }) => *b,
            Some(n) => {
                return Err(fail(
                    n.pos,
                    format!(
                        "`served_by_default` is true or false, found {}",
                        n.type_name()
                    ),
                ))
            }
        },
        source: text("source", true)?.unwrap_or_default(),
    })
}

/// `replacement`: null, one `"group/version Kind"`, or a list of
/// `{api: "group/version Kind", since: "1.N"}`, preferred first.
fn replacements(file: &str, n: &Node) -> Result<Vec<Replacement>, TableError> {
    let fail = |pos: Pos, message: String| TableError {
        file: file.to_string(),
        pos,
        message,
    };
    let api = |n: &Node| match n.as_str() {
        Some(s)
            if s.trim() == s
                && s.split_once(' ')
                    .is_some_and(|(gv, kind)| !gv.is_empty() && !kind.is_empty()) =>
        {
            Ok(s.to_string())
        }
        _ => Err(fail(
            n.pos,
            "a replacement is written \"group/version Kind\", e.g. \"apps/v1 Deployment\"".into(),
        )),
    };
    match &n.value {
        Value::Null => Ok(Vec::new()),
        Value::Str(_) => Ok(vec![Replacement {
            api: api(n)?,
            since: None,
        }]),
        Value::Seq(items) if !items.is_empty() => items
            .iter()
            .map(|item| {
                let Value::Map(fields) = &item.value else {
                    return Err(fail(item.pos, "a replacement in a list is `{api: \"group/version Kind\", since: \"1.N\"}`".into()));
                };
                if let Some(f) = fields.iter().find(|f| f.key != "api" && f.key != "since") {
                    return Err(fail(f.key_pos, format!("unknown field `{}`; a replacement has `api` and `since`", f.key)));
                }
                let a = item
                    .get("api")
                    .ok_or_else(|| fail(item.pos, "missing `api`".into()))?;
                Ok(Replacement {
                    api: api(a)?,
                    since: match item.get("since") {
                        Some(v) => version(file, v)?,
                        None => None,
                    },
                })
            })
            .collect(),
        _ => Err(fail(
            n.pos,
            format!(
                "`replacement` is null, \"group/version Kind\" or a list of {{api, since}}, found {}",
                n.type_name()
            ),
        )),
    }
}

/// A version field: a quoted `"1.N"` or null.
fn version(file: &str, n: &Node) -> Result<Option<Minor>, TableError> {
    let fail = |message: String| TableError {
        file: file.to_string(),
        pos: n.pos,
        message,
    };
    match &n.value {
        Value::Null => Ok(None),
        Value::Str(s) => s
            .parse::<Minor>()
            .map(Some)
            .map_err(|e| fail(e.to_string())),
        Value::Float(f) => Err(fail(format!(
            "YAML read this version as the number {f}: put it in quotes (\"1.30\", not 1.30, which is 1.3)"
        ))),
        _ => Err(fail(format!(
            "a version must be a quoted string such as \"1.25\" or null, found {}",
            n.type_name()
        ))),
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Deprecated => "deprecated",
            Status::Removed => "removed",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> ApiTable {
        ApiTable::builtin().unwrap()
    }

    #[test]
    fn the_builtin_table_parses_and_is_ordered() {
        let t = table();
        assert!(t.entries().len() > 100, "{}", t.entries().len());
        for e in t.entries() {
            assert!(!e.source.is_empty(), "{e:?}");
            assert!(e.deprecated_in.is_some() || e.removed_in.is_some() || e.component.is_none());
        }
    }

    #[test]
    fn list_kinds_and_wildcards() {
        let t = table();
        let e = t.lookup("extensions/v1beta1", "DeploymentList").unwrap();
        assert_eq!(e.kind, "Deployment");
        assert!(t.lookup("apps/v1", "Deployment").is_none());
        assert!(t.lookup("v1", "List").is_none());
        let istio = t.lookup("rbac.istio.io/v1alpha1", "ServiceRole").unwrap();
        assert_eq!(istio.component.as_deref(), Some("istio"));
    }

    #[test]
    fn component_entries_use_the_component_target() {
        let t = table();
        let mut targets = Targets::kubernetes(Minor::v1(20));
        let v = t
            .classify("cert-manager.io/v1alpha2", "Certificate", &targets)
            .unwrap();
        assert_eq!(v.status, Status::Removed);
        targets
            .components
            .insert("cert-manager".into(), Minor::v1(5));
        let v = t
            .classify("cert-manager.io/v1alpha2", "Certificate", &targets)
            .unwrap();
        assert_eq!(v.status, Status::Deprecated);
        targets
            .components
            .insert("cert-manager".into(), Minor::v1(3));
        assert!(t
            .classify("cert-manager.io/v1alpha2", "Certificate", &targets)
            .is_none());
    }

    #[test]
    fn bad_tables_are_errors_with_positions() {
        let cases = [
            ("apis: [{group: a}]\n", "missing `version`"),
            ("apis:\n  - {group: a, version: v1, kind: K, deprecated_in: 1.30, removed_in: null, replacement: null, source: s}\n", "put it in quotes"),
            ("apis:\n  - {group: a, version: v1, kind: K, deprecated_in: \"1.30\", removed_in: \"1.29\", replacement: null, source: s}\n", "after removed_in"),
            ("apis:\n  - {group: a, version: v1, kind: K, removed-in: \"1.29\"}\n", "unknown field `removed-in`"),
            ("apis: {}\n", "must be a list"),
            ("entries: []\n", "unknown field"),
            ("", "empty"),
            ("apis: [\n", ""),
        ];
        for (text, want) in cases {
            let e = parse("x.yaml", text).unwrap_err();
            assert!(e.to_string().contains(want), "{text:?}: {e}");
            assert!(e.to_string().starts_with("x.yaml:"), "{e}");
        }
    }

    #[test]
    fn later_entries_override_earlier_ones() {
        let mut t = table();
        let extra = parse(
            "extra.yaml",
            "apis:\n  - {group: extensions, version: v1beta1, kind: Ingress, deprecated_in: \"1.10\", removed_in: \"1.40\", replacement: null, source: mine}\n",
        )
        .unwrap();
        t.extend(extra);
        let e = t.lookup("extensions/v1beta1", "Ingress").unwrap();
        assert_eq!(e.source, "mine");
        assert_eq!(e.removed_in, Some(Minor::v1(40)));
    }

    #[test]
    fn replacements_are_the_ones_served_at_the_target() {
        let t = table();
        let at = |api: &str, kind: &str, target: u32| {
            t.classify(api, kind, &Targets::kubernetes(Minor::v1(target)))
                .and_then(|v| v.replacement)
        };
        let fc = "flowcontrol.apiserver.k8s.io";
        for kind in ["FlowSchema", "PriorityLevelConfiguration"] {
            for old in ["v1beta1", "v1beta2"] {
                for target in 26..=28 {
                    assert_eq!(
                        at(&format!("{fc}/{old}"), kind, target).map(str::to_string),
                        Some(format!("{fc}/v1beta3 {kind}")),
                        "{old} {kind} at 1.{target}"
                    );
                }
                assert_eq!(
                    at(&format!("{fc}/{old}"), kind, 29).map(str::to_string),
                    Some(format!("{fc}/v1 {kind}"))
                );
            }
            // Deprecated at 1.23-1.25, when v1beta2 was the newest served.
            assert_eq!(
                at(&format!("{fc}/v1beta1"), kind, 24).map(str::to_string),
                Some(format!("{fc}/v1beta2 {kind}"))
            );
        }
        // PodSecurityPolicy: policy/v1beta1 until 1.24, nothing from 1.25.
        assert_eq!(
            at("extensions/v1beta1", "PodSecurityPolicy", 24),
            Some("policy/v1beta1 PodSecurityPolicy")
        );
        assert_eq!(at("extensions/v1beta1", "PodSecurityPolicy", 25), None);
        assert_eq!(at("policy/v1beta1", "PodSecurityPolicy", 33), None);
        assert_eq!(
            at("extensions/v1beta1", "Ingress", 18),
            Some("networking.k8s.io/v1beta1 Ingress")
        );
        assert_eq!(
            at("extensions/v1beta1", "Ingress", 33),
            Some("networking.k8s.io/v1 Ingress")
        );
        assert_eq!(
            at("audit.k8s.io/v1beta1", "Policy", 24),
            Some("audit.k8s.io/v1 Policy")
        );
        assert!(at("audit.k8s.io/v1alpha1", "Policy", 24).is_some());
    }

    #[test]
    fn every_named_replacement_is_served_where_it_is_named() {
        let t = table();
        let newest = t.newest_release().unwrap();
        assert_eq!(newest, Minor::v1(37));
        for e in t.entries().iter().filter(|e| e.component.is_none()) {
            let Some(first) = e.deprecated_in.or(e.removed_in) else {
                continue;
            };
            for minor in first.minor..=newest.minor {
                let target = Minor::v1(minor);
                let Some(r) = t.replacement_at(e, Some(target)) else {
                    continue;
                };
                let (api, kind) = r.split_once(' ').unwrap();
                let named = e.replacements.iter().find(|x| x.api == r).unwrap();
                assert!(named.since.is_none_or(|s| s <= target), "{e:?} at {target}");
                assert_ne!(
                    t.classify(api, kind, &Targets::kubernetes(target))
                        .map(|v| v.status),
                    Some(Status::Removed),
                    "{} {} at {target} names {r}, removed by then",
                    e.api_version(),
                    e.kind
                );
            }
        }
    }

    #[test]
    fn replacement_lists_are_checked() {
        let entry = |r: &str| {
            format!("apis:\n  - {{group: a, version: v1beta1, kind: K, deprecated_in: \"1.30\", removed_in: null, replacement: {r}, source: s}}\n")
        };
        let ok = parse(
            "x.yaml",
            &entry("[{api: a/v1 K, since: \"1.31\"}, {api: a/v1beta2 K}]"),
        )
        .unwrap();
        assert_eq!(ok[0].replacement.as_deref(), Some("a/v1 K"));
        assert_eq!(ok[0].replacements[0].since, Some(Minor::v1(31)));
        assert_eq!(ok[0].replacements[1].since, None);
        for (r, want) in [
            ("[{api: a/v1 K, sine: \"1.31\"}]", "unknown field `sine`"),
            ("[{since: \"1.31\"}]", "missing `api`"),
            ("[a/v1 K]", "{api:"),
            ("[{api: a/v1, since: \"1.31\"}]", "group/version Kind"),
            ("[]", "a list of {api, since}"),
            ("[{api: a/v1 K, since: 1.31}]", "put it in quotes"),
        ] {
            let e = parse("x.yaml", &entry(r)).unwrap_err();
            assert!(e.to_string().contains(want), "{r}: {e}");
            assert!(e.to_string().starts_with("x.yaml:2:"), "{e}");
        }
    }
}
