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

fn clamp_to_text(text: &str, pos: Pos) -> Pos {
    let bytes = text.as_bytes();
    let lone_crs = bytes
        .windows(2)
        .filter(|w| w[0] == b'\r' && w[1] != b'\n')
        .count()
        + usize::from(bytes.last() == Some(&b'\r'));
    let breaks = bytes.iter().filter(|&&b| b == b'\n').count() + lone_crs;
    let lines = u32::try_from(breaks + 1).unwrap_or(u32::MAX);
    if pos.line <= lines {
        return pos;
    }
    let last = text.rsplit(['\n', '\r']).next().unwrap_or("");
    Pos {
        line: lines,
        col: u32::try_from(last.chars().count() + 1).unwrap_or(u32::MAX),
    }
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
