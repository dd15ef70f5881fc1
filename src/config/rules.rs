//! Semantic rules: what a schema cannot say. Each rule has an id ([`Rule`]) and reports
//! at the position of the value it is about.

use std::collections::{BTreeMap, BTreeSet};

use super::diag::{Diagnostic, Rule};
use super::repo::{ClusterConfig, DocNode, Repo};
use super::yaml::Seg;
use crate::model::*;
use crate::versions::{Date, Minor};

mod bake;
mod bootstrap;
mod calendar;
mod classes;

mod cron;
mod eks;
mod fields;
mod nodeclass;
mod nodepool;
#[cfg(test)]
mod nodepool_crd_tests;
mod notify;
mod rollback;

use nodepool::BUILTIN_NODE_POOLS;

/// The add-ons Auto Mode runs itself.
pub(crate) const AUTO_MODE_BUILTIN_ADDONS: &[&str] = &[
    "vpc-cni",
    "coredns",
    "kube-proxy",
    "aws-ebs-csi-driver",
    "eks-pod-identity-agent",
];
/// How far managed node groups may trail the control plane (kubelet skew, 1.28+).
pub(crate) const MAX_NODE_SKEW: i64 = 3;
/// The first minor without Amazon Linux 2 AMIs.
pub(crate) const AL2_LAST_MINOR_EXCLUSIVE: Minor = Minor::v1(33);

fn parse_path(path: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            if i > 0 {
                out.push(Seg::Key(rest[..i].to_string()));
            }
            rest = &rest[i..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let end = stripped.find(']').unwrap_or(stripped.len());
                if let Ok(n) = stripped[..end].parse() {
                    out.push(Seg::Index(n));
                }
                rest = stripped.get(end + 1..).unwrap_or("");
            }
        } else {
            out.push(Seg::Key(rest.to_string()));
        }
    }
    out
}

struct Ctx<'a> {
    docs: &'a [DocNode],
    out: &'a mut Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn report(&mut self, doc: usize, path: &str, rule: Rule, message: impl Into<String>) {
        let Some(d) = self.docs.get(doc) else { return };
        let pos = d.pos_at(&parse_path(path), false);
        self.out
            .push(Diagnostic::new(&d.origin.file, pos, rule, message));
    }

    /// Report at the key `key` of the mapping at `path` (a key may hold dots, as label
    /// keys do, so it is not part of the dotted path).
    fn report_key(
        &mut self,
        doc: usize,
        path: &str,
        key: &str,
        rule: Rule,
        message: impl Into<String>,
    ) {
        let Some(d) = self.docs.get(doc) else { return };
        let mut segs = parse_path(path);
        segs.push(Seg::Key(key.to_string()));
        let pos = d.pos_at(&segs, true);
        self.out
            .push(Diagnostic::new(&d.origin.file, pos, rule, message));
    }
}

/// Run every rule over a loaded repo.
pub(crate) fn check(repo: &Repo, docs: &[DocNode], today: Date, out: &mut Vec<Diagnostic>) {
    let mut cx = Ctx { docs, out };
    fleet_rules(repo, &mut cx);
    notify::check(repo, &mut cx);
    rollback::soak_rules(repo, &mut cx);
    bake::bake_rules(repo, &mut cx);
    for c in &repo.clusters {
        calendar::version_rules(c, today, &mut cx);
        auto_mode_rules(c, &mut cx);
        duplicate_rules(c, &mut cx);
        addon_rules(c, &mut cx);
        node_group_rules(c, &mut cx);
        access_rules(c, &mut cx);
        nodepool::pool_crd_rules(c, &mut cx);
        nodeclass::class_rules(c, &mut cx);
        nodepool::node_pool_rules(c, &mut cx);
        eks::check(c, &mut cx);
        fields::check(c, &mut cx);
        classes::check(c, &mut cx);
        bootstrap::check(c, &mut cx);
    }
}

fn fleet_rules(repo: &Repo, cx: &mut Ctx<'_>) {
    let Some(first) = repo.clusters.first() else {
        return;
    };
    let stages: Vec<&str> = match &repo.fleet {
        None => {
            cx.report(
                first.cluster.doc,
                "",
                Rule::FleetMissing,
                "the repository has Clusters but no Fleet document; add one (apiVersion: keelson.dev/v1alpha1, kind: Fleet) that lists the stages",
            );
            Vec::new()
        }
        Some(f) => {
            let mut seen = BTreeSet::new();
            for (i, s) in f.value.spec.stages.iter().enumerate() {
                if !seen.insert(s.name.as_str()) {
                    cx.report(
                        f.doc,
                        &format!("spec.stages[{i}].name"),
                        Rule::StageDuplicate,
                        format!("stage `{}` is defined twice", s.name),
                    );
                }
            }
            f.value
                .spec
                .stages
                .iter()
                .map(|s| s.name.as_str())
                .collect()
        }
    };
    if let Some(f) = &repo.fleet {
        let mut seen = BTreeSet::new();
        for (i, a) in f.value.spec.policy.accounts.iter().enumerate() {
            if !seen.insert(a.id.as_str()) {
                cx.report(
                    f.doc,
                    &format!("spec.policy.accounts[{i}].id"),
                    Rule::OperatorRoleAccount,
                    format!("account {} is listed twice", a.id),
                );
            }
        }
    }
    for c in &repo.clusters {
        let spec = &c.cluster.value.spec;
        if let (Some(role), Some(account)) = (&spec.operator_role_arn, &spec.account) {
            let role_account = role.split(':').nth(4).unwrap_or_default();
            if role_account != account {
                cx.report(
                    c.cluster.doc,
                    "spec.operatorRoleArn",
                    Rule::OperatorRoleAccount,
                    format!(
                        "operatorRoleArn is in account {role_account} but the cluster is in account {account}; name a role in {account} (keelson assumes it to reach the cluster)"
                    ),
                );
            }
        }
    }
    let mut names: BTreeMap<&str, &ClusterConfig> = BTreeMap::new();
    for c in &repo.clusters {
        let spec = &c.cluster.value.spec;
        if repo.fleet.is_some() && !stages.contains(&spec.stage.as_str()) {
            let hint = super::diag::suggest(&spec.stage, stages.iter().copied())
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            cx.report(
                c.cluster.doc,
                "spec.stage",
                Rule::UnknownStage,
                format!(
                    "stage `{}` is not defined by the Fleet (stages: {}){hint}",
                    spec.stage,
                    stages.join(", ")
                ),
            );
        }
    }
    // Clusters are sorted by name, so duplicates are neighbours; report the later file.
    for c in &repo.clusters {
        if let Some(prev) = names.insert(c.name(), c) {
            let (first, second) = if (&prev.cluster.origin.file, prev.cluster.origin.line)
                <= (&c.cluster.origin.file, c.cluster.origin.line)
            {
                (prev, c)
            } else {
                (c, prev)
            };
            cx.report(
                second.cluster.doc,
                "metadata.name",
                Rule::DuplicateCluster,
                format!(
                    "cluster `{}` is also defined at {}:{} (region {}); cluster names must be unique in a fleet",
                    c.name(),
                    first.cluster.origin.file,
                    first.cluster.origin.line,
                    first.cluster.value.spec.region
                ),
            );
        }
    }
}

fn auto_compute(c: &ClusterConfig) -> Option<&AutoCompute> {
    c.cluster
        .value
        .spec
        .auto_mode
        .as_ref()
        .map(|a| &a.compute)
        .filter(|compute| compute.enabled)
}

fn auto_mode_rules(c: &ClusterConfig, cx: &mut Ctx<'_>) {
    let doc = c.cluster.doc;
    let spec = &c.cluster.value.spec;
    if let Some(am) = &spec.auto_mode {
        let flags = [
            am.compute.enabled,
            am.block_storage.enabled,
            am.load_balancing.enabled,
        ];
        if flags.iter().any(|&f| f) && !flags.iter().all(|&f| f) {
            cx.report(
                doc,
                "spec.autoMode",
                Rule::AutoModeTrio,
                format!(
                    "Auto Mode compute ({}), blockStorage ({}) and loadBalancing ({}) must all be enabled or all disabled",
                    am.compute.enabled, am.block_storage.enabled, am.load_balancing.enabled
                ),
            );
        }
        let compute = &am.compute;
        let mut seen = BTreeSet::new();
        for (i, pool) in compute.node_pools.iter().enumerate() {
            let path = format!("spec.autoMode.compute.nodePools[{i}]");
            if !BUILTIN_NODE_POOLS.contains(&pool.as_str()) {
                let hint = super::diag::suggest(pool, BUILTIN_NODE_POOLS.iter().copied())
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                cx.report(
                    doc,
                    &path,
                    Rule::BuiltinPoolName,
                    format!(
                        "`{pool}` is not a built-in node pool (only `system` and `general-purpose`); define custom pools as NodePool documents{hint}"
                    ),
                );
            } else if !seen.insert(pool.as_str()) {
                cx.report(
                    doc,
                    &path,
                    Rule::BuiltinPoolName,
                    format!("node pool `{pool}` is listed twice"),
                );
            }
        }
        if !compute.enabled && !compute.node_pools.is_empty() {
            cx.report(
                doc,
                "spec.autoMode.compute.nodePools",
                Rule::BuiltinPoolName,
                "built-in node pools need Auto Mode compute enabled",
            );
        }
        match (
            compute.enabled && !compute.node_pools.is_empty(),
            &compute.node_role_arn,
        ) {
            (true, None) => cx.report(
                doc,
                "spec.autoMode.compute",
                Rule::AutoModeNodeRole,
                "`nodeRoleArn` is required when built-in node pools are enabled (a role with AmazonEKSWorkerNodeMinimalPolicy and AmazonEC2ContainerRegistryPullOnly)",
            ),
            (false, Some(_)) => cx.report(
                doc,
                "spec.autoMode.compute.nodeRoleArn",
                Rule::AutoModeNodeRole,
                "`nodeRoleArn` is only used by the built-in node pools; remove it or enable compute with node pools",
            ),
            _ => {}
        }
        if compute.enabled {
            let mode = spec.access.as_ref().map(|a| a.authentication_mode);
            if !matches!(
                mode,
                Some(AuthenticationMode::Api | AuthenticationMode::ApiAndConfigMap)
            ) {
                let path = if spec.access.is_some() {
                    "spec.access.authenticationMode"
                } else {
                    "spec"
                };
                cx.report(
                    doc,
                    path,
                    Rule::AutoModeAccess,
                    "Auto Mode needs access entries: set `access.authenticationMode` to API or API_AND_CONFIG_MAP",
                );
            }
        }
    }
    if auto_compute(c).is_none() {
        for p in &c.node_pools {
            cx.report(
                p.doc,
                "kind",
                Rule::NodePoolWithoutAutoMode,
                format!(
                    "NodePool `{}` needs EKS Auto Mode compute, which cluster `{}` does not enable",
                    p.value.metadata.name,
                    c.name()
                ),
            );
        }
        for n in &c.node_classes {
            cx.report(
                n.doc,
                "kind",
                Rule::NodePoolWithoutAutoMode,
                format!(
                    "NodeClass `{}` needs EKS Auto Mode compute, which cluster `{}` does not enable",
                    n.value.metadata.name,
                    c.name()
                ),
            );
        }
    }
}

fn duplicate_rules(c: &ClusterConfig, cx: &mut Ctx<'_>) {
    fn dups<'a>(
        kind: &str,
        items: impl Iterator<Item = (usize, &'a str)>,
        docs: &[DocNode],
        cx: &mut Vec<(usize, String)>,
    ) {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (doc, name) in items {
            if let Some(first) = seen.insert(name, doc) {
                let o = &docs[first].origin;
                cx.push((
                    doc,
                    format!(
                        "{kind} `{name}` is defined twice in this cluster (first at {}:{})",
                        o.file, o.line
                    ),
                ));
                seen.insert(name, first);
            }
        }
    }
    let mut found = Vec::new();
    let d = cx.docs;
    dups(
        "Addon",
        c.addons
            .iter()
            .map(|i| (i.doc, i.value.metadata.name.as_str())),
        d,
        &mut found,
    );
    dups(
        "NodeGroup",
        c.node_groups
            .iter()
            .map(|i| (i.doc, i.value.metadata.name.as_str())),
        d,
        &mut found,
    );
    dups(
        "FargateProfile",
        c.fargate_profiles
            .iter()
            .map(|i| (i.doc, i.value.metadata.name.as_str())),
        d,
        &mut found,
    );
    dups(
        "AccessEntry",
        c.access_entries
            .iter()
            .map(|i| (i.doc, i.value.metadata.name.as_str())),
        d,
        &mut found,
    );
    dups(
        "PodIdentityAssociation",
        c.pod_identities
            .iter()
            .map(|i| (i.doc, i.value.metadata.name.as_str())),
        d,
        &mut found,
    );
    dups(
        "NodePool",
        c.node_pools
            .iter()
            .map(|i| (i.doc, i.value.metadata.name.as_str())),
        d,
        &mut found,
    );
    dups(
        "NodeClass",
        c.node_classes
            .iter()
            .map(|i| (i.doc, i.value.metadata.name.as_str())),
        d,
        &mut found,
    );
    let names = |m: &Metadata| m.name.clone();
    for (kind, items) in [
        (
            "IngressClassParams",
            c.ingress_class_params
                .iter()
                .map(|i| (i.doc, names(&i.value.metadata)))
                .collect::<Vec<_>>(),
        ),
        (
            "IngressClass",
            c.ingress_classes
                .iter()
                .map(|i| (i.doc, names(&i.value.metadata)))
                .collect(),
        ),
        (
            "StorageClass",
            c.storage_classes
                .iter()
                .map(|i| (i.doc, names(&i.value.metadata)))
                .collect(),
        ),
    ] {
        dups(
            kind,
            items.iter().map(|(d, n)| (*d, n.as_str())),
            d,
            &mut found,
        );
    }
    for (doc, message) in found {
        cx.report(doc, "metadata.name", Rule::DuplicateDocument, message);
    }
}

fn addon_rules(c: &ClusterConfig, cx: &mut Ctx<'_>) {
    let auto = auto_compute(c).is_some();
    for a in &c.addons {
        let spec = &a.value.spec;
        if spec.service_account_role_arn.is_some() && !spec.pod_identity_associations.is_empty() {
            cx.report(
                a.doc,
                "spec.serviceAccountRoleArn",
                Rule::AddonIrsaAndPodIdentity,
                "use either `serviceAccountRoleArn` (IRSA) or `podIdentityAssociations`, not both",
            );
        }
        let name = a.value.metadata.name.as_str();
        if auto && AUTO_MODE_BUILTIN_ADDONS.contains(&name) {
            cx.report(
                a.doc,
                "metadata.name",
                Rule::AddonBuiltIntoAutoMode,
                format!("cluster `{}` runs EKS Auto Mode, which already provides `{name}`; the add-on is usually not needed", c.name()),
            );
        }
    }
}

fn node_group_rules(c: &ClusterConfig, cx: &mut Ctx<'_>) {
    let cluster_v = c.cluster.value.spec.version.parse::<Minor>().ok();
    for ng in &c.node_groups {
        let spec = &ng.value.spec;
        let s = spec.scaling;
        if s.min_size > s.max_size {
            cx.report(
                ng.doc,
                "spec.scaling.minSize",
                Rule::NodeGroupScaling,
                format!(
                    "minSize {} is larger than maxSize {}",
                    s.min_size, s.max_size
                ),
            );
        }
        if let Some(d) = s.desired_size {
            if d < s.min_size || d > s.max_size {
                cx.report(
                    ng.doc,
                    "spec.scaling.desiredSize",
                    Rule::NodeGroupScaling,
                    format!(
                        "desiredSize {d} is outside minSize {}..maxSize {}",
                        s.min_size, s.max_size
                    ),
                );
            }
        }
        let ng_v = spec
            .version
            .as_deref()
            .and_then(|v| v.parse::<Minor>().ok())
            .or(cluster_v);
        if let (Some(cv), Some(nv)) = (cluster_v, ng_v) {
            let behind = cv.minors_after(nv);
            if behind < 0 {
                cx.report(
                    ng.doc,
                    "spec.version",
                    Rule::NodeGroupSkew,
                    format!("node group version {nv} is newer than its cluster ({cv}); nodes may never be ahead of the control plane"),
                );
            } else if behind > MAX_NODE_SKEW {
                cx.report(
                    ng.doc,
                    "spec.version",
                    Rule::NodeGroupSkew,
                    format!("node group version {nv} is {behind} minors behind its cluster ({cv}); at most {MAX_NODE_SKEW} are allowed"),
                );
            }
        }
        if let (Some(ami), Some(nv)) = (spec.ami_type, ng_v) {
            if ami.is_al2() && nv >= AL2_LAST_MINOR_EXCLUSIVE {
                cx.report(
                    ng.doc,
                    "spec.amiType",
                    Rule::NodeGroupAl2,
                    format!("{ami} AMIs are not published for Kubernetes {nv} (Amazon Linux 2 ends with 1.32); use AL2023_x86_64_STANDARD, AL2023_ARM_64_STANDARD or Bottlerocket"),
                );
            }
        }
        if let Some(u) = &spec.update_config {
            if u.max_unavailable.is_some() == u.max_unavailable_percentage.is_some() {
                cx.report(
                    ng.doc,
                    "spec.updateConfig",
                    Rule::NodeGroupUpdateConfig,
                    "set exactly one of `maxUnavailable` and `maxUnavailablePercentage`",
                );
            }
        }
        if let Some(lt) = &spec.launch_template {
            if lt.id.is_some() == lt.name.is_some() {
                cx.report(
                    ng.doc,
                    "spec.launchTemplate",
                    Rule::NodeGroupLaunchTemplate,
                    "name the launch template by exactly one of `id` and `name`",
                );
            }
        }
    }
}

const RESERVED_USERNAME_PREFIXES: &[&str] = &["system:", "eks:", "aws:", "amazon:", "iam:"];

fn access_rules(c: &ClusterConfig, cx: &mut Ctx<'_>) {
    let mut principals: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &c.access_entries {
        let spec = &e.value.spec;
        if let Some(first) = principals.insert(spec.principal_arn.as_str(), e.doc) {
            let o = &cx.docs[first].origin;
            let message = format!(
                "principal `{}` already has an access entry in this cluster (at {}:{}); a principal has one entry",
                spec.principal_arn, o.file, o.line
            );
            cx.report(
                e.doc,
                "spec.principalArn",
                Rule::DuplicatePrincipal,
                message,
            );
        }
        // CreateAccessEntry `type`: only STANDARD entries take groups and a username; of
        // the node types (EC2, EC2_LINUX, EC2_WINDOWS, FARGATE_LINUX, HYBRID_LINUX,
        // HYPERPOD_LINUX) only Auto Mode's EC2 is associated with a policy
        // (AmazonEKSAutoNodePolicy, EKS user guide create-node-class.html).
        let t = spec.entry_type;
        if t != AccessEntryType::Standard {
            if !spec.kubernetes_groups.is_empty() {
                cx.report(
                    e.doc,
                    "spec.kubernetesGroups",
                    Rule::AccessEntryFields,
                    format!("{t} access entries take no kubernetesGroups"),
                );
            }
            if spec.username.is_some() {
                cx.report(
                    e.doc,
                    "spec.username",
                    Rule::AccessEntryFields,
                    format!("{t} access entries take no username"),
                );
            }
            if t != AccessEntryType::Ec2 && !spec.policies.is_empty() {
                cx.report(
                    e.doc,
                    "spec.policies",
                    Rule::AccessEntryFields,
                    format!("{t} access entries take no access policies"),
                );
            }
        }
        if let Some(u) = &spec.username {
            if let Some(p) = RESERVED_USERNAME_PREFIXES
                .iter()
                .find(|p| u.starts_with(**p))
            {
                cx.report(
                    e.doc,
                    "spec.username",
                    Rule::AccessUsername,
                    format!("username `{u}` starts with the reserved prefix `{p}`"),
                );
            }
        }
        for (i, p) in spec.policies.iter().enumerate() {
            let path = format!("spec.policies[{i}].accessScope");
            match (
                p.access_scope.scope_type,
                p.access_scope.namespaces.is_empty(),
            ) {
                (AccessScopeType::Namespace, true) => cx.report(
                    e.doc,
                    &path,
                    Rule::AccessScope,
                    "a namespace scope needs at least one namespace",
                ),
                (AccessScopeType::Cluster, false) => cx.report(
                    e.doc,
                    &format!("{path}.namespaces"),
                    Rule::AccessScope,
                    "a cluster scope takes no namespaces",
                ),
                _ => {}
            }
        }
    }
    let mut sas: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for p in &c.pod_identities {
        let s = &p.value.spec;
        if let Some(first) = sas.insert((s.namespace.as_str(), s.service_account.as_str()), p.doc) {
            let o = &cx.docs[first].origin;
            let message = format!(
                "service account {}/{} already has a Pod Identity association (at {}:{}); one role per service account",
                s.namespace, s.service_account, o.file, o.line
            );
            cx.report(
                p.doc,
                "spec.serviceAccount",
                Rule::DuplicatePodIdentity,
                message,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            parse_path("spec.policies[2].accessScope"),
            vec![
                Seg::Key("spec".into()),
                Seg::Key("policies".into()),
                Seg::Index(2),
                Seg::Key("accessScope".into())
            ]
        );
        assert!(parse_path("").is_empty());
    }
}
