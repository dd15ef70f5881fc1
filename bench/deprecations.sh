#!/usr/bin/env bash
# Deprecated-API scan benchmark: `keelson deprecations` over a generated corpus of manifest
# files, and side by side with kubernetes-validate (PyPI) on a subset of the same files.
#
#   bench/deprecations.sh
#
# Knobs (environment):
#   FILES=100000     corpus size (files)
#   SEED=1           gen-manifests seed
#   RUNS=5           timed keelson runs (after one warm-up run)
#   SUBSET=1000      files of the corpus given to kubernetes-validate (and to keelson again)
#   KV_RUNS=1        timed kubernetes-validate runs
#   TARGET=1.35      Kubernetes version both tools judge against
#   LARGE_MB=2       size of the large files the corpus is concatenated into
#
# Goals: >= 150,000 files/s over the corpus of small files with peak RSS < 100 MB, >= 200
# MB/s over the same documents in large files, on a 2-core machine; >= 20x faster than
# kubernetes-validate on the subset. The files are read from the page
# cache (the generator just wrote them; the warm-up run reads them again). Everything it
# writes goes to bench/out/ and .venv/ (both gitignored).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

FILES=${FILES:-100000}
SEED=${SEED:-1}
RUNS=${RUNS:-5}
SUBSET=${SUBSET:-1000}
KV_RUNS=${KV_RUNS:-1}
TARGET=${TARGET:-1.35}
LARGE_MB=${LARGE_MB:-2}

OUT=bench/out
CORPUS=$OUT/manifests-$FILES
SUB=$OUT/manifests-$FILES-subset-$SUBSET
VENV=.venv
KEELSON=target/release/keelson
GEN=target/release/examples/gen-manifests

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

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

# time_runs N LOGFILE CMD...: one run per line of LOGFILE (seconds); exit codes 0-3 are
# results, not failures.
time_runs() {
    local n=$1 file=$2
    shift 2
    : >"$file"
    for ((i = 1; i <= n; i++)); do
        local t0 t1 rc
        t0=$(now)
        set +e
        "$@" >/dev/null 2>&1
        rc=$?
        set -e
        t1=$(now)
        ((rc <= 3)) || die "$* failed with exit code $rc"
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }' >>"$file"
    done
}

mkdir -p "$OUT"

# ── 1. build ──────────────────────────────────────────────────────────────────────────
log "building keelson and gen-manifests (release)"
cargo build --release --quiet --bin keelson --example gen-manifests

# ── 2. corpus ─────────────────────────────────────────────────────────────────────────
if grep -qx "files=$FILES seed=$SEED" "$CORPUS/.gen-manifests" 2>/dev/null; then
    log "reusing $CORPUS ($FILES files, seed $SEED)"
else
    log "generating $FILES manifest files into $CORPUS (seed $SEED)"
    "$GEN" --files "$FILES" --seed "$SEED" --out "$CORPUS"
fi
# Let the kernel write the new files back first, so that the flush does not run during
# the timed runs.
sync

# ── 3. kubernetes-validate in a venv ──────────────────────────────────────────────────
if [[ ! -x $VENV/bin/python ]]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
fi
if [[ ! -x $VENV/bin/kubernetes-validate ]]; then
    log "installing kubernetes-validate into $VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check kubernetes-validate
fi
KV_VERSION=$("$VENV/bin/kubernetes-validate" --version | awk '{print $NF}')

# ── 4. keelson: correctness, then timing ──────────────────────────────────────────────
log "keelson deprecations $CORPUS --target-version $TARGET (must read every file)"
set +e
"$KEELSON" deprecations "$CORPUS" --target-version "$TARGET" --format json >"$OUT/deprecations.json"
rc=$?
set -e
read -r K_FILES K_BYTES K_DOCS K_OBJECTS K_REMOVED K_DEPRECATED K_ERRORS < <("$VENV/bin/python" -c '
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
print(s["files"], s["bytes"], s["documents"], s["objects"], s["removed"], s["deprecated"], s["errors"])' "$OUT/deprecations.json")
printf '    exit %s: %s files, %s bytes, %s documents, %s objects; %s removed, %s deprecated, %s errors\n' \
    "$rc" "$K_FILES" "$K_BYTES" "$K_DOCS" "$K_OBJECTS" "$K_REMOVED" "$K_DEPRECATED" "$K_ERRORS" >&2
[[ $K_FILES -eq $FILES ]] || die "keelson read $K_FILES files, expected $FILES"
[[ $rc -eq 3 && $K_REMOVED -gt 0 ]] || die "expected removed APIs (exit 3) in the generated corpus, got exit $rc"

log "timing keelson over the corpus: 1 warm-up + $RUNS runs"
"$KEELSON" deprecations "$CORPUS" --target-version "$TARGET" --format json >/dev/null || true
time_runs "$RUNS" "$OUT/deprecations-times.txt" \
    "$KEELSON" deprecations "$CORPUS" --target-version "$TARGET" --format json
printf '    runs (s): %s\n' "$(tr '\n' ' ' <"$OUT/deprecations-times.txt")" >&2
read -r K_BEST K_MEDIAN < <(stats <"$OUT/deprecations-times.txt")
MBPS_BEST=$(awk -v b="$K_BYTES" -v t="$K_BEST" 'BEGIN { printf "%.0f", b / 1e6 / t }')
MBPS_MEDIAN=$(awk -v b="$K_BYTES" -v t="$K_MEDIAN" 'BEGIN { printf "%.0f", b / 1e6 / t }')

K_RSS_MB="n/a"
if [[ -x /usr/bin/time ]] && /usr/bin/time -v true >/dev/null 2>&1; then
    set +e
    /usr/bin/time -v -o "$OUT/deprecations-time-v.txt" \
        "$KEELSON" deprecations "$CORPUS" --target-version "$TARGET" --format json >/dev/null
    set -e
    kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$OUT/deprecations-time-v.txt")
    K_RSS_MB=$(awk -v kb="$kb" 'BEGIN { printf "%.1f", kb / 1024 }')
fi

# ── 4b. the same documents in large files ─────────────────────────────────────────────
# Every file the scan read without error, concatenated in path order into files of about
# LARGE_MB MB (`---` between files): per-byte speed without per-file cost. The findings
# must be the same objects as over the small files.
LARGE=$OUT/manifests-$FILES-large-$LARGE_MB
log "concatenating the corpus into files of about $LARGE_MB MB in $LARGE"
rm -rf "$LARGE"
"$VENV/bin/python" - "$OUT/deprecations.json" "$CORPUS" "$LARGE" "$LARGE_MB" <<'PY'
import json, os, sys
report, corpus, out, mb = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
bad = {f["file"] for f in json.load(open(report))["findings"] if f["severity"] == "error"}
paths = []
for d, _, names in os.walk(corpus):
    for n in names:
        if n.endswith((".yaml", ".yml", ".json")):
            p = os.path.join(d, n)
            if p not in bad:
                paths.append(p)
paths.sort()
os.makedirs(out)
part, size, n = None, 0, 0
for p in paths:
    if part is None or size >= mb * 1e6:
        if part:
            part.close()
        part = open(os.path.join(out, "part-%04d.yaml" % n), "wb")
        size, n = 0, n + 1
    data = open(p, "rb").read()
    if not data.endswith(b"\n"):
        data += b"\n"
    part.write(b"---\n" + data)
    size += len(data) + 4
part.close()
PY
sync
set +e
"$KEELSON" deprecations "$LARGE" --target-version "$TARGET" --format json >"$OUT/deprecations-large.json"
set -e
read -r L_FILES L_BYTES L_OBJECTS L_REMOVED L_ERRORS < <("$VENV/bin/python" -c '
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
print(s["files"], s["bytes"], s["objects"], s["removed"], s["errors"])' "$OUT/deprecations-large.json")
[[ $L_ERRORS -eq 0 && $L_REMOVED -eq $K_REMOVED ]] ||
    die "large files: $L_REMOVED removed and $L_ERRORS errors, expected $K_REMOVED removed and no error"
log "timing keelson over $L_FILES large files: 1 warm-up + $RUNS runs"
"$KEELSON" deprecations "$LARGE" --target-version "$TARGET" --format json >/dev/null || true
time_runs "$RUNS" "$OUT/deprecations-large-times.txt" \
    "$KEELSON" deprecations "$LARGE" --target-version "$TARGET" --format json
read -r L_BEST L_MEDIAN < <(stats <"$OUT/deprecations-large-times.txt")
L_MBPS=$(awk -v b="$L_BYTES" -v t="$L_MEDIAN" 'BEGIN { printf "%.0f", b / 1e6 / t }')

# ── 5. the subset, both tools ─────────────────────────────────────────────────────────
log "copying the first $SUBSET files (sorted by path) into $SUB"
rm -rf "$SUB"
mkdir -p "$SUB"
# (A file, not a pipe into head: under pipefail, head closing the pipe fails the pipeline.)
(cd "$CORPUS" && find . -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' \)) |
    LC_ALL=C sort >"$OUT/manifests-all.txt"
while read -r rel; do
    mkdir -p "$SUB/$(dirname "$rel")"
    cp "$CORPUS/$rel" "$SUB/$rel"
done < <(awk -v n="$SUBSET" 'NR <= n' "$OUT/manifests-all.txt")
mapfile -t SUB_FILES < <(cd "$SUB" && find . -type f | LC_ALL=C sort)
SUB_BYTES=$(cd "$SUB" && cat "${SUB_FILES[@]}" | wc -c)

log "timing keelson on the subset: 1 warm-up + $RUNS runs"
"$KEELSON" deprecations "$SUB" --target-version "$TARGET" --format json >/dev/null || true
time_runs "$RUNS" "$OUT/deprecations-subset-times.txt" \
    "$KEELSON" deprecations "$SUB" --target-version "$TARGET" --format json
read -r S_BEST S_MEDIAN < <(stats <"$OUT/deprecations-subset-times.txt")

log "timing kubernetes-validate $KV_VERSION -k $TARGET on the subset: $KV_RUNS run(s)"
: >"$OUT/kubernetes-validate-times.txt"
for ((i = 1; i <= KV_RUNS; i++)); do
    t0=$(now)
    set +e
    (cd "$SUB" && "$OLDPWD/$VENV/bin/kubernetes-validate" -k "$TARGET" --quiet "${SUB_FILES[@]}") \
        >"$OUT/kubernetes-validate.log" 2>&1
    rc=$?
    set -e
    t1=$(now)
    ((rc <= 1)) || die "kubernetes-validate failed with exit code $rc (see $OUT/kubernetes-validate.log)"
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }' >>"$OUT/kubernetes-validate-times.txt"
done
KV_WARN_REMOVED=$(grep -c "Couldn't find schema" "$OUT/kubernetes-validate.log" || true)
read -r V_BEST V_MEDIAN < <(stats <"$OUT/kubernetes-validate-times.txt")
set +e
"$KEELSON" deprecations "$SUB" --target-version "$TARGET" --format json >"$OUT/deprecations-subset.json"
set -e
read -r S_REMOVED S_DEPRECATED S_ERRORS < <("$VENV/bin/python" -c '
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
print(s["removed"], s["deprecated"], s["errors"])' "$OUT/deprecations-subset.json")

# ── 6. report ─────────────────────────────────────────────────────────────────────────
verdict() { awk -v v="$1" -v op="$2" -v goal="$3" 'BEGIN {
    ok = (op == "<=") ? (v <= goal) : (v >= goal); print ok ? "ok" : "MISSED" }'; }
row() { printf '%-52s %s\n' "$1" "$2"; }
RATIO=$(awk -v a="$V_MEDIAN" -v b="$S_MEDIAN" 'BEGIN { printf "%.0f", a / b }')

echo
echo "Deprecated-API scan benchmark: $FILES files (seed $SEED), target $TARGET, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
row "corpus" "$K_FILES files, $(awk -v b="$K_BYTES" 'BEGIN { printf "%.1f MB", b / 1e6 }'), $K_DOCS documents, $K_OBJECTS objects"
row "found" "$K_REMOVED removed, $K_DEPRECATED deprecated, $K_ERRORS errors (unrendered templates)"
row "keelson deprecations (best / median of $RUNS)" "$K_BEST s / $K_MEDIAN s"
row "throughput (best / median)" "$MBPS_BEST MB/s / $MBPS_MEDIAN MB/s"
FPS=$(awk -v n="$K_FILES" -v t="$K_MEDIAN" 'BEGIN { printf "%.0f", n / t }')
row "files per second (median)" "$FPS   [goal >= 150000: $(verdict "$FPS" '>=' 150000)]"
row "keelson peak RSS" "$K_RSS_MB MiB   [goal < 100: $(verdict "$K_RSS_MB" '<=' 100)]"
row "large files" "$L_FILES files, $(awk -v b="$L_BYTES" 'BEGIN { printf "%.1f MB", b / 1e6 }'), $L_OBJECTS objects, $L_REMOVED removed (same as above)"
row "keelson on large files (best / median of $RUNS)" "$L_BEST s / $L_MEDIAN s: $L_MBPS MB/s   [goal >= 200 MB/s: $(verdict "$L_MBPS" '>=' 200)]"
row "subset" "${#SUB_FILES[@]} files, $(awk -v b="$SUB_BYTES" 'BEGIN { printf "%.2f MB", b / 1e6 }')"
row "keelson on the subset (best / median of $RUNS)" "$S_BEST s / $S_MEDIAN s ($S_REMOVED removed, $S_DEPRECATED deprecated, $S_ERRORS errors)"
row "kubernetes-validate $KV_VERSION (best / median of $KV_RUNS)" "$V_BEST s / $V_MEDIAN s ($KV_WARN_REMOVED \"Couldn't find schema\" warnings)"
row "speed-up vs kubernetes-validate" "${RATIO}x   [goal >= 20x: $(verdict "$RATIO" '>=' 20)]"
