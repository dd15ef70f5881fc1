//! Deletes that a skipped file would have prevented: a file named like YAML that the walk
//! does not read (`nodegroups.YAML`, rule `skipped-file`) makes whatever it declares look
//! removed from git, and the plan would delete it.
//!
//! ```text
//!  skipped file ──read best-effort──► declares [NodeGroup/general, …] | unreadable
//!  plan ──for each cluster owning the file's directory──► a delete of what it declares
//!       (any delete, when unreadable) ──► the cluster is blocked, naming the file
//! ```
//!
//! Blocking (not a warning) is the choice: the file says the operator meant those
//! resources to exist, and a node group or an access entry deleted by a typo in an
//! extension is not undone by renaming the file. The way out is explicit and in git:
//! rename the file so it is read, or remove it so the delete is what the repository says.

use super::{summarize, Action, Blocker, Plan, ResourceRef};
use crate::config::yaml::{self, Limits, Node};
use crate::model::Kind;

/// A file the walk skipped, with the cluster whose directory holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct SkippedFile {
    /// The file, as diagnostics name it.
    pub file: String,
    /// The cluster whose directory holds it.
    pub cluster: String,
    /// What it declares; `None` when it cannot be read as YAML.
    pub declares: Option<Vec<ResourceRef>>,
}

/// The resources a YAML text declares, named as plan steps name them (access entries by
/// principal ARN, Pod Identity associations as `namespace/serviceAccount`); `None` when
/// the text is not YAML.
pub fn declared(text: &str) -> Option<Vec<ResourceRef>> {
    let docs = yaml::parse(text, Limits::default()).ok()?;
    let mut out = Vec::new();
    for doc in &docs {
        let root = &doc.root;
        let field = |node: Option<&Node>, key: &str| {
            node.and_then(|n| n.get(key))
                .and_then(Node::as_str)
                .map(str::to_string)
        };
        let Some(kind) = Kind::lookup(
            &field(Some(root), "apiVersion").unwrap_or_default(),
            &field(Some(root), "kind").unwrap_or_default(),
        ) else {
            continue;
        };
        let spec = root.get("spec");
        let name = match kind {
            Kind::AccessEntry => field(spec, "principalArn"),
            Kind::PodIdentityAssociation => field(spec, "namespace")
                .zip(field(spec, "serviceAccount"))
                .map(|(ns, sa)| format!("{ns}/{sa}")),
            _ => field(root.get("metadata"), "name"),
        };
        if let Some(name) = name {
            out.push(ResourceRef { kind, name });
        }
    }
    Some(out)
}

/// Block every cluster whose plan deletes what a skipped file in its directory declares
/// (any delete, when the file cannot be read), naming the file and the way out.
pub fn block_deletes_of_skipped(plan: &mut Plan, skipped: &[SkippedFile]) {
    let mut changed = false;
    for c in &mut plan.clusters {
        let mut blockers = Vec::new();
        for f in skipped.iter().filter(|f| f.cluster == c.name) {
            for step in c.steps.iter().filter(|s| s.action == Action::Delete) {
                let message = match &f.declares {
                    Some(refs) if refs.contains(&step.resource) => format!(
                        "would be deleted, but {} declares it and is not read (keelson reads files ending in .yaml or .yml, lower case): rename the file so it is read, or remove it if the delete is meant",
                        f.file
                    ),
                    Some(_) => continue,
                    None => format!(
                        "would be deleted, and {} is not read (keelson reads files ending in .yaml or .yml, lower case) nor readable as YAML, so it may declare it: fix and rename the file, or remove it if the delete is meant",
                        f.file
                    ),
                };
                blockers.push(Blocker {
                    resource: step.resource.clone(),
                    message,
                });
            }
        }
        if !blockers.is_empty() {
            // A blocked cluster gets no steps.
            c.steps.clear();
            c.blocked.extend(blockers);
            changed = true;
        }
    }
    if changed {
        plan.summary = summarize(&plan.clusters);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_names_resources_as_steps_do() {
        let text = "apiVersion: keelson.dev/v1alpha1\nkind: NodeGroup\nmetadata: {name: general}\n---\napiVersion: keelson.dev/v1alpha1\nkind: AccessEntry\nmetadata: {name: admins}\nspec: {principalArn: 'arn:aws:iam::1:role/a'}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n";
        let refs = declared(text).unwrap();
        assert_eq!(
            refs,
            vec![
                ResourceRef {
                    kind: Kind::NodeGroup,
                    name: "general".into()
                },
                ResourceRef {
                    kind: Kind::AccessEntry,
                    name: "arn:aws:iam::1:role/a".into()
                },
            ]
        );
        assert!(declared("a: [unclosed\n").is_none());
    }
}
