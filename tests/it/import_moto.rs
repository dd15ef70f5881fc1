//! `keelson import --target aws` against moto's EKS server: clusters, node groups and
//! Fargate profiles made with the AWS CLI (no keelson marker, as another tool leaves
//! them), imported into an empty directory, then planned: no changes. Run by tests/run.sh
//! (KEELSON_MOTO_URL); skipped by a plain `cargo test`.

use super::moto::{aws, keelson, moto, text};

#[test]
fn clusters_made_with_the_aws_cli_import_and_plan_no_changes_against_moto() {
    let Some(url) = moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fleet");
    let subnets = "subnetIds=subnet-0a1b2c3d4e5f60011,subnet-0a1b2c3d4e5f60012";
    for name in ["imp-a", "imp-b"] {
        aws(
            &url,
            &[
                "eks",
                "create-cluster",
                "--name",
                name,
                "--kubernetes-version",
                "1.34",
                "--role-arn",
                "arn:aws:iam::123456789012:role/eks-cluster",
                "--resources-vpc-config",
                subnets,
                "--tags",
                "team=shop",
            ],
        );
    }
    aws(
        &url,
        &[
            "eks",
            "create-nodegroup",
            "--cluster-name",
            "imp-a",
            "--nodegroup-name",
            "general",
            "--kubernetes-version",
            "1.34",
            "--ami-type",
            "AL2023_x86_64_STANDARD",
            "--node-role",
            "arn:aws:iam::123456789012:role/eks-node",
            "--subnets",
            "subnet-0a1b2c3d4e5f60011",
            "--scaling-config",
            "minSize=1,maxSize=5,desiredSize=2",
            "--instance-types",
            "m6i.large",
            "--labels",
            "pool=general",
        ],
    );
    aws(
        &url,
        &[
            "eks",
            "create-fargate-profile",
            "--cluster-name",
            "imp-b",
            "--fargate-profile-name",
            "jobs",
            "--pod-execution-role-arn",
            "arn:aws:iam::123456789012:role/fargate",
            "--subnets",
            "subnet-0a1b2c3d4e5f60011",
            "--selectors",
            "namespace=jobs",
        ],
    );
    let import = |clusters: &[&str], out: &std::path::Path| {
        let mut args = vec!["import", "--target", "aws", "--region", "us-east-1"];
        for c in clusters {
            args.extend(["--cluster", c]);
        }
        args.extend(["--out", out.to_str().unwrap(), "--fleet", "moto-import"]);
        keelson(&url, &args)
    };
    let o = import(&["imp-a", "imp-b"], &out);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let ng = std::fs::read_to_string(out.join("clusters/imp-a/nodegroups.yaml")).unwrap();
    assert!(
        ng.contains("maxSize: 5") && !ng.contains("desiredSize"),
        "{ng}"
    );
    let fp = std::fs::read_to_string(out.join("clusters/imp-b/fargate.yaml")).unwrap();
    assert!(fp.contains("namespace: jobs"), "{fp}");
    let o = keelson(
        &url,
        &[
            "plan",
            "--repo",
            out.to_str().unwrap(),
            "--target",
            "aws",
            "--cluster",
            "imp-a",
            "--cluster",
            "imp-b",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "the plan of what was imported is empty:\n{}",
        text(&o)
    );
    assert!(
        text(&o).contains("unmanaged: Cluster imp-a"),
        "{}",
        text(&o)
    );
    // An unknown cluster: an error naming it, nothing written.
    let other = dir.path().join("other");
    let o = import(&["imp-none"], &other);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("no cluster named imp-none"),
        "{}",
        text(&o)
    );
    assert!(!other.exists());
}
