//! Every remote call, wrapped once: a per-call timeout and its metric, for EKS and
//! Kubernetes alike and whatever implements them (aws-sdk-eks, kube-rs, the simulator).
//! The adapters stay unaware of both.
//!
//! ```text
//!  observe / apply / upgrade ──► Instrumented<dyn EksApi>  ──► AwsEks | Sim
//!                           └──► Instrumented<dyn KubeApi> ──► KubeClients | Sim
//!                                    │ tokio timeout per call: elapsed ─► ApiError::Unavailable (transient)
//!                                    ├─► CallRecorder (the daemon's Metrics): api, operation, outcome, latency
//!                                    └─► Faults (simulator rehearsals only, `KEELSON_SIM_FAULTS`): injected failures
//! ```
//!
//! The executor's waits for long operations (a cluster update, a node group roll) are
//! polling loops of short calls, so one bound per call fits reads and writes alike. The
//! bound sits above what a call may legitimately take, the SDK's own retries with
//! backoff included, so that a throttled call still reports `Throttled` after its
//! retries rather than a timeout.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::faults::{Fault, Faults};
use crate::model::live::*;
use crate::model::*;
use crate::observe::Ports;
use crate::ports::*;

/// How long one call may take before it is given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Calls that only read (Describe*, List*, Kubernetes discovery and lists).
    pub read: Duration,
    /// Calls that change something (Create*, Update*, Delete*, server-side apply).
    pub write: Duration,
}

impl Default for Timeouts {
    /// Two minutes each: above the SDK's retry budget (eight attempts, backoff capped at
    /// 20 s) for a throttled call, and above the Kubernetes client's 60 s read timeout.
    fn default() -> Self {
        Timeouts {
            read: Duration::from_secs(120),
            write: Duration::from_secs(120),
        }
    }
}

/// Which API a call went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Remote {
    /// The EKS API.
    Eks,
    /// A cluster's Kubernetes API.
    Kube,
}

impl Remote {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Remote::Eks => "eks",
            Remote::Kube => "kube",
        }
    }
}

/// One finished call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord<'a> {
    /// The API called.
    pub remote: Remote,
    /// The operation (`DescribeCluster`, `list`, ...).
    pub operation: &'a str,
    /// The outcome label, see [`outcome`].
    pub outcome: &'static str,
    /// How long the call took, a timed-out call's bound included.
    pub elapsed: Duration,
}

/// Where finished calls are recorded (the daemon's metrics registry).
pub trait CallRecorder: Send + Sync {
    /// Record one call.
    fn record(&self, call: &CallRecord<'_>);
}

/// The outcome label of an API result.
pub fn outcome<T>(r: &ApiResult<T>) -> &'static str {
    use crate::ports::ApiError as E;
    match r {
        Ok(_) => "ok",
        Err(E::NotFound(_)) => "not_found",
        Err(E::ResourceInUse(_)) => "resource_in_use",
        Err(E::InvalidParameter(_) | E::InvalidRequest(_)) => "invalid",
        Err(E::Throttled(_)) => "throttled",
        Err(E::Unavailable(_)) => "unavailable",
        Err(E::AccessDenied(_)) => "access_denied",
        Err(E::NotImplemented(_)) => "not_implemented",
        Err(E::Other(_)) => "error",
    }
}

/// A port with a timeout and a record for every call it passes on.
pub struct Instrumented<P: ?Sized> {
    inner: Arc<P>,
    timeouts: Timeouts,
    recorder: Option<Arc<dyn CallRecorder>>,
    faults: Option<&'static Faults>,
}

impl<P: ?Sized> Instrumented<P> {
    /// Wrap `inner`; calls are recorded only once a recorder is given.
    pub fn new(inner: Arc<P>, timeouts: Timeouts) -> Self {
        Instrumented {
            inner,
            timeouts,
            recorder: None,
            faults: None,
        }
    }

    /// Fail calls as `faults` schedules (rehearsals and tests on the simulator); the
    /// injected failures are recorded like real ones.
    #[must_use]
    pub fn with_faults(mut self, faults: &'static Faults) -> Self {
        self.faults = Some(faults);
        self
    }

    /// Record every call into `recorder`.
    #[must_use]
    pub fn with_recorder(mut self, recorder: Arc<dyn CallRecorder>) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// Run one call within `limit`, and record it.
    async fn run<T>(
        &self,
        remote: Remote,
        operation: &'static str,
        (limit, write): (Duration, bool),
        call: impl Future<Output = ApiResult<T>> + Send,
    ) -> ApiResult<T> {
        let started = tokio::time::Instant::now();
        let fault = self
            .faults
            .map_or(Fault::Pass, |f| f.decide(operation, write));
        let result = match fault {
            Fault::Reject(e) => Err(e),
            fault => {
                let result = match tokio::time::timeout(limit, call).await {
                    Ok(r) => r,
                    Err(_) => Err(ApiError::Unavailable(format!(
                        "timed out after {}s: {operation}",
                        limit.as_secs()
                    ))),
                };
                match fault {
                    Fault::LoseReply(e) => Err(e),
                    _ => result,
                }
            }
        };
        if let Some(recorder) = &self.recorder {
            recorder.record(&CallRecord {
                remote,
                operation,
                outcome: outcome(&result),
                elapsed: started.elapsed(),
            });
        }
        result
    }
}

/// Both ports of `ports` instrumented with `timeouts`, recording into `recorder` when one
/// is given, EKS calls failing as `faults` schedules when given; the clock stays as it is.
pub fn instrument(
    ports: Ports,
    timeouts: Timeouts,
    recorder: Option<Arc<dyn CallRecorder>>,
    faults: Option<&'static Faults>,
) -> Ports {
    let mut eks = Instrumented::new(ports.eks, timeouts);
    let mut kube = Instrumented::new(ports.kube, timeouts);
    if let Some(f) = faults {
        eks = eks.with_faults(f);
    }
    if let Some(r) = recorder {
        eks = eks.with_recorder(r.clone());
        kube = kube.with_recorder(r);
    }
    Ports {
        eks: Arc::new(eks),
        kube: Arc::new(kube),
        clock: ports.clock,
    }
}

/// The port methods, each with its timeout class and its operation name.
macro_rules! instrumented {
    ($trait:ident, $remote:expr;
     $( $kind:ident $name:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty = $op:literal; )*
     $( ; $($extra:item)* )?) => {
        #[async_trait]
        impl<P: $trait + ?Sized> $trait for Instrumented<P> {
            $(
                async fn $name(&self, $($arg: $ty),*) -> $ret {
                    let class = (self.timeouts.$kind, stringify!($kind) == "write");
                    self.run($remote, $op, class, self.inner.$name($($arg),*))
                        .await
                }
            )*
            $( $($extra)* )?
        }
    };
}

instrumented! { EksApi, Remote::Eks;
    read list_clusters() -> ApiResult<Vec<String>> = "ListClusters";
    read describe_cluster(name: &str) -> ApiResult<LiveCluster> = "DescribeCluster";
    write create_cluster(req: &CreateCluster) -> ApiResult<LiveCluster> = "CreateCluster";
    write delete_cluster(name: &str) -> ApiResult<()> = "DeleteCluster";
    write update_cluster_config(name: &str, change: &ClusterConfigUpdate) -> ApiResult<Update> = "UpdateClusterConfig";
    write update_cluster_version(name: &str, version: &str) -> ApiResult<Update> = "UpdateClusterVersion";
    read list_updates(cluster: &str, nodegroup: Option<&str>, addon: Option<&str>) -> ApiResult<Vec<String>> = "ListUpdates";
    read describe_update(cluster: &str, id: &str, nodegroup: Option<&str>, addon: Option<&str>) -> ApiResult<Update> = "DescribeUpdate";
    write tag_resource(arn: &str, tags: &Tags) -> ApiResult<()> = "TagResource";
    write untag_resource(arn: &str, keys: &[String]) -> ApiResult<()> = "UntagResource";
    read list_addons(cluster: &str) -> ApiResult<Vec<String>> = "ListAddons";
    read describe_addon(cluster: &str, name: &str) -> ApiResult<LiveAddon> = "DescribeAddon";
    write create_addon(req: &AddonRequest) -> ApiResult<LiveAddon> = "CreateAddon";
    write update_addon(req: &AddonRequest) -> ApiResult<Update> = "UpdateAddon";
    write delete_addon(cluster: &str, name: &str) -> ApiResult<()> = "DeleteAddon";
    read describe_addon_versions(name: &str) -> ApiResult<Vec<AddonVersion>> = "DescribeAddonVersions";
    read list_nodegroups(cluster: &str) -> ApiResult<Vec<String>> = "ListNodegroups";
    read describe_nodegroup(cluster: &str, name: &str) -> ApiResult<LiveNodeGroup> = "DescribeNodegroup";
    write create_nodegroup(req: &CreateNodeGroup) -> ApiResult<LiveNodeGroup> = "CreateNodegroup";
    write update_nodegroup_config(req: &NodeGroupConfigUpdate) -> ApiResult<Update> = "UpdateNodegroupConfig";
    write update_nodegroup_version(req: &NodeGroupVersionUpdate) -> ApiResult<Update> = "UpdateNodegroupVersion";
    write delete_nodegroup(cluster: &str, name: &str) -> ApiResult<()> = "DeleteNodegroup";
    read list_fargate_profiles(cluster: &str) -> ApiResult<Vec<String>> = "ListFargateProfiles";
    read describe_fargate_profile(cluster: &str, name: &str) -> ApiResult<LiveFargateProfile> = "DescribeFargateProfile";
    write create_fargate_profile(req: &CreateFargateProfile) -> ApiResult<LiveFargateProfile> = "CreateFargateProfile";
    write delete_fargate_profile(cluster: &str, name: &str) -> ApiResult<()> = "DeleteFargateProfile";
    read list_access_entries(cluster: &str) -> ApiResult<Vec<String>> = "ListAccessEntries";
    read describe_access_entry(cluster: &str, principal: &str) -> ApiResult<LiveAccessEntry> = "DescribeAccessEntry";
    write create_access_entry(req: &CreateAccessEntry) -> ApiResult<()> = "CreateAccessEntry";
    write update_access_entry(cluster: &str, principal: &str, groups: &[String], username: Option<&str>) -> ApiResult<()> = "UpdateAccessEntry";
    write delete_access_entry(cluster: &str, principal: &str) -> ApiResult<()> = "DeleteAccessEntry";
    write associate_access_policy(cluster: &str, principal: &str, policy: &AccessPolicy) -> ApiResult<()> = "AssociateAccessPolicy";
    write disassociate_access_policy(cluster: &str, principal: &str, policy_arn: &str) -> ApiResult<()> = "DisassociateAccessPolicy";
    read list_pod_identity_associations(cluster: &str) -> ApiResult<Vec<PodIdentitySummary>> = "ListPodIdentityAssociations";
    read describe_pod_identity_association(cluster: &str, id: &str) -> ApiResult<LivePodIdentity> = "DescribePodIdentityAssociation";
    write create_pod_identity_association(req: &CreatePodIdentity) -> ApiResult<LivePodIdentity> = "CreatePodIdentityAssociation";
    write update_pod_identity_association(cluster: &str, id: &str, spec: &PodIdentityAssociationSpec) -> ApiResult<()> = "UpdatePodIdentityAssociation";
    write delete_pod_identity_association(cluster: &str, id: &str) -> ApiResult<()> = "DeletePodIdentityAssociation";
    read describe_cluster_versions() -> ApiResult<Vec<ClusterVersionInfo>> = "DescribeClusterVersions";
    read list_insights(cluster: &str) -> ApiResult<Vec<Insight>> = "ListInsights";
    read describe_insight(cluster: &str, id: &str) -> ApiResult<Insight> = "DescribeInsight";
    read list_clusters_located() -> ApiResult<Vec<ListedCluster>> = "ListClusters";
    read describe_listed(at: &ListedCluster) -> ApiResult<LiveCluster> = "DescribeCluster";
    write cancel_update(cluster: &str, id: &str) -> ApiResult<Update> = "CancelUpdate";
    write start_insights_refresh(cluster: &str) -> ApiResult<InsightsRefresh> = "StartInsightsRefresh";
    read describe_insights_refresh(cluster: &str) -> ApiResult<InsightsRefresh> = "DescribeInsightsRefresh";
    ;
    fn locate(&self, at: &ListedCluster) {
        self.inner.locate(at);
    }
    fn call_counts(&self) -> std::collections::BTreeMap<String, u64> {
        self.inner.call_counts()
    }
}

// The Kubernetes operation names are those `KubeClients` counts its calls under.
instrumented! { KubeApi, Remote::Kube;
    read server_version(cluster: &str) -> ApiResult<String> = "version";
    read served_versions(cluster: &str) -> ApiResult<Vec<String>> = "discovery";
    read list(cluster: &str, api_version: &str, kind: &str, label_selector: Option<&str>) -> ApiResult<Vec<serde_json::Value>> = "list";
    write apply(cluster: &str, object: &serde_json::Value, field_manager: &str) -> ApiResult<serde_json::Value> = "apply";
    write delete_in(cluster: &str, api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> ApiResult<()> = "delete";
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::Value;

    use super::*;

    /// A Kubernetes API that never answers, except `server_version`, which answers at once.
    struct Silent;

    #[async_trait]
    impl KubeApi for Silent {
        async fn server_version(&self, _: &str) -> ApiResult<String> {
            Ok("1.34".into())
        }
        async fn served_versions(&self, _: &str) -> ApiResult<Vec<String>> {
            std::future::pending().await
        }
        async fn list(&self, _: &str, _: &str, _: &str, _: Option<&str>) -> ApiResult<Vec<Value>> {
            std::future::pending().await
        }
        async fn apply(&self, _: &str, _: &Value, _: &str) -> ApiResult<Value> {
            std::future::pending().await
        }
        async fn delete_in(
            &self,
            _: &str,
            _: &str,
            _: &str,
            _: Option<&str>,
            _: &str,
        ) -> ApiResult<()> {
            Err(ApiError::NotFound("gone".into()))
        }
    }

    #[derive(Default)]
    struct Log(Mutex<Vec<(Remote, String, &'static str, Duration)>>);

    impl CallRecorder for Log {
        fn record(&self, c: &CallRecord<'_>) {
            if let Ok(mut l) = self.0.lock() {
                l.push((c.remote, c.operation.to_string(), c.outcome, c.elapsed));
            }
        }
    }

    fn silent(log: &Arc<Log>) -> Instrumented<dyn KubeApi> {
        let timeouts = Timeouts {
            read: Duration::from_secs(60),
            write: Duration::from_secs(90),
        };
        Instrumented::new(Arc::new(Silent) as Arc<dyn KubeApi>, timeouts).with_recorder(log.clone())
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_that_never_answers_times_out_as_a_transient_error() {
        let log = Arc::new(Log::default());
        let kube = silent(&log);

        let started = tokio::time::Instant::now();
        let err = kube.list("prod", "v1", "Node", None).await.unwrap_err();

        assert_eq!(started.elapsed(), Duration::from_secs(60));
        assert_eq!(
            err,
            ApiError::Unavailable("timed out after 60s: list".into())
        );
        assert!(err.is_transient());
        let l = log.0.lock().unwrap();
        assert_eq!(
            *l,
            vec![(
                Remote::Kube,
                "list".to_string(),
                "unavailable",
                Duration::from_secs(60)
            )]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn writes_have_their_own_bound() {
        let log = Arc::new(Log::default());
        let kube = silent(&log);

        let started = tokio::time::Instant::now();
        let err = kube
            .apply("prod", &Value::Null, "keelson")
            .await
            .unwrap_err();

        assert_eq!(started.elapsed(), Duration::from_secs(90));
        assert_eq!(
            err,
            ApiError::Unavailable("timed out after 90s: apply".into())
        );
    }

    #[tokio::test(start_paused = true)]
    async fn answers_pass_through_and_are_recorded_with_their_outcome() {
        let log = Arc::new(Log::default());
        let kube = silent(&log);

        assert_eq!(kube.server_version("prod").await.unwrap(), "1.34");
        assert_eq!(
            kube.delete_in("prod", "v1", "ConfigMap", None, "x").await,
            Err(ApiError::NotFound("gone".into()))
        );

        let l = log.0.lock().unwrap();
        assert_eq!(
            *l,
            vec![
                (Remote::Kube, "version".to_string(), "ok", Duration::ZERO),
                (
                    Remote::Kube,
                    "delete".to_string(),
                    "not_found",
                    Duration::ZERO
                ),
            ]
        );
    }

    #[tokio::test]
    async fn without_a_recorder_calls_only_get_their_timeout() {
        let kube = Instrumented::new(Arc::new(Silent) as Arc<dyn KubeApi>, Timeouts::default());
        assert_eq!(kube.server_version("prod").await.unwrap(), "1.34");
    }
}
