//! NodePools keelson creates always carry `disruption.consolidationPolicy`: from Kubernetes
//! 1.37, EKS Auto Mode gives a new NodePool that omits it `Balanced` instead of Karpenter's
//! `WhenEmptyOrUnderutilized` (EKS Auto Mode release notes, 2026-10-01, `auto-change`; the
//! 1.37 entry of `versions::BEHAVIOUR_CHANGES`). Writing it keeps a hop, or a pool created
//! after one, from changing behaviour silently.
//!
//! ```text
//!  git NodePool ─┬─ consolidationPolicy written ─► as written
//!                ├─ disruption without it ──────► + consolidationPolicy: WhenEmptyOrUnderutilized
//!                └─ no disruption ──────────────► + disruption {consolidateAfter: 0s,
//!                                                   consolidationPolicy: WhenEmptyOrUnderutilized}
//! ```
//!
//! The value is Karpenter v1's own default (CRD `karpenter.sh_nodepools.yaml`, v1.14.1:
//! `consolidationPolicy.default: WhenEmptyOrUnderutilized`, and a missing `disruption`
//! defaults to `consolidateAfter: 0s`), which is what such a pool got on every EKS minor
//! before 1.37: the behaviour users have, kept. A test checks it against the CRD.

use crate::model::{ConsolidationPolicy, Disruption, NodePoolSpec};

/// The consolidation policy keelson writes when a NodePool file omits it.
pub(crate) const DEFAULT_CONSOLIDATION: ConsolidationPolicy =
    ConsolidationPolicy::WhenEmptyOrUnderutilized;

/// `consolidateAfter` of a `disruption` the CRD fills in when the whole block is missing.
pub(crate) const DEFAULT_CONSOLIDATE_AFTER: &str = "0s";

/// The spec keelson applies: git's, with the consolidation policy written explicitly.
/// Returns whether it was filled in (the plan notes it).
pub(super) fn explicit(spec: &NodePoolSpec) -> (NodePoolSpec, bool) {
    let filled = omitted(spec);
    let mut spec = spec.clone();
    let d = spec.disruption.get_or_insert_with(|| Disruption {
        consolidation_policy: None,
        consolidate_after: DEFAULT_CONSOLIDATE_AFTER.to_string(),
        budgets: Vec::new(),
    });
    d.consolidation_policy.get_or_insert(DEFAULT_CONSOLIDATION);
    (spec, filled)
}

/// Whether the file leaves the consolidation policy out.
pub(super) fn omitted(spec: &NodePoolSpec) -> bool {
    spec.disruption
        .as_ref()
        .is_none_or(|d| d.consolidation_policy.is_none())
}

/// The note on a NodePool whose file omits the policy.
pub(super) fn note(name: &str) -> String {
    format!(
        "NodePool {name}: its file sets no `disruption.consolidationPolicy`; keelson writes {DEFAULT_CONSOLIDATION} (Karpenter v1's default), because from Kubernetes 1.37 EKS Auto Mode gives a NodePool without it `Balanced`: write the policy you want in the file to choose another"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(disruption: &str) -> NodePoolSpec {
        let text = format!(
            "template:\n  spec:\n    nodeClassRef: {{group: eks.amazonaws.com, kind: NodeClass, name: default}}\n    requirements: []\n{disruption}"
        );
        serde_yaml_ng::from_str(&text).unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn a_missing_policy_is_written_and_a_written_one_is_kept() {
        let (s, filled) = explicit(&pool(""));
        assert!(filled);
        let d = s.disruption.unwrap_or_else(|| unreachable!());
        assert_eq!(
            d.consolidation_policy,
            Some(ConsolidationPolicy::WhenEmptyOrUnderutilized)
        );
        assert_eq!(d.consolidate_after, "0s");

        let (s, filled) = explicit(&pool("disruption:\n  consolidateAfter: 5m\n"));
        assert!(filled);
        let d = s.disruption.unwrap_or_else(|| unreachable!());
        assert_eq!(d.consolidate_after, "5m");
        assert_eq!(d.consolidation_policy, Some(DEFAULT_CONSOLIDATION));

        let (s, filled) = explicit(&pool(
            "disruption:\n  consolidateAfter: 5m\n  consolidationPolicy: Balanced\n",
        ));
        assert!(!filled);
        assert_eq!(
            s.disruption.and_then(|d| d.consolidation_policy),
            Some(ConsolidationPolicy::Balanced)
        );
    }
}
