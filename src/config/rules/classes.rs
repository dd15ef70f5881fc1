//! StorageClass, IngressClass and IngressClassParams rules: what EKS Auto Mode accepts
//! beyond the schemas, and how the three fit together in one cluster.
//!
//! ```text
//!  StorageClass ──provisioner──► ebs.csi.eks.amazonaws.com     (Auto Mode block storage)
//!  IngressClass ──controller───► eks.amazonaws.com/alb         (Auto Mode load balancing)
//!               └─parameters──► IngressClassParams (declared in the same cluster)
//!  at most one `is-default-class: "true"` per kind and cluster
//! ```
//!
//! Sources: the EKS user guide, "Create a storage class" (create-storage-class: "You must
//! create a StorageClass referencing ebs.csi.eks.amazonaws.com to use the storage
//! capability of EKS Auto Mode") and "Create an IngressClass to configure an Application
//! Load Balancer" (auto-configure-alb: controller `eks.amazonaws.com/alb`, parameters
//! apiGroup `eks.amazonaws.com`, kind `IngressClassParams`; "You cannot use Annotations on
//! an IngressClass to configure load balancers"). The self-managed names are those of the
//! aws-ebs-csi-driver (`ebs.csi.aws.com`, which the in-tree `kubernetes.io/aws-ebs`
//! migrates to) and the AWS Load Balancer Controller (`ingress.k8s.aws/alb`). The default
//! annotations and their `"true"` value are Kubernetes' (`storageutil.IsDefaultAnnotation`,
//! `networking.k8s.io/v1` `AnnotationIsDefaultIngressClass`). The subnets rule is the
//! controller CRD's ("Exactly one of this or `tags` must be specified").

use std::collections::BTreeSet;

use super::nodepool::object_name;
use super::Ctx;
use crate::config::diag::Rule;
use crate::config::repo::ClusterConfig;
use crate::model::*;

/// Auto Mode's built-in EBS CSI driver.
pub(crate) const EBS_AUTO_PROVISIONER: &str = "ebs.csi.eks.amazonaws.com";
/// EBS provisioners that need a self-managed driver (the EBS CSI add-on, or the in-tree
/// plugin that CSI migration hands to it).
const EBS_SELF_MANAGED: &[&str] = &["ebs.csi.aws.com", "kubernetes.io/aws-ebs"];
/// Auto Mode's built-in load balancer controller, for Application Load Balancers.
pub(crate) const ALB_AUTO_CONTROLLER: &str = "eks.amazonaws.com/alb";
/// The self-managed AWS Load Balancer Controller's name.
const ALB_SELF_MANAGED: &str = "ingress.k8s.aws/alb";
/// The API group of Auto Mode's IngressClassParams.
pub(crate) const PARAMS_GROUP: &str = "eks.amazonaws.com";
/// The annotation that makes a StorageClass the default.
pub(crate) const DEFAULT_STORAGE_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
/// The annotation that makes an IngressClass the default.
pub(crate) const DEFAULT_INGRESS_CLASS: &str = "ingressclass.kubernetes.io/is-default-class";

/// Every rule of this file, for one cluster.
pub(super) fn check(c: &ClusterConfig, cx: &mut Ctx<'_>) {
    let am = c.cluster.value.spec.auto_mode.as_ref();
    let storage = am.is_some_and(|a| a.block_storage.enabled);
    let lb = am.is_some_and(|a| a.load_balancing.enabled);
    storage_rules(c, storage, cx);
    ingress_rules(c, lb, cx);
    params_rules(c, lb, cx);
    default_rules(c, cx);
}

fn storage_rules(c: &ClusterConfig, auto: bool, cx: &mut Ctx<'_>) {
    for s in &c.storage_classes {
        let v = &s.value;
        object_name(Kind::StorageClass, s.doc, &v.metadata.name, cx);
        let p = v.provisioner.as_str();
        if auto && EBS_SELF_MANAGED.contains(&p) {
            cx.report(
                s.doc,
                "provisioner",
                Rule::StorageClassProvisioner,
                format!(
                    "provisioner `{p}` is the self-managed EBS CSI driver, which does nothing on EKS Auto Mode: volumes of StorageClass `{}` would stay Pending; write `provisioner: {EBS_AUTO_PROVISIONER}`",
                    v.metadata.name
                ),
            );
        } else if !auto && p == EBS_AUTO_PROVISIONER {
            cx.report(
                s.doc,
                "provisioner",
                Rule::StorageClassProvisioner,
                format!(
                    "provisioner `{EBS_AUTO_PROVISIONER}` exists only with EKS Auto Mode block storage, which cluster `{}` does not enable; write `provisioner: ebs.csi.aws.com` (with the aws-ebs-csi-driver add-on) or enable Auto Mode",
                    c.name()
                ),
            );
        }
    }
}

fn ingress_rules(c: &ClusterConfig, auto: bool, cx: &mut Ctx<'_>) {
    let declared: BTreeSet<&str> = c
        .ingress_class_params
        .iter()
        .map(|p| p.value.metadata.name.as_str())
        .chain(
            c.broken
                .iter()
                .filter(|(k, _)| *k == Kind::IngressClassParams)
                .map(|(_, n)| n.as_str()),
        )
        .collect();
    for i in &c.ingress_classes {
        let v = &i.value;
        object_name(Kind::IngressClass, i.doc, &v.metadata.name, cx);
        let controller = v.spec.controller.as_deref().unwrap_or_default();
        if auto && controller == ALB_SELF_MANAGED {
            cx.report(
                i.doc,
                "spec.controller",
                Rule::IngressClassController,
                format!(
                    "controller `{ALB_SELF_MANAGED}` is the self-managed AWS Load Balancer Controller, which EKS Auto Mode does not run: Ingresses of class `{}` would get no load balancer; write `controller: {ALB_AUTO_CONTROLLER}`",
                    v.metadata.name
                ),
            );
            continue;
        }
        if controller != ALB_AUTO_CONTROLLER {
            continue;
        }
        if !auto {
            cx.report(
                i.doc,
                "spec.controller",
                Rule::IngressClassController,
                format!(
                    "controller `{ALB_AUTO_CONTROLLER}` exists only with EKS Auto Mode load balancing, which cluster `{}` does not enable; enable Auto Mode or use the AWS Load Balancer Controller's `{ALB_SELF_MANAGED}`",
                    c.name()
                ),
            );
            continue;
        }
        let Some(p) = &v.spec.parameters else {
            cx.report(
                i.doc,
                "spec",
                Rule::IngressClassParameters,
                format!(
                    "IngressClass `{}` has no `parameters`: EKS Auto Mode is configured through IngressClassParams, not annotations; add `parameters: {{apiGroup: {PARAMS_GROUP}, kind: IngressClassParams, name: ...}}`",
                    v.metadata.name
                ),
            );
            continue;
        };
        if p.api_group.as_deref() != Some(PARAMS_GROUP) || p.kind != "IngressClassParams" {
            let (path, found) = if p.api_group.as_deref() != Some(PARAMS_GROUP) {
                (
                    "spec.parameters.apiGroup",
                    p.api_group.clone().unwrap_or_else(|| "(none)".into()),
                )
            } else {
                ("spec.parameters.kind", p.kind.clone())
            };
            cx.report(
                i.doc,
                path,
                Rule::IngressClassParameters,
                format!(
                    "EKS Auto Mode takes its parameters from `{PARAMS_GROUP}` IngressClassParams, found `{found}` (the self-managed controller's `elbv2.k8s.aws` is not served); write `apiGroup: {PARAMS_GROUP}` and `kind: IngressClassParams`"
                ),
            );
            continue;
        }
        if p.scope == Some(ParametersScope::Namespace) || p.namespace.is_some() {
            cx.report(
                i.doc,
                if p.scope.is_some() {
                    "spec.parameters.scope"
                } else {
                    "spec.parameters.namespace"
                },
                Rule::IngressClassParameters,
                "IngressClassParams are cluster-scoped: leave out `scope` and `namespace` (or write `scope: Cluster`)",
            );
            continue;
        }
        if !declared.contains(p.name.as_str()) {
            let hint = crate::config::diag::suggest(&p.name, declared.iter().copied())
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_else(|| {
                    " (declare one in this cluster's directory: apiVersion: eks.amazonaws.com/v1, kind: IngressClassParams)".into()
                });
            cx.report(
                i.doc,
                "spec.parameters.name",
                Rule::UnknownIngressClassParams,
                format!(
                    "IngressClassParams `{}` is not declared for cluster `{}`{hint}",
                    p.name,
                    c.name()
                ),
            );
        }
    }
}

fn params_rules(c: &ClusterConfig, auto: bool, cx: &mut Ctx<'_>) {
    for p in &c.ingress_class_params {
        let v = &p.value;
        object_name(Kind::IngressClassParams, p.doc, &v.metadata.name, cx);
        if !auto {
            cx.report(
                p.doc,
                "kind",
                Rule::IngressClassController,
                format!(
                    "IngressClassParams `{}` needs EKS Auto Mode load balancing, which cluster `{}` does not enable (the self-managed controller's kind is `elbv2.k8s.aws/v1beta1` IngressClassParams)",
                    v.metadata.name,
                    c.name()
                ),
            );
        }
        if let Some(s) = &v.spec.subnets {
            if s.ids.is_empty() == s.match_tags.is_empty() {
                cx.report(
                    p.doc,
                    "spec.subnets",
                    Rule::IngressClassParamsSubnets,
                    if s.ids.is_empty() {
                        "subnets names no subnet: list `ids` or `matchTags`, or leave `subnets` out to let Auto Mode pick tagged subnets"
                    } else {
                        "subnets sets both `ids` and `matchTags`: keep one"
                    },
                );
            }
        }
    }
}

fn default_rules(c: &ClusterConfig, cx: &mut Ctx<'_>) {
    let storage = c
        .storage_classes
        .iter()
        .map(|s| (s.doc, &s.value.metadata, &s.origin));
    defaults(Kind::StorageClass, DEFAULT_STORAGE_CLASS, storage, c, cx);
    let ingress = c
        .ingress_classes
        .iter()
        .map(|s| (s.doc, &s.value.metadata, &s.origin));
    defaults(Kind::IngressClass, DEFAULT_INGRESS_CLASS, ingress, c, cx);
}

fn defaults<'a>(
    kind: Kind,
    annotation: &str,
    items: impl Iterator<Item = (usize, &'a Metadata, &'a crate::config::repo::Origin)>,
    c: &ClusterConfig,
    cx: &mut Ctx<'_>,
) {
    let mut first: Option<(&str, &crate::config::repo::Origin)> = None;
    for (doc, meta, origin) in items {
        if meta.annotations.get(annotation).map(String::as_str) != Some("true") {
            continue;
        }
        match first {
            None => first = Some((&meta.name, origin)),
            Some((name, o)) => cx.report_key(
                doc,
                "metadata.annotations",
                annotation,
                Rule::DefaultClassDuplicate,
                format!(
                    "{kind} `{}` is marked default, but `{name}` already is (at {}:{}) in cluster `{}`; {}: keep `{annotation}: \"true\"` on one",
                    meta.name,
                    o.file,
                    o.line,
                    c.name(),
                    if kind == Kind::IngressClass {
                        "the API server then refuses every Ingress without `ingressClassName`"
                    } else {
                        "claims without a class then get whichever default is newest"
                    }
                ),
            ),
        }
    }
}
