//! Kubernetes objects keelson applies: EKS Auto Mode NodeClasses and Karpenter
//! NodePools, by server-side apply with keelson's label; pruned NodePools first.
//!
//! ```text
//!  git NodeClass / NodePool ─► object (with the label) ─┬─ absent ──────► KubeApply
//!                                                       └─ owned fields ► KubeApply
//!  live only (listed by the label) ─────────────────────► KubeDelete (pools, then classes)
//! ```
//!
//! Only what keelson sends is compared (labels, annotations, spec): never status,
//! resourceVersion, managedFields or other fields the API server and Karpenter set.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{json, Value};

use super::diff::changes_of;
use super::types::*;
use super::{Ctx, Orphan};
use crate::config::ClusterConfig;
use crate::model::live::{FIELD_MANAGER, MANAGED_LABEL};
use crate::model::*;

/// What the planner reads from a live object (for the fingerprint of a saved plan).
pub(super) fn live_view(obj: &Value) -> Value {
    json!({"apiVersion": obj.get("apiVersion"), "owned": kube_owned_view(obj)})
}

/// Kubernetes object for a NodePool/NodeClass document, with keelson's label.
pub(super) fn kube_object(api: &str, kind: &str, meta: &Metadata, spec: &impl Serialize) -> Value {
    let mut labels: serde_json::Map<String, Value> = meta
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    labels.insert(MANAGED_LABEL.into(), json!(FIELD_MANAGER));
    let mut metadata = json!({"name": meta.name, "labels": labels});
    if !meta.annotations.is_empty() {
        metadata["annotations"] = json!(meta.annotations);
    }
    json!({"apiVersion": api, "kind": kind, "metadata": metadata, "spec": spec})
}

/// The parts of a live object keelson owns: what it would send.
fn kube_owned_view(obj: &Value) -> Value {
    let labels = obj
        .pointer("/metadata/labels")
        .cloned()
        .unwrap_or(Value::Null);
    let annotations = obj
        .pointer("/metadata/annotations")
        .cloned()
        .unwrap_or(Value::Null);
    json!({"labels": labels, "annotations": annotations, "spec": obj.get("spec").cloned().unwrap_or(Value::Null)})
}

/// Plan the NodeClasses and NodePools of one cluster.
pub(super) fn plan_kube(cx: &mut Ctx<'_>, c: &ClusterConfig) {
    let empty = BTreeMap::new();
    let live = cx.live.map_or(&empty, |o| &o.kube_objects);
    let mut desired_keys = BTreeSet::new();
    let classes = c.node_classes.iter().map(|n| {
        (
            Kind::NodeClass,
            kube_object(
                EKS_NODECLASS_API,
                "NodeClass",
                &n.value.metadata,
                &n.value.spec,
            ),
        )
    });
    let pools = c.node_pools.iter().map(|n| {
        (
            Kind::NodePool,
            kube_object(KARPENTER_API, "NodePool", &n.value.metadata, &n.value.spec),
        )
    });
    for (kind, obj) in classes.chain(pools) {
        let n = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let key = format!("{kind}/{n}");
        desired_keys.insert(key.clone());
        let rotates = Risk::new(RiskKind::NodesRotated, format!("nodes launched from this {kind} drift and are replaced by Karpenter, within disruption budgets"));
        match live.get(&key) {
            None => cx
                .steps
                .push(Step::create(kind, &n, vec![Op::KubeApply { object: obj }])),
            Some(l) => {
                let changes = changes_of(&kube_owned_view(l), &kube_owned_view(&obj));
                if !changes.is_empty() {
                    let spec_changed = changes.iter().any(|ch| ch.path.starts_with("spec"));
                    let mut step =
                        Step::update(kind, &n, changes, vec![Op::KubeApply { object: obj }]);
                    if spec_changed {
                        step.risks.push(rotates);
                    }
                    cx.steps.push(step);
                }
            }
        }
    }
    // Prune: NodePools before NodeClasses (a class in use cannot go first). Observe lists
    // only objects with keelson's label, so every live object here carries the marker.
    let mut prune: Vec<(&String, &Value)> = live.iter().collect();
    prune.sort_by_key(|(k, _)| if k.starts_with("NodePool/") { 0 } else { 1 });
    cx.prune(prune, &desired_keys, |key, obj| {
        let (kind, n) = key.split_once('/').unwrap_or(("", key));
        let api = obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let op = Op::KubeDelete {
            api_version: api,
            kind: kind.to_string(),
            name: n.to_string(),
        };
        // Observe lists NodeClasses and NodePools only (keys `NodeClass/…`, `NodePool/…`).
        let kind = if kind == "NodeClass" {
            Kind::NodeClass
        } else {
            Kind::NodePool
        };
        let lost = format!("nodes of this {kind} are drained and terminated");
        Orphan::new(kind, n, None, op, lost)
    });
}
