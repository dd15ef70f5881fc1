//! The push webhook: GitHub-style `X-Hub-Signature-256` checks. Pure.
//!
//! ```text
//!  POST /webhook ──► header "sha256=<hex>" + body + secret ──HMAC-SHA256, constant time──► accept │ 401
//!                ──► accepted: {ref, after} read from a push payload (when present) ──► trigger a fetch
//! ```
//!
//! A request whose signature is missing or wrong triggers nothing. The payload is only a
//! hint: the daemon always fetches the remote itself and never trusts a revision named
//! in a request.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header GitHub (and Gitea, Forgejo) sign pushes with.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Why a webhook request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// No signature header.
    #[error("missing {SIGNATURE_HEADER} header")]
    Missing,
    /// The header is not `sha256=<64 hex digits>`.
    #[error("malformed {SIGNATURE_HEADER} header (expected sha256=<hex>)")]
    Malformed,
    /// The signature does not match the body and secret.
    #[error("signature does not match")]
    Mismatch,
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Check the `X-Hub-Signature-256` header value against the body. The comparison is
/// constant-time (`hmac`'s `verify_slice`).
///
/// # Errors
/// [`WebhookError`] when the header is missing, malformed or wrong.
pub fn verify(secret: &[u8], body: &[u8], header: Option<&str>) -> Result<(), WebhookError> {
    let header = header.ok_or(WebhookError::Missing)?;
    let hex = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or(WebhookError::Malformed)?;
    let sig = unhex(hex).ok_or(WebhookError::Malformed)?;
    if sig.len() != 32 {
        return Err(WebhookError::Malformed);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| WebhookError::Mismatch)?;
    mac.update(body);
    mac.verify_slice(&sig).map_err(|_| WebhookError::Mismatch)
}

/// The header value for `body` signed with `secret` (for clients and tests).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut out = String::from("sha256=");
    if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) {
        mac.update(body);
        for b in mac.finalize().into_bytes() {
            out.push_str(&format!("{b:02x}"));
        }
    }
    out
}

/// What a push payload says, when it is one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Push {
    /// `refs/heads/main`, `refs/tags/v1`.
    pub git_ref: Option<String>,
    /// The new head.
    pub after: Option<String>,
}

/// Read `ref` and `after` from a JSON push payload; anything else gives an empty hint.
pub fn parse_push(body: &[u8]) -> Push {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Push::default();
    };
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    Push {
        git_ref: s("ref"),
        after: s("after"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_documented_example() {
        // From GitHub's "Validating webhook deliveries" page.
        let h = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(
            verify(b"It's a Secret to Everybody", b"Hello, World!", Some(h)),
            Ok(())
        );
        assert_eq!(sign(b"It's a Secret to Everybody", b"Hello, World!"), h);
    }

    #[test]
    fn rejects_wrong_missing_and_malformed() {
        let good = sign(b"s3cret", b"{}");
        assert_eq!(
            verify(b"other", b"{}", Some(&good)),
            Err(WebhookError::Mismatch)
        );
        assert_eq!(
            verify(b"s3cret", b"{ }", Some(&good)),
            Err(WebhookError::Mismatch)
        );
        assert_eq!(verify(b"s3cret", b"{}", None), Err(WebhookError::Missing));
        assert_eq!(
            verify(b"s3cret", b"{}", Some("sha1=00")),
            Err(WebhookError::Malformed)
        );
        assert_eq!(
            verify(b"s3cret", b"{}", Some("sha256=zz")),
            Err(WebhookError::Malformed)
        );
        assert_eq!(
            verify(b"s3cret", b"{}", Some("sha256=00ff")),
            Err(WebhookError::Malformed)
        );
        assert_eq!(
            verify(b"s3cret", b"{}", Some("sha256=\u{e9}\u{e9}")),
            Err(WebhookError::Malformed)
        );
    }

    #[test]
    fn push_payload() {
        let p = parse_push(br#"{"ref":"refs/heads/main","after":"abc","x":1}"#);
        assert_eq!(p.git_ref.as_deref(), Some("refs/heads/main"));
        assert_eq!(p.after.as_deref(), Some("abc"));
        assert_eq!(parse_push(b"not json"), Push::default());
    }
}
