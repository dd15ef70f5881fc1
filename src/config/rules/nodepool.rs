//! NodePool rules: the `x-kubernetes-validations` (CEL) rules of the Karpenter NodePool
//! CRD that a create can trip (Karpenter [`KARPENTER_VERSION`],
//! `pkg/apis/crds/karpenter.sh_nodepools.yaml`), the label checks of Karpenter's own
//! `RuntimeValidate` (`pkg/apis/v1/nodepool_validation.go`), and EKS Auto Mode's limits
//! on top of them (no `expireAfter: Never`, a node lives at most 21 days).
//!
//! ```text
//!  NodePool ──► pool_crd_rules   (CEL rules, object name, label keys, cron)   every cluster
//!           └─► node_pool_rules  (built-ins, nodeClassRef, 21-day lifetime)   Auto Mode clusters
//! ```
//!
//! The CRD's patterns, enums and limits are in the schema (`model/kinds/nodepool.rs`);
//! `nodepool_crd_tests.rs` reads the CRD and checks that every rule and constraint has
//! its counterpart here or there.

use std::collections::BTreeSet;

use super::cron;
use super::{auto_compute, Ctx};
use crate::config::diag::{suggest, Rule};
use crate::config::repo::ClusterConfig;
use crate::model::*;

/// The longest an Auto Mode node may live: expireAfter + terminationGracePeriod.
pub(crate) const MAX_NODE_LIFETIME_SECS: u64 = 21 * 24 * 3600;
/// Auto Mode's default expireAfter for NodePools (the CRD's own default, 720h, would
/// break the 21-day limit; Auto Mode's built-in pools and defaulting use 336h).
pub(crate) const DEFAULT_EXPIRE_AFTER_SECS: u64 = 336 * 3600;
/// Auto Mode's default terminationGracePeriod for NodePools.
pub(crate) const DEFAULT_TERMINATION_GRACE_SECS: u64 = 24 * 3600;
/// The built-in Auto Mode node pools.
pub(crate) const BUILTIN_NODE_POOLS: &[&str] = &["system", "general-purpose"];

/// The one label of the `karpenter.sh` domain a NodePool may use (the CRD's exception
/// list also names `karpenter.sh/nodepool`, which its next rule then refuses).
const CAPACITY_TYPE_LABEL: &str = "karpenter.sh/capacity-type";

/// Why a label key is refused in a NodePool's requirements or template labels: the
/// CRD's three rules on both, in its order and with its messages.
pub(crate) fn restricted_label(key: &str) -> Option<&'static str> {
    // CEL: self in ["karpenter.sh/capacity-type", "karpenter.sh/nodepool"] ||
    //      !self.find("^([^/]+)").endsWith("karpenter.sh")
    let domain = key.split('/').next().unwrap_or_default();
    if key != CAPACITY_TYPE_LABEL
        && key != "karpenter.sh/nodepool"
        && domain.ends_with("karpenter.sh")
    {
        return Some("label domain \"karpenter.sh\" is restricted");
    }
    match key {
        "karpenter.sh/nodepool" => Some("label \"karpenter.sh/nodepool\" is restricted"),
        "kubernetes.io/hostname" => Some("label \"kubernetes.io/hostname\" is restricted"),
        _ => None,
    }
}

/// A DNS-1123 label: lower-case alphanumerics and `-`, starting and ending alphanumeric.
fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// A DNS-1123 subdomain (Kubernetes object names): dot-separated labels, at most 253.
pub(crate) fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// A Kubernetes qualified name (label keys): an optional DNS-subdomain prefix and `/`,
/// then at most 63 alphanumerics, `-`, `_`, `.`, starting and ending alphanumeric
/// (apimachinery `validation.IsQualifiedName`).
pub(crate) fn is_qualified_name(key: &str) -> bool {
    let name = match key.split_once('/') {
        Some((prefix, name)) => {
            if !is_dns_subdomain(prefix) {
                return false;
            }
            name
        }
        None => key,
    };
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// The name a Kubernetes object could have instead of `name`, for the message.
fn dns_name_hint(name: &str) -> String {
    let lowered: String = name
        .chars()
        .map(|c| match c {
            'A'..='Z' => c.to_ascii_lowercase(),
            'a'..='z' | '0'..='9' | '.' | '-' => c,
            _ => '-',
        })
        .collect();
    let trimmed = lowered.trim_matches(|c| c == '-' || c == '.');
    if is_dns_subdomain(trimmed) {
        format!(" (e.g. `{trimmed}`)")
    } else {
        String::new()
    }
}

/// Report `name` when it is not a Kubernetes object name.
pub(super) fn object_name(kind: Kind, doc: usize, name: &str, cx: &mut Ctx<'_>) {
    if !is_dns_subdomain(name) {
        cx.report(
            doc,
            "metadata.name",
            Rule::KubeObjectName,
            format!(
                "{kind} name `{name}` is not a Kubernetes object name: write lower-case letters, digits, `-` and `.`, starting and ending with a letter or digit, at most 253 characters{}",
                dns_name_hint(name)
            ),
        );
    }
}

/// What a requirement breaks of the CRD's three rules on `requirements`, if anything.
pub(crate) fn requirement_problem(r: &Requirement) -> Option<String> {
    use RequirementOperator as Op;
    match r.operator {
        // CEL: x.operator == 'In' ? x.values.size() != 0 : true
        Op::In if r.values.is_empty() => Some(format!(
            "requirement `{}` with operator In has no values; list at least one, or use Exists",
            r.key
        )),
        // CEL: (x.values.size() == 1 && int(x.values[0]) >= 0). CEL's int() of a string
        // is Go's strconv.ParseInt(s, 10, 64), as Rust's i64 parser (a leading `+` too).
        Op::Gt | Op::Lt | Op::Gte | Op::Lte => {
            let one = match r.values.as_slice() {
                [v] => v.parse::<i64>().ok().filter(|n| *n >= 0),
                _ => None,
            };
            one.is_none().then(|| {
                format!(
                    "requirement `{}` with operator {} takes exactly one non-negative integer value (e.g. values: [\"4\"]), found {:?}",
                    r.key, r.operator, r.values
                )
            })
        }
        // CEL: (x.operator == 'In' && has(x.minValues)) ? x.values.size() >= x.minValues
        Op::In => r
            .min_values
            .filter(|m| usize::try_from(*m).unwrap_or(usize::MAX) > r.values.len())
            .map(|m| {
                format!(
                    "requirement `{}` has minValues {m} but only {} value(s); list at least {m} values or lower minValues",
                    r.key,
                    r.values.len()
                )
            }),
        _ => None,
    }
}

/// The CRD's rules, the object name and Karpenter's label checks, for every NodePool.
pub(super) fn pool_crd_rules(c: &ClusterConfig, cx: &mut Ctx<'_>) {
    for p in &c.node_pools {
        let doc = p.doc;
        object_name(Kind::NodePool, doc, &p.value.metadata.name, cx);
        let spec = &p.value.spec;
        for (i, r) in spec.template.spec.requirements.iter().enumerate() {
            let path = format!("spec.template.spec.requirements[{i}]");
            if let Some(why) = restricted_label(&r.key) {
                cx.report(
                    doc,
                    &format!("{path}.key"),
                    Rule::NodePoolLabel,
                    format!("requirement key `{}`: {why}; Karpenter sets it itself, so select on another label", r.key),
                );
            }
            if let Some(message) = requirement_problem(r) {
                cx.report(doc, &path, Rule::NodePoolRequirement, message);
            }
        }
        let labels = spec.template.metadata.as_ref().map(|m| &m.labels);
        for key in labels.into_iter().flat_map(|l| l.keys()) {
            let path = "spec.template.metadata.labels";
            if let Some(why) = restricted_label(key) {
                cx.report_key(
                    doc,
                    path,
                    key,
                    Rule::NodePoolLabel,
                    format!("template label `{key}`: {why}; use a label of your own domain"),
                );
            } else if !is_qualified_name(key) {
                // Not in the CRD: Karpenter's RuntimeValidate refuses the pool (it never
                // becomes ready) when a label key is not a qualified name.
                cx.report_key(
                    doc,
                    path,
                    key,
                    Rule::NodePoolLabel,
                    format!("template label key `{key}` is not a Kubernetes label key: an optional DNS prefix and `/`, then at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit"),
                );
            }
        }
        if let Some(d) = &spec.disruption {
            for (i, b) in d.budgets.iter().enumerate() {
                let path = format!("spec.disruption.budgets[{i}]");
                // CEL: self.all(x, has(x.schedule) == has(x.duration))
                match (&b.schedule, &b.duration) {
                    (Some(_), None) => cx.report(doc, &path, Rule::NodePoolBudget, "a budget with `schedule` needs `duration` too (how long it is active after each hit, e.g. `8h`)"),
                    (None, Some(_)) => cx.report(doc, &path, Rule::NodePoolBudget, "a budget with `duration` needs `schedule` too (a cron expression such as `0 9 * * mon-fri`, or `@daily`)"),
                    (Some(s), Some(_)) => {
                        if let Err(why) = cron::parse_standard(s) {
                            cx.report(
                                doc,
                                &format!("{path}.schedule"),
                                Rule::NodePoolBudgetCron,
                                format!("schedule `{s}` is not a cron expression Karpenter can read ({why}); Karpenter then treats the budget as allowing no disruption at all"),
                            );
                        }
                    }
                    (None, None) => {}
                }
            }
        }
        if spec.replicas.is_some() {
            // CEL: !has(self.replicas) || !has(self.weight)
            if spec.weight.is_some() {
                cx.report(
                    doc,
                    "spec.weight",
                    Rule::NodePoolStatic,
                    "`weight` is not supported on static NodePools (with `replicas`); remove it",
                );
            }
            // CEL: only 'limits.nodes' is supported on static NodePools
            for key in spec.limits.keys().filter(|k| *k != "nodes") {
                cx.report_key(
                    doc,
                    "spec.limits",
                    key,
                    Rule::NodePoolStatic,
                    format!("only `limits.nodes` is supported on static NodePools (with `replicas`); remove `{key}`"),
                );
            }
        }
    }
}

/// The Auto Mode rules: built-in pools and NodeClasses, nodeClassRef, the 21-day node
/// lifetime. Only for clusters with Auto Mode compute (others are reported by
/// `auto_mode_rules`).
pub(super) fn node_pool_rules(c: &ClusterConfig, cx: &mut Ctx<'_>) {
    let Some(compute) = auto_compute(c) else {
        return;
    };
    let builtins: BTreeSet<&str> = compute.node_pools.iter().map(String::as_str).collect();
    super::nodeclass::node_class_rules(c, &builtins, cx);
    let classes: BTreeSet<&str> = c
        .node_classes
        .iter()
        .map(|n| n.value.metadata.name.as_str())
        .collect();
    for p in &c.node_pools {
        let name = p.value.metadata.name.as_str();
        if builtins.contains(name) {
            cx.report(p.doc, "metadata.name", Rule::BuiltinPoolOverride, format!("`{name}` is a built-in node pool enabled on this cluster and cannot be modified; name your pool differently or disable the built-in"));
        }
        let spec = &p.value.spec.template.spec;
        let r = &spec.node_class_ref;
        if r.group != "eks.amazonaws.com" || r.kind != "NodeClass" {
            cx.report(p.doc, "spec.template.spec.nodeClassRef", Rule::NodeClassRefKind, format!("nodeClassRef is {}/{}; EKS Auto Mode pools use group `eks.amazonaws.com`, kind `NodeClass`", r.group, r.kind));
        } else if r.name == "default" {
            if builtins.is_empty() {
                cx.report(p.doc, "spec.template.spec.nodeClassRef.name", Rule::UnknownNodeClass, "the built-in NodeClass `default` exists only while built-in node pools are enabled; define a NodeClass of your own");
            }
        } else if !classes.contains(r.name.as_str())
            && !c
                .broken
                .iter()
                .any(|(k, n)| *k == Kind::NodeClass && *n == r.name)
        {
            let hint = suggest(&r.name, classes.iter().copied())
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            cx.report(
                p.doc,
                "spec.template.spec.nodeClassRef.name",
                Rule::UnknownNodeClass,
                format!(
                    "NodeClass `{}` is not defined in cluster `{}`{hint}",
                    r.name,
                    c.name()
                ),
            );
        }
        lifetime(p.doc, spec, cx);
    }
}

/// Auto Mode: `expireAfter` is never `Never`, and expireAfter + terminationGracePeriod,
/// each written or defaulted (336h, 24h), is at most 21 days.
fn lifetime(doc: usize, spec: &NodeClaimSpec, cx: &mut Ctx<'_>) {
    let expire = spec.expire_after.as_deref();
    if expire == Some("Never") {
        cx.report(doc, "spec.template.spec.expireAfter", Rule::NodePoolExpireNever, "`expireAfter: Never` is not allowed on EKS Auto Mode: nodes live at most 21 days; use e.g. 336h");
        return;
    }
    let tgp = spec.termination_grace_period.as_deref();
    // A written value that is not a duration is reported by the schema.
    let (Some(e), Some(t)) = (
        expire.map_or(Some(DEFAULT_EXPIRE_AFTER_SECS), Duration::seconds),
        tgp.map_or(Some(DEFAULT_TERMINATION_GRACE_SECS), Duration::seconds),
    ) else {
        return;
    };
    let total = e.saturating_add(t);
    if total <= MAX_NODE_LIFETIME_SECS {
        return;
    }
    let e_text = expire.map_or_else(|| "336h (Auto Mode's default)".to_string(), str::to_string);
    let t_text = tgp.map_or_else(|| "24h (Auto Mode's default)".to_string(), str::to_string);
    // Point at the value the user wrote; with only terminationGracePeriod written, at it.
    let (path, fix) = if expire.is_some() {
        (
            "spec.template.spec.expireAfter",
            "shorten expireAfter or terminationGracePeriod",
        )
    } else {
        (
            "spec.template.spec.terminationGracePeriod",
            "shorten terminationGracePeriod, or write a shorter expireAfter",
        )
    };
    cx.report(
        doc,
        path,
        Rule::NodePoolLifetime,
        format!(
            "expireAfter {e_text} + terminationGracePeriod {t_text} is {}h; the sum may not exceed 21 days (504h) on EKS Auto Mode: {fix}",
            total / 3600
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restricted_labels_follow_the_crd() {
        assert_eq!(restricted_label("karpenter.sh/capacity-type"), None);
        assert!(restricted_label("karpenter.sh/nodepool").is_some());
        assert!(restricted_label("karpenter.sh/custom").is_some());
        assert!(restricted_label("team.karpenter.sh/x").is_some());
        assert!(restricted_label("karpenter.sh").is_some());
        assert!(restricted_label("kubernetes.io/hostname").is_some());
        assert_eq!(restricted_label("kubernetes.io/arch"), None);
        assert_eq!(restricted_label("karpenter.k8s.aws/instance-family"), None);
        assert_eq!(restricted_label("example.com/karpenter.sh"), None);
    }

    #[test]
    fn names_and_label_keys() {
        assert!(is_dns_subdomain("my-node-pool.v2"));
        assert!(!is_dns_subdomain("My-Pool"));
        assert!(!is_dns_subdomain("my_pool"));
        assert!(!is_dns_subdomain("-pool"));
        assert!(!is_dns_subdomain(""));
        assert!(!is_dns_subdomain(&"a".repeat(254)));
        assert!(is_qualified_name("example.com/Team_1"));
        assert!(is_qualified_name("team"));
        assert!(!is_qualified_name("bad key"));
        assert!(!is_qualified_name("Example.com/team"));
        assert!(!is_qualified_name("example.com/"));
        assert!(!is_qualified_name(&"a".repeat(64)));
        assert_eq!(dns_name_hint("My_Pool"), " (e.g. `my-pool`)");
    }

    fn req(op: RequirementOperator, values: &[&str], min: Option<u32>) -> Requirement {
        Requirement {
            key: "k".into(),
            operator: op,
            values: values.iter().map(|v| v.to_string()).collect(),
            min_values: min,
        }
    }

    #[test]
    fn requirements_follow_the_crd_rules() {
        use RequirementOperator as Op;
        assert!(requirement_problem(&req(Op::In, &[], None)).is_some());
        assert!(requirement_problem(&req(Op::In, &["a"], None)).is_none());
        assert!(requirement_problem(&req(Op::NotIn, &[], None)).is_none());
        assert!(requirement_problem(&req(Op::Exists, &[], None)).is_none());
        for op in [Op::Gt, Op::Lt, Op::Gte, Op::Lte] {
            assert!(requirement_problem(&req(op, &["4"], None)).is_none());
            assert!(requirement_problem(&req(op, &["+4"], None)).is_none());
            assert!(requirement_problem(&req(op, &["0"], None)).is_none());
            assert!(requirement_problem(&req(op, &["-1"], None)).is_some());
            assert!(requirement_problem(&req(op, &["four"], None)).is_some());
            assert!(requirement_problem(&req(op, &["4", "5"], None)).is_some());
            assert!(requirement_problem(&req(op, &[], None)).is_some());
            assert!(requirement_problem(&req(op, &["99999999999999999999"], None)).is_some());
        }
        assert!(requirement_problem(&req(Op::In, &["a", "b"], Some(2))).is_none());
        assert!(requirement_problem(&req(Op::In, &["a", "b"], Some(3))).is_some());
        // The rule is about In only.
        assert!(requirement_problem(&req(Op::NotIn, &["a"], Some(3))).is_none());
    }
}
