#!/usr/bin/env bash
# Opens kazasu's HTML report in a real headless browser (Debian's Chromium) and checks that the
# page renders with its frame timeline: the DOM the browser built has the waterfall SVG and its
# bars, and a screenshot is written. Usage: ci/html-check.sh [KAZASU-BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."

ci/install-deps.sh chromium
kazasu=${1:-target/release/kazasu}
[ -x "$kazasu" ] || cargo build --release --locked
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$kazasu" run --html "$work/report.html" --filter "auth flow fits" >/dev/null
browser=(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --user-data-dir="$work/profile")
timeout 120 "${browser[@]}" --dump-dom "file://$work/report.html" >"$work/dom.html" 2>"$work/chromium.log"
timeout 120 "${browser[@]}" --window-size=1200,1600 --screenshot="$work/report.png" "file://$work/report.html" 2>>"$work/chromium.log" >/dev/null

fail() { echo "html-check: $*" >&2; exit 1; }
grep -q '<svg class="waterfall"' "$work/dom.html" || fail "the rendered page has no timeline SVG"
bars=$(grep -o '<rect ' "$work/dom.html" | wc -l)
[ "$bars" -gt 100 ] || fail "the timeline has only $bars frame bars"
grep -q 'kazasu conformance report' "$work/dom.html" || fail "the page title is missing"
[ -s "$work/report.png" ] || fail "no screenshot"
echo "html-check: the report renders in $(chromium --version 2>/dev/null | head -1): $bars frame bars, screenshot $(stat -c %s "$work/report.png") bytes"
