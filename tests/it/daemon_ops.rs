//! The daemon as an operator talks to it: per-cluster metrics with bounded labels,
//! `/status` with wall-clock times, planned steps, applies and their history.

use std::collections::BTreeMap;

use crate::daemon::{free_port, http, parse_metrics, s, spawn, status, wait_until, Daemon};
use crate::plan_cli::fleet;

/// A daemon on a copy of examples/fleet, ready (synced once); its port.
pub(crate) fn ready_daemon(extra: &[&str]) -> (tempfile::TempDir, std::path::PathBuf, Daemon, u16) {
    let (d, repo) = fleet();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut args = vec![
        "run",
        "--repo",
        s(&repo),
        "--listen",
        &addr,
        "--sim-speed",
        "instant",
    ];
    args.extend_from_slice(extra);
    let daemon = spawn(&args);
    wait_until("readyz", 60, || {
        http(port, "GET", "/readyz", &[], b"").filter(|(c, _)| *c == 200)
    });
    (d, repo, daemon, port)
}

fn labels(l: &str) -> BTreeMap<String, String> {
    l.split("\",")
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once("=\"").unwrap();
            (k.to_string(), v.trim_end_matches('"').to_string())
        })
        .collect()
}

fn is_rfc3339(t: &str) -> bool {
    let b = t.as_bytes();
    t.len() == 20 && b[4] == b'-' && b[10] == b'T' && t.ends_with('Z')
}

#[test]
fn per_cluster_metrics_carry_cluster_stage_and_region_and_nothing_unbounded() {
    let (_d, _repo, _daemon, port) = ready_daemon(&[]);
    let (code, body) = http(port, "GET", "/metrics", &[], b"").unwrap();
    assert_eq!(code, 200);
    let m = parse_metrics(&body);
    let clusters = ["prod-apne1", "prod-use1", "staging-apne1"];
    let allowed = [
        "cluster", "stage", "region", "state", "apply", "from", "to", "le",
    ];
    let per_cluster: Vec<_> = m
        .iter()
        .filter(|(n, _, _)| n.starts_with("keelson_cluster_"))
        .collect();
    assert!(!per_cluster.is_empty(), "{body}");
    for (name, l, _) in &per_cluster {
        let l = labels(l);
        for k in ["cluster", "stage", "region"] {
            assert!(l.contains_key(k), "{name} lacks `{k}`: {l:?}");
        }
        assert!(clusters.contains(&l["cluster"].as_str()), "{name} {l:?}");
        assert!(
            l.keys().all(|k| allowed.contains(&k.as_str())),
            "{name} {l:?}"
        );
    }
    let series = |name: &str, cluster: &str| -> Vec<(BTreeMap<String, String>, f64)> {
        m.iter()
            .filter(|(n, l, _)| n == name && labels(l)["cluster"] == cluster)
            .map(|(_, l, v)| (labels(l), *v))
            .collect()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    for c in clusters {
        let states = series("keelson_cluster_state", c);
        assert_eq!(
            states.iter().map(|x| x.1).sum::<f64>(),
            1.0,
            "one state of {c}: {states:?}"
        );
        let last = series("keelson_cluster_last_successful_sync_timestamp_seconds", c);
        assert!((now - last[0].1).abs() < 300.0, "{c}: {last:?}");
        let buckets = series("keelson_cluster_reconcile_duration_seconds_bucket", c);
        assert!(
            buckets.iter().any(|(l, _)| l["le"] == "14400"),
            "buckets reach hours: {buckets:?}"
        );
    }
    let state_of = |c: &str| {
        series("keelson_cluster_state", c)
            .into_iter()
            .find(|x| x.1 == 1.0)
            .map(|x| x.0["state"].clone())
            .unwrap()
    };
    assert_eq!(state_of("staging-apne1"), "converged");
    assert_eq!(state_of("prod-use1"), "pending");
    let prod = &series("keelson_cluster_info", "prod-use1")[0].0;
    assert_eq!(
        (
            prod["stage"].as_str(),
            prod["region"].as_str(),
            prod["apply"].as_str()
        ),
        ("prod", "us-east-1", "manual")
    );
    assert_eq!(series("keelson_cluster_drift", "prod-use1")[0].1, 1.0);
    assert_eq!(series("keelson_cluster_drift", "staging-apne1")[0].1, 0.0);
    assert!(m
        .iter()
        .any(|(n, l, v)| n == "keelson_build_info" && l.contains("version=\"") && *v == 1.0));
}

#[test]
fn status_has_wall_clock_times_planned_steps_and_the_last_apply() {
    let (_d, _repo, _daemon, port) = ready_daemon(&[]);
    let st = status(port).unwrap();
    let sync = &st["lastSync"];
    assert!(is_rfc3339(sync["startedAt"].as_str().unwrap()), "{sync}");
    assert!(is_rfc3339(sync["finishedAt"].as_str().unwrap()), "{sync}");
    let prod = &st["clusters"]["prod-use1"];
    assert!(is_rfc3339(prod["plannedAt"].as_str().unwrap()), "{prod}");
    assert!(
        prod["targetClock"].is_i64(),
        "the simulator's clock is labelled: {prod}"
    );
    let steps: Vec<&str> = prod["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(steps.contains(&"+ Cluster prod-use1"), "{steps:?}");
    assert_eq!(
        prod["lastApply"],
        serde_json::Value::Null,
        "a manual stage is not applied"
    );

    let staging = &st["clusters"]["staging-apne1"];
    assert_eq!(staging["steps"], serde_json::json!([]));
    let last = &staging["lastApply"];
    assert_eq!(last["result"], "ok", "{staging}");
    assert!(last["stepsDone"].as_u64().unwrap() > 0);
    assert!(is_rfc3339(last["finishedAt"].as_str().unwrap()));
    assert!(is_rfc3339(staging["lastSuccessAt"].as_str().unwrap()));
    let history = st["history"].as_array().unwrap();
    assert!(
        history.iter().any(|h| h["cluster"] == "staging-apne1"),
        "{history:?}"
    );
}

fn cli(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = crate::daemon::bin();
    c.args(args).env_remove("KEELSON_CONTROL_TOKEN");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn control_endpoints_are_off_without_a_token_and_refuse_a_wrong_one() {
    let (_d, _repo, _daemon, port) = ready_daemon(&[]);
    let (code, body) = http(
        port,
        "POST",
        "/control/reconcile",
        &[("Authorization", "Bearer x")],
        b"",
    )
    .unwrap();
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("--control-token-file"), "{body}");
    // /healthz, /readyz, /metrics stay open.
    for p in ["/healthz", "/readyz", "/metrics", "/status"] {
        assert_eq!(http(port, "GET", p, &[], b"").unwrap().0, 200, "{p}");
    }

    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token\n").unwrap();
    let (_d2, _repo2, _daemon2, port) = ready_daemon(&["--control-token-file", s(&token)]);
    for auth in [vec![], vec![("Authorization", "Bearer wrong")]] {
        let (code, body) = http(
            port,
            "POST",
            "/control/suspend",
            &auth,
            br#"{"stage":"prod"}"#,
        )
        .unwrap();
        assert_eq!(code, 401, "{body}");
    }
    assert_eq!(
        status(port).unwrap()["control"]["suspendedStages"],
        serde_json::json!([])
    );
    let url = format!("http://127.0.0.1:{port}");
    let o = cli(
        &["suspend", "--stage", "prod", "--daemon", &url],
        &[("KEELSON_CONTROL_TOKEN", "wrong")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("refused (401)"),
        "{o:?}"
    );
    let o = cli(
        &[
            "suspend",
            "--stage",
            "prod",
            "--daemon",
            &url,
            "--token-file",
            s(&token),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(
        status(port).unwrap()["control"]["suspendedStages"],
        serde_json::json!(["prod"])
    );
    let o = cli(
        &["resume", "--stage", "prod", "--daemon", &url],
        &[("KEELSON_CONTROL_TOKEN", "s3cret-token")],
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(
        status(port).unwrap()["control"]["suspendedStages"],
        serde_json::json!([])
    );
}

#[test]
fn an_approved_plan_of_a_manual_stage_is_applied_and_status_prints_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "t0ken").unwrap();
    let (_d, _repo, _daemon, port) = ready_daemon(&["--control-token-file", s(&token)]);
    let url = format!("http://127.0.0.1:{port}");
    let env = [
        ("KEELSON_DAEMON", url.as_str()),
        ("KEELSON_CONTROL_TOKEN", "t0ken"),
    ];

    let o = cli(&["status"], &env);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        table.contains("CLUSTER") && table.contains("FINGERPRINT"),
        "{table}"
    );
    let row = table
        .lines()
        .find(|l| l.starts_with("prod-use1 "))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        row.contains("pending") && row.contains("us-east-1"),
        "{row}"
    );
    assert!(table.contains("+ Cluster prod-use1"), "{table}");
    let approve = table
        .lines()
        .find(|l| l.contains("keelson approve --cluster prod-use1"))
        .unwrap_or_else(|| panic!("{table}"));
    let fingerprint = approve.rsplit(' ').next().unwrap();

    // A stale fingerprint is refused; the current one is applied at the next sync.
    let o = cli(
        &[
            "approve",
            "--cluster",
            "prod-use1",
            "--fingerprint",
            "00000000",
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("409"), "{o:?}");
    let o = cli(
        &[
            "approve",
            "--cluster",
            "prod-use1",
            "--fingerprint",
            fingerprint,
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let st = wait_until("the approved apply", 60, || {
        status(port).filter(|s| s["clusters"]["prod-use1"]["lastApply"]["result"] == "ok")
    });
    assert_eq!(st["clusters"]["prod-use1"]["state"], "converged", "{st}");
    assert_eq!(
        st["clusters"]["prod-apne1"]["state"], "pending",
        "only the approved cluster: {st}"
    );
    assert_eq!(st["control"]["approvals"], serde_json::json!({}), "used up");

    let o = cli(&["reconcile"], &env);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
}

#[test]
fn a_completed_hop_shows_when_its_rollback_window_closes_in_status_and_metrics() {
    let (_d, repo) = crate::upgrade::example();
    let (_daemon, port) = crate::daemon::spawn_synced(
        &repo,
        &[
            "--sim-seed",
            "1.31",
            "--resync",
            "1s",
            "--cluster",
            "staging-euw1",
        ],
    );
    // The first sync upgrades staging hop by hop; a later one plans it at 1.35, where
    // the last hop (1.34→1.35) can be rolled back for 7 days.
    let st = wait_until("the rollback window in /status", 120, || {
        status(port).filter(|st| !st["clusters"]["staging-euw1"]["rollbackWindowEnd"].is_null())
    });
    let end = st["clusters"]["staging-euw1"]["rollbackWindowEnd"]
        .as_i64()
        .unwrap();
    let (_, body) = http(port, "GET", "/metrics", &[], b"").unwrap();
    let m = parse_metrics(&body);
    let series: Vec<_> = m
        .iter()
        .filter(|(n, _, _)| n == "keelson_cluster_rollback_window_end_timestamp_seconds")
        .collect();
    assert_eq!(series.len(), 1, "{body}");
    assert_eq!(labels(&series[0].1)["cluster"], "staging-euw1");
    assert_eq!(series[0].2 as i64, end);
    // The window is 7 days from the hop's completion, on the simulator's clock.
    let now = st["clusters"]["staging-euw1"]["targetClock"]
        .as_i64()
        .unwrap();
    assert!(
        end > now - 60 && end <= now + 7 * 86_400 + 60,
        "{end} vs {now}"
    );
}
