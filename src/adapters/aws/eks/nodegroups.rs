//! Managed node groups: list, describe, create, change (scaling, labels, taints, update
//! config), move to a version, delete.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_eks::types as sdk;

use super::convert::*;
use super::errors::{Call, OrApiError};
use super::fields;
use super::AwsEks;
use crate::model::live::*;
use crate::model::*;
use crate::ports::*;

fn taint_effect(call: &Call, e: Option<&sdk::TaintEffect>) -> ApiResult<NodeGroupTaintEffect> {
    match e {
        Some(sdk::TaintEffect::NoSchedule) => Ok(NodeGroupTaintEffect::NoSchedule),
        Some(sdk::TaintEffect::NoExecute) => Ok(NodeGroupTaintEffect::NoExecute),
        Some(sdk::TaintEffect::PreferNoSchedule) => Ok(NodeGroupTaintEffect::PreferNoSchedule),
        other => Err(call.other(format!(
            "EKS returned a taint effect keelson does not know ({}); upgrade keelson",
            other.map_or("none", |e| e.as_str())
        ))),
    }
}

fn sdk_taint(t: &NodeGroupTaint) -> sdk::Taint {
    sdk::Taint::builder()
        .key(&t.key)
        .set_value(t.value.clone())
        .effect(sdk::TaintEffect::from(t.effect.as_str()))
        .build()
}

fn live_nodegroup(call: &Call, n: &sdk::Nodegroup, name: &str) -> ApiResult<LiveNodeGroup> {
    let scaling = n.scaling_config();
    let taints = n
        .taints()
        .iter()
        .map(|t| {
            Ok(NodeGroupTaint {
                key: t.key().unwrap_or_default().to_string(),
                value: t.value().map(str::to_string),
                effect: taint_effect(call, t.effect())?,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let labels = n
        .labels()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    Ok(LiveNodeGroup {
        name: n.nodegroup_name().unwrap_or(name).to_string(),
        arn: n.nodegroup_arn().unwrap_or_default().to_string(),
        status: status(n.status().map(|s| s.as_str())),
        spec: NodeGroupSpec {
            node_role_arn: n.node_role().unwrap_or_default().to_string(),
            subnet_ids: n.subnets().to_vec(),
            instance_types: n.instance_types().to_vec(),
            ami_type: n
                .ami_type()
                .and_then(|a| known_or_warn(AmiType::ALL, "AMI type", a.as_str())),
            capacity_type: n
                .capacity_type()
                .and_then(|c| known_or_warn(CapacityType::ALL, "capacity type", c.as_str())),
            scaling: Scaling {
                min_size: scaling.and_then(|s| s.min_size()).map_or(0, u32_of),
                max_size: scaling.and_then(|s| s.max_size()).map_or(0, u32_of),
                desired_size: scaling.and_then(|s| s.desired_size()).map(u32_of),
            },
            disk_size: n.disk_size().map(u32_of),
            version: n.version().map(str::to_string),
            release_version: n.release_version().map(str::to_string),
            labels,
            taints,
            update_config: n.update_config().map(|u| UpdateConfig {
                max_unavailable: u.max_unavailable().map(u32_of),
                max_unavailable_percentage: u.max_unavailable_percentage().map(u32_of),
                update_strategy: fields::live_update_strategy(u.update_strategy()),
            }),
            launch_template: n.launch_template().map(|l| LaunchTemplate {
                id: l.id().map(str::to_string),
                name: l.name().map(str::to_string),
                version: l.version().map(str::to_string),
            }),
            node_repair_config: fields::live_repair(n.node_repair_config()),
            warm_pool_config: fields::live_warm_pool(n.warm_pool_config()),
            remote_access: fields::live_remote_access(n.remote_access()),
            tags: tags(n.tags()),
        },
    })
}

fn scaling_request(s: &Scaling) -> sdk::NodegroupScalingConfig {
    sdk::NodegroupScalingConfig::builder()
        .min_size(i32_of(s.min_size))
        .max_size(i32_of(s.max_size))
        .set_desired_size(s.desired_size.map(i32_of))
        .build()
}

fn update_config_request(u: &UpdateConfig) -> sdk::NodegroupUpdateConfig {
    sdk::NodegroupUpdateConfig::builder()
        .set_max_unavailable(u.max_unavailable.map(i32_of))
        .set_max_unavailable_percentage(u.max_unavailable_percentage.map(i32_of))
        .set_update_strategy(u.update_strategy.map(fields::update_strategy))
        .build()
}

fn launch_template_request(l: &LaunchTemplate) -> sdk::LaunchTemplateSpecification {
    sdk::LaunchTemplateSpecification::builder()
        .set_id(l.id.clone())
        .set_name(l.name.clone())
        .set_version(l.version.clone())
        .build()
}

/// The UpdateNodegroupConfig payload that moves `current` labels to `desired`.
fn labels_payload(
    current: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) -> Option<sdk::UpdateLabelsPayload> {
    let add: HashMap<String, String> = desired
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove: Vec<String> = current
        .keys()
        .filter(|k| !desired.contains_key(*k))
        .cloned()
        .collect();
    if add.is_empty() && remove.is_empty() {
        return None;
    }
    Some(
        sdk::UpdateLabelsPayload::builder()
            .set_add_or_update_labels((!add.is_empty()).then_some(add))
            .set_remove_labels((!remove.is_empty()).then_some(remove))
            .build(),
    )
}

/// The UpdateNodegroupConfig payload that moves `current` taints to `desired`. A taint is
/// identified by key and effect, as in Kubernetes.
fn taints_payload(
    current: &[NodeGroupTaint],
    desired: &[NodeGroupTaint],
) -> Option<sdk::UpdateTaintsPayload> {
    let add: Vec<sdk::Taint> = desired
        .iter()
        .filter(|t| !current.contains(t))
        .map(sdk_taint)
        .collect();
    let remove: Vec<sdk::Taint> = current
        .iter()
        .filter(|c| {
            !desired
                .iter()
                .any(|d| d.key == c.key && d.effect == c.effect)
        })
        .map(sdk_taint)
        .collect();
    if add.is_empty() && remove.is_empty() {
        return None;
    }
    Some(
        sdk::UpdateTaintsPayload::builder()
            .set_add_or_update_taints((!add.is_empty()).then_some(add))
            .set_remove_taints((!remove.is_empty()).then_some(remove))
            .build(),
    )
}

pub(super) async fn list_nodegroups(eks: &AwsEks, cluster: &str) -> ApiResult<Vec<String>> {
    let (client, call) = eks.on_cluster("ListNodegroups", cluster, format!("cluster {cluster}"));
    client
        .list_nodegroups()
        .cluster_name(cluster)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .or_api_error(&call)
}

pub(super) async fn describe_nodegroup(
    eks: &AwsEks,
    cluster: &str,
    name: &str,
) -> ApiResult<LiveNodeGroup> {
    let (client, call) = eks.on_cluster(
        "DescribeNodegroup",
        cluster,
        format!("node group {name} of cluster {cluster}"),
    );
    let out = client
        .describe_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(name)
        .send()
        .await
        .or_api_error(&call)?;
    let n = call.answer(out.nodegroup(), "node group")?;
    live_nodegroup(&call, n, name)
}

pub(super) async fn create_nodegroup(
    eks: &AwsEks,
    req: &CreateNodeGroup,
) -> ApiResult<LiveNodeGroup> {
    let (client, call) = eks.on_cluster(
        "CreateNodegroup",
        &req.cluster,
        format!("node group {} of cluster {}", req.name, req.cluster),
    );
    let spec = &req.spec;
    let taints: Vec<sdk::Taint> = spec.taints.iter().map(sdk_taint).collect();
    let out = client
        .create_nodegroup()
        .cluster_name(&req.cluster)
        .nodegroup_name(&req.name)
        .node_role(&spec.node_role_arn)
        .set_subnets(Some(spec.subnet_ids.clone()))
        .set_instance_types(non_empty(&spec.instance_types))
        .set_ami_type(spec.ami_type.map(|a| sdk::AmiTypes::from(a.as_str())))
        .set_capacity_type(
            spec.capacity_type
                .map(|c| sdk::CapacityTypes::from(c.as_str())),
        )
        .scaling_config(scaling_request(&spec.scaling))
        .set_disk_size(spec.disk_size.map(i32_of))
        .set_version(spec.version.clone())
        .set_release_version(spec.release_version.clone())
        .set_labels(hash_map(&spec.labels))
        .set_taints((!taints.is_empty()).then_some(taints))
        .set_update_config(spec.update_config.as_ref().map(update_config_request))
        .set_launch_template(spec.launch_template.as_ref().map(launch_template_request))
        .set_node_repair_config(spec.node_repair_config.as_ref().map(fields::repair_request))
        .set_warm_pool_config(
            spec.warm_pool_config
                .as_ref()
                .map(fields::warm_pool_request),
        )
        .set_remote_access(
            spec.remote_access
                .as_ref()
                .map(fields::remote_access_request),
        )
        .set_tags(hash_map(&spec.tags))
        .client_request_token(&req.client_request_token)
        .send()
        .await
        .or_api_error(&call)?;
    let n = call.answer(out.nodegroup(), "node group")?;
    live_nodegroup(&call, n, &req.name)
}

pub(super) async fn update_nodegroup_config(
    eks: &AwsEks,
    req: &NodeGroupConfigUpdate,
) -> ApiResult<Update> {
    // Labels and taints go as add-or-update and remove sets against what runs now.
    let (labels, taints) = if req.labels.is_some() || req.taints.is_some() {
        let current = describe_nodegroup(eks, &req.cluster, &req.name).await?;
        (
            req.labels
                .as_ref()
                .and_then(|l| labels_payload(&current.spec.labels, l)),
            req.taints
                .as_ref()
                .and_then(|t| taints_payload(&current.spec.taints, t)),
        )
    } else {
        (None, None)
    };
    let (client, call) = eks.on_cluster(
        "UpdateNodegroupConfig",
        &req.cluster,
        format!("node group {} of cluster {}", req.name, req.cluster),
    );
    let out = client
        .update_nodegroup_config()
        .cluster_name(&req.cluster)
        .nodegroup_name(&req.name)
        .set_scaling_config(req.scaling.as_ref().map(scaling_request))
        .set_labels(labels)
        .set_taints(taints)
        .set_update_config(req.update_config.as_ref().map(update_config_request))
        .set_node_repair_config(req.node_repair_config.as_ref().map(fields::repair_request))
        .set_warm_pool_config(req.warm_pool_config.as_ref().map(fields::warm_pool_request))
        .client_request_token(&req.client_request_token)
        .send()
        .await
        .or_api_error(&call)?;
    to_update(&call, out.update(), true, Some(UpdateType::ConfigUpdate))
}

pub(super) async fn update_nodegroup_version(
    eks: &AwsEks,
    req: &NodeGroupVersionUpdate,
) -> ApiResult<Update> {
    let (client, call) = eks.on_cluster(
        "UpdateNodegroupVersion",
        &req.cluster,
        format!(
            "node group {} of cluster {} (to {})",
            req.name, req.cluster, req.version
        ),
    );
    let out = client
        .update_nodegroup_version()
        .cluster_name(&req.cluster)
        .nodegroup_name(&req.name)
        .version(&req.version)
        .set_release_version(req.release_version.clone())
        .set_launch_template(req.launch_template.as_ref().map(launch_template_request))
        .client_request_token(&req.client_request_token)
        .send()
        .await
        .or_api_error(&call)?;
    to_update(
        &call,
        out.update(),
        true,
        Some(UpdateType::NodegroupVersionUpdate),
    )
}

pub(super) async fn delete_nodegroup(eks: &AwsEks, cluster: &str, name: &str) -> ApiResult<()> {
    let (client, call) = eks.on_cluster(
        "DeleteNodegroup",
        cluster,
        format!("node group {name} of cluster {cluster}"),
    );
    client
        .delete_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(name)
        .send()
        .await
        .or_api_error(&call)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_payload_adds_changes_and_removes() {
        let cur: BTreeMap<String, String> =
            [("a".into(), "1".into()), ("b".into(), "2".into())].into();
        let want: BTreeMap<String, String> = [
            ("a".into(), "1".into()),
            ("b".into(), "3".into()),
            ("c".into(), "4".into()),
        ]
        .into();
        let p = labels_payload(&cur, &want).unwrap();
        let add = p.add_or_update_labels().unwrap();
        assert_eq!(add.len(), 2);
        assert_eq!(add.get("b").map(String::as_str), Some("3"));
        assert!(p.remove_labels().is_empty());
        assert!(labels_payload(&cur, &cur).is_none());
        let p = labels_payload(&cur, &BTreeMap::new()).unwrap();
        assert_eq!(p.remove_labels().len(), 2);
    }
}
