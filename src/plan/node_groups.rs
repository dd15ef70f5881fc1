//! Managed node groups: create, replace (fields EKS cannot change), configuration in
//! place, version and release moves, and prune.
//!
//! ```text
//!  git NodeGroup ─┬─ absent ───────────────────────► CreateNodegroup
//!                 ├─ immutable fields differ ───────► DeleteNodegroup + CreateNodegroup
//!                 ├─ scaling bounds, labels, taints,
//!                 │  update config, repair, warm pool ► UpdateNodegroupConfig (+ tags)
//!                 └─ version, release, LT version ──► UpdateNodegroupVersion
//!  live only, with the marker ──────────────────────► DeleteNodegroup
//! ```
//!
//! The desired size belongs to the autoscaler once a group exists: it is never compared,
//! and only moved when new bounds leave it outside them.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::diff::{changes_of, sorted, tags_view, version_change, with_marker};
use super::types::*;
use super::{bake, cluster, fields, token, Ctx, Orphan};
use crate::config::ClusterConfig;
use crate::model::live::*;
use crate::model::*;
use crate::ports::*;
use crate::versions::Minor;

/// The fields a node group cannot change in place, with git's unset optional fields
/// taken from the live group `ls` (EKS fills them in).
fn immutable_view(s: &NodeGroupSpec, ls: &NodeGroupSpec) -> Value {
    let lt_ref =
        |t: &Option<LaunchTemplate>| t.as_ref().map(|t| json!({"id": t.id, "name": t.name}));
    let instance_types = if s.instance_types.is_empty() {
        &ls.instance_types
    } else {
        &s.instance_types
    };
    json!({
        "nodeRoleArn": s.node_role_arn,
        "subnetIds": sorted(&s.subnet_ids),
        "instanceTypes": sorted(instance_types),
        "amiType": s.ami_type.or(ls.ami_type),
        "capacityType": s.capacity_type.or(ls.capacity_type),
        "diskSize": s.disk_size.or(ls.disk_size),
        "launchTemplate": lt_ref(&s.launch_template),
        "remoteAccess": fields::remote_access_view(s, ls),
    })
}

/// The configuration changed in place: the scaling bounds (not the desired size, which
/// the autoscaler owns), labels, taints and the update config (unset in git: as it is).
fn config_view(s: &NodeGroupSpec, ls: &NodeGroupSpec) -> Value {
    json!({
        "scaling": {"minSize": s.scaling.min_size, "maxSize": s.scaling.max_size},
        "labels": s.labels,
        "taints": s.taints,
        "updateConfig": fields::update_config_view(&s.update_config, &ls.update_config),
        "nodeRepairConfig": fields::repair_view(&s.node_repair_config, &ls.node_repair_config),
        "warmPoolConfig": fields::warm_pool_view(&s.warm_pool_config, &ls.warm_pool_config),
    })
}

/// What the planner reads from a live node group, normalised as it compares it (for the
/// fingerprint of a saved plan): no status beyond busy/deleting, and no desired size. The
/// desired size is the autoscaler's; the planner only clamps it into new bounds, and a
/// saved plan's clamped value is inside those bounds whatever the autoscaler did since.
pub(super) fn live_view(l: &LiveNodeGroup) -> Value {
    let ls = &l.spec;
    json!({
        "arn": l.arn,
        "status": cluster::status_view(l.status),
        "immutable": immutable_view(ls, ls),
        "config": config_view(ls, ls),
        "version": ls.version,
        "releaseVersion": ls.release_version,
        "launchTemplateVersion": ls.launch_template.as_ref().and_then(|t| t.version.clone()),
        "tags": tags_view(&ls.tags),
    })
}

/// Plan the node groups of one cluster, whose control plane will be at `cv`.
pub(super) fn plan_node_groups(cx: &mut Ctx<'_>, c: &ClusterConfig, cv: &str) {
    let name = cx.name.to_string();
    let empty = BTreeMap::new();
    let live = cx.live.map_or(&empty, |o| &o.node_groups);
    let hopped = cx.hopped(Kind::NodeGroup, |op| match op {
        Op::UpdateNodegroupVersion(r) => Some((r.name.clone(), r.version.clone())),
        _ => None,
    });
    for ng in &c.node_groups {
        let n = &ng.value.metadata.name;
        let spec = &ng.value.spec;
        let want_version = spec.version.clone().unwrap_or_else(|| cv.to_string());
        let create = |fleet: &str| {
            let mut s = spec.clone();
            s.version = Some(want_version.clone());
            s.tags = with_marker(&spec.tags, fleet);
            let mut req = CreateNodeGroup {
                cluster: name.clone(),
                name: n.clone(),
                spec: s,
                client_request_token: String::new(),
            };
            req.client_request_token = token(&name, "nodegroup", n, &req);
            Op::CreateNodegroup(req)
        };
        // Created by this plan: absent, or replaced because a field EKS cannot change
        // differs.
        let is_new = live.get(n).is_none_or(|l| {
            !l.status.is_busy()
                && !changes_of(
                    &immutable_view(&l.spec, &l.spec),
                    &immutable_view(spec, &l.spec),
                )
                .is_empty()
        });
        if is_new && want_version != cv {
            new_group_off_version(cx, c, n, &want_version, cv);
            continue;
        }
        let Some(l) = live.get(n) else {
            cx.steps.push(
                Step::create(Kind::NodeGroup, n, vec![create(cx.fleet)])
                    .because(format!("Kubernetes {want_version}")),
            );
            continue;
        };
        if l.status.is_busy() {
            cx.waits.push(format!("node group {n} is {:?}", l.status));
            continue;
        }
        let ls = &l.spec;
        let replace_changes = changes_of(&immutable_view(ls, ls), &immutable_view(spec, ls));
        if !replace_changes.is_empty() {
            cx.steps.push(
                Step::replace(
                    Kind::NodeGroup,
                    n,
                    replace_changes,
                    vec![Op::DeleteNodegroup { name: n.clone() }, create(cx.fleet)],
                )
                .risk(RiskKind::Destructive, "the node group is deleted before it is created again: its capacity is gone in between")
                .risk(RiskKind::NodesRotated, "every node is replaced; pods are evicted")
                .because("these fields cannot change on an existing node group"),
            );
            continue;
        }
        // Configuration in place. The desired size belongs to the autoscaler once the
        // group exists: only move it when it falls outside new bounds.
        let live_desired = ls.scaling.desired_size;
        let mut changes = changes_of(&config_view(ls, ls), &config_view(spec, ls));
        let mut ops = Vec::new();
        if !changes.is_empty() {
            let out_of_bounds = live_desired
                .map(|d| d < spec.scaling.min_size || d > spec.scaling.max_size)
                .unwrap_or(false);
            let scaling = Scaling {
                min_size: spec.scaling.min_size,
                max_size: spec.scaling.max_size,
                desired_size: if out_of_bounds {
                    live_desired.map(|d| d.clamp(spec.scaling.min_size, spec.scaling.max_size))
                } else {
                    None
                },
            };
            let mut req = NodeGroupConfigUpdate {
                cluster: name.clone(),
                name: n.clone(),
                scaling: Some(scaling),
                labels: Some(spec.labels.clone()),
                taints: Some(spec.taints.clone()),
                update_config: spec.update_config,
                node_repair_config: spec.node_repair_config.clone(),
                warm_pool_config: spec.warm_pool_config.clone(),
                client_request_token: String::new(),
            };
            req.client_request_token = token(&name, "nodegroup-config", n, &req);
            ops.push(Op::UpdateNodegroupConfig(req));
        }
        ops.extend(cx.tag_ops(
            (Kind::NodeGroup, n),
            &l.arn,
            &ls.tags,
            &spec.tags,
            &mut changes,
        ));
        cx.update(Kind::NodeGroup, n, changes, ops);
        let have_version = hopped
            .get(n)
            .cloned()
            .unwrap_or_else(|| ls.version.clone().unwrap_or_default());
        let lt_version_changed = spec
            .launch_template
            .as_ref()
            .and_then(|t| t.version.clone())
            .is_some_and(|v| {
                ls.launch_template.as_ref().and_then(|t| t.version.clone()) != Some(v)
            });
        let release_changed =
            spec.release_version.is_some() && spec.release_version != ls.release_version;
        if have_version != want_version || lt_version_changed || release_changed {
            match (have_version.parse::<Minor>(), want_version.parse::<Minor>()) {
                (Ok(h), Ok(w)) if w < h => cx.block(
                    Kind::NodeGroup,
                    n,
                    format!(
                        "`version` {w} is lower than the running {h}; node groups do not downgrade"
                    ),
                ),
                _ => {
                    let baked = match spec.version {
                        Some(_) => bake::Verdict::Follow,
                        None => bake::node_group(cx, c, n, &have_version, &want_version),
                    };
                    let mut step =
                        node_version_step(&name, n, &have_version, &want_version, spec, cx.fleet);
                    match baked {
                        bake::Verdict::Stay => continue,
                        bake::Verdict::Move(why) => step = step.because(why),
                        bake::Verdict::Follow => {}
                    }
                    if have_version == want_version {
                        step.changes = changes_of(
                            &json!({"releaseVersion": ls.release_version, "launchTemplate.version": ls.launch_template.as_ref().and_then(|t| t.version.clone())}),
                            &json!({"releaseVersion": spec.release_version.clone().or(ls.release_version.clone()), "launchTemplate.version": spec.launch_template.as_ref().and_then(|t| t.version.clone()).or(ls.launch_template.as_ref().and_then(|t| t.version.clone()))}),
                        );
                    }
                    cx.steps.push(step);
                }
            }
        }
    }
    let desired = c.node_groups.iter().map(|n| n.value.metadata.name.as_str());
    cx.prune(live, desired, |n, l| {
        let op = Op::DeleteNodegroup {
            name: n.to_string(),
        };
        let lost = "the node group's nodes are terminated; their pods are evicted";
        Orphan::new(Kind::NodeGroup, n, Some(&l.spec.tags), op, lost)
            .unless_deleting(l.status)
            .or_note(format!(
                "node group {n} is not in git and not created by keelson; left alone"
            ))
    });
}

/// A node group about to be created (new, or replaced) pinned to `pinned`, another version
/// than the control plane's `cv`. CreateNodegroup takes only the cluster's version ("By
/// default, the Kubernetes version of the cluster is used, and this is the only accepted
/// specified value", EKS API reference, CreateNodegroup `version`), which validation
/// cannot check: whether a group is new is known only here. When git's cluster is at the
/// pinned version and the control plane is on its way there, the group waits for it;
/// otherwise the plan is blocked.
fn new_group_off_version(cx: &mut Ctx<'_>, c: &ClusterConfig, n: &str, pinned: &str, cv: &str) {
    if c.cluster.value.spec.version == pinned {
        cx.waits.push(format!(
            "node group {n} is created once the control plane reaches {pinned} (it is at {cv} after this plan; EKS creates node groups at the cluster's version only)"
        ));
    } else {
        cx.block(
            Kind::NodeGroup,
            n,
            format!(
                "node group {n} is created by this plan and pins `version: \"{pinned}\"`, but EKS creates node groups only at the cluster's version ({cv}); remove `version` or write \"{cv}\" (an existing group may trail its cluster, a new one may not)"
            ),
        );
    }
}

/// The step that moves a node group to minor `to` (with the release and launch template
/// version git asks for).
pub(super) fn node_version_step(
    cluster: &str,
    name: &str,
    from: &str,
    to: &str,
    spec: &NodeGroupSpec,
    fleet: &str,
) -> Step {
    let mut req = NodeGroupVersionUpdate {
        cluster: cluster.to_string(),
        name: name.to_string(),
        version: to.to_string(),
        release_version: spec.release_version.clone(),
        launch_template: spec.launch_template.clone(),
        client_request_token: String::new(),
    };
    req.client_request_token = token(cluster, "nodegroup-version", name, &(&req, fleet));
    Step::update(
        Kind::NodeGroup,
        name,
        vec![version_change(from, to)],
        vec![Op::UpdateNodegroupVersion(req)],
    )
    .risk(
        RiskKind::NodesRotated,
        "every node of the group is replaced, rolling, honouring PodDisruptionBudgets",
    )
}
