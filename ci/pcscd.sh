#!/usr/bin/env bash
# pcscd with kazasu's own reader driver (or vsmartcard's vpcd) for kazasu's own tests and
# scripts: a thin caller of `kazasu stack up` / `kazasu stack down` (what users run from the
# installed binary) with the repository's folder, target/stack. Installs the Debian packages
# first when they are missing, and builds kazasu's driver beside the binary (KAZASU_DRIVER=vpcd:
# vpcd instead).
#   ci/pcscd.sh start   # pcscd in the background, returns once every vpcd slot waits for a card
#                       # (16 slots; KAZASU_VPCD_SLOTS=2..16 for fewer); a running pcscd that
#                       # has the slots is used as it is
#   ci/pcscd.sh stop    # stop the pcscd this script started
# pcscd logs every APDU to target/stack/pcscd.log; KAZASU_PCSCD_DEBUG=0 starts it without (for
# benchmarks). The kazasu binary is $KAZASU, else target/debug/kazasu, else an installed kazasu
# (built when there is none).
set -euo pipefail
cd "$(dirname "$(realpath "$0")")/.."   # the repository, also when called through a link

dir=target/stack
kazasu=${KAZASU:-target/debug/kazasu}
if ! [ -x "$kazasu" ] && command -v kazasu >/dev/null 2>&1; then
  kazasu=$(command -v kazasu)   # an installed kazasu, where this checkout built none
fi
if ! [ -x "$kazasu" ]; then
  echo "pcscd.sh: building kazasu for \`kazasu stack\` (cargo build -p kazasu)" >&2
  cargo build -q -p kazasu
  kazasu=target/debug/kazasu
fi

case "${1:-}" in
start)
  ci/install-deps.sh pcscd vsmartcard-vpcd libpcsclite-dev pcsc-tools opensc
  up=(stack up --dir "$dir" --slots "${KAZASU_VPCD_SLOTS:-16}")
  if [ "${KAZASU_DRIVER:-kazasu}" = kazasu ]; then
    [ -f target/debug/libkazasu_ifd.so ] || cargo build -q -p kazasu-ifd --locked
    up+=(--driver kazasu --library "$PWD/target/debug/libkazasu_ifd.so")
  else
    up+=(--driver vpcd)
  fi
  [ "${KAZASU_PCSCD_DEBUG:-1}" = 0 ] || up+=(--debug)
  # The reader names go to stdout, which scripts here do not read.
  if ! "$kazasu" "${up[@]}" >/dev/null; then
    # One of ours that no longer answers holds the ports: stop it and start afresh, once.
    "$kazasu" stack down --dir "$dir" 2>/dev/null || true
    "$kazasu" "${up[@]}" >/dev/null
  fi
  ;;
stop)
  "$kazasu" stack down --dir "$dir"
  ;;
*)
  echo "usage: ci/pcscd.sh start|stop" >&2
  exit 2
  ;;
esac
