//! The daemon's metrics as the recorder of every remote call: the decorator itself
//! ([`crate::adapters::instrumented::Instrumented`]) lives with the adapters, so that the
//! CLI gets the same timeouts; the daemon hands it its [`Metrics`].
//!
//! ```text
//!  observe / apply ──► Instrumented ──► inner EksApi / KubeApi (sim, aws, kube)
//!                          └──► CallRecorder for Metrics
//!                                 ├─► keelson_eks_api_calls_total{operation,outcome}
//!                                 ├─► keelson_kube_api_calls_total{operation,outcome}
//!                                 └─► keelson_api_call_duration_seconds{api,operation}
//! ```

use super::metrics::Metrics;
use crate::adapters::instrumented::{CallRecord, CallRecorder};

impl CallRecorder for Metrics {
    fn record(&self, call: &CallRecord<'_>) {
        self.remote_call(
            call.remote.as_str(),
            call.operation,
            call.outcome,
            call.elapsed.as_secs_f64(),
        );
    }
}
