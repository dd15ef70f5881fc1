//! The settings that sit beside a kind's main configuration (hybrid-node networks, zonal
//! shift, the control-plane tier and egress mode, Outposts, node repair, warm pools, SSH
//! access, an add-on's namespace, the Pod Identity session policy): validated, planned,
//! applied on the simulator, one-way transitions held behind an opt-in.

use std::sync::{Arc, LazyLock};

use keelson::apply::{self, ApplyOptions, Quiet};
use keelson::model::*;
use keelson::plan::{render, Op, RiskKind};
use keelson::ports::ClusterConfigUpdate;

use crate::simkit::*;
use crate::util::*;

/// The managed-node-group cluster of the other tests, with a service CIDR and access
/// entries.
fn cluster() -> String {
    format!(
        "{}  kubernetesNetwork: {{serviceIpv4Cidr: 172.20.0.0/16}}\n  access: {{authenticationMode: API}}\n",
        MNG_CLUSTER.replace("mng1", "hy1")
    )
}

/// The planner tests' node group with every node-group setting of this area.
static NG: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{}{}",
        crate::planner::NG,
        "  updateConfig: {maxUnavailable: 1, updateStrategy: MINIMAL}
  nodeRepairConfig:
    enabled: true
    maxUnhealthyNodeThresholdPercentage: 20
    nodeRepairConfigOverrides:
      - {nodeMonitoringCondition: AcceleratedHardwareReady, nodeUnhealthyReason: NvidiaXID13Error, minRepairWaitTimeMins: 10, repairAction: Reboot}
  warmPoolConfig: {enabled: true, minSize: 1, poolState: STOPPED}
  remoteAccess: {ec2SshKey: ops, sourceSecurityGroups: [sg-0123456789abcdef0]}
"
    )
});

const ADDON: &str = "\
apiVersion: keelson.dev/v1alpha1
kind: Addon
metadata: {name: coredns}
spec:
  version: default
  namespaceConfig: {namespace: dns}
";

const PIA: &str = "\
apiVersion: keelson.dev/v1alpha1
kind: PodIdentityAssociation
metadata: {name: reader}
spec:
  namespace: apps
  serviceAccount: reader
  roleArn: arn:aws:iam::111122223333:role/shared
  disableSessionTags: true
  policy:
    Version: \"2012-10-17\"
    Statement: [{Effect: Allow, Action: \"s3:GetObject\", Resource: \"arn:aws:s3:::docs/*\"}]
";

/// The repo: Fleet, the cluster with `cluster_extra` appended to its spec, and the other
/// documents as given.
fn repo(cluster_extra: &str, docs: &[(&str, &str)]) -> keelson::config::Loaded {
    let cluster = format!("{}{cluster_extra}", cluster());
    let mut files: Vec<(&str, &str)> =
        vec![("keelson.yaml", FLEET), ("hy1/cluster.yaml", &cluster)];
    files.extend_from_slice(docs);
    let l = load(&files);
    assert!(l.is_valid(), "{}", show(&l.diagnostics));
    l
}

fn all_docs() -> Vec<(&'static str, &'static str)> {
    vec![
        ("hy1/ng.yaml", NG.as_str()),
        ("hy1/addon.yaml", ADDON),
        ("hy1/pia.yaml", PIA),
    ]
}

const CREATE_EXTRA: &str = "  remoteNetworkConfig:
    remoteNodeNetworks: [{cidrs: [10.80.0.0/16]}]
    remotePodNetworks: [{cidrs: [10.90.0.0/16]}]
  zonalShiftConfig: {enabled: true}
  controlPlaneScalingConfig: {tier: tier-xl}
  bootstrapSelfManagedAddons: false
";

/// Apply `plan` on the simulator, with or without the opt-in for one-way changes.
async fn run(
    sim: &keelson::adapters::sim::Sim,
    plan: &keelson::plan::Plan,
    allow_irreversible: bool,
) -> apply::ApplyReport {
    let opts = ApplyOptions {
        allow_irreversible,
        ..ApplyOptions::default()
    };
    apply::apply(&ports(sim), plan, opts, Arc::new(Quiet)).await
}

#[tokio::test]
async fn every_setting_is_sent_at_create_lands_on_the_simulator_and_then_matches() {
    let sim = sim();
    let l = repo(CREATE_EXTRA, &all_docs());
    let plan = plan_for(&sim, &l).await;
    let Op::CreateCluster(create) = &plan.clusters[0].steps[0].ops[0] else {
        panic!("{}", render::text(&plan));
    };
    assert_eq!(create.spec.bootstrap_self_managed_addons, Some(false));
    converge(&sim, &l).await;
    let again = plan_for(&sim, &l).await;
    assert!(!again.has_changes(), "{}", render::text(&again));

    let state = sim.snapshot();
    let c = &state.clusters["hy1"];
    let live = &c.live;
    let net = live.settings.remote_network_config.as_ref().unwrap();
    assert_eq!(net.remote_node_networks[0].cidrs, ["10.80.0.0/16"]);
    assert_eq!(net.remote_pod_networks[0].cidrs, ["10.90.0.0/16"]);
    assert_eq!(
        live.settings.zonal_shift_config.map(|z| z.enabled),
        Some(true)
    );
    assert_eq!(
        live.settings.control_plane_scaling_config.map(|s| s.tier),
        Some(ControlPlaneTier::TierXl)
    );
    // EKS's default egress mode is reported, and is not drift for a repo that omits it.
    assert_eq!(
        live.vpc.control_plane_egress_mode,
        Some(ControlPlaneEgressMode::AwsManaged)
    );
    let ng = &c.node_groups["general"].live.spec;
    assert_eq!(
        ng.update_config.and_then(|u| u.update_strategy),
        Some(NodeGroupUpdateStrategy::Minimal)
    );
    let repair = ng.node_repair_config.as_ref().unwrap();
    assert!(repair.enabled);
    assert_eq!(
        repair.node_repair_config_overrides[0].repair_action,
        RepairAction::Reboot
    );
    assert_eq!(
        ng.warm_pool_config.as_ref().and_then(|w| w.min_size),
        Some(1)
    );
    assert_eq!(
        ng.remote_access
            .as_ref()
            .and_then(|r| r.ec2_ssh_key.as_deref()),
        Some("ops")
    );
    assert_eq!(
        c.addons["coredns"]
            .live
            .namespace_config
            .as_ref()
            .map(|n| n.namespace.as_str()),
        Some("dns")
    );
    let pia = c.pod_identities.values().next().unwrap();
    assert_eq!(pia.spec.policy.as_ref().unwrap()["Version"], "2012-10-17");
}

#[tokio::test]
async fn zonal_shift_tier_and_hybrid_networks_change_in_place_one_update_each() {
    let sim = sim();
    converge(&sim, &repo(CREATE_EXTRA, &[])).await;
    let changed = CREATE_EXTRA
        .replace("10.80.0.0/16", "10.81.0.0/16")
        .replace("enabled: true", "enabled: false")
        .replace("tier-xl", "tier-2xl");
    let l = repo(&changed, &[]);
    let plan = plan_for(&sim, &l).await;
    let c = &plan.clusters[0];
    let changes: Vec<String> = c
        .steps
        .iter()
        .flat_map(|s| s.changes.iter().map(|ch| ch.path.clone()))
        .collect();
    assert_eq!(
        changes,
        [
            "remoteNetworkConfig.remoteNodeNetworks",
            "zonalShiftConfig.enabled",
            "controlPlaneScalingConfig.tier"
        ],
        "{}",
        render::text(&plan)
    );
    let calls: Vec<&ClusterConfigUpdate> = c
        .steps
        .iter()
        .flat_map(|s| &s.ops)
        .filter_map(|op| match op {
            Op::UpdateClusterConfig { change } => Some(change),
            _ => None,
        })
        .collect();
    assert!(matches!(
        calls[2],
        ClusterConfigUpdate::ControlPlaneScaling {
            tier: ControlPlaneTier::Tier2Xl
        }
    ));
    assert!(c.steps.iter().all(|s| !s.needs_opt_in()));
    converge(&sim, &l).await;
    assert!(!plan_for(&sim, &l).await.has_changes());
    // Going down a tier is allowed, with a note on what EKS may refuse.
    let down = repo(&changed.replace("tier-2xl", "standard"), &[]);
    let plan = plan_for(&sim, &down).await;
    assert!(
        plan.clusters[0].notes.iter().any(|n| n.contains("etcd")),
        "{}",
        render::text(&plan)
    );
}

#[tokio::test]
async fn egress_leaving_aws_managed_is_one_way_and_runs_only_with_the_opt_in() {
    let sim = sim();
    converge(&sim, &repo("", &[])).await;
    let text = cluster().replace(
        "  kubernetesNetwork",
        "    controlPlaneEgressMode: CUSTOMER_ROUTED\n  kubernetesNetwork",
    );
    let routed = {
        let l = load(&[("keelson.yaml", FLEET), ("hy1/cluster.yaml", &text)]);
        assert!(l.is_valid(), "{}", show(&l.diagnostics));
        l
    };
    let plan = plan_for(&sim, &routed).await;
    let step = &plan.clusters[0].steps[0];
    assert!(step.needs_opt_in());
    assert_eq!(step.risks[0].kind, RiskKind::Irreversible);
    let shown = render::text(&plan);
    assert!(
        shown.contains("! irreversible (one-way; apply needs --allow-irreversible): controlPlaneEgressMode CUSTOMER_ROUTED cannot be changed back to AWS_MANAGED"),
        "{shown}"
    );
    // Without the opt-in nothing of the cluster's plan runs.
    let report = run(&sim, &plan, false).await;
    let err = report.clusters[0].error.as_ref().unwrap();
    assert!(err.message.contains("opt-in"), "{err:?}");
    assert_eq!(report.clusters[0].steps_done, 0);
    assert_eq!(
        sim.snapshot().clusters["hy1"]
            .live
            .vpc
            .control_plane_egress_mode,
        Some(ControlPlaneEgressMode::AwsManaged)
    );
    // With it, the change lands.
    let report = run(&sim, &plan, true).await;
    assert!(report.ok(), "{report:?}");
    assert!(!plan_for(&sim, &routed).await.has_changes());
    // Back to AWS_MANAGED is refused by the plan, as EKS would.
    let back = load(&[
        ("keelson.yaml", FLEET),
        (
            "hy1/cluster.yaml",
            &text.replace("CUSTOMER_ROUTED", "AWS_MANAGED"),
        ),
    ]);
    let plan = plan_for(&sim, &back).await;
    assert!(plan.is_blocked());
    assert!(
        plan.clusters[0].blocked[0]
            .message
            .contains("cannot go back to AWS_MANAGED"),
        "{}",
        render::text(&plan)
    );
}

#[tokio::test]
async fn node_group_settings_change_in_place_and_ssh_access_replaces_the_group() {
    let sim = sim();
    converge(&sim, &repo("", &[("hy1/ng.yaml", NG.as_str())])).await;
    let ng = NG
        .replace("updateStrategy: MINIMAL", "updateStrategy: DEFAULT")
        .replace(
            "maxUnhealthyNodeThresholdPercentage: 20",
            "maxUnhealthyNodeThresholdPercentage: 30",
        )
        .replace("poolState: STOPPED", "poolState: RUNNING");
    let l = repo("", &[("hy1/ng.yaml", &ng)]);
    let plan = plan_for(&sim, &l).await;
    assert_eq!(
        steps(&plan),
        ["Update NodeGroup general"],
        "{}",
        render::text(&plan)
    );
    let paths: Vec<&str> = plan.clusters[0].steps[0]
        .changes
        .iter()
        .map(|c| c.path.as_str())
        .collect();
    assert_eq!(
        paths,
        [
            "nodeRepairConfig.maxUnhealthyNodeThresholdPercentage",
            "updateConfig.updateStrategy",
            "warmPoolConfig.poolState"
        ]
    );
    converge(&sim, &l).await;
    assert!(!plan_for(&sim, &l).await.has_changes());
    let state = sim.snapshot();
    let live = &state.clusters["hy1"].node_groups["general"].live.spec;
    assert_eq!(
        live.warm_pool_config.as_ref().and_then(|w| w.pool_state),
        Some(WarmPoolState::Running)
    );
    // remoteAccess is not in UpdateNodegroupConfig: a change replaces the group.
    let l = repo(
        "",
        &[(
            "hy1/ng.yaml",
            &ng.replace("ec2SshKey: ops", "ec2SshKey: ops2"),
        )],
    );
    let plan = plan_for(&sim, &l).await;
    assert_eq!(
        steps(&plan),
        ["Replace NodeGroup general"],
        "{}",
        render::text(&plan)
    );
    assert_eq!(
        plan.clusters[0].steps[0].changes[0].path,
        "remoteAccess.ec2SshKey"
    );
}

#[tokio::test]
async fn an_addon_namespace_is_fixed_once_installed_and_a_session_policy_is_updated_and_removed() {
    let sim = sim();
    converge(
        &sim,
        &repo("", &[("hy1/addon.yaml", ADDON), ("hy1/pia.yaml", PIA)]),
    )
    .await;
    let moved = ADDON.replace("namespace: dns", "namespace: dns2");
    let plan = plan_for(
        &sim,
        &repo("", &[("hy1/addon.yaml", &moved), ("hy1/pia.yaml", PIA)]),
    )
    .await;
    assert!(plan.is_blocked());
    assert!(plan.clusters[0].blocked[0]
        .message
        .contains("`namespaceConfig.namespace` is set when the add-on is created"));

    // The same policy written as JSON text is no change.
    let as_text = PIA.replace(
        "  policy:\n    Version: \"2012-10-17\"\n    Statement: [{Effect: Allow, Action: \"s3:GetObject\", Resource: \"arn:aws:s3:::docs/*\"}]\n",
        "  policy: '{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::docs/*\"}]}'\n",
    );
    assert_ne!(as_text, PIA);
    let l = repo("", &[("hy1/addon.yaml", ADDON), ("hy1/pia.yaml", &as_text)]);
    assert!(!plan_for(&sim, &l).await.has_changes());
    // A changed policy is one update; a removed one is sent as an empty string.
    let changed = PIA.replace("docs/*", "docs/public/*");
    let l = repo("", &[("hy1/addon.yaml", ADDON), ("hy1/pia.yaml", &changed)]);
    let plan = plan_for(&sim, &l).await;
    assert_eq!(steps(&plan), ["Update PodIdentityAssociation apps/reader"]);
    assert!(plan.clusters[0].steps[0].changes[0]
        .path
        .starts_with("policy.Statement"));
    converge(&sim, &l).await;
    let removed = PIA.split("  policy:").next().unwrap().to_string();
    let l = repo("", &[("hy1/addon.yaml", ADDON), ("hy1/pia.yaml", &removed)]);
    let plan = plan_for(&sim, &l).await;
    let Op::UpdatePodIdentity { spec, .. } = &plan.clusters[0].steps[0].ops[0] else {
        panic!("{}", render::text(&plan));
    };
    assert_eq!(spec.policy, Some(serde_json::json!("")));
    converge(&sim, &l).await;
    assert!(!plan_for(&sim, &l).await.has_changes());
    let state = sim.snapshot();
    assert_eq!(
        state.clusters["hy1"]
            .pod_identities
            .values()
            .next()
            .unwrap()
            .spec
            .policy,
        None
    );
}

#[tokio::test]
async fn a_one_way_authentication_mode_change_needs_the_opt_in_too() {
    let sim = sim();
    let cm = cluster().replace(
        "authenticationMode: API",
        "authenticationMode: API_AND_CONFIG_MAP",
    );
    let l = load(&[("keelson.yaml", FLEET), ("hy1/cluster.yaml", &cm)]);
    converge(&sim, &l).await;
    let plan = plan_for(&sim, &repo("", &[])).await;
    assert_eq!(
        plan.clusters[0].one_way().as_deref(),
        Some("Cluster hy1: authenticationMode API cannot be undone")
    );
    let report = run(&sim, &plan, false).await;
    assert!(!report.ok());
    let report = run(&sim, &plan, true).await;
    assert!(report.ok(), "{report:?}");
}

/// `(file, spec lines)` → the rule ids reported.
fn rules_of(files: &[(&str, &str)]) -> Vec<&'static str> {
    let l = load(files);
    let mut ids: Vec<&'static str> = l.diagnostics.iter().map(|d| d.rule).collect();
    ids.dedup();
    ids
}

#[test]
fn hybrid_network_cidrs_follow_the_api_reference() {
    let base = cluster();
    // Source: botocore eks RemoteNodeNetwork/RemotePodNetwork `cidrs` documentation.
    let with = |nodes: &str, pods: &str| {
        let c = format!("{base}  remoteNetworkConfig:\n    remoteNodeNetworks: [{{cidrs: [{nodes}]}}]\n    remotePodNetworks: [{{cidrs: [{pods}]}}]\n");
        rules_of(&[("keelson.yaml", FLEET), ("hy1/cluster.yaml", &c)])
    };
    assert!(with("10.80.0.0/16", "192.168.0.0/16").is_empty());
    assert!(with("172.16.5.0/24", "10.1.2.3/32").is_empty());
    assert_eq!(with("8.8.8.0/24", "10.90.0.0/16"), ["remote-network-cidr"]);
    assert_eq!(with("10.0.0.0/7", "10.90.0.0/16"), ["remote-network-cidr"]);
    assert_eq!(
        with("10.80.0.0/16", "10.80.4.0/24"),
        ["remote-network-cidr"]
    );
    assert_eq!(
        with("172.20.0.0/24", "10.90.0.0/16"),
        ["remote-network-cidr"]
    );
    assert_eq!(
        with("10.80.0.999/16", "10.90.0.0/16"),
        ["remote-network-cidr"]
    );
    // At most one network per list (`RemoteNodeNetworkList` max 1).
    let two = format!("{base}  remoteNetworkConfig:\n    remoteNodeNetworks: [{{cidrs: [10.1.0.0/16]}}, {{cidrs: [10.2.0.0/16]}}]\n");
    assert_eq!(
        rules_of(&[("keelson.yaml", FLEET), ("hy1/cluster.yaml", &two)]),
        ["schema-value"]
    );
}

#[test]
fn repair_warm_pool_and_session_policy_rules_report_at_the_field() {
    let base = cluster();
    let cluster = [("keelson.yaml", FLEET), ("hy1/cluster.yaml", base.as_str())];
    let ng = |ng: &str| {
        let mut f = cluster.to_vec();
        f.push(("hy1/ng.yaml", ng));
        rules_of(&f)
    };
    assert!(ng(&NG).is_empty());
    let both = NG.replace(
        "maxUnhealthyNodeThresholdPercentage: 20",
        "maxUnhealthyNodeThresholdPercentage: 20\n    maxUnhealthyNodeThresholdCount: 2",
    );
    assert_eq!(ng(&both), ["nodegroup-repair-config"]);
    let bottlerocket = NG
        .replace("AL2023_x86_64_STANDARD", "BOTTLEROCKET_x86_64")
        .replace("STOPPED", "HIBERNATED");
    assert_eq!(ng(&bottlerocket), ["nodegroup-warm-pool"]);
    let over = NG.replace(
        "minSize: 1, poolState",
        "minSize: 5, maxGroupPreparedCapacity: 3, poolState",
    );
    assert_eq!(ng(&over), ["nodegroup-warm-pool"]);
    assert_eq!(
        ng(&NG.replace("updateStrategy: MINIMAL", "updateStrategy: FAST")),
        ["schema-enum"]
    );
    assert_eq!(
        ng(&NG.replace("repairAction: Reboot", "repairAction: Restart")),
        ["schema-enum"]
    );

    let pia = |p: &str| {
        let mut f = cluster.to_vec();
        f.push(("hy1/pia.yaml", p));
        let l = load(&f);
        l.diagnostics
            .iter()
            .map(|d| (d.rule, d.line))
            .collect::<Vec<_>>()
    };
    assert!(pia(PIA).is_empty());
    assert_eq!(
        pia(&PIA.replace("  disableSessionTags: true\n", "")),
        // Reported at the policy's value: the mapping on the line below its key.
        [("pod-identity-policy", 9)]
    );
    let not_a_document = format!(
        "{}  policy: '[1]'\n",
        PIA.split("  policy:").next().unwrap()
    );
    assert_eq!(pia(&not_a_document), [("pod-identity-policy", 9)]);
}

#[test]
fn the_egress_tier_and_namespace_values_are_the_apis() {
    let base = cluster();
    let c = |extra: &str| {
        let text = cluster().replace(
            "  kubernetesNetwork",
            &format!("{extra}  kubernetesNetwork"),
        );
        rules_of(&[("keelson.yaml", FLEET), ("hy1/cluster.yaml", &text)])
    };
    assert!(c("    controlPlaneEgressMode: CUSTOMER_ISOLATED\n").is_empty());
    assert_eq!(
        c("    controlPlaneEgressMode: customer_routed\n"),
        ["schema-enum"]
    );
    assert!(c("  controlPlaneScalingConfig: {tier: tier-8xl}\n").is_empty());
    assert_eq!(
        c("  controlPlaneScalingConfig: {tier: tier-16xl}\n"),
        ["schema-enum"]
    );
    assert!(c("  outpostConfig: {outpostArns: [\"arn:aws:outposts:eu-west-1:111122223333:outpost/op-0123\"], controlPlaneInstanceType: m5.large}\n").is_empty());
    assert_eq!(
        c("  outpostConfig: {outpostArns: [], controlPlaneInstanceType: m5.large}\n"),
        ["schema-value"]
    );
    let addon = |ns: &str| {
        let a = ADDON.replace("namespace: dns", &format!("namespace: {ns}"));
        rules_of(&[
            ("keelson.yaml", FLEET),
            ("hy1/cluster.yaml", base.as_str()),
            ("hy1/addon.yaml", &a),
        ])
    };
    assert!(addon("kube-dns").is_empty());
    assert_eq!(addon("Kube_DNS"), ["schema-value"]);
}

#[test]
fn keelson_apply_refuses_a_one_way_change_without_allow_irreversible() {
    let (_d, repo) = crate::plan_cli::fleet();
    let r = repo.to_str().unwrap();
    let apply = |extra: &[&str]| {
        let mut args = vec![
            "apply",
            "--repo",
            r,
            "--auto-approve",
            "--sim-speed",
            "instant",
        ];
        args.extend_from_slice(extra);
        keelson_cli(&args)
    };
    let o = apply(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", out_and_err(&o));
    let file = repo.join("clusters/staging-apne1/cluster.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let routed = text.replace(
        "    publicAccessCidrs: [\"203.0.113.0/24\"]\n",
        "    publicAccessCidrs: [\"203.0.113.0/24\"]\n    controlPlaneEgressMode: CUSTOMER_ROUTED\n",
    );
    assert_ne!(routed, text);
    std::fs::write(&file, routed).unwrap();

    let o = apply(&[]);
    let shown = out_and_err(&o);
    assert_eq!(o.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("irreversible (one-way; apply needs --allow-irreversible)"),
        "{shown}"
    );
    assert!(
        shown.contains("Refusing to apply: 1 cluster's plan makes a change that is one-way"),
        "{shown}"
    );
    assert!(!shown.contains("Apply complete"), "{shown}");

    let o = apply(&["--allow-irreversible"]);
    let shown = out_and_err(&o);
    assert_eq!(o.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("The live state now matches the repository."),
        "{shown}"
    );
}
