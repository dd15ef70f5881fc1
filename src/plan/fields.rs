//! Planning the settings in `model::kinds::fields` and the Pod Identity session policy:
//! which change in place, which are fixed at creation, and which move one way only.
//!
//! ```text
//!  Cluster    remoteNetworkConfig, zonalShiftConfig, controlPlaneScalingConfig ─► UpdateClusterConfig
//!             vpc.controlPlaneEgressMode ─► UpdateClusterConfig, leaving AWS_MANAGED: one-way (opt-in)
//!                                           back to AWS_MANAGED: blocked
//!             outpostConfig ─► blocked when it differs (create only)
//!             bootstrapSelfManagedAddons ─► CreateCluster only (EKS does not report it)
//!  NodeGroup  updateConfig.updateStrategy, nodeRepairConfig, warmPoolConfig ─► UpdateNodegroupConfig
//!             remoteAccess ─► replacement (create only)
//!  Addon      namespaceConfig ─► blocked when it differs (create only)
//!  PodIdentityAssociation  policy ─► UpdatePodIdentityAssociation
//! ```
//!
//! A setting git leaves out is left as it is, so the values EKS fills in (tier
//! `standard`, egress `AWS_MANAGED`, a warm pool's `minSize: 0`) never show as drift.
//! Sources: the aws-sdk-eks 1.160 request shapes (`CreateClusterInput`,
//! `UpdateClusterConfigInput`, `CreateNodegroupInput`, `UpdateNodegroupConfigInput`,
//! `CreateAddonInput`, `UpdatePodIdentityAssociationInput`): a field missing from the
//! Update* input cannot change in place.

use serde_json::{json, Value};

use super::diff::{changes_of, sorted};
use super::types::*;
use crate::model::live::*;
use crate::model::*;
use crate::ports::*;

/// One UpdateClusterConfig the cluster planner runs, with what it changes.
pub(super) struct ConfigChange {
    /// The update type EKS reports for it.
    pub(super) update_type: UpdateType,
    /// The field-level changes shown in the plan.
    pub(super) changes: Vec<Change>,
    /// The call.
    pub(super) change: ClusterConfigUpdate,
    /// Risk notes.
    pub(super) risks: Vec<Risk>,
    /// Worth knowing, changes nothing.
    pub(super) note: Option<String>,
}

fn egress_of(v: &VpcConfig) -> ControlPlaneEgressMode {
    v.control_plane_egress_mode
        .unwrap_or(ControlPlaneEgressMode::AwsManaged)
}

fn tier_of(c: &Option<ControlPlaneScalingConfig>) -> ControlPlaneTier {
    c.map_or(ControlPlaneTier::Standard, |c| c.tier)
}

/// Remote networks as a set: CIDRs sorted, no empty entries.
fn remote_view(r: &Option<RemoteNetworkConfig>) -> Value {
    let nets = |n: &[RemoteNetwork]| -> Vec<Vec<String>> {
        n.iter()
            .map(|n| sorted(&n.cidrs))
            .filter(|c| !c.is_empty())
            .collect()
    };
    let r = r.clone().unwrap_or_default();
    json!({"remoteNodeNetworks": nets(&r.remote_node_networks), "remotePodNetworks": nets(&r.remote_pod_networks)})
}

fn outpost_view(o: &Option<OutpostConfig>) -> Value {
    json!(o.as_ref().map(|o| json!({
        "outpostArns": sorted(&o.outpost_arns),
        "controlPlaneInstanceType": o.control_plane_instance_type,
        "controlPlanePlacement": o.control_plane_placement.as_ref().map(|p| &p.group_name),
    })))
}

/// What the cluster planner reads of these settings from a live cluster (for the
/// fingerprint of a saved plan).
pub(super) fn cluster_live_view(live: &LiveCluster) -> Value {
    json!({
        "remoteNetworkConfig": remote_view(&live.settings.remote_network_config),
        "zonalShift": live.settings.zonal_shift_config.is_some_and(|z| z.enabled),
        "tier": tier_of(&live.settings.control_plane_scaling_config),
        "egress": egress_of(&live.vpc),
        "outpost": outpost_view(&live.settings.outpost_config),
    })
}

/// Changes EKS refuses on an existing cluster, as blocker messages: a different Outposts
/// configuration (create only, `OutpostConfigRequest`: "can't be changed after cluster
/// creation") and egress back to `AWS_MANAGED` (one-way, `VpcConfigRequest`).
pub(super) fn cluster_blockers(spec: &ClusterSpec, live: &LiveCluster) -> Vec<String> {
    let mut out = Vec::new();
    if spec.outpost_config.is_some()
        && outpost_view(&spec.outpost_config) != outpost_view(&live.settings.outpost_config)
    {
        out.push("`outpostConfig` is set when the cluster is created and cannot change afterwards; create a new cluster under another name instead".to_string());
    }
    let have = egress_of(&live.vpc);
    if spec.vpc.control_plane_egress_mode == Some(ControlPlaneEgressMode::AwsManaged)
        && have != ControlPlaneEgressMode::AwsManaged
    {
        out.push(format!("`vpc.controlPlaneEgressMode` cannot go back to AWS_MANAGED once it left it (it is {have}); set it to {have}"));
    }
    out
}

/// The UpdateClusterConfig calls that bring these settings to git's values. Settings git
/// leaves out are left as they are.
pub(super) fn cluster_changes(spec: &ClusterSpec, live: &LiveCluster) -> Vec<ConfigChange> {
    let mut out = Vec::new();
    if let Some(want) = &spec.remote_network_config {
        let (before, after) = (
            remote_view(&live.settings.remote_network_config),
            remote_view(&Some(want.clone())),
        );
        out.push(ConfigChange {
            update_type: UpdateType::RemoteNetworkConfigUpdate,
            changes: changes_of(
                &json!({ "remoteNetworkConfig": before }),
                &json!({ "remoteNetworkConfig": after }),
            ),
            change: ClusterConfigUpdate::RemoteNetwork {
                remote_network_config: want.clone(),
            },
            risks: Vec::new(),
            note: None,
        });
    }
    if let Some(want) = spec.zonal_shift_config {
        let have = live.settings.zonal_shift_config.is_some_and(|z| z.enabled);
        out.push(ConfigChange {
            update_type: UpdateType::ZonalShiftConfigUpdate,
            changes: changes_of(
                &json!({"zonalShiftConfig": {"enabled": have}}),
                &json!({"zonalShiftConfig": {"enabled": want.enabled}}),
            ),
            change: ClusterConfigUpdate::ZonalShift {
                enabled: want.enabled,
            },
            risks: Vec::new(),
            note: None,
        });
    }
    if let Some(want) = spec.control_plane_scaling_config {
        let have = tier_of(&live.settings.control_plane_scaling_config);
        // EKS refuses to leave a tier while etcd holds more than the smaller tier allows
        // (EKS User Guide, `eks-provisioned-control-plane-introduction`); tiers are
        // billed per hour. Not one-way: EKS puts no limit on switching tiers.
        let note = (rank(want.tier) < rank(have)).then(|| format!(
            "controlPlaneScalingConfig: EKS refuses to leave {have} while the etcd database is larger than {} allows",
            want.tier
        ));
        out.push(ConfigChange {
            update_type: UpdateType::ControlPlaneScalingConfigUpdate,
            changes: changes_of(
                &json!({"controlPlaneScalingConfig": {"tier": have}}),
                &json!({"controlPlaneScalingConfig": {"tier": want.tier}}),
            ),
            change: ClusterConfigUpdate::ControlPlaneScaling { tier: want.tier },
            risks: Vec::new(),
            note,
        });
    }
    if let Some(want) = spec.vpc.control_plane_egress_mode {
        let have = egress_of(&live.vpc);
        // Back to AWS_MANAGED is a blocker (`cluster_blockers`), never a step.
        if want != ControlPlaneEgressMode::AwsManaged {
            let risks = if have == ControlPlaneEgressMode::AwsManaged {
                vec![Risk::one_way(format!(
                    "controlPlaneEgressMode {want} cannot be changed back to AWS_MANAGED on this cluster (EKS API reference, VpcConfigRequest.controlPlaneEgressMode)"
                ))]
            } else {
                Vec::new()
            };
            out.push(ConfigChange {
                update_type: UpdateType::ControlPlaneEgressUpdate,
                changes: changes_of(
                    &json!({"vpc": {"controlPlaneEgressMode": have}}),
                    &json!({"vpc": {"controlPlaneEgressMode": want}}),
                ),
                change: ClusterConfigUpdate::ControlPlaneEgress { mode: want },
                risks,
                note: None,
            });
        }
    }
    out.retain(|c| !c.changes.is_empty());
    out
}

/// Tiers in order of capacity.
fn rank(t: ControlPlaneTier) -> usize {
    ControlPlaneTier::ALL
        .iter()
        .position(|x| *x == t)
        .unwrap_or(0)
}

/// git's update config with the strategy EKS reports filled in when git leaves it out.
pub(super) fn update_config_view(
    s: &Option<UpdateConfig>,
    ls: &Option<UpdateConfig>,
) -> Option<UpdateConfig> {
    match (s, ls) {
        (Some(s), Some(l)) => Some(UpdateConfig {
            update_strategy: s.update_strategy.or(l.update_strategy),
            ..*s
        }),
        (s, l) => s.or(*l),
    }
}

/// git's node repair settings, with the values git leaves out taken from the live group
/// (unset in git: as it is).
pub(super) fn repair_view(s: &Option<NodeRepairConfig>, ls: &Option<NodeRepairConfig>) -> Value {
    let Some(s) = s else {
        return json!(ls);
    };
    let l = ls.clone().unwrap_or(NodeRepairConfig {
        enabled: false,
        max_unhealthy_node_threshold_count: None,
        max_unhealthy_node_threshold_percentage: None,
        max_parallel_nodes_repaired_count: None,
        max_parallel_nodes_repaired_percentage: None,
        node_repair_config_overrides: Vec::new(),
    });
    json!(NodeRepairConfig {
        enabled: s.enabled,
        max_unhealthy_node_threshold_count: s
            .max_unhealthy_node_threshold_count
            .or(l.max_unhealthy_node_threshold_count),
        max_unhealthy_node_threshold_percentage: s
            .max_unhealthy_node_threshold_percentage
            .or(l.max_unhealthy_node_threshold_percentage),
        max_parallel_nodes_repaired_count: s
            .max_parallel_nodes_repaired_count
            .or(l.max_parallel_nodes_repaired_count),
        max_parallel_nodes_repaired_percentage: s
            .max_parallel_nodes_repaired_percentage
            .or(l.max_parallel_nodes_repaired_percentage),
        node_repair_config_overrides: s.node_repair_config_overrides.clone(),
    })
}

/// git's warm pool, with the values git leaves out taken from the live group (EKS fills
/// in `minSize: 0`, `poolState: STOPPED`, `reuseOnScaleIn: false`).
pub(super) fn warm_pool_view(s: &Option<WarmPoolConfig>, ls: &Option<WarmPoolConfig>) -> Value {
    let Some(s) = s else {
        return json!(ls);
    };
    let l = ls.as_ref();
    json!(WarmPoolConfig {
        enabled: s.enabled,
        min_size: s.min_size.or(l.and_then(|l| l.min_size)),
        max_group_prepared_capacity: s
            .max_group_prepared_capacity
            .or(l.and_then(|l| l.max_group_prepared_capacity)),
        pool_state: s.pool_state.or(l.and_then(|l| l.pool_state)),
        reuse_on_scale_in: s.reuse_on_scale_in.or(l.and_then(|l| l.reuse_on_scale_in)),
    })
}

/// SSH access as the replacement check compares it (create only: `remoteAccess` is not
/// in `UpdateNodegroupConfigInput`). Unset in git: as it is.
pub(super) fn remote_access_view(s: &NodeGroupSpec, ls: &NodeGroupSpec) -> Value {
    let r = s.remote_access.as_ref().or(ls.remote_access.as_ref());
    json!(r.map(|r| json!({
        "ec2SshKey": r.ec2_ssh_key,
        "sourceSecurityGroups": sorted(&r.source_security_groups),
    })))
}

/// A different add-on namespace on an installed add-on, as a blocker message
/// (`namespaceConfig` is in `CreateAddonInput` only).
pub(super) fn addon_namespace_blocker(spec: &AddonSpec, live: &LiveAddon) -> Option<String> {
    let (want, have) = (
        spec.namespace_config.as_ref()?,
        live.namespace_config.as_ref()?,
    );
    (want != have).then(|| {
        format!(
            "`namespaceConfig.namespace` is set when the add-on is created (it runs in `{}`, git asks for `{}`); set it back, or remove the add-on from git, apply, and add it again",
            have.namespace, want.namespace
        )
    })
}

/// A session policy as compared: JSON text parsed, so `'{"a":1}'` and `{a: 1}` are equal.
pub(super) fn policy_view(p: &Option<Value>) -> Value {
    match p {
        Some(Value::String(s)) if s.is_empty() => Value::Null,
        Some(Value::String(s)) => {
            serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))
        }
        Some(v) => v.clone(),
        None => Value::Null,
    }
}

/// The spec UpdatePodIdentityAssociation is sent: a policy git removed goes as an empty
/// string, which is how the API clears it.
pub(super) fn pod_identity_update(
    spec: &PodIdentityAssociationSpec,
    live: &PodIdentityAssociationSpec,
) -> PodIdentityAssociationSpec {
    let mut s = spec.clone();
    if s.policy.is_none() && !policy_view(&live.policy).is_null() {
        s.policy = Some(Value::String(String::new()));
    }
    s
}
