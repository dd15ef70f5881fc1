//! keelson's enums and limits against the EKS API's own models: the aws-sdk-eks crate's
//! enums (`values()`), the SDK's CreateAccessEntry documentation for the one enum the
//! API types as a plain string, and botocore's service model for lengths and patterns.
//! A dependency bump that adds an AMI type or changes a limit fails here until the model
//! (and so the schemas) follows.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use aws_sdk_eks::types as sdk;
use keelson::config::schema::schema_for;
use keelson::model::limits::{Source, LIMITS};
use keelson::model::*;
use serde_json::Value;

/// A keelson enum's values, as written in files.
macro_rules! values_of {
    ($t:ty) => {
        <$t>::ALL
            .iter()
            .map(|v| v.as_str().to_string())
            .collect::<BTreeSet<String>>()
    };
}

/// Every keelson enum that mirrors an SDK enum: (schema definition name, keelson's
/// values, the SDK's values).
fn sdk_pairs() -> Vec<(&'static str, BTreeSet<String>, BTreeSet<String>)> {
    sdk_pairs_named()
        .into_iter()
        .map(|(k, _, ours, theirs)| (k, ours, theirs))
        .collect()
}

/// [`sdk_pairs`] with the SDK type's name, which is botocore's shape name.
#[allow(clippy::type_complexity)]
fn sdk_pairs_named() -> Vec<(
    &'static str,
    &'static str,
    BTreeSet<String>,
    BTreeSet<String>,
)> {
    macro_rules! pairs {
        ($($k:ident => $s:ident),+ $(,)?) => {
            vec![$((
                stringify!($k),
                stringify!($s),
                values_of!($k),
                sdk::$s::values().iter().map(|v| v.to_string()).collect::<BTreeSet<String>>(),
            )),+]
        };
    }
    pairs! {
        AmiType => AmiTypes,
        CapacityType => CapacityTypes,
        NodeGroupTaintEffect => TaintEffect,
        AuthenticationMode => AuthenticationMode,
        IpFamily => IpFamily,
        SupportType => SupportType,
        AccessScopeType => AccessScopeType,
        ResolveConflicts => ResolveConflicts,
        LogType => LogType,
    }
}

#[test]
fn every_enum_keelson_mirrors_has_exactly_the_sdks_values() {
    for (name, ours, theirs) in sdk_pairs() {
        assert_eq!(
            ours, theirs,
            "{name}: keelson's values differ from aws-sdk-eks's; add the missing ones to the model"
        );
    }
}

/// The kinds whose documents go to the EKS API (not the Fleet, nor the Kubernetes
/// objects NodePool and NodeClass).
fn eks_kinds() -> &'static [Kind] {
    &Kind::ALL[1..7]
}

#[test]
fn the_eks_kinds_are_the_six_keelson_sends_to_eks() {
    let names: Vec<&str> = eks_kinds().iter().map(|k| k.name()).collect();
    assert_eq!(
        names.join(" "),
        "Cluster Addon NodeGroup FargateProfile AccessEntry PodIdentityAssociation"
    );
}

/// The string enums of the schemas of the kinds that go to the EKS API, by definition.
fn schema_enums() -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for &kind in eks_kinds() {
        let schema = schema_for(kind);
        let defs = schema["$defs"].as_object().cloned().unwrap_or_default();
        for (name, def) in defs {
            if let Some(values) = def["enum"].as_array() {
                let values = values
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect();
                out.insert(name, values);
            }
        }
    }
    out
}

#[test]
fn every_enum_in_the_eks_kinds_schemas_is_the_apis() {
    // A new enum in these schemas must be added to `sdk_pairs` (or, like the access entry
    // type, be checked against the API's documentation below).
    let pairs: BTreeMap<&str, BTreeSet<String>> = sdk_pairs()
        .into_iter()
        .map(|(name, _, theirs)| (name, theirs))
        .collect();
    let enums = schema_enums();
    for (name, values) in &enums {
        let theirs = match name.as_str() {
            "AccessEntryType" => documented_access_entry_types(),
            other => pairs.get(other).cloned().unwrap_or_else(|| {
                panic!("schema enum {other} has no EKS API counterpart in sdk_pairs(); add it")
            }),
        };
        assert_eq!(values, &theirs, "schema enum {name}");
    }
    for name in pairs.keys() {
        assert!(enums.contains_key(*name), "{name} is not in any schema");
    }
}

/// The workspace's `Cargo.lock` version of a package.
fn locked_version(package: &str) -> String {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap();
    let needle = format!("name = \"{package}\"\nversion = \"");
    let at = lock.find(&needle).unwrap() + needle.len();
    lock[at..].split('"').next().unwrap().to_string()
}

/// The source directory of the aws-sdk-eks crate keelson builds with, in Cargo's
/// registry.
fn sdk_source() -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap();
    let dir = format!("aws-sdk-eks-{}", locked_version("aws-sdk-eks"));
    let registry = home.join("registry/src");
    std::fs::read_dir(&registry)
        .unwrap_or_else(|e| panic!("{}: {e}", registry.display()))
        .filter_map(Result::ok)
        .map(|e| e.path().join(&dir))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| panic!("{dir} not found under {}", registry.display()))
}

/// The access entry types CreateAccessEntry documents ("Valid values are ..."): the API
/// types the field as a string, so the SDK has no enum for it.
fn documented_access_entry_types() -> BTreeSet<String> {
    let file = sdk_source().join("src/operation/create_access_entry/_create_access_entry_input.rs");
    let text = std::fs::read_to_string(&file).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("The type of the new access entry. Valid values are"))
        .unwrap_or_else(|| panic!("{}: no list of access entry types", file.display()));
    let list = line.split("Valid values are").nth(1).unwrap();
    let list = list.split("</p>").next().unwrap();
    list.split("<code>")
        .skip(1)
        .filter_map(|s| s.split("</code>").next())
        .map(str::to_string)
        .collect()
}

#[test]
fn access_entry_types_are_those_create_access_entry_documents() {
    let theirs = documented_access_entry_types();
    assert!(theirs.contains("HYPERPOD_LINUX"), "{theirs:?}");
    assert_eq!(values_of!(AccessEntryType), theirs);
}

/// botocore's EKS service model, when one is installed: `KEELSON_BOTOCORE_EKS`, the
/// `.venv` tests/run.sh makes, or the `python3` on the PATH.
fn botocore_model() -> Option<Value> {
    let rel = "botocore/data/eks/2017-11-01/service-2.json.gz";
    let mut candidates: Vec<PathBuf> = std::env::var_os("KEELSON_BOTOCORE_EKS")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/lib");
    if let Ok(entries) = std::fs::read_dir(&venv) {
        for e in entries.filter_map(Result::ok) {
            candidates.push(e.path().join("site-packages").join(rel));
        }
    }
    if let Ok(out) = std::process::Command::new("python3")
        .args([
            "-c",
            "import botocore, os; print(os.path.dirname(os.path.dirname(botocore.__file__)))",
        ])
        .output()
    {
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() && !dir.is_empty() {
            candidates.push(Path::new(&dir).join(rel));
        }
    }
    let path = candidates.into_iter().find(|p| p.is_file())?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    Some(serde_json::from_str(&text).unwrap())
}

#[test]
fn every_limit_from_botocore_equals_its_shape() {
    let Some(model) = botocore_model() else {
        // tests/run.sh installs botocore with moto; there, its absence is a failure.
        assert!(
            std::env::var_os("KEELSON_MOTO_URL").is_none(),
            "botocore's EKS model not found"
        );
        eprintln!("botocore not installed: skipping the comparison of limits with its EKS model");
        return;
    };
    let shapes = &model["shapes"];
    let mut checked = 0;
    for limit in LIMITS {
        let Source::Botocore(shape) = limit.source else {
            continue;
        };
        let s = &shapes[shape];
        assert!(s.is_object(), "botocore has no shape {shape}");
        assert_eq!(
            s["min"].as_u64().unwrap_or(0),
            limit.min,
            "{shape} min ({})",
            limit.what
        );
        assert_eq!(
            s["max"].as_u64(),
            Some(limit.max),
            "{shape} max ({})",
            limit.what
        );
        assert_eq!(s["pattern"].as_str(), limit.pattern, "{shape} pattern");
        checked += 1;
    }
    assert!(checked >= 10, "{checked}");
    // The enums, once more, against the model the SDK was generated from.
    for (name, sdk_name, ours, _) in sdk_pairs_named() {
        // The Rust SDK camel-cases botocore's `AMITypes`.
        let shape = if sdk_name == "AmiTypes" {
            "AMITypes"
        } else {
            sdk_name
        };
        let theirs: BTreeSet<String> = shapes[shape]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("botocore has no enum {shape}"))
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        assert_eq!(ours, theirs, "{name} against botocore's {shape}");
    }
}

#[test]
fn tag_maps_carry_the_apis_limits_in_every_eks_schema() {
    for &kind in eks_kinds() {
        let schema = schema_for(kind);
        let spec_ref = schema["properties"]["spec"]["$ref"].as_str().unwrap();
        let spec = &schema["$defs"][spec_ref.trim_start_matches("#/$defs/")];
        let tags = &spec["properties"]["tags"];
        assert_eq!(tags["maxProperties"], 50, "{kind}: {tags}");
        assert_eq!(tags["propertyNames"]["maxLength"], 128, "{kind}");
        assert_eq!(tags["additionalProperties"]["maxLength"], 256, "{kind}");
    }
}
