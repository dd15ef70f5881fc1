//! The simulator's add-on catalog: which versions of which EKS add-ons run on which
//! Kubernetes minors. The shape is DescribeAddonVersions'; the rows are representative of
//! the real catalog (per-minor kube-proxy builds, add-ons that lag new Kubernetes
//! releases), not a copy of it.

use crate::model::live::{AddonVersion, Compatibility};
use crate::versions::version_key;

/// (add-on, version, oldest minor, newest minor)
const ROWS: &[(&str, &str, u32, u32)] = &[
    ("vpc-cni", "v1.18.6-eksbuild.1", 25, 31),
    ("vpc-cni", "v1.19.5-eksbuild.3", 27, 34),
    ("vpc-cni", "v1.19.6-eksbuild.1", 27, 34),
    ("vpc-cni", "v1.20.4-eksbuild.2", 30, 36),
    ("coredns", "v1.10.1-eksbuild.18", 25, 29),
    ("coredns", "v1.11.4-eksbuild.14", 28, 34),
    ("coredns", "v1.12.3-eksbuild.1", 32, 36),
    ("aws-ebs-csi-driver", "v1.37.0-eksbuild.1", 25, 34),
    ("aws-ebs-csi-driver", "v1.44.0-eksbuild.1", 28, 35),
    ("aws-ebs-csi-driver", "v1.45.0-eksbuild.2", 28, 36),
    ("aws-efs-csi-driver", "v2.1.4-eksbuild.1", 25, 34),
    ("aws-efs-csi-driver", "v2.1.9-eksbuild.1", 28, 36),
    ("aws-fsx-csi-driver", "v1.3.0-eksbuild.1", 27, 34),
    ("aws-fsx-csi-driver", "v1.5.0-eksbuild.1", 29, 35),
    ("aws-mountpoint-s3-csi-driver", "v1.14.1-eksbuild.1", 28, 34),
    ("aws-mountpoint-s3-csi-driver", "v1.15.0-eksbuild.1", 28, 34),
    ("aws-mountpoint-s3-csi-driver", "v2.0.0-eksbuild.1", 30, 36),
    ("eks-pod-identity-agent", "v1.3.4-eksbuild.1", 25, 33),
    ("eks-pod-identity-agent", "v1.3.8-eksbuild.2", 28, 36),
    (
        "amazon-cloudwatch-observability",
        "v3.6.0-eksbuild.1",
        25,
        34,
    ),
    (
        "amazon-cloudwatch-observability",
        "v4.1.0-eksbuild.1",
        29,
        35,
    ),
    (
        "amazon-cloudwatch-observability",
        "v4.2.0-eksbuild.1",
        29,
        36,
    ),
    ("eks-node-monitoring-agent", "v1.2.0-eksbuild.1", 28, 34),
    ("eks-node-monitoring-agent", "v1.4.0-eksbuild.2", 30, 36),
    ("snapshot-controller", "v8.1.0-eksbuild.2", 25, 34),
    ("snapshot-controller", "v8.2.0-eksbuild.1", 29, 36),
    ("aws-guardduty-agent", "v1.9.0-eksbuild.2", 25, 34),
    ("aws-guardduty-agent", "v1.10.0-eksbuild.2", 29, 36),
    ("adot", "v0.109.0-eksbuild.2", 25, 33),
    ("adot", "v0.117.0-eksbuild.1", 29, 35),
    (
        "aws-network-flow-monitoring-agent",
        "v1.0.2-eksbuild.1",
        30,
        36,
    ),
    (
        "aws-privateca-connector-for-kubernetes",
        "v1.6.0-eksbuild.1",
        28,
        35,
    ),
    // Community add-ons.
    ("metrics-server", "v0.7.2-eksbuild.3", 25, 34),
    ("metrics-server", "v0.8.0-eksbuild.1", 29, 36),
    ("cert-manager", "v1.17.2-eksbuild.1", 28, 35),
    ("cert-manager", "v1.18.2-eksbuild.2", 30, 36),
    ("external-dns", "v0.18.0-eksbuild.1", 29, 36),
];

/// Every add-on name the catalog knows.
pub fn names() -> Vec<&'static str> {
    let mut n: Vec<&str> = ROWS.iter().map(|r| r.0).collect();
    n.push("kube-proxy");
    n.sort_unstable();
    n.dedup();
    n
}

/// The versions of one add-on, newest first, each with its compatibilities. For every
/// cluster minor the default is the second-newest compatible version when there are two
/// (EKS's default trails its latest), else the only one.
pub fn versions(addon: &str) -> Vec<AddonVersion> {
    let mut rows: Vec<(String, u32, u32)> = if addon == "kube-proxy" {
        // kube-proxy is built per Kubernetes minor.
        (25..=36)
            .flat_map(|m| {
                [
                    (format!("v1.{m}.0-eksbuild.1"), m, m),
                    (format!("v1.{m}.5-eksbuild.2"), m, m),
                ]
            })
            .collect()
    } else {
        ROWS.iter()
            .filter(|r| r.0 == addon)
            .map(|r| (r.1.to_string(), r.2, r.3))
            .collect()
    };
    rows.sort_by_key(|r| std::cmp::Reverse(version_key(&r.0)));
    rows.iter()
        .map(|(v, lo, hi)| AddonVersion {
            version: v.clone(),
            compatibilities: (*lo..=*hi)
                .map(|m| {
                    let compatible: Vec<&String> = rows
                        .iter()
                        .filter(|(_, l, h)| (*l..=*h).contains(&m))
                        .map(|(v, _, _)| v)
                        .collect();
                    let default = compatible.get(1).or(compatible.first()).copied();
                    Compatibility {
                        cluster_version: format!("1.{m}"),
                        default_version: default == Some(v),
                    }
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_minor_of_an_addon_has_exactly_one_default() {
        for name in names() {
            let vs = versions(name);
            for m in 25..=36 {
                let cv = format!("1.{m}");
                let defaults = vs
                    .iter()
                    .flat_map(|v| &v.compatibilities)
                    .filter(|c| c.cluster_version == cv && c.default_version)
                    .count();
                let any = vs
                    .iter()
                    .flat_map(|v| &v.compatibilities)
                    .any(|c| c.cluster_version == cv);
                assert_eq!(defaults, usize::from(any), "{name} {cv}");
            }
        }
    }

    #[test]
    fn the_catalog_lists_the_newest_version_first() {
        assert_eq!(versions("kube-proxy")[0].version, "v1.36.5-eksbuild.2");
    }
}
