//! `EksApi` on aws-sdk-eks.
//!
//! A thin translation: every port method is one EKS operation, with the same error
//! classes the simulator returns. Three methods make extra reads the port merges in:
//! [`EksApi::describe_access_entry`] (ListAssociatedAccessPolicies),
//! [`EksApi::update_nodegroup_config`] (DescribeNodegroup, to send label and taint changes
//! as add/remove sets) and [`EksApi::describe_addon`] (DescribePodIdentityAssociation per
//! association, as EKS lists them by ARN only). Clients are made per region, lazily,
//! from one shared `SdkConfig`, so credentials, profiles and `AWS_ENDPOINT_URL_EKS` /
//! `AWS_ENDPOINT_URL` apply everywhere.
//!
//! ```text
//!  port call ─► region of the cluster ─► aws-sdk-eks client (retries, timeouts, call counter)
//!                                          └─► SdkError ─► ApiError (op, resource, region)
//! ```
//!
//! By job: `clusters` (clusters, updates, tags, versions, insights), `addons`,
//! `nodegroups`, `access` (Fargate, access entries, Pod Identity); `convert` holds the
//! SDK ⇄ model translations they share and `errors` the one SDK error classification.
//! Listings go through the SDK's paginators.
//!
//! Call counts are taken per HTTP attempt, so a call retried twice counts three times:
//! that is what counts against the account's EKS request rate.

mod access;
mod addons;
mod clusters;
mod convert;
mod errors;
mod fields;
mod nodegroups;
mod rollback;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_eks::config::{Intercept, Region, SharedHttpClient};
use aws_sdk_eks::Client;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, InterceptorContext,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::RetryConfig;

use crate::model::live::*;
use crate::model::*;
use crate::ports::*;
use errors::Call;

/// First wait before a retry; the SDK doubles it (with jitter) per attempt.
const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(20);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A region and the role assumed there (`None`: the caller's own credentials).
type Route = (String, Option<String>);

/// Where clients come from: the shared configuration, or an injected client's own
/// configuration (tests, custom transports).
#[derive(Debug, Clone)]
enum Source {
    Shared(aws_config::SdkConfig),
    Template(aws_sdk_eks::Config),
}

/// `EksApi` on the real EKS API.
#[derive(Debug)]
pub struct AwsEks {
    source: Source,
    default_region: String,
    cluster_regions: BTreeMap<String, String>,
    max_attempts: u32,
    /// Connect, attempt and whole-call bounds.
    timeouts: super::timeouts::AwsTimeouts,
    /// Role ARN keelson assumes per cluster; clusters not listed use the caller's own
    /// credentials.
    cluster_roles: BTreeMap<String, String>,
    /// Credentials per assumed role ARN.
    role_credentials: BTreeMap<String, SharedCredentialsProvider>,
    /// Where listed clusters that git does not name live (region, assumed role): found by
    /// [`EksApi::locate`] during discovery, so that they are read and deleted there.
    located: Mutex<BTreeMap<String, Route>>,
    /// Clients by region, or by region and assumed role.
    clients: Mutex<BTreeMap<Route, Client>>,
    calls: Arc<Mutex<BTreeMap<String, u64>>>,
    /// The request-rate limiters, one per account and region (none: unlimited), and the
    /// HTTP client they sit in front of when the configuration names none.
    limiters: Option<(Arc<super::throttle::Limiters>, SharedHttpClient)>,
}

impl AwsEks {
    /// An adapter on the shared AWS configuration.
    ///
    /// `cluster_regions` maps cluster names to their regions; clusters not listed use
    /// `default_region`. `max_attempts` is the total number of attempts per call (1 turns
    /// retries off); throttling, 5xx answers, timeouts and connection failures are retried
    /// with exponential backoff, other errors are returned at once.
    pub fn new(
        shared: &aws_config::SdkConfig,
        default_region: String,
        cluster_regions: BTreeMap<String, String>,
        max_attempts: u32,
    ) -> Self {
        AwsEks {
            source: Source::Shared(shared.clone()),
            default_region,
            cluster_regions,
            max_attempts: max_attempts.max(1),
            timeouts: super::timeouts::AwsTimeouts::default(),
            cluster_roles: BTreeMap::new(),
            role_credentials: BTreeMap::new(),
            located: Mutex::new(BTreeMap::new()),
            clients: Mutex::new(BTreeMap::new()),
            calls: Arc::default(),
            limiters: None,
        }
    }

    /// Send every request through the limiter of its account and region in `limiters`
    /// (see [`super::throttle`]).
    #[must_use]
    pub fn with_rate_limits(mut self, limiters: Arc<super::throttle::Limiters>) -> Self {
        self.limiters = Some((limiters, super::throttle::default_http_client()));
        lock(&self.clients).clear();
        self
    }

    /// Route clusters' calls through assumed roles.
    ///
    /// `cluster_roles` maps cluster names to the role ARN keelson assumes for them;
    /// `role_credentials` holds one credentials provider per role (an STS AssumeRole
    /// provider, which refreshes its session before it expires). A cluster whose role has
    /// no provider keeps the caller's own credentials.
    #[must_use]
    pub fn with_roles(
        mut self,
        cluster_roles: BTreeMap<String, String>,
        role_credentials: BTreeMap<String, SharedCredentialsProvider>,
    ) -> Self {
        self.cluster_roles = cluster_roles
            .into_iter()
            .filter(|(_, role)| role_credentials.contains_key(role))
            .collect();
        self.role_credentials = role_credentials;
        lock(&self.clients).clear();
        self
    }

    /// Bound connects, attempts and whole calls by `timeouts`, and make its number of
    /// attempts per call.
    #[must_use]
    pub fn with_timeouts(mut self, timeouts: super::timeouts::AwsTimeouts) -> Self {
        self.timeouts = timeouts;
        self.max_attempts = timeouts.max_attempts.max(1);
        lock(&self.clients).clear();
        self
    }

    /// The credentials a cluster's calls are signed with, when it has an assumed role.
    pub fn credentials_for(&self, cluster: &str) -> Option<SharedCredentialsProvider> {
        self.cluster_roles
            .get(cluster)
            .and_then(|role| self.role_credentials.get(role))
            .cloned()
    }

    /// An adapter on an existing client, used for every cluster. The client's own retry,
    /// timeout and transport settings are kept; keelson's call counter and its HTTP 429
    /// retry rule are added.
    pub fn from_client(client: Client, region: impl Into<String>) -> Self {
        let region = region.into();
        let calls: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
        let template = client.config().clone();
        let config = template
            .to_builder()
            .region(Region::new(region.clone()))
            .interceptor(CallCounter(calls.clone()))
            .retry_classifier(TooManyRequests)
            .build();
        let mut clients = BTreeMap::new();
        clients.insert((region.clone(), None), Client::from_conf(config));
        AwsEks {
            source: Source::Template(template),
            default_region: region,
            cluster_regions: BTreeMap::new(),
            max_attempts: 1,
            timeouts: super::timeouts::AwsTimeouts::default(),
            cluster_roles: BTreeMap::new(),
            role_credentials: BTreeMap::new(),
            located: Mutex::new(BTreeMap::new()),
            clients: Mutex::new(clients),
            calls,
            limiters: None,
        }
    }

    /// Calls made so far by operation name (`DescribeCluster`, ...), one per HTTP attempt.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        lock(&self.calls).clone()
    }

    /// The region a cluster's calls go to.
    pub fn region_for(&self, cluster: &str) -> String {
        self.route_for(cluster).0
    }

    /// The region and assumed role a cluster's calls go to: the repository's, else where
    /// discovery located it, else the default region with the caller's credentials.
    fn route_for(&self, cluster: &str) -> Route {
        if let Some(region) = self.cluster_regions.get(cluster) {
            return (region.clone(), self.cluster_roles.get(cluster).cloned());
        }
        if let Some(route) = lock(&self.located).get(cluster) {
            return route.clone();
        }
        (self.default_region.clone(), None)
    }

    /// Where ListClusters must look: every region the repo's clusters use and the default
    /// region, with the caller's credentials (when a cluster uses them) and with every assumed role, so
    /// that a cluster removed from git is found in its account even when no cluster of
    /// that account remains in its region.
    fn listing_routes(&self) -> BTreeSet<Route> {
        let mut regions: BTreeSet<String> = self
            .cluster_regions
            .keys()
            .map(|c| self.region_for(c))
            .collect();
        // Every role with credentials: the Fleet's accounts' too, whether or not a
        // cluster of the repository still uses it.
        let mut roles: BTreeSet<Option<String>> =
            self.role_credentials.keys().cloned().map(Some).collect();
        // The default region too: where a cluster moved elsewhere in git may remain.
        regions.insert(self.default_region.clone());
        if self.cluster_regions.is_empty()
            || self
                .cluster_regions
                .keys()
                .any(|c| !self.cluster_roles.contains_key(c))
        {
            roles.insert(None);
        }
        regions
            .iter()
            .flat_map(|r| roles.iter().map(move |role| (r.clone(), role.clone())))
            .collect()
    }

    /// The role for calls that concern no cluster in particular (the version catalogs):
    /// the caller's own credentials, unless every cluster is reached through a role.
    fn catalog_role(&self) -> Option<String> {
        if self.cluster_roles.is_empty()
            || self
                .cluster_regions
                .keys()
                .any(|c| !self.cluster_roles.contains_key(c))
        {
            return None;
        }
        self.cluster_roles.values().next().cloned()
    }

    fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(INITIAL_BACKOFF)
            .with_max_backoff(MAX_BACKOFF)
    }

    /// The client of a region (and assumed role), made on first use.
    fn client(&self, region: &str, role: Option<&str>) -> Client {
        let key = (region.to_string(), role.map(str::to_string));
        let mut clients = lock(&self.clients);
        if let Some(c) = clients.get(&key) {
            return c.clone();
        }
        let mut builder = match &self.source {
            Source::Shared(shared) => aws_sdk_eks::config::Builder::from(shared)
                .retry_config(self.retry_config())
                .timeout_config(self.timeouts.sdk(shared.timeout_config()))
                .interceptor(CallCounter(self.calls.clone()))
                .retry_classifier(TooManyRequests),
            Source::Template(template) => template
                .to_builder()
                .interceptor(CallCounter(self.calls.clone()))
                .retry_classifier(TooManyRequests),
        };
        if let Some(credentials) = role.and_then(|r| self.role_credentials.get(r)) {
            builder = builder.credentials_provider(credentials.clone());
        }
        if let Some((limiters, default_http)) = &self.limiters {
            let inner = match &self.source {
                Source::Shared(shared) => shared.http_client(),
                Source::Template(template) => template.http_client(),
            }
            .unwrap_or_else(|| default_http.clone());
            let limiter = limiters.limiter(region, role);
            builder = builder.http_client(super::throttle::RateLimited::new(inner, limiter));
        }
        let client = Client::from_conf(builder.region(Region::new(region.to_string())).build());
        clients.insert(key, client.clone());
        client
    }

    /// Client and error context for a call on a cluster.
    fn on_cluster(&self, op: &'static str, cluster: &str, what: String) -> (Client, Call) {
        let (region, role) = self.route_for(cluster);
        tracing::debug!(op, cluster, %region, role, "EKS call");
        (
            self.client(&region, role.as_deref()),
            Call { op, what, region },
        )
    }

    /// Client and error context for a call in a given region, on behalf of a cluster when
    /// one is named (its assumed role applies).
    fn in_region(
        &self,
        op: &'static str,
        region: String,
        cluster: Option<&str>,
        what: String,
    ) -> (Client, Call) {
        let role = match cluster {
            Some(c) => self.route_for(c).1,
            None => self.catalog_role(),
        };
        tracing::debug!(op, %region, role, "EKS call");
        (
            self.client(&region, role.as_deref()),
            Call { op, what, region },
        )
    }
}

// ───────────────────────────── SDK plumbing ─────────────────────────────

/// Counts HTTP attempts by operation name.
#[derive(Debug, Clone)]
struct CallCounter(Arc<Mutex<BTreeMap<String, u64>>>);

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "keelson-call-counter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg
            .load::<Metadata>()
            .map_or_else(|| "Unknown".to_string(), |m| m.name().to_string());
        *lock(&self.0).entry(op).or_default() += 1;
        Ok(())
    }
}

/// Retries a bare HTTP 429, which the SDK only retries when it carries a throttling code.
#[derive(Debug)]
struct TooManyRequests;

impl ClassifyRetry for TooManyRequests {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let failed = matches!(ctx.output_or_error(), Some(Err(_)));
        match ctx.response() {
            Some(r) if failed && r.status().as_u16() == 429 => RetryAction::throttling_error(),
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "keelson: HTTP 429"
    }
}

// ───────────────────────────── The port ─────────────────────────────

#[async_trait]
impl EksApi for AwsEks {
    async fn list_clusters(&self) -> ApiResult<Vec<String>> {
        clusters::list_clusters(self).await
    }

    async fn describe_cluster(&self, name: &str) -> ApiResult<LiveCluster> {
        clusters::describe_cluster(self, name).await
    }

    async fn create_cluster(&self, req: &CreateCluster) -> ApiResult<LiveCluster> {
        clusters::create_cluster(self, req).await
    }

    async fn delete_cluster(&self, name: &str) -> ApiResult<()> {
        clusters::delete_cluster(self, name).await
    }

    async fn update_cluster_config(
        &self,
        name: &str,
        change: &ClusterConfigUpdate,
    ) -> ApiResult<Update> {
        clusters::update_cluster_config(self, name, change).await
    }

    async fn update_cluster_version(&self, name: &str, version: &str) -> ApiResult<Update> {
        clusters::update_cluster_version(self, name, version).await
    }

    async fn list_updates(
        &self,
        cluster: &str,
        nodegroup: Option<&str>,
        addon: Option<&str>,
    ) -> ApiResult<Vec<String>> {
        clusters::list_updates(self, cluster, nodegroup, addon).await
    }

    async fn describe_update(
        &self,
        cluster: &str,
        id: &str,
        nodegroup: Option<&str>,
        addon: Option<&str>,
    ) -> ApiResult<Update> {
        clusters::describe_update(self, cluster, id, nodegroup, addon).await
    }

    async fn tag_resource(&self, arn: &str, tags: &Tags) -> ApiResult<()> {
        clusters::tag_resource(self, arn, tags).await
    }

    async fn untag_resource(&self, arn: &str, keys: &[String]) -> ApiResult<()> {
        clusters::untag_resource(self, arn, keys).await
    }

    async fn list_addons(&self, cluster: &str) -> ApiResult<Vec<String>> {
        addons::list_addons(self, cluster).await
    }

    async fn describe_addon(&self, cluster: &str, name: &str) -> ApiResult<LiveAddon> {
        addons::describe_addon(self, cluster, name).await
    }

    async fn create_addon(&self, req: &AddonRequest) -> ApiResult<LiveAddon> {
        addons::create_addon(self, req).await
    }

    async fn update_addon(&self, req: &AddonRequest) -> ApiResult<Update> {
        addons::update_addon(self, req).await
    }

    async fn delete_addon(&self, cluster: &str, name: &str) -> ApiResult<()> {
        addons::delete_addon(self, cluster, name).await
    }

    async fn describe_addon_versions(&self, name: &str) -> ApiResult<Vec<AddonVersion>> {
        addons::describe_addon_versions(self, name).await
    }

    async fn list_nodegroups(&self, cluster: &str) -> ApiResult<Vec<String>> {
        nodegroups::list_nodegroups(self, cluster).await
    }

    async fn describe_nodegroup(&self, cluster: &str, name: &str) -> ApiResult<LiveNodeGroup> {
        nodegroups::describe_nodegroup(self, cluster, name).await
    }

    async fn create_nodegroup(&self, req: &CreateNodeGroup) -> ApiResult<LiveNodeGroup> {
        nodegroups::create_nodegroup(self, req).await
    }

    async fn update_nodegroup_config(&self, req: &NodeGroupConfigUpdate) -> ApiResult<Update> {
        nodegroups::update_nodegroup_config(self, req).await
    }

    async fn update_nodegroup_version(&self, req: &NodeGroupVersionUpdate) -> ApiResult<Update> {
        nodegroups::update_nodegroup_version(self, req).await
    }

    async fn delete_nodegroup(&self, cluster: &str, name: &str) -> ApiResult<()> {
        nodegroups::delete_nodegroup(self, cluster, name).await
    }

    async fn list_fargate_profiles(&self, cluster: &str) -> ApiResult<Vec<String>> {
        access::list_fargate_profiles(self, cluster).await
    }

    async fn describe_fargate_profile(
        &self,
        cluster: &str,
        name: &str,
    ) -> ApiResult<LiveFargateProfile> {
        access::describe_fargate_profile(self, cluster, name).await
    }

    async fn create_fargate_profile(
        &self,
        req: &CreateFargateProfile,
    ) -> ApiResult<LiveFargateProfile> {
        access::create_fargate_profile(self, req).await
    }

    async fn delete_fargate_profile(&self, cluster: &str, name: &str) -> ApiResult<()> {
        access::delete_fargate_profile(self, cluster, name).await
    }

    async fn list_access_entries(&self, cluster: &str) -> ApiResult<Vec<String>> {
        access::list_access_entries(self, cluster).await
    }

    async fn describe_access_entry(
        &self,
        cluster: &str,
        principal: &str,
    ) -> ApiResult<LiveAccessEntry> {
        access::describe_access_entry(self, cluster, principal).await
    }

    async fn create_access_entry(&self, req: &CreateAccessEntry) -> ApiResult<()> {
        access::create_access_entry(self, req).await
    }

    async fn update_access_entry(
        &self,
        cluster: &str,
        principal: &str,
        groups: &[String],
        username: Option<&str>,
    ) -> ApiResult<()> {
        access::update_access_entry(self, cluster, principal, groups, username).await
    }

    async fn delete_access_entry(&self, cluster: &str, principal: &str) -> ApiResult<()> {
        access::delete_access_entry(self, cluster, principal).await
    }

    async fn associate_access_policy(
        &self,
        cluster: &str,
        principal: &str,
        policy: &AccessPolicy,
    ) -> ApiResult<()> {
        access::associate_access_policy(self, cluster, principal, policy).await
    }

    async fn disassociate_access_policy(
        &self,
        cluster: &str,
        principal: &str,
        policy_arn: &str,
    ) -> ApiResult<()> {
        access::disassociate_access_policy(self, cluster, principal, policy_arn).await
    }

    async fn list_pod_identity_associations(
        &self,
        cluster: &str,
    ) -> ApiResult<Vec<PodIdentitySummary>> {
        access::list_pod_identity_associations(self, cluster).await
    }

    async fn describe_pod_identity_association(
        &self,
        cluster: &str,
        id: &str,
    ) -> ApiResult<LivePodIdentity> {
        access::describe_pod_identity_association(self, cluster, id).await
    }

    async fn create_pod_identity_association(
        &self,
        req: &CreatePodIdentity,
    ) -> ApiResult<LivePodIdentity> {
        access::create_pod_identity_association(self, req).await
    }

    async fn update_pod_identity_association(
        &self,
        cluster: &str,
        id: &str,
        spec: &PodIdentityAssociationSpec,
    ) -> ApiResult<()> {
        access::update_pod_identity_association(self, cluster, id, spec).await
    }

    async fn delete_pod_identity_association(&self, cluster: &str, id: &str) -> ApiResult<()> {
        access::delete_pod_identity_association(self, cluster, id).await
    }

    async fn describe_cluster_versions(&self) -> ApiResult<Vec<ClusterVersionInfo>> {
        clusters::describe_cluster_versions(self).await
    }

    async fn list_insights(&self, cluster: &str) -> ApiResult<Vec<Insight>> {
        clusters::list_insights(self, cluster).await
    }

    async fn describe_insight(&self, cluster: &str, id: &str) -> ApiResult<Insight> {
        clusters::describe_insight(self, cluster, id).await
    }

    async fn list_clusters_located(&self) -> ApiResult<Vec<ListedCluster>> {
        clusters::list_clusters_located(self).await
    }

    async fn describe_listed(&self, at: &ListedCluster) -> ApiResult<LiveCluster> {
        clusters::describe_listed(self, at).await
    }

    fn locate(&self, at: &ListedCluster) {
        // The repository's own clusters keep the location git gives them.
        if self.cluster_regions.contains_key(&at.name) {
            return;
        }
        let region = at
            .region
            .clone()
            .unwrap_or_else(|| self.default_region.clone());
        lock(&self.located).insert(at.name.clone(), (region, at.role.clone()));
    }

    async fn cancel_update(&self, cluster: &str, id: &str) -> ApiResult<Update> {
        rollback::cancel_update(self, cluster, id).await
    }

    async fn start_insights_refresh(&self, cluster: &str) -> ApiResult<InsightsRefresh> {
        rollback::start_insights_refresh(self, cluster).await
    }

    async fn describe_insights_refresh(&self, cluster: &str) -> ApiResult<InsightsRefresh> {
        rollback::describe_insights_refresh(self, cluster).await
    }

    fn call_counts(&self) -> BTreeMap<String, u64> {
        self.calls()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_smithy_types::timeout::TimeoutConfig;

    use super::*;

    fn shared(timeouts: Option<TimeoutConfig>) -> aws_config::SdkConfig {
        let mut b = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(Region::new("eu-west-1"));
        b.set_timeout_config(timeouts);
        b.build()
    }

    #[test]
    fn clients_on_the_shared_configuration_bound_connects_and_attempts() {
        let eks = AwsEks::new(&shared(None), "eu-west-1".into(), BTreeMap::new(), 3);
        let client = eks.client("eu-west-1", None);
        let t = client.config().timeout_config().unwrap();
        assert_eq!(t.connect_timeout(), Some(Duration::from_secs(10)));
        assert_eq!(t.operation_attempt_timeout(), Some(Duration::from_secs(30)));
    }

    #[test]
    fn timeouts_set_in_the_shared_configuration_are_kept() {
        let own = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(2))
            .build();
        let eks = AwsEks::new(&shared(Some(own)), "eu-west-1".into(), BTreeMap::new(), 3);
        let t = eks
            .client("eu-west-1", None)
            .config()
            .timeout_config()
            .cloned()
            .unwrap();
        assert_eq!(t.connect_timeout(), Some(Duration::from_secs(2)));
        assert_eq!(t.operation_attempt_timeout(), Some(Duration::from_secs(30)));
    }
}
