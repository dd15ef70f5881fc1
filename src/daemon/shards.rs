//! `keelson run --shards auto`: replicas divide the fleet's clusters among themselves, and
//! write to a cluster only while they hold its Lease.
//!
//! ```text
//!  join: member Lease GROUP-member-HOST-PID ──► wait one lease duration (replicas started together meet)
//!  keep (every renew period): renew own member Lease ─ fails past the renew deadline ──► stop writing, say so
//!                             list members ─ changed ──► wake: full sync (clusters move)
//!  sync:  clusters ──shard::owned_by(members, me)──► plan only those (earlier stages read for the gates)
//!  apply: per cluster: take Lease GROUP-cluster-NAME ─ held by another ──► pending, retried within a renew period
//!           └─ taken ──► apply it, renewing the Lease; lost (taken, or not renewed for the
//!                        deadline) ──► this cluster's apply stops at its next await; released after
//! ```
//!
//! Who owns a cluster is a pure function of the live members ([`super::shard`]): when a
//! replica dies its member Lease stops being renewed, and once it is older than its
//! duration plus the clock-skew allowance every survivor computes the same new owner for
//! each of its clusters, and only those move. Ownership alone never licenses a write:
//! two replicas may briefly disagree about the members, so the owner also takes the
//! cluster's own Lease, which the API server grants to one of them (every write of it
//! carries the resourceVersion it read). A dead owner's cluster Lease expires like the
//! fleet lock does ([`super::lock`]); the new owner takes it then.
//!
//! The journal stays local to each replica (`STATE_DIR/journal.jsonl`, in the pod's
//! own volume): a replica that takes over a dead one's cluster never reads the dead
//! one's journal. It does not need to: what the journal adds on one machine (which
//! clusters were mid-apply, so they are finished even outside a window) the new owner
//! reads from EKS itself. An operation EKS is still running shows in the observed state
//! (DescribeCluster UPDATING, ListUpdates / DescribeUpdate InProgress, an add-on or node
//! group in UPDATING), so the planner proposes nothing for it and plans what comes after
//! it; the executor waits for a busy cluster before its next step and checks the live
//! version before an UpdateClusterVersion; creates carry deterministic
//! clientRequestTokens. An update is found again and never re-issued, whoever issued it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::{watch, Semaphore};

use super::driver::log;
use super::lock::{self, identity, Attempt, Holder, LockBackend};
use super::shard;
use super::{Shared, Wake};
use crate::adapters::lease::LeaseLock;
use crate::adapters::members::Membership;
use crate::apply::{self, ApplyOptions, ApplyReport, ClusterOutcome, Failure, Progress};
use crate::observe::Ports;
use crate::plan::Plan;

/// This replica's shard, as `/status` shows it.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ShardStatus {
    /// The shard group and where its Leases are.
    pub group: String,
    /// This replica (`HOST/PID`).
    pub me: String,
    /// The members it sees, itself included.
    pub members: Vec<String>,
    /// The clusters it owns (and may write to while it holds their Lease).
    pub owned: Vec<String>,
    /// Whether its membership is current; `false`: it writes nothing until it is again.
    pub writable: bool,
}

/// A replica's part in a shard group.
pub struct Shards {
    membership: Membership,
    shared: Arc<Shared>,
    members: Mutex<BTreeSet<String>>,
    writable: AtomicBool,
    /// One lock per cluster, kept between syncs: each remembers what it saw of another
    /// holder's record, which is how a dead holder's Lease is judged expired.
    locks: Mutex<BTreeMap<String, Arc<LeaseLock>>>,
    retry: AtomicBool,
    /// Every cluster of the last full sync, so that the status follows the members
    /// between syncs.
    clusters: Mutex<BTreeSet<String>>,
}

/// A cluster Lease held for one apply; its renewal stops when this is dropped.
pub struct Taken {
    lock: Arc<LeaseLock>,
    lost: watch::Receiver<Option<String>>,
    keeper: tokio::task::JoinHandle<()>,
}

impl Drop for Taken {
    fn drop(&mut self) {
        self.keeper.abort();
    }
}

impl Shards {
    /// Join the group: write this replica's member Lease and read the others.
    ///
    /// # Errors
    /// The API server refused or did not answer: a replica that cannot announce itself
    /// could be given no cluster by the others, so it does not start.
    pub async fn join(membership: Membership, shared: Arc<Shared>) -> anyhow::Result<Arc<Shards>> {
        let me = membership.me().to_string();
        membership.renew().await.map_err(|e| {
            anyhow::Error::new(e)
                .context("cannot join the shard group; nothing is applied without it")
        })?;
        let shards = Arc::new(Shards {
            membership,
            shared,
            members: Mutex::new([me].into()),
            writable: AtomicBool::new(true),
            locks: Mutex::new(BTreeMap::new()),
            retry: AtomicBool::new(false),
            clusters: Mutex::new(BTreeSet::new()),
        });
        shards.refresh().await?;
        let group = shards.membership.describe();
        shards.shared.status().shard = Some(ShardStatus {
            group,
            me: shards.membership.me().to_string(),
            members: Vec::new(),
            owned: Vec::new(),
            writable: true,
        });
        shards.publish(&shards.members(), &BTreeSet::new());
        Ok(shards)
    }

    /// How long a replica waits after joining before its first sync, so that replicas
    /// started together see each other instead of each taking every cluster.
    pub fn settle(&self) -> std::time::Duration {
        self.membership.timing().duration
    }

    /// The members seen last.
    pub fn members(&self) -> BTreeSet<String> {
        self.members
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether this replica may write (its membership is current).
    pub fn writable(&self) -> bool {
        self.writable.load(Ordering::SeqCst)
    }

    /// Read the members; `true` when the set changed.
    async fn refresh(&self) -> Result<bool, super::lock::BackendError> {
        let records = self.membership.records().await?;
        let skew = i64::try_from(self.membership.timing().skew.as_secs()).unwrap_or(i64::MAX);
        let live = shard::live_members(&records, super::unix_now(), skew, self.membership.me());
        let changed = {
            let mut m = self.members.lock().unwrap_or_else(|p| p.into_inner());
            let changed = *m != live;
            *m = live.clone();
            changed
        };
        // The clusters change only in a full sync, which publishes them itself.
        if changed {
            let all = self
                .clusters
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            self.publish(&live, &all);
        }
        Ok(changed)
    }

    /// Keep the membership while the daemon runs: renew it every renew period, follow
    /// the members (a change wakes a full sync: clusters move), and wake a sync for
    /// clusters that waited on another replica's cluster Lease.
    pub async fn keep(self: Arc<Self>) {
        let timing = self.membership.timing();
        let mut last_ok = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(timing.renew_every).await;
            match self.membership.renew().await {
                Ok(_) => {
                    last_ok = tokio::time::Instant::now();
                    if !self.writable.swap(true, Ordering::SeqCst) {
                        log(&format!(
                            "the membership in the {} is renewed again; writing again",
                            self.membership.describe()
                        ));
                        self.set_writable(true);
                        self.shared.wake(Wake::Reconcile);
                    }
                }
                Err(e) => {
                    let since = last_ok.elapsed();
                    if since >= timing.renew_deadline && self.writable.swap(false, Ordering::SeqCst)
                    {
                        let msg = format!(
                            "the membership in the {} could not be renewed for {} s ({e}); this replica stops writing until it is (the others take its clusters)",
                            self.membership.describe(),
                            since.as_secs()
                        );
                        log(&msg);
                        self.set_writable(false);
                        self.shared.status().last_error = Some(msg);
                    }
                }
            }
            match self.refresh().await {
                Ok(true) => {
                    let members = self.members();
                    log(&format!(
                        "shard members changed: {} ({}); dividing the clusters again",
                        members.len(),
                        members.into_iter().collect::<Vec<_>>().join(", ")
                    ));
                    self.shared.wake(Wake::Reconcile);
                }
                Ok(false) => {}
                Err(e) => tracing::debug!(error = %e, "shard members not read"),
            }
            if self.retry.swap(false, Ordering::SeqCst) {
                self.shared.wake(Wake::Reconcile);
            }
        }
    }

    fn set_writable(&self, writable: bool) {
        if let Some(s) = self.shared.status().shard.as_mut() {
            s.writable = writable;
        }
    }

    /// The clusters of `clusters` this replica owns now. `all`: they are every cluster
    /// of the repository (a full sync), recorded in the status and the metrics.
    pub fn owned(&self, clusters: &BTreeSet<String>, all: bool) -> BTreeSet<String> {
        let members = self.members();
        if !all {
            return shard::owned_by(&members, self.membership.me(), clusters);
        }
        *self.clusters.lock().unwrap_or_else(|p| p.into_inner()) = clusters.clone();
        self.publish(&members, clusters)
    }

    /// Record `members` and this replica's share of `clusters` in the status and the
    /// metrics (once the status has its shard section); that share.
    fn publish(&self, members: &BTreeSet<String>, clusters: &BTreeSet<String>) -> BTreeSet<String> {
        let mine = shard::owned_by(members, self.membership.me(), clusters);
        if let Some(s) = self.shared.status().shard.as_mut() {
            s.members = members.iter().cloned().collect();
            s.owned = mine.iter().cloned().collect();
            self.shared
                .metrics
                .set_shard(members.len() as u64, mine.len() as u64);
        }
        mine
    }

    /// Ask for a sync within a renew period (a cluster waited on another's Lease).
    pub fn retry_soon(&self) {
        self.retry.store(true, Ordering::SeqCst);
    }

    fn lock_for(&self, cluster: &str) -> Arc<LeaseLock> {
        self.locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(cluster.to_string())
            .or_insert_with(|| Arc::new(self.membership.cluster_lock(cluster)))
            .clone()
    }

    /// Take the Lease of every cluster in `plan`: the plan narrowed to the clusters
    /// taken, their Leases (renewed until dropped), and why each other one waits.
    pub async fn take(&self, plan: Plan) -> (Plan, BTreeMap<String, Taken>, Vec<(String, String)>) {
        let me = Holder::me();
        let mut taken = BTreeMap::new();
        let mut waiting = Vec::new();
        let mut clusters = Vec::new();
        for c in plan.clusters {
            if !self.writable() {
                waiting.push((c.name.clone(), format!("this replica's membership in the {} is not current; it writes nothing until it is", self.membership.describe())));
                continue;
            }
            let lock = self.lock_for(&c.name);
            match lock.try_acquire(&me).await {
                Ok(Attempt::Acquired) => {
                    let (tx, rx) = watch::channel(None);
                    let backend: Arc<dyn LockBackend> = lock.clone();
                    let keeper = tokio::spawn(lock::keep(backend, me.clone(), move |why| {
                        let _ = tx.send(Some(why));
                    }));
                    taken.insert(
                        c.name.clone(),
                        Taken {
                            lock,
                            lost: rx,
                            keeper,
                        },
                    );
                    clusters.push(c);
                }
                Ok(Attempt::Held(holder)) => {
                    self.retry_soon();
                    waiting.push((c.name.clone(), format!(
                        "another replica ({}) holds its {}; applied here once it is released or expires",
                        holder.map_or_else(|| "holder unknown".to_string(), |h| identity(&h)),
                        lock.describe()
                    )));
                }
                Err(e) => {
                    self.retry_soon();
                    waiting.push((
                        c.name.clone(),
                        format!(
                            "its Lease cannot be taken ({e}); nothing is written to it without it"
                        ),
                    ));
                }
            }
        }
        (Plan { clusters, ..plan }, taken, waiting)
    }

    /// Apply `plan`, each cluster on its own while its Lease in `taken` holds: a cluster
    /// whose Lease is lost stops at its next await (no further write) and is reported as
    /// a transient failure; the others go on. Each Lease is released after its apply.
    pub async fn apply(
        &self,
        ports: &Ports,
        plan: &Plan,
        mut taken: BTreeMap<String, Taken>,
        opts: ApplyOptions,
        progress: Arc<dyn Progress>,
    ) -> ApplyReport {
        let sem = Arc::new(Semaphore::new(opts.concurrency.max(1)));
        let skeleton = Plan {
            format: plan.format.clone(),
            version: plan.version,
            created_at: plan.created_at,
            fleet: plan.fleet.clone(),
            clusters: Vec::new(),
            summary: plan.summary,
            source: plan.source.clone(),
        };
        let mut set = tokio::task::JoinSet::new();
        for c in &plan.clusters {
            let Some(held) = taken.remove(&c.name) else {
                continue;
            };
            let one = Plan {
                clusters: vec![c.clone()],
                ..skeleton.clone()
            };
            let (ports, sem, progress) = (ports.clone(), sem.clone(), progress.clone());
            let (name, total) = (c.name.clone(), c.steps.len());
            set.spawn(async move {
                let outcome = {
                    let _permit = sem.acquire_owned().await;
                    let mut lost = held.lost.clone();
                    tokio::select! {
                        r = apply::apply(&ports, &one, ApplyOptions { concurrency: 1, ..opts }, progress) => r.clusters.into_iter().next(),
                        why = lost.wait_for(Option::is_some) => {
                            let why = why.map(|w| w.clone().unwrap_or_default()).unwrap_or_default();
                            log(&format!("[{name}] {why}; stopped writing to {name}"));
                            Some(ClusterOutcome {
                                name: name.clone(),
                                steps_done: 0,
                                steps_total: total,
                                error: Some(Failure::new(format!("stopped writing: {why}"), true)),
                            })
                        }
                    }
                };
                held.keeper.abort();
                if held.lost.borrow().is_none() {
                    if let Err(e) = held.lock.release().await {
                        tracing::warn!(cluster = %name, error = %e, "cluster Lease not released; it expires on its own");
                    }
                }
                outcome
            });
        }
        let mut report = ApplyReport::default();
        while let Some(r) = set.join_next().await {
            match r {
                Ok(o) => report.clusters.extend(o),
                Err(e) => report.clusters.push(ClusterOutcome::task_failed(&e)),
            }
        }
        report.clusters.sort_by(|a, b| a.name.cmp(&b.name));
        report
    }

    /// Leave the group on shutdown: release the cluster Leases still held and delete the
    /// member Lease, so that the others divide this replica's clusters at once.
    pub async fn leave(&self) {
        let locks: Vec<Arc<LeaseLock>> = self
            .locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        for l in locks {
            let _ = l.release().await;
        }
        if let Err(e) = self.membership.leave().await {
            log(&format!(
                "the member Lease was not removed ({e}); it expires on its own"
            ));
        }
    }
}
