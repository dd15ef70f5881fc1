//! `upgrade.nodes: bake` on the simulator: managed node groups stay one minor behind the
//! control plane after a hop, catch up before the next hop (the simulator refuses a
//! control-plane update while a node group is behind, as EKS does), move once the stage's
//! soak has passed, and a rollback within the soak needs no node step.

use std::path::Path;

use keelson::adapters::sim::Sim;
use keelson::config::Loaded;
use keelson::model::live::UpdateType;
use keelson::model::NodeUpgrade;
use keelson::plan::{ClusterPlan, Plan};

use crate::simkit::*;
use crate::upgrade::{apply_plan, at_version, cluster, example, load, only, step_lines};

const STAGING: &str = "staging-euw1";
const HOUR: i64 = 3600;

/// The example with stage staging (soak 6h) baking its nodes, and prod-use1's removed-API
/// manifest left out.
fn baking_example(root: &Path) -> Loaded {
    std::fs::remove_file(root.join("clusters/prod-use1/manifests/flow-schema.yaml")).unwrap();
    let fleet = root.join("keelson.yaml");
    let text = std::fs::read_to_string(&fleet).unwrap().replace(
        "      soak: 6h\n",
        "      soak: 6h\n      upgrade:\n        nodes: bake\n",
    );
    std::fs::write(&fleet, text).unwrap();
    let l = load(root);
    let spec = &l.repo.fleet.as_ref().unwrap().value.spec;
    assert_eq!(spec.node_upgrade("staging"), NodeUpgrade::Bake);
    assert_eq!(spec.node_upgrade("prod"), NodeUpgrade::Follow);
    l
}

fn with_staging_at(l: &Loaded, version: &str) -> Loaded {
    let mut l = l.clone();
    for c in &mut l.repo.clusters {
        if c.name() == STAGING {
            c.cluster.value.spec.version = version.to_string();
        }
    }
    l
}

/// (control plane, node group `general`) versions of staging on the simulator.
fn versions(sim: &Sim) -> (String, String) {
    let s = &sim.snapshot().clusters[STAGING];
    (
        s.live.version.clone(),
        s.node_groups["general"]
            .live
            .spec
            .version
            .clone()
            .unwrap_or_default(),
    )
}

/// Staging's part of `plan`, and its step lines.
fn staging(plan: &Plan) -> (&ClusterPlan, Vec<String>) {
    let c = cluster(plan, STAGING);
    (c, step_lines(c))
}

/// Asserts that one of `lines` contains every one of `parts`.
fn says(lines: &[String], parts: &[&str]) {
    assert!(
        lines.iter().any(|l| parts.iter().all(|p| l.contains(p))),
        "no line has {parts:?}: {lines:#?}"
    );
}

/// The baking example with every cluster created at `version` on a fresh simulator.
async fn baking_at(version: &str) -> (tempfile::TempDir, Loaded, Sim) {
    let (dir, root) = example();
    let repo = baking_example(&root);
    let sim = sim();
    converge(&sim, &at_version(&repo, version)).await;
    (dir, repo, sim)
}

fn node_updates(sim: &Sim) -> usize {
    sim.snapshot().clusters[STAGING]
        .updates
        .iter()
        .filter(|u| u.update.update_type == UpdateType::NodegroupVersionUpdate)
        .count()
}

#[tokio::test]
async fn two_hops_with_bake_keep_node_groups_one_minor_behind_until_the_soak_passes() {
    let (_d, repo, sim) = baking_at("1.33").await;

    // Hop 1: the control plane moves, the node group stays and the plan says why.
    let plan = plan_for(&sim, &with_staging_at(&repo, "1.34")).await;
    let (c, steps) = staging(&plan);
    assert_eq!(
        steps,
        [
            "Cluster staging-euw1 version 1.33→1.34",
            "Addon kube-proxy version v1.33.0-eksbuild.1→v1.34.0-eksbuild.1",
            "Cluster staging-euw1 tags.keelson.dev/upgraded-1.33-1.34 →t=<completion",
        ]
    );
    says(
        &c.notes,
        &[
            "node group(s) general bake at 1.33",
            "once the soak of 6h has passed",
        ],
    );
    says(
        &c.held,
        &["node group general bakes at 1.33 after the hop to 1.34"],
    );
    apply_plan(&sim, &only(&plan, STAGING)).await;
    assert_eq!(versions(&sim), ("1.34".into(), "1.33".into()));

    // Within the soak: nothing to do, held until the soak ends.
    let done = sim_now(&sim);
    let plan = plan_for(&sim, &with_staging_at(&repo, "1.34")).await;
    let c = cluster(&plan, STAGING);
    assert!(c.steps.is_empty(), "{:?}", step_lines(c));
    says(
        &c.held,
        &[
            "node group general bakes at 1.33 until",
            "a rollback to 1.33 needs no node step",
        ],
    );

    // Hop 2 before the soak ends: the node group catches up to 1.34 first (EKS refuses the
    // control-plane update otherwise), then stays at 1.34 after the hop to 1.35.
    let plan = plan_for(&sim, &with_staging_at(&repo, "1.35")).await;
    let (c, steps) = staging(&plan);
    assert_eq!(
        steps,
        [
            "NodeGroup general version 1.33→1.34",
            "Addon coredns version v1.11.4-eksbuild.14→v1.12.3-eksbuild.1",
            "Cluster staging-euw1 version 1.34→1.35",
            "Addon kube-proxy version v1.34.0-eksbuild.1→v1.35.0-eksbuild.1",
            "Cluster staging-euw1 tags.keelson.dev/upgraded-1.34-1.35 →t=<completion",
        ]
    );
    says(
        &Vec::from_iter(c.steps[0].reason.clone()),
        &["moves to 1.34 before 1.34→1.35"],
    );
    apply_plan(&sim, &only(&plan, STAGING)).await;
    assert_eq!(versions(&sim), ("1.35".into(), "1.34".into()));
    assert!(sim_now(&sim) < done + 6 * HOUR);

    // Soaked: the node group follows the control plane, and the cluster converges.
    let record =
        sim.snapshot().clusters[STAGING].live.tags["keelson.dev/upgraded-1.34-1.35"].clone();
    let hop2: i64 = record[2..].split(' ').next().unwrap().parse().unwrap();
    // (Planning itself takes virtual minutes: it waits for a fresh insights refresh.)
    sim.advance_to(hop2 + 5 * HOUR);
    let c = plan_for(&sim, &repo).await;
    assert!(
        cluster(&c, STAGING).steps.is_empty(),
        "{:?}",
        step_lines(cluster(&c, STAGING))
    );
    sim.advance_to(hop2 + 6 * HOUR + 60);
    let plan = plan_for(&sim, &repo).await;
    let c = cluster(&plan, STAGING);
    assert!(c.held.is_empty(), "{:?}", c.held);
    assert_eq!(step_lines(c), vec!["NodeGroup general version 1.34→1.35"]);
    says(
        &Vec::from_iter(c.steps[0].reason.clone()),
        &["baked at 1.34 through stage staging's soak of 6h"],
    );
    apply_plan(&sim, &only(&plan, STAGING)).await;
    assert_eq!(versions(&sim), ("1.35".into(), "1.35".into()));
    let plan = plan_for(&sim, &repo).await;
    let c = cluster(&plan, STAGING);
    assert!(c.steps.is_empty() && c.held.is_empty(), "{:?}", c.held);

    // Prod (follow) gets the hops as before: its node group right after each one.
    assert_eq!(
        step_lines(cluster(&plan, "prod-euw1"))[..3],
        [
            "Cluster prod-euw1 version 1.33→1.34",
            "Addon kube-proxy version v1.33.0-eksbuild.1→v1.34.0-eksbuild.1",
            "NodeGroup general version 1.33→1.34",
        ]
    );
}

#[tokio::test]
async fn a_rollback_within_the_bake_needs_no_node_step() {
    let (_d, repo, sim) = baking_at("1.34").await;
    let plan = plan_for(&sim, &repo).await;
    apply_plan(&sim, &only(&plan, STAGING)).await;
    assert_eq!(versions(&sim), ("1.35".into(), "1.34".into()));
    let nodes_before = node_updates(&sim);

    // A problem found in the soak: git goes back one minor.
    let plan = plan_for(&sim, &with_staging_at(&repo, "1.34")).await;
    let (c, steps) = staging(&plan);
    // (A blocked plan has no steps: the list below says it is not.)
    assert_eq!(
        steps,
        [
            "Addon kube-proxy version v1.35.0-eksbuild.1→v1.34.0-eksbuild.1",
            "Cluster staging-euw1 version 1.35→1.34",
            "Cluster staging-euw1 tags.keelson.dev/rolled-back-1.35-1.34 →t=<completion",
        ]
    );
    says(&c.notes, &["the managed node groups baked at 1.34"]);
    apply_plan(&sim, &only(&plan, STAGING)).await;
    assert_eq!(versions(&sim), ("1.34".into(), "1.34".into()));
    assert_eq!(
        node_updates(&sim),
        nodes_before,
        "no node group was touched"
    );
    let plan = plan_for(&sim, &with_staging_at(&repo, "1.34")).await;
    let c = cluster(&plan, STAGING);
    assert!(c.steps.is_empty() && c.held.is_empty(), "{:?}", c.held);
}
