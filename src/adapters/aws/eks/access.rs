//! Who reaches the cluster and as what: Fargate profiles, access entries with their
//! associated policies, and Pod Identity associations.

use aws_sdk_eks::types as sdk;

use super::convert::*;
use super::errors::OrApiError;
use super::AwsEks;
use crate::model::live::*;
use crate::model::*;
use crate::ports::*;

fn live_fargate(f: &sdk::FargateProfile, name: &str) -> LiveFargateProfile {
    LiveFargateProfile {
        name: f.fargate_profile_name().unwrap_or(name).to_string(),
        arn: f.fargate_profile_arn().unwrap_or_default().to_string(),
        status: status(f.status().map(|s| s.as_str())),
        spec: FargateProfileSpec {
            pod_execution_role_arn: f.pod_execution_role_arn().unwrap_or_default().to_string(),
            subnet_ids: f.subnets().to_vec(),
            selectors: f
                .selectors()
                .iter()
                .map(|s| FargateSelector {
                    namespace: s.namespace().unwrap_or_default().to_string(),
                    labels: s
                        .labels()
                        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default(),
                })
                .collect(),
            tags: tags(f.tags()),
        },
    }
}

fn access_scope_request(s: &AccessScope) -> sdk::AccessScope {
    sdk::AccessScope::builder()
        .r#type(sdk::AccessScopeType::from(s.scope_type.as_str()))
        .set_namespaces(non_empty(&s.namespaces))
        .build()
}

fn access_policy(p: &sdk::AssociatedAccessPolicy) -> AccessPolicy {
    let scope = p.access_scope();
    let namespaces = scope.map(|s| s.namespaces().to_vec()).unwrap_or_default();
    let scope_type = scope
        .and_then(|s| s.r#type())
        .and_then(|t| known_or_warn(AccessScopeType::ALL, "access scope type", t.as_str()))
        .unwrap_or(if namespaces.is_empty() {
            AccessScopeType::Cluster
        } else {
            AccessScopeType::Namespace
        });
    AccessPolicy {
        policy_arn: p.policy_arn().unwrap_or_default().to_string(),
        access_scope: AccessScope {
            scope_type,
            namespaces,
        },
    }
}

fn live_pod_identity(p: &sdk::PodIdentityAssociation, id: &str) -> LivePodIdentity {
    LivePodIdentity {
        association_id: p.association_id().unwrap_or(id).to_string(),
        arn: p.association_arn().unwrap_or_default().to_string(),
        spec: PodIdentityAssociationSpec {
            namespace: p.namespace().unwrap_or_default().to_string(),
            service_account: p.service_account().unwrap_or_default().to_string(),
            role_arn: p.role_arn().unwrap_or_default().to_string(),
            target_role_arn: p.target_role_arn().map(str::to_string),
            disable_session_tags: p.disable_session_tags().unwrap_or(false),
            policy: parse_configuration(p.policy()),
            tags: tags(p.tags()),
        },
    }
}

pub(super) async fn list_fargate_profiles(eks: &AwsEks, cluster: &str) -> ApiResult<Vec<String>> {
    let (client, call) =
        eks.on_cluster("ListFargateProfiles", cluster, format!("cluster {cluster}"));
    client
        .list_fargate_profiles()
        .cluster_name(cluster)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_api_error(&call)
}

pub(super) async fn describe_fargate_profile(
    eks: &AwsEks,
    cluster: &str,
    name: &str,
) -> ApiResult<LiveFargateProfile> {
    let (client, call) = eks.on_cluster(
        "DescribeFargateProfile",
        cluster,
        format!("Fargate profile {name} of cluster {cluster}"),
    );
    let out = client
        .describe_fargate_profile()
        .cluster_name(cluster)
        .fargate_profile_name(name)
        .send()
        .await
        .or_api_error(&call)?;
    let f = call.answer(out.fargate_profile(), "Fargate profile")?;
    Ok(live_fargate(f, name))
}

pub(super) async fn create_fargate_profile(
    eks: &AwsEks,
    req: &CreateFargateProfile,
) -> ApiResult<LiveFargateProfile> {
    let (client, call) = eks.on_cluster(
        "CreateFargateProfile",
        &req.cluster,
        format!("Fargate profile {} of cluster {}", req.name, req.cluster),
    );
    let selectors = req
        .spec
        .selectors
        .iter()
        .map(|s| {
            sdk::FargateProfileSelector::builder()
                .namespace(&s.namespace)
                .set_labels(hash_map(&s.labels))
                .build()
        })
        .collect();
    let out = client
        .create_fargate_profile()
        .cluster_name(&req.cluster)
        .fargate_profile_name(&req.name)
        .pod_execution_role_arn(&req.spec.pod_execution_role_arn)
        .set_subnets(non_empty(&req.spec.subnet_ids))
        .set_selectors(Some(selectors))
        .set_tags(hash_map(&req.spec.tags))
        .client_request_token(&req.client_request_token)
        .send()
        .await
        .or_api_error(&call)?;
    let f = call.answer(out.fargate_profile(), "Fargate profile")?;
    Ok(live_fargate(f, &req.name))
}

pub(super) async fn delete_fargate_profile(
    eks: &AwsEks,
    cluster: &str,
    name: &str,
) -> ApiResult<()> {
    let (client, call) = eks.on_cluster(
        "DeleteFargateProfile",
        cluster,
        format!("Fargate profile {name} of cluster {cluster}"),
    );
    client
        .delete_fargate_profile()
        .cluster_name(cluster)
        .fargate_profile_name(name)
        .send()
        .await
        .or_api_error(&call)?;
    Ok(())
}

pub(super) async fn list_access_entries(eks: &AwsEks, cluster: &str) -> ApiResult<Vec<String>> {
    let (client, call) = eks.on_cluster("ListAccessEntries", cluster, format!("cluster {cluster}"));
    client
        .list_access_entries()
        .cluster_name(cluster)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_api_error(&call)
}

pub(super) async fn describe_access_entry(
    eks: &AwsEks,
    cluster: &str,
    principal: &str,
) -> ApiResult<LiveAccessEntry> {
    let what = format!("access entry {principal} of cluster {cluster}");
    let (client, call) = eks.on_cluster("DescribeAccessEntry", cluster, what.clone());
    let out = client
        .describe_access_entry()
        .cluster_name(cluster)
        .principal_arn(principal)
        .send()
        .await
        .or_api_error(&call)?;
    let e = call.answer(out.access_entry(), "access entry")?;
    let entry_type = e
        .r#type()
        .and_then(|t| known_or_warn(AccessEntryType::ALL, "access entry type", t))
        .unwrap_or_default();

    let (client, call) = eks.on_cluster("ListAssociatedAccessPolicies", cluster, what);
    let mut policies: Vec<AccessPolicy> = client
        .list_associated_access_policies()
        .cluster_name(cluster)
        .principal_arn(principal)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .or_api_error(&call)?
        .iter()
        .flat_map(|page| page.associated_access_policies())
        .map(access_policy)
        .collect();
    policies.sort_by(|a, b| a.policy_arn.cmp(&b.policy_arn));
    Ok(LiveAccessEntry {
        arn: e.access_entry_arn().unwrap_or_default().to_string(),
        spec: AccessEntrySpec {
            principal_arn: e.principal_arn().unwrap_or(principal).to_string(),
            entry_type,
            kubernetes_groups: e.kubernetes_groups().to_vec(),
            username: e.username().map(str::to_string),
            policies,
            tags: tags(e.tags()),
        },
    })
}

pub(super) async fn create_access_entry(eks: &AwsEks, req: &CreateAccessEntry) -> ApiResult<()> {
    let spec = &req.spec;
    let (client, call) = eks.on_cluster(
        "CreateAccessEntry",
        &req.cluster,
        format!(
            "access entry {} of cluster {}",
            spec.principal_arn, req.cluster
        ),
    );
    client
        .create_access_entry()
        .cluster_name(&req.cluster)
        .principal_arn(&spec.principal_arn)
        .r#type(spec.entry_type.as_str())
        .set_kubernetes_groups(non_empty(&spec.kubernetes_groups))
        .set_username(spec.username.clone())
        .set_tags(hash_map(&spec.tags))
        .client_request_token(&req.client_request_token)
        .send()
        .await
        .or_api_error(&call)?;
    Ok(())
}

pub(super) async fn update_access_entry(
    eks: &AwsEks,
    cluster: &str,
    principal: &str,
    groups: &[String],
    username: Option<&str>,
) -> ApiResult<()> {
    let (client, call) = eks.on_cluster(
        "UpdateAccessEntry",
        cluster,
        format!("access entry {principal} of cluster {cluster}"),
    );
    client
        .update_access_entry()
        .cluster_name(cluster)
        .principal_arn(principal)
        .set_kubernetes_groups(Some(groups.to_vec()))
        .set_username(username.map(str::to_string))
        .send()
        .await
        .or_api_error(&call)?;
    Ok(())
}

pub(super) async fn delete_access_entry(
    eks: &AwsEks,
    cluster: &str,
    principal: &str,
) -> ApiResult<()> {
    let (client, call) = eks.on_cluster(
        "DeleteAccessEntry",
        cluster,
        format!("access entry {principal} of cluster {cluster}"),
    );
    client
        .delete_access_entry()
        .cluster_name(cluster)
        .principal_arn(principal)
        .send()
        .await
        .or_api_error(&call)?;
    Ok(())
}

pub(super) async fn associate_access_policy(
    eks: &AwsEks,
    cluster: &str,
    principal: &str,
    policy: &AccessPolicy,
) -> ApiResult<()> {
    let (client, call) = eks.on_cluster(
        "AssociateAccessPolicy",
        cluster,
        format!(
            "policy {} for {principal} on cluster {cluster}",
            policy.policy_arn
        ),
    );
    client
        .associate_access_policy()
        .cluster_name(cluster)
        .principal_arn(principal)
        .policy_arn(&policy.policy_arn)
        .access_scope(access_scope_request(&policy.access_scope))
        .send()
        .await
        .or_api_error(&call)?;
    Ok(())
}

pub(super) async fn disassociate_access_policy(
    eks: &AwsEks,
    cluster: &str,
    principal: &str,
    policy_arn: &str,
) -> ApiResult<()> {
    let (client, call) = eks.on_cluster(
        "DisassociateAccessPolicy",
        cluster,
        format!("policy {policy_arn} for {principal} on cluster {cluster}"),
    );
    client
        .disassociate_access_policy()
        .cluster_name(cluster)
        .principal_arn(principal)
        .policy_arn(policy_arn)
        .send()
        .await
        .or_api_error(&call)?;
    Ok(())
}

pub(super) async fn list_pod_identity_associations(
    eks: &AwsEks,
    cluster: &str,
) -> ApiResult<Vec<PodIdentitySummary>> {
    let (client, call) = eks.on_cluster(
        "ListPodIdentityAssociations",
        cluster,
        format!("cluster {cluster}"),
    );
    let all = client
        .list_pod_identity_associations()
        .cluster_name(cluster)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_api_error(&call)?;
    Ok(all
        .iter()
        .map(|s| PodIdentitySummary {
            association_id: s.association_id().unwrap_or_default().to_string(),
            namespace: s.namespace().unwrap_or_default().to_string(),
            service_account: s.service_account().unwrap_or_default().to_string(),
        })
        .collect())
}

pub(super) async fn describe_pod_identity_association(
    eks: &AwsEks,
    cluster: &str,
    id: &str,
) -> ApiResult<LivePodIdentity> {
    let (client, call) = eks.on_cluster(
        "DescribePodIdentityAssociation",
        cluster,
        format!("Pod Identity association {id} of cluster {cluster}"),
    );
    let out = client
        .describe_pod_identity_association()
        .cluster_name(cluster)
        .association_id(id)
        .send()
        .await
        .or_api_error(&call)?;
    let p = call.answer(out.association(), "association")?;
    Ok(live_pod_identity(p, id))
}

pub(super) async fn create_pod_identity_association(
    eks: &AwsEks,
    req: &CreatePodIdentity,
) -> ApiResult<LivePodIdentity> {
    let spec = &req.spec;
    let (client, call) = eks.on_cluster(
        "CreatePodIdentityAssociation",
        &req.cluster,
        format!(
            "Pod Identity association {}/{} of cluster {}",
            spec.namespace, spec.service_account, req.cluster
        ),
    );
    let out = client
        .create_pod_identity_association()
        .cluster_name(&req.cluster)
        .namespace(&spec.namespace)
        .service_account(&spec.service_account)
        .role_arn(&spec.role_arn)
        .set_target_role_arn(spec.target_role_arn.clone())
        .set_disable_session_tags(spec.disable_session_tags.then_some(true))
        .set_policy(spec.policy.as_ref().map(super::fields::policy_string))
        .set_tags(hash_map(&spec.tags))
        .client_request_token(&req.client_request_token)
        .send()
        .await
        .or_api_error(&call)?;
    let p = call.answer(out.association(), "association")?;
    Ok(live_pod_identity(p, ""))
}

pub(super) async fn update_pod_identity_association(
    eks: &AwsEks,
    cluster: &str,
    id: &str,
    spec: &PodIdentityAssociationSpec,
) -> ApiResult<()> {
    let (client, call) = eks.on_cluster(
        "UpdatePodIdentityAssociation",
        cluster,
        format!(
            "Pod Identity association {id} ({}/{}) of cluster {cluster}",
            spec.namespace, spec.service_account
        ),
    );
    client
        .update_pod_identity_association()
        .cluster_name(cluster)
        .association_id(id)
        .role_arn(&spec.role_arn)
        .set_target_role_arn(spec.target_role_arn.clone())
        .disable_session_tags(spec.disable_session_tags)
        // The planner sends an empty string to remove a policy.
        .set_policy(spec.policy.as_ref().map(super::fields::policy_string))
        .send()
        .await
        .or_api_error(&call)?;
    Ok(())
}

pub(super) async fn delete_pod_identity_association(
    eks: &AwsEks,
    cluster: &str,
    id: &str,
) -> ApiResult<()> {
    let (client, call) = eks.on_cluster(
        "DeletePodIdentityAssociation",
        cluster,
        format!("Pod Identity association {id} of cluster {cluster}"),
    );
    client
        .delete_pod_identity_association()
        .cluster_name(cluster)
        .association_id(id)
        .send()
        .await
        .or_api_error(&call)?;
    Ok(())
}
