//! What the daemon reports on `/status` and at the end of `--once`, and the pure
//! decisions behind it: what to do with a cluster's plan, how long to back off, which
//! exit code a sync ends with.
//!
//! ```text
//!  ClusterPlan + stage policy + window + suspend + in-flight ──decide──► Apply │ Converged │ Pending(why) │ Blocked
//!  per-cluster outcomes ──exit_code──► 0 converged · 2 changes pending · 3 blocked · 1 error
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::journal::InFlight;
use super::lock::Holder;
use crate::model::ApplyMode;

/// What the daemon is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    /// Starting up.
    #[default]
    Starting,
    /// Another daemon holds the fleet lock; this one waits to take over.
    Standby,
    /// A sync is running.
    Syncing,
    /// Waiting for a change, a webhook or the next resync.
    Idle,
    /// Shutting down.
    Stopping,
}

/// The daemon's status document.
#[derive(Debug, Clone, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// What it is doing.
    pub phase: Phase,
    /// Holds the lock and completed a sync.
    pub ready: bool,
    /// Where the repository comes from.
    pub source: String,
    /// The revision in use (the last good one).
    pub revision: Option<String>,
    /// A revision that was refused (invalid, unsigned, untrusted), with why.
    pub rejected: Option<Rejected>,
    /// The last error of the source or of a sync as a whole.
    pub last_error: Option<String>,
    /// The fleet lock (`lock file PATH`, `Lease NS/NAME`, `S3 object s3://B/K`).
    pub lock: Option<String>,
    /// The lock holder, when this daemon is on standby.
    pub lock_holder: Option<Holder>,
    /// Whether applying is suspended (flag or Fleet policy).
    pub suspended: bool,
    /// Applies the journal showed in flight at start-up, resumed first.
    pub resumed: Vec<InFlight>,
    /// The last sync.
    pub last_sync: Option<SyncInfo>,
    /// Per cluster.
    pub clusters: BTreeMap<String, ClusterStatus>,
    /// What operators set through the control endpoints.
    pub control: super::control::Control,
    /// The last applies, newest last, at most [`super::report::HISTORY`].
    pub history: std::collections::VecDeque<super::report::ApplyRecord>,
    /// With `--shards auto`: this replica's shard.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<super::shards::ShardStatus>,
}

/// A refused revision.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Rejected {
    /// Its id.
    pub revision: String,
    /// Why.
    pub reason: String,
}

/// One sync.
#[derive(Debug, Clone, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SyncInfo {
    /// Wall clock start (unix seconds).
    pub started: i64,
    /// Wall clock start, RFC 3339.
    pub started_at: String,
    /// Wall clock end, RFC 3339.
    pub finished_at: String,
    /// Real time it took.
    pub duration_ms: u64,
    /// Wall clock end (unix milliseconds).
    pub finished_ms: u64,
    /// `full` or `incremental`.
    pub kind: String,
    /// Clusters planned.
    pub planned: usize,
    /// Exit code `--once` gives for it.
    pub exit_code: u8,
}

/// Counts of a cluster's plan.
#[derive(Debug, Clone, Copy, Serialize, Default, PartialEq, Eq)]
pub struct Counts {
    /// Creates.
    pub create: usize,
    /// Updates.
    pub update: usize,
    /// Replacements.
    pub replace: usize,
    /// Deletes.
    pub delete: usize,
}

impl Counts {
    /// Steps in all.
    pub fn total(&self) -> usize {
        self.create + self.update + self.replace + self.delete
    }
}

/// Where a cluster stands after a sync (serialised in lowercase on `/status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClusterState {
    /// The live state matches the repository.
    #[default]
    Converged,
    /// Being applied now.
    Applying,
    /// This sync applied every step; the re-plan decides what it becomes.
    Applied,
    /// Changes wait (manual stage, closed window, suspended, held by a stage).
    Pending,
    /// A gate holds changes back.
    Blocked,
    /// The last apply stopped on an error.
    Failed,
}

impl ClusterState {
    /// The word used on `/status` and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterState::Converged => "converged",
            ClusterState::Applying => "applying",
            ClusterState::Applied => "applied",
            ClusterState::Pending => "pending",
            ClusterState::Blocked => "blocked",
            ClusterState::Failed => "failed",
        }
    }
}

impl std::fmt::Display for ClusterState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One cluster's status. Small on purpose: this is what stays in memory between syncs.
#[derive(Debug, Clone, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    /// Stage.
    pub stage: String,
    /// `auto` or `manual` (the stage's policy).
    pub apply: ApplyMode,
    /// Fingerprint of the live state the last plan saw.
    pub fingerprint: String,
    /// The last plan's counts (after any apply: what is still to do).
    pub plan: Counts,
    /// Live state differs from the repository.
    pub drift: bool,
    /// Gate messages holding changes back.
    pub blocked: Vec<String>,
    /// Where it stands.
    pub state: ClusterState,
    /// Why changes wait, when pending.
    pub reason: Option<String>,
    /// A running apply.
    pub progress: Option<Progress>,
    /// Steps applied by the last apply.
    pub applied_steps: usize,
    /// The last error of this cluster.
    pub last_error: Option<String>,
    /// When it was last planned (the target's clock, unix seconds: the simulator's
    /// virtual clock on `--target sim`; see `plannedAt` for the wall clock).
    #[serde(rename = "targetClock")]
    pub planned_at: i64,
    /// Region.
    pub region: String,
    /// When it was last planned, wall clock, RFC 3339.
    #[serde(rename = "plannedAt")]
    pub planned_at_wall: String,
    /// The steps still to do (`+ NodeGroup general`, as apply prints them).
    pub steps: Vec<String>,
    /// The version hop in the plan (being applied, or waiting).
    pub hop: Option<super::report::Hop>,
    /// Why its version hop is held back by an earlier stage, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
    /// The last apply's result.
    pub last_apply: Option<super::report::ApplyRecord>,
    /// The last sync that planned it without error (and applied without error), RFC 3339.
    pub last_success_at: Option<String>,
    /// The same, unix seconds, for the metrics.
    #[serde(skip)]
    pub last_success: Option<i64>,
    /// When the rollback window of the last hop ends (unix seconds), when the upgrade
    /// records one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_window_end: Option<i64>,
}

/// A running apply.
#[derive(Debug, Clone, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Revision applied.
    pub revision: String,
    /// Current step.
    pub step: String,
    /// Steps started so far.
    pub started: usize,
    /// Steps in the plan.
    pub total: usize,
    /// What it waits for, if anything.
    pub waiting: Option<String>,
}

/// What to do with one cluster's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to do.
    Converged,
    /// Apply it now.
    Apply,
    /// Changes wait, for this reason.
    Pending(String),
    /// A gate holds changes back.
    Blocked,
}

/// Inputs of [`decide`].
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// Cluster.
    pub cluster: &'a str,
    /// The plan has steps.
    pub has_changes: bool,
    /// The plan is blocked.
    pub blocked: bool,
    /// Its stage and that stage's policy (`None`: not in the repository any more).
    pub stage: Option<(&'a str, ApplyMode)>,
    /// The stage's maintenance window is open now.
    pub window_open: bool,
    /// When it opens next (unix seconds), if closed.
    pub next_window: Option<i64>,
    /// Applying is suspended.
    pub suspended: bool,
    /// The journal shows an apply of it in flight (a running change is finished even
    /// outside a window).
    pub in_flight: bool,
    /// An earlier apply of this same revision failed for good.
    pub failed_here: Option<&'a str>,
    /// Why a version hop waits for an earlier stage, if it does.
    pub held: Option<&'a str>,
    /// An operation EKS is still carrying out on the cluster, if any.
    pub settling: Option<&'a str>,
    /// A step with a one-way transition that the Fleet's policy does not allow.
    pub one_way: Option<String>,
}

/// Classify, then act: the daemon's policy for one cluster.
pub fn decide(f: &Facts<'_>) -> Decision {
    if f.blocked {
        return Decision::Blocked;
    }
    if !f.has_changes {
        if let Some(h) = f.held {
            return Decision::Pending(format!("upgrade held: {h}"));
        }
        if let Some(w) = f.settling {
            return Decision::Pending(format!("waiting for an operation still running: {w}"));
        }
        return Decision::Converged;
    }
    if let Some(step) = &f.one_way {
        return Decision::Pending(format!(
            "a one-way change waits for an explicit opt-in ({step}): set the Fleet's policy.allowIrreversible: true, or run keelson apply --allow-irreversible --cluster {}",
            f.cluster
        ));
    }
    if f.suspended {
        return Decision::Pending(
            "applying is suspended (--suspend or the Fleet's policy.suspend)".into(),
        );
    }
    let Some((stage, mode)) = f.stage else {
        return Decision::Pending(format!(
            "{} is no longer in the repository; its removal is applied by hand: keelson apply --cluster {}",
            f.cluster, f.cluster
        ));
    };
    if mode == ApplyMode::Manual {
        return Decision::Pending(format!(
            "stage {stage} applies manually: review and run keelson apply --cluster {}",
            f.cluster
        ));
    }
    if let Some(e) = f.failed_here {
        return Decision::Pending(format!(
            "the last apply of this revision failed ({e}); waiting for a new revision"
        ));
    }
    if !f.window_open && !f.in_flight {
        return Decision::Pending(match f.next_window {
            Some(t) => format!(
                "outside the maintenance window of stage {stage}; it opens at {}",
                super::rfc3339(t)
            ),
            None => format!("outside the maintenance window of stage {stage}"),
        });
    }
    Decision::Apply
}

/// The exit code of `--once`: 1 error, 3 blocked, 2 changes pending, 0 converged.
pub fn exit_code(clusters: &BTreeMap<String, ClusterStatus>, error: bool) -> u8 {
    if error || clusters.values().any(|c| c.state == ClusterState::Failed) {
        1
    } else if clusters.values().any(|c| c.state == ClusterState::Blocked) {
        3
    } else if clusters.values().any(|c| c.plan.total() > 0) {
        2
    } else {
        0
    }
}

/// Delay before retrying after the `attempt`-th transient failure in a row (1-based):
/// 5 s doubling up to 5 minutes.
pub fn backoff(attempt: u32) -> Duration {
    doubling(Duration::from_secs(5), Duration::from_secs(300), attempt)
}

/// `base` doubled for each `attempt` after the first (1-based), at most `cap`.
pub fn doubling(base: Duration, cap: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts<'static> {
        Facts {
            cluster: "c",
            has_changes: true,
            blocked: false,
            stage: Some(("staging", ApplyMode::Auto)),
            window_open: true,
            next_window: None,
            suspended: false,
            in_flight: false,
            failed_here: None,
            held: None,
            settling: None,
            one_way: None,
        }
    }

    #[test]
    fn policy_table() {
        assert_eq!(decide(&facts()), Decision::Apply);
        assert_eq!(
            decide(&Facts {
                has_changes: false,
                ..facts()
            }),
            Decision::Converged
        );
        assert_eq!(
            decide(&Facts {
                blocked: true,
                ..facts()
            }),
            Decision::Blocked
        );
        let manual = Facts {
            stage: Some(("prod", ApplyMode::Manual)),
            ..facts()
        };
        assert!(matches!(decide(&manual), Decision::Pending(r) if r.contains("manually")));
        let suspended = Facts {
            suspended: true,
            ..facts()
        };
        assert!(matches!(decide(&suspended), Decision::Pending(r) if r.contains("suspended")));
        let closed = Facts {
            window_open: false,
            next_window: Some(0),
            ..facts()
        };
        assert!(
            matches!(decide(&closed), Decision::Pending(r) if r.contains("1970-01-01T00:00:00Z"))
        );
        // A change in flight is finished even when the window has closed.
        let resumed = Facts {
            in_flight: true,
            ..closed
        };
        assert_eq!(decide(&resumed), Decision::Apply);
        let failed = Facts {
            failed_here: Some("boom"),
            ..facts()
        };
        assert!(matches!(decide(&failed), Decision::Pending(r) if r.contains("new revision")));
        // A one-way change the Fleet's policy does not allow waits, even in an auto stage.
        let one_way = Facts {
            one_way: Some("Cluster c: egress".into()),
            ..facts()
        };
        assert!(
            matches!(decide(&one_way), Decision::Pending(r) if r.contains("policy.allowIrreversible") && r.contains("Cluster c: egress"))
        );
        let gone = Facts {
            stage: None,
            ..facts()
        };
        assert!(matches!(decide(&gone), Decision::Pending(_)));
        // A hop held by an earlier stage is pending, not converged; other changes go on.
        let held = Facts {
            has_changes: false,
            held: Some("stage staging is soaking"),
            ..facts()
        };
        assert!(
            matches!(decide(&held), Decision::Pending(r) if r.contains("upgrade held: stage staging is soaking"))
        );
        let held_with_changes = Facts {
            held: Some("stage staging is soaking"),
            ..facts()
        };
        assert_eq!(decide(&held_with_changes), Decision::Apply);
        // A node group still being created is not converged, though nothing is left to do.
        let settling = Facts {
            has_changes: false,
            settling: Some("node group ng is Creating"),
            one_way: None,
            ..facts()
        };
        assert!(
            matches!(decide(&settling), Decision::Pending(r) if r.contains("node group ng is Creating"))
        );
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::from_secs(5));
        assert_eq!(backoff(2), Duration::from_secs(10));
        assert_eq!(backoff(4), Duration::from_secs(40));
        assert_eq!(backoff(30), Duration::from_secs(300));
        assert_eq!(backoff(0), Duration::from_secs(5));
    }

    #[test]
    fn exit_codes() {
        let mut m = BTreeMap::new();
        assert_eq!(exit_code(&m, false), 0);
        assert_eq!(exit_code(&m, true), 1);
        m.insert(
            "a".to_string(),
            ClusterStatus {
                state: ClusterState::Pending,
                plan: Counts {
                    create: 1,
                    ..Counts::default()
                },
                ..ClusterStatus::default()
            },
        );
        assert_eq!(exit_code(&m, false), 2);
        m.insert(
            "b".to_string(),
            ClusterStatus {
                state: ClusterState::Blocked,
                ..ClusterStatus::default()
            },
        );
        assert_eq!(exit_code(&m, false), 3);
        m.insert(
            "c".to_string(),
            ClusterStatus {
                state: ClusterState::Failed,
                ..ClusterStatus::default()
            },
        );
        assert_eq!(exit_code(&m, false), 1);
    }
}
