//! The daemon's HTTP endpoints (hyper 1, HTTP/1.1).
//!
//! ```text
//!  GET  /healthz  200 while the process runs
//!  GET  /readyz   200 when this daemon holds the fleet lock and has synced, else 503
//!  GET  /status   the status document (JSON)
//!  GET  /metrics  Prometheus text format
//!  POST /webhook  X-Hub-Signature-256 checked: 202 and a fetch, or 401 and nothing
//! ```

use std::convert::Infallible;
use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::{webhook, Shared, Wake};

/// Largest webhook body read.
const MAX_BODY: usize = 1 << 20;

fn reply(code: StatusCode, ctype: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = code;
    if let Ok(v) = http::HeaderValue::from_str(ctype) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let text = "text/plain; charset=utf-8";
    let path = req.uri().path().to_string();
    let r = match (req.method(), path.as_str()) {
        (&Method::GET, "/healthz") => reply(StatusCode::OK, text, "ok\n"),
        (&Method::GET, "/readyz") => {
            let st = shared.status();
            if st.ready {
                reply(StatusCode::OK, text, "ready\n")
            } else {
                let why = match &st.lock_holder {
                    Some(h) => format!("standby: the fleet lock is held by {h}\n"),
                    None => "not ready: no sync completed yet\n".to_string(),
                };
                reply(StatusCode::SERVICE_UNAVAILABLE, text, why)
            }
        }
        (&Method::GET, "/status") => {
            let body = serde_json::to_vec_pretty(&*shared.status()).unwrap_or_default();
            reply(StatusCode::OK, "application/json", body)
        }
        (&Method::GET, "/metrics") => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            shared.metrics.render(),
        ),
        (&Method::POST, "/webhook") => webhook_request(&shared, req).await,
        (_, "/healthz" | "/readyz" | "/status" | "/metrics" | "/webhook") => {
            reply(StatusCode::METHOD_NOT_ALLOWED, text, "method not allowed\n")
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            text,
            "not found; try /status, /metrics, /healthz, /readyz\n",
        ),
    };
    Ok(r)
}

async fn webhook_request(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let text = "text/plain; charset=utf-8";
    let Some(secret) = shared.webhook_secret.as_deref() else {
        return reply(
            StatusCode::NOT_FOUND,
            text,
            "the webhook is off; start keelson run with --webhook-secret-file\n",
        );
    };
    let header = req
        .headers()
        .get(webhook::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                text,
                "body too large or unreadable\n",
            )
        }
    };
    match webhook::verify(secret, &body, header.as_deref()) {
        Ok(()) => {
            let push = webhook::parse_push(&body);
            tracing::info!(git_ref = ?push.git_ref, after = ?push.after, "webhook accepted");
            shared.wake(Wake::Webhook);
            reply(StatusCode::ACCEPTED, text, "accepted; fetching\n")
        }
        Err(e) => {
            tracing::warn!(error = %e, "webhook refused");
            reply(StatusCode::UNAUTHORIZED, text, format!("{e}\n"))
        }
    }
}

/// Serve on `listener` until shutdown begins.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut stop = shared.shutdown.subscribe();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|v| *v) => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let shared = shared.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(shared.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
