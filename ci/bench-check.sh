#!/usr/bin/env bash
# Runs kazasu's benchmarks in a quick mode and checks every target docs/figures.md states as a ratio
# to a baseline measured in the same run (the card alone, a bare RSA signature, counting a log's
# lines, GET /api/program, a null responder): such a ratio holds on a loaded machine where an
# absolute figure would not, so the absolute figures are shown but not judged. Memory is judged
# absolutely (peak resident size of the release binary): it does not move with the load. Exits 1 when a
# target is missed or a verdict is missing.
# Not part of ci/test.sh (a few minutes on 2 cores, and noisy on a shared machine); run it with
#   ci/bench-check.sh                 # card, reader, suite, import, onboarding, memory
#   ci/bench-check.sh --real-stack    # and the pcscd + vpcd round trip (starts pcscd)
set -euo pipefail
cd "$(dirname "$0")/.."

real_stack=0
[ "${1:-}" = "--real-stack" ] && real_stack=1
quick=(--warm-up-time 0.3 --measurement-time 1 --sample-size 10)
work=$(mktemp -d)
trap 'rm -rf "$work"; [ "$real_stack" = 1 ] && ci/pcscd.sh stop >/dev/null 2>&1 || true' EXIT

missed=0
# bench NAME VERDICTS [cargo args…]: runs one bench and checks that it printed VERDICTS
# PASS/MISS verdicts, all PASS.
bench() {
  local name=$1 want=$2
  shift 2
  echo "== bench $name"
  if ! cargo bench -q -p kazasu-benches "$@" --bench "$name" -- "${quick[@]}" >"$work/$name.txt" 2>"$work/$name.err"; then
    echo "bench-check: $name did not run: $(tail -5 "$work/$name.err")" >&2
    missed=1
    return
  fi
  { grep -E "PASS|MISS" "$work/$name.txt" || true; } | sed 's/^/  /'
  local pass miss
  pass=$( { grep -oE "\bPASS\b" "$work/$name.txt" || true; } | wc -l)
  miss=$( { grep -oE "\bMISS\b" "$work/$name.txt" || true; } | wc -l)
  if [ "$miss" -gt 0 ]; then
    echo "bench-check: $name missed $miss target(s)" >&2
    missed=1
  elif [ "$pass" -ne "$want" ]; then
    echo "bench-check: $name printed $pass verdicts, expected $want: a figure is missing" >&2
    missed=1
  fi
}

bench reader 4       # reader ÷ card alone ≤ 20; per device: auth flow ÷ a bare signature ≤ 1.2
bench suite 1        # the suite on one core ÷ its bare signatures ≤ 12
bench import 1       # import ÷ counting the log's lines ≤ 5
bench onboarding 1   # registrations ÷ GET /api/program ≥ 0.8
echo "== building the release binary the memory bench measures"
cargo build -q --release -p kazasu
bench memory 3       # peak of import and replay of a 250 MiB capture, of 45,000 reads with --json --html: ≤ 512 MB each
if [ "$real_stack" = 1 ]; then
  ci/install-deps.sh pcscd vsmartcard-vpcd libpcsclite-dev
  KAZASU=target/release/kazasu KAZASU_PCSCD_DEBUG=0 KAZASU_DRIVER=vpcd ci/pcscd.sh start   # its null responder is a vicc
  bench real_stack 1 --features pcsc   # kazasu ÷ null responder ≥ 0.9
fi

if [ "$missed" -ne 0 ]; then
  echo "bench-check: FAILED (outputs in $work were removed; rerun one bench with cargo bench -p kazasu-benches --bench NAME)" >&2
  exit 1
fi
echo "bench-check: every target held"
