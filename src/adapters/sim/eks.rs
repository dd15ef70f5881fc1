//! `EksApi` on the simulator: one method per EKS call, each run under the state lock by
//! `Sim::with`.
//!
//! ```text
//!  EksApi call ─► Sim::with(op) ─► admission (refuse as EKS would) ─► state change
//!                                   │                                  └─► updates (finish later)
//!                                   └─► access (entries EKS makes itself, access creates)
//! ```

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{catalog, durations as d, PendingChange, Sim, SimCluster, SimState, SimUpdate, Timed};
use crate::model::live::*;
use crate::model::*;
use crate::ports::*;
use crate::versions::{self, Minor, SupportStatus};

mod access;
mod admission;
mod fields;
mod rollback;
mod updates;

use access::{auth_rank, default_access_entry, uses_api};
use admission::{
    check_addon_version, check_auto_mode, check_node_version, check_version, minors_behind, replay,
    require_active, require_idle, today,
};
pub(super) use updates::finish_updates;
use updates::{new_update, release_for};

fn not_found(what: impl std::fmt::Display) -> ApiError {
    ApiError::NotFound(what.to_string())
}

fn cluster<'a>(s: &'a mut SimState, name: &str) -> ApiResult<&'a mut SimCluster> {
    s.clusters
        .get_mut(name)
        .ok_or_else(|| not_found(format!("No cluster found for name: {name}.")))
}

fn account_of(s: &SimState, spec_account: Option<&str>) -> String {
    spec_account
        .map(str::to_string)
        .unwrap_or_else(|| s.account.clone())
}

fn arn(c: &LiveCluster, kind: &str, rest: &str) -> String {
    // arn:aws:eks:REGION:ACCOUNT:cluster/NAME → reuse region and account.
    let mut parts = c.arn.splitn(6, ':');
    let (_, _, _, region, account) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    );
    format!(
        "arn:aws:eks:{}:{}:{kind}/{}/{rest}",
        region.unwrap_or_default(),
        account.unwrap_or_default(),
        c.name
    )
}

#[async_trait]
impl EksApi for Sim {
    async fn list_clusters(&self) -> ApiResult<Vec<String>> {
        self.with("ListClusters", false, |s| {
            Ok(s.clusters.keys().cloned().collect())
        })
    }

    async fn describe_cluster(&self, name: &str) -> ApiResult<LiveCluster> {
        self.with("DescribeCluster", false, |s| {
            Ok(cluster(s, name)?.live.clone())
        })
    }

    async fn create_cluster(&self, req: &CreateCluster) -> ApiResult<LiveCluster> {
        self.write("CreateCluster", &req.name, |s| {
            let key = format!("cluster/{}", req.name);
            if replay(s, &req.client_request_token, &key)? {
                return Ok(cluster(s, &req.name)?.live.clone());
            }
            if s.clusters.contains_key(&req.name) {
                return Err(ApiError::ResourceInUse(format!("Cluster already exists with name: {}", req.name)));
            }
            let spec = &req.spec;
            check_version(s, &spec.version)?;
            if let Some(am) = &spec.auto_mode {
                check_auto_mode(am, spec.access.as_ref())?;
            }
            let account = account_of(s, spec.account.as_deref());
            let id = s.id();
            let mut vpc = spec.vpc.clone();
            if vpc.endpoint_public_access && vpc.public_access_cidrs.is_empty() {
                vpc.public_access_cidrs = vec!["0.0.0.0/0".into()];
            }
            let mut live = LiveCluster {
                name: req.name.clone(),
                region: spec.region.clone(),
                arn: format!("arn:aws:eks:{}:{account}:cluster/{}", spec.region, req.name),
                status: Status::Creating,
                version: spec.version.clone(),
                platform_version: "eks.1".into(),
                endpoint: format!("https://{}.gr7.{}.eks.amazonaws.com", id.replace('-', "").to_uppercase(), spec.region),
                certificate_authority: "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCnNpbXVsYXRlZAotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==".into(),
                role_arn: spec.role_arn.clone(),
                vpc,
                kubernetes_network: Some(spec.kubernetes_network.clone().unwrap_or(KubernetesNetwork {
                    service_ipv4_cidr: Some("172.20.0.0/16".into()),
                    ip_family: Some(IpFamily::Ipv4),
                })),
                auto_mode: spec.auto_mode.clone(),
                logging: spec.logging.clone(),
                access: Some(spec.access.clone().unwrap_or(AccessConfig {
                    authentication_mode: AuthenticationMode::ConfigMap,
                    bootstrap_cluster_creator_admin_permissions: None,
                })),
                upgrade_policy: Some(spec.upgrade_policy.clone().unwrap_or(UpgradePolicy {
                    support_type: SupportType::Extended,
                })),
                deletion_protection: spec.deletion_protection,
                secrets_kms_key_arn: spec.secrets_kms_key_arn.clone(),
                settings: ClusterSettings::of(spec),
                tags: req.tags.clone(),
            };
            fields::created_fields(&mut live, spec);
            let mut c = SimCluster {
                live: live.clone(),
                ready_at: Some(s.now + d::CLUSTER_CREATE),
                updates: Vec::new(),
                addons: BTreeMap::new(),
                node_groups: BTreeMap::new(),
                fargate_profiles: BTreeMap::new(),
                access_entries: BTreeMap::new(),
                pod_identities: BTreeMap::new(),
                kube: BTreeMap::new(),
                insights: Vec::new(),
                broken: Vec::new(),
                history: Default::default(),
            };
            // What EKS creates on its own: the creator's admin entry, and the Auto Mode
            // node role's entry. Neither carries keelson's marker.
            if uses_api(&live) {
                let creator = format!("arn:aws:iam::{account}:role/keelson-operator");
                let bootstrap = spec
                    .access
                    .as_ref()
                    .and_then(|a| a.bootstrap_cluster_creator_admin_permissions)
                    .unwrap_or(true);
                if bootstrap {
                    c.access_entries.insert(creator.clone(), default_access_entry(&live, &creator, AccessEntryType::Standard, true));
                }
                if let Some(role) = spec.auto_mode.as_ref().filter(|a| a.compute.enabled).and_then(|a| a.compute.node_role_arn.clone()) {
                    c.access_entries.insert(role.clone(), default_access_entry(&live, &role, AccessEntryType::Ec2, false));
                }
            }
            s.clusters.insert(req.name.clone(), c);
            s.tokens.insert(req.client_request_token.clone(), key);
            Ok(live)
        })
    }

    async fn delete_cluster(&self, name: &str) -> ApiResult<()> {
        self.write("DeleteCluster", name, |s| {
            let now = s.now;
            let c = cluster(s, name)?;
            if c.live.status == Status::Deleting {
                return Ok(());
            }
            if c.live.deletion_protection && c.live.status == Status::Active {
                return Err(ApiError::InvalidRequest(format!(
                    "Cluster {name} has deletion protection enabled; disable it with UpdateClusterConfig first."
                )));
            }
            if !c.node_groups.is_empty() || !c.fargate_profiles.is_empty() {
                return Err(ApiError::ResourceInUse(format!(
                    "Cluster has nodegroups or Fargate profiles attached: {name}"
                )));
            }
            require_idle(c)?;
            c.live.status = Status::Deleting;
            c.ready_at = Some(now + d::CLUSTER_DELETE);
            Ok(())
        })
    }

    async fn update_cluster_config(
        &self,
        name: &str,
        change: &ClusterConfigUpdate,
    ) -> ApiResult<Update> {
        self.write("UpdateClusterConfig", name, |s| {
            let now = s.now;
            let c = cluster(s, name)?;
            require_idle(c)?;
            fields::check_change(&c.live, change)?;
            match change {
                ClusterConfigUpdate::Access { authentication_mode } => {
                    let current = c.live.access.as_ref().map_or(AuthenticationMode::ConfigMap, |a| a.authentication_mode);
                    if auth_rank(*authentication_mode) < auth_rank(current) {
                        return Err(ApiError::InvalidParameter(format!(
                            "Unsupported authentication mode update from {current} to {authentication_mode}"
                        )));
                    }
                    if *authentication_mode == current {
                        return Err(ApiError::InvalidParameter("The cluster already has this authentication mode.".into()));
                    }
                }
                ClusterConfigUpdate::AutoMode { auto_mode } => {
                    check_auto_mode(auto_mode, c.live.access.as_ref())?;
                    if let Some(cur) = c.live.auto_mode.as_ref().filter(|a| a.compute.enabled) {
                        if auto_mode.compute.enabled && cur.compute.node_role_arn != auto_mode.compute.node_role_arn {
                            return Err(ApiError::InvalidParameter(
                                "nodeRoleArn cannot be changed while Auto Mode compute is enabled.".into(),
                            ));
                        }
                    }
                }
                ClusterConfigUpdate::Vpc { subnet_ids, .. } if subnet_ids.len() < 2 => {
                    return Err(ApiError::InvalidParameter("Provide at least two subnets in different Availability Zones.".into()));
                }
                _ => {}
            }
            let update_type = change.update_type();
            c.live.status = Status::Updating;
            let done_at = now + d::CLUSTER_CONFIG;
            let update = new_update(s, update_type, BTreeMap::new());
            let c = cluster(s, name)?;
            c.updates.push(SimUpdate {
                update: update.clone(),
                nodegroup: None,
                addon: None,
                done_at,
                change: PendingChange::Config { change: change.clone() },
            });
            Ok(update)
        })
    }

    async fn update_cluster_version(&self, name: &str, version: &str) -> ApiResult<Update> {
        self.write("UpdateClusterVersion", name, |s| {
            let now = s.now;
            let target = check_version(s, version)?;
            let c = cluster(s, name)?;
            require_idle(c)?;
            rollback::require_settled(c, now)?;
            let current: Minor = c.live.version.parse().map_err(|_| ApiError::Other("bad live version".into()))?;
            if target == current {
                return Err(ApiError::InvalidParameter(format!("Cluster {name} is already at version {version}.")));
            }
            if target < current {
                return rollback::start_rollback(s, name, current, target);
            }
            if target != current.next() {
                return Err(ApiError::InvalidParameter(format!(
                    "Unsupported Kubernetes minor version update from {current} to {target}: update one minor version at a time ({}).",
                    current.next()
                )));
            }
            if let Some((ng, v)) = c.node_groups.values().find_map(|ng| {
                let v = ng.live.spec.version.clone().unwrap_or_default();
                (minors_behind(&c.live.version, &v).unwrap_or(0) > 0).then(|| (ng.live.name.clone(), v))
            }) {
                return Err(ApiError::InvalidRequest(format!(
                    "Nodegroup {ng} is at version {v}; update managed node groups to {current} before updating the control plane."
                )));
            }
            c.live.status = Status::Updating;
            let mut params = BTreeMap::new();
            params.insert("Version".to_string(), version.to_string());
            params.insert("PlatformVersion".to_string(), "eks.1".to_string());
            let update = new_update(s, UpdateType::VersionUpdate, params);
            cluster(s, name)?.updates.push(SimUpdate {
                update: update.clone(),
                nodegroup: None,
                addon: None,
                done_at: now + d::CLUSTER_VERSION,
                change: PendingChange::Version { version: version.to_string() },
            });
            Ok(update)
        })
    }

    async fn list_updates(
        &self,
        cluster_name: &str,
        nodegroup: Option<&str>,
        addon: Option<&str>,
    ) -> ApiResult<Vec<String>> {
        self.with("ListUpdates", false, |s| {
            let c = cluster(s, cluster_name)?;
            Ok(c.updates
                .iter()
                .filter(|u| u.nodegroup.as_deref() == nodegroup && u.addon.as_deref() == addon)
                .map(|u| u.update.id.clone())
                .collect())
        })
    }

    async fn describe_update(
        &self,
        cluster_name: &str,
        id: &str,
        _nodegroup: Option<&str>,
        _addon: Option<&str>,
    ) -> ApiResult<Update> {
        self.with("DescribeUpdate", false, |s| {
            let c = cluster(s, cluster_name)?;
            c.updates
                .iter()
                .find(|u| u.update.id == id)
                .map(|u| u.update.clone())
                .ok_or_else(|| not_found(format!("No update found for ID: {id}")))
        })
    }

    async fn tag_resource(&self, arn: &str, tags: &Tags) -> ApiResult<()> {
        self.write("TagResource", cluster_of_arn(arn), |s| {
            let t = find_tags(s, arn)?;
            t.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
            Ok(())
        })
    }

    async fn untag_resource(&self, arn: &str, keys: &[String]) -> ApiResult<()> {
        self.write("UntagResource", cluster_of_arn(arn), |s| {
            let t = find_tags(s, arn)?;
            for k in keys {
                t.remove(k);
            }
            Ok(())
        })
    }

    async fn list_addons(&self, cluster_name: &str) -> ApiResult<Vec<String>> {
        self.with("ListAddons", false, |s| {
            Ok(cluster(s, cluster_name)?.addons.keys().cloned().collect())
        })
    }

    async fn describe_addon(&self, cluster_name: &str, name: &str) -> ApiResult<LiveAddon> {
        self.with("DescribeAddon", false, |s| {
            cluster(s, cluster_name)?
                .addons
                .get(name)
                .map(|a| a.live.clone())
                .ok_or_else(|| {
                    not_found(format!("No addon: {name} found in cluster: {cluster_name}"))
                })
        })
    }

    async fn create_addon(&self, req: &AddonRequest) -> ApiResult<LiveAddon> {
        self.write("CreateAddon", &req.cluster, |s| {
            let key = format!("addon/{}/{}", req.cluster, req.name);
            if replay(s, &req.client_request_token, &key)? {
                return cluster(s, &req.cluster)?
                    .addons
                    .get(&req.name)
                    .map(|a| a.live.clone())
                    .ok_or_else(|| not_found(&key));
            }
            let now = s.now;
            let c = cluster(s, &req.cluster)?;
            require_active(c)?;
            if c.addons.contains_key(&req.name) {
                return Err(ApiError::ResourceInUse(format!(
                    "Addon already exists: {}",
                    req.name
                )));
            }
            check_addon_version(&req.name, &req.version, &c.live.version)?;
            let live = LiveAddon {
                name: req.name.clone(),
                arn: arn(&c.live, "addon", &req.name),
                version: req.version.clone(),
                status: Status::Creating,
                configuration_values: req.configuration_values.clone(),
                service_account_role_arn: req.service_account_role_arn.clone(),
                pod_identity_associations: req.pod_identity_associations.clone(),
                namespace_config: req.namespace_config.clone(),
                tags: req.tags.clone(),
            };
            c.addons.insert(
                req.name.clone(),
                Timed {
                    live: live.clone(),
                    ready_at: Some(now + d::ADDON_CREATE),
                },
            );
            s.tokens.insert(req.client_request_token.clone(), key);
            Ok(live)
        })
    }

    async fn update_addon(&self, req: &AddonRequest) -> ApiResult<Update> {
        self.write("UpdateAddon", &req.cluster, |s| {
            let now = s.now;
            let c = cluster(s, &req.cluster)?;
            require_active(c)?;
            let cv = c.live.version.clone();
            let rollback_to = rollback::open_rollback(c, now);
            let a = c.addons.get_mut(&req.name).ok_or_else(|| {
                not_found(format!(
                    "No addon: {} found in cluster: {}",
                    req.name, req.cluster
                ))
            })?;
            if a.live.status != Status::Active && a.live.status != Status::Degraded {
                return Err(ApiError::ResourceInUse(format!(
                    "Addon {} is in {:?} status.",
                    req.name, a.live.status
                )));
            }
            if versions::version_key(&req.version) < versions::version_key(&a.live.version) {
                // Only to prepare a rollback: down to a version of the minor it goes back to.
                let Some(to) = rollback_to else {
                    return Err(ApiError::InvalidParameter(format!(
                        "Updating addon {} from {} to {} is a downgrade, which is not supported.",
                        req.name, a.live.version, req.version
                    )));
                };
                check_addon_version(&req.name, &req.version, &to)?;
            } else {
                check_addon_version(&req.name, &req.version, &cv)?;
            }
            a.live.status = Status::Updating;
            let mut params = BTreeMap::new();
            params.insert("AddonVersion".into(), req.version.clone());
            let update = new_update(s, UpdateType::AddonUpdate, params);
            cluster(s, &req.cluster)?.updates.push(SimUpdate {
                update: update.clone(),
                nodegroup: None,
                addon: Some(req.name.clone()),
                done_at: now + d::ADDON_UPDATE,
                change: PendingChange::Addon {
                    request: req.clone(),
                },
            });
            Ok(update)
        })
    }

    async fn delete_addon(&self, cluster_name: &str, name: &str) -> ApiResult<()> {
        self.write("DeleteAddon", cluster_name, |s| {
            let now = s.now;
            let c = cluster(s, cluster_name)?;
            let a = c.addons.get_mut(name).ok_or_else(|| {
                not_found(format!("No addon: {name} found in cluster: {cluster_name}"))
            })?;
            if a.live.status != Status::Deleting {
                a.live.status = Status::Deleting;
                a.ready_at = Some(now + d::ADDON_DELETE);
            }
            Ok(())
        })
    }

    async fn describe_addon_versions(&self, name: &str) -> ApiResult<Vec<AddonVersion>> {
        self.with("DescribeAddonVersions", false, |_| {
            Ok(catalog::versions(name))
        })
    }

    async fn list_nodegroups(&self, cluster_name: &str) -> ApiResult<Vec<String>> {
        self.with("ListNodegroups", false, |s| {
            Ok(cluster(s, cluster_name)?
                .node_groups
                .keys()
                .cloned()
                .collect())
        })
    }

    async fn describe_nodegroup(&self, cluster_name: &str, name: &str) -> ApiResult<LiveNodeGroup> {
        self.with("DescribeNodegroup", false, |s| {
            cluster(s, cluster_name)?
                .node_groups
                .get(name)
                .map(|n| n.live.clone())
                .ok_or_else(|| not_found(format!("No node group found for name: {name}.")))
        })
    }

    async fn create_nodegroup(&self, req: &CreateNodeGroup) -> ApiResult<LiveNodeGroup> {
        self.write("CreateNodegroup", &req.cluster, |s| {
            let key = format!("nodegroup/{}/{}", req.cluster, req.name);
            if replay(s, &req.client_request_token, &key)? {
                return cluster(s, &req.cluster)?.node_groups.get(&req.name).map(|n| n.live.clone()).ok_or_else(|| not_found(&key));
            }
            let now = s.now;
            let c = cluster(s, &req.cluster)?;
            require_active(c)?;
            if c.node_groups.contains_key(&req.name) {
                return Err(ApiError::ResourceInUse(format!("NodeGroup already exists with name {} and cluster name {}", req.name, req.cluster)));
            }
            let mut spec = req.spec.clone();
            let version = spec.version.clone().unwrap_or_else(|| c.live.version.clone());
            check_node_version(&c.live.version, &version)?;
            // CreateNodegroup `version`: "By default, the Kubernetes version of the cluster
            // is used, and this is the only accepted specified value."
            if version != c.live.version {
                return Err(ApiError::InvalidParameter(format!("Requested Nodegroup version {version} is invalid: a new node group takes the cluster's version {}", c.live.version)));
            }
            if let (Some(ami), Ok(v)) = (spec.ami_type, version.parse::<Minor>()) {
                if ami.is_al2() && v >= Minor::v1(33) {
                    return Err(ApiError::InvalidParameter(format!("Requested AMI type {ami} is not supported for Kubernetes version {version}")));
                }
            }
            spec.version = Some(version.clone());
            spec.release_version = Some(spec.release_version.clone().unwrap_or_else(|| release_for(&version)));
            if spec.scaling.desired_size.is_none() {
                spec.scaling.desired_size = Some(spec.scaling.min_size.max(1).min(spec.scaling.max_size));
            }
            let nodes = i64::from(spec.scaling.desired_size.unwrap_or(1));
            let role = spec.node_role_arn.clone();
            let live = LiveNodeGroup {
                name: req.name.clone(),
                arn: arn(&c.live, "nodegroup", &req.name),
                status: Status::Creating,
                spec,
            };
            if uses_api(&c.live) && !c.access_entries.contains_key(&role) {
                let e = default_access_entry(&c.live, &role, AccessEntryType::Ec2Linux, false);
                c.access_entries.insert(role, e);
            }
            c.node_groups.insert(req.name.clone(), Timed { live: live.clone(), ready_at: Some(now + d::NODEGROUP_CREATE + nodes * d::PER_NODE) });
            s.tokens.insert(req.client_request_token.clone(), key);
            Ok(live)
        })
    }

    async fn update_nodegroup_config(&self, req: &NodeGroupConfigUpdate) -> ApiResult<Update> {
        self.write("UpdateNodegroupConfig", &req.cluster, |s| {
            let now = s.now;
            let c = cluster(s, &req.cluster)?;
            let ng = c
                .node_groups
                .get_mut(&req.name)
                .ok_or_else(|| not_found(format!("No node group found for name: {}.", req.name)))?;
            if ng.live.status != Status::Active {
                return Err(ApiError::ResourceInUse(format!(
                    "Nodegroup {} is in {:?} status.",
                    req.name, ng.live.status
                )));
            }
            if let Some(sc) = req.scaling {
                if sc.min_size > sc.max_size {
                    return Err(ApiError::InvalidParameter(
                        "Minimum capacity can't be greater than max capacity".into(),
                    ));
                }
            }
            ng.live.status = Status::Updating;
            let update = new_update(s, UpdateType::ConfigUpdate, BTreeMap::new());
            cluster(s, &req.cluster)?.updates.push(SimUpdate {
                update: update.clone(),
                nodegroup: Some(req.name.clone()),
                addon: None,
                done_at: now + d::NODEGROUP_CONFIG,
                change: PendingChange::NodeGroupConfig {
                    request: req.clone(),
                },
            });
            Ok(update)
        })
    }

    async fn update_nodegroup_version(&self, req: &NodeGroupVersionUpdate) -> ApiResult<Update> {
        self.write("UpdateNodegroupVersion", &req.cluster, |s| {
            let now = s.now;
            let c = cluster(s, &req.cluster)?;
            let cp = c.live.version.clone();
            check_node_version(&cp, &req.version)?;
            let ng = c
                .node_groups
                .get_mut(&req.name)
                .ok_or_else(|| not_found(format!("No node group found for name: {}.", req.name)))?;
            if ng.live.status != Status::Active {
                return Err(ApiError::ResourceInUse(format!(
                    "Nodegroup {} is in {:?} status.",
                    req.name, ng.live.status
                )));
            }
            let nodes = i64::from(ng.live.spec.scaling.desired_size.unwrap_or(1));
            ng.live.status = Status::Updating;
            let mut params = BTreeMap::new();
            params.insert("Version".into(), req.version.clone());
            let update = new_update(s, UpdateType::NodegroupVersionUpdate, params);
            cluster(s, &req.cluster)?.updates.push(SimUpdate {
                update: update.clone(),
                nodegroup: Some(req.name.clone()),
                addon: None,
                done_at: now + d::NODEGROUP_CONFIG + nodes * d::PER_NODE,
                change: PendingChange::NodeGroupVersion {
                    request: req.clone(),
                },
            });
            Ok(update)
        })
    }

    async fn delete_nodegroup(&self, cluster_name: &str, name: &str) -> ApiResult<()> {
        self.write("DeleteNodegroup", cluster_name, |s| {
            let now = s.now;
            let c = cluster(s, cluster_name)?;
            let ng = c
                .node_groups
                .get_mut(name)
                .ok_or_else(|| not_found(format!("No node group found for name: {name}.")))?;
            if ng.live.status != Status::Deleting {
                ng.live.status = Status::Deleting;
                ng.ready_at = Some(now + d::NODEGROUP_DELETE);
            }
            Ok(())
        })
    }

    async fn list_fargate_profiles(&self, cluster_name: &str) -> ApiResult<Vec<String>> {
        self.with("ListFargateProfiles", false, |s| {
            Ok(cluster(s, cluster_name)?
                .fargate_profiles
                .keys()
                .cloned()
                .collect())
        })
    }

    async fn describe_fargate_profile(
        &self,
        cluster_name: &str,
        name: &str,
    ) -> ApiResult<LiveFargateProfile> {
        self.with("DescribeFargateProfile", false, |s| {
            cluster(s, cluster_name)?
                .fargate_profiles
                .get(name)
                .map(|f| f.live.clone())
                .ok_or_else(|| not_found(format!("No Fargate Profile found with name: {name}.")))
        })
    }

    async fn create_fargate_profile(
        &self,
        req: &CreateFargateProfile,
    ) -> ApiResult<LiveFargateProfile> {
        self.write("CreateFargateProfile", &req.cluster, |s| {
            let key = format!("fargateprofile/{}/{}", req.cluster, req.name);
            if replay(s, &req.client_request_token, &key)? {
                return cluster(s, &req.cluster)?.fargate_profiles.get(&req.name).map(|f| f.live.clone()).ok_or_else(|| not_found(&key));
            }
            let now = s.now;
            let c = cluster(s, &req.cluster)?;
            require_active(c)?;
            if c.fargate_profiles.contains_key(&req.name) {
                return Err(ApiError::ResourceInUse(format!("A Fargate Profile already exists with this name in this cluster: {}", req.name)));
            }
            if c.fargate_profiles.values().any(|f| f.live.status.is_busy()) {
                return Err(ApiError::ResourceInUse("Another Fargate profile is being created or deleted in this cluster; only one at a time.".into()));
            }
            let role = req.spec.pod_execution_role_arn.clone();
            let live = LiveFargateProfile {
                name: req.name.clone(),
                arn: arn(&c.live, "fargateprofile", &req.name),
                status: Status::Creating,
                spec: req.spec.clone(),
            };
            if uses_api(&c.live) && !c.access_entries.contains_key(&role) {
                let e = default_access_entry(&c.live, &role, AccessEntryType::FargateLinux, false);
                c.access_entries.insert(role, e);
            }
            c.fargate_profiles.insert(req.name.clone(), Timed { live: live.clone(), ready_at: Some(now + d::FARGATE) });
            s.tokens.insert(req.client_request_token.clone(), key);
            Ok(live)
        })
    }

    async fn delete_fargate_profile(&self, cluster_name: &str, name: &str) -> ApiResult<()> {
        self.write("DeleteFargateProfile", cluster_name, |s| {
            let now = s.now;
            let c = cluster(s, cluster_name)?;
            if c.fargate_profiles.values().any(|f| f.live.status.is_busy() && f.live.name != name) {
                return Err(ApiError::ResourceInUse("Another Fargate profile is being created or deleted in this cluster; only one at a time.".into()));
            }
            let f = c.fargate_profiles.get_mut(name).ok_or_else(|| not_found(format!("No Fargate Profile found with name: {name}.")))?;
            if f.live.status != Status::Deleting {
                f.live.status = Status::Deleting;
                f.ready_at = Some(now + d::FARGATE);
            }
            Ok(())
        })
    }

    async fn list_access_entries(&self, cluster_name: &str) -> ApiResult<Vec<String>> {
        self.with("ListAccessEntries", false, |s| {
            Ok(cluster(s, cluster_name)?
                .access_entries
                .keys()
                .cloned()
                .collect())
        })
    }

    async fn describe_access_entry(
        &self,
        cluster_name: &str,
        principal: &str,
    ) -> ApiResult<LiveAccessEntry> {
        self.with("DescribeAccessEntry", false, |s| {
            cluster(s, cluster_name)?
                .access_entries
                .get(principal)
                .cloned()
                .ok_or_else(|| {
                    not_found(format!(
                        "The specified principalArn could not be found: {principal}"
                    ))
                })
        })
    }

    async fn create_access_entry(&self, req: &CreateAccessEntry) -> ApiResult<()> {
        self.write("CreateAccessEntry", &req.cluster, |s| {
            access::create_entry(s, req)
        })
    }

    async fn update_access_entry(
        &self,
        cluster_name: &str,
        principal: &str,
        groups: &[String],
        username: Option<&str>,
    ) -> ApiResult<()> {
        self.write("UpdateAccessEntry", cluster_name, |s| {
            let e = cluster(s, cluster_name)?
                .access_entries
                .get_mut(principal)
                .ok_or_else(|| not_found(principal))?;
            e.spec.kubernetes_groups = groups.to_vec();
            if let Some(u) = username {
                e.spec.username = Some(u.to_string());
            }
            Ok(())
        })
    }

    async fn delete_access_entry(&self, cluster_name: &str, principal: &str) -> ApiResult<()> {
        self.write("DeleteAccessEntry", cluster_name, |s| {
            cluster(s, cluster_name)?
                .access_entries
                .remove(principal)
                .map(|_| ())
                .ok_or_else(|| not_found(principal))
        })
    }

    async fn associate_access_policy(
        &self,
        cluster_name: &str,
        principal: &str,
        policy: &AccessPolicy,
    ) -> ApiResult<()> {
        self.write("AssociateAccessPolicy", cluster_name, |s| {
            let e = cluster(s, cluster_name)?
                .access_entries
                .get_mut(principal)
                .ok_or_else(|| not_found(principal))?;
            e.spec
                .policies
                .retain(|p| p.policy_arn != policy.policy_arn);
            e.spec.policies.push(policy.clone());
            e.spec
                .policies
                .sort_by(|a, b| a.policy_arn.cmp(&b.policy_arn));
            Ok(())
        })
    }

    async fn disassociate_access_policy(
        &self,
        cluster_name: &str,
        principal: &str,
        policy_arn: &str,
    ) -> ApiResult<()> {
        self.write("DisassociateAccessPolicy", cluster_name, |s| {
            let e = cluster(s, cluster_name)?
                .access_entries
                .get_mut(principal)
                .ok_or_else(|| not_found(principal))?;
            e.spec.policies.retain(|p| p.policy_arn != policy_arn);
            Ok(())
        })
    }

    async fn list_pod_identity_associations(
        &self,
        cluster_name: &str,
    ) -> ApiResult<Vec<PodIdentitySummary>> {
        self.with("ListPodIdentityAssociations", false, |s| {
            Ok(cluster(s, cluster_name)?
                .pod_identities
                .values()
                .map(|p| PodIdentitySummary {
                    association_id: p.association_id.clone(),
                    namespace: p.spec.namespace.clone(),
                    service_account: p.spec.service_account.clone(),
                })
                .collect())
        })
    }

    async fn describe_pod_identity_association(
        &self,
        cluster_name: &str,
        id: &str,
    ) -> ApiResult<LivePodIdentity> {
        self.with("DescribePodIdentityAssociation", false, |s| {
            cluster(s, cluster_name)?
                .pod_identities
                .get(id)
                .cloned()
                .ok_or_else(|| not_found(format!("No association: {id}")))
        })
    }

    async fn create_pod_identity_association(
        &self,
        req: &CreatePodIdentity,
    ) -> ApiResult<LivePodIdentity> {
        self.write("CreatePodIdentityAssociation", &req.cluster, |s| {
            access::create_pod_identity(s, req)
        })
    }

    async fn update_pod_identity_association(
        &self,
        cluster_name: &str,
        id: &str,
        spec: &PodIdentityAssociationSpec,
    ) -> ApiResult<()> {
        self.write("UpdatePodIdentityAssociation", cluster_name, |s| {
            fields::check_session_policy(spec)?;
            let p = cluster(s, cluster_name)?
                .pod_identities
                .get_mut(id)
                .ok_or_else(|| not_found(id))?;
            p.spec.role_arn = spec.role_arn.clone();
            p.spec.target_role_arn = spec.target_role_arn.clone();
            p.spec.disable_session_tags = spec.disable_session_tags;
            p.spec.policy = fields::updated_policy(spec);
            Ok(())
        })
    }

    fn call_counts(&self) -> BTreeMap<String, u64> {
        self.calls()
    }

    async fn describe_cluster_versions(&self) -> ApiResult<Vec<ClusterVersionInfo>> {
        self.with("DescribeClusterVersions", false, |s| {
            let today = today(s);
            let available = versions::available(today);
            let default = available.iter().rev().nth(1).or(available.last()).copied();
            Ok(versions::CALENDAR
                .iter()
                .map(|e| ClusterVersionInfo {
                    version: e.version.to_string(),
                    status: match e.status(today) {
                        SupportStatus::Standard => "STANDARD_SUPPORT",
                        SupportStatus::Extended => "EXTENDED_SUPPORT",
                        SupportStatus::Unsupported | SupportStatus::Unreleased => "UNSUPPORTED",
                    }
                    .to_string(),
                    default_version: Some(e.version) == default,
                    release_date: Some(e.released.to_string()),
                    end_of_standard_support: Some(e.end_of_standard.to_string()),
                    end_of_extended_support: Some(e.end_of_extended.to_string()),
                })
                // Every version, as AWS answers with `includeAll`: the calendar needs the
                // ones past support too.
                .collect())
        })
    }

    async fn list_insights(&self, cluster_name: &str) -> ApiResult<Vec<Insight>> {
        self.with("ListInsights", false, |s| {
            Ok(cluster(s, cluster_name)?.insights.clone())
        })
    }

    async fn describe_insight(&self, cluster_name: &str, id: &str) -> ApiResult<Insight> {
        self.with("DescribeInsight", false, |s| {
            cluster(s, cluster_name)?
                .insights
                .iter()
                .find(|i| i.id == id)
                .cloned()
                .ok_or_else(|| not_found(format!("No insight found for id: {id}")))
        })
    }

    async fn cancel_update(&self, cluster_name: &str, id: &str) -> ApiResult<Update> {
        self.write("CancelUpdate", cluster_name, |s| {
            rollback::cancel(s, cluster_name, id)
        })
    }

    async fn start_insights_refresh(&self, cluster_name: &str) -> ApiResult<InsightsRefresh> {
        self.write("StartInsightsRefresh", cluster_name, |s| {
            rollback::start_refresh(s, cluster_name)
        })
    }

    async fn describe_insights_refresh(&self, cluster_name: &str) -> ApiResult<InsightsRefresh> {
        self.with("DescribeInsightsRefresh", false, |s| {
            rollback::describe_refresh(s, cluster_name)
        })
    }

    async fn delete_pod_identity_association(&self, cluster_name: &str, id: &str) -> ApiResult<()> {
        self.write("DeletePodIdentityAssociation", cluster_name, |s| {
            cluster(s, cluster_name)?
                .pod_identities
                .remove(id)
                .map(|_| ())
                .ok_or_else(|| not_found(id))
        })
    }
}

fn find_tags<'a>(s: &'a mut SimState, arn: &str) -> ApiResult<&'a mut Tags> {
    for c in s.clusters.values_mut() {
        if c.live.arn == arn {
            return Ok(&mut c.live.tags);
        }
        if let Some(a) = c.addons.values_mut().find(|a| a.live.arn == arn) {
            return Ok(&mut a.live.tags);
        }
        if let Some(n) = c.node_groups.values_mut().find(|n| n.live.arn == arn) {
            return Ok(&mut n.live.spec.tags);
        }
        if let Some(f) = c.fargate_profiles.values_mut().find(|f| f.live.arn == arn) {
            return Ok(&mut f.live.spec.tags);
        }
        if let Some(e) = c.access_entries.values_mut().find(|e| e.arn == arn) {
            return Ok(&mut e.spec.tags);
        }
        if let Some(p) = c.pod_identities.values_mut().find(|p| p.arn == arn) {
            return Ok(&mut p.spec.tags);
        }
    }
    Err(not_found(format!("Resource not found: {arn}")))
}

/// The cluster an EKS ARN belongs to, for counting writes (a malformed ARN counts under
/// itself, and its call fails as not found).
fn cluster_of_arn(arn: &str) -> &str {
    crate::adapters::arn_cluster(arn).unwrap_or(arn)
}
