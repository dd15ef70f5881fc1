//! Kubernetes objects keelson applies: EKS Auto Mode NodeClasses, Karpenter NodePools,
//! IngressClassParams, IngressClasses and StorageClasses, by server-side apply with
//! keelson's label; pruned NodePools first, NodeClasses last.
//!
//! ```text
//!  git NodeClass / NodePool ─► object (with the label) ─┬─ absent ──────► KubeApply
//!                                                       └─ owned fields ► KubeApply
//!  live only (listed by the label) ─────────────────────► KubeDelete (pools, then classes)
//! ```
//!
//! Only what keelson sends, or owns by server-side apply, is compared (labels,
//! annotations, spec or top-level fields): never status, resourceVersion, managedFields, fields other managers
//! own or fields the API server defaults.

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

/// Kubernetes object for a document with a `spec`, with keelson's label.
pub(super) fn kube_object(api: &str, kind: &str, meta: &Metadata, spec: &impl Serialize) -> Value {
    let mut metadata = json!({"name": meta.name, "labels": meta.labels});
    if !meta.annotations.is_empty() {
        metadata["annotations"] = json!(meta.annotations);
    }
    labelled(
        json!({"apiVersion": api, "kind": kind, "metadata": metadata, "spec": spec}),
        &[],
    )
}

/// `obj` with keelson's marker label, and `extra` labels, added to its own.
pub(super) fn labelled(mut obj: Value, extra: &[(&str, &str)]) -> Value {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    let meta = &mut obj["metadata"];
    if !meta.get("labels").is_some_and(Value::is_object) {
        meta["labels"] = json!({});
    }
    if let Some(labels) = meta.get_mut("labels").and_then(Value::as_object_mut) {
        labels.insert(MANAGED_LABEL.into(), json!(FIELD_MANAGER));
        for (k, v) in extra {
            labels.insert((*k).into(), json!(v));
        }
    }
    obj
}

/// Whether a live object carries keelson's label (keelson created or adopted it).
fn has_label(obj: &Value) -> bool {
    obj.pointer("/metadata/labels")
        .and_then(|l| l.get(MANAGED_LABEL))
        .and_then(Value::as_str)
        == Some(FIELD_MANAGER)
}

/// An object to apply without keelson's label: what git declares for an object keelson
/// did not create and does not adopt (its labels as git has them, or none).
fn without_label(mut obj: Value) -> Value {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        let empty = meta
            .get_mut("labels")
            .and_then(Value::as_object_mut)
            .map(|l| {
                l.remove(MANAGED_LABEL);
                l.is_empty()
            })
            .unwrap_or(false);
        if empty {
            meta.remove("labels");
        }
    }
    obj
}

/// Top-level fields that are not the object's content: who it is, and what the server
/// reports.
const NOT_CONTENT: &[&str] = &["apiVersion", "kind", "metadata", "status"];

/// The parts of a live object keelson owns: what it would send (labels, annotations and
/// the content: `spec`, or a StorageClass's or ConfigMap's top-level fields).
fn kube_owned_view(obj: &Value) -> Value {
    let labels = obj
        .pointer("/metadata/labels")
        .cloned()
        .unwrap_or(Value::Null);
    let annotations = obj
        .pointer("/metadata/annotations")
        .cloned()
        .unwrap_or(Value::Null);
    let mut out = serde_json::Map::new();
    out.insert("labels".into(), labels);
    out.insert("annotations".into(), annotations);
    for (k, v) in obj.as_object().into_iter().flatten() {
        if !NOT_CONTENT.contains(&k.as_str()) {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

/// The changes an apply of `desired` makes to `live`: the fields keelson sends, and the
/// fields it owns and no longer sends.
pub(super) fn changes_against(live: &Value, desired: &Value) -> Vec<Change> {
    let want = kube_owned_view(desired);
    let have = compared_view(
        &kube_owned_view(live),
        Some(&want),
        Some(&owned_fields(live)),
    )
    .unwrap_or(Value::Null);
    changes_of(&have, &want)
}

/// The fields of a live object that keelson's field manager owns by server-side apply
/// (its `fieldsV1` sets, merged), shaped like [`kube_owned_view`]'s keys: `f:labels`,
/// `f:annotations`, `f:spec`.
fn owned_fields(obj: &Value) -> Value {
    let mut merged = Value::Object(serde_json::Map::new());
    let entries = obj
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for e in entries {
        if e.get("manager").and_then(Value::as_str) == Some(FIELD_MANAGER) {
            if let Some(f) = e.get("fieldsV1") {
                merge_fields(&mut merged, f);
            }
        }
    }
    let pick = |p: &str| merged.pointer(p).cloned().unwrap_or(Value::Null);
    let mut out = serde_json::Map::new();
    for (k, p) in [
        ("f:labels", "/f:metadata/f:labels"),
        ("f:annotations", "/f:metadata/f:annotations"),
    ] {
        let v = pick(p);
        if !v.is_null() {
            out.insert(k.to_string(), v);
        }
    }
    for (k, v) in merged.as_object().into_iter().flatten() {
        let field = k.strip_prefix("f:").unwrap_or(k);
        if k.starts_with("f:") && !NOT_CONTENT.contains(&field) {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

fn merge_fields(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge_fields(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (slot, v) => {
            if slot.is_null() {
                *slot = v.clone();
            }
        }
    }
}

/// The part of a live object's owned view that a plan compares with `desired`: the
/// fields keelson sends now, and the fields keelson's field manager owns (`owned`, in
/// `fieldsV1` form), which an apply without them removes. Fields that other managers
/// own, and those the API server defaults, are no drift: server-side apply leaves them.
/// `None` when nothing of `live` is compared.
fn compared_view(live: &Value, desired: Option<&Value>, owned: Option<&Value>) -> Option<Value> {
    match live {
        Value::Object(m) if desired.is_none_or(Value::is_object) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                let d = desired.and_then(|d| d.get(k)).filter(|v| !v.is_null());
                let o = owned.and_then(|f| f.get(format!("f:{k}")));
                // `{}` in fieldsV1: the whole value is owned.
                let whole = o.is_some_and(|f| f.as_object().is_some_and(|m| m.is_empty()));
                if d.is_none() && whole {
                    out.insert(k.clone(), v.clone());
                } else if d.is_some() || o.is_some() {
                    if let Some(x) = compared_view(v, d, o) {
                        out.insert(k.clone(), x);
                    }
                }
            }
            (!out.is_empty() || desired.is_some()).then_some(Value::Object(out))
        }
        other => Some(other.clone()),
    }
}

/// Why the API server would refuse to update the live NodePool `live` to `desired`: the
/// transition rules (`oldSelf`) of the Karpenter v1.14.1 NodePool CRD, which a create
/// never trips, so `keelson validate` cannot see them.
pub(crate) fn nodepool_transition_refused(live: &Value, desired: &Value) -> Option<String> {
    let at = |v: &Value, p: &str| v.pointer(p).cloned();
    for field in ["group", "kind"] {
        // CEL: self.group == oldSelf.group, self.kind == oldSelf.kind
        let p = format!("/spec/template/spec/nodeClassRef/{field}");
        let (before, after) = (at(live, &p), at(desired, &p));
        if before.is_some() && before != after {
            return Some(format!(
                "nodeClassRef.{field} of an existing NodePool cannot change ({} to {})",
                before.unwrap_or_default(),
                after.unwrap_or_default()
            ));
        }
    }
    // CEL: has(self.replicas) == has(oldSelf.replicas)
    let static_before = live.pointer("/spec/replicas").is_some_and(|r| !r.is_null());
    let static_after = desired
        .pointer("/spec/replicas")
        .is_some_and(|r| !r.is_null());
    if static_before != static_after {
        return Some(format!(
            "a NodePool cannot switch between static (`replicas`) and dynamic provisioning ({} `replicas`)",
            if static_after { "adding" } else { "removing" }
        ));
    }
    None
}

/// Fields Kubernetes refuses to change on an existing object (the `Validate*Update`
/// functions of k8s.io/kubernetes `pkg/apis/storage/validation` and
/// `pkg/apis/networking/validation`): the object is deleted and created again.
const IMMUTABLE: &[(&str, &[&str])] = &[
    (
        "StorageClass",
        &[
            "/provisioner",
            "/parameters",
            "/reclaimPolicy",
            "/volumeBindingMode",
        ],
    ),
    ("IngressClass", &["/spec/controller"]),
];

/// The field of `kind` that the API server refuses to change from `old` to `new`, if any
/// (dotted, e.g. `spec.controller`).
pub(crate) fn immutable_change(kind: &str, old: &Value, new: &Value) -> Option<String> {
    let (_, fields) = IMMUTABLE.iter().find(|(k, _)| *k == kind)?;
    fields
        .iter()
        .find(|f| old.pointer(f) != new.pointer(f))
        .map(|f| f.trim_start_matches('/').replace('/', "."))
}

/// The desired objects of one cluster, in apply order: NodeClasses, NodePools,
/// IngressClassParams, IngressClasses, StorageClasses.
fn desired_objects(c: &ClusterConfig) -> Vec<(Kind, Value)> {
    let mut out = Vec::new();
    for n in &c.node_classes {
        let v = &n.value;
        out.push((
            Kind::NodeClass,
            kube_object(EKS_NODECLASS_API, "NodeClass", &v.metadata, &v.spec),
        ));
    }
    for n in &c.node_pools {
        let v = &n.value;
        let (spec, _) = super::consolidation::explicit(&v.spec);
        out.push((
            Kind::NodePool,
            kube_object(KARPENTER_API, "NodePool", &v.metadata, &spec),
        ));
    }
    for n in &c.ingress_class_params {
        let v = &n.value;
        out.push((
            Kind::IngressClassParams,
            kube_object(
                EKS_NODECLASS_API,
                "IngressClassParams",
                &v.metadata,
                &v.spec,
            ),
        ));
    }
    for n in &c.ingress_classes {
        let v = &n.value;
        out.push((
            Kind::IngressClass,
            kube_object(NETWORKING_API, "IngressClass", &v.metadata, &v.spec),
        ));
    }
    for n in &c.storage_classes {
        // A StorageClass has no spec: its fields are the document's own.
        let mut obj = serde_json::to_value(&n.value).unwrap_or(Value::Null);
        obj["apiVersion"] = json!(STORAGE_API);
        out.push((Kind::StorageClass, labelled(obj, &[])));
    }
    out
}

/// Plan the NodeClasses, NodePools and Auto Mode classes of one cluster.
pub(super) fn plan_kube(cx: &mut Ctx<'_>, c: &ClusterConfig) {
    let empty = BTreeMap::new();
    let live = cx.live.map_or(&empty, |o| &o.kube_objects);
    let mut desired_keys = BTreeSet::new();
    for (kind, obj) in desired_objects(c) {
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
                if let Some(why) = (kind == Kind::NodePool)
                    .then(|| nodepool_transition_refused(l, &obj))
                    .flatten()
                {
                    cx.block(kind, &n, format!("{why}: give the pool a new name (keelson creates it and prunes the old one, draining its nodes), or delete it first"));
                    continue;
                }
                let marked = has_label(l);
                cx.adoption.see((kind, &n), marked, cx.adopt);
                let obj = if marked || cx.adopt {
                    obj
                } else {
                    without_label(obj)
                };
                let apply = Op::KubeApply {
                    object: obj.clone(),
                };
                let changes = changes_against(l, &obj);
                if changes.is_empty() {
                    continue;
                }
                if let Some(field) = immutable_change(kind.name(), l, &obj) {
                    let delete = Op::KubeDelete {
                        api_version: kind.api_version().to_string(),
                        kind: kind.name().to_string(),
                        name: n.clone(),
                        namespace: None,
                    };
                    cx.steps.push(
                        Step::replace(kind, &n, changes, vec![delete, apply]).risk(
                            RiskKind::Destructive,
                            format!("`{field}` of a {kind} cannot change in place: it is deleted and created again (objects made from it keep their settings)"),
                        ),
                    );
                    continue;
                }
                let spec_changed = changes.iter().any(|ch| ch.path.starts_with("spec"));
                let mut step = Step::update(kind, &n, changes, vec![apply]);
                if spec_changed && matches!(kind, Kind::NodePool | Kind::NodeClass) {
                    step.risks.push(rotates);
                }
                cx.steps.push(step);
            }
        }
    }
    for p in &c.node_pools {
        let n = &p.value.metadata.name;
        if !super::consolidation::omitted(&p.value.spec) {
            continue;
        }
        let planned = cx
            .steps
            .iter()
            .any(|s| s.resource.kind == Kind::NodePool && s.resource.name == *n);
        if planned {
            cx.notes.push(super::consolidation::note(n));
        }
    }
    // Prune: NodePools first, NodeClasses last (a class in use cannot go first), and only
    // what carries keelson's label: EKS's built-in pools and objects keelson did not
    // create (or adopt) are never deleted.
    let order = |k: &str| match k.split_once('/').map_or(k, |(kind, _)| kind) {
        "NodePool" => 0,
        "NodeClass" => 2,
        _ => 1,
    };
    let mut prune: Vec<(&String, &Value)> = live.iter().filter(|(_, o)| has_label(o)).collect();
    prune.sort_by_key(|(k, _)| order(k));
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
            namespace: None,
        };
        let kind = Kind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == kind)
            .unwrap_or(Kind::Manifest);
        let lost = match kind {
            Kind::NodePool | Kind::NodeClass => {
                format!("nodes of this {kind} are drained and terminated")
            }
            Kind::StorageClass => {
                "claims can no longer provision volumes of this class (existing volumes stay)"
                    .to_string()
            }
            _ => "Ingresses of this class lose their load balancer configuration".to_string(),
        };
        Orphan::new(kind, n, None, op, lost)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crd_transition_rules_are_found_before_the_api_server_refuses_them() {
        let pool = |group: &str, replicas: Option<u32>| {
            let mut spec = json!({"template": {"spec": {"nodeClassRef": {"group": group, "kind": "NodeClass", "name": "a"}}}});
            if let Some(r) = replicas {
                spec["replicas"] = json!(r);
            }
            json!({"spec": spec})
        };
        let live = pool("eks.amazonaws.com", None);
        assert_eq!(
            nodepool_transition_refused(&live, &pool("eks.amazonaws.com", None)),
            None
        );
        let group = nodepool_transition_refused(&live, &pool("karpenter.k8s.aws", None));
        assert!(group.is_some_and(|m| m.contains("nodeClassRef.group")));
        let to_static = nodepool_transition_refused(&live, &pool("eks.amazonaws.com", Some(2)));
        assert!(to_static.is_some_and(|m| m.contains("adding")));
        let live_static = pool("eks.amazonaws.com", Some(2));
        assert_eq!(
            nodepool_transition_refused(&live_static, &pool("eks.amazonaws.com", Some(5))),
            None
        );
        let to_dynamic =
            nodepool_transition_refused(&live_static, &pool("eks.amazonaws.com", None));
        assert!(to_dynamic.is_some_and(|m| m.contains("removing")));
    }

    #[test]
    fn only_sent_or_owned_fields_are_compared() {
        let live = json!({
            "metadata": {
                "labels": {"team": "a", "other": "x"},
                "managedFields": [
                    {"manager": "keelson", "operation": "Apply",
                     "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}},
                                  "f:spec": {"f:weight": {}, "f:limits": {"f:cpu": {}}}}},
                    {"manager": "someone", "operation": "Update",
                     "fieldsV1": {"f:spec": {"f:limits": {"f:memory": {}}}}}
                ]
            },
            "spec": {"weight": 10, "limits": {"cpu": "100", "memory": "1Ti"}, "defaulted": "720h"}
        });
        let owned = owned_fields(&live);
        // keelson no longer sends limits.cpu: an apply removes it, so the plan shows it;
        // another manager's memory limit, a foreign label and a defaulted field are no drift.
        let want = json!({"labels": {"team": "a"}, "annotations": null, "spec": {"weight": 10}});
        let have = compared_view(&kube_owned_view(&live), Some(&want), Some(&owned))
            .unwrap_or(Value::Null);
        let changes = changes_of(&have, &want);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].path, "spec.limits");
        assert_eq!(changes[0].before, Some(json!({"cpu": "100"})));
        assert_eq!(changes[0].after, None);
    }
}
