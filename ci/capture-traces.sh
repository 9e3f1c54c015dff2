#!/usr/bin/env bash
# Records the sample captures under scenarios/traces/ with the real tools, against kazasu's own
# virtual cards served on pcscd's vpcd slots, and imports each into a scenario beside it:
#   - OpenSC reading the auth certificate: pcscd's --apdu log and OpenSC's debug log of one run;
#   - scriptor driving the readertest card through libpcscspy: pcsc-spy raw and decoded;
#   - pkcs11-tool logging in and signing: kazasu's serve transcript (the PIN is redacted there);
#   - the phone pulled away while OpenSC reads: pcscd's log of a removal mid-read;
#   - the OpenSC session again in apdu4j's dump format (apdu4j itself is not packaged for Debian).
# Needs pcscd started with --apdu (ci/pcscd.sh start). Run it to renew the samples; the tests
# check the committed scenarios against a fresh import of the committed captures.
# Usage: ci/capture-traces.sh [KAZASU-BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."

kazasu=${1:-target/release/kazasu}
out=scenarios/traces
pcscd_log=target/stack/pcscd.log
name=capture-traces
serve_duration=60s
source ci/lib.sh
mkdir -p "$out"

# The pcscd log lines written since mark (the line count before).
log_since() { tail -n +"$(($1 + 1))" "$pcscd_log"; }

# 1. OpenSC reads the auth certificate: pcscd's log and OpenSC's debug log of the same run.
serve --card mynumber-card:yamada-taro
mark=$(wc -l <"$pcscd_log")
OPENSC_DEBUG=9 pkcs15-tool --reader 0 --read-certificate 01 >"$work/cert.pem" 2>"$out/opensc-read-cert.opensc.log" \
  || fail "pkcs15-tool: $(tail -5 "$out/opensc-read-cert.opensc.log")"
sleep 0.3
log_since "$mark" >"$out/opensc-read-cert.pcscd.log"
stop_serving

# 2. scriptor drives the readertest card through libpcscspy (raw FIFO lines, then decoded).
serve --card readertest
mkdir -p "$work/home" "$work/spylib"
mkfifo "$work/home/pcsc-spy"
ln -s "$(ls /usr/lib/*/libpcscspy.so.0 | head -1)" "$work/spylib/libpcsclite.so.1"
ln -s "$(ls /usr/lib/*/libpcsclite.so.1 | head -1)" "$work/spylib/libpcsclite_nospy.so.1"
timeout 30 cat "$work/home/pcsc-spy" >"$out/scriptor-readertest.pcsc-spy.log" &
cat_pid=$!
sleep 0.2
printf '00 A4 04 00 06 A0 00 00 00 18 FF\n80 30 00 00\n80 34 00 10 10\n80 32 00 00 05 00 01 02 03 04\n' >"$work/rt.script"
HOME="$work/home" LD_LIBRARY_PATH="$work/spylib" timeout 30 scriptor -r "Virtual PCD 00 00" "$work/rt.script" \
  >"$work/scriptor.txt" 2>&1 || fail "scriptor: $(cat "$work/scriptor.txt")"
wait "$cat_pid" || true
pcsc-spy -n "$out/scriptor-readertest.pcsc-spy.log" >"$out/scriptor-readertest.pcsc-spy-decoded.txt"
stop_serving

# 3. pkcs11-tool logs in and signs: kazasu's own transcript (PIN redacted).
module=$(ls /usr/lib/*/opensc-pkcs11.so 2>/dev/null | head -1)
serve --card mynumber-card:yamada-taro --transcript "$out/pkcs11-sign.kazasu.jsonl"
echo "sample message" >"$work/msg"
pkcs11-tool --module "$module" --slot-index 0 --login --pin 1234 --sign --id 01 -m SHA256-RSA-PKCS \
  --input-file "$work/msg" --output-file "$work/msg.sig" >"$work/p11.log" 2>&1 || fail "pkcs11-tool: $(cat "$work/p11.log")"
stop_serving

# 4. The phone is pulled away after 12 APDUs while OpenSC reads the certificate.
serve --card mynumber-card:yamada-taro --remove-after-apdus 12
mark=$(wc -l <"$pcscd_log")
if pkcs15-tool --reader 0 --read-certificate 01 >"$work/cert2.pem" 2>"$work/p15.err"; then
  fail "pkcs15-tool read the certificate although the card left"
fi
sleep 1.5
log_since "$mark" >"$out/phone-pulled-away.pcscd.log"
stop_serving

# 5. apdu4j is not packaged for Debian (nor reachable here): the OpenSC session of step 1, written
#    the way apdu4j's LoggingCardTerminal writes its dumps, so the apdu4j importer reads a real
#    session too.
apdu4j_dump() {
  local atr
  atr=$(grep -m1 -o 'match_atr_table: ATR     : [0-9a-f:]*' "$out/opensc-read-cert.opensc.log" | sed 's/.*: //; s/://g' | tr a-f A-F)
  echo "# Generated from opensc-read-cert.pcscd.log by ci/capture-traces.sh, in apdu4j's dump format"
  echo "# Using Virtual PCD 00 00"
  echo "# ATR: $atr"
  echo "# PROTOCOL: T=1"
  echo "#"
  awk '/ APDU: / { sub(/.* APDU: /, ""); gsub(/ /, ""); print "# Sent"; print }
       / SW: /   { d = $1 + 0; sub(/.* SW: /, ""); gsub(/ /, ""); printf "# Received in %dms\n%s\n", d / 1000, $0 }' \
    "$out/opensc-read-cert.pcscd.log"
}
apdu4j_dump >"$out/opensc-read-cert.apdu4j.dump"

# Import every capture (the same commands the tests check the committed scenarios with).
"$kazasu" import pcscd "$out/opensc-read-cert.pcscd.log" --reader "PCD 00 00" --card mynumber-card:yamada-taro -o "$out/opensc-read-cert.pcscd.yaml"
"$kazasu" import apdu4j "$out/opensc-read-cert.apdu4j.dump" --card mynumber-card:yamada-taro -o "$out/opensc-read-cert.apdu4j.yaml"
"$kazasu" import opensc "$out/opensc-read-cert.opensc.log" --card mynumber-card:yamada-taro -o "$out/opensc-read-cert.opensc.yaml"
"$kazasu" import pcsc-spy "$out/scriptor-readertest.pcsc-spy.log" --card readertest -o "$out/scriptor-readertest.pcsc-spy.yaml"
"$kazasu" import pcsc-spy-decoded "$out/scriptor-readertest.pcsc-spy-decoded.txt" --card readertest -o "$out/scriptor-readertest.pcsc-spy-decoded.yaml"
"$kazasu" import kazasu "$out/pkcs11-sign.kazasu.jsonl" --card mynumber-card:yamada-taro -o "$out/pkcs11-sign.kazasu.yaml"
"$kazasu" import pcscd "$out/phone-pulled-away.pcscd.log" --reader "PCD 00 00" --card mynumber-card:yamada-taro -o "$out/phone-pulled-away.pcscd.yaml"
echo "capture-traces: wrote $(ls "$out" | wc -l) files to $out"
