//! Auto Mode classes and bootstrap manifests against the simulator: one apply brings a new
//! cluster up with them, the plan shows them field by field, drift is found, a manifest
//! removed from git is pruned (and only what carries keelson's marker), an API the
//! cluster does not serve blocks the cluster before anything is applied.

use serde_json::{json, Value};

use keelson::model::Kind;
use keelson::plan::Action;

use crate::classes::STORAGE_CLASS;
use crate::simkit::*;
use crate::util::*;

const NAMESPACE: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n";
const ROLE: &str = "\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: read-all}
rules:
  - {apiGroups: [\"\"], resources: [pods], verbs: [get, list]}
";
const BINDING: &str = "\
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: readers, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: read-all}
subjects: [{kind: Group, name: team-a, apiGroup: rbac.authorization.k8s.io}]
";
const CRD: &str = "\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Cluster
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
";
const WIDGET: &str = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\n";

fn files(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut f = crate::classes::auto_with_classes();
    f.extend([
        ("auto/bootstrap/namespace.yaml", NAMESPACE),
        ("auto/bootstrap/rbac.yaml", ROLE),
        ("auto/bootstrap/binding.yaml", BINDING),
        ("auto/bootstrap/crd.yaml", CRD),
        ("auto/bootstrap/widget.yaml", WIDGET),
    ]);
    f.extend_from_slice(extra);
    f
}

fn loaded(files: &[(&str, &str)]) -> keelson::config::Loaded {
    let l = load(files);
    assert!(l.is_valid(), "{}", show(&l.diagnostics));
    l
}

fn object(sim: &keelson::adapters::sim::Sim, key: &str) -> Option<Value> {
    sim.snapshot().clusters["auto1"].kube.get(key).cloned()
}

#[tokio::test]
async fn one_apply_brings_a_new_cluster_up_with_its_classes_and_bootstrap_objects() {
    let sim = sim();
    let l = loaded(&files(&[]));
    let plan = plan_for(&sim, &l).await;
    let kube: Vec<String> = steps(&plan)
        .into_iter()
        .filter(|s| s.contains("Manifest") || s.contains("Class"))
        .collect();
    assert_eq!(
        kube,
        [
            "Create IngressClassParams alb",
            "Create IngressClass alb",
            "Create StorageClass auto-ebs-sc",
            "Create Manifest ConfigMap/kube-system/keelson-bootstrap",
            "Create Manifest CustomResourceDefinition/widgets.example.com",
            "Create Manifest Namespace/team-a",
            "Create Manifest ClusterRole/read-all",
            "Create Manifest RoleBinding/team-a/readers",
            "Create Manifest Widget.example.com/w1",
        ]
    );
    converge(&sim, &l).await;
    let sc = object(&sim, "StorageClass/auto-ebs-sc").unwrap();
    assert_eq!(sc["provisioner"], "ebs.csi.eks.amazonaws.com");
    assert_eq!(
        sc["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "keelson"
    );
    let ns = object(&sim, "Namespace/team-a").unwrap();
    assert_eq!(ns["metadata"]["labels"]["keelson.dev/bootstrap"], "true");
    assert!(object(&sim, "RoleBinding/team-a/readers").is_some());
    assert!(object(&sim, "Widget/w1").is_some());
    assert_eq!(
        object(&sim, "IngressClassParams/alb").unwrap()["spec"]["scheme"],
        "internet-facing"
    );
    let again = plan_for(&sim, &l).await;
    assert!(
        !again.has_changes(),
        "{}",
        keelson::plan::render::text(&again)
    );
}

#[tokio::test]
async fn a_bootstrap_manifest_removed_from_git_is_pruned_and_unmarked_objects_stay() {
    let sim = sim();
    converge(&sim, &loaded(&files(&[]))).await;
    // Someone else's ClusterRole, without keelson's labels.
    let mut state = sim.snapshot();
    state.clusters.get_mut("auto1").unwrap().kube.insert(
        "ClusterRole/theirs".into(),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
               "metadata": {"name": "theirs"}, "rules": []}),
    );
    sim.replace(state);
    let mut without: Vec<(&str, &str)> = files(&[]);
    without.retain(|(p, _)| !p.ends_with("rbac.yaml") && !p.ends_with("binding.yaml"));
    let l = loaded(&without);
    let plan = plan_for(&sim, &l).await;
    let deletes: Vec<String> = steps(&plan)
        .into_iter()
        .filter(|s| s.starts_with("Delete"))
        .collect();
    // The binding goes before the role it binds; the other ClusterRole is not touched.
    assert_eq!(
        deletes,
        [
            "Delete Manifest RoleBinding/team-a/readers",
            "Delete Manifest ClusterRole/read-all"
        ]
    );
    converge(&sim, &l).await;
    assert!(object(&sim, "ClusterRole/read-all").is_none());
    assert!(object(&sim, "RoleBinding/team-a/readers").is_none());
    assert!(object(&sim, "ClusterRole/theirs").is_some());
    assert!(object(&sim, "Namespace/team-a").is_some());
    // The inventory lets go of the kinds once their objects are gone.
    converge(&sim, &l).await;
    let inventory = object(&sim, "ConfigMap/kube-system/keelson-bootstrap").unwrap();
    let kinds = inventory["data"]["kinds"].as_str().unwrap();
    assert!(!kinds.contains("ClusterRole"), "{kinds}");
    assert!(!plan_for(&sim, &l).await.has_changes());

    // Removing the whole bootstrap directory prunes the rest (Auto Mode clusters read
    // the inventory even with nothing in git).
    let mut none: Vec<(&str, &str)> = files(&[]);
    none.retain(|(p, _)| !p.contains("bootstrap/"));
    let l = loaded(&none);
    converge(&sim, &l).await;
    assert!(object(&sim, "Namespace/team-a").is_none());
    assert!(object(&sim, "CustomResourceDefinition/widgets.example.com").is_none());
    assert!(object(&sim, "ClusterRole/theirs").is_some());
}

#[tokio::test]
async fn drift_is_shown_field_by_field_and_an_immutable_change_replaces_the_class() {
    let sim = sim();
    let l = loaded(&files(&[]));
    converge(&sim, &l).await;
    let mut state = sim.snapshot();
    let c = state.clusters.get_mut("auto1").unwrap();
    c.kube.get_mut("ClusterRole/read-all").unwrap()["rules"][0]["verbs"] = json!(["get"]);
    sim.replace(state);
    let plan = plan_for(&sim, &l).await;
    let step = plan.clusters[0]
        .steps
        .iter()
        .find(|s| s.resource.name == "ClusterRole/read-all")
        .expect("an update of the drifted role");
    assert_eq!(step.action, Action::Update);
    // A list is compared as a whole, as for NodePool requirements.
    assert_eq!(step.changes.len(), 1, "{:?}", step.changes);
    assert_eq!(step.changes[0].path, "rules");
    assert_eq!(
        step.changes[0].before.as_ref().unwrap()[0]["verbs"],
        json!(["get"])
    );
    assert_eq!(
        step.changes[0].after.as_ref().unwrap()[0]["verbs"],
        json!(["get", "list"])
    );

    // A StorageClass's provisioner cannot change in place: the plan replaces it.
    let io2 = STORAGE_CLASS.replace("type: gp3", "type: io2");
    let mut f = files(&[]);
    f.retain(|(p, _)| *p != "auto/storage.yaml");
    f.push(("auto/storage.yaml", &io2));
    let l = loaded(&f);
    let plan = plan_for(&sim, &l).await;
    let step = plan.clusters[0]
        .steps
        .iter()
        .find(|s| s.resource.kind == Kind::StorageClass)
        .unwrap();
    assert_eq!(step.action, Action::Replace);
    assert_eq!(step.changes[0].path, "parameters.type");
    converge(&sim, &l).await;
    assert_eq!(
        object(&sim, "StorageClass/auto-ebs-sc").unwrap()["parameters"]["type"],
        "io2"
    );
}

#[tokio::test]
async fn a_manifest_of_an_api_nobody_serves_blocks_the_cluster_before_anything_is_applied() {
    let sim = sim();
    let mut f = files(&[]);
    f.retain(|(p, _)| !p.ends_with("crd.yaml"));
    let l = loaded(&f);
    let plan = plan_for(&sim, &l).await;
    assert!(plan.is_blocked());
    let c = &plan.clusters[0];
    assert!(c.steps.is_empty(), "nothing is applied");
    let b = &c.blocked[0];
    assert_eq!(b.resource.name, "Widget.example.com/w1");
    assert!(
        b.message.contains("example.com/v1 is not served")
            && b.message.contains("auto/bootstrap/widget.yaml:1"),
        "{}",
        b.message
    );
}

#[tokio::test]
async fn the_example_fleet_comes_up_with_its_classes_and_prunes_a_removed_bootstrap_manifest() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fleet");
    let mut l = keelson::sync::load_repo(&root, TODAY).unwrap();
    assert!(l.is_valid(), "{}", show(&l.diagnostics));
    let sim = sim();
    converge(&sim, &l).await;
    let state = sim.snapshot();
    for name in ["staging-apne1", "prod-apne1"] {
        let kube = &state.clusters[name].kube;
        assert_eq!(
            kube["StorageClass/auto-ebs-sc"]["provisioner"],
            "ebs.csi.eks.amazonaws.com"
        );
        assert_eq!(
            kube["IngressClass/alb"]["spec"]["controller"],
            "eks.amazonaws.com/alb"
        );
        assert_eq!(
            kube["IngressClassParams/alb"]["spec"]["scheme"],
            "internet-facing"
        );
        assert!(kube.contains_key("Namespace/web"), "{name}");
        assert!(kube.contains_key("RoleBinding/web/web-view"), "{name}");
    }
    assert!(!plan_for(&sim, &l).await.has_changes());

    // rbac.yaml leaves git in staging: its RoleBinding is pruned, nothing else.
    let staging = l
        .repo
        .clusters
        .iter_mut()
        .find(|c| c.name() == "staging-apne1")
        .unwrap();
    staging
        .bootstrap
        .retain(|b| !b.origin.file.ends_with("rbac.yaml"));
    let plan = plan_for(&sim, &l).await;
    let deletes: Vec<String> = steps(&plan)
        .into_iter()
        .filter(|s| s.starts_with("Delete"))
        .collect();
    assert_eq!(deletes, ["Delete Manifest RoleBinding/web/web-view"]);
    converge(&sim, &l).await;
    let state = sim.snapshot();
    assert!(!state.clusters["staging-apne1"]
        .kube
        .contains_key("RoleBinding/web/web-view"));
    assert!(state.clusters["prod-apne1"]
        .kube
        .contains_key("RoleBinding/web/web-view"));
    assert!(state.clusters["staging-apne1"]
        .kube
        .contains_key("Namespace/web"));
}

#[tokio::test]
async fn the_simulator_admits_the_classes_as_the_api_server_does() {
    use keelson::ports::{ApiError, KubeApi};
    let sim = sim();
    converge(&sim, &loaded(&files(&[]))).await;
    // IngressClassParams enums, as the CRD's.
    let bad = json!({"apiVersion": "eks.amazonaws.com/v1", "kind": "IngressClassParams",
                     "metadata": {"name": "x"}, "spec": {"scheme": "public"}});
    let e = sim.apply("auto1", &bad, "keelson").await.unwrap_err();
    assert!(
        matches!(&e, ApiError::InvalidParameter(m) if m.contains("spec.scheme: Unsupported value")),
        "{e:?}"
    );
    // A StorageClass's provisioner cannot change in place.
    let mut sc = object(&sim, "StorageClass/auto-ebs-sc").unwrap();
    sc["provisioner"] = json!("ebs.csi.aws.com");
    let e = sim.apply("auto1", &sc, "keelson").await.unwrap_err();
    assert!(
        matches!(&e, ApiError::InvalidParameter(m) if m.contains("provisioner: Forbidden")),
        "{e:?}"
    );
    // Namespaced objects are kept per namespace and deleted by namespace.
    let cm = |ns: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": ns}});
    sim.apply("auto1", &cm("a"), "keelson").await.unwrap();
    sim.apply("auto1", &cm("b"), "keelson").await.unwrap();
    sim.delete_in("auto1", "v1", "ConfigMap", Some("a"), "c")
        .await
        .unwrap();
    assert!(object(&sim, "ConfigMap/a/c").is_none());
    assert!(object(&sim, "ConfigMap/b/c").is_some());
    // Without Auto Mode there is no IngressClassParams API.
    let mut state = sim.snapshot();
    state.clusters.get_mut("auto1").unwrap().live.auto_mode = None;
    sim.replace(state);
    let ok = json!({"apiVersion": "eks.amazonaws.com/v1", "kind": "IngressClassParams",
                    "metadata": {"name": "y"}, "spec": {}});
    assert!(matches!(
        sim.apply("auto1", &ok, "keelson").await,
        Err(ApiError::NotFound(_))
    ));
}
