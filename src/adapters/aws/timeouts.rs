//! How long keelson waits for AWS: the SDK's connect and per-attempt timeouts, the number
//! of attempts, and a bound on a whole call (every attempt and backoff included), all
//! configurable from the environment so that the CLI and the daemon agree.
//!
//! ```text
//!  KEELSON_EKS_CONNECT_TIMEOUT   10s   TCP + TLS connect, per attempt
//!  KEELSON_EKS_ATTEMPT_TIMEOUT   30s   one HTTP attempt, from send to the last byte
//!  KEELSON_EKS_MAX_ATTEMPTS      8     attempts per call (throttling, 5xx, timeouts retried)
//!  KEELSON_EKS_CALL_TIMEOUT      2m    the whole call, retries and backoff included
//!        └─► TimeoutConfig (aws-smithy-types) ─► every EKS and STS client
//! ```
//!
//! The whole-call bound is the SDK's `operation_timeout`, so a silent endpoint ends a call
//! with the SDK's own timeout error (which names the bound that ran out), classified as
//! `Unavailable` with the operation, resource and region; the per-call timeout of
//! [`crate::adapters::instrumented`] sits a little above it as a backstop.

use std::time::Duration;

use aws_smithy_types::timeout::TimeoutConfig;

use crate::model::Duration as Text;

/// The environment variable for the connect timeout.
pub const CONNECT_ENV: &str = "KEELSON_EKS_CONNECT_TIMEOUT";
/// The environment variable for the per-attempt timeout.
pub const ATTEMPT_ENV: &str = "KEELSON_EKS_ATTEMPT_TIMEOUT";
/// The environment variable for the attempts per call.
pub const ATTEMPTS_ENV: &str = "KEELSON_EKS_MAX_ATTEMPTS";
/// The environment variable for the whole-call timeout.
pub const CALL_ENV: &str = "KEELSON_EKS_CALL_TIMEOUT";

/// keelson's bounds on AWS calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsTimeouts {
    /// Connecting (per attempt).
    pub connect: Duration,
    /// One attempt.
    pub attempt: Duration,
    /// Attempts per call (1: no retry).
    pub max_attempts: u32,
    /// The whole call, retries and backoff included.
    pub call: Duration,
}

impl Default for AwsTimeouts {
    /// 10 s to connect, 30 s per attempt, 8 attempts, 2 minutes per call: a throttled call
    /// gets its retries with backoff, a silent endpoint ends the call in 2 minutes.
    fn default() -> Self {
        AwsTimeouts {
            connect: Duration::from_secs(10),
            attempt: Duration::from_secs(30),
            max_attempts: 8,
            call: Duration::from_secs(120),
        }
    }
}

/// A variable that is set but not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}=`{value}` is not {expected}; unset it for the default ({default})")]
pub struct BadSetting {
    var: &'static str,
    value: String,
    expected: &'static str,
    default: String,
}

/// The number `var` holds through `get`: `default` when it is unset or blank, an error
/// naming `expected` when it does not parse or `ok` refuses it.
pub(crate) fn number<T: std::str::FromStr + std::fmt::Display>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: T,
    ok: impl Fn(&T) -> bool,
    expected: &'static str,
) -> Result<T, BadSetting> {
    let Some(value) = get(var).filter(|v| !v.trim().is_empty()) else {
        return Ok(default);
    };
    match value.trim().parse::<T>() {
        Ok(n) if ok(&n) => Ok(n),
        _ => Err(BadSetting {
            var,
            value,
            expected,
            default: default.to_string(),
        }),
    }
}

impl AwsTimeouts {
    /// The defaults, overridden by the `KEELSON_EKS_*` variables that are set.
    ///
    /// # Errors
    /// A variable that is not a duration such as `30s` or `2m` (at least one second), or
    /// an attempt count that is not a number from 1 to 20.
    pub fn from_env() -> Result<AwsTimeouts, BadSetting> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// As [`AwsTimeouts::from_env`], reading variables through `get`.
    ///
    /// # Errors
    /// As [`AwsTimeouts::from_env`].
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<AwsTimeouts, BadSetting> {
        let d = AwsTimeouts::default();
        let duration = |var: &'static str, default: Duration| -> Result<Duration, BadSetting> {
            let Some(value) = get(var).filter(|v| !v.trim().is_empty()) else {
                return Ok(default);
            };
            match Text::parse(value.trim()) {
                Ok(t) if t.secs() > 0 => Ok(Duration::from_secs(t.secs())),
                _ => Err(BadSetting {
                    var,
                    value,
                    expected: "a duration such as `30s` or `2m` (at least 1s)",
                    default: format!("{}s", default.as_secs()),
                }),
            }
        };
        let max_attempts = number(
            &get,
            ATTEMPTS_ENV,
            d.max_attempts,
            |n| (1..=20).contains(n),
            "a number of attempts from 1 to 20",
        )?;
        Ok(AwsTimeouts {
            connect: duration(CONNECT_ENV, d.connect)?,
            attempt: duration(ATTEMPT_ENV, d.attempt)?,
            max_attempts,
            call: duration(CALL_ENV, d.call)?,
        })
    }

    /// The SDK's timeout configuration: ours, except what the shared AWS configuration
    /// already sets.
    pub(crate) fn sdk(&self, shared: Option<&TimeoutConfig>) -> TimeoutConfig {
        let ours = TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.call);
        match shared {
            Some(s) => s.to_builder().take_unset_from(ours).build(),
            None => ours.build(),
        }
    }

    /// The backstop above the SDK's own whole-call bound, for the instrumented port.
    pub fn backstop(&self) -> Duration {
        self.call + Duration::from_secs(5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> Result<AwsTimeouts, BadSetting> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        AwsTimeouts::from_lookup(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn unset_variables_give_the_defaults() {
        assert_eq!(with(&[]).unwrap(), AwsTimeouts::default());
        assert_eq!(with(&[(CALL_ENV, " ")]).unwrap(), AwsTimeouts::default());
    }

    #[test]
    fn set_variables_override_one_bound_each() {
        let t = with(&[
            (CONNECT_ENV, "2s"),
            (ATTEMPT_ENV, "1m"),
            (ATTEMPTS_ENV, "3"),
            (CALL_ENV, "1m30s"),
        ])
        .unwrap();
        assert_eq!(t.connect, Duration::from_secs(2));
        assert_eq!(t.attempt, Duration::from_secs(60));
        assert_eq!(t.max_attempts, 3);
        assert_eq!(t.call, Duration::from_secs(90));
        let sdk = t.sdk(None);
        assert_eq!(sdk.operation_timeout(), Some(Duration::from_secs(90)));
        assert_eq!(
            sdk.operation_attempt_timeout(),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn unusable_values_name_the_variable_and_the_default() {
        let e = with(&[(ATTEMPT_ENV, "30")]).unwrap_err().to_string();
        assert!(e.contains("KEELSON_EKS_ATTEMPT_TIMEOUT=`30`"), "{e}");
        assert!(e.contains("default (30s)"), "{e}");
        assert!(with(&[(CALL_ENV, "0s")]).is_err());
        let e = with(&[(ATTEMPTS_ENV, "0")]).unwrap_err().to_string();
        assert!(e.contains("from 1 to 20"), "{e}");
    }
}
