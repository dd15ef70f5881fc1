//! `keelson check`: the readiness of one cluster for an upgrade path, hop by hop, gate by
//! gate — what `plan` would block or hold, and why, before anything is asked of it.
//!
//! Exit codes: 0 ready (warnings allowed), 2 held by an earlier stage, 3 blocked, 1 error.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::plan::PlanFormat as ReportFormat3;
use super::plan::{load_valid, TargetArgs};
use crate::observe;
use crate::plan::upgrade::{self, HopInput, Outcome, Readiness};
use crate::sync::{connect, runtime, scope_for};
use crate::versions::{Date, Minor};

/// Options of `keelson check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Target options; `--cluster NAME` names the one cluster to check.
    #[command(flatten)]
    pub target: TargetArgs,
    /// The minor to check the path to (default: the version in git).
    #[arg(long, value_name = "1.N")]
    pub to: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat3::Text)]
    pub format: ReportFormat3,
}

/// `keelson check`.
///
/// # Errors
/// Unreadable repo or target, an unknown cluster, a bad `--to`.
pub fn check_cmd(args: &CheckArgs, today: Date) -> Result<ExitCode> {
    let [cluster] = args.target.clusters.as_slice() else {
        bail!("name exactly one cluster with --cluster NAME");
    };
    let Some(loaded) = load_valid(&args.target.repo, today)? else {
        return Ok(ExitCode::from(1));
    };
    let Some(config) = loaded.repo.clusters.iter().find(|c| c.name() == cluster) else {
        bail!("no cluster named `{cluster}` in the repository");
    };
    let to_text = args
        .to
        .clone()
        .unwrap_or_else(|| config.cluster.value.spec.version.clone());
    let to: Minor = to_text
        .parse()
        .map_err(|_| anyhow::anyhow!("--to `{to_text}` is not a Kubernetes minor such as 1.35"))?;
    let rt = runtime()?;
    let target = connect(&args.target.spec()?, &loaded, &rt)?;
    let only: BTreeSet<String> = [cluster.clone()].into();
    let mut scope = scope_for(&loaded, &only, args.target.concurrency)?;
    scope.apis = target.apis.clone();
    scope
        .upgrade_targets
        .insert(cluster.clone(), to.to_string());
    let live = rt
        .block_on(observe::observe(&target.ports, &scope))
        .context("reading live state")?;
    target.flush()?;
    let Some(observed) = live.clusters.get(cluster) else {
        bail!("cluster {cluster} does not exist yet; `keelson plan` shows its creation");
    };
    if let Ok(running) = observed.cluster.version.parse::<Minor>() {
        if let Err(e) = crate::versions::hop_path(running, to) {
            bail!("--to {to}: {e}");
        }
    }
    let policy = loaded
        .repo
        .fleet
        .as_ref()
        .map(|f| f.value.spec.policy.clone())
        .unwrap_or_default();
    let input = HopInput {
        cluster: config,
        live: observed,
        repo: &loaded.repo,
        fleet_live: &live,
        apis: &target.apis,
        policy: &policy,
        now: target.ports.clock.now(),
    };
    let report = upgrade::readiness(input, to);
    let text = match args.format {
        ReportFormat3::Text => text(&report),
        ReportFormat3::Json => json(&report),
        ReportFormat3::Markdown => markdown(&report),
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(ExitCode::from(exit_code(&report)))
}

/// 0 ready, 2 held, 3 blocked.
pub fn exit_code(r: &Readiness) -> u8 {
    match r.outcome() {
        Outcome::Pass | Outcome::Warn => 0,
        Outcome::Hold => 2,
        Outcome::Fail => 3,
    }
}

fn verdict(r: &Readiness) -> &'static str {
    match r.outcome() {
        Outcome::Pass => "READY",
        Outcome::Warn => "READY (with warnings)",
        Outcome::Hold => "WAITING for an earlier stage",
        Outcome::Fail => "BLOCKED",
    }
}

fn mark(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "✓",
        Outcome::Warn => "!",
        Outcome::Hold => "⏸",
        Outcome::Fail => "✗",
    }
}

/// The text report.
pub fn text(r: &Readiness) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "cluster {} (stage {}): {} → {}: {}",
        r.cluster,
        r.stage,
        r.live_version,
        r.target,
        verdict(r)
    );
    if r.hops.is_empty() {
        let _ = writeln!(out, "  already at {} or later; nothing to check", r.target);
    }
    for h in &r.hops {
        let _ = writeln!(out, "\nhop {} → {}: {:?}", h.from, h.to, h.outcome());
        for g in &h.gates {
            let _ = writeln!(out, "  {} {}", mark(g.outcome), g.gate.as_str());
            for f in &g.findings {
                let _ = writeln!(out, "      {f}");
            }
        }
        for n in &h.node_group_catch_up {
            let _ = writeln!(out, "  → node group {n} first catches up to {}", h.from);
        }
        for m in &h.addon_moves {
            let _ = writeln!(out, "  → add-on {}: {} → {}", m.name, m.from, m.to);
        }
        for n in &h.node_group_moves {
            let _ = writeln!(out, "  → node group {n} follows to {}", h.to);
        }
    }
    let _ = writeln!(
        out,
        "\n{}",
        match r.outcome() {
            Outcome::Fail => "Blocked: change what the ✗ lines say, then check again.",
            Outcome::Hold =>
                "Held: the stages before this cluster's must finish and soak first (⏸ lines).",
            Outcome::Warn | Outcome::Pass => "Ready: `keelson plan` schedules these hops.",
        }
    );
    out
}

/// The JSON report: the readiness with its verdict and exit code.
pub fn json(r: &Readiness) -> String {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "outcome".into(),
            serde_json::to_value(r.outcome()).unwrap_or_default(),
        );
        o.insert("exit_code".into(), exit_code(r).into());
    }
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

/// The Markdown report, for a pull request or a ticket.
pub fn markdown(r: &Readiness) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### keelson check — `{}` {} → {}: {}\n",
        r.cluster,
        r.live_version,
        r.target,
        verdict(r)
    );
    for h in &r.hops {
        let _ = writeln!(
            out,
            "**{} → {}**\n\n| gate | result | details |\n|---|---|---|",
            h.from, h.to
        );
        for g in &h.gates {
            let details = g.findings.join("<br>").replace('|', "\\|");
            let _ = writeln!(
                out,
                "| {} | {} {:?} | {} |",
                g.gate.as_str(),
                mark(g.outcome),
                g.outcome,
                details
            );
        }
        out.push('\n');
    }
    out
}
