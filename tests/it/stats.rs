//! `KEELSON_STATS=1`: the EKS calls a command made, as one JSON line on stderr, for
//! `plan` and for each sync of `run` alike.

use crate::daemon::{bin, s};
use crate::plan_cli::fleet;

#[test]
fn keelson_stats_reports_the_calls_of_a_daemon_sync() {
    let (_d, repo) = fleet();
    let o = bin()
        .env("KEELSON_STATS", "1")
        .args(["run", "--repo", s(&repo), "--once", "--listen", "none"])
        .args(["--sim-speed", "instant"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    let line = err
        .lines()
        .find(|l| l.starts_with("{\"eksCalls\""))
        .unwrap_or_else(|| panic!("no stats line: {err}"));
    let stats: serde_json::Value = serde_json::from_str(line).unwrap();
    assert!(stats["total"].as_u64().unwrap() > 0, "{stats}");
    assert!(
        stats["eksCalls"]["ListClusters"].as_u64().is_some(),
        "{stats}"
    );
}
