//! Generate a large corpus of Kubernetes manifest files for `keelson deprecations`
//! benchmarks.
//!
//! ```text
//! cargo run --release --example gen-manifests -- --files 100000 --out bench/out/manifests [--seed 7]
//! ```
//!
//! The corpus looks like the manifest side of a platform monorepo:
//!
//! ```text
//! DIR/team-NN/app-NNNNN/deployment.yaml   Deployment (kubectl style: `- ` at the key's indentation)
//! DIR/team-NN/app-NNNNN/rendered.yaml     Helm output: `---` + `# Source:` per document
//! DIR/team-NN/app-NNNNN/*.yaml            Service, Ingress, CronJob, HPA, PDB, ConfigMap (block
//!                                         scalars), StatefulSet, RBAC, NetworkPolicy, cert-manager
//!                                         Certificate, ServiceMonitor, CRDs, …
//! DIR/team-NN/app-NNNNN/*.json            the same objects as JSON (about 3% of files)
//! DIR/team-NN/app-NNNNN/list.yaml         `kind: List` files (about 1.5%)
//! DIR/team-NN/app-NNNNN/chart/templates/  unrendered Helm templates (about 0.3%)
//! ```
//!
//! About 2% of objects use a deprecated or removed API version (extensions/v1beta1
//! Ingress, batch/v1beta1 CronJob, policy/v1beta1 PDB, autoscaling/v2beta2 HPA,
//! flowcontrol v1beta3, cert-manager v1alpha2, …); about 3% of documents have flow-style
//! metadata. The same `--files` and `--seed` always give the same bytes. A summary of
//! what was written goes to stderr.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde_json::{json, Map, Value};

/// Write N manifest files.
#[derive(Debug, Parser)]
#[command(name = "gen-manifests", about, long_about = None)]
struct Args {
    /// Number of files.
    #[arg(long)]
    files: usize,
    /// Output directory; created if missing. An earlier gen-manifests output is replaced;
    /// any other non-empty directory is refused.
    #[arg(long)]
    out: PathBuf,
    /// Seed of the pseudo-random choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// splitmix64: small, fast, and good enough for reproducible test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in lo..=hi.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.next() as usize % items.len()]
    }

    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b"0123456789abcdef"[self.next() as usize % 16]))
            .collect()
    }
}

// ───────────────────────────── a small YAML writer ─────────────────────────────

/// How a file's YAML is laid out.
#[derive(Clone, Copy)]
struct Style {
    /// `- ` indented under its key (Helm charts) rather than at the key's column (kubectl).
    indent_sequences: bool,
    /// Small mappings of scalars in flow style (`{app: web}`).
    flow_small_maps: bool,
    /// `metadata` itself in flow style.
    flow_metadata: bool,
}

fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let typed = matches!(
        s,
        "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "~" | "True" | "False"
    ) || s.parse::<f64>().is_ok();
    !typed
        && (first.is_ascii_alphabetic() || first == '/')
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
        && !s.ends_with(' ')
        && !s.contains([
            '\n', '\t', '{', '}', '[', ']', ',', '"', '\'', '`', '&', '*', '!', '|', '>', '%', '@',
        ])
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) if plain_ok(s) => s.clone(),
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn is_small_map(m: &Map<String, Value>) -> bool {
    m.len() <= 3 && m.values().all(|v| !v.is_object() && !v.is_array())
}

fn flow(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}: {}", scalar(&Value::String(k.clone())), flow(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(flow).collect::<Vec<_>>().join(", ")),
        other => scalar(other),
    }
}

/// The value after `key:` (or `- `), starting on the key's line.
fn value(v: &Value, indent: usize, st: Style, top_key: Option<&str>, out: &mut String) {
    match v {
        Value::String(s) if s.contains('\n') => {
            let chomp = if s.ends_with('\n') { "" } else { "-" };
            let _ = writeln!(out, " |{chomp}");
            for line in s.trim_end_matches('\n').split('\n') {
                if line.is_empty() {
                    out.push('\n');
                } else {
                    let _ = writeln!(out, "{:w$}{line}", "", w = indent + 2);
                }
            }
        }
        Value::Object(m) if m.is_empty() => out.push_str(" {}\n"),
        Value::Array(a) if a.is_empty() => out.push_str(" []\n"),
        Value::Object(m)
            if (st.flow_small_maps && is_small_map(m))
                || (st.flow_metadata && top_key == Some("metadata")) =>
        {
            let _ = writeln!(out, " {}", flow(v));
        }
        Value::Object(m) => {
            out.push('\n');
            mapping(m, indent + 2, st, out);
        }
        Value::Array(a) => {
            out.push('\n');
            let at = if st.indent_sequences {
                indent + 2
            } else {
                indent
            };
            for item in a {
                let _ = write!(out, "{:at$}-", "");
                match item {
                    Value::Object(m) if !m.is_empty() => {
                        // The first key on the dash's line, the others under it.
                        let mut first = true;
                        for (k, v) in m {
                            if first {
                                let _ = write!(out, " {}:", scalar(&Value::String(k.clone())));
                                first = false;
                            } else {
                                let _ = write!(
                                    out,
                                    "{:w$}{}:",
                                    "",
                                    scalar(&Value::String(k.clone())),
                                    w = at + 2
                                );
                            }
                            value(v, at + 2, st, None, out);
                        }
                    }
                    other => value(other, at, st, None, out),
                }
            }
        }
        other => {
            let _ = writeln!(out, " {}", scalar(other));
        }
    }
}

fn mapping(m: &Map<String, Value>, indent: usize, st: Style, out: &mut String) {
    for (k, v) in m {
        let _ = write!(out, "{:indent$}{}:", "", scalar(&Value::String(k.clone())));
        value(v, indent, st, if indent == 0 { Some(k) } else { None }, out);
    }
}

fn yaml(doc: &Value, st: Style) -> String {
    let mut out = String::new();
    if let Value::Object(m) = doc {
        mapping(m, 0, st, &mut out);
    }
    out
}

// ───────────────────────────── objects ─────────────────────────────

struct App {
    name: String,
    ns: String,
    team: String,
    image: String,
    port: u64,
}

fn labels(app: &App, component: &str) -> Value {
    json!({
        "app.kubernetes.io/name": app.name,
        "app.kubernetes.io/instance": app.name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": app.team,
        "app.kubernetes.io/managed-by": "Helm",
        "helm.sh/chart": format!("{}-1.{}.0", app.name, app.port % 7),
    })
}

fn meta(app: &App, name: &str, component: &str, rng: &mut Rng) -> Value {
    let mut m = json!({"name": name, "namespace": app.ns, "labels": labels(app, component)});
    if rng.chance(0.4) {
        m["annotations"] = json!({
            "meta.helm.sh/release-name": app.name,
            "meta.helm.sh/release-namespace": app.ns,
            "owner": format!("{}@example.com", app.team),
        });
    }
    m
}

fn container(app: &App, rng: &mut Rng) -> Value {
    let mut env = Vec::new();
    for i in 0..rng.range(2, 9) {
        env.push(
            json!({"name": format!("APP_SETTING_{i}"), "value": format!("value-{}", rng.hex(8))}),
        );
    }
    env.push(
        json!({"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}),
    );
    env.push(json!({"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": format!("{}-db", app.name), "key": "password"}}}));
    json!({
        "name": app.name,
        "image": format!("{}:{}.{}.{}", app.image, rng.range(1, 9), rng.range(0, 30), rng.range(0, 9)),
        "imagePullPolicy": "IfNotPresent",
        "args": ["--port", app.port.to_string(), "--log-format=json", "--metrics-addr=:9090"],
        "ports": [{"name": "http", "containerPort": app.port, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
        "env": env,
        "resources": {"requests": {"cpu": format!("{}m", rng.range(50, 500)), "memory": format!("{}Mi", rng.range(64, 1024))},
                      "limits": {"memory": format!("{}Mi", rng.range(256, 2048))}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "initialDelaySeconds": 10, "periodSeconds": 10},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 5},
        "securityContext": {"runAsNonRoot": true, "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}, {"name": "tmp", "mountPath": "/tmp"}],
    })
}

fn pod_spec(app: &App, rng: &mut Rng) -> Value {
    let mut spec = json!({
        "serviceAccountName": app.name,
        "containers": [container(app, rng)],
        "volumes": [{"name": "config", "configMap": {"name": format!("{}-config", app.name)}},
                    {"name": "tmp", "emptyDir": {}}],
    });
    if rng.chance(0.3) {
        spec["tolerations"] = json!([{"key": "dedicated", "operator": "Equal", "value": app.team, "effect": "NoSchedule"}]);
        spec["nodeSelector"] = json!({"kubernetes.io/os": "linux"});
    }
    if rng.chance(0.3) {
        spec["affinity"] = json!({"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": {"topologyKey": "topology.kubernetes.io/zone",
              "labelSelector": {"matchLabels": {"app.kubernetes.io/name": app.name}}}}]}});
    }
    spec
}

fn deployment(app: &App, rng: &mut Rng, old: bool) -> Value {
    let api = if old {
        *rng.pick(&["extensions/v1beta1", "apps/v1beta2"])
    } else {
        "apps/v1"
    };
    json!({
        "apiVersion": api, "kind": "Deployment",
        "metadata": meta(app, &app.name, "server", rng),
        "spec": {
            "replicas": rng.range(1, 12),
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": {"app.kubernetes.io/name": app.name, "app.kubernetes.io/instance": app.name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": labels(app, "server"),
                             "annotations": {"checksum/config": rng.hex(64), "prometheus.io/scrape": "true"}},
                "spec": pod_spec(app, rng),
            }
        }
    })
}

fn statefulset(app: &App, rng: &mut Rng) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": meta(app, &format!("{}-db", app.name), "database", rng),
        "spec": {
            "serviceName": format!("{}-db", app.name), "replicas": 3,
            "selector": {"matchLabels": {"app.kubernetes.io/name": format!("{}-db", app.name)}},
            "template": {"metadata": {"labels": {"app.kubernetes.io/name": format!("{}-db", app.name)}},
                         "spec": pod_spec(app, rng)},
            "volumeClaimTemplates": [{"metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "gp3",
                         "resources": {"requests": {"storage": format!("{}Gi", rng.range(10, 500))}}}}]
        }
    })
}

fn service(app: &App, rng: &mut Rng) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": meta(app, &app.name, "server", rng),
        "spec": {"type": "ClusterIP",
                 "selector": {"app.kubernetes.io/name": app.name, "app.kubernetes.io/instance": app.name},
                 "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}
    })
}

fn ingress(app: &App, rng: &mut Rng, old: bool) -> Value {
    let host = format!("{}.{}.example.com", app.name, app.team);
    if old {
        let api = *rng.pick(&["extensions/v1beta1", "networking.k8s.io/v1beta1"]);
        return json!({
            "apiVersion": api, "kind": "Ingress",
            "metadata": meta(app, &app.name, "server", rng),
            "spec": {"rules": [{"host": host, "http": {"paths": [{"path": "/",
                "backend": {"serviceName": app.name, "servicePort": 80}}]}}]}
        });
    }
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": meta(app, &app.name, "server", rng),
        "spec": {
            "ingressClassName": "alb",
            "tls": [{"hosts": [host], "secretName": format!("{}-tls", app.name)}],
            "rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": app.name, "port": {"name": "http"}}}}]}}]
        }
    })
}

fn configmap(app: &App, rng: &mut Rng) -> Value {
    let mut conf = String::from("server {\n    listen 8080;\n    server_name _;\n\n");
    for i in 0..rng.range(2, 8) {
        let _ = write!(
            conf,
            "    location /api/v{i}/ {{\n        proxy_pass http://{}:{};\n        proxy_set_header Host $host;\n    }}\n",
            app.name, app.port
        );
    }
    conf.push_str("}\n");
    let mut props = String::new();
    for i in 0..rng.range(5, 20) {
        let _ = writeln!(props, "app.feature.{i}.enabled={}", rng.chance(0.5));
    }
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": meta(app, &format!("{}-config", app.name), "config", rng),
        "data": {
            "nginx.conf": conf,
            "application.properties": props,
            "entrypoint.sh": "#!/bin/sh\nset -eu\n# wait for the database: it's [not] always up\nuntil nc -z db 5432; do sleep 1; done\nexec /app \"$@\"\n",
            "LOG_LEVEL": "info",
        }
    })
}

fn cronjob(app: &App, rng: &mut Rng, old: bool) -> Value {
    json!({
        "apiVersion": if old { "batch/v1beta1" } else { "batch/v1" }, "kind": "CronJob",
        "metadata": meta(app, &format!("{}-cleanup", app.name), "cron", rng),
        "spec": {"schedule": format!("{} */{} * * *", rng.range(0, 59), rng.range(1, 6)),
                 "concurrencyPolicy": "Forbid", "successfulJobsHistoryLimit": 3,
                 "jobTemplate": {"spec": {"backoffLimit": 2, "template": {"spec": {
                     "restartPolicy": "OnFailure",
                     "containers": [{"name": "cleanup", "image": format!("{}:latest", app.image),
                                     "command": ["/app", "cleanup", "--older-than=720h"]}]}}}}}
    })
}

fn hpa(app: &App, rng: &mut Rng, old: bool) -> Value {
    json!({
        "apiVersion": if old { "autoscaling/v2beta2" } else { "autoscaling/v2" }, "kind": "HorizontalPodAutoscaler",
        "metadata": meta(app, &app.name, "server", rng),
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app.name},
                 "minReplicas": 2, "maxReplicas": rng.range(5, 50),
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                     "target": {"type": "Utilization", "averageUtilization": rng.range(50, 85)}}}]}
    })
}

fn pdb(app: &App, rng: &mut Rng, old: bool) -> Value {
    json!({
        "apiVersion": if old { "policy/v1beta1" } else { "policy/v1" }, "kind": "PodDisruptionBudget",
        "metadata": meta(app, &app.name, "server", rng),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": app.name}}}
    })
}

fn rbac(app: &App, rng: &mut Rng) -> Vec<Value> {
    vec![
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(app, &app.name, "server", rng)}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
               "metadata": meta(app, &app.name, "server", rng),
               "rules": [{"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["get", "list", "watch"]},
                         {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["*"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": meta(app, &app.name, "server", rng),
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": app.name},
               "subjects": [{"kind": "ServiceAccount", "name": app.name, "namespace": app.ns}]}),
    ]
}

fn netpol(app: &App, rng: &mut Rng) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": meta(app, &app.name, "server", rng),
        "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": app.name}},
                 "policyTypes": ["Ingress"],
                 "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress"}}}],
                              "ports": [{"port": app.port, "protocol": "TCP"}]}]}
    })
}

fn certificate(app: &App, rng: &mut Rng, old: bool) -> Value {
    json!({
        "apiVersion": if old { "cert-manager.io/v1alpha2" } else { "cert-manager.io/v1" }, "kind": "Certificate",
        "metadata": meta(app, &format!("{}-tls", app.name), "tls", rng),
        "spec": {"secretName": format!("{}-tls", app.name), "dnsNames": [format!("{}.{}.example.com", app.name, app.team)],
                 "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"}}
    })
}

fn servicemonitor(app: &App, rng: &mut Rng) -> Value {
    json!({
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": meta(app, &app.name, "metrics", rng),
        "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": app.name}},
                 "endpoints": [{"port": "metrics", "interval": "30s", "path": "/metrics"}]}
    })
}

fn flowschema(app: &App, rng: &mut Rng) -> Value {
    json!({
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1beta3", "kind": "FlowSchema",
        "metadata": {"name": format!("{}-{}", app.team, app.name)},
        "spec": {"priorityLevelConfiguration": {"name": "workload-low"}, "matchingPrecedence": rng.range(1000, 9000),
                 "rules": [{"subjects": [{"kind": "ServiceAccount", "serviceAccount": {"name": app.name, "namespace": app.ns}}],
                            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"], "namespaces": ["*"]}]}]}
    })
}

fn crd(app: &App, rng: &mut Rng) -> Value {
    let group = format!("{}.example.com", app.team);
    let mut props = Map::new();
    for i in 0..rng.range(10, 40) {
        props.insert(
            format!("field{i}"),
            json!({"type": *rng.pick(&["string", "integer", "boolean"]),
                   "description": format!("Field {i} of the {} resource; see the operator documentation for the meaning of each value.", app.name)}),
        );
    }
    let kind = format!("{}Config", capital(&app.name.replace('-', "")));
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{}configs.{group}", app.name.replace('-', ""))},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"kind": kind, "plural": format!("{}configs", app.name.replace('-', "")), "singular": format!("{}config", app.name.replace('-', ""))},
                 "versions": [{"name": "v1", "served": true, "storage": true,
                     "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                         "spec": {"type": "object", "properties": props}}}}}]}
    })
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

/// A chart template that was never rendered.
fn template(app: &App) -> String {
    format!(
        "{{{{- if .Values.ingress.enabled }}}}\n\
         apiVersion: {{{{ include \"common.capabilities.ingress.apiVersion\" . }}}}\n\
         kind: Ingress\n\
         metadata:\n  name: {{{{ include \"{n}.fullname\" . }}}}\n  labels:\n    {{{{- include \"{n}.labels\" . | nindent 4 }}}}\n\
         spec:\n  rules:\n    {{{{- range .Values.ingress.hosts }}}}\n    - host: {{{{ .host | quote }}}}\n    {{{{- end }}}}\n\
         {{{{- end }}}}\n",
        n = app.name
    )
}

// ───────────────────────────── files ─────────────────────────────

#[derive(Default)]
struct Totals {
    files: usize,
    bytes: usize,
    documents: usize,
    old_objects: usize,
    json: usize,
    lists: usize,
    templates: usize,
}

const IMAGES: &[&str] = &[
    "registry.example.com/platform/api",
    "registry.example.com/shop/checkout",
    "ghcr.io/example/worker",
    "public.ecr.aws/example/frontend",
];
const WORDS: &[&str] = &[
    "orders",
    "billing",
    "search",
    "catalog",
    "auth",
    "payments",
    "inventory",
    "reports",
    "gateway",
    "notifier",
    "ledger",
    "profile",
    "media",
    "pricing",
    "shipping",
    "reviews",
];

fn write(dir: &Path, name: &str, text: &str, docs: usize, t: &mut Totals) -> Result<()> {
    std::fs::write(dir.join(name), text)
        .with_context(|| format!("writing {}", dir.join(name).display()))?;
    t.files += 1;
    t.bytes += text.len();
    t.documents += docs;
    Ok(())
}

/// The files of one app (3–8), as many as `budget` allows.
fn app_files(dir: &Path, app: &App, budget: usize, rng: &mut Rng, t: &mut Totals) -> Result<usize> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let helm = rng.chance(0.35);
    let st = Style {
        indent_sequences: helm || rng.chance(0.3),
        flow_small_maps: rng.chance(0.15),
        flow_metadata: false,
    };
    let old = |rng: &mut Rng, t: &mut Totals| {
        let o = rng.chance(0.02);
        t.old_objects += usize::from(o);
        o
    };
    let mut objects: Vec<(&str, Value)> = vec![
        ("deployment", {
            let o = old(rng, t);
            deployment(app, rng, o)
        }),
        ("service", service(app, rng)),
        ("configmap", configmap(app, rng)),
    ];
    if rng.chance(0.6) {
        let o = old(rng, t);
        objects.push(("ingress", ingress(app, rng, o)));
    }
    if rng.chance(0.5) {
        let o = old(rng, t);
        objects.push(("hpa", hpa(app, rng, o)));
    }
    if rng.chance(0.5) {
        let o = old(rng, t);
        objects.push(("pdb", pdb(app, rng, o)));
    }
    if rng.chance(0.3) {
        let o = old(rng, t);
        objects.push(("cronjob", cronjob(app, rng, o)));
    }
    if rng.chance(0.2) {
        objects.push(("statefulset", statefulset(app, rng)));
    }
    if rng.chance(0.3) {
        objects.push(("networkpolicy", netpol(app, rng)));
    }
    if rng.chance(0.25) {
        let o = old(rng, t);
        objects.push(("certificate", certificate(app, rng, o)));
    }
    if rng.chance(0.3) {
        objects.push(("servicemonitor", servicemonitor(app, rng)));
    }
    if rng.chance(0.04) {
        objects.push(("crd", crd(app, rng)));
    }
    if rng.chance(0.005) {
        t.old_objects += 1;
        objects.push(("flowschema", flowschema(app, rng)));
    }
    let mut written = 0;
    if helm {
        // Helm output: RBAC and the rest in one multi-document file, a few files apart.
        let mut text = String::new();
        let mut docs = 0;
        for o in rbac(app, rng)
            .into_iter()
            .chain(objects.drain(2..).map(|(_, v)| v))
        {
            let kind = o["kind"].as_str().unwrap_or("object").to_lowercase();
            let _ = write!(text, "---\n# Source: {}/templates/{kind}.yaml\n", app.name);
            text.push_str(&yaml(&o, st));
            docs += 1;
        }
        write(dir, "rendered.yaml", &text, docs, t)?;
        written += 1;
    } else {
        let rb: Vec<String> = rbac(app, rng).iter().map(|o| yaml(o, st)).collect();
        if written < budget {
            write(dir, "rbac.yaml", &rb.join("---\n"), 3, t)?;
            written += 1;
        }
    }
    for (name, o) in objects {
        if written >= budget {
            break;
        }
        if rng.chance(0.03) {
            t.json += 1;
            let text = serde_json::to_string_pretty(&o)? + "\n";
            write(dir, &format!("{name}.json"), &text, 1, t)?;
        } else {
            let st = Style {
                flow_metadata: rng.chance(0.03),
                ..st
            };
            let header = if rng.chance(0.3) {
                format!(
                    "# {} — owned by {}; changes go through review\n",
                    app.name, app.team
                )
            } else {
                String::new()
            };
            write(
                dir,
                &format!("{name}.yaml"),
                &(header + &yaml(&o, st)),
                1,
                t,
            )?;
        }
        written += 1;
    }
    if written < budget && rng.chance(0.015) {
        t.lists += 1;
        let list = json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
                          "items": [service(app, rng), pdb(app, rng, false)]});
        write(dir, "list.yaml", &yaml(&list, st), 1, t)?;
        written += 1;
    }
    if written < budget && rng.chance(0.003) {
        t.templates += 1;
        let tdir = dir.join("chart/templates");
        std::fs::create_dir_all(&tdir)?;
        write(&tdir, "ingress.yaml", &template(app), 1, t)?;
        written += 1;
    }
    Ok(written)
}

fn prepare_out(out: &Path) -> Result<()> {
    let marker = out.join(".gen-manifests");
    if out.exists() {
        let empty = std::fs::read_dir(out)?.next().is_none();
        if !empty && !marker.exists() {
            bail!(
                "{} is not empty and was not written by gen-manifests; choose another --out",
                out.display()
            );
        }
        if !empty {
            std::fs::remove_dir_all(out).with_context(|| format!("removing {}", out.display()))?;
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::write(
        &marker,
        "written by examples/gen-manifests.rs (incomplete)\n",
    )?;
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.files == 0 {
        bail!("--files must be at least 1");
    }
    prepare_out(&args.out)?;
    let mut rng = Rng(args.seed);
    let mut t = Totals::default();
    let mut i = 0usize;
    while t.files < args.files {
        let team = format!("team-{:02}", i / 50);
        let word = *rng.pick(WORDS);
        let app = App {
            name: format!("{word}-{}", rng.hex(4)),
            ns: format!("{}-{word}", &team),
            team: team.clone(),
            image: rng.pick(IMAGES).to_string(),
            port: rng.range(3000, 9000),
        };
        let dir = args.out.join(&team).join(format!("app-{i:05}"));
        app_files(&dir, &app, args.files - t.files, &mut rng, &mut t)?;
        i += 1;
    }
    // Only a finished corpus says what it holds, so a script can tell it may reuse it.
    std::fs::write(
        args.out.join(".gen-manifests"),
        format!(
            "written by examples/gen-manifests.rs\nfiles={} seed={}\n",
            args.files, args.seed
        ),
    )?;
    eprintln!(
        "wrote {} files ({:.1} MB, {} documents) in {} apps to {}: {} objects with old API versions, {} JSON files, {} Lists, {} unrendered templates",
        t.files,
        t.bytes as f64 / 1e6,
        t.documents,
        i,
        args.out.display(),
        t.old_objects,
        t.json,
        t.lists,
        t.templates
    );
    Ok(())
}
