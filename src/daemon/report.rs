//! What a sync leaves behind for operators, beyond the decision itself: per cluster its
//! planned steps, version hop, last apply and last success on `/status`; a bounded
//! history of applies; and the per-cluster Prometheus series rendered from that status.
//!
//! ```text
//!  ClusterPlan ──steps/hop──► ClusterStatus ◄──carry_over── previous ClusterStatus
//!  ClusterOutcome ──record──► ClusterStatus.last_apply + Status.history (≤ HISTORY)
//!  Status ──render_clusters──► keelson_cluster_* series {cluster, stage, region}
//! ```
//!
//! Labels stay bounded: a cluster, its stage and region come from the repository, a hop's
//! versions are Kubernetes minors, a state is one of six words.

use std::collections::VecDeque;
use std::fmt::Write;

use serde::Serialize;

use super::rfc3339;
use super::status::{ClusterState, ClusterStatus, Status};
use crate::apply::ClusterOutcome;
use crate::plan::{ClusterPlan, Op};

/// How many applies `/status` keeps.
pub const HISTORY: usize = 50;

/// A version hop: one minor at a time.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Hop {
    /// Minor before.
    pub from: String,
    /// Minor after.
    pub to: String,
}

/// One finished apply of one cluster.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ApplyRecord {
    /// The cluster.
    pub cluster: String,
    /// The revision applied.
    pub revision: String,
    /// Wall clock, RFC 3339.
    pub started_at: String,
    /// Wall clock, RFC 3339.
    pub finished_at: String,
    /// Steps done.
    pub steps_done: usize,
    /// Steps planned.
    pub steps_total: usize,
    /// `ok` or `failed`.
    pub result: &'static str,
    /// Why it stopped, when it failed.
    pub error: Option<String>,
}

/// The steps of a cluster's plan as apply prints them: `+ NodeGroup general`.
pub fn step_labels(c: &ClusterPlan) -> Vec<String> {
    c.steps
        .iter()
        .map(|s| {
            format!(
                "{} {} {}",
                s.action.symbol(),
                s.resource.kind,
                s.resource.name
            )
        })
        .collect()
}

/// The version hop a plan makes, read from the step that records it on the cluster.
pub fn hop(c: &ClusterPlan) -> Option<Hop> {
    c.steps.iter().flat_map(|s| &s.ops).find_map(|op| match op {
        Op::RecordTransition { from, to, .. } => Some(Hop {
            from: from.clone(),
            to: to.clone(),
        }),
        _ => None,
    })
}

/// Fill in a cluster's new status from what the previous sync knew: the last apply, and
/// the last success, which this sync renews unless the cluster failed.
pub fn carry_over(old: Option<&ClusterStatus>, new: &mut ClusterStatus, now: i64) {
    if new.last_apply.is_none() {
        new.last_apply = old.and_then(|o| o.last_apply.clone());
    }
    if new.rollback_window_end.is_none() {
        new.rollback_window_end = old.and_then(|o| o.rollback_window_end);
    }
    if new.state == ClusterState::Failed {
        new.last_success = old.and_then(|o| o.last_success);
    } else {
        new.last_success = Some(now);
    }
    new.last_success_at = new.last_success.map(rfc3339);
    new.planned_at_wall = rfc3339(now);
}

/// The record of one cluster's apply that started at `started` (unix seconds).
pub fn record(o: &ClusterOutcome, revision: &str, started: i64, now: i64) -> ApplyRecord {
    ApplyRecord {
        cluster: o.name.clone(),
        revision: revision.to_string(),
        started_at: rfc3339(started),
        finished_at: rfc3339(now),
        steps_done: o.steps_done,
        steps_total: o.steps_total,
        result: if o.error.is_some() { "failed" } else { "ok" },
        error: o.error.as_ref().map(|e| e.message.clone()),
    }
}

/// Append to the history, dropping the oldest beyond [`HISTORY`].
pub fn push_history(history: &mut VecDeque<ApplyRecord>, r: ApplyRecord) {
    history.push_back(r);
    while history.len() > HISTORY {
        history.pop_front();
    }
}

/// The states of the `keelson_cluster_state` gauge, one of which is 1 per cluster.
pub const STATES: [ClusterState; 6] = [
    ClusterState::Converged,
    ClusterState::Applying,
    ClusterState::Applied,
    ClusterState::Pending,
    ClusterState::Blocked,
    ClusterState::Failed,
];

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The `{cluster,stage,region}` label set of a cluster.
pub fn labels(name: &str, stage: &str, region: &str) -> String {
    format!(
        "cluster=\"{}\",stage=\"{}\",region=\"{}\"",
        escape(name),
        escape(stage),
        escape(region)
    )
}

fn header(o: &mut String, name: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}");
    let _ = writeln!(o, "# TYPE {name} gauge");
}

/// The per-cluster gauges of the status document, in Prometheus text format.
pub fn render_clusters(st: &Status) -> String {
    let mut o = String::new();
    let all = || st.clusters.iter();
    let l = |n: &str, c: &ClusterStatus| labels(n, &c.stage, &c.region);

    header(
        &mut o,
        "keelson_cluster_info",
        "A cluster of the repository and its stage's apply policy (auto or manual).",
    );
    for (n, c) in all() {
        let _ = writeln!(
            o,
            "keelson_cluster_info{{{},apply=\"{}\"}} 1",
            l(n, c),
            c.apply.as_str()
        );
    }
    header(
        &mut o,
        "keelson_cluster_state",
        "Where a cluster stands after the last sync: 1 for its state, 0 for the others.",
    );
    for (n, c) in all() {
        for s in STATES {
            let v = u8::from(c.state == s);
            let _ = writeln!(o, "keelson_cluster_state{{{},state=\"{s}\"}} {v}", l(n, c));
        }
    }
    header(
        &mut o,
        "keelson_cluster_drift",
        "1 when the cluster's live state differs from the repository.",
    );
    for (n, c) in all() {
        let _ = writeln!(
            o,
            "keelson_cluster_drift{{{}}} {}",
            l(n, c),
            u8::from(c.drift)
        );
    }
    header(
        &mut o,
        "keelson_cluster_planned_steps",
        "Steps the last plan has still to do.",
    );
    for (n, c) in all() {
        let _ = writeln!(
            o,
            "keelson_cluster_planned_steps{{{}}} {}",
            l(n, c),
            c.steps.len()
        );
    }
    header(
        &mut o,
        "keelson_cluster_last_successful_sync_timestamp_seconds",
        "When a sync last planned (and applied) the cluster without error.",
    );
    for (n, c) in all() {
        if let Some(t) = c.last_success {
            let _ = writeln!(
                o,
                "keelson_cluster_last_successful_sync_timestamp_seconds{{{}}} {t}",
                l(n, c)
            );
        }
    }
    header(&mut o, "keelson_cluster_upgrade_hop_in_progress", "1 while a version hop is in the cluster's plan (applying or waiting), labelled with its minors.");
    for (n, c) in all() {
        if let Some(h) = &c.hop {
            let _ = writeln!(
                o,
                "keelson_cluster_upgrade_hop_in_progress{{{},from=\"{}\",to=\"{}\"}} 1",
                l(n, c),
                escape(&h.from),
                escape(&h.to)
            );
        }
    }
    header(
        &mut o,
        "keelson_cluster_rollback_window_end_timestamp_seconds",
        "When the rollback window of the cluster's last hop closes; absent when none is open.",
    );
    for (n, c) in all() {
        if let Some(t) = c.rollback_window_end {
            let _ = writeln!(
                o,
                "keelson_cluster_rollback_window_end_timestamp_seconds{{{}}} {t}",
                l(n, c)
            );
        }
    }
    header(
        &mut o,
        "keelson_build_info",
        "The running keelson's version.",
    );
    let _ = writeln!(
        o,
        "keelson_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keeps_the_newest() {
        let mut h = VecDeque::new();
        for i in 0..(HISTORY + 5) {
            push_history(
                &mut h,
                ApplyRecord {
                    cluster: format!("c{i}"),
                    revision: "r".into(),
                    started_at: String::new(),
                    finished_at: String::new(),
                    steps_done: 0,
                    steps_total: 0,
                    result: "ok",
                    error: None,
                },
            );
        }
        assert_eq!(h.len(), HISTORY);
        assert_eq!(h.front().map(|r| r.cluster.as_str()), Some("c5"));
    }

    #[test]
    fn a_failed_cluster_keeps_its_last_success() {
        let old = ClusterStatus {
            last_success: Some(100),
            ..ClusterStatus::default()
        };
        let mut new = ClusterStatus {
            state: ClusterState::Failed,
            ..ClusterStatus::default()
        };
        carry_over(Some(&old), &mut new, 200);
        assert_eq!(new.last_success, Some(100));
        let mut ok = ClusterStatus::default();
        carry_over(Some(&old), &mut ok, 200);
        assert_eq!(ok.last_success, Some(200));
        assert_eq!(ok.last_success_at.as_deref(), Some("1970-01-01T00:03:20Z"));
    }
}
