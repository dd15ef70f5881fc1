//! The Karpenter NodePool (`karpenter.sh/v1`) that EKS Auto Mode serves, with its Go
//! durations kept as strings (`Never` included).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Karpenter NodePool as EKS Auto Mode serves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodePoolSpec {
    /// The NodeClaim template.
    pub template: NodeClaimTemplate,
    /// Disruption policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disruption: Option<Disruption>,
    /// Resource limits for the pool (e.g. `cpu: "1000"`, `memory: 1000Gi`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, IntOrString>,
    /// Priority among pools (1–100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub weight: Option<u32>,
    /// Static capacity: a fixed number of nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
}

/// An integer or a string (Kubernetes quantities and percentages).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum IntOrString {
    /// A number.
    Int(i64),
    /// A string such as `10%` or `100Gi`.
    Str(String),
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
    /// Node labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
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
    /// Scheduling requirements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub requirements: Vec<Requirement>,
    /// Taints on the nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<Taint>,
    /// Taints removed once the node is initialised.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub startup_taints: Vec<Taint>,
    /// Node lifetime, e.g. `336h`. `Never` is not allowed on Auto Mode; together with
    /// `terminationGracePeriod` it may not exceed 21 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^(([0-9]+(s|m|h))+|Never)$"))]
    pub expire_after: Option<String>,
    /// How long a draining node may wait for pods; Auto Mode defaults it to 24h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^([0-9]+(s|m|h))+$"))]
    pub termination_grace_period: Option<String>,
}

/// Reference to a NodeClass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeClassRef {
    /// `eks.amazonaws.com`.
    pub group: String,
    /// `NodeClass`.
    pub kind: String,
    /// NodeClass name (`default` is the built-in one).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// A node selector requirement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Requirement {
    /// Label key, e.g. `eks.amazonaws.com/instance-category`.
    #[schemars(length(min = 1, max = 316))]
    pub key: String,
    /// Operator.
    pub operator: RequirementOperator,
    /// Values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Fewest distinct values the scheduler must keep available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 50))]
    pub min_values: Option<u32>,
}

string_enum! {
    /// Node selector operator.
    RequirementOperator { In = "In", NotIn = "NotIn", Exists = "Exists", DoesNotExist = "DoesNotExist", Gt = "Gt", Lt = "Lt" }
}

/// A Kubernetes taint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Taint {
    /// Key.
    pub key: String,
    /// Value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Effect.
    pub effect: TaintEffect,
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
    /// How long after a pod change a node may be consolidated, or `Never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^(([0-9]+(s|m|h))+|Never)$"))]
    pub consolidate_after: Option<String>,
    /// Disruption budgets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub budgets: Vec<Budget>,
}

string_enum! {
    /// Consolidation policy.
    ConsolidationPolicy { WhenEmpty = "WhenEmpty", WhenEmptyOrUnderutilized = "WhenEmptyOrUnderutilized" }
}

/// A disruption budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Budget {
    /// Nodes that may be disrupted at once: a count or a percentage.
    #[schemars(pattern(r"^((100|[0-9]{1,2})%|[0-9]+)$"))]
    pub nodes: String,
    /// Cron schedule when the budget is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// How long the budget is active from each schedule hit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^([0-9]+(s|m|h))+$"))]
    pub duration: Option<String>,
    /// Disruption reasons the budget applies to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<DisruptionReason>,
}

string_enum! {
    /// Disruption reason.
    DisruptionReason { Underutilized = "Underutilized", Empty = "Empty", Drifted = "Drifted" }
}
