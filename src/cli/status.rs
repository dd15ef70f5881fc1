//! Talking to a running daemon from the command line: `keelson status` reads `/status`
//! and prints a table; `keelson reconcile|suspend|resume|approve` call the control
//! endpoints with the bearer token.
//!
//! ```text
//!  keelson status ──GET /status──────────────► table (or the JSON as is)
//!  keelson approve --cluster C --fingerprint F ──POST /control/approve {cluster, fingerprint}
//!                  Authorization: Bearer (KEELSON_CONTROL_TOKEN or --token-file)
//! ```
//!
//! The daemon speaks plain HTTP/1.1 on its own address; a small blocking client over a
//! TCP stream is all this needs.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;

/// Where the daemon listens and how to authenticate.
#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// The daemon's address (its `--listen`).
    #[arg(long, env = "KEELSON_DAEMON", default_value = "http://127.0.0.1:9898")]
    pub daemon: String,
    /// A file holding the control token (else `KEELSON_CONTROL_TOKEN`).
    #[arg(long, env = "KEELSON_CONTROL_TOKEN_FILE", value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

/// Output of `keelson status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    /// A table per cluster.
    Text,
    /// The daemon's status document.
    Json,
}

/// A cluster or a stage.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ScopeArgs {
    /// A cluster.
    #[arg(long)]
    pub cluster: Option<String>,
    /// Every cluster of a stage.
    #[arg(long)]
    pub stage: Option<String>,
}

/// The commands that talk to a running `keelson run`.
#[derive(Debug, Subcommand)]
pub enum DaemonCommand {
    /// Show a running daemon's status: per cluster its state, planned steps, version hop
    /// and last apply.
    Status {
        /// The daemon.
        #[command(flatten)]
        daemon: DaemonArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
        format: StatusFormat,
    },
    /// Ask a running daemon to fetch and plan everything now.
    Reconcile {
        /// The daemon.
        #[command(flatten)]
        daemon: DaemonArgs,
    },
    /// Stop a running daemon applying to a cluster or a stage (it still plans them).
    Suspend {
        /// The daemon.
        #[command(flatten)]
        daemon: DaemonArgs,
        /// What to suspend.
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Undo `keelson suspend`.
    Resume {
        /// The daemon.
        #[command(flatten)]
        daemon: DaemonArgs,
        /// What to resume.
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Approve the pending plan of a cluster in a manual stage, named by the fingerprint
    /// `keelson status` shows: it is applied at the next sync, and only while the plan is
    /// still the one approved.
    Approve {
        /// The daemon.
        #[command(flatten)]
        daemon: DaemonArgs,
        /// The cluster.
        #[arg(long)]
        cluster: String,
        /// The plan's fingerprint (at least its first 8 characters).
        #[arg(long)]
        fingerprint: String,
    },
}

/// The control token: the file's content, else `KEELSON_CONTROL_TOKEN`; none when neither
/// is set.
///
/// # Errors
/// An unreadable or empty token file.
pub fn control_token(file: Option<&Path>) -> Result<Option<String>> {
    if let Some(p) = file {
        let t = std::fs::read_to_string(p)
            .with_context(|| format!("reading the control token file {}", p.display()))?;
        let t = t.trim().to_string();
        if t.is_empty() {
            bail!("the control token file {} is empty", p.display());
        }
        return Ok(Some(t));
    }
    Ok(std::env::var("KEELSON_CONTROL_TOKEN")
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty()))
}

/// One HTTP/1.1 request to the daemon: (status code, body).
fn call(
    daemon: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> Result<(u16, String)> {
    let addr = daemon
        .strip_prefix("http://")
        .unwrap_or(daemon)
        .trim_end_matches('/');
    if daemon.starts_with("https://") || addr.contains('/') {
        bail!("--daemon takes http://HOST:PORT (the daemon's --listen address), not `{daemon}`");
    }
    let mut c = TcpStream::connect(addr).with_context(|| {
        format!("no keelson daemon answers at {daemon}; start `keelson run` or pass --daemon http://HOST:PORT")
    })?;
    c.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    c.write_all(req.as_bytes())?;
    let mut out = Vec::new();
    c.read_to_end(&mut out)?;
    let text = String::from_utf8_lossy(&out);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("{daemon} did not answer in HTTP"))?;
    Ok((code, body.to_string()))
}

/// Run one of the daemon commands.
///
/// # Errors
/// No daemon at the address, an unreadable token file.
pub fn daemon_cmd(cmd: &DaemonCommand) -> Result<ExitCode> {
    let (daemon, verb, body) = match cmd {
        DaemonCommand::Status { daemon, format } => {
            let (code, body) = call(&daemon.daemon, "GET", "/status", None, "")?;
            if code != 200 {
                bail!("{} answered {code}: {}", daemon.daemon, body.trim());
            }
            let st: Value = serde_json::from_str(&body).with_context(|| {
                format!("{} did not answer with a status document", daemon.daemon)
            })?;
            match format {
                StatusFormat::Json => println!("{body}"),
                StatusFormat::Text => print!("{}", table(&st)),
            }
            return Ok(ExitCode::SUCCESS);
        }
        DaemonCommand::Reconcile { daemon } => (daemon, "reconcile", serde_json::json!({})),
        DaemonCommand::Suspend { daemon, scope } => (daemon, "suspend", scope_body(scope)),
        DaemonCommand::Resume { daemon, scope } => (daemon, "resume", scope_body(scope)),
        DaemonCommand::Approve {
            daemon,
            cluster,
            fingerprint,
        } => (
            daemon,
            "approve",
            serde_json::json!({"cluster": cluster, "fingerprint": fingerprint}),
        ),
    };
    let token = control_token(daemon.token_file.as_deref())?;
    if token.is_none() {
        bail!("the control endpoints need the daemon's token: set KEELSON_CONTROL_TOKEN or pass --token-file FILE");
    }
    let (code, answer) = call(
        &daemon.daemon,
        "POST",
        &format!("/control/{verb}"),
        token.as_deref(),
        &body.to_string(),
    )?;
    if code == 200 {
        println!("{}", answer.trim());
        Ok(ExitCode::SUCCESS)
    } else {
        bail!("the daemon refused ({code}): {}", answer.trim())
    }
}

fn scope_body(s: &ScopeArgs) -> Value {
    match (&s.cluster, &s.stage) {
        (Some(c), _) => serde_json::json!({"cluster": c}),
        (None, stage) => serde_json::json!({"stage": stage}),
    }
}

/// The status document as a table: one row per cluster, then the pending steps.
pub fn table(st: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let mut rows = vec![[
        "CLUSTER",
        "STAGE",
        "REGION",
        "STATE",
        "STEPS",
        "HOP",
        "LAST APPLY",
        "FINGERPRINT",
    ]
    .map(String::from)
    .to_vec()];
    let empty = serde_json::Map::new();
    let clusters = st["clusters"].as_object().unwrap_or(&empty);
    for (name, c) in clusters {
        let hop = match (&c["hop"]["from"], &c["hop"]["to"]) {
            (Value::String(f), Value::String(t)) => format!("{f}→{t}"),
            _ => "-".into(),
        };
        let last = match &c["lastApply"] {
            Value::Object(a) => format!(
                "{} {}/{} {}",
                s(&a["result"]),
                a["stepsDone"],
                a["stepsTotal"],
                s(&a["finishedAt"])
            ),
            _ => "-".into(),
        };
        rows.push(vec![
            name.clone(),
            s(&c["stage"]),
            s(&c["region"]),
            s(&c["state"]),
            c["steps"].as_array().map_or(0, Vec::len).to_string(),
            hop,
            last,
            s(&c["fingerprint"]).chars().take(12).collect(),
        ]);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = format!(
        "revision {}  phase {}  last sync {}\n",
        st["revision"].as_str().unwrap_or("-"),
        s(&st["phase"]),
        st["lastSync"]["finishedAt"].as_str().unwrap_or("-")
    );
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    for (name, c) in clusters {
        let steps = c["steps"].as_array().cloned().unwrap_or_default();
        let reason = c["reason"].as_str();
        let blocked = c["blocked"].as_array().cloned().unwrap_or_default();
        if steps.is_empty() && reason.is_none() && blocked.is_empty() {
            continue;
        }
        out.push_str(&format!("\n{name} ({}):\n", s(&c["state"])));
        for b in &blocked {
            out.push_str(&format!("  blocked: {}\n", s(b)));
        }
        if let Some(r) = reason {
            out.push_str(&format!("  {r}\n"));
        }
        for step in &steps {
            out.push_str(&format!("  {}\n", s(step)));
        }
        if s(&c["state"]) == "pending" && s(&c["apply"]) == "manual" && !steps.is_empty() {
            out.push_str(&format!(
                "  approve: keelson approve --cluster {name} --fingerprint {}\n",
                s(&c["fingerprint"])
            ));
        }
    }
    out
}
