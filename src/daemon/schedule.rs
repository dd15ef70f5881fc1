//! When the daemon does what: the next resync, the next fetch of the git remote, retries
//! with backoff, and the work that piled up while a sync ran. Pure: every method takes
//! the instant it is called at, so tests drive it on explicit instants.
//!
//! ```text
//!  tick(now) ──► Due { fetch, full }        (resync or retry due → full)
//!  outcome of the sync ──► synced │ skipped │ invalid │ failed │ source_failed
//!  files │ webhook ──► pending work           deadline() ──► how long the loop may sleep
//! ```

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::status::backoff;

/// What is due at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// Fetch the git remote now.
    pub fetch: bool,
    /// The next sync plans everything (a resync, a retry, or the first sync).
    pub full: bool,
}

/// What to sync from a local directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirWork {
    /// A number that changes with every batch of file changes, so a failed apply is tried
    /// again once the files change.
    pub generation: u64,
    /// The files that changed, or `None` for everything.
    pub changed: Option<Vec<PathBuf>>,
}

/// The daemon's timers and pending work.
#[derive(Debug, Clone)]
pub struct Schedule {
    resync: Duration,
    interval: Duration,
    git: bool,
    next_resync: Instant,
    next_fetch: Instant,
    retry_at: Option<Instant>,
    failures: u32,
    full: bool,
    files: Vec<PathBuf>,
    generation: u64,
}

impl Schedule {
    /// A schedule starting at `now` with a full sync due; `git` when the source is a
    /// remote to fetch every `interval`.
    pub fn new(now: Instant, resync: Duration, interval: Duration, git: bool) -> Schedule {
        Schedule {
            resync,
            interval,
            git,
            next_resync: now,
            next_fetch: now,
            retry_at: None,
            failures: 0,
            full: true,
            files: Vec::new(),
            generation: 0,
        }
    }

    /// What is due at `now`. A due resync or retry makes the next sync a full one.
    pub fn tick(&mut self, now: Instant) -> Due {
        if now >= self.next_resync || self.retry_at.is_some_and(|t| now >= t) {
            self.full = true;
        }
        Due {
            fetch: self.git && now >= self.next_fetch,
            full: self.full,
        }
    }

    /// The remote was fetched at `now`: the next fetch is an interval later.
    pub fn fetched(&mut self, now: Instant) {
        self.next_fetch = now + self.interval;
    }

    /// What a local directory's next sync covers, if anything: everything when a full sync
    /// is due, else the files that changed.
    pub fn dir_work(&mut self) -> Option<DirWork> {
        if !self.files.is_empty() {
            self.generation += 1;
        }
        if self.full {
            self.files.clear();
            return Some(DirWork {
                generation: self.generation,
                changed: None,
            });
        }
        if self.files.is_empty() {
            return None;
        }
        Some(DirWork {
            generation: self.generation,
            changed: Some(std::mem::take(&mut self.files)),
        })
    }

    /// Files changed in the watched directory.
    pub fn files_changed(&mut self, files: impl IntoIterator<Item = PathBuf>) {
        self.files.extend(files);
    }

    /// Drop file changes a sync already covered (a git revision is always loaded whole).
    pub fn clear_files(&mut self) {
        self.files.clear();
    }

    /// A push webhook arrived at `now`: fetch at once; a local directory syncs in full.
    pub fn webhook(&mut self, now: Instant) {
        self.next_fetch = now;
        if !self.git {
            self.full = true;
        }
    }

    /// An operator asked for a sync (`POST /control/reconcile`): fetch, and plan in full.
    pub fn reconcile_now(&mut self, now: Instant) {
        self.next_fetch = now;
        self.full = true;
    }

    /// A sync finished at `now`. `retry`: an apply stopped on a transient error and is
    /// worth trying again soon. Returns the backoff when a retry was scheduled.
    pub fn synced(&mut self, now: Instant, retry: bool) -> Option<Duration> {
        let wait = if retry {
            self.failures += 1;
            let d = backoff(self.failures);
            self.retry_at = Some(now + d);
            Some(d)
        } else {
            self.failures = 0;
            self.retry_at = None;
            None
        };
        if self.full {
            self.next_resync = now + self.resync;
        }
        self.full = false;
        wait
    }

    /// Nothing in the changes mattered.
    pub fn skipped(&mut self) {
        self.full = false;
    }

    /// The revision failed validation at `now`: nothing to retry until it changes or the
    /// next resync.
    pub fn invalid(&mut self, now: Instant) {
        self.full = false;
        self.next_resync = now + self.resync;
    }

    /// The sync failed at `now`; a transient failure is retried with backoff (returned),
    /// a permanent one waits for the next resync or a new revision.
    pub fn failed(&mut self, now: Instant, transient: bool) -> Option<Duration> {
        self.failures += 1;
        // The full sync was attempted: the retry, not the resync timer, brings it back
        // sooner. (Left in the past, the resync timer would retry at once, again and again.)
        if self.full {
            self.next_resync = now + self.resync;
        }
        self.full = false;
        if transient {
            let d = backoff(self.failures);
            self.retry_at = Some(now + d);
            Some(d)
        } else {
            self.retry_at = None;
            self.next_resync = now + self.resync;
            None
        }
    }

    /// Fetching or checking out the remote failed at `now` and nothing was synced; a
    /// transient failure brings the next fetch forward (backoff, at most one interval).
    pub fn source_failed(&mut self, now: Instant, transient: bool) {
        if transient {
            self.failures += 1;
            self.next_fetch = now + backoff(self.failures).min(self.interval);
        }
    }

    /// Until when the loop may sleep if nothing wakes it.
    pub fn deadline(&self) -> Instant {
        let mut d = self.next_resync;
        if self.git {
            d = d.min(self.next_fetch);
        }
        if let Some(t) = self.retry_at {
            d = d.min(t);
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn dir(t0: Instant) -> Schedule {
        Schedule::new(t0, 10 * MIN, MIN, false)
    }

    #[test]
    fn the_first_tick_is_a_full_sync_then_the_resync_interval() {
        let t0 = Instant::now();
        let mut s = dir(t0);
        assert_eq!(
            s.tick(t0),
            Due {
                fetch: false,
                full: true
            }
        );
        assert_eq!(
            s.dir_work(),
            Some(DirWork {
                generation: 0,
                changed: None
            })
        );
        assert_eq!(s.synced(t0, false), None);
        assert_eq!(s.deadline(), t0 + 10 * MIN);
        assert!(!s.tick(t0 + 9 * MIN).full);
        assert_eq!(s.dir_work(), None);
        assert!(s.tick(t0 + 10 * MIN).full);
    }

    #[test]
    fn file_changes_are_incremental_work_with_a_new_generation() {
        let t0 = Instant::now();
        let mut s = dir(t0);
        s.tick(t0);
        s.dir_work();
        s.synced(t0, false);
        s.files_changed([PathBuf::from("a/x.yaml")]);
        s.files_changed([PathBuf::from("a/y.yaml")]);
        assert!(!s.tick(t0 + MIN).full);
        assert_eq!(
            s.dir_work(),
            Some(DirWork {
                generation: 1,
                changed: Some(vec![PathBuf::from("a/x.yaml"), PathBuf::from("a/y.yaml")])
            })
        );
        // Taken: nothing left for the next turn.
        s.synced(t0 + MIN, false);
        assert_eq!(s.dir_work(), None);
        // Changes that arrive while a resync is due are covered by the full sync.
        s.files_changed([PathBuf::from("b/z.yaml")]);
        s.tick(t0 + 10 * MIN);
        assert_eq!(
            s.dir_work(),
            Some(DirWork {
                generation: 2,
                changed: None
            })
        );
        s.synced(t0 + 10 * MIN, false);
        assert_eq!(s.dir_work(), None);
    }

    #[test]
    fn a_first_sync_that_fails_transiently_waits_for_its_backoff() {
        // Regression: the resync timer started in the past, so a failed first sync was
        // retried at once, over and over, instead of after the backoff.
        let t0 = Instant::now();
        let mut s = dir(t0);
        assert!(s.tick(t0).full);
        assert_eq!(s.failed(t0, true), Some(Duration::from_secs(5)));
        assert_eq!(s.deadline(), t0 + Duration::from_secs(5));
        assert!(!s.tick(t0 + Duration::from_secs(1)).full);
        assert_eq!(s.dir_work(), None);
    }

    #[test]
    fn transient_failures_back_off_and_retry_in_full() {
        let t0 = Instant::now();
        let mut s = dir(t0);
        s.tick(t0);
        assert_eq!(s.failed(t0, true), Some(Duration::from_secs(5)));
        assert_eq!(s.deadline(), t0 + Duration::from_secs(5));
        assert!(!s.tick(t0 + Duration::from_secs(4)).full);
        assert!(s.tick(t0 + Duration::from_secs(5)).full);
        let t1 = t0 + Duration::from_secs(5);
        assert_eq!(s.failed(t1, true), Some(Duration::from_secs(10)));
        assert_eq!(s.deadline(), t1 + Duration::from_secs(10));
        // A transient apply failure inside a finished sync keeps doubling.
        let t2 = t1 + Duration::from_secs(10);
        s.tick(t2);
        assert_eq!(s.synced(t2, true), Some(Duration::from_secs(20)));
        // Success resets the count and cancels the retry.
        let t3 = t2 + Duration::from_secs(20);
        s.tick(t3);
        assert_eq!(s.synced(t3, false), None);
        assert_eq!(s.deadline(), t3 + 10 * MIN);
        assert_eq!(s.failed(t3, true), Some(Duration::from_secs(5)));
    }

    #[test]
    fn permanent_failures_and_invalid_revisions_wait_for_the_resync() {
        let t0 = Instant::now();
        let mut s = dir(t0);
        s.tick(t0);
        assert_eq!(s.failed(t0, false), None);
        assert_eq!(s.deadline(), t0 + 10 * MIN);
        assert!(!s.tick(t0 + MIN).full);
        let t1 = t0 + 10 * MIN;
        assert!(s.tick(t1).full);
        s.invalid(t1);
        assert!(!s.tick(t1 + MIN).full);
        assert_eq!(s.deadline(), t1 + 10 * MIN);
    }

    #[test]
    fn a_git_source_is_fetched_every_interval_and_on_webhooks() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, 10 * MIN, MIN, true);
        assert!(s.tick(t0).fetch);
        s.fetched(t0);
        s.synced(t0, false);
        assert_eq!(s.deadline(), t0 + MIN);
        assert!(!s.tick(t0 + Duration::from_secs(59)).fetch);
        assert!(s.tick(t0 + MIN).fetch);
        s.fetched(t0 + MIN);
        // A webhook brings the fetch forward but does not force a full sync of a remote.
        s.webhook(t0 + Duration::from_secs(70));
        let d = s.tick(t0 + Duration::from_secs(70));
        assert!(d.fetch && !d.full);
        // An unreachable remote is fetched again after a backoff capped at the interval.
        let t1 = t0 + Duration::from_secs(70);
        s.fetched(t1);
        s.source_failed(t1, true);
        assert_eq!(s.deadline(), t1 + Duration::from_secs(5));
        for _ in 0..10 {
            s.source_failed(t1, true);
        }
        assert_eq!(s.deadline(), t1 + MIN);
        // A permanent source error (say, an unsigned head) does not hurry the next fetch.
        let mut p = Schedule::new(t0, 10 * MIN, MIN, true);
        p.fetched(t0);
        p.source_failed(t0, false);
        assert_eq!(p.deadline(), t0);
        p.synced(t0, false);
        assert_eq!(p.deadline(), t0 + MIN);
    }

    #[test]
    fn a_webhook_on_a_directory_forces_a_full_sync() {
        let t0 = Instant::now();
        let mut s = dir(t0);
        s.tick(t0);
        s.dir_work();
        s.synced(t0, false);
        s.webhook(t0 + MIN);
        assert!(s.tick(t0 + MIN).full);
        assert_eq!(
            s.dir_work(),
            Some(DirWork {
                generation: 0,
                changed: None
            })
        );
        // A directory is never fetched.
        assert!(!s.tick(t0 + MIN).fetch);
    }
}
