//! `--target aws` against an endpoint that misbehaves (the local stub of `stub_eks`):
//! silent, slow, failing with 5xx, denying. Through the CLI binary and the daemon, with
//! the `KEELSON_EKS_*` bounds made short so that each case ends in seconds.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::daemon::{free_port, status, wait_until, Daemon};
use crate::stub_eks::{Behaviour, Stub};
use crate::util::out_and_err as text;

const FLEET: &str = "apiVersion: keelson.dev/v1alpha1\nkind: Fleet\nmetadata: {name: stub}\nspec:\n  stages: [{name: prod, apply: auto}]\n";

/// The second account, reached through a role.
const SECOND_ACCOUNT: &str = "  policy:\n    accounts:\n      - id: \"222233334444\"\n        operatorRoleArn: arn:aws:iam::222233334444:role/keelson\n";

fn cluster(name: &str, region: &str, account: Option<&str>) -> String {
    let account = account
        .map(|a| format!("  account: \"{a}\"\n"))
        .unwrap_or_default();
    format!("apiVersion: keelson.dev/v1alpha1\nkind: Cluster\nmetadata: {{name: {name}}}\nspec:\n  region: {region}\n{account}  version: \"1.34\"\n  stage: prod\n  roleArn: arn:aws:iam::123456789012:role/eks-cluster\n  vpc:\n    subnetIds: [subnet-0a1b2c3d4e5f60001, subnet-0a1b2c3d4e5f60002]\n")
}

/// A repository of `files`.
fn repo(files: &[(&str, String)]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    for (rel, body) in files {
        let p = repo.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    (dir, repo)
}

/// A fleet of one cluster in us-east-1 with nothing but the cluster: one ListClusters
/// route, and no add-on catalog to read.
fn fleet() -> (tempfile::TempDir, std::path::PathBuf) {
    repo(&[
        ("keelson.yaml", FLEET.to_string()),
        ("use1/cluster.yaml", cluster("stub-use1", "us-east-1", None)),
    ])
}

/// keelson against `url` with short bounds: connect 1 s, attempt 1 s, 2 attempts, the
/// whole call 3 s.
fn keelson(url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keelson"));
    cmd.env("AWS_ENDPOINT_URL_EKS", url)
        .env("AWS_ENDPOINT_URL", url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("KEELSON_EKS_CONNECT_TIMEOUT", "1s")
        .env("KEELSON_EKS_ATTEMPT_TIMEOUT", "1s")
        .env("KEELSON_EKS_MAX_ATTEMPTS", "2")
        .env("KEELSON_EKS_CALL_TIMEOUT", "3s")
        .args(["--today", "2026-11-23"])
        .stdin(Stdio::null());
    cmd
}

fn plan(url: &str, repo: &std::path::Path) -> (Output, Duration) {
    let started = Instant::now();
    let o = keelson(url)
        .args(["plan", "--target", "aws", "--detailed-exitcode", "--repo"])
        .arg(repo)
        .output()
        .unwrap();
    (o, started.elapsed())
}

#[test]
fn a_silent_endpoint_ends_a_plan_with_a_named_timeout_within_the_budget() {
    let stub = Stub::start(Behaviour::Silent);
    let (_tmp, repo) = fleet();
    let (o, took) = plan(&stub.url, &repo);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(took < Duration::from_secs(15), "took {took:?}: {out}");
    assert!(out.contains("timed out"), "{out}");
    assert!(out.contains("ListClusters"), "the call is named: {out}");
    assert!(out.contains("us-east-1"), "the region is named: {out}");
    assert!(out.contains("KEELSON_EKS_CALL_TIMEOUT"), "{out}");
    assert!(
        stub.requests() >= 2,
        "the attempt timed out and was retried"
    );
}

#[test]
fn a_slow_endpoint_within_the_attempt_bound_is_waited_for() {
    let stub = Stub::start(Behaviour::Slow(Duration::from_millis(300)));
    let (_tmp, repo) = fleet();
    let (o, _) = plan(&stub.url, &repo);
    // Nothing exists on the stub: the cluster is to be created.
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("to create"), "{}", text(&o));
}

#[test]
fn a_failing_endpoint_is_retried_then_named_as_unavailable() {
    let stub = Stub::start(Behaviour::Unavailable);
    let (_tmp, repo) = fleet();
    let (o, took) = plan(&stub.url, &repo);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert!(out.contains("service unavailable"), "{out}");
    assert_eq!(stub.requests(), 2, "two attempts, as configured: {out}");
}

#[test]
fn a_denied_call_names_the_permission_and_is_not_retried() {
    let stub = Stub::start(Behaviour::Denied);
    let (_tmp, repo) = fleet();
    let (o, _) = plan(&stub.url, &repo);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("eks:ListClusters"), "{out}");
    assert_eq!(stub.requests(), 1, "{out}");
}

#[test]
fn an_unusable_timeout_setting_is_refused_naming_the_variable() {
    let (_tmp, repo) = fleet();
    let o = keelson("http://127.0.0.1:9")
        .env("KEELSON_EKS_ATTEMPT_TIMEOUT", "soon")
        .args(["plan", "--target", "aws", "--repo"])
        .arg(&repo)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("KEELSON_EKS_ATTEMPT_TIMEOUT=`soon`"),
        "{}",
        text(&o)
    );
}

#[test]
fn the_daemon_answers_status_while_a_sync_hangs_and_stops_on_sigterm_within_seconds() {
    let stub = Stub::start(Behaviour::Silent);
    let (_tmp, repo) = fleet();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let state = tempfile::tempdir().unwrap();
    // Long bounds: the sync is still waiting on the silent endpoint when SIGTERM comes.
    let child = keelson(&stub.url)
        .env("KEELSON_EKS_ATTEMPT_TIMEOUT", "2m")
        .env("KEELSON_EKS_CALL_TIMEOUT", "5m")
        .args(["run", "--target", "aws", "--listen", &listen, "--state-dir"])
        .arg(state.path())
        .arg("--repo")
        .arg(&repo)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut d = Daemon(child);
    wait_until("a sync waiting on EKS", 20, || {
        (stub.requests() > 0).then_some(())
    });
    // /status answers during the sync, and says what it is doing.
    for _ in 0..3 {
        let st = wait_until("/status during the sync", 5, || status(port));
        assert_eq!(st["phase"], "syncing", "{st}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let sent = Instant::now();
    // SAFETY: sending a signal to our own child process.
    unsafe {
        libc::kill(d.0.id() as i32, libc::SIGTERM);
    }
    let code = wait_until("the daemon to exit after SIGTERM", 10, || {
        d.0.try_wait().unwrap()
    });
    assert!(
        sent.elapsed() < Duration::from_secs(8),
        "stopped after {:?}",
        sent.elapsed()
    );
    assert!(
        code.code().is_some(),
        "exited by itself, not killed: {code:?}"
    );
}

#[test]
fn a_refused_assume_role_blocks_only_the_clusters_behind_that_role_and_names_it() {
    let stub = Stub::start(Behaviour::DenyAssumeRole);
    let (_tmp, repo) = repo(&[
        ("keelson.yaml", format!("{FLEET}{SECOND_ACCOUNT}")),
        ("mine/cluster.yaml", cluster("stub-mine", "us-east-1", None)),
        (
            "theirs/cluster.yaml",
            cluster("stub-theirs", "eu-west-1", Some("222233334444")),
        ),
    ]);
    let (o, _) = plan(&stub.url, &repo);
    let out = text(&o);
    assert_eq!(
        o.status.code(),
        Some(3),
        "the role's cluster is blocked: {out}"
    );
    assert!(
        out.contains("could not assume role arn:aws:iam::222233334444:role/keelson"),
        "{out}"
    );
    assert!(out.contains("user/ci"), "the caller: {out}");
    assert!(out.contains("trust policy"), "{out}");
    assert!(!out.contains("sso login"), "not an expired session: {out}");
    // The cluster reached with the caller's own credentials is planned as usual.
    assert!(out.contains("+ Cluster stub-mine"), "{out}");
    let healthy = Stub::start(Behaviour::Healthy);
    let (_tmp2, one) = fleet();
    assert_eq!(plan(&healthy.url, &one).0.status.code(), Some(2));
}
