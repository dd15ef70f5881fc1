//! The ports: everything keelson asks of AWS and Kubernetes, as two traits with a real
//! implementation (aws-sdk-eks, kube-rs) and the embedded simulator.
//!
//! ```text
//!  observe ─┐                    ┌─► adapters::sim  (file-backed, virtual time)
//!  apply   ─┼─► EksApi / KubeApi ┤
//!  upgrade ─┘                    └─► adapters::aws, adapters::kube (real clients)
//! ```
//!
//! The EKS port mirrors the EKS API call for call, so that the real adapter is a thin
//! translation and call counts mean the same thing on every implementation.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::model::live::*;
use crate::model::*;

/// An error from an EKS or Kubernetes call, classified for the retry policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ApiError {
    /// The resource does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The resource exists or is busy (another update runs, a create is in flight).
    #[error("resource in use: {0}")]
    ResourceInUse(String),
    /// A parameter is not acceptable (unsupported version, bad combination).
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// The request is not allowed in the resource's current state.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Too many requests; retry later.
    #[error("throttled: {0}")]
    Throttled(String),
    /// The service failed (5xx); retry later.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// Credentials are missing, expired or lack a permission.
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// The endpoint does not implement the operation (third-party EKS implementations
    /// such as moto's; never AWS itself).
    #[error("not implemented by this endpoint: {0}")]
    NotImplemented(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl ApiError {
    /// Whether retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, ApiError::Throttled(_) | ApiError::Unavailable(_))
    }
}

/// Result of a port call.
pub type ApiResult<T> = Result<T, ApiError>;

/// CreateCluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateCluster {
    /// Cluster name.
    pub name: String,
    /// Desired configuration.
    pub spec: ClusterSpec,
    /// Tags, including keelson's marker.
    pub tags: Tags,
    /// Idempotency token.
    pub client_request_token: String,
}

/// One UpdateClusterConfig call: EKS accepts one kind of change per call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "type"
)]
pub enum ClusterConfigUpdate {
    /// Control-plane logging.
    Logging {
        /// Log types to enable (the others are disabled).
        enabled: Vec<LogType>,
    },
    /// API endpoint access.
    EndpointAccess {
        /// Public endpoint.
        public: bool,
        /// Private endpoint.
        private: bool,
        /// Allowed CIDRs for the public endpoint.
        #[serde(alias = "public_access_cidrs")]
        public_access_cidrs: Vec<String>,
    },
    /// Control-plane subnets and security groups.
    Vpc {
        /// Subnets.
        #[serde(alias = "subnet_ids")]
        subnet_ids: Vec<String>,
        /// Security groups.
        #[serde(alias = "security_group_ids")]
        security_group_ids: Vec<String>,
    },
    /// Authentication mode.
    Access {
        /// New mode.
        #[serde(alias = "authentication_mode")]
        authentication_mode: AuthenticationMode,
    },
    /// Auto Mode capabilities, switched together.
    AutoMode {
        /// New Auto Mode configuration.
        #[serde(alias = "auto_mode")]
        auto_mode: AutoMode,
    },
    /// Support type.
    UpgradePolicy {
        /// New support type.
        #[serde(alias = "support_type")]
        support_type: SupportType,
    },
    /// Deletion protection.
    DeletionProtection {
        /// On or off.
        enabled: bool,
    },
    /// Hybrid-node networks (`remoteNetworkConfig`).
    RemoteNetwork {
        /// The networks; empty lists remove them.
        #[serde(alias = "remote_network_config")]
        remote_network_config: RemoteNetworkConfig,
    },
    /// Zonal shift.
    ZonalShift {
        /// On or off.
        enabled: bool,
    },
    /// Provisioned Control Plane tier.
    ControlPlaneScaling {
        /// New tier.
        tier: ControlPlaneTier,
    },
    /// Control-plane egress mode (`resourcesVpcConfig.controlPlaneEgressMode`).
    ControlPlaneEgress {
        /// New mode.
        mode: ControlPlaneEgressMode,
    },
}

impl ClusterConfigUpdate {
    /// The update type EKS reports for this change.
    pub fn update_type(&self) -> UpdateType {
        match self {
            ClusterConfigUpdate::Logging { .. } => UpdateType::LoggingUpdate,
            ClusterConfigUpdate::EndpointAccess { .. } => UpdateType::EndpointAccessUpdate,
            ClusterConfigUpdate::Vpc { .. } => UpdateType::VpcConfigUpdate,
            ClusterConfigUpdate::Access { .. } => UpdateType::AccessConfigUpdate,
            ClusterConfigUpdate::AutoMode { .. } => UpdateType::AutoModeUpdate,
            ClusterConfigUpdate::UpgradePolicy { .. } => UpdateType::UpgradePolicyUpdate,
            ClusterConfigUpdate::DeletionProtection { .. } => UpdateType::DeletionProtectionUpdate,
            ClusterConfigUpdate::RemoteNetwork { .. } => UpdateType::RemoteNetworkConfigUpdate,
            ClusterConfigUpdate::ZonalShift { .. } => UpdateType::ZonalShiftConfigUpdate,
            ClusterConfigUpdate::ControlPlaneScaling { .. } => {
                UpdateType::ControlPlaneScalingConfigUpdate
            }
            ClusterConfigUpdate::ControlPlaneEgress { .. } => UpdateType::ControlPlaneEgressUpdate,
        }
    }
}

/// CreateAddon / UpdateAddon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddonRequest {
    /// Cluster.
    pub cluster: String,
    /// Add-on name.
    pub name: String,
    /// Exact version (keywords already resolved).
    pub version: String,
    /// Configuration values as JSON.
    pub configuration_values: Option<serde_json::Value>,
    /// IRSA role.
    pub service_account_role_arn: Option<String>,
    /// Pod Identity associations.
    pub pod_identity_associations: Vec<AddonPodIdentity>,
    /// Conflict resolution.
    pub resolve_conflicts: Option<ResolveConflicts>,
    /// Namespace to install in (create only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_config: Option<AddonNamespaceConfig>,
    /// Tags (create only).
    pub tags: Tags,
    /// Idempotency token.
    pub client_request_token: String,
}

/// CreateNodegroup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateNodeGroup {
    /// Cluster.
    pub cluster: String,
    /// Node group name.
    pub name: String,
    /// Configuration; `version` is always set.
    pub spec: NodeGroupSpec,
    /// Idempotency token.
    pub client_request_token: String,
}

/// UpdateNodegroupConfig.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeGroupConfigUpdate {
    /// Cluster.
    pub cluster: String,
    /// Node group.
    pub name: String,
    /// New scaling bounds (desired size only when it must move into the bounds).
    pub scaling: Option<Scaling>,
    /// New labels (replaces the set).
    pub labels: Option<std::collections::BTreeMap<String, String>>,
    /// New taints (replaces the set).
    pub taints: Option<Vec<NodeGroupTaint>>,
    /// New update config.
    pub update_config: Option<UpdateConfig>,
    /// New node auto repair configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_repair_config: Option<NodeRepairConfig>,
    /// New warm pool configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warm_pool_config: Option<WarmPoolConfig>,
    /// Idempotency token.
    pub client_request_token: String,
}

/// UpdateNodegroupVersion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeGroupVersionUpdate {
    /// Cluster.
    pub cluster: String,
    /// Node group.
    pub name: String,
    /// Kubernetes minor.
    pub version: String,
    /// AMI release version, if pinned.
    pub release_version: Option<String>,
    /// Launch template version, if any.
    pub launch_template: Option<LaunchTemplate>,
    /// Idempotency token.
    pub client_request_token: String,
}

/// CreateFargateProfile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateFargateProfile {
    /// Cluster.
    pub cluster: String,
    /// Profile name.
    pub name: String,
    /// Configuration.
    pub spec: FargateProfileSpec,
    /// Idempotency token.
    pub client_request_token: String,
}

/// CreateAccessEntry (policies are associated separately).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAccessEntry {
    /// Cluster.
    pub cluster: String,
    /// Principal, type, groups, username, tags (policies ignored here).
    pub spec: AccessEntrySpec,
    /// Idempotency token.
    pub client_request_token: String,
}

/// CreatePodIdentityAssociation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePodIdentity {
    /// Cluster.
    pub cluster: String,
    /// Configuration.
    pub spec: PodIdentityAssociationSpec,
    /// Idempotency token.
    pub client_request_token: String,
}

/// A Pod Identity association as ListPodIdentityAssociations reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodIdentitySummary {
    /// Association id.
    pub association_id: String,
    /// Namespace.
    pub namespace: String,
    /// Service account.
    pub service_account: String,
}

/// A cluster name as ListClusters returned it, with where it was listed: EKS names are
/// unique per account and region only.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ListedCluster {
    /// Cluster name.
    pub name: String,
    /// The region listed (`None`: the implementation has one location).
    pub region: Option<String>,
    /// The role assumed to list it (`None`: the caller's own credentials).
    pub role: Option<String>,
}

/// Where an insights refresh stands (DescribeInsightsRefresh; aws-sdk-eks
/// `InsightsRefreshStatus`: `IN_PROGRESS | FAILED | COMPLETED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefreshStatus {
    /// EKS is re-evaluating the cluster's insights.
    InProgress,
    /// The refresh failed; the insights are the earlier ones.
    Failed,
    /// The insights are fresh.
    Completed,
}

/// An insights refresh (StartInsightsRefresh / DescribeInsightsRefresh).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InsightsRefresh {
    /// Where it stands.
    pub status: RefreshStatus,
    /// EKS's message, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When it started, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    /// When it ended, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<i64>,
}

/// The EKS API, as keelson uses it.
#[async_trait]
pub trait EksApi: Send + Sync {
    /// ListClusters (all pages).
    async fn list_clusters(&self) -> ApiResult<Vec<String>>;
    /// DescribeCluster.
    async fn describe_cluster(&self, name: &str) -> ApiResult<LiveCluster>;
    /// CreateCluster.
    async fn create_cluster(&self, req: &CreateCluster) -> ApiResult<LiveCluster>;
    /// DeleteCluster.
    async fn delete_cluster(&self, name: &str) -> ApiResult<()>;
    /// UpdateClusterConfig.
    async fn update_cluster_config(
        &self,
        name: &str,
        change: &ClusterConfigUpdate,
    ) -> ApiResult<Update>;
    /// UpdateClusterVersion.
    async fn update_cluster_version(&self, name: &str, version: &str) -> ApiResult<Update>;
    /// ListUpdates (ids) for a cluster, or one of its node groups or add-ons.
    async fn list_updates(
        &self,
        cluster: &str,
        nodegroup: Option<&str>,
        addon: Option<&str>,
    ) -> ApiResult<Vec<String>>;
    /// DescribeUpdate.
    async fn describe_update(
        &self,
        cluster: &str,
        id: &str,
        nodegroup: Option<&str>,
        addon: Option<&str>,
    ) -> ApiResult<Update>;
    /// TagResource.
    async fn tag_resource(&self, arn: &str, tags: &Tags) -> ApiResult<()>;
    /// UntagResource.
    async fn untag_resource(&self, arn: &str, keys: &[String]) -> ApiResult<()>;

    /// ListAddons.
    async fn list_addons(&self, cluster: &str) -> ApiResult<Vec<String>>;
    /// DescribeAddon.
    async fn describe_addon(&self, cluster: &str, name: &str) -> ApiResult<LiveAddon>;
    /// CreateAddon.
    async fn create_addon(&self, req: &AddonRequest) -> ApiResult<LiveAddon>;
    /// UpdateAddon.
    async fn update_addon(&self, req: &AddonRequest) -> ApiResult<Update>;
    /// DeleteAddon.
    async fn delete_addon(&self, cluster: &str, name: &str) -> ApiResult<()>;
    /// DescribeAddonVersions for one add-on, every cluster version.
    async fn describe_addon_versions(&self, name: &str) -> ApiResult<Vec<AddonVersion>>;

    /// ListNodegroups.
    async fn list_nodegroups(&self, cluster: &str) -> ApiResult<Vec<String>>;
    /// DescribeNodegroup.
    async fn describe_nodegroup(&self, cluster: &str, name: &str) -> ApiResult<LiveNodeGroup>;
    /// CreateNodegroup.
    async fn create_nodegroup(&self, req: &CreateNodeGroup) -> ApiResult<LiveNodeGroup>;
    /// UpdateNodegroupConfig.
    async fn update_nodegroup_config(&self, req: &NodeGroupConfigUpdate) -> ApiResult<Update>;
    /// UpdateNodegroupVersion.
    async fn update_nodegroup_version(&self, req: &NodeGroupVersionUpdate) -> ApiResult<Update>;
    /// DeleteNodegroup.
    async fn delete_nodegroup(&self, cluster: &str, name: &str) -> ApiResult<()>;

    /// ListFargateProfiles.
    async fn list_fargate_profiles(&self, cluster: &str) -> ApiResult<Vec<String>>;
    /// DescribeFargateProfile.
    async fn describe_fargate_profile(
        &self,
        cluster: &str,
        name: &str,
    ) -> ApiResult<LiveFargateProfile>;
    /// CreateFargateProfile.
    async fn create_fargate_profile(
        &self,
        req: &CreateFargateProfile,
    ) -> ApiResult<LiveFargateProfile>;
    /// DeleteFargateProfile.
    async fn delete_fargate_profile(&self, cluster: &str, name: &str) -> ApiResult<()>;

    /// ListAccessEntries (principal ARNs).
    async fn list_access_entries(&self, cluster: &str) -> ApiResult<Vec<String>>;
    /// DescribeAccessEntry plus ListAssociatedAccessPolicies.
    async fn describe_access_entry(
        &self,
        cluster: &str,
        principal: &str,
    ) -> ApiResult<LiveAccessEntry>;
    /// CreateAccessEntry.
    async fn create_access_entry(&self, req: &CreateAccessEntry) -> ApiResult<()>;
    /// UpdateAccessEntry (groups and username).
    async fn update_access_entry(
        &self,
        cluster: &str,
        principal: &str,
        groups: &[String],
        username: Option<&str>,
    ) -> ApiResult<()>;
    /// DeleteAccessEntry.
    async fn delete_access_entry(&self, cluster: &str, principal: &str) -> ApiResult<()>;
    /// AssociateAccessPolicy.
    async fn associate_access_policy(
        &self,
        cluster: &str,
        principal: &str,
        policy: &AccessPolicy,
    ) -> ApiResult<()>;
    /// DisassociateAccessPolicy.
    async fn disassociate_access_policy(
        &self,
        cluster: &str,
        principal: &str,
        policy_arn: &str,
    ) -> ApiResult<()>;

    /// ListPodIdentityAssociations.
    async fn list_pod_identity_associations(
        &self,
        cluster: &str,
    ) -> ApiResult<Vec<PodIdentitySummary>>;
    /// DescribePodIdentityAssociation.
    async fn describe_pod_identity_association(
        &self,
        cluster: &str,
        id: &str,
    ) -> ApiResult<LivePodIdentity>;
    /// CreatePodIdentityAssociation.
    async fn create_pod_identity_association(
        &self,
        req: &CreatePodIdentity,
    ) -> ApiResult<LivePodIdentity>;
    /// UpdatePodIdentityAssociation.
    async fn update_pod_identity_association(
        &self,
        cluster: &str,
        id: &str,
        spec: &PodIdentityAssociationSpec,
    ) -> ApiResult<()>;
    /// DeletePodIdentityAssociation.
    async fn delete_pod_identity_association(&self, cluster: &str, id: &str) -> ApiResult<()>;

    /// DescribeClusterVersions: the versions EKS offers and their support calendar.
    async fn describe_cluster_versions(&self) -> ApiResult<Vec<ClusterVersionInfo>>;
    /// ListInsights (all pages) for a cluster.
    async fn list_insights(&self, cluster: &str) -> ApiResult<Vec<Insight>>;
    /// DescribeInsight: one insight with its recommendation and details.
    async fn describe_insight(&self, cluster: &str, id: &str) -> ApiResult<Insight>;

    // ── Where clusters live (foreign clusters, many regions and accounts) ──

    /// ListClusters everywhere the fleet lives, each name with the region and assumed role
    /// it was listed through. The same name may be listed in several places.
    /// Implementations with one location report none.
    async fn list_clusters_located(&self) -> ApiResult<Vec<ListedCluster>> {
        Ok(self
            .list_clusters()
            .await?
            .into_iter()
            .map(|name| ListedCluster {
                name,
                region: None,
                role: None,
            })
            .collect())
    }
    /// DescribeCluster where `at` was listed (not where the repository puts its name).
    async fn describe_listed(&self, at: &ListedCluster) -> ApiResult<LiveCluster> {
        self.describe_cluster(&at.name).await
    }
    /// From now on, calls on `at.name` go where it was listed: a cluster keelson created
    /// that git no longer names (to be read and deleted where it is).
    fn locate(&self, _at: &ListedCluster) {}
    // ── Version rollback and fresh insights (EKS 2026: API_CancelUpdate,
    // ── API_StartInsightsRefresh, API_DescribeInsightsRefresh) ──
    /// CancelUpdate: EKS accepts it only for a `VersionRollback` of an Auto Mode cluster
    /// while its nodes roll back.
    async fn cancel_update(&self, cluster: &str, id: &str) -> ApiResult<Update>;
    /// StartInsightsRefresh.
    async fn start_insights_refresh(&self, cluster: &str) -> ApiResult<InsightsRefresh>;
    /// DescribeInsightsRefresh.
    async fn describe_insights_refresh(&self, cluster: &str) -> ApiResult<InsightsRefresh>;

    /// Calls made so far through this client, by operation name (for `KEELSON_STATS`
    /// and benchmarks). Implementations that do not count return nothing.
    fn call_counts(&self) -> std::collections::BTreeMap<String, u64> {
        std::collections::BTreeMap::new()
    }
}

/// The Kubernetes API of one cluster, as keelson uses it.
#[async_trait]
pub trait KubeApi: Send + Sync {
    /// `major.minor` of the API server.
    async fn server_version(&self, cluster: &str) -> ApiResult<String>;
    /// Group/versions the API server serves (discovery), e.g. `apps/v1`.
    async fn served_versions(&self, cluster: &str) -> ApiResult<Vec<String>>;
    /// List objects of a kind, optionally filtered by a `key=value` label selector.
    async fn list(
        &self,
        cluster: &str,
        api_version: &str,
        kind: &str,
        label_selector: Option<&str>,
    ) -> ApiResult<Vec<serde_json::Value>>;
    /// Server-side apply of one object with a named field manager.
    async fn apply(
        &self,
        cluster: &str,
        object: &serde_json::Value,
        field_manager: &str,
    ) -> ApiResult<serde_json::Value>;
    /// Delete one object, of a namespaced kind in `namespace`, or cluster-scoped
    /// (`namespace: None`).
    async fn delete_in(
        &self,
        cluster: &str,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> ApiResult<()>;
}

/// Time, real or virtual: the executor waits through this so that the simulator can run
/// a 15-minute update in milliseconds.
#[async_trait]
pub trait Clock: Send + Sync {
    /// Seconds since the Unix epoch.
    fn now(&self) -> i64;
    /// Wait `secs` seconds.
    async fn sleep(&self, secs: u64);
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }

    async fn sleep(&self, secs: u64) {
        tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
    }
}
