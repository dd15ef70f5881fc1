//! Where a cluster's bootstrap manifests live: the `bootstrap/` directory next to its
//! Cluster document (and the directories below it).
//!
//! ```text
//!  clusters/prod/cluster.yaml            Cluster
//!  clusters/prod/bootstrap/ns.yaml       ─► applied by server-side apply, pruned by label
//!  clusters/prod/manifests/web.yaml      ─► scanned for removed APIs only
//! ```
//!
//! The loader keeps the full document only for files under a directory named
//! `bootstrap` (decided per file, before clusters are known), then attaches it to the
//! cluster whose own `bootstrap/` holds it.

/// The directory name that holds a cluster's bootstrap manifests.
pub(crate) const BOOTSTRAP_DIR: &str = "bootstrap";

/// Whether `rel_dir` (relative to the repo root, `/`-separated) is inside some
/// `bootstrap/` directory.
pub(crate) fn in_bootstrap_dir(rel_dir: &str) -> bool {
    rel_dir.split('/').any(|seg| seg == BOOTSTRAP_DIR)
}

/// Whether `rel_dir` is the `bootstrap/` directory of the cluster in `cluster_dir`, or
/// below it.
pub(crate) fn is_bootstrap_of(cluster_dir: &str, rel_dir: &str) -> bool {
    let root = if cluster_dir.is_empty() {
        BOOTSTRAP_DIR.to_string()
    } else {
        format!("{cluster_dir}/{BOOTSTRAP_DIR}")
    };
    rel_dir == root
        || rel_dir
            .strip_prefix(&root)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_clusters_own_bootstrap_directory_counts() {
        assert!(is_bootstrap_of("clusters/a", "clusters/a/bootstrap"));
        assert!(is_bootstrap_of("clusters/a", "clusters/a/bootstrap/rbac"));
        assert!(is_bootstrap_of("", "bootstrap"));
        assert!(!is_bootstrap_of("clusters/a", "clusters/a/bootstrapping"));
        assert!(!is_bootstrap_of("clusters/a", "clusters/a/manifests"));
        assert!(!is_bootstrap_of(
            "clusters/a",
            "clusters/a/manifests/bootstrap"
        ));
        assert!(in_bootstrap_dir("clusters/a/manifests/bootstrap"));
        assert!(!in_bootstrap_dir("clusters/a/manifests"));
    }
}
