//! Version hops, one minor at a time: each judged by the upgrade gates first, then the
//! control-plane update, the add-ons the new minor needs moved, the node groups that follow
//! the cluster's version, and the record of the transition that later stages wait for.
//!
//! ```text
//!  live 1.32, git 1.34 ─► hop 1.32→1.33 ─► gates ─┬─ fail: blocked
//!                                                 ├─ hold: held (an earlier stage)
//!                                                 └─ pass: tag, UpdateClusterVersion,
//!                                                    add-ons, node groups, record
//!                      ─► hop 1.33→1.34 ─► ...
//! ```

use std::collections::BTreeMap;

use serde_json::json;

use super::diff::version_change;
use super::node_groups::node_version_step;
use super::types::*;
use super::{addons, upgrade, Ctx};
use crate::config::ClusterConfig;
use crate::model::live::*;
use crate::model::*;
use crate::versions::Minor;

/// Plan the hops from `live_version` through `hops` (each one minor above the last);
/// returns the control-plane version the cluster reaches.
pub(super) fn plan_hops(
    cx: &mut Ctx<'_>,
    c: &ClusterConfig,
    o: &ObservedCluster,
    live_version: String,
    hops: &[Minor],
) -> String {
    let name = c.name().to_string();
    let live = &o.cluster;
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
                    cx.block(Kind::Cluster, &name, format!("upgrade {from}→{hop}: {f}"));
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
        let auto = live.auto_mode.as_ref().is_some_and(|a| a.compute.enabled);
        for b in crate::versions::behaviour_changes(*hop, auto) {
            cx.notes.push(format!(
                "upgrade {from}→{hop}: behaviour change: {} (source: {})",
                b.change, b.source
            ));
        }
        super::bake::hop_notes(cx, c, o, &prev, &hop.to_string());
        let hop_s = hop.to_string();
        for n in &check.node_group_catch_up {
            let why = format!(
                "EKS upgrades the control plane only when managed node groups match it: {n} moves to {prev} before {from}→{hop}"
            );
            move_node_group(cx, c, n, &prev, &mut ng_versions, Some(why));
        }
        move_addons(cx, c, &check, true);
        let mut start = Tags::new();
        start.insert(UPGRADING_TAG.to_string(), format!("{from}-{hop}"));
        cx.steps.push(
            Step::update(
                Kind::Cluster,
                &name,
                vec![version_change(&prev, &hop_s)],
                vec![
                    Op::TagResource {
                        arn: live.arn.clone(),
                        tags: start,
                    },
                    Op::UpdateClusterVersion {
                        version: hop_s.clone(),
                    },
                ],
            )
            .risk(
                RiskKind::Irreversible,
                "EKS rolls a control-plane upgrade back only within 7 days of its completion (lower `version` one minor in git then); after that it cannot be undone",
            ),
        );
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
    move_addons(cx, c, check, false);
    for n in &check.node_group_moves {
        move_node_group(cx, c, n, &check.to, ng_versions, None);
    }
}

/// The add-on moves of a hop that go `before` the control plane (or after it), each
/// saying why it goes where it does.
fn move_addons(cx: &mut Ctx<'_>, c: &ClusterConfig, check: &upgrade::HopCheck, before: bool) {
    let name = cx.name.to_string();
    for m in check.addon_moves.iter().filter(|m| m.before == before) {
        let Some(doc) = c.addons.iter().find(|a| a.value.metadata.name == m.name) else {
            continue;
        };
        cx.steps.push(
            Step::update(
                Kind::Addon,
                &m.name,
                vec![version_change(&m.from, &m.to)],
                vec![Op::UpdateAddon(addons::addon_request(
                    &name, &doc.value, &m.to, cx.fleet,
                ))],
            )
            .because(m.why(&check.from, &check.to)),
        );
    }
}

/// Move node group `n` (if git has it) to minor `to`, for `reason` when one is given, and
/// remember where it now stands.
fn move_node_group(
    cx: &mut Ctx<'_>,
    c: &ClusterConfig,
    n: &str,
    to: &str,
    ng_versions: &mut BTreeMap<String, String>,
    reason: Option<String>,
) {
    let Some(ng) = c.node_groups.iter().find(|g| g.value.metadata.name == n) else {
        return;
    };
    let have = ng_versions.get(n).cloned().unwrap_or_default();
    let step = node_version_step(cx.name, n, &have, to, &ng.value.spec, cx.fleet);
    cx.steps.push(match reason {
        Some(r) => step.because(r),
        None => step,
    });
    ng_versions.insert(n.to_string(), to.to_string());
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
    Step::update(
        Kind::Cluster,
        name,
        vec![Change {
            path: format!("tags.{key}"),
            before: None,
            after: Some(json!(upgrade::transition_value(0, &check.addons_after)
                .replacen("t=0", "t=<completion time>", 1))),
        }],
        vec![Op::RecordTransition {
            arn: arn.to_string(),
            from: check.from.clone(),
            to: check.to.clone(),
            addons: check.addons_after.clone(),
            remove,
        }],
    )
    .because(format!(
        "record that {}→{} completed, for the stages after this one",
        check.from, check.to
    ))
}
