//! The `spec` of every kind.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Tags: at most 50 per resource on AWS.
pub type Tags = BTreeMap<String, String>;

fn is_false(b: &bool) -> bool {
    !*b
}

// ───────────────────────────── Fleet ─────────────────────────────

/// The fleet: the ordered stages clusters are rolled out through, and fleet-wide policy.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FleetSpec {
    /// Stages in rollout order. A cluster of a later stage starts a version hop only after
    /// every cluster of the earlier stages completed the same transition and soaked.
    #[schemars(length(min = 1))]
    pub stages: Vec<Stage>,
    /// Fleet-wide policy.
    #[serde(default)]
    pub policy: FleetPolicy,
}

/// One rollout stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Stage {
    /// Stage name, referenced by `Cluster.spec.stage`.
    #[schemars(length(min = 1, max = 63), pattern(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,
    /// How long a transition must have run cleanly in this stage before the next stage
    /// may start it, as a duration such as `24h` or `90m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^([0-9]+(s|m|h|d))+$"))]
    pub soak: Option<String>,
    /// Whether the daemon applies changes in this stage by itself (`auto`) or only plans
    /// and reports them (`manual`).
    #[serde(default)]
    pub apply: ApplyMode,
    /// When the daemon may start changes in this stage (UTC). Empty: any time. Plans and
    /// drift reports run regardless; a change in progress is never cut off.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintenance_windows: Vec<MaintenanceWindow>,
}

/// A weekly window in UTC, e.g. `{days: [sat, sun], start: "02:00", duration: 4h}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MaintenanceWindow {
    /// Days the window opens on. Empty: every day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<Weekday>,
    /// Opening time, `HH:MM` in UTC.
    #[schemars(pattern(r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub start: String,
    /// How long the window stays open, e.g. `4h` (at most 7 days).
    #[schemars(pattern(r"^([0-9]+(s|m|h|d))+$"))]
    pub duration: String,
}

string_enum! {
    /// A day of the week.
    Weekday { Mon = "mon", Tue = "tue", Wed = "wed", Thu = "thu", Fri = "fri", Sat = "sat", Sun = "sun" }
}

string_enum! {
    /// How changes are applied in a stage: `auto` or `manual`.
    #[derive(Default)]
    ApplyMode { #[default] Manual = "manual", Auto = "auto" }
}

/// Fleet-wide policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FleetPolicy {
    /// Allow keelson to delete clusters that were removed from the repository. Off by
    /// default: a cluster missing from git is reported, never deleted.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_cluster_deletion: bool,
    /// Most clusters planned or applied at the same time.
    #[serde(default = "default_concurrency")]
    #[schemars(range(min = 1, max = 64))]
    pub max_concurrency: u32,
    /// How many minors nodes may trail the control plane after a hop (Kubernetes allows
    /// 3 since 1.28; keelson defaults to the stricter 2).
    #[serde(default = "default_skew")]
    #[schemars(range(min = 0, max = 3))]
    pub max_kubelet_skew: u32,
    /// Stop the daemon from applying anything: it keeps planning and reporting drift.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
    /// Roles keelson assumes per AWS account, for Clusters whose `spec.account` is listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountAccess>,
}

/// How keelson reaches one AWS account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountAccess {
    /// The account id.
    #[schemars(pattern(r"^[0-9]{12}$"))]
    pub id: String,
    /// The IAM role in that account that keelson assumes (STS AssumeRole, session name
    /// `keelson`).
    #[schemars(pattern(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$"))]
    pub operator_role_arn: String,
    /// External id the role's trust policy requires, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 1224))]
    pub external_id: Option<String>,
}

fn default_concurrency() -> u32 {
    8
}
fn default_skew() -> u32 {
    2
}

impl Default for FleetPolicy {
    fn default() -> Self {
        FleetPolicy {
            allow_cluster_deletion: false,
            max_concurrency: default_concurrency(),
            max_kubelet_skew: default_skew(),
            suspend: false,
            accounts: Vec::new(),
        }
    }
}

// ───────────────────────────── Cluster ─────────────────────────────

/// An EKS cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterSpec {
    /// AWS region, e.g. `ap-northeast-1`.
    #[schemars(pattern(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]+$"))]
    pub region: String,
    /// Kubernetes minor version as a quoted string, e.g. `"1.33"`. Raising it is how an
    /// upgrade is asked for; keelson steps one minor at a time.
    #[schemars(pattern(r"^1\.[0-9]{1,2}$"))]
    pub version: String,
    /// The Fleet stage this cluster belongs to.
    pub stage: String,
    /// AWS account id, when clusters of several accounts share a repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[0-9]{12}$"))]
    pub account: Option<String>,
    /// IAM role keelson assumes to manage this cluster, when it differs from the caller's
    /// own credentials. Overrides the Fleet's role for the cluster's account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$"))]
    pub operator_role_arn: Option<String>,
    /// ARN of the cluster IAM role.
    #[schemars(pattern(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$"))]
    pub role_arn: String,
    /// VPC configuration.
    pub vpc: VpcConfig,
    /// Kubernetes network configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_network: Option<KubernetesNetwork>,
    /// EKS Auto Mode. The three capabilities are switched on or off together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_mode: Option<AutoMode>,
    /// Control-plane log types sent to CloudWatch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logging: Vec<LogType>,
    /// Cluster access configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessConfig>,
    /// Support policy at end of standard support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_policy: Option<UpgradePolicy>,
    /// Refuse DeleteCluster while set.
    #[serde(default, skip_serializing_if = "is_false")]
    pub deletion_protection: bool,
    /// KMS key ARN for envelope encryption of Kubernetes secrets (set at create time only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^arn:aws[a-z-]*:kms:"))]
    pub secrets_kms_key_arn: Option<String>,
    /// Tags on the cluster.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(length(max = 50))]
    pub tags: Tags,
}

/// VPC configuration of a cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VpcConfig {
    /// Subnets for the control-plane network interfaces (at least two AZs).
    #[schemars(length(min = 2, max = 16), inner(pattern(r"^subnet-[0-9a-f]{8,17}$")))]
    pub subnet_ids: Vec<String>,
    /// Extra security groups for the control-plane interfaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 5), inner(pattern(r"^sg-[0-9a-f]{8,17}$")))]
    pub security_group_ids: Vec<String>,
    /// Serve the API endpoint publicly.
    #[serde(default = "yes")]
    pub endpoint_public_access: bool,
    /// Serve the API endpoint inside the VPC.
    #[serde(default)]
    pub endpoint_private_access: bool,
    /// CIDRs allowed to reach the public endpoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(pattern(r"^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$")))]
    pub public_access_cidrs: Vec<String>,
}

fn yes() -> bool {
    true
}

/// Kubernetes network configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubernetesNetwork {
    /// Service CIDR (IPv4 clusters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$"))]
    pub service_ipv4_cidr: Option<String>,
    /// IP family, fixed at create time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_family: Option<IpFamily>,
}

string_enum! {
    /// Cluster IP family: `ipv4` or `ipv6`.
    IpFamily { Ipv4 = "ipv4", Ipv6 = "ipv6" }
}

/// EKS Auto Mode: compute, block storage and load balancing, managed by EKS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutoMode {
    /// Managed compute (EKS runs Karpenter).
    pub compute: AutoCompute,
    /// Managed EBS block storage.
    pub block_storage: Toggle,
    /// Managed load balancing.
    pub load_balancing: Toggle,
}

/// Auto Mode compute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutoCompute {
    /// Whether managed compute is on.
    pub enabled: bool,
    /// Built-in node pools to run: `system` and/or `general-purpose`. Empty turns the
    /// built-ins off (custom NodePools only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_pools: Vec<String>,
    /// Node IAM role ARN; required when built-in node pools are on, and fixed once
    /// compute is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$"))]
    pub node_role_arn: Option<String>,
}

/// An on/off switch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Toggle {
    /// Whether the capability is on.
    pub enabled: bool,
}

string_enum! {
    /// Control-plane log type.
    LogType {
        Api = "api",
        Audit = "audit",
        Authenticator = "authenticator",
        ControllerManager = "controllerManager",
        Scheduler = "scheduler",
    }
}

/// Cluster access configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessConfig {
    /// How IAM principals are authenticated. Moves one way only:
    /// CONFIG_MAP → API_AND_CONFIG_MAP → API.
    pub authentication_mode: AuthenticationMode,
    /// Give the creating principal cluster-admin (create time only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_cluster_creator_admin_permissions: Option<bool>,
}

string_enum! {
    /// Cluster authentication mode.
    AuthenticationMode { ConfigMap = "CONFIG_MAP", ApiAndConfigMap = "API_AND_CONFIG_MAP", Api = "API" }
}

/// Upgrade policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpgradePolicy {
    /// STANDARD: AWS upgrades the cluster at end of standard support. EXTENDED: it stays,
    /// at extra cost, until end of extended support.
    pub support_type: SupportType,
}

string_enum! {
    /// Support type.
    SupportType { Standard = "STANDARD", Extended = "EXTENDED" }
}

// ───────────────────────────── Addon ─────────────────────────────

/// An EKS add-on. `metadata.name` is the add-on name (e.g. `vpc-cni`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddonSpec {
    /// `latest` (newest compatible with the cluster's version), `default` (EKS's default
    /// for that version), or an exact version such as `v1.19.2-eksbuild.1`.
    #[serde(default = "default_addon_version")]
    #[schemars(pattern(r"^(latest|default|v[0-9]+\.[0-9]+\.[0-9]+(-eksbuild\.[0-9]+)?)$"))]
    pub version: String,
    /// Configuration values, as a mapping or a JSON string; validated by EKS against the
    /// add-on's configuration schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration_values: Option<serde_json::Value>,
    /// IRSA role for the add-on's service account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$"))]
    pub service_account_role_arn: Option<String>,
    /// Pod Identity associations created with the add-on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pod_identity_associations: Vec<AddonPodIdentity>,
    /// How conflicts with fields changed outside EKS are resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve_conflicts: Option<ResolveConflicts>,
    /// Tags on the add-on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: Tags,
}

fn default_addon_version() -> String {
    "default".to_string()
}

/// A Pod Identity association declared on an add-on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddonPodIdentity {
    /// The add-on's service account.
    pub service_account: String,
    /// The IAM role.
    #[schemars(pattern(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$"))]
    pub role_arn: String,
}

string_enum! {
    /// Add-on conflict resolution.
    ResolveConflicts { None = "NONE", Overwrite = "OVERWRITE", Preserve = "PRESERVE" }
}

// ───────────────────────────── NodeGroup ─────────────────────────────

/// A managed node group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeGroupSpec {
    /// Node IAM role ARN.
    #[schemars(pattern(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$"))]
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
    #[schemars(length(max = 50))]
    pub taints: Vec<NodeGroupTaint>,
    /// How many nodes may be unavailable during an update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_config: Option<UpdateConfig>,
    /// Launch template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_template: Option<LaunchTemplate>,
    /// Tags on the node group.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
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
        WindowsCore2019 = "WINDOWS_CORE_2019_x86_64",
        WindowsFull2019 = "WINDOWS_FULL_2019_x86_64",
        WindowsCore2022 = "WINDOWS_CORE_2022_x86_64",
        WindowsFull2022 = "WINDOWS_FULL_2022_x86_64",
        Al2023X86_64Standard = "AL2023_x86_64_STANDARD",
        Al2023Arm64Standard = "AL2023_ARM_64_STANDARD",
        Al2023X86_64Neuron = "AL2023_x86_64_NEURON",
        Al2023X86_64Nvidia = "AL2023_x86_64_NVIDIA",
        Al2023Arm64Nvidia = "AL2023_ARM_64_NVIDIA",
    }
}

impl AmiType {
    /// Amazon Linux 2 AMIs, which EKS no longer publishes from Kubernetes 1.33 on.
    pub fn is_al2(self) -> bool {
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
    #[schemars(length(min = 1, max = 63))]
    pub key: String,
    /// Taint value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
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

// ───────────────────────────── FargateProfile ─────────────────────────────

/// A Fargate profile. Profiles are immutable: any change replaces the profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FargateProfileSpec {
    /// Pod execution role ARN.
    #[schemars(pattern(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$"))]
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

// ───────────────────────────── AccessEntry ─────────────────────────────

/// An access entry: an IAM principal's access to the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessEntrySpec {
    /// IAM principal ARN (immutable).
    #[schemars(pattern(r"^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:.+$"))]
    pub principal_arn: String,
    /// Entry type (immutable).
    #[serde(default, rename = "type")]
    pub entry_type: AccessEntryType,
    /// Kubernetes groups (STANDARD entries only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kubernetes_groups: Vec<String>,
    /// Kubernetes user name (STANDARD entries only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Access policies associated with the principal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<AccessPolicy>,
    /// Tags on the entry.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: Tags,
}

string_enum! {
    /// Access entry type.
    #[derive(Default)]
    AccessEntryType {
        #[default] Standard = "STANDARD",
        Ec2 = "EC2",
        Ec2Linux = "EC2_LINUX",
        Ec2Windows = "EC2_WINDOWS",
        FargateLinux = "FARGATE_LINUX",
        HybridLinux = "HYBRID_LINUX",
    }
}

/// An access policy association.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessPolicy {
    /// Policy ARN, `arn:aws:eks::aws:cluster-access-policy/<Name>`.
    #[schemars(pattern(r"^arn:aws[a-z-]*:eks::aws:cluster-access-policy/[A-Za-z0-9]+$"))]
    pub policy_arn: String,
    /// Where the policy applies.
    pub access_scope: AccessScope,
}

/// Scope of an access policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessScope {
    /// `cluster` or `namespace`.
    #[serde(rename = "type")]
    pub scope_type: AccessScopeType,
    /// Namespaces, for the `namespace` type only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
}

string_enum! {
    /// Access scope type.
    AccessScopeType { Cluster = "cluster", Namespace = "namespace" }
}

// ───────────────────────────── PodIdentityAssociation ─────────────────────────────

/// A Pod Identity association: a service account mapped to an IAM role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodIdentityAssociationSpec {
    /// Namespace of the service account.
    #[schemars(length(min = 1, max = 63))]
    pub namespace: String,
    /// Service account name.
    #[schemars(length(min = 1, max = 253))]
    pub service_account: String,
    /// IAM role the pods assume (same account as the cluster).
    #[schemars(pattern(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$"))]
    pub role_arn: String,
    /// Role in another account, assumed through `roleArn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$"))]
    pub target_role_arn: Option<String>,
    /// Do not add session tags.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_session_tags: bool,
    /// Tags on the association.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(length(max = 50))]
    pub tags: Tags,
}

// ───────────────────────────── NodePool (karpenter.sh/v1) ─────────────────────────────

/// A Karpenter NodePool as EKS Auto Mode serves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodePoolSpec {
    /// The NodeClaim template.
    pub template: NodeClaimTemplate,
    /// Disruption policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disruption: Option<Disruption>,
    /// Resource limits for the pool (e.g. `cpu: "1000"`, `memory: 1000Gi`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, IntOrString>,
    /// Priority among pools (1–100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub weight: Option<u32>,
    /// Static capacity: a fixed number of nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
}

/// An integer or a string (Kubernetes quantities and percentages).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum IntOrString {
    /// A number.
    Int(i64),
    /// A string such as `10%` or `100Gi`.
    Str(String),
}

/// NodeClaim template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeClaimTemplate {
    /// Labels and annotations for the nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<TemplateMetadata>,
    /// NodeClaim spec.
    pub spec: NodeClaimSpec,
}

/// Template metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateMetadata {
    /// Node labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Node annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// NodeClaim spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeClaimSpec {
    /// The NodeClass the nodes use.
    pub node_class_ref: NodeClassRef,
    /// Scheduling requirements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub requirements: Vec<Requirement>,
    /// Taints on the nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<Taint>,
    /// Taints removed once the node is initialised.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub startup_taints: Vec<Taint>,
    /// Node lifetime, e.g. `336h`. `Never` is not allowed on Auto Mode; together with
    /// `terminationGracePeriod` it may not exceed 21 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^(([0-9]+(s|m|h))+|Never)$"))]
    pub expire_after: Option<String>,
    /// How long a draining node may wait for pods; Auto Mode defaults it to 24h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^([0-9]+(s|m|h))+$"))]
    pub termination_grace_period: Option<String>,
}

/// Reference to a NodeClass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeClassRef {
    /// `eks.amazonaws.com`.
    pub group: String,
    /// `NodeClass`.
    pub kind: String,
    /// NodeClass name (`default` is the built-in one).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// A node selector requirement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Requirement {
    /// Label key, e.g. `eks.amazonaws.com/instance-category`.
    #[schemars(length(min = 1, max = 316))]
    pub key: String,
    /// Operator.
    pub operator: RequirementOperator,
    /// Values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Fewest distinct values the scheduler must keep available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 50))]
    pub min_values: Option<u32>,
}

string_enum! {
    /// Node selector operator.
    RequirementOperator { In = "In", NotIn = "NotIn", Exists = "Exists", DoesNotExist = "DoesNotExist", Gt = "Gt", Lt = "Lt" }
}

/// A Kubernetes taint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Taint {
    /// Key.
    pub key: String,
    /// Value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Effect.
    pub effect: TaintEffect,
}

string_enum! {
    /// Kubernetes taint effect.
    TaintEffect { NoSchedule = "NoSchedule", PreferNoSchedule = "PreferNoSchedule", NoExecute = "NoExecute" }
}

/// Disruption policy of a NodePool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Disruption {
    /// Which nodes may be consolidated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consolidation_policy: Option<ConsolidationPolicy>,
    /// How long after a pod change a node may be consolidated, or `Never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^(([0-9]+(s|m|h))+|Never)$"))]
    pub consolidate_after: Option<String>,
    /// Disruption budgets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub budgets: Vec<Budget>,
}

string_enum! {
    /// Consolidation policy.
    ConsolidationPolicy { WhenEmpty = "WhenEmpty", WhenEmptyOrUnderutilized = "WhenEmptyOrUnderutilized" }
}

/// A disruption budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Budget {
    /// Nodes that may be disrupted at once: a count or a percentage.
    #[schemars(pattern(r"^((100|[0-9]{1,2})%|[0-9]+)$"))]
    pub nodes: String,
    /// Cron schedule when the budget is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// How long the budget is active from each schedule hit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^([0-9]+(s|m|h))+$"))]
    pub duration: Option<String>,
    /// Disruption reasons the budget applies to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<DisruptionReason>,
}

string_enum! {
    /// Disruption reason.
    DisruptionReason { Underutilized = "Underutilized", Empty = "Empty", Drifted = "Drifted" }
}

// ───────────────────────────── NodeClass (eks.amazonaws.com/v1) ─────────────────────────────

/// An EKS Auto Mode NodeClass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeClassSpec {
    /// Node IAM role NAME (not its ARN), at most 64 bytes. Needs an access entry of type
    /// EC2 with AmazonEKSAutoNodePolicy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64), pattern(r"^[\w+=,.@-]+$"))]
    pub role: Option<String>,
    /// Instance profile name (instead of `role`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_profile: Option<String>,
    /// Subnets for nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnet_selector_terms: Vec<SelectorTerm>,
    /// Security groups for nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_group_selector_terms: Vec<SelectorTerm>,
    /// Separate subnets for pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pod_subnet_selector_terms: Vec<SelectorTerm>,
    /// Security groups for pods in the pod subnets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pod_security_group_selector_terms: Vec<SelectorTerm>,
    /// Capacity reservations the nodes may use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capacity_reservation_selector_terms: Vec<CapacityReservationTerm>,
    /// Node ephemeral storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage: Option<EphemeralStorage>,
    /// Default network policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy: Option<NetworkPolicy>,
    /// Network policy event logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy_event_logs: Option<NetworkPolicyEventLogs>,
    /// Source NAT for pod traffic leaving the VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snat_policy: Option<SnatPolicy>,
    /// Advanced networking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advanced_networking: Option<AdvancedNetworking>,
    /// Advanced security.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advanced_security: Option<AdvancedSecurity>,
    /// Extra CA certificates for nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificate_bundles: Vec<CertificateBundle>,
    /// Tags on the EC2 resources (needs tag-propagation permissions on the cluster role).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: Tags,
}

/// A selector by id, name or tags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelectorTerm {
    /// Resource id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Resource name (security groups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tags to match.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// A capacity reservation selector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityReservationTerm {
    /// Reservation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Owner account id.
    #[serde(default, rename = "ownerID", skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// Tags to match.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// Ephemeral storage of Auto Mode nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EphemeralStorage {
    /// Size, e.g. `80Gi` (1–59000Gi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[0-9]+(Gi|G|Ti|T)$"))]
    pub size: Option<String>,
    /// IOPS (3000–16000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 3000, max = 16000))]
    pub iops: Option<u32>,
    /// Throughput in MiB/s (125–1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 125, max = 1000))]
    pub throughput: Option<u32>,
    /// KMS key for volume encryption.
    #[serde(default, rename = "kmsKeyID", skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
}

string_enum! {
    /// Default network policy.
    NetworkPolicy { DefaultAllow = "DefaultAllow", DefaultDeny = "DefaultDeny" }
}

string_enum! {
    /// Network policy event logs.
    NetworkPolicyEventLogs { Disabled = "Disabled", Enabled = "Enabled" }
}

string_enum! {
    /// SNAT policy.
    SnatPolicy { Random = "Random", Disabled = "Disabled" }
}

/// Advanced networking of a NodeClass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvancedNetworking {
    /// Give nodes public IPs.
    #[serde(
        default,
        rename = "associatePublicIPAddress",
        skip_serializing_if = "Option::is_none"
    )]
    pub associate_public_ip_address: Option<bool>,
    /// HTTPS proxy.
    #[serde(
        default,
        rename = "httpsProxy",
        skip_serializing_if = "Option::is_none"
    )]
    pub https_proxy: Option<String>,
    /// Hosts that bypass the proxy.
    #[serde(default, rename = "noProxy", skip_serializing_if = "Vec::is_empty")]
    pub no_proxy: Vec<String>,
    /// IPv4 prefix size: `Auto` or `32`.
    #[serde(
        default,
        rename = "ipv4PrefixSize",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv4_prefix_size: Option<Ipv4PrefixSize>,
}

string_enum! {
    /// IPv4 prefix size.
    Ipv4PrefixSize { Auto = "Auto", Slash32 = "32" }
}

/// Advanced security of a NodeClass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdvancedSecurity {
    /// FIPS-validated AMIs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fips: Option<bool>,
}

/// A CA certificate bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertificateBundle {
    /// Bundle name.
    pub name: String,
    /// PEM data.
    pub data: String,
}
