//! Finding the Kubernetes objects in a file: apiVersion, kind, name, namespace and where.
//!
//! ```text
//!  bytes ─► UTF-8 check, BOM ─► lines ─► documents (split at `---`)
//!                                           │
//!              ordinary block-style document ├─► fast path: top-level and metadata lines only
//!   anything unusual (flow, JSON, List, tags, ├─► full parse of that document (config::yaml)
//!        anchors, tabs, templates, quotes…)  │
//!                                           ▼
//!                  Object { apiVersion, kind, name, namespace, line, document, item }
//!                  ScanError { line, column, document, rule, message }
//! ```
//!
//! The fast path reads a document line by line and looks only at what it needs: keys at
//! column 0, the keys directly under `metadata:`, and enough of every other line to be
//! sure that line cannot change their meaning (no multi-line flow collection or quoted
//! string, no tag, anchor or alias, no tab, no merge key; block scalars are skipped by
//! their indentation). When a line is anything it does not fully understand, the whole
//! document goes to `crate::config::yaml::parse` instead, so both paths always agree
//! (tests hold them to it). It does not check the YAML of lines it skips: a syntax error
//! deep inside a block-style `spec` goes unnoticed here (`keelson validate` reports it).
//!
//! Documents are split at `---` lines, which end a document wherever they stand (even
//! inside a block scalar), so a broken document is reported on its own and the others are
//! still read. Only a file with `...` end markers, `%` directives or bare carriage returns
//! as line breaks is parsed as a whole.

use std::borrow::Cow;

use crate::config::yaml::{self, Limits, Node, Seg, Value, YamlErrorKind};

mod fast;
mod lex;

use fast::Scanner;

/// One Kubernetes object found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object<'a> {
    /// `apiVersion`.
    pub api_version: Cow<'a, str>,
    /// `kind`.
    pub kind: Cow<'a, str>,
    /// `metadata.name`, when it is a string.
    pub name: Option<Cow<'a, str>>,
    /// `metadata.namespace`, when it is a string.
    pub namespace: Option<Cow<'a, str>>,
    /// Line of the `apiVersion` key, from 1.
    pub line: u32,
    /// Column of the `apiVersion` key, from 1.
    pub column: u32,
    /// Index of the document in the file, from 0.
    pub document: usize,
    /// Index in the `items` of a `List` (or of a top-level sequence, such as a JSON
    /// array); `None` for a document's own object.
    pub item: Option<usize>,
    /// The template that rendered the document, from a `# Source: PATH` comment as
    /// `helm template` writes them.
    pub template: Option<Cow<'a, str>>,
    /// `data.release` of a Helm release record (a Secret or ConfigMap named
    /// `sh.helm.release.v1.*`).
    pub helm_record: Option<HelmRecord>,
}

/// The payload of a Helm release record found among the objects of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelmRecord {
    /// Which Helm storage driver wrote it.
    pub driver: super::helm::Driver,
    /// `data.release` as written in the object.
    pub data: String,
}

/// A document (or file) that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanError {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
    /// The document, when known.
    pub document: Option<usize>,
    /// What kind of problem: `file-encoding`, `yaml-syntax`, `yaml-limit`,
    /// `yaml-duplicate-key`, `yaml-unsupported` or `unrendered-template`.
    pub rule: &'static str,
    /// What is wrong.
    pub message: String,
}

/// Everything found in one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan<'a> {
    /// The objects, in file order.
    pub objects: Vec<Object<'a>>,
    /// Documents that could not be read.
    pub errors: Vec<ScanError>,
    /// Documents in the file (empty ones included).
    pub documents: usize,
    /// Documents that went to the full parser.
    pub full_parses: usize,
}

const HELM_RECORD_PREFIX: &str = "sh.helm.release.v1.";
/// Deeper flow nesting, or deeper indentation, than real manifests have: left to the full
/// parser, whose limits then apply.
const MAX_FLOW_DEPTH: usize = 64;
const MAX_INDENT: usize = 256;
const TEMPLATE_HINT: &str =
    "; this looks like an unrendered template (`{{ }}`): scan the output of `helm template` instead";

/// Find every object in a file, taking the fast path where it can.
pub fn scan(bytes: &[u8]) -> Scan<'_> {
    let text = match decode(bytes) {
        Ok(t) => t,
        Err(e) => return Scan::failed(e),
    };
    if has_bare_cr(text) {
        return full(text);
    }
    let mut s = Scanner::new(text);
    s.run();
    if s.whole_file {
        return full(text);
    }
    s.out
}

/// Find every object in a file with the full parser only (what the fast path must agree
/// with; also the path for files the fast path does not split).
pub fn scan_full(bytes: &[u8]) -> Scan<'_> {
    match decode(bytes) {
        Ok(t) => full(t),
        Err(e) => Scan::failed(e),
    }
}

impl Scan<'_> {
    fn failed(e: ScanError) -> Self {
        Scan {
            errors: vec![e],
            ..Scan::default()
        }
    }
}

/// The text of a file: UTF-8, without a byte-order mark.
fn decode(bytes: &[u8]) -> Result<&str, ScanError> {
    match std::str::from_utf8(bytes) {
        Ok(t) => Ok(t.strip_prefix('\u{feff}').unwrap_or(t)),
        Err(e) => {
            let at = e.valid_up_to();
            let before = &bytes[..at];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let line_start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
            let column = String::from_utf8_lossy(&before[line_start..])
                .chars()
                .count()
                + 1;
            let utf16 = bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]);
            Err(ScanError {
                line: u32::try_from(line).unwrap_or(u32::MAX),
                column: u32::try_from(column).unwrap_or(u32::MAX),
                document: None,
                rule: "file-encoding",
                message: if utf16 {
                    "the file is UTF-16, not UTF-8; save it as UTF-8".to_string()
                } else {
                    format!("the file is not valid UTF-8 (byte 0x{:02x})", bytes[at])
                },
            })
        }
    }
}

/// A carriage return not followed by a line feed is a line break to YAML but not to the
/// line splitter, so such files are parsed whole.
fn has_bare_cr(text: &str) -> bool {
    let b = text.as_bytes();
    if !b.contains(&b'\r') {
        return false;
    }
    b.iter()
        .enumerate()
        .any(|(i, &c)| c == b'\r' && b.get(i + 1) != Some(&b'\n'))
}

/// The whole text through the full parser.
fn full(text: &str) -> Scan<'_> {
    let mut out = Scan::default();
    match yaml::parse(text, Limits::default()) {
        Ok(docs) => {
            out.documents = docs.len();
            out.full_parses = docs.len();
            for d in &docs {
                objects_of(&d.root, d.index, 0, None, &mut out.objects);
            }
        }
        Err(e) => out.errors.push(parse_error(&e, 0, None, text)),
    }
    out
}

fn parse_error(
    e: &yaml::YamlError,
    line_offset: u32,
    document: Option<usize>,
    text: &str,
) -> ScanError {
    let template = text.contains("{{");
    ScanError {
        line: e.pos.line.saturating_add(line_offset),
        column: e.pos.col,
        document,
        rule: if template {
            "unrendered-template"
        } else {
            match e.kind {
                YamlErrorKind::Syntax => "yaml-syntax",
                YamlErrorKind::Limit => "yaml-limit",
                YamlErrorKind::DuplicateKey => "yaml-duplicate-key",
                YamlErrorKind::Unsupported => "yaml-unsupported",
            }
        },
        message: if template {
            format!("{}{TEMPLATE_HINT}", e.message)
        } else {
            e.message.clone()
        },
    }
}

/// The objects of a parsed document: the root mapping, the items of a `*List`, and the
/// mappings of a top-level sequence (a JSON array of objects).
fn objects_of<'a>(
    root: &Node,
    document: usize,
    line_offset: u32,
    template: Option<&'a str>,
    out: &mut Vec<Object<'a>>,
) {
    let mut stack: Vec<(&Node, Option<usize>)> = Vec::new();
    match &root.value {
        Value::Seq(items) => {
            stack.extend(items.iter().enumerate().rev().map(|(i, n)| (n, Some(i))))
        }
        _ => stack.push((root, None)),
    }
    let api_key = [Seg::Key("apiVersion".to_string())];
    while let Some((node, item)) = stack.pop() {
        let api = node.get("apiVersion").and_then(Node::as_str);
        let kind = node.get("kind").and_then(Node::as_str);
        if let (Some(api), Some(kind)) = (api, kind) {
            // An apiVersion merged in with `<<: *anchor` sits at the anchor, before this
            // object: report the object where it is written, not its template.
            let pos = Some(node.pos_at(&api_key, true))
                .filter(|p| (p.line, p.col) >= (node.pos.line, node.pos.col))
                .unwrap_or(node.pos);
            let meta = node.get("metadata");
            let field = |k: &str| {
                meta.and_then(|m| m.get(k))
                    .and_then(Node::as_str)
                    .map(|s| Cow::Owned(s.to_string()))
            };
            let name = field("name");
            let helm_record = helm_record(node, kind, name.as_deref());
            out.push(Object {
                api_version: Cow::Owned(api.to_string()),
                kind: Cow::Owned(kind.to_string()),
                name,
                namespace: field("namespace"),
                line: pos.line.saturating_add(line_offset),
                column: pos.col,
                document,
                item,
                template: template.map(Cow::Borrowed),
                helm_record,
            });
        }
        if kind.is_some_and(|k| k.ends_with("List")) {
            if let Some(Node {
                value: Value::Seq(items),
                ..
            }) = node.get("items")
            {
                stack.extend(items.iter().enumerate().rev().map(|(i, n)| (n, Some(i))));
            }
        }
    }
}

fn helm_record(node: &Node, kind: &str, name: Option<&str>) -> Option<HelmRecord> {
    use super::helm::Driver;
    let driver = match kind {
        "Secret" => Driver::Secret,
        "ConfigMap" => Driver::ConfigMap,
        _ => return None,
    };
    if !name?.starts_with(HELM_RECORD_PREFIX) {
        return None;
    }
    let data = node.get("data")?.get("release")?.as_str()?;
    Some(HelmRecord {
        driver,
        data: data.to_string(),
    })
}
#[cfg(test)]
mod tests {
    use super::*;

    fn fast(text: &str) -> Scan<'_> {
        scan(text.as_bytes())
    }

    #[test]
    fn a_plain_deployment_takes_the_fast_path() {
        let s = fast(
            "# header\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: prod\n  labels:\n    app: web\nspec:\n  replicas: 2\n",
        );
        assert_eq!(s.full_parses, 0);
        assert_eq!(s.documents, 1);
        let o = &s.objects[0];
        assert_eq!(
            (o.api_version.as_ref(), o.kind.as_ref(), o.line, o.column),
            ("apps/v1", "Deployment", 2, 1)
        );
        assert_eq!(o.name.as_deref(), Some("web"));
        assert_eq!(o.namespace.as_deref(), Some("prod"));
    }

    #[test]
    fn unusual_lines_go_to_the_full_parser() {
        for text in [
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: &n x\n",
            "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: [1,\n    2]\n",
            "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: !!str 1\n",
            "apiVersion: v1\nkind: ConfigMap\ndata:\n\ta: 1\n",
            "apiVersion: v1\nkind: List\nitems: []\n",
            "{\"apiVersion\": \"v1\", \"kind\": \"List\"}\n",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"a\\tb\"\n",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n    y\n",
        ] {
            assert_eq!(fast(text).full_parses, 1, "{text}");
        }
    }

    #[test]
    fn block_scalars_are_skipped_by_indentation() {
        let s = fast(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  nginx.conf: |\n    server { listen 80;\n    kind: Fake\n  other: >-\n    it's [not flow\n",
        );
        assert_eq!(s.full_parses, 0);
        assert_eq!(s.objects.len(), 1);
        assert_eq!(s.objects[0].kind, "ConfigMap");
    }

    #[test]
    fn zero_indented_sequences_are_entries_not_keys() {
        let s = fast(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: rb\n  finalizers:\n  - a\nsubjects:\n- kind: ServiceAccount\n  name: sa\nroleRef:\n  kind: Role\n  name: r\n",
        );
        assert_eq!(s.full_parses, 0);
        assert_eq!(s.objects[0].kind, "RoleBinding");
        assert_eq!(s.objects[0].name.as_deref(), Some("rb"));
    }

    /// What both paths must agree on: documents, objects, error lines.
    type Key = (usize, Vec<String>, Vec<(u32, Option<usize>)>);

    fn key(s: &Scan<'_>) -> Key {
        let objects = s
            .objects
            .iter()
            .map(|o| {
                format!(
                    "{}|{}|{:?}|{:?}|{}:{}|doc {}|item {:?}",
                    o.api_version,
                    o.kind,
                    o.name,
                    o.namespace,
                    o.line,
                    o.column,
                    o.document,
                    o.item
                )
            })
            .collect();
        let errors = s.errors.iter().map(|e| (e.line, e.document)).collect();
        (s.documents, objects, errors)
    }

    pub(crate) const AGREEMENT_FIXTURES: &[&str] = &[
        "apiVersion: v1\nkind: A\n",
        "a: 1\n---\n---\nb: 2\n",
        "# c\n---\napiVersion: v1\nkind: A\n",
        "---\napiVersion: v1\nkind: A\n---\n",
        "apiVersion: v1\nkind: A\n---\n# only a comment\n---\napiVersion: v1\nkind: B\n",
        "\n\n---\n\n",
        "",
        "# nothing\n",
        "--- # comment\napiVersion: v1\nkind: A\nmetadata:\n  name: a\n",
        "apiVersion: v1\r\nkind: A\r\nmetadata:\r\n  name: crlf\r\n",
        "\u{feff}apiVersion: v1\nkind: A\n",
        "kind: A\n",
        "apiVersion: v1\nkind: A\nmetadata:\n  name: 'it''s'\n  namespace: \"ns\"\n",
        "apiVersion: v1\nkind: A\nmetadata:\n  annotations:\n    a: |\n      name: fake\n  name: real\n",
        "apiVersion: v1\nkind: A\nmetadata:\n    name: deep\n    labels: {a: b}\n",
        "apiVersion: v1\nkind: A\nmetadata:\nname: top\n",
        "apiVersion: v1\nkind: A\nmetadata:\n  name: 007\n",
        "apiVersion: v1\nkind: A\nmetadata:\n  name: true\n",
        "apiVersion: v1\nkind: A\nmetadata: {name: flow, namespace: ns}\n",
        "{\"apiVersion\": \"v1\", \"kind\": \"A\", \"metadata\": {\"name\": \"j\"}}\n",
        "[{\"apiVersion\": \"v1\", \"kind\": \"A\"}, {\"apiVersion\": \"v1\", \"kind\": \"B\"}]\n",
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: extensions/v1beta1\n  kind: Ingress\n  metadata:\n    name: i\n- apiVersion: v1\n  kind: DeploymentList\n  items:\n  - apiVersion: apps/v1beta1\n    kind: Deployment\n",
        "base: &b\n  apiVersion: v1\nthing:\n  <<: *b\n",
        "<<: {apiVersion: v1, kind: Merged}\n",
        "apiVersion: v1\nkind: A\nspec:\n  x: !Ref y\n",
        "apiVersion: v1\nkind: A\nmetadata:\n  name: {{ .Release.Name }}\n",
        "{{- if .Values.enabled }}\napiVersion: v1\nkind: A\n{{- end }}\n",
        "apiVersion: v1\nkind: A\napiVersion: v2\n",
        "apiVersion: v1\nkind: A\nmetadata:\n  name: a\n  name: b\n",
        "apiVersion: v1\nkind: A\nrules:\n- apiGroups: [\"\"]\n  resources: [\"*\"]\n  verbs: [get, list]\nsubjects:\n- kind: User\n  name: u\n",
        "apiVersion: v1\nkind: A\ndata:\n  script: |-\n    #!/bin/sh\n    echo \"{\"\n\n    exit 0\n  other: x\n",
        "apiVersion: v1\nkind: A\nspec:\n  description: a long\n    text: with colon\n",
        "apiVersion: v1\nkind: A\n...\n---\napiVersion: v1\nkind: B\n",
        "%YAML 1.2\n---\napiVersion: v1\nkind: A\n",
        "apiVersion: v1\rkind: A\r",
        "--- |\n  apiVersion: v1\n",
        "--- !!map\napiVersion: v1\nkind: A\n",
        "apiVersion: v1\nkind: A\nmetadata:\n  name: x # trailing\n  namespace: y   \n",
        "apiVersion: v1\nkind: A\nmetadata:\n  name: a\nspec:\n  containers:\n  - name: c\n    args: [\"--a\", \"--b=1\"]\n    env:\n    - {name: X, value: \"1\"}\n",
        "apiVersion: v1\nkind: A\nmetadata:\n  name: a\nspec:\n  x: [1,\n2]\n",
        "apiVersion: v1\nkind: A\nmetadata:\n  name: a\nspec:\n  x: \"multi\n  line\"\n",
        "apiVersion: v1\nkind: A\nkey with spaces: 1\nkind : B\n",
        "apiVersion: \"v1\"\nkind: 'A'\nmetadata:\n  name: \"\"\n",
        "apiVersion: v1\nkind: A\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: sh.helm.release.v1.x.v1\ndata:\n  release: abc\n",
        "apiVersion: v1\nkind: A\nmetadata:\n  name: a\nstringData:\n  k: \"tab\there\"\n",
        "apiVersion: v1\nkind: A\nmetadata:\n  finalizers:\n  - x\n  name: n\n",
        "apiVersion: v1\nkind: A\nmetadata:\n- x\n",
        "- a\n- b\n",
        "just a scalar\n",
        "apiVersion: v1\nkind: A\nmetadata:\n  name: a\n  labels:\n    app.kubernetes.io/name: \"x\"\n    'quoted key': y\n",
        "apiVersion: v1\nkind: A\nmetadata:\n  name: café-ü\n",
        "apiVersion: v1\nkind: A\nmetadata:\n  name: a\n  annotations:\n    x: >\n      folded\n      text\n    y: z\n",
        "   apiVersion: v1\n   kind: A\n",
        "x-base: &b\n  apiVersion: extensions/v1beta1\n  kind: Ingress\n<<: *b\nmetadata:\n  name: a\n",
        "apiVersion: v1\nkind: List\nitems:\n  - &i\n    apiVersion: extensions/v1beta1\n    kind: Ingress\n  - <<: *i\n    metadata: {name: b}\n",
    ];

    #[test]
    fn an_object_built_with_a_merge_key_is_reported_where_it_is_written() {
        // Regression: the second Ingress was reported at line 5, the anchor's apiVersion.
        let text = "apiVersion: v1\nkind: List\nitems:\n  - &ing\n    apiVersion: extensions/v1beta1\n    kind: Ingress\n    metadata: {name: one}\n  - <<: *ing\n    metadata: {name: two}\n  - metadata: {name: three}\n    <<: *ing\n";
        for s in [scan(text.as_bytes()), scan_full(text.as_bytes())] {
            let at: Vec<(Option<&str>, u32, u32)> = s
                .objects
                .iter()
                .filter(|o| o.kind == "Ingress")
                .map(|o| (o.name.as_deref(), o.line, o.column))
                .collect();
            assert_eq!(
                at,
                vec![
                    (Some("one"), 5, 5),
                    (Some("two"), 8, 5),
                    (Some("three"), 10, 5)
                ]
            );
        }
    }

    #[test]
    fn fast_path_and_full_parser_agree() {
        for text in AGREEMENT_FIXTURES {
            let fast = scan(text.as_bytes());
            let full = scan_full(text.as_bytes());
            if full.errors.is_empty() {
                assert_eq!(key(&fast), key(&full), "{text:?}");
            } else {
                assert!(!fast.errors.is_empty(), "{text:?}: {:?}", full.errors);
            }
        }
    }

    #[test]
    fn non_utf8_is_an_error_with_a_position() {
        let s = scan(b"apiVersion: v1\nkind: \xff\n");
        assert_eq!(s.errors.len(), 1);
        assert_eq!((s.errors[0].line, s.errors[0].column), (2, 7));
        assert_eq!(s.errors[0].rule, "file-encoding");
    }
}
