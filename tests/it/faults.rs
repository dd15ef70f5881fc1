//! The daemon applying while EKS fails under it (`KEELSON_SIM_FAULTS`): throttling, 5xx,
//! and timeouts whose request was carried out but whose answer was lost. It converges,
//! creates nothing twice, and its requeue with backoff runs (a burst of throttling longer
//! than the executor's own retries stops an apply). The `lose=` items make the hard case
//! certain: a create carried out whose answer never came back.

use std::collections::BTreeSet;
use std::process::Stdio;

use serde_json::Value;

use crate::daemon::{bin, free_port, http, s, sim_state, status, wait_until, Daemon};
use crate::plan_cli::fleet;

/// The value of one Prometheus sample line, or 0.
fn sample(metrics: &str, line_start: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Sum of `keelson_eks_api_calls_total` samples with this outcome.
fn outcome_total(metrics: &str, outcome: &str) -> u64 {
    let tail = format!("outcome=\"{outcome}\"}} ");
    metrics
        .lines()
        .filter(|l| l.starts_with("keelson_eks_api_calls_total{"))
        .filter_map(|l| l.split_once(&tail).map(|(_, n)| n))
        .filter_map(|n| n.trim().parse::<u64>().ok())
        .sum()
}

#[test]
fn the_daemon_converges_under_injected_eks_faults_without_creating_twice() {
    let (d, repo) = fleet();
    let port = free_port();
    let log = d.path().join("daemon.log");
    let child = bin()
        .env(
            "KEELSON_SIM_FAULTS",
            "seed=11,throttle=0.1,5xx=0.05,timeout=0.1,calls=writes,burst=CreateAddon:8,lose=CreatePodIdentityAssociation:1,lose=CreateCluster:1",
        )
        .args([
            "run",
            "--repo",
            s(&repo),
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--sim-speed",
            "instant",
            // A write retried after its answer was lost can meet its own update running
            // (ResourceInUse, not transient): the next resync picks the work up.
            "--resync",
            "3s",
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let daemon = Daemon(child);
    // The first apply stops at the burst; the requeue comes back after 5 s, and other
    // transient failures may cost a few more rounds.
    wait_until("staging converged", 180, || {
        status(port).filter(|st| st["clusters"]["staging-apne1"]["state"] == "converged")
    });
    let (_, metrics) = http(port, "GET", "/metrics", &[], b"").unwrap();
    drop(daemon);
    let logged = std::fs::read_to_string(&log).unwrap();

    // Every kind of fault happened, the burst in full.
    assert!(
        sample(
            &metrics,
            "keelson_eks_api_calls_total{operation=\"CreateAddon\",outcome=\"throttled\"}"
        ) >= 8,
        "{metrics}"
    );
    // The first create of the cluster and of a Pod Identity association were carried
    // out and their answers lost: the retry must find them, not create them again.
    for op in ["CreateCluster", "CreatePodIdentityAssociation"] {
        assert!(
            sample(
                &metrics,
                &format!(
                    "keelson_eks_api_calls_total{{operation=\"{op}\",outcome=\"unavailable\"}}"
                )
            ) >= 1,
            "{op}: {metrics}"
        );
    }
    assert!(outcome_total(&metrics, "unavailable") >= 2, "{metrics}");
    // The executor retried in place, then the daemon requeued the stopped apply.
    assert!(logged.contains("retrying"), "{logged}");
    assert!(
        logged.contains("a transient error stopped an apply; retrying in"),
        "{logged}"
    );

    // Nothing was created twice: every resource under one clientRequestToken, and each
    // desired resource exactly once.
    let sim = sim_state(&repo);
    let tokens = sim["tokens"].as_object().unwrap();
    let keys: BTreeSet<&str> = tokens.values().filter_map(Value::as_str).collect();
    assert_eq!(
        keys.len(),
        tokens.len(),
        "a resource created twice: {tokens:?}"
    );
    let c = &sim["clusters"]["staging-apne1"];
    assert_eq!(c["live"]["status"], "ACTIVE");
    assert_eq!(c["addons"].as_object().unwrap().len(), 3, "{c}");
    // Access entries are keyed by principal, so they cannot repeat; the three declared
    // ones are there (EKS adds two of its own for Auto Mode and the creator).
    for role in ["platform-admin", "developer", "eks-auto-batch-node"] {
        let arn = format!("arn:aws:iam::111122223333:role/{role}");
        assert!(c["accessEntries"].get(&arn).is_some(), "{role}: {c}");
    }
    let pods: Vec<(String, String)> = c["podIdentities"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| {
            (
                p["spec"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                p["spec"]["serviceAccount"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    let unique: BTreeSet<&(String, String)> = pods.iter().collect();
    assert_eq!(
        unique.len(),
        pods.len(),
        "a Pod Identity association twice: {pods:?}"
    );
    assert_eq!(pods.len(), 2, "{pods:?}");
}
