//! Differential validation: every NodePool of tests/k8s/nodepool-corpus.yaml goes to the
//! real kube-apiserver with the Karpenter NodePool CRD (a dry-run create with strict field
//! validation, as `kubectl create --dry-run=server` sends it) and to keelson's loader (a repository
//! with a Fleet, an Auto Mode Cluster, a NodeClass and that NodePool, read from disk as
//! `keelson validate` reads it). Both must give the same verdict on each; the ones that do
//! not are listed in `KNOWN`, each with its reason, and the test fails when that list is
//! not exactly the set of disagreements. Skipped without KEELSON_KUBECONFIG.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::kube_real::{admin, kubeconfig, serial, tls_provider};
use crate::util::{AUTO_CLUSTER, FLEET, NODECLASS, TODAY};

/// Cases where keelson's verdict differs from the real server's, with why. Only by-design
/// differences: keelson validates NodePools for EKS Auto Mode, whose API server adds its
/// own limits to the upstream CRD, and refuses what Karpenter's own run-time validation
/// refuses although the CRD lets it through (the pool would never become ready).
const KNOWN: &[(&str, &str)] = &[
    ("expire-after-never", "by design: Auto Mode nodes live at most 21 days, so keelson refuses expireAfter: Never"),
    ("karpenter-nodepools-concept", "by design: Auto Mode caps expireAfter + terminationGracePeriod at 21 days (720h + 48h here)"),
    ("termination-grace-only-over-21-days", "by design: Auto Mode's default expireAfter 336h + terminationGracePeriod 200h exceeds its 21 days"),
    ("template-label-key-bad-characters", "by design: Karpenter's RuntimeValidate refuses label keys that are not qualified names; the CRD does not check map keys"),
];

/// A case: its name, source, and the NodePool.
struct Case {
    name: String,
    source: String,
    doc: Value,
}

fn corpus() -> Vec<Case> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/k8s/nodepool-corpus.yaml"
    ))
    .unwrap();
    let raw: Value = serde_yaml_ng::from_str(&text).unwrap();
    let bases = raw["bases"].as_object().unwrap();
    let mut cases: Vec<Case> = bases
        .iter()
        .map(|(name, b)| Case {
            name: name.clone(),
            source: b["source"].as_str().unwrap().to_string(),
            doc: b["doc"].clone(),
        })
        .collect();
    for v in raw["variants"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let from = v["from"].as_str().unwrap();
        let mut doc = bases
            .get(from)
            .unwrap_or_else(|| panic!("{name}: no base {from}"))["doc"]
            .clone();
        for (pointer, value) in v["set"].as_object().into_iter().flatten() {
            set(&mut doc, pointer, value.clone(), name);
        }
        for pointer in v["remove"].as_array().into_iter().flatten() {
            let pointer = pointer.as_str().unwrap();
            let (parent, last) = pointer.rsplit_once('/').unwrap();
            let removed = match doc.pointer_mut(parent) {
                Some(Value::Object(m)) => m.remove(&unescape(last)).is_some(),
                Some(Value::Array(a)) => {
                    let i: usize = last.parse().unwrap();
                    (i < a.len()).then(|| a.remove(i)).is_some()
                }
                _ => false,
            };
            assert!(removed, "{name}: nothing at {pointer}");
        }
        cases.push(Case {
            name: name.to_string(),
            source: v["source"].as_str().unwrap().to_string(),
            doc,
        });
    }
    cases
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Set `pointer` in `doc`, creating the last object member if it is missing.
fn set(doc: &mut Value, pointer: &str, value: Value, case: &str) {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    match doc.pointer_mut(parent) {
        Some(Value::Object(m)) => {
            m.insert(unescape(last), value);
        }
        Some(Value::Array(a)) => {
            let i: usize = last.parse().unwrap();
            assert!(i < a.len(), "{case}: no element {pointer}");
            a[i] = value;
        }
        _ => panic!("{case}: no object or array at {parent}"),
    }
}

/// The server's verdict on a dry-run create with strict field validation (what `kubectl
/// create --dry-run=server` sends): `Err(message)` when it refuses the NodePool.
async fn server_verdict(client: &kube::Client, doc: &Value) -> Result<(), String> {
    let request = http::Request::post(
        "/apis/karpenter.sh/v1/nodepools?dryRun=All&fieldValidation=Strict&fieldManager=keelson-validate",
    )
    .header("content-type", "application/json")
    .body(serde_json::to_vec(doc).unwrap())
    .unwrap();
    match client.request::<Value>(request).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 422 || s.code == 400 => Err(s.message),
        Err(e) => panic!("dry run of {}: {e}", doc["metadata"]["name"]),
    }
}

/// keelson's verdict: `Err(diagnostics)` when the repository with the NodePool is invalid.
fn keelson_verdict(doc: &Value) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let write = |rel: &str, text: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("keelson.yaml", FLEET);
    write("clusters/auto1/cluster.yaml", AUTO_CLUSTER);
    write("clusters/auto1/nodeclass.yaml", NODECLASS);
    write(
        "clusters/auto1/nodepool.yaml",
        &serde_yaml_ng::to_string(doc).unwrap(),
    );
    let loaded = keelson::sync::load_repo(Path::new(root), TODAY).unwrap();
    if loaded.is_valid() {
        Ok(())
    } else {
        Err(crate::util::show(&loaded.diagnostics))
    }
}

#[test]
fn the_repository_around_each_case_is_valid_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in [
        ("keelson.yaml", FLEET),
        ("clusters/auto1/cluster.yaml", AUTO_CLUSTER),
        ("clusters/auto1/nodeclass.yaml", NODECLASS),
    ] {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let loaded = keelson::sync::load_repo(dir.path(), TODAY).unwrap();
    assert!(
        loaded.is_valid(),
        "{}",
        crate::util::show(&loaded.diagnostics)
    );
    assert!(corpus().len() >= 90, "the corpus lost cases");
}

#[tokio::test]
async fn keelson_and_the_real_server_agree_on_every_nodepool_of_the_corpus() {
    let Some(path) = kubeconfig() else { return };
    tls_provider();
    let _turn = serial().await;
    let client = admin(&path).await;
    let cases = corpus();
    let mut disagreements: BTreeMap<String, String> = BTreeMap::new();
    for c in &cases {
        let server = server_verdict(&client, &c.doc).await;
        let keelson = keelson_verdict(&c.doc);
        let line = |v: &Result<(), String>| match v {
            Ok(()) => "valid".to_string(),
            Err(m) => format!("invalid: {}", m.lines().next().unwrap_or_default()),
        };
        println!(
            "{:<40} server {:<8} keelson {:<8} ({})",
            c.name,
            if server.is_ok() { "valid" } else { "invalid" },
            if keelson.is_ok() { "valid" } else { "invalid" },
            c.source
        );
        if server.is_ok() != keelson.is_ok() {
            disagreements.insert(
                c.name.clone(),
                format!("server {}; keelson {}", line(&server), line(&keelson)),
            );
        }
    }
    let agree = cases.len() - disagreements.len();
    println!(
        "agreement: {agree}/{} NodePools ({:.1}%)",
        cases.len(),
        100.0 * agree as f64 / cases.len() as f64
    );
    let known: BTreeMap<String, String> = KNOWN
        .iter()
        .map(|(n, r)| (n.to_string(), r.to_string()))
        .collect();
    let new: Vec<String> = disagreements
        .iter()
        .filter(|(n, _)| !known.contains_key(*n))
        .map(|(n, d)| format!("{n}: {d}"))
        .collect();
    let gone: Vec<&String> = known
        .keys()
        .filter(|n| !disagreements.contains_key(*n))
        .collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "disagreements not listed in KNOWN:\n{}\nlisted in KNOWN but now agreeing: {gone:?}",
        new.join("\n")
    );
}
