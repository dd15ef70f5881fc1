//! `keelson run --shards auto` against a real kube-apiserver (tests/k8s/with-apiserver.sh,
//! KEELSON_KUBECONFIG; skipped without it): replicas divide 60 simulated clusters.
//!
//! ```text
//!  keelson run --shards auto ×3 ──member Leases + one Lease per cluster──► kube-apiserver
//!       │ each plans and applies only its clusters (one sim.json shared, a journal each)
//!       ├ kill -9 of one mid-apply ──► the two others take its clusters and finish them;
//!       │   the simulator's count of writes per cluster shows nothing applied twice
//!       └ two more replicas join (2 → 4) ──► about half the clusters move, only to them
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::daemon::{s, status, wait_until};
use crate::kube_real::{kubeconfig, serial};
use crate::lock_kube::{replica_process, Replica};

const CLUSTERS: usize = 60;
/// How many of them are in the prod stage.
const PROD: usize = 10;

/// A sharded replica on `repo`'s simulator, in shard group `group`. Each replica has its
/// own state directory (journal), as pods do; the simulator's account is shared.
fn start(kubeconfig: &Path, repo: &Path, group: &str, n: usize) -> Replica {
    let state_dir = repo.parent().unwrap().join(format!("state-{n}"));
    let sim = repo.join(".keelson/sim.json");
    replica_process(
        kubeconfig,
        repo,
        group,
        n,
        &[
            "--state",
            s(&sim),
            "--state-dir",
            s(&state_dir),
            "--sim-speed",
            "300",
            "--poll",
            "15",
            "--resync",
            "5s",
            "--concurrency",
            "20",
            "--lock-duration",
            "3s",
            "--lock-skew",
            "0s",
            "--shards",
            "auto",
        ],
    )
}

/// The `shard` part of a replica's /status.
fn shard(r: &Replica) -> Option<Value> {
    status(r.port).map(|s| s["shard"].clone())
}

/// A fleet of 60 Auto Mode clusters on the simulator at 1.34, then asked for 1.35 (an
/// add-on update first, then the control plane, then the transition record).
fn fleet(dir: &Path) -> PathBuf {
    let repo = dir.join("repo");
    std::fs::create_dir_all(repo.join("clusters")).unwrap();
    std::fs::write(
        repo.join("keelson.yaml"),
        "apiVersion: keelson.dev/v1alpha1\nkind: Fleet\nmetadata:\n  name: sharded\nspec:\n  stages:\n    - name: staging\n      apply: auto\n    - name: prod\n      apply: auto\n  policy:\n    maxConcurrency: 20\n",
    )
    .unwrap();
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/fleet/clusters/staging-apne1/cluster.yaml"),
    )
    .unwrap();
    for i in 0..CLUSTERS {
        let name = format!("c{i:02}");
        let d = repo.join("clusters").join(&name);
        std::fs::create_dir_all(&d).unwrap();
        // The last ten are prod: their hop waits for every staging cluster's transition
        // record, which other replicas write.
        let mut cluster = example.replace("staging-apne1", &name);
        if i >= CLUSTERS - PROD {
            cluster = cluster.replace("stage: staging", "stage: prod");
        }
        std::fs::write(d.join("cluster.yaml"), cluster).unwrap();
        std::fs::write(
            d.join("addons.yaml"),
            "apiVersion: keelson.dev/v1alpha1\nkind: Addon\nmetadata:\n  name: aws-efs-csi-driver\nspec:\n  version: v2.1.4-eksbuild.1\n",
        )
        .unwrap();
    }
    let o = crate::daemon::apply_instant(&repo);
    assert_eq!(o.status.code(), Some(0), "{}", crate::util::out_and_err(&o));
    for i in 0..CLUSTERS {
        let d = repo.join("clusters").join(format!("c{i:02}"));
        crate::daemon::edit(
            &d.join("cluster.yaml"),
            "version: \"1.34\"",
            "version: \"1.35\"",
        );
        crate::daemon::edit(
            &d.join("addons.yaml"),
            "v2.1.4-eksbuild.1",
            "v2.1.9-eksbuild.1",
        );
    }
    repo
}

/// The simulator's state, read while replicas write it (a rename replaces it whole).
fn sim(repo: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(repo.join(".keelson/sim.json")).ok()?).ok()
}

/// Accepted writes to `cluster` by operation.
fn writes(sim: &Value, cluster: &str) -> BTreeMap<String, u64> {
    sim["writes"][cluster]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

/// How many of `clusters` are mid-upgrade: an update accepted, the transition record
/// (whose untag is a cluster's last write) not written yet.
fn mid_upgrade<'a>(sim: &Value, clusters: impl IntoIterator<Item = &'a String>) -> usize {
    clusters
        .into_iter()
        .filter(|c| {
            let w = writes(sim, c);
            (w.contains_key("UpdateAddon") || w.contains_key("UpdateClusterVersion"))
                && !w.contains_key("UntagResource")
        })
        .count()
}

/// Owner of every cluster as the replicas' /status say, once they agree on `members`
/// members and every cluster has exactly one owner.
fn agreed_owners(replicas: &[&Replica], members: usize) -> Option<BTreeMap<String, String>> {
    let mut owners = BTreeMap::new();
    for r in replicas {
        let sh = shard(r)?;
        if sh["members"].as_array()?.len() != members {
            return None;
        }
        let me = sh["me"].as_str()?.to_string();
        for c in sh["owned"].as_array()? {
            if owners.insert(c.as_str()?.to_string(), me.clone()).is_some() {
                return None;
            }
        }
    }
    (owners.len() == CLUSTERS).then_some(owners)
}

fn moved(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> usize {
    after
        .iter()
        .filter(|(c, o)| before.get(*c) != Some(o))
        .count()
}

/// Every cluster at 1.35 with the add-on at v2.1.9 and the hop recorded.
fn converged(sim: &Value) -> bool {
    (0..CLUSTERS).all(|i| {
        let c = &sim["clusters"][format!("c{i:02}")];
        c["live"]["version"] == "1.35"
            && c["live"]["status"] == "ACTIVE"
            && c["addons"]["aws-efs-csi-driver"]["live"]["version"] == "v2.1.9-eksbuild.1"
            && c["live"]["tags"]
                .as_object()
                .is_some_and(|t| t.contains_key("keelson.dev/upgraded-1.34-1.35"))
    })
}

#[test]
fn three_shards_kill_9_mid_apply_is_finished_by_the_new_owners_once_and_scaling_moves_few() {
    let Some(path) = kubeconfig() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _turn = rt.block_on(serial());
    let dir = tempfile::tempdir().unwrap();
    let repo = fleet(dir.path());
    // What the seeding apply wrote; the run's writes are counted on top of it.
    let seeded = sim(&repo).unwrap();
    let group = format!("shard-{}", std::process::id());
    let started = Instant::now();

    let mut replicas: Vec<Replica> = (0..3).map(|n| start(&path, &repo, &group, n)).collect();
    let three = wait_until("three replicas to divide the clusters", 30, || {
        agreed_owners(&replicas.iter().collect::<Vec<_>>(), 3)
    });
    let ids: BTreeSet<&String> = three.values().collect();
    assert_eq!(ids.len(), 3, "{three:?}");
    for id in &ids {
        let n = three.values().filter(|o| o == id).count();
        assert!((8..=32).contains(&n), "{id} owns {n} of 60");
    }

    // Mid-apply: a replica has operations running (an add-on or control-plane update
    // accepted, the cluster's transition record not written yet) and others to do.
    let (victim, begun) = wait_until("a replica in the middle of its apply", 60, || {
        let sim = sim(&repo)?;
        replicas.iter().enumerate().find_map(|(i, r)| {
            let me = shard(r)?["me"].as_str()?.to_string();
            let mine: Vec<&String> = three
                .iter()
                .filter(|(_, o)| **o == me)
                .map(|(c, _)| c)
                .collect();
            let begun = mine.iter().filter(|c| !writes(&sim, c).is_empty()).count();
            (mid_upgrade(&sim, mine) > 0).then_some((i, begun))
        })
    });
    let dead = replicas.remove(victim);
    let dead_id = shard(&dead).unwrap()["me"].as_str().unwrap().to_string();
    let mut dead = dead;
    dead.child.kill().unwrap(); // SIGKILL
    let killed = Instant::now();
    dead.child.wait().unwrap();
    let dead_clusters: BTreeSet<String> = three
        .iter()
        .filter(|(_, o)| **o == dead_id)
        .map(|(c, _)| c.clone())
        .collect();
    // Operations the dead replica left running or half-done: an update accepted, the
    // record not yet written.
    let at_kill = sim(&repo).unwrap();
    let in_flight = mid_upgrade(&at_kill, dead_clusters.iter());
    eprintln!(
        "killed {dead_id} with {begun} of its {} clusters begun, {in_flight} of them mid-upgrade",
        dead_clusters.len()
    );

    // Its clusters are taken over: the two others divide them, and nothing else moves.
    let two = wait_until("the two survivors to divide the clusters", 30, || {
        agreed_owners(&replicas.iter().collect::<Vec<_>>(), 2)
    });
    let takeover = killed.elapsed();
    let moved_3_2 = moved(&three, &two);
    assert_eq!(
        moved_3_2,
        dead_clusters.len(),
        "only the dead replica's clusters move"
    );
    for (c, o) in &three {
        if *o != dead_id {
            assert_eq!(two[c], *o, "{c} moved though its owner lives");
        }
    }
    // …and finished, none left unowned or half-done.
    let end = wait_until("every cluster upgraded", 90, || {
        sim(&repo).filter(converged)
    });
    let finished = killed.elapsed();
    let run_writes = |c: &str| -> BTreeMap<String, u64> {
        let before = writes(&seeded, c);
        writes(&end, c)
            .into_iter()
            .map(|(op, n)| (op.clone(), n - before.get(&op).copied().unwrap_or(0)))
            // The insights refresh is the planner's, made by every plan of a hop (on
            // any replica, as often as it plans): not an applied change.
            .filter(|(op, n)| *n > 0 && op != "StartInsightsRefresh")
            .collect()
    };
    // The writes of one uninterrupted hop, as a cluster the dead replica never owned got
    // them: the add-on update, the control-plane update, the in-progress tag, the
    // transition record (tag, then untag of the in-progress tag).
    let profile = run_writes(
        two.iter()
            .find(|(c, _)| !dead_clusters.contains(*c))
            .unwrap()
            .0,
    );
    assert_eq!(profile.get("UpdateAddon"), Some(&1), "{profile:?}");
    assert_eq!(profile.get("UpdateClusterVersion"), Some(&1), "{profile:?}");
    let mut max_per_op: BTreeMap<String, u64> = BTreeMap::new();
    for i in 0..CLUSTERS {
        let c = format!("c{i:02}");
        let w = run_writes(&c);
        // Taken over or not, each cluster got each planned write once: nothing re-issued.
        assert_eq!(
            w,
            profile,
            "{c} (owned by the killed replica: {})",
            dead_clusters.contains(&c)
        );
        for (op, n) in w {
            let m = max_per_op.entry(op).or_default();
            *m = (*m).max(n);
        }
    }
    // The stage gate held every prod hop until the last staging hop was recorded, though
    // other replicas made those records: the gate's evidence lives on EKS.
    let recorded = |i: usize| -> i64 {
        let tag = end["clusters"][format!("c{i:02}")]["live"]["tags"]
            ["keelson.dev/upgraded-1.34-1.35"]
            .as_str()
            .unwrap()
            .to_string();
        tag.strip_prefix("t=")
            .and_then(|t| t.split(' ').next())
            .unwrap()
            .parse()
            .unwrap()
    };
    let last_staging = (0..CLUSTERS - PROD).map(recorded).max().unwrap();
    let first_prod = (CLUSTERS - PROD..CLUSTERS).map(recorded).min().unwrap();
    assert!(
        first_prod >= last_staging,
        "a prod hop finished at {first_prod}, before staging's last at {last_staging}"
    );
    let prod_owners: BTreeSet<&String> = (CLUSTERS - PROD..CLUSTERS)
        .map(|i| &two[&format!("c{i:02}")])
        .collect();
    assert!(prod_owners.len() > 1 || three.values().collect::<BTreeSet<_>>().len() > 1);
    let owners_log: Vec<String> = replicas.iter().map(Replica::log).collect();
    assert!(
        owners_log
            .iter()
            .any(|l| l.contains("shard members changed: 2")),
        "{owners_log:?}"
    );

    // Scale 2 → 4: the newcomers take about half, from the two, and nothing else moves.
    let n = replicas.len();
    replicas.push(start(&path, &repo, &group, n + 1));
    replicas.push(start(&path, &repo, &group, n + 2));
    let four = wait_until("four replicas to divide the clusters", 30, || {
        agreed_owners(&replicas.iter().collect::<Vec<_>>(), 4)
    });
    let moved_2_4 = moved(&two, &four);
    let old: BTreeSet<&String> = two.values().collect();
    for (c, o) in &four {
        if two[c] != *o {
            assert!(!old.contains(o), "{c} moved between the old replicas");
        }
    }
    assert!(
        (15..=45).contains(&moved_2_4),
        "{moved_2_4} of 60 moved from 2 to 4"
    );
    // The new owners find nothing to do: no write is made again.
    std::thread::sleep(Duration::from_secs(2));
    let after = sim(&repo).unwrap();
    assert_eq!(
        after["writes"], end["writes"],
        "a converged cluster was written again"
    );
    for r in &replicas {
        let (code, metrics) = crate::daemon::http(r.port, "GET", "/metrics", &[], b"").unwrap();
        assert_eq!(code, 200);
        assert!(metrics.contains("keelson_shard_members 4"), "{metrics}");
        assert!(
            metrics.contains("keelson_shard_clusters_owned "),
            "{metrics}"
        );
    }
    eprintln!(
        "shards: takeover after kill -9 {} ms (lease 3 s), all 60 converged {} ms after the kill; moved 3→2: {moved_2_3}, 2→4: {moved_2_4}; max writes per cluster and operation: {max_per_op:?}; test wall time {} s",
        takeover.as_millis(),
        finished.as_millis(),
        started.elapsed().as_secs(),
        moved_2_3 = moved_3_2,
    );
}

#[tokio::test]
async fn members_come_and_go_by_lease_and_a_cluster_lease_has_one_holder() {
    use keelson::adapters::members::Membership;
    use keelson::daemon::lock::{Attempt, Holder, LockBackend, Timing};
    use keelson::daemon::shard::live_members;

    let Some(path) = kubeconfig() else { return };
    crate::kube_real::tls_provider();
    let _turn = serial().await;
    let client = crate::kube_real::admin(&path).await;
    let group = format!("members-{}", std::process::id());
    let t = Timing::for_duration(Duration::from_secs(3), Duration::ZERO);
    let join = |group: &str, me: &str| Membership::new(client.clone(), "default", group, me, t);
    let (a, b) = (join(&group, "pod-a/1"), join(&group, "pod-b/2"));
    let other = join(&format!("{group}-other"), "pod-c/3");
    for m in [&a, &b, &other] {
        assert!(m.renew().await.unwrap());
    }
    let live = |records: Vec<keelson::daemon::shard::MemberRecord>| {
        live_members(&records, keelson::daemon::unix_now(), 0, "pod-a/1")
    };
    let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    // Renewing keeps one Lease per member; another group's members are not seen.
    assert!(a.renew().await.unwrap());
    assert_eq!(a.records().await.unwrap().len(), 2);
    assert_eq!(
        live(a.records().await.unwrap()),
        ids(&["pod-a/1", "pod-b/2"])
    );
    // B stops renewing: no longer a member once its duration has passed.
    tokio::time::sleep(Duration::from_millis(4100)).await;
    assert!(a.renew().await.unwrap());
    assert_eq!(live(a.records().await.unwrap()), ids(&["pod-a/1"]));
    // Leaving deletes the Lease; leaving twice is not an error.
    b.leave().await.unwrap();
    b.leave().await.unwrap();
    assert_eq!(a.records().await.unwrap().len(), 1);

    // A cluster's Lease is the same object for every member, held by one at a time.
    let (ha, hb) = (
        Holder {
            pid: 1,
            host: "pod-a".into(),
            since: 0,
        },
        Holder {
            pid: 2,
            host: "pod-b".into(),
            since: 0,
        },
    );
    let (la, lb) = (a.cluster_lock("Prod_1"), b.cluster_lock("Prod_1"));
    assert_eq!(la.describe(), lb.describe());
    assert_eq!(la.try_acquire(&ha).await.unwrap(), Attempt::Acquired);
    assert!(
        matches!(lb.try_acquire(&hb).await.unwrap(), Attempt::Held(Some(h)) if h.host == "pod-a")
    );
    // A look-alike name is another Lease.
    assert_eq!(
        b.cluster_lock("prod-1").try_acquire(&hb).await.unwrap(),
        Attempt::Acquired
    );
    la.release().await.unwrap();
    assert_eq!(lb.try_acquire(&hb).await.unwrap(), Attempt::Acquired);
    lb.release().await.unwrap();
    a.leave().await.unwrap();
    other.leave().await.unwrap();
}

/// A CLI apply beside sharded replicas takes each changed cluster's Lease: while another
/// process holds it, the apply refuses (naming the cluster and the holder) and writes
/// nothing; once it is free the apply runs and lets it go.
#[test]
fn a_cli_apply_refuses_a_cluster_whose_lease_a_replica_holds() {
    use keelson::adapters::members::Membership;
    use keelson::daemon::lock::{Attempt, Holder, LockBackend, Timing};

    let Some(path) = kubeconfig() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    crate::kube_real::tls_provider();
    let _turn = rt.block_on(serial());
    let client = rt.block_on(crate::kube_real::admin(&path));
    let (_dir, repo) = crate::daemon::applied_fleet();
    crate::daemon::edit(
        &repo.join("clusters/staging-apne1/addons.yaml"),
        "v2.1.4-eksbuild.1",
        "v2.1.9-eksbuild.1",
    );
    let group = format!("cli-{}", std::process::id());
    let t = Timing::for_duration(Duration::from_secs(30), Duration::ZERO);
    let replica = Membership::new(client, "default", &group, "pod-r/7", t);
    let lease = replica.cluster_lock("staging-apne1");
    let holder = Holder {
        pid: 7,
        host: "pod-r".into(),
        since: keelson::daemon::unix_now(),
    };
    assert_eq!(
        rt.block_on(lease.try_acquire(&holder)).unwrap(),
        Attempt::Acquired
    );
    let before = sim(&repo).unwrap();
    let apply = || {
        crate::daemon::bin()
            .env("KUBECONFIG", &path)
            .args(["apply", "--repo", s(&repo), "--auto-approve"])
            .args(["--sim-speed", "instant", "--lock-wait", "0s"])
            .args(["--lock", &format!("kubernetes:default/{group}")])
            .output()
            .unwrap()
    };
    let o = apply();
    let out = crate::util::out_and_err(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("cluster staging-apne1 is being written by another keelson process")
            && out.contains("pod-r"),
        "{out}"
    );
    assert_eq!(
        writes(&sim(&repo).unwrap(), "staging-apne1"),
        writes(&before, "staging-apne1"),
        "nothing written while the Lease was held elsewhere"
    );

    rt.block_on(lease.release()).unwrap();
    let o = apply();
    assert_eq!(o.status.code(), Some(0), "{}", crate::util::out_and_err(&o));
    let after = writes(&sim(&repo).unwrap(), "staging-apne1");
    assert_eq!(
        after.get("UpdateAddon").copied().unwrap_or(0),
        writes(&before, "staging-apne1")
            .get("UpdateAddon")
            .copied()
            .unwrap_or(0)
            + 1,
        "{after:?}"
    );
    // Released at the end: another holder takes it at once.
    assert_eq!(
        rt.block_on(lease.try_acquire(&holder)).unwrap(),
        Attempt::Acquired
    );
    rt.block_on(lease.release()).unwrap();
}
