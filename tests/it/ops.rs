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

/// Every line of `o`'s stderr parsed as a JSON object; the messages.
fn json_lines(o: &Output) -> Vec<String> {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.trim().is_empty(), "no stderr at all");
    err.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}\n--- stderr:\n{err}"));
            assert!(v["timestamp"].is_string() && v["level"].is_string(), "{l}");
            v["fields"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[test]
fn with_log_format_json_every_stderr_line_is_a_json_object() {
    let (_d, repo) = fleet();
    let json = ["--log-format", "json"];
    // apply's progress, the daemon's sync lines, an invalid repository's diagnostics, an
    // error that stops a command, and the AWS SDK's own warnings.
    let o = keelson(
        &[
            &json[..],
            &[
                "apply",
                "--repo",
                r(&repo),
                "--auto-approve",
                "--sim-speed",
                "instant",
            ],
        ]
        .concat(),
        &[],
    );
    assert_eq!(o.status.code(), Some(0));
    let lines = json_lines(&o);
    assert!(
        lines.iter().any(|m| m.starts_with("[prod-use1] + Cluster")),
        "{lines:?}"
    );

    let o = keelson(
        &[&json[..], &["run", "--repo", r(&repo), "--once"]].concat(),
        &[],
    );
    let lines = json_lines(&o);
    assert!(
        lines.iter().any(|m| m.starts_with("keelson run:")),
        "{lines:?}"
    );

    break_prod_use1(&repo);
    let o = keelson(&[&json[..], &["plan", "--repo", r(&repo)]].concat(), &[]);
    assert_eq!(o.status.code(), Some(1));
    let lines = json_lines(&o);
    assert!(
        lines.iter().any(|m| m.contains("error[unknown-field]")),
        "{lines:?}"
    );

    let o = keelson(
        &[
            &json[..],
            &["plan", "--repo", "examples/fleet", "--target", "aws"],
        ]
        .concat(),
        &[
            ("AWS_ENDPOINT_URL_EKS", "http://127.0.0.1:9"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_MAX_ATTEMPTS", "1"),
            ("KEELSON_LOG", "info"),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    json_lines(&o);
}

#[test]
fn text_logs_carry_time_and_level_and_no_colour_off_a_terminal() {
    let (_d, repo) = fleet();
    let o = keelson(&["run", "--repo", r(&repo), "--once"], &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("keelson run:"))
        .unwrap_or_else(|| panic!("{err}"));
    // `2026-11-29T20:51:02.123456Z  INFO keelson::...: keelson run: ...`
    let (time, rest) = line.split_once(' ').unwrap();
    assert!(
        time.len() >= 20 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
        "{line}"
    );
    assert!(rest.trim_start().starts_with("INFO "), "{line}");
    assert!(
        !err.contains('\u{1b}'),
        "no ANSI escapes when stderr is not a terminal"
    );
}

#[test]
fn quiet_keeps_only_warnings_and_errors() {
    let (_d, repo) = fleet();
    let o = keelson(
        &[
            "--quiet",
            "apply",
            "--repo",
            r(&repo),
            "--auto-approve",
            "--sim-speed",
            "instant",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "",
        "no progress with --quiet"
    );
    assert!(!o.stdout.is_empty(), "the result still goes to stdout");
}

#[test]
fn markdown_for_a_pull_request_names_target_fleet_commit_and_time_with_relative_paths() {
    let (_d, repo) = fleet();
    let o = keelson(&["plan", "--repo", r(&repo), "--format", "markdown"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let md = String::from_utf8_lossy(&o.stdout);
    let header = md.lines().nth(2).unwrap();
    assert!(
        header.starts_with("target `sim` (the simulator) · fleet `"),
        "{md}"
    );
    assert!(
        header.contains(" · commit ") && header.contains(" · planned 20"),
        "{header}"
    );
    assert!(!md.contains(r(&repo)), "no absolute paths: {md}");

    // An invalid repository still gets a comment: its problems, paths relative.
    break_prod_use1(&repo);
    let o = keelson(&["plan", "--repo", r(&repo), "--format", "markdown"], &[]);
    assert_eq!(o.status.code(), Some(1));
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(
        md.starts_with("### keelson plan — ❌ invalid repository\n"),
        "{md}"
    );
    assert!(md.contains("- `clusters/prod-use1/cluster.yaml:"), "{md}");
    assert!(md.contains("error[unknown-field]"), "{md}");
}

#[test]
fn a_blocked_cluster_says_blocked_in_the_markdown() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("upgrade");
    crate::plan_cli::copy(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/upgrade")),
        &repo,
    );
    let o = keelson(
        &["sim", "seed", "--version", "1.31", "--repo", r(&repo)],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = keelson(&["plan", "--repo", r(&repo), "--format", "markdown"], &[]);
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(
        md.contains("<code>prod-use1</code>: blocked</summary>"),
        "{md}"
    );
}

#[test]
fn a_saved_plan_is_applied_without_repo_and_without_asking_again() {
    let (_d, repo) = fleet();
    let plan = repo.parent().unwrap().join("fleet.plan");
    let o = keelson(&["plan", "--repo", r(&repo), "--out", r(&plan)], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&plan).unwrap()).unwrap();
    assert_eq!(saved["source"]["target"], "sim");
    assert_eq!(saved["source"]["repo"], r(&repo));

    // From another directory, stdin not a terminal, no --auto-approve: the saved plan is
    // the approval (it only creates).
    let mut c = Command::new(env!("CARGO_BIN_EXE_keelson"));
    c.args([
        "--today",
        "2026-11-23",
        "apply",
        "--plan",
        r(&plan),
        "--sim-speed",
        "instant",
    ])
    .current_dir(std::env::temp_dir())
    .env_remove("KEELSON_REPO")
    .stdin(Stdio::null());
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("Apply complete"), "{}", text(&o));
    assert!(repo.join(".keelson/sim.json").is_file());
}

#[test]
fn edge_cases_say_what_is_wrong_and_what_to_do() {
    let empty = tempfile::tempdir().unwrap();
    let o = keelson(&["validate", "--repo", r(empty.path())], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("holds no Fleet and no Cluster: keelson looks for `*.yaml`"),
        "{}",
        text(&o)
    );

    let o = keelson(&["sim", "report", "--repo", r(empty.path())], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("there is no simulator state at"),
        "{}",
        text(&o)
    );

    let (_d, repo) = fleet();
    let seed = ["sim", "seed", "--version", "1.33", "--repo", r(&repo)];
    assert_eq!(keelson(&seed, &[]).status.code(), Some(0));
    let o = keelson(&seed, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("delete that file (or its `.keelson` directory) to start over"),
        "{}",
        text(&o)
    );
}

/// Give examples/fleet's prod-use1 an unknown field (`subnetIDs`).
fn break_prod_use1(repo: &Path) {
    let cluster = repo.join("clusters/prod-use1/cluster.yaml");
    let text = std::fs::read_to_string(&cluster).unwrap();
    std::fs::write(&cluster, text.replace("subnetIds", "subnetIDs")).unwrap();
}
