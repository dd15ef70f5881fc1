//! Live objects: what they remember about the API version a client wrote them with.
//!
//! ```text
//!  object (serde_json, from a list/get call)
//!    ├─ metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]
//!    │     └─ JSON ─► apiVersion + kind          (client-side apply only; can be stale)
//!    └─ metadata.managedFields[] ─► manager, operation, apiVersion, time
//!                                                (every writer; old entries linger)
//! ```
//!
//! The API server converts between versions, so an object read back says nothing about
//! the version it was written with; these two records are the exceptions. Both have blind
//! spots, which is why a finding names its signal: the annotation is missing for
//! server-side apply, Helm and controllers, and stays behind when someone fixes the
//! manifest and applies it server-side; a manager's entry keeps the version it last used
//! even after that manager stopped writing.

use serde_json::Value;

use super::table::ApiTable;
use crate::model::live::{ApiUse, HelmChart};

/// The annotation `kubectl apply` (client-side) keeps.
pub(crate) const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The apiVersion a client wrote an object with, as recorded on the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Written {
    /// The apiVersion written with.
    pub api_version: String,
    /// The field manager (`managedFields`), or `None` for the annotation.
    pub manager: Option<String>,
    /// `Apply` or `Update` (`managedFields`).
    pub operation: Option<String>,
    /// When the manager last wrote (`managedFields`).
    pub time: Option<String>,
}

/// Why the last-applied annotation could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LiveError {
    /// The annotation is not JSON.
    #[error("the {LAST_APPLIED} annotation is not valid JSON: {0}")]
    NotJson(String),
    /// The annotation has no apiVersion.
    #[error("the {LAST_APPLIED} annotation has no apiVersion")]
    NoApiVersion,
}

/// The apiVersion in the last-applied annotation, when the object has one that describes
/// it. An annotation whose kind is not the object's (a ControllerRevision carries its
/// DaemonSet's) is not about this object and gives `Ok(None)`.
///
/// # Errors
/// When the annotation is present but not JSON or has no apiVersion.
pub(crate) fn last_applied(object: &Value) -> Result<Option<Written>, LiveError> {
    let Some(text) = object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED))
        .and_then(Value::as_str)
    else {
        return Ok(None);
    };
    let applied: Value =
        serde_json::from_str(text).map_err(|e| LiveError::NotJson(e.to_string()))?;
    let kind = object.get("kind").and_then(Value::as_str);
    let applied_kind = applied.get("kind").and_then(Value::as_str);
    if kind.is_some() && applied_kind.is_some() && kind != applied_kind {
        return Ok(None);
    }
    let api_version = applied
        .get("apiVersion")
        .and_then(Value::as_str)
        .ok_or(LiveError::NoApiVersion)?;
    Ok(Some(Written {
        api_version: api_version.to_string(),
        manager: None,
        operation: None,
        time: None,
    }))
}

/// The apiVersion of every `metadata.managedFields` entry, one per manager and version.
pub(crate) fn managed_fields(object: &Value) -> Vec<Written> {
    let Some(entries) = object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    let mut out: Vec<Written> = Vec::new();
    for e in entries {
        let Some(api_version) = e.get("apiVersion").and_then(Value::as_str) else {
            continue;
        };
        let text = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
        let w = Written {
            api_version: api_version.to_string(),
            manager: text("manager"),
            operation: text("operation"),
            time: text("time"),
        };
        if !out
            .iter()
            .any(|o| o.api_version == w.api_version && o.manager == w.manager)
        {
            out.push(w);
        }
    }
    out
}

/// The API versions of a Helm release record's installed manifest and hooks (Secret or
/// ConfigMap, as Helm 3 stores them). Superseded and uninstalled revisions are history
/// and give nothing.
///
/// # Errors
/// `namespace/name: why` when the record cannot be decoded.
pub(crate) fn helm_record_uses(object: &Value) -> Result<Vec<ApiUse>, String> {
    helm_record(object).map(|(uses, _)| uses)
}

/// The API uses of a Helm release record, as [`helm_record_uses`], and its chart when the
/// release is deployed and the chart declares `kubeVersion`.
///
/// # Errors
/// `namespace/name: why` when the record cannot be decoded.
pub(crate) fn helm_record(object: &Value) -> Result<(Vec<ApiUse>, Option<HelmChart>), String> {
    let text = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or("?");
    let release = super::helm::decode_record(object).map_err(|e| {
        format!(
            "{}/{}: {e}",
            text("/metadata/namespace"),
            text("/metadata/name")
        )
    })?;
    if !matches!(
        release.status.as_str(),
        "deployed" | "pending-install" | "pending-upgrade" | "pending-rollback" | "failed"
    ) {
        return Ok((Vec::new(), None));
    }
    let chart =
        (release.status == "deployed" && !release.kube_version.trim().is_empty()).then(|| {
            HelmChart {
                release: release.name.clone(),
                namespace: release.namespace.clone(),
                revision: release.revision,
                chart: release.chart.clone(),
                kube_version: release.kube_version.clone(),
            }
        });
    let source = format!(
        "helm release {} (revision {}, chart {}) in namespace {}",
        release.name, release.revision, release.chart, release.namespace
    );
    let mut uses = Vec::new();
    let mut add = |signal: &str, manifest: &str| {
        for obj in &super::scan::scan(manifest.as_bytes()).objects {
            uses.push(ApiUse {
                signal: signal.to_string(),
                api_version: obj.api_version.to_string(),
                kind: obj.kind.to_string(),
                namespace: obj.namespace.as_deref().map(str::to_string),
                name: obj.name.as_deref().map(str::to_string),
                source: source.clone(),
            });
        }
    };
    add("helm-manifest", &release.manifest);
    for h in &release.hooks {
        add("helm-hook", &h.manifest);
    }
    Ok((uses, chart))
}

/// The API versions a live object was written with (last-applied annotation,
/// managedFields) that the table knows, deprecated or not.
pub(crate) fn written_uses(table: &ApiTable, object: &Value) -> Vec<ApiUse> {
    let text = |p: &str| {
        object
            .pointer(p)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let Some(kind) = text("/kind") else {
        return Vec::new();
    };
    let mut written: Vec<(&str, String)> = Vec::new();
    if let Ok(Some(w)) = last_applied(object) {
        written.push(("last-applied", w.api_version));
    }
    for w in managed_fields(object) {
        written.push(("managed-fields", w.api_version));
    }
    written
        .into_iter()
        .filter(|(_, v)| table.lookup(v, &kind).is_some())
        .map(|(signal, api_version)| ApiUse {
            signal: signal.to_string(),
            api_version,
            kind: kind.clone(),
            namespace: text("/metadata/namespace"),
            name: text("/metadata/name"),
            source: "live object".to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn last_applied_reads_the_annotation_of_the_same_kind_only() {
        let ing = json!({"kind": "Ingress", "metadata": {"annotations": {
            LAST_APPLIED: "{\"apiVersion\":\"extensions/v1beta1\",\"kind\":\"Ingress\"}"}}});
        assert_eq!(
            last_applied(&ing).unwrap().unwrap().api_version,
            "extensions/v1beta1"
        );
        let rev = json!({"kind": "ControllerRevision", "metadata": {"annotations": {
            LAST_APPLIED: "{\"apiVersion\":\"extensions/v1beta1\",\"kind\":\"DaemonSet\"}"}}});
        assert_eq!(last_applied(&rev).unwrap(), None);
        let bad = json!({"kind": "Ingress", "metadata": {"annotations": {LAST_APPLIED: "{"}}});
        assert!(matches!(last_applied(&bad), Err(LiveError::NotJson(_))));
        assert_eq!(last_applied(&json!({"kind": "Pod"})).unwrap(), None);
    }

    #[test]
    fn managed_fields_lists_each_manager_and_version_once() {
        let obj = json!({"kind": "Ingress", "metadata": {"managedFields": [
            {"manager": "kubectl", "operation": "Apply", "apiVersion": "networking.k8s.io/v1"},
            {"manager": "Go-http-client", "operation": "Update", "apiVersion": "networking.k8s.io/v1beta1", "time": "2021-03-01T00:00:00Z"},
            {"manager": "Go-http-client", "operation": "Update", "apiVersion": "networking.k8s.io/v1beta1"},
            {"manager": "x"}
        ]}});
        let w = managed_fields(&obj);
        assert_eq!(w.len(), 2);
        assert_eq!(w[1].manager.as_deref(), Some("Go-http-client"));
        assert_eq!(w[1].time.as_deref(), Some("2021-03-01T00:00:00Z"));
    }
}
