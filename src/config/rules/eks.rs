//! What the EKS API refuses that a schema cannot say: tag budgets that count keelson's
//! own tags, names, node-group labels and taints, role ARN parts, the service CIDR and
//! the IPv4/IPv6 settings. The numbers come from [`crate::model::limits`], where each
//! one cites its source.
//!
//! ```text
//!  ClusterConfig ──► tags · names · labels/taints · role ARNs · network ──► Diagnostic
//! ```

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::super::diag::{Diagnostic, Rule};
use super::super::repo::ClusterConfig;
use super::super::yaml::Seg;
use super::Ctx;
use crate::model::limits::*;
use crate::model::live::{KEELSON_CLUSTER_TAGS, MANAGED_TAG};
use crate::model::*;

/// The prefix of keelson's own tag keys, which a user tag may not take.
const KEELSON_TAG_PREFIX: &str = "keelson.dev/";

/// A path into a document, built from segments (tag and label keys hold dots, which the
/// dotted paths of the other rules cannot).
fn path(parts: &[&str]) -> Vec<Seg> {
    parts.iter().map(|p| Seg::Key((*p).to_string())).collect()
}

impl Ctx<'_> {
    /// Report at `segs`: the key itself with `key`, else its value.
    fn report_at(&mut self, doc: usize, segs: &[Seg], key: bool, rule: Rule, message: String) {
        let Some(d) = self.docs.get(doc) else { return };
        let pos = d.pos_at(segs, key);
        self.out
            .push(Diagnostic::new(&d.origin.file, pos, rule, message));
    }
}

/// Run the EKS API rules over one cluster's documents.
pub(super) fn check(c: &ClusterConfig, cx: &mut Ctx<'_>) {
    let cluster = &c.cluster;
    let spec = &cluster.value.spec;
    tags(cx, cluster.doc, &spec.tags, KEELSON_CLUSTER_TAGS, "Cluster");
    for a in &c.addons {
        tags(cx, a.doc, &a.value.spec.tags, 1, "Addon");
    }
    for n in &c.node_groups {
        tags(cx, n.doc, &n.value.spec.tags, 1, "NodeGroup");
    }
    for f in &c.fargate_profiles {
        tags(cx, f.doc, &f.value.spec.tags, 1, "FargateProfile");
    }
    for e in &c.access_entries {
        tags(cx, e.doc, &e.value.spec.tags, 1, "AccessEntry");
    }
    for p in &c.pod_identities {
        tags(cx, p.doc, &p.value.spec.tags, 1, "PodIdentityAssociation");
    }
    name(cx, cluster.doc, &cluster.value.metadata.name, &CLUSTER_NAME);
    for n in &c.node_groups {
        name(cx, n.doc, &n.value.metadata.name, &NODEGROUP_NAME);
        labels(cx, n.doc, &n.value.spec.labels);
        taints(cx, n.doc, &n.value.spec.taints);
    }
    role_arns(c, cx);
    network(cx, cluster.doc, spec);
    access_principals(c, cx);
}

/// Tags: the API's 50 include keelson's own (`own` of them on this kind), keys and values
/// have lengths, and neither may start with `aws:`; `keelson.dev/` keys are keelson's.
fn tags(cx: &mut Ctx<'_>, doc: usize, tags: &Tags, own: usize, kind: &str) {
    let budget = (TAGS_PER_RESOURCE.max as usize).saturating_sub(own);
    if tags.len() > budget {
        cx.report_at(
            doc,
            &path(&["spec", "tags"]),
            true,
            Rule::TagLimits,
            format!(
                "{} tags, but EKS allows {} per resource and keelson adds {own} of its own to every {kind} (`{MANAGED_TAG}`{}); keep at most {budget}",
                tags.len(),
                TAGS_PER_RESOURCE.max,
                if own > 1 { " and its upgrade records" } else { "" }
            ),
        );
    }
    for (k, v) in tags {
        let at = path(&["spec", "tags", k]);
        let problem = if let Some(m) =
            TAG_KEY.length_problem(&format!("tag key `{}`", shorten(k)), k)
        {
            Some(m)
        } else if k.to_ascii_lowercase().starts_with(RESERVED_TAG_PREFIX) {
            Some(format!(
                "tag key `{k}` starts with `aws:`, which AWS reserves; choose another key"
            ))
        } else if k.starts_with(KEELSON_TAG_PREFIX) {
            Some(format!(
                "tag key `{k}` is in keelson's own `{KEELSON_TAG_PREFIX}` namespace; choose another key"
            ))
        } else {
            None
        };
        if let Some(m) = problem {
            cx.report_at(doc, &at, true, Rule::TagLimits, m);
        }
        if let Some(m) = TAG_VALUE.length_problem(&format!("the value of tag `{k}`"), v) {
            cx.report_at(doc, &at, false, Rule::TagLimits, m);
        } else if v.to_ascii_lowercase().starts_with(RESERVED_TAG_PREFIX) {
            let m = format!(
                "the value of tag `{k}` starts with `aws:`, which AWS reserves for its own values"
            );
            cx.report_at(doc, &at, false, Rule::TagLimits, m);
        }
    }
}

/// A value cut to a readable length for a message.
fn shorten(s: &str) -> String {
    if s.chars().count() > 40 {
        s.chars().take(40).collect::<String>() + "..."
    } else {
        s.to_string()
    }
}

fn alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// Letters, digits, `-` and `_`, starting with a letter or digit, of `limit`'s length:
/// the form of both cluster and node-group names.
fn name(cx: &mut Ctx<'_>, doc: usize, name: &str, limit: &Limit) {
    let form = name.chars().next().is_some_and(alnum)
        && name.chars().all(|c| alnum(c) || c == '-' || c == '_');
    if form && limit.allows(name.len()) {
        return;
    }
    let rule = if limit == &CLUSTER_NAME {
        Rule::ClusterName
    } else {
        Rule::NodeGroupName
    };
    let why = if !form {
        "may hold only letters, digits, `-` and `_`, and must start with a letter or digit"
            .to_string()
    } else {
        format!("must be {}-{} characters long", limit.min, limit.max)
    };
    let fix = name.replace('.', "-");
    let hint = if fix != name && !name.is_empty() {
        format!(" (e.g. `{fix}`)")
    } else {
        String::new()
    };
    cx.report_at(
        doc,
        &path(&["metadata", "name"]),
        false,
        rule,
        format!("`{}`: a {} {why}{hint}", shorten(name), limit.what),
    );
}

/// A Kubernetes name segment: alphanumerics, `-`, `_`, `.`, starting and ending with an
/// alphanumeric (Kubernetes `IsQualifiedName`, `IsValidLabelValue`).
fn k8s_name(s: &str) -> bool {
    s.starts_with(alnum)
        && s.ends_with(alnum)
        && s.chars()
            .all(|c| alnum(c) || c == '-' || c == '_' || c == '.')
}

/// A DNS subdomain (RFC 1123), the prefix of a qualified name: lower-case labels of
/// alphanumerics and `-`, joined by `.`, at most 253 characters.
fn dns_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && l.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

/// A Kubernetes qualified name (label and taint keys): `[prefix/]name`.
fn qualified_name(s: &str) -> bool {
    match s.split_once('/') {
        Some((prefix, name)) => dns_subdomain(prefix) && name.len() <= 63 && k8s_name(name),
        None => s.len() <= 63 && k8s_name(s),
    }
}

/// Node-group labels: keys are qualified names and values label values, both of the
/// lengths of botocore's `labelKey` and `labelValue` (which, unlike Kubernetes, allow no
/// empty value).
fn labels(cx: &mut Ctx<'_>, doc: usize, labels: &std::collections::BTreeMap<String, String>) {
    for (k, v) in labels {
        let at = path(&["spec", "labels", k]);
        let key = LABEL_KEY
            .length_problem(&format!("label key `{}`", shorten(k)), k)
            .or_else(|| (!qualified_name(k)).then(|| format!("label key `{k}` is not a Kubernetes label key: write `[dns.prefix/]name`, the name of letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit")));
        if let Some(m) = key {
            cx.report_at(doc, &at, true, Rule::NodeGroupLabels, m);
        }
        let value = LABEL_VALUE
            .length_problem(&format!("the value of label `{k}`"), v)
            .or_else(|| (!k8s_name(v)).then(|| format!("the value `{v}` of label `{k}` is not a Kubernetes label value: letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit")));
        if let Some(m) = value {
            cx.report_at(doc, &at, false, Rule::NodeGroupLabels, m);
        }
    }
}

/// Node-group taints: the key and value forms of the EKS user guide (lengths and count
/// are in the schema), unique by key and effect as Kubernetes requires of a node.
fn taints(cx: &mut Ctx<'_>, doc: usize, taints: &[NodeGroupTaint]) {
    let mut seen = BTreeSet::new();
    for (i, t) in taints.iter().enumerate() {
        let at = |field: &str| {
            vec![
                Seg::Key("spec".into()),
                Seg::Key("taints".into()),
                Seg::Index(i),
                Seg::Key(field.into()),
            ]
        };
        if !qualified_name(&t.key) {
            let m = format!("taint key `{}` must begin with a letter or number and hold letters, numbers, `-`, `.` and `_` (optionally after a DNS subdomain prefix and `/`)", t.key);
            cx.report_at(doc, &at("key"), false, Rule::NodeGroupTaints, m);
        }
        if let Some(v) = t.value.as_deref().filter(|v| !v.is_empty() && !k8s_name(v)) {
            let m = format!("taint value `{v}` must begin and end with a letter or number and hold letters, numbers, `-`, `.` and `_`");
            cx.report_at(doc, &at("value"), false, Rule::NodeGroupTaints, m);
        }
        if !seen.insert((t.key.as_str(), t.effect)) {
            let m = format!(
                "a second taint with key `{}` and effect {}; Kubernetes allows one taint per key and effect",
                t.key, t.effect
            );
            cx.report_at(doc, &at("key"), false, Rule::NodeGroupTaints, m);
        }
    }
}

/// Role ARNs: the schema holds their form (partition, account, `role/`); the parts'
/// lengths are IAM's.
fn role_arns(c: &ClusterConfig, cx: &mut Ctx<'_>) {
    let spec = &c.cluster.value.spec;
    let mut arns: Vec<(usize, Vec<Seg>, &str)> = vec![(
        c.cluster.doc,
        path(&["spec", "roleArn"]),
        spec.role_arn.as_str(),
    )];
    if let Some(r) = &spec.operator_role_arn {
        arns.push((c.cluster.doc, path(&["spec", "operatorRoleArn"]), r));
    }
    if let Some(r) = spec
        .auto_mode
        .as_ref()
        .and_then(|a| a.compute.node_role_arn.as_deref())
    {
        let p = path(&["spec", "autoMode", "compute", "nodeRoleArn"]);
        arns.push((c.cluster.doc, p, r));
    }
    for n in &c.node_groups {
        let r = n.value.spec.node_role_arn.as_str();
        arns.push((n.doc, path(&["spec", "nodeRoleArn"]), r));
    }
    for f in &c.fargate_profiles {
        let r = f.value.spec.pod_execution_role_arn.as_str();
        arns.push((f.doc, path(&["spec", "podExecutionRoleArn"]), r));
    }
    for p in &c.pod_identities {
        let s = &p.value.spec;
        arns.push((p.doc, path(&["spec", "roleArn"]), s.role_arn.as_str()));
        if let Some(t) = &s.target_role_arn {
            arns.push((p.doc, path(&["spec", "targetRoleArn"]), t));
        }
    }
    for a in &c.addons {
        let s = &a.value.spec;
        if let Some(r) = &s.service_account_role_arn {
            arns.push((a.doc, path(&["spec", "serviceAccountRoleArn"]), r));
        }
        for (i, p) in s.pod_identity_associations.iter().enumerate() {
            let mut at = path(&["spec", "podIdentityAssociations"]);
            at.extend([Seg::Index(i), Seg::Key("roleArn".into())]);
            arns.push((a.doc, at, p.role_arn.as_str()));
        }
    }
    for (doc, at, arn) in arns {
        if let Some(m) = role_arn_problem(arn) {
            cx.report_at(doc, &at, false, Rule::RoleArn, m);
        }
    }
}

/// What is wrong with a role ARN's lengths, if anything.
pub(crate) fn role_arn_problem(arn: &str) -> Option<String> {
    let partition = arn.split(':').nth(1).unwrap_or_default();
    if !PARTITIONS.contains(&partition) {
        return Some(format!(
            "`{partition}` is not an AWS partition; write one of {}",
            PARTITIONS.join(", ")
        ));
    }
    if !IAM_ARN.allows(arn.len()) {
        return Some(format!(
            "the ARN is {} characters; IAM ARNs are at most {}",
            arn.len(),
            IAM_ARN.max
        ));
    }
    let resource = arn.split_once(":role").map(|(_, r)| r).unwrap_or_default();
    let (role_path, name) = resource.rsplit_once('/').unwrap_or(("", resource));
    if !IAM_ROLE_NAME.allows(name.len()) {
        return Some(format!(
            "role name `{}` is {} characters; IAM role names are at most {}",
            shorten(name),
            name.len(),
            IAM_ROLE_NAME.max
        ));
    }
    let role_path = format!("{role_path}/");
    if !IAM_ROLE_PATH.allows(role_path.len()) {
        return Some(format!(
            "the role's path is {} characters; IAM paths are at most {}",
            role_path.len(),
            IAM_ROLE_PATH.max
        ));
    }
    None
}

/// An IPv4 CIDR as (address, prefix), when it is one.
pub(super) fn ipv4_cidr(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (a, p) = s.split_once('/')?;
    let p: u8 = p.parse().ok().filter(|p| *p <= 32)?;
    Some((a.parse().ok()?, p))
}

/// An IPv6 CIDR as (address, prefix), when it is one.
fn ipv6_cidr(s: &str) -> Option<(Ipv6Addr, u8)> {
    let (a, p) = s.split_once('/')?;
    let p: u8 = p.parse().ok().filter(|p| *p <= 128)?;
    Some((a.parse().ok()?, p))
}

/// Whether `addr/prefix` lies inside `block/block_prefix`.
pub(super) fn within(addr: Ipv4Addr, prefix: u8, block: [u8; 4], block_prefix: u8) -> bool {
    let mask = |p: u8| u32::MAX.checked_shl(32 - u32::from(p)).unwrap_or(0);
    prefix >= block_prefix
        && u32::from(addr) & mask(block_prefix) == u32::from(Ipv4Addr::from(block))
}

/// The service CIDR, the public endpoint's CIDRs and the IP family agree with each other
/// and with what EKS accepts.
fn network(cx: &mut Ctx<'_>, doc: usize, spec: &ClusterSpec) {
    let net = spec.kubernetes_network.as_ref();
    let ipv6 = net.and_then(|n| n.ip_family) == Some(IpFamily::Ipv6);
    if let Some(cidr) = net.and_then(|n| n.service_ipv4_cidr.as_deref()) {
        let at = path(&["spec", "kubernetesNetwork", "serviceIpv4Cidr"]);
        if ipv6 {
            let m = "`serviceIpv4Cidr` is for ipv4 clusters; on an ipv6 cluster EKS assigns service addresses from fc00::/7 itself: remove it".to_string();
            cx.report_at(doc, &at, false, Rule::IpFamily, m);
        }
        let problem = match ipv4_cidr(cidr) {
            None => Some(format!("`{cidr}` is not an IPv4 CIDR")),
            Some((_, p)) if !SERVICE_CIDR_PREFIX.allows(usize::from(p)) => Some(format!(
                "`{cidr}` has a /{p} prefix; EKS takes /{} to /{}",
                SERVICE_CIDR_PREFIX.min, SERVICE_CIDR_PREFIX.max
            )),
            Some((a, p)) if !SERVICE_CIDR_BLOCKS.iter().any(|(b, bp)| within(a, p, *b, *bp)) => {
                Some(format!("`{cidr}` is not inside a private block; use one within 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, e.g. 10.100.0.0/16"))
            }
            Some(_) => None,
        };
        if let Some(m) = problem {
            cx.report_at(doc, &at, false, Rule::ServiceCidr, m);
        }
    }
    if ipv6 && spec.region.starts_with("cn-") {
        let m = format!(
            "EKS does not offer ipv6 clusters in the China regions ({}); use ipv4",
            spec.region
        );
        let at = path(&["spec", "kubernetesNetwork", "ipFamily"]);
        cx.report_at(doc, &at, false, Rule::IpFamily, m);
    }
    for (i, cidr) in spec.vpc.public_access_cidrs.iter().enumerate() {
        let mut at = path(&["spec", "vpc", "publicAccessCidrs"]);
        at.push(Seg::Index(i));
        let m = if cidr.contains(':') {
            match ipv6_cidr(cidr) {
                None => Some(format!("`{cidr}` is not an IPv6 CIDR")),
                Some(_) if !ipv6 => Some(format!("`{cidr}` is an IPv6 CIDR, which EKS accepts only on ipv6 clusters; remove it or set `kubernetesNetwork.ipFamily: ipv6` on a new cluster")),
                Some(_) => None,
            }
        } else {
            ipv4_cidr(cidr)
                .is_none()
                .then(|| format!("`{cidr}` is not an IPv4 CIDR"))
        };
        if let Some(m) = m {
            cx.report_at(doc, &at, false, Rule::PublicAccessCidrs, m);
        }
    }
}

/// Access entry principals: never an STS session, and an IAM role for the node types
/// (CreateAccessEntry `principalArn`: "For nodes (EC2, EC2_LINUX, EC2_WINDOWS,
/// FARGATE_LINUX, and HYBRID_LINUX), the only valid ARN is IAM roles. You can't use the
/// STS session principal type").
fn access_principals(c: &ClusterConfig, cx: &mut Ctx<'_>) {
    for e in &c.access_entries {
        let s = &e.value.spec;
        let resource = s.principal_arn.splitn(6, ':').nth(5).unwrap_or_default();
        let service = s.principal_arn.split(':').nth(2).unwrap_or_default();
        let m = if service == "sts" {
            Some("an access entry cannot name an STS session; name the IAM role it assumes (`arn:aws:iam::ACCOUNT:role/NAME`)".to_string())
        } else if s.entry_type != AccessEntryType::Standard && !resource.starts_with("role/") {
            Some(format!(
                "{} access entries are for nodes and take an IAM role ARN, not `{resource}`",
                s.entry_type
            ))
        } else {
            None
        };
        if let Some(m) = m {
            let at = path(&["spec", "principalArn"]);
            cx.report_at(e.doc, &at, false, Rule::AccessEntryFields, m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names_follow_kubernetes() {
        for ok in [
            "team",
            "example.com/team",
            "a",
            "node.kubernetes.io/role",
            "A_b.c-d",
        ] {
            assert!(qualified_name(ok), "{ok}");
        }
        for bad in [
            "",
            "-team",
            "team-",
            "Example.com/team",
            "a/b/c",
            "/team",
            "a b",
        ] {
            assert!(!qualified_name(bad), "{bad}");
        }
    }

    #[test]
    fn service_cidrs_must_lie_in_a_private_block() {
        let ok = |s: &str| {
            let (a, p) = ipv4_cidr(s).unwrap();
            SERVICE_CIDR_BLOCKS
                .iter()
                .any(|(b, bp)| within(a, p, *b, *bp))
        };
        for (cidr, inside) in [
            ("10.100.0.0/16", true),
            ("172.20.0.0/16", true),
            ("172.16.0.0/12", true),
            ("192.168.0.0/16", true),
            ("172.32.0.0/16", false),
            ("192.168.0.0/12", false),
            ("100.64.0.0/16", false),
        ] {
            assert_eq!(ok(cidr), inside, "{cidr}");
        }
    }

    #[test]
    fn role_arn_parts_have_iam_lengths() {
        assert_eq!(
            role_arn_problem("arn:aws:iam::111122223333:role/node"),
            None
        );
        assert_eq!(
            role_arn_problem("arn:aws-eusc:iam::111122223333:role/a/b/node"),
            None
        );
        let long = format!("arn:aws:iam::111122223333:role/{}", "r".repeat(65));
        assert!(role_arn_problem(&long).unwrap().contains("at most 64"));
        assert!(role_arn_problem("arn:aws-xx:iam::111122223333:role/n")
            .unwrap()
            .contains("partition"));
    }
}
