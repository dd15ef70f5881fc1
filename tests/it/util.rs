//! Helpers shared by the integration tests.

use keelson::config::{self, Diagnostic, LoadOptions, Loaded, SourceFile};
use keelson::versions::Date;

/// The day the tests pretend it is, so support-calendar checks do not move under them.
pub const TODAY: Date = Date::new(2026, 11, 23);

/// Load an in-memory repo of `(relative path, text)` files.
pub fn load(files: &[(&str, &str)]) -> Loaded {
    let files: Vec<SourceFile> = files
        .iter()
        .map(|(rel, text)| SourceFile {
            display: rel.to_string(),
            rel: rel.to_string(),
            bytes: text.as_bytes().to_vec(),
        })
        .collect();
    config::load(&files, &LoadOptions::new(TODAY))
}

/// A fleet with stages `staging` and `prod`.
pub const FLEET: &str = "\
apiVersion: keelson.dev/v1alpha1
kind: Fleet
metadata: {name: platform}
spec:
  stages:
    - {name: staging, apply: auto, soak: 24h}
    - {name: prod}
";

/// A valid Auto Mode cluster.
pub const AUTO_CLUSTER: &str = "\
apiVersion: keelson.dev/v1alpha1
kind: Cluster
metadata: {name: auto1}
spec:
  region: ap-northeast-1
  version: \"1.34\"
  stage: staging
  roleArn: arn:aws:iam::111122223333:role/cluster
  vpc:
    subnetIds: [subnet-0a1b2c3d4e5f60001, subnet-0a1b2c3d4e5f60002]
  autoMode:
    compute:
      enabled: true
      nodePools: [system, general-purpose]
      nodeRoleArn: arn:aws:iam::111122223333:role/node
    blockStorage: {enabled: true}
    loadBalancing: {enabled: true}
  access: {authenticationMode: API}
";

/// A valid cluster with managed node groups.
pub const MNG_CLUSTER: &str = "\
apiVersion: keelson.dev/v1alpha1
kind: Cluster
metadata: {name: mng1}
spec:
  region: us-east-1
  version: \"1.34\"
  stage: prod
  roleArn: arn:aws:iam::111122223333:role/cluster
  vpc:
    subnetIds: [subnet-0a1b2c3d4e5f60001, subnet-0a1b2c3d4e5f60002]
";

/// A custom NodeClass with its EC2 access entry, valid in the Auto Mode cluster.
pub const NODECLASS: &str = "\
apiVersion: eks.amazonaws.com/v1
kind: NodeClass
metadata: {name: batch}
spec:
  role: batch-node
---
apiVersion: keelson.dev/v1alpha1
kind: AccessEntry
metadata: {name: batch-nodes}
spec:
  principalArn: arn:aws:iam::111122223333:role/batch-node
  type: EC2
  policies:
    - policyArn: arn:aws:eks::aws:cluster-access-policy/AmazonEKSAutoNodePolicy
      accessScope: {type: cluster}
";

/// The line `line` (1-based) of `text`.
pub fn line_of(text: &str, line: u32) -> &str {
    text.lines().nth(line as usize - 1).unwrap_or("")
}

/// Render diagnostics for assertion messages.
pub fn show(diags: &[Diagnostic]) -> String {
    diags.iter().map(|d| format!("{d}\n")).collect()
}

/// Run the keelson binary on [`TODAY`], without stdin.
pub fn keelson_cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_keelson"))
        .args(["--today", "2026-11-23"])
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run keelson")
}

/// stdout then stderr of a run.
pub fn out_and_err(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
