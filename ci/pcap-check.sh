#!/usr/bin/env bash
# kazasu's pcapng export checked by a foreign decoder: the bundled suite run with --pcap and
# --json, then Debian's tshark reads the file (ci/pcap-check.py): every APDU decodes as ISO 7816
# with no setting and their number is the report's, every air frame is there, CRCs are good
# unless a case corrupted them, malformed packets only where Wireshark 4.0 is known to fail; and
# the USB CCID view (--pcap-usb) named CCID by tshark and imported back whole.
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

# The USB CCID view of the same run: tshark names it USBCCID from its descriptors alone, finds
# nothing malformed, and kazasu imports every APDU back.
"$bin" run --pcap-usb "$work/usb.pcapng" >/dev/null 2>"$work/usb.err" \
  || { echo "pcap-check: run --pcap-usb failed: $(cat "$work/usb.err")" >&2; exit 1; }
apdus=$(python3 -c 'import json,sys; print(sum(1 for c in json.load(open(sys.argv[1]))["scenarios"] for e in c["transcript"]["entries"] if e["command"]))' "$work/suite.json")
ccid=$(tshark -r "$work/usb.pcapng" -Y 'usbccid.bMessageType == 0x6f' 2>/dev/null | wc -l)
malformed=$(tshark -r "$work/usb.pcapng" -Y _ws.malformed 2>/dev/null | wc -l)
[ "$ccid" -ge "$apdus" ] || { echo "pcap-check: tshark names $ccid CCID XfrBlocks in the USB view, fewer than the $apdus APDUs" >&2; exit 1; }
[ "$malformed" = 0 ] || { echo "pcap-check: $malformed malformed packets in the USB view" >&2; exit 1; }
"$bin" import pcap "$work/usb.pcapng" -o "$work/usb.yaml" >"$work/import.out" 2>&1 \
  || { echo "pcap-check: the USB view does not import: $(cat "$work/import.out")" >&2; exit 1; }
grep -q "wrote .*: $apdus exchanges" "$work/import.out" \
  || { echo "pcap-check: the USB view imports as $(cat "$work/import.out"), not $apdus exchanges" >&2; exit 1; }
echo "pcap-check: the USB CCID view: $ccid XfrBlocks named USBCCID by tshark with no setting, 0 malformed, $apdus APDUs imported back"
