//! A CLI `keelson apply` beside sharded replicas: it takes the Lease of every cluster it
//! writes to, the same Lease a replica takes before writing to that cluster.
//!
//! ```text
//!  apply --lock kubernetes:NS/GROUP
//!     ──► fleet Lease GROUP (one CLI apply or unsharded daemon at a time)
//!     ──► plan ──► for each cluster with steps: Lease GROUP-cluster-NAME
//!             held by a replica ──► wait up to --lock-wait, then refuse naming it (none kept)
//!     ──► apply, every cluster Lease renewed; one lost ──► the apply stops at its next step
//!     ──► released
//! ```
//!
//! Sharded replicas never hold the fleet Lease (each holds its member Lease and, while
//! writing, the cluster's own Lease), so the fleet Lease alone would let a CLI apply and
//! a replica write to one cluster at once. Taking the cluster Leases as well costs one
//! Lease write per changed cluster when no replica runs, and keeps the rule of the
//! shard group: nothing writes to a cluster without holding its Lease.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::lock::{self, identity, Attempt, Holder, LockBackend};
use crate::adapters::lease::LeaseLock;
use crate::adapters::members::Membership;

/// Cluster Leases held for one CLI apply, renewed until [`ClusterHolds::release`].
pub struct ClusterHolds {
    held: Vec<(Arc<LeaseLock>, tokio::task::JoinHandle<()>)>,
    lost: watch::Receiver<Option<String>>,
    tx: watch::Sender<Option<String>>,
}

impl ClusterHolds {
    /// Resolves when one of the Leases is lost (taken by another holder, or not renewed
    /// in time), with why.
    pub async fn lost(&mut self) -> String {
        match self.lost.wait_for(Option::is_some).await {
            Ok(why) => why.clone().unwrap_or_default(),
            Err(_) => "the cluster Leases' keeper stopped".to_string(),
        }
    }

    /// Stop renewing and let go of every Lease still held.
    pub async fn release(self) {
        for (lock, keeper) in self.held {
            keeper.abort();
            if let Err(e) = lock.release().await {
                tracing::warn!(error = %e, "a cluster Lease was not released; it expires on its own");
            }
        }
        drop(self.tx);
    }
}

/// Take the Lease of each of `clusters` in `membership`'s group as `me`, waiting up to
/// `wait` for one another holder has. All or none: on a refusal the Leases already taken
/// are released.
///
/// # Errors
/// A cluster's Lease still held by another process after `wait` (naming the cluster and
/// the holder), or the API server refusing or not answering.
pub async fn hold_clusters(
    membership: &Membership,
    clusters: &[String],
    me: &Holder,
    wait: Duration,
) -> anyhow::Result<ClusterHolds> {
    let (tx, rx) = watch::channel(None);
    let mut holds = ClusterHolds {
        held: Vec::new(),
        lost: rx,
        tx,
    };
    let started = Instant::now();
    for cluster in clusters {
        let lock = Arc::new(membership.cluster_lock(cluster));
        let mut told = false;
        loop {
            let attempt = match lock.try_acquire(me).await {
                Ok(a) => a,
                Err(e) => {
                    holds.release().await;
                    return Err(anyhow::Error::new(e).context(format!(
                        "cannot take the Lease of cluster {cluster}; not applying without it"
                    )));
                }
            };
            match attempt {
                Attempt::Acquired => break,
                Attempt::Held(holder) => {
                    let who = holder.map_or_else(|| "holder unknown".to_string(), |h| identity(&h));
                    if started.elapsed() >= wait {
                        holds.release().await;
                        anyhow::bail!(
                            "cluster {cluster} is being written by another keelson process ({who} holds its {}); nothing was applied: wait for it to finish{}",
                            lock.describe(),
                            if wait.is_zero() { " (--lock-wait DURATION waits for it)" } else { "" }
                        );
                    }
                    if !told {
                        eprintln!(
                            "waiting for the {} of cluster {cluster}, held by {who} (up to {} s)",
                            lock.describe(),
                            wait.as_secs()
                        );
                        told = true;
                    }
                }
            }
            let pause = lock
                .timing()
                .renew_every
                .clamp(Duration::from_millis(500), Duration::from_secs(5));
            tokio::time::sleep(pause).await;
        }
        let tx = holds.tx.clone();
        let backend: Arc<dyn LockBackend> = lock.clone();
        let keeper = tokio::spawn(lock::keep(backend, me.clone(), move |why| {
            eprintln!("{why}; stopping the apply");
            let _ = tx.send(Some(why));
        }));
        holds.held.push((lock, keeper));
    }
    Ok(holds)
}
