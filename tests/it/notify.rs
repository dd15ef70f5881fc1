//! Notifications against a small HTTP server run by the test: the events of a real sync
//! (webhook, Slack and GitHub commit statuses), 5xx answers retried, the rate limit
//! coalescing events, and a dead endpoint that holds up neither sending nor the sync.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keelson::adapters::notify::{Notifier, SendOptions};
use keelson::daemon::notify::Event;
use keelson::model::{Notification, NotificationEvent, NotificationType};
use serde_json::Value;

use crate::daemon::{bin, s, wait_until};
use crate::plan_cli::copy;
use crate::util::{load, out_and_err as text, show, AUTO_CLUSTER, FLEET};

/// One request the server received.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub(crate) path: String,
    pub(crate) headers: BTreeMap<String, String>,
    pub(crate) body: Value,
}

/// A test HTTP server: answers with the scripted statuses in turn (200 once they run out),
/// or, when `hang`, accepts connections and never answers.
pub(crate) struct Server {
    pub(crate) port: u16,
    reqs: Arc<Mutex<Vec<Req>>>,
}

impl Server {
    pub(crate) fn start(script: &[u16], hang: bool) -> Server {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let reqs = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(
            script.iter().copied().collect::<VecDeque<u16>>(),
        ));
        let (r, held) = (reqs.clone(), Arc::new(Mutex::new(Vec::new())));
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(c) = c else { continue };
                if hang {
                    held.lock().unwrap().push(c);
                    continue;
                }
                let (r, script) = (r.clone(), script.clone());
                std::thread::spawn(move || serve(c, &r, &script));
            }
        });
        Server { port, reqs }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub(crate) fn received(&self) -> Vec<Req> {
        self.reqs.lock().unwrap().clone()
    }

    /// Wait until `n` requests arrived; all of them.
    pub(crate) fn wait_for(&self, n: usize, secs: u64) -> Vec<Req> {
        wait_until(&format!("{n} requests"), secs, || {
            let r = self.received();
            (r.len() >= n).then_some(r)
        })
    }
}

fn serve(c: TcpStream, reqs: &Mutex<Vec<Req>>, script: &Mutex<VecDeque<u16>>) {
    let mut r = BufReader::new(c.try_clone().unwrap());
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split(' ').nth(1).unwrap_or_default().to_string();
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            r.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        reqs.lock().unwrap().push(Req {
            path,
            headers,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        });
        let code = script.lock().unwrap().pop_front().unwrap_or(200);
        let mut w = &c;
        let _ = write!(w, "HTTP/1.1 {code} X\r\ncontent-length: 0\r\n\r\n");
    }
}

fn target(kind: NotificationType, url: &str) -> Notification {
    Notification {
        kind,
        url: Some(url.to_string()),
        url_from: None,
        token_from: None,
        repository: None,
        events: Vec::new(),
        burst: None,
        per_minute: None,
    }
}

fn event(cluster: &str) -> Event {
    Event {
        id: format!("id-{cluster}"),
        kind: NotificationEvent::ClusterBlocked,
        fleet: "acme".into(),
        cluster: cluster.into(),
        stage: "prod".into(),
        region: "us-east-1".into(),
        revision: "dir:/repo".into(),
        time: "2026-11-23T02:00:00Z".into(),
        summary: format!("{cluster}: blocked"),
        hop: None,
        steps: None,
        reasons: vec!["a gate".into()],
    }
}

fn fast() -> SendOptions {
    SendOptions {
        timeout: Duration::from_secs(2),
        attempts: 4,
        backoff: Duration::from_millis(50),
        queue: 8,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn server_errors_are_retried_with_the_same_event_until_one_is_received() {
    let rt = runtime();
    let srv = Server::start(&[503, 502], false);
    let n = Notifier::new(rt.handle().clone(), fast(), None);
    n.configure(
        "acme",
        &[target(NotificationType::Webhook, &srv.url("/hook"))],
    );
    n.send(&[event("a")]);
    assert!(rt.block_on(n.flush(Duration::from_secs(10))));
    let got = srv.received();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got
        .iter()
        .all(|r| r.body["id"] == "id-a" && r.path == "/hook"));
    assert_eq!(got[2].body["type"], "clusterBlocked");
    assert_eq!(got[2].headers["content-type"], "application/json");
    let st = &n.stats;
    assert_eq!(st.sent.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(st.failed.load(std::sync::atomic::Ordering::Relaxed), 0);
}

#[test]
fn a_client_error_is_not_retried_and_retries_are_bounded() {
    let rt = runtime();
    let srv = Server::start(&[400, 500, 500, 500, 500], false);
    let n = Notifier::new(rt.handle().clone(), fast(), None);
    n.configure("acme", &[target(NotificationType::Webhook, &srv.url("/"))]);
    n.send(&[event("a")]);
    assert!(rt.block_on(n.flush(Duration::from_secs(10))));
    n.send(&[event("b")]);
    assert!(rt.block_on(n.flush(Duration::from_secs(10))));
    // a: one 400, given up at once; b: four 500s, the last try.
    assert_eq!(srv.received().len(), 5);
    assert_eq!(n.stats.failed.load(std::sync::atomic::Ordering::Relaxed), 2);
}

#[test]
fn over_the_rate_limit_events_are_coalesced_into_a_count() {
    let rt = runtime();
    let srv = Server::start(&[], false);
    let n = Notifier::new(rt.handle().clone(), fast(), None);
    let mut t = target(NotificationType::Slack, &srv.url("/slack"));
    t.burst = Some(2);
    t.per_minute = Some(60);
    n.configure("acme", &[t]);
    let events: Vec<Event> = ["a", "b", "c", "d", "e"].into_iter().map(event).collect();
    n.send(&events);
    // Two at once, then, a second later, one message that says three were left out.
    let got = srv.wait_for(3, 10);
    std::thread::sleep(Duration::from_millis(300));
    let got_after = srv.received();
    assert_eq!(got_after.len(), 3, "{got_after:?}");
    let texts: Vec<&str> = got
        .iter()
        .map(|r| r.body["text"].as_str().unwrap())
        .collect();
    assert!(
        texts[0].starts_with("[keelson acme] a: blocked"),
        "{texts:?}"
    );
    assert!(
        texts[1].starts_with("[keelson acme] b: blocked"),
        "{texts:?}"
    );
    assert_eq!(
        texts[2],
        "[keelson acme] (3 events were not sent: over this target's rate limit)"
    );
    assert_eq!(
        n.stats
            .suppressed
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
}

#[test]
fn a_dead_endpoint_does_not_hold_up_sending_and_its_queue_is_bounded() {
    let rt = runtime();
    let dead = Server::start(&[], true);
    let live = Server::start(&[], false);
    let n = Notifier::new(
        rt.handle().clone(),
        SendOptions { queue: 2, ..fast() },
        None,
    );
    n.configure(
        "acme",
        &[
            target(NotificationType::Webhook, &dead.url("/")),
            target(NotificationType::Webhook, &live.url("/")),
        ],
    );
    for (i, c) in ["a", "b", "c", "d", "e", "f"].into_iter().enumerate() {
        let t0 = Instant::now();
        n.send(&[event(c)]);
        assert!(
            t0.elapsed() < Duration::from_millis(200),
            "{:?}",
            t0.elapsed()
        );
        // The live endpoint gets each event while the dead one still holds the first.
        live.wait_for(i + 1, 10);
    }
    assert!(n.stats.dropped.load(std::sync::atomic::Ordering::Relaxed) >= 3);
    assert!(!rt.block_on(n.flush(Duration::from_millis(200))));
}

#[test]
fn a_secret_url_comes_from_a_file_and_a_missing_one_leaves_the_target_out() {
    let rt = runtime();
    let srv = Server::start(&[], false);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slack-url");
    std::fs::write(&file, format!("{}\n", srv.url("/from-file"))).unwrap();
    let n = Notifier::new(rt.handle().clone(), fast(), None);
    let from = |env: Option<&str>, file: Option<&Path>| {
        let mut t = target(NotificationType::Webhook, "");
        t.url = None;
        t.url_from = Some(keelson::model::SecretRef {
            env: env.map(str::to_string),
            file: file.map(|f| f.to_string_lossy().into_owned()),
        });
        t
    };
    n.configure(
        "acme",
        &[
            from(None, Some(&file)),
            from(Some("KEELSON_TEST_UNSET_VARIABLE"), None),
        ],
    );
    n.send(&[event("a")]);
    assert!(rt.block_on(n.flush(Duration::from_secs(10))));
    let got = srv.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/from-file");
}

#[test]
fn the_fleet_takes_notification_targets_and_reports_incomplete_ones_where_they_stand() {
    let ok = format!(
        "{FLEET}  policy:\n    notifications:\n      - {{type: webhook, url: \"https://hooks.example.com/k\", events: [applyFailed, clusterBlocked]}}\n      - {{type: slack, urlFrom: {{env: SLACK_URL}}, burst: 3, perMinute: 2}}\n      - {{type: githubStatus, tokenFrom: {{file: /run/secrets/gh}}}}\n"
    );
    let loaded = load(&[("keelson.yaml", &ok), ("auto/cluster.yaml", AUTO_CLUSTER)]);
    assert!(loaded.is_valid(), "{}", show(&loaded.diagnostics));
    let n = &loaded
        .repo
        .fleet
        .as_ref()
        .unwrap()
        .value
        .spec
        .policy
        .notifications;
    assert_eq!(n.len(), 3);
    assert!(
        n[0].wants(NotificationEvent::ApplyFailed) && !n[0].wants(NotificationEvent::DriftFound)
    );
    assert!(n[1].wants(NotificationEvent::DriftFound));

    let bad = format!(
        "{FLEET}  policy:\n    notifications:\n      - {{type: slack}}\n      - {{type: githubStatus, url: \"https://x.example.com\"}}\n      - {{type: webhook, urlFrom: {{}}}}\n"
    );
    let loaded = load(&[("keelson.yaml", &bad), ("auto/cluster.yaml", AUTO_CLUSTER)]);
    let d: Vec<String> = loaded
        .diagnostics
        .iter()
        .map(|d| format!("{}:{}:{}", d.line, d.column, d.rule))
        .collect();
    let all = show(&loaded.diagnostics);
    assert!(all.contains("keelson.yaml:10:9: error[notification-target]: a slack notification needs exactly one of `url` and `urlFrom`"), "{all}");
    assert!(all.contains("keelson.yaml:11:9: error[notification-target]: a githubStatus notification needs `tokenFrom"), "{all}");
    assert!(
        all.contains(
            "keelson.yaml:12:34: error[notification-target]: give exactly one of `env: NAME`"
        ),
        "{all}"
    );
    assert_eq!(d.len(), 4, "{all}");
    let unknown = format!("{FLEET}  policy:\n    notifications:\n      - {{type: teams, url: \"https://x.example.com\"}}\n");
    let loaded = load(&[
        ("keelson.yaml", &unknown),
        ("auto/cluster.yaml", AUTO_CLUSTER),
    ]);
    let all = show(&loaded.diagnostics);
    assert!(all.contains("keelson.yaml:10:16: error[schema-enum]: `spec.policy.notifications[0].type` is `teams`, which is not one of: webhook, slack, githubStatus"), "{all}");
}

/// A bare remote with examples/upgrade committed on main: (dir, bare, work, commit).
fn upgrade_remote(
    fleet_policy: &str,
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    std::path::PathBuf,
    String,
) {
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("remote.git");
    git2::Repository::init_bare(&bare).unwrap();
    let work = dir.path().join("work");
    copy(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/upgrade")),
        &work,
    );
    let fleet = work.join("keelson.yaml");
    let t = std::fs::read_to_string(&fleet).unwrap();
    std::fs::write(&fleet, format!("{t}{fleet_policy}")).unwrap();
    let repo = git2::Repository::init(&work).unwrap();
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"].iter(), git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig =
        git2::Signature::new("Ops", "ops@example.com", &git2::Time::new(1_795_392_000, 0)).unwrap();
    let oid = repo
        .commit(Some("refs/heads/main"), &sig, &sig, "fleet", &tree, &[])
        .unwrap();
    repo.remote("origin", bare.to_str().unwrap()).unwrap();
    repo.find_remote("origin")
        .unwrap()
        .push(&["refs/heads/main:refs/heads/main"], None)
        .unwrap();
    (dir, bare, work, oid.to_string())
}

#[test]
fn a_sync_notifies_webhook_slack_and_github_and_a_dead_endpoint_holds_nothing_up() {
    let hook = Server::start(&[503], false);
    let slack = Server::start(&[], false);
    let github = Server::start(&[], false);
    let dead = Server::start(&[], true);
    let policy = format!(
        "    notifications:\n      - {{type: webhook, url: \"{}\"}}\n      - {{type: slack, urlFrom: {{env: KEELSON_TEST_SLACK}}, events: [clusterBlocked]}}\n      - {{type: githubStatus, tokenFrom: {{env: KEELSON_TEST_GH}}, repository: acme/fleet}}\n      - {{type: webhook, url: \"{}\"}}\n",
        hook.url("/hook"),
        dead.url("/dead")
    );
    let (dir, bare, work, sha) = upgrade_remote(&policy);
    let state = dir.path().join("sim.json");
    let o = bin()
        .args([
            "sim",
            "seed",
            "--version",
            "1.31",
            "--repo",
            s(&work),
            "--state",
            s(&state),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let url = format!("file://{}", bare.display());
    let cache = dir.path().join("cache");
    let t0 = Instant::now();
    let o = bin()
        .args([
            "run",
            "--git",
            &url,
            "--branch",
            "main",
            "--cache-dir",
            s(&cache),
        ])
        .args([
            "--state",
            s(&state),
            "--once",
            "--listen",
            "none",
            "--sim-speed",
            "instant",
        ])
        .env("KEELSON_TEST_SLACK", slack.url("/slack"))
        .env("KEELSON_TEST_GH", "t0k3n")
        .env("GITHUB_API_URL", github.url("/api"))
        .output()
        .unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    // The sync itself did not wait for the dead endpoint (10 s per try); only the exit
    // gave the queues their grace.
    let ms: u64 = out
        .split("done in ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no sync time: {out}"));
    assert!(ms < 8_000, "the sync took {ms} ms\n{out}");
    assert!(t0.elapsed() < Duration::from_secs(40), "{out}");
    assert!(
        out.contains("notifications not sent within 5 s were dropped"),
        "{out}"
    );

    // The webhook: every event, the first retried after its 503 with the same id.
    let got = hook.received();
    let types: Vec<(&str, &str)> = got
        .iter()
        .skip(1)
        .map(|r| {
            (
                r.body["cluster"].as_str().unwrap(),
                r.body["type"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got[0].body["id"], got[1].body["id"], "{got:?}");
    for want in [
        ("staging-euw1", "applyStarted"),
        ("staging-euw1", "applyFinished"),
        ("prod-euw1", "hopHeld"),
        ("prod-use1", "clusterBlocked"),
    ] {
        assert!(types.contains(&want), "{want:?} missing: {types:?}");
    }
    let blocked = got
        .iter()
        .find(|r| r.body["type"] == "clusterBlocked")
        .unwrap();
    assert_eq!(blocked.body["fleet"], "upgrade-demo");
    assert_eq!(blocked.body["revision"], sha.as_str());
    assert_eq!(blocked.body["schemaVersion"], 1);
    assert!(
        blocked.body["reasons"][0]
            .as_str()
            .unwrap()
            .contains("v1beta3"),
        "{}",
        blocked.body
    );

    // Slack: only what it asked for, as text.
    let s = slack.received();
    assert_eq!(s.len(), 1, "{s:?}");
    assert!(
        s[0].body["text"]
            .as_str()
            .unwrap()
            .starts_with("[keelson upgrade-demo] prod-use1: blocked"),
        "{s:?}"
    );

    // GitHub: pending while applying, failure at the end (a cluster is blocked).
    let g = github.received();
    let states: Vec<&str> = g
        .iter()
        .map(|r| r.body["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["pending", "failure"], "{g:?}");
    for r in &g {
        assert_eq!(r.path, format!("/api/repos/acme/fleet/statuses/{sha}"));
        assert_eq!(r.headers["authorization"], "Bearer t0k3n");
        assert_eq!(r.body["context"], "keelson/upgrade-demo");
    }
}

#[test]
fn a_local_directory_sets_no_commit_status() {
    let github = Server::start(&[], false);
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("repo");
    copy(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/upgrade")),
        &work,
    );
    let fleet = work.join("keelson.yaml");
    let t = std::fs::read_to_string(&fleet).unwrap();
    std::fs::write(
        &fleet,
        format!("{t}    notifications:\n      - {{type: githubStatus, tokenFrom: {{env: KEELSON_TEST_GH}}, repository: acme/fleet}}\n"),
    )
    .unwrap();
    let o = bin()
        .args(["run", "--repo", s(&work), "--once", "--listen", "none"])
        .args(["--sim-speed", "instant", "--sim-seed", "1.31"])
        .env("KEELSON_TEST_GH", "t0k3n")
        .env("GITHUB_API_URL", github.url("/api"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(github.received().is_empty());
}
