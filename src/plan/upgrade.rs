//! Version hops and their gates: pure functions the planner and `keelson check` share.
//!
//! ```text
//!  live minor ─► hop (one minor) ─► gates: removed APIs · insights · add-ons · node groups
//!                                          · kubelet skew · support calendar · signals read
//!                                   └─► stage: earlier stages completed the same transition
//!                                        (EKS cluster tags) and soaked
//! ```
//!
//! A failing gate blocks the cluster with what to change and where; a stage that has not
//! finished or soaked holds the hop (and the ones after it) without an error.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{compatible_with, hop_version_request, resolve_addon_version};
use crate::config::{ClusterConfig, Repo};
use crate::deprecations::table::{ApiTable, Status as ApiStatus, Targets};
use crate::model::live::*;
use crate::model::{AddonDoc, FleetPolicy};
use crate::versions::{self, Calendar, Date, Minor};

mod helm;
mod records;
mod support;
pub use helm::helm_gate;
pub use records::*;
use records::{addons_digest, key_suffix};
pub use support::support_gate;

/// The gates a hop passes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Gate {
    /// The upgrade signals could be read.
    Signals,
    /// No manifest, Helm release or live object uses an API the target removed.
    RemovedApis,
    /// No deployed Helm chart declares a `kubeVersion` that excludes the target.
    HelmKubeVersion,
    /// No EKS upgrade insight in ERROR for the target.
    Insights,
    /// Every add-on has a version that supports the target.
    Addons,
    /// Managed node groups are at the control plane's minor before it moves.
    NodeGroups,
    /// Self-managed kubelets stay within the policy's skew after the hop.
    KubeletSkew,
    /// Where the target stands in the EKS support calendar.
    Support,
    /// Earlier stages completed the same transition and soaked.
    Stage,
}

impl Gate {
    /// Every gate.
    pub const ALL: &'static [Gate] = &[
        Gate::Signals,
        Gate::RemovedApis,
        Gate::HelmKubeVersion,
        Gate::Insights,
        Gate::Addons,
        Gate::NodeGroups,
        Gate::KubeletSkew,
        Gate::Support,
        Gate::Stage,
    ];

    /// The gate of a name.
    pub fn parse(s: &str) -> Option<Gate> {
        Gate::ALL.iter().copied().find(|g| g.as_str() == s)
    }

    /// The name used in every output.
    pub fn as_str(self) -> &'static str {
        match self {
            Gate::Signals => "signals",
            Gate::RemovedApis => "removed-apis",
            Gate::HelmKubeVersion => "helm-kube-version",
            Gate::Insights => "insights",
            Gate::Addons => "addons",
            Gate::NodeGroups => "node-groups",
            Gate::KubeletSkew => "kubelet-skew",
            Gate::Support => "support",
            Gate::Stage => "stage",
        }
    }
}

/// How a gate came out, mildest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Nothing in the way.
    Pass,
    /// Worth knowing; does not stop the hop.
    Warn,
    /// Not yet: an earlier stage has not finished or soaked.
    Hold,
    /// Stops the hop until something is changed.
    Fail,
}

/// One gate's verdict and its findings, each saying what to change and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateResult {
    /// The gate.
    pub gate: Gate,
    /// Verdict.
    pub outcome: Outcome,
    /// Findings (empty when the gate passes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
}

/// An add-on version change a hop makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddonMove {
    /// Add-on name.
    pub name: String,
    /// Version now.
    pub from: String,
    /// Version after the hop.
    pub to: String,
    /// Whether it moves before the control plane: `to` also runs on the minor the hop
    /// starts from (AWS's advice since 2026, `rollback-cluster-upgrades`: add-ons first,
    /// at a version compatible with both minors, keeps a rollback cheap). Otherwise it
    /// moves right after the control plane.
    #[serde(default)]
    pub before: bool,
}

impl AddonMove {
    /// Why it moves where it does, for the plan.
    pub fn why(&self, from: &str, to: &str) -> String {
        if self.before {
            format!(
                "{} does not support Kubernetes {to}; {} runs on both {from} and {to}, so it moves before the control plane",
                self.from, self.to
            )
        } else {
            format!(
                "{} does not support Kubernetes {to}; no version runs on both {from} and {to} (DescribeAddonVersions), so it moves after the control plane",
                self.from
            )
        }
    }
}

/// Everything known about one hop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HopCheck {
    /// Minor before.
    pub from: String,
    /// Minor after.
    pub to: String,
    /// Each gate's verdict.
    pub gates: Vec<GateResult>,
    /// Add-ons the hop moves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(alias = "addon_moves")]
    pub addon_moves: Vec<AddonMove>,
    /// Node groups the hop moves (they follow the cluster's version).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(alias = "node_group_moves")]
    pub node_group_moves: Vec<String>,
    /// Unpinned node groups behind `from` that are brought to it before the control plane
    /// moves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(alias = "node_group_catch_up")]
    pub node_group_catch_up: Vec<String>,
    /// Add-on versions once the hop is done (the transition record's content).
    #[serde(alias = "addons_after")]
    pub addons_after: BTreeMap<String, String>,
}

impl HopCheck {
    /// The worst verdict.
    pub fn outcome(&self) -> Outcome {
        self.gates
            .iter()
            .map(|g| g.outcome)
            .max()
            .unwrap_or(Outcome::Pass)
    }

    /// Findings of gates with `outcome`.
    pub fn findings(&self, outcome: Outcome) -> Vec<String> {
        self.gates
            .iter()
            .filter(|g| g.outcome == outcome)
            .flat_map(|g| g.findings.iter().cloned())
            .collect()
    }
}

/// What a hop is judged with.
#[derive(Clone, Copy)]
pub struct HopInput<'a> {
    /// The cluster's documents.
    pub cluster: &'a ClusterConfig,
    /// Its live state.
    pub live: &'a ObservedCluster,
    /// The whole repository (for stages).
    pub repo: &'a Repo,
    /// Every observed cluster (earlier stages' transition records).
    pub fleet_live: &'a LiveState,
    /// The deprecated-API table the removed-APIs gate judges with (the built-in one, or
    /// extended with `--extra-rules`).
    pub apis: &'a ApiTable,
    /// Fleet policy.
    pub policy: &'a FleetPolicy,
    /// Now, seconds since the epoch (virtual on the simulator).
    pub now: i64,
}

fn gate(gate: Gate, outcome_if_any: Outcome, findings: Vec<String>) -> GateResult {
    GateResult {
        gate,
        outcome: if findings.is_empty() {
            Outcome::Pass
        } else {
            outcome_if_any
        },
        findings,
    }
}

/// Judge the hop `from → to`, with add-on and node-group versions as they stand before it.
/// `first` says whether `from` is the live version (EKS insights speak about the next minor
/// only).
pub fn check_hop(
    input: HopInput<'_>,
    from: Minor,
    to: Minor,
    addons_before: &BTreeMap<String, String>,
    node_groups_before: &BTreeMap<String, String>,
    first: bool,
) -> HopCheck {
    let mut gates = vec![
        signals_gate(input.live),
        removed_apis_gate(input, to),
        helm_gate(input.live, from, to),
        insights_gate(input.live, to, first),
    ];
    let (addons, addon_moves, addons_after) = addons_gate(input, from, to, addons_before);
    gates.push(addons);
    let (ngs, node_group_moves, node_group_catch_up) =
        node_groups_gate(input, from, to, node_groups_before);
    gates.push(ngs);
    gates.push(kubelet_gate(input, to));
    gates.push(support_gate(
        to,
        Date::from_unix(input.now),
        &Calendar::from_target(&input.fleet_live.cluster_versions)
            .unwrap_or_else(Calendar::builtin),
    ));
    gates.push(stage_gate(input, from, to, &addons_after));
    HopCheck {
        from: from.to_string(),
        to: to.to_string(),
        gates,
        addon_moves,
        node_group_moves,
        node_group_catch_up,
        addons_after,
    }
}

fn signals_gate(live: &ObservedCluster) -> GateResult {
    let findings = match &live.upgrade {
        None => vec!["the upgrade signals (insights, Helm releases, live objects, nodes) were not read; plan again".into()],
        Some(s) => s
            .unreadable
            .iter()
            .map(|u| format!("could not read {u}; keelson needs read access to the cluster to judge an upgrade (an access entry with AmazonEKSViewPolicy, or an equivalent RBAC role), then plan again"))
            .collect(),
    };
    gate(Gate::Signals, Outcome::Fail, findings)
}

fn removed_apis_gate(input: HopInput<'_>, to: Minor) -> GateResult {
    let apis = input.apis;
    let targets = Targets::kubernetes(to);
    let mut fail = Vec::new();
    let mut warn = Vec::new();
    let instead = |r: Option<&str>| match r {
        Some(r) => format!("change it to {r}"),
        None => format!("no replacement is served at {to}: remove it"),
    };
    for m in &input.cluster.manifests {
        let Some(v) = apis
            .classify(&m.api_version, &m.kind, &targets)
            .filter(|v| v.entry.component.is_none())
        else {
            continue;
        };
        let what = match &m.name {
            Some(n) => format!("{} {n}", m.kind),
            None => m.kind.clone(),
        };
        let removed_in = v
            .entry
            .removed_in
            .map(|r| r.to_string())
            .unwrap_or_default();
        match v.status {
            ApiStatus::Removed => fail.push(format!(
                "{}:{}: {what} uses {}, which Kubernetes {to} no longer serves (removed in {removed_in}); {}, then plan the upgrade again",
                m.origin.file,
                m.origin.line,
                m.api_version,
                instead(v.replacement)
            )),
            ApiStatus::Deprecated => warn.push(format!(
                "{}:{}: {what} uses {}, deprecated in {}{}; {}",
                m.origin.file,
                m.origin.line,
                m.api_version,
                v.entry.deprecated_in.map(|d| d.to_string()).unwrap_or_default(),
                if removed_in.is_empty() { String::new() } else { format!(" and removed in {removed_in}") },
                instead(v.replacement)
            )),
        }
    }
    if let Some(signals) = &input.live.upgrade {
        for u in &signals.api_uses {
            let Some(v) = apis
                .classify(&u.api_version, &u.kind, &targets)
                .filter(|v| v.entry.component.is_none() && v.status == ApiStatus::Removed)
            else {
                continue;
            };
            let object = match (&u.namespace, &u.name) {
                (Some(ns), Some(n)) => format!("{} {ns}/{n}", u.kind),
                (None, Some(n)) => format!("{} {n}", u.kind),
                _ => u.kind.clone(),
            };
            let removed_in = v
                .entry
                .removed_in
                .map(|r| r.to_string())
                .unwrap_or_default();
            let what_to_do = match u.signal.as_str() {
                "helm-manifest" | "helm-hook" => format!(
                    "upgrade the release to a chart version that uses {} (helm upgrade), then plan again",
                    v.replacement.unwrap_or("a served API")
                ),
                _ => format!(
                    "whatever writes it (a pipeline, a controller) still sends {}; {} there and re-apply, then plan again",
                    u.api_version,
                    instead(v.replacement)
                ),
            };
            fail.push(format!(
                "{} ({}): {object} uses {}, which Kubernetes {to} no longer serves (removed in {removed_in}); {what_to_do}",
                u.source, u.signal, u.api_version
            ));
        }
    }
    if fail.is_empty() {
        gate(Gate::RemovedApis, Outcome::Warn, warn)
    } else {
        fail.extend(warn);
        gate(Gate::RemovedApis, Outcome::Fail, fail)
    }
}

fn insights_gate(live: &ObservedCluster, to: Minor, first: bool) -> GateResult {
    let Some(signals) = live.upgrade.as_ref().filter(|_| first) else {
        return gate(Gate::Insights, Outcome::Pass, Vec::new());
    };
    let to_s = to.to_string();
    let about_target = |i: &&Insight| {
        i.kubernetes_version.as_deref().is_none_or(|v| v == to_s)
            && i.category.eq_ignore_ascii_case("UPGRADE_READINESS")
    };
    let describe = |i: &Insight| {
        let mut s = format!("EKS insight \"{}\" ({}): {}", i.name, i.id, i.reason);
        if let Some(r) = &i.recommendation {
            s.push_str(&format!("; {r}"));
        }
        for (usage, replacement) in &i.deprecations {
            s.push_str(&format!("; {usage} → {replacement}"));
        }
        s
    };
    let errors: Vec<String> = signals
        .insights
        .iter()
        .filter(about_target)
        .filter(|i| i.status == InsightStatus::Error)
        .map(describe)
        .collect();
    if !errors.is_empty() {
        return gate(Gate::Insights, Outcome::Fail, errors);
    }
    let warnings = signals
        .insights
        .iter()
        .filter(about_target)
        .filter(|i| i.status == InsightStatus::Warning)
        .map(describe)
        .collect();
    gate(Gate::Insights, Outcome::Warn, warnings)
}

type AddonsVerdict = (GateResult, Vec<AddonMove>, BTreeMap<String, String>);

fn addons_gate(
    input: HopInput<'_>,
    from: Minor,
    to: Minor,
    before: &BTreeMap<String, String>,
) -> AddonsVerdict {
    let to_s = to.to_string();
    let from_s = from.to_string();
    let mut after = before.clone();
    let mut moves = Vec::new();
    let mut fail = Vec::new();
    let docs: BTreeMap<&str, &AddonDoc> = input
        .cluster
        .addons
        .iter()
        .map(|a| (a.value.metadata.name.as_str(), &a.value))
        .collect();
    for (name, current) in before {
        let catalog = input
            .fleet_live
            .addon_versions
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if compatible_with(catalog, current, &to_s) {
            continue;
        }
        let Some(doc) = docs.get(name.as_str()) else {
            fail.push(format!(
                "add-on {name} {current} (not in git) does not support Kubernetes {to}; add an Addon document for it so keelson moves it, or update it yourself, then plan again"
            ));
            continue;
        };
        match resolve_addon_version(catalog, &hop_version_request(&doc.spec.version), &to_s) {
            Ok(v) => {
                // A version that runs on both `from` and `to` goes first: the one git's
                // request picks when it does, else the newest that does.
                let both: Vec<_> = catalog
                    .iter()
                    .filter(|a| {
                        compatible_with(catalog, &a.version, &from_s)
                            && compatible_with(catalog, &a.version, &to_s)
                            && crate::versions::version_key(&a.version)
                                >= crate::versions::version_key(current)
                    })
                    .cloned()
                    .collect();
                let early = if both.iter().any(|a| a.version == v) {
                    Some(v.clone())
                } else {
                    resolve_addon_version(&both, "latest", &to_s).ok()
                };
                let (v, early) = match early {
                    Some(b) => (b, true),
                    None => (v, false),
                };
                moves.push(AddonMove {
                    name: name.clone(),
                    from: current.clone(),
                    to: v.clone(),
                    before: early,
                });
                after.insert(name.clone(), v);
            }
            Err(e) => fail.push(format!("add-on {name} cannot move to Kubernetes {to}: {e}")),
        }
    }
    (gate(Gate::Addons, Outcome::Fail, fail), moves, after)
}

type NodeGroupsVerdict = (GateResult, Vec<String>, Vec<String>);

fn node_groups_gate(
    input: HopInput<'_>,
    from: Minor,
    to: Minor,
    before: &BTreeMap<String, String>,
) -> NodeGroupsVerdict {
    let mut fail = Vec::new();
    let mut moves = Vec::new();
    let mut catch_up = Vec::new();
    // A baking stage leaves its node groups at `from` after the hop (plan/bake.rs); they
    // catch up before the next one.
    let bakes = super::bake::of(input.repo, input.cluster).is_some();
    let pinned: BTreeMap<&str, Option<&String>> = input
        .cluster
        .node_groups
        .iter()
        .map(|n| {
            (
                n.value.metadata.name.as_str(),
                n.value.spec.version.as_ref(),
            )
        })
        .collect();
    for (name, version) in before {
        let Ok(v) = version.parse::<Minor>() else {
            continue;
        };
        let pin = pinned.get(name.as_str()).copied().flatten();
        match pin {
            Some(p) => {
                if v < from {
                    fail.push(format!(
                        "node group {name} is pinned at {p} (spec.version) and runs {v}, behind the control plane's {from}; EKS upgrades the control plane only when managed node groups match it: set its version to \"{from}\" or remove the pin, then plan again"
                    ));
                }
            }
            None if !pinned.contains_key(name.as_str()) => {
                if v < from {
                    fail.push(format!(
                        "node group {name} (not in git) runs {v}, behind the control plane's {from}; EKS upgrades the control plane only when managed node groups match it: update it or add it to git"
                    ));
                }
            }
            None => {
                if v < from {
                    catch_up.push(name.clone());
                }
                if v < to && !bakes {
                    moves.push(name.clone());
                }
            }
        }
    }
    (gate(Gate::NodeGroups, Outcome::Fail, fail), moves, catch_up)
}

fn kubelet_gate(input: HopInput<'_>, to: Minor) -> GateResult {
    let skew = i64::from(input.policy.max_kubelet_skew);
    let mut fail = Vec::new();
    if let Some(s) = &input.live.upgrade {
        for (node, v) in &s.self_managed_nodes {
            let Ok(m) = v.parse::<Minor>() else {
                continue;
            };
            let behind = to.minors_after(m);
            if behind > skew {
                fail.push(format!(
                    "self-managed node {node} runs kubelet {m}, {behind} minors behind {to} after this hop; the Fleet policy allows {skew} (spec.policy.maxKubeletSkew): replace the node with one built for a newer minor first"
                ));
            } else if behind < 0 {
                fail.push(format!(
                    "self-managed node {node} runs kubelet {m}, newer than the control plane {to} would be; kubelets may not be newer than the API server"
                ));
            }
        }
    }
    gate(Gate::KubeletSkew, Outcome::Fail, fail)
}

/// The readiness of one cluster for the path from its live version to `to`: every hop
/// judged, as if the hops before it had been made (add-ons and node groups moved).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Readiness {
    /// Cluster.
    pub cluster: String,
    /// Its stage.
    pub stage: String,
    /// Live minor.
    #[serde(alias = "live_version")]
    pub live_version: String,
    /// Target minor.
    pub target: String,
    /// The hops, in order.
    pub hops: Vec<HopCheck>,
}

impl Readiness {
    /// The worst verdict over every hop.
    pub fn outcome(&self) -> Outcome {
        self.hops
            .iter()
            .map(HopCheck::outcome)
            .max()
            .unwrap_or(Outcome::Pass)
    }
}

/// Add-on versions and node-group minors of a live cluster, by name: what the first hop
/// starts from.
pub fn live_versions(
    live: &ObservedCluster,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let addons = live
        .addons
        .iter()
        .map(|(k, a)| (k.clone(), a.version.clone()))
        .collect();
    let node_groups = live
        .node_groups
        .iter()
        .map(|(k, n)| (k.clone(), n.spec.version.clone().unwrap_or_default()))
        .collect();
    (addons, node_groups)
}

/// Judge every hop from the live version to `to`.
pub fn readiness(input: HopInput<'_>, to: Minor) -> Readiness {
    let live = &input.live.cluster;
    let (mut addons, mut node_groups) = live_versions(input.live);
    let mut hops = Vec::new();
    if let Ok(start) = live.version.parse::<Minor>() {
        // An unreachable target (another major, a typo's worth of minors) has no hops to
        // judge; `keelson check` refuses it before asking.
        let path = versions::hop_path(start, to).unwrap_or_default();
        let mut from = start;
        let mut first = true;
        for next in path {
            let check = check_hop(input, from, next, &addons, &node_groups, first);
            addons = check.addons_after.clone();
            for n in check
                .node_group_moves
                .iter()
                .chain(&check.node_group_catch_up)
            {
                node_groups.insert(n.clone(), next.to_string());
            }
            hops.push(check);
            first = false;
            from = next;
        }
    }
    Readiness {
        cluster: input.cluster.name().to_string(),
        stage: input.cluster.cluster.value.spec.stage.clone(),
        live_version: live.version.clone(),
        target: to.to_string(),
        hops,
    }
}

// ───────────────────────────── stages ─────────────────────────────

/// The stage gate: every cluster of an earlier stage completed `from → to` with the same
/// add-on versions (on the add-ons both have) and soaked for its stage's `soak`.
///
/// Every earlier-stage cluster must hold the record: one that is in the middle of this
/// hop (its `keelson.dev/upgrading` tag; the record is written only after its add-ons and
/// node groups followed; node groups of a baking stage follow later, plan/bake.rs), failed part-way, or runs past `to` without a record (created
/// later, upgraded outside keelson, or a crash between the control plane and the record)
/// holds the later stages. The way out for a cluster that really has no record to give is
/// explicit and kept in git: the annotation [`WAIVE_ANNOTATION`] on its Cluster document,
/// listing the transitions (`1.34-1.35`, comma-separated) it cannot vouch for; the plan
/// shows every waiver it used.
pub fn stage_gate(
    input: HopInput<'_>,
    from: Minor,
    to: Minor,
    addons_after: &BTreeMap<String, String>,
) -> GateResult {
    let Some(fleet) = &input.repo.fleet else {
        return gate(Gate::Stage, Outcome::Pass, Vec::new());
    };
    let stages = &fleet.value.spec.stages;
    let rank = |s: &str| stages.iter().position(|st| st.name == s);
    let Some(mine) = rank(&input.cluster.cluster.value.spec.stage) else {
        return gate(Gate::Stage, Outcome::Pass, Vec::new());
    };
    let key = transition_key(&from.to_string(), &to.to_string());
    let mut holds = Vec::new();
    let mut waivers = Vec::new();
    for c in &input.repo.clusters {
        let spec = &c.cluster.value.spec;
        let Some(r) = rank(&spec.stage).filter(|r| *r < mine) else {
            continue;
        };
        let stage = &stages[r];
        let soak = stage
            .soak
            .as_ref()
            .map_or(0, crate::model::Duration::secs_i64);
        let name = c.name();
        let Some(live) = input.fleet_live.clusters.get(name) else {
            holds.push(format!(
                "waiting for stage {}: cluster {name} does not exist yet, so it has not run {from}→{to}",
                stage.name
            ));
            continue;
        };
        if let Some((hf, ht)) = in_progress_hop(&live.cluster.tags).filter(|(_, ht)| *ht <= to) {
            holds.push(format!(
                "waiting for stage {}: cluster {name} is in the middle of {hf}→{ht} (or stopped part-way through it); it counts once its add-ons and node groups followed and its record is written: run keelson apply --cluster {name}",
                stage.name
            ));
            continue;
        }
        let record = live
            .cluster
            .tags
            .get(&key)
            .and_then(|v| parse_transition(v));
        let Some(record) = record else {
            let live_v = live.cluster.version.parse::<Minor>().ok();
            let desired = spec.version.parse::<Minor>().ok();
            if live_v.is_some_and(|v| v >= to) {
                let waived = c
                    .cluster
                    .value
                    .metadata
                    .annotations
                    .get(WAIVE_ANNOTATION)
                    .is_some_and(|list| list.split(',').any(|t| t.trim() == key_suffix(&key)));
                if waived {
                    waivers.push(format!(
                        "cluster {name} (stage {}) runs {} with no record of {from}→{to}; waived by its {WAIVE_ANNOTATION} annotation in {}",
                        stage.name, live.cluster.version, c.cluster.origin.file
                    ));
                } else {
                    holds.push(format!(
                        "waiting for stage {}: cluster {name} runs {} but holds no record of completing {from}→{to} under keelson (created later, upgraded outside keelson, or stopped before its record was written); finish it with keelson apply --cluster {name}, or if it cannot give one, waive it in git: annotate its Cluster with {WAIVE_ANNOTATION}: \"{from}-{to}\"",
                        stage.name, live.cluster.version
                    ));
                }
                continue;
            }
            let why = if desired.is_some_and(|d| d < to) {
                format!(
                    "its version in git is {} (raise it to {to} or later to run the transition there first)",
                    spec.version
                )
            } else {
                format!("it runs {}", live.cluster.version)
            };
            holds.push(format!(
                "waiting for stage {}: cluster {name} has not completed {from}→{to} yet; {why}",
                stage.name
            ));
            continue;
        };
        let mismatch: Vec<String> = match &record.addons_digest {
            Some(d) => {
                if *d == addons_digest(addons_after) {
                    Vec::new()
                } else {
                    vec!["the add-on versions differ".to_string()]
                }
            }
            None => addons_after
                .iter()
                .filter_map(|(a, v)| {
                    let theirs = record.addons.get(a)?;
                    (theirs != v).then(|| format!("{a} ran {theirs} there, would be {v} here"))
                })
                .collect(),
        };
        if !mismatch.is_empty() {
            holds.push(format!(
                "cluster {name} (stage {}) completed {from}→{to} with other add-on versions: {}; pin those versions in git, or run the same transition in stage {} first",
                stage.name,
                mismatch.join(", "),
                stage.name
            ));
            continue;
        }
        let ready_at = record.at + soak;
        if input.now < ready_at {
            holds.push(format!(
                "stage {} is soaking: cluster {name} completed {from}→{to} at {}; the soak of {} ends {}",
                stage.name,
                versions::utc_minute(record.at),
                stage.soak.as_ref().map_or("0s", crate::model::Duration::as_str),
                versions::utc_minute(ready_at)
            ));
        }
    }
    if holds.is_empty() && !waivers.is_empty() {
        // Let through on waivers written in git: shown on every plan that uses them.
        return GateResult {
            gate: Gate::Stage,
            outcome: Outcome::Warn,
            findings: waivers,
        };
    }
    gate(Gate::Stage, Outcome::Hold, holds)
}
