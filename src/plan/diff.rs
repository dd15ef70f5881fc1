//! Diff helpers: field-level changes between two normalised JSON views, and the tag
//! and marker rules every EKS resource shares.
//!
//! ```text
//!  live ─► view ─┐
//!                ├─► diff ─► Vec<Change>   (empty: nothing to do)
//!  spec ─► view ─┘
//! ```
//!
//! Each planner builds the same view of both sides (sorted lists, defaults filled in), so
//! that only a real difference yields a change.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::types::{Change, Op};
use super::upgrade;
use crate::model::live::MANAGED_TAG;
use crate::model::Tags;

/// Field-level differences between two JSON values. Objects are compared key by key;
/// arrays and scalars as a whole.
pub fn diff(before: &Value, after: &Value, path: &str, out: &mut Vec<Change>) {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff(x, y, &p, out),
                    (Some(x), None) if !x.is_null() => out.push(Change {
                        path: p,
                        before: Some(x.clone()),
                        after: None,
                    }),
                    (None, Some(y)) if !y.is_null() => out.push(Change {
                        path: p,
                        before: None,
                        after: Some(y.clone()),
                    }),
                    _ => {}
                }
            }
        }
        (a, b) if a != b => out.push(Change {
            path: path.to_string(),
            before: (!a.is_null()).then(|| a.clone()),
            after: (!b.is_null()).then(|| b.clone()),
        }),
        _ => {}
    }
}

/// Every change from `before` to `after`, paths from the root.
pub(crate) fn changes_of(before: &Value, after: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    diff(before, after, "", &mut out);
    out
}

/// A `version` change from `from` to `to`.
pub(crate) fn version_change(from: &str, to: &str) -> Change {
    Change {
        path: "version".into(),
        before: Some(json!(from)),
        after: Some(json!(to)),
    }
}

/// A list as a set: sorted, without repeats (EKS returns lists in any order).
pub(crate) fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

/// Live tags without the ones AWS adds and keelson's marker.
pub(crate) fn user_tags(t: &Tags) -> Tags {
    t.iter()
        .filter(|(k, _)| {
            !k.starts_with("aws:") && k.as_str() != MANAGED_TAG && !upgrade::is_upgrade_tag(k)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The part of a live resource's tags a plan reads: the user's tags and the marker.
pub(crate) fn tags_view(t: &Tags) -> Value {
    json!({"tags": user_tags(t), "marker": t.get(MANAGED_TAG)})
}

/// Whether a resource carries this fleet's marker, i.e. keelson created it and may delete
/// it once git no longer has it.
pub(crate) fn created_by(tags: &Tags, fleet: &str) -> bool {
    tags.get(MANAGED_TAG).map(String::as_str) == Some(fleet)
}

/// Desired tags plus this fleet's marker: what a create sends.
pub(crate) fn with_marker(t: &Tags, fleet: &str) -> Tags {
    let mut t = t.clone();
    t.insert(MANAGED_TAG.into(), fleet.into());
    t
}

/// Tag/untag ops that turn `live` into `desired` (both without the marker); the marker
/// is added when missing and `adopt` is set.
pub(crate) fn tag_ops(
    arn: &str,
    live: &Tags,
    desired: &Tags,
    (fleet, adopt): (&str, bool),
    changes: &mut Vec<Change>,
) -> Vec<Op> {
    let current = user_tags(live);
    let mut ops = Vec::new();
    let mut set: Tags = desired
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if adopt && !created_by(live, fleet) {
        set.insert(MANAGED_TAG.into(), fleet.into());
    }
    let remove: Vec<String> = current
        .keys()
        .filter(|k| !desired.contains_key(*k))
        .cloned()
        .collect();
    if set.keys().any(|k| k != MANAGED_TAG) || !remove.is_empty() {
        changes.extend(changes_of(
            &json!({"tags": current}),
            &json!({"tags": desired}),
        ));
    }
    if !set.is_empty() {
        ops.push(Op::TagResource {
            arn: arn.to_string(),
            tags: set,
        });
    }
    if !remove.is_empty() {
        ops.push(Op::UntagResource {
            arn: arn.to_string(),
            keys: remove,
        });
    }
    ops
}
