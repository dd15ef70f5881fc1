//! The observed (live) state of a fleet, as read through the ports.
//!
//! Shapes follow the desired-state specs wherever EKS echoes what was sent, so the planner
//! can compare them field by field; fields only AWS sets (status, platform version, ARNs,
//! update ids, the autoscaled node count) live beside them and are never compared.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::kinds::*;

/// Lifecycle status of an EKS resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Being created.
    Creating,
    /// Ready.
    Active,
    /// Being updated.
    Updating,
    /// Being deleted.
    Deleting,
    /// Creation or an update failed.
    Failed,
    /// Degraded (add-ons, node groups).
    Degraded,
}

impl Status {
    /// Whether an operation is running on the resource.
    pub(crate) fn is_busy(self) -> bool {
        matches!(self, Status::Creating | Status::Updating | Status::Deleting)
    }
}

/// Status of an EKS update (DescribeUpdate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub enum UpdateStatus {
    /// Running.
    InProgress,
    /// Finished well.
    Successful,
    /// Finished badly.
    Failed,
    /// Cancelled.
    Cancelled,
}

/// What an update changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub enum UpdateType {
    /// UpdateClusterVersion.
    VersionUpdate,
    /// UpdateClusterVersion to the minor before the running one: EKS's version rollback
    /// (aws-sdk-eks `UpdateType::VersionRollback`; EKS User Guide `rollback-cluster`).
    VersionRollback,
    /// UpdateClusterConfig: endpoint access.
    EndpointAccessUpdate,
    /// UpdateClusterConfig: logging.
    LoggingUpdate,
    /// UpdateClusterConfig: access config.
    AccessConfigUpdate,
    /// UpdateClusterConfig: Auto Mode.
    AutoModeUpdate,
    /// UpdateClusterConfig: upgrade policy.
    UpgradePolicyUpdate,
    /// UpdateClusterConfig: deletion protection.
    DeletionProtectionUpdate,
    /// UpdateClusterConfig: VPC subnets / security groups.
    VpcConfigUpdate,
    /// UpdateClusterConfig: hybrid-node networks.
    RemoteNetworkConfigUpdate,
    /// UpdateClusterConfig: zonal shift.
    ZonalShiftConfigUpdate,
    /// UpdateClusterConfig: Provisioned Control Plane tier.
    ControlPlaneScalingConfigUpdate,
    /// UpdateClusterConfig: control-plane egress mode.
    ControlPlaneEgressUpdate,
    /// UpdateAddon.
    AddonUpdate,
    /// UpdateNodegroupConfig.
    ConfigUpdate,
    /// UpdateNodegroupVersion.
    NodegroupVersionUpdate,
}

/// An EKS update (DescribeUpdate / ListUpdates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Update {
    /// Update id.
    pub id: String,
    /// What it changes.
    #[serde(rename = "type")]
    pub update_type: UpdateType,
    /// Where it stands.
    pub status: UpdateStatus,
    /// Parameters as EKS reports them (e.g. `Version: 1.35`).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Errors, when it failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// A cluster as DescribeCluster reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveCluster {
    /// Name.
    pub name: String,
    /// Region.
    pub region: String,
    /// ARN.
    pub arn: String,
    /// Status.
    pub status: Status,
    /// Kubernetes minor.
    pub version: String,
    /// EKS platform version (AWS-managed).
    #[serde(default)]
    pub platform_version: String,
    /// The API server endpoint.
    #[serde(default)]
    pub endpoint: String,
    /// Base64 CA bundle.
    #[serde(default)]
    pub certificate_authority: String,
    /// Cluster role.
    pub role_arn: String,
    /// VPC configuration.
    pub vpc: VpcConfig,
    /// Kubernetes network.
    #[serde(default)]
    pub kubernetes_network: Option<KubernetesNetwork>,
    /// Auto Mode.
    #[serde(default)]
    pub auto_mode: Option<AutoMode>,
    /// Enabled log types.
    #[serde(default)]
    pub logging: Vec<LogType>,
    /// Access configuration.
    #[serde(default)]
    pub access: Option<AccessConfig>,
    /// Upgrade policy.
    #[serde(default)]
    pub upgrade_policy: Option<UpgradePolicy>,
    /// Deletion protection.
    #[serde(default)]
    pub deletion_protection: bool,
    /// Secrets encryption key.
    #[serde(default)]
    pub secrets_kms_key_arn: Option<String>,
    /// Hybrid-node networks, zonal shift, control-plane tier, Outposts.
    #[serde(flatten)]
    pub settings: ClusterSettings,
    /// Tags, including AWS-added ones.
    #[serde(default)]
    pub tags: Tags,
}

/// An add-on as DescribeAddon reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveAddon {
    /// Add-on name.
    pub name: String,
    /// ARN.
    #[serde(default)]
    pub arn: String,
    /// Installed version.
    pub version: String,
    /// Status.
    pub status: Status,
    /// Configuration values as JSON (EKS stores a string).
    #[serde(default)]
    pub configuration_values: Option<serde_json::Value>,
    /// IRSA role.
    #[serde(default)]
    pub service_account_role_arn: Option<String>,
    /// Pod Identity associations (service account -> role).
    #[serde(default)]
    pub pod_identity_associations: Vec<AddonPodIdentity>,
    /// The namespace it is installed in, when EKS reports one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_config: Option<AddonNamespaceConfig>,
    /// Tags.
    #[serde(default)]
    pub tags: Tags,
}

/// One add-on version and the cluster versions it supports (DescribeAddonVersions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddonVersion {
    /// Version string, e.g. `v1.19.2-eksbuild.1`.
    pub version: String,
    /// Cluster versions it runs on, and whether it is the default there.
    pub compatibilities: Vec<Compatibility>,
}

/// Compatibility of an add-on version with a cluster version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Compatibility {
    /// Cluster minor, e.g. `1.34`.
    pub cluster_version: String,
    /// Whether this is the default version for that cluster version.
    pub default_version: bool,
}

/// A managed node group as DescribeNodegroup reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveNodeGroup {
    /// Name.
    pub name: String,
    /// ARN.
    #[serde(default)]
    pub arn: String,
    /// Status.
    pub status: Status,
    /// The configuration, as sent (with `version` and `releaseVersion` as running).
    pub spec: NodeGroupSpec,
}

/// A Fargate profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveFargateProfile {
    /// Name.
    pub name: String,
    /// ARN.
    #[serde(default)]
    pub arn: String,
    /// Status.
    pub status: Status,
    /// The configuration.
    pub spec: FargateProfileSpec,
}

/// An access entry with its associated policies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveAccessEntry {
    /// ARN.
    #[serde(default)]
    pub arn: String,
    /// The configuration (principal, type, groups, username, policies, tags).
    pub spec: AccessEntrySpec,
}

/// A Pod Identity association.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LivePodIdentity {
    /// Association id.
    pub association_id: String,
    /// ARN.
    #[serde(default)]
    pub arn: String,
    /// The configuration.
    pub spec: PodIdentityAssociationSpec,
}

/// Everything observed about one cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedCluster {
    /// The cluster itself.
    pub cluster: LiveCluster,
    /// Updates still running.
    #[serde(default)]
    pub updates_in_progress: Vec<Update>,
    /// Add-ons by name.
    #[serde(default)]
    pub addons: BTreeMap<String, LiveAddon>,
    /// Node groups by name.
    #[serde(default)]
    pub node_groups: BTreeMap<String, LiveNodeGroup>,
    /// Fargate profiles by name.
    #[serde(default)]
    pub fargate_profiles: BTreeMap<String, LiveFargateProfile>,
    /// Access entries by principal ARN.
    #[serde(default)]
    pub access_entries: BTreeMap<String, LiveAccessEntry>,
    /// Pod Identity associations by `namespace/serviceAccount`.
    #[serde(default)]
    pub pod_identities: BTreeMap<String, LivePodIdentity>,
    /// Kubernetes objects keelson manages (NodePool, NodeClass, IngressClassParams,
    /// IngressClass, StorageClass), by `Kind/name`.
    #[serde(default)]
    pub kube_objects: BTreeMap<String, serde_json::Value>,
    /// The bootstrap manifests keelson applied, and what the API server serves; `None`
    /// when not read (no bootstrap manifests in git and no Auto Mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<ObservedBootstrap>,
    /// What an upgrade needs to know, read only when a version change is pending (or for
    /// `keelson check`); `None` when not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<UpgradeSignals>,
}

/// The live signals the upgrade gates judge: EKS insights, the API versions objects were
/// written with, and the kubelets EKS does not upgrade itself.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeSignals {
    /// EKS upgrade insights (ListInsights, and DescribeInsight for those not passing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub insights: Vec<Insight>,
    /// API versions in use: Helm release records, last-applied annotations, managedFields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_uses: Vec<ApiUse>,
    /// Self-managed nodes (not in a managed node group, not Auto Mode, not Fargate) by
    /// name, with their kubelet's minor.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub self_managed_nodes: BTreeMap<String, String>,
    /// Signals that could not be read, and why (the gates report them as unknown).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
    /// Deployed Helm releases whose chart declares `kubeVersion`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub helm_charts: Vec<HelmChart>,
}

/// A deployed Helm release whose chart declares the Kubernetes versions it supports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmChart {
    /// Release name.
    pub release: String,
    /// Its namespace.
    pub namespace: String,
    /// Deployed revision.
    pub revision: u64,
    /// `name-version` of the chart.
    pub chart: String,
    /// The chart's `kubeVersion` constraint, as written.
    pub kube_version: String,
}

/// One use of a Kubernetes API version found in a live cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiUse {
    /// `helm-manifest`, `helm-hook`, `last-applied` or `managed-fields`.
    pub signal: String,
    /// The apiVersion used.
    pub api_version: String,
    /// The kind.
    pub kind: String,
    /// Namespace of the object, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name of the object, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where it was seen, e.g. `helm release web (revision 3) in namespace shop`.
    pub source: String,
}

/// Tag keelson sets on a cluster while a version hop runs: `FROM-TO`, e.g. `1.33-1.34`.
pub const UPGRADING_TAG: &str = "keelson.dev/upgrading";

/// Prefix of the tags recording completed version hops: `keelson.dev/upgraded-1.33-1.34`
/// = `t=<unix seconds> <addon>=<version> ...`. Later stages read them to know that a
/// transition succeeded earlier and for how long it has soaked.
pub(crate) const TRANSITION_TAG_PREFIX: &str = "keelson.dev/upgraded-";

/// Transition records kept on a cluster: EKS allows 50 tags, and these count.
pub(crate) const TRANSITIONS_KEPT: usize = 4;

/// The most tags keelson holds on one cluster at a time: the marker, the in-progress
/// tag, the kept records and the new record written before the oldest is removed. The
/// user's tags share the API's 50 with these.
pub(crate) const KEELSON_CLUSTER_TAGS: usize = 1 + 1 + TRANSITIONS_KEPT + 1;

/// The observed state of every cluster the plan looks at.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveState {
    /// Clusters by name. A cluster in git but absent here does not exist yet.
    pub clusters: BTreeMap<String, ObservedCluster>,
    /// The add-on catalog (DescribeAddonVersions) for every add-on in use, by name.
    #[serde(default)]
    pub addon_versions: BTreeMap<String, Vec<AddonVersion>>,
    /// The versions the target offers, with their support dates (DescribeClusterVersions),
    /// read when an upgrade is judged; empty when not read or not implemented by the
    /// endpoint (the built-in calendar then serves).
    #[serde(default)]
    pub cluster_versions: Vec<ClusterVersionInfo>,
    /// Clusters of the repository whose live state could not be read, with why (denied,
    /// an assumed role refused, ...): each is that cluster's problem, planned as blocked,
    /// while the rest of the fleet is planned as usual.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unreadable: BTreeMap<String, String>,
}

/// The tag keelson puts on every cluster it creates: only clusters carrying it are ever
/// considered for deletion.
pub const MANAGED_TAG: &str = "keelson.dev/fleet";

/// The annotation on a Cluster document that adopts the cluster's resources lacking
/// [`MANAGED_TAG`]: the next apply adds the marker to them (as the Fleet's
/// `policy.adoptUnmanaged` does for every cluster).
pub const ADOPT_ANNOTATION: &str = "keelson.dev/adopt";

/// The label keelson puts on Kubernetes objects it applies: only objects carrying it are
/// ever pruned.
pub const MANAGED_LABEL: &str = "app.kubernetes.io/managed-by";

/// The label keelson puts, besides [`MANAGED_LABEL`], on the objects of a cluster's
/// `bootstrap/` directory: observe lists them by it.
pub const BOOTSTRAP_LABEL: &str = "keelson.dev/bootstrap";

/// Live bootstrap state of one cluster.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedBootstrap {
    /// Group/versions the API server serves (discovery), e.g. `rbac.authorization.k8s.io/v1`.
    pub served: Vec<String>,
    /// The kinds keelson's inventory records as applied (`apiVersion kind`), `None` when
    /// there is no inventory yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<Vec<String>>,
    /// Objects carrying [`BOOTSTRAP_LABEL`] and [`MANAGED_LABEL`], by the step name
    /// `plan/bootstrap.rs` gives them.
    #[serde(default)]
    pub objects: BTreeMap<String, serde_json::Value>,
}

/// The server-side apply field manager keelson uses.
pub const FIELD_MANAGER: &str = "keelson";

/// One Kubernetes version EKS offers (DescribeClusterVersions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterVersionInfo {
    /// Minor, e.g. `1.34`.
    pub version: String,
    /// `STANDARD_SUPPORT`, `EXTENDED_SUPPORT` or `UNSUPPORTED`.
    pub status: String,
    /// Whether new clusters get it by default.
    pub default_version: bool,
    /// Release date (`YYYY-MM-DD`), when known.
    #[serde(default)]
    pub release_date: Option<String>,
    /// End of standard support (`YYYY-MM-DD`), when known.
    #[serde(default)]
    pub end_of_standard_support: Option<String>,
    /// End of extended support (`YYYY-MM-DD`), when known.
    #[serde(default)]
    pub end_of_extended_support: Option<String>,
}

/// Status of an EKS insight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InsightStatus {
    /// Nothing to do.
    Passing,
    /// Breaks a later minor.
    Warning,
    /// Breaks the next minor.
    Error,
    /// Not evaluated.
    Unknown,
}

/// An EKS insight (ListInsights / DescribeInsight).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Insight {
    /// Insight id.
    pub id: String,
    /// Short name.
    pub name: String,
    /// `UPGRADE_READINESS` or `MISCONFIGURATION`.
    pub category: String,
    /// The Kubernetes minor it is about.
    #[serde(default)]
    pub kubernetes_version: Option<String>,
    /// Status.
    pub status: InsightStatus,
    /// Why it has that status.
    #[serde(default)]
    pub reason: String,
    /// What it checks.
    #[serde(default)]
    pub description: String,
    /// What to do (DescribeInsight only).
    #[serde(default)]
    pub recommendation: Option<String>,
    /// Deprecated APIs in use (DescribeInsight of the deprecated-API insight only):
    /// `usage` (e.g. `/apis/policy/v1beta1/poddisruptionbudgets`) → replacement.
    #[serde(default)]
    pub deprecations: Vec<(String, String)>,
}
