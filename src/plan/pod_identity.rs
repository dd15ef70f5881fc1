//! EKS Pod Identity associations, keyed `namespace/serviceAccount`: create, update the
//! roles in place, and prune.
//!
//! ```text
//!  git PodIdentityAssociation ─┬─ absent ─────► CreatePodIdentityAssociation
//!                              └─ roles, policy ► UpdatePodIdentityAssociation (+ tags)
//!  live only, with the marker ────────────────► DeletePodIdentityAssociation
//! ```

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::diff::{changes_of, tags_view, with_marker};
use super::types::*;
use super::{fields, token, Ctx, Orphan};
use crate::config::ClusterConfig;
use crate::model::live::*;
use crate::model::*;
use crate::ports::*;

/// `namespace/serviceAccount`: how associations are named in plans and live state.
fn key_of(s: &PodIdentityAssociationSpec) -> String {
    format!("{}/{}", s.namespace, s.service_account)
}

/// The fields an association changes in place.
fn view(s: &PodIdentityAssociationSpec) -> Value {
    json!({"roleArn": s.role_arn, "targetRoleArn": s.target_role_arn, "disableSessionTags": s.disable_session_tags, "policy": fields::policy_view(&s.policy)})
}

/// What the planner reads from a live association (for the fingerprint of a saved plan).
pub(super) fn live_view(l: &LivePodIdentity) -> Value {
    json!({
        "arn": l.arn,
        "id": l.association_id,
        "spec": view(&l.spec),
        "tags": tags_view(&l.spec.tags),
    })
}

/// Plan the Pod Identity associations of one cluster.
pub(super) fn plan_pod_identities(cx: &mut Ctx<'_>, c: &ClusterConfig) {
    let empty = BTreeMap::new();
    let live = cx.live.map_or(&empty, |o| &o.pod_identities);
    let name = cx.name.to_string();
    for p in &c.pod_identities {
        let spec = &p.value.spec;
        let key = key_of(spec);
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
                cx.steps.push(Step::create(
                    Kind::PodIdentityAssociation,
                    &key,
                    vec![Op::CreatePodIdentity(req)],
                ));
            }
            Some(l) => {
                let mut changes = changes_of(&view(&l.spec), &view(spec));
                let mut ops = Vec::new();
                if !changes.is_empty() {
                    ops.push(Op::UpdatePodIdentity {
                        id: l.association_id.clone(),
                        spec: fields::pod_identity_update(spec, &l.spec),
                    });
                }
                ops.extend(cx.tag_ops(
                    (Kind::PodIdentityAssociation, &key),
                    &l.arn,
                    &l.spec.tags,
                    &spec.tags,
                    &mut changes,
                ));
                cx.update(Kind::PodIdentityAssociation, &key, changes, ops);
            }
        }
    }
    let desired = c.pod_identities.iter().map(|p| key_of(&p.value.spec));
    cx.prune(live, desired, |key, l| {
        let id = l.association_id.clone();
        let lost = "pods of this service account lose their AWS role";
        let kind = Kind::PodIdentityAssociation;
        Orphan::new(
            kind,
            key,
            Some(&l.spec.tags),
            Op::DeletePodIdentity { id },
            lost,
        )
    });
}
