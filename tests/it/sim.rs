//! The simulator's EKS semantics, call by call.

use keelson::adapters::sim::{Sim, SimError, Speed};
use keelson::model::live::{Status, UpdateStatus};
use keelson::model::*;
use keelson::ports::*;

use crate::simkit::*;

fn spec(version: &str) -> ClusterSpec {
    let doc: ClusterDoc = serde_yaml_ng::from_str(
        &crate::util::MNG_CLUSTER.replace("\"1.34\"", &format!("\"{version}\"")),
    )
    .unwrap();
    let mut s = doc.spec;
    s.access = Some(AccessConfig {
        authentication_mode: AuthenticationMode::Api,
        bootstrap_cluster_creator_admin_permissions: None,
    });
    s
}

fn create(name: &str, version: &str, token: &str) -> CreateCluster {
    CreateCluster {
        name: name.into(),
        spec: spec(version),
        tags: Tags::new(),
        client_request_token: token.into(),
    }
}

async fn active_cluster(sim: &Sim, version: &str) {
    sim.create_cluster(&create("c1", version, "t1"))
        .await
        .unwrap();
    assert_eq!(
        sim.describe_cluster("c1").await.unwrap().status,
        Status::Creating
    );
    sim.sleep(12 * 60).await;
    assert_eq!(
        sim.describe_cluster("c1").await.unwrap().status,
        Status::Active
    );
}

#[tokio::test]
async fn a_create_retried_with_its_token_returns_the_same_cluster() {
    let sim = sim();
    sim.create_cluster(&create("c1", "1.34", "tok"))
        .await
        .unwrap();
    let again = sim
        .create_cluster(&create("c1", "1.34", "tok"))
        .await
        .unwrap();
    assert_eq!(again.name, "c1");
    assert_eq!(sim.snapshot().clusters.len(), 1);
    let other = sim
        .create_cluster(&create("c1", "1.34", "other-token"))
        .await
        .unwrap_err();
    assert!(matches!(other, ApiError::ResourceInUse(_)), "{other}");
}

#[tokio::test]
async fn versions_move_one_minor_at_a_time_and_never_down() {
    let sim = sim();
    active_cluster(&sim, "1.32").await;
    let skip = sim.update_cluster_version("c1", "1.34").await.unwrap_err();
    assert!(
        matches!(&skip, ApiError::InvalidParameter(m) if m.contains("one minor version at a time")),
        "{skip}"
    );
    let down = sim.update_cluster_version("c1", "1.31").await.unwrap_err();
    assert!(
        // A lower version is a rollback, which needs an in-place upgrade to undo.
        matches!(&down, ApiError::InvalidRequest(m) if m.contains("not upgraded in place")),
        "{down}"
    );
    let u = sim.update_cluster_version("c1", "1.33").await.unwrap();
    // While it runs: the old version is reported, and another update is refused.
    assert_eq!(sim.describe_cluster("c1").await.unwrap().version, "1.32");
    let busy = sim
        .update_cluster_config(
            "c1",
            &ClusterConfigUpdate::Logging {
                enabled: vec![LogType::Api],
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(busy, ApiError::ResourceInUse(_)));
    sim.sleep(9 * 60).await;
    assert_eq!(
        sim.describe_update("c1", &u.id, None, None)
            .await
            .unwrap()
            .status,
        UpdateStatus::InProgress
    );
    sim.sleep(60).await;
    assert_eq!(
        sim.describe_update("c1", &u.id, None, None)
            .await
            .unwrap()
            .status,
        UpdateStatus::Successful
    );
    let c = sim.describe_cluster("c1").await.unwrap();
    assert_eq!((c.version.as_str(), c.status), ("1.33", Status::Active));
}

#[tokio::test]
async fn add_on_versions_must_fit_the_cluster_version() {
    let sim = sim();
    active_cluster(&sim, "1.34").await;
    let req = |v: &str| AddonRequest {
        cluster: "c1".into(),
        name: "eks-pod-identity-agent".into(),
        version: v.into(),
        configuration_values: None,
        service_account_role_arn: None,
        pod_identity_associations: vec![],
        resolve_conflicts: None,
        namespace_config: None,
        tags: Tags::new(),
        client_request_token: format!("tok-{v}"),
    };
    let e = sim
        .create_addon(&req("v1.3.4-eksbuild.1"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ApiError::InvalidParameter(m) if m.contains("not supported on Kubernetes 1.34")),
        "{e}"
    );
    sim.create_addon(&req("v1.3.8-eksbuild.2")).await.unwrap();
    let e = sim.create_addon(&req("v1.3.8-eksbuild.2")).await;
    assert!(e.is_ok(), "same token is an idempotent retry");
    let unknown = AddonRequest {
        name: "no-such-addon".into(),
        client_request_token: "x".into(),
        ..req("v1.0.0")
    };
    assert!(matches!(
        sim.create_addon(&unknown).await.unwrap_err(),
        ApiError::InvalidParameter(_)
    ));
}

#[tokio::test]
async fn node_groups_stay_within_the_skew_rules() {
    let sim = sim();
    active_cluster(&sim, "1.33").await;
    let ng: NodeGroupDoc = serde_yaml_ng::from_str("apiVersion: keelson.dev/v1alpha1\nkind: NodeGroup\nmetadata: {name: g}\nspec: {nodeRoleArn: 'arn:aws:iam::111122223333:role/n', subnetIds: [subnet-0a1b2c3d4e5f60001], scaling: {minSize: 1, maxSize: 3}}\n").unwrap();
    let req = |v: &str, name: &str| {
        let mut spec = ng.spec.clone();
        spec.version = Some(v.to_string());
        CreateNodeGroup {
            cluster: "c1".into(),
            name: name.into(),
            spec,
            client_request_token: format!("t-{name}"),
        }
    };
    assert!(matches!(
        sim.create_nodegroup(&req("1.34", "ahead"))
            .await
            .unwrap_err(),
        ApiError::InvalidParameter(_)
    ));
    assert!(matches!(
        sim.create_nodegroup(&req("1.30", "old")).await.unwrap_err(),
        ApiError::InvalidParameter(_)
    ));
    sim.create_nodegroup(&req("1.33", "lagging")).await.unwrap();
    sim.sleep(3600).await;
    sim.update_cluster_version("c1", "1.34").await.unwrap();
    sim.sleep(3600).await;
    // A new group takes only the cluster's version (CreateNodegroup `version`), though
    // an existing one may trail it.
    assert!(matches!(
        sim.create_nodegroup(&req("1.33", "new-lagging"))
            .await
            .unwrap_err(),
        ApiError::InvalidParameter(_)
    ));
    // A node group a minor behind blocks the next control-plane hop.
    let e = sim.update_cluster_version("c1", "1.35").await.unwrap_err();
    assert!(
        matches!(&e, ApiError::InvalidRequest(m) if m.contains("lagging")),
        "{e}"
    );
}

#[tokio::test]
async fn deletion_protection_and_attached_node_groups_stop_a_delete() {
    let sim = sim();
    sim.create_cluster(&CreateCluster {
        spec: ClusterSpec {
            deletion_protection: true,
            ..spec("1.34")
        },
        ..create("c1", "1.34", "t")
    })
    .await
    .unwrap();
    sim.sleep(12 * 60).await;
    assert!(matches!(
        sim.delete_cluster("c1").await.unwrap_err(),
        ApiError::InvalidRequest(_)
    ));
    sim.update_cluster_config(
        "c1",
        &ClusterConfigUpdate::DeletionProtection { enabled: false },
    )
    .await
    .unwrap();
    sim.sleep(3 * 60).await;
    sim.delete_cluster("c1").await.unwrap();
    sim.sleep(8 * 60).await;
    assert!(matches!(
        sim.describe_cluster("c1").await.unwrap_err(),
        ApiError::NotFound(_)
    ));
}

#[tokio::test]
async fn authentication_mode_moves_one_way() {
    let sim = sim();
    active_cluster(&sim, "1.34").await;
    let e = sim
        .update_cluster_config(
            "c1",
            &ClusterConfigUpdate::Access {
                authentication_mode: AuthenticationMode::ConfigMap,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::InvalidParameter(_)));
}

#[tokio::test]
async fn only_one_fargate_profile_changes_at_a_time() {
    let sim = sim();
    active_cluster(&sim, "1.34").await;
    let fp = |n: &str| CreateFargateProfile {
        cluster: "c1".into(),
        name: n.into(),
        spec: FargateProfileSpec {
            pod_execution_role_arn: "arn:aws:iam::111122223333:role/f".into(),
            subnet_ids: vec![],
            selectors: vec![FargateSelector {
                namespace: n.into(),
                labels: Default::default(),
            }],
            tags: Tags::new(),
        },
        client_request_token: format!("t-{n}"),
    };
    sim.create_fargate_profile(&fp("a")).await.unwrap();
    assert!(matches!(
        sim.create_fargate_profile(&fp("b")).await.unwrap_err(),
        ApiError::ResourceInUse(_)
    ));
    sim.sleep(120).await;
    sim.create_fargate_profile(&fp("b")).await.unwrap();
}

#[tokio::test]
async fn the_api_server_rejects_what_auto_mode_rejects() {
    let sim = sim();
    let mut s = spec("1.34");
    s.auto_mode = Some(AutoMode {
        compute: AutoCompute {
            enabled: true,
            node_pools: vec!["system".into()],
            node_role_arn: Some("arn:aws:iam::111122223333:role/n".into()),
        },
        block_storage: Toggle { enabled: true },
        load_balancing: Toggle { enabled: true },
    });
    sim.create_cluster(&CreateCluster {
        spec: s,
        ..create("c1", "1.34", "t")
    })
    .await
    .unwrap();
    sim.sleep(720).await;
    let nc = serde_json::json!({"apiVersion": "eks.amazonaws.com/v1", "kind": "NodeClass", "metadata": {"name": "x"}, "spec": {"role": "arn:aws:iam::111122223333:role/n"}});
    let e = KubeApi::apply(&sim, "c1", &nc, "keelson")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not an ARN"), "{e}");
    let np = serde_json::json!({"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "p"}, "spec": {"template": {"spec": {"expireAfter": "720h", "nodeClassRef": {"group": "eks.amazonaws.com", "kind": "NodeClass", "name": "default"}}}}});
    let e = KubeApi::apply(&sim, "c1", &np, "keelson")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("may not exceed 21 days"), "{e}");
}

#[test]
fn state_survives_a_restart_and_a_running_update_keeps_running() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.json");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    {
        let sim = Sim::open(&path, T0, Speed::Instant).unwrap();
        rt.block_on(async {
            active_cluster(&sim, "1.33").await;
            sim.update_cluster_version("c1", "1.34").await.unwrap();
        });
        sim.flush().unwrap();
    }
    let sim = Sim::open(&path, T0 + 999_999, Speed::Instant).unwrap();
    rt.block_on(async {
        let c = sim.describe_cluster("c1").await.unwrap();
        assert_eq!((c.version.as_str(), c.status), ("1.33", Status::Updating));
        sim.sleep(600).await;
        assert_eq!(sim.describe_cluster("c1").await.unwrap().version, "1.34");
    });
}

#[test]
fn corrupt_or_foreign_state_files_are_errors_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.json");
    std::fs::write(
        &path,
        b"{\"format\": \"keelson-sim\", \"version\": 1, \"now\": ",
    )
    .unwrap();
    let e = Sim::open(&path, T0, Speed::Instant).unwrap_err();
    assert!(matches!(e, SimError::Corrupt { line: 1, .. }), "{e}");
    std::fs::write(&path, b"{\"terraform_version\": \"1.9.0\"}").unwrap();
    let e = Sim::open(&path, T0, Speed::Instant).unwrap_err();
    assert!(matches!(e, SimError::Foreign { .. }), "{e}");
    assert!(e.to_string().contains("not a keelson simulator state file"));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"{\"terraform_version\": \"1.9.0\"}"
    );
}

#[tokio::test]
async fn cluster_versions_follow_the_calendar_on_the_simulated_day() {
    let sim = sim();
    let v = sim.describe_cluster_versions().await.unwrap();
    let find = |m: &str| v.iter().find(|x| x.version == m).cloned();
    // Every version, as AWS answers with includeAll: the calendar needs those past
    // support too.
    assert_eq!(
        find("1.30").unwrap().status,
        "UNSUPPORTED",
        "1.30 left extended support on 2026-07-23"
    );
    assert_eq!(
        find("1.30").unwrap().end_of_extended_support.as_deref(),
        Some("2026-07-23")
    );
    assert_eq!(find("1.31").unwrap().status, "EXTENDED_SUPPORT");
    assert_eq!(find("1.35").unwrap().status, "STANDARD_SUPPORT");
    assert_eq!(v.iter().filter(|x| x.default_version).count(), 1);
}

#[tokio::test]
async fn accepted_writes_are_counted_per_cluster_and_refused_ones_are_not() {
    let sim = sim();
    active_cluster(&sim, "1.34").await;
    sim.create_cluster(&create("c2", "1.34", "t2"))
        .await
        .unwrap();
    let arn = sim.describe_cluster("c1").await.unwrap().arn;
    let tags: Tags = [("team".to_string(), "a".to_string())].into();
    sim.tag_resource(&arn, &tags).await.unwrap();
    sim.update_cluster_version("c1", "1.35").await.unwrap();
    // Refused while the update runs: not a write.
    assert!(sim.update_cluster_version("c1", "1.35").await.is_err());
    let w = sim.snapshot().writes;
    let ops = |c: &str| -> Vec<(String, u64)> {
        w.get(c)
            .map(|m| m.clone().into_iter().collect())
            .unwrap_or_default()
    };
    assert_eq!(
        ops("c1"),
        [
            ("CreateCluster".to_string(), 1),
            ("TagResource".to_string(), 1),
            ("UpdateClusterVersion".to_string(), 1),
        ]
    );
    assert_eq!(ops("c2"), [("CreateCluster".to_string(), 1)]);
}
