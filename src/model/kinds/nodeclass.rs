//! The EKS Auto Mode NodeClass (`eks.amazonaws.com/v1`).
//!
//! AWS publishes no CRD for it; the fields follow the EKS user guide: "Create a Node Class
//! for Amazon EKS" (create-node-class, Node Class Specification), "Configure advanced
//! security settings for nodes" (auto-advanced-security), "Enable EBS volume encryption
//! with customer managed KMS keys" (auto-kms), and the Auto Mode release notes
//! (auto-change). Ranges the schema cannot state (the ephemeral storage size per unit)
//! and the restricted tags are checked by `config/rules/nodeclass.rs`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Tags;

/// A KMS key as the NodeClass takes it: key id, key ARN, alias name or alias ARN. The
/// partition is `aws` or `aws-` and a suffix (`aws-cn`, `aws-us-gov`, `aws-iso-b`,
/// `aws-eusc`, ...), the region any AWS region name (`eusc-de-east-1`, `us-isob-east-1`).
const KMS_KEY: &str = r"^(arn:aws(-[a-z]+)*:kms:[a-z]+(-[a-z]+)+-[0-9]+:[0-9]{12}:(key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+)|[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+)$";

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
    /// Reservation id, e.g. `cr-56fac701cc1951b03`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The account that owns the reservation (12 digits), for reservations shared with
    /// you. Auto Mode's field is `owner` (create-node-class); `ownerID` is self-managed
    /// Karpenter's EC2NodeClass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[0-9]{12}$"))]
    pub owner: Option<String>,
    /// Tags to match.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// Ephemeral storage of Auto Mode nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EphemeralStorage {
    /// Size, e.g. `80Gi`: 1–59000Gi, 1–64000G, 1–58Ti or 1–64T.
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
    /// KMS key for volume encryption: a key id, a key ARN, an alias name
    /// (`alias/my-key`) or an alias ARN, in any partition (auto-kms).
    #[serde(default, rename = "kmsKeyID", skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(KMS_KEY))]
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
    /// HTTPS proxy URL, at most 255 characters (create-node-class, Node Class
    /// Specification).
    #[serde(
        default,
        rename = "httpsProxy",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(max = 255))]
    pub https_proxy: Option<String>,
    /// Hosts that bypass the proxy: at most 50 entries of at most 255 characters each
    /// (create-node-class, Node Class Specification).
    #[serde(default, rename = "noProxy", skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50), inner(length(max = 255)))]
    pub no_proxy: Vec<String>,
    /// IPv4 prefix size: `Auto` or `32`.
    #[serde(
        default,
        rename = "ipv4PrefixSize",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv4_prefix_size: Option<Ipv4PrefixSize>,
    /// Whether IPv6 pods may send IPv4 traffic out (IPv6 clusters; Auto Mode release
    /// notes, 2026-02-02).
    #[serde(
        default,
        rename = "enableV4Egress",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_v4_egress: Option<bool>,
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
    /// Kernel lockdown mode (auto-advanced-security).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_lockdown: Option<KernelLockdown>,
}

string_enum! {
    /// Kernel lockdown mode: `integrity` blocks unsigned modules and writes to kernel
    /// memory; `none` turns lockdown off.
    KernelLockdown { Integrity = "integrity", None = "none" }
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
