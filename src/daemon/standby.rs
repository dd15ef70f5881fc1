//! Holding the fleet lock from the daemon and from `keelson apply`: wait on standby (or
//! refuse, naming the holder), then keep it while writing, and let go at the end.
//!
//! ```text
//!  daemon:  acquire ──held by X──► standby (status names X, /healthz /status /metrics served) ──► retry
//!              └─acquired──► guard: lock::keep ──lost──► shutdown (an apply stops at its next step)
//!  apply:   hold ──held──► wait up to --lock-wait, then refuse naming X
//!              └─acquired──► Held { lost watch } … release
//! ```

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::driver::log;
use super::lock::{self, Attempt, BackendError, Holder, LockBackend};
use super::status::Phase;
use super::{Shared, Wake};

fn named(holder: Option<&Holder>) -> String {
    holder.map_or_else(|| "holder unknown".to_string(), Holder::to_string)
}

/// How long to wait between two attempts on standby: the renewal period, which keeps a
/// takeover within one period of the lease running out, and at least half a second.
fn poll(backend: &dyn LockBackend) -> Duration {
    backend
        .timing()
        .renew_every
        .clamp(Duration::from_millis(500), Duration::from_secs(5))
}

/// Take the fleet lock, waiting on standby while another process holds it. With `once`,
/// a held lock is an error instead. `Ok(false)`: shutdown came first.
///
/// # Errors
/// The lock file cannot be opened; with `once`, the lock is held or its backend cannot
/// be reached.
pub fn acquire(
    backend: &Arc<dyn LockBackend>,
    once: bool,
    shared: &Shared,
    rx: &Receiver<Wake>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<bool> {
    let me = Holder::me();
    let mut announced = false;
    let mut unreachable = false;
    shared.status().lock = Some(backend.describe());
    loop {
        match rt.block_on(backend.try_acquire(&me)) {
            Ok(Attempt::Acquired) => {
                if announced || unreachable {
                    log(&format!(
                        "took over the fleet lock ({})",
                        backend.describe()
                    ));
                }
                return Ok(true);
            }
            Ok(Attempt::Held(holder)) => {
                if once {
                    anyhow::bail!(
                        "another keelson daemon holds the fleet lock, {} ({}); stop it or wait",
                        backend.describe(),
                        named(holder.as_ref())
                    );
                }
                if !announced {
                    log(&format!(
                        "standby: the fleet lock, {}, is held by {}; taking over when it is released or expires",
                        backend.describe(),
                        named(holder.as_ref())
                    ));
                    announced = true;
                }
                let mut st = shared.status();
                st.phase = Phase::Standby;
                st.ready = false;
                st.lock_holder = holder;
            }
            // A lock file that cannot be opened will not open later either.
            Err(e @ BackendError::File(_)) => return Err(e.into()),
            Err(e) => {
                if once {
                    return Err(anyhow::Error::new(e)
                        .context("cannot take the fleet lock; nothing is applied without it"));
                }
                let msg = format!("standby: cannot take the fleet lock: {e}; retrying");
                if !unreachable {
                    log(&msg);
                    unreachable = true;
                }
                let mut st = shared.status();
                st.phase = Phase::Standby;
                st.ready = false;
                st.last_error = Some(msg);
            }
        }
        match rx.recv_timeout(poll(backend.as_ref())) {
            Ok(Wake::Shutdown) | Err(RecvTimeoutError::Disconnected) => return Ok(false),
            _ => {}
        }
    }
}

/// Keep the fleet lock while the daemon runs. When it is lost (another process holds it,
/// or it could not be renewed before its deadline), stop: shutdown begins (a running
/// apply stops at its next step, the journal records it) and [`Shared::lock_lost`] is
/// set.
pub async fn guard(backend: Arc<dyn LockBackend>, shared: Arc<Shared>) {
    let lost = |why: String| {
        let msg = format!("{why}; this daemon stops writing and exits");
        log(&msg);
        shared.status().last_error = Some(msg);
        shared
            .lock_lost
            .store(true, std::sync::atomic::Ordering::SeqCst);
        shared.shutdown.send_replace(true);
        shared.wake(Wake::Shutdown);
    };
    lock::keep(backend, Holder::me(), lost).await;
}

/// The fleet lock held by `keelson apply`; [`Held::lost`] turns true when it is lost.
pub struct Held {
    backend: Arc<dyn LockBackend>,
    lost: tokio::sync::watch::Receiver<Option<String>>,
    keeper: tokio::task::JoinHandle<()>,
}

impl Held {
    /// Wait until the lock is lost; returns why.
    pub async fn lost(&mut self) -> String {
        match self.lost.wait_for(Option::is_some).await {
            Ok(why) => why.clone().unwrap_or_default(),
            Err(_) => "the fleet lock's keeper stopped".to_string(),
        }
    }

    /// Stop renewing and let go of the lock.
    pub async fn release(self) {
        self.keeper.abort();
        if let Err(e) = self.backend.release().await {
            tracing::warn!(error = %e, "the fleet lock was not released; it expires on its own");
        }
    }
}

/// Take the fleet lock for a CLI apply: at once, or within `wait`; renewed in the
/// background until [`Held::release`].
///
/// # Errors
/// Held by another process past `wait` (naming it), or the backend unreachable: nothing
/// is applied without the lock.
pub async fn hold(backend: Arc<dyn LockBackend>, wait: Duration) -> anyhow::Result<Held> {
    let me = Holder::me();
    let started = Instant::now();
    let mut told = false;
    loop {
        match backend.try_acquire(&me).await.map_err(|e| {
            anyhow::Error::new(e).context("cannot take the fleet lock; not applying without it")
        })? {
            Attempt::Acquired => break,
            Attempt::Held(holder) => {
                if started.elapsed() >= wait {
                    anyhow::bail!(
                        "another keelson process holds the fleet lock, {} ({}); wait for it to finish or stop it{}",
                        backend.describe(),
                        named(holder.as_ref()),
                        if wait.is_zero() { " (--lock-wait DURATION waits for it)" } else { "" }
                    );
                }
                if !told {
                    eprintln!(
                        "waiting for the fleet lock, {}, held by {} (up to {} s)",
                        backend.describe(),
                        named(holder.as_ref()),
                        wait.as_secs()
                    );
                    told = true;
                }
            }
        }
        tokio::time::sleep(poll(backend.as_ref())).await;
    }
    let (tx, rx) = tokio::sync::watch::channel(None);
    let keeper = tokio::spawn(lock::keep(backend.clone(), me, move |why| {
        eprintln!("{why}; stopping the apply");
        let _ = tx.send(Some(why));
    }));
    Ok(Held {
        backend,
        lost: rx,
        keeper,
    })
}
