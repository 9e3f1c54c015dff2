#!/usr/bin/env bash
# A deliberately fragile host for `kazasu fuzz-host`'s own tests: it reads the start of the JPKI
# authentication certificate through PC/SC (scriptor, from pcsc-tools) and dies by SIGSEGV —
# as a certificate parser without checks would — unless the answer starts like a DER
# certificate (30 82). Usage: crashing-host.sh READER-NAME
set -u
reader="$1"
out=$(printf '%s\n' \
    "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01" \
    "00 A4 02 0C 02 00 0A" \
    "00 B0 00 00 04" | scriptor -r "$reader" 2>&1)
# scriptor prints each answer as "< 30 82 06 26 : Normal processing."
last=$(printf '%s\n' "$out" | grep '^< ' | tail -n 1)
case "$last" in
    "< 30 82 "*) echo "certificate header read: ${last#< }"; exit 0 ;;
    *) echo "unexpected answer: ${last:-none}"; kill -SEGV $$ ;;
esac
