//! Sending notifications: one background task per configured target, fed through a
//! bounded queue, so a slow or dead endpoint never holds up a sync.
//!
//! ```text
//!  sync ──send(events) / commit_status()──► try_send (queue full: dropped, counted)
//!                                               │ per target
//!                                               ▼
//!                           task: token bucket (over: counted, summed up later)
//!                                 └─► POST ──5xx │ 429 │ timeout │ refused──► backoff, retry (bounded)
//! ```
//!
//! The URL or token is read (environment variable or file) when the Fleet's policy is
//! applied to the notifier, at each sync; a target whose secret cannot be read is left out
//! with a warning naming the variable or file, never the secret.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use tokio::sync::mpsc;

use super::https::HttpsClient;
use crate::daemon::notify::{
    backoff, commit_state, github_repository, slack_body, webhook_body, webhook_suppressed_body,
    Bucket, Event, SyncResult,
};
use crate::errors::error_chain;
use crate::model::{Notification, NotificationType, SecretRef};

/// How the notifier sends.
#[derive(Debug, Clone, Copy)]
pub struct SendOptions {
    /// Longest wait for one request.
    pub timeout: Duration,
    /// Tries per message (the first included).
    pub attempts: u32,
    /// Wait before the first retry; doubled for each next one.
    pub backoff: Duration,
    /// Messages a target's queue holds; more are dropped and counted.
    pub queue: usize,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            timeout: Duration::from_secs(10),
            attempts: 4,
            backoff: Duration::from_secs(1),
            queue: 64,
        }
    }
}

/// Counts of what happened to messages, for metrics and tests.
#[derive(Debug, Default)]
pub struct Stats {
    /// Delivered (a 2xx answer).
    pub sent: AtomicU64,
    /// Given up on after the last retry, or refused with a 4xx.
    pub failed: AtomicU64,
    /// Dropped because a target's queue was full.
    pub dropped: AtomicU64,
    /// Left out by a target's rate limit (and summed up in a later message).
    pub suppressed: AtomicU64,
}

/// Where one target's messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Endpoint {
    Webhook(String),
    Slack(String),
    Github {
        api: String,
        repository: String,
        token: String,
    },
}

impl Endpoint {
    /// The scheme and host, for logs (a URL's path may be a secret).
    fn describe(&self) -> String {
        let url = match self {
            Endpoint::Webhook(u) | Endpoint::Slack(u) => u.as_str(),
            Endpoint::Github { api, .. } => api.as_str(),
        };
        let host = url
            .split("://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or("?");
        let kind = match self {
            Endpoint::Webhook(_) => "webhook",
            Endpoint::Slack(_) => "slack",
            Endpoint::Github { .. } => "githubStatus",
        };
        format!("{kind} {host}")
    }
}

enum Message {
    Event(Box<Event>),
    Status {
        sha: String,
        body: serde_json::Value,
    },
}

struct Worker {
    config: Notification,
    endpoint: Endpoint,
    tx: mpsc::Sender<Message>,
}

/// The daemon's notifier.
pub struct Notifier {
    handle: tokio::runtime::Handle,
    client: Option<HttpsClient>,
    opts: SendOptions,
    source_url: Option<String>,
    workers: Mutex<Vec<Worker>>,
    fleet: Mutex<String>,
    warned: Mutex<BTreeSet<String>>,
    last_status: Mutex<Option<(String, String)>>,
    pending: Arc<AtomicUsize>,
    /// What happened to messages so far.
    pub stats: Arc<Stats>,
}

fn read_secret(r: &SecretRef, what: &str) -> Result<String, String> {
    let v = match (&r.env, &r.file) {
        (Some(name), None) => std::env::var(name)
            .map_err(|_| format!("{what}: environment variable {name} is not set"))?,
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| format!("{what}: file {path} cannot be read ({e})"))?,
        _ => return Err(format!("{what}: give exactly one of `env` and `file`")),
    };
    let v = v.trim().to_string();
    if v.is_empty() {
        return Err(format!("{what} is empty"));
    }
    Ok(v)
}

impl Notifier {
    /// A notifier whose tasks run on `handle`; `source_url` is the git remote followed
    /// (for commit statuses), if any.
    pub fn new(
        handle: tokio::runtime::Handle,
        opts: SendOptions,
        source_url: Option<String>,
    ) -> Notifier {
        let client = match super::https::client() {
            Ok(c) => Some(c),
            Err(e) => {
                crate::logging::log(
                    crate::logging::Level::Warn,
                    None,
                    &format!("notifications are off: {e}"),
                );
                None
            }
        };
        Notifier {
            handle,
            client,
            opts,
            source_url,
            workers: Mutex::new(Vec::new()),
            fleet: Mutex::new(String::new()),
            warned: Mutex::new(BTreeSet::new()),
            last_status: Mutex::new(None),
            pending: Arc::new(AtomicUsize::new(0)),
            stats: Arc::new(Stats::default()),
        }
    }

    fn endpoint(&self, n: &Notification) -> Result<Option<Endpoint>, String> {
        let url = || match (&n.url, &n.url_from) {
            (Some(u), None) => Ok(u.clone()),
            (None, Some(r)) => read_secret(r, &format!("the {} URL", n.kind)),
            _ => Err(format!(
                "a {} notification needs exactly one of `url` and `urlFrom`",
                n.kind
            )),
        };
        Ok(Some(match n.kind {
            NotificationType::Webhook => Endpoint::Webhook(url()?),
            NotificationType::Slack => Endpoint::Slack(url()?),
            NotificationType::GithubStatus => {
                let api = std::env::var("GITHUB_API_URL").ok();
                let from_url = self.source_url.as_deref().and_then(github_repository);
                // Only a commit of a GitHub-hosted repository (or GitHub Enterprise, which
                // sets GITHUB_API_URL) has a status to set.
                if api.is_none() && from_url.is_none() {
                    return Ok(None);
                }
                let repository = n
                    .repository
                    .clone()
                    .or(from_url)
                    .or_else(|| std::env::var("GITHUB_REPOSITORY").ok())
                    .ok_or("githubStatus: name the repository (`repository: OWNER/NAME`); the source's URL does not")?;
                let token = match &n.token_from {
                    Some(r) => read_secret(r, "the GitHub token")?,
                    None => return Err("githubStatus needs `tokenFrom`".into()),
                };
                Endpoint::Github {
                    api: api
                        .unwrap_or_else(|| "https://api.github.com".into())
                        .trim_end_matches('/')
                        .to_string(),
                    repository,
                    token,
                }
            }
        }))
    }

    /// Take the Fleet's notification targets: keep the running ones that did not change
    /// (and their rate limits), start new ones, stop the rest. A target whose secret
    /// cannot be read is left out, with one warning until it changes.
    pub fn configure(&self, fleet: &str, targets: &[Notification]) {
        *self.fleet.lock().unwrap_or_else(|p| p.into_inner()) = fleet.to_string();
        let mut old = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|p| p.into_inner()));
        let mut next = Vec::new();
        let mut warnings = BTreeSet::new();
        for (i, n) in targets.iter().enumerate() {
            let endpoint = match self.endpoint(n) {
                Ok(Some(e)) => e,
                Ok(None) => continue,
                Err(e) => {
                    warnings.insert(format!(
                        "spec.policy.notifications[{i}]: {e}; not sending to it"
                    ));
                    continue;
                }
            };
            if let Some(p) = old
                .iter()
                .position(|w| w.config == *n && w.endpoint == endpoint)
            {
                next.push(old.swap_remove(p));
                continue;
            }
            let Some(client) = self.client.clone() else {
                continue;
            };
            let (tx, rx) = mpsc::channel(self.opts.queue.max(1));
            let task = Task {
                client,
                endpoint: endpoint.clone(),
                opts: self.opts,
                bucket: (n.burst.unwrap_or(10), n.per_minute.unwrap_or(6)),
                fleet: fleet.to_string(),
                pending: self.pending.clone(),
                stats: self.stats.clone(),
            };
            self.handle.spawn(task.run(rx));
            next.push(Worker {
                config: n.clone(),
                endpoint,
                tx,
            });
        }
        let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        for w in warnings.difference(&warned) {
            crate::logging::log(crate::logging::Level::Warn, None, w);
        }
        *warned = warnings;
        *self.workers.lock().unwrap_or_else(|p| p.into_inner()) = next;
    }

    fn enqueue(&self, w: &Worker, m: Message) {
        self.pending.fetch_add(1, Ordering::SeqCst);
        if w.tx.try_send(m).is_err() {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            crate::logging::log(
                crate::logging::Level::Warn,
                None,
                &format!(
                    "notification to {} dropped: its queue is full (the endpoint is slow or down)",
                    w.endpoint.describe()
                ),
            );
        }
    }

    /// Queue events for every webhook and Slack target that wants them; never waits.
    pub fn send(&self, events: &[Event]) {
        let workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
        for e in events {
            for w in workers.iter().filter(|w| {
                !matches!(w.endpoint, Endpoint::Github { .. }) && w.config.wants(e.kind)
            }) {
                self.enqueue(w, Message::Event(Box::new(e.clone())));
            }
        }
    }

    /// Queue the commit status of `revision` for the result of a sync, when the revision
    /// is a commit and it differs from the last status sent; never waits.
    pub fn commit_status(&self, revision: &str, result: SyncResult<'_>) {
        let is_commit = revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_commit {
            return;
        }
        let fleet = self.fleet.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let (state, description) = commit_state(result);
        let body = serde_json::json!({
            "state": state,
            "description": description,
            "context": format!("keelson/{fleet}"),
        });
        let key = (revision.to_string(), body.to_string());
        {
            let mut last = self.last_status.lock().unwrap_or_else(|p| p.into_inner());
            if last.as_ref() == Some(&key) {
                return;
            }
            *last = Some(key);
        }
        let workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
        for w in workers
            .iter()
            .filter(|w| matches!(w.endpoint, Endpoint::Github { .. }))
        {
            self.enqueue(
                w,
                Message::Status {
                    sha: revision.to_string(),
                    body: body.clone(),
                },
            );
        }
    }

    /// Wait until every queued message was handled, or `within` passed; whether all were.
    pub async fn flush(&self, within: Duration) -> bool {
        let end = tokio::time::Instant::now() + within;
        while self.pending.load(Ordering::SeqCst) > 0 {
            if tokio::time::Instant::now() >= end {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }
}

/// One target's background task.
struct Task {
    client: HttpsClient,
    endpoint: Endpoint,
    opts: SendOptions,
    bucket: (u32, u32),
    fleet: String,
    pending: Arc<AtomicUsize>,
    stats: Arc<Stats>,
}

impl Task {
    async fn run(self, mut rx: mpsc::Receiver<Message>) {
        let mut bucket = Bucket::new(self.bucket.0, self.bucket.1, Instant::now());
        let mut suppressed = 0u64;
        loop {
            let msg = if suppressed > 0 {
                // Events were left out: say how many as soon as the limit allows, unless
                // another event goes first and carries the count.
                let wait = bucket.wait(Instant::now());
                tokio::select! {
                    m = rx.recv() => m,
                    _ = tokio::time::sleep(wait) => {
                        if bucket.take(Instant::now()) {
                            let time = crate::daemon::rfc3339(crate::daemon::unix_now());
                            let body = match self.endpoint {
                                Endpoint::Slack(_) => slack_body(None, &self.fleet, suppressed),
                                _ => webhook_suppressed_body(&self.fleet, suppressed, &time),
                            };
                            self.deliver(None, body).await;
                            suppressed = 0;
                        }
                        continue;
                    }
                }
            } else {
                rx.recv().await
            };
            let Some(msg) = msg else { break };
            match msg {
                Message::Event(e) => {
                    if bucket.take(Instant::now()) {
                        let body = match self.endpoint {
                            Endpoint::Slack(_) => slack_body(Some(&e), &self.fleet, suppressed),
                            _ => webhook_body(&e, suppressed),
                        };
                        self.deliver(None, body).await;
                        suppressed = 0;
                    } else {
                        suppressed += 1;
                        self.stats.suppressed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                // Statuses are few (at most two per sync) and each replaces the last:
                // they are not rate-limited.
                Message::Status { sha, body } => self.deliver(Some(&sha), body).await,
            }
            self.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn request(&self, sha: Option<&str>, body: &[u8]) -> Option<http::Request<Full<Bytes>>> {
        let b = http::Request::builder()
            .method("POST")
            .header("content-type", "application/json")
            .header("user-agent", concat!("keelson/", env!("CARGO_PKG_VERSION")));
        let b = match &self.endpoint {
            Endpoint::Webhook(u) | Endpoint::Slack(u) => b.uri(u),
            Endpoint::Github {
                api,
                repository,
                token,
            } => b
                .uri(format!("{api}/repos/{repository}/statuses/{}", sha?))
                .header("authorization", format!("Bearer {token}"))
                .header("accept", "application/vnd.github+json")
                .header("x-github-api-version", "2022-11-28"),
        };
        b.body(Full::new(Bytes::copy_from_slice(body))).ok()
    }

    /// POST `body`, retrying 5xx, 429, timeouts and refused connections with backoff.
    async fn deliver(&self, sha: Option<&str>, body: serde_json::Value) {
        let body = body.to_string().into_bytes();
        let what = self.endpoint.describe();
        let mut last = String::new();
        for attempt in 1..=self.opts.attempts.max(1) {
            let Some(req) = self.request(sha, &body) else {
                last = "the URL is not valid".into();
                break;
            };
            let call = async {
                let resp = self.client.request(req).await?;
                let status = resp.status().as_u16();
                // Read the answer so the connection can be used again.
                let _ = resp.into_body().collect().await;
                Ok::<_, hyper_util::client::legacy::Error>(status)
            };
            let retry = match tokio::time::timeout(self.opts.timeout, call).await {
                Ok(Ok(s)) if (200..300).contains(&s) => {
                    self.stats.sent.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Ok(Ok(s)) => {
                    last = format!("it answered {s}");
                    s >= 500 || s == 429
                }
                Ok(Err(e)) => {
                    last = format!("it is unreachable ({})", error_chain(&e));
                    true
                }
                Err(_) => {
                    last = format!("it did not answer in {} s", self.opts.timeout.as_secs());
                    true
                }
            };
            if !retry {
                break;
            }
            if attempt < self.opts.attempts {
                tokio::time::sleep(backoff(self.opts.backoff, attempt)).await;
            }
        }
        self.stats.failed.fetch_add(1, Ordering::Relaxed);
        crate::logging::log(
            crate::logging::Level::Warn,
            None,
            &format!("notification to {what} not delivered: {last}"),
        );
    }
}
