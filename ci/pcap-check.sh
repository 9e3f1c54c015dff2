#!/usr/bin/env bash
# kazasu's pcapng export checked by a foreign decoder: the bundled suite run with --pcap and
# --json, then Debian's tshark reads the file (ci/pcap-check.py): every APDU decodes as ISO 7816
# with no setting and their number is the report's, every air frame is there, CRCs are good
# unless a case corrupted them, malformed packets only where Wireshark 4.0 is known to fail.
# Usage: ci/pcap-check.sh path/to/kazasu
set -euo pipefail
bin=$(realpath "${1:?usage: ci/pcap-check.sh path/to/kazasu}")
cd "$(dirname "$0")/.."
ci/install-deps.sh tshark
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" run --pcap "$work/suite.pcapng" --json "$work/suite.json" >"$work/run.out" 2>"$work/run.err" \
  || { echo "pcap-check: the bundled suite failed: $(tail -5 "$work/run.out")" >&2; exit 1; }
grep -q "^pcap: " "$work/run.err" || { echo "pcap-check: run --pcap did not say what it wrote: $(cat "$work/run.err")" >&2; exit 1; }
python3 ci/pcap-check.py "$work/suite.pcapng" "$work/suite.json"
