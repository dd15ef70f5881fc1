//! Who may reach the cluster: AccessEntries and PodIdentityAssociations.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{is_false, Tags};
use crate::model::limits::{tag_map_schema, ROLE_ARN_PATTERN};

/// An access entry: an IAM principal's access to the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessEntrySpec {
    /// IAM principal ARN (immutable).
    #[schemars(pattern(r"^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:.+$"))]
    pub principal_arn: String,
    /// Entry type (immutable).
    #[serde(default, rename = "type")]
    pub entry_type: AccessEntryType,
    /// Kubernetes groups (STANDARD entries only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kubernetes_groups: Vec<String>,
    /// Kubernetes user name (STANDARD entries only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Access policies associated with the principal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<AccessPolicy>,
    /// Tags on the entry.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(transform = tag_map_schema)]
    pub tags: Tags,
}

string_enum! {
    /// Access entry type.
    #[derive(Default)]
    AccessEntryType {
        #[default] Standard = "STANDARD",
        Ec2 = "EC2",
        Ec2Linux = "EC2_LINUX",
        Ec2Windows = "EC2_WINDOWS",
        FargateLinux = "FARGATE_LINUX",
        HybridLinux = "HYBRID_LINUX",
        HyperpodLinux = "HYPERPOD_LINUX",
    }
}

/// An access policy association.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessPolicy {
    /// Policy ARN, `arn:aws:eks::aws:cluster-access-policy/<Name>`.
    #[schemars(pattern(r"^arn:aws[a-z-]*:eks::aws:cluster-access-policy/[A-Za-z0-9]+$"))]
    pub policy_arn: String,
    /// Where the policy applies.
    pub access_scope: AccessScope,
}

/// Scope of an access policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessScope {
    /// `cluster` or `namespace`.
    #[serde(rename = "type")]
    pub scope_type: AccessScopeType,
    /// Namespaces, for the `namespace` type only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
}

string_enum! {
    /// Access scope type.
    AccessScopeType { Cluster = "cluster", Namespace = "namespace" }
}
/// A Pod Identity association: a service account mapped to an IAM role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodIdentityAssociationSpec {
    /// Namespace of the service account.
    #[schemars(length(min = 1, max = 63))]
    pub namespace: String,
    /// Service account name.
    #[schemars(length(min = 1, max = 253))]
    pub service_account: String,
    /// IAM role the pods assume (same account as the cluster).
    #[schemars(pattern(ROLE_ARN_PATTERN))]
    pub role_arn: String,
    /// Role in another account, assumed through `roleArn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(ROLE_ARN_PATTERN))]
    pub target_role_arn: Option<String>,
    /// Do not add session tags.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_session_tags: bool,
    /// Tags on the association.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(transform = tag_map_schema)]
    pub tags: Tags,
}
