//! The Fleet's notification targets are complete: a webhook or Slack target has one URL
//! (`url`, or `urlFrom` an environment variable or file), a GitHub status target a token
//! and no URL, and a secret reference names exactly one place.

use super::{Ctx, Rule};
use crate::config::repo::Repo;
use crate::model::{NotificationType, SecretRef};

fn secret(cx: &mut Ctx<'_>, doc: usize, path: &str, r: &SecretRef) {
    if r.env.is_some() == r.file.is_some() {
        cx.report(
            doc,
            path,
            Rule::NotificationTarget,
            "give exactly one of `env: NAME` (an environment variable of the daemon) and `file: PATH`",
        );
    }
}

/// Check `spec.policy.notifications`.
pub(super) fn check(repo: &Repo, cx: &mut Ctx<'_>) {
    let Some(f) = &repo.fleet else { return };
    for (i, n) in f.value.spec.policy.notifications.iter().enumerate() {
        let at = format!("spec.policy.notifications[{i}]");
        match n.kind {
            NotificationType::Webhook | NotificationType::Slack => {
                if n.url.is_some() == n.url_from.is_some() {
                    cx.report(
                        f.doc,
                        &at,
                        Rule::NotificationTarget,
                        format!("a {} notification needs exactly one of `url` and `urlFrom`; for a URL that is a secret (a Slack webhook's is), write `urlFrom: {{env: NAME}}` or `urlFrom: {{file: PATH}}`", n.kind),
                    );
                }
                if n.token_from.is_some() || n.repository.is_some() {
                    cx.report(
                        f.doc,
                        &at,
                        Rule::NotificationTarget,
                        format!("`tokenFrom` and `repository` belong to `type: githubStatus`; remove them from this {} notification", n.kind),
                    );
                }
            }
            NotificationType::GithubStatus => {
                if n.token_from.is_none() {
                    cx.report(
                        f.doc,
                        &at,
                        Rule::NotificationTarget,
                        "a githubStatus notification needs `tokenFrom: {env: GITHUB_TOKEN}` (or `file: PATH`)",
                    );
                }
                if n.url.is_some() || n.url_from.is_some() || !n.events.is_empty() {
                    cx.report(
                        f.doc,
                        &at,
                        Rule::NotificationTarget,
                        "a githubStatus notification posts to the GitHub API (GITHUB_API_URL, default https://api.github.com) for each synced commit: remove `url`, `urlFrom` and `events`",
                    );
                }
            }
        }
        if let Some(r) = &n.url_from {
            secret(cx, f.doc, &format!("{at}.urlFrom"), r);
        }
        if let Some(r) = &n.token_from {
            secret(cx, f.doc, &format!("{at}.tokenFrom"), r);
        }
    }
}
