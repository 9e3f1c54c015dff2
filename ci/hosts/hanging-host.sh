#!/usr/bin/env bash
# A deliberately fragile host for `kazasu fuzz-host`'s own tests: it selects the JPKI
# application and reads the token information through PC/SC (scriptor, from pcsc-tools), and
# waits for ever — as a host retrying without a limit would — when any answer is not 90 00.
# Usage: hanging-host.sh READER-NAME
set -u
reader="$1"
out=$(printf '%s\n' \
    "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01" \
    "00 A4 02 0C 02 00 06" \
    "00 B0 00 00 20" | scriptor -r "$reader" 2>&1)
# scriptor ends each answer with its status word and meaning ("90 00 : Normal processing."),
# on the answer's last line.
words=$(printf '%s\n' "$out" | grep -cE '[0-9A-F]{2} [0-9A-F]{2} : ')
good=$(printf '%s\n' "$out" | grep -c '90 00 : Normal processing')
if [ "$words" -eq 3 ] && [ "$good" -eq 3 ]; then
    echo "token information read"
    exit 0
fi
echo "an answer was not 90 00; waiting for the card to come right"
while :; do sleep 1; done
