//! The Karpenter NodePool CRD against keelson, rule by rule: every `x-kubernetes-validations`
//! rule of the CRD has a counterpart in [`CEL_RULES`], and every OpenAPI constraint of
//! `spec` (pattern, enum, minimum, maximum, minLength, maxLength, minItems, maxItems,
//! maxProperties, required, `x-kubernetes-list-type: set`) is in keelson's generated
//! NodePool schema at the same place. A Karpenter bump that adds or changes one fails
//! here until keelson follows.
//!
//! ```text
//!  karpenter.sh_nodepools.yaml ──walk spec──┬─ CEL rule ───► CEL_RULES (path, rule) ─► counterpart
//!                                           └─ constraint ─► schemas/nodepool.schema.json, same path
//! ```
//!
//! The CRD is read from Go's module cache (the `sigs.k8s.io/karpenter` module at
//! [`KARPENTER_VERSION`]), or from `KEELSON_NODEPOOL_CRD`, which tests/k8s/with-apiserver.sh
//! exports. Without either (no Go on the machine) the test says so and checks nothing.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

use crate::config::diag::{Rule, Severity};
use crate::config::schema::schema_for;
use crate::model::{Kind, KARPENTER_VERSION};

/// What stands for a CEL rule in keelson.
#[derive(Debug, Clone, Copy)]
enum Counterpart {
    /// A rule of `config/rules/nodepool.rs`.
    Rule(Rule),
    /// A constraint of the generated schema (`minLength: 1` for `self != ''`).
    Schema,
    /// A transition rule (`oldSelf`): only an update can break it, so the plan replaces
    /// the NodePool instead of updating it (`plan/kube.rs`).
    Plan,
}

/// Every `x-kubernetes-validations` rule of the CRD, by the path of the schema node that
/// carries it and its counterpart.
const CEL_RULES: &[(&str, Counterpart, &[&str])] = &[
    ("spec", Counterpart::Plan, &["has(self.replicas) == has(oldSelf.replicas)"]),
    (
        "spec",
        Counterpart::Rule(Rule::NodePoolStatic),
        &[
            "!has(self.replicas) || (!has(self.limits) || size(self.limits) == 0 || (size(self.limits) == 1 && 'nodes' in self.limits))",
            "!has(self.replicas) || !has(self.weight)",
        ],
    ),
    (
        "spec.disruption.budgets",
        Counterpart::Rule(Rule::NodePoolBudget),
        &["self.all(x, has(x.schedule) == has(x.duration))"],
    ),
    (
        "spec.template.metadata.labels",
        Counterpart::Rule(Rule::NodePoolLabel),
        &[
            r#"self.all(x, x in ["karpenter.sh/capacity-type", "karpenter.sh/nodepool"] || !x.find("^([^/]+)").endsWith("karpenter.sh"))"#,
            r#"self.all(x, x != "karpenter.sh/nodepool")"#,
            r#"self.all(x, x != "kubernetes.io/hostname")"#,
        ],
    ),
    (
        "spec.template.spec.nodeClassRef",
        Counterpart::Plan,
        &["self.group == oldSelf.group", "self.kind == oldSelf.kind"],
    ),
    ("spec.template.spec.nodeClassRef.group", Counterpart::Schema, &["self != ''"]),
    ("spec.template.spec.nodeClassRef.kind", Counterpart::Schema, &["self != ''"]),
    ("spec.template.spec.nodeClassRef.name", Counterpart::Schema, &["self != ''"]),
    (
        "spec.template.spec.requirements",
        Counterpart::Rule(Rule::NodePoolRequirement),
        &[
            "self.all(x, x.operator == 'In' ? x.values.size() != 0 : true)",
            "self.all(x, (x.operator == 'Gt' || x.operator == 'Lt' || x.operator == 'Gte' || x.operator == 'Lte') ? (x.values.size() == 1 && int(x.values[0]) >= 0) : true)",
            "self.all(x, (x.operator == 'In' && has(x.minValues)) ? x.values.size() >= x.minValues : true)",
        ],
    ),
    (
        "spec.template.spec.requirements.items.key",
        Counterpart::Rule(Rule::NodePoolLabel),
        &[
            r#"self in ["karpenter.sh/capacity-type", "karpenter.sh/nodepool"] || !self.find("^([^/]+)").endsWith("karpenter.sh")"#,
            r#"self != "karpenter.sh/nodepool""#,
            r#"self != "kubernetes.io/hostname""#,
        ],
    ),
];

/// [`CEL_RULES`], one `(path, rule, counterpart)` per rule.
fn cel_rules() -> impl Iterator<Item = (&'static str, &'static str, Counterpart)> {
    CEL_RULES
        .iter()
        .flat_map(|(path, c, rules)| rules.iter().map(move |r| (*path, *r, *c)))
}

/// Keywords whose values must be equal on both sides.
const KEYWORDS: &[&str] = &[
    "pattern",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "maxProperties",
];
/// Keywords that constrain strings only: on a node of another type they have no effect
/// in a structural schema (the CRD writes `maxLength`/`pattern` on the requirement
/// `values` array, where the API server ignores them; the differential test has a case).
const STRING_ONLY: &[&str] = &["pattern", "minLength", "maxLength"];

fn crd_file() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KEELSON_NODEPOOL_CRD") {
        return Some(PathBuf::from(p));
    }
    let out = std::process::Command::new("go")
        .args(["env", "GOMODCACHE"])
        .output()
        .ok()?;
    let cache = String::from_utf8(out.stdout).ok()?;
    let p = PathBuf::from(cache.trim())
        .join(format!("sigs.k8s.io/karpenter@{KARPENTER_VERSION}"))
        .join("pkg/apis/crds/karpenter.sh_nodepools.yaml");
    p.is_file().then_some(p)
}

fn resolve<'a>(root: &'a Value, mut node: &'a Value) -> &'a Value {
    while let Some(r) = node.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or_default();
        node = &root["$defs"][name];
    }
    node
}

/// A keyword of keelson's node: on the node itself (next to a `$ref`) or on what the
/// `$ref` points to.
fn keyword<'a>(root: &'a Value, node: &'a Value, kw: &str) -> Option<&'a Value> {
    node.get(kw).or_else(|| resolve(root, node).get(kw))
}

fn same(kw: &str, a: &Value, b: &Value) -> bool {
    match kw {
        "enum" => {
            let set = |v: &Value| -> BTreeSet<String> {
                v.as_array()
                    .into_iter()
                    .flatten()
                    .map(ToString::to_string)
                    .collect()
            };
            set(a) == set(b)
        }
        "minimum" | "maximum" | "minLength" | "maxLength" | "minItems" | "maxItems"
        | "maxProperties" => a.as_f64() == b.as_f64(),
        _ => a == b,
    }
}

struct Walk<'a> {
    root: &'a Value,
    problems: Vec<String>,
    cel_seen: BTreeSet<(String, String)>,
}

impl Walk<'_> {
    fn node(&mut self, crd: &Value, ours: &Value, path: &str) {
        let root = self.root;
        let crd_type = crd.get("type").and_then(Value::as_str);
        for kw in KEYWORDS {
            let Some(want) = crd.get(*kw) else { continue };
            if STRING_ONLY.contains(kw) && crd_type.is_some_and(|t| t != "string") {
                continue;
            }
            match keyword(root, ours, kw) {
                Some(have) if same(kw, want, have) => {}
                have => self.problems.push(format!(
                    "{path}: the CRD has {kw} {want}, keelson's schema {}",
                    have.map_or("none".to_string(), ToString::to_string)
                )),
            }
        }
        let ours_required: BTreeSet<&str> = keyword(root, ours, "required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for field in crd
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let field = field.as_str().unwrap_or_default();
            // The API server defaults before it validates: a field with a default is
            // never missing from a create.
            let defaulted = crd
                .pointer(&format!("/properties/{field}/default"))
                .is_some();
            if !defaulted && !ours_required.contains(field) {
                self.problems.push(format!(
                    "{path}: the CRD requires `{field}`, keelson does not"
                ));
            }
        }
        if crd.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("set")
            && keyword(root, ours, "uniqueItems") != Some(&Value::Bool(true))
        {
            self.problems.push(format!(
                "{path}: the CRD's list is a set, keelson's schema lacks uniqueItems"
            ));
        }
        for v in crd
            .get("x-kubernetes-validations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let rule = v.get("rule").and_then(Value::as_str).unwrap_or_default();
            let known = cel_rules().any(|(p, r, _)| p == path && r == rule);
            if known {
                self.cel_seen.insert((path.to_string(), rule.to_string()));
            } else {
                self.problems.push(format!(
                    "{path}: CEL rule `{rule}` ({}) has no keelson counterpart in CEL_RULES",
                    v.get("message").and_then(Value::as_str).unwrap_or_default()
                ));
            }
        }
        let ours_r = resolve(root, ours);
        if let Some(props) = crd.get("properties").and_then(Value::as_object) {
            for (name, child) in props {
                match ours_r.pointer(&format!("/properties/{name}")) {
                    Some(o) => self.node(child, o, &format!("{path}.{name}")),
                    None => self.problems.push(format!(
                        "{path}: the CRD has field `{name}`, keelson does not"
                    )),
                }
            }
        }
        for (key, seg) in [("items", "items"), ("additionalProperties", "*")] {
            if let Some(child) = crd.get(key).filter(|c| c.is_object()) {
                match keyword(root, ours, key).filter(|c| c.is_object()) {
                    Some(o) => self.node(child, o, &format!("{path}.{seg}")),
                    None => self.problems.push(format!(
                        "{path}: the CRD constrains {key}, keelson does not"
                    )),
                }
            }
        }
    }
}

#[test]
fn every_constraint_and_cel_rule_of_the_nodepool_crd_has_a_keelson_counterpart() {
    let Some(file) = crd_file() else {
        eprintln!(
            "skipped: no NodePool CRD (set KEELSON_NODEPOOL_CRD or `go mod download sigs.k8s.io/karpenter@{KARPENTER_VERSION}`)"
        );
        return;
    };
    let text = std::fs::read_to_string(&file).unwrap();
    let crd: Value = serde_yaml_ng::from_str(&text).unwrap();
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["name"], "v1", "{}", file.display());
    let crd_spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
    let ours = schema_for(Kind::NodePool);
    let mut walk = Walk {
        root: &ours,
        problems: Vec::new(),
        cel_seen: BTreeSet::new(),
    };
    walk.node(crd_spec, &ours["properties"]["spec"], "spec");
    let stale: Vec<String> = cel_rules()
        .filter(|(p, r, _)| !walk.cel_seen.contains(&(p.to_string(), r.to_string())))
        .map(|(p, r, c)| format!("{p}: `{r}` ({c:?}) is no longer in the CRD"))
        .collect();
    assert!(
        walk.problems.is_empty() && stale.is_empty(),
        "NodePool CRD {} (Karpenter {KARPENTER_VERSION}) and keelson differ:\n{}\n{}",
        file.display(),
        walk.problems.join("\n"),
        stale.join("\n")
    );
    // The walk saw every rule: a CRD without them would pass the loop above vacuously.
    assert_eq!(walk.cel_seen.len(), cel_rules().count());
}

#[test]
fn the_crd_rules_are_errors_in_keelson() {
    // The API server refuses what breaks a CEL rule: keelson's counterpart must make the
    // repository invalid, not only warn.
    for (path, rule, c) in cel_rules() {
        if let Counterpart::Rule(r) = c {
            assert_eq!(
                r.severity(),
                Severity::Error,
                "{path}: `{rule}` -> {}",
                r.id()
            );
        }
    }
}

#[test]
fn the_walk_finds_a_constraint_keelson_lacks() {
    // A CRD node with a pattern and a CEL rule that keelson's schema does not have.
    let crd = serde_json::json!({
        "type": "object",
        "properties": {"weight": {"type": "integer", "maximum": 7,
            "x-kubernetes-validations": [{"rule": "self > 1", "message": "m"}]}},
        "required": ["weight"]
    });
    let ours = schema_for(Kind::NodePool);
    let mut walk = Walk {
        root: &ours,
        problems: Vec::new(),
        cel_seen: BTreeSet::new(),
    };
    walk.node(&crd, &ours["properties"]["spec"], "spec");
    let all = walk.problems.join("\n");
    assert!(all.contains("maximum 7"), "{all}");
    assert!(all.contains("`self > 1`"), "{all}");
    assert!(all.contains("requires `weight`"), "{all}");
}

#[test]
fn the_real_server_tests_install_the_karpenter_version_keelson_follows() {
    let script = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/k8s/with-apiserver.sh"
    ))
    .unwrap();
    let pinned = script
        .lines()
        .find_map(|l| l.strip_prefix("KARPENTER_VERSION="))
        .unwrap_or_default();
    assert_eq!(pinned, KARPENTER_VERSION);
}

#[test]
fn the_consolidation_policy_keelson_writes_is_the_crd_default() {
    let Some(file) = crd_file() else {
        eprintln!("skipped: no NodePool CRD");
        return;
    };
    let text = std::fs::read_to_string(&file).unwrap();
    let crd: Value = serde_yaml_ng::from_str(&text).unwrap();
    let disruption = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        ["properties"]["disruption"];
    let policy = &disruption["properties"]["consolidationPolicy"];
    assert_eq!(
        policy["default"],
        crate::plan::DEFAULT_CONSOLIDATION.as_str(),
        "{}",
        file.display()
    );
    let ours: Vec<&str> = crate::model::ConsolidationPolicy::ALL
        .iter()
        .map(|p| p.as_str())
        .collect();
    assert_eq!(policy["enum"], serde_json::json!(ours));
    assert_eq!(
        disruption["default"]["consolidateAfter"],
        crate::plan::DEFAULT_CONSOLIDATE_AFTER
    );
}
