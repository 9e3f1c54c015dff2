#!/usr/bin/env bash
# A client-style walk of the physical card's other applications through the real stack (pcscd +
# vpcd + kazasu serve), with pyscard: the MF's GET DATA objects and CV chain, the 共通カードAP's
# record by short EF id and its INTERNAL AUTHENTICATE, the 住基AP's PIN by SFI, the card-info
# AP's certificate read whole with an extended Le and in chunks, the 券面事項確認AP's card face and
# age record — every signature checked with openssl — on the card, and the same applications
# absent on both phone profiles.
# Needs pcscd started (ci/pcscd.sh start). Usage: ci/interop-apps.sh [KAZASU-BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."

kazasu=${1:-target/release/kazasu}
name=interop-apps
source ci/lib.sh
ci/install-deps.sh python3-pyscard
# Debian's pyscard is for Debian's Python, whatever python3 comes first on PATH.
python=/usr/bin/python3

serve --card mynumber-card:yamada-taro --card android-jpki --card iphone-jpki
for _ in $(seq 1 100); do grep -q "^2 *Yes" <<<"$(readers)" && break; sleep 0.1; done
grep -q "^2 *Yes" <<<"$(readers)" || fail "the iPhone did not appear on slot 2: $(readers)"
"$python" ci/peers/walk-apps.py card "Virtual PCD 00 00" sim/data/fixtures/pki "$work"
"$python" ci/peers/walk-apps.py phone "Virtual PCD 00 01" sim/data/fixtures/pki "$work"
"$python" ci/peers/walk-apps.py phone "Virtual PCD 1 00 00" sim/data/fixtures/pki "$work"
echo "interop-apps: the card's applications walked through pcscd, both phones without them"
