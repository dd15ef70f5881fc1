//! EKS bearer tokens: the presigned STS URL is checked against an independent SigV4
//! computation (hmac + sha256 written out here), and against the shape `aws eks get-token`
//! produces.

use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use base64::Engine;
use hmac::{Hmac, Mac};
use keelson::adapters::aws::token::{bearer_token, presigned_url, TOKEN_PREFIX};
use sha2::{Digest, Sha256};

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn query(url: &str) -> Vec<(String, String)> {
    url.split_once('?')
        .unwrap()
        .1
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn the_signature_matches_an_independent_sigv4_computation() {
    let creds = Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        None,
        None,
        "test",
    );
    let time = UNIX_EPOCH + Duration::from_secs(1_795_392_000); // 2026-11-23T00:00:00Z
    let url = presigned_url(&creds, "us-east-1", "prod-use1", time).unwrap();
    assert!(
        url.starts_with(
            "https://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"
        ),
        "{url}"
    );
    let q = query(&url);
    let get = |k: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(get("X-Amz-Algorithm"), "AWS4-HMAC-SHA256");
    assert_eq!(
        get("X-Amz-Credential"),
        "AKIDEXAMPLE%2F20261123%2Fus-east-1%2Fsts%2Faws4_request"
    );
    assert_eq!(get("X-Amz-Date"), "20261123T000000Z");
    assert_eq!(get("X-Amz-Expires"), "60");
    assert_eq!(get("X-Amz-SignedHeaders"), "host%3Bx-k8s-aws-id");
    let signature = get("X-Amz-Signature");
    assert_eq!(signature.len(), 64);

    // The canonical request: every query parameter but the signature, sorted.
    let mut params: Vec<(String, String)> = q
        .iter()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .cloned()
        .collect();
    params.sort();
    let canonical_query = params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let canonical = format!(
        "GET\n/\n{canonical_query}\nhost:sts.us-east-1.amazonaws.com\nx-k8s-aws-id:prod-use1\n\nhost;x-k8s-aws-id\n{}",
        hex(&Sha256::digest(b""))
    );
    let scope = "20261123/us-east-1/sts/aws4_request";
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n20261123T000000Z\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let k_date = hmac(b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20261123");
    let k_region = hmac(&k_date, "us-east-1");
    let k_service = hmac(&k_region, "sts");
    let k_signing = hmac(&k_service, "aws4_request");
    assert_eq!(signature, hex(&hmac(&k_signing, &to_sign)));
}

#[test]
fn tokens_have_the_shape_the_api_server_expects() {
    let creds = Credentials::new(
        "AKID",
        "secret",
        Some("session/token+with=chars".into()),
        None,
        "test",
    );
    let time = UNIX_EPOCH + Duration::from_secs(1_795_392_000);
    let token = bearer_token(&creds, "ap-northeast-1", "staging-apne1", time).unwrap();
    assert!(token.starts_with(TOKEN_PREFIX));
    let body = token.strip_prefix(TOKEN_PREFIX).unwrap();
    assert!(
        !body.contains('=') && !body.contains('+') && !body.contains('/'),
        "base64url without padding"
    );
    let url = String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .unwrap(),
    )
    .unwrap();
    assert!(url.starts_with("https://sts.ap-northeast-1.amazonaws.com/?Action=GetCallerIdentity"));
    assert!(
        url.contains("X-Amz-Security-Token=session%2Ftoken%2Bwith%3Dchars"),
        "{url}"
    );
    // Bound to the cluster: another cluster name gives another signature.
    let other = bearer_token(&creds, "ap-northeast-1", "prod-apne1", time).unwrap();
    assert_ne!(token, other);
}
