//! One sync: load a revision, observe, plan, decide per cluster, apply, re-plan, report.
//!
//! ```text
//!  Revision dir ──load (full │ one cluster's files)──► valid? ──no──► Invalid (nothing applied)
//!      └─► connect target (ports instrumented with the metrics) ─► observe + plan() ─► decide per cluster
//!          ─► journal begin ─► apply (bounded by Fleet maxConcurrency) ─► journal end ─► re-plan applied
//!          ─► status + metrics ─► drop the repo and live state, trim the heap
//! ```
//!
//! Between syncs only [`ClusterStatus`] per cluster and an index of cluster directories
//! stay in memory. A change confined to one cluster's directory (the watched local
//! directory case) reloads that directory plus the files outside every cluster directory
//! (the Fleet), observes that one cluster and plans it alone; anything else, or a change
//! that renames a cluster, reloads everything.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::adapters::fs::{pending_file, walk_repo, walk_repo_from};
use crate::apply::{self, ApplyOptions, Progress};
use crate::config::{self, LoadOptions, Loaded};
use crate::model::{ApplyMode, MaintenanceWindow};
use crate::plan::{Action, Plan};
use crate::sync::{connect_with, make_plan, Connected, TargetSpec};
use crate::versions::Date;

use super::journal::{Event, Journal};
use super::metrics::FleetGauges;
use super::notify;
use super::report;
use super::status::{self, ClusterState, ClusterStatus, Counts, Decision, Facts};
use super::Shared;
use crate::adapters::notify::Notifier;

/// Whether `rel` lies inside one of `dirs` (cluster directories; the root counts only
/// when it is one).
fn under_any(rel: &str, dirs: &HashSet<&str>) -> bool {
    let mut cur = rel;
    while let Some(i) = cur.rfind('/') {
        cur = &cur[..i];
        if dirs.contains(cur) {
            return true;
        }
    }
    dirs.contains("")
}

/// A revision of the repository, checked out in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// Commit id, or `dir:<path>` for a local directory.
    pub id: String,
    /// Where its files are.
    pub dir: PathBuf,
}

/// How a sync ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done; the exit code `--once` reports (0, 2 or 3; 1 when a cluster failed).
    Done(u8),
    /// The revision failed validation; nothing was planned or applied.
    Invalid(String),
    /// Observing failed; `transient` errors are retried with backoff.
    Error {
        /// What failed.
        message: String,
        /// Whether a retry may succeed.
        transient: bool,
    },
    /// Nothing to do (only ignored files changed).
    Skipped,
    /// Shutdown interrupted the apply; the journal has what was in flight.
    Stopped,
}

/// Options of the reconciler.
pub struct Options {
    /// Target, and the clusters a full sync plans (empty: all).
    pub target: TargetSpec,
    /// Today, for the support calendar.
    pub today: Date,
    /// `--suspend`.
    pub suspend: bool,
    /// Executor pacing.
    pub apply: ApplyOptions,
}

#[derive(Debug, Default)]
struct Index {
    dir: PathBuf,
    /// Cluster directory (relative) → cluster name.
    clusters: BTreeMap<String, String>,
    /// Files outside every cluster directory (the Fleet), relative.
    outside: Vec<String>,
}

/// The reconciler: everything that lives from one sync to the next.
pub struct Reconciler {
    opts: Options,
    shared: Arc<Shared>,
    journal: Option<Arc<Journal>>,
    in_flight: BTreeSet<String>,
    failed: BTreeMap<String, (String, String)>,
    index: Option<Index>,
    retry: bool,
    shards: Option<Arc<super::shards::Shards>>,
    notifier: Option<Arc<Notifier>>,
}

fn counts(c: &crate::plan::ClusterPlan) -> Counts {
    let mut n = Counts::default();
    for s in &c.steps {
        match s.action {
            Action::Create => n.create += 1,
            Action::Update => n.update += 1,
            Action::Replace => n.replace += 1,
            Action::Delete => n.delete += 1,
        }
    }
    n
}

fn is_yaml(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("yaml") | Some("yml")
    )
}

struct StagePolicy {
    mode: ApplyMode,
    windows: Vec<MaintenanceWindow>,
}

impl Reconciler {
    /// A reconciler; `in_flight` are the clusters the journal showed mid-apply.
    pub fn new(
        opts: Options,
        shared: Arc<Shared>,
        journal: Option<Arc<Journal>>,
        in_flight: BTreeSet<String>,
    ) -> Reconciler {
        Reconciler {
            opts,
            shared,
            journal,
            in_flight,
            failed: BTreeMap::new(),
            index: None,
            retry: false,
            shards: None,
            notifier: None,
        }
    }

    /// Send notifications (the Fleet's `spec.policy.notifications`) through `n`.
    #[must_use]
    pub fn with_notifier(mut self, n: Arc<Notifier>) -> Reconciler {
        self.notifier = Some(n);
        self
    }

    fn commit_status(&self, rev: &Revision, r: notify::SyncResult<'_>) {
        if let Some(n) = &self.notifier {
            n.commit_status(&rev.id, r);
        }
    }

    /// Plan and write only the clusters this replica owns in its shard group
    /// (`--shards auto`), each under its own Lease.
    #[must_use]
    pub fn with_shards(mut self, shards: Arc<super::shards::Shards>) -> Reconciler {
        self.shards = Some(shards);
        self
    }

    /// Whether the last sync met a transient apply error worth retrying soon (cleared).
    pub fn take_retry(&mut self) -> bool {
        std::mem::take(&mut self.retry)
    }

    /// Copy what outlives a sync into fresh allocations made by the calling thread (see
    /// [`super::Shared::compact`]).
    pub fn compact(&mut self) {
        if let Some(i) = &self.index {
            self.index = Some(Index {
                dir: i.dir.clone(),
                clusters: i.clusters.clone(),
                outside: i.outside.clone(),
            });
        }
        self.failed = self.failed.clone();
        self.in_flight = self.in_flight.clone();
    }

    /// Which cluster directory a changed file belongs to: `Some(Some(dir))` one cluster,
    /// `Some(None)` nothing that matters, `None` a full reload is needed.
    fn affected(&self, rev: &Revision, changed: &[PathBuf]) -> Option<Option<String>> {
        let index = self.index.as_ref().filter(|i| i.dir == rev.dir)?;
        let mut hit: Option<String> = None;
        for p in changed {
            let rel = p.strip_prefix(&rev.dir).ok()?;
            if rel
                .components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
            {
                continue;
            }
            if !is_yaml(p) && p.is_file() {
                continue; // not configuration
            }
            // Anything else (a YAML file, or a path that is gone or a directory, which
            // may have held YAML files) belongs to the nearest cluster directory above it;
            // a cluster directory itself, or anything above every cluster, needs it all.
            let rel = rel.to_string_lossy().replace('\\', "/");
            if index
                .clusters
                .keys()
                .any(|d| *d == rel || d.starts_with(&format!("{rel}/")))
            {
                return None;
            }
            let dir = index
                .clusters
                .keys()
                .filter(|d| d.is_empty() || rel.starts_with(&format!("{d}/")))
                .max_by_key(|d| d.len())?
                .clone();
            if dir.is_empty() {
                return None;
            }
            match &hit {
                Some(h) if *h != dir => return None,
                _ => hit = Some(dir),
            }
        }
        Some(hit)
    }

    /// Load `rev` in full, or only `dir` (a cluster directory) plus the files outside
    /// every cluster directory. `None` from a partial load means "reload in full".
    fn load(
        &self,
        rev: &Revision,
        dir: Option<&str>,
    ) -> anyhow::Result<Option<(Loaded, Vec<String>)>> {
        let opts = LoadOptions::new(self.opts.today);
        let Some(dir) = dir else {
            let walk = walk_repo(&rev.dir)?;
            let mut loaded = config::load_from(&walk, &opts);
            if !walk.diagnostics.is_empty() {
                config::diag::merge(&mut loaded.diagnostics, walk.diagnostics.iter().cloned());
            }
            let dirs: HashSet<&str> = loaded
                .repo
                .clusters
                .iter()
                .map(|c| c.dir.as_str())
                .collect();
            let outside = walk
                .files
                .iter()
                .map(|f| f.rel())
                .filter(|rel| !under_any(rel, &dirs))
                .map(str::to_string)
                .collect();
            return Ok(Some((loaded, outside)));
        };
        let Some(index) = &self.index else {
            return Ok(None);
        };
        let Ok(mut walk) = walk_repo_from(&rev.dir, dir) else {
            return Ok(None);
        };
        let mut outside = Vec::new();
        for rel in &index.outside {
            // A file outside the clusters that vanished changes the Fleet: reload it all.
            let Some(f) = pending_file(&rev.dir, rel) else {
                return Ok(None);
            };
            outside.push(f);
        }
        walk.files.extend(outside);
        let mut loaded = config::load_from(&walk, &opts);
        if !walk.diagnostics.is_empty() {
            config::diag::merge(&mut loaded.diagnostics, walk.diagnostics);
        }
        // The same clusters in the same directories, or cross-cluster rules (unique
        // names) need the whole repository.
        let prefix = format!("{dir}/");
        let now: BTreeMap<&str, &str> = loaded
            .repo
            .clusters
            .iter()
            .map(|c| (c.dir.as_str(), c.name()))
            .collect();
        let before: BTreeMap<&str, &str> = index
            .clusters
            .iter()
            .filter(|(d, _)| **d == dir || d.starts_with(&prefix))
            .map(|(d, n)| (d.as_str(), n.as_str()))
            .collect();
        if now != before {
            return Ok(None);
        }
        Ok(Some((loaded, index.outside.clone())))
    }

    /// One sync of `rev`. `changed`: the files that changed since the last sync of the
    /// same directory, when known (a watched directory); `None` means everything.
    pub fn sync(
        &mut self,
        rt: &tokio::runtime::Runtime,
        rev: &Revision,
        changed: Option<&[PathBuf]>,
    ) -> Outcome {
        let started = Instant::now();
        let wall = super::unix_now();
        // Whether the revision differs from the last one synced: changes are then git's,
        // not drift.
        let source_changed =
            changed.is_some() || self.shared.status().revision.as_deref() != Some(&rev.id);
        let mut dir = match changed.map(|c| self.affected(rev, c)) {
            Some(Some(None)) => return Outcome::Skipped,
            Some(Some(Some(d))) => Some(d),
            _ => None,
        };
        let t_load = Instant::now();
        let (loaded, outside) = match self.load(rev, dir.as_deref()) {
            Ok(Some(l)) => l,
            Ok(None) => {
                dir = None;
                match self.load(rev, None) {
                    Ok(Some(l)) => l,
                    Ok(None) => return Outcome::Skipped,
                    Err(e) => return self.finish_error(rev, started, format!("{e:#}"), false),
                }
            }
            Err(e) => return self.finish_error(rev, started, format!("{e:#}"), false),
        };
        tracing::info!(
            load_ms = t_load.elapsed().as_millis() as u64,
            files = loaded.stats.files,
            incremental = dir.is_some(),
            "loaded"
        );
        if !loaded.is_valid() {
            let mut text: Vec<String> = loaded
                .diagnostics
                .iter()
                .filter(|d| d.severity == config::Severity::Error)
                .take(5)
                .map(|d| d.to_string())
                .collect();
            text.push(crate::sync::summary(&loaded));
            let msg = text.join("\n");
            self.shared
                .metrics
                .observe_reconcile(started.elapsed().as_secs_f64(), "invalid");
            self.commit_status(rev, notify::SyncResult::Invalid);
            return Outcome::Invalid(msg);
        }
        let every = || -> BTreeSet<String> {
            loaded
                .repo
                .clusters
                .iter()
                .map(|c| c.name().to_string())
                .collect()
        };
        let only: BTreeSet<String> = if dir.is_some() {
            every()
        } else {
            self.opts.target.clusters.clone()
        };
        let only = match &self.shards {
            Some(sh) => {
                let all = if only.is_empty() { every() } else { only };
                let mine = sh.owned(&all, dir.is_none());
                if mine.is_empty() {
                    // Nothing of this sync is ours: plan nothing (an empty `only` is all).
                    if dir.is_none() {
                        self.shared.status().clusters.clear();
                    }
                    return Outcome::Done(0);
                }
                mine
            }
            None => only,
        };
        if dir.is_none() {
            self.index = Some(Index {
                dir: rev.dir.clone(),
                clusters: loaded
                    .repo
                    .clusters
                    .iter()
                    .map(|c| (c.dir.clone(), c.name().to_string()))
                    .collect(),
                outside,
            });
        }
        let outcome = self.plan_and_apply(rt, rev, &loaded, &only, dir.is_some(), source_changed);
        drop(loaded);
        let result = match &outcome {
            Outcome::Done(1) | Outcome::Error { .. } => "error",
            _ => "ok",
        };
        let secs = started.elapsed().as_secs_f64();
        self.shared.metrics.observe_reconcile(secs, result);
        self.shared.metrics.set_last_sync(super::unix_now());
        if let Outcome::Done(code) = outcome {
            let mut st = self.shared.status();
            st.last_sync = Some(status::SyncInfo {
                started: wall,
                started_at: super::rfc3339(wall),
                finished_at: super::rfc3339(super::unix_now()),
                duration_ms: started.elapsed().as_millis() as u64,
                finished_ms: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as u64)
                    .unwrap_or(0),
                kind: if dir.is_some() { "incremental" } else { "full" }.into(),
                planned: only
                    .len()
                    .max(usize::from(dir.is_none()) * st.clusters.len()),
                exit_code: code,
            });
            st.last_error = None;
        }
        outcome
    }

    fn finish_error(
        &self,
        rev: &Revision,
        started: Instant,
        message: String,
        transient: bool,
    ) -> Outcome {
        self.shared
            .metrics
            .observe_reconcile(started.elapsed().as_secs_f64(), "error");
        self.commit_status(rev, notify::SyncResult::Error(&message));
        Outcome::Error { message, transient }
    }

    fn connect(&self, rt: &tokio::runtime::Runtime, loaded: &Loaded) -> anyhow::Result<Connected> {
        let metrics = self.shared.metrics.clone();
        connect_with(&self.opts.target, loaded, rt, Some(metrics))
    }

    fn plan_and_apply(
        &mut self,
        rt: &tokio::runtime::Runtime,
        rev: &Revision,
        loaded: &Loaded,
        only: &BTreeSet<String>,
        incremental: bool,
        source_changed: bool,
    ) -> Outcome {
        let t0 = Instant::now();
        let target = match self.connect(rt, loaded) {
            Ok(t) => t,
            Err(e) => {
                // A simulator state another process is working on is free again soon.
                let transient = e
                    .downcast_ref::<crate::adapters::sim::SimError>()
                    .is_some_and(|s| matches!(s, crate::adapters::sim::SimError::Busy { .. }));
                self.commit_status(rev, notify::SyncResult::Error("cannot reach the target"));
                return Outcome::Error {
                    message: format!("{e:#}"),
                    transient,
                };
            }
        };
        let concurrency = self.opts.target.concurrency.max(1);
        let t1 = Instant::now();
        // Reading live state may wait long on a slow endpoint: shutdown does not wait.
        let planned = rt.block_on(super::driver::unless_stopping(
            &self.shared,
            make_plan(&target, loaded, only, concurrency),
        ));
        let Some(planned) = planned else {
            let _ = target.flush();
            return Outcome::Stopped;
        };
        let plan = match planned {
            Ok(p) => p,
            Err(e) => {
                let transient = e
                    .downcast_ref::<crate::observe::ObserveError>()
                    .is_some_and(|o| o.source.is_transient());
                let _ = target.flush();
                self.commit_status(rev, notify::SyncResult::Error("cannot read the live state"));
                return Outcome::Error {
                    message: format!("{e:#}"),
                    transient,
                };
            }
        };
        let t_planned = t0.elapsed();
        tracing::info!(
            connect_ms = (t1 - t0).as_millis() as u64,
            plan_ms = t1.elapsed().as_millis() as u64,
            clusters = plan.clusters.len(),
            "observed and planned"
        );
        let fleet_name = plan.fleet.clone();
        let fleet = loaded.repo.fleet.as_ref().map(|f| &f.value.spec);
        if let Some(n) = &self.notifier {
            n.configure(
                &fleet_name,
                fleet.map_or(&[][..], |f| &f.policy.notifications),
            );
        }
        let stages: BTreeMap<&str, StagePolicy> = fleet
            .map(|f| {
                f.stages
                    .iter()
                    .map(|s| {
                        (
                            s.name.as_str(),
                            StagePolicy {
                                mode: s.apply,
                                windows: s.maintenance_windows.clone(),
                            },
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let suspended = self.opts.suspend || fleet.is_some_and(|f| f.policy.suspend);
        // One-way transitions only with the Fleet's opt-in; the executor checks it again.
        self.opts.apply.allow_irreversible = fleet.is_some_and(|f| f.policy.allow_irreversible);
        let max_concurrency = fleet.map_or(8, |f| f.policy.max_concurrency.max(1) as usize);
        let stage_of: BTreeMap<&str, &str> = loaded
            .repo
            .clusters
            .iter()
            .map(|c| (c.name(), c.cluster.value.spec.stage.as_str()))
            .collect();
        let now = target.ports.clock.now();

        let mut statuses: BTreeMap<String, ClusterStatus> = BTreeMap::new();
        let mut to_apply = Vec::new();
        let control = self.shared.status().control.clone();
        for c in &plan.clusters {
            let stage = stage_of
                .get(c.name.as_str())
                .and_then(|s| stages.get(s).map(|p| (*s, p)));
            let window_open = stage.is_none_or(|(_, p)| super::windows::is_open(&p.windows, now));
            let next_window =
                stage.and_then(|(_, p)| super::windows::next_opening(&p.windows, now));
            let failed_here = self
                .failed
                .get(&c.name)
                .filter(|(r, _)| *r == rev.id)
                .map(|(_, e)| e.as_str());
            let facts = Facts {
                cluster: &c.name,
                has_changes: c.has_changes(),
                blocked: !c.blocked.is_empty(),
                // An operator's approval of exactly this plan stands in for `apply: auto`.
                stage: stage.map(|(s, p)| {
                    match control.approves(&c.name, &c.fingerprint, &rev.id) {
                        true => (s, ApplyMode::Auto),
                        false => (s, p.mode),
                    }
                }),
                window_open,
                next_window,
                suspended: suspended
                    || control.suspends(
                        &c.name,
                        stage_of.get(c.name.as_str()).copied().unwrap_or_default(),
                    ),
                in_flight: self.in_flight.contains(&c.name),
                failed_here,
                held: c.held.first().map(String::as_str),
                settling: c.waits.first().map(String::as_str),
                one_way: c.one_way().filter(|_| !self.opts.apply.allow_irreversible),
            };
            let decision = status::decide(&facts);
            let (state, reason) = match &decision {
                Decision::Converged => (ClusterState::Converged, None),
                Decision::Apply => (ClusterState::Applying, None),
                Decision::Pending(r) => (ClusterState::Pending, Some(r.clone())),
                Decision::Blocked => (ClusterState::Blocked, None),
            };
            if decision == Decision::Apply {
                to_apply.push(c.clone());
            }
            statuses.insert(
                c.name.clone(),
                ClusterStatus {
                    stage: stage.map(|(s, _)| s.to_string()).unwrap_or_default(),
                    apply: stage.map_or(ApplyMode::Manual, |(_, p)| p.mode),
                    fingerprint: c.fingerprint.clone(),
                    plan: counts(c),
                    drift: c.has_changes(),
                    blocked: c.blocked.iter().map(|b| b.message.clone()).collect(),
                    state,
                    reason,
                    progress: None,
                    applied_steps: 0,
                    last_error: failed_here.map(str::to_string),
                    planned_at: now,
                    region: c.region.clone(),
                    steps: report::step_labels(c),
                    hop: report::hop(c),
                    rollback_window_end: c.rollback_window_end,
                    held: c.held.first().cloned(),
                    ..ClusterStatus::default()
                },
            );
        }
        if !incremental {
            // Applies the journal showed in flight that need nothing more (the update
            // finished while no daemon ran, or the cluster left the repository) end here.
            let applying: BTreeSet<&str> = to_apply.iter().map(|c| c.name.as_str()).collect();
            let done: Vec<String> = self
                .in_flight
                .iter()
                .filter(|n| !applying.contains(n.as_str()))
                .cloned()
                .collect();
            for name in done {
                if let Some(j) = &self.journal {
                    let _ = j.record(&name, Event::End { error: None });
                }
                self.in_flight.remove(&name);
            }
        }
        let time = super::rfc3339(super::unix_now());
        let cx = notify::Context {
            fleet: &fleet_name,
            revision: &rev.id,
            source_changed,
            time: &time,
        };
        if let Some(n) = &self.notifier {
            let prev = &self.shared.status().clusters;
            n.send(&notify::planned(&cx, prev, &statuses));
            if !to_apply.is_empty() {
                n.commit_status(&rev.id, notify::SyncResult::Applying(to_apply.len()));
            }
        }
        // The applied clusters as planned, for the events of their applies.
        let before_apply: BTreeMap<String, ClusterStatus> = match &self.notifier {
            Some(_) => to_apply
                .iter()
                .filter_map(|c| statuses.get(&c.name).map(|s| (c.name.clone(), s.clone())))
                .collect(),
            None => BTreeMap::new(),
        };
        {
            let mut st = self.shared.status();
            st.suspended = suspended;
            if !incremental {
                st.clusters.retain(|k, _| statuses.contains_key(k));
            }
            for (k, v) in &statuses {
                st.clusters.insert(k.clone(), v.clone());
            }
        }
        for (name, s) in &statuses {
            if s.state != ClusterState::Converged {
                let line = format!(
                    "[{name}] {} ({} to create, {} to change, {} to replace, {} to delete){}",
                    s.state,
                    s.plan.create,
                    s.plan.update,
                    s.plan.replace,
                    s.plan.delete,
                    s.reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                );
                crate::logging::log(crate::logging::Level::Info, Some(name), &line);
            }
        }
        // The plan to apply: the same plan, narrowed to the clusters decided above.
        let plan = Plan {
            clusters: to_apply,
            ..plan
        };

        let mut stopped = false;
        if !plan.clusters.is_empty() {
            stopped = self.apply(rt, rev, &target, plan, max_concurrency, &mut statuses);
            if !stopped {
                // Converged? Plan the applied clusters again against what is there now.
                let applied: BTreeSet<String> = statuses
                    .iter()
                    .filter(|(_, s)| {
                        matches!(s.state, ClusterState::Applied | ClusterState::Failed)
                    })
                    .map(|(n, _)| n.clone())
                    .collect();
                let after = rt.block_on(super::driver::unless_stopping(
                    &self.shared,
                    make_plan(&target, loaded, &applied, concurrency),
                ));
                match after.unwrap_or_else(|| Err(anyhow::anyhow!("shutdown began"))) {
                    Ok(after) => {
                        for c in &after.clusters {
                            if let Some(s) = statuses.get_mut(&c.name) {
                                s.fingerprint = c.fingerprint.clone();
                                s.plan = counts(c);
                                s.drift = c.has_changes();
                                s.blocked = c.blocked.iter().map(|b| b.message.clone()).collect();
                                s.planned_at = target.ports.clock.now();
                                s.steps = report::step_labels(c);
                                s.hop = report::hop(c);
                                let applied = s.state == ClusterState::Applied;
                                if applied
                                    && !c.has_changes()
                                    && c.blocked.is_empty()
                                    && !c.is_settling()
                                {
                                    s.state = ClusterState::Converged;
                                } else if applied && !c.blocked.is_empty() {
                                    s.state = ClusterState::Blocked;
                                } else if applied {
                                    s.state = ClusterState::Pending;
                                    s.reason = Some("more changes remain after this apply (e.g. the next upgrade hop); the next sync continues".into());
                                }
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %format!("{e:#}"), "re-plan after apply failed");
                    }
                }
            }
        }
        if let Err(e) = target.flush() {
            tracing::warn!(error = %e, "target state not saved");
        }
        crate::sync::print_stats(&target);
        drop(target);
        if stopped {
            return Outcome::Stopped;
        }
        if let Some(n) = &self.notifier {
            let time = super::rfc3339(super::unix_now());
            let cx = notify::Context { time: &time, ..cx };
            n.send(&notify::applied(&cx, &before_apply, &statuses));
        }
        let code;
        {
            let mut st = self.shared.status();
            let (wall, planned_secs) = (super::unix_now(), t_planned.as_secs_f64());
            for (k, mut v) in statuses {
                // Applied clusters took the whole sync; the others, its planning.
                let secs = if v.last_apply.is_some() {
                    // An approval is used up by the apply it allowed.
                    st.control.approvals.remove(&k);
                    t0.elapsed().as_secs_f64()
                } else {
                    planned_secs
                };
                let labels = report::labels(&k, &v.stage, &v.region);
                self.shared.metrics.observe_cluster(labels, secs);
                report::carry_over(st.clusters.get(&k), &mut v, wall);
                st.clusters.insert(k, v);
            }
            let g = FleetGauges {
                drift: st.clusters.values().filter(|c| c.drift).count() as u64,
                blocked: st
                    .clusters
                    .values()
                    .filter(|c| c.state == ClusterState::Blocked)
                    .count() as u64,
                pending: st
                    .clusters
                    .values()
                    .filter(|c| c.state == ClusterState::Pending)
                    .count() as u64,
            };
            self.shared.metrics.set_fleet(g);
            code = status::exit_code(&st.clusters, false);
        }
        self.commit_status(rev, notify::SyncResult::Done(code));
        Outcome::Done(code)
    }

    /// Apply; returns true when shutdown interrupted it.
    fn apply(
        &mut self,
        rt: &tokio::runtime::Runtime,
        rev: &Revision,
        target: &Connected,
        plan: Plan,
        max_concurrency: usize,
        statuses: &mut BTreeMap<String, ClusterStatus>,
    ) -> bool {
        // Sharded: write only to the clusters whose Lease this replica takes now.
        let (plan, taken) = match &self.shards {
            Some(sh) => {
                let (plan, taken, waiting) = rt.block_on(sh.take(plan));
                for (name, why) in waiting {
                    crate::logging::log(
                        crate::logging::Level::Info,
                        Some(&name),
                        &format!("[{name}] waits: {why}"),
                    );
                    if let Some(s) = statuses.get_mut(&name) {
                        s.state = ClusterState::Pending;
                        s.reason = Some(why);
                    }
                }
                (plan, Some(taken))
            }
            None => (plan, None),
        };
        for c in &plan.clusters {
            if let Some(j) = &self.journal {
                if let Err(e) = j.record(
                    &c.name,
                    Event::Begin {
                        revision: rev.id.clone(),
                        steps: c.steps.len(),
                    },
                ) {
                    tracing::warn!(error = %format!("{e:#}"), "journal write failed");
                }
            }
            let mut st = self.shared.status();
            if let Some(s) = st.clusters.get_mut(&c.name) {
                s.progress = Some(status::Progress {
                    revision: rev.id.clone(),
                    total: c.steps.len(),
                    ..status::Progress::default()
                });
            }
        }
        let opts = ApplyOptions {
            concurrency: max_concurrency.min(self.opts.apply.concurrency.max(1)),
            ..self.opts.apply
        };
        let progress = Arc::new(DaemonProgress {
            shared: self.shared.clone(),
            journal: self.journal.clone(),
        });
        let mut shutdown = self.shared.shutdown.subscribe();
        let apply_started = super::unix_now();
        let shards = self.shards.clone();
        let run = async {
            match (&shards, taken) {
                (Some(sh), Some(taken)) => {
                    sh.apply(&target.ports, &plan, taken, opts, progress).await
                }
                _ => apply::apply(&target.ports, &plan, opts, progress).await,
            }
        };
        let report = rt.block_on(async {
            tokio::select! {
                r = run => Some(r),
                _ = shutdown.wait_for(|v| *v) => None,
            }
        });
        let Some(report) = report else {
            crate::logging::log(
                crate::logging::Level::Warn,
                None,
                "shutting down in the middle of an apply; the journal records it and the next start resumes it",
            );
            return true;
        };
        for o in &report.clusters {
            if let Some(j) = &self.journal {
                let _ = j.record(
                    &o.name,
                    Event::End {
                        error: o.error.as_ref().map(|e| e.message.clone()),
                    },
                );
            }
            self.in_flight.remove(&o.name);
            self.shared.metrics.applied("ok", o.steps_done as u64);
            let record = report::record(o, &rev.id, apply_started, super::unix_now());
            report::push_history(&mut self.shared.status().history, record.clone());
            if let Some(s) = statuses.get_mut(&o.name) {
                s.last_apply = Some(record);
                s.applied_steps = o.steps_done;
                s.progress = None;
                match &o.error {
                    None => {
                        s.state = ClusterState::Applied;
                        s.last_error = None;
                        self.failed.remove(&o.name);
                    }
                    Some(e) => {
                        self.shared.metrics.applied("failed", 1);
                        s.state = ClusterState::Failed;
                        s.last_error = Some(e.message.clone());
                        if e.is_transient() {
                            // Throttling or a 5xx outlasted the executor's own retries:
                            // try again after a backoff, not only on a new revision.
                            self.retry = true;
                        } else {
                            self.failed
                                .insert(o.name.clone(), (rev.id.clone(), e.message.clone()));
                        }
                    }
                }
            }
        }
        false
    }
}

/// Progress into the status, the journal and stderr.
struct DaemonProgress {
    shared: Arc<Shared>,
    journal: Option<Arc<Journal>>,
}

impl Progress for DaemonProgress {
    fn event(&self, cluster: &str, message: &str) {
        crate::logging::log(
            crate::logging::Level::Info,
            Some(cluster),
            &format!("[{cluster}] {message}"),
        );
        let is_step = ["+ ", "~ ", "- ", "-/+ "]
            .iter()
            .any(|p| message.starts_with(p));
        if is_step {
            if let Some(j) = &self.journal {
                let _ = j.record(
                    cluster,
                    Event::Step {
                        label: message.to_string(),
                    },
                );
            }
        }
        let mut st = self.shared.status();
        if let Some(p) = st
            .clusters
            .get_mut(cluster)
            .and_then(|c| c.progress.as_mut())
        {
            if is_step {
                p.step = message.to_string();
                p.started += 1;
                p.waiting = None;
            }
        }
    }

    fn waiting(&self, cluster: &str, what: &str, elapsed: u64) {
        let mut st = self.shared.status();
        if let Some(p) = st
            .clusters
            .get_mut(cluster)
            .and_then(|c| c.progress.as_mut())
        {
            p.waiting = Some(format!("{what}: {}", apply::human(elapsed)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_under_a_cluster_directory() {
        let dirs: HashSet<&str> = ["clusters/a", "clusters/b/nested"].into_iter().collect();
        assert!(under_any("clusters/a/addons.yaml", &dirs));
        assert!(under_any("clusters/a/manifests/x.yaml", &dirs));
        assert!(under_any("clusters/b/nested/c.yaml", &dirs));
        assert!(!under_any("clusters/b/c.yaml", &dirs));
        assert!(!under_any("keelson.yaml", &dirs));
        assert!(!under_any("clusters/ab/x.yaml", &dirs));
    }
}
