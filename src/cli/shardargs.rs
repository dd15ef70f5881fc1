//! `keelson run --shards auto`: from the command line to a joined shard group.
//!
//! ```text
//!  --lock kubernetes:NS/NAME ──► Membership (NAME is the group, Leases in NS) ──► Shards::join
//!      ──► wait one lease duration (replicas started together meet) ──► the loop
//! ```

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;

use anyhow::{bail, Result};

use super::lockargs::LockArgs;
use crate::adapters::members::Membership;
use crate::daemon::driver::log;
use crate::daemon::lock::{identity, Holder, LockSpec, Timing};
use crate::daemon::shards::Shards;
use crate::daemon::status::Phase;
use crate::daemon::{Shared, Wake};

/// Join the shard group the Lease lock `spec` names and wait for the others to be seen.
/// `Ok(None)`: shutdown came first.
///
/// # Errors
/// `--once`, a lock that is not a Lease, or an API server that cannot be reached.
pub fn join(
    lock: &LockArgs,
    spec: &LockSpec,
    once: bool,
    shared: &Arc<Shared>,
    rx: &Receiver<Wake>,
    rt: &tokio::runtime::Runtime,
) -> Result<Option<Arc<Shards>>> {
    if once {
        bail!("--shards auto is for the long-running daemon; --once syncs every cluster under the fleet lock (drop --shards)");
    }
    let LockSpec::Kubernetes { namespace, name } = spec else {
        bail!(
            "--shards auto needs replicas that find each other through Kubernetes Leases: pass --lock kubernetes:NAMESPACE/NAME (the {} cannot hold a shard group)",
            spec.describe()
        );
    };
    let timing = Timing::for_duration(lock.lock_duration, lock.lock_skew);
    let me = identity(&Holder::me());
    let membership = rt.block_on(Membership::connect(namespace.as_deref(), name, &me, timing))?;
    let group = membership.describe();
    let shards = rt.block_on(Shards::join(membership, shared.clone()))?;
    rt.spawn(shards.clone().keep());
    {
        let mut st = shared.status();
        st.lock = Some(group.clone());
        st.phase = Phase::Starting;
    }
    log(&format!(
        "joined the {group} as {me}; waiting {} s for the other replicas before dividing the clusters",
        shards.settle().as_secs()
    ));
    match rx.recv_timeout(shards.settle()) {
        Ok(Wake::Shutdown) | Err(RecvTimeoutError::Disconnected) => {
            rt.block_on(shards.leave());
            return Ok(None);
        }
        _ => {}
    }
    Ok(Some(shards))
}
