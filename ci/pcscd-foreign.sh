#!/usr/bin/env bash
# ci/pcscd.sh asks pcscd itself whether it serves the vpcd readers, not the process list: a
# pcscd started in a private mount namespace (its own /run/pcscd, unreachable from here) once made
# `ci/pcscd.sh start` say "using it", and the tests found no reader. Here such a pcscd runs while
# ci/pcscd.sh starts ours, which must list the vpcd readers. Needs root (unshare --mount).
# Usage: ci/pcscd-foreign.sh (pcscd stopped before and after)
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "pcscd-foreign: $*" >&2; exit 1; }

ci/pcscd.sh stop >/dev/null
mkdir -p target
conf=$(pwd)/target/foreign-reader.conf
: >"$conf"   # no readers: it must not take vpcd's ports (pcscd wants an absolute path)
unshare --mount --propagation private \
  bash -c "mkdir -p /run/pcscd && mount -t tmpfs kazasu-foreign /run/pcscd &&
    exec pcscd --foreground --config $conf" \
  >target/foreign-pcscd.log 2>&1 &
foreign=$!
trap 'kill $foreign 2>/dev/null || true; ci/pcscd.sh stop >/dev/null' EXIT
for _ in $(seq 1 50); do pgrep -x pcscd >/dev/null && break; sleep 0.1; done
pgrep -x pcscd >/dev/null || fail "the foreign pcscd did not start: $(tail -3 target/foreign-pcscd.log)"
ci/pcscd.sh start
readers=$(opensc-tool -l 2>/dev/null | grep -c "Virtual PCD" || true)
[ "$readers" -ge 2 ] || fail "with a foreign pcscd running, ci/pcscd.sh left no vpcd reader ($readers)"
echo "pcscd-foreign: a pcscd in another namespace did not stop ci/pcscd.sh: $readers vpcd readers"
