//! Notifications, the pure part: which events a sync produces (from the cluster statuses
//! before and after it), the messages each target type is sent, the token bucket that
//! rate-limits a target, and the GitHub commit status a sync ends with. The sending is in
//! [`crate::adapters::notify`].
//!
//! ```text
//!  previous ClusterStatus ─┐
//!  planned ClusterStatus ──┼─ planned() ──► applyStarted · clusterBlocked · driftFound · hopHeld · hopReleased
//!  applied ClusterStatus ──┴─ applied() ──► applyFinished · applyFailed · clusterBlocked (after the apply)
//!  Event ──webhook_body / slack_body──► JSON      sync outcome ──commit_state──► pending │ success │ failure │ error
//! ```
//!
//! Every event carries an id derived from what it is about (fleet, cluster, type,
//! revision, and the plan's fingerprint or the gate messages), so a receiver sees the same
//! id when keelson sends the same news again (a retry, a restart) and can drop it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::Digest;

use super::report::Hop;
use super::status::{ClusterState, ClusterStatus};
use crate::model::NotificationEvent;

/// The version of the webhook body's layout.
pub const SCHEMA_VERSION: u32 = 1;

/// One event about one cluster.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Stable id: the same news gets the same id.
    pub id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: NotificationEvent,
    /// The Fleet's name.
    pub fleet: String,
    /// The cluster.
    pub cluster: String,
    /// Its stage.
    pub stage: String,
    /// Its region.
    pub region: String,
    /// The revision synced (a commit id, or `dir:<path>`).
    pub revision: String,
    /// Wall clock, RFC 3339.
    pub time: String,
    /// One line for people.
    pub summary: String,
    /// The version hop concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hop: Option<Hop>,
    /// Steps of the plan (applyStarted) or applied (applyFinished, applyFailed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<usize>,
    /// Why: the apply's error, the gate messages, or why a hop is held.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

/// What every event of one sync shares.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The Fleet's name.
    pub fleet: &'a str,
    /// The revision synced.
    pub revision: &'a str,
    /// Whether the revision (or, for a watched directory, its files) changed since the
    /// last sync: changes then come from git, not drift.
    pub source_changed: bool,
    /// Wall clock, RFC 3339.
    pub time: &'a str,
}

fn event_id(cx: &Context<'_>, cluster: &str, kind: NotificationEvent, key: &str) -> String {
    let mut h = sha2::Sha256::new();
    for part in [cx.fleet, cluster, kind.as_str(), cx.revision, key] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn hop_text(h: Option<&Hop>) -> String {
    h.map(|h| format!(" {} → {}", h.from, h.to))
        .unwrap_or_default()
}

fn upgrade_text(h: Option<&Hop>) -> String {
    h.map(|h| format!(" (upgrade {} → {})", h.from, h.to))
        .unwrap_or_default()
}

fn make(
    cx: &Context<'_>,
    name: &str,
    s: &ClusterStatus,
    kind: NotificationEvent,
    key: &str,
    summary: String,
) -> Event {
    Event {
        id: event_id(cx, name, kind, key),
        kind,
        fleet: cx.fleet.to_string(),
        cluster: name.to_string(),
        stage: s.stage.clone(),
        region: s.region.clone(),
        revision: cx.revision.to_string(),
        time: cx.time.to_string(),
        summary,
        hop: s.hop.clone(),
        steps: None,
        reasons: Vec::new(),
    }
}

fn blocked(cx: &Context<'_>, name: &str, s: &ClusterStatus) -> Event {
    let mut e = make(
        cx,
        name,
        s,
        NotificationEvent::ClusterBlocked,
        &s.blocked.join("\n"),
        format!(
            "{name}: blocked by {} gate{}; nothing is applied until it is fixed",
            s.blocked.len(),
            if s.blocked.len() == 1 { "" } else { "s" }
        ),
    );
    e.reasons = s.blocked.clone();
    e
}

/// The events of a sync's decisions, before anything is applied: `planned` are the
/// clusters just planned (state `applying` for those about to be applied), `prev` what the
/// last sync left.
pub fn planned(
    cx: &Context<'_>,
    prev: &BTreeMap<String, ClusterStatus>,
    planned: &BTreeMap<String, ClusterStatus>,
) -> Vec<Event> {
    let mut out = Vec::new();
    for (name, s) in planned {
        let old = prev.get(name);
        if s.state == ClusterState::Applying {
            let mut e = make(
                cx,
                name,
                s,
                NotificationEvent::ApplyStarted,
                &s.fingerprint,
                format!(
                    "{name}: applying {} step{}{}",
                    s.plan.total(),
                    if s.plan.total() == 1 { "" } else { "s" },
                    upgrade_text(s.hop.as_ref())
                ),
            );
            e.steps = Some(s.plan.total());
            out.push(e);
        }
        if !s.blocked.is_empty() && old.is_none_or(|o| o.blocked != s.blocked) {
            out.push(blocked(cx, name, s));
        }
        // Changes while the source did not change: the live state moved away from git.
        if s.drift && !cx.source_changed && old.is_some_and(|o| !o.drift) {
            let mut e = make(
                cx,
                name,
                s,
                NotificationEvent::DriftFound,
                &s.fingerprint,
                format!(
                    "{name}: the live state differs from the repository ({} step{} to undo it)",
                    s.plan.total(),
                    if s.plan.total() == 1 { "" } else { "s" }
                ),
            );
            e.steps = Some(s.plan.total());
            e.reasons = s.steps.clone();
            out.push(e);
        }
        match (old.and_then(|o| o.held.as_ref()), &s.held) {
            (None, Some(why)) => {
                let mut e = make(
                    cx,
                    name,
                    s,
                    NotificationEvent::HopHeld,
                    why,
                    format!("{name}: upgrade{} held: {why}", hop_text(s.hop.as_ref())),
                );
                e.reasons = vec![why.clone()];
                out.push(e);
            }
            (Some(was), None) => {
                let hop = old.and_then(|o| o.hop.as_ref()).or(s.hop.as_ref());
                let mut e = make(
                    cx,
                    name,
                    s,
                    NotificationEvent::HopReleased,
                    was,
                    format!("{name}: upgrade{} may proceed", hop_text(hop)),
                );
                e.hop = hop.cloned();
                out.push(e);
            }
            _ => {}
        }
    }
    out
}

/// The events of the applies of a sync: `applied` are the statuses after the re-plan,
/// with the apply's record; `planned` the same clusters before the apply.
pub fn applied(
    cx: &Context<'_>,
    planned: &BTreeMap<String, ClusterStatus>,
    applied: &BTreeMap<String, ClusterStatus>,
) -> Vec<Event> {
    let mut out = Vec::new();
    for (name, s) in applied {
        let Some(r) = &s.last_apply else { continue };
        let before = planned.get(name);
        let key = format!("{}\0{}", r.started_at, r.steps_done);
        let hop = before.and_then(|b| b.hop.clone());
        let mut e = match &r.error {
            None => make(
                cx,
                name,
                s,
                NotificationEvent::ApplyFinished,
                &key,
                format!(
                    "{name}: applied {} step{}{}, now {}",
                    r.steps_done,
                    if r.steps_done == 1 { "" } else { "s" },
                    upgrade_text(hop.as_ref()),
                    s.state
                ),
            ),
            Some(err) => {
                let mut e = make(
                    cx,
                    name,
                    s,
                    NotificationEvent::ApplyFailed,
                    &key,
                    format!(
                        "{name}: apply failed after {} of {} steps: {err}",
                        r.steps_done, r.steps_total
                    ),
                );
                e.reasons = vec![err.clone()];
                e
            }
        };
        e.hop = hop;
        e.steps = Some(r.steps_done);
        out.push(e);
        if !s.blocked.is_empty() && before.is_none_or(|b| b.blocked != s.blocked) {
            out.push(blocked(cx, name, s));
        }
    }
    out
}

/// The body a generic webhook receives: the event, the layout's version, and how many
/// earlier events the rate limit left out since the last message.
pub fn webhook_body(e: &Event, suppressed: u64) -> serde_json::Value {
    let mut v = serde_json::json!({ "schemaVersion": SCHEMA_VERSION });
    if let (Some(m), Ok(serde_json::Value::Object(ev))) =
        (v.as_object_mut(), serde_json::to_value(e))
    {
        m.extend(ev);
        m.insert("suppressed".into(), suppressed.into());
    }
    v
}

/// The body a generic webhook receives when only the count of left-out events is news.
pub fn webhook_suppressed_body(fleet: &str, suppressed: u64, time: &str) -> serde_json::Value {
    serde_json::json!({
        "schemaVersion": SCHEMA_VERSION,
        "type": "suppressed",
        "fleet": fleet,
        "time": time,
        "summary": suppressed_text(suppressed),
        "suppressed": suppressed,
    })
}

fn suppressed_text(n: u64) -> String {
    format!(
        "{n} event{} not sent: over this target's rate limit",
        if n == 1 { " was" } else { "s were" }
    )
}

/// The body of a Slack-compatible incoming webhook: `{"text": ...}`.
pub fn slack_body(e: Option<&Event>, fleet: &str, suppressed: u64) -> serde_json::Value {
    let mut text = match e {
        Some(e) => {
            let mut t = format!("[keelson {}] {}", e.fleet, e.summary);
            for r in e.reasons.iter().take(5) {
                t.push_str(&format!("\n• {r}"));
            }
            t
        }
        None => format!("[keelson {fleet}]"),
    };
    if suppressed > 0 {
        text.push_str(&format!(
            "{}({})",
            if e.is_some() { "\n" } else { " " },
            suppressed_text(suppressed)
        ));
    }
    serde_json::json!({ "text": text })
}

/// A GitHub commit status state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CommitState {
    /// Being applied, or changes wait.
    Pending,
    /// Everything converged.
    Success,
    /// Blocked, invalid, or an apply failed.
    Failure,
    /// The sync itself failed (observing the target).
    Error,
}

/// What a sync means for the commit's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncResult<'a> {
    /// Clusters are about to be applied.
    Applying(usize),
    /// The sync ended with this exit code (0 converged, 2 pending, 3 blocked, 1 failed).
    Done(u8),
    /// The revision is invalid.
    Invalid,
    /// The sync failed before planning.
    Error(&'a str),
}

/// The commit status state and description for a sync's result (GitHub keeps at most 140
/// characters of a description).
pub fn commit_state(r: SyncResult<'_>) -> (CommitState, String) {
    let (s, d) = match r {
        SyncResult::Applying(n) => (
            CommitState::Pending,
            format!("applying {n} cluster{}", if n == 1 { "" } else { "s" }),
        ),
        SyncResult::Done(0) => (CommitState::Success, "every cluster converged".into()),
        SyncResult::Done(2) => (
            CommitState::Pending,
            "changes wait (a manual stage, a window, or an earlier stage)".into(),
        ),
        SyncResult::Done(3) => (
            CommitState::Failure,
            "a cluster is blocked by a gate".into(),
        ),
        SyncResult::Done(_) => (CommitState::Failure, "an apply failed".into()),
        SyncResult::Invalid => (
            CommitState::Failure,
            "the repository is invalid: run keelson validate".into(),
        ),
        SyncResult::Error(m) => (CommitState::Error, format!("sync failed: {m}")),
    };
    (s, d.chars().take(140).collect())
}

/// `OWNER/NAME` from a GitHub remote URL (`https://github.com/o/n.git`,
/// `git@github.com:o/n.git`, `ssh://git@github.com/o/n`); `None` for any other host.
pub fn github_repository(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://github.com/")
        .or_else(|| url.strip_prefix("http://github.com/"))
        .or_else(|| url.strip_prefix("git@github.com:"))
        .or_else(|| url.strip_prefix("ssh://git@github.com/"))?;
    let rest = rest.trim_end_matches('/');
    let rest = rest.strip_suffix(".git").unwrap_or(rest);
    let mut parts = rest.split('/');
    let (owner, name) = (parts.next()?, parts.next()?);
    (parts.next().is_none() && !owner.is_empty() && !name.is_empty())
        .then(|| format!("{owner}/{name}"))
}

/// A token bucket: `burst` messages at once, then `per_minute`.
#[derive(Debug, Clone)]
pub struct Bucket {
    tokens: f64,
    burst: f64,
    per_sec: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket at `now`.
    pub fn new(burst: u32, per_minute: u32, now: Instant) -> Bucket {
        let burst = f64::from(burst.max(1));
        Bucket {
            tokens: burst,
            burst,
            per_sec: f64::from(per_minute.max(1)) / 60.0,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.per_sec).min(self.burst);
        self.last = now;
    }

    /// Take a token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long until a token is there.
    pub fn wait(&mut self, now: Instant) -> Duration {
        self.refill(now);
        Duration::from_secs_f64(((1.0 - self.tokens).max(0.0)) / self.per_sec)
    }
}

/// The backoff before retry `attempt` (1-based): `base`, doubled each time, at most 60 s.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    super::status::doubling(base, Duration::from_secs(60), attempt)
}

#[cfg(test)]
#[path = "notify_tests.rs"]
mod tests;
