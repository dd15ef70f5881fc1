//! EKS add-ons: create at the resolved version, move forward (never back), change
//! configuration and roles in place, and prune.
//!
//! ```text
//!  git Addon + catalog ─► resolve version ─┬─ absent ──────────────► CreateAddon
//!                                          ├─ busy ────────────────► wait
//!                                          └─ version/config/roles ► UpdateAddon (+ tags)
//!  live only, with the marker ─────────────────────────────────────► DeleteAddon
//! ```

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::diff::{changes_of, tags_view, with_marker};
use super::resolve_addon_version;
use super::types::*;
use super::{cluster, fields, token, Ctx, Orphan};
use crate::config::ClusterConfig;
use crate::model::live::*;
use crate::model::*;
use crate::ports::*;
use crate::versions::version_key;

/// An add-on as the planner compares it: version, configuration values as JSON, its
/// IRSA role and its Pod Identity associations (sorted).
fn view(
    version: &str,
    cfg: &Option<Value>,
    irsa: &Option<String>,
    pia: &[AddonPodIdentity],
) -> Value {
    let mut pia = pia.to_vec();
    pia.sort_by(|a, b| a.service_account.cmp(&b.service_account));
    json!({"version": version, "configurationValues": config_json(cfg), "serviceAccountRoleArn": irsa, "podIdentityAssociations": pia})
}

/// What the planner reads from a live add-on (for the fingerprint of a saved plan).
pub(super) fn live_view(l: &LiveAddon) -> Value {
    json!({
        "arn": l.arn,
        "status": cluster::status_view(l.status),
        "addon": view(&l.version, &l.configuration_values, &l.service_account_role_arn, &l.pod_identity_associations),
        "tags": tags_view(&l.tags),
    })
}

/// Plan the add-ons of one cluster, whose control plane will be at `cv`.
pub(super) fn plan_addons(cx: &mut Ctx<'_>, c: &ClusterConfig, cv: &str) {
    let name = cx.name.to_string();
    let empty_addons = BTreeMap::new();
    let live = cx.live.map_or(&empty_addons, |o| &o.addons);
    let catalog = cx.catalog;
    // Versions the hops above already move add-ons to.
    let hopped = cx.hopped(Kind::Addon, |op| match op {
        Op::UpdateAddon(r) => Some((r.name.clone(), r.version.clone())),
        _ => None,
    });
    for a in &c.addons {
        let an = &a.value.metadata.name;
        let spec = &a.value.spec;
        let versions = catalog.get(an).map(Vec::as_slice).unwrap_or(&[]);
        if versions.is_empty() {
            cx.block(
                Kind::Addon,
                an,
                format!("EKS has no add-on named `{an}` (DescribeAddonVersions returned nothing)"),
            );
            continue;
        }
        let target = resolve_addon_version(versions, &spec.version, cv);
        let target = match target {
            Ok(t) => t,
            Err(e) => {
                cx.block(
                    Kind::Addon,
                    an,
                    format!("`spec.version` {}: {e}", spec.version),
                );
                continue;
            }
        };
        match live.get(an) {
            None => {
                let req = addon_request(&name, &a.value, &target, cx.fleet);
                cx.steps.push(
                    Step::create(Kind::Addon, an, vec![Op::CreateAddon(req)])
                        .because(format!("version {target}")),
                );
            }
            Some(l) if l.status.is_busy() => {
                cx.waits.push(format!("add-on {an} is {:?}", l.status))
            }
            Some(l) => {
                if let Some(m) = fields::addon_namespace_blocker(spec, l) {
                    cx.block(Kind::Addon, an, m);
                    continue;
                }
                let current = hopped.get(an).cloned().unwrap_or_else(|| l.version.clone());
                let keyword = matches!(spec.version.as_str(), "latest" | "default");
                let newer = version_key(&target) > version_key(&current);
                let older = version_key(&target) < version_key(&current);
                if older && !keyword {
                    cx.block(Kind::Addon, an, format!("`spec.version` {target} is older than the installed {current}; EKS does not downgrade add-ons"));
                    continue;
                }
                let version = if newer {
                    target.clone()
                } else {
                    current.clone()
                };
                let mut changes = changes_of(
                    &view(
                        &current,
                        &l.configuration_values,
                        &l.service_account_role_arn,
                        &l.pod_identity_associations,
                    ),
                    &view(
                        &version,
                        &spec.configuration_values,
                        &spec.service_account_role_arn,
                        &spec.pod_identity_associations,
                    ),
                );
                let mut ops = Vec::new();
                if !changes.is_empty() {
                    ops.push(Op::UpdateAddon(addon_request(
                        &name, &a.value, &version, cx.fleet,
                    )));
                }
                ops.extend(cx.tag_ops(
                    (Kind::Addon, an),
                    &l.arn,
                    &l.tags,
                    &spec.tags,
                    &mut changes,
                ));
                cx.update(Kind::Addon, an, changes, ops);
            }
        }
    }
    let desired = c.addons.iter().map(|a| a.value.metadata.name.as_str());
    cx.prune(live, desired, |an, l| {
        let op = Op::DeleteAddon {
            name: an.to_string(),
        };
        let lost = format!("the {an} add-on and its workloads are removed");
        Orphan::new(Kind::Addon, an, Some(&l.tags), op, lost)
            .unless_deleting(l.status)
            .or_note(format!(
                "add-on {an} is installed but not in git and not created by keelson; left alone"
            ))
    });
}

/// Configuration values as JSON: a string holding JSON is parsed, so that `'{"a":1}'`
/// and `{a: 1}` compare equal.
fn config_json(v: &Option<Value>) -> Value {
    match v {
        Some(Value::String(s)) => {
            serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))
        }
        Some(v) => v.clone(),
        None => Value::Null,
    }
}

/// The CreateAddon/UpdateAddon request for an add-on document at `version`.
pub(super) fn addon_request(
    cluster: &str,
    a: &AddonDoc,
    version: &str,
    fleet: &str,
) -> AddonRequest {
    let spec = &a.spec;
    let mut req = AddonRequest {
        cluster: cluster.to_string(),
        name: a.metadata.name.clone(),
        version: version.to_string(),
        configuration_values: spec
            .configuration_values
            .as_ref()
            .map(|v| config_json(&Some(v.clone()))),
        service_account_role_arn: spec.service_account_role_arn.clone(),
        pod_identity_associations: spec.pod_identity_associations.clone(),
        resolve_conflicts: spec.resolve_conflicts,
        namespace_config: spec.namespace_config.clone(),
        tags: with_marker(&spec.tags, fleet),
        client_request_token: String::new(),
    };
    req.client_request_token = token(cluster, "addon", &req.name, &req);
    req
}
