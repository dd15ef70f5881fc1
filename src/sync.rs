//! One sync, as every entry point runs it: load a valid repository, connect a target,
//! scope, observe, plan. The CLI (`plan`, `apply`, `check`, `snapshot`, `sim seed`), the
//! daemon and the tests all go through here, so none of them imports another's code.
//!
//! ```text
//!  repo dir ──load_repo──► Loaded ─┐
//!  TargetSpec ──connect──► Connected (ports: sim │ aws-sdk-eks + kube-rs)
//!                                  └─► scope_for ─► observe ─► plan::plan(…, PlanOptions{apis}) ─► Plan
//! ```
//!
//! [`TargetSpec`] is plain data: `cli/` builds it from clap's arguments, the daemon keeps
//! one for its whole life, tests write one by hand.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use crate::adapters::fs::walk_repo;
use crate::adapters::sim::{Sim, Speed};
use crate::config::{self, LoadOptions, Loaded};
use crate::deprecations::table::ApiTable;
use crate::model::Kind;
use crate::observe::{self, Ports, Scope};
use crate::plan::upgrade::Gate;
use crate::plan::{self, Plan, PlanOptions};
use crate::versions::Date;

/// Where live state comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The embedded simulator, with its state in a file.
    Sim,
    /// A real AWS account: the standard credential chain, the cluster's region,
    /// `AWS_ENDPOINT_URL_EKS` honoured.
    Aws,
}

/// Everything needed to connect a target and plan against it.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// Simulator or AWS.
    pub target: Target,
    /// The simulator's state file (unused for AWS).
    pub state: PathBuf,
    /// Only these clusters (empty: every cluster in the repository).
    pub clusters: BTreeSet<String>,
    /// Most clusters read or changed at once.
    pub concurrency: usize,
    /// How fast the simulator's clock runs while waiting.
    pub sim_speed: Speed,
    /// Gates whose failures become notes (simulator rehearsals only).
    pub ignore_gates: BTreeSet<Gate>,
    /// The deprecated/removed API table the upgrade gates judge with (the built-in table
    /// plus any `--extra-rules`).
    pub apis: Arc<ApiTable>,
    /// AWS only: assume the role of this name in each cluster's account instead of the
    /// operator role the repository names (a CI plan's read-only `keelson-plan-operator`).
    pub role_name: Option<String>,
}

impl TargetSpec {
    /// The simulator with its state in `state`, every cluster, default pacing and the
    /// built-in API table.
    pub fn sim(state: PathBuf) -> TargetSpec {
        TargetSpec {
            target: Target::Sim,
            state,
            clusters: BTreeSet::new(),
            concurrency: 8,
            sim_speed: Speed::Instant,
            ignore_gates: BTreeSet::new(),
            apis: plan::builtin_apis(),
            role_name: None,
        }
    }
}

/// The built-in table plus the entries of each `--extra-rules` file, later entries
/// winning for the same group, version and kind. Without extra files this is the table
/// parsed once per process, shared.
///
/// # Errors
/// An unreadable or malformed rules file, named with its position.
pub fn api_table(extra: &[PathBuf]) -> Result<Arc<ApiTable>> {
    let builtin = ApiTable::shared().context("the built-in deprecated-API table is damaged")?;
    if extra.is_empty() {
        return Ok(plan::builtin_apis());
    }
    let mut t = builtin.clone();
    for path in extra {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading rules file {}", path.display()))?;
        t.extend(crate::deprecations::table::parse(
            &path.display().to_string(),
            &text,
        )?);
    }
    Ok(Arc::new(t))
}

/// A connected target: ports plus whatever must be flushed at the end.
pub struct Connected {
    /// The ports.
    pub ports: Ports,
    sim: Option<Sim>,
    /// Upgrade gates turned into notes (simulator rehearsals only).
    pub ignore_gates: BTreeSet<Gate>,
    /// The API table the gates judge with.
    pub apis: Arc<ApiTable>,
    /// Clusters whose `spec.account` the credentials for them do not reach, with what to
    /// configure: never read or changed, planned as blocked.
    pub misplaced: BTreeMap<String, String>,
}

impl Connected {
    /// Persist what the target keeps locally (the simulator's state).
    ///
    /// # Errors
    /// When the simulator state cannot be written.
    pub fn flush(&self) -> Result<()> {
        if let Some(sim) = &self.sim {
            sim.flush()?;
        }
        Ok(())
    }

    /// The simulator, when the target is one.
    pub fn sim(&self) -> Option<&Sim> {
        self.sim.as_ref()
    }
}

/// With `KEELSON_STATS=1`, the EKS calls made through `target`, by operation, as one
/// JSON line on stderr (`plan`, and each sync of `run`).
pub fn print_stats(target: &Connected) {
    if std::env::var("KEELSON_STATS").is_ok_and(|v| v == "1") {
        let calls = target.ports.eks.call_counts();
        let total: u64 = calls.values().sum();
        crate::logging::say(
            crate::logging::Level::Info,
            None,
            &serde_json::json!({"eksCalls": calls, "total": total}).to_string(),
        );
    }
}

/// Read and load a repository from disk (valid or not: look at
/// [`Loaded::is_valid`] and its diagnostics).
///
/// # Errors
/// When the repository directory cannot be read at all.
pub fn load_repo(repo: &Path, today: Date) -> Result<Loaded> {
    let walk = walk_repo(repo)?;
    let mut loaded = config::load_from(&walk, &LoadOptions::new(today));
    if !walk.diagnostics.is_empty() {
        config::diag::merge(&mut loaded.diagnostics, walk.diagnostics);
    }
    // A wrong --repo (or an empty checkout) would otherwise plan an empty fleet as valid.
    if loaded.repo.fleet.is_none() && loaded.repo.clusters.is_empty() && loaded.is_valid() {
        bail!(
            "{} holds no Fleet and no Cluster: keelson looks for `*.yaml`/`*.yml` files (outside hidden directories) with documents of `kind: Fleet` or `kind: Cluster`; pass --repo with the config repository (see examples/fleet)",
            repo.display()
        );
    }
    Ok(loaded)
}

/// The one-line summary of a validation: `valid: 3 files, 9 documents, 2 clusters (0
/// warnings)` or `invalid: …`.
pub fn summary(loaded: &Loaded) -> String {
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    let counts = format!(
        "{}, {}, {}",
        plural(loaded.stats.files, "file"),
        plural(loaded.stats.documents, "document"),
        plural(loaded.repo.clusters.len(), "cluster")
    );
    if loaded.is_valid() {
        format!("valid: {counts} ({})", plural(loaded.warnings(), "warning"))
    } else {
        format!(
            "invalid: {} and {} in {counts}",
            plural(loaded.errors(), "error"),
            plural(loaded.warnings(), "warning")
        )
    }
}

/// Open the target; every remote call has a timeout.
///
/// # Errors
/// When the simulator state is unreadable, corrupt or foreign; `--ignore-gate` against
/// AWS; no AWS credentials provider.
pub fn connect(
    spec: &TargetSpec,
    loaded: &Loaded,
    rt: &tokio::runtime::Runtime,
) -> Result<Connected> {
    connect_with(spec, loaded, rt, None)
}

/// Open the target; every remote call has a timeout and, with a `recorder`, its metric.
///
/// # Errors
/// As [`connect`].
pub fn connect_with(
    spec: &TargetSpec,
    loaded: &Loaded,
    rt: &tokio::runtime::Runtime,
    recorder: Option<Arc<dyn crate::adapters::instrumented::CallRecorder>>,
) -> Result<Connected> {
    use crate::adapters::faults::{Faults, FAULTS_ENV};
    use crate::adapters::instrumented::{instrument, Timeouts};
    // Injected faults are for rehearsals on the simulator; the schedule is the process's,
    // so it runs on across a daemon's syncs.
    let faults = Faults::from_env()?;
    if faults.is_some() && spec.target != Target::Sim {
        bail!("{FAULTS_ENV} injects faults into the simulator only (--target sim); unset it to use AWS");
    }
    if faults.is_some() {
        static TOLD: std::sync::Once = std::sync::Once::new();
        TOLD.call_once(|| {
            tracing::warn!("{FAULTS_ENV} is set: EKS calls to the simulator fail on its schedule");
        });
    }
    let mut timeouts = Timeouts::default();
    let aws_timeouts = match spec.target {
        Target::Aws => {
            let t = crate::adapters::aws::timeouts::AwsTimeouts::from_env()?;
            // A backstop above the SDK's own whole-call bound, never below the default.
            timeouts.read = timeouts.read.max(t.backstop());
            timeouts.write = timeouts.write.max(t.backstop());
            t
        }
        Target::Sim => Default::default(),
    };
    let mut target = open_target(spec, loaded, rt, aws_timeouts)?;
    target.ports = instrument(target.ports, timeouts, recorder, faults);
    Ok(target)
}

fn open_target(
    spec: &TargetSpec,
    loaded: &Loaded,
    rt: &tokio::runtime::Runtime,
    aws_timeouts: crate::adapters::aws::timeouts::AwsTimeouts,
) -> Result<Connected> {
    match spec.target {
        Target::Sim => {
            let now = crate::ports::Clock::now(&crate::ports::SystemClock);
            let sim = Sim::open(&spec.state, now, spec.sim_speed)?;
            let ports = Ports {
                eks: Arc::new(sim.clone()),
                kube: Arc::new(sim.clone()),
                clock: Arc::new(sim.clone()),
            };
            Ok(Connected {
                ports,
                sim: Some(sim),
                ignore_gates: spec.ignore_gates.clone(),
                apis: spec.apis.clone(),
                // The simulator models an organization whose every account the caller
                // reaches: clusters live in their `spec.account` there (see the README).
                misplaced: BTreeMap::new(),
            })
        }
        Target::Aws => {
            if !spec.ignore_gates.is_empty() {
                bail!("--ignore-gate is for rehearsals on the simulator (--target sim) only; against AWS every gate holds");
            }
            let (ports, misplaced) =
                connect_aws(loaded, rt, aws_timeouts, spec.role_name.as_deref())?;
            Ok(Connected {
                ports,
                sim: None,
                ignore_gates: BTreeSet::new(),
                apis: spec.apis.clone(),
                misplaced,
            })
        }
    }
}

/// The annotation on a Cluster document that names a kubeconfig context to reach the
/// cluster with, instead of keelson's native access.
pub const KUBECONFIG_CONTEXT_ANNOTATION: &str = "keelson.dev/kubeconfig-context";

fn connect_aws(
    loaded: &Loaded,
    rt: &tokio::runtime::Runtime,
    timeouts: crate::adapters::aws::timeouts::AwsTimeouts,
    role_name: Option<&str>,
) -> Result<(Ports, BTreeMap<String, String>)> {
    use crate::adapters::aws::{eks::AwsEks, EksAccess};
    use crate::adapters::kube::KubeClients;
    let sdk = rt.block_on(aws_config::defaults(aws_config::BehaviorVersion::latest()).load());
    let regions: BTreeMap<String, String> = loaded
        .repo
        .clusters
        .iter()
        .map(|c| (c.name().to_string(), c.cluster.value.spec.region.clone()))
        .collect();
    let contexts: BTreeMap<String, String> = loaded
        .repo
        .clusters
        .iter()
        .filter_map(|c| {
            c.cluster
                .value
                .metadata
                .annotations
                .get(KUBECONFIG_CONTEXT_ANNOTATION)
                .map(|ctx| (c.name().to_string(), ctx.clone()))
        })
        .collect();
    let default_region = sdk
        .region()
        .map(|r| r.to_string())
        .or_else(|| regions.values().next().cloned())
        .unwrap_or_else(|| "us-east-1".to_string());
    let (cluster_roles, role_credentials) =
        assumed_roles(loaded, &sdk, &default_region, rt, role_name);
    // One limiter per account and region for the whole process (a daemon's every sync).
    let limits = crate::adapters::aws::throttle::settings_from_env()?;
    let eks = Arc::new(
        AwsEks::new(&sdk, default_region.clone(), regions.clone(), 8)
            .with_timeouts(timeouts)
            .with_roles(cluster_roles.clone(), role_credentials.clone())
            .with_rate_limits(crate::adapters::aws::throttle::Limiters::process(limits)),
    );
    let credentials = sdk.credentials_provider().context(
        "no AWS credentials provider is configured; set AWS_PROFILE, run `aws sso login`, or export credentials",
    )?;
    let cluster_credentials = cluster_roles
        .iter()
        .filter_map(|(c, role)| Some((c.clone(), role_credentials.get(role)?.clone())))
        .collect();
    // The account each set of credentials reaches, asked once per role per run, only
    // when a cluster names its account.
    let mut reached: BTreeMap<Option<String>, Option<String>> = BTreeMap::new();
    for c in &loaded.repo.clusters {
        if c.cluster.value.spec.account.is_none() {
            continue;
        }
        let role = cluster_roles.get(c.name()).cloned();
        if reached.contains_key(&role) {
            continue;
        }
        let creds = role.as_ref().and_then(|r| role_credentials.get(r));
        let account = rt.block_on(crate::adapters::aws::identity::account(
            &sdk,
            creds,
            &default_region,
            timeouts,
        ));
        reached.insert(role, account);
    }
    let misplaced = crate::adapters::accounts::misplaced(loaded, &cluster_roles, |role| {
        reached.get(&role.map(str::to_string)).cloned().flatten()
    });
    let access = EksAccess::new(eks.clone(), credentials, regions, default_region, contexts)
        .with_cluster_credentials(cluster_credentials);
    let ports = Ports {
        eks,
        kube: Arc::new(KubeClients::new(Arc::new(access))),
        clock: Arc::new(crate::ports::SystemClock),
    };
    Ok((ports, misplaced))
}

/// Role ARN per cluster, and one credentials provider per role.
type AssumedRoles = (
    BTreeMap<String, String>,
    BTreeMap<String, aws_credential_types::provider::SharedCredentialsProvider>,
);

/// The role keelson assumes for each cluster: the Cluster's `operatorRoleArn`, else the
/// Fleet's role for the cluster's account; and one STS AssumeRole credentials provider per
/// distinct role, every Fleet account's included (session name `keelson`, the account's
/// external id when set). With `role_name`, the role of that name in the same account
/// takes the place of each.
pub fn assumed_roles(
    loaded: &Loaded,
    sdk: &aws_config::SdkConfig,
    default_region: &str,
    rt: &tokio::runtime::Runtime,
    role_name: Option<&str>,
) -> AssumedRoles {
    use aws_config::sts::AssumeRoleProvider;
    use aws_credential_types::provider::SharedCredentialsProvider;
    let (cluster_roles, external_ids) = crate::adapters::accounts::routes(loaded);
    let (cluster_roles, external_ids): (
        BTreeMap<String, String>,
        BTreeMap<String, Option<String>>,
    ) = match role_name {
        Some(name) => (
            cluster_roles
                .into_iter()
                .map(|(c, r)| (c, same_account_role(&r, name)))
                .collect(),
            external_ids
                .into_iter()
                .map(|(r, e)| (same_account_role(&r, name), e))
                .collect(),
        ),
        None => (cluster_roles, external_ids),
    };
    let mut providers = BTreeMap::new();
    for (role, external_id) in external_ids {
        let mut builder = AssumeRoleProvider::builder(role.clone())
            .session_name("keelson")
            .configure(sdk);
        if sdk.region().is_none() {
            builder = builder.region(aws_config::Region::new(default_region.to_string()));
        }
        let has_external_id = external_id.is_some();
        if let Some(id) = external_id {
            builder = builder.external_id(id);
        }
        let provider = SharedCredentialsProvider::new(rt.block_on(builder.build()));
        let named =
            crate::adapters::aws::roles::NamedRole::new(role.clone(), has_external_id, provider);
        providers.insert(role, SharedCredentialsProvider::new(named));
    }
    (cluster_roles, providers)
}

/// What to observe for a plan of `only` (empty: the whole repository): the clusters, plus
/// the earlier stages' clusters whose transition records the stage gate reads. Live API
/// use is judged with the built-in table; a connected target's own table replaces it.
///
/// # Errors
/// A name in `only` that is not a cluster of the repository.
pub fn scope_for(loaded: &Loaded, only: &BTreeSet<String>, concurrency: usize) -> Result<Scope> {
    let names: BTreeSet<String> = loaded
        .repo
        .clusters
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    for n in only {
        if !names.contains(n) {
            bail!(
                "no cluster named `{n}` in the repository (clusters: {})",
                names.iter().cloned().collect::<Vec<_>>().join(", ")
            );
        }
    }
    let mut clusters = if only.is_empty() { names } else { only.clone() };
    // The stage gate reads the transition records of earlier stages' clusters.
    if !only.is_empty() {
        let stages: Vec<String> = loaded
            .repo
            .fleet
            .as_ref()
            .map(|f| f.value.spec.stages.iter().map(|s| s.name.clone()).collect())
            .unwrap_or_default();
        let rank = |stage: &str| stages.iter().position(|s| s == stage);
        let latest = loaded
            .repo
            .clusters
            .iter()
            .filter(|c| only.contains(c.name()))
            .filter_map(|c| rank(&c.cluster.value.spec.stage))
            .max();
        if let Some(latest) = latest {
            for c in &loaded.repo.clusters {
                if rank(&c.cluster.value.spec.stage).is_some_and(|r| r < latest) {
                    clusters.insert(c.name().to_string());
                }
            }
        }
    }
    let upgrade_targets = loaded
        .repo
        .clusters
        .iter()
        .filter(|c| clusters.contains(c.name()))
        .map(|c| (c.name().to_string(), c.cluster.value.spec.version.clone()))
        .collect();
    let addon_names = loaded
        .repo
        .clusters
        .iter()
        .filter(|c| clusters.contains(c.name()))
        .flat_map(|c| c.addons.iter().map(|a| a.value.metadata.name.clone()))
        .collect();
    let kube_kinds = kube_kinds(loaded, &clusters);
    let regions = loaded
        .repo
        .clusters
        .iter()
        .map(|c| (c.name().to_string(), c.cluster.value.spec.region.clone()))
        .collect();
    Ok(Scope {
        regions,
        clusters,
        discover_fleet: if only.is_empty() {
            loaded
                .repo
                .fleet
                .as_ref()
                .map(|f| f.value.metadata.name.clone())
        } else {
            None
        },
        addon_names,
        concurrency,
        upgrade_targets,
        apis: plan::builtin_apis(),
        kube_kinds,
    })
}

/// The Kubernetes kinds each cluster of `clusters` declares, for observe to list.
fn kube_kinds(
    loaded: &Loaded,
    clusters: &BTreeSet<String>,
) -> BTreeMap<String, observe::KubeKinds> {
    let pair = |k: Kind| (k.api_version().to_string(), k.name().to_string());
    loaded
        .repo
        .clusters
        .iter()
        .filter(|c| clusters.contains(c.name()))
        .map(|c| {
            let mut k = observe::KubeKinds::default();
            for (kind, n) in [
                (Kind::StorageClass, c.storage_classes.len()),
                (Kind::IngressClass, c.ingress_classes.len()),
                (Kind::IngressClassParams, c.ingress_class_params.len()),
            ] {
                if n > 0 {
                    k.classes.insert(pair(kind));
                }
            }
            for b in &c.bootstrap {
                let s = |f: &str| {
                    b.value
                        .get(f)
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                };
                k.bootstrap.insert((s("apiVersion"), s("kind")));
            }
            (c.name().to_string(), k)
        })
        .collect()
}

/// Observe and plan `only` (empty: everything).
///
/// # Errors
/// When live state cannot be read (an [`observe::ObserveError`] in the chain says whether
/// a retry may help).
pub async fn make_plan(
    target: &Connected,
    loaded: &Loaded,
    only: &BTreeSet<String>,
    concurrency: usize,
) -> Result<Plan> {
    let mut scope = Scope {
        apis: target.apis.clone(),
        ..scope_for(loaded, only, concurrency)?
    };
    // A cluster in an account its credentials do not reach is not even read: it would
    // be looked for (and created) in the wrong account.
    scope.clusters.retain(|c| !target.misplaced.contains_key(c));
    let mut live = observe::observe(&target.ports, &scope).await?;
    live.unreadable.extend(
        target
            .misplaced
            .iter()
            .map(|(c, why)| (c.clone(), why.clone())),
    );
    let now = target.ports.clock.now();
    let mut plan = plan::plan(
        &loaded.repo,
        &live,
        &PlanOptions {
            only: only.clone(),
            now,
            ignore_gates: target.ignore_gates.clone(),
            apis: target.apis.clone(),
        },
    );
    plan::skipped::block_deletes_of_skipped(&mut plan, &skipped_files(loaded));
    Ok(plan)
}

/// The files the walk did not read (rule `skipped-file`) inside a cluster's directory,
/// read best-effort for what they declare: a file too large, not UTF-8 or not YAML
/// declares "unknown".
fn skipped_files(loaded: &Loaded) -> Vec<plan::skipped::SkippedFile> {
    let mut out = Vec::new();
    for d in &loaded.diagnostics {
        if d.rule != config::Rule::SkippedFile.id() {
            continue;
        }
        let file = Path::new(&d.file);
        // The cluster with the deepest directory above the file owns it.
        let owner = loaded
            .repo
            .clusters
            .iter()
            .filter(|c| {
                let dir = Path::new(&c.dir);
                file.ancestors()
                    .skip(1)
                    .any(|a| matches!(c.dir.as_str(), "" | ".") || a.ends_with(dir))
            })
            .max_by_key(|c| c.dir.len());
        let Some(owner) = owner else { continue };
        let declares = std::fs::metadata(file)
            .ok()
            .filter(|m| m.is_file() && m.len() <= config::MAX_FILE_BYTES)
            .and_then(|_| std::fs::read(file).ok())
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| plan::skipped::declared(&text));
        out.push(plan::skipped::SkippedFile {
            file: d.file.clone(),
            cluster: owner.name().to_string(),
            declares,
        });
    }
    out
}

/// The async runtime every command and the daemon run their I/O on: two worker threads,
/// the size of the machines keelson is sized for.
///
/// # Errors
/// When the runtime cannot start (no threads).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// The ARN of the role named `name` in the account (and partition) of `role_arn`; a role
/// ARN is `arn:PARTITION:iam::ACCOUNT:role/PATH/NAME` (IAM User Guide, "IAM ARNs"). A text
/// that is not a role ARN is returned unchanged, so that STS names it in its error.
fn same_account_role(role_arn: &str, name: &str) -> String {
    match role_arn.split_once(":role/") {
        Some((account, _)) if account.starts_with("arn:") => format!("{account}:role/{name}"),
        _ => role_arn.to_string(),
    }
}

#[cfg(test)]
mod role_name_tests {
    use super::same_account_role;

    #[test]
    fn a_role_name_replaces_name_and_path_in_the_same_account() {
        assert_eq!(
            same_account_role(
                "arn:aws:iam::111122223333:role/ops/keelson-operator",
                "keelson-plan-operator"
            ),
            "arn:aws:iam::111122223333:role/keelson-plan-operator"
        );
        assert_eq!(
            same_account_role("arn:aws-cn:iam::444455556666:role/keelson-operator", "ro"),
            "arn:aws-cn:iam::444455556666:role/ro"
        );
        assert_eq!(same_account_role("not-an-arn", "ro"), "not-an-arn");
    }
}
