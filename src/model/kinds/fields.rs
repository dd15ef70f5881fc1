//! Settings of the EKS API that sit beside the main configuration of a kind: hybrid-node
//! networks, zonal shift, the Provisioned Control Plane tier, control-plane egress,
//! Outposts, node auto repair, warm pools, SSH access and an add-on's namespace.
//!
//! ```text
//!  Cluster   ── remoteNetwork, zonalShift, controlPlaneScaling, outpost,
//!               vpc.controlPlaneEgressMode, bootstrapSelfManagedAddons
//!  NodeGroup ── updateConfig.updateStrategy, nodeRepair, warmPool, remoteAccess
//!  Addon     ── namespaceConfig
//! ```
//!
//! Every shape and enum mirrors the aws-sdk-eks 1.160 type named in its doc (and the
//! botocore `eks/2017-11-01/service-2.json` shape of the same name); the enums are tested
//! equal to the SDK's `values()` in `tests/it/eks_api.rs`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The cluster settings of this file as DescribeCluster reports them; flattened into
/// `LiveCluster`, so its JSON has the same fields as the Cluster spec.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSettings {
    /// The hybrid-node networks in use; none when EKS answers with empty lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_network_config: Option<RemoteNetworkConfig>,
    /// Whether zonal shift is on; none when EKS does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zonal_shift_config: Option<ZonalShiftConfig>,
    /// The tier the control plane runs at (EKS reports `standard` when none was asked
    /// for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_scaling_config: Option<ControlPlaneScalingConfig>,
    /// The Outposts a local cluster runs on; none for a cluster in the region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outpost_config: Option<OutpostConfig>,
}

impl ClusterSettings {
    /// The settings a Cluster spec asks for, as they are.
    pub fn of(spec: &super::ClusterSpec) -> ClusterSettings {
        ClusterSettings {
            remote_network_config: spec.remote_network_config.clone(),
            zonal_shift_config: spec.zonal_shift_config,
            control_plane_scaling_config: spec.control_plane_scaling_config,
            outpost_config: spec.outpost_config.clone(),
        }
    }
}

/// Hybrid nodes: the on-premises networks of nodes and of the pods that serve webhooks
/// (SDK `RemoteNetworkConfigRequest`). Each list holds at most one entry
/// (`RemoteNodeNetworkList`/`RemotePodNetworkList`, `max: 1`); each CIDR is an RFC 1918
/// IPv4 block between /8 and /32 that overlaps neither the VPC nor the service CIDR.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoteNetworkConfig {
    /// Networks the hybrid nodes are in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1))]
    pub remote_node_networks: Vec<RemoteNetwork>,
    /// Networks of pods that run webhooks on hybrid nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1))]
    pub remote_pod_networks: Vec<RemoteNetwork>,
}

/// One remote network (SDK `RemoteNodeNetwork` / `RemotePodNetwork`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoteNetwork {
    /// IPv4 CIDR blocks, e.g. `10.80.0.0/16`.
    #[schemars(
        length(min = 1),
        inner(pattern(r"^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$"))
    )]
    pub cidrs: Vec<String>,
}

/// Zonal shift (SDK `ZonalShiftConfigRequest`): with it on, AWS configures zonal
/// autoshift for the cluster. Changes in place (`UpdateClusterConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ZonalShiftConfig {
    /// Whether zonal shift is on.
    pub enabled: bool,
}

/// EKS Provisioned Control Plane (SDK `ControlPlaneScalingConfig`). Changes in place;
/// EKS reports the change as a `ScalingTierConfigUpdate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ControlPlaneScalingConfig {
    /// The tier.
    pub tier: ControlPlaneTier,
}

string_enum! {
    /// Control-plane scaling tier (SDK `ProvisionedControlPlaneTier`).
    ControlPlaneTier {
        Standard = "standard",
        TierXl = "tier-xl",
        Tier2Xl = "tier-2xl",
        Tier4Xl = "tier-4xl",
        Tier8Xl = "tier-8xl",
    }
}

string_enum! {
    /// How control-plane traffic leaves for the VPC (SDK `ControlPlaneEgressModeType`,
    /// field `VpcConfigRequest.controlPlaneEgressMode`). EKS's default is `AWS_MANAGED`;
    /// "once set to CUSTOMER_ROUTED, this setting cannot be changed back to AWS_MANAGED on
    /// the same cluster" (the SDK's documentation of the field; EKS User Guide
    /// `control-plane-egress`).
    ControlPlaneEgressMode {
        AwsManaged = "AWS_MANAGED",
        CustomerIsolated = "CUSTOMER_ISOLATED",
        CustomerRouted = "CUSTOMER_ROUTED",
    }
}

/// A local cluster on AWS Outposts (SDK `OutpostConfigRequest`). Set when the cluster is
/// created only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutpostConfig {
    /// The Outpost ARN ("only a single Outpost ARN is supported").
    #[schemars(
        length(min = 1, max = 1),
        inner(pattern(r"^arn:aws[a-z-]*:outposts:[a-z0-9-]+:[0-9]{12}:outpost/.+$"))
    )]
    pub outpost_arns: Vec<String>,
    /// EC2 instance type of the control-plane instances, e.g. `m5.large`.
    #[schemars(pattern(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$"))]
    pub control_plane_instance_type: String,
    /// Placement group of the control-plane instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_placement: Option<ControlPlanePlacement>,
}

/// Placement of the control-plane instances on an Outpost (SDK
/// `ControlPlanePlacementRequest`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ControlPlanePlacement {
    /// Placement group name.
    #[schemars(length(min = 1))]
    pub group_name: String,
}

string_enum! {
    /// How a node group replaces nodes in a version update (SDK
    /// `NodegroupUpdateStrategies`): `DEFAULT` launches new nodes first, `MINIMAL`
    /// terminates old ones first.
    NodeGroupUpdateStrategy { Default = "DEFAULT", Minimal = "MINIMAL" }
}

/// Node auto repair (SDK `NodeRepairConfig`). Changes in place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeRepairConfig {
    /// Whether auto repair is on (off by default).
    pub enabled: bool,
    /// Stop repairing above this many unhealthy nodes (`NonZeroInteger`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_unhealthy_node_threshold_count: Option<u32>,
    /// Stop repairing above this percentage of unhealthy nodes (`PercentCapacity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub max_unhealthy_node_threshold_percentage: Option<u32>,
    /// Most nodes repaired at once (`NonZeroInteger`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_parallel_nodes_repaired_count: Option<u32>,
    /// Most nodes repaired at once, as a percentage (`PercentCapacity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub max_parallel_nodes_repaired_percentage: Option<u32>,
    /// Per-condition overrides; each sets all four of its fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_repair_config_overrides: Vec<NodeRepairOverride>,
}

/// One repair override (SDK `NodeRepairConfigOverrides`): "if you use this, you must
/// specify all the values".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeRepairOverride {
    /// Condition reported by the node monitoring agent, e.g. `AcceleratedHardwareReady`.
    #[schemars(length(min = 1))]
    pub node_monitoring_condition: String,
    /// Reason reported by the node monitoring agent, e.g. `NvidiaXID13Error`.
    #[schemars(length(min = 1))]
    pub node_unhealthy_reason: String,
    /// Minutes to wait before repairing (`NonZeroInteger`).
    #[schemars(range(min = 1))]
    pub min_repair_wait_time_mins: u32,
    /// What to do.
    pub repair_action: RepairAction,
}

string_enum! {
    /// Repair action (SDK `RepairAction`).
    RepairAction { Replace = "Replace", Reboot = "Reboot", NoAction = "NoAction" }
}

/// An EC2 Auto Scaling warm pool on a managed node group (SDK `WarmPoolConfig`). Changes
/// in place; `enabled: false` removes the pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WarmPoolConfig {
    /// Whether the warm pool is attached.
    pub enabled: bool,
    /// Fewest instances kept in the pool (`ZeroCapacity`; EKS default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_size: Option<u32>,
    /// Most instances in the pool and the group together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_group_prepared_capacity: Option<u32>,
    /// State of pooled instances (EKS default `STOPPED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_state: Option<WarmPoolState>,
    /// Return instances to the pool on scale-in instead of terminating them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reuse_on_scale_in: Option<bool>,
}

string_enum! {
    /// State of warm-pool instances (SDK `WarmPoolState`).
    WarmPoolState { Stopped = "STOPPED", Running = "RUNNING", Hibernated = "HIBERNATED" }
}

/// SSH (Windows: RDP) access to the nodes (SDK `RemoteAccessConfig`). Set when the group
/// is created only: a change replaces the group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoteAccess {
    /// EC2 key pair name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub ec2_ssh_key: Option<String>,
    /// Security groups allowed to reach port 22 (without them, any address can).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(pattern(r"^sg-[0-9a-f]{8,17}$")))]
    pub source_security_groups: Vec<String>,
}

/// The namespace an add-on is installed in (SDK `AddonNamespaceConfigRequest`). Set
/// when the add-on is created only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddonNamespaceConfig {
    /// An RFC 1123 DNS label (botocore shape `namespace`: 1-63 characters).
    #[schemars(length(min = 1, max = 63), pattern(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub namespace: String,
}
