//! Staged version upgrades on the simulator: hop order, gates, stages and soak, blocking
//! and unblocking, and resuming a hop interrupted by a crash.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;

use keelson::apply::{self, ApplyOptions, Quiet};
use keelson::config::Loaded;
use keelson::model::live::{Insight, InsightStatus, UpdateType, UPGRADING_TAG};
use keelson::plan::{ClusterPlan, Op, Plan};

use crate::simkit::*;
use crate::util::TODAY;

/// A Helm 3 release record (a Secret, as Helm stores it) for `release` in namespace `ns`.
fn helm_secret(name: &str, ns: &str, release: &serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": name, "namespace": ns,
                     "labels": {"owner": "helm", "status": "deployed"}},
        "data": {"release": crate::deprecations::secret_data(release)}
    })
}

/// A copy of examples/upgrade in a temp dir.
pub(crate) fn example() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("upgrade");
    crate::plan_cli::copy(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/upgrade")),
        &root,
    );
    (dir, root)
}

pub(crate) fn load(root: &Path) -> Loaded {
    let l = keelson::sync::load_repo(root, TODAY).unwrap();
    assert!(l.is_valid(), "{:?}", l.diagnostics);
    l
}

/// The repo as it was when every cluster ran `version`.
pub(crate) fn at_version(l: &Loaded, version: &str) -> Loaded {
    let mut l = l.clone();
    for c in &mut l.repo.clusters {
        c.cluster.value.spec.version = version.to_string();
    }
    l
}

pub(crate) fn cluster<'p>(plan: &'p Plan, name: &str) -> &'p ClusterPlan {
    plan.clusters.iter().find(|c| c.name == name).unwrap()
}

/// `Kind name: before→after` of the first change of each step.
pub(crate) fn step_lines(c: &ClusterPlan) -> Vec<String> {
    c.steps
        .iter()
        .map(|s| {
            let ch = s.changes.first().map_or(String::new(), |c| {
                let v = |x: &Option<serde_json::Value>| {
                    x.as_ref()
                        .and_then(|v| v.as_str())
                        .map(|s| s.split(' ').next().unwrap_or("").to_string())
                        .unwrap_or_default()
                };
                format!(" {} {}→{}", c.path, v(&c.before), v(&c.after))
            });
            format!("{} {}{ch}", s.resource.kind, s.resource.name)
        })
        .collect()
}

pub(crate) fn only(plan: &Plan, name: &str) -> Plan {
    let mut p = plan.clone();
    p.clusters.retain(|c| c.name == name);
    p
}

pub(crate) async fn apply_plan(sim: &keelson::adapters::sim::Sim, plan: &Plan) {
    let report = apply::apply(&ports(sim), plan, ApplyOptions::default(), Arc::new(Quiet)).await;
    assert!(report.ok(), "{report:?}");
}

fn version_updates(sim: &keelson::adapters::sim::Sim, name: &str) -> Vec<String> {
    sim.snapshot().clusters[name]
        .updates
        .iter()
        .filter(|u| u.update.update_type == UpdateType::VersionUpdate)
        .map(|u| u.update.params.get("Version").cloned().unwrap_or_default())
        .collect()
}

const HOUR: i64 = 3600;

#[tokio::test]
async fn staging_upgrades_first_prod_waits_for_the_soak_and_a_removed_api_blocks() {
    let (_d, root) = example();
    let repo = load(&root);
    let sim = sim();
    converge(&sim, &at_version(&repo, "1.33")).await;

    let plan = plan_for(&sim, &repo).await;
    let staging_steps = step_lines(cluster(&plan, "staging-euw1"));
    // Staging: one minor per hop, control plane → add-ons → node groups → record.
    assert_eq!(
        staging_steps,
        vec![
            "Cluster staging-euw1 version 1.33→1.34",
            "Addon kube-proxy version v1.33.0-eksbuild.1→v1.34.0-eksbuild.1",
            "NodeGroup general version 1.33→1.34",
            "Cluster staging-euw1 tags.keelson.dev/upgraded-1.33-1.34 →t=<completion",
            // coredns v1.12.3 runs on 1.34 and 1.35: before the control plane;
            // kube-proxy is built per minor: after it.
            "Addon coredns version v1.11.4-eksbuild.14→v1.12.3-eksbuild.1",
            "Cluster staging-euw1 version 1.34→1.35",
            "Addon kube-proxy version v1.34.0-eksbuild.1→v1.35.0-eksbuild.1",
            "NodeGroup general version 1.34→1.35",
            "Cluster staging-euw1 tags.keelson.dev/upgraded-1.34-1.35 →t=<completion",
        ]
    );
    // Prod waits for staging; the cluster with a removed API is blocked, naming the file.
    let prod = cluster(&plan, "prod-euw1");
    assert!(prod.steps.is_empty());
    assert!(
        prod.held[0].contains(
            "waiting for stage staging: cluster staging-euw1 has not completed 1.33→1.34 yet"
        ),
        "{:?}",
        prod.held
    );
    let blocked = cluster(&plan, "prod-use1");
    assert!(blocked.steps.is_empty());
    let why = &blocked.blocked[0].message;
    assert!(
        why.contains("clusters/prod-use1/manifests/flow-schema.yaml:5: FlowSchema batch-jobs uses flowcontrol.apiserver.k8s.io/v1beta3, which Kubernetes 1.34 no longer serves (removed in 1.32)")
            && why.contains("change it to flowcontrol.apiserver.k8s.io/v1 FlowSchema"),
        "{why}"
    );

    // Staging upgrades; its records are on its EKS tags.
    apply_plan(&sim, &only(&plan, "staging-euw1")).await;
    let done_at = sim_now(&sim);
    let state = sim.snapshot();
    let staging = &state.clusters["staging-euw1"].live;
    assert_eq!(staging.version, "1.35");
    assert!(staging.tags["keelson.dev/upgraded-1.33-1.34"].starts_with("t="));
    assert!(
        staging.tags["keelson.dev/upgraded-1.34-1.35"].contains("kube-proxy=v1.35.0-eksbuild.1")
    );
    assert!(!staging.tags.contains_key(UPGRADING_TAG));
    assert_eq!(version_updates(&sim, "staging-euw1"), vec!["1.34", "1.35"]);

    // Prod now waits for the soak, and says until when.
    let plan = plan_for(&sim, &repo).await;
    let prod = cluster(&plan, "prod-euw1");
    assert!(prod.steps.is_empty());
    assert!(
        prod.held[0].contains("stage staging is soaking")
            && prod.held[0].contains("the soak of 6h ends"),
        "{:?}",
        prod.held
    );
    assert!(plan.is_held());
    sim.advance_to(done_at + 5 * HOUR);
    assert!(!cluster(&plan_for(&sim, &repo).await, "prod-euw1")
        .held
        .is_empty());

    // Soaked: prod gets the same hops with the same add-on versions.
    sim.advance_to(done_at + 6 * HOUR + 1);
    let plan = plan_for(&sim, &repo).await;
    let prod = cluster(&plan, "prod-euw1");
    assert!(prod.held.is_empty(), "{:?}", prod.held);
    let expected: Vec<String> = staging_steps
        .iter()
        .map(|l| l.replace("staging-euw1", "prod-euw1"))
        .collect();
    assert_eq!(step_lines(prod), expected);
    assert!(cluster(&plan, "prod-use1").steps.is_empty());

    // The manifest fixed in git: prod-use1 goes ahead too.
    let policy = root.join("clusters/prod-use1/manifests/flow-schema.yaml");
    let text = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(
        &policy,
        text.replace(
            "flowcontrol.apiserver.k8s.io/v1beta3",
            "flowcontrol.apiserver.k8s.io/v1",
        ),
    )
    .unwrap();
    let fixed = load(&root);
    let plan = plan_for(&sim, &fixed).await;
    assert!(cluster(&plan, "prod-use1").blocked.is_empty());
    assert_eq!(cluster(&plan, "prod-use1").steps.len(), 9);
    converge(&sim, &fixed).await;
    let state = sim.snapshot();
    for name in ["staging-euw1", "prod-euw1", "prod-use1"] {
        assert_eq!(state.clusters[name].live.version, "1.35", "{name}");
        assert_eq!(version_updates(&sim, name), vec!["1.34", "1.35"], "{name}");
    }
    assert!(!plan_for(&sim, &fixed).await.has_changes());
}

#[tokio::test]
async fn a_hop_interrupted_mid_update_is_resumed_without_issuing_it_again() {
    let (_d, root) = example();
    let repo = load(&root);
    let sim = sim();
    converge(&sim, &at_version(&repo, "1.33")).await;
    let p = ports(&sim);
    // What apply had done when the process died: the in-progress tag, then the update.
    let arn = sim.snapshot().clusters["staging-euw1"].live.arn.clone();
    p.eks
        .tag_resource(
            &arn,
            &[(UPGRADING_TAG.to_string(), "1.33-1.34".to_string())].into(),
        )
        .await
        .unwrap();
    p.eks
        .update_cluster_version("staging-euw1", "1.34")
        .await
        .unwrap();

    // Restarted: the plan waits for the running update and never issues it again.
    let plan = plan_for(&sim, &repo).await;
    let staging = cluster(&plan, "staging-euw1");
    assert!(
        staging
            .waits
            .iter()
            .any(|w| w.contains("VersionUpdate to 1.34")),
        "{:?}",
        staging.waits
    );
    let versions: Vec<&str> = staging
        .steps
        .iter()
        .flat_map(|s| &s.ops)
        .filter_map(|o| match o {
            Op::UpdateClusterVersion { version } => Some(version.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(versions, vec!["1.35"]);
    assert!(staging
        .notes
        .iter()
        .any(|n| n.contains("finishing the 1.33→1.34 upgrade")));
    assert_eq!(
        step_lines(staging)[..3],
        [
            "Addon kube-proxy version v1.33.0-eksbuild.1→v1.34.0-eksbuild.1",
            "NodeGroup general version 1.33→1.34",
            "Cluster staging-euw1 tags.keelson.dev/upgraded-1.33-1.34 →t=<completion",
        ]
    );

    // Interrupted again after the control plane of the next hop finished: apply only the
    // steps up to it, then plan again.
    let cut = staging
        .steps
        .iter()
        .position(|s| {
            s.ops
                .iter()
                .any(|o| matches!(o, Op::UpdateClusterVersion { .. }))
        })
        .unwrap();
    let mut partial = only(&plan, "staging-euw1");
    partial.clusters[0].steps.truncate(cut + 1);
    apply_plan(&sim, &partial).await;
    let state = sim.snapshot();
    assert_eq!(state.clusters["staging-euw1"].live.version, "1.35");
    assert_eq!(
        state.clusters["staging-euw1"].live.tags[UPGRADING_TAG],
        "1.34-1.35"
    );
    let plan = plan_for(&sim, &repo).await;
    assert_eq!(
        step_lines(cluster(&plan, "staging-euw1")),
        vec![
            // coredns moved before the control plane, so only what follows it is left.
            "Addon kube-proxy version v1.34.0-eksbuild.1→v1.35.0-eksbuild.1",
            "NodeGroup general version 1.34→1.35",
            "Cluster staging-euw1 tags.keelson.dev/upgraded-1.34-1.35 →t=<completion",
        ]
    );
    apply_plan(&sim, &only(&plan, "staging-euw1")).await;
    assert_eq!(version_updates(&sim, "staging-euw1"), vec!["1.34", "1.35"]);
    let state = sim.snapshot();
    let tags = &state.clusters["staging-euw1"].live.tags;
    assert!(tags.contains_key("keelson.dev/upgraded-1.33-1.34"));
    assert!(tags.contains_key("keelson.dev/upgraded-1.34-1.35"));
    assert!(!tags.contains_key(UPGRADING_TAG));
}

#[tokio::test]
async fn live_signals_block_a_hop_helm_records_insights_and_old_kubelets() {
    let (_d, root) = example();
    let policy = root.join("clusters/prod-use1/manifests/flow-schema.yaml");
    std::fs::remove_file(&policy).unwrap();
    let repo = load(&root);
    let sim = sim();
    converge(&sim, &at_version(&repo, "1.33")).await;
    // Staging is not part of this test: let the stage gate pass.
    let mut state = sim.snapshot();
    for hop in ["1.33-1.34", "1.34-1.35"] {
        state
            .clusters
            .get_mut("staging-euw1")
            .unwrap()
            .live
            .tags
            .insert(format!("keelson.dev/upgraded-{hop}"), "t=0".to_string());
    }
    let c = state.clusters.get_mut("prod-use1").unwrap();
    // A Helm release whose chart still renders a PodSecurityPolicy (removed in 1.25).
    let release = json!({
        "name": "legacy", "namespace": "ops", "version": 7, "info": {"status": "deployed"},
        "chart": {"metadata": {"name": "legacy", "version": "0.9.0"}},
        "manifest": "---\napiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata:\n  name: legacy\n",
        "hooks": []
    });
    c.kube.insert(
        "Secret/sh.helm.release.v1.legacy.v7".into(),
        helm_secret("sh.helm.release.v1.legacy.v7", "ops", &release),
    );
    // A self-managed node that would be 3 minors behind after the hop to 1.34.
    c.kube.insert(
        "Node/ip-10-0-1-7".into(),
        json!({"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": "ip-10-0-1-7", "labels": {"kubernetes.io/os": "linux"}},
               "status": {"nodeInfo": {"kubeletVersion": "v1.31.4-eks-1234"}}}),
    );
    // A managed node group's node is EKS's to move, not a finding.
    c.kube.insert(
        "Node/ip-10-0-1-8".into(),
        json!({"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": "ip-10-0-1-8", "labels": {"eks.amazonaws.com/nodegroup": "general"}},
               "status": {"nodeInfo": {"kubeletVersion": "v1.29.0-eks-1"}}}),
    );
    c.insights.push(Insight {
        id: "ins-1".into(),
        name: "Cluster health issues".into(),
        category: "UPGRADE_READINESS".into(),
        kubernetes_version: Some("1.34".into()),
        status: InsightStatus::Error,
        reason: "the kube-proxy version skew is too large".into(),
        description: String::new(),
        recommendation: Some("update kube-proxy".into()),
        deprecations: Vec::new(),
    });
    sim.replace(state);

    let plan = plan_for(&sim, &repo).await;
    let c = cluster(&plan, "prod-use1");
    assert!(c.steps.is_empty());
    let all: Vec<&str> = c.blocked.iter().map(|b| b.message.as_str()).collect();
    assert_eq!(all.len(), 3, "{all:#?}");
    assert!(all.iter().any(|m| m.contains(
        "helm release legacy (revision 7, chart legacy-0.9.0) in namespace ops (helm-manifest): PodSecurityPolicy legacy uses policy/v1beta1"
    ) && m.contains("helm upgrade")), "{all:#?}");
    assert!(all.iter().any(|m| m.contains("EKS insight \"Cluster health issues\" (ins-1): the kube-proxy version skew is too large; update kube-proxy")), "{all:#?}");
    assert!(
        all.iter().any(|m| m
            .contains("self-managed node ip-10-0-1-7 runs kubelet 1.31, 3 minors behind 1.34")
            && m.contains("maxKubeletSkew")),
        "{all:#?}"
    );
    // The other prod cluster is not affected.
    assert_eq!(cluster(&plan, "prod-euw1").steps.len(), 9);

    // `keelson check`'s report says the same, gate by gate.
    let l = &repo;
    let live = keelson::observe::observe(&ports(&sim), &scope(l))
        .await
        .unwrap();
    let cfg = l
        .repo
        .clusters
        .iter()
        .find(|c| c.name() == "prod-use1")
        .unwrap();
    let policy = l.repo.fleet.as_ref().unwrap().value.spec.policy.clone();
    let apis = keelson::deprecations::table::ApiTable::builtin().unwrap();
    let r = keelson::plan::upgrade::readiness(
        keelson::plan::upgrade::HopInput {
            cluster: cfg,
            live: &live.clusters["prod-use1"],
            repo: &l.repo,
            fleet_live: &live,
            apis: &apis,
            policy: &policy,
            now: sim_now(&sim),
        },
        "1.35".parse().unwrap(),
    );
    let failing: Vec<&str> = r.hops[0]
        .gates
        .iter()
        .filter(|g| g.outcome == keelson::plan::upgrade::Outcome::Fail)
        .map(|g| g.gate.as_str())
        .collect();
    assert_eq!(failing, vec!["removed-apis", "insights", "kubelet-skew"]);
    assert_eq!(r.hops.len(), 2);
    assert_eq!(keelson::cli::check::exit_code(&r), 3);

    // Fixed: the release upgraded, the node replaced, the insight passing.
    let mut state = sim.snapshot();
    let c = state.clusters.get_mut("prod-use1").unwrap();
    c.kube.remove("Secret/sh.helm.release.v1.legacy.v7");
    c.kube.remove("Node/ip-10-0-1-7");
    c.insights[0].status = InsightStatus::Passing;
    sim.replace(state);
    let plan = plan_for(&sim, &repo).await;
    assert!(cluster(&plan, "prod-use1").blocked.is_empty());
    assert_eq!(cluster(&plan, "prod-use1").steps.len(), 9);
}

#[tokio::test]
async fn a_pinned_node_group_behind_the_control_plane_blocks_the_next_hop() {
    let (_d, root) = example();
    let file = root.join("clusters/staging-euw1/cluster.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace(
            "  updateConfig: {maxUnavailable: 1}\n",
            "  updateConfig: {maxUnavailable: 1}\n  version: \"1.33\"\n",
        ),
    )
    .unwrap();
    let repo = load(&root);
    let sim = sim();
    converge(&sim, &at_version(&repo, "1.33")).await;
    let plan = plan_for(&sim, &repo).await;
    let c = cluster(&plan, "staging-euw1");
    assert!(c.steps.is_empty());
    assert!(
        c.blocked[0].message.contains("upgrade 1.34→1.35: node group general is pinned at 1.33 (spec.version) and runs 1.33, behind the control plane's 1.34"),
        "{:?}",
        c.blocked
    );
}

use crate::util::{keelson_cli as keelson, out_and_err as text};

#[test]
fn check_seed_advance_and_a_rehearsal_from_the_command_line() {
    let (_d, root) = example();
    let repo = root.to_str().unwrap();
    let o = keelson(&["sim", "seed", "--repo", repo, "--version", "1.31"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("seeded 3 cluster(s) at Kubernetes 1.31"),
        "{}",
        text(&o)
    );

    let o = keelson(&[
        "check",
        "--repo",
        repo,
        "--cluster",
        "prod-use1",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["outcome"], "fail");
    assert_eq!(v["hops"].as_array().unwrap().len(), 4);
    assert_eq!(v["hops"][0]["gates"][1]["gate"], "removed-apis");
    assert_eq!(v["hops"][0]["gates"][1]["outcome"], "fail");
    let o = keelson(&[
        "check",
        "--repo",
        repo,
        "--cluster",
        "prod-euw1",
        "--to",
        "1.32",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("⏸ stage"), "{}", text(&o));
    let o = keelson(&[
        "check",
        "--repo",
        repo,
        "--cluster",
        "staging-euw1",
        "--format",
        "markdown",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("| removed-apis | ✓ Pass |"),
        "{}",
        text(&o)
    );
    let o = keelson(&["check", "--repo", repo, "--cluster", "nope"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    let o = keelson(&["plan", "--repo", repo, "--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("1 cluster waiting for an earlier stage"),
        "{}",
        text(&o)
    );

    // Staging applied, the clock moved past the soak: prod-euw1 is no longer held.
    let o = keelson(&[
        "apply",
        "--repo",
        repo,
        "--cluster",
        "staging-euw1",
        "--auto-approve",
        "--sim-speed",
        "instant",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = keelson(&["check", "--repo", repo, "--cluster", "prod-euw1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("is soaking"), "{}", text(&o));
    let o = keelson(&["sim", "advance", "--repo", repo, "6h"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = keelson(&["check", "--repo", repo, "--cluster", "prod-euw1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // A rehearsal that ignores the gate shows what the upgrade breaks.
    let o = keelson(&[
        "apply",
        "--repo",
        repo,
        "--target",
        "aws",
        "--ignore-gate",
        "removed-apis",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("--ignore-gate is for rehearsals on the simulator"),
        "{}",
        text(&o)
    );
    let o = keelson(&[
        "apply",
        "--repo",
        repo,
        "--cluster",
        "prod-use1",
        "--ignore-gate",
        "removed-apis",
        "--auto-approve",
        "--sim-speed",
        "instant",
    ]);
    // Regression: the rehearsal exited 0 after breaking objects, so a script took it for
    // a clean upgrade; it now fails and says so last.
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("cluster prod-use1: BROKE after the upgrade to 1.32: live object (managed-fields): FlowSchema batch-jobs uses flowcontrol.apiserver.k8s.io/v1beta3"),
        "{}",
        text(&o)
    );
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let last = stdout.lines().rfind(|l| !l.is_empty()).unwrap_or_default();
    assert!(
        last.starts_with("The upgrade broke ")
            && last.contains(" on prod-use1: see the BROKE lines above"),
        "{stdout}"
    );
    let o = keelson(&["sim", "report", "--repo", repo]);
    assert!(
        text(&o).contains("cluster prod-use1: Kubernetes 1.35"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("completed 1.34-1.35 at"), "{}", text(&o));
    assert!(
        text(&o).contains("insight Error: Objects using APIs removed in 1.32"),
        "{}",
        text(&o)
    );
}

#[test]
fn one_daemon_sync_over_the_example_upgrades_staging_and_reports_the_rest() {
    let (_d, root) = example();
    let repo = root.to_str().unwrap();
    let o = keelson(&[
        "run",
        "--repo",
        repo,
        "--target",
        "sim",
        "--once",
        "--sim-seed",
        "1.31",
        "--listen",
        "none",
        "--output",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let all = text(&o);
    assert!(
        all.contains("seeded 3 cluster(s) at Kubernetes 1.31"),
        "{all}"
    );
    let o = keelson(&["sim", "report", "--repo", repo]);
    let report = text(&o);
    assert!(
        report.contains("cluster staging-euw1: Kubernetes 1.35"),
        "{report}"
    );
    assert!(report.contains("completed 1.31-1.32 at"), "{report}");
    assert!(
        report.contains("cluster prod-euw1: Kubernetes 1.31"),
        "{report}"
    );
    assert!(
        report.contains("cluster prod-use1: Kubernetes 1.31"),
        "{report}"
    );
    // A second sync: the state exists, so nothing is seeded again; prod-euw1 is held by
    // the soak, reported as pending with that reason.
    let o = keelson(&[
        "run",
        "--repo",
        repo,
        "--target",
        "sim",
        "--once",
        "--sim-seed",
        "1.31",
        "--listen",
        "none",
    ]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(3), "{all}");
    assert!(!all.contains("seeded"), "{all}");
    assert!(
        all.contains("upgrade held: upgrade 1.31→1.32: stage staging is soaking"),
        "{all}"
    );
    assert!(
        all.contains("Sync: 1 converged, 1 pending, 1 blocked, 0 failed."),
        "{all}"
    );
}

#[test]
fn a_snapshot_carries_what_an_upgrade_rehearsal_judges() {
    let (_d, root) = example();
    let repo = root.to_str().unwrap();
    let o = keelson(&["sim", "seed", "--repo", repo, "--version", "1.33"]);
    assert!(o.status.success(), "{}", text(&o));
    // Give prod-euw1 a Helm release that still renders a PodSecurityPolicy.
    let state_file = root.join(".keelson/sim.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
    let release = json!({
        "name": "legacy", "namespace": "ops", "version": 2, "info": {"status": "deployed"},
        "chart": {"metadata": {"name": "legacy", "version": "0.9.0"}},
        "manifest": "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata:\n  name: legacy\n",
        "hooks": []
    });
    state["clusters"]["prod-euw1"]["kube"]["Secret/ops/sh.helm.release.v1.legacy.v2"] =
        helm_secret("sh.helm.release.v1.legacy.v2", "ops", &release);
    std::fs::write(&state_file, state.to_string()).unwrap();

    let snap = root.join("prod-euw1.json");
    let o = keelson(&[
        "snapshot",
        "--repo",
        repo,
        "--cluster",
        "prod-euw1",
        "-o",
        snap.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("2 clusters, 1 Kubernetes object for upgrade rehearsals"),
        "{}",
        text(&o)
    );
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&snap).unwrap()).unwrap();
    assert!(
        saved["clusters"]["prod-euw1"]["kube"]["Secret/ops/sh.helm.release.v1.legacy.v2"]
            .is_object()
    );

    // The replayed snapshot is judged like the live cluster.
    let o = keelson(&[
        "check",
        "--repo",
        repo,
        "--cluster",
        "prod-euw1",
        "--state",
        snap.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("helm release legacy (revision 2, chart legacy-0.9.0) in namespace ops (helm-manifest): PodSecurityPolicy legacy uses policy/v1beta1"),
        "{}",
        text(&o)
    );
}

/// Edit the simulator's record of `cluster`: its version and tags.
fn rewrite_sim(root: &Path, cluster: &str, f: impl FnOnce(&mut serde_json::Value)) {
    let path = root.join(".keelson/sim.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    f(&mut v["clusters"][cluster]["live"]);
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
}

#[test]
fn a_staging_cluster_stopped_mid_hop_or_without_a_record_holds_prod() {
    // Regression: a crash after staging's control plane reached 1.34 (its record not yet
    // written) let prod upgrade 1.33→1.34 with "no earlier-stage evidence".
    let (_d, root) = example();
    let repo = root.to_str().unwrap();
    let o = keelson(&["sim", "seed", "--repo", repo, "--version", "1.33"]);
    assert!(o.status.success(), "{}", text(&o));
    rewrite_sim(&root, "staging-euw1", |live| {
        live["version"] = "1.34".into();
        live["tags"]["keelson.dev/upgrading"] = "1.33-1.34".into();
    });
    let plan = |extra: &[&str]| {
        let mut args = vec!["plan", "--repo", repo, "--cluster", "prod-euw1"];
        args.extend_from_slice(extra);
        keelson(&args)
    };
    let o = plan(&[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("staging-euw1 is in the middle of 1.33→1.34"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("1.33\" → \"1.34\""), "{}", text(&o));

    // The tag gone, still no record: held, with the way out named.
    rewrite_sim(&root, "staging-euw1", |live| {
        live["tags"]
            .as_object_mut()
            .unwrap()
            .remove("keelson.dev/upgrading");
    });
    let o = plan(&["--detailed-exitcode"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("holds no record of completing 1.33→1.34")
            && text(&o).contains("keelson.dev/waive-stage-record"),
        "{}",
        text(&o)
    );

    // Waived in git: prod may go, and the plan says on whose word.
    let staging = root.join("clusters/staging-euw1/cluster.yaml");
    let t = std::fs::read_to_string(&staging).unwrap();
    let t = t.replacen(
        "metadata:\n",
        "metadata:\n  annotations:\n    keelson.dev/waive-stage-record: \"1.33-1.34\"\n",
        1,
    );
    std::fs::write(&staging, t).unwrap();
    let o = plan(&[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("waived by its keelson.dev/waive-stage-record annotation"),
        "{}",
        text(&o)
    );
}

#[test]
fn extra_rules_reach_the_gates_of_plan_and_check() {
    let (_d, root) = example();
    let repo = root.to_str().unwrap();
    let o = keelson(&["sim", "seed", "--repo", repo, "--version", "1.33"]);
    assert!(o.status.success(), "{}", text(&o));
    std::fs::write(
        root.join("clusters/staging-euw1/widget.yaml"),
        "apiVersion: widgets.example.com/v1beta1\nkind: Widget\nmetadata: {name: w, namespace: default}\n",
    )
    .unwrap();
    let rules = root.join("..").join("widget-rules.yaml");
    std::fs::write(
        &rules,
        "format_version: 1\napis:\n  - {group: widgets.example.com, version: v1beta1, kind: Widget, deprecated_in: \"1.32\", removed_in: \"1.34\", replacement: widgets.example.com/v1 Widget, source: \"a test\"}\n",
    )
    .unwrap();
    let rules = rules.to_str().unwrap();
    let check = |extra: &[&str]| {
        let mut args = vec![
            "check",
            "--repo",
            repo,
            "--cluster",
            "staging-euw1",
            "--to",
            "1.34",
        ];
        args.extend_from_slice(extra);
        keelson(&args)
    };
    let o = check(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = check(&["--extra-rules", rules]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("Widget"), "{}", text(&o));

    let plan = |extra: &[&str]| {
        let mut args = vec!["plan", "--repo", repo, "--cluster", "staging-euw1"];
        args.extend_from_slice(&["--detailed-exitcode"]);
        args.extend_from_slice(extra);
        keelson(&args)
    };
    let o = plan(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = plan(&["--extra-rules", rules]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("widgets.example.com/v1beta1"),
        "{}",
        text(&o)
    );
}
