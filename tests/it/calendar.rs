//! The version calendar is advice on one cluster, never a reason to stop the fleet: a
//! minor newer than keelson's table, or a cluster past end of extended support, is a
//! warning on that cluster, and the daemon goes on syncing every other one.

use crate::daemon::{edit, keelson, once_json, s};
use crate::plan_cli::fleet;
use crate::util::out_and_err as text;

#[test]
fn a_version_outside_the_calendar_warns_and_the_daemon_syncs_the_other_clusters() {
    let (_d, repo) = fleet();
    // 1.37 is out upstream but not in keelson's built-in table; 1.30 left EKS extended
    // support on 2026-07-23.
    edit(
        &repo.join("clusters/prod-use1/cluster.yaml"),
        "version: \"1.34\"",
        "version: \"1.37\"",
    );
    edit(
        &repo.join("clusters/prod-apne1/cluster.yaml"),
        "version: \"1.34\"",
        "version: \"1.30\"",
    );
    let o = keelson(&["validate", "--repo", s(&repo)]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains(
            "warning[version-not-in-calendar]: Kubernetes 1.37 is not in keelson's calendar"
        ),
        "{out}"
    );
    assert!(
        out.contains("warning[unsupported-version]: Kubernetes 1.30 reached end of extended support on 2026-07-23"),
        "{out}"
    );

    // Exit 3: one cluster is blocked, and only that one, by what the simulated account
    // offers for it (no add-on build for 1.37), not by keelson's table.
    let (code, st, out) = once_json(&repo, &[]);
    assert_eq!(code, Some(3), "{out}");
    let c = &st["clusters"];
    assert_eq!(c["staging-apne1"]["state"], "converged", "{out}");
    assert_eq!(c["staging-apne1"]["appliedSteps"], 17, "{out}");
    assert_eq!(c["prod-use1"]["state"], "blocked", "{out}");
    assert!(c["prod-use1"]["blocked"][0]
        .as_str()
        .unwrap()
        .contains("no version of this add-on supports Kubernetes 1.37"));
    assert_eq!(c["prod-apne1"]["state"], "pending", "{out}");
}

/// Against a target, the support gate judges with the target's own calendar
/// (DescribeClusterVersions): a minor it does not list is one EKS does not offer, where
/// keelson's built-in table would only warn that it does not know it.
#[tokio::test]
async fn the_support_gate_judges_with_the_targets_describe_cluster_versions() {
    use keelson::plan::upgrade::{support_gate, Outcome};
    use keelson::versions::{Calendar, Date, Minor};

    use crate::simkit::{converge, plan_for, sim};

    let (_dir, root) = crate::upgrade::example();
    std::fs::remove_file(root.join("clusters/prod-use1/manifests/flow-schema.yaml")).unwrap();
    let at = |v: &str| {
        let mut l = keelson::sync::load_repo(&root, crate::util::TODAY).unwrap();
        for c in &mut l.repo.clusters {
            c.cluster.value.spec.version = v.to_string();
        }
        l
    };
    let sim = sim();
    converge(&sim, &at("1.36")).await;
    let calls = sim
        .calls()
        .get("DescribeClusterVersions")
        .copied()
        .unwrap_or(0);
    let plan = plan_for(&sim, &at("1.37")).await;
    assert_eq!(
        sim.calls()
            .get("DescribeClusterVersions")
            .copied()
            .unwrap_or(0),
        calls + 1,
        "read once per plan that judges a hop"
    );
    let staging = plan
        .clusters
        .iter()
        .find(|c| c.name == "staging-euw1")
        .unwrap();
    assert!(
        staging.blocked.iter().any(|b| b
            .message
            .contains("EKS does not offer Kubernetes 1.37: DescribeClusterVersions lists")),
        "{:#?}",
        staging.blocked
    );
    // The same minor judged offline, with the built-in table: a warning.
    let offline = support_gate(Minor::v1(37), Date::new(2026, 11, 23), &Calendar::builtin());
    assert_eq!(offline.outcome, Outcome::Warn);
}
