//! The limits and forms the EKS API puts on what keelson sends it: one table, each row
//! citing where it comes from.
//!
//! ```text
//!  botocore eks/2017-11-01 shapes ─┐            ┌─► schemas/ (lengths, patterns, maxProperties)
//!  EKS / IAM documentation ────────┴─► LIMITS ──┤
//!                                               └─► config rules (counts, forms, CIDRs)
//! ```
//!
//! A row whose source is a botocore shape is tested equal to that shape's `min`, `max`
//! and `pattern` (tests/it/eks_api.rs), so a model update that changes a limit fails a
//! test until the row follows. The SDK crate carries no lengths or patterns, which is why
//! botocore's copy of the same Smithy model is the reference.

use schemars::Schema;
use serde_json::json;

/// Where a limit comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A shape of botocore's EKS service model (`botocore/data/eks/2017-11-01/service-2.json`),
    /// by name; `min`, `max` and `pattern` must equal the shape's.
    Botocore(&'static str),
    /// A page of the AWS documentation, and what it says.
    Doc(&'static str),
}

/// One limit: a length (or count) range and, where the API has one, a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// What is limited, in the words of a diagnostic.
    pub what: &'static str,
    /// Fewest characters or items.
    pub min: u64,
    /// Most characters or items.
    pub max: u64,
    /// The pattern the source states (botocore patterns are not anchored at the end;
    /// keelson's checks match the whole value).
    pub pattern: Option<&'static str>,
    /// Where the numbers come from.
    pub source: Source,
}

impl Limit {
    /// Whether `n` (characters or items) is inside the range.
    pub(crate) fn allows(&self, n: usize) -> bool {
        let n = n as u64;
        self.min <= n && n <= self.max
    }

    /// What is wrong with the length of `value` (described as `subject`), if anything.
    pub(crate) fn length_problem(&self, subject: &str, value: &str) -> Option<String> {
        let n = value.chars().count();
        (!self.allows(n)).then(|| {
            format!(
                "{subject} is {n} characters; a {} is {}-{}",
                self.what, self.min, self.max
            )
        })
    }
}

/// Tags per resource (`TagMap`: "Maximum number of tags per resource – 50").
pub const TAGS_PER_RESOURCE: Limit = Limit {
    what: "tags per resource",
    min: 1,
    max: 50,
    pattern: None,
    source: Source::Botocore("TagMap"),
};
/// A tag key.
pub const TAG_KEY: Limit = Limit {
    what: "tag key",
    min: 1,
    max: 128,
    pattern: None,
    source: Source::Botocore("TagKey"),
};
/// A tag value.
pub const TAG_VALUE: Limit = Limit {
    what: "tag value",
    min: 0,
    max: 256,
    pattern: None,
    source: Source::Botocore("TagValue"),
};
/// The prefix no tag key or value may start with, in any case (`TagMap`: "Do not use
/// aws:, AWS:, or any upper or lowercase combination of such as a prefix for either keys
/// or values as it is reserved for Amazon Web Services use").
pub const RESERVED_TAG_PREFIX: &str = "aws:";
/// A cluster name (CreateCluster `name`).
pub const CLUSTER_NAME: Limit = Limit {
    what: "cluster name",
    min: 1,
    max: 100,
    pattern: Some(r"^[0-9A-Za-z][A-Za-z0-9\-_]*"),
    source: Source::Botocore("ClusterName"),
};
/// A managed node group name (CreateNodegroup `nodegroupName` is a plain `String` in the
/// model; the user guide states the rule).
pub const NODEGROUP_NAME: Limit = Limit {
    what: "node group name",
    min: 1,
    max: 63,
    pattern: Some(r"^[0-9A-Za-z][A-Za-z0-9\-_]*"),
    source: Source::Doc("https://docs.aws.amazon.com/eks/latest/userguide/create-managed-node-group.html: \"The node group name can't be longer than 63 characters. It must start with letter or digit, but can also include hyphens and underscores for the remaining characters.\""),
};
/// A node-group label key (`labelsMap` keys).
pub const LABEL_KEY: Limit = Limit {
    what: "label key",
    min: 1,
    max: 63,
    pattern: None,
    source: Source::Botocore("labelKey"),
};
/// A node-group label value (`labelsMap` values; unlike Kubernetes, not empty).
pub const LABEL_VALUE: Limit = Limit {
    what: "label value",
    min: 1,
    max: 63,
    pattern: None,
    source: Source::Botocore("labelValue"),
};
/// A node-group taint key.
pub const TAINT_KEY: Limit = Limit {
    what: "taint key",
    min: 1,
    max: 63,
    pattern: None,
    source: Source::Botocore("taintKey"),
};
/// A node-group taint value.
pub const TAINT_VALUE: Limit = Limit {
    what: "taint value",
    min: 0,
    max: 63,
    pattern: None,
    source: Source::Botocore("taintValue"),
};
/// Taints per node group (`taintsList` has no bound in the model; the user guide has).
pub const TAINTS_PER_NODEGROUP: Limit = Limit {
    what: "taints per node group",
    min: 0,
    max: 50,
    pattern: None,
    source: Source::Doc("https://docs.aws.amazon.com/eks/latest/userguide/node-taints-managed-node-groups.html: \"A maximum of 50 taints are allowed per node group.\"; keys and values begin with a letter or number and contain letters, numbers, `-`, `.` and `_`"),
};
/// A role ARN where the EKS model types it (`RoleArn`: add-on `serviceAccountRoleArn`).
pub const EKS_ROLE_ARN: Limit = Limit {
    what: "role ARN",
    min: 1,
    max: 255,
    pattern: None,
    source: Source::Botocore("RoleArn"),
};
/// An IAM role ARN anywhere (IAM's `Role.Arn`, `arnType`).
pub const IAM_ARN: Limit = Limit {
    what: "IAM ARN",
    min: 20,
    max: 2048,
    pattern: None,
    source: Source::Doc(
        "https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html: Arn, length 20-2048",
    ),
};
/// An IAM role name (the last path segment of a role ARN).
pub const IAM_ROLE_NAME: Limit = Limit {
    what: "IAM role name",
    min: 1,
    max: 64,
    pattern: Some(r"^[\w+=,.@-]+$"),
    source: Source::Doc("https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html: RoleName, length 1-64, pattern [\\w+=,.@-]+"),
};
/// An IAM role path (between `role` and the name, `/` included at both ends).
pub const IAM_ROLE_PATH: Limit = Limit {
    what: "IAM role path",
    min: 1,
    max: 512,
    pattern: Some(r"^(/|/[\x21-\x7E]+/)$"),
    source: Source::Doc("https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html: Path, length 1-512, pattern (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)"),
};
/// The AWS partitions an ARN may name (`arn:PARTITION:`): the commercial, China,
/// GovCloud, European Sovereign Cloud and isolated partitions.
pub const PARTITIONS: &[&str] = &[
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-eusc",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
];
/// The shape of an IAM role ARN in the schemas: any partition above, a 12-digit account,
/// `role/` with an optional path and a role name of IAM's characters. Lengths are checked
/// by the `role-arn` rule, which says which part is too long.
pub const ROLE_ARN_PATTERN: &str =
    r"^arn:aws(-cn|-us-gov|-eusc|-iso(-[bef])?)?:iam::[0-9]{12}:role/([\x21-\x7E]*/)?[\w+=,.@-]+$";
/// The service CIDR's prefix length: "Between /24 and /12" (KubernetesNetworkConfigRequest
/// `serviceIpv4Cidr`, documentation in botocore); min and max are the prefix lengths.
pub const SERVICE_CIDR_PREFIX: Limit = Limit {
    what: "service CIDR prefix length",
    min: 12,
    max: 24,
    pattern: None,
    source: Source::Doc("botocore KubernetesNetworkConfigRequest.serviceIpv4Cidr: \"Within one of the following private IP address blocks: 10.0.0.0/8, 172.16.0.0/12, or 192.168.0.0/16. Doesn't overlap with any CIDR block assigned to the VPC [...] Between /24 and /12.\""),
};
/// The private blocks a service CIDR must lie in (RFC 1918), as (address, prefix).
pub const SERVICE_CIDR_BLOCKS: &[([u8; 4], u8)] = &[
    ([10, 0, 0, 0], 8),
    ([172, 16, 0, 0], 12),
    ([192, 168, 0, 0], 16),
];
/// A Kubernetes namespace where EKS takes one (`namespace`).
pub const NAMESPACE: Limit = Limit {
    what: "namespace",
    min: 1,
    max: 63,
    pattern: None,
    source: Source::Botocore("namespace"),
};
/// Nodes unavailable during an update, in percent (`PercentCapacity`).
pub const PERCENT_CAPACITY: Limit = Limit {
    what: "percentage",
    min: 1,
    max: 100,
    pattern: None,
    source: Source::Botocore("PercentCapacity"),
};

/// Every row, for the test that compares them with their sources and for the docs.
pub const LIMITS: &[&Limit] = &[
    &TAGS_PER_RESOURCE,
    &TAG_KEY,
    &TAG_VALUE,
    &CLUSTER_NAME,
    &NODEGROUP_NAME,
    &LABEL_KEY,
    &LABEL_VALUE,
    &TAINT_KEY,
    &TAINT_VALUE,
    &TAINTS_PER_NODEGROUP,
    &EKS_ROLE_ARN,
    &IAM_ARN,
    &IAM_ROLE_NAME,
    &IAM_ROLE_PATH,
    &SERVICE_CIDR_PREFIX,
    &NAMESPACE,
    &PERCENT_CAPACITY,
];

/// The schema of a tag map: at most [`TAGS_PER_RESOURCE`] entries, keys of
/// [`TAG_KEY`]'s length, values of [`TAG_VALUE`]'s. schemars drops `length(max)` on a
/// map, so the field says `#[schemars(transform = tag_map_schema)]` instead. The count of
/// keelson's own tags and the reserved prefixes are the `tag-limits` rule's.
pub fn tag_map_schema(schema: &mut Schema) {
    schema.insert("maxProperties".into(), json!(TAGS_PER_RESOURCE.max));
    schema.insert(
        "propertyNames".into(),
        json!({"minLength": TAG_KEY.min, "maxLength": TAG_KEY.max}),
    );
    schema.insert(
        "additionalProperties".into(),
        json!({"type": "string", "maxLength": TAG_VALUE.max}),
    );
}
