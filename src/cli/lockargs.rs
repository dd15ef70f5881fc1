//! The fleet lock options shared by `keelson run` and `keelson apply`, so that both take
//! the same lock the same way.
//!
//! ```text
//!  --lock SPEC | --lock-file FILE | Fleet spec.policy.lock ──► LockSpec ──► lock::open ──► backend
//! ```

use std::path::Path;
use std::time::Duration;

use clap::Args;

use crate::daemon::lock::{self, LockBackend, LockSpec, Timing};

/// Where the fleet lock lives and how long it lasts.
#[derive(Debug, Clone, Args)]
pub struct LockArgs {
    /// The fleet lock: a file (`file:PATH`, the default under the state directory),
    /// a Kubernetes Lease (`kubernetes:NAMESPACE/NAME`, for replicas in a cluster) or an
    /// S3 object (`s3://BUCKET/KEY`, for CI runners). The daemon and `apply` must name the
    /// same lock.
    #[arg(long, value_name = "SPEC", value_parser = LockSpec::parse, conflicts_with = "lock_file")]
    pub lock: Option<LockSpec>,
    /// A Lease or S3 lock not renewed for this long may be taken over by another process.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_duration)]
    pub lock_duration: Duration,
    /// How far clocks may disagree: a lock whose renew time is older than duration + skew
    /// on this machine's clock is taken over without waiting to see it unchanged.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub lock_skew: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    crate::model::Duration::seconds(s)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{s}` is not a duration such as 0s, 15s, 5m or 1h"))
}

/// `parse_duration` for other lock flags (`--lock-wait`).
///
/// # Errors
/// Not a duration.
pub fn duration(s: &str) -> Result<Duration, String> {
    parse_duration(s)
}

/// Where the lock comes from, first given wins: `--lock`, `--lock-file`, the Fleet's
/// `spec.policy.lock`, the default lock file.
#[derive(Debug, Clone, Copy)]
pub struct LockSources<'a> {
    /// `--lock-file`.
    pub file: Option<&'a Path>,
    /// The Fleet's `spec.policy.lock`.
    pub policy: Option<&'a str>,
    /// The lock file when nothing names a lock.
    pub default_file: &'a Path,
}

impl LockArgs {
    /// The lock to take.
    ///
    /// # Errors
    /// The Fleet's `spec.policy.lock` is not a lock (validation reports it too).
    pub fn spec(&self, from: LockSources<'_>) -> anyhow::Result<LockSpec> {
        if let Some(l) = &self.lock {
            return Ok(l.clone());
        }
        if let Some(f) = from.file {
            return Ok(LockSpec::File(f.to_path_buf()));
        }
        if let Some(p) = from.policy {
            return LockSpec::parse(p)
                .map_err(|e| anyhow::anyhow!("the Fleet's spec.policy.lock: {e}"));
        }
        Ok(LockSpec::File(from.default_file.to_path_buf()))
    }

    /// The backend of `spec`.
    ///
    /// # Errors
    /// The backend's client cannot be configured.
    pub async fn open(&self, spec: &LockSpec) -> anyhow::Result<std::sync::Arc<dyn LockBackend>> {
        let timing = Timing::for_duration(self.lock_duration, self.lock_skew);
        Ok(lock::open(spec, timing).await?)
    }
}
