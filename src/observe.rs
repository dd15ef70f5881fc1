//! Read the live state of the clusters a plan looks at, through the ports.
//!
//! ```text
//!  names ──► per cluster (bounded concurrency): DescribeCluster, ListUpdates/DescribeUpdate,
//!            add-ons, node groups, Fargate, access entries, Pod Identity, NodePool/NodeClass
//!        ──► LiveState (plus DescribeAddonVersions once per add-on name)
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::model::live::*;
use crate::model::{EKS_NODECLASS_API, KARPENTER_API};
use crate::ports::{ApiError, ApiResult, Clock, EksApi, KubeApi};

/// The adapters a command works through.
#[derive(Clone)]
pub struct Ports {
    /// EKS.
    pub eks: Arc<dyn EksApi>,
    /// Kubernetes.
    pub kube: Arc<dyn KubeApi>,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

/// Why observation failed.
#[derive(Debug, thiserror::Error)]
#[error("reading live state of cluster {cluster} failed at {call}")]
pub struct ObserveError {
    /// Cluster.
    pub cluster: String,
    /// The call that failed.
    pub call: &'static str,
    /// Cause.
    #[source]
    pub source: ApiError,
}

/// What to observe.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Clusters named in the repo (and selected).
    pub clusters: BTreeSet<String>,
    /// Also look for clusters in the account carrying keelson's marker for this fleet
    /// (candidates for deletion). Off when the plan is narrowed with `--cluster`.
    pub discover_fleet: Option<String>,
    /// Add-on names whose version catalogs are needed.
    pub addon_names: BTreeSet<String>,
    /// Most clusters read at once.
    pub concurrency: usize,
}

/// A listing the endpoint does not implement is empty (with a warning): third-party EKS
/// implementations used for testing lack some resource types; AWS has them all.
fn listing<T>(
    cluster: &str,
    call: &'static str,
    r: ApiResult<Vec<T>>,
) -> Result<Vec<T>, ObserveError> {
    match r {
        Err(ApiError::NotImplemented(m)) => {
            tracing::warn!(cluster, call, "{m}; treated as an empty list");
            Ok(Vec::new())
        }
        other => at(cluster, call, other),
    }
}

fn at<T>(cluster: &str, call: &'static str, r: ApiResult<T>) -> Result<T, ObserveError> {
    r.map_err(|source| ObserveError {
        cluster: cluster.to_string(),
        call,
        source,
    })
}

/// Observe the clusters in `scope`.
///
/// # Errors
/// The first call that failed, with its cluster; a missing cluster is not an error.
pub async fn observe(ports: &Ports, scope: &Scope) -> Result<LiveState, ObserveError> {
    let mut names = scope.clusters.clone();
    if let Some(fleet) = &scope.discover_fleet {
        for name in at("*", "ListClusters", ports.eks.list_clusters().await)? {
            if names.contains(&name) {
                continue;
            }
            let c = at(
                &name,
                "DescribeCluster",
                ports.eks.describe_cluster(&name).await,
            )?;
            if c.tags.get(MANAGED_TAG) == Some(fleet) {
                names.insert(name);
            }
        }
    }
    let sem = Arc::new(Semaphore::new(scope.concurrency.max(1)));
    let mut set = JoinSet::new();
    for name in names {
        let ports = ports.clone();
        let sem = sem.clone();
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            observe_cluster(&ports, &name).await.map(|c| (name, c))
        });
    }
    let mut addon_names = scope.addon_names.clone();
    let mut live = LiveState::default();
    while let Some(joined) = set.join_next().await {
        let (name, observed) = joined.map_err(|e| ObserveError {
            cluster: "*".into(),
            call: "task",
            source: ApiError::Other(e.to_string()),
        })??;
        if let Some(o) = observed {
            addon_names.extend(o.addons.keys().cloned());
            live.clusters.insert(name, o);
        }
    }
    let mut catalog = BTreeMap::new();
    for name in &addon_names {
        let v = at(
            "*",
            "DescribeAddonVersions",
            ports.eks.describe_addon_versions(name).await,
        )?;
        catalog.insert(name.clone(), v);
    }
    live.addon_versions = catalog;
    Ok(live)
}

/// Observe one cluster; `None` when it does not exist.
///
/// # Errors
/// The first call that failed.
pub async fn observe_cluster(
    ports: &Ports,
    name: &str,
) -> Result<Option<ObservedCluster>, ObserveError> {
    let eks = &ports.eks;
    let cluster = match eks.describe_cluster(name).await {
        Ok(c) => c,
        Err(ApiError::NotFound(_)) => return Ok(None),
        Err(e) => return at(name, "DescribeCluster", Err(e)),
    };
    let mut o = ObservedCluster {
        cluster,
        updates_in_progress: Vec::new(),
        addons: BTreeMap::new(),
        node_groups: BTreeMap::new(),
        fargate_profiles: BTreeMap::new(),
        access_entries: BTreeMap::new(),
        pod_identities: BTreeMap::new(),
        kube_objects: BTreeMap::new(),
    };
    if matches!(
        o.cluster.status,
        crate::model::live::Status::Creating | crate::model::live::Status::Deleting
    ) {
        return Ok(Some(o));
    }
    if o.cluster.status == crate::model::live::Status::Updating {
        for id in at(
            name,
            "ListUpdates",
            eks.list_updates(name, None, None).await,
        )? {
            let u = at(
                name,
                "DescribeUpdate",
                eks.describe_update(name, &id, None, None).await,
            )?;
            if u.status == UpdateStatus::InProgress {
                o.updates_in_progress.push(u);
            }
        }
    }
    for a in listing(name, "ListAddons", eks.list_addons(name).await)? {
        let addon = at(name, "DescribeAddon", eks.describe_addon(name, &a).await)?;
        o.addons.insert(a, addon);
    }
    for n in listing(name, "ListNodegroups", eks.list_nodegroups(name).await)? {
        let ng = at(
            name,
            "DescribeNodegroup",
            eks.describe_nodegroup(name, &n).await,
        )?;
        o.node_groups.insert(n, ng);
    }
    for f in listing(
        name,
        "ListFargateProfiles",
        eks.list_fargate_profiles(name).await,
    )? {
        let fp = at(
            name,
            "DescribeFargateProfile",
            eks.describe_fargate_profile(name, &f).await,
        )?;
        o.fargate_profiles.insert(f, fp);
    }
    let api_auth = matches!(
        o.cluster.access.as_ref().map(|a| a.authentication_mode),
        Some(
            crate::model::AuthenticationMode::Api
                | crate::model::AuthenticationMode::ApiAndConfigMap
        )
    );
    if api_auth {
        for p in listing(
            name,
            "ListAccessEntries",
            eks.list_access_entries(name).await,
        )? {
            let e = at(
                name,
                "DescribeAccessEntry",
                eks.describe_access_entry(name, &p).await,
            )?;
            o.access_entries.insert(p, e);
        }
    }
    for s in listing(
        name,
        "ListPodIdentityAssociations",
        eks.list_pod_identity_associations(name).await,
    )? {
        let p = at(
            name,
            "DescribePodIdentityAssociation",
            eks.describe_pod_identity_association(name, &s.association_id)
                .await,
        )?;
        o.pod_identities
            .insert(format!("{}/{}", s.namespace, s.service_account), p);
    }
    let auto = o
        .cluster
        .auto_mode
        .as_ref()
        .is_some_and(|a| a.compute.enabled);
    if auto {
        let selector = format!("{MANAGED_LABEL}={FIELD_MANAGER}");
        for (api, kind) in [
            (EKS_NODECLASS_API, "NodeClass"),
            (KARPENTER_API, "NodePool"),
        ] {
            let objs = at(
                name,
                "kube:list",
                ports.kube.list(name, api, kind, Some(&selector)).await,
            )?;
            for obj in objs {
                if let Some(n) = obj.pointer("/metadata/name").and_then(|v| v.as_str()) {
                    o.kube_objects.insert(format!("{kind}/{n}"), obj.clone());
                }
            }
        }
    }
    Ok(Some(o))
}
