//! An [`EksApi`] decorator that counts every call by operation and outcome into the
//! daemon's [`Metrics`]; the adapters stay unaware of metrics.
//!
//! ```text
//!  observe / apply ──► CountingEks ──► inner EksApi (sim or aws)
//!                          └──► keelson_eks_api_calls_total{operation,outcome}
//! ```

use std::sync::Arc;

use async_trait::async_trait;

use super::metrics::{outcome, Metrics};
use crate::model::live::*;
use crate::model::*;
use crate::ports::*;

/// Counts the calls it passes on.
pub struct CountingEks {
    inner: Arc<dyn EksApi>,
    metrics: Arc<Metrics>,
}

impl CountingEks {
    /// Wrap `inner`.
    pub fn new(inner: Arc<dyn EksApi>, metrics: Arc<Metrics>) -> CountingEks {
        CountingEks { inner, metrics }
    }
}

macro_rules! counting {
    ($( $name:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty = $op:literal; )*) => {
        #[async_trait]
        impl EksApi for CountingEks {
            $(
                async fn $name(&self, $($arg: $ty),*) -> $ret {
                    let r = self.inner.$name($($arg),*).await;
                    self.metrics.api_call($op, outcome(&r));
                    r
                }
            )*

            fn call_counts(&self) -> std::collections::BTreeMap<String, u64> {
                self.inner.call_counts()
            }
        }
    };
}

counting! {
    list_clusters() -> ApiResult<Vec<String>> = "ListClusters";
    describe_cluster(name: &str) -> ApiResult<LiveCluster> = "DescribeCluster";
    create_cluster(req: &CreateCluster) -> ApiResult<LiveCluster> = "CreateCluster";
    delete_cluster(name: &str) -> ApiResult<()> = "DeleteCluster";
    update_cluster_config(name: &str, change: &ClusterConfigUpdate) -> ApiResult<Update> = "UpdateClusterConfig";
    update_cluster_version(name: &str, version: &str) -> ApiResult<Update> = "UpdateClusterVersion";
    list_updates(cluster: &str, nodegroup: Option<&str>, addon: Option<&str>) -> ApiResult<Vec<String>> = "ListUpdates";
    describe_update(cluster: &str, id: &str, nodegroup: Option<&str>, addon: Option<&str>) -> ApiResult<Update> = "DescribeUpdate";
    tag_resource(arn: &str, tags: &Tags) -> ApiResult<()> = "TagResource";
    untag_resource(arn: &str, keys: &[String]) -> ApiResult<()> = "UntagResource";
    list_addons(cluster: &str) -> ApiResult<Vec<String>> = "ListAddons";
    describe_addon(cluster: &str, name: &str) -> ApiResult<LiveAddon> = "DescribeAddon";
    create_addon(req: &AddonRequest) -> ApiResult<LiveAddon> = "CreateAddon";
    update_addon(req: &AddonRequest) -> ApiResult<Update> = "UpdateAddon";
    delete_addon(cluster: &str, name: &str) -> ApiResult<()> = "DeleteAddon";
    describe_addon_versions(name: &str) -> ApiResult<Vec<AddonVersion>> = "DescribeAddonVersions";
    list_nodegroups(cluster: &str) -> ApiResult<Vec<String>> = "ListNodegroups";
    describe_nodegroup(cluster: &str, name: &str) -> ApiResult<LiveNodeGroup> = "DescribeNodegroup";
    create_nodegroup(req: &CreateNodeGroup) -> ApiResult<LiveNodeGroup> = "CreateNodegroup";
    update_nodegroup_config(req: &NodeGroupConfigUpdate) -> ApiResult<Update> = "UpdateNodegroupConfig";
    update_nodegroup_version(req: &NodeGroupVersionUpdate) -> ApiResult<Update> = "UpdateNodegroupVersion";
    delete_nodegroup(cluster: &str, name: &str) -> ApiResult<()> = "DeleteNodegroup";
    list_fargate_profiles(cluster: &str) -> ApiResult<Vec<String>> = "ListFargateProfiles";
    describe_fargate_profile(cluster: &str, name: &str) -> ApiResult<LiveFargateProfile> = "DescribeFargateProfile";
    create_fargate_profile(req: &CreateFargateProfile) -> ApiResult<LiveFargateProfile> = "CreateFargateProfile";
    delete_fargate_profile(cluster: &str, name: &str) -> ApiResult<()> = "DeleteFargateProfile";
    list_access_entries(cluster: &str) -> ApiResult<Vec<String>> = "ListAccessEntries";
    describe_access_entry(cluster: &str, principal: &str) -> ApiResult<LiveAccessEntry> = "DescribeAccessEntry";
    create_access_entry(req: &CreateAccessEntry) -> ApiResult<()> = "CreateAccessEntry";
    update_access_entry(cluster: &str, principal: &str, groups: &[String], username: Option<&str>) -> ApiResult<()> = "UpdateAccessEntry";
    delete_access_entry(cluster: &str, principal: &str) -> ApiResult<()> = "DeleteAccessEntry";
    associate_access_policy(cluster: &str, principal: &str, policy: &AccessPolicy) -> ApiResult<()> = "AssociateAccessPolicy";
    disassociate_access_policy(cluster: &str, principal: &str, policy_arn: &str) -> ApiResult<()> = "DisassociateAccessPolicy";
    list_pod_identity_associations(cluster: &str) -> ApiResult<Vec<PodIdentitySummary>> = "ListPodIdentityAssociations";
    describe_pod_identity_association(cluster: &str, id: &str) -> ApiResult<LivePodIdentity> = "DescribePodIdentityAssociation";
    create_pod_identity_association(req: &CreatePodIdentity) -> ApiResult<LivePodIdentity> = "CreatePodIdentityAssociation";
    update_pod_identity_association(cluster: &str, id: &str, spec: &PodIdentityAssociationSpec) -> ApiResult<()> = "UpdatePodIdentityAssociation";
    delete_pod_identity_association(cluster: &str, id: &str) -> ApiResult<()> = "DeletePodIdentityAssociation";
    describe_cluster_versions() -> ApiResult<Vec<ClusterVersionInfo>> = "DescribeClusterVersions";
    list_insights(cluster: &str) -> ApiResult<Vec<Insight>> = "ListInsights";
    describe_insight(cluster: &str, id: &str) -> ApiResult<Insight> = "DescribeInsight";
}
