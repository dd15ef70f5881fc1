//! The simulator's handling of the settings in `model::kinds::fields` and the Pod
//! Identity session policy: what a new cluster reports, what EKS refuses, and how an
//! accepted change lands.
//!
//! ```text
//!  CreateCluster ─► created_fields (defaults EKS reports: tier standard, egress AWS_MANAGED)
//!  UpdateClusterConfig ─► check_change (one-way egress) ─► … ─► apply_change
//!  Create/UpdatePodIdentityAssociation ─► check_session_policy
//! ```

use crate::model::live::*;
use crate::model::*;
use crate::ports::*;

/// Fill in the settings of a cluster being created, as EKS reports them: the tier and
/// egress mode it defaults to when none is asked for.
pub(super) fn created_fields(live: &mut LiveCluster, spec: &ClusterSpec) {
    live.settings.control_plane_scaling_config = Some(spec.control_plane_scaling_config.unwrap_or(
        ControlPlaneScalingConfig {
            tier: ControlPlaneTier::Standard,
        },
    ));
    live.vpc.control_plane_egress_mode = Some(
        spec.vpc
            .control_plane_egress_mode
            .unwrap_or(ControlPlaneEgressMode::AwsManaged),
    );
}

/// What EKS refuses of these settings in UpdateClusterConfig: going back to
/// `AWS_MANAGED` egress once the cluster left it (the SDK's `VpcConfigRequest`
/// documentation: "cannot be changed back to AWS_MANAGED on the same cluster").
pub(super) fn check_change(live: &LiveCluster, change: &ClusterConfigUpdate) -> ApiResult<()> {
    if let ClusterConfigUpdate::ControlPlaneEgress { mode } = change {
        let current = live
            .vpc
            .control_plane_egress_mode
            .unwrap_or(ControlPlaneEgressMode::AwsManaged);
        if *mode == ControlPlaneEgressMode::AwsManaged && current != *mode {
            return Err(ApiError::InvalidParameter(format!(
                "Control plane egress mode cannot be changed from {current} back to AWS_MANAGED."
            )));
        }
    }
    Ok(())
}

/// Land an accepted change of these settings; false when `change` is another kind.
pub(super) fn apply_change(live: &mut LiveCluster, change: &ClusterConfigUpdate) -> bool {
    match change {
        ClusterConfigUpdate::RemoteNetwork {
            remote_network_config,
        } => {
            live.settings.remote_network_config = (*remote_network_config
                != RemoteNetworkConfig::default())
            .then(|| remote_network_config.clone())
        }
        ClusterConfigUpdate::ZonalShift { enabled } => {
            live.settings.zonal_shift_config = Some(ZonalShiftConfig { enabled: *enabled })
        }
        ClusterConfigUpdate::ControlPlaneScaling { tier } => {
            live.settings.control_plane_scaling_config =
                Some(ControlPlaneScalingConfig { tier: *tier })
        }
        ClusterConfigUpdate::ControlPlaneEgress { mode } => {
            live.vpc.control_plane_egress_mode = Some(*mode)
        }
        _ => return false,
    }
    true
}

/// A session policy is JSON and needs `disableSessionTags` ("when using this policy,
/// disableSessionTags must be set to true": `CreatePodIdentityAssociationRequest.policy`).
/// An empty string (how a policy is removed) passes.
pub(super) fn check_session_policy(spec: &PodIdentityAssociationSpec) -> ApiResult<()> {
    let Some(p) = spec.policy.as_ref().filter(|p| !is_empty_policy(p)) else {
        return Ok(());
    };
    if !spec.disable_session_tags {
        return Err(ApiError::InvalidParameter(
            "disableSessionTags must be true when a policy is specified.".into(),
        ));
    }
    if let serde_json::Value::String(s) = p {
        if serde_json::from_str::<serde_json::Value>(s).is_err() {
            return Err(ApiError::InvalidParameter(
                "The policy is not valid JSON.".into(),
            ));
        }
    }
    Ok(())
}

/// The policy an association keeps after an update: an empty string removes it.
pub(super) fn updated_policy(spec: &PodIdentityAssociationSpec) -> Option<serde_json::Value> {
    spec.policy.clone().filter(|p| !is_empty_policy(p))
}

fn is_empty_policy(p: &serde_json::Value) -> bool {
    matches!(p, serde_json::Value::String(s) if s.is_empty())
}

/// Land an accepted UpdateNodegroupConfig's repair and warm-pool settings.
pub(super) fn apply_node_group_config(spec: &mut NodeGroupSpec, req: &NodeGroupConfigUpdate) {
    if let Some(r) = &req.node_repair_config {
        spec.node_repair_config = Some(r.clone());
    }
    if let Some(w) = &req.warm_pool_config {
        spec.warm_pool_config = Some(w.clone());
    }
}
