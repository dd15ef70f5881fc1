//! EKS Fargate profiles: create, replace on any change (EKS cannot change a profile),
//! tags in place, and prune.
//!
//! ```text
//!  git FargateProfile ─┬─ absent ─────────► CreateFargateProfile
//!                      ├─ busy ───────────► wait
//!                      ├─ spec differs ───► DeleteFargateProfile + create
//!                      └─ tags ───────────► TagResource / UntagResource
//!  live only, with the marker ────────────► DeleteFargateProfile
//! ```

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::diff::{changes_of, sorted, tags_view, with_marker};
use super::types::*;
use super::{cluster, token, Ctx, Orphan};
use crate::config::ClusterConfig;
use crate::model::live::*;
use crate::model::*;
use crate::ports::*;

/// A profile as compared: role, subnets as a set, selectors.
fn view(s: &FargateProfileSpec) -> Value {
    json!({"podExecutionRoleArn": s.pod_execution_role_arn, "subnetIds": sorted(&s.subnet_ids), "selectors": s.selectors})
}

/// What the planner reads from a live profile (for the fingerprint of a saved plan).
pub(super) fn live_view(l: &LiveFargateProfile) -> Value {
    json!({
        "arn": l.arn,
        "status": cluster::status_view(l.status),
        "spec": view(&l.spec),
        "tags": tags_view(&l.spec.tags),
    })
}

/// Plan the Fargate profiles of one cluster.
pub(super) fn plan_fargate(cx: &mut Ctx<'_>, c: &ClusterConfig) {
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
            None => cx.steps.push(Step::create(
                Kind::FargateProfile,
                n,
                vec![create(cx.fleet)],
            )),
            Some(l) if l.status.is_busy() => cx
                .waits
                .push(format!("Fargate profile {n} is {:?}", l.status)),
            Some(l) => {
                let changes = changes_of(&view(&l.spec), &view(spec));
                if !changes.is_empty() {
                    cx.steps.push(
                        Step::replace(
                            Kind::FargateProfile,
                            n,
                            changes,
                            vec![
                                Op::DeleteFargateProfile { name: n.clone() },
                                create(cx.fleet),
                            ],
                        )
                        .risk(
                            RiskKind::Destructive,
                            "pods scheduled by this profile are rescheduled when it is recreated",
                        )
                        .because(
                            "Fargate profiles cannot change; they are deleted and created again",
                        ),
                    );
                } else {
                    let mut changes = Vec::new();
                    let ops = cx.tag_ops(
                        (Kind::FargateProfile, n),
                        &l.arn,
                        &l.spec.tags,
                        &spec.tags,
                        &mut changes,
                    );
                    cx.update(Kind::FargateProfile, n, changes, ops);
                }
            }
        }
    }
    let desired = c
        .fargate_profiles
        .iter()
        .map(|f| f.value.metadata.name.as_str());
    cx.prune(live, desired, |n, l| {
        let op = Op::DeleteFargateProfile {
            name: n.to_string(),
        };
        let lost = "pods scheduled by this profile stop being scheduled on Fargate";
        Orphan::new(Kind::FargateProfile, n, Some(&l.spec.tags), op, lost).unless_deleting(l.status)
    });
}
