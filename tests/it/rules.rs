//! One case per rule: a small repo that breaks exactly that rule, and where the
//! diagnostic must point.

use std::collections::BTreeSet;

use keelson::config::Rule;

use crate::util::*;

const NG: &str = "\
apiVersion: keelson.dev/v1alpha1
kind: NodeGroup
metadata: {name: general}
spec:
  nodeRoleArn: arn:aws:iam::111122223333:role/node
  subnetIds: [subnet-0a1b2c3d4e5f60001]
  amiType: AL2023_x86_64_STANDARD
  scaling: {minSize: 1, maxSize: 5, desiredSize: 2}
";

const NODEPOOL: &str = "\
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

const ADDON: &str = "\
apiVersion: keelson.dev/v1alpha1
kind: Addon
metadata: {name: amazon-cloudwatch-observability}
spec:
  version: latest
";

pub(crate) const PIA: &str = "\
apiVersion: keelson.dev/v1alpha1
kind: PodIdentityAssociation
metadata: {name: web}
spec:
  namespace: web
  serviceAccount: web
  roleArn: arn:aws:iam::111122223333:role/web
";

const ENTRY: &str = "\
apiVersion: keelson.dev/v1alpha1
kind: AccessEntry
metadata: {name: admins}
spec:
  principalArn: arn:aws:iam::111122223333:role/admin
  policies:
    - policyArn: arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy
      accessScope: {type: cluster}
";

fn base() -> Vec<(String, String)> {
    vec![
        ("keelson.yaml".into(), FLEET.into()),
        ("auto/cluster.yaml".into(), AUTO_CLUSTER.into()),
        ("auto/nodeclass.yaml".into(), NODECLASS.into()),
        ("auto/nodepool.yaml".into(), NODEPOOL.into()),
        ("auto/addons.yaml".into(), ADDON.into()),
        ("mng/cluster.yaml".into(), MNG_CLUSTER.into()),
        ("mng/nodegroups.yaml".into(), NG.into()),
        ("mng/access.yaml".into(), ENTRY.into()),
        ("mng/pia.yaml".into(), PIA.into()),
    ]
}

/// A change to the base repo: replace (or add) a file, or remove one (`None`).
type Edit = (&'static str, Option<String>);

struct Case {
    rule: Rule,
    edits: Vec<Edit>,
    /// The file the diagnostic must name.
    file: &'static str,
    /// Text the reported line must contain.
    needle: &'static str,
}

fn set(path: &'static str, text: impl Into<String>) -> Edit {
    (path, Some(text.into()))
}

fn case(rule: Rule, edits: Vec<Edit>, file: &'static str, needle: &'static str) -> Case {
    Case {
        rule,
        edits,
        file,
        needle,
    }
}

fn cases() -> Vec<Case> {
    use Rule::*;
    let auto = |from: &str, to: &str| {
        assert!(AUTO_CLUSTER.contains(from), "{from}");
        AUTO_CLUSTER.replace(from, to)
    };
    let ng = |from: &str, to: &str| {
        assert!(NG.contains(from), "{from}");
        NG.replace(from, to)
    };
    let pool = |from: &str, to: &str| {
        assert!(NODEPOOL.contains(from), "{from}");
        NODEPOOL.replace(from, to)
    };
    use crate::classes::{INGRESS_CLASS as IC, PARAMS, STORAGE_CLASS as SC};
    let classes = |extra: Vec<Edit>| {
        let mut e = vec![
            set("auto/sc.yaml", SC),
            set("auto/ic.yaml", IC),
            set("auto/params.yaml", PARAMS),
        ];
        e.extend(extra);
        e
    };
    vec![
        case(StorageClassProvisioner, classes(vec![set("auto/sc.yaml", SC.replace("ebs.csi.eks.amazonaws.com", "ebs.csi.aws.com"))]), "auto/sc.yaml", "provisioner: ebs.csi.aws.com"),
        case(StorageClassProvisioner, vec![set("mng/sc.yaml", SC)], "mng/sc.yaml", "provisioner:"),
        case(IngressClassController, classes(vec![set("auto/ic.yaml", IC.replace("eks.amazonaws.com/alb", "ingress.k8s.aws/alb"))]), "auto/ic.yaml", "controller: ingress.k8s.aws/alb"),
        case(IngressClassController, vec![set("mng/params.yaml", PARAMS)], "mng/params.yaml", "kind:"),
        case(IngressClassParameters, classes(vec![set("auto/ic.yaml", IC.replace("apiGroup: eks.amazonaws.com", "apiGroup: elbv2.k8s.aws"))]), "auto/ic.yaml", "apiGroup: elbv2.k8s.aws"),
        case(UnknownIngressClassParams, classes(vec![set("auto/ic.yaml", IC.replace("    name: alb", "    name: alb-public"))]), "auto/ic.yaml", "name: alb-public"),
        case(IngressClassParamsSubnets, classes(vec![set("auto/params.yaml", PARAMS.replace("{matchTags:", "{ids: [subnet-0a1b], matchTags:"))]), "auto/params.yaml", "subnets:"),
        case(DefaultClassDuplicate, classes(vec![set("auto/sc2.yaml", SC.replace("auto-ebs-sc", "fast"))]), "auto/sc2.yaml", "is-default-class"),
        case(DefaultClassDuplicate, classes(vec![set("auto/ic2.yaml", IC.replace("name: alb\n  annotations", "name: alb2\n  annotations"))]), "auto/ic2.yaml", "is-default-class"),
        case(BootstrapManifest, vec![set("auto/bootstrap/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  labels: {team: a}\n")], "auto/bootstrap/ns.yaml", "metadata:"),
        case(BootstrapManifest, vec![set("auto/bootstrap/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")], "auto/bootstrap/ns.yaml", "name: a"),
        case(YamlSyntax, vec![set("auto/x.yaml", "a: [1, 2\nb: 3\n")], "auto/x.yaml", ""),
        case(YamlLimit, vec![set("auto/x.yaml", "[".repeat(5000) + &"]".repeat(5000))], "auto/x.yaml", "[[["),
        case(YamlDuplicateKey, vec![set("auto/addons.yaml", format!("{ADDON}spec: {{}}\n"))], "auto/addons.yaml", "spec:"),
        case(YamlUnsupported, vec![set("auto/addons.yaml", ADDON.replace("latest", "!Sub latest"))], "auto/addons.yaml", "!Sub"),
        case(EmptyFile, vec![set("auto/empty.yaml", "# nothing here yet\n")], "auto/empty.yaml", ""),
        case(NotAMapping, vec![set("auto/list.yaml", "- a\n- b\n")], "auto/list.yaml", "- a"),
        case(MissingKind, vec![set("auto/x.yaml", "apiVersion: v1\nmetadata: {name: x}\n")], "auto/x.yaml", "apiVersion"),
        case(UnknownKind, vec![set("auto/addons.yaml", ADDON.replace("kind: Addon", "kind: AddOn"))], "auto/addons.yaml", "kind: AddOn"),
        case(SchemaType, vec![set("auto/cluster.yaml", auto("version: \"1.34\"", "version: 1.34"))], "auto/cluster.yaml", "version: 1.34"),
        case(SchemaEnum, vec![set("auto/cluster.yaml", auto("authenticationMode: API", "authenticationMode: api"))], "auto/cluster.yaml", "authenticationMode"),
        case(SchemaRequired, vec![set("auto/cluster.yaml", auto("  region: ap-northeast-1\n", ""))], "auto/cluster.yaml", "spec:"),
        case(UnknownField, vec![set("auto/cluster.yaml", auto("  region:", "  regoin:"))], "auto/cluster.yaml", "regoin"),
        case(SchemaValue, vec![set("auto/cluster.yaml", auto("subnet-0a1b2c3d4e5f60002", "subnet-XYZ"))], "auto/cluster.yaml", "subnet-XYZ"),
        case(SchemaValue, vec![set("keelson.yaml", FLEET.replace("soak: 24h", "soak: 99999999999999999999h"))], "keelson.yaml", "99999999999999999999h"),
        case(VersionNotInCalendar, vec![set("auto/cluster.yaml", auto("\"1.34\"", "\"1.37\""))], "auto/cluster.yaml", "1.37"),
        case(UnsupportedVersion, vec![set("auto/cluster.yaml", auto("\"1.34\"", "\"1.20\""))], "auto/cluster.yaml", "1.20"),
        case(UnsupportedVersion, vec![set("auto/cluster.yaml", auto("\"1.34\"", "\"1.29\""))], "auto/cluster.yaml", "1.29"),
        case(ExtendedSupport, vec![set("auto/cluster.yaml", auto("\"1.34\"", "\"1.33\""))], "auto/cluster.yaml", "1.33"),
        case(FleetMissing, vec![("keelson.yaml", None)], "auto/cluster.yaml", "apiVersion"),
        case(FleetDuplicate, vec![set("other/fleet.yaml", FLEET)], "other/fleet.yaml", "apiVersion"),
        case(StageDuplicate, vec![set("keelson.yaml", format!("{FLEET}    - {{name: prod}}\n"))], "keelson.yaml", "name: prod"),
        // The base repo's 24h soak is inside the window; 10 days is not.
        case(SoakPastRollbackWindow, vec![set("keelson.yaml", FLEET.replace("soak: 24h", "soak: 10d"))], "keelson.yaml", "10d"),
        case(BakeNeedsSkew, vec![set("keelson.yaml", format!("{}  policy:\n    maxKubeletSkew: 0\n", FLEET.replace("soak: 24h}", "soak: 24h, upgrade: {nodes: bake}}")))], "keelson.yaml", "bake"),
        case(BakeWithoutSoak, vec![set("keelson.yaml", format!("{FLEET}  policy:\n    upgrade: {{nodes: bake}}\n"))], "keelson.yaml", "bake"),
        case(OperatorRoleAccount, vec![set("auto/cluster.yaml", auto("  region: ap-northeast-1\n", "  region: ap-northeast-1\n  account: \"111122223333\"\n  operatorRoleArn: arn:aws:iam::444455556666:role/keelson\n"))], "auto/cluster.yaml", "operatorRoleArn"),
        case(NotificationTarget, vec![set("keelson.yaml", format!("{FLEET}  policy:\n    notifications:\n      - {{type: slack, urlFrom: {{env: A, file: /b}}}}\n"))], "keelson.yaml", "urlFrom"),
        case(UnknownStage, vec![set("auto/cluster.yaml", auto("stage: staging", "stage: stage"))], "auto/cluster.yaml", "stage: stage"),
        case(DuplicateCluster, vec![set("mng/cluster.yaml", MNG_CLUSTER.replace("name: mng1", "name: auto1"))], "mng/cluster.yaml", "name: auto1"),
        case(ClusterDirConflict, vec![set("mng/cluster.yaml", format!("{MNG_CLUSTER}---\n{}", MNG_CLUSTER.replace("mng1", "mng2")))], "mng/cluster.yaml", "apiVersion"),
        case(DuplicateDocument, vec![set("auto/more.yaml", ADDON)], "auto/more.yaml", "name: amazon-cloudwatch-observability"),
        case(OrphanDocument, vec![set("loose/addon.yaml", ADDON)], "loose/addon.yaml", "apiVersion"),
        case(AutoModeTrio, vec![set("auto/cluster.yaml", auto("loadBalancing: {enabled: true}", "loadBalancing: {enabled: false}"))], "auto/cluster.yaml", "compute:"),
        case(AutoModeNodeRole, vec![set("auto/cluster.yaml", auto("      nodeRoleArn: arn:aws:iam::111122223333:role/node\n", ""))], "auto/cluster.yaml", "enabled: true"),
        case(AutoModeAccess, vec![set("auto/cluster.yaml", auto("authenticationMode: API", "authenticationMode: CONFIG_MAP"))], "auto/cluster.yaml", "CONFIG_MAP"),
        case(BuiltinPoolName, vec![set("auto/cluster.yaml", auto("[system, general-purpose]", "[system, gpu]"))], "auto/cluster.yaml", "gpu"),
        case(BuiltinPoolOverride, vec![set("auto/pool2.yaml", NODEPOOL.replace("metadata: {name: batch}", "metadata: {name: system}"))], "auto/pool2.yaml", "name: system"),
        case(NodePoolWithoutAutoMode, vec![set("mng/nodepool.yaml", NODEPOOL)], "mng/nodepool.yaml", "kind: NodePool"),
        case(NodeClassRoleName, vec![set("auto/nodeclass.yaml", NODECLASS.replace("role: batch-node", "role: arn:aws:iam::111122223333:role/batch-node"))], "auto/nodeclass.yaml", "role: arn"),
        case(NodeClassRoleName, vec![set("auto/nodeclass.yaml", NODECLASS.replace("role: batch-node", &format!("role: {}", "r".repeat(65))))], "auto/nodeclass.yaml", "rrrr"),
        case(NodeClassRoleOrProfile, vec![set("auto/nodeclass.yaml", NODECLASS.replace("role: batch-node", "role: batch-node\n  instanceProfile: eks-batch"))], "auto/nodeclass.yaml", "instanceProfile"),
        case(NodeClassAccessEntry, vec![set("auto/nodeclass.yaml", NODECLASS.replace("role/batch-node", "role/other-node"))], "auto/nodeclass.yaml", "role: batch-node"),
        case(NodePoolExpireNever, vec![set("auto/nodepool.yaml", pool("expireAfter: 336h", "expireAfter: Never"))], "auto/nodepool.yaml", "Never"),
        case(NodePoolLifetime, vec![set("auto/nodepool.yaml", pool("expireAfter: 336h", "expireAfter: 480h\n      terminationGracePeriod: 48h"))], "auto/nodepool.yaml", "480h"),
        case(UnknownNodeClass, vec![set("auto/nodepool.yaml", pool("name: batch}", "name: bacth}"))], "auto/nodepool.yaml", "bacth"),
        case(NodeClassRefKind, vec![set("auto/nodepool.yaml", pool("{group: eks.amazonaws.com, kind: NodeClass", "{group: karpenter.k8s.aws, kind: EC2NodeClass"))], "auto/nodepool.yaml", "EC2NodeClass"),
        case(NodePoolLifetime, vec![set("auto/nodepool.yaml", pool("expireAfter: 336h", "terminationGracePeriod: 200h"))], "auto/nodepool.yaml", "200h"),
        case(NodePoolRequirement, vec![set("auto/nodepool.yaml", pool("values: [arm64]", "values: []"))], "auto/nodepool.yaml", "kubernetes.io/arch"),
        case(NodePoolLabel, vec![set("auto/nodepool.yaml", pool("key: kubernetes.io/arch", "key: kubernetes.io/hostname"))], "auto/nodepool.yaml", "kubernetes.io/hostname"),
        case(NodePoolBudget, vec![set("auto/nodepool.yaml", format!("{NODEPOOL}  disruption:\n    consolidateAfter: 1m\n    budgets:\n      - {{nodes: \"0\", schedule: \"@daily\"}}\n"))], "auto/nodepool.yaml", "@daily"),
        case(NodePoolBudgetCron, vec![set("auto/nodepool.yaml", format!("{NODEPOOL}  disruption:\n    consolidateAfter: 1m\n    budgets:\n      - {{nodes: \"0\", schedule: \"61 9 * * *\", duration: 1h}}\n"))], "auto/nodepool.yaml", "61 9"),
        case(NodePoolStatic, vec![set("auto/nodepool.yaml", format!("{NODEPOOL}  replicas: 2\n  weight: 10\n"))], "auto/nodepool.yaml", "weight"),
        case(KubeObjectName, vec![set("auto/nodepool.yaml", pool("metadata: {name: batch}", "metadata: {name: Batch_Pool}"))], "auto/nodepool.yaml", "Batch_Pool"),
        case(NodeClassEphemeralStorage, vec![set("auto/nodeclass.yaml", NODECLASS.replace("role: batch-node\n", "role: batch-node\n  ephemeralStorage: {size: 60000Gi}\n"))], "auto/nodeclass.yaml", "60000Gi"),
        case(NodeClassPodNetworking, vec![set("auto/nodeclass.yaml", NODECLASS.replace("role: batch-node\n", "role: batch-node\n  podSubnetSelectorTerms: [{tags: {kubernetes.io/role/pod: \"1\"}}]\n"))], "auto/nodeclass.yaml", "podSubnetSelectorTerms"),
        case(NodeClassRestrictedTag, vec![set("auto/nodeclass.yaml", NODECLASS.replace("role: batch-node\n", "role: batch-node\n  tags: {kubernetes.io/cluster/auto1: owned}\n"))], "auto/nodeclass.yaml", "kubernetes.io/cluster"),
        case(NodeGroupScaling, vec![set("mng/nodegroups.yaml", ng("desiredSize: 2", "desiredSize: 9"))], "mng/nodegroups.yaml", "desiredSize"),
        case(NodeGroupAl2, vec![set("mng/nodegroups.yaml", ng("AL2023_x86_64_STANDARD", "AL2_x86_64"))], "mng/nodegroups.yaml", "AL2_x86_64"),
        case(NodeGroupSkew, vec![set("mng/nodegroups.yaml", format!("{NG}  version: \"1.30\"\n"))], "mng/nodegroups.yaml", "1.30"),
        case(NodeGroupSkew, vec![set("mng/nodegroups.yaml", format!("{NG}  version: \"1.35\"\n"))], "mng/nodegroups.yaml", "1.35"),
        case(NodeGroupUpdateConfig, vec![set("mng/nodegroups.yaml", format!("{NG}  updateConfig: {{maxUnavailable: 1, maxUnavailablePercentage: 10}}\n"))], "mng/nodegroups.yaml", "updateConfig"),
        case(NodeGroupLaunchTemplate, vec![set("mng/nodegroups.yaml", format!("{NG}  launchTemplate: {{version: \"3\"}}\n"))], "mng/nodegroups.yaml", "launchTemplate"),
        case(AccessEntryFields, vec![set("mng/access.yaml", format!("{ENTRY}  type: EC2_LINUX\n"))], "mng/access.yaml", "policyArn"),
        case(AccessScope, vec![set("mng/access.yaml", ENTRY.replace("{type: cluster}", "{type: namespace}"))], "mng/access.yaml", "accessScope"),
        case(AccessUsername, vec![set("mng/access.yaml", format!("{ENTRY}  username: system:admin\n"))], "mng/access.yaml", "system:admin"),
        case(DuplicatePrincipal, vec![set("mng/access2.yaml", ENTRY.replace("name: admins", "name: admins-again"))], "mng/access2.yaml", "principalArn"),
        case(DuplicatePodIdentity, vec![set("mng/pia2.yaml", PIA.replace("name: web", "name: web2").replace("role/web", "role/web2"))], "mng/pia2.yaml", "serviceAccount"),
        case(AddonIrsaAndPodIdentity, vec![set("auto/addons.yaml", format!("{ADDON}  serviceAccountRoleArn: arn:aws:iam::111122223333:role/cw\n  podIdentityAssociations:\n    - {{serviceAccount: cw, roleArn: arn:aws:iam::111122223333:role/cw}}\n"))], "auto/addons.yaml", "serviceAccountRoleArn"),
        case(AddonBuiltIntoAutoMode, vec![set("auto/addons.yaml", ADDON.replace("amazon-cloudwatch-observability", "vpc-cni"))], "auto/addons.yaml", "vpc-cni"),
        case(TagLimits, vec![set("mng/nodegroups.yaml", format!("{NG}  tags: {{aws:owner: me}}\n"))], "mng/nodegroups.yaml", "aws:owner"),
        case(ClusterName, vec![set("mng/cluster.yaml", MNG_CLUSTER.replace("name: mng1", "name: mng.1"))], "mng/cluster.yaml", "mng.1"),
        case(NodeGroupName, vec![set("mng/nodegroups.yaml", ng("name: general", "name: general.v2"))], "mng/nodegroups.yaml", "general.v2"),
        case(NodeGroupLabels, vec![set("mng/nodegroups.yaml", format!("{NG}  labels: {{team: \"\"}}\n"))], "mng/nodegroups.yaml", "labels"),
        case(NodeGroupTaints, vec![set("mng/nodegroups.yaml", format!("{NG}  taints:\n    - {{key: \"*gpu\", effect: NO_SCHEDULE}}\n"))], "mng/nodegroups.yaml", "*gpu"),
        case(RoleArn, vec![set("mng/nodegroups.yaml", ng("role/node", &format!("role/{}", "n".repeat(65))))], "mng/nodegroups.yaml", "nodeRoleArn"),
        case(ServiceCidr, vec![set("mng/cluster.yaml", format!("{MNG_CLUSTER}  kubernetesNetwork: {{serviceIpv4Cidr: 100.64.0.0/16}}\n"))], "mng/cluster.yaml", "100.64.0.0/16"),
        case(IpFamily, vec![set("mng/cluster.yaml", format!("{MNG_CLUSTER}  kubernetesNetwork: {{ipFamily: ipv6, serviceIpv4Cidr: 10.100.0.0/16}}\n"))], "mng/cluster.yaml", "ipv6"),
        case(PublicAccessCidrs, vec![set("mng/cluster.yaml", MNG_CLUSTER.replace("  vpc:\n", "  vpc:\n    publicAccessCidrs: [\"2001:db8::/32\"]\n"))], "mng/cluster.yaml", "2001:db8::/32"),
        case(RemoteNetworkCidr, vec![set("mng/cluster.yaml", format!("{MNG_CLUSTER}  remoteNetworkConfig:\n    remoteNodeNetworks: [{{cidrs: [100.64.0.0/16]}}]\n"))], "mng/cluster.yaml", "100.64.0.0/16"),
        case(NodeGroupRepairConfig, vec![set("mng/nodegroups.yaml", format!("{NG}  nodeRepairConfig: {{enabled: true, maxParallelNodesRepairedCount: 1, maxParallelNodesRepairedPercentage: 10}}\n"))], "mng/nodegroups.yaml", "nodeRepairConfig"),
        case(NodeGroupWarmPool, vec![set("mng/nodegroups.yaml", format!("{}  warmPoolConfig: {{enabled: true, reuseOnScaleIn: true}}\n", ng("AL2023_x86_64_STANDARD", "BOTTLEROCKET_ARM_64")))], "mng/nodegroups.yaml", "reuseOnScaleIn"),
        case(PodIdentityPolicy, vec![set("mng/pia.yaml", format!("{PIA}  policy: {{Version: \"2012-10-17\", Statement: []}}\n"))], "mng/pia.yaml", "policy"),
    ]
}

fn apply(edits: &[Edit]) -> Vec<(String, String)> {
    let mut files = base();
    for (path, text) in edits {
        files.retain(|(p, _)| p != path);
        if let Some(t) = text {
            files.push((path.to_string(), t.clone()));
        }
    }
    files
}

#[test]
fn the_base_repo_is_clean() {
    let files = base();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let loaded = load(&refs);
    assert!(
        loaded.diagnostics.is_empty(),
        "{}",
        show(&loaded.diagnostics)
    );
    assert_eq!(loaded.repo.clusters.len(), 2);
    let auto = &loaded.repo.clusters[0];
    assert_eq!(auto.name(), "auto1");
    assert_eq!(
        (
            auto.node_classes.len(),
            auto.node_pools.len(),
            auto.addons.len(),
            auto.access_entries.len()
        ),
        (1, 1, 1, 1)
    );
    let mng = &loaded.repo.clusters[1];
    assert_eq!(
        (
            mng.node_groups.len(),
            mng.access_entries.len(),
            mng.pod_identities.len()
        ),
        (1, 1, 1)
    );
}

#[test]
fn every_rule_fires_where_it_should() {
    for (i, c) in cases().into_iter().enumerate() {
        let files = apply(&c.edits);
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let loaded = load(&refs);
        let hit = loaded
            .diagnostics
            .iter()
            .find(|d| d.rule == c.rule.id() && d.file == c.file);
        let Some(hit) = hit else {
            panic!(
                "case {i}: expected {} in {}, got:\n{}",
                c.rule.id(),
                c.file,
                show(&loaded.diagnostics)
            );
        };
        let text = &files.iter().find(|(p, _)| p == c.file).unwrap().1;
        let line = line_of(text, hit.line);
        assert!(
            line.contains(c.needle),
            "case {i} ({}): line {} is {line:?}, expected it to contain {:?}\n{}",
            c.rule.id(),
            hit.line,
            c.needle,
            show(&loaded.diagnostics)
        );
        assert_eq!(hit.severity, c.rule.severity());
        assert_eq!(
            loaded.is_valid(),
            c.rule.severity() == keelson::config::Severity::Warning,
            "case {i}: {}",
            show(&loaded.diagnostics)
        );
    }
}

#[test]
fn every_rule_has_a_case() {
    let covered: BTreeSet<&str> = cases().iter().map(|c| c.rule.id()).collect();
    // Rules about reading files from disk are exercised by the CLI tests.
    let on_disk = [
        "file-unreadable",
        "file-too-large",
        "file-encoding",
        "symlink-escape",
        "skipped-file",
    ];
    for r in Rule::ALL {
        assert!(
            covered.contains(r.id()) || on_disk.contains(&r.id()),
            "rule {} has no test case",
            r.id()
        );
    }
}

#[test]
fn all_problems_are_reported_not_just_the_first() {
    let bad_cluster = AUTO_CLUSTER
        .replace("region: ap-northeast-1", "regoin: ap-northeast-1")
        .replace("version: \"1.34\"", "version: 1.34")
        .replace("authenticationMode: API", "authenticationMode: Api");
    let files = apply(&[
        set("auto/cluster.yaml", bad_cluster),
        set(
            "mng/nodegroups.yaml",
            NG.replace("desiredSize: 2", "desiredSize: 9"),
        ),
        set("mng/broken.yaml", "a: [\n"),
    ]);
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let loaded = load(&refs);
    let rules: BTreeSet<&str> = loaded.diagnostics.iter().map(|d| d.rule).collect();
    for want in [
        "unknown-field",
        "schema-type",
        "schema-enum",
        "nodegroup-scaling",
        "yaml-syntax",
    ] {
        assert!(
            rules.contains(want),
            "{want} missing:\n{}",
            show(&loaded.diagnostics)
        );
    }
}

#[test]
fn documents_belong_to_the_nearest_cluster_above_them() {
    let files = apply(&[
        set(
            "auto/deep/er/addon.yaml",
            ADDON.replace("amazon-cloudwatch-observability", "aws-efs-csi-driver"),
        ),
        set(
            "auto/manifests/app.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app, namespace: web}\n",
        ),
        set(
            "docs/readme.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\n",
        ),
    ]);
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let loaded = load(&refs);
    assert!(loaded.is_valid(), "{}", show(&loaded.diagnostics));
    let auto = &loaded.repo.clusters[0];
    assert!(auto
        .addons
        .iter()
        .any(|a| a.value.metadata.name == "aws-efs-csi-driver"));
    assert_eq!(auto.manifests.len(), 1);
    assert_eq!(auto.manifests[0].kind, "Deployment");
    assert_eq!(auto.manifests[0].origin.line, 1);
    assert_eq!(loaded.repo.unowned_manifests.len(), 1);
}

#[test]
fn an_invalid_document_does_not_cascade_into_errors_about_what_depends_on_it() {
    // A broken Cluster: its add-ons are not reported as orphans.
    let files = apply(&[
        set(
            "auto/cluster.yaml",
            AUTO_CLUSTER.replace("version: \"1.34\"", "version: 1.34"),
        ),
        // A broken NodeClass: the NodePool using it is not reported as dangling.
        set("mng/cluster.yaml", MNG_CLUSTER),
    ]);
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let loaded = load(&refs);
    assert_eq!(loaded.errors(), 1, "{}", show(&loaded.diagnostics));
    assert_eq!(loaded.diagnostics[0].rule, "schema-type");

    let files = apply(&[set(
        "auto/nodeclass.yaml",
        NODECLASS.replace(
            "role: batch-node",
            "role: arn:aws:iam::111122223333:role/batch-node",
        ),
    )]);
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let loaded = load(&refs);
    let rules: Vec<&str> = loaded.diagnostics.iter().map(|d| d.rule).collect();
    assert_eq!(
        rules,
        vec!["nodeclass-role-name"],
        "{}",
        show(&loaded.diagnostics)
    );
}

#[test]
fn the_readme_documents_every_rule() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for r in Rule::ALL {
        let row = format!("| `{}` | {} | {} |", r.id(), r.severity(), r.summary());
        assert!(readme.contains(&row), "README lacks the row: {row}");
    }
}

#[test]
fn durations_are_read_once_and_an_overlong_one_is_reported_where_it_stands() {
    // The pattern lets any digits through; the number that does not fit is caught while
    // loading, at its line and column, instead of by whoever reads the value later.
    let fleet = FLEET.replace(
        "- {name: prod}",
        "- name: prod\n      maintenanceWindows:\n        - {start: \"02:00\", duration: 9999999999999999999999d}",
    );
    let loaded = load(&[
        ("keelson.yaml", &fleet),
        ("auto/cluster.yaml", AUTO_CLUSTER),
    ]);
    let d: Vec<_> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.file == "keelson.yaml")
        .map(|d| (d.line, d.column, d.rule, d.message.as_str()))
        .collect();
    assert_eq!(
        d,
        vec![(
            9,
            38,
            "schema-value",
            "`spec.stages[1].maintenanceWindows[0].duration` is `9999999999999999999999d`, which is longer than keelson can count; write a shorter duration"
        )],
        "{}",
        show(&loaded.diagnostics)
    );

    let loaded = load(&[("keelson.yaml", FLEET), ("auto/cluster.yaml", AUTO_CLUSTER)]);
    let fleet = &loaded.repo.fleet.as_ref().unwrap().value.spec;
    let soak = fleet.stages[0].soak.as_ref().unwrap();
    assert_eq!((soak.secs(), soak.as_str()), (24 * 3600, "24h"));
    assert_eq!(fleet.stages[1].soak, None);
}
