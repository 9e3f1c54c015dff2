#!/usr/bin/env bash
# kazasu's fuzz campaign: runs each fuzz target (fuzz/) to 10 million executions, or to a time
# cap for the slow ones, one after the other, keeping the corpus it grows under
# target/fuzz-corpus/<target>, and prints a Markdown table of what it did (docs/design/fuzzing.md's table
# is this output). Crashes land in target/fuzz-artifacts/<target>/.
#
#   ci/fuzz-campaign.sh                       every target, 10M executions, 40 min cap each
#   RUNS=1000000 CAP=300 ci/fuzz-campaign.sh card_os frames
#
# Needs cargo-fuzz (installed when missing) and a nightly toolchain (or stable with
# RUSTC_BOOTSTRAP=1, which the scripts use when no nightly is installed).
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/fuzz-lib.sh
RUNS="${RUNS:-10000000}"
CAP="${CAP:-2400}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${FUZZ_TARGETS[@]}")
ensure_cargo_fuzz
mkdir -p target/fuzz-logs
rows=()
for t in "${targets[@]}"; do
    log="target/fuzz-logs/$t.log"
    echo "== $t: up to $RUNS executions or $CAP s" >&2
    started=$(date +%s)
    status=ok
    fuzz_run "$t" "$CAP" "target/fuzz-corpus/$t" -runs="$RUNS" >"$log" 2>&1 || status=crash
    took=$(($(date +%s) - started))
    execs=$( (grep -a 'stat::number_of_executed_units' "$log" || true) | tail -n 1 | awk '{print $2}')
    done_line=$( (grep -a -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE)' "$log" || true) | tail -n 1)
    edges=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' <<<"$done_line")
    corpus=$( (find "target/fuzz-corpus/$t" "fuzz/corpus/$t" -type f 2>/dev/null || true) | wc -l)
    crashes=$( (find "target/fuzz-artifacts/$t" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) 2>/dev/null || true) | wc -l)
    rows+=("| \`$t\` | ${execs:-0} | ${took} s | $corpus | ${edges:-?} | $crashes | \`RUNS=$RUNS CAP=$CAP ci/fuzz-campaign.sh $t\` |")
    echo "   $t: ${execs:-0} executions in $took s, $corpus inputs, ${edges:-?} edges, $crashes crash files ($status)" >&2
done
echo "| target | executions | time | corpus | edges | crashes open | command |"
echo "|---|---:|---:|---:|---:|---:|---|"
printf '%s\n' "${rows[@]}"
