#!/usr/bin/env bash
# Interoperability through the real reading stack: pcscd + vpcd + kazasu's virtual cards, driven
# by real clients — OpenSC reads the virtual My Number card with its JPKI driver, signs with the
# auth key after a PIN login (the signature is checked with openssl), still reads the auth
# certificate once the signature PIN is blocked, scriptor from pcsc-tools drives the readertest
# card, and pcscd reports each reader profile's ATR form. Needs pcscd started (ci/pcscd.sh start).
# Usage: ci/interop.sh [KAZASU-BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."

kazasu=${1:-target/release/kazasu}
name=interop
source ci/lib.sh

serve --card mynumber-card:yamada-taro --card readertest --transcript "$work/serve.jsonl"
for _ in $(seq 1 100); do grep -q "^1 *Yes" <<<"$(readers)" && break; sleep 0.1; done
grep -q "^1 *Yes" <<<"$(readers)" || fail "the readertest card did not appear on slot 1: $(readers)"

# 1. OpenSC's JPKI driver lists the four certificates.
pkcs15-tool --reader 0 --list-certificates >"$work/certs.txt" 2>&1 || fail "pkcs15-tool: $(cat "$work/certs.txt")"
for label in "User Authentication Certificate" "Digital Signature Certificate" \
             "User Authentication Certificate CA" "Digital Signature Certificate CA"; do
  grep -q "\[$label\]" "$work/certs.txt" || fail "pkcs15-tool did not list: $label"
done
echo "interop: pkcs15-tool lists the 4 JPKI certificates"

# 2. PKCS#11: log in with the auth PIN, sign, check the signature with openssl.
module=
for m in /usr/lib/*/opensc-pkcs11.so /usr/lib/opensc-pkcs11.so; do if [ -e "$m" ]; then module=$m; break; fi; done
[ -n "$module" ] || fail "OpenSC's PKCS#11 module is not installed (package opensc-pkcs11)"
echo "eligibility check $(date +%s%N)" >"$work/msg"
pkcs11-tool --module "$module" --slot-index 0 --login --pin 1234 --sign --id 01 -m SHA256-RSA-PKCS \
  --input-file "$work/msg" --output-file "$work/msg.sig" >"$work/p11.log" 2>&1 || fail "pkcs11-tool: $(cat "$work/p11.log")"
pkcs15-tool --reader 0 --read-certificate 01 >"$work/auth.pem" 2>/dev/null || fail "could not read the auth certificate"
openssl x509 -in "$work/auth.pem" -pubkey -noout >"$work/auth.pub"
openssl dgst -sha256 -verify "$work/auth.pub" -signature "$work/msg.sig" "$work/msg" >/dev/null \
  || fail "the PKCS#11 signature does not verify with the certificate"
echo "interop: pkcs11-tool login + RSA-2048 signature, verified by openssl"

# 3. A wrong PIN is refused and counted.
if pkcs11-tool --module "$module" --slot-index 0 --login --pin 9999 --sign --id 01 -m SHA256-RSA-PKCS \
     --input-file "$work/msg" --output-file "$work/bad.sig" >"$work/p11bad.log" 2>&1; then
  fail "a wrong PIN was accepted"
fi
grep -q "CKR_PIN_INCORRECT" "$work/p11bad.log" || fail "a wrong PIN gave: $(tail -2 "$work/p11bad.log")"
echo "interop: a wrong PIN is refused (CKR_PIN_INCORRECT)"

# 4. scriptor drives the readertest card (the real-stack guide's script).
timeout 30 scriptor -r "Virtual PCD 00 01" scenarios/serve/readertest.script >"$work/scriptor.txt" 2>&1 || fail "scriptor: $(cat "$work/scriptor.txt")"
[ "$(grep -c '90 00 : Normal processing' "$work/scriptor.txt")" -eq 7 ] || fail "scriptor: $(cat "$work/scriptor.txt")"
grep -q "^< 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F" "$work/scriptor.txt" || fail "case 2 data wrong"
grep -q "^< 80 20 00 00 04 31 32 33 34 90 00" "$work/scriptor.txt" || fail "dump did not return the VERIFY"
echo "interop: scriptor ran the readertest script (7 APDUs, all 90 00)"

# 5. The transcript has the exchanges and no PIN.
grep -q '"event":"apdu"' "$work/serve.jsonl" || fail "the serve transcript has no APDU"
grep -q '00 20 00 80 04 \*\* \*\* \*\* \*\*' "$work/serve.jsonl" || fail "the PKCS#11 VERIFY is not in the transcript"
# Neither the JPKI card's VERIFY (slot 0) nor the readertest card's dump of its VERIFY (slot 1,
# which answers the PIN back) shows the PIN.
if grep -q '31 32 33 34' "$work/serve.jsonl"; then fail "the PIN leaked into the transcript: $(grep '31 32 33 34' "$work/serve.jsonl")"; fi
grep -q '"command":"80 40 00 00 00".*"response":"\*\* \*\*' "$work/serve.jsonl" \
  || fail "the readertest dump's answer is not hidden: $(grep '80 40' "$work/serve.jsonl")"
echo "interop: the serve transcript records $(grep -c '"event":"apdu"' "$work/serve.jsonl") APDUs with the PIN redacted"

# 6. kazasu checks the transcript afterwards: OpenSC's session, in order.
cat >"$work/expect.yaml" <<'YAML'
- { event: card_inserted }
- { command: "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01", expect: { sw: "9000" } }
- { command: "00 20 00 80 04 ** ** ** **", expect: { sw: "9000" } }
- { command_prefix: "80 2A 00 80", expect: { sw: "9000", data_len: 256 } }
- { command: "00 20 00 80 04 ** ** ** **", expect: { sw: 63Cx } }
YAML
"$kazasu" check-transcript "$work/serve.jsonl" "$work/expect.yaml" >"$work/check.txt" || fail "check-transcript: $(cat "$work/check.txt")"
echo "interop: kazasu check-transcript: $(tail -1 "$work/check.txt")"

# 7. A card whose signature PIN is blocked (common at clinics) still reads its auth certificate
#    in OpenSC: block it with five wrong VERIFYs through pcscd, then bind again.
select_jpki=00A4040C0AD392F000260100000001
wrong=0020008006574E4F4E4730
opensc-tool --reader 0 -s "$select_jpki" -s 00A4020C02001B -s "$wrong" -s "$wrong" -s "$wrong" \
  -s "$wrong" -s "$wrong" -s 00200080 >"$work/block.txt" 2>&1 || fail "opensc-tool: $(cat "$work/block.txt")"
[ "$(grep -c 'SW1=0x63, SW2=0xC0' "$work/block.txt")" -eq 2 ] \
  || fail "the blocking VERIFY and the counter query of a blocked PIN should both answer 63 C0: $(cat "$work/block.txt")"
pkcs15-tool --reader 0 --list-certificates >"$work/certs-blocked.txt" 2>&1 \
  || fail "pkcs15-tool with the signature PIN blocked: $(cat "$work/certs-blocked.txt")"
grep -q "\[User Authentication Certificate\]" "$work/certs-blocked.txt" \
  || fail "with the signature PIN blocked, OpenSC lost the auth certificate: $(cat "$work/certs-blocked.txt")"
pkcs15-tool --reader 0 --read-certificate 01 >"$work/auth-blocked.pem" 2>/dev/null \
  || fail "with the signature PIN blocked, the auth certificate does not read"
cmp -s "$work/auth.pem" "$work/auth-blocked.pem" || fail "the auth certificate read differs"
echo "interop: signature PIN blocked (63 C0 to the counter query): OpenSC still lists and reads the auth certificate"
# 8. The reader profile decides the ATR pcscd reports: part-3 readers build it from the card's
#    ATQB, a generic reader reports 3B 80 80 01 01 (opensc-tool --atr, through pcscd).
stop_serving
for pair in "typical-424k:3b:88:80:01:00:00:05:e0:b3:81:a1:00:7f" "fast-848k:3b:88:80:01:00:00:05:e0:b3:81:a1:00:7f" \
            "basic-106k:3b:80:80:01:01"; do
  reader=${pair%%:*} want=${pair#*:}
  serve --card mynumber-card:yamada-taro --reader "$reader"
  got=$(opensc-tool --reader 0 --atr 2>&1 | tr 'A-F' 'a-f' | tr -d ' \r' | tail -1)
  [ "$got" = "$want" ] || fail "reader $reader: pcscd reports ATR $got, expected $want"
  echo "interop: reader profile $reader: ATR $got"
  stop_serving
done
echo "interop: 8 passed, 0 failed"
