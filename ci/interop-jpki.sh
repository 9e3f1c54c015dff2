#!/usr/bin/env bash
# Foreign JPKI clients, unchanged, against a card kazasu serves through pcscd + vpcd:
#   - the myna-card library (crates.io, driven by ci/peers/myna-card-peer): the JPKI
#     certificates, a signature with each of the six schemes it offers (P1 00..05, each checked
#     by the library against the certificate), and the card-info AP — the My Number with the PIN
#     and with 照合番号A, the basic four with 照合番号B, EF 0003's digests and issuer signature;
#   - jpki-cli (crates.io), the command-line tool My Number card users run: certificates, PIN
#     status, a signature checked by openssl, the card-info AP's My Number and basic four.
# Both are built from crates.io at pinned versions into target/peers and target/tools. Needs pcscd started
# (ci/pcscd.sh start). Usage: ci/interop-jpki.sh [KAZASU-BINARY]
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."   # the repository, also when ci/ is reached through a link

kazasu=${1:-target/release/kazasu}
name=interop-jpki
source ci/lib.sh

echo "interop-jpki: building the peers (myna-card 3.3.4, jpki-cli 0.4.3)"
# Unoptimised: they make a few dozen exchanges, and CI compiles them in less time.
cargo build --locked --quiet --manifest-path ci/peers/myna-card-peer/Cargo.toml --target-dir target/peers
peer=target/peers/debug/myna-card-peer
jpki_cli=target/tools/bin/jpki-cli
if [ ! -x "$jpki_cli" ]; then
  # Not --locked: the lock file published with 0.4.3 pins a terminal crate whose password prompt
  # fails under a pseudo-terminal (EBADF); current dependency releases read it fine.
  cargo install --debug --quiet jpki-cli --version 0.4.3 --root target/tools --target-dir target/peers
fi

# The test identity's secrets (synthetic; sim/data/fixtures/identities.yaml). 照合番号B is the
# birth date with its Japanese-era year (1980-04-01: 昭和55 → 550401), the expiry year and the
# security code.
auth_pin=1234 sign_pin=YAMADA2026 card_info_pin=1234 code_a=999900000011 code_b=55040120354711
birth_key=550401
# The CA stand-ins of the card's own certificates (their keys are not on the card).
modulus() { openssl rsa -pubin -in "$1" -noout -modulus | cut -d= -f2; }
card_info_ca=$(modulus sim/data/fixtures/pki/card-info-issuer.pub.pem)
card_face_ca=$(modulus sim/data/fixtures/pki/card-face-ca.pub.pem)

# 1. myna-card.
serve --card mynumber-card:yamada-taro
timeout 120 "$peer" "Virtual PCD 00 00" "$auth_pin" "$sign_pin" "$card_info_pin" "$code_a" "$code_b" \
  "$birth_key" "$card_info_ca" "$card_face_ca" >"$work/peer.txt" 2>&1 || fail "myna-card: $(cat "$work/peer.txt")"
[ "$(grep -c '(P1 0[0-5]): verified' "$work/peer.txt")" -eq 12 ] || fail "myna-card signed: $(cat "$work/peer.txt")"
grep -q "照合番号A: not the basic four" "$work/peer.txt" || fail "myna-card: $(cat "$work/peer.txt")"
grep -q "^ok   contact ATR by GET DATA 5F 51" "$work/peer.txt" || fail "myna-card's contact_atr(): $(cat "$work/peer.txt")"
if grep -q "$code_a" "$work/peer.txt"; then fail "the My Number was printed"; fi
grep -q "^ok   券面 card face:" "$work/peer.txt" || fail "myna-card's card face: $(cat "$work/peer.txt")"
echo "interop-jpki: myna-card: $(grep -c '^ok' "$work/peer.txt") checks held — the contact ATR (5F 51, checksum checked), the MF objects and chain, the 共通カードAP, the 券面事項確認AP (certificate, card face, My Number image, age record), 12 signatures (P1 00..05, both keys), card-info AP by PIN, 照合番号A and 照合番号B"
stop_serving

# 2. jpki-cli. It asks for PINs on the terminal: `script` gives it one, the PIN arrives on it.
with_pin() { # PIN COMMAND...: runs COMMAND with a terminal that types PIN when asked
  local pin=$1; shift
  (sleep 1; printf '%s\n' "$pin") | timeout 60 script -qec "$*" /dev/null
}
serve --card mynumber-card:yamada-taro
"$jpki_cli" crypto --auth read-certificate >"$work/auth.der" 2>"$work/cli.err" || fail "jpki-cli read-certificate: $(cat "$work/cli.err")"
"$jpki_cli" crypto --auth --ca read-certificate >"$work/auth-ca.der" 2>>"$work/cli.err" || fail "jpki-cli --ca: $(cat "$work/cli.err")"
"$jpki_cli" crypto --ca read-certificate >"$work/sign-ca.der" 2>>"$work/cli.err" || fail "jpki-cli sign --ca: $(cat "$work/cli.err")"
cmp -s "$work/sign-ca.der" <(openssl x509 -in sim/data/fixtures/pki/sign-ca.pem -outform der) \
  || fail "the signature CA certificate jpki-cli read ($(wc -c <"$work/sign-ca.der") bytes) is not the card's"
openssl verify -CAfile <(openssl x509 -inform der -in "$work/auth-ca.der") <(openssl x509 -inform der -in "$work/auth.der") >/dev/null \
  || fail "the auth certificate jpki-cli read does not chain to the CA it read"
[ "$("$jpki_cli" crypto --auth stat 2>/dev/null | tr -d '\r')" = 3 ] || fail "jpki-cli stat of the auth PIN"
[ "$("$jpki_cli" crypto stat 2>/dev/null | tr -d '\r')" = 5 ] || fail "jpki-cli stat of the signature PIN"
echo "jpki-cli signs this $(date +%s%N)" >"$work/msg"
with_pin "$auth_pin" "$jpki_cli crypto --auth sign $work/auth.sig < $work/msg" >"$work/sign.txt" 2>&1 \
  || fail "jpki-cli sign: $(cat "$work/sign.txt")"
[ -s "$work/auth.sig" ] || fail "jpki-cli made no signature: $(cat "$work/sign.txt")"
openssl x509 -inform der -in "$work/auth.der" -pubkey -noout >"$work/auth.pub"
# jpki-cli signs a SHA-1 DigestInfo with P1 00.
openssl dgst -sha1 -verify "$work/auth.pub" -signature "$work/auth.sig" "$work/msg" >/dev/null \
  || fail "the signature jpki-cli made does not verify"
with_pin "$sign_pin" "$jpki_cli crypto read-certificate > $work/sign.der" >"$work/sign-cert.txt" 2>&1 \
  || fail "jpki-cli read the signature certificate: $(cat "$work/sign-cert.txt")"
openssl verify -CAfile <(openssl x509 -inform der -in "$work/sign-ca.der") <(openssl x509 -inform der -in "$work/sign.der") >/dev/null \
  || fail "the signature certificate jpki-cli read does not chain to its CA"
openssl x509 -inform der -in "$work/sign.der" -noout -ext subjectAltName >"$work/san.txt" 2>&1 \
  || fail "the signature certificate: $(cat "$work/san.txt")"
grep -q "1.2.392.200149.8.5.5.1" "$work/san.txt" || fail "no holder facts in the signature certificate"
with_pin "$card_info_pin" "$jpki_cli support get my-number" >"$work/mn.txt" 2>&1 || fail "jpki-cli support my-number: $(cat "$work/mn.txt")"
grep -q "$code_a" "$work/mn.txt" || fail "jpki-cli did not read the My Number: $(cat "$work/mn.txt")"
with_pin "$card_info_pin" "$jpki_cli support get attributes" >"$work/attr.txt" 2>&1 || fail "jpki-cli support attributes: $(cat "$work/attr.txt")"
grep -q '"name":"山田　太郎"' "$work/attr.txt" && grep -q '"date_of_birth":"19800401"' "$work/attr.txt" \
  || fail "jpki-cli read the basic four as: $(cat "$work/attr.txt")"
echo "interop-jpki: jpki-cli: 4 certificates, PIN status 3/5, an auth signature verified by openssl, the My Number and the basic four"
stop_serving
echo "interop-jpki: 2 foreign clients passed"
