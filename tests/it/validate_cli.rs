//! `keelson validate` as a user runs it, on files on disk, including hostile input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::{AUTO_CLUSTER, FLEET};

fn keelson(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keelson"))
        .args(["--today", "2026-11-23"])
        .args(args)
        .output()
        .expect("run keelson")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A temp repo with a valid fleet and one cluster, plus `extra` files.
fn repo(extra: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "keelson.yaml", FLEET.as_bytes());
    write(dir.path(), "c/cluster.yaml", AUTO_CLUSTER.as_bytes());
    for (rel, bytes) in extra {
        write(dir.path(), rel, bytes);
    }
    dir
}

fn write(root: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    p
}

fn validate(dir: &Path) -> (i32, String) {
    let o = keelson(&["validate", "--repo", dir.to_str().unwrap()]);
    (o.status.code().unwrap_or(-1), stdout(&o))
}

/// The `FILE:LINE:COL: error[RULE]` prefix for a file in `dir`.
fn at(dir: &Path, rel: &str, line: u32, col: u32, rule: &str) -> String {
    format!("{}:{line}:{col}: error[{rule}]", dir.join(rel).display())
}

#[test]
fn the_example_fleet_is_valid() {
    let o = keelson(&[
        "validate",
        "--repo",
        concat!(env!("CARGO_MANIFEST_DIR"), "/examples/fleet"),
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.starts_with("valid: "), "{out}");
    assert!(
        out.contains("3 clusters") && out.contains("(0 warnings)"),
        "{out}"
    );
}

#[test]
fn a_valid_minimal_repo_exits_zero() {
    let dir = repo(&[]);
    let (code, out) = validate(dir.path());
    assert_eq!(code, 0, "{out}");
}

#[test]
fn malformed_yaml_names_file_line_and_column() {
    let dir = repo(&[(
        "c/addons.yaml",
        b"apiVersion: keelson.dev/v1alpha1\nkind: Addon\nmetadata: {name: x\nspec: {}\n",
    )]);
    let (code, out) = validate(dir.path());
    assert_eq!(code, 1, "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("[yaml-syntax]"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.starts_with(&format!("{}:", dir.path().join("c/addons.yaml").display())),
        "{line}"
    );
    assert!(out.contains("invalid: 1 error"), "{out}");
}

#[test]
fn wrong_types_and_unknown_fields_point_at_the_value() {
    let text = AUTO_CLUSTER
        .replace("version: \"1.34\"", "version: 1.30")
        .replace("  vpc:\n    subnetIds", "  vpc:\n    subnetIDs");
    let dir = repo(&[("c/cluster.yaml", text.as_bytes())]);
    let (code, out) = validate(dir.path());
    assert_eq!(code, 1);
    assert!(
        out.contains(&at(dir.path(), "c/cluster.yaml", 6, 12, "schema-type")),
        "{out}"
    );
    assert!(out.contains("put it in quotes"), "{out}");
    assert!(
        out.contains(&at(dir.path(), "c/cluster.yaml", 10, 5, "unknown-field")),
        "{out}"
    );
    assert!(out.contains("did you mean `subnetIds`?"), "{out}");
    // The misspelt required field is reported once, as unknown, not also as missing.
    assert!(!out.contains("schema-required"), "{out}");
}

#[test]
fn json_output_lists_every_problem_with_its_position() {
    let dir = repo(&[
        ("c/a.yaml", b"apiVersion: keelson.dev/v1alpha1\nkind: Addon\nmetadata: {name: a}\nspec: {resolveConflicts: overwrite}\n"),
        ("c/b.yaml", b"key: [unclosed\n"),
    ]);
    let o = keelson(&[
        "validate",
        "--repo",
        dir.path().to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["errors"], 2);
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2);
    for p in problems {
        for field in ["file", "line", "column", "severity", "rule", "message"] {
            assert!(!p[field].is_null(), "{field} missing in {p}");
        }
    }
    assert_eq!(problems[0]["rule"], "schema-enum");
    assert_eq!(problems[0]["line"], 4);
    assert!(problems[0]["message"]
        .as_str()
        .unwrap()
        .contains("did you mean `OVERWRITE`?"));
    assert_eq!(problems[1]["rule"], "yaml-syntax");
}

#[test]
fn non_utf8_bytes_are_reported_at_their_line() {
    let dir = repo(&[(
        "c/latin1.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf\xe9}\n",
    )]);
    let (code, out) = validate(dir.path());
    assert_eq!(code, 1);
    assert!(
        out.contains(&at(dir.path(), "c/latin1.yaml", 3, 21, "file-encoding")),
        "{out}"
    );
}

#[test]
fn an_alias_bomb_is_stopped_with_a_position() {
    let mut s = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let p = i - 1;
        s.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let dir = repo(&[("c/bomb.yaml", s.as_bytes())]);
    let (code, out) = validate(dir.path());
    assert_eq!(code, 1);
    let line = out
        .lines()
        .find(|l| l.contains("[yaml-limit]"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("bomb.yaml:"), "{line}");
}

#[test]
fn ten_thousand_levels_of_nesting_do_not_crash() {
    let flow = "[".repeat(10_000) + &"]".repeat(10_000);
    // Compact nested block sequences: 10,000 levels on one line.
    let seqs = "- ".repeat(10_000) + "x\n";
    // Indented mappings: 2,000 levels (10,000 would be a 50 MB file).
    let mut block = String::new();
    for i in 0..2_000 {
        block.push_str(&" ".repeat(i));
        block.push_str("k:\n");
    }
    let dir = repo(&[
        ("c/flow.yaml", flow.as_bytes()),
        ("c/seqs.yaml", seqs.as_bytes()),
        ("c/block.yaml", block.as_bytes()),
    ]);
    let (code, out) = validate(dir.path());
    assert_eq!(code, 1);
    assert!(
        out.lines()
            .any(|l| l.contains("flow.yaml:1:") && l.contains("[yaml-limit]")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("block.yaml:") && l.contains("[yaml-limit]")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("seqs.yaml:1:") && l.contains("[yaml-limit]")),
        "{out}"
    );
}

#[cfg(unix)]
#[test]
fn symlinks_that_leave_the_repo_are_refused_and_inside_ones_followed() {
    let outside = tempfile::tempdir().unwrap();
    write(
        outside.path(),
        "secret.yaml",
        b"apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n",
    );
    let dir = repo(&[("shared/addon.yaml", b"apiVersion: keelson.dev/v1alpha1\nkind: Addon\nmetadata: {name: aws-efs-csi-driver}\nspec: {}\n")]);
    std::os::unix::fs::symlink(
        outside.path().join("secret.yaml"),
        dir.path().join("c/escape.yaml"),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("c/outdir")).unwrap();
    // A link to a directory inside the repo is followed; a loop is read once.
    std::os::unix::fs::symlink(dir.path().join("shared"), dir.path().join("c/shared")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("c"), dir.path().join("c/loop")).unwrap();
    let (code, out) = validate(dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&at(dir.path(), "c/escape.yaml", 1, 1, "symlink-escape")),
        "{out}"
    );
    assert!(
        out.contains(&at(dir.path(), "c/outdir", 1, 1, "symlink-escape")),
        "{out}"
    );
    // The shared add-on is read through c/shared (owned by the cluster) and from
    // shared/ itself, where it has no cluster.
    assert!(out.contains("[orphan-document]"), "{out}");
    assert_eq!(out.matches("error[").count(), 3, "{out}");
}

#[test]
fn a_huge_file_is_refused_without_reading_it_all() {
    let dir = repo(&[]);
    let f = std::fs::File::create(dir.path().join("c/huge.yaml")).unwrap();
    f.set_len(64 * 1024 * 1024).unwrap(); // sparse: costs no disk
    let (code, out) = validate(dir.path());
    assert_eq!(code, 1);
    assert!(
        out.contains(&at(dir.path(), "c/huge.yaml", 1, 1, "file-too-large")),
        "{out}"
    );
}

#[test]
fn a_yaml_file_with_an_upper_case_extension_is_reported_not_silently_skipped() {
    let dir = repo(&[("c/nodegroups.YAML", b"apiVersion: keelson.dev/v1alpha1\n")]);
    let (code, out) = validate(dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("warning[skipped-file]"), "{out}");
    assert!(out.contains("rename it to nodegroups.yaml"), "{out}");
}

#[test]
fn utf16_files_and_nul_bytes_are_named_for_what_they_are() {
    let utf16: Vec<u8> = [0xff, 0xfe]
        .into_iter()
        .chain("a: 1\n".encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let unmarked: Vec<u8> = "a: 1\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let dir = repo(&[
        ("c/bom.yaml", &utf16),
        ("c/nobom.yaml", &unmarked),
        ("c/nul.yaml", b"a: 1\nb: x\0y\n"),
    ]);
    let (code, out) = validate(dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is UTF-16"), "{out}");
    assert!(
        out.contains(&at(dir.path(), "c/nul.yaml", 2, 5, "file-encoding")),
        "{out}"
    );
    assert_eq!(out.matches("a NUL byte").count(), 2, "{out}");
}

#[test]
fn an_unreadable_fleet_file_is_not_also_reported_missing() {
    let dir = repo(&[]);
    // The Fleet file exists but cannot be parsed: one error for it, no `fleet-missing`.
    let fleet = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("kind: Fleet")))
        .expect("the fleet file");
    std::fs::write(&fleet, b"kind: Fleet\nspec: [\n").unwrap();
    let (code, out) = validate(dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("yaml-syntax"), "{out}");
    assert!(!out.contains("fleet-missing"), "{out}");
}

#[test]
fn thousands_of_repeated_problems_are_counted_not_all_printed() {
    let extra: String = (0..3000)
        .map(|i| format!("  unknownField{i}: 1\n"))
        .collect();
    let cluster = AUTO_CLUSTER.replacen("spec:\n", &format!("spec:\n{extra}"), 1);
    let dir = repo(&[("c/cluster.yaml", cluster.as_bytes())]);
    let started = std::time::Instant::now();
    let (code, out) = validate(dir.path());
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(code, 1);
    assert_eq!(out.matches("error[unknown-field]").count(), 21, "{out}");
    assert!(
        out.contains("... and 2980 more unknown-field problems in this file"),
        "{out}"
    );
    assert!(out.contains("invalid: 3000 errors"), "{out}");
    assert!(out.len() < 20_000, "{} bytes", out.len());
}

#[test]
fn an_out_of_range_integer_is_reported_where_it_stands_with_the_range() {
    let ng = "apiVersion: keelson.dev/v1alpha1\nkind: NodeGroup\nmetadata: {name: ng}\nspec:\n  nodeRoleArn: arn:aws:iam::111122223333:role/node\n  subnetIds: [subnet-0a1b2c3d4e5f60001]\n  scaling: {minSize: 1, maxSize: 3, desiredSize: 99999999999}\n";
    let dir = repo(&[("c/ng.yaml", ng.as_bytes())]);
    let (code, out) = validate(dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("c/ng.yaml:7:50:"), "{out}");
    assert!(out.contains("must be at most 4294967295"), "{out}");
    assert!(!out.contains(":1:1:"), "{out}");
}

#[test]
fn an_empty_file_is_a_warning_not_an_error() {
    let dir = repo(&[("c/empty.yaml", b"")]);
    let (code, out) = validate(dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("warning[empty-file]"), "{out}");
    assert!(out.contains("(1 warning)"), "{out}");
}

#[test]
fn a_missing_repo_is_an_error_not_a_panic() {
    let o = keelson(&["validate", "--repo", "/nonexistent/keelson-repo"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("/nonexistent/keelson-repo cannot be read"),
        "{err}"
    );
}

#[test]
fn an_unrendered_helm_template_is_reported_not_skipped() {
    let dir = repo(&[("c/manifests/deploy.yaml", b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n  {{- include \"labels\" . | nindent 2 }}\n")]);
    let (code, out) = validate(dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("deploy.yaml:") && out.contains("unrendered template"),
        "{out}"
    );
}

#[test]
fn schema_command_prints_the_files_in_schemas() {
    let o = keelson(&["schema", "--kind", "cluster"]);
    assert_eq!(o.status.code(), Some(0));
    let disk = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/cluster.schema.json"
    ))
    .unwrap();
    assert_eq!(stdout(&o), disk);
    let o = keelson(&["schema"]);
    let all: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        all.as_object().unwrap().len(),
        keelson::model::Kind::ALL.len()
    );
    let o = keelson(&["schema", "--kind", "nope"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn a_rule_places_its_problem_inside_any_document_of_a_file() {
    // The rules see typed documents; the position comes from reading the file's text
    // again, so it must land in the right document of a multi-document file.
    let ng = |name: &str, min: u32| {
        format!("apiVersion: keelson.dev/v1alpha1\nkind: NodeGroup\nmetadata: {{name: {name}}}\nspec:\n  nodeRoleArn: arn:aws:iam::111122223333:role/node\n  subnetIds: [subnet-0a1b2c3d4e5f60001]\n  scaling: {{minSize: {min}, maxSize: 3, desiredSize: 3}}\n")
    };
    let text = format!("{}---\n{}---\n{}", ng("a", 1), ng("b", 5), ng("c", 7));
    let dir = repo(&[("c/ng.yaml", text.as_bytes())]);
    let (code, out) = validate(dir.path());
    assert_eq!(code, 1, "{out}");
    // Documents start at lines 1, 9 and 17; `minSize` sits on the 7th line of each.
    assert!(
        out.contains(&at(dir.path(), "c/ng.yaml", 15, 22, "nodegroup-scaling")),
        "{out}"
    );
    assert!(
        out.contains(&at(dir.path(), "c/ng.yaml", 23, 22, "nodegroup-scaling")),
        "{out}"
    );
    assert_eq!(out.matches("is larger than maxSize").count(), 2, "{out}");
}
