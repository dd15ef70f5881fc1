//! What the simulated EKS API refuses, as EKS does: clusters that are busy or not
//! ACTIVE, unsupported versions, half-enabled Auto Mode, add-on versions not built for the
//! cluster's minor, node groups ahead of or too far behind the control plane, and reused
//! clientRequestTokens.

use super::super::{catalog, SimCluster, SimState};
use crate::model::live::*;
use crate::model::*;
use crate::ports::*;
use crate::versions::{self, Date, Minor, SupportStatus};

/// A cluster that accepts a new operation: ACTIVE and no cluster update running.
pub(super) fn require_idle(c: &SimCluster) -> ApiResult<()> {
    if c.live.status != Status::Active {
        return Err(ApiError::ResourceInUse(format!(
            "Cluster {} is in {:?} status; wait until it is ACTIVE.",
            c.live.name, c.live.status
        )));
    }
    if let Some(u) = c.updates.iter().find(|u| {
        u.update.status == UpdateStatus::InProgress && u.nodegroup.is_none() && u.addon.is_none()
    }) {
        return Err(ApiError::ResourceInUse(format!(
            "Cluster {} already has an update in progress ({:?} {}).",
            c.live.name, u.update.update_type, u.update.id
        )));
    }
    Ok(())
}

pub(super) fn require_active(c: &SimCluster) -> ApiResult<()> {
    if c.live.status == Status::Active || c.live.status == Status::Updating {
        Ok(())
    } else {
        Err(ApiError::ResourceInUse(format!(
            "Cluster {} is in {:?} status.",
            c.live.name, c.live.status
        )))
    }
}

pub(super) fn today(s: &SimState) -> Date {
    Date::from_unix(s.now)
}

pub(super) fn check_version(s: &SimState, v: &str) -> ApiResult<Minor> {
    let m: Minor = v
        .parse()
        .map_err(|_| ApiError::InvalidParameter(format!("unsupported Kubernetes version {v}")))?;
    match versions::lookup(m).map(|e| e.status(today(s))) {
        Some(SupportStatus::Standard | SupportStatus::Extended) => Ok(m),
        _ => Err(ApiError::InvalidParameter(format!(
            "unsupported Kubernetes version {v}"
        ))),
    }
}

pub(super) fn check_auto_mode(am: &AutoMode, access: Option<&AccessConfig>) -> ApiResult<()> {
    let flags = [
        am.compute.enabled,
        am.block_storage.enabled,
        am.load_balancing.enabled,
    ];
    if flags.iter().any(|&f| f) && !flags.iter().all(|&f| f) {
        return Err(ApiError::InvalidParameter(
            "For EKS Auto Mode, please ensure that all required configs, including computeConfig, kubernetesNetworkConfig, and blockStorage are all either fully enabled or fully disabled.".into(),
        ));
    }
    if am.compute.enabled && !am.compute.node_pools.is_empty() && am.compute.node_role_arn.is_none()
    {
        return Err(ApiError::InvalidParameter(
            "When Compute Config nodeRoleArn is not null or empty, nodePool value(s) must be provided.".into(),
        ));
    }
    if am.compute.enabled
        && !matches!(
            access.map(|a| a.authentication_mode),
            Some(AuthenticationMode::Api | AuthenticationMode::ApiAndConfigMap)
        )
    {
        return Err(ApiError::InvalidParameter(
            "EKS Auto Mode requires access entries: authenticationMode must be API or API_AND_CONFIG_MAP.".into(),
        ));
    }
    Ok(())
}

/// Whether a create is a retry of one already done with the same token. A token whose
/// resource has since been deleted is spent: the create makes a new resource.
pub(super) fn replay(s: &SimState, token: &str, key: &str) -> ApiResult<bool> {
    match s.tokens.get(token) {
        Some(k) if k == key => Ok(still_there(s, key)),
        Some(k) => Err(ApiError::InvalidParameter(format!(
            "clientRequestToken {token} was already used for {k}"
        ))),
        None => Ok(false),
    }
}

/// Whether the resource a token key names still exists.
fn still_there(s: &SimState, key: &str) -> bool {
    let parts: Vec<&str> = key.splitn(4, '/').collect();
    let Some(c) = parts.get(1).and_then(|name| s.clusters.get(*name)) else {
        return false;
    };
    match (parts[0], parts.get(2)) {
        ("cluster", _) => true,
        ("addon", Some(n)) => c.addons.contains_key(*n),
        ("nodegroup", Some(n)) => c.node_groups.contains_key(*n),
        ("fargateprofile", Some(n)) => c.fargate_profiles.contains_key(*n),
        ("access-entry", Some(_)) => c
            .access_entries
            .contains_key(key.splitn(3, '/').nth(2).unwrap_or_default()),
        ("podidentity", Some(ns)) => {
            let sa = parts.get(3).copied().unwrap_or_default();
            c.pod_identities
                .values()
                .any(|p| p.spec.namespace == *ns && p.spec.service_account == sa)
        }
        _ => false,
    }
}

pub(super) fn check_addon_version(
    name: &str,
    version: &str,
    cluster_version: &str,
) -> ApiResult<()> {
    let versions = catalog::versions(name);
    if versions.is_empty() {
        return Err(ApiError::InvalidParameter(format!(
            "Addon {name} specified is not supported"
        )));
    }
    let Some(v) = versions.iter().find(|v| v.version == version) else {
        return Err(ApiError::InvalidParameter(format!(
            "Addon version specified is not supported: {name} {version}"
        )));
    };
    if !v
        .compatibilities
        .iter()
        .any(|c| c.cluster_version == cluster_version)
    {
        return Err(ApiError::InvalidParameter(format!(
            "Addon version {version} of {name} is not supported on Kubernetes {cluster_version}"
        )));
    }
    Ok(())
}

pub(super) fn check_node_version(cp: &str, ng: &str) -> ApiResult<()> {
    match minors_behind(cp, ng) {
        Some(b) if b < 0 => Err(ApiError::InvalidParameter(format!(
            "Requested Nodegroup version {ng} is newer than the cluster's version {cp}"
        ))),
        Some(b) if b > 3 => Err(ApiError::InvalidParameter(format!(
            "Requested Nodegroup version {ng} is more than 3 minor versions behind the cluster's version {cp}"
        ))),
        Some(_) => Ok(()),
        None => Err(ApiError::InvalidParameter(format!("Invalid version {ng}"))),
    }
}

pub(super) fn minors_behind(cp: &str, ng: &str) -> Option<i64> {
    let cp: Minor = cp.parse().ok()?;
    let ng: Minor = ng.parse().ok()?;
    Some(cp.minors_after(ng))
}
