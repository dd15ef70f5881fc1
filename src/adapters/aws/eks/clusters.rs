//! Clusters: create, describe, change, delete; their updates and tags; the version
//! calendar and upgrade insights.

use std::collections::BTreeSet;

use aws_sdk_eks::types as sdk;

use super::convert::*;
use super::errors::{Call, OrApiError};
use super::fields;
use super::AwsEks;
use crate::model::live::*;
use crate::model::*;
use crate::ports::*;

pub(super) async fn list_clusters(eks: &AwsEks) -> ApiResult<Vec<String>> {
    let listed = list_clusters_located(eks).await?;
    let names: BTreeSet<String> = listed.into_iter().map(|l| l.name).collect();
    Ok(names.into_iter().collect())
}

/// ListClusters through every (region, role) route the fleet uses. A route that cannot be
/// listed is warned about and skipped: it hides only the clusters behind it (which are
/// then neither discovered nor deleted); when no route can be listed, the first error is
/// the answer.
pub(super) async fn list_clusters_located(eks: &AwsEks) -> ApiResult<Vec<ListedCluster>> {
    let mut listed = Vec::new();
    let mut first_error = None;
    let mut listed_somewhere = false;
    let routes = eks.listing_routes();
    let several = routes.len() > 1;
    for (region, role) in routes {
        let call = Call {
            op: "ListClusters",
            what: match &role {
                Some(r) => format!("clusters (as {r})"),
                None => "clusters".into(),
            },
            region: region.clone(),
        };
        let client = eks.client(&region, role.as_deref());
        let page: Result<Vec<String>, ApiError> = client
            .list_clusters()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .or_api_error(&call);
        match page {
            Ok(names) => {
                listed_somewhere = true;
                listed.extend(names.into_iter().map(|name| ListedCluster {
                    name,
                    region: Some(region.clone()),
                    role: role.clone(),
                }));
            }
            Err(e) if several => {
                tracing::warn!(%region, role, "{e}; clusters listed there are not looked at");
                first_error.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    match first_error {
        Some(e) if !listed_somewhere => Err(e),
        _ => Ok(listed),
    }
}

/// DescribeCluster in the region and as the role the cluster was listed with.
pub(super) async fn describe_listed(eks: &AwsEks, at: &ListedCluster) -> ApiResult<LiveCluster> {
    let (region, role) = match &at.region {
        Some(r) => (r.clone(), at.role.clone()),
        None => eks.route_for(&at.name),
    };
    let call = Call {
        op: "DescribeCluster",
        what: format!("cluster {}", at.name),
        region: region.clone(),
    };
    tracing::debug!(op = call.op, cluster = at.name, %region, role, "EKS call");
    let out = eks
        .client(&region, role.as_deref())
        .describe_cluster()
        .name(&at.name)
        .send()
        .await
        .or_api_error(&call)?;
    let c = call.answer(out.cluster(), "cluster")?;
    Ok(live_cluster(c, &at.name, &region))
}

pub(super) async fn describe_cluster(eks: &AwsEks, name: &str) -> ApiResult<LiveCluster> {
    let (client, call) = eks.on_cluster("DescribeCluster", name, format!("cluster {name}"));
    let out = client
        .describe_cluster()
        .name(name)
        .send()
        .await
        .or_api_error(&call)?;
    let c = call.answer(out.cluster(), "cluster")?;
    Ok(live_cluster(c, name, &call.region))
}

pub(super) async fn create_cluster(eks: &AwsEks, req: &CreateCluster) -> ApiResult<LiveCluster> {
    let spec = &req.spec;
    let region = spec.region.clone();
    let (client, call) = eks.in_region(
        "CreateCluster",
        region,
        Some(&req.name),
        format!("cluster {}", req.name),
    );
    let mut b = client
        .create_cluster()
        .name(&req.name)
        .version(&spec.version)
        .role_arn(&spec.role_arn)
        .resources_vpc_config(vpc_request(&spec.vpc))
        .set_kubernetes_network_config(network_request(
            spec.kubernetes_network.as_ref(),
            spec.auto_mode.as_ref(),
        ))
        .set_tags(hash_map(&req.tags))
        .client_request_token(&req.client_request_token);
    if !spec.logging.is_empty() {
        b = b.logging(logging_request(&spec.logging, false));
    }
    if let Some(a) = &spec.access {
        b = b.access_config(
            sdk::CreateAccessConfigRequest::builder()
                .authentication_mode(sdk::AuthenticationMode::from(
                    a.authentication_mode.as_str(),
                ))
                .set_bootstrap_cluster_creator_admin_permissions(
                    a.bootstrap_cluster_creator_admin_permissions,
                )
                .build(),
        );
    }
    if let Some(u) = &spec.upgrade_policy {
        b = b.upgrade_policy(
            sdk::UpgradePolicyRequest::builder()
                .support_type(sdk::SupportType::from(u.support_type.as_str()))
                .build(),
        );
    }
    if let Some(a) = &spec.auto_mode {
        b = b
            .compute_config(compute_request(a))
            .storage_config(storage_request(a));
        // Auto Mode runs VPC CNI, kube-proxy and CoreDNS itself: do not also install
        // the self-managed copies EKS bootstraps by default (unless git says otherwise).
        if a.compute.enabled && spec.bootstrap_self_managed_addons.is_none() {
            b = b.bootstrap_self_managed_addons(false);
        }
    }
    if let Some(v) = spec.bootstrap_self_managed_addons {
        b = b.bootstrap_self_managed_addons(v);
    }
    if let Some(r) = &spec.remote_network_config {
        b = b.remote_network_config(fields::remote_network_request(r));
    }
    if let Some(z) = spec.zonal_shift_config {
        b = b.zonal_shift_config(fields::zonal_shift_request(z.enabled));
    }
    if let Some(t) = spec.control_plane_scaling_config {
        b = b.control_plane_scaling_config(fields::scaling_request(t.tier));
    }
    if let Some(o) = &spec.outpost_config {
        let o = fields::outpost_request(o)
            .map_err(|e| call.other(format!("the Outposts configuration is incomplete: {e}")))?;
        b = b.outpost_config(o);
    }
    if spec.deletion_protection {
        b = b.deletion_protection(true);
    }
    if let Some(key) = &spec.secrets_kms_key_arn {
        b = b.encryption_config(secrets_encryption(key));
    }
    let out = b.send().await.or_api_error(&call)?;
    let c = call.answer(out.cluster(), "cluster")?;
    Ok(live_cluster(c, &req.name, &call.region))
}

pub(super) async fn delete_cluster(eks: &AwsEks, name: &str) -> ApiResult<()> {
    let (client, call) = eks.on_cluster("DeleteCluster", name, format!("cluster {name}"));
    client
        .delete_cluster()
        .name(name)
        .send()
        .await
        .or_api_error(&call)?;
    Ok(())
}

pub(super) async fn update_cluster_config(
    eks: &AwsEks,
    name: &str,
    change: &ClusterConfigUpdate,
) -> ApiResult<Update> {
    let (client, call) = eks.on_cluster("UpdateClusterConfig", name, format!("cluster {name}"));
    let b = client.update_cluster_config().name(name);
    let b = match change {
        ClusterConfigUpdate::Logging { enabled } => b.logging(logging_request(enabled, true)),
        ClusterConfigUpdate::EndpointAccess {
            public,
            private,
            public_access_cidrs,
        } => b.resources_vpc_config(
            sdk::VpcConfigRequest::builder()
                .endpoint_public_access(*public)
                .endpoint_private_access(*private)
                .set_public_access_cidrs(non_empty(public_access_cidrs))
                .build(),
        ),
        ClusterConfigUpdate::Vpc {
            subnet_ids,
            security_group_ids,
        } => b.resources_vpc_config(
            sdk::VpcConfigRequest::builder()
                .set_subnet_ids(Some(subnet_ids.clone()))
                .set_security_group_ids(Some(security_group_ids.clone()))
                .build(),
        ),
        ClusterConfigUpdate::Access {
            authentication_mode,
        } => b.access_config(
            sdk::UpdateAccessConfigRequest::builder()
                .authentication_mode(sdk::AuthenticationMode::from(authentication_mode.as_str()))
                .build(),
        ),
        ClusterConfigUpdate::AutoMode { auto_mode } => b
            .compute_config(compute_request(auto_mode))
            .storage_config(storage_request(auto_mode))
            .set_kubernetes_network_config(network_request(None, Some(auto_mode))),
        ClusterConfigUpdate::UpgradePolicy { support_type } => b.upgrade_policy(
            sdk::UpgradePolicyRequest::builder()
                .support_type(sdk::SupportType::from(support_type.as_str()))
                .build(),
        ),
        ClusterConfigUpdate::DeletionProtection { enabled } => b.deletion_protection(*enabled),
        ClusterConfigUpdate::RemoteNetwork {
            remote_network_config,
        } => b.remote_network_config(fields::remote_network_request(remote_network_config)),
        ClusterConfigUpdate::ZonalShift { enabled } => {
            b.zonal_shift_config(fields::zonal_shift_request(*enabled))
        }
        ClusterConfigUpdate::ControlPlaneScaling { tier } => {
            b.control_plane_scaling_config(fields::scaling_request(*tier))
        }
        ClusterConfigUpdate::ControlPlaneEgress { mode } => b.resources_vpc_config(
            sdk::VpcConfigRequest::builder()
                .control_plane_egress_mode(fields::egress_mode(*mode))
                .build(),
        ),
    };
    let out = b.send().await.or_api_error(&call)?;
    to_update(&call, out.update(), false, Some(change.update_type()))
}

pub(super) async fn update_cluster_version(
    eks: &AwsEks,
    name: &str,
    version: &str,
) -> ApiResult<Update> {
    let (client, call) = eks.on_cluster(
        "UpdateClusterVersion",
        name,
        format!("cluster {name} (to {version})"),
    );
    let out = client
        .update_cluster_version()
        .name(name)
        .version(version)
        .send()
        .await
        .or_api_error(&call)?;
    to_update(&call, out.update(), false, Some(UpdateType::VersionUpdate))
}

pub(super) async fn list_updates(
    eks: &AwsEks,
    cluster: &str,
    nodegroup: Option<&str>,
    addon: Option<&str>,
) -> ApiResult<Vec<String>> {
    let what = match (nodegroup, addon) {
        (Some(n), _) => format!("node group {n} of cluster {cluster}"),
        (None, Some(a)) => format!("add-on {a} of cluster {cluster}"),
        (None, None) => format!("cluster {cluster}"),
    };
    let (client, call) = eks.on_cluster("ListUpdates", cluster, what);
    client
        .list_updates()
        .name(cluster)
        .set_nodegroup_name(nodegroup.map(str::to_string))
        .set_addon_name(addon.map(str::to_string))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_api_error(&call)
}

pub(super) async fn describe_update(
    eks: &AwsEks,
    cluster: &str,
    id: &str,
    nodegroup: Option<&str>,
    addon: Option<&str>,
) -> ApiResult<Update> {
    let (client, call) = eks.on_cluster(
        "DescribeUpdate",
        cluster,
        format!("update {id} of cluster {cluster}"),
    );
    let out = client
        .describe_update()
        .name(cluster)
        .update_id(id)
        .set_nodegroup_name(nodegroup.map(str::to_string))
        .set_addon_name(addon.map(str::to_string))
        .send()
        .await
        .or_api_error(&call)?;
    let fallback = addon.map(|_| UpdateType::AddonUpdate);
    to_update(&call, out.update(), nodegroup.is_some(), fallback)
}

pub(super) async fn tag_resource(eks: &AwsEks, arn: &str, tags: &Tags) -> ApiResult<()> {
    let region = arn_region(arn).map_or_else(|| eks.default_region.clone(), str::to_string);
    let (client, call) = eks.in_region(
        "TagResource",
        region,
        arn_cluster(arn),
        format!("resource {arn}"),
    );
    client
        .tag_resource()
        .resource_arn(arn)
        .set_tags(hash_map(tags))
        .send()
        .await
        .or_api_error(&call)?;
    Ok(())
}

pub(super) async fn untag_resource(eks: &AwsEks, arn: &str, keys: &[String]) -> ApiResult<()> {
    let region = arn_region(arn).map_or_else(|| eks.default_region.clone(), str::to_string);
    let (client, call) = eks.in_region(
        "UntagResource",
        region,
        arn_cluster(arn),
        format!("resource {arn}"),
    );
    client
        .untag_resource()
        .resource_arn(arn)
        .set_tag_keys(Some(keys.to_vec()))
        .send()
        .await
        .or_api_error(&call)?;
    Ok(())
}

pub(super) async fn describe_cluster_versions(eks: &AwsEks) -> ApiResult<Vec<ClusterVersionInfo>> {
    let (client, call) = eks.in_region(
        "DescribeClusterVersions",
        eks.default_region.clone(),
        None,
        "cluster versions".to_string(),
    );
    let date = |d: Option<&aws_smithy_types::DateTime>| {
        d.map(|d| crate::versions::Date::from_unix(d.secs()).to_string())
    };
    // `includeAll`: without it EKS lists only the versions in support, and the calendar
    // also needs the ones past it (a cluster still running one).
    let versions = client
        .describe_cluster_versions()
        .include_all(true)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_api_error(&call)?;
    Ok(versions
        .iter()
        .filter_map(|v| {
            Some(ClusterVersionInfo {
                version: v.cluster_version()?.to_string(),
                status: v
                    .version_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| "UNKNOWN".to_string()),
                default_version: v.default_version(),
                release_date: date(v.release_date()),
                end_of_standard_support: date(v.end_of_standard_support_date()),
                end_of_extended_support: date(v.end_of_extended_support_date()),
            })
        })
        .collect())
}

pub(super) async fn list_insights(eks: &AwsEks, cluster: &str) -> ApiResult<Vec<Insight>> {
    let (client, call) = eks.on_cluster("ListInsights", cluster, format!("cluster {cluster}"));
    let insights = client
        .list_insights()
        .cluster_name(cluster)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_api_error(&call)?;
    Ok(insights
        .iter()
        .map(|i| Insight {
            id: i.id().unwrap_or_default().to_string(),
            name: i.name().unwrap_or_default().to_string(),
            category: i
                .category()
                .map(|c| c.as_str().to_string())
                .unwrap_or_default(),
            kubernetes_version: i.kubernetes_version().map(str::to_string),
            status: insight_status(i.insight_status()),
            reason: insight_reason(i.insight_status()),
            description: i.description().unwrap_or_default().to_string(),
            recommendation: None,
            deprecations: Vec::new(),
        })
        .collect())
}

pub(super) async fn describe_insight(eks: &AwsEks, cluster: &str, id: &str) -> ApiResult<Insight> {
    let (client, call) = eks.on_cluster(
        "DescribeInsight",
        cluster,
        format!("insight {id} of cluster {cluster}"),
    );
    let out = client
        .describe_insight()
        .cluster_name(cluster)
        .id(id)
        .send()
        .await
        .or_api_error(&call)?;
    let i = out.insight().ok_or_else(|| {
        ApiError::NotFound(format!(
            "DescribeInsight on cluster {cluster}: no insight {id}"
        ))
    })?;
    Ok(Insight {
        id: i.id().unwrap_or(id).to_string(),
        name: i.name().unwrap_or_default().to_string(),
        category: i
            .category()
            .map(|c| c.as_str().to_string())
            .unwrap_or_default(),
        kubernetes_version: i.kubernetes_version().map(str::to_string),
        status: insight_status(i.insight_status()),
        reason: insight_reason(i.insight_status()),
        description: i.description().unwrap_or_default().to_string(),
        recommendation: i.recommendation().map(str::to_string),
        deprecations: i
            .category_specific_summary()
            .map(|c| {
                c.deprecation_details()
                    .iter()
                    .map(|d| {
                        (
                            d.usage().unwrap_or_default().to_string(),
                            d.replaced_with().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
    })
}
