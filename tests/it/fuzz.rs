//! Property tests for the loader: no input makes it panic, and every diagnostic points
//! inside the file it names. (`cargo test` runs 256 cases per property; set
//! PROPTEST_CASES for a longer run.)

use keelson::config::{self, LoadOptions, SourceFile};
use proptest::prelude::*;

use crate::util::{AUTO_CLUSTER, FLEET, NODECLASS, TODAY};

fn check(files: Vec<(String, Vec<u8>)>) {
    let sources: Vec<SourceFile> = files
        .iter()
        .map(|(rel, bytes)| SourceFile {
            display: rel.clone(),
            rel: rel.clone(),
            bytes: bytes.clone(),
        })
        .collect();
    let loaded = config::load(&sources, &LoadOptions::new(TODAY));
    for d in &loaded.diagnostics {
        let (_, bytes) = files
            .iter()
            .find(|(rel, _)| *rel == d.file)
            .expect("diagnostic names a known file");
        // Line breaks as YAML counts them: LF, CRLF, and a lone CR.
        let crs = bytes
            .windows(2)
            .filter(|w| w[0] == b'\r' && w[1] != b'\n')
            .count()
            + usize::from(bytes.last() == Some(&b'\r'));
        let lines = (bytes.iter().filter(|&&b| b == b'\n').count() + crs) as u32 + 1;
        assert!(
            d.line >= 1 && d.line <= lines,
            "{d} (file has {lines} lines)"
        );
        assert!(d.column >= 1, "{d}");
        assert!(!d.message.is_empty());
    }
}

/// Characters that make YAML interesting.
fn yamlish() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select(vec![':', '-', ' ', '\n', '[', ']', '{', '}', ',', '&', '*', '!', '|', '>', '"', '\'', '#', '?', '<', '%', '@', '`', '\t', '.']),
        2 => prop::char::range('a', 'z'),
        1 => prop::char::range('0', '9'),
        1 => any::<char>(),
    ]
}

/// An edit to a seed document: (position as a fraction, characters to delete, text to insert).
fn edits() -> impl Strategy<Value = Vec<(f64, usize, String)>> {
    prop::collection::vec(
        (
            0.0..1.0f64,
            0usize..8,
            prop::collection::vec(yamlish(), 0..12).prop_map(|v| v.into_iter().collect()),
        ),
        1..6,
    )
}

fn mutate(seed: &str, edits: &[(f64, usize, String)]) -> Vec<u8> {
    let mut chars: Vec<char> = seed.chars().collect();
    for (at, del, ins) in edits {
        let i = ((chars.len() as f64) * at) as usize;
        let end = (i + del).min(chars.len());
        chars.splice(i..end, ins.chars());
    }
    chars.into_iter().collect::<String>().into_bytes()
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(vec![("x.yaml".into(), bytes)]);
    }

    #[test]
    fn yaml_like_noise_never_panics(text in prop::collection::vec(yamlish(), 0..400)) {
        check(vec![("x.yaml".into(), text.into_iter().collect::<String>().into_bytes())]);
    }

    #[test]
    fn mutated_valid_repos_never_panic(cluster in edits(), nodeclass in edits(), fleet in edits()) {
        check(vec![
            ("keelson.yaml".into(), mutate(FLEET, &fleet)),
            ("c/cluster.yaml".into(), mutate(AUTO_CLUSTER, &cluster)),
            ("c/nodeclass.yaml".into(), mutate(NODECLASS, &nodeclass)),
        ]);
    }
}
