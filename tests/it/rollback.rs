//! Rollback as a planned action on the simulator: `spec.version` lowered one minor within
//! 7 days rolls back in EKS's order (node groups, add-ons, control plane, record); outside
//! the window, beyond one minor or without a record it is blocked with what to do; an
//! Auto Mode rollback is cancelled when git goes back; and the 409 EKS answers right after
//! an upgrade is waited out.

use keelson::adapters::sim::Sim;
use keelson::config::Loaded;
use keelson::model::live::{InsightStatus, UpdateStatus, UpdateType};
use keelson::ports::{ApiError, EksApi};

use crate::simkit::*;
use crate::upgrade::{apply_plan, cluster, example, load, only, step_lines};

const STAGING: &str = "staging-euw1";
const DAY: i64 = 86_400;

/// The repository with `cluster` asking for `version` (every cluster when `None`).
fn with_version(l: &Loaded, cluster: Option<&str>, version: &str) -> Loaded {
    let mut l = l.clone();
    for c in &mut l.repo.clusters {
        if cluster.is_none_or(|n| c.name() == n) {
            c.cluster.value.spec.version = version.to_string();
        }
    }
    l
}

/// The example with every cluster at 1.34 and staging upgraded in place to 1.35 (prod
/// holds for staging's soak); the removed-API manifest of prod-use1 is left out.
async fn staging_upgraded(auto_mode: bool) -> (tempfile::TempDir, Loaded, Sim) {
    let (dir, root) = example();
    std::fs::remove_file(root.join("clusters/prod-use1/manifests/flow-schema.yaml")).unwrap();
    if auto_mode {
        let path = root.join("clusters/staging-euw1/cluster.yaml");
        let text = std::fs::read_to_string(&path).unwrap().replace(
            "  tags:\n    env: staging\n",
            "  autoMode:\n    compute:\n      enabled: true\n      nodePools: [system, general-purpose]\n      nodeRoleArn: arn:aws:iam::111122223333:role/eks-auto-node\n    blockStorage:\n      enabled: true\n    loadBalancing:\n      enabled: true\n  tags:\n    env: staging\n",
        );
        std::fs::write(&path, text).unwrap();
    }
    let repo = load(&root);
    let sim = sim();
    converge(&sim, &with_version(&repo, None, "1.34")).await;
    let plan = plan_for(&sim, &repo).await;
    apply_plan(&sim, &only(&plan, STAGING)).await;
    assert_eq!(sim.snapshot().clusters[STAGING].live.version, "1.35");
    (dir, repo, sim)
}

#[tokio::test]
async fn a_version_lowered_one_minor_within_the_window_rolls_back_nodes_and_addons_first() {
    let (_d, repo, sim) = staging_upgraded(false).await;
    // The plan after the hop says when its rollback window closes.
    let plan = plan_for(&sim, &repo).await;
    let notes = &cluster(&plan, STAGING).notes;
    assert!(
        notes
            .iter()
            .any(|n| n.contains("rollback window of 1.34→1.35 closes at")
                && n.contains("lowering `version` to \"1.34\" plans an EKS rollback")),
        "{notes:?}"
    );

    let back = with_version(&repo, Some(STAGING), "1.34");
    let plan = plan_for(&sim, &back).await;
    let c = cluster(&plan, STAGING);
    assert!(c.blocked.is_empty(), "{:?}", c.blocked);
    assert_eq!(
        step_lines(c),
        vec![
            "NodeGroup general version 1.35→1.34",
            "Addon kube-proxy version v1.35.0-eksbuild.1→v1.34.0-eksbuild.1",
            "Cluster staging-euw1 version 1.35→1.34",
            "Cluster staging-euw1 tags.keelson.dev/rolled-back-1.35-1.34 →t=<completion",
        ]
    );
    let cp = &c.steps[2];
    assert!(cp
        .reason
        .as_deref()
        .unwrap_or_default()
        .contains("window closes at"));
    assert!(
        cp.risks
            .iter()
            .any(|r| r.message.contains("EKS does not roll add-ons back")),
        "{:?}",
        cp.risks
    );
    apply_plan(&sim, &only(&plan, STAGING)).await;

    let state = sim.snapshot();
    let s = &state.clusters[STAGING];
    assert_eq!(s.live.version, "1.34");
    // EKS saw the rollback as one, after the node group and the add-on went back.
    let order: Vec<(UpdateType, String)> = s
        .updates
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(|u| (u.update.update_type, u.update.status))
        .map(|(t, st)| {
            assert_eq!(st, UpdateStatus::Successful);
            (t, String::new())
        })
        .collect();
    let types: Vec<UpdateType> = order.into_iter().map(|(t, _)| t).collect();
    assert!(
        types
            == vec![
                UpdateType::NodegroupVersionUpdate,
                UpdateType::AddonUpdate,
                UpdateType::VersionRollback
            ]
            || types
                == vec![
                    UpdateType::AddonUpdate,
                    UpdateType::NodegroupVersionUpdate,
                    UpdateType::VersionRollback
                ],
        "{types:?}"
    );
    assert_eq!(
        s.node_groups["general"].live.spec.version.as_deref(),
        Some("1.34")
    );
    assert!(s
        .live
        .tags
        .contains_key("keelson.dev/rolled-back-1.35-1.34"));
    assert!(!s.live.tags.contains_key("keelson.dev/upgraded-1.34-1.35"));

    // Converged, and prod no longer counts staging's undone hop.
    let plan = plan_for(&sim, &back).await;
    assert!(
        cluster(&plan, STAGING).steps.is_empty(),
        "{:?}",
        step_lines(cluster(&plan, STAGING))
    );
    let prod = cluster(&plan, "prod-euw1");
    assert!(
        prod.held
            .iter()
            .any(|h| h.contains("staging-euw1 has not completed 1.34→1.35 yet")),
        "{:?}",
        prod.held
    );
}

#[tokio::test]
async fn a_rollback_outside_the_window_beyond_one_minor_or_without_a_record_is_blocked() {
    let (_d, repo, sim) = staging_upgraded(false).await;
    // More than one minor.
    let plan = plan_for(&sim, &with_version(&repo, Some(STAGING), "1.33")).await;
    let why = &cluster(&plan, STAGING).blocked[0].message;
    assert!(
        why.contains("`version` 1.33 is 2 minors below the running 1.35; EKS rolls a control plane back one minor only")
            && why.contains("write \"1.34\""),
        "{why}"
    );
    // An ERROR rollback-readiness insight blocks, as EKS does without --force.
    let mut state = sim.snapshot();
    let i = state.clusters.get_mut(STAGING).unwrap();
    let ins = i
        .insights
        .iter_mut()
        .find(|i| i.category == "ROLLBACK_READINESS")
        .unwrap();
    ins.status = InsightStatus::Error;
    ins.reason = "Node ip-10-0-1-9 runs kubelet 1.35".into();
    sim.replace(state);
    let back = with_version(&repo, Some(STAGING), "1.34");
    let plan = plan_for(&sim, &back).await;
    let why: Vec<&str> = cluster(&plan, STAGING)
        .blocked
        .iter()
        .map(|b| b.message.as_str())
        .collect();
    assert!(
        why.iter()
            .any(|m| m.contains("EKS rollback-readiness insight") && m.contains("kubelet 1.35")),
        "{why:?}"
    );
    // Eight days later the window is closed.
    sim.advance_to(sim_now(&sim) + 8 * DAY);
    let plan = plan_for(&sim, &back).await;
    let c = cluster(&plan, STAGING);
    assert!(c.steps.is_empty());
    let why = &c.blocked[0].message;
    assert!(
        why.contains("the rollback window of 1.34→1.35 closed at")
            && why.contains("set `version` back to \"1.35\""),
        "{why}"
    );
    // prod-euw1 was created at 1.34 and never upgraded: nothing to roll back to.
    let plan = plan_for(&sim, &with_version(&repo, Some("prod-euw1"), "1.33")).await;
    let why = &cluster(&plan, "prod-euw1").blocked[0].message;
    assert!(
        why.contains("holds no record of an in-place upgrade 1.33→1.34"),
        "{why}"
    );
}

#[tokio::test]
async fn an_auto_mode_rollback_is_cancelled_when_git_goes_back_and_others_wait_for_it() {
    let (_d, repo, sim) = staging_upgraded(true).await;
    let back = with_version(&repo, Some(STAGING), "1.34");
    let plan = plan_for(&sim, &back).await;
    let c = cluster(&plan, STAGING);
    let cp = c
        .steps
        .iter()
        .position(|s| s.resource.kind == keelson::model::Kind::Cluster)
        .unwrap();
    assert!(
        c.steps[cp]
            .risks
            .iter()
            .any(|r| r.message.contains("EKS rolls Auto Mode nodes back first")),
        "{:?}",
        c.steps[cp].risks
    );
    // Run what comes before the control plane, then start the rollback by hand and
    // leave it in its node phase.
    let mut before = only(&plan, STAGING);
    before.clusters[0].steps.truncate(cp);
    apply_plan(&sim, &before).await;
    let u = EksApi::update_cluster_version(&sim, STAGING, "1.34")
        .await
        .unwrap();
    assert_eq!(u.update_type, UpdateType::VersionRollback);
    assert_eq!(
        sim.snapshot().clusters[STAGING].live.status,
        keelson::model::live::Status::Active
    );

    // Git somewhere else: blocked until it finishes.
    let plan = plan_for(&sim, &with_version(&repo, Some(STAGING), "1.33")).await;
    let why = &cluster(&plan, STAGING).blocked[0].message;
    assert!(
        why.contains("a rollback to 1.34") && why.contains("wait for it to finish"),
        "{why}"
    );
    // Git back at 1.35: CancelUpdate.
    let plan = plan_for(&sim, &repo).await;
    let c = cluster(&plan, STAGING);
    // The cancel first; what keelson already moved back goes forward again after it.
    assert_eq!(
        step_lines(c),
        vec![
            "Cluster staging-euw1 version 1.34→1.35",
            "Addon kube-proxy version v1.34.0-eksbuild.1→v1.35.0-eksbuild.1",
            "NodeGroup general version 1.34→1.35",
        ],
        "{:?}",
        c.blocked
    );
    assert!(matches!(
        c.steps[0].ops[0],
        keelson::plan::Op::CancelUpdate { .. }
    ));
    apply_plan(&sim, &only(&plan, STAGING)).await;
    let state = sim.snapshot();
    let s = &state.clusters[STAGING];
    let last = s.updates.iter().find(|x| x.update.id == u.id).unwrap();
    assert_eq!(last.update.status, UpdateStatus::Cancelled);
    assert_eq!(s.live.version, "1.35");
    assert_eq!(sim.calls().get("CancelUpdate"), Some(&1));
    // A finished rollback cannot be cancelled: EKS says so.
    let err = EksApi::cancel_update(&sim, STAGING, &u.id)
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::InvalidRequest(_)), "{err:?}");
}

#[tokio::test]
async fn a_second_version_update_right_after_active_meets_a_409_and_is_retried() {
    let (_d, root) = example();
    std::fs::remove_file(root.join("clusters/prod-use1/manifests/flow-schema.yaml")).unwrap();
    let repo = load(&root);
    let sim = sim();
    converge(&sim, &with_version(&repo, None, "1.33")).await;
    // A cluster without node groups or add-ons to follow: its hops come back to back.
    let mut state = sim.snapshot();
    let s = state.clusters.get_mut(STAGING).unwrap();
    s.node_groups.clear();
    s.addons.clear();
    sim.replace(state);
    let bare = {
        let mut l = with_version(&repo, Some(STAGING), "1.35");
        for c in &mut l.repo.clusters {
            if c.name() == STAGING {
                c.node_groups.clear();
                c.addons.clear();
            }
        }
        l
    };
    // The simulator reproduces it: ACTIVE, and still a 409 for a few seconds.
    EksApi::update_cluster_version(&sim, STAGING, "1.34")
        .await
        .unwrap();
    sim.advance_to(sim_now(&sim) + 10 * 60);
    assert_eq!(
        sim.snapshot().clusters[STAGING].live.status,
        keelson::model::live::Status::Active
    );
    let err = EksApi::update_cluster_version(&sim, STAGING, "1.35")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ApiError::ResourceInUse(m) if m.contains("currently has update")),
        "{err:?}"
    );
    // The executor waits it out instead of failing.
    let plan = plan_for(&sim, &bare).await;
    let before = sim
        .calls()
        .get("UpdateClusterVersion")
        .copied()
        .unwrap_or(0);
    apply_plan(&sim, &only(&plan, STAGING)).await;
    assert_eq!(sim.snapshot().clusters[STAGING].live.version, "1.35");
    let calls = sim
        .calls()
        .get("UpdateClusterVersion")
        .copied()
        .unwrap_or(0)
        - before;
    assert!(calls >= 2, "the 409 was not met: {calls} call(s)");
}

#[tokio::test]
async fn insights_are_refreshed_before_the_gate_and_a_fresh_refresh_is_reused() {
    let (_d, repo, sim) = staging_upgraded(false).await;
    let calls = sim.calls();
    let started = calls.get("StartInsightsRefresh").copied().unwrap_or(0);
    assert!(started >= 1, "{calls:?}");
    assert!(calls.get("DescribeInsightsRefresh").copied().unwrap_or(0) > started);
    // Planning again within minutes uses the refresh that just completed.
    plan_for(&sim, &repo).await;
    let first = sim
        .calls()
        .get("StartInsightsRefresh")
        .copied()
        .unwrap_or(0);
    plan_for(&sim, &repo).await;
    let second = sim
        .calls()
        .get("StartInsightsRefresh")
        .copied()
        .unwrap_or(0);
    assert_eq!(first, second);
    // A hop to 1.36 carries the behaviour changes the table lists for it.
    let plan = plan_for(&sim, &with_version(&repo, Some(STAGING), "1.36")).await;
    let notes = &cluster(&plan, STAGING).notes;
    assert!(
        notes
            .iter()
            .any(|n| n
                .starts_with("upgrade 1.35→1.36: behaviour change: gitRepo volumes are disabled")),
        "{notes:?}"
    );
    // An hour later it is refreshed again.
    sim.advance_to(sim_now(&sim) + 3600);
    plan_for(&sim, &repo).await;
    assert!(
        sim.calls()
            .get("StartInsightsRefresh")
            .copied()
            .unwrap_or(0)
            > second
    );
}

/// A Helm 3 release record as Helm writes it (Secret driver): the release JSON gzipped,
/// base64 (Helm's layer), base64 again (the Secret's data).
fn helm_release_secret(name: &str, chart: &str, kube_version: &str) -> serde_json::Value {
    let release = serde_json::json!({
        "name": name, "namespace": "ops", "version": 3, "info": {"status": "deployed"},
        "chart": {"metadata": {"name": chart, "version": "2.1.0", "kubeVersion": kube_version}},
        "manifest": "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
        "hooks": []
    });
    serde_json::json!({
        "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": format!("sh.helm.release.v1.{name}.v3"), "namespace": "ops",
                     "labels": {"owner": "helm", "status": "deployed", "name": name}},
        "data": {"release": crate::deprecations::secret_data(&release)}
    })
}

#[tokio::test]
async fn a_chart_whose_kube_version_excludes_the_target_blocks_the_hop() {
    let (_d, root) = example();
    std::fs::remove_file(root.join("clusters/prod-use1/manifests/flow-schema.yaml")).unwrap();
    let repo = load(&root);
    let sim = sim();
    converge(&sim, &with_version(&repo, None, "1.34")).await;
    let mut state = sim.snapshot();
    let kube = &mut state.clusters.get_mut(STAGING).unwrap().kube;
    for (name, chart, kv) in [
        // Admits 1.34 (as EKS reports it, with `-0`), not 1.35: blocks.
        ("ingress", "ingress-nginx", ">=1.25.0-0 <1.35.0-0"),
        // Admits both: fine.
        ("certs", "cert-manager", ">= 1.22.0-0"),
        // Not a constraint Helm can read: a warning naming it.
        ("odd", "odd-chart", ">=banana"),
    ] {
        kube.insert(
            format!("Secret/sh.helm.release.v1.{name}.v3"),
            helm_release_secret(name, chart, kv),
        );
    }
    sim.replace(state);
    let plan = plan_for(&sim, &repo).await;
    let c = cluster(&plan, STAGING);
    assert!(c.steps.is_empty());
    let why: Vec<&str> = c.blocked.iter().map(|b| b.message.as_str()).collect();
    assert!(
        why.iter().any(|m| m.contains(
            "helm release ingress (revision 3) in namespace ops: chart ingress-nginx-2.1.0 declares kubeVersion \">=1.25.0-0 <1.35.0-0\", which excludes Kubernetes 1.35"
        ) && m.contains("helm upgrade")),
        "{why:#?}"
    );
    assert!(
        why.iter().any(|m| m.contains(
            "odd-chart-2.1.0 declares kubeVersion \">=banana\", which is not a semver constraint"
        )),
        "{why:#?}"
    );
    assert!(!why.iter().any(|m| m.contains("cert-manager")), "{why:#?}");

    // With the chart upgraded to one that admits 1.35, the hop goes ahead, and the
    // unreadable constraint is a warning, not a blocker.
    let mut state = sim.snapshot();
    let kube = &mut state.clusters.get_mut(STAGING).unwrap().kube;
    kube.insert(
        "Secret/sh.helm.release.v1.ingress.v3".into(),
        helm_release_secret("ingress", "ingress-nginx", ">=1.25.0-0"),
    );
    sim.replace(state);
    let plan = plan_for(&sim, &repo).await;
    let c = cluster(&plan, STAGING);
    assert!(c.blocked.is_empty(), "{:?}", c.blocked);
    assert!(!c.steps.is_empty());
    assert!(
        c.notes
            .iter()
            .any(|n| n.contains("helm-kube-version") || n.contains(">=banana")),
        "{:?}",
        c.notes
    );
}
