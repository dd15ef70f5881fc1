//! JSON Schemas: generated from the model types, used to validate every document, and
//! mapped back from JSON paths to YAML positions with messages a person can act on.
//!
//! ```text
//!  model types ──schemars──► schema (+ const apiVersion/kind, no null) ──► jsonschema::Validator
//!  YAML Node ──to_json──► Value ──validator──► errors ──(instance path → Pos)──► Diagnostic
//! ```

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{json, Map, Value};

use super::diag::{suggest, Rule};
use super::yaml::{path_string, Node, Pos, Seg, Value as YValue};
use crate::model::*;

/// The schema of one kind, as written to `schemas/`.
pub fn schema_for(kind: Kind) -> Value {
    let generated = match kind {
        Kind::Fleet => schemars::schema_for!(FleetDoc),
        Kind::Cluster => schemars::schema_for!(ClusterDoc),
        Kind::Addon => schemars::schema_for!(AddonDoc),
        Kind::NodeGroup => schemars::schema_for!(NodeGroupDoc),
        Kind::FargateProfile => schemars::schema_for!(FargateProfileDoc),
        Kind::AccessEntry => schemars::schema_for!(AccessEntryDoc),
        Kind::PodIdentityAssociation => schemars::schema_for!(PodIdentityAssociationDoc),
        Kind::NodePool => schemars::schema_for!(NodePoolDoc),
        Kind::NodeClass => schemars::schema_for!(NodeClassDoc),
        Kind::IngressClassParams => schemars::schema_for!(IngressClassParamsDoc),
        Kind::IngressClass => schemars::schema_for!(IngressClassDoc),
        Kind::StorageClass => schemars::schema_for!(StorageClassDoc),
        // Bootstrap manifests are any Kubernetes object; the API server validates them.
        Kind::Manifest => schemars::schema_for!(serde_json::Value),
    };
    let mut schema = generated.to_value();
    tidy(&mut schema);
    if let Some(obj) = schema.as_object_mut() {
        obj.insert(
            "$id".into(),
            json!(format!(
                "https://keelson.dev/schemas/{}",
                kind.schema_file()
            )),
        );
        obj.insert("title".into(), json!(kind.name()));
        obj.insert(
            "description".into(),
            json!(format!(
                "keelson {} document ({}). Generated from keelson's model types by `keelson schema`.",
                kind.name(),
                kind.api_version()
            )),
        );
        if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
            props.insert(
                "apiVersion".into(),
                json!({"const": kind.api_version(), "description": "API version of the document."}),
            );
            props.insert(
                "kind".into(),
                json!({"const": kind.name(), "description": "Kind of the document."}),
            );
        }
    }
    schema
}

/// Make the generated schema stricter and portable: an optional field may be left out
/// but not written as `null`, and integer `format` annotations that only Rust knows
/// (`uint32`) are dropped.
fn tidy(v: &mut Value) {
    match v {
        Value::Object(obj) => {
            if let Some(Value::Array(types)) = obj.get("type") {
                let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
                if kept.len() == 1 {
                    obj.insert("type".into(), kept[0].clone());
                } else if kept.len() != types.len() {
                    obj.insert("type".into(), Value::Array(kept));
                }
            }
            if let Some(Value::Array(any)) = obj.get("anyOf") {
                let kept: Vec<Value> = any
                    .iter()
                    .filter(|s| s.get("type").and_then(Value::as_str) != Some("null"))
                    .cloned()
                    .collect();
                if kept.len() == 1 && any.len() == 2 {
                    obj.remove("anyOf");
                    if let Value::Object(inner) = &kept[0] {
                        for (k, val) in inner {
                            obj.insert(k.clone(), val.clone());
                        }
                    }
                }
            }
            if obj.get("type").and_then(Value::as_str) == Some("integer") {
                // The Rust integer type's range, stated in the schema: an out-of-range
                // number is then reported at its position with the range, instead of as
                // a document that "does not fit the model" at 1:1.
                let range = match obj.get("format").and_then(Value::as_str) {
                    Some("uint8") => Some((0, i64::from(u8::MAX))),
                    Some("uint16") => Some((0, i64::from(u16::MAX))),
                    Some("uint32") => Some((0, i64::from(u32::MAX))),
                    Some("int32") => Some((i64::from(i32::MIN), i64::from(i32::MAX))),
                    _ => None,
                };
                if let Some((lo, hi)) = range {
                    obj.entry("minimum").or_insert(json!(lo));
                    obj.entry("maximum").or_insert(json!(hi));
                }
                obj.remove("format");
            }
            if obj.get("type").and_then(Value::as_str) == Some("number") {
                obj.remove("format");
            }
            for (_, child) in obj.iter_mut() {
                tidy(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(tidy),
        _ => {}
    }
}

/// Compiled validators for every kind, built once.
pub struct Schemas {
    entries: BTreeMap<Kind, Entry>,
}

/// One kind's schema, its validator, and whether it has [`Duration`] fields to parse.
struct Entry {
    schema: Value,
    validator: jsonschema::Validator,
    has_durations: bool,
}

/// A schema problem found in one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaProblem {
    /// Where in the file.
    pub pos: Pos,
    /// Which rule.
    pub rule: Rule,
    /// The message.
    pub message: String,
}

static SCHEMAS: OnceLock<Result<Schemas, String>> = OnceLock::new();

impl Schemas {
    /// The process-wide compiled schemas.
    ///
    /// # Errors
    /// When a generated schema does not compile: a defect in keelson, reported rather
    /// than panicking.
    pub fn get() -> Result<&'static Schemas, String> {
        SCHEMAS
            .get_or_init(|| {
                let mut entries = BTreeMap::new();
                for &kind in Kind::ALL {
                    let schema = schema_for(kind);
                    let validator = jsonschema::options()
                        .with_draft(jsonschema::Draft::Draft202012)
                        .build(&schema)
                        .map_err(|e| format!("schema for {kind} does not compile: {e}"))?;
                    let has_durations = schema.to_string().contains(&pattern_json());
                    entries.insert(
                        kind,
                        Entry {
                            schema,
                            validator,
                            has_durations,
                        },
                    );
                }
                Ok(Schemas { entries })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Validate one document of `kind`; a document that passes its schema also has its
    /// duration fields parsed, so that a too-large number is reported where it stands.
    pub fn validate(&self, kind: Kind, node: &Node, json: &Value) -> Vec<SchemaProblem> {
        let Some(Entry {
            schema,
            validator,
            has_durations,
        }) = self.entries.get(&kind)
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if validator.is_valid(json) {
            value_problems(
                schema,
                schema,
                node,
                *has_durations,
                &mut Vec::new(),
                &mut out,
            );
            return out;
        }
        // Floats where integers belong pass the schema when integral (`1e2`), so they are
        // found by the walk whatever else is wrong.
        value_problems(schema, schema, node, false, &mut Vec::new(), &mut out);
        let errors: Vec<(Vec<Seg>, jsonschema::ValidationError<'_>)> = validator
            .iter_errors(json)
            .map(|error| {
                let path: Vec<Seg> = error
                    .instance_path()
                    .iter()
                    .map(|s| match s {
                        jsonschema::paths::LocationSegment::Property(p) => Seg::Key(p.to_string()),
                        jsonschema::paths::LocationSegment::Index(i) => Seg::Index(i),
                    })
                    .collect();
                (path, error)
            })
            .collect();
        // A misspelt required field shows up twice: as an unknown field and as a missing
        // one. Keep only the unknown field, whose message suggests the right spelling.
        let mut misspelt: Vec<(Vec<Seg>, String)> = Vec::new();
        for (path, error) in &errors {
            if let jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } =
                error.kind()
            {
                let allowed = allowed_properties(schema, path);
                for field in unexpected {
                    if let Some(s) = suggest(field, allowed.iter().map(String::as_str)) {
                        misspelt.push((path.clone(), s.to_string()));
                    }
                }
            }
        }
        // `out` holds the walk's problems already.
        for (path, error) in &errors {
            if let jsonschema::error::ValidationErrorKind::Required { property } = error.kind() {
                let name = property.as_str().unwrap_or_default();
                if misspelt.iter().any(|(p, s)| p == path && s == name) {
                    continue;
                }
            }
            describe(kind, schema, node, path, error.kind(), &mut out);
        }
        out.sort_by(|a, b| (a.pos, &a.message).cmp(&(b.pos, &b.message)));
        out.dedup();
        out
    }
}

/// [`Duration::PATTERN`] as it appears in a schema's JSON text.
fn pattern_json() -> String {
    Value::from(Duration::PATTERN).to_string()
}

/// Walk a document along its schema and report what the schema lets through but the
/// model cannot take, where it stands, so that turning the document into model types
/// cannot fail without a position: a float where an integer belongs (`1e2` passes as
/// integral; `.inf`, `.nan` and `1e400` reach here as well), and, with `durations` (a
/// document that passed its schema), a duration field (a string the schema gives
/// [`Duration::PATTERN`]) that does not parse (too large a number).
fn value_problems(
    root: &Value,
    schema: &Value,
    node: &Node,
    durations: bool,
    path: &mut Vec<Seg>,
    out: &mut Vec<SchemaProblem>,
) {
    let schema = resolve(root, schema);
    match &node.value {
        YValue::Float(f) if is_numeric(schema) => {
            if let Some(message) = number_message(schema, path, *f) {
                out.push(SchemaProblem {
                    pos: node.pos,
                    rule: Rule::SchemaType,
                    message,
                });
            }
        }
        YValue::Str(text)
            if durations
                && schema.get("pattern").and_then(Value::as_str) == Some(Duration::PATTERN) =>
        {
            let why = match Duration::parse(text) {
                Ok(_) => return,
                Err(DurationError::TooLong(_)) => {
                    "longer than keelson can count; write a shorter duration".to_string()
                }
                Err(DurationError::Malformed(_)) => describe_pattern(Duration::PATTERN),
            };
            out.push(SchemaProblem {
                pos: node.pos,
                rule: Rule::SchemaValue,
                message: format!("{} is `{text}`, which is {why}", where_(path)),
            });
        }
        YValue::Map(entries) => {
            for e in entries {
                let child = schema
                    .get("properties")
                    .and_then(|p| p.get(&e.key))
                    .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()));
                if let Some(child) = child {
                    path.push(Seg::Key(e.key.clone()));
                    value_problems(root, child, &e.value, durations, path, out);
                    path.pop();
                }
            }
        }
        YValue::Seq(items) => {
            if let Some(child) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    path.push(Seg::Index(i));
                    value_problems(root, child, item, durations, path, out);
                    path.pop();
                }
            }
        }
        _ => {}
    }
}

fn where_(path: &[Seg]) -> String {
    if path.is_empty() {
        "the document".to_string()
    } else {
        format!("`{}`", path_string(path))
    }
}

/// Whether a schema takes an integer or a number.
fn is_numeric(schema: &Value) -> bool {
    matches!(
        schema.get("type").and_then(Value::as_str),
        Some("integer" | "number")
    )
}

/// The message for a float at `path` where `schema` wants a number: `None` when it is
/// one (a finite number where any number goes).
fn number_message(schema: &Value, path: &[Seg], f: f64) -> Option<String> {
    let integer = schema.get("type").and_then(Value::as_str) == Some("integer");
    if f.is_finite() && !integer {
        return None;
    }
    let bound = |k: &str| {
        schema
            .get(k)
            .filter(|v| v.is_number())
            .map(Value::to_string)
    };
    let range = match (bound("minimum"), bound("maximum")) {
        (Some(lo), Some(hi)) => format!(" between {lo} and {hi}"),
        (Some(lo), None) => format!(" of at least {lo}"),
        (None, Some(hi)) => format!(" of at most {hi}"),
        (None, None) => String::new(),
    };
    let want = if integer {
        "an integer"
    } else {
        "a finite number"
    };
    // As YAML spells them: `1e400` is read as infinity too, so say so.
    let found = if f.is_nan() {
        ".nan (not a number)".to_string()
    } else if f.is_infinite() {
        let sign = if f < 0.0 { "-" } else { "" };
        format!("{sign}.inf (infinity; a number as large as 1e400 reads as infinity too)")
    } else {
        format!("{f:?}, a floating-point number (write it without a fraction or exponent)")
    };
    Some(format!(
        "{} must be {want}{range}, found {found}",
        where_(path)
    ))
}

fn describe(
    kind: Kind,
    schema: &Value,
    node: &Node,
    path: &[Seg],
    error: &jsonschema::error::ValidationErrorKind,
    out: &mut Vec<SchemaProblem>,
) {
    use jsonschema::error::ValidationErrorKind as K;
    let at = node.pos_at(path, false);
    let target = lookup(node, path);
    let mut push = |pos: Pos, rule: Rule, message: String| {
        out.push(SchemaProblem { pos, rule, message });
    };
    // The NodeClass role is a classic mistake (the docs once showed an ARN): give it its
    // own rule and message, whatever the schema keyword was.
    if kind == Kind::NodeClass && path_string(path) == "spec.role" {
        if let Some(role) = target.and_then(Node::as_str) {
            push(at, Rule::NodeClassRoleName, nodeclass_role_message(role));
            return;
        }
    }
    match error {
        K::AdditionalProperties { unexpected } => {
            let allowed = allowed_properties(schema, path);
            for field in unexpected {
                let mut key_path = path.to_vec();
                key_path.push(Seg::Key(field.clone()));
                let pos = node.pos_at(&key_path, true);
                let hint = match suggest(field, allowed.iter().map(String::as_str)) {
                    Some(s) => format!("; did you mean `{s}`?"),
                    None if !allowed.is_empty() => {
                        format!("; valid fields: {}", allowed.join(", "))
                    }
                    None => String::new(),
                };
                push(
                    pos,
                    Rule::UnknownField,
                    format!("unknown field `{field}` in {}{hint}", where_(path)),
                );
            }
        }
        K::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            // Point at the key of the mapping that lacks the field (`spec:`), not at
            // its first entry.
            let pos = if path.is_empty() {
                at
            } else {
                node.pos_at(path, true)
            };
            push(
                pos,
                Rule::SchemaRequired,
                format!("missing required field `{name}` in {}", where_(path)),
            );
        }
        K::Type { .. }
            if matches!(target.map(|t| &t.value), Some(YValue::Float(_)))
                && schema_at(schema, path).is_some_and(is_numeric) =>
        {
            // The walk in `value_problems` reports it, with the same words.
        }
        K::Type { kind: expected } => {
            let expected = type_names(expected);
            let found = target.map(Node::type_name).unwrap_or("nothing");
            let mut message = format!("{} must be {expected}, found {found}", where_(path));
            if let Some(t) = target {
                match &t.value {
                    YValue::Int(_) | YValue::Float(_) if expected.contains("string") => {
                        message.push_str(
                            "; YAML read this as a number: put it in quotes (for a version, `\"1.30\"`, not `1.30`, which is 1.3)",
                        );
                    }
                    YValue::Str(s) if expected.contains("boolean") => {
                        if matches!(
                            s.as_str(),
                            "yes" | "no" | "on" | "off" | "Yes" | "No" | "On" | "Off" | "y" | "n"
                        ) {
                            message.push_str("; write `true` or `false` (YAML 1.2 reads `");
                            message.push_str(s);
                            message.push_str("` as a string)");
                        }
                    }
                    YValue::Null => {
                        message.push_str("; remove the key or give it a value");
                    }
                    _ => {}
                }
            }
            push(at, Rule::SchemaType, message);
        }
        K::Enum { options } => {
            let opts: Vec<String> = options
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|o| {
                            o.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| o.to_string())
                        })
                        .collect()
                })
                .unwrap_or_default();
            let got = target.map(scalar_display).unwrap_or_default();
            let hint = suggest(&got, opts.iter().map(String::as_str))
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            push(
                at,
                Rule::SchemaEnum,
                format!(
                    "{} is `{got}`, which is not one of: {}{hint}",
                    where_(path),
                    opts.join(", ")
                ),
            );
        }
        K::Constant { expected_value } => {
            let got = target.map(scalar_display).unwrap_or_default();
            let want = expected_value.as_str().unwrap_or_default();
            let (rule, extra) = match path_string(path).as_str() {
                "apiVersion" => (Rule::UnknownKind, format!(" for kind {}", kind.name())),
                "kind" => (Rule::UnknownKind, String::new()),
                _ => (Rule::SchemaEnum, String::new()),
            };
            push(
                at,
                rule,
                format!("{} must be `{want}`{extra}, found `{got}`", where_(path)),
            );
        }
        K::Pattern { pattern } => {
            let got = target.map(scalar_display).unwrap_or_default();
            push(
                at,
                Rule::SchemaValue,
                format!(
                    "{} is `{got}`, which is not {}",
                    where_(path),
                    describe_pattern(pattern)
                ),
            );
        }
        K::Minimum { limit } | K::ExclusiveMinimum { limit } => push(
            at,
            Rule::SchemaValue,
            format!("{} must be at least {limit}", where_(path)),
        ),
        K::Maximum { limit } | K::ExclusiveMaximum { limit } => push(
            at,
            Rule::SchemaValue,
            format!("{} must be at most {limit}", where_(path)),
        ),
        K::MaxLength { limit } => push(
            at,
            Rule::SchemaValue,
            format!("{} is longer than {limit} characters", where_(path)),
        ),
        K::MinLength { limit } => push(
            at,
            Rule::SchemaValue,
            format!("{} is shorter than {limit} characters", where_(path)),
        ),
        K::MaxItems { limit } => push(
            at,
            Rule::SchemaValue,
            format!("{} has more than {limit} items", where_(path)),
        ),
        K::MinItems { limit } => push(
            at,
            Rule::SchemaValue,
            format!("{} needs at least {limit} item(s)", where_(path)),
        ),
        K::MaxProperties { limit } => push(
            at,
            Rule::SchemaValue,
            format!("{} has more than {limit} entries", where_(path)),
        ),
        K::UniqueItems => push(
            at,
            Rule::SchemaValue,
            format!("{} lists a value twice; list each value once", where_(path)),
        ),
        K::PropertyNames { error } => {
            // A map key (a tag key) that breaks `propertyNames`: point at that key.
            let name = error.instance().as_str().unwrap_or_default().to_string();
            let mut key_path = path.to_vec();
            key_path.push(Seg::Key(name.clone()));
            let why = match error.kind() {
                K::MaxLength { limit } => format!("longer than {limit} characters"),
                K::MinLength { limit } => format!("shorter than {limit} character(s)"),
                other => format!("not valid ({})", other.keyword()),
            };
            let shown: String = name.chars().take(40).collect();
            push(
                node.pos_at(&key_path, true),
                Rule::SchemaValue,
                format!("the key `{shown}` in {} is {why}", where_(path)),
            );
        }
        K::AnyOf { .. } | K::OneOfNotValid { .. } => {
            let found = target.map(Node::type_name).unwrap_or("nothing");
            push(
                at,
                Rule::SchemaType,
                format!("{} has the wrong form (found {found})", where_(path)),
            );
        }
        other => push(
            at,
            Rule::SchemaValue,
            format!("{} is not valid ({})", where_(path), other.keyword()),
        ),
    }
}

/// The message for a NodeClass role that is not a valid role name.
pub(crate) fn nodeclass_role_message(role: &str) -> String {
    if role.starts_with("arn:") {
        let name = role.rsplit('/').next().unwrap_or(role);
        format!(
            "`spec.role` takes the IAM role NAME, not its ARN: write `{name}` (EKS rejects an ARN here)"
        )
    } else if role.len() > 64 {
        format!(
            "`spec.role` is {} bytes; IAM role names are at most 64 bytes (\"Too long: may not be more than 64 bytes\")",
            role.len()
        )
    } else {
        "`spec.role` must be an IAM role name: letters, digits and +=,.@_- only".to_string()
    }
}

fn lookup<'a>(node: &'a Node, path: &[Seg]) -> Option<&'a Node> {
    let mut cur = node;
    for seg in path {
        cur = match (seg, &cur.value) {
            (Seg::Key(k), YValue::Map(_)) => cur.get(k)?,
            (Seg::Index(i), YValue::Seq(items)) => items.get(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn scalar_display(node: &Node) -> String {
    match &node.value {
        YValue::Str(s) => s.clone(),
        YValue::Null => "null".into(),
        YValue::Bool(b) => b.to_string(),
        YValue::Int(i) => i.to_string(),
        YValue::Float(f) => f.to_string(),
        YValue::Seq(_) => "a sequence".into(),
        YValue::Map(_) => "a mapping".into(),
    }
}

fn type_names(t: &jsonschema::error::TypeKind) -> String {
    use jsonschema::error::TypeKind;
    let name = |s: String| match s.as_str() {
        "object" => "a mapping".to_string(),
        "array" => "a sequence".to_string(),
        "integer" => "an integer".to_string(),
        other => format!("a {other}"),
    };
    match t {
        TypeKind::Single(j) => name(j.to_string()),
        TypeKind::Multiple(set) => set
            .iter()
            .map(|j| name(j.to_string()))
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

/// Say in words what a pattern from our schemas accepts.
fn describe_pattern(pattern: &str) -> String {
    let known: &[(&str, &str)] = &[
        ("^(file:", "a fleet lock: `file:PATH`, `kubernetes:NAMESPACE/NAME` or `s3://BUCKET/KEY`"),
        ("subnet-", "a subnet id such as `subnet-0123456789abcdef0`"),
        ("^sg-", "a security group id such as `sg-0123456789abcdef0`"),
        (":iam::[0-9]{12}:role/", "an IAM role ARN such as `arn:aws:iam::111122223333:role/NAME`"),
        ("(iam|sts)", "an IAM principal ARN such as `arn:aws:iam::111122223333:role/NAME`"),
        ("cluster-access-policy", "an access policy ARN such as `arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy`"),
        // NodeClass and NodePool (model/kinds/nodeclass.rs, nodepool.rs).
        ("alias/", "a KMS key id, a key ARN, an alias name such as `alias/my-key` or an alias ARN"),
        ("(h|m))|", "hours and minutes such as `8h`, `30m` or `1h30m` (no seconds, no days)"),
        ("(@(annually", "a cron schedule of five fields such as `0 9 * * mon-fri`, or a descriptor such as `@daily`"),
        ("[KMGTPE]i", "a Kubernetes quantity such as `1000`, `500m` or `100Gi`"),
        ("(\\/))?", "a name such as `example.com/team` or `team`: letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit, after an optional DNS prefix and `/`"),
        ("^(([A-Za-z0-9]", "a label value: at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit"),
        ("^[^/]*$", "an API group without `/`, such as `eks.amazonaws.com`"),
        (":kms:", "a KMS key ARN"),
        ("^1\\.", "a Kubernetes minor version in quotes, such as \"1.33\""),
        ("latest|default", "`latest`, `default` or an exact add-on version such as `v1.19.2-eksbuild.1`"),
        ("(s|m|h|d)", "a duration such as `24h`, `90m` or `7d`"),
        ("|Never", "a duration such as `336h` or `30m`, or `Never`"),
        ("(s|m|h))+$", "a duration such as `24h` or `30m`"),
        ("%|", "a node count or a percentage such as `10%`"),
        ("Gi|G|Ti|T", "a size such as `80Gi`"),
        ("[0-9]{12}", "a 12-digit AWS account id"),
        ("^[a-z]{2}", "an AWS region such as `ap-northeast-1`"),
        ("A-Fa-f:", "an IPv4 or IPv6 CIDR such as `203.0.113.0/24` or `2001:db8::/32`"),
        ("\\.[0-9]{1,3}){3}", "an IPv4 CIDR such as `10.0.0.0/16`"),
        ("^[a-z][a-z0-9-]*\\.", "an EC2 instance type such as `m6i.large`"),
        ("[\\w+=,.@-]", "an IAM role name"),
        ("[-a-z0-9]*[a-z0-9])?$", "a lowercase name (letters, digits, `-`)"),
        ("[a-zA-Z0-9._-]", "a name of letters, digits, `.`, `_` and `-`, starting with a letter or digit"),
    ];
    known
        .iter()
        .find(|(needle, _)| pattern.contains(needle))
        .map(|(_, text)| text.to_string())
        .unwrap_or_else(|| format!("of the form `{pattern}`"))
}

/// Follow `$ref` to `#/$defs/NAME`.
fn resolve<'a>(root: &'a Value, mut s: &'a Value) -> &'a Value {
    for _ in 0..16 {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => match r
                .strip_prefix("#/$defs/")
                .and_then(|n| root.get("$defs")?.get(n))
            {
                Some(target) => s = target,
                None => return s,
            },
            None => return s,
        }
    }
    s
}

/// The schema that applies at an instance path.
fn schema_at<'a>(root: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    let mut s = resolve(root, root);
    for seg in path {
        s = match seg {
            Seg::Key(k) => s
                .get("properties")
                .and_then(|p| p.get(k))
                .or_else(|| s.get("additionalProperties").filter(|a| a.is_object()))?,
            Seg::Index(_) => s.get("items")?,
        };
        s = resolve(root, s);
    }
    Some(s)
}

/// The field names a mapping at `path` may have.
fn allowed_properties(root: &Value, path: &[Seg]) -> Vec<String> {
    schema_at(root, path)
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .map(Map::keys)
        .map(|keys| keys.cloned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_compiles_and_pins_api_version_and_kind() {
        let schemas = Schemas::get().unwrap();
        for &kind in Kind::ALL {
            let schema = &schemas.entries[&kind].schema;
            assert_eq!(schema["properties"]["kind"]["const"], kind.name());
            assert_eq!(
                schema["properties"]["apiVersion"]["const"],
                kind.api_version()
            );
            assert_eq!(schema["additionalProperties"], false, "{kind}");
        }
    }

    #[test]
    fn no_null_is_accepted_for_optional_fields() {
        let s = schema_for(Kind::Cluster).to_string();
        assert!(!s.contains("\"null\""), "{s}");
    }

    #[test]
    fn only_the_fleet_has_durations_to_parse() {
        let schemas = Schemas::get().unwrap();
        for (kind, entry) in &schemas.entries {
            assert_eq!(entry.has_durations, *kind == Kind::Fleet, "{kind}");
        }
    }

    #[test]
    fn allowed_properties_follow_refs() {
        let s = schema_for(Kind::Cluster);
        let p = allowed_properties(&s, &[Seg::Key("spec".into()), Seg::Key("vpc".into())]);
        assert!(p.contains(&"subnetIds".to_string()), "{p:?}");
    }
}
