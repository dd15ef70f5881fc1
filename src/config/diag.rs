//! Diagnostics: every problem found in a config repo, with its position and rule id.

use std::fmt;

use serde::Serialize;

use super::yaml::Pos;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The repo is invalid; nothing is applied from it.
    Error,
    /// Worth a look; does not make the repo invalid.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

macro_rules! define_rules {
    ($($var:ident = ($id:literal, $sev:ident, $summary:literal)),+ $(,)?) => {
        /// Every rule keelson checks. Each has a stable id that appears in output and in
        /// the README's rule table.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rule {
            $(
                #[doc = $summary]
                $var,
            )+
        }

        impl Rule {
            /// Every rule, in documentation order.
            pub const ALL: &'static [Rule] = &[$(Rule::$var),+];

            /// The stable id, e.g. `auto-mode-trio`.
            pub fn id(self) -> &'static str {
                match self { $(Rule::$var => $id),+ }
            }

            /// The severity the rule reports with.
            pub fn severity(self) -> Severity {
                match self { $(Rule::$var => Severity::$sev),+ }
            }

            /// One sentence on what the rule checks.
            pub fn summary(self) -> &'static str {
                match self { $(Rule::$var => $summary),+ }
            }
        }
    };
}

define_rules! {
    FileUnreadable = ("file-unreadable", Error, "The file could not be read."),
    FileTooLarge = ("file-too-large", Error, "The file is larger than keelson reads (16 MiB)."),
    FileEncoding = ("file-encoding", Error, "The file is not valid UTF-8."),
    SymlinkEscape = ("symlink-escape", Error, "A symbolic link points outside the repository."),
    EmptyFile = ("empty-file", Warning, "The file holds no documents."),
    SkippedFile = ("skipped-file", Warning, "A file named like YAML that keelson does not read: only `.yaml` and `.yml` in lower case are."),
    YamlSyntax = ("yaml-syntax", Error, "The text is not well-formed YAML."),
    YamlLimit = ("yaml-limit", Error, "Nesting depth or the number of values (alias expansions included) is over the limit."),
    YamlDuplicateKey = ("yaml-duplicate-key", Error, "A mapping has the same key twice."),
    YamlUnsupported = ("yaml-unsupported", Error, "A YAML feature keelson does not accept: custom tags, complex keys."),
    NotAMapping = ("not-a-mapping", Error, "A document is not a mapping."),
    MissingKind = ("missing-kind", Error, "A document has no `apiVersion` or `kind`."),
    UnknownKind = ("unknown-kind", Error, "An apiVersion/kind keelson owns but does not know (e.g. a misspelt kind)."),
    SchemaType = ("schema-type", Error, "A value has the wrong type."),
    SchemaEnum = ("schema-enum", Error, "A value is not one of the allowed values."),
    SchemaRequired = ("schema-required", Error, "A required field is missing."),
    UnknownField = ("unknown-field", Error, "A field that does not exist (the nearest valid field is suggested)."),
    SchemaValue = ("schema-value", Error, "A value is out of range, too long, too short or of the wrong form."),
    UnsupportedVersion = ("unsupported-version", Warning, "The Kubernetes version is past end of extended support on EKS by keelson's calendar (a warning on that cluster: EKS upgrades it itself)."),
    VersionNotInCalendar = ("version-not-in-calendar", Warning, "The Kubernetes version is newer than keelson's built-in calendar or not released by it; against AWS the dates come from DescribeClusterVersions."),
    ExtendedSupport = ("extended-support", Warning, "The Kubernetes version is past standard support (extended support costs extra)."),
    FleetMissing = ("fleet-missing", Error, "The repository has Clusters but no Fleet document."),
    FleetDuplicate = ("fleet-duplicate", Error, "More than one Fleet document."),
    StageDuplicate = ("stage-duplicate", Error, "Two Fleet stages have the same name."),
    SoakPastRollbackWindow = ("soak-past-rollback-window", Warning, "A stage's `soak` is longer than the 7 days in which EKS can roll a control-plane upgrade back."),
    BakeNeedsSkew = ("bake-needs-skew", Error, "A stage bakes its nodes (`upgrade.nodes: bake`) while the Fleet's `maxKubeletSkew` is 0."),
    BakeWithoutSoak = ("bake-without-soak", Warning, "A stage bakes its nodes (`upgrade.nodes: bake`) but has no `soak`, so the bake ends when the hop completes."),
    OperatorRoleAccount = ("operator-role-account", Error, "A Cluster's operatorRoleArn is in another account than its `spec.account`, or two Fleet accounts share an id."),
    NotificationTarget = ("notification-target", Error, "A Fleet notification target is incomplete: one URL (`url` or `urlFrom`) for a webhook or Slack, a `tokenFrom` for githubStatus, a secret from exactly one of `env` and `file`."),
    UnknownStage = ("unknown-stage", Error, "A Cluster names a stage the Fleet does not define."),
    DuplicateCluster = ("duplicate-cluster", Error, "Two Cluster documents with the same name in the same account and region."),
    ClusterDirConflict = ("cluster-dir-conflict", Error, "Two Cluster documents in one directory, so the directory's other documents have no single owner."),
    DuplicateDocument = ("duplicate-document", Error, "Two documents of the same kind and name in one cluster."),
    OrphanDocument = ("orphan-document", Error, "A document with no Cluster in its directory or any directory above it."),
    AutoModeTrio = ("auto-mode-trio", Error, "Auto Mode compute, block storage and load balancing must be enabled or disabled together."),
    AutoModeNodeRole = ("auto-mode-node-role", Error, "Auto Mode built-in node pools need `nodeRoleArn`; without node pools or compute it must be absent."),
    AutoModeAccess = ("auto-mode-access", Error, "Auto Mode needs access entries: authenticationMode API or API_AND_CONFIG_MAP."),
    BuiltinPoolName = ("builtin-pool-name", Error, "Built-in node pools are only `system` and `general-purpose`, each at most once."),
    BuiltinPoolOverride = ("builtin-pool-override", Error, "A NodePool named like a built-in pool that is enabled; built-ins cannot be modified."),
    NodePoolWithoutAutoMode = ("nodepool-without-auto-mode", Error, "NodePool/NodeClass documents need Auto Mode compute enabled on their cluster."),
    NodeClassRoleName = ("nodeclass-role-name", Error, "NodeClass `spec.role` is an IAM role name, not an ARN, at most 64 bytes."),
    NodeClassRoleOrProfile = ("nodeclass-role-or-profile", Error, "A NodeClass sets exactly one of `role` and `instanceProfile`."),
    NodeClassAccessEntry = ("nodeclass-access-entry", Warning, "A custom NodeClass role has no EC2 access entry, so its nodes cannot join."),
    NodePoolExpireNever = ("nodepool-expire-never", Error, "NodePool `expireAfter: Never` is not allowed on Auto Mode."),
    NodePoolLifetime = ("nodepool-lifetime", Error, "NodePool expireAfter + terminationGracePeriod (Auto Mode defaults: 336h, 24h) may not exceed 21 days."),
    NodePoolRequirement = ("nodepool-requirement", Error, "A NodePool requirement breaks the CRD's rules: `In` needs values, `Gt`/`Lt`/`Gte`/`Lte` one non-negative integer, `minValues` at most the number of values."),
    NodePoolLabel = ("nodepool-label", Error, "A NodePool requirement key or template label is restricted (karpenter.sh domain, kubernetes.io/hostname) or not a label key."),
    NodePoolBudget = ("nodepool-budget", Error, "A disruption budget sets `schedule` without `duration`, or the reverse."),
    NodePoolBudgetCron = ("nodepool-budget-cron", Warning, "A budget schedule Karpenter's cron parser refuses; the budget then blocks all disruption."),
    NodePoolStatic = ("nodepool-static", Error, "A static NodePool (`replicas`) takes no `weight` and no limits but `nodes`."),
    KubeObjectName = ("kube-object-name", Error, "A NodePool or NodeClass name is not a DNS-1123 subdomain."),
    NodeClassEphemeralStorage = ("nodeclass-ephemeral-storage", Error, "NodeClass ephemeralStorage.size is outside 1-59000Gi, 1-64000G, 1-58Ti or 1-64T."),
    NodeClassPodNetworking = ("nodeclass-pod-networking", Error, "NodeClass podSubnetSelectorTerms and podSecurityGroupSelectorTerms are set together."),
    NodeClassRestrictedTag = ("nodeclass-restricted-tag", Error, "A NodeClass tag key that EKS Auto Mode reserves (kubernetes.io/cluster/*, karpenter.sh/nodepool, ...)."),
    UnknownNodeClass = ("unknown-nodeclass", Error, "A NodePool refers to a NodeClass that does not exist in its cluster."),
    NodeClassRefKind = ("nodeclass-ref-kind", Error, "A NodePool's nodeClassRef must be group eks.amazonaws.com, kind NodeClass."),
    NodeGroupScaling = ("nodegroup-scaling", Error, "Node group sizes must satisfy minSize <= desiredSize <= maxSize."),
    NodeGroupAl2 = ("nodegroup-al2", Error, "Amazon Linux 2 AMIs are not published for Kubernetes 1.33 and later."),
    NodeGroupSkew = ("nodegroup-skew", Error, "A node group may not be newer than its cluster nor more than 3 minors behind."),
    NodeGroupUpdateConfig = ("nodegroup-update-config", Error, "updateConfig takes one of maxUnavailable and maxUnavailablePercentage."),
    NodeGroupLaunchTemplate = ("nodegroup-launch-template", Error, "A launch template is named by exactly one of id and name."),
    AccessEntryFields = ("access-entry-fields", Error, "Only STANDARD access entries take groups and a username; only STANDARD and EC2 take policies."),
    AccessScope = ("access-scope", Error, "A namespace scope lists namespaces; a cluster scope lists none."),
    AccessUsername = ("access-username", Error, "An access entry username may not start with system:, eks:, aws:, amazon: or iam:."),
    DuplicatePrincipal = ("duplicate-principal", Error, "Two access entries for one principal in a cluster."),
    DuplicatePodIdentity = ("duplicate-pod-identity", Error, "Two Pod Identity associations for one service account in a cluster."),
    AddonIrsaAndPodIdentity = ("addon-irsa-and-pod-identity", Error, "An add-on uses either serviceAccountRoleArn or podIdentityAssociations, not both."),
    AddonBuiltIntoAutoMode = ("addon-built-into-auto-mode", Warning, "An add-on that Auto Mode already runs for you."),
    TagLimits = ("tag-limits", Error, "At most 50 tags per resource counting keelson's own (1, and on a Cluster up to 7 with its upgrade records); keys 1-128 and values up to 256 characters; no `aws:` prefix; no `keelson.dev/` keys."),
    ClusterName = ("cluster-name", Error, "A cluster name is 1-100 letters, digits, `-` and `_`, starting with a letter or digit (no `.`)."),
    NodeGroupName = ("nodegroup-name", Error, "A node group name is 1-63 letters, digits, `-` and `_`, starting with a letter or digit."),
    NodeGroupLabels = ("nodegroup-labels", Error, "Node-group labels: keys are Kubernetes label keys and values Kubernetes label values, each 1-63 characters."),
    NodeGroupTaints = ("nodegroup-taints", Error, "Node-group taints: keys and values of the form EKS accepts, one taint per key and effect."),
    RoleArn = ("role-arn", Error, "A role ARN names a known partition, and its role name (at most 64 characters), path (512) and length (2048) fit IAM's limits."),
    ServiceCidr = ("service-cidr", Error, "serviceIpv4Cidr lies within 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 with a prefix of /12 to /24."),
    IpFamily = ("ip-family", Error, "An ipv6 cluster has no serviceIpv4Cidr and is not in a China region."),
    PublicAccessCidrs = ("public-access-cidrs", Error, "publicAccessCidrs are IPv4 or IPv6 CIDRs; IPv6 ones only on ipv6 clusters."),
    RemoteNetworkCidr = ("remote-network-cidr", Error, "Hybrid-node network CIDRs are RFC 1918 IPv4 blocks (/8 to /32) that overlap neither each other nor the service CIDR."),
    NodeGroupRepairConfig = ("nodegroup-repair-config", Error, "nodeRepairConfig sets at most one of each count/percentage pair."),
    NodeGroupWarmPool = ("nodegroup-warm-pool", Error, "Warm pools: no HIBERNATED state or reuseOnScaleIn with Bottlerocket, no custom AMIs, minSize at most maxGroupPreparedCapacity."),
    PodIdentityPolicy = ("pod-identity-policy", Error, "A Pod Identity session policy is a JSON policy document and needs disableSessionTags: true."),
    StorageClassProvisioner = ("storageclass-provisioner", Error, "An EBS StorageClass on an Auto Mode cluster uses `ebs.csi.eks.amazonaws.com` (the self-managed `ebs.csi.aws.com` provisions nothing there); without Auto Mode block storage that provisioner does not exist."),
    IngressClassController = ("ingressclass-controller", Error, "An ALB IngressClass on an Auto Mode cluster names controller `eks.amazonaws.com/alb` (not the self-managed `ingress.k8s.aws/alb`); without Auto Mode load balancing that controller and IngressClassParams do not exist."),
    IngressClassParameters = ("ingressclass-parameters", Error, "An `eks.amazonaws.com/alb` IngressClass names its IngressClassParams in `parameters` (apiGroup eks.amazonaws.com, kind IngressClassParams, cluster scope)."),
    UnknownIngressClassParams = ("unknown-ingressclassparams", Error, "An IngressClass refers to IngressClassParams that its cluster does not declare."),
    IngressClassParamsSubnets = ("ingressclassparams-subnets", Error, "IngressClassParams `subnets` sets exactly one of `ids` and `matchTags`."),
    DefaultClassDuplicate = ("default-class-duplicate", Error, "More than one default StorageClass, or more than one default IngressClass, in a cluster."),
    BootstrapManifest = ("bootstrap-manifest", Error, "A `bootstrap/` manifest keelson cannot apply: no name, a List, or the same object twice."),
}

/// One problem in a config repo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The file, as the user named it (repo path joined with the relative path).
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// Error or warning.
    pub severity: Severity,
    /// The rule id.
    pub rule: &'static str,
    /// What is wrong and, where possible, what to write instead.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic for `rule` at `pos` in `file`.
    pub fn new(file: &str, pos: Pos, rule: Rule, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: file.to_string(),
            line: pos.line,
            column: pos.col,
            severity: rule.severity(),
            rule: rule.id(),
            message: message.into(),
        }
    }

    /// Whether this is an error (not a warning).
    pub(crate) fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}[{}]: {}",
            self.file, self.line, self.column, self.severity, self.rule, self.message
        )
    }
}

/// Merge in `more` (the walk's: unreadable files, escaping links) and settle the list: a
/// missing Fleet is not reported on top of a file that could not be read or parsed, which
/// may well be the Fleet; then sort.
pub fn merge(diags: &mut Vec<Diagnostic>, more: impl IntoIterator<Item = Diagnostic>) {
    diags.extend(more);
    let unread_rules = [
        Rule::FileUnreadable,
        Rule::FileTooLarge,
        Rule::FileEncoding,
        Rule::YamlSyntax,
        Rule::YamlLimit,
    ];
    let unread = diags
        .iter()
        .any(|d| unread_rules.iter().any(|r| r.id() == d.rule));
    if unread {
        diags.retain(|d| d.rule != Rule::FleetMissing.id());
    }
    sort(diags);
}

/// The most diagnostics of one rule listed for one file; the rest are counted.
pub const MAX_PER_FILE_AND_RULE: usize = 20;

/// What to show of a sorted list of diagnostics: the first [`MAX_PER_FILE_AND_RULE`] of
/// each rule in each file, then one line saying how many more there were (30,000 unknown
/// fields are one mistake repeated, not 30,000 lines to read), with messages cut to a
/// readable length. Counts and machine-readable output keep every diagnostic.
pub fn for_display(diags: &[Diagnostic]) -> Vec<Diagnostic> {
    let mut seen: std::collections::HashMap<(&str, &'static str), usize> =
        std::collections::HashMap::new();
    let mut kept: Vec<Diagnostic> = Vec::with_capacity(diags.len().min(4096));
    for d in diags {
        let n = seen.entry((d.file.as_str(), d.rule)).or_insert(0);
        *n += 1;
        if *n <= MAX_PER_FILE_AND_RULE {
            let mut d = d.clone();
            if d.message.chars().count() > MAX_MESSAGE_CHARS {
                d.message = d
                    .message
                    .chars()
                    .take(MAX_MESSAGE_CHARS)
                    .collect::<String>()
                    + "...";
            }
            kept.push(d);
        }
    }
    let mut more: Vec<((&str, &'static str), usize)> = seen
        .into_iter()
        .filter(|(_, n)| *n > MAX_PER_FILE_AND_RULE)
        .collect();
    more.sort();
    for ((file, rule), n) in more {
        // Right after the last one listed for the file and rule, at its position.
        let Some(at) = kept.iter().rposition(|d| d.file == file && d.rule == rule) else {
            continue;
        };
        let last = &kept[at];
        let summary = Diagnostic {
            file: last.file.clone(),
            line: last.line,
            column: last.column,
            severity: last.severity,
            rule,
            message: format!(
                "... and {} more {rule} problems in this file, not listed",
                n - MAX_PER_FILE_AND_RULE
            ),
        };
        kept.insert(at + 1, summary);
    }
    kept
}

/// The longest message shown; longer ones (a huge key or value quoted) are cut.
const MAX_MESSAGE_CHARS: usize = 400;

/// Sort diagnostics by file, position, then rule, so output is stable.
fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        (&a.file, a.line, a.column, a.rule, &a.message)
            .cmp(&(&b.file, b.line, b.column, b.rule, &b.message))
    });
}

/// Edit distance, for "did you mean" suggestions.
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a likely typo
/// (case differences count as near misses).
pub(crate) fn suggest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            let d = if c.to_ascii_lowercase() == lower {
                0
            } else {
                levenshtein(&lower, &c.to_ascii_lowercase()).max(1)
            };
            (d, c)
        })
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique_and_kebab_case() {
        let mut ids: Vec<&str> = Rule::ALL.iter().map(|r| r.id()).collect();
        for id in &ids {
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit()),
                "{id}"
            );
        }
        ids.sort();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("subnetIDs", ["subnetIds", "securityGroupIds"]),
            Some("subnetIds")
        );
        assert_eq!(suggest("regoin", ["region", "version"]), Some("region"));
        assert_eq!(suggest("zzzzzz", ["region", "version"]), None);
    }
}
