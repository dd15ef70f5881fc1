//! `keelson deprecations` and the deprecated-API scanners: the table's facts, the scanner
//! on every input shape (and its fast path against the full parser), Helm release records,
//! live objects, and the binary's exit codes and output formats.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use keelson::deprecations::scan::{scan, scan_full, Scan};
use keelson::deprecations::table::{self, ApiTable, Status, Targets};
use keelson::deprecations::{helm, Checker, Finding, Severity, Signal};
use keelson::versions::Minor;
use proptest::prelude::*;
use serde_json::json;

mod cli;

// ───────────────────────────── helpers ─────────────────────────────

fn keelson(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keelson"))
        .args(args)
        .output()
        .expect("run keelson")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn write(root: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Run the binary on `dir` with JSON output: (exit code, the JSON document).
fn scan_json(dir: &Path, target: &str, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec![
        "deprecations",
        dir.to_str().unwrap(),
        "--target-version",
        target,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let o = keelson(&args);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&o), String::from_utf8_lossy(&o.stderr)));
    (o.status.code().unwrap_or(-1), v)
}

fn table() -> ApiTable {
    ApiTable::builtin().unwrap()
}

fn at(minor: u32) -> Targets {
    Targets::kubernetes(Minor::v1(minor))
}

fn status(api: &str, kind: &str, minor: u32) -> Option<Status> {
    table().classify(api, kind, &at(minor)).map(|v| v.status)
}

const INGRESS_OLD: &str = "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: prod\nspec:\n  backend:\n    serviceName: web\n    servicePort: 80\n";
const DEPLOYMENT: &str =
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n";
const FLOWSCHEMA_V1BETA3: &str =
    "apiVersion: flowcontrol.apiserver.k8s.io/v1beta3\nkind: FlowSchema\nmetadata:\n  name: fs\n";
const TEMPLATE: &str = "{{- if .Values.enabled }}\napiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\n{{- end }}\n";

// ───────────────────────────── the table ─────────────────────────────

#[test]
fn ingress_in_extensions_v1beta1_is_deprecated_then_removed_in_1_22() {
    assert_eq!(status("extensions/v1beta1", "Ingress", 13), None);
    assert_eq!(
        status("extensions/v1beta1", "Ingress", 14),
        Some(Status::Deprecated)
    );
    assert_eq!(
        status("extensions/v1beta1", "Ingress", 21),
        Some(Status::Deprecated)
    );
    assert_eq!(
        status("extensions/v1beta1", "Ingress", 22),
        Some(Status::Removed)
    );
    let e = table()
        .lookup("extensions/v1beta1", "Ingress")
        .unwrap()
        .clone();
    assert_eq!(
        e.replacement.as_deref(),
        Some("networking.k8s.io/v1 Ingress")
    );
    assert!(e.source.contains("confidence high"), "{}", e.source);
}

#[test]
fn pod_security_policy_is_removed_in_1_25_without_replacement() {
    assert_eq!(
        status("policy/v1beta1", "PodSecurityPolicy", 24),
        Some(Status::Deprecated)
    );
    assert_eq!(
        status("policy/v1beta1", "PodSecurityPolicy", 25),
        Some(Status::Removed)
    );
    let t = table();
    let e = t.lookup("policy/v1beta1", "PodSecurityPolicy").unwrap();
    assert_eq!(e.replacement, None);
}

#[test]
fn flowcontrol_v1beta3_is_removed_in_1_32() {
    for kind in ["FlowSchema", "PriorityLevelConfiguration"] {
        let api = "flowcontrol.apiserver.k8s.io/v1beta3";
        assert_eq!(status(api, kind, 28), None, "{kind}");
        assert_eq!(status(api, kind, 29), Some(Status::Deprecated), "{kind}");
        assert_eq!(status(api, kind, 31), Some(Status::Deprecated), "{kind}");
        assert_eq!(status(api, kind, 32), Some(Status::Removed), "{kind}");
    }
    assert_eq!(
        status("flowcontrol.apiserver.k8s.io/v1", "FlowSchema", 40),
        None
    );
}

#[test]
fn versions_compare_as_numbers_not_strings() {
    // As strings "1.10" < "1.9"; apps/v1beta2 was deprecated in 1.9, so at 1.10 it is.
    assert_eq!(
        status("apps/v1beta2", "Deployment", 10),
        Some(Status::Deprecated)
    );
    assert_eq!(status("apps/v1beta2", "Deployment", 8), None);
    let e = table()
        .lookup("apps/v1beta2", "Deployment")
        .unwrap()
        .clone();
    assert!(e.deprecated_in.unwrap() < Minor::v1(10));
    assert!(e.removed_in.unwrap() > Minor::v1(9));
}

#[test]
fn the_table_is_consistent_and_covers_every_release_to_1_40() {
    let t = table();
    let mut seen = std::collections::HashSet::new();
    let mut removals = std::collections::BTreeSet::new();
    for e in t.entries() {
        assert!(
            seen.insert((e.group.clone(), e.version.clone(), e.kind.clone())),
            "duplicate {e:?}"
        );
        assert!(
            e.deprecated_in.is_some() || e.removed_in.is_some(),
            "no dates: {e:?}"
        );
        if let (Some(d), Some(r)) = (e.deprecated_in, e.removed_in) {
            assert!(d <= r, "{e:?}");
        }
        assert!(e.source.contains("confidence "), "{e:?}");
        if e.component.is_none() {
            if let Some(r) = e.removed_in {
                removals.insert(r.minor);
            }
        }
    }
    // 72 built-in GVKs and 41 alpha ones from the facts table, plus third-party CRDs.
    assert!(t.entries().len() >= 113 + 20, "{}", t.entries().len());
    for r in [16, 22, 25, 26, 27, 29, 32, 33, 34, 37, 38, 39, 40] {
        assert!(removals.contains(&r), "no removal in 1.{r}");
    }
    // Alpha versions are there too.
    assert_eq!(
        status(
            "admissionregistration.k8s.io/v1alpha1",
            "ValidatingAdmissionPolicy",
            32
        ),
        Some(Status::Removed)
    );
}

#[test]
fn list_kinds_take_the_verdict_of_their_items() {
    assert_eq!(
        status("extensions/v1beta1", "IngressList", 22),
        Some(Status::Removed)
    );
    assert_eq!(status("v1", "List", 40), None);
}

#[test]
fn extra_rules_add_and_replace_entries() {
    let extra = table::parse(
        "extra.yaml",
        "apis:\n  - {group: example.com, version: v1beta1, kind: Widget, deprecated_in: \"1.28\", removed_in: \"1.31\", replacement: example.com/v1 Widget, source: \"our CRD changelog; confidence high\"}\n",
    )
    .unwrap();
    let mut t = table();
    t.extend(extra);
    let v = t
        .classify("example.com/v1beta1", "Widget", &at(31))
        .unwrap();
    assert_eq!(v.status, Status::Removed);
    assert!(t
        .classify("example.com/v1beta1", "Widget", &at(27))
        .is_none());
}

// ───────────────────────────── the scanner ─────────────────────────────

/// Objects as `apiVersion kind name@line:column doc item`.
fn objects(s: &Scan<'_>) -> Vec<String> {
    s.objects
        .iter()
        .map(|o| {
            format!(
                "{} {} {}@{}:{} doc{} item{:?}",
                o.api_version,
                o.kind,
                o.name.as_deref().unwrap_or("-"),
                o.line,
                o.column,
                o.document,
                o.item
            )
        })
        .collect()
}

#[test]
fn multi_document_files_keep_lines_and_document_indices() {
    let text = format!(
        "# leading comment\n---\n{INGRESS_OLD}---\n---\n# only a comment\n---\n{DEPLOYMENT}"
    );
    let s = scan(text.as_bytes());
    assert_eq!(s.documents, 4);
    assert_eq!(
        objects(&s),
        vec![
            "extensions/v1beta1 Ingress web@3:1 doc0 itemNone",
            "apps/v1 Deployment web@16:1 doc3 itemNone",
        ]
    );
    assert_eq!(s.full_parses, 0, "ordinary block style takes the fast path");
    assert_eq!(objects(&s), objects(&scan_full(text.as_bytes())));
}

#[test]
fn lists_and_nested_lists_are_expanded() {
    let text = "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: batch/v1beta1\n    kind: CronJob\n    metadata: {name: c}\n  - apiVersion: v1\n    kind: DeploymentList\n    items:\n      - apiVersion: apps/v1beta1\n        kind: Deployment\n        metadata:\n          name: d\n";
    let s = scan(text.as_bytes());
    assert_eq!(
        objects(&s),
        vec![
            "v1 List -@1:1 doc0 itemNone",
            "batch/v1beta1 CronJob c@4:5 doc0 itemSome(0)",
            "v1 DeploymentList -@7:5 doc0 itemSome(1)",
            "apps/v1beta1 Deployment d@10:9 doc0 itemSome(0)",
        ]
    );
}

#[test]
fn json_objects_and_arrays() {
    let one = br#"{"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget", "metadata": {"name": "p", "namespace": "n"}}"#;
    let s = scan(one);
    assert_eq!(
        objects(&s),
        vec!["policy/v1beta1 PodDisruptionBudget p@1:2 doc0 itemNone"]
    );
    assert_eq!(s.objects[0].namespace.as_deref(), Some("n"));
    let many = b"[\n  {\"apiVersion\": \"v1\", \"kind\": \"Service\"},\n  {\"apiVersion\": \"extensions/v1beta1\", \"kind\": \"Ingress\", \"metadata\": {\"name\": \"i\"}}\n]\n";
    assert_eq!(
        objects(&scan(many)),
        vec![
            "v1 Service -@2:4 doc0 itemSome(0)",
            "extensions/v1beta1 Ingress i@3:4 doc0 itemSome(1)",
        ]
    );
}

#[test]
fn flow_style_documents_are_read() {
    let text = "{apiVersion: autoscaling/v2beta2, kind: HorizontalPodAutoscaler, metadata: {name: h, namespace: n}}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n";
    let s = scan(text.as_bytes());
    assert_eq!(
        objects(&s),
        vec![
            "autoscaling/v2beta2 HorizontalPodAutoscaler h@1:2 doc0 itemNone",
            "v1 Service s@3:1 doc1 itemNone",
        ]
    );
}

#[test]
fn an_unrendered_template_is_an_error_with_its_position_and_other_documents_are_read() {
    let text = format!("{INGRESS_OLD}---\n{TEMPLATE}");
    let s = scan(text.as_bytes());
    assert_eq!(
        objects(&s),
        vec!["extensions/v1beta1 Ingress web@1:1 doc0 itemNone"]
    );
    assert_eq!(s.errors.len(), 1, "{:?}", s.errors);
    let e = &s.errors[0];
    assert_eq!(e.rule, "unrendered-template");
    assert_eq!(e.document, Some(1));
    assert!(
        e.line > 10,
        "the error points into the second document: {e:?}"
    );
    assert!(e.message.contains("helm template"), "{}", e.message);
}

#[test]
fn non_utf8_and_utf16_files_are_errors_not_panics() {
    let s = scan(b"apiVersion: v1\nkind: Service\nmetadata:\n  name: caf\xe9\n");
    assert_eq!(s.errors.len(), 1);
    assert_eq!((s.errors[0].line, s.errors[0].column), (4, 12));
    assert_eq!(s.errors[0].rule, "file-encoding");
    let utf16: Vec<u8> = [0xff, 0xfe]
        .into_iter()
        .chain("kind: A\n".encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let s = scan(&utf16);
    assert!(s.errors[0].message.contains("UTF-16"), "{:?}", s.errors);
}

#[test]
fn crlf_bom_and_bare_carriage_returns() {
    let crlf = INGRESS_OLD.replace('\n', "\r\n");
    let bom = format!("\u{feff}{INGRESS_OLD}");
    let cr = INGRESS_OLD.replace('\n', "\r");
    for text in [crlf.as_str(), bom.as_str(), cr.as_str()] {
        let s = scan(text.as_bytes());
        assert_eq!(
            objects(&s),
            vec!["extensions/v1beta1 Ingress web@1:1 doc0 itemNone"],
            "{text:?}"
        );
        assert_eq!(s.objects[0].namespace.as_deref(), Some("prod"));
    }
}

#[test]
fn huge_files_and_hostile_nesting_do_not_panic() {
    // 20 MB of ordinary documents: all found, on the fast path.
    let doc = format!("---\n{DEPLOYMENT}");
    let n = 20_000_000 / doc.len();
    let big = doc.repeat(n);
    let s = scan(big.as_bytes());
    assert_eq!(s.objects.len(), n);
    assert_eq!(s.documents, n);
    assert_eq!(s.full_parses, 0);
    // Deep flow nesting and an alias bomb: errors, not crashes.
    let deep = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(scan(deep.as_bytes()).errors[0].rule, "yaml-limit");
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    assert_eq!(scan(bomb.as_bytes()).errors[0].rule, "yaml-limit");
}

#[test]
fn helm_template_output_names_the_template() {
    let text = format!("---\n# Source: web/templates/ingress.yaml\n{INGRESS_OLD}");
    let s = scan(text.as_bytes());
    assert_eq!(
        s.objects[0].template.as_deref(),
        Some("web/templates/ingress.yaml")
    );
}

/// Seed documents for the agreement property: realistic shapes.
const SEEDS: &[&str] = &[
    INGRESS_OLD,
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: ns\n  labels:\n    app: web\ndata:\n  nginx.conf: |\n    server {\n      listen 80;\n    }\n  key: value\n",
    "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: r\nrules:\n- apiGroups: [\"\"]\n  resources: [pods]\n  verbs:\n  - get\n  - list\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  annotations:\n    checksum/config: abc\nspec:\n  template:\n    spec:\n      containers:\n        - name: c\n          args: [\"--a\", \"--b\"]\n          env:\n            - {name: X, value: \"1\"}\n",
    "# header\n---\napiVersion: batch/v1beta1\nkind: CronJob\nmetadata:\n  name: 'job'\n  namespace: \"ns\"\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\n",
];

/// Lines that make the fast path's life hard.
const TRICKY: &[&str] = &[
    "  name: x",
    "name: y",
    "- a",
    "  - b",
    "kind: Other",
    "apiVersion: v2",
    "metadata:",
    "  namespace: n",
    "# c",
    "",
    "  # c",
    "    deep: 1",
    "  key: |",
    "    block: line",
    "  key: >-",
    "  flow: {a: 1}",
    "  flow: [1, 2",
    "  q: \"open",
    "  q: 'it''s'",
    "  anchor: &a x",
    "  alias: *a",
    "  tag: !x y",
    "\tkey: tab",
    "  <<: {a: 1}",
    "---",
    "...",
    "? complex",
    "items:",
    "- apiVersion: v1",
    "  kind: Pod",
    "metadata: {name: f}",
    "  name: \"quoted\"",
    "  name: 123",
    "  name: null",
    "  name: 'x' # c",
    "  name: a: b",
    "  long: plain",
    "    continued",
    "kind: List",
    "{{ .Values }}",
    "  x: {{ y }}",
    "--- |",
    "%YAML 1.2",
    "\u{feff}kind: X",
    "apiVersion: v1 # c",
    "kind: \"A\"",
    "kind:",
    "  Deployment",
    "  name: x\r",
    "kind: Secret",
    "  name: sh.helm.release.v1.a.v1",
];

fn mutate(seed: &str, edits: &[(usize, u8, usize)]) -> String {
    let mut lines: Vec<String> = seed.lines().map(str::to_string).collect();
    for &(at, op, pick) in edits {
        let at = at % (lines.len() + 1);
        match op % 4 {
            0 => lines.insert(at, TRICKY[pick % TRICKY.len()].to_string()),
            1 if at < lines.len() => {
                lines.remove(at);
            }
            2 if at < lines.len() => lines[at].insert_str(0, &" ".repeat(pick % 3 + 1)),
            3 if at < lines.len() => lines[at] = TRICKY[pick % TRICKY.len()].to_string(),
            _ => {}
        }
    }
    lines.join("\n") + "\n"
}

type Agreement = (usize, Vec<String>, Vec<(u32, Option<usize>)>);

fn agreement(s: &Scan<'_>) -> Agreement {
    let objects = s
        .objects
        .iter()
        .map(|o| {
            format!(
                "{}|{}|{:?}|{:?}|{}:{}|{}|{:?}",
                o.api_version, o.kind, o.name, o.namespace, o.line, o.column, o.document, o.item
            )
        })
        .collect();
    (
        s.documents,
        objects,
        s.errors.iter().map(|e| (e.line, e.document)).collect(),
    )
}

proptest! {
    /// Wherever the full parser reads a file without error, the fast path finds exactly
    /// the same objects, names, lines and documents.
    #[test]
    fn the_fast_path_agrees_with_the_full_parser(
        seed in 0..SEEDS.len(),
        edits in prop::collection::vec((0usize..40, any::<u8>(), 0usize..1000), 0..8),
    ) {
        let text = mutate(SEEDS[seed], &edits);
        let fast = scan(text.as_bytes());
        let full = scan_full(text.as_bytes());
        if full.errors.is_empty() {
            prop_assert_eq!(agreement(&fast), agreement(&full), "{:?}", text);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_scanner(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let s = scan(&bytes);
        for e in &s.errors {
            prop_assert!(e.line >= 1 && e.column >= 1);
        }
    }
}

// ───────────────────────────── Helm release records ─────────────────────────────

fn release_json(status: &str, revision: u64) -> serde_json::Value {
    json!({
        "name": "web", "namespace": "prod", "version": revision,
        "info": {"status": status},
        "chart": {"metadata": {"name": "web", "version": "2.1.0"}, "templates": [{"name": "x", "data": "eyJ9"}]},
        "manifest": format!("---\n# Source: web/templates/deployment.yaml\n{DEPLOYMENT}---\n# Source: web/templates/ingress.yaml\n{INGRESS_OLD}"),
        "hooks": [
            {"name": "web-cleanup", "kind": "CronJob", "path": "web/templates/cleanup.yaml",
             "events": ["post-install"],
             "manifest": "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata:\n  name: web-cleanup\n  namespace: prod\n"},
            {"name": "web-migrate", "kind": "Job", "path": "web/templates/migrate.yaml",
             "events": ["pre-upgrade"], "manifest": "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: web-migrate\n"}
        ]
    })
}

/// Helm's payload: base64 of the gzipped JSON.
pub fn payload(release: &serde_json::Value) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(release.to_string().as_bytes()).unwrap();
    base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap())
}

/// A release record as `kubectl get -o yaml` shows it.
fn record_yaml(kind: &str, status: &str, revision: u64, data: &str) -> String {
    format!(
        "apiVersion: v1\nkind: {kind}\nmetadata:\n  name: sh.helm.release.v1.web.v{revision}\n  namespace: prod\n  labels:\n    owner: helm\n    status: {status}\ntype: helm.sh/release.v1\ndata:\n  release: {data}\n"
    )
}

pub fn secret_data(release: &serde_json::Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(payload(release))
}

#[test]
fn a_release_payload_decodes_with_manifest_and_hooks() {
    let r = helm::decode_data(
        helm::Driver::Secret,
        &secret_data(&release_json("deployed", 4)),
    )
    .unwrap();
    assert_eq!(
        (
            r.name.as_str(),
            r.namespace.as_str(),
            r.revision,
            r.status.as_str(),
            r.chart.as_str()
        ),
        ("web", "prod", 4, "deployed", "web-2.1.0")
    );
    assert!(r.manifest.contains("kind: Ingress"));
    assert_eq!(r.hooks.len(), 2);
    assert_eq!(r.hooks[0].path, "web/templates/cleanup.yaml");
    let same = helm::decode_data(
        helm::Driver::ConfigMap,
        &payload(&release_json("deployed", 4)),
    )
    .unwrap();
    assert_eq!(r, same);
    let record =
        json!({"kind": "Secret", "data": {"release": secret_data(&release_json("deployed", 4))}});
    assert_eq!(helm::decode_record(&record).unwrap(), r);
}

#[test]
fn release_findings_name_the_release_and_whether_a_hook_sent_it() {
    let r = helm::decode_payload(payload(&release_json("deployed", 4)).as_bytes()).unwrap();
    let (t, targets) = (table(), at(25));
    let mut out: Vec<Finding> = Vec::new();
    let stats = Checker {
        table: &t,
        targets: &targets,
    }
    .check_release("secret/prod/sh.helm.release.v1.web.v4", &r, &mut out);
    assert_eq!(stats.objects, 4);
    assert_eq!(out.len(), 2, "{out:#?}");
    let ing = &out[0];
    assert_eq!(
        (ing.signal, ing.severity),
        (Signal::HelmManifest, Severity::Removed)
    );
    assert_eq!(ing.kind.as_deref(), Some("Ingress"));
    assert_eq!(ing.template.as_deref(), Some("web/templates/ingress.yaml"));
    assert_eq!(ing.release.as_ref().unwrap().revision, 4);
    assert_eq!(ing.document, Some(1));
    let hook = &out[1];
    assert_eq!(
        (hook.signal, hook.severity),
        (Signal::HelmHook, Severity::Removed)
    );
    assert_eq!(hook.hook.as_deref(), Some("web-cleanup"));
    assert_eq!(hook.template.as_deref(), Some("web/templates/cleanup.yaml"));
    assert_eq!(hook.api_version.as_deref(), Some("batch/v1beta1"));
}

#[test]
fn release_records_in_a_file_are_decoded_deployed_revisions_only() {
    let dir = tempfile::tempdir().unwrap();
    let deployed = record_yaml(
        "Secret",
        "deployed",
        4,
        &secret_data(&release_json("deployed", 4)),
    );
    let superseded = record_yaml(
        "Secret",
        "superseded",
        3,
        &secret_data(&release_json("superseded", 3)),
    );
    let cm = record_yaml(
        "ConfigMap",
        "deployed",
        2,
        &payload(&json!({
            "name": "api", "namespace": "prod", "version": 2, "info": {"status": "deployed"},
            "manifest": FLOWSCHEMA_V1BETA3
        })),
    )
    .replace("web.v2", "api.v2");
    write(
        dir.path(),
        "records.yaml",
        format!("{deployed}---\n{superseded}---\n{cm}").as_bytes(),
    );
    let (code, v) = scan_json(dir.path(), "1.32", &[]);
    assert_eq!(code, 3);
    let f = v["findings"].as_array().unwrap();
    let signals: Vec<(&str, &str, u64)> = f
        .iter()
        .map(|x| {
            (
                x["signal"].as_str().unwrap(),
                x["kind"].as_str().unwrap(),
                x["release"]["revision"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        signals,
        vec![
            ("helm-manifest", "Ingress", 4),
            ("helm-hook", "CronJob", 4),
            ("helm-manifest", "FlowSchema", 2),
        ]
    );
    assert_eq!(f[1]["hook"], "web-cleanup");
    assert_eq!(f[2]["release"]["name"], "api");
}

#[test]
fn a_corrupt_release_record_is_an_error_finding() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "r.yaml",
        record_yaml("Secret", "deployed", 1, "bm90IGd6aXA=").as_bytes(),
    );
    let (code, v) = scan_json(dir.path(), "1.32", &[]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["findings"][0]["rule"], "helm-record");
    assert_eq!(v["findings"][0]["line"], 1);
}

// ───────────────────────────── live objects ─────────────────────────────

#[test]
fn live_objects_report_their_last_applied_and_managed_field_versions() {
    let obj = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "prod",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration":
                "{\"apiVersion\":\"networking.k8s.io/v1beta1\",\"kind\":\"Ingress\",\"metadata\":{\"name\":\"web\"}}"},
            "managedFields": [
                {"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "networking.k8s.io/v1beta1"},
                {"manager": "argocd-controller", "operation": "Apply", "apiVersion": "networking.k8s.io/v1"}
            ]}
    });
    let (t, targets) = (table(), at(22));
    let mut out = Vec::new();
    Checker {
        table: &t,
        targets: &targets,
    }
    .check_live("cluster/prod-use1", &obj, &mut out);
    let got: Vec<(Signal, Option<&str>)> = out
        .iter()
        .map(|f| (f.signal, f.manager.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            (Signal::LastApplied, None),
            (Signal::ManagedFields, Some("kubectl-client-side-apply")),
        ]
    );
    assert!(out
        .iter()
        .all(|f| f.severity == Severity::Removed && f.name.as_deref() == Some("web")));
    assert_eq!(out[0].file, "cluster/prod-use1");
}
