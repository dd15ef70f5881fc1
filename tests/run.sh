#!/usr/bin/env bash
# keelson's full test suite: formatting, lints, and every test, including the tests
# against moto's EKS server (a third-party implementation of the EKS API) and against a
# real Kubernetes API server.
#
#   tests/run.sh
#
# Needs a Rust toolchain, python3, go, openssl and curl. It creates .venv/ (gitignored)
# with moto[server] and awscli from PyPI the first time, starts moto_server on a free
# loopback port for the duration of the run, and points the moto tests at it
# (KEELSON_MOTO_URL). tests/k8s/with-apiserver.sh builds kube-apiserver and etcd from their
# Go modules (cached in ~/.cache/keelson/k8s/), runs them on loopback ports for `cargo
# test`, and points the real-server tests at them (KEELSON_KUBECONFIG). A plain
# `cargo test` runs everything else and skips both.
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

# Build the API server first (a cold build takes long), so that a failing build stops the
# run before the Rust build and tests.
tests/k8s/with-apiserver.sh --build-only

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

echo "==> cargo test (with a real kube-apiserver)"
tests/k8s/with-apiserver.sh cargo test --all-targets

echo "==> the README's commands, followed in order in a fresh copy"
python3 tests/readme.py
