//! Rollback as a planned action: `spec.version` lowered one minor in git, within 7 days of
//! the in-place upgrade that raised it, plans EKS's version rollback in the order EKS
//! requires; anything else lowered is blocked with what to do instead.
//!
//! ```text
//!  git N-1, live N ─► prerequisites (rollback-cluster.adoc): the hop's record, 7-day
//!                     window, extended support, Fargate, add-ons, ROLLBACK_READINESS
//!                  ─► managed node groups N → N-1 ─► UpdateClusterVersion N-1
//!                     (VersionRollback; Auto Mode nodes first, by EKS) ─► record
//!  rollback running, git back at N ─► CancelUpdate (Auto Mode node phase only)
//! ```
//!
//! EKS never rolls add-ons back and does not downgrade them in place, so an add-on that
//! does not run on N-1 blocks the rollback with what to do. Self-managed and hybrid nodes
//! are the user's to roll back; the plan says so.

use super::diff::version_change;
use super::node_groups::node_version_step;
use super::types::*;
use super::{addons, compatible_with, resolve_addon_version, upgrade, Ctx};
use crate::config::ClusterConfig;
use crate::model::live::*;
use crate::model::{Kind, SupportType};
use crate::versions::{self, Calendar, Date, Minor, Standing, SupportStatus};

/// The insight category EKS reports for 7 days after an in-place upgrade.
const ROLLBACK_READINESS: &str = "ROLLBACK_READINESS";

/// How long, on the simulator's and EKS's clocks, an Auto Mode rollback may keep rolling
/// nodes back by default (`rollbackConfig.timeoutMinutes`, default 720).
const AUTO_NODE_TIMEOUT_MINUTES: u32 = 720;

/// A VersionRollback in progress, while git asks for a version: the version the plan
/// leaves the control plane at, or `None` when no rollback runs.
pub(super) fn while_rolling_back(
    cx: &mut Ctx<'_>,
    c: &ClusterConfig,
    o: &ObservedCluster,
) -> Option<String> {
    let u = o
        .updates_in_progress
        .iter()
        .find(|u| u.update_type == UpdateType::VersionRollback)?;
    let name = c.name().to_string();
    let to = u.params.get("Version").cloned().unwrap_or_default();
    let want = &c.cluster.value.spec.version;
    if *want == to {
        return Some(to);
    }
    let auto = o
        .cluster
        .auto_mode
        .as_ref()
        .is_some_and(|a| a.compute.enabled);
    if *want == o.cluster.version && auto {
        cx.steps.push(
            Step::update(
                Kind::Cluster,
                &name,
                vec![version_change(&to, want)],
                vec![Op::CancelUpdate { id: u.id.clone() }],
            )
            .because(format!(
                "git is back at {want}: cancel the rollback to {to} while EKS rolls Auto Mode nodes back (CancelUpdate); the nodes reconcile forward to {want}"
            )),
        );
        return Some(o.cluster.version.clone());
    }
    cx.block(
        Kind::Cluster,
        &name,
        format!(
            "a rollback to {to} ({}) is in progress and git asks for {want}; EKS cancels a rollback only for Auto Mode nodes while they roll back (CancelUpdate), so wait for it to finish, then plan again",
            u.id
        ),
    );
    Some(to)
}

/// Plan the rollback `have → want` (git lowered `spec.version`), or block it with the
/// reason and what to do instead. Returns the control-plane version after the plan.
pub(super) fn plan_rollback(
    cx: &mut Ctx<'_>,
    c: &ClusterConfig,
    o: &ObservedCluster,
    have: Minor,
    want: Minor,
) -> String {
    let name = c.name().to_string();
    let before = cx.blocked.len();
    let live = &o.cluster;
    let now = cx.shared.now;
    let keep = format!("set `version` back to \"{have}\"");
    if want != have.prev() {
        cx.block(
            Kind::Cluster,
            &name,
            format!(
                "`version` {want} is {} minors below the running {have}; EKS rolls a control plane back one minor only, within 7 days of the upgrade to it: write \"{}\" to roll back to it, or {keep}; to run {want}, create a new cluster at {want} and move the workloads there",
                have.minors_after(want),
                have.prev()
            ),
        );
        return have.to_string();
    }
    let Some((at, closes)) = upgrade::rollback_window_closes(&live.tags, want, have) else {
        cx.block(
            Kind::Cluster,
            &name,
            format!(
                "`version` {want} is below the running {have}, and the cluster holds no record of an in-place upgrade {want}→{have} under keelson (created at {have}, upgraded outside keelson, or rolled back already); EKS rolls back only an in-place upgrade, within 7 days: {keep}"
            ),
        );
        return have.to_string();
    };
    if now > closes {
        cx.block(
            Kind::Cluster,
            &name,
            format!(
                "the rollback window of {want}→{have} closed at {} (7 days after the upgrade completed at {}); EKS no longer rolls it back: {keep} and fix forward, or create a new cluster at {want} and move the workloads there",
                versions::utc_minute(closes),
                versions::utc_minute(at)
            ),
        );
        return have.to_string();
    }
    let spec = &c.cluster.value.spec;
    let calendar = Calendar::from_target(&cx.shared.fleet_live.cluster_versions)
        .unwrap_or_else(Calendar::builtin);
    let status = match calendar.standing(want) {
        Standing::Known(e) => Some(e.status(Date::from_unix(now))),
        _ => None,
    };
    let support = |s: Option<&crate::model::UpgradePolicy>| s.map(|u| u.support_type);
    let extended_set = support(spec.upgrade_policy.as_ref()) == Some(SupportType::Extended)
        || support(live.upgrade_policy.as_ref()) == Some(SupportType::Extended);
    let mut risks = Vec::new();
    match status {
        Some(SupportStatus::Extended) if !extended_set => cx.block(
            Kind::Cluster,
            &name,
            format!(
                "{want} is in extended support, and EKS rolls back into extended support only with `upgradePolicy.supportType: EXTENDED` set first: set `spec.upgradePolicy.supportType: EXTENDED` in {} (extended-support charges resume), or {keep}",
                c.cluster.origin.file
            ),
        ),
        Some(SupportStatus::Extended) => risks.push(Risk::new(
            RiskKind::Destructive,
            format!("{want} is in extended support: its extended-support charges resume"),
        )),
        Some(SupportStatus::Standard) => {}
        _ => cx.block(
            Kind::Cluster,
            &name,
            format!("EKS no longer offers {want}, so it cannot roll back to it: {keep}"),
        ),
    }
    if !o.fargate_profiles.is_empty() {
        let names: Vec<&str> = o.fargate_profiles.keys().map(String::as_str).collect();
        cx.block(
            Kind::Cluster,
            &name,
            format!(
                "Fargate profile(s) {} run pods at {have}, and EKS cannot roll Fargate back; remove the profiles from git and apply at {have} first (their pods move elsewhere), then lower the version again, or {keep}",
                names.join(", ")
            ),
        );
    }
    let want_s = want.to_string();
    let addon_steps = addon_downgrades(cx, c, o, have, want);
    if let Some(s) = &o.upgrade {
        let about = |i: &&Insight| i.category.eq_ignore_ascii_case(ROLLBACK_READINESS);
        for i in s.insights.iter().filter(about) {
            let what = format!(
                "EKS rollback-readiness insight \"{}\" ({}): {}",
                i.name, i.id, i.reason
            );
            match i.status {
                InsightStatus::Error => cx.block(
                    Kind::Cluster,
                    &name,
                    format!("{what}; EKS refuses the rollback while it is in ERROR: fix what it names, then plan again, or {keep}"),
                ),
                InsightStatus::Warning => cx.notes.push(format!("rollback {have}→{want}: {what}")),
                _ => {}
            }
        }
        for u in &s.unreadable {
            cx.block(
                Kind::Cluster,
                &name,
                format!("could not read {u}, which the rollback is judged with; plan again"),
            );
        }
    }
    // Managed node groups at `have` roll back first: EKS refuses the control plane's
    // rollback while a node group runs the newer minor.
    let mut node_steps = Vec::new();
    for (n, l) in &o.node_groups {
        let at_have = l
            .spec
            .version
            .as_deref()
            .and_then(|v| v.parse::<Minor>().ok())
            .is_some_and(|v| v > want);
        if !at_have {
            continue;
        }
        let Some(doc) = c.node_groups.iter().find(|g| g.value.metadata.name == *n) else {
            cx.block(
                Kind::NodeGroup,
                n,
                format!("node group {n} (not in git) runs {have}; EKS rolls the control plane back only once managed node groups run {want}: roll it back yourself (UpdateNodegroupVersion) or add a NodeGroup document for it, then plan again"),
            );
            continue;
        };
        if let Some(pin) = doc
            .value
            .spec
            .version
            .as_deref()
            .filter(|p| p.parse::<Minor>().is_ok_and(|p| p > want))
        {
            cx.block(
                Kind::NodeGroup,
                n,
                format!("{}: node group {n} pins `version: \"{pin}\"`; lower it to \"{want}\" (or remove it) to roll the group back with the cluster", doc.origin.file),
            );
            continue;
        }
        let have_ng = l.spec.version.clone().unwrap_or_default();
        node_steps.push(
            node_version_step(&name, n, &have_ng, &want_s, &doc.value.spec, cx.fleet).because(
                format!(
                    "roll back: managed node groups go back to {want} before the control plane"
                ),
            ),
        );
    }
    if cx.blocked.len() > before {
        return have.to_string();
    }
    if node_steps.is_empty() {
        super::bake::rollback_note(cx, c, have, want);
    }
    cx.steps.extend(node_steps);
    cx.steps.extend(addon_steps);
    let auto = live.auto_mode.as_ref().is_some_and(|a| a.compute.enabled);
    let mut step = Step::update(
        Kind::Cluster,
        &name,
        vec![version_change(&have.to_string(), &want_s)],
        vec![Op::UpdateClusterVersion {
            version: want_s.clone(),
        }],
    )
    .because(format!(
        "roll back {have}→{want}, undoing the upgrade {want}→{have} (EKS VersionRollback); its window closes at {}",
        versions::utc_minute(closes)
    ))
    .risk(
        RiskKind::Irreversible,
        format!("EKS does not roll add-ons back: they stay at their versions (each runs on {want})"),
    )
    .risk(
        RiskKind::NodesRotated,
        "self-managed and hybrid nodes are not rolled back by EKS: replace them with nodes built for the older minor yourself",
    );
    if auto {
        step = step.risk(
            RiskKind::NodesRotated,
            format!("EKS rolls Auto Mode nodes back first, honouring NodePool disruption budgets, while the cluster stays ACTIVE (up to {AUTO_NODE_TIMEOUT_MINUTES} minutes by default); to stop it then, set `version` back to \"{have}\" and apply (CancelUpdate)"),
        );
    }
    step.risks.extend(risks);
    cx.steps.push(step);
    cx.steps.push(record_step(live, have, want));
    want_s
}

/// The step that records a rollback `have → want` and drops the record of the hop it
/// undid.
fn record_step(live: &LiveCluster, have: Minor, want: Minor) -> Step {
    let (have_s, want_s) = (have.to_string(), want.to_string());
    let mut remove = vec![upgrade::transition_key(&want_s, &have_s)];
    remove.retain(|k| live.tags.contains_key(k));
    Step::update(
            Kind::Cluster,
            &live.name,
            vec![Change {
                path: format!("tags.{}", upgrade::rollback_key(&have_s, &want_s)),
                before: None,
                after: Some(serde_json::json!("t=<completion time>")),
            }],
            vec![Op::RecordRollback {
                arn: live.arn.clone(),
                from: have_s.clone(),
                to: want_s.clone(),
                remove,
            }],
        )
    .because(format!(
        "record the rollback and drop the record of {want}→{have}, so later stages no longer count it"
    ))
}

/// A rollback whose control plane finished but whose record was never written (a crash
/// in between): the cluster runs `N` and still holds the record of `N → N+1`. The record
/// step is planned again, so that later stages stop counting the undone hop.
pub(super) fn finish_record(cx: &mut Ctx<'_>, o: &ObservedCluster) {
    let Ok(v) = o.cluster.version.parse::<Minor>() else {
        return;
    };
    let open = upgrade::rollback_window_closes(&o.cluster.tags, v, v.next())
        .is_some_and(|(_, closes)| cx.shared.now <= closes);
    if open {
        cx.notes.push(format!(
            "finishing the rollback {}→{v} done earlier (its control plane is back at {v})",
            v.next()
        ));
        cx.steps.push(record_step(&o.cluster, v.next(), v));
    }
}

/// Add-ons that do not run on `want` go down first to a version that does (EKS never
/// rolls add-ons back): the version the cluster ran them at on `want` (its record of the
/// hop into `want`), else the newest that runs on `want`.
fn addon_downgrades(
    cx: &mut Ctx<'_>,
    c: &ClusterConfig,
    o: &ObservedCluster,
    have: Minor,
    want: Minor,
) -> Vec<Step> {
    let name = c.name().to_string();
    let want_s = want.to_string();
    let earlier = o
        .cluster
        .tags
        .get(&upgrade::transition_key(&want.prev().to_string(), &want_s))
        .and_then(|v| upgrade::parse_transition(v));
    let mut steps = Vec::new();
    for (a, l) in &o.addons {
        let catalog = cx
            .shared
            .fleet_live
            .addon_versions
            .get(a)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if compatible_with(catalog, &l.version, &want_s) {
            continue;
        }
        let Some(doc) = c.addons.iter().find(|d| d.value.metadata.name == *a) else {
            cx.block(
                Kind::Addon,
                a,
                format!("add-on {a} {} (not in git) does not run on Kubernetes {want}, and EKS does not roll add-ons back: add an Addon document for it so keelson moves it, or move it yourself, then plan again", l.version),
            );
            continue;
        };
        if !matches!(doc.value.spec.version.as_str(), "latest" | "default") {
            cx.block(
                Kind::Addon,
                a,
                format!("{}: add-on {a} pins `version: {}`, which does not run on Kubernetes {want}: write a version that does (or `default`) to roll it back with the cluster", doc.origin.file, doc.value.spec.version),
            );
            continue;
        }
        let from_record = earlier
            .as_ref()
            .and_then(|t| t.addons.get(a))
            .filter(|v| compatible_with(catalog, v, &want_s))
            .cloned();
        let (to, which) = match from_record {
            Some(v) => (
                v,
                format!("the version it ran on {want} before {want}→{have}"),
            ),
            None => match resolve_addon_version(catalog, &doc.value.spec.version, &want_s) {
                Ok(v) => (
                    v,
                    format!("the `{}` version on {want}", doc.value.spec.version),
                ),
                Err(e) => {
                    cx.block(
                        Kind::Addon,
                        a,
                        format!("add-on {a} cannot go back to Kubernetes {want}: {e}"),
                    );
                    continue;
                }
            },
        };
        steps.push(
            Step::update(
                Kind::Addon,
                a,
                vec![version_change(&l.version, &to)],
                vec![Op::UpdateAddon(addons::addon_request(&name, &doc.value, &to, cx.fleet))],
            )
            .because(format!(
                "roll back: {} does not run on Kubernetes {want}, and EKS does not roll add-ons back; {to} is {which}",
                l.version
            )),
        );
    }
    steps
}

/// When the rollback window of the cluster's last hop closes, while it is open.
pub(super) fn window_end(o: &ObservedCluster, now: i64) -> Option<i64> {
    let have: Minor = o.cluster.version.parse().ok()?;
    let (_, closes) = upgrade::rollback_window_closes(&o.cluster.tags, have.prev(), have)?;
    (now <= closes).then_some(closes)
}

/// The note on a cluster whose last hop can still be rolled back: when its window closes.
pub(super) fn window_note(o: &ObservedCluster, now: i64) -> Option<String> {
    let have: Minor = o.cluster.version.parse().ok()?;
    let closes = window_end(o, now)?;
    Some(format!(
        "rollback window of {}→{have} closes at {}: until then, lowering `version` to \"{}\" plans an EKS rollback",
        have.prev(),
        versions::utc_minute(closes),
        have.prev()
    ))
}
