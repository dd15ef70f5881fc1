//! The planner against live state read from the simulator: one behaviour per test.

use keelson::model::live::MANAGED_TAG;
use keelson::plan::{render, Action, Op, RiskKind};

use crate::rules::PIA;
use crate::simkit::*;
use crate::util::*;

pub(crate) const NG: &str = "\
apiVersion: keelson.dev/v1alpha1
kind: NodeGroup
metadata: {name: general}
spec:
  nodeRoleArn: arn:aws:iam::111122223333:role/node
  subnetIds: [subnet-0a1b2c3d4e5f60001]
  instanceTypes: [m6i.large]
  amiType: AL2023_x86_64_STANDARD
  scaling: {minSize: 1, maxSize: 5, desiredSize: 2}
";

pub(crate) const ADDONS: &str = "\
apiVersion: keelson.dev/v1alpha1
kind: Addon
metadata: {name: coredns}
spec: {version: default}
---
apiVersion: keelson.dev/v1alpha1
kind: Addon
metadata: {name: vpc-cni}
spec: {version: latest}
";

pub(crate) const FARGATE: &str = "\
apiVersion: keelson.dev/v1alpha1
kind: FargateProfile
metadata: {name: jobs}
spec:
  podExecutionRoleArn: arn:aws:iam::111122223333:role/fargate
  selectors: [{namespace: jobs}]
";

pub(crate) const NODEPOOL: &str = "\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: batch}
spec:
  template:
    spec:
      nodeClassRef: {group: eks.amazonaws.com, kind: NodeClass, name: batch}
      requirements: [{key: kubernetes.io/arch, operator: In, values: [arm64]}]
      expireAfter: 336h
";

fn mng_cluster() -> String {
    MNG_CLUSTER.replace("  vpc:\n", "  access: {authenticationMode: API}\n  vpc:\n")
}

fn files(extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut f: Vec<(&'static str, String)> = vec![
        ("keelson.yaml", FLEET.to_string()),
        ("auto/cluster.yaml", AUTO_CLUSTER.to_string()),
        ("auto/nodeclass.yaml", NODECLASS.to_string()),
        ("auto/nodepool.yaml", NODEPOOL.to_string()),
        ("mng/cluster.yaml", mng_cluster()),
        ("mng/addons.yaml", ADDONS.to_string()),
        ("mng/ng.yaml", NG.to_string()),
        ("mng/fargate.yaml", FARGATE.to_string()),
    ];
    for (p, t) in extra {
        f.retain(|(q, _)| q != p);
        if !t.is_empty() {
            f.push((p, t.clone()));
        }
    }
    f
}

fn loaded(f: &[(&'static str, String)]) -> keelson::config::Loaded {
    let refs: Vec<(&str, &str)> = f.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let l = load(&refs);
    assert!(l.is_valid(), "{}", show(&l.diagnostics));
    l
}

#[tokio::test]
async fn an_empty_account_gets_everything_created_in_dependency_order() {
    let sim = sim();
    let plan = plan_for(&sim, &loaded(&files(&[]))).await;
    let s = steps(&plan);
    assert_eq!(
        s,
        vec![
            "Create Cluster auto1",
            "Create AccessEntry arn:aws:iam::111122223333:role/batch-node",
            "Create NodeClass batch",
            "Create NodePool batch",
            "Create Cluster mng1",
            "Create FargateProfile jobs",
            "Create Addon coredns",
            "Create Addon vpc-cni",
            "Create NodeGroup general",
        ]
    );
    assert_eq!(
        (
            plan.summary.create,
            plan.summary.update,
            plan.summary.delete
        ),
        (9, 0, 0)
    );
    // Every create carries a deterministic idempotency token.
    let again = plan_for(&sim, &loaded(&files(&[]))).await;
    assert_eq!(plan, again);
    let token = |p: &keelson::plan::Plan| match &p.clusters[0].steps[0].ops[0] {
        Op::CreateCluster(c) => c.client_request_token.clone(),
        other => panic!("{other:?}"),
    };
    assert!(token(&plan).starts_with("keelson-"));
    assert_eq!(token(&plan), token(&again));
}

#[tokio::test]
async fn after_apply_the_plan_is_empty_and_applying_again_changes_nothing() {
    let sim = sim();
    let l = loaded(&files(&[]));
    converge(&sim, &l).await;
    let plan = plan_for(&sim, &l).await;
    assert!(!plan.has_changes(), "{}", render::text(&plan));
    let writes_before: u64 = sim
        .calls()
        .iter()
        .filter(|(k, _)| is_write(k))
        .map(|(_, v)| v)
        .sum();
    converge(&sim, &l).await;
    let writes_after: u64 = sim
        .calls()
        .iter()
        .filter(|(k, _)| is_write(k))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(
        writes_before,
        writes_after,
        "a no-op apply made write calls: {:?}",
        sim.calls()
    );
}

fn is_write(op: &str) -> bool {
    [
        "Create",
        "Update",
        "Delete",
        "Tag",
        "Untag",
        "Associate",
        "Disassociate",
        "kube:apply",
        "kube:delete",
    ]
    .iter()
    .any(|w| op.starts_with(w))
}

#[tokio::test]
async fn one_field_changed_gives_one_step_with_that_field() {
    let sim = sim();
    converge(&sim, &loaded(&files(&[]))).await;
    let l = loaded(&files(&[(
        "mng/ng.yaml",
        NG.replace("maxSize: 5", "maxSize: 9"),
    )]));
    let plan = plan_for(&sim, &l).await;
    assert_eq!(steps(&plan), vec!["Update NodeGroup general"]);
    let step = &plan.clusters[1].steps[0];
    assert_eq!(step.changes.len(), 1);
    assert_eq!(step.changes[0].path, "scaling.maxSize");
    assert_eq!(step.changes[0].before, Some(serde_json::json!(5)));
    assert_eq!(step.changes[0].after, Some(serde_json::json!(9)));
    converge(&sim, &l).await;
    assert!(!plan_for(&sim, &l).await.has_changes());
}

#[tokio::test]
async fn fields_aws_manages_are_not_drift() {
    let sim = sim();
    let l = loaded(&files(&[]));
    converge(&sim, &l).await;
    let mut state = sim.snapshot();
    let c = state.clusters.get_mut("mng1").unwrap();
    c.live.platform_version = "eks.9".into();
    c.live
        .tags
        .insert("aws:cloudformation:stack-name".into(), "x".into());
    c.node_groups
        .get_mut("general")
        .unwrap()
        .live
        .spec
        .scaling
        .desired_size = Some(4); // the autoscaler moved it
    c.addons
        .get_mut("coredns")
        .unwrap()
        .live
        .tags
        .insert("aws:eks:addon".into(), "x".into());
    sim.replace(state);
    let plan = plan_for(&sim, &l).await;
    assert!(!plan.has_changes(), "{}", render::text(&plan));
}

#[tokio::test]
async fn removing_from_git_deletes_only_what_keelson_created() {
    let sim = sim();
    converge(&sim, &loaded(&files(&[]))).await;
    // An add-on someone installed by hand, without keelson's marker.
    let mut state = sim.snapshot();
    let c = state.clusters.get_mut("mng1").unwrap();
    let mut manual = c.addons["coredns"].clone();
    manual.live.name = "snapshot-controller".into();
    manual.live.version = "v8.2.0-eksbuild.1".into();
    manual.live.arn.push_str("-manual");
    manual.live.tags.clear();
    c.addons.insert("snapshot-controller".into(), manual);
    sim.replace(state);

    let l = loaded(&files(&[
        (
            "mng/addons.yaml",
            ADDONS.split("---").next().unwrap().to_string(),
        ),
        ("auto/nodepool.yaml", String::new()),
    ]));
    let plan = plan_for(&sim, &l).await;
    assert_eq!(
        steps(&plan),
        vec!["Delete NodePool batch", "Delete Addon vpc-cni"]
    );
    let mng = plan.clusters.iter().find(|c| c.name == "mng1").unwrap();
    assert!(
        mng.notes.iter().any(|n| n.contains("snapshot-controller")),
        "{:?}",
        mng.notes
    );
    assert!(mng.steps[0]
        .risks
        .iter()
        .any(|r| r.kind == RiskKind::Destructive));
    // Access entries EKS made itself (cluster creator, node roles) are never deleted.
    assert!(!steps(&plan).iter().any(|s| s.contains("AccessEntry")));
}

#[tokio::test]
async fn a_fargate_profile_change_is_a_replace_with_its_risk_spelled_out() {
    let sim = sim();
    converge(&sim, &loaded(&files(&[]))).await;
    let l = loaded(&files(&[(
        "mng/fargate.yaml",
        FARGATE.replace("namespace: jobs", "namespace: batch"),
    )]));
    let plan = plan_for(&sim, &l).await;
    assert_eq!(steps(&plan), vec!["Replace FargateProfile jobs"]);
    let step = &plan.clusters[1].steps[0];
    assert!(matches!(
        step.ops[..],
        [Op::DeleteFargateProfile { .. }, Op::CreateFargateProfile(_)]
    ));
    assert!(step.risks.iter().any(|r| r.kind == RiskKind::Destructive));
    converge(&sim, &l).await;
    assert!(!plan_for(&sim, &l).await.has_changes());
}

#[tokio::test]
async fn a_node_group_immutable_change_is_a_replace_that_rotates_nodes() {
    let sim = sim();
    converge(&sim, &loaded(&files(&[]))).await;
    let l = loaded(&files(&[(
        "mng/ng.yaml",
        NG.replace("m6i.large", "m7i.large"),
    )]));
    let plan = plan_for(&sim, &l).await;
    assert_eq!(steps(&plan), vec!["Replace NodeGroup general"]);
    let kinds: Vec<RiskKind> = plan.clusters[1].steps[0]
        .risks
        .iter()
        .map(|r| r.kind)
        .collect();
    assert!(kinds.contains(&RiskKind::NodesRotated) && kinds.contains(&RiskKind::Destructive));
}

#[tokio::test]
async fn a_node_group_the_plan_creates_must_be_at_its_clusters_version() {
    // CreateNodegroup takes only the cluster's version; validation cannot tell a new
    // group from one that exists and trails, so the plan is where this is caught.
    let sim = sim();
    let pinned = format!("{NG}  version: \"1.33\"\n");
    let plan = plan_for(&sim, &loaded(&files(&[("mng/ng.yaml", pinned.clone())]))).await;
    let blocked: Vec<&str> = plan.clusters[1]
        .blocked
        .iter()
        .map(|b| b.message.as_str())
        .collect();
    assert_eq!(blocked.len(), 1, "{blocked:?}");
    assert!(
        blocked[0].contains("EKS creates node groups only at the cluster's version (1.34)")
            && blocked[0].contains("remove `version` or write \"1.34\""),
        "{}",
        blocked[0]
    );
    // Replacing an existing group creates it again: the same holds.
    converge(&sim, &loaded(&files(&[]))).await;
    let replaced = pinned.replace("m6i.large", "m7i.large");
    let plan = plan_for(&sim, &loaded(&files(&[("mng/ng.yaml", replaced)]))).await;
    assert_eq!(plan.clusters[1].blocked.len(), 1, "{}", render::text(&plan));
    assert!(steps(&plan).is_empty(), "{}", render::text(&plan));
    // Pinned to the cluster's own version, the replacement is planned.
    let same = NG.replace("m6i.large", "m7i.large") + "  version: \"1.34\"\n";
    let plan = plan_for(&sim, &loaded(&files(&[("mng/ng.yaml", same)]))).await;
    assert_eq!(steps(&plan), vec!["Replace NodeGroup general"]);
}

#[tokio::test]
async fn clusters_removed_from_git_are_kept_unless_the_fleet_allows_deletion() {
    let sim = sim();
    let protected = AUTO_CLUSTER.replace(
        "  access: {authenticationMode: API}\n",
        "  access: {authenticationMode: API}\n  deletionProtection: true\n",
    );
    assert_ne!(protected, AUTO_CLUSTER);
    converge(&sim, &loaded(&files(&[("auto/cluster.yaml", protected)]))).await;
    let without_auto = |fleet: String| {
        let mut f = files(&[("keelson.yaml", fleet)]);
        f.retain(|(p, _)| !p.starts_with("auto/"));
        f
    };
    let plan = plan_for(&sim, &loaded(&without_auto(FLEET.to_string()))).await;
    assert!(!plan.has_changes());
    let auto = plan.clusters.iter().find(|c| c.name == "auto1").unwrap();
    assert!(
        auto.notes[0].contains("allowClusterDeletion"),
        "{:?}",
        auto.notes
    );

    let permissive = format!("{FLEET}  policy: {{allowClusterDeletion: true}}\n");
    let l = loaded(&without_auto(permissive));
    let plan = plan_for(&sim, &l).await;
    assert_eq!(steps(&plan), vec!["Delete Cluster auto1"]);
    let delete = &plan.clusters[0].steps[0];
    assert!(delete
        .risks
        .iter()
        .any(|r| r.kind == RiskKind::Irreversible));
    // Turning deletion protection off is shown, never done silently.
    assert!(
        delete
            .changes
            .iter()
            .any(|c| c.path == "deletionProtection"),
        "{:?}",
        delete.changes
    );
    assert!(render::text(&plan).contains("deletion protection is turned off first"));
    converge(&sim, &l).await;
    assert!(!sim.snapshot().clusters.contains_key("auto1"));
}

#[tokio::test]
async fn impossible_changes_block_the_cluster_with_what_to_do() {
    let sim = sim();
    converge(&sim, &loaded(&files(&[]))).await;
    let cases = [
        (
            AUTO_CLUSTER.replace("\"1.34\"", "\"1.33\""),
            // Created at 1.34: EKS has no in-place upgrade to roll back.
            "EKS rolls back only an in-place upgrade",
        ),
        (
            AUTO_CLUSTER.replace(
                "authenticationMode: API",
                "authenticationMode: API_AND_CONFIG_MAP",
            ),
            "one way only",
        ),
        (
            AUTO_CLUSTER.replace("role/cluster", "role/other"),
            "`roleArn` cannot change",
        ),
        (
            AUTO_CLUSTER.replace("role/node", "role/node2"),
            "nodeRoleArn",
        ),
    ];
    for (cluster, want) in cases {
        let plan = plan_for(&sim, &loaded(&files(&[("auto/cluster.yaml", cluster)]))).await;
        let auto = &plan.clusters[0];
        assert!(auto.steps.is_empty());
        assert!(
            auto.blocked.iter().any(|b| b.message.contains(want)),
            "{want}: {:?}",
            auto.blocked
        );
        assert!(plan.is_blocked());
    }
}

#[tokio::test]
async fn an_upgrade_of_two_minors_is_two_hops_each_followed_by_add_ons_and_node_groups() {
    let sim = sim();
    let old = mng_cluster().replace("\"1.34\"", "\"1.32\"");
    // On 1.32 the default pod identity agent is v1.3.4, which stops at 1.33.
    let addons = format!("{ADDONS}---\napiVersion: keelson.dev/v1alpha1\nkind: Addon\nmetadata: {{name: eks-pod-identity-agent}}\nspec: {{version: default}}\n");
    converge(
        &sim,
        &loaded(&files(&[
            ("mng/cluster.yaml", old),
            ("mng/addons.yaml", addons.clone()),
        ])),
    )
    .await;
    // The staging cluster was created at 1.34 and never ran these transitions: waived in
    // git, or the stage gate holds mng1 (tested in upgrade.rs).
    let staging = AUTO_CLUSTER.replace(
        "metadata: {name: auto1}",
        "metadata: {name: auto1, annotations: {keelson.dev/waive-stage-record: \"1.32-1.33, 1.33-1.34\"}}",
    );
    assert_ne!(staging, AUTO_CLUSTER);
    let l = loaded(&files(&[
        ("auto/cluster.yaml", staging),
        ("mng/cluster.yaml", mng_cluster()),
        ("mng/addons.yaml", addons),
    ]));
    let plan = plan_for(&sim, &l).await;
    let waived = render::text(&plan);
    assert!(
        waived.contains("waived by its keelson.dev/waive-stage-record annotation"),
        "{waived}"
    );
    let mng: Vec<String> = plan.clusters[1]
        .steps
        .iter()
        .map(|s| {
            format!(
                "{:?} {} {}",
                s.action,
                s.resource.kind,
                s.changes
                    .first()
                    .map(|c| format!(
                        "{}→{}",
                        c.before.clone().unwrap_or_default(),
                        c.after.clone().unwrap_or_default()
                    ))
                    .unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        mng,
        vec![
            "Update Cluster \"1.32\"→\"1.33\"",
            "Update NodeGroup \"1.32\"→\"1.33\"",
            "Update Cluster null→\"t=<completion time> coredns=v1.11.4-eksbuild.14 eks-pod-identity-agent=v1.3.4-eksbuild.1 vpc-cni=v1.20.4-eksbuild.2\"",
            // v1.3.8 runs on 1.33 and 1.34: it moves before the control plane.
            "Update Addon \"v1.3.4-eksbuild.1\"→\"v1.3.8-eksbuild.2\"",
            "Update Cluster \"1.33\"→\"1.34\"",
            "Update NodeGroup \"1.33\"→\"1.34\"",
            "Update Cluster null→\"t=<completion time> coredns=v1.11.4-eksbuild.14 eks-pod-identity-agent=v1.3.8-eksbuild.2 vpc-cni=v1.20.4-eksbuild.2\"",
        ],
        "{}",
        render::text(&plan)
    );
    converge(&sim, &l).await;
    let after = plan_for(&sim, &l).await;
    assert!(!after.has_changes(), "{}", render::text(&after));
    let state = sim.snapshot();
    let mng1 = &state.clusters["mng1"].live;
    assert_eq!(mng1.version, "1.34");
    // Each hop left its record (and no in-progress marker) for later stages.
    let record = &mng1.tags["keelson.dev/upgraded-1.33-1.34"];
    assert!(
        record.starts_with("t=") && record.contains(" eks-pod-identity-agent=v1.3.8-eksbuild.2"),
        "{record}"
    );
    assert!(mng1.tags.contains_key("keelson.dev/upgraded-1.32-1.33"));
    assert!(!mng1.tags.contains_key("keelson.dev/upgrading"));
}

#[tokio::test]
async fn an_update_already_running_is_waited_for_not_planned_again() {
    let sim = sim();
    let old = AUTO_CLUSTER.replace("\"1.34\"", "\"1.33\"");
    converge(&sim, &loaded(&files(&[("auto/cluster.yaml", old)]))).await;
    // An earlier run issued the hop and died.
    use keelson::ports::EksApi;
    sim.update_cluster_version("auto1", "1.34").await.unwrap();
    let l = loaded(&files(&[]));
    let plan = plan_for(&sim, &l).await;
    let auto = &plan.clusters[0];
    assert!(
        !auto.steps.iter().any(|s| s
            .ops
            .iter()
            .any(|o| matches!(o, Op::UpdateClusterVersion { .. }))),
        "{}",
        render::text(&plan)
    );
    assert!(
        auto.waits
            .iter()
            .any(|w| w.contains("VersionUpdate to 1.34")),
        "{:?}",
        auto.waits
    );
    converge(&sim, &l).await;
    let calls = sim.calls();
    assert_eq!(calls.get("UpdateClusterVersion"), Some(&1), "{calls:?}");
}

#[tokio::test]
async fn nodepool_changes_rotate_nodes_and_pools_are_pruned_before_classes() {
    let sim = sim();
    converge(&sim, &loaded(&files(&[]))).await;
    let l = loaded(&files(&[(
        "auto/nodepool.yaml",
        NODEPOOL.replace("336h", "168h"),
    )]));
    let plan = plan_for(&sim, &l).await;
    assert_eq!(steps(&plan), vec!["Update NodePool batch"]);
    let step = &plan.clusters[0].steps[0];
    assert_eq!(step.action, Action::Update);
    assert_eq!(step.changes[0].path, "spec.template.spec.expireAfter");
    assert!(step.risks.iter().any(|r| r.kind == RiskKind::NodesRotated));

    let l = loaded(&files(&[
        ("auto/nodepool.yaml", String::new()),
        (
            "auto/nodeclass.yaml",
            NODECLASS.split("---").nth(1).unwrap().to_string(),
        ),
    ]));
    let plan = plan_for(&sim, &l).await;
    assert_eq!(
        steps(&plan),
        vec!["Delete NodePool batch", "Delete NodeClass batch"]
    );
}

#[tokio::test]
async fn a_nodepool_change_the_crd_refuses_on_update_blocks_with_what_to_do() {
    // Karpenter v1.14.1 CRD transition rule: has(self.replicas) == has(oldSelf.replicas).
    // A create never trips it, so validate cannot; the plan must, before the API server.
    let sim = sim();
    converge(&sim, &loaded(&files(&[]))).await;
    let l = loaded(&files(&[(
        "auto/nodepool.yaml",
        format!("{NODEPOOL}  replicas: 2\n"),
    )]));
    let plan = plan_for(&sim, &l).await;
    assert!(steps(&plan).is_empty(), "{:?}", steps(&plan));
    let blocked = &plan.clusters[0].blocked;
    assert_eq!(blocked.len(), 1, "{blocked:?}");
    assert!(
        blocked[0].message.contains("static"),
        "{}",
        blocked[0].message
    );
    assert!(
        blocked[0].message.contains("new name"),
        "{}",
        blocked[0].message
    );
}

#[tokio::test]
async fn tags_are_diffed_and_only_adopted_clusters_get_the_marker() {
    let sim = sim();
    converge(&sim, &loaded(&files(&[]))).await;
    let mut state = sim.snapshot();
    state
        .clusters
        .get_mut("auto1")
        .unwrap()
        .live
        .tags
        .remove(MANAGED_TAG);
    sim.replace(state);
    let with_tags = AUTO_CLUSTER.replace("  access:", "  tags: {team: web}\n  access:");
    // Not adopted: the tags change, the marker stays off, and the plan says so.
    let l = loaded(&files(&[("auto/cluster.yaml", with_tags.clone())]));
    let plan = plan_for(&sim, &l).await;
    assert_eq!(steps(&plan), vec!["Update Cluster auto1"]);
    let step = &plan.clusters[0].steps[0];
    assert_eq!(step.changes[0].path, "tags.team");
    assert!(step.reason.is_none(), "{:?}", step.reason);
    assert!(
        plan.clusters[0]
            .notes
            .iter()
            .any(|n| n.starts_with("unmanaged: Cluster auto1")),
        "{:?}",
        plan.clusters[0].notes
    );
    converge(&sim, &l).await;
    assert_eq!(
        sim.snapshot().clusters["auto1"].live.tags.get(MANAGED_TAG),
        None
    );
    // Adopted by the Cluster's annotation: the marker is added.
    let adopted = with_tags.replace(
        "metadata: {name: auto1}",
        "metadata: {name: auto1, annotations: {keelson.dev/adopt: \"true\"}}",
    );
    assert_ne!(adopted, with_tags);
    let l = loaded(&files(&[("auto/cluster.yaml", adopted)]));
    let plan = plan_for(&sim, &l).await;
    assert_eq!(steps(&plan), vec!["Update Cluster auto1"]);
    let step = &plan.clusters[0].steps[0];
    assert!(step.reason.as_deref().unwrap_or_default().contains("adopt"));
    converge(&sim, &l).await;
    assert_eq!(
        sim.snapshot().clusters["auto1"]
            .live
            .tags
            .get(MANAGED_TAG)
            .map(String::as_str),
        Some("platform")
    );
}

#[tokio::test]
async fn add_on_keywords_resolve_per_cluster_version_and_never_downgrade() {
    let sim = sim();
    converge(&sim, &loaded(&files(&[]))).await;
    let live = sim.snapshot();
    let addons = &live.clusters["mng1"].addons;
    // On 1.34 the catalog's default coredns trails its latest.
    assert_eq!(addons["coredns"].live.version, "v1.11.4-eksbuild.14");
    assert_eq!(addons["vpc-cni"].live.version, "v1.20.4-eksbuild.2");
    // Asking for an older exact version is refused, not attempted.
    let l = loaded(&files(&[(
        "mng/addons.yaml",
        ADDONS.replace("{version: latest}", "{version: v1.19.6-eksbuild.1}"),
    )]));
    let plan = plan_for(&sim, &l).await;
    assert!(
        plan.clusters[1].blocked[0]
            .message
            .contains("does not downgrade add-ons"),
        "{:?}",
        plan.clusters[1].blocked
    );
    // Moving `default` to `latest` upgrades.
    let l = loaded(&files(&[(
        "mng/addons.yaml",
        ADDONS.replace("{version: default}", "{version: latest}"),
    )]));
    let plan = plan_for(&sim, &l).await;
    assert_eq!(steps(&plan), vec!["Update Addon coredns"]);
}

#[tokio::test]
async fn a_manifest_using_an_api_the_next_minor_removes_blocks_the_hop_until_fixed() {
    let sim = sim();
    let old = AUTO_CLUSTER.replace("\"1.34\"", "\"1.33\"");
    converge(&sim, &loaded(&files(&[("auto/cluster.yaml", old)]))).await;
    let vap = "apiVersion: admissionregistration.k8s.io/v1beta1\nkind: ValidatingAdmissionPolicy\nmetadata: {name: require-labels}\nspec: {failurePolicy: Fail}\n";
    let l = loaded(&files(&[("auto/manifests/policy.yaml", vap.to_string())]));
    let plan = plan_for(&sim, &l).await;
    let auto = &plan.clusters[0];
    assert!(auto.steps.is_empty());
    let b = &auto.blocked[0].message;
    assert!(b.starts_with("upgrade 1.33→1.34: auto/manifests/policy.yaml:1: ValidatingAdmissionPolicy require-labels uses admissionregistration.k8s.io/v1beta1"), "{b}");
    assert!(
        b.contains("Kubernetes 1.34 no longer serves")
            && b.contains("admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy"),
        "{b}"
    );
    // Fixed in git: the hop goes ahead.
    let l = loaded(&files(&[(
        "auto/manifests/policy.yaml",
        vap.replace("v1beta1", "v1"),
    )]));
    let plan = plan_for(&sim, &l).await;
    assert!(
        plan.clusters[0].blocked.is_empty(),
        "{:?}",
        plan.clusters[0].blocked
    );
    assert!(plan.clusters[0].steps.iter().any(|s| s
        .ops
        .iter()
        .any(|o| matches!(o, Op::UpdateClusterVersion { .. }))));
}

/// A clock that deletes a cluster from the simulator, as an operator in the console
/// would, the first time the executor waits.
struct DeletesOnWait {
    sim: keelson::adapters::sim::Sim,
    cluster: &'static str,
    fired: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl keelson::ports::Clock for DeletesOnWait {
    fn now(&self) -> i64 {
        keelson::ports::Clock::now(&self.sim)
    }
    async fn sleep(&self, secs: u64) {
        keelson::ports::Clock::sleep(&self.sim, secs).await;
        if !self.fired.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let mut state = self.sim.snapshot();
            state.clusters.remove(self.cluster);
            self.sim.replace(state);
        }
    }
}

#[tokio::test]
async fn a_cluster_deleted_out_of_band_mid_apply_ends_clearly_and_is_recreated_once() {
    use keelson::apply::{self, ApplyOptions, Quiet};
    let sim = sim();
    let l = loaded(&files(&[]));
    converge(&sim, &l).await;

    // Scaling the node group starts an update keelson waits on; mid-wait the cluster goes.
    let changed = loaded(&files(&[(
        "mng/ng.yaml",
        NG.replace("maxSize: 5", "maxSize: 6"),
    )]));
    let plan = plan_for(&sim, &changed).await;
    assert_eq!(steps(&plan), vec!["Update NodeGroup general"]);
    let mut ports = ports(&sim);
    ports.clock = std::sync::Arc::new(DeletesOnWait {
        sim: sim.clone(),
        cluster: "mng1",
        fired: false.into(),
    });
    let report = apply::apply(
        &ports,
        &plan,
        ApplyOptions::default(),
        std::sync::Arc::new(Quiet),
    )
    .await;
    assert!(!report.ok());
    let mng = report.clusters.iter().find(|c| c.name == "mng1").unwrap();
    let error = mng.error.clone().unwrap();
    assert!(
        error
            .message
            .contains("cluster mng1 no longer exists: it was deleted outside keelson")
            && error
                .message
                .contains("`~ NodeGroup general` was in progress"),
        "{error}"
    );

    // The next plan recreates the cluster and what it holds, once; applying converges.
    let again = plan_for(&sim, &changed).await;
    assert_eq!(
        steps(&again),
        vec![
            "Create Cluster mng1",
            "Create FargateProfile jobs",
            "Create Addon coredns",
            "Create Addon vpc-cni",
            "Create NodeGroup general",
        ]
    );
    converge(&sim, &changed).await;
    let state = sim.snapshot();
    let cluster = &state.clusters["mng1"];
    assert_eq!(cluster.node_groups.len(), 1);
    assert_eq!(cluster.node_groups["general"].live.spec.scaling.max_size, 6);
    assert!(plan_for(&sim, &changed)
        .await
        .clusters
        .iter()
        .all(|c| c.steps.is_empty()));
}

/// Every idempotency token in a plan, as `Kind name: token`, found in the ops' JSON.
fn tokens(plan: &keelson::plan::Plan) -> Vec<String> {
    fn find(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    if k.to_ascii_lowercase().contains("token") {
                        out.push(x.as_str().unwrap_or_default().to_string());
                    } else {
                        find(x, out);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| find(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for s in plan.clusters.iter().flat_map(|c| &c.steps) {
        for op in &s.ops {
            let mut found = Vec::new();
            find(&serde_json::to_value(op).unwrap(), &mut found);
            for t in found {
                out.push(format!("{} {}: {t}", s.resource.kind, s.resource.name));
            }
        }
    }
    out
}

/// Regression: the executor recognises a create it already issued by its
/// clientRequestToken, so a refactoring must not change the tokens a plan carries. These
/// values were computed before the planner was split into modules.
#[tokio::test]
async fn idempotency_tokens_do_not_change() {
    let sim = sim();
    let repo = files(&[("mng/pod-identity.yaml", PIA.to_string())]);
    let created = tokens(&plan_for(&sim, &loaded(&repo)).await);
    converge(&sim, &loaded(&repo)).await;
    let ng = NG.replace("maxSize: 5", "maxSize: 6").replace(
        "amiType: AL2023_x86_64_STANDARD",
        "amiType: AL2023_x86_64_STANDARD\n  releaseVersion: 1.34.2-20251120",
    );
    let addons = ADDONS.replace(
        "spec: {version: default}",
        "spec: {version: default, configurationValues: '{\"replicaCount\": 3}'}",
    );
    let changed = files(&[
        ("mng/pod-identity.yaml", PIA.to_string()),
        ("mng/ng.yaml", ng),
        ("mng/addons.yaml", addons),
    ]);
    let updated = tokens(&plan_for(&sim, &loaded(&changed)).await);
    assert_eq!(
        created,
        [
            "Cluster auto1: keelson-1a78cb65f38e464f3c3bad85",
            "AccessEntry arn:aws:iam::111122223333:role/batch-node: keelson-1763631d8c0783d4d21965a1",
            "Cluster mng1: keelson-6ea090901ddbae736c2128da",
            "PodIdentityAssociation web/web: keelson-59b36c96f5f19a71b2ad2dde",
            "FargateProfile jobs: keelson-a0d09cca6d9b4f8a5c48bbfc",
            "Addon coredns: keelson-2a4f31b350fca4b065a194d7",
            "Addon vpc-cni: keelson-524dc2d52dca6b5174eb157d",
            "NodeGroup general: keelson-c95c8ed56e38b275d7d4f1f2",
        ]
    );
    // UpdateAddon, UpdateNodegroupConfig, UpdateNodegroupVersion.
    assert_eq!(
        updated,
        [
            "Addon coredns: keelson-fa06c07eb86482f9965fb1ef",
            "NodeGroup general: keelson-d20fda4303e802e5fb42201a",
            "NodeGroup general: keelson-6cd522fbde2872795429b00f",
        ]
    );
}
