//! Plan renderings: text in the Terraform style, JSON, and Markdown sized for a pull
//! request comment.

use std::fmt::Write;

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use super::{Action, Change, ClusterPlan, Plan, Step};

/// Largest Markdown rendering: GitHub refuses comments over 65,536 characters.
pub const MARKDOWN_BUDGET: usize = 60_000;

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Object(_) | Value::Array(_) => None,
        other => Some(other.to_string()),
    }
}

fn compact(v: &Value) -> String {
    let s = v.to_string();
    if s.len() <= 80 {
        s
    } else {
        format!(
            "{}…",
            &s[..s
                .char_indices()
                .take_while(|(i, _)| *i < 77)
                .last()
                .map_or(0, |(i, c)| i + c.len_utf8())]
        )
    }
}

fn change_lines(ch: &Change, indent: &str, out: &mut String) {
    match (&ch.before, &ch.after) {
        (Some(b), Some(a)) => match (scalar(b), scalar(a)) {
            (Some(b), Some(a)) => {
                let _ = writeln!(out, "{indent}~ {}: {b} → {a}", ch.path);
            }
            _ => {
                let before = serde_json::to_string_pretty(b).unwrap_or_default();
                let after = serde_json::to_string_pretty(a).unwrap_or_default();
                let _ = writeln!(out, "{indent}~ {}:", ch.path);
                let diff = TextDiff::from_lines(&before, &after);
                for change in diff.iter_all_changes() {
                    let sign = match change.tag() {
                        ChangeTag::Delete => "-",
                        ChangeTag::Insert => "+",
                        ChangeTag::Equal => " ",
                    };
                    let _ = write!(out, "{indent}    {sign} {}", change.value());
                    if !change.value().ends_with('\n') {
                        out.push('\n');
                    }
                }
            }
        },
        (None, Some(a)) => {
            let _ = writeln!(out, "{indent}+ {}: {}", ch.path, compact(a));
        }
        (Some(b), None) => {
            let _ = writeln!(out, "{indent}- {}: {}", ch.path, compact(b));
        }
        (None, None) => {}
    }
}

fn step_text(s: &Step, out: &mut String) {
    let reason = s
        .reason
        .as_ref()
        .map(|r| format!("  ({r})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  {} {} {}{reason}",
        s.action.symbol(),
        s.resource.kind,
        s.resource.name
    );
    for ch in &s.changes {
        change_lines(ch, "      ", out);
    }
    for r in &s.risks {
        let kind = serde_json::to_value(r.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let opt_in = if r.needs_opt_in {
            " (one-way; apply needs --allow-irreversible)"
        } else {
            ""
        };
        let _ = writeln!(out, "      ! {kind}{opt_in}: {}", r.message);
    }
}

fn counts(c: &ClusterPlan) -> String {
    let n = |a: Action| c.steps.iter().filter(|s| s.action == a).count();
    let mut parts = Vec::new();
    for (a, word) in [
        (Action::Create, "to create"),
        (Action::Update, "to change"),
        (Action::Replace, "to replace"),
        (Action::Delete, "to delete"),
    ] {
        let k = n(a);
        if k > 0 {
            parts.push(format!("{k} {word}"));
        }
    }
    if parts.is_empty() {
        "no changes".to_string()
    } else {
        parts.join(", ")
    }
}

/// The body of one cluster's section in the text rendering.
pub fn cluster_text(c: &ClusterPlan) -> String {
    let mut out = String::new();
    let state = if !c.blocked.is_empty() {
        "BLOCKED".to_string()
    } else {
        state_words(c)
    };
    let _ = writeln!(out, "cluster {} ({}): {state}", c.name, c.region);
    for w in &c.waits {
        let _ = writeln!(out, "  … waits for: {w}");
    }
    for b in &c.blocked {
        let _ = writeln!(
            out,
            "  ✗ {} {}: {}",
            b.resource.kind, b.resource.name, b.message
        );
    }
    for h in &c.held {
        let _ = writeln!(out, "  ⏸ held: {h}");
    }
    for s in &c.steps {
        step_text(s, &mut out);
    }
    for n in &c.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    out
}

/// A cluster's outcome in words: its counts, or that it is blocked or held.
fn state_words(c: &ClusterPlan) -> String {
    if !c.blocked.is_empty() {
        "blocked".to_string()
    } else if !c.held.is_empty() && c.steps.is_empty() {
        "upgrade held".to_string()
    } else if !c.held.is_empty() {
        format!("{}; upgrade held", counts(c))
    } else {
        counts(c)
    }
}

/// The summary line.
pub fn summary_line(p: &Plan) -> String {
    let s = &p.summary;
    let mut line = format!(
        "Plan: {} to create, {} to change, {} to replace, {} to delete.",
        s.create, s.update, s.replace, s.delete
    );
    if s.blocked_clusters > 0 {
        let _ = write!(
            line,
            " {} cluster{} blocked.",
            s.blocked_clusters,
            if s.blocked_clusters == 1 { "" } else { "s" }
        );
    }
    if s.held_clusters > 0 {
        let _ = write!(
            line,
            " {} cluster{} waiting for an earlier stage.",
            s.held_clusters,
            if s.held_clusters == 1 { "" } else { "s" }
        );
    }
    line
}

/// Text rendering: changed and blocked clusters in full, unchanged ones counted.
pub fn text(p: &Plan) -> String {
    let mut out = String::new();
    let mut quiet = 0;
    for c in &p.clusters {
        if c.steps.is_empty()
            && c.blocked.is_empty()
            && c.held.is_empty()
            && c.waits.is_empty()
            && c.notes.is_empty()
        {
            quiet += 1;
            continue;
        }
        out.push_str(&cluster_text(c));
        out.push('\n');
    }
    if quiet > 0 {
        let _ = writeln!(
            out,
            "{quiet} cluster{} without changes.",
            if quiet == 1 { "" } else { "s" }
        );
    }
    out.push_str(&summary_line(p));
    out.push('\n');
    out
}

/// JSON rendering: the plan itself (also the plan file format).
pub fn json(p: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(p).unwrap_or_default();
    s.push('\n');
    s
}

/// Move each line's change symbol to the first column, where a `diff` code block in a
/// pull request colours it: `+` added, `-` removed, `!` changed.
fn diff_markers(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let marker = if ["-/+ ", "~ ", "! ", "✗ ", "⏸ "]
            .iter()
            .any(|m| trimmed.starts_with(m))
        {
            '!'
        } else if trimmed.starts_with("+ ") {
            '+'
        } else if trimmed.starts_with("- ") {
            '-'
        } else {
            ' '
        };
        out.push(marker);
        out.push_str(indent);
        out.push_str(trimmed);
        out.push('\n');
    }
    out
}

/// Markdown for a pull request comment, never longer than [`MARKDOWN_BUDGET`].
pub fn markdown(p: &Plan) -> String {
    let s = &p.summary;
    let mut out = String::new();
    let status = if s.blocked_clusters > 0 {
        "⛔ blocked"
    } else if p.has_changes() {
        "changes"
    } else if p.is_held() {
        "⏸ waiting for an earlier stage"
    } else {
        "no changes"
    };
    let _ = writeln!(out, "### keelson plan — {status}\n");
    let _ = writeln!(out, "**{}**\n", summary_line(p));
    let interesting: Vec<&ClusterPlan> = p
        .clusters
        .iter()
        .filter(|c| !c.steps.is_empty() || !c.blocked.is_empty() || !c.held.is_empty())
        .collect();
    let quiet = p.clusters.len() - interesting.len();
    if interesting.is_empty() {
        let _ = writeln!(
            out,
            "All {} clusters match the repository.",
            p.clusters.len()
        );
        return out;
    }
    let _ = writeln!(out, "| cluster | region | changes |\n|---|---|---|");
    let mut table = String::new();
    let mut shown = 0;
    for c in &interesting {
        let state = if !c.blocked.is_empty() {
            format!("⛔ blocked: {}", c.blocked[0].message.replace('|', "\\|"))
        } else if !c.held.is_empty() {
            format!("{}; ⏸ held: {}", counts(c), c.held[0].replace('|', "\\|"))
        } else {
            counts(c)
        };
        let row = format!("| `{}` | {} | {} |\n", c.name, c.region, state);
        if out.len() + table.len() + row.len() > MARKDOWN_BUDGET / 3 {
            break;
        }
        table.push_str(&row);
        shown += 1;
    }
    out.push_str(&table);
    if shown < interesting.len() {
        let _ = writeln!(
            out,
            "| … | | {} more clusters with changes |",
            interesting.len() - shown
        );
    }
    if quiet > 0 {
        let _ = writeln!(
            out,
            "\n{quiet} cluster{} without changes.",
            if quiet == 1 { "" } else { "s" }
        );
    }
    out.push('\n');
    let footer_room = 200;
    let mut omitted = 0;
    for c in &interesting {
        let mut body = cluster_text(c);
        if body.len() > 8_000 {
            let cut = body
                .char_indices()
                .take_while(|(i, _)| *i < 8_000)
                .last()
                .map_or(0, |(i, _)| i);
            body.truncate(cut);
            body.push_str("\n… (diff shortened; run `keelson plan` for all of it)\n");
        }
        let section = format!(
            "<details><summary><code>{}</code>: {}</summary>\n\n```diff\n{}```\n</details>\n",
            c.name,
            state_words(c),
            diff_markers(&body)
        );
        if out.len() + section.len() + footer_room > MARKDOWN_BUDGET {
            omitted += 1;
            continue;
        }
        out.push_str(&section);
    }
    if omitted > 0 {
        let _ = writeln!(out, "\n{omitted} more cluster diff{} left out to keep this comment short; run `keelson plan` for the full plan.", if omitted == 1 { " is" } else { "s are" });
    }
    out
}
