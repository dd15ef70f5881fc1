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
//! document goes to [`crate::config::yaml::parse`] instead, so both paths always agree
//! (tests hold them to it). It does not check the YAML of lines it skips: a syntax error
//! deep inside a block-style `spec` goes unnoticed here (`keelson validate` reports it).
//!
//! Documents are split at `---` lines, which end a document wherever they stand (even
//! inside a block scalar), so a broken document is reported on its own and the others are
//! still read. Only a file with `...` end markers, `%` directives or bare carriage returns
//! as line breaks is parsed as a whole.

use std::borrow::Cow;

use crate::config::yaml::{self, Limits, Node, Seg, Value, YamlErrorKind};

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
            let pos = node.pos_at(&api_key, true);
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

// ── the fast path ──────────────────────────────────────────────────────────────────────

/// The fast path's view of the document being read.
#[derive(Debug, Default)]
struct Doc<'a> {
    /// Byte offset where the document starts (its `---` line, or the file's start).
    start: usize,
    /// Line number of `start`.
    first_line: u32,
    index: usize,
    /// Started by `---`, so it counts even when empty.
    explicit: bool,
    /// Holds something other than blank lines and comments.
    content: bool,
    /// Goes to the full parser.
    bail: bool,
    api: Option<(Cow<'a, str>, u32)>,
    kind: Option<Cow<'a, str>>,
    name: Option<Cow<'a, str>>,
    namespace: Option<Cow<'a, str>>,
    template: Option<&'a str>,
    /// Inside the block under `metadata:`.
    in_meta: bool,
    /// Indentation of the keys under `metadata:`, once seen.
    meta_indent: Option<usize>,
    /// The last key at this level had no value on its line, so a `- ` entry at the same
    /// indentation belongs to it.
    open_top: bool,
    open_meta: bool,
    /// Inside a block scalar whose owner has this indentation.
    block: Option<usize>,
    /// A value ended at this indentation on the last content line; a deeper line next
    /// would continue it or be an error, either way for the full parser to read.
    cont: Option<usize>,
    top_keys: Vec<&'a str>,
    meta_keys: Vec<&'a str>,
}

struct Scanner<'a> {
    text: &'a str,
    doc: Doc<'a>,
    next_index: usize,
    whole_file: bool,
    out: Scan<'a>,
}

/// What a line means for the fast path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lex {
    /// Nothing to take into account (a blank line, a comment, block scalar content).
    Done,
    /// A value ended on this line; its owner has this indentation, and a deeper line
    /// next would continue it (a multi-line plain scalar) or be an error.
    Value(usize),
    /// Understood; the value is on the following lines (a nested block).
    Open,
    /// A block scalar starts; lines indented deeper than this are its content.
    Block(usize),
    /// Not understood: the document goes to the full parser.
    Bail,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Scanner {
            text,
            doc: Doc {
                first_line: 1,
                ..Doc::default()
            },
            next_index: 0,
            whole_file: false,
            out: Scan::default(),
        }
    }

    fn run(&mut self) {
        let text = self.text;
        let bytes = text.as_bytes();
        let mut pos = 0;
        let mut number: u32 = 0;
        while pos < bytes.len() && !self.whole_file {
            number = number.saturating_add(1);
            let end = bytes[pos..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len(), |p| pos + p);
            let mut line = text.get(pos..end).unwrap_or("");
            if let Some(l) = line.strip_suffix('\r') {
                line = l;
            }
            self.line(line, pos, number);
            pos = end + 1;
        }
        let len = bytes.len();
        self.end_doc(len);
    }

    fn line(&mut self, line: &'a str, start: usize, number: u32) {
        let b = line.as_bytes();
        match b.first() {
            Some(b'-') if is_marker(b, b'-') => {
                self.end_doc(start);
                let doc = &mut self.doc;
                doc.start = start;
                doc.first_line = number;
                doc.index = self.next_index;
                doc.explicit = true;
                let rest = b[3..].trim_ascii_start();
                if !(rest.is_empty() || rest[0] == b'#') {
                    // A document whose root starts on the marker line (`--- |`, `--- {…}`).
                    doc.content = true;
                    doc.bail = true;
                }
                return;
            }
            Some(b'.') if is_marker(b, b'.') => {
                self.whole_file = true;
                return;
            }
            Some(b'%') => {
                self.whole_file = true;
                return;
            }
            Some(b'#') if self.doc.template.is_none() => {
                if let Some(t) = line.strip_prefix("# Source: ") {
                    self.doc.template = Some(t.trim());
                }
            }
            _ => {}
        }
        if self.doc.bail {
            return;
        }
        let result = self.fast_line(line, number);
        if result == Lex::Bail {
            self.doc.bail = true;
            self.doc.content = true;
        }
    }

    /// One line of an ordinary document.
    fn fast_line(&mut self, line: &'a str, number: u32) -> Lex {
        let b = line.as_bytes();
        let indent = b.iter().take_while(|&&c| c == b' ').count();
        let rest = &b[indent..];
        let doc = &mut self.doc;
        if rest.iter().all(|&c| c == b' ' || c == b'\t') {
            return Lex::Done; // blank
        }
        if let Some(owner) = doc.block {
            if indent > owner {
                return Lex::Done; // block scalar content
            }
            doc.block = None;
        }
        if indent > MAX_INDENT {
            return Lex::Bail;
        }
        match rest[0] {
            b'#' => return Lex::Done,
            // Tabs, and a byte-order mark opening a later document.
            b'\t' | 0xef => return Lex::Bail,
            _ => {}
        }
        if !doc.content && indent > 0 {
            return Lex::Bail; // the root itself is indented
        }
        doc.content = true;
        if let Some(k) = doc.cont.take() {
            if indent > k {
                return Lex::Bail; // a multi-line plain scalar, or broken indentation
            }
        }
        let result = if indent == 0 {
            self.top_line(line, number)
        } else if self.doc.in_meta {
            self.meta_line(line, indent)
        } else {
            lex(b, indent, indent, true)
        };
        match result {
            Lex::Block(owner) => self.doc.block = Some(owner),
            Lex::Value(owner) => self.doc.cont = Some(owner),
            Lex::Done | Lex::Open | Lex::Bail => {}
        }
        result
    }

    /// A line at column 0: a key of the document's root mapping, or a `- ` entry of the
    /// last key's sequence.
    fn top_line(&mut self, line: &'a str, number: u32) -> Lex {
        let b = line.as_bytes();
        let doc = &mut self.doc;
        if is_entry(b, 0) {
            return if doc.open_top && !doc.in_meta {
                lex(b, 0, 0, true)
            } else {
                Lex::Bail
            };
        }
        doc.in_meta = false;
        doc.open_top = false;
        let Some((key, value)) = plain_key(line, 0) else {
            return Lex::Bail;
        };
        if doc.top_keys.contains(&key) {
            return Lex::Bail; // the full parser reports the duplicate
        }
        doc.top_keys.push(key);
        match key {
            "apiVersion" | "kind" => {
                let Some(v) = scalar(line, value) else {
                    return Lex::Bail;
                };
                if key == "kind" {
                    doc.kind = Some(v);
                } else {
                    doc.api = Some((v, number));
                }
                Lex::Value(0)
            }
            "metadata" => {
                if !is_blank_or_comment(&b[value..]) {
                    return Lex::Bail; // flow-style or scalar metadata
                }
                doc.in_meta = true;
                doc.meta_indent = None;
                doc.open_meta = false;
                doc.meta_keys.clear();
                doc.open_top = true;
                Lex::Open
            }
            "items" | "<<" => Lex::Bail,
            _ => {
                let r = lex(b, value, 0, false);
                doc.open_top = r == Lex::Open;
                r
            }
        }
    }

    /// An indented line inside `metadata:`.
    fn meta_line(&mut self, line: &'a str, indent: usize) -> Lex {
        let b = line.as_bytes();
        let doc = &mut self.doc;
        let m = *doc.meta_indent.get_or_insert(indent);
        if indent > m {
            return lex(b, indent, indent, true);
        }
        if indent < m {
            return Lex::Bail;
        }
        if is_entry(b, indent) {
            return if doc.open_meta {
                lex(b, indent, indent, true)
            } else {
                Lex::Bail
            };
        }
        doc.open_meta = false;
        let Some((key, value)) = plain_key(line, indent) else {
            return Lex::Bail;
        };
        if doc.meta_keys.contains(&key) {
            return Lex::Bail;
        }
        doc.meta_keys.push(key);
        match key {
            "name" | "namespace" => {
                let Some(v) = scalar(line, value) else {
                    return Lex::Bail;
                };
                if key == "name" {
                    doc.name = Some(v);
                } else {
                    doc.namespace = Some(v);
                }
                Lex::Value(m)
            }
            "<<" => Lex::Bail,
            _ => {
                let r = lex(b, value, indent, false);
                doc.open_meta = r == Lex::Open;
                r
            }
        }
    }

    /// The document that started at `self.doc.start` ends at byte `end`; the next one
    /// (if any) starts there.
    fn end_doc(&mut self, end: usize) {
        let mut doc = std::mem::take(&mut self.doc);
        // Keep the key lists' allocations for the next document.
        let mut top_keys = std::mem::take(&mut doc.top_keys);
        let mut meta_keys = std::mem::take(&mut doc.meta_keys);
        top_keys.clear();
        meta_keys.clear();
        self.doc.top_keys = top_keys;
        self.doc.meta_keys = meta_keys;
        self.doc.start = end;
        self.doc.index = self.next_index;
        if !doc.explicit && !doc.content {
            // Comments or nothing before the first `---`: not a document.
            return;
        }
        self.next_index += 1;
        self.doc.index = self.next_index;
        self.out.documents += 1;
        let is_helm_record = matches!(doc.kind.as_deref(), Some("Secret" | "ConfigMap"))
            && doc
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with(HELM_RECORD_PREFIX));
        if doc.bail || is_helm_record {
            self.full_doc(&doc, end);
        } else if let (Some((api_version, line)), Some(kind)) = (doc.api, doc.kind) {
            self.out.objects.push(Object {
                api_version,
                kind,
                name: doc.name,
                namespace: doc.namespace,
                line,
                column: 1,
                document: doc.index,
                item: None,
                template: doc.template.map(Cow::Borrowed),
                helm_record: None,
            });
        }
    }

    /// One document through the full parser.
    fn full_doc(&mut self, doc: &Doc<'a>, end: usize) {
        self.out.full_parses += 1;
        let Some(slice) = self.text.get(doc.start..end) else {
            self.whole_file = true;
            return;
        };
        let offset = doc.first_line.saturating_sub(1);
        match yaml::parse(slice, Limits::default()) {
            Ok(docs) if docs.len() == 1 => {
                objects_of(
                    &docs[0].root,
                    doc.index,
                    offset,
                    doc.template,
                    &mut self.out.objects,
                );
            }
            // The split disagrees with the parser: read the file as a whole.
            Ok(_) => self.whole_file = true,
            Err(e) => self
                .out
                .errors
                .push(parse_error(&e, offset, Some(doc.index), slice)),
        }
    }
}

/// `---` or `...` followed by the end of the line or white space.
fn is_marker(b: &[u8], c: u8) -> bool {
    b.len() >= 3
        && b[0] == c
        && b[1] == c
        && b[2] == c
        && matches!(b.get(3), None | Some(b' ' | b'\t'))
}

fn is_blank_or_comment(b: &[u8]) -> bool {
    let t = b.trim_ascii_start();
    t.is_empty() || t[0] == b'#'
}

/// A block sequence entry (`- ` or a lone `-`) at `i`.
fn is_entry(b: &[u8], i: usize) -> bool {
    b.get(i) == Some(&b'-') && matches!(b.get(i + 1), None | Some(b' '))
}

/// Characters that cannot start a plain scalar (or that we leave to the full parser).
fn is_indicator(c: u8) -> bool {
    matches!(
        c,
        b'-' | b'?'
            | b':'
            | b','
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
            | b' '
            | b'\t'
    )
}

/// A plain mapping key starting at `i`: the key and where its value starts.
fn plain_key(line: &str, i: usize) -> Option<(&str, usize)> {
    let b = line.as_bytes();
    if is_indicator(*b.get(i)?) {
        return None;
    }
    let mut j = i;
    while j < b.len() {
        match b[j] {
            b':' if matches!(b.get(j + 1), None | Some(b' ')) => {
                let key = line.get(i..j)?.trim_end_matches(' ');
                let mut v = j + 1;
                while b.get(v) == Some(&b' ') {
                    v += 1;
                }
                return Some((key, v));
            }
            b'#' if b[j - 1] == b' ' => return None,
            b'\t' => return None,
            _ => j += 1,
        }
    }
    None
}

/// A one-line scalar value starting at `i` that the fast path keeps: plain, or quoted
/// without escapes to decode. `None` for anything else (the full parser decides).
fn scalar(line: &str, i: usize) -> Option<Cow<'_, str>> {
    let b = line.as_bytes();
    let (value, after) = match *b.get(i)? {
        b'"' => {
            let close = i + 1 + b[i + 1..].iter().position(|&c| c == b'"')?;
            if b[i + 1..close].contains(&b'\\') {
                return None;
            }
            (Cow::Borrowed(line.get(i + 1..close)?), close + 1)
        }
        b'\'' => {
            let mut j = i + 1;
            let mut escaped = false;
            loop {
                match b.get(j)? {
                    b'\'' if b.get(j + 1) == Some(&b'\'') => {
                        escaped = true;
                        j += 2;
                    }
                    b'\'' => break,
                    _ => j += 1,
                }
            }
            let raw = line.get(i + 1..j)?;
            let v = if escaped {
                Cow::Owned(raw.replace("''", "'"))
            } else {
                Cow::Borrowed(raw)
            };
            (v, j + 1)
        }
        c if is_indicator(c) => return None,
        _ => {
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b':' if matches!(b.get(j + 1), None | Some(b' ')) => return None,
                    b'#' if b[j - 1] == b' ' => break,
                    b'\t' => return None,
                    _ => j += 1,
                }
            }
            let v = line.get(i..j)?.trim_end_matches(' ');
            if resolves_to_non_string(v) {
                return None;
            }
            return Some(Cow::Borrowed(v));
        }
    };
    is_blank_or_comment_after(b, after).then_some(value)
}

/// After a quoted scalar: nothing, or white space and a comment.
fn is_blank_or_comment_after(b: &[u8], i: usize) -> bool {
    let rest = &b[i.min(b.len())..];
    let t = rest.trim_ascii_start();
    t.is_empty() || (t[0] == b'#' && t.len() < rest.len())
}

/// Whether the YAML 1.2 core schema reads a plain scalar as something other than a
/// string (null, boolean, number). Conservative: anything that might be a number is
/// left to the full parser.
fn resolves_to_non_string(v: &str) -> bool {
    matches!(
        v,
        "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
    ) || matches!(v.as_bytes().first(), Some(b'0'..=b'9' | b'+' | b'.' | b'~'))
}

/// Read the rest of a line from `i` (a node's first character) in block context, far
/// enough to know that the line cannot change what the fast path extracts. `owner` is the
/// indentation that owns a block scalar starting at `i`; `can_be_key` is false right after
/// a `key: ` (where a second key is an error).
fn lex(b: &[u8], mut i: usize, mut owner: usize, mut can_be_key: bool) -> Lex {
    let n = b.len();
    if i >= n {
        return Lex::Open;
    }
    loop {
        match b[i] {
            b'-' if matches!(b.get(i + 1), None | Some(b' ')) => {
                if !can_be_key {
                    return Lex::Bail;
                }
                owner = i;
                i = skip_spaces(b, i + 1);
                if i == n {
                    return Lex::Open;
                }
            }
            // A comment where a node would start: the node is on the following lines.
            b'#' => return Lex::Open,
            b'|' | b'>' => return block_header(b, i + 1, owner),
            b'!' | b'&' | b'*' | b'%' | b'@' | b'`' | b'\t' => return Lex::Bail,
            b'?' | b':' if matches!(b.get(i + 1), None | Some(b' ')) => return Lex::Bail,
            b'"' | b'\'' => {
                let Some(end) = quoted_end(b, i) else {
                    return Lex::Bail;
                };
                match after_node(b, end) {
                    After::End => return Lex::Value(owner),
                    After::Key(v) if can_be_key => {
                        owner = i;
                        can_be_key = false;
                        i = v;
                        if i == n {
                            return Lex::Open;
                        }
                    }
                    _ => return Lex::Bail,
                }
            }
            b'[' | b'{' => {
                let Some(end) = flow_end(b, i) else {
                    return Lex::Bail;
                };
                return match after_node(b, end) {
                    After::End => Lex::Value(owner),
                    _ => Lex::Bail, // a flow collection as a key
                };
            }
            _ => {
                // A plain scalar: a key if `: ` follows, else a value to the end of line.
                let start = i;
                let mut j = i;
                loop {
                    if j == n {
                        return Lex::Value(owner);
                    }
                    match b[j] {
                        b':' if matches!(b.get(j + 1), None | Some(b' ')) => {
                            if !can_be_key {
                                return Lex::Bail;
                            }
                            owner = start;
                            can_be_key = false;
                            i = skip_spaces(b, j + 1);
                            if i == n {
                                return Lex::Open;
                            }
                            break;
                        }
                        b'#' if b[j - 1] == b' ' => return Lex::Value(owner),
                        b'\t' => return Lex::Bail,
                        _ => j += 1,
                    }
                }
            }
        }
    }
}

fn skip_spaces(b: &[u8], mut i: usize) -> usize {
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    i
}

/// After `|` or `>`: an optional chomping indicator, then nothing or a comment. An
/// explicit indentation indicator is left to the full parser.
fn block_header(b: &[u8], mut i: usize, owner: usize) -> Lex {
    if matches!(b.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    if is_blank_or_comment_after(b, i) {
        Lex::Block(owner)
    } else {
        Lex::Bail
    }
}

/// The byte after the closing quote of a quoted scalar starting at `i`, when it closes on
/// this line.
fn quoted_end(b: &[u8], i: usize) -> Option<usize> {
    let q = b[i];
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' if q == b'"' => j += 2,
            c if c == q => {
                if q == b'\'' && b.get(j + 1) == Some(&b'\'') {
                    j += 2;
                } else {
                    return Some(j + 1);
                }
            }
            _ => j += 1,
        }
    }
    None
}

/// The byte after a flow collection starting at `i`, when it closes on this line and
/// holds nothing the fast path leaves to the full parser (tags, anchors, aliases,
/// collections as keys, comments).
fn flow_end(b: &[u8], i: usize) -> Option<usize> {
    let mut stack: Vec<u8> = Vec::with_capacity(4);
    let mut j = i;
    // At the start of a node (after an opening bracket, a comma or `: `).
    let mut node_start = true;
    // At a key position of a mapping (after `{` or a comma inside `{…}`).
    let mut key_pos = false;
    while j < b.len() {
        let c = b[j];
        match c {
            b' ' => {
                j += 1;
                continue;
            }
            b'[' | b'{' => {
                if key_pos || stack.len() >= MAX_FLOW_DEPTH {
                    return None;
                }
                stack.push(c);
                key_pos = c == b'{';
                node_start = true;
                j += 1;
                continue;
            }
            b']' | b'}' => {
                let open = stack.pop()?;
                if (open == b'[') != (c == b']') {
                    return None;
                }
                if stack.is_empty() {
                    return Some(j + 1);
                }
                node_start = false;
                key_pos = false;
                j += 1;
                continue;
            }
            b',' => {
                node_start = true;
                key_pos = stack.last() == Some(&b'{');
                j += 1;
                continue;
            }
            b':' if matches!(b.get(j + 1), None | Some(b' ' | b',' | b']' | b'}')) => {
                node_start = true;
                key_pos = false;
                j += 1;
                continue;
            }
            b'#' if b[j - 1] == b' ' => return None,
            b'\t' => return None,
            b'"' | b'\'' if node_start => {
                j = quoted_end(b, j)?;
            }
            b'!' | b'&' | b'*' | b'?' | b'|' | b'>' | b'%' | b'@' | b'`' if node_start => {
                return None
            }
            _ => j += 1,
        }
        node_start = false;
        key_pos = false;
    }
    None
}

enum After {
    /// Nothing more on the line, or a comment.
    End,
    /// `: ` follows: the node was a key; the value starts here.
    Key(usize),
    /// Something else.
    Other,
}

fn after_node(b: &[u8], i: usize) -> After {
    let j = skip_spaces(b, i);
    match b.get(j) {
        None => After::End,
        Some(b'#') if j > i => After::End,
        Some(b':') if matches!(b.get(j + 1), None | Some(b' ')) => {
            After::Key(skip_spaces(b, j + 1))
        }
        _ => After::Other,
    }
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

    #[test]
    fn line_level_helpers() {
        assert_eq!(lex(b"  a: b", 2, 2, true), Lex::Value(2));
        assert_eq!(lex(b"  a:", 2, 2, true), Lex::Open);
        assert_eq!(lex(b"  - |", 2, 2, true), Lex::Block(2));
        assert_eq!(lex(b"    key: >+ # c", 4, 4, true), Lex::Block(4));
        assert_eq!(lex(b"  a: |2", 2, 2, true), Lex::Bail);
        assert_eq!(lex(b"  a: {b: [1, \"]\"]}", 2, 2, true), Lex::Value(2));
        assert_eq!(lex(b"  a: {{ .Values.x }}", 2, 2, true), Lex::Bail);
        assert_eq!(lex(b"  a: b: c", 2, 2, true), Lex::Bail);
        assert_eq!(lex(b"  a: 'it''s'", 2, 2, true), Lex::Value(2));
        assert_eq!(lex(b"  a: \"open", 2, 2, true), Lex::Bail);
        assert_eq!(lex(b"  - name: x # c", 2, 2, true), Lex::Value(4));
        assert_eq!(lex(b"  - x", 2, 2, true), Lex::Value(2));
        assert_eq!(scalar("k: 'it''s' # c", 3).as_deref(), Some("it's"));
        assert_eq!(scalar("k: \"v1\"", 3).as_deref(), Some("v1"));
        assert_eq!(scalar("k: v1 # c", 3).as_deref(), Some("v1"));
        assert_eq!(scalar("k: 1.30", 3), None);
        assert_eq!(scalar("k: true", 3), None);
        assert_eq!(scalar("k: ", 3), None);
        assert_eq!(plain_key("kind : Deployment", 0), Some(("kind", 7)));
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
    ];

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
