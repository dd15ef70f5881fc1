//! The newer EKS settings through the aws-sdk-eks adapter, against aws-smithy-mocks: what
//! each call sends, and what a describe answer reads back.

use std::sync::{Arc, Mutex};

use aws_sdk_eks::operation::create_addon::{CreateAddonInput, CreateAddonOutput};
use aws_sdk_eks::operation::create_cluster::{CreateClusterInput, CreateClusterOutput};
use aws_sdk_eks::operation::create_nodegroup::{CreateNodegroupInput, CreateNodegroupOutput};
use aws_sdk_eks::operation::create_pod_identity_association::{
    CreatePodIdentityAssociationInput, CreatePodIdentityAssociationOutput,
};
use aws_sdk_eks::operation::update_cluster_config::{
    UpdateClusterConfigInput, UpdateClusterConfigOutput,
};
use aws_sdk_eks::operation::update_nodegroup_config::{
    UpdateNodegroupConfigInput, UpdateNodegroupConfigOutput,
};
use aws_sdk_eks::operation::update_pod_identity_association::{
    UpdatePodIdentityAssociationInput, UpdatePodIdentityAssociationOutput,
};
use aws_sdk_eks::types as sdk;
use aws_sdk_eks::Client;
use aws_smithy_mocks::mock;
use serde_json::json;

use keelson::model::live::UpdateType;
use keelson::model::*;
use keelson::ports::*;

use super::aws_mocks::{cluster_output, eks as mocked, CLUSTER, REGION};

/// A mock of `$op` that keeps the last request it got (`.1`) and answers with
/// `$answer(&request)`.
macro_rules! recorded {
    ($op:expr, $input:ty, $answer:expr) => {{
        let seen: Arc<Mutex<Option<$input>>> = Arc::default();
        let seen_in = seen.clone();
        let answer = $answer;
        let rule = mock!($op).then_compute_output(move |req| {
            *seen_in.lock().unwrap() = Some(req.clone());
            answer(req)
        });
        (rule, seen)
    }};
}

/// The request a [`recorded!`] mock got.
fn got<T: Clone>(seen: &Mutex<Option<T>>) -> T {
    seen.lock().unwrap().clone().expect("the mock was called")
}

fn cluster_spec(extra: serde_json::Value) -> ClusterSpec {
    let mut spec = json!({
        "region": REGION,
        "version": "1.34",
        "stage": "prod",
        "roleArn": "arn:aws:iam::111122223333:role/cluster",
        "vpc": {"subnetIds": ["subnet-0aaaaaaaa", "subnet-0bbbbbbbb"], "controlPlaneEgressMode": "CUSTOMER_ROUTED"},
    });
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    serde_json::from_value(spec).unwrap()
}

#[tokio::test]
async fn create_cluster_sends_hybrid_networks_zonal_shift_tier_egress_outpost_and_bootstrap() {
    let (rule, seen) = recorded!(
        Client::create_cluster,
        CreateClusterInput,
        move |_: &CreateClusterInput| CreateClusterOutput::builder()
            .set_cluster(cluster_output().cluster)
            .build()
    );
    let eks = mocked(&[&rule]);
    let spec = cluster_spec(json!({
        "remoteNetworkConfig": {"remoteNodeNetworks": [{"cidrs": ["10.80.0.0/16"]}], "remotePodNetworks": [{"cidrs": ["10.90.0.0/16"]}]},
        "zonalShiftConfig": {"enabled": true},
        "controlPlaneScalingConfig": {"tier": "tier-4xl"},
        "outpostConfig": {"outpostArns": ["arn:aws:outposts:eu-west-1:111122223333:outpost/op-1"], "controlPlaneInstanceType": "m5.large", "controlPlanePlacement": {"groupName": "cp"}},
        "bootstrapSelfManagedAddons": false,
    }));
    let req = CreateCluster {
        name: CLUSTER.into(),
        spec,
        tags: Tags::new(),
        client_request_token: "tok".into(),
    };
    eks.create_cluster(&req).await.unwrap();
    let sent = got(&seen);
    let net = sent.remote_network_config().unwrap();
    assert_eq!(net.remote_node_networks()[0].cidrs(), ["10.80.0.0/16"]);
    assert_eq!(net.remote_pod_networks()[0].cidrs(), ["10.90.0.0/16"]);
    assert_eq!(
        sent.zonal_shift_config().and_then(|z| z.enabled()),
        Some(true)
    );
    assert_eq!(
        sent.control_plane_scaling_config().and_then(|c| c.tier()),
        Some(&sdk::ProvisionedControlPlaneTier::Tier4Xl)
    );
    assert_eq!(
        sent.resources_vpc_config()
            .and_then(|v| v.control_plane_egress_mode()),
        Some(&sdk::ControlPlaneEgressModeType::CustomerRouted)
    );
    let outpost = sent.outpost_config().unwrap();
    assert_eq!(
        outpost.outpost_arns(),
        ["arn:aws:outposts:eu-west-1:111122223333:outpost/op-1"]
    );
    assert_eq!(outpost.control_plane_instance_type(), "m5.large");
    assert_eq!(
        outpost
            .control_plane_placement()
            .and_then(|p| p.group_name()),
        Some("cp")
    );
    assert_eq!(sent.bootstrap_self_managed_addons(), Some(false));
}

async fn sent_update(change: ClusterConfigUpdate) -> (UpdateClusterConfigInput, UpdateType) {
    let raw = match change.update_type() {
        UpdateType::RemoteNetworkConfigUpdate => sdk::UpdateType::RemoteNetworkConfigUpdate,
        UpdateType::ZonalShiftConfigUpdate => sdk::UpdateType::ZonalShiftConfigUpdate,
        UpdateType::ControlPlaneScalingConfigUpdate => {
            sdk::UpdateType::ControlPlaneScalingConfigUpdate
        }
        _ => sdk::UpdateType::ControlPlaneEgressUpdate,
    };
    let update = sdk::Update::builder()
        .id("u-1")
        .status(sdk::UpdateStatus::InProgress)
        .r#type(raw)
        .build();
    let (rule, seen) = recorded!(
        Client::update_cluster_config,
        UpdateClusterConfigInput,
        move |_: &UpdateClusterConfigInput| UpdateClusterConfigOutput::builder()
            .update(update.clone())
            .build()
    );
    let eks = mocked(&[&rule]);
    let u = eks.update_cluster_config(CLUSTER, &change).await.unwrap();
    let sent = got(&seen);
    (sent, u.update_type)
}

#[tokio::test]
async fn each_cluster_setting_goes_in_its_own_update_cluster_config_and_its_update_type_is_read() {
    let (sent, t) = sent_update(ClusterConfigUpdate::ControlPlaneEgress {
        mode: ControlPlaneEgressMode::CustomerRouted,
    })
    .await;
    assert_eq!(t, UpdateType::ControlPlaneEgressUpdate);
    let vpc = sent.resources_vpc_config().unwrap();
    assert_eq!(
        vpc.control_plane_egress_mode(),
        Some(&sdk::ControlPlaneEgressModeType::CustomerRouted)
    );
    assert!(vpc.subnet_ids().is_empty() && vpc.endpoint_public_access().is_none());

    let (sent, t) = sent_update(ClusterConfigUpdate::ControlPlaneScaling {
        tier: ControlPlaneTier::TierXl,
    })
    .await;
    assert_eq!(t, UpdateType::ControlPlaneScalingConfigUpdate);
    assert_eq!(
        sent.control_plane_scaling_config().and_then(|c| c.tier()),
        Some(&sdk::ProvisionedControlPlaneTier::TierXl)
    );
    assert!(sent.resources_vpc_config().is_none());

    let (sent, t) = sent_update(ClusterConfigUpdate::ZonalShift { enabled: false }).await;
    assert_eq!(t, UpdateType::ZonalShiftConfigUpdate);
    assert_eq!(
        sent.zonal_shift_config().and_then(|z| z.enabled()),
        Some(false)
    );

    let (sent, t) = sent_update(ClusterConfigUpdate::RemoteNetwork {
        remote_network_config: RemoteNetworkConfig {
            remote_node_networks: vec![RemoteNetwork {
                cidrs: vec!["10.81.0.0/16".into()],
            }],
            remote_pod_networks: vec![],
        },
    })
    .await;
    assert_eq!(t, UpdateType::RemoteNetworkConfigUpdate);
    let net = sent.remote_network_config().unwrap();
    assert_eq!(net.remote_node_networks()[0].cidrs(), ["10.81.0.0/16"]);
    assert!(net.remote_pod_networks().is_empty());
}

#[tokio::test]
async fn describe_cluster_reads_the_settings_back() {
    let rule = mock!(Client::describe_cluster).then_output(|| {
        let mut out = cluster_output();
        if let Some(c) = out.cluster.as_mut() {
            c.resources_vpc_config = Some(
                sdk::VpcConfigResponse::builder()
                    .control_plane_egress_mode(sdk::ControlPlaneEgressModeType::CustomerIsolated)
                    .build(),
            );
            let node_net = sdk::RemoteNodeNetwork::builder()
                .cidrs("10.80.0.0/16")
                .build();
            c.remote_network_config = Some(
                sdk::RemoteNetworkConfigResponse::builder()
                    .remote_node_networks(node_net)
                    .build(),
            );
            c.zonal_shift_config = Some(
                sdk::ZonalShiftConfigResponse::builder()
                    .enabled(true)
                    .build(),
            );
            c.control_plane_scaling_config = Some(
                sdk::ControlPlaneScalingConfig::builder()
                    .tier(sdk::ProvisionedControlPlaneTier::Tier8Xl)
                    .build(),
            );
        }
        out
    });
    let eks = mocked(&[&rule]);
    let c = eks.describe_cluster(CLUSTER).await.unwrap();
    assert_eq!(
        c.vpc.control_plane_egress_mode,
        Some(ControlPlaneEgressMode::CustomerIsolated)
    );
    assert_eq!(
        c.settings
            .remote_network_config
            .unwrap()
            .remote_node_networks[0]
            .cidrs,
        ["10.80.0.0/16"]
    );
    assert_eq!(
        c.settings.zonal_shift_config,
        Some(ZonalShiftConfig { enabled: true })
    );
    assert_eq!(
        c.settings.control_plane_scaling_config.map(|s| s.tier),
        Some(ControlPlaneTier::Tier8Xl)
    );
    assert_eq!(c.settings.outpost_config, None);
}

fn ng_spec() -> NodeGroupSpec {
    serde_json::from_value(json!({
        "nodeRoleArn": "arn:aws:iam::111122223333:role/node",
        "subnetIds": ["subnet-0aaaaaaaa"],
        "scaling": {"minSize": 1, "maxSize": 3},
        "updateConfig": {"maxUnavailablePercentage": 25, "updateStrategy": "MINIMAL"},
        "nodeRepairConfig": {"enabled": true, "maxParallelNodesRepairedCount": 2,
            "nodeRepairConfigOverrides": [{"nodeMonitoringCondition": "NetworkingReady", "nodeUnhealthyReason": "InterfaceNotUp", "minRepairWaitTimeMins": 15, "repairAction": "Replace"}]},
        "warmPoolConfig": {"enabled": true, "minSize": 2, "maxGroupPreparedCapacity": 6, "poolState": "HIBERNATED", "reuseOnScaleIn": true},
        "remoteAccess": {"ec2SshKey": "ops", "sourceSecurityGroups": ["sg-0123456789abcdef0"]},
    }))
    .unwrap()
}

fn check_repair_and_warm_pool(r: Option<&sdk::NodeRepairConfig>, w: Option<&sdk::WarmPoolConfig>) {
    let r = r.unwrap();
    assert_eq!(r.enabled(), Some(true));
    assert_eq!(r.max_parallel_nodes_repaired_count(), Some(2));
    let o = &r.node_repair_config_overrides()[0];
    assert_eq!(o.repair_action(), Some(&sdk::RepairAction::Replace));
    assert_eq!(o.min_repair_wait_time_mins(), Some(15));
    let w = w.unwrap();
    assert_eq!(w.min_size(), Some(2));
    assert_eq!(w.max_group_prepared_capacity(), Some(6));
    assert_eq!(w.pool_state(), Some(&sdk::WarmPoolState::Hibernated));
    assert_eq!(w.reuse_on_scale_in(), Some(true));
}

#[tokio::test]
async fn node_group_create_and_config_update_send_strategy_repair_warm_pool_and_ssh_access() {
    let (rule, seen) = recorded!(
        Client::create_nodegroup,
        CreateNodegroupInput,
        // EKS echoes the configuration it was given.
        move |req: &CreateNodegroupInput| {
            let echo = sdk::Nodegroup::builder()
                .set_nodegroup_name(req.nodegroup_name().map(str::to_string))
                .set_update_config(req.update_config().cloned())
                .set_node_repair_config(req.node_repair_config().cloned())
                .set_warm_pool_config(req.warm_pool_config().cloned())
                .set_remote_access(req.remote_access().cloned());
            CreateNodegroupOutput::builder()
                .nodegroup(echo.build())
                .build()
        }
    );
    let eks = mocked(&[&rule]);
    let req = CreateNodeGroup {
        cluster: CLUSTER.into(),
        name: "gpu".into(),
        spec: ng_spec(),
        client_request_token: "tok".into(),
    };
    let live = eks.create_nodegroup(&req).await.unwrap();
    // And the adapter reads the echo back as it was sent.
    let want = ng_spec();
    assert_eq!(live.spec.update_config, want.update_config);
    assert_eq!(live.spec.node_repair_config, want.node_repair_config);
    assert_eq!(live.spec.warm_pool_config, want.warm_pool_config);
    assert_eq!(live.spec.remote_access, want.remote_access);
    let sent = got(&seen);
    assert_eq!(
        sent.update_config().and_then(|u| u.update_strategy()),
        Some(&sdk::NodegroupUpdateStrategies::Minimal)
    );
    check_repair_and_warm_pool(sent.node_repair_config(), sent.warm_pool_config());
    let ra = sent.remote_access().unwrap();
    assert_eq!(ra.ec2_ssh_key(), Some("ops"));
    assert_eq!(ra.source_security_groups(), ["sg-0123456789abcdef0"]);

    let (rule, seen) = recorded!(
        Client::update_nodegroup_config,
        UpdateNodegroupConfigInput,
        move |_: &UpdateNodegroupConfigInput| {
            UpdateNodegroupConfigOutput::builder()
                .update(
                    sdk::Update::builder()
                        .id("u")
                        .status(sdk::UpdateStatus::InProgress)
                        .build(),
                )
                .build()
        }
    );
    let eks = mocked(&[&rule]);
    let spec = ng_spec();
    let req = NodeGroupConfigUpdate {
        cluster: CLUSTER.into(),
        name: "gpu".into(),
        scaling: None,
        labels: None,
        taints: None,
        update_config: spec.update_config,
        node_repair_config: spec.node_repair_config.clone(),
        warm_pool_config: spec.warm_pool_config.clone(),
        client_request_token: "tok2".into(),
    };
    eks.update_nodegroup_config(&req).await.unwrap();
    let sent = got(&seen);
    assert_eq!(
        sent.update_config().and_then(|u| u.update_strategy()),
        Some(&sdk::NodegroupUpdateStrategies::Minimal)
    );
    check_repair_and_warm_pool(sent.node_repair_config(), sent.warm_pool_config());
}

#[tokio::test]
async fn addon_namespace_and_pod_identity_session_policy_are_sent() {
    // EKS answers with the namespace the add-on was installed in.
    let (rule, seen) = recorded!(
        Client::create_addon,
        CreateAddonInput,
        move |req: &CreateAddonInput| {
            let ns = sdk::AddonNamespaceConfigResponse::builder()
                .set_namespace(
                    req.namespace_config()
                        .and_then(|n| n.namespace().map(str::to_string)),
                )
                .build();
            CreateAddonOutput::builder()
                .addon(
                    sdk::Addon::builder()
                        .addon_name("metrics-server")
                        .addon_version("v0.8.0-eksbuild.1")
                        .namespace_config(ns)
                        .build(),
                )
                .build()
        }
    );
    let eks = mocked(&[&rule]);
    let req: AddonRequest = serde_json::from_value(json!({
        "cluster": CLUSTER, "name": "metrics-server", "version": "v0.8.0-eksbuild.1",
        "configurationValues": null, "serviceAccountRoleArn": null,
        "podIdentityAssociations": [], "resolveConflicts": null,
        "namespaceConfig": {"namespace": "dns"}, "tags": {}, "clientRequestToken": "tok",
    }))
    .unwrap();
    let live = eks.create_addon(&req).await.unwrap();
    let sent = got(&seen);
    assert_eq!(
        sent.namespace_config().and_then(|n| n.namespace()),
        Some("dns")
    );
    assert_eq!(live.namespace_config, req.namespace_config);

    let policy = json!({"Version": "2012-10-17", "Statement": []});
    let spec: PodIdentityAssociationSpec = serde_json::from_value(json!({
        "namespace": "apps", "serviceAccount": "reader",
        "roleArn": "arn:aws:iam::111122223333:role/shared",
        "disableSessionTags": true, "policy": policy,
    }))
    .unwrap();
    let (rule, seen) = recorded!(
        Client::create_pod_identity_association,
        CreatePodIdentityAssociationInput,
        move |req: &CreatePodIdentityAssociationInput| {
            CreatePodIdentityAssociationOutput::builder()
                .association(
                    sdk::PodIdentityAssociation::builder()
                        .association_id("a-1")
                        .namespace("apps")
                        .service_account("reader")
                        .policy(req.policy().unwrap_or_default())
                        .build(),
                )
                .build()
        }
    );
    let eks = mocked(&[&rule]);
    let live = eks
        .create_pod_identity_association(&CreatePodIdentity {
            cluster: CLUSTER.into(),
            spec: spec.clone(),
            client_request_token: "tok".into(),
        })
        .await
        .unwrap();
    let sent = got(&seen);
    let text = sent.policy().unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(text).unwrap(),
        policy
    );
    assert_eq!(sent.disable_session_tags(), Some(true));
    assert_eq!(live.spec.policy, Some(policy));

    // Removing a policy sends it empty.
    let (rule, seen) = recorded!(
        Client::update_pod_identity_association,
        UpdatePodIdentityAssociationInput,
        move |_: &UpdatePodIdentityAssociationInput| {
            UpdatePodIdentityAssociationOutput::builder().build()
        }
    );
    let eks = mocked(&[&rule]);
    let cleared = PodIdentityAssociationSpec {
        policy: Some(json!("")),
        ..spec
    };
    eks.update_pod_identity_association(CLUSTER, "a-1", &cleared)
        .await
        .unwrap();
    assert_eq!(got(&seen).policy(), Some(""));
}
