//! SDK errors → [`ApiError`], in one place: every call's result goes through
//! [`OrApiError::or_api_error`], which classifies the way the simulator classifies its
//! own errors, so that the retry policy sees the same classes on every target.
//!
//! ```text
//!  SdkError ─┬─ ServiceError ─► modeled exception ─► class; unmodeled ─► code, then HTTP status
//!            ├─ TimeoutError ─► Unavailable
//!            ├─ ResponseError ─► 429 Throttled, 5xx Unavailable, else Other
//!            └─ dispatch / construction ─► credentials, unknown region, unreachable, Other
//! ```

use std::error::Error as StdError;
use std::fmt::Display;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::ports::{ApiError, ApiResult};

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

/// What a call was about, for error messages.
#[derive(Debug)]
pub(super) struct Call {
    /// The EKS operation, as the IAM action names it.
    pub(super) op: &'static str,
    /// The resource, in words (`cluster prod`, `add-on coredns of cluster prod`).
    pub(super) what: String,
    /// The region the call went to.
    pub(super) region: String,
}

impl Call {
    pub(super) fn prefix(&self) -> String {
        format!("{} on {} in {}", self.op, self.what, self.region)
    }

    pub(super) fn other(&self, detail: impl Display) -> ApiError {
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

    /// The part of an answer the call exists for (EKS always sends it; an answer without
    /// it is reported rather than trusted).
    pub(super) fn answer<'a, T>(&self, part: Option<&'a T>, what: &str) -> ApiResult<&'a T> {
        part.ok_or_else(|| self.other(format!("EKS returned no {what} in its answer")))
    }

    /// Classify an SDK error the way the simulator classifies its own.
    pub(super) fn fail<E>(&self, err: SdkError<E, HttpResponse>) -> ApiError
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
            t @ SdkError::TimeoutError(_) => ApiError::Unavailable(format!(
                "{prefix}: timed out: EKS did not answer in time ({}); check the network and any AWS_ENDPOINT_URL_EKS override, or raise {} / {}",
                error_chain(&t).trim_end_matches('.'),
                super::super::timeouts::CALL_ENV,
                super::super::timeouts::ATTEMPT_ENV,
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
                // A role that cannot be assumed: not an expired session of the caller's.
                if let Some(at) = chain.find(super::super::roles::REFUSED) {
                    return ApiError::AccessDenied(format!("{prefix}: {}", &chain[at..]));
                }
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
    match err.source() {
        Some(first) => super::super::roles::chain(first),
        None => err.to_string(),
    }
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

/// A result of the SDK, its failure classified for the port.
pub(super) trait OrApiError<T> {
    /// The value, or the error classified by [`Call::fail`].
    fn or_api_error(self, call: &Call) -> ApiResult<T>;
}

impl<T, E> OrApiError<T> for Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    aws_sdk_eks::Error: From<E>,
{
    fn or_api_error(self, call: &Call) -> ApiResult<T> {
        self.map_err(|e| call.fail(e))
    }
}

#[cfg(test)]
mod tests {
    use std::mem::discriminant;

    use aws_sdk_eks::types::error as modeled;
    use aws_sdk_eks::Error as Eks;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    type Sdk = SdkError<Eks, HttpResponse>;

    fn call(region: &str) -> Call {
        Call {
            op: "DescribeCluster",
            what: "cluster prod".into(),
            region: region.into(),
        }
    }

    fn raw(status: u16) -> HttpResponse {
        HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty())
    }

    fn service(e: Eks, status: u16) -> Sdk {
        SdkError::service_error(e, raw(status))
    }

    /// An error the EKS model does not list, as the SDK reports it.
    fn unmodeled(code: Option<&str>, status: u16) -> Sdk {
        let mut meta = ErrorMetadata::builder().message("it failed");
        if let Some(c) = code {
            meta = meta.code(c);
        }
        let e =
            aws_sdk_eks::operation::describe_cluster::DescribeClusterError::generic(meta.build());
        service(Eks::from(e), status)
    }

    #[test]
    fn every_sdk_error_lands_in_its_class() {
        let not_found = ApiError::NotFound(String::new());
        let in_use = ApiError::ResourceInUse(String::new());
        let invalid_param = ApiError::InvalidParameter(String::new());
        let invalid_req = ApiError::InvalidRequest(String::new());
        let throttled = ApiError::Throttled(String::new());
        let unavailable = ApiError::Unavailable(String::new());
        let denied = ApiError::AccessDenied(String::new());
        let not_impl = ApiError::NotImplemented(String::new());
        let other = ApiError::Other(String::new());
        let rows: Vec<(&str, Sdk, &ApiError, &str)> = vec![
            (
                "modeled not found",
                service(
                    Eks::ResourceNotFoundException(
                        modeled::ResourceNotFoundException::builder()
                            .message("No cluster found")
                            .build(),
                    ),
                    404,
                ),
                &not_found,
                "DescribeCluster on cluster prod in eu-west-1: ResourceNotFoundException: No cluster found",
            ),
            (
                "modeled in use",
                service(
                    Eks::ResourceInUseException(
                        modeled::ResourceInUseException::builder()
                            .message("busy")
                            .build(),
                    ),
                    409,
                ),
                &in_use,
                "busy",
            ),
            (
                "a limit that means another operation runs",
                service(
                    Eks::ResourceLimitExceededException(
                        modeled::ResourceLimitExceededException::builder()
                            .message("An update is already in progress")
                            .build(),
                    ),
                    400,
                ),
                &in_use,
                "already in progress",
            ),
            (
                "a service quota",
                service(
                    Eks::ResourceLimitExceededException(
                        modeled::ResourceLimitExceededException::builder()
                            .message("Node group limit of 30 reached")
                            .build(),
                    ),
                    400,
                ),
                &invalid_req,
                "a service quota is reached",
            ),
            (
                "modeled invalid parameter",
                service(
                    Eks::InvalidParameterException(
                        modeled::InvalidParameterException::builder()
                            .message("bad")
                            .build(),
                    ),
                    400,
                ),
                &invalid_param,
                "bad",
            ),
            (
                "modeled invalid request",
                service(
                    Eks::InvalidRequestException(
                        modeled::InvalidRequestException::builder()
                            .message("no")
                            .build(),
                    ),
                    400,
                ),
                &invalid_req,
                "no",
            ),
            (
                "modeled throttling",
                service(
                    Eks::ThrottlingException(
                        modeled::ThrottlingException::builder()
                            .message("slow")
                            .build(),
                    ),
                    429,
                ),
                &throttled,
                "lower `maxConcurrency`",
            ),
            (
                "modeled server error",
                service(
                    Eks::ServerException(modeled::ServerException::builder().message("x").build()),
                    500,
                ),
                &unavailable,
                "failed on its side",
            ),
            (
                "a missing permission",
                service(
                    Eks::AccessDeniedException(
                        modeled::AccessDeniedException::builder()
                            .message("User is not authorized")
                            .build(),
                    ),
                    403,
                ),
                &denied,
                "needs eks:DescribeCluster",
            ),
            (
                "denied for expired credentials",
                service(
                    Eks::AccessDeniedException(
                        modeled::AccessDeniedException::builder()
                            .message("The security token included in the request is expired")
                            .build(),
                    ),
                    403,
                ),
                &denied,
                "refresh your credentials",
            ),
            (
                "throttling code",
                unmodeled(Some("Throttling"), 400),
                &throttled,
                "Throttling: it failed",
            ),
            (
                "credential code",
                unmodeled(Some("ExpiredTokenException"), 400),
                &denied,
                "refresh your credentials",
            ),
            (
                "permission code",
                unmodeled(Some("UnauthorizedOperation"), 403),
                &denied,
                "needs eks:DescribeCluster",
            ),
            (
                "validation code",
                unmodeled(Some("ValidationException"), 400),
                &invalid_param,
                "ValidationException",
            ),
            (
                "internal code",
                unmodeled(Some("InternalFailure"), 500),
                &unavailable,
                "InternalFailure",
            ),
            (
                "bare 404",
                unmodeled(None, 404),
                &not_impl,
                "does not implement DescribeCluster",
            ),
            (
                "bare 501",
                unmodeled(None, 501),
                &not_impl,
                "HTTP 501 without an error code",
            ),
            (
                "unknown code, 404",
                unmodeled(Some("Gone"), 404),
                &not_found,
                "Gone: it failed",
            ),
            (
                "unknown code, 429",
                unmodeled(Some("Slow"), 429),
                &throttled,
                "Slow",
            ),
            (
                "unknown code, 503",
                unmodeled(Some("Down"), 503),
                &unavailable,
                "Down",
            ),
            (
                "unknown code, 401",
                unmodeled(Some("Who"), 401),
                &denied,
                "refresh your credentials",
            ),
            (
                "unknown code, 403",
                unmodeled(Some("No"), 403),
                &denied,
                "needs eks:DescribeCluster",
            ),
            (
                "unknown code, 418",
                unmodeled(Some("Teapot"), 418),
                &other,
                "Teapot: it failed",
            ),
            (
                "timeout",
                SdkError::timeout_error("slow"),
                &unavailable,
                "did not answer in time",
            ),
            (
                "unreadable 429",
                SdkError::response_error("bad json", raw(429)),
                &throttled,
                "HTTP 429",
            ),
            (
                "unreadable 502",
                SdkError::response_error("bad json", raw(502)),
                &unavailable,
                "HTTP 502",
            ),
            (
                "unreadable 400",
                SdkError::response_error("bad json", raw(400)),
                &other,
                "unreadable answer",
            ),
            (
                "unreachable",
                SdkError::dispatch_failure(ConnectorError::io("connection refused".into())),
                &unavailable,
                "could not reach EKS",
            ),
        ];
        let wrong: Vec<String> = rows
            .into_iter()
            .map(|(name, err, class, text)| (name, call("eu-west-1").fail(err), class, text))
            .filter(|(_, got, class, text)| {
                discriminant(got) != discriminant(*class) || !got.to_string().contains(text)
            })
            .map(|(name, got, _, _)| format!("{name}: {got:?}"))
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
        let got = call("eu-west").fail::<Eks>(SdkError::dispatch_failure(ConnectorError::io(
            "connection refused".into(),
        )));
        assert!(
            matches!(&got, ApiError::Other(m) if m.contains("region `eu-west` is not a known AWS region")),
            "{got:?}"
        );
    }

    #[test]
    fn regions_are_recognised_by_shape() {
        assert!(looks_like_region("eu-west-1"));
        assert!(looks_like_region("us-gov-west-1"));
        assert!(looks_like_region("us-isob-east-1"));
        assert!(!looks_like_region("eu-west"));
        assert!(!looks_like_region("EU-WEST-1"));
        assert!(!looks_like_region("eu_west_1"));
    }
}
