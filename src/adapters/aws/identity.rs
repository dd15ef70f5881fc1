//! The account a set of credentials reaches: STS GetCallerIdentity, asked once per role
//! per run (and once for the caller's own credentials), under keelson's timeouts.
//!
//! ```text
//!  SdkConfig (+ a role's credentials) ─► aws-sdk-sts GetCallerIdentity ─► account id
//! ```

use aws_credential_types::provider::SharedCredentialsProvider;

use super::timeouts::AwsTimeouts;

/// The account `credentials` (the caller's own when `None`) reach, or `None` when STS
/// cannot tell (unreachable, denied, a role that cannot be assumed: those failures are
/// reported by the EKS calls made with the same credentials).
pub(crate) async fn account(
    sdk: &aws_config::SdkConfig,
    credentials: Option<&SharedCredentialsProvider>,
    region: &str,
    timeouts: AwsTimeouts,
) -> Option<String> {
    let mut b = aws_sdk_sts::config::Builder::from(sdk)
        .timeout_config(timeouts.sdk(sdk.timeout_config()))
        .retry_config(
            aws_smithy_types::retry::RetryConfig::standard()
                .with_max_attempts(timeouts.max_attempts),
        );
    if sdk.region().is_none() {
        b = b.region(aws_sdk_sts::config::Region::new(region.to_string()));
    }
    if let Some(c) = credentials {
        b = b.credentials_provider(c.clone());
    }
    let client = aws_sdk_sts::Client::from_conf(b.build());
    match client.get_caller_identity().send().await {
        Ok(out) => out.account().map(str::to_string),
        Err(e) => {
            tracing::debug!(error = %aws_smithy_types::error::display::DisplayErrorContext(&e), "GetCallerIdentity failed");
            None
        }
    }
}
