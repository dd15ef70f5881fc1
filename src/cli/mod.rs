//! The command line: clap definitions and one function per subcommand.
//!
//! Results go to stdout, logs to stderr. Each subcommand returns its exit code; errors
//! that stop a command bubble up as `anyhow::Error` and exit 1.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use crate::config;
use crate::model::Kind;
use crate::sync::{load_repo, summary};
use crate::versions::Date;

pub mod check;
pub mod deprecations;
pub mod import;
pub mod lockargs;
pub mod plan;
pub mod pr;
pub mod run;
pub mod shardargs;
pub mod sim;
pub mod status;

/// keelson: GitOps for Amazon EKS fleets.
#[derive(Debug, Parser)]
#[command(name = "keelson", version, about, long_about = None)]
pub struct Cli {
    /// Format of every line on stderr: `text` (logs with time and level), or `json` (one
    /// object per line: logs, progress, diagnostics, summaries and SDK warnings alike).
    #[arg(long, global = true, env = "KEELSON_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Only warnings and errors on stderr (no progress). Results on stdout are unchanged.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    /// Take this date (YYYY-MM-DD) as today for the version support calendar, e.g. to
    /// rehearse what a repo will look like on a later day.
    #[arg(long, global = true, env = "KEELSON_TODAY", value_parser = parse_date)]
    pub today: Option<Date>,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Output format of `validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// `FILE:LINE:COL: error[RULE]: message` lines and a summary.
    Text,
    /// One JSON object.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a config repo: YAML, JSON Schemas and keelson's rules. Exit 0 when
    /// valid, 1 when not; every problem is listed.
    Validate {
        /// The config repo.
        #[arg(long, default_value = ".")]
        repo: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
    /// Compute what would change in AWS and Kubernetes to match the repository.
    /// With --detailed-exitcode: 0 no changes, 1 error, 2 changes, 3 blocked.
    Plan {
        /// Target options.
        #[command(flatten)]
        target: plan::TargetArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = plan::PlanFormat::Text)]
        format: plan::PlanFormat,
        /// Also save the plan (JSON) to this file, for `apply --plan`.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Exit 2 when there are changes and 3 when a change is blocked.
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Make the live state match the repository (or apply a saved plan).
    Apply {
        /// Target options.
        #[command(flatten)]
        target: plan::TargetArgs,
        /// Apply this saved plan; refused if the live state moved on since it was made.
        #[arg(long)]
        plan: Option<PathBuf>,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
        /// Also run steps that make a one-way transition the API cannot undo (marked
        /// `irreversible (one-way …)` in the plan). Without it such a plan is refused.
        #[arg(long)]
        allow_irreversible: bool,
        /// The fleet lock to hold while applying, shared with `keelson run` (default:
        /// `keelson.lock` in `KEELSON_STATE_DIR` when set, else `.keelson/keelson.lock`
        /// under the repository, where a daemon watching it keeps its lock).
        #[arg(long, value_name = "FILE")]
        lock_file: Option<PathBuf>,
        /// The fleet lock (as `keelson run --lock`).
        #[command(flatten)]
        lock: lockargs::LockArgs,
        /// While another process holds the fleet lock, wait this long for it (default:
        /// refuse at once, naming the holder).
        #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = lockargs::duration)]
        lock_wait: std::time::Duration,
    },
    /// The readiness of one cluster for an upgrade: every hop from its live version to
    /// `--to` (default: the version in git), gate by gate. Exit 0 ready, 2 waiting for
    /// an earlier stage, 3 blocked, 1 error.
    Check {
        /// Options.
        #[command(flatten)]
        args: check::CheckArgs,
    },
    /// Set up and inspect the simulator for rehearsals: seed clusters at an older minor,
    /// move its clock, report what upgrades did.
    Sim {
        /// What to do.
        #[command(subcommand)]
        command: sim::SimCommand,
    },
    /// Write the observed live state of clusters (AWS and Kubernetes) in the simulator's
    /// state format, so that `--target sim --state FILE` replays it for a rehearsal.
    Snapshot {
        /// Target options (`--cluster NAME` names the clusters).
        #[command(flatten)]
        target: plan::TargetArgs,
        /// Where to write the state (the file `--out` names on every command).
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        out: PathBuf,
    },
    /// Find deprecated and removed Kubernetes API versions in manifest files (and in the
    /// Helm release records among them). Exit 0 clean, 1 error, 2 deprecated, 3 removed.
    Deprecations {
        /// Options.
        #[command(flatten)]
        args: deprecations::DeprecationsArgs,
    },
    /// The daemon: watch the repository (a local directory or a git remote), plan every
    /// change, apply per Fleet policy, detect drift, serve status and metrics. With --once:
    /// one full sync, exit 0 converged, 2 changes pending, 3 blocked, 1 error.
    Run {
        /// Options.
        #[command(flatten)]
        args: Box<run::RunArgs>,
    },
    /// Write keelson files for clusters that already exist: read live (`--cluster NAME`)
    /// or converted from an eksctl ClusterConfig (`--from-eksctl FILE`, exit 2 when a
    /// field was left out).
    Import {
        /// Options.
        #[command(flatten)]
        args: Box<import::ImportArgs>,
    },
    /// Talk to a running daemon: status, reconcile, suspend, resume, approve.
    #[command(flatten)]
    Daemon(status::DaemonCommand),
    /// Print or write the JSON Schemas of every kind.
    Schema {
        /// Write one file per kind into this directory instead of printing (`--out`
        /// elsewhere names one file; the old `--out DIR` still works).
        #[arg(long, value_name = "DIR", alias = "out")]
        out_dir: Option<PathBuf>,
        /// Print only this kind's schema (e.g. `cluster`).
        #[arg(long)]
        kind: Option<String>,
    },
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell, e.g.
    /// `keelson completions bash > ~/.local/share/bash-completion/completions/keelson`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Write the completion script of `shell` for every subcommand and flag.
///
/// # Errors
/// The output cannot be written.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> Result<()> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "keelson", &mut buf);
    out.write_all(&buf).context("writing the completion script")
}

fn parse_date(s: &str) -> Result<Date, String> {
    let parts: Vec<&str> = s.split('-').collect();
    let bad = || format!("`{s}` is not a date of the form YYYY-MM-DD");
    if parts.len() != 3 {
        return Err(bad());
    }
    let year = parts[0].parse().map_err(|_| bad())?;
    let month: u32 = parts[1].parse().map_err(|_| bad())?;
    let day: u32 = parts[2].parse().map_err(|_| bad())?;
    Date::checked(year, month, day)
        .ok_or_else(|| format!("`{s}` is not a day of the calendar (YYYY-MM-DD)"))
}

/// Today's date from the system clock (UTC).
pub fn system_today() -> Date {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Date::from_unix(secs)
}

/// Run a parsed command line.
///
/// # Errors
/// Anything that stops the command (unreadable repo, unwritable output).
pub fn run(cli: Cli) -> Result<ExitCode> {
    let today = cli.today.unwrap_or_else(system_today);
    match cli.command {
        Command::Validate { repo, format } => validate(&repo, format, today),
        Command::Schema { out_dir, kind } => schema(out_dir.as_deref(), kind.as_deref()),
        Command::Completions { shell } => {
            completions(shell, &mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Deprecations { args } => deprecations::deprecations_cmd(&args),
        Command::Check { args } => check::check_cmd(&args, today),
        Command::Sim { command } => sim::sim_cmd(&command, today),
        Command::Run { args } => run::run_cmd(*args, today),
        Command::Import { args } => import::import_cmd(&args, today),
        Command::Daemon(cmd) => status::daemon_cmd(&cmd),
        Command::Snapshot { target, out } => plan::snapshot_cmd(&target, &out, today),
        Command::Plan {
            target,
            format,
            out,
            detailed_exitcode,
        } => plan::plan_cmd(&target, format, out.as_deref(), detailed_exitcode, today),
        Command::Apply {
            target,
            plan: plan_file,
            auto_approve,
            allow_irreversible,
            lock_file,
            lock,
            lock_wait,
        } => {
            let approval = plan::Approval {
                auto_approve,
                allow_irreversible,
            };
            let lock = plan::ApplyLock {
                args: &lock,
                file: lock_file.as_deref(),
                wait: lock_wait,
            };
            plan::apply_cmd(&target, plan_file.as_deref(), approval, lock, today)
        }
    }
}

fn validate(repo: &Path, format: ReportFormat, today: Date) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let loaded = load_repo(repo, today)?;
    tracing::debug!(
        files = loaded.stats.files,
        documents = loaded.stats.documents,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "loaded repo"
    );
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match format {
        ReportFormat::Text => {
            for d in &config::diag::for_display(&loaded.diagnostics) {
                writeln!(out, "{d}")?;
            }
            writeln!(out, "{}", summary(&loaded))?;
        }
        ReportFormat::Json => {
            let report = serde_json::json!({
                "valid": loaded.is_valid(),
                "errors": loaded.errors(),
                "warnings": loaded.warnings(),
                "files": loaded.stats.files,
                "documents": loaded.stats.documents,
                "clusters": loaded.repo.clusters.len(),
                "problems": loaded.diagnostics,
            });
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    let code = if loaded.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    // The process ends right after this; returning the memory piece by piece would only
    // add to the run time of a large repo.
    std::mem::forget(loaded);
    Ok(code)
}

fn schema(out: Option<&Path>, kind: Option<&str>) -> Result<ExitCode> {
    let kinds: Vec<Kind> = match kind {
        None => Kind::ALL.to_vec(),
        Some(k) => {
            let found = Kind::ALL
                .iter()
                .copied()
                .find(|x| x.name().eq_ignore_ascii_case(k));
            match found {
                Some(f) => vec![f],
                None => anyhow::bail!(
                    "unknown kind `{k}`; kinds are {}",
                    Kind::ALL
                        .iter()
                        .map(|k| k.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
    };
    match out {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            for k in kinds {
                let path = dir.join(k.schema_file());
                let text = schema_text(k)?;
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("wrote {}", path.display());
            }
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = stdout.lock();
            if kinds.len() == 1 {
                w.write_all(schema_text(kinds[0])?.as_bytes())?;
            } else {
                let all: serde_json::Map<String, serde_json::Value> = kinds
                    .iter()
                    .map(|k| (k.schema_file(), config::schema::schema_for(*k)))
                    .collect();
                serde_json::to_writer_pretty(&mut w, &all)?;
                writeln!(w)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The text of a kind's schema file, as written to `schemas/`.
///
/// # Errors
/// Never in practice; serialising a JSON value does not fail.
pub fn schema_text(kind: Kind) -> Result<String> {
    let mut s = serde_json::to_string_pretty(&config::schema::schema_for(kind))?;
    s.push('\n');
    Ok(s)
}
