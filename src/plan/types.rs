//! The plan file's types: what a saved plan holds, field for field.
//!
//! ```text
//!  Plan ─► ClusterPlan (per cluster) ─► Step (resource, action, changes, risks) ─► Op (one call)
//! ```
//!
//! These are serialized as they are into `keelson plan --out FILE`; a renamed field or
//! variant breaks every saved plan, so the serde names here are part of the file format.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::upgrade;
use crate::deprecations::table::ApiTable;
use crate::model::*;
use crate::ports::*;

/// The `format` of a saved plan.
pub const PLAN_FORMAT: &str = "keelson-plan";
/// The plan file version: 2 spells keys in camelCase, as every JSON output does; 1 (snake
/// case) still loads, through the serde aliases below.
pub const PLAN_VERSION: u32 = 2;
/// The oldest plan file version that loads.
pub const PLAN_VERSION_MIN: u32 = 1;

/// What a step does to its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Create it.
    Create,
    /// Change it in place.
    Update,
    /// Delete and create it again (the change cannot be made in place).
    Replace,
    /// Delete it.
    Delete,
}

impl Action {
    /// The Terraform-style symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }
}

/// Resource kinds in plan files are the document kinds ([`Kind`]), written as their
/// `kind:` name (`NodeGroup`): what plan files have always held as plain strings.
impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        let name = String::deserialize(d)?;
        Kind::ALL
            .iter()
            .copied()
            .chain([Kind::Manifest])
            .find(|k| k.name() == name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown resource kind `{name}`")))
    }
}

/// A resource a step acts on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceRef {
    /// What kind of resource.
    pub kind: Kind,
    /// Its name (for access entries the principal ARN, for Pod Identity
    /// `namespace/serviceAccount`).
    pub name: String,
}

/// One field that changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Dotted path, e.g. `scaling.maxSize`.
    pub path: String,
    /// Value now (absent when the field is added).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// Value after (absent when the field is removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// What kind of risk a step carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RiskKind {
    /// Cannot be undone.
    Irreversible,
    /// Destroys something (data, capacity, access).
    Destructive,
    /// Replaces nodes, evicting pods.
    NodesRotated,
}

/// A risk note on a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Risk {
    /// The kind.
    pub kind: RiskKind,
    /// What happens.
    pub message: String,
    /// A one-way transition of a setting that the API reference calls irreversible: the
    /// step runs only with an explicit opt-in (`keelson apply --allow-irreversible`, or
    /// the Fleet's `policy.allowIrreversible` for the daemon).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[serde(alias = "needs_opt_in")]
    pub needs_opt_in: bool,
}

impl Risk {
    /// A risk note.
    pub fn new(kind: RiskKind, message: impl Into<String>) -> Risk {
        Risk {
            kind,
            message: message.into(),
            needs_opt_in: false,
        }
    }

    /// An irreversible risk that needs the explicit opt-in to apply.
    pub fn one_way(message: impl Into<String>) -> Risk {
        Risk {
            needs_opt_in: true,
            ..Risk::new(RiskKind::Irreversible, message)
        }
    }
}

/// One call the executor makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "PascalCase", rename_all_fields = "camelCase")]
pub enum Op {
    /// CreateCluster, then wait for ACTIVE.
    CreateCluster(CreateCluster),
    /// UpdateClusterConfig, then wait for the update.
    UpdateClusterConfig {
        /// The change.
        change: ClusterConfigUpdate,
    },
    /// UpdateClusterVersion, then wait for the update.
    UpdateClusterVersion {
        /// Target minor.
        version: String,
    },
    /// DeleteCluster, then wait until it is gone.
    DeleteCluster,
    /// TagResource.
    TagResource {
        /// Resource ARN.
        arn: String,
        /// Tags to set.
        tags: Tags,
    },
    /// UntagResource.
    UntagResource {
        /// Resource ARN.
        arn: String,
        /// Keys to remove.
        keys: Vec<String>,
    },
    /// CreateAddon, then wait for ACTIVE.
    CreateAddon(AddonRequest),
    /// UpdateAddon, then wait for the update.
    UpdateAddon(AddonRequest),
    /// DeleteAddon, then wait until it is gone.
    DeleteAddon {
        /// Add-on.
        name: String,
    },
    /// CreateNodegroup, then wait for ACTIVE.
    CreateNodegroup(CreateNodeGroup),
    /// UpdateNodegroupConfig, then wait for the update.
    UpdateNodegroupConfig(NodeGroupConfigUpdate),
    /// UpdateNodegroupVersion, then wait for the update.
    UpdateNodegroupVersion(NodeGroupVersionUpdate),
    /// DeleteNodegroup, then wait until it is gone.
    DeleteNodegroup {
        /// Node group.
        name: String,
    },
    /// CreateFargateProfile, then wait for ACTIVE.
    CreateFargateProfile(CreateFargateProfile),
    /// DeleteFargateProfile, then wait until it is gone.
    DeleteFargateProfile {
        /// Profile.
        name: String,
    },
    /// CreateAccessEntry.
    CreateAccessEntry(CreateAccessEntry),
    /// UpdateAccessEntry.
    UpdateAccessEntry {
        /// Principal.
        principal: String,
        /// Groups.
        groups: Vec<String>,
        /// Username.
        username: Option<String>,
    },
    /// AssociateAccessPolicy.
    AssociateAccessPolicy {
        /// Principal.
        principal: String,
        /// Policy.
        policy: AccessPolicy,
    },
    /// DisassociateAccessPolicy.
    DisassociateAccessPolicy {
        /// Principal.
        principal: String,
        /// Policy ARN.
        #[serde(alias = "policy_arn")]
        policy_arn: String,
    },
    /// DeleteAccessEntry.
    DeleteAccessEntry {
        /// Principal.
        principal: String,
    },
    /// CreatePodIdentityAssociation.
    CreatePodIdentity(CreatePodIdentity),
    /// UpdatePodIdentityAssociation.
    UpdatePodIdentity {
        /// Association id.
        id: String,
        /// New role settings.
        spec: PodIdentityAssociationSpec,
    },
    /// DeletePodIdentityAssociation.
    DeletePodIdentity {
        /// Association id.
        id: String,
    },
    /// Server-side apply of a Kubernetes object.
    KubeApply {
        /// The object.
        object: Value,
    },
    /// Record a completed version hop on the cluster (TagResource
    /// `keelson.dev/upgraded-FROM-TO` = `t=<now> addon=version ...`), then remove the
    /// in-progress tag and the oldest records (UntagResource).
    RecordTransition {
        /// Cluster ARN.
        arn: String,
        /// Minor before the hop.
        from: String,
        /// Minor after the hop.
        to: String,
        /// Add-on versions after the hop.
        addons: BTreeMap<String, String>,
        /// Tag keys to remove.
        remove: Vec<String>,
    },
    /// Record a completed rollback on the cluster (TagResource
    /// `keelson.dev/rolled-back-FROM-TO` = `t=<now>`), then remove the record of the hop it
    /// undid, so that later stages no longer count it (UntagResource).
    RecordRollback {
        /// Cluster ARN.
        arn: String,
        /// Minor before the rollback.
        from: String,
        /// Minor after it.
        to: String,
        /// Tag keys to remove.
        remove: Vec<String>,
    },
    /// CancelUpdate of a running VersionRollback (Auto Mode, node phase only), then wait
    /// until EKS reports it Cancelled.
    CancelUpdate {
        /// Update id.
        id: String,
    },
    /// Delete a Kubernetes object.
    KubeDelete {
        /// apiVersion.
        #[serde(alias = "api_version")]
        api_version: String,
        /// kind.
        kind: String,
        /// name.
        name: String,
        /// namespace, for a namespaced kind.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
    },
}

/// One step: a resource, what happens to it, and the calls that do it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The resource.
    pub resource: ResourceRef,
    /// What happens.
    pub action: Action,
    /// Field-level changes (updates and replaces).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// Risk notes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risks: Vec<Risk>,
    /// Why, when the reason is not obvious from the changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The calls, in order.
    pub ops: Vec<Op>,
}

impl Step {
    fn new(kind: Kind, name: &str, action: Action, ops: Vec<Op>) -> Step {
        Step {
            resource: ResourceRef {
                kind,
                name: name.to_string(),
            },
            action,
            changes: Vec::new(),
            risks: Vec::new(),
            reason: None,
            ops,
        }
    }

    /// A step that creates `name`.
    pub fn create(kind: Kind, name: &str, ops: Vec<Op>) -> Step {
        Step::new(kind, name, Action::Create, ops)
    }

    /// A step that changes `name` in place.
    pub fn update(kind: Kind, name: &str, changes: Vec<Change>, ops: Vec<Op>) -> Step {
        Step {
            changes,
            ..Step::new(kind, name, Action::Update, ops)
        }
    }

    /// A step that deletes `name` and creates it again.
    pub fn replace(kind: Kind, name: &str, changes: Vec<Change>, ops: Vec<Op>) -> Step {
        Step {
            changes,
            ..Step::new(kind, name, Action::Replace, ops)
        }
    }

    /// A step that deletes `name`.
    pub fn delete(kind: Kind, name: &str, ops: Vec<Op>) -> Step {
        Step::new(kind, name, Action::Delete, ops)
    }

    /// The same step, with the reason given.
    pub fn because(mut self, reason: impl Into<String>) -> Step {
        self.reason = Some(reason.into());
        self
    }

    /// The same step, with one more risk note.
    pub fn risk(mut self, kind: RiskKind, message: impl Into<String>) -> Step {
        self.risks.push(Risk::new(kind, message));
        self
    }

    /// Whether the step makes a one-way transition that needs the explicit opt-in.
    pub fn needs_opt_in(&self) -> bool {
        self.risks.iter().any(|r| r.needs_opt_in)
    }
}

/// A change that cannot be made, and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocker {
    /// The resource.
    pub resource: ResourceRef,
    /// What is wrong and what to change.
    pub message: String,
}

/// The plan for one cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPlan {
    /// Cluster name.
    pub name: String,
    /// Region.
    pub region: String,
    /// Whether the cluster exists now.
    pub exists: bool,
    /// Fingerprint of the live state the plan was computed from.
    pub fingerprint: String,
    /// Operations running now that apply waits for before its first step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waits: Vec<String>,
    /// Changes that cannot be made. A blocked cluster gets no steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<Blocker>,
    /// Version hops held back, and why: an earlier stage has not completed the same
    /// transition or is still soaking. Other changes of the cluster go ahead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<String>,
    /// Steps, in the order they run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    /// Things worth knowing that change nothing (e.g. a resource not in git, kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// While the cluster's last completed hop can still be rolled back: when that window
    /// closes (unix seconds), for `/status` and the metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "rollback_window_end")]
    pub rollback_window_end: Option<i64>,
}

impl ClusterPlan {
    /// Whether the cluster has steps to run.
    pub fn has_changes(&self) -> bool {
        !self.steps.is_empty()
    }

    /// The first step that needs the opt-in for one-way transitions, as
    /// `Kind name: message`.
    pub fn one_way(&self) -> Option<String> {
        self.steps.iter().find_map(|s| {
            let r = s.risks.iter().find(|r| r.needs_opt_in)?;
            Some(format!(
                "{} {}: {}",
                s.resource.kind, s.resource.name, r.message
            ))
        })
    }

    /// Whether EKS is still carrying out an operation on the cluster (a create, an
    /// update): until it ends, the live state has not converged, steps or not.
    pub fn is_settling(&self) -> bool {
        !self.waits.is_empty()
    }
}

/// Counts over the whole plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Steps that create.
    pub create: usize,
    /// Steps that change in place.
    pub update: usize,
    /// Steps that replace.
    pub replace: usize,
    /// Steps that delete.
    pub delete: usize,
    /// Clusters with a blocker.
    #[serde(alias = "blocked_clusters")]
    pub blocked_clusters: usize,
    /// Clusters with a version hop held back by an earlier stage.
    #[serde(default)]
    #[serde(alias = "held_clusters")]
    pub held_clusters: usize,
    /// Clusters with steps.
    #[serde(alias = "changed_clusters")]
    pub changed_clusters: usize,
    /// Clusters with nothing to do.
    #[serde(alias = "unchanged_clusters")]
    pub unchanged_clusters: usize,
}

/// A plan for a fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Always `keelson-plan`.
    pub format: String,
    /// Plan file version.
    pub version: u32,
    /// Time the plan was computed (seconds since the Unix epoch; virtual on the simulator).
    #[serde(alias = "created_at")]
    pub created_at: i64,
    /// The Fleet's name.
    pub fleet: String,
    /// Per cluster, sorted by name.
    pub clusters: Vec<ClusterPlan>,
    /// Counts.
    pub summary: Summary,
    /// Where the plan came from, recorded in plan files (`plan --out`) so that
    /// `apply --plan` needs no `--repo`. Absent from older plan files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<PlanSource>,
}

/// What a saved plan was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanSource {
    /// The repository directory, absolute.
    pub repo: String,
    /// `sim` or `aws`.
    pub target: String,
    /// The simulator's state file (`sim` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The repository's head commit, when it is a git checkout (`+dirty` with changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

impl Plan {
    /// Whether any cluster has steps.
    pub fn has_changes(&self) -> bool {
        self.clusters.iter().any(ClusterPlan::has_changes)
    }

    /// Whether any cluster is blocked.
    pub fn is_blocked(&self) -> bool {
        self.clusters.iter().any(|c| !c.blocked.is_empty())
    }

    /// Whether an operation is still running on any cluster.
    pub fn is_settling(&self) -> bool {
        self.clusters.iter().any(ClusterPlan::is_settling)
    }

    /// Whether any cluster has a version hop held back by an earlier stage.
    pub fn is_held(&self) -> bool {
        self.clusters.iter().any(|c| !c.held.is_empty())
    }
}

/// Inputs besides desired and live state.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Only these clusters (empty: every cluster).
    pub only: BTreeSet<String>,
    /// The time to stamp on the plan.
    pub now: i64,
    /// Gates whose failures become notes instead of blockers: only for rehearsals on the
    /// simulator, to see what would break.
    pub ignore_gates: BTreeSet<upgrade::Gate>,
    /// The deprecated/removed API table the upgrade gates judge with: [`builtin_apis`],
    /// or the built-in table extended with `--extra-rules`.
    pub apis: Arc<ApiTable>,
}

/// The built-in deprecated-API table, parsed once per process and shared. Empty (every
/// API passes) only if the shipped file failed to parse, which a test rules out: the plan
/// then goes ahead without that gate rather than failing.
pub fn builtin_apis() -> Arc<ApiTable> {
    static TABLE: OnceLock<Arc<ApiTable>> = OnceLock::new();
    TABLE
        .get_or_init(|| Arc::new(ApiTable::shared().cloned().unwrap_or_default()))
        .clone()
}
