//! Managed compute outside Auto Mode: NodeGroups and FargateProfiles.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Tags;
use crate::model::limits::{
    tag_map_schema, ROLE_ARN_PATTERN, TAINTS_PER_NODEGROUP, TAINT_KEY, TAINT_VALUE,
};

/// A managed node group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeGroupSpec {
    /// Node IAM role ARN.
    #[schemars(pattern(ROLE_ARN_PATTERN))]
    pub node_role_arn: String,
    /// Subnets for the nodes.
    #[schemars(length(min = 1), inner(pattern(r"^subnet-[0-9a-f]{8,17}$")))]
    pub subnet_ids: Vec<String>,
    /// Instance types, e.g. `m6i.large`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(pattern(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")))]
    pub instance_types: Vec<String>,
    /// AMI type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ami_type: Option<AmiType>,
    /// Capacity type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_type: Option<CapacityType>,
    /// Scaling bounds.
    pub scaling: Scaling,
    /// Root volume size in GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 16384))]
    pub disk_size: Option<u32>,
    /// Kubernetes minor of the nodes; defaults to the cluster's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^1\.[0-9]{1,2}$"))]
    pub version: Option<String>,
    /// AMI release version; defaults to the latest for `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_version: Option<String>,
    /// Kubernetes labels on the nodes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Kubernetes taints on the nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = TAINTS_PER_NODEGROUP.max))]
    pub taints: Vec<NodeGroupTaint>,
    /// How many nodes may be unavailable during an update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_config: Option<UpdateConfig>,
    /// Launch template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_template: Option<LaunchTemplate>,
    /// Tags on the node group.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(transform = tag_map_schema)]
    pub tags: Tags,
}

string_enum! {
    /// AMI type of a managed node group.
    AmiType {
        Al2X86_64 = "AL2_x86_64",
        Al2X86_64Gpu = "AL2_x86_64_GPU",
        Al2Arm64 = "AL2_ARM_64",
        Custom = "CUSTOM",
        BottlerocketArm64 = "BOTTLEROCKET_ARM_64",
        BottlerocketX86_64 = "BOTTLEROCKET_x86_64",
        BottlerocketArm64Fips = "BOTTLEROCKET_ARM_64_FIPS",
        BottlerocketX86_64Fips = "BOTTLEROCKET_x86_64_FIPS",
        BottlerocketArm64Nvidia = "BOTTLEROCKET_ARM_64_NVIDIA",
        BottlerocketX86_64Nvidia = "BOTTLEROCKET_x86_64_NVIDIA",
        BottlerocketArm64NvidiaFips = "BOTTLEROCKET_ARM_64_NVIDIA_FIPS",
        BottlerocketX86_64NvidiaFips = "BOTTLEROCKET_x86_64_NVIDIA_FIPS",
        WindowsCore2019 = "WINDOWS_CORE_2019_x86_64",
        WindowsFull2019 = "WINDOWS_FULL_2019_x86_64",
        WindowsCore2022 = "WINDOWS_CORE_2022_x86_64",
        WindowsFull2022 = "WINDOWS_FULL_2022_x86_64",
        WindowsCore2025 = "WINDOWS_CORE_2025_x86_64",
        WindowsFull2025 = "WINDOWS_FULL_2025_x86_64",
        Al2023X86_64Standard = "AL2023_x86_64_STANDARD",
        Al2023Arm64Standard = "AL2023_ARM_64_STANDARD",
        Al2023X86_64Neuron = "AL2023_x86_64_NEURON",
        Al2023X86_64Nvidia = "AL2023_x86_64_NVIDIA",
        Al2023Arm64Nvidia = "AL2023_ARM_64_NVIDIA",
    }
}

impl AmiType {
    /// Amazon Linux 2 AMIs, which EKS no longer publishes from Kubernetes 1.33 on. Only
    /// the three `AL2_*` values of the API's AMITypes are AL2; the AL2023, Bottlerocket
    /// (FIPS and NVIDIA FIPS included) and Windows (2019 to 2025) types are not.
    pub(crate) fn is_al2(self) -> bool {
        matches!(
            self,
            AmiType::Al2X86_64 | AmiType::Al2X86_64Gpu | AmiType::Al2Arm64
        )
    }
}

string_enum! {
    /// Capacity type of a managed node group.
    CapacityType { OnDemand = "ON_DEMAND", Spot = "SPOT", CapacityBlock = "CAPACITY_BLOCK" }
}

/// Scaling bounds of a node group.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scaling {
    /// Fewest nodes.
    #[schemars(range(min = 0))]
    pub min_size: u32,
    /// Most nodes.
    #[schemars(range(min = 1))]
    pub max_size: u32,
    /// Nodes at creation. Left alone afterwards when a cluster autoscaler changes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_size: Option<u32>,
}

/// A node-group taint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeGroupTaint {
    /// Taint key.
    #[schemars(length(min = TAINT_KEY.min, max = TAINT_KEY.max))]
    pub key: String,
    /// Taint value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = TAINT_VALUE.max))]
    pub value: Option<String>,
    /// Taint effect.
    pub effect: NodeGroupTaintEffect,
}

string_enum! {
    /// Taint effect as the EKS node-group API spells it.
    NodeGroupTaintEffect { NoSchedule = "NO_SCHEDULE", NoExecute = "NO_EXECUTE", PreferNoSchedule = "PREFER_NO_SCHEDULE" }
}

/// Node-group update configuration: one of the two fields.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateConfig {
    /// Nodes unavailable at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub max_unavailable: Option<u32>,
    /// Percentage of nodes unavailable at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub max_unavailable_percentage: Option<u32>,
}

/// A launch template reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LaunchTemplate {
    /// Launch template id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Launch template name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Version (number, `$Latest` or `$Default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}
/// A Fargate profile. Profiles are immutable: any change replaces the profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FargateProfileSpec {
    /// Pod execution role ARN.
    #[schemars(pattern(ROLE_ARN_PATTERN))]
    pub pod_execution_role_arn: String,
    /// Private subnets for the pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(pattern(r"^subnet-[0-9a-f]{8,17}$")))]
    pub subnet_ids: Vec<String>,
    /// Which pods run on Fargate (at most five selectors).
    #[schemars(length(min = 1, max = 5))]
    pub selectors: Vec<FargateSelector>,
    /// Tags on the profile.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(transform = tag_map_schema)]
    pub tags: Tags,
}

/// A Fargate pod selector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FargateSelector {
    /// Namespace of the pods.
    #[schemars(length(min = 1, max = 63))]
    pub namespace: String,
    /// Labels the pods must carry (at most five).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(length(max = 5))]
    pub labels: BTreeMap<String, String>,
}
