//! Bearer tokens for the Kubernetes API of EKS clusters, made the way `aws eks get-token`
//! makes them: a SigV4-presigned STS `GetCallerIdentity` URL whose signed headers include
//! `x-k8s-aws-id: <cluster name>`, base64url-encoded behind `k8s-aws-v1.`. The API server
//! (aws-iam-authenticator) replays the URL to STS to learn who is calling. No `aws`
//! binary and no kubeconfig are needed.
//!
//! ```text
//!  credentials + region + cluster ──SigV4 (query params, 60 s)──► https://sts.REGION.amazonaws.com/?Action=GetCallerIdentity&…
//!                                                               ──base64url──► k8s-aws-v1.<token>
//! ```

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine;

/// Prefix of every EKS bearer token.
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// The header that binds a token to one cluster.
pub const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
/// How long a presigned URL stays valid (the API server accepts up to 15 minutes; the
/// CLI uses 60 seconds and refreshes).
pub const EXPIRES: Duration = Duration::from_secs(60);

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Signing parameters were incomplete.
    #[error("cannot build SigV4 signing parameters")]
    Params(#[source] aws_sigv4::sign::v4::signing_params::BuildError),
    /// The request could not be signed.
    #[error("cannot sign the STS GetCallerIdentity request")]
    Sign(#[source] aws_sigv4::http_request::SigningError),
}

/// The STS endpoint host of a region.
pub fn sts_host(region: &str) -> String {
    if region.starts_with("cn-") {
        format!("sts.{region}.amazonaws.com.cn")
    } else {
        format!("sts.{region}.amazonaws.com")
    }
}

/// Percent-encode a query value the way SigV4 does (only unreserved characters stay).
fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 8);
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The presigned `GetCallerIdentity` URL for `cluster`, signed at `time`.
///
/// # Errors
/// When the signing parameters or the request are rejected by the signer.
pub fn presigned_url(
    credentials: &Credentials,
    region: &str,
    cluster: &str,
    time: SystemTime,
) -> Result<String, TokenError> {
    let url = format!(
        "https://{}/?Action=GetCallerIdentity&Version=2011-06-15",
        sts_host(region)
    );
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(EXPIRES);
    let identity: Identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(time)
        .settings(settings)
        .build()
        .map_err(TokenError::Params)?
        .into();
    let headers = [(CLUSTER_ID_HEADER, cluster)];
    let signable = SignableRequest::new(
        "GET",
        url.as_str(),
        headers.into_iter(),
        SignableBody::Bytes(&[]),
    )
    .map_err(TokenError::Sign)?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(TokenError::Sign)?
        .into_parts();
    let mut out = url;
    for (name, value) in instructions.params() {
        out.push('&');
        out.push_str(name);
        out.push('=');
        out.push_str(&encode(value));
    }
    Ok(out)
}

/// The bearer token for `cluster`.
///
/// # Errors
/// When the request cannot be signed.
pub fn bearer_token(
    credentials: &Credentials,
    region: &str,
    cluster: &str,
    time: SystemTime,
) -> Result<String, TokenError> {
    let url = presigned_url(credentials, region, cluster, time)?;
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded_like_sigv4() {
        assert_eq!(
            encode("AKID/20261123/us-east-1/sts/aws4_request"),
            "AKID%2F20261123%2Fus-east-1%2Fsts%2Faws4_request"
        );
        assert_eq!(encode("host;x-k8s-aws-id"), "host%3Bx-k8s-aws-id");
        assert_eq!(encode("a+b=c"), "a%2Bb%3Dc");
    }

    #[test]
    fn china_regions_use_their_own_domain() {
        assert_eq!(sts_host("cn-north-1"), "sts.cn-north-1.amazonaws.com.cn");
        assert_eq!(sts_host("eu-west-1"), "sts.eu-west-1.amazonaws.com");
    }
}
