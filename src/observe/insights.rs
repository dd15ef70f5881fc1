//! EKS insights, fresh: a refresh is started and waited for before the list is read, so
//! that the `insights` gate and a rollback's readiness are judged on the cluster as it is
//! now, not as EKS last evaluated it (up to a day earlier).
//!
//! ```text
//!  DescribeInsightsRefresh: completed within FRESH_SECS? ─ yes ─┐
//!    └ no ─► StartInsightsRefresh ─► poll DescribeInsightsRefresh ┴─► ListInsights
//!                                                                    └► DescribeInsight (not passing)
//! ```
//!
//! Sources: EKS API reference `API_StartInsightsRefresh`, `API_DescribeInsightsRefresh`
//! (status `IN_PROGRESS | FAILED | COMPLETED`); `rollback-cluster.adoc` (EKS refreshes
//! stale insights itself before a rollback, keelson does so before judging).

use super::{ApiError, Ports};
use crate::model::live::*;
use crate::ports::RefreshStatus;

/// A refresh that completed this recently is used as it is.
const FRESH_SECS: i64 = 10 * 60;
/// Seconds between two polls of a running refresh.
const POLL_SECS: u64 = 10;
/// Longest wait for a refresh.
const WAIT_SECS: i64 = 5 * 60;

/// Refresh the cluster's insights (unless a fresh refresh exists) and read them into
/// `out`; what cannot be read or refreshed is listed in `out.unreadable`.
pub(super) async fn read_fresh(ports: &Ports, name: &str, out: &mut UpgradeSignals) {
    if let Err(why) = refresh(ports, name).await {
        out.unreadable.push(why);
    }
    // DescribeInsight for the ones not passing, for their details.
    match ports.eks.list_insights(name).await {
        Ok(list) => {
            for i in list {
                if i.status == InsightStatus::Passing {
                    out.insights.push(i);
                    continue;
                }
                match ports.eks.describe_insight(name, &i.id).await {
                    Ok(full) => out.insights.push(full),
                    Err(e) => {
                        out.unreadable
                            .push(format!("DescribeInsight {} ({}): {e}", i.id, i.name));
                        out.insights.push(i);
                    }
                }
            }
        }
        Err(ApiError::NotImplemented(m)) => {
            tracing::warn!(cluster = name, "ListInsights: {m}; no insights read");
        }
        Err(e) => out.unreadable.push(format!("ListInsights: {e}")),
    }
}

/// Start a refresh and wait for it. An endpoint without the calls (moto) is passed over
/// with a warning; any other failure is returned as what could not be read.
async fn refresh(ports: &Ports, name: &str) -> Result<(), String> {
    let eks = &ports.eks;
    let clock = &ports.clock;
    let now = clock.now();
    match eks.describe_insights_refresh(name).await {
        Ok(r)
            if r.status == RefreshStatus::Completed
                && r.ended_at.is_some_and(|t| now - t <= FRESH_SECS) =>
        {
            return Ok(());
        }
        Ok(r) if r.status == RefreshStatus::InProgress => {}
        Ok(_) | Err(ApiError::NotFound(_)) => start(ports, name).await?,
        Err(ApiError::NotImplemented(m)) => {
            tracing::warn!(
                cluster = name,
                "DescribeInsightsRefresh: {m}; insights read as they are"
            );
            return Ok(());
        }
        Err(e) => {
            return Err(format!(
                "DescribeInsightsRefresh (needs eks:DescribeInsightsRefresh): {e}"
            ))
        }
    }
    let start_at = clock.now();
    loop {
        // Read before the poll: on the simulator's shared instant clock, other clusters'
        // waits move time on while this poll is awaited (as in the apply's waits).
        let polled_at = clock.now();
        match eks.describe_insights_refresh(name).await {
            Ok(r) => match r.status {
                RefreshStatus::Completed => return Ok(()),
                RefreshStatus::Failed => {
                    return Err(format!(
                        "the insights refresh (EKS reports it FAILED{})",
                        r.message.map(|m| format!(": {m}")).unwrap_or_default()
                    ))
                }
                RefreshStatus::InProgress => {}
            },
            Err(e) if e.is_transient() => {}
            Err(e) => return Err(format!("DescribeInsightsRefresh: {e}")),
        }
        if polled_at - start_at >= WAIT_SECS {
            return Err(format!(
                "fresh insights (the refresh was still running after {} minutes)",
                WAIT_SECS / 60
            ));
        }
        clock.sleep(POLL_SECS).await;
    }
}

async fn start(ports: &Ports, name: &str) -> Result<(), String> {
    match ports.eks.start_insights_refresh(name).await {
        Ok(_) => Ok(()),
        Err(ApiError::NotImplemented(m)) => {
            tracing::warn!(
                cluster = name,
                "StartInsightsRefresh: {m}; insights read as they are"
            );
            Ok(())
        }
        Err(e) => Err(format!(
            "StartInsightsRefresh (needs eks:StartInsightsRefresh): {e}"
        )),
    }
}

/// Whether an Auto Mode cluster may be rolling its nodes back: EKS keeps such a cluster
/// ACTIVE during a rollback's node phase (`rollback-automode-nodes.adoc`: follow
/// ListUpdates/DescribeUpdate, not the cluster status), so its updates are read while
/// the rollback window of its last hop (keelson's record of it) is open.
pub(super) fn may_roll_back_nodes(c: &LiveCluster) -> bool {
    let auto = c.auto_mode.as_ref().is_some_and(|a| a.compute.enabled);
    let Ok(v) = c.version.parse::<crate::versions::Minor>() else {
        return false;
    };
    // Without a clock here, any record of the hop into the live version counts; it is
    // dropped once a rollback completes.
    auto && crate::plan::upgrade::rollback_window_closes(&c.tags, v.prev(), v).is_some()
}
