//! Commit signature verification: only commits signed by an allowed SSH key are used.
//!
//! ```text
//!  commit ──git2 extract_signature──► (signature, signed data)
//!         ──SshSig::from_pem──► key in the allowed signers file? ──verify(namespace "git")──► trusted │ refused
//! ```
//!
//! The allowed signers file has git's format (`gpg.ssh.allowedSignersFile`, see
//! `ssh-keygen(1)` ALLOWED SIGNERS): `principals [options] keytype base64-key [comment]`.
//! A `namespaces="..."` option that does not list `git` excludes the key. Ed25519 and
//! ECDSA P-256 keys are supported. OpenPGP signatures are refused with a message saying
//! so: keelson verifies SSH signatures only.

use std::path::Path;

use ssh_key::{PublicKey, SshSig};

/// The namespace git signs commits in.
pub const GIT_NAMESPACE: &str = "git";

/// An allowed signer.
#[derive(Debug, Clone)]
pub struct Signer {
    /// Who (the file's first field).
    pub principals: String,
    /// The key.
    pub key: PublicKey,
}

/// The allowed signers.
#[derive(Debug, Clone, Default)]
pub struct AllowedSigners {
    /// Keys in file order.
    pub signers: Vec<Signer>,
}

/// Why a commit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No signature at all.
    #[error("commit {0} is not signed; only commits signed by an allowed SSH key are applied")]
    Unsigned(String),
    /// An OpenPGP (or other non-SSH) signature.
    #[error("commit {0} has an OpenPGP or X.509 signature; keelson verifies SSH signatures only (git config gpg.format ssh)")]
    NotSsh(String),
    /// The signature cannot be read.
    #[error("commit {commit} has a malformed SSH signature: {detail}")]
    Malformed {
        /// Commit.
        commit: String,
        /// Parser message.
        detail: String,
    },
    /// Signed by a key that is not allowed.
    #[error(
        "commit {commit} is signed by {fingerprint}, which is not in the allowed signers file"
    )]
    Untrusted {
        /// Commit.
        commit: String,
        /// SHA256 fingerprint of the key.
        fingerprint: String,
    },
    /// The signature does not match the commit (or was made for another namespace).
    #[error("commit {commit}: the signature by {principals} does not verify (tampered commit or wrong namespace)")]
    BadSignature {
        /// Commit.
        commit: String,
        /// Who the key belongs to.
        principals: String,
    },
}

/// Problems in the allowed signers file.
#[derive(Debug, thiserror::Error)]
pub enum SignersError {
    /// Unreadable.
    #[error("cannot read the allowed signers file {path}")]
    Read {
        /// Path.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A line that is not `principals [options] keytype key`.
    #[error("{path}:{line}: not an allowed signer (expected `principals [options] keytype base64-key`): {detail}")]
    Line {
        /// Path.
        path: String,
        /// 1-based line.
        line: usize,
        /// Why.
        detail: String,
    },
    /// No keys at all.
    #[error("the allowed signers file {0} lists no keys; every commit would be refused")]
    Empty(String),
}

fn is_key_type(s: &str) -> bool {
    s.starts_with("ssh-") || s.starts_with("ecdsa-") || s.starts_with("sk-")
}

/// Split `namespaces="a,b",valid-after=...` options, honouring quotes.
fn options_allow_git(opts: &str) -> bool {
    let mut in_q = false;
    let mut cur = String::new();
    let mut parts = Vec::new();
    for ch in opts.chars() {
        match ch {
            '"' => in_q = !in_q,
            ',' if !in_q => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    parts.iter().all(|p| match p.split_once('=') {
        Some((k, v)) if k.eq_ignore_ascii_case("namespaces") => {
            v.split(',').any(|n| n.trim() == GIT_NAMESPACE)
        }
        _ => true,
    })
}

impl AllowedSigners {
    /// Parse the text of an allowed signers file (`path` is for messages).
    ///
    /// # Errors
    /// The first line that is not an allowed signer, or a file without keys.
    pub fn parse(path: &str, text: &str) -> Result<AllowedSigners, SignersError> {
        let mut out = AllowedSigners::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |detail: &str| SignersError::Line {
                path: path.to_string(),
                line: i + 1,
                detail: detail.to_string(),
            };
            let mut fields = line.split_whitespace();
            let principals = fields.next().ok_or_else(|| bad("empty"))?;
            let mut next = fields.next().ok_or_else(|| bad("no key"))?;
            let mut allowed = true;
            if !is_key_type(next) {
                allowed = options_allow_git(next);
                next = fields
                    .next()
                    .ok_or_else(|| bad("no key type after the options"))?;
            }
            let b64 = fields.next().ok_or_else(|| bad("no base64 key"))?;
            let key = PublicKey::from_openssh(&format!("{next} {b64}"))
                .map_err(|e| bad(&e.to_string()))?;
            if allowed {
                out.signers.push(Signer {
                    principals: principals.to_string(),
                    key,
                });
            }
        }
        if out.signers.is_empty() {
            return Err(SignersError::Empty(path.to_string()));
        }
        Ok(out)
    }

    /// Read an allowed signers file.
    ///
    /// # Errors
    /// [`SignersError`].
    pub fn load(path: &Path) -> Result<AllowedSigners, SignersError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SignersError::Read {
            path: shown.clone(),
            source,
        })?;
        AllowedSigners::parse(&shown, &text)
    }

    /// Check a signature over `data`; returns who signed it.
    ///
    /// # Errors
    /// [`VerifyError`] (`commit` is used in messages).
    pub fn verify(
        &self,
        commit: &str,
        signature: &[u8],
        data: &[u8],
    ) -> Result<String, VerifyError> {
        let text = String::from_utf8_lossy(signature);
        if !text
            .trim_start()
            .starts_with("-----BEGIN SSH SIGNATURE-----")
        {
            return Err(VerifyError::NotSsh(commit.to_string()));
        }
        let sig = SshSig::from_pem(text.trim().as_bytes()).map_err(|e| VerifyError::Malformed {
            commit: commit.to_string(),
            detail: e.to_string(),
        })?;
        let Some(signer) = self
            .signers
            .iter()
            .find(|s| s.key.key_data() == sig.public_key())
        else {
            let fingerprint = PublicKey::from(sig.public_key().clone())
                .fingerprint(ssh_key::HashAlg::Sha256)
                .to_string();
            return Err(VerifyError::Untrusted {
                commit: commit.to_string(),
                fingerprint,
            });
        };
        signer
            .key
            .verify(GIT_NAMESPACE, data, &sig)
            .map_err(|_| VerifyError::BadSignature {
                commit: commit.to_string(),
                principals: signer.principals.clone(),
            })?;
        Ok(signer.principals.clone())
    }
}

/// Verify commit `oid` of `repo` against `signers`.
///
/// # Errors
/// [`VerifyError`].
pub fn verify_commit(
    repo: &git2::Repository,
    oid: git2::Oid,
    signers: &AllowedSigners,
) -> Result<String, VerifyError> {
    let id = oid.to_string();
    let (sig, data) = repo
        .extract_signature(&oid, None)
        .map_err(|_| VerifyError::Unsigned(id.clone()))?;
    signers.verify(&id, &sig, &data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_option() {
        assert!(options_allow_git("namespaces=\"git,file\""));
        assert!(!options_allow_git("namespaces=\"file\""));
        assert!(options_allow_git("valid-after=20240101"));
    }

    #[test]
    fn bad_lines_name_the_line() {
        let e = AllowedSigners::parse("f", "# c\n\nme@x ssh-ed25519 notbase64\n");
        assert!(
            matches!(e, Err(SignersError::Line { line: 3, .. })),
            "{e:?}"
        );
        assert!(matches!(
            AllowedSigners::parse("f", "# nothing\n"),
            Err(SignersError::Empty(_))
        ));
    }
}
