#!/usr/bin/env bash
# kazasu's own pcscd reader driver (kazasu-ifd) against vsmartcard's vpcd, measured in the same
# run: the bundled suite through real pcscd on 16 vpcd slots, then on 16 slots of kazasu's driver
# (`kazasu stack up --driver kazasu`), each started by ci/pcscd.sh, and on vpcd the real-stack
# test that only vpcd can pass (`serve --vpcd HOST:PORT`). On kazasu's driver, pyscard checks
# taps (tap-check.py), the reader's attributes, part 10 features and PIN pad (part10-check.py)
# a kill -9 of kazasu mid-command (kill-check.py) and the reader's own failures
# (reader-fault-check.py); a panic-test build, a caught panic. Every
# case must pass on both, and on kazasu's driver the suite must take at most 1.5 s wall and at
# most 0.2× what it took on vpcd (a ratio to a baseline of the same run holds on a loaded
# machine).
# Usage: ci/driver-check.sh path/to/kazasu   (ci/pcscd.sh's pcscd, on kazasu's driver, after)
set -euo pipefail
bin=$(realpath "${1:?usage: ci/driver-check.sh path/to/kazasu}")
cd "$(dirname "$0")/.."
fail() { echo "driver-check: $*" >&2; exit 1; }
work=$(mktemp -d)
restore() {
  ci/pcscd.sh stop >/dev/null 2>&1 || true
  ci/pcscd.sh start >/dev/null
  rm -rf "$work"
}
trap restore EXIT
wall() { sed -n 's/^[0-9]* cases in \([0-9.]*\) s wall.*/\1/p' "$1"; }

ci/pcscd.sh stop >/dev/null
KAZASU_DRIVER=vpcd ci/pcscd.sh start
"$bin" run --backend pcsc --slots 16 >"$work/vpcd.txt" 2>&1 || fail "the suite on vpcd: $(tail -5 "$work/vpcd.txt")"
# What only vpcd has: a vpcd reached by host and port (`serve --vpcd`).
# (The test binary `cargo test` built, run as it is: no second build with other features.)
tests=$(ls -t target/debug/deps/real_stack-* 2>/dev/null | grep -v '\.d$' | head -1)
[ -x "$tests" ] || fail "no real_stack test binary (run cargo test --workspace --features kazasu/pcsc first)"
(cd harness && KAZASU_VPCD=1 KAZASU_PCSC=1 "$(realpath "../$tests")" --exact \
  serve_reaches_a_vpcd_by_host_and_port) >"$work/vpcd-test.txt" 2>&1 \
  || fail "serve --vpcd on vpcd: $(tail -20 "$work/vpcd-test.txt")"
grep -q "1 passed" "$work/vpcd-test.txt" || fail "serve --vpcd on vpcd did not run: $(cat "$work/vpcd-test.txt")"
ci/pcscd.sh stop >/dev/null
KAZASU_DRIVER=kazasu ci/pcscd.sh start
"$bin" run --backend pcsc --slots 16 >"$work/kazasu.txt" 2>&1 || fail "the suite on kazasu's driver: $(tail -5 "$work/kazasu.txt")"
grep -q " 0 failed" "$work/kazasu.txt" || fail "cases failed on kazasu's driver: $(tail -3 "$work/kazasu.txt")"
# Taps as a PC/SC client sees them, on the last slot (no card served there).
ci/install-deps.sh python3-pyscard
/usr/bin/python3 ci/tap-check.py "${TMPDIR:-/tmp}/kazasu-ifd/slot-15.sock" "Virtual PCD 7 00 01"
# The reader itself as a PC/SC client reads it: attributes, part 10 features, a PIN pad.
/usr/bin/python3 ci/part10-check.py "$bin" 14 "Virtual PCD 7 00 00"
# kazasu itself killed (SIGKILL) in the middle of a command: that command fails at once.
/usr/bin/python3 ci/kill-check.py "$bin" 13 "Virtual PCD 6 00 01"
# The reader's own failures: unplugged mid-command, a card silent through the retries.
/usr/bin/python3 ci/reader-fault-check.py "$bin" 12 "Virtual PCD 6 00 00"
# A panic inside the driver is caught: its panic-test build on a stack of its own.
cargo build -q -p kazasu-ifd --features panic-test --target-dir target/panic-test --locked
ci/pcscd.sh stop >/dev/null
"$bin" stack up --driver kazasu --library target/panic-test/debug/libkazasu_ifd.so \
  --dir target/stack-panic --slots 2 >/dev/null 2>"$work/panic-up.txt" \
  || fail "stack up with the panic-test build: $(cat "$work/panic-up.txt")"
/usr/bin/python3 ci/panic-check.py "${TMPDIR:-/tmp}/kazasu-ifd/slot-1.sock" "Virtual PCD 00 01" \
  || { "$bin" stack down --dir target/stack-panic; fail "the panic was not survived"; }
"$bin" stack down --dir target/stack-panic >/dev/null
vpcd=$(wall "$work/vpcd.txt")
kazasu=$(wall "$work/kazasu.txt")
[ -n "$vpcd" ] && [ -n "$kazasu" ] || fail "no wall time in the runs' closing lines"
python3 - "$vpcd" "$kazasu" <<'PY'
import sys
vpcd, kazasu = float(sys.argv[1]), float(sys.argv[2])
ratio = kazasu / vpcd
print(f"driver-check: the bundled suite through pcscd, 16 slots: vpcd {vpcd:.2f} s, kazasu's driver {kazasu:.2f} s ({ratio:.2f}×)")
bad = []
if kazasu > 1.5:
    bad.append(f"{kazasu:.2f} s > 1.5 s")
if ratio > 0.2:
    bad.append(f"{ratio:.2f}× vpcd > 0.2×")
if bad:
    sys.exit("driver-check: kazasu's driver misses its targets: " + "; ".join(bad))
PY
