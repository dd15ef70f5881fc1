//! The fleet lock as an S3 object made with a conditional write, for `keelson apply` on
//! CI runners outside any cluster (the mechanism of Terraform ≥ 1.10's `use_lockfile`).
//!
//! ```text
//!  try_acquire: PUT key, If-None-Match: *  ── 200 ──► held, fenced by the ETag returned
//!                                          ── 412 ──► GET ─ ours or stale ──► PUT, If-Match: ETag read ── 200: held
//!                                                          └ live ──► Held(holder)              └ 412: someone was first
//!  renew:       PUT, If-Match: our ETag (body's renewed time moves, so the ETag does) ── 412/404: lost
//!  release:     DELETE, If-Match: our ETag
//! ```
//!
//! Every write after the first is conditional on the ETag this process last wrote or
//! read, so a holder whose lock was taken over learns it at its next renewal and never
//! overwrites the new holder; the body's `generation` counts takeovers. Any other answer
//! (S3 unreachable, access denied) is an error: the caller refuses to write rather than
//! run unlocked. Requests are signed with SigV4 (aws-sigv4) and sent with hyper; the
//! conditional headers are those of the S3 API reference for PutObject (`If-None-Match`,
//! `If-Match`, answered `412 Precondition Failed` or `409 ConditionalRequestConflict`)
//! and DeleteObject (`If-Match`). `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` point it at
//! another endpoint (path-style addressing), as the tests do at moto.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde::{Deserialize, Serialize};

use crate::daemon::lock::{Attempt, BackendError, Holder, LockBackend, Observer, Timing};

/// Longest wait for one request.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// What the lock object holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockBody {
    /// Who holds it.
    pub holder: Holder,
    /// When it was last renewed (unix seconds).
    pub renewed: i64,
    /// How long it lasts without renewal, in seconds.
    pub duration_secs: u64,
    /// Takeovers since the object was created (a fencing number).
    pub generation: u64,
}

use crate::adapters::https::HttpsClient;
use crate::errors::error_chain;

/// An answer from S3.
struct Answer {
    status: u16,
    etag: Option<String>,
    body: Bytes,
}

/// The S3 object held as the fleet lock.
pub struct S3Lock {
    client: HttpsClient,
    credentials: aws_credential_types::provider::SharedCredentialsProvider,
    region: String,
    url: String,
    bucket: String,
    key: String,
    timing: Timing,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    observer: Observer,
    /// The ETag of the object this process wrote last, while it holds the lock.
    etag: Option<String>,
    generation: u64,
    me: Option<Holder>,
}

/// Percent-encode an object key for the request path, keeping `/` (SigV4's unreserved set).
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The object's URL: path-style under `endpoint`, or S3's own virtual-hosted URL (path
/// style for a bucket with dots, which the wildcard certificate does not cover).
pub fn object_url(endpoint: Option<&str>, region: &str, bucket: &str, key: &str) -> String {
    let key = encode_key(key);
    match endpoint {
        Some(e) => format!("{}/{bucket}/{key}", e.trim_end_matches('/')),
        None if bucket.contains('.') => format!("https://s3.{region}.amazonaws.com/{bucket}/{key}"),
        None => format!("https://{bucket}.s3.{region}.amazonaws.com/{key}"),
    }
}

impl S3Lock {
    /// The lock object `s3://bucket/key`, with the standard AWS credential chain and
    /// region, at the endpoint `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` names, or S3's.
    ///
    /// # Errors
    /// No credentials provider, or no TLS roots.
    pub async fn connect(bucket: &str, key: &str, timing: Timing) -> Result<S3Lock, BackendError> {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        let credentials = sdk.credentials_provider().ok_or_else(|| BackendError::S3 {
            lock: format!("S3 object s3://{bucket}/{key}"),
            message: "no AWS credentials provider is configured; set AWS_PROFILE, run `aws sso login`, or export credentials".into(),
        })?;
        let region = sdk
            .region()
            .map_or_else(|| "us-east-1".to_string(), |r| r.to_string());
        let endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()));
        let url = object_url(endpoint.as_deref(), &region, bucket, key);
        S3Lock::new(credentials, &region, &url, (bucket, key), timing)
    }

    /// The lock object `(bucket, key)` at `url`, signed for `region` with `credentials`.
    ///
    /// # Errors
    /// No TLS roots.
    pub fn new(
        credentials: aws_credential_types::provider::SharedCredentialsProvider,
        region: &str,
        url: &str,
        (bucket, key): (&str, &str),
        timing: Timing,
    ) -> Result<S3Lock, BackendError> {
        let client = crate::adapters::https::client().map_err(|message| BackendError::S3 {
            lock: format!("S3 object s3://{bucket}/{key}"),
            message,
        })?;
        Ok(S3Lock {
            client,
            credentials,
            url: url.to_string(),
            region: region.to_string(),
            bucket: bucket.to_string(),
            key: key.to_string(),
            timing,
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn err(&self, message: String) -> BackendError {
        BackendError::S3 {
            lock: self.describe(),
            message,
        }
    }

    async fn credentials(&self) -> Result<Credentials, BackendError> {
        self.credentials.provide_credentials().await.map_err(|e| {
            self.err(format!(
                "no AWS credentials ({e}); configure a profile, SSO session or environment credentials"
            ))
        })
    }

    /// Send one signed request.
    async fn send(
        &self,
        method: &str,
        conditions: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Answer, BackendError> {
        let credentials = self.credentials().await?;
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let identity: Identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| self.err(format!("cannot build SigV4 parameters: {e}")))?
            .into();
        let signable = SignableRequest::new(
            method,
            self.url.as_str(),
            conditions.iter().copied(),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| self.err(format!("cannot sign the request: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| self.err(format!("cannot sign the request: {e}")))?
            .into_parts();
        let mut req = http::Request::builder()
            .method(method)
            .uri(self.url.as_str())
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| self.err(format!("bad request: {e}")))?;
        for (k, v) in conditions {
            if let (Ok(k), Ok(v)) = (
                http::HeaderName::from_bytes(k.as_bytes()),
                http::HeaderValue::from_str(v),
            ) {
                req.headers_mut().insert(k, v);
            }
        }
        for (k, v) in instructions.headers() {
            if let (Ok(k), Ok(v)) = (
                http::HeaderName::from_bytes(k.as_bytes()),
                http::HeaderValue::from_str(v),
            ) {
                req.headers_mut().insert(k, v);
            }
        }
        let call = async {
            let resp = self.client.request(req).await?;
            let status = resp.status().as_u16();
            let etag = resp
                .headers()
                .get(http::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = resp
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            Ok::<_, hyper_util::client::legacy::Error>(Answer { status, etag, body })
        };
        let what = format!("{method} {}", self.url);
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(a)) if matches!(a.status, 200..=299 | 404 | 409 | 412) => Ok(a),
            Ok(Ok(a)) => Err(self.err(format!(
                "{what} answered {}: {}; check the bucket, the region and the s3:GetObject, s3:PutObject and s3:DeleteObject permissions",
                a.status,
                s3_error(&a.body)
            ))),
            Ok(Err(e)) => Err(self.err(format!(
                "S3 is unreachable ({what}: {}); not applying without the lock",
                error_chain(&e)
            ))),
            Err(_) => Err(self.err(format!(
                "S3 did not answer {what} in {} s; not applying without the lock",
                CALL_TIMEOUT.as_secs()
            ))),
        }
    }

    fn body(&self, me: &Holder, generation: u64) -> Vec<u8> {
        serde_json::to_vec(&LockBody {
            holder: me.clone(),
            renewed: crate::daemon::unix_now(),
            duration_secs: self.timing.duration.as_secs(),
            generation,
        })
        .unwrap_or_default()
    }

    fn took(&self, me: &Holder, etag: Option<String>, generation: u64) -> Attempt {
        let mut st = self.state();
        st.observer.reset();
        st.etag = etag;
        st.generation = generation;
        st.me = Some(me.clone());
        Attempt::Acquired
    }
}

/// The `<Code>` and `<Message>` of an S3 error document.
fn s3_error(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let tag = |t: &str| {
        let open = format!("<{t}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{t}>"))? + start;
        Some(text[start..end].to_string())
    };
    match (tag("Code"), tag("Message")) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c,
        _ => "no error document".to_string(),
    }
}

#[async_trait]
impl LockBackend for S3Lock {
    fn describe(&self) -> String {
        format!("S3 object s3://{}/{}", self.bucket, self.key)
    }

    fn timing(&self) -> Timing {
        self.timing
    }

    async fn try_acquire(&self, me: &Holder) -> Result<Attempt, BackendError> {
        let created = self
            .send("PUT", &[("if-none-match", "*")], self.body(me, 1))
            .await?;
        if created.status / 100 == 2 {
            return Ok(self.took(me, created.etag, 1));
        }
        let read = self.send("GET", &[], Vec::new()).await?;
        if read.status == 404 {
            // Released between the two requests: try again on the next round.
            return Ok(Attempt::Held(None));
        }
        let etag = read.etag.clone().unwrap_or_default();
        let Ok(found) = serde_json::from_slice::<LockBody>(&read.body) else {
            // Not keelson's: only observation can tell that it is abandoned.
            let stale = self.state().observer.stale(
                &etag,
                None,
                self.timing,
                Instant::now(),
                crate::daemon::unix_now(),
            );
            if !stale {
                return Ok(Attempt::Held(None));
            }
            return self.take_over(me, &etag, 1, None).await;
        };
        let ours = found.holder.pid == me.pid && found.holder.host == me.host;
        let mut timing = self.timing;
        timing.duration = timing
            .duration
            .max(Duration::from_secs(found.duration_secs));
        let stale = ours
            || self.state().observer.stale(
                &etag,
                Some(found.renewed),
                timing,
                Instant::now(),
                crate::daemon::unix_now(),
            );
        if !stale {
            return Ok(Attempt::Held(Some(found.holder)));
        }
        self.take_over(me, &etag, found.generation + 1, Some(found.holder))
            .await
    }

    async fn renew(&self, me: &Holder) -> Result<bool, BackendError> {
        let (etag, generation) = {
            let st = self.state();
            (st.etag.clone(), st.generation)
        };
        let Some(etag) = etag else {
            return Ok(false);
        };
        let a = self
            .send("PUT", &[("if-match", &etag)], self.body(me, generation))
            .await?;
        if a.status / 100 == 2 {
            self.state().etag = a.etag;
            return Ok(true);
        }
        Ok(false)
    }

    async fn release(&self) -> Result<(), BackendError> {
        let etag = self.state().etag.take();
        if let Some(etag) = etag {
            self.send("DELETE", &[("if-match", &etag)], Vec::new())
                .await?;
        }
        Ok(())
    }
}

impl S3Lock {
    async fn take_over(
        &self,
        me: &Holder,
        etag: &str,
        generation: u64,
        was: Option<Holder>,
    ) -> Result<Attempt, BackendError> {
        let a = self
            .send("PUT", &[("if-match", etag)], self.body(me, generation))
            .await?;
        if a.status / 100 == 2 {
            if let Some(h) = &was {
                if h.pid != me.pid || h.host != me.host {
                    crate::daemon::driver::log(&format!(
                        "took over {} from {h}, whose lock had expired",
                        self.describe()
                    ));
                }
            }
            return Ok(self.took(me, a.etag, generation));
        }
        Ok(Attempt::Held(was))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_urls_are_path_style_on_an_endpoint_and_virtual_hosted_on_s3() {
        assert_eq!(
            object_url(
                Some("http://127.0.0.1:5000/"),
                "eu-west-1",
                "b",
                "fleets/prod lock"
            ),
            "http://127.0.0.1:5000/b/fleets/prod%20lock"
        );
        assert_eq!(
            object_url(None, "eu-west-1", "b", "k.lock"),
            "https://b.s3.eu-west-1.amazonaws.com/k.lock"
        );
        assert_eq!(
            object_url(None, "eu-west-1", "my.bucket", "k"),
            "https://s3.eu-west-1.amazonaws.com/my.bucket/k"
        );
    }

    #[test]
    fn s3_error_documents_are_shown_by_code_and_message() {
        let doc = b"<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";
        assert_eq!(s3_error(doc), "AccessDenied: Access Denied");
        assert_eq!(s3_error(b"<html>"), "no error document");
    }
}
