//! The Fleet's notification targets: where the daemon says what it did.
//!
//! ```text
//!  spec.policy.notifications[] ── type webhook │ slack ── url │ urlFrom {env │ file}
//!                              └─ type githubStatus ──── tokenFrom {env │ file}
//! ```
//!
//! Secrets need not live in git: a URL (a Slack incoming-webhook URL is a secret) or a
//! token can be read from an environment variable or a file when the daemon sends.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

string_enum! {
    /// What a notification target speaks: a generic JSON webhook, a Slack-compatible
    /// incoming webhook, or GitHub commit statuses.
    NotificationType { Webhook = "webhook", Slack = "slack", GithubStatus = "githubStatus" }
}

string_enum! {
    /// What the daemon notifies about.
    NotificationEvent {
        ApplyStarted = "applyStarted",
        ApplyFinished = "applyFinished",
        ApplyFailed = "applyFailed",
        ClusterBlocked = "clusterBlocked",
        DriftFound = "driftFound",
        HopHeld = "hopHeld",
        HopReleased = "hopReleased",
    }
}

/// One notification target.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Notification {
    /// `webhook`, `slack` or `githubStatus`.
    #[serde(rename = "type")]
    pub kind: NotificationType,
    /// Where to POST (webhook, slack). Prefer `urlFrom` for a URL that is a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^https?://"))]
    pub url: Option<String>,
    /// Read the URL from an environment variable or a file of the daemon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_from: Option<SecretRef>,
    /// The GitHub token (githubStatus; it needs `repo:status` or fine-grained
    /// "Commit statuses: write").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_from: Option<SecretRef>,
    /// `OWNER/NAME` of the GitHub repository (githubStatus). Default: read from the git
    /// remote's URL, else `GITHUB_REPOSITORY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"))]
    pub repository: Option<String>,
    /// Which events to send (webhook, slack). Empty: all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<NotificationEvent>,
    /// How many messages may go out at once before the rate limit applies (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub burst: Option<u32>,
    /// Messages per minute once the burst is spent (default 6); beyond it events are
    /// counted, not sent, and the next message says how many were left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 6000))]
    pub per_minute: Option<u32>,
}

/// A secret the daemon reads when it sends: exactly one of `env` and `file`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretRef {
    /// An environment variable of the daemon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub env: Option<String>,
    /// A file the daemon can read (e.g. a mounted Kubernetes Secret); surrounding
    /// whitespace is trimmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub file: Option<String>,
}

impl Notification {
    /// Whether this target wants `e`.
    pub fn wants(&self, e: NotificationEvent) -> bool {
        self.events.is_empty() || self.events.contains(&e)
    }
}
