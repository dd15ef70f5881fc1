//! Assumed roles, named in their failures: an STS AssumeRole credentials provider whose
//! refusal says which role, which caller (AWS names it in its message) and what to check,
//! instead of the generic "refresh your credentials" of an expired session.
//!
//! ```text
//!  AssumeRoleProvider ──error──► NamedRole ──► CredentialsError "could not assume role R: …"
//!                                                 └─► errors.rs: AccessDenied for the clusters behind R only
//! ```

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{future, ProvideCredentials, SharedCredentialsProvider};

/// What every refusal starts with; the EKS error classification looks for it.
pub(crate) const REFUSED: &str = "could not assume role";

/// A role's credentials provider whose failures name the role.
#[derive(Debug)]
pub(crate) struct NamedRole {
    role: String,
    external_id: bool,
    inner: SharedCredentialsProvider,
}

impl NamedRole {
    /// Wrap `inner`, the provider of `role` (`external_id`: the Fleet sets one for it).
    pub(crate) fn new(role: String, external_id: bool, inner: SharedCredentialsProvider) -> Self {
        NamedRole {
            role,
            external_id,
            inner,
        }
    }

    /// The refusal, with what to check.
    fn refused(&self, err: &CredentialsError) -> String {
        let chain = chain(err);
        let external = if self.external_id {
            " with the Fleet's externalId (sts:ExternalId condition)"
        } else {
            ""
        };
        let denied = {
            let t = chain.to_ascii_lowercase();
            t.contains("accessdenied") || t.contains("not authorized")
        };
        if denied {
            format!(
                "{REFUSED} {}: {chain}; the role's trust policy must allow the caller named above to sts:AssumeRole{external}, and the caller's own policies must allow sts:AssumeRole on the role; only the clusters reached through this role are affected",
                self.role
            )
        } else {
            format!("{REFUSED} {}: {chain}", self.role)
        }
    }
}

impl ProvideCredentials for NamedRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.inner
                .provide_credentials()
                .await
                .map_err(|e| CredentialsError::provider_error(self.refused(&e)))
        })
    }
}

/// An error's message and its sources', joined (the SDK's wrappers say little alone),
/// each message once.
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Denied;

    impl ProvideCredentials for Denied {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            future::ProvideCredentials::ready(Err(CredentialsError::provider_error(
                "AccessDenied: User: arn:aws:iam::123456789012:user/ci is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222233334444:role/keelson",
            )))
        }
    }

    #[tokio::test]
    async fn a_denied_assume_role_names_the_role_the_caller_and_the_trust_policy() {
        let role = NamedRole::new(
            "arn:aws:iam::222233334444:role/keelson".into(),
            true,
            SharedCredentialsProvider::new(Denied),
        );
        let e = role.provide_credentials().await.unwrap_err();
        let m = chain(&e);
        assert!(
            m.contains("could not assume role arn:aws:iam::222233334444:role/keelson"),
            "{m}"
        );
        assert!(m.contains("user/ci"), "the caller, as AWS names it: {m}");
        assert!(m.contains("trust policy"), "{m}");
        assert!(m.contains("externalId"), "{m}");
        assert!(!m.contains("sso login"), "not an expired session: {m}");
    }
}
