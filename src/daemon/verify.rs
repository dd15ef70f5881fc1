//! Commit signature verification: only commits signed by an allowed SSH key are used.
//!
//! ```text
//!  commit ──git2 extract_signature──► (signature, signed data)
//!         ──SshSig::from_pem──► key in the allowed signers file? ──verify(namespace "git")──► trusted │ refused
//! ```
//!
//! The allowed signers file has git's format (`gpg.ssh.allowedSignersFile`, see
//! `ssh-keygen(1)` ALLOWED SIGNERS): `principals [options] keytype base64-key [comment]`.
//! A `namespaces="..."` option that does not list `git` excludes the key. `valid-after` and
//! `valid-before` (`YYYYMMDD[Z]` or `YYYYMMDDHHMM[SS][Z]`, read as UTC) bound when the key
//! may have signed: as `git verify-commit` does, the commit's committer time must fall
//! inside them. A commit with more than one signature header is refused (which one counts
//! would be ambiguous). Ed25519 and ECDSA P-256 keys are supported. OpenPGP signatures are
//! refused with a message saying so: keelson verifies SSH signatures only.

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
    /// Signatures made before this time (unix seconds) are not accepted.
    pub valid_after: Option<i64>,
    /// Signatures made after this time (unix seconds) are not accepted.
    pub valid_before: Option<i64>,
}

impl Signer {
    fn valid_at(&self, t: i64) -> bool {
        self.valid_after.is_none_or(|a| t >= a) && self.valid_before.is_none_or(|b| t <= b)
    }
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
    /// Signed by an allowed key outside its `valid-after`/`valid-before` window.
    #[error("commit {commit} is signed by {principals} at {at}, outside the key's validity in the allowed signers file ({window})")]
    KeyNotValid {
        /// Commit.
        commit: String,
        /// Who the key belongs to.
        principals: String,
        /// The commit's committer time (RFC 3339).
        at: String,
        /// The key's window as written.
        window: String,
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

/// What the options field of an allowed signer says.
#[derive(Debug, Default, PartialEq, Eq)]
struct SignerOptions {
    /// The key may sign in git's namespace.
    git: bool,
    valid_after: Option<i64>,
    valid_before: Option<i64>,
}

/// Parse `namespaces="a,b",valid-after=...` options, honouring quotes.
fn parse_options(opts: &str) -> Result<SignerOptions, String> {
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
    let mut out = SignerOptions {
        git: true,
        ..SignerOptions::default()
    };
    for p in &parts {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        if k.eq_ignore_ascii_case("namespaces") {
            out.git = v.split(',').any(|n| n.trim() == GIT_NAMESPACE);
        } else if k.eq_ignore_ascii_case("valid-after") {
            out.valid_after = Some(parse_time(v).ok_or_else(|| bad_time(k, v))?);
        } else if k.eq_ignore_ascii_case("valid-before") {
            out.valid_before = Some(parse_time(v).ok_or_else(|| bad_time(k, v))?);
        }
    }
    Ok(out)
}

fn bad_time(k: &str, v: &str) -> String {
    format!("{k}=\"{v}\" is not a time of the form YYYYMMDD[Z] or YYYYMMDDHHMM[SS][Z]")
}

/// `YYYYMMDD[Z]` or `YYYYMMDDHHMM[SS][Z]` (ssh-keygen's format) as unix seconds, UTC.
fn parse_time(v: &str) -> Option<i64> {
    let v = v.strip_suffix(['Z', 'z']).unwrap_or(v);
    if !v.bytes().all(|b| b.is_ascii_digit()) || !matches!(v.len(), 8 | 12 | 14) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| v.get(r).and_then(|s| s.parse::<i64>().ok());
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = match v.len() {
        8 => (0, 0, 0),
        12 => (num(8..10)?, num(10..12)?, 0),
        _ => (num(8..10)?, num(10..12)?, num(12..14)?),
    };
    if hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let date = crate::versions::Date::checked(
        i32::try_from(y).ok()?,
        u32::try_from(m).ok()?,
        u32::try_from(d).ok()?,
    )?;
    Some(date.to_days() * 86_400 + hh * 3600 + mm * 60 + ss)
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
            let mut opts = SignerOptions {
                git: true,
                ..SignerOptions::default()
            };
            if !is_key_type(next) {
                opts = parse_options(next).map_err(|e| bad(&e))?;
                next = fields
                    .next()
                    .ok_or_else(|| bad("no key type after the options"))?;
            }
            let b64 = fields.next().ok_or_else(|| bad("no base64 key"))?;
            let key = PublicKey::from_openssh(&format!("{next} {b64}"))
                .map_err(|e| bad(&e.to_string()))?;
            if opts.git {
                out.signers.push(Signer {
                    principals: principals.to_string(),
                    key,
                    valid_after: opts.valid_after,
                    valid_before: opts.valid_before,
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

    /// Check a signature over `data`, made at `at` (unix seconds: the commit's committer
    /// time); returns who signed it.
    ///
    /// # Errors
    /// [`VerifyError`] (`commit` is used in messages).
    pub fn verify(
        &self,
        commit: &str,
        signature: &[u8],
        data: &[u8],
        at: i64,
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
        let matching: Vec<&Signer> = self
            .signers
            .iter()
            .filter(|s| s.key.key_data() == sig.public_key())
            .collect();
        let Some(first) = matching.first() else {
            let fingerprint = PublicKey::from(sig.public_key().clone())
                .fingerprint(ssh_key::HashAlg::Sha256)
                .to_string();
            return Err(VerifyError::Untrusted {
                commit: commit.to_string(),
                fingerprint,
            });
        };
        let Some(signer) = matching.iter().find(|s| s.valid_at(at)) else {
            let show = |t: Option<i64>| t.map(super::rfc3339).unwrap_or_else(|| "any".into());
            return Err(VerifyError::KeyNotValid {
                commit: commit.to_string(),
                principals: first.principals.clone(),
                at: super::rfc3339(at),
                window: format!(
                    "valid after {}, before {}",
                    show(first.valid_after),
                    show(first.valid_before)
                ),
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
    let commit = repo
        .find_commit(oid)
        .map_err(|_| VerifyError::Unsigned(id.clone()))?;
    let headers = commit
        .raw_header_bytes()
        .split(|b| *b == b'\n')
        .filter(|l| l.starts_with(b"gpgsig"))
        .count();
    if headers > 1 {
        return Err(VerifyError::Malformed {
            commit: id,
            detail: format!("{headers} signature headers; a commit must carry exactly one"),
        });
    }
    let at = commit.committer().when().seconds();
    let (sig, data) = repo
        .extract_signature(&oid, None)
        .map_err(|_| VerifyError::Unsigned(id.clone()))?;
    signers.verify(&id, &sig, &data, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_option() {
        assert!(parse_options("namespaces=\"git,file\"").is_ok_and(|o| o.git));
        assert!(parse_options("namespaces=\"file\"").is_ok_and(|o| !o.git));
        assert!(parse_options("valid-after=20240101").is_ok_and(|o| o.git));
    }

    #[test]
    fn validity_times() {
        assert_eq!(parse_time("19700101"), Some(0));
        assert_eq!(parse_time("20261123Z"), Some(1_795_392_000));
        assert_eq!(parse_time("202611230200"), Some(1_795_399_200));
        assert_eq!(parse_time("20261123020030Z"), Some(1_795_399_230));
        assert_eq!(parse_time("20240229"), Some(1_709_164_800));
        for bad in [
            "2026112",
            "20261323",
            "20230229",
            "2026-11-23",
            "202611232460",
            "",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
        let o =
            parse_options("namespaces=\"git\",valid-after=\"20260101\",valid-before=\"20261231Z\"")
                .unwrap_or_default();
        assert_eq!(o.valid_after, parse_time("20260101"));
        assert_eq!(o.valid_before, parse_time("20261231"));
        assert!(parse_options("valid-before=tomorrow").is_err());
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
