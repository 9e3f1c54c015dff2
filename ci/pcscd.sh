#!/usr/bin/env bash
# Starts or stops pcscd (with vsmartcard's vpcd driver) without systemd, for kazasu's real-stack
# tests and for `kazasu serve`. Installs the Debian packages first when they are missing.
#   ci/pcscd.sh start   # start pcscd in the background, wait until the vpcd readers are listed
#   ci/pcscd.sh stop    # stop the pcscd this script started (by its PID)
# The debug log (with APDUs) goes to ${KAZASU_PCSCD_LOG:-target/pcscd.log};
# KAZASU_PCSCD_DEBUG=0 starts pcscd without debug logging (for benchmarks).
set -euo pipefail
cd "$(dirname "$0")/.."

pidfile=target/pcscd.pid
log=${KAZASU_PCSCD_LOG:-target/pcscd.log}
mkdir -p target

case "${1:-}" in
start)
  ci/install-deps.sh pcscd vsmartcard-vpcd libpcsclite-dev pcsc-tools opensc
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "pcscd.sh: pcscd already running (pid $(cat "$pidfile"))"
    exit 0
  fi
  if pgrep -x pcscd >/dev/null; then
    echo "pcscd.sh: another pcscd is running (pid $(pgrep -x pcscd | head -1)); using it" >&2
    exit 0
  fi
  mkdir -p /run/pcscd
  if [ "${KAZASU_PCSCD_DEBUG:-1}" = 0 ]; then
    pcscd --foreground >"$log" 2>&1 &
  else
    pcscd --foreground --debug --apdu >"$log" 2>&1 &
  fi
  echo $! >"$pidfile"
  # Wait until pcscd lists the vpcd readers (vpcd listens on 35963 for slot 0).
  for _ in $(seq 1 100); do
    list=$(opensc-tool -l 2>/dev/null || true)
    if grep -q "Virtual PCD 00 00" <<<"$list"; then
      echo "pcscd.sh: pcscd $(cat "$pidfile") is up with the vpcd readers"
      exit 0
    fi
    sleep 0.1
  done
  echo "pcscd.sh: pcscd did not list the vpcd readers within 10 s; see $log" >&2
  exit 1
  ;;
stop)
  if [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    echo "pcscd.sh: stopped pcscd $pid"
  fi
  ;;
*)
  echo "usage: ci/pcscd.sh start|stop" >&2
  exit 2
  ;;
esac
