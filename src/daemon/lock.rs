//! The fleet lock: only one daemon applies to a fleet at a time.
//!
//! ```text
//!  daemon A ──flock(LOCK_EX|LOCK_NB)──► <state dir>/keelson.lock ◄── holder info (JSON)
//!  daemon B ──flock fails──► standby (/readyz 503, status names the holder) ──retry──► takes over when A exits
//! ```
//!
//! The kernel releases an advisory `flock` when its holder's file is closed, which includes
//! the holder being killed with SIGKILL, so a crashed daemon never leaves a stale lock.
//! A lock file deleted while held would let a second process lock a new file at the same
//! path: the holder watches for that ([`FleetLock::is_current`]), takes the new file when
//! it can, and stops writing when another process got it first. `keelson apply` takes the
//! same lock, so a CLI apply and a daemon never write to one fleet at once.
//! The lock covers daemons sharing a filesystem (one host, or one volume). Run in a
//! Kubernetes cluster with several replicas, the same protocol maps onto a
//! `coordination.k8s.io/v1` Lease: `holderIdentity` is the holder info below, the lock is
//! taken by creating or updating the Lease with the `resourceVersion` read (optimistic
//! concurrency instead of flock), `leaseDurationSeconds` replaces the kernel's release on
//! death (a standby takes over once `renewTime + leaseDurationSeconds` has passed), and
//! the holder renews it every few seconds. `deploy/README.md` describes the single-replica
//! Deployment with `strategy: Recreate` that keelson ships, which needs neither.

pub use crate::adapters::lockfile::{read_holder, try_acquire, Holder, LockError};

/// The fleet lock while held; released when dropped (or when the process dies).
pub type FleetLock = crate::adapters::lockfile::FileLock;
