//! The regression corpus under tests/corpus/: real-world documents, each citing the
//! source that says whether EKS takes it. A `valid/` case must load without a single
//! diagnostic; an `invalid/` case must be reported with the rule (and at the line and
//! column) its `# expect:` line names.
//!
//! ```text
//!  # source: <where the rule comes from>
//!  # expect: <rule-id> <line>:<column>      (invalid cases only)
//!  <documents>
//! ```
//!
//! A case is placed in a cluster directory next to a Fleet and a plain cluster
//! (`cluster()` below); a case with its own Cluster document replaces that cluster.

use std::path::{Path, PathBuf};

use crate::util::*;

/// The cluster a case's documents belong to, unless the case brings its own.
fn cluster() -> String {
    format!("{MNG_CLUSTER}  access: {{authenticationMode: API}}\n").replace("mng1", "corpus")
}

/// Where a case is put in the repo.
const CASE: &str = "corpus/case.yaml";

/// Every `.yaml` file under `dir`, sorted.
fn cases(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The value of a `# key: value` header line.
fn header<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let prefix = format!("# {key}:");
    text.lines()
        .take_while(|l| l.starts_with('#'))
        .find_map(|l| l.strip_prefix(&prefix))
        .map(str::trim)
}

fn load_case(text: &str) -> keelson::config::Loaded {
    let own_cluster = text.lines().any(|l| l == "kind: Cluster");
    let cluster = cluster();
    let mut files = vec![("keelson.yaml", FLEET), (CASE, text)];
    if !own_cluster {
        files.push(("corpus/cluster.yaml", &cluster));
    }
    load(&files)
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

#[test]
fn every_case_cites_its_source() {
    let all = cases(&root());
    assert!(all.len() >= 40, "{} cases", all.len());
    for p in all {
        let text = std::fs::read_to_string(&p).unwrap();
        let source = header(&text, "source").unwrap_or_default();
        assert!(source.len() > 10, "{}: no `# source:` line", p.display());
    }
}

#[test]
fn every_valid_case_loads_without_a_diagnostic() {
    let mut n = 0;
    for p in cases(&root().join("eks/valid")) {
        let text = std::fs::read_to_string(&p).unwrap();
        let loaded = load_case(&text);
        assert!(
            loaded.diagnostics.is_empty(),
            "{}:\n{}",
            p.display(),
            show(&loaded.diagnostics)
        );
        n += 1;
    }
    assert!(n >= 15, "{n} valid cases");
}

#[test]
fn every_invalid_case_is_reported_with_its_rule_where_it_stands() {
    let mut n = 0;
    for p in cases(&root().join("eks/invalid")) {
        let text = std::fs::read_to_string(&p).unwrap();
        let expect = header(&text, "expect")
            .unwrap_or_else(|| panic!("{}: no `# expect:` line", p.display()));
        let (rule, at) = expect.split_once(' ').unwrap_or((expect, ""));
        let loaded = load_case(&text);
        let hit = loaded
            .diagnostics
            .iter()
            .find(|d| d.rule == rule && d.file == CASE);
        let Some(hit) = hit else {
            panic!(
                "{}: expected {rule}, got:\n{}",
                p.display(),
                show(&loaded.diagnostics)
            );
        };
        assert_eq!(
            format!("{}:{}", hit.line, hit.column),
            at,
            "{}: {rule} reported at another place:\n{}",
            p.display(),
            show(&loaded.diagnostics)
        );
        assert!(!loaded.is_valid(), "{}", p.display());
        n += 1;
    }
    assert!(n >= 25, "{n} invalid cases");
}
