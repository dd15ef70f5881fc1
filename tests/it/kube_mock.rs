//! `KubeApi` on kube-rs against a mocked API server (tower-test): discovery, listing with
//! a label selector, and server-side apply with keelson's field manager.

use std::collections::BTreeMap;

use http::{Request, Response};
use keelson::adapters::kube::KubeClients;
use keelson::ports::{ApiError, KubeApi};
use kube::client::Body;
use serde_json::{json, Value};

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

fn client() -> (KubeClients, Handle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, "default");
    (KubeClients::fixed([("c1".to_string(), client)]), handle)
}

fn json_response(status: u16, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap()
}

fn nodepool_resources() -> Value {
    json!({
        "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "karpenter.sh/v1",
        "resources": [{"name": "nodepools", "singularName": "nodepool", "namespaced": false, "kind": "NodePool",
                       "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}]
    })
}

/// Answer requests until the client is dropped; record what was asked.
async fn serve(
    mut handle: Handle,
    seen: tokio::sync::mpsc::UnboundedSender<(String, String, String, String)>,
) {
    while let Some((req, send)) = handle.next_request().await {
        let method = req.method().to_string();
        let uri = req.uri().to_string();
        let ctype = req
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or_default().to_string())
            .unwrap_or_default();
        let body =
            String::from_utf8(req.into_body().collect_bytes().await.unwrap().to_vec()).unwrap();
        let path = uri.split('?').next().unwrap_or_default().to_string();
        let response = match (method.as_str(), path.as_str()) {
            ("GET", "/version") => json_response(
                200,
                &json!({"major": "1", "minor": "34+", "gitVersion": "v1.34.2-eks-1"}),
            ),
            ("GET", "/api") => json_response(
                200,
                &json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}),
            ),
            ("GET", "/apis") => json_response(
                200,
                &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                    {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}], "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}},
                    {"name": "karpenter.sh", "versions": [{"groupVersion": "karpenter.sh/v1", "version": "v1"}], "preferredVersion": {"groupVersion": "karpenter.sh/v1", "version": "v1"}}
                ]}),
            ),
            ("GET", "/apis/karpenter.sh/v1") => json_response(200, &nodepool_resources()),
            ("GET", "/apis/karpenter.sh/v1/nodepools") => json_response(
                200,
                &json!({
                    "apiVersion": "karpenter.sh/v1", "kind": "NodePoolList", "metadata": {"resourceVersion": "7"},
                    "items": [{"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "batch", "labels": {"app.kubernetes.io/managed-by": "keelson"}}, "spec": {"weight": 10}}]
                }),
            ),
            ("PATCH", "/apis/karpenter.sh/v1/nodepools/batch") => {
                let mut obj: Value = serde_json::from_str(&body).unwrap();
                obj["metadata"]["resourceVersion"] = json!("8");
                json_response(200, &obj)
            }
            ("PATCH", "/apis/karpenter.sh/v1/nodepools/bad") => json_response(
                422,
                &json!({
                    "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Invalid", "code": 422,
                    "message": "NodePool.karpenter.sh \"bad\" is invalid: spec.template.spec: the sum of expireAfter and terminationGracePeriod (defaulted to 24h) may not exceed 21 days"
                }),
            ),
            _ => json_response(
                404,
                &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": format!("{path} not found")}),
            ),
        };
        let _ = seen.send((method, uri, ctype, body));
        send.send_response(response);
    }
}

#[tokio::test]
async fn discovery_and_version() {
    let (kube, handle) = client();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(serve(handle, tx));
    assert_eq!(kube.server_version("c1").await.unwrap(), "1.34");
    let served = kube.served_versions("c1").await.unwrap();
    assert_eq!(served, vec!["apps/v1", "karpenter.sh/v1", "v1"]);
}

#[tokio::test]
async fn server_side_apply_uses_keelsons_field_manager_and_forces() {
    let (kube, handle) = client();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(serve(handle, tx));
    let obj = json!({"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "batch", "labels": {"app.kubernetes.io/managed-by": "keelson"}}, "spec": {"weight": 10}});
    let applied = kube.apply("c1", &obj, "keelson").await.unwrap();
    assert_eq!(applied["metadata"]["resourceVersion"], "8");
    let mut requests = Vec::new();
    while let Ok(r) = rx.try_recv() {
        requests.push(r);
    }
    let (_, uri, ctype, body) = requests
        .iter()
        .find(|(m, ..)| m == "PATCH")
        .expect("a PATCH was sent");
    assert!(uri.contains("fieldManager=keelson"), "{uri}");
    assert!(uri.contains("force=true"), "{uri}");
    assert_eq!(ctype, "application/apply-patch+yaml");
    let sent: Value = serde_json::from_str(body).unwrap();
    assert_eq!(sent, obj);
}

#[tokio::test]
async fn list_filters_by_label_and_errors_keep_their_class() {
    let (kube, handle) = client();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(serve(handle, tx));
    let items = kube
        .list(
            "c1",
            "karpenter.sh/v1",
            "NodePool",
            Some("app.kubernetes.io/managed-by=keelson"),
        )
        .await
        .unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["metadata"]["name"], "batch");
    let mut uris = BTreeMap::new();
    while let Ok((m, u, ..)) = rx.try_recv() {
        uris.insert(u, m);
    }
    assert!(
        uris.keys()
            .any(|u| u.contains("labelSelector=app.kubernetes.io%2Fmanaged-by%3Dkeelson")),
        "{uris:?}"
    );

    let bad = json!({"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "bad"}, "spec": {}});
    let e = kube.apply("c1", &bad, "keelson").await.unwrap_err();
    assert!(
        matches!(&e, ApiError::InvalidParameter(m) if m.contains("may not exceed 21 days") && m.contains("cluster c1")),
        "{e}"
    );
    // A kind the cluster does not serve lists as empty.
    assert!(kube
        .list("c1", "example.com/v1", "Widget", None)
        .await
        .unwrap()
        .is_empty());
}
