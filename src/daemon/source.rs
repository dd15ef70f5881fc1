//! Where revisions come from: a git remote (git2: a bare clone in a cache directory,
//! fetched; each revision checked out into its own directory) or a local directory.
//!
//! ```text
//!  remote ──fetch (+refspec: force-pushes are followed)──► cache/repo.git
//!         ──head commit──► signature check (optional) ──checkout tree──► cache/rev-<id>/
//!         ──validated by the sync──► accept (becomes the last good; older checkouts removed)
//!                                └─► reject (its checkout removed; the last good stays)
//! ```
//!
//! Authentication, tried in order: for SSH, `KEELSON_GIT_SSH_KEY` (a private key file),
//! the ssh-agent, then `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`; for HTTPS,
//! `KEELSON_GIT_TOKEN` (with `KEELSON_GIT_USERNAME`, default `x-access-token`), then git's
//! credential helpers. Secrets are never logged.

use std::path::{Path, PathBuf};

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
}

const LAST_GOOD: &str = "last-good";

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
        let current = std::fs::read_to_string(cache.join(LAST_GOOD))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|id| !id.is_empty() && cache.join(format!("rev-{id}")).is_dir())
            .map(|id| Revision {
                dir: cache.join(format!("rev-{id}")),
                id,
            });
        Ok(GitSource {
            url: url.to_string(),
            reference,
            cache: cache.to_path_buf(),
            repo,
            signers,
            current,
        })
    }

    /// `git <url> <ref>` for status and metrics.
    pub fn describe(&self) -> String {
        match &self.reference {
            GitRef::Branch(b) => format!("git {} branch {b}", self.url),
            GitRef::Tag(t) => format!("git {} tag {t}", self.url),
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
        let mut fo = FetchOptions::new();
        fo.remote_callbacks(callbacks());
        fo.download_tags(git2::AutotagOption::None);
        remote
            .fetch(&[&refspec], Some(&mut fo), None)
            .map_err(err)?;
        let commit = self
            .repo
            .revparse_single(&local)
            .and_then(|o| o.peel_to_commit())
            .map_err(|e| SourceError::Git {
                what: "resolving the ref",
                url: self.url.clone(),
                message: e.message().to_string(),
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
        let mut co = CheckoutBuilder::new();
        co.target_dir(&tmp).force().recreate_missing(true);
        self.repo
            .checkout_tree(tree.as_object(), Some(&mut co))
            .map_err(|e| git("checkout", e))?;
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

    /// `rev` validated: it becomes the last good revision; older checkouts go.
    pub fn accept(&mut self, rev: Revision) {
        if let Some(old) = self.current.take() {
            if old.dir != rev.dir {
                let _ = std::fs::remove_dir_all(&old.dir);
            }
        }
        let _ = std::fs::write(self.cache.join(LAST_GOOD), &rev.id);
        self.current = Some(rev);
    }

    /// `rev` was refused: its checkout goes; the last good one stays.
    pub fn reject(&self, rev: &Revision) {
        if self.current.as_ref().map(|c| &c.dir) != Some(&rev.dir) {
            let _ = std::fs::remove_dir_all(&rev.dir);
        }
    }
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
