//! The fleet lock as a `coordination.k8s.io/v1` Lease, for replicas of the daemon in a
//! Kubernetes cluster (the semantics of client-go's leader election, over kube-rs).
//!
//! ```text
//!  try_acquire: GET lease ─ none ──► CREATE {holderIdentity: HOST/PID, renewTime, leaseDurationSeconds}
//!                         ─ ours, released, or stale ──► REPLACE with its resourceVersion (409: someone was first)
//!                         ─ someone else's, live ──► Held(holder)
//!  renew:       GET ─ still ours ──► REPLACE renewTime with its resourceVersion (409 or not ours: lost)
//!  release:     GET ─ ours ──► REPLACE holderIdentity: none, leaseDurationSeconds: 1
//! ```
//!
//! Every write carries the `resourceVersion` read, so two replicas can never both think
//! they took it: the API server accepts one and answers the other 409 Conflict. Staleness
//! is judged by [`Observer`]: the record unchanged for the lease duration on this
//! process's monotonic clock, or its `renewTime` older than duration + skew on the wall
//! clock. Lease fields: Kubernetes API reference, `Lease v1 coordination.k8s.io`
//! (k8s-openapi `api::coordination::v1::LeaseSpec`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};

use crate::daemon::lock::{
    holder_from_identity, identity, Attempt, BackendError, Holder, LockBackend, Observer, Timing,
};

/// Longest wait for one call to the API server: a renewal must fail, not hang, well
/// within the renew deadline.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(4);

/// A Lease held as the fleet lock.
pub struct LeaseLock {
    api: Api<Lease>,
    namespace: String,
    name: String,
    timing: Timing,
    observer: Mutex<Observer>,
    /// The identity it was taken as, for the release.
    mine: Mutex<Option<String>>,
}

fn now_micro() -> MicroTime {
    MicroTime(Timestamp::now())
}

impl LeaseLock {
    /// A Lease lock through `client`.
    pub fn new(client: kube::Client, namespace: &str, name: &str, timing: Timing) -> LeaseLock {
        LeaseLock {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
            name: name.to_string(),
            timing,
            observer: Mutex::new(Observer::default()),
            mine: Mutex::new(None),
        }
    }

    /// A Lease lock with a client from the pod's service account or `KUBECONFIG`; the
    /// Lease lives in `namespace`, or the client's default namespace.
    ///
    /// # Errors
    /// No Kubernetes configuration could be found.
    pub async fn connect(
        namespace: Option<&str>,
        name: &str,
        timing: Timing,
    ) -> Result<LeaseLock, BackendError> {
        let shown = match namespace {
            Some(ns) => format!("Lease {ns}/{name}"),
            None => format!("Lease {name}"),
        };
        let (client, ns) = client_for(namespace, &shown).await?;
        Ok(LeaseLock::new(client, &ns, name, timing))
    }

    fn err(&self, what: &str, e: &dyn std::fmt::Display) -> BackendError {
        BackendError::Kubernetes {
            lock: self.describe(),
            message: format!(
                "{what} failed: {e}; check that the API server is reachable and that keelson may get, create and update Leases in namespace {} (deploy/kubernetes has the Role)",
                self.namespace
            ),
        }
    }

    async fn get(&self) -> Result<Option<Lease>, BackendError> {
        match tokio::time::timeout(CALL_TIMEOUT, self.api.get_opt(&self.name)).await {
            Ok(Ok(l)) => Ok(l),
            Ok(Err(e)) => Err(self.err("reading the Lease", &e)),
            Err(_) => Err(self.err("reading the Lease", &"no answer in 4 s")),
        }
    }

    /// Write `lease`; `Ok(false)` on 409 Conflict / AlreadyExists (someone else wrote
    /// first).
    async fn write(&self, lease: &Lease, create: bool) -> Result<bool, BackendError> {
        let pp = PostParams::default();
        let call = async {
            if create {
                self.api.create(&pp, lease).await
            } else {
                self.api.replace(&self.name, &pp, lease).await
            }
        };
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(_)) => Ok(true),
            Ok(Err(kube::Error::Api(s))) if s.code == 409 => Ok(false),
            Ok(Err(e)) => Err(self.err("writing the Lease", &e)),
            Err(_) => Err(self.err("writing the Lease", &"no answer in 4 s")),
        }
    }

    fn observer(&self) -> std::sync::MutexGuard<'_, Observer> {
        self.observer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn took(&self, mine: &str) -> Attempt {
        self.observer().reset();
        *self.mine.lock().unwrap_or_else(|p| p.into_inner()) = Some(mine.to_string());
        Attempt::Acquired
    }

    fn duration_secs(&self) -> i32 {
        i32::try_from(self.timing.duration.as_secs().max(1)).unwrap_or(i32::MAX)
    }
}

/// A client from the pod's service account or `KUBECONFIG`, with call timeouts, and the
/// namespace to use (`namespace`, or the client's default). `shown` names the Lease in
/// errors.
///
/// # Errors
/// No Kubernetes configuration could be found.
pub(crate) async fn client_for(
    namespace: Option<&str>,
    shown: &str,
) -> Result<(kube::Client, String), BackendError> {
    crate::adapters::kube::install_crypto_provider();
    let err = |message: String| BackendError::Kubernetes {
        lock: shown.to_string(),
        message,
    };
    let mut config = kube::Config::infer().await.map_err(|e| {
        err(format!(
            "no Kubernetes configuration ({e}); run in a pod with a service account, or set KUBECONFIG"
        ))
    })?;
    config.connect_timeout = Some(CALL_TIMEOUT);
    config.read_timeout = Some(CALL_TIMEOUT);
    config.write_timeout = Some(CALL_TIMEOUT);
    let ns = namespace
        .map(str::to_string)
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = kube::Client::try_from(config)
        .map_err(|e| err(format!("cannot build a Kubernetes client: {e}")))?;
    Ok((client, ns))
}

/// A Lease `namespace/name` to create, labelled as keelson's, with `labels` besides.
pub(crate) fn new_lease(
    namespace: &str,
    name: &str,
    labels: &[(&str, &str)],
    spec: LeaseSpec,
) -> Lease {
    let mut all: std::collections::BTreeMap<String, String> = [(
        "app.kubernetes.io/managed-by".to_string(),
        "keelson".to_string(),
    )]
    .into();
    all.extend(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Lease {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(all),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
    }
}

/// Who a Lease names, if anyone.
fn lease_holder(spec: &LeaseSpec) -> Option<Holder> {
    let id = spec.holder_identity.as_deref().filter(|s| !s.is_empty())?;
    let since = spec.acquire_time.as_ref().map_or(0, |t| t.0.as_second());
    Some(holder_from_identity(id, since))
}

#[async_trait]
impl LockBackend for LeaseLock {
    fn describe(&self) -> String {
        format!("Lease {}/{}", self.namespace, self.name)
    }

    fn timing(&self) -> Timing {
        self.timing
    }

    async fn try_acquire(&self, me: &Holder) -> Result<Attempt, BackendError> {
        let mine = identity(me);
        let fresh_spec = |transitions: i32| LeaseSpec {
            holder_identity: Some(mine.clone()),
            lease_duration_seconds: Some(self.duration_secs()),
            acquire_time: Some(now_micro()),
            renew_time: Some(now_micro()),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        };
        let Some(mut lease) = self.get().await? else {
            let lease = new_lease(&self.namespace, &self.name, &[], fresh_spec(0));
            if self.write(&lease, true).await? {
                return Ok(self.took(&mine));
            }
            // Another replica created it first: name it.
            let holder = self.get().await?.and_then(|l| lease_holder(&l.spec?));
            return Ok(Attempt::Held(holder));
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = lease_holder(&spec);
        let version = lease.metadata.resource_version.clone().unwrap_or_default();
        let free = match spec.holder_identity.as_deref() {
            None | Some("") => true,
            Some(id) if id == mine => true,
            Some(_) => {
                // The record's own duration counts when it is longer than ours.
                let mut timing = self.timing;
                if let Some(d) = spec.lease_duration_seconds {
                    timing.duration = timing
                        .duration
                        .max(Duration::from_secs(u64::try_from(d).unwrap_or(0)));
                }
                let renewed = spec.renew_time.as_ref().map(|t| t.0.as_second());
                self.observer().stale(
                    &version,
                    renewed,
                    timing,
                    Instant::now(),
                    Timestamp::now().as_second(),
                )
            }
        };
        if !free {
            return Ok(Attempt::Held(holder));
        }
        let transitions = spec.lease_transitions.unwrap_or(0)
            + i32::from(spec.holder_identity.as_deref() != Some(mine.as_str()));
        lease.spec = Some(fresh_spec(transitions));
        Ok(if self.write(&lease, false).await? {
            self.took(&mine)
        } else {
            Attempt::Held(holder)
        })
    }

    async fn renew(&self, me: &Holder) -> Result<bool, BackendError> {
        let mine = identity(me);
        let Some(mut lease) = self.get().await? else {
            // Deleted under us: whoever creates it next holds it.
            return Ok(false);
        };
        let mut spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(mine.as_str()) {
            return Ok(false);
        }
        spec.renew_time = Some(now_micro());
        spec.lease_duration_seconds = Some(self.duration_secs());
        lease.spec = Some(spec);
        self.write(&lease, false).await
    }

    async fn release(&self) -> Result<(), BackendError> {
        let Some(mut lease) = self.get().await? else {
            return Ok(());
        };
        let mine = self.mine.lock().unwrap_or_else(|p| p.into_inner()).take();
        let mut spec = lease.spec.clone().unwrap_or_default();
        if mine.is_none() || spec.holder_identity != mine {
            return Ok(());
        }
        // As client-go releases: no holder, and a one-second duration.
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(now_micro());
        lease.spec = Some(spec);
        self.write(&lease, false).await.map(|_| ())
    }
}
