//! Digests: the fingerprint of the live state a plan was computed from, and the
//! deterministic idempotency tokens of create calls.
//!
//! ```text
//!  ObservedCluster ─► per kind: live_view (the fields the planners compare, normalised)
//!                  ─► digest ─► ClusterPlan.fingerprint
//!  apply --plan FILE: fresh plan ─► moved_since(saved, fresh) ─► refuse the clusters that moved
//! ```
//!
//! The fingerprint covers what the plan depends on, not the raw observation: a node
//! group's desired size (the autoscaler's), Kubernetes `status`, `resourceVersion`,
//! `managedFields`, timestamps, update ids and the like move on their own on a live fleet
//! and would otherwise make every saved plan stale before it is applied.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{json, Value};

use super::types::Plan;
use super::{access, addons, cluster, fargate, kube, node_groups, pod_identity};
use crate::model::live::{ObservedCluster, UpgradeSignals};

/// FNV-1a, 64 bits.
fn fnv64(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A stable 128-bit hex digest (two FNV-1a runs); not cryptographic, used for
/// fingerprints and idempotency tokens.
pub fn digest(bytes: &[u8]) -> String {
    format!(
        "{:016x}{:016x}",
        fnv64(0xcbf2_9ce4_8422_2325, bytes),
        fnv64(0x6c62_272e_07bb_0142, bytes)
    )
}

/// The deterministic clientRequestToken for creating `what`: the same request gets the
/// same token in every plan, so a call retried after a crash is recognised by EKS.
pub(crate) fn token(cluster: &str, kind: &str, name: &str, body: &impl Serialize) -> String {
    let mut bytes = format!("{cluster}\0{kind}\0{name}\0").into_bytes();
    bytes.extend(serde_json::to_vec(body).unwrap_or_default());
    format!("keelson-{}", &digest(&bytes)[..24])
}

/// The fingerprint of an observed cluster (or of its absence): a digest of what the
/// planners read from it, normalised as they compare it.
pub fn fingerprint(o: Option<&ObservedCluster>) -> String {
    match o {
        None => "absent".to_string(),
        Some(o) => digest(&serde_json::to_vec(&plan_inputs(o)).unwrap_or_default()),
    }
}

/// Everything a cluster's plan reads from its live state, and nothing that changes
/// without changing the plan. Maps are keyed by name so the order is stable.
fn plan_inputs(o: &ObservedCluster) -> Value {
    let mut inputs = json!({
        "cluster": cluster::live_view(o),
        "addons": views(&o.addons, addons::live_view),
        "nodeGroups": views(&o.node_groups, node_groups::live_view),
        "fargateProfiles": views(&o.fargate_profiles, fargate::live_view),
        "accessEntries": views(&o.access_entries, access::live_view),
        "podIdentities": views(&o.pod_identities, pod_identity::live_view),
        "kubeObjects": views(&o.kube_objects, kube::live_view),
        "upgrade": o.upgrade.as_ref().map(signals_view),
    });
    // Bootstrap objects and what the server serves, when they were read (a key added
    // only then, so that fingerprints of clusters without them stay as they were).
    if let Some(b) = &o.bootstrap {
        inputs["bootstrap"] = json!({
            "served": b.served,
            "inventory": b.inventory,
            "objects": views(&b.objects, kube::live_view),
        });
    }
    inputs
}

/// One view per live resource, by name.
fn views<T>(live: &BTreeMap<String, T>, view: impl Fn(&T) -> Value) -> BTreeMap<&str, Value> {
    live.iter().map(|(k, v)| (k.as_str(), view(v))).collect()
}

/// The upgrade signals as the gates judge them: insights by id and status (not their
/// wording), API uses as a set, and the kubelet minors of self-managed nodes (not which
/// nodes: those come and go with scaling).
fn signals_view(s: &UpgradeSignals) -> Value {
    let mut insights: Vec<Value> = s
        .insights
        .iter()
        .map(|i| json!([i.id, i.category, i.kubernetes_version, i.status]))
        .collect();
    insights.sort_by_key(Value::to_string);
    let mut uses = s.api_uses.clone();
    uses.sort();
    uses.dedup();
    let kubelets: BTreeSet<&String> = s.self_managed_nodes.values().collect();
    let mut unreadable = s.unreadable.clone();
    unreadable.sort();
    json!({"insights": insights, "apiUses": uses, "kubelets": kubelets, "unreadable": unreadable})
}

/// The clusters with steps in `saved` whose live state has moved since: their
/// fingerprint in `fresh` (a plan computed now) differs, or they are not in it. `apply
/// --plan FILE` refuses to run a saved plan while this is not empty.
pub fn moved_since(saved: &Plan, fresh: &Plan) -> Vec<String> {
    saved
        .clusters
        .iter()
        .filter(|c| c.has_changes())
        .filter(|c| {
            !fresh
                .clusters
                .iter()
                .any(|f| f.name == c.name && f.fingerprint == c.fingerprint)
        })
        .map(|c| c.name.clone())
        .collect()
}
