//! A fleet as a platform team runs it against moto: clusters in two regions and in a
//! second account reached through an assumed role, with other teams' clusters (no
//! keelson marker, or another fleet's) beside them in every place. Run by tests/run.sh
//! (KEELSON_MOTO_URL); skipped by a plain `cargo test`.
//!
//! moto keeps one EKS backend per account and region, and serves STS AssumeRole: with
//! the assumed role's credentials, calls reach the role's account.

use super::moto::{aws, aws_env, keelson, moto, text, write};

/// A fleet name unique to this file: moto keeps every test's clusters for the whole run,
/// and those of the other tests are foreign clusters here.
const FLEET: &str = "apiVersion: keelson.dev/v1alpha1\nkind: Fleet\nmetadata: {name: regions20}\nspec:\n  stages: [{name: prod, apply: auto}]\n  policy:\n    allowClusterDeletion: true\n    accounts:\n      - id: \"222233334444\"\n        operatorRoleArn: arn:aws:iam::222233334444:role/keelson\n";

fn cluster(name: &str, region: &str, account: Option<&str>) -> String {
    let account = account
        .map(|a| format!("  account: \"{a}\"\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: keelson.dev/v1alpha1\nkind: Cluster\nmetadata: {{name: {name}}}\nspec:\n  region: {region}\n{account}  version: \"1.34\"\n  stage: prod\n  roleArn: arn:aws:iam::123456789012:role/eks-cluster\n  vpc:\n    subnetIds: [subnet-0a1b2c3d4e5f60001, subnet-0a1b2c3d4e5f60002]\n"
    )
}

/// The second account's credentials, through its role (as keelson assumes it).
fn second_account(url: &str) -> Vec<(&'static str, String)> {
    let v = aws(
        url,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::222233334444:role/keelson",
            "--role-session-name",
            "other-team",
        ],
    );
    let c = &v["Credentials"];
    let s = |k: &str| c[k].as_str().unwrap().to_string();
    vec![
        ("AWS_ACCESS_KEY_ID", s("AccessKeyId")),
        ("AWS_SECRET_ACCESS_KEY", s("SecretAccessKey")),
        ("AWS_SESSION_TOKEN", s("SessionToken")),
    ]
}

fn aws_as(url: &str, who: &[(&'static str, String)], args: &[&str]) -> serde_json::Value {
    let env: Vec<(&str, &str)> = who.iter().map(|(k, v)| (*k, v.as_str())).collect();
    aws_env(url, &env, args)
}

/// Another team's cluster, made with the aws CLI as `who`.
fn foreign(url: &str, who: &[(&'static str, String)], name: &str, region: &str) {
    aws_as(
        url,
        who,
        &[
            "eks",
            "create-cluster",
            "--region",
            region,
            "--name",
            name,
            "--role-arn",
            "arn:aws:iam::123456789012:role/other-team",
            "--resources-vpc-config",
            "subnetIds=subnet-0a1b2c3d4e5f60009",
            "--tags",
            "team=someone-else",
        ],
    );
}

fn clusters_in(url: &str, who: &[(&'static str, String)], region: &str) -> Vec<String> {
    let v = aws_as(url, who, &["eks", "list-clusters", "--region", region]);
    v["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect()
}

/// `keelson plan --target aws --detailed-exitcode` of the whole fleet.
fn plan(url: &str, repo: &str) -> std::process::Output {
    let args = [
        "plan",
        "--repo",
        repo,
        "--target",
        "aws",
        "--detailed-exitcode",
    ];
    keelson(url, &args)
}

#[test]
fn foreign_clusters_in_every_region_and_account_do_not_stop_the_fleet_and_decommissioning_works_anywhere(
) {
    let Some(url) = moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    write(&repo, "keelson.yaml", FLEET);
    write(
        &repo,
        "use1/cluster.yaml",
        &cluster("r20-use1", "us-east-1", None),
    );
    write(
        &repo,
        "euw1/cluster.yaml",
        &cluster("r20-euw1", "eu-west-1", None),
    );
    write(
        &repo,
        "euw1-keep/cluster.yaml",
        &cluster("r20-euw1-keep", "eu-west-1", None),
    );
    write(
        &repo,
        "second/cluster.yaml",
        &cluster("r20-second", "eu-west-1", Some("222233334444")),
    );
    let r = repo.to_str().unwrap();
    let me = Vec::new();
    let second = second_account(&url);

    let o = keelson(
        &url,
        &["apply", "--repo", r, "--target", "aws", "--auto-approve"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(clusters_in(&url, &me, "eu-west-1").contains(&"r20-euw1".to_string()));
    assert!(
        clusters_in(&url, &second, "eu-west-1").contains(&"r20-second".to_string()),
        "the second account's cluster is made through its role"
    );

    // Other teams' clusters, in each region and account the fleet uses.
    foreign(&url, &me, "r20-other-euw1", "eu-west-1");
    foreign(&url, &me, "r20-other-use1", "us-east-1");
    foreign(&url, &second, "r20-other-second", "eu-west-1");

    let o = plan(&url, r);
    assert_eq!(
        o.status.code(),
        Some(0),
        "foreign clusters are not the fleet's business:\n{}",
        text(&o)
    );
    assert!(!text(&o).contains("r20-other"), "{}", text(&o));
    let o = keelson(
        &url,
        &[
            "run", "--repo", r, "--target", "aws", "--once", "--listen", "none",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "a sync converges: {}", text(&o));

    // Decommissioning clusters outside the default region, in both accounts (the last
    // of its account there, too).
    std::fs::remove_dir_all(repo.join("euw1")).unwrap();
    std::fs::remove_dir_all(repo.join("second")).unwrap();
    let o = plan(&url, r);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("r20-euw1") && out.contains("r20-second"),
        "{out}"
    );
    let o = keelson(
        &url,
        &["apply", "--repo", r, "--target", "aws", "--auto-approve"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let euw1 = clusters_in(&url, &me, "eu-west-1");
    assert!(!euw1.contains(&"r20-euw1".to_string()), "{euw1:?}");
    assert!(euw1.contains(&"r20-other-euw1".to_string()), "{euw1:?}");
    let there = clusters_in(&url, &second, "eu-west-1");
    assert!(!there.contains(&"r20-second".to_string()), "{there:?}");
    assert!(there.contains(&"r20-other-second".to_string()), "{there:?}");
    assert!(clusters_in(&url, &me, "us-east-1").contains(&"r20-use1".to_string()));

    // A cluster moved to another region in git: created there, and the old one named,
    // with what keelson does with it.
    write(
        &repo,
        "use1/cluster.yaml",
        &cluster("r20-use1", "eu-west-1", None),
    );
    let o = plan(&url, r);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("+ Cluster r20-use1"), "{out}");
    assert!(
        out.contains("cluster r20-use1 of this fleet also exists in us-east-1"),
        "{out}"
    );
    assert!(out.contains("leaves the one in us-east-1 alone"), "{out}");
}
