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
//!  port call ─► region of the cluster ─► aws-sdk-eks client (retries, call counter)
//!                                          └─► SdkError ─► ApiError (op, resource, region)
//! ```
//!
//! Call counts are taken per HTTP attempt, so a call retried twice counts three times:
//! that is what counts against the account's EKS request rate.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::error::Error as StdError;
use std::fmt::Display;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_eks::config::{Intercept, Region};
use aws_sdk_eks::types as sdk;
use aws_sdk_eks::Client;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, InterceptorContext,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use serde_json::Value;

use crate::model::live::*;
use crate::model::*;
use crate::ports::*;

/// First wait before a retry; the SDK doubles it (with jitter) per attempt.
const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(20);

/// The hint attached to every credential failure.
const CREDENTIALS_HINT: &str =
    "refresh your credentials (aws sso login / new session) and run keelson again";

/// Error codes AWS returns for throttling, beyond the modeled `ThrottlingException`.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
];

/// Error codes meaning the credentials themselves are expired or invalid.
const CREDENTIAL_CODES: &[&str] = &[
    "ExpiredToken",
    "ExpiredTokenException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "IncompleteSignatureException",
    "MissingAuthenticationToken",
    "MissingAuthenticationTokenException",
    "AuthFailure",
    "RequestExpired",
];

/// Error codes meaning the principal lacks a permission.
const PERMISSION_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedException",
];

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

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
    /// Role ARN keelson assumes per cluster; clusters not listed use the caller's own
    /// credentials.
    cluster_roles: BTreeMap<String, String>,
    /// Credentials per assumed role ARN.
    role_credentials: BTreeMap<String, SharedCredentialsProvider>,
    /// Clients by region, or by region and assumed role.
    clients: Mutex<BTreeMap<(String, Option<String>), Client>>,
    calls: Arc<Mutex<BTreeMap<String, u64>>>,
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
            cluster_roles: BTreeMap::new(),
            role_credentials: BTreeMap::new(),
            clients: Mutex::new(BTreeMap::new()),
            calls: Arc::default(),
        }
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
            cluster_roles: BTreeMap::new(),
            role_credentials: BTreeMap::new(),
            clients: Mutex::new(clients),
            calls,
        }
    }

    /// Calls made so far by operation name (`DescribeCluster`, ...), one per HTTP attempt.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        lock(&self.calls).clone()
    }

    /// The region a cluster's calls go to.
    pub fn region_for(&self, cluster: &str) -> String {
        self.cluster_regions
            .get(cluster)
            .cloned()
            .unwrap_or_else(|| self.default_region.clone())
    }

    /// Where ListClusters must look: every (region, assumed role) the repo's clusters
    /// use, or the default region with the caller's credentials when no cluster is known.
    fn listing_routes(&self) -> BTreeSet<(String, Option<String>)> {
        let mut routes: BTreeSet<(String, Option<String>)> = self
            .cluster_regions
            .keys()
            .map(|c| (self.region_for(c), self.cluster_roles.get(c).cloned()))
            .collect();
        if routes.is_empty() {
            routes.insert((self.default_region.clone(), None));
        }
        routes
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
        let client = Client::from_conf(builder.region(Region::new(region.to_string())).build());
        clients.insert(key, client.clone());
        client
    }

    /// Client and error context for a call on a cluster.
    fn on_cluster(&self, op: &'static str, cluster: &str, what: String) -> (Client, Call) {
        let region = self.region_for(cluster);
        let role = self.cluster_roles.get(cluster).map(String::as_str);
        tracing::debug!(op, cluster, %region, role, "EKS call");
        (self.client(&region, role), Call { op, what, region })
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
            Some(c) => self.cluster_roles.get(c).cloned(),
            None => self.catalog_role(),
        };
        tracing::debug!(op, %region, role, "EKS call");
        (
            self.client(&region, role.as_deref()),
            Call { op, what, region },
        )
    }
}

/// The cluster an EKS ARN belongs to: `arn:aws:eks:REGION:ACCOUNT:cluster/NAME`,
/// `nodegroup/NAME/...`, `addon/NAME/...`, `fargateprofile/NAME/...`,
/// `podidentityassociation/NAME/...`, `access-entry/NAME/...`.
fn arn_cluster(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let mut parts = resource.split('/');
    parts.next()?;
    parts.next().filter(|n| !n.is_empty())
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

// ───────────────────────────── Errors ─────────────────────────────

/// What a call was about, for error messages.
#[derive(Debug)]
struct Call {
    op: &'static str,
    what: String,
    region: String,
}

impl Call {
    fn prefix(&self) -> String {
        format!("{} on {} in {}", self.op, self.what, self.region)
    }

    fn other(&self, detail: impl Display) -> ApiError {
        ApiError::Other(format!("{}: {detail}", self.prefix()))
    }

    fn credentials(&self, detail: impl Display) -> ApiError {
        ApiError::AccessDenied(format!(
            "{}: the AWS credentials are missing, expired or invalid ({detail}); {CREDENTIALS_HINT}",
            self.prefix()
        ))
    }

    fn permission(&self, detail: impl Display) -> ApiError {
        ApiError::AccessDenied(format!(
            "{}: {detail}; the IAM principal needs eks:{} on this resource (check its policies, or use another role)",
            self.prefix(),
            self.op
        ))
    }

    /// Classify an SDK error the way the simulator classifies its own.
    fn fail<E>(&self, err: SdkError<E, HttpResponse>) -> ApiError
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
        aws_sdk_eks::Error: From<E>,
    {
        let prefix = self.prefix();
        match err {
            SdkError::ServiceError(ctx) => {
                let status = ctx.raw().status().as_u16();
                self.service_error(aws_sdk_eks::Error::from(ctx.into_err()), status)
            }
            SdkError::TimeoutError(_) => ApiError::Unavailable(format!(
                "{prefix}: EKS did not answer in time; try again later"
            )),
            SdkError::ResponseError(r) => {
                let status = r.raw().status().as_u16();
                let detail = format!("unreadable answer from EKS (HTTP {status})");
                match status {
                    429 => throttled(format!("{prefix}: {detail}")),
                    500..=599 => unavailable(format!("{prefix}: {detail}")),
                    _ => self.other(detail),
                }
            }
            other => {
                let chain = error_chain(&other);
                if has_credentials_error(&other) || mentions_credentials(&chain) {
                    return self.credentials(chain);
                }
                let lower = chain.to_ascii_lowercase();
                if !looks_like_region(&self.region)
                    || (lower.contains("endpoint") && lower.contains("region"))
                {
                    return self.other(format!(
                        "region `{}` is not a known AWS region ({chain}); check the cluster's `region`",
                        self.region
                    ));
                }
                if matches!(other, SdkError::DispatchFailure(_)) {
                    let dns = lower.contains("dns")
                        || lower.contains("lookup")
                        || lower.contains("resolve");
                    let hint = if dns {
                        format!(
                            "the EKS endpoint of region `{}` does not resolve: check that the region exists and is enabled for the account, and the network",
                            self.region
                        )
                    } else {
                        "check the network, proxy and any AWS_ENDPOINT_URL_EKS override".to_string()
                    };
                    return ApiError::Unavailable(format!(
                        "{prefix}: could not reach EKS ({chain}); {hint}"
                    ));
                }
                self.other(format!("could not send the request ({chain})"))
            }
        }
    }

    fn service_error(&self, e: aws_sdk_eks::Error, status: u16) -> ApiError {
        use aws_sdk_eks::Error as E;
        let prefix = self.prefix();
        let code = e.code().map(str::to_string);
        let detail = match (e.code(), e.message()) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (None, Some(m)) => m.to_string(),
            (Some(c), None) => format!("{c} (HTTP {status})"),
            // A modeled error without metadata carries its name and message in Display.
            (None, None) => match e.to_string() {
                d if d.starts_with("unhandled error") => {
                    format!("HTTP {status} without an error code")
                }
                d => d,
            },
        };
        let msg = format!("{prefix}: {detail}");
        match e {
            E::ResourceNotFoundException(_) | E::NotFoundException(_) => ApiError::NotFound(msg),
            E::ResourceInUseException(_) => ApiError::ResourceInUse(msg),
            E::ResourceLimitExceededException(_) => {
                if means_busy(&detail) {
                    ApiError::ResourceInUse(msg)
                } else {
                    ApiError::InvalidRequest(format!(
                        "{msg}; a service quota is reached: remove unused resources or ask AWS for a higher quota"
                    ))
                }
            }
            E::InvalidParameterException(_)
            | E::BadRequestException(_)
            | E::UnsupportedAvailabilityZoneException(_) => ApiError::InvalidParameter(msg),
            E::InvalidRequestException(_) | E::InvalidStateException(_) | E::ClientException(_) => {
                ApiError::InvalidRequest(msg)
            }
            E::ThrottlingException(_) => throttled(msg),
            E::ServerException(_)
            | E::ServiceUnavailableException(_)
            | E::ResourcePropagationDelayException(_) => unavailable(msg),
            E::AccessDeniedException(_) => {
                if mentions_credentials(&detail) {
                    self.credentials(detail)
                } else {
                    self.permission(detail)
                }
            }
            _ => self.unmodeled(code.as_deref(), status, detail),
        }
    }

    /// Errors the EKS model does not list: classify by code, then by HTTP status.
    fn unmodeled(&self, code: Option<&str>, status: u16, detail: String) -> ApiError {
        let msg = format!("{}: {detail}", self.prefix());
        match code {
            Some(c) if THROTTLING_CODES.contains(&c) => throttled(msg),
            Some(c) if CREDENTIAL_CODES.contains(&c) => self.credentials(detail),
            Some(c) if PERMISSION_CODES.contains(&c) => {
                if mentions_credentials(&detail) {
                    self.credentials(detail)
                } else {
                    self.permission(detail)
                }
            }
            Some("ValidationException" | "SerializationException") => {
                ApiError::InvalidParameter(msg)
            }
            Some("InternalFailure" | "InternalServerError" | "ServiceUnavailable") => {
                unavailable(msg)
            }
            // AWS always names its errors; a bare 404 or 501 is an endpoint without the
            // operation (third-party EKS implementations used for testing, such as moto).
            None if matches!(status, 404 | 501) => ApiError::NotImplemented(format!(
                "{}: the endpoint does not implement {} (HTTP {status} without an error code)",
                self.prefix(),
                self.op
            )),
            _ => match status {
                429 => throttled(msg),
                500..=599 => unavailable(msg),
                401 => self.credentials(detail),
                403 => self.permission(detail),
                404 => ApiError::NotFound(msg),
                _ => ApiError::Other(msg),
            },
        }
    }
}

fn throttled(msg: String) -> ApiError {
    ApiError::Throttled(format!(
        "{msg}; EKS is throttling this account after retries with backoff: lower `maxConcurrency` or try again later"
    ))
}

fn unavailable(msg: String) -> ApiError {
    ApiError::Unavailable(format!(
        "{msg}; EKS failed on its side after retries: try again later"
    ))
}

/// The messages of an error's sources (the SDK's own wrapper says only "dispatch
/// failure" and the like), joined.
fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let Some(first) = err.source() else {
        return err.to_string();
    };
    let mut parts = vec![first.to_string()];
    let mut cur = first.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

fn has_credentials_error(err: &(dyn StdError + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if e.downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
            .is_some()
        {
            return true;
        }
        cur = e.source();
    }
    false
}

fn mentions_credentials(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("credential")
        || t.contains("security token")
        || t.contains("token included in the request is expired")
        || t.contains("identity resolver")
}

/// A limit error that means "wait for the running operation" rather than a quota.
fn means_busy(detail: &str) -> bool {
    let t = detail.to_ascii_lowercase();
    [
        "in progress",
        "at a time",
        "concurrent",
        "currently",
        "already",
    ]
    .iter()
    .any(|w| t.contains(w))
}

/// `xx-name-1`, `us-gov-west-1`, `us-isob-east-1`, ...
fn looks_like_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

// ───────────────────────────── Mapping helpers ─────────────────────────────

/// A model string enum from the API's spelling, if keelson knows the value.
fn known<T: Copy + Display>(all: &[T], s: &str) -> Option<T> {
    all.iter().copied().find(|v| v.to_string() == s)
}

/// Same, for an SDK enum; an unknown value is logged and dropped.
fn known_or_warn<T: Copy + Display>(all: &[T], what: &str, s: &str) -> Option<T> {
    let v = known(all, s);
    if v.is_none() {
        tracing::warn!(
            value = s,
            "EKS returned a {what} keelson does not know; ignored"
        );
    }
    v
}

fn tags(t: Option<&HashMap<String, String>>) -> Tags {
    t.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

fn hash_map(t: &BTreeMap<String, String>) -> Option<HashMap<String, String>> {
    if t.is_empty() {
        None
    } else {
        Some(t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
}

fn non_empty(v: &[String]) -> Option<Vec<String>> {
    if v.is_empty() {
        None
    } else {
        Some(v.to_vec())
    }
}

fn u32_of(v: i32) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

fn i32_of(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// The region field of an ARN (`arn:aws:eks:REGION:ACCOUNT:...`).
fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// Lifecycle status; failed states fold into `Failed`, an unknown state counts as busy so
/// that keelson waits rather than acts.
fn status(s: Option<&str>) -> Status {
    match s {
        Some("ACTIVE") => Status::Active,
        Some("CREATING" | "PENDING") => Status::Creating,
        Some("UPDATING") => Status::Updating,
        Some("DELETING") => Status::Deleting,
        Some("DEGRADED") => Status::Degraded,
        Some("FAILED" | "CREATE_FAILED" | "DELETE_FAILED" | "UPDATE_FAILED") => Status::Failed,
        other => {
            tracing::warn!(
                status = other.unwrap_or("(none)"),
                "EKS returned an unknown status; treated as busy"
            );
            Status::Updating
        }
    }
}

/// Configuration values as EKS stores them: a JSON document when they parse, else the
/// raw string (EKS also accepts YAML).
fn parse_configuration(s: Option<&str>) -> Option<Value> {
    let s = s?;
    if s.trim().is_empty() {
        return None;
    }
    Some(serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string())))
}

/// Configuration values as EKS takes them: a JSON string (a string value is sent as is).
fn configuration_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn update_type(raw: Option<&sdk::UpdateType>, nodegroup: bool) -> Option<UpdateType> {
    use sdk::UpdateType as U;
    Some(match raw? {
        U::VersionUpdate if nodegroup => UpdateType::NodegroupVersionUpdate,
        U::VersionUpdate | U::VersionRollback => UpdateType::VersionUpdate,
        U::EndpointAccessUpdate => UpdateType::EndpointAccessUpdate,
        U::LoggingUpdate => UpdateType::LoggingUpdate,
        U::AccessConfigUpdate => UpdateType::AccessConfigUpdate,
        U::AutoModeUpdate => UpdateType::AutoModeUpdate,
        U::UpgradePolicyUpdate => UpdateType::UpgradePolicyUpdate,
        U::DeletionProtectionUpdate => UpdateType::DeletionProtectionUpdate,
        U::VpcConfigUpdate => UpdateType::VpcConfigUpdate,
        U::AddonUpdate => UpdateType::AddonUpdate,
        U::ConfigUpdate => UpdateType::ConfigUpdate,
        _ => return None,
    })
}

/// An EKS update as the model has it. Update types keelson has no name for are reported
/// as `ConfigUpdate`, with EKS's own name in the `UpdateType` parameter.
///
/// An answer without an update comes from endpoints that apply the change at once (moto
/// answers UpdateClusterConfig with the cluster): it is reported as a finished update
/// with an empty id, which nothing can describe later.
fn to_update(
    call: &Call,
    u: Option<&sdk::Update>,
    nodegroup: bool,
    fallback: Option<UpdateType>,
) -> ApiResult<Update> {
    let Some(u) = u else {
        tracing::warn!(
            op = call.op,
            what = %call.what,
            "the endpoint answered without an update; treated as applied"
        );
        return Ok(Update {
            id: String::new(),
            update_type: fallback.unwrap_or(UpdateType::ConfigUpdate),
            status: UpdateStatus::Successful,
            params: BTreeMap::new(),
            errors: Vec::new(),
        });
    };
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    for p in u.params() {
        let (Some(k), Some(v)) = (p.r#type(), p.value()) else {
            continue;
        };
        params
            .entry(k.as_str().to_string())
            .and_modify(|cur| {
                cur.push(',');
                cur.push_str(v);
            })
            .or_insert_with(|| v.to_string());
    }
    let kind = match update_type(u.r#type(), nodegroup) {
        Some(t) => t,
        None => {
            if let Some(raw) = u.r#type() {
                params.insert("UpdateType".into(), raw.as_str().to_string());
            }
            fallback.unwrap_or(UpdateType::ConfigUpdate)
        }
    };
    let status = match u.status() {
        Some(sdk::UpdateStatus::InProgress) => UpdateStatus::InProgress,
        Some(sdk::UpdateStatus::Successful) => UpdateStatus::Successful,
        Some(sdk::UpdateStatus::Failed) => UpdateStatus::Failed,
        Some(sdk::UpdateStatus::Cancelled) => UpdateStatus::Cancelled,
        other => {
            tracing::warn!(
                status = other.map_or("(none)", |s| s.as_str()),
                "EKS returned an unknown update status; treated as in progress"
            );
            UpdateStatus::InProgress
        }
    };
    let errors = u
        .errors()
        .iter()
        .map(|e| {
            let code = e.error_code().map_or("Unknown", |c| c.as_str());
            let mut s = format!("{code}: {}", e.error_message().unwrap_or(""));
            if !e.resource_ids().is_empty() {
                s.push_str(&format!(" ({})", e.resource_ids().join(", ")));
            }
            s
        })
        .collect();
    Ok(Update {
        id: u.id().unwrap_or_default().to_string(),
        update_type: kind,
        status,
        params,
        errors,
    })
}

// ───────────────────────────── Clusters ─────────────────────────────

fn live_cluster(c: &sdk::Cluster, name: &str, region: &str) -> LiveCluster {
    let vpc = c.resources_vpc_config();
    let knc = c.kubernetes_network_config();
    let elb = knc.and_then(|k| k.elastic_load_balancing());
    let compute = c.compute_config();
    let storage = c.storage_config().and_then(|s| s.block_storage());
    let auto_mode = if compute.is_some() || storage.is_some() || elb.is_some() {
        let am = AutoMode {
            compute: AutoCompute {
                enabled: compute.and_then(|c| c.enabled()).unwrap_or(false),
                node_pools: compute.map(|c| c.node_pools().to_vec()).unwrap_or_default(),
                node_role_arn: compute.and_then(|c| c.node_role_arn()).map(str::to_string),
            },
            block_storage: Toggle {
                enabled: storage.and_then(|s| s.enabled()).unwrap_or(false),
            },
            load_balancing: Toggle {
                enabled: elb.and_then(|e| e.enabled()).unwrap_or(false),
            },
        };
        // EKS may echo an all-off configuration on clusters that never used Auto Mode.
        let off = !am.compute.enabled
            && !am.block_storage.enabled
            && !am.load_balancing.enabled
            && am.compute.node_pools.is_empty()
            && am.compute.node_role_arn.is_none();
        (!off).then_some(am)
    } else {
        None
    };
    let mut logging: Vec<LogType> = Vec::new();
    for setup in c.logging().map(|l| l.cluster_logging()).unwrap_or_default() {
        if setup.enabled() == Some(true) {
            for t in setup.types() {
                if let Some(l) = known_or_warn(LogType::ALL, "log type", t.as_str()) {
                    if !logging.contains(&l) {
                        logging.push(l);
                    }
                }
            }
        }
    }
    logging.sort();
    let access = c.access_config().and_then(|a| {
        let mode = known_or_warn(
            AuthenticationMode::ALL,
            "authentication mode",
            a.authentication_mode()?.as_str(),
        )?;
        Some(AccessConfig {
            authentication_mode: mode,
            bootstrap_cluster_creator_admin_permissions: a
                .bootstrap_cluster_creator_admin_permissions(),
        })
    });
    let upgrade_policy = c.upgrade_policy().and_then(|u| {
        let st = known_or_warn(SupportType::ALL, "support type", u.support_type()?.as_str())?;
        Some(UpgradePolicy { support_type: st })
    });
    let secrets_kms_key_arn = c
        .encryption_config()
        .iter()
        .find_map(|e| e.provider().and_then(|p| p.key_arn()))
        .map(str::to_string);
    LiveCluster {
        name: c.name().unwrap_or(name).to_string(),
        region: region.to_string(),
        arn: c.arn().unwrap_or_default().to_string(),
        status: status(c.status().map(|s| s.as_str())),
        version: c.version().unwrap_or_default().to_string(),
        platform_version: c.platform_version().unwrap_or_default().to_string(),
        endpoint: c.endpoint().unwrap_or_default().to_string(),
        certificate_authority: c
            .certificate_authority()
            .and_then(|ca| ca.data())
            .unwrap_or_default()
            .to_string(),
        role_arn: c.role_arn().unwrap_or_default().to_string(),
        vpc: VpcConfig {
            subnet_ids: vpc.map(|v| v.subnet_ids().to_vec()).unwrap_or_default(),
            security_group_ids: vpc
                .map(|v| v.security_group_ids().to_vec())
                .unwrap_or_default(),
            endpoint_public_access: vpc.is_some_and(|v| v.endpoint_public_access()),
            endpoint_private_access: vpc.is_some_and(|v| v.endpoint_private_access()),
            public_access_cidrs: vpc
                .map(|v| v.public_access_cidrs().to_vec())
                .unwrap_or_default(),
        },
        kubernetes_network: knc.map(|k| KubernetesNetwork {
            service_ipv4_cidr: k.service_ipv4_cidr().map(str::to_string),
            ip_family: k
                .ip_family()
                .and_then(|f| known_or_warn(IpFamily::ALL, "IP family", f.as_str())),
        }),
        auto_mode,
        logging,
        access,
        upgrade_policy,
        deletion_protection: c.deletion_protection().unwrap_or(false),
        secrets_kms_key_arn,
        tags: tags(c.tags()),
    }
}

fn vpc_request(v: &VpcConfig) -> sdk::VpcConfigRequest {
    sdk::VpcConfigRequest::builder()
        .set_subnet_ids(Some(v.subnet_ids.clone()))
        .set_security_group_ids(non_empty(&v.security_group_ids))
        .endpoint_public_access(v.endpoint_public_access)
        .endpoint_private_access(v.endpoint_private_access)
        .set_public_access_cidrs(non_empty(&v.public_access_cidrs))
        .build()
}

/// Logging with `enabled` on; with `disable_others`, every other type explicitly off.
fn logging_request(enabled: &[LogType], disable_others: bool) -> sdk::Logging {
    let on: Vec<sdk::LogType> = enabled
        .iter()
        .map(|l| sdk::LogType::from(l.as_str()))
        .collect();
    let off: Vec<sdk::LogType> = LogType::ALL
        .iter()
        .filter(|l| !enabled.contains(l))
        .map(|l| sdk::LogType::from(l.as_str()))
        .collect();
    let mut setups = Vec::new();
    if !on.is_empty() {
        setups.push(
            sdk::LogSetup::builder()
                .set_types(Some(on))
                .enabled(true)
                .build(),
        );
    }
    if disable_others && !off.is_empty() {
        setups.push(
            sdk::LogSetup::builder()
                .set_types(Some(off))
                .enabled(false)
                .build(),
        );
    }
    sdk::Logging::builder()
        .set_cluster_logging(Some(setups))
        .build()
}

fn compute_request(a: &AutoMode) -> sdk::ComputeConfigRequest {
    let b = sdk::ComputeConfigRequest::builder().enabled(a.compute.enabled);
    if a.compute.enabled {
        b.set_node_pools(Some(a.compute.node_pools.clone()))
            .set_node_role_arn(a.compute.node_role_arn.clone())
            .build()
    } else {
        b.build()
    }
}

fn storage_request(a: &AutoMode) -> sdk::StorageConfigRequest {
    sdk::StorageConfigRequest::builder()
        .block_storage(
            sdk::BlockStorage::builder()
                .enabled(a.block_storage.enabled)
                .build(),
        )
        .build()
}

fn network_request(
    k: Option<&KubernetesNetwork>,
    a: Option<&AutoMode>,
) -> Option<sdk::KubernetesNetworkConfigRequest> {
    if k.is_none() && a.is_none() {
        return None;
    }
    let mut b = sdk::KubernetesNetworkConfigRequest::builder();
    if let Some(k) = k {
        b = b
            .set_service_ipv4_cidr(k.service_ipv4_cidr.clone())
            .set_ip_family(k.ip_family.map(|f| sdk::IpFamily::from(f.as_str())));
    }
    if let Some(a) = a {
        b = b.elastic_load_balancing(
            sdk::ElasticLoadBalancing::builder()
                .enabled(a.load_balancing.enabled)
                .build(),
        );
    }
    Some(b.build())
}

/// Envelope encryption of secrets with a KMS key. `resources` is deprecated since EKS
/// encrypts all API data from 1.28 on, but `secrets` stays its only accepted value and
/// older API versions still require it.
#[allow(deprecated)]
fn secrets_encryption(key: &str) -> sdk::EncryptionConfig {
    sdk::EncryptionConfig::builder()
        .resources("secrets")
        .provider(sdk::Provider::builder().key_arn(key).build())
        .build()
}

// ───────────────────────────── Add-ons ─────────────────────────────

fn addon_status(s: Option<&sdk::AddonStatus>) -> Status {
    status(s.map(|s| s.as_str()))
}

fn addon_pod_identities(
    call: &Call,
    pia: &[AddonPodIdentity],
) -> ApiResult<Vec<sdk::AddonPodIdentityAssociations>> {
    pia.iter()
        .map(|p| {
            sdk::AddonPodIdentityAssociations::builder()
                .service_account(&p.service_account)
                .role_arn(&p.role_arn)
                .build()
                .map_err(|e| {
                    ApiError::InvalidParameter(format!(
                        "{}: bad Pod Identity association for service account `{}`: {e}",
                        call.prefix(),
                        p.service_account
                    ))
                })
        })
        .collect()
}

/// The association id at the end of a Pod Identity association ARN.
fn association_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

// ───────────────────────────── Node groups ─────────────────────────────

fn taint_effect(call: &Call, e: Option<&sdk::TaintEffect>) -> ApiResult<NodeGroupTaintEffect> {
    match e {
        Some(sdk::TaintEffect::NoSchedule) => Ok(NodeGroupTaintEffect::NoSchedule),
        Some(sdk::TaintEffect::NoExecute) => Ok(NodeGroupTaintEffect::NoExecute),
        Some(sdk::TaintEffect::PreferNoSchedule) => Ok(NodeGroupTaintEffect::PreferNoSchedule),
        other => Err(call.other(format!(
            "EKS returned a taint effect keelson does not know ({}); upgrade keelson",
            other.map_or("none", |e| e.as_str())
        ))),
    }
}

fn sdk_taint(t: &NodeGroupTaint) -> sdk::Taint {
    sdk::Taint::builder()
        .key(&t.key)
        .set_value(t.value.clone())
        .effect(sdk::TaintEffect::from(t.effect.as_str()))
        .build()
}

fn live_nodegroup(call: &Call, n: &sdk::Nodegroup, name: &str) -> ApiResult<LiveNodeGroup> {
    let scaling = n.scaling_config();
    let taints = n
        .taints()
        .iter()
        .map(|t| {
            Ok(NodeGroupTaint {
                key: t.key().unwrap_or_default().to_string(),
                value: t.value().map(str::to_string),
                effect: taint_effect(call, t.effect())?,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let labels = n
        .labels()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    Ok(LiveNodeGroup {
        name: n.nodegroup_name().unwrap_or(name).to_string(),
        arn: n.nodegroup_arn().unwrap_or_default().to_string(),
        status: status(n.status().map(|s| s.as_str())),
        spec: NodeGroupSpec {
            node_role_arn: n.node_role().unwrap_or_default().to_string(),
            subnet_ids: n.subnets().to_vec(),
            instance_types: n.instance_types().to_vec(),
            ami_type: n
                .ami_type()
                .and_then(|a| known_or_warn(AmiType::ALL, "AMI type", a.as_str())),
            capacity_type: n
                .capacity_type()
                .and_then(|c| known_or_warn(CapacityType::ALL, "capacity type", c.as_str())),
            scaling: Scaling {
                min_size: scaling.and_then(|s| s.min_size()).map_or(0, u32_of),
                max_size: scaling.and_then(|s| s.max_size()).map_or(0, u32_of),
                desired_size: scaling.and_then(|s| s.desired_size()).map(u32_of),
            },
            disk_size: n.disk_size().map(u32_of),
            version: n.version().map(str::to_string),
            release_version: n.release_version().map(str::to_string),
            labels,
            taints,
            update_config: n.update_config().map(|u| UpdateConfig {
                max_unavailable: u.max_unavailable().map(u32_of),
                max_unavailable_percentage: u.max_unavailable_percentage().map(u32_of),
            }),
            launch_template: n.launch_template().map(|l| LaunchTemplate {
                id: l.id().map(str::to_string),
                name: l.name().map(str::to_string),
                version: l.version().map(str::to_string),
            }),
            tags: tags(n.tags()),
        },
    })
}

fn scaling_request(s: &Scaling) -> sdk::NodegroupScalingConfig {
    sdk::NodegroupScalingConfig::builder()
        .min_size(i32_of(s.min_size))
        .max_size(i32_of(s.max_size))
        .set_desired_size(s.desired_size.map(i32_of))
        .build()
}

fn update_config_request(u: &UpdateConfig) -> sdk::NodegroupUpdateConfig {
    sdk::NodegroupUpdateConfig::builder()
        .set_max_unavailable(u.max_unavailable.map(i32_of))
        .set_max_unavailable_percentage(u.max_unavailable_percentage.map(i32_of))
        .build()
}

fn launch_template_request(l: &LaunchTemplate) -> sdk::LaunchTemplateSpecification {
    sdk::LaunchTemplateSpecification::builder()
        .set_id(l.id.clone())
        .set_name(l.name.clone())
        .set_version(l.version.clone())
        .build()
}

/// The UpdateNodegroupConfig payload that moves `current` labels to `desired`.
fn labels_payload(
    current: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) -> Option<sdk::UpdateLabelsPayload> {
    let add: HashMap<String, String> = desired
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove: Vec<String> = current
        .keys()
        .filter(|k| !desired.contains_key(*k))
        .cloned()
        .collect();
    if add.is_empty() && remove.is_empty() {
        return None;
    }
    Some(
        sdk::UpdateLabelsPayload::builder()
            .set_add_or_update_labels((!add.is_empty()).then_some(add))
            .set_remove_labels((!remove.is_empty()).then_some(remove))
            .build(),
    )
}

/// The UpdateNodegroupConfig payload that moves `current` taints to `desired`. A taint is
/// identified by key and effect, as in Kubernetes.
fn taints_payload(
    current: &[NodeGroupTaint],
    desired: &[NodeGroupTaint],
) -> Option<sdk::UpdateTaintsPayload> {
    let add: Vec<sdk::Taint> = desired
        .iter()
        .filter(|t| !current.contains(t))
        .map(sdk_taint)
        .collect();
    let remove: Vec<sdk::Taint> = current
        .iter()
        .filter(|c| {
            !desired
                .iter()
                .any(|d| d.key == c.key && d.effect == c.effect)
        })
        .map(sdk_taint)
        .collect();
    if add.is_empty() && remove.is_empty() {
        return None;
    }
    Some(
        sdk::UpdateTaintsPayload::builder()
            .set_add_or_update_taints((!add.is_empty()).then_some(add))
            .set_remove_taints((!remove.is_empty()).then_some(remove))
            .build(),
    )
}

// ───────────────────────────── Fargate, access, Pod Identity ─────────────────────────────

fn live_fargate(f: &sdk::FargateProfile, name: &str) -> LiveFargateProfile {
    LiveFargateProfile {
        name: f.fargate_profile_name().unwrap_or(name).to_string(),
        arn: f.fargate_profile_arn().unwrap_or_default().to_string(),
        status: status(f.status().map(|s| s.as_str())),
        spec: FargateProfileSpec {
            pod_execution_role_arn: f.pod_execution_role_arn().unwrap_or_default().to_string(),
            subnet_ids: f.subnets().to_vec(),
            selectors: f
                .selectors()
                .iter()
                .map(|s| FargateSelector {
                    namespace: s.namespace().unwrap_or_default().to_string(),
                    labels: s
                        .labels()
                        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default(),
                })
                .collect(),
            tags: tags(f.tags()),
        },
    }
}

fn access_scope_request(s: &AccessScope) -> sdk::AccessScope {
    sdk::AccessScope::builder()
        .r#type(sdk::AccessScopeType::from(s.scope_type.as_str()))
        .set_namespaces(non_empty(&s.namespaces))
        .build()
}

fn access_policy(p: &sdk::AssociatedAccessPolicy) -> AccessPolicy {
    let scope = p.access_scope();
    let namespaces = scope.map(|s| s.namespaces().to_vec()).unwrap_or_default();
    let scope_type = scope
        .and_then(|s| s.r#type())
        .and_then(|t| known_or_warn(AccessScopeType::ALL, "access scope type", t.as_str()))
        .unwrap_or(if namespaces.is_empty() {
            AccessScopeType::Cluster
        } else {
            AccessScopeType::Namespace
        });
    AccessPolicy {
        policy_arn: p.policy_arn().unwrap_or_default().to_string(),
        access_scope: AccessScope {
            scope_type,
            namespaces,
        },
    }
}

fn live_pod_identity(p: &sdk::PodIdentityAssociation, id: &str) -> LivePodIdentity {
    LivePodIdentity {
        association_id: p.association_id().unwrap_or(id).to_string(),
        arn: p.association_arn().unwrap_or_default().to_string(),
        spec: PodIdentityAssociationSpec {
            namespace: p.namespace().unwrap_or_default().to_string(),
            service_account: p.service_account().unwrap_or_default().to_string(),
            role_arn: p.role_arn().unwrap_or_default().to_string(),
            target_role_arn: p.target_role_arn().map(str::to_string),
            disable_session_tags: p.disable_session_tags().unwrap_or(false),
            tags: tags(p.tags()),
        },
    }
}

// ───────────────────────────── The port ─────────────────────────────

#[async_trait]
impl EksApi for AwsEks {
    async fn list_clusters(&self) -> ApiResult<Vec<String>> {
        let mut names = BTreeSet::new();
        for (region, role) in self.listing_routes() {
            let call = Call {
                op: "ListClusters",
                what: "clusters".into(),
                region: region.clone(),
            };
            let client = self.client(&region, role.as_deref());
            let mut token: Option<String> = None;
            loop {
                let out = client
                    .list_clusters()
                    .set_next_token(token.take())
                    .send()
                    .await
                    .map_err(|e| call.fail(e))?;
                names.extend(out.clusters().iter().cloned());
                match out.next_token() {
                    Some(t) if !t.is_empty() => token = Some(t.to_string()),
                    _ => break,
                }
            }
        }
        Ok(names.into_iter().collect())
    }

    async fn describe_cluster(&self, name: &str) -> ApiResult<LiveCluster> {
        let (client, call) = self.on_cluster("DescribeCluster", name, format!("cluster {name}"));
        let out = client
            .describe_cluster()
            .name(name)
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        let c = out
            .cluster()
            .ok_or_else(|| call.other("EKS returned no cluster in its answer"))?;
        Ok(live_cluster(c, name, &call.region))
    }

    async fn create_cluster(&self, req: &CreateCluster) -> ApiResult<LiveCluster> {
        let spec = &req.spec;
        let region = spec.region.clone();
        let (client, call) = self.in_region(
            "CreateCluster",
            region,
            Some(&req.name),
            format!("cluster {}", req.name),
        );
        let mut b = client
            .create_cluster()
            .name(&req.name)
            .version(&spec.version)
            .role_arn(&spec.role_arn)
            .resources_vpc_config(vpc_request(&spec.vpc))
            .set_kubernetes_network_config(network_request(
                spec.kubernetes_network.as_ref(),
                spec.auto_mode.as_ref(),
            ))
            .set_tags(hash_map(&req.tags))
            .client_request_token(&req.client_request_token);
        if !spec.logging.is_empty() {
            b = b.logging(logging_request(&spec.logging, false));
        }
        if let Some(a) = &spec.access {
            b = b.access_config(
                sdk::CreateAccessConfigRequest::builder()
                    .authentication_mode(sdk::AuthenticationMode::from(
                        a.authentication_mode.as_str(),
                    ))
                    .set_bootstrap_cluster_creator_admin_permissions(
                        a.bootstrap_cluster_creator_admin_permissions,
                    )
                    .build(),
            );
        }
        if let Some(u) = &spec.upgrade_policy {
            b = b.upgrade_policy(
                sdk::UpgradePolicyRequest::builder()
                    .support_type(sdk::SupportType::from(u.support_type.as_str()))
                    .build(),
            );
        }
        if let Some(a) = &spec.auto_mode {
            b = b
                .compute_config(compute_request(a))
                .storage_config(storage_request(a));
            // Auto Mode runs VPC CNI, kube-proxy and CoreDNS itself: do not also install
            // the self-managed copies EKS bootstraps by default.
            if a.compute.enabled {
                b = b.bootstrap_self_managed_addons(false);
            }
        }
        if spec.deletion_protection {
            b = b.deletion_protection(true);
        }
        if let Some(key) = &spec.secrets_kms_key_arn {
            b = b.encryption_config(secrets_encryption(key));
        }
        let out = b.send().await.map_err(|e| call.fail(e))?;
        let c = out
            .cluster()
            .ok_or_else(|| call.other("EKS returned no cluster in its answer"))?;
        Ok(live_cluster(c, &req.name, &call.region))
    }

    async fn delete_cluster(&self, name: &str) -> ApiResult<()> {
        let (client, call) = self.on_cluster("DeleteCluster", name, format!("cluster {name}"));
        client
            .delete_cluster()
            .name(name)
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        Ok(())
    }

    async fn update_cluster_config(
        &self,
        name: &str,
        change: &ClusterConfigUpdate,
    ) -> ApiResult<Update> {
        let (client, call) =
            self.on_cluster("UpdateClusterConfig", name, format!("cluster {name}"));
        let b = client.update_cluster_config().name(name);
        let b = match change {
            ClusterConfigUpdate::Logging { enabled } => b.logging(logging_request(enabled, true)),
            ClusterConfigUpdate::EndpointAccess {
                public,
                private,
                public_access_cidrs,
            } => b.resources_vpc_config(
                sdk::VpcConfigRequest::builder()
                    .endpoint_public_access(*public)
                    .endpoint_private_access(*private)
                    .set_public_access_cidrs(non_empty(public_access_cidrs))
                    .build(),
            ),
            ClusterConfigUpdate::Vpc {
                subnet_ids,
                security_group_ids,
            } => b.resources_vpc_config(
                sdk::VpcConfigRequest::builder()
                    .set_subnet_ids(Some(subnet_ids.clone()))
                    .set_security_group_ids(Some(security_group_ids.clone()))
                    .build(),
            ),
            ClusterConfigUpdate::Access {
                authentication_mode,
            } => b.access_config(
                sdk::UpdateAccessConfigRequest::builder()
                    .authentication_mode(sdk::AuthenticationMode::from(
                        authentication_mode.as_str(),
                    ))
                    .build(),
            ),
            ClusterConfigUpdate::AutoMode { auto_mode } => b
                .compute_config(compute_request(auto_mode))
                .storage_config(storage_request(auto_mode))
                .set_kubernetes_network_config(network_request(None, Some(auto_mode))),
            ClusterConfigUpdate::UpgradePolicy { support_type } => b.upgrade_policy(
                sdk::UpgradePolicyRequest::builder()
                    .support_type(sdk::SupportType::from(support_type.as_str()))
                    .build(),
            ),
            ClusterConfigUpdate::DeletionProtection { enabled } => b.deletion_protection(*enabled),
        };
        let out = b.send().await.map_err(|e| call.fail(e))?;
        to_update(&call, out.update(), false, Some(change.update_type()))
    }

    async fn update_cluster_version(&self, name: &str, version: &str) -> ApiResult<Update> {
        let (client, call) = self.on_cluster(
            "UpdateClusterVersion",
            name,
            format!("cluster {name} (to {version})"),
        );
        let out = client
            .update_cluster_version()
            .name(name)
            .version(version)
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        to_update(&call, out.update(), false, Some(UpdateType::VersionUpdate))
    }

    async fn list_updates(
        &self,
        cluster: &str,
        nodegroup: Option<&str>,
        addon: Option<&str>,
    ) -> ApiResult<Vec<String>> {
        let what = match (nodegroup, addon) {
            (Some(n), _) => format!("node group {n} of cluster {cluster}"),
            (None, Some(a)) => format!("add-on {a} of cluster {cluster}"),
            (None, None) => format!("cluster {cluster}"),
        };
        let (client, call) = self.on_cluster("ListUpdates", cluster, what);
        let mut ids = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = client
                .list_updates()
                .name(cluster)
                .set_nodegroup_name(nodegroup.map(str::to_string))
                .set_addon_name(addon.map(str::to_string))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| call.fail(e))?;
            ids.extend(out.update_ids().iter().cloned());
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(ids)
    }

    async fn describe_update(
        &self,
        cluster: &str,
        id: &str,
        nodegroup: Option<&str>,
        addon: Option<&str>,
    ) -> ApiResult<Update> {
        let (client, call) = self.on_cluster(
            "DescribeUpdate",
            cluster,
            format!("update {id} of cluster {cluster}"),
        );
        let out = client
            .describe_update()
            .name(cluster)
            .update_id(id)
            .set_nodegroup_name(nodegroup.map(str::to_string))
            .set_addon_name(addon.map(str::to_string))
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        let fallback = addon.map(|_| UpdateType::AddonUpdate);
        to_update(&call, out.update(), nodegroup.is_some(), fallback)
    }

    async fn tag_resource(&self, arn: &str, tags: &Tags) -> ApiResult<()> {
        let region = arn_region(arn).map_or_else(|| self.default_region.clone(), str::to_string);
        let (client, call) = self.in_region(
            "TagResource",
            region,
            arn_cluster(arn),
            format!("resource {arn}"),
        );
        client
            .tag_resource()
            .resource_arn(arn)
            .set_tags(hash_map(tags))
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        Ok(())
    }

    async fn untag_resource(&self, arn: &str, keys: &[String]) -> ApiResult<()> {
        let region = arn_region(arn).map_or_else(|| self.default_region.clone(), str::to_string);
        let (client, call) = self.in_region(
            "UntagResource",
            region,
            arn_cluster(arn),
            format!("resource {arn}"),
        );
        client
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(keys.to_vec()))
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        Ok(())
    }

    async fn list_addons(&self, cluster: &str) -> ApiResult<Vec<String>> {
        let (client, call) = self.on_cluster("ListAddons", cluster, format!("cluster {cluster}"));
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = client
                .list_addons()
                .cluster_name(cluster)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| call.fail(e))?;
            names.extend(out.addons().iter().cloned());
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(names)
    }

    async fn describe_addon(&self, cluster: &str, name: &str) -> ApiResult<LiveAddon> {
        let (client, call) = self.on_cluster(
            "DescribeAddon",
            cluster,
            format!("add-on {name} of cluster {cluster}"),
        );
        let out = client
            .describe_addon()
            .cluster_name(cluster)
            .addon_name(name)
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        let a = out
            .addon()
            .ok_or_else(|| call.other("EKS returned no add-on in its answer"))?;
        // EKS lists the add-on's Pod Identity associations by ARN only.
        let mut pia = Vec::new();
        for arn in a.pod_identity_associations() {
            let p = self
                .describe_pod_identity_association(cluster, association_id(arn))
                .await?;
            pia.push(AddonPodIdentity {
                service_account: p.spec.service_account,
                role_arn: p.spec.role_arn,
            });
        }
        pia.sort_by(|a, b| a.service_account.cmp(&b.service_account));
        Ok(LiveAddon {
            name: a.addon_name().unwrap_or(name).to_string(),
            arn: a.addon_arn().unwrap_or_default().to_string(),
            version: a.addon_version().unwrap_or_default().to_string(),
            status: addon_status(a.status()),
            configuration_values: parse_configuration(a.configuration_values()),
            service_account_role_arn: a.service_account_role_arn().map(str::to_string),
            pod_identity_associations: pia,
            tags: tags(a.tags()),
        })
    }

    async fn create_addon(&self, req: &AddonRequest) -> ApiResult<LiveAddon> {
        let (client, call) = self.on_cluster(
            "CreateAddon",
            &req.cluster,
            format!("add-on {} of cluster {}", req.name, req.cluster),
        );
        let pia = addon_pod_identities(&call, &req.pod_identity_associations)?;
        let out = client
            .create_addon()
            .cluster_name(&req.cluster)
            .addon_name(&req.name)
            .addon_version(&req.version)
            .set_configuration_values(req.configuration_values.as_ref().map(configuration_string))
            .set_service_account_role_arn(req.service_account_role_arn.clone())
            .set_pod_identity_associations((!pia.is_empty()).then_some(pia))
            .set_resolve_conflicts(
                req.resolve_conflicts
                    .map(|r| sdk::ResolveConflicts::from(r.as_str())),
            )
            .set_tags(hash_map(&req.tags))
            .client_request_token(&req.client_request_token)
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        let a = out
            .addon()
            .ok_or_else(|| call.other("EKS returned no add-on in its answer"))?;
        Ok(LiveAddon {
            name: a.addon_name().unwrap_or(&req.name).to_string(),
            arn: a.addon_arn().unwrap_or_default().to_string(),
            version: a.addon_version().unwrap_or(&req.version).to_string(),
            status: addon_status(a.status()),
            configuration_values: parse_configuration(a.configuration_values())
                .or_else(|| req.configuration_values.clone()),
            service_account_role_arn: a
                .service_account_role_arn()
                .map(str::to_string)
                .or_else(|| req.service_account_role_arn.clone()),
            // EKS answers with association ARNs; the ones asked for are the ones made.
            pod_identity_associations: req.pod_identity_associations.clone(),
            tags: tags(a.tags()),
        })
    }

    async fn update_addon(&self, req: &AddonRequest) -> ApiResult<Update> {
        let (client, call) = self.on_cluster(
            "UpdateAddon",
            &req.cluster,
            format!("add-on {} of cluster {}", req.name, req.cluster),
        );
        let pia = addon_pod_identities(&call, &req.pod_identity_associations)?;
        // The port replaces the add-on's settings: an empty string clears the
        // configuration, an empty list removes the add-on's Pod Identity associations.
        let out = client
            .update_addon()
            .cluster_name(&req.cluster)
            .addon_name(&req.name)
            .addon_version(&req.version)
            .configuration_values(
                req.configuration_values
                    .as_ref()
                    .map(configuration_string)
                    .unwrap_or_default(),
            )
            .set_service_account_role_arn(req.service_account_role_arn.clone())
            .set_pod_identity_associations(Some(pia))
            .set_resolve_conflicts(
                req.resolve_conflicts
                    .map(|r| sdk::ResolveConflicts::from(r.as_str())),
            )
            .client_request_token(&req.client_request_token)
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        to_update(&call, out.update(), false, Some(UpdateType::AddonUpdate))
    }

    async fn delete_addon(&self, cluster: &str, name: &str) -> ApiResult<()> {
        let (client, call) = self.on_cluster(
            "DeleteAddon",
            cluster,
            format!("add-on {name} of cluster {cluster}"),
        );
        client
            .delete_addon()
            .cluster_name(cluster)
            .addon_name(name)
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        Ok(())
    }

    async fn describe_cluster_versions(&self) -> ApiResult<Vec<ClusterVersionInfo>> {
        let (client, call) = self.in_region(
            "DescribeClusterVersions",
            self.default_region.clone(),
            None,
            "cluster versions".to_string(),
        );
        let date = |d: Option<&aws_smithy_types::DateTime>| {
            d.map(|d| crate::versions::Date::from_unix(d.secs()).to_string())
        };
        let mut out_versions = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = client
                .describe_cluster_versions()
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| call.fail(e))?;
            for v in out.cluster_versions() {
                let Some(version) = v.cluster_version() else {
                    continue;
                };
                out_versions.push(ClusterVersionInfo {
                    version: version.to_string(),
                    status: v
                        .version_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_else(|| "UNKNOWN".to_string()),
                    default_version: v.default_version(),
                    release_date: date(v.release_date()),
                    end_of_standard_support: date(v.end_of_standard_support_date()),
                    end_of_extended_support: date(v.end_of_extended_support_date()),
                });
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(out_versions)
    }

    async fn list_insights(&self, cluster: &str) -> ApiResult<Vec<Insight>> {
        let (client, call) = self.on_cluster("ListInsights", cluster, format!("cluster {cluster}"));
        let mut insights = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = client
                .list_insights()
                .cluster_name(cluster)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| call.fail(e))?;
            for i in out.insights() {
                insights.push(Insight {
                    id: i.id().unwrap_or_default().to_string(),
                    name: i.name().unwrap_or_default().to_string(),
                    category: i
                        .category()
                        .map(|c| c.as_str().to_string())
                        .unwrap_or_default(),
                    kubernetes_version: i.kubernetes_version().map(str::to_string),
                    status: insight_status(
                        i.insight_status()
                            .and_then(|s| s.status())
                            .map(|s| s.as_str()),
                    ),
                    reason: i
                        .insight_status()
                        .and_then(|s| s.reason())
                        .unwrap_or_default()
                        .to_string(),
                    description: i.description().unwrap_or_default().to_string(),
                    recommendation: None,
                    deprecations: Vec::new(),
                });
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(insights)
    }

    async fn describe_insight(&self, cluster: &str, id: &str) -> ApiResult<Insight> {
        let (client, call) = self.on_cluster(
            "DescribeInsight",
            cluster,
            format!("insight {id} of cluster {cluster}"),
        );
        let out = client
            .describe_insight()
            .cluster_name(cluster)
            .id(id)
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        let i = out.insight().ok_or_else(|| {
            ApiError::NotFound(format!(
                "DescribeInsight on cluster {cluster}: no insight {id}"
            ))
        })?;
        Ok(Insight {
            id: i.id().unwrap_or(id).to_string(),
            name: i.name().unwrap_or_default().to_string(),
            category: i
                .category()
                .map(|c| c.as_str().to_string())
                .unwrap_or_default(),
            kubernetes_version: i.kubernetes_version().map(str::to_string),
            status: insight_status(
                i.insight_status()
                    .and_then(|s| s.status())
                    .map(|s| s.as_str()),
            ),
            reason: i
                .insight_status()
                .and_then(|s| s.reason())
                .unwrap_or_default()
                .to_string(),
            description: i.description().unwrap_or_default().to_string(),
            recommendation: i.recommendation().map(str::to_string),
            deprecations: i
                .category_specific_summary()
                .map(|c| {
                    c.deprecation_details()
                        .iter()
                        .map(|d| {
                            (
                                d.usage().unwrap_or_default().to_string(),
                                d.replaced_with().unwrap_or_default().to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    async fn describe_addon_versions(&self, name: &str) -> ApiResult<Vec<AddonVersion>> {
        let (client, call) = self.in_region(
            "DescribeAddonVersions",
            self.default_region.clone(),
            None,
            format!("add-on {name}"),
        );
        let mut versions = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = client
                .describe_addon_versions()
                .addon_name(name)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| call.fail(e))?;
            for info in out
                .addons()
                .iter()
                .filter(|i| i.addon_name().is_none_or(|n| n == name))
            {
                for v in info.addon_versions() {
                    let Some(version) = v.addon_version() else {
                        continue;
                    };
                    versions.push(AddonVersion {
                        version: version.to_string(),
                        compatibilities: v
                            .compatibilities()
                            .iter()
                            .filter_map(|c| {
                                Some(Compatibility {
                                    cluster_version: c.cluster_version()?.to_string(),
                                    default_version: c.default_version(),
                                })
                            })
                            .collect(),
                    });
                }
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(versions)
    }

    async fn list_nodegroups(&self, cluster: &str) -> ApiResult<Vec<String>> {
        let (client, call) =
            self.on_cluster("ListNodegroups", cluster, format!("cluster {cluster}"));
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = client
                .list_nodegroups()
                .cluster_name(cluster)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| call.fail(e))?;
            names.extend(out.nodegroups().iter().cloned());
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(names)
    }

    async fn describe_nodegroup(&self, cluster: &str, name: &str) -> ApiResult<LiveNodeGroup> {
        let (client, call) = self.on_cluster(
            "DescribeNodegroup",
            cluster,
            format!("node group {name} of cluster {cluster}"),
        );
        let out = client
            .describe_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(name)
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        let n = out
            .nodegroup()
            .ok_or_else(|| call.other("EKS returned no node group in its answer"))?;
        live_nodegroup(&call, n, name)
    }

    async fn create_nodegroup(&self, req: &CreateNodeGroup) -> ApiResult<LiveNodeGroup> {
        let (client, call) = self.on_cluster(
            "CreateNodegroup",
            &req.cluster,
            format!("node group {} of cluster {}", req.name, req.cluster),
        );
        let spec = &req.spec;
        let taints: Vec<sdk::Taint> = spec.taints.iter().map(sdk_taint).collect();
        let out = client
            .create_nodegroup()
            .cluster_name(&req.cluster)
            .nodegroup_name(&req.name)
            .node_role(&spec.node_role_arn)
            .set_subnets(Some(spec.subnet_ids.clone()))
            .set_instance_types(non_empty(&spec.instance_types))
            .set_ami_type(spec.ami_type.map(|a| sdk::AmiTypes::from(a.as_str())))
            .set_capacity_type(
                spec.capacity_type
                    .map(|c| sdk::CapacityTypes::from(c.as_str())),
            )
            .scaling_config(scaling_request(&spec.scaling))
            .set_disk_size(spec.disk_size.map(i32_of))
            .set_version(spec.version.clone())
            .set_release_version(spec.release_version.clone())
            .set_labels(hash_map(&spec.labels))
            .set_taints((!taints.is_empty()).then_some(taints))
            .set_update_config(spec.update_config.as_ref().map(update_config_request))
            .set_launch_template(spec.launch_template.as_ref().map(launch_template_request))
            .set_tags(hash_map(&spec.tags))
            .client_request_token(&req.client_request_token)
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        let n = out
            .nodegroup()
            .ok_or_else(|| call.other("EKS returned no node group in its answer"))?;
        live_nodegroup(&call, n, &req.name)
    }

    async fn update_nodegroup_config(&self, req: &NodeGroupConfigUpdate) -> ApiResult<Update> {
        // Labels and taints go as add-or-update and remove sets against what runs now.
        let (labels, taints) = if req.labels.is_some() || req.taints.is_some() {
            let current = self.describe_nodegroup(&req.cluster, &req.name).await?;
            (
                req.labels
                    .as_ref()
                    .and_then(|l| labels_payload(&current.spec.labels, l)),
                req.taints
                    .as_ref()
                    .and_then(|t| taints_payload(&current.spec.taints, t)),
            )
        } else {
            (None, None)
        };
        let (client, call) = self.on_cluster(
            "UpdateNodegroupConfig",
            &req.cluster,
            format!("node group {} of cluster {}", req.name, req.cluster),
        );
        let out = client
            .update_nodegroup_config()
            .cluster_name(&req.cluster)
            .nodegroup_name(&req.name)
            .set_scaling_config(req.scaling.as_ref().map(scaling_request))
            .set_labels(labels)
            .set_taints(taints)
            .set_update_config(req.update_config.as_ref().map(update_config_request))
            .client_request_token(&req.client_request_token)
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        to_update(&call, out.update(), true, Some(UpdateType::ConfigUpdate))
    }

    async fn update_nodegroup_version(&self, req: &NodeGroupVersionUpdate) -> ApiResult<Update> {
        let (client, call) = self.on_cluster(
            "UpdateNodegroupVersion",
            &req.cluster,
            format!(
                "node group {} of cluster {} (to {})",
                req.name, req.cluster, req.version
            ),
        );
        let out = client
            .update_nodegroup_version()
            .cluster_name(&req.cluster)
            .nodegroup_name(&req.name)
            .version(&req.version)
            .set_release_version(req.release_version.clone())
            .set_launch_template(req.launch_template.as_ref().map(launch_template_request))
            .client_request_token(&req.client_request_token)
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        to_update(
            &call,
            out.update(),
            true,
            Some(UpdateType::NodegroupVersionUpdate),
        )
    }

    async fn delete_nodegroup(&self, cluster: &str, name: &str) -> ApiResult<()> {
        let (client, call) = self.on_cluster(
            "DeleteNodegroup",
            cluster,
            format!("node group {name} of cluster {cluster}"),
        );
        client
            .delete_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(name)
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        Ok(())
    }

    async fn list_fargate_profiles(&self, cluster: &str) -> ApiResult<Vec<String>> {
        let (client, call) =
            self.on_cluster("ListFargateProfiles", cluster, format!("cluster {cluster}"));
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = client
                .list_fargate_profiles()
                .cluster_name(cluster)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| call.fail(e))?;
            names.extend(out.fargate_profile_names().iter().cloned());
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(names)
    }

    async fn describe_fargate_profile(
        &self,
        cluster: &str,
        name: &str,
    ) -> ApiResult<LiveFargateProfile> {
        let (client, call) = self.on_cluster(
            "DescribeFargateProfile",
            cluster,
            format!("Fargate profile {name} of cluster {cluster}"),
        );
        let out = client
            .describe_fargate_profile()
            .cluster_name(cluster)
            .fargate_profile_name(name)
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        let f = out
            .fargate_profile()
            .ok_or_else(|| call.other("EKS returned no Fargate profile in its answer"))?;
        Ok(live_fargate(f, name))
    }

    async fn create_fargate_profile(
        &self,
        req: &CreateFargateProfile,
    ) -> ApiResult<LiveFargateProfile> {
        let (client, call) = self.on_cluster(
            "CreateFargateProfile",
            &req.cluster,
            format!("Fargate profile {} of cluster {}", req.name, req.cluster),
        );
        let selectors = req
            .spec
            .selectors
            .iter()
            .map(|s| {
                sdk::FargateProfileSelector::builder()
                    .namespace(&s.namespace)
                    .set_labels(hash_map(&s.labels))
                    .build()
            })
            .collect();
        let out = client
            .create_fargate_profile()
            .cluster_name(&req.cluster)
            .fargate_profile_name(&req.name)
            .pod_execution_role_arn(&req.spec.pod_execution_role_arn)
            .set_subnets(non_empty(&req.spec.subnet_ids))
            .set_selectors(Some(selectors))
            .set_tags(hash_map(&req.spec.tags))
            .client_request_token(&req.client_request_token)
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        let f = out
            .fargate_profile()
            .ok_or_else(|| call.other("EKS returned no Fargate profile in its answer"))?;
        Ok(live_fargate(f, &req.name))
    }

    async fn delete_fargate_profile(&self, cluster: &str, name: &str) -> ApiResult<()> {
        let (client, call) = self.on_cluster(
            "DeleteFargateProfile",
            cluster,
            format!("Fargate profile {name} of cluster {cluster}"),
        );
        client
            .delete_fargate_profile()
            .cluster_name(cluster)
            .fargate_profile_name(name)
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        Ok(())
    }

    async fn list_access_entries(&self, cluster: &str) -> ApiResult<Vec<String>> {
        let (client, call) =
            self.on_cluster("ListAccessEntries", cluster, format!("cluster {cluster}"));
        let mut principals = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = client
                .list_access_entries()
                .cluster_name(cluster)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| call.fail(e))?;
            principals.extend(out.access_entries().iter().cloned());
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(principals)
    }

    async fn describe_access_entry(
        &self,
        cluster: &str,
        principal: &str,
    ) -> ApiResult<LiveAccessEntry> {
        let what = format!("access entry {principal} of cluster {cluster}");
        let (client, call) = self.on_cluster("DescribeAccessEntry", cluster, what.clone());
        let out = client
            .describe_access_entry()
            .cluster_name(cluster)
            .principal_arn(principal)
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        let e = out
            .access_entry()
            .ok_or_else(|| call.other("EKS returned no access entry in its answer"))?;
        let entry_type = e
            .r#type()
            .and_then(|t| known_or_warn(AccessEntryType::ALL, "access entry type", t))
            .unwrap_or_default();

        let (client, call) = self.on_cluster("ListAssociatedAccessPolicies", cluster, what);
        let mut policies = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = client
                .list_associated_access_policies()
                .cluster_name(cluster)
                .principal_arn(principal)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| call.fail(e))?;
            policies.extend(out.associated_access_policies().iter().map(access_policy));
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        policies.sort_by(|a, b| a.policy_arn.cmp(&b.policy_arn));
        Ok(LiveAccessEntry {
            arn: e.access_entry_arn().unwrap_or_default().to_string(),
            spec: AccessEntrySpec {
                principal_arn: e.principal_arn().unwrap_or(principal).to_string(),
                entry_type,
                kubernetes_groups: e.kubernetes_groups().to_vec(),
                username: e.username().map(str::to_string),
                policies,
                tags: tags(e.tags()),
            },
        })
    }

    async fn create_access_entry(&self, req: &CreateAccessEntry) -> ApiResult<()> {
        let spec = &req.spec;
        let (client, call) = self.on_cluster(
            "CreateAccessEntry",
            &req.cluster,
            format!(
                "access entry {} of cluster {}",
                spec.principal_arn, req.cluster
            ),
        );
        client
            .create_access_entry()
            .cluster_name(&req.cluster)
            .principal_arn(&spec.principal_arn)
            .r#type(spec.entry_type.as_str())
            .set_kubernetes_groups(non_empty(&spec.kubernetes_groups))
            .set_username(spec.username.clone())
            .set_tags(hash_map(&spec.tags))
            .client_request_token(&req.client_request_token)
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        Ok(())
    }

    async fn update_access_entry(
        &self,
        cluster: &str,
        principal: &str,
        groups: &[String],
        username: Option<&str>,
    ) -> ApiResult<()> {
        let (client, call) = self.on_cluster(
            "UpdateAccessEntry",
            cluster,
            format!("access entry {principal} of cluster {cluster}"),
        );
        client
            .update_access_entry()
            .cluster_name(cluster)
            .principal_arn(principal)
            .set_kubernetes_groups(Some(groups.to_vec()))
            .set_username(username.map(str::to_string))
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        Ok(())
    }

    async fn delete_access_entry(&self, cluster: &str, principal: &str) -> ApiResult<()> {
        let (client, call) = self.on_cluster(
            "DeleteAccessEntry",
            cluster,
            format!("access entry {principal} of cluster {cluster}"),
        );
        client
            .delete_access_entry()
            .cluster_name(cluster)
            .principal_arn(principal)
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        Ok(())
    }

    async fn associate_access_policy(
        &self,
        cluster: &str,
        principal: &str,
        policy: &AccessPolicy,
    ) -> ApiResult<()> {
        let (client, call) = self.on_cluster(
            "AssociateAccessPolicy",
            cluster,
            format!(
                "policy {} for {principal} on cluster {cluster}",
                policy.policy_arn
            ),
        );
        client
            .associate_access_policy()
            .cluster_name(cluster)
            .principal_arn(principal)
            .policy_arn(&policy.policy_arn)
            .access_scope(access_scope_request(&policy.access_scope))
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        Ok(())
    }

    async fn disassociate_access_policy(
        &self,
        cluster: &str,
        principal: &str,
        policy_arn: &str,
    ) -> ApiResult<()> {
        let (client, call) = self.on_cluster(
            "DisassociateAccessPolicy",
            cluster,
            format!("policy {policy_arn} for {principal} on cluster {cluster}"),
        );
        client
            .disassociate_access_policy()
            .cluster_name(cluster)
            .principal_arn(principal)
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        Ok(())
    }

    async fn list_pod_identity_associations(
        &self,
        cluster: &str,
    ) -> ApiResult<Vec<PodIdentitySummary>> {
        let (client, call) = self.on_cluster(
            "ListPodIdentityAssociations",
            cluster,
            format!("cluster {cluster}"),
        );
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = client
                .list_pod_identity_associations()
                .cluster_name(cluster)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| call.fail(e))?;
            all.extend(out.associations().iter().map(|s| PodIdentitySummary {
                association_id: s.association_id().unwrap_or_default().to_string(),
                namespace: s.namespace().unwrap_or_default().to_string(),
                service_account: s.service_account().unwrap_or_default().to_string(),
            }));
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(all)
    }

    async fn describe_pod_identity_association(
        &self,
        cluster: &str,
        id: &str,
    ) -> ApiResult<LivePodIdentity> {
        let (client, call) = self.on_cluster(
            "DescribePodIdentityAssociation",
            cluster,
            format!("Pod Identity association {id} of cluster {cluster}"),
        );
        let out = client
            .describe_pod_identity_association()
            .cluster_name(cluster)
            .association_id(id)
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        let p = out
            .association()
            .ok_or_else(|| call.other("EKS returned no association in its answer"))?;
        Ok(live_pod_identity(p, id))
    }

    async fn create_pod_identity_association(
        &self,
        req: &CreatePodIdentity,
    ) -> ApiResult<LivePodIdentity> {
        let spec = &req.spec;
        let (client, call) = self.on_cluster(
            "CreatePodIdentityAssociation",
            &req.cluster,
            format!(
                "Pod Identity association {}/{} of cluster {}",
                spec.namespace, spec.service_account, req.cluster
            ),
        );
        let out = client
            .create_pod_identity_association()
            .cluster_name(&req.cluster)
            .namespace(&spec.namespace)
            .service_account(&spec.service_account)
            .role_arn(&spec.role_arn)
            .set_target_role_arn(spec.target_role_arn.clone())
            .set_disable_session_tags(spec.disable_session_tags.then_some(true))
            .set_tags(hash_map(&spec.tags))
            .client_request_token(&req.client_request_token)
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        let p = out
            .association()
            .ok_or_else(|| call.other("EKS returned no association in its answer"))?;
        Ok(live_pod_identity(p, ""))
    }

    async fn update_pod_identity_association(
        &self,
        cluster: &str,
        id: &str,
        spec: &PodIdentityAssociationSpec,
    ) -> ApiResult<()> {
        let (client, call) = self.on_cluster(
            "UpdatePodIdentityAssociation",
            cluster,
            format!(
                "Pod Identity association {id} ({}/{}) of cluster {cluster}",
                spec.namespace, spec.service_account
            ),
        );
        client
            .update_pod_identity_association()
            .cluster_name(cluster)
            .association_id(id)
            .role_arn(&spec.role_arn)
            .set_target_role_arn(spec.target_role_arn.clone())
            .disable_session_tags(spec.disable_session_tags)
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        Ok(())
    }

    fn call_counts(&self) -> BTreeMap<String, u64> {
        self.calls()
    }

    async fn delete_pod_identity_association(&self, cluster: &str, id: &str) -> ApiResult<()> {
        let (client, call) = self.on_cluster(
            "DeletePodIdentityAssociation",
            cluster,
            format!("Pod Identity association {id} of cluster {cluster}"),
        );
        client
            .delete_pod_identity_association()
            .cluster_name(cluster)
            .association_id(id)
            .send()
            .await
            .map_err(|e| call.fail(e))?;
        Ok(())
    }
}

fn insight_status(s: Option<&str>) -> InsightStatus {
    match s {
        Some("PASSING") => InsightStatus::Passing,
        Some("WARNING") => InsightStatus::Warning,
        Some("ERROR") => InsightStatus::Error,
        _ => InsightStatus::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_recognised_by_shape() {
        assert!(looks_like_region("eu-west-1"));
        assert!(looks_like_region("us-gov-west-1"));
        assert!(looks_like_region("us-isob-east-1"));
        assert!(!looks_like_region("eu-west"));
        assert!(!looks_like_region("EU-WEST-1"));
        assert!(!looks_like_region("eu_west_1"));
    }

    #[test]
    fn configuration_values_parse_or_stay_strings() {
        assert_eq!(
            parse_configuration(Some(r#"{"replicaCount":2}"#)),
            Some(serde_json::json!({"replicaCount": 2}))
        );
        assert_eq!(
            parse_configuration(Some("replicaCount: 2")),
            Some(Value::String("replicaCount: 2".into()))
        );
        assert_eq!(parse_configuration(Some("  ")), None);
        assert_eq!(parse_configuration(None), None);
    }

    #[test]
    fn label_payload_adds_changes_and_removes() {
        let cur: BTreeMap<String, String> =
            [("a".into(), "1".into()), ("b".into(), "2".into())].into();
        let want: BTreeMap<String, String> = [
            ("a".into(), "1".into()),
            ("b".into(), "3".into()),
            ("c".into(), "4".into()),
        ]
        .into();
        let p = labels_payload(&cur, &want).unwrap();
        let add = p.add_or_update_labels().unwrap();
        assert_eq!(add.len(), 2);
        assert_eq!(add.get("b").map(String::as_str), Some("3"));
        assert!(p.remove_labels().is_empty());
        assert!(labels_payload(&cur, &cur).is_none());
        let p = labels_payload(&cur, &BTreeMap::new()).unwrap();
        assert_eq!(p.remove_labels().len(), 2);
    }

    #[test]
    fn association_ids_come_from_arns() {
        assert_eq!(
            association_id("arn:aws:eks:eu-west-1:111122223333:podidentityassociation/prod/a-abc"),
            "a-abc"
        );
        assert_eq!(
            arn_region("arn:aws:eks:eu-west-1:1:cluster/x"),
            Some("eu-west-1")
        );
        assert_eq!(arn_region("not-an-arn"), None);
    }
}
