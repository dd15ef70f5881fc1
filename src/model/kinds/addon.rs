//! The Addon: an EKS add-on, its version and the roles it runs with.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Tags;
use crate::model::limits::{tag_map_schema, EKS_ROLE_ARN, ROLE_ARN_PATTERN};

/// An EKS add-on. `metadata.name` is the add-on name (e.g. `vpc-cni`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddonSpec {
    /// `latest` (newest compatible with the cluster's version), `default` (EKS's default
    /// for that version), or an exact version such as `v1.19.2-eksbuild.1`.
    #[serde(default = "default_addon_version")]
    #[schemars(pattern(r"^(latest|default|v[0-9]+\.[0-9]+\.[0-9]+(-eksbuild\.[0-9]+)?)$"))]
    pub version: String,
    /// Configuration values, as a mapping or a JSON string; validated by EKS against the
    /// add-on's configuration schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration_values: Option<serde_json::Value>,
    /// IRSA role for the add-on's service account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(ROLE_ARN_PATTERN), length(max = EKS_ROLE_ARN.max))]
    pub service_account_role_arn: Option<String>,
    /// Pod Identity associations created with the add-on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pod_identity_associations: Vec<AddonPodIdentity>,
    /// How conflicts with fields changed outside EKS are resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve_conflicts: Option<ResolveConflicts>,
    /// Tags on the add-on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(transform = tag_map_schema)]
    pub tags: Tags,
}

fn default_addon_version() -> String {
    "default".to_string()
}

/// A Pod Identity association declared on an add-on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddonPodIdentity {
    /// The add-on's service account.
    pub service_account: String,
    /// The IAM role.
    #[schemars(pattern(ROLE_ARN_PATTERN))]
    pub role_arn: String,
}

string_enum! {
    /// Add-on conflict resolution.
    ResolveConflicts { None = "NONE", Overwrite = "OVERWRITE", Preserve = "PRESERVE" }
}
