#!/usr/bin/env bash
# A certification bundle as a laboratory signs it and its customer checks it: an Ed25519 key
# made by openssl, `kazasu certify --sign`, the signature checked by openssl alone (the reader guide's
# command), the key's fingerprint in the manifest checked against openssl's, `certify --verify
# --key`, a forgery (a file changed, every hash recomputed) refused by both, and certificate.html
# rendered in headless Chromium (screenshot in target/certificate.png).
# Usage: ci/certify.sh [KAZASU-BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."

ci/install-deps.sh chromium openssl
kazasu=${1:-target/release/kazasu}
[ -x "$kazasu" ] || cargo build --release --locked
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "certify-check: $*" >&2; exit 1; }

echo "-- a lab's key, a signed bundle"
openssl genpkey -algorithm ed25519 -out "$work/lab.pem"
openssl pkey -in "$work/lab.pem" -pubout -out "$work/lab.pub.pem"
"$kazasu" certify --reader typical-424k -o "$work/bundle" --sign "$work/lab.pem" | tail -1

echo "-- the signature, checked with openssl alone"
(cd "$work/bundle" && openssl pkeyutl -verify -pubin -inkey ../lab.pub.pem -rawin \
  -in manifest.json -sigfile manifest.json.sig) | tee "$work/openssl.out"
grep -q "Signature Verified Successfully" "$work/openssl.out" || fail "openssl does not verify the signature"
fingerprint=$(openssl pkey -pubin -in "$work/lab.pub.pem" -outform DER | sha256sum | cut -d' ' -f1)
grep -q "\"signing_key_sha256\": \"$fingerprint\"" "$work/bundle/manifest.json" ||
  fail "the manifest does not name the key $fingerprint"
echo "the manifest names the key $fingerprint"

echo "-- kazasu certify --verify --key"
"$kazasu" certify --verify "$work/bundle" --key "$work/lab.pub.pem"

echo "-- a forgery: report.html changed, every hash recomputed"
cp -r "$work/bundle" "$work/forged"
echo "<!-- all passed -->" >>"$work/forged/report.html"
python3 - "$work/forged" <<'PY'
import hashlib, json, sys, os
d = sys.argv[1]
m = json.load(open(os.path.join(d, "manifest.json")))
for name in m["files"]:
    m["files"][name] = hashlib.sha256(open(os.path.join(d, name), "rb").read()).hexdigest()
open(os.path.join(d, "manifest.json"), "w").write(json.dumps(m, indent=2))
PY
if (cd "$work/forged" && openssl pkeyutl -verify -pubin -inkey ../lab.pub.pem -rawin \
  -in manifest.json -sigfile manifest.json.sig) >/dev/null 2>&1; then
  fail "openssl verified a forged manifest"
fi
echo "openssl refuses the forgery"
if "$kazasu" certify --verify "$work/forged" --key "$work/lab.pub.pem" >"$work/forged.out"; then
  cat "$work/forged.out"; fail "kazasu verified a forged bundle"
fi
grep "FAIL" "$work/forged.out"

echo "-- certificate.html in a browser"
browser=(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --user-data-dir="$work/profile")
page="file://$work/bundle/certificate.html"
timeout 120 "${browser[@]}" --dump-dom "$page" >"$work/dom.html" 2>"$work/chromium.log"
timeout 120 "${browser[@]}" --window-size=1100,1800 --screenshot="$work/certificate.png" "$page" \
  2>>"$work/chromium.log" >/dev/null
grep -q 'Conformance certificate: <code>typical-424k</code>' "$work/dom.html" || fail "no title"
grep -q 'id="verdict">every applicable case passed' "$work/dom.html" || fail "no verdict"
grep -q "id=\"key\">$fingerprint" "$work/dom.html" || fail "the page does not show the key"
rows=$(grep -c '<td class="pass">passed</td>' "$work/dom.html" || true)
[ "$rows" -ge 40 ] || fail "the coverage table shows $rows passed families"
[ -s "$work/certificate.png" ] || fail "no screenshot"
mkdir -p target && cp "$work/certificate.png" target/certificate.png
echo "certify-check: signed, verified by openssl and kazasu, forgery refused; certificate.html renders ($rows families passed, screenshot target/certificate.png)"
