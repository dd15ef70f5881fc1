//! Nodes that bake: with `upgrade.nodes: bake` (Fleet policy, or the stage's own), managed
//! node groups stay one minor behind the control plane after a hop, until the stage's
//! soak after it has passed or the next hop needs them at the control plane's minor.
//!
//! ```text
//!  hop N→N+1 ─► node groups stay at N ─┬─ soak after the hop passed ─► UpdateNodegroupVersion N+1
//!                                      ├─ next hop N+1→N+2 ─► catch up to N+1 first, then the hop
//!                                      └─ rollback N+1→N in the window ─► no node step
//! ```
//!
//! Why this is allowed, and bounded:
//! - Kubernetes' version skew policy lets a kubelet be up to three minors older than
//!   kube-apiserver since 1.28, never newer (<https://kubernetes.io/releases/version-skew-policy/>):
//!   one minor behind is within it, and within the Fleet's `maxKubeletSkew` unless that
//!   is 0, which validation refuses together with `bake` (rule `bake-needs-skew`).
//! - EKS's UpdateClusterVersion reference: "all of your node groups' Kubernetes versions
//!   must match the cluster's Kubernetes version in order to update the cluster". So a
//!   baking group is brought to the control plane's minor before the next hop (the
//!   `node-groups` gate's catch-up), and skew never exceeds one minor.
//! - EKS's rollback (`rollback-cluster`) needs managed node groups at the older minor first;
//!   baking groups already are, which is what makes a rollback in the soak cheap
//!   (best practice `rollback-cluster-upgrades`: "upgrade the control plane, then bake").
//!
//! What keelson cannot hold: EKS Auto Mode nodes. EKS moves them to the new minor after the
//! control plane (drift, within NodePool disruption budgets; `update-cluster`), and the
//! only brake, a `nodes: "0"` budget for `Drifted`, is an ERROR rollback-readiness insight
//! that blocks the very rollback baking is for. Self-managed and hybrid nodes are the
//! user's. The plan says so on every baking hop.

use super::types::*;
use super::{upgrade, Ctx};
use crate::config::{ClusterConfig, Repo};
use crate::model::live::ObservedCluster;
use crate::model::NodeUpgrade;
use crate::versions::{self, Minor};

/// A stage whose managed node groups bake.
pub(crate) struct Bake {
    /// The stage.
    pub(crate) stage: String,
    /// Its soak, in seconds (0 without one).
    pub(crate) soak: i64,
    /// Its soak as written (`0s` without one).
    pub(crate) soak_text: String,
}

/// The bake policy of cluster `c`, when its stage bakes.
pub(crate) fn of(repo: &Repo, c: &ClusterConfig) -> Option<Bake> {
    let fleet = &repo.fleet.as_ref()?.value.spec;
    let stage = &c.cluster.value.spec.stage;
    if fleet.node_upgrade(stage) != NodeUpgrade::Bake {
        return None;
    }
    let soak = fleet
        .stages
        .iter()
        .find(|s| s.name == *stage)
        .and_then(|s| s.soak.as_ref());
    Some(Bake {
        stage: stage.clone(),
        soak: soak.map_or(0, crate::model::Duration::secs_i64),
        soak_text: soak
            .map_or("0s", crate::model::Duration::as_str)
            .to_string(),
    })
}

/// What a baking stage does with an unpinned node group one minor behind the control
/// plane.
pub(super) enum Verdict {
    /// Not baking: the group follows the control plane as usual.
    Follow,
    /// It stays where it is (the held line is written).
    Stay,
    /// The bake is over: it moves now, for this reason.
    Move(String),
}

/// Whether node group `n`, at `have` under a control plane at `cv`, bakes: only an
/// unpinned group exactly one minor behind, in a baking stage, after a hop keelson made
/// (its record says when; a cluster without one follows).
pub(super) fn node_group(
    cx: &mut Ctx<'_>,
    c: &ClusterConfig,
    n: &str,
    have: &str,
    cv: &str,
) -> Verdict {
    let Some(b) = of(cx.shared.repo, c) else {
        return Verdict::Follow;
    };
    let (Ok(h), Ok(v)) = (have.parse::<Minor>(), cv.parse::<Minor>()) else {
        return Verdict::Follow;
    };
    if h.next() != v {
        return Verdict::Follow;
    }
    let hop_now = cx.steps.iter().any(|s| {
        s.ops
            .iter()
            .any(|o| matches!(o, Op::RecordTransition { to, .. } if *to == cv))
    });
    if hop_now {
        cx.held.push(format!(
            "node group {n} bakes at {h} after the hop to {v} (stage {}, upgrade.nodes: bake): it moves to {v} once the stage's soak of {} after the hop has passed, or before the next hop; until then a rollback to {h} needs no node step",
            b.stage, b.soak_text
        ));
        return Verdict::Stay;
    }
    let Some((at, closes)) = cx
        .live
        .and_then(|o| upgrade::rollback_window_closes(&o.cluster.tags, h, v))
    else {
        return Verdict::Follow;
    };
    let ends = at + b.soak;
    if cx.shared.now < ends {
        let after = if ends < closes {
            format!(
                "; after that, a rollback within the window (until {}) rolls it back first",
                versions::utc_minute(closes)
            )
        } else {
            String::new()
        };
        cx.held.push(format!(
            "node group {n} bakes at {h} until {} (stage {}, upgrade.nodes: bake: the soak of {} after {h}→{v} completed at {}); until then a rollback to {h} needs no node step{after}",
            versions::utc_minute(ends),
            b.stage,
            b.soak_text,
            versions::utc_minute(at)
        ));
        return Verdict::Stay;
    }
    Verdict::Move(format!(
        "baked at {h} through stage {}'s soak of {} after {h}→{v} (ended {}): it follows the control plane now",
        b.stage,
        b.soak_text,
        versions::utc_minute(ends)
    ))
}

/// The notes on a hop `from → to` of a baking stage: which node groups stay at `from`, and
/// the nodes keelson cannot hold.
pub(super) fn hop_notes(
    cx: &mut Ctx<'_>,
    c: &ClusterConfig,
    o: &ObservedCluster,
    from: &str,
    to: &str,
) {
    let Some(b) = of(cx.shared.repo, c) else {
        return;
    };
    let staying: Vec<&str> = c
        .node_groups
        .iter()
        .filter(|g| g.value.spec.version.is_none())
        .map(|g| g.value.metadata.name.as_str())
        .collect();
    if !staying.is_empty() {
        cx.notes.push(format!(
            "upgrade {from}→{to}: node group(s) {} bake at {from} (stage {}, upgrade.nodes: bake; kubelets one minor behind the API server are within Kubernetes' skew policy); they move to {to} once the soak of {} has passed, or before the next hop (EKS upgrades a control plane only when its managed node groups match it)",
            staying.join(", "),
            b.stage,
            b.soak_text
        ));
    }
    if o.cluster
        .auto_mode
        .as_ref()
        .is_some_and(|a| a.compute.enabled)
    {
        cx.notes.push(format!(
            "upgrade {from}→{to}: EKS Auto Mode nodes do not bake: EKS moves them to {to} after the control plane, within NodePool disruption budgets (keelson cannot hold them: a zero budget for Drifted blocks EKS's rollback); a rollback to {from} rolls them back first"
        ));
    }
}

/// The note on a rollback `have → want` when the stage bakes and no managed node group has
/// to roll back first.
pub(super) fn rollback_note(cx: &mut Ctx<'_>, c: &ClusterConfig, have: Minor, want: Minor) {
    if of(cx.shared.repo, c).is_some() && !c.node_groups.is_empty() {
        cx.notes.push(format!(
            "rollback {have}→{want}: the managed node groups baked at {want} (upgrade.nodes: bake), so none rolls back before the control plane"
        ));
    }
}
