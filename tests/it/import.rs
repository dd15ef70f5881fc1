//! `keelson import`: the round trip (apply on the simulator, import into an empty
//! directory, plan: no changes) for every example fleet and a generated fleet of 200
//! clusters; adoption (deletion only after it); eksctl conversion; bad input.

use std::path::{Path, PathBuf};

use crate::util::{keelson_cli, out_and_err};

fn run(args: &[&str]) -> (i32, String) {
    let o = keelson_cli(args);
    (o.status.code().unwrap_or(-1), out_and_err(&o))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `keelson apply` of `repo` on the simulator state `state`.
fn apply(repo: &Path, state: &Path) -> (i32, String) {
    run(&[
        "apply",
        "--repo",
        s(repo),
        "--state",
        s(state),
        "--auto-approve",
        "--sim-speed",
        "instant",
    ])
}

/// `keelson plan --detailed-exitcode` of `repo` on the simulator state `state`.
fn plan(repo: &Path, state: &Path) -> (i32, String) {
    run(&[
        "plan",
        "--repo",
        s(repo),
        "--state",
        s(state),
        "--detailed-exitcode",
    ])
}

/// `keelson import` of `clusters` from the simulator state `state` into `dest`.
fn import(state: &Path, dest: &Path, clusters: &[&str], extra: &[&str]) -> (i32, String) {
    let mut args = vec!["import", "--state", s(state), "--out", s(dest)];
    for c in clusters {
        args.extend(["--cluster", c]);
    }
    args.extend(extra);
    run(&args)
}

/// Copy a directory tree (the example fleets are read, never written, by the tests).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            if e.file_name() != ".keelson" {
                copy_dir(&e.path(), &target);
            }
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn cluster_names(repo: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo.join("clusters"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Apply `src` on a fresh simulator, import its clusters into an empty directory and
/// plan that: exit 0 with --detailed-exitcode means no changes.
fn round_trip(src: &Path, tmp: &Path) -> (PathBuf, PathBuf) {
    let state = tmp.join("sim.json");
    let (code, out) = apply(src, &state);
    assert_eq!(code, 0, "{out}");
    let dest = tmp.join("imported");
    let names = cluster_names(src);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let (code, out) = import(&state, &dest, &names, &[]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(&["validate", "--repo", s(&dest)]);
    assert_eq!(code, 0, "the imported files are valid: {out}");
    let (code, out) = plan(&dest, &state);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Plan: 0 to create, 0 to change, 0 to replace, 0 to delete."),
        "{out}"
    );
    (dest, state)
}

#[test]
fn every_example_fleet_round_trips_through_import_with_no_changes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for example in ["fleet", "upgrade"] {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        copy_dir(&root.join(example), &src);
        let (dest, _) = round_trip(&src, tmp.path());
        // What a person would write: quoted versions, add-ons pinned with a hint, a
        // schema modeline, nothing AWS manages.
        let any = cluster_names(&src)[0].clone();
        let cluster =
            std::fs::read_to_string(dest.join("clusters").join(&any).join("cluster.yaml")).unwrap();
        assert!(
            cluster
                .starts_with("# yaml-language-server: $schema=../../schemas/cluster.schema.json"),
            "{cluster}"
        );
        assert!(cluster.contains("  version: '1."), "{cluster}");
        for managed in [
            "arn:aws:eks:",
            "platformVersion",
            "status",
            "keelson.dev/fleet",
            "endpoint:",
        ] {
            assert!(!cluster.contains(managed), "{managed} in {cluster}");
        }
        assert!(dest.join("schemas/cluster.schema.json").exists());
    }
}

#[test]
fn the_fleet_example_imports_pinned_addons_and_leaves_out_what_eks_creates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fleet");
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    copy_dir(&root, &src);
    let (dest, _) = round_trip(&src, tmp.path());
    let addons = std::fs::read_to_string(dest.join("clusters/prod-use1/addons.yaml")).unwrap();
    assert!(
        addons.contains("version: v1.37.0-eksbuild.1  # as installed; `default`"),
        "{addons}"
    );
    let access = std::fs::read_to_string(dest.join("clusters/prod-use1/access.yaml")).unwrap();
    assert!(access.contains("role/platform-admin"), "{access}");
    assert!(
        !access.contains("keelson-operator"),
        "the creator's entry is EKS's: {access}"
    );
    let fleet = std::fs::read_to_string(dest.join("keelson.yaml")).unwrap();
    assert!(
        fleet.contains("name: platform"),
        "the marker's fleet name is kept: {fleet}"
    );
    let nodegroups =
        std::fs::read_to_string(dest.join("clusters/prod-use1/nodegroups.yaml")).unwrap();
    assert!(
        !nodegroups.contains("desiredSize") && !nodegroups.contains("releaseVersion"),
        "{nodegroups}"
    );
}

/// A fleet of `n` clusters made from the three of `examples/fleet` under new names.
fn generated_fleet(n: usize, to: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fleet");
    std::fs::create_dir_all(to.join("clusters")).unwrap();
    std::fs::copy(root.join("keelson.yaml"), to.join("keelson.yaml")).unwrap();
    let bases = cluster_names(&root);
    for i in 0..n {
        let base = &bases[i % bases.len()];
        let name = format!("{base}-{i:03}");
        let dir = to.join("clusters").join(&name);
        std::fs::create_dir_all(&dir).unwrap();
        for e in std::fs::read_dir(root.join("clusters").join(base)).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                let text = std::fs::read_to_string(e.path()).unwrap();
                let text = text.replace(&format!("name: {base}\n"), &format!("name: {name}\n"));
                std::fs::write(dir.join(e.file_name()), text).unwrap();
            }
        }
    }
}

#[test]
fn a_generated_fleet_of_200_clusters_round_trips_with_no_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    generated_fleet(200, &src);
    assert_eq!(cluster_names(&src).len(), 200);
    let (dest, _) = round_trip(&src, tmp.path());
    assert_eq!(cluster_names(&dest).len(), 200);
}

/// Remove keelson's marker (tag and label) from everything on the simulator: clusters made by another
/// tool.
fn strip_markers(state: &Path) {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("keelson.dev/fleet");
                if m.get("app.kubernetes.io/managed-by")
                    .and_then(|v| v.as_str())
                    == Some("keelson")
                {
                    m.remove("app.kubernetes.io/managed-by");
                }
                m.values_mut().for_each(walk);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(state).unwrap()).unwrap();
    walk(&mut v);
    std::fs::write(state, serde_json::to_vec(&v).unwrap()).unwrap();
}

/// Drop the `name` Addon document from an addons file.
fn drop_addon(file: &Path, name: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    let kept: Vec<&str> = text
        .split("\n---\n")
        .filter(|d| !d.contains(&format!("  name: {name}\n")))
        .collect();
    assert!(
        kept.len() < text.split("\n---\n").count(),
        "no addon {name} in {text}"
    );
    std::fs::write(file, kept.join("\n---\n")).unwrap();
}

/// `examples/fleet` applied on a simulator in `tmp`, then stripped of keelson's
/// markers, as if another tool had made it; returns the simulator's state file.
fn unmarked_example_fleet(tmp: &Path) -> PathBuf {
    let state = applied_example_fleet(tmp);
    strip_markers(&state);
    state
}

/// `examples/fleet` applied on a simulator in `tmp`; returns the simulator's state file.
fn applied_example_fleet(tmp: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fleet");
    let src = tmp.join("src");
    copy_dir(&root, &src);
    let state = tmp.join("sim.json");
    let (code, out) = apply(&src, &state);
    assert_eq!(code, 0, "{out}");
    state
}

#[test]
fn imported_resources_are_deleted_from_git_only_after_adoption() {
    let tmp = tempfile::tempdir().unwrap();
    let state = unmarked_example_fleet(tmp.path());
    let dest = tmp.path().join("imported");
    let (code, out) = import(&state, &dest, &["prod-use1"], &["--fleet", "platform"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = plan(&dest, &state);
    assert_eq!(code, 0, "unmarked resources are no change: {out}");
    assert!(out.contains("unmanaged: Cluster prod-use1"), "{out}");
    // Not adopted: removing the add-on from git deletes nothing.
    let addons = dest.join("clusters/prod-use1/addons.yaml");
    drop_addon(&addons, "coredns");
    let (code, out) = plan(&dest, &state);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "add-on coredns is installed but not in git and not created by keelson; left alone"
        ),
        "{out}"
    );
    // Adopt: import again with --adopt (--force: the cluster's files exist), apply.
    let (code, out) = import(&state, &dest, &["prod-use1"], &["--adopt"]);
    assert_eq!(
        code, 1,
        "existing files are not overwritten without --force: {out}"
    );
    assert!(out.contains("pass --force"), "{out}");
    let (code, out) = import(&state, &dest, &["prod-use1"], &["--adopt", "--force"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = plan(&dest, &state);
    assert_eq!(code, 2, "adoption is a change: {out}");
    assert!(out.contains("adopted: Cluster prod-use1"), "{out}");
    let (code, out) = apply(&dest, &state);
    assert_eq!(code, 0, "{out}");
    let (code, out) = plan(&dest, &state);
    assert_eq!(code, 0, "{out}");
    // Adopted: now removing the add-on from git deletes it.
    drop_addon(&addons, "coredns");
    let (code, out) = plan(&dest, &state);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("- Addon coredns"), "{out}");
}

#[test]
fn an_unknown_cluster_or_a_foreign_account_without_a_role_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("sim.json");
    let dest = tmp.path().join("out");
    let (code, out) = run(&[
        "import",
        "--cluster",
        "nope",
        "--state",
        s(&state),
        "--out",
        s(&dest),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no cluster named nope"), "{out}");
    assert!(out.contains("nothing was written"), "{out}");
    assert!(!dest.exists(), "nothing written");
    let (code, out) = run(&[
        "import",
        "--cluster",
        "a",
        "--target",
        "aws",
        "--region",
        "eu-west-1",
        "--account",
        "999988887777",
        "--out",
        s(&dest),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("account 999988887777") && out.contains("operatorRoleArn"),
        "{out}"
    );
    assert!(!dest.exists(), "nothing written");
}

#[test]
fn a_complete_eksctl_file_converts_to_a_valid_repository_and_exits_0() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/eksctl");
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("out");
    let (code, out) = run(&[
        "import",
        "--from-eksctl",
        s(&corpus.join("complete.yaml")),
        "--out",
        s(&dest),
        "--stage",
        "staging",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("the conversion is complete"), "{out}");
    let (code, out) = run(&["validate", "--repo", s(&dest)]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("11 documents") || out.contains("documents"),
        "{out}"
    );
    let read = |f: &str| std::fs::read_to_string(dest.join("clusters/shop-euw1").join(f)).unwrap();
    let cluster = read("cluster.yaml");
    for want in [
        "serviceIpv4Cidr: 10.96.0.0/16",
        "ipFamily: ipv4",
        "authenticationMode: API",
        "- authenticator",
        "secretsKmsKeyArn: arn:aws:kms:",
        "subnet-0aaaaaaaaaaaaaaa1",
        "endpointPrivateAccess: true",
        "203.0.113.0/24",
        "team: shop",
    ] {
        assert!(cluster.contains(want), "{want} in {cluster}");
    }
    let ng = read("nodegroups.yaml");
    for want in [
        "amiType: AL2023_x86_64_STANDARD",
        "amiType: AL2023_ARM_64_STANDARD",
        "capacityType: SPOT",
        "effect: NO_SCHEDULE",
        "diskSize: 80",
    ] {
        assert!(ng.contains(want), "{want} in {ng}");
    }
    // The private subnets, for privateNetworking: true.
    assert!(
        !ng.split("---")
            .next()
            .unwrap()
            .contains("subnet-0bbbbbbbbbbbbbbb1"),
        "{ng}"
    );
    let addons = read("addons.yaml");
    assert!(
        addons.contains("resolveConflicts: OVERWRITE")
            && addons.contains("ENABLE_PREFIX_DELEGATION"),
        "{addons}"
    );
    assert!(addons.contains("version: default"), "{addons}");
    assert!(read("access.yaml").contains("namespaces:"));
    assert!(read("pod-identity.yaml").contains("serviceAccount: cart"));
    assert!(read("fargate.yaml").contains("runtime: fargate"));
}

#[test]
fn an_incomplete_eksctl_file_lists_every_field_left_out_and_exits_2() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/eksctl");
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("out");
    let file = corpus.join("partial.yaml");
    let (code, out) = run(&["import", "--from-eksctl", s(&file), "--out", s(&dest)]);
    assert_eq!(code, 2, "{out}");
    let shown = file.display().to_string();
    for (pos, field) in [
        ("9:20", "`availabilityZones`"),
        ("11:13", "`iam.withOIDC`"),
        ("13:7", "`iam.serviceAccounts[0]`"),
        ("16:9", "`vpc.cidr`"),
        ("17:8", "`vpc.nat`"),
        ("21:3", "`nodeGroups`"),
        ("27:5", "`managedNodeGroups[0].preBootstrapCommands`"),
        ("30:5", "`addons[0].wellKnownPolicies`"),
        ("34:25", "`cloudWatch.clusterLogging.logRetentionInDays`"),
    ] {
        assert!(
            out.contains(&format!("{shown}:{pos}: {field}")),
            "{pos} {field} in {out}"
        );
    }
    assert!(
        out.contains("self-managed node groups are not managed by keelson"),
        "{out}"
    );
    assert!(out.contains("bring your own subnets"), "{out}");
    assert!(out.contains("iam.serviceRoleARN"), "{out}");
    // What could be converted was written; placeholders are marked.
    let cluster = std::fs::read_to_string(dest.join("clusters/quick/cluster.yaml")).unwrap();
    assert!(cluster.contains("REPLACE-ME"), "{cluster}");
    assert!(
        cluster.contains("- scheduler"),
        "enableTypes * is every log type: {cluster}"
    );
}

#[test]
fn an_eksctl_file_that_is_not_yaml_or_not_v1alpha5_is_refused_with_its_position() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/eksctl");
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("out");
    for (file, want) in [
        (
            "v1alpha4.yaml",
            ":2:13: error[eksctl-version]: apiVersion is `eksctl.io/v1alpha4`",
        ),
        ("not-yaml.yaml", ": error[eksctl-yaml]: not valid YAML"),
    ] {
        let path = corpus.join(file);
        let (code, out) = run(&["import", "--from-eksctl", s(&path), "--out", s(&dest)]);
        assert_eq!(code, 1, "{out}");
        assert!(
            out.contains(&format!("{}{want}", path.display())) || out.contains(want),
            "{want} in {out}"
        );
        assert!(out.contains("nothing was written"), "{out}");
        assert!(!dest.exists());
    }
}

#[test]
fn nodepools_without_keelsons_label_round_trip_and_are_pruned_only_after_adoption() {
    let tmp = tempfile::tempdir().unwrap();
    let state = unmarked_example_fleet(tmp.path());
    let dest = tmp.path().join("imported");
    let import = |extra: &[&str]| {
        let all = [&["--fleet", "platform"][..], extra].concat();
        import(&state, &dest, &["staging-apne1"], &all)
    };
    let plan = || plan(&dest, &state);
    let (code, out) = import(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        dest.join("clusters/staging-apne1/nodepools.yaml").exists(),
        "{out}"
    );
    let (code, out) = plan();
    assert_eq!(code, 0, "an unlabelled NodePool is no change: {out}");
    assert!(
        out.contains("NodePool batch-arm64") && out.contains("unmanaged:"),
        "{out}"
    );
    // Not adopted: the NodePool removed from git stays.
    let pools = dest.join("clusters/staging-apne1/nodepools.yaml");
    std::fs::remove_file(&pools).unwrap();
    let (code, out) = plan();
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("- NodePool"), "{out}");
    // Adopted: the label is applied, and then removing it from git deletes it.
    let (code, out) = import(&["--adopt", "--force"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = plan();
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("labels.app.kubernetes.io/managed-by"), "{out}");
    let (code, out) = apply(&dest, &state);
    assert_eq!(code, 0, "{out}");
    std::fs::remove_file(&pools).unwrap();
    let (code, out) = plan();
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("- NodePool batch-arm64"), "{out}");
}

/// Add Kubernetes objects to a cluster of the simulator state file, as other tools (or
/// EKS) would have made them.
fn add_kube_objects(state: &Path, cluster: &str, objs: &[serde_json::Value]) {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(state).unwrap()).unwrap();
    let kube = v["clusters"][cluster]["kube"].as_object_mut().unwrap();
    for o in objs {
        let key = format!(
            "{}/{}",
            o["kind"].as_str().unwrap(),
            o["metadata"]["name"].as_str().unwrap()
        );
        kube.insert(key, o.clone());
    }
    std::fs::write(state, serde_json::to_vec(&v).unwrap()).unwrap();
}

#[test]
fn classes_and_bootstrap_objects_are_imported_and_eks_or_another_tools_classes_left_out() {
    let tmp = tempfile::tempdir().unwrap();
    let state = applied_example_fleet(tmp.path());
    let sc = |name: &str, provisioner: &str, labels: serde_json::Value| {
        serde_json::json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": name, "labels": labels, "uid": "0f1e", "resourceVersion": "42"},
            "provisioner": provisioner, "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"})
    };
    add_kube_objects(
        &state,
        "prod-apne1",
        &[
            // EKS's own class, another tool's class, and one made by hand with kubectl.
            sc("gp2", "kubernetes.io/aws-ebs", serde_json::json!({})),
            serde_json::json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                "metadata": {"name": "helm-alb", "labels": {"app.kubernetes.io/managed-by": "Helm"}},
                "spec": {"controller": "eks.amazonaws.com/alb"}}),
            sc(
                "handmade",
                "ebs.csi.eks.amazonaws.com",
                serde_json::json!({"team": "data"}),
            ),
        ],
    );
    let dest = tmp.path().join("imported");
    let (code, out) = import(&state, &dest, &["prod-apne1"], &[]);
    assert_eq!(code, 0, "{out}");
    let dir = dest.join("clusters/prod-apne1");
    let read =
        |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    let classes = read("classes.yaml");
    for want in [
        "kind: IngressClassParams\nmetadata:\n  name: alb\n",
        "kind: IngressClass\nmetadata:\n  name: alb\n",
        "kind: StorageClass\nmetadata:\n  name: auto-ebs-sc\n",
        "  name: handmade\n  labels:\n    team: data\n",
        "provisioner: ebs.csi.eks.amazonaws.com",
    ] {
        assert!(classes.contains(want), "{want} in {classes}");
    }
    // No server fields, no keelson labels, no API defaults, nothing EKS or Helm made.
    for absent in [
        "gp2",
        "helm-alb",
        "managed-by",
        "managedFields",
        "generation",
        "uid",
        "resourceVersion",
        "reclaimPolicy",
        "volumeBindingMode: Immediate",
    ] {
        assert!(!classes.contains(absent), "{absent} in {classes}");
    }
    let namespaces = read("bootstrap/namespaces.yaml");
    assert!(
        namespaces.contains("kind: Namespace\nmetadata:\n  name: web\n  labels:\n    team: web\n"),
        "{namespaces}"
    );
    let bindings = read("bootstrap/rolebindings.yaml");
    assert!(
        bindings.contains("  name: web-view\n  namespace: web\n"),
        "{bindings}"
    );
    let mut files: Vec<String> = std::fs::read_dir(dir.join("bootstrap"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["namespaces.yaml", "rolebindings.yaml"],
        "the inventory ConfigMap is not imported"
    );
    for text in [&namespaces, &bindings] {
        assert!(
            !text.contains("keelson.dev/") && !text.contains("managed-by"),
            "{text}"
        );
    }
    let (code, out) = run(&["validate", "--repo", s(&dest)]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = plan(&dest, &state);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("unmanaged:") && out.contains("StorageClass handmade"),
        "{out}"
    );
}
