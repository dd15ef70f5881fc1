//! Hostile and unlucky input to the command line and the simulator's state file: each
//! is refused at once with a message that says what is wrong, and nothing hangs, panics
//! or allocates without bound.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::plan_cli::fleet;
use crate::util::out_and_err as text;

fn keelson(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keelson"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run keelson")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `keelson plan` on examples/fleet with these extra arguments; fails if it takes long.
fn plan(repo: &Path, extra: &[&str]) -> Output {
    let started = Instant::now();
    let mut args = vec!["--today", "2026-11-23", "plan", "--repo", s(repo)];
    args.extend_from_slice(extra);
    let o = keelson(&args);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "plan {extra:?} took {:?}",
        started.elapsed()
    );
    o
}

/// `keelson apply` of one cluster of the repository on the simulator; extra arguments
/// (say, `--state FILE`) go after the others.
fn apply_cluster(repo: &Path, cluster: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "--today",
        "2026-11-23",
        "apply",
        "--repo",
        s(repo),
        "--auto-approve",
        "--sim-speed",
        "instant",
        "--cluster",
        cluster,
    ];
    args.extend_from_slice(extra);
    keelson(&args)
}

#[test]
fn impossible_dates_are_refused() {
    let (_d, repo) = fleet();
    for bad in [
        "2026-02-30",
        "2025-02-29",
        "2026-04-31",
        "2026-13-01",
        "2026-00-10",
    ] {
        let o = keelson(&["--today", bad, "validate", "--repo", s(&repo)]);
        assert_eq!(o.status.code(), Some(1), "{bad}: {}", text(&o));
        assert!(text(&o).contains(bad), "{bad}: {}", text(&o));
    }
    let o = keelson(&["--today", "2028-02-29", "validate", "--repo", s(&repo)]);
    assert!(!text(&o).contains("not a day"), "{}", text(&o));
}

#[test]
fn simulator_speeds_outside_the_range_are_refused_not_a_panic() {
    let (_d, repo) = fleet();
    for bad in ["1e-300", "0", "-1", "inf", "NaN", "1e300"] {
        let o = plan(&repo, &[&format!("--sim-speed={bad}")]);
        assert_eq!(o.status.code(), Some(1), "{bad}: {}", text(&o));
        assert!(text(&o).contains("0.001 to 1e9"), "{bad}: {}", text(&o));
        assert!(!text(&o).contains("panicked"), "{bad}: {}", text(&o));
    }
}

#[test]
fn a_state_path_that_is_not_a_regular_file_is_refused_without_reading_it() {
    let (_d, repo) = fleet();
    let o = plan(&repo, &["--state", "/dev/zero"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("not a regular file"), "{}", text(&o));
    let fifo = repo.join("state.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let o = plan(&repo, &["--state", s(&fifo)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("not a regular file"), "{}", text(&o));
    let o = plan(&repo, &["--state", s(&repo)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

#[test]
fn a_state_clock_past_the_calendar_is_refused() {
    let (_d, repo) = fleet();
    let state = repo.join("far.json");
    // A real state file, written by an apply, with its clock moved.
    let o = apply_cluster(&repo, "staging-apne1", &["--state", s(&state)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    for now in [i64::MAX - 10, -5] {
        let mut v = written.clone();
        v["now"] = serde_json::json!(now);
        std::fs::write(&state, serde_json::to_vec(&v).unwrap()).unwrap();
        let o = plan(&repo, &["--state", s(&state)]);
        assert_eq!(o.status.code(), Some(1), "{now}: {}", text(&o));
        assert!(
            text(&o).contains("outside the years"),
            "{now}: {}",
            text(&o)
        );
    }
}

#[test]
fn unreachable_upgrade_targets_are_refused_not_looped_over() {
    let (_d, repo) = fleet();
    let o = apply_cluster(&repo, "staging-apne1", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for (to, says) in [("2.0", "major"), ("1.4294967295", "at most 16")] {
        let started = Instant::now();
        let o = keelson(&[
            "--today",
            "2026-11-23",
            "check",
            "--repo",
            s(&repo),
            "--cluster",
            "staging-apne1",
            "--to",
            to,
        ]);
        assert!(started.elapsed() < Duration::from_secs(20), "{to}");
        assert_eq!(o.status.code(), Some(1), "{to}: {}", text(&o));
        assert!(text(&o).contains(says), "{to}: {}", text(&o));
    }
    // A state whose cluster runs "0.34": the plan blocks that cluster with the reason.
    let state = repo.join(".keelson/sim.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    v["clusters"]["staging-apne1"]["live"]["version"] = "0.34".into();
    std::fs::write(&state, serde_json::to_vec(&v).unwrap()).unwrap();
    let o = plan(
        &repo,
        &["--cluster", "staging-apne1", "--detailed-exitcode"],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("cannot be reached from the running 0.34"),
        "{}",
        text(&o)
    );
}

#[test]
fn an_operation_still_running_after_a_crash_is_not_reported_as_converged() {
    let (_d, repo) = fleet();
    let apply = || apply_cluster(&repo, "prod-use1", &[]);
    let o = apply();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // As a crash leaves it: a node group still being created, far from done.
    let state = repo.join(".keelson/sim.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    let later = v["now"].as_i64().unwrap() + 86_400;
    let ngs = v["clusters"]["prod-use1"]["nodeGroups"]
        .as_object_mut()
        .expect("node groups in the state");
    let (name, ng) = ngs.iter_mut().next().expect("a node group");
    let name = name.clone();
    ng["live"]["status"] = "CREATING".into();
    ng["readyAt"] = later.into();
    std::fs::write(&state, serde_json::to_vec(&v).unwrap()).unwrap();
    let o = apply();
    assert!(
        !text(&o).contains("matches the repository"),
        "a creating node group reported as converged: {}",
        text(&o)
    );
    assert!(text(&o).contains("has not converged"), "{}", text(&o));
    assert!(text(&o).contains(&name), "{}", text(&o));
}

#[test]
fn a_state_file_with_a_key_twice_is_damaged_not_read_by_the_last_one() {
    let (_d, repo) = fleet();
    let state = repo.join("twice.json");
    let o = apply_cluster(&repo, "staging-apne1", &["--state", s(&state)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let text_before = std::fs::read_to_string(&state).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text_before).unwrap();
    let compact = serde_json::to_string(&v).unwrap();
    assert!(compact.contains("\"clusters\":{\"staging-apne1\":"));
    let twice = compact.replacen(
        "\"clusters\":{",
        "\"clusters\":{\"staging-apne1\":{\"ghost\":true},",
        1,
    );
    std::fs::write(&state, &twice).unwrap();
    let o = plan(&repo, &["--state", s(&state)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("duplicate key `staging-apne1`"),
        "{}",
        text(&o)
    );
    // Never replaced.
    assert_eq!(std::fs::read_to_string(&state).unwrap(), twice);
}

#[test]
fn an_unreachable_remote_with_once_exits_1_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-remote.git");
    let url = format!("file://{}", missing.display());
    let o = keelson(&[
        "run",
        "--git",
        &url,
        "--cache-dir",
        s(&dir.path().join("cache")),
        "--once",
        "--listen",
        "none",
        "--output",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(st["revision"].is_null(), "{}", text(&o));
    assert!(
        st["lastError"]
            .as_str()
            .unwrap_or_default()
            .contains("no-such-remote"),
        "{}",
        text(&o)
    );
}

#[test]
fn two_applies_on_one_simulator_state_with_different_fleet_locks_lose_nothing() {
    // Two runs that share a simulated account but not a fleet lock (two repositories, or
    // two lock files) each read, change and write the state. Unlocked, both read the
    // empty account and the last to save wiped out the other's cluster while both
    // reported success.
    let (d, repo) = fleet();
    let state = d.path().join("account.json");
    let spawn = |cluster: &str, lock: &str| {
        let lock = d.path().join(lock);
        Command::new(env!("CARGO_BIN_EXE_keelson"))
            .args([
                "--today",
                "2026-11-23",
                "apply",
                "--repo",
                s(&repo),
                "--auto-approve",
                // Slow enough that the two runs overlap: a cluster takes about a second.
                "--sim-speed",
                "1500",
                "--cluster",
                cluster,
                "--state",
                s(&state),
                "--lock-file",
                s(&lock),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run keelson")
    };
    let a = spawn("prod-use1", "a.lock");
    let b = spawn("staging-apne1", "b.lock");
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
    assert_eq!(b.status.code(), Some(0), "{}", text(&b));
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    let clusters = saved["clusters"].as_object().unwrap();
    assert!(
        clusters.contains_key("prod-use1") && clusters.contains_key("staging-apne1"),
        "one run's work was lost: {:?}",
        clusters.keys().collect::<Vec<_>>()
    );
}

#[test]
fn a_simulator_state_held_by_another_process_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.json");
    let first = keelson::adapters::sim::Sim::open(
        &path,
        1_790_000_000,
        keelson::adapters::sim::Speed::Instant,
    )
    .unwrap();
    let e = keelson::adapters::sim::Sim::open_waiting(
        &path,
        1_790_000_000,
        keelson::adapters::sim::Speed::Instant,
        Duration::from_millis(200),
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("in use by") && msg.contains(&format!("pid {}", std::process::id())),
        "{msg}"
    );
    drop(first);

    // The lock file deleted while held: a second process gets a new one, and the first
    // then writes nothing rather than overwrite what the second wrote.
    let first = keelson::adapters::sim::Sim::open(
        &path,
        1_790_000_000,
        keelson::adapters::sim::Speed::Instant,
    )
    .unwrap();
    std::fs::remove_file(dir.path().join("sim.json.lock")).unwrap();
    let second = keelson::adapters::sim::Sim::open_waiting(
        &path,
        1_790_000_000,
        keelson::adapters::sim::Speed::Instant,
        Duration::from_millis(200),
    )
    .unwrap();
    second.advance_to(1_790_000_500);
    second.flush().unwrap();
    first.advance_to(1_790_000_100);
    let e = first.flush().unwrap_err();
    assert!(e.to_string().contains("in use by"), "{e}");
    // Nor once the second has let go: the state it wrote is newer than the first's.
    drop(second);
    let e = first.flush().unwrap_err();
    assert!(e.to_string().contains("was deleted while"), "{e}");
    drop(first);
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(saved["now"], 1_790_000_500);
    assert!(keelson::adapters::sim::Sim::open_waiting(
        &path,
        1_790_000_000,
        keelson::adapters::sim::Speed::Instant,
        Duration::from_millis(200),
    )
    .is_ok());
}

#[test]
fn infinite_nan_and_float_numbers_where_an_integer_belongs_are_reported_at_the_value() {
    let (_d, repo) = fleet();
    let file = repo.join("clusters/prod-use1/nodegroups.yaml");
    let original = std::fs::read_to_string(&file).unwrap();
    for (written, found) in [
        (".inf", "found .inf"),
        ("-.inf", "found -.inf"),
        ("1e400", "found .inf"),
        (".nan", "found .nan"),
        // Integral, so the schema lets it through; the model's u32 refused it at 1:1.
        ("1e2", "found 100.0, a floating-point number"),
    ] {
        let edited = original.replace(
            "maxUnavailablePercentage: 33",
            &format!("maxUnavailablePercentage: {written}"),
        );
        std::fs::write(&file, edited).unwrap();
        let o = keelson(&["--today", "2026-11-23", "validate", "--repo", s(&repo)]);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(1), "{written}: {out}");
        let want = format!(
            "nodegroups.yaml:13:44: error[schema-type]: `spec.updateConfig.maxUnavailablePercentage` must be an integer between 1 and 100, {found}"
        );
        assert!(out.contains(&want), "{written}: {out}");
        assert!(!out.contains(":1:1:"), "{written}: {out}");
    }
}

#[test]
fn a_tab_is_reported_at_its_own_column() {
    let (_d, repo) = fleet();
    let file = repo.join("clusters/prod-use1/nodegroups.yaml");
    let original = std::fs::read_to_string(&file).unwrap();
    // Line 12 is `  diskSize: 80`: the tab after the colon is column 12 (the parser's
    // position was the value's, column 13).
    std::fs::write(&file, original.replace("diskSize: 80", "diskSize:\t80")).unwrap();
    let o = keelson(&["validate", "--repo", s(&repo)]);
    assert!(
        text(&o).contains("nodegroups.yaml:12:12: error[yaml-syntax]:"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("a tab here"), "{}", text(&o));
    // An indentation of a tab then a space: the tab, in column 1 (was column 3).
    std::fs::write(&file, original.replace("  diskSize: 80", "\t diskSize: 80")).unwrap();
    let o = keelson(&["validate", "--repo", s(&repo)]);
    assert!(
        text(&o).contains("nodegroups.yaml:12:1: error[yaml-syntax]:"),
        "{}",
        text(&o)
    );
}
