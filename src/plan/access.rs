//! EKS access entries: create with their policies, replace when the type changes, update
//! groups, username, policy associations and tags in place, and prune.
//!
//! ```text
//!  git AccessEntry ─┬─ absent ─────────────► CreateAccessEntry + AssociateAccessPolicy…
//!                   ├─ type differs ───────► DeleteAccessEntry + create
//!                   └─ groups, policies ───► UpdateAccessEntry, (Dis)AssociateAccessPolicy
//!  live only, with the marker ─────────────► DeleteAccessEntry
//! ```

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::diff::{changes_of, sorted, tags_view, with_marker};
use super::types::*;
use super::{token, Ctx, Orphan};
use crate::config::ClusterConfig;
use crate::model::live::*;
use crate::model::*;
use crate::ports::*;

/// A policy association as compared: its scope, namespaces as a set.
fn policy_view(x: &AccessPolicy) -> Value {
    json!({"type": x.access_scope.scope_type, "namespaces": sorted(&x.access_scope.namespaces)})
}

/// What the planner reads from a live access entry (for the fingerprint of a saved plan).
pub(super) fn live_view(l: &LiveAccessEntry) -> Value {
    let policies: BTreeMap<&str, Value> = l
        .spec
        .policies
        .iter()
        .map(|x| (x.policy_arn.as_str(), policy_view(x)))
        .collect();
    json!({
        "arn": l.arn,
        "type": l.spec.entry_type,
        "kubernetesGroups": sorted(&l.spec.kubernetes_groups),
        "username": l.spec.username,
        "policies": policies,
        "tags": tags_view(&l.spec.tags),
    })
}

/// Plan the access entries of one cluster.
pub(super) fn plan_access(cx: &mut Ctx<'_>, c: &ClusterConfig) {
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
            None => cx
                .steps
                .push(Step::create(Kind::AccessEntry, p, create_ops(cx.fleet))),
            Some(l) if l.spec.entry_type != spec.entry_type => {
                let mut ops = vec![Op::DeleteAccessEntry {
                    principal: p.clone(),
                }];
                ops.extend(create_ops(cx.fleet));
                cx.steps.push(
                    Step::replace(
                        Kind::AccessEntry,
                        p,
                        changes_of(
                            &json!({"type": l.spec.entry_type}),
                            &json!({"type": spec.entry_type}),
                        ),
                        ops,
                    )
                    .risk(
                        RiskKind::Destructive,
                        "the principal loses access between the delete and the create",
                    )
                    .because("an access entry's type cannot change"),
                );
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
                    if have.get(arn).map(|h| policy_view(h)) != Some(policy_view(pol)) {
                        changes.push(Change {
                            path: format!("policies[{arn}]"),
                            before: have.get(arn).map(|h| policy_view(h)),
                            after: Some(policy_view(pol)),
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
                ops.extend(cx.tag_ops(
                    (Kind::AccessEntry, p),
                    &l.arn,
                    &l.spec.tags,
                    &spec.tags,
                    &mut changes,
                ));
                cx.update(Kind::AccessEntry, p, changes, ops);
            }
        }
    }
    let desired = c
        .access_entries
        .iter()
        .map(|e| e.value.spec.principal_arn.as_str());
    cx.prune(entries, desired, |p, l| {
        let op = Op::DeleteAccessEntry {
            principal: p.to_string(),
        };
        let consequence = "the principal loses its access to the cluster";
        Orphan::new(Kind::AccessEntry, p, Some(&l.spec.tags), op, consequence)
    });
}
