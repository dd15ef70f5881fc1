//! The cluster itself: its creation, the configuration EKS changes in place (one
//! UpdateClusterConfig per kind of change, as EKS requires), its tags, and the checks on
//! fields that cannot change. Version hops are planned in `hops.rs`.
//!
//! ```text
//!  absent ─► CreateCluster
//!  live ───► immutable fields? ─► blocked
//!        └─► endpoint, VPC, logging, access, Auto Mode, upgrade policy, deletion
//!            protection, the settings of fields.rs, tags ─► one step each ─► hops.rs
//! ```

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::diff::{changes_of, sorted, tags_view, with_marker};
use super::types::*;
use super::{fields, hops, rollback, token, Ctx};
use crate::config::ClusterConfig;
use crate::model::live::*;
use crate::model::*;
use crate::ports::*;
use crate::versions::Minor;

/// Plan the cluster's own steps; returns the control-plane version once they have run
/// (the version the add-ons and node groups are planned for).
pub(super) fn plan_control_plane(cx: &mut Ctx<'_>, c: &ClusterConfig) -> String {
    let name = c.name();
    let spec = &c.cluster.value.spec;
    match cx.live {
        None => {
            let mut create = CreateCluster {
                name: name.to_string(),
                spec: spec.clone(),
                tags: with_marker(&spec.tags, cx.fleet),
                client_request_token: String::new(),
            };
            create.spec.tags = Tags::new();
            create.client_request_token = token(name, "cluster", name, &create);
            cx.steps.push(
                Step::create(Kind::Cluster, name, vec![Op::CreateCluster(create)])
                    .because(format!("Kubernetes {} in {}", spec.version, spec.region)),
            );
            spec.version.clone()
        }
        Some(o) if o.cluster.status == Status::Deleting => {
            cx.block(
                Kind::Cluster,
                name,
                "the cluster is being deleted; wait until it is gone and plan again",
            );
            spec.version.clone()
        }
        Some(o) => plan_existing_cluster(cx, c, o),
    }
}

/// What the cluster planner reads from a live cluster, normalised as it compares it: the
/// fingerprint of a saved plan is taken over this.
pub(super) fn live_view(o: &ObservedCluster) -> Value {
    let live = &o.cluster;
    let updates: Vec<Value> = o
        .updates_in_progress
        .iter()
        .map(|u| json!({"type": u.update_type, "params": u.params}))
        .collect();
    let upgrade_tags: Tags = live
        .tags
        .iter()
        .filter(|(k, _)| super::upgrade::is_upgrade_tag(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    json!({
        "arn": live.arn,
        "status": status_view(live.status),
        "version": live.version,
        "updates": updates,
        "region": live.region,
        "roleArn": live.role_arn,
        "kubernetesNetwork": live.kubernetes_network,
        "secretsKmsKeyArn": live.secrets_kms_key_arn,
        "endpoint": endpoint_view(&live.vpc),
        "vpc": network_view(&live.vpc),
        "logging": logging_view(&live.logging),
        "authenticationMode": live.access.as_ref().map(|a| a.authentication_mode),
        "autoMode": auto_view(&live.auto_mode),
        "autoModeRole": live.auto_mode.as_ref().and_then(|a| a.compute.node_role_arn.clone()),
        "upgradePolicy": live.upgrade_policy.as_ref().map(|u| u.support_type),
        "deletionProtection": live.deletion_protection,
        "tags": tags_view(&live.tags),
        "upgradeTags": upgrade_tags,
        "fields": fields::cluster_live_view(live),
    })
}

/// A status as the planners read it: being deleted, busy (wait for it), or settled.
pub(super) fn status_view(s: Status) -> &'static str {
    match s {
        Status::Deleting => "deleting",
        s if s.is_busy() => "busy",
        _ => "settled",
    }
}

fn network_view(v: &VpcConfig) -> Value {
    json!({"subnetIds": sorted(&v.subnet_ids), "securityGroupIds": sorted(&v.security_group_ids)})
}

fn logging_view(logs: &[LogType]) -> Vec<LogType> {
    let mut logs = logs.to_vec();
    logs.sort();
    logs.dedup();
    logs
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
            Kind::Cluster,
            &name,
            immutable("region", live.region.clone(), spec.region.clone()),
        );
    }
    if live.role_arn != spec.role_arn {
        cx.block(
            Kind::Cluster,
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
                Kind::Cluster,
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
            Kind::Cluster,
            &name,
            "`secretsKmsKeyArn` is set when the cluster is created and cannot change afterwards",
        );
    }
    for message in fields::cluster_blockers(spec, live) {
        cx.block(Kind::Cluster, &name, message);
    }
    // Version: a rollback running decides it alone (EKS blocks other updates meanwhile).
    if let Some(v) = rollback::while_rolling_back(cx, c, o) {
        return v;
    }
    let (have, want) = (live_version.parse::<Minor>(), spec.version.parse::<Minor>());
    let mut hops: Vec<Minor> = Vec::new();
    let mut roll_back = None;
    if let (Ok(have), Ok(want)) = (have, want) {
        if want < have {
            // Planned after the configuration steps: rolling back into extended support
            // needs `upgradePolicy.supportType: EXTENDED` first.
            roll_back = Some((have, want));
        } else {
            match crate::versions::hop_path(have, want) {
                Ok(path) => hops = path,
                Err(e) => cx.block(
                    Kind::Cluster,
                    &name,
                    format!("`version` {want} cannot be reached from the running {have}: {e}"),
                ),
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
        let mut step = Step::update(
            Kind::Cluster,
            &name,
            changes,
            vec![Op::UpdateClusterConfig { change }],
        );
        step.risks = risks;
        cx.steps.push(step);
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
        &json!({"vpc": network_view(&live.vpc)}),
        &json!({"vpc": network_view(&spec.vpc)}),
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
    let want_logs = logging_view(&spec.logging);
    let have_logs = logging_view(&live.logging);
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
                cx.block(Kind::Cluster, &name, format!("authenticationMode moves one way only (CONFIG_MAP → API_AND_CONFIG_MAP → API); it is {have}, set it back to {have}"));
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
                    // One-way per the EKS User Guide (`grant-k8s-access`: the mode
                    // cannot be switched back), so it needs the explicit opt-in.
                    vec![Risk::one_way(format!(
                        "authenticationMode {want} cannot be undone"
                    ))],
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
            cx.block(Kind::Cluster, &name, "Auto Mode `nodeRoleArn` cannot change while compute is enabled; keep the current role");
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
                vec![Risk::new(
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
    for f in fields::cluster_changes(spec, live) {
        cx.notes.extend(f.note);
        config_step(cx, f.update_type, f.changes, f.change, f.risks);
    }
    let mut tag_changes = Vec::new();
    let ops = cx.tag_ops(
        (Kind::Cluster, &name),
        &live.arn,
        &live.tags,
        &spec.tags,
        &mut tag_changes,
    );
    if !ops.is_empty() {
        let step = Step::update(Kind::Cluster, &name, tag_changes, ops);
        cx.steps
            .push(if live.tags.contains_key(MANAGED_TAG) || !cx.adopt {
                step
            } else {
                step.because("adopt: mark the cluster as managed by this fleet")
            });
    }
    if let Some((have, want)) = roll_back {
        return rollback::plan_rollback(cx, c, o, have, want);
    }
    if hops.is_empty() {
        rollback::finish_record(cx, o);
        cx.notes.extend(rollback::window_note(o, cx.shared.now));
    }
    hops::plan_hops(cx, c, o, live_version, &hops)
}
