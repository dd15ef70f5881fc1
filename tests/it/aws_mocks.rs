//! `EksApi` on aws-sdk-eks, against aws-smithy-mocks: request mapping, answer mapping,
//! retries and error classes. Retries use millisecond backoffs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_eks::config::retry::RetryConfig;
use aws_sdk_eks::operation::associate_access_policy::{
    AssociateAccessPolicyInput, AssociateAccessPolicyOutput,
};
use aws_sdk_eks::operation::create_addon::{CreateAddonInput, CreateAddonOutput};
use aws_sdk_eks::operation::create_cluster::{CreateClusterInput, CreateClusterOutput};
use aws_sdk_eks::operation::describe_access_entry::DescribeAccessEntryOutput;
use aws_sdk_eks::operation::describe_addon::DescribeAddonOutput;
use aws_sdk_eks::operation::describe_addon_versions::DescribeAddonVersionsOutput;
use aws_sdk_eks::operation::describe_cluster::DescribeClusterOutput;
use aws_sdk_eks::operation::describe_nodegroup::DescribeNodegroupOutput;
use aws_sdk_eks::operation::describe_pod_identity_association::DescribePodIdentityAssociationOutput;
use aws_sdk_eks::operation::describe_update::DescribeUpdateOutput;
use aws_sdk_eks::operation::list_associated_access_policies::ListAssociatedAccessPoliciesOutput;
use aws_sdk_eks::operation::update_cluster_config::{
    UpdateClusterConfigInput, UpdateClusterConfigOutput,
};
use aws_sdk_eks::operation::update_cluster_version::{
    UpdateClusterVersionInput, UpdateClusterVersionOutput,
};
use aws_sdk_eks::operation::update_nodegroup_config::{
    UpdateNodegroupConfigInput, UpdateNodegroupConfigOutput,
};
use aws_sdk_eks::types as sdk;
use aws_sdk_eks::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::body::SdkBody;
use serde_json::json;

use keelson::adapters::aws::eks::AwsEks;
use keelson::model::live::{AddonVersion, Compatibility, Status, UpdateStatus, UpdateType};
use keelson::model::*;
use keelson::ports::*;

pub(crate) const REGION: &str = "eu-west-1";
pub(crate) const CLUSTER: &str = "prod-eu";

pub(crate) fn fast_retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5))
}

/// The adapter on a mocked client; rules are matched by operation and predicate.
pub(crate) fn eks(rules: &[&Rule]) -> AwsEks {
    let client = mock_client!(aws_sdk_eks, RuleMode::MatchAny, rules, |b| b
        .retry_config(fast_retries()));
    AwsEks::from_client(client, REGION)
}

/// An EKS error answer the way the service sends it.
pub(crate) fn aws_error(status: u16, code: &str, message: &str) -> HttpResponse {
    let body = json!({ "message": message }).to_string();
    let resp = http::Response::builder()
        .status(status)
        .header("x-amzn-errortype", code)
        .header("content-type", "application/json")
        .body(SdkBody::from(body))
        .unwrap();
    HttpResponse::try_from(resp).unwrap()
}

pub(crate) fn calls(eks: &AwsEks, op: &str) -> u64 {
    eks.calls().get(op).copied().unwrap_or(0)
}

pub(crate) fn cluster_output() -> DescribeClusterOutput {
    DescribeClusterOutput::builder()
        .cluster(
            sdk::Cluster::builder()
                .name(CLUSTER)
                .arn(format!(
                    "arn:aws:eks:{REGION}:111122223333:cluster/{CLUSTER}"
                ))
                .status(sdk::ClusterStatus::Active)
                .version("1.34")
                .build(),
        )
        .build()
}

// ───────────────────────────── Clusters ─────────────────────────────

#[tokio::test]
async fn describe_cluster_maps_auto_mode_access_and_logging() {
    let rule = mock!(Client::describe_cluster)
        .match_requests(|r| r.name() == Some(CLUSTER))
        .then_output(|| {
            DescribeClusterOutput::builder()
                .cluster(
                    sdk::Cluster::builder()
                        .name(CLUSTER)
                        .arn("arn:aws:eks:eu-west-1:111122223333:cluster/prod-eu")
                        .status(sdk::ClusterStatus::Updating)
                        .version("1.34")
                        .platform_version("eks.7")
                        .endpoint("https://ABC.gr7.eu-west-1.eks.amazonaws.com")
                        .certificate_authority(sdk::Certificate::builder().data("Q0E=").build())
                        .role_arn("arn:aws:iam::111122223333:role/cluster")
                        .resources_vpc_config(
                            sdk::VpcConfigResponse::builder()
                                .subnet_ids("subnet-0aaaaaaaa")
                                .subnet_ids("subnet-0bbbbbbbb")
                                .endpoint_public_access(true)
                                .endpoint_private_access(true)
                                .public_access_cidrs("10.0.0.0/8")
                                .build(),
                        )
                        .kubernetes_network_config(
                            sdk::KubernetesNetworkConfigResponse::builder()
                                .service_ipv4_cidr("172.20.0.0/16")
                                .ip_family(sdk::IpFamily::Ipv4)
                                .elastic_load_balancing(
                                    sdk::ElasticLoadBalancing::builder().enabled(true).build(),
                                )
                                .build(),
                        )
                        .compute_config(
                            sdk::ComputeConfigResponse::builder()
                                .enabled(true)
                                .node_pools("system")
                                .node_pools("general-purpose")
                                .node_role_arn("arn:aws:iam::111122223333:role/node")
                                .build(),
                        )
                        .storage_config(
                            sdk::StorageConfigResponse::builder()
                                .block_storage(sdk::BlockStorage::builder().enabled(true).build())
                                .build(),
                        )
                        .logging(
                            sdk::Logging::builder()
                                .cluster_logging(
                                    sdk::LogSetup::builder()
                                        .types(sdk::LogType::Audit)
                                        .types(sdk::LogType::Api)
                                        .enabled(true)
                                        .build(),
                                )
                                .cluster_logging(
                                    sdk::LogSetup::builder()
                                        .types(sdk::LogType::Scheduler)
                                        .enabled(false)
                                        .build(),
                                )
                                .build(),
                        )
                        .access_config(
                            sdk::AccessConfigResponse::builder()
                                .authentication_mode(sdk::AuthenticationMode::Api)
                                .build(),
                        )
                        .upgrade_policy(
                            sdk::UpgradePolicyResponse::builder()
                                .support_type(sdk::SupportType::Standard)
                                .build(),
                        )
                        .deletion_protection(true)
                        .encryption_config(
                            sdk::EncryptionConfig::builder()
                                .provider(
                                    sdk::Provider::builder()
                                        .key_arn("arn:aws:kms:eu-west-1:111122223333:key/k")
                                        .build(),
                                )
                                .build(),
                        )
                        .tags("keelson.dev/fleet", "main")
                        .build(),
                )
                .build()
        });
    let eks = eks(&[&rule]);

    let c = eks.describe_cluster(CLUSTER).await.unwrap();

    assert_eq!(c.region, REGION);
    assert_eq!(c.status, Status::Updating);
    assert_eq!(c.platform_version, "eks.7");
    assert_eq!(c.certificate_authority, "Q0E=");
    assert_eq!(c.vpc.subnet_ids.len(), 2);
    assert!(c.vpc.endpoint_private_access);
    assert_eq!(c.vpc.public_access_cidrs, vec!["10.0.0.0/8".to_string()]);
    let am = c.auto_mode.unwrap();
    assert!(am.compute.enabled && am.block_storage.enabled && am.load_balancing.enabled);
    assert_eq!(am.compute.node_pools, vec!["system", "general-purpose"]);
    assert_eq!(c.logging, vec![LogType::Api, LogType::Audit]);
    assert_eq!(
        c.access.unwrap().authentication_mode,
        AuthenticationMode::Api
    );
    assert_eq!(
        c.upgrade_policy.unwrap().support_type,
        SupportType::Standard
    );
    assert!(c.deletion_protection);
    assert_eq!(
        c.secrets_kms_key_arn.as_deref(),
        Some("arn:aws:kms:eu-west-1:111122223333:key/k")
    );
    assert_eq!(
        c.tags.get("keelson.dev/fleet").map(String::as_str),
        Some("main")
    );
    assert_eq!(calls(&eks, "DescribeCluster"), 1);
}

#[tokio::test]
async fn update_cluster_version_sends_the_version_and_maps_the_update() {
    let seen: Arc<Mutex<Option<UpdateClusterVersionInput>>> = Arc::default();
    let seen_in = seen.clone();
    let rule = mock!(Client::update_cluster_version).then_compute_output(move |req| {
        *seen_in.lock().unwrap() = Some(req.clone());
        UpdateClusterVersionOutput::builder()
            .update(
                sdk::Update::builder()
                    .id("u-1")
                    .status(sdk::UpdateStatus::InProgress)
                    .r#type(sdk::UpdateType::VersionUpdate)
                    .params(
                        sdk::UpdateParam::builder()
                            .r#type(sdk::UpdateParamType::Version)
                            .value("1.35")
                            .build(),
                    )
                    .params(
                        sdk::UpdateParam::builder()
                            .r#type(sdk::UpdateParamType::PlatformVersion)
                            .value("eks.1")
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let eks = eks(&[&rule]);

    let u = eks.update_cluster_version(CLUSTER, "1.35").await.unwrap();

    let req = seen.lock().unwrap().clone().unwrap();
    assert_eq!(req.name(), Some(CLUSTER));
    assert_eq!(req.version(), Some("1.35"));
    assert_eq!(u.id, "u-1");
    assert_eq!(u.update_type, UpdateType::VersionUpdate);
    assert_eq!(u.status, UpdateStatus::InProgress);
    assert_eq!(u.params.get("Version").map(String::as_str), Some("1.35"));
    assert_eq!(
        u.params.get("PlatformVersion").map(String::as_str),
        Some("eks.1")
    );
    assert_eq!(calls(&eks, "UpdateClusterVersion"), 1);
}

#[tokio::test]
async fn describe_update_maps_status_and_errors() {
    let rule = mock!(Client::describe_update)
        .match_requests(|r| r.name() == Some(CLUSTER) && r.update_id() == Some("u-1"))
        .then_output(|| {
            DescribeUpdateOutput::builder()
                .update(
                    sdk::Update::builder()
                        .id("u-1")
                        .status(sdk::UpdateStatus::Failed)
                        .r#type(sdk::UpdateType::VersionUpdate)
                        .errors(
                            sdk::ErrorDetail::builder()
                                .error_code(sdk::ErrorCode::SubnetNotFound)
                                .error_message("subnet-0aaaaaaaa was deleted")
                                .resource_ids("subnet-0aaaaaaaa")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let eks = eks(&[&rule]);

    let u = eks
        .describe_update(CLUSTER, "u-1", None, None)
        .await
        .unwrap();

    assert_eq!(u.status, UpdateStatus::Failed);
    assert_eq!(u.update_type, UpdateType::VersionUpdate);
    assert_eq!(
        u.errors,
        vec!["SubnetNotFound: subnet-0aaaaaaaa was deleted (subnet-0aaaaaaaa)".to_string()]
    );
}

#[tokio::test]
async fn describe_update_of_a_node_group_reports_a_node_group_version_update() {
    let rule = mock!(Client::describe_update)
        .match_requests(|r| r.nodegroup_name() == Some("workers"))
        .then_output(|| {
            DescribeUpdateOutput::builder()
                .update(
                    sdk::Update::builder()
                        .id("u-2")
                        .status(sdk::UpdateStatus::Successful)
                        .r#type(sdk::UpdateType::VersionUpdate)
                        .build(),
                )
                .build()
        });
    let eks = eks(&[&rule]);

    let u = eks
        .describe_update(CLUSTER, "u-2", Some("workers"), None)
        .await
        .unwrap();

    assert_eq!(u.update_type, UpdateType::NodegroupVersionUpdate);
    assert_eq!(u.status, UpdateStatus::Successful);
}

fn auto_mode(enabled: bool) -> AutoMode {
    AutoMode {
        compute: AutoCompute {
            enabled,
            node_pools: if enabled {
                vec!["system".into(), "general-purpose".into()]
            } else {
                vec![]
            },
            node_role_arn: enabled.then(|| "arn:aws:iam::111122223333:role/node".to_string()),
        },
        block_storage: Toggle { enabled },
        load_balancing: Toggle { enabled },
    }
}

#[tokio::test]
async fn create_cluster_sends_auto_mode_access_encryption_and_the_token() {
    let seen: Arc<Mutex<Option<CreateClusterInput>>> = Arc::default();
    let seen_in = seen.clone();
    let rule = mock!(Client::create_cluster).then_compute_output(move |req| {
        *seen_in.lock().unwrap() = Some(req.clone());
        CreateClusterOutput::builder()
            .cluster(
                sdk::Cluster::builder()
                    .name(CLUSTER)
                    .status(sdk::ClusterStatus::Creating)
                    .version("1.34")
                    .build(),
            )
            .build()
    });
    let eks = eks(&[&rule]);
    let req = CreateCluster {
        name: CLUSTER.into(),
        spec: ClusterSpec {
            region: REGION.into(),
            version: "1.34".into(),
            stage: "prod".into(),
            account: None,
            operator_role_arn: None,
            role_arn: "arn:aws:iam::111122223333:role/cluster".into(),
            vpc: VpcConfig {
                subnet_ids: vec!["subnet-0aaaaaaaa".into(), "subnet-0bbbbbbbb".into()],
                security_group_ids: vec![],
                endpoint_public_access: true,
                endpoint_private_access: false,
                public_access_cidrs: vec![],
                control_plane_egress_mode: None,
            },
            kubernetes_network: None,
            auto_mode: Some(auto_mode(true)),
            logging: vec![LogType::Audit],
            access: Some(AccessConfig {
                authentication_mode: AuthenticationMode::Api,
                bootstrap_cluster_creator_admin_permissions: Some(false),
            }),
            upgrade_policy: Some(UpgradePolicy {
                support_type: SupportType::Standard,
            }),
            deletion_protection: true,
            secrets_kms_key_arn: Some("arn:aws:kms:eu-west-1:111122223333:key/k".into()),
            remote_network_config: None,
            zonal_shift_config: None,
            control_plane_scaling_config: None,
            outpost_config: None,
            bootstrap_self_managed_addons: None,
            tags: Tags::new(),
        },
        tags: [("keelson.dev/fleet".to_string(), "main".to_string())].into(),
        client_request_token: "tok-create".into(),
    };

    let live = eks.create_cluster(&req).await.unwrap();

    let sent = seen.lock().unwrap().clone().unwrap();
    assert_eq!(sent.client_request_token(), Some("tok-create"));
    assert_eq!(sent.version(), Some("1.34"));
    let compute = sent.compute_config().unwrap();
    assert_eq!(compute.enabled(), Some(true));
    assert_eq!(compute.node_pools(), ["system", "general-purpose"]);
    assert_eq!(
        compute.node_role_arn(),
        Some("arn:aws:iam::111122223333:role/node")
    );
    assert_eq!(
        sent.storage_config()
            .and_then(|s| s.block_storage())
            .and_then(|b| b.enabled()),
        Some(true)
    );
    assert_eq!(
        sent.kubernetes_network_config()
            .and_then(|k| k.elastic_load_balancing())
            .and_then(|e| e.enabled()),
        Some(true)
    );
    assert_eq!(sent.bootstrap_self_managed_addons(), Some(false));
    let access = sent.access_config().unwrap();
    assert_eq!(
        access.authentication_mode(),
        Some(&sdk::AuthenticationMode::Api)
    );
    assert_eq!(
        access.bootstrap_cluster_creator_admin_permissions(),
        Some(false)
    );
    assert_eq!(
        sent.upgrade_policy().and_then(|u| u.support_type()),
        Some(&sdk::SupportType::Standard)
    );
    assert_eq!(sent.deletion_protection(), Some(true));
    assert_eq!(
        sent.encryption_config()[0]
            .provider()
            .and_then(|p| p.key_arn()),
        Some("arn:aws:kms:eu-west-1:111122223333:key/k")
    );
    let logging = &sent.logging().unwrap().cluster_logging()[0];
    assert_eq!(logging.types(), [sdk::LogType::Audit]);
    assert_eq!(logging.enabled(), Some(true));
    assert_eq!(
        sent.tags()
            .and_then(|t| t.get("keelson.dev/fleet"))
            .map(String::as_str),
        Some("main")
    );
    assert_eq!(live.status, Status::Creating);
    assert_eq!(live.region, REGION);
}

#[tokio::test]
async fn update_cluster_config_switches_the_three_auto_mode_capabilities_together() {
    let seen: Arc<Mutex<Option<UpdateClusterConfigInput>>> = Arc::default();
    let seen_in = seen.clone();
    let rule = mock!(Client::update_cluster_config).then_compute_output(move |req| {
        *seen_in.lock().unwrap() = Some(req.clone());
        UpdateClusterConfigOutput::builder()
            .update(
                sdk::Update::builder()
                    .id("u-4")
                    .status(sdk::UpdateStatus::InProgress)
                    .r#type(sdk::UpdateType::AutoModeUpdate)
                    .build(),
            )
            .build()
    });
    let eks = eks(&[&rule]);

    let u = eks
        .update_cluster_config(
            CLUSTER,
            &ClusterConfigUpdate::AutoMode {
                auto_mode: auto_mode(false),
            },
        )
        .await
        .unwrap();

    let sent = seen.lock().unwrap().clone().unwrap();
    assert_eq!(sent.compute_config().and_then(|c| c.enabled()), Some(false));
    assert_eq!(
        sent.storage_config()
            .and_then(|s| s.block_storage())
            .and_then(|b| b.enabled()),
        Some(false)
    );
    assert_eq!(
        sent.kubernetes_network_config()
            .and_then(|k| k.elastic_load_balancing())
            .and_then(|e| e.enabled()),
        Some(false)
    );
    assert!(sent.logging().is_none() && sent.resources_vpc_config().is_none());
    assert_eq!(u.update_type, UpdateType::AutoModeUpdate);
}

// ───────────────────────────── Add-ons ─────────────────────────────

fn addon_output(config: &'static str) -> DescribeAddonOutput {
    DescribeAddonOutput::builder()
        .addon(
            sdk::Addon::builder()
                .addon_name("coredns")
                .cluster_name(CLUSTER)
                .addon_version("v1.11.4-eksbuild.2")
                .status(sdk::AddonStatus::Active)
                .addon_arn("arn:aws:eks:eu-west-1:111122223333:addon/prod-eu/coredns/x")
                .configuration_values(config)
                .tags("team", "platform")
                .build(),
        )
        .build()
}

#[tokio::test]
async fn describe_addon_parses_json_configuration_values() {
    let rule = mock!(Client::describe_addon)
        .match_requests(|r| r.cluster_name() == Some(CLUSTER) && r.addon_name() == Some("coredns"))
        .then_output(|| {
            addon_output(r#"{"replicaCount": 3, "resources": {"limits": {"memory": "170Mi"}}}"#)
        });
    let eks = eks(&[&rule]);

    let a = eks.describe_addon(CLUSTER, "coredns").await.unwrap();

    assert_eq!(a.name, "coredns");
    assert_eq!(a.version, "v1.11.4-eksbuild.2");
    assert_eq!(a.status, Status::Active);
    assert_eq!(
        a.configuration_values,
        Some(json!({"replicaCount": 3, "resources": {"limits": {"memory": "170Mi"}}}))
    );
    assert_eq!(a.tags.get("team").map(String::as_str), Some("platform"));
    assert!(a.pod_identity_associations.is_empty());
}

#[tokio::test]
async fn describe_addon_keeps_non_json_configuration_values_as_a_string() {
    let rule = mock!(Client::describe_addon).then_output(|| addon_output("replicaCount: 3\n"));
    let eks = eks(&[&rule]);

    let a = eks.describe_addon(CLUSTER, "coredns").await.unwrap();

    assert_eq!(a.configuration_values, Some(json!("replicaCount: 3\n")));
}

#[tokio::test]
async fn describe_addon_resolves_its_pod_identity_associations() {
    let addon = mock!(Client::describe_addon).then_output(|| {
        DescribeAddonOutput::builder()
            .addon(
                sdk::Addon::builder()
                    .addon_name("aws-ebs-csi-driver")
                    .addon_version("v1.40.0-eksbuild.1")
                    .status(sdk::AddonStatus::Active)
                    .pod_identity_associations(
                        "arn:aws:eks:eu-west-1:111122223333:podidentityassociation/prod-eu/a-ebs",
                    )
                    .build(),
            )
            .build()
    });
    let assoc = mock!(Client::describe_pod_identity_association)
        .match_requests(|r| r.association_id() == Some("a-ebs"))
        .then_output(|| {
            DescribePodIdentityAssociationOutput::builder()
                .association(
                    sdk::PodIdentityAssociation::builder()
                        .association_id("a-ebs")
                        .namespace("kube-system")
                        .service_account("ebs-csi-controller-sa")
                        .role_arn("arn:aws:iam::111122223333:role/ebs")
                        .build(),
                )
                .build()
        });
    let eks = eks(&[&addon, &assoc]);

    let a = eks
        .describe_addon(CLUSTER, "aws-ebs-csi-driver")
        .await
        .unwrap();

    assert_eq!(
        a.pod_identity_associations,
        vec![AddonPodIdentity {
            service_account: "ebs-csi-controller-sa".into(),
            role_arn: "arn:aws:iam::111122223333:role/ebs".into(),
        }]
    );
    assert_eq!(calls(&eks, "DescribePodIdentityAssociation"), 1);
}

#[tokio::test]
async fn create_addon_sends_the_token_and_a_json_configuration_string() {
    let seen: Arc<Mutex<Option<CreateAddonInput>>> = Arc::default();
    let seen_in = seen.clone();
    let rule = mock!(Client::create_addon).then_compute_output(move |req| {
        *seen_in.lock().unwrap() = Some(req.clone());
        CreateAddonOutput::builder()
            .addon(
                sdk::Addon::builder()
                    .addon_name("coredns")
                    .addon_version("v1.11.4-eksbuild.2")
                    .status(sdk::AddonStatus::Creating)
                    .build(),
            )
            .build()
    });
    let eks = eks(&[&rule]);
    let req = AddonRequest {
        cluster: CLUSTER.into(),
        name: "coredns".into(),
        version: "v1.11.4-eksbuild.2".into(),
        configuration_values: Some(json!({"replicaCount": 3})),
        service_account_role_arn: None,
        pod_identity_associations: vec![AddonPodIdentity {
            service_account: "coredns".into(),
            role_arn: "arn:aws:iam::111122223333:role/dns".into(),
        }],
        resolve_conflicts: Some(ResolveConflicts::Overwrite),
        namespace_config: None,
        tags: [("keelson.dev/fleet".to_string(), "main".to_string())].into(),
        client_request_token: "tok-coredns-1".into(),
    };

    let a = eks.create_addon(&req).await.unwrap();

    let sent = seen.lock().unwrap().clone().unwrap();
    assert_eq!(sent.client_request_token(), Some("tok-coredns-1"));
    assert_eq!(sent.configuration_values(), Some(r#"{"replicaCount":3}"#));
    assert_eq!(sent.addon_version(), Some("v1.11.4-eksbuild.2"));
    assert_eq!(
        sent.resolve_conflicts(),
        Some(&sdk::ResolveConflicts::Overwrite)
    );
    assert_eq!(sent.pod_identity_associations().len(), 1);
    assert_eq!(
        sent.pod_identity_associations()[0].service_account(),
        "coredns"
    );
    assert_eq!(
        sent.tags()
            .and_then(|t| t.get("keelson.dev/fleet"))
            .map(String::as_str),
        Some("main")
    );
    assert_eq!(a.status, Status::Creating);
    assert_eq!(a.configuration_values, Some(json!({"replicaCount": 3})));
}

#[tokio::test]
async fn describe_addon_versions_reads_every_page_with_compatibilities() {
    let page1 = mock!(Client::describe_addon_versions)
        .match_requests(|r| r.addon_name() == Some("vpc-cni") && r.next_token().is_none())
        .then_output(|| {
            DescribeAddonVersionsOutput::builder()
                .addons(
                    sdk::AddonInfo::builder()
                        .addon_name("vpc-cni")
                        .addon_versions(
                            sdk::AddonVersionInfo::builder()
                                .addon_version("v1.19.2-eksbuild.1")
                                .compatibilities(
                                    sdk::Compatibility::builder()
                                        .cluster_version("1.33")
                                        .default_version(true)
                                        .build(),
                                )
                                .compatibilities(
                                    sdk::Compatibility::builder()
                                        .cluster_version("1.34")
                                        .default_version(false)
                                        .build(),
                                )
                                .build(),
                        )
                        .build(),
                )
                .next_token("page-2")
                .build()
        });
    let page2 = mock!(Client::describe_addon_versions)
        .match_requests(|r| r.addon_name() == Some("vpc-cni") && r.next_token() == Some("page-2"))
        .then_output(|| {
            DescribeAddonVersionsOutput::builder()
                .addons(
                    sdk::AddonInfo::builder()
                        .addon_name("vpc-cni")
                        .addon_versions(
                            sdk::AddonVersionInfo::builder()
                                .addon_version("v1.20.0-eksbuild.1")
                                .compatibilities(
                                    sdk::Compatibility::builder()
                                        .cluster_version("1.34")
                                        .default_version(true)
                                        .build(),
                                )
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let eks = eks(&[&page1, &page2]);

    let versions = eks.describe_addon_versions("vpc-cni").await.unwrap();

    assert_eq!(
        versions,
        vec![
            AddonVersion {
                version: "v1.19.2-eksbuild.1".into(),
                compatibilities: vec![
                    Compatibility {
                        cluster_version: "1.33".into(),
                        default_version: true
                    },
                    Compatibility {
                        cluster_version: "1.34".into(),
                        default_version: false
                    },
                ],
            },
            AddonVersion {
                version: "v1.20.0-eksbuild.1".into(),
                compatibilities: vec![Compatibility {
                    cluster_version: "1.34".into(),
                    default_version: true
                }],
            },
        ]
    );
    assert_eq!(calls(&eks, "DescribeAddonVersions"), 2);
}

// ───────────────────────────── Node groups ─────────────────────────────

#[tokio::test]
async fn update_nodegroup_config_sends_label_and_taint_changes_against_the_current_ones() {
    let current = mock!(Client::describe_nodegroup).then_output(|| {
        DescribeNodegroupOutput::builder()
            .nodegroup(
                sdk::Nodegroup::builder()
                    .nodegroup_name("workers")
                    .status(sdk::NodegroupStatus::Active)
                    .labels("tier", "web")
                    .labels("old", "x")
                    .taints(
                        sdk::Taint::builder()
                            .key("dedicated")
                            .value("web")
                            .effect(sdk::TaintEffect::NoSchedule)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let seen: Arc<Mutex<Option<UpdateNodegroupConfigInput>>> = Arc::default();
    let seen_in = seen.clone();
    let update = mock!(Client::update_nodegroup_config).then_compute_output(move |req| {
        *seen_in.lock().unwrap() = Some(req.clone());
        UpdateNodegroupConfigOutput::builder()
            .update(
                sdk::Update::builder()
                    .id("u-3")
                    .status(sdk::UpdateStatus::InProgress)
                    .r#type(sdk::UpdateType::ConfigUpdate)
                    .build(),
            )
            .build()
    });
    let eks = eks(&[&current, &update]);
    let req = NodeGroupConfigUpdate {
        cluster: CLUSTER.into(),
        name: "workers".into(),
        scaling: None,
        labels: Some(
            [
                ("tier".to_string(), "api".to_string()),
                ("new".to_string(), "y".to_string()),
            ]
            .into(),
        ),
        taints: Some(vec![NodeGroupTaint {
            key: "gpu".into(),
            value: None,
            effect: NodeGroupTaintEffect::NoExecute,
        }]),
        update_config: None,
        node_repair_config: None,
        warm_pool_config: None,
        client_request_token: "tok-ng".into(),
    };

    let u = eks.update_nodegroup_config(&req).await.unwrap();

    let sent = seen.lock().unwrap().clone().unwrap();
    let labels = sent.labels().unwrap();
    let add = labels.add_or_update_labels().unwrap();
    assert_eq!(add.get("tier").map(String::as_str), Some("api"));
    assert_eq!(add.get("new").map(String::as_str), Some("y"));
    assert_eq!(labels.remove_labels(), ["old".to_string()]);
    let taints = sent.taints().unwrap();
    assert_eq!(taints.add_or_update_taints().len(), 1);
    assert_eq!(taints.add_or_update_taints()[0].key(), Some("gpu"));
    assert_eq!(
        taints.add_or_update_taints()[0].effect(),
        Some(&sdk::TaintEffect::NoExecute)
    );
    assert_eq!(taints.remove_taints().len(), 1);
    assert_eq!(taints.remove_taints()[0].key(), Some("dedicated"));
    assert_eq!(sent.client_request_token(), Some("tok-ng"));
    assert_eq!(u.update_type, UpdateType::ConfigUpdate);
    assert_eq!(calls(&eks, "DescribeNodegroup"), 1);
    assert_eq!(calls(&eks, "UpdateNodegroupConfig"), 1);
}

// ───────────────────────────── Access entries ─────────────────────────────

const PRINCIPAL: &str = "arn:aws:iam::111122223333:role/ci";

#[tokio::test]
async fn describe_access_entry_merges_the_associated_policies() {
    let entry = mock!(Client::describe_access_entry)
        .match_requests(|r| r.principal_arn() == Some(PRINCIPAL))
        .then_output(|| {
            DescribeAccessEntryOutput::builder()
                .access_entry(
                    sdk::AccessEntry::builder()
                        .cluster_name(CLUSTER)
                        .principal_arn(PRINCIPAL)
                        .access_entry_arn("arn:aws:eks:eu-west-1:111122223333:access-entry/x")
                        .r#type("STANDARD")
                        .kubernetes_groups("deployers")
                        .username("ci")
                        .build(),
                )
                .build()
        });
    let page1 = mock!(Client::list_associated_access_policies)
        .match_requests(|r| r.next_token().is_none())
        .then_output(|| {
            ListAssociatedAccessPoliciesOutput::builder()
                .associated_access_policies(
                    sdk::AssociatedAccessPolicy::builder()
                        .policy_arn("arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy")
                        .access_scope(
                            sdk::AccessScope::builder()
                                .r#type(sdk::AccessScopeType::Cluster)
                                .build(),
                        )
                        .build(),
                )
                .next_token("more")
                .build()
        });
    let page2 = mock!(Client::list_associated_access_policies)
        .match_requests(|r| r.next_token() == Some("more"))
        .then_output(|| {
            ListAssociatedAccessPoliciesOutput::builder()
                .associated_access_policies(
                    sdk::AssociatedAccessPolicy::builder()
                        .policy_arn("arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy")
                        .access_scope(
                            sdk::AccessScope::builder()
                                .r#type(sdk::AccessScopeType::Namespace)
                                .namespaces("apps")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let eks = eks(&[&entry, &page1, &page2]);

    let e = eks.describe_access_entry(CLUSTER, PRINCIPAL).await.unwrap();

    assert_eq!(e.spec.principal_arn, PRINCIPAL);
    assert_eq!(e.spec.entry_type, AccessEntryType::Standard);
    assert_eq!(e.spec.kubernetes_groups, vec!["deployers".to_string()]);
    assert_eq!(e.spec.username.as_deref(), Some("ci"));
    assert_eq!(
        e.spec.policies,
        vec![
            AccessPolicy {
                policy_arn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy".into(),
                access_scope: AccessScope {
                    scope_type: AccessScopeType::Namespace,
                    namespaces: vec!["apps".into()],
                },
            },
            AccessPolicy {
                policy_arn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy".into(),
                access_scope: AccessScope {
                    scope_type: AccessScopeType::Cluster,
                    namespaces: vec![],
                },
            },
        ]
    );
    assert_eq!(calls(&eks, "DescribeAccessEntry"), 1);
    assert_eq!(calls(&eks, "ListAssociatedAccessPolicies"), 2);
}

#[tokio::test]
async fn associate_access_policy_sends_the_policy_and_its_scope() {
    let seen: Arc<Mutex<Option<AssociateAccessPolicyInput>>> = Arc::default();
    let seen_in = seen.clone();
    let rule = mock!(Client::associate_access_policy).then_compute_output(move |req| {
        *seen_in.lock().unwrap() = Some(req.clone());
        AssociateAccessPolicyOutput::builder().build()
    });
    let eks = eks(&[&rule]);
    let policy = AccessPolicy {
        policy_arn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy".into(),
        access_scope: AccessScope {
            scope_type: AccessScopeType::Namespace,
            namespaces: vec!["apps".into(), "jobs".into()],
        },
    };

    eks.associate_access_policy(CLUSTER, PRINCIPAL, &policy)
        .await
        .unwrap();

    let sent = seen.lock().unwrap().clone().unwrap();
    assert_eq!(sent.cluster_name(), Some(CLUSTER));
    assert_eq!(sent.principal_arn(), Some(PRINCIPAL));
    assert_eq!(sent.policy_arn(), Some(policy.policy_arn.as_str()));
    let scope = sent.access_scope().unwrap();
    assert_eq!(scope.r#type(), Some(&sdk::AccessScopeType::Namespace));
    assert_eq!(scope.namespaces(), ["apps".to_string(), "jobs".to_string()]);
    assert_eq!(calls(&eks, "AssociateAccessPolicy"), 1);
}
