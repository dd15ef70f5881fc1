//! The daemon's metrics and their Prometheus text exposition (format 0.0.4). The
//! registry is a plain struct behind a mutex; rendering is pure.
//!
//! ```text
//!  reconcile ─┐                       ┌─► keelson_reconcile_duration_seconds (histogram)
//!  counting ──┼─► Metrics (Mutex) ──render──► keelson_eks_api_calls_total{operation,outcome}
//!  EksApi     │                       ├─► keelson_drift_clusters, keelson_applied_changes_total
//!  source  ───┘                       └─► keelson_source_revision_info{revision,source}
//! ```

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Histogram bucket bounds of the reconcile duration, in seconds: from a no-op sync of a
/// small fleet up to a sync that carries a cluster through several hour-long hops.
pub const RECONCILE_BUCKETS: [f64; 17] = [
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0,
    7200.0, 14400.0,
];

/// Histogram bucket bounds of one cluster's reconcile, in seconds: a plan takes seconds, a
/// control plane hop 10 to 25 minutes, a node group roll up to hours.
pub const CLUSTER_BUCKETS: [f64; 13] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0,
];

#[derive(Debug, Default)]
struct Inner {
    reconcile_counts: [u64; RECONCILE_BUCKETS.len()],
    reconcile_sum: f64,
    reconcile_count: u64,
    reconciles: BTreeMap<&'static str, u64>,
    api_calls: BTreeMap<(String, &'static str), u64>,
    kube_calls: BTreeMap<(String, &'static str), u64>,
    call_seconds: BTreeMap<(&'static str, String), Latency>,
    drift: u64,
    blocked: u64,
    pending: u64,
    applied: BTreeMap<&'static str, u64>,
    revision: Option<(String, String)>,
    ready: bool,
    last_sync: Option<i64>,
    /// With `--shards auto`: (members seen, clusters this replica owns).
    shard: Option<(u64, u64)>,
    /// Per cluster, keyed by its rendered `{cluster,stage,region}` labels.
    clusters: BTreeMap<String, ClusterLatency>,
}

/// The reconcile histogram of one cluster.
#[derive(Debug, Default)]
struct ClusterLatency {
    counts: [u64; CLUSTER_BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Histogram bucket bounds of one remote call's duration, in seconds.
pub const CALL_BUCKETS: [f64; 11] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

/// The latency histogram of one operation.
#[derive(Debug, Default)]
struct Latency {
    counts: [u64; CALL_BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// The daemon's metrics registry.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// Gauges set after each plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FleetGauges {
    /// Clusters whose live state differs from the repository.
    pub drift: u64,
    /// Clusters with a change held back by a gate.
    pub blocked: u64,
    /// Clusters with changes waiting (manual stage, closed window, suspended).
    pub pending: u64,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One reconcile took `secs`; `result` is `ok`, `error` or `invalid`.
    pub fn observe_reconcile(&self, secs: f64, result: &'static str) {
        let mut g = self.lock();
        for (i, b) in RECONCILE_BUCKETS.iter().enumerate() {
            if secs <= *b {
                g.reconcile_counts[i] += 1;
            }
        }
        g.reconcile_sum += secs;
        g.reconcile_count += 1;
        *g.reconciles.entry(result).or_default() += 1;
    }

    /// One cluster's part of a sync took `secs`; `labels` are its rendered
    /// `cluster="…",stage="…",region="…"` (see [`super::report::labels`]).
    pub fn observe_cluster(&self, labels: String, secs: f64) {
        let mut g = self.lock();
        let h = g.clusters.entry(labels).or_default();
        for (i, b) in CLUSTER_BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// One EKS call finished with `outcome`.
    pub fn api_call(&self, operation: &str, outcome: &'static str) {
        let mut g = self.lock();
        *g.api_calls
            .entry((operation.to_string(), outcome))
            .or_default() += 1;
    }

    /// One remote call (`api` is `eks` or `kube`) finished with `outcome` after `secs`.
    pub fn remote_call(
        &self,
        api: &'static str,
        operation: &str,
        outcome: &'static str,
        secs: f64,
    ) {
        let mut g = self.lock();
        let counter = if api == "eks" {
            &mut g.api_calls
        } else {
            &mut g.kube_calls
        };
        *counter.entry((operation.to_string(), outcome)).or_default() += 1;
        let h = g
            .call_seconds
            .entry((api, operation.to_string()))
            .or_default();
        for (i, b) in CALL_BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// Set the fleet gauges.
    pub fn set_fleet(&self, f: FleetGauges) {
        let mut g = self.lock();
        g.drift = f.drift;
        g.blocked = f.blocked;
        g.pending = f.pending;
    }

    /// `n` changes (plan steps) finished with `outcome` (`ok` or `failed`).
    pub fn applied(&self, outcome: &'static str, n: u64) {
        *self.lock().applied.entry(outcome).or_default() += n;
    }

    /// The revision in use and where it came from.
    pub fn set_revision(&self, revision: &str, source: &str) {
        self.lock().revision = Some((revision.to_string(), source.to_string()));
    }

    /// Whether this daemon holds the lock and has completed a sync.
    pub fn set_ready(&self, ready: bool) {
        self.lock().ready = ready;
    }

    /// This replica's shard: members seen, clusters owned.
    pub fn set_shard(&self, members: u64, owned: u64) {
        self.lock().shard = Some((members, owned));
    }

    /// Wall-clock time (unix seconds) of the last completed sync.
    pub fn set_last_sync(&self, t: i64) {
        self.lock().last_sync = Some(t);
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let g = self.lock();
        let mut o = String::new();
        let _ = writeln!(o, "# HELP keelson_reconcile_duration_seconds Time one sync took (load, observe, plan, apply).");
        let _ = writeln!(o, "# TYPE keelson_reconcile_duration_seconds histogram");
        for (i, b) in RECONCILE_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                o,
                "keelson_reconcile_duration_seconds_bucket{{le=\"{b}\"}} {}",
                g.reconcile_counts[i]
            );
        }
        let _ = writeln!(
            o,
            "keelson_reconcile_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            g.reconcile_count
        );
        let _ = writeln!(
            o,
            "keelson_reconcile_duration_seconds_sum {}",
            g.reconcile_sum
        );
        let _ = writeln!(
            o,
            "keelson_reconcile_duration_seconds_count {}",
            g.reconcile_count
        );

        let name = "keelson_cluster_reconcile_duration_seconds";
        let _ = writeln!(o, "# HELP {name} Time a sync spent on one cluster: its plan, or the whole sync when it applied to the cluster.");
        let _ = writeln!(o, "# TYPE {name} histogram");
        for (labels, h) in &g.clusters {
            for (b, n) in CLUSTER_BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(o, "{name}_bucket{{{labels},le=\"{b}\"}} {n}");
            }
            let _ = writeln!(o, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(o, "{name}_sum{{{labels}}} {}", h.sum);
            let _ = writeln!(o, "{name}_count{{{labels}}} {}", h.count);
        }

        let _ = writeln!(o, "# HELP keelson_reconciles_total Syncs by result.");
        let _ = writeln!(o, "# TYPE keelson_reconciles_total counter");
        for (r, n) in &g.reconciles {
            let _ = writeln!(o, "keelson_reconciles_total{{result=\"{r}\"}} {n}");
        }

        for (name, api, calls) in [
            ("keelson_eks_api_calls_total", "EKS", &g.api_calls),
            ("keelson_kube_api_calls_total", "Kubernetes", &g.kube_calls),
        ] {
            let _ = writeln!(o, "# HELP {name} {api} API calls by operation and outcome.");
            let _ = writeln!(o, "# TYPE {name} counter");
            for ((op, outcome), n) in calls {
                let _ = writeln!(
                    o,
                    "{name}{{operation=\"{}\",outcome=\"{outcome}\"}} {n}",
                    escape(op)
                );
            }
        }
        let name = "keelson_api_call_duration_seconds";
        let _ = writeln!(
            o,
            "# HELP {name} Time one EKS or Kubernetes call took, retries included."
        );
        let _ = writeln!(o, "# TYPE {name} histogram");
        for ((api, op), h) in &g.call_seconds {
            let labels = format!("api=\"{api}\",operation=\"{}\"", escape(op));
            for (b, n) in CALL_BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(o, "{name}_bucket{{{labels},le=\"{b}\"}} {n}");
            }
            let _ = writeln!(o, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(o, "{name}_sum{{{labels}}} {}", h.sum);
            let _ = writeln!(o, "{name}_count{{{labels}}} {}", h.count);
        }

        for (name, help, v) in [
            ("keelson_drift_clusters", "Clusters whose live state differs from the repository.", g.drift),
            ("keelson_blocked_clusters", "Clusters with a change held back by a failing gate.", g.blocked),
            ("keelson_pending_clusters", "Clusters with changes waiting for a manual apply, a maintenance window or the end of a suspension.", g.pending),
        ] {
            let _ = writeln!(o, "# HELP {name} {help}");
            let _ = writeln!(o, "# TYPE {name} gauge");
            let _ = writeln!(o, "{name} {v}");
        }

        let _ = writeln!(
            o,
            "# HELP keelson_applied_changes_total Plan steps the daemon applied, by outcome."
        );
        let _ = writeln!(o, "# TYPE keelson_applied_changes_total counter");
        for outcome in ["ok", "failed"] {
            let n = g.applied.get(outcome).copied().unwrap_or(0);
            let _ = writeln!(
                o,
                "keelson_applied_changes_total{{outcome=\"{outcome}\"}} {n}"
            );
        }

        let _ = writeln!(
            o,
            "# HELP keelson_source_revision_info The repository revision in use."
        );
        let _ = writeln!(o, "# TYPE keelson_source_revision_info gauge");
        if let Some((rev, src)) = &g.revision {
            let _ = writeln!(
                o,
                "keelson_source_revision_info{{revision=\"{}\",source=\"{}\"}} 1",
                escape(rev),
                escape(src)
            );
        }

        let _ = writeln!(
            o,
            "# HELP keelson_ready Whether this daemon holds the fleet lock and has synced."
        );
        let _ = writeln!(o, "# TYPE keelson_ready gauge");
        let _ = writeln!(o, "keelson_ready {}", u8::from(g.ready));
        if let Some((members, owned)) = g.shard {
            let _ = writeln!(o, "# HELP keelson_shard_members Replicas this one sees in its shard group (--shards auto).");
            let _ = writeln!(o, "# TYPE keelson_shard_members gauge");
            let _ = writeln!(o, "keelson_shard_members {members}");
            let _ = writeln!(
                o,
                "# HELP keelson_shard_clusters_owned Clusters this replica owns and may write to."
            );
            let _ = writeln!(o, "# TYPE keelson_shard_clusters_owned gauge");
            let _ = writeln!(o, "keelson_shard_clusters_owned {owned}");
        }
        if let Some(t) = g.last_sync {
            let _ = writeln!(
                o,
                "# HELP keelson_last_sync_timestamp_seconds When the last sync finished."
            );
            let _ = writeln!(o, "# TYPE keelson_last_sync_timestamp_seconds gauge");
            let _ = writeln!(o, "keelson_last_sync_timestamp_seconds {t}");
        }
        o
    }
}

/// Escape a label value.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The outcome label of an API result.
pub use crate::adapters::instrumented::outcome;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_labels_escaped() {
        let m = Metrics::default();
        m.observe_reconcile(0.02, "ok");
        m.observe_reconcile(3.0, "ok");
        m.api_call("Describe\"Cluster", "ok");
        m.remote_call("kube", "list", "ok", 0.2);
        m.remote_call("eks", "DescribeCluster", "throttled", 3.0);
        m.set_revision("abc", "git file:///x");
        let t = m.render();
        assert!(
            t.contains("keelson_reconcile_duration_seconds_bucket{le=\"0.05\"} 1\n"),
            "{t}"
        );
        assert!(
            t.contains("keelson_reconcile_duration_seconds_bucket{le=\"5\"} 2\n"),
            "{t}"
        );
        assert!(t.contains("keelson_reconcile_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(t.contains("operation=\"Describe\\\"Cluster\""));
        assert!(t.contains("keelson_kube_api_calls_total{operation=\"list\",outcome=\"ok\"} 1\n"));
        assert!(t.contains(
            "keelson_eks_api_calls_total{operation=\"DescribeCluster\",outcome=\"throttled\"} 1\n"
        ));
        assert!(t.contains(
            "keelson_api_call_duration_seconds_bucket{api=\"kube\",operation=\"list\",le=\"0.25\"} 1\n"
        ));
        assert!(t.contains(
            "keelson_api_call_duration_seconds_bucket{api=\"eks\",operation=\"DescribeCluster\",le=\"2.5\"} 0\n"
        ));
        assert!(t.contains(
            "keelson_api_call_duration_seconds_count{api=\"eks\",operation=\"DescribeCluster\"} 1\n"
        ));
        assert!(
            t.contains("keelson_source_revision_info{revision=\"abc\",source=\"git file:///x\"} 1")
        );
    }
}
