//! The local journal of in-flight operations: one JSON line per event, fsync'ed.
//!
//! ```text
//!  apply cluster X: begin{revision, steps} ─► step{label}… ─► end{ok|error}
//!  restart: read journal ─► clusters begun and not ended = in flight ─► resumed first,
//!           even outside their maintenance window; compacted to those entries
//! ```
//!
//! The EKS API is the source of truth for what is running (updates in progress are found
//! again and waited for; creates carry deterministic clientRequestTokens). The journal
//! adds what the API does not say: that this daemon had started a change of a cluster,
//! from which revision and how far it got, so a restart finishes that change (a running
//! change is never cut off by a closing window) and `/status` can say so. A torn last
//! line (the process died mid-write) is ignored.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Wall-clock time (unix seconds).
    pub t: i64,
    /// Cluster.
    pub cluster: String,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

/// A journal event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum Event {
    /// The daemon started applying a plan to the cluster.
    Begin {
        /// Repository revision the plan came from.
        revision: String,
        /// Steps in the plan.
        steps: usize,
    },
    /// A step started.
    Step {
        /// `~ Cluster prod-apne1`, etc.
        label: String,
    },
    /// The apply of the cluster ended.
    End {
        /// Error, if it stopped early.
        error: Option<String>,
    },
}

/// A cluster whose apply was begun and not ended when the journal was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InFlight {
    /// Cluster.
    pub cluster: String,
    /// Revision it was applying.
    pub revision: String,
    /// The last step started.
    pub last_step: Option<String>,
    /// When it began (unix seconds).
    pub since: i64,
}

/// Why the journal could not be used.
#[derive(Debug, thiserror::Error)]
#[error("cannot use the journal {path}; check that its directory is writable")]
pub struct JournalError {
    /// The journal file.
    pub path: String,
    /// Cause.
    #[source]
    pub source: std::io::Error,
}

/// The open journal.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    skipped: Vec<String>,
}

/// In-flight clusters after replaying `entries` in order.
pub fn in_flight(entries: &[Entry]) -> Vec<InFlight> {
    let mut open: BTreeMap<String, InFlight> = BTreeMap::new();
    for e in entries {
        match &e.event {
            Event::Begin { revision, .. } => {
                open.insert(
                    e.cluster.clone(),
                    InFlight {
                        cluster: e.cluster.clone(),
                        revision: revision.clone(),
                        last_step: None,
                        since: e.t,
                    },
                );
            }
            Event::Step { label } => {
                if let Some(f) = open.get_mut(&e.cluster) {
                    f.last_step = Some(label.clone());
                }
            }
            Event::End { .. } => {
                open.remove(&e.cluster);
            }
        }
    }
    open.into_values().collect()
}

impl Journal {
    /// Open (or create) the journal, returning what was in flight. The file is rewritten
    /// to hold only the in-flight clusters' entries.
    ///
    /// # Errors
    /// [`JournalError`] when the file cannot be read or written.
    pub fn open(path: &Path) -> Result<(Journal, Vec<InFlight>), JournalError> {
        let err = |source| JournalError {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(err)?;
            }
        }
        // Every line that parses counts, whatever comes before or after it: a torn last
        // line (a crash mid-write) or a damaged one in the middle is skipped and reported.
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(err(e)),
        };
        let mut entries: Vec<Entry> = Vec::new();
        let mut skipped = Vec::new();
        for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice(line) {
                Ok(e) => entries.push(e),
                Err(e) => skipped.push(format!(
                    "{}:{}: not a journal entry ({e}); skipped",
                    path.display(),
                    i + 1
                )),
            }
        }
        let flying = in_flight(&entries);
        let keep: Vec<&Entry> = entries
            .iter()
            .filter(|e| {
                flying
                    .iter()
                    .any(|f| f.cluster == e.cluster && e.t >= f.since)
            })
            .collect();
        let tmp = path.with_extension("tmp");
        {
            let mut f = File::create(&tmp).map_err(err)?;
            for e in keep {
                let mut line = serde_json::to_vec(e).unwrap_or_default();
                line.push(b'\n');
                f.write_all(&line).map_err(err)?;
            }
            f.sync_all().map_err(err)?;
        }
        std::fs::rename(&tmp, path).map_err(err)?;
        let file = OpenOptions::new().append(true).open(path).map_err(err)?;
        Ok((
            Journal {
                path: path.to_path_buf(),
                file: Mutex::new(file),
                skipped,
            },
            flying,
        ))
    }

    /// The lines that could not be read when the journal was opened (FILE:LINE: why).
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// Append one event and fsync it.
    ///
    /// # Errors
    /// [`JournalError`] when the write fails.
    pub fn record(&self, cluster: &str, event: Event) -> Result<(), JournalError> {
        let entry = Entry {
            t: super::unix_now(),
            cluster: cluster.to_string(),
            event,
        };
        let mut line = serde_json::to_vec(&entry).unwrap_or_default();
        line.push(b'\n');
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(&line)
            .and_then(|()| f.sync_data())
            .map_err(|source| JournalError {
                path: self.path.display().to_string(),
                source,
            })
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(t: i64, c: &str, event: Event) -> Entry {
        Entry {
            t,
            cluster: c.into(),
            event,
        }
    }

    #[test]
    fn begun_and_not_ended_is_in_flight() {
        let b = |r: &str| Event::Begin {
            revision: r.into(),
            steps: 2,
        };
        let entries = vec![
            e(1, "a", b("r1")),
            e(2, "b", b("r1")),
            e(
                3,
                "a",
                Event::Step {
                    label: "~ Cluster a".into(),
                },
            ),
            e(4, "b", Event::End { error: None }),
            e(5, "b", b("r2")),
            e(
                6,
                "b",
                Event::End {
                    error: Some("x".into()),
                },
            ),
        ];
        let f = in_flight(&entries);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].cluster, "a");
        assert_eq!(f[0].last_step.as_deref(), Some("~ Cluster a"));
    }

    #[test]
    fn reopen_keeps_only_in_flight_and_skips_torn_lines() {
        let dir = std::env::temp_dir().join(format!("keelson-journal-{}", std::process::id()));
        let path = dir.join("journal.jsonl");
        let _ = std::fs::remove_dir_all(&dir);
        {
            let (j, f) = Journal::open(&path).ok().unzip();
            assert_eq!(f, Some(vec![]));
            let j = j.into_iter().next();
            assert!(j.is_some());
            if let Some(j) = j {
                assert!(j
                    .record(
                        "a",
                        Event::Begin {
                            revision: "r".into(),
                            steps: 1
                        }
                    )
                    .is_ok());
                assert!(j
                    .record(
                        "b",
                        Event::Begin {
                            revision: "r".into(),
                            steps: 1
                        }
                    )
                    .is_ok());
                assert!(j.record("b", Event::End { error: None }).is_ok());
            }
        }
        // A damaged line in the middle (bytes that are not UTF-8) and a torn last line:
        // both skipped and reported, and the good line after the damaged one still counts.
        let mut f = OpenOptions::new().append(true).open(&path).ok();
        if let Some(f) = f.as_mut() {
            let _ = f.write_all(b"\xff\xfe garbage\n");
            let _ = f.write_all(
                b"{\"t\":5,\"cluster\":\"c\",\"event\":\"begin\",\"revision\":\"r\",\"steps\":2}\n",
            );
            let _ = f.write_all(b"{\"t\":9,\"clus");
        }
        let (j, flying) = Journal::open(&path).ok().unzip();
        let skipped = j.map(|j| j.skipped().to_vec()).unwrap_or_default();
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(skipped[0].contains("journal.jsonl:4:"), "{skipped:?}");
        let flying = flying.unwrap_or_default();
        let names: Vec<&str> = flying.iter().map(|f| f.cluster.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(text.lines().count(), 2, "{text}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
