//! A concurrent stand-in for the EKS API, for benchmarks and tests of keelson's fan-out
//! and rate limiting: canned answers for a generated fleet of N clusters, a fixed
//! latency per request, no limit on concurrency, every request counted by operation, and
//! optionally a server-side rate limit answering HTTP 429 `ThrottlingException` above it.
//!
//! ```text
//!  Fleet::new(n) ─► write_repo(DIR): the keelson repository whose plan is a no-op
//!               └─► serve(listener, Options): hyper, one task per connection
//!        request ─► bucket (rate, burst) ─► over: 429 ThrottlingException
//!                └─► sleep(latency) ─► route (method, path) ─► canned JSON
//!  GET /_stub/stats ─► {"calls": {op: n}, "throttled": n, "writes": n}
//! ```
//!
//! Each cluster has what a no-op plan reads with every kind of EKS read keelson makes:
//! a node group, an add-on (with DescribeAddonVersions' catalog), an access entry with
//! one policy, a Pod Identity association, and on every fourth cluster a Fargate profile.
//! The paths and the 429 shape are aws-sdk-eks's (`operation/*/…rs` request URIs; the
//! `ThrottlingException` shape is `"error": {"httpStatusCode": 429}` in botocore's
//! `eks/2017-11-01/service-2.json`, the error named in `x-amzn-ErrorType` as rest-json
//! does). STS (`POST /`) is refused, so keelson does not check accounts against it.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::{json, Value};

/// Fleet name, region, account and add-on version of the generated fleet.
pub const FLEET: &str = "bench";
pub const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";
const ADDON: &str = "vpc-cni";
const ADDON_VERSION: &str = "v1.19.2-eksbuild.1";
const VERSION: &str = "1.34";
/// ListClusters' page size, EKS's largest `maxResults`.
const PAGE: usize = 100;

/// The generated fleet: cluster names only, everything else follows from the index.
pub struct Fleet {
    names: Vec<String>,
}

/// How the stub answers.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Added to every answer.
    pub latency: Duration,
    /// Requests per second and burst above which it answers 429 (`None`: no limit).
    pub limit: Option<(f64, f64)>,
}

/// What the stub has seen.
#[derive(Debug, Default)]
pub struct Stats {
    pub calls: BTreeMap<String, u64>,
    pub throttled: u64,
    pub writes: u64,
}

impl Stats {
    pub fn json(&self) -> Value {
        json!({"calls": self.calls, "throttled": self.throttled, "writes": self.writes,
               "total": self.calls.values().sum::<u64>()})
    }
}

struct Bucket {
    tokens: f64,
    last: tokio::time::Instant,
}

struct State {
    fleet: Fleet,
    options: Options,
    stats: Mutex<Stats>,
    bucket: Mutex<Bucket>,
}

fn arn(kind: &str, rest: &str) -> String {
    format!("arn:aws:eks:{REGION}:{ACCOUNT}:{kind}/{rest}")
}

fn role(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

fn subnets() -> Value {
    json!(["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"])
}

fn tags(i: usize) -> Value {
    json!({"team": format!("t{}", i % 7), "keelson.dev/fleet": FLEET})
}

fn marker() -> Value {
    json!({"keelson.dev/fleet": FLEET})
}

impl Fleet {
    pub fn new(n: usize) -> Fleet {
        Fleet {
            names: (0..n).map(|i| format!("bench-{i:04}")).collect(),
        }
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.names.binary_search_by(|n| n.as_str().cmp(name)).ok()
    }

    fn has_fargate(i: usize) -> bool {
        i.is_multiple_of(4)
    }

    /// The keelson repository of the fleet, in `dir`.
    pub fn write_repo(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(
            dir.join("keelson.yaml"),
            format!("apiVersion: keelson.dev/v1alpha1\nkind: Fleet\nmetadata: {{name: {FLEET}}}\nspec:\n  stages: [{{name: prod}}]\n"),
        )?;
        for (i, name) in self.names.iter().enumerate() {
            let d = dir.join("clusters").join(name);
            std::fs::create_dir_all(&d)?;
            let mut docs = vec![format!(
                "kind: Cluster\nmetadata: {{name: {name}}}\nspec:\n  region: {REGION}\n  version: \"{VERSION}\"\n  stage: prod\n  roleArn: {}\n  vpc: {{subnetIds: [subnet-0a1b2c3d4e5f60001, subnet-0a1b2c3d4e5f60002]}}\n  access: {{authenticationMode: API_AND_CONFIG_MAP}}\n  tags: {{team: t{}}}\n",
                role("eks-cluster"),
                i % 7
            )];
            docs.push(format!(
                "kind: NodeGroup\nmetadata: {{name: general}}\nspec:\n  nodeRoleArn: {}\n  subnetIds: [subnet-0a1b2c3d4e5f60001]\n  instanceTypes: [m6i.large]\n  scaling: {{minSize: 1, maxSize: 4, desiredSize: 2}}\n",
                role("eks-node")
            ));
            docs.push(format!(
                "kind: Addon\nmetadata: {{name: {ADDON}}}\nspec:\n  version: {ADDON_VERSION}\n"
            ));
            docs.push(format!(
                "kind: AccessEntry\nmetadata: {{name: admins}}\nspec:\n  principalArn: {}\n  policies:\n    - policyArn: arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy\n      accessScope: {{type: cluster}}\n",
                role("platform-admin")
            ));
            docs.push(format!(
                "kind: PodIdentityAssociation\nmetadata: {{name: app}}\nspec:\n  namespace: app\n  serviceAccount: app\n  roleArn: {}\n",
                role("app")
            ));
            if Fleet::has_fargate(i) {
                docs.push(format!(
                    "kind: FargateProfile\nmetadata: {{name: jobs}}\nspec:\n  podExecutionRoleArn: {}\n  subnetIds: [subnet-0a1b2c3d4e5f60001]\n  selectors: [{{namespace: jobs}}]\n",
                    role("fargate")
                ));
            }
            let text: Vec<String> = docs
                .iter()
                .map(|d| format!("apiVersion: keelson.dev/v1alpha1\n{d}"))
                .collect();
            std::fs::write(d.join("cluster.yaml"), text.join("---\n"))?;
        }
        Ok(())
    }

    fn cluster(&self, i: usize) -> Value {
        let name = &self.names[i];
        json!({"cluster": {
            "name": name, "arn": arn("cluster", name), "status": "ACTIVE",
            "version": VERSION, "platformVersion": "eks.5",
            "endpoint": format!("https://{i:08X}.gr7.{REGION}.eks.amazonaws.com"),
            "certificateAuthority": {"data": ""},
            "roleArn": role("eks-cluster"),
            "resourcesVpcConfig": {"subnetIds": subnets(), "securityGroupIds": [],
                "endpointPublicAccess": true, "endpointPrivateAccess": false,
                "publicAccessCidrs": ["0.0.0.0/0"], "vpcId": "vpc-0a1b2c3d"},
            "kubernetesNetworkConfig": {"serviceIpv4Cidr": "10.100.0.0/16", "ipFamily": "ipv4"},
            "logging": {"clusterLogging": [{"types": ["api", "audit", "authenticator", "controllerManager", "scheduler"], "enabled": false}]},
            "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"},
            "upgradePolicy": {"supportType": "EXTENDED"},
            "tags": tags(i)}})
    }

    /// The answer to one read, or `None` for a path this fleet has nothing at.
    fn answer(
        &self,
        path: &[String],
        query: &BTreeMap<String, String>,
    ) -> Option<(&'static str, Value)> {
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        let at = |name: &str| self.index(name);
        Some(match p.as_slice() {
            ["clusters"] => {
                let start: usize = query
                    .get("nextToken")
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0);
                let size = query
                    .get("maxResults")
                    .and_then(|m| m.parse().ok())
                    .unwrap_or(PAGE)
                    .clamp(1, PAGE);
                let end = (start + size).min(self.names.len());
                let mut page = json!({"clusters": self.names.get(start..end).unwrap_or_default()});
                if end < self.names.len() {
                    page["nextToken"] = json!(end.to_string());
                }
                ("ListClusters", page)
            }
            ["cluster-versions"] => ("DescribeClusterVersions", json!({"clusterVersions": []})),
            ["addons", "supported-versions"] => (
                "DescribeAddonVersions",
                json!({"addons": [{
                "addonName": ADDON, "type": "networking",
                "addonVersions": [{"addonVersion": ADDON_VERSION, "architecture": ["amd64", "arm64"],
                    "compatibilities": [{"clusterVersion": VERSION, "platformVersions": ["*"], "defaultVersion": true}]}]}]}),
            ),
            ["clusters", c] => ("DescribeCluster", self.cluster(at(c)?)),
            ["clusters", c, "updates"] => {
                at(c)?;
                ("ListUpdates", json!({"updateIds": []}))
            }
            ["clusters", c, "node-groups"] => {
                at(c)?;
                ("ListNodegroups", json!({"nodegroups": ["general"]}))
            }
            ["clusters", c, "node-groups", "general"] => {
                at(c)?;
                (
                    "DescribeNodegroup",
                    json!({"nodegroup": {
                    "nodegroupName": "general", "clusterName": c,
                    "nodegroupArn": arn("nodegroup", &format!("{c}/general/0")),
                    "status": "ACTIVE", "version": VERSION, "releaseVersion": "1.34.2-20251120",
                    "capacityType": "ON_DEMAND", "amiType": "AL2023_x86_64_STANDARD",
                    "scalingConfig": {"minSize": 1, "maxSize": 4, "desiredSize": 2},
                    "instanceTypes": ["m6i.large"], "subnets": ["subnet-0a1b2c3d4e5f60001"],
                    "diskSize": 20, "nodeRole": role("eks-node"), "labels": {},
                    "updateConfig": {"maxUnavailable": 1}, "tags": marker()}}),
                )
            }
            ["clusters", c, "addons"] => {
                at(c)?;
                ("ListAddons", json!({"addons": [ADDON]}))
            }
            ["clusters", c, "addons", a] if *a == ADDON => {
                at(c)?;
                (
                    "DescribeAddon",
                    json!({"addon": {
                    "addonName": ADDON, "clusterName": c, "status": "ACTIVE",
                    "addonVersion": ADDON_VERSION, "addonArn": arn("addon", &format!("{c}/{ADDON}/0")),
                    "podIdentityAssociations": [], "tags": marker()}}),
                )
            }
            ["clusters", c, "fargate-profiles"] => {
                let i = at(c)?;
                let names: Vec<&str> = if Fleet::has_fargate(i) {
                    vec!["jobs"]
                } else {
                    vec![]
                };
                ("ListFargateProfiles", json!({"fargateProfileNames": names}))
            }
            ["clusters", c, "fargate-profiles", "jobs"] => {
                at(c).filter(|i| Fleet::has_fargate(*i))?;
                (
                    "DescribeFargateProfile",
                    json!({"fargateProfile": {
                    "fargateProfileName": "jobs", "clusterName": c, "status": "ACTIVE",
                    "fargateProfileArn": arn("fargateprofile", &format!("{c}/jobs/0")),
                    "podExecutionRoleArn": role("fargate"), "subnets": ["subnet-0a1b2c3d4e5f60001"],
                    "selectors": [{"namespace": "jobs"}], "tags": marker()}}),
                )
            }
            ["clusters", c, "access-entries"] => {
                at(c)?;
                (
                    "ListAccessEntries",
                    json!({"accessEntries": [role("platform-admin")]}),
                )
            }
            ["clusters", c, "access-entries", p] if *p == role("platform-admin") => {
                at(c)?;
                (
                    "DescribeAccessEntry",
                    json!({"accessEntry": {
                    "clusterName": c, "principalArn": p, "kubernetesGroups": [],
                    "accessEntryArn": arn("access-entry", &format!("{c}/role/{ACCOUNT}/platform-admin/0")),
                    "username": format!("arn:aws:sts::{ACCOUNT}:assumed-role/platform-admin/{{{{SessionName}}}}"),
                    "type": "STANDARD", "tags": marker()}}),
                )
            }
            ["clusters", c, "access-entries", p, "access-policies"] => {
                at(c)?;
                (
                    "ListAssociatedAccessPolicies",
                    json!({"clusterName": c, "principalArn": p,
                    "associatedAccessPolicies": [{"policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                        "accessScope": {"type": "cluster", "namespaces": []}}]}),
                )
            }
            ["clusters", c, "pod-identity-associations"] => {
                at(c)?;
                (
                    "ListPodIdentityAssociations",
                    json!({"associations": [{
                    "clusterName": c, "namespace": "app", "serviceAccount": "app",
                    "associationArn": arn("podidentityassociation", &format!("{c}/a-app")),
                    "associationId": "a-app"}]}),
                )
            }
            ["clusters", c, "pod-identity-associations", "a-app"] => {
                at(c)?;
                (
                    "DescribePodIdentityAssociation",
                    json!({"association": {
                    "clusterName": c, "namespace": "app", "serviceAccount": "app",
                    "roleArn": role("app"), "associationId": "a-app",
                    "associationArn": arn("podidentityassociation", &format!("{c}/a-app")),
                    "disableSessionTags": false, "tags": marker()}}),
                )
            }
            _ => return None,
        })
    }
}

/// A path's segments, percent-decoded (principal ARNs travel encoded).
fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query(q: Option<&str>) -> BTreeMap<String, String> {
    q.unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(v)))
        .collect()
}

fn reply(status: u16, error: Option<&str>, body: &Value) -> Response<Full<Bytes>> {
    let mut r = Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-amzn-requestid", "00000000-0000-0000-0000-000000000000");
    if let Some(e) = error {
        r = r.header("x-amzn-errortype", e);
    }
    r.body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// Take a token of the server's own bucket; `false`: over the limit.
fn admit(state: &State) -> bool {
    let Some((rate, burst)) = state.options.limit else {
        return true;
    };
    let mut b = state.bucket.lock().unwrap_or_else(|e| e.into_inner());
    let now = tokio::time::Instant::now();
    b.tokens = (b.tokens + rate * now.duration_since(b.last).as_secs_f64()).min(burst);
    b.last = now;
    if b.tokens >= 1.0 {
        b.tokens -= 1.0;
        true
    } else {
        false
    }
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = segments(req.uri().path());
    if path.first().map(String::as_str) == Some("_stub") {
        let stats = state.stats.lock().unwrap_or_else(|e| e.into_inner()).json();
        return Ok(reply(200, None, &stats));
    }
    if !admit(&state) {
        state
            .stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .throttled += 1;
        return Ok(reply(
            429,
            Some("ThrottlingException"),
            &json!({"message": "Rate exceeded"}),
        ));
    }
    tokio::time::sleep(state.options.latency).await;
    let q = query(req.uri().query());
    let read = req.method() == hyper::Method::GET;
    let answer = if read {
        state.fleet.answer(&path, &q)
    } else {
        None
    };
    let mut stats = state.stats.lock().unwrap_or_else(|e| e.into_inner());
    Ok(match answer {
        Some((op, body)) => {
            *stats.calls.entry(op.to_string()).or_default() += 1;
            reply(200, None, &body)
        }
        None if path.is_empty() => {
            *stats.calls.entry("sts".to_string()).or_default() += 1;
            reply(
                403,
                Some("AccessDenied"),
                &json!({"message": "the stub has no STS"}),
            )
        }
        None if !read => {
            stats.writes += 1;
            *stats
                .calls
                .entry(format!("{} {}", req.method(), path.join("/")))
                .or_default() += 1;
            reply(
                400,
                Some("InvalidRequestException"),
                &json!({"message": "the stub makes no changes"}),
            )
        }
        None => {
            *stats.calls.entry("not found".to_string()).or_default() += 1;
            reply(
                404,
                Some("ResourceNotFoundException"),
                &json!({"message": format!("no {}", path.join("/"))}),
            )
        }
    })
}

/// A running stub: its statistics stay readable while it serves (the integration test
/// reads them here, the benchmark over HTTP at `/_stub/stats`).
#[derive(Clone)]
#[allow(dead_code)]
pub struct Served(Arc<State>);

#[allow(dead_code)]
impl Served {
    pub fn stats(&self) -> Value {
        self.0
            .stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .json()
    }
}

/// Serve `fleet` on `listener` until the runtime stops.
pub fn serve(listener: tokio::net::TcpListener, fleet: Fleet, options: Options) -> Served {
    let burst = options.limit.map_or(0.0, |(_, b)| b);
    let state = Arc::new(State {
        fleet,
        options,
        stats: Mutex::new(Stats::default()),
        bucket: Mutex::new(Bucket {
            tokens: burst,
            last: tokio::time::Instant::now(),
        }),
    });
    let served = Served(state.clone());
    tokio::spawn(async move {
        loop {
            let Ok((conn, _)) = listener.accept().await else {
                continue;
            };
            let _ = conn.set_nodelay(true);
            let state = state.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| handle(state.clone(), req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(conn), svc)
                    .await;
            });
        }
    });
    served
}
