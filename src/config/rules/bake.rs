//! The node upgrade policy's rules: `upgrade.nodes: bake` keeps managed node groups one
//! minor behind the control plane until the stage's soak has passed (plan/bake.rs).
//!
//! ```text
//!  bake in a stage ∧ policy.maxKubeletSkew = 0 ─► error   bake-needs-skew (at the bake)
//!  bake in a stage without a soak             ─► warning bake-without-soak (at the bake)
//! ```
//!
//! A skew of 0 forbids the one minor bake keeps nodes behind (Kubernetes allows 3 since
//! 1.28: <https://kubernetes.io/releases/version-skew-policy/>), so the two cannot both
//! hold. A bake without a soak ends as soon as the hop has completed: nodes follow on the
//! next plan, which is `follow` with one more sync in between.

use super::Ctx;
use crate::config::diag::Rule;
use crate::config::repo::Repo;
use crate::model::NodeUpgrade;

pub(super) fn bake_rules(repo: &Repo, cx: &mut Ctx<'_>) {
    let Some(f) = &repo.fleet else { return };
    let spec = &f.value.spec;
    let fleet_bakes = spec.policy.upgrade.nodes == NodeUpgrade::Bake;
    for (i, s) in spec.stages.iter().enumerate() {
        if spec.node_upgrade(&s.name) != NodeUpgrade::Bake {
            continue;
        }
        // Point at the stage's own `bake` when it has one, else at the Fleet's.
        let own = s.upgrade.as_ref().and_then(|u| u.nodes).is_some();
        let path = if own || !fleet_bakes {
            format!("spec.stages[{i}].upgrade.nodes")
        } else {
            "spec.policy.upgrade.nodes".to_string()
        };
        if spec.policy.max_kubelet_skew == 0 {
            cx.report(
                f.doc,
                &path,
                Rule::BakeNeedsSkew,
                format!(
                    "stage `{}` bakes its nodes one minor behind the control plane, but `policy.maxKubeletSkew` is 0: write `maxKubeletSkew: 1` or more (Kubernetes allows 3 since 1.28), or `nodes: follow`",
                    s.name
                ),
            );
        }
        if s.soak.is_none() {
            cx.report(
                f.doc,
                &path,
                Rule::BakeWithoutSoak,
                format!(
                    "stage `{}` bakes its nodes but has no `soak`, so the bake ends as soon as the hop completes and the nodes follow on the next plan: give the stage a `soak` (e.g. `soak: 24h`, within the 7-day rollback window), or write `nodes: follow`",
                    s.name
                ),
            );
        }
    }
}
