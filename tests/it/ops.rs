//! What an operator meets around the core loop: the state directory of the image, the
//! `KEELSON_*` environment, logs on stderr.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::plan_cli::fleet;

fn keelson(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_keelson"));
    c.args(["--today", "2026-11-23"])
        .args(args)
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.env_remove("NO_COLOR").output().expect("run keelson")
}

fn r(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every file and directory under `dir`, relative.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_daemon_with_a_state_dir_writes_nothing_into_a_read_only_repository() {
    // The image's `docker run -v REPO:/repo:ro ... run --repo /repo` with
    // KEELSON_STATE_DIR=/var/lib/keelson: lock, journal and simulator state go there.
    let (_d, repo) = fleet();
    let state = tempfile::tempdir().unwrap();
    let before = tree(&repo);
    let o = keelson(
        &[
            "run",
            "--repo",
            r(&repo),
            "--target",
            "sim",
            "--once",
            "--sim-speed",
            "instant",
        ],
        &[("KEELSON_STATE_DIR", r(state.path()))],
    );
    // 2: the manual stage's changes wait for an approval; the auto stage was applied.
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(tree(&repo), before, "the repository is left as it was");
    assert!(
        state.path().join("sim.json").is_file(),
        "{:?}",
        tree(state.path())
    );
    assert!(state.path().join("keelson.lock").exists());

    // plan and apply find the same state there.
    let o = keelson(
        &["plan", "--repo", r(&repo), "--detailed-exitcode"],
        &[("KEELSON_STATE_DIR", r(state.path()))],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!text(&o).contains("Plan: 34 to create"), "{}", text(&o));
    assert_eq!(tree(&repo), before);
}

#[test]
fn keelson_repo_target_and_state_stand_for_the_flags() {
    let (_d, repo) = fleet();
    let state = tempfile::tempdir().unwrap();
    let file = state.path().join("elsewhere.json");
    let env = [
        ("KEELSON_REPO", r(&repo)),
        ("KEELSON_TARGET", "sim"),
        ("KEELSON_STATE", r(&file)),
    ];
    let o = keelson(&["apply", "--auto-approve"], &env);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        file.is_file(),
        "the simulator state is where KEELSON_STATE says"
    );
    let o = keelson(&["plan", "--detailed-exitcode"], &env);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // A flag wins over its variable.
    let o = keelson(
        &[
            "plan",
            "--detailed-exitcode",
            "--state",
            r(&state.path().join("new.json")),
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
