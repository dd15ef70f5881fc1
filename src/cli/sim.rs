//! `keelson sim`: set up and inspect the simulator for rehearsals.
//!
//! - `seed --version 1.N`: create every cluster of the repository on the simulator as if
//!   the repository had been applied at an older minor, so that `plan`/`apply` then show
//!   the upgrade the repository asks for (a minor EKS no longer creates is created a year
//!   back on the simulator's clock, when EKS still did);
//! - `advance DURATION`: move the simulator's clock (finishing what is due), e.g. past a
//!   stage's soak;
//! - `report`: per cluster, its version, transition records, insights and what broke.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Subcommand;

use super::plan::{load_valid, TargetArgs};
use crate::adapters::sim::{Sim, Speed};
use crate::apply::{self, ApplyOptions, Quiet};
use crate::model::live::{InsightStatus, TRANSITION_TAG_PREFIX, UPGRADING_TAG};
use crate::ports::Clock;
use crate::sync::{connect, make_plan, runtime, Target, TargetSpec};
use crate::versions::{self, utc_minute, Date, Minor, SupportStatus};

/// `keelson sim` subcommands.
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Create the repository's clusters on the simulator at an older minor (node groups
    /// and add-ons to match), ready for an upgrade rehearsal.
    Seed {
        /// Target options (`--repo`, `--state`).
        #[command(flatten)]
        target: TargetArgs,
        /// The minor every cluster starts at.
        #[arg(long, value_name = "1.N")]
        version: String,
    },
    /// Apply the clusters' manifests (`manifests/`, which keelson reads but does not
    /// apply) to the simulator as the team's own pipeline would, e.g. after fixing a
    /// manifest's apiVersion in git, so that the live copies follow (`--cluster NAME` for
    /// some clusters only).
    ApplyManifests {
        /// Target options (`--repo`, `--state`, `--cluster`).
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Move the simulator's clock forward, e.g. `2h` or `1d`.
    Advance {
        /// The config repo (the state defaults to `.keelson/sim.json` under it).
        #[arg(long, env = "KEELSON_REPO", default_value = ".")]
        repo: PathBuf,
        /// Simulator state file.
        #[arg(long, env = "KEELSON_STATE")]
        state: Option<PathBuf>,
        /// How far, e.g. `90m`, `2h`, `1d`.
        duration: String,
    },
    /// Print each simulated cluster's version, transition records, insights and what
    /// broke in upgrades.
    Report {
        /// The config repo (the state defaults to `.keelson/sim.json` under it).
        #[arg(long, env = "KEELSON_REPO", default_value = ".")]
        repo: PathBuf,
        /// Simulator state file.
        #[arg(long, env = "KEELSON_STATE")]
        state: Option<PathBuf>,
    },
}

fn state_path(repo: &std::path::Path, state: Option<&PathBuf>) -> PathBuf {
    state
        .cloned()
        .unwrap_or_else(|| super::plan::state_dir(repo).join("sim.json"))
}

/// Run a `keelson sim` subcommand.
///
/// # Errors
/// Unreadable repo or state, a bad version or duration.
pub fn sim_cmd(cmd: &SimCommand, today: Date) -> Result<ExitCode> {
    match cmd {
        SimCommand::Seed { target, version } => seed(&target.repo, &target.spec()?, version, today),
        SimCommand::ApplyManifests { target } => apply_manifests(target, today),
        SimCommand::Advance {
            repo,
            state,
            duration,
        } => {
            let Some(secs) = crate::model::Duration::seconds(duration) else {
                bail!("`{duration}` is not a duration such as 90m, 2h or 1d");
            };
            let path = state_path(repo, state.as_ref());
            if !path.exists() {
                bail!(
                    "no simulator state at {}; run `keelson sim seed` or `keelson apply` first",
                    path.display()
                );
            }
            let sim = Sim::open(&path, 0, Speed::Instant)?;
            let now = sim.now();
            sim.advance_to(now + secs as i64);
            sim.flush()?;
            println!(
                "simulator clock: {} → {}",
                utc_minute(now),
                utc_minute(now + secs as i64)
            );
            Ok(ExitCode::SUCCESS)
        }
        SimCommand::Report { repo, state } => {
            let path = state_path(repo, state.as_ref());
            if !path.exists() {
                bail!(
                    "there is no simulator state at {}: nothing has run on the simulator yet (start with `keelson sim seed --version 1.N` or `keelson apply`)",
                    path.display()
                );
            }
            let sim = Sim::open(&path, 0, Speed::Instant)
                .with_context(|| format!("opening {}", path.display()))?;
            print!("{}", report(&sim));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Seed the simulator state `state` with the repository at `repo` at `version` (what
/// `keelson run --sim-seed` does before its first sync).
///
/// # Errors
/// As `keelson sim seed`.
pub fn seed_at(
    repo: &std::path::Path,
    state: &std::path::Path,
    version: &str,
    today: Date,
    concurrency: usize,
) -> Result<ExitCode> {
    let spec = TargetSpec {
        concurrency,
        ..TargetSpec::sim(state.to_path_buf())
    };
    seed(repo, &spec, version, today)
}

/// Apply the manifests of the clusters in `only` (empty: all) to the simulator the way the
/// team's own pipeline does (client-side apply, its own field manager), so that the live
/// copies carry the API versions the files say; returns how many were placed.
fn place_manifests(
    rt: &tokio::runtime::Runtime,
    target: &crate::sync::Connected,
    loaded: &crate::config::Loaded,
    only: &BTreeSet<String>,
) -> usize {
    let mut placed = 0usize;
    for c in &loaded.repo.clusters {
        if !only.is_empty() && !only.contains(c.name()) {
            continue;
        }
        for m in &c.manifests {
            let Some(name) = &m.name else {
                continue;
            };
            let mut meta = serde_json::json!({ "name": name });
            if let Some(ns) = &m.namespace {
                meta["namespace"] = serde_json::json!(ns);
            }
            let obj = serde_json::json!({
                "apiVersion": m.api_version,
                "kind": m.kind,
                "metadata": meta,
            });
            match rt.block_on(
                target
                    .ports
                    .kube
                    .apply(c.name(), &obj, "kubectl-client-side-apply"),
            ) {
                Ok(_) => placed += 1,
                Err(e) => crate::logging::say(
                    crate::logging::Level::Warn,
                    None,
                    &format!(
                        "note: {}:{}: not placed on the simulator: {e}",
                        m.origin.file, m.origin.line
                    ),
                ),
            }
        }
    }
    placed
}

/// `keelson sim apply-manifests`: what the team's pipeline does after a manifest is fixed
/// in git, on the simulator: the live copies take the files' API versions.
fn apply_manifests(args: &TargetArgs, today: Date) -> Result<ExitCode> {
    let spec = args.spec()?;
    if spec.target != Target::Sim {
        bail!("`keelson sim apply-manifests` works on the simulator only; against a real cluster, re-apply the manifests with the pipeline that owns them (e.g. `kubectl apply -f FILE`)");
    }
    if !spec.state.exists() {
        bail!(
            "there is no simulator state at {}: start with `keelson sim seed --version 1.N` or `keelson apply`",
            spec.state.display()
        );
    }
    let Some(loaded) = load_valid(&args.repo, today)? else {
        return Ok(ExitCode::from(1));
    };
    let only: BTreeSet<String> = args.clusters.iter().cloned().collect();
    if let Some(n) = only
        .iter()
        .find(|n| !loaded.repo.clusters.iter().any(|c| c.name() == n.as_str()))
    {
        bail!("no cluster named {n} in {}", args.repo.display());
    }
    let rt = runtime()?;
    let target = connect(&spec, &loaded, &rt)?;
    let placed = place_manifests(&rt, &target, &loaded, &only);
    target.flush()?;
    println!(
        "applied {placed} manifest(s) to the simulator as the clusters' own pipeline would; the live copies now use the API versions the files name"
    );
    Ok(ExitCode::SUCCESS)
}

fn seed(repo: &std::path::Path, args: &TargetSpec, version: &str, today: Date) -> Result<ExitCode> {
    if args.target != Target::Sim {
        bail!("`keelson sim seed` works on the simulator only");
    }
    if args.state.exists() {
        bail!(
            "the simulator already has state in {}; seeding starts a new one: delete that file (or its `.keelson` directory) to start over, or pass --state NEWFILE",
            args.state.display()
        );
    }
    let minor: Minor = version
        .parse()
        .map_err(|_| anyhow::anyhow!("--version `{version}` is not a minor such as 1.33"))?;
    let Some(mut loaded) = load_valid(repo, today)? else {
        return Ok(ExitCode::from(1));
    };
    for c in &mut loaded.repo.clusters {
        c.cluster.value.spec.version = minor.to_string();
        for ng in &mut c.node_groups {
            let pinned = ng
                .value
                .spec
                .version
                .as_deref()
                .and_then(|v| v.parse::<Minor>().ok());
            if pinned.is_some_and(|p| p > minor) {
                ng.value.spec.version = Some(minor.to_string());
            }
        }
        for a in &mut c.addons {
            if !matches!(a.value.spec.version.as_str(), "latest" | "default") {
                a.value.spec.version = "default".into();
            }
        }
    }
    let rt = runtime()?;
    let target = connect(args, &loaded, &rt)?;
    let back_to = target.sim().and_then(|sim| create_in_the_past(sim, minor));
    let plan = rt.block_on(make_plan(
        &target,
        &loaded,
        &BTreeSet::new(),
        args.concurrency,
    ))?;
    if plan.is_blocked() {
        print!("{}", crate::plan::render::text(&plan));
        bail!("the repository cannot be created at {minor} on the simulator (see above)");
    }
    let report = rt.block_on(apply::apply(
        &target.ports,
        &plan,
        ApplyOptions {
            concurrency: args.concurrency,
            ..ApplyOptions::default()
        },
        Arc::new(Quiet),
    ));
    // The clusters' other manifests, as the team's own pipeline would have applied them
    // (client-side), so that a rehearsal sees the API versions they were written with.
    let manifests = if report.ok() {
        place_manifests(&rt, &target, &loaded, &BTreeSet::new())
    } else {
        0
    };
    if let (Some(sim), Some((now, _))) = (target.sim(), back_to) {
        sim.advance_to(now);
    }
    target.flush()?;
    if !report.ok() {
        for c in &report.clusters {
            if let Some(e) = &c.error {
                crate::logging::say(
                    crate::logging::Level::Error,
                    Some(&c.name),
                    &format!("cluster {}: {e}", c.name),
                );
            }
        }
        bail!("seeding the simulator failed");
    }
    let when = back_to
        .map(|(_, then)| {
            format!(
                ", created on {} when EKS still offered {minor}",
                Date::from_unix(then)
            )
        })
        .unwrap_or_default();
    println!(
        "seeded {} cluster(s) at Kubernetes {minor} on the simulator ({} steps{when}), and {manifests} manifest(s) as a pipeline would have applied them",
        report.clusters.len(),
        report.clusters.iter().map(|c| c.steps_done).sum::<usize>()
    );
    Ok(ExitCode::SUCCESS)
}

/// How far back `sim seed` may date the repository's first apply.
const SEED_LOOKBACK_SECS: i64 = 365 * 86_400;

/// A minor EKS no longer creates today (past end of extended support) was creatable when
/// the repository was first applied: move the simulator's clock back a year, when EKS
/// still offered it, so the clusters are created then as on EKS; the caller comes back
/// to now afterwards. Returns (now, then), or `None` when the clusters can be created now
/// (or could not be a year ago either, which CreateCluster then reports).
fn create_in_the_past(sim: &Sim, minor: Minor) -> Option<(i64, i64)> {
    let creatable = |at: i64| {
        versions::lookup(minor).is_some_and(|e| {
            matches!(
                e.status(Date::from_unix(at)),
                SupportStatus::Standard | SupportStatus::Extended
            )
        })
    };
    let mut state = sim.snapshot();
    let now = state.now;
    let then = now.saturating_sub(SEED_LOOKBACK_SECS);
    if creatable(now) || !creatable(then) {
        return None;
    }
    state.now = then;
    sim.replace(state);
    Some((now, then))
}

/// The text of `keelson sim report`.
pub fn report(sim: &Sim) -> String {
    let state = sim.snapshot();
    let mut out = String::new();
    let _ = writeln!(out, "simulator clock: {}", utc_minute(state.now));
    for (name, c) in &state.clusters {
        let _ = writeln!(
            out,
            "\ncluster {name}: Kubernetes {} ({:?})",
            c.live.version, c.live.status
        );
        if let Some(hop) = c.live.tags.get(UPGRADING_TAG) {
            let _ = writeln!(out, "  upgrade in progress: {hop}");
        }
        for (k, v) in &c.live.tags {
            if let Some(hop) = k.strip_prefix(TRANSITION_TAG_PREFIX) {
                let at = crate::plan::upgrade::parse_transition(v)
                    .map(|t| utc_minute(t.at))
                    .unwrap_or_else(|| "?".into());
                let _ = writeln!(out, "  completed {hop} at {at}");
            }
        }
        for i in c
            .insights
            .iter()
            .filter(|i| i.status != InsightStatus::Passing)
        {
            let _ = writeln!(out, "  insight {:?}: {} — {}", i.status, i.name, i.reason);
        }
        for b in &c.broken {
            let _ = writeln!(out, "  BROKE {b}");
        }
    }
    out
}
