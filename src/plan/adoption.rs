//! Adoption: resources git declares that keelson did not create (no `keelson.dev/fleet`
//! marker, e.g. after `keelson import`) stay unmanaged, so keelson never deletes them,
//! until the Fleet's `policy.adoptUnmanaged` or the Cluster's `keelson.dev/adopt: "true"`
//! lets the next apply add the marker. The plan says which are which.
//!
//! ```text
//!  git resource + live tags ─┬─ marker ────────────────► keelson's (prunable)
//!                            ├─ no marker, adopt ──────► TagResource marker ─► "adopted"
//!                            └─ no marker ─────────────► no marker op ───────► "unmanaged"
//! ```

use crate::model::Kind;

/// What a cluster's plan found about resources keelson did not create.
#[derive(Debug, Default)]
pub(super) struct Adoption {
    /// Marked by this plan.
    adopted: Vec<String>,
    /// Left without the marker.
    unmanaged: Vec<String>,
}

impl Adoption {
    /// Record a resource git declares and the live state has.
    pub(super) fn see(&mut self, (kind, name): (Kind, &str), marked: bool, adopt: bool) {
        if marked {
            return;
        }
        let what = format!("{kind} {name}");
        if adopt {
            self.adopted.push(what);
        } else {
            self.unmanaged.push(what);
        }
    }

    /// The plan's notes: what this plan adopts, what stays unmanaged.
    pub(super) fn notes(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.adopted.is_empty() {
            out.push(format!(
                "adopted: {} get keelson's marker (keelson.dev/fleet); removing them from git later deletes them",
                self.adopted.join(", ")
            ));
        }
        if !self.unmanaged.is_empty() {
            out.push(format!(
                "unmanaged: {} lack keelson's marker, so keelson never deletes them; to adopt them, annotate the Cluster with keelson.dev/adopt: \"true\" (or set the Fleet's spec.policy.adoptUnmanaged) and apply",
                self.unmanaged.join(", ")
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_resources_are_neither_adopted_nor_unmanaged() {
        let mut a = Adoption::default();
        a.see((Kind::Addon, "vpc-cni"), true, false);
        assert!(a.notes().is_empty());
        a.see((Kind::Addon, "coredns"), false, false);
        a.see((Kind::NodeGroup, "general"), false, true);
        let notes = a.notes();
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].starts_with("adopted: NodeGroup general"));
        assert!(notes[1].starts_with("unmanaged: Addon coredns"));
    }
}
