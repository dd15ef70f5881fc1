//! `plan()` called directly, with live state built in code: a healthy cluster that matches
//! git by default, and one field overridden per test.
//!
//! ```text
//!  repo (YAML in memory) ─► healthy(repo) ─► override one field ─► plan() ─► assert
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use keelson::config::Loaded;
use keelson::deprecations::table::{self, ApiTable};
use keelson::model::live::*;
use keelson::model::*;
use keelson::plan::*;
use keelson::versions::Minor;
use serde_json::{json, Value};

use crate::planner::{ADDONS, FARGATE, NG, NODEPOOL};
use crate::util::*;

/// Noon of the tests' day (2026-11-23), seconds since the epoch.
const NOW: i64 = 1_795_435_200;

/// A Kubernetes manifest of a made-up API, for the extra-rules tests.
const WIDGET: &str = "\
apiVersion: widgets.example.com/v1
kind: Widget
metadata: {name: w, namespace: default}
spec: {}
";

/// An `--extra-rules` file: the made-up API above is gone in 1.35.
const EXTRA_RULES: &str = "\
format_version: 1
newest_release: \"1.37\"
apis:
  - {group: widgets.example.com, version: v1, kind: Widget, deprecated_in: \"1.33\", removed_in: \"1.35\", replacement: widgets.example.com/v2 Widget, source: test}
";

/// The repo: the fleet and the Auto Mode cluster `auto1` with a NodeClass, a NodePool,
/// an access entry, add-ons, a node group and a Fargate profile; `(path, text)` replaces
/// or adds a file.
fn repo(changes: &[(&str, &str)]) -> Loaded {
    let mut files: BTreeMap<&str, String> = [
        ("keelson.yaml", FLEET.to_string()),
        ("auto/cluster.yaml", AUTO_CLUSTER.to_string()),
        ("auto/nodeclass.yaml", NODECLASS.to_string()),
        ("auto/nodepool.yaml", NODEPOOL.to_string()),
        ("auto/addons.yaml", ADDONS.to_string()),
        ("auto/ng.yaml", NG.to_string()),
        ("auto/fargate.yaml", FARGATE.to_string()),
    ]
    .into();
    for (path, text) in changes {
        files.insert(path, text.to_string());
    }
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    let loaded = load(&refs);
    assert!(loaded.is_valid(), "{}", show(&loaded.diagnostics));
    loaded
}

/// The catalog: coredns and vpc-cni, one version each, running on 1.33–1.36.
fn catalog() -> BTreeMap<String, Vec<AddonVersion>> {
    let compat: Vec<Compatibility> = (33..=36)
        .map(|m| Compatibility {
            cluster_version: format!("1.{m}"),
            default_version: true,
        })
        .collect();
    [
        ("coredns", "v1.11.4-eksbuild.2"),
        ("vpc-cni", "v1.20.4-eksbuild.1"),
    ]
    .into_iter()
    .map(|(name, version)| {
        let v = AddonVersion {
            version: version.into(),
            compatibilities: compat.clone(),
        };
        (name.to_string(), vec![v])
    })
    .collect()
}

/// Live state matching `l` exactly: every resource exists, is ACTIVE, carries the marker.
fn healthy(l: &Loaded) -> LiveState {
    let mut live = LiveState {
        addon_versions: catalog(),
        ..LiveState::default()
    };
    for c in &l.repo.clusters {
        let spec = &c.cluster.value.spec;
        let arn = |kind: &str, name: &str| {
            format!("arn:aws:eks:{}:111122223333:{kind}/{name}", spec.region)
        };
        let marked = |t: &Tags| {
            let mut t = t.clone();
            t.insert(MANAGED_TAG.into(), "platform".into());
            t
        };
        let cluster = LiveCluster {
            name: c.name().to_string(),
            region: spec.region.clone(),
            arn: arn("cluster", c.name()),
            status: Status::Active,
            version: spec.version.clone(),
            platform_version: "eks.7".into(),
            endpoint: "https://auto1.example".into(),
            certificate_authority: String::new(),
            role_arn: spec.role_arn.clone(),
            vpc: spec.vpc.clone(),
            kubernetes_network: spec.kubernetes_network.clone(),
            auto_mode: spec.auto_mode.clone(),
            logging: spec.logging.clone(),
            access: spec.access.clone(),
            upgrade_policy: spec.upgrade_policy.clone(),
            deletion_protection: spec.deletion_protection,
            secrets_kms_key_arn: spec.secrets_kms_key_arn.clone(),
            settings: ClusterSettings::of(spec),
            tags: marked(&spec.tags),
        };
        let addons = c.addons.iter().map(|a| {
            let s = &a.value.spec;
            let name = a.value.metadata.name.clone();
            let versions = &live.addon_versions[&name];
            let version = resolve_addon_version(versions, &s.version, &spec.version);
            let addon = LiveAddon {
                name: name.clone(),
                arn: arn("addon", &name),
                version: version.unwrap_or_else(|e| panic!("{e}")),
                status: Status::Active,
                configuration_values: s.configuration_values.clone(),
                service_account_role_arn: s.service_account_role_arn.clone(),
                pod_identity_associations: s.pod_identity_associations.clone(),
                namespace_config: s.namespace_config.clone(),
                tags: marked(&s.tags),
            };
            (name, addon)
        });
        let node_groups = c.node_groups.iter().map(|n| {
            let name = &n.value.metadata.name;
            let spec = NodeGroupSpec {
                version: Some(spec.version.clone()),
                tags: marked(&n.value.spec.tags),
                ..n.value.spec.clone()
            };
            let (arn, status) = (arn("nodegroup", name), Status::Active);
            let group = LiveNodeGroup {
                name: name.clone(),
                arn,
                status,
                spec,
            };
            (name.clone(), group)
        });
        let fargate = c.fargate_profiles.iter().map(|f| {
            let (name, mut spec) = (f.value.metadata.name.clone(), f.value.spec.clone());
            spec.tags = marked(&spec.tags);
            let arn = arn("fargateprofile", &name);
            (
                name.clone(),
                LiveFargateProfile {
                    name,
                    arn,
                    status: Status::Active,
                    spec,
                },
            )
        });
        let access = c.access_entries.iter().map(|e| {
            let mut s = e.value.spec.clone();
            s.tags = marked(&s.tags);
            let entry = LiveAccessEntry {
                arn: arn("access-entry", &s.principal_arn),
                spec: s,
            };
            (entry.spec.principal_arn.clone(), entry)
        });
        // As the API server returns them: with status, resourceVersion and managedFields.
        let object = |kind: &str, api: &str, name: &str, spec: Value| {
            let obj = json!({
                "apiVersion": api,
                "kind": kind,
                "metadata": {
                    "name": name,
                    "labels": {MANAGED_LABEL: FIELD_MANAGER},
                    "resourceVersion": "1001",
                    "uid": "0b5c6c1e-0000-4000-8000-000000000001",
                    "managedFields": [{"manager": FIELD_MANAGER}],
                },
                "spec": spec,
                "status": {"resources": {"nodes": "3"}},
            });
            (format!("{kind}/{name}"), obj)
        };
        let pools = c.node_pools.iter().map(|p| {
            let mut spec = serde_json::to_value(&p.value.spec).unwrap();
            // What the API server holds: the CRD's defaults filled in (a missing
            // `disruption`, a missing `consolidationPolicy`), as keelson also writes them.
            let d = spec
                .as_object_mut()
                .unwrap()
                .entry("disruption")
                .or_insert_with(|| serde_json::json!({"consolidateAfter": "0s"}));
            d.as_object_mut()
                .unwrap()
                .entry("consolidationPolicy")
                .or_insert_with(|| "WhenEmptyOrUnderutilized".into());
            object("NodePool", KARPENTER_API, &p.value.metadata.name, spec)
        });
        let classes = c.node_classes.iter().map(|n| {
            let spec = serde_json::to_value(&n.value.spec).unwrap();
            object("NodeClass", EKS_NODECLASS_API, &n.value.metadata.name, spec)
        });
        let observed = ObservedCluster {
            cluster,
            updates_in_progress: Vec::new(),
            addons: addons.collect(),
            node_groups: node_groups.collect(),
            fargate_profiles: fargate.collect(),
            access_entries: access.collect(),
            pod_identities: BTreeMap::new(),
            kube_objects: pools.chain(classes).collect(),
            bootstrap: None,
            upgrade: Some(UpgradeSignals::default()),
        };
        live.clusters.insert(c.name().to_string(), observed);
    }
    live
}

fn opts(apis: Arc<ApiTable>) -> PlanOptions {
    PlanOptions {
        only: BTreeSet::new(),
        now: NOW,
        ignore_gates: BTreeSet::new(),
        apis,
    }
}

fn plan_of(l: &Loaded, live: &LiveState) -> Plan {
    plan(&l.repo, live, &opts(builtin_apis()))
}

fn auto1(live: &mut LiveState) -> &mut ObservedCluster {
    live.clusters.get_mut("auto1").unwrap()
}

/// `Action Kind name` of every step, in order.
fn steps(p: &Plan) -> Vec<String> {
    p.clusters
        .iter()
        .flat_map(|c| &c.steps)
        .map(|s| format!("{:?} {} {}", s.action, s.resource.kind, s.resource.name))
        .collect()
}

/// The built-in table extended with [`EXTRA_RULES`], as `--extra-rules` does it.
fn extended_apis() -> Arc<ApiTable> {
    let mut t = ApiTable::builtin().unwrap();
    t.extend(table::parse("extra.yaml", EXTRA_RULES).unwrap());
    Arc::new(t)
}

#[test]
fn a_live_state_equal_to_git_plans_nothing() {
    let l = repo(&[]);
    let p = plan_of(&l, &healthy(&l));
    assert!(!p.has_changes(), "{}", render::text(&p));
    assert!(!p.is_blocked() && !p.is_held(), "{}", render::text(&p));
    assert_eq!(p.summary.unchanged_clusters, 1);
}

#[test]
fn one_field_changed_out_of_band_plans_exactly_that_change() {
    let l = repo(&[]);
    let mut live = healthy(&l);
    let ng = auto1(&mut live).node_groups.get_mut("general").unwrap();
    ng.spec.scaling.max_size = 9;
    let p = plan_of(&l, &live);
    assert_eq!(steps(&p), ["Update NodeGroup general"]);
    let step = &p.clusters[0].steps[0];
    assert_eq!(
        step.changes,
        [Change {
            path: "scaling.maxSize".into(),
            before: Some(json!(9)),
            after: Some(json!(5)),
        }]
    );
    // The autoscaler's desired size is not touched while it is inside the bounds.
    let Op::UpdateNodegroupConfig(req) = &step.ops[0] else {
        panic!("{:?}", step.ops)
    };
    assert_eq!(req.scaling.as_ref().and_then(|s| s.desired_size), None);
}

#[test]
fn prune_deletes_only_what_carries_this_fleets_marker() {
    let l = repo(&[]);
    let mut live = healthy(&l);
    let o = auto1(&mut live);
    let template = o.node_groups["general"].clone();
    for (name, marker) in [
        ("ours", Some("platform")),
        ("theirs", None),
        ("other-fleet", Some("x")),
    ] {
        let mut g = template.clone();
        g.name = name.into();
        g.spec.tags.remove(MANAGED_TAG);
        if let Some(m) = marker {
            g.spec.tags.insert(MANAGED_TAG.into(), m.into());
        }
        o.node_groups.insert(name.into(), g);
    }
    let mut foreign = o.addons["coredns"].clone();
    foreign.tags.clear();
    o.addons.insert("kube-proxy".into(), foreign);
    let p = plan_of(&l, &live);
    assert_eq!(steps(&p), ["Delete NodeGroup ours"]);
    assert_eq!(
        p.clusters[0].steps[0].reason.as_deref(),
        Some("no longer in git")
    );
    let notes = &p.clusters[0].notes;
    assert!(
        notes.iter().any(|n| n.contains("node group theirs")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.contains("node group other-fleet")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.contains("add-on kube-proxy")),
        "{notes:?}"
    );
}

#[test]
fn a_two_minor_upgrade_is_planned_hop_by_hop_in_order() {
    let l = repo(&[(
        "auto/cluster.yaml",
        &AUTO_CLUSTER.replace("\"1.34\"", "\"1.35\""),
    )]);
    let mut live = healthy(&l);
    let o = auto1(&mut live);
    o.cluster.version = "1.33".into();
    for g in o.node_groups.values_mut() {
        g.spec.version = Some("1.33".into());
    }
    let p = plan_of(&l, &live);
    assert!(!p.is_blocked() && !p.is_held(), "{}", render::text(&p));
    let versions: Vec<String> = p.clusters[0]
        .steps
        .iter()
        .filter(|s| s.changes.iter().any(|c| c.path == "version"))
        .map(|s| {
            let c = &s.changes[0];
            format!(
                "{} {}→{}",
                s.resource.kind,
                c.before.clone().unwrap_or_default(),
                c.after.clone().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        versions,
        [
            "Cluster \"1.33\"→\"1.34\"",
            "NodeGroup \"1.33\"→\"1.34\"",
            "Cluster \"1.34\"→\"1.35\"",
            "NodeGroup \"1.34\"→\"1.35\"",
        ]
    );
    let records: Vec<&Op> = p.clusters[0]
        .steps
        .iter()
        .flat_map(|s| &s.ops)
        .filter(|op| matches!(op, Op::RecordTransition { .. }))
        .collect();
    assert_eq!(records.len(), 2);
}

#[test]
fn a_saved_plan_still_applies_after_churn_the_plan_does_not_read() {
    // Git raises maxSize, so the saved plan has a step for auto1.
    let l = repo(&[("auto/ng.yaml", &NG.replace("maxSize: 5", "maxSize: 8"))]);
    let mut live = healthy(&repo(&[]));
    let node = |name: &str| UpgradeSignals {
        self_managed_nodes: [(name.to_string(), "1.34".to_string())].into(),
        ..UpgradeSignals::default()
    };
    auto1(&mut live).upgrade = Some(node("ip-10-0-0-1"));
    let saved = plan_of(&l, &live);
    assert_eq!(steps(&saved), ["Update NodeGroup general"]);

    let mut churned = live.clone();
    let o = auto1(&mut churned);
    let ng = o.node_groups.get_mut("general").unwrap();
    ng.spec.scaling.desired_size = Some(4);
    let pool = o.kube_objects.get_mut("NodePool/batch").unwrap();
    pool["metadata"]["resourceVersion"] = json!("1002");
    pool["metadata"]["generation"] = json!(7);
    pool["metadata"]["creationTimestamp"] = json!("2026-11-23T10:00:00Z");
    pool["metadata"]["managedFields"] = json!([{"manager": "karpenter"}]);
    pool["status"] = json!({"resources": {"nodes": "5"}, "conditions": [{"type": "Ready"}]});
    o.cluster.platform_version = "eks.8".into();
    o.cluster
        .tags
        .insert("aws:cloudformation:stack-name".into(), "x".into());
    // A self-managed node replaced by another of the same minor.
    o.upgrade = Some(node("ip-10-0-0-9"));
    let fresh = plan_of(&l, &churned);
    assert_eq!(saved.clusters[0].fingerprint, fresh.clusters[0].fingerprint);
    assert_eq!(moved_since(&saved, &fresh), Vec::<String>::new());
}

/// A change made to a live cluster behind keelson's back.
type OutOfBand = fn(&mut ObservedCluster);

#[test]
fn a_saved_plan_is_refused_after_a_real_out_of_band_change() {
    let l = repo(&[("auto/ng.yaml", &NG.replace("maxSize: 5", "maxSize: 8"))]);
    let live = healthy(&repo(&[]));
    let saved = plan_of(&l, &live);
    assert_eq!(steps(&saved), ["Update NodeGroup general"]);
    let changes: [(&str, OutOfBand); 5] = [
        ("node group maxSize", |o| {
            if let Some(g) = o.node_groups.get_mut("general") {
                g.spec.scaling.max_size = 7;
            }
        }),
        ("NodePool spec", |o| {
            if let Some(p) = o.kube_objects.get_mut("NodePool/batch") {
                p["spec"]["template"]["spec"]["expireAfter"] = json!("720h");
            }
        }),
        ("cluster logging", |o| {
            o.cluster.logging.push(LogType::Audit)
        }),
        ("add-on version", |o| {
            if let Some(a) = o.addons.get_mut("coredns") {
                a.version = "v1.11.3-eksbuild.1".into();
            }
        }),
        ("a node group being updated", |o| {
            if let Some(g) = o.node_groups.get_mut("general") {
                g.status = Status::Updating;
            }
        }),
    ];
    for (what, change) in changes {
        let mut moved = live.clone();
        change(auto1(&mut moved));
        let fresh = plan_of(&l, &moved);
        assert_eq!(moved_since(&saved, &fresh), ["auto1"], "{what}");
    }
}

#[test]
fn an_extra_rule_blocks_a_hop_in_plan_and_in_check_and_the_builtin_table_does_not() {
    let l = repo(&[
        (
            "auto/cluster.yaml",
            &AUTO_CLUSTER.replace("\"1.34\"", "\"1.35\""),
        ),
        ("auto/widget.yaml", WIDGET),
    ]);
    // Live at 1.34, git at 1.35.
    let live = healthy(&repo(&[]));
    let builtin = plan(&l.repo, &live, &opts(builtin_apis()));
    assert!(!builtin.is_blocked(), "{}", render::text(&builtin));
    assert!(steps(&builtin).contains(&"Update Cluster auto1".to_string()));

    let extended = plan(&l.repo, &live, &opts(extended_apis()));
    assert!(extended.is_blocked(), "{}", render::text(&extended));
    let why = &extended.clusters[0].blocked[0].message;
    assert!(why.contains("auto/widget.yaml:1: Widget w uses widgets.example.com/v1, which Kubernetes 1.35 no longer serves"), "{why}");

    // `keelson check` judges with the same gate functions and the table it is given.
    let policy = FleetPolicy::default();
    let readiness = |apis: &ApiTable| {
        upgrade::readiness(
            upgrade::HopInput {
                cluster: &l.repo.clusters[0],
                live: &live.clusters["auto1"],
                repo: &l.repo,
                fleet_live: &live,
                apis,
                policy: &policy,
                now: NOW,
            },
            Minor::v1(35),
        )
    };
    assert_eq!(readiness(&builtin_apis()).outcome(), upgrade::Outcome::Pass);
    let r = readiness(&extended_apis());
    assert_eq!(r.outcome(), upgrade::Outcome::Fail);
    let failing: Vec<upgrade::Gate> = r.hops[0]
        .gates
        .iter()
        .filter(|g| g.outcome == upgrade::Outcome::Fail)
        .map(|g| g.gate)
        .collect();
    assert_eq!(failing, [upgrade::Gate::RemovedApis]);
}

#[test]
fn a_plan_file_written_before_reads_and_writes_back_byte_for_byte() {
    // An upgrade plan as `keelson plan --format json` wrote it before resource kinds were
    // an enum (the insta snapshot, kept in the repository).
    let snap = include_str!("snapshots/it__render__upgrade_plan_json.snap");
    let json = snap.splitn(3, "---\n").nth(2).unwrap_or_default();
    let before: Value = serde_json::from_str(json).unwrap();
    let parsed: Plan = serde_json::from_value(before.clone()).unwrap();
    let kinds: BTreeSet<Kind> = parsed
        .clusters
        .iter()
        .flat_map(|c| &c.steps)
        .map(|s| s.resource.kind)
        .collect();
    assert!(
        kinds.contains(&Kind::Cluster) && kinds.contains(&Kind::Addon),
        "{kinds:?}"
    );
    assert_eq!(serde_json::to_value(&parsed).unwrap(), before);
    let text = serde_json::to_string_pretty(&parsed).unwrap_or_default();
    assert_eq!(text.trim(), json.trim());
}
