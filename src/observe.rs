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

use crate::deprecations::live;
use crate::deprecations::table::ApiTable;
use crate::model::live::*;
use crate::model::{EKS_NODECLASS_API, KARPENTER_API, NETWORKING_API, STORAGE_API};
use crate::ports::{ApiError, ApiResult, Clock, EksApi, KubeApi};
use crate::versions::Minor;

mod insights;

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
    /// The region git gives each cluster of the repository, to notice this fleet's
    /// cluster of the same name left behind in another region.
    pub regions: BTreeMap<String, String>,
    /// Most clusters read at once.
    pub concurrency: usize,
    /// Clusters whose upgrade signals (insights, Helm records, live API use, self-managed
    /// kubelets) are read, with the version they are headed for. A cluster is read when
    /// its live version is below that.
    pub upgrade_targets: BTreeMap<String, String>,
    /// The deprecated/removed API table that decides which kinds are listed for live API
    /// signals: the one the gates judge with (`--extra-rules` included).
    pub apis: Arc<ApiTable>,
    /// Kubernetes kinds each cluster's git declares (classes, bootstrap manifests).
    pub kube_kinds: BTreeMap<String, KubeKinds>,
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
/// The first call that failed transiently, with its cluster, or a fleet-wide read (the
/// listing, the add-on catalog); a missing cluster is not an error, and one that fails
/// otherwise is recorded in [`LiveState::unreadable`].
pub async fn observe(ports: &Ports, scope: &Scope) -> Result<LiveState, ObserveError> {
    let mut names = scope.clusters.clone();
    let discovered = match &scope.discover_fleet {
        Some(fleet) => discover(ports, scope, fleet).await?,
        None => BTreeSet::new(),
    };
    names.extend(discovered.iter().cloned());
    let sem = Arc::new(Semaphore::new(scope.concurrency.max(1)));
    let mut set = JoinSet::new();
    for name in names {
        let ports = ports.clone();
        let sem = sem.clone();
        let target = scope.upgrade_targets.get(&name).cloned();
        let apis = scope.apis.clone();
        let kinds = scope.kube_kinds.get(&name).cloned().unwrap_or_default();
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let mut observed = observe_cluster_for(&ports, &name, target.as_deref(), &apis).await?;
            if let Some(o) = observed.as_mut() {
                observe_extras(&ports, &name, o, &kinds).await?;
            }
            Ok::<_, ObserveError>((name, observed))
        });
    }
    let mut addon_names = scope.addon_names.clone();
    let mut live = LiveState::default();
    while let Some(joined) = set.join_next().await {
        let (name, observed) = match joined.map_err(|e| ObserveError {
            cluster: "*".into(),
            call: "task",
            source: ApiError::Other(e.to_string()),
        })? {
            Ok(found) => found,
            // A cluster git no longer names that cannot be read is that cluster's problem:
            // it is left alone this time (never deleted unseen), the rest goes on.
            Err(e) if discovered.contains(&e.cluster) => {
                tracing::warn!("{e}: {}; it is left alone this time", e.source);
                continue;
            }
            // A repository cluster that cannot be read for a reason a retry does not
            // cure (a denied call, a role that cannot be assumed) is blocked on its own;
            // a transient failure stays the sync's, which the retry policy handles.
            Err(e) if !e.source.is_transient() => {
                live.unreadable.insert(
                    e.cluster.clone(),
                    format!("its live state could not be read: {e}: {}", e.source),
                );
                continue;
            }
            Err(e) => return Err(e),
        };
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
    // The support gate judges a hop, and a rollback its window, with the target's own
    // calendar: read it only when a cluster's live version differs from git's, so that a
    // resync with nothing to move makes no fleet-wide call it cannot use.
    let moving = scope.upgrade_targets.iter().any(|(name, want)| {
        live.clusters
            .get(name)
            .is_some_and(|o| &o.cluster.version != want)
    });
    if moving {
        live.cluster_versions = listing(
            "*",
            "DescribeClusterVersions",
            ports.eks.describe_cluster_versions().await,
        )?;
    }
    Ok(live)
}

/// The clusters listed in the account that git does not name but that carry `fleet`'s
/// marker: candidates for deletion. Each listed name is described where it was listed
/// (its region, its account's role), and only to read its tags; one that cannot be read
/// is warned about and skipped, never the whole fleet's failure. Each one found is
/// located, so that later calls on it go where it lives.
///
/// # Errors
/// When no place the fleet lives in could be listed.
async fn discover(
    ports: &Ports,
    scope: &Scope,
    fleet: &str,
) -> Result<BTreeSet<String>, ObserveError> {
    let listed = at("*", "ListClusters", ports.eks.list_clusters_located().await)?;
    let mut found = BTreeSet::new();
    for l in listed {
        // A cluster git names, listed in another region than git's: moved in git, and
        // perhaps this fleet's old cluster left behind there.
        let moved_from = match (scope.regions.get(&l.name), &l.region) {
            (Some(new), Some(old)) if new != old => Some(new),
            _ => None,
        };
        if (scope.clusters.contains(&l.name) && moved_from.is_none()) || found.contains(&l.name) {
            continue;
        }
        let place = l.region.as_deref().unwrap_or("its region");
        match ports.eks.describe_listed(&l).await {
            Ok(c) if c.tags.get(MANAGED_TAG).map(String::as_str) == Some(fleet) => {
                if let Some(new) = moved_from {
                    tracing::warn!(
                        cluster = l.name,
                        "cluster {} of this fleet also exists in {place}, where git no longer puts it (git says {new}): keelson plans it in {new} and leaves the one in {place} alone, never deleting it while git names the cluster; delete it yourself when it is no longer needed (aws eks delete-cluster --region {place} --name {})",
                        l.name,
                        l.name
                    );
                    continue;
                }
                ports.eks.locate(&l);
                found.insert(l.name);
            }
            Ok(_) => {}
            // Deleted between the listing and the read.
            Err(ApiError::NotFound(_)) => {}
            Err(e) => tracing::warn!(
                cluster = l.name,
                region = place,
                "cannot tell whether cluster {} in {place} is this fleet's: DescribeCluster failed: {e}; it is left alone",
                l.name
            ),
        }
    }
    Ok(found)
}

/// Observe one cluster; `None` when it does not exist.
///
/// # Errors
/// The first call that failed.
pub async fn observe_cluster(
    ports: &Ports,
    name: &str,
) -> Result<Option<ObservedCluster>, ObserveError> {
    observe_cluster_for(ports, name, None, &ApiTable::default()).await
}

/// Observe one cluster, and when `upgrade_to` is above its live version, its upgrade
/// signals too (live API use judged with `apis`).
///
/// # Errors
/// The first call that failed (upgrade signals that cannot be read are recorded in
/// [`UpgradeSignals::unreadable`] instead).
pub async fn observe_cluster_for(
    ports: &Ports,
    name: &str,
    upgrade_to: Option<&str>,
    apis: &ApiTable,
) -> Result<Option<ObservedCluster>, ObserveError> {
    let mut o = match observe_eks(ports, name).await? {
        Some(o) => o,
        None => return Ok(None),
    };
    if let Some(to) = upgrade_to.and_then(|v| v.parse::<Minor>().ok()) {
        let live = o.cluster.version.parse::<Minor>().ok();
        if live.is_some_and(|l| l < to) && o.cluster.status != Status::Creating {
            o.upgrade = Some(upgrade_signals(ports, name, &o, to, apis).await);
        } else if live.is_some_and(|l| l > to) && o.cluster.status != Status::Creating {
            // A rollback is judged by EKS's ROLLBACK_READINESS insights, fresh.
            let mut out = UpgradeSignals::default();
            insights::read_fresh(ports, name, &mut out).await;
            o.upgrade = Some(out);
        }
    }
    Ok(Some(o))
}

/// Read what the upgrade gates judge. Nothing here fails the observation: what cannot be
/// read is listed in `unreadable`, and the gates block on it.
pub async fn upgrade_signals(
    ports: &Ports,
    name: &str,
    o: &ObservedCluster,
    to: Minor,
    table: &ApiTable,
) -> UpgradeSignals {
    let mut out = UpgradeSignals::default();
    insights::read_fresh(ports, name, &mut out).await;
    // Helm release records, Secrets and ConfigMaps, the deployed revision of each release.
    for kind in ["Secret", "ConfigMap"] {
        match ports.kube.list(name, "v1", kind, Some("owner=helm")).await {
            Ok(objects) => {
                for obj in &objects {
                    match live::helm_record(obj) {
                        Ok((uses, chart)) => {
                            out.api_uses.extend(uses);
                            out.helm_charts.extend(chart);
                        }
                        Err(e) => out.unreadable.push(format!("Helm record {kind} {e}")),
                    }
                }
            }
            Err(e) => out
                .unreadable
                .push(format!("Helm release {kind}s (owner=helm): {e}")),
        }
    }
    // How live objects were written, for every kind the table has a removal for between
    // the live version and the target.
    let live_version = o.cluster.version.parse::<Minor>().ok();
    match ports.kube.served_versions(name).await {
        Ok(served) => {
            let served: BTreeSet<String> = served.into_iter().collect();
            let lists = kinds_to_list(table, &served, live_version, Some(to));
            for (api_version, kind) in lists {
                match ports.kube.list(name, &api_version, &kind, None).await {
                    Ok(objects) => {
                        for obj in &objects {
                            out.api_uses.extend(live::written_uses(table, obj));
                        }
                    }
                    Err(ApiError::NotFound(_)) => {}
                    Err(e) => out.unreadable.push(format!("{kind} ({api_version}): {e}")),
                }
            }
        }
        Err(e) => out.unreadable.push(format!("API discovery: {e}")),
    }
    // Kubelets EKS does not move itself.
    match ports.kube.list(name, "v1", "Node", None).await {
        Ok(nodes) => {
            for n in &nodes {
                let label = |k: &str| {
                    n.pointer("/metadata/labels")
                        .and_then(|l| l.get(k))
                        .and_then(serde_json::Value::as_str)
                };
                if label("eks.amazonaws.com/nodegroup").is_some()
                    || matches!(
                        label("eks.amazonaws.com/compute-type"),
                        Some("auto" | "fargate")
                    )
                {
                    continue;
                }
                let node = n
                    .pointer("/metadata/name")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("?");
                let kubelet = n
                    .pointer("/status/nodeInfo/kubeletVersion")
                    .and_then(serde_json::Value::as_str)
                    .and_then(kubelet_minor);
                if let Some(v) = kubelet {
                    out.self_managed_nodes.insert(node.to_string(), v);
                }
            }
        }
        Err(e) => out.unreadable.push(format!("Nodes: {e}")),
    }
    out.api_uses.sort();
    out.api_uses.dedup();
    out
}

/// The Kubernetes objects an upgrade rehearsal needs, for `keelson snapshot`: Helm release
/// records (Secrets and ConfigMaps labelled `owner=helm`), objects of the kinds the
/// deprecated-API table has a later removal for that were written with a version it knows
/// (trimmed to what the signals read), and self-managed Nodes. Keyed as the simulator
/// stores them. Lists that fail are skipped with a warning: a snapshot is best effort.
pub async fn rehearsal_objects(
    ports: &Ports,
    name: &str,
    live_version: &str,
) -> BTreeMap<String, serde_json::Value> {
    use serde_json::Value;
    let mut out = BTreeMap::new();
    let key = |o: &Value| {
        let t = |p: &str| o.pointer(p).and_then(Value::as_str).unwrap_or("");
        let ns = t("/metadata/namespace");
        if ns.is_empty() {
            format!("{}/{}", t("/kind"), t("/metadata/name"))
        } else {
            format!("{}/{ns}/{}", t("/kind"), t("/metadata/name"))
        }
    };
    for kind in ["Secret", "ConfigMap"] {
        match ports.kube.list(name, "v1", kind, Some("owner=helm")).await {
            Ok(objs) => {
                for o in objs {
                    out.insert(key(&o), o);
                }
            }
            Err(e) => tracing::warn!(cluster = name, kind, "not in the snapshot: {e}"),
        }
    }
    let Some(table) = ApiTable::shared() else {
        return out;
    };
    let live = live_version.parse::<Minor>().ok();
    let served: BTreeSet<String> = match ports.kube.served_versions(name).await {
        Ok(v) => v.into_iter().collect(),
        Err(e) => {
            tracing::warn!(
                cluster = name,
                "API discovery failed, objects not in the snapshot: {e}"
            );
            return out;
        }
    };
    let lists = kinds_to_list(table, &served, live, None);
    for (api_version, kind) in lists {
        let Ok(objs) = ports.kube.list(name, &api_version, &kind, None).await else {
            continue;
        };
        for o in objs {
            if live::written_uses(table, &o).is_empty() {
                continue;
            }
            let mut meta = serde_json::Map::new();
            for k in [
                "name",
                "namespace",
                "labels",
                "annotations",
                "managedFields",
            ] {
                if let Some(v) = o.pointer(&format!("/metadata/{k}")) {
                    meta.insert(k.to_string(), v.clone());
                }
            }
            let trimmed = serde_json::json!({
                "apiVersion": api_version,
                "kind": kind,
                "metadata": meta,
            });
            out.insert(key(&trimmed), trimmed);
        }
    }
    if let Ok(nodes) = ports.kube.list(name, "v1", "Node", None).await {
        for n in nodes {
            out.insert(key(&n), n);
        }
    }
    out
}

/// The (apiVersion, kind) lists that show how objects were written: every kind the table
/// has a removal for after `live` (and by `to`, when given), listed at its replacement's
/// version when the cluster serves it, else at its own.
fn kinds_to_list(
    table: &ApiTable,
    served: &BTreeSet<String>,
    live: Option<Minor>,
    to: Option<Minor>,
) -> BTreeSet<(String, String)> {
    let mut lists = BTreeSet::new();
    for e in table.entries() {
        let ahead = e.component.is_none()
            && e.kind != "*"
            && e.removed_in
                .is_some_and(|r| live.is_none_or(|l| r > l) && to.is_none_or(|t| r <= t));
        if !ahead {
            continue;
        }
        let replacement = e
            .replacement
            .as_deref()
            .and_then(|r| r.split_whitespace().next())
            .map(str::to_string);
        if let Some(v) = replacement
            .filter(|r| served.contains(r))
            .or_else(|| Some(e.api_version()).filter(|v| served.contains(v)))
        {
            lists.insert((v, e.kind.clone()));
        }
    }
    lists
}

/// `v1.33.5-eks-3025e55` → `1.33`.
fn kubelet_minor(v: &str) -> Option<String> {
    let v = v.trim_start_matches('v');
    let mut parts = v.split('.');
    let major = parts.next()?;
    let minor: String = parts
        .next()?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!minor.is_empty()).then(|| format!("{major}.{minor}"))
}

async fn observe_eks(ports: &Ports, name: &str) -> Result<Option<ObservedCluster>, ObserveError> {
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
        bootstrap: None,
        upgrade: None,
    };
    if matches!(o.cluster.status, Status::Creating | Status::Deleting) {
        return Ok(Some(o));
    }
    if o.cluster.status == Status::Updating || insights::may_roll_back_nodes(&o.cluster) {
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
        // Every object of these kinds, not only those with keelson's label: one that git
        // declares but keelson did not create (imported) is compared, and left unmanaged
        // until adopted; the planner prunes only those with the label.
        let kinds = [
            (EKS_NODECLASS_API, "NodeClass"),
            (KARPENTER_API, "NodePool"),
            (EKS_NODECLASS_API, "IngressClassParams"),
            (NETWORKING_API, "IngressClass"),
            (STORAGE_API, "StorageClass"),
        ];
        list_managed(ports, name, &mut o, kinds.iter().copied()).await?;
    }
    Ok(Some(o))
}

/// List the objects of `kinds` that carry keelson's label into `o.kube_objects` (as
/// `Kind/name`), leaving out bootstrap objects, which `observe_bootstrap` reads.
async fn list_managed<'k>(
    ports: &Ports,
    name: &str,
    o: &mut ObservedCluster,
    kinds: impl Iterator<Item = (&'k str, &'k str)>,
) -> Result<(), ObserveError> {
    for (api, kind) in kinds {
        let objs = at(
            name,
            "kube:list",
            ports.kube.list(name, api, kind, None).await,
        )?;
        for obj in objs {
            if obj
                .pointer("/metadata/labels")
                .and_then(|l| l.get(BOOTSTRAP_LABEL))
                .is_some()
            {
                continue;
            }
            if let Some(n) = obj.pointer("/metadata/name").and_then(|v| v.as_str()) {
                o.kube_objects.insert(format!("{kind}/{n}"), obj.clone());
            }
        }
    }
    Ok(())
}

/// The objects of one kind that match `selector`.
async fn labelled_objects(
    ports: &Ports,
    name: &str,
    api: &str,
    kind: &str,
    selector: &str,
) -> Result<Vec<serde_json::Value>, ObserveError> {
    at(
        name,
        "kube:list",
        ports.kube.list(name, api, kind, Some(selector)).await,
    )
}

/// Kubernetes kinds one cluster's git declares besides NodePools and NodeClasses, for
/// clusters where observe would not list them on its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeKinds {
    /// `(apiVersion, kind)` of declared StorageClasses, IngressClasses and
    /// IngressClassParams (listed even without Auto Mode).
    pub classes: BTreeSet<(String, String)>,
    /// `(apiVersion, kind)` of the bootstrap manifests.
    pub bootstrap: BTreeSet<(String, String)>,
}

/// Read what the declared classes and the bootstrap manifests need: on a cluster that
/// is up, the classes git declares (Auto Mode clusters have them listed already), and
/// when there are bootstrap manifests in git or Auto Mode is on, discovery, keelson's
/// inventory and every bootstrap object of the kinds in either.
async fn observe_extras(
    ports: &Ports,
    name: &str,
    o: &mut ObservedCluster,
    kinds: &KubeKinds,
) -> Result<(), ObserveError> {
    if !matches!(o.cluster.status, Status::Active | Status::Updating) {
        return Ok(());
    }
    let auto = o
        .cluster
        .auto_mode
        .as_ref()
        .is_some_and(|a| a.compute.enabled);
    if !auto {
        let classes = kinds.classes.iter().map(|(a, k)| (a.as_str(), k.as_str()));
        list_managed(ports, name, o, classes).await?;
    }
    if kinds.bootstrap.is_empty() && !auto {
        return Ok(());
    }
    let served = at(
        name,
        "kube:discovery",
        ports.kube.served_versions(name).await,
    )?;
    let (ns, cm) = crate::plan::INVENTORY;
    let inventory = at(
        name,
        "kube:list",
        ports
            .kube
            .list(
                name,
                "v1",
                "ConfigMap",
                Some(&format!("{}=bootstrap", crate::plan::INVENTORY_LABEL)),
            )
            .await,
    )?
    .into_iter()
    .find(|c| {
        c.pointer("/metadata/name").and_then(|v| v.as_str()) == Some(cm)
            && c.pointer("/metadata/namespace").and_then(|v| v.as_str()) == Some(ns)
    })
    .map(|c| crate::plan::inventory_kinds(&c));
    let mut to_list: BTreeSet<(String, String)> = kinds.bootstrap.clone();
    for line in inventory.iter().flatten() {
        if let Some((api, kind)) = line.split_once(' ') {
            to_list.insert((api.to_string(), kind.to_string()));
        }
    }
    let mut objects = BTreeMap::new();
    let selector = format!("{BOOTSTRAP_LABEL}=true");
    for (api, kind) in &to_list {
        // A kind the cluster does not serve (yet) has no objects.
        if !served.contains(api) {
            continue;
        }
        for obj in labelled_objects(ports, name, api, kind, &selector).await? {
            objects.insert(crate::plan::step_name(&obj), obj);
        }
    }
    o.bootstrap = Some(ObservedBootstrap {
        served,
        inventory,
        objects,
    });
    Ok(())
}
