//! A concurrent stub of the EKS API for benchmarks (see `stub_eks/fleet.rs`).
//!
//! ```text
//! cargo run --release --example stub-eks -- --clusters 1000 --repo DIR [--latency-ms 50]
//!     [--rate 10 --burst 10] [--port 0]
//! ```
//!
//! Writes the fleet's keelson repository into DIR, prints `listening on http://ADDR` on
//! stdout, then serves until killed; `GET /_stub/stats` answers the counts so far.

#[path = "stub_eks/fleet.rs"]
mod fleet;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;

/// Serve canned EKS answers for a generated fleet.
#[derive(Debug, Parser)]
#[command(name = "stub-eks", about, long_about = None)]
struct Args {
    /// Number of clusters.
    #[arg(long)]
    clusters: usize,
    /// Where to write the fleet's keelson repository.
    #[arg(long)]
    repo: PathBuf,
    /// Latency added to every answer, in milliseconds.
    #[arg(long, default_value_t = 50)]
    latency_ms: u64,
    /// Requests per second above which the stub answers 429 (no limit when unset).
    #[arg(long)]
    rate: Option<f64>,
    /// The server's burst (with --rate).
    #[arg(long, default_value_t = 10.0)]
    burst: f64,
    /// Port on 127.0.0.1 (0: any free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let fleet = fleet::Fleet::new(args.clusters);
    fleet
        .write_repo(&args.repo)
        .with_context(|| format!("writing {}", args.repo.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
        println!("listening on http://{}", listener.local_addr()?);
        let options = fleet::Options {
            latency: Duration::from_millis(args.latency_ms),
            limit: args.rate.map(|r| (r, args.burst.max(1.0))),
        };
        fleet::serve(listener, fleet, options);
        std::future::pending::<()>().await;
        Ok(())
    })
}
