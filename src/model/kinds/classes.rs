//! What EKS Auto Mode leaves to the user: a StorageClass for its EBS driver
//! (`storage.k8s.io/v1`), an IngressClass for its load balancer controller
//! (`networking.k8s.io/v1`) and the IngressClassParams that configure it
//! (`eks.amazonaws.com/v1`).
//!
//! StorageClass and IngressClass follow Kubernetes' own types (k8s-openapi
//! `api::storage::v1::StorageClass`, `api::networking::v1::IngressClass`; a test
//! round-trips every field through them). AWS publishes no CRD for Auto Mode's
//! IngressClassParams; its fields follow the EKS user guide, "Create an IngressClass to
//! configure an Application Load Balancer" (auto-configure-alb, "IngressClassParams
//! Reference" and the table of changes from `elbv2.k8s.aws/v1beta1`), with the shapes
//! and enums of the AWS Load Balancer Controller's CRD
//! (`config/crd/bases/elbv2.k8s.aws_ingressclassparams.yaml`) that it was renamed from.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::super::Metadata;

/// A StorageClass. Unlike keelson's other kinds its fields sit at the top level, next
/// to `metadata`, as in Kubernetes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageClassDoc {
    /// `storage.k8s.io/v1`.
    pub api_version: String,
    /// `StorageClass`.
    pub kind: String,
    /// Name, labels and annotations (`storageclass.kubernetes.io/is-default-class:
    /// "true"` makes it the cluster's default).
    pub metadata: Metadata,
    /// The volume plugin. On EKS Auto Mode: `ebs.csi.eks.amazonaws.com`.
    #[schemars(length(min = 1))]
    pub provisioner: String,
    /// Provisioner parameters, e.g. `type: gp3`, `encrypted: "true"`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
    /// What happens to a volume when its claim is deleted (default Delete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reclaim_policy: Option<ReclaimPolicy>,
    /// When volumes are provisioned and bound (default Immediate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_binding_mode: Option<VolumeBindingMode>,
    /// Whether claims may grow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_volume_expansion: Option<bool>,
    /// Mount options of the provisioned volumes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mount_options: Vec<String>,
    /// Where volumes may be provisioned, e.g. only on Auto Mode nodes
    /// (`eks.amazonaws.com/compute-type: auto`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_topologies: Vec<TopologySelectorTerm>,
}

string_enum! {
    /// `reclaimPolicy` of a StorageClass (dynamically provisioned volumes take Delete or
    /// Retain; Kubernetes validation `ValidateStorageClass`).
    ReclaimPolicy { Delete = "Delete", Retain = "Retain" }
}

string_enum! {
    /// `volumeBindingMode` of a StorageClass (k8s.io/api storage/v1 `VolumeBindingMode`).
    VolumeBindingMode { Immediate = "Immediate", WaitForFirstConsumer = "WaitForFirstConsumer" }
}

/// One term of `allowedTopologies`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopologySelectorTerm {
    /// Label requirements, all of which must match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_label_expressions: Vec<TopologyRequirement>,
}

/// A topology label and the values it may take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopologyRequirement {
    /// The label key.
    pub key: String,
    /// The values.
    #[schemars(length(min = 1))]
    pub values: Vec<String>,
}

/// An IngressClass: which controller serves Ingresses of this class, and where its
/// parameters are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressClassSpec {
    /// The controller. On EKS Auto Mode: `eks.amazonaws.com/alb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 250))]
    pub controller: Option<String>,
    /// The controller's parameters (for Auto Mode: an IngressClassParams).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<IngressClassParametersRef>,
}

/// `spec.parameters` of an IngressClass (k8s.io/api networking/v1
/// `IngressClassParametersReference`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressClassParametersRef {
    /// API group of the parameters (`eks.amazonaws.com` for Auto Mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_group: Option<String>,
    /// Kind of the parameters (`IngressClassParams`).
    pub kind: String,
    /// Name of the parameters object.
    pub name: String,
    /// `Cluster` (the default) or `Namespace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ParametersScope>,
    /// Namespace of the parameters when the scope is `Namespace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

string_enum! {
    /// Scope of IngressClass parameters (k8s.io/api networking/v1
    /// `IngressClassParametersReferenceScopeNamespace`/`...ScopeCluster`).
    ParametersScope { Cluster = "Cluster", Namespace = "Namespace" }
}

/// EKS Auto Mode's IngressClassParams: how the Application Load Balancers of an
/// IngressClass are made. Auto Mode is configured here, not by the annotations of the
/// self-managed AWS Load Balancer Controller.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressClassParamsSpec {
    /// `internet-facing` or `internal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<LoadBalancerScheme>,
    /// IP address type of the load balancers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<IpAddressType>,
    /// Which namespaces may use the class (absent or empty: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Ingress group: Ingresses of one group share one load balancer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<IngressGroup>,
    /// Subnets of the load balancers, by id or by tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnets: Option<IngressSubnets>,
    /// ACM certificate ARNs (Auto Mode's name for the controller's `certificateArn`).
    #[serde(
        rename = "certificateARNs",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub certificate_arns: Vec<String>,
    /// Tags on the AWS resources made for the class (needs tag propagation on the
    /// cluster role).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    /// Load balancer attributes, e.g. `idle_timeout.timeout_seconds`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_balancer_attributes: Vec<KeyValue>,
    /// Listeners with their protocol, port and attributes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listeners: Vec<IngressListener>,
}

string_enum! {
    /// Load balancer scheme (the controller CRD's `spec.scheme` enum).
    LoadBalancerScheme { InternetFacing = "internet-facing", Internal = "internal" }
}

string_enum! {
    /// Load balancer IP address type (the controller CRD's `spec.ipAddressType` enum).
    IpAddressType {
        Ipv4 = "ipv4",
        Dualstack = "dualstack",
        DualstackWithoutPublicIpv4 = "dualstack-without-public-ipv4",
    }
}

/// A Kubernetes label selector.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    /// Labels that must all match.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Expressions that must all match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One expression of a label selector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelSelectorRequirement {
    /// The label key.
    pub key: String,
    /// In, NotIn, Exists or DoesNotExist.
    pub operator: SelectorOperator,
    /// Values (for In and NotIn).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

string_enum! {
    /// Label selector operators (k8s.io/apimachinery `LabelSelectorOperator`).
    SelectorOperator { In = "In", NotIn = "NotIn", Exists = "Exists", DoesNotExist = "DoesNotExist" }
}

/// An ingress group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IngressGroup {
    /// The group name.
    #[schemars(length(min = 1))]
    pub name: String,
}

/// Subnets for the load balancers: ids, or tags to match.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressSubnets {
    /// Subnet ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<SubnetId>,
    /// Subnets whose tag (the key) has one of the listed values (Auto Mode's name for
    /// the controller's `subnets.tags`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_tags: BTreeMap<String, Vec<String>>,
}

/// A subnet id, `subnet-` and hex digits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct SubnetId(#[schemars(pattern(r"^subnet-[0-9a-f]+$"))] pub String);

/// A key and a value (tags and attributes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyValue {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// A listener of the load balancers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IngressListener {
    /// Protocol, e.g. `HTTPS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<u32>,
    /// Listener attributes (Auto Mode's name for the controller's `listenerAttributes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<KeyValue>,
}
