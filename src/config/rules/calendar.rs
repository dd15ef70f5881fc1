//! The version rule: where a Cluster's `spec.version` stands in keelson's built-in EKS
//! calendar on the day of the check.
//!
//! ```text
//!  spec.version ──► Calendar::builtin().standing(v) ──► Known(status) │ Newer │ Older
//!                                                         └─► warnings only
//! ```
//!
//! Every outcome is a warning on that cluster, never an error: the table is keelson's,
//! not EKS's, so it can be out of date (a minor released after keelson was built), and a
//! cluster past end of support is still a cluster to manage (EKS upgrades it itself).
//! An error would make the whole repository invalid and stop the daemon for every other
//! cluster. Against AWS the upgrade gates judge with `DescribeClusterVersions` instead.

use super::Ctx;
use crate::config::diag::Rule;
use crate::config::repo::ClusterConfig;
use crate::versions::{Calendar, Date, Minor, Standing, SupportStatus};

pub(super) fn version_rules(c: &ClusterConfig, today: Date, cx: &mut Ctx<'_>) {
    let spec = &c.cluster.value.spec;
    let Ok(v) = spec.version.parse::<Minor>() else {
        return; // the schema pattern already reported it
    };
    let calendar = Calendar::builtin();
    let available = calendar
        .available(today)
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let (doc, path) = (c.cluster.doc, "spec.version");
    match calendar.standing(v) {
        Standing::Newer { newest } => cx.report(
            doc,
            path,
            Rule::VersionNotInCalendar,
            format!(
                "Kubernetes {v} is not in keelson's calendar (it knows up to {newest}); if EKS offers it, keelson reads its dates from DescribeClusterVersions when run against AWS; otherwise write one of {available}"
            ),
        ),
        Standing::Older => cx.report(
            doc,
            path,
            Rule::UnsupportedVersion,
            format!(
                "Kubernetes {v} is older than every version in keelson's calendar, long past EKS support; upgrade this cluster (supported on {today}: {available})"
            ),
        ),
        Standing::Known(e) => match e.status(today) {
            SupportStatus::Unreleased => cx.report(
                doc,
                path,
                Rule::VersionNotInCalendar,
                format!(
                    "Kubernetes {v} is not released on EKS yet by keelson's calendar (expected {}); supported on {today}: {available}",
                    e.released
                ),
            ),
            SupportStatus::Unsupported => cx.report(
                doc,
                path,
                Rule::UnsupportedVersion,
                format!(
                    "Kubernetes {v} reached end of extended support on {}: EKS upgrades such clusters to the next minor itself and creates none; plan the upgrade (supported on {today}: {available})",
                    e.end_of_extended
                ),
            ),
            SupportStatus::Extended => cx.report(
                doc,
                path,
                Rule::ExtendedSupport,
                format!(
                    "Kubernetes {v} left standard support on {} and is in extended support (extra cost) until {}; plan an upgrade",
                    e.end_of_standard, e.end_of_extended
                ),
            ),
            SupportStatus::Standard => {}
        },
    }
}
