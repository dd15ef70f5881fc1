//! The S3 fleet lock against moto's S3 server (which implements `If-None-Match: *` and
//! `If-Match` on PutObject and `If-Match` on DeleteObject, moto ≥ 5.1): conditional
//! creation, fencing of a holder that was taken over, expiry, and two `keelson apply`
//! processes on one fleet. Run by tests/run.sh (KEELSON_MOTO_URL); skipped otherwise.
//!
//! ```text
//!  apply A ──PUT If-None-Match:*──► s3://bucket/fleet.lock ◄──412── apply B: refuses, naming A
//!                                                          ◄──wait── apply C --lock-wait: runs after A
//! ```

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use keelson::adapters::s3lock::{object_url, S3Lock};
use keelson::daemon::lock::{Attempt, Holder, LockBackend, Timing};

use crate::daemon::{bump_staging, s, sim_state, wait_until};
use crate::moto::{aws, env, moto};
use crate::plan_cli::fleet;
use crate::util::out_and_err as text;

fn bucket(url: &str, name: &str) -> String {
    let name = format!("{name}-{}", std::process::id());
    aws(url, &["s3api", "create-bucket", "--bucket", &name]);
    name
}

fn lock(url: &str, bucket: &str, key: &str, duration: Duration) -> S3Lock {
    let creds =
        SharedCredentialsProvider::new(Credentials::new("testing", "testing", None, None, "tests"));
    let timing = Timing {
        duration,
        renew_every: Duration::from_millis(200),
        renew_deadline: duration * 2 / 3,
        skew: Duration::ZERO,
    };
    let url = object_url(Some(url), "us-east-1", bucket, key);
    S3Lock::new(creds, "us-east-1", &url, (bucket, key), timing).unwrap()
}

fn runner(name: &str, pid: u32) -> Holder {
    Holder {
        pid,
        host: name.into(),
        since: 1,
    }
}

#[tokio::test]
async fn s3_lock_is_created_once_and_fences_a_holder_that_was_taken_over() {
    let Some(url) = moto() else { return };
    let b = bucket(&url, "keelson-lock-fence");
    let (ha, hb, hc) = (
        runner("runner-a", 1),
        runner("runner-b", 2),
        runner("runner-c", 3),
    );
    let a = lock(&url, &b, "fleet.lock", Duration::from_secs(1));
    let b2 = lock(&url, &b, "fleet.lock", Duration::from_secs(1));
    let c = lock(&url, &b, "fleet.lock", Duration::from_secs(60));
    assert_eq!(a.try_acquire(&ha).await.unwrap(), Attempt::Acquired);
    assert_eq!(
        b2.try_acquire(&hb).await.unwrap(),
        Attempt::Held(Some(ha.clone()))
    );
    assert!(a.renew(&ha).await.unwrap());
    // B sees A's record change with every renewal: not stale.
    assert_eq!(
        b2.try_acquire(&hb).await.unwrap(),
        Attempt::Held(Some(ha.clone()))
    );
    assert!(a.renew(&ha).await.unwrap());
    assert_eq!(
        b2.try_acquire(&hb).await.unwrap(),
        Attempt::Held(Some(ha.clone()))
    );
    // A stops renewing (a stalled runner): once B has seen the same ETag for the lease
    // duration, it takes over with If-Match on that ETag.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(b2.try_acquire(&hb).await.unwrap(), Attempt::Acquired);
    // A's renewal is conditional on its own ETag: refused, A learns it lost the lock
    // and its release deletes nothing.
    assert!(!a.renew(&ha).await.unwrap());
    a.release().await.unwrap();
    assert_eq!(
        c.try_acquire(&hc).await.unwrap(),
        Attempt::Held(Some(hb.clone()))
    );
    b2.release().await.unwrap();
    assert_eq!(c.try_acquire(&hc).await.unwrap(), Attempt::Acquired);
    c.release().await.unwrap();

    // A lock object renewed an hour ago (a runner that died) is taken at once on the wall
    // clock, and its generation counts the takeover.
    let old = serde_json::json!({
        "holder": {"pid": 9, "host": "dead-runner", "since": 1},
        "renewed": keelson::daemon::unix_now() - 3600,
        "durationSecs": 15,
        "generation": 4
    });
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), old.to_string()).unwrap();
    aws(
        &url,
        &[
            "s3api",
            "put-object",
            "--bucket",
            &b,
            "--key",
            "stale.lock",
            "--body",
            file.path().to_str().unwrap(),
        ],
    );
    let d = lock(&url, &b, "stale.lock", Duration::from_secs(15));
    assert_eq!(d.try_acquire(&hc).await.unwrap(), Attempt::Acquired);
    let got = aws(
        &url,
        &[
            "s3api",
            "get-object",
            "--bucket",
            &b,
            "--key",
            "stale.lock",
            file.path().to_str().unwrap(),
        ],
    );
    assert!(got["ETag"].is_string(), "{got}");
    let body: serde_json::Value =
        serde_json::from_slice(&std::fs::read(file.path()).unwrap()).unwrap();
    assert_eq!(body["generation"], 5, "{body}");
    assert_eq!(body["holder"]["host"], "runner-c", "{body}");
}

#[tokio::test]
async fn an_unreachable_s3_is_an_error_not_a_free_lock() {
    let port = crate::daemon::free_port();
    let l = lock(
        &format!("http://127.0.0.1:{port}"),
        "b",
        "k",
        Duration::from_secs(15),
    );
    let e = l
        .try_acquire(&runner("r", 1))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("S3 is unreachable") && e.contains("not applying without the lock"),
        "{e}"
    );
}

fn apply(url: &str, repo: &std::path::Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_keelson"));
    env(&mut c, url);
    let first = ["apply", "--repo", s(repo), "--auto-approve"];
    c.args(["--today", "2026-11-23"]).args(first).args(extra);
    c
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn two_applies_on_one_s3_lock_one_refuses_naming_the_holder_or_waits_for_it() {
    let Some(url) = moto() else { return };
    let b = bucket(&url, "keelson-lock-apply");
    let spec = format!("s3://{b}/fleets/prod.lock");
    let (_d, repo) = fleet();
    let o = apply(&url, &repo, &["--sim-speed", "instant", "--lock", &spec])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    bump_staging(&repo);
    // A: the 1.34 → 1.35 upgrade, the control plane taking 10 s of real time.
    let mut a = Killed(
        apply(&url, &repo, &["--sim-speed", "60", "--lock", &spec])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until("A holds the S3 lock", 30, || {
        let mut c = Command::new(std::env::var("KEELSON_AWS_CLI").unwrap_or_else(|_| "aws".into()));
        env(&mut c, &url);
        let out = c
            .args([
                "--endpoint-url",
                &url,
                "s3api",
                "head-object",
                "--bucket",
                &b,
                "--key",
                "fleets/prod.lock",
            ])
            .output()
            .ok()?;
        out.status.success().then_some(())
    });
    // B fails fast, naming A.
    let o = apply(&url, &repo, &["--sim-speed", "instant", "--lock", &spec])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let msg = text(&o);
    assert!(
        msg.contains(&format!("holds the fleet lock, S3 object {spec}"))
            && msg.contains(&format!("pid {}", a.0.id())),
        "{msg}"
    );
    // S3 unreachable: refused, not run unlocked.
    let port = crate::daemon::free_port();
    let o = apply(&url, &repo, &["--sim-speed", "instant", "--lock", &spec])
        .env("AWS_ENDPOINT_URL_S3", format!("http://127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("S3 is unreachable"), "{}", text(&o));
    // C waits for A, then finds nothing left to do.
    let started = Instant::now();
    let o = apply(
        &url,
        &repo,
        &[
            "--sim-speed",
            "instant",
            "--lock",
            &spec,
            "--lock-wait",
            "120s",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("waiting for the fleet lock"),
        "{}",
        text(&o)
    );
    assert!(
        a.0.try_wait().unwrap().is_some(),
        "C ran while A held the lock"
    );
    eprintln!("C waited {} ms for A", started.elapsed().as_millis());
    assert_eq!(a.0.wait().unwrap().code(), Some(0));
    let sim = sim_state(&repo);
    let hops = sim["clusters"]["staging-apne1"]["updates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["update"]["type"] == "VersionUpdate")
        .count();
    assert_eq!(hops, 1, "the control-plane update was issued {hops} times");
    assert_eq!(sim["clusters"]["staging-apne1"]["live"]["version"], "1.35");
}
