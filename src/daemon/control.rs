//! Talking to a running daemon: reconcile now, suspend or resume a cluster or a stage,
//! approve the pending plan of a manual stage's cluster. Pure: the HTTP layer checks the
//! bearer token with [`authorize`], parses the body with [`parse`], and [`apply`] changes
//! the [`Control`] kept in the status document; the reconciler reads it at each sync.
//!
//! ```text
//!  POST /control/{reconcile,suspend,resume,approve}  Authorization: Bearer TOKEN
//!     │ no token configured ─► 404 (the endpoints are off)
//!     │ missing or wrong    ─► 401
//!     ▼
//!  Request ──apply──► Status.control { suspendedClusters, suspendedStages, approvals }
//!                                      │ read by reconcile: suspended? approved?
//! ```
//!
//! An approval names the plan by its fingerprint and revision, as `/status` shows them:
//! it is refused (409) when the plan has changed since, and a sync applies it only while
//! both still hold, so what was approved is what runs. It is used up by that apply.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::status::{ClusterState, Status};
use crate::model::ApplyMode;

/// Overrides an operator set through the control endpoints; kept until the daemon exits.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Control {
    /// Clusters whose applies are suspended.
    pub suspended_clusters: BTreeSet<String>,
    /// Stages whose applies are suspended.
    pub suspended_stages: BTreeSet<String>,
    /// Approved plans, by cluster.
    pub approvals: BTreeMap<String, Approved>,
}

/// An approved plan.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Approved {
    /// The fingerprint of the live state the plan was made from.
    pub fingerprint: String,
    /// The revision it was planned from.
    pub revision: String,
}

impl Control {
    /// Whether applies to `cluster` of `stage` are suspended here.
    pub fn suspends(&self, cluster: &str, stage: &str) -> bool {
        self.suspended_clusters.contains(cluster) || self.suspended_stages.contains(stage)
    }

    /// Whether this plan of `cluster` was approved.
    pub fn approves(&self, cluster: &str, fingerprint: &str, revision: &str) -> bool {
        self.approvals
            .get(cluster)
            .is_some_and(|a| a.fingerprint == fingerprint && a.revision == revision)
    }
}

/// What a caller asks for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    /// A cluster.
    pub cluster: Option<String>,
    /// A stage.
    pub stage: Option<String>,
    /// The plan's fingerprint (approve), or an unambiguous prefix of at least 8 characters.
    pub fingerprint: Option<String>,
    /// The plan's revision (approve); default: the one in use.
    pub revision: Option<String>,
}

/// A control request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Plan everything again now (and fetch a git source).
    Reconcile,
    /// Stop applying to a cluster or stage.
    Suspend(Scope),
    /// Apply again.
    Resume(Scope),
    /// Apply this pending plan of a manual stage's cluster.
    Approve {
        /// The cluster.
        cluster: String,
        /// Its plan's fingerprint (or prefix).
        fingerprint: String,
        /// Its plan's revision, when the caller pins it.
        revision: Option<String>,
    },
}

/// A cluster or a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// One cluster.
    Cluster(String),
    /// Every cluster of a stage.
    Stage(String),
}

/// Why a request was refused: an HTTP status and a message saying what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// HTTP status code.
    pub code: u16,
    /// Message.
    pub message: String,
}

fn refused(code: u16, message: impl Into<String>) -> Refused {
    Refused {
        code,
        message: message.into(),
    }
}

/// Check the `Authorization` header against the configured token.
///
/// # Errors
/// 404 when no token is configured (the endpoints are off), 401 when the header is
/// missing or names another token.
pub fn authorize(token: Option<&str>, header: Option<&str>) -> Result<(), Refused> {
    let Some(token) = token else {
        return Err(refused(404, "the control endpoints are off; start keelson run with --control-token-file FILE (or KEELSON_CONTROL_TOKEN)"));
    };
    let given = header
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(g) if same(g.as_bytes(), token.as_bytes()) => Ok(()),
        Some(_) => Err(refused(401, "wrong bearer token")),
        None => Err(refused(
            401,
            "send `Authorization: Bearer TOKEN` with the daemon's control token",
        )),
    }
}

/// Compare without returning early at the first difference, so that the time taken does
/// not tell how much of a guessed token was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The request for `verb` (the path after `/control/`) and its JSON body.
///
/// # Errors
/// 404 for an unknown verb, 400 for a body that does not say what the verb needs.
pub fn parse(verb: &str, body: &[u8]) -> Result<Request, Refused> {
    let b: Body = if body.iter().all(u8::is_ascii_whitespace) {
        Body {
            cluster: None,
            stage: None,
            fingerprint: None,
            revision: None,
        }
    } else {
        serde_json::from_slice(body)
            .map_err(|e| refused(400, format!("the body is not a control request: {e}")))?
    };
    let scope = |b: Body| match (b.cluster, b.stage) {
        (Some(c), None) => Ok(Scope::Cluster(c)),
        (None, Some(s)) => Ok(Scope::Stage(s)),
        _ => Err(refused(
            400,
            "name either a cluster (`{\"cluster\": NAME}`) or a stage (`{\"stage\": NAME}`)",
        )),
    };
    match verb {
        "reconcile" => Ok(Request::Reconcile),
        "suspend" => Ok(Request::Suspend(scope(b)?)),
        "resume" => Ok(Request::Resume(scope(b)?)),
        "approve" => match (b.cluster, b.fingerprint) {
            (Some(cluster), Some(fingerprint)) => Ok(Request::Approve {
                cluster,
                fingerprint,
                revision: b.revision,
            }),
            _ => Err(refused(
                400,
                "approve needs `cluster` and the plan's `fingerprint` (see `keelson status`)",
            )),
        },
        _ => Err(refused(
            404,
            format!("no control verb `{verb}`; verbs are reconcile, suspend, resume, approve"),
        )),
    }
}

/// Carry out `req` on the status document; the message says what changed.
///
/// # Errors
/// 404 for a cluster or stage the daemon does not know; for an approval, 409 when the plan
/// changed (another fingerprint or revision) or has nothing to approve.
pub fn apply(st: &mut Status, req: Request) -> Result<String, Refused> {
    let known = |st: &Status, scope: &Scope| match scope {
        Scope::Cluster(c) => st.clusters.contains_key(c),
        Scope::Stage(s) => st.clusters.values().any(|c| &c.stage == s),
    };
    match req {
        Request::Reconcile => Ok("reconciling now".into()),
        Request::Suspend(scope) | Request::Resume(scope) if !known(st, &scope) => Err(refused(
            404,
            format!("the daemon knows no {}", describe(&scope)),
        )),
        Request::Suspend(scope) => {
            match &scope {
                Scope::Cluster(c) => st.control.suspended_clusters.insert(c.clone()),
                Scope::Stage(s) => st.control.suspended_stages.insert(s.clone()),
            };
            Ok(format!(
                "suspended {}; resume with `keelson resume`",
                describe(&scope)
            ))
        }
        Request::Resume(scope) => {
            match &scope {
                Scope::Cluster(c) => st.control.suspended_clusters.remove(c),
                Scope::Stage(s) => st.control.suspended_stages.remove(s),
            };
            Ok(format!("resumed {}", describe(&scope)))
        }
        Request::Approve {
            cluster,
            fingerprint,
            revision,
        } => {
            let Some(c) = st.clusters.get(&cluster) else {
                return Err(refused(
                    404,
                    format!("the daemon knows no cluster `{cluster}`"),
                ));
            };
            let current = st.revision.clone().unwrap_or_default();
            let matches = c.fingerprint == fingerprint
                || (fingerprint.len() >= 8 && c.fingerprint.starts_with(&fingerprint));
            if !matches {
                return Err(refused(409, format!("the plan of `{cluster}` has changed: its fingerprint is now {}; review it with `keelson status` and approve again", c.fingerprint)));
            }
            if revision.as_ref().is_some_and(|r| r != &current) {
                return Err(refused(409, format!("the daemon now plans revision {current}; review the plan with `keelson status` and approve again")));
            }
            if c.state != ClusterState::Pending || c.steps.is_empty() {
                return Err(refused(
                    409,
                    format!(
                        "`{cluster}` has no pending plan to approve (it is {})",
                        c.state
                    ),
                ));
            }
            if c.apply != ApplyMode::Manual {
                return Err(refused(
                    409,
                    format!(
                        "`{cluster}` is in the auto stage `{}`, which needs no approval",
                        c.stage
                    ),
                ));
            }
            let steps = c.steps.len();
            let full = c.fingerprint.clone();
            st.control.approvals.insert(
                cluster.clone(),
                Approved {
                    fingerprint: full.clone(),
                    revision: current.clone(),
                },
            );
            Ok(format!("approved the plan of `{cluster}` ({steps} steps, fingerprint {full}, revision {current}); it is applied at the next sync while both hold"))
        }
    }
}

fn describe(scope: &Scope) -> String {
    match scope {
        Scope::Cluster(c) => format!("cluster `{c}`"),
        Scope::Stage(s) => format!("stage `{s}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::status::ClusterStatus;

    fn status() -> Status {
        let mut st = Status {
            revision: Some("r1".into()),
            ..Status::default()
        };
        st.clusters.insert(
            "prod".into(),
            ClusterStatus {
                stage: "prod".into(),
                apply: ApplyMode::Manual,
                fingerprint: "0123456789abcdef".into(),
                state: ClusterState::Pending,
                steps: vec!["~ NodeGroup general".into()],
                ..ClusterStatus::default()
            },
        );
        st
    }

    #[test]
    fn without_a_configured_token_the_endpoints_are_off_and_a_wrong_one_is_refused() {
        assert_eq!(authorize(None, Some("Bearer x")).unwrap_err().code, 404);
        assert_eq!(authorize(Some("s3cret"), None).unwrap_err().code, 401);
        assert_eq!(
            authorize(Some("s3cret"), Some("Bearer s3cre"))
                .unwrap_err()
                .code,
            401
        );
        assert_eq!(
            authorize(Some("s3cret"), Some("Basic s3cret"))
                .unwrap_err()
                .code,
            401
        );
        assert!(authorize(Some("s3cret"), Some("Bearer s3cret")).is_ok());
    }

    #[test]
    fn an_approval_holds_only_for_the_plan_it_names() {
        let mut st = status();
        let req = parse("approve", br#"{"cluster":"prod","fingerprint":"01234567"}"#).unwrap();
        apply(&mut st, req).unwrap();
        assert!(st.control.approves("prod", "0123456789abcdef", "r1"));
        assert!(!st.control.approves("prod", "0123456789abcdef", "r2"));
        assert!(!st.control.approves("prod", "ffff", "r1"));

        let stale = parse("approve", br#"{"cluster":"prod","fingerprint":"99999999"}"#).unwrap();
        assert_eq!(apply(&mut st, stale).unwrap_err().code, 409);
        let moved = parse(
            "approve",
            br#"{"cluster":"prod","fingerprint":"0123456789abcdef","revision":"r0"}"#,
        )
        .unwrap();
        assert_eq!(apply(&mut st, moved).unwrap_err().code, 409);
        assert_eq!(
            parse("approve", br#"{"cluster":"prod"}"#).unwrap_err().code,
            400
        );
    }

    #[test]
    fn suspend_and_resume_a_stage_or_a_cluster_the_daemon_knows() {
        let mut st = status();
        apply(&mut st, parse("suspend", br#"{"stage":"prod"}"#).unwrap()).unwrap();
        assert!(st.control.suspends("prod", "prod"));
        apply(&mut st, parse("resume", br#"{"stage":"prod"}"#).unwrap()).unwrap();
        assert!(!st.control.suspends("prod", "prod"));
        let unknown = parse("suspend", br#"{"cluster":"nope"}"#).unwrap();
        assert_eq!(apply(&mut st, unknown).unwrap_err().code, 404);
        assert_eq!(parse("suspend", b"{}").unwrap_err().code, 400);
        assert_eq!(parse("explode", b"").unwrap_err().code, 404);
    }
}
