//! `keelson run`: the daemon end to end on the simulator, as a user runs it — `--once`
//! syncs, kill -9 and resume, two daemons on one fleet, drift, metrics, and the git
//! source with webhooks and signed commits (real repositories made with git2).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub(crate) fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_keelson"));
    c.args(["--today", "2026-11-23"]).stdin(Stdio::null());
    c
}

pub(crate) fn keelson(args: &[&str]) -> Output {
    bin().args(args).output().expect("run keelson")
}

use crate::util::out_and_err as text;

use crate::plan_cli::fleet;

pub(crate) fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub(crate) fn edit(path: &Path, from: &str, to: &str) {
    let t = std::fs::read_to_string(path).unwrap();
    assert!(t.contains(from), "{} lacks {from}", path.display());
    std::fs::write(path, t.replacen(from, to, 1)).unwrap();
}

/// Ask for the 1.34 -> 1.35 hop of the staging cluster (with the add-on version 1.35 needs).
pub(crate) fn bump_staging(repo: &Path) {
    let c = repo.join("clusters/staging-apne1");
    edit(
        &c.join("cluster.yaml"),
        "version: \"1.34\"",
        "version: \"1.35\"",
    );
    edit(
        &c.join("addons.yaml"),
        "v2.1.4-eksbuild.1",
        "v2.1.9-eksbuild.1",
    );
}

pub(crate) fn sim_state(repo: &Path) -> Value {
    let p = repo.join(".keelson/sim.json");
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// Whether the simulator holds `cluster` (no state file yet: no).
fn sim_has(repo: &Path, cluster: &str) -> bool {
    repo.join(".keelson/sim.json").exists() && sim_state(repo)["clusters"].get(cluster).is_some()
}

pub(crate) fn once_json(repo: &Path, extra: &[&str]) -> (Option<i32>, Value, String) {
    let mut args = vec!["run", "--repo", s(repo), "--once", "--listen", "none"];
    args.extend_from_slice(&["--sim-speed", "instant", "--output", "json"]);
    args.extend_from_slice(extra);
    let o = keelson(&args);
    let status: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("status is not JSON ({e}): {}", text(&o)));
    (o.status.code(), status, text(&o))
}

pub(crate) fn version_updates(state: &Value, cluster: &str, version: &str) -> usize {
    state["clusters"][cluster]["updates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["update"]["type"] == "VersionUpdate" && u["change"]["version"] == version)
        .count()
}

/// `keelson apply --auto-approve` of `repo` on the simulator, without waiting.
pub(crate) fn apply_instant(repo: &Path) -> Output {
    keelson(&[
        "apply",
        "--repo",
        s(repo),
        "--auto-approve",
        "--sim-speed",
        "instant",
    ])
}

/// examples/fleet in a temporary directory, applied on the simulator.
pub(crate) fn applied_fleet() -> (tempfile::TempDir, std::path::PathBuf) {
    let (d, repo) = fleet();
    let o = apply_instant(&repo);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    (d, repo)
}

/// Wait until the 1.34 → 1.35 control-plane update of staging-apne1 runs on the simulator
/// and the journal records the apply as begun.
pub(crate) fn wait_for_staging_hop(repo: &Path, secs: u64) {
    wait_until("the version update to start", secs, || {
        let st = std::fs::read(repo.join(".keelson/sim.json")).ok()?;
        let st: Value = serde_json::from_slice(&st).ok()?;
        (version_updates(&st, "staging-apne1", "1.35") == 1).then_some(())
    });
    let journal = std::fs::read_to_string(repo.join(".keelson/journal.jsonl")).unwrap();
    assert!(journal.contains("\"begin\""), "{journal}");
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP/1.1 request; returns (status code, body).
pub(crate) fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, String)> {
    let mut c = TcpStream::connect(("127.0.0.1", port)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    c.write_all(req.as_bytes()).ok()?;
    c.write_all(body).ok()?;
    let mut out = Vec::new();
    c.read_to_end(&mut out).ok()?;
    let t = String::from_utf8_lossy(&out).into_owned();
    let code = t.split_whitespace().nth(1)?.parse().ok()?;
    let body = t
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default();
    Some((code, body))
}

pub(crate) fn wait_until<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn status(port: u16) -> Option<Value> {
    let (code, body) = http(port, "GET", "/status", &[], b"")?;
    (code == 200).then(|| serde_json::from_str(&body).ok())?
}

/// A daemon child process, killed when dropped.
pub(crate) struct Daemon(pub(crate) Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn spawn(args: &[&str]) -> Daemon {
    Daemon(
        bin()
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// A daemon on `repo` (the simulator, no waiting, `extra` arguments last), once its first
/// sync is done; and its port.
pub(crate) fn spawn_synced(repo: &Path, extra: &[&str]) -> (Daemon, u16) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["run", "--repo", s(repo), "--listen", &listen];
    args.extend_from_slice(&["--sim-speed", "instant"]);
    args.extend_from_slice(extra);
    let d = spawn(&args);
    wait_until("the daemon's first sync", 60, || {
        status(port).filter(|st| st["ready"] == true)
    });
    (d, port)
}

fn sigterm(d: &Daemon) {
    // SAFETY: sending a signal to our own child process.
    unsafe {
        libc::kill(d.0.id() as i32, libc::SIGTERM);
    }
}

#[test]
fn once_applies_auto_stages_and_reports_manual_ones() {
    let (_d, repo) = fleet();
    let (code, st, out) = once_json(&repo, &[]);
    assert_eq!(code, Some(2), "{out}");
    let c = &st["clusters"];
    assert_eq!(c["staging-apne1"]["state"], "converged", "{out}");
    assert_eq!(c["staging-apne1"]["appliedSteps"], 17, "{out}");
    assert_eq!(c["prod-apne1"]["state"], "pending");
    assert!(c["prod-apne1"]["reason"]
        .as_str()
        .unwrap()
        .contains("manually"));
    assert_eq!(c["prod-use1"]["plan"]["create"], 12);
    let sim = sim_state(&repo);
    assert_eq!(sim["clusters"]["staging-apne1"]["live"]["status"], "ACTIVE");
    assert!(
        sim["clusters"].get("prod-apne1").is_none(),
        "a manual stage was applied"
    );

    // The upgrade: one hop, applied by the daemon, converged afterwards.
    bump_staging(&repo);
    let (code, st, out) = once_json(&repo, &[]);
    assert_eq!(code, Some(2), "{out}");
    assert_eq!(
        st["clusters"]["staging-apne1"]["state"], "converged",
        "{out}"
    );
    let sim = sim_state(&repo);
    assert_eq!(sim["clusters"]["staging-apne1"]["live"]["version"], "1.35");
    assert_eq!(version_updates(&sim, "staging-apne1", "1.35"), 1);
}

#[test]
fn suspend_and_closed_windows_hold_changes_back() {
    let (_d, repo) = fleet();
    let (code, st, out) = once_json(&repo, &["--suspend"]);
    assert_eq!(code, Some(2), "{out}");
    assert_eq!(st["clusters"]["staging-apne1"]["state"], "pending");
    assert!(st["suspended"].as_bool().unwrap());
    assert!(!sim_has(&repo, "staging-apne1"));

    // A window that is never open now: 1 minute a week, on a day the simulator's clock
    // (which starts at the real time) is not at.
    let f = repo.join("keelson.yaml");
    edit(
        &f,
        "      apply: auto\n",
        "      apply: auto\n      maintenanceWindows:\n        - {days: [mon], start: \"00:00\", duration: 1m}\n        - {days: [tue], start: \"00:00\", duration: 1m}\n",
    );
    let (code, st, out) = once_json(&repo, &[]);
    assert_eq!(code, Some(2), "{out}");
    let reason = st["clusters"]["staging-apne1"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(reason.contains("maintenance window"), "{out}");
    assert!(!sim_has(&repo, "staging-apne1"));
}

#[test]
fn invalid_local_revision_applies_nothing() {
    let (_d, repo) = fleet();
    edit(
        &repo.join("clusters/staging-apne1/cluster.yaml"),
        "region:",
        "regoin:",
    );
    let (code, st, out) = once_json(&repo, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        st["rejected"]["reason"]
            .as_str()
            .unwrap()
            .contains("invalid"),
        "{out}"
    );
    assert!(!sim_has(&repo, "staging-apne1"));
}

#[test]
fn kill_9_mid_upgrade_resumes_without_reissuing_the_hop() {
    let (_d, repo) = fleet();
    let (code, _, out) = once_json(&repo, &[]);
    assert_eq!(code, Some(2), "{out}");
    bump_staging(&repo);
    // Slow virtual time: the 10-minute control plane update takes 10 s of real time.
    let child = spawn(&[
        "run",
        "--repo",
        s(&repo),
        "--listen",
        "none",
        "--sim-speed",
        "60",
        "--poll",
        "15",
    ]);
    wait_for_staging_hop(&repo, 30);
    let mut child = child;
    child.0.kill().unwrap(); // SIGKILL
    child.0.wait().unwrap();
    let mid = sim_state(&repo);
    assert_eq!(
        mid["clusters"]["staging-apne1"]["live"]["status"],
        "UPDATING"
    );

    let o = keelson(&[
        "run",
        "--repo",
        s(&repo),
        "--once",
        "--listen",
        "none",
        "--sim-speed",
        "instant",
        "--output",
        "json",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("resuming: cluster staging-apne1"), "{out}");
    let st: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(st["resumed"][0]["cluster"], "staging-apne1");
    assert_eq!(
        st["clusters"]["staging-apne1"]["state"], "converged",
        "{out}"
    );
    let sim = sim_state(&repo);
    assert_eq!(sim["clusters"]["staging-apne1"]["live"]["version"], "1.35");
    assert_eq!(
        version_updates(&sim, "staging-apne1", "1.35"),
        1,
        "the hop was issued twice"
    );
    // The journal was compacted and the apply ended: nothing in flight any more.
    let o = keelson(&[
        "run",
        "--repo",
        s(&repo),
        "--once",
        "--listen",
        "none",
        "--sim-speed",
        "instant",
    ]);
    assert!(!text(&o).contains("resuming"), "{}", text(&o));
}

#[test]
fn kill_9_mid_create_resumes_without_a_second_create() {
    let (_d, repo) = fleet();
    let child = spawn(&[
        "run",
        "--repo",
        s(&repo),
        "--listen",
        "none",
        "--sim-speed",
        "60",
        "--poll",
        "15",
    ]);
    wait_until("the cluster create to start", 30, || {
        let st = std::fs::read(repo.join(".keelson/sim.json")).ok()?;
        let st: Value = serde_json::from_slice(&st).ok()?;
        (st["clusters"]["staging-apne1"]["live"]["status"] == "CREATING").then_some(())
    });
    drop(child); // SIGKILL
    let tokens_before = sim_state(&repo)["tokens"].as_object().unwrap().len();
    assert_eq!(tokens_before, 1);
    let (code, st, out) = once_json(&repo, &[]);
    assert_eq!(code, Some(2), "{out}");
    assert_eq!(
        st["clusters"]["staging-apne1"]["state"], "converged",
        "{out}"
    );
    let sim = sim_state(&repo);
    assert_eq!(sim["clusters"].as_object().unwrap().len(), 1);
    // One token per created resource: the cluster, 3 add-ons, 3 access entries... each once.
    let tokens = sim["tokens"].as_object().unwrap();
    let mut targets: Vec<&str> = tokens.values().map(|v| v.as_str().unwrap()).collect();
    let n = targets.len();
    targets.sort();
    targets.dedup();
    assert_eq!(targets.len(), n, "a resource was created twice: {tokens:?}");
}

#[test]
fn drift_is_corrected_in_auto_stages_and_reported_in_manual_ones() {
    let (_d, repo) = applied_fleet();
    let (code, _, out) = once_json(&repo, &[]);
    assert_eq!(code, Some(0), "{out}");

    // Someone changes a cluster tag by hand in both stages.
    let p = repo.join(".keelson/sim.json");
    let mut sim = sim_state(&repo);
    for c in ["staging-apne1", "prod-apne1"] {
        let tags = sim["clusters"][c]["live"]["tags"].as_object_mut().unwrap();
        assert!(tags.insert("cost-center".into(), "0000".into()).is_some());
    }
    std::fs::write(&p, serde_json::to_vec(&sim).unwrap()).unwrap();

    let (code, st, out) = once_json(&repo, &[]);
    assert_eq!(code, Some(2), "{out}");
    let c = &st["clusters"];
    assert_eq!(c["staging-apne1"]["state"], "converged", "{out}");
    assert_eq!(c["staging-apne1"]["appliedSteps"], 1);
    assert_eq!(c["staging-apne1"]["drift"], false);
    assert_eq!(c["prod-apne1"]["state"], "pending");
    assert_eq!(c["prod-apne1"]["drift"], true);
    assert_eq!(c["prod-apne1"]["plan"]["update"], 1);
    let sim = sim_state(&repo);
    assert_ne!(
        sim["clusters"]["staging-apne1"]["live"]["tags"]["cost-center"],
        "0000"
    );
    assert_eq!(
        sim["clusters"]["prod-apne1"]["live"]["tags"]["cost-center"],
        "0000"
    );
}

/// Parse Prometheus text: every sample line is `name{labels} value`.
pub(crate) fn parse_metrics(t: &str) -> Vec<(String, String, f64)> {
    let mut out = Vec::new();
    for line in t.lines() {
        if line.is_empty() || line.starts_with('#') {
            assert!(
                line.is_empty() || line.starts_with("# HELP ") || line.starts_with("# TYPE "),
                "{line}"
            );
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => {
                assert!(l.ends_with('}'), "{line}");
                (n.to_string(), l.trim_end_matches('}').to_string())
            }
            None => (series.to_string(), String::new()),
        };
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        out.push((name, labels, value));
    }
    out
}

#[test]
fn http_endpoints_and_metrics_while_running_then_sigterm() {
    let (_d, repo, d, port) = crate::daemon_ops::ready_daemon(&[]);
    assert_eq!(http(port, "GET", "/healthz", &[], b"").unwrap().0, 200);
    assert_eq!(http(port, "GET", "/nope", &[], b"").unwrap().0, 404);
    let st = status(port).unwrap();
    assert_eq!(st["clusters"]["staging-apne1"]["state"], "converged");
    assert!(st["revision"].as_str().unwrap().starts_with("dir:"));
    let (code, body) = http(port, "GET", "/metrics", &[], b"").unwrap();
    assert_eq!(code, 200);
    let m = parse_metrics(&body);
    let get = |name: &str, label: &str| {
        m.iter()
            .filter(|(n, l, _)| n == name && l.contains(label))
            .map(|x| x.2)
            .sum::<f64>()
    };
    assert!(
        get("keelson_reconcile_duration_seconds_count", "") >= 1.0,
        "{body}"
    );
    assert_eq!(
        get("keelson_reconcile_duration_seconds_bucket", "le=\"+Inf\""),
        get("keelson_reconcile_duration_seconds_count", "")
    );
    assert!(
        get(
            "keelson_eks_api_calls_total",
            "operation=\"CreateCluster\",outcome=\"ok\""
        ) >= 1.0,
        "{body}"
    );
    assert!(
        get(
            "keelson_eks_api_calls_total",
            "operation=\"DescribeCluster\""
        ) >= 3.0
    );
    assert_eq!(
        get("keelson_applied_changes_total", "outcome=\"ok\""),
        17.0,
        "{body}"
    );
    assert_eq!(get("keelson_drift_clusters", ""), 2.0, "{body}");
    assert_eq!(
        get("keelson_source_revision_info", "revision=\"dir:"),
        1.0,
        "{body}"
    );
    // No webhook secret: the endpoint is off.
    assert_eq!(http(port, "POST", "/webhook", &[], b"{}").unwrap().0, 404);

    // A one-file change in the watched directory is planned on its own.
    let before = st["lastSync"]["finishedMs"].as_u64().unwrap();
    assert_eq!(st["clusters"]["prod-use1"]["state"], "pending");
    edit(
        &repo.join("clusters/prod-use1/cluster.yaml"),
        "version: \"1.34\"",
        "version: \"1.35\"",
    );
    let st = wait_until("the incremental plan", 30, || {
        status(port).filter(|s| s["lastSync"]["finishedMs"].as_u64().unwrap() > before)
    });
    assert_eq!(st["lastSync"]["kind"], "incremental", "{st}");
    assert_eq!(st["lastSync"]["planned"], 1);
    // The hop needs add-on versions the repo does not give yet: the gate holds it.
    assert_eq!(st["clusters"]["prod-use1"]["state"], "blocked", "{st}");

    // A change of the Fleet (outside every cluster directory) reloads everything.
    let before = st["lastSync"]["finishedMs"].as_u64().unwrap();
    edit(
        &repo.join("keelson.yaml"),
        "maxConcurrency: 8",
        "maxConcurrency: 4",
    );
    let st = wait_until("the full plan", 30, || {
        status(port).filter(|s| s["lastSync"]["finishedMs"].as_u64().unwrap() > before)
    });
    assert_eq!(st["lastSync"]["kind"], "full", "{st}");
    assert_eq!(st["lastSync"]["planned"], 3);

    sigterm(&d);
    let mut d = d;
    let end = Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(s) = d.0.try_wait().unwrap() {
            break s.code();
        }
        assert!(Instant::now() < end, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(0));
}

#[test]
fn a_second_daemon_waits_on_standby_and_takes_over() {
    let (_d, repo) = fleet();
    let (pa, pb) = (free_port(), free_port());
    let a = spawn(&[
        "run",
        "--repo",
        s(&repo),
        "--listen",
        &format!("127.0.0.1:{pa}"),
        "--sim-speed",
        "instant",
    ]);
    wait_until("A ready", 60, || {
        http(pa, "GET", "/readyz", &[], b"").filter(|(c, _)| *c == 200)
    });
    let b = spawn(&[
        "run",
        "--repo",
        s(&repo),
        "--listen",
        &format!("127.0.0.1:{pb}"),
        "--sim-speed",
        "instant",
    ]);
    let st = wait_until("B on standby", 30, || {
        status(pb).filter(|s| s["phase"] == "standby")
    });
    assert_eq!(st["lockHolder"]["pid"], a.0.id());
    let (code, body) = http(pb, "GET", "/readyz", &[], b"").unwrap();
    assert_eq!(code, 503);
    assert!(body.contains("standby"), "{body}");
    // --once refuses while the lock is held.
    let o = keelson(&["run", "--repo", s(&repo), "--once", "--listen", "none"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("holds the fleet lock"), "{}", text(&o));
    drop(a); // SIGKILL: the kernel releases the lock
    wait_until("B takes over", 60, || {
        http(pb, "GET", "/readyz", &[], b"").filter(|(c, _)| *c == 200)
    });
    assert!(status(pb).unwrap()["lockHolder"].is_null());
    drop(b);
}

/// Whether the other end closed `c` (EOF after whatever it sent last, or a reset).
fn closed_by_peer(c: &mut TcpStream) -> bool {
    c.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 512];
    loop {
        match c.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => {
                return !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                )
            }
        }
    }
}

#[test]
fn held_open_sockets_are_closed_and_healthz_keeps_answering() {
    let (_d, repo) = fleet();
    let port = free_port();
    let _daemon = spawn(&[
        "run",
        "--repo",
        s(&repo),
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--sim-speed",
        "instant",
        "--suspend",
    ]);
    wait_until("the listener", 60, || status(port));
    // Slowloris: 300 connections that start a request and never finish its headers.
    let mut held: Vec<TcpStream> = (0..300)
        .filter_map(|_| {
            let mut c = TcpStream::connect(("127.0.0.1", port)).ok()?;
            c.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n").ok()?;
            Some(c)
        })
        .collect();
    assert!(held.len() >= 250, "only {} connections opened", held.len());
    let started = Instant::now();
    let (code, body) = http(port, "GET", "/healthz", &[], b"").expect("/healthz answers");
    assert_eq!((code, body.as_str()), (200, "ok\n"));
    assert!(started.elapsed() < Duration::from_secs(3));
    // The server closes connections whose headers do not arrive in time.
    std::thread::sleep(Duration::from_secs(7));
    let total = held.len();
    let closed = held.iter_mut().map(closed_by_peer).filter(|c| *c).count();
    assert_eq!(closed, total, "sockets still held open by the server");
    let (code, _) = http(port, "GET", "/healthz", &[], b"").expect("/healthz answers");
    assert_eq!(code, 200);
}

#[test]
fn cli_apply_and_a_deleted_lock_file_never_make_a_second_writer() {
    let (_d, repo) = fleet();
    let _a = spawn_synced(&repo, &[]);
    // A CLI apply on the same fleet waits for nobody: it refuses, naming the holder.
    let o = apply_instant(&repo);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("holds the fleet lock") && text(&o).contains("pid"),
        "{}",
        text(&o)
    );
    // The lock file deleted (".keelson/ removed to start over") while the daemon runs:
    // the daemon holds the new file at once, so a second daemon still stands by.
    std::fs::remove_file(repo.join(".keelson/keelson.lock")).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(repo.join(".keelson/keelson.lock").exists());
    let o = keelson(&["run", "--repo", s(&repo), "--once", "--listen", "none"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("holds the fleet lock"), "{}", text(&o));
}
