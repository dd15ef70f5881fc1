//! `KubeApi` on the simulator: each simulated cluster has an object store that behaves
//! like an API server for the kinds keelson applies, with the validation EKS Auto Mode's
//! API server performs on NodeClass and NodePool.

use async_trait::async_trait;
use serde_json::{json, Value};

use std::collections::BTreeSet;

use super::{Sim, SimCluster};
use crate::deprecations::live::{helm_record_uses, written_uses};
use crate::deprecations::table::{split_api_version, ApiTable, Status as ApiStatus, Targets};
use crate::model::live::{ApiUse, Insight, InsightStatus, Status};
use crate::model::{Duration, EKS_NODECLASS_API, KARPENTER_API};
use crate::ports::{ApiError, ApiResult, KubeApi};
use crate::versions::Minor;

use crate::plan::BASE_GROUP_VERSIONS;

/// Group/versions a simulated cluster serves: the stable ones, every beta or GA version
/// the deprecated-API table has not seen removed by the cluster's minor, and Auto Mode's.
fn served(c: &SimCluster) -> BTreeSet<String> {
    let mut v: BTreeSet<String> = BASE_GROUP_VERSIONS.iter().map(|s| s.to_string()).collect();
    if c.live.auto_mode.as_ref().is_some_and(|a| a.compute.enabled) {
        v.insert(KARPENTER_API.into());
        v.insert(EKS_NODECLASS_API.into());
    }
    // A CustomResourceDefinition applied to the cluster serves its versions.
    for crd in c
        .kube
        .values()
        .filter(|o| o["kind"] == "CustomResourceDefinition")
    {
        v.extend(crate::plan::crd_versions(crd));
    }
    if let Ok(minor) = c.live.version.parse::<Minor>() {
        for (api_version, removed_in) in table_versions() {
            if removed_in.is_none_or(|r| r > minor) {
                v.insert(api_version.clone());
            }
        }
    }
    v
}

/// The beta and GA group/versions of the deprecated-API table that kube-apiserver serves
/// by default, with the minor that removes them, worked out once per process (discovery
/// runs on every simulated list and apply). Betas introduced in 1.24 or later are off by
/// default (KEP-3136) and EKS exposes no `--runtime-config` to turn them on, so a
/// simulated cluster does not serve them either.
fn table_versions() -> &'static [(String, Option<Minor>)] {
    static VERSIONS: std::sync::OnceLock<Vec<(String, Option<Minor>)>> = std::sync::OnceLock::new();
    VERSIONS.get_or_init(|| {
        ApiTable::shared()
            .map(|t| {
                t.entries()
                    .iter()
                    .filter(|e| {
                        e.component.is_none()
                            && e.served_by_default
                            && e.version != "*"
                            && !e.version.contains("alpha")
                    })
                    .map(|e| (e.api_version(), e.removed_in))
                    .collect()
            })
            .unwrap_or_default()
    })
}

/// After the control plane moved to a new minor: every Helm release and object that was
/// written with an API that minor no longer serves is recorded as broken, and EKS-style
/// an ERROR insight names them.
pub(super) fn record_removals(c: &mut SimCluster) {
    let Ok(minor) = c.live.version.parse::<Minor>() else {
        return;
    };
    let Some(table) = ApiTable::shared() else {
        return;
    };
    let targets = Targets::kubernetes(minor);
    let mut broken = Vec::new();
    for obj in c.kube.values() {
        let is_helm = obj
            .pointer("/metadata/labels/owner")
            .and_then(Value::as_str)
            == Some("helm");
        let mut uses = if is_helm {
            helm_record_uses(obj).unwrap_or_default()
        } else {
            written_uses(table, obj)
        };
        // An object kept at a version no longer served (seeded state) breaks too.
        if let (Some(api), Some(kind)) = (
            obj.get("apiVersion").and_then(Value::as_str),
            obj.get("kind").and_then(Value::as_str),
        ) {
            if !is_helm && uses.is_empty() {
                uses.push(ApiUse {
                    signal: "stored".into(),
                    api_version: api.to_string(),
                    kind: kind.to_string(),
                    namespace: obj
                        .pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    name: obj
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    source: "live object".into(),
                });
            }
        }
        for u in uses {
            // Only what this minor removed: what broke earlier was reported then.
            let removed = table
                .classify(&u.api_version, &u.kind, &targets)
                .is_some_and(|v| {
                    v.status == ApiStatus::Removed
                        && v.entry.component.is_none()
                        && v.entry.removed_in == Some(minor)
                });
            if removed {
                let object = match (&u.namespace, &u.name) {
                    (Some(ns), Some(n)) => format!("{} {ns}/{n}", u.kind),
                    (None, Some(n)) => format!("{} {n}", u.kind),
                    _ => u.kind.clone(),
                };
                let consequence = if is_helm {
                    "helm upgrade and rollback of the release now fail"
                } else {
                    "re-applying it as written now fails"
                };
                broken.push(format!(
                    "after the upgrade to {minor}: {} ({}): {object} uses {}, no longer served; {consequence}",
                    u.source, u.signal, u.api_version
                ));
            }
        }
    }
    broken.sort();
    broken.dedup();
    if broken.is_empty() {
        return;
    }
    c.insights.push(Insight {
        id: format!("removed-apis-{minor}"),
        name: format!("Objects using APIs removed in {minor}"),
        category: "UPGRADE_READINESS".into(),
        kubernetes_version: Some(minor.to_string()),
        status: InsightStatus::Error,
        reason: format!(
            "{} object(s) or Helm release(s) use APIs Kubernetes {minor} no longer serves",
            broken.len()
        ),
        description: "Checks for API versions removed by the current minor.".into(),
        recommendation: Some("move them to the replacement APIs".into()),
        deprecations: Vec::new(),
    });
    c.broken.extend(broken);
}

/// Where the store keeps an object: `Kind/name`, or `Kind/namespace/name` for one in a
/// namespace.
fn key(kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

fn object_key(obj: &Value) -> ApiResult<(String, String, String, Option<String>)> {
    let s = |p: &str| obj.pointer(p).and_then(Value::as_str).map(str::to_string);
    match (s("/apiVersion"), s("/kind"), s("/metadata/name")) {
        (Some(a), Some(k), Some(n)) => Ok((a, k, n, s("/metadata/namespace"))),
        _ => Err(ApiError::InvalidParameter(
            "object needs apiVersion, kind and metadata.name".into(),
        )),
    }
}

/// The first minor on which EKS Auto Mode gives a new NodePool without a consolidation
/// policy `Balanced` (EKS Auto Mode release notes, 2026-10-01, `auto-change`).
const BALANCED_DEFAULT_FROM: Minor = Minor::v1(37);

/// What the API server fills into a NodePool that omits them: Karpenter v1's CRD defaults
/// (`karpenter.sh_nodepools.yaml` v1.14.1: a missing `disruption` becomes
/// `consolidateAfter: 0s`, a missing `consolidationPolicy` `WhenEmptyOrUnderutilized`),
/// except that Auto Mode from 1.37 on defaults the policy to `Balanced`.
fn default_nodepool(obj: &mut Value, version: &str) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let d = spec
        .entry("disruption")
        .or_insert_with(|| json!({"consolidateAfter": crate::plan::DEFAULT_CONSOLIDATE_AFTER}));
    if let Some(d) = d.as_object_mut() {
        let balanced = version
            .parse::<Minor>()
            .is_ok_and(|v| v >= BALANCED_DEFAULT_FROM);
        d.entry("consolidationPolicy").or_insert_with(|| {
            json!(if balanced {
                "Balanced"
            } else {
                crate::plan::DEFAULT_CONSOLIDATION.as_str()
            })
        });
    }
}

/// What the Auto Mode API server rejects.
fn admit(kind: &str, name: &str, obj: &Value) -> ApiResult<()> {
    let invalid = |msg: String| {
        Err(ApiError::InvalidParameter(format!(
            "{kind}.{} \"{name}\" is invalid: {msg}",
            match kind {
                "NodePool" => "karpenter.sh",
                "StorageClass" => "storage.k8s.io",
                "IngressClass" => "networking.k8s.io",
                _ => "eks.amazonaws.com",
            }
        )))
    };
    match kind {
        "NodeClass" => {
            if let Some(role) = obj.pointer("/spec/role").and_then(Value::as_str) {
                if role.len() > 64 {
                    return invalid(format!(
                        "spec.role: Too long: may not be more than 64 bytes (got {})",
                        role.len()
                    ));
                }
                if role.starts_with("arn:") || role.contains('/') {
                    return invalid(
                        "spec.role: Invalid value: must be an IAM role name, not an ARN".into(),
                    );
                }
            }
        }
        "NodePool" => {
            let spec = obj.pointer("/spec/template/spec");
            let expire = spec
                .and_then(|s| s.get("expireAfter"))
                .and_then(Value::as_str);
            if expire == Some("Never") {
                return invalid(
                    "spec.template.spec.expireAfter: Unsupported value: \"Never\"".into(),
                );
            }
            let tgp = spec
                .and_then(|s| s.get("terminationGracePeriod"))
                .and_then(Value::as_str)
                .and_then(Duration::seconds)
                .unwrap_or(24 * 3600);
            if let Some(e) = expire.and_then(Duration::seconds) {
                if e + tgp > 21 * 24 * 3600 {
                    return invalid("spec.template.spec: the sum of expireAfter and terminationGracePeriod (defaulted to 24h) may not exceed 21 days".into());
                }
            }
        }
        "IngressClassParams" => {
            // The enums of the load balancer controller's CRD that Auto Mode's kept.
            for (field, allowed) in [
                (
                    "scheme",
                    crate::model::LoadBalancerScheme::ALL
                        .iter()
                        .map(|v| v.as_str())
                        .collect::<Vec<_>>(),
                ),
                (
                    "ipAddressType",
                    crate::model::IpAddressType::ALL
                        .iter()
                        .map(|v| v.as_str())
                        .collect(),
                ),
            ] {
                if let Some(v) = obj
                    .pointer(&format!("/spec/{field}"))
                    .and_then(Value::as_str)
                {
                    if !allowed.contains(&v) {
                        return invalid(format!(
                            "spec.{field}: Unsupported value: \"{v}\": supported values: {}",
                            allowed.join(", ")
                        ));
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[async_trait]
impl KubeApi for Sim {
    async fn server_version(&self, cluster: &str) -> ApiResult<String> {
        self.with("kube:version", false, |s| {
            let c = s
                .clusters
                .get(cluster)
                .ok_or_else(|| ApiError::NotFound(cluster.to_string()))?;
            Ok(c.live.version.clone())
        })
    }

    async fn served_versions(&self, cluster: &str) -> ApiResult<Vec<String>> {
        self.with("kube:discovery", false, |s| {
            let c = s
                .clusters
                .get(cluster)
                .ok_or_else(|| ApiError::NotFound(cluster.to_string()))?;
            Ok(served(c).into_iter().collect())
        })
    }

    async fn list(
        &self,
        cluster: &str,
        api_version: &str,
        kind: &str,
        label_selector: Option<&str>,
    ) -> ApiResult<Vec<Value>> {
        self.with("kube:list", false, |s| {
            let c = s
                .clusters
                .get(cluster)
                .ok_or_else(|| ApiError::NotFound(cluster.to_string()))?;
            if !served(c).contains(api_version) {
                return Err(ApiError::NotFound(format!(
                    "the server could not find the requested resource ({kind} in {api_version})"
                )));
            }
            let want = label_selector.and_then(|l| l.split_once('='));
            let group = split_api_version(api_version).0;
            Ok(c.kube
                .values()
                .filter(|o| {
                    o["kind"] == kind
                        && o["apiVersion"]
                            .as_str()
                            .is_some_and(|v| split_api_version(v).0 == group)
                })
                .filter(|o| match want {
                    Some((k, v)) => {
                        o.pointer("/metadata/labels")
                            .and_then(|l| l.get(k))
                            .and_then(Value::as_str)
                            == Some(v)
                    }
                    None => true,
                })
                .map(|o| {
                    // The API server answers in the version asked for.
                    let mut o = o.clone();
                    o["apiVersion"] = Value::String(api_version.to_string());
                    o
                })
                .collect())
        })
    }

    async fn apply(&self, cluster: &str, object: &Value, field_manager: &str) -> ApiResult<Value> {
        self.write("kube:apply", cluster, |s| {
            let c = s.clusters.get_mut(cluster).ok_or_else(|| ApiError::NotFound(cluster.to_string()))?;
            if !matches!(c.live.status, Status::Active | Status::Updating) {
                return Err(ApiError::Unavailable(format!("cluster {cluster} API server is not reachable ({:?})", c.live.status)));
            }
            let (api, kind, name, namespace) = object_key(object)?;
            if !served(c).contains(&api) {
                return Err(ApiError::NotFound(format!(
                    "no matches for kind \"{kind}\" in version \"{api}\" (Kubernetes {} does not serve it)",
                    c.live.version
                )));
            }
            let auto = c.live.auto_mode.as_ref().is_some_and(|a| a.compute.enabled);
            if (api == KARPENTER_API || api == EKS_NODECLASS_API) && !auto {
                return Err(ApiError::NotFound(format!("no matches for kind \"{kind}\" in version \"{api}\" (EKS Auto Mode compute is not enabled)")));
            }
            admit(&kind, &name, object)?;
            let k = key(&kind, namespace.as_deref(), &name);
            if let Some(field) = c.kube.get(&k).and_then(|old| crate::plan::immutable_change(&kind, old, object)) {
                return Err(ApiError::InvalidParameter(format!("{kind} \"{name}\" is invalid: {field}: Forbidden: updates to {field} are forbidden")));
            }
            let generation = c.kube.get(&k).and_then(|o| o.pointer("/metadata/generation")).and_then(Value::as_i64).unwrap_or(0);
            let mut stored = object.clone();
            if kind == "NodePool" {
                default_nodepool(&mut stored, &c.live.version);
            }
            let changed = c.kube.get(&k).map(|old| old.get("spec") != object.get("spec")).unwrap_or(true);
            if let Some(meta) = stored.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.insert("generation".into(), json!(if changed { generation + 1 } else { generation }));
                meta.insert(
                    "managedFields".into(),
                    json!([{"manager": field_manager, "operation": "Apply", "apiVersion": api}]),
                );
            }
            c.kube.insert(k, stored.clone());
            Ok(stored)
        })
    }

    async fn delete_in(
        &self,
        cluster: &str,
        _api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> ApiResult<()> {
        self.write("kube:delete", cluster, |s| {
            let c = s
                .clusters
                .get_mut(cluster)
                .ok_or_else(|| ApiError::NotFound(cluster.to_string()))?;
            c.kube
                .remove(&key(kind, namespace, name))
                .map(|_| ())
                .ok_or_else(|| ApiError::NotFound(format!("{kind} {name}")))
        })
    }
}
