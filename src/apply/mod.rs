//! The executor: runs a [`Plan`] through the ports, cluster by cluster (bounded
//! concurrency), step by step, waiting on every long EKS operation.
//!
//! ```text
//!  Plan ──► per cluster: wait for running operations ─► step ─► op ─► call ─► wait (DescribeUpdate / status)
//!                                                           └─ transient error: backoff, retry (same token)
//! ```
//!
//! Creates carry the plan's deterministic clientRequestToken, so a retry after a crash
//! returns the resource the first attempt created instead of making a second one; an
//! update EKS reports as already running is waited for, not issued again.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::model::live::FIELD_MANAGER;
use crate::model::live::{Status, UpdateStatus};
use crate::observe::Ports;
use crate::plan::resolve_addon_version;
use crate::plan::{ClusterPlan, Op, Plan};
use crate::ports::{ApiError, ApiResult};

mod version;

/// How the executor paces itself.
#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions {
    /// Most clusters changed at once.
    pub concurrency: usize,
    /// Seconds between two polls of a running operation.
    pub poll_secs: u64,
    /// Longest wait for one operation, in seconds.
    pub timeout_secs: u64,
    /// Attempts for a call that fails with a transient error.
    pub attempts: u32,
    /// Longest time a wait goes on while EKS cannot be reached (every poll failing
    /// transiently), in seconds: past it the wait fails, and the next run finds the
    /// operation again (a create by its idempotency token).
    pub unreachable_secs: u64,
    /// Run steps that make a one-way transition (`--allow-irreversible`, the Fleet's
    /// `policy.allowIrreversible`). Without it a cluster with such a step is not touched.
    pub allow_irreversible: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            concurrency: 8,
            poll_secs: 30,
            timeout_secs: 90 * 60,
            attempts: 6,
            // About what the SDK's own retries of one call spend (8 attempts, backoff up to
            // 20 s, 30 s per attempt), so an outage is not mistaken for a slow operation.
            unreachable_secs: 5 * 60,
            allow_irreversible: false,
        }
    }
}

/// Where progress reports go.
pub trait Progress: Send + Sync {
    /// Something started or finished.
    fn event(&self, cluster: &str, message: &str);
    /// A wait is still going on, `elapsed` seconds in.
    fn waiting(&self, cluster: &str, what: &str, elapsed: u64);
}

/// A progress sink that drops everything.
#[derive(Debug, Default)]
pub struct Quiet;

impl Progress for Quiet {
    fn event(&self, _: &str, _: &str) {}
    fn waiting(&self, _: &str, _: &str, _: u64) {}
}

/// What happened to one cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterOutcome {
    /// Cluster.
    pub name: String,
    /// Steps completed.
    pub steps_done: usize,
    /// Steps in the plan.
    pub steps_total: usize,
    /// Why it stopped early.
    pub error: Option<Failure>,
}

/// Why a cluster's apply stopped, worded for people and classified for the retry policy.
/// Serialised as its message alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct Failure {
    /// What failed and why, with the whole cause chain.
    pub message: String,
    transient: bool,
}

impl ClusterOutcome {
    /// The outcome of a cluster whose task panicked or was cancelled.
    pub(crate) fn task_failed(e: &tokio::task::JoinError) -> ClusterOutcome {
        ClusterOutcome {
            name: "?".into(),
            steps_done: 0,
            steps_total: 0,
            error: Some(Failure::new(format!("task failed: {e}"), false)),
        }
    }
}

impl Failure {
    /// A failure with this message; `transient` when retrying later may succeed.
    pub fn new(message: impl Into<String>, transient: bool) -> Failure {
        Failure {
            message: message.into(),
            transient,
        }
    }

    /// Whether the same apply may succeed later without a change to the repository
    /// (throttling, a 5xx, a timed-out call that outlasted the executor's own retries).
    pub fn is_transient(&self) -> bool {
        self.transient
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<Failure> for String {
    fn from(f: Failure) -> String {
        f.message
    }
}

/// What `apply` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ApplyReport {
    /// Per cluster with steps.
    pub clusters: Vec<ClusterOutcome>,
}

impl ApplyReport {
    /// Whether every cluster finished its steps.
    pub fn ok(&self) -> bool {
        self.clusters.iter().all(|c| c.error.is_none())
    }
}

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A call failed for good.
    #[error("{call} failed")]
    Call {
        /// The call.
        call: String,
        /// Cause.
        #[source]
        source: ApiError,
    },
    /// An operation finished badly.
    #[error("{what} failed: {detail}")]
    Failed {
        /// What.
        what: String,
        /// EKS's account of it.
        detail: String,
    },
    /// EKS could not be reached, poll after poll, for longer than the executor waits
    /// through an outage.
    #[error("gave up waiting for {what}: EKS could not be reached for {secs} s (last: {last}); the operation itself goes on at AWS, and the next run finds it again (a create by its idempotency token)")]
    Unreachable {
        /// What.
        what: String,
        /// Seconds without an answer.
        secs: u64,
        /// The last poll's error.
        last: String,
    },
    /// An operation did not finish in time.
    #[error("gave up waiting for {what} after {secs} s")]
    Timeout {
        /// What.
        what: String,
        /// Seconds waited.
        secs: u64,
    },
}

impl ApplyError {
    /// Whether the operation may succeed when tried again later: only a call whose API
    /// error is transient. An operation EKS reports as failed, or one that outlasted the
    /// executor's wait, needs a person or a new revision.
    pub fn is_transient(&self) -> bool {
        match self {
            ApplyError::Call { source, .. } => source.is_transient(),
            // The daemon retries with backoff; the operation is found again then.
            ApplyError::Unreachable { .. } => true,
            ApplyError::Failed { .. } | ApplyError::Timeout { .. } => false,
        }
    }
}

/// Apply a plan. Clusters without steps or with blockers are left alone.
pub async fn apply(
    ports: &Ports,
    plan: &Plan,
    opts: ApplyOptions,
    progress: Arc<dyn Progress>,
) -> ApplyReport {
    let sem = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let mut set = JoinSet::new();
    let mut report = ApplyReport::default();
    for c in plan
        .clusters
        .iter()
        .filter(|c| c.blocked.is_empty() && !c.steps.is_empty())
    {
        if let Some(step) = c.one_way().filter(|_| !opts.allow_irreversible) {
            // Refused before the first call, so nothing of the cluster's plan has run.
            report.clusters.push(ClusterOutcome {
                name: c.name.clone(),
                steps_done: 0,
                steps_total: c.steps.len(),
                error: Some(Failure::new(
                    format!("refused: a one-way change needs an explicit opt-in ({step})"),
                    false,
                )),
            });
            continue;
        }
        let (ports, c, sem, progress) = (ports.clone(), c.clone(), sem.clone(), progress.clone());
        // An apply's requests go before background reads in the EKS rate limiter.
        set.spawn(crate::adapters::ratelimit::urgent(async move {
            let _permit = sem.acquire_owned().await;
            run_cluster(&ports, &c, opts, progress.as_ref()).await
        }));
    }
    while let Some(r) = set.join_next().await {
        report
            .clusters
            .push(r.unwrap_or_else(|e| ClusterOutcome::task_failed(&e)));
    }
    report.clusters.sort_by(|a, b| a.name.cmp(&b.name));
    report
}

async fn run_cluster(
    ports: &Ports,
    c: &ClusterPlan,
    opts: ApplyOptions,
    progress: &dyn Progress,
) -> ClusterOutcome {
    let mut outcome = ClusterOutcome {
        name: c.name.clone(),
        steps_done: 0,
        steps_total: c.steps.len(),
        error: None,
    };
    let x = Exec {
        ports,
        cluster: &c.name,
        opts,
        progress,
    };
    if c.exists {
        if let Err(e) = x.wait_cluster_idle().await {
            outcome.error = Some(Failure::new(format!("{e:#}"), e.is_transient()));
            return outcome;
        }
    }
    for step in &c.steps {
        let label = format!(
            "{} {} {}",
            step.action.symbol(),
            step.resource.kind,
            step.resource.name
        );
        progress.event(&c.name, &label);
        for op in &step.ops {
            if let Err(e) = x.run(op).await {
                let mut transient = e.is_transient();
                let mut msg = crate::errors::error_chain(&e);
                if c.exists || outcome.steps_done > 0 {
                    if let Some(gone) = x.cluster_vanished(&label).await {
                        msg = gone;
                        transient = false;
                    }
                }
                progress.event(&c.name, &format!("failed: {label}: {msg}"));
                outcome.error = Some(Failure::new(format!("{label}: {msg}"), transient));
                return outcome;
            }
        }
        outcome.steps_done += 1;
    }
    progress.event(&c.name, "done");
    outcome
}

struct Exec<'a> {
    ports: &'a Ports,
    cluster: &'a str,
    opts: ApplyOptions,
    progress: &'a dyn Progress,
}

enum Check {
    Done,
    Pending(String),
    /// The poll failed transiently: EKS could not be reached this time.
    Unreachable(String),
}

impl Exec<'_> {
    /// Call with retries on transient errors; the same request (and token) each time.
    async fn call<T, F, Fut>(&self, name: &str, f: F) -> Result<T, ApplyError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = ApiResult<T>>,
    {
        let mut delay = 2;
        let mut attempt = 1;
        loop {
            match f().await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_transient() && attempt < self.opts.attempts => {
                    tracing::warn!(cluster = self.cluster, call = name, attempt, error = %e, "retrying");
                    self.ports.clock.sleep(delay).await;
                    delay = (delay * 2).min(60);
                    attempt += 1;
                }
                Err(source) => {
                    return Err(ApplyError::Call {
                        call: format!("{name} on cluster {}", self.cluster),
                        source,
                    })
                }
            }
        }
    }

    async fn wait<F, Fut>(&self, what: &str, check: F) -> Result<(), ApplyError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Check, ApplyError>>,
    {
        let start = self.ports.clock.now();
        let mut unreachable_since: Option<i64> = None;
        loop {
            // The time of the check, read before it: on a shared virtual clock other
            // tasks may move time on while the check is awaited, and a state seen
            // before that move says nothing about whether the wait ran out.
            let now = self.ports.clock.now();
            let check = check().await?;
            if let Check::Unreachable(last) = &check {
                let since = *unreachable_since.get_or_insert(now);
                let secs = (now - since).max(0) as u64;
                if secs >= self.opts.unreachable_secs {
                    return Err(ApplyError::Unreachable {
                        what: what.to_string(),
                        secs,
                        last: last.clone(),
                    });
                }
            } else {
                unreachable_since = None;
            }
            match check {
                Check::Done => {
                    let took = (self.ports.clock.now() - start).max(0) as u64;
                    if took > 0 {
                        self.progress
                            .event(self.cluster, &format!("{what}: done after {}", human(took)));
                    }
                    return Ok(());
                }
                Check::Pending(state) | Check::Unreachable(state) => {
                    let elapsed = (now - start).max(0) as u64;
                    if elapsed >= self.opts.timeout_secs {
                        return Err(ApplyError::Timeout {
                            what: what.to_string(),
                            secs: elapsed,
                        });
                    }
                    self.progress
                        .waiting(self.cluster, &format!("{what} ({state})"), elapsed);
                    self.ports.clock.sleep(self.opts.poll_secs).await;
                }
            }
        }
    }

    /// After a failure: when the cluster itself no longer exists, the account of what
    /// happened (deleted outside keelson) replaces the failed call's error. Nothing more
    /// is done to the cluster; the next plan proposes to create it again.
    async fn cluster_vanished(&self, label: &str) -> Option<String> {
        match self.ports.eks.describe_cluster(self.cluster).await {
            Err(ApiError::NotFound(_)) => Some(format!(
                "cluster {} no longer exists: it was deleted outside keelson while `{label}` was in progress; nothing more was done to it, and the next plan proposes to create it again from the repository",
                self.cluster
            )),
            _ => None,
        }
    }

    async fn wait_cluster_idle(&self) -> Result<(), ApplyError> {
        let eks = &self.ports.eks;
        let name = self.cluster;
        self.wait("running operations on the cluster", || async move {
            let c = self
                .call("DescribeCluster", || eks.describe_cluster(name))
                .await?;
            if c.status != Status::Active {
                return Ok(Check::Pending(format!("{:?}", c.status).to_uppercase()));
            }
            Ok(Check::Done)
        })
        .await
    }

    async fn wait_update(
        &self,
        what: &str,
        update: &crate::model::live::Update,
        nodegroup: Option<&str>,
        addon: Option<&str>,
    ) -> Result<(), ApplyError> {
        // An update may be finished on the spot (moto does this, and gives no id to
        // follow); only a running one is waited for.
        match update.status {
            UpdateStatus::InProgress if !update.id.is_empty() => {}
            UpdateStatus::Failed | UpdateStatus::Cancelled => {
                return Err(ApplyError::Failed {
                    what: what.to_string(),
                    detail: update.errors.join("; "),
                })
            }
            _ => return Ok(()),
        }
        let id = update.id.as_str();
        let eks = &self.ports.eks;
        let name = self.cluster;
        self.wait(what, || async move {
            let u = self
                .call("DescribeUpdate", || {
                    eks.describe_update(name, id, nodegroup, addon)
                })
                .await?;
            match u.status {
                UpdateStatus::InProgress => Ok(Check::Pending("in progress".into())),
                UpdateStatus::Successful => Ok(Check::Done),
                UpdateStatus::Failed | UpdateStatus::Cancelled => Err(ApplyError::Failed {
                    what: what.to_string(),
                    detail: if u.errors.is_empty() {
                        format!("{:?}", u.status)
                    } else {
                        u.errors.join("; ")
                    },
                }),
            }
        })
        .await
    }

    async fn wait_status<F, Fut>(&self, what: &str, get: F) -> Result<(), ApplyError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = ApiResult<Status>>,
    {
        let get = &get;
        self.wait(what, || async move {
            match get().await {
                Ok(Status::Active) => Ok(Check::Done),
                Ok(Status::Failed) | Ok(Status::Degraded) => Err(ApplyError::Failed {
                    what: what.to_string(),
                    detail: "status FAILED/DEGRADED".into(),
                }),
                Ok(s) => Ok(Check::Pending(format!("{s:?}").to_uppercase())),
                Err(e) if e.is_transient() => Ok(Check::Unreachable(e.to_string())),
                Err(source) => Err(ApplyError::Call {
                    call: what.to_string(),
                    source,
                }),
            }
        })
        .await
    }

    async fn wait_gone<F, Fut, T>(&self, what: &str, get: F) -> Result<(), ApplyError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = ApiResult<T>>,
    {
        let get = &get;
        self.wait(what, || async move {
            match get().await {
                Err(ApiError::NotFound(_)) => Ok(Check::Done),
                Ok(_) => Ok(Check::Pending("DELETING".into())),
                Err(e) if e.is_transient() => Ok(Check::Unreachable(e.to_string())),
                Err(source) => Err(ApplyError::Call {
                    call: what.to_string(),
                    source,
                }),
            }
        })
        .await
    }

    /// Run one operation and wait for it to take effect.
    async fn run(&self, op: &Op) -> Result<(), ApplyError> {
        let eks = &self.ports.eks;
        let kube = &self.ports.kube;
        let name = self.cluster;
        match op {
            Op::CreateCluster(req) => {
                match self.call("CreateCluster", || eks.create_cluster(req)).await {
                    Ok(_) => {}
                    // Created by an earlier run that died before it could record it: the
                    // cluster carries this fleet's marker, so it is ours; wait for it.
                    Err(ApplyError::Call {
                        source: ApiError::ResourceInUse(_),
                        ..
                    }) => {
                        let live = self
                            .call("DescribeCluster", || eks.describe_cluster(name))
                            .await?;
                        if live.tags.get(crate::model::live::MANAGED_TAG)
                            != req.tags.get(crate::model::live::MANAGED_TAG)
                        {
                            return Err(ApplyError::Failed { what: format!("CreateCluster {name}"), detail: "a cluster with this name exists and was not created by this fleet".into() });
                        }
                    }
                    Err(e) => return Err(e),
                }
                self.wait_status("cluster creation", || async {
                    eks.describe_cluster(name).await.map(|c| c.status)
                })
                .await
            }
            Op::UpdateClusterConfig { change } => {
                self.wait_cluster_idle().await?;
                let u = self
                    .call("UpdateClusterConfig", || {
                        eks.update_cluster_config(name, change)
                    })
                    .await?;
                self.wait_update(&format!("{:?}", u.update_type), &u, None, None)
                    .await
            }
            Op::UpdateClusterVersion { version } => self.update_version(version).await,
            Op::RecordRollback {
                arn,
                from,
                to,
                remove,
            } => self.record_rollback(arn, from, to, remove).await,
            Op::CancelUpdate { id } => self.cancel_update(id).await,
            Op::DeleteCluster => {
                self.call("DeleteCluster", || eks.delete_cluster(name))
                    .await?;
                self.wait_gone("cluster deletion", || eks.describe_cluster(name))
                    .await
            }
            Op::TagResource { arn, tags } => {
                self.call("TagResource", || eks.tag_resource(arn, tags))
                    .await
            }
            Op::UntagResource { arn, keys } => {
                self.call("UntagResource", || eks.untag_resource(arn, keys))
                    .await
            }
            Op::RecordTransition {
                arn,
                from,
                to,
                addons,
                remove,
            } => {
                // The time is the time the hop finished, which only the executor knows.
                let mut tags = crate::model::Tags::new();
                tags.insert(
                    crate::plan::upgrade::transition_key(from, to),
                    crate::plan::upgrade::transition_value(self.ports.clock.now(), addons),
                );
                self.tag_then_untag(arn, &tags, remove).await
            }
            Op::CreateAddon(req) => {
                let mut req = req.clone();
                if matches!(req.version.as_str(), "latest" | "default") {
                    let cv = self
                        .call("DescribeCluster", || eks.describe_cluster(name))
                        .await?
                        .version;
                    let versions = self
                        .call("DescribeAddonVersions", || {
                            eks.describe_addon_versions(&req.name)
                        })
                        .await?;
                    req.version =
                        resolve_addon_version(&versions, &req.version, &cv).map_err(|detail| {
                            ApplyError::Failed {
                                what: format!("add-on {}", req.name),
                                detail,
                            }
                        })?;
                }
                let req = &req;
                already_there(self.call("CreateAddon", || eks.create_addon(req)).await)?;
                self.wait_status(&format!("add-on {}", req.name), || async {
                    eks.describe_addon(name, &req.name).await.map(|a| a.status)
                })
                .await
            }
            Op::UpdateAddon(req) => {
                self.wait_status(&format!("add-on {}", req.name), || async {
                    eks.describe_addon(name, &req.name).await.map(|a| a.status)
                })
                .await?;
                let live = self
                    .call("DescribeAddon", || eks.describe_addon(name, &req.name))
                    .await?;
                let same = live.version == req.version
                    && live.configuration_values == req.configuration_values
                    && live.service_account_role_arn == req.service_account_role_arn
                    && live.pod_identity_associations == req.pod_identity_associations;
                if same {
                    return Ok(());
                }
                let u = self.call("UpdateAddon", || eks.update_addon(req)).await?;
                self.wait_update(
                    &format!("add-on {} {}", req.name, req.version),
                    &u,
                    None,
                    Some(&req.name),
                )
                .await
            }
            Op::DeleteAddon { name: a } => {
                already_gone(self.call("DeleteAddon", || eks.delete_addon(name, a)).await)?;
                self.wait_gone(&format!("add-on {a} deletion"), || {
                    eks.describe_addon(name, a)
                })
                .await
            }
            Op::CreateNodegroup(req) => {
                already_there(
                    self.call("CreateNodegroup", || eks.create_nodegroup(req))
                        .await,
                )?;
                self.wait_status(&format!("node group {}", req.name), || async {
                    eks.describe_nodegroup(name, &req.name)
                        .await
                        .map(|n| n.status)
                })
                .await
            }
            Op::UpdateNodegroupConfig(req) => {
                self.wait_status(&format!("node group {}", req.name), || async {
                    eks.describe_nodegroup(name, &req.name)
                        .await
                        .map(|n| n.status)
                })
                .await?;
                let u = self
                    .call("UpdateNodegroupConfig", || eks.update_nodegroup_config(req))
                    .await?;
                self.wait_update(
                    &format!("node group {} config", req.name),
                    &u,
                    Some(&req.name),
                    None,
                )
                .await
            }
            Op::UpdateNodegroupVersion(req) => {
                self.wait_status(&format!("node group {}", req.name), || async {
                    eks.describe_nodegroup(name, &req.name)
                        .await
                        .map(|n| n.status)
                })
                .await?;
                let live = self
                    .call("DescribeNodegroup", || {
                        eks.describe_nodegroup(name, &req.name)
                    })
                    .await?;
                let release_ok = req.release_version.is_none()
                    || req.release_version == live.spec.release_version;
                if live.spec.version.as_deref() == Some(req.version.as_str())
                    && release_ok
                    && req.launch_template.is_none()
                {
                    return Ok(());
                }
                let u = self
                    .call("UpdateNodegroupVersion", || {
                        eks.update_nodegroup_version(req)
                    })
                    .await?;
                self.wait_update(
                    &format!("node group {} {}", req.name, req.version),
                    &u,
                    Some(&req.name),
                    None,
                )
                .await
            }
            Op::DeleteNodegroup { name: n } => {
                already_gone(
                    self.call("DeleteNodegroup", || eks.delete_nodegroup(name, n))
                        .await,
                )?;
                self.wait_gone(&format!("node group {n} deletion"), || {
                    eks.describe_nodegroup(name, n)
                })
                .await
            }
            Op::CreateFargateProfile(req) => {
                // EKS creates or deletes one Fargate profile at a time per cluster.
                let mut tries = 0;
                loop {
                    match self
                        .call("CreateFargateProfile", || eks.create_fargate_profile(req))
                        .await
                    {
                        Ok(_) => break,
                        Err(ApplyError::Call {
                            source: ApiError::ResourceInUse(m),
                            ..
                        }) if m.contains("one at a time") && tries < 60 => {
                            tries += 1;
                            self.ports.clock.sleep(self.opts.poll_secs).await;
                        }
                        Err(ApplyError::Call {
                            source: ApiError::ResourceInUse(_),
                            ..
                        }) => break,
                        Err(e) => return Err(e),
                    }
                }
                self.wait_status(&format!("Fargate profile {}", req.name), || async {
                    eks.describe_fargate_profile(name, &req.name)
                        .await
                        .map(|f| f.status)
                })
                .await
            }
            Op::DeleteFargateProfile { name: n } => {
                already_gone(
                    self.call("DeleteFargateProfile", || {
                        eks.delete_fargate_profile(name, n)
                    })
                    .await,
                )?;
                self.wait_gone(&format!("Fargate profile {n} deletion"), || {
                    eks.describe_fargate_profile(name, n)
                })
                .await
            }
            Op::CreateAccessEntry(req) => match self
                .call("CreateAccessEntry", || eks.create_access_entry(req))
                .await
            {
                Ok(()) => Ok(()),
                Err(ApplyError::Call {
                    source: ApiError::ResourceInUse(_),
                    ..
                }) => Ok(()),
                Err(e) => Err(e),
            },
            Op::UpdateAccessEntry {
                principal,
                groups,
                username,
            } => {
                self.call("UpdateAccessEntry", || {
                    eks.update_access_entry(name, principal, groups, username.as_deref())
                })
                .await
            }
            Op::AssociateAccessPolicy { principal, policy } => {
                self.call("AssociateAccessPolicy", || {
                    eks.associate_access_policy(name, principal, policy)
                })
                .await
            }
            Op::DisassociateAccessPolicy {
                principal,
                policy_arn,
            } => {
                self.call("DisassociateAccessPolicy", || {
                    eks.disassociate_access_policy(name, principal, policy_arn)
                })
                .await
            }
            Op::DeleteAccessEntry { principal } => already_gone(
                self.call("DeleteAccessEntry", || {
                    eks.delete_access_entry(name, principal)
                })
                .await,
            ),
            Op::CreatePodIdentity(req) => already_there(
                self.call("CreatePodIdentityAssociation", || {
                    eks.create_pod_identity_association(req)
                })
                .await,
            ),
            Op::UpdatePodIdentity { id, spec } => {
                self.call("UpdatePodIdentityAssociation", || {
                    eks.update_pod_identity_association(name, id, spec)
                })
                .await
            }
            Op::DeletePodIdentity { id } => already_gone(
                self.call("DeletePodIdentityAssociation", || {
                    eks.delete_pod_identity_association(name, id)
                })
                .await,
            ),
            Op::KubeApply { object } => self
                .call("server-side apply", || {
                    kube.apply(name, object, FIELD_MANAGER)
                })
                .await
                .map(|_| ()),
            Op::KubeDelete {
                api_version,
                kind,
                name: n,
                namespace,
            } => already_gone(
                self.call("delete", || {
                    kube.delete_in(name, api_version, kind, namespace.as_deref(), n)
                })
                .await,
            ),
        }
    }
}

/// A delete of something already gone has done its job.
fn already_gone<T>(r: Result<T, ApplyError>) -> Result<(), ApplyError> {
    match r {
        Ok(_)
        | Err(ApplyError::Call {
            source: ApiError::NotFound(_),
            ..
        }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A create of something that exists (made by an earlier attempt with the same token, or
/// found busy being made) has done its job; the wait that follows checks it.
fn already_there<T>(r: Result<T, ApplyError>) -> Result<(), ApplyError> {
    match r {
        Ok(_)
        | Err(ApplyError::Call {
            source: ApiError::ResourceInUse(_),
            ..
        }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// `1h02m`, `4m30s`, `12s`.
pub fn human(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(source: ApiError) -> ApplyError {
        ApplyError::Call {
            call: "UpdateClusterConfig on cluster a".into(),
            source,
        }
    }

    #[test]
    fn only_transient_api_errors_make_a_transient_failure() {
        assert!(call(ApiError::Throttled("Rate exceeded".into())).is_transient());
        assert!(call(ApiError::Unavailable("503".into())).is_transient());
        assert!(!call(ApiError::InvalidParameter("no such version".into())).is_transient());
        assert!(!call(ApiError::AccessDenied("eks:UpdateClusterConfig".into())).is_transient());
        assert!(!ApplyError::Failed {
            what: "update".into(),
            detail: "boom".into()
        }
        .is_transient());
        assert!(!ApplyError::Timeout {
            what: "update".into(),
            secs: 5400
        }
        .is_transient());
    }

    #[test]
    fn a_failure_serialises_as_its_message() {
        let f = Failure::new("~ Cluster a: throttled: Rate exceeded", true);
        assert!(f.is_transient());
        assert_eq!(
            serde_json::to_value(&f).ok(),
            Some(serde_json::json!("~ Cluster a: throttled: Rate exceeded"))
        );
        assert_eq!(f.to_string(), "~ Cluster a: throttled: Rate exceeded");
    }
}
