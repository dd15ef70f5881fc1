//! The daemon's HTTP endpoints (hyper 1, HTTP/1.1).
//!
//! ```text
//!  GET  /healthz  200 while the process runs
//!  GET  /readyz   200 when this daemon holds the fleet lock and has synced, else 503
//!  GET  /status   the status document (JSON)
//!  GET  /metrics  Prometheus text format
//!  POST /webhook  X-Hub-Signature-256 checked: 202 and a fetch, or 401 and nothing
//!  POST /control/{reconcile,suspend,resume,approve}  bearer token (`control`); off
//!                 (404) unless a token is configured
//! ```
//!
//! The listener defends itself, so that a slow or hostile client can neither hold sockets
//! open nor starve the process of file descriptors (which the syncs need): request headers
//! must arrive within [`Limits::header_timeout`], a webhook body within
//! [`Limits::body_timeout`], a connection lives at most [`Limits::connection_timeout`], and
//! connections are capped in all and per peer address; at a cap the oldest connection is
//! closed to admit the new one, so `/healthz` keeps answering while sockets are held open.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use super::{control, webhook, Shared, Wake};

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
    body_timeout: Duration,
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
        (&Method::GET, "/metrics") => {
            let mut body = shared.metrics.render();
            body.push_str(&super::report::render_clusters(&shared.status()));
            reply(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                body,
            )
        }
        (&Method::POST, "/webhook") => webhook_request(&shared, req, body_timeout).await,
        (&Method::POST, p) if p.starts_with("/control/") => {
            control_request(&shared, req, body_timeout).await
        }
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

async fn webhook_request(
    shared: &Shared,
    req: Request<Incoming>,
    body_timeout: Duration,
) -> Response<Full<Bytes>> {
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
    let body = match read_body(req, body_timeout).await {
        Ok(b) => b,
        Err(r) => return r,
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

/// A request body of at most [`MAX_BODY`] bytes, arrived within `body_timeout`.
async fn read_body(
    req: Request<Incoming>,
    body_timeout: Duration,
) -> Result<Bytes, Response<Full<Bytes>>> {
    let text = "text/plain; charset=utf-8";
    let collect = Limited::new(req.into_body(), MAX_BODY).collect();
    match tokio::time::timeout(body_timeout, collect).await {
        Ok(Ok(b)) => Ok(b.to_bytes()),
        Ok(Err(_)) => Err(reply(
            StatusCode::PAYLOAD_TOO_LARGE,
            text,
            "body too large or unreadable\n",
        )),
        Err(_) => Err(reply(
            StatusCode::REQUEST_TIMEOUT,
            text,
            "the body did not arrive in time\n",
        )),
    }
}

/// `POST /control/VERB`: the token first, then the request; the answer is one line.
async fn control_request(
    shared: &Shared,
    req: Request<Incoming>,
    body_timeout: Duration,
) -> Response<Full<Bytes>> {
    let text = "text/plain; charset=utf-8";
    let refuse = |r: control::Refused| {
        let code = StatusCode::from_u16(r.code).unwrap_or(StatusCode::BAD_REQUEST);
        reply(code, text, format!("{}\n", r.message))
    };
    let header = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Err(r) = control::authorize(shared.control_token.as_deref(), header) {
        tracing::warn!(status = r.code, "control request refused");
        return refuse(r);
    }
    let verb = req.uri().path().trim_start_matches("/control/").to_string();
    let body = match read_body(req, body_timeout).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let request = match control::parse(&verb, &body) {
        Ok(r) => r,
        Err(r) => return refuse(r),
    };
    let result = control::apply(&mut shared.status(), request);
    match result {
        Ok(message) => {
            crate::logging::log(
                crate::logging::Level::Info,
                None,
                &format!("control: {message}"),
            );
            // Every change of the overrides takes effect at a sync, so one starts now.
            shared.wake(Wake::Reconcile);
            reply(StatusCode::OK, text, format!("{message}\n"))
        }
        Err(r) => refuse(r),
    }
}

/// The listener's defences.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Most connections open at once from one peer address.
    pub per_peer: usize,
    /// Time for a client to send a request's headers.
    pub header_timeout: Duration,
    /// Time for a client to send a webhook body.
    pub body_timeout: Duration,
    /// Longest life of one connection (keep-alive included).
    pub connection_timeout: Duration,
}

impl Limits {
    /// Defaults for this process: at most 256 connections, fewer when the file
    /// descriptor limit is low (a quarter of it, leaving the rest to the syncs), 32 per
    /// peer, 5 s for headers, 10 s for a body, 60 s per connection.
    pub fn for_this_process() -> Limits {
        let fds = open_file_limit().unwrap_or(1024);
        Limits {
            max_connections: (fds / 4).clamp(4, 256) as usize,
            per_peer: 32,
            header_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(10),
            connection_timeout: Duration::from_secs(60),
        }
    }
}

/// The soft limit on open files.
fn open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct it is given.
        let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } == 0;
        ok.then_some(r.rlim_cur)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Open connections, oldest first, each with the handle that closes it.
#[derive(Default)]
struct Conns {
    next: u64,
    open: std::collections::BTreeMap<u64, (IpAddr, Option<tokio::task::AbortHandle>)>,
}

impl Conns {
    /// Make room for a connection from `peer` and register it. When a cap is reached the
    /// oldest connection (of that peer, when the peer is at its own cap) is closed: a
    /// client that holds sockets open cannot lock the others out, and a probe that
    /// connects now is served.
    fn admit(&mut self, peer: IpAddr, limits: &Limits) -> u64 {
        let mine = self.open.values().filter(|(p, _)| *p == peer).count();
        let victim = if mine >= limits.per_peer {
            self.open
                .iter()
                .find(|(_, (p, _))| *p == peer)
                .map(|(id, _)| *id)
        } else if self.open.len() >= limits.max_connections {
            self.open.keys().next().copied()
        } else {
            None
        };
        if let Some((_, Some(h))) = victim.and_then(|id| self.open.remove(&id)) {
            h.abort();
        }
        self.next += 1;
        self.open.insert(self.next, (peer, None));
        self.next
    }
}

/// A connection's place under the caps, given back when it closes (or is closed).
struct Slot {
    conns: Arc<Mutex<Conns>>,
    id: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        c.open.remove(&self.id);
    }
}

fn lock(conns: &Mutex<Conns>) -> std::sync::MutexGuard<'_, Conns> {
    conns.lock().unwrap_or_else(|p| p.into_inner())
}

/// Serve on `listener` until shutdown begins, with the defaults of
/// [`Limits::for_this_process`].
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    serve_with(listener, shared, Limits::for_this_process()).await;
}

/// Serve on `listener` until shutdown begins.
pub async fn serve_with(listener: TcpListener, shared: Arc<Shared>, limits: Limits) {
    let mut stop = shared.shutdown.subscribe();
    let conns = Arc::new(Mutex::new(Conns::default()));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|v| *v) => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors, most likely: wait a moment instead of spinning.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let id = lock(&conns).admit(peer.ip(), &limits);
        let slot = Slot {
            conns: conns.clone(),
            id,
        };
        let shared = shared.clone();
        let task = tokio::spawn(async move {
            let _slot = slot;
            let svc = service_fn(move |req| handle(shared.clone(), req, limits.body_timeout));
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), svc);
            let _ = tokio::time::timeout(limits.connection_timeout, conn).await;
        });
        if let Some(entry) = lock(&conns).open.get_mut(&id) {
            entry.1 = Some(task.abort_handle());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_connections: 4,
            per_peer: 2,
            ..Limits::for_this_process()
        }
    }

    #[test]
    fn caps_close_the_oldest_connection_of_the_peer_then_overall() {
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let c: IpAddr = [10, 0, 0, 3].into();
        let mut conns = Conns::default();
        let a1 = conns.admit(a, &limits());
        let a2 = conns.admit(a, &limits());
        // A third from the same peer takes the place of its oldest.
        let a3 = conns.admit(a, &limits());
        assert_eq!(conns.open.keys().copied().collect::<Vec<_>>(), [a2, a3]);
        assert!(!conns.open.contains_key(&a1));
        let b1 = conns.admit(b, &limits());
        let b2 = conns.admit(b, &limits());
        // Full: a new peer's connection closes the oldest overall.
        let c1 = conns.admit(c, &limits());
        assert_eq!(
            conns.open.keys().copied().collect::<Vec<_>>(),
            [a3, b1, b2, c1]
        );
        assert_eq!(conns.open.len(), 4);
    }

    #[test]
    fn the_default_cap_leaves_most_descriptors_to_the_syncs() {
        let l = Limits::for_this_process();
        let fds = open_file_limit().unwrap_or(1024);
        assert!(l.max_connections as u64 <= fds / 4 || l.max_connections == 4);
        assert!(l.max_connections <= 256);
    }
}
