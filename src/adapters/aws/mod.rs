//! The real AWS adapters: `EksApi` on aws-sdk-eks, and the pieces that reach each
//! cluster's Kubernetes API (endpoint and CA from DescribeCluster, a bearer token made
//! from a presigned STS GetCallerIdentity request).
//!
//! ```text
//!  aws-config (credential chain, profiles, AWS_ENDPOINT_URL_EKS) ─► SdkConfig
//!     └─► AwsEks: one aws-sdk-eks client per region, chosen by the cluster's region
//!     └─► token::bearer_token(credentials, region, cluster) ─► KubeApi on kube-rs
//! ```

pub mod eks;
pub(crate) mod identity;
pub(crate) mod roles;
pub mod throttle;
pub mod timeouts;
pub mod token;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use base64::Engine;

use crate::adapters::kube::ClusterAccess;
use crate::ports::{ApiError, ApiResult, EksApi};

/// Reaching clusters' API servers natively: endpoint and CA from DescribeCluster, a bearer
/// token from the caller's AWS credentials; or, per cluster, a kubeconfig context.
pub struct EksAccess {
    eks: Arc<dyn EksApi>,
    credentials: SharedCredentialsProvider,
    regions: BTreeMap<String, String>,
    default_region: String,
    contexts: BTreeMap<String, String>,
    cluster_credentials: BTreeMap<String, SharedCredentialsProvider>,
}

impl EksAccess {
    /// Access through `eks` with `credentials`; `regions` maps cluster names to regions and
    /// `contexts` maps cluster names to kubeconfig contexts that override native access.
    pub fn new(
        eks: Arc<dyn EksApi>,
        credentials: SharedCredentialsProvider,
        regions: BTreeMap<String, String>,
        default_region: String,
        contexts: BTreeMap<String, String>,
    ) -> EksAccess {
        EksAccess {
            eks,
            credentials,
            regions,
            default_region,
            contexts,
            cluster_credentials: BTreeMap::new(),
        }
    }

    /// Per-cluster credentials (an assumed role's) for the bearer token, instead of the
    /// caller's own.
    #[must_use]
    pub fn with_cluster_credentials(
        mut self,
        credentials: BTreeMap<String, SharedCredentialsProvider>,
    ) -> EksAccess {
        self.cluster_credentials = credentials;
        self
    }
}

/// DER certificates from the base64 PEM bundle DescribeCluster returns.
///
/// # Errors
/// When the bundle is not base64 or holds no certificate.
pub fn ca_certificates(bundle_b64: &str) -> Result<Vec<Vec<u8>>, String> {
    let std_b64 = base64::engine::general_purpose::STANDARD;
    let pem = std_b64
        .decode(bundle_b64.trim())
        .map_err(|e| format!("certificate authority data is not base64: {e}"))?;
    let pem = String::from_utf8_lossy(&pem);
    let mut certs = Vec::new();
    let mut body: Option<String> = None;
    for line in pem.lines() {
        let line = line.trim();
        if line == "-----BEGIN CERTIFICATE-----" {
            body = Some(String::new());
        } else if line == "-----END CERTIFICATE-----" {
            if let Some(b) = body.take() {
                certs.push(
                    std_b64
                        .decode(b)
                        .map_err(|e| format!("bad certificate in the CA bundle: {e}"))?,
                );
            }
        } else if let Some(b) = body.as_mut() {
            b.push_str(line);
        }
    }
    if certs.is_empty() {
        return Err("the CA bundle holds no certificate".into());
    }
    Ok(certs)
}

#[async_trait]
impl ClusterAccess for EksAccess {
    async fn config(&self, cluster: &str) -> ApiResult<::kube::Config> {
        if let Some(context) = self.contexts.get(cluster) {
            let opts = ::kube::config::KubeConfigOptions {
                context: Some(context.clone()),
                ..Default::default()
            };
            return ::kube::Config::from_kubeconfig(&opts).await.map_err(|e| {
                ApiError::Other(format!(
                    "kubeconfig context {context} for cluster {cluster}: {e}"
                ))
            });
        }
        let c = self.eks.describe_cluster(cluster).await?;
        let url: http::Uri = c.endpoint.parse().map_err(|e| {
            ApiError::Other(format!("cluster {cluster} endpoint `{}`: {e}", c.endpoint))
        })?;
        let certs = ca_certificates(&c.certificate_authority)
            .map_err(|e| ApiError::Other(format!("cluster {cluster}: {e}")))?;
        let provider = self
            .cluster_credentials
            .get(cluster)
            .unwrap_or(&self.credentials);
        let credentials = provider.provide_credentials().await.map_err(|e| {
            ApiError::AccessDenied(format!(
                "no AWS credentials to reach cluster {cluster}: {e}; configure a profile, SSO session or environment credentials"
            ))
        })?;
        let region = self.regions.get(cluster).unwrap_or(&self.default_region);
        let token =
            token::bearer_token(&credentials, region, cluster, SystemTime::now()).map_err(|e| {
                ApiError::Other(format!("cannot make a token for cluster {cluster}: {e}"))
            })?;
        let mut config = ::kube::Config::new(url);
        config.root_cert = Some(certs);
        config.auth_info.token = Some(token.into());
        config.connect_timeout = Some(std::time::Duration::from_secs(10));
        config.read_timeout = Some(std::time::Duration::from_secs(60));
        Ok(config)
    }
}
