#!/usr/bin/env bash
# Validation benchmark: `keelson validate` on a generated fleet, side by side with
# check-jsonschema validating the same keelson documents against schemas/*.schema.json.
#
#   bench/validate.sh
#
# Knobs (environment):
#   CLUSTERS=1000       fleet size
#   SEED=1              gen-fleet seed
#   RUNS=5              timed keelson runs (after one warm-up run)
#   CJS_RUNS=1          timed check-jsonschema sweeps over all kinds
#   SPLIT_FORMATS="yaml json"   formats of the single-document files fed to check-jsonschema;
#                       each is timed and compared separately
#   KEELSON_TODAY=2026-11-23   the day the version calendar is evaluated on
#
# Goal: keelson <= 0.5 s for 1,000 clusters on a 2-core machine, and >= 30x faster than
# check-jsonschema. Everything it writes goes to bench/out/ and .venv/ (both gitignored).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

CLUSTERS=${CLUSTERS:-1000}
SEED=${SEED:-1}
RUNS=${RUNS:-5}
CJS_RUNS=${CJS_RUNS:-1}
SPLIT_FORMATS=${SPLIT_FORMATS:-yaml json}
TODAY=${KEELSON_TODAY:-2026-11-23}

OUT=bench/out
FLEET=$OUT/fleet-$CLUSTERS
SPLIT=$OUT/split-$CLUSTERS
VENV=.venv
KEELSON=target/release/keelson
GEN=target/release/examples/gen-fleet

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Seconds since the epoch with microseconds; bash 5 has it built in, so no process is
# started around the timed command.
now() {
    if [[ -n ${EPOCHREALTIME:-} ]]; then
        printf '%s\n' "${EPOCHREALTIME/,/.}"
    else
        date +%s.%N
    fi
}

# min and median of the numbers on stdin, one per line
stats() {
    sort -g | awk '{ v[NR] = $1 }
        END {
            if (NR % 2) med = v[(NR + 1) / 2]; else med = (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.4f %.4f\n", v[1], med
        }'
}

mkdir -p "$OUT"

# ── 1. build ──────────────────────────────────────────────────────────────────────────
log "building keelson and gen-fleet (release)"
cargo build --release --quiet --bin keelson --example gen-fleet

# ── 2. generate the fleet ─────────────────────────────────────────────────────────────
log "generating a $CLUSTERS-cluster fleet into $FLEET (seed $SEED)"
"$GEN" --clusters "$CLUSTERS" --seed "$SEED" --out "$FLEET" --force >&2

# ── 3. check-jsonschema in a venv ─────────────────────────────────────────────────────
if [[ ! -x $VENV/bin/python ]]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
fi
if [[ ! -x $VENV/bin/check-jsonschema ]]; then
    log "installing check-jsonschema into $VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check check-jsonschema
fi
CJS_VERSION=$("$VENV/bin/check-jsonschema" --version | awk '{print $NF}')

# ── 4. keelson: correctness, then timing ──────────────────────────────────────────────
log "keelson validate --repo $FLEET (must be valid, no warnings)"
set +e
SUMMARY=$("$KEELSON" --today "$TODAY" validate --repo "$FLEET" | tail -n 1)
rc=${PIPESTATUS[0]}
set -e
printf '    %s\n' "$SUMMARY" >&2
[[ $rc -eq 0 && $SUMMARY == valid:* ]] || die "keelson did not find the generated fleet valid (exit $rc)"
[[ $SUMMARY == *"(0 warnings)" ]] || log "note: the fleet has warnings (see above)"
KEELSON_DOCS=$(sed -E 's/.* ([0-9]+) documents?.*/\1/' <<<"$SUMMARY")
KEELSON_FILES=$(sed -E 's/^valid: ([0-9]+) files?.*/\1/' <<<"$SUMMARY")

log "timing keelson: 1 warm-up + $RUNS runs"
if command -v hyperfine >/dev/null 2>&1; then
    hyperfine --style basic --warmup 1 --runs "$RUNS" \
        --export-json "$OUT/keelson-hyperfine.json" \
        "$KEELSON --today $TODAY validate --repo $FLEET" >&2
    read -r K_BEST K_MEDIAN < <("$VENV/bin/python" -c '
import json, statistics, sys
t = json.load(open(sys.argv[1]))["results"][0]["times"]
print(f"{min(t):.4f} {statistics.median(t):.4f}")' "$OUT/keelson-hyperfine.json")
else
    "$KEELSON" --today "$TODAY" validate --repo "$FLEET" >/dev/null
    : >"$OUT/keelson-times.txt"
    for ((i = 1; i <= RUNS; i++)); do
        t0=$(now)
        "$KEELSON" --today "$TODAY" validate --repo "$FLEET" >/dev/null
        t1=$(now)
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }' >>"$OUT/keelson-times.txt"
    done
    printf '    runs (s): %s\n' "$(tr '\n' ' ' <"$OUT/keelson-times.txt")" >&2
    read -r K_BEST K_MEDIAN < <(stats <"$OUT/keelson-times.txt")
fi

K_RSS="n/a"
if [[ -x /usr/bin/time ]] && /usr/bin/time -v true >/dev/null 2>&1; then
    /usr/bin/time -v -o "$OUT/keelson-time-v.txt" \
        "$KEELSON" --today "$TODAY" validate --repo "$FLEET" >/dev/null
    kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$OUT/keelson-time-v.txt")
    K_RSS=$(awk -v kb="$kb" 'BEGIN { printf "%.1f MiB", kb / 1024 }')
fi

# ── 5. split the keelson documents, one file each (not timed) ─────────────────────────
log "splitting keelson documents into $SPLIT/{${SPLIT_FORMATS// /,}} (not timed)"
fmt_args=()
for fmt in $SPLIT_FORMATS; do fmt_args+=(--format "$fmt"); done
"$VENV/bin/python" bench/split_docs.py "$FLEET" "$SPLIT" "${fmt_args[@]}" >&2

# ── 6. check-jsonschema, one invocation per kind ──────────────────────────────────────
CJS_DOCS=0
CJS_FAILED=()
declare -A C_BEST C_MEDIAN
for fmt in $SPLIT_FORMATS; do
    log "timing check-jsonschema $CJS_VERSION on $fmt files: $CJS_RUNS sweep(s) over every kind"
    times=$OUT/cjs-times-$fmt.txt
    : >"$times"
    for ((r = 1; r <= CJS_RUNS; r++)); do
        sweep=0
        docs=0
        for dir in "$SPLIT/$fmt"/*/; do
            kind=$(basename "$dir")
            schema=schemas/$kind.schema.json
            [[ -f $schema ]] || die "no schema $schema for $dir"
            files=("$dir"*."$fmt")
            logf=$OUT/cjs-$fmt-$kind.log
            set +e
            t0=$(now)
            "$VENV/bin/check-jsonschema" --schemafile "$schema" "${files[@]}" >"$logf" 2>&1
            rc=$?
            t1=$(now)
            set -e
            dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
            sweep=$(awk -v s="$sweep" -v d="$dt" 'BEGIN { printf "%.4f", s + d }')
            docs=$((docs + ${#files[@]}))
            if ((r == 1)); then
                if [[ $rc -ne 0 ]] || ! grep -q '^ok -- validation done' "$logf"; then
                    CJS_FAILED+=("$fmt/$kind (exit $rc, see $logf)")
                fi
                printf '    %-24s %6d files  %7.3f s  %s\n' "$kind" "${#files[@]}" "$dt" \
                    "$(tail -n 1 "$logf")" >&2
            fi
        done
        CJS_DOCS=$docs
        printf '%s\n' "$sweep" >>"$times"
    done
    read -r C_BEST[$fmt] C_MEDIAN[$fmt] < <(stats <"$times")
done

# ── 7. report ─────────────────────────────────────────────────────────────────────────
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", a / b }'; }
verdict() { awk -v v="$1" -v op="$2" -v goal="$3" 'BEGIN {
    ok = (op == "<=") ? (v <= goal) : (v >= goal); print ok ? "ok" : "MISSED" }'; }
row() { printf '%-44s %s\n' "$1" "$2"; }

echo
echo "Validation benchmark: $CLUSTERS clusters (seed $SEED), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
row "fleet" "$KEELSON_FILES files, $KEELSON_DOCS documents ($CJS_DOCS of keelson's kinds, the rest workload manifests)"
row "documents validated: keelson" "$KEELSON_DOCS (schemas + rules for $CJS_DOCS; apiVersion/kind for the rest)"
row "documents validated: check-jsonschema" "$CJS_DOCS (schemas only; one file per document, one run per kind)"
FLEET_BYTES=$(find "$FLEET" -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' \) -print0 | xargs -0 cat | wc -c)
GOAL_S=$(awk -v b="$FLEET_BYTES" 'BEGIN { printf "%.3f", b / 50e6 }')
row "YAML read" "$(awk -v b="$FLEET_BYTES" 'BEGIN { printf "%.2f MB", b / 1e6 }')"
row "keelson validate (best / median of $RUNS)" "$K_BEST s / $K_MEDIAN s: $(awk -v b="$FLEET_BYTES" -v t="$K_MEDIAN" 'BEGIN { printf "%.1f MB/s", b / 1e6 / t }')   [goal >= 50 MB/s, <= $GOAL_S s: $(verdict "$K_MEDIAN" '<=' "$GOAL_S")]"
for fmt in $SPLIT_FORMATS; do
    row "check-jsonschema $CJS_VERSION, $fmt files" "${C_BEST[$fmt]} s / ${C_MEDIAN[$fmt]} s (best / median of $CJS_RUNS; sum over kinds)"
done
for fmt in $SPLIT_FORMATS; do
    speedup=$(ratio "${C_MEDIAN[$fmt]}" "$K_MEDIAN")
    if [[ $fmt == json ]]; then
        row "speed-up vs check-jsonschema, $fmt files" "$speedup   [goal >= 60x: $(verdict "${speedup%x}" '>=' 60)]"
    else
        row "speed-up vs check-jsonschema, $fmt files" "$speedup"
    fi
done
if [[ $K_RSS == n/a ]]; then
    row "keelson peak RSS" "$K_RSS"
else
    row "keelson peak RSS" "$K_RSS = $(awk -v r="${K_RSS% MiB}" -v b="$FLEET_BYTES" 'BEGIN { printf "%.1f", r * 1048576 / b }')x the YAML read   [goal <= 4x: $(verdict "$(awk -v r="${K_RSS% MiB}" -v b="$FLEET_BYTES" 'BEGIN { printf "%.2f", r * 1048576 / b }')" '<=' 4)]"
fi

if ((${#CJS_FAILED[@]})); then
    echo
    echo "check-jsonschema did NOT report these as valid:"
    printf '  %s\n' "${CJS_FAILED[@]}"
    exit 1
fi
