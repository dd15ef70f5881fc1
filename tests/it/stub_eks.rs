//! A local stand-in for the EKS endpoint, for what moto cannot do: answer never, slowly,
//! with 5xx, or with AccessDenied. Plain threads on a loopback TCP listener, one
//! request per connection (`Connection: close`), every request counted.
//!
//! ```text
//!  keelson (AWS_ENDPOINT_URL_EKS=http://127.0.0.1:PORT) ──HTTP──► Stub ──► Behaviour
//!      Healthy: no clusters (ListClusters, DescribeClusterVersions empty; the rest 404)
//!      Silent: read the request, never answer   Slow(d): Healthy after d
//!      Unavailable: 503 ServiceUnavailableException   Denied: 403 AccessDeniedException
//!      DenyAssumeRole: Healthy, and STS (`POST /`) answers AccessDenied to AssumeRole
//! ```

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How the stub answers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Behaviour {
    Healthy,
    Silent,
    Slow(Duration),
    Unavailable,
    Denied,
    /// EKS healthy, STS refusing every AssumeRole (its query protocol: `POST /`).
    DenyAssumeRole,
}

/// A running stub; stops accepting when dropped.
pub(crate) struct Stub {
    pub(crate) url: String,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Stub {
    pub(crate) fn start(behaviour: Behaviour) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (count, stopped) = (count.clone(), stopped.clone());
                        std::thread::spawn(move || serve(conn, behaviour, &count, &stopped));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Stub {
            url,
            requests,
            stop,
        }
    }

    /// Requests received so far (each attempt of a retried call is one).
    pub(crate) fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The request line and headers; the body is read and dropped (the stub's answers do
/// not depend on it, and a socket closed with unread data would be reset).
fn read_head(conn: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body).ok()?;
    Some(head)
}

/// STS's answer to AssumeRole when the trust policy does not allow the caller.
const STS_DENIED: &str = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/ci is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222233334444:role/keelson</Message></Error><RequestId>stub</RequestId></ErrorResponse>";

fn serve(mut conn: TcpStream, behaviour: Behaviour, count: &AtomicUsize, stop: &AtomicBool) {
    conn.set_nonblocking(false).ok();
    let Some(head) = read_head(&mut conn) else {
        return;
    };
    count.fetch_add(1, Ordering::SeqCst);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let sts = head.starts_with("POST") && path == "/";
    let (status, error, body) = match behaviour {
        Behaviour::DenyAssumeRole if sts => (403, None, STS_DENIED.to_string()),
        Behaviour::Silent => {
            // Hold the connection open, answering nothing, until the stub stops.
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
            }
            return;
        }
        Behaviour::Unavailable => (503, Some("ServiceUnavailableException"), "{\"message\":\"stub: unavailable\"}".to_string()),
        Behaviour::Denied => (
            403,
            Some("AccessDeniedException"),
            "{\"message\":\"User: arn:aws:iam::123456789012:user/ci is not authorized to perform: eks:ListClusters\"}".to_string(),
        ),
        Behaviour::Slow(d) => {
            std::thread::sleep(d);
            healthy(&path)
        }
        Behaviour::Healthy | Behaviour::DenyAssumeRole => healthy(&path),
    };
    let mut out = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        if sts { "text/xml" } else { "application/json" },
        body.len()
    );
    if let Some(e) = error {
        out.push_str(&format!("x-amzn-ErrorType: {e}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&body);
    let _ = conn.write_all(out.as_bytes());
}

fn healthy(path: &str) -> (u16, Option<&'static str>, String) {
    match path.split('?').next() {
        Some("/clusters") => (200, None, "{\"clusters\":[]}".into()),
        Some("/cluster-versions") => (200, None, "{\"clusterVersions\":[]}".into()),
        _ => (
            404,
            Some("ResourceNotFoundException"),
            "{\"message\":\"stub: no such resource\"}".into(),
        ),
    }
}
