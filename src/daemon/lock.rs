//! The fleet lock: only one writer per fleet at a time, whatever runs it (a daemon, a
//! replica of it in a Deployment, `keelson apply` on a laptop or a CI runner).
//!
//! ```text
//!  --lock file:PATH        flock on a local file (the default; one machine or one volume)
//!  --lock kubernetes:NS/N  a coordination.k8s.io/v1 Lease (replicas in a cluster)
//!  --lock s3://BUCKET/KEY  an S3 object made with If-None-Match: * (CI runners)
//!
//!  try_acquire ──Acquired──► keep(): renew every `renew_every` ──ok──► …
//!       │                            └─ no successful renew for `renew_deadline` ──► lost:
//!       └──Held(holder)──► standby / refuse naming the holder     stop writing, say so
//!  shutdown ──► release (the next holder need not wait for the lease to run out)
//! ```
//!
//! Leases and S3 objects are not released by the kernel when their holder dies, so they
//! expire: a contender takes one over once it has seen the same record (Lease
//! `resourceVersion`, S3 ETag) unchanged for the lease duration on its own monotonic clock
//! (client-go's leader election does the same: no two clocks are compared), or once the
//! record's renew time is older than duration + skew tolerance on the wall clock (what a
//! one-shot `apply` can judge without waiting). The holder stops writing when it has not
//! renewed for `renew_deadline` (two thirds of the duration), before anyone may take over;
//! every renewal is a conditional write on the version it read, so a holder that lost the
//! lock learns it at its next renewal instead of overwriting the new holder.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

pub use crate::adapters::lockfile::{read_holder, try_acquire, Holder, LockError};

/// The fleet lock file while held; released when dropped (or when the process dies).
pub type FleetLock = crate::adapters::lockfile::FileLock;

/// What the Fleet's `spec.policy.lock` accepts (a stricter [`LockSpec::parse`]: a file is
/// written `file:PATH`). Lease names: Kubernetes object names (RFC 1123 subdomain), in a
/// namespace (RFC 1123 label); buckets: the S3 bucket naming rules (3 to 63 characters).
pub const LOCK_PATTERN: &str = r"^(file:.+|kubernetes(:([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?)?|s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.+)?)$";

/// Default name of the Lease or the S3 object's key, when the lock names none.
pub const DEFAULT_NAME: &str = "keelson-fleet";

/// Where the fleet lock lives (`--lock`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockSpec {
    /// An advisory file lock.
    File(PathBuf),
    /// A Lease; `namespace` `None`: the client's default (the pod's own namespace).
    Kubernetes {
        /// Namespace of the Lease.
        namespace: Option<String>,
        /// Name of the Lease.
        name: String,
    },
    /// An S3 object.
    S3 {
        /// Bucket.
        bucket: String,
        /// Object key.
        key: String,
    },
}

impl LockSpec {
    /// Parse `file:PATH`, `kubernetes[:[NAMESPACE/]NAME]` or `s3://BUCKET/KEY`; a bare
    /// path is a file.
    ///
    /// # Errors
    /// A message saying what to write instead.
    pub fn parse(s: &str) -> Result<LockSpec, String> {
        if let Some(rest) = s.strip_prefix("s3://") {
            return match rest.split_once('/') {
                Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Ok(LockSpec::S3 {
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                }),
                Some((bucket, "")) if !bucket.is_empty() => Ok(LockSpec::S3 {
                    bucket: bucket.to_string(),
                    key: format!("{DEFAULT_NAME}.lock"),
                }),
                None if !rest.is_empty() => Ok(LockSpec::S3 {
                    bucket: rest.to_string(),
                    key: format!("{DEFAULT_NAME}.lock"),
                }),
                _ => Err(format!(
                    "`{s}` names no bucket; write s3://BUCKET/KEY, e.g. s3://my-bucket/fleets/prod.lock"
                )),
            };
        }
        if let Some(rest) = s
            .strip_prefix("kubernetes")
            .filter(|r| r.is_empty() || r.starts_with(':'))
        {
            let rest = rest.trim_start_matches(':');
            let (namespace, name) = match rest.split_once('/') {
                Some((ns, name)) => (Some(ns.to_string()), name.to_string()),
                None => (None, rest.to_string()),
            };
            let name = if name.is_empty() {
                DEFAULT_NAME.to_string()
            } else {
                name
            };
            let dns = |v: &str| {
                !v.is_empty()
                    && v.len() <= 253
                    && v.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                    })
                    && !v.starts_with(['-', '.'])
                    && !v.ends_with(['-', '.'])
            };
            if !dns(&name)
                || namespace
                    .as_deref()
                    .is_some_and(|n| !dns(n) || n.contains('.'))
            {
                return Err(format!(
                    "`{s}` is not a Lease: write kubernetes:NAMESPACE/NAME with lowercase letters, digits and `-` (e.g. kubernetes:keelson/keelson-fleet)"
                ));
            }
            return Ok(LockSpec::Kubernetes { namespace, name });
        }
        let path = s.strip_prefix("file:").unwrap_or(s);
        if path.is_empty() || path.contains("://") {
            return Err(format!(
                "`{s}` is not a lock: write a file path (file:PATH), kubernetes:NAMESPACE/NAME or s3://BUCKET/KEY"
            ));
        }
        Ok(LockSpec::File(PathBuf::from(path)))
    }

    /// How the lock is shown in messages.
    pub fn describe(&self) -> String {
        match self {
            LockSpec::File(p) => format!("lock file {}", p.display()),
            LockSpec::Kubernetes { namespace, name } => match namespace {
                Some(ns) => format!("Lease {ns}/{name}"),
                None => format!("Lease {name}"),
            },
            LockSpec::S3 { bucket, key } => format!("S3 object s3://{bucket}/{key}"),
        }
    }
}

/// How often a held lock is renewed and how long it lasts without renewal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// A record unchanged for this long is free to take (Lease `leaseDurationSeconds`).
    pub duration: Duration,
    /// The holder renews this often.
    pub renew_every: Duration,
    /// The holder stops writing when it has not renewed for this long.
    pub renew_deadline: Duration,
    /// Extra time granted on the wall clock, for clocks that disagree.
    pub skew: Duration,
}

impl Timing {
    /// Renewal at a fifth of `duration`, the holder giving up at two thirds of it (as
    /// client-go's 15 s / 10 s / 2 s).
    pub fn for_duration(duration: Duration, skew: Duration) -> Timing {
        let duration = duration.max(Duration::from_secs(3));
        Timing {
            duration,
            renew_every: (duration / 5).max(Duration::from_millis(500)),
            renew_deadline: duration * 2 / 3,
            skew,
        }
    }
}

/// The result of one attempt to take the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// This process holds it now.
    Acquired,
    /// Someone else does (as far as the record says who).
    Held(Option<Holder>),
}

/// Why the lock backend could not be reached or used.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The lock file.
    #[error(transparent)]
    File(#[from] LockError),
    /// The Kubernetes API refused or did not answer.
    #[error("{lock}: {message}")]
    Kubernetes {
        /// Which Lease.
        lock: String,
        /// What went wrong and what to do.
        message: String,
    },
    /// S3 refused or did not answer.
    #[error("{lock}: {message}")]
    S3 {
        /// Which object.
        lock: String,
        /// What went wrong and what to do.
        message: String,
    },
}

/// A place that holds the fleet lock.
#[async_trait]
pub trait LockBackend: Send + Sync {
    /// The lock, for messages (`Lease keelson/keelson-fleet`).
    fn describe(&self) -> String;
    /// Its timing.
    fn timing(&self) -> Timing;
    /// Try once to take the lock for `me`.
    ///
    /// # Errors
    /// The backend cannot be reached: the caller must not write.
    async fn try_acquire(&self, me: &Holder) -> Result<Attempt, BackendError>;
    /// Renew the held lock. `Ok(false)`: another process holds it now.
    ///
    /// # Errors
    /// The backend cannot be reached (the lock may still be ours until it expires).
    async fn renew(&self, me: &Holder) -> Result<bool, BackendError>;
    /// Let go of the lock, so the next holder need not wait for it to expire.
    ///
    /// # Errors
    /// The backend cannot be reached (the lock then expires on its own).
    async fn release(&self) -> Result<(), BackendError>;
}

/// The file backend: today's flock, kept current like the daemon always did.
pub struct FileBackend {
    path: PathBuf,
    held: Mutex<Option<FleetLock>>,
}

impl FileBackend {
    /// A file lock at `path`.
    pub fn new(path: &Path) -> FileBackend {
        FileBackend {
            path: path.to_path_buf(),
            held: Mutex::new(None),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Option<FleetLock>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl LockBackend for FileBackend {
    fn describe(&self) -> String {
        format!("lock file {}", self.path.display())
    }

    fn timing(&self) -> Timing {
        // The kernel releases a dead holder's flock: nothing expires, and a lock file
        // replaced under the holder is lost at once.
        Timing {
            duration: Duration::ZERO,
            renew_every: Duration::from_secs(1),
            renew_deadline: Duration::ZERO,
            skew: Duration::ZERO,
        }
    }

    async fn try_acquire(&self, me: &Holder) -> Result<Attempt, BackendError> {
        match try_acquire(&self.path, me)? {
            Some(l) => {
                *self.held() = Some(l);
                Ok(Attempt::Acquired)
            }
            None => Ok(Attempt::Held(read_holder(&self.path))),
        }
    }

    async fn renew(&self, me: &Holder) -> Result<bool, BackendError> {
        let mut held = self.held();
        if held.as_ref().is_some_and(FleetLock::is_current) {
            return Ok(true);
        }
        // Deleted while held: take the new file when nobody else has.
        match try_acquire(&self.path, me)? {
            Some(fresh) => {
                crate::daemon::driver::log(&format!(
                    "the fleet lock file {} was removed; it is held again",
                    self.path.display()
                ));
                *held = Some(fresh);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn release(&self) -> Result<(), BackendError> {
        self.held().take();
        Ok(())
    }
}

/// The backend for `spec`. `file` needs nothing; `kubernetes` builds a client from the
/// in-cluster service account or `KUBECONFIG`; `s3` loads AWS credentials.
///
/// # Errors
/// The client cannot be configured.
pub async fn open(spec: &LockSpec, timing: Timing) -> Result<Arc<dyn LockBackend>, BackendError> {
    Ok(match spec {
        LockSpec::File(p) => Arc::new(FileBackend::new(p)),
        LockSpec::Kubernetes { namespace, name } => Arc::new(
            crate::adapters::lease::LeaseLock::connect(namespace.as_deref(), name, timing).await?,
        ),
        LockSpec::S3 { bucket, key } => {
            Arc::new(crate::adapters::s3lock::S3Lock::connect(bucket, key, timing).await?)
        }
    })
}

/// Whom a Lease's `holderIdentity` (or an S3 lock's) names: `HOST/PID` as keelson writes
/// it, or someone else's identity as it is.
pub fn holder_from_identity(identity: &str, since: i64) -> Holder {
    match identity.rsplit_once('/') {
        Some((host, pid)) if pid.parse::<u32>().is_ok() => Holder {
            pid: pid.parse().unwrap_or(0),
            host: host.to_string(),
            since,
        },
        _ => Holder {
            pid: 0,
            host: identity.to_string(),
            since,
        },
    }
}

/// The identity keelson writes for `me`.
pub fn identity(me: &Holder) -> String {
    format!("{}/{}", me.host, me.pid)
}

/// What a contender has seen of someone else's lock record: the version, and when (on
/// its own monotonic clock) it first saw it.
#[derive(Debug, Clone, Default)]
pub struct Observer {
    seen: Option<(String, Instant)>,
}

impl Observer {
    /// Whether the record at `version`, last renewed at `renewed` (wall clock, unix
    /// seconds, if it says), is stale at `now` / `wall_now`: seen unchanged for the
    /// duration, or renewed longer ago than duration + skew.
    pub fn stale(
        &mut self,
        version: &str,
        renewed: Option<i64>,
        timing: Timing,
        now: Instant,
        wall_now: i64,
    ) -> bool {
        let since = match &self.seen {
            Some((v, t)) if v == version => *t,
            _ => {
                self.seen = Some((version.to_string(), now));
                now
            }
        };
        let unchanged = now.saturating_duration_since(since) >= timing.duration;
        let expired = renewed.is_some_and(|r| {
            let limit = timing.duration.saturating_add(timing.skew).as_secs();
            wall_now.saturating_sub(r) > i64::try_from(limit).unwrap_or(i64::MAX)
        });
        unchanged || expired
    }

    /// Forget what was seen (after taking the lock).
    pub fn reset(&mut self) {
        self.seen = None;
    }
}

/// Keep the held lock until it is lost: renew every `renew_every`; when a renewal says
/// another process holds it, or none succeeded for `renew_deadline`, call `lost` with the
/// reason once and return. The caller stops writing there.
pub async fn keep(backend: Arc<dyn LockBackend>, me: Holder, lost: impl FnOnce(String)) {
    let timing = backend.timing();
    // tokio's clock, which tests can pause and move.
    let mut last_ok = tokio::time::Instant::now();
    let mut warned = false;
    loop {
        tokio::time::sleep(timing.renew_every).await;
        match backend.renew(&me).await {
            Ok(true) => {
                last_ok = tokio::time::Instant::now();
                if warned {
                    crate::daemon::driver::log(&format!("{} renewed again", backend.describe()));
                    warned = false;
                }
            }
            Ok(false) => {
                lost(format!(
                    "the {} is now held by another process",
                    backend.describe()
                ));
                return;
            }
            Err(e) => {
                let since = last_ok.elapsed();
                if since >= timing.renew_deadline {
                    lost(format!(
                        "the {} could not be renewed for {} s ({e}); it may expire and be taken by another process",
                        backend.describe(),
                        since.as_secs()
                    ));
                    return;
                }
                if !warned {
                    crate::daemon::driver::log(&format!(
                        "cannot renew the {} ({e}); still held for {} s more",
                        backend.describe(),
                        timing.renew_deadline.saturating_sub(since).as_secs()
                    ));
                    warned = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_specs_parse_or_say_what_to_write() {
        let ok = [
            ("file:/tmp/x.lock", LockSpec::File("/tmp/x.lock".into())),
            (
                ".keelson/keelson.lock",
                LockSpec::File(".keelson/keelson.lock".into()),
            ),
            (
                "kubernetes",
                LockSpec::Kubernetes {
                    namespace: None,
                    name: DEFAULT_NAME.into(),
                },
            ),
            (
                "kubernetes:keelson/prod-fleet",
                LockSpec::Kubernetes {
                    namespace: Some("keelson".into()),
                    name: "prod-fleet".into(),
                },
            ),
            (
                "s3://bucket/fleets/prod.lock",
                LockSpec::S3 {
                    bucket: "bucket".into(),
                    key: "fleets/prod.lock".into(),
                },
            ),
            (
                "s3://bucket",
                LockSpec::S3 {
                    bucket: "bucket".into(),
                    key: "keelson-fleet.lock".into(),
                },
            ),
        ];
        for (s, want) in ok {
            assert_eq!(LockSpec::parse(s), Ok(want), "{s}");
        }
        for bad in [
            "s3://",
            "s3:///key",
            "kubernetes:Keelson/X",
            "kubernetes:a/b/c",
            "",
            "gs://b/k",
        ] {
            let e = LockSpec::parse(bad).err();
            assert!(
                e.as_deref().is_some_and(|e| e.contains("write")),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn identities_name_host_and_pid() {
        let me = Holder {
            pid: 42,
            host: "keelson-7d9f-abcde".into(),
            since: 5,
        };
        assert_eq!(holder_from_identity(&identity(&me), 5), me);
        let other = holder_from_identity("some-controller", 7);
        assert_eq!((other.pid, other.host.as_str()), (0, "some-controller"));
    }

    #[test]
    fn a_record_is_stale_after_the_duration_unchanged_or_past_its_wall_clock_expiry() {
        let t = Timing::for_duration(Duration::from_secs(15), Duration::from_secs(5));
        assert_eq!(t.renew_deadline, Duration::from_secs(10));
        assert_eq!(t.renew_every, Duration::from_secs(3));
        let start = Instant::now();
        let wall = 1_000_000;
        let mut o = Observer::default();
        // Renewed just now: not stale, however long ago it was first seen.
        assert!(!o.stale("1", Some(wall), t, start, wall));
        assert!(!o.stale("1", Some(wall), t, start + Duration::from_secs(14), wall));
        // A new version restarts the observation.
        assert!(!o.stale("2", Some(wall), t, start + Duration::from_secs(14), wall));
        assert!(!o.stale("2", Some(wall), t, start + Duration::from_secs(28), wall));
        assert!(o.stale("2", Some(wall), t, start + Duration::from_secs(29), wall));
        // A clock 10 s ahead of the holder's does not take a live lock (duration + skew),
        // one 21 s past its renewal does.
        let mut fresh = Observer::default();
        assert!(!fresh.stale("3", Some(wall), t, start, wall + 10));
        assert!(!fresh.stale("3", Some(wall), t, start, wall + 20));
        assert!(fresh.stale("3", Some(wall), t, start, wall + 21));
        // No renewal time: only observation counts.
        let mut blind = Observer::default();
        assert!(!blind.stale("4", None, t, start, i64::MAX));
        blind.reset();
        assert!(!blind.stale("4", None, t, start + Duration::from_secs(30), i64::MAX));
    }

    /// A backend whose renewals fail from a given call on.
    struct Flaky {
        calls: std::sync::atomic::AtomicU32,
        fail_from: u32,
        taken: bool,
    }

    #[async_trait]
    impl LockBackend for Flaky {
        fn describe(&self) -> String {
            "test lock".into()
        }
        fn timing(&self) -> Timing {
            Timing::for_duration(Duration::from_secs(15), Duration::ZERO)
        }
        async fn try_acquire(&self, _me: &Holder) -> Result<Attempt, BackendError> {
            Ok(Attempt::Acquired)
        }
        async fn renew(&self, _me: &Holder) -> Result<bool, BackendError> {
            let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if n < self.fail_from {
                Ok(true)
            } else if self.taken {
                Ok(false)
            } else {
                Err(BackendError::Kubernetes {
                    lock: "test".into(),
                    message: "connection refused".into(),
                })
            }
        }
        async fn release(&self) -> Result<(), BackendError> {
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_holder_that_cannot_renew_gives_up_before_the_lease_runs_out() {
        let backend = Arc::new(Flaky {
            calls: 0.into(),
            fail_from: 2,
            taken: false,
        });
        let started = tokio::time::Instant::now();
        let reason = Arc::new(Mutex::new(None));
        let r = reason.clone();
        keep(backend, Holder::me(), move |m| {
            *r.lock().unwrap_or_else(|p| p.into_inner()) = Some(m);
        })
        .await;
        let waited = started.elapsed();
        // Two good renewals (3 s apart), then failures: it gives up at the first renewal
        // 10 s or more after the last good one (at 18 s), before any other process may
        // take the lease (21 s).
        assert!(
            waited >= Duration::from_secs(15) && waited < Duration::from_secs(19),
            "{waited:?}"
        );
        let msg = reason.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert!(msg.is_some_and(
            |m| m.contains("could not be renewed") && m.contains("connection refused")
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_holder_that_lost_the_lock_stops_at_once() {
        let backend = Arc::new(Flaky {
            calls: 0.into(),
            fail_from: 1,
            taken: true,
        });
        let reason = Arc::new(Mutex::new(None));
        let r = reason.clone();
        keep(backend, Holder::me(), move |m| {
            *r.lock().unwrap_or_else(|p| p.into_inner()) = Some(m);
        })
        .await;
        let msg = reason.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert!(msg.is_some_and(|m| m.contains("held by another process")));
    }
}
