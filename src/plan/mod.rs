//! The planner: `plan(desired, live, options) -> Plan`, a pure function.
//!
//! ```text
//!  Repo (desired) ─┐
//!                  ├─► per cluster: cluster.rs → hops.rs (control plane → add-ons → node groups)
//!  LiveState ──────┘     → access.rs, pod_identity.rs, fargate.rs → addons.rs → node_groups.rs
//!                        → kube.rs (NodeClass → NodePool → classes) → bootstrap.rs
//!                        → removed.rs (cluster delete)
//!                        → fingerprint.rs (what the plan read, for `apply --plan`)
//! ```
//!
//! Every step carries the operations that carry it out, so a saved plan can be applied
//! as it is. Fields AWS manages itself (status, platform version, ARNs, the autoscaled
//! desired size, `aws:` tags, add-on defaults) are never compared. The types of the plan
//! file are in `types.rs`, the diff helpers in `diff.rs`, add-on version keywords in
//! `resolve.rs`.

mod access;
mod addons;
mod adoption;
mod bake;
mod bootstrap;
mod cluster;
mod consolidation;
mod diff;
mod fargate;
mod fields;
mod fingerprint;
mod hops;
mod kube;
mod node_groups;
mod pod_identity;
mod removed;
pub mod render;
mod resolve;
mod rollback;
pub(crate) mod skipped;
mod types;
pub mod upgrade;

use std::collections::{BTreeMap, BTreeSet};

pub use diff::diff;
pub use fingerprint::{digest, fingerprint, moved_since};
pub use resolve::resolve_addon_version;
pub use types::*;

pub(crate) use bootstrap::{
    crd_versions, inventory_kinds, step_name, BASE_GROUP_VERSIONS, INVENTORY, INVENTORY_LABEL,
};
pub(crate) use consolidation::{DEFAULT_CONSOLIDATE_AFTER, DEFAULT_CONSOLIDATION};
pub(crate) use kube::immutable_change;

use crate::config::{ClusterConfig, Repo};
use crate::deprecations::table::ApiTable;
use crate::model::live::*;
use crate::model::*;
use diff::created_by;
use fingerprint::token;
use resolve::{compatible_with, hop_version_request};

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
    let shared = Shared {
        fleet: &fleet,
        repo,
        fleet_live: live,
        apis: &opts.apis,
        policy: &policy,
        now: opts.now,
        ignore: &opts.ignore_gates,
    };
    let chosen: Vec<&ClusterConfig> = repo
        .clusters
        .iter()
        .filter(|c| selected(c.name()))
        .collect();
    // Each cluster's plan depends only on the shared inputs: any thread may make it.
    let mut clusters = crate::par::map_indexed(chosen.len(), 0, |i| {
        let c = chosen[i];
        plan_cluster(&shared, c, live.clusters.get(c.name()))
    });
    for c in &mut clusters {
        if let Some(why) = live.unreadable.get(&c.name) {
            unreadable(c, why);
        }
    }
    let desired: BTreeSet<&str> = repo.clusters.iter().map(ClusterConfig::name).collect();
    for (name, o) in &live.clusters {
        if desired.contains(name.as_str()) || !selected(name) {
            continue;
        }
        if !created_by(&o.cluster.tags, &fleet) {
            continue;
        }
        clusters.push(removed::plan_removed_cluster(
            o,
            policy.allow_cluster_deletion,
        ));
    }
    clusters.sort_by(|a, b| a.name.cmp(&b.name));
    let summary = summarize(&clusters);
    Plan {
        format: PLAN_FORMAT.into(),
        version: PLAN_VERSION,
        created_at: opts.now,
        fleet,
        clusters,
        summary,
        source: None,
    }
}

/// A cluster whose live state could not be read, or must not be (its account is not the
/// one reached): nothing is planned for it (not even a create: it may well exist), and the
/// reason blocks it.
fn unreadable(c: &mut ClusterPlan, why: &str) {
    c.steps.clear();
    c.waits.clear();
    c.held.clear();
    c.blocked = vec![Blocker {
        resource: ResourceRef {
            kind: Kind::Cluster,
            name: c.name.clone(),
        },
        message: format!("nothing is planned for this cluster: {why}"),
    }];
}

fn summarize(clusters: &[ClusterPlan]) -> Summary {
    let mut summary = Summary::default();
    for c in clusters {
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
    summary
}

/// What every cluster's plan reads besides its own documents and live state.
struct Shared<'a> {
    fleet: &'a str,
    repo: &'a Repo,
    fleet_live: &'a LiveState,
    apis: &'a ApiTable,
    policy: &'a FleetPolicy,
    now: i64,
    ignore: &'a BTreeSet<upgrade::Gate>,
}

/// One cluster's plan while it is being built.
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
    /// Add the marker to resources git declares that lack it (Fleet
    /// `policy.adoptUnmanaged`, or the Cluster's `keelson.dev/adopt` annotation).
    adopt: bool,
    /// What git declares that keelson did not create: adopted by this plan, or left
    /// unmanaged.
    adoption: adoption::Adoption,
}

/// A live resource git no longer has, as the prune helper sees it.
struct Orphan<'l> {
    kind: Kind,
    name: String,
    /// Its tags, read for this fleet's marker (`None`: listed by keelson's label, so
    /// it is keelson's).
    tags: Option<&'l Tags>,
    /// Already being deleted: nothing to do.
    deleting: bool,
    /// What deleting it destroys.
    consequence: String,
    /// The call that deletes it.
    op: Op,
    /// The note for one keelson did not create (`None`: say nothing).
    left_alone: Option<String>,
}

impl<'l> Orphan<'l> {
    fn new(
        kind: Kind,
        name: &str,
        tags: Option<&'l Tags>,
        op: Op,
        consequence: impl Into<String>,
    ) -> Orphan<'l> {
        Orphan {
            kind,
            name: name.to_string(),
            tags,
            deleting: false,
            consequence: consequence.into(),
            op,
            left_alone: None,
        }
    }

    /// The same, skipped while the resource is already being deleted.
    fn unless_deleting(mut self, status: Status) -> Orphan<'l> {
        self.deleting = status == Status::Deleting;
        self
    }

    /// The same, with a note when keelson did not create it.
    fn or_note(mut self, note: String) -> Orphan<'l> {
        self.left_alone = Some(note);
        self
    }
}

impl Ctx<'_> {
    fn block(&mut self, kind: Kind, name: &str, message: impl Into<String>) {
        self.blocked.push(Blocker {
            resource: ResourceRef {
                kind,
                name: name.to_string(),
            },
            message: message.into(),
        });
    }

    /// Tag/untag ops that bring a resource's live tags to git's, with this fleet's marker
    /// when the resource is keelson's or adopted; `what` names it (`Addon vpc-cni`).
    fn tag_ops(
        &mut self,
        what: (Kind, &str),
        arn: &str,
        live: &Tags,
        desired: &Tags,
        changes: &mut Vec<Change>,
    ) -> Vec<Op> {
        self.adoption
            .see(what, diff::created_by(live, self.fleet), self.adopt);
        diff::tag_ops(arn, live, desired, (self.fleet, self.adopt), changes)
    }

    /// An update step, when it has calls to make.
    fn update(&mut self, kind: Kind, name: &str, changes: Vec<Change>, ops: Vec<Op>) {
        if !ops.is_empty() {
            self.steps.push(Step::update(kind, name, changes, ops));
        }
    }

    /// What the version hops planned so far move resources of `kind` to (name → version),
    /// read from each step's first call.
    fn hopped(
        &self,
        kind: Kind,
        moved: impl Fn(&Op) -> Option<(String, String)>,
    ) -> BTreeMap<String, String> {
        self.steps
            .iter()
            .filter(|s| s.resource.kind == kind)
            .filter_map(|s| s.ops.first().and_then(&moved))
            .collect()
    }

    /// Delete what git no longer has and this fleet created; note what it did not create.
    /// `live` is walked in order (the order deletes run in); `desired` are the keys git
    /// has.
    fn prune<'l, T: 'l>(
        &mut self,
        live: impl IntoIterator<Item = (&'l String, &'l T)>,
        desired: impl IntoIterator<Item = impl AsRef<str>>,
        orphan: impl Fn(&'l str, &'l T) -> Orphan<'l>,
    ) {
        let desired: BTreeSet<String> = desired
            .into_iter()
            .map(|k| k.as_ref().to_string())
            .collect();
        for (key, l) in live {
            if desired.contains(key) {
                continue;
            }
            let o = orphan(key, l);
            if o.deleting {
                continue;
            }
            if o.tags.is_none_or(|t| created_by(t, self.fleet)) {
                self.steps.push(
                    Step::delete(o.kind, &o.name, vec![o.op])
                        .risk(RiskKind::Destructive, o.consequence)
                        .because("no longer in git"),
                );
            } else if let Some(note) = o.left_alone {
                self.notes.push(note);
            }
        }
    }
}

fn plan_cluster<'a>(
    shared: &'a Shared<'a>,
    c: &'a ClusterConfig,
    live: Option<&'a ObservedCluster>,
) -> ClusterPlan {
    let mut cx = Ctx {
        fleet: shared.fleet,
        catalog: &shared.fleet_live.addon_versions,
        shared,
        name: c.name(),
        live,
        steps: Vec::new(),
        blocked: Vec::new(),
        held: Vec::new(),
        notes: Vec::new(),
        waits: Vec::new(),
        adopt: shared.policy.adopt_unmanaged
            || c.cluster
                .value
                .metadata
                .annotations
                .get(ADOPT_ANNOTATION)
                .map(String::as_str)
                == Some("true"),
        adoption: adoption::Adoption::default(),
    };
    let cp_version = cluster::plan_control_plane(&mut cx, c);
    if cx.blocked.iter().any(|b| b.resource.kind == Kind::Cluster) {
        return finish(cx, c, live);
    }
    access::plan_access(&mut cx, c);
    pod_identity::plan_pod_identities(&mut cx, c);
    fargate::plan_fargate(&mut cx, c);
    addons::plan_addons(&mut cx, c, &cp_version);
    node_groups::plan_node_groups(&mut cx, c, &cp_version);
    kube::plan_kube(&mut cx, c);
    bootstrap::plan_bootstrap(&mut cx, c);
    finish(cx, c, live)
}

fn finish(mut cx: Ctx<'_>, c: &ClusterConfig, live: Option<&ObservedCluster>) -> ClusterPlan {
    let blocked = !cx.blocked.is_empty();
    cx.notes.extend(cx.adoption.notes());
    let rollback_window_end = live.and_then(|o| rollback::window_end(o, cx.shared.now));
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
        rollback_window_end,
    }
}
