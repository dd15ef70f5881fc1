//! Add-ons: list, describe (with their Pod Identity associations), create, update,
//! delete; and the add-on version catalog.

use aws_sdk_eks::types as sdk;

use super::convert::*;
use super::errors::{Call, OrApiError};
use super::AwsEks;
use crate::model::live::*;
use crate::model::*;
use crate::ports::*;

fn addon_status(s: Option<&sdk::AddonStatus>) -> Status {
    status(s.map(|s| s.as_str()))
}

fn addon_pod_identities(
    call: &Call,
    pia: &[AddonPodIdentity],
) -> ApiResult<Vec<sdk::AddonPodIdentityAssociations>> {
    pia.iter()
        .map(|p| {
            sdk::AddonPodIdentityAssociations::builder()
                .service_account(&p.service_account)
                .role_arn(&p.role_arn)
                .build()
                .map_err(|e| {
                    ApiError::InvalidParameter(format!(
                        "{}: bad Pod Identity association for service account `{}`: {e}",
                        call.prefix(),
                        p.service_account
                    ))
                })
        })
        .collect()
}

/// The association id at the end of a Pod Identity association ARN.
fn association_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

pub(super) async fn list_addons(eks: &AwsEks, cluster: &str) -> ApiResult<Vec<String>> {
    let (client, call) = eks.on_cluster("ListAddons", cluster, format!("cluster {cluster}"));
    client
        .list_addons()
        .cluster_name(cluster)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_api_error(&call)
}

pub(super) async fn describe_addon(
    eks: &AwsEks,
    cluster: &str,
    name: &str,
) -> ApiResult<LiveAddon> {
    let (client, call) = eks.on_cluster(
        "DescribeAddon",
        cluster,
        format!("add-on {name} of cluster {cluster}"),
    );
    let out = client
        .describe_addon()
        .cluster_name(cluster)
        .addon_name(name)
        .send()
        .await
        .or_api_error(&call)?;
    let a = call.answer(out.addon(), "add-on")?;
    // EKS lists the add-on's Pod Identity associations by ARN only.
    let mut pia = Vec::new();
    for arn in a.pod_identity_associations() {
        let p = super::access::describe_pod_identity_association(eks, cluster, association_id(arn))
            .await?;
        pia.push(AddonPodIdentity {
            service_account: p.spec.service_account,
            role_arn: p.spec.role_arn,
        });
    }
    pia.sort_by(|a, b| a.service_account.cmp(&b.service_account));
    Ok(LiveAddon {
        name: a.addon_name().unwrap_or(name).to_string(),
        arn: a.addon_arn().unwrap_or_default().to_string(),
        version: a.addon_version().unwrap_or_default().to_string(),
        status: addon_status(a.status()),
        configuration_values: parse_configuration(a.configuration_values()),
        service_account_role_arn: a.service_account_role_arn().map(str::to_string),
        pod_identity_associations: pia,
        namespace_config: super::fields::live_namespace(a.namespace_config()),
        tags: tags(a.tags()),
    })
}

pub(super) async fn create_addon(eks: &AwsEks, req: &AddonRequest) -> ApiResult<LiveAddon> {
    let (client, call) = eks.on_cluster(
        "CreateAddon",
        &req.cluster,
        format!("add-on {} of cluster {}", req.name, req.cluster),
    );
    let pia = addon_pod_identities(&call, &req.pod_identity_associations)?;
    let out = client
        .create_addon()
        .cluster_name(&req.cluster)
        .addon_name(&req.name)
        .addon_version(&req.version)
        .set_configuration_values(req.configuration_values.as_ref().map(configuration_string))
        .set_service_account_role_arn(req.service_account_role_arn.clone())
        .set_pod_identity_associations((!pia.is_empty()).then_some(pia))
        .set_resolve_conflicts(
            req.resolve_conflicts
                .map(|r| sdk::ResolveConflicts::from(r.as_str())),
        )
        .set_namespace_config(
            req.namespace_config
                .as_ref()
                .map(super::fields::namespace_request),
        )
        .set_tags(hash_map(&req.tags))
        .client_request_token(&req.client_request_token)
        .send()
        .await
        .or_api_error(&call)?;
    let a = call.answer(out.addon(), "add-on")?;
    Ok(LiveAddon {
        name: a.addon_name().unwrap_or(&req.name).to_string(),
        arn: a.addon_arn().unwrap_or_default().to_string(),
        version: a.addon_version().unwrap_or(&req.version).to_string(),
        status: addon_status(a.status()),
        configuration_values: parse_configuration(a.configuration_values())
            .or_else(|| req.configuration_values.clone()),
        service_account_role_arn: a
            .service_account_role_arn()
            .map(str::to_string)
            .or_else(|| req.service_account_role_arn.clone()),
        // EKS answers with association ARNs; the ones asked for are the ones made.
        pod_identity_associations: req.pod_identity_associations.clone(),
        namespace_config: super::fields::live_namespace(a.namespace_config())
            .or_else(|| req.namespace_config.clone()),
        tags: tags(a.tags()),
    })
}

pub(super) async fn update_addon(eks: &AwsEks, req: &AddonRequest) -> ApiResult<Update> {
    let (client, call) = eks.on_cluster(
        "UpdateAddon",
        &req.cluster,
        format!("add-on {} of cluster {}", req.name, req.cluster),
    );
    let pia = addon_pod_identities(&call, &req.pod_identity_associations)?;
    // The port replaces the add-on's settings: an empty string clears the
    // configuration, an empty list removes the add-on's Pod Identity associations.
    let out = client
        .update_addon()
        .cluster_name(&req.cluster)
        .addon_name(&req.name)
        .addon_version(&req.version)
        .configuration_values(
            req.configuration_values
                .as_ref()
                .map(configuration_string)
                .unwrap_or_default(),
        )
        .set_service_account_role_arn(req.service_account_role_arn.clone())
        .set_pod_identity_associations(Some(pia))
        .set_resolve_conflicts(
            req.resolve_conflicts
                .map(|r| sdk::ResolveConflicts::from(r.as_str())),
        )
        .client_request_token(&req.client_request_token)
        .send()
        .await
        .or_api_error(&call)?;
    to_update(&call, out.update(), false, Some(UpdateType::AddonUpdate))
}

pub(super) async fn delete_addon(eks: &AwsEks, cluster: &str, name: &str) -> ApiResult<()> {
    let (client, call) = eks.on_cluster(
        "DeleteAddon",
        cluster,
        format!("add-on {name} of cluster {cluster}"),
    );
    client
        .delete_addon()
        .cluster_name(cluster)
        .addon_name(name)
        .send()
        .await
        .or_api_error(&call)?;
    Ok(())
}

pub(super) async fn describe_addon_versions(
    eks: &AwsEks,
    name: &str,
) -> ApiResult<Vec<AddonVersion>> {
    let (client, call) = eks.in_region(
        "DescribeAddonVersions",
        eks.default_region.clone(),
        None,
        format!("add-on {name}"),
    );
    let infos = client
        .describe_addon_versions()
        .addon_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_api_error(&call)?;
    Ok(infos
        .iter()
        .filter(|i| i.addon_name().is_none_or(|n| n == name))
        .flat_map(|info| info.addon_versions())
        .filter_map(|v| {
            Some(AddonVersion {
                version: v.addon_version()?.to_string(),
                compatibilities: v
                    .compatibilities()
                    .iter()
                    .filter_map(|c| {
                        Some(Compatibility {
                            cluster_version: c.cluster_version()?.to_string(),
                            default_version: c.default_version(),
                        })
                    })
                    .collect(),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn association_ids_come_from_arns() {
        assert_eq!(
            association_id("arn:aws:eks:eu-west-1:111122223333:podidentityassociation/prod/a-abc"),
            "a-abc"
        );
    }
}
