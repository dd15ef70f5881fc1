//! The `helm-kube-version` gate: a deployed Helm release whose chart declares a
//! `kubeVersion` that excludes the hop's target blocks the hop, because Helm refuses every
//! later `helm upgrade` of it ("chart requires kubeVersion: … which is incompatible with
//! Kubernetes …", Helm `action/install.go`, `action/upgrade.go`).
//!
//! ```text
//!  release record (gzip+base64 JSON) ─► chart.metadata.kubeVersion
//!     ─► Constraints (Masterminds/semver v3, as Helm) ─► check v1.N.P-eks-… for `from` and `to`
//!        admits `from`, not `to`: fail · admits neither: warn (already broken) · else pass
//!        unparseable: warn, naming it
//! ```

use super::{gate, Gate, GateResult, Outcome};
use crate::deprecations::kube_version::{Constraints, SemVer};
use crate::model::live::ObservedCluster;
use crate::versions::Minor;

/// Judge the deployed charts' `kubeVersion` for the hop `from → to`.
pub fn helm_gate(live: &ObservedCluster, from: Minor, to: Minor) -> GateResult {
    let Some(signals) = &live.upgrade else {
        return gate(Gate::HelmKubeVersion, Outcome::Pass, Vec::new());
    };
    let mut fail = Vec::new();
    let mut warn = Vec::new();
    for h in &signals.helm_charts {
        let what = format!(
            "helm release {} (revision {}) in namespace {}: chart {} declares kubeVersion \"{}\"",
            h.release, h.revision, h.namespace, h.chart, h.kube_version
        );
        let Some(c) = Constraints::parse(&h.kube_version) else {
            warn.push(format!(
                "{what}, which is not a semver constraint Helm can read (Masterminds/semver v3); keelson cannot tell whether it admits {to}, and helm upgrade of it fails: fix the chart's kubeVersion"
            ));
            continue;
        };
        let admits = |m: Minor| c.check(&SemVer::eks(m.major, m.minor));
        match (admits(from), admits(to)) {
            (_, true) => {}
            (true, false) => fail.push(format!(
                "{what}, which excludes Kubernetes {to} as EKS reports it (v{to}.x-eks-…); after the hop Helm refuses to upgrade the release: upgrade it to a chart version whose kubeVersion admits {to} (helm upgrade), then plan again"
            )),
            (false, false) => warn.push(format!(
                "{what}, which excludes both {from} and {to} as EKS reports them (v1.N.x-eks-…, a pre-release to semver: a range needs `-0`, as in `>=1.25.0-0`); helm upgrade of it fails already"
            )),
        }
    }
    if fail.is_empty() {
        gate(Gate::HelmKubeVersion, Outcome::Warn, warn)
    } else {
        fail.extend(warn);
        gate(Gate::HelmKubeVersion, Outcome::Fail, fail)
    }
}
