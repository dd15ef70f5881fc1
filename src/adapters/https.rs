//! The one HTTP(S) client setup keelson's own requests share (the S3 fleet lock,
//! notifications): hyper with rustls and the system's root certificates, HTTP/1.1,
//! plain `http://` allowed for local endpoints and tests.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;

/// A client that sends a body held in memory.
pub(crate) type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A new client.
///
/// # Errors
/// The system has no TLS root certificates (the message says so).
pub(crate) fn client() -> Result<HttpsClient, String> {
    crate::adapters::kube::install_crypto_provider();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| format!("no TLS root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector))
}
