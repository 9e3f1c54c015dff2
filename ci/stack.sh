#!/usr/bin/env bash
# `kazasu stack up` / `stack down` from the installed binary alone, in a folder outside the
# repository: pcscd starts with the asked vpcd slots (their names printed), a served card is read
# through it by OpenSC, pcscd logs the APDUs with --debug, a second `up` uses the running pcscd,
# one asking for more slots is refused naming how to stop it, `down` stops it, and a slot count
# vpcd cannot serve is bad input (exit 2).
# Usage: ci/stack.sh path/to/kazasu (pcscd stopped before; stopped after)
set -euo pipefail
bin=$(realpath "${1:?usage: ci/stack.sh path/to/kazasu}")
cd "$(dirname "$0")/.."
fail() { echo "stack: $*" >&2; exit 1; }
ci/pcscd.sh stop >/dev/null
work=$(mktemp -d)
mkdir "$work/bin"
ln -s "$bin" "$work/bin/kazasu"
cleanup() {
  pkill -f "^kazasu serve --card mynumber-card --slot 2" 2>/dev/null || true
  PATH="$work/bin:$PATH" kazasu stack down --dir "$work/stack" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
export PATH="$work/bin:$PATH"

# A relative folder (pcscd itself wants absolute paths).
kazasu stack up --slots 4 --dir stack --debug >readers.txt 2>up.err || fail "up failed: $(cat up.err)"
[ "$(wc -l <readers.txt)" = 4 ] || fail "up printed $(wc -l <readers.txt) reader names, not 4"
grep -qx "Virtual PCD 1 00 00" readers.txt || fail "no 'Virtual PCD 1 00 00' among: $(cat readers.txt)"
listed=$(opensc-tool -l 2>&1 | grep -c "Virtual PCD" || true)
[ "$listed" = 4 ] || fail "pcscd lists $listed vpcd readers right after up, not 4"

kazasu serve --card mynumber-card --slot 2 --ready-file ready --duration 30s 2>serve.err &
timeout 15 sh -c 'until [ -f ready ]; do sleep 0.1; done' || fail "the served card never became ready: $(cat serve.err)"
opensc-tool -r "Virtual PCD 1 00 00" -s 00A4040C0AD392F000260100000001 >select.out 2>&1 \
  || fail "OpenSC could not talk to the served card: $(cat select.out)"
grep -q "SW1=0x90, SW2=0x00" select.out || fail "the JPKI AP was not selected: $(cat select.out)"
grep -q "APDU: 00 A4 04 0C 0A D3 92 F0" "$work/stack/pcscd.log" || fail "--debug: pcscd did not log the APDU"
pkill -f "^kazasu serve --card mynumber-card --slot 2" || true

kazasu stack up --slots 4 --dir "$work/stack" >/dev/null 2>again.err || fail "a second up failed: $(cat again.err)"
grep -q "using it" again.err || fail "a second up did not use the running pcscd: $(cat again.err)"
code=0; kazasu stack up --slots 8 --dir "$work/stack" >/dev/null 2>more.err || code=$?
[ "$code" = 2 ] || fail "up --slots 8 beside a 4-slot pcscd exited $code, not 2"
grep -q "stack down" more.err || fail "the refusal does not say how to stop the running pcscd: $(cat more.err)"

kazasu stack down --dir "$work/stack" 2>down.err || fail "down failed: $(cat down.err)"
grep -q "stopped pcscd" down.err || fail "down did not stop pcscd: $(cat down.err)"
if opensc-tool -l 2>&1 | grep -q "Virtual PCD"; then fail "pcscd still lists the readers after down"; fi

code=0; kazasu stack up --slots 3 --dir "$work/stack" >/dev/null 2>odd.err || code=$?
[ "$code" = 2 ] && grep -q "even number" odd.err || fail "--slots 3: exit $code, $(cat odd.err)"
echo "stack: up (4 slots, names printed, OpenSC reads a served card, APDUs logged), up again (used), up with more slots (refused), down, --slots 3 (refused): all as expected"
