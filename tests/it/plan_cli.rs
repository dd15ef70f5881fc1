//! `keelson plan` and `keelson apply` end to end on the simulator, as a user runs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn keelson(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keelson"))
        .args(["--today", "2026-11-23"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run keelson")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A copy of examples/fleet in a temp dir.
pub fn fleet() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("fleet");
    copy(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/fleet")),
        &root,
    );
    (dir, root)
}

pub fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if e.file_type().unwrap().is_dir() {
            copy(&e.path(), &to.join(name));
        } else {
            std::fs::copy(e.path(), to.join(name)).unwrap();
        }
    }
}

fn r(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn plan_apply_plan_converges() {
    let (_d, repo) = fleet();
    let o = keelson(&["plan", "--repo", r(&repo), "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(2), "{}{}", out(&o), err(&o));
    assert!(
        out(&o).contains("Plan: 46 to create, 0 to change, 0 to replace, 0 to delete."),
        "{}",
        out(&o)
    );
    assert!(
        !repo.join(".keelson/sim.json").exists()
            || std::fs::metadata(repo.join(".keelson/sim.json")).is_ok()
    );

    let o = keelson(&[
        "apply",
        "--repo",
        r(&repo),
        "--auto-approve",
        "--sim-speed",
        "instant",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(
        out(&o).contains("Apply complete: 46 steps in 3 clusters"),
        "{}",
        out(&o)
    );
    assert!(
        out(&o).contains("The live state now matches the repository."),
        "{}",
        out(&o)
    );
    assert!(
        err(&o).contains("[prod-use1] + NodeGroup general"),
        "{}",
        err(&o)
    );

    let o = keelson(&["plan", "--repo", r(&repo), "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(out(&o).contains("3 clusters without changes."));

    // Applying again makes no change at all.
    let o = keelson(&[
        "apply",
        "--repo",
        r(&repo),
        "--auto-approve",
        "--sim-speed",
        "instant",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(out(&o).contains("No changes."), "{}", out(&o));
}

#[test]
fn a_saved_plan_applies_only_while_the_live_state_is_unchanged() {
    let (_d, repo) = fleet();
    keelson(&[
        "apply",
        "--repo",
        r(&repo),
        "--auto-approve",
        "--sim-speed",
        "instant",
    ]);
    let ng = repo.join("clusters/prod-use1/nodegroups.yaml");
    let text = std::fs::read_to_string(&ng).unwrap();
    std::fs::write(&ng, text.replace("maxSize: 12", "maxSize: 16")).unwrap();
    let planfile = repo.join("plan.json");
    let o = keelson(&[
        "plan",
        "--repo",
        r(&repo),
        "--out",
        r(&planfile),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&planfile).unwrap()).unwrap();
    assert_eq!(saved["format"], "keelson-plan");
    assert_eq!(saved["summary"]["update"], 1);
    let o = keelson(&[
        "apply",
        "--repo",
        r(&repo),
        "--plan",
        r(&planfile),
        "--auto-approve",
        "--sim-speed",
        "instant",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));

    // The same plan file again: the node group moved on, so it is refused.
    let o = keelson(&[
        "apply",
        "--repo",
        r(&repo),
        "--plan",
        r(&planfile),
        "--auto-approve",
        "--sim-speed",
        "instant",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).contains("the live state of prod-use1 changed since"),
        "{}",
        err(&o)
    );
}

#[test]
fn an_invalid_repo_stops_before_touching_anything() {
    let (_d, repo) = fleet();
    let c = repo.join("clusters/staging-apne1/cluster.yaml");
    let text = std::fs::read_to_string(&c).unwrap();
    std::fs::write(&c, text.replace("version: \"1.34\"", "version: 1.34")).unwrap();
    for args in [vec!["plan"], vec!["apply", "--auto-approve"]] {
        let cmd = args[0];
        let mut args = args.clone();
        args.extend(["--repo", r(&repo)]);
        let o = keelson(&args);
        assert_eq!(o.status.code(), Some(1));
        assert!(
            err(&o).contains("cluster.yaml:12:12: error[schema-type]"),
            "{}",
            err(&o)
        );
        assert!(err(&o).contains("nothing was planned or applied"));
        assert!(
            !repo.join(".keelson").exists(),
            "{cmd} created simulator state"
        );
    }
}

#[test]
fn a_corrupt_state_file_is_an_error_and_is_not_replaced() {
    let (_d, repo) = fleet();
    std::fs::create_dir_all(repo.join(".keelson")).unwrap();
    let state = repo.join(".keelson/sim.json");
    std::fs::write(
        &state,
        b"{\"format\":\"keelson-sim\",\"version\":1,\"now\":12,",
    )
    .unwrap();
    let o = keelson(&["apply", "--repo", r(&repo), "--auto-approve"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("is corrupt at line 1"), "{}", err(&o));
    assert_eq!(
        std::fs::read(&state).unwrap(),
        b"{\"format\":\"keelson-sim\",\"version\":1,\"now\":12,"
    );
}

#[test]
fn apply_asks_before_changing_anything_and_refuses_without_a_terminal() {
    let (_d, repo) = fleet();
    let o = keelson(&["apply", "--repo", r(&repo)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("pass --auto-approve"), "{}", err(&o));
    let o = keelson(&["plan", "--repo", r(&repo), "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(2), "nothing may have been applied");
}

#[test]
fn cluster_narrows_the_plan() {
    let (_d, repo) = fleet();
    let o = keelson(&[
        "plan",
        "--repo",
        r(&repo),
        "--cluster",
        "prod-use1",
        "--format",
        "json",
    ]);
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = plan["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["prod-use1"]);
    let o = keelson(&["plan", "--repo", r(&repo), "--cluster", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("no cluster named `nope`"), "{}", err(&o));
    let o = keelson(&["plan", "--repo", r(&repo), "--format", "markdown"]);
    assert!(
        out(&o).starts_with("### keelson plan — changes"),
        "{}",
        out(&o)
    );
}
