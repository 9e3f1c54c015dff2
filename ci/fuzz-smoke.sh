#!/usr/bin/env bash
# The fuzz targets' smoke run: every target of fuzz/ for a short, fixed time on its committed
# corpus (new inputs go to a scratch folder, not into the repository). Fails on any crash,
# hang or memory blow-up, naming the target and the input that did it.
#
#   ci/fuzz-smoke.sh              every target, 20 s each
#   SECONDS_PER_TARGET=5 ci/fuzz-smoke.sh apdu_codec card_os
#   ci/fuzz-smoke.sh --self-test  plants a panic in a target (KAZASU_FUZZ_PLANTED_PANIC=1) and
#                                 checks that the smoke run then fails and keeps the input
#
# Needs cargo-fuzz (installed when missing) and a nightly toolchain (or stable with
# RUSTC_BOOTSTRAP=1, which the scripts use when no nightly is installed).
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/fuzz-lib.sh
secs="${SECONDS_PER_TARGET:-20}"
ensure_cargo_fuzz

if [ "${1:-}" = "--self-test" ]; then
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    echo "== self-test: apdu_codec with a planted panic must fail the smoke run"
    rm -rf target/fuzz-artifacts/apdu_codec-planted
    mkdir -p target/fuzz-artifacts/apdu_codec-planted
    if KAZASU_FUZZ_PLANTED_PANIC=1 fuzz_run apdu_codec "$secs" "$scratch/corpus" \
        -artifact_prefix=target/fuzz-artifacts/apdu_codec-planted/ >"$scratch/log" 2>&1; then
        tail -n 20 "$scratch/log"
        echo "FAIL: the smoke run passed although the target panics" >&2
        exit 1
    fi
    grep -q "planted panic" "$scratch/log" || {
        tail -n 20 "$scratch/log"
        echo "FAIL: the smoke run failed, but not on the planted panic" >&2
        exit 1
    }
    ls target/fuzz-artifacts/apdu_codec-planted/crash-* >/dev/null 2>&1 || {
        echo "FAIL: no crashing input was kept" >&2
        exit 1
    }
    echo "ok: the smoke run fails on a crash and keeps its input ($(ls target/fuzz-artifacts/apdu_codec-planted/))"
    exit 0
fi

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${FUZZ_TARGETS[@]}")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
for t in "${targets[@]}"; do
    echo "== fuzz smoke: $t for $secs s"
    if fuzz_run "$t" "$secs" "$scratch/$t" >"$scratch/$t.log" 2>&1; then
        grep -a -E 'stat::number_of_executed_units|^#[0-9]+[[:space:]]+DONE' "$scratch/$t.log" | tail -n 2 | sed 's/^/   /'
    else
        grep -a -E 'panicked at|ERROR: libFuzzer|Test unit written|SUMMARY' "$scratch/$t.log" | sed 's/^/   /' || tail -n 30 "$scratch/$t.log"
        failed+=("$t")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAIL: fuzz targets crashed: ${failed[*]} (inputs under target/fuzz-artifacts/; replay one with" >&2
    echo "      cargo +nightly fuzz run -s none TARGET target/fuzz-artifacts/TARGET/crash-…)" >&2
    exit 1
fi
echo "fuzz smoke: ${#targets[@]} targets ran $secs s each without a crash"
