//! NodeClass rules: what the EKS Auto Mode NodeClass takes beyond its schema (the
//! ephemeral storage size per unit, the tags Auto Mode reserves, the object name) and
//! how a NodeClass fits its cluster (role or instance profile, the EC2 access entry, the
//! built-in `default`).
//!
//! ```text
//!  NodeClass ──► class_rules       (name, size, pod networking, tags)         every cluster
//!            └─► node_class_rules  (default, role/profile, access entry)      Auto Mode clusters
//! ```
//!
//! Sources: the EKS user guide, "Create a Node Class for Amazon EKS" (create-node-class,
//! Node Class Specification: the size ranges and the restricted tags; "Separate subnets
//! and security groups for Pods": the two pod selectors together).

use std::collections::BTreeSet;

use super::nodepool::object_name;
use super::Ctx;
use crate::config::diag::Rule;
use crate::config::repo::ClusterConfig;
use crate::model::*;

/// `ephemeralStorage.size` ranges per unit (create-node-class: "Range: 1-59000Gi or
/// 1-64000G or 1-58Ti or 1-64T").
const SIZE_RANGES: &[(&str, u64)] = &[("Gi", 59_000), ("G", 64_000), ("Ti", 58), ("T", 64)];

/// Tag keys a NodeClass may not set in `spec.tags`, matched exactly. They are the keys
/// the EKS user guide names: "Create a Node Class for Amazon EKS" (create-node-class),
/// section "Node Class Specification", the comment under `tags` that lists the
/// restricted keys: `kubernetes.io/cluster/*` (see the prefixes below),
/// `karpenter.sh/provisioner-name`, `karpenter.sh/nodepool`, `karpenter.sh/nodeclaim`,
/// `karpenter.sh/managed-by` and `eks.amazonaws.com/nodeclass`; nothing else. Checked
/// against the page's source in awsdocs/amazon-eks-user-guide
/// (latest/ug/automode/create-node-class.adoc, commit 0026c9df).
const RESTRICTED_TAGS: &[&str] = &[
    "karpenter.sh/provisioner-name",
    "karpenter.sh/nodepool",
    "karpenter.sh/nodeclaim",
    "karpenter.sh/managed-by",
    "eks.amazonaws.com/nodeclass",
];
/// Tag key prefixes a NodeClass may not set: the page's `kubernetes.io/cluster/*`
/// (create-node-class, Node Class Specification, same comment).
const RESTRICTED_TAG_PREFIXES: &[&str] = &["kubernetes.io/cluster/"];

/// Why an ephemeral storage size is out of range, if it is. Sizes the schema's pattern
/// refuses (`80GB`) are not judged here.
pub(crate) fn size_problem(size: &str) -> Option<String> {
    let digits = size.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &size[digits.len()..];
    let max = SIZE_RANGES.iter().find(|(u, _)| *u == unit)?.1;
    let n = digits.parse::<u64>().ok();
    if n.is_some_and(|n| (1..=max).contains(&n)) {
        return None;
    }
    Some(format!(
        "ephemeralStorage.size `{size}` is out of range: write 1-59000Gi, 1-64000G, 1-58Ti or 1-64T (e.g. `80Gi`)"
    ))
}

/// Why a NodeClass tag key is refused, if it is.
pub(crate) fn restricted_tag(key: &str) -> Option<String> {
    if key.is_empty() {
        return Some("an empty tag key is not allowed".into());
    }
    if RESTRICTED_TAGS.contains(&key) || RESTRICTED_TAG_PREFIXES.iter().any(|p| key.starts_with(p))
    {
        return Some(format!(
            "tag `{key}` is one EKS Auto Mode sets on the instances itself and cannot be set in a NodeClass; choose another key"
        ));
    }
    None
}

/// Name, size and tags of every NodeClass, with or without Auto Mode.
pub(super) fn class_rules(c: &ClusterConfig, cx: &mut Ctx<'_>) {
    for n in &c.node_classes {
        object_name(Kind::NodeClass, n.doc, &n.value.metadata.name, cx);
        let spec = &n.value.spec;
        if let Some(size) = spec
            .ephemeral_storage
            .as_ref()
            .and_then(|e| e.size.as_deref())
        {
            if let Some(message) = size_problem(size) {
                cx.report(
                    n.doc,
                    "spec.ephemeralStorage.size",
                    Rule::NodeClassEphemeralStorage,
                    message,
                );
            }
        }
        // create-node-class, "Separate subnets and security groups for Pods": the two
        // selectors go together.
        let (subnets, groups) = (
            spec.pod_subnet_selector_terms.is_empty(),
            spec.pod_security_group_selector_terms.is_empty(),
        );
        if subnets != groups {
            let (set, missing) = if subnets {
                ("podSecurityGroupSelectorTerms", "podSubnetSelectorTerms")
            } else {
                ("podSubnetSelectorTerms", "podSecurityGroupSelectorTerms")
            };
            cx.report(
                n.doc,
                &format!("spec.{set}"),
                Rule::NodeClassPodNetworking,
                format!("`{set}` needs `{missing}` too: pods in separate subnets need their own security groups, and the reverse"),
            );
        }
        for key in spec.tags.keys() {
            if let Some(message) = restricted_tag(key) {
                cx.report_key(
                    n.doc,
                    "spec.tags",
                    key,
                    Rule::NodeClassRestrictedTag,
                    message,
                );
            }
        }
    }
}

/// How the NodeClasses fit an Auto Mode cluster with built-in pools `builtins`.
pub(super) fn node_class_rules(c: &ClusterConfig, builtins: &BTreeSet<&str>, cx: &mut Ctx<'_>) {
    for n in &c.node_classes {
        let spec = &n.value.spec;
        if n.value.metadata.name == "default" && !builtins.is_empty() {
            cx.report(n.doc, "metadata.name", Rule::BuiltinPoolOverride, "the built-in NodeClass `default` cannot be modified; give your NodeClass another name");
        }
        match (&spec.role, &spec.instance_profile) {
            (Some(_), Some(_)) => cx.report(
                n.doc,
                "spec.instanceProfile",
                Rule::NodeClassRoleOrProfile,
                "set `role` or `instanceProfile`, not both",
            ),
            (None, None) => cx.report(
                n.doc,
                "spec",
                Rule::NodeClassRoleOrProfile,
                "set `role` (the node IAM role name) or `instanceProfile`",
            ),
            _ => {}
        }
        if let Some(role) = &spec.role {
            let has_entry = c.access_entries.iter().any(|e| {
                e.value.spec.entry_type == AccessEntryType::Ec2
                    && e.value.spec.principal_arn.rsplit('/').next() == Some(role.as_str())
            });
            if !has_entry {
                cx.report(
                    n.doc,
                    "spec.role",
                    Rule::NodeClassAccessEntry,
                    format!("no AccessEntry of type EC2 for role `{role}` in this cluster; add one with the AmazonEKSAutoNodePolicy policy or its nodes cannot join"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ephemeral_storage_sizes_follow_the_documented_ranges() {
        for ok in ["1Gi", "80Gi", "59000Gi", "64000G", "58Ti", "64T", "1T"] {
            assert_eq!(size_problem(ok), None, "{ok}");
        }
        for bad in [
            "0Gi",
            "59001Gi",
            "64001G",
            "59Ti",
            "65T",
            "99999999999999999999999Gi",
        ] {
            assert!(size_problem(bad).is_some(), "{bad}");
        }
        // Not this rule's business: the schema's pattern refuses these.
        assert_eq!(size_problem("80GB"), None);
    }

    #[test]
    fn restricted_tags() {
        assert!(restricted_tag("kubernetes.io/cluster/prod").is_some());
        assert!(restricted_tag("karpenter.sh/nodepool").is_some());
        assert!(restricted_tag("eks.amazonaws.com/nodeclass").is_some());
        for key in [
            "karpenter.sh/provisioner-name",
            "karpenter.sh/nodeclaim",
            "karpenter.sh/managed-by",
        ] {
            assert!(restricted_tag(key).is_some(), "{key}");
        }
        assert!(restricted_tag("").is_some());
        assert_eq!(restricted_tag("team"), None);
        assert_eq!(restricted_tag("karpenter.sh/discovery"), None);
        // The page restricts `kubernetes.io/cluster/*`, not every key that starts with
        // the same letters, and does not name `eks:eks-cluster-name`.
        assert_eq!(restricted_tag("kubernetes.io/cluster-owner"), None);
        assert_eq!(restricted_tag("eks:eks-cluster-name"), None);
    }
}
