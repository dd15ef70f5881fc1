//! EKS's 2026 version behaviour on the simulator: rollback one minor within 7 days of an
//! in-place upgrade, CancelUpdate during an Auto Mode node rollback, the 409 a second
//! version update meets right after the cluster turns ACTIVE, and insights refresh.
//!
//! ```text
//!  VersionUpdate done ─► history.upgraded = (from, to, at); settling for SETTLE seconds
//!  UpdateClusterVersion(N-1) ─► prerequisites (rollback-cluster.adoc) ─► VersionRollback
//!       Auto Mode: nodes first (cluster stays ACTIVE, CancelUpdate accepted), then CP
//!  StartInsightsRefresh ─► IN_PROGRESS for REFRESH seconds ─► COMPLETED
//! ```

use std::collections::BTreeMap;

use super::super::{durations as d, PendingChange, SimCluster, SimState, SimUpdate};
use super::admission::today;
use super::updates::new_update;
use super::{catalog, cluster};
use crate::model::live::*;
use crate::model::SupportType;
use crate::ports::*;
use crate::versions::{self, Minor, SupportStatus, ROLLBACK_WINDOW_SECS};

/// How long the control plane keeps being replaced after the cluster shows ACTIVE again
/// (the window in which aws/containers-roadmap#2677 sees a 409).
pub(in crate::adapters::sim) const SETTLE: i64 = 5 * 60;
/// How long an Auto Mode rollback's node phase takes on the simulator.
const AUTO_NODE_PHASE: i64 = 30 * 60;
/// How long an insights refresh takes on the simulator.
const REFRESH: i64 = 60;

/// The 409 EKS answers while the control plane is still settling after an upgrade.
pub(super) fn require_settled(c: &SimCluster, now: i64) -> ApiResult<()> {
    match c.history.settling_until {
        Some(t) if now < t => {
            let id = c
                .updates
                .iter()
                .rev()
                .find(|u| u.update.update_type == UpdateType::VersionUpdate)
                .map(|u| u.update.id.clone())
                .unwrap_or_default();
            Err(ApiError::ResourceInUse(format!(
                "Cannot VersionUpdate because cluster {} currently has update {id} in progress",
                c.live.name
            )))
        }
        _ => Ok(()),
    }
}

/// The minor an in-place upgrade can still roll back to, while its window is open: the
/// simulator then accepts an add-on downgrade to a version of that minor (`rollback-
/// cluster.adoc`: incompatible add-ons are downgraded before the rollback).
pub(super) fn open_rollback(c: &SimCluster, now: i64) -> Option<String> {
    let (from, _, at) = c.history.upgraded.as_ref()?;
    (now <= at + ROLLBACK_WINDOW_SECS).then(|| from.clone())
}

/// What a finished version update leaves behind: the upgrade EKS can roll back (and a
/// ROLLBACK_READINESS insight for it), or, after a rollback, none.
pub(super) fn on_version_finished(c: &mut SimCluster, u: &SimUpdate) {
    let before = c.live.version.clone();
    match u.update.update_type {
        UpdateType::VersionUpdate => {
            let PendingChange::Version { version } = &u.change else {
                return;
            };
            c.history.upgraded = Some((before.clone(), version.clone(), u.done_at));
            c.history.settling_until = Some(u.done_at + SETTLE);
            c.insights.retain(|i| i.category != ROLLBACK_READINESS);
            c.insights.push(Insight {
                id: format!("rollback-readiness-{version}"),
                name: format!("Rollback readiness from {version} to {before}"),
                category: ROLLBACK_READINESS.into(),
                kubernetes_version: Some(before),
                status: InsightStatus::Passing,
                reason: "No issue found for a rollback.".into(),
                description: "Checks that the cluster can roll back to the minor before.".into(),
                recommendation: None,
                deprecations: Vec::new(),
            });
        }
        UpdateType::VersionRollback => {
            c.history.upgraded = None;
            c.history.node_phase_until = None;
            c.insights.retain(|i| i.category != ROLLBACK_READINESS);
        }
        _ => {}
    }
}

/// The insight category EKS reports for the 7 days after an in-place upgrade
/// (EKS User Guide `rollback-cluster`; not yet in the SDK's `Category` enum).
pub(crate) const ROLLBACK_READINESS: &str = "ROLLBACK_READINESS";

/// UpdateClusterVersion to `target`, one minor below the running version: every
/// prerequisite of `rollback-cluster.adoc` (force bypasses insights only, and keelson
/// never forces).
pub(super) fn start_rollback(
    s: &mut SimState,
    name: &str,
    current: Minor,
    target: Minor,
) -> ApiResult<Update> {
    let now = s.now;
    let day = today(s);
    let extended = versions::lookup(target).map(|e| e.status(day)) == Some(SupportStatus::Extended);
    let c = cluster(s, name)?;
    let refuse = |m: String| Err(ApiError::InvalidRequest(m));
    if target != current.prev() {
        return refuse(format!(
            "Cluster {name} can only be rolled back one minor version, to {}.",
            current.prev()
        ));
    }
    let Some((from, to, at)) = c.history.upgraded.clone() else {
        return refuse(format!(
            "Cluster {name} was not upgraded in place to {current}; there is no version to roll back to."
        ));
    };
    if from != target.to_string() || to != current.to_string() {
        return refuse(format!(
            "Cluster {name} was last upgraded from {from} to {to}; it can only roll back to {from}."
        ));
    }
    if now > at + ROLLBACK_WINDOW_SECS {
        return refuse(format!(
            "The rollback window for cluster {name} closed on {}: rollback is available for 7 days after an upgrade completes.",
            versions::utc_minute(at + ROLLBACK_WINDOW_SECS)
        ));
    }
    let support = c.live.upgrade_policy.as_ref().map(|u| u.support_type);
    if extended && support != Some(SupportType::Extended) {
        return refuse(format!(
            "Kubernetes {target} is in extended support: set upgradePolicy.supportType to EXTENDED before rolling back to it."
        ));
    }
    if let Some(ng) = c.node_groups.values().find(|n| {
        n.live
            .spec
            .version
            .as_deref()
            .and_then(|v| v.parse::<Minor>().ok())
            .is_some_and(|v| v > target)
    }) {
        return refuse(format!(
            "Nodegroup {} runs {current}; roll managed node groups back to {target} first (UpdateNodegroupVersion).",
            ng.live.name
        ));
    }
    if let Some(f) = c.fargate_profiles.keys().next() {
        return refuse(format!(
            "Fargate profile {f} runs pods at {current}, which cannot be rolled back; delete those pods first."
        ));
    }
    let t = target.to_string();
    if let Some(a) = c.addons.values().find(|a| {
        !catalog::versions(&a.live.name)
            .iter()
            .find(|v| v.version == a.live.version)
            .is_some_and(|v| v.compatibilities.iter().any(|x| x.cluster_version == t))
    }) {
        return refuse(format!(
            "Addon {} {} does not support Kubernetes {target}; move it to a version that does before rolling back.",
            a.live.name, a.live.version
        ));
    }
    if let Some(i) = c
        .insights
        .iter()
        .find(|i| i.category == ROLLBACK_READINESS && i.status == InsightStatus::Error)
    {
        return refuse(format!(
            "Rollback readiness insight {} is in ERROR: {}",
            i.name, i.reason
        ));
    }
    let auto = c.live.auto_mode.as_ref().is_some_and(|a| a.compute.enabled);
    // Auto Mode: EKS rolls the nodes back first while the cluster stays ACTIVE
    // (`rollback-automode-nodes.adoc`); otherwise the control plane is UPDATING.
    let node_phase = if auto { AUTO_NODE_PHASE } else { 0 };
    if auto {
        c.history.node_phase_until = Some(now + node_phase);
    } else {
        c.live.status = Status::Updating;
    }
    let mut params = BTreeMap::new();
    params.insert("Version".to_string(), t.clone());
    let update = new_update(s, UpdateType::VersionRollback, params);
    cluster(s, name)?.updates.push(SimUpdate {
        update: update.clone(),
        nodegroup: None,
        addon: None,
        done_at: now + node_phase + d::CLUSTER_VERSION,
        change: PendingChange::Version { version: t },
    });
    Ok(update)
}

/// CancelUpdate: only a VersionRollback of an Auto Mode cluster during its node phase
/// (API_CancelUpdate); the nodes reconcile forward and the cluster stays where it is.
pub(super) fn cancel(s: &mut SimState, name: &str, id: &str) -> ApiResult<Update> {
    let now = s.now;
    let c = cluster(s, name)?;
    let node_phase = c.history.node_phase_until;
    let u = c
        .updates
        .iter_mut()
        .find(|u| u.update.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("No update found for ID: {id}")))?;
    if u.update.update_type != UpdateType::VersionRollback {
        return Err(ApiError::InvalidRequest(format!(
            "Update {id} is a {:?}; only a VersionRollback can be cancelled.",
            u.update.update_type
        )));
    }
    if u.update.status != UpdateStatus::InProgress {
        return Err(ApiError::InvalidRequest(format!(
            "Update {id} is {:?}; only an update in progress can be cancelled.",
            u.update.status
        )));
    }
    if node_phase.is_none_or(|t| now >= t) {
        return Err(ApiError::InvalidRequest(format!(
            "Update {id} can no longer be cancelled: only the node phase of an Auto Mode rollback can."
        )));
    }
    u.update.status = UpdateStatus::Cancelled;
    let out = u.update.clone();
    c.history.node_phase_until = None;
    Ok(out)
}

/// StartInsightsRefresh: a refresh already running is reported, not restarted.
pub(super) fn start_refresh(s: &mut SimState, name: &str) -> ApiResult<InsightsRefresh> {
    let now = s.now;
    let c = cluster(s, name)?;
    if c.history.refresh.is_none_or(|(_, end)| now >= end) {
        c.history.refresh = Some((now, now + REFRESH));
    }
    Ok(refresh_of(c, now))
}

/// DescribeInsightsRefresh.
pub(super) fn describe_refresh(s: &mut SimState, name: &str) -> ApiResult<InsightsRefresh> {
    let now = s.now;
    let c = cluster(s, name)?;
    if c.history.refresh.is_none() {
        return Err(ApiError::NotFound(format!(
            "No insights refresh found for cluster {name}."
        )));
    }
    Ok(refresh_of(c, now))
}

fn refresh_of(c: &SimCluster, now: i64) -> InsightsRefresh {
    let (start, end) = c.history.refresh.unwrap_or((now, now));
    let done = now >= end;
    InsightsRefresh {
        status: if done {
            RefreshStatus::Completed
        } else {
            RefreshStatus::InProgress
        },
        message: None,
        started_at: Some(start),
        ended_at: done.then_some(end),
    }
}
