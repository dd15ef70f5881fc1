//! Access on the simulated cluster: the access entries EKS makes by itself, the order of
//! authentication modes, and the creates of access entries and Pod Identity associations.

use super::super::SimState;
use super::admission::{replay, require_active};
use super::{arn, cluster, not_found};
use crate::model::live::*;
use crate::model::*;
use crate::ports::*;

pub(super) fn uses_api(c: &LiveCluster) -> bool {
    matches!(
        c.access.as_ref().map(|a| a.authentication_mode),
        Some(AuthenticationMode::Api | AuthenticationMode::ApiAndConfigMap)
    )
}

pub(super) fn auth_rank(m: AuthenticationMode) -> u8 {
    match m {
        AuthenticationMode::ConfigMap => 0,
        AuthenticationMode::ApiAndConfigMap => 1,
        AuthenticationMode::Api => 2,
    }
}

pub(super) fn default_access_entry(
    c: &LiveCluster,
    principal: &str,
    t: AccessEntryType,
    admin: bool,
) -> LiveAccessEntry {
    LiveAccessEntry {
        arn: arn(c, "access-entry", &principal.replace([':', '/'], "-")),
        spec: AccessEntrySpec {
            principal_arn: principal.to_string(),
            entry_type: t,
            kubernetes_groups: Vec::new(),
            username: None,
            policies: if admin {
                vec![AccessPolicy {
                    policy_arn:
                        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy".into(),
                    access_scope: AccessScope {
                        scope_type: AccessScopeType::Cluster,
                        namespaces: Vec::new(),
                    },
                }]
            } else {
                Vec::new()
            },
            tags: Tags::new(),
        },
    }
}

/// CreateAccessEntry: the cluster must use access entries (API authentication), one
/// entry per principal; policies are associated separately.
pub(super) fn create_entry(s: &mut SimState, req: &CreateAccessEntry) -> ApiResult<()> {
    let key = format!("access-entry/{}/{}", req.cluster, req.spec.principal_arn);
    if replay(s, &req.client_request_token, &key)? {
        return Ok(());
    }
    let c = cluster(s, &req.cluster)?;
    require_active(c)?;
    if !uses_api(&c.live) {
        return Err(ApiError::InvalidRequest("The cluster's authentication mode must be set to API or API_AND_CONFIG_MAP to use access entries.".into()));
    }
    if c.access_entries.contains_key(&req.spec.principal_arn) {
        return Err(ApiError::ResourceInUse(format!(
            "The specified access entry resource is already in use on this cluster: {}",
            req.spec.principal_arn
        )));
    }
    let mut spec = req.spec.clone();
    spec.policies.clear();
    let e = LiveAccessEntry {
        arn: arn(
            &c.live,
            "access-entry",
            &spec.principal_arn.replace([':', '/'], "-"),
        ),
        spec,
    };
    c.access_entries.insert(req.spec.principal_arn.clone(), e);
    s.tokens.insert(req.client_request_token.clone(), key);
    Ok(())
}

/// CreatePodIdentityAssociation: one association per service account; a retried token
/// returns the association it made.
pub(super) fn create_pod_identity(
    s: &mut SimState,
    req: &CreatePodIdentity,
) -> ApiResult<LivePodIdentity> {
    let key = format!(
        "podidentity/{}/{}/{}",
        req.cluster, req.spec.namespace, req.spec.service_account
    );
    if replay(s, &req.client_request_token, &key)? {
        let c = cluster(s, &req.cluster)?;
        return c
            .pod_identities
            .values()
            .find(|p| {
                p.spec.namespace == req.spec.namespace
                    && p.spec.service_account == req.spec.service_account
            })
            .cloned()
            .ok_or_else(|| not_found(&key));
    }
    super::fields::check_session_policy(&req.spec)?;
    let id = format!("a-{}", s.id().replace('-', ""));
    let c = cluster(s, &req.cluster)?;
    require_active(c)?;
    if c.pod_identities.values().any(|p| {
        p.spec.namespace == req.spec.namespace && p.spec.service_account == req.spec.service_account
    }) {
        return Err(ApiError::ResourceInUse(format!(
            "Association already exists for service account {}/{}",
            req.spec.namespace, req.spec.service_account
        )));
    }
    let p = LivePodIdentity {
        association_id: id.clone(),
        arn: arn(&c.live, "podidentityassociation", &id),
        spec: req.spec.clone(),
    };
    c.pod_identities.insert(id, p.clone());
    s.tokens.insert(req.client_request_token.clone(), key);
    Ok(p)
}
