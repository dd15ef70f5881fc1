//! Bootstrap manifest rules: what keelson needs of a manifest in a cluster's
//! `bootstrap/` directory before it can apply it and find it again to prune it.
//!
//! ```text
//!  bootstrap/*.yaml ──► name? ── List? ── same object twice? ──► bootstrap-manifest
//! ```
//!
//! Whether the cluster serves the manifest's API is a question for the live cluster; the
//! planner answers it (`plan/bootstrap.rs`) before anything is applied.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Ctx;
use crate::config::diag::Rule;
use crate::config::repo::ClusterConfig;
use crate::deprecations::table::split_api_version;

/// The identity of an object on the API server: group, kind, namespace, name. Versions
/// of one group are one object.
pub(crate) fn object_identity(obj: &Value) -> Option<(String, String, String, String)> {
    let s = |p: &str| obj.pointer(p).and_then(Value::as_str);
    let api = s("/apiVersion")?;
    Some((
        split_api_version(api).0.to_string(),
        s("/kind")?.to_string(),
        s("/metadata/namespace").unwrap_or_default().to_string(),
        s("/metadata/name").filter(|n| !n.is_empty())?.to_string(),
    ))
}

/// Every rule of this file, for one cluster.
pub(super) fn check(c: &ClusterConfig, cx: &mut Ctx<'_>) {
    let mut seen: BTreeMap<(String, String, String, String), usize> = BTreeMap::new();
    for b in &c.bootstrap {
        let kind = b
            .value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if kind.ends_with("List") {
            cx.report(
                b.doc,
                "kind",
                Rule::BootstrapManifest,
                format!("a `{kind}` cannot be applied by server-side apply; write its items as separate documents (`---`)"),
            );
            continue;
        }
        let Some(id) = object_identity(&b.value) else {
            cx.report_key(
                b.doc,
                "",
                "metadata",
                Rule::BootstrapManifest,
                format!("this {kind} has no `metadata.name`; keelson applies and prunes bootstrap objects by name (generateName is not supported)"),
            );
            continue;
        };
        if let Some(&first) = seen.get(&id) {
            let o = cx.docs.get(first).map(|d| d.origin.clone());
            let at = o.map(|o| format!(" (first at {}:{})", o.file, o.line));
            cx.report(
                b.doc,
                "metadata.name",
                Rule::BootstrapManifest,
                format!(
                    "{kind} `{}` is defined twice in this cluster's bootstrap manifests{}; keep one",
                    id.3,
                    at.unwrap_or_default()
                ),
            );
        } else {
            seen.insert(id, b.doc);
        }
    }
}
