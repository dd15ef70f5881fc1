//! The support gate: where the minor a hop lands on stands in the EKS calendar.
//!
//! ```text
//!  DescribeClusterVersions (LiveState::cluster_versions) ─► Calendar::from_target ─┐
//!  keelson's built-in table (when the target reported none) ─► Calendar::builtin ─┴► support_gate
//! ```
//!
//! The target's calendar is the truth: a minor it does not list is one EKS does not offer.
//! The built-in table can only be out of date, so a minor newer than it is a warning.

use super::{gate, Gate, GateResult, Outcome};
use crate::versions::{Calendar, CalendarSource, Date, Minor, Standing, SupportStatus};

/// Where `to` stands in `calendar` on `today`: the target's own calendar
/// (`DescribeClusterVersions`) when it reported one, else keelson's built-in table, where
/// a newer minor is only unknown, not refused.
pub fn support_gate(to: Minor, today: Date, calendar: &Calendar) -> GateResult {
    let listed = || {
        calendar
            .available(today)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let e = match (calendar.standing(to), calendar.source) {
        (Standing::Known(e), _) => e,
        (_, CalendarSource::Target) => {
            return gate(
                Gate::Support,
                Outcome::Fail,
                vec![format!(
                    "EKS does not offer Kubernetes {to}: DescribeClusterVersions lists {} as supported on {today}",
                    listed()
                )],
            )
        }
        (Standing::Newer { newest }, CalendarSource::BuiltIn) => {
            return gate(
                Gate::Support,
                Outcome::Warn,
                vec![format!(
                    "Kubernetes {to} is not in keelson's calendar (it knows up to {newest}); its support dates are unknown here"
                )],
            )
        }
        (Standing::Older, CalendarSource::BuiltIn) => {
            return gate(
                Gate::Support,
                Outcome::Fail,
                vec![format!(
                    "Kubernetes {to} is older than every version in keelson's calendar, long past EKS support"
                )],
            )
        }
    };
    match e.status(today) {
        SupportStatus::Unreleased => gate(
            Gate::Support,
            Outcome::Fail,
            vec![format!("EKS does not offer Kubernetes {to} yet (expected {})", e.released)],
        ),
        SupportStatus::Unsupported => gate(
            Gate::Support,
            Outcome::Fail,
            vec![format!("Kubernetes {to} left EKS extended support on {}", e.end_of_extended)],
        ),
        SupportStatus::Extended => gate(
            Gate::Support,
            Outcome::Warn,
            vec![format!(
                "Kubernetes {to} is in extended support (extra cost per cluster hour) since {} until {}; plan the next upgrade",
                e.end_of_standard, e.end_of_extended
            )],
        ),
        SupportStatus::Standard => {
            let left = e.end_of_standard.days_since(today);
            if left <= 90 {
                gate(
                    Gate::Support,
                    Outcome::Warn,
                    vec![format!(
                        "standard support for Kubernetes {to} ends {} ({left} days); extended support costs extra after that",
                        e.end_of_standard
                    )],
                )
            } else {
                gate(Gate::Support, Outcome::Pass, Vec::new())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::live::ClusterVersionInfo;

    #[test]
    fn the_support_gate_follows_the_calendar() {
        let day = Date::new(2026, 11, 24);
        let cal = Calendar::builtin();
        assert_eq!(
            support_gate(Minor::v1(33), day, &cal).outcome,
            Outcome::Warn
        );
        assert!(support_gate(Minor::v1(33), day, &cal).findings[0].contains("extended support"));
        let soon = support_gate(Minor::v1(34), day, &cal);
        assert_eq!(soon.outcome, Outcome::Warn);
        assert!(soon.findings[0].contains("(8 days)"), "{:?}", soon.findings);
        assert_eq!(
            support_gate(Minor::v1(36), day, &cal).outcome,
            Outcome::Pass
        );
        assert_eq!(
            support_gate(Minor::v1(29), day, &cal).outcome,
            Outcome::Fail
        );
        assert_eq!(
            support_gate(Minor::v1(36), Date::new(2026, 1, 1), &cal).outcome,
            Outcome::Fail
        );
        assert_eq!(
            support_gate(Minor::v1(20), day, &cal).outcome,
            Outcome::Fail
        );
    }

    fn info(v: &str, dates: [&str; 3]) -> ClusterVersionInfo {
        ClusterVersionInfo {
            version: v.into(),
            status: "STANDARD_SUPPORT".into(),
            default_version: false,
            release_date: Some(dates[0].into()),
            end_of_standard_support: Some(dates[1].into()),
            end_of_extended_support: Some(dates[2].into()),
        }
    }

    #[test]
    fn a_minor_newer_than_the_built_in_table_is_unknown_offline_and_judged_by_the_target() {
        let day = Date::new(2026, 11, 29);
        let offline = support_gate(Minor::v1(37), day, &Calendar::builtin());
        assert_eq!(offline.outcome, Outcome::Warn);
        assert!(
            offline.findings[0].contains("not in keelson's calendar"),
            "{:?}",
            offline.findings
        );
        // The target lists 1.37 with its own dates: it passes like any other minor.
        let aws = Calendar::from_target(&[
            info("1.36", ["2026-06-02", "2027-08-02", "2028-08-02"]),
            info("1.37", ["2026-10-01", "2027-12-01", "2028-12-01"]),
        ])
        .unwrap();
        assert_eq!(aws.source, CalendarSource::Target);
        assert_eq!(
            support_gate(Minor::v1(37), day, &aws).outcome,
            Outcome::Pass
        );
        // A minor the target does not list is one EKS does not offer.
        let none = support_gate(Minor::v1(38), day, &aws);
        assert_eq!(none.outcome, Outcome::Fail);
        assert!(
            none.findings[0].contains("DescribeClusterVersions lists 1.36, 1.37"),
            "{:?}",
            none.findings
        );
        // Dates the target got wrong are not guessed: without all three, no calendar.
        let mut bad = info("1.37", ["2026-10-01", "2027-12-01", "2028-12-01"]);
        bad.release_date = None;
        assert_eq!(Calendar::from_target(&[bad]), None);
        assert_eq!(
            Calendar::from_target(&[info("1.37", ["2026-02-30", "2027-12-01", "2028-12-01"])]),
            None
        );
    }
}
