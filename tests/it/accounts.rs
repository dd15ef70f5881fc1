//! `spec.account` is where a cluster lives: on moto (its caller is in 123456789012, STS
//! GetCallerIdentity), a cluster whose account the credentials for it do not reach is
//! refused with the role to configure, while the rest of the fleet is planned as usual.

use std::path::Path;

use crate::moto::{keelson as moto_keelson, moto, text, write};

const FLEET: &str = "apiVersion: keelson.dev/v1alpha1\nkind: Fleet\nmetadata: {name: accounts20}\nspec:\n  stages: [{name: prod}]\n";

fn cluster(name: &str, account: &str) -> String {
    format!("apiVersion: keelson.dev/v1alpha1\nkind: Cluster\nmetadata: {{name: {name}}}\nspec:\n  region: us-east-1\n  account: \"{account}\"\n  version: \"1.34\"\n  stage: prod\n  roleArn: arn:aws:iam::{account}:role/eks-cluster\n  vpc:\n    subnetIds: [subnet-0a1b2c3d4e5f60001, subnet-0a1b2c3d4e5f60002]\n")
}

fn repo(root: &Path, reached: &str) {
    write(root, "keelson.yaml", FLEET);
    write(root, "here/cluster.yaml", &cluster("acct-here", reached));
    write(
        root,
        "elsewhere/cluster.yaml",
        &cluster("acct-elsewhere", "999988887777"),
    );
}

fn check(out: &str, code: Option<i32>, reached: &str) {
    assert_eq!(code, Some(3), "the misplaced cluster is blocked: {out}");
    assert!(out.contains("+ Cluster acct-here"), "{out}");
    assert!(
        out.contains(&format!("`spec.account` is 999988887777, but the caller's own credentials (no role is configured for it) reach account {reached}")),
        "{out}"
    );
    assert!(out.contains("arn:aws:iam::999988887777:role/ROLE"), "{out}");
    assert!(!out.contains("+ Cluster acct-elsewhere"), "{out}");
}

#[test]
fn aws_refuses_a_cluster_in_an_account_the_caller_does_not_reach() {
    let Some(url) = moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    repo(dir.path(), "123456789012");
    let o = moto_keelson(
        &url,
        &[
            "plan",
            "--repo",
            dir.path().to_str().unwrap(),
            "--target",
            "aws",
            "--cluster",
            "acct-here",
            "--cluster",
            "acct-elsewhere",
            "--detailed-exitcode",
        ],
    );
    check(&text(&o), o.status.code(), "123456789012");
}
