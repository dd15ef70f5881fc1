//! eksctl's compute and add-on sections: `managedNodeGroups`, `fargateProfiles`, `addons`
//! (eksctl-io/eksctl `pkg/apis/eksctl.io/v1alpha5`: `types.go` ManagedNodeGroup,
//! NodeGroupBase, FargateProfile; `addon.go` Addon).

use std::collections::BTreeMap;

use serde_json::{json, Value as J};

use super::{flag, items, number, string_map, strings, text, Cx, Subnets, PLACEHOLDER_ROLE};
use crate::config::yaml::{Node, Value};
use crate::import::{Doc, ImportedCluster};
use crate::model::Kind;

/// eksctl's `amiFamily` → the EKS AMI type, by the instance type's architecture (a `g`
/// after the generation digit is Graviton: m7g, c6gn, t4g).
fn ami_type(family: &str, instance: Option<&str>) -> Option<&'static str> {
    let arm = instance.is_some_and(|t| {
        let fam = t.split('.').next().unwrap_or_default();
        fam.trim_start_matches(|c: char| c.is_ascii_alphabetic())
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .contains('g')
    });
    Some(match (family, arm) {
        ("AmazonLinux2023", false) => "AL2023_x86_64_STANDARD",
        ("AmazonLinux2023", true) => "AL2023_ARM_64_STANDARD",
        ("AmazonLinux2", false) => "AL2_x86_64",
        ("AmazonLinux2", true) => "AL2_ARM_64",
        ("Bottlerocket", false) => "BOTTLEROCKET_x86_64",
        ("Bottlerocket", true) => "BOTTLEROCKET_ARM_64",
        ("WindowsServer2019CoreContainer", _) => "WINDOWS_CORE_2019_x86_64",
        ("WindowsServer2019FullContainer", _) => "WINDOWS_FULL_2019_x86_64",
        ("WindowsServer2022CoreContainer", _) => "WINDOWS_CORE_2022_x86_64",
        ("WindowsServer2022FullContainer", _) => "WINDOWS_FULL_2022_x86_64",
        _ => return None,
    })
}

pub(super) fn managed_node_groups(
    cx: &mut Cx<'_>,
    top: &BTreeMap<&str, &Node>,
    subnets: &Subnets,
    out: &mut ImportedCluster,
) {
    for (i, g) in items(top.get("managedNodeGroups")).into_iter().enumerate() {
        let path = format!("managedNodeGroups[{i}]");
        let m = cx.entries(g, &path, &["name", "instanceType", "instanceTypes", "amiFamily", "minSize", "maxSize", "desiredCapacity", "volumeSize", "labels", "taints", "tags", "spot", "iam", "subnets", "privateNetworking", "ssh", "updateConfig", "launchTemplate", "releaseVersion"], "no keelson equivalent on a managed node group; set it in a launch template (spec.launchTemplate) or drop it");
        let Some(name) = text(m.get("name")) else {
            cx.leave(g.pos, &path, "no name");
            continue;
        };
        let mut types = strings(m.get("instanceTypes"));
        types.extend(text(m.get("instanceType")));
        let mut spec = json!({});
        let role = m.get("iam").map(|n| cx.entries(n, &format!("{path}.iam"), &["instanceRoleARN"], "keelson does not create IAM roles; create the node role and set instanceRoleARN")).and_then(|im| text(im.get("instanceRoleARN")));
        spec["nodeRoleArn"] = J::String(role.unwrap_or_else(|| {
            cx.leave(g.pos, &format!("{path}.iam.instanceRoleARN"), "not set: eksctl creates the node role; create it and replace REPLACE-ME in spec.nodeRoleArn");
            PLACEHOLDER_ROLE.into()
        }));
        let private = flag(m.get("privateNetworking")) == Some(true);
        let mut ids: Vec<String> = strings(m.get("subnets"))
            .into_iter()
            .filter(|s| s.starts_with("subnet-"))
            .collect();
        if strings(m.get("subnets")).len() != ids.len() {
            if let Some(n) = m.get("subnets") {
                cx.leave(n.pos, &format!("{path}.subnets"), "names availability zones or subnets by name; keelson takes subnet ids: write them");
            }
        }
        if ids.is_empty() {
            // eksctl places managed nodes in the public subnets unless privateNetworking.
            ids = if private {
                subnets.private.clone()
            } else {
                subnets.public.clone()
            };
            if ids.is_empty() {
                ids = subnets
                    .private
                    .iter()
                    .chain(&subnets.public)
                    .cloned()
                    .collect();
            }
        }
        if ids.is_empty() {
            cx.leave(
                g.pos,
                &format!("{path}.subnets"),
                "no subnet ids to place the nodes in; write spec.subnetIds",
            );
            ids = vec!["subnet-00000000".into()];
        }
        spec["subnetIds"] = json!(ids);
        if !types.is_empty() {
            spec["instanceTypes"] = json!(types);
        }
        let family = text(m.get("amiFamily")).unwrap_or_else(|| "AmazonLinux2023".into());
        match ami_type(&family, types.first().map(String::as_str)) {
            Some(t) => spec["amiType"] = J::String(t.into()),
            None => {
                if let Some(n) = m.get("amiFamily") {
                    cx.leave(n.pos, &format!("{path}.amiFamily"), &format!("`{family}` has no EKS AMI type: a managed node group runs it only as a custom AMI in a launch template (amiType CUSTOM)"));
                }
            }
        }
        if flag(m.get("spot")) == Some(true) {
            spec["capacityType"] = J::String("SPOT".into());
        }
        // eksctl's sizes: desired 2 when none is given, min and max default to desired.
        let desired = number(m.get("desiredCapacity"));
        let min = number(m.get("minSize")).or(desired).unwrap_or(2);
        let max = number(m.get("maxSize")).or(desired).unwrap_or(2).max(1);
        let mut scaling = json!({"minSize": min, "maxSize": max});
        if let Some(d) = desired {
            scaling["desiredSize"] = json!(d);
        }
        spec["scaling"] = scaling;
        if let Some(v) = number(m.get("volumeSize")) {
            spec["diskSize"] = json!(v);
        }
        let labels = string_map(m.get("labels"));
        if !labels.is_empty() {
            spec["labels"] = json!(labels);
        }
        let mut taints = Vec::new();
        for t in items(m.get("taints")) {
            let tm = cx.entries(
                t,
                &format!("{path}.taints"),
                &["key", "value", "effect"],
                "keelson has no equivalent",
            );
            let effect = match text(tm.get("effect")).as_deref() {
                Some("NoSchedule") | Some("NO_SCHEDULE") => "NO_SCHEDULE",
                Some("NoExecute") | Some("NO_EXECUTE") => "NO_EXECUTE",
                Some("PreferNoSchedule") | Some("PREFER_NO_SCHEDULE") => "PREFER_NO_SCHEDULE",
                _ => "NO_SCHEDULE",
            };
            let mut x = json!({"key": text(tm.get("key")).unwrap_or_default(), "effect": effect});
            if let Some(v) = text(tm.get("value")) {
                x["value"] = J::String(v);
            }
            taints.push(x);
        }
        if !taints.is_empty() {
            spec["taints"] = J::Array(taints);
        }
        if let Some(u) = m.get("updateConfig") {
            let um = cx.entries(
                u,
                &format!("{path}.updateConfig"),
                &["maxUnavailable", "maxUnavailablePercentage"],
                "keelson has no equivalent",
            );
            let mut uc = json!({});
            if let Some(v) = number(um.get("maxUnavailable")) {
                uc["maxUnavailable"] = json!(v);
            }
            if let Some(v) = number(um.get("maxUnavailablePercentage")) {
                uc["maxUnavailablePercentage"] = json!(v);
            }
            spec["updateConfig"] = uc;
        }
        if let Some(l) = m.get("launchTemplate") {
            let lm = cx.entries(
                l,
                &format!("{path}.launchTemplate"),
                &["id", "version"],
                "keelson has no equivalent",
            );
            let mut lt = json!({});
            if let Some(id) = text(lm.get("id")) {
                lt["id"] = J::String(id);
            }
            if let Some(v) = text(lm.get("version")) {
                lt["version"] = J::String(v);
            }
            spec["launchTemplate"] = lt;
        }
        if let Some(r) = text(m.get("releaseVersion")) {
            spec["releaseVersion"] = J::String(r);
        }
        if let Some(s) = m.get("ssh") {
            let sm = cx.entries(
                s,
                &format!("{path}.ssh"),
                &["allow", "publicKeyName", "sourceSecurityGroupIds"],
                "keelson has no equivalent; use a launch template",
            );
            if flag(sm.get("allow")) == Some(true) || sm.contains_key("publicKeyName") {
                let mut ra = json!({});
                if let Some(k) = text(sm.get("publicKeyName")) {
                    ra["ec2SshKey"] = J::String(k);
                }
                let sgs = strings(sm.get("sourceSecurityGroupIds"));
                if !sgs.is_empty() {
                    ra["sourceSecurityGroups"] = json!(sgs);
                }
                spec["remoteAccess"] = ra;
            }
        }
        let tags = string_map(m.get("tags"));
        if !tags.is_empty() {
            spec["tags"] = json!(tags);
        }
        out.docs.push(Doc::new(Kind::NodeGroup, &name, &spec));
    }
}

pub(super) fn fargate(
    cx: &mut Cx<'_>,
    top: &BTreeMap<&str, &Node>,
    default_role: Option<String>,
    out: &mut ImportedCluster,
) {
    for (i, f) in items(top.get("fargateProfiles")).into_iter().enumerate() {
        let path = format!("fargateProfiles[{i}]");
        let m = cx.entries(
            f,
            &path,
            &[
                "name",
                "selectors",
                "podExecutionRoleARN",
                "subnets",
                "tags",
            ],
            "keelson has no equivalent",
        );
        let Some(name) = text(m.get("name")) else {
            cx.leave(f.pos, &path, "no name");
            continue;
        };
        let role = text(m.get("podExecutionRoleARN")).or_else(|| default_role.clone()).unwrap_or_else(|| {
            cx.leave(f.pos, &format!("{path}.podExecutionRoleARN"), "not set: eksctl creates the pod execution role; create it and replace REPLACE-ME");
            PLACEHOLDER_ROLE.into()
        });
        let mut selectors = Vec::new();
        for s in items(m.get("selectors")) {
            let sm = cx.entries(
                s,
                &format!("{path}.selectors"),
                &["namespace", "labels"],
                "keelson has no equivalent",
            );
            let mut x = json!({"namespace": text(sm.get("namespace")).unwrap_or_default()});
            let labels = string_map(sm.get("labels"));
            if !labels.is_empty() {
                x["labels"] = json!(labels);
            }
            selectors.push(x);
        }
        let mut spec = json!({"podExecutionRoleArn": role, "selectors": selectors});
        let subnets = strings(m.get("subnets"));
        if !subnets.is_empty() {
            spec["subnetIds"] = json!(subnets);
        }
        let tags = string_map(m.get("tags"));
        if !tags.is_empty() {
            spec["tags"] = json!(tags);
        }
        out.docs.push(Doc::new(Kind::FargateProfile, &name, &spec));
    }
}

pub(super) fn addons(cx: &mut Cx<'_>, top: &BTreeMap<&str, &Node>, out: &mut ImportedCluster) {
    for (i, a) in items(top.get("addons")).into_iter().enumerate() {
        let path = format!("addons[{i}]");
        let m = cx.entries(a, &path, &["name", "version", "serviceAccountRoleARN", "configurationValues", "resolveConflicts", "podIdentityAssociations", "tags"], "keelson does not create IAM roles or policies for add-ons; create the role and set serviceAccountRoleARN or podIdentityAssociations[].roleARN");
        let Some(name) = text(m.get("name")) else {
            cx.leave(a.pos, &path, "no name");
            continue;
        };
        // Absent: eksctl installs EKS's default version.
        let version = match text(m.get("version")).as_deref() {
            None | Some("") => "default".to_string(),
            Some("latest") => "latest".to_string(),
            Some(v) if v.starts_with('v') => v.to_string(),
            Some(v) => format!("v{v}"),
        };
        let mut spec = json!({"version": version});
        if let Some(r) = text(m.get("serviceAccountRoleARN")) {
            spec["serviceAccountRoleArn"] = J::String(r);
        }
        if let Some(c) = m.get("configurationValues") {
            let v = match &c.value {
                Value::Str(s) => serde_json::from_str(s).unwrap_or(J::String(s.clone())),
                _ => c.to_json(),
            };
            spec["configurationValues"] = v;
        }
        if let Some(r) = text(m.get("resolveConflicts")) {
            spec["resolveConflicts"] = J::String(r.to_ascii_uppercase());
        }
        let mut pia = Vec::new();
        for (j, p) in items(m.get("podIdentityAssociations"))
            .into_iter()
            .enumerate()
        {
            let pp = format!("{path}.podIdentityAssociations[{j}]");
            let pm = cx.entries(
                p,
                &pp,
                &["serviceAccountName", "roleARN", "namespace"],
                "keelson does not create IAM roles; create the role and set roleARN",
            );
            match (text(pm.get("serviceAccountName")), text(pm.get("roleARN"))) {
                (Some(sa), Some(r)) => pia.push(json!({"serviceAccount": sa, "roleArn": r})),
                _ => cx.leave(
                    p.pos,
                    &pp,
                    "needs serviceAccountName and roleARN (eksctl would create the role)",
                ),
            }
        }
        if !pia.is_empty() {
            spec["podIdentityAssociations"] = J::Array(pia);
        }
        let tags = string_map(m.get("tags"));
        if !tags.is_empty() {
            spec["tags"] = json!(tags);
        }
        out.docs.push(Doc::new(Kind::Addon, &name, &spec));
    }
}
