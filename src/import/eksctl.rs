//! eksctl ClusterConfig (`eksctl.io/v1alpha5`) → keelson documents, and every field that
//! has no keelson equivalent, listed with its position and what to do.
//!
//! ```text
//!  text ─► YAML (positions) ─► apiVersion/kind check ─► sections, each key consumed ─┬─► Doc[]
//!                                                                                    └─► left out
//! ```
//!
//! The field names are eksctl's (eksctl-io/eksctl `pkg/apis/eksctl.io/v1alpha5`:
//! `types.go` ClusterConfig, ClusterMeta, KubernetesNetworkConfig, ClusterIAM,
//! ClusterCloudWatch, ManagedNodeGroup, FargateProfile, SecretsEncryption; `vpc.go`
//! ClusterVPC, ClusterEndpoints, AZSubnetSpec; `addon.go` Addon; `iam.go`
//! PodIdentityAssociation; `access_entry.go` AccessConfig, AccessEntry, AccessPolicy;
//! `auto_mode.go` AutoModeConfig). A key this module does not consume is reported, never
//! dropped in silence.

use std::collections::BTreeMap;

use serde_json::{json, Value as J};

mod compute;

use super::{doc_name, entry_name, Doc, ImportedCluster};
use crate::config::yaml::{self, Limits, Node, Pos, Value};
use crate::model::*;
use compute::{addons, fargate, managed_node_groups};

/// eksctl's `apiVersion` for ClusterConfig.
pub const EKSCTL_API: &str = "eksctl.io/v1alpha5";

/// A role ARN written where eksctl would have created the role; the Cluster stays
/// unappliable until it is replaced, and the conversion is reported incomplete.
const PLACEHOLDER_ROLE: &str = "arn:aws:iam::000000000000:role/REPLACE-ME";

/// What a conversion produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Converted {
    /// The cluster's documents.
    pub cluster: ImportedCluster,
    /// `FILE:LINE:COL: field: what to do`, one per field keelson has no equivalent for.
    pub left_out: Vec<String>,
}

/// Walks one file, consuming keys and collecting what is left out.
struct Cx<'a> {
    file: &'a str,
    left_out: Vec<String>,
}

impl Cx<'_> {
    fn leave(&mut self, pos: Pos, path: &str, what: &str) {
        self.left_out
            .push(format!("{}:{pos}: `{path}`: {what}", self.file));
    }

    /// The entries of a mapping node with every key not in `known` reported under
    /// `path` with `why`.
    fn entries<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        known: &[&str],
        why: &str,
    ) -> BTreeMap<&'n str, &'n Node> {
        let mut out = BTreeMap::new();
        if let Value::Map(entries) = &node.value {
            for e in entries {
                if known.contains(&e.key.as_str()) {
                    out.insert(e.key.as_str(), &e.value);
                } else {
                    let p = join(path, &e.key);
                    self.leave(e.key_pos, &p, why);
                }
            }
        }
        out
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn text(n: Option<&&Node>) -> Option<String> {
    n.and_then(|n| match &n.value {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

fn flag(n: Option<&&Node>) -> Option<bool> {
    n.and_then(|n| match n.value {
        Value::Bool(b) => Some(b),
        _ => None,
    })
}

fn number(n: Option<&&Node>) -> Option<u32> {
    n.and_then(|n| match n.value {
        Value::Int(i) => u32::try_from(i).ok(),
        _ => None,
    })
}

fn strings(n: Option<&&Node>) -> Vec<String> {
    match n.map(|n| &n.value) {
        Some(Value::Seq(items)) => items.iter().filter_map(|i| text(Some(&i))).collect(),
        _ => Vec::new(),
    }
}

fn items<'n>(n: Option<&&'n Node>) -> Vec<&'n Node> {
    match n.map(|n| &n.value) {
        Some(Value::Seq(items)) => items.iter().collect(),
        _ => Vec::new(),
    }
}

fn string_map(n: Option<&&Node>) -> BTreeMap<String, String> {
    match n.map(|n| &n.value) {
        Some(Value::Map(entries)) => entries
            .iter()
            .filter_map(|e| Some((e.key.clone(), text(Some(&&e.value))?)))
            .collect(),
        _ => BTreeMap::new(),
    }
}

fn error(file: &str, pos: Pos, rule: &str, message: impl std::fmt::Display) -> String {
    format!("{file}:{pos}: error[{rule}]: {message}")
}

/// Convert an eksctl ClusterConfig. `file` is the path shown in messages; `stage` the
/// Fleet stage the cluster goes to.
///
/// # Errors
/// `FILE:LINE:COL: error[...]: ...` when the text is not YAML, not one
/// `eksctl.io/v1alpha5` ClusterConfig, or lacks the cluster's name, region or version.
pub fn convert(file: &str, source: &str, stage: &str) -> Result<Converted, String> {
    let docs = yaml::parse(source, Limits::default()).map_err(|e| {
        error(
            file,
            e.pos,
            "eksctl-yaml",
            format!("not valid YAML: {}", e.message),
        )
    })?;
    let root = match docs.as_slice() {
        [d] => &d.root,
        [] => return Err(error(file, Pos::START, "eksctl-kind", "the file is empty; it should hold one eksctl ClusterConfig (apiVersion: eksctl.io/v1alpha5, kind: ClusterConfig)")),
        [_, d, ..] => return Err(error(file, d.root.pos, "eksctl-kind", "the file holds more than one document; keep one ClusterConfig per file")),
    };
    let api = root.get("apiVersion").and_then(Node::as_str);
    if api != Some(EKSCTL_API) {
        let pos = root.get("apiVersion").map_or(root.pos, |n| n.pos);
        return Err(error(file, pos, "eksctl-version", format!(
            "apiVersion is {}, and keelson reads eksctl's {EKSCTL_API} ClusterConfig only; write `apiVersion: {EKSCTL_API}` (eksctl upgrades older files with `eksctl utils schema`)",
            api.map_or("missing".to_string(), |a| format!("`{a}`"))
        )));
    }
    if root.get("kind").and_then(Node::as_str) != Some("ClusterConfig") {
        let pos = root.get("kind").map_or(root.pos, |n| n.pos);
        return Err(error(
            file,
            pos,
            "eksctl-kind",
            "kind must be `ClusterConfig` (keelson converts eksctl cluster files only)",
        ));
    }
    let mut cx = Cx {
        file,
        left_out: Vec::new(),
    };
    let top = cx.entries(
        root,
        "",
        &[
            "apiVersion",
            "kind",
            "metadata",
            "kubernetesNetworkConfig",
            "iam",
            "vpc",
            "autoModeConfig",
            "managedNodeGroups",
            "nodeGroups",
            "fargateProfiles",
            "addons",
            "accessConfig",
            "cloudWatch",
            "secretsEncryption",
            "availabilityZones",
            "iamIdentityMappings",
            "identityProviders",
            "upgradePolicy",
            "zonalShiftConfig",
            "status",
        ],
        "keelson has no equivalent; leave it to eksctl or drop it",
    );
    let meta_node = top.get("metadata").copied().ok_or_else(|| {
        error(
            file,
            root.pos,
            "eksctl-field",
            "`metadata` is missing: a ClusterConfig names its cluster, region and version there",
        )
    })?;
    let meta = cx.entries(
        meta_node,
        "metadata",
        &[
            "name",
            "region",
            "version",
            "tags",
            "annotations",
            "accountID",
        ],
        "keelson has no equivalent",
    );
    let required = |key: &str, example: &str| {
        text(meta.get(key)).ok_or_else(|| {
            let pos = meta.get(key).map_or(meta_node.pos, |n| n.pos);
            let hint = if matches!(meta.get(key).map(|n| &n.value), Some(Value::Float(_))) {
                " as a quoted string (YAML reads 1.30 as the number 1.3)"
            } else {
                ""
            };
            error(
                file,
                pos,
                "eksctl-field",
                format!("`metadata.{key}` is required: write it{hint}, e.g. `{key}: {example}`"),
            )
        })
    };
    let name = required("name", "prod-use1")?;
    let region = required("region", "us-east-1")?;
    let version = required("version", "\"1.34\"")?;
    let mut out = ImportedCluster {
        name: name.clone(),
        ..ImportedCluster::default()
    };
    let mut cluster = json!({
        "region": region, "version": version, "stage": stage,
    });
    if let Some(a) = text(meta.get("accountID")) {
        cluster["account"] = J::String(a);
    }
    // IAM: the cluster role, Pod Identity associations; eksctl's role creation is not
    // keelson's business.
    let mut fargate_role = None;
    let mut role = None;
    if let Some(iam) = top.get("iam") {
        let m = cx.entries(
            iam,
            "iam",
            &[
                "serviceRoleARN",
                "withOIDC",
                "serviceAccounts",
                "podIdentityAssociations",
                "fargatePodExecutionRoleARN",
                "vpcResourceControllerPolicy",
            ],
            "keelson does not create IAM resources; create them outside and reference their ARNs",
        );
        role = text(m.get("serviceRoleARN"));
        fargate_role = text(m.get("fargatePodExecutionRoleARN"));
        if flag(m.get("withOIDC")) == Some(true) {
            if let Some(n) = m.get("withOIDC") {
                cx.leave(n.pos, "iam.withOIDC", "keelson does not create the IAM OIDC provider; create it once (`eksctl utils associate-iam-oidc-provider`) or use Pod Identity");
            }
        }
        for (i, sa) in items(m.get("serviceAccounts")).into_iter().enumerate() {
            cx.leave(sa.pos, &format!("iam.serviceAccounts[{i}]"), "IRSA service accounts: keelson creates neither the role nor the ServiceAccount; use a PodIdentityAssociation, or keep the ServiceAccount manifest under the cluster's manifests/");
        }
        for (i, p) in items(m.get("podIdentityAssociations"))
            .into_iter()
            .enumerate()
        {
            let path = format!("iam.podIdentityAssociations[{i}]");
            let pm = cx.entries(
                p,
                &path,
                &[
                    "namespace",
                    "serviceAccountName",
                    "roleARN",
                    "tags",
                    "targetRoleARN",
                    "disableSessionTags",
                ],
                "keelson does not create IAM roles; create the role and set roleARN",
            );
            let (Some(ns), Some(sa)) = (
                text(pm.get("namespace")),
                text(pm.get("serviceAccountName")),
            ) else {
                cx.leave(p.pos, &path, "needs namespace and serviceAccountName");
                continue;
            };
            let Some(role_arn) = text(pm.get("roleARN")) else {
                cx.leave(p.pos, &path, "no roleARN: eksctl would create the role; create it and add a PodIdentityAssociation with its ARN");
                continue;
            };
            let mut spec = json!({"namespace": ns, "serviceAccount": sa, "roleArn": role_arn});
            if let Some(t) = text(pm.get("targetRoleARN")) {
                spec["targetRoleArn"] = J::String(t);
            }
            if flag(pm.get("disableSessionTags")) == Some(true) {
                spec["disableSessionTags"] = J::Bool(true);
            }
            let tags = string_map(pm.get("tags"));
            if !tags.is_empty() {
                spec["tags"] = json!(tags);
            }
            out.docs.push(Doc::new(
                Kind::PodIdentityAssociation,
                &doc_name(&format!("{ns}-{sa}")),
                &spec,
            ));
        }
    }
    let role = role.unwrap_or_else(|| {
        let pos = top.get("iam").map_or(root.pos, |n| n.pos);
        cx.leave(pos, "iam.serviceRoleARN", "not set: eksctl creates the cluster role; keelson does not create IAM roles: create it and replace REPLACE-ME in spec.roleArn");
        PLACEHOLDER_ROLE.to_string()
    });
    cluster["roleArn"] = J::String(role);
    let subnets = vpc(&mut cx, top.get("vpc").copied(), root.pos, &mut cluster);
    network(&mut cx, &top, &mut cluster);
    access(&mut cx, &top, &mut cluster, &mut out);
    if let Some(a) = top.get("autoModeConfig") {
        let m = cx.entries(
            a,
            "autoModeConfig",
            &["enabled", "nodeRoleARN", "nodePools"],
            "keelson has no equivalent",
        );
        if flag(m.get("enabled")) == Some(true) {
            // eksctl's default when nodePools is not given: both built-in pools.
            let pools = if m.contains_key("nodePools") {
                strings(m.get("nodePools"))
            } else {
                vec!["general-purpose".to_string(), "system".to_string()]
            };
            let mut compute = json!({"enabled": true, "nodePools": pools});
            match text(m.get("nodeRoleARN")) {
                Some(r) => compute["nodeRoleArn"] = J::String(r),
                None if !pools.is_empty() => {
                    cx.leave(a.pos, "autoModeConfig.nodeRoleARN", "not set: eksctl creates the Auto Mode node role; create it and replace REPLACE-ME in spec.autoMode.compute.nodeRoleArn");
                    compute["nodeRoleArn"] = J::String(PLACEHOLDER_ROLE.into());
                }
                None => {}
            }
            cluster["autoMode"] = json!({"compute": compute, "blockStorage": {"enabled": true}, "loadBalancing": {"enabled": true}});
        }
    }
    if let Some(cw) = top.get("cloudWatch") {
        let m = cx.entries(
            cw,
            "cloudWatch",
            &["clusterLogging"],
            "keelson has no equivalent",
        );
        if let Some(l) = m.get("clusterLogging") {
            let lm = cx.entries(
                l,
                "cloudWatch.clusterLogging",
                &["enableTypes", "disableTypes", "logRetentionInDays"],
                "keelson has no equivalent",
            );
            let all: Vec<&str> = LogType::ALL.iter().map(|t| t.as_str()).collect();
            let mut on: Vec<String> = Vec::new();
            for t in strings(lm.get("enableTypes")) {
                if t == "*" || t == "all" {
                    on = all.iter().map(|s| s.to_string()).collect();
                } else if let Some(k) = all.iter().find(|k| k.eq_ignore_ascii_case(&t)) {
                    on.push(k.to_string());
                } else if let Some(n) = lm.get("enableTypes") {
                    cx.leave(
                        n.pos,
                        "cloudWatch.clusterLogging.enableTypes",
                        &format!("`{t}` is not a log type ({})", all.join(", ")),
                    );
                }
            }
            let off = strings(lm.get("disableTypes"));
            on.retain(|t| {
                !off.iter()
                    .any(|o| o == "*" || o == "all" || o.eq_ignore_ascii_case(t))
            });
            on.sort();
            on.dedup();
            if !on.is_empty() {
                cluster["logging"] = json!(on);
            }
            if let Some(n) = lm.get("logRetentionInDays") {
                cx.leave(n.pos, "cloudWatch.clusterLogging.logRetentionInDays", "keelson does not manage the log group /aws/eks/NAME/cluster: set its retention in CloudWatch");
            }
        }
    }
    if let Some(s) = top.get("secretsEncryption") {
        let m = cx.entries(
            s,
            "secretsEncryption",
            &["keyARN"],
            "keelson has no equivalent",
        );
        if let Some(k) = text(m.get("keyARN")) {
            cluster["secretsKmsKeyArn"] = J::String(k);
        }
    }
    if let Some(u) = top.get("upgradePolicy") {
        let m = cx.entries(
            u,
            "upgradePolicy",
            &["supportType"],
            "keelson has no equivalent",
        );
        if let Some(t) = text(m.get("supportType")) {
            cluster["upgradePolicy"] = json!({"supportType": t.to_ascii_uppercase()});
        }
    }
    if let Some(z) = top.get("zonalShiftConfig") {
        let m = cx.entries(
            z,
            "zonalShiftConfig",
            &["enabled"],
            "keelson has no equivalent",
        );
        if let Some(e) = flag(m.get("enabled")) {
            cluster["zonalShiftConfig"] = json!({"enabled": e});
        }
    }
    let tags = string_map(meta.get("tags"));
    if !tags.is_empty() {
        cluster["tags"] = json!(tags);
    }
    for (key, what) in [
        ("nodeGroups", "self-managed node groups are not managed by keelson: keep them in eksctl, or move them to managedNodeGroups"),
        ("iamIdentityMappings", "aws-auth ConfigMap mappings: write AccessEntry documents instead (authenticationMode API_AND_CONFIG_MAP or API)"),
        ("identityProviders", "OIDC identity providers are not managed by keelson: associate them outside keelson"),
        ("availabilityZones", "eksctl picks zones to create a VPC in; keelson does not create VPCs: bring your own subnets (vpc.subnets)"),
    ] {
        if let Some(n) = top.get(key) {
            cx.leave(n.pos, key, what);
        }
    }
    let mut cluster_doc = Doc::new(Kind::Cluster, &name, &cluster);
    cluster_doc
        .comments
        .push(format!("Converted from the eksctl ClusterConfig {file}."));
    out.docs.insert(0, cluster_doc);
    managed_node_groups(&mut cx, &top, &subnets, &mut out);
    fargate(&mut cx, &top, fargate_role, &mut out);
    addons(&mut cx, &top, &mut out);
    Ok(Converted {
        cluster: out,
        left_out: cx.left_out,
    })
}

/// Subnet ids by kind, as eksctl's `vpc.subnets.{private,public}` list them.
#[derive(Default)]
struct Subnets {
    private: Vec<String>,
    public: Vec<String>,
}

fn vpc(cx: &mut Cx<'_>, node: Option<&Node>, at: Pos, cluster: &mut J) -> Subnets {
    let mut s = Subnets::default();
    let Some(node) = node else {
        cx.leave(at, "vpc", "not set: eksctl would create a VPC; keelson does not create VPCs: bring your own subnets (vpc.subnets) and replace the placeholders in spec.vpc.subnetIds");
        cluster["vpc"] = json!({"subnetIds": ["subnet-00000000", "subnet-00000001"]});
        return s;
    };
    let m = cx.entries(
        node,
        "vpc",
        &[
            "id",
            "subnets",
            "securityGroup",
            "controlPlaneSubnetIDs",
            "controlPlaneSecurityGroupIDs",
            "clusterEndpoints",
            "publicAccessCIDRs",
            "cidr",
            "nat",
        ],
        "keelson does not manage the VPC; configure it outside keelson",
    );
    if let Some(sub) = m.get("subnets") {
        let sm = cx.entries(
            sub,
            "vpc.subnets",
            &["private", "public"],
            "keelson has no equivalent",
        );
        for (kind, list) in [("private", &mut s.private), ("public", &mut s.public)] {
            if let Some(Value::Map(zones)) = sm.get(kind).map(|n| &n.value) {
                for z in zones {
                    let path = format!("vpc.subnets.{kind}.{}", z.key);
                    let zm = cx.entries(
                        &z.value,
                        &path,
                        &["id", "az", "cidr"],
                        "keelson has no equivalent",
                    );
                    match text(zm.get("id")) {
                        Some(id) => list.push(id),
                        None => cx.leave(z.key_pos, &path, "no subnet id: eksctl would create the subnet; keelson does not: create it and write its id"),
                    }
                }
            }
        }
    }
    for key in ["cidr", "nat"] {
        if let Some(n) = m.get(key) {
            cx.leave(
                n.pos,
                &format!("vpc.{key}"),
                "VPC creation: keelson does not create VPCs; bring your own subnets",
            );
        }
    }
    let mut ids = strings(m.get("controlPlaneSubnetIDs"));
    if ids.is_empty() {
        ids = s.private.iter().chain(&s.public).cloned().collect();
    }
    if ids.is_empty() {
        cx.leave(node.pos, "vpc.subnets", "no subnet ids: eksctl would create the VPC; keelson does not: bring your own subnets and replace the placeholders in spec.vpc.subnetIds");
        ids = vec!["subnet-00000000".into(), "subnet-00000001".into()];
    }
    let mut v = json!({"subnetIds": ids});
    let mut sgs = strings(m.get("controlPlaneSecurityGroupIDs"));
    sgs.extend(text(m.get("securityGroup")));
    if !sgs.is_empty() {
        v["securityGroupIds"] = json!(sgs);
    }
    // eksctl's defaults: public endpoint on, private off (ClusterEndpoints).
    let mut public = true;
    if let Some(e) = m.get("clusterEndpoints") {
        let em = cx.entries(
            e,
            "vpc.clusterEndpoints",
            &["publicAccess", "privateAccess"],
            "keelson has no equivalent",
        );
        public = flag(em.get("publicAccess")).unwrap_or(true);
        v["endpointPrivateAccess"] = J::Bool(flag(em.get("privateAccess")).unwrap_or(false));
    }
    v["endpointPublicAccess"] = J::Bool(public);
    let cidrs = strings(m.get("publicAccessCIDRs"));
    if !cidrs.is_empty() {
        v["publicAccessCidrs"] = json!(cidrs);
    }
    cluster["vpc"] = v;
    s
}

fn network(cx: &mut Cx<'_>, top: &BTreeMap<&str, &Node>, cluster: &mut J) {
    let Some(n) = top.get("kubernetesNetworkConfig") else {
        return;
    };
    let m = cx.entries(
        n,
        "kubernetesNetworkConfig",
        &["ipFamily", "serviceIPv4CIDR"],
        "keelson has no equivalent",
    );
    let mut net = json!({});
    if let Some(f) = text(m.get("ipFamily")) {
        net["ipFamily"] = J::String(f.to_ascii_lowercase());
    }
    if let Some(c) = text(m.get("serviceIPv4CIDR")) {
        net["serviceIpv4Cidr"] = J::String(c);
    }
    cluster["kubernetesNetwork"] = net;
}

fn access(
    cx: &mut Cx<'_>,
    top: &BTreeMap<&str, &Node>,
    cluster: &mut J,
    out: &mut ImportedCluster,
) {
    // eksctl's default authentication mode is API_AND_CONFIG_MAP (AccessConfig).
    let mut a = json!({"authenticationMode": "API_AND_CONFIG_MAP"});
    if let Some(n) = top.get("accessConfig") {
        let m = cx.entries(
            n,
            "accessConfig",
            &[
                "authenticationMode",
                "bootstrapClusterCreatorAdminPermissions",
                "accessEntries",
            ],
            "keelson has no equivalent",
        );
        if let Some(mode) = text(m.get("authenticationMode")) {
            a["authenticationMode"] = J::String(mode);
        }
        if let Some(b) = flag(m.get("bootstrapClusterCreatorAdminPermissions")) {
            a["bootstrapClusterCreatorAdminPermissions"] = J::Bool(b);
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, e) in items(m.get("accessEntries")).into_iter().enumerate() {
            let path = format!("accessConfig.accessEntries[{i}]");
            let em = cx.entries(
                e,
                &path,
                &[
                    "principalARN",
                    "type",
                    "kubernetesGroups",
                    "kubernetesUsername",
                    "accessPolicies",
                ],
                "keelson has no equivalent",
            );
            let Some(p) = text(em.get("principalARN")) else {
                cx.leave(e.pos, &path, "no principalARN");
                continue;
            };
            let mut spec = json!({"principalArn": p});
            if let Some(t) = text(em.get("type")) {
                spec["type"] = J::String(t);
            }
            let groups = strings(em.get("kubernetesGroups"));
            if !groups.is_empty() {
                spec["kubernetesGroups"] = json!(groups);
            }
            if let Some(u) = text(em.get("kubernetesUsername")) {
                spec["username"] = J::String(u);
            }
            let mut policies = Vec::new();
            for (j, pol) in items(em.get("accessPolicies")).into_iter().enumerate() {
                let pp = format!("{path}.accessPolicies[{j}]");
                let pm = cx.entries(
                    pol,
                    &pp,
                    &["policyARN", "accessScope"],
                    "keelson has no equivalent",
                );
                let scope = pm
                    .get("accessScope")
                    .map(|s| {
                        cx.entries(
                            s,
                            &format!("{pp}.accessScope"),
                            &["type", "namespaces"],
                            "keelson has no equivalent",
                        )
                    })
                    .unwrap_or_default();
                let mut sc =
                    json!({"type": text(scope.get("type")).unwrap_or_else(|| "cluster".into())});
                let ns = strings(scope.get("namespaces"));
                if !ns.is_empty() {
                    sc["namespaces"] = json!(ns);
                }
                if let Some(arn) = text(pm.get("policyARN")) {
                    policies.push(json!({"policyArn": arn, "accessScope": sc}));
                }
            }
            if !policies.is_empty() {
                spec["policies"] = J::Array(policies);
            }
            let name = entry_name(&mut names, &p);
            out.docs.push(Doc::new(Kind::AccessEntry, &name, &spec));
        }
    }
    cluster["access"] = a;
}
