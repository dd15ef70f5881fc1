//! The daemon, `keelson run`: watch the config repository, plan every change, apply per
//! Fleet policy, detect drift on a schedule, and say what it is doing.
//!
//! ```text
//!  source (git2 fetch │ notify watch │ webhook) ──Wake──► loop ──► reconcile::sync
//!     │ revision refused if invalid or unsigned (last good stays)        │
//!     ▼                                                                  ├─ load (full, or one cluster's files)
//!  lock (file │ Lease │ S3; standby) ── journal (in-flight applies) ─────├─ observe (Instrumented) ─► plan()
//!                                                                        ├─ decide per cluster (stage auto/manual,
//!  http: /healthz /readyz /status /metrics /webhook ◄── Shared ◄─────────│   window, suspend) ─► apply ─► re-plan
//!                                                                        └─ status + metrics; big structures dropped
//! ```
//!
//! Pure parts: [`schedule`] (timers, retries, pending work), [`windows`], [`webhook`],
//! [`status`] (decisions, backoff, exit codes), [`notify`] (events, bodies, rate
//! limits), [`metrics`] rendering. [`driver`] is the
//! thin loop around them; everything else does I/O.

use std::sync::{Arc, Mutex, MutexGuard};

pub mod cluster_holds;
pub mod control;
pub mod counting;
pub mod driver;
pub mod http;
pub mod journal;
pub mod lock;
pub mod metrics;
pub mod notify;
pub mod reconcile;
pub mod report;
pub mod schedule;
pub mod shard;
pub mod shards;
pub mod source;
pub mod standby;
pub mod status;
pub mod verify;
pub mod watch;
pub mod webhook;
pub mod windows;

/// Why the loop wakes up (besides its timers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// Files changed in a watched local directory.
    Files(Vec<std::path::PathBuf>),
    /// A signed push webhook arrived.
    Webhook,
    /// SIGTERM or SIGINT.
    Shutdown,
    /// `POST /control/reconcile`: fetch and plan everything now.
    Reconcile,
}

/// State shared between the loop and the HTTP server.
pub struct Shared {
    status: Mutex<status::Status>,
    /// Metrics.
    pub metrics: Arc<metrics::Metrics>,
    /// The loop's wake-up channel.
    pub wake: Mutex<std::sync::mpsc::Sender<Wake>>,
    /// The webhook secret, if the webhook is enabled.
    pub webhook_secret: Option<Vec<u8>>,
    /// Set once shutdown began; a running apply stops at its next await point.
    pub shutdown: tokio::sync::watch::Sender<bool>,
    /// Set when another process took the fleet lock from under this one (its file was
    /// deleted and re-created): the daemon stops writing and exits with an error.
    pub lock_lost: std::sync::atomic::AtomicBool,
    /// The bearer token of the control endpoints; without one they are off.
    pub control_token: Option<String>,
}

impl Shared {
    /// New shared state.
    pub fn new(wake: std::sync::mpsc::Sender<Wake>, webhook_secret: Option<Vec<u8>>) -> Shared {
        Shared {
            status: Mutex::new(status::Status::default()),
            metrics: Arc::new(metrics::Metrics::default()),
            wake: Mutex::new(wake),
            webhook_secret,
            shutdown: tokio::sync::watch::Sender::new(false),
            lock_lost: std::sync::atomic::AtomicBool::new(false),
            control_token: None,
        }
    }

    /// Turn the control endpoints on with this bearer token.
    #[must_use]
    pub fn with_control_token(mut self, token: Option<String>) -> Shared {
        self.control_token = token;
        self
    }

    /// The status, locked.
    pub fn status(&self) -> MutexGuard<'_, status::Status> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Copy the status into fresh allocations made by the calling thread. A sync runs on
    /// its own thread, whose malloc arena it fills with short-lived data; the per-cluster
    /// status it leaves behind would otherwise pin pages of that arena, scattered among
    /// freed memory, for as long as the daemon idles.
    pub fn compact(&self) {
        let mut st = self.status();
        let fresh = st.clone();
        *st = fresh;
    }

    /// Wake the loop.
    pub fn wake(&self, w: Wake) {
        let tx = self.wake.lock().unwrap_or_else(|p| p.into_inner());
        let _ = tx.send(w);
    }

    /// Whether shutdown began.
    pub fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }
}

/// Wall-clock unix seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `2026-11-23T02:00:00Z` for unix seconds.
pub fn rfc3339(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// Limit glibc to two malloc arenas (the loader parses on several threads, and each
/// thread's arena otherwise keeps its own high-water mark for the life of the daemon),
/// and map large buffers on their own.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before the daemon's
    // threads allocate much.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        // A fixed threshold: buffers from 256 KiB up (file contents, the simulator's
        // state) are mapped and unmapped on their own instead of growing an arena.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

/// Give freed memory back to the system (glibc keeps it otherwise), so the idle daemon
/// stays small after a sync of a large fleet.
pub fn trim_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim and mallinfo2 only walk the allocator's own structures.
        let info = unsafe {
            libc::malloc_trim(0);
            libc::mallinfo2()
        };
        tracing::debug!(
            heap_in_use = info.uordblks,
            heap_free = info.fordblks,
            mmapped = info.hblkhd,
            arenas = info.arena,
            "returned free memory"
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_399_200), "2026-11-23T02:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
