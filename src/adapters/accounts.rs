//! Where each cluster lives: the account a Cluster's `spec.account` names must be the one
//! keelson's credentials for it reach (on AWS: STS GetCallerIdentity, once per role per
//! run). A cluster whose account is not reached is refused with the role to configure,
//! instead of being created in whatever account the caller happens to be in. The
//! simulator models an organization whose every account the caller reaches, so it refuses
//! nothing.
//!
//! ```text
//!  Loaded ─► routes(): cluster → role (operatorRoleArn │ Fleet account's │ none)
//!  reached(role) ─► account   (GetCallerIdentity with the role's credentials)
//!        └─► misplaced(): cluster → message, for each spec.account ≠ reached
//! ```

use std::collections::BTreeMap;

use crate::config::Loaded;

/// Every cluster's assumed role (clusters using the caller's credentials are absent),
/// and every role with its external id: the Cluster's `operatorRoleArn`, else the Fleet's
/// role for the cluster's account; every Fleet account's role is included, whether or not
/// a cluster of the repository still uses it.
pub(crate) type Routes = (BTreeMap<String, String>, BTreeMap<String, Option<String>>);

/// The roles of [`Routes`], read from the repository.
pub(crate) fn routes(loaded: &Loaded) -> Routes {
    let accounts = loaded
        .repo
        .fleet
        .as_ref()
        .map(|f| f.value.spec.policy.accounts.clone())
        .unwrap_or_default();
    let mut cluster_roles = BTreeMap::new();
    let mut external_ids: BTreeMap<String, Option<String>> = BTreeMap::new();
    for c in &loaded.repo.clusters {
        let spec = &c.cluster.value.spec;
        let account = spec
            .account
            .as_ref()
            .and_then(|id| accounts.iter().find(|a| &a.id == id));
        let role = match (&spec.operator_role_arn, account) {
            (Some(role), _) => {
                let external = account
                    .filter(|a| &a.operator_role_arn == role)
                    .and_then(|a| a.external_id.clone());
                external_ids.entry(role.clone()).or_insert(external);
                role.clone()
            }
            (None, Some(a)) => a.operator_role_arn.clone(),
            (None, None) => continue,
        };
        cluster_roles.insert(c.name().to_string(), role);
    }
    for a in &accounts {
        external_ids
            .entry(a.operator_role_arn.clone())
            .or_insert_with(|| a.external_id.clone());
    }
    (cluster_roles, external_ids)
}

/// The clusters whose `spec.account` is not the account their credentials reach, each
/// with what to configure. `reached(role)` is the account reached with that role's
/// credentials (`None`: the caller's own); an unknown account (`None`) refuses nothing
/// (a role that cannot be assumed is reported by the calls themselves).
pub(crate) fn misplaced(
    loaded: &Loaded,
    cluster_roles: &BTreeMap<String, String>,
    reached: impl Fn(Option<&str>) -> Option<String>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for c in &loaded.repo.clusters {
        let Some(want) = &c.cluster.value.spec.account else {
            continue;
        };
        let role = cluster_roles.get(c.name()).map(String::as_str);
        let Some(got) = reached(role) else { continue };
        if &got == want {
            continue;
        }
        let through = match role {
            Some(r) => format!("the role {r}"),
            None => "the caller's own credentials (no role is configured for it)".to_string(),
        };
        out.insert(
            c.name().to_string(),
            format!(
                "`spec.account` is {want}, but {through} reach account {got}: keelson would work on it in the wrong account; add `{{id: \"{want}\", operatorRoleArn: arn:aws:iam::{want}:role/ROLE}}` to the Fleet's `spec.policy.accounts` (or set the Cluster's `operatorRoleArn` to a role in {want}), or correct `spec.account`"
            ),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(fleet_accounts: &str, account: &str) -> Loaded {
        let fleet = format!("apiVersion: keelson.dev/v1alpha1\nkind: Fleet\nmetadata: {{name: f}}\nspec:\n  stages: [{{name: prod}}]\n{fleet_accounts}");
        let cluster = format!("apiVersion: keelson.dev/v1alpha1\nkind: Cluster\nmetadata: {{name: c}}\nspec:\n  region: eu-west-1\n  account: \"{account}\"\n  version: \"1.34\"\n  stage: prod\n  roleArn: arn:aws:iam::{account}:role/eks-cluster\n  vpc:\n    subnetIds: [subnet-0a1b2c3d4e5f60001, subnet-0a1b2c3d4e5f60002]\n");
        let files = [
            ("keelson.yaml".to_string(), fleet),
            ("c/cluster.yaml".to_string(), cluster),
        ];
        let files: Vec<crate::config::SourceFile> = files
            .into_iter()
            .map(|(rel, text)| crate::config::SourceFile {
                display: rel.clone(),
                rel,
                bytes: text.into_bytes(),
            })
            .collect();
        let today = crate::versions::Date::new(2026, 11, 23);
        let l = crate::config::load(&files, &crate::config::LoadOptions::new(today));
        assert!(l.is_valid(), "{:?}", l.diagnostics);
        l
    }

    /// The account of an IAM role ARN (`arn:aws:iam::ACCOUNT:role/NAME`).
    fn role_account(role: &str) -> Option<&str> {
        role.split(':').nth(4)
    }

    /// The caller is in 111122223333; a role reaches the account of its ARN.
    fn reached(role: Option<&str>) -> Option<String> {
        Some(
            role.and_then(role_account)
                .unwrap_or("111122223333")
                .to_string(),
        )
    }

    #[test]
    fn an_account_reached_by_the_caller_or_by_its_role_is_accepted() {
        let l = loaded("", "111122223333");
        assert!(misplaced(&l, &routes(&l).0, reached).is_empty());
        let l = loaded("  policy:\n    accounts:\n      - {id: \"444455556666\", operatorRoleArn: \"arn:aws:iam::444455556666:role/keelson\"}\n", "444455556666");
        let (roles, _) = routes(&l);
        assert_eq!(roles["c"], "arn:aws:iam::444455556666:role/keelson");
        assert!(misplaced(&l, &roles, reached).is_empty());
    }

    #[test]
    fn an_account_without_a_role_is_refused_saying_which_role_to_configure() {
        let l = loaded("", "444455556666");
        let m = misplaced(&l, &routes(&l).0, reached);
        let msg = &m["c"];
        assert!(msg.contains("reach account 111122223333"), "{msg}");
        assert!(msg.contains("arn:aws:iam::444455556666:role/"), "{msg}");
        assert!(msg.contains("spec.policy.accounts"), "{msg}");
        assert!(
            misplaced(&l, &routes(&l).0, |_| None).is_empty(),
            "unknown: nothing refused"
        );
    }
}
