//! keelson's limit on its EKS request rate: one adaptive token bucket
//! ([`crate::adapters::ratelimit`]) per AWS account and region in the process, in front of
//! the HTTP client of every EKS client, so that plan, apply and the daemon's resyncs share
//! it and every HTTP attempt, the SDK's retries included, takes a token.
//!
//! ```text
//!  KEELSON_EKS_RATE   20   requests per second per account and region (sustained)
//!  KEELSON_EKS_BURST  20   requests sent at once after a quiet period
//!
//!  aws-sdk-eks client (region, role) ─► RateLimited HTTP client
//!        │ Limiters::limiter(account of the role, region) ─► acquire(priority)
//!        │     priority: POST/DELETE (writes) and requests inside `ratelimit::urgent`
//!        │     (an apply) are urgent; plan and resync reads are background
//!        ▼
//!  the SDK's HTTP client ─► EKS ─► 429 / ThrottlingException ─► limiter.answered(true)
//! ```
//!
//! Defaults: EKS publishes no request rates for its API. AWS services that do publish
//! theirs allow at least 20 requests per second, sustained, per account and region for
//! their read actions (EC2's "non-mutating actions": a bucket of 100 refilled at 20 per
//! second, in the EC2 API reference's "Request throttling" page), so keelson starts
//! there, with a burst of one second's worth, and halves its rate when EKS says
//! otherwise. The rate is shared with everything else in the account, so a lower
//! `KEELSON_EKS_RATE` leaves room for other tools.
//!
//! With the SDK's own retries: keelson keeps the SDK in its *standard* retry mode, not
//! *adaptive*, whose client-side limiter would be a second bucket per client (so per role
//! and region, not per account) without priorities, and would back off twice for one
//! throttle. Standard mode only spaces the retries of one call (exponential backoff with
//! jitter, 500 ms doubling to at most 20 s, 8 attempts) and keeps a retry quota; a retried
//! attempt queues for a token like any other request, so a throttle costs the call its
//! backoff once and slows the whole account's requests once (the limiter halves its rate
//! at most once per second and recovers linearly): the two bounds do not compound. The time a request waits for its token counts against the SDK's
//! per-attempt timeout (30 s by default), which stays far above the wait at keelson's
//! concurrency (8 clusters at a time: under a second at 20 requests per second).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use aws_sdk_eks::config::{HttpClient, RuntimeComponents, SharedHttpClient};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
use aws_smithy_types::config_bag::ConfigBag;

use super::timeouts::{number, BadSetting};
use crate::adapters::ratelimit::{Limiter, Priority, RateSettings};

/// The environment variable for the sustained rate.
pub const RATE_ENV: &str = "KEELSON_EKS_RATE";
/// The environment variable for the burst.
pub const BURST_ENV: &str = "KEELSON_EKS_BURST";

/// The default rate and burst (see the module documentation for why).
pub const DEFAULT: RateSettings = RateSettings {
    rate: 20.0,
    burst: 20,
};

/// The rate settings: the defaults, overridden by `KEELSON_EKS_RATE` and
/// `KEELSON_EKS_BURST` when set.
///
/// # Errors
/// A rate that is not a number from 0.5 to 10000, or a burst that is not a whole number
/// from 1 to 10000.
pub fn settings_from_env() -> Result<RateSettings, BadSetting> {
    settings_from_lookup(|k| std::env::var(k).ok())
}

/// As [`settings_from_env`], reading variables through `get`.
///
/// # Errors
/// As [`settings_from_env`].
pub fn settings_from_lookup(
    get: impl Fn(&str) -> Option<String>,
) -> Result<RateSettings, BadSetting> {
    let rate = number(
        &get,
        RATE_ENV,
        DEFAULT.rate,
        |r| (0.5..=10_000.0).contains(r),
        "a number of requests per second from 0.5 to 10000",
    )?;
    let burst = number(
        &get,
        BURST_ENV,
        DEFAULT.burst,
        |b| (1..=10_000).contains(b),
        "a whole number of requests from 1 to 10000",
    )?;
    Ok(RateSettings { rate, burst })
}

/// One limiter per account and region.
#[derive(Debug)]
pub struct Limiters {
    settings: RateSettings,
    by_place: Mutex<BTreeMap<(String, String), Arc<Limiter>>>,
}

impl Limiters {
    /// Limiters with `settings`, of their own (tests, one-off clients).
    pub fn new(settings: RateSettings) -> Arc<Limiters> {
        Arc::new(Limiters {
            settings,
            by_place: Mutex::new(BTreeMap::new()),
        })
    }

    /// The process's limiters: made with the first caller's settings, then shared by
    /// every AWS connection of the process (a daemon's syncs, a plan before its apply).
    pub fn process(settings: RateSettings) -> Arc<Limiters> {
        static PROCESS: OnceLock<Arc<Limiters>> = OnceLock::new();
        PROCESS.get_or_init(|| Limiters::new(settings)).clone()
    }

    /// The limiter of the account a role belongs to (the caller's own account when
    /// `role` is `None`) in `region`.
    pub fn limiter(&self, region: &str, role: Option<&str>) -> Arc<Limiter> {
        // arn:aws:iam::ACCOUNT:role/NAME; an ARN without an account keeps its own bucket.
        let account = match role {
            Some(r) => r.split(':').nth(4).filter(|a| !a.is_empty()).unwrap_or(r),
            None => "caller",
        };
        let key = (account.to_string(), region.to_string());
        let mut by_place = self.by_place.lock().unwrap_or_else(PoisonError::into_inner);
        by_place
            .entry(key)
            .or_insert_with(|| Arc::new(Limiter::new(self.settings)))
            .clone()
    }

    /// Throttled answers seen so far, summed over every account and region.
    pub fn throttled(&self) -> u64 {
        let by_place = self.by_place.lock().unwrap_or_else(PoisonError::into_inner);
        by_place.values().map(|l| l.throttled_count()).sum()
    }
}

/// The SDK's HTTP client with a limiter in front.
#[derive(Debug, Clone)]
pub(crate) struct RateLimited {
    inner: SharedHttpClient,
    limiter: Arc<Limiter>,
}

impl RateLimited {
    pub(crate) fn new(inner: SharedHttpClient, limiter: Arc<Limiter>) -> RateLimited {
        RateLimited { inner, limiter }
    }
}

/// The SDK's default HTTPS client (hyper 1, rustls on aws-lc), for clients whose
/// configuration names none, built as aws-smithy-runtime's `default_https_client` builds
/// it for the latest behaviour version: the connector settings and sleep of each client,
/// and the proxy from the environment (`HTTPS_PROXY`, `NO_PROXY`, …).
pub(crate) fn default_http_client() -> SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::{tls, ConnectorBuilder};
    aws_smithy_http_client::Builder::new().build_with_connector_fn(|settings, components| {
        let mut conn = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        conn.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            conn.set_sleep_impl(components.sleep_impl());
        }
        conn.set_proxy_config(Some(ProxyConfig::from_env()));
        conn.build()
    })
}

impl HttpClient for RateLimited {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(LimitedConnector {
            inner: self.inner.http_connector(settings, components),
            limiter: self.limiter.clone(),
        })
    }

    fn validate_base_client_config(
        &self,
        components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_base_client_config(components, cfg)
    }

    fn validate_final_config(
        &self,
        components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_final_config(components, cfg)
    }
}

#[derive(Debug)]
struct LimitedConnector {
    inner: SharedHttpConnector,
    limiter: Arc<Limiter>,
}

impl HttpConnector for LimitedConnector {
    fn call(&self, request: aws_sdk_eks::config::http::HttpRequest) -> HttpConnectorFuture {
        // EKS is a REST API: reads are GETs, every change a POST, PUT or DELETE. The
        // priority is taken now, in the caller's task, where `ratelimit::urgent` is seen.
        let priority = Priority::for_request(!matches!(request.method(), "GET" | "HEAD"));
        let (inner, limiter) = (self.inner.clone(), self.limiter.clone());
        HttpConnectorFuture::new(async move {
            limiter.acquire(priority).await;
            let answer = inner.call(request).await;
            if let Ok(r) = &answer {
                limiter.answered(is_throttling(r));
            }
            answer
        })
    }
}

/// Whether an answer says the request rate was too high: HTTP 429 (EKS's
/// `ThrottlingException` shape carries `"error": {"httpStatusCode": 429}` in botocore's
/// `eks/2017-11-01/service-2.json`), or a throttling error code on another status.
fn is_throttling(r: &HttpResponse) -> bool {
    if r.status().as_u16() == 429 {
        return true;
    }
    // rest-json names the error in `x-amzn-ErrorType` (`Code:namespace` at most).
    r.headers().get("x-amzn-errortype").is_some_and(|t| {
        let code = t.split(':').next().unwrap_or(t);
        matches!(
            code,
            "ThrottlingException"
                | "TooManyRequestsException"
                | "Throttling"
                | "RequestLimitExceeded"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> Result<RateSettings, BadSetting> {
        settings_from_lookup(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn unset_variables_give_the_defaults_and_set_ones_override() {
        assert_eq!(with(&[]).unwrap(), DEFAULT);
        let s = with(&[(RATE_ENV, "7.5"), (BURST_ENV, "3")]).unwrap();
        assert_eq!(
            s,
            RateSettings {
                rate: 7.5,
                burst: 3
            }
        );
    }

    #[test]
    fn unusable_values_name_the_variable() {
        let e = with(&[(RATE_ENV, "0")]).unwrap_err().to_string();
        assert!(e.contains("KEELSON_EKS_RATE=`0`"), "{e}");
        let e = with(&[(BURST_ENV, "1.5")]).unwrap_err().to_string();
        assert!(e.contains("KEELSON_EKS_BURST=`1.5`"), "{e}");
        assert!(e.contains("default (20)"), "{e}");
    }

    #[test]
    fn roles_of_one_account_share_a_limiter_per_region() {
        let l = Limiters::new(DEFAULT);
        let a = l.limiter("eu-west-1", Some("arn:aws:iam::111122223333:role/keelson"));
        let b = l.limiter("eu-west-1", Some("arn:aws:iam::111122223333:role/plan"));
        let c = l.limiter("us-east-1", Some("arn:aws:iam::111122223333:role/keelson"));
        let d = l.limiter("eu-west-1", None);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(!Arc::ptr_eq(&a, &d));
    }

    #[test]
    fn throttling_answers_are_told_by_status_or_error_type() {
        let answer = |status: u16, kind: Option<&str>| {
            let mut b = http::Response::builder().status(status);
            if let Some(k) = kind {
                b = b.header("x-amzn-ErrorType", k);
            }
            HttpResponse::try_from(b.body(aws_smithy_types::body::SdkBody::empty()).unwrap())
                .unwrap()
        };
        assert!(is_throttling(&answer(429, Some("ThrottlingException"))));
        assert!(is_throttling(&answer(429, None)));
        assert!(is_throttling(&answer(
            400,
            Some("ThrottlingException:http://internal.amazon.com/")
        )));
        assert!(!is_throttling(&answer(
            400,
            Some("InvalidParameterException")
        )));
        assert!(!is_throttling(&answer(200, None)));
    }
}
