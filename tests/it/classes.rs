//! StorageClass, IngressClass and IngressClassParams: the documents load as keelson's
//! kinds, their fields are Kubernetes' own (round-tripped through k8s-openapi's types),
//! and the Auto Mode rules fire (the cases are in `rules.rs`).

use k8s_openapi::api::networking::v1::IngressClass;
use k8s_openapi::api::storage::v1::StorageClass;
use serde_json::Value;

use crate::util::*;

/// A default EBS StorageClass as the EKS user guide writes it (create-storage-class),
/// with every other StorageClass field set.
pub(crate) const STORAGE_CLASS: &str = "\
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: auto-ebs-sc
  annotations:
    storageclass.kubernetes.io/is-default-class: \"true\"
provisioner: ebs.csi.eks.amazonaws.com
parameters: {type: gp3, encrypted: \"true\"}
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
allowVolumeExpansion: true
mountOptions: [noatime]
allowedTopologies:
  - matchLabelExpressions:
      - key: eks.amazonaws.com/compute-type
        values: [auto]
";

/// An ALB IngressClass as the EKS user guide writes it (auto-configure-alb).
pub(crate) const INGRESS_CLASS: &str = "\
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: alb
  annotations:
    ingressclass.kubernetes.io/is-default-class: \"true\"
spec:
  controller: eks.amazonaws.com/alb
  parameters:
    apiGroup: eks.amazonaws.com
    kind: IngressClassParams
    name: alb
";

/// Its IngressClassParams, with the fields of the guide's reference table.
pub(crate) const PARAMS: &str = "\
apiVersion: eks.amazonaws.com/v1
kind: IngressClassParams
metadata: {name: alb}
spec:
  scheme: internet-facing
  ipAddressType: dualstack
  namespaceSelector: {matchLabels: {environment: prod}}
  group: {name: retail-apps}
  subnets: {matchTags: {Environment: [prod]}}
  certificateARNs: [arn:aws:acm:ap-northeast-1:111122223333:certificate/1234]
  tags: [{key: Team, value: platform}]
  loadBalancerAttributes: [{key: idle_timeout.timeout_seconds, value: \"60\"}]
";

/// The fleet, the Auto Mode cluster of `util.rs` and the three classes above.
pub(crate) fn auto_with_classes() -> Vec<(&'static str, &'static str)> {
    vec![
        ("keelson.yaml", FLEET),
        ("auto/cluster.yaml", AUTO_CLUSTER),
        ("auto/storage.yaml", STORAGE_CLASS),
        ("auto/ingress.yaml", INGRESS_CLASS),
        ("auto/params.yaml", PARAMS),
    ]
}

fn repo(extra: &[(&str, &str)]) -> keelson::config::Loaded {
    let mut files = auto_with_classes();
    files.extend_from_slice(extra);
    load(&files)
}

#[test]
fn the_user_guide_classes_load_as_keelson_kinds() {
    let loaded = repo(&[]);
    assert!(
        loaded.diagnostics.is_empty(),
        "{}",
        show(&loaded.diagnostics)
    );
    let c = &loaded.repo.clusters[0];
    assert_eq!(c.storage_classes.len(), 1);
    assert_eq!(c.ingress_classes.len(), 1);
    assert_eq!(c.ingress_class_params.len(), 1);
    assert!(c.manifests.is_empty(), "classes are not plain manifests");
}

/// Every field keelson reads is a field of Kubernetes' own type and the reverse: the
/// k8s-openapi objects below are written without `..Default::default()`, so a field
/// added to Kubernetes' type stops this test from compiling until the model has it too.
#[test]
fn storage_and_ingress_classes_have_exactly_kubernetes_fields() {
    use k8s_openapi::api::core::v1::{TopologySelectorLabelRequirement, TopologySelectorTerm};
    use k8s_openapi::api::networking::v1::{IngressClassParametersReference, IngressClassSpec};
    let sc = StorageClass {
        metadata: Default::default(),
        provisioner: "p".into(),
        parameters: Some([("k".to_string(), "v".to_string())].into()),
        reclaim_policy: Some("Delete".into()),
        volume_binding_mode: Some("Immediate".into()),
        allow_volume_expansion: Some(true),
        mount_options: Some(vec!["ro".into()]),
        allowed_topologies: Some(vec![TopologySelectorTerm {
            match_label_expressions: Some(vec![TopologySelectorLabelRequirement {
                key: "k".into(),
                values: vec!["v".into()],
            }]),
        }]),
    };
    let ic = IngressClass {
        metadata: Default::default(),
        spec: Some(IngressClassSpec {
            controller: Some("c".into()),
            parameters: Some(IngressClassParametersReference {
                api_group: Some("g".into()),
                kind: "k".into(),
                name: "n".into(),
                namespace: Some("ns".into()),
                scope: Some("Namespace".into()),
            }),
        }),
    };
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let sc = serde_json::to_value(&sc).unwrap();
    let ic = serde_json::to_value(&ic).unwrap();
    use keelson::model::Kind;
    assert_eq!(keys(&sc), schema_fields(Kind::StorageClass, None));
    assert_eq!(
        keys(&sc["allowedTopologies"][0]),
        schema_fields(Kind::StorageClass, Some("TopologySelectorTerm"))
    );
    assert_eq!(
        keys(&sc["allowedTopologies"][0]["matchLabelExpressions"][0]),
        schema_fields(Kind::StorageClass, Some("TopologyRequirement"))
    );
    assert_eq!(
        keys(&ic["spec"]),
        schema_fields(Kind::IngressClass, Some("IngressClassSpec"))
    );
    assert_eq!(
        keys(&ic["spec"]["parameters"]),
        schema_fields(Kind::IngressClass, Some("IngressClassParametersRef"))
    );

    // And the documents of the user guide read by keelson go through k8s-openapi unchanged.
    let loaded = repo(&[]);
    let c = &loaded.repo.clusters[0];
    let ours = serde_json::to_value(&c.storage_classes[0].value).unwrap();
    let theirs: StorageClass = serde_json::from_value(ours.clone()).unwrap();
    assert_eq!(serde_json::to_value(theirs).unwrap(), ours);
    let ours = serde_json::to_value(&c.ingress_classes[0].value).unwrap();
    let theirs: IngressClass = serde_json::from_value(ours.clone()).unwrap();
    assert_eq!(serde_json::to_value(theirs).unwrap(), ours);
}

fn schema_fields(kind: keelson::model::Kind, def: Option<&str>) -> Vec<String> {
    let schema = keelson::config::schema::schema_for(kind);
    let props = match def {
        None => &schema["properties"],
        Some(d) => &schema["$defs"][d]["properties"],
    };
    let mut keys: Vec<String> = props
        .as_object()
        .unwrap_or_else(|| panic!("{kind} {def:?}: {schema}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}
