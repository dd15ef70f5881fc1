//! `KubeApi` on kube-rs.
//!
//! ```text
//!  cluster name ──ClusterAccess──► kube::Config (endpoint + CA + bearer token, or a kubeconfig context)
//!               ──► kube::Client (cached) ──► discovery / list / server-side apply / delete
//! ```
//!
//! Objects are handled as dynamic objects: the kind's resource is found through discovery
//! (`pinned_kind`), so NodePool, NodeClass and any other kind need no compiled-in types.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ::kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use ::kube::core::GroupVersionKind;
use async_trait::async_trait;
use serde_json::Value;

use crate::ports::{ApiError, ApiResult, KubeApi};

/// How keelson reaches one cluster's API server.
#[async_trait]
pub trait ClusterAccess: Send + Sync {
    /// A client configuration for `cluster`.
    async fn config(&self, cluster: &str) -> ApiResult<::kube::Config>;
}

/// Clients are rebuilt after this long, so that bearer tokens (valid 15 minutes on the
/// API server side) never go stale.
const CLIENT_TTL_SECS: u64 = 10 * 60;

/// `KubeApi` over kube-rs clients, one per cluster.
pub struct KubeClients {
    access: Option<Arc<dyn ClusterAccess>>,
    clients: Mutex<BTreeMap<String, (::kube::Client, Option<Instant>)>>,
    calls: Mutex<BTreeMap<String, u64>>,
}

impl std::fmt::Debug for KubeClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeClients").finish_non_exhaustive()
    }
}

impl KubeClients {
    /// Clients made on demand through `access`.
    pub fn new(access: Arc<dyn ClusterAccess>) -> KubeClients {
        KubeClients {
            access: Some(access),
            clients: Mutex::new(BTreeMap::new()),
            calls: Mutex::new(BTreeMap::new()),
        }
    }

    /// Fixed clients, e.g. over a mocked service in tests.
    pub fn fixed(clients: impl IntoIterator<Item = (String, ::kube::Client)>) -> KubeClients {
        KubeClients {
            access: None,
            clients: Mutex::new(clients.into_iter().map(|(k, c)| (k, (c, None))).collect()),
            calls: Mutex::new(BTreeMap::new()),
        }
    }

    /// Calls made so far, by operation.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn count(&self, op: &str) {
        if let Ok(mut c) = self.calls.lock() {
            *c.entry(op.to_string()).or_default() += 1;
        }
    }

    async fn client(&self, cluster: &str) -> ApiResult<::kube::Client> {
        if let Ok(map) = self.clients.lock() {
            if let Some((client, made)) = map.get(cluster) {
                let fresh = made.is_none_or(|t| t.elapsed().as_secs() < CLIENT_TTL_SECS);
                if fresh {
                    return Ok(client.clone());
                }
            }
        }
        let access = self.access.as_ref().ok_or_else(|| {
            ApiError::NotFound(format!("no Kubernetes client for cluster {cluster}"))
        })?;
        let config = access.config(cluster).await?;
        install_crypto_provider();
        let client = ::kube::Client::try_from(config).map_err(|e| {
            ApiError::Other(format!(
                "cannot build a Kubernetes client for cluster {cluster}: {e}"
            ))
        })?;
        if let Ok(mut map) = self.clients.lock() {
            map.insert(cluster.to_string(), (client.clone(), Some(Instant::now())));
        }
        Ok(client)
    }

    async fn api_for(
        &self,
        cluster: &str,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> ApiResult<Api<DynamicObject>> {
        let client = self.client(cluster).await?;
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let gvk = GroupVersionKind::gvk(group, version, kind);
        self.count("discovery");
        let (ar, caps) = ::kube::discovery::pinned_kind(&client, &gvk)
            .await
            .map_err(|e| map_err(cluster, &format!("discovery of {api_version} {kind}"), e))?;
        Ok(match (caps.scope, namespace) {
            (::kube::discovery::Scope::Namespaced, Some(ns)) => {
                Api::namespaced_with(client, ns, &ar)
            }
            _ => Api::all_with(client, &ar),
        })
    }
}

/// Map a kube-rs error to the port's error classes.
pub fn map_err(cluster: &str, what: &str, e: ::kube::Error) -> ApiError {
    let msg = |m: &str| format!("{what} on cluster {cluster}: {m}");
    match e {
        ::kube::Error::Api(status) => {
            let m = msg(&status.message);
            match status.code {
                404 => ApiError::NotFound(m),
                409 => ApiError::ResourceInUse(m),
                400 | 422 => ApiError::InvalidParameter(m),
                401 | 403 => ApiError::AccessDenied(format!(
                    "{m} (check the access entry of the principal keelson runs as)"
                )),
                429 => ApiError::Throttled(m),
                c if c >= 500 => ApiError::Unavailable(m),
                _ => ApiError::Other(m),
            }
        }
        // Discovery says the server does not serve this group, version or kind: nothing of
        // it exists there (a kind a served group/version lacks, say).
        ::kube::Error::Discovery(
            d @ (::kube::error::DiscoveryError::MissingKind(_)
            | ::kube::error::DiscoveryError::MissingApiGroup(_)
            | ::kube::error::DiscoveryError::MissingResource(_)
            | ::kube::error::DiscoveryError::EmptyApiGroup(_)),
        ) => ApiError::NotFound(msg(&d.to_string())),
        other => ApiError::Unavailable(msg(&other.to_string())),
    }
}

fn object_meta(obj: &Value) -> ApiResult<(String, String, String, Option<String>)> {
    let s = |p: &str| obj.pointer(p).and_then(Value::as_str).map(str::to_string);
    match (s("/apiVersion"), s("/kind"), s("/metadata/name")) {
        (Some(a), Some(k), Some(n)) => Ok((a, k, n, s("/metadata/namespace"))),
        _ => Err(ApiError::InvalidParameter(
            "object needs apiVersion, kind and metadata.name".into(),
        )),
    }
}

#[async_trait]
impl KubeApi for KubeClients {
    async fn server_version(&self, cluster: &str) -> ApiResult<String> {
        let client = self.client(cluster).await?;
        self.count("version");
        let info = client
            .apiserver_version()
            .await
            .map_err(|e| map_err(cluster, "GET /version", e))?;
        let minor: String = info
            .minor
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        Ok(format!("{}.{minor}", info.major))
    }

    async fn served_versions(&self, cluster: &str) -> ApiResult<Vec<String>> {
        let client = self.client(cluster).await?;
        self.count("discovery");
        let core = client
            .list_core_api_versions()
            .await
            .map_err(|e| map_err(cluster, "GET /api", e))?;
        let groups = client
            .list_api_groups()
            .await
            .map_err(|e| map_err(cluster, "GET /apis", e))?;
        let mut out: Vec<String> = core.versions;
        for g in groups.groups {
            out.extend(g.versions.into_iter().map(|v| v.group_version));
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    async fn list(
        &self,
        cluster: &str,
        api_version: &str,
        kind: &str,
        label_selector: Option<&str>,
    ) -> ApiResult<Vec<Value>> {
        let api = match self.api_for(cluster, api_version, kind, None).await {
            Ok(api) => api,
            // A kind the cluster does not serve has no objects.
            Err(ApiError::NotFound(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut lp = ListParams::default();
        if let Some(sel) = label_selector {
            lp = lp.labels(sel);
        }
        self.count("list");
        let list = api
            .list(&lp)
            .await
            .map_err(|e| map_err(cluster, &format!("list {kind}"), e))?;
        // A real API server leaves `apiVersion` and `kind` out of list items of built-in
        // kinds; every reader of an object (Helm records, API signals) needs them.
        list.items
            .into_iter()
            .map(|mut o| {
                if o.types.is_none() {
                    o.types = Some(::kube::api::TypeMeta {
                        api_version: api_version.to_string(),
                        kind: kind.to_string(),
                    });
                }
                serde_json::to_value(o).map_err(|e| ApiError::Other(e.to_string()))
            })
            .collect()
    }

    async fn apply(&self, cluster: &str, object: &Value, field_manager: &str) -> ApiResult<Value> {
        let (api_version, kind, name, namespace) = object_meta(object)?;
        let api = self
            .api_for(cluster, &api_version, &kind, namespace.as_deref())
            .await?;
        let params = PatchParams::apply(field_manager).force();
        self.count("apply");
        let applied = api
            .patch(&name, &params, &Patch::Apply(object))
            .await
            .map_err(|e| map_err(cluster, &format!("server-side apply of {kind} {name}"), e))?;
        serde_json::to_value(applied).map_err(|e| ApiError::Other(e.to_string()))
    }

    async fn delete_in(
        &self,
        cluster: &str,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> ApiResult<()> {
        let api = self.api_for(cluster, api_version, kind, namespace).await?;
        self.count("delete");
        api.delete(name, &DeleteParams::default())
            .await
            .map(|_| ())
            .map_err(|e| map_err(cluster, &format!("delete {kind} {name}"), e))
    }
}

/// Install rustls's ring crypto provider for the process, once. rustls chooses one on its
/// own only when exactly one is compiled in; keelson has two (ring through kube, aws-lc-rs
/// through the AWS SDK), and building a Kubernetes client for an https server without one
/// panics. Installing fails harmlessly when a provider is already installed.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
