//! Where revisions come from: a git remote (git2: a bare clone in a cache directory,
//! fetched; each revision checked out into its own directory) or a local directory.
//!
//! ```text
//!  remote ──fetch (size-capped)──► cache/<url+ref key>/repo.git
//!         ──head commit──► signature check (optional) ──descendant of the last good?──
//!         ──blob sizes checked──checkout tree──► cache/<key>/rev-<id>/
//!         ──validated by the sync──► accept (becomes the last good; older checkouts removed)
//!                                └─► reject (its checkout removed; the last good stays)
//! ```
//!
//! Everything a source keeps — the clone, the checkouts, the last good revision — lives
//! in a directory of its own, keyed by the remote's URL and the ref followed, so fleets
//! that share a cache directory never see each other's revisions. The last good revision
//! is verified again when the source is opened: a restart trusts nothing it did not check.
//!
//! Authentication, tried in order: for SSH, `KEELSON_GIT_SSH_KEY` (a private key file),
//! the ssh-agent, then `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`; for HTTPS,
//! `KEELSON_GIT_TOKEN` (with `KEELSON_GIT_USERNAME`, default `x-access-token`), then git's
//! credential helpers. Secrets are never logged.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use git2::{
    build::CheckoutBuilder, Cred, CredentialType, FetchOptions, RemoteCallbacks, Repository,
};

use super::reconcile::Revision;
use super::verify::{verify_commit, AllowedSigners, VerifyError};

/// Which ref to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitRef {
    /// A branch.
    Branch(String),
    /// A tag (re-fetched, so a moved tag is followed).
    Tag(String),
}

/// Why the source failed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A git operation failed.
    #[error("{what} failed for {url}: {message}")]
    Git {
        /// What was done.
        what: &'static str,
        /// Remote.
        url: String,
        /// libgit2's message.
        message: String,
    },
    /// The head was refused by signature verification.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The followed branch or tag does not exist on the remote (deleted, or a typo).
    #[error("{url} has no {reference}: it was deleted or never existed; the last good revision stays in use, and nothing new is applied until it exists again (or --branch/--tag names another)")]
    RefGone {
        /// Remote.
        url: String,
        /// `branch main`, `tag v1`.
        reference: String,
    },
    /// The new head does not descend from the last applied revision (history was
    /// rewritten, e.g. by a force-push to an older commit).
    #[error("commit {commit} does not descend from the last applied revision {last}: history was rewritten (a force-push?); refusing to go back. Push a new commit on top of {last}, or pass --allow-force-push to follow rewritten history")]
    NotDescendant {
        /// The refused head.
        commit: String,
        /// The last applied revision.
        last: String,
    },
    /// The fetch would download more than the limit.
    #[error("fetching {url} stopped after {limit_mib} MiB (--max-fetch-size): the repository is too large for a configuration repository")]
    FetchTooLarge {
        /// Remote.
        url: String,
        /// The limit in MiB.
        limit_mib: u64,
    },
    /// A file in the commit is larger than keelson reads.
    #[error("commit {commit}: {path} is {size} bytes, more than the {limit} bytes keelson reads from one file; refusing the revision")]
    FileTooLarge {
        /// Commit.
        commit: String,
        /// Path in the tree.
        path: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The commit has a submodule, whose files keelson does not fetch.
    #[error("commit {commit}: {path} is a git submodule; keelson reads only the files committed in the repository itself and would not see what the submodule declares. Commit those files instead (copy them, or use git subtree); refusing the revision")]
    Submodule {
        /// Commit.
        commit: String,
        /// Path of the submodule in the tree.
        path: String,
    },
    /// A local file operation failed.
    #[error("{what} {path}")]
    Io {
        /// What was done.
        what: &'static str,
        /// Path.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

impl SourceError {
    /// A fetch can fail for a moment (network); verification failures wait for a new head.
    pub fn is_transient(&self) -> bool {
        matches!(self, SourceError::Git { what: "fetch", .. })
    }
}

/// A git remote followed into a cache directory.
pub struct GitSource {
    url: String,
    reference: GitRef,
    cache: PathBuf,
    repo: Repository,
    signers: Option<AllowedSigners>,
    current: Option<Revision>,
    allow_force_push: bool,
    max_fetch_bytes: u64,
}

const LAST_GOOD: &str = "last-good";

/// The default cap on one fetch.
pub const DEFAULT_MAX_FETCH_BYTES: u64 = 256 * 1024 * 1024;

/// The directory, below a cache shared by many sources, that belongs to the source
/// following `reference` of `url`: a readable slug and a hash of both, so two fleets (or
/// two branches of one) never share a clone, checkouts or a last good revision.
pub fn source_dir(cache: &Path, url: &str, reference: &GitRef) -> PathBuf {
    use sha2::Digest;
    let r = match reference {
        GitRef::Branch(b) => format!("branch/{b}"),
        GitRef::Tag(t) => format!("tag/{t}"),
    };
    let hash = sha2::Sha256::digest(format!("{url}\0{r}").as_bytes());
    let hex: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let tail = url
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("repo");
    let slug: String = format!("{tail}-{}", r.replace('/', "-"))
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    cache.join(format!("{slug}-{hex}"))
}

impl GitSource {
    /// Open (or create) the cache and remember the last good revision checked out there.
    ///
    /// # Errors
    /// When the cache cannot be created or opened.
    pub fn open(
        url: &str,
        reference: GitRef,
        cache: &Path,
        signers: Option<AllowedSigners>,
    ) -> Result<GitSource, SourceError> {
        let git = |what, e: git2::Error| SourceError::Git {
            what,
            url: url.to_string(),
            message: e.message().to_string(),
        };
        let cache = &source_dir(cache, url, &reference);
        std::fs::create_dir_all(cache).map_err(|source| SourceError::Io {
            what: "creating the cache directory",
            path: cache.display().to_string(),
            source,
        })?;
        let path = cache.join("repo.git");
        let repo = match Repository::open_bare(&path) {
            Ok(r) => r,
            Err(_) => Repository::init_bare(&path).map_err(|e| git("creating the cache", e))?,
        };
        match repo.find_remote("origin") {
            Ok(r) if r.url() == Some(url) => {}
            Ok(_) => repo
                .remote_set_url("origin", url)
                .map_err(|e| git("setting the remote", e))?,
            Err(_) => {
                repo.remote("origin", url)
                    .map_err(|e| git("adding the remote", e))?;
            }
        }
        let mut current = std::fs::read_to_string(cache.join(LAST_GOOD))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|id| !id.is_empty() && cache.join(format!("rev-{id}")).is_dir())
            .map(|id| Revision {
                dir: cache.join(format!("rev-{id}")),
                id,
            });
        // The last good revision is trusted again only if it still verifies (the signers
        // file may have changed since, or the cache may have been tampered with).
        if let (Some(cur), Some(signers)) = (&current, &signers) {
            let verified = git2::Oid::from_str(&cur.id)
                .ok()
                .map(|oid| verify_commit(&repo, oid, signers));
            match verified {
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::warn!(revision = %cur.id, error = %e, "the last good revision no longer verifies; it is not used");
                    current = None;
                }
                None => current = None,
            }
        }
        Ok(GitSource {
            url: url.to_string(),
            reference,
            cache: cache.to_path_buf(),
            repo,
            signers,
            current,
            allow_force_push: false,
            max_fetch_bytes: DEFAULT_MAX_FETCH_BYTES,
        })
    }

    /// Follow rewritten history: take a new head that does not descend from the last
    /// applied revision (off by default).
    pub fn allow_force_push(mut self, allow: bool) -> GitSource {
        self.allow_force_push = allow;
        self
    }

    /// Stop a fetch that would download more than `bytes`.
    pub fn max_fetch_bytes(mut self, bytes: u64) -> GitSource {
        self.max_fetch_bytes = bytes;
        self
    }

    /// The directory this source keeps its clone and checkouts in.
    pub fn dir(&self) -> &Path {
        &self.cache
    }

    /// `git <url> <ref>` for status and metrics.
    pub fn describe(&self) -> String {
        format!("git {} {}", self.url, self.describe_ref())
    }

    fn describe_ref(&self) -> String {
        match &self.reference {
            GitRef::Branch(b) => format!("branch {b}"),
            GitRef::Tag(t) => format!("tag {t}"),
        }
    }

    /// The last good revision.
    pub fn current(&self) -> Option<&Revision> {
        self.current.as_ref()
    }

    /// Fetch and return the head commit id of the followed ref.
    ///
    /// # Errors
    /// When the fetch fails or the ref does not exist.
    pub fn fetch(&self) -> Result<String, SourceError> {
        let (refspec, local) = match &self.reference {
            GitRef::Branch(b) => (
                format!("+refs/heads/{b}:refs/remotes/origin/{b}"),
                format!("refs/remotes/origin/{b}"),
            ),
            GitRef::Tag(t) => (
                format!("+refs/tags/{t}:refs/tags/{t}"),
                format!("refs/tags/{t}"),
            ),
        };
        let err = |e: git2::Error| SourceError::Git {
            what: "fetch",
            url: self.url.clone(),
            message: e.message().to_string(),
        };
        let mut remote = self.repo.find_remote("origin").map_err(err)?;
        let mut cb = callbacks();
        // Stop a fetch that grows past the cap before it fills memory and disk.
        let too_large = Arc::new(AtomicBool::new(false));
        let (flag, cap) = (too_large.clone(), self.max_fetch_bytes);
        cb.transfer_progress(move |p| {
            let over = p.received_bytes() as u64 > cap;
            if over {
                flag.store(true, Ordering::Relaxed);
            }
            !over
        });
        let mut fo = FetchOptions::new();
        fo.remote_callbacks(cb);
        fo.download_tags(git2::AutotagOption::None);
        // A branch or tag deleted on the remote must not live on here as a stale ref.
        fo.prune(git2::FetchPrune::On);
        let fetched = remote.fetch(&[&refspec], Some(&mut fo), None);
        if too_large.load(Ordering::Relaxed) {
            return Err(SourceError::FetchTooLarge {
                url: self.url.clone(),
                limit_mib: self.max_fetch_bytes / (1024 * 1024),
            });
        }
        fetched.map_err(err)?;
        let commit = self
            .repo
            .revparse_single(&local)
            .and_then(|o| o.peel_to_commit())
            .map_err(|e| match e.code() {
                git2::ErrorCode::NotFound => SourceError::RefGone {
                    url: self.url.clone(),
                    reference: self.describe_ref(),
                },
                _ => SourceError::Git {
                    what: "resolving the ref",
                    url: self.url.clone(),
                    message: e.message().to_string(),
                },
            })?;
        Ok(commit.id().to_string())
    }

    /// Verify (when signers are configured) and check out commit `id` into its own
    /// directory.
    ///
    /// # Errors
    /// A refused signature, or a checkout that failed.
    pub fn checkout(&self, id: &str) -> Result<Revision, SourceError> {
        let git = |what, e: git2::Error| SourceError::Git {
            what,
            url: self.url.clone(),
            message: e.message().to_string(),
        };
        let oid = git2::Oid::from_str(id).map_err(|e| git("reading the commit id", e))?;
        if let Some(signers) = &self.signers {
            let who = verify_commit(&self.repo, oid, signers)?;
            tracing::info!(commit = id, signer = %who, "commit signature verified");
        }
        if let Some(last) = self.current.as_ref().filter(|_| !self.allow_force_push) {
            let descends = last.id == id
                || git2::Oid::from_str(&last.id)
                    .and_then(|old| self.repo.graph_descendant_of(oid, old))
                    .unwrap_or(false);
            if !descends {
                return Err(SourceError::NotDescendant {
                    commit: id.to_string(),
                    last: last.id.clone(),
                });
            }
        }
        let dir = self.cache.join(format!("rev-{id}"));
        if dir.is_dir() {
            return Ok(Revision {
                id: id.to_string(),
                dir,
            });
        }
        let tmp = self.cache.join(format!("tmp-{id}"));
        let _ = std::fs::remove_dir_all(&tmp);
        let commit = self
            .repo
            .find_commit(oid)
            .map_err(|e| git("reading the commit", e))?;
        let tree = commit.tree().map_err(|e| git("reading the tree", e))?;
        self.check_tree(id, &tree)?;
        let mut co = CheckoutBuilder::new();
        co.target_dir(&tmp).force().recreate_missing(true);
        if let Err(e) = self.repo.checkout_tree(tree.as_object(), Some(&mut co)) {
            // A checkout cut short leaves part of a tree behind; nothing reads it.
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(git("checkout", e));
        }
        std::fs::rename(&tmp, &dir).map_err(|source| SourceError::Io {
            what: "moving the checkout to",
            path: dir.display().to_string(),
            source,
        })?;
        Ok(Revision {
            id: id.to_string(),
            dir,
        })
    }

    /// Refuse a tree with a file larger than the loader reads, from the object headers
    /// alone (a huge blob is never inflated into memory or written out), or with a
    /// submodule: its files are in another repository keelson does not fetch, so a plan
    /// would delete whatever they declare.
    fn check_tree(&self, id: &str, tree: &git2::Tree<'_>) -> Result<(), SourceError> {
        let limit = crate::config::loader::MAX_FILE_BYTES;
        let odb = self.repo.odb().map_err(|e| SourceError::Git {
            what: "opening the object database",
            url: self.url.clone(),
            message: e.message().to_string(),
        })?;
        let mut found: Option<(String, u64)> = None;
        let mut submodule: Option<String> = None;
        let walked = tree.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
            if entry.kind() == Some(git2::ObjectType::Commit) {
                submodule = Some(format!("{root}{}", entry.name().unwrap_or("?")));
                return git2::TreeWalkResult::Abort;
            }
            if entry.kind() != Some(git2::ObjectType::Blob) {
                return git2::TreeWalkResult::Ok;
            }
            match odb.read_header(entry.id()) {
                Ok((size, _)) if size as u64 > limit => {
                    let name = entry.name().unwrap_or("?");
                    found = Some((format!("{root}{name}"), size as u64));
                    git2::TreeWalkResult::Abort
                }
                _ => git2::TreeWalkResult::Ok,
            }
        });
        if let Some(path) = submodule {
            return Err(SourceError::Submodule {
                commit: id.to_string(),
                path,
            });
        }
        if let Some((path, size)) = found {
            return Err(SourceError::FileTooLarge {
                commit: id.to_string(),
                path,
                size,
                limit,
            });
        }
        walked.map_err(|e| SourceError::Git {
            what: "reading the tree",
            url: self.url.clone(),
            message: e.message().to_string(),
        })
    }

    /// `rev` validated: it becomes the last good revision; older checkouts and leftovers
    /// of interrupted checkouts go, and a clone grown past the fetch cap (objects of
    /// refused or superseded revisions pile up in it) is started afresh.
    pub fn accept(&mut self, rev: Revision) {
        // A resync accepts the same revision again: nothing to tidy then.
        if self.current.as_ref().is_some_and(|c| c.id == rev.id) {
            self.current = Some(rev);
            return;
        }
        let _ = std::fs::write(self.cache.join(LAST_GOOD), &rev.id);
        if let Ok(entries) = std::fs::read_dir(&self.cache) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let stale =
                    (name.starts_with("rev-") && e.path() != rev.dir) || name.starts_with("tmp-");
                if stale {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let clone = self.cache.join("repo.git");
        if dir_size(&clone) > self.max_fetch_bytes {
            tracing::info!(path = %clone.display(), "the clone outgrew the fetch cap; starting it afresh");
            let fresh = std::fs::remove_dir_all(&clone)
                .ok()
                .and_then(|_| Repository::init_bare(&clone).ok())
                .filter(|r| r.remote("origin", &self.url).is_ok());
            match fresh {
                Some(r) => self.repo = r,
                None => tracing::warn!(path = %clone.display(), "could not start the clone afresh"),
            }
        }
        self.current = Some(rev);
    }

    /// `rev` was refused: its checkout goes; the last good one stays.
    pub fn reject(&self, rev: &Revision) {
        if self.current.as_ref().map(|c| &c.dir) != Some(&rev.dir) {
            let _ = std::fs::remove_dir_all(&rev.dir);
        }
    }
}

/// Bytes below `path` (0 when unreadable).
fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

fn callbacks<'a>() -> RemoteCallbacks<'a> {
    let mut cb = RemoteCallbacks::new();
    let mut attempt = 0u32;
    cb.credentials(move |url, username, allowed| {
        attempt += 1;
        if attempt > 6 {
            return Err(git2::Error::from_str(
                "authentication failed; for SSH set KEELSON_GIT_SSH_KEY or load a key into ssh-agent, for HTTPS set KEELSON_GIT_TOKEN",
            ));
        }
        if allowed.contains(CredentialType::SSH_KEY) {
            let user = username.unwrap_or("git");
            if let Ok(key) = std::env::var("KEELSON_GIT_SSH_KEY") {
                return Cred::ssh_key(user, None, Path::new(&key), None);
            }
            if attempt == 1 {
                return Cred::ssh_key_from_agent(user);
            }
            let home = std::env::var("HOME").unwrap_or_default();
            let keys = ["id_ed25519", "id_ecdsa", "id_rsa"];
            let existing: Vec<PathBuf> = keys
                .iter()
                .map(|k| Path::new(&home).join(".ssh").join(k))
                .filter(|p| p.exists())
                .collect();
            if let Some(p) = existing.get((attempt as usize).saturating_sub(2)) {
                return Cred::ssh_key(user, None, p, None);
            }
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            if let Ok(token) = std::env::var("KEELSON_GIT_TOKEN") {
                let user = std::env::var("KEELSON_GIT_USERNAME")
                    .unwrap_or_else(|_| "x-access-token".to_string());
                return Cred::userpass_plaintext(&user, &token);
            }
            if let Ok(cfg) = git2::Config::open_default() {
                return Cred::credential_helper(&cfg, url, username);
            }
        }
        if allowed.contains(CredentialType::DEFAULT) {
            return Cred::default();
        }
        Err(git2::Error::from_str("no usable credentials"))
    });
    cb
}
