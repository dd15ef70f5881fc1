//! `keelson run` following git remotes: real repositories made with git2 (pushes, a bad
//! commit then its fix, force-pushes), the cache shared by two fleets, webhooks, SSH commit
//! signatures with keys made in the test, and input too large to take.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::daemon::{bump_staging, edit, free_port, http, keelson, s, spawn, status, wait_until};
use crate::plan_cli::copy;
use crate::util::out_and_err as text;

struct Remote {
    _dir: tempfile::TempDir,
    bare: PathBuf,
    work: git2::Repository,
    work_dir: PathBuf,
}

fn remote_with_fleet() -> Remote {
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("remote.git");
    git2::Repository::init_bare(&bare).unwrap();
    let work_dir = dir.path().join("work");
    let work = git2::Repository::init(&work_dir).unwrap();
    copy(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/fleet")),
        &work_dir,
    );
    work.remote("origin", bare.to_str().unwrap()).unwrap();
    Remote {
        _dir: dir,
        bare,
        work,
        work_dir,
    }
}

/// The one directory a source keeps below the cache (keyed by URL and ref).
fn source_dir(cache: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

fn url(r: &Remote) -> String {
    format!("file://{}", r.bare.display())
}

/// Stage everything and commit on main, optionally signed with `key`; returns the id.
fn commit(r: &Remote, msg: &str, key: Option<&ssh_key::PrivateKey>) -> String {
    let repo = &r.work;
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"].iter(), git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.update_all(["*"].iter(), None).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig =
        git2::Signature::new("Ops", "ops@example.com", &git2::Time::new(1_795_392_000, 0)).unwrap();
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    let oid = match key {
        None => repo
            .commit(Some("HEAD"), &sig, &sig, msg, &tree, &parents)
            .unwrap(),
        Some(k) => {
            let buf = repo
                .commit_create_buffer(&sig, &sig, msg, &tree, &parents)
                .unwrap();
            let content = buf.as_str().unwrap().to_string();
            let pem = k
                .sign("git", ssh_key::HashAlg::Sha512, content.as_bytes())
                .unwrap()
                .to_pem(ssh_key::LineEnding::LF)
                .unwrap();
            let oid = repo.commit_signed(&content, &pem, None).unwrap();
            repo.reference("refs/heads/main", oid, true, msg).unwrap();
            repo.set_head("refs/heads/main").unwrap();
            oid
        }
    };
    if repo.head().unwrap().shorthand() != Some("main") {
        repo.reference("refs/heads/main", oid, true, msg).unwrap();
        repo.set_head("refs/heads/main").unwrap();
    }
    oid.to_string()
}

fn push(r: &Remote, force: bool) {
    let mut remote = r.work.find_remote("origin").unwrap();
    let spec = if force {
        "+refs/heads/main:refs/heads/main"
    } else {
        "refs/heads/main:refs/heads/main"
    };
    remote.push(&[spec], None).unwrap();
}

fn git_once(r: &Remote, cache: &Path, extra: &[&str]) -> (Option<i32>, Value, String) {
    let u = url(r);
    let mut args = vec![
        "run",
        "--git",
        &u,
        "--branch",
        "main",
        "--cache-dir",
        s(cache),
        "--once",
        "--listen",
        "none",
        "--sim-speed",
        "instant",
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    let o = keelson(&args);
    let st: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("status is not JSON ({e}): {}", text(&o)));
    (o.status.code(), st, text(&o))
}

/// A remote with the fleet committed and pushed, synced once into `<base>/cache`:
/// (remote, base directory, cache, the first commit).
fn fleet_applied_once() -> (Remote, PathBuf, PathBuf, String) {
    let r = remote_with_fleet();
    let base = r.work_dir.parent().unwrap().to_path_buf();
    let cache = base.join("cache");
    let c1 = commit(&r, "fleet", None);
    push(&r, false);
    let (code, _, out) = git_once(&r, &cache, &[]);
    assert_eq!(code, Some(2), "{out}");
    (r, base, cache, c1)
}

#[test]
fn git_source_follows_pushes_force_pushes_and_keeps_the_last_good_revision() {
    let r = remote_with_fleet();
    let cache = r.work_dir.parent().unwrap().join("cache");
    let c1 = commit(&r, "fleet", None);
    push(&r, false);
    let (code, st, out) = git_once(&r, &cache, &[]);
    assert_eq!(code, Some(2), "{out}");
    assert_eq!(st["revision"], c1.as_str());
    assert_eq!(st["clusters"]["staging-apne1"]["state"], "converged");

    // A bad commit: refused, nothing applied, the last good revision stays.
    edit(
        &r.work_dir.join("clusters/staging-apne1/cluster.yaml"),
        "region:",
        "regoin:",
    );
    let c2 = commit(&r, "typo", None);
    push(&r, false);
    let (code, st, out) = git_once(&r, &cache, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(st["revision"], c1.as_str(), "{out}");
    assert_eq!(st["rejected"]["revision"], c2.as_str());
    let own = source_dir(&cache);
    assert!(own.join(format!("rev-{c1}")).is_dir());
    assert!(!own.join(format!("rev-{c2}")).exists());

    // The fix.
    edit(
        &r.work_dir.join("clusters/staging-apne1/cluster.yaml"),
        "regoin:",
        "region:",
    );
    bump_staging(&r.work_dir);
    let c3 = commit(&r, "fix, and 1.35 for staging", None);
    push(&r, false);
    let (code, st, out) = git_once(&r, &cache, &[]);
    assert_eq!(code, Some(2), "{out}");
    assert_eq!(st["revision"], c3.as_str());
    assert!(st["rejected"].is_null());
    let sim: Value = serde_json::from_slice(&std::fs::read(own.join("sim.json")).unwrap()).unwrap();
    assert_eq!(sim["clusters"]["staging-apne1"]["live"]["version"], "1.35");

    // A force-push that rewrites history onto c1.
    let c1_commit = r
        .work
        .find_commit(git2::Oid::from_str(&c1).unwrap())
        .unwrap();
    r.work
        .reset(c1_commit.as_object(), git2::ResetType::Hard, None)
        .unwrap();
    edit(
        &r.work_dir.join("clusters/prod-use1/cluster.yaml"),
        "version: \"1.34\"",
        "version: \"1.35\"",
    );
    let c4 = commit(&r, "rewritten", None);
    push(&r, true);
    // Refused by default: the fleet does not go back to an older history.
    let (code, st, out) = git_once(&r, &cache, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(st["revision"], c3.as_str(), "{out}");
    assert_eq!(st["rejected"]["revision"], c4.as_str(), "{out}");
    let reason = st["rejected"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("does not descend from the last applied revision")
            && reason.contains("--allow-force-push"),
        "{reason}"
    );
    // Followed when allowed.
    let (code, st, out) = git_once(&r, &cache, &["--allow-force-push"]);
    assert_ne!(code, Some(1), "{out}");
    assert_eq!(st["revision"], c4.as_str(), "{out}");
    assert!(!own.join(format!("rev-{c3}")).exists());

    // `--repo URL` is the same as `--git URL`.
    let u = url(&r);
    let o = keelson(&[
        "run",
        "--repo",
        &u,
        "--cache-dir",
        s(&cache),
        "--once",
        "--listen",
        "none",
        "--sim-speed",
        "instant",
        "--output",
        "json",
    ]);
    let st: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(st["revision"], c4.as_str(), "{}", text(&o));
}

#[test]
fn webhook_with_a_good_signature_triggers_a_fetch_and_a_bad_one_nothing() {
    let r = remote_with_fleet();
    let base = r.work_dir.parent().unwrap().to_path_buf();
    let cache = base.join("cache");
    let secret = base.join("secret");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let c1 = commit(&r, "fleet", None);
    push(&r, false);
    let port = free_port();
    let u = url(&r);
    let _d = spawn(&[
        "run",
        "--git",
        &u,
        "--cache-dir",
        s(&cache),
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--sim-speed",
        "instant",
        "--interval",
        "1h",
        "--webhook-secret-file",
        s(&secret),
    ]);
    wait_until("first sync", 60, || {
        status(port).filter(|s| s["revision"] == c1.as_str())
    });

    edit(
        &r.work_dir.join("clusters/prod-use1/cluster.yaml"),
        "version: \"1.34\"",
        "version: \"1.35\"",
    );
    let c2 = commit(&r, "prod-use1 to 1.35", None);
    push(&r, false);
    let body = format!(r#"{{"ref":"refs/heads/main","after":"{c2}"}}"#);
    let bad = keelson::daemon::webhook::sign(b"wrong", body.as_bytes());
    let (code, _) = http(
        port,
        "POST",
        "/webhook",
        &[("X-Hub-Signature-256", &bad)],
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(code, 401);
    let (code, _) = http(port, "POST", "/webhook", &[], body.as_bytes()).unwrap();
    assert_eq!(code, 401);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        status(port).unwrap()["revision"],
        c1.as_str(),
        "a refused webhook triggered a fetch"
    );

    let good = keelson::daemon::webhook::sign(b"s3cret", body.as_bytes());
    let (code, _) = http(
        port,
        "POST",
        "/webhook",
        &[("X-Hub-Signature-256", &good)],
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(code, 202);
    wait_until("the pushed revision", 30, || {
        status(port).filter(|s| s["revision"] == c2.as_str())
    });
}

fn key(seed: u8) -> ssh_key::PrivateKey {
    ssh_key::PrivateKey::from(ssh_key::private::Ed25519Keypair::from_seed(&[seed; 32]))
}

#[test]
fn only_commits_signed_by_an_allowed_key_are_applied() {
    let r = remote_with_fleet();
    let base = r.work_dir.parent().unwrap().to_path_buf();
    let cache = base.join("cache");
    let trusted = key(7);
    let stranger = key(9);
    let signers = base.join("allowed_signers");
    std::fs::write(
        &signers,
        format!(
            "# ops team\nops@example.com namespaces=\"git\" {}\n",
            trusted.public_key().to_openssh().unwrap()
        ),
    )
    .unwrap();
    let args = ["--allowed-signers", s(&signers)];

    let c1 = commit(&r, "fleet", Some(&trusted));
    push(&r, false);
    let (code, st, out) = git_once(&r, &cache, &args);
    assert_eq!(code, Some(2), "{out}");
    assert_eq!(st["revision"], c1.as_str());

    edit(
        &r.work_dir.join("clusters/prod-use1/cluster.yaml"),
        "version: \"1.34\"",
        "version: \"1.35\"",
    );
    let c2 = commit(&r, "unsigned", None);
    push(&r, false);
    let (code, st, out) = git_once(&r, &cache, &args);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(st["revision"], c1.as_str());
    assert_eq!(st["rejected"]["revision"], c2.as_str());
    assert!(
        st["rejected"]["reason"]
            .as_str()
            .unwrap()
            .contains("not signed"),
        "{out}"
    );

    edit(
        &r.work_dir.join("clusters/prod-use1/cluster.yaml"),
        "version: \"1.35\"",
        "version: \"1.34\"",
    );
    let c3 = commit(&r, "signed by someone else", Some(&stranger));
    push(&r, false);
    let (code, st, out) = git_once(&r, &cache, &args);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(st["revision"], c1.as_str());
    assert_eq!(st["rejected"]["revision"], c3.as_str());
    assert!(
        st["rejected"]["reason"]
            .as_str()
            .unwrap()
            .contains("not in the allowed signers"),
        "{out}"
    );

    let c4 = commit(&r, "signed again", Some(&trusted));
    push(&r, false);
    let (code, st, out) = git_once(&r, &cache, &args);
    assert_eq!(code, Some(2), "{out}");
    assert_eq!(st["revision"], c4.as_str());
}

fn allowed_signers(base: &Path, line_options: &str, key: &ssh_key::PrivateKey) -> PathBuf {
    let path = base.join("allowed_signers");
    std::fs::write(
        &path,
        format!(
            "ops@example.com {line_options} {}\n",
            key.public_key().to_openssh().unwrap()
        ),
    )
    .unwrap();
    path
}

#[test]
fn two_fleets_sharing_a_cache_never_see_each_others_revisions() {
    // Regression: the cache and its last good revision were shared by every fleet, so a
    // fleet whose head was refused fell back to another fleet's unsigned commit.
    let a = remote_with_fleet();
    let b = remote_with_fleet();
    let base = a.work_dir.parent().unwrap().to_path_buf();
    let cache = base.join("shared-cache");
    let ca = commit(&a, "fleet A, unsigned", None);
    push(&a, false);
    let (code, st, out) = git_once(&a, &cache, &[]);
    assert_eq!(code, Some(2), "{out}");
    assert_eq!(st["revision"], ca.as_str());

    let signers = allowed_signers(&base, "namespaces=\"git\"", &key(7));
    let cb = commit(&b, "fleet B, unsigned", None);
    push(&b, false);
    let (code, st, out) = git_once(&b, &cache, &["--allowed-signers", s(&signers)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        st["revision"].is_null(),
        "fleet B synced {}: {out}",
        st["revision"]
    );
    assert_eq!(st["rejected"]["revision"], cb.as_str());
    assert!(st["clusters"].as_object().unwrap().is_empty(), "{out}");
    // Each source has a directory of its own.
    let dirs = std::fs::read_dir(&cache).unwrap().count();
    assert_eq!(dirs, 2);
}

#[test]
fn a_key_outside_its_validity_window_is_refused_and_the_last_good_is_verified_again() {
    let r = remote_with_fleet();
    let base = r.work_dir.parent().unwrap().to_path_buf();
    let cache = base.join("cache");
    let trusted = key(7);
    // Commits in these tests are made at 2026-11-23T00:00:00Z.
    let valid = allowed_signers(&base, "valid-before=\"20261231Z\"", &trusted);
    let c1 = commit(&r, "fleet", Some(&trusted));
    push(&r, false);
    let (code, st, out) = git_once(&r, &cache, &["--allowed-signers", s(&valid)]);
    assert_eq!(code, Some(2), "{out}");
    assert_eq!(st["revision"], c1.as_str());

    // The key expired before the commit was made: refused, and after a restart the last
    // good revision signed by it is not trusted either.
    let expired = allowed_signers(&base, "valid-before=\"20260101\"", &trusted);
    let (code, st, out) = git_once(&r, &cache, &["--allowed-signers", s(&expired)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(st["revision"].is_null(), "{out}");
    let reason = st["rejected"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("outside the key's validity"),
        "{reason} / {out}"
    );
    // Not yet valid.
    let future = allowed_signers(&base, "valid-after=\"20270101\"", &trusted);
    let (code, _, out) = git_once(&r, &cache, &["--allowed-signers", s(&future)]);
    assert_eq!(code, Some(1), "{out}");
}

#[test]
fn a_commit_with_two_signature_headers_is_refused() {
    let r = remote_with_fleet();
    let base = r.work_dir.parent().unwrap().to_path_buf();
    let cache = base.join("cache");
    let trusted = key(7);
    let signers = allowed_signers(&base, "namespaces=\"git\"", &trusted);
    let repo = &r.work;
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"].iter(), git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig =
        git2::Signature::new("Ops", "ops@example.com", &git2::Time::new(1_795_392_000, 0)).unwrap();
    let content = repo
        .commit_create_buffer(&sig, &sig, "two signatures", &tree, &[])
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    let pem = |data: &str| {
        trusted
            .sign("git", ssh_key::HashAlg::Sha512, data.as_bytes())
            .unwrap()
            .to_pem(ssh_key::LineEnding::LF)
            .unwrap()
    };
    // A validly signed commit, then a second signature header added on top of it.
    let once = repo.commit_signed(&content, &pem(&content), None).unwrap();
    let raw = repo.find_object(once, None).unwrap();
    let raw = String::from_utf8(raw.as_commit().unwrap().raw_header_bytes().to_vec()).unwrap();
    let first_signed = format!("{raw}\ntwo signatures\n");
    let twice = repo
        .commit_signed(&first_signed, &pem(&content), None)
        .unwrap();
    repo.reference("refs/heads/main", twice, true, "two")
        .unwrap();
    push(&r, true);
    let (code, st, out) = git_once(&r, &cache, &["--allowed-signers", s(&signers)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(st["revision"].is_null(), "{out}");
    let reason = st["rejected"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("2 signature headers"), "{reason} / {out}");
}

/// `n` bytes that do not compress.
fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn oversized_input_is_refused_before_it_is_read_whole() {
    let (r, base, cache, c1) = fleet_applied_once();

    // A file larger than keelson reads: refused from the object header, not checked out.
    let limit = keelson::config::MAX_FILE_BYTES as usize;
    std::fs::write(r.work_dir.join("big.bin"), noise(limit + 1024)).unwrap();
    let c2 = commit(&r, "a large file", None);
    push(&r, false);
    let (code, st, out) = git_once(&r, &cache, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(st["revision"], c1.as_str());
    assert_eq!(st["rejected"]["revision"], c2.as_str());
    let reason = st["rejected"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("big.bin") && reason.contains("more than"),
        "{reason}"
    );
    assert!(!source_dir(&cache).join(format!("tmp-{c2}")).exists());
    assert!(!source_dir(&cache).join(format!("rev-{c2}")).exists());

    // A fetch that grows past --max-fetch-mib stops there.
    let fresh = base.join("fresh-cache");
    let (code, st, out) = git_once(&r, &fresh, &["--max-fetch-mib", "1"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(st["revision"].is_null(), "{out}");
    assert!(out.contains("stopped after 1 MiB"), "{out}");
}

#[test]
fn a_deleted_branch_or_a_wrong_one_is_an_error_not_a_silent_fallback() {
    let (r, base, cache, c1) = fleet_applied_once();

    // The branch is deleted on the remote: said, exit 1, the last good revision kept.
    git2::Repository::open_bare(&r.bare)
        .unwrap()
        .find_reference("refs/heads/main")
        .unwrap()
        .delete()
        .unwrap();
    let (code, st, out) = git_once(&r, &cache, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(st["revision"], c1.as_str(), "{out}");
    assert!(
        st["lastError"]
            .as_str()
            .unwrap_or_default()
            .contains("has no branch main"),
        "{out}"
    );

    // A branch that never existed, on a fresh cache: no revision, exit 1, said.
    let u = url(&r);
    let fresh = base.join("fresh");
    let o = keelson(&[
        "run",
        "--git",
        &u,
        "--branch",
        "nope",
        "--cache-dir",
        s(&fresh),
        "--once",
        "--listen",
        "none",
        "--output",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let st: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(st["revision"].is_null(), "{}", text(&o));
    assert!(text(&o).contains("has no branch nope"), "{}", text(&o));
}

#[test]
fn a_submodule_is_refused_by_name_and_leaves_no_checkout_behind() {
    let (r, base, cache, c1) = fleet_applied_once();

    // Another repository, added as a submodule the way `git submodule add` does.
    let shared_dir = base.join("shared");
    let shared = git2::Repository::init(&shared_dir).unwrap();
    std::fs::write(shared_dir.join("README"), "shared settings\n").unwrap();
    let mut index = shared.index().unwrap();
    index.add_path(Path::new("README")).unwrap();
    let tree = shared.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("Ops", "ops@example.com").unwrap();
    shared
        .commit(Some("HEAD"), &sig, &sig, "shared", &tree, &[])
        .unwrap();
    let shared_url = format!("file://{}", shared_dir.display());
    let mut sm = r
        .work
        .submodule(&shared_url, Path::new("clusters/shared"), true)
        .unwrap();
    sm.clone(None).unwrap();
    sm.add_finalize().unwrap();
    let c2 = commit(&r, "a submodule", None);
    push(&r, false);
    let tree = r
        .work
        .find_commit(c2.parse().unwrap())
        .unwrap()
        .tree()
        .unwrap();
    assert!(
        tree.get_path(Path::new("clusters/shared"))
            .is_ok_and(|e| e.kind() == Some(git2::ObjectType::Commit)),
        "the test made no submodule"
    );

    let (code, st, out) = git_once(&r, &cache, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(st["revision"], c1.as_str(), "{out}");
    assert_eq!(st["rejected"]["revision"], c2.as_str(), "{out}");
    let reason = st["rejected"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("clusters/shared") && reason.contains("submodule"),
        "{reason}"
    );
    let dir = source_dir(&cache);
    assert!(!dir.join(format!("tmp-{c2}")).exists(), "{out}");
    assert!(!dir.join(format!("rev-{c2}")).exists(), "{out}");
}
