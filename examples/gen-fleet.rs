//! Generate a large, valid keelson fleet for benchmarks and load tests.
//!
//! ```text
//! cargo run --release --example gen-fleet -- --clusters 1000 --out bench/out/fleet [--seed 7]
//! ```
//!
//! The output has the layout of `examples/fleet`:
//!
//! ```text
//! DIR/keelson.yaml                          Fleet (stages staging, prod)
//! DIR/clusters/<name>/cluster.yaml          Cluster
//! DIR/clusters/<name>/addons.yaml           Addon × 1–5
//! DIR/clusters/<name>/access.yaml           AccessEntry × 1–4
//! DIR/clusters/<name>/pod-identity.yaml     PodIdentityAssociation × 1–2
//! DIR/clusters/<name>/nodepools.yaml        NodeClass + NodePool × 1–2   (Auto Mode clusters)
//! DIR/clusters/<name>/nodegroups.yaml       NodeGroup × 1–3              (node group clusters)
//! DIR/clusters/<name>/fargate.yaml          FargateProfile × 1–2         (node group clusters)
//! DIR/clusters/<name>/manifests/app.yaml    Deployment, Service, ... × 2–3
//! ```
//!
//! About 60% of the clusters run EKS Auto Mode; a cluster averages about 12 documents.
//! keelson's own documents are built from the crate's model types and serialised with
//! `serde_yaml_ng`, so they can only hold fields the model knows; they follow the rules of
//! `keelson validate` and produce neither errors nor warnings. The output depends only on
//! `--clusters` and `--seed`: the same arguments give the same bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Parser;
use keelson::model::*;
use serde::Serialize;
use serde_json::json;

/// Write a valid keelson fleet of N clusters.
#[derive(Debug, Parser)]
#[command(name = "gen-fleet", about, long_about = None)]
struct Args {
    /// Number of clusters.
    #[arg(long)]
    clusters: usize,
    /// Output directory. Created if missing; an earlier gen-fleet output is replaced,
    /// any other non-empty directory only with --force.
    #[arg(long)]
    out: PathBuf,
    /// Seed of the pseudo-random choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Share of clusters that run EKS Auto Mode (0.0–1.0).
    #[arg(long, default_value_t = 0.6)]
    auto_mode_share: f64,
    /// Replace `keelson.yaml` and `clusters/` of a non-empty output directory that gen-fleet
    /// did not write.
    #[arg(long)]
    force: bool,
}

// ───────────────────────────── PRNG ─────────────────────────────

/// xorshift64* seeded through splitmix64, so that every seed (0 included) gives a good
/// starting state. Not for cryptography; only for reproducible test data.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        Rng(if z == 0 { 0x2545_f491_4f6c_dd1d } else { z })
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        let span = u64::from(hi - lo) + 1;
        lo + (self.next_u64() % span) as u32
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len() as u64) as usize]
    }

    /// `n` distinct items, in their original order.
    fn sample<'a, T>(&mut self, items: &'a [T], n: usize) -> Vec<&'a T> {
        let mut idx: Vec<usize> = (0..items.len()).collect();
        for i in (1..idx.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            idx.swap(i, j);
        }
        let mut chosen: Vec<usize> = idx.into_iter().take(n).collect();
        chosen.sort_unstable();
        chosen.into_iter().map(|i| &items[i]).collect()
    }

    fn hex(&mut self, digits: usize) -> String {
        let mut s = String::with_capacity(digits);
        while s.len() < digits {
            let _ = write!(s, "{:016x}", self.next_u64());
        }
        s.truncate(digits);
        s
    }
}

// ───────────────────────────── Fixed data ─────────────────────────────

const REGIONS: &[(&str, &str)] = &[
    ("us-east-1", "use1"),
    ("us-east-2", "use2"),
    ("us-west-2", "usw2"),
    ("ca-central-1", "cac1"),
    ("sa-east-1", "sae1"),
    ("eu-west-1", "euw1"),
    ("eu-central-1", "euc1"),
    ("eu-north-1", "eun1"),
    ("ap-northeast-1", "apne1"),
    ("ap-southeast-1", "apse1"),
    ("ap-southeast-2", "apse2"),
    ("ap-south-1", "aps1"),
];

const TEAMS: &[&str] = &[
    "payments",
    "checkout",
    "search",
    "catalog",
    "identity",
    "ledger",
    "media",
    "ml",
    "data",
    "web",
    "mobile-api",
    "platform",
    "notifications",
    "risk",
    "pricing",
    "shipping",
];

const VERSIONS: &[&str] = &["1.34", "1.35"];

const LOG_TYPES: &[LogType] = &[
    LogType::Api,
    LogType::Audit,
    LogType::Authenticator,
    LogType::ControllerManager,
    LogType::Scheduler,
];

/// Add-ons that Auto Mode does not run itself: (name, version choices).
const EXTRA_ADDONS: &[(&str, &[&str])] = &[
    (
        "amazon-cloudwatch-observability",
        &["latest", "v4.1.0-eksbuild.1"],
    ),
    ("eks-node-monitoring-agent", &["default", "latest"]),
    ("aws-efs-csi-driver", &["v2.1.4-eksbuild.1", "latest"]),
    (
        "aws-mountpoint-s3-csi-driver",
        &["v1.14.1-eksbuild.1", "latest"],
    ),
    ("snapshot-controller", &["default", "v8.2.0-eksbuild.1"]),
    ("aws-guardduty-agent", &["latest"]),
    ("metrics-server", &["v0.7.2-eksbuild.3", "latest"]),
    ("cert-manager", &["v1.17.2-eksbuild.1"]),
];

const ADMIN_POLICY: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";
const EDIT_POLICY: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy";
const VIEW_POLICY: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy";
const AUTO_NODE_POLICY: &str = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAutoNodePolicy";

/// Custom Auto Mode node classes: (NodeClass name, instance categories, arch).
const NODE_CLASSES: &[(&str, &[&str], &str)] = &[
    ("batch", &["r"], "arm64"),
    ("compute", &["c"], "amd64"),
    ("memory", &["r", "x"], "amd64"),
    ("general", &["m", "c"], "arm64"),
    ("private", &["m"], "amd64"),
];

/// Node groups: (name, instance types, AMI, capacity).
const NODE_GROUPS: &[(&str, &[&str], AmiType, CapacityType)] = &[
    (
        "general",
        &["m6i.xlarge", "m7i.xlarge"],
        AmiType::Al2023X86_64Standard,
        CapacityType::OnDemand,
    ),
    (
        "spot-arm",
        &["m7g.large", "m6g.large", "c7g.xlarge"],
        AmiType::BottlerocketArm64,
        CapacityType::Spot,
    ),
    (
        "system",
        &["t3.large"],
        AmiType::BottlerocketX86_64,
        CapacityType::OnDemand,
    ),
    (
        "memory",
        &["r7i.2xlarge", "r6i.2xlarge"],
        AmiType::Al2023X86_64Standard,
        CapacityType::OnDemand,
    ),
    (
        "graviton",
        &["c7g.2xlarge", "c8g.2xlarge"],
        AmiType::Al2023Arm64Standard,
        CapacityType::OnDemand,
    ),
];

/// Pod Identity associations: (name, namespace, service account, role suffix).
const POD_IDENTITIES: &[(&str, &str, &str, &str)] = &[
    ("app-s3-reader", "app", "app", "s3-reader"),
    (
        "external-dns",
        "external-dns",
        "external-dns",
        "external-dns",
    ),
    (
        "cert-manager",
        "cert-manager",
        "cert-manager",
        "cert-manager-route53",
    ),
    ("app-dynamodb", "app", "app-worker", "dynamodb"),
    ("velero", "velero", "velero", "velero-backups"),
    ("fluent-bit", "logging", "fluent-bit", "fluent-bit-logs"),
];

// ───────────────────────────── Helpers ─────────────────────────────

fn meta(name: impl Into<String>) -> Metadata {
    Metadata {
        name: name.into(),
        ..Metadata::default()
    }
}

fn resource<S>(kind: Kind, name: impl Into<String>, spec: S) -> Resource<S> {
    Resource {
        api_version: kind.api_version().to_string(),
        kind: kind.name().to_string(),
        metadata: meta(name),
        spec,
    }
}

fn role_arn(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role/{name}")
}

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

/// A multi-document YAML file under construction.
struct YamlFile {
    text: String,
    docs: usize,
}

impl YamlFile {
    fn new(header: &str) -> YamlFile {
        let mut text = String::new();
        for line in header.lines() {
            text.push_str("# ");
            text.push_str(line);
            text.push('\n');
        }
        YamlFile { text, docs: 0 }
    }

    fn push<T: Serialize>(&mut self, doc: &T) -> Result<()> {
        if self.docs > 0 {
            self.text.push_str("---\n");
        }
        self.text.push_str(&serde_yaml_ng::to_string(doc)?);
        self.docs += 1;
        Ok(())
    }
}

/// Counts written, by kind (keelson kinds) or "manifest".
#[derive(Default)]
struct Totals {
    files: usize,
    by_kind: BTreeMap<&'static str, usize>,
}

impl Totals {
    fn documents(&self) -> usize {
        self.by_kind.values().sum()
    }
}

fn write_file(path: &Path, file: &YamlFile, totals: &mut Totals) -> Result<()> {
    std::fs::write(path, &file.text).with_context(|| format!("writing {}", path.display()))?;
    totals.files += 1;
    Ok(())
}

// ───────────────────────────── The fleet ─────────────────────────────

fn fleet_doc() -> FleetDoc {
    resource(
        Kind::Fleet,
        "platform",
        FleetSpec {
            stages: vec![
                Stage {
                    name: "staging".into(),
                    soak: keelson::model::Duration::parse("24h").ok(),
                    apply: ApplyMode::Auto,
                    maintenance_windows: Vec::new(),
                    upgrade: None,
                },
                Stage {
                    name: "prod".into(),
                    soak: None,
                    apply: ApplyMode::Manual,
                    maintenance_windows: Vec::new(),
                    upgrade: None,
                },
            ],
            policy: FleetPolicy {
                allow_cluster_deletion: false,
                max_concurrency: 16,
                max_kubelet_skew: 2,
                ..FleetPolicy::default()
            },
        },
    )
}

/// Everything about one cluster that several of its files need.
struct Plan {
    name: String,
    stage: &'static str,
    team: &'static str,
    region: &'static str,
    account: String,
    version: &'static str,
    auto_mode: bool,
    builtin_pools: Vec<String>,
    subnets: Vec<String>,
    /// (NodeClass name, node role name) on Auto Mode clusters.
    node_class: Option<(&'static str, String)>,
}

fn plan(i: usize, accounts: &[String], auto_share: f64, rng: &mut Rng) -> Plan {
    let stage = if rng.chance(0.3) { "staging" } else { "prod" };
    let team = *rng.pick(TEAMS);
    let (region, short) = *rng.pick(REGIONS);
    let name = format!("{stage}-{team}-{short}-{i:04}");
    let account = rng.pick(accounts).clone();
    let version = *rng.pick(VERSIONS);
    let auto_mode = rng.chance(auto_share);
    let builtin_pools = if !auto_mode {
        Vec::new()
    } else if rng.chance(0.7) {
        strings(&["system", "general-purpose"])
    } else if rng.chance(0.5) {
        strings(&["system"])
    } else {
        Vec::new()
    };
    let subnets = (0..rng.range(2, 4))
        .map(|_| format!("subnet-0{}", rng.hex(16)))
        .collect();
    let node_class = auto_mode.then(|| {
        let (class, _, _) = *rng.pick(NODE_CLASSES);
        (class, format!("{name}-{class}-node"))
    });
    Plan {
        name,
        stage,
        team,
        region,
        account,
        version,
        auto_mode,
        builtin_pools,
        subnets,
        node_class,
    }
}

fn cluster_doc(p: &Plan, rng: &mut Rng) -> ClusterDoc {
    let prod = p.stage == "prod";
    let auto_mode = p.auto_mode.then(|| AutoMode {
        compute: AutoCompute {
            enabled: true,
            node_pools: p.builtin_pools.clone(),
            node_role_arn: (!p.builtin_pools.is_empty())
                .then(|| role_arn(&p.account, &format!("{}-auto-node", p.name))),
        },
        block_storage: Toggle { enabled: true },
        load_balancing: Toggle { enabled: true },
    });
    let logging = if prod {
        LOG_TYPES.to_vec()
    } else {
        LOG_TYPES[..rng.range(1, 3) as usize].to_vec()
    };
    let authentication_mode = if p.auto_mode || rng.chance(0.5) {
        *rng.pick(&[AuthenticationMode::Api, AuthenticationMode::ApiAndConfigMap])
    } else {
        AuthenticationMode::ApiAndConfigMap
    };
    let public = !prod || rng.chance(0.4);
    let mut cluster_tags = tags(&[("env", p.stage), ("team", p.team)]);
    cluster_tags.insert(
        "cost-center".into(),
        format!("{}", 4000 + rng.range(0, 999)),
    );
    if rng.chance(0.5) {
        cluster_tags.insert("owner".into(), format!("{}@example.com", p.team));
    }
    let mut doc = resource(
        Kind::Cluster,
        p.name.clone(),
        ClusterSpec {
            region: p.region.into(),
            version: p.version.into(),
            stage: p.stage.into(),
            account: Some(p.account.clone()),
            operator_role_arn: None,
            role_arn: role_arn(
                &p.account,
                if p.auto_mode {
                    "eks-auto-cluster"
                } else {
                    "eks-cluster"
                },
            ),
            vpc: VpcConfig {
                subnet_ids: p.subnets.clone(),
                security_group_ids: if rng.chance(0.5) {
                    vec![format!("sg-0{}", rng.hex(16))]
                } else {
                    Vec::new()
                },
                endpoint_public_access: public,
                endpoint_private_access: true,
                public_access_cidrs: if public {
                    vec![
                        format!("203.0.113.{}/32", rng.range(1, 254)),
                        "198.51.100.0/24".into(),
                    ]
                } else {
                    Vec::new()
                },
                control_plane_egress_mode: None,
            },
            kubernetes_network: Some(KubernetesNetwork {
                service_ipv4_cidr: Some(
                    (*rng.pick(&["172.20.0.0/16", "10.100.0.0/16"])).to_string(),
                ),
                ip_family: Some(IpFamily::Ipv4),
            }),
            auto_mode,
            logging,
            access: Some(AccessConfig {
                authentication_mode,
                bootstrap_cluster_creator_admin_permissions: rng.chance(0.3).then_some(false),
            }),
            upgrade_policy: Some(UpgradePolicy {
                support_type: if prod && rng.chance(0.3) {
                    SupportType::Extended
                } else {
                    SupportType::Standard
                },
            }),
            deletion_protection: prod,
            secrets_kms_key_arn: (prod && rng.chance(0.6)).then(|| {
                format!(
                    "arn:aws:kms:{}:{}:key/{}-{}-{}-{}-{}",
                    p.region,
                    p.account,
                    rng.hex(8),
                    rng.hex(4),
                    rng.hex(4),
                    rng.hex(4),
                    rng.hex(12)
                )
            }),
            remote_network_config: None,
            zonal_shift_config: None,
            control_plane_scaling_config: None,
            outpost_config: None,
            bootstrap_self_managed_addons: None,
            tags: cluster_tags,
        },
    );
    doc.metadata.labels = tags(&[("team", p.team)]);
    doc
}

/// `version` if EKS's catalog (as the simulator models it) runs it on `cluster_version`,
/// else `latest`, so that every generated fleet can be applied.
fn fit(addon: &str, version: &str, cluster_version: &str) -> String {
    let exact = !matches!(version, "latest" | "default");
    let supported = keelson::adapters::sim::catalog::versions(addon)
        .iter()
        .any(|v| {
            v.version == version
                && v.compatibilities
                    .iter()
                    .any(|c| c.cluster_version == cluster_version)
        });
    if exact && !supported {
        "latest".to_string()
    } else {
        version.to_string()
    }
}

fn addon_docs(p: &Plan, rng: &mut Rng) -> Vec<AddonDoc> {
    let mut out = Vec::new();
    if !p.auto_mode {
        out.push(resource(
            Kind::Addon,
            "vpc-cni",
            AddonSpec {
                version: fit(
                    "vpc-cni",
                    rng.pick::<&str>(&["latest", "v1.19.5-eksbuild.3"]),
                    p.version,
                ),
                configuration_values: Some(json!({
                    "env": {
                        "ENABLE_PREFIX_DELEGATION": "true",
                        "WARM_PREFIX_TARGET": "1",
                    }
                })),
                pod_identity_associations: vec![AddonPodIdentity {
                    service_account: "aws-node".into(),
                    role_arn: role_arn(&p.account, &format!("{}-vpc-cni", p.name)),
                }],
                resolve_conflicts: Some(ResolveConflicts::Overwrite),
                ..AddonSpec::default()
            },
        ));
        out.push(resource(
            Kind::Addon,
            "coredns",
            AddonSpec {
                version: "default".into(),
                configuration_values: rng
                    .chance(0.5)
                    .then(|| json!(format!("{{\"replicaCount\": {}}}", rng.range(2, 4)))),
                ..AddonSpec::default()
            },
        ));
        out.push(resource(
            Kind::Addon,
            "kube-proxy",
            AddonSpec {
                version: "default".into(),
                ..AddonSpec::default()
            },
        ));
        if rng.chance(0.5) {
            out.push(resource(
                Kind::Addon,
                "eks-pod-identity-agent",
                AddonSpec {
                    version: "latest".into(),
                    ..AddonSpec::default()
                },
            ));
        }
        if rng.chance(0.3) {
            out.push(resource(
                Kind::Addon,
                "aws-ebs-csi-driver",
                AddonSpec {
                    version: fit("aws-ebs-csi-driver", "v1.44.0-eksbuild.1", p.version),
                    pod_identity_associations: vec![AddonPodIdentity {
                        service_account: "ebs-csi-controller-sa".into(),
                        role_arn: role_arn(&p.account, &format!("{}-ebs-csi", p.name)),
                    }],
                    ..AddonSpec::default()
                },
            ));
        }
        return out;
    }
    let n = rng.range(1, 3) as usize;
    for (name, versions) in rng.sample(EXTRA_ADDONS, n) {
        let mut spec = AddonSpec {
            version: fit(name, rng.pick::<&str>(versions), p.version),
            resolve_conflicts: rng
                .chance(0.5)
                .then(|| *rng.pick(&[ResolveConflicts::Overwrite, ResolveConflicts::Preserve])),
            ..AddonSpec::default()
        };
        match *name {
            "amazon-cloudwatch-observability" => {
                spec.configuration_values = Some(json!({"containerLogs": {"enabled": true}}));
                spec.pod_identity_associations = vec![AddonPodIdentity {
                    service_account: "cloudwatch-agent".into(),
                    role_arn: role_arn(&p.account, &format!("{}-cloudwatch-agent", p.name)),
                }];
            }
            "aws-efs-csi-driver" => {
                spec.pod_identity_associations = vec![AddonPodIdentity {
                    service_account: "efs-csi-controller-sa".into(),
                    role_arn: role_arn(&p.account, &format!("{}-efs-csi", p.name)),
                }];
            }
            "aws-mountpoint-s3-csi-driver" => {
                spec.service_account_role_arn =
                    Some(role_arn(&p.account, &format!("{}-s3-csi", p.name)));
            }
            "metrics-server" => {
                spec.configuration_values = Some(json!({"replicas": 2}));
            }
            _ => {}
        }
        if rng.chance(0.3) {
            spec.tags = tags(&[("team", p.team)]);
        }
        out.push(resource(Kind::Addon, *name, spec));
    }
    out
}

fn access_docs(p: &Plan, rng: &mut Rng) -> Vec<AccessEntryDoc> {
    let cluster_scope = || AccessScope {
        scope_type: AccessScopeType::Cluster,
        namespaces: Vec::new(),
    };
    let mut out = vec![resource(
        Kind::AccessEntry,
        "platform-admins",
        AccessEntrySpec {
            principal_arn: role_arn(&p.account, "platform-admin"),
            entry_type: AccessEntryType::Standard,
            kubernetes_groups: Vec::new(),
            username: None,
            policies: vec![AccessPolicy {
                policy_arn: ADMIN_POLICY.into(),
                access_scope: cluster_scope(),
            }],
            tags: Tags::new(),
        },
    )];
    if rng.chance(0.35) {
        out.push(resource(
            Kind::AccessEntry,
            "developers",
            AccessEntrySpec {
                principal_arn: role_arn(&p.account, &format!("{}-developer", p.team)),
                entry_type: AccessEntryType::Standard,
                kubernetes_groups: vec![format!("{}-developers", p.team)],
                username: None,
                policies: vec![AccessPolicy {
                    policy_arn: EDIT_POLICY.into(),
                    access_scope: AccessScope {
                        scope_type: AccessScopeType::Namespace,
                        namespaces: strings(&["app", "jobs"]),
                    },
                }],
                tags: tags(&[("team", p.team)]),
            },
        ));
    }
    if rng.chance(0.15) {
        out.push(resource(
            Kind::AccessEntry,
            "auditors",
            AccessEntrySpec {
                principal_arn: role_arn(&p.account, "auditor"),
                entry_type: AccessEntryType::Standard,
                kubernetes_groups: Vec::new(),
                username: Some("auditor".into()),
                policies: vec![AccessPolicy {
                    policy_arn: VIEW_POLICY.into(),
                    access_scope: cluster_scope(),
                }],
                tags: Tags::new(),
            },
        ));
    }
    if let Some((class, role)) = &p.node_class {
        out.push(resource(
            Kind::AccessEntry,
            format!("{class}-nodes"),
            AccessEntrySpec {
                principal_arn: role_arn(&p.account, role),
                entry_type: AccessEntryType::Ec2,
                kubernetes_groups: Vec::new(),
                username: None,
                policies: vec![AccessPolicy {
                    policy_arn: AUTO_NODE_POLICY.into(),
                    access_scope: cluster_scope(),
                }],
                tags: Tags::new(),
            },
        ));
    }
    out
}

fn pod_identity_docs(p: &Plan, rng: &mut Rng) -> Vec<PodIdentityAssociationDoc> {
    let n = if rng.chance(0.3) { 2 } else { 1 };
    rng.sample(POD_IDENTITIES, n)
        .into_iter()
        .map(|(name, ns, sa, role)| {
            let cross_account = rng.chance(0.15);
            resource(
                Kind::PodIdentityAssociation,
                *name,
                PodIdentityAssociationSpec {
                    namespace: (*ns).into(),
                    service_account: (*sa).into(),
                    role_arn: role_arn(&p.account, &format!("{}-{role}", p.name)),
                    target_role_arn: cross_account
                        .then(|| role_arn("777788889999", &format!("{}-{role}", p.team))),
                    disable_session_tags: false,
                    policy: None,
                    tags: if rng.chance(0.5) {
                        tags(&[("app", p.team)])
                    } else {
                        Tags::new()
                    },
                },
            )
        })
        .collect()
}

fn node_class_doc(p: &Plan, class: &str, role: &str, rng: &mut Rng) -> NodeClassDoc {
    let term = |k: &str, v: &str| SelectorTerm {
        id: None,
        name: None,
        tags: tags(&[(k, v)]),
    };
    let size = *rng.pick(&["80Gi", "120Gi", "160Gi", "200Gi"]);
    resource(
        Kind::NodeClass,
        class,
        NodeClassSpec {
            role: Some(role.into()),
            instance_profile: None,
            subnet_selector_terms: vec![term("kubernetes.io/role/internal-elb", "1")],
            security_group_selector_terms: vec![term("aws:eks:cluster-name", &p.name)],
            pod_subnet_selector_terms: Vec::new(),
            pod_security_group_selector_terms: Vec::new(),
            capacity_reservation_selector_terms: Vec::new(),
            ephemeral_storage: Some(EphemeralStorage {
                size: Some(size.into()),
                iops: Some(*rng.pick(&[3000, 6000, 9000])),
                throughput: Some(*rng.pick(&[125, 250, 500])),
                kms_key_id: None,
            }),
            network_policy: Some(
                *rng.pick(&[NetworkPolicy::DefaultAllow, NetworkPolicy::DefaultDeny]),
            ),
            network_policy_event_logs: rng.chance(0.3).then_some(NetworkPolicyEventLogs::Enabled),
            snat_policy: Some(SnatPolicy::Random),
            advanced_networking: rng.chance(0.2).then(|| AdvancedNetworking {
                associate_public_ip_address: Some(false),
                https_proxy: None,
                no_proxy: Vec::new(),
                ipv4_prefix_size: Some(Ipv4PrefixSize::Auto),
                enable_v4_egress: None,
            }),
            advanced_security: None,
            certificate_bundles: Vec::new(),
            tags: tags(&[("team", p.team)]),
        },
    )
}

fn node_pool_docs(class: &str, rng: &mut Rng) -> Vec<NodePoolDoc> {
    let (_, categories, arch) = NODE_CLASSES
        .iter()
        .find(|(c, _, _)| *c == class)
        .copied()
        .unwrap_or(NODE_CLASSES[0]);
    let req = |key: &str, op: RequirementOperator, values: &[&str]| Requirement {
        key: key.into(),
        operator: op,
        values: strings(values),
        min_values: None,
    };
    let mut out = Vec::new();
    let pools: &[(&str, &[&str])] = if rng.chance(0.3) {
        &[
            ("on-demand", &["on-demand"]),
            ("spot", &["spot", "on-demand"]),
        ]
    } else {
        &[("spot", &["spot", "on-demand"])]
    };
    for (suffix, capacity) in pools {
        // expireAfter + terminationGracePeriod stays within Auto Mode's 504h.
        let (expire, grace) = *rng.pick(&[
            ("168h", Some("24h")),
            ("336h", Some("24h")),
            ("336h", None),
            ("480h", Some("24h")),
            ("480h", Some("4h")),
        ]);
        out.push(resource(
            Kind::NodePool,
            format!("{class}-{suffix}"),
            NodePoolSpec {
                template: NodeClaimTemplate {
                    metadata: Some(TemplateMetadata {
                        labels: tags(&[("workload", class)]),
                        annotations: BTreeMap::new(),
                    }),
                    spec: NodeClaimSpec {
                        node_class_ref: NodeClassRef {
                            group: "eks.amazonaws.com".into(),
                            kind: "NodeClass".into(),
                            name: class.into(),
                        },
                        requirements: vec![
                            req(
                                "eks.amazonaws.com/instance-category",
                                RequirementOperator::In,
                                categories,
                            ),
                            req(
                                "eks.amazonaws.com/instance-generation",
                                RequirementOperator::Gt,
                                &[*rng.pick(&["5", "6"])],
                            ),
                            req("kubernetes.io/arch", RequirementOperator::In, &[arch]),
                            req(
                                "karpenter.sh/capacity-type",
                                RequirementOperator::In,
                                capacity,
                            ),
                        ],
                        taints: if rng.chance(0.5) {
                            vec![Taint {
                                key: "workload".into(),
                                value: Some(class.into()),
                                effect: TaintEffect::NoSchedule,
                                time_added: None,
                            }]
                        } else {
                            Vec::new()
                        },
                        startup_taints: Vec::new(),
                        expire_after: Some(expire.into()),
                        termination_grace_period: grace.map(Into::into),
                    },
                },
                disruption: Some(Disruption {
                    consolidation_policy: Some(ConsolidationPolicy::WhenEmptyOrUnderutilized),
                    consolidate_after: (*rng.pick(&["1m", "5m", "30m"])).into(),
                    budgets: vec![
                        Budget {
                            nodes: Some((*rng.pick(&["10%", "20%", "5"])).into()),
                            schedule: None,
                            duration: None,
                            reasons: Vec::new(),
                        },
                        Budget {
                            nodes: Some("0".into()),
                            schedule: Some("0 9 * * mon-fri".into()),
                            duration: Some("8h".into()),
                            reasons: vec![DisruptionReason::Underutilized],
                        },
                    ],
                }),
                limits: [
                    (
                        "cpu".to_string(),
                        IntOrString::Str(format!("{}", 64 * rng.range(2, 16))),
                    ),
                    (
                        "memory".to_string(),
                        IntOrString::Str(format!("{}Gi", 256 * rng.range(2, 16))),
                    ),
                ]
                .into_iter()
                .collect(),
                weight: Some(rng.range(1, 50)),
                replicas: None,
            },
        ));
    }
    out
}

fn node_group_docs(p: &Plan, rng: &mut Rng) -> Vec<NodeGroupDoc> {
    let n = rng.range(1, 3) as usize;
    rng.sample(NODE_GROUPS, n)
        .into_iter()
        .map(|(name, types, ami, capacity)| {
            let min = rng.range(0, 3);
            let max = min + rng.range(2, 20);
            let desired = rng.range(min.max(1).min(max), max.min(min + 4));
            let spot = *capacity == CapacityType::Spot;
            let mut doc = resource(
                Kind::NodeGroup,
                *name,
                NodeGroupSpec {
                    node_role_arn: role_arn(&p.account, &format!("{}-node", p.name)),
                    subnet_ids: p.subnets.clone(),
                    instance_types: strings(types),
                    ami_type: Some(*ami),
                    capacity_type: Some(*capacity),
                    scaling: Scaling {
                        min_size: min,
                        max_size: max,
                        desired_size: Some(desired),
                    },
                    disk_size: Some(*rng.pick(&[20, 50, 80, 100])),
                    version: rng.chance(0.3).then(|| p.version.to_string()),
                    release_version: None,
                    labels: tags(&[("pool", *name)]),
                    taints: if spot {
                        vec![NodeGroupTaint {
                            key: "spot".into(),
                            value: Some("true".into()),
                            effect: NodeGroupTaintEffect::NoSchedule,
                        }]
                    } else {
                        Vec::new()
                    },
                    update_config: Some(if rng.chance(0.5) {
                        UpdateConfig {
                            max_unavailable: Some(rng.range(1, 3)),
                            max_unavailable_percentage: None,
                            update_strategy: None,
                        }
                    } else {
                        UpdateConfig {
                            max_unavailable: None,
                            max_unavailable_percentage: Some(*rng.pick(&[10, 25, 33])),
                            update_strategy: None,
                        }
                    }),
                    launch_template: rng.chance(0.2).then(|| LaunchTemplate {
                        id: None,
                        name: Some(format!("{}-{name}", p.name)),
                        version: Some("$Default".into()),
                    }),
                    node_repair_config: None,
                    warm_pool_config: None,
                    remote_access: None,
                    tags: tags(&[("team", p.team)]),
                },
            );
            doc.metadata.labels = tags(&[("team", p.team)]);
            doc
        })
        .collect()
}

fn fargate_docs(p: &Plan, rng: &mut Rng) -> Vec<FargateProfileDoc> {
    let mut out = vec![resource(
        Kind::FargateProfile,
        "serverless-jobs",
        FargateProfileSpec {
            pod_execution_role_arn: role_arn(&p.account, "eks-fargate-pods"),
            subnet_ids: p.subnets.clone(),
            selectors: vec![FargateSelector {
                namespace: "jobs".into(),
                labels: tags(&[("runtime", "fargate")]),
            }],
            tags: Tags::new(),
        },
    )];
    if rng.chance(0.3) {
        out.push(resource(
            Kind::FargateProfile,
            "coredns",
            FargateProfileSpec {
                pod_execution_role_arn: role_arn(&p.account, "eks-fargate-pods"),
                subnet_ids: p.subnets.clone(),
                selectors: vec![FargateSelector {
                    namespace: "kube-system".into(),
                    labels: tags(&[("k8s-app", "kube-dns")]),
                }],
                tags: tags(&[("team", "platform")]),
            },
        ));
    }
    out
}

/// Ordinary workloads: a Deployment and a Service, sometimes with an HPA, PDB or CronJob.
fn manifests(p: &Plan, rng: &mut Rng) -> Vec<serde_json::Value> {
    let app = p.team;
    let image = format!(
        "{}.dkr.ecr.{}.amazonaws.com/{app}:{}.{}.{}",
        p.account,
        p.region,
        rng.range(1, 4),
        rng.range(0, 20),
        rng.range(0, 9)
    );
    let replicas = if p.stage == "prod" {
        rng.range(3, 12)
    } else {
        2
    };
    let mut out = vec![
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": app, "namespace": "app", "labels": {"app": app}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": app}},
                "template": {
                    "metadata": {"labels": {"app": app}},
                    "spec": {
                        "serviceAccountName": "app",
                        "containers": [{
                            "name": app,
                            "image": image,
                            "ports": [{"containerPort": 8080}],
                            "resources": {
                                "requests": {"cpu": "250m", "memory": "256Mi"},
                                "limits": {"memory": "512Mi"},
                            },
                            "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                        }],
                    },
                },
            },
        }),
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": app, "namespace": "app"},
            "spec": {
                "selector": {"app": app},
                "ports": [{"port": 80, "targetPort": 8080}],
            },
        }),
    ];
    if rng.chance(0.35) {
        let third = match rng.range(0, 2) {
            0 => json!({
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": app, "namespace": "app"},
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app},
                    "minReplicas": replicas,
                    "maxReplicas": replicas * 5,
                    "metrics": [{
                        "type": "Resource",
                        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                    }],
                },
            }),
            1 => json!({
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": app, "namespace": "app"},
                "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": app}}},
            }),
            _ => json!({
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "metadata": {"name": format!("{app}-nightly"), "namespace": "jobs"},
                "spec": {
                    "schedule": format!("{} {} * * *", rng.range(0, 59), rng.range(0, 5)),
                    "jobTemplate": {"spec": {"template": {
                        "metadata": {"labels": {"runtime": "fargate"}},
                        "spec": {
                            "restartPolicy": "OnFailure",
                            "containers": [{"name": "job", "image": image}],
                        },
                    }}},
                },
            }),
        };
        out.push(third);
    }
    out
}

fn write_cluster(root: &Path, p: &Plan, rng: &mut Rng, totals: &mut Totals) -> Result<()> {
    let dir = root.join("clusters").join(&p.name);
    std::fs::create_dir_all(dir.join("manifests"))
        .with_context(|| format!("creating {}", dir.display()))?;
    let mut count = |kind: &'static str, n: usize| *totals.by_kind.entry(kind).or_default() += n;

    let mut f = YamlFile::new(if p.auto_mode {
        "An EKS Auto Mode cluster."
    } else {
        "A cluster with managed node groups and Fargate."
    });
    f.push(&cluster_doc(p, rng))?;
    count("Cluster", 1);
    let cluster = f;

    let mut addons = YamlFile::new("EKS add-ons.");
    let docs = addon_docs(p, rng);
    count("Addon", docs.len());
    for d in &docs {
        addons.push(d)?;
    }

    let mut access = YamlFile::new("Who may use the cluster.");
    let docs = access_docs(p, rng);
    count("AccessEntry", docs.len());
    for d in &docs {
        access.push(d)?;
    }

    let mut pods = YamlFile::new("Pod Identity associations.");
    let docs = pod_identity_docs(p, rng);
    count("PodIdentityAssociation", docs.len());
    for d in &docs {
        pods.push(d)?;
    }

    let mut compute = Vec::new();
    if let Some((class, role)) = &p.node_class {
        let mut f = YamlFile::new("A custom NodeClass and its NodePools.");
        f.push(&node_class_doc(p, class, role, rng))?;
        count("NodeClass", 1);
        let pools = node_pool_docs(class, rng);
        count("NodePool", pools.len());
        for d in &pools {
            f.push(d)?;
        }
        compute.push(("nodepools.yaml", f));
    } else {
        let mut f = YamlFile::new("Managed node groups.");
        let docs = node_group_docs(p, rng);
        count("NodeGroup", docs.len());
        for d in &docs {
            f.push(d)?;
        }
        compute.push(("nodegroups.yaml", f));
        let mut f = YamlFile::new("Fargate profiles.");
        let docs = fargate_docs(p, rng);
        count("FargateProfile", docs.len());
        for d in &docs {
            f.push(d)?;
        }
        compute.push(("fargate.yaml", f));
    }

    let mut apps =
        YamlFile::new("Workloads: scanned for deprecated and removed APIs before upgrades.");
    let docs = manifests(p, rng);
    count("manifest", docs.len());
    for d in &docs {
        apps.push(d)?;
    }

    write_file(&dir.join("cluster.yaml"), &cluster, totals)?;
    write_file(&dir.join("addons.yaml"), &addons, totals)?;
    write_file(&dir.join("access.yaml"), &access, totals)?;
    write_file(&dir.join("pod-identity.yaml"), &pods, totals)?;
    for (name, f) in &compute {
        write_file(&dir.join(name), f, totals)?;
    }
    write_file(&dir.join("manifests").join("app.yaml"), &apps, totals)?;
    Ok(())
}

/// Hidden file (keelson skips hidden files) marking a directory as gen-fleet output, which
/// a later run may replace without `--force`.
const MARKER: &str = ".gen-fleet";

fn prepare_out(out: &Path, force: bool) -> Result<()> {
    if out.exists() {
        let non_empty = std::fs::read_dir(out)
            .with_context(|| format!("reading {}", out.display()))?
            .next()
            .is_some();
        if non_empty {
            if !force && !out.join(MARKER).is_file() {
                bail!(
                    "{} is not empty and was not written by gen-fleet; pass --force to replace its keelson.yaml and clusters/",
                    out.display()
                );
            }
            let clusters = out.join("clusters");
            if clusters.exists() {
                std::fs::remove_dir_all(&clusters)
                    .with_context(|| format!("removing {}", clusters.display()))?;
            }
            let fleet = out.join("keelson.yaml");
            if fleet.exists() {
                std::fs::remove_file(&fleet)
                    .with_context(|| format!("removing {}", fleet.display()))?;
            }
        }
    }
    std::fs::create_dir_all(out.join("clusters"))
        .with_context(|| format!("creating {}", out.display()))?;
    let marker = out.join(MARKER);
    std::fs::write(
        &marker,
        "written by examples/gen-fleet.rs; rerunning it replaces keelson.yaml and clusters/\n",
    )
    .with_context(|| format!("writing {}", marker.display()))?;
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.clusters == 0 || args.clusters > 99_999 {
        bail!("--clusters must be between 1 and 99999");
    }
    if !(0.0..=1.0).contains(&args.auto_mode_share) {
        bail!("--auto-mode-share must be between 0.0 and 1.0");
    }
    prepare_out(&args.out, args.force)?;
    let mut rng = Rng::new(args.seed);
    let accounts: Vec<String> = (0..24)
        .map(|_| format!("{:012}", 100_000_000_000 + rng.next_u64() % 900_000_000_000))
        .collect();

    let mut totals = Totals::default();
    let mut fleet = YamlFile::new(&format!(
        "A synthetic fleet of {} clusters (gen-fleet --seed {}).\nClusters roll out stage by stage: staging first, then prod.",
        args.clusters, args.seed
    ));
    fleet.push(&fleet_doc())?;
    write_file(&args.out.join("keelson.yaml"), &fleet, &mut totals)?;
    totals.by_kind.insert("Fleet", 1);

    let mut auto = 0;
    for i in 0..args.clusters {
        // One generator per cluster, so that a cluster does not change when another one's
        // choices do.
        let mut crng = Rng::new(args.seed ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let p = plan(i, &accounts, args.auto_mode_share, &mut crng);
        auto += usize::from(p.auto_mode);
        write_cluster(&args.out, &p, &mut crng, &mut totals)?;
    }

    let docs = totals.documents();
    println!(
        "wrote {}: {} clusters ({} Auto Mode), {} files, {} documents ({:.1} per cluster)",
        args.out.display(),
        args.clusters,
        auto,
        totals.files,
        docs,
        docs as f64 / args.clusters as f64
    );
    let breakdown: Vec<String> = totals
        .by_kind
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    println!("  {}", breakdown.join(", "));
    Ok(())
}
