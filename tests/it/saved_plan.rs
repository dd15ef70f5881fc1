//! `apply --plan FILE` end to end on the simulator, with the simulator's state file
//! edited between plan and apply the way a live fleet moves on its own: the fingerprint
//! ignores what the plan does not read, and catches what it does.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::plan_cli::copy;
use crate::util::*;

fn r(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `keelson CMD --repo REPO ARGS...`.
fn keelson_in(repo: &Path, cmd: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec![cmd, "--repo", r(repo)];
    all.extend_from_slice(args);
    keelson_cli(&all)
}

const INSTANTLY: [&str; 3] = ["--auto-approve", "--sim-speed", "instant"];

/// The example fleet, applied, with a plan saved after git raised two limits: the
/// `general` node group's maxSize in prod-use1 and the `batch-arm64` NodePool's weight in
/// prod-apne1.
fn saved_plan() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("fleet");
    copy(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/fleet")),
        &repo,
    );
    let o = keelson_in(&repo, "apply", &INSTANTLY);
    assert_eq!(o.status.code(), Some(0), "{}", out_and_err(&o));
    let edit = |file: &str, from: &str, to: &str| {
        let path = repo.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file}: {from}");
        std::fs::write(&path, text.replace(from, to)).unwrap();
    };
    edit(
        "clusters/prod-use1/nodegroups.yaml",
        "maxSize: 12",
        "maxSize: 16",
    );
    edit(
        "clusters/prod-apne1/nodepools.yaml",
        "weight: 10",
        "weight: 20",
    );
    let planfile = dir.path().join("plan.json");
    let o = keelson_in(&repo, "plan", &["--out", r(&planfile), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", out_and_err(&o));
    let saved: Value = serde_json::from_slice(&std::fs::read(&planfile).unwrap()).unwrap();
    assert_eq!(saved["summary"]["update"], 2, "{saved:#}");
    (dir, repo, planfile)
}

/// Change the simulator's state file in place.
fn edit_sim(repo: &Path, change: impl FnOnce(&mut Value)) {
    let path = repo.join(".keelson/sim.json");
    let mut state: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    change(&mut state);
    std::fs::write(&path, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
}

fn apply_saved(repo: &Path, planfile: &Path) -> std::process::Output {
    keelson_in(
        repo,
        "apply",
        &[&["--plan", r(planfile)][..], &INSTANTLY].concat(),
    )
}

/// Regression: the fingerprint hashed the whole observation, so an autoscaler moving a
/// node group's desired size, or Karpenter updating a NodePool's status, made every saved
/// plan stale before it could be applied.
#[test]
fn a_saved_plan_applies_after_the_autoscaler_and_karpenter_moved_things() {
    let (_d, repo, planfile) = saved_plan();
    edit_sim(&repo, |s| {
        let ng = &mut s["clusters"]["prod-use1"]["nodeGroups"]["general"]["live"]["spec"];
        ng["scaling"]["desiredSize"] = json!(7);
        let pool = &mut s["clusters"]["prod-apne1"]["kube"]["NodePool/batch-arm64"];
        assert!(pool.is_object(), "{pool}");
        pool["metadata"]["resourceVersion"] = json!("48213");
        pool["metadata"]["generation"] = json!(4);
        pool["metadata"]["managedFields"] =
            json!([{"manager": "karpenter", "operation": "Update", "subresource": "status"}]);
        pool["status"] = json!({"resources": {"nodes": "6", "cpu": "48"}, "conditions": [{"type": "Ready", "status": "True"}]});
    });
    let o = apply_saved(&repo, &planfile);
    let text = out_and_err(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(text.contains("Apply complete: 2 steps"), "{text}");
}

#[test]
fn a_saved_plan_is_refused_after_a_change_it_would_overwrite() {
    for (cluster, change) in [("prod-use1", "maxSize"), ("prod-apne1", "expireAfter")] {
        let (_d, repo, planfile) = saved_plan();
        edit_sim(&repo, |s| match change {
            "maxSize" => {
                s["clusters"]["prod-use1"]["nodeGroups"]["general"]["live"]["spec"]["scaling"]
                    ["maxSize"] = json!(14)
            }
            _ => {
                s["clusters"]["prod-apne1"]["kube"]["NodePool/batch-arm64"]["spec"]["template"]
                    ["spec"]["expireAfter"] = json!("720h")
            }
        });
        let o = apply_saved(&repo, &planfile);
        assert_eq!(o.status.code(), Some(1), "{change}: {}", out_and_err(&o));
        assert!(
            out_and_err(&o).contains(&format!("the live state of {cluster} changed since")),
            "{change}: {}",
            out_and_err(&o)
        );
    }
}

/// The keys version 1 plan files spelt in snake_case (the API's own shapes, such as a node
/// group's `minSize`, were camelCase already).
const OLD_KEYS: [(&str, &str); 16] = [
    ("createdAt", "created_at"),
    ("blockedClusters", "blocked_clusters"),
    ("heldClusters", "held_clusters"),
    ("changedClusters", "changed_clusters"),
    ("unchangedClusters", "unchanged_clusters"),
    ("rollbackWindowEnd", "rollback_window_end"),
    ("needsOptIn", "needs_opt_in"),
    ("policyArn", "policy_arn"),
    ("apiVersion", "api_version"),
    ("publicAccessCidrs", "public_access_cidrs"),
    ("subnetIds", "subnet_ids"),
    ("securityGroupIds", "security_group_ids"),
    ("authenticationMode", "authentication_mode"),
    ("autoMode", "auto_mode"),
    ("supportType", "support_type"),
    ("remoteNetworkConfig", "remote_network_config"),
];

/// `v` with the keys of [`OLD_KEYS`] as version 1 plan files spelt them.
fn snake_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let s = match OLD_KEYS.iter().find(|(camel, _)| camel == k) {
                        Some((_, snake)) => snake.to_string(),
                        None => k.clone(),
                    };
                    // Kubernetes objects inside a plan keep their own keys.
                    let v = if k == "object" {
                        v.clone()
                    } else {
                        snake_keys(v)
                    };
                    (s, v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(snake_keys).collect()),
        other => other.clone(),
    }
}

#[test]
fn plan_files_spell_keys_in_camel_case_and_version_1_files_in_snake_case_still_apply() {
    let (_d, repo, planfile) = saved_plan();
    let saved: Value = serde_json::from_slice(&std::fs::read(&planfile).unwrap()).unwrap();
    assert_eq!(saved["version"], 2);
    assert!(saved["createdAt"].is_i64(), "{saved:#}");
    assert_eq!(saved["summary"]["changedClusters"], 2, "{saved:#}");
    let text = saved.to_string();
    for snake in [
        "created_at",
        "blocked_clusters",
        "needs_opt_in",
        "rollback_window_end",
    ] {
        assert!(!text.contains(snake), "{snake} in {text}");
    }
    // The same plan as keelson wrote it before version 2.
    let mut old = snake_keys(&saved);
    old["version"] = json!(1);
    assert!(old["summary"]["changed_clusters"] == 2 && old.get("createdAt").is_none());
    std::fs::write(&planfile, serde_json::to_vec_pretty(&old).unwrap()).unwrap();
    let o = apply_saved(&repo, &planfile);
    let text = out_and_err(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(text.contains("Apply complete: 2 steps"), "{text}");
    // A version keelson does not know is refused, naming the versions it reads.
    old["version"] = json!(3);
    std::fs::write(&planfile, serde_json::to_vec_pretty(&old).unwrap()).unwrap();
    let o = apply_saved(&repo, &planfile);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out_and_err(&o).contains("is not a keelson plan file of version 1 to 2"),
        "{}",
        out_and_err(&o)
    );
}
