//! After a manifest is fixed in git, its live copy still carries the old apiVersion (keelson
//! reads `manifests/`, the team's pipeline applies them): `keelson sim apply-manifests` is
//! that pipeline on the simulator, and the upgrade it blocked goes ahead.

use std::path::Path;

use crate::daemon::{edit, keelson, s};
use crate::plan_cli::copy;
use crate::util::out_and_err as text;

#[test]
fn fixing_a_manifest_and_its_live_copy_unblocks_the_hop() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("upgrade");
    copy(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/upgrade")),
        &repo,
    );
    let r = s(&repo);
    let o = keelson(&["sim", "seed", "--repo", r, "--version", "1.31"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let plan = || {
        keelson(&[
            "plan",
            "--repo",
            r,
            "--cluster",
            "prod-use1",
            "--detailed-exitcode",
        ])
    };
    edit(
        &repo.join("clusters/prod-use1/manifests/flow-schema.yaml"),
        "apiVersion: flowcontrol.apiserver.k8s.io/v1beta3",
        "apiVersion: flowcontrol.apiserver.k8s.io/v1",
    );
    // git is fixed, the live copy is not.
    let o = plan();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("live object (managed-fields): FlowSchema batch-jobs uses flowcontrol.apiserver.k8s.io/v1beta3"), "{}", text(&o));
    assert!(!text(&o).contains("flow-schema.yaml:5"), "{}", text(&o));

    let o = keelson(&[
        "sim",
        "apply-manifests",
        "--repo",
        r,
        "--cluster",
        "prod-use1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("applied 1 manifest(s)"), "{}", text(&o));
    let o = plan();
    let out = text(&o);
    assert!(
        !out.contains("BLOCKED") && !out.contains("v1beta3"),
        "{out}"
    );

    // Refused where it makes no sense.
    let o = keelson(&["sim", "apply-manifests", "--repo", r, "--cluster", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("no cluster named nope"), "{}", text(&o));
    let o = keelson(&["sim", "apply-manifests", "--repo", r, "--target", "aws"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("kubectl apply -f FILE"), "{}", text(&o));
}
