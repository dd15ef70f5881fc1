//! The embedded simulator: a stateful, file-backed model of an AWS account running EKS,
//! on virtual time.
//!
//! ```text
//!  EksApi / KubeApi calls ──► Sim (Arc<Mutex<SimState>>) ──tick(now)──► statuses move on
//!                               │                                        (CREATING→ACTIVE, updates finish)
//!                               └──save (atomic rename, throttled)──► .keelson/sim.json
//!  Sim::open ──flock .keelson/sim.json.lock (held until the Sim is dropped)──► read ─► … ─► save
//!  Clock::sleep(d) ──► virtual now += d (instantly, or d/speed of real time)
//! ```
//!
//! Semantics follow EKS: creates and updates take realistic (virtual) time; one minor per
//! UpdateClusterVersion and no downgrade; ResourceInUse while an update runs; add-on
//! versions compatible per cluster version; node groups never ahead of the control plane
//! and at most three minors behind; one Fargate profile creating or deleting at a time;
//! clientRequestToken makes creates idempotent. The state survives restarts: an update
//! running when the process died is still running (or finished) when it comes back.
//!
//! One process at a time works on a state file: [`Sim::open`] locks `FILE.lock` before it
//! reads and holds it until the last write, so two runs that share a state file (with
//! different fleet locks, say two repositories on one simulated account) take turns, and
//! the second reads what the first wrote instead of overwriting it. The lock sits beside
//! the state because each save replaces the state file by a rename: a lock on the state
//! file itself would be on the old file after the first save.

pub mod catalog;
mod eks;
mod kube;
mod state_file;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::adapters::lockfile::{self, FileLock, Holder};
use crate::model::live::*;
use crate::ports::{
    AddonRequest, Clock, ClusterConfigUpdate, NodeGroupConfigUpdate, NodeGroupVersionUpdate,
};

/// The `format` field of a state file.
pub(crate) const STATE_FORMAT: &str = "keelson-sim";
/// The state file version this build reads and writes.
pub(crate) const STATE_VERSION: u32 = 1;

/// Virtual durations of EKS operations, in seconds.
pub(crate) mod durations {
    /// CreateCluster.
    pub(crate) const CLUSTER_CREATE: i64 = 12 * 60;
    /// DeleteCluster.
    pub(crate) const CLUSTER_DELETE: i64 = 8 * 60;
    /// UpdateClusterVersion.
    pub(crate) const CLUSTER_VERSION: i64 = 10 * 60;
    /// UpdateClusterConfig.
    pub(crate) const CLUSTER_CONFIG: i64 = 3 * 60;
    /// CreateAddon.
    pub(crate) const ADDON_CREATE: i64 = 90;
    /// UpdateAddon.
    pub(crate) const ADDON_UPDATE: i64 = 2 * 60;
    /// DeleteAddon.
    pub(crate) const ADDON_DELETE: i64 = 60;
    /// CreateNodegroup, plus per node.
    pub(crate) const NODEGROUP_CREATE: i64 = 3 * 60;
    /// Per node, for creates and rolling version updates.
    pub(crate) const PER_NODE: i64 = 45;
    /// UpdateNodegroupConfig.
    pub(crate) const NODEGROUP_CONFIG: i64 = 60;
    /// DeleteNodegroup.
    pub(crate) const NODEGROUP_DELETE: i64 = 3 * 60;
    /// Fargate profile create or delete.
    pub const FARGATE: i64 = 2 * 60;
}

/// What a running update changes when it finishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum PendingChange {
    /// Control-plane version.
    Version {
        /// Target minor.
        version: String,
    },
    /// Cluster configuration.
    Config {
        /// The change.
        change: ClusterConfigUpdate,
    },
    /// Add-on update.
    Addon {
        /// The request.
        request: AddonRequest,
    },
    /// Node group configuration.
    NodeGroupConfig {
        /// The request.
        request: NodeGroupConfigUpdate,
    },
    /// Node group version.
    NodeGroupVersion {
        /// The request.
        request: NodeGroupVersionUpdate,
    },
}

/// An update with the time it finishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimUpdate {
    /// As DescribeUpdate reports it.
    pub update: Update,
    /// Node group it belongs to, if any.
    #[serde(default)]
    pub nodegroup: Option<String>,
    /// Add-on it belongs to, if any.
    #[serde(default)]
    pub addon: Option<String>,
    /// Virtual time it finishes.
    pub done_at: i64,
    /// What it changes.
    pub change: PendingChange,
}

/// A resource with a pending CREATING/DELETING transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timed<T> {
    /// The resource.
    pub live: T,
    /// When the current CREATING or DELETING status ends.
    #[serde(default)]
    pub ready_at: Option<i64>,
}

/// One simulated cluster and everything in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimCluster {
    /// The cluster.
    pub live: LiveCluster,
    /// When CREATING or DELETING ends.
    #[serde(default)]
    pub ready_at: Option<i64>,
    /// Every update, finished or not.
    #[serde(default)]
    pub updates: Vec<SimUpdate>,
    /// Add-ons.
    #[serde(default)]
    pub addons: BTreeMap<String, Timed<LiveAddon>>,
    /// Node groups.
    #[serde(default)]
    pub node_groups: BTreeMap<String, Timed<LiveNodeGroup>>,
    /// Fargate profiles.
    #[serde(default)]
    pub fargate_profiles: BTreeMap<String, Timed<LiveFargateProfile>>,
    /// Access entries by principal.
    #[serde(default)]
    pub access_entries: BTreeMap<String, LiveAccessEntry>,
    /// Pod Identity associations by id.
    #[serde(default)]
    pub pod_identities: BTreeMap<String, LivePodIdentity>,
    /// Kubernetes objects by `Kind/name`.
    #[serde(default)]
    pub kube: BTreeMap<String, serde_json::Value>,
    /// Upgrade insights EKS reports for the cluster.
    #[serde(default)]
    pub insights: Vec<Insight>,
    /// What broke when the control plane stopped serving an API (Helm releases and
    /// objects last written with it), one line each, as a rehearsal reports it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub broken: Vec<String>,
    /// Its version history as EKS keeps it for rollback, the settling after an upgrade,
    /// and the insights refresh.
    #[serde(default, skip_serializing_if = "SimHistory::is_empty")]
    pub history: SimHistory,
}

/// What EKS remembers of a cluster's versions (for rollback and the 409 right after an
/// upgrade) and of its insights refresh.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimHistory {
    /// The last in-place upgrade: `(from, to, completed at)`; a rollback clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgraded: Option<(String, String, i64)>,
    /// Until when the control plane is still being replaced after turning ACTIVE: another
    /// UpdateClusterVersion meets a 409 (aws/containers-roadmap#2677).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settling_until: Option<i64>,
    /// Until when an Auto Mode rollback is in its node phase (the only time CancelUpdate
    /// is accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_phase_until: Option<i64>,
    /// The last insights refresh: `(started, ends)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<(i64, i64)>,
}

impl SimHistory {
    fn is_empty(&self) -> bool {
        *self == SimHistory::default()
    }
}

/// The whole simulated account, as saved to the state file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimState {
    /// Always `keelson-sim`.
    pub format: String,
    /// State file version.
    pub version: u32,
    /// Virtual time, seconds since the Unix epoch.
    pub now: i64,
    /// The default account id.
    pub account: String,
    /// Counter for ids.
    pub next_id: u64,
    /// Clusters by name.
    pub clusters: BTreeMap<String, SimCluster>,
    /// clientRequestToken → what it created, for idempotent retries.
    #[serde(default)]
    pub tokens: BTreeMap<String, String>,
    /// Accepted write calls per cluster and operation (`UpdateClusterVersion`,
    /// `TagResource`, `kube:apply`, …): the record that tells whether anything was
    /// applied twice, whichever process made the call.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub writes: BTreeMap<String, BTreeMap<String, u64>>,
}

impl SimState {
    /// An empty account whose virtual clock starts at `now`.
    pub fn new(now: i64) -> SimState {
        SimState {
            format: STATE_FORMAT.to_string(),
            version: STATE_VERSION,
            now,
            account: "111122223333".to_string(),
            next_id: 1,
            clusters: BTreeMap::new(),
            tokens: BTreeMap::new(),
            writes: BTreeMap::new(),
        }
    }

    fn id(&mut self) -> String {
        self.next_id += 1;
        format!(
            "{:08x}-{:04x}",
            self.next_id.wrapping_mul(2_654_435_761) & 0xffff_ffff,
            self.next_id & 0xffff
        )
    }
}

/// How fast virtual time runs while something waits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// Waiting takes no real time.
    Instant,
    /// Virtual seconds per real second.
    Factor(f64),
}

/// Why the simulator state could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The file could not be read.
    #[error("cannot read simulator state {path}")]
    Read {
        /// Path.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid JSON or not shaped like a state file.
    #[error("simulator state {path} is corrupt at line {line}, column {column}: {message}; fix or remove it (keelson never replaces it)")]
    Corrupt {
        /// Path.
        path: String,
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// Parser message.
        message: String,
    },
    /// The file is JSON but not a keelson simulator state.
    #[error("{path} is not a keelson simulator state file (format {found:?}, version {version}); point --state elsewhere")]
    Foreign {
        /// Path.
        path: String,
        /// The `format` found.
        found: String,
        /// The `version` found.
        version: u64,
    },
    /// The path is not a regular file (a device, a FIFO, a directory).
    #[error("{path} is not a regular file; --state takes a simulator state file")]
    NotAFile {
        /// Path.
        path: String,
    },
    /// The file is larger than any simulator state keelson writes.
    #[error("{path} is {size} bytes, more than the {limit} bytes a simulator state may have")]
    TooLarge {
        /// Path.
        path: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The state's clock is outside the years 1970-9999.
    #[error("{path}: the simulator clock `now` is {now}, outside the years 1970 to 9999 (unix seconds 0 to {MAX_NOW}); the file is damaged")]
    BadClock {
        /// Path.
        path: String,
        /// The `now` found.
        now: i64,
    },
    /// Another process held the state's lock for longer than keelson waits.
    #[error("simulator state {path} is in use by {holder} (lock {lock}); waited {waited_secs} s; run again when it finishes")]
    Busy {
        /// Path.
        path: String,
        /// The lock file.
        lock: String,
        /// Who holds it, as the lock file says.
        holder: String,
        /// How long keelson waited.
        waited_secs: u64,
    },
    /// The lock file was deleted while held and the state may have been written since.
    #[error("the lock of simulator state {path} ({lock}) was deleted while this process held it, and the state may have been written since; not overwriting it: run again")]
    LockLost {
        /// Path.
        path: String,
        /// The lock file.
        lock: String,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot lock simulator state {path}")]
    Lock {
        /// Path.
        path: String,
        /// Cause.
        #[source]
        source: crate::adapters::lockfile::LockError,
    },
    /// The file could not be written.
    #[error("cannot write simulator state {path}")]
    Write {
        /// Path.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// The largest state file read (a 1,000-cluster fleet's is about 8 MB).
pub const MAX_STATE_BYTES: u64 = 1 << 30;

/// The latest clock a state may hold: 9999-12-31T23:59:59Z.
pub const MAX_NOW: i64 = 253_402_300_799;

/// The longest real wait behind one simulated wait.
const MAX_REAL_SLEEP: std::time::Duration = std::time::Duration::from_secs(3600);

/// How long [`Sim::open`] waits for another process to let go of a state file.
pub const STATE_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

struct Inner {
    state: SimState,
    path: Option<PathBuf>,
    /// The state file's lock, held from reading to the last save (fields drop after
    /// `Inner::drop` has saved).
    _lock: Option<FileLock>,
    dirty: bool,
    last_save: Option<Instant>,
    calls: BTreeMap<String, u64>,
}

/// The simulator. Cheap to clone; clones share one state.
#[derive(Clone)]
pub struct Sim {
    inner: Arc<Mutex<Inner>>,
    speed: Speed,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim").field("speed", &self.speed).finish()
    }
}

impl Sim {
    /// A simulator held in memory only.
    pub fn in_memory(state: SimState, speed: Speed) -> Sim {
        Sim {
            inner: Arc::new(Mutex::new(Inner {
                state,
                path: None,
                _lock: None,
                dirty: false,
                last_save: None,
                calls: BTreeMap::new(),
            })),
            speed,
        }
    }

    /// Open the state file at `path`, or start an empty account (virtual time `now`) if
    /// there is none yet. A file that exists but cannot be read as a state file is an
    /// error; it is never replaced. The state is locked until the `Sim` (every clone) is
    /// dropped; another process holding it is waited for, up to [`STATE_LOCK_WAIT`].
    ///
    /// # Errors
    /// [`SimError`] when the file is unreadable, corrupt or foreign, or another process
    /// keeps it locked.
    pub fn open(path: &Path, now: i64, speed: Speed) -> Result<Sim, SimError> {
        Sim::open_waiting(path, now, speed, STATE_LOCK_WAIT)
    }

    /// [`Sim::open`], waiting at most `wait` for the state's lock.
    ///
    /// # Errors
    /// As [`Sim::open`].
    pub fn open_waiting(
        path: &Path,
        now: i64,
        speed: Speed,
        wait: std::time::Duration,
    ) -> Result<Sim, SimError> {
        let shown = path.display().to_string();
        let read_err = |source| SimError::Read {
            path: shown.clone(),
            source,
        };
        // A device or a FIFO would be read forever, or block, and gets no lock file
        // beside it: refuse before anything else.
        if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            return Err(SimError::NotAFile { path: shown });
        }
        let lock = lock_state(path, wait)?;
        let mut state = match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => SimState::new(now),
            Err(source) => return Err(read_err(source)),
            // A device or a FIFO would be read forever, or block: refuse before reading.
            Ok(m) if !m.is_file() => return Err(SimError::NotAFile { path: shown }),
            Ok(m) if m.len() > MAX_STATE_BYTES => {
                return Err(SimError::TooLarge {
                    path: shown,
                    size: m.len(),
                    limit: MAX_STATE_BYTES,
                })
            }
            Ok(_) => state_file::parse_state(&shown, &std::fs::read(path).map_err(read_err)?)?,
        };
        if !(0..=MAX_NOW).contains(&state.now) {
            return Err(SimError::BadClock {
                path: shown,
                now: state.now,
            });
        }
        let now = state.now;
        tick(&mut state, now);
        let sim = Sim::in_memory(state, speed);
        {
            let mut g = sim.lock();
            g.path = Some(path.to_path_buf());
            g._lock = lock;
        }
        Ok(sim)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data behind (every mutation
        // is a complete assignment), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy of the current state.
    pub fn snapshot(&self) -> SimState {
        self.lock().state.clone()
    }

    /// Replace the whole state (tests, `snapshot` replay).
    pub fn replace(&self, state: SimState) {
        let mut g = self.lock();
        g.state = state;
        g.dirty = true;
    }

    /// Run `f` on the state after moving time-driven transitions forward; count the
    /// call; save when `f` reports a change.
    pub(crate) fn with<T>(&self, op: &str, write: bool, f: impl FnOnce(&mut SimState) -> T) -> T {
        let mut g = self.lock();
        *g.calls.entry(op.to_string()).or_default() += 1;
        // Virtual time only moves in `advance_to`, which applies what finished; a call
        // needs no tick of its own.
        let out = f(&mut g.state);
        if write {
            g.dirty = true;
        }
        if g.dirty {
            maybe_save(&mut g, false);
        }
        out
    }

    /// A write call `op` to `cluster`: [`Sim::with`], and when it is accepted, one more
    /// in the state's count of writes to that cluster.
    pub(crate) fn write<T>(
        &self,
        op: &str,
        cluster: &str,
        f: impl FnOnce(&mut SimState) -> crate::ports::ApiResult<T>,
    ) -> crate::ports::ApiResult<T> {
        self.with(op, true, |s| {
            let out = f(s);
            if out.is_ok() {
                *s.writes
                    .entry(cluster.to_string())
                    .or_default()
                    .entry(op.to_string())
                    .or_default() += 1;
            }
            out
        })
    }

    /// Calls made so far, by operation name.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.lock().calls.clone()
    }

    /// Write the state file now if anything changed since the last write.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn flush(&self) -> Result<(), SimError> {
        let mut g = self.lock();
        if !g.dirty {
            return Ok(());
        }
        save(&mut g)
    }

    /// Move virtual time forward to `t` (never backwards) and apply what finished.
    pub fn advance_to(&self, t: i64) {
        let mut g = self.lock();
        if t > g.state.now {
            g.state.now = t;
        }
        let now = g.state.now;
        tick(&mut g.state, now);
        g.dirty = true;
        maybe_save(&mut g, false);
    }
}

/// Take the lock beside the state file `path`, waiting up to `wait` for another process.
/// `None` when no lock file can be made because the directory is read-only or not
/// ours: nothing can be saved there either, so there is no write to lose.
fn lock_state(path: &Path, wait: std::time::Duration) -> Result<Option<FileLock>, SimError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let me = Holder::me();
    let started = Instant::now();
    let mut told = false;
    loop {
        match lockfile::try_acquire(&lock_path, &me) {
            Ok(Some(l)) => return Ok(Some(l)),
            Ok(None) => {}
            Err(e)
                if matches!(
                    e.source.kind(),
                    std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
                ) =>
            {
                tracing::debug!(lock = %lock_path.display(), error = %e.source, "simulator state not locked: read-only");
                return Ok(None);
            }
            Err(source) => {
                return Err(SimError::Lock {
                    path: path.display().to_string(),
                    source,
                })
            }
        }
        let holder = lockfile::read_holder(&lock_path)
            .map_or_else(|| "another process".to_string(), |h| h.to_string());
        if started.elapsed() >= wait {
            return Err(SimError::Busy {
                path: path.display().to_string(),
                lock: lock_path.display().to_string(),
                holder,
                waited_secs: started.elapsed().as_secs(),
            });
        }
        if !told {
            tracing::warn!(state = %path.display(), %holder, "simulator state in use; waiting for it");
            told = true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Saves are throttled: at most one write per this many milliseconds while busy; the
/// rest is written by `flush` (every command flushes before it exits).
const SAVE_INTERVAL_MS: u128 = 250;

fn maybe_save(g: &mut Inner, force: bool) {
    let due = force
        || g.last_save
            .is_none_or(|t| t.elapsed().as_millis() >= SAVE_INTERVAL_MS);
    if due {
        if let Err(e) = save(g) {
            tracing::warn!(error = %e, "simulator state not saved");
        }
    }
}

fn save(g: &mut Inner) -> Result<(), SimError> {
    let Some(path) = g.path.clone() else {
        g.dirty = false;
        return Ok(());
    };
    let shown = path.display().to_string();
    keep_lock(g, &shown)?;
    let write_err = |source| SimError::Write {
        path: shown.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(write_err)?;
        }
    }
    let bytes = serde_json::to_vec(&g.state).map_err(|e| write_err(std::io::Error::other(e)))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes).map_err(write_err)?;
    std::fs::rename(&tmp, &path).map_err(write_err)?;
    g.dirty = false;
    g.last_save = Some(Instant::now());
    Ok(())
}

/// Before a write: the lock file may have been deleted (say, with `.keelson/` to start
/// over) while held, which lets another process lock a new one and write. This process
/// takes the new lock and writes only when the state file is gone too (the account was
/// started over, nobody wrote since); otherwise it writes nothing, so that there are never
/// two writers and a newer state is never overwritten by an older one.
fn keep_lock(g: &mut Inner, shown: &str) -> Result<(), SimError> {
    let (Some(lock), Some(path)) = (g._lock.as_ref().filter(|l| !l.is_current()), &g.path) else {
        return Ok(());
    };
    let lock_path = lock.path().to_path_buf();
    let holder = || {
        lockfile::read_holder(&lock_path)
            .map_or_else(|| "another process".to_string(), |h| h.to_string())
    };
    match lockfile::try_acquire(&lock_path, &Holder::me()) {
        Ok(Some(l)) if !path.exists() => {
            g._lock = Some(l);
            Ok(())
        }
        Ok(Some(_)) => Err(SimError::LockLost {
            path: shown.to_string(),
            lock: lock_path.display().to_string(),
        }),
        Ok(None) => Err(SimError::Busy {
            path: shown.to_string(),
            lock: lock_path.display().to_string(),
            holder: holder(),
            waited_secs: 0,
        }),
        Err(source) => Err(SimError::Lock {
            path: shown.to_string(),
            source,
        }),
    }
}

/// Apply every transition due by `now`. Returns whether anything changed.
fn tick(state: &mut SimState, now: i64) -> bool {
    let mut changed = false;
    let mut gone = Vec::new();
    for (name, c) in state.clusters.iter_mut() {
        if let Some(t) = c.ready_at {
            if t <= now {
                match c.live.status {
                    Status::Creating => c.live.status = Status::Active,
                    Status::Deleting => gone.push(name.clone()),
                    _ => {}
                }
                c.ready_at = None;
                changed = true;
            }
        }
        changed |= eks::finish_updates(c, now);
        changed |= tick_timed(&mut c.addons, now, |a| &mut a.status);
        changed |= tick_timed(&mut c.node_groups, now, |n| &mut n.status);
        changed |= tick_timed(&mut c.fargate_profiles, now, |f| &mut f.status);
    }
    for name in gone {
        state.clusters.remove(&name);
    }
    changed
}

fn tick_timed<T>(
    map: &mut BTreeMap<String, Timed<T>>,
    now: i64,
    status: impl Fn(&mut T) -> &mut Status,
) -> bool {
    let mut changed = false;
    let mut gone = Vec::new();
    for (name, t) in map.iter_mut() {
        if let Some(at) = t.ready_at {
            if at <= now {
                let s = status(&mut t.live);
                match *s {
                    Status::Creating | Status::Updating => *s = Status::Active,
                    Status::Deleting => gone.push(name.clone()),
                    _ => {}
                }
                t.ready_at = None;
                changed = true;
            }
        }
    }
    for name in gone {
        map.remove(&name);
    }
    changed
}

#[async_trait]
impl Clock for Sim {
    fn now(&self) -> i64 {
        self.lock().state.now
    }

    async fn sleep(&self, secs: u64) {
        let target = self
            .now()
            .saturating_add(i64::try_from(secs).unwrap_or(i64::MAX));
        if let Speed::Factor(f) = self.speed {
            // At most an hour of real time per wait, whatever the factor.
            let real = std::time::Duration::try_from_secs_f64(secs as f64 / f)
                .unwrap_or(MAX_REAL_SLEEP)
                .min(MAX_REAL_SLEEP);
            tokio::time::sleep(real).await;
        }
        self.advance_to(target);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.dirty {
            let _ = save(self);
        }
    }
}

/// A simulator state holding observed live state, so that a real cluster can be
/// replayed (and an upgrade rehearsed) on the simulator: `keelson snapshot` writes it.
pub(crate) fn state_from_live(live: &LiveState, now: i64) -> SimState {
    let mut state = SimState::new(now);
    for (name, o) in &live.clusters {
        let cluster = SimCluster {
            live: o.cluster.clone(),
            ready_at: None,
            updates: Vec::new(),
            addons: o
                .addons
                .iter()
                .map(|(k, a)| {
                    (
                        k.clone(),
                        Timed {
                            live: a.clone(),
                            ready_at: None,
                        },
                    )
                })
                .collect(),
            node_groups: o
                .node_groups
                .iter()
                .map(|(k, n)| {
                    (
                        k.clone(),
                        Timed {
                            live: n.clone(),
                            ready_at: None,
                        },
                    )
                })
                .collect(),
            fargate_profiles: o
                .fargate_profiles
                .iter()
                .map(|(k, f)| {
                    (
                        k.clone(),
                        Timed {
                            live: f.clone(),
                            ready_at: None,
                        },
                    )
                })
                .collect(),
            access_entries: o.access_entries.clone(),
            pod_identities: o
                .pod_identities
                .values()
                .map(|p| (p.association_id.clone(), p.clone()))
                .collect(),
            kube: o.kube_objects.clone(),
            insights: o
                .upgrade
                .as_ref()
                .map(|u| u.insights.clone())
                .unwrap_or_default(),
            broken: Vec::new(),
            history: SimHistory::default(),
        };
        if let Some(account) = o.cluster.arn.split(':').nth(4).filter(|a| !a.is_empty()) {
            state.account = account.to_string();
        }
        state.clusters.insert(name.clone(), cluster);
    }
    state
}
