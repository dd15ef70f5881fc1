#!/usr/bin/env bash
# Plan benchmark: `keelson plan` for a generated fleet against a simulator that holds it.
#
#   bench/plan.sh
#
# It generates a fleet (gen-fleet), applies it to a fresh simulator state once (timed,
# reported, not the benchmark), then times:
#   - a no-op plan (the simulator matches the repo),
#   - a plan after one field of one cluster changed in git (one step expected).
# Knobs: CLUSTERS=1000, RUNS=5, SEED=1, KEELSON_TODAY=2026-11-23.
# Goal: the one-change plan in <= 1 s for 1,000 clusters on this 2-core machine.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

CLUSTERS=${CLUSTERS:-1000}
RUNS=${RUNS:-5}
SEED=${SEED:-1}
export KEELSON_TODAY=${KEELSON_TODAY:-2026-11-23}
OUT=bench/out
FLEET=$OUT/plan-fleet-$CLUSTERS
STATE=$OUT/plan-sim-$CLUSTERS.json
KEELSON=target/release/keelson

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
now() { if [[ -n ${EPOCHREALTIME:-} ]]; then printf '%s\n' "${EPOCHREALTIME/,/.}"; else date +%s.%N; fi; }
stats() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR % 2) med = v[(NR + 1) / 2]; else med = (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.3f %.3f\n", v[1], med }'
}

mkdir -p "$OUT"
log "building (release)"
cargo build --release --quiet --bin keelson --example gen-fleet

log "generating $CLUSTERS clusters into $FLEET"
rm -rf "$FLEET" "$STATE"
target/release/examples/gen-fleet --clusters "$CLUSTERS" --seed "$SEED" --out "$FLEET" >/dev/null
docs=$("$KEELSON" validate --repo "$FLEET" --format json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["documents"]) if r["valid"] else sys.exit("generated fleet is invalid")')

log "creating the fleet in the simulator (instant time)"
t0=$(now)
"$KEELSON" apply --repo "$FLEET" --state "$STATE" --auto-approve --sim-speed instant --concurrency 64 >"$OUT/plan-apply.log" 2>&1 \
    || { tail -20 "$OUT/plan-apply.log"; die "apply failed"; }
t1=$(now)
setup=$(echo "$t1 - $t0" | bc -l)
state_mb=$(du -m "$STATE" | cut -f1)

time_plan() { # expected exit code, then a label
    local want=$1 label=$2 times=()
    "$KEELSON" plan --repo "$FLEET" --state "$STATE" --detailed-exitcode >"$OUT/plan-$label.txt" 2>&1 || true
    for _ in $(seq "$RUNS"); do
        local s e code=0
        s=$(now)
        "$KEELSON" plan --repo "$FLEET" --state "$STATE" --detailed-exitcode >"$OUT/plan-$label.txt" 2>&1 || code=$?
        e=$(now)
        [[ $code == "$want" ]] || { cat "$OUT/plan-$label.txt" | tail -20; die "$label plan exited $code, expected $want"; }
        times+=("$(echo "$e - $s" | bc -l)")
    done
    printf '%s\n' "${times[@]}" | stats
}

log "validate x$RUNS (the yardstick for the no-op plan)"
vtimes=()
"$KEELSON" validate --repo "$FLEET" >/dev/null 2>&1 || die "the generated fleet does not validate"
for _ in $(seq "$RUNS"); do
    s=$(now)
    "$KEELSON" validate --repo "$FLEET" >/dev/null 2>&1
    e=$(now)
    vtimes+=("$(echo "$e - $s" | bc -l)")
done
read -r val_best val_med < <(printf '%s\n' "${vtimes[@]}" | stats)

log "no-op plan x$RUNS"
read -r noop_best noop_med < <(time_plan 0 noop)
ratio=$(awk -v a="$noop_med" -v b="$val_med" 'BEGIN { printf "%.2f", a / b }')

# One field of one cluster: the max size of the first node group found, else a log type.
target=$(grep -rl "kind: NodeGroup" "$FLEET/clusters" | sort | head -1)
[[ -n $target ]] || die "no node group in the generated fleet"
python3 - "$target" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
m = re.search(r"maxSize: (\d+)", s)
s = s[:m.start()] + f"maxSize: {int(m.group(1)) + 1}" + s[m.end():]
open(p, "w").write(s)
PY
log "one-change plan x$RUNS ($target)"
read -r one_best one_med < <(time_plan 2 one)
steps=$(grep -c '^  [~+-]' "$OUT/plan-one.txt" || true)
summary=$(grep '^Plan:' "$OUT/plan-one.txt")

rss="n/a"
if [[ -x /usr/bin/time ]]; then
    rss=$( { /usr/bin/time -v "$KEELSON" plan --repo "$FLEET" --state "$STATE" >/dev/null 2>/dev/null; } 2>&1 | awk '/Maximum resident/ {printf "%.0f MiB", $6/1024}' )
    [[ -n $rss ]] || rss=$( (/usr/bin/time -v "$KEELSON" plan --repo "$FLEET" --state "$STATE" >/dev/null) 2>&1 | awk '/Maximum resident/ {printf "%.0f MiB", $6/1024}')
fi

cat <<TABLE

plan benchmark ($CLUSTERS clusters, $docs documents, simulator state ${state_mb} MB, $(nproc) cores)
  fleet created in the simulator:   $(printf '%.1f' "$setup") s (setup, not the benchmark)
  validate (same fleet):            best $val_best s, median $val_med s
  no-op plan:                       best $noop_best s, median $noop_med s = ${ratio}x validate   (goal <= 1.5x)
  one-change plan:                  best $one_best s, median $one_med s   (goal <= 1 s)
    $summary ($steps step line(s))
  peak RSS of a plan:               $rss   (goal <= 80 MiB)
TABLE
