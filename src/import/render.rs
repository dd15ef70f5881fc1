//! Documents → file texts in the repository layout, with a `$schema` comment for editors
//! (yaml-language-server) and the comments the import attached.
//!
//! ```text
//!  ImportedCluster ─► clusters/<name>/cluster.yaml, addons.yaml, nodegroups.yaml,
//!                     fargate.yaml, access.yaml, pod-identity.yaml, nodeclasses.yaml,
//!                     nodepools.yaml, classes.yaml (one kind per file, documents split
//!                     by `---`), bootstrap/<kinds>.yaml (one per Kubernetes kind)
//! ```

use serde_json::Value;

use super::{Doc, ImportedCluster};
use crate::model::Kind;

/// A file to write: its path under the output directory and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutFile {
    /// Path relative to the output directory, `/`-separated.
    pub path: String,
    /// The text.
    pub text: String,
}

/// The file a kind's documents go to, inside a cluster's directory.
pub fn file_of(kind: Kind) -> &'static str {
    match kind {
        Kind::Fleet => "keelson.yaml",
        Kind::Cluster => "cluster.yaml",
        Kind::Addon => "addons.yaml",
        Kind::NodeGroup => "nodegroups.yaml",
        Kind::FargateProfile => "fargate.yaml",
        Kind::AccessEntry => "access.yaml",
        Kind::PodIdentityAssociation => "pod-identity.yaml",
        Kind::NodeClass => "nodeclasses.yaml",
        Kind::NodePool => "nodepools.yaml",
        Kind::IngressClassParams | Kind::IngressClass | Kind::StorageClass => "classes.yaml",
        Kind::Manifest => "bootstrap/manifests.yaml",
    }
}

/// The file a bootstrap object goes to inside a cluster's directory: one per kind, named
/// by the kind's plural as Kubernetes' resource names are (`bootstrap/namespaces.yaml`,
/// `bootstrap/rolebindings.yaml`, `bootstrap/networkpolicies.yaml`).
pub fn bootstrap_file(doc: &Doc) -> String {
    let kind = doc
        .value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("manifest")
        .to_ascii_lowercase();
    let plural = if kind.ends_with('s') || kind.ends_with('x') {
        format!("{kind}es")
    } else if let Some(stem) = kind.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{kind}s")
    };
    format!(
        "{}/{}.yaml",
        crate::config::bootstrap::BOOTSTRAP_DIR,
        super::doc_name(&plural)
    )
}

/// Every file name an import may write in a cluster's directory, each once (the three
/// class kinds share `classes.yaml`).
pub fn cluster_file_names() -> Vec<&'static str> {
    let names: std::collections::BTreeSet<&'static str> = Kind::ALL
        .iter()
        .filter(|k| **k != Kind::Fleet)
        .map(|k| file_of(*k))
        .collect();
    names.into_iter().collect()
}

/// The directory of a cluster in the repository layout.
pub fn cluster_dir(name: &str) -> String {
    format!("clusters/{name}")
}

/// The files of one imported cluster. `schemas` is the path of the schema directory
/// relative to the output directory (e.g. `schemas`).
pub fn cluster_files(c: &ImportedCluster, schemas: &str) -> Vec<OutFile> {
    let dir = cluster_dir(&c.name);
    let mut out: Vec<OutFile> = Vec::new();
    for kind in Kind::ALL {
        let docs: Vec<&Doc> = c.docs.iter().filter(|d| d.kind == *kind).collect();
        if docs.is_empty() {
            continue;
        }
        let schema = format!("../../{schemas}/{}", kind.schema_file());
        let path = format!("{dir}/{}", file_of(*kind));
        let text = file_text(&docs, &schema);
        // Kinds that share a file (classes.yaml): each kind's documents follow the
        // others', with their own modeline.
        match out.iter_mut().find(|f| f.path == path) {
            Some(f) => {
                f.text.push_str("---\n");
                f.text.push_str(&text);
            }
            None => out.push(OutFile { path, text }),
        }
    }
    // Bootstrap objects have no schema of keelson's: no modeline, one file per kind.
    let mut by_file: std::collections::BTreeMap<String, Vec<&Doc>> = Default::default();
    for d in c.docs.iter().filter(|d| d.kind == Kind::Manifest) {
        by_file.entry(bootstrap_file(d)).or_default().push(d);
    }
    for (file, docs) in by_file {
        let texts: Vec<String> = docs.iter().map(|d| doc_text(d)).collect();
        out.push(OutFile {
            path: format!("{dir}/{file}"),
            text: texts.join("---\n"),
        });
    }
    out
}

/// The text of a file holding `docs` (all of one kind), with the `$schema` modeline.
pub fn file_text(docs: &[&Doc], schema: &str) -> String {
    let mut text = format!("# yaml-language-server: $schema={schema}\n");
    for (i, d) in docs.iter().enumerate() {
        if i > 0 {
            text.push_str("---\n");
        }
        text.push_str(&doc_text(d));
    }
    text
}

/// One document as YAML, its comments above it and its field comments at the ends of
/// their lines.
pub fn doc_text(d: &Doc) -> String {
    let mut text = String::new();
    for c in &d.comments {
        for line in c.lines() {
            text.push_str("# ");
            text.push_str(line);
            text.push('\n');
        }
    }
    let body = yaml(&d.value);
    for line in body.lines() {
        text.push_str(line);
        let comment = d.field_comments.iter().find(|(field, _)| {
            line.strip_prefix("  ")
                .and_then(|l| l.strip_prefix(field.as_str()))
                .is_some_and(|rest| rest.starts_with(": ") && rest.len() > 2)
        });
        if let Some((_, c)) = comment {
            text.push_str("  # ");
            text.push_str(c);
        }
        text.push('\n');
    }
    text
}

/// A JSON value as block YAML. Strings YAML would read as something else (`"1.34"`,
/// `"true"`) come out quoted.
pub fn yaml(v: &Value) -> String {
    serde_yaml_ng::to_string(v).unwrap_or_else(|_| format!("{v}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;
    use serde_json::json;

    #[test]
    fn versions_are_quoted_and_comments_placed() {
        let mut d = Doc::new(
            Kind::Addon,
            "coredns",
            &json!({"version": "v1.11.4-eksbuild.14", "configurationValues": {"replicaCount": 2}}),
        );
        d.comments.push("a note".into());
        d.field_comments.push(("version".into(), "pinned".into()));
        let t = file_text(&[&d], "../../schemas/addon.schema.json");
        assert!(t.starts_with("# yaml-language-server: $schema=../../schemas/addon.schema.json\n# a note\napiVersion: keelson.dev/v1alpha1\n"), "{t}");
        assert!(
            t.contains("  version: v1.11.4-eksbuild.14  # pinned\n"),
            "{t}"
        );
        let c = Doc::new(Kind::Cluster, "a", &json!({"version": "1.30"}));
        assert!(doc_text(&c).contains("version: '1.30'"), "{}", doc_text(&c));
    }

    #[test]
    fn classes_share_a_file_and_bootstrap_objects_go_one_file_per_kind() {
        let manifest = |kind: &str, name: &str| Doc {
            kind: Kind::Manifest,
            value: json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}),
            comments: Vec::new(),
            field_comments: Vec::new(),
        };
        let c = ImportedCluster {
            name: "c1".into(),
            docs: vec![
                Doc::new(
                    Kind::IngressClass,
                    "alb",
                    &json!({"controller": "eks.amazonaws.com/alb"}),
                ),
                Doc::new(
                    Kind::IngressClassParams,
                    "alb",
                    &json!({"scheme": "internal"}),
                ),
                manifest("Namespace", "a"),
                manifest("Namespace", "b"),
                manifest("NetworkPolicy", "deny"),
                manifest("IngressClass", "x"),
            ],
            notes: Vec::new(),
        };
        let files = cluster_files(&c, "schemas");
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "clusters/c1/classes.yaml",
                "clusters/c1/bootstrap/ingressclasses.yaml",
                "clusters/c1/bootstrap/namespaces.yaml",
                "clusters/c1/bootstrap/networkpolicies.yaml",
            ]
        );
        let classes = &files[0].text;
        assert!(classes.contains("ingressclassparams.schema.json\napiVersion: eks.amazonaws.com/v1\nkind: IngressClassParams"), "{classes}");
        assert!(
            classes.contains(
                "---\n# yaml-language-server: $schema=../../schemas/ingressclass.schema.json\n"
            ),
            "{classes}"
        );
        assert_eq!(files[2].text.matches("kind: Namespace").count(), 2);
        assert!(!files[2].text.contains("$schema"));
    }

    #[test]
    fn a_cluster_document_quotes_its_version() {
        let c = Doc::new(Kind::Cluster, "a", &json!({"version": "1.30"}));
        assert!(doc_text(&c).contains("version: '1.30'"), "{}", doc_text(&c));
    }
}
