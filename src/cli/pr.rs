//! The plan as a pull request sees it: what it ran against (target, accounts, fleet,
//! commit, time) at the top, paths relative to the repository, and an invalid repository
//! rendered as a Markdown list of its problems, so that the PR still gets a comment.
//!
//! ```text
//!  Loaded + TargetArgs ──context──► "target `aws` (accounts …) · fleet `platform` · commit `abc1234` · 2026-…Z"
//!  render::markdown(plan) ──with_context──► header line inserted, `/repo/` prefixes dropped
//!  invalid Loaded ──problems_markdown──► "### keelson plan — ❌ invalid repository" + list
//! ```

use std::fmt::Write;
use std::path::Path;

use crate::config::Loaded;
use crate::sync::Target;

/// The head commit of the git repository that holds `repo` (short id), with `+dirty` when
/// the work tree has changes; none outside git.
pub fn commit_of(repo: &Path) -> Option<String> {
    let r = git2::Repository::discover(repo).ok()?;
    let head = r.head().ok()?.peel_to_commit().ok()?;
    let id = head.id().to_string();
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(false);
    let dirty = r
        .statuses(Some(&mut opts))
        .map(|s| !s.is_empty())
        .unwrap_or(false);
    Some(format!(
        "{}{}",
        &id[..id.len().min(12)],
        if dirty { "+dirty" } else { "" }
    ))
}

/// What a plan ran against: the target (with the AWS account ids the repository names),
/// the fleet, the commit and the wall-clock time (RFC 3339).
pub fn context(loaded: &Loaded, target: Target, repo: &Path, now: i64) -> String {
    let fleet = loaded
        .repo
        .fleet
        .as_ref()
        .map_or("(no Fleet)".to_string(), |f| f.value.metadata.name.clone());
    let target = match target {
        Target::Sim => "`sim` (the simulator)".to_string(),
        Target::Aws => format!("`aws` ({})", accounts(loaded)),
    };
    let commit = commit_of(repo).map_or("not a git checkout".to_string(), |c| format!("`{c}`"));
    format!(
        "target {target} · fleet `{fleet}` · commit {commit} · planned {}",
        crate::daemon::rfc3339(now)
    )
}

/// The AWS accounts the repository's clusters name, or the caller's.
fn accounts(loaded: &Loaded) -> String {
    let mut accounts: Vec<&str> = loaded
        .repo
        .clusters
        .iter()
        .filter_map(|c| c.cluster.value.spec.account.as_deref())
        .collect();
    accounts.sort_unstable();
    accounts.dedup();
    if accounts.is_empty() {
        "the caller's account".to_string()
    } else {
        format!("accounts {}", accounts.join(", "))
    }
}

/// The first line of a text plan: what it ran against (the simulator and its state file,
/// or AWS with its accounts and regions), so that a plan read later says where it came
/// from.
pub fn target_line(loaded: &Loaded, spec: &crate::sync::TargetSpec) -> String {
    match spec.target {
        Target::Sim => format!(
            "Planned against the simulator (state {}).",
            spec.state.display()
        ),
        Target::Aws => {
            let mut regions: Vec<&str> = loaded
                .repo
                .clusters
                .iter()
                .filter(|c| spec.clusters.is_empty() || spec.clusters.contains(c.name()))
                .map(|c| c.cluster.value.spec.region.as_str())
                .collect();
            regions.sort_unstable();
            regions.dedup();
            format!(
                "Planned against AWS ({}; regions {}).",
                accounts(loaded),
                regions.join(", ")
            )
        }
    }
}

/// `markdown` with `context` under its title and the repository's path prefix dropped
/// from every file path.
pub fn with_context(markdown: &str, context: &str, repo: &Path) -> String {
    let (title, rest) = markdown.split_once('\n').unwrap_or((markdown, ""));
    let out = format!("{title}\n\n{context}\n{rest}");
    relative(&out, repo)
}

/// `text` with `REPO/` removed in front of paths, so that a comment names
/// `clusters/prod/cluster.yaml` whatever directory CI checked the repository out to.
pub fn relative(text: &str, repo: &Path) -> String {
    let mut prefix = repo.display().to_string();
    if prefix == "." || prefix.is_empty() {
        return text.to_string();
    }
    if !prefix.ends_with('/') {
        prefix.push('/');
    }
    text.replace(&prefix, "")
}

/// An invalid repository as a pull request comment: every problem, with its file, line
/// and rule, and the summary.
pub fn problems_markdown(loaded: &Loaded, repo: &Path) -> String {
    let mut out = String::from("### keelson plan — ❌ invalid repository\n\n");
    let _ = writeln!(
        out,
        "Nothing was planned: fix these problems (`keelson validate` lists them too).\n"
    );
    for d in &crate::config::diag::for_display(&loaded.diagnostics) {
        let line = relative(&d.to_string(), repo).replace('|', "\\|");
        let _ = writeln!(out, "- `{}`", line.replace('`', "'"));
    }
    let _ = writeln!(
        out,
        "\n**{}**",
        relative(&crate::sync::summary(loaded), repo)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_relative_to_the_repository() {
        let md = "### keelson plan — ⛔ blocked\n\n/repo/clusters/a/m.yaml:3: uses v1beta3\n";
        let out = with_context(md, "target `sim`", Path::new("/repo"));
        assert_eq!(
            out,
            "### keelson plan — ⛔ blocked\n\ntarget `sim`\n\nclusters/a/m.yaml:3: uses v1beta3\n"
        );
    }
}
