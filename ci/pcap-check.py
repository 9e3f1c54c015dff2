#!/usr/bin/env python3
"""Checks a pcapng file kazasu wrote (run --pcap) with a foreign decoder, Debian's tshark, against
the run's own JSON report: every APDU decodes as ISO 7816 and their number is the report's, every
air frame is there, every CRC Wireshark calls bad is a fault the case injected (or a frame longer
than 256 bytes: Wireshark 4.0 knows no FSD above 256 and cuts such frames short; their CRC is
checked here instead), and every packet Wireshark calls malformed is one of its named limits.

Usage: ci/pcap-check.py RUN.pcapng RUN.json
"""
import json
import struct
import subprocess
import sys

pcap, report = sys.argv[1], sys.argv[2]


def fail(msg):
    print(f"pcap-check: {msg}", file=sys.stderr)
    sys.exit(1)


def packets(path):
    """(linktype, data, comment) of every packet, from the file itself (little-endian, as kazasu writes)."""
    b = open(path, "rb").read()
    at, links, out = 0, [], []
    while at < len(b):
        kind, total = struct.unpack_from("<II", b, at)
        body = b[at + 8 : at + total - 4]
        if kind == 1:
            links.append(struct.unpack_from("<H", body, 0)[0])
        elif kind == 6:
            iface, _, _, cap, _ = struct.unpack_from("<IIIII", body, 0)
            data = body[20 : 20 + cap]
            opts, comment = body[20 + ((cap + 3) // 4) * 4 :], None
            while len(opts) >= 4:
                code, n = struct.unpack_from("<HH", opts, 0)
                if code == 0:
                    break
                if code == 1:
                    comment = opts[4 : 4 + n].decode()
                opts = opts[4 + ((n + 3) // 4) * 4 :]
            out.append((links[iface], data, comment))
        at += total
    return out


def crc(data, init):
    c = init
    for x in data:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ 0x8408 if c & 1 else c >> 1
    return c


def crc_holds(frame):
    """CRC_A or CRC_B over all but the last two bytes, stored low byte first."""
    if len(frame) < 3:
        return False
    body, stored = frame[:-2], frame[-2] | frame[-1] << 8
    return stored in (crc(body, 0x6363), crc(body, 0xFFFF) ^ 0xFFFF)


def well_formed(apdu):
    """ISO/IEC 7816-4 command cases 1-4, short or extended."""
    n = len(apdu)
    if n < 4:
        return False
    if n <= 5:
        return True
    if apdu[4] != 0:
        return n in (5 + apdu[4], 6 + apdu[4])
    if n == 7:
        return True
    lc = apdu[5] << 8 | apdu[6]
    return n in (7 + lc, 9 + lc)


def partial_anticollision(frame):
    """An ANTICOLLISION with some UID bits known (NVB neither 20 nor 70): Wireshark 4.0 takes it for a
    SELECT, reports it malformed and the card's answer (the rest of the UID) as a SAK with a bad CRC."""
    return len(frame) >= 2 and frame[0] in (0x93, 0x95, 0x97) and frame[1] not in (0x20, 0x70)


def tshark(*args):
    r = subprocess.run(["tshark", "-r", pcap, *args], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"tshark {' '.join(args)} failed: {r.stderr.strip()}")
    return [l for l in r.stdout.splitlines() if l.strip()]


ours = packets(pcap)
cases = json.load(open(report))["scenarios"]
entries = [e for c in cases for e in c["transcript"]["entries"]]
json_apdus = sum(1 for e in entries if e["command"])
json_frames = [f for e in entries for f in e["frames"] if f["what"] != "timeout"]
json_corrupted = sum(1 for f in json_frames if f["fate"] == "corrupted")

# 1. Every APDU decodes as ISO 7816 without Decode As, as many as the report has.
commands = tshark("-Y", "exported_pdu.p2p_dir == 0 && iso7816", "-T", "fields", "-e", "frame.number")
responses = tshark("-Y", "exported_pdu.p2p_dir == 1 && iso7816", "-T", "fields", "-e", "frame.number")
if len(commands) != json_apdus:
    fail(f"tshark decodes {len(commands)} command APDUs as ISO 7816; the JSON report has {json_apdus}")

# 2. Every frame of the report is on the air interfaces (plus the field switching).
air = [(d, c) for (lt, d, c) in ours if lt == 264]
frames = [(d, c) for (d, c) in air if d[1] in (0xFE, 0xFF)]
if len(frames) != len(json_frames):
    fail(f"{len(frames)} air frames in the file, {len(json_frames)} in the report")
if tshark("-Y", "iso14443.event == 0xfe || iso14443.event == 0xff", "-T", "fields", "-e", "frame.number").__len__() != len(frames):
    fail("tshark does not see every air frame as ISO 14443")

# 3. CRCs: good unless the case corrupted the frame, or the frame is longer than Wireshark reads.
status = tshark("-T", "fields", "-e", "frame.number", "-e", "iso14443.crc.status")
bad, long_ok, fault_ok, partial_ok = 0, 0, 0, 0
for line in status:
    parts = line.split("\t")
    if len(parts) < 2 or parts[1] != "0":
        continue
    bad += 1
    lt, data, comment = ours[int(parts[0]) - 1]
    frame = data[4:]
    before = ours[int(parts[0]) - 2][1][4:]
    if comment and "CRC error" in comment:
        fault_ok += 1
    elif partial_anticollision(before) and data[1] == 0xFF:
        partial_ok += 1
    elif len(frame) > 256 and crc_holds(frame):
        long_ok += 1
    else:
        fail(f"frame {parts[0]}: Wireshark finds its CRC bad and no fault of the case explains it: {frame.hex(' ')}")
good = sum(1 for l in status if l.endswith("\t1"))
if good == 0:
    fail("Wireshark verified no CRC at all: it did not recognise the activation")
if fault_ok != json_corrupted:
    fail(f"{fault_ok} frames with a CRC error in the file, the report has {json_corrupted}")

# 4. Activation recognised.
infos = "\n".join(tshark())
for what in ("REQB", "Attrib", "REQA", "RATS", "ATS"):
    if what not in infos:
        fail(f"tshark names no {what} frame")

# 5. Malformed packets: only Wireshark 4.0's named limits.
limits = {"S(DESELECT)": 0, "partial anticollision": 0, "malformed on purpose": 0}
for n in tshark("-Y", "_ws.malformed", "-T", "fields", "-e", "frame.number"):
    lt, data, comment = ours[int(n) - 1]
    if lt == 264:
        frame = data[4:]
        if frame and frame[0] & 0xF7 == 0xC2:
            limits["S(DESELECT)"] += 1
            continue
        if data[1] == 0xFE and partial_anticollision(frame):
            limits["partial anticollision"] += 1
            continue
    elif lt == 252:
        apdu = data[24:]
        if data[19] == 0 and not well_formed(apdu):
            limits["malformed on purpose"] += 1
            continue
    fail(f"packet {n} is malformed in Wireshark and not one of its named limits: {data.hex(' ')} ({comment})")

# 6. No PIN: every VERIFY's data is masked.
for lt, data, _ in ours:
    if lt == 252 and data[19] == 0:
        apdu = data[24:]
        if len(apdu) > 5 and apdu[1] in (0x20, 0x24, 0x2C) and apdu[0] & 0x80 == 0:
            start = 7 if apdu[4] == 0 and len(apdu) > 7 else 5
            if set(apdu[start:]) - {0x2A}:
                fail(f"a VERIFY with its data in the clear: {apdu.hex(' ')}")

print(
    f"pcap-check: {len(commands)} command and {len(responses)} response APDUs decoded as ISO 7816 "
    f"(the report: {json_apdus}); {len(frames)} air frames (the report: {len(json_frames)}); "
    f"CRC good {good}, bad {bad} ({fault_ok} corrupted by the cases' faults, {long_ok} longer than "
    f"256 bytes — an FSD Wireshark 4.0 does not know, it cuts them short — their CRC checked here, {partial_ok} the rest of a UID after a "
    f"partial anticollision); malformed only where Wireshark 4.0 "
    f"is known to fail: {', '.join(f'{k} {v}' for k, v in limits.items())}"
)
