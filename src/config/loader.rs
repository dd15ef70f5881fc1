//! From source files to a validated [`Repo`], collecting every problem on the way.
//!
//! ```text
//!  SourceFile[] ──(parallel, per file)──► YAML docs ──► kind ──► schema ──► typed document
//!                                                                             │
//!  Repo ◄── rules (cross-document, positions from the YAML trees) ◄── scoping to Clusters
//! ```
//!
//! Pure: the files come in as bytes (the filesystem walk lives in `adapters::fs`), and
//! "today" for the support calendar is passed in.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::diag::{self, suggest, Diagnostic, Rule};
use super::repo::{ClusterConfig, DocNode, FileText, Item, Loaded, Manifest, Origin, Repo, Stats};
use super::rules;
use super::schema::Schemas;
use super::yaml::{self, Limits, Node, Pos, Value as YValue, YamlErrorKind};
use crate::model::*;
use crate::versions::Date;

/// The largest file keelson reads.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// One file of the repo, read by an adapter.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as shown to the user.
    pub display: String,
    /// The path relative to the repo root, with `/` separators.
    pub rel: String,
    /// The raw bytes.
    pub bytes: Vec<u8>,
}

/// Options for loading.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Today's date, for the version support calendar.
    pub today: Date,
    /// YAML limits.
    pub limits: Limits,
    /// Worker threads for parsing and schema validation (0 = one per core).
    pub threads: usize,
}

impl LoadOptions {
    /// Defaults for a given day.
    pub fn new(today: Date) -> LoadOptions {
        LoadOptions {
            today,
            limits: Limits::default(),
            threads: 0,
        }
    }
}

/// A typed document of one of keelson's kinds.
#[derive(Debug, Clone)]
pub(crate) enum Typed {
    Fleet(FleetDoc),
    Cluster(ClusterDoc),
    Addon(AddonDoc),
    NodeGroup(NodeGroupDoc),
    FargateProfile(FargateProfileDoc),
    AccessEntry(AccessEntryDoc),
    PodIdentityAssociation(PodIdentityAssociationDoc),
    NodePool(NodePoolDoc),
    NodeClass(NodeClassDoc),
    IngressClassParams(IngressClassParamsDoc),
    IngressClass(IngressClassDoc),
    StorageClass(StorageClassDoc),
}

// Short-lived (one per document, moved once into the Repo), so the size difference
// between variants costs nothing worth a Box per document.
#[allow(clippy::large_enum_variant)]
enum Class {
    Typed(Typed),
    /// A manifest, with the document as JSON when it is in a `bootstrap/` directory.
    Manifest(Manifest, Option<serde_json::Value>),
    /// Invalid; already reported. Carries the kind and name when they could be read, so
    /// that documents depending on it are not reported a second time.
    Invalid(Option<(Kind, String)>),
}

struct FileResult {
    docs: Vec<(DocNode, Class)>,
    diagnostics: Vec<Diagnostic>,
    read: bool,
}

/// Where the loader gets file contents: an adapter may read them from disk lazily, on
/// the loader's worker threads, so that reading overlaps with parsing. The loader itself
/// does no I/O.
pub trait FileSource: Sync {
    /// How many files there are.
    fn count(&self) -> usize;
    /// File `i` (0-based), or why it cannot be had.
    ///
    /// # Errors
    /// A diagnostic for a file that could not be read (unreadable, too large).
    fn get(&self, i: usize) -> Result<std::borrow::Cow<'_, SourceFile>, Diagnostic>;
}

impl FileSource for [SourceFile] {
    fn count(&self) -> usize {
        self.len()
    }

    fn get(&self, i: usize) -> Result<std::borrow::Cow<'_, SourceFile>, Diagnostic> {
        self.get(i).map(std::borrow::Cow::Borrowed).ok_or_else(|| {
            Diagnostic::new(
                "<keelson>",
                Pos::START,
                Rule::FileUnreadable,
                format!("no file {i}"),
            )
        })
    }
}

/// Load a repo from its files.
///
/// Never panics on any input; every problem becomes a [`Diagnostic`].
pub fn load(files: &[SourceFile], opts: &LoadOptions) -> Loaded {
    load_from(files, opts)
}

/// Load a repo from a [`FileSource`].
///
/// Never panics on any input; every problem becomes a [`Diagnostic`].
pub fn load_from<S: FileSource + ?Sized>(files: &S, opts: &LoadOptions) -> Loaded {
    let mut diagnostics = Vec::new();
    let schemas = match Schemas::get() {
        Ok(s) => Some(s),
        Err(e) => {
            diagnostics.push(Diagnostic::new(
                "<keelson>",
                Pos::START,
                Rule::SchemaValue,
                e,
            ));
            None
        }
    };
    let results = parse_all(files, opts, schemas);

    let mut docs: Vec<DocNode> = Vec::new();
    let mut classes: Vec<Class> = Vec::new();
    let mut read = 0;
    for r in results {
        read += usize::from(r.read);
        diagnostics.extend(r.diagnostics);
        for (d, c) in r.docs {
            docs.push(d);
            classes.push(c);
        }
    }
    let stats = Stats {
        files: read,
        documents: docs.len(),
    };
    let repo = assemble(&docs, classes, &mut diagnostics);
    rules::check(&repo, &docs, opts.today, &mut diagnostics);
    // Freeing tens of thousands of small trees takes a while; let another thread do it
    // so the caller can go on with the result.
    if docs.len() > 1_000 {
        std::thread::spawn(move || drop(docs));
    } else {
        drop(docs);
    }
    diag::merge(&mut diagnostics, []);
    diagnostics.dedup();
    Loaded {
        repo,
        diagnostics,
        stats,
    }
}

fn read_and_parse<S: FileSource + ?Sized>(
    files: &S,
    i: usize,
    opts: &LoadOptions,
    schemas: Option<&Schemas>,
) -> FileResult {
    match files.get(i) {
        Ok(f) => parse_file(&f, opts, schemas),
        Err(d) => FileResult {
            docs: Vec::new(),
            diagnostics: vec![d],
            read: false,
        },
    }
}

fn parse_all<S: FileSource + ?Sized>(
    files: &S,
    opts: &LoadOptions,
    schemas: Option<&Schemas>,
) -> Vec<FileResult> {
    crate::par::map_indexed(files.count(), opts.threads, |i| {
        read_and_parse(files, i, opts, schemas)
    })
}

fn rel_dir(rel: &str) -> String {
    match rel.rfind('/') {
        Some(i) => rel[..i].to_string(),
        None => String::new(),
    }
}

/// The line and column (in characters) of byte `offset` of `bytes`.
fn pos_at(bytes: &[u8], offset: usize) -> Pos {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&c| c == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|&c| c == b'\n')
        .map_or(0, |p| p + 1);
    let col = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
    Pos {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        col: u32::try_from(col).unwrap_or(u32::MAX),
    }
}

/// A file that is UTF-16 or UTF-32 (by its byte-order mark), or holds a NUL byte (binary,
/// or UTF-16 without a mark): named for what it is, at the place it shows.
fn encoding_problem(file: &SourceFile) -> Option<Diagnostic> {
    let b = &file.bytes;
    let bom = if b.starts_with(&[0xff, 0xfe, 0, 0]) || b.starts_with(&[0, 0, 0xfe, 0xff]) {
        Some("UTF-32")
    } else if b.starts_with(&[0xff, 0xfe]) || b.starts_with(&[0xfe, 0xff]) {
        Some("UTF-16")
    } else {
        None
    };
    if let Some(enc) = bom {
        return Some(Diagnostic::new(
            &file.display,
            Pos { line: 1, col: 1 },
            Rule::FileEncoding,
            format!("the file is {enc} (it starts with a {enc} byte-order mark); save it as UTF-8"),
        ));
    }
    let nul = b.iter().position(|&c| c == 0)?;
    Some(Diagnostic::new(
        &file.display,
        pos_at(b, nul),
        Rule::FileEncoding,
        format!(
            "a NUL byte at offset {nul}: not a text file (binary, or UTF-16 without a byte-order mark); save it as UTF-8"
        ),
    ))
}

fn parse_file(file: &SourceFile, opts: &LoadOptions, schemas: Option<&Schemas>) -> FileResult {
    let mut result = FileResult {
        docs: Vec::new(),
        diagnostics: Vec::new(),
        read: true,
    };
    if let Some(d) = encoding_problem(file) {
        result.diagnostics.push(d);
        return result;
    }
    let text = match std::str::from_utf8(&file.bytes) {
        Ok(t) => t,
        Err(e) => {
            result.diagnostics.push(Diagnostic::new(
                &file.display,
                pos_at(&file.bytes, e.valid_up_to()),
                Rule::FileEncoding,
                format!(
                    "not valid UTF-8 (byte 0x{:02x} at offset {}); save the file as UTF-8",
                    file.bytes.get(e.valid_up_to()).copied().unwrap_or(0),
                    e.valid_up_to()
                ),
            ));
            return result;
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let parsed = match yaml::parse(text, opts.limits) {
        Ok(d) => d,
        Err(e) => {
            let rule = match e.kind {
                YamlErrorKind::Syntax => Rule::YamlSyntax,
                YamlErrorKind::Limit => Rule::YamlLimit,
                YamlErrorKind::DuplicateKey => Rule::YamlDuplicateKey,
                YamlErrorKind::Unsupported => Rule::YamlUnsupported,
            };
            let mut message = e.message;
            if text.contains("{{") {
                message.push_str(
                    " (this looks like an unrendered template; keelson reads plain YAML)",
                );
            }
            result
                .diagnostics
                .push(Diagnostic::new(&file.display, e.pos, rule, message));
            return result;
        }
    };
    let dir = rel_dir(&file.rel);
    let mut source: Option<Arc<FileText>> = None;
    let mut non_empty = 0;
    for doc in parsed {
        if doc.root.value == YValue::Null {
            continue;
        }
        non_empty += 1;
        let origin = Origin {
            file: file.display.clone(),
            line: doc.root.pos.line,
            column: doc.root.pos.col,
            document: doc.index,
        };
        let mut class = classify(
            &file.display,
            &doc.root,
            &origin,
            schemas,
            &mut result.diagnostics,
        );
        if let Class::Manifest(_, object) = &mut class {
            if super::bootstrap::in_bootstrap_dir(&dir) {
                *object = Some(doc.root.to_json());
            }
        }
        // Only keelson's own documents are looked at again (by the rules, for
        // positions); keep no text for the others.
        let src = match class {
            Class::Typed(_) | Class::Manifest(_, Some(_)) => Some(
                source
                    .get_or_insert_with(|| Arc::new(FileText::new(text, opts.limits)))
                    .clone(),
            ),
            _ => None,
        };
        result.docs.push((
            DocNode {
                rel_dir: dir.clone(),
                origin,
                source: src,
            },
            class,
        ));
    }
    if non_empty == 0 {
        result.diagnostics.push(Diagnostic::new(
            &file.display,
            Pos::START,
            Rule::EmptyFile,
            "the file holds no documents",
        ));
    }
    result
}

const KEELSON_KINDS: &[&str] = &[
    "Fleet",
    "Cluster",
    "Addon",
    "NodeGroup",
    "FargateProfile",
    "AccessEntry",
    "PodIdentityAssociation",
];

fn classify(
    file: &str,
    root: &Node,
    origin: &Origin,
    schemas: Option<&Schemas>,
    out: &mut Vec<Diagnostic>,
) -> Class {
    let YValue::Map(_) = root.value else {
        out.push(Diagnostic::new(
            file,
            root.pos,
            Rule::NotAMapping,
            format!(
                "a document must be a mapping with apiVersion and kind, found {}",
                root.type_name()
            ),
        ));
        return Class::Invalid(None);
    };
    let api = root.get("apiVersion").and_then(Node::as_str);
    let kind = root.get("kind").and_then(Node::as_str);
    let (Some(api), Some(kind)) = (api, kind) else {
        let missing = match (api, kind) {
            (None, None) => "`apiVersion` and `kind`",
            (None, _) => "`apiVersion`",
            _ => "`kind`",
        };
        out.push(Diagnostic::new(
            file,
            root.pos,
            Rule::MissingKind,
            format!("document has no string {missing}"),
        ));
        return Class::Invalid(None);
    };
    let Some(k) = Kind::lookup(api, kind) else {
        if let Some(message) = unknown_owned_kind(api, kind) {
            let pos = root.pos_at(&[yaml::Seg::Key("kind".into())], false);
            out.push(Diagnostic::new(file, pos, Rule::UnknownKind, message));
            return Class::Invalid(None);
        }
        let meta = root.get("metadata");
        return Class::Manifest(
            Manifest {
                origin: origin.clone(),
                api_version: api.to_string(),
                kind: kind.to_string(),
                name: meta
                    .and_then(|m| m.get("name"))
                    .and_then(Node::as_str)
                    .map(str::to_string),
                namespace: meta
                    .and_then(|m| m.get("namespace"))
                    .and_then(Node::as_str)
                    .map(str::to_string),
            },
            None,
        );
    };
    let json = root.to_json();
    if let Some(schemas) = schemas {
        let problems = schemas.validate(k, root, &json);
        if !problems.is_empty() {
            out.extend(
                problems
                    .into_iter()
                    .map(|p| Diagnostic::new(file, p.pos, p.rule, p.message)),
            );
            return Class::Invalid(Some((k, doc_name(root))));
        }
    }
    match to_typed(k, json) {
        Ok(t) => Class::Typed(t),
        Err(e) => {
            out.push(Diagnostic::new(
                file,
                root.pos,
                Rule::SchemaValue,
                format!("{kind} document does not fit the model: {e}"),
            ));
            Class::Invalid(Some((k, doc_name(root))))
        }
    }
}

/// A message for an apiVersion/kind pair that belongs to a group keelson owns or serves
/// but that it does not know; `None` for anything else (a plain manifest).
fn unknown_owned_kind(api: &str, kind: &str) -> Option<String> {
    if api.starts_with("keelson.dev/") {
        if api != KEELSON_API {
            return Some(format!(
                "apiVersion `{api}` is not served; keelson reads `{KEELSON_API}`"
            ));
        }
        let hint = suggest(kind, KEELSON_KINDS.iter().copied())
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_else(|| format!("; kinds are {}", KEELSON_KINDS.join(", ")));
        return Some(format!("unknown keelson kind `{kind}`{hint}"));
    }
    if kind == "NodePool" && api.starts_with("karpenter.sh/") {
        return Some(format!(
            "`{api}` NodePool is not served by EKS Auto Mode; use `{KARPENTER_API}`"
        ));
    }
    if kind == "NodeClass" && api.starts_with("eks.amazonaws.com/") {
        return Some(format!(
            "`{api}` NodeClass is not served by EKS Auto Mode; use `{EKS_NODECLASS_API}`"
        ));
    }
    if kind == "IngressClassParams" && api.starts_with("eks.amazonaws.com/") {
        return Some(format!(
            "`{api}` IngressClassParams is not served by EKS Auto Mode; use `{EKS_NODECLASS_API}`"
        ));
    }
    if api == KARPENTER_API || api == EKS_NODECLASS_API {
        let owned: &[&str] = if api == KARPENTER_API {
            &["NodePool"]
        } else {
            &["NodeClass", "IngressClassParams"]
        };
        if let Some(s) = suggest(kind, owned.iter().copied()) {
            return Some(format!(
                "unknown kind `{kind}` in `{api}`; did you mean `{s}`?"
            ));
        }
    }
    None
}

fn doc_name(root: &Node) -> String {
    root.get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Node::as_str)
        .unwrap_or_default()
        .to_string()
}

fn to_typed(kind: Kind, json: serde_json::Value) -> Result<Typed, serde_json::Error> {
    use serde_json::from_value as v;
    Ok(match kind {
        Kind::Fleet => Typed::Fleet(v(json)?),
        Kind::Cluster => Typed::Cluster(v(json)?),
        Kind::Addon => Typed::Addon(v(json)?),
        Kind::NodeGroup => Typed::NodeGroup(v(json)?),
        Kind::FargateProfile => Typed::FargateProfile(v(json)?),
        Kind::AccessEntry => Typed::AccessEntry(v(json)?),
        Kind::PodIdentityAssociation => Typed::PodIdentityAssociation(v(json)?),
        Kind::NodePool => Typed::NodePool(v(json)?),
        Kind::NodeClass => Typed::NodeClass(v(json)?),
        Kind::IngressClassParams => Typed::IngressClassParams(v(json)?),
        Kind::IngressClass => Typed::IngressClass(v(json)?),
        Kind::StorageClass => Typed::StorageClass(v(json)?),
        // Not in `Kind::ALL`, so never looked up for a document.
        Kind::Manifest => return Err(serde::de::Error::custom("a manifest has no model type")),
    })
}

fn ancestors(dir: &str) -> impl Iterator<Item = &str> {
    let mut cur = Some(dir);
    std::iter::from_fn(move || {
        let d = cur?;
        cur = if d.is_empty() {
            None
        } else {
            Some(d.rfind('/').map_or("", |i| &d[..i]))
        };
        Some(d)
    })
}

fn assemble(docs: &[DocNode], classes: Vec<Class>, out: &mut Vec<Diagnostic>) -> Repo {
    let mut repo = Repo::default();
    // Clusters first: they decide where every other document belongs.
    let mut dir_owner: BTreeMap<&str, usize> = BTreeMap::new();
    let mut classes: Vec<Option<Class>> = classes.into_iter().map(Some).collect();
    // Directories whose Cluster document is invalid: their documents are not orphans,
    // and reporting each of them would bury the one error that matters.
    let mut broken_dirs: BTreeMap<&str, ()> = BTreeMap::new();
    for (i, class) in classes.iter_mut().enumerate() {
        if let Some(Class::Invalid(Some((Kind::Cluster, _)))) = class {
            broken_dirs.insert(&docs[i].rel_dir, ());
        }
        if let Some(Class::Typed(Typed::Cluster(_))) = class {
            let Some(Class::Typed(Typed::Cluster(c))) = class.take() else {
                continue;
            };
            let d = &docs[i];
            if let Some(&first) = dir_owner.get(d.rel_dir.as_str()) {
                out.push(Diagnostic::new(
                    &d.origin.file,
                    d.pos(),
                    Rule::ClusterDirConflict,
                    format!(
                        "a second Cluster document in directory `{}` (the first, `{}`, is at {}:{}); give each cluster its own directory",
                        display_dir(&d.rel_dir),
                        repo.clusters[first].name(),
                        repo.clusters[first].cluster.origin.file,
                        repo.clusters[first].cluster.origin.line
                    ),
                ));
                continue;
            }
            dir_owner.insert(&d.rel_dir, repo.clusters.len());
            repo.clusters.push(ClusterConfig {
                dir: d.rel_dir.clone(),
                cluster: Item {
                    origin: d.origin.clone(),
                    doc: i,
                    value: c,
                },
                addons: Vec::new(),
                node_groups: Vec::new(),
                fargate_profiles: Vec::new(),
                access_entries: Vec::new(),
                pod_identities: Vec::new(),
                node_classes: Vec::new(),
                node_pools: Vec::new(),
                ingress_class_params: Vec::new(),
                ingress_classes: Vec::new(),
                storage_classes: Vec::new(),
                manifests: Vec::new(),
                bootstrap: Vec::new(),
                broken: Vec::new(),
            });
        }
    }
    for (i, class) in classes.into_iter().enumerate() {
        let Some(class) = class else { continue };
        let d = &docs[i];
        let mut owner = None;
        let mut owner_broken = false;
        for a in ancestors(&d.rel_dir) {
            if let Some(&o) = dir_owner.get(a) {
                owner = Some(o);
                break;
            }
            if broken_dirs.contains_key(a) {
                owner_broken = true;
                break;
            }
        }
        let item = |doc| (d.origin.clone(), i, doc);
        match class {
            Class::Invalid(Some((kind, name))) => {
                if let Some(o) = owner {
                    repo.clusters[o].broken.push((kind, name));
                }
            }
            Class::Invalid(None) => {}
            Class::Manifest(m, object) => match owner {
                Some(o) => {
                    let c = &mut repo.clusters[o];
                    if let Some(value) =
                        object.filter(|_| super::bootstrap::is_bootstrap_of(&c.dir, &d.rel_dir))
                    {
                        c.bootstrap.push(Item {
                            origin: d.origin.clone(),
                            doc: i,
                            value,
                        });
                    }
                    c.manifests.push(m);
                }
                None => repo.unowned_manifests.push(m),
            },
            Class::Typed(Typed::Fleet(f)) => {
                if let Some(first) = &repo.fleet {
                    out.push(Diagnostic::new(
                        &d.origin.file,
                        d.pos(),
                        Rule::FleetDuplicate,
                        format!(
                            "a second Fleet document (the first is at {}:{}); a repository has one Fleet",
                            first.origin.file, first.origin.line
                        ),
                    ));
                } else {
                    repo.fleet = Some(Item {
                        origin: d.origin.clone(),
                        doc: i,
                        value: f,
                    });
                }
            }
            Class::Typed(Typed::Cluster(_)) => {}
            Class::Typed(_) if owner_broken => {}
            Class::Typed(t) => {
                let Some(o) = owner else {
                    let kind = match &t {
                        Typed::Addon(_) => "Addon",
                        Typed::NodeGroup(_) => "NodeGroup",
                        Typed::FargateProfile(_) => "FargateProfile",
                        Typed::AccessEntry(_) => "AccessEntry",
                        Typed::PodIdentityAssociation(_) => "PodIdentityAssociation",
                        Typed::NodePool(_) => "NodePool",
                        Typed::NodeClass(_) => "NodeClass",
                        Typed::IngressClassParams(_) => "IngressClassParams",
                        Typed::IngressClass(_) => "IngressClass",
                        Typed::StorageClass(_) => "StorageClass",
                        Typed::Fleet(_) | Typed::Cluster(_) => "document",
                    };
                    out.push(Diagnostic::new(
                        &d.origin.file,
                        d.pos(),
                        Rule::OrphanDocument,
                        format!(
                            "this {kind} belongs to no cluster: put it in the directory of a Cluster document or below it"
                        ),
                    ));
                    continue;
                };
                let c = &mut repo.clusters[o];
                // One Item per document, moved into its cluster's list for the kind.
                fn put<T>(list: &mut Vec<Item<T>>, origin: Origin, doc: usize, value: T) {
                    list.push(Item { origin, doc, value });
                }
                let (origin, doc, _) = item(());
                match t {
                    Typed::Addon(v) => put(&mut c.addons, origin, doc, v),
                    Typed::NodeGroup(v) => put(&mut c.node_groups, origin, doc, v),
                    Typed::FargateProfile(v) => put(&mut c.fargate_profiles, origin, doc, v),
                    Typed::AccessEntry(v) => put(&mut c.access_entries, origin, doc, v),
                    Typed::PodIdentityAssociation(v) => put(&mut c.pod_identities, origin, doc, v),
                    Typed::NodePool(v) => put(&mut c.node_pools, origin, doc, v),
                    Typed::NodeClass(v) => put(&mut c.node_classes, origin, doc, v),
                    Typed::IngressClassParams(v) => {
                        put(&mut c.ingress_class_params, origin, doc, v)
                    }
                    Typed::IngressClass(v) => put(&mut c.ingress_classes, origin, doc, v),
                    Typed::StorageClass(v) => put(&mut c.storage_classes, origin, doc, v),
                    Typed::Fleet(_) | Typed::Cluster(_) => {}
                }
            }
        }
    }
    repo.clusters.sort_by(|a, b| a.name().cmp(b.name()));
    repo
}

fn display_dir(dir: &str) -> &str {
    if dir.is_empty() {
        "."
    } else {
        dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_walk_up_to_the_root() {
        let a: Vec<&str> = ancestors("a/b/c").collect();
        assert_eq!(a, vec!["a/b/c", "a/b", "a", ""]);
        let a: Vec<&str> = ancestors("").collect();
        assert_eq!(a, vec![""]);
    }
}
