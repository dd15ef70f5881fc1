#!/usr/bin/env bash
# keelson's full test suite: formatting, lints, and every test.
# Usage: tests/run.sh        (from anywhere; needs only a Rust toolchain)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

echo "==> cargo test"
cargo test --all-targets
