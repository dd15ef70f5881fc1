//! The loaded repository: typed documents with their origins, grouped by cluster.
//!
//! ```text
//!  loader ──assemble──► Repo { fleet, clusters: [ClusterConfig { cluster, addons, … }] }
//!                         │
//!  rules ◄── Repo + DocNode (file texts, parsed again for positions) ──► Diagnostic[]
//! ```
//!
//! Plain data shared by the loader, which builds it, and the rules, which read it; kept
//! apart from both so that neither depends on the other for its types.

use serde::Serialize;

use super::diag::Diagnostic;
use std::sync::{Arc, OnceLock};

use super::yaml::{self, Limits, Pos, Seg};
use crate::model::*;

/// Where a document came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// File as shown to the user.
    pub file: String,
    /// Line of the document's first value.
    pub line: u32,
    /// Column of the document's first value.
    pub column: u32,
    /// Index of the document within its file.
    pub document: usize,
}

/// A typed document and its origin.
#[derive(Debug, Clone, PartialEq)]
pub struct Item<T> {
    /// Where it came from.
    pub origin: Origin,
    /// Global document id, used by the rules to find positions.
    pub(crate) doc: usize,
    /// The document.
    pub value: T,
}

/// A Kubernetes manifest keelson does not own (scanned for deprecated APIs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Where it came from.
    pub origin: Origin,
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.name`, if any.
    pub name: Option<String>,
    /// `metadata.namespace`, if any.
    pub namespace: Option<String>,
}

/// Everything that belongs to one cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// The directory of the Cluster document, relative to the repo root.
    pub dir: String,
    /// The Cluster document.
    pub cluster: Item<ClusterDoc>,
    /// Add-ons.
    pub addons: Vec<Item<AddonDoc>>,
    /// Managed node groups.
    pub node_groups: Vec<Item<NodeGroupDoc>>,
    /// Fargate profiles.
    pub fargate_profiles: Vec<Item<FargateProfileDoc>>,
    /// Access entries.
    pub access_entries: Vec<Item<AccessEntryDoc>>,
    /// Pod Identity associations.
    pub pod_identities: Vec<Item<PodIdentityAssociationDoc>>,
    /// NodeClasses.
    pub node_classes: Vec<Item<NodeClassDoc>>,
    /// NodePools.
    pub node_pools: Vec<Item<NodePoolDoc>>,
    /// IngressClassParams.
    pub ingress_class_params: Vec<Item<IngressClassParamsDoc>>,
    /// IngressClasses.
    pub ingress_classes: Vec<Item<IngressClassDoc>>,
    /// StorageClasses.
    pub storage_classes: Vec<Item<StorageClassDoc>>,
    /// Other Kubernetes manifests in the cluster's directories.
    pub manifests: Vec<Manifest>,
    /// The manifests of the cluster's `bootstrap/` directory (also in `manifests`), as
    /// written: keelson applies them.
    pub bootstrap: Vec<Item<serde_json::Value>>,
    /// Documents of this cluster that failed validation (kind, name), so that rules do
    /// not report what depends on them a second time.
    pub(crate) broken: Vec<(Kind, String)>,
}

impl ClusterConfig {
    /// The cluster name.
    pub fn name(&self) -> &str {
        &self.cluster.value.metadata.name
    }
}

/// A loaded config repo.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Repo {
    /// The Fleet document.
    pub fleet: Option<Item<FleetDoc>>,
    /// Clusters, sorted by name.
    pub clusters: Vec<ClusterConfig>,
    /// Manifests outside every cluster's directory.
    pub unowned_manifests: Vec<Manifest>,
}

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Stats {
    /// Files read.
    pub files: usize,
    /// Non-empty documents.
    pub documents: usize,
}

/// The result of loading: the repo (complete only when there are no errors) and every
/// problem found.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The repo.
    pub repo: Repo,
    /// Every problem, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// Counts.
    pub stats: Stats,
}

impl Loaded {
    /// Whether the repo has no errors (warnings allowed).
    pub fn is_valid(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// Number of warnings.
    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }
}

/// A parsed document, kept until the rules have run.
///
/// The YAML tree is not kept: a tree costs several times its text, and a rule needs one
/// only to place a diagnostic, which a valid repository never has. The file's text is
/// kept instead (shared by its documents) and parsed again the first time a position
/// inside one of its documents is asked for.
pub(crate) struct DocNode {
    pub(crate) rel_dir: String,
    pub(crate) origin: Origin,
    /// The file's text, for positions inside the document; `None` for documents no rule
    /// looks into (their diagnostics name the document's start).
    pub(crate) source: Option<Arc<FileText>>,
}

/// A file's text, shared by its documents, and its trees once a position was asked for.
pub(crate) struct FileText {
    /// The whole file's text (after any byte-order mark).
    text: Box<str>,
    /// The bounds the file was parsed under; the same text parses again under them.
    limits: Limits,
    /// The file's documents, parsed on the first position asked for.
    docs: OnceLock<Vec<yaml::Document>>,
}

impl FileText {
    pub(crate) fn new(text: &str, limits: Limits) -> FileText {
        FileText {
            text: text.into(),
            limits,
            docs: OnceLock::new(),
        }
    }
}

impl DocNode {
    /// The position of `path` in the document (of its key with `key`), as
    /// [`yaml::Node::pos_at`]; the document's start when its text is not kept.
    pub(crate) fn pos_at(&self, path: &[Seg], key: bool) -> Pos {
        let Some(src) = &self.source else {
            return self.pos();
        };
        let docs = src
            .docs
            .get_or_init(|| yaml::parse(&src.text, src.limits).unwrap_or_default());
        docs.iter()
            .find(|d| d.index == self.origin.document)
            .map_or(self.pos(), |d| d.root.pos_at(path, key))
    }

    /// Where the document's root value starts.
    pub(crate) fn pos(&self) -> Pos {
        Pos {
            line: self.origin.line,
            col: self.origin.column,
        }
    }
}
