//! The daemon's loop in process: `daemon::driver::run_loop` around a `Reconciler` on the
//! simulator, woken through its channel as the file watcher and the signal handler wake
//! it — no binary, no ports, no sleeps beyond waiting for a state to show.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use keelson::adapters::sim::Speed;
use keelson::apply::ApplyOptions;
use keelson::daemon::driver::{run_loop, LoopOptions, Source};
use keelson::daemon::reconcile::{Options, Reconciler};
use keelson::daemon::status::{ClusterState, Phase};
use keelson::daemon::{Shared, Wake};
use keelson::sync::TargetSpec;

use crate::util::TODAY;

/// A copy of examples/fleet, by its canonical path (as `keelson run` resolves it).
fn fleet() -> (tempfile::TempDir, PathBuf) {
    let (dir, root) = crate::plan_cli::fleet();
    (dir, root.canonicalize().unwrap())
}

fn reconciler(root: &Path, shared: &Arc<Shared>) -> Reconciler {
    let target = TargetSpec {
        sim_speed: Speed::Instant,
        ..TargetSpec::sim(root.join(".keelson/sim.json"))
    };
    Reconciler::new(
        Options {
            target,
            today: TODAY,
            suspend: false,
            apply: ApplyOptions::default(),
        },
        shared.clone(),
        None,
        BTreeSet::new(),
    )
}

/// The loop over the directory `root` on the simulator, as `keelson run --repo DIR` runs it.
fn run(
    root: &Path,
    shared: &Arc<Shared>,
    (tx, rx): (mpsc::Sender<Wake>, mpsc::Receiver<Wake>),
    once: bool,
) -> Option<u8> {
    let mut rec = reconciler(root, shared);
    let rt = keelson::sync::runtime().unwrap();
    let mut src = Source::Dir(root.to_path_buf());
    let opts = LoopOptions {
        resync: Duration::from_secs(3600),
        interval: Duration::from_secs(60),
        once,
    };
    run_loop(&mut src, &mut rec, shared, &rt, (&tx, &rx), opts)
}

#[test]
fn once_runs_one_full_sync_and_returns_its_exit_code() {
    let (_d, root) = fleet();
    let (tx, rx) = mpsc::channel();
    let shared = Arc::new(Shared::new(tx.clone(), None));
    let code = run(&root, &shared, (tx, rx), true);
    // The auto stage converges; the manual prod stage leaves changes pending: exit 2.
    assert_eq!(code, Some(2));
    let st = shared.status().clone();
    assert_eq!(st.clusters["staging-apne1"].state, ClusterState::Converged);
    assert_eq!(st.clusters["prod-apne1"].state, ClusterState::Pending);
    assert!(st.ready);
    assert_eq!(st.last_sync.as_ref().map(|s| s.kind.as_str()), Some("full"));
}

fn wait_for(shared: &Shared, what: &str, f: impl Fn(&keelson::daemon::status::Status) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if f(&shared.status()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}: {:?}", shared.status());
}

#[test]
fn a_file_change_wakes_an_incremental_sync_and_shutdown_ends_the_loop() {
    let (_d, root) = fleet();
    let (tx, rx) = mpsc::channel();
    let shared = Arc::new(Shared::new(tx.clone(), None));
    let (loop_root, loop_shared, loop_tx) = (root.clone(), shared.clone(), tx.clone());
    let handle = std::thread::spawn(move || run(&loop_root, &loop_shared, (loop_tx, rx), false));
    wait_for(&shared, "the first full sync", |s| {
        s.ready && s.phase == Phase::Idle
    });
    let first = shared.status().last_sync.clone().unwrap();
    assert_eq!(first.kind, "full");

    // A change inside one cluster's directory: an incremental sync of that cluster.
    let addons = root.join("clusters/staging-apne1/addons.yaml");
    let text = std::fs::read_to_string(&addons).unwrap();
    std::fs::write(&addons, format!("{text}\n# reviewed\n")).unwrap();
    tx.send(Wake::Files(vec![addons])).unwrap();
    wait_for(&shared, "an incremental sync", |s| {
        s.last_sync
            .as_ref()
            .is_some_and(|l| l.kind == "incremental" && l.finished_ms >= first.finished_ms)
            && s.phase == Phase::Idle
    });

    // SIGTERM, as the signal handler reports it.
    shared.shutdown.send_replace(true);
    shared.wake(Wake::Shutdown);
    let code = handle.join().unwrap();
    assert_eq!(code, None);
    assert_eq!(shared.status().phase, Phase::Stopping);
}
