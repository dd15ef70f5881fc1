//! A file keelson skips (`nodegroups.YAML`) while the plan deletes what it declares: the
//! cluster is blocked naming the file, whether the file can be read or not, and the
//! delete goes ahead once the file is removed.

use crate::daemon::{keelson, s};
use crate::plan_cli::fleet;
use crate::util::out_and_err as text;

#[test]
fn a_plan_that_deletes_what_a_skipped_file_declares_is_blocked_naming_the_file() {
    let (d, repo) = fleet();
    let state = d.path().join("sim.json");
    let run = |cmd: &str| {
        let mut args = vec![cmd];
        args.push(if cmd == "apply" {
            "--auto-approve"
        } else {
            "--detailed-exitcode"
        });
        args.extend([
            "--repo",
            s(&repo),
            "--cluster",
            "prod-use1",
            "--state",
            s(&state),
            "--sim-speed",
            "instant",
        ]);
        keelson(&args)
    };
    let o = run("apply");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Renamed with an upper-case extension: no longer read, so the node groups it
    // declares look removed from git.
    let dir = repo.join("clusters/prod-use1");
    std::fs::rename(dir.join("nodegroups.yaml"), dir.join("nodegroups.YAML")).unwrap();
    let o = run("plan");
    let out = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(
        out.contains("NodeGroup general: would be deleted, but")
            && out.contains("nodegroups.YAML declares it"),
        "{out}"
    );
    let o = run("apply");
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));

    // Unreadable as YAML: it may declare anything, so any delete there is held too.
    std::fs::write(dir.join("nodegroups.YAML"), "kind: [NodeGroup\n").unwrap();
    let o = run("plan");
    let out = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(out.contains("nor readable as YAML"), "{out}");

    // Removed: the repository says the node groups go, and the plan deletes them.
    std::fs::remove_file(dir.join("nodegroups.YAML")).unwrap();
    let o = run("plan");
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(!out.contains("blocked"), "{out}");
}
