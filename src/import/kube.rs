//! Kubernetes objects listed live → documents: NodeClasses, NodePools, the Auto Mode
//! classes (StorageClass, IngressClass, IngressClassParams) and the bootstrap objects
//! keelson applied.
//!
//! ```text
//!  object ─► bootstrap label and keelson's ─────────► Manifest  (bootstrap/<kinds>.yaml)
//!         ├► another tool's label, or EKS's own ────► left out
//!         └► keelson's label, or no manager label ──► NodeClass, NodePool, classes
//!  content: the fields keelson applied (its managedFields), else the object without
//!           server fields and API defaults; metadata without keelson's labels
//! ```
//!
//! Classes follow the NodePool logic: keelson's and unlabelled ones are imported (the
//! planner leaves an unlabelled one unmanaged until adopted), another tool's are not.
//! Bootstrap objects are imported only with both of keelson's labels: the planner adds
//! them to every bootstrap object and never adopts, so an object without them is not
//! keelson's. The inventory ConfigMap is keelson's bookkeeping, never a document.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::{Doc, ImportedCluster};
use crate::model::live::{ObservedCluster, BOOTSTRAP_LABEL, FIELD_MANAGER, MANAGED_LABEL};
use crate::model::*;

/// Top-level fields that are the object's identity or the server's report.
const NOT_CONTENT: &[&str] = &["apiVersion", "kind", "metadata", "status"];

/// The StorageClass EKS creates on its clusters, with the in-tree EBS provisioner
/// (EKS User Guide, "Storage classes"; the plugin name is csi-translation-lib
/// `plugins/aws_ebs.go` `AWSEBSInTreePluginName`).
const EKS_GP2: (&str, &str) = ("gp2", "kubernetes.io/aws-ebs");

/// Values the API server fills in when they are left out, as (kind, pointer, value):
/// k8s.io/kubernetes v1.34 `pkg/apis/storage/v1/defaults.go` `SetDefaults_StorageClass`
/// and `pkg/apis/networking/v1/defaults.go` `SetDefaults_IngressClass`.
const API_DEFAULTS: &[(&str, &str, &str)] = &[
    ("StorageClass", "/reclaimPolicy", "Delete"),
    ("StorageClass", "/volumeBindingMode", "Immediate"),
    ("IngressClass", "/spec/parameters/scope", "Cluster"),
];

/// Label and annotation prefixes that Karpenter, EKS, kubectl and the API server put on
/// objects by themselves.
const TOOL_PREFIXES: &[&str] = &[
    "karpenter.sh/",
    "eks.amazonaws.com/",
    "kubectl.kubernetes.io/",
    "kubernetes.io/metadata.name",
];

fn text<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn label<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj.pointer("/metadata/labels")
        .and_then(|l| l.get(key))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The fields keelson's field manager owns by server-side apply (`fieldsV1` of its
/// `Apply` entry), if the server records them.
fn keelson_fields(obj: &Value) -> Option<&Value> {
    obj.pointer("/metadata/managedFields")?
        .as_array()?
        .iter()
        .find(|e| {
            e.get("manager").and_then(Value::as_str) == Some(FIELD_MANAGER)
                && e.get("subresource").is_none()
        })?
        .get("fieldsV1")
}

/// `v` cut down to the fields of `fields` (`fieldsV1` form): a map whose owned set names
/// its keys (`f:x`) keeps those keys; anything else (a leaf, a list, a whole map) is
/// kept whole.
fn owned_part(v: &Value, fields: &Value) -> Value {
    let named = fields
        .as_object()
        .filter(|f| f.keys().any(|k| k.starts_with("f:")));
    match (v, named) {
        (Value::Object(m), Some(f)) => Value::Object(
            m.iter()
                .filter_map(|(k, x)| Some((k.clone(), owned_part(x, f.get(&format!("f:{k}"))?))))
                .collect(),
        ),
        _ => v.clone(),
    }
}

/// Whether `key` is a label or annotation a person writes: not keelson's own, not one a
/// tool or the API server adds.
fn own_key(key: &str) -> bool {
    key != MANAGED_LABEL
        && key != BOOTSTRAP_LABEL
        && !TOOL_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// The object as a person would write it: `apiVersion`, `kind`, `metadata` with name,
/// namespace and own labels and annotations, and the content. With keelson's
/// `managedFields` that is exactly what keelson applied; otherwise the content without
/// `status` and without the values the API server defaults.
pub(crate) fn as_written(obj: &Value) -> Value {
    let owned = keelson_fields(obj);
    let kind = text(obj, "/kind");
    let mut out = Map::new();
    for k in ["apiVersion", "kind"] {
        if let Some(v) = obj.get(k) {
            out.insert(k.to_string(), v.clone());
        }
    }
    let mut meta = Map::new();
    meta.insert("name".into(), Value::from(text(obj, "/metadata/name")));
    if let Some(ns) = obj.pointer("/metadata/namespace").filter(|v| v.is_string()) {
        meta.insert("namespace".into(), ns.clone());
    }
    for part in ["labels", "annotations"] {
        let Some(Value::Object(m)) = obj.pointer(&format!("/metadata/{part}")) else {
            continue;
        };
        let mine = owned.and_then(|f| f.pointer(&format!("/f:metadata/f:{part}")));
        let kept: Map<String, Value> = m
            .iter()
            .filter(|(k, v)| own_key(k) && v.is_string())
            .filter(|(k, _)| {
                owned.is_none() || mine.is_some_and(|f| f.get(format!("f:{k}")).is_some())
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !kept.is_empty() {
            meta.insert(part.into(), Value::Object(kept));
        }
    }
    out.insert("metadata".into(), Value::Object(meta));
    let mut content = Map::new();
    for (k, v) in obj.as_object().into_iter().flatten() {
        if NOT_CONTENT.contains(&k.as_str()) {
            continue;
        }
        match owned.map(|f| f.get(format!("f:{k}"))) {
            Some(None) => {}
            Some(Some(f)) => {
                content.insert(k.clone(), owned_part(v, f));
            }
            None => {
                content.insert(k.clone(), v.clone());
            }
        }
    }
    let mut out = Value::Object(out);
    if let Value::Object(m) = &mut out {
        m.extend(content);
    }
    if owned.is_none() {
        for (k, pointer, default) in API_DEFAULTS {
            if *k == kind && out.pointer(pointer).and_then(Value::as_str) == Some(*default) {
                remove_at(&mut out, pointer);
            }
        }
    }
    out
}

/// Remove the field at `pointer` (`/a/b/c`).
fn remove_at(v: &mut Value, pointer: &str) {
    let Some((parent, key)) = pointer.rsplit_once('/') else {
        return;
    };
    if let Some(Value::Object(m)) = v.pointer_mut(parent) {
        m.remove(key);
    }
}

/// What an object listed live is to an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    /// A bootstrap object keelson applied: a Manifest under `bootstrap/`.
    Bootstrap,
    /// keelson's, or nobody's: a document of its kind.
    Import,
    /// EKS's own, another tool's, a bootstrap object keelson no longer manages, or
    /// keelson's inventory: left out.
    Skip,
}

fn classify(obj: &Value, builtin_pools: &BTreeSet<&str>) -> Found {
    let (kind, name) = (text(obj, "/kind"), text(obj, "/metadata/name"));
    let manager = label(obj, MANAGED_LABEL);
    let ours = manager == FIELD_MANAGER;
    if name.is_empty()
        || obj
            .pointer(&format!(
                "/metadata/labels/{}",
                crate::plan::INVENTORY_LABEL.replace('/', "~1")
            ))
            .is_some()
    {
        return Found::Skip;
    }
    if label(obj, BOOTSTRAP_LABEL) == "true" {
        return if ours { Found::Bootstrap } else { Found::Skip };
    }
    // EKS's built-in pools, their `default` class and its gp2 StorageClass are EKS's.
    let eks_own = (kind == "NodePool" && builtin_pools.contains(name))
        || (kind == "NodeClass" && name == "default" && !builtin_pools.is_empty())
        || (kind == "StorageClass" && name == EKS_GP2.0 && text(obj, "/provisioner") == EKS_GP2.1);
    let foreign = !manager.is_empty() && !ours;
    if !ours && (eks_own || foreign) {
        Found::Skip
    } else {
        Found::Import
    }
}

/// The document of an object of one of keelson's kinds, as written.
fn kind_doc(kind: Kind, written: Value) -> Result<Doc, serde_json::Error> {
    let meta: Metadata = serde_json::from_value(written["metadata"].clone())?;
    let spec = written.get("spec").cloned().unwrap_or(Value::Null);
    Ok(match kind {
        Kind::NodePool => {
            Doc::with_meta(kind, meta, &serde_json::from_value::<NodePoolSpec>(spec)?)
        }
        Kind::NodeClass => {
            Doc::with_meta(kind, meta, &serde_json::from_value::<NodeClassSpec>(spec)?)
        }
        Kind::IngressClass => Doc::with_meta(
            kind,
            meta,
            &serde_json::from_value::<IngressClassSpec>(spec)?,
        ),
        Kind::IngressClassParams => Doc::with_meta(
            kind,
            meta,
            &serde_json::from_value::<IngressClassParamsSpec>(spec)?,
        ),
        // A StorageClass has no spec: its fields are the document's own.
        _ => {
            let mut sc: StorageClassDoc = serde_json::from_value(written)?;
            sc.api_version = kind.api_version().to_string();
            Doc {
                kind,
                value: serde_json::to_value(&sc)?,
                comments: Vec::new(),
                field_comments: Vec::new(),
            }
        }
    })
}

/// The documents of the Kubernetes objects listed in a cluster: keelson's kinds in the
/// order they are applied, then the bootstrap objects by name.
pub(crate) fn kube_objects(o: &ObservedCluster, kube: &[Value], out: &mut ImportedCluster) {
    let builtin_pools: BTreeSet<&str> = o
        .cluster
        .auto_mode
        .as_ref()
        .map(|a| a.compute.node_pools.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let order = [
        Kind::NodeClass,
        Kind::NodePool,
        Kind::IngressClassParams,
        Kind::IngressClass,
        Kind::StorageClass,
    ];
    let mut docs: Vec<Doc> = Vec::new();
    let mut manifests: Vec<(String, Doc)> = Vec::new();
    for obj in kube {
        let (kind, name) = (text(obj, "/kind"), text(obj, "/metadata/name"));
        match classify(obj, &builtin_pools) {
            Found::Skip => {}
            Found::Bootstrap => manifests.push((
                crate::plan::step_name(obj),
                Doc {
                    kind: Kind::Manifest,
                    value: as_written(obj),
                    comments: Vec::new(),
                    field_comments: Vec::new(),
                },
            )),
            Found::Import => {
                let Some(k) = order.iter().copied().find(|k| k.name() == kind) else {
                    continue;
                };
                match kind_doc(k, as_written(obj)) {
                    Ok(d) => docs.push(d),
                    Err(e) => out.notes.push(format!(
                        "cluster {}: left out {kind} {name}: it has a field keelson does not know ({e}); write it by hand",
                        o.cluster.name
                    )),
                }
            }
        }
    }
    docs.sort_by_key(|d| {
        (
            order.iter().position(|k| *k == d.kind),
            d.name().to_string(),
        )
    });
    manifests.sort_by(|a, b| a.0.cmp(&b.0));
    out.docs.extend(docs);
    out.docs.extend(manifests.into_iter().map(|(_, d)| d));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_keelson_applied_is_read_from_its_managed_fields() {
        let live = json!({
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "fast", "uid": "u", "resourceVersion": "7",
                "creationTimestamp": "2026-01-01T00:00:00Z",
                "labels": {MANAGED_LABEL: "keelson", "team": "a", "other": "x"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
                "managedFields": [{"manager": "keelson", "operation": "Apply",
                    "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}, f_key(MANAGED_LABEL): {}}},
                                 "f:provisioner": {}, "f:reclaimPolicy": {},
                                 "f:parameters": {".": {}, "f:type": {}}}}]},
            "provisioner": "ebs.csi.eks.amazonaws.com",
            "parameters": {"type": "gp3", "added": "by-someone"},
            "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"
        });
        // keelson sent reclaimPolicy: kept though it is the default; the server's
        // volumeBindingMode and another manager's parameter and label are not.
        assert_eq!(
            as_written(&live),
            json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                   "metadata": {"name": "fast", "labels": {"team": "a"}},
                   "provisioner": "ebs.csi.eks.amazonaws.com",
                   "parameters": {"type": "gp3"}, "reclaimPolicy": "Delete"})
        );
        // Without managed fields: everything but the server's fields and API defaults.
        let mut plain = live.clone();
        plain["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("managedFields");
        let w = as_written(&plain);
        assert!(w.get("reclaimPolicy").is_none() && w.get("volumeBindingMode").is_none());
        assert_eq!(w["metadata"]["labels"], json!({"team": "a", "other": "x"}));
        assert!(w["metadata"].get("annotations").is_none(), "{w}");
    }

    fn f_key(k: &str) -> String {
        format!("f:{k}")
    }

    #[test]
    fn classes_follow_the_nodepool_logic_and_bootstrap_objects_need_both_labels() {
        let obj = |kind: &str, name: &str, labels: Value| {
            json!({"apiVersion": "storage.k8s.io/v1", "kind": kind,
                   "metadata": {"name": name, "labels": labels},
                   "provisioner": "ebs.csi.eks.amazonaws.com"})
        };
        let none = BTreeSet::new();
        let cases = [
            (obj("StorageClass", "mine", json!({})), Found::Import),
            (
                obj("StorageClass", "ours", json!({MANAGED_LABEL: "keelson"})),
                Found::Import,
            ),
            (
                obj("IngressClass", "alb", json!({MANAGED_LABEL: "Helm"})),
                Found::Skip,
            ),
            (
                json!({"kind": "StorageClass", "metadata": {"name": "gp2"}, "provisioner": "kubernetes.io/aws-ebs"}),
                Found::Skip,
            ),
            (
                obj(
                    "Namespace",
                    "web",
                    json!({MANAGED_LABEL: "keelson", BOOTSTRAP_LABEL: "true"}),
                ),
                Found::Bootstrap,
            ),
            (
                obj("Namespace", "web", json!({BOOTSTRAP_LABEL: "true"})),
                Found::Skip,
            ),
            (
                obj(
                    "ConfigMap",
                    "keelson-bootstrap",
                    json!({MANAGED_LABEL: "keelson", "keelson.dev/inventory": "bootstrap"}),
                ),
                Found::Skip,
            ),
        ];
        for (o, want) in cases {
            assert_eq!(classify(&o, &none), want, "{o}");
        }
    }
}
