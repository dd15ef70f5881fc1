//! Running updates: started with an id, finished when the virtual clock passes their
//! end, at which point the change they carry lands on the cluster.
//!
//! ```text
//!  Update*Call ─► new_update (InProgress) ─► SimUpdate { done_at, change }
//!  tick(now) ─► finish_updates ─► apply_change ─► Successful; UPDATING → ACTIVE when idle
//! ```

use std::collections::BTreeMap;

use super::super::{PendingChange, SimCluster, SimState};
use crate::model::live::*;
use crate::model::*;
use crate::ports::*;

pub(super) fn new_update(
    s: &mut SimState,
    t: UpdateType,
    params: BTreeMap<String, String>,
) -> Update {
    Update {
        id: s.id(),
        update_type: t,
        status: UpdateStatus::InProgress,
        params,
        errors: Vec::new(),
    }
}

/// Finish the updates of `c` that are due. Returns whether anything changed.
pub(in crate::adapters::sim) fn finish_updates(c: &mut SimCluster, now: i64) -> bool {
    let mut changed = false;
    let mut i = 0;
    while i < c.updates.len() {
        let due =
            c.updates[i].update.status == UpdateStatus::InProgress && c.updates[i].done_at <= now;
        if due {
            let u = c.updates[i].clone();
            super::rollback::on_version_finished(c, &u);
            apply_change(c, &u.change);
            c.updates[i].update.status = UpdateStatus::Successful;
            changed = true;
        }
        i += 1;
    }
    if changed {
        let busy = |ng: Option<&str>, addon: Option<&str>| {
            c.updates.iter().any(|u| {
                u.update.status == UpdateStatus::InProgress
                    && u.nodegroup.as_deref() == ng
                    && u.addon.as_deref() == addon
            })
        };
        if c.live.status == Status::Updating && !busy(None, None) {
            c.live.status = Status::Active;
        }
        let ng_idle: Vec<String> = c
            .node_groups
            .keys()
            .filter(|n| !busy(Some(n), None))
            .cloned()
            .collect();
        for n in ng_idle {
            if let Some(ng) = c.node_groups.get_mut(&n) {
                if ng.live.status == Status::Updating {
                    ng.live.status = Status::Active;
                }
            }
        }
        let addon_idle: Vec<String> = c
            .addons
            .keys()
            .filter(|a| !busy(None, Some(a)))
            .cloned()
            .collect();
        for a in addon_idle {
            if let Some(ad) = c.addons.get_mut(&a) {
                if ad.live.status == Status::Updating {
                    ad.live.status = Status::Active;
                }
            }
        }
    }
    changed
}

fn apply_change(c: &mut SimCluster, change: &PendingChange) {
    match change {
        PendingChange::Version { version } => {
            c.live.version = version.clone();
            c.live.platform_version = "eks.1".into();
            super::super::kube::record_removals(c);
        }
        PendingChange::Config { change } => match change {
            ClusterConfigUpdate::Logging { enabled } => c.live.logging = enabled.clone(),
            ClusterConfigUpdate::EndpointAccess {
                public,
                private,
                public_access_cidrs,
            } => {
                c.live.vpc.endpoint_public_access = *public;
                c.live.vpc.endpoint_private_access = *private;
                c.live.vpc.public_access_cidrs = public_access_cidrs.clone();
            }
            ClusterConfigUpdate::Vpc {
                subnet_ids,
                security_group_ids,
            } => {
                c.live.vpc.subnet_ids = subnet_ids.clone();
                c.live.vpc.security_group_ids = security_group_ids.clone();
            }
            ClusterConfigUpdate::Access {
                authentication_mode,
            } => {
                let bootstrap = c
                    .live
                    .access
                    .as_ref()
                    .and_then(|a| a.bootstrap_cluster_creator_admin_permissions);
                c.live.access = Some(AccessConfig {
                    authentication_mode: *authentication_mode,
                    bootstrap_cluster_creator_admin_permissions: bootstrap,
                });
            }
            ClusterConfigUpdate::AutoMode { auto_mode } => {
                c.live.auto_mode = Some(auto_mode.clone())
            }
            ClusterConfigUpdate::UpgradePolicy { support_type } => {
                c.live.upgrade_policy = Some(UpgradePolicy {
                    support_type: *support_type,
                })
            }
            ClusterConfigUpdate::DeletionProtection { enabled } => {
                c.live.deletion_protection = *enabled
            }
            other => {
                super::fields::apply_change(&mut c.live, other);
            }
        },
        PendingChange::Addon { request } => {
            if let Some(a) = c.addons.get_mut(&request.name) {
                a.live.version = request.version.clone();
                a.live.configuration_values = request.configuration_values.clone();
                a.live.service_account_role_arn = request.service_account_role_arn.clone();
                a.live.pod_identity_associations = request.pod_identity_associations.clone();
            }
        }
        PendingChange::NodeGroupConfig { request } => {
            if let Some(ng) = c.node_groups.get_mut(&request.name) {
                let spec = &mut ng.live.spec;
                if let Some(s) = request.scaling {
                    let desired = s
                        .desired_size
                        .or(spec.scaling.desired_size)
                        .map(|d| d.clamp(s.min_size, s.max_size));
                    spec.scaling = Scaling {
                        desired_size: desired,
                        ..s
                    };
                }
                if let Some(l) = &request.labels {
                    spec.labels = l.clone();
                }
                if let Some(t) = &request.taints {
                    spec.taints = t.clone();
                }
                if let Some(u) = request.update_config {
                    spec.update_config = Some(u);
                }
                super::fields::apply_node_group_config(spec, request);
            }
        }
        PendingChange::NodeGroupVersion { request } => {
            if let Some(ng) = c.node_groups.get_mut(&request.name) {
                ng.live.spec.version = Some(request.version.clone());
                ng.live.spec.release_version = Some(
                    request
                        .release_version
                        .clone()
                        .unwrap_or_else(|| release_for(&request.version)),
                );
                if let (Some(lt), Some(want)) =
                    (&mut ng.live.spec.launch_template, &request.launch_template)
                {
                    lt.version = want.version.clone();
                }
            }
        }
    }
}

/// The AMI release the simulator reports for a minor.
pub(super) fn release_for(version: &str) -> String {
    format!("{version}.0-20261101")
}
