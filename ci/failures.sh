#!/usr/bin/env bash
# The real stack failing under kazasu: pcscd restarted in the middle of a run, and pcscd gone
# for good. Either way every case ends with a result (no hang), failures name a transport error
# or pcscd, and the run goes on to the end. Needs pcscd started by ci/pcscd.sh (it restarts it).
# Usage: ci/failures.sh [KAZASU-BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
kazasu=${1:-target/release/kazasu}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "failures: FAIL: $*" >&2; exit 1; }

# Both runs wait out the cards' simulated time (--pace realtime, about 50 s on two slots), so that
# they are still running when pcscd goes: on kazasu's driver the suite alone takes a few seconds.
# 1. pcscd restarted mid-suite.
start=$(date +%s)
timeout 600 "$kazasu" run --backend pcsc --slots 2 --pace realtime --json "$work/restart.json" >"$work/restart.txt" 2>&1 &
run=$!
sleep 10
ci/pcscd.sh stop
ci/pcscd.sh start
code=0
wait "$run" || code=$?
[ "$code" -le 1 ] || fail "the run ended with exit code $code after a pcscd restart: $(tail -5 "$work/restart.txt")"
python3 - "$work/restart.json" <<'PY' || fail "restart: $(tail -5 "$work/restart.txt")"
import json, sys
r = json.load(open(sys.argv[1]))
cases = r["scenarios"]
assert len(cases) == r["summary"]["total"] >= 60, "every case has a result"
bad = [c for c in cases if c["status"] != "passed"]
assert len(bad) <= 4, f"only the cases in flight may fail, not {len(bad)}: {[c['name'] for c in bad]}"
for c in bad:
    actual = c["failure"]["actual"]
    assert "transport error" in actual or "pcscd" in actual, f"{c['name']}: {actual}"
print(f"failures: pcscd restarted mid-suite: all {len(cases)} cases ran; {len(bad)} failed (at most the ones in flight), each with a clear error")
PY
took=$(( $(date +%s) - start ))
[ "$took" -gt 12 ] || fail "the run ended after $took s: pcscd restarted after it, not during it"
echo "failures: the restarted run took $took s"

# 2. pcscd gone for good: clear errors, quickly, and the run still reaches its end.
start=$(date +%s)
timeout 300 "$kazasu" run --backend pcsc --slots 2 --pace realtime >"$work/dead.txt" 2>&1 &
run=$!
sleep 5
ci/pcscd.sh stop
code=0
wait "$run" || code=$?
took=$(( $(date +%s) - start ))
[ "$code" = 1 ] || fail "with pcscd gone the run should fail (exit 1), got $code"
grep -q "pcscd is not reachable" "$work/dead.txt" || fail "no case said pcscd is not reachable: $(tail -5 "$work/dead.txt")"
grep -q " passed, " "$work/dead.txt" || fail "the run did not reach its summary"
[ "$took" -lt 120 ] || fail "the run took $took s with pcscd gone"
echo "failures: pcscd gone: the run ended in $took s with clear errors ($(tail -1 "$work/dead.txt"))"
ci/pcscd.sh start
echo "failures: 2 passed, 0 failed"
