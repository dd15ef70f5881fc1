//! The planner: `plan(desired, live, options) -> Plan`, a pure function.
//!
//! ```text
//!  Repo (desired) ─┐
//!                  ├─► per cluster: cluster → version hops (control plane → add-ons → node groups)
//!  LiveState ──────┘     → access entries, Pod Identity, Fargate → add-ons → node groups
//!                        → NodeClass → NodePool → deletes in reverse → cluster delete
//! ```
//!
//! Every step carries the operations that carry it out, so a saved plan can be applied
//! as it is. Fields AWS manages itself (status, platform version, ARNs, the autoscaled
//! desired size, `aws:` tags, add-on defaults) are never compared.

pub mod render;
pub mod upgrade;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::adapters::sim::catalog::version_key;
use crate::config::{ClusterConfig, Repo};
use crate::deprecations::table::ApiTable;
use crate::model::live::*;
use crate::model::*;
use crate::ports::*;
use crate::versions::Minor;

/// The `format` of a saved plan.
pub const PLAN_FORMAT: &str = "keelson-plan";
/// The plan file version.
pub const PLAN_VERSION: u32 = 1;

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

/// A resource a step acts on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceRef {
    /// `Cluster`, `Addon`, `NodeGroup`, `FargateProfile`, `AccessEntry`,
    /// `PodIdentityAssociation`, `NodeClass` or `NodePool`.
    pub kind: String,
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
pub struct Risk {
    /// The kind.
    pub kind: RiskKind,
    /// What happens.
    pub message: String,
}

/// One call the executor makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "PascalCase")]
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
    /// Delete a Kubernetes object.
    KubeDelete {
        /// apiVersion.
        api_version: String,
        /// kind.
        kind: String,
        /// name.
        name: String,
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
}

impl ClusterPlan {
    /// Whether the cluster has steps to run.
    pub fn has_changes(&self) -> bool {
        !self.steps.is_empty()
    }
}

/// Counts over the whole plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
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
    pub blocked_clusters: usize,
    /// Clusters with a version hop held back by an earlier stage.
    #[serde(default)]
    pub held_clusters: usize,
    /// Clusters with steps.
    pub changed_clusters: usize,
    /// Clusters with nothing to do.
    pub unchanged_clusters: usize,
}

/// A plan for a fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Always `keelson-plan`.
    pub format: String,
    /// Plan file version.
    pub version: u32,
    /// Time the plan was computed (seconds since the Unix epoch; virtual on the simulator).
    pub created_at: i64,
    /// The Fleet's name.
    pub fleet: String,
    /// Per cluster, sorted by name.
    pub clusters: Vec<ClusterPlan>,
    /// Counts.
    pub summary: Summary,
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

    /// Whether any cluster has a version hop held back by an earlier stage.
    pub fn is_held(&self) -> bool {
        self.clusters.iter().any(|c| !c.held.is_empty())
    }
}

/// Inputs besides desired and live state.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Only these clusters (empty: every cluster).
    pub only: BTreeSet<String>,
    /// The time to stamp on the plan.
    pub now: i64,
    /// Gates whose failures become notes instead of blockers: only for rehearsals on the
    /// simulator, to see what would break.
    pub ignore_gates: BTreeSet<upgrade::Gate>,
}

/// FNV-1a, 64 bits.
fn fnv64(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A stable 128-bit hex digest (two FNV-1a runs); not cryptographic, used for
/// fingerprints and idempotency tokens.
pub fn digest(bytes: &[u8]) -> String {
    format!(
        "{:016x}{:016x}",
        fnv64(0xcbf2_9ce4_8422_2325, bytes),
        fnv64(0x6c62_272e_07bb_0142, bytes)
    )
}

/// The fingerprint of an observed cluster (or of its absence).
pub fn fingerprint(o: Option<&ObservedCluster>) -> String {
    match o {
        None => "absent".to_string(),
        Some(o) => digest(&serde_json::to_vec(o).unwrap_or_default()),
    }
}

/// The deterministic clientRequestToken for creating `what`.
fn token(cluster: &str, kind: &str, name: &str, body: &impl Serialize) -> String {
    let mut bytes = format!("{cluster}\0{kind}\0{name}\0").into_bytes();
    bytes.extend(serde_json::to_vec(body).unwrap_or_default());
    format!("keelson-{}", &digest(&bytes)[..24])
}

/// Compute the plan.
pub fn plan(repo: &Repo, live: &LiveState, opts: &PlanOptions) -> Plan {
    let fleet = repo
        .fleet
        .as_ref()
        .map(|f| f.value.metadata.name.clone())
        .unwrap_or_default();
    let policy = repo
        .fleet
        .as_ref()
        .map(|f| f.value.spec.policy.clone())
        .unwrap_or_default();
    let selected = |name: &str| opts.only.is_empty() || opts.only.contains(name);
    // The deprecated-API table is built in; it cannot fail to parse in a released build,
    // and the gate is skipped (not the plan) if it ever did.
    let apis = ApiTable::shared();
    let mut clusters: Vec<ClusterPlan> = repo
        .clusters
        .iter()
        .filter(|c| selected(c.name()))
        .map(|c| {
            plan_cluster(
                &Shared {
                    fleet: &fleet,
                    repo,
                    fleet_live: live,
                    apis,
                    policy: &policy,
                    now: opts.now,
                    ignore: &opts.ignore_gates,
                },
                c,
                live.clusters.get(c.name()),
            )
        })
        .collect();
    let desired: BTreeSet<&str> = repo.clusters.iter().map(ClusterConfig::name).collect();
    for (name, o) in &live.clusters {
        if desired.contains(name.as_str()) || !selected(name) {
            continue;
        }
        if !created_by(&o.cluster.tags, &fleet) {
            continue;
        }
        clusters.push(plan_removed_cluster(o, policy.allow_cluster_deletion));
    }
    clusters.sort_by(|a, b| a.name.cmp(&b.name));
    let mut summary = Summary::default();
    for c in &clusters {
        for s in &c.steps {
            match s.action {
                Action::Create => summary.create += 1,
                Action::Update => summary.update += 1,
                Action::Replace => summary.replace += 1,
                Action::Delete => summary.delete += 1,
            }
        }
        if !c.blocked.is_empty() {
            summary.blocked_clusters += 1;
        }
        if !c.held.is_empty() {
            summary.held_clusters += 1;
        }
        if c.has_changes() {
            summary.changed_clusters += 1;
        } else {
            summary.unchanged_clusters += 1;
        }
    }
    Plan {
        format: PLAN_FORMAT.into(),
        version: PLAN_VERSION,
        created_at: opts.now,
        fleet,
        clusters,
        summary,
    }
}

fn res(kind: &str, name: &str) -> ResourceRef {
    ResourceRef {
        kind: kind.to_string(),
        name: name.to_string(),
    }
}

fn risk(kind: RiskKind, message: impl Into<String>) -> Risk {
    Risk {
        kind,
        message: message.into(),
    }
}

/// Field-level differences between two JSON values. Objects are compared key by key;
/// arrays and scalars as a whole.
pub fn diff(before: &Value, after: &Value, path: &str, out: &mut Vec<Change>) {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff(x, y, &p, out),
                    (Some(x), None) if !x.is_null() => out.push(Change {
                        path: p,
                        before: Some(x.clone()),
                        after: None,
                    }),
                    (None, Some(y)) if !y.is_null() => out.push(Change {
                        path: p,
                        before: None,
                        after: Some(y.clone()),
                    }),
                    _ => {}
                }
            }
        }
        (a, b) if a != b => out.push(Change {
            path: path.to_string(),
            before: (!a.is_null()).then(|| a.clone()),
            after: (!b.is_null()).then(|| b.clone()),
        }),
        _ => {}
    }
}

fn changes_of(before: &Value, after: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    diff(before, after, "", &mut out);
    out
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

/// Live tags without the ones AWS adds and keelson's marker.
fn user_tags(t: &Tags) -> Tags {
    t.iter()
        .filter(|(k, _)| {
            !k.starts_with("aws:") && k.as_str() != MANAGED_TAG && !upgrade::is_upgrade_tag(k)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Whether a resource carries this fleet's marker, i.e. keelson created it and may delete
/// it once git no longer has it.
fn created_by(tags: &Tags, fleet: &str) -> bool {
    tags.get(MANAGED_TAG).map(String::as_str) == Some(fleet)
}

/// The step that deletes a resource keelson created and git no longer has.
fn pruned(kind: &str, name: &str, consequence: impl Into<String>, op: Op) -> Step {
    Step {
        resource: res(kind, name),
        action: Action::Delete,
        changes: Vec::new(),
        risks: vec![risk(RiskKind::Destructive, consequence)],
        reason: Some("no longer in git".into()),
        ops: vec![op],
    }
}

fn with_marker(t: &Tags, fleet: &str) -> Tags {
    let mut t = t.clone();
    t.insert(MANAGED_TAG.into(), fleet.into());
    t
}

/// Tag/untag ops that turn `live` into `desired` (both without the marker); the marker
/// is added when missing.
fn tag_ops(
    arn: &str,
    live: &Tags,
    desired: &Tags,
    fleet: &str,
    changes: &mut Vec<Change>,
) -> Vec<Op> {
    let current = user_tags(live);
    let mut ops = Vec::new();
    let mut set: Tags = desired
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if live.get(MANAGED_TAG).map(String::as_str) != Some(fleet) {
        set.insert(MANAGED_TAG.into(), fleet.into());
    }
    let remove: Vec<String> = current
        .keys()
        .filter(|k| !desired.contains_key(*k))
        .cloned()
        .collect();
    if set.keys().any(|k| k != MANAGED_TAG) || !remove.is_empty() {
        changes.extend(changes_of(
            &json!({"tags": current}),
            &json!({"tags": desired}),
        ));
    }
    if !set.is_empty() {
        ops.push(Op::TagResource {
            arn: arn.to_string(),
            tags: set,
        });
    }
    if !remove.is_empty() {
        ops.push(Op::UntagResource {
            arn: arn.to_string(),
            keys: remove,
        });
    }
    ops
}

/// The add-on version `want` (a keyword or exact) stands for on cluster minor `cv`.
pub fn resolve_addon_version(
    versions: &[AddonVersion],
    want: &str,
    cv: &str,
) -> Result<String, String> {
    let compatible: Vec<&AddonVersion> = versions
        .iter()
        .filter(|v| v.compatibilities.iter().any(|c| c.cluster_version == cv))
        .collect();
    if compatible.is_empty() {
        return Err(format!(
            "no version of this add-on supports Kubernetes {cv}"
        ));
    }
    match want {
        "latest" => compatible
            .iter()
            .max_by(|a, b| version_key(&a.version).cmp(&version_key(&b.version)))
            .map(|v| v.version.clone())
            .ok_or_else(|| "no compatible version".into()),
        "default" => compatible
            .iter()
            .find(|v| {
                v.compatibilities
                    .iter()
                    .any(|c| c.cluster_version == cv && c.default_version)
            })
            .or_else(|| compatible.first())
            .map(|v| v.version.clone())
            .ok_or_else(|| "no compatible version".into()),
        exact => {
            if compatible.iter().any(|v| v.version == exact) {
                Ok(exact.to_string())
            } else {
                let mut list: Vec<&str> = compatible.iter().map(|v| v.version.as_str()).collect();
                list.sort_by_key(|v| std::cmp::Reverse(version_key(v)));
                Err(format!(
                    "version {exact} does not support Kubernetes {cv}; versions that do: {}",
                    list.join(", ")
                ))
            }
        }
    }
}

fn compatible_with(versions: &[AddonVersion], version: &str, cv: &str) -> bool {
    versions
        .iter()
        .any(|v| v.version == version && v.compatibilities.iter().any(|c| c.cluster_version == cv))
}

/// Configuration values as JSON: a string holding JSON is parsed, so that `'{"a":1}'`
/// and `{a: 1}` compare equal.
fn config_json(v: &Option<Value>) -> Value {
    match v {
        Some(Value::String(s)) => {
            serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))
        }
        Some(v) => v.clone(),
        None => Value::Null,
    }
}

fn addon_request(cluster: &str, a: &AddonDoc, version: &str, fleet: &str) -> AddonRequest {
    let spec = &a.spec;
    let mut req = AddonRequest {
        cluster: cluster.to_string(),
        name: a.metadata.name.clone(),
        version: version.to_string(),
        configuration_values: spec
            .configuration_values
            .as_ref()
            .map(|v| config_json(&Some(v.clone()))),
        service_account_role_arn: spec.service_account_role_arn.clone(),
        pod_identity_associations: spec.pod_identity_associations.clone(),
        resolve_conflicts: spec.resolve_conflicts,
        tags: with_marker(&spec.tags, fleet),
        client_request_token: String::new(),
    };
    req.client_request_token = token(cluster, "addon", &req.name, &req);
    req
}

/// Kubernetes object for a NodePool/NodeClass document, with keelson's label.
fn kube_object(api: &str, kind: &str, meta: &Metadata, spec: &impl Serialize) -> Value {
    let mut labels: serde_json::Map<String, Value> = meta
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    labels.insert(MANAGED_LABEL.into(), json!(FIELD_MANAGER));
    let mut metadata = json!({"name": meta.name, "labels": labels});
    if !meta.annotations.is_empty() {
        metadata["annotations"] = json!(meta.annotations);
    }
    json!({"apiVersion": api, "kind": kind, "metadata": metadata, "spec": spec})
}

/// The parts of a live object keelson owns: what it would send.
fn kube_owned_view(obj: &Value) -> Value {
    let labels = obj
        .pointer("/metadata/labels")
        .cloned()
        .unwrap_or(Value::Null);
    let annotations = obj
        .pointer("/metadata/annotations")
        .cloned()
        .unwrap_or(Value::Null);
    json!({"labels": labels, "annotations": annotations, "spec": obj.get("spec").cloned().unwrap_or(Value::Null)})
}

/// What every cluster's plan reads besides its own documents and live state.
struct Shared<'a> {
    fleet: &'a str,
    repo: &'a Repo,
    fleet_live: &'a LiveState,
    apis: Option<&'a ApiTable>,
    policy: &'a FleetPolicy,
    now: i64,
    ignore: &'a BTreeSet<upgrade::Gate>,
}

struct Ctx<'a> {
    fleet: &'a str,
    catalog: &'a BTreeMap<String, Vec<AddonVersion>>,
    shared: &'a Shared<'a>,
    name: &'a str,
    live: Option<&'a ObservedCluster>,
    steps: Vec<Step>,
    blocked: Vec<Blocker>,
    held: Vec<String>,
    notes: Vec<String>,
    waits: Vec<String>,
}

impl Ctx<'_> {
    fn block(&mut self, kind: &str, name: &str, message: impl Into<String>) {
        self.blocked.push(Blocker {
            resource: res(kind, name),
            message: message.into(),
        });
    }
}

fn plan_cluster<'a>(
    shared: &'a Shared<'a>,
    c: &'a ClusterConfig,
    live: Option<&'a ObservedCluster>,
) -> ClusterPlan {
    let name = c.name();
    let fleet = shared.fleet;
    let spec = &c.cluster.value.spec;
    let mut cx = Ctx {
        fleet,
        catalog: &shared.fleet_live.addon_versions,
        shared,
        name,
        live,
        steps: Vec::new(),
        blocked: Vec::new(),
        held: Vec::new(),
        notes: Vec::new(),
        waits: Vec::new(),
    };
    // The control-plane version the cluster will have once running updates finish.
    let mut cp_version = spec.version.clone();
    match live {
        None => {
            let mut create = CreateCluster {
                name: name.to_string(),
                spec: spec.clone(),
                tags: with_marker(&spec.tags, fleet),
                client_request_token: String::new(),
            };
            create.spec.tags = Tags::new();
            create.client_request_token = token(name, "cluster", name, &create);
            cx.steps.push(Step {
                resource: res("Cluster", name),
                action: Action::Create,
                changes: Vec::new(),
                risks: Vec::new(),
                reason: Some(format!("Kubernetes {} in {}", spec.version, spec.region)),
                ops: vec![Op::CreateCluster(create)],
            });
        }
        Some(o) => {
            if o.cluster.status == Status::Deleting {
                cx.block(
                    "Cluster",
                    name,
                    "the cluster is being deleted; wait until it is gone and plan again",
                );
            } else {
                cp_version = plan_existing_cluster(&mut cx, c, o);
            }
        }
    }
    if cx.blocked.iter().any(|b| b.resource.kind == "Cluster") {
        return finish(cx, c, live);
    }
    plan_access(&mut cx, c);
    plan_pod_identities(&mut cx, c);
    plan_fargate(&mut cx, c);
    plan_addons(&mut cx, c, &cp_version);
    plan_node_groups(&mut cx, c, &cp_version);
    plan_kube(&mut cx, c);
    finish(cx, c, live)
}

fn finish(cx: Ctx<'_>, c: &ClusterConfig, live: Option<&ObservedCluster>) -> ClusterPlan {
    let blocked = !cx.blocked.is_empty();
    ClusterPlan {
        name: c.name().to_string(),
        region: c.cluster.value.spec.region.clone(),
        exists: live.is_some(),
        fingerprint: fingerprint(live),
        waits: cx.waits,
        steps: if blocked { Vec::new() } else { cx.steps },
        blocked: cx.blocked,
        held: cx.held,
        notes: cx.notes,
    }
}

fn endpoint_view(v: &VpcConfig) -> Value {
    let cidrs = if v.endpoint_public_access && v.public_access_cidrs.is_empty() {
        vec!["0.0.0.0/0".to_string()]
    } else {
        sorted(&v.public_access_cidrs)
    };
    json!({
        "endpointPublicAccess": v.endpoint_public_access,
        "endpointPrivateAccess": v.endpoint_private_access,
        "publicAccessCidrs": cidrs,
    })
}

fn auto_view(a: &Option<AutoMode>) -> Value {
    // All three switches off is the same as no Auto Mode at all.
    let off = a.as_ref().is_some_and(|a| {
        !a.compute.enabled
            && !a.block_storage.enabled
            && !a.load_balancing.enabled
            && a.compute.node_pools.is_empty()
            && a.compute.node_role_arn.is_none()
    });
    match a {
        _ if off => auto_view(&None),
        None => {
            json!({"compute": {"enabled": false}, "blockStorage": {"enabled": false}, "loadBalancing": {"enabled": false}})
        }
        Some(a) => json!({
            "compute": {"enabled": a.compute.enabled, "nodePools": sorted(&a.compute.node_pools), "nodeRoleArn": a.compute.node_role_arn},
            "blockStorage": {"enabled": a.block_storage.enabled},
            "loadBalancing": {"enabled": a.load_balancing.enabled},
        }),
    }
}

fn auth_rank(m: AuthenticationMode) -> u8 {
    match m {
        AuthenticationMode::ConfigMap => 0,
        AuthenticationMode::ApiAndConfigMap => 1,
        AuthenticationMode::Api => 2,
    }
}

/// Plan changes to an existing cluster; returns the control-plane version after the plan.
fn plan_existing_cluster(cx: &mut Ctx<'_>, c: &ClusterConfig, o: &ObservedCluster) -> String {
    let name = c.name().to_string();
    let spec = &c.cluster.value.spec;
    let live = &o.cluster;
    if live.status.is_busy() {
        cx.waits.push(
            format!("cluster is {:?}", live.status)
                .to_uppercase()
                .replace("CLUSTER IS", "cluster is"),
        );
    }
    let mut running: BTreeSet<UpdateType> = BTreeSet::new();
    let mut live_version = live.version.clone();
    for u in &o.updates_in_progress {
        running.insert(u.update_type);
        let target = u
            .params
            .get("Version")
            .map(|v| format!(" to {v}"))
            .unwrap_or_default();
        cx.waits.push(format!(
            "{:?}{target} ({}) in progress",
            u.update_type, u.id
        ));
        if u.update_type == UpdateType::VersionUpdate {
            if let Some(v) = u.params.get("Version") {
                live_version = v.clone();
            }
        }
    }
    // Immutable fields: a change means a new cluster, which keelson never does by itself.
    let immutable = |field: &str, before: String, after: String| {
        format!("`{field}` cannot change on an existing cluster ({before} → {after}); create a new cluster under another name instead")
    };
    if live.region != spec.region {
        cx.block(
            "Cluster",
            &name,
            immutable("region", live.region.clone(), spec.region.clone()),
        );
    }
    if live.role_arn != spec.role_arn {
        cx.block(
            "Cluster",
            &name,
            immutable("roleArn", live.role_arn.clone(), spec.role_arn.clone()),
        );
    }
    if let (Some(want), Some(have)) = (&spec.kubernetes_network, &live.kubernetes_network) {
        let differs = (want.ip_family.is_some() && want.ip_family != have.ip_family)
            || (want.service_ipv4_cidr.is_some()
                && want.service_ipv4_cidr != have.service_ipv4_cidr);
        if differs {
            cx.block(
                "Cluster",
                &name,
                immutable(
                    "kubernetesNetwork",
                    serde_json::to_string(have).unwrap_or_default(),
                    serde_json::to_string(want).unwrap_or_default(),
                ),
            );
        }
    }
    if spec.secrets_kms_key_arn.is_some() && spec.secrets_kms_key_arn != live.secrets_kms_key_arn {
        cx.block(
            "Cluster",
            &name,
            "`secretsKmsKeyArn` is set when the cluster is created and cannot change afterwards",
        );
    }
    // Version.
    let (have, want) = (live_version.parse::<Minor>(), spec.version.parse::<Minor>());
    let mut hops: Vec<Minor> = Vec::new();
    if let (Ok(have), Ok(want)) = (have, want) {
        if want < have {
            cx.block(
                "Cluster",
                &name,
                format!("`version` {want} is lower than the running {have}; EKS does not downgrade (set version back to \"{have}\")"),
            );
        } else {
            let mut v = have;
            while v < want {
                v = v.next();
                hops.push(v);
            }
        }
    }
    if !cx.blocked.is_empty() {
        return live_version;
    }
    // Configuration, one UpdateClusterConfig per kind of change, as EKS requires.
    let config_step = |cx: &mut Ctx<'_>,
                       t: UpdateType,
                       changes: Vec<Change>,
                       change: ClusterConfigUpdate,
                       risks: Vec<Risk>| {
        if changes.is_empty() {
            return;
        }
        if running.contains(&t) {
            cx.notes.push(format!(
                "{t:?} already in progress; its change is planned again after it finishes"
            ));
            return;
        }
        cx.steps.push(Step {
            resource: res("Cluster", &name),
            action: Action::Update,
            changes,
            risks,
            reason: None,
            ops: vec![Op::UpdateClusterConfig { change }],
        });
    };
    let ep_before = endpoint_view(&live.vpc);
    let ep_after = endpoint_view(&spec.vpc);
    let ch = changes_of(&json!({"vpc": ep_before}), &json!({"vpc": ep_after}));
    config_step(
        cx,
        UpdateType::EndpointAccessUpdate,
        ch,
        ClusterConfigUpdate::EndpointAccess {
            public: spec.vpc.endpoint_public_access,
            private: spec.vpc.endpoint_private_access,
            public_access_cidrs: ep_after["publicAccessCidrs"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        },
        Vec::new(),
    );
    let ch = changes_of(
        &json!({"vpc": {"subnetIds": sorted(&live.vpc.subnet_ids), "securityGroupIds": sorted(&live.vpc.security_group_ids)}}),
        &json!({"vpc": {"subnetIds": sorted(&spec.vpc.subnet_ids), "securityGroupIds": sorted(&spec.vpc.security_group_ids)}}),
    );
    config_step(
        cx,
        UpdateType::VpcConfigUpdate,
        ch,
        ClusterConfigUpdate::Vpc {
            subnet_ids: spec.vpc.subnet_ids.clone(),
            security_group_ids: spec.vpc.security_group_ids.clone(),
        },
        Vec::new(),
    );
    let mut want_logs = spec.logging.clone();
    want_logs.sort();
    want_logs.dedup();
    let mut have_logs = live.logging.clone();
    have_logs.sort();
    have_logs.dedup();
    let ch = changes_of(
        &json!({"logging": have_logs}),
        &json!({"logging": want_logs}),
    );
    config_step(
        cx,
        UpdateType::LoggingUpdate,
        ch,
        ClusterConfigUpdate::Logging {
            enabled: want_logs.clone(),
        },
        Vec::new(),
    );
    if let Some(access) = &spec.access {
        let have = live
            .access
            .as_ref()
            .map_or(AuthenticationMode::ConfigMap, |a| a.authentication_mode);
        let want = access.authentication_mode;
        if want != have {
            if auth_rank(want) < auth_rank(have) {
                cx.block("Cluster", &name, format!("authenticationMode moves one way only (CONFIG_MAP → API_AND_CONFIG_MAP → API); it is {have}, set it back to {have}"));
            } else {
                let ch = changes_of(
                    &json!({"access": {"authenticationMode": have}}),
                    &json!({"access": {"authenticationMode": want}}),
                );
                config_step(
                    cx,
                    UpdateType::AccessConfigUpdate,
                    ch,
                    ClusterConfigUpdate::Access {
                        authentication_mode: want,
                    },
                    vec![risk(
                        RiskKind::Irreversible,
                        format!("authenticationMode {want} cannot be undone"),
                    )],
                );
            }
        }
    }
    let (av_before, av_after) = (auto_view(&live.auto_mode), auto_view(&spec.auto_mode));
    if av_before != av_after {
        let live_role = live
            .auto_mode
            .as_ref()
            .filter(|a| a.compute.enabled)
            .and_then(|a| a.compute.node_role_arn.clone());
        let want_role = spec
            .auto_mode
            .as_ref()
            .filter(|a| a.compute.enabled)
            .and_then(|a| a.compute.node_role_arn.clone());
        if live_role.is_some() && want_role.is_some() && live_role != want_role {
            cx.block("Cluster", &name, "Auto Mode `nodeRoleArn` cannot change while compute is enabled; keep the current role");
        } else {
            let auto_mode = spec.auto_mode.clone().unwrap_or(AutoMode {
                compute: AutoCompute {
                    enabled: false,
                    node_pools: Vec::new(),
                    node_role_arn: None,
                },
                block_storage: Toggle { enabled: false },
                load_balancing: Toggle { enabled: false },
            });
            let disabling = !auto_mode.compute.enabled
                && live.auto_mode.as_ref().is_some_and(|a| a.compute.enabled);
            let risks = if disabling {
                vec![risk(
                    RiskKind::Destructive,
                    "turning Auto Mode compute off removes its nodes and their pods",
                )]
            } else {
                Vec::new()
            };
            config_step(
                cx,
                UpdateType::AutoModeUpdate,
                changes_of(
                    &json!({"autoMode": av_before}),
                    &json!({"autoMode": av_after}),
                ),
                ClusterConfigUpdate::AutoMode { auto_mode },
                risks,
            );
        }
    }
    if let Some(up) = &spec.upgrade_policy {
        let have = live.upgrade_policy.as_ref().map(|u| u.support_type);
        if have != Some(up.support_type) {
            let ch = changes_of(
                &json!({"upgradePolicy": {"supportType": have}}),
                &json!({"upgradePolicy": {"supportType": up.support_type}}),
            );
            config_step(
                cx,
                UpdateType::UpgradePolicyUpdate,
                ch,
                ClusterConfigUpdate::UpgradePolicy {
                    support_type: up.support_type,
                },
                Vec::new(),
            );
        }
    }
    if live.deletion_protection != spec.deletion_protection {
        let ch = changes_of(
            &json!({"deletionProtection": live.deletion_protection}),
            &json!({"deletionProtection": spec.deletion_protection}),
        );
        config_step(
            cx,
            UpdateType::DeletionProtectionUpdate,
            ch,
            ClusterConfigUpdate::DeletionProtection {
                enabled: spec.deletion_protection,
            },
            Vec::new(),
        );
    }
    let mut tag_changes = Vec::new();
    let ops = tag_ops(
        &live.arn,
        &live.tags,
        &spec.tags,
        cx.fleet,
        &mut tag_changes,
    );
    if !ops.is_empty() {
        cx.steps.push(Step {
            resource: res("Cluster", &name),
            action: Action::Update,
            changes: tag_changes,
            risks: Vec::new(),
            reason: if live.tags.contains_key(MANAGED_TAG) {
                None
            } else {
                Some("adopt: mark the cluster as managed by this fleet".into())
            },
            ops,
        });
    }
    // Version hops, one minor each: the control plane, then the add-ons the new minor
    // needs moved, then the node groups that follow the cluster's version, then the record
    // of the transition that later stages wait for. Each hop is judged by the gates first.
    let (mut addon_versions, mut ng_versions) = upgrade::live_versions(o);
    let shared = cx.shared;
    let input = upgrade::HopInput {
        cluster: c,
        live: o,
        repo: shared.repo,
        fleet_live: shared.fleet_live,
        apis: shared.apis,
        policy: shared.policy,
        now: shared.now,
    };
    let mut tags_now = live.tags.clone();
    let live_minor = live_version.parse::<Minor>().ok();
    // A hop interrupted after its control-plane update (a crash, a failed add-on): finish
    // what follows the control plane and record it; never issue the update again.
    if let Some((from, to)) = upgrade::in_progress_hop(&live.tags) {
        if Some(to) == live_minor {
            let check = upgrade::check_hop(input, from, to, &addon_versions, &ng_versions, false);
            cx.notes.push(format!(
                "finishing the {from}→{to} upgrade started earlier (its control plane is done)"
            ));
            hop_followers(cx, c, &check, &mut ng_versions);
            addon_versions = check.addons_after.clone();
            cx.steps
                .push(record_step(&name, &live.arn, &check, &mut tags_now));
        }
    }
    let mut prev = live_version.clone();
    let mut reached = live_version.clone();
    for (i, hop) in hops.iter().enumerate() {
        let Ok(from) = prev.parse::<Minor>() else {
            break;
        };
        let mut check =
            upgrade::check_hop(input, from, *hop, &addon_versions, &ng_versions, i == 0);
        for g in check.gates.iter_mut() {
            if shared.ignore.contains(&g.gate) && g.outcome > upgrade::Outcome::Warn {
                for f in &g.findings {
                    cx.notes.push(format!(
                        "upgrade {from}→{hop}: IGNORED on request ({}): {f}",
                        g.gate.as_str()
                    ));
                }
                g.outcome = upgrade::Outcome::Pass;
            }
        }
        match check.outcome() {
            upgrade::Outcome::Fail => {
                for f in check.findings(upgrade::Outcome::Fail) {
                    cx.block("Cluster", &name, format!("upgrade {from}→{hop}: {f}"));
                }
                break;
            }
            upgrade::Outcome::Hold => {
                for f in check.findings(upgrade::Outcome::Hold) {
                    cx.held.push(format!("upgrade {from}→{hop}: {f}"));
                }
                break;
            }
            upgrade::Outcome::Warn | upgrade::Outcome::Pass => {}
        }
        for w in check.findings(upgrade::Outcome::Warn) {
            cx.notes.push(format!("upgrade {from}→{hop}: {w}"));
        }
        let hop_s = hop.to_string();
        for n in &check.node_group_catch_up {
            let have = ng_versions.get(n).cloned().unwrap_or_default();
            if let Some(ng) = c.node_groups.iter().find(|g| &g.value.metadata.name == n) {
                cx.steps.push(node_version_step(
                    &name,
                    n,
                    &have,
                    &prev,
                    &ng.value.spec,
                    cx.fleet,
                ));
                ng_versions.insert(n.clone(), prev.clone());
            }
        }
        let mut start = Tags::new();
        start.insert(UPGRADING_TAG.to_string(), format!("{from}-{hop}"));
        cx.steps.push(Step {
            resource: res("Cluster", &name),
            action: Action::Update,
            changes: vec![Change { path: "version".into(), before: Some(json!(prev)), after: Some(json!(hop_s)) }],
            risks: vec![risk(RiskKind::Irreversible, "a control-plane upgrade cannot be undone by keelson (EKS rollback is manual and limited to 7 days)")],
            reason: None,
            ops: vec![
                Op::TagResource { arn: live.arn.clone(), tags: start },
                Op::UpdateClusterVersion { version: hop_s.clone() },
            ],
        });
        hop_followers(cx, c, &check, &mut ng_versions);
        addon_versions = check.addons_after.clone();
        cx.steps
            .push(record_step(&name, &live.arn, &check, &mut tags_now));
        prev = hop_s.clone();
        reached = hop_s;
    }
    if !cx.blocked.is_empty() {
        return live_version;
    }
    reached
}

/// The add-on and node-group steps that follow a hop's control-plane update.
fn hop_followers(
    cx: &mut Ctx<'_>,
    c: &ClusterConfig,
    check: &upgrade::HopCheck,
    ng_versions: &mut BTreeMap<String, String>,
) {
    let name = cx.name.to_string();
    for m in &check.addon_moves {
        let Some(doc) = c.addons.iter().find(|a| a.value.metadata.name == m.name) else {
            continue;
        };
        cx.steps.push(Step {
            resource: res("Addon", &m.name),
            action: Action::Update,
            changes: vec![Change {
                path: "version".into(),
                before: Some(json!(m.from)),
                after: Some(json!(m.to)),
            }],
            risks: Vec::new(),
            reason: Some(format!(
                "{} does not support Kubernetes {}",
                m.from, check.to
            )),
            ops: vec![Op::UpdateAddon(addon_request(
                &name, &doc.value, &m.to, cx.fleet,
            ))],
        });
    }
    for n in &check.node_group_moves {
        let have = ng_versions.get(n).cloned().unwrap_or_default();
        if let Some(ng) = c.node_groups.iter().find(|g| &g.value.metadata.name == n) {
            cx.steps.push(node_version_step(
                &name,
                n,
                &have,
                &check.to,
                &ng.value.spec,
                cx.fleet,
            ));
            ng_versions.insert(n.clone(), check.to.clone());
        }
    }
}

/// The step that records a completed hop on the cluster (for later stages), clears the
/// in-progress tag and drops the oldest records.
fn record_step(name: &str, arn: &str, check: &upgrade::HopCheck, tags_now: &mut Tags) -> Step {
    let key = upgrade::transition_key(&check.from, &check.to);
    tags_now.insert(key.clone(), String::new());
    let mut remove = vec![UPGRADING_TAG.to_string()];
    remove.extend(upgrade::stale_transitions(tags_now, TRANSITIONS_KEPT));
    for k in &remove {
        tags_now.remove(k);
    }
    Step {
        resource: res("Cluster", name),
        action: Action::Update,
        changes: vec![Change {
            path: format!("tags.{key}"),
            before: None,
            after: Some(json!(upgrade::transition_value(0, &check.addons_after)
                .replacen("t=0", "t=<completion time>", 1))),
        }],
        risks: Vec::new(),
        reason: Some(format!(
            "record that {}→{} completed, for the stages after this one",
            check.from, check.to
        )),
        ops: vec![Op::RecordTransition {
            arn: arn.to_string(),
            from: check.from.clone(),
            to: check.to.clone(),
            addons: check.addons_after.clone(),
            remove,
        }],
    }
}

/// Transition records kept on a cluster (EKS allows 50 tags).
const TRANSITIONS_KEPT: usize = 4;

/// During a hop an exact add-on version may be too old; move to the newest compatible
/// one and let the final diff settle the requested version.
fn hop_version_request(want: &str) -> String {
    if want == "default" {
        "default".into()
    } else {
        "latest".into()
    }
}

fn node_version_step(
    cluster: &str,
    name: &str,
    from: &str,
    to: &str,
    spec: &NodeGroupSpec,
    fleet: &str,
) -> Step {
    let mut req = NodeGroupVersionUpdate {
        cluster: cluster.to_string(),
        name: name.to_string(),
        version: to.to_string(),
        release_version: spec.release_version.clone(),
        launch_template: spec.launch_template.clone(),
        client_request_token: String::new(),
    };
    req.client_request_token = token(cluster, "nodegroup-version", name, &(&req, fleet));
    Step {
        resource: res("NodeGroup", name),
        action: Action::Update,
        changes: vec![Change {
            path: "version".into(),
            before: Some(json!(from)),
            after: Some(json!(to)),
        }],
        risks: vec![risk(
            RiskKind::NodesRotated,
            "every node of the group is replaced, rolling, honouring PodDisruptionBudgets",
        )],
        reason: None,
        ops: vec![Op::UpdateNodegroupVersion(req)],
    }
}

fn plan_access(cx: &mut Ctx<'_>, c: &ClusterConfig) {
    let live = cx.live;
    let empty = BTreeMap::new();
    let entries = live.map_or(&empty, |o| &o.access_entries);
    let name = cx.name.to_string();
    for e in &c.access_entries {
        let spec = &e.value.spec;
        let p = &spec.principal_arn;
        let create_ops = |fleet: &str| {
            let mut s = spec.clone();
            s.tags = with_marker(&spec.tags, fleet);
            let mut req = CreateAccessEntry {
                cluster: name.clone(),
                spec: s,
                client_request_token: String::new(),
            };
            req.client_request_token = token(&name, "access-entry", p, &req);
            let mut ops = vec![Op::CreateAccessEntry(req)];
            ops.extend(spec.policies.iter().map(|pol| Op::AssociateAccessPolicy {
                principal: p.clone(),
                policy: pol.clone(),
            }));
            ops
        };
        match entries.get(p) {
            None => cx.steps.push(Step {
                resource: res("AccessEntry", p),
                action: Action::Create,
                changes: Vec::new(),
                risks: Vec::new(),
                reason: None,
                ops: create_ops(cx.fleet),
            }),
            Some(l) if l.spec.entry_type != spec.entry_type => {
                let mut ops = vec![Op::DeleteAccessEntry {
                    principal: p.clone(),
                }];
                ops.extend(create_ops(cx.fleet));
                cx.steps.push(Step {
                    resource: res("AccessEntry", p),
                    action: Action::Replace,
                    changes: changes_of(
                        &json!({"type": l.spec.entry_type}),
                        &json!({"type": spec.entry_type}),
                    ),
                    risks: vec![risk(
                        RiskKind::Destructive,
                        "the principal loses access between the delete and the create",
                    )],
                    reason: Some("an access entry's type cannot change".into()),
                    ops,
                });
            }
            Some(l) => {
                let mut changes = Vec::new();
                let mut ops = Vec::new();
                let (hg, wg) = (
                    sorted(&l.spec.kubernetes_groups),
                    sorted(&spec.kubernetes_groups),
                );
                if hg != wg || (spec.username.is_some() && spec.username != l.spec.username) {
                    changes.extend(changes_of(&json!({"kubernetesGroups": hg, "username": l.spec.username}), &json!({"kubernetesGroups": wg, "username": spec.username.clone().or(l.spec.username.clone())})));
                    ops.push(Op::UpdateAccessEntry {
                        principal: p.clone(),
                        groups: spec.kubernetes_groups.clone(),
                        username: spec.username.clone(),
                    });
                }
                let have: BTreeMap<&str, &AccessPolicy> = l
                    .spec
                    .policies
                    .iter()
                    .map(|x| (x.policy_arn.as_str(), x))
                    .collect();
                let want: BTreeMap<&str, &AccessPolicy> = spec
                    .policies
                    .iter()
                    .map(|x| (x.policy_arn.as_str(), x))
                    .collect();
                for (arn, pol) in &want {
                    let norm = |x: &AccessPolicy| json!({"type": x.access_scope.scope_type, "namespaces": sorted(&x.access_scope.namespaces)});
                    if have.get(arn).map(|h| norm(h)) != Some(norm(pol)) {
                        changes.push(Change {
                            path: format!("policies[{arn}]"),
                            before: have.get(arn).map(|h| norm(h)),
                            after: Some(norm(pol)),
                        });
                        ops.push(Op::AssociateAccessPolicy {
                            principal: p.clone(),
                            policy: (*pol).clone(),
                        });
                    }
                }
                for arn in have.keys().filter(|a| !want.contains_key(*a)) {
                    changes.push(Change {
                        path: format!("policies[{arn}]"),
                        before: Some(json!("associated")),
                        after: None,
                    });
                    ops.push(Op::DisassociateAccessPolicy {
                        principal: p.clone(),
                        policy_arn: arn.to_string(),
                    });
                }
                ops.extend(tag_ops(
                    &l.arn,
                    &l.spec.tags,
                    &spec.tags,
                    cx.fleet,
                    &mut changes,
                ));
                if !ops.is_empty() {
                    cx.steps.push(Step {
                        resource: res("AccessEntry", p),
                        action: Action::Update,
                        changes,
                        risks: Vec::new(),
                        reason: None,
                        ops,
                    });
                }
            }
        }
    }
    let desired: BTreeSet<&str> = c
        .access_entries
        .iter()
        .map(|e| e.value.spec.principal_arn.as_str())
        .collect();
    for (p, l) in entries {
        if desired.contains(p.as_str()) {
            continue;
        }
        if created_by(&l.spec.tags, cx.fleet) {
            cx.steps.push(pruned(
                "AccessEntry",
                p,
                "the principal loses its access to the cluster",
                Op::DeleteAccessEntry {
                    principal: p.clone(),
                },
            ));
        }
    }
}

fn plan_pod_identities(cx: &mut Ctx<'_>, c: &ClusterConfig) {
    let empty = BTreeMap::new();
    let live = cx.live.map_or(&empty, |o| &o.pod_identities);
    let name = cx.name.to_string();
    for p in &c.pod_identities {
        let spec = &p.value.spec;
        let key = format!("{}/{}", spec.namespace, spec.service_account);
        match live.get(&key) {
            None => {
                let mut s = spec.clone();
                s.tags = with_marker(&spec.tags, cx.fleet);
                let mut req = CreatePodIdentity {
                    cluster: name.clone(),
                    spec: s,
                    client_request_token: String::new(),
                };
                req.client_request_token = token(&name, "pod-identity", &key, &req);
                cx.steps.push(Step {
                    resource: res("PodIdentityAssociation", &key),
                    action: Action::Create,
                    changes: Vec::new(),
                    risks: Vec::new(),
                    reason: None,
                    ops: vec![Op::CreatePodIdentity(req)],
                });
            }
            Some(l) => {
                let view = |s: &PodIdentityAssociationSpec| json!({"roleArn": s.role_arn, "targetRoleArn": s.target_role_arn, "disableSessionTags": s.disable_session_tags});
                let mut changes = changes_of(&view(&l.spec), &view(spec));
                let mut ops = Vec::new();
                if !changes.is_empty() {
                    ops.push(Op::UpdatePodIdentity {
                        id: l.association_id.clone(),
                        spec: spec.clone(),
                    });
                }
                ops.extend(tag_ops(
                    &l.arn,
                    &l.spec.tags,
                    &spec.tags,
                    cx.fleet,
                    &mut changes,
                ));
                if !ops.is_empty() {
                    cx.steps.push(Step {
                        resource: res("PodIdentityAssociation", &key),
                        action: Action::Update,
                        changes,
                        risks: Vec::new(),
                        reason: None,
                        ops,
                    });
                }
            }
        }
    }
    let desired: BTreeSet<String> = c
        .pod_identities
        .iter()
        .map(|p| {
            format!(
                "{}/{}",
                p.value.spec.namespace, p.value.spec.service_account
            )
        })
        .collect();
    for (key, l) in live {
        if !desired.contains(key) && created_by(&l.spec.tags, cx.fleet) {
            cx.steps.push(pruned(
                "PodIdentityAssociation",
                key,
                "pods of this service account lose their AWS role",
                Op::DeletePodIdentity {
                    id: l.association_id.clone(),
                },
            ));
        }
    }
}

fn plan_fargate(cx: &mut Ctx<'_>, c: &ClusterConfig) {
    let empty = BTreeMap::new();
    let live = cx.live.map_or(&empty, |o| &o.fargate_profiles);
    let name = cx.name.to_string();
    for f in &c.fargate_profiles {
        let n = &f.value.metadata.name;
        let spec = &f.value.spec;
        let create = |fleet: &str| {
            let mut s = spec.clone();
            s.tags = with_marker(&spec.tags, fleet);
            let mut req = CreateFargateProfile {
                cluster: name.clone(),
                name: n.clone(),
                spec: s,
                client_request_token: String::new(),
            };
            req.client_request_token = token(&name, "fargate", n, &req);
            Op::CreateFargateProfile(req)
        };
        match live.get(n) {
            None => cx.steps.push(Step {
                resource: res("FargateProfile", n),
                action: Action::Create,
                changes: Vec::new(),
                risks: Vec::new(),
                reason: None,
                ops: vec![create(cx.fleet)],
            }),
            Some(l) if l.status.is_busy() => cx
                .waits
                .push(format!("Fargate profile {n} is {:?}", l.status)),
            Some(l) => {
                let view = |s: &FargateProfileSpec| json!({"podExecutionRoleArn": s.pod_execution_role_arn, "subnetIds": sorted(&s.subnet_ids), "selectors": s.selectors});
                let changes = changes_of(&view(&l.spec), &view(spec));
                if !changes.is_empty() {
                    cx.steps.push(Step {
                        resource: res("FargateProfile", n),
                        action: Action::Replace,
                        changes,
                        risks: vec![risk(
                            RiskKind::Destructive,
                            "pods scheduled by this profile are rescheduled when it is recreated",
                        )],
                        reason: Some(
                            "Fargate profiles cannot change; they are deleted and created again"
                                .into(),
                        ),
                        ops: vec![
                            Op::DeleteFargateProfile { name: n.clone() },
                            create(cx.fleet),
                        ],
                    });
                } else {
                    let mut changes = Vec::new();
                    let ops = tag_ops(&l.arn, &l.spec.tags, &spec.tags, cx.fleet, &mut changes);
                    if !ops.is_empty() {
                        cx.steps.push(Step {
                            resource: res("FargateProfile", n),
                            action: Action::Update,
                            changes,
                            risks: Vec::new(),
                            reason: None,
                            ops,
                        });
                    }
                }
            }
        }
    }
    let desired: BTreeSet<&str> = c
        .fargate_profiles
        .iter()
        .map(|f| f.value.metadata.name.as_str())
        .collect();
    for (n, l) in live {
        if !desired.contains(n.as_str())
            && created_by(&l.spec.tags, cx.fleet)
            && l.status != Status::Deleting
        {
            cx.steps.push(pruned(
                "FargateProfile",
                n,
                "pods scheduled by this profile stop being scheduled on Fargate",
                Op::DeleteFargateProfile { name: n.clone() },
            ));
        }
    }
}

fn plan_addons(cx: &mut Ctx<'_>, c: &ClusterConfig, cv: &str) {
    let name = cx.name.to_string();
    let empty_addons = BTreeMap::new();
    let live = cx.live.map_or(&empty_addons, |o| &o.addons);
    let catalog = cx.catalog;
    // Versions the hops above already move add-ons to.
    let hopped: BTreeMap<String, String> = cx
        .steps
        .iter()
        .filter(|s| s.resource.kind == "Addon")
        .filter_map(|s| match s.ops.first() {
            Some(Op::UpdateAddon(r)) => Some((r.name.clone(), r.version.clone())),
            _ => None,
        })
        .collect();
    for a in &c.addons {
        let an = &a.value.metadata.name;
        let spec = &a.value.spec;
        let versions = catalog.get(an).map(Vec::as_slice).unwrap_or(&[]);
        if versions.is_empty() {
            cx.block(
                "Addon",
                an,
                format!("EKS has no add-on named `{an}` (DescribeAddonVersions returned nothing)"),
            );
            continue;
        }
        let target = resolve_addon_version(versions, &spec.version, cv);
        let target = match target {
            Ok(t) => t,
            Err(e) => {
                cx.block("Addon", an, format!("`spec.version` {}: {e}", spec.version));
                continue;
            }
        };
        match live.get(an) {
            None => {
                let req = addon_request(&name, &a.value, &target, cx.fleet);
                cx.steps.push(Step {
                    resource: res("Addon", an),
                    action: Action::Create,
                    changes: Vec::new(),
                    risks: Vec::new(),
                    reason: Some(format!("version {target}")),
                    ops: vec![Op::CreateAddon(req)],
                });
            }
            Some(l) if l.status.is_busy() => {
                cx.waits.push(format!("add-on {an} is {:?}", l.status))
            }
            Some(l) => {
                let current = hopped.get(an).cloned().unwrap_or_else(|| l.version.clone());
                let keyword = matches!(spec.version.as_str(), "latest" | "default");
                let newer = version_key(&target) > version_key(&current);
                let older = version_key(&target) < version_key(&current);
                if older && !keyword {
                    cx.block("Addon", an, format!("`spec.version` {target} is older than the installed {current}; EKS does not downgrade add-ons"));
                    continue;
                }
                let version = if newer {
                    target.clone()
                } else {
                    current.clone()
                };
                let view = |v: &str,
                            cfg: &Option<Value>,
                            irsa: &Option<String>,
                            pia: &[AddonPodIdentity]| {
                    let mut pia = pia.to_vec();
                    pia.sort_by(|a, b| a.service_account.cmp(&b.service_account));
                    json!({"version": v, "configurationValues": config_json(cfg), "serviceAccountRoleArn": irsa, "podIdentityAssociations": pia})
                };
                let mut changes = changes_of(
                    &view(
                        &current,
                        &l.configuration_values,
                        &l.service_account_role_arn,
                        &l.pod_identity_associations,
                    ),
                    &view(
                        &version,
                        &spec.configuration_values,
                        &spec.service_account_role_arn,
                        &spec.pod_identity_associations,
                    ),
                );
                let mut ops = Vec::new();
                if !changes.is_empty() {
                    ops.push(Op::UpdateAddon(addon_request(
                        &name, &a.value, &version, cx.fleet,
                    )));
                }
                ops.extend(tag_ops(&l.arn, &l.tags, &spec.tags, cx.fleet, &mut changes));
                if !ops.is_empty() {
                    cx.steps.push(Step {
                        resource: res("Addon", an),
                        action: Action::Update,
                        changes,
                        risks: Vec::new(),
                        reason: None,
                        ops,
                    });
                }
            }
        }
    }
    let desired: BTreeSet<&str> = c
        .addons
        .iter()
        .map(|a| a.value.metadata.name.as_str())
        .collect();
    for (an, l) in live {
        if desired.contains(an.as_str()) || l.status == Status::Deleting {
            continue;
        }
        if created_by(&l.tags, cx.fleet) {
            cx.steps.push(pruned(
                "Addon",
                an,
                format!("the {an} add-on and its workloads are removed"),
                Op::DeleteAddon { name: an.clone() },
            ));
        } else {
            cx.notes.push(format!(
                "add-on {an} is installed but not in git and not created by keelson; left alone"
            ));
        }
    }
}

fn plan_node_groups(cx: &mut Ctx<'_>, c: &ClusterConfig, cv: &str) {
    let name = cx.name.to_string();
    let empty = BTreeMap::new();
    let live = cx.live.map_or(&empty, |o| &o.node_groups);
    let hopped: BTreeMap<String, String> = cx
        .steps
        .iter()
        .filter(|s| s.resource.kind == "NodeGroup")
        .filter_map(|s| match s.ops.first() {
            Some(Op::UpdateNodegroupVersion(r)) => Some((r.name.clone(), r.version.clone())),
            _ => None,
        })
        .collect();
    for ng in &c.node_groups {
        let n = &ng.value.metadata.name;
        let spec = &ng.value.spec;
        let want_version = spec.version.clone().unwrap_or_else(|| cv.to_string());
        let create = |fleet: &str| {
            let mut s = spec.clone();
            s.version = Some(want_version.clone());
            s.tags = with_marker(&spec.tags, fleet);
            let mut req = CreateNodeGroup {
                cluster: name.clone(),
                name: n.clone(),
                spec: s,
                client_request_token: String::new(),
            };
            req.client_request_token = token(&name, "nodegroup", n, &req);
            Op::CreateNodegroup(req)
        };
        let Some(l) = live.get(n) else {
            cx.steps.push(Step {
                resource: res("NodeGroup", n),
                action: Action::Create,
                changes: Vec::new(),
                risks: Vec::new(),
                reason: Some(format!("Kubernetes {want_version}")),
                ops: vec![create(cx.fleet)],
            });
            continue;
        };
        if l.status.is_busy() {
            cx.waits.push(format!("node group {n} is {:?}", l.status));
            continue;
        }
        let ls = &l.spec;
        let lt_ref =
            |t: &Option<LaunchTemplate>| t.as_ref().map(|t| json!({"id": t.id, "name": t.name}));
        let immutable_view = |s: &NodeGroupSpec, live_side: bool| {
            json!({
                "nodeRoleArn": s.node_role_arn,
                "subnetIds": sorted(&s.subnet_ids),
                "instanceTypes": if live_side || !s.instance_types.is_empty() { sorted(&s.instance_types) } else { sorted(&ls.instance_types) },
                "amiType": s.ami_type.or(ls.ami_type),
                "capacityType": s.capacity_type.or(ls.capacity_type),
                "diskSize": s.disk_size.or(ls.disk_size),
                "launchTemplate": lt_ref(&s.launch_template),
            })
        };
        let replace_changes = changes_of(&immutable_view(ls, true), &immutable_view(spec, false));
        if !replace_changes.is_empty() {
            cx.steps.push(Step {
                resource: res("NodeGroup", n),
                action: Action::Replace,
                changes: replace_changes,
                risks: vec![
                    risk(RiskKind::Destructive, "the node group is deleted before it is created again: its capacity is gone in between"),
                    risk(RiskKind::NodesRotated, "every node is replaced; pods are evicted"),
                ],
                reason: Some("these fields cannot change on an existing node group".into()),
                ops: vec![Op::DeleteNodegroup { name: n.clone() }, create(cx.fleet)],
            });
            continue;
        }
        // Configuration in place. The desired size belongs to the autoscaler once the
        // group exists: only move it when it falls outside new bounds.
        let live_desired = ls.scaling.desired_size;
        let scaling_view = |s: &Scaling| json!({"minSize": s.min_size, "maxSize": s.max_size});
        let mut changes = changes_of(
            &json!({"scaling": scaling_view(&ls.scaling), "labels": ls.labels, "taints": ls.taints, "updateConfig": ls.update_config}),
            &json!({"scaling": scaling_view(&spec.scaling), "labels": spec.labels, "taints": spec.taints, "updateConfig": spec.update_config.or(ls.update_config)}),
        );
        let mut ops = Vec::new();
        if !changes.is_empty() {
            let out_of_bounds = live_desired
                .map(|d| d < spec.scaling.min_size || d > spec.scaling.max_size)
                .unwrap_or(false);
            let scaling = Scaling {
                min_size: spec.scaling.min_size,
                max_size: spec.scaling.max_size,
                desired_size: if out_of_bounds {
                    live_desired.map(|d| d.clamp(spec.scaling.min_size, spec.scaling.max_size))
                } else {
                    None
                },
            };
            let mut req = NodeGroupConfigUpdate {
                cluster: name.clone(),
                name: n.clone(),
                scaling: Some(scaling),
                labels: Some(spec.labels.clone()),
                taints: Some(spec.taints.clone()),
                update_config: spec.update_config,
                client_request_token: String::new(),
            };
            req.client_request_token = token(&name, "nodegroup-config", n, &req);
            ops.push(Op::UpdateNodegroupConfig(req));
        }
        ops.extend(tag_ops(
            &l.arn,
            &ls.tags,
            &spec.tags,
            cx.fleet,
            &mut changes,
        ));
        if !ops.is_empty() {
            cx.steps.push(Step {
                resource: res("NodeGroup", n),
                action: Action::Update,
                changes,
                risks: Vec::new(),
                reason: None,
                ops,
            });
        }
        let have_version = hopped
            .get(n)
            .cloned()
            .unwrap_or_else(|| ls.version.clone().unwrap_or_default());
        let lt_version_changed = spec
            .launch_template
            .as_ref()
            .and_then(|t| t.version.clone())
            .is_some_and(|v| {
                ls.launch_template.as_ref().and_then(|t| t.version.clone()) != Some(v)
            });
        let release_changed =
            spec.release_version.is_some() && spec.release_version != ls.release_version;
        if have_version != want_version || lt_version_changed || release_changed {
            match (have_version.parse::<Minor>(), want_version.parse::<Minor>()) {
                (Ok(h), Ok(w)) if w < h => cx.block(
                    "NodeGroup",
                    n,
                    format!(
                        "`version` {w} is lower than the running {h}; node groups do not downgrade"
                    ),
                ),
                _ => {
                    let mut step =
                        node_version_step(&name, n, &have_version, &want_version, spec, cx.fleet);
                    if have_version == want_version {
                        step.changes = changes_of(
                            &json!({"releaseVersion": ls.release_version, "launchTemplate.version": ls.launch_template.as_ref().and_then(|t| t.version.clone())}),
                            &json!({"releaseVersion": spec.release_version.clone().or(ls.release_version.clone()), "launchTemplate.version": spec.launch_template.as_ref().and_then(|t| t.version.clone()).or(ls.launch_template.as_ref().and_then(|t| t.version.clone()))}),
                        );
                    }
                    cx.steps.push(step);
                }
            }
        }
    }
    let desired: BTreeSet<&str> = c
        .node_groups
        .iter()
        .map(|n| n.value.metadata.name.as_str())
        .collect();
    for (n, l) in live {
        if desired.contains(n.as_str()) || l.status == Status::Deleting {
            continue;
        }
        if created_by(&l.spec.tags, cx.fleet) {
            cx.steps.push(pruned(
                "NodeGroup",
                n,
                "the node group's nodes are terminated; their pods are evicted",
                Op::DeleteNodegroup { name: n.clone() },
            ));
        } else {
            cx.notes.push(format!(
                "node group {n} is not in git and not created by keelson; left alone"
            ));
        }
    }
}

fn plan_kube(cx: &mut Ctx<'_>, c: &ClusterConfig) {
    let empty = BTreeMap::new();
    let live = cx.live.map_or(&empty, |o| &o.kube_objects);
    let mut desired_keys = BTreeSet::new();
    let classes = c.node_classes.iter().map(|n| {
        (
            EKS_NODECLASS_API,
            "NodeClass",
            kube_object(
                EKS_NODECLASS_API,
                "NodeClass",
                &n.value.metadata,
                &n.value.spec,
            ),
        )
    });
    let pools = c.node_pools.iter().map(|n| {
        (
            KARPENTER_API,
            "NodePool",
            kube_object(KARPENTER_API, "NodePool", &n.value.metadata, &n.value.spec),
        )
    });
    for (_, kind, obj) in classes.chain(pools) {
        let n = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let key = format!("{kind}/{n}");
        desired_keys.insert(key.clone());
        let rotates = risk(RiskKind::NodesRotated, format!("nodes launched from this {kind} drift and are replaced by Karpenter, within disruption budgets"));
        match live.get(&key) {
            None => cx.steps.push(Step {
                resource: res(kind, &n),
                action: Action::Create,
                changes: Vec::new(),
                risks: Vec::new(),
                reason: None,
                ops: vec![Op::KubeApply { object: obj }],
            }),
            Some(l) => {
                let changes = changes_of(&kube_owned_view(l), &kube_owned_view(&obj));
                if !changes.is_empty() {
                    let spec_changed = changes.iter().any(|ch| ch.path.starts_with("spec"));
                    cx.steps.push(Step {
                        resource: res(kind, &n),
                        action: Action::Update,
                        changes,
                        risks: if spec_changed {
                            vec![rotates]
                        } else {
                            Vec::new()
                        },
                        reason: None,
                        ops: vec![Op::KubeApply { object: obj }],
                    });
                }
            }
        }
    }
    // Prune: NodePools before NodeClasses (a class in use cannot go first).
    let mut prune: Vec<(&String, &Value)> = live
        .iter()
        .filter(|(k, _)| !desired_keys.contains(*k))
        .collect();
    prune.sort_by_key(|(k, _)| if k.starts_with("NodePool/") { 0 } else { 1 });
    for (key, obj) in prune {
        let (kind, n) = key.split_once('/').unwrap_or(("", key));
        let api = obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        cx.steps.push(pruned(
            kind,
            n,
            format!("nodes of this {kind} are drained and terminated"),
            Op::KubeDelete {
                api_version: api,
                kind: kind.to_string(),
                name: n.to_string(),
            },
        ));
    }
}

fn plan_removed_cluster(o: &ObservedCluster, allowed: bool) -> ClusterPlan {
    let name = o.cluster.name.clone();
    let mut plan = ClusterPlan {
        name: name.clone(),
        region: o.cluster.region.clone(),
        exists: true,
        fingerprint: fingerprint(Some(o)),
        waits: Vec::new(),
        blocked: Vec::new(),
        held: Vec::new(),
        steps: Vec::new(),
        notes: Vec::new(),
    };
    if o.cluster.status == Status::Deleting {
        plan.notes.push("being deleted".into());
        return plan;
    }
    if !allowed {
        plan.notes.push("this cluster was created by keelson and is no longer in git; it is kept because the Fleet policy does not allow deletion (spec.policy.allowClusterDeletion)".into());
        return plan;
    }
    let destroy = risk(
        RiskKind::Destructive,
        "the cluster and everything running in it are destroyed",
    );
    let mut ops: Vec<Op> = Vec::new();
    for n in o.node_groups.keys() {
        ops.push(Op::DeleteNodegroup { name: n.clone() });
    }
    for n in o.fargate_profiles.keys() {
        ops.push(Op::DeleteFargateProfile { name: n.clone() });
    }
    if o.cluster.deletion_protection {
        ops.push(Op::UpdateClusterConfig {
            change: ClusterConfigUpdate::DeletionProtection { enabled: false },
        });
    }
    ops.push(Op::DeleteCluster);
    plan.steps.push(Step {
        resource: res("Cluster", &name),
        action: Action::Delete,
        changes: Vec::new(),
        risks: vec![
            destroy,
            risk(
                RiskKind::Irreversible,
                "a deleted cluster cannot be restored",
            ),
        ],
        reason: Some("no longer in git, and the Fleet policy allows deletion".into()),
        ops,
    });
    plan
}
