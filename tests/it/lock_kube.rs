//! The Kubernetes Lease fleet lock and HA replicas against a real kube-apiserver
//! (tests/k8s/with-apiserver.sh, KEELSON_KUBECONFIG; skipped without it).
//!
//! ```text
//!  keelson run ×3 ──Lease default/ha-PID──► kube-apiserver      (one active, two on standby)
//!       │ active: applies to the simulator (one sim.json shared by all three)
//!       └ kill -9 mid-upgrade ──► a standby takes the expired Lease, resumes from the
//!         journal and EKS, never re-issues the update; updates counted per cluster
//! ```

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use keelson::adapters::lease::LeaseLock;
use keelson::daemon::lock::{Attempt, Holder, LockBackend, Timing};
use serde_json::Value;

use crate::daemon::{
    bump_staging, free_port, http, s, sim_state, status, version_updates, wait_for_staging_hop,
    wait_until,
};
use crate::kube_real::{admin, kubeconfig, serial, tls_provider};

fn timing(secs: u64) -> Timing {
    Timing {
        duration: Duration::from_secs(secs),
        renew_every: Duration::from_millis(200),
        renew_deadline: Duration::from_secs(secs) * 2 / 3,
        skew: Duration::ZERO,
    }
}

fn replica(name: &str, pid: u32) -> Holder {
    Holder {
        pid,
        host: name.into(),
        since: 1,
    }
}

async fn client_as(path: &Path, context: &str) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(path).unwrap();
    let opts = kube::config::KubeConfigOptions {
        context: Some(context.into()),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

#[tokio::test]
async fn a_lease_is_taken_once_renewed_expired_taken_over_and_released() {
    let Some(path) = kubeconfig() else { return };
    tls_provider();
    let _turn = serial().await;
    let client = admin(&path).await;
    let name = format!("lease-{}", std::process::id());
    let a = LeaseLock::new(client.clone(), "default", &name, timing(2));
    let b = LeaseLock::new(client.clone(), "default", &name, timing(2));
    let (ha, hb) = (replica("replica-a", 1), replica("replica-b", 2));
    assert_eq!(a.try_acquire(&ha).await.unwrap(), Attempt::Acquired);
    assert_eq!(
        b.try_acquire(&hb).await.unwrap().map_since(),
        Attempt::Held(Some(Holder {
            since: 0,
            ..ha.clone()
        }))
    );
    // Renewed within the duration: never stale to B.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(a.renew(&ha).await.unwrap());
        assert!(
            matches!(b.try_acquire(&hb).await.unwrap(), Attempt::Held(Some(h)) if h.host == "replica-a")
        );
    }
    // A stops renewing (a dead or partitioned replica): B takes over once it has seen
    // the same resourceVersion for the lease duration, and A's next renewal fails.
    let stopped = Instant::now();
    let took = loop {
        if b.try_acquire(&hb).await.unwrap() == Attempt::Acquired {
            break stopped.elapsed();
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "B never took over"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        took >= Duration::from_secs(2),
        "taken over after {took:?}, before the lease ran out"
    );
    assert!(!a.renew(&ha).await.unwrap());
    let lease = kube::Api::<Lease>::namespaced(client.clone(), "default")
        .get(&name)
        .await
        .unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("replica-b/2"));
    assert_eq!(spec.lease_transitions, Some(1));
    assert_eq!(spec.lease_duration_seconds, Some(2));
    // Released: A takes it at once, without waiting for any expiry.
    b.release().await.unwrap();
    assert_eq!(a.try_acquire(&ha).await.unwrap(), Attempt::Acquired);
    a.release().await.unwrap();
}

/// `Attempt` with the holder's `since` cleared, for comparisons.
trait MapSince {
    fn map_since(self) -> Attempt;
}
impl MapSince for Attempt {
    fn map_since(self) -> Attempt {
        match self {
            Attempt::Held(Some(h)) => Attempt::Held(Some(Holder { since: 0, ..h })),
            a => a,
        }
    }
}

#[tokio::test]
async fn a_lease_that_cannot_be_read_is_an_error_not_a_free_lock() {
    let Some(path) = kubeconfig() else { return };
    tls_provider();
    let _turn = serial().await;
    // The reader may not read Leases.
    let reader = client_as(&path, "reader").await;
    let l = LeaseLock::new(reader, "default", "forbidden", timing(2));
    let e = l
        .try_acquire(&replica("r", 1))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Lease default/forbidden") && e.contains("may get, create and update Leases"),
        "{e}"
    );
    // Nothing listening: an error within the call timeout.
    let port = free_port();
    let mut config = kube::Config::new(format!("http://127.0.0.1:{port}").parse().unwrap());
    config.connect_timeout = Some(Duration::from_secs(1));
    let l = LeaseLock::new(
        kube::Client::try_from(config).unwrap(),
        "default",
        "x",
        timing(2),
    );
    let started = Instant::now();
    assert!(l.try_acquire(&replica("r", 1)).await.is_err());
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// A daemon replica, its stderr in a file; killed when dropped.
pub(crate) struct Replica {
    pub(crate) child: Child,
    pub(crate) port: u16,
    pub(crate) log: std::path::PathBuf,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Replica {
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A daemon on `repo` with the fleet lock `kubernetes:default/LEASE`, `extra` arguments
/// last.
pub(crate) fn replica_process(
    kubeconfig: &Path,
    repo: &Path,
    lease: &str,
    n: usize,
    extra: &[&str],
) -> Replica {
    let port = free_port();
    let log = repo.parent().unwrap().join(format!("replica-{n}.log"));
    let child = crate::daemon::bin()
        .env("KUBECONFIG", kubeconfig)
        .args([
            "run",
            "--repo",
            s(repo),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--lock", &format!("kubernetes:default/{lease}")])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    Replica { child, port, log }
}

fn holder_pid(rt: &tokio::runtime::Runtime, client: &kube::Client, lease: &str) -> Option<u32> {
    let api = kube::Api::<Lease>::namespaced(client.clone(), "default");
    let l = rt.block_on(api.get_opt(lease)).ok()??;
    let id = l.spec?.holder_identity?;
    id.rsplit_once('/')?.1.parse().ok()
}

/// Writes per cluster, as the simulator recorded them: every update (version, config,
/// add-on, node group), by cluster.
fn updates_per_cluster(sim: &Value) -> Vec<(String, usize)> {
    sim["clusters"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, c)| (name.clone(), c["updates"].as_array().map_or(0, Vec::len)))
        .collect()
}

#[test]
fn three_replicas_one_active_kill_9_of_the_holder_mid_upgrade_is_taken_over_and_finished_once() {
    let Some(path) = kubeconfig() else { return };
    tls_provider();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _turn = rt.block_on(serial());
    let client = rt.block_on(admin(&path));
    let lease = format!("ha-{}", std::process::id());
    let (_d, repo) = crate::daemon::applied_fleet();
    let before = updates_per_cluster(&sim_state(&repo));
    bump_staging(&repo);

    let mut replicas: Vec<Replica> = (0..3)
        .map(|n| {
            replica_process(
                &path,
                &repo,
                &lease,
                n,
                &["--sim-speed", "60", "--poll", "15", "--lock-duration", "6s"],
            )
        })
        .collect();
    let first = wait_until("one replica to hold the Lease", 30, || {
        holder_pid(&rt, &client, &lease)
    });
    let active = replicas.iter().position(|r| r.child.id() == first).unwrap();
    // The standbys serve /healthz, /metrics and a /status naming the holder.
    for (i, r) in replicas.iter().enumerate().filter(|(i, _)| *i != active) {
        let st = wait_until("a standby's status naming the holder", 30, || {
            status(r.port).filter(|s| s["phase"] == "standby" && !s["lockHolder"].is_null())
        });
        assert_eq!(st["lockHolder"]["pid"], first, "replica {i}: {st}");
        assert_eq!(st["lock"], format!("Lease default/{lease}"));
        assert_eq!(
            http(r.port, "GET", "/healthz", &[], b"").map(|x| x.0),
            Some(200)
        );
        assert_eq!(
            http(r.port, "GET", "/readyz", &[], b"").map(|x| x.0),
            Some(503)
        );
        let (code, metrics) = http(r.port, "GET", "/metrics", &[], b"").unwrap();
        assert_eq!(code, 200);
        assert!(metrics.contains("keelson_ready 0"), "{metrics}");
    }
    // Mid-upgrade: the control-plane update is running.
    wait_for_staging_hop(&repo, 60);
    let mut dead = replicas.remove(active);
    dead.child.kill().unwrap(); // SIGKILL
    let killed = Instant::now();
    dead.child.wait().unwrap();
    let next = wait_until("a standby to take the Lease", 30, || {
        holder_pid(&rt, &client, &lease).filter(|p| *p != first)
    });
    let takeover = killed.elapsed();
    eprintln!(
        "takeover after kill -9: {} ms (lease duration 6 s)",
        takeover.as_millis()
    );
    // The lease runs from the holder's last renewal, at most one renewal period (1.2 s)
    // before the kill.
    assert!(
        takeover >= Duration::from_millis(4800),
        "taken over before the lease expired: {takeover:?}"
    );
    assert!(
        takeover < Duration::from_secs(15),
        "takeover took {takeover:?}"
    );
    let new = replicas.iter().position(|r| r.child.id() == next).unwrap();
    let st = wait_until("the new holder to finish the upgrade", 120, || {
        status(replicas[new].port).filter(|s| {
            s["ready"] == true && s["clusters"]["staging-apne1"]["state"] == "converged"
        })
    });
    assert_eq!(st["resumed"][0]["cluster"], "staging-apne1", "{st}");
    assert!(
        replicas[new]
            .log()
            .contains("resuming: cluster staging-apne1"),
        "{}",
        replicas[new].log()
    );
    let sim = sim_state(&repo);
    assert_eq!(sim["clusters"]["staging-apne1"]["live"]["version"], "1.35");
    assert_eq!(
        version_updates(&sim, "staging-apne1", "1.35"),
        1,
        "the hop was issued twice"
    );
    let after = updates_per_cluster(&sim);
    let writes: Vec<String> = after
        .iter()
        .zip(&before)
        .map(|((n, a), (_, b))| format!("{n}={}", a - b))
        .collect();
    eprintln!("updates per cluster during the run: {}", writes.join(" "));
    // Each update kind at most once per cluster: none issued twice.
    for (name, c) in sim["clusters"].as_object().unwrap() {
        let mut seen = std::collections::BTreeSet::new();
        for u in c["updates"].as_array().unwrap() {
            let key = (
                u["update"]["type"].to_string(),
                u["change"].to_string(),
                u["nodegroup"].to_string(),
                u["addon"].to_string(),
            );
            assert!(
                seen.insert(key.clone()),
                "cluster {name}: update {key:?} issued twice"
            );
        }
    }

    // SIGTERM: the holder releases the Lease, and the last standby takes it at once
    // instead of waiting for it to expire.
    let holder = &replicas[new];
    // SAFETY: a signal to our own child process.
    unsafe {
        libc::kill(holder.child.id() as i32, libc::SIGTERM);
    }
    let termed = Instant::now();
    let last = wait_until("the last standby to take the released Lease", 30, || {
        holder_pid(&rt, &client, &lease).filter(|p| *p != first && *p != next)
    });
    let handover = termed.elapsed();
    eprintln!("handover after SIGTERM: {} ms", handover.as_millis());
    assert!(
        handover < Duration::from_secs(6),
        "waited for expiry: {handover:?}"
    );
    assert!(replicas.iter().any(|r| r.child.id() == last));
}
