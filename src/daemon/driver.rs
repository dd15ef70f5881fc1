//! The daemon's loop: a thin driver around [`Schedule`] (when) and [`Reconciler`] (what).
//! It asks the schedule what is due, turns the source's state into a revision, runs the
//! sync on its own thread, feeds the outcome back to the schedule and the status, and
//! sleeps until the schedule's deadline or a wake-up.
//!
//! ```text
//!  Wake (files │ webhook │ signal) ──► Schedule ──tick──► fetch? full? ──► Source ──► Revision
//!        ▲                                                                        │
//!        └──── sleep until deadline ◄── outcome ◄── Reconciler::sync (own thread) ◄┘
//! ```

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::reconcile::{Outcome, Reconciler, Revision};
use super::schedule::Schedule;
use super::source::GitSource;
use super::status::{Phase, Rejected};
use super::{Shared, Wake};

/// Where revisions come from.
pub enum Source {
    /// A local directory, watched; each batch of changes is a new revision.
    Dir(PathBuf),
    /// A git remote, fetched every interval and on webhooks.
    Git(Box<GitSource>),
}

impl Source {
    /// How the source is shown on `/status` and in metrics.
    pub fn describe(&self) -> String {
        match self {
            Source::Dir(d) => format!("dir {}", d.display()),
            Source::Git(g) => g.describe(),
        }
    }

    fn is_git(&self) -> bool {
        matches!(self, Source::Git(_))
    }
}

/// The loop's settings.
#[derive(Debug, Clone, Copy)]
pub struct LoopOptions {
    /// Plan everything again this often, even without a change (drift detection).
    pub resync: Duration,
    /// Fetch the git remote this often.
    pub interval: Duration,
    /// One full sync, then return its exit code.
    pub once: bool,
}

/// A line on stderr, prefixed as every line of the daemon's own.
pub fn log(msg: &str) {
    crate::logging::log(
        crate::logging::Level::Info,
        None,
        &format!("keelson run: {msg}"),
    );
}

/// `work`, unless shutdown begins first (`None`): reads that wait on a silent endpoint
/// are dropped, so that SIGTERM is not held up by them.
pub async fn unless_stopping<T>(
    shared: &Shared,
    work: impl std::future::Future<Output = T>,
) -> Option<T> {
    let mut stop = shared.shutdown.subscribe();
    if *stop.borrow_and_update() {
        return None;
    }
    tokio::select! {
        done = work => Some(done),
        _ = stop.wait_for(|s| *s) => None,
    }
}

/// How long shutdown may take before the process exits regardless.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// The last word on shutdown: once it began, give the loop [`STOP_GRACE`] to finish, then
/// exit the process even if a call is still in flight (an apply's step waiting on an
/// endpoint that does not answer). Nothing is lost: the journal records each step before
/// it is sent, and the next start resumes from it, finding the step again by its
/// idempotency token, exactly as after a kill.
pub async fn stop_within_grace(shared: Arc<Shared>) {
    let mut stop = shared.shutdown.subscribe();
    if stop.wait_for(|s| *s).await.is_err() {
        return;
    }
    tokio::time::sleep(STOP_GRACE).await;
    log(&format!(
        "still busy {} s after the stop signal (a call in flight does not answer): exiting now; the journal keeps what was in flight for the next start",
        STOP_GRACE.as_secs()
    ));
    let lost = shared.lock_lost.load(std::sync::atomic::Ordering::SeqCst);
    std::process::exit(i32::from(lost));
}

/// Run `sync` on a thread of its own and give its memory back afterwards. The sync's
/// many short-lived allocations land in another malloc arena than the little that
/// outlives it, which is copied back into fresh allocations here (`compact`); then the
/// freed memory is returned to the system, so the idle daemon stays small.
fn sync_on_own_thread(
    reconciler: &mut Reconciler,
    shared: &Shared,
    rt: &tokio::runtime::Runtime,
    rev: &Revision,
    changed: Option<&[PathBuf]>,
) -> Outcome {
    let outcome =
        std::thread::scope(|scope| scope.spawn(|| reconciler.sync(rt, rev, changed)).join())
            .unwrap_or_else(|_| Outcome::Error {
                message: "the sync stopped on an internal error; see the log".into(),
                transient: true,
            });
    reconciler.compact();
    shared.compact();
    super::trim_memory();
    outcome
}

fn short(id: &str) -> &str {
    if id.starts_with("dir:") {
        id
    } else {
        id.get(..12).unwrap_or(id)
    }
}

/// A revision to sync, and which of its files changed (`None`: all of them).
type Work = (Revision, Option<Vec<PathBuf>>);

/// A source error: its message, and whether it is transient.
type SourceProblem = (String, bool);

/// The revision to sync now, if any, and a source error met on the way.
fn next_revision(
    src: &mut Source,
    schedule: &mut Schedule,
    shared: &Shared,
    last_rejected: &mut Option<String>,
    now: Instant,
) -> (Option<Work>, Option<SourceProblem>) {
    let due = schedule.tick(now);
    match src {
        Source::Dir(d) => {
            let work = schedule.dir_work().map(|w| {
                (
                    Revision {
                        id: format!("dir:{}#{}", d.display(), w.generation),
                        dir: d.clone(),
                    },
                    w.changed,
                )
            });
            (work, None)
        }
        Source::Git(g) => {
            let mut candidate = None;
            let mut source_error = None;
            if due.fetch {
                schedule.fetched(now);
                match g.fetch() {
                    Ok(head) => {
                        let known = g.current().map(|c| c.id.as_str()) == Some(head.as_str());
                        if !known && last_rejected.as_deref() != Some(head.as_str()) {
                            log(&format!("new revision {head}"));
                            match g.checkout(&head) {
                                Ok(rev) => candidate = Some(rev),
                                Err(e) => {
                                    let msg = format!("{e}");
                                    log(&format!("revision {head} refused: {msg}"));
                                    *last_rejected = Some(head.clone());
                                    let mut st = shared.status();
                                    st.rejected = Some(Rejected {
                                        revision: head,
                                        reason: msg.clone(),
                                    });
                                    if !e.is_transient() {
                                        st.last_error = Some(msg.clone());
                                    }
                                    source_error = Some((msg, e.is_transient()));
                                }
                            }
                        }
                    }
                    Err(e) => {
                        let msg = format!("{e}");
                        log(&msg);
                        shared.status().last_error = Some(msg.clone());
                        source_error = Some((msg, e.is_transient()));
                    }
                }
            }
            if candidate.is_none() && due.full {
                candidate = g.current().cloned();
            }
            // A git revision is a directory of its own: always loaded whole.
            schedule.clear_files();
            (candidate.map(|r| (r, None)), source_error)
        }
    }
}

/// Run the loop until shutdown (`None`), or with `once` for one sync (`Some(exit code)`).
pub fn run_loop(
    src: &mut Source,
    reconciler: &mut Reconciler,
    shared: &Arc<Shared>,
    rt: &tokio::runtime::Runtime,
    (tx, rx): (&Sender<Wake>, &Receiver<Wake>),
    opts: LoopOptions,
) -> Option<u8> {
    let source_name = src.describe();
    let mut schedule = Schedule::new(Instant::now(), opts.resync, opts.interval, src.is_git());
    let mut last_rejected: Option<String> = None;
    loop {
        if shared.stopping() {
            break;
        }
        let (work, source_error) = next_revision(
            src,
            &mut schedule,
            shared,
            &mut last_rejected,
            Instant::now(),
        );
        let mut once_code: Option<u8> = None;
        if let Some((rev, changed)) = work {
            shared.status().phase = Phase::Syncing;
            let kind = if changed.is_some() {
                "change"
            } else {
                "full sync"
            };
            let started = Instant::now();
            let outcome = sync_on_own_thread(reconciler, shared, rt, &rev, changed.as_deref());
            match outcome {
                Outcome::Done(code) => {
                    log(&format!(
                        "{kind} of {} done in {} ms (exit status {code})",
                        short(&rev.id),
                        started.elapsed().as_millis()
                    ));
                    if let Source::Git(g) = src {
                        g.accept(rev.clone());
                    }
                    let mut st = shared.status();
                    st.revision = Some(rev.id.clone());
                    st.ready = true;
                    if st.rejected.as_ref().is_some_and(|r| r.revision == rev.id) {
                        st.rejected = None;
                    }
                    drop(st);
                    shared.metrics.set_revision(&rev.id, &source_name);
                    shared.metrics.set_ready(true);
                    if let Some(d) = schedule.synced(Instant::now(), reconciler.take_retry()) {
                        log(&format!(
                            "a transient error stopped an apply; retrying in {} s",
                            d.as_secs()
                        ));
                    }
                    once_code = Some(code);
                    // A refused head leaves the last good revision synced, and is still an
                    // error to report.
                    if let Some((msg, false)) = &source_error {
                        shared.status().last_error = Some(msg.clone());
                        once_code = Some(1);
                    }
                }
                Outcome::Skipped => schedule.skipped(),
                Outcome::Invalid(msg) => {
                    log(&format!("revision {} is invalid; nothing applied, the last good revision stays:\n{msg}", short(&rev.id)));
                    let mut st = shared.status();
                    st.rejected = Some(Rejected {
                        revision: rev.id.clone(),
                        reason: format!("invalid: {msg}"),
                    });
                    st.last_error = Some(format!("revision {} is invalid", rev.id));
                    drop(st);
                    if let Source::Git(g) = src {
                        g.reject(&rev);
                        last_rejected = Some(rev.id.clone());
                    }
                    schedule.invalid(Instant::now());
                    once_code = Some(1);
                }
                Outcome::Error { message, transient } => {
                    log(&format!("sync failed: {message}"));
                    shared.status().last_error = Some(message);
                    if let Some(d) = schedule.failed(Instant::now(), transient) {
                        log(&format!("retrying in {} s", d.as_secs()));
                    }
                    if let Source::Git(g) = src {
                        if g.current().map(|c| &c.id) != Some(&rev.id) {
                            g.reject(&rev);
                        }
                    }
                    once_code = Some(1);
                }
                Outcome::Stopped => break,
            }
        } else if let Some((msg, transient)) = source_error {
            schedule.source_failed(Instant::now(), transient);
            once_code = Some(1);
            if opts.once {
                log(&format!("no revision to sync: {msg}"));
            }
        } else if opts.once {
            log("no revision to sync");
            once_code = Some(1);
        }
        shared.status().phase = Phase::Idle;

        if opts.once {
            return Some(once_code.unwrap_or(1));
        }

        // Wait for a change, a webhook, a timer or a signal. The loader frees its parse
        // trees on a helper thread after a large load; give that memory back once it is
        // done.
        if let Ok(w) = rx.recv_timeout(Duration::from_millis(300)) {
            let _ = tx.send(w);
        }
        super::trim_memory();
        let wait = schedule
            .deadline()
            .saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(Wake::Files(p)) => {
                schedule.files_changed(p);
                while let Ok(w) = rx.try_recv() {
                    match w {
                        Wake::Files(p) => schedule.files_changed(p),
                        Wake::Webhook => schedule.webhook(Instant::now()),
                        Wake::Reconcile => schedule.reconcile_now(Instant::now()),
                        Wake::Shutdown => break,
                    }
                }
            }
            Ok(Wake::Webhook) => schedule.webhook(Instant::now()),
            Ok(Wake::Reconcile) => schedule.reconcile_now(Instant::now()),
            Ok(Wake::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
    shared.status().phase = Phase::Stopping;
    shared.metrics.set_ready(false);
    log("stopped");
    None
}
