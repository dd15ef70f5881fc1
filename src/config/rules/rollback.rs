//! The soak/rollback rule: a stage whose `soak` outlasts EKS's 7-day rollback window
//! (EKS User Guide `rollback-cluster`) lets a problem found late in the soak be found
//! after the window has closed, when the stage can no longer be rolled back.
//!
//! ```text
//!  Fleet spec.stages[i].soak > 7d ─► warning soak-past-rollback-window (at the soak)
//! ```
//!
//! A warning, not an error: a long soak is a choice (a stage whose clusters are rebuilt
//! rather than rolled back), but it should be a known one.

use super::Ctx;
use crate::config::diag::Rule;
use crate::config::repo::Repo;
use crate::versions::ROLLBACK_WINDOW_SECS;

pub(super) fn soak_rules(repo: &Repo, cx: &mut Ctx<'_>) {
    let Some(f) = &repo.fleet else { return };
    // A soak holds the later stages; the last stage's soak holds nothing, but a problem
    // found in it is still one to roll back.
    for (i, s) in f.value.spec.stages.iter().enumerate() {
        let Some(soak) = &s.soak else { continue };
        if soak.secs_i64() > ROLLBACK_WINDOW_SECS {
            cx.report(
                f.doc,
                &format!("spec.stages[{i}].soak"),
                Rule::SoakPastRollbackWindow,
                format!(
                    "stage `{}` soaks for {}, longer than the 7 days in which EKS can roll a control-plane upgrade back: a problem found after day 7 of the soak can no longer be rolled back in place; write `soak: 7d` or less (e.g. `5d`) to keep a rollback possible",
                    s.name,
                    soak.as_str()
                ),
            );
        }
    }
}
