#!/usr/bin/env bash
# Walks the onboarding service's HTML pages in a real headless browser (Debian's Chromium,
# driven through chromedriver's W3C WebDriver API): the program page, a registration refused for
# a wrong invitation code (the code is not echoed back), the registration, the optional website
# step skipped, the order of a reader with its subsidy, and commissioning until the account is
# ready. Installs chromium, chromium-driver and jq when missing.
# Usage: ci/onboarding-browser.sh [KAZASU-BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."

ci/install-deps.sh chromium chromium-driver jq curl
kazasu=${1:-target/release/kazasu}
work=$(mktemp -d)
pids=()
cleanup() {
  if [ -n "${sid:-}" ]; then curl -s -X DELETE "$wd/session/$sid" >/dev/null || true; fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "onboarding-browser: FAIL: $*" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)); }
app_port=$(free_port)
wd_port=$(free_port)
app="http://127.0.0.1:$app_port"
wd="http://127.0.0.1:$wd_port"

"$kazasu" onboarding serve --addr "127.0.0.1:$app_port" --memory --today 2025-10-01 2>"$work/service.log" &
pids+=($!)
chromedriver --port="$wd_port" >"$work/chromedriver.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -sf "$app/api/program" >/dev/null && curl -sf "$wd/status" >/dev/null && break
  sleep 0.1
done
curl -sf "$app/api/program" >/dev/null || fail "the service did not start: $(cat "$work/service.log")"
curl -sf "$wd/status" >/dev/null || fail "chromedriver did not start: $(cat "$work/chromedriver.log")"

# wdreq METHOD PATH [JSON]: one WebDriver call; prints .value; fails on a WebDriver error.
wdreq() {
  local out
  out=$(curl -s -X "$1" -H 'content-type: application/json' "$wd$2" ${3:+-d "$3"})
  if jq -e '.value.error? // empty' <<<"$out" >/dev/null 2>&1; then
    fail "WebDriver $1 $2: $(jq -r '.value.error + ": " + .value.message' <<<"$out" | head -3)"
  fi
  jq -c '.value' <<<"$out"
}
caps=$(jq -nc --arg dir "$work/profile" '{capabilities: {alwaysMatch: {browserName: "chrome", "goog:chromeOptions": {binary: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", ("--user-data-dir=" + $dir)]}}}}')
sid=$(wdreq POST /session "$caps" | jq -r '.sessionId')
[ -n "$sid" ] && [ "$sid" != null ] || fail "no browser session"
s="/session/$sid"

go() { wdreq POST "$s/url" "$(jq -nc --arg u "$app$1" '{url: $u}')" >/dev/null; }
el() { wdreq POST "$s/element" "$(jq -nc --arg v "$1" '{using: "css selector", value: $v}')" | jq -r '.[]'; }
click() { wdreq POST "$s/element/$(el "$1")/click" '{}' >/dev/null; }
type_in() { wdreq POST "$s/element/$(el "$1")/value" "$(jq -nc --arg t "$2" '{text: $t}')" >/dev/null; }
clear_field() { wdreq POST "$s/element/$(el "$1")/clear" '{}' >/dev/null; }
text() { wdreq GET "$s/element/$(el "$1")/text" | jq -r '.'; }
source() { wdreq GET "$s/source" | jq -r '.'; }
here() { wdreq GET "$s/url" | jq -r '.'; }

# 1. The program page lists the products with their subsidy and links to the registration.
go /
source | grep -q "ADR-MNICU3" || fail "the program page lists no products"
click "#start"
case "$(here)" in */register) ;; *) fail "the start link went to $(here)" ;; esac

# 2. A wrong invitation code: refused with the field's error, and the code is not echoed back.
fill() {
  clear_field "#name"; type_in "#name" "かざす内科クリニック　１３１０１２３４５８"
  clear_field "#postal_code"; type_in "#postal_code" "100-0001"
  clear_field "#contact_email"; type_in "#contact_email" "desk@example.jp"
  click "#bt-sole"
  type_in "#invitation_code" "$1"
}
fill "QQ9Q9Q"
click "#submit"
page=$(source)
grep -q 'data-code="invitation_code.invalid"' <<<"$page" || fail "a wrong code was not refused on the page"
if grep -q "QQ9Q9Q" <<<"$page"; then fail "the page echoed the invitation code"; fi
[ "$(wdreq GET "$s/element/$(el "#name")/property/value" | jq -r '.')" = "かざす内科クリニック　１３１０１２３４５８" ] || fail "the name was not kept for a second try"

# 3. The right code (full-width name accepted): the account page, active.
fill "kz7q2m"
click "#submit"
case "$(here)" in */accounts/A000001*) ;; *) fail "registration went to $(here): $(source | grep -o 'data-code="[^"]*"' | head -3)" ;; esac
text "#status" | grep -q "active" || fail "the new account is not active: $(text "#status")"

# 4. The optional website step, skipped.
click "#skip-url"
source | grep -q "website: skipped" || fail "the website step was not skipped"

# 5. A withdrawn set cannot be chosen; the body-only reader is ordered with its subsidy.
[ "$(wdreq GET "$s/element/$(el "#p-sanwa-set")/enabled" | jq -r '.')" = false ] || fail "the withdrawn set can be chosen"
click "#p-sanwa-body"
click "#buy"
orders=$(text "#orders")
grep -q "¥9,800" <<<"$orders" && grep -q "¥4,900" <<<"$orders" || fail "the order does not show the subsidy: $orders"

# 6. Commissioning: the bought reader reads a phone; the account is ready.
click "#commission-run"
text "#message" | grep -q "signature verified" || fail "commissioning: $(text "#message")"
text "#status" | grep -q "ready" || fail "the account is not ready: $(text "#status")"

# The service's log has no invitation code either.
if grep -qi "kz7q2m\|QQ9Q9Q" "$work/service.log"; then fail "the service log holds an invitation code"; fi
echo "onboarding-browser: $(chromium --version 2>/dev/null | head -1) walked program → wrong code refused → registration → website skipped → order ¥9,800 − ¥4,900 → commissioned: ready"
