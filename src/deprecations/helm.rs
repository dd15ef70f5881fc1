//! Helm 3 release records: decoding the stored release and the manifests in it.
//!
//! ```text
//!  Secret  data.release ──base64 (the Secret's own layer)──┐
//!  ConfigMap data.release ─────────────────────────────────┴─► payload
//!  payload ──base64──► gzip ──inflate (bounded)──► release JSON
//!          ──► Release { name, namespace, revision, status, chart, manifest, hooks[].manifest }
//! ```
//!
//! Helm keeps one record per revision (`sh.helm.release.v1.<release>.v<revision>`, labels
//! `owner=helm`, `status=deployed|superseded|…`). The `manifest` holds the rendered
//! objects the next `helm upgrade` diffs against; a removed API version there breaks that
//! upgrade even when the live objects are fine. Hooks are stored apart, in
//! `hooks[].manifest`. Pure: the caller fetches the records.

use std::io::Read;

use base64::Engine as _;
use serde::Deserialize;

/// Largest release JSON inflated from one record, against gzip bombs. Real releases are
/// a few MiB at most (the chart's templates and values are stored too).
pub(crate) const MAX_RELEASE_BYTES: u64 = 128 * 1024 * 1024;

/// Which Helm storage driver wrote a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    /// `HELM_DRIVER=secret` (the default): `data.release` carries the Secret's own base64
    /// layer on top of Helm's.
    Secret,
    /// `HELM_DRIVER=configmap`: `data.release` is Helm's payload as it is.
    ConfigMap,
}

/// A decoded Helm release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// Release name.
    pub name: String,
    /// Namespace the release was installed into.
    pub namespace: String,
    /// Revision (`version` in Helm's JSON).
    pub revision: u64,
    /// `info.status`: `deployed`, `superseded`, `failed`, `pending-upgrade`, …
    pub status: String,
    /// `name-version` of the chart.
    pub chart: String,
    /// The rendered objects, as a multi-document YAML stream.
    pub manifest: String,
    /// The hooks, each with its own manifest.
    pub hooks: Vec<Hook>,
    /// The chart's `kubeVersion` constraint (chart metadata), empty when it has none.
    pub kube_version: String,
}

/// One hook of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// Hook name (the object's name).
    pub name: String,
    /// Kind of the hook object.
    pub kind: String,
    /// Template path in the chart.
    pub path: String,
    /// Events it runs on (`pre-install`, `post-upgrade`, …).
    pub events: Vec<String>,
    /// The rendered hook object.
    pub manifest: String,
}

/// Why a release record could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum HelmError {
    /// A base64 layer is not valid base64.
    #[error("release record is not valid base64 ({layer})")]
    Base64 {
        /// Which layer.
        layer: &'static str,
        /// The cause.
        #[source]
        source: base64::DecodeError,
    },
    /// The gzip stream is corrupt.
    #[error("release record is not a valid gzip stream")]
    Gzip(#[source] std::io::Error),
    /// The inflated release is larger than `MAX_RELEASE_BYTES`.
    #[error("release record inflates to more than {} MiB", MAX_RELEASE_BYTES / (1024 * 1024))]
    TooLarge,
    /// The release JSON does not have the shape of a Helm 3 release.
    #[error("release record is not a Helm 3 release")]
    Json(#[source] serde_json::Error),
    /// The object is not a Helm release record.
    #[error("not a Helm release record: {0}")]
    NotARecord(String),
}

#[derive(Deserialize)]
struct RawRelease {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    version: u64,
    #[serde(default)]
    info: RawInfo,
    #[serde(default)]
    chart: RawChart,
    #[serde(default)]
    manifest: String,
    #[serde(default)]
    hooks: Vec<RawHook>,
}

#[derive(Deserialize, Default)]
struct RawInfo {
    #[serde(default)]
    status: String,
}

#[derive(Deserialize, Default)]
struct RawChart {
    #[serde(default)]
    metadata: RawChartMeta,
}

#[derive(Deserialize, Default)]
struct RawChartMeta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: String,
    #[serde(default, rename = "kubeVersion")]
    kube_version: String,
}

#[derive(Deserialize)]
struct RawHook {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    events: Vec<String>,
    #[serde(default)]
    manifest: String,
}

/// Decode Helm's payload: base64 of the gzipped release JSON (plain JSON is accepted too,
/// as Helm itself does).
///
/// # Errors
/// Invalid base64, a corrupt or oversized gzip stream, or JSON that is not a release.
pub fn decode_payload(payload: &[u8]) -> Result<Release, HelmError> {
    let raw = base64_decode(payload, "Helm payload")?;
    let json = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .take(MAX_RELEASE_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(HelmError::Gzip)?;
        if out.len() as u64 > MAX_RELEASE_BYTES {
            return Err(HelmError::TooLarge);
        }
        out
    } else {
        raw
    };
    let r: RawRelease = serde_json::from_slice(&json).map_err(HelmError::Json)?;
    let chart = match (
        r.chart.metadata.name.as_str(),
        r.chart.metadata.version.as_str(),
    ) {
        ("", _) => String::new(),
        (n, "") => n.to_string(),
        (n, v) => format!("{n}-{v}"),
    };
    Ok(Release {
        name: r.name,
        namespace: r.namespace,
        revision: r.version,
        status: r.info.status,
        chart,
        manifest: r.manifest,
        kube_version: r.chart.metadata.kube_version,
        hooks: r
            .hooks
            .into_iter()
            .map(|h| Hook {
                name: h.name,
                kind: h.kind,
                path: h.path,
                events: h.events,
                manifest: h.manifest,
            })
            .collect(),
    })
}

/// Decode `data.release` as it appears in an object of the given driver.
///
/// # Errors
/// As [`decode_payload`], and invalid base64 in the Secret's own layer.
pub fn decode_data(driver: Driver, data: &str) -> Result<Release, HelmError> {
    match driver {
        Driver::ConfigMap => decode_payload(data.as_bytes()),
        Driver::Secret => decode_payload(&base64_decode(data.as_bytes(), "Secret data")?),
    }
}

/// Decode a release record given as the API object (a Secret of type
/// `helm.sh/release.v1` or a ConfigMap with label `owner=helm`), as returned by a list or
/// get call.
///
/// # Errors
/// When the object is not a release record, or as [`decode_data`].
pub fn decode_record(object: &serde_json::Value) -> Result<Release, HelmError> {
    let driver = match object.get("kind").and_then(|k| k.as_str()) {
        Some("Secret") => Driver::Secret,
        Some("ConfigMap") => Driver::ConfigMap,
        other => {
            return Err(HelmError::NotARecord(format!(
                "kind {}",
                other.unwrap_or("(none)")
            )))
        }
    };
    let data = object
        .pointer("/data/release")
        .and_then(|d| d.as_str())
        .ok_or_else(|| HelmError::NotARecord("no data.release".to_string()))?;
    decode_data(driver, data)
}

fn base64_decode(text: &[u8], layer: &'static str) -> Result<Vec<u8>, HelmError> {
    // Line breaks and padding vary between writers; Helm writes standard base64.
    let clean: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(&clean)
        .map_err(|source| HelmError::Base64 { layer, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn payload(json: &serde_json::Value) -> String {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(json.to_string().as_bytes()).unwrap();
        base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap())
    }

    #[test]
    fn both_drivers_decode_the_same_release() {
        let json = serde_json::json!({
            "name": "web", "namespace": "prod", "version": 3,
            "info": {"status": "deployed"},
            "chart": {"metadata": {"name": "web", "version": "1.2.0"}},
            "manifest": "---\napiVersion: v1\nkind: Service\n",
            "hooks": [{"name": "migrate", "kind": "Job", "path": "web/templates/job.yaml",
                       "events": ["pre-upgrade"], "manifest": "apiVersion: batch/v1\nkind: Job\n"}]
        });
        let p = payload(&json);
        let cm = decode_data(Driver::ConfigMap, &p).unwrap();
        let secret_layer = base64::engine::general_purpose::STANDARD.encode(&p);
        let s = decode_data(Driver::Secret, &secret_layer).unwrap();
        assert_eq!(cm, s);
        assert_eq!((cm.revision, cm.chart.as_str()), (3, "web-1.2.0"));
        assert_eq!(cm.hooks[0].events, vec!["pre-upgrade".to_string()]);
    }

    #[test]
    fn corrupt_records_are_errors() {
        assert!(matches!(
            decode_data(Driver::ConfigMap, "not base64!"),
            Err(HelmError::Base64 { .. })
        ));
        let bad_gzip = base64::engine::general_purpose::STANDARD.encode([0x1f, 0x8b, 0, 1, 2]);
        assert!(matches!(
            decode_data(Driver::ConfigMap, &bad_gzip),
            Err(HelmError::Gzip(_))
        ));
        let not_json = base64::engine::general_purpose::STANDARD.encode("[1, 2");
        assert!(matches!(
            decode_data(Driver::ConfigMap, &not_json),
            Err(HelmError::Json(_))
        ));
        assert!(matches!(
            decode_record(&serde_json::json!({"kind": "Pod"})),
            Err(HelmError::NotARecord(_))
        ));
    }
}
