//! The events a sync produces, the bodies sent, the rate limit and the commit state.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::*;
use crate::daemon::report::ApplyRecord;
use crate::daemon::status::Counts;

fn cx(source_changed: bool) -> Context<'static> {
    Context {
        fleet: "acme",
        revision: "0123456789abcdef0123456789abcdef01234567",
        source_changed,
        time: "2026-11-23T02:00:00Z",
    }
}

fn status(state: ClusterState) -> ClusterStatus {
    ClusterStatus {
        stage: "prod".into(),
        region: "us-east-1".into(),
        state,
        fingerprint: "fp1".into(),
        ..ClusterStatus::default()
    }
}

fn one(name: &str, s: ClusterStatus) -> BTreeMap<String, ClusterStatus> {
    BTreeMap::from([(name.to_string(), s)])
}

fn kinds(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

#[test]
fn a_cluster_about_to_be_applied_starts_an_apply() {
    let mut s = status(ClusterState::Applying);
    s.plan = Counts {
        update: 3,
        ..Counts::default()
    };
    s.hop = Some(Hop {
        from: "1.31".into(),
        to: "1.32".into(),
    });
    let e = planned(&cx(true), &BTreeMap::new(), &one("a", s));
    assert_eq!(kinds(&e), ["applyStarted"]);
    assert_eq!(e[0].steps, Some(3));
    assert_eq!(e[0].summary, "a: applying 3 steps (upgrade 1.31 → 1.32)");
    assert_eq!(e[0].id.len(), 24);
}

#[test]
fn blocked_is_news_once_until_the_gates_change() {
    let mut s = status(ClusterState::Blocked);
    s.blocked = vec!["flowschema v1beta3 is gone in 1.32".into()];
    let first = planned(&cx(true), &BTreeMap::new(), &one("a", s.clone()));
    assert_eq!(kinds(&first), ["clusterBlocked"]);
    assert_eq!(first[0].reasons, s.blocked);
    // The same gates on the next sync: nothing new.
    assert!(planned(&cx(false), &one("a", s.clone()), &one("a", s.clone())).is_empty());
    let mut other = s.clone();
    other.blocked.push("a second gate".into());
    assert_eq!(
        kinds(&planned(&cx(false), &one("a", s), &one("a", other))),
        ["clusterBlocked"]
    );
}

#[test]
fn drift_is_changes_without_a_new_revision() {
    let clean = status(ClusterState::Converged);
    let mut drifted = status(ClusterState::Pending);
    drifted.drift = true;
    drifted.plan.update = 1;
    drifted.steps = vec!["~ NodeGroup general".into()];
    let e = planned(
        &cx(false),
        &one("a", clean.clone()),
        &one("a", drifted.clone()),
    );
    assert_eq!(kinds(&e), ["driftFound"]);
    assert_eq!(e[0].reasons, ["~ NodeGroup general"]);
    // A new commit's changes are not drift, nor is drift already reported.
    assert!(planned(&cx(true), &one("a", clean), &one("a", drifted.clone())).is_empty());
    assert!(planned(&cx(false), &one("a", drifted.clone()), &one("a", drifted)).is_empty());
}

#[test]
fn a_hop_is_held_then_released() {
    let hop = Some(Hop {
        from: "1.34".into(),
        to: "1.35".into(),
    });
    let mut held = status(ClusterState::Pending);
    held.hop = hop.clone();
    held.held = Some("staging has not soaked 6h".into());
    let e = planned(&cx(true), &BTreeMap::new(), &one("p", held.clone()));
    assert_eq!(kinds(&e), ["hopHeld"]);
    assert_eq!(
        e[0].summary,
        "p: upgrade 1.34 → 1.35 held: staging has not soaked 6h"
    );
    let mut go = status(ClusterState::Applying);
    go.hop = hop;
    let e = planned(&cx(false), &one("p", held), &one("p", go));
    assert_eq!(kinds(&e), ["applyStarted", "hopReleased"]);
    assert_eq!(e[1].summary, "p: upgrade 1.34 → 1.35 may proceed");
}

fn record(error: Option<&str>) -> ApplyRecord {
    ApplyRecord {
        cluster: "a".into(),
        revision: "r".into(),
        started_at: "2026-11-23T02:00:00Z".into(),
        finished_at: "2026-11-23T02:10:00Z".into(),
        steps_done: 2,
        steps_total: 5,
        result: if error.is_some() { "failed" } else { "ok" },
        error: error.map(str::to_string),
    }
}

#[test]
fn applies_finish_or_fail_and_a_gate_found_after_an_apply_is_news() {
    let before = one("a", status(ClusterState::Applying));
    let mut ok = status(ClusterState::Blocked);
    ok.last_apply = Some(record(None));
    ok.blocked = vec!["gate".into()];
    let e = applied(&cx(true), &before, &one("a", ok));
    assert_eq!(kinds(&e), ["applyFinished", "clusterBlocked"]);
    assert_eq!(e[0].summary, "a: applied 2 steps, now blocked");
    let mut bad = status(ClusterState::Failed);
    bad.last_apply = Some(record(Some("AccessDenied")));
    let e = applied(&cx(true), &before, &one("a", bad));
    assert_eq!(kinds(&e), ["applyFailed"]);
    assert_eq!(e[0].reasons, ["AccessDenied"]);
    // Not applied this sync: nothing.
    assert!(applied(&cx(true), &before, &one("a", status(ClusterState::Pending))).is_empty());
}

#[test]
fn the_same_news_has_the_same_id_and_other_news_another() {
    let mut s = status(ClusterState::Blocked);
    s.blocked = vec!["gate".into()];
    let a = planned(&cx(true), &BTreeMap::new(), &one("a", s.clone()));
    let b = planned(&cx(false), &BTreeMap::new(), &one("a", s.clone()));
    assert_eq!(a[0].id, b[0].id, "the same gates on the same revision");
    let c = planned(&cx(true), &BTreeMap::new(), &one("b", s.clone()));
    assert_ne!(a[0].id, c[0].id, "another cluster");
    let other_rev = Context {
        revision: "ffffffffffffffffffffffffffffffffffffffff",
        ..cx(true)
    };
    let d = planned(&other_rev, &BTreeMap::new(), &one("a", s));
    assert_ne!(a[0].id, d[0].id, "another revision");
}

#[test]
fn bodies_carry_the_event_and_the_count_left_out() {
    let mut s = status(ClusterState::Blocked);
    s.blocked = vec!["g1".into(), "g2".into()];
    let e = &planned(&cx(true), &BTreeMap::new(), &one("a", s))[0];
    let w = webhook_body(e, 3);
    assert_eq!(w["schemaVersion"], 1);
    assert_eq!(w["type"], "clusterBlocked");
    assert_eq!(w["id"], e.id.as_str());
    assert_eq!(w["suppressed"], 3);
    assert_eq!(w["reasons"][1], "g2");
    let sl = slack_body(Some(e), "acme", 3);
    let text = sl["text"].as_str().unwrap();
    assert!(
        text.starts_with("[keelson acme] a: blocked by 2 gates"),
        "{text}"
    );
    assert!(text.contains("\n• g1\n• g2"), "{text}");
    assert!(
        text.ends_with("(3 events were not sent: over this target's rate limit)"),
        "{text}"
    );
    let only = slack_body(None, "acme", 1);
    assert_eq!(
        only["text"],
        "[keelson acme] (1 event was not sent: over this target's rate limit)"
    );
    assert_eq!(webhook_suppressed_body("acme", 4, "t")["suppressed"], 4);
}

#[test]
fn a_bucket_gives_its_burst_then_refills_at_its_rate() {
    let t0 = Instant::now();
    let mut b = Bucket::new(2, 60, t0);
    assert!(b.take(t0));
    assert!(b.take(t0));
    assert!(!b.take(t0));
    assert_eq!(b.wait(t0), Duration::from_secs(1));
    assert!(!b.take(t0 + Duration::from_millis(900)));
    assert!(b.take(t0 + Duration::from_millis(1000)));
    // Never more than the burst, however long it rested.
    let later = t0 + Duration::from_secs(3600);
    assert!(b.take(later) && b.take(later) && !b.take(later));
}

#[test]
fn backoff_doubles_and_is_bounded() {
    let base = Duration::from_millis(500);
    assert_eq!(backoff(base, 1), base);
    assert_eq!(backoff(base, 3), Duration::from_secs(2));
    assert_eq!(backoff(base, 40), Duration::from_secs(60));
}

#[test]
fn commit_states_follow_the_sync() {
    assert_eq!(
        commit_state(SyncResult::Applying(2)).0,
        CommitState::Pending
    );
    assert_eq!(commit_state(SyncResult::Done(0)).0, CommitState::Success);
    assert_eq!(commit_state(SyncResult::Done(2)).0, CommitState::Pending);
    assert_eq!(commit_state(SyncResult::Done(3)).0, CommitState::Failure);
    assert_eq!(commit_state(SyncResult::Done(1)).0, CommitState::Failure);
    assert_eq!(commit_state(SyncResult::Invalid).0, CommitState::Failure);
    let long = "x".repeat(300);
    let (s, d) = commit_state(SyncResult::Error(&long));
    assert_eq!((s, d.chars().count()), (CommitState::Error, 140));
}

#[test]
fn github_repositories_are_read_from_their_remote_urls() {
    for url in [
        "https://github.com/acme/fleet.git",
        "https://github.com/acme/fleet",
        "git@github.com:acme/fleet.git",
        "ssh://git@github.com/acme/fleet.git",
    ] {
        assert_eq!(
            github_repository(url).as_deref(),
            Some("acme/fleet"),
            "{url}"
        );
    }
    for url in [
        "https://gitlab.com/acme/fleet.git",
        "file:///tmp/remote.git",
        "https://github.com/acme",
        "https://github.com/acme/fleet/tree/main",
    ] {
        assert_eq!(github_repository(url), None, "{url}");
    }
}
