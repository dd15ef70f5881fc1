//! The Cluster: version, networking, Auto Mode, access and logging.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{is_false, Tags};
use crate::model::limits::{tag_map_schema, ROLE_ARN_PATTERN};

/// An EKS cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterSpec {
    /// AWS region of any partition, e.g. `ap-northeast-1`, `us-gov-west-1`, `eusc-de-east-1`.
    #[schemars(pattern(r"^[a-z]{2}([a-z]{2})?(-[a-z]{2})?(-gov|-iso[a-z]*)?-[a-z]+-[0-9]+$"))]
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
    #[schemars(pattern(ROLE_ARN_PATTERN))]
    pub operator_role_arn: Option<String>,
    /// ARN of the cluster IAM role.
    #[schemars(pattern(ROLE_ARN_PATTERN))]
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
    #[schemars(transform = tag_map_schema)]
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
    /// CIDRs allowed to reach the public endpoint: IPv4, and IPv6 on `ipv6` clusters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(pattern(
        r"^([0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*/[0-9]{1,3})$"
    )))]
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
    #[schemars(pattern(ROLE_ARN_PATTERN))]
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
