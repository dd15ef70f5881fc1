//! The Fleet: stages, their soak and maintenance windows, and fleet-wide policy.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::is_false;
use crate::model::limits::ROLE_ARN_PATTERN;
use crate::model::Duration;

/// The fleet: the ordered stages clusters are rolled out through, and fleet-wide policy.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FleetSpec {
    /// Stages in rollout order. A cluster of a later stage starts a version hop only after
    /// every cluster of the earlier stages completed the same transition and soaked.
    #[schemars(length(min = 1))]
    pub stages: Vec<Stage>,
    /// Fleet-wide policy.
    #[serde(default)]
    pub policy: FleetPolicy,
}

/// One rollout stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Stage {
    /// Stage name, referenced by `Cluster.spec.stage`.
    #[schemars(length(min = 1, max = 63), pattern(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,
    /// How long a transition must have run cleanly in this stage before the next stage
    /// may start it, as a duration such as `24h` or `90m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>", pattern(Duration::PATTERN))]
    pub soak: Option<Duration>,
    /// Whether the daemon applies changes in this stage by itself (`auto`) or only plans
    /// and reports them (`manual`).
    #[serde(default)]
    pub apply: ApplyMode,
    /// When the daemon may start changes in this stage (UTC). Empty: any time. Plans and
    /// drift reports run regardless; a change in progress is never cut off.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintenance_windows: Vec<MaintenanceWindow>,
    /// How version upgrades run in this stage; unset fields take the Fleet's
    /// `policy.upgrade`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<StageUpgrade>,
}

/// A stage's upgrade policy, overriding the Fleet's `policy.upgrade` field by field.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StageUpgrade {
    /// When managed node groups move to a new minor in this stage (unset: the Fleet's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<NodeUpgrade>,
}

/// How version upgrades run, fleet-wide (a stage may override it).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpgradeSettings {
    /// When managed node groups move to a new minor: `follow` (right after each
    /// control-plane hop) or `bake` (one minor behind until the next hop or the stage's
    /// soak has passed, so a rollback within EKS's 7-day window needs no node step).
    #[serde(default, skip_serializing_if = "NodeUpgrade::is_follow")]
    pub nodes: NodeUpgrade,
}

string_enum! {
    /// When managed node groups move to a new minor: `follow` or `bake`.
    #[derive(Default)]
    NodeUpgrade { #[default] Follow = "follow", Bake = "bake" }
}

impl NodeUpgrade {
    fn is_follow(&self) -> bool {
        *self == NodeUpgrade::Follow
    }
}

impl FleetSpec {
    /// The node upgrade policy of stage `stage`: its own, else the Fleet's (an unknown
    /// stage takes the Fleet's).
    pub fn node_upgrade(&self, stage: &str) -> NodeUpgrade {
        self.stages
            .iter()
            .find(|s| s.name == stage)
            .and_then(|s| s.upgrade.as_ref())
            .and_then(|u| u.nodes)
            .unwrap_or(self.policy.upgrade.nodes)
    }
}

/// A weekly window in UTC, e.g. `{days: [sat, sun], start: "02:00", duration: 4h}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MaintenanceWindow {
    /// Days the window opens on. Empty: every day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<Weekday>,
    /// Opening time, `HH:MM` in UTC.
    #[schemars(pattern(r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub start: String,
    /// How long the window stays open, e.g. `4h` (at most 7 days).
    #[schemars(with = "String", pattern(Duration::PATTERN))]
    pub duration: Duration,
}

string_enum! {
    /// A day of the week.
    Weekday { Mon = "mon", Tue = "tue", Wed = "wed", Thu = "thu", Fri = "fri", Sat = "sat", Sun = "sun" }
}

string_enum! {
    /// How changes are applied in a stage: `auto` or `manual`.
    #[derive(Default)]
    ApplyMode { #[default] Manual = "manual", Auto = "auto" }
}

/// Fleet-wide policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FleetPolicy {
    /// Allow keelson to delete clusters that were removed from the repository. Off by
    /// default: a cluster missing from git is reported, never deleted.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_cluster_deletion: bool,
    /// Most clusters planned or applied at the same time.
    #[serde(default = "default_concurrency")]
    #[schemars(range(min = 1, max = 64))]
    pub max_concurrency: u32,
    /// How many minors nodes may trail the control plane after a hop (Kubernetes allows
    /// 3 since 1.28; keelson defaults to the stricter 2).
    #[serde(default = "default_skew")]
    #[schemars(range(min = 0, max = 3))]
    pub max_kubelet_skew: u32,
    /// Stop the daemon from applying anything: it keeps planning and reporting drift.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
    /// Let the daemon apply one-way transitions the API cannot undo (e.g. control-plane
    /// egress leaving `AWS_MANAGED`, a new authenticationMode). Off by default: such a
    /// change waits for `keelson apply --allow-irreversible`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_irreversible: bool,
    /// Roles keelson assumes per AWS account, for Clusters whose `spec.account` is listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountAccess>,
    /// Adopt what git declares but keelson did not create (resources without its
    /// `keelson.dev/fleet` marker, e.g. after `keelson import`): the next apply adds the
    /// marker, after which removing one from git deletes it. Off by default: such
    /// resources are kept unmanaged and never deleted. Per cluster: the annotation
    /// `keelson.dev/adopt: "true"` on its Cluster document.
    #[serde(default, skip_serializing_if = "is_false")]
    pub adopt_unmanaged: bool,
    /// The fleet lock `keelson run` and `keelson apply` take when their command line names
    /// none: `file:PATH`, `kubernetes:NAMESPACE/NAME` (a Lease) or `s3://BUCKET/KEY`.
    /// The daemon reads it when it starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(crate::daemon::lock::LOCK_PATTERN))]
    pub lock: Option<String>,
    /// How version upgrades run (each stage may override it).
    #[serde(default, skip_serializing_if = "is_default")]
    pub upgrade: UpgradeSettings,
    /// Where the daemon reports applies, blocked clusters, drift and held hops: JSON
    /// webhooks, Slack incoming webhooks, GitHub commit statuses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<super::Notification>,
}

/// How keelson reaches one AWS account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountAccess {
    /// The account id.
    #[schemars(pattern(r"^[0-9]{12}$"))]
    pub id: String,
    /// The IAM role in that account that keelson assumes (STS AssumeRole, session name
    /// `keelson`).
    #[schemars(pattern(ROLE_ARN_PATTERN))]
    pub operator_role_arn: String,
    /// External id the role's trust policy requires, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 1224))]
    pub external_id: Option<String>,
}

fn is_default(u: &UpgradeSettings) -> bool {
    *u == UpgradeSettings::default()
}

fn default_concurrency() -> u32 {
    8
}
fn default_skew() -> u32 {
    2
}

impl Default for FleetPolicy {
    fn default() -> Self {
        FleetPolicy {
            allow_cluster_deletion: false,
            max_concurrency: default_concurrency(),
            max_kubelet_skew: default_skew(),
            suspend: false,
            allow_irreversible: false,
            accounts: Vec::new(),
            adopt_unmanaged: false,
            lock: None,
            upgrade: UpgradeSettings::default(),
            notifications: Vec::new(),
        }
    }
}
