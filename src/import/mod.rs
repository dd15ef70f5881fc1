//! `keelson import`: turn what already exists into keelson files. Pure: the live state
//! and the eksctl file come in as data, the files go out as text; reading AWS and writing
//! the directory are `cli/import.rs`'s job.
//!
//! ```text
//!  ObservedCluster ───────────────────────► live.rs ──┐
//!  NodePools, NodeClasses, classes,                   │
//!  bootstrap objects ──────────────────────► kube.rs ──┤
//!  eksctl ClusterConfig (v1alpha5) ────────► eksctl.rs ┼─► Doc[] ─► render.rs ─► files
//!                                                      └─► notes (left out, flagged)
//! ```
//!
//! What is written is what a person would write: fields AWS manages (status, ARNs,
//! platform version, the autoscaled node count, `aws:` tags, keelson's own marker and
//! upgrade records) are left out, and so is a value EKS would pick by itself.

pub mod eksctl;
mod kube;
pub mod live;
pub mod render;

use serde::Serialize;
use serde_json::Value;

use crate::model::{Kind, Metadata, Resource};

/// One document to write, with comments for the person reading it.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// Its kind.
    pub kind: Kind,
    /// The document as JSON (`apiVersion`, `kind`, `metadata`, `spec`).
    pub value: Value,
    /// Comment lines put above the document.
    pub comments: Vec<String>,
    /// Comments put at the end of the line of a top-level `spec` field: field → text.
    pub field_comments: Vec<(String, String)>,
}

impl Doc {
    /// A document of `kind` named `name` with `spec`.
    pub(crate) fn new(kind: Kind, name: &str, spec: &impl Serialize) -> Doc {
        Doc::with_meta(
            kind,
            Metadata {
                name: name.to_string(),
                ..Metadata::default()
            },
            spec,
        )
    }

    /// A document of `kind` with full metadata.
    pub(crate) fn with_meta(kind: Kind, metadata: Metadata, spec: &impl Serialize) -> Doc {
        let r = Resource {
            api_version: kind.api_version().to_string(),
            kind: kind.name().to_string(),
            metadata,
            spec,
        };
        Doc {
            kind,
            value: serde_json::to_value(&r).unwrap_or(Value::Null),
            comments: Vec::new(),
            field_comments: Vec::new(),
        }
    }

    /// The document's `metadata.name`.
    pub fn name(&self) -> &str {
        self.value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// What an import produced for one cluster: its documents and what the person should
/// know (what was left out, what looks like a credential).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImportedCluster {
    /// The cluster's name.
    pub name: String,
    /// Its documents, the Cluster first.
    pub docs: Vec<Doc>,
    /// Notes: left out, flagged.
    pub notes: Vec<String>,
}

/// A name usable as `metadata.name` (letters, digits, `.`, `_`, `-`; starting with a
/// letter or digit; at most 100 characters), made from any text.
pub(crate) fn doc_name(text: &str) -> String {
    let mut s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = s.trim_start_matches(['.', '_', '-']).to_string();
    s = if trimmed.is_empty() {
        "x".to_string()
    } else {
        trimmed
    };
    s.chars().take(100).collect()
}

/// The document name of an access entry: the last part of its principal's ARN, made
/// unique among `taken` with `-2`, `-3`, ...
pub(crate) fn entry_name(
    taken: &mut std::collections::BTreeSet<String>,
    principal: &str,
) -> String {
    let base = doc_name(principal.rsplit('/').next().unwrap_or(principal));
    let mut name = base.clone();
    let mut i = 2;
    while !taken.insert(name.clone()) {
        name = format!("{base}-{i}");
        i += 1;
    }
    name
}

/// Keys and values that look like credentials, as `path: why` lines: keys named like a
/// password, token, secret or key, AWS access key ids and PEM private keys.
pub(crate) fn credential_like(v: &Value, path: &str, out: &mut Vec<String>) {
    const KEY_WORDS: &[&str] = &[
        "password",
        "passwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "accesskey",
        "access_key",
        "privatekey",
        "private_key",
        "credential",
    ];
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                let lower = k.to_ascii_lowercase().replace('-', "_");
                let named = KEY_WORDS
                    .iter()
                    .any(|w| lower.contains(w) || lower.replace('_', "").contains(w));
                if named && matches!(x, Value::String(s) if !s.is_empty()) {
                    out.push(format!("`{p}` is named like a credential"));
                    continue;
                }
                credential_like(x, &p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                credential_like(x, &format!("{path}[{i}]"), out);
            }
        }
        Value::String(s) => {
            let aws_key = s.as_bytes().windows(20).any(|w| {
                (w.starts_with(b"AKIA") || w.starts_with(b"ASIA"))
                    && w[4..]
                        .iter()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            });
            if aws_key {
                out.push(format!(
                    "`{path}` holds what looks like an AWS access key id"
                ));
            } else if s.contains("PRIVATE KEY-----") {
                out.push(format!("`{path}` holds a PEM private key"));
            } else if let Ok(inner) = serde_json::from_str::<Value>(s) {
                if inner.is_object() {
                    credential_like(&inner, path, out);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_made_valid() {
        assert_eq!(doc_name("role/platform-admin"), "role-platform-admin");
        assert_eq!(doc_name("--a"), "a");
        assert_eq!(doc_name(""), "x");
        assert_eq!(doc_name(&"a".repeat(300)).len(), 100);
    }

    #[test]
    fn credentials_are_found_by_name_and_by_shape() {
        let mut out = Vec::new();
        let v = json!({
            "env": {"DB_PASSWORD": "hunter2", "WARM_IP_TARGET": "1", "X": "AKIAABCDEFGHIJKLMNOP"},
            "nested": "{\"apiToken\": \"abc\"}",
            "tokenTtl": 30,
        });
        credential_like(&v, "", &mut out);
        assert_eq!(out.len(), 3, "{out:?}");
        assert!(out[0].contains("env.DB_PASSWORD"));
        assert!(out[1].contains("env.X"));
        assert!(out[2].contains("nested.apiToken"));
        let mut none = Vec::new();
        credential_like(&json!({"replicaCount": 3, "tokenTtl": 30}), "", &mut none);
        assert!(none.is_empty(), "{none:?}");
    }
}
