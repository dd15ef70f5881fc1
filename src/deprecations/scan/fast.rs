//! The fast path: a document read line by line, looking only at the keys at column 0
//! and directly under `metadata:`.
//!
//! ```text
//!  line ─► Scanner::line ─┬─ `---` ─────────────► end_doc (object, or full_doc on bail)
//!                         ├─ column 0 ─► top_line ─┐
//!                         └─ under metadata ─► meta_line ─┴─► lex (rest of the line) ─► Lex
//! ```
//!
//! Any line it does not fully understand marks the document for the full parser.

use std::borrow::Cow;

use super::lex::{is_blank_or_comment, is_entry, is_marker, lex, plain_key, scalar, Lex};
use super::{objects_of, parse_error, Object, Scan, HELM_RECORD_PREFIX, MAX_INDENT};
use crate::config::yaml::{self, Limits};

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

pub(super) struct Scanner<'a> {
    text: &'a str,
    doc: Doc<'a>,
    next_index: usize,
    pub(super) whole_file: bool,
    pub(super) out: Scan<'a>,
}

impl<'a> Scanner<'a> {
    pub(super) fn new(text: &'a str) -> Self {
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

    pub(super) fn run(&mut self) {
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
