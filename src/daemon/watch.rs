//! Watching a local directory (for development): notify events, debounced.
//!
//! ```text
//!  inotify ──notify──► raw paths ──debounce thread (quiet 50 ms, at most 1 s)──► Wake::Files(paths)
//! ```
//!
//! Paths inside hidden directories (`.git`, `.keelson` where the simulator writes its
//! state) never wake the loop.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};

use super::Wake;

/// How long the directory must stay quiet before a change is reported.
pub const QUIET: Duration = Duration::from_millis(50);
/// The longest a change waits while writes keep coming.
pub const MAX_DELAY: Duration = Duration::from_secs(1);

/// A running watch; stops when dropped.
pub struct DirWatch {
    _watcher: notify::RecommendedWatcher,
}

fn hidden(root: &Path, p: &Path) -> bool {
    p.strip_prefix(root).is_ok_and(|rel| {
        rel.components()
            .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
    })
}

/// Watch `root` recursively; changes go to `wake` as [`Wake::Files`].
///
/// # Errors
/// When the watch cannot be set up (inotify limits, missing directory).
pub fn watch(root: &Path, wake: mpsc::Sender<Wake>) -> notify::Result<DirWatch> {
    let (tx, rx) = mpsc::channel::<PathBuf>();
    let root_cb = root.to_path_buf();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res {
            if matches!(ev.kind, notify::EventKind::Access(_)) {
                return;
            }
            for p in ev.paths {
                if !hidden(&root_cb, &p) {
                    let _ = tx.send(p);
                }
            }
        }
    })?;
    watcher.watch(root, RecursiveMode::Recursive)?;
    std::thread::Builder::new()
        .name("keelson-watch".into())
        .spawn(move || debounce(&rx, &wake))
        .map_err(|e| notify::Error::generic(&e.to_string()))?;
    Ok(DirWatch { _watcher: watcher })
}

fn debounce(rx: &mpsc::Receiver<PathBuf>, wake: &mpsc::Sender<Wake>) {
    while let Ok(first) = rx.recv() {
        let start = Instant::now();
        let mut paths = vec![first];
        loop {
            let left = MAX_DELAY.saturating_sub(start.elapsed());
            if left.is_zero() {
                break;
            }
            match rx.recv_timeout(QUIET.min(left)) {
                Ok(p) => paths.push(p),
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
        paths.sort();
        paths.dedup();
        if wake.send(Wake::Files(paths)).is_err() {
            return;
        }
    }
}
