//! An advisory file lock naming its holder: one process at a time past it.
//!
//! ```text
//!  process A ──flock(LOCK_EX|LOCK_NB)──► FILE.lock ◄── holder info (JSON)
//!  process B ──flock fails──► Ok(None): wait, or refuse naming the holder (read_holder)
//! ```
//!
//! The kernel releases an advisory `flock` when its holder's file is closed, which includes
//! the holder being killed with SIGKILL, so a crashed process never leaves a stale lock.
//! A lock file deleted while held would let a second process lock a new file at the same
//! path: the holder can watch for that ([`FileLock::is_current`]). The daemon's fleet lock
//! (`daemon::lock`) and the simulator's state lock are both this lock.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Who holds the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// When it took the lock (unix seconds).
    pub since: i64,
}

impl Holder {
    /// This process, now.
    pub fn me() -> Holder {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| "unknown".to_string());
        Holder {
            pid: std::process::id(),
            host,
            since: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} on {} since {}", self.pid, self.host, self.since)
    }
}

/// Why the lock could not be tried at all.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot open or lock the lock file {path}; check that its directory exists and is writable"
)]
pub struct LockError {
    /// The lock file.
    pub path: String,
    /// Cause.
    #[source]
    pub source: std::io::Error,
}

/// A held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct FileLock {
    _file: File,
    path: PathBuf,
}

impl FileLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file at the lock's path is still the one this lock holds. When someone
    /// deleted or replaced it (say, by removing `.keelson/` to start over), another
    /// process can lock the new file, and this lock no longer keeps it out.
    pub fn is_current(&self) -> bool {
        same_file(&self._file, &self.path)
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

/// Take the lock if it is free. `Ok(None)`: another process holds it.
///
/// # Errors
/// [`LockError`] when the file cannot be opened or locked for another reason.
pub fn try_acquire(path: &Path, me: &Holder) -> Result<Option<FileLock>, LockError> {
    let err = |source| LockError {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
    }
    // The file may be deleted between opening and locking it; a lock on a file that is
    // no longer at the path keeps nobody out, so try again on the new one.
    let mut tries = 0;
    let mut file = loop {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(err)?;
        if !flock_nb(&file).map_err(err)? {
            return Ok(None);
        }
        tries += 1;
        if same_file(&file, path) || tries >= 5 {
            break file;
        }
    };
    let info = serde_json::to_vec(me).unwrap_or_default();
    file.set_len(0).map_err(err)?;
    file.seek(SeekFrom::Start(0)).map_err(err)?;
    file.write_all(&info).map_err(err)?;
    file.sync_all().map_err(err)?;
    Ok(Some(FileLock {
        _file: file,
        path: path.to_path_buf(),
    }))
}

/// Who holds the lock according to the file (may be stale if nobody does).
pub fn read_holder(path: &Path) -> Option<Holder> {
    let mut s = String::new();
    File::open(path).ok()?.read_to_string(&mut s).ok()?;
    serde_json::from_str(&s).ok()
}

#[cfg(unix)]
fn flock_nb(file: &File) -> std::io::Result<bool> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a file descriptor this function borrows; no memory is shared.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

#[cfg(not(unix))]
fn flock_nb(_file: &File) -> std::io::Result<bool> {
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_waits_until_the_first_lets_go() {
        let dir = std::env::temp_dir().join(format!("keelson-lock-{}", std::process::id()));
        let path = dir.join("keelson.lock");
        let me = Holder::me();
        let first = try_acquire(&path, &me).ok().flatten();
        assert!(first.is_some());
        assert!(try_acquire(&path, &me).ok().flatten().is_none());
        assert_eq!(read_holder(&path), Some(me.clone()));
        drop(first);
        let again = try_acquire(&path, &me).ok().flatten();
        assert!(again.as_ref().is_some_and(FileLock::is_current));
        // Deleted while held: no longer current, and a newcomer can lock the new file.
        std::fs::remove_file(&path).ok();
        assert!(again.as_ref().is_some_and(|l| !l.is_current()));
        let newcomer = try_acquire(&path, &me).ok().flatten();
        assert!(newcomer.as_ref().is_some_and(FileLock::is_current));
        let _ = std::fs::remove_dir_all(dir);
    }
}
