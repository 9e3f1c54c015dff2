#!/usr/bin/env bash
# A field failure's round trip through the real stack: OpenSC reads a card served by kazasu while
# pcscd logs the APDUs; kazasu imports that log, then replays it as the card on the same vpcd
# slot (strict mode) while OpenSC runs again. OpenSC must print the same, and the replay must
# report that the host followed the whole recording. Then the same with the card pulled away
# mid-read: OpenSC must fail the same way against the replay.
# Needs pcscd started with --apdu (ci/pcscd.sh start).
# Usage: ci/replay-e2e.sh [KAZASU-BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."

kazasu=${1:-target/release/kazasu}
pcscd_log=target/stack/pcscd.log
work=$(mktemp -d)
bg_pid=
cleanup() {
  if [ -n "$bg_pid" ]; then kill "$bg_pid" 2>/dev/null || true; wait "$bg_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "replay-e2e: FAIL: $*" >&2; exit 1; }

wait_card() {
  for _ in $(seq 1 100); do
    if grep -q "^0 *Yes" <<<"$(opensc-tool -l 2>&1 || true)"; then return 0; fi
    sleep 0.1
  done
  fail "no card appeared on slot 0: $(cat "$work/bg.err" 2>/dev/null)"
}
wait_gone() {
  for _ in $(seq 1 100); do
    if ! grep -q "^0 *Yes" <<<"$(opensc-tool -l 2>&1 || true)"; then return 0; fi
    sleep 0.1
  done
  fail "the card on slot 0 did not go away"
}
# opensc RUN: what OpenSC prints for the certificate list and the auth certificate (exit codes
# included), into $work/RUN.*
opensc() {
  set +e
  pkcs15-tool --reader 0 --list-certificates >"$work/$1.list" 2>&1
  echo "exit $?" >>"$work/$1.list"
  pkcs15-tool --reader 0 --read-certificate 01 >"$work/$1.cert" 2>&1
  echo "exit $?" >>"$work/$1.cert"
  set -e
}

# round NAME [serve options...]: capture, import, replay, compare.
round() {
  local name=$1
  shift
  # 1. Capture: OpenSC against a served card, pcscd logging. (First let pcscd notice that the
  # cards of whatever ran before are gone: a stale "card present" would be read mid-insertion.)
  wait_gone
  "$kazasu" serve --card mynumber-card:yamada-taro --duration 60s "$@" 2>"$work/bg.err" &
  bg_pid=$!
  wait_card
  local mark
  mark=$(wc -l <"$pcscd_log")
  opensc "$name-field"
  if [ "$name" = reading ] && ! grep -q "exit 0" "$work/$name-field.cert"; then
    fail "$name: OpenSC could not read the served card to begin with: $(cat "$work/$name-field.list" "$work/$name-field.cert")"
  fi
  sleep 0.5
  tail -n +"$((mark + 1))" "$pcscd_log" >"$work/$name.log"
  kill "$bg_pid"; wait "$bg_pid" 2>/dev/null || true; bg_pid=
  wait_gone

  # 2. Import it: a scenario that runs in-process against the card it was captured from.
  "$kazasu" import pcscd "$work/$name.log" --reader "PCD 00 00" --card mynumber-card:yamada-taro \
    -o "$work/$name.yaml" 2>"$work/import.err" || fail "$name: import: $(cat "$work/import.err")"
  "$kazasu" run "$work/$name.yaml" >"$work/run.txt" 2>&1 || fail "$name: the imported scenario fails: $(cat "$work/run.txt")"

  # 3. Replay the capture as the card on the same slot while OpenSC runs again.
  "$kazasu" replay "$work/$name.log" --reader "PCD 00 00" --as card --mode skip --serve --duration 60s \
    >"$work/replay.txt" 2>"$work/bg.err" &
  bg_pid=$!
  wait_card
  opensc "$name-replay"
  local rc=0
  wait "$bg_pid" || rc=$?
  bg_pid=
  [ "$rc" -eq 0 ] || fail "$name: the replay reports (exit $rc): $(cat "$work/replay.txt") $(cat "$work/bg.err")"
  grep -q "the host followed the recording" "$work/replay.txt" || fail "$name: $(cat "$work/replay.txt")"
  for part in list cert; do
    cmp -s "$work/$name-field.$part" "$work/$name-replay.$part" || fail "$name: OpenSC printed something else against the replay:
$(diff "$work/$name-field.$part" "$work/$name-replay.$part" | head -20)"
  done
  wait_gone
  echo "replay-e2e: $name: $(grep -c 'APDU:' "$work/$name.log") APDUs captured, imported, replayed as the card ($(head -1 "$work/replay.txt")); OpenSC printed the same ($(tail -1 "$work/$name-field.cert"))"
}

round reading
grep -q "BEGIN CERTIFICATE" "$work/reading-replay.cert" || fail "reading: no certificate from the replay: $(cat "$work/reading-replay.cert")"
round pulled-away --remove-after-apdus 60
grep -q "exit 0" "$work/pulled-away-field.list" || fail "pulled-away: the listing should finish before the removal"
if grep -q "exit 0" "$work/pulled-away-field.cert"; then fail "pulled-away: the read should fail when the card leaves"; fi
echo "replay-e2e: 2 passed, 0 failed"
