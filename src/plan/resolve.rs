//! Add-on version resolution: what `latest`, `default` or an exact version stands for on
//! a cluster minor, read from the EKS add-on catalog (DescribeAddonVersions).
//!
//! ```text
//!  spec.version ("latest" | "default" | "v1.19.2-eksbuild.1") + cluster minor
//!      └─► resolve_addon_version(catalog) ─► exact version, or why none fits
//! ```

use crate::model::live::AddonVersion;
use crate::versions::version_key;

/// The add-on version `want` (a keyword or exact) stands for on cluster minor `cv`.
pub fn resolve_addon_version(
    versions: &[AddonVersion],
    want: &str,
    cv: &str,
) -> Result<String, String> {
    let compatible: Vec<&AddonVersion> = versions
        .iter()
        .filter(|v| v.compatibilities.iter().any(|c| c.cluster_version == cv))
        .collect();
    if compatible.is_empty() {
        return Err(format!(
            "no version of this add-on supports Kubernetes {cv}"
        ));
    }
    match want {
        "latest" => compatible
            .iter()
            .max_by(|a, b| version_key(&a.version).cmp(&version_key(&b.version)))
            .map(|v| v.version.clone())
            .ok_or_else(|| "no compatible version".into()),
        "default" => compatible
            .iter()
            .find(|v| {
                v.compatibilities
                    .iter()
                    .any(|c| c.cluster_version == cv && c.default_version)
            })
            .or_else(|| compatible.first())
            .map(|v| v.version.clone())
            .ok_or_else(|| "no compatible version".into()),
        exact => {
            if compatible.iter().any(|v| v.version == exact) {
                Ok(exact.to_string())
            } else {
                let mut list: Vec<&str> = compatible.iter().map(|v| v.version.as_str()).collect();
                list.sort_by_key(|v| std::cmp::Reverse(version_key(v)));
                Err(format!(
                    "version {exact} does not support Kubernetes {cv}; versions that do: {}",
                    list.join(", ")
                ))
            }
        }
    }
}

/// Whether `version` of an add-on supports cluster minor `cv`.
pub(crate) fn compatible_with(versions: &[AddonVersion], version: &str, cv: &str) -> bool {
    versions
        .iter()
        .any(|v| v.version == version && v.compatibilities.iter().any(|c| c.cluster_version == cv))
}

/// During a hop an exact add-on version may be too old; move to the newest compatible
/// one and let the final diff settle the requested version.
pub(crate) fn hop_version_request(want: &str) -> String {
    if want == "default" {
        "default".into()
    } else {
        "latest".into()
    }
}
