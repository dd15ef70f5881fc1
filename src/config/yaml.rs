//! A YAML reader that keeps a position for every key and value.
//!
//! ```text
//!  &str ──saphyr events──► Node tree (Pos on every node and key) ──► serde_json::Value
//! ```
//!
//! The tree is built from the parser's event stream with an explicit stack, so deeply
//! nested input cannot overflow the call stack, and it stops early on input that would
//! cost unbounded memory: nesting deeper than [`Limits::max_depth`], or more nodes (alias
//! expansions included) than [`Limits::max_nodes`]. Scalars are resolved with the YAML 1.2
//! core schema; merge keys (`<<`) are honoured because many existing manifests use them.

use std::collections::{HashMap, HashSet};
use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

mod scan;
use scan::{end_pos, scan_error};

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Pos {
    /// Line, counting from 1.
    pub line: u32,
    /// Column in characters, counting from 1.
    pub col: u32,
}

impl Pos {
    /// The first character of a file.
    pub(crate) const START: Pos = Pos { line: 1, col: 1 };

    fn from_span(span: &Span) -> Pos {
        Pos {
            line: u32::try_from(span.start.line()).unwrap_or(u32::MAX).max(1),
            col: u32::try_from(span.start.col() + 1).unwrap_or(u32::MAX),
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A YAML value with the position where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the value starts.
    pub pos: Pos,
    /// The value.
    pub value: Value,
}

/// A resolved YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A floating-point number (also integers too large for i64).
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order.
    Map(Vec<Entry>),
}

/// One key/value pair of a mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The key as written (keys are always read as text).
    pub key: String,
    /// Where the key starts.
    pub key_pos: Pos,
    /// The value.
    pub value: Node,
}

/// One step of a path into a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

impl fmt::Display for Seg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seg::Key(k) => write!(f, "{k}"),
            Seg::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// Render a path such as `spec.vpc.subnetIds[2]`.
pub(crate) fn path_string(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

impl Node {
    /// The mapping entry under `key`, when this node is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key).map(|e| &e.value),
            _ => None,
        }
    }

    /// This node as a string, when it is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The position of the value at `path`; when the path does not exist in full, the
    /// position of the deepest part that does. With `key` the position of the last key is
    /// returned rather than its value, which is where an editor should point for an
    /// unexpected field.
    pub(crate) fn pos_at(&self, path: &[Seg], key: bool) -> Pos {
        let mut node = self;
        for (i, seg) in path.iter().enumerate() {
            let last = i + 1 == path.len();
            match (seg, &node.value) {
                (Seg::Key(k), Value::Map(entries)) => match entries.iter().find(|e| &e.key == k) {
                    Some(e) if last && key => return e.key_pos,
                    Some(e) => node = &e.value,
                    None => return node.pos,
                },
                (Seg::Index(idx), Value::Seq(items)) => match items.get(*idx) {
                    Some(n) => node = n,
                    None => return node.pos,
                },
                _ => return node.pos,
            }
        }
        node.pos
    }

    /// Convert to JSON. Non-finite floats become strings (JSON cannot hold them), which
    /// a schema then rejects where a number is expected.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or_else(|| J::String(f.to_string())),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }

    /// A short name of the value's type, for messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::Seq(_) => "sequence",
            Value::Map(_) => "mapping",
        }
    }

    fn count(&self) -> usize {
        // Iterative, so that a deep tree cannot overflow the stack.
        let mut n = 0;
        let mut stack = vec![self];
        while let Some(node) = stack.pop() {
            n += 1;
            match &node.value {
                Value::Seq(items) => stack.extend(items.iter()),
                Value::Map(entries) => stack.extend(entries.iter().map(|e| &e.value)),
                _ => {}
            }
        }
        n
    }
}

/// One document of a multi-document stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The root value; `Value::Null` for an empty document.
    pub root: Node,
    /// The 0-based index of the document within its file.
    pub index: usize,
}

/// Bounds that keep hostile input from costing unbounded time or memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest nesting of sequences and mappings accepted.
    pub max_depth: usize,
    /// Most nodes one file may produce, counting every alias expansion.
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 200,
            max_nodes: 1_000_000,
        }
    }
}

/// Why a YAML stream could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// Where reading stopped.
    pub pos: Pos,
    /// What was wrong.
    pub message: String,
    /// The kind of problem, which maps to a rule id.
    pub kind: YamlErrorKind,
}

/// The classes of YAML errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YamlErrorKind {
    /// The text is not well-formed YAML.
    Syntax,
    /// A limit from [`Limits`] was exceeded.
    Limit,
    /// A mapping has the same key twice.
    DuplicateKey,
    /// Valid YAML that keelson does not accept (complex keys, unknown tags).
    Unsupported,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pos, self.message)
    }
}

impl std::error::Error for YamlError {}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<Entry>,
        /// The pending key: its text, position, and whether it is a merge key (a plain
        /// `<<`; a quoted "<<" is an ordinary key).
        key: Option<(String, Pos, bool)>,
        /// The keys of `entries`, so a duplicate is found in constant time (a mapping of
        /// 200,000 keys was quadratic).
        keys: HashSet<String>,
        /// Entries from `<<` merge keys, applied at the end where not overridden.
        merged: Vec<Entry>,
        /// The keys of `merged`.
        merged_keys: HashSet<String>,
        /// A `<<` was seen.
        has_merge: bool,
    },
}

struct Builder {
    limits: Limits,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    docs: Vec<Document>,
    root: Option<Node>,
}

fn err(pos: Pos, kind: YamlErrorKind, message: impl Into<String>) -> YamlError {
    YamlError {
        pos,
        message: message.into(),
        kind,
    }
}

/// Parse every document of a YAML stream.
///
/// # Errors
/// The first syntax error, exceeded limit, duplicate key or unsupported construct, with
/// its position. A stream is all or nothing: documents before the error are discarded.
pub fn parse(text: &str, limits: Limits) -> Result<Vec<Document>, YamlError> {
    let mut b = Builder {
        limits,
        stack: Vec::new(),
        anchors: HashMap::new(),
        nodes: 0,
        docs: Vec::new(),
        root: None,
    };
    let end = end_pos(text);
    let mut parser = Parser::new_from_str(text);
    while let Some(item) = parser.next_event() {
        let (event, span) = item.map_err(|e| {
            let mut e = scan_error(text, &e);
            e.pos = e.pos.min(end);
            e
        })?;
        // The parser places an empty value at the end of the stream on the line after the
        // last one when the text does not end in a line break (`? key` at the end): keep
        // every position inside the text, so a diagnostic never names a line it lacks.
        let pos = Pos::from_span(&span).min(end);
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
            Event::DocumentStart(_) => {
                b.anchors.clear();
                b.root = None;
            }
            Event::DocumentEnd => {
                let root = b.root.take().unwrap_or(Node {
                    pos,
                    value: Value::Null,
                });
                let index = b.docs.len();
                b.docs.push(Document { root, index });
            }
            Event::Alias(id) => {
                let node =
                    b.anchors.get(&id).cloned().ok_or_else(|| {
                        err(pos, YamlErrorKind::Syntax, "alias to an unknown anchor")
                    })?;
                b.nodes += node.count();
                b.check_nodes(pos)?;
                let node = Node {
                    pos,
                    value: node.value,
                };
                b.complete(node, None)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                b.nodes += 1;
                b.check_nodes(pos)?;
                // Most scalars are plain mapping keys: take them as written, without
                // building a value first.
                if anchor == 0 && tag.is_none() && b.expects_key() {
                    let merge = style == ScalarStyle::Plain && text == "<<";
                    b.set_key(text.into_owned(), pos, merge);
                    continue;
                }
                let value = resolve_scalar(text, style, tag.as_deref(), pos)?;
                let node = Node { pos, value };
                if anchor != 0 {
                    b.anchors.insert(anchor, node.clone());
                }
                b.complete(node, None)?;
            }
            Event::SequenceStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "seq", pos)?;
                b.push(
                    Frame::Seq {
                        pos,
                        anchor,
                        items: Vec::new(),
                    },
                    pos,
                )?;
            }
            Event::MappingStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "map", pos)?;
                b.push(
                    Frame::Map {
                        pos,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                        keys: HashSet::new(),
                        merged: Vec::new(),
                        merged_keys: HashSet::new(),
                        has_merge: false,
                    },
                    pos,
                )?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let frame = b.stack.pop().ok_or_else(|| {
                    err(pos, YamlErrorKind::Syntax, "unbalanced end of collection")
                })?;
                let (node, anchor) = match frame {
                    Frame::Seq { pos, anchor, items } => (
                        Node {
                            pos,
                            value: Value::Seq(items),
                        },
                        anchor,
                    ),
                    Frame::Map {
                        pos,
                        anchor,
                        mut entries,
                        keys,
                        merged,
                        ..
                    } => {
                        for m in merged {
                            if !keys.contains(&m.key) {
                                entries.push(m);
                            }
                        }
                        (
                            Node {
                                pos,
                                value: Value::Map(entries),
                            },
                            anchor,
                        )
                    }
                };
                if anchor != 0 {
                    b.anchors.insert(anchor, node.clone());
                }
                b.complete(node, None)?;
            }
        }
    }
    Ok(b.docs)
}

/// The scanner reports an error met at the end of input on the line after the last one;
/// point at the end of the last line instead, which is where an editor can go.
impl Builder {
    fn check_nodes(&self, pos: Pos) -> Result<(), YamlError> {
        if self.nodes > self.limits.max_nodes {
            return Err(err(
                pos,
                YamlErrorKind::Limit,
                format!(
                    "more than {} values in one file (alias expansions count); refusing to read further",
                    self.limits.max_nodes
                ),
            ));
        }
        Ok(())
    }

    fn push(&mut self, frame: Frame, pos: Pos) -> Result<(), YamlError> {
        self.nodes += 1;
        self.check_nodes(pos)?;
        if self.stack.len() >= self.limits.max_depth {
            return Err(err(
                pos,
                YamlErrorKind::Limit,
                format!("nesting deeper than {} levels", self.limits.max_depth),
            ));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn expects_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    fn set_key(&mut self, text: String, pos: Pos, merge: bool) {
        if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
            *key = Some((text, pos, merge));
        }
    }

    /// Hand a finished node to its parent (or make it the document root). `raw` is the
    /// scalar's source text, used when the node is a mapping key.
    fn complete(&mut self, node: Node, raw: Option<String>) -> Result<(), YamlError> {
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                key,
                keys,
                merged,
                merged_keys,
                has_merge,
                ..
            }) => match key.take() {
                None => {
                    let text =
                        match (&node.value, raw) {
                            (Value::Seq(_) | Value::Map(_), _) => return Err(err(
                                node.pos,
                                YamlErrorKind::Unsupported,
                                "a mapping key must be a plain value, not a sequence or mapping",
                            )),
                            (Value::Str(s), _) => s.clone(),
                            (_, Some(raw)) => raw,
                            (Value::Null, None) => String::new(),
                            (v, None) => scalar_text(v),
                        };
                    // A key that came through here was an anchor, an alias or tagged:
                    // never a merge key.
                    *key = Some((text, node.pos, false));
                }
                Some((k, key_pos, merge)) => {
                    if merge {
                        if *has_merge {
                            return Err(err(
                                key_pos,
                                YamlErrorKind::DuplicateKey,
                                "a second merge key (<<) in this mapping; merge several with `<<: [*a, *b]`",
                            ));
                        }
                        *has_merge = true;
                        merge_into(merged, merged_keys, node)?;
                    } else if !keys.insert(k.clone()) {
                        return Err(err(
                            key_pos,
                            YamlErrorKind::DuplicateKey,
                            format!("duplicate key `{}` in this mapping", shorten(&k)),
                        ));
                    } else {
                        entries.push(Entry {
                            key: k,
                            key_pos,
                            value: node,
                        });
                    }
                }
            },
        }
        Ok(())
    }
}

/// A key or value as shown in a message: at most 80 characters.
pub(crate) fn shorten(s: &str) -> String {
    if s.chars().count() <= 80 {
        return s.to_string();
    }
    let head: String = s.chars().take(77).collect();
    format!("{head}...")
}

fn merge_into(
    merged: &mut Vec<Entry>,
    merged_keys: &mut HashSet<String>,
    node: Node,
) -> Result<(), YamlError> {
    let pos = node.pos;
    let maps = match node.value {
        Value::Map(entries) => vec![entries],
        Value::Seq(items) => {
            let mut maps = Vec::new();
            for item in items {
                match item.value {
                    Value::Map(entries) => maps.push(entries),
                    _ => {
                        return Err(err(
                            item.pos,
                            YamlErrorKind::Syntax,
                            "a merge key (<<) takes a mapping or a sequence of mappings",
                        ))
                    }
                }
            }
            maps
        }
        _ => {
            return Err(err(
                pos,
                YamlErrorKind::Syntax,
                "a merge key (<<) takes a mapping or a sequence of mappings",
            ))
        }
    };
    for entries in maps {
        for e in entries {
            if merged_keys.insert(e.key.clone()) {
                merged.push(e);
            }
        }
    }
    Ok(())
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Str(s) => s.clone(),
        Value::Seq(_) | Value::Map(_) => String::new(),
    }
}

fn check_collection_tag(
    tag: Option<&saphyr_parser::Tag>,
    expected: &str,
    pos: Pos,
) -> Result<(), YamlError> {
    match tag {
        None => Ok(()),
        Some(t) if t.is_yaml_core_schema() && t.suffix == expected => Ok(()),
        Some(t) => Err(err(
            pos,
            YamlErrorKind::Unsupported,
            format!("YAML tag `{}{}` is not supported here", t.handle, t.suffix),
        )),
    }
}

fn resolve_scalar(
    text: std::borrow::Cow<'_, str>,
    style: ScalarStyle,
    tag: Option<&saphyr_parser::Tag>,
    pos: Pos,
) -> Result<Value, YamlError> {
    if let Some(tag) = tag {
        if !tag.is_yaml_core_schema() {
            // A non-specific `!` tag on a plain scalar forces a string in YAML 1.2.
            if tag.handle == "!" && tag.suffix.is_empty() {
                return Ok(Value::Str(text.into_owned()));
            }
            return Err(err(
                pos,
                YamlErrorKind::Unsupported,
                format!(
                    "YAML tag `{}{}` is not supported (write a plain value)",
                    tag.handle, tag.suffix
                ),
            ));
        }
        let bad = || {
            err(
                pos,
                YamlErrorKind::Syntax,
                format!("`{text}` is not a valid !!{}", tag.suffix),
            )
        };
        let text = text.as_ref();
        return match tag.suffix.as_str() {
            "str" => Ok(Value::Str(text.to_string())),
            "null" => match plain_scalar(text) {
                Value::Null => Ok(Value::Null),
                _ => Err(bad()),
            },
            "bool" => match plain_scalar(text) {
                v @ Value::Bool(_) => Ok(v),
                _ => Err(bad()),
            },
            "int" => match plain_scalar(text) {
                v @ Value::Int(_) => Ok(v),
                _ => Err(bad()),
            },
            "float" => match plain_scalar(text) {
                Value::Int(i) => Ok(Value::Float(i as f64)),
                v @ Value::Float(_) => Ok(v),
                _ => Err(bad()),
            },
            other => Err(err(
                pos,
                YamlErrorKind::Unsupported,
                format!("YAML tag `!!{other}` is not supported on a scalar"),
            )),
        };
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::Str(text.into_owned()));
    }
    Ok(match plain_typed(&text) {
        Some(v) => v,
        None => Value::Str(text.into_owned()),
    })
}

/// Resolve a plain scalar with the YAML 1.2 core schema.
fn plain_scalar(text: &str) -> Value {
    plain_typed(text).unwrap_or_else(|| Value::Str(text.to_string()))
}

/// The non-string value a plain scalar stands for, if any (`None`: it is a string).
fn plain_typed(text: &str) -> Option<Value> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Some(Value::Float(f64::INFINITY))
        }
        "-.inf" | "-.Inf" | "-.INF" => return Some(Value::Float(f64::NEG_INFINITY)),
        ".nan" | ".NaN" | ".NAN" => return Some(Value::Float(f64::NAN)),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.') {
        return None;
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if !hex.is_empty() && hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return i64::from_str_radix(hex, 16).ok().map(Value::Int);
        }
        return None;
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if !oct.is_empty() && oct.bytes().all(|c| (b'0'..=b'7').contains(&c)) {
            return i64::from_str_radix(oct, 8).ok().map(Value::Int);
        }
        return None;
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
        return match text.parse::<i64>() {
            Ok(i) => Some(Value::Int(i)),
            Err(_) => text.parse::<f64>().ok().map(Value::Float),
        };
    }
    if is_core_float(digits) {
        return text.parse::<f64>().ok().map(Value::Float);
    }
    None
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` without the sign.
fn is_core_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let int_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        frac_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac_digits;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let exp = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp == 0 {
            return false;
        }
        i += exp;
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        let docs = parse(text, Limits::default()).unwrap();
        assert_eq!(docs.len(), 1, "{docs:?}");
        docs.into_iter().next().unwrap().root
    }

    #[test]
    fn positions_are_one_based_for_keys_and_values() {
        let root = one("a: 1\nb:\n  c: [x, y]\n");
        let b = &root;
        assert_eq!(
            b.pos_at(&[Seg::Key("b".into()), Seg::Key("c".into())], true),
            Pos { line: 3, col: 3 }
        );
        assert_eq!(
            b.pos_at(
                &[Seg::Key("b".into()), Seg::Key("c".into()), Seg::Index(1)],
                false
            ),
            Pos { line: 3, col: 10 }
        );
    }

    #[test]
    fn core_schema_scalars() {
        let root = one("a: 1.30\nb: \"1.30\"\nc: yes\nd: ~\ne: 0x1f\nf: -3\ng: 1e3\nh: 12abc\n");
        let j = root.to_json();
        assert_eq!(j["a"], serde_json::json!(1.3));
        assert_eq!(j["b"], "1.30");
        assert_eq!(j["c"], "yes");
        assert!(j["d"].is_null());
        assert_eq!(j["e"], 31);
        assert_eq!(j["f"], -3);
        assert_eq!(j["g"], serde_json::json!(1000.0));
        assert_eq!(j["h"], "12abc");
    }

    #[test]
    fn a_tab_is_reported_at_its_own_column() {
        // After `:` the parser skipped the tab and reported the value's column.
        let e = parse("a:\tb\n", Limits::default()).unwrap_err();
        assert_eq!(
            (e.kind, e.pos),
            (YamlErrorKind::Syntax, Pos { line: 1, col: 3 })
        );
        assert!(e.message.contains("a tab here"), "{}", e.message);
        // Indentation of a tab and a space: the tab, not the key after it.
        let e = parse("m:\n  x: 1\n\t y: 2\n", Limits::default()).unwrap_err();
        assert_eq!(e.pos, Pos { line: 3, col: 1 }, "{}", e.message);
        // After a flow mapping, the parser's position was the key after the blanks.
        let e = parse("m:\n  x: {a: 1}\n\t y: 2\n", Limits::default()).unwrap_err();
        assert_eq!(e.pos, Pos { line: 3, col: 1 }, "{}", e.message);
    }

    #[test]
    fn duplicate_key_is_an_error_at_the_second_key() {
        let e = parse("a: 1\nb: 2\na: 3\n", Limits::default()).unwrap_err();
        assert_eq!(e.kind, YamlErrorKind::DuplicateKey);
        assert_eq!(e.pos, Pos { line: 3, col: 1 });
    }

    #[test]
    fn a_quoted_merge_key_is_an_ordinary_key_and_two_merge_keys_are_refused() {
        let root = one("base: &b {x: 1}\nthing:\n  \"<<\": *b\n  y: 3\n");
        assert_eq!(
            root.to_json()["thing"],
            serde_json::json!({"<<": {"x": 1}, "y": 3})
        );
        let e = parse(
            "a: &a {x: 1}\nb: &b {y: 2}\nc:\n  <<: *a\n  <<: *b\n",
            Limits::default(),
        )
        .unwrap_err();
        assert_eq!(e.kind, YamlErrorKind::DuplicateKey);
        assert_eq!(e.pos, Pos { line: 5, col: 3 });
    }

    #[test]
    fn duplicate_detection_is_linear_and_long_keys_are_shortened() {
        // 200,000 keys: quadratic detection took minutes; linear takes about a second in a
        // debug build, and under 10 s with both cores busy with other builds, so the bound
        // leaves room for a loaded machine and still fails a quadratic reader.
        let mut text = String::from("m:\n");
        for i in 0..200_000 {
            text.push_str(&format!("  k{i}: {i}\n"));
        }
        let long = "x".repeat(1000);
        text.push_str(&format!("  {long}: 1\n  {long}: 2\n"));
        let started = std::time::Instant::now();
        let e = parse(&text, Limits::default()).unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(60));
        assert_eq!(e.kind, YamlErrorKind::DuplicateKey);
        assert!(e.message.len() < 200, "{}", e.message.len());
    }

    #[test]
    fn merge_keys_fill_missing_entries_only() {
        let root = one("base: &b {x: 1, y: 2}\nthing:\n  <<: *b\n  y: 3\n");
        let j = root.to_json();
        assert_eq!(j["thing"], serde_json::json!({"y": 3, "x": 1}));
    }

    #[test]
    fn alias_bomb_is_stopped() {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            s.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = parse(&s, Limits::default()).unwrap_err();
        assert_eq!(e.kind, YamlErrorKind::Limit);
    }

    #[test]
    fn deep_nesting_is_stopped_without_overflow() {
        let s = "[".repeat(10_000) + &"]".repeat(10_000);
        let e = parse(&s, Limits::default()).unwrap_err();
        assert_eq!(e.kind, YamlErrorKind::Limit);
        let mut s = String::new();
        for i in 0..10_000 {
            s.push_str(&" ".repeat(i));
            s.push_str("k:\n");
        }
        let e = parse(&s, Limits::default()).unwrap_err();
        assert_eq!(e.kind, YamlErrorKind::Limit);
    }

    #[test]
    fn multi_document_streams_and_empty_documents() {
        let docs = parse("a: 1\n---\n---\nb: 2\n", Limits::default()).unwrap();
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[1].root.value, Value::Null);
        assert_eq!(docs[2].root.pos.line, 4);
        assert!(parse("", Limits::default()).unwrap().is_empty());
        assert!(parse("# only a comment\n", Limits::default())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn syntax_error_has_a_position() {
        let e = parse("a: 1\n  b: [\n", Limits::default()).unwrap_err();
        assert_eq!(e.kind, YamlErrorKind::Syntax);
        assert!(e.pos.line >= 2, "{e}");
    }

    #[test]
    fn custom_tags_are_refused() {
        let e = parse("a: !Ref foo\n", Limits::default()).unwrap_err();
        assert_eq!(e.kind, YamlErrorKind::Unsupported);
        assert_eq!(one("a: !!str 123\n").to_json()["a"], "123");
    }
}
