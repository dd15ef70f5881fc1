//! Fuzz keelson's YAML reader: no input makes it panic, loop or allocate without bound,
//! and every position it reports (of a value, a key or an error) lies inside the text.

#![no_main]

use keelson::config::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The reader takes text; the loader turns bytes into text (and refuses what is not
    // UTF-8) before it, which the loader target covers.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = fuzzing::line_count(text.as_bytes());
    let chars = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
    for pos in fuzzing::yaml_positions(text) {
        assert!(
            pos.line >= 1 && pos.line <= lines,
            "line {} outside a text of {lines} lines",
            pos.line
        );
        assert!(
            pos.col >= 1 && pos.col <= chars.saturating_add(1),
            "column {} in a text of {chars} characters",
            pos.col
        );
    }
});
