//! `EksApi` on aws-sdk-eks, against aws-smithy-mocks and hand-made transports: retries,
//! error classes, timeouts, clients per region and assumed roles, insights and the
//! version calendar. Retries use millisecond backoffs.

use std::sync::{Arc, Mutex};

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::provider::{future, ProvideCredentials};
use aws_credential_types::Credentials;
use aws_sdk_eks::config::Region;
use aws_sdk_eks::operation::describe_cluster::DescribeClusterError;
use aws_sdk_eks::operation::update_cluster_version::UpdateClusterVersionError;
use aws_sdk_eks::types as sdk;
use aws_sdk_eks::types::error::{InvalidParameterException, ResourceNotFoundException};
use aws_sdk_eks::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

use keelson::adapters::aws::eks::AwsEks;
use keelson::ports::*;

use super::aws_mocks::{aws_error, calls, cluster_output, eks, fast_retries, CLUSTER, REGION};

// ───────────────────────────── Retries and errors ─────────────────────────────

#[tokio::test]
async fn throttling_is_retried_until_it_succeeds() {
    let rule = mock!(Client::describe_cluster)
        .sequence()
        .http_response(|| aws_error(400, "ThrottlingException", "Rate exceeded"))
        .times(2)
        .output(cluster_output)
        .build();
    let eks = eks(&[&rule]);

    let c = eks.describe_cluster(CLUSTER).await.unwrap();

    assert_eq!(c.name, CLUSTER);
    assert_eq!(rule.num_calls(), 3);
    assert_eq!(calls(&eks, "DescribeCluster"), 3);
}

#[tokio::test]
async fn a_bare_http_429_is_retried() {
    let rule = mock!(Client::describe_cluster)
        .sequence()
        .http_status(429, None)
        .output(cluster_output)
        .build();
    let eks = eks(&[&rule]);

    eks.describe_cluster(CLUSTER).await.unwrap();

    assert_eq!(calls(&eks, "DescribeCluster"), 2);
}

#[tokio::test]
async fn server_errors_exhaust_the_retries_as_unavailable() {
    let rule = mock!(Client::describe_cluster)
        .sequence()
        .http_status(503, None)
        .repeatedly()
        .build();
    let eks = eks(&[&rule]);

    let err = eks.describe_cluster(CLUSTER).await.unwrap_err();

    assert!(matches!(err, ApiError::Unavailable(_)), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(calls(&eks, "DescribeCluster"), 3);
}

#[tokio::test]
async fn access_denied_is_not_retried_and_names_the_operation_and_cluster() {
    let rule = mock!(Client::describe_cluster).then_http_response(|| {
        aws_error(
            403,
            "AccessDeniedException",
            "User: arn:aws:sts::111122223333:assumed-role/dev/me is not authorized to perform: eks:DescribeCluster",
        )
    });
    let eks = eks(&[&rule]);

    let err = eks.describe_cluster(CLUSTER).await.unwrap_err();

    let ApiError::AccessDenied(msg) = &err else {
        panic!("expected AccessDenied, got {err:?}");
    };
    assert!(msg.contains("DescribeCluster"), "{msg}");
    assert!(msg.contains(CLUSTER), "{msg}");
    assert!(msg.contains("eks:DescribeCluster"), "{msg}");
    assert!(!err.is_transient());
    assert_eq!(rule.num_calls(), 1);
    assert_eq!(calls(&eks, "DescribeCluster"), 1);
}

#[tokio::test]
async fn invalid_parameter_is_not_retried_and_names_the_operation_and_cluster() {
    let rule = mock!(Client::update_cluster_version).then_error(|| {
        UpdateClusterVersionError::InvalidParameterException(
            InvalidParameterException::builder()
                .message("Unsupported Kubernetes minor version update from 1.33 to 1.35")
                .build(),
        )
    });
    let eks = eks(&[&rule]);

    let err = eks
        .update_cluster_version(CLUSTER, "1.35")
        .await
        .unwrap_err();

    let ApiError::InvalidParameter(msg) = &err else {
        panic!("expected InvalidParameter, got {err:?}");
    };
    assert!(msg.contains("UpdateClusterVersion"), "{msg}");
    assert!(msg.contains(CLUSTER), "{msg}");
    assert!(msg.contains("from 1.33 to 1.35"), "{msg}");
    assert_eq!(calls(&eks, "UpdateClusterVersion"), 1);
}

#[tokio::test]
async fn resource_not_found_is_not_found() {
    let rule = mock!(Client::describe_cluster).then_error(|| {
        DescribeClusterError::ResourceNotFoundException(
            ResourceNotFoundException::builder()
                .message("No cluster found for name: prod-eu.")
                .build(),
        )
    });
    let eks = eks(&[&rule]);

    let err = eks.describe_cluster(CLUSTER).await.unwrap_err();

    let ApiError::NotFound(msg) = &err else {
        panic!("expected NotFound, got {err:?}");
    };
    assert!(msg.contains("No cluster found for name: prod-eu."), "{msg}");
    assert_eq!(calls(&eks, "DescribeCluster"), 1);
}

#[tokio::test]
async fn expired_credentials_are_access_denied_with_a_refresh_hint() {
    let rule = mock!(Client::describe_cluster).then_http_response(|| {
        aws_error(
            403,
            "ExpiredTokenException",
            "The security token included in the request is expired",
        )
    });
    let eks = eks(&[&rule]);

    let err = eks.describe_cluster(CLUSTER).await.unwrap_err();

    let ApiError::AccessDenied(msg) = &err else {
        panic!("expected AccessDenied, got {err:?}");
    };
    assert!(msg.contains("ExpiredTokenException"), "{msg}");
    assert!(msg.contains("DescribeCluster on cluster prod-eu"), "{msg}");
    assert!(
        msg.contains("refresh your credentials (aws sso login / new session)"),
        "{msg}"
    );
    assert_eq!(calls(&eks, "DescribeCluster"), 1);
}

#[derive(Debug)]
struct NoCredentials;

impl ProvideCredentials for NoCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Err(CredentialsError::not_loaded(
            "no environment variables, profile or SSO session",
        )))
    }
}

#[tokio::test]
async fn missing_credentials_are_access_denied_and_send_nothing() {
    // An HTTP answer, not a modeled one: the mock would put a modeled answer in place of
    // the failed attempt, but an HTTP one only reaches the client if a request is sent.
    let rule = mock!(Client::describe_cluster).then_http_response(|| {
        let resp = http::Response::builder()
            .status(200)
            .body(SdkBody::from(r#"{"cluster":{"name":"prod-eu"}}"#))
            .unwrap();
        HttpResponse::try_from(resp).unwrap()
    });
    let client = mock_client!(aws_sdk_eks, RuleMode::MatchAny, &[&rule], |b| b
        .retry_config(fast_retries())
        .credentials_provider(NoCredentials));
    let eks = AwsEks::from_client(client, REGION);

    let err = eks.describe_cluster(CLUSTER).await.unwrap_err();

    let ApiError::AccessDenied(msg) = &err else {
        panic!("expected AccessDenied, got {err:?}");
    };
    assert!(msg.contains("DescribeCluster on cluster prod-eu"), "{msg}");
    assert!(msg.contains("aws sso login"), "{msg}");
    assert_eq!(calls(&eks, "DescribeCluster"), 0);
}

// ───────────────────────────── Clients per region ─────────────────────────────

/// A transport whose DNS lookups all fail.
#[derive(Debug)]
struct NoDns;

impl HttpConnector for NoDns {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        HttpConnectorFuture::ready(Err(ConnectorError::io(
            "dns error: failed to lookup address information: Name or service not known".into(),
        )))
    }
}

impl HttpClient for NoDns {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(NoDns)
    }
}

/// An SDK configuration for tests: `region`, fixed test credentials, the latest
/// behaviour version; the caller adds the transport or endpoint.
pub(crate) fn test_config(region: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
            "test",
        )))
        .build()
}

fn shared_config(http: impl HttpClient + 'static) -> aws_config::SdkConfig {
    test_config("eu-west-1")
        .into_builder()
        .http_client(http)
        .build()
}

/// A transport that records where requests go and refuses them.
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl HttpConnector for Recorder {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        self.0.lock().unwrap().push(request.uri().to_string());
        HttpConnectorFuture::ready(Err(ConnectorError::io("connection refused".into())))
    }
}

impl HttpClient for Recorder {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

#[tokio::test]
async fn each_cluster_is_called_in_its_own_region() {
    let recorder = Recorder::default();
    let shared = shared_config(recorder.clone());
    let regions = [("tokyo".to_string(), "ap-northeast-1".to_string())].into();
    let eks = AwsEks::new(&shared, "eu-west-1".into(), regions, 1);

    let tokyo = eks.describe_cluster("tokyo").await.unwrap_err();
    let dublin = eks.describe_cluster("dublin").await.unwrap_err();

    let uris = recorder.0.lock().unwrap().clone();
    assert_eq!(
        uris,
        vec![
            "https://eks.ap-northeast-1.amazonaws.com/clusters/tokyo".to_string(),
            "https://eks.eu-west-1.amazonaws.com/clusters/dublin".to_string(),
        ]
    );
    assert!(tokyo.is_transient(), "{tokyo}");
    assert!(
        dublin.to_string().contains("cluster dublin in eu-west-1"),
        "{dublin}"
    );
    assert_eq!(calls(&eks, "DescribeCluster"), 2);
}

#[tokio::test]
async fn an_endpoint_override_applies_to_every_region() {
    let recorder = Recorder::default();
    let mut shared = shared_config(recorder.clone()).into_builder();
    shared.set_endpoint_url(Some("http://127.0.0.1:4566".into()));
    let regions = [("tokyo".to_string(), "ap-northeast-1".to_string())].into();
    let eks = AwsEks::new(&shared.build(), "eu-west-1".into(), regions, 1);

    let _ = eks.describe_cluster("tokyo").await;

    let uris = recorder.0.lock().unwrap().clone();
    assert_eq!(
        uris,
        vec!["http://127.0.0.1:4566/clusters/tokyo".to_string()]
    );
}

#[tokio::test]
async fn an_unknown_region_is_named_in_the_error() {
    let shared = shared_config(NoDns);
    let regions = [("lab".to_string(), "moon".to_string())].into();
    let eks = AwsEks::new(&shared, "eu-west-1".into(), regions, 1);

    let err = eks.describe_cluster("lab").await.unwrap_err();

    let ApiError::Other(msg) = &err else {
        panic!("expected Other, got {err:?}");
    };
    assert!(
        msg.contains("region `moon` is not a known AWS region"),
        "{msg}"
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable_and_says_why() {
    let shared = shared_config(NoDns);
    let regions = [("lab".to_string(), "xx-nowhere-9".to_string())].into();
    let eks = AwsEks::new(&shared, "eu-west-1".into(), regions, 1);

    let err = eks.describe_cluster("lab").await.unwrap_err();

    let ApiError::Unavailable(msg) = &err else {
        panic!("expected Unavailable, got {err:?}");
    };
    assert!(
        msg.contains("region `xx-nowhere-9` does not resolve"),
        "{msg}"
    );
    assert_eq!(calls(&eks, "DescribeCluster"), 1);
}

#[tokio::test]
async fn an_operation_the_endpoint_lacks_is_not_implemented() {
    // What moto's EKS server answers for a route it does not have.
    let rule = mock!(Client::list_addons).then_http_response(|| {
        let resp = http::Response::builder()
            .status(404)
            .header("content-type", "text/html; charset=utf-8")
            .body(SdkBody::from(
                "<!doctype html>\n<title>404 Not Found</title>",
            ))
            .unwrap();
        HttpResponse::try_from(resp).unwrap()
    });
    let eks = eks(&[&rule]);

    let err = eks.list_addons(CLUSTER).await.unwrap_err();

    let ApiError::NotImplemented(msg) = &err else {
        panic!("expected NotImplemented, got {err:?}");
    };
    assert!(msg.contains("ListAddons"), "{msg}");
    assert_eq!(eks.call_counts().get("ListAddons"), Some(&1));
}

#[tokio::test]
async fn insights_are_listed_and_described_with_their_deprecations() {
    use aws_sdk_eks::operation::describe_insight::DescribeInsightOutput;
    use aws_sdk_eks::operation::list_insights::ListInsightsOutput;
    use keelson::model::live::InsightStatus;
    let status = |s: sdk::InsightStatusValue, reason: &str| {
        sdk::InsightStatus::builder()
            .status(s)
            .reason(reason)
            .build()
    };
    let list = mock!(Client::list_insights)
        .match_requests(|r| r.cluster_name() == Some(CLUSTER))
        .then_output(move || {
            ListInsightsOutput::builder()
                .insights(
                    sdk::InsightSummary::builder()
                        .id("ins-1")
                        .name("Deprecated APIs removed in Kubernetes v1.35")
                        .category(sdk::Category::UpgradeReadiness)
                        .kubernetes_version("1.35")
                        .insight_status(status(
                            sdk::InsightStatusValue::Error,
                            "Deprecated API usage detected within last 30 days",
                        ))
                        .build(),
                )
                .insights(
                    sdk::InsightSummary::builder()
                        .id("ins-2")
                        .name("Kubelet version skew")
                        .category(sdk::Category::UpgradeReadiness)
                        .insight_status(status(sdk::InsightStatusValue::Passing, "No issues"))
                        .build(),
                )
                .build()
        });
    let describe = mock!(Client::describe_insight)
        .match_requests(|r| r.cluster_name() == Some(CLUSTER) && r.id() == Some("ins-1"))
        .then_output(move || {
            DescribeInsightOutput::builder()
                .insight(
                    sdk::Insight::builder()
                        .id("ins-1")
                        .name("Deprecated APIs removed in Kubernetes v1.35")
                        .category(sdk::Category::UpgradeReadiness)
                        .kubernetes_version("1.35")
                        .recommendation("Update manifests and API clients to use newer Kubernetes APIs")
                        .insight_status(status(sdk::InsightStatusValue::Error, "Deprecated API usage detected within last 30 days"))
                        .category_specific_summary(
                            sdk::InsightCategorySpecificSummary::builder()
                                .deprecation_details(
                                    sdk::DeprecationDetail::builder()
                                        .usage("/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas")
                                        .replaced_with("/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas")
                                        .build(),
                                )
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let eks = eks(&[&list, &describe]);
    let insights = eks.list_insights(CLUSTER).await.unwrap();
    assert_eq!(insights.len(), 2);
    assert_eq!(insights[0].status, InsightStatus::Error);
    assert_eq!(insights[0].category, "UPGRADE_READINESS");
    assert_eq!(insights[1].status, InsightStatus::Passing);
    let one = eks.describe_insight(CLUSTER, "ins-1").await.unwrap();
    assert_eq!(one.kubernetes_version.as_deref(), Some("1.35"));
    assert!(one
        .recommendation
        .unwrap()
        .contains("newer Kubernetes APIs"));
    assert_eq!(
        one.deprecations,
        vec![(
            "/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas".to_string(),
            "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas".to_string()
        )]
    );
    assert_eq!(eks.calls().get("ListInsights"), Some(&1));
}

#[tokio::test]
async fn cluster_versions_read_every_page_with_include_all_and_carry_the_calendar() {
    use aws_sdk_eks::operation::describe_cluster_versions::DescribeClusterVersionsOutput;
    let day = |s: i64| aws_smithy_types::DateTime::from_secs(s);
    let version = move |v: &str, status: sdk::VersionStatus, dates: [i64; 3]| {
        sdk::ClusterVersionInformation::builder()
            .cluster_version(v)
            .default_version(v == "1.34")
            .version_status(status)
            .release_date(day(dates[0]))
            .end_of_standard_support_date(day(dates[1]))
            .end_of_extended_support_date(day(dates[2]))
            .build()
    };
    // Without includeAll EKS leaves out the versions past support: the rules answer only
    // requests that ask for all of them.
    let page1 = mock!(Client::describe_cluster_versions)
        .match_requests(|r| r.include_all() == Some(true) && r.next_token().is_none())
        .then_output(move || {
            DescribeClusterVersionsOutput::builder()
                .cluster_versions(version(
                    "1.30",
                    sdk::VersionStatus::Unsupported,
                    [1_716_422_400, 1_753_228_800, 1_784_764_800],
                ))
                .next_token("page-2")
                .build()
        });
    let page2 = mock!(Client::describe_cluster_versions)
        .match_requests(|r| r.include_all() == Some(true) && r.next_token() == Some("page-2"))
        .then_output(move || {
            DescribeClusterVersionsOutput::builder()
                .cluster_versions(version(
                    "1.34",
                    sdk::VersionStatus::StandardSupport,
                    [1_759_363_200, 1_796_169_600, 1_827_705_600],
                ))
                .build()
        });
    let eks = eks(&[&page1, &page2]);
    let v = eks.describe_cluster_versions().await.unwrap();
    assert_eq!(page1.num_calls() + page2.num_calls(), 2);
    assert_eq!(v.len(), 2);
    assert_eq!(
        (v[0].version.as_str(), v[0].status.as_str()),
        ("1.30", "UNSUPPORTED")
    );
    assert_eq!(v[0].end_of_extended_support.as_deref(), Some("2026-07-23"));
    assert_eq!(v[1].version, "1.34");
    assert_eq!(v[1].status, "STANDARD_SUPPORT");
    assert!(v[1].default_version);
    assert_eq!(v[1].release_date.as_deref(), Some("2025-10-02"));
    assert_eq!(v[1].end_of_standard_support.as_deref(), Some("2026-12-02"));
    assert_eq!(v[1].end_of_extended_support.as_deref(), Some("2027-12-02"));
    // What the support gate judges with: the account's calendar, not keelson's table.
    let cal = keelson::versions::Calendar::from_target(&v).unwrap();
    assert_eq!(cal.source, keelson::versions::CalendarSource::Target);
    assert_eq!(
        cal.available(keelson::versions::Date::new(2026, 11, 29)),
        vec![keelson::versions::Minor::v1(34)]
    );
}

/// A transport that records each request (URI, Authorization header, body) and answers
/// STS AssumeRole with temporary credentials and anything else with 404.
#[derive(Debug, Clone, Default)]
struct StsAndEks(Arc<Mutex<Vec<(String, String, String)>>>);

const ASSUME_ROLE_ANSWER: &str = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::444455556666:assumed-role/keelson/keelson</Arn>
      <AssumedRoleId>AROAEXAMPLE:keelson</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIATEMPORARY</AccessKeyId>
      <SecretAccessKey>temporary-secret</SecretAccessKey>
      <SessionToken>temporary-session-token</SessionToken>
      <Expiration>2099-01-01T00:00:00Z</Expiration>
    </Credentials>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>
</AssumeRoleResponse>"#;

impl HttpConnector for StsAndEks {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let uri = request.uri().to_string();
        let auth = request
            .headers()
            .get("authorization")
            .unwrap_or_default()
            .to_string();
        let body = String::from_utf8_lossy(request.body().bytes().unwrap_or_default()).to_string();
        self.0.lock().unwrap().push((uri.clone(), auth, body));
        let response = if uri.contains("sts.") {
            http::Response::builder()
                .status(200)
                .body(SdkBody::from(ASSUME_ROLE_ANSWER))
                .unwrap()
        } else {
            http::Response::builder()
                .status(404)
                .header("x-amzn-errortype", "ResourceNotFoundException")
                .body(SdkBody::from(r#"{"message":"No cluster found"}"#))
                .unwrap()
        };
        HttpConnectorFuture::ready(Ok(HttpResponse::try_from(response).unwrap()))
    }
}

impl HttpClient for StsAndEks {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

#[tokio::test]
async fn a_cluster_with_an_operator_role_is_called_with_the_assumed_role() {
    const ROLE: &str = "arn:aws:iam::444455556666:role/keelson";
    let transport = StsAndEks::default();
    let shared = shared_config(transport.clone())
        .into_builder()
        .time_source(aws_smithy_async::time::SystemTimeSource::new())
        .build();
    let provider = aws_config::sts::AssumeRoleProvider::builder(ROLE)
        .session_name("keelson")
        .external_id("fleet-42")
        .configure(&shared)
        .build()
        .await;
    let regions = [
        ("spoke".to_string(), "eu-west-1".to_string()),
        ("hub".to_string(), "eu-west-1".to_string()),
    ]
    .into();
    let eks = AwsEks::new(&shared, "eu-west-1".into(), regions, 1).with_roles(
        [("spoke".to_string(), ROLE.to_string())].into(),
        [(ROLE.to_string(), SharedCredentialsProvider::new(provider))].into(),
    );
    assert!(eks.credentials_for("spoke").is_some());
    assert!(eks.credentials_for("hub").is_none());

    let spoke = eks.describe_cluster("spoke").await.unwrap_err();
    let hub = eks.describe_cluster("hub").await.unwrap_err();
    assert!(matches!(spoke, ApiError::NotFound(_)), "{spoke}");
    assert!(matches!(hub, ApiError::NotFound(_)), "{hub}");

    let seen = transport.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:#?}");
    let (sts_uri, sts_auth, sts_body) = &seen[0];
    assert!(sts_uri.contains("sts."), "{sts_uri}");
    assert!(sts_auth.contains("Credential=AKIDEXAMPLE/"), "{sts_auth}");
    assert!(sts_body.contains("Action=AssumeRole"), "{sts_body}");
    assert!(
        sts_body.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A444455556666%3Arole%2Fkeelson"),
        "{sts_body}"
    );
    assert!(sts_body.contains("RoleSessionName=keelson"), "{sts_body}");
    assert!(sts_body.contains("ExternalId=fleet-42"), "{sts_body}");
    let (spoke_uri, spoke_auth, _) = &seen[1];
    assert_eq!(
        spoke_uri,
        "https://eks.eu-west-1.amazonaws.com/clusters/spoke"
    );
    assert!(
        spoke_auth.contains("Credential=ASIATEMPORARY/"),
        "the spoke cluster's call is signed with the assumed role: {spoke_auth}"
    );
    let (hub_uri, hub_auth, _) = &seen[2];
    assert_eq!(hub_uri, "https://eks.eu-west-1.amazonaws.com/clusters/hub");
    assert!(
        hub_auth.contains("Credential=AKIDEXAMPLE/"),
        "a cluster without a role keeps the caller's credentials: {hub_auth}"
    );
}

// ───────────────────────────── Timeouts ─────────────────────────────

/// A transport that accepts requests and never answers.
#[derive(Debug, Clone, Default)]
struct Silent(Arc<Mutex<u32>>);

impl HttpConnector for Silent {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        *self.0.lock().unwrap() += 1;
        HttpConnectorFuture::new(std::future::pending())
    }
}

impl HttpClient for Silent {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

#[tokio::test(start_paused = true)]
async fn an_endpoint_that_never_answers_is_cut_by_the_attempt_timeout_and_retried() {
    let transport = Silent::default();
    let eks = AwsEks::new(
        &shared_config(transport.clone()),
        REGION.into(),
        Default::default(),
        2,
    );

    let started = tokio::time::Instant::now();
    let err = eks.describe_cluster(CLUSTER).await.unwrap_err();

    // Two attempts of 30 s each, and a backoff of at most 20 s between them.
    let took = started.elapsed().as_secs();
    assert!((60..=80).contains(&took), "took {took}s");
    assert!(err.is_transient(), "{err:?}");
    assert!(err.to_string().contains("did not answer in time"), "{err}");
    assert_eq!(*transport.0.lock().unwrap(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_decorator_bounds_the_whole_call_retries_included() {
    use keelson::adapters::instrumented::{Instrumented, Timeouts};
    let transport = Silent::default();
    let eks = AwsEks::new(
        &shared_config(transport.clone()),
        REGION.into(),
        Default::default(),
        8,
    );
    let timeouts = Timeouts {
        read: std::time::Duration::from_secs(45),
        write: std::time::Duration::from_secs(45),
    };
    let eks = Instrumented::new(std::sync::Arc::new(eks), timeouts);

    let started = tokio::time::Instant::now();
    let err = eks.describe_cluster(CLUSTER).await.unwrap_err();

    assert_eq!(started.elapsed().as_secs(), 45);
    assert_eq!(
        err,
        ApiError::Unavailable("timed out after 45s: DescribeCluster".into())
    );
    assert!(err.is_transient());
    // The second attempt was under way when the bound fell.
    assert_eq!(*transport.0.lock().unwrap(), 2);
}
