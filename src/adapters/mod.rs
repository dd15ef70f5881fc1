//! Everything that touches the outside world: the filesystem today; AWS, Kubernetes, git
//! and file watching sit here too, behind the ports the pure core defines.

pub(crate) mod accounts;
pub mod aws;
pub mod faults;
pub mod fs;
pub(crate) mod https;
pub mod instrumented;
pub mod kube;
pub mod lease;
pub mod lockfile;
pub mod members;
pub mod notify;
pub mod ratelimit;
pub mod s3lock;
pub mod sim;

/// The cluster an EKS ARN belongs to: `arn:aws:eks:REGION:ACCOUNT:cluster/NAME`,
/// `nodegroup/NAME/...`, `addon/NAME/...`, `fargateprofile/NAME/...`,
/// `podidentityassociation/NAME/...`, `access-entry/NAME/...`.
pub(crate) fn arn_cluster(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let mut parts = resource.split('/');
    parts.next()?;
    parts.next().filter(|n| !n.is_empty())
}
