//! The Fleet's `spec.policy.lock`: validated where it is written, and taken by `keelson
//! apply` and `keelson run` when their command line names no lock.

use crate::daemon::{apply_instant, edit, keelson, s, spawn_synced};
use crate::plan_cli::fleet;
use crate::util::out_and_err as text;

fn set_lock(repo: &std::path::Path, lock: &str) {
    edit(
        &repo.join("keelson.yaml"),
        "    maxKubeletSkew: 2",
        &format!("    maxKubeletSkew: 2\n    lock: {lock}"),
    );
}

#[test]
fn a_fleet_lock_that_is_not_a_lock_is_reported_where_it_is_written() {
    let (_d, repo) = fleet();
    set_lock(&repo, "gs://bucket/fleet.lock");
    let o = keelson(&["validate", "--repo", s(&repo)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "{}:19:11: error[schema-value]: `spec.policy.lock` is `gs://bucket/fleet.lock`, which is not a fleet lock: `file:PATH`, `kubernetes:NAMESPACE/NAME` or `s3://BUCKET/KEY`",
            repo.join("keelson.yaml").display()
        )),
        "{}",
        text(&o)
    );
    for good in [
        "kubernetes:keelson/keelson-fleet",
        "kubernetes",
        "s3://acme-ci-locks/fleets/prod.lock",
        "file:/var/lib/keelson/fleet.lock",
    ] {
        let (_d, repo) = fleet();
        set_lock(&repo, good);
        let o = keelson(&["validate", "--repo", s(&repo)]);
        assert_eq!(o.status.code(), Some(0), "{good}: {}", text(&o));
    }
}

#[test]
fn apply_and_run_take_the_lock_the_fleet_names() {
    let (d, repo) = fleet();
    let lock = d.path().join("locks/policy.lock");
    set_lock(&repo, &format!("file:{}", lock.display()));
    // A daemon holding that lock by its command line...
    let _a = spawn_synced(&repo, &["--lock-file", s(&lock)]);
    // ...keeps out an apply and a daemon that name no lock: they take the Fleet's.
    let o = apply_instant(&repo);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let named = format!("holds the fleet lock, lock file {}", lock.display());
    assert!(text(&o).contains(&named), "{}", text(&o));
    let o = keelson(&["run", "--repo", s(&repo), "--once", "--listen", "none"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains(&named), "{}", text(&o));
    // The command line wins over the Fleet.
    let other = d.path().join("locks/other.lock");
    let o = keelson(&[
        "run",
        "--repo",
        s(&repo),
        "--once",
        "--listen",
        "none",
        "--lock",
        &format!("file:{}", other.display()),
    ]);
    assert!(!text(&o).contains("holds the fleet lock"), "{}", text(&o));
}
