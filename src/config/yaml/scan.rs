//! The parser's syntax errors, placed: at a position inside the text (a marker past the
//! end is moved to the last line), and for a tab, at the tab itself.

use super::{err, Pos, YamlError, YamlErrorKind};

/// The parser's error as keelson reports it: at a position inside the text, and for a
/// tab, at the tab itself.
pub(super) fn scan_error(text: &str, e: &saphyr_parser::ScanError) -> YamlError {
    let m = e.marker();
    let pos = clamp_to_text(
        text,
        Pos {
            line: u32::try_from(m.line()).unwrap_or(u32::MAX).max(1),
            col: u32::try_from(m.col() + 1).unwrap_or(u32::MAX),
        },
    );
    let info = e.info();
    if info.contains("recursion limit") {
        return err(
            pos,
            YamlErrorKind::Limit,
            "flow collections ([...] or {...}) nested deeper than the parser's limit",
        );
    }
    // The parser skips the blanks around a tab before it complains, so its position is
    // the first character after them: one column late for `key:<TAB>value`, more after
    // an indentation of tab and spaces. Point at the tab, and say what to write.
    if info.contains("tab") || info.contains("YAML whitespace") {
        if let Some(tab) = tab_before(text, pos) {
            return err(
                tab,
                YamlErrorKind::Syntax,
                format!("{info}: a tab here; YAML indentation and the blank after `:` or `-` must be spaces"),
            );
        }
    }
    err(pos, YamlErrorKind::Syntax, info)
}

/// The tab the parser complains about near `pos`: the first tab of the run of blanks
/// just before `pos` on its line, or else the first tab in the indentation of a later
/// line (a plain scalar's error stands at the scalar's start, the tab on a line after).
fn tab_before(text: &str, pos: Pos) -> Option<Pos> {
    let first = usize::try_from(pos.line).ok()?.checked_sub(1)?;
    let mut lines = text.split('\n').enumerate().skip(first);
    let (_, line) = lines.next()?;
    let chars: Vec<char> = line.chars().collect();
    let mut i = usize::try_from(pos.col)
        .ok()?
        .checked_sub(1)?
        .min(chars.len());
    let mut tab = None;
    while i > 0 && matches!(chars[i - 1], ' ' | '\t') {
        i -= 1;
        if chars[i] == '\t' {
            tab = Some((first, i));
        }
    }
    let (n, col) = tab.or_else(|| {
        lines.find_map(|(n, line)| {
            line.chars()
                .take_while(|c| matches!(c, ' ' | '\t'))
                .position(|c| c == '\t')
                .map(|col| (n, col))
        })
    })?;
    Some(Pos {
        line: u32::try_from(n + 1).ok()?,
        col: u32::try_from(col + 1).ok()?,
    })
}

/// `pos` moved inside `text`: a line past the last is the end of the text, and a column
/// past the end of its line is the column just after the line's last character. The
/// parser's marker can stand past both after a directive line of control characters.
fn clamp_to_text(text: &str, pos: Pos) -> Pos {
    let end = end_pos(text);
    if pos.line > end.line {
        return end;
    }
    let width = line_width(text, pos.line);
    Pos {
        line: pos.line,
        col: pos.col.min(width.saturating_add(1)),
    }
}

/// The characters on line `line` (1-based) of `text`, line breaks as YAML counts them
/// (LF, CRLF, a lone CR) and not counted themselves.
fn line_width(text: &str, line: u32) -> u32 {
    let mut current: u32 = 1;
    let mut width: u32 = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let brk = c == '\n' || (c == '\r' && chars.peek() != Some(&'\n'));
        if brk {
            if current == line {
                break;
            }
            current = current.saturating_add(1);
            width = 0;
        } else if c != '\r' {
            width = width.saturating_add(1);
        }
    }
    width
}

/// The position just after the last character of `text`, counting line breaks as YAML
/// does (LF, CRLF, a lone CR).
pub(super) fn end_pos(text: &str) -> Pos {
    let mut line: u32 = 1;
    let mut col: u32 = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let brk = c == '\n' || (c == '\r' && chars.peek() != Some(&'\n'));
        if brk {
            line = line.saturating_add(1);
            col = 1;
        } else if c != '\r' {
            col = col.saturating_add(1);
        }
    }
    Pos { line, col }
}

#[cfg(test)]
mod tests {
    use super::super::{parse, Limits, Node, Value};
    use super::*;

    /// Found by `cargo fuzz` (fuzz/fuzz_targets/yaml.rs): an explicit key with no value at
    /// the end of a text without a final line break put the empty value on a line the
    /// text does not have.
    #[test]
    fn an_empty_value_at_the_end_stays_inside_the_text() {
        fn walk(n: &Node, out: &mut Vec<Pos>) {
            out.push(n.pos);
            match &n.value {
                Value::Seq(items) => items.iter().for_each(|i| walk(i, out)),
                Value::Map(entries) => entries.iter().for_each(|e| {
                    out.push(e.key_pos);
                    walk(&e.value, out);
                }),
                _ => {}
            }
        }
        for text in [
            "#lues:o0lh: :batch-node\n?  ilh",
            "? a",
            "a:",
            "a:\r",
            "- ",
            "x: 1\r\n? b",
        ] {
            let end = end_pos(text);
            let mut positions = Vec::new();
            for d in parse(text, Limits::default()).unwrap() {
                walk(&d.root, &mut positions);
            }
            for p in positions {
                assert!(p <= end, "{text:?}: {p} is past the end {end}");
            }
        }
        // The second find: an error in a directive line of control characters was placed
        // past the end of the text.
        let text = "%#lots0\t\u{19}s\u{3}e \u{148}\u{148}0# sas0\t\u{19}s\u{3}es0\t\u{19}s\u{3}e \u{148}\u{148}0# sas0\t\u{19}s\u{3}e \u{148}\u{148}0# sr{\u{2}\u{0}\u{0}\u{0}";
        let e = parse(text, Limits::default()).unwrap_err();
        assert!(
            e.pos <= end_pos(text),
            "{} is past the end {}",
            e.pos,
            end_pos(text)
        );
        // The third find: after a directive line with multi-byte characters and control
        // characters, the parser's column stood past the end of the line (and the text).
        let text = "%-noy&ze: s}\u{10c3da}c:R_saker ipr ip!c:R_saker ip!n \u{1e6e}: n \u{1e6e}: s}\u{10c3da}c:!c:y&ze: s}\u{10c3da}c:R_saker ipr ip!c:R_saker ip!n \u{1e6e}: n \u{1e6e}: s}\u{10c3da}c:!c:R_saker ip!n \u{1e6e}ractesR_saker ip!n \u{1e6e}ract\u{1}\u{0}\u{0}\u{a}ge: {";
        let e = parse(text, Limits::default()).unwrap_err();
        let line = text.split('\n').nth(e.pos.line as usize - 1).unwrap_or("");
        assert!(
            e.pos.col as usize <= line.chars().count() + 1,
            "{} stands past the end of line {:?}",
            e.pos,
            line
        );
        assert_eq!(end_pos("a\r\nb"), Pos { line: 2, col: 2 });
        assert_eq!(end_pos("a\rb\n"), Pos { line: 3, col: 1 });
    }
}
