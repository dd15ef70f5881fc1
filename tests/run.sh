#!/usr/bin/env bash
# keelson's full test suite: formatting, lints, and every test, including the tests
# against moto's EKS server (a third-party implementation of the EKS API).
#
#   tests/run.sh
#
# Needs a Rust toolchain and python3. It creates .venv/ (gitignored) with moto[server]
# and awscli from PyPI the first time, starts moto_server on a free loopback port for the
# duration of the run, and points the moto tests at it (KEELSON_MOTO_URL). A plain
# `cargo test` runs everything else and skips the moto tests.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
if [[ ! -x $VENV/bin/moto_server || ! -x $VENV/bin/aws ]]; then
    echo "==> installing moto[server] and awscli into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check 'moto[server]>=5' awscli
fi

port=$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"${TMPDIR:-/tmp}/keelson-moto-$port.log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    if "$VENV/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null; then
        break
    fi
    sleep 0.1
done
export KEELSON_MOTO_URL="http://127.0.0.1:$port"
export KEELSON_AWS_CLI="$PWD/$VENV/bin/aws"
echo "==> moto_server on $KEELSON_MOTO_URL"

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

echo "==> cargo test"
cargo test --all-targets
