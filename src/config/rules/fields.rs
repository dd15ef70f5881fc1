//! Rules on the settings of `model::kinds::fields` and the Pod Identity session policy,
//! each from the EKS API reference (botocore `eks/2017-11-01` shape named per rule).
//!
//! ```text
//!  Cluster   remoteNetworkConfig ─► remote-network-cidr
//!  NodeGroup nodeRepairConfig ─► nodegroup-repair-config; warmPoolConfig ─► nodegroup-warm-pool
//!  PodIdentityAssociation policy ─► pod-identity-policy
//! ```

use std::net::Ipv4Addr;

use super::eks::{ipv4_cidr, within};
use super::{Ctx, Rule};
use crate::config::repo::ClusterConfig;
use crate::model::limits::SERVICE_CIDR_BLOCKS;
use crate::model::*;

/// Run the rules of this file over one cluster's documents.
pub(super) fn check(c: &ClusterConfig, cx: &mut Ctx<'_>) {
    remote_network_rules(c, cx);
    node_group_rules(c, cx);
    pod_identity_rules(c, cx);
}

/// An IPv4 block as (first address, prefix length), when `s` is one.
fn block(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, prefix) = ipv4_cidr(s)?;
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    Some((Ipv4Addr::from(u32::from(addr) & mask), prefix))
}

/// Whether two blocks share an address: one lies within the other.
fn overlap((a, pa): (Ipv4Addr, u8), (b, pb): (Ipv4Addr, u8)) -> bool {
    within(a, pa, b.octets(), pb) || within(b, pb, a.octets(), pa)
}

/// `RemoteNodeNetwork.cidrs` / `RemotePodNetwork.cidrs`: "Each block must be within an
/// IPv4 RFC-1918 network range. Minimum allowed size is /32, maximum allowed size is /8
/// … cannot overlap with the range of the VPC CIDR blocks for your EKS resources, or the
/// block of the Kubernetes service IP range" (and node and pod networks may not overlap
/// each other, same shapes).
fn remote_network_rules(c: &ClusterConfig, cx: &mut Ctx<'_>) {
    let spec = &c.cluster.value.spec;
    let Some(r) = &spec.remote_network_config else {
        return;
    };
    let doc = c.cluster.doc;
    let service = spec
        .kubernetes_network
        .as_ref()
        .and_then(|k| k.service_ipv4_cidr.as_deref())
        .and_then(block);
    let mut seen: Vec<((Ipv4Addr, u8), String)> = Vec::new();
    let lists = [
        ("remoteNodeNetworks", &r.remote_node_networks),
        ("remotePodNetworks", &r.remote_pod_networks),
    ];
    for (list, nets) in lists {
        for (i, net) in nets.iter().enumerate() {
            for (j, cidr) in net.cidrs.iter().enumerate() {
                let path = format!("spec.remoteNetworkConfig.{list}[{i}].cidrs[{j}]");
                let Some(b) = block(cidr) else {
                    cx.report(
                        doc,
                        &path,
                        Rule::RemoteNetworkCidr,
                        format!(
                            "`{cidr}` is not an IPv4 CIDR block; write one such as 10.80.0.0/16"
                        ),
                    );
                    continue;
                };
                // The RFC 1918 blocks (the same the service CIDR must lie in).
                let private = SERVICE_CIDR_BLOCKS
                    .iter()
                    .any(|(base, prefix)| within(b.0, b.1, *base, *prefix));
                if b.1 < 8 || !private {
                    cx.report(doc, &path, Rule::RemoteNetworkCidr, format!("`{cidr}` must lie within an RFC 1918 range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) and be /8 or smaller; publicly routable addresses are not supported"));
                    continue;
                }
                if service.is_some_and(|s| overlap(s, b)) {
                    cx.report(doc, &path, Rule::RemoteNetworkCidr, format!("`{cidr}` overlaps the service CIDR of `kubernetesNetwork.serviceIpv4Cidr`; choose a block outside it"));
                    continue;
                }
                if let Some((_, other)) = seen.iter().find(|(o, _)| overlap(*o, b)) {
                    cx.report(doc, &path, Rule::RemoteNetworkCidr, format!("`{cidr}` overlaps `{other}`, also listed here; remote node and pod networks may not overlap"));
                    continue;
                }
                seen.push((b, cidr.clone()));
            }
        }
    }
}

fn node_group_rules(c: &ClusterConfig, cx: &mut Ctx<'_>) {
    for ng in &c.node_groups {
        let spec = &ng.value.spec;
        // `NodeRepairConfig`: "When using this, you cannot also set …" for each pair.
        if let Some(r) = &spec.node_repair_config {
            let pairs = [
                (
                    r.max_unhealthy_node_threshold_count.is_some(),
                    r.max_unhealthy_node_threshold_percentage.is_some(),
                    "maxUnhealthyNodeThreshold",
                ),
                (
                    r.max_parallel_nodes_repaired_count.is_some(),
                    r.max_parallel_nodes_repaired_percentage.is_some(),
                    "maxParallelNodesRepaired",
                ),
            ];
            for (count, pct, name) in pairs {
                if count && pct {
                    cx.report(
                        ng.doc,
                        &format!("spec.nodeRepairConfig.{name}Percentage"),
                        Rule::NodeGroupRepairConfig,
                        format!("set one of `{name}Count` and `{name}Percentage`, not both"),
                    );
                }
            }
        }
        // `WarmPoolConfig`: hibernation and reuse on scale-in are not supported for
        // Bottlerocket; no custom AMIs (EKS User Guide `warm-pools-managed-node-groups`);
        // the pool's minimum cannot exceed the prepared capacity it is part of.
        if let Some(w) = spec.warm_pool_config.as_ref().filter(|w| w.enabled) {
            let ami = spec.ami_type.map(|a| a.as_str()).unwrap_or_default();
            let bottlerocket = ami.starts_with("BOTTLEROCKET");
            if bottlerocket && w.pool_state == Some(WarmPoolState::Hibernated) {
                cx.report(
                    ng.doc,
                    "spec.warmPoolConfig.poolState",
                    Rule::NodeGroupWarmPool,
                    format!(
                        "{ami} instances cannot hibernate in a warm pool; use STOPPED or RUNNING"
                    ),
                );
            }
            if bottlerocket && w.reuse_on_scale_in == Some(true) {
                cx.report(
                    ng.doc,
                    "spec.warmPoolConfig.reuseOnScaleIn",
                    Rule::NodeGroupWarmPool,
                    format!(
                        "reuseOnScaleIn is not supported for {ami}; remove it or set it to false"
                    ),
                );
            }
            if spec.ami_type == Some(AmiType::Custom) {
                cx.report(ng.doc, "spec.warmPoolConfig", Rule::NodeGroupWarmPool, "warm pools are not supported with custom AMIs (amiType CUSTOM); use an EKS-optimized AMI type or remove warmPoolConfig");
            }
            if let (Some(min), Some(max)) = (w.min_size, w.max_group_prepared_capacity) {
                if min > max {
                    cx.report(
                        ng.doc,
                        "spec.warmPoolConfig.minSize",
                        Rule::NodeGroupWarmPool,
                        format!("minSize {min} is larger than maxGroupPreparedCapacity {max}"),
                    );
                }
            }
        }
    }
}

/// `CreatePodIdentityAssociationRequest.policy`: "An optional IAM policy in JSON format
/// … When using this policy, disableSessionTags must be set to true."
fn pod_identity_rules(c: &ClusterConfig, cx: &mut Ctx<'_>) {
    for p in &c.pod_identities {
        let spec = &p.value.spec;
        let Some(policy) = &spec.policy else {
            continue;
        };
        let parsed = match policy {
            serde_json::Value::String(s) => serde_json::from_str(s).ok(),
            v => Some(v.clone()),
        };
        if !parsed.as_ref().is_some_and(serde_json::Value::is_object) {
            cx.report(p.doc, "spec.policy", Rule::PodIdentityPolicy, "`policy` is an IAM policy document: a mapping (or its JSON text) with `Version` and `Statement`");
        }
        if !spec.disable_session_tags {
            cx.report(p.doc, "spec.policy", Rule::PodIdentityPolicy, "a session `policy` needs `disableSessionTags: true` (EKS refuses it with session tags on)");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{block, overlap};

    #[test]
    fn blocks_are_normalised_and_overlap_as_cidrs_do() {
        let b = |s| block(s).unwrap_or_else(|| panic!("{s}"));
        assert_eq!(b("10.80.1.5/16"), b("10.80.0.0/16"));
        assert!(overlap(b("10.0.0.0/8"), b("10.80.1.0/24")));
        assert!(overlap(b("10.80.1.0/24"), b("10.0.0.0/8")));
        assert!(!overlap(b("192.168.0.0/16"), b("172.16.0.0/12")));
        assert!(!overlap(b("10.80.0.0/24"), b("10.80.1.0/24")));
        assert_eq!(block("10.0.0.0/33"), None);
        assert_eq!(block("fd00::/8"), None);
    }
}
