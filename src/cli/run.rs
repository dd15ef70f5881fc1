//! `keelson run`: the daemon (and `--once`, one full sync). This module sets it up from
//! the command line — source, state directory, signals, HTTP listener, fleet lock,
//! journal, simulator seed — and hands over to [`crate::daemon::driver::run_loop`].
//!
//! ```text
//!  signals ─┐   http (status, metrics, webhook) ─┐   watch / git poll / resync timers
//!           └──────────────► Wake channel ◄──────┘──────────────┐
//!  lock (standby until free) ─► journal ─► daemon::driver loop (Schedule + Reconciler) ─► --once output
//! ```
//!
//! Exit codes of `--once`: 0 converged, 2 changes pending (a manual stage, a closed
//! maintenance window, suspended), 3 a change is blocked by a gate, 1 error (invalid
//! revision, unreachable source or target, a failed apply).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};

use super::lockargs::LockSources;
use super::plan::TargetArgs;
use crate::adapters::notify::{Notifier, SendOptions};
use crate::apply::ApplyOptions;
use crate::daemon::driver::{log, run_loop, LoopOptions, Source};
use crate::daemon::journal::Journal;
use crate::daemon::reconcile::{Options, Reconciler};
use crate::daemon::source::{GitRef, GitSource};
use crate::daemon::status::{ClusterState, Phase};
use crate::daemon::verify::AllowedSigners;
use crate::daemon::{http, standby, watch, Shared, Wake};
use crate::sync::{runtime, TargetSpec};
use crate::versions::Date;

/// How long a stopping daemon waits for queued notifications.
const NOTIFY_GRACE: Duration = Duration::from_secs(5);

/// Output of `--once`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunOutput {
    /// A line per cluster and a summary.
    Text,
    /// The status document.
    Json,
}

/// How `keelson run` divides the fleet among replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShardMode {
    /// Replicas find each other through Leases and divide the clusters by rendezvous
    /// hashing of their names; each writes only to the clusters it owns.
    Auto,
}

/// Options of `keelson run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Target options; `--repo DIR` is a local directory to watch (`--repo URL` is the same
    /// as `--git URL`).
    #[command(flatten)]
    pub target: TargetArgs,
    /// Follow this git remote (HTTPS, SSH or file URL) instead of a local directory.
    #[arg(long, value_name = "URL")]
    pub git: Option<String>,
    /// Branch to follow.
    #[arg(long, default_value = "main", conflicts_with = "tag")]
    pub branch: String,
    /// Follow a tag instead of a branch.
    #[arg(long)]
    pub tag: Option<String>,
    /// Where the git clone and the checkouts live (default: ~/.cache/keelson/git).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Follow rewritten history: apply a new head that does not descend from the last
    /// applied revision (by default it is refused, so a force-push to an older commit
    /// cannot roll the fleet back).
    #[arg(long)]
    pub allow_force_push: bool,
    /// Stop a fetch of the git remote that downloads more than this many MiB.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    pub max_fetch_mib: u64,
    /// Where the lock file and the journal live (default: the repo's `.keelson/`, or with
    /// --git this source's own directory in the cache, keyed by URL and ref). The simulator's
    /// state defaults to STATE_DIR/sim.json when this is given. The image sets it to
    /// /var/lib/keelson, so that a repository mounted read-only works.
    #[arg(long, env = "KEELSON_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// The fleet lock file (default: STATE_DIR/keelson.lock).
    #[arg(long, value_name = "FILE")]
    pub lock_file: Option<PathBuf>,
    /// The fleet lock (`--lock`, `--lock-duration`, `--lock-skew`).
    #[command(flatten)]
    pub lock: super::lockargs::LockArgs,
    /// `auto`: divide the clusters among the replicas that share the `--lock
    /// kubernetes:NAMESPACE/NAME` Lease name (a shard group), instead of one active
    /// replica per fleet. Each replica plans and writes only the clusters it owns, each
    /// under its own Lease.
    #[arg(long, value_enum, value_name = "MODE")]
    pub shards: Option<ShardMode>,
    /// The journal of in-flight applies (default: STATE_DIR/journal.jsonl).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// How often to fetch the git remote.
    #[arg(long, default_value = "1m", value_parser = parse_secs)]
    pub interval: u64,
    /// How often to plan everything again (drift detection), even without a change.
    #[arg(long, default_value = "10m", value_parser = parse_secs)]
    pub resync: u64,
    /// Address for /healthz, /readyz, /status, /metrics and /webhook; `none` turns it off.
    /// Default: 127.0.0.1:9898, or none with --once.
    #[arg(long)]
    pub listen: Option<String>,
    /// A file holding the webhook secret (enables POST /webhook).
    #[arg(long, value_name = "FILE")]
    pub webhook_secret_file: Option<PathBuf>,
    /// A file holding the bearer token of the control endpoints (`POST /control/...`:
    /// reconcile, suspend, resume, approve). Without it (or `KEELSON_CONTROL_TOKEN`, the
    /// token itself) they are off.
    #[arg(long, env = "KEELSON_CONTROL_TOKEN_FILE", value_name = "FILE")]
    pub control_token_file: Option<PathBuf>,
    /// Only apply commits signed by a key in this file (git's allowed signers format).
    #[arg(long, value_name = "FILE")]
    pub allowed_signers: Option<PathBuf>,
    /// Plan and report, apply nothing.
    #[arg(long)]
    pub suspend: bool,
    /// One full sync, then exit: 0 converged, 2 changes pending, 3 blocked, 1 error.
    #[arg(long)]
    pub once: bool,
    /// Simulator only: when the simulator state does not exist yet, first create the
    /// repository's clusters at this older minor (as `keelson sim seed`), so that the run
    /// shows the upgrade the repository asks for.
    #[arg(long, value_name = "1.N")]
    pub sim_seed: Option<String>,
    /// Output of --once (`--format`, as on every other command; `--output` still works).
    #[arg(long = "format", alias = "output", value_name = "FORMAT", value_enum, default_value_t = RunOutput::Text)]
    pub output: RunOutput,
    /// Seconds (virtual on the simulator) between polls of a running operation.
    #[arg(long, default_value_t = 30)]
    pub poll: u64,
}

fn parse_secs(s: &str) -> Result<u64, String> {
    crate::model::Duration::seconds(s)
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{s}` is not a duration such as 30s, 5m or 1h"))
}

/// `keelson run`.
///
/// # Errors
/// Bad options, an unreadable secret or signers file, an address in use, a lock file
/// that cannot be opened.
pub fn run_cmd(args: RunArgs, today: Date) -> Result<ExitCode> {
    crate::daemon::tune_allocator();
    // Compile the JSON Schemas on this thread: they live as long as the process, and
    // belong in the main allocator arena rather than among a sync's short-lived data.
    let _ = crate::config::schema::Schemas::get();
    let _ = crate::deprecations::table::ApiTable::shared();
    let rt = runtime()?;
    let secret = match &args.webhook_secret_file {
        Some(p) => {
            let s = std::fs::read(p)
                .with_context(|| format!("reading the webhook secret file {}", p.display()))?;
            let s = String::from_utf8_lossy(&s)
                .trim_end_matches(['\n', '\r'])
                .as_bytes()
                .to_vec();
            if s.is_empty() {
                bail!("the webhook secret file {} is empty", p.display());
            }
            Some(s)
        }
        None => None,
    };
    let signers = match &args.allowed_signers {
        Some(p) => Some(AllowedSigners::load(p)?),
        None => None,
    };
    let (tx, rx) = mpsc::channel();
    let token = super::status::control_token(args.control_token_file.as_deref())?;
    let shared = Arc::new(Shared::new(tx.clone(), secret).with_control_token(token));

    // The source, and where local state lives.
    // `--repo URL` is accepted for a remote, as `--git URL`.
    let repo_text = args.target.repo.to_string_lossy();
    let git_url = args.git.clone().or_else(|| {
        ["https://", "http://", "ssh://", "file://", "git@"]
            .iter()
            .any(|p| repo_text.starts_with(p))
            .then(|| repo_text.to_string())
    });
    if signers.is_some() && git_url.is_none() {
        bail!("--allowed-signers needs --git: a local directory has no commits to verify");
    }
    let (mut src, state_dir, sim_state) = match &git_url {
        Some(url) => {
            let cache = args.cache_dir.clone().unwrap_or_else(|| {
                let home = std::env::var("HOME").unwrap_or_else(|_| ".".into());
                Path::new(&home).join(".cache").join("keelson").join("git")
            });
            let reference = match &args.tag {
                Some(t) => GitRef::Tag(t.clone()),
                None => GitRef::Branch(args.branch.clone()),
            };
            let g = GitSource::open(url, reference, &cache, signers)?
                .allow_force_push(args.allow_force_push)
                .max_fetch_bytes(args.max_fetch_mib.saturating_mul(1024 * 1024));
            // The lock, the journal and the simulator's state belong to this source, not
            // to every fleet that shares the cache directory.
            let state_dir = args
                .state_dir
                .clone()
                .unwrap_or_else(|| g.dir().to_path_buf());
            let sim = args
                .target
                .state
                .clone()
                .unwrap_or_else(|| state_dir.join("sim.json"));
            (Source::Git(Box::new(g)), state_dir, sim)
        }
        None => {
            let dir = args.target.repo.canonicalize().with_context(|| {
                format!(
                    "repository directory {} cannot be read",
                    args.target.repo.display()
                )
            })?;
            let state_dir = args
                .state_dir
                .clone()
                .unwrap_or_else(|| dir.join(".keelson"));
            let sim = args
                .target
                .state
                .clone()
                .unwrap_or_else(|| state_dir.join("sim.json"));
            (Source::Dir(dir), state_dir, sim)
        }
    };
    {
        let mut st = shared.status();
        st.source = src.describe();
        if let Source::Git(g) = &src {
            st.revision = g.current().map(|c| c.id.clone());
        }
    }

    // Signals: finish cleanly on SIGTERM / SIGINT.
    {
        rt.spawn(crate::daemon::driver::stop_within_grace(shared.clone()));
        let shared = shared.clone();
        rt.spawn(async move {
            wait_for_signal().await;
            shared.shutdown.send_replace(true);
            shared.wake(Wake::Shutdown);
        });
    }
    let listen = args.listen.clone().unwrap_or_else(|| {
        if args.once {
            "none".to_string()
        } else {
            "127.0.0.1:9898".to_string()
        }
    });
    if listen != "none" {
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(&listen))
            .with_context(|| {
                format!("listening on {listen} (pass --listen ADDR or --listen none)")
            })?;
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        log(&format!(
            "serving /status, /metrics, /healthz, /readyz and /webhook on http://{addr}"
        ));
        rt.spawn(http::serve(listener, shared.clone()));
    }

    // One daemon per fleet.
    let lock_path = state_dir.join("keelson.lock");
    let policy = if args.lock.lock.is_none() && args.lock_file.is_none() {
        fleet_lock_policy(&src, today)
    } else {
        None
    };
    let spec = args.lock.spec(LockSources {
        file: args.lock_file.as_deref(),
        policy: policy.as_deref(),
        default_file: &lock_path,
    })?;
    let (backend, guard, shards) = match args.shards {
        Some(ShardMode::Auto) => {
            let Some(sh) = super::shardargs::join(&args.lock, &spec, args.once, &shared, &rx, &rt)?
            else {
                return Ok(ExitCode::SUCCESS);
            };
            (None, None, Some(sh))
        }
        None => {
            let backend = rt.block_on(args.lock.open(&spec))?;
            if !standby::acquire(&backend, args.once, &shared, &rx, &rt)? {
                return Ok(ExitCode::SUCCESS);
            }
            let guard = rt.spawn(standby::guard(backend.clone(), shared.clone()));
            (Some(backend), Some(guard), None)
        }
    };
    if let Some(version) = &args.sim_seed {
        if args.target.target != crate::sync::Target::Sim {
            bail!("--sim-seed is for the simulator (--target sim)");
        }
        if !sim_state.exists() {
            let Source::Dir(dir) = &src else {
                bail!("--sim-seed needs a local directory (--repo DIR)");
            };
            log(&format!("seeding the simulator at Kubernetes {version}"));
            let code =
                super::sim::seed_at(dir, &sim_state, version, today, args.target.concurrency)?;
            if code != ExitCode::SUCCESS {
                return Ok(code);
            }
        }
    }
    {
        let mut st = shared.status();
        st.phase = Phase::Starting;
        st.lock_holder = None;
    }
    let journal_path = args
        .journal
        .clone()
        .unwrap_or_else(|| state_dir.join("journal.jsonl"));
    let (journal, flying) = Journal::open(&journal_path)?;
    for bad in journal.skipped() {
        log(bad);
    }
    for f in &flying {
        log(&format!(
            "resuming: cluster {} was being changed (revision {}, last step {}) when the last daemon stopped",
            f.cluster,
            f.revision,
            f.last_step.as_deref().unwrap_or("none")
        ));
    }
    let in_flight: BTreeSet<String> = flying.iter().map(|f| f.cluster.clone()).collect();
    shared.status().resumed = flying;

    let concurrency = args.target.concurrency;
    let notifier = Arc::new(Notifier::new(
        rt.handle().clone(),
        SendOptions::default(),
        git_url.clone(),
    ));
    let target = TargetSpec {
        state: sim_state,
        ..args.target.spec()?
    };
    let reconciler = Reconciler::new(
        Options {
            target,
            today,
            suspend: args.suspend,
            apply: ApplyOptions {
                concurrency,
                poll_secs: args.poll.max(1),
                ..ApplyOptions::default()
            },
        },
        shared.clone(),
        Some(Arc::new(journal)),
        in_flight,
    )
    .with_notifier(notifier.clone());
    let mut reconciler = match &shards {
        Some(sh) => reconciler.with_shards(sh.clone()),
        None => reconciler,
    };

    let _watch = match (&src, args.once) {
        (Source::Dir(d), false) => match watch::watch(d, tx.clone()) {
            Ok(w) => Some(w),
            Err(e) => {
                log(&format!(
                    "not watching {} ({e}); changes are picked up at each resync",
                    d.display()
                ));
                None
            }
        },
        _ => None,
    };

    let code = run_loop(
        &mut src,
        &mut reconciler,
        &shared,
        &rt,
        (&tx, &rx),
        LoopOptions {
            resync: Duration::from_secs(args.resync),
            interval: Duration::from_secs(args.interval),
            once: args.once,
        },
    );
    // Queued notifications get a little time to go out (a dead endpoint does not keep
    // the daemon from stopping).
    if !rt.block_on(notifier.flush(NOTIFY_GRACE)) {
        log(&format!(
            "notifications not sent within {} s were dropped",
            NOTIFY_GRACE.as_secs()
        ));
    }
    // Let go of the lock at once, so that a standby need not wait for it to expire.
    if let Some(g) = guard {
        g.abort();
    }
    if let Some(sh) = &shards {
        rt.block_on(sh.leave());
    }
    let lost = shared.lock_lost.load(std::sync::atomic::Ordering::SeqCst);
    let lock_name = backend.as_ref().map_or_else(String::new, |b| b.describe());
    if let (false, Some(backend)) = (lost, &backend) {
        if let Err(e) = rt.block_on(backend.release()) {
            log(&format!(
                "the fleet lock was not released ({e}); it expires on its own"
            ));
        }
    }
    match code {
        Some(code) => {
            print_once(&shared, args.output)?;
            Ok(ExitCode::from(code))
        }
        None if lost => {
            bail!("lost the fleet lock, {lock_name}; stopped")
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

/// The Fleet's `spec.policy.lock` in the source's current revision (for a git remote
/// without one yet, its head, fetched now), read on a thread of its own (the load's
/// memory goes back before the daemon settles). A revision that cannot be read names no
/// lock, and says so: the first sync reports why.
fn fleet_lock_policy(src: &Source, today: Date) -> Option<String> {
    let dir = match src {
        Source::Dir(d) => d.clone(),
        Source::Git(g) => match g.current() {
            Some(c) => c.dir.clone(),
            None => match g.fetch().and_then(|head| g.checkout(&head)) {
                Ok(rev) => rev.dir,
                Err(e) => {
                    log(&format!("cannot read the Fleet's spec.policy.lock ({e}); taking the lock file; pass --lock to name the fleet lock on the command line"));
                    return None;
                }
            },
        },
    };
    let lock = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let loaded = crate::sync::load_repo(&dir, today).ok()?;
                loaded.repo.fleet?.value.spec.policy.lock
            })
            .join()
            .ok()
            .flatten()
    });
    crate::daemon::trim_memory();
    lock
}

fn print_once(shared: &Shared, output: RunOutput) -> Result<()> {
    let st = shared.status().clone();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match output {
        RunOutput::Json => {
            serde_json::to_writer_pretty(&mut out, &st)?;
            writeln!(out)?;
        }
        RunOutput::Text => {
            writeln!(
                out,
                "Revision {} ({})",
                st.revision.as_deref().unwrap_or("none"),
                st.source
            )?;
            if let Some(r) = &st.rejected {
                writeln!(out, "Refused revision {}: {}", r.revision, r.reason)?;
            }
            let width = st.clusters.keys().map(String::len).max().unwrap_or(0);
            for (name, c) in &st.clusters {
                let mut line = format!(
                    "  {name:width$}  {:8} {:6}  {}",
                    c.stage,
                    c.apply.as_str(),
                    c.state
                );
                if c.applied_steps > 0 {
                    line.push_str(&format!(", {} step(s) applied", c.applied_steps));
                }
                if c.plan.total() > 0 {
                    line.push_str(&format!(
                        "; to do: {} create, {} change, {} replace, {} delete",
                        c.plan.create, c.plan.update, c.plan.replace, c.plan.delete
                    ));
                }
                if let Some(r) = &c.reason {
                    line.push_str(&format!(" ({r})"));
                }
                if !c.blocked.is_empty() {
                    line.push_str(&format!(" (blocked: {})", c.blocked.join("; ")));
                }
                if let Some(e) = &c.last_error {
                    line.push_str(&format!(" (error: {e})"));
                }
                writeln!(out, "{line}")?;
            }
            let count = |s: ClusterState| st.clusters.values().filter(|c| c.state == s).count();
            writeln!(
                out,
                "Sync: {} converged, {} pending, {} blocked, {} failed.",
                count(ClusterState::Converged),
                count(ClusterState::Pending),
                count(ClusterState::Blocked),
                count(ClusterState::Failed)
            )?;
            if let Some(e) = &st.last_error {
                writeln!(out, "Error: {e}")?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
