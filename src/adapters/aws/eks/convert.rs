//! Translation between the SDK's types and keelson's model: shared helpers (tags,
//! status, updates, string enums) and the cluster's configuration both ways. The
//! translations of add-ons, node groups and access sit beside their calls.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;

use aws_sdk_eks::types as sdk;
use serde_json::Value;

use super::errors::Call;
use super::fields;
use crate::model::live::*;
use crate::model::*;
use crate::ports::*;

/// A model string enum from the API's spelling, if keelson knows the value.
pub(super) fn known<T: Copy + Display>(all: &[T], s: &str) -> Option<T> {
    all.iter().copied().find(|v| v.to_string() == s)
}

/// Same, for an SDK enum; an unknown value is logged and dropped.
pub(super) fn known_or_warn<T: Copy + Display>(all: &[T], what: &str, s: &str) -> Option<T> {
    let v = known(all, s);
    if v.is_none() {
        tracing::warn!(
            value = s,
            "EKS returned a {what} keelson does not know; ignored"
        );
    }
    v
}

pub(super) fn tags(t: Option<&HashMap<String, String>>) -> Tags {
    t.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

pub(super) fn hash_map(t: &BTreeMap<String, String>) -> Option<HashMap<String, String>> {
    if t.is_empty() {
        None
    } else {
        Some(t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
}

pub(super) fn non_empty(v: &[String]) -> Option<Vec<String>> {
    if v.is_empty() {
        None
    } else {
        Some(v.to_vec())
    }
}

pub(super) fn u32_of(v: i32) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

pub(super) fn i32_of(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// The region field of an ARN (`arn:aws:eks:REGION:ACCOUNT:...`).
pub(super) fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// Lifecycle status; failed states fold into `Failed`, an unknown state counts as busy so
/// that keelson waits rather than acts.
pub(super) fn status(s: Option<&str>) -> Status {
    match s {
        Some("ACTIVE") => Status::Active,
        Some("CREATING" | "PENDING") => Status::Creating,
        Some("UPDATING") => Status::Updating,
        Some("DELETING") => Status::Deleting,
        Some("DEGRADED") => Status::Degraded,
        Some("FAILED" | "CREATE_FAILED" | "DELETE_FAILED" | "UPDATE_FAILED") => Status::Failed,
        other => {
            tracing::warn!(
                status = other.unwrap_or("(none)"),
                "EKS returned an unknown status; treated as busy"
            );
            Status::Updating
        }
    }
}

/// Configuration values as EKS stores them: a JSON document when they parse, else the
/// raw string (EKS also accepts YAML).
pub(super) fn parse_configuration(s: Option<&str>) -> Option<Value> {
    let s = s?;
    if s.trim().is_empty() {
        return None;
    }
    Some(serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string())))
}

/// Configuration values as EKS takes them: a JSON string (a string value is sent as is).
pub(super) fn configuration_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(super) fn update_type(raw: Option<&sdk::UpdateType>, nodegroup: bool) -> Option<UpdateType> {
    use sdk::UpdateType as U;
    Some(match raw? {
        U::VersionUpdate if nodegroup => UpdateType::NodegroupVersionUpdate,
        U::VersionUpdate => UpdateType::VersionUpdate,
        U::VersionRollback => UpdateType::VersionRollback,
        U::EndpointAccessUpdate => UpdateType::EndpointAccessUpdate,
        U::LoggingUpdate => UpdateType::LoggingUpdate,
        U::AccessConfigUpdate => UpdateType::AccessConfigUpdate,
        U::AutoModeUpdate => UpdateType::AutoModeUpdate,
        U::UpgradePolicyUpdate => UpdateType::UpgradePolicyUpdate,
        U::DeletionProtectionUpdate => UpdateType::DeletionProtectionUpdate,
        U::VpcConfigUpdate => UpdateType::VpcConfigUpdate,
        U::AddonUpdate => UpdateType::AddonUpdate,
        U::RemoteNetworkConfigUpdate => UpdateType::RemoteNetworkConfigUpdate,
        U::ZonalShiftConfigUpdate => UpdateType::ZonalShiftConfigUpdate,
        U::ControlPlaneScalingConfigUpdate => UpdateType::ControlPlaneScalingConfigUpdate,
        U::ControlPlaneEgressUpdate => UpdateType::ControlPlaneEgressUpdate,
        U::ConfigUpdate => UpdateType::ConfigUpdate,
        _ => return None,
    })
}

/// An EKS update as the model has it. Update types keelson has no name for are reported
/// as `ConfigUpdate`, with EKS's own name in the `UpdateType` parameter.
///
/// An answer without an update comes from endpoints that apply the change at once (moto
/// answers UpdateClusterConfig with the cluster): it is reported as a finished update
/// with an empty id, which nothing can describe later.
pub(super) fn to_update(
    call: &Call,
    u: Option<&sdk::Update>,
    nodegroup: bool,
    fallback: Option<UpdateType>,
) -> ApiResult<Update> {
    let Some(u) = u else {
        tracing::warn!(
            op = call.op,
            what = %call.what,
            "the endpoint answered without an update; treated as applied"
        );
        return Ok(Update {
            id: String::new(),
            update_type: fallback.unwrap_or(UpdateType::ConfigUpdate),
            status: UpdateStatus::Successful,
            params: BTreeMap::new(),
            errors: Vec::new(),
        });
    };
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    for p in u.params() {
        let (Some(k), Some(v)) = (p.r#type(), p.value()) else {
            continue;
        };
        params
            .entry(k.as_str().to_string())
            .and_modify(|cur| {
                cur.push(',');
                cur.push_str(v);
            })
            .or_insert_with(|| v.to_string());
    }
    let kind = match update_type(u.r#type(), nodegroup) {
        Some(t) => t,
        None => {
            if let Some(raw) = u.r#type() {
                params.insert("UpdateType".into(), raw.as_str().to_string());
            }
            fallback.unwrap_or(UpdateType::ConfigUpdate)
        }
    };
    let status = match u.status() {
        Some(sdk::UpdateStatus::InProgress) => UpdateStatus::InProgress,
        Some(sdk::UpdateStatus::Successful) => UpdateStatus::Successful,
        Some(sdk::UpdateStatus::Failed) => UpdateStatus::Failed,
        Some(sdk::UpdateStatus::Cancelled) => UpdateStatus::Cancelled,
        other => {
            tracing::warn!(
                status = other.map_or("(none)", |s| s.as_str()),
                "EKS returned an unknown update status; treated as in progress"
            );
            UpdateStatus::InProgress
        }
    };
    let errors = u
        .errors()
        .iter()
        .map(|e| {
            let code = e.error_code().map_or("Unknown", |c| c.as_str());
            let mut s = format!("{code}: {}", e.error_message().unwrap_or(""));
            if !e.resource_ids().is_empty() {
                s.push_str(&format!(" ({})", e.resource_ids().join(", ")));
            }
            s
        })
        .collect();
    Ok(Update {
        id: u.id().unwrap_or_default().to_string(),
        update_type: kind,
        status,
        params,
        errors,
    })
}

// Clusters, both ways.

pub(super) fn live_cluster(c: &sdk::Cluster, name: &str, region: &str) -> LiveCluster {
    let vpc = c.resources_vpc_config();
    let knc = c.kubernetes_network_config();
    let elb = knc.and_then(|k| k.elastic_load_balancing());
    let compute = c.compute_config();
    let storage = c.storage_config().and_then(|s| s.block_storage());
    let auto_mode = if compute.is_some() || storage.is_some() || elb.is_some() {
        let am = AutoMode {
            compute: AutoCompute {
                enabled: compute.and_then(|c| c.enabled()).unwrap_or(false),
                node_pools: compute.map(|c| c.node_pools().to_vec()).unwrap_or_default(),
                node_role_arn: compute.and_then(|c| c.node_role_arn()).map(str::to_string),
            },
            block_storage: Toggle {
                enabled: storage.and_then(|s| s.enabled()).unwrap_or(false),
            },
            load_balancing: Toggle {
                enabled: elb.and_then(|e| e.enabled()).unwrap_or(false),
            },
        };
        // EKS may echo an all-off configuration on clusters that never used Auto Mode.
        let off = !am.compute.enabled
            && !am.block_storage.enabled
            && !am.load_balancing.enabled
            && am.compute.node_pools.is_empty()
            && am.compute.node_role_arn.is_none();
        (!off).then_some(am)
    } else {
        None
    };
    let mut logging: Vec<LogType> = Vec::new();
    for setup in c.logging().map(|l| l.cluster_logging()).unwrap_or_default() {
        if setup.enabled() == Some(true) {
            for t in setup.types() {
                if let Some(l) = known_or_warn(LogType::ALL, "log type", t.as_str()) {
                    if !logging.contains(&l) {
                        logging.push(l);
                    }
                }
            }
        }
    }
    logging.sort();
    let access = c.access_config().and_then(|a| {
        let mode = known_or_warn(
            AuthenticationMode::ALL,
            "authentication mode",
            a.authentication_mode()?.as_str(),
        )?;
        Some(AccessConfig {
            authentication_mode: mode,
            bootstrap_cluster_creator_admin_permissions: a
                .bootstrap_cluster_creator_admin_permissions(),
        })
    });
    let upgrade_policy = c.upgrade_policy().and_then(|u| {
        let st = known_or_warn(SupportType::ALL, "support type", u.support_type()?.as_str())?;
        Some(UpgradePolicy { support_type: st })
    });
    let secrets_kms_key_arn = c
        .encryption_config()
        .iter()
        .find_map(|e| e.provider().and_then(|p| p.key_arn()))
        .map(str::to_string);
    LiveCluster {
        name: c.name().unwrap_or(name).to_string(),
        region: region.to_string(),
        arn: c.arn().unwrap_or_default().to_string(),
        status: status(c.status().map(|s| s.as_str())),
        version: c.version().unwrap_or_default().to_string(),
        platform_version: c.platform_version().unwrap_or_default().to_string(),
        endpoint: c.endpoint().unwrap_or_default().to_string(),
        certificate_authority: c
            .certificate_authority()
            .and_then(|ca| ca.data())
            .unwrap_or_default()
            .to_string(),
        role_arn: c.role_arn().unwrap_or_default().to_string(),
        vpc: VpcConfig {
            subnet_ids: vpc.map(|v| v.subnet_ids().to_vec()).unwrap_or_default(),
            security_group_ids: vpc
                .map(|v| v.security_group_ids().to_vec())
                .unwrap_or_default(),
            endpoint_public_access: vpc.is_some_and(|v| v.endpoint_public_access()),
            endpoint_private_access: vpc.is_some_and(|v| v.endpoint_private_access()),
            public_access_cidrs: vpc
                .map(|v| v.public_access_cidrs().to_vec())
                .unwrap_or_default(),
            control_plane_egress_mode: fields::live_egress_mode(vpc),
        },
        kubernetes_network: knc.map(|k| KubernetesNetwork {
            service_ipv4_cidr: k.service_ipv4_cidr().map(str::to_string),
            ip_family: k
                .ip_family()
                .and_then(|f| known_or_warn(IpFamily::ALL, "IP family", f.as_str())),
        }),
        auto_mode,
        logging,
        access,
        upgrade_policy,
        deletion_protection: c.deletion_protection().unwrap_or(false),
        secrets_kms_key_arn,
        settings: ClusterSettings {
            remote_network_config: fields::live_remote_network(c.remote_network_config()),
            zonal_shift_config: fields::live_zonal_shift(c.zonal_shift_config()),
            control_plane_scaling_config: fields::live_scaling(c.control_plane_scaling_config()),
            outpost_config: fields::live_outpost(c.outpost_config()),
        },
        tags: tags(c.tags()),
    }
}

pub(super) fn vpc_request(v: &VpcConfig) -> sdk::VpcConfigRequest {
    sdk::VpcConfigRequest::builder()
        .set_subnet_ids(Some(v.subnet_ids.clone()))
        .set_security_group_ids(non_empty(&v.security_group_ids))
        .endpoint_public_access(v.endpoint_public_access)
        .endpoint_private_access(v.endpoint_private_access)
        .set_public_access_cidrs(non_empty(&v.public_access_cidrs))
        .set_control_plane_egress_mode(v.control_plane_egress_mode.map(fields::egress_mode))
        .build()
}

/// Logging with `enabled` on; with `disable_others`, every other type explicitly off.
pub(super) fn logging_request(enabled: &[LogType], disable_others: bool) -> sdk::Logging {
    let on: Vec<sdk::LogType> = enabled
        .iter()
        .map(|l| sdk::LogType::from(l.as_str()))
        .collect();
    let off: Vec<sdk::LogType> = LogType::ALL
        .iter()
        .filter(|l| !enabled.contains(l))
        .map(|l| sdk::LogType::from(l.as_str()))
        .collect();
    let mut setups = Vec::new();
    if !on.is_empty() {
        setups.push(
            sdk::LogSetup::builder()
                .set_types(Some(on))
                .enabled(true)
                .build(),
        );
    }
    if disable_others && !off.is_empty() {
        setups.push(
            sdk::LogSetup::builder()
                .set_types(Some(off))
                .enabled(false)
                .build(),
        );
    }
    sdk::Logging::builder()
        .set_cluster_logging(Some(setups))
        .build()
}

pub(super) fn compute_request(a: &AutoMode) -> sdk::ComputeConfigRequest {
    let b = sdk::ComputeConfigRequest::builder().enabled(a.compute.enabled);
    if a.compute.enabled {
        b.set_node_pools(Some(a.compute.node_pools.clone()))
            .set_node_role_arn(a.compute.node_role_arn.clone())
            .build()
    } else {
        b.build()
    }
}

pub(super) fn storage_request(a: &AutoMode) -> sdk::StorageConfigRequest {
    sdk::StorageConfigRequest::builder()
        .block_storage(
            sdk::BlockStorage::builder()
                .enabled(a.block_storage.enabled)
                .build(),
        )
        .build()
}

pub(super) fn network_request(
    k: Option<&KubernetesNetwork>,
    a: Option<&AutoMode>,
) -> Option<sdk::KubernetesNetworkConfigRequest> {
    if k.is_none() && a.is_none() {
        return None;
    }
    let mut b = sdk::KubernetesNetworkConfigRequest::builder();
    if let Some(k) = k {
        b = b
            .set_service_ipv4_cidr(k.service_ipv4_cidr.clone())
            .set_ip_family(k.ip_family.map(|f| sdk::IpFamily::from(f.as_str())));
    }
    if let Some(a) = a {
        b = b.elastic_load_balancing(
            sdk::ElasticLoadBalancing::builder()
                .enabled(a.load_balancing.enabled)
                .build(),
        );
    }
    Some(b.build())
}

/// Envelope encryption of secrets with a KMS key. `resources` is deprecated since EKS
/// encrypts all API data from 1.28 on, but `secrets` stays its only accepted value and
/// older API versions still require it.
#[allow(deprecated)]
pub(super) fn secrets_encryption(key: &str) -> sdk::EncryptionConfig {
    sdk::EncryptionConfig::builder()
        .resources("secrets")
        .provider(sdk::Provider::builder().key_arn(key).build())
        .build()
}

/// An insight's status; a status keelson does not know reads as `Unknown`.
pub(super) fn insight_status(s: Option<&sdk::InsightStatus>) -> InsightStatus {
    match s.and_then(|s| s.status()).map(|s| s.as_str()) {
        Some("PASSING") => InsightStatus::Passing,
        Some("WARNING") => InsightStatus::Warning,
        Some("ERROR") => InsightStatus::Error,
        _ => InsightStatus::Unknown,
    }
}

/// Why an insight has its status.
pub(super) fn insight_reason(s: Option<&sdk::InsightStatus>) -> String {
    s.and_then(|s| s.reason()).unwrap_or_default().to_string()
}

pub(super) use crate::adapters::arn_cluster;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_values_parse_or_stay_strings() {
        assert_eq!(
            parse_configuration(Some(r#"{"replicaCount":2}"#)),
            Some(serde_json::json!({"replicaCount": 2}))
        );
        assert_eq!(
            parse_configuration(Some("replicaCount: 2")),
            Some(Value::String("replicaCount: 2".into()))
        );
        assert_eq!(parse_configuration(Some("  ")), None);
        assert_eq!(parse_configuration(None), None);
    }

    #[test]
    fn regions_and_clusters_come_from_arns() {
        assert_eq!(
            arn_region("arn:aws:eks:eu-west-1:1:cluster/x"),
            Some("eu-west-1")
        );
        assert_eq!(arn_region("not-an-arn"), None);
        assert_eq!(
            arn_cluster("arn:aws:eks:eu-west-1:1:nodegroup/prod/ng/abc"),
            Some("prod")
        );
        assert_eq!(arn_cluster("arn:aws:eks:eu-west-1:1:cluster/"), None);
    }
}
