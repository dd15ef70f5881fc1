//! The IAM policies in deploy/iam against the code and the SDK: every EKS operation the
//! adapter can call is allowed where it must be, nothing else is, and every `eks:` action
//! names a real operation of the EKS API.
//!
//! ```text
//!  src/adapters/aws/**.rs  ─┐  calls `.operation_name()` on the SDK client
//!  src/adapters/instrumented.rs ─┤  EksApi methods and their operation names
//!                           ├─► called operations ─► ⊆ apply policy, reads = plan policy
//!  aws-sdk-eks src/operation/ ─► the API's operations ─► every `eks:` action is one of them
//! ```
//!
//! Both lists are read from source, so an operation added to the adapter (or to the SDK's
//! model) changes what this test demands without editing it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `describe_addon_versions` → `DescribeAddonVersions`.
fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The operations of the EKS API as the aws-sdk-eks crate in Cargo.lock models them: one
/// module per operation under its `src/operation/` (generated from the service's Smithy
/// model, the same names as the API reference's "Actions" and IAM's `eks:` actions).
fn sdk_operations() -> BTreeSet<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).unwrap();
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"aws-sdk-eks\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_string())
        .expect("aws-sdk-eks in Cargo.lock");
    // Cargo unpacks registry crates into $CARGO_HOME/registry/src/<index>/<name>-<version>.
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cargo")
        });
    let dir = std::fs::read_dir(home.join("registry/src"))
        .unwrap()
        .filter_map(|e| {
            Some(
                e.ok()?
                    .path()
                    .join(format!("aws-sdk-eks-{version}/src/operation")),
            )
        })
        .find(|d| d.is_dir())
        .expect("the aws-sdk-eks sources cargo built keelson with");
    let ops: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            if p.extension()? != "rs" {
                return None;
            }
            Some(pascal(p.file_stem()?.to_str()?))
        })
        .collect();
    assert!(ops.len() > 50, "too few operations in {}", dir.display());
    ops
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every EKS operation keelson can call: the SDK client methods the AWS adapter calls
/// (`.describe_cluster()` and so on, filtered by the SDK's list), and the operation names
/// of the instrumented EksApi port.
fn called_operations(sdk: &BTreeSet<String>) -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&root().join("src/adapters/aws"), &mut files);
    let mut ops = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, _) in text.match_indices('.') {
            let rest = &text[i + 1..];
            let ident: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                .collect();
            if !ident.contains('_') || !rest[ident.len()..].starts_with("()") {
                continue;
            }
            let name = pascal(&ident);
            if sdk.contains(&name) {
                ops.insert(name);
            }
        }
    }
    let instrumented =
        std::fs::read_to_string(root().join("src/adapters/instrumented.rs")).unwrap();
    let eks_block = instrumented
        .split("instrumented! { EksApi")
        .nth(1)
        .and_then(|b| b.split("instrumented! {").next())
        .expect("the EksApi block of instrumented.rs");
    for line in eks_block.lines() {
        if let Some((_, op)) = line.trim().split_once("= \"") {
            let op = op.trim_end_matches("\";");
            assert!(
                sdk.contains(op),
                "instrumented.rs names `{op}`, which is not an EKS operation"
            );
            ops.insert(op.to_string());
        }
    }
    ops
}

fn policy(name: &str) -> Value {
    let path = root().join("deploy/iam").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
        other => panic!("Action is {other}"),
    }
}

/// The `eks:` actions a policy allows, without the prefix.
fn eks_actions(p: &Value) -> BTreeSet<String> {
    p["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .flat_map(actions)
        .filter_map(|a| a.strip_prefix("eks:").map(str::to_string))
        .collect()
}

/// A read in IAM's sense for EKS: the Describe*/List* operations (access levels Read and
/// List in the Service Authorization Reference for Amazon EKS).
fn is_read(op: &str) -> bool {
    op.starts_with("Describe") || op.starts_with("List")
}

/// The one call that is not a read and that a plan makes: a plan refreshes a cluster's
/// insights before it judges the `insights` gate (EKS re-evaluates the checks; nothing
/// about the cluster changes), so the read-only plan role may start one.
const PLAN_REFRESH: &[&str] = &["StartInsightsRefresh"];

/// Left out of the apply policy on purpose: deploy/README.md says to add it only when the
/// Fleet allows cluster deletion.
const OPT_IN: &[&str] = &["DeleteCluster"];

#[test]
fn every_eks_action_in_the_policies_is_an_operation_of_the_eks_api() {
    let sdk = sdk_operations();
    for file in ["keelson-apply-policy.json", "keelson-plan-policy.json"] {
        for a in eks_actions(&policy(file)) {
            assert!(
                sdk.contains(&a),
                "{file}: `eks:{a}` is not an EKS operation (aws-sdk-eks)"
            );
        }
    }
}

#[test]
fn the_apply_policy_allows_exactly_the_operations_the_adapter_calls() {
    let sdk = sdk_operations();
    let called = called_operations(&sdk);
    assert!(called.contains("DescribeCluster") && called.contains("ListAssociatedAccessPolicies"));
    let allowed = eks_actions(&policy("keelson-apply-policy.json"));
    let missing: Vec<_> = called
        .iter()
        .filter(|op| !allowed.contains(*op) && !OPT_IN.contains(&op.as_str()))
        .collect();
    assert!(missing.is_empty(), "the apply policy lacks {missing:?}");
    let extra: Vec<_> = allowed.difference(&called).collect();
    assert!(
        extra.is_empty(),
        "the apply policy allows operations keelson never calls: {extra:?}"
    );
    for op in OPT_IN {
        assert!(!allowed.contains(*op));
        let readme = std::fs::read_to_string(root().join("deploy/README.md")).unwrap();
        assert!(
            readme.contains(&format!("eks:{op}")),
            "deploy/README.md explains eks:{op}"
        );
    }
}

#[test]
fn the_plan_policy_allows_every_read_and_nothing_else() {
    let sdk = sdk_operations();
    let reads: BTreeSet<String> = called_operations(&sdk)
        .into_iter()
        .filter(|op| is_read(op) || PLAN_REFRESH.contains(&op.as_str()))
        .collect();
    let p = policy("keelson-plan-policy.json");
    assert_eq!(eks_actions(&p), reads);
    for s in p["Statement"].as_array().unwrap() {
        for a in actions(s) {
            match a.as_str() {
                "sts:AssumeRole" => assert_eq!(
                    s["Resource"], "arn:aws:iam::*:role/keelson-plan-operator",
                    "the plan role may assume only the read-only plan roles"
                ),
                a => assert!(
                    a.strip_prefix("eks:")
                        .is_some_and(|op| is_read(op) || PLAN_REFRESH.contains(&op)),
                    "`{a}` in the plan policy is not a read"
                ),
            }
        }
    }
}

#[test]
fn pass_role_names_the_service_principals_that_exist() {
    let p = policy("keelson-apply-policy.json");
    let pass = p["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| actions(s) == ["iam:PassRole"])
        .unwrap();
    let services = &pass["Condition"]["StringEquals"]["iam:PassedToService"];
    // EKS Pod Identity's principal is pods.eks.amazonaws.com (EKS User Guide, "Create the
    // IAM role for Pod Identity"); eks-pods.amazonaws.com does not exist.
    assert_eq!(
        services,
        &serde_json::json!([
            "eks.amazonaws.com",
            "pods.eks.amazonaws.com",
            "ec2.amazonaws.com"
        ])
    );
}

#[test]
fn each_role_is_trusted_only_by_whom_the_readme_says() {
    let trust = |f: &str| policy(&format!("trust/{f}"))["Statement"][0].clone();
    assert_eq!(
        trust("keelson-daemon-pod-identity.json")["Principal"]["Service"],
        "pods.eks.amazonaws.com"
    );
    assert_eq!(
        trust("keelson-operator.json")["Principal"]["AWS"],
        "arn:aws:iam::111122223333:role/keelson"
    );
    assert_eq!(
        trust("keelson-plan-operator.json")["Principal"]["AWS"],
        "arn:aws:iam::111122223333:role/keelson-plan"
    );
    let gh = trust("keelson-plan-github-oidc.json");
    assert_eq!(gh["Action"], "sts:AssumeRoleWithWebIdentity");
    assert!(
        gh["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
            .as_str()
            .unwrap()
            .ends_with(":pull_request")
    );
    let workflow =
        std::fs::read_to_string(root().join("deploy/github-actions/keelson-plan.yml")).unwrap();
    assert!(workflow.contains("KEELSON_ROLE_NAME=keelson-plan-operator"));
    assert!(workflow.contains("role/keelson-plan\n"));
}
