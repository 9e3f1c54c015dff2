# Shared by the ci/ scripts that serve virtual cards through pcscd + vpcd. Source it after `cd`
# to the repository and after setting `kazasu` (the binary) and `name` (the script's name in
# messages). It gives a work folder removed on exit, `fail`, and one background `kazasu serve`:
#   serve ARGS...   serves (slot 0 on) and waits until pcscd shows a card on slot 0
#   stop_serving    stops it and waits until pcscd sees slot 0 empty
#   readers         the reader list (`opensc-tool -l`), never failing
# shellcheck shell=bash

work=$(mktemp -d)
serve_pid=
serve_duration=${serve_duration:-120s}
cleanup() {
  if [ -n "$serve_pid" ]; then
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "$name: FAIL: $*" >&2; exit 1; }

# (The reader list is read into a variable first: `grep -q` on a pipe can SIGPIPE the writer,
# which pipefail would count as a failure.)
readers() { opensc-tool -l 2>&1 || true; }
slot0_has_card() { grep -q "^0 *Yes" <<<"$(readers)"; }

serve() {
  "$kazasu" serve "$@" --duration "$serve_duration" 2>"$work/serve.err" &
  serve_pid=$!
  for _ in $(seq 1 300); do
    if slot0_has_card; then return 0; fi
    sleep 0.1
  done
  fail "the served card did not appear in pcscd within 30 s: $(cat "$work/serve.err")
pcscd: $(tail -20 "target/stack/pcscd.log" 2>/dev/null)"
}

stop_serving() {
  kill "$serve_pid" 2>/dev/null || true
  wait "$serve_pid" 2>/dev/null || true
  serve_pid=
  for _ in $(seq 1 100); do
    if ! slot0_has_card; then return 0; fi
    sleep 0.1
  done
}
