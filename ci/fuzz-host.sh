#!/usr/bin/env bash
# `kazasu fuzz-host` through the real stack (pcscd + vpcd, vpcd slot 1): a deliberately crashing
# host and a deliberately hanging one (ci/hosts/) must be found, classified, recorded and
# minimized (no larger than the recording), and the printed reproduce command — and `kazasu
# replay --as card --serve` with the host run by hand — must replay the same failure. Then a
# short campaign against OpenSC's pkcs15-tool and pcsc-tools' scriptor: whatever those do is
# their business; kazasu must finish, classify every run and write its summary.
# Needs pcscd with vpcd (ci/pcscd.sh start).
# Usage: ci/fuzz-host.sh [KAZASU-BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
kazasu=${1:-target/release/kazasu}
name=fuzz-host
source ci/lib.sh
reader="Virtual PCD 00 01"

# finding FIELD: a field of the first finding in $work/$run.json
field() {
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); f=d["findings"]; print(f[0][sys.argv[2]] if f else "")' "$work/$1.json" "$2"
}
finding_with() {
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for f in d["findings"]:
    if f["key"] == sys.argv[2]:
        print(f["recording"], f["recording_apdus"], f.get("minimized") or "", f.get("minimized_apdus") or "", f["reproduce"], sep="\t")
        break' "$work/$1.json" "$2"
}

# campaign RUN KEY SEED HOST...: fuzz HOST until a finding KEY, check it and its replays.
campaign() {
    local run="$1" key="$2" seed="$3"
    shift 3
    echo "== fuzz-host: $* (seed $seed), looking for: $key"
    set +e
    "$kazasu" fuzz-host --slot 1 --runs 10 --seed "$seed" --timeout 3s -o "$work/$run" \
        --json "$work/$run.json" --junit "$work/$run.xml" -- "$@" >"$work/$run.out" 2>&1
    local code=$?
    set -e
    cat "$work/$run.out"
    [ "$code" -eq 1 ] || fail "$run: exit $code, expected 1 (failures found)"
    grep -q "fails even without mutation" "$work/$run.out" && fail "$run: the host fails without any mutation"
    local line
    line=$(finding_with "$run" "$key")
    [ -n "$line" ] || fail "$run: no '$key' among the findings"
    local recording apdus minimized min_apdus reproduce
    IFS=$'\t' read -r recording apdus minimized min_apdus reproduce <<<"$line"
    [ -s "$recording" ] || fail "$run: no recording at $recording"
    [ -s "$minimized" ] || fail "$run: no minimized recording"
    [ "$min_apdus" -le "$apdus" ] || fail "$run: minimized to $min_apdus APDUs from $apdus"
    [ "$(wc -c <"$minimized")" -le "$(wc -c <"$recording")" ] || fail "$run: the minimized recording is larger"
    grep -q "<testcase name=\"$key\"" "$work/$run.xml" || fail "$run: the JUnit report lacks '$key'"
    echo "   $key: recording $apdus APDUs, minimized $min_apdus"
    # The reproduce command as printed (kazasu is on no PATH here: the binary stands in).
    echo "   reproduce: $reproduce"
    set +e
    eval "\"$kazasu\" ${reproduce#kazasu }" >"$work/$run.replay" 2>&1
    code=$?
    set -e
    cat "$work/$run.replay"
    [ "$code" -eq 1 ] || fail "$run: the reproduce command exited $code, expected 1"
    case "$key" in
        "crash (SIGSEGV)") grep -q "CRASHED (SIGSEGV)" "$work/$run.replay" || fail "$run: the replay did not crash the host" ;;
        hang) grep -q "HUNG" "$work/$run.replay" || fail "$run: the replay did not hang the host" ;;
    esac
    eval "$run=\"\$minimized\""
}

campaign crash "crash (SIGSEGV)" 3 ci/hosts/crashing-host.sh "$reader"
campaign hang hang 5 ci/hosts/hanging-host.sh "$reader"

echo "== the minimized crash served by kazasu replay --as card, the host run by hand"
"$kazasu" replay "$crash" --as card --mode model --card mynumber-card --seed 3 --serve --slot 1 \
    --duration 20s >"$work/replay.out" 2>&1 &
serve_pid=$!
for _ in $(seq 1 100); do
    grep -q "^1 *Yes" <<<"$(readers)" && break
    sleep 0.1
done
set +e
ci/hosts/crashing-host.sh "$reader" >"$work/host.out" 2>&1
code=$?
set -e
cat "$work/host.out"
[ "$code" -eq 139 ] || fail "against kazasu replay --serve the host exited $code, not by SIGSEGV (139)"
kill "$serve_pid" 2>/dev/null || true
wait "$serve_pid" 2>/dev/null || true
serve_pid=
sleep 0.5

echo "== a finding of a garbled ATR alone (0 APDUs) replays with its reproduce command"
set +e
"$kazasu" fuzz-host --slot 1 --runs 2 --seed 9 --timeout 8s --mutations garbage-atr --expect-exit 0 \
    -o "$work/atr" --json "$work/atr.json" -- pkcs15-tool --reader 1 --read-certificate 01 >"$work/atr.out" 2>&1
code=$?
set -e
cat "$work/atr.out"
[ "$code" -eq 1 ] || fail "garbled ATRs: exit $code, expected 1 (OpenSC refuses such a card)"
[ "$(field atr recording_apdus)" = 0 ] || fail "garbled ATRs: the finding has APDUs"
reproduce=$(field atr reproduce)
set +e
eval "\"$kazasu\" ${reproduce#kazasu }" >"$work/atr.replay" 2>&1
code=$?
set -e
cat "$work/atr.replay"
[ "$code" -eq 1 ] || fail "the ATR-only finding's reproduce command exited $code, expected 1 (reproduced)"
grep -q "0 APDUs recorded" "$work/atr.replay" || fail "the ATR-only replay did not replay the recording"

for host in "pkcs15-tool --reader 1 --read-certificate 01" "scriptor -r \"$reader\" ci/hosts/jpki-select.apdu"; do
    echo "== fuzz-host against: $host"
    set +e
    eval "\"$kazasu\" fuzz-host --slot 1 --runs 6 --seed 9 --timeout 10s --no-minimize -o \"$work/real\" --json \"$work/real.json\" -- $host" >"$work/real.out" 2>&1
    code=$?
    set -e
    tail -n 12 "$work/real.out"
    [ "$code" -le 1 ] || fail "fuzz-host against $host exited $code"
    python3 - "$work/real.json" <<'PY' || fail "the summary does not account for every run"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["runs"] == 6 and d["passed"] + d["failed"] == 6, d
PY
done
echo "fuzz-host: the crashing and the hanging host were found, minimized and replayed; real tools classified"
