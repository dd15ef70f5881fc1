//! Sharding, the pure part: which replica owns which cluster, decided by rendezvous
//! (highest-random-weight) hashing over cluster names, and which replicas are alive.
//!
//! ```text
//!  member Leases (holder, renewTime, duration) ──live_members(now)──► [replica ids]
//!  [replica ids] × cluster name ──weight()──► owner = the replica with the highest weight
//! ```
//!
//! Every replica computes the same owner from the same member list, without talking to
//! the others: the weight of (replica, cluster) is a fixed hash of both names (FNV-1a
//! with a SplitMix64 finaliser, never Rust's per-process randomised hasher). When a
//! replica leaves, only its clusters move (each to the replica with the next-highest
//! weight); when one joins, it takes about 1/N of the clusters, each from its previous
//! owner, and nothing else moves (Thaler & Ravishankar, "Using name-based mappings to
//! increase hit rates", IEEE/ACM ToN 1998). No I/O here: the Lease adapter reads the
//! members, `daemon::shards` acts on the result.

use std::collections::BTreeSet;

/// FNV-1a, 64 bits (the offset basis and prime of the FNV specification,
/// draft-eastlake-fnv), over `parts` separated by a 0 byte (which no name contains), so
/// that ("ab", "c") and ("a", "bc") differ.
fn fnv1a(parts: &[&str]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            // A 0 byte: xor with 0 leaves `h` as it is, the multiplication remains.
            h = h.wrapping_mul(PRIME);
        }
        for b in p.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
    }
    h
}

/// SplitMix64's finaliser: FNV's low bits are weak for short, similar names (replica ids
/// differ in a few trailing digits), and rendezvous hashing compares whole weights.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The weight of `member` for `cluster`: the same on every replica, in every process.
pub fn weight(member: &str, cluster: &str) -> u64 {
    mix(fnv1a(&[member, cluster]))
}

/// The owner of `cluster` among `members`: the highest weight (ties, which a 64-bit hash
/// makes rare, go to the smaller id). `None` without members.
pub fn owner<'a>(members: &'a BTreeSet<String>, cluster: &str) -> Option<&'a str> {
    members
        .iter()
        .map(|m| (weight(m, cluster), std::cmp::Reverse(m.as_str())))
        .max()
        .map(|(_, std::cmp::Reverse(m))| m)
}

/// Owner of every cluster (for the tests' accounts of moved clusters).
#[cfg(test)]
fn assign<'a>(
    members: &'a BTreeSet<String>,
    clusters: impl IntoIterator<Item = &'a str>,
) -> std::collections::BTreeMap<&'a str, &'a str> {
    clusters
        .into_iter()
        .filter_map(|c| owner(members, c).map(|m| (c, m)))
        .collect()
}

/// The clusters of `clusters` that `me` owns among `members`.
pub fn owned_by(
    members: &BTreeSet<String>,
    me: &str,
    clusters: &BTreeSet<String>,
) -> BTreeSet<String> {
    clusters
        .iter()
        .filter(|c| owner(members, c) == Some(me))
        .cloned()
        .collect()
}

/// How many clusters have another owner in `after` than in `before`.
#[cfg(test)]
fn moved(
    before: &std::collections::BTreeMap<&str, &str>,
    after: &std::collections::BTreeMap<&str, &str>,
) -> usize {
    after
        .iter()
        .filter(|(c, m)| before.get(*c).is_some_and(|b| b != *m))
        .count()
}

/// One membership record as a member Lease carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
    /// The replica (`HOST/PID`).
    pub id: String,
    /// When it last renewed, unix seconds (wall clock).
    pub renewed: Option<i64>,
    /// Its `leaseDurationSeconds`.
    pub duration_secs: i64,
}

/// The members alive at `now` (unix seconds): renewed within their own duration plus
/// `skew` (clocks that disagree). A record without a renew time is not a member. `me`
/// always is: this replica runs, and its own record may not be written yet.
pub fn live_members(records: &[MemberRecord], now: i64, skew: i64, me: &str) -> BTreeSet<String> {
    let mut live: BTreeSet<String> = records
        .iter()
        .filter(|r| {
            r.renewed.is_some_and(|t| {
                now.saturating_sub(t) <= r.duration_secs.max(1).saturating_add(skew)
            })
        })
        .map(|r| r.id.clone())
        .collect();
    live.insert(me.to_string());
    live
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    fn clusters(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("cluster-{i:03}")).collect()
    }

    #[test]
    fn the_hash_is_stable_across_processes_and_separates_its_parts() {
        // Fixed values: a change of the hash would move every cluster of every fleet on
        // upgrade, so it must be deliberate.
        assert_eq!(fnv1a(&[""]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(&["a"]), 0xaf63_dc4c_8601_ec8c); // FNV-1a test vector
        assert_ne!(weight("ab", "c"), weight("a", "bc"));
        assert_eq!(
            weight("pod-a/1", "prod-use1"),
            weight("pod-a/1", "prod-use1")
        );
    }

    #[test]
    fn clusters_are_spread_evenly() {
        let m = members(&["keelson-0/1", "keelson-1/1", "keelson-2/1"]);
        let cs = clusters(3000);
        let a = assign(&m, cs.iter().map(String::as_str));
        assert_eq!(a.len(), 3000);
        for id in &m {
            let n = a.values().filter(|o| **o == id.as_str()).count();
            assert!((850..=1150).contains(&n), "{id} owns {n} of 3000");
        }
    }

    #[test]
    fn a_replica_leaving_moves_only_its_own_clusters() {
        let three = members(&["r-a/1", "r-b/2", "r-c/3"]);
        let two = members(&["r-a/1", "r-c/3"]);
        let cs = clusters(600);
        let before = assign(&three, cs.iter().map(String::as_str));
        let after = assign(&two, cs.iter().map(String::as_str));
        for (c, m) in &after {
            if before[c] != "r-b/2" {
                assert_eq!(before[c], *m, "{c} moved though its owner stayed");
            }
        }
        let departed = before.values().filter(|m| **m == "r-b/2").count();
        assert_eq!(moved(&before, &after), departed);
        assert!(departed > 150, "{departed}");
    }

    #[test]
    fn a_replica_joining_takes_about_a_quarter_from_three_and_nothing_else_moves() {
        let three = members(&["r-a/1", "r-b/2", "r-c/3"]);
        let four = members(&["r-a/1", "r-b/2", "r-c/3", "r-d/4"]);
        let cs = clusters(1000);
        let before = assign(&three, cs.iter().map(String::as_str));
        let after = assign(&four, cs.iter().map(String::as_str));
        // Every move goes to the newcomer.
        for (c, m) in &after {
            if before[c] != *m {
                assert_eq!(*m, "r-d/4", "{c} moved between old replicas");
            }
        }
        let n = moved(&before, &after);
        assert!(
            (200..=300).contains(&n),
            "{n} of 1000 moved, about 250 expected"
        );
    }

    #[test]
    fn ownership_is_a_partition_and_no_cluster_is_unowned() {
        let m = members(&["a/1", "b/2", "c/3"]);
        let cs: BTreeSet<String> = clusters(60).into_iter().collect();
        let mut union = BTreeSet::new();
        for id in &m {
            let mine = owned_by(&m, id, &cs);
            assert!(union.is_disjoint(&mine));
            union.extend(mine);
        }
        assert_eq!(union, cs);
        assert!(owner(&BTreeSet::new(), "x").is_none());
    }

    #[test]
    fn members_are_those_renewed_within_duration_and_skew() {
        let rec = |id: &str, renewed: Option<i64>| MemberRecord {
            id: id.into(),
            renewed,
            duration_secs: 6,
        };
        let records = [
            rec("fresh/1", Some(1000)),
            rec("edge/2", Some(992)),
            rec("gone/3", Some(991)),
            rec("never/4", None),
        ];
        let live = live_members(&records, 1000, 2, "me/9");
        assert_eq!(live, members(&["edge/2", "fresh/1", "me/9"]));
    }
}
