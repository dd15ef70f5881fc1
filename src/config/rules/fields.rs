//! Rules on the settings of `model::kinds::fields` and the Pod Identity session policy,
//! each from the EKS API reference (botocore `eks/2017-11-01` shape named per rule).
//!
//! ```text
//!  Cluster   remoteNetworkConfig ─► remote-network-cidr
//!  NodeGroup nodeRepairConfig ─► nodegroup-repair-config; warmPoolConfig ─► nodegroup-warm-pool
//!  PodIdentityAssociation policy ─► pod-identity-policy
//! ```

use std::net::Ipv4Addr;

use super::{Ctx, Rule};
use crate::config::repo::ClusterConfig;
use crate::model::*;

/// Run the rules of this file over one cluster's documents.
pub(super) fn check(c: &ClusterConfig, cx: &mut Ctx<'_>) {
    remote_network_rules(c, cx);
    node_group_rules(c, cx);
    pod_identity_rules(c, cx);
}

/// An IPv4 block: its first address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    base: u32,
    prefix: u32,
}

impl Block {
    fn parse(s: &str) -> Option<Block> {
        let (addr, len) = s.split_once('/')?;
        let addr: Ipv4Addr = addr.parse().ok()?;
        let prefix: u32 = len.parse().ok().filter(|p| *p <= 32)?;
        Some(Block {
            base: u32::from(addr) & Block::mask(prefix),
            prefix,
        })
    }

    fn mask(prefix: u32) -> u32 {
        u32::MAX.checked_shl(32 - prefix).unwrap_or(0)
    }

    fn contains(self, other: Block) -> bool {
        other.prefix >= self.prefix && other.base & Block::mask(self.prefix) == self.base
    }

    fn overlaps(self, other: Block) -> bool {
        self.contains(other) || other.contains(self)
    }
}

/// The RFC 1918 private ranges.
const RFC1918: [(u32, u32); 3] = [
    (0x0A00_0000, 8),  // 10.0.0.0/8
    (0xAC10_0000, 12), // 172.16.0.0/12
    (0xC0A8_0000, 16), // 192.168.0.0/16
];

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
        .and_then(Block::parse);
    let mut seen: Vec<(Block, String)> = Vec::new();
    let lists = [
        ("remoteNodeNetworks", &r.remote_node_networks),
        ("remotePodNetworks", &r.remote_pod_networks),
    ];
    for (list, nets) in lists {
        for (i, net) in nets.iter().enumerate() {
            for (j, cidr) in net.cidrs.iter().enumerate() {
                let path = format!("spec.remoteNetworkConfig.{list}[{i}].cidrs[{j}]");
                let Some(b) = Block::parse(cidr) else {
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
                let private = RFC1918.iter().any(|(base, prefix)| {
                    Block {
                        base: *base,
                        prefix: *prefix,
                    }
                    .contains(b)
                });
                if b.prefix < 8 || !private {
                    cx.report(doc, &path, Rule::RemoteNetworkCidr, format!("`{cidr}` must lie within an RFC 1918 range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) and be /8 or smaller; publicly routable addresses are not supported"));
                    continue;
                }
                if service.is_some_and(|s| s.overlaps(b)) {
                    cx.report(doc, &path, Rule::RemoteNetworkCidr, format!("`{cidr}` overlaps the service CIDR of `kubernetesNetwork.serviceIpv4Cidr`; choose a block outside it"));
                    continue;
                }
                if let Some((_, other)) = seen.iter().find(|(o, _)| o.overlaps(b)) {
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
    use super::Block;

    #[test]
    fn blocks_parse_and_overlap_as_cidrs_do() {
        let b = |s| Block::parse(s).unwrap_or_else(|| panic!("{s}"));
        assert!(b("10.0.0.0/8").contains(b("10.80.1.0/24")));
        assert!(!b("10.80.1.0/24").contains(b("10.0.0.0/8")));
        assert!(b("10.80.1.0/24").overlaps(b("10.0.0.0/8")));
        assert!(!b("192.168.0.0/16").overlaps(b("172.16.0.0/12")));
        assert_eq!(b("10.1.2.3/0").prefix, 0);
        assert_eq!(
            b("10.1.2.3/32").base,
            u32::from(std::net::Ipv4Addr::new(10, 1, 2, 3))
        );
        assert_eq!(Block::parse("10.0.0.0/33"), None);
        assert_eq!(Block::parse("10.0.0/8"), None);
        assert_eq!(Block::parse("fd00::/8"), None);
    }
}
