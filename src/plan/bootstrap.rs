//! Bootstrap manifests: the objects of a cluster's `bootstrap/` directory, applied by
//! server-side apply in dependency order, labelled with keelson's marker, and pruned when
//! they leave git.
//!
//! ```text
//!  git bootstrap/ ─► served? (discovery, or a CRD in bootstrap/) ─ no ──► cluster blocked
//!                 └► labelled object ─┬─ absent ─────────► KubeApply        CRDs, namespaces,
//!                                     └─ owned fields ───► KubeApply        RBAC, the rest
//!  live (listed by the bootstrap label, kinds from the inventory) not in git ► KubeDelete
//!  inventory ConfigMap kube-system/keelson-bootstrap: the kinds to list next time
//! ```
//!
//! Observe finds bootstrap objects by listing each kind with keelson's bootstrap label.
//! A kind that has left git would not be listed again, so the kinds keelson applied are
//! recorded in an inventory ConfigMap, updated first in a plan, and kept while objects of
//! the kind remain: a removed manifest is always found, and only what carries both
//! labels is ever deleted.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::kube::{changes_against, labelled};
use super::types::*;
use super::{Ctx, Orphan};
use crate::config::ClusterConfig;
use crate::deprecations::table::split_api_version;
use crate::model::live::{ObservedBootstrap, BOOTSTRAP_LABEL, FIELD_MANAGER, MANAGED_LABEL};
use crate::model::*;

/// Group/versions every Kubernetes API server keelson targets serves (the GA groups
/// kube-apiserver enables by default, Kubernetes 1.29 and later): what a cluster that
/// does not exist yet is planned against, and what the simulator serves.
pub(crate) const BASE_GROUP_VERSIONS: &[&str] = &[
    "v1",
    "apps/v1",
    "batch/v1",
    "autoscaling/v1",
    "autoscaling/v2",
    "policy/v1",
    "networking.k8s.io/v1",
    "rbac.authorization.k8s.io/v1",
    "storage.k8s.io/v1",
    "apiextensions.k8s.io/v1",
    "admissionregistration.k8s.io/v1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "scheduling.k8s.io/v1",
    "node.k8s.io/v1",
    "certificates.k8s.io/v1",
    "events.k8s.io/v1",
    // API Priority and Fairness went GA in 1.29 (KEP-1040; the 1.29 release notes:
    // "flowcontrol.apiserver.k8s.io/v1 ... enabled by default").
    "flowcontrol.apiserver.k8s.io/v1",
];

/// The inventory ConfigMap's namespace and name.
pub(crate) const INVENTORY: (&str, &str) = ("kube-system", "keelson-bootstrap");
/// The label that marks the inventory (observe lists ConfigMaps by it).
pub(crate) const INVENTORY_LABEL: &str = "keelson.dev/inventory";

/// The group/versions a CustomResourceDefinition serves (`spec.group` and each
/// `spec.versions[]` with `served: true`).
pub(crate) fn crd_versions(crd: &Value) -> Vec<String> {
    let group = crd
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or_default();
    crd.pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|v| v.get("served").and_then(Value::as_bool) != Some(false))
        .filter_map(|v| v.get("name").and_then(Value::as_str))
        .map(|v| format!("{group}/{v}"))
        .collect()
}

/// The name a bootstrap object has in plans and in the observed state: `Kind/name` or
/// `Kind/namespace/name`, the kind qualified by its group unless the group is the core
/// one or a `*.k8s.io` one (`Certificate.cert-manager.io/web/tls`).
pub(crate) fn step_name(obj: &Value) -> String {
    let s = |p: &str| obj.pointer(p).and_then(Value::as_str).unwrap_or_default();
    let group = split_api_version(s("/apiVersion")).0;
    let kind = if group.is_empty() || group.ends_with("k8s.io") {
        s("/kind").to_string()
    } else {
        format!("{}.{group}", s("/kind"))
    };
    match obj.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(ns) => format!("{kind}/{ns}/{}", s("/metadata/name")),
        None => format!("{kind}/{}", s("/metadata/name")),
    }
}

/// Where a kind goes in the apply order: what others need first (CRDs, then
/// namespaces, then what bindings and workloads refer to). Deletes run in reverse.
fn rank(obj: &Value) -> u8 {
    match obj.get("kind").and_then(Value::as_str).unwrap_or_default() {
        "CustomResourceDefinition" => 0,
        "Namespace" => 1,
        "PriorityClass" | "StorageClass" | "IngressClass" | "RuntimeClass" => 2,
        "ClusterRole" | "Role" | "ServiceAccount" | "ConfigMap" | "Secret" | "ResourceQuota"
        | "LimitRange" => 3,
        "ClusterRoleBinding" | "RoleBinding" => 4,
        _ => 5,
    }
}

/// `apiVersion kind` of an object: a line of the inventory.
fn kind_line(obj: &Value) -> String {
    let s = |p: &str| obj.get(p).and_then(Value::as_str).unwrap_or_default();
    format!("{} {}", s("apiVersion"), s("kind"))
}

/// The inventory ConfigMap listing `kinds`.
pub(crate) fn inventory_object(kinds: &BTreeSet<String>) -> Value {
    let lines: Vec<&str> = kinds.iter().map(String::as_str).collect();
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": INVENTORY.1,
            "namespace": INVENTORY.0,
            "labels": {MANAGED_LABEL: FIELD_MANAGER, INVENTORY_LABEL: "bootstrap"},
        },
        "data": {"kinds": lines.join("\n")},
    })
}

/// The kinds an inventory ConfigMap lists.
pub(crate) fn inventory_kinds(cm: &Value) -> Vec<String> {
    cm.pointer("/data/kinds")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// Plan the bootstrap manifests of one cluster.
pub(super) fn plan_bootstrap(cx: &mut Ctx<'_>, c: &ClusterConfig) {
    let auto = c
        .cluster
        .value
        .spec
        .auto_mode
        .as_ref()
        .is_some_and(|a| a.compute.enabled);
    let empty = ObservedBootstrap::default();
    let observed = cx.live.and_then(|o| o.bootstrap.as_ref());
    if c.bootstrap.is_empty() && observed.is_none_or(|o| o.objects.is_empty()) {
        return;
    }
    let live = observed.unwrap_or(&empty);
    // What the cluster serves: discovery, or for a cluster still to be made, the
    // built-in groups (and Auto Mode's); plus whatever CRDs the bootstrap manifests add.
    let mut served: BTreeSet<String> = match observed {
        Some(o) => o.served.iter().cloned().collect(),
        None => {
            let mut s: BTreeSet<String> =
                BASE_GROUP_VERSIONS.iter().map(|v| v.to_string()).collect();
            if auto {
                s.extend([KARPENTER_API.to_string(), EKS_NODECLASS_API.to_string()]);
            }
            s
        }
    };
    for b in &c.bootstrap {
        if b.value.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition") {
            served.extend(crd_versions(&b.value));
        }
    }
    let mut desired: Vec<(String, Value)> = Vec::new();
    for b in &c.bootstrap {
        let obj = labelled(b.value.clone(), &[(BOOTSTRAP_LABEL, "true")]);
        let name = step_name(&obj);
        let api = obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !served.contains(api) {
            cx.block(
                Kind::Manifest,
                &name,
                format!(
                    "{api} is not served by cluster {} and no CustomResourceDefinition in bootstrap/ defines it ({}:{}); add the CRD to bootstrap/ (it is applied first) or write a served apiVersion",
                    c.name(),
                    b.origin.file,
                    b.origin.line
                ),
            );
            continue;
        }
        desired.push((name, obj));
    }
    desired.sort_by(|a, b| (rank(&a.1), &a.0).cmp(&(rank(&b.1), &b.0)));

    // The inventory first: every kind in git, and every kind with an object still live.
    let kinds: BTreeSet<String> = desired
        .iter()
        .map(|(_, o)| kind_line(o))
        .chain(live.objects.values().map(kind_line))
        .collect();
    let recorded: Option<BTreeSet<String>> =
        live.inventory.as_ref().map(|k| k.iter().cloned().collect());
    if recorded.as_ref() != Some(&kinds) {
        let obj = inventory_object(&kinds);
        let name = step_name(&obj);
        let op = vec![Op::KubeApply { object: obj }];
        let step = match &recorded {
            None => Step::create(Kind::Manifest, &name, op),
            Some(before) => Step::update(
                Kind::Manifest,
                &name,
                vec![Change {
                    path: "data.kinds".into(),
                    before: Some(json!(before)),
                    after: Some(json!(kinds)),
                }],
                op,
            ),
        };
        cx.steps
            .push(step.because("the kinds keelson lists to find its bootstrap objects"));
    }

    for (name, obj) in &desired {
        match live.objects.get(name) {
            None => cx.steps.push(Step::create(
                Kind::Manifest,
                name,
                vec![Op::KubeApply {
                    object: obj.clone(),
                }],
            )),
            Some(l) => {
                let changes = changes_against(l, obj);
                if !changes.is_empty() {
                    cx.steps.push(Step::update(
                        Kind::Manifest,
                        name,
                        changes,
                        vec![Op::KubeApply {
                            object: obj.clone(),
                        }],
                    ));
                }
            }
        }
    }

    // Prune in reverse dependency order: custom resources before their CRDs, what sits in
    // a namespace before the namespace. Observe lists only objects with both labels.
    let mut prune: Vec<(&String, &Value)> = live
        .objects
        .iter()
        .filter(|(_, o)| {
            o.pointer(&format!(
                "/metadata/labels/{}",
                MANAGED_LABEL.replace('/', "~1")
            ))
            .and_then(Value::as_str)
                == Some(FIELD_MANAGER)
        })
        .collect();
    prune.sort_by(|a, b| (rank(b.1), b.0).cmp(&(rank(a.1), a.0)));
    let keep: Vec<&String> = desired.iter().map(|(n, _)| n).collect();
    cx.prune(prune, keep, |name, obj| {
        let s = |p: &str| {
            obj.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let op = Op::KubeDelete {
            api_version: s("/apiVersion"),
            kind: s("/kind"),
            name: s("/metadata/name"),
            namespace: obj
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        let lost = if s("/kind") == "Namespace" {
            "the namespace and everything in it are deleted".to_string()
        } else if s("/kind") == "CustomResourceDefinition" {
            "every object of the resource it defines is deleted".to_string()
        } else {
            format!("the {} is deleted from the cluster", s("/kind"))
        };
        Orphan::new(Kind::Manifest, name, None, op, lost)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_names_qualify_only_third_party_groups() {
        let o = |api: &str, kind: &str, ns: Option<&str>| {
            let mut m = json!({"name": "x"});
            if let Some(ns) = ns {
                m["namespace"] = json!(ns);
            }
            json!({"apiVersion": api, "kind": kind, "metadata": m})
        };
        assert_eq!(step_name(&o("v1", "Namespace", None)), "Namespace/x");
        assert_eq!(
            step_name(&o("rbac.authorization.k8s.io/v1", "RoleBinding", Some("a"))),
            "RoleBinding/a/x"
        );
        assert_eq!(
            step_name(&o("cert-manager.io/v1", "Certificate", Some("a"))),
            "Certificate.cert-manager.io/a/x"
        );
    }

    #[test]
    fn crds_come_first_and_bindings_after_what_they_bind() {
        let k = |kind: &str| json!({"kind": kind});
        let mut kinds = [
            "Deployment",
            "RoleBinding",
            "Namespace",
            "ClusterRole",
            "CustomResourceDefinition",
        ];
        kinds.sort_by_key(|n| rank(&k(n)));
        assert_eq!(
            kinds,
            [
                "CustomResourceDefinition",
                "Namespace",
                "ClusterRole",
                "RoleBinding",
                "Deployment"
            ]
        );
    }

    #[test]
    fn a_crd_serves_only_its_served_versions() {
        let crd = json!({"spec": {"group": "example.com", "versions": [
            {"name": "v1", "served": true}, {"name": "v1alpha1", "served": false}]}});
        assert_eq!(crd_versions(&crd), vec!["example.com/v1".to_string()]);
    }
}
