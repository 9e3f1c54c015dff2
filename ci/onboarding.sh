#!/usr/bin/env bash
# The onboarding service as its users meet it: its API description validated (OpenAPI), the
# onboarding scenarios against the embedded service and against a served one (--target), then the
# onboarding guide's walkthrough — the curl lines between its onboarding-walkthrough markers, run as written
# (with the built binary in place of `cargo run --release --`) — checked for an active account, a
# subsidised order and a ready account, with no invitation code in the service's log.
# Usage: ci/onboarding.sh [KAZASU-BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."

kazasu=${1:-target/release/kazasu}
work=$(mktemp -d)
serve_pid=
cleanup() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "onboarding: FAIL: $*" >&2; exit 1; }

# The API description is valid OpenAPI (checked by openapi-spec-validator from PyPI).
ci/install-deps.sh python3-pip
if [ ! -d target/openapi-validator ]; then
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
    --target target/openapi-validator openapi-spec-validator >"$work/pip.log" 2>&1 \
    || fail "cannot install openapi-spec-validator: $(tail -5 "$work/pip.log")"
fi
PYTHONPATH=target/openapi-validator python3 -m openapi_spec_validator docs/onboarding-openapi.yaml >"$work/openapi.txt" 2>&1 \
  || fail "docs/onboarding-openapi.yaml is not valid OpenAPI: $(cat "$work/openapi.txt")"
echo "onboarding: docs/onboarding-openapi.yaml is valid OpenAPI 3.1"

"$kazasu" run scenarios/onboarding/ --junit target/kazasu-onboarding-junit.xml >"$work/embedded.txt" \
  || fail "the onboarding scenarios: $(tail -20 "$work/embedded.txt")"
echo "onboarding: embedded service: $(tail -1 "$work/embedded.txt")"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18089)
"$kazasu" onboarding serve --addr "127.0.0.1:$port" --memory --allow-reset 2>"$work/target.log" &
serve_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/api/program" >/dev/null && break; sleep 0.1; done
"$kazasu" run scenarios/onboarding/ --target "http://127.0.0.1:$port" >"$work/target.txt" \
  || fail "the onboarding scenarios against a served instance: $(tail -20 "$work/target.txt")"
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; serve_pid=
echo "onboarding: served instance (--target): $(tail -1 "$work/target.txt")"

# The onboarding guide's walkthrough (docs/guide/onboarding.md), as a new user runs it.
sed -n '/<!-- onboarding-walkthrough -->/,/<!-- \/onboarding-walkthrough -->/p' docs/guide/onboarding.md \
  | sed '1,2d;$d' | sed '$d' >"$work/walkthrough.sh"
grep -q "curl" "$work/walkthrough.sh" || fail "no walkthrough found in docs/guide/onboarding.md"
sed -i "s#^kazasu #$(realpath "$kazasu") #" "$work/walkthrough.sh"
(cd "$work" && bash -e walkthrough.sh >"$work/walk.out" 2>"$work/walk.err") \
  || fail "the onboarding guide's walkthrough: $(cat "$work/walk.out" "$work/walk.err" | tail -20)"
out=$(cat "$work/walk.out")
grep -q '"status":"active"' <<<"$out" || fail "walkthrough: no active account: $out"
grep -q '"subsidy_yen":4900' <<<"$out" || fail "walkthrough: no subsidised order: $out"
grep -q '"passed":true' <<<"$out" || fail "walkthrough: commissioning did not pass: $out"
tail -1 "$work/walk.out" | grep -q '"status":"ready"' || fail "walkthrough: the account is not ready: $(tail -1 "$work/walk.out")"
if grep -q "KZ7Q2M" "$work/walk.err" "$work/target.log"; then fail "a service log holds the invitation code"; fi
echo "onboarding: the guide's walkthrough registered, ordered (¥9,800 − ¥4,900) and commissioned an account: ready"
