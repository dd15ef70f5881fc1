//! A cluster this fleet created that git no longer has: deleted (node groups and
//! Fargate profiles first) when the Fleet policy allows it, kept with a note otherwise.
//!
//! ```text
//!  live only, with the marker ─┬─ allowClusterDeletion ─► delete node groups, profiles,
//!                              │                          deletion protection off, cluster
//!                              └─ otherwise ────────────► note, nothing done
//! ```

use super::fingerprint;
use super::types::*;
use crate::model::live::*;
use crate::model::Kind;
use crate::ports::*;

/// The plan for a removed cluster.
pub(super) fn plan_removed_cluster(o: &ObservedCluster, allowed: bool) -> ClusterPlan {
    let name = o.cluster.name.clone();
    let mut plan = ClusterPlan {
        name: name.clone(),
        region: o.cluster.region.clone(),
        exists: true,
        fingerprint: fingerprint(Some(o)),
        waits: Vec::new(),
        blocked: Vec::new(),
        held: Vec::new(),
        steps: Vec::new(),
        notes: Vec::new(),
        rollback_window_end: None,
    };
    if o.cluster.status == Status::Deleting {
        plan.notes.push("being deleted".into());
        return plan;
    }
    if !allowed {
        plan.notes.push("this cluster was created by keelson and is no longer in git; it is kept because the Fleet policy does not allow deletion (spec.policy.allowClusterDeletion)".into());
        return plan;
    }
    let mut ops: Vec<Op> = Vec::new();
    for n in o.node_groups.keys() {
        ops.push(Op::DeleteNodegroup { name: n.clone() });
    }
    for n in o.fargate_profiles.keys() {
        ops.push(Op::DeleteFargateProfile { name: n.clone() });
    }
    if o.cluster.deletion_protection {
        ops.push(Op::UpdateClusterConfig {
            change: ClusterConfigUpdate::DeletionProtection { enabled: false },
        });
    }
    ops.push(Op::DeleteCluster);
    let mut step = Step::delete(Kind::Cluster, &name, ops);
    if o.cluster.deletion_protection {
        // Said in the plan, never done silently: protection is there to stop deletions.
        step.changes.push(Change {
            path: "deletionProtection".into(),
            before: Some(serde_json::json!(true)),
            after: Some(serde_json::json!(false)),
        });
        step = step.risk(
            RiskKind::Destructive,
            "the cluster's deletion protection is turned off first, so that it can be deleted",
        );
    }
    plan.steps.push(
        step.risk(
            RiskKind::Destructive,
            "the cluster and everything running in it are destroyed",
        )
        .risk(
            RiskKind::Irreversible,
            "a deleted cluster cannot be restored",
        )
        .because("no longer in git, and the Fleet policy allows deletion"),
    );
    plan
}
