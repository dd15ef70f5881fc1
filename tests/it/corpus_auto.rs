//! The Auto Mode part of the regression corpus under `tests/corpus/` (`corpus.rs` runs
//! the `eks/` part): NodePools and NodeClasses, one file per case, each starting with `# source: ...` (where the rule comes from: the Karpenter CRD,
//! the EKS user guide, ...) and, for invalid ones, `# expect: RULE-ID`. Each file joins a
//! valid Auto Mode repository (a Fleet, a Cluster, the NodeClass `batch` with its EC2
//! access entry) and is loaded as `keelson validate` loads it: an invalid file must give
//! its rule at a line of its own, a valid file no diagnostic at all.
//!
//! ```text
//!  tests/corpus/{nodepool,nodeclass}/{valid,invalid}/*.yaml ─► repo + file ─► load ─► rule ids
//! ```

use std::path::{Path, PathBuf};

use crate::util::{load, show, AUTO_CLUSTER, FLEET, NODECLASS};

fn files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(dir);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    out.sort();
    out
}

/// The header of a case: its source, and the rule it must give (invalid cases).
fn header(path: &Path, text: &str) -> (String, Option<String>) {
    let mut lines = text.lines();
    let source = lines
        .next()
        .and_then(|l| l.strip_prefix("# source: "))
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| panic!("{}: the first line must be `# source: ...`", path.display()));
    let expect = lines
        .next()
        .and_then(|l| l.strip_prefix("# expect: "))
        .map(|s| s.trim().to_string());
    (source.to_string(), expect)
}

const CASE: &str = "auto1/case.yaml";

fn diagnostics_of(text: &str) -> Vec<keelson::config::Diagnostic> {
    load(&[
        ("keelson.yaml", FLEET),
        ("auto1/cluster.yaml", AUTO_CLUSTER),
        ("auto1/nodeclass.yaml", NODECLASS),
        (CASE, text),
    ])
    .diagnostics
}

#[test]
fn every_invalid_case_gives_its_rule_and_every_valid_case_none() {
    let mut counts = Vec::new();
    for kind in ["nodepool", "nodeclass"] {
        let valid = files(&format!("{kind}/valid"));
        let invalid = files(&format!("{kind}/invalid"));
        for path in &valid {
            let text = std::fs::read_to_string(path).unwrap();
            let (_, expect) = header(path, &text);
            assert_eq!(
                expect,
                None,
                "{}: a valid case expects no rule",
                path.display()
            );
            let diags = diagnostics_of(&text);
            assert!(diags.is_empty(), "{}:\n{}", path.display(), show(&diags));
        }
        for path in &invalid {
            let text = std::fs::read_to_string(path).unwrap();
            let (_, expect) = header(path, &text);
            let rule = expect.unwrap_or_else(|| {
                panic!(
                    "{}: the second line must be `# expect: RULE`",
                    path.display()
                )
            });
            let diags = diagnostics_of(&text);
            assert!(
                diags
                    .iter()
                    .any(|d| d.rule == rule && d.file == CASE && d.line > 2),
                "{}: expected {rule} at a line of the case, got:\n{}",
                path.display(),
                show(&diags)
            );
        }
        counts.push((kind, valid.len(), invalid.len()));
    }
    // The corpus does not shrink unnoticed.
    assert!(
        counts.iter().all(|(_, v, i)| *v >= 7 && *i >= 9),
        "{counts:?}"
    );
}
