//! The Karpenter NodePool (`karpenter.sh/v1`) that EKS Auto Mode serves, with its Go
//! durations kept as strings (`Never` included).
//!
//! The constraints are those of the NodePool CRD of Karpenter [`KARPENTER_VERSION`]
//! (`pkg/apis/crds/karpenter.sh_nodepools.yaml` of `sigs.k8s.io/karpenter`): its
//! OpenAPI patterns, enums and limits are written here as schema attributes, and its
//! `x-kubernetes-validations` (CEL) rules are checked by `config/rules/nodepool.rs`. A test
//! there reads the CRD and fails when one of its constraints has no keelson counterpart.
//!
//! ```text
//!  CRD openAPIV3Schema ──(same pattern/enum/limit, tested)──► these types ──► schemas/nodepool.schema.json
//!  CRD x-kubernetes-validations ──(table, tested)──► rules::nodepool ──► Diagnostic
//! ```

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The Karpenter release whose NodePool CRD keelson's NodePool follows (the one the
/// real-server tests install: tests/k8s/with-apiserver.sh).
pub const KARPENTER_VERSION: &str = "v1.14.1";

/// A Go duration as the CRD writes it for `expireAfter` and `consolidateAfter`.
const DURATION_OR_NEVER: &str = r"^(([0-9]+(s|m|h))+|Never)$";
/// A Go duration without `Never` (`terminationGracePeriod`).
const DURATION: &str = r"^([0-9]+(s|m|h))+$";
/// A label key or taint key/value: an optional DNS-subdomain prefix and a name.
const QUALIFIED_NAME: &str = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*(\/))?([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$";
/// A label value (empty allowed).
const LABEL_VALUE: &str = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$";
/// A Kubernetes resource quantity (`100`, `1.5`, `100Gi`, `1e3`).
const QUANTITY: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";

/// A Karpenter NodePool as EKS Auto Mode serves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodePoolSpec {
    /// The NodeClaim template.
    pub template: NodeClaimTemplate,
    /// Disruption policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disruption: Option<Disruption>,
    /// Resource limits for the pool (e.g. `cpu: "1000"`, `memory: 1000Gi`); with
    /// `replicas`, only `nodes`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, IntOrString>,
    /// Priority among pools (1–100); not with `replicas`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub weight: Option<u32>,
    /// Static capacity: a fixed number of nodes (Karpenter's alpha field; Auto Mode's
    /// static-capacity pools). Cannot be added or removed once the pool exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
}

/// An integer or a string: a Kubernetes quantity such as `100Gi` (the CRD's pattern
/// applies to strings only, as in the CRD).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
#[schemars(extend("pattern" = QUANTITY))]
pub enum IntOrString {
    /// A number.
    Int(i64),
    /// A string such as `100Gi` or `1.5`.
    Str(String),
}

/// Reads an integer, an integral float (`1e3`, which YAML reads as a float and the API
/// server takes as the integer 1000) or a string.
impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = IntOrString;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an integer or a quantity string")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<IntOrString, E> {
                Ok(IntOrString::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<IntOrString, E> {
                i64::try_from(v)
                    .map(IntOrString::Int)
                    .map_err(|_| E::custom("integer too large"))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<IntOrString, E> {
                // Integral and in range: exactly an i64 (the bounds are powers of two).
                if v.fract() == 0.0
                    && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&v)
                {
                    #[allow(clippy::cast_possible_truncation)]
                    Ok(IntOrString::Int(v as i64))
                } else {
                    Err(E::custom(
                        "write a fractional quantity as a string, e.g. \"1.5\"",
                    ))
                }
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IntOrString, E> {
                Ok(IntOrString::Str(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// NodeClaim template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeClaimTemplate {
    /// Labels and annotations for the nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<TemplateMetadata>,
    /// NodeClaim spec.
    pub spec: NodeClaimSpec,
}

/// Template metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateMetadata {
    /// Node labels: at most 100; values are label values (at most 63 characters).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend(
        "maxProperties" = 100,
        "additionalProperties" = {"type": "string", "maxLength": 63, "pattern": LABEL_VALUE}
    ))]
    pub labels: BTreeMap<String, String>,
    /// Node annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// NodeClaim spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeClaimSpec {
    /// The NodeClass the nodes use.
    pub node_class_ref: NodeClassRef,
    /// Scheduling requirements (required by the CRD, may be empty).
    #[schemars(length(max = 100))]
    pub requirements: Vec<Requirement>,
    /// Taints on the nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<Taint>,
    /// Taints removed once the node is initialised.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub startup_taints: Vec<Taint>,
    /// Node lifetime, e.g. `336h` (Auto Mode's default). `Never` is not allowed on Auto
    /// Mode; together with `terminationGracePeriod` it may not exceed 21 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_OR_NEVER))]
    pub expire_after: Option<String>,
    /// How long a draining node may wait for pods; Auto Mode defaults it to 24h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION))]
    pub termination_grace_period: Option<String>,
}

/// Reference to a NodeClass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeClassRef {
    /// `eks.amazonaws.com` (a group: no `/`, not empty).
    #[schemars(length(min = 1), pattern(r"^[^/]*$"))]
    pub group: String,
    /// `NodeClass` (not empty).
    #[schemars(length(min = 1))]
    pub kind: String,
    /// NodeClass name (`default` is the built-in one; not empty).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// A node selector requirement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Requirement {
    /// Label key, e.g. `eks.amazonaws.com/instance-category`.
    #[schemars(length(max = 316), pattern(QUALIFIED_NAME))]
    pub key: String,
    /// Operator.
    pub operator: RequirementOperator,
    /// Values: at least one for `In`; exactly one non-negative integer for `Gt`, `Lt`,
    /// `Gte` and `Lte`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Fewest distinct values the scheduler must keep available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 50))]
    pub min_values: Option<u32>,
}

string_enum! {
    /// Node selector operator (`Gte` and `Lte` since Karpenter v1.9).
    RequirementOperator { In = "In", NotIn = "NotIn", Exists = "Exists", DoesNotExist = "DoesNotExist", Gt = "Gt", Lt = "Lt", Gte = "Gte", Lte = "Lte" }
}

/// A Kubernetes taint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Taint {
    /// Key: an optional DNS-subdomain prefix and a name.
    #[schemars(length(min = 1), pattern(QUALIFIED_NAME))]
    pub key: String,
    /// Value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(QUALIFIED_NAME))]
    pub value: Option<String>,
    /// Effect.
    pub effect: TaintEffect,
    /// When the taint was added (RFC 3339); rarely written by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_added: Option<String>,
}

string_enum! {
    /// Kubernetes taint effect.
    TaintEffect { NoSchedule = "NoSchedule", PreferNoSchedule = "PreferNoSchedule", NoExecute = "NoExecute" }
}

/// Disruption policy of a NodePool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Disruption {
    /// Which nodes may be consolidated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consolidation_policy: Option<ConsolidationPolicy>,
    /// How long after a pod change a node may be consolidated, or `Never`. Required
    /// once `disruption` is written (the CRD defaults only a missing `disruption` to
    /// `consolidateAfter: 0s`).
    #[schemars(pattern(DURATION_OR_NEVER))]
    pub consolidate_after: String,
    /// Disruption budgets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub budgets: Vec<Budget>,
}

string_enum! {
    /// Consolidation policy (`Balanced` since Karpenter v1.14; Auto Mode's default for
    /// new pools from Kubernetes 1.37).
    ConsolidationPolicy { WhenEmpty = "WhenEmpty", WhenEmptyOrUnderutilized = "WhenEmptyOrUnderutilized", Balanced = "Balanced" }
}

/// A disruption budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Budget {
    /// Nodes that may be disrupted at once: a count or a percentage (default `10%`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^((100|[0-9]{1,2})%|[0-9]+)$"))]
    pub nodes: Option<String>,
    /// Cron schedule (UTC) when the budget is active; needs `duration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(
        r"^(@(annually|yearly|monthly|weekly|daily|midnight|hourly))|((.+)\s(.+)\s(.+)\s(.+)\s(.+))$"
    ))]
    pub schedule: Option<String>,
    /// How long the budget is active from each schedule hit: hours and minutes only
    /// (`8h`, `30m`, `1h30m`); needs `schedule`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^((([0-9]+(h|m))|([0-9]+h[0-9]+m))(0s)?)$"))]
    pub duration: Option<String>,
    /// Disruption reasons the budget applies to, each at most once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50), extend("uniqueItems" = true))]
    pub reasons: Vec<DisruptionReason>,
}

string_enum! {
    /// Disruption reason.
    DisruptionReason { Underutilized = "Underutilized", Empty = "Empty", Drifted = "Drifted" }
}
