//! Chart `kubeVersion` constraints, evaluated as Helm evaluates them: Helm 3 checks
//! `chart.Metadata.KubeVersion` with `chartutil.IsCompatibleRange`, which is
//! Masterminds/semver v3 `NewConstraint(c).Check(NewVersion(serverGitVersion))`. No Rust
//! crate implements that grammar (the `semver` crate is Cargo's: no `||`, no hyphen
//! ranges, a bare version means `^`), so this is a small evaluator of it, following
//! Masterminds/semver v3 `constraints.go` function by function.
//!
//! ```text
//!  "a - b"  ─► ">= a, <= b"            (rewriteRange)
//!  split "||" ─► groups; each group: constraints separated by spaces or commas (AND)
//!  constraint: op (= != > < >= => <= =< ~ ~> ^, none is =) + version with x/X/* parts
//!  check: any group whose every constraint holds
//! ```
//!
//! The pre-release rule matters on EKS: a constraint without a pre-release part never
//! admits a pre-release version, and EKS reports its API server as `v1.N.P-eks-<hash>`,
//! a pre-release to semver. That is why charts write `>=1.25.0-0`.

use std::cmp::Ordering;

/// A semantic version as Masterminds/semver v3 reads one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemVer {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
}

impl SemVer {
    /// The version EKS's API server reports for `major.minor` (GitVersion
    /// `v1.N.P-eks-<hash>`), at its first patch: what Helm checks `kubeVersion` against.
    pub fn eks(major: u32, minor: u32) -> SemVer {
        SemVer {
            major: major.into(),
            minor: minor.into(),
            patch: 1,
            pre: "eks-1".into(),
        }
    }

    /// Parse `v?MAJOR(.MINOR(.PATCH)?)?(-pre)?(+build)?`.
    pub fn parse(s: &str) -> Option<SemVer> {
        let p = parse_parts(s)?;
        let num = |x: &Part| match x {
            Part::Num(n) => Some(*n),
            Part::Missing => Some(0),
            Part::Wild => None,
        };
        Some(SemVer {
            major: num(&p.parts[0])?,
            minor: num(&p.parts[1])?,
            patch: num(&p.parts[2])?,
            pre: p.pre,
        })
    }

    fn cmp(&self, o: &SemVer) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(o.major, o.minor, o.patch))
            .then_with(|| compare_prerelease(&self.pre, &o.pre))
    }
}

/// semver 2.0 §11: a version without a pre-release is higher; identifiers compare
/// numerically when both are numbers, numbers are lower than the rest, more identifiers
/// win a tie.
fn compare_prerelease(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let (mut x, mut y) = (a.split('.'), b.split('.'));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(p), Some(q)) => {
                let o = match (p.parse::<u64>(), q.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => p.cmp(q),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Num(u64),
    Wild,
    Missing,
}

struct Parsed {
    parts: [Part; 3],
    pre: String,
}

/// The `cvRegex` of constraints.go: `v?(N|x|X|*)(.(N|x|X|*))?(.(N|x|X|*))?(-pre)?(+build)?`.
fn parse_parts(s: &str) -> Option<Parsed> {
    let s = s.strip_prefix('v').unwrap_or(s);
    let (s, _build) = match s.split_once('+') {
        Some((a, b)) if ident_list(b) => (a, b),
        Some(_) => return None,
        None => (s, ""),
    };
    let (core, pre) = match s.split_once('-') {
        Some((a, b)) if ident_list(b) => (a, b.to_string()),
        Some(_) => return None,
        None => (s, String::new()),
    };
    let mut parts = [Part::Missing; 3];
    let mut it = core.split('.');
    for slot in parts.iter_mut() {
        let Some(p) = it.next() else { break };
        *slot = match p {
            "x" | "X" | "*" => Part::Wild,
            n if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                Part::Num(n.parse().ok()?)
            }
            _ => return None,
        };
    }
    if it.next().is_some() || parts[0] == Part::Missing {
        return None;
    }
    Some(Parsed { parts, pre })
}

fn ident_list(s: &str) -> bool {
    s.split('.')
        .all(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Tilde,
    Caret,
}

#[derive(Debug, Clone)]
struct Constraint {
    op: Op,
    con: SemVer,
    dirty: bool,
    minor_dirty: bool,
    patch_dirty: bool,
}

/// A parsed `kubeVersion`: groups joined by `||`, each a list of constraints that must
/// all hold.
#[derive(Debug, Clone)]
pub struct Constraints(Vec<Vec<Constraint>>);

/// Operators, longest first so that `>=` is not read as `>`.
const OPS: &[(&str, Op)] = &[
    ("!=", Op::Ne),
    (">=", Op::Ge),
    ("=>", Op::Ge),
    ("<=", Op::Le),
    ("=<", Op::Le),
    ("~>", Op::Tilde),
    (">", Op::Gt),
    ("<", Op::Lt),
    ("=", Op::Eq),
    ("~", Op::Tilde),
    ("^", Op::Caret),
];

impl Constraints {
    /// Parse a constraint string; `None` where Masterminds' NewConstraint returns an
    /// error ("improper constraint").
    pub fn parse(text: &str) -> Option<Constraints> {
        let mut groups = Vec::new();
        for group in text.split("||") {
            let tokens = rewrite_ranges(&group.replace(',', " "))?;
            if tokens.is_empty() {
                return None;
            }
            groups.push(
                tokens
                    .iter()
                    .map(|t| parse_one(t))
                    .collect::<Option<Vec<_>>>()?,
            );
        }
        Some(Constraints(groups))
    }

    /// Whether `v` satisfies one of the groups (Constraints.Check).
    pub fn check(&self, v: &SemVer) -> bool {
        self.0.iter().any(|g| g.iter().all(|c| c.check(v)))
    }
}

/// Whitespace tokens with an operator written apart from its version joined to it, and
/// `a - b` rewritten to `>=a`, `<=b` (rewriteRange).
fn rewrite_ranges(group: &str) -> Option<Vec<String>> {
    let raw: Vec<&str> = group.split_whitespace().collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let t = raw[i];
        if raw.get(i + 1) == Some(&"-") {
            let b = raw.get(i + 2)?;
            out.push(format!(">={t}"));
            out.push(format!("<={b}"));
            i += 3;
        } else if OPS.iter().any(|(o, _)| *o == t) {
            out.push(format!("{t}{}", raw.get(i + 1)?));
            i += 2;
        } else {
            out.push(t.to_string());
            i += 1;
        }
    }
    Some(out)
}

fn parse_one(t: &str) -> Option<Constraint> {
    let (op, rest) = OPS
        .iter()
        .find_map(|(s, op)| t.strip_prefix(s).map(|r| (*op, r)))
        .unwrap_or((Op::Eq, t));
    let p = parse_parts(rest)?;
    let n = |x: Part| if let Part::Num(n) = x { n } else { 0 };
    let wild = |x: Part| !matches!(x, Part::Num(_));
    // parseConstraint: the first missing or wildcard part makes the rest zero and the
    // constraint "dirty" at that level.
    let (dirty, minor_dirty, patch_dirty, con) = if wild(p.parts[0]) {
        (true, false, false, (0, 0, 0))
    } else if wild(p.parts[1]) {
        (true, true, false, (n(p.parts[0]), 0, 0))
    } else if wild(p.parts[2]) {
        (true, false, true, (n(p.parts[0]), n(p.parts[1]), 0))
    } else {
        (
            false,
            false,
            false,
            (n(p.parts[0]), n(p.parts[1]), n(p.parts[2])),
        )
    };
    Some(Constraint {
        op,
        con: SemVer {
            major: con.0,
            minor: con.1,
            patch: con.2,
            pre: p.pre,
        },
        dirty,
        minor_dirty,
        patch_dirty,
    })
}

impl Constraint {
    fn check(&self, v: &SemVer) -> bool {
        // "If there is a pre-release on the version but the constraint isn't looking for
        // them assume that pre-releases are not compatible" (every constraint function;
        // constraintNotEqual only when dirty).
        let pre_excluded = !v.pre.is_empty() && self.con.pre.is_empty();
        let c = &self.con;
        match self.op {
            Op::Ne if self.dirty => {
                if pre_excluded {
                    return false;
                }
                if c.major != v.major {
                    true
                } else if self.minor_dirty {
                    false
                } else if c.minor != v.minor {
                    true
                } else if self.patch_dirty {
                    (!v.pre.is_empty() || !c.pre.is_empty())
                        && compare_prerelease(&v.pre, &c.pre) != Ordering::Equal
                } else {
                    c.patch != v.patch
                }
            }
            Op::Ne => v.cmp(c) != Ordering::Equal,
            _ if pre_excluded => false,
            Op::Gt if !self.dirty => v.cmp(c) == Ordering::Greater,
            Op::Gt => {
                if v.major != c.major {
                    v.major > c.major
                } else if self.minor_dirty {
                    false
                } else if self.patch_dirty {
                    v.minor > c.minor
                } else {
                    v.cmp(c) == Ordering::Greater
                }
            }
            Op::Lt => v.cmp(c) == Ordering::Less,
            Op::Ge => v.cmp(c) != Ordering::Less,
            Op::Le if !self.dirty => v.cmp(c) != Ordering::Greater,
            Op::Le => {
                !(v.major > c.major
                    || (v.major == c.major && v.minor > c.minor && !self.minor_dirty))
            }
            Op::Tilde => self.tilde(v),
            Op::Eq if self.dirty => self.tilde(v),
            Op::Eq => v.cmp(c) == Ordering::Equal,
            Op::Caret => {
                if v.cmp(c) == Ordering::Less {
                    false
                } else if c.major > 0 || self.minor_dirty {
                    v.major == c.major
                } else if v.major > 0 {
                    false
                } else if c.minor > 0 || self.patch_dirty {
                    v.minor == c.minor
                } else {
                    v.minor == c.minor && v.patch == c.patch
                }
            }
        }
    }

    fn tilde(&self, v: &SemVer) -> bool {
        let c = &self.con;
        if v.cmp(c) == Ordering::Less {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        v.major == c.major && (v.minor == c.minor || self.minor_dirty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(c: &str, v: &str) -> bool {
        let cs = Constraints::parse(c).unwrap_or_else(|| unreachable!("{c}"));
        cs.check(&SemVer::parse(v).unwrap_or_else(|| unreachable!("{v}")))
    }

    // Cases from Masterminds/semver v3 README ("Checking Version Constraints") and
    // constraints_test.go.
    #[test]
    fn comparisons_wildcards_and_ranges_as_masterminds_reads_them() {
        for (c, v, want) in [
            (">=1.25.0", "1.35.0", true),
            (">=1.25.0", "1.24.9", false),
            ("<1.35.0", "1.35.0", false),
            (">= 1.2, < 3.0.0 || >= 4.2.3", "4.3.0", true),
            (">= 1.2, < 3.0.0 || >= 4.2.3", "3.1.0", false),
            ("1.2 - 1.4.5", "1.4.5", true),
            ("1.2 - 1.4.5", "1.4.6", false),
            ("1.2.x", "1.2.9", true),
            ("1.2.x", "1.3.0", false),
            ("*", "1.35.0", true),
            (">1.2", "1.2.9", false),
            (">1.2", "1.3.0", true),
            ("<=1.2", "1.2.9", true),
            ("<=1.2", "1.3.0", false),
            ("~1.2.3", "1.2.9", true),
            ("~1.2.3", "1.3.0", false),
            ("~1", "1.35.0", true),
            ("^1.2.3", "1.35.0", true),
            ("^1.2.3", "2.0.0", false),
            ("^0.2.3", "0.3.0", false),
            ("!=1.34.0", "1.34.0", false),
            ("!=1.34.x", "1.34.5", false),
            ("!=1.34.x", "1.35.0", true),
            ("v1.20 - v1.35", "1.35.0", true),
        ] {
            assert_eq!(ok(c, v), want, "{c} against {v}");
        }
    }

    #[test]
    fn a_pre_release_is_admitted_only_by_constraints_that_name_one() {
        // EKS's API server is v1.35.x-eks-<hash>: `-0` is what lets a chart admit it.
        let eks = SemVer::eks(1, 35);
        let check = |c: &str| Constraints::parse(c).is_some_and(|cs| cs.check(&eks));
        assert!(check(">=1.25.0-0"));
        assert!(!check(">=1.25.0"));
        assert!(check(">=1.25.0-0 <1.36.0-0"));
        assert!(!check(">=1.25.0-0 <1.35.0-0"));
        assert!(!check("<1.35.0"));
        assert!(!check("1.35.x"));
    }

    #[test]
    fn what_masterminds_refuses_does_not_parse() {
        for c in [
            "", "   ", ">=", "1.2.3.4", ">=banana", "1.2 -", "|| 1.2", ">=1.2.3-", "1..2",
        ] {
            assert!(Constraints::parse(c).is_none(), "{c:?}");
        }
    }
}
