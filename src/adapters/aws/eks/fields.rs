//! The SDK side of the settings in `model::kinds::fields`: hybrid-node networks, zonal
//! shift, the control-plane tier and egress mode, Outposts, node auto repair, warm pools,
//! SSH access and an add-on's namespace, both ways.
//!
//! ```text
//!  model ──*_request──► aws-sdk-eks request shapes
//!  model ◄──live_*──── aws-sdk-eks response shapes (values keelson does not know: dropped, logged)
//! ```

use aws_sdk_eks::types as sdk;

use super::convert::{i32_of, known_or_warn, non_empty, u32_of};
use crate::model::*;

pub(super) fn remote_network_request(r: &RemoteNetworkConfig) -> sdk::RemoteNetworkConfigRequest {
    let nodes = r
        .remote_node_networks
        .iter()
        .map(|n| {
            sdk::RemoteNodeNetwork::builder()
                .set_cidrs(Some(n.cidrs.clone()))
                .build()
        })
        .collect();
    let pods = r
        .remote_pod_networks
        .iter()
        .map(|n| {
            sdk::RemotePodNetwork::builder()
                .set_cidrs(Some(n.cidrs.clone()))
                .build()
        })
        .collect();
    sdk::RemoteNetworkConfigRequest::builder()
        .set_remote_node_networks(Some(nodes))
        .set_remote_pod_networks(Some(pods))
        .build()
}

pub(super) fn live_remote_network(
    r: Option<&sdk::RemoteNetworkConfigResponse>,
) -> Option<RemoteNetworkConfig> {
    let r = r?;
    let net = |cidrs: &[String]| RemoteNetwork {
        cidrs: cidrs.to_vec(),
    };
    let out = RemoteNetworkConfig {
        remote_node_networks: r
            .remote_node_networks()
            .iter()
            .map(|n| net(n.cidrs()))
            .collect(),
        remote_pod_networks: r
            .remote_pod_networks()
            .iter()
            .map(|n| net(n.cidrs()))
            .collect(),
    };
    // EKS answers with empty lists on clusters without hybrid nodes.
    (out != RemoteNetworkConfig::default()).then_some(out)
}

pub(super) fn zonal_shift_request(enabled: bool) -> sdk::ZonalShiftConfigRequest {
    sdk::ZonalShiftConfigRequest::builder()
        .enabled(enabled)
        .build()
}

pub(super) fn live_zonal_shift(
    z: Option<&sdk::ZonalShiftConfigResponse>,
) -> Option<ZonalShiftConfig> {
    Some(ZonalShiftConfig {
        enabled: z?.enabled()?,
    })
}

pub(super) fn scaling_request(tier: ControlPlaneTier) -> sdk::ControlPlaneScalingConfig {
    sdk::ControlPlaneScalingConfig::builder()
        .tier(sdk::ProvisionedControlPlaneTier::from(tier.as_str()))
        .build()
}

pub(super) fn live_scaling(
    c: Option<&sdk::ControlPlaneScalingConfig>,
) -> Option<ControlPlaneScalingConfig> {
    let tier = c?.tier()?;
    let tier = known_or_warn(ControlPlaneTier::ALL, "control-plane tier", tier.as_str())?;
    Some(ControlPlaneScalingConfig { tier })
}

pub(super) fn egress_mode(m: ControlPlaneEgressMode) -> sdk::ControlPlaneEgressModeType {
    sdk::ControlPlaneEgressModeType::from(m.as_str())
}

pub(super) fn live_egress_mode(
    v: Option<&sdk::VpcConfigResponse>,
) -> Option<ControlPlaneEgressMode> {
    let m = v?.control_plane_egress_mode()?;
    known_or_warn(
        ControlPlaneEgressMode::ALL,
        "control-plane egress mode",
        m.as_str(),
    )
}

/// The Outposts configuration. `build()` fails only when a required member is unset,
/// which the model rules out; the error is still reported, not unwrapped.
pub(super) fn outpost_request(
    o: &OutpostConfig,
) -> Result<sdk::OutpostConfigRequest, aws_sdk_eks::error::BuildError> {
    sdk::OutpostConfigRequest::builder()
        .set_outpost_arns(Some(o.outpost_arns.clone()))
        .control_plane_instance_type(&o.control_plane_instance_type)
        .set_control_plane_placement(o.control_plane_placement.as_ref().map(|p| {
            sdk::ControlPlanePlacementRequest::builder()
                .group_name(&p.group_name)
                .build()
        }))
        .build()
}

pub(super) fn live_outpost(o: Option<&sdk::OutpostConfigResponse>) -> Option<OutpostConfig> {
    let o = o?;
    Some(OutpostConfig {
        outpost_arns: o.outpost_arns().to_vec(),
        control_plane_instance_type: o.control_plane_instance_type().to_string(),
        control_plane_placement: o
            .control_plane_placement()
            .and_then(|p| p.group_name())
            .map(|g| ControlPlanePlacement {
                group_name: g.to_string(),
            }),
    })
}

pub(super) fn update_strategy(s: NodeGroupUpdateStrategy) -> sdk::NodegroupUpdateStrategies {
    sdk::NodegroupUpdateStrategies::from(s.as_str())
}

pub(super) fn live_update_strategy(
    s: Option<&sdk::NodegroupUpdateStrategies>,
) -> Option<NodeGroupUpdateStrategy> {
    known_or_warn(
        NodeGroupUpdateStrategy::ALL,
        "node group update strategy",
        s?.as_str(),
    )
}

pub(super) fn repair_request(r: &NodeRepairConfig) -> sdk::NodeRepairConfig {
    let overrides: Vec<sdk::NodeRepairConfigOverrides> = r
        .node_repair_config_overrides
        .iter()
        .map(|o| {
            sdk::NodeRepairConfigOverrides::builder()
                .node_monitoring_condition(&o.node_monitoring_condition)
                .node_unhealthy_reason(&o.node_unhealthy_reason)
                .min_repair_wait_time_mins(i32_of(o.min_repair_wait_time_mins))
                .repair_action(sdk::RepairAction::from(o.repair_action.as_str()))
                .build()
        })
        .collect();
    sdk::NodeRepairConfig::builder()
        .enabled(r.enabled)
        .set_max_unhealthy_node_threshold_count(r.max_unhealthy_node_threshold_count.map(i32_of))
        .set_max_unhealthy_node_threshold_percentage(
            r.max_unhealthy_node_threshold_percentage.map(i32_of),
        )
        .set_max_parallel_nodes_repaired_count(r.max_parallel_nodes_repaired_count.map(i32_of))
        .set_max_parallel_nodes_repaired_percentage(
            r.max_parallel_nodes_repaired_percentage.map(i32_of),
        )
        .set_node_repair_config_overrides((!overrides.is_empty()).then_some(overrides))
        .build()
}

pub(super) fn live_repair(r: Option<&sdk::NodeRepairConfig>) -> Option<NodeRepairConfig> {
    let r = r?;
    Some(NodeRepairConfig {
        enabled: r.enabled().unwrap_or(false),
        max_unhealthy_node_threshold_count: r.max_unhealthy_node_threshold_count().map(u32_of),
        max_unhealthy_node_threshold_percentage: r
            .max_unhealthy_node_threshold_percentage()
            .map(u32_of),
        max_parallel_nodes_repaired_count: r.max_parallel_nodes_repaired_count().map(u32_of),
        max_parallel_nodes_repaired_percentage: r
            .max_parallel_nodes_repaired_percentage()
            .map(u32_of),
        node_repair_config_overrides: r
            .node_repair_config_overrides()
            .iter()
            .filter_map(|o| {
                Some(NodeRepairOverride {
                    node_monitoring_condition: o.node_monitoring_condition()?.to_string(),
                    node_unhealthy_reason: o.node_unhealthy_reason()?.to_string(),
                    min_repair_wait_time_mins: u32_of(o.min_repair_wait_time_mins()?),
                    repair_action: known_or_warn(
                        RepairAction::ALL,
                        "repair action",
                        o.repair_action()?.as_str(),
                    )?,
                })
            })
            .collect(),
    })
}

pub(super) fn warm_pool_request(w: &WarmPoolConfig) -> sdk::WarmPoolConfig {
    sdk::WarmPoolConfig::builder()
        .enabled(w.enabled)
        .set_min_size(w.min_size.map(i32_of))
        .set_max_group_prepared_capacity(w.max_group_prepared_capacity.map(i32_of))
        .set_pool_state(w.pool_state.map(|s| sdk::WarmPoolState::from(s.as_str())))
        .set_reuse_on_scale_in(w.reuse_on_scale_in)
        .build()
}

pub(super) fn live_warm_pool(w: Option<&sdk::WarmPoolConfig>) -> Option<WarmPoolConfig> {
    let w = w?;
    Some(WarmPoolConfig {
        enabled: w.enabled().unwrap_or(false),
        min_size: w.min_size().map(u32_of),
        max_group_prepared_capacity: w.max_group_prepared_capacity().map(u32_of),
        pool_state: w
            .pool_state()
            .and_then(|s| known_or_warn(WarmPoolState::ALL, "warm pool state", s.as_str())),
        reuse_on_scale_in: w.reuse_on_scale_in(),
    })
}

pub(super) fn remote_access_request(r: &RemoteAccess) -> sdk::RemoteAccessConfig {
    sdk::RemoteAccessConfig::builder()
        .set_ec2_ssh_key(r.ec2_ssh_key.clone())
        .set_source_security_groups(non_empty(&r.source_security_groups))
        .build()
}

pub(super) fn live_remote_access(r: Option<&sdk::RemoteAccessConfig>) -> Option<RemoteAccess> {
    let r = r?;
    let out = RemoteAccess {
        ec2_ssh_key: r.ec2_ssh_key().map(str::to_string),
        source_security_groups: r.source_security_groups().to_vec(),
    };
    (out.ec2_ssh_key.is_some() || !out.source_security_groups.is_empty()).then_some(out)
}

pub(super) fn namespace_request(n: &AddonNamespaceConfig) -> sdk::AddonNamespaceConfigRequest {
    sdk::AddonNamespaceConfigRequest::builder()
        .namespace(&n.namespace)
        .build()
}

pub(super) fn live_namespace(
    n: Option<&sdk::AddonNamespaceConfigResponse>,
) -> Option<AddonNamespaceConfig> {
    Some(AddonNamespaceConfig {
        namespace: n?.namespace()?.to_string(),
    })
}

/// A session policy as EKS takes it: JSON text (a string is sent as written).
pub(super) fn policy_string(p: &serde_json::Value) -> String {
    super::convert::configuration_string(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_survive_the_round_trip_through_the_sdk_shapes() {
        let repair = NodeRepairConfig {
            enabled: true,
            max_unhealthy_node_threshold_count: None,
            max_unhealthy_node_threshold_percentage: Some(20),
            max_parallel_nodes_repaired_count: Some(2),
            max_parallel_nodes_repaired_percentage: None,
            node_repair_config_overrides: vec![NodeRepairOverride {
                node_monitoring_condition: "AcceleratedHardwareReady".into(),
                node_unhealthy_reason: "NvidiaXID13Error".into(),
                min_repair_wait_time_mins: 10,
                repair_action: RepairAction::Reboot,
            }],
        };
        assert_eq!(live_repair(Some(&repair_request(&repair))), Some(repair));
        let warm = WarmPoolConfig {
            enabled: true,
            min_size: Some(1),
            max_group_prepared_capacity: Some(5),
            pool_state: Some(WarmPoolState::Hibernated),
            reuse_on_scale_in: Some(true),
        };
        assert_eq!(live_warm_pool(Some(&warm_pool_request(&warm))), Some(warm));
        let access = RemoteAccess {
            ec2_ssh_key: Some("ops".into()),
            source_security_groups: vec!["sg-0123456789abcdef0".into()],
        };
        assert_eq!(
            live_remote_access(Some(&remote_access_request(&access))),
            Some(access)
        );
        assert_eq!(
            live_scaling(Some(&scaling_request(ControlPlaneTier::Tier2Xl))),
            Some(ControlPlaneScalingConfig {
                tier: ControlPlaneTier::Tier2Xl
            })
        );
        assert_eq!(
            update_strategy(NodeGroupUpdateStrategy::Minimal).as_str(),
            "MINIMAL"
        );
    }
}
