//! Auto Mode classes and bootstrap manifests against the real kube-apiserver of
//! tests/k8s/with-apiserver.sh (StorageClass and IngressClass are built in; the
//! IngressClassParams CRD is generated from keelson's schema): one apply creates them, the
//! server's defaults and managedFields are no drift, a removed manifest is pruned and an
//! object without keelson's labels stays.
//!
//! No kube-controller-manager runs there, so a deleted namespace would stay Terminating:
//! the namespace this test creates is never pruned, only the objects in it.

use std::sync::Arc;

use kube::api::{Api, DeleteParams, DynamicObject, PostParams};
use serde_json::json;

use crate::kube_real::{adapter, admin, kubeconfig, resource, serial, Real};
use crate::simkit;
use crate::util::load;

const NAMESPACE: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: keelson-team-a}\n";
const ROLE: &str = "\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: keelson-read-pods}
rules:
  - {apiGroups: [\"\"], resources: [pods], verbs: [get, list]}
";
const BINDING: &str = "\
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: readers, namespace: keelson-team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: keelson-read-pods}
subjects: [{kind: Group, name: team-a, apiGroup: rbac.authorization.k8s.io}]
";
const CONFIG: &str = "\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: keelson-team-a}
data: {level: info}
";

fn api(
    client: &kube::Client,
    group: &str,
    kind: &str,
    plural: &str,
    ns: Option<&str>,
) -> Api<DynamicObject> {
    let version = "v1";
    let r = resource(group, version, kind, plural);
    match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &r),
        None => Api::all_with(client.clone(), &r),
    }
}

#[tokio::test]
async fn classes_and_bootstrap_manifests_are_applied_compared_and_pruned_on_a_real_server() {
    let Some(path) = kubeconfig() else { return };
    let _turn = serial().await;
    let client = admin(&path).await;
    let roles = api(
        &client,
        "rbac.authorization.k8s.io",
        "ClusterRole",
        "clusterroles",
        None,
    );
    let bindings = api(
        &client,
        "rbac.authorization.k8s.io",
        "RoleBinding",
        "rolebindings",
        Some("keelson-team-a"),
    );
    let storage = api(
        &client,
        "storage.k8s.io",
        "StorageClass",
        "storageclasses",
        None,
    );
    let ingress = api(
        &client,
        "networking.k8s.io",
        "IngressClass",
        "ingressclasses",
        None,
    );
    let params = api(
        &client,
        "eks.amazonaws.com",
        "IngressClassParams",
        "ingressclassparams",
        None,
    );
    // A clean start for what this test owns; the namespace may stay from an earlier run.
    let _ = roles
        .delete("keelson-read-pods", &DeleteParams::default())
        .await;
    let _ = bindings.delete("readers", &DeleteParams::default()).await;
    let _ = storage
        .delete("auto-ebs-sc", &DeleteParams::default())
        .await;
    let _ = ingress.delete("alb", &DeleteParams::default()).await;
    let _ = params.delete("alb", &DeleteParams::default()).await;
    let _ = roles
        .delete("keelson-someone-elses", &DeleteParams::default())
        .await;
    let cm = api(&client, "", "ConfigMap", "configmaps", Some("kube-system"));
    let _ = cm
        .delete("keelson-bootstrap", &DeleteParams::default())
        .await;

    let files = |with_rbac: bool| {
        let mut f = crate::classes::auto_with_classes();
        f.push(("auto/bootstrap/namespace.yaml", NAMESPACE));
        f.push(("auto/bootstrap/config.yaml", CONFIG));
        if with_rbac {
            f.push(("auto/bootstrap/role.yaml", ROLE));
            f.push(("auto/bootstrap/binding.yaml", BINDING));
        }
        let l = load(&f);
        assert!(l.is_valid(), "{:?}", l.diagnostics);
        l
    };
    let loaded = files(true);
    let sim = simkit::sim();
    simkit::converge(&sim, &loaded).await;
    let real = Real {
        ports: keelson::observe::Ports {
            eks: Arc::new(sim.clone()),
            kube: Arc::new(adapter(&path, "admin")),
            clock: Arc::new(sim.clone()),
        },
        sim,
        loaded,
    };
    real.converge().await;
    let sc = storage.get("auto-ebs-sc").await.unwrap();
    assert_eq!(sc.data["provisioner"], "ebs.csi.eks.amazonaws.com");
    assert_eq!(
        sc.metadata.labels.unwrap_or_default()["app.kubernetes.io/managed-by"],
        "keelson"
    );
    assert_eq!(
        params.get("alb").await.unwrap().data["spec"]["scheme"],
        "internet-facing"
    );
    assert_eq!(
        ingress.get("alb").await.unwrap().data["spec"]["controller"],
        "eks.amazonaws.com/alb"
    );
    let role = roles.get("keelson-read-pods").await.unwrap();
    assert_eq!(
        role.metadata.labels.unwrap_or_default()["keelson.dev/bootstrap"],
        "true"
    );
    assert!(bindings.get("readers").await.is_ok());
    // Server defaults (reclaimPolicy, the namespace's finalizers) and managedFields are no
    // drift.
    let again = real.plan().await;
    assert!(
        !again.has_changes(),
        "{}",
        keelson::plan::render::text(&again)
    );

    // Drift in a field keelson sends is shown.
    let cms = api(
        &client,
        "",
        "ConfigMap",
        "configmaps",
        Some("keelson-team-a"),
    );
    let mut settings = cms.get("settings").await.unwrap();
    settings.data["data"]["level"] = json!("debug");
    cms.replace("settings", &PostParams::default(), &settings)
        .await
        .unwrap();
    let drift = real.plan().await;
    let step = drift.clusters[0]
        .steps
        .iter()
        .find(|s| s.resource.name == "ConfigMap/keelson-team-a/settings")
        .expect("the drifted ConfigMap");
    assert_eq!(step.changes[0].path, "data.level");

    // Someone else's ClusterRole, then the RBAC manifests leave git.
    roles
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole", "metadata": {"name": "keelson-someone-elses"}, "rules": []}))
            .unwrap(),
        )
        .await
        .unwrap();
    let without = Real {
        loaded: files(false),
        ..real
    };
    let plan = without.converge().await;
    let deletes: Vec<String> = plan.clusters[0]
        .steps
        .iter()
        .filter(|s| s.action == keelson::plan::Action::Delete)
        .map(|s| s.resource.name.clone())
        .collect();
    assert_eq!(
        deletes,
        [
            "RoleBinding/keelson-team-a/readers",
            "ClusterRole/keelson-read-pods"
        ]
    );
    assert!(roles.get_opt("keelson-read-pods").await.unwrap().is_none());
    assert!(bindings.get_opt("readers").await.unwrap().is_none());
    assert!(roles
        .get_opt("keelson-someone-elses")
        .await
        .unwrap()
        .is_some());
    assert!(cms.get_opt("settings").await.unwrap().is_some());
    let _ = roles
        .delete("keelson-someone-elses", &DeleteParams::default())
        .await;
}
