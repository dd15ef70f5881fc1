//! `keelson import`: write keelson files for clusters that already exist, read from the
//! live target (`--cluster`) or converted from an eksctl ClusterConfig (`--from-eksctl`).
//!
//! ```text
//!  --cluster NAME… ─► connect (sim │ aws) ─► observe + kube objects (pools, classes,
//!                                            bootstrap by inventory) ─────────► import::live ─┐
//!  --from-eksctl F ─► read ─────────────────────────────────────────────────► import::eksctl ┤
//!                                                                                           ▼
//!            conflicts? (existing files, no --force) ─► error, nothing written
//!            else ─► clusters/<name>/*.yaml, keelson.yaml (created or stage merged), schemas/
//! ```
//!
//! Everything is read and rendered before the first file is written, so a bad input or an
//! unreachable cluster leaves the directory as it was.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::Value;

use crate::config::{self, LoadOptions, Loaded, SourceFile};
use crate::import::render::{self, OutFile};
use crate::import::{self, live::LiveImport, Doc, ImportedCluster};
use crate::model::live::{ObservedCluster, Status, BOOTSTRAP_LABEL, MANAGED_TAG};
use crate::model::*;
use crate::observe;
use crate::sync::{connect, runtime, Target, TargetSpec};
use crate::versions::Date;

/// Options of `keelson import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A live cluster to import (repeatable).
    #[arg(long = "cluster", value_name = "NAME", conflicts_with = "from_eksctl")]
    pub clusters: Vec<String>,
    /// Convert this eksctl ClusterConfig (`eksctl.io/v1alpha5`) instead of reading a live
    /// cluster. Exit 2 when something in it has no keelson equivalent (listed).
    #[arg(long, value_name = "FILE")]
    pub from_eksctl: Option<PathBuf>,
    /// The region of the clusters (default: the AWS SDK's, from AWS_REGION or the profile).
    #[arg(long)]
    pub region: Option<String>,
    /// The account of the clusters, when it is not the caller's: keelson assumes the role
    /// the Fleet in `--repo` lists for it (`spec.policy.accounts`).
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
    /// Where live state comes from.
    #[arg(long, value_enum, default_value_t = Target::Sim)]
    pub target: Target,
    /// Simulator state file (default: `.keelson/sim.json` under `--repo`).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// The repository directory to write into (created when missing); `--repo` as on
    /// every other command (the old `--out DIR` still works: `--out` elsewhere names one
    /// file).
    #[arg(long = "repo", value_name = "DIR", alias = "out", default_value = ".")]
    pub out: PathBuf,
    /// The Fleet stage of the imported clusters (default: the Fleet's last stage, or
    /// `prod` for a new Fleet). A stage the Fleet lacks is added to it.
    #[arg(long)]
    pub stage: Option<String>,
    /// The name of a new Fleet (default: the fleet whose marker the clusters carry, else
    /// `fleet`).
    #[arg(long)]
    pub fleet: Option<String>,
    /// Overwrite the files of the imported clusters if they exist (no other file).
    #[arg(long)]
    pub force: bool,
    /// Annotate the Clusters with `keelson.dev/adopt: "true"`: the next apply marks their
    /// resources as keelson's, so that removing one from git later deletes it.
    #[arg(long)]
    pub adopt: bool,
}

/// `keelson import`.
///
/// # Errors
/// An unknown cluster, a cluster of an account keelson has no role for, an unreadable or
/// invalid eksctl file, files that exist without `--force`; nothing is written then.
pub fn import_cmd(args: &ImportArgs, today: Date) -> Result<ExitCode> {
    let existing = existing_repo(&args.out, today)?;
    if let Some(file) = &args.from_eksctl {
        return from_eksctl(args, file, &existing);
    }
    if args.clusters.is_empty() {
        bail!("name the clusters to import with --cluster NAME (repeatable), or convert an eksctl file with --from-eksctl FILE");
    }
    let observed = read_live(args, &existing)?;
    let fleet_name = fleet_name(args, &existing, &observed);
    let stage = stage_of(args, &existing);
    let opts = LiveImport {
        stage: stage.clone(),
        account: args.account.clone(),
        adopt: args.adopt,
    };
    let imported: Vec<ImportedCluster> = observed
        .iter()
        .map(|(o, kube)| import::live::import_cluster(o, kube, &opts))
        .collect();
    write_all(args, &existing, &imported, &fleet_name, &stage)?;
    Ok(ExitCode::SUCCESS)
}

/// The repository already in `out`, if any (loaded even when invalid: the import only
/// reads its Fleet and the names and directories of its clusters).
fn existing_repo(out: &Path, today: Date) -> Result<Option<Loaded>> {
    if !out.exists() {
        return Ok(None);
    }
    Ok(Some(crate::sync::load_repo(out, today)?))
}

fn existing_fleet(existing: &Option<Loaded>) -> Option<&config::Item<FleetDoc>> {
    existing.as_ref().and_then(|l| l.repo.fleet.as_ref())
}

fn stage_of(args: &ImportArgs, existing: &Option<Loaded>) -> String {
    args.stage.clone().unwrap_or_else(|| {
        existing_fleet(existing)
            .and_then(|f| f.value.spec.stages.last().map(|s| s.name.clone()))
            .unwrap_or_else(|| "prod".to_string())
    })
}

fn fleet_name(
    args: &ImportArgs,
    existing: &Option<Loaded>,
    observed: &[(ObservedCluster, Vec<Value>)],
) -> String {
    if let Some(f) = existing_fleet(existing) {
        return f.value.metadata.name.clone();
    }
    if let Some(n) = &args.fleet {
        return n.clone();
    }
    // Clusters an earlier keelson created keep their fleet's name.
    let markers: BTreeSet<&String> = observed
        .iter()
        .filter_map(|(o, _)| o.cluster.tags.get(MANAGED_TAG))
        .collect();
    match markers.into_iter().collect::<Vec<_>>().as_slice() {
        [one] => (*one).clone(),
        _ => "fleet".to_string(),
    }
}

/// A repository naming the clusters to import, for the sync layer to connect with: the
/// Fleet of `--repo` (its account roles) and one Cluster per name in `--region`.
fn probe_repo(args: &ImportArgs, existing: &Option<Loaded>, region: &str) -> Loaded {
    let mut files = Vec::new();
    let fleet = existing_fleet(existing)
        .map(|f| f.value.clone())
        .unwrap_or_else(|| new_fleet("fleet", "prod"));
    files.push(SourceFile {
        display: "<import>/keelson.yaml".into(),
        rel: "keelson.yaml".into(),
        bytes: render::yaml(&serde_json::to_value(&fleet).unwrap_or(Value::Null)).into_bytes(),
    });
    for name in &args.clusters {
        let mut doc = serde_json::json!({
            "apiVersion": KEELSON_API, "kind": "Cluster", "metadata": {"name": name},
            "spec": {"region": region, "version": "1.34", "stage": fleet.spec.stages.first().map(|s| s.name.clone()).unwrap_or_default(),
                     "roleArn": "arn:aws:iam::000000000000:role/import",
                     "vpc": {"subnetIds": ["subnet-00000000", "subnet-00000001"]}}
        });
        if let Some(a) = &args.account {
            doc["spec"]["account"] = Value::String(a.clone());
        }
        files.push(SourceFile {
            display: format!("<import>/{name}.yaml"),
            rel: format!("clusters/{name}/cluster.yaml"),
            bytes: render::yaml(&doc).into_bytes(),
        });
    }
    config::load(&files, &LoadOptions::new(Date::from_unix(0)))
}

/// Observe every named cluster, and its NodePools and NodeClasses when Auto Mode runs
/// them; every cluster that cannot be read is reported at once.
fn read_live(
    args: &ImportArgs,
    existing: &Option<Loaded>,
) -> Result<Vec<(ObservedCluster, Vec<Value>)>> {
    let region = match (&args.region, args.target) {
        (Some(r), _) => r.clone(),
        (None, Target::Aws) => std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .map_err(|_| {
                anyhow::anyhow!("name the clusters' region with --region (or set AWS_REGION)")
            })?,
        (None, Target::Sim) => String::new(),
    };
    if let (Some(account), Target::Aws) = (&args.account, args.target) {
        let has_role = existing_fleet(existing).is_some_and(|f| {
            f.value
                .spec
                .policy
                .accounts
                .iter()
                .any(|a| &a.id == account)
        });
        if !has_role {
            bail!(
                "the clusters are in account {account}, and keelson has no role to reach it: add it to the Fleet in {} (spec.policy.accounts: [{{id: \"{account}\", operatorRoleArn: arn:aws:iam::{account}:role/NAME}}]) and import again; nothing was written",
                args.out.join("keelson.yaml").display()
            );
        }
    }
    let probe = probe_repo(
        args,
        existing,
        if region.is_empty() {
            "us-east-1"
        } else {
            &region
        },
    );
    let rt = runtime()?;
    let mut spec = TargetSpec::sim(
        args.state
            .clone()
            .unwrap_or_else(|| args.out.join(".keelson").join("sim.json")),
    );
    spec.target = args.target;
    let target = connect(&spec, &probe, &rt)?;
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for name in &args.clusters {
        let o = rt
            .block_on(observe::observe_cluster(&target.ports, name))
            .with_context(|| format!("reading cluster {name}"))?;
        let Some(o) = o.filter(|o| region.is_empty() || o.cluster.region == region) else {
            missing.push(name.clone());
            continue;
        };
        let kube = rt.block_on(read_kube(&target.ports, &o));
        found.push((o, kube));
    }
    if !missing.is_empty() {
        let place = match args.target {
            Target::Sim => format!("the simulator ({})", spec.state.display()),
            Target::Aws => format!(
                "region {region} of the caller's account{}",
                args.account
                    .as_ref()
                    .map(|a| format!(" (through the role for {a})"))
                    .unwrap_or_default()
            ),
        };
        bail!(
            "no cluster named {} in {place}; check the name and --region (a cluster of another account needs --account ID and a role for it in the Fleet); nothing was written",
            missing.join(", ")
        );
    }
    target.flush()?;
    Ok(found)
}

/// The Kubernetes objects of a running cluster that an import writes: every NodeClass,
/// NodePool and IngressClassParams (Auto Mode serves them), StorageClass and
/// IngressClass, and the objects of the kinds keelson's bootstrap inventory lists that
/// carry its bootstrap label. A listing that fails is a warning: those objects are left
/// to write by hand.
async fn read_kube(ports: &crate::observe::Ports, o: &ObservedCluster) -> Vec<Value> {
    let name = o.cluster.name.as_str();
    if !matches!(o.cluster.status, Status::Active | Status::Updating) {
        return Vec::new();
    }
    let auto = o
        .cluster
        .auto_mode
        .as_ref()
        .is_some_and(|a| a.compute.enabled);
    let mut kinds: Vec<(String, String, Option<String>)> = Vec::new();
    if auto {
        for (api, kind) in [
            (EKS_NODECLASS_API, "NodeClass"),
            (KARPENTER_API, "NodePool"),
            (EKS_NODECLASS_API, "IngressClassParams"),
        ] {
            kinds.push((api.into(), kind.into(), None));
        }
    }
    kinds.push((STORAGE_API.into(), "StorageClass".into(), None));
    kinds.push((NETWORKING_API.into(), "IngressClass".into(), None));
    let selector = format!("{}=bootstrap", crate::plan::INVENTORY_LABEL);
    let (ns, cm) = crate::plan::INVENTORY;
    match ports.kube.list(name, "v1", "ConfigMap", Some(&selector)).await {
        Ok(maps) => {
            let inventory = maps.iter().find(|c| {
                c.pointer("/metadata/name").and_then(Value::as_str) == Some(cm)
                    && c.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns)
            });
            for line in inventory.map(crate::plan::inventory_kinds).unwrap_or_default() {
                if let Some((api, kind)) = line.split_once(' ') {
                    kinds.push((api.into(), kind.into(), Some(format!("{BOOTSTRAP_LABEL}=true"))));
                }
            }
        }
        Err(e) => eprintln!(
            "warning: cluster {name}: could not read keelson's bootstrap inventory ({e}); bootstrap objects are not imported: add them to bootstrap/ by hand"
        ),
    }
    let mut objs = Vec::new();
    for (api, kind, selector) in kinds {
        match ports.kube.list(name, &api, &kind, selector.as_deref()).await {
            // Bootstrap objects are taken from the listings by the bootstrap label only.
            Ok(list) => objs.extend(list.into_iter().filter(|x| {
                selector.is_some()
                    || x.pointer("/metadata/labels")
                        .and_then(|l| l.get(BOOTSTRAP_LABEL))
                        .is_none()
            })),
            Err(e) => eprintln!(
                "warning: cluster {name}: could not list {kind}s ({e}); they are not imported: add them by hand"
            ),
        }
    }
    objs
}

/// A new Fleet with one stage.
fn new_fleet(name: &str, stage: &str) -> FleetDoc {
    Resource {
        api_version: KEELSON_API.to_string(),
        kind: "Fleet".to_string(),
        metadata: Metadata {
            name: name.to_string(),
            ..Metadata::default()
        },
        spec: FleetSpec {
            stages: vec![Stage {
                name: stage.to_string(),
                soak: None,
                apply: ApplyMode::Manual,
                maintenance_windows: Vec::new(),
                upgrade: None,
            }],
            policy: FleetPolicy::default(),
        },
    }
}

/// The Fleet file to write (new, or the existing one with the stage added), if any.
fn fleet_file(
    out: &Path,
    existing: &Option<Loaded>,
    fleet: &str,
    stage: &str,
) -> Result<Option<(PathBuf, String)>> {
    let fleet_doc = |f: &FleetDoc, comments: Vec<String>| {
        let mut d = Doc::with_meta(Kind::Fleet, f.metadata.clone(), &f.spec);
        // The policy keelson writes is only what differs from its defaults.
        if f.spec.policy == FleetPolicy::default() {
            if let Some(spec) = d.value.get_mut("spec").and_then(Value::as_object_mut) {
                spec.remove("policy");
            }
        }
        d.comments = comments;
        d
    };
    match existing_fleet(existing) {
        None => {
            let d = fleet_doc(&new_fleet(fleet, stage), vec![
                "The fleet: its stages, in rollout order. Written by `keelson import`; add stages before the imported one for a staged rollout.".into(),
            ]);
            Ok(Some((
                out.join("keelson.yaml"),
                render::file_text(&[&d], &format!("schemas/{}", Kind::Fleet.schema_file())),
            )))
        }
        Some(f) if f.value.spec.stages.iter().any(|s| s.name == stage) => Ok(None),
        Some(f) => {
            let path = PathBuf::from(&f.origin.file);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            if f.origin.document > 0 || text.matches("\n---").count() > 0 {
                bail!("the Fleet in {} has no stage `{stage}` and shares its file with other documents: add `- name: {stage}` to its spec.stages by hand (or pass --stage with one of its stages); nothing was written", path.display());
            }
            let mut doc = f.value.clone();
            doc.spec.stages.push(Stage {
                name: stage.to_string(),
                soak: None,
                apply: ApplyMode::Manual,
                maintenance_windows: Vec::new(),
                upgrade: None,
            });
            // Keep the file's leading comments; the document itself is written anew.
            let head: String = text
                .lines()
                .take_while(|l| l.starts_with('#') || l.trim().is_empty())
                .map(|l| format!("{l}\n"))
                .collect();
            let d = fleet_doc(&doc, Vec::new());
            Ok(Some((path, format!("{head}{}", render::doc_text(&d)))))
        }
    }
}

/// The files already there that an import of `names` would write: the directory of each
/// cluster's Cluster document in the existing repository, and `clusters/<name>/`.
fn conflicts(
    out: &Path,
    existing: &Option<Loaded>,
    files: &[OutFile],
    names: &[String],
) -> Vec<String> {
    let mut found: Vec<String> = files
        .iter()
        .map(|f| out.join(&f.path))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if let Some(l) = existing {
        for c in &l.repo.clusters {
            if names.iter().any(|n| n == c.name()) && render::cluster_dir(c.name()) != c.dir {
                found.push(c.cluster.origin.file.clone());
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

fn write_all(
    args: &ImportArgs,
    existing: &Option<Loaded>,
    imported: &[ImportedCluster],
    fleet: &str,
    stage: &str,
) -> Result<()> {
    let out = &args.out;
    let files: Vec<OutFile> = imported
        .iter()
        .flat_map(|c| render::cluster_files(c, "schemas"))
        .collect();
    let names: Vec<String> = imported.iter().map(|c| c.name.clone()).collect();
    let clash = conflicts(out, existing, &files, &names);
    if !clash.is_empty() && !args.force {
        bail!(
            "these files exist already: {}; pass --force to overwrite the imported clusters' files (no other file is touched); nothing was written",
            clash.join(", ")
        );
    }
    let fleet_file = fleet_file(out, existing, fleet, stage)?;
    // Everything is known: write.
    let mut written = 0usize;
    for c in imported {
        let dir = out.join(render::cluster_dir(&c.name));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        // With --force, a file of this import's set that the cluster no longer needs goes.
        for stale in render::cluster_file_names() {
            let p = dir.join(stale);
            let kept = files.iter().any(|f| out.join(&f.path) == p);
            if !kept && p.exists() {
                std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
            }
        }
    }
    for f in &files {
        let p = out.join(&f.path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&p, &f.text).with_context(|| format!("writing {}", p.display()))?;
        written += 1;
    }
    if let Some((path, text)) = fleet_file {
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    let schemas = out.join("schemas");
    if !schemas.exists() {
        std::fs::create_dir_all(&schemas)?;
        for k in Kind::ALL {
            std::fs::write(schemas.join(k.schema_file()), super::schema_text(*k)?)?;
        }
    }
    let docs: usize = imported.iter().map(|c| c.docs.len()).sum();
    println!(
        "imported {} cluster{} into {}: {docs} documents in {written} files (stage `{stage}` of fleet `{fleet}`)",
        imported.len(),
        if imported.len() == 1 { "" } else { "s" },
        out.display()
    );
    for c in imported {
        for n in &c.notes {
            println!("  note: {n}");
        }
    }
    // What keelson validate would say of the result: a live value keelson refuses (an
    // endpoint's quirk, a field EKS allows and keelson's rules do not) is shown now.
    if let Ok(loaded) = crate::sync::load_repo(out, crate::cli::system_today()) {
        let problems = config::diag::for_display(&loaded.diagnostics);
        if !problems.is_empty() {
            println!("check these before `keelson plan` (keelson validate says):");
            for d in &problems {
                println!("  {d}");
            }
        }
    }
    println!(
        "next: `keelson plan --repo {}` should show no changes; resources without keelson's marker stay unmanaged (never deleted) until adopted{}",
        out.display(),
        if args.adopt { " (the next apply adopts them: --adopt)" } else { " (import with --adopt, or set spec.policy.adoptUnmanaged in the Fleet)" }
    );
    Ok(())
}

fn from_eksctl(args: &ImportArgs, file: &Path, existing: &Option<Loaded>) -> Result<ExitCode> {
    let shown = file.display().to_string();
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {shown}"))?;
    let stage = stage_of(args, existing);
    let converted = import::eksctl::convert(&shown, &text, &stage)
        .map_err(|e| anyhow::anyhow!("{e}; nothing was written"))?;
    let mut imported = converted.cluster;
    if args.adopt {
        if let Some(d) = imported.docs.first_mut() {
            d.value["metadata"]["annotations"] =
                serde_json::json!({import::live::ADOPT_ANNOTATION: "true"});
        }
    }
    let fleet = existing_fleet(existing)
        .map(|f| f.value.metadata.name.clone())
        .or_else(|| args.fleet.clone())
        .unwrap_or_else(|| "fleet".into());
    write_all(
        args,
        existing,
        std::slice::from_ref(&imported),
        &fleet,
        &stage,
    )?;
    if converted.left_out.is_empty() {
        println!("the conversion is complete: every field of {shown} has a keelson equivalent");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "left out of {shown} ({}), with what to do:",
        converted.left_out.len()
    );
    for l in &converted.left_out {
        println!("  {l}");
    }
    Ok(ExitCode::from(2))
}
