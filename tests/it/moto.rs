//! `--target aws` end to end against moto's EKS server, a third-party implementation of
//! the EKS API. Run by tests/run.sh, which starts moto_server and sets KEELSON_MOTO_URL
//! (and KEELSON_AWS_CLI to the awscli it installed); skipped by a plain `cargo test`.
//! moto implements clusters, node groups and Fargate profiles, so the fleet here uses
//! only those.

use std::path::Path;
use std::process::{Command, Output, Stdio};

pub(crate) fn moto() -> Option<String> {
    match std::env::var("KEELSON_MOTO_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            eprintln!(
                "KEELSON_MOTO_URL is not set: skipping (tests/run.sh runs this against moto)"
            );
            None
        }
    }
}

pub(crate) fn env(cmd: &mut Command, url: &str) {
    cmd.env("AWS_ENDPOINT_URL_EKS", url)
        .env("AWS_ENDPOINT_URL", url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null());
}

fn keelson(url: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keelson"));
    env(&mut cmd, url);
    cmd.args(["--today", "2026-11-23"])
        .args(args)
        .output()
        .unwrap()
}

pub(crate) fn aws(url: &str, args: &[&str]) -> serde_json::Value {
    let cli = std::env::var("KEELSON_AWS_CLI").unwrap_or_else(|_| "aws".into());
    let mut cmd = Command::new(cli);
    env(&mut cmd, url);
    let o = cmd
        .args(["--endpoint-url", url, "--output", "json"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "aws {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const FLEET: &str = "apiVersion: keelson.dev/v1alpha1\nkind: Fleet\nmetadata: {name: moto}\nspec:\n  stages: [{name: prod}]\n";

fn cluster(name: &str) -> String {
    format!(
        "apiVersion: keelson.dev/v1alpha1\nkind: Cluster\nmetadata: {{name: {name}}}\nspec:\n  region: us-east-1\n  version: \"1.34\"\n  stage: prod\n  roleArn: arn:aws:iam::123456789012:role/eks-cluster\n  vpc:\n    subnetIds: [subnet-0a1b2c3d4e5f60001, subnet-0a1b2c3d4e5f60002]\n  tags: {{team: platform}}\n"
    )
}

const NODEGROUP: &str = "apiVersion: keelson.dev/v1alpha1\nkind: NodeGroup\nmetadata: {name: general}\nspec:\n  nodeRoleArn: arn:aws:iam::123456789012:role/eks-node\n  subnetIds: [subnet-0a1b2c3d4e5f60001]\n  instanceTypes: [m6i.large]\n  amiType: AL2023_x86_64_STANDARD\n  capacityType: ON_DEMAND\n  diskSize: 50\n  scaling: {minSize: 1, maxSize: 4, desiredSize: 2}\n";

const FARGATE: &str = "apiVersion: keelson.dev/v1alpha1\nkind: FargateProfile\nmetadata: {name: jobs}\nspec:\n  podExecutionRoleArn: arn:aws:iam::123456789012:role/fargate\n  subnetIds: [subnet-0a1b2c3d4e5f60001]\n  selectors: [{namespace: jobs}]\n";

fn write(root: &Path, rel: &str, body: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

#[test]
fn apply_against_moto_then_read_back_with_the_aws_cli_and_plan_nothing() {
    let Some(url) = moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    // Names unique to this test, since moto keeps state for the whole run.
    write(repo, "keelson.yaml", FLEET);
    write(repo, "a/cluster.yaml", &cluster("moto-a"));
    write(repo, "a/nodegroups.yaml", NODEGROUP);
    write(repo, "a/fargate.yaml", FARGATE);
    write(repo, "b/cluster.yaml", &cluster("moto-b"));
    write(repo, "b/nodegroups.yaml", NODEGROUP);
    let r = repo.to_str().unwrap();

    let o = keelson(
        &url,
        &[
            "apply",
            "--repo",
            r,
            "--target",
            "aws",
            "--cluster",
            "moto-a",
            "--cluster",
            "moto-b",
            "--auto-approve",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let c = aws(&url, &["eks", "describe-cluster", "--name", "moto-a"]);
    assert_eq!(c["cluster"]["version"], "1.34");
    assert_eq!(
        c["cluster"]["roleArn"],
        "arn:aws:iam::123456789012:role/eks-cluster"
    );
    assert_eq!(c["cluster"]["tags"]["team"], "platform");
    assert_eq!(c["cluster"]["tags"]["keelson.dev/fleet"], "moto");
    let ng = aws(
        &url,
        &[
            "eks",
            "describe-nodegroup",
            "--cluster-name",
            "moto-b",
            "--nodegroup-name",
            "general",
        ],
    );
    assert_eq!(ng["nodegroup"]["scalingConfig"]["maxSize"], 4);
    assert_eq!(ng["nodegroup"]["instanceTypes"][0], "m6i.large");
    let fp = aws(
        &url,
        &[
            "eks",
            "describe-fargate-profile",
            "--cluster-name",
            "moto-a",
            "--fargate-profile-name",
            "jobs",
        ],
    );
    assert_eq!(fp["fargateProfile"]["selectors"][0]["namespace"], "jobs");

    let o = keelson(
        &url,
        &[
            "plan",
            "--repo",
            r,
            "--target",
            "aws",
            "--cluster",
            "moto-a",
            "--cluster",
            "moto-b",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "a second plan must be empty:\n{}",
        text(&o)
    );

    // A change in git: exactly that in the plan, then in moto.
    write(
        repo,
        "b/nodegroups.yaml",
        &NODEGROUP.replace("maxSize: 4", "maxSize: 7"),
    );
    let o = keelson(
        &url,
        &[
            "plan",
            "--repo",
            r,
            "--target",
            "aws",
            "--cluster",
            "moto-b",
            "--format",
            "json",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let steps = plan["clusters"][0]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{plan:#}");
    assert_eq!(steps[0]["changes"][0]["path"], "scaling.maxSize");
    let o = keelson(
        &url,
        &[
            "apply",
            "--repo",
            r,
            "--target",
            "aws",
            "--cluster",
            "moto-b",
            "--auto-approve",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let ng = aws(
        &url,
        &[
            "eks",
            "describe-nodegroup",
            "--cluster-name",
            "moto-b",
            "--nodegroup-name",
            "general",
        ],
    );
    assert_eq!(ng["nodegroup"]["scalingConfig"]["maxSize"], 7);
}

#[test]
fn snapshot_of_a_moto_cluster_replays_on_the_simulator() {
    let Some(url) = moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    write(repo, "keelson.yaml", FLEET);
    write(repo, "s/cluster.yaml", &cluster("moto-snap"));
    write(repo, "s/nodegroups.yaml", NODEGROUP);
    let r = repo.to_str().unwrap();
    let o = keelson(
        &url,
        &[
            "apply",
            "--repo",
            r,
            "--target",
            "aws",
            "--cluster",
            "moto-snap",
            "--auto-approve",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let snap = repo.join("snap.json");
    let o = keelson(
        &url,
        &[
            "snapshot",
            "--repo",
            r,
            "--target",
            "aws",
            "--cluster",
            "moto-snap",
            "-o",
            snap.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The simulator holding the snapshot agrees the repo is applied.
    let o = keelson(
        &url,
        &[
            "plan",
            "--repo",
            r,
            "--target",
            "sim",
            "--state",
            snap.to_str().unwrap(),
            "--cluster",
            "moto-snap",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// Hybrid-node networks (create and UpdateClusterConfig) and a node group's update
/// strategy and auto repair, which moto stores and describes, sent and read back.
#[test]
fn hybrid_networks_update_strategy_and_node_repair_round_trip_through_moto() {
    let Some(url) = moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    let net = |cidr: &str| {
        format!(
            "{}  remoteNetworkConfig:\n    remoteNodeNetworks: [{{cidrs: [{cidr}]}}]\n",
            cluster("moto-hybrid")
        )
    };
    write(repo, "keelson.yaml", FLEET);
    write(repo, "h/cluster.yaml", &net("10.80.0.0/16"));
    write(
        repo,
        "h/nodegroups.yaml",
        &format!("{NODEGROUP}  updateConfig: {{maxUnavailable: 1, updateStrategy: MINIMAL}}\n  nodeRepairConfig: {{enabled: true}}\n"),
    );
    let r = repo.to_str().unwrap();
    // `apply` (with --auto-approve) or `plan` (with --detailed-exitcode) of this cluster.
    let run = |cmd: &str| {
        let flag = if cmd == "apply" {
            "--auto-approve"
        } else {
            "--detailed-exitcode"
        };
        let args = [
            cmd,
            "--repo",
            r,
            "--target",
            "aws",
            "--cluster",
            "moto-hybrid",
            flag,
        ];
        keelson(&url, &args)
    };
    let apply = || run("apply");
    let plan = || run("plan");
    let o = apply();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let c = aws(&url, &["eks", "describe-cluster", "--name", "moto-hybrid"]);
    assert_eq!(
        c["cluster"]["remoteNetworkConfig"]["remoteNodeNetworks"][0]["cidrs"][0],
        "10.80.0.0/16"
    );
    // moto 5.2 drops updateConfig and nodeRepairConfig from CreateNodegroup but keeps
    // them from UpdateNodegroupConfig: the next apply sends them that way.
    let o = apply();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let describe: Vec<&str> =
        "eks describe-nodegroup --cluster-name moto-hybrid --nodegroup-name general"
            .split(' ')
            .collect();
    let ng = aws(&url, &describe);
    assert_eq!(ng["nodegroup"]["updateConfig"]["updateStrategy"], "MINIMAL");
    assert_eq!(ng["nodegroup"]["nodeRepairConfig"]["enabled"], true);
    let o = plan();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    write(repo, "h/cluster.yaml", &net("10.81.0.0/16"));
    let o = plan();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("remoteNetworkConfig.remoteNodeNetworks"),
        "{}",
        text(&o)
    );
    let o = apply();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let c = aws(&url, &["eks", "describe-cluster", "--name", "moto-hybrid"]);
    assert_eq!(
        c["cluster"]["remoteNetworkConfig"]["remoteNodeNetworks"][0]["cidrs"][0],
        "10.81.0.0/16"
    );
}
