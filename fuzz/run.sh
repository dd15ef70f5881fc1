#!/usr/bin/env bash
# Run keelson's fuzz targets: seed each corpus from the examples and tests, then fuzz each
# target for SECONDS (default 600) on one core. Needs a nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz`). Crashes land in fuzz/artifacts/<target>/.
#
#   fuzz/run.sh            # both targets, 10 minutes each
#   fuzz/run.sh 60 yaml    # one target, one minute
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
shift || true
targets=("${@:-yaml loader}")
read -r -a targets <<<"${targets[*]}"

# seed TARGET TAG PREFIX: every YAML file of the examples and tests, PREFIX first.
seed() {
  local dir="corpus/$1" n=0
  mkdir -p "$dir"
  while IFS= read -r -d '' f; do
    n=$((n + 1))
    { printf '%b' "$3"; cat "$f"; } >"$dir/seed-$2-$n"
  done < <(find ../examples ../tests -name '*.yaml' -size -64k -print0)
}

for t in "${targets[@]}"; do
  case "$t" in
    yaml) seed yaml plain "" ;;
    # The loader's first byte picks the layout: even = beside a valid cluster.
    loader) seed loader beside '\x00'; seed loader alone '\x01' ;;
    *) echo "unknown target: $t (yaml, loader)" >&2; exit 2 ;;
  esac
  cargo +nightly fuzz run "$t" "corpus/$t" -- \
    -dict=yaml.dict -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1
done
