#!/usr/bin/env bash
# AWS fan-out and rate-limit benchmark: a no-op `keelson plan --target aws` of CLUSTERS
# clusters (default 1,000) against the concurrent stub EKS endpoint (examples/stub-eks.rs),
# which answers every request after LATENCY_MS (default 50) with no limit on concurrency.
#
#   bench/aws-fanout.sh          (CLUSTERS=1000 CONCURRENCY=16 LATENCY_MS=50 LIMIT=10)
#   LIMIT_CLUSTERS=100 bench/aws-fanout.sh    (a smaller fleet for the rate-limited run:
#                                              1,000 clusters at 10/s take about 21 minutes)
#   PROFILE=debug bench/aws-fanout.sh         (no release build; keelson's own time grows)
#
# 1. unlimited stub: wall time vs the ideal  calls / concurrency x latency  (goal <= 1.25);
# 2. stub enforcing LIMIT requests/s (429 ThrottlingException above it), keelson's limiter
#    at the same rate: throttled calls (goal 0) and wall vs  calls / LIMIT  (goal <= 1.1).
# Both plans must exit 0 with --detailed-exitcode (no changes) and make no write call.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CLUSTERS=${CLUSTERS:-1000}
CONCURRENCY=${CONCURRENCY:-16}
LATENCY_MS=${LATENCY_MS:-50}
LIMIT=${LIMIT:-10}
LIMIT_CLUSTERS=${LIMIT_CLUSTERS:-$CLUSTERS}
PROFILE=${PROFILE:-release}
OUT=bench/out/aws-fanout-$CLUSTERS
KEELSON=target/$PROFILE/keelson
STUB=target/$PROFILE/examples/stub-eks

if [[ $PROFILE == release ]]; then
    cargo build --release --quiet --bin keelson --example stub-eks
else
    cargo build --quiet --bin keelson --example stub-eks
fi
rm -rf "$OUT"; mkdir -p "$OUT"

stub_pid=
stop_stub() {
    if [[ -n $stub_pid ]]; then kill "$stub_pid" 2>/dev/null || true; wait "$stub_pid" 2>/dev/null || true; fi
    stub_pid=
}
trap stop_stub EXIT

# start_stub N ARGS...: starts the stub for N clusters on a free port, sets $url and $repo
start_stub() {
    local n=$1; shift
    repo=$OUT/repo-$n
    "$STUB" --clusters "$n" --repo "$repo" --latency-ms "$LATENCY_MS" "$@" >"$OUT/stub.out" 2>&1 &
    stub_pid=$!
    for _ in $(seq 100); do
        url=$(sed -n 's/^listening on //p' "$OUT/stub.out")
        [[ -n $url ]] && return 0
        sleep 0.1
    done
    echo "the stub did not start"; cat "$OUT/stub.out"; exit 1
}

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 \
    AWS_EC2_METADATA_DISABLED=true KEELSON_TODAY=2026-11-23

# run_plan NAME: a no-op plan against $url, timed; prints the wall seconds
run_plan() {
    local name=$1 s e code=0
    s=$(date +%s.%N)
    AWS_ENDPOINT_URL_EKS=$url AWS_ENDPOINT_URL_STS=$url KEELSON_STATS=1 \
        "$KEELSON" plan --repo "$repo" --target aws --concurrency "$CONCURRENCY" --detailed-exitcode \
        >"$OUT/$name.txt" 2>"$OUT/$name.err" || code=$?
    e=$(date +%s.%N)
    if [[ $code -ne 0 ]]; then
        echo "plan ($name) exited $code, expected 0 (no changes)" >&2
        tail -20 "$OUT/$name.txt" "$OUT/$name.err" >&2
        exit 1
    fi
    curl -sf "$url/_stub/stats" >"$OUT/$name.stats.json"
    echo "$e - $s" | bc -l
}

echo "==> $CLUSTERS clusters, concurrency $CONCURRENCY, latency ${LATENCY_MS} ms: unlimited stub" >&2
start_stub "$CLUSTERS"
KEELSON_EKS_RATE=10000 KEELSON_EKS_BURST=10000 run_plan warmup >/dev/null
stop_stub; start_stub "$CLUSTERS"
wall_free=$(KEELSON_EKS_RATE=10000 KEELSON_EKS_BURST=10000 run_plan free)
stop_stub

echo "==> $LIMIT_CLUSTERS clusters, the stub enforcing $LIMIT requests/s, keelson's limiter at $LIMIT/s" >&2
start_stub "$LIMIT_CLUSTERS" --rate "$LIMIT" --burst "$LIMIT"
# A burst of half the server's: the client's clock and the server's differ by the network's
# jitter, and the server's bucket keeps that much slack.
wall_limited=$(KEELSON_EKS_RATE=$LIMIT KEELSON_EKS_BURST=$(( (LIMIT + 1) / 2 )) run_plan limited)
stop_stub

python3 - "$OUT" "$wall_free" "$wall_limited" "$CONCURRENCY" "$LATENCY_MS" "$LIMIT" "$CLUSTERS" "$LIMIT_CLUSTERS" "$PROFILE" <<'PY'
import json, os, sys
out, free, limited, conc, lat, limit, n, ln, profile = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]) / 1000, float(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8]), sys.argv[9]
fail = []
def stats(name):
    return json.load(open(f"{out}/{name}.stats.json"))
for name in ("free", "limited"):
    s = stats(name)
    if s["writes"]:
        fail.append(f"{name}: the no-op plan made {s['writes']} write calls")
f, l = stats("free"), stats("limited")
calls = f["total"] - f["calls"].get("sts", 0)
ideal = calls / conc * lat
lcalls = l["total"] - l["calls"].get("sts", 0)
print(f"\naws fan-out benchmark ({profile} build): {n} clusters, concurrency {conc}, stub latency {lat * 1000:.0f} ms, load average {os.getloadavg()[0]:.2f}")
print(f"  EKS calls of one no-op plan: {calls} ({calls / n:.2f} per cluster)")
for k in sorted(f["calls"]):
    print(f"    {k:32s} {f['calls'][k]:6d}  {f['calls'][k] / n:5.2f}/cluster")
print(f"  unlimited: wall {free:.2f} s, ideal (calls / concurrency x latency) {ideal:.2f} s, ratio {free / ideal:.2f} (goal <= 1.25)")
print(f"  {ln} clusters limited to {limit:g}/s: {lcalls} calls, wall {limited:.2f} s, calls / limit {lcalls / limit:.2f} s, ratio {limited / (lcalls / limit):.3f} (goal <= 1.1), throttled {l['throttled']} (goal 0)")
if fail:
    sys.exit("; ".join(fail))
PY
