//! keelson's EKS rate limiter against the concurrent stub endpoint of the benchmarks
//! (`examples/stub_eks/fleet.rs`), enforcing a small server-side rate with 429
//! ThrottlingException above it.
//!
//! ```text
//!  stub (N clusters, 20 req/s, burst 10) ◄── keelson plan --target aws (subprocess)
//!                                       ◄── AwsEks + Limiters (in process)
//! ```

#[path = "../../examples/stub_eks/fleet.rs"]
#[allow(dead_code)]
mod fleet;

use std::sync::Arc;
use std::time::{Duration, Instant};

use keelson::adapters::aws::eks::AwsEks;
use keelson::adapters::aws::throttle::Limiters;
use keelson::adapters::ratelimit::RateSettings;
use keelson::ports::EksApi;

use crate::daemon::{bin, s};

/// The stub's own limit.
const SERVER_RATE: f64 = 20.0;
const SERVER_BURST: f64 = 10.0;

async fn start(clusters: usize, repo: Option<&std::path::Path>) -> (String, fleet::Served) {
    let f = fleet::Fleet::new(clusters);
    if let Some(dir) = repo {
        f.write_repo(dir).unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let options = fleet::Options {
        latency: Duration::from_millis(20),
        limit: Some((SERVER_RATE, SERVER_BURST)),
    };
    (url, fleet::serve(listener, f, options))
}

/// A no-op `keelson plan --target aws` against the stub, with keelson's limiter at
/// `rate` and `burst`: its exit code and wall time.
async fn plan(url: &str, repo: &std::path::Path, rate: &str, burst: &str) -> (i32, Duration) {
    let mut c = bin();
    c.args([
        "plan",
        "--repo",
        s(repo),
        "--target",
        "aws",
        "--detailed-exitcode",
    ])
    .env("AWS_ENDPOINT_URL_EKS", url)
    .env("AWS_ENDPOINT_URL_STS", url)
    .env("AWS_ACCESS_KEY_ID", "testing")
    .env("AWS_SECRET_ACCESS_KEY", "testing")
    .env("AWS_REGION", fleet::REGION)
    .env("AWS_EC2_METADATA_DISABLED", "true")
    .env("KEELSON_EKS_RATE", rate)
    .env("KEELSON_EKS_BURST", burst);
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let o = c.output().unwrap();
        let took = started.elapsed();
        assert!(
            o.status.code() == Some(0),
            "plan: {:?}\n{}\n{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        (o.status.code().unwrap_or(-1), took)
    })
    .await
    .unwrap()
}

fn count(stats: &serde_json::Value, key: &str) -> u64 {
    stats[key].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_limited_to_the_servers_rate_makes_no_throttled_call() {
    let d = tempfile::tempdir().unwrap();
    let (url, served) = start(4, Some(d.path())).await;

    let (code, took) = plan(&url, d.path(), "20", "5").await;

    let stats = served.stats();
    assert_eq!(code, 0);
    assert_eq!(count(&stats, "throttled"), 0, "{stats}");
    assert_eq!(count(&stats, "writes"), 0, "{stats}");
    // No cluster moves version: the fleet-wide version calendar is not read.
    assert!(
        stats["calls"].get("DescribeClusterVersions").is_none(),
        "{stats}"
    );
    // Every read of the fleet went out (about 12 per cluster), at no more than the rate:
    // after the burst of 5, one every 50 ms.
    let calls = count(&stats, "total");
    assert!(calls >= 4 * 11, "{stats}");
    let paced = Duration::from_secs_f64((calls - 5) as f64 / 20.0);
    assert!(took >= paced, "{took:?} for {calls} calls at 20/s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_whose_limiter_is_set_too_high_is_throttled_and_still_succeeds() {
    let d = tempfile::tempdir().unwrap();
    let (url, served) = start(4, Some(d.path())).await;

    let (code, _) = plan(&url, d.path(), "200", "50").await;

    let stats = served.stats();
    assert_eq!(code, 0);
    assert!(count(&stats, "throttled") > 0, "{stats}");
    assert_eq!(count(&stats, "writes"), 0, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_answers_make_the_limiter_back_off() {
    let (url, served) = start(4, None).await;
    let shared = crate::aws_mocks_transport::test_config(fleet::REGION)
        .into_builder()
        .endpoint_url(&url)
        .build();
    let limiters = Limiters::new(RateSettings {
        rate: 200.0,
        burst: 40,
    });
    let eks = Arc::new(
        AwsEks::new(&shared, fleet::REGION.into(), Default::default(), 8)
            .with_rate_limits(limiters.clone()),
    );

    let mut tasks = Vec::new();
    for i in 0..8 {
        let eks = eks.clone();
        tasks.push(tokio::spawn(async move {
            for j in 0..10 {
                let name = format!("bench-{:04}", (i + j) % 4);
                eks.describe_cluster(&name).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }

    let limiter = limiters.limiter(fleet::REGION, None);
    assert!(limiter.throttled_count() > 0);
    assert_eq!(limiters.throttled(), limiter.throttled_count());
    assert!(limiter.rate() < 200.0, "rate {}", limiter.rate());
    let stats = served.stats();
    assert_eq!(
        count(&stats, "throttled"),
        limiter.throttled_count(),
        "{stats}"
    );
    assert_eq!(stats["calls"]["DescribeCluster"], 80, "{stats}");
}
