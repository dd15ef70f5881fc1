//! Maintenance windows: whether a stage may start changes at a given instant. Pure.
//!
//! ```text
//!  [{days, start "HH:MM", duration}] + now (unix seconds, UTC) ──► open? / next opening
//! ```
//!
//! A window opens on each of its days at `start` UTC and stays open for `duration`, which
//! may run past midnight into the next day. No windows at all means "any time".

use crate::model::{MaintenanceWindow, Weekday};

const DAY: i64 = 86_400;

/// Monday = 0 … Sunday = 6, for a unix day number (1970-01-01 was a Thursday).
fn weekday_index(day: i64) -> i64 {
    (day + 3).rem_euclid(7)
}

fn index_of(d: Weekday) -> i64 {
    match d {
        Weekday::Mon => 0,
        Weekday::Tue => 1,
        Weekday::Wed => 2,
        Weekday::Thu => 3,
        Weekday::Fri => 4,
        Weekday::Sat => 5,
        Weekday::Sun => 6,
    }
}

/// `HH:MM` as seconds after midnight.
pub fn parse_hhmm(s: &str) -> Option<i64> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: i64 = h.parse().ok()?;
    let m: i64 = m.parse().ok()?;
    if !(0..24).contains(&h) || !(0..60).contains(&m) {
        return None;
    }
    Some(h * 3600 + m * 60)
}

/// Openings of `w` as `(start, end)` unix seconds whose start lies in the 8 days ending
/// with the day of `now` (a window lasts at most 7 days), plus the next 7 days.
fn openings(w: &MaintenanceWindow, now: i64) -> Vec<(i64, i64)> {
    let Some(start) = parse_hhmm(&w.start) else {
        return Vec::new();
    };
    let len = w.duration.secs_i64().min(7 * DAY);
    let today = now.div_euclid(DAY);
    (today - 8..=today + 7)
        .filter(|d| w.days.is_empty() || w.days.iter().any(|x| index_of(*x) == weekday_index(*d)))
        .map(|d| (d * DAY + start, d * DAY + start + len))
        .collect()
}

/// Whether changes may start at `now`. No windows: always.
pub fn is_open(windows: &[MaintenanceWindow], now: i64) -> bool {
    windows.is_empty()
        || windows
            .iter()
            .any(|w| openings(w, now).iter().any(|(s, e)| *s <= now && now < *e))
}

/// When the next window opens after `now` (`None` when one is open now, or none ever
/// opens, e.g. a window with an unreadable time, which validation reports).
pub fn next_opening(windows: &[MaintenanceWindow], now: i64) -> Option<i64> {
    if is_open(windows, now) {
        return None;
    }
    windows
        .iter()
        .flat_map(|w| openings(w, now))
        .map(|(s, _)| s)
        .filter(|s| *s > now)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(days: &[Weekday], start: &str, duration: &str) -> MaintenanceWindow {
        MaintenanceWindow {
            days: days.to_vec(),
            start: start.into(),
            duration: duration.parse().unwrap(),
        }
    }

    // 2026-11-23 is a Monday.
    const MON_0000: i64 = 1_795_392_000;

    #[test]
    fn monday_is_monday() {
        assert_eq!(weekday_index(MON_0000 / DAY), 0);
    }

    #[test]
    fn no_windows_is_always_open() {
        assert!(is_open(&[], MON_0000));
        assert_eq!(next_opening(&[], MON_0000), None);
    }

    #[test]
    fn open_inside_closed_outside() {
        let ws = [w(&[Weekday::Mon], "02:00", "4h")];
        assert!(!is_open(&ws, MON_0000 + 3600));
        assert!(is_open(&ws, MON_0000 + 2 * 3600));
        assert!(is_open(&ws, MON_0000 + 6 * 3600 - 1));
        assert!(!is_open(&ws, MON_0000 + 6 * 3600));
        // Tuesday at 03:00 is not in a Monday window.
        assert!(!is_open(&ws, MON_0000 + DAY + 3 * 3600));
        assert_eq!(next_opening(&ws, MON_0000), Some(MON_0000 + 2 * 3600));
        assert_eq!(
            next_opening(&ws, MON_0000 + 7 * 3600),
            Some(MON_0000 + 7 * DAY + 2 * 3600)
        );
    }

    #[test]
    fn a_window_runs_past_midnight() {
        // Sunday 22:00 for 4 hours covers Monday 01:00.
        let ws = [w(&[Weekday::Sun], "22:00", "4h")];
        assert!(is_open(&ws, MON_0000 + 3600));
        assert!(!is_open(&ws, MON_0000 + 2 * 3600));
    }

    #[test]
    fn empty_days_mean_every_day() {
        let ws = [w(&[], "12:00", "1h")];
        for d in 0..7 {
            assert!(is_open(&ws, MON_0000 + d * DAY + 12 * 3600 + 60));
            assert!(!is_open(&ws, MON_0000 + d * DAY + 11 * 3600));
        }
    }

    #[test]
    fn unreadable_windows_never_open() {
        // An unreadable length never gets this far: the Fleet's `Duration` refuses it
        // when the repository is loaded.
        assert!("soon".parse::<crate::model::Duration>().is_err());
        let ws = [w(&[], "25:00", "1h")];
        assert!(!is_open(&ws, MON_0000 + 3600 + 1));
        assert_eq!(next_opening(&ws, MON_0000), None);
    }
}
