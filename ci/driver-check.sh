#!/usr/bin/env bash
# kazasu's own pcscd reader driver (kazasu-ifd) against vsmartcard's vpcd, measured in the same
# run: the bundled suite through real pcscd on 16 vpcd slots, then on 16 slots of kazasu's driver
# (`kazasu stack up --driver kazasu`). Every case must pass on both, and on kazasu's driver the
# suite must take at most 1.5 s wall and at most 0.2× what it took on vpcd (a ratio to a
# baseline of the same run holds on a loaded machine).
# Usage: ci/driver-check.sh path/to/kazasu   (pcscd with vpcd running before; running again after)
set -euo pipefail
bin=$(realpath "${1:?usage: ci/driver-check.sh path/to/kazasu}")
cd "$(dirname "$0")/.."
fail() { echo "driver-check: $*" >&2; exit 1; }
# The driver library beside the binary, where `stack up --driver kazasu` looks for it.
[ -f "$(dirname "$bin")/libkazasu_ifd.so" ] || cargo build -q -p kazasu-ifd --locked
[ -f "$(dirname "$bin")/libkazasu_ifd.so" ] || fail "no libkazasu_ifd.so beside $bin"
work=$(mktemp -d)
restore() {
  "$bin" stack down --dir target/stack-kazasu >/dev/null 2>&1 || true
  ci/pcscd.sh start >/dev/null
  rm -rf "$work"
}
trap restore EXIT
ci/pcscd.sh start >/dev/null
wall() { sed -n 's/^[0-9]* cases in \([0-9.]*\) s wall.*/\1/p' "$1"; }

"$bin" run --backend pcsc --slots 16 >"$work/vpcd.txt" 2>&1 || fail "the suite on vpcd: $(tail -5 "$work/vpcd.txt")"
ci/pcscd.sh stop >/dev/null
"$bin" stack up --driver kazasu --dir target/stack-kazasu >"$work/up.txt" 2>&1 || fail "stack up --driver kazasu: $(cat "$work/up.txt")"
"$bin" run --backend pcsc --slots 16 >"$work/kazasu.txt" 2>&1 || fail "the suite on kazasu's driver: $(tail -5 "$work/kazasu.txt")"
grep -q " 0 failed" "$work/kazasu.txt" || fail "cases failed on kazasu's driver: $(tail -3 "$work/kazasu.txt")"
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
