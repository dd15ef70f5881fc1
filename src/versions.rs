//! Kubernetes minor versions on EKS and their support calendar, and the numeric ordering
//! of add-on versions (`version_key`), shared by the planner and the simulator.
//!
//! At run time against AWS the calendar is read from `DescribeClusterVersions`; this
//! built-in table serves offline checks (`validate`) and the simulator. It is the one
//! place these dates live. Sources: the EKS user guide's Kubernetes versions page for
//! 1.25–1.31, the AWS sample-apex-skills calendar and endoflife.date for 1.32–1.35, and a
//! secondary source for 1.36 (end of extended support derived as standard + 12 months).

use std::fmt;
use std::str::FromStr;

/// A calendar date (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year.
    pub year: i32,
    /// Month, 1–12.
    pub month: u32,
    /// Day, 1–31.
    pub day: u32,
}

impl Date {
    /// A date from its parts.
    pub const fn new(year: i32, month: u32, day: u32) -> Date {
        Date { year, month, day }
    }

    /// A date from its parts, if it is a day of the (proleptic Gregorian) calendar:
    /// `2026-02-30` is not.
    pub fn checked(year: i32, month: u32, day: u32) -> Option<Date> {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days)
            .contains(&day)
            .then_some(Date { year, month, day })
    }

    /// The date of a Unix timestamp (seconds).
    pub fn from_unix(secs: i64) -> Date {
        // Howard Hinnant's days-to-civil algorithm.
        let z = secs.div_euclid(86_400) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// Days since 1970-01-01.
    pub fn to_days(self) -> i64 {
        // Howard Hinnant's days-from-civil algorithm.
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// Days from `earlier` to this date (negative when `earlier` is later).
    pub fn days_since(self, earlier: Date) -> i64 {
        self.to_days() - earlier.to_days()
    }
}

/// `YYYY-MM-DD HH:MM UTC` of a Unix timestamp (seconds).
pub fn utc_minute(secs: i64) -> String {
    let rem = secs.rem_euclid(86_400);
    format!(
        "{} {:02}:{:02} UTC",
        Date::from_unix(secs),
        rem / 3600,
        (rem % 3600) / 60
    )
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// A Kubernetes `major.minor` version, compared numerically (1.9 < 1.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Minor {
    /// Major version (always 1 so far).
    pub major: u32,
    /// Minor version.
    pub minor: u32,
}

impl Minor {
    /// `1.minor`.
    pub const fn v1(minor: u32) -> Minor {
        Minor { major: 1, minor }
    }

    /// The next minor (saturating: there is none after `u32::MAX`).
    pub fn next(self) -> Minor {
        Minor {
            major: self.major,
            minor: self.minor.saturating_add(1),
        }
    }

    /// The minor before (saturating at `major.0`).
    pub fn prev(self) -> Minor {
        Minor {
            major: self.major,
            minor: self.minor.saturating_sub(1),
        }
    }

    /// How many minors `self` is ahead of `other` (negative when behind).
    pub fn minors_after(self, other: Minor) -> i64 {
        if self.major != other.major {
            return if self.major > other.major {
                i64::MAX
            } else {
                i64::MIN
            };
        }
        i64::from(self.minor) - i64::from(other.minor)
    }
}

/// Who a behaviour change concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concerns {
    /// Every cluster.
    All,
    /// Clusters with Auto Mode compute.
    AutoMode,
}

/// A change a minor brings that users must act on, with its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BehaviourChange {
    /// The minor that brings it.
    pub minor: Minor,
    /// Who it concerns.
    pub concerns: Concerns,
    /// What changes and what to do.
    pub change: &'static str,
    /// Where it is stated.
    pub source: &'static str,
}

/// Behaviour changes per hop, as data: the plan notes every entry of a hop's target.
pub const BEHAVIOUR_CHANGES: &[BehaviourChange] = &[
    BehaviourChange {
        minor: Minor::v1(36),
        concerns: Concerns::All,
        change: "gitRepo volumes are disabled and Service `externalIPs` is deprecated: move gitRepo volumes to an init container that clones the repository",
        source: "Kubernetes v1.36 release notes; EKS standard-support notes for 1.36",
    },
    BehaviourChange {
        minor: Minor::v1(37),
        concerns: Concerns::AutoMode,
        change: "Auto Mode NodePools created from 1.37 on default to `consolidationPolicy: Balanced` (disrupt only when the hourly saving justifies it) instead of `WhenEmptyOrUnderutilized`: write `disruption.consolidationPolicy` in every NodePool to keep the behaviour you have",
        source: "EKS Auto Mode release notes, 2026-10-01 (auto-change)",
    },
];

/// The behaviour changes a hop to `to` brings to a cluster (`auto_mode`: Auto Mode
/// compute on).
pub fn behaviour_changes(to: Minor, auto_mode: bool) -> Vec<&'static BehaviourChange> {
    BEHAVIOUR_CHANGES
        .iter()
        .filter(|b| b.minor == to && (b.concerns == Concerns::All || auto_mode))
        .collect()
}

/// How long after an in-place upgrade completes EKS still rolls the control plane back
/// one minor: 7 days (EKS User Guide `rollback-cluster`, "7-day window").
pub const ROLLBACK_WINDOW_SECS: i64 = 7 * 86_400;

/// The most minors one upgrade path may span. EKS supports about a dozen minors at any
/// time (standard and extended support); a longer path is a typo, not a plan.
pub const MAX_HOPS: u32 = 16;

/// Why no upgrade path leads from one minor to another.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HopPathError {
    /// The majors differ: Kubernetes has never had a major upgrade.
    #[error("{from} → {to} changes the major version; Kubernetes upgrades go one minor at a time within 1.x")]
    Major {
        /// Where the path starts.
        from: Minor,
        /// Where it should end.
        to: Minor,
    },
    /// More minors than any real upgrade spans.
    #[error("{from} → {to} is {hops} minors; an upgrade path spans at most {MAX_HOPS} (is the version a typo?)")]
    TooLong {
        /// Where the path starts.
        from: Minor,
        /// Where it should end.
        to: Minor,
        /// Minors between them.
        hops: u64,
    },
}

/// The minors an upgrade from `from` to `to` passes through, one per hop (`to` last;
/// empty when `to` is not above `from`). Bounded: never more than [`MAX_HOPS`].
///
/// # Errors
/// [`HopPathError`] when the majors differ or the path is longer than [`MAX_HOPS`].
pub fn hop_path(from: Minor, to: Minor) -> Result<Vec<Minor>, HopPathError> {
    if from.major != to.major {
        return Err(HopPathError::Major { from, to });
    }
    if to.minor <= from.minor {
        return Ok(Vec::new());
    }
    let hops = u64::from(to.minor - from.minor);
    if hops > u64::from(MAX_HOPS) {
        return Err(HopPathError::TooLong { from, to, hops });
    }
    Ok((from.minor + 1..=to.minor)
        .map(|minor| Minor {
            major: from.major,
            minor,
        })
        .collect())
}

/// Why a version string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a Kubernetes minor version such as 1.33")]
pub struct BadVersion(pub String);

impl FromStr for Minor {
    type Err = BadVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().trim_start_matches('v');
        let mut parts = t.split('.');
        let major = parts.next().and_then(|p| p.parse().ok());
        let minor = parts.next().and_then(|p| p.parse().ok());
        match (major, minor, parts.next()) {
            (Some(major), Some(minor), None) => Ok(Minor { major, minor }),
            _ => Err(BadVersion(s.to_string())),
        }
    }
}

impl fmt::Display for Minor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// One EKS Kubernetes version and its support window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EksVersion {
    /// The minor.
    pub version: Minor,
    /// When EKS released it.
    pub released: Date,
    /// End of standard support.
    pub end_of_standard: Date,
    /// End of extended support.
    pub end_of_extended: Date,
}

/// Where a version stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupportStatus {
    /// Not released yet on that day.
    Unreleased,
    /// In standard support.
    Standard,
    /// In extended support (extra cost).
    Extended,
    /// Past end of extended support.
    Unsupported,
}

const fn v(minor: u32, released: Date, std_end: Date, ext_end: Date) -> EksVersion {
    EksVersion {
        version: Minor::v1(minor),
        released,
        end_of_standard: std_end,
        end_of_extended: ext_end,
    }
}

/// The built-in calendar, oldest first.
pub const CALENDAR: &[EksVersion] = &[
    v(
        25,
        Date::new(2023, 2, 22),
        Date::new(2024, 5, 1),
        Date::new(2025, 5, 1),
    ),
    v(
        26,
        Date::new(2023, 4, 11),
        Date::new(2024, 6, 11),
        Date::new(2025, 6, 11),
    ),
    v(
        27,
        Date::new(2023, 5, 24),
        Date::new(2024, 7, 24),
        Date::new(2025, 7, 24),
    ),
    v(
        28,
        Date::new(2023, 9, 26),
        Date::new(2024, 11, 26),
        Date::new(2025, 11, 26),
    ),
    v(
        29,
        Date::new(2024, 1, 23),
        Date::new(2025, 3, 23),
        Date::new(2026, 3, 23),
    ),
    v(
        30,
        Date::new(2024, 5, 23),
        Date::new(2025, 7, 23),
        Date::new(2026, 7, 23),
    ),
    v(
        31,
        Date::new(2024, 9, 26),
        Date::new(2025, 11, 26),
        Date::new(2026, 11, 26),
    ),
    v(
        32,
        Date::new(2025, 1, 23),
        Date::new(2026, 3, 23),
        Date::new(2027, 3, 23),
    ),
    v(
        33,
        Date::new(2025, 5, 29),
        Date::new(2026, 7, 29),
        Date::new(2027, 7, 29),
    ),
    v(
        34,
        Date::new(2025, 10, 2),
        Date::new(2026, 12, 2),
        Date::new(2027, 12, 2),
    ),
    v(
        35,
        Date::new(2026, 1, 27),
        Date::new(2027, 3, 27),
        Date::new(2028, 3, 27),
    ),
    v(
        36,
        Date::new(2026, 6, 2),
        Date::new(2027, 8, 2),
        Date::new(2028, 8, 2),
    ),
];

/// The calendar entry for a minor.
pub fn lookup(version: Minor) -> Option<&'static EksVersion> {
    CALENDAR.iter().find(|e| e.version == version)
}

/// Where a calendar came from: it decides what a minor missing from it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarSource {
    /// keelson's built-in table ([`CALENDAR`]): offline checks. A newer minor may well
    /// exist on EKS already; the table only cannot say.
    BuiltIn,
    /// The target's own answer (`DescribeClusterVersions`, every status): a minor it does
    /// not list is one the target does not offer.
    Target,
}

/// A support calendar: the built-in table, or the versions the target reports at run
/// time (which replace the table for that run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// Where the entries come from.
    pub source: CalendarSource,
    /// Entries, oldest first.
    pub entries: Vec<EksVersion>,
}

/// The answer for one minor from a calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// The calendar lists it.
    Known(EksVersion),
    /// Newer than every minor the calendar lists.
    Newer {
        /// The newest minor listed.
        newest: Minor,
    },
    /// Older than every minor the calendar lists (long past support), or a gap.
    Older,
}

impl Calendar {
    /// keelson's built-in table.
    pub fn builtin() -> Calendar {
        Calendar {
            source: CalendarSource::BuiltIn,
            entries: CALENDAR.to_vec(),
        }
    }

    /// The calendar a target reported (`DescribeClusterVersions`), or `None` when it
    /// reported no version with all three dates (then the built-in table serves).
    /// Entries without dates are left out: a support window needs them.
    pub fn from_target(versions: &[crate::model::live::ClusterVersionInfo]) -> Option<Calendar> {
        let date = |d: &Option<String>| {
            let d = d.as_deref()?;
            let mut p = d.split('-').map(str::parse::<u32>);
            let (y, m, day) = (p.next()?.ok()?, p.next()?.ok()?, p.next()?.ok()?);
            Date::checked(i32::try_from(y).ok()?, m, day)
        };
        let mut entries: Vec<EksVersion> = versions
            .iter()
            .filter_map(|v| {
                Some(EksVersion {
                    version: v.version.parse().ok()?,
                    released: date(&v.release_date)?,
                    end_of_standard: date(&v.end_of_standard_support)?,
                    end_of_extended: date(&v.end_of_extended_support)?,
                })
            })
            .collect();
        entries.sort_by_key(|e| e.version);
        entries.dedup_by_key(|e| e.version);
        (!entries.is_empty()).then_some(Calendar {
            source: CalendarSource::Target,
            entries,
        })
    }

    /// Where `version` stands in this calendar.
    pub fn standing(&self, version: Minor) -> Standing {
        if let Some(e) = self.entries.iter().find(|e| e.version == version) {
            return Standing::Known(*e);
        }
        match self.entries.last() {
            Some(newest) if version > newest.version => Standing::Newer {
                newest: newest.version,
            },
            _ => Standing::Older,
        }
    }

    /// The minors a cluster may be created with or upgraded to on `today`.
    pub fn available(&self, today: Date) -> Vec<Minor> {
        self.entries
            .iter()
            .filter(|e| {
                matches!(
                    e.status(today),
                    SupportStatus::Standard | SupportStatus::Extended
                )
            })
            .map(|e| e.version)
            .collect()
    }
}

impl EksVersion {
    /// Where this version stands on `today`.
    pub fn status(&self, today: Date) -> SupportStatus {
        if today < self.released {
            SupportStatus::Unreleased
        } else if today <= self.end_of_standard {
            SupportStatus::Standard
        } else if today <= self.end_of_extended {
            SupportStatus::Extended
        } else {
            SupportStatus::Unsupported
        }
    }
}

/// The versions a new cluster may be created with or upgraded to on `today`, by the
/// built-in table.
pub fn available(today: Date) -> Vec<Minor> {
    Calendar::builtin().available(today)
}

/// Numeric sort key of an add-on version, `v1.19.2-eksbuild.1` → (1, 19, 2, 1), so that
/// 1.10 sorts after 1.9 and `eksbuild.11` after `eksbuild.2`.
pub fn version_key(v: &str) -> Vec<u64> {
    v.trim_start_matches('v')
        .split(['.', '-'])
        .filter_map(|p| p.trim_start_matches("eksbuild").parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaviour_changes_are_noted_for_their_minor_and_whom_they_concern() {
        let auto = behaviour_changes(Minor::v1(37), true);
        assert_eq!(auto.len(), 1);
        assert!(auto[0].change.contains("consolidationPolicy: Balanced"));
        assert!(behaviour_changes(Minor::v1(37), false).is_empty());
        assert_eq!(behaviour_changes(Minor::v1(36), false).len(), 1);
        assert!(behaviour_changes(Minor::v1(35), true).is_empty());
        assert!(BEHAVIOUR_CHANGES.iter().all(|b| !b.source.is_empty()));
    }

    #[test]
    fn checked_dates_are_days_of_the_calendar() {
        assert_eq!(Date::checked(2028, 2, 29), Some(Date::new(2028, 2, 29)));
        for (y, m, d) in [
            (2026, 2, 29),
            (2026, 2, 30),
            (2026, 4, 31),
            (2026, 13, 1),
            (2026, 1, 0),
            (1900, 2, 29),
        ] {
            assert_eq!(Date::checked(y, m, d), None, "{y}-{m}-{d}");
        }
        assert_eq!(Date::checked(2000, 2, 29).map(Date::to_days), Some(11_016));
    }

    #[test]
    fn hop_paths_are_bounded_and_stay_in_one_major() {
        assert_eq!(
            hop_path(Minor::v1(33), Minor::v1(35)),
            Ok(vec![Minor::v1(34), Minor::v1(35)])
        );
        assert_eq!(hop_path(Minor::v1(35), Minor::v1(33)), Ok(vec![]));
        assert_eq!(hop_path(Minor::v1(35), Minor::v1(35)), Ok(vec![]));
        // Regressions: these looped, growing without bound.
        let two = Minor { major: 2, minor: 0 };
        assert!(matches!(
            hop_path(Minor::v1(34), two),
            Err(HopPathError::Major { .. })
        ));
        assert!(matches!(
            hop_path(Minor::v1(34), Minor::v1(u32::MAX)),
            Err(HopPathError::TooLong { .. })
        ));
        let zero = Minor {
            major: 0,
            minor: 34,
        };
        assert!(hop_path(zero, Minor::v1(35)).is_err());
        assert_eq!(Minor::v1(u32::MAX).next(), Minor::v1(u32::MAX));
    }

    #[test]
    fn addon_versions_sort_numerically() {
        assert!(version_key("v1.10.0-eksbuild.2") > version_key("v1.9.0-eksbuild.2"));
        assert!(version_key("v1.19.6-eksbuild.1") > version_key("v1.19.2-eksbuild.11"));
        assert!(version_key("v1.19.2-eksbuild.11") > version_key("v1.19.2-eksbuild.2"));
    }

    #[test]
    fn versions_compare_as_numbers() {
        let a: Minor = "1.9".parse().unwrap();
        let b: Minor = "1.10".parse().unwrap();
        assert!(a < b);
        assert_eq!(b.minors_after(a), 1);
        assert!("1.3x".parse::<Minor>().is_err());
        assert!("1.33.1".parse::<Minor>().is_err());
    }

    #[test]
    fn unix_dates() {
        assert_eq!(Date::from_unix(0), Date::new(1970, 1, 1));
        assert_eq!(Date::from_unix(1_795_392_000), Date::new(2026, 11, 23));
        assert_eq!(Date::from_unix(951_782_400), Date::new(2000, 2, 29));
    }

    #[test]
    fn support_status_follows_the_calendar() {
        let today = Date::new(2026, 11, 23);
        assert_eq!(
            lookup(Minor::v1(31)).unwrap().status(today),
            SupportStatus::Extended
        );
        assert_eq!(
            lookup(Minor::v1(30)).unwrap().status(today),
            SupportStatus::Unsupported
        );
        assert_eq!(
            lookup(Minor::v1(35)).unwrap().status(today),
            SupportStatus::Standard
        );
        assert_eq!(
            lookup(Minor::v1(31))
                .unwrap()
                .status(Date::new(2026, 11, 27)),
            SupportStatus::Unsupported
        );
        assert!(available(today).contains(&Minor::v1(36)));
    }

    #[test]
    fn calendar_is_ordered_and_consistent() {
        for w in CALENDAR.windows(2) {
            assert_eq!(w[1].version, w[0].version.next());
        }
        for e in CALENDAR {
            assert!(e.released < e.end_of_standard && e.end_of_standard < e.end_of_extended);
        }
    }
}
