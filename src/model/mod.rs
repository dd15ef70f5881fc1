//! The desired-state model: one Rust type per kind of document in a config repo.
//!
//! These types are the single source of truth for the file format. The JSON Schemas in
//! `schemas/` are generated from them (`keelson schema --out-dir schemas`), and a test fails
//! when the two drift apart. Field names follow the EKS API in camelCase so that a value
//! seen in `aws eks describe-*` output can be pasted in.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Define a string enum whose values are exactly the strings users write.
macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        pub enum $name {
            $(
                #[allow(missing_docs)]
                $(#[$vm])*
                #[serde(rename = $s)]
                $var,
            )+
        }
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];
            /// The value as written in files and sent to the API.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => $s),+ }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) mod duration;
pub(crate) mod kinds;
pub mod limits;
pub mod live;
pub use duration::{Duration, DurationError};
pub use kinds::*;

/// `apiVersion` of keelson's own kinds.
pub(crate) const KEELSON_API: &str = "keelson.dev/v1alpha1";
/// `apiVersion` of the Karpenter NodePool that EKS Auto Mode serves.
pub const KARPENTER_API: &str = "karpenter.sh/v1";
/// `apiVersion` of the EKS Auto Mode NodeClass.
pub const EKS_NODECLASS_API: &str = "eks.amazonaws.com/v1";
/// `apiVersion` of StorageClass.
pub const STORAGE_API: &str = "storage.k8s.io/v1";
/// `apiVersion` of IngressClass.
pub const NETWORKING_API: &str = "networking.k8s.io/v1";

/// Every kind of document keelson reads with a schema of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// The fleet: stages and policies. One per repository.
    Fleet,
    /// An EKS cluster.
    Cluster,
    /// An EKS add-on.
    Addon,
    /// A managed node group.
    NodeGroup,
    /// A Fargate profile.
    FargateProfile,
    /// An access entry with its policy associations.
    AccessEntry,
    /// A Pod Identity association.
    PodIdentityAssociation,
    /// A Karpenter NodePool (`karpenter.sh/v1`), applied by server-side apply.
    NodePool,
    /// An EKS Auto Mode NodeClass (`eks.amazonaws.com/v1`), applied by server-side apply.
    NodeClass,
    /// EKS Auto Mode's IngressClassParams (`eks.amazonaws.com/v1`), applied by
    /// server-side apply.
    IngressClassParams,
    /// An IngressClass (`networking.k8s.io/v1`), applied by server-side apply.
    IngressClass,
    /// A StorageClass (`storage.k8s.io/v1`), applied by server-side apply.
    StorageClass,
    /// Any other Kubernetes object of a cluster's `bootstrap/` directory, applied by
    /// server-side apply. It has no schema of its own, so it is not in [`Kind::ALL`].
    Manifest,
}

impl Kind {
    /// Every kind, in the order documents are applied.
    pub const ALL: &'static [Kind] = &[
        Kind::Fleet,
        Kind::Cluster,
        Kind::Addon,
        Kind::NodeGroup,
        Kind::FargateProfile,
        Kind::AccessEntry,
        Kind::PodIdentityAssociation,
        Kind::NodeClass,
        Kind::NodePool,
        Kind::IngressClassParams,
        Kind::IngressClass,
        Kind::StorageClass,
    ];

    /// The `kind:` string.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Fleet => "Fleet",
            Kind::Cluster => "Cluster",
            Kind::Addon => "Addon",
            Kind::NodeGroup => "NodeGroup",
            Kind::FargateProfile => "FargateProfile",
            Kind::AccessEntry => "AccessEntry",
            Kind::PodIdentityAssociation => "PodIdentityAssociation",
            Kind::NodePool => "NodePool",
            Kind::NodeClass => "NodeClass",
            Kind::IngressClassParams => "IngressClassParams",
            Kind::IngressClass => "IngressClass",
            Kind::StorageClass => "StorageClass",
            Kind::Manifest => "Manifest",
        }
    }

    /// The `apiVersion:` string.
    pub fn api_version(self) -> &'static str {
        match self {
            Kind::NodePool => KARPENTER_API,
            Kind::NodeClass | Kind::IngressClassParams => EKS_NODECLASS_API,
            Kind::IngressClass => NETWORKING_API,
            Kind::StorageClass => STORAGE_API,
            // A bootstrap manifest has the apiVersion it was written with.
            Kind::Manifest => "",
            _ => KEELSON_API,
        }
    }

    /// The schema's file name in `schemas/`.
    pub fn schema_file(self) -> String {
        format!("{}.schema.json", self.name().to_ascii_lowercase())
    }

    /// The kind for an `apiVersion`/`kind` pair, if keelson has a schema for it.
    pub fn lookup(api_version: &str, kind: &str) -> Option<Kind> {
        Kind::ALL
            .iter()
            .copied()
            .find(|k| k.api_version() == api_version && k.name() == kind)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A document of one of keelson's kinds: `apiVersion`, `kind`, `metadata`, `spec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resource<S> {
    /// `keelson.dev/v1alpha1` (or the native group for NodePool and NodeClass).
    pub api_version: String,
    /// The kind of document.
    pub kind: String,
    /// Name, labels and annotations.
    pub metadata: Metadata,
    /// The desired state.
    pub spec: S,
}

/// Object metadata.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// The object's name. For a Cluster this is the EKS cluster name; for an Addon, the
    /// EKS add-on name (e.g. `vpc-cni`).
    #[schemars(length(min = 1, max = 100), pattern(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$"))]
    pub name: String,
    /// Namespace (NodePool and NodeClass are cluster-scoped; other kinds ignore it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A Fleet document.
pub type FleetDoc = Resource<FleetSpec>;
/// A Cluster document.
pub type ClusterDoc = Resource<ClusterSpec>;
/// An Addon document.
pub type AddonDoc = Resource<AddonSpec>;
/// A NodeGroup document.
pub type NodeGroupDoc = Resource<NodeGroupSpec>;
/// A FargateProfile document.
pub type FargateProfileDoc = Resource<FargateProfileSpec>;
/// An AccessEntry document.
pub type AccessEntryDoc = Resource<AccessEntrySpec>;
/// A PodIdentityAssociation document.
pub type PodIdentityAssociationDoc = Resource<PodIdentityAssociationSpec>;
/// A NodePool document.
pub type NodePoolDoc = Resource<NodePoolSpec>;
/// A NodeClass document.
pub type NodeClassDoc = Resource<NodeClassSpec>;
/// An IngressClass document.
pub type IngressClassDoc = Resource<IngressClassSpec>;
/// An IngressClassParams document.
pub type IngressClassParamsDoc = Resource<IngressClassParamsSpec>;
