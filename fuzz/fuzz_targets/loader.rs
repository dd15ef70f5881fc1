//! Fuzz keelson's config loader (YAML, schemas, rules) on one file of arbitrary bytes,
//! alone or beside a valid Fleet and Auto Mode Cluster (from `examples/fleet`): no panic, and every diagnostic
//! names a file it was given, at a line inside that file, with a message.

#![no_main]

use keelson::config::{self, LoadOptions, SourceFile};
use keelson::versions::Date;
use libfuzzer_sys::fuzz_target;

// A real fleet and one of its Auto Mode clusters, from the examples.
const FLEET: &str = include_str!("../../examples/fleet/keelson.yaml");
const CLUSTER: &str = include_str!("../../examples/fleet/clusters/staging-apne1/cluster.yaml");

fn file(rel: &str, bytes: &[u8]) -> SourceFile {
    SourceFile {
        display: rel.to_string(),
        rel: rel.to_string(),
        bytes: bytes.to_vec(),
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the layout, so one corpus explores both: the input as a file
    // inside a valid cluster's directory (where every kind is in scope), or as the
    // repository's only file (where it may be the Fleet or a Cluster itself).
    let Some((&layout, input)) = data.split_first() else {
        return;
    };
    let files = if layout % 2 == 0 {
        vec![
            file("keelson.yaml", FLEET.as_bytes()),
            file("clusters/staging-apne1/cluster.yaml", CLUSTER.as_bytes()),
            file("clusters/staging-apne1/input.yaml", input),
        ]
    } else {
        vec![file("input.yaml", input)]
    };
    let loaded = config::load(&files, &LoadOptions::new(Date::new(2026, 11, 29)));
    for d in &loaded.diagnostics {
        let Some(src) = files.iter().find(|f| f.display == d.file) else {
            panic!("diagnostic names a file it was not given: {d}");
        };
        let lines = config::fuzzing::line_count(&src.bytes);
        assert!(
            d.line >= 1 && d.line <= lines,
            "{d} (file has {lines} lines)"
        );
        assert!(d.column >= 1, "{d}");
        assert!(!d.message.is_empty(), "{d}");
    }
});
