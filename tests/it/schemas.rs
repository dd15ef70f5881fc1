//! The JSON Schemas in `schemas/` and the Rust model types must agree.

use std::path::Path;

use keelson::cli::schema_text;
use keelson::config::schema::schema_for;
use keelson::model::*;
use serde_json::{json, Value};

fn on_disk(kind: Kind) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(kind.schema_file());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn schema_files_are_generated_from_the_types() {
    for &kind in Kind::ALL {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("schemas")
            .join(kind.schema_file());
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            schema_text(kind).unwrap(),
            "{} is out of date: run `cargo run -- schema --out-dir schemas`",
            path.display()
        );
    }
}

#[test]
fn there_is_one_schema_file_per_kind_and_nothing_else() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut want: Vec<String> = Kind::ALL.iter().map(|k| k.schema_file()).collect();
    want.sort();
    assert_eq!(found, want);
}

fn enum_values(kind: Kind, def: &str) -> Vec<String> {
    let schema = on_disk(kind);
    let e = &schema["$defs"][def]["enum"];
    e.as_array()
        .unwrap_or_else(|| panic!("{def} has no enum in {kind}: {}", schema["$defs"][def]))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn strings<T: Copy>(all: &[T], f: fn(T) -> &'static str) -> Vec<String> {
    all.iter().map(|v| f(*v).to_string()).collect()
}

#[test]
fn enums_in_the_schemas_are_exactly_the_rust_enums() {
    assert_eq!(
        enum_values(Kind::Addon, "ResolveConflicts"),
        strings(ResolveConflicts::ALL, ResolveConflicts::as_str)
    );
    assert_eq!(
        enum_values(Kind::Cluster, "AuthenticationMode"),
        strings(AuthenticationMode::ALL, AuthenticationMode::as_str)
    );
    assert_eq!(
        enum_values(Kind::Cluster, "LogType"),
        strings(LogType::ALL, LogType::as_str)
    );
    assert_eq!(
        enum_values(Kind::Cluster, "SupportType"),
        strings(SupportType::ALL, SupportType::as_str)
    );
    assert_eq!(
        enum_values(Kind::AccessEntry, "AccessEntryType"),
        strings(AccessEntryType::ALL, AccessEntryType::as_str)
    );
    assert_eq!(
        enum_values(Kind::AccessEntry, "AccessScopeType"),
        strings(AccessScopeType::ALL, AccessScopeType::as_str)
    );
    assert_eq!(
        enum_values(Kind::NodeGroup, "AmiType"),
        strings(AmiType::ALL, AmiType::as_str)
    );
    assert_eq!(
        enum_values(Kind::NodeGroup, "CapacityType"),
        strings(CapacityType::ALL, CapacityType::as_str)
    );
    assert_eq!(
        enum_values(Kind::NodeGroup, "NodeGroupTaintEffect"),
        strings(NodeGroupTaintEffect::ALL, NodeGroupTaintEffect::as_str)
    );
    assert_eq!(
        enum_values(Kind::NodePool, "ConsolidationPolicy"),
        strings(ConsolidationPolicy::ALL, ConsolidationPolicy::as_str)
    );
    assert_eq!(
        enum_values(Kind::NodePool, "RequirementOperator"),
        strings(RequirementOperator::ALL, RequirementOperator::as_str)
    );
    assert_eq!(
        enum_values(Kind::NodeClass, "SnatPolicy"),
        strings(SnatPolicy::ALL, SnatPolicy::as_str)
    );
    assert_eq!(
        enum_values(Kind::NodeClass, "NetworkPolicy"),
        strings(NetworkPolicy::ALL, NetworkPolicy::as_str)
    );
    assert_eq!(
        enum_values(Kind::Fleet, "ApplyMode"),
        strings(ApplyMode::ALL, ApplyMode::as_str)
    );
}

fn cluster_json() -> Value {
    json!({
        "apiVersion": "keelson.dev/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": "c1"},
        "spec": {
            "region": "eu-west-1",
            "version": "1.34",
            "stage": "prod",
            "roleArn": "arn:aws:iam::111122223333:role/cluster",
            "vpc": {"subnetIds": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]},
            "autoMode": {
                "compute": {"enabled": true, "nodePools": ["system"], "nodeRoleArn": "arn:aws:iam::111122223333:role/node"},
                "blockStorage": {"enabled": true},
                "loadBalancing": {"enabled": true}
            },
            "access": {"authenticationMode": "API"},
            "logging": ["api"]
        }
    })
}

fn validator(kind: Kind) -> jsonschema::Validator {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&on_disk(kind))
        .unwrap()
}

#[test]
fn schema_and_serde_accept_and_reject_the_same_documents() {
    let v = validator(Kind::Cluster);
    let good = cluster_json();
    assert!(v.is_valid(&good));
    assert!(serde_json::from_value::<ClusterDoc>(good.clone()).is_ok());
    // An unknown field at every level is rejected by both.
    for pointer in [
        "",
        "/metadata",
        "/spec",
        "/spec/vpc",
        "/spec/autoMode",
        "/spec/autoMode/compute",
        "/spec/access",
    ] {
        let mut bad = good.clone();
        bad.pointer_mut(pointer)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert("bogus".into(), json!(1));
        assert!(!v.is_valid(&bad), "schema accepted bogus at {pointer}");
        assert!(
            serde_json::from_value::<ClusterDoc>(bad).is_err(),
            "serde accepted bogus at {pointer}"
        );
    }
    // A wrong enum value is rejected by both.
    let mut bad = good.clone();
    bad["spec"]["access"]["authenticationMode"] = json!("api");
    assert!(!v.is_valid(&bad));
    assert!(serde_json::from_value::<ClusterDoc>(bad).is_err());
    // A missing required field is rejected by both.
    let mut bad = good.clone();
    bad["spec"].as_object_mut().unwrap().remove("region");
    assert!(!v.is_valid(&bad));
    assert!(serde_json::from_value::<ClusterDoc>(bad).is_err());
}

#[test]
fn every_example_document_serialises_back_to_something_its_schema_accepts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fleet");
    let loaded = keelson::sync::load_repo(&dir, crate::util::TODAY).unwrap();
    assert!(
        loaded.is_valid(),
        "{}",
        crate::util::show(&loaded.diagnostics)
    );
    let mut checked = 0;
    let mut check = |kind: Kind, value: Value| {
        let v = validator(kind);
        let errors: Vec<String> = v.iter_errors(&value).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{kind}: {errors:?}\n{value}");
        checked += 1;
    };
    let fleet = loaded.repo.fleet.as_ref().unwrap();
    check(Kind::Fleet, serde_json::to_value(&fleet.value).unwrap());
    for c in &loaded.repo.clusters {
        check(
            Kind::Cluster,
            serde_json::to_value(&c.cluster.value).unwrap(),
        );
        c.addons
            .iter()
            .for_each(|i| check(Kind::Addon, serde_json::to_value(&i.value).unwrap()));
        c.node_groups
            .iter()
            .for_each(|i| check(Kind::NodeGroup, serde_json::to_value(&i.value).unwrap()));
        c.fargate_profiles.iter().for_each(|i| {
            check(
                Kind::FargateProfile,
                serde_json::to_value(&i.value).unwrap(),
            )
        });
        c.access_entries
            .iter()
            .for_each(|i| check(Kind::AccessEntry, serde_json::to_value(&i.value).unwrap()));
        c.pod_identities.iter().for_each(|i| {
            check(
                Kind::PodIdentityAssociation,
                serde_json::to_value(&i.value).unwrap(),
            )
        });
        c.node_classes
            .iter()
            .for_each(|i| check(Kind::NodeClass, serde_json::to_value(&i.value).unwrap()));
        c.node_pools
            .iter()
            .for_each(|i| check(Kind::NodePool, serde_json::to_value(&i.value).unwrap()));
    }
    assert!(checked >= 30, "only {checked} documents checked");
    let _ = schema_for(Kind::Cluster);
}
