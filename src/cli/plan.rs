//! `keelson plan`, `keelson apply` and `keelson snapshot`: clap's arguments turned into a
//! [`TargetSpec`], then the sync layer ([`crate::sync`]) does the work and this module
//! prints it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use clap::builder::PossibleValue;
use clap::{Args, ValueEnum};

use super::lockargs::LockSources;
use crate::adapters::sim::Speed;
use crate::apply::{self, ApplyOptions, Progress};
use crate::config::Loaded;
use crate::daemon::standby;
use crate::logging::{say, Level};
use crate::observe;
use crate::plan::{self, render, Plan};
pub use crate::sync::Target;
use crate::sync::{connect, make_plan, runtime, scope_for, Connected, TargetSpec};
use crate::versions::Date;

impl ValueEnum for Target {
    fn value_variants<'a>() -> &'a [Self] {
        &[Target::Sim, Target::Aws]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            Target::Sim => PossibleValue::new("sim").help("The embedded simulator (state in `--state`)"),
            Target::Aws => PossibleValue::new("aws").help(
                "A real AWS account: the standard credential chain, the cluster's region, `AWS_ENDPOINT_URL_EKS` honoured",
            ),
        })
    }
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
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// The config repo.
    #[arg(long, env = "KEELSON_REPO", default_value = ".")]
    pub repo: PathBuf,
    /// Where live state comes from.
    #[arg(long, env = "KEELSON_TARGET", value_enum, default_value_t = Target::Sim)]
    pub target: Target,
    /// Simulator state file (default: `.keelson/sim.json` under the repo).
    #[arg(long, env = "KEELSON_STATE")]
    pub state: Option<PathBuf>,
    /// AWS only: in each cluster's account assume the role of this name instead of the
    /// operator role the repository names, e.g. the read-only `keelson-plan-operator` for
    /// plans in CI (deploy/README.md).
    #[arg(long, env = "KEELSON_ROLE_NAME", value_name = "NAME")]
    pub role_name: Option<String>,
    /// Only these clusters (repeatable).
    #[arg(long = "cluster", value_name = "NAME")]
    pub clusters: Vec<String>,
    /// Most clusters read or changed at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Simulator speed: `instant`, or virtual seconds per real second while waiting.
    #[arg(long, default_value = "600", value_parser = parse_speed)]
    pub sim_speed: Speed,
    /// Rehearsal on the simulator only: let hops through this gate (repeatable:
    /// removed-apis, insights, kubelet-skew, stage), to see what an upgrade would break.
    /// The failures are shown as notes.
    #[arg(long = "ignore-gate", value_name = "GATE", value_parser = parse_gate)]
    pub ignore_gates: Vec<crate::plan::upgrade::Gate>,
    /// More deprecated/removed API rules for the upgrade gates, in the format of
    /// `keelson deprecations --extra-rules` (repeatable; later files win).
    #[arg(long = "extra-rules", value_name = "FILE")]
    pub extra_rules: Vec<PathBuf>,
}

impl TargetArgs {
    /// The sync layer's view of these arguments: the simulator's state file resolved
    /// (default `.keelson/sim.json` under the repository), the API table loaded.
    ///
    /// # Errors
    /// An unreadable or malformed `--extra-rules` file.
    pub fn spec(&self) -> Result<TargetSpec> {
        Ok(TargetSpec {
            target: self.target,
            state: self
                .state
                .clone()
                .unwrap_or_else(|| state_dir(&self.repo).join("sim.json")),
            clusters: self.clusters.iter().cloned().collect(),
            concurrency: self.concurrency,
            sim_speed: self.sim_speed,
            ignore_gates: self.ignore_gates.iter().copied().collect(),
            apis: crate::sync::api_table(&self.extra_rules)?,
            role_name: self.role_name.clone(),
        })
    }
}

/// Where the simulator's state and the fleet lock are kept by default: `KEELSON_STATE_DIR`
/// when set (the image sets it, its repository being mounted read-only), else `.keelson/`
/// under the repository.
pub(crate) fn state_dir(repo: &Path) -> PathBuf {
    match std::env::var_os("KEELSON_STATE_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => repo.join(".keelson"),
    }
}

/// Load the repository; print its diagnostics on stderr, and when it is invalid say that
/// nothing was done and return `None`.
///
/// # Errors
/// When the repository directory cannot be read at all.
pub(crate) fn load_valid(repo: &Path, today: Date) -> Result<Option<Loaded>> {
    Ok(report_loaded(crate::sync::load_repo(repo, today)?))
}

/// Print a loaded repository's diagnostics on stderr; when it is invalid say that nothing
/// was done and return `None`.
fn report_loaded(loaded: Loaded) -> Option<Loaded> {
    for d in &crate::config::diag::for_display(&loaded.diagnostics) {
        say(Level::Warn, None, &d.to_string());
    }
    if loaded.is_valid() {
        return Some(loaded);
    }
    say(Level::Error, None, &crate::sync::summary(&loaded));
    say(
        Level::Error,
        None,
        "error: the repository is invalid; nothing was planned or applied",
    );
    None
}

fn parse_gate(s: &str) -> Result<crate::plan::upgrade::Gate, String> {
    use crate::plan::upgrade::Gate;
    match Gate::parse(s) {
        Some(g @ (Gate::RemovedApis | Gate::Insights | Gate::KubeletSkew | Gate::Stage)) => Ok(g),
        _ => Err(format!(
            "`{s}` is not a gate that can be ignored (removed-apis, insights, kubelet-skew, stage)"
        )),
    }
}

fn parse_speed(s: &str) -> Result<Speed, String> {
    if s == "instant" {
        return Ok(Speed::Instant);
    }
    match s.parse::<f64>() {
        Ok(f) if (1e-3..=1e9).contains(&f) => Ok(Speed::Factor(f)),
        _ => Err(format!(
            "`{s}` is not `instant` or a number from 0.001 to 1e9 (virtual seconds per real second)"
        )),
    }
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
    let loaded = crate::sync::load_repo(&args.repo, today)?;
    if format == PlanFormat::Markdown && !loaded.is_valid() {
        // An invalid repository still gets its pull request comment: the problem list.
        print!("{}", super::pr::problems_markdown(&loaded, &args.repo));
    }
    let Some(loaded) = report_loaded(loaded) else {
        return Ok(ExitCode::from(1));
    };
    let rt = runtime()?;
    let spec = args.spec()?;
    let target = connect(&spec, &loaded, &rt)?;
    let only: BTreeSet<String> = args.clusters.iter().cloned().collect();
    let mut plan = rt.block_on(make_plan(&target, &loaded, &only, args.concurrency))?;
    target.flush()?;
    crate::sync::print_stats(&target);
    let text = match format {
        PlanFormat::Text => format!(
            "{}\n\n{}",
            super::pr::target_line(&loaded, &spec),
            render::text(&plan)
        ),
        PlanFormat::Json => render::json(&plan),
        PlanFormat::Markdown => super::pr::with_context(
            &render::markdown(&plan),
            &super::pr::context(&loaded, args.target, &args.repo, crate::daemon::unix_now()),
            &args.repo,
        ),
    };
    std::io::stdout().write_all(text.as_bytes())?;
    if let Some(path) = out {
        plan.source = Some(plan_source(args)?);
        std::fs::write(path, render::json(&plan))
            .with_context(|| format!("writing plan file {}", path.display()))?;
        say(
            Level::Info,
            None,
            &format!(
                "plan saved to {}; apply it with `keelson apply --plan {}`",
                path.display(),
                path.display()
            ),
        );
    }
    Ok(ExitCode::from(
        match (
            detailed,
            plan.is_blocked(),
            plan.has_changes() || plan.is_held(),
        ) {
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
        if self.tty {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[K");
        }
        say(
            Level::Info,
            Some(cluster),
            &format!("[{cluster}] {message}"),
        );
    }

    fn waiting(&self, cluster: &str, what: &str, elapsed: u64) {
        if self.tty {
            let mut err = std::io::stderr().lock();
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
            say(
                Level::Info,
                Some(cluster),
                &format!("[{cluster}] waiting for {what}: {}", apply::human(elapsed)),
            );
        }
    }
}

/// What `plan --out` records about where the plan came from.
fn plan_source(args: &TargetArgs) -> Result<plan::PlanSource> {
    let abs = |p: &Path| -> Result<String> {
        Ok(std::path::absolute(p)
            .with_context(|| format!("resolving {}", p.display()))?
            .display()
            .to_string())
    };
    let spec = args.spec()?;
    Ok(plan::PlanSource {
        repo: abs(&args.repo)?,
        target: match args.target {
            Target::Sim => "sim",
            Target::Aws => "aws",
        }
        .into(),
        state: match args.target {
            Target::Sim => Some(abs(&spec.state)?),
            Target::Aws => None,
        },
        commit: super::pr::commit_of(&args.repo),
    })
}

/// With `apply --plan FILE` and neither `--repo` nor `KEELSON_REPO`, the repository,
/// target and simulator state the plan file records.
fn saved_source(args: &TargetArgs, path: &Path) -> Result<Option<TargetArgs>> {
    if args.repo != Path::new(".") || std::env::var_os("KEELSON_REPO").is_some() {
        return Ok(None);
    }
    let Some(src) = read_plan_file(path)?.source else {
        return Ok(None);
    };
    let target = match src.target.as_str() {
        "aws" => Target::Aws,
        _ => Target::Sim,
    };
    if target != args.target && std::env::var_os("KEELSON_TARGET").is_some() {
        bail!(
            "{} was planned against `{}`, not `{}`",
            path.display(),
            src.target,
            match args.target {
                Target::Sim => "sim",
                Target::Aws => "aws",
            }
        );
    }
    say(
        Level::Info,
        None,
        &format!(
            "applying {} to {} on `{}` as recorded in the plan file{}",
            path.display(),
            src.repo,
            src.target,
            src.commit
                .as_deref()
                .map(|c| format!(" (commit {c})"))
                .unwrap_or_default()
        ),
    );
    Ok(Some(TargetArgs {
        repo: src.repo.into(),
        target,
        state: args.state.clone().or(src.state.map(Into::into)),
        ..args.clone()
    }))
}

fn read_plan_file(path: &Path) -> Result<Plan> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading plan file {}", path.display()))?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a keelson plan file (not JSON)", path.display()))?;
    if v.get("format").and_then(|f| f.as_str()) != Some(plan::PLAN_FORMAT)
        || !v
            .get("version")
            .and_then(serde_json::Value::as_u64)
            .is_some_and(|n| {
                (u64::from(plan::PLAN_VERSION_MIN)..=u64::from(plan::PLAN_VERSION)).contains(&n)
            })
    {
        bail!(
            "{} is not a keelson plan file of version {} to {}",
            path.display(),
            plan::PLAN_VERSION_MIN,
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
    if crate::logging::is_json() {
        say(
            Level::Info,
            None,
            "Apply these changes? Only 'yes' is accepted",
        );
    } else {
        eprint!("Apply these changes? Only 'yes' is accepted: ");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == "yes")
}

/// What the person running `keelson apply` agreed to in advance.
#[derive(Debug, Clone, Copy)]
pub struct Approval {
    /// Apply without asking (`--auto-approve`).
    pub auto_approve: bool,
    /// Run one-way transitions (`--allow-irreversible`).
    pub allow_irreversible: bool,
}

/// The fleet lock `keelson apply` holds.
#[derive(Debug, Clone, Copy)]
pub struct ApplyLock<'a> {
    /// `--lock` and its timing.
    pub args: &'a super::lockargs::LockArgs,
    /// `--lock-file`.
    pub file: Option<&'a Path>,
    /// How long to wait for a held lock.
    pub wait: std::time::Duration,
}

/// `keelson apply`, holding the fleet lock throughout.
///
/// # Errors
/// Unreadable repo, target or plan file; a plan whose live state has moved on; the
/// fleet lock held by another process.
pub fn apply_cmd(
    args: &TargetArgs,
    plan_file: Option<&Path>,
    approval: Approval,
    lock: ApplyLock<'_>,
    today: Date,
) -> Result<ExitCode> {
    let from_plan = match plan_file {
        Some(p) => saved_source(args, p)?,
        None => None,
    };
    let args = from_plan.as_ref().unwrap_or(args);
    // The lock file when nothing names a lock: beside the simulator's state.
    let default_file = state_dir(&args.repo).join("keelson.lock");
    let rt = runtime()?;
    let Some(loaded) = load_valid(&args.repo, today)? else {
        return Ok(ExitCode::from(1));
    };
    // One writer per fleet: the daemon and every CLI apply take the same lock.
    let policy = loaded
        .repo
        .fleet
        .as_ref()
        .and_then(|f| f.value.spec.policy.lock.as_deref());
    let spec = lock.args.spec(LockSources {
        file: lock.file,
        policy,
        default_file: &default_file,
    })?;
    let backend = rt.block_on(lock.args.open(&spec))?;
    let mut held = rt.block_on(standby::hold(backend, lock.wait))?;
    // Sharded replicas hold no fleet Lease: each writes to a cluster only while it holds
    // that cluster's Lease, and so does this apply.
    let shards = match &spec {
        crate::daemon::lock::LockSpec::Kubernetes { namespace, name } => {
            let timing = crate::daemon::lock::Timing::for_duration(
                lock.args.lock_duration,
                lock.args.lock_skew,
            );
            let me = crate::daemon::lock::identity(&crate::daemon::lock::Holder::me());
            // Only cluster Leases are taken here; no member Lease is written, so the
            // group name need not be a label value as `Membership::connect` requires.
            let (client, ns) = rt.block_on(crate::adapters::lease::client_for(
                namespace.as_deref(),
                &format!("shard group {name}"),
            ))?;
            Some(crate::adapters::members::Membership::new(
                client, &ns, name, &me, timing,
            ))
        }
        _ => None,
    };
    let locks = Locks {
        fleet: &mut held,
        shards: shards.as_ref(),
        wait: lock.wait,
    };
    let code = apply_locked(args, plan_file, approval, &loaded, &rt, locks);
    rt.block_on(held.release());
    code
}

/// What an apply holds or takes before writing: the fleet lock, and with a Lease lock
/// the Lease of each cluster it writes to.
struct Locks<'a> {
    fleet: &'a mut standby::Held,
    shards: Option<&'a crate::adapters::members::Membership>,
    wait: std::time::Duration,
}

/// The rest of `keelson apply`, while the fleet lock is held.
fn apply_locked(
    args: &TargetArgs,
    plan_file: Option<&Path>,
    approval: Approval,
    loaded: &Loaded,
    rt: &tokio::runtime::Runtime,
    locks: Locks<'_>,
) -> Result<ExitCode> {
    let held = locks.fleet;
    let target = connect(&args.spec()?, loaded, rt)?;
    let only: BTreeSet<String> = args.clusters.iter().cloned().collect();
    let plan = match plan_file {
        Some(path) => {
            let saved = read_plan_file(path)?;
            let fresh = rt.block_on(make_plan(
                &target,
                loaded,
                &if only.is_empty() {
                    BTreeSet::new()
                } else {
                    only.clone()
                },
                args.concurrency,
            ))?;
            let moved = plan::moved_since(&saved, &fresh);
            if !moved.is_empty() {
                bail!(
                    "the live state of {} changed since {} was made; run `keelson plan` again",
                    moved.join(", "),
                    path.display()
                );
            }
            saved
        }
        None => rt.block_on(make_plan(&target, loaded, &only, args.concurrency))?,
    };
    print!("{}", render::text(&plan));
    if !plan.has_changes() {
        target.flush()?;
        if plan.is_held() {
            println!(
                "Nothing to apply now: {} waiting for an earlier stage or for node groups to bake (see the held lines above).",
                plural(plan.summary.held_clusters, "cluster is", "clusters are")
            );
        } else if plan.is_settling() {
            println!(
                "Nothing to apply now, but the live state has not converged: operations are still running (see the waiting lines above); plan again once they end."
            );
        } else if !plan.is_blocked() {
            println!("No changes. The live state matches the repository.");
        }
        return Ok(ExitCode::from(if plan.is_blocked() { 3 } else { 0 }));
    }
    let refused: Vec<String> = plan.clusters.iter().filter_map(|c| c.one_way()).collect();
    if !refused.is_empty() && !approval.allow_irreversible {
        println!(
            "Refusing to apply: {} one-way (cannot be undone):\n  {}\nReview them and run again with --allow-irreversible, or change the repository.",
            plural(refused.len(), "cluster's plan makes a change that is", "clusters' plans make changes that are"),
            refused.join("\n  ")
        );
        return Ok(ExitCode::from(1));
    }
    // A saved plan is the approval, as in Terraform, unless it destroys something: then
    // the person applying it is asked again.
    let destructive = plan.clusters.iter().flat_map(|c| &c.steps).any(|s| {
        matches!(
            s.action,
            crate::plan::Action::Delete | crate::plan::Action::Replace
        ) || s
            .risks
            .iter()
            .any(|r| r.kind == crate::plan::RiskKind::Destructive)
    });
    let approved = approval.auto_approve || (plan_file.is_some() && !destructive);
    if !approved && !confirm()? {
        println!("Apply cancelled.");
        return Ok(ExitCode::from(1));
    }
    let progress = Arc::new(StderrProgress {
        // The live line is for a person at a terminal; JSON and --quiet get none.
        tty: std::io::stderr().is_terminal()
            && !crate::logging::is_json()
            && !crate::logging::is_quiet(),
        last: Mutex::new(BTreeMap::new()),
    });
    let opts = ApplyOptions {
        concurrency: args.concurrency,
        allow_irreversible: approval.allow_irreversible,
        ..ApplyOptions::default()
    };
    let started = std::time::Instant::now();
    let virtual_start = target.ports.clock.now();
    let broken_before = broken_counts(&target);
    let mut holds = match locks.shards {
        Some(m) => {
            let changed: Vec<String> = plan
                .clusters
                .iter()
                .filter(|c| !c.steps.is_empty())
                .map(|c| c.name.clone())
                .collect();
            let me = crate::daemon::lock::Holder::me();
            Some(rt.block_on(crate::daemon::cluster_holds::hold_clusters(
                m, &changed, &me, locks.wait,
            ))?)
        }
        None => None,
    };
    // A lock that can no longer be renewed stops the apply at its next step.
    let report = rt.block_on(async {
        let cluster_lost = async {
            match holds.as_mut() {
                Some(h) => h.lost().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = apply::apply(&target.ports, &plan, opts, progress) => Ok(r),
            why = held.lost() => Err(why),
            why = cluster_lost => Err(why),
        }
    });
    if let Some(h) = holds {
        rt.block_on(h.release());
    }
    let report = match report {
        Ok(r) => r,
        Err(why) => {
            target.flush()?;
            bail!("{why}: the apply stopped part-way; run it again once the lock is back (every step is found again, not re-issued)");
        }
    };
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
    // A rehearsal on the simulator: what the upgrades broke.
    let mut broke = BTreeMap::<String, usize>::new();
    if let Some(sim) = target.sim() {
        let state = sim.snapshot();
        for (name, c) in &state.clusters {
            let seen = broken_before.get(name).copied().unwrap_or(0);
            for b in c.broken.iter().skip(seen) {
                println!("  cluster {name}: BROKE {b}");
                *broke.entry(name.clone()).or_default() += 1;
            }
        }
    }
    // Converged? Plan again against what is there now.
    let after = rt.block_on(make_plan(&target, loaded, &only, args.concurrency))?;
    target.flush()?;
    if after.has_changes() || after.is_blocked() || after.is_held() || after.is_settling() {
        println!(
            "\nThe live state still differs from the repository:\n{}",
            render::text(&after)
        );
    } else {
        println!("The live state now matches the repository.");
    }
    if !broke.is_empty() {
        // The rehearsal did what it was asked, and found what the gate was there for: a
        // script (or CI) running it must not read that as success.
        let n: usize = broke.values().sum();
        println!(
            "\nThe upgrade broke {} on {}: see the BROKE lines above; fix them before upgrading for real.",
            plural(n, "object", "objects"),
            broke.keys().cloned().collect::<Vec<_>>().join(", ")
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::from(if !report.ok() {
        1
    } else if plan.is_blocked() {
        3
    } else {
        0
    }))
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// How many broken-object lines each simulated cluster has (none for other targets).
fn broken_counts(target: &Connected) -> BTreeMap<String, usize> {
    target
        .sim()
        .map(|sim| {
            sim.snapshot()
                .clusters
                .iter()
                .map(|(n, c)| (n.clone(), c.broken.len()))
                .collect()
        })
        .unwrap_or_default()
}

/// `keelson snapshot`: the observed live state of some clusters, written in the
/// simulator's state format so that `--target sim --state FILE` replays it.
///
/// # Errors
/// Unreadable repo or target, unwritable output.
pub fn snapshot_cmd(args: &TargetArgs, out: &Path, today: Date) -> Result<ExitCode> {
    let rt = runtime()?;
    let Some(loaded) = load_valid(&args.repo, today)? else {
        return Ok(ExitCode::from(1));
    };
    if args.clusters.is_empty() {
        bail!("name the clusters to snapshot with --cluster NAME (repeatable)");
    }
    let target = connect(&args.spec()?, &loaded, &rt)?;
    let only: BTreeSet<String> = args.clusters.iter().cloned().collect();
    let mut scope = scope_for(&loaded, &only, args.concurrency)?;
    scope.discover_fleet = None;
    let live = rt.block_on(observe::observe(&target.ports, &scope))?;
    let missing: Vec<&String> = only
        .iter()
        .filter(|n| !live.clusters.contains_key(*n))
        .collect();
    if !missing.is_empty() {
        bail!(
            "no such cluster in the target: {}",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut state = crate::adapters::sim::state_from_live(&live, target.ports.clock.now());
    // What a rehearsal of an upgrade needs from inside the clusters.
    let mut objects = 0usize;
    for (name, c) in state.clusters.iter_mut() {
        let found = rt.block_on(observe::rehearsal_objects(
            &target.ports,
            name,
            &c.live.version,
        ));
        objects += found.len();
        c.kube.extend(found);
    }
    let text = serde_json::to_string_pretty(&state)?;
    std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "wrote {} ({} cluster{}, {objects} Kubernetes object{} for upgrade rehearsals); replay it with `keelson plan --target sim --state {}`",
        out.display(),
        state.clusters.len(),
        if state.clusters.len() == 1 { "" } else { "s" },
        if objects == 1 { "" } else { "s" },
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
