//! `keelson run`: the daemon (and `--once`, one full sync).
//!
//! ```text
//!  signals ─┐   http (status, metrics, webhook) ─┐   watch / git poll / resync timers
//!           └──────────────► Wake channel ◄──────┘──────────────┐
//!  lock (standby until free) ─► journal ─► loop: revision ─► Reconciler::sync ─► accept │ reject ─► wait
//! ```
//!
//! Exit codes of `--once`: 0 converged, 2 changes pending (a manual stage, a closed
//! maintenance window, suspended), 3 a change is blocked by a gate, 1 error (invalid
//! revision, unreachable source or target, a failed apply).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};

use super::plan::TargetArgs;
use crate::apply::ApplyOptions;
use crate::daemon::journal::Journal;
use crate::daemon::lock::{self, Holder};
use crate::daemon::reconcile::{Options, Outcome, Reconciler, Revision};
use crate::daemon::source::{GitRef, GitSource};
use crate::daemon::status::{self, Phase, Rejected};
use crate::daemon::verify::AllowedSigners;
use crate::daemon::{http, watch, Shared, Wake};
use crate::versions::Date;

/// Output of `--once`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunOutput {
    /// A line per cluster and a summary.
    Text,
    /// The status document.
    Json,
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
    /// Where the lock file and the journal live (default: the repo's `.keelson/`, or the
    /// cache directory with --git).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// The fleet lock file (default: STATE_DIR/keelson.lock).
    #[arg(long, value_name = "FILE")]
    pub lock_file: Option<PathBuf>,
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
    /// Output of --once.
    #[arg(long, value_enum, default_value_t = RunOutput::Text)]
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

enum Src {
    Dir(PathBuf),
    Git(Box<GitSource>),
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn log(msg: &str) {
    let _ = writeln!(std::io::stderr(), "keelson run: {msg}");
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
    let shared = Arc::new(Shared::new(tx.clone(), secret));

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
            let g = GitSource::open(url, reference, &cache, signers)?;
            let state_dir = args.state_dir.clone().unwrap_or_else(|| cache.clone());
            let sim = args
                .target
                .state
                .clone()
                .unwrap_or_else(|| state_dir.join("sim.json"));
            (Src::Git(Box::new(g)), state_dir, sim)
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
                .unwrap_or_else(|| dir.join(".keelson").join("sim.json"));
            (Src::Dir(dir), state_dir, sim)
        }
    };
    let source_name = match &src {
        Src::Dir(d) => format!("dir {}", d.display()),
        Src::Git(g) => g.describe(),
    };
    {
        let mut st = shared.status();
        st.source = source_name.clone();
        if let Src::Git(g) = &src {
            st.revision = g.current().map(|c| c.id.clone());
        }
    }

    // Signals: finish cleanly on SIGTERM / SIGINT.
    {
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
    let lock_path = args
        .lock_file
        .clone()
        .unwrap_or_else(|| state_dir.join("keelson.lock"));
    let me = Holder::me();
    let mut announced = false;
    let _lock = loop {
        if let Some(l) = lock::try_acquire(&lock_path, &me)? {
            break l;
        }
        let holder = lock::read_holder(&lock_path);
        if args.once {
            bail!(
                "another keelson daemon holds the fleet lock {} ({}); stop it or wait",
                lock_path.display(),
                holder
                    .map(|h| h.to_string())
                    .unwrap_or_else(|| "holder unknown".into())
            );
        }
        if !announced {
            log(&format!(
                "standby: the fleet lock {} is held by {}; taking over when it is released",
                lock_path.display(),
                holder
                    .as_ref()
                    .map(|h| h.to_string())
                    .unwrap_or_else(|| "another process".into())
            ));
            announced = true;
        }
        {
            let mut st = shared.status();
            st.phase = Phase::Standby;
            st.ready = false;
            st.lock_holder = holder;
        }
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(Wake::Shutdown) | Err(RecvTimeoutError::Disconnected) => {
                return Ok(ExitCode::SUCCESS)
            }
            _ => {}
        }
    };
    if announced {
        log("took over the fleet lock");
    }
    if let Some(version) = &args.sim_seed {
        if args.target.target != super::plan::Target::Sim {
            bail!("--sim-seed is for the simulator (--target sim)");
        }
        if !sim_state.exists() {
            let Src::Dir(dir) = &src else {
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
    let mut target = args.target;
    target.state = Some(sim_state);
    let mut reconciler = Reconciler::new(
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
    );

    let _watch = match (&src, args.once) {
        (Src::Dir(d), false) => match watch::watch(d, tx.clone()) {
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

    let resync = Duration::from_secs(args.resync);
    let interval = Duration::from_secs(args.interval);
    let mut next_resync = Instant::now();
    let mut next_fetch = Instant::now();
    let mut retry_at: Option<Instant> = None;
    let mut failures = 0u32;
    let mut files: Vec<PathBuf> = Vec::new();
    let mut last_rejected: Option<String> = None;
    let mut full = true;
    let mut dir_generation = 0u64;
    loop {
        if shared.stopping() {
            break;
        }
        let now = Instant::now();
        let fetch_due = matches!(src, Src::Git(_)) && now >= next_fetch;
        let resync_due = now >= next_resync || retry_at.is_some_and(|t| now >= t);
        if resync_due {
            full = true;
        }
        // Which revision, and is there anything to do?
        let mut candidate: Option<Revision> = None;
        let mut source_error: Option<(String, bool)> = None;
        match &mut src {
            Src::Dir(d) => {
                if !files.is_empty() {
                    dir_generation += 1;
                }
                if full || !files.is_empty() {
                    candidate = Some(Revision {
                        // Each batch of changes is a new revision of the directory, so a
                        // failed apply is tried again once the files change.
                        id: format!("dir:{}#{dir_generation}", d.display()),
                        dir: d.clone(),
                    });
                }
            }
            Src::Git(g) => {
                if fetch_due {
                    next_fetch = now + interval;
                    match g.fetch() {
                        Ok(head) => {
                            let known = g.current().map(|c| c.id.as_str()) == Some(head.as_str());
                            if !known && last_rejected.as_deref() != Some(head.as_str()) {
                                log(&format!("new revision {head}"));
                                match g.checkout(&head) {
                                    Ok(rev) => candidate = Some(rev),
                                    Err(e) => {
                                        let msg = format!("{e}");
                                        log(&format!("revision {head} refused: {msg}"));
                                        last_rejected = Some(head.clone());
                                        let mut st = shared.status();
                                        st.rejected = Some(Rejected {
                                            revision: head,
                                            reason: msg.clone(),
                                        });
                                        if !e.is_transient() {
                                            st.last_error = Some(msg.clone());
                                        }
                                        drop(st);
                                        source_error = Some((msg, e.is_transient()));
                                    }
                                }
                            }
                        }
                        Err(e) => {
                            let msg = format!("{e}");
                            log(&msg);
                            shared.status().last_error = Some(msg.clone());
                            source_error = Some((msg, e.is_transient()));
                        }
                    }
                }
                if candidate.is_none() && full {
                    candidate = g.current().cloned();
                }
            }
        }

        let mut once_code: Option<u8> = None;
        if let Some(rev) = candidate {
            shared.status().phase = Phase::Syncing;
            // A new git revision is a new directory: always loaded in full.
            let changed = if full || matches!(src, Src::Git(_)) {
                None
            } else {
                Some(std::mem::take(&mut files))
            };
            let kind = if changed.is_some() {
                "change"
            } else {
                "full sync"
            };
            let started = Instant::now();
            // The sync runs on its own thread, so that its many short-lived allocations
            // land in another malloc arena than the little that outlives it, which is
            // copied back afterwards: the idle daemon then returns nearly all of the
            // sync's memory (see `compact`).
            let outcome = std::thread::scope(|scope| {
                scope
                    .spawn(|| reconciler.sync(&rt, &rev, changed.as_deref()))
                    .join()
            })
            .unwrap_or_else(|_| Outcome::Error {
                message: "the sync stopped on an internal error; see the log".into(),
                transient: true,
            });
            reconciler.compact();
            shared.compact();
            files.clear();
            match outcome {
                Outcome::Done(code) => {
                    log(&format!(
                        "{kind} of {} done in {} ms (exit status {code})",
                        short(&rev.id),
                        started.elapsed().as_millis()
                    ));
                    if let Src::Git(g) = &mut src {
                        g.accept(rev.clone());
                    }
                    let mut st = shared.status();
                    st.revision = Some(rev.id.clone());
                    st.ready = true;
                    if st.rejected.as_ref().is_some_and(|r| r.revision == rev.id) {
                        st.rejected = None;
                    }
                    drop(st);
                    shared.metrics.set_revision(&rev.id, &source_name);
                    shared.metrics.set_ready(true);
                    if reconciler.take_retry() {
                        failures += 1;
                        let d = status::backoff(failures);
                        log(&format!(
                            "a transient error stopped an apply; retrying in {} s",
                            d.as_secs()
                        ));
                        retry_at = Some(Instant::now() + d);
                    } else {
                        failures = 0;
                        retry_at = None;
                    }
                    if full {
                        next_resync = Instant::now() + resync;
                    }
                    full = false;
                    once_code = Some(code);
                    // A refused head leaves the last good revision synced, and is still an
                    // error to report.
                    if let Some((msg, false)) = &source_error {
                        shared.status().last_error = Some(msg.clone());
                        once_code = Some(1);
                    }
                }
                Outcome::Skipped => {
                    full = false;
                }
                Outcome::Invalid(msg) => {
                    log(&format!("revision {} is invalid; nothing applied, the last good revision stays:\n{msg}", short(&rev.id)));
                    let mut st = shared.status();
                    st.rejected = Some(Rejected {
                        revision: rev.id.clone(),
                        reason: format!("invalid: {msg}"),
                    });
                    st.last_error = Some(format!("revision {} is invalid", rev.id));
                    drop(st);
                    if let Src::Git(g) = &src {
                        g.reject(&rev);
                        last_rejected = Some(rev.id.clone());
                    }
                    full = false;
                    next_resync = Instant::now() + resync;
                    once_code = Some(1);
                }
                Outcome::Error { message, transient } => {
                    log(&format!("sync failed: {message}"));
                    shared.status().last_error = Some(message);
                    failures += 1;
                    if transient {
                        let d = status::backoff(failures);
                        log(&format!("retrying in {} s", d.as_secs()));
                        retry_at = Some(Instant::now() + d);
                    } else {
                        retry_at = None;
                        next_resync = Instant::now() + resync;
                    }
                    if let Src::Git(g) = &src {
                        if g.current().map(|c| &c.id) != Some(&rev.id) {
                            g.reject(&rev);
                        }
                    }
                    full = false;
                    once_code = Some(1);
                }
                Outcome::Stopped => break,
            }
        } else if let Some((msg, transient)) = source_error {
            if transient {
                failures += 1;
                let d = status::backoff(failures).min(interval);
                next_fetch = Instant::now() + d;
            }
            once_code = Some(1);
            if args.once {
                log(&format!("no revision to sync: {msg}"));
            }
        } else if args.once {
            log("no revision to sync");
            once_code = Some(1);
        }
        shared.status().phase = Phase::Idle;

        if args.once {
            let code = once_code.unwrap_or(1);
            print_once(&shared, args.output)?;
            return Ok(ExitCode::from(code));
        }

        // Wait for a change, a webhook, a timer or a signal. The loader frees its
        // parse trees on a helper thread after a large load; give that memory back
        // once it is done.
        if let Ok(w) = rx.recv_timeout(Duration::from_millis(300)) {
            let _ = tx.send(w);
        }
        crate::daemon::trim_memory();
        let mut deadline = next_resync;
        if matches!(src, Src::Git(_)) {
            deadline = deadline.min(next_fetch);
        }
        if let Some(t) = retry_at {
            deadline = deadline.min(t);
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(Wake::Files(p)) => {
                files.extend(p);
                while let Ok(w) = rx.try_recv() {
                    match w {
                        Wake::Files(p) => files.extend(p),
                        Wake::Webhook => next_fetch = Instant::now(),
                        Wake::Shutdown => break,
                    }
                }
            }
            Ok(Wake::Webhook) => {
                next_fetch = Instant::now();
                if matches!(src, Src::Dir(_)) {
                    full = true;
                }
            }
            Ok(Wake::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
    shared.status().phase = Phase::Stopping;
    shared.metrics.set_ready(false);
    log("stopped");
    Ok(ExitCode::SUCCESS)
}

fn short(id: &str) -> &str {
    if id.starts_with("dir:") {
        id
    } else {
        id.get(..12).unwrap_or(id)
    }
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
                let mut line = format!("  {name:width$}  {:8} {:6}  {}", c.stage, c.apply, c.state);
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
            let count = |s: &str| st.clusters.values().filter(|c| c.state == s).count();
            writeln!(
                out,
                "Sync: {} converged, {} pending, {} blocked, {} failed.",
                count("converged"),
                count("pending"),
                count("blocked"),
                count("failed")
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
