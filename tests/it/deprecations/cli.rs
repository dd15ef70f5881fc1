//! `keelson deprecations`, the binary: exit codes, invocations, directory walks, standard
//! input, extra rules, component versions, and the four output formats.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::json;

use super::{
    keelson, scan_json, stdout, write, DEPLOYMENT, FLOWSCHEMA_V1BETA3, INGRESS_OLD, TEMPLATE,
};

fn keelson_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keelson"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run keelson");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn exit_codes_follow_pluto_and_the_highest_wins() {
    // (files, target, exit code)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, i32);
    let cases: &[Case] = &[
        (&[("ok.yaml", DEPLOYMENT)], "1.33", 0),
        (&[("t.yaml", TEMPLATE)], "1.33", 1),
        (&[("fs.yaml", FLOWSCHEMA_V1BETA3)], "1.30", 2),
        (&[("fs.yaml", FLOWSCHEMA_V1BETA3)], "1.32", 3),
        (
            &[("fs.yaml", FLOWSCHEMA_V1BETA3), ("t.yaml", TEMPLATE)],
            "1.30",
            2,
        ),
        (
            &[
                ("t.yaml", TEMPLATE),
                ("ing.yaml", INGRESS_OLD),
                ("fs.yaml", FLOWSCHEMA_V1BETA3),
            ],
            "1.30",
            3,
        ),
        (
            &[("ing.yaml", INGRESS_OLD), ("ok.yaml", DEPLOYMENT)],
            "1.21",
            2,
        ),
    ];
    for (files, target, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in *files {
            write(dir.path(), name, text.as_bytes());
        }
        let (code, v) = scan_json(dir.path(), target, &[]);
        assert_eq!(code, *want, "{files:?} at {target}: {v:#}");
        assert_eq!(v["exitCode"], *want);
    }
}

#[test]
fn bad_invocations_exit_one_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ok.yaml", DEPLOYMENT.as_bytes());
    let d = dir.path().to_str().unwrap();
    for args in [
        vec!["deprecations", d],
        vec!["deprecations", d, "--target-version", "1.3x"],
        vec!["deprecations", d, "--target-version", "latest"],
        vec!["deprecations", "--target-version", "1.33"],
        vec![
            "deprecations",
            d,
            "--target-version",
            "1.33",
            "--component-version",
            "cert-manager",
        ],
    ] {
        let o = keelson(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("error:"),
            "{args:?}"
        );
    }
    // A missing path is a finding (the other inputs are still scanned).
    let (code, v) = scan_json(&dir.path().join("missing"), "1.33", &[]);
    assert_eq!(code, 1);
    assert_eq!(v["findings"][0]["rule"], "file-unreadable");
}

#[test]
fn directories_are_walked_for_manifests_only_skipping_hidden_entries() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a/b/c/ing.yml", INGRESS_OLD.as_bytes());
    write(dir.path(), "a/list.json", br#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"policy/v1beta1","kind":"PodSecurityPolicy","metadata":{"name":"psp"}}]}"#);
    write(dir.path(), ".git/ing.yaml", INGRESS_OLD.as_bytes());
    write(dir.path(), "a/.hidden.yaml", INGRESS_OLD.as_bytes());
    write(dir.path(), "a/notes.txt", INGRESS_OLD.as_bytes());
    write(dir.path(), "a/Chart.YAML", DEPLOYMENT.as_bytes());
    let (code, v) = scan_json(dir.path(), "1.25", &[]);
    assert_eq!(code, 3);
    assert_eq!(v["summary"]["files"], 3, "{v:#}");
    let files: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            Path::new(f["file"].as_str().unwrap())
                .strip_prefix(dir.path())
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(files, vec!["a/b/c/ing.yml", "a/list.json"]);
}

#[test]
fn standard_input_is_read_with_a_dash() {
    let o = keelson_stdin(
        &["deprecations", "-", "--target-version", "v1.25.0"],
        format!("{DEPLOYMENT}---\n{INGRESS_OLD}").as_bytes(),
    );
    assert_eq!(o.status.code(), Some(3));
    let out = stdout(&o);
    assert!(
        out.contains("-:8:1 (doc 1): Ingress prod/web uses extensions/v1beta1, removed in 1.22"),
        "{out}"
    );
}

#[test]
fn extra_rules_files_extend_the_table_and_bad_ones_stop_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let m = write(
        dir.path(),
        "m/widget.yaml",
        b"apiVersion: example.com/v1beta1\nkind: Widget\nmetadata:\n  name: w\n",
    );
    let rules = write(dir.path(), "rules.yaml", b"apis:\n  - {group: example.com, version: v1beta1, kind: Widget, deprecated_in: \"1.30\", removed_in: \"1.33\", replacement: example.com/v1 Widget, source: \"our CRD; confidence high\"}\n");
    let (code, v) = scan_json(
        m.parent().unwrap(),
        "1.31",
        &["--extra-rules", rules.to_str().unwrap()],
    );
    assert_eq!(code, 2, "{v:#}");
    assert_eq!(v["findings"][0]["replacement"], "example.com/v1 Widget");
    let bad = write(
        dir.path(),
        "bad.yaml",
        b"apis:\n  - {group: example.com, version: v1beta1, kind: Widget, removed_in: 1.30}\n",
    );
    let o = keelson(&[
        "deprecations",
        m.to_str().unwrap(),
        "--target-version",
        "1.31",
        "--extra-rules",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.yaml:2:"), "{err}");
}

#[test]
fn component_versions_judge_third_party_entries() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "cert.yaml",
        b"apiVersion: cert-manager.io/v1alpha2\nkind: Certificate\nmetadata:\n  name: c\n",
    );
    assert_eq!(
        scan_json(dir.path(), "1.33", &[]).0,
        3,
        "newest cert-manager assumed"
    );
    let (code, v) = scan_json(
        dir.path(),
        "1.33",
        &["--component-version", "cert-manager=1.5"],
    );
    assert_eq!(code, 2);
    assert_eq!(v["findings"][0]["component"], "cert-manager");
    assert_eq!(v["targetVersions"]["cert-manager"], "1.5");
    assert_eq!(
        scan_json(
            dir.path(),
            "1.33",
            &["--component-version", "cert-manager=v1.3.0"]
        )
        .0,
        0
    );
}

/// A directory with one finding of each severity.
fn mixed() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a-ingress.yaml", INGRESS_OLD.as_bytes());
    write(dir.path(), "b-flow.yaml", FLOWSCHEMA_V1BETA3.as_bytes());
    write(dir.path(), "c-template.yaml", TEMPLATE.as_bytes());
    write(dir.path(), "d-ok.yaml", DEPLOYMENT.as_bytes());
    dir
}

/// The binary's output on [`mixed`] for Kubernetes 1.30 with `extra` arguments, after
/// checking that it exits with 3 (a removed API is the worst finding); the directory is
/// returned with it, since the text names its files.
fn mixed_report(extra: &[&str]) -> (tempfile::TempDir, String) {
    let dir = mixed();
    let mut args = vec![
        "deprecations",
        dir.path().to_str().unwrap(),
        "--target-version",
        "1.30",
    ];
    args.extend_from_slice(extra);
    let o = keelson(&args);
    assert_eq!(o.status.code(), Some(3));
    (dir, stdout(&o))
}

#[test]
fn text_output_is_grouped_one_line_per_finding_with_a_summary() {
    let (dir, out) = mixed_report(&[]);
    let d = dir.path().display();
    let want = format!(
        "removed (1):\n  {d}/a-ingress.yaml:1:1 (doc 0): Ingress prod/web uses extensions/v1beta1, removed in 1.22 (deprecated in 1.14); use networking.k8s.io/v1 Ingress\n\n\
         deprecated (1):\n  {d}/b-flow.yaml:1:1 (doc 0): FlowSchema fs uses flowcontrol.apiserver.k8s.io/v1beta3, deprecated in 1.29, removed in 1.32; use flowcontrol.apiserver.k8s.io/v1 FlowSchema\n\n\
         could not be read (1):\n"
    );
    assert!(out.starts_with(&want), "{out}");
    assert!(out.contains(&format!("  {d}/c-template.yaml:")), "{out}");
    assert!(
        out.ends_with("Kubernetes 1.30: 1 removed, 1 deprecated, 1 error in 4 files, 4 documents, 3 objects.\n"),
        "{out}"
    );
    let clean = tempfile::tempdir().unwrap();
    write(clean.path(), "ok.yaml", DEPLOYMENT.as_bytes());
    let o = keelson(&[
        "deprecations",
        clean.path().to_str().unwrap(),
        "--target-version",
        "1.30",
    ]);
    assert_eq!(
        stdout(&o),
        "Kubernetes 1.30: no deprecated or removed APIs in 1 file, 1 document, 1 object.\n"
    );
}

#[test]
fn json_output_has_every_key_for_every_finding() {
    let dir = mixed();
    let (code, v) = scan_json(dir.path(), "1.30", &[]);
    assert_eq!(code, 3);
    assert_eq!(v["targetVersions"], json!({"kubernetes": "1.30"}));
    assert_eq!(
        v["summary"],
        json!({"removed": 1, "deprecated": 1, "errors": 1, "files": 4,
               "bytes": v["summary"]["bytes"], "documents": 4, "objects": 3})
    );
    let keys = [
        "severity",
        "signal",
        "file",
        "line",
        "column",
        "document",
        "item",
        "apiVersion",
        "kind",
        "namespace",
        "name",
        "deprecatedIn",
        "removedIn",
        "replacement",
        "component",
        "source",
        "release",
        "hook",
        "template",
        "manager",
        "rule",
        "message",
    ];
    for f in v["findings"].as_array().unwrap() {
        let obj = f.as_object().unwrap();
        assert_eq!(obj.keys().map(String::as_str).collect::<Vec<_>>(), keys);
    }
    let f = &v["findings"][0];
    assert_eq!(
        (
            f["severity"].as_str(),
            f["signal"].as_str(),
            f["removedIn"].as_str(),
            f["line"].as_u64()
        ),
        (
            Some("removed"),
            Some("repo-manifest"),
            Some("1.22"),
            Some(1)
        )
    );
    assert_eq!(v["findings"][2]["rule"], "unrendered-template");
}

#[test]
fn markdown_output_is_a_table_removed_first() {
    let (_dir, out) = mixed_report(&["--format", "markdown"]);
    assert!(
        out.starts_with(
            "### Deprecated APIs: Kubernetes 1.30\n\n1 removed, 1 deprecated, 1 error in 4 files"
        ),
        "{out}"
    );
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("| **")).collect();
    assert_eq!(rows.len(), 3, "{out}");
    assert!(
        rows[0].starts_with("| **removed** |") && rows[0].contains("`extensions/v1beta1`"),
        "{out}"
    );
    assert!(rows[1].starts_with("| **deprecated** |"), "{out}");
    assert!(rows[2].starts_with("| **error** |"), "{out}");
}

#[test]
fn csv_output_has_a_header_and_one_row_per_finding() {
    let (dir, out) = mixed_report(&["--format", "csv"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("severity,signal,file,line,column,document,item,namespace,kind,name,api_version,deprecated_in,removed_in,replacement"), "{out}");
    assert_eq!(lines.len(), 4, "{out}");
    let ingress = format!("removed,repo-manifest,{}/a-ingress.yaml,1,1,0,,prod,Ingress,web,extensions/v1beta1,1.14,1.22,networking.k8s.io/v1 Ingress,", dir.path().display());
    assert!(lines[1].starts_with(&ingress), "{out}");
    // The source column holds commas, so it is quoted.
    assert!(lines[1].ends_with("; confidence high\""), "{out}");
}

#[test]
fn the_target_version_must_be_a_real_release_and_past_the_table_warns() {
    let dir = tempfile::tempdir().unwrap();
    let fs = write(dir.path(), "fs.yaml", FLOWSCHEMA_V1BETA3.as_bytes());
    let f = fs.to_str().unwrap();
    for nonsense in ["1.99", "2.1", "0.5"] {
        let o = keelson(&["deprecations", "--target-version", nonsense, f]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{nonsense}: {err}");
        assert!(err.contains("Kubernetes"), "{nonsense}: {err}");
    }
    // Past the table's newest release: judged with what the table knows, and said so.
    let o = keelson(&["deprecations", "--target-version", "1.38", f]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("warning: Kubernetes 1.38 is newer than keelson's table, which covers releases up to 1.37"),
        "{err}"
    );
    // The replacement named is the one served at the target.
    let o = keelson(&["deprecations", "--target-version", "1.34", f]);
    assert!(
        stdout(&o).contains("use flowcontrol.apiserver.k8s.io/v1 FlowSchema"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_pod_security_policy_has_no_replacement_from_1_25() {
    let dir = tempfile::tempdir().unwrap();
    let psp =
        "apiVersion: extensions/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: restricted}\n";
    write(dir.path(), "psp.yaml", psp.as_bytes());
    let at =
        |target: &str| scan_json(dir.path(), target, &[]).1["findings"][0]["replacement"].clone();
    assert_eq!(at("1.24"), json!("policy/v1beta1 PodSecurityPolicy"));
    assert_eq!(at("1.25"), serde_json::Value::Null);
}
