//! Shard membership as `coordination.k8s.io/v1` Leases: one Lease per replica, renewed
//! while it runs, labelled with the shard group; the members are the unexpired ones.
//!
//! ```text
//!  renew:   GET GROUP-member-HOST-PID ─ none ──► CREATE {holderIdentity: HOST/PID, renewTime, duration}
//!                                      ─ there ─► REPLACE renewTime (with its resourceVersion)
//!  members: LIST Leases -l keelson.dev/shard-group=GROUP ──► MemberRecord per Lease
//!  leave:   DELETE GROUP-member-HOST-PID   (SIGTERM: the others re-divide at once)
//! ```
//!
//! A member's Lease is its own: no other replica writes it, so a 409 only means a
//! renewal raced a read and the next one succeeds. Which members are alive is decided by
//! [`crate::daemon::shard::live_members`]. The per-cluster Leases that guard writes are
//! ordinary [`LeaseLock`]s named by [`cluster_lease_name`]. Lease fields: Kubernetes API
//! reference, `Lease v1 coordination.k8s.io`; label values: at most 63 characters of
//! `[A-Za-z0-9._-]` (Kubernetes "Labels and Selectors", syntax and character set).

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, PostParams};

use crate::adapters::lease::{new_lease, LeaseLock, CALL_TIMEOUT};
use crate::daemon::lock::{BackendError, Timing};
use crate::daemon::shard::MemberRecord;

/// The label that marks a member Lease and names its shard group.
pub const GROUP_LABEL: &str = "keelson.dev/shard-group";

/// A Kubernetes object name made of `parts`: lowercase letters, digits and `-`, at most
/// 253 characters; a hash of the exact text keeps two names that read alike apart
/// (`Prod_1` and `prod-1`).
fn object_name(prefix: &str, text: &str) -> String {
    let mut clean: String = text
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .collect();
    clean.truncate(180);
    let clean = clean.trim_matches('-');
    let hash = crate::daemon::shard::weight("", text) as u32;
    format!("{prefix}-{clean}-{hash:08x}")
}

/// The Lease that guards writes to `cluster` in shard group `group`.
pub fn cluster_lease_name(group: &str, cluster: &str) -> String {
    object_name(&format!("{group}-cluster"), cluster)
}

/// This replica's membership in a shard group.
pub struct Membership {
    api: Api<Lease>,
    client: kube::Client,
    namespace: String,
    group: String,
    me: String,
    name: String,
    timing: Timing,
}

impl Membership {
    /// Membership of `me` (`HOST/PID`) in `group`, whose Leases live in `namespace` (or
    /// the client's default).
    ///
    /// # Errors
    /// No Kubernetes configuration, or a group name that is not a label value.
    pub async fn connect(
        namespace: Option<&str>,
        group: &str,
        me: &str,
        timing: Timing,
    ) -> Result<Membership, BackendError> {
        let shown = format!("shard group {group}");
        let valid = !group.is_empty()
            && group.len() <= 63
            && group
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if !valid {
            return Err(BackendError::Kubernetes {
                lock: shown,
                message: "the Lease name that names the shard group must be at most 63 characters of letters, digits, `-`, `.` and `_` (it becomes a label value); write a shorter --lock kubernetes:NAMESPACE/NAME".into(),
            });
        }
        let (client, ns) = crate::adapters::lease::client_for(namespace, &shown).await?;
        Ok(Membership::new(client, &ns, group, me, timing))
    }

    /// Membership through `client`.
    pub fn new(
        client: kube::Client,
        namespace: &str,
        group: &str,
        me: &str,
        timing: Timing,
    ) -> Membership {
        Membership {
            api: Api::namespaced(client.clone(), namespace),
            client,
            namespace: namespace.to_string(),
            group: group.to_string(),
            me: me.to_string(),
            name: object_name(&format!("{group}-member"), me),
            timing,
        }
    }

    /// This replica's identity.
    pub fn me(&self) -> &str {
        &self.me
    }

    /// The group, for messages.
    pub fn describe(&self) -> String {
        format!(
            "shard group {} (Leases in namespace {})",
            self.group, self.namespace
        )
    }

    /// The Lease lock guarding writes to `cluster`.
    pub fn cluster_lock(&self, cluster: &str) -> LeaseLock {
        LeaseLock::new(
            self.client.clone(),
            &self.namespace,
            &cluster_lease_name(&self.group, cluster),
            self.timing,
        )
    }

    fn err(&self, what: &str, e: &dyn std::fmt::Display) -> BackendError {
        BackendError::Kubernetes {
            lock: self.describe(),
            message: format!(
                "{what} failed: {e}; check that the API server is reachable and that keelson may get, list, create, update and delete Leases in namespace {} (deploy/kubernetes has the Role)",
                self.namespace
            ),
        }
    }

    async fn timed<T>(
        &self,
        what: &str,
        call: impl std::future::Future<Output = Result<T, kube::Error>>,
    ) -> Result<Result<T, kube::Error>, BackendError> {
        tokio::time::timeout(CALL_TIMEOUT, call)
            .await
            .map_err(|_| self.err(what, &"no answer in 4 s"))
    }

    /// Write this replica's membership Lease with a fresh renew time. `Ok(false)`: a
    /// write raced (409); the next renewal tries again.
    ///
    /// # Errors
    /// The API server refused or did not answer.
    pub async fn renew(&self) -> Result<bool, BackendError> {
        let now = MicroTime(Timestamp::now());
        let secs = i32::try_from(self.timing.duration.as_secs().max(1)).unwrap_or(i32::MAX);
        let spec = LeaseSpec {
            holder_identity: Some(self.me.clone()),
            lease_duration_seconds: Some(secs),
            renew_time: Some(now.clone()),
            ..LeaseSpec::default()
        };
        let found = match self
            .timed("reading the member Lease", self.api.get_opt(&self.name))
            .await?
        {
            Ok(l) => l,
            Err(e) => return Err(self.err("reading the member Lease", &e)),
        };
        let pp = PostParams::default();
        let written = match found {
            Some(mut lease) => {
                let acquired = lease.spec.as_ref().and_then(|s| s.acquire_time.clone());
                lease.spec = Some(LeaseSpec {
                    acquire_time: acquired.or(Some(now)),
                    ..spec
                });
                self.timed(
                    "renewing the member Lease",
                    self.api.replace(&self.name, &pp, &lease),
                )
                .await?
            }
            None => {
                let lease = new_lease(
                    &self.namespace,
                    &self.name,
                    &[(GROUP_LABEL, &self.group)],
                    LeaseSpec {
                        acquire_time: Some(now),
                        ..spec
                    },
                );
                self.timed("creating the member Lease", self.api.create(&pp, &lease))
                    .await?
            }
        };
        match written {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(self.err("writing the member Lease", &e)),
        }
    }

    /// Every member Lease of the group, as records.
    ///
    /// # Errors
    /// The API server refused or did not answer.
    pub async fn records(&self) -> Result<Vec<MemberRecord>, BackendError> {
        let lp = ListParams::default().labels(&format!("{GROUP_LABEL}={}", self.group));
        let list = match self
            .timed("listing the member Leases", self.api.list(&lp))
            .await?
        {
            Ok(l) => l,
            Err(e) => return Err(self.err("listing the member Leases", &e)),
        };
        Ok(list
            .items
            .into_iter()
            .filter_map(|l| {
                let spec = l.spec?;
                Some(MemberRecord {
                    id: spec.holder_identity.filter(|s| !s.is_empty())?,
                    renewed: spec.renew_time.map(|t| t.0.as_second()),
                    duration_secs: i64::from(spec.lease_duration_seconds.unwrap_or(1)),
                })
            })
            .collect())
    }

    /// Remove this replica's membership Lease (on shutdown), so that the others divide
    /// its clusters at once instead of after it expires.
    ///
    /// # Errors
    /// The API server refused or did not answer.
    pub async fn leave(&self) -> Result<(), BackendError> {
        match self
            .timed(
                "deleting the member Lease",
                self.api.delete(&self.name, &DeleteParams::default()),
            )
            .await?
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(self.err("deleting the member Lease", &e)),
        }
    }

    /// Its timing.
    pub fn timing(&self) -> Timing {
        self.timing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_names_are_object_names_and_keep_look_alikes_apart() {
        let a = cluster_lease_name("keelson-fleet", "Prod_Use1");
        let b = cluster_lease_name("keelson-fleet", "prod-use1");
        assert_ne!(a, b);
        for n in [&a, &b] {
            assert!(n.starts_with("keelson-fleet-cluster-prod-use1-"), "{n}");
            assert!(n
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-'));
        }
        let long = cluster_lease_name("g", &"x".repeat(400));
        assert!(long.len() <= 253, "{}", long.len());
        let member = object_name("g-member", "keelson-7d9f-abcde/1");
        assert!(
            member.starts_with("g-member-keelson-7d9f-abcde-1-"),
            "{member}"
        );
    }
}
