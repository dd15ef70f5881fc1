//! The executor's version calls: UpdateClusterVersion (an upgrade or EKS's one-minor
//! rollback) with the "ACTIVE but still busy" 409 retried, the record of a rollback, and
//! CancelUpdate of an Auto Mode node rollback.
//!
//! ```text
//!  wait ACTIVE ─► already at version? done
//!              └► UpdateClusterVersion ─┬─ 409 ResourceInUse: back off, ask again
//!                                       └─ update ─► DescribeUpdate until Successful
//! ```
//!
//! Right after a cluster turns ACTIVE, EKS may still be replacing control-plane instances
//! and answers a second UpdateClusterVersion with 409 "currently has update … in
//! progress" (aws/containers-roadmap#2677; rancher/eks-operator#547 requeues): it is a
//! wait, never a failure, bounded by the executor's timeout.

use super::{ApplyError, Check, Exec};
use crate::model::live::UpdateStatus;
use crate::plan::upgrade::{rollback_key, transition_value};
use crate::ports::ApiError;

/// First wait after a 409, doubled each time up to [`BUSY_MAX_DELAY`].
const BUSY_FIRST_DELAY: u64 = 15;
/// Longest wait between two attempts after a 409.
const BUSY_MAX_DELAY: u64 = 120;

impl Exec<'_> {
    /// UpdateClusterVersion to `version` (up one minor, or down one: a rollback), then
    /// wait for the update.
    pub(super) async fn update_version(&self, version: &str) -> Result<(), ApplyError> {
        let eks = &self.ports.eks;
        let name = self.cluster;
        let start = self.ports.clock.now();
        let mut delay = BUSY_FIRST_DELAY;
        let u = loop {
            self.wait_cluster_idle().await?;
            // Found again, never re-issued: if the cluster already runs the version (an
            // earlier run's update finished), there is nothing to do.
            let live = self
                .call("DescribeCluster", || eks.describe_cluster(name))
                .await?;
            if live.version == version {
                return Ok(());
            }
            // Read before the call, for the same reason as in `wait`.
            let asked = self.ports.clock.now();
            match self
                .call("UpdateClusterVersion", || {
                    eks.update_cluster_version(name, version)
                })
                .await
            {
                Ok(u) => break u,
                Err(ApplyError::Call {
                    source: ApiError::ResourceInUse(m),
                    ..
                }) => {
                    let elapsed = (asked - start).max(0) as u64;
                    if elapsed >= self.opts.timeout_secs {
                        return Err(ApplyError::Timeout {
                            what: format!("control plane {version} (EKS still busy: {m})"),
                            secs: elapsed,
                        });
                    }
                    tracing::info!(cluster = name, error = %m, delay, "cluster ACTIVE but still busy; retrying UpdateClusterVersion");
                    self.progress.waiting(
                        name,
                        &format!("control plane {version} (EKS still busy after ACTIVE: {m})"),
                        elapsed,
                    );
                    self.ports.clock.sleep(delay).await;
                    delay = (delay * 2).min(BUSY_MAX_DELAY);
                }
                Err(e) => return Err(e),
            }
        };
        self.wait_update(&format!("control plane {version}"), &u, None, None)
            .await
    }

    /// Tag the rollback with its completion time and drop the record of the hop it undid.
    pub(super) async fn record_rollback(
        &self,
        arn: &str,
        from: &str,
        to: &str,
        remove: &[String],
    ) -> Result<(), ApplyError> {
        let mut tags = crate::model::Tags::new();
        tags.insert(
            rollback_key(from, to),
            transition_value(self.ports.clock.now(), &Default::default()),
        );
        self.tag_then_untag(arn, &tags, remove).await
    }

    /// A record: TagResource with its tags, then UntagResource of the keys it replaces.
    pub(super) async fn tag_then_untag(
        &self,
        arn: &str,
        tags: &crate::model::Tags,
        remove: &[String],
    ) -> Result<(), ApplyError> {
        let eks = &self.ports.eks;
        self.call("TagResource", || eks.tag_resource(arn, tags))
            .await?;
        if remove.is_empty() {
            return Ok(());
        }
        self.call("UntagResource", || eks.untag_resource(arn, remove))
            .await
    }

    /// CancelUpdate, then wait until EKS reports the update Cancelled. One that finished
    /// in the meantime cannot be cancelled any more: that is reported, not hidden.
    pub(super) async fn cancel_update(&self, id: &str) -> Result<(), ApplyError> {
        let eks = &self.ports.eks;
        let name = self.cluster;
        let now = self
            .call("DescribeUpdate", || {
                eks.describe_update(name, id, None, None)
            })
            .await?;
        if now.status == UpdateStatus::InProgress {
            self.call("CancelUpdate", || eks.cancel_update(name, id))
                .await?;
        }
        let what = format!("cancelling update {id}");
        self.wait(&what, || async {
            let u = self
                .call("DescribeUpdate", || {
                    eks.describe_update(name, id, None, None)
                })
                .await?;
            match u.status {
                UpdateStatus::Cancelled => Ok(Check::Done),
                UpdateStatus::InProgress => Ok(Check::Pending("cancelling".into())),
                s => Err(ApplyError::Failed {
                    what: what.clone(),
                    detail: format!(
                        "the update ended {s:?} before it could be cancelled; plan again"
                    ),
                }),
            }
        })
        .await
    }
}
