//! `keelson plan` and `keelson apply`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};

use crate::adapters::sim::{Sim, Speed};
use crate::apply::{self, ApplyOptions, Progress};
use crate::config::Loaded;
use crate::observe::{self, Ports, Scope};
use crate::plan::{self, render, Plan, PlanOptions};
use crate::versions::Date;

/// Where live state comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// The embedded simulator (state in `--state`).
    Sim,
}

/// Plan output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// Terraform-style text.
    Text,
    /// The plan as JSON (the plan file format).
    Json,
    /// Markdown for a pull request comment.
    Markdown,
}

/// Options shared by `plan` and `apply`.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The config repo.
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// Where live state comes from.
    #[arg(long, value_enum, default_value_t = Target::Sim)]
    pub target: Target,
    /// Simulator state file (default: `.keelson/sim.json` under the repo).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Only these clusters (repeatable).
    #[arg(long = "cluster", value_name = "NAME")]
    pub clusters: Vec<String>,
    /// Most clusters read or changed at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Simulator speed: `instant`, or virtual seconds per real second while waiting.
    #[arg(long, default_value = "600", value_parser = parse_speed)]
    pub sim_speed: Speed,
}

fn parse_speed(s: &str) -> Result<Speed, String> {
    if s == "instant" {
        return Ok(Speed::Instant);
    }
    match s.parse::<f64>() {
        Ok(f) if f > 0.0 && f.is_finite() => Ok(Speed::Factor(f)),
        _ => Err(format!("`{s}` is not `instant` or a positive number")),
    }
}

/// A connected target: ports plus whatever must be flushed at the end.
pub struct Connected {
    /// The ports.
    pub ports: Ports,
    sim: Option<Sim>,
}

impl Connected {
    /// Persist what the target keeps locally (the simulator's state).
    ///
    /// # Errors
    /// When the simulator state cannot be written.
    pub fn flush(&self) -> Result<()> {
        if let Some(sim) = &self.sim {
            sim.flush()?;
        }
        Ok(())
    }

    /// The simulator, when the target is one.
    pub fn sim(&self) -> Option<&Sim> {
        self.sim.as_ref()
    }
}

/// Open the target.
///
/// # Errors
/// When the simulator state is unreadable, corrupt or foreign.
pub fn connect(args: &TargetArgs) -> Result<Connected> {
    match args.target {
        Target::Sim => {
            let path = args
                .state
                .clone()
                .unwrap_or_else(|| args.repo.join(".keelson").join("sim.json"));
            let now = crate::ports::Clock::now(&crate::ports::SystemClock);
            let sim = Sim::open(&path, now, args.sim_speed)?;
            let ports = Ports {
                eks: Arc::new(sim.clone()),
                kube: Arc::new(sim.clone()),
                clock: Arc::new(sim.clone()),
            };
            Ok(Connected {
                ports,
                sim: Some(sim),
            })
        }
    }
}

/// Load the repo and stop with its diagnostics if it is invalid.
fn load_valid(repo: &Path, today: Date) -> Result<Option<Loaded>> {
    let loaded = super::load_repo(repo, today)?;
    if loaded.is_valid() {
        for d in &loaded.diagnostics {
            eprintln!("{d}");
        }
        return Ok(Some(loaded));
    }
    for d in &loaded.diagnostics {
        eprintln!("{d}");
    }
    eprintln!("{}", super::summary(&loaded));
    eprintln!("error: the repository is invalid; nothing was planned or applied");
    Ok(None)
}

fn scope_for(loaded: &Loaded, only: &BTreeSet<String>, concurrency: usize) -> Result<Scope> {
    let names: BTreeSet<String> = loaded
        .repo
        .clusters
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    for n in only {
        if !names.contains(n) {
            bail!(
                "no cluster named `{n}` in the repository (clusters: {})",
                names.iter().cloned().collect::<Vec<_>>().join(", ")
            );
        }
    }
    let clusters = if only.is_empty() { names } else { only.clone() };
    let addon_names = loaded
        .repo
        .clusters
        .iter()
        .filter(|c| clusters.contains(c.name()))
        .flat_map(|c| c.addons.iter().map(|a| a.value.metadata.name.clone()))
        .collect();
    Ok(Scope {
        clusters,
        discover_fleet: if only.is_empty() {
            loaded
                .repo
                .fleet
                .as_ref()
                .map(|f| f.value.metadata.name.clone())
        } else {
            None
        },
        addon_names,
        concurrency,
    })
}

/// Observe and plan.
///
/// # Errors
/// When live state cannot be read.
pub async fn make_plan(
    target: &Connected,
    loaded: &Loaded,
    only: &BTreeSet<String>,
    concurrency: usize,
) -> Result<Plan> {
    let scope = scope_for(loaded, only, concurrency)?;
    let live = observe::observe(&target.ports, &scope).await?;
    let now = target.ports.clock.now();
    Ok(plan::plan(
        &loaded.repo,
        &live,
        &PlanOptions {
            only: only.clone(),
            now,
        },
    ))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// `keelson plan`.
///
/// # Errors
/// Unreadable repo, target or plan file.
pub fn plan_cmd(
    args: &TargetArgs,
    format: PlanFormat,
    out: Option<&Path>,
    detailed: bool,
    today: Date,
) -> Result<ExitCode> {
    let Some(loaded) = load_valid(&args.repo, today)? else {
        return Ok(ExitCode::from(1));
    };
    let target = connect(args)?;
    let only: BTreeSet<String> = args.clusters.iter().cloned().collect();
    let plan = runtime()?.block_on(make_plan(&target, &loaded, &only, args.concurrency))?;
    target.flush()?;
    let text = match format {
        PlanFormat::Text => render::text(&plan),
        PlanFormat::Json => render::json(&plan),
        PlanFormat::Markdown => render::markdown(&plan),
    };
    std::io::stdout().write_all(text.as_bytes())?;
    if let Some(path) = out {
        std::fs::write(path, render::json(&plan))
            .with_context(|| format!("writing plan file {}", path.display()))?;
        eprintln!(
            "plan saved to {}; apply it with `keelson apply --plan {}`",
            path.display(),
            path.display()
        );
    }
    Ok(ExitCode::from(
        match (detailed, plan.is_blocked(), plan.has_changes()) {
            (false, _, _) => 0,
            (true, true, _) => 3,
            (true, false, true) => 2,
            (true, false, false) => 0,
        },
    ))
}

/// Progress on stderr: plain lines, and on a terminal a live line for long waits.
struct StderrProgress {
    tty: bool,
    last: Mutex<BTreeMap<String, u64>>,
}

impl Progress for StderrProgress {
    fn event(&self, cluster: &str, message: &str) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[K");
        }
        let _ = writeln!(err, "[{cluster}] {message}");
    }

    fn waiting(&self, cluster: &str, what: &str, elapsed: u64) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(
                err,
                "\r\x1b[K[{cluster}] waiting for {what}: {}",
                apply::human(elapsed)
            );
            let _ = err.flush();
            return;
        }
        // Plain output: one line when a wait starts and one every 5 minutes of it.
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let key = format!("{cluster}\0{what}");
        let due = match last.get(&key) {
            None => true,
            Some(&t) => elapsed >= t + 300 || elapsed < t,
        };
        if due {
            last.insert(key, elapsed);
            let _ = writeln!(
                err,
                "[{cluster}] waiting for {what}: {}",
                apply::human(elapsed)
            );
        }
    }
}

fn read_plan_file(path: &Path) -> Result<Plan> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading plan file {}", path.display()))?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a keelson plan file (not JSON)", path.display()))?;
    if v.get("format").and_then(|f| f.as_str()) != Some(plan::PLAN_FORMAT)
        || v.get("version").and_then(serde_json::Value::as_u64)
            != Some(u64::from(plan::PLAN_VERSION))
    {
        bail!(
            "{} is not a keelson plan file of version {}",
            path.display(),
            plan::PLAN_VERSION
        );
    }
    serde_json::from_value(v).with_context(|| format!("{} is a damaged plan file", path.display()))
}

fn confirm() -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "refusing to apply without confirmation: stdin is not a terminal; pass --auto-approve"
        );
    }
    eprint!("Apply these changes? Only 'yes' is accepted: ");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == "yes")
}

/// `keelson apply`.
///
/// # Errors
/// Unreadable repo, target or plan file; a plan whose live state has moved on.
pub fn apply_cmd(
    args: &TargetArgs,
    plan_file: Option<&Path>,
    auto_approve: bool,
    today: Date,
) -> Result<ExitCode> {
    let rt = runtime()?;
    let Some(loaded) = load_valid(&args.repo, today)? else {
        return Ok(ExitCode::from(1));
    };
    let target = connect(args)?;
    let only: BTreeSet<String> = args.clusters.iter().cloned().collect();
    let plan = match plan_file {
        Some(path) => {
            let saved = read_plan_file(path)?;
            let selected: BTreeSet<String> = saved
                .clusters
                .iter()
                .filter(|c| !c.steps.is_empty())
                .map(|c| c.name.clone())
                .collect();
            let fresh = rt.block_on(make_plan(
                &target,
                &loaded,
                &if only.is_empty() {
                    BTreeSet::new()
                } else {
                    only.clone()
                },
                args.concurrency,
            ))?;
            let now: BTreeMap<&str, &str> = fresh
                .clusters
                .iter()
                .map(|c| (c.name.as_str(), c.fingerprint.as_str()))
                .collect();
            let moved: Vec<String> = saved
                .clusters
                .iter()
                .filter(|c| selected.contains(&c.name))
                .filter(|c| now.get(c.name.as_str()).copied() != Some(c.fingerprint.as_str()))
                .map(|c| c.name.clone())
                .collect();
            if !moved.is_empty() {
                bail!(
                    "the live state of {} changed since {} was made; run `keelson plan` again",
                    moved.join(", "),
                    path.display()
                );
            }
            saved
        }
        None => rt.block_on(make_plan(&target, &loaded, &only, args.concurrency))?,
    };
    print!("{}", render::text(&plan));
    if !plan.has_changes() {
        target.flush()?;
        println!("No changes. The live state matches the repository.");
        return Ok(ExitCode::from(if plan.is_blocked() { 3 } else { 0 }));
    }
    if !auto_approve && !confirm()? {
        println!("Apply cancelled.");
        return Ok(ExitCode::from(1));
    }
    let progress = Arc::new(StderrProgress {
        tty: std::io::stderr().is_terminal(),
        last: Mutex::new(BTreeMap::new()),
    });
    let opts = ApplyOptions {
        concurrency: args.concurrency,
        ..ApplyOptions::default()
    };
    let started = std::time::Instant::now();
    let virtual_start = target.ports.clock.now();
    let report = rt.block_on(apply::apply(&target.ports, &plan, opts, progress));
    target.flush()?;
    let steps: usize = report.clusters.iter().map(|c| c.steps_done).sum();
    println!(
        "\nApply {}: {steps} step{} in {} cluster{} ({} of real time, {} on the target's clock).",
        if report.ok() { "complete" } else { "stopped" },
        if steps == 1 { "" } else { "s" },
        report.clusters.len(),
        if report.clusters.len() == 1 { "" } else { "s" },
        apply::human(started.elapsed().as_secs()),
        apply::human((target.ports.clock.now() - virtual_start).max(0) as u64),
    );
    for c in &report.clusters {
        if let Some(e) = &c.error {
            println!(
                "  cluster {}: stopped after {}/{} steps: {e}",
                c.name, c.steps_done, c.steps_total
            );
        }
    }
    // Converged? Plan again against what is there now.
    let after = rt.block_on(make_plan(&target, &loaded, &only, args.concurrency))?;
    target.flush()?;
    if after.has_changes() || after.is_blocked() {
        println!(
            "\nThe live state still differs from the repository:\n{}",
            render::text(&after)
        );
    } else {
        println!("The live state now matches the repository.");
    }
    Ok(ExitCode::from(if !report.ok() {
        1
    } else if plan.is_blocked() {
        3
    } else {
        0
    }))
}
