//! Live state → keelson documents: what a person would write to describe a cluster that
//! already runs.
//!
//! ```text
//!  ObservedCluster ─► Cluster (EKS defaults left out) ─► Addon (version pinned as live)
//!                  ─► NodeGroup (no desired size, no release) ─► FargateProfile
//!                  ─► AccessEntry (not the ones EKS creates) ─► PodIdentityAssociation
//!  kube objects ────► NodeClass, NodePool, classes, bootstrap/ (kube.rs)
//! ```
//!
//! Every value left out is one the planner does not compare when git leaves it out (it
//! takes the live value), so `keelson plan` on the result shows no changes.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{credential_like, doc_name, entry_name, Doc, ImportedCluster};
use crate::model::live::*;
use crate::model::*;

pub use crate::model::live::ADOPT_ANNOTATION;

/// Service CIDRs EKS picks by itself when none is given (EKS API reference,
/// `KubernetesNetworkConfigRequest.serviceIpv4Cidr`: "10.100.0.0/16 or 172.20.0.0/16").
const DEFAULT_SERVICE_CIDRS: &[&str] = &["10.100.0.0/16", "172.20.0.0/16"];

/// The namespace EKS installs add-ons in when none is asked for.
const DEFAULT_ADDON_NAMESPACE: &str = "kube-system";

/// The root volume size EKS gives a node group without a launch template
/// (`CreateNodegroupRequest.diskSize`: "defaults to 20 GiB for Linux and Bottlerocket").
const DEFAULT_DISK_SIZE: u32 = 20;

/// The policy EKS associates with the cluster creator's access entry.
const CLUSTER_ADMIN_POLICY: &str =
    "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct LiveImport {
    /// The stage the clusters go to.
    pub stage: String,
    /// The account to write into `spec.account` (clusters of another account).
    pub account: Option<String>,
    /// Annotate the Cluster so that the next apply adopts its resources.
    pub adopt: bool,
}

/// Tags a person writes: without AWS's, keelson's marker and upgrade records.
pub(crate) fn user_tags(t: &Tags) -> Tags {
    t.iter()
        .filter(|(k, _)| {
            !k.starts_with("aws:")
                && k.as_str() != MANAGED_TAG
                && !crate::plan::upgrade::is_upgrade_tag(k)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The documents of one live cluster. `kube` holds the Kubernetes objects listed in the
/// cluster: NodePools, NodeClasses and classes (any label), and the objects carrying
/// keelson's bootstrap label; what EKS or another tool made is left out (`kube.rs`).
pub fn import_cluster(o: &ObservedCluster, kube: &[Value], opts: &LiveImport) -> ImportedCluster {
    let mut out = ImportedCluster {
        name: o.cluster.name.clone(),
        ..ImportedCluster::default()
    };
    out.docs.push(cluster_doc(&o.cluster, opts));
    addons(o, &mut out);
    node_groups(o, &mut out);
    for (n, f) in &o.fargate_profiles {
        if f.status == Status::Deleting {
            continue;
        }
        let mut spec = f.spec.clone();
        spec.tags = user_tags(&spec.tags);
        out.docs.push(Doc::new(Kind::FargateProfile, n, &spec));
    }
    access_entries(o, &mut out);
    pod_identities(o, &mut out);
    super::kube::kube_objects(o, kube, &mut out);
    out
}

fn cluster_doc(l: &LiveCluster, opts: &LiveImport) -> Doc {
    let mut vpc = l.vpc.clone();
    if vpc.endpoint_public_access && vpc.public_access_cidrs == ["0.0.0.0/0"] {
        vpc.public_access_cidrs.clear();
    }
    if vpc.control_plane_egress_mode == Some(ControlPlaneEgressMode::AwsManaged) {
        vpc.control_plane_egress_mode = None;
    }
    let kubernetes_network = l.kubernetes_network.clone().filter(|n| {
        n.ip_family == Some(IpFamily::Ipv6)
            || n.service_ipv4_cidr
                .as_deref()
                .is_some_and(|c| !DEFAULT_SERVICE_CIDRS.contains(&c))
    });
    let auto_mode = l
        .auto_mode
        .clone()
        .filter(|a| a.compute.enabled || a.block_storage.enabled || a.load_balancing.enabled);
    let settings = &l.settings;
    let spec = ClusterSpec {
        region: l.region.clone(),
        version: l.version.clone(),
        stage: opts.stage.clone(),
        account: opts.account.clone(),
        operator_role_arn: None,
        role_arn: l.role_arn.clone(),
        vpc,
        kubernetes_network,
        auto_mode,
        logging: l.logging.clone(),
        // CONFIG_MAP is what a cluster without access settings has.
        access: l
            .access
            .as_ref()
            .filter(|a| a.authentication_mode != AuthenticationMode::ConfigMap)
            .map(|a| AccessConfig {
                authentication_mode: a.authentication_mode,
                bootstrap_cluster_creator_admin_permissions: None,
            }),
        // EXTENDED is EKS's default support type (EKS User Guide, `extended-support-control`).
        upgrade_policy: l
            .upgrade_policy
            .clone()
            .filter(|u| u.support_type != SupportType::Extended),
        deletion_protection: l.deletion_protection,
        secrets_kms_key_arn: l.secrets_kms_key_arn.clone(),
        remote_network_config: settings
            .remote_network_config
            .clone()
            .filter(|r| !r.remote_node_networks.is_empty() || !r.remote_pod_networks.is_empty()),
        zonal_shift_config: settings.zonal_shift_config.filter(|z| z.enabled),
        control_plane_scaling_config: settings
            .control_plane_scaling_config
            .filter(|c| c.tier != ControlPlaneTier::Standard),
        outpost_config: settings.outpost_config.clone(),
        bootstrap_self_managed_addons: None,
        tags: user_tags(&l.tags),
    };
    let mut meta = Metadata {
        name: l.name.clone(),
        ..Metadata::default()
    };
    if opts.adopt {
        meta.annotations
            .insert(ADOPT_ANNOTATION.to_string(), "true".to_string());
    }
    let mut doc = Doc::with_meta(Kind::Cluster, meta, &spec);
    doc.comments.push(format!(
        "Imported from the live cluster {} ({}).",
        l.name, l.region
    ));
    doc
}

fn addons(o: &ObservedCluster, out: &mut ImportedCluster) {
    for (n, a) in &o.addons {
        if a.status == Status::Deleting {
            continue;
        }
        let spec = AddonSpec {
            version: a.version.clone(),
            configuration_values: a.configuration_values.clone(),
            service_account_role_arn: a.service_account_role_arn.clone(),
            pod_identity_associations: a.pod_identity_associations.clone(),
            resolve_conflicts: None,
            namespace_config: a
                .namespace_config
                .clone()
                .filter(|c| c.namespace != DEFAULT_ADDON_NAMESPACE),
            tags: user_tags(&a.tags),
        };
        let mut doc = Doc::new(Kind::Addon, n, &spec);
        doc.field_comments.push((
            "version".into(),
            "as installed; `default` follows EKS's default for the cluster's version".into(),
        ));
        if let Some(cfg) = &a.configuration_values {
            let mut found = Vec::new();
            credential_like(cfg, "configurationValues", &mut found);
            for f in found {
                doc.comments
                    .push(format!("CHECK: {f}; keep credentials out of git"));
                out.notes.push(format!(
                    "cluster {}: Addon {n}: {f}; it was written as it is: move it to a secret store before you commit",
                    o.cluster.name
                ));
            }
        }
        out.docs.push(doc);
    }
}

fn node_groups(o: &ObservedCluster, out: &mut ImportedCluster) {
    for (n, g) in &o.node_groups {
        if g.status == Status::Deleting {
            continue;
        }
        let mut spec = g.spec.clone();
        if spec.version.as_deref() == Some(o.cluster.version.as_str()) {
            spec.version = None;
        }
        // The AMI release and the node count are EKS's and the autoscaler's.
        spec.release_version = None;
        spec.scaling.desired_size = None;
        if spec.launch_template.is_none() && spec.disk_size == Some(DEFAULT_DISK_SIZE) {
            spec.disk_size = None;
        }
        if let Some(lt) = spec.launch_template.as_mut() {
            // A launch template is named by id or by name, not both (rule
            // nodegroup-launch-template); EKS reports both.
            if lt.id.is_some() && lt.name.is_some() {
                lt.name = None;
            }
        }
        spec.update_config = spec.update_config.filter(|u| {
            !(u.max_unavailable == Some(1)
                && u.max_unavailable_percentage.is_none()
                && u.update_strategy
                    .is_none_or(|s| s == NodeGroupUpdateStrategy::Default))
        });
        spec.node_repair_config = spec.node_repair_config.filter(|r| {
            r.enabled
                || r.max_unhealthy_node_threshold_count.is_some()
                || r.max_unhealthy_node_threshold_percentage.is_some()
                || r.max_parallel_nodes_repaired_count.is_some()
                || r.max_parallel_nodes_repaired_percentage.is_some()
                || !r.node_repair_config_overrides.is_empty()
        });
        spec.tags = user_tags(&spec.tags);
        out.docs.push(Doc::new(Kind::NodeGroup, n, &spec));
    }
}

/// The principals EKS gives access entries of its own: node roles of node groups and
/// Auto Mode, and Fargate pod execution roles.
fn node_principals(o: &ObservedCluster) -> BTreeSet<&str> {
    let mut p: BTreeSet<&str> = o
        .node_groups
        .values()
        .map(|g| g.spec.node_role_arn.as_str())
        .collect();
    p.extend(
        o.fargate_profiles
            .values()
            .map(|f| f.spec.pod_execution_role_arn.as_str()),
    );
    if let Some(r) = o
        .cluster
        .auto_mode
        .as_ref()
        .and_then(|a| a.compute.node_role_arn.as_deref())
    {
        p.insert(r);
    }
    p
}

fn access_entries(o: &ObservedCluster, out: &mut ImportedCluster) {
    let nodes = node_principals(o);
    let mut names = BTreeSet::new();
    for (p, e) in &o.access_entries {
        let s = &e.spec;
        let marked = s.tags.contains_key(MANAGED_TAG);
        if !marked && s.entry_type != AccessEntryType::Standard && nodes.contains(p.as_str()) {
            // EKS made it when the node group, Fargate profile or Auto Mode was created.
            continue;
        }
        let creator_like = !marked
            && s.entry_type == AccessEntryType::Standard
            && s.kubernetes_groups.is_empty()
            && user_tags(&s.tags).is_empty()
            && s.policies.len() == 1
            && s.policies[0].policy_arn == CLUSTER_ADMIN_POLICY
            && s.policies[0].access_scope.scope_type == AccessScopeType::Cluster;
        if creator_like {
            out.notes.push(format!(
                "cluster {}: left out the access entry of {p}: it looks like the one EKS creates for whoever created the cluster (cluster admin, no groups, no tags); add an AccessEntry for it if you made it yourself",
                o.cluster.name
            ));
            continue;
        }
        let mut spec = s.clone();
        spec.tags = user_tags(&spec.tags);
        if spec.entry_type != AccessEntryType::Standard {
            spec.kubernetes_groups.clear();
            spec.username = None;
        } else if spec
            .username
            .as_deref()
            .is_some_and(|u| u.starts_with("arn:"))
        {
            // The user name EKS derives from the principal when none was given.
            spec.username = None;
        }
        let name = entry_name(&mut names, p);
        out.docs.push(Doc::new(Kind::AccessEntry, &name, &spec));
    }
}

fn pod_identities(o: &ObservedCluster, out: &mut ImportedCluster) {
    // Associations an add-on made are declared on the add-on.
    let by_addon: BTreeSet<(&str, &str)> = o
        .addons
        .values()
        .flat_map(|a| {
            a.pod_identity_associations
                .iter()
                .map(|p| (p.service_account.as_str(), p.role_arn.as_str()))
        })
        .collect();
    for p in o.pod_identities.values() {
        let s = &p.spec;
        if by_addon.contains(&(s.service_account.as_str(), s.role_arn.as_str())) {
            continue;
        }
        let mut spec = s.clone();
        spec.tags = user_tags(&spec.tags);
        let name = doc_name(&format!("{}-{}", s.namespace, s.service_account));
        out.docs
            .push(Doc::new(Kind::PodIdentityAssociation, &name, &spec));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn observed() -> ObservedCluster {
        let cluster: LiveCluster = serde_json::from_value(json!({
            "name": "c1", "region": "eu-west-1", "arn": "arn:aws:eks:eu-west-1:111122223333:cluster/c1",
            "status": "ACTIVE", "version": "1.34", "platformVersion": "eks.9",
            "roleArn": "arn:aws:iam::111122223333:role/cluster",
            "vpc": {"subnetIds": ["subnet-00000001", "subnet-00000002"], "endpointPublicAccess": true,
                    "endpointPrivateAccess": false, "publicAccessCidrs": ["0.0.0.0/0"],
                    "controlPlaneEgressMode": "AWS_MANAGED"},
            "kubernetesNetwork": {"serviceIpv4Cidr": "172.20.0.0/16", "ipFamily": "ipv4"},
            "access": {"authenticationMode": "API"},
            "upgradePolicy": {"supportType": "EXTENDED"},
            "controlPlaneScalingConfig": {"tier": "standard"},
            "tags": {"team": "web", "aws:cloudformation:stack-name": "x", "keelson.dev/fleet": "f",
                     "keelson.dev/upgraded-1.33-1.34": "t=1"}
        }))
        .unwrap();
        serde_json::from_value(json!({
            "cluster": cluster,
            "addons": {"vpc-cni": {"name": "vpc-cni", "version": "v1.20.4-eksbuild.2", "status": "ACTIVE",
                "configurationValues": {"env": {"API_TOKEN": "abc"}},
                "namespaceConfig": {"namespace": "kube-system"}}},
            "nodeGroups": {"general": {"name": "general", "status": "ACTIVE", "spec": {
                "nodeRoleArn": "arn:aws:iam::111122223333:role/node", "subnetIds": ["subnet-00000001"],
                "scaling": {"minSize": 1, "maxSize": 3, "desiredSize": 2}, "version": "1.34",
                "releaseVersion": "1.34.1-20251101", "diskSize": 20,
                "updateConfig": {"maxUnavailable": 1}}}},
            "accessEntries": {
                "arn:aws:iam::111122223333:role/node": {"spec": {"principalArn": "arn:aws:iam::111122223333:role/node", "type": "EC2_LINUX", "username": "system:node:{{EC2PrivateDNSName}}"}},
                "arn:aws:iam::111122223333:role/creator": {"spec": {"principalArn": "arn:aws:iam::111122223333:role/creator",
                    "username": "arn:aws:sts::111122223333:assumed-role/creator/{{SessionName}}",
                    "policies": [{"policyArn": CLUSTER_ADMIN_POLICY, "accessScope": {"type": "cluster"}}]}},
                "arn:aws:iam::111122223333:role/dev": {"spec": {"principalArn": "arn:aws:iam::111122223333:role/dev",
                    "kubernetesGroups": ["devs"], "username": "arn:aws:sts::111122223333:assumed-role/dev/{{SessionName}}"}}
            }
        }))
        .unwrap()
    }

    #[test]
    fn what_aws_manages_and_eks_defaults_are_left_out() {
        let o = observed();
        let out = import_cluster(
            &o,
            &[],
            &LiveImport {
                stage: "prod".into(),
                ..LiveImport::default()
            },
        );
        let spec = &out.docs[0].value["spec"];
        assert_eq!(spec["version"], "1.34");
        assert_eq!(spec["tags"], json!({"team": "web"}));
        assert_eq!(
            spec["vpc"],
            json!({"subnetIds": ["subnet-00000001", "subnet-00000002"], "endpointPublicAccess": true, "endpointPrivateAccess": false})
        );
        for absent in [
            "kubernetesNetwork",
            "upgradePolicy",
            "controlPlaneScalingConfig",
            "arn",
            "platformVersion",
            "status",
        ] {
            assert!(spec.get(absent).is_none(), "{absent}: {spec}");
        }
        assert_eq!(spec["access"], json!({"authenticationMode": "API"}));
        let ng = out.docs.iter().find(|d| d.kind == Kind::NodeGroup).unwrap();
        assert_eq!(
            ng.value["spec"]["scaling"],
            json!({"minSize": 1, "maxSize": 3})
        );
        for absent in ["version", "releaseVersion", "diskSize", "updateConfig"] {
            assert!(
                ng.value["spec"].get(absent).is_none(),
                "{absent}: {}",
                ng.value
            );
        }
        let addon = out.docs.iter().find(|d| d.kind == Kind::Addon).unwrap();
        assert_eq!(addon.value["spec"]["version"], "v1.20.4-eksbuild.2");
        assert!(addon.value["spec"].get("namespaceConfig").is_none());
        assert!(
            addon
                .comments
                .iter()
                .any(|c| c.contains("configurationValues.env.API_TOKEN")),
            "{:?}",
            addon.comments
        );
    }

    #[test]
    fn the_access_entries_eks_creates_are_left_out_and_default_usernames_dropped() {
        let out = import_cluster(&observed(), &[], &LiveImport::default());
        let entries: Vec<&Doc> = out
            .docs
            .iter()
            .filter(|d| d.kind == Kind::AccessEntry)
            .collect();
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(entries[0].name(), "dev");
        assert!(entries[0].value["spec"].get("username").is_none());
        assert!(
            out.notes.iter().any(|n| n.contains("role/creator")),
            "{:?}",
            out.notes
        );
    }

    #[test]
    fn builtin_node_pools_are_left_out_and_adoption_annotates_the_cluster() {
        let mut o = observed();
        o.cluster.auto_mode = serde_json::from_value(json!({
            "compute": {"enabled": true, "nodePools": ["system"], "nodeRoleArn": "arn:aws:iam::111122223333:role/auto"},
            "blockStorage": {"enabled": true}, "loadBalancing": {"enabled": true}})).unwrap();
        let pool = |name: &str, label: Option<&str>| {
            let mut p = json!({"apiVersion": KARPENTER_API, "kind": "NodePool", "metadata": {"name": name},
                "spec": {"template": {"spec": {"nodeClassRef": {"group": "eks.amazonaws.com", "kind": "NodeClass", "name": "default"}, "requirements": []}}}});
            if let Some(l) = label {
                p["metadata"]["labels"] = json!({MANAGED_LABEL: l});
            }
            p
        };
        let kube = [
            pool("system", None),
            pool("eks-made", Some("eks")),
            pool("mine", None),
        ];
        let out = import_cluster(
            &o,
            &kube,
            &LiveImport {
                adopt: true,
                ..LiveImport::default()
            },
        );
        let pools: Vec<&str> = out
            .docs
            .iter()
            .filter(|d| d.kind == Kind::NodePool)
            .map(Doc::name)
            .collect();
        assert_eq!(pools, vec!["mine"]);
        assert_eq!(
            out.docs[0].value["metadata"]["annotations"][ADOPT_ANNOTATION],
            "true"
        );
    }
}
