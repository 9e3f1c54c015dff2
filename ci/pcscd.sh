#!/usr/bin/env bash
# Starts or stops pcscd (with vsmartcard's vpcd driver) without systemd, for kazasu's real-stack
# tests and for `kazasu serve`. Installs the Debian packages first when they are missing.
#   ci/pcscd.sh start   # start pcscd in the background, wait until the vpcd readers are listed
#                       # (16 slots; KAZASU_VPCD_SLOTS=2..16 for fewer)
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
  # Ask pcscd itself, through its socket, not the process list: a pcscd of another mount
  # namespace or user does not answer here and is not ours to use, and one that answers without
  # vpcd readers cannot serve the tests.
  answer=$(timeout 10 opensc-tool -l 2>&1 || true)
  readers=$(grep -c "Virtual PCD" <<<"$answer" || true)
  if [ "$readers" -ge 2 ]; then
    echo "pcscd.sh: a pcscd answers with $readers vpcd readers; using it"
    exit 0
  fi
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    # Ours, but it does not answer: start afresh.
    kill "$(cat "$pidfile")" 2>/dev/null || true
    sleep 0.5
  fi
  mkdir -p /run/pcscd
  # vpcd drives two slots per configured reader and keeps its state per loaded library, so
  # each further reader gets its own copy of the driver. One file, in slot order: pcscd lists
  # the readers in that order (slot n = reader index n = port 35963 + n).
  slots=${KAZASU_VPCD_SLOTS:-16}
  if ! [[ "$slots" =~ ^[0-9]+$ ]] || [ "$slots" -lt 2 ] || [ "$slots" -gt 16 ] || [ $((slots % 2)) -ne 0 ]; then
    echo "pcscd.sh: KAZASU_VPCD_SLOTS must be an even number from 2 to 16 (pcscd's limit), not '$slots'" >&2
    exit 2
  fi
  driver=$(sed -n 's/^LIBPATH[[:space:]]*//p' /etc/reader.conf.d/vpcd 2>/dev/null | head -n 1)
  [ -n "$driver" ] && [ -f "$driver" ] || { echo "pcscd.sh: vsmartcard-vpcd's driver not found (/etc/reader.conf.d/vpcd)" >&2; exit 1; }
  conf_dir=$(pwd)/target/vpcd
  rm -rf "$conf_dir" && mkdir -p "$conf_dir"
  for k in $(seq 0 $((slots / 2 - 1))); do
    port=$((0x8C7B + 2 * k))
    name="Virtual PCD"
    [ "$k" -gt 0 ] && name="Virtual PCD $k"
    cp "$driver" "$conf_dir/libifdvpcd-$k.so"
    printf 'FRIENDLYNAME "%s"\nDEVICENAME   /dev/null:%d\nLIBPATH      %s\nCHANNELID    %d\n\n' \
      "$name" "$port" "$conf_dir/libifdvpcd-$k.so" "$port" >>"$conf_dir/reader.conf"
  done
  if [ "${KAZASU_PCSCD_DEBUG:-1}" = 0 ]; then
    pcscd --foreground --config "$conf_dir/reader.conf" >"$log" 2>&1 &
  else
    pcscd --foreground --debug --apdu --config "$conf_dir/reader.conf" >"$log" 2>&1 &
  fi
  echo $! >"$pidfile"
  # Wait until pcscd lists the vpcd readers (vpcd listens on 35963 for slot 0).
  for _ in $(seq 1 100); do
    list=$(opensc-tool -l 2>/dev/null || true)
    if [ "$(grep -c "Virtual PCD" <<<"$list")" -ge "$slots" ]; then
      echo "pcscd.sh: pcscd $(cat "$pidfile") is up with $slots vpcd slots"
      exit 0
    fi
    sleep 0.1
  done
  echo "pcscd.sh: pcscd did not list the vpcd readers within 10 s; see $log" \
    "(a pcscd started by the system holds the socket? stop it: systemctl stop pcscd.socket pcscd)" >&2
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
