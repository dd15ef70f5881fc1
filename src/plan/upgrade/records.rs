//! Transition records: the EKS cluster tags that say a hop (or a rollback) completed, when,
//! and with which add-on versions. Later stages wait for them; the rollback window and a
//! baking stage's node move are timed from them.
//!
//! ```text
//!  keelson.dev/upgraded-1.34-1.35 = "t=<secs> coredns=v1.12.3-eksbuild.1 ..."
//!  keelson.dev/upgrading          = "1.34-1.35"   (a hop in progress)
//!  keelson.dev/rolled-back-1.35-1.34 = "t=<secs>"
//! ```

use std::collections::BTreeMap;

use super::super::digest;
use crate::model::live::*;
use crate::model::Tags;
use crate::versions::{self, Minor};

/// The tag key recording a completed hop.
pub fn transition_key(from: &str, to: &str) -> String {
    format!("{TRANSITION_TAG_PREFIX}{from}-{to}")
}

/// Longest EKS tag value.
const TAG_VALUE_MAX: usize = 256;

/// The tag value recording a hop completed at `at` with these add-on versions:
/// `t=<secs> name=version ...`, or `t=<secs> addons#<digest>` when the list does not fit
/// in a tag value.
pub fn transition_value(at: i64, addons: &BTreeMap<String, String>) -> String {
    let mut v = format!("t={at}");
    for (name, version) in addons {
        v.push_str(&format!(" {name}={version}"));
    }
    if v.len() <= TAG_VALUE_MAX {
        return v;
    }
    format!("t={at} addons#{}", addons_digest(addons))
}

pub(super) fn addons_digest(addons: &BTreeMap<String, String>) -> String {
    let text: Vec<String> = addons.iter().map(|(k, v)| format!("{k}={v}")).collect();
    digest(text.join(" ").as_bytes())[..16].to_string()
}

/// A parsed transition record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// When the hop completed.
    pub at: i64,
    /// Add-on versions after it, when listed.
    pub addons: BTreeMap<String, String>,
    /// The digest of the add-on list, when it did not fit.
    pub addons_digest: Option<String>,
}

/// Read a transition record's value.
pub fn parse_transition(value: &str) -> Option<Transition> {
    let mut parts = value.split_whitespace();
    let at = parts.next()?.strip_prefix("t=")?.parse().ok()?;
    let mut t = Transition {
        at,
        addons: BTreeMap::new(),
        addons_digest: None,
    };
    for p in parts {
        if let Some(d) = p.strip_prefix("addons#") {
            t.addons_digest = Some(d.to_string());
        } else if let Some((k, v)) = p.split_once('=') {
            t.addons.insert(k.to_string(), v.to_string());
        }
    }
    Some(t)
}

/// The hop a cluster is in the middle of, from its `keelson.dev/upgrading` tag.
pub fn in_progress_hop(tags: &Tags) -> Option<(Minor, Minor)> {
    let (from, to) = tags.get(UPGRADING_TAG)?.split_once('-')?;
    Some((from.parse().ok()?, to.parse().ok()?))
}

/// Transition tags beyond the newest `keep`, to remove when a new one is written (EKS
/// allows 50 tags per resource).
pub fn stale_transitions(tags: &Tags, keep: usize) -> Vec<String> {
    let mut keys: Vec<(Minor, String)> = tags
        .keys()
        .filter_map(|k| {
            let rest = k.strip_prefix(TRANSITION_TAG_PREFIX)?;
            let to = rest.split_once('-')?.1.parse::<Minor>().ok()?;
            Some((to, k.clone()))
        })
        .collect();
    keys.sort();
    let n = keys.len().saturating_sub(keep);
    keys.into_iter().take(n).map(|(_, k)| k).collect()
}

/// The Cluster annotation that waives the stage gate's need for this cluster's record of
/// the transitions it lists (`1.34-1.35`, comma-separated): for an earlier-stage cluster
/// that runs past a transition it never ran under keelson.
pub const WAIVE_ANNOTATION: &str = "keelson.dev/waive-stage-record";

/// `1.34-1.35` of a transition tag key.
pub(super) fn key_suffix(key: &str) -> &str {
    key.strip_prefix(TRANSITION_TAG_PREFIX).unwrap_or(key)
}

/// Whether a tag key is one keelson keeps for upgrades (never drift).
pub fn is_upgrade_tag(key: &str) -> bool {
    key == UPGRADING_TAG
        || key.starts_with(TRANSITION_TAG_PREFIX)
        || key.starts_with(ROLLBACK_TAG_PREFIX)
}

/// The prefix of the tag recording a completed rollback.
pub const ROLLBACK_TAG_PREFIX: &str = "keelson.dev/rolled-back-";

/// The tag key recording a completed rollback `from → to` (`to` one minor below).
pub fn rollback_key(from: &str, to: &str) -> String {
    format!("{ROLLBACK_TAG_PREFIX}{from}-{to}")
}

/// When the rollback window of the hop `from → to` closes, from the cluster's record of
/// it (seconds since the epoch); `None` without a record.
pub fn rollback_window_closes(tags: &Tags, from: Minor, to: Minor) -> Option<(i64, i64)> {
    let record = parse_transition(tags.get(&transition_key(&from.to_string(), &to.to_string()))?)?;
    Some((record.at, record.at + versions::ROLLBACK_WINDOW_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_values_round_trip_and_fall_back_to_a_digest() {
        let addons: BTreeMap<String, String> = [
            ("coredns".to_string(), "v1.11.4-eksbuild.2".to_string()),
            ("vpc-cni".to_string(), "v1.20.4-eksbuild.1".to_string()),
        ]
        .into();
        let v = transition_value(1_795_392_000, &addons);
        assert_eq!(
            v,
            "t=1795392000 coredns=v1.11.4-eksbuild.2 vpc-cni=v1.20.4-eksbuild.1"
        );
        let t = parse_transition(&v).unwrap_or_else(|| unreachable!());
        assert_eq!(t.at, 1_795_392_000);
        assert_eq!(t.addons, addons);
        let many: BTreeMap<String, String> = (0..20)
            .map(|i| (format!("addon-number-{i}"), format!("v1.{i}.0-eksbuild.1")))
            .collect();
        let v = transition_value(5, &many);
        assert!(v.len() <= 256, "{v}");
        let t = parse_transition(&v).unwrap_or_else(|| unreachable!());
        assert_eq!(t.addons_digest.as_deref(), Some(&addons_digest(&many)[..]));
    }

    #[test]
    fn only_the_newest_transition_tags_are_kept() {
        let tags: Tags = [
            ("team".to_string(), "a".to_string()),
            (transition_key("1.31", "1.32"), "t=1".to_string()),
            (transition_key("1.32", "1.33"), "t=2".to_string()),
            (transition_key("1.33", "1.34"), "t=3".to_string()),
            (transition_key("1.9", "1.10"), "t=0".to_string()),
        ]
        .into();
        assert_eq!(
            stale_transitions(&tags, 2),
            vec![
                transition_key("1.9", "1.10"),
                transition_key("1.31", "1.32")
            ]
        );
        assert!(is_upgrade_tag(UPGRADING_TAG));
        assert!(!is_upgrade_tag("team"));
    }
}
