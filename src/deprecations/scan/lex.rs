//! Byte-level reading of one line for the fast path: markers, keys, scalars, flow
//! collections, block-scalar headers. Each function either understands a construct in
//! full or answers "leave it to the full parser" ([`Lex::Bail`], `None`).

use std::borrow::Cow;

use super::MAX_FLOW_DEPTH;

/// What a line means for the fast path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lex {
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

/// `---` or `...` followed by the end of the line or white space.
pub(super) fn is_marker(b: &[u8], c: u8) -> bool {
    b.len() >= 3
        && b[0] == c
        && b[1] == c
        && b[2] == c
        && matches!(b.get(3), None | Some(b' ' | b'\t'))
}

pub(super) fn is_blank_or_comment(b: &[u8]) -> bool {
    let t = b.trim_ascii_start();
    t.is_empty() || t[0] == b'#'
}

/// A block sequence entry (`- ` or a lone `-`) at `i`.
pub(super) fn is_entry(b: &[u8], i: usize) -> bool {
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
pub(super) fn plain_key(line: &str, i: usize) -> Option<(&str, usize)> {
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
pub(super) fn scalar(line: &str, i: usize) -> Option<Cow<'_, str>> {
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
pub(super) fn lex(b: &[u8], mut i: usize, mut owner: usize, mut can_be_key: bool) -> Lex {
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
}
