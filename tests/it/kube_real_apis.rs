//! The deprecated-API table against a real kube-apiserver (v1.34.4, from
//! tests/k8s/with-apiserver.sh): what its discovery serves by default is the judge of
//! what the table says is removed by 1.34, and of the replacements it names at 1.34.
//! Skipped without KEELSON_KUBECONFIG.

use std::collections::BTreeSet;

use keelson::deprecations::table::{split_api_version, ApiTable, Status};
use keelson::ports::KubeApi;
use keelson::versions::Minor;

use crate::kube_real::{adapter, admin, kubeconfig, serial, tls_provider, CLUSTER};

/// Groups whose kinds are configuration files kube-apiserver reads (`--audit-policy-file`),
/// never resources it serves: their replacements cannot show in discovery.
const CONFIG_FILE_GROUPS: &[&str] = &["audit.k8s.io"];

/// Groups defined by CRDs (the CSI snapshot controller's), which a bare kube-apiserver
/// does not serve whatever its version.
const CRD_GROUPS: &[&str] = &["snapshot.storage.k8s.io"];

/// The group/versions the server serves by default: discovery, minus the beta API the
/// harness turns on for another test (KEELSON_K8S_EXTRA_APIS).
async fn served_by_default() -> Option<(BTreeSet<String>, Minor)> {
    let path = kubeconfig()?;
    tls_provider();
    let kube = adapter(&path, "admin");
    let extra: BTreeSet<String> = std::env::var("KEELSON_K8S_EXTRA_APIS")
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect();
    let served = kube
        .served_versions(CLUSTER)
        .await
        .unwrap()
        .into_iter()
        .filter(|gv| !extra.contains(gv))
        .collect();
    let minor = kube.server_version(CLUSTER).await.unwrap().parse().unwrap();
    Some((served, minor))
}

/// The kinds a group/version serves (none when it is not served): a group/version such as
/// `certificates.k8s.io/v1` is served for CertificateSigningRequest long before its
/// ClusterTrustBundle, so discovery is read per kind.
async fn served_kinds(client: &kube::Client, gv: &str) -> BTreeSet<String> {
    let list = if gv.contains('/') {
        client.list_api_group_resources(gv).await
    } else {
        client.list_core_api_resources(gv).await
    };
    list.map(|l| l.resources.into_iter().map(|r| r.kind).collect())
        .unwrap_or_default()
}

/// The served-by-default mark of the table agrees with the server for every beta
/// group/version it names that is not removed by the server's minor.
#[tokio::test]
async fn the_tables_served_by_default_marks_agree_with_the_server() {
    let _one = serial().await;
    let Some((served, minor)) = served_by_default().await else {
        return;
    };
    let client = admin(&kubeconfig().unwrap()).await;
    let table = ApiTable::shared().unwrap();
    let mut wrong = Vec::new();
    for e in table.entries().iter().filter(|e| {
        e.component.is_none()
            && e.version.contains("beta")
            && e.removed_in.is_none_or(|r| r > minor)
            && !CRD_GROUPS.contains(&e.group.as_str())
    }) {
        let gv = e.api_version();
        let is_served = served.contains(&gv) && served_kinds(&client, &gv).await.contains(&e.kind);
        if is_served != e.served_by_default {
            wrong.push(format!(
                "{gv} {}: table says {}, server {is_served}",
                e.kind, e.served_by_default
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn what_the_table_says_is_removed_by_the_servers_minor_is_not_served() {
    let _one = serial().await;
    let Some((served, minor)) = served_by_default().await else {
        return;
    };
    assert_eq!(minor, Minor::v1(34));
    let table = ApiTable::shared().unwrap();
    let wrongly_served: BTreeSet<String> = table
        .entries()
        .iter()
        .filter(|e| e.component.is_none() && e.version != "*")
        .filter(|e| e.removed_in.is_some_and(|r| r <= minor))
        .map(|e| e.api_version())
        .filter(|gv| served.contains(gv))
        .collect();
    assert!(
        wrongly_served.is_empty(),
        "the table says these are removed by {minor}, yet a real {minor} server serves them: {wrongly_served:?}"
    );
}

#[tokio::test]
async fn every_replacement_the_table_names_at_the_servers_minor_is_served() {
    let _one = serial().await;
    let Some((_, minor)) = served_by_default().await else {
        return;
    };
    let client = admin(&kubeconfig().unwrap()).await;
    let table = ApiTable::shared().unwrap();
    let mut not_served = Vec::new();
    let mut checked = 0;
    for e in table.entries().iter().filter(|e| e.component.is_none()) {
        if e.status_at(Some(minor)).is_none() {
            continue; // not reported at this minor, so no replacement is named
        }
        let Some(r) = table.replacement_at(e, Some(minor)) else {
            continue;
        };
        let (gv, kind) = r.split_once(' ').unwrap_or((r, ""));
        let group = split_api_version(gv).0;
        if CONFIG_FILE_GROUPS.contains(&group) || CRD_GROUPS.contains(&group) {
            continue;
        }
        checked += 1;
        if !served_kinds(&client, gv).await.contains(kind) {
            not_served.push(format!("{} {} → {r}", e.api_version(), e.kind));
        }
    }
    assert!(checked > 50, "only {checked} replacements checked");
    assert!(
        not_served.is_empty(),
        "at {minor} the table names replacements a real {minor} server does not serve: {not_served:#?}"
    );
    // The status a removed entry gets at this minor is Removed, as the gate reports it.
    let fs = table
        .lookup("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema")
        .unwrap();
    assert_eq!(fs.status_at(Some(minor)), Some(Status::Removed));
}
