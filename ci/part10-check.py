#!/usr/bin/env python3
"""What a PC/SC client reads of a reader through kazasu's pcscd driver, with pyscard: the
reader's attributes (SCardGetAttrib), its PC/SC part 10 features (GET_FEATURE_REQUEST) and TLV
properties (GET_TLV_PROPERTIES), and a VERIFY PIN DIRECT on a PIN-pad reader profile against a
card `kazasu serve` holds — the PIN typed by the served pad's operator, never sent by the PC.
Then the same pad's Cancel (64 01) and an unknown control code (SCARD_E_UNSUPPORTED_FEATURE).

Usage: part10-check.py path/to/kazasu SLOT "READER NAME"   (pcscd on kazasu's driver)
"""
import hashlib
import json
import os
import re
import sys
import time

import served
from smartcard import scard as s

KAZASU, SLOT, READER = sys.argv[1], sys.argv[2], sys.argv[3]


def fail(msg):
    served.fail("part10-check", msg)


def ctl(code):
    return 0x42000000 + code


def tlvs(data, value_order="little"):
    out, i = {}, 0
    while i + 2 <= len(data):
        tag, n = data[i], data[i + 1]
        out[tag] = bytes(data[i + 2 : i + 2 + n])
        i += 2 + n
    return out


def serve(pad):
    """A card on SLOT through the pinpad-424k reader profile, its pad's operator `pad`."""
    return served.Served("part10-check", KAZASU, SLOT, f"pin_pad: {pad}\n",
                         args=("--reader", "pinpad-424k"))


def connect():
    rv, ctx = s.SCardEstablishContext(s.SCARD_SCOPE_USER)
    if rv != s.SCARD_S_SUCCESS:
        fail(f"no context: {s.SCardGetErrorMessage(rv)}")
    rv, card, _ = s.SCardConnect(ctx, READER, s.SCARD_SHARE_SHARED, s.SCARD_PROTOCOL_T1)
    if rv != s.SCARD_S_SUCCESS:
        fail(f"SCardConnect({READER}): {s.SCardGetErrorMessage(rv)}")
    return ctx, card


def control(card, code, data=()):
    rv, answer = s.SCardControl(card, code, list(data))
    return rv, bytes(answer)


def transmit(card, apdu):
    rv, answer = s.SCardTransmit(card, s.SCARD_PCI_T1, list(apdu))
    if rv != s.SCARD_S_SUCCESS:
        fail(f"SCardTransmit {bytes(apdu).hex()}: {s.SCardGetErrorMessage(rv)}")
    return bytes(answer)


def attribute(card, attr):
    rv, value = s.SCardGetAttrib(card, attr)
    if rv != s.SCARD_S_SUCCESS:
        fail(f"SCardGetAttrib {attr:#x}: {s.SCardGetErrorMessage(rv)}")
    return bytes(value)


JPKI = bytes.fromhex("00A4040C0AD392F000260100000001")
# VERIFY PIN DIRECT: the pad's time-out, ASCII digits as typed (bmFormatString 82, no block),
# 4-8 digits, OK key, then VERIFY of the selected PIN with Lc 0 for the pad to fill.
VERIFY = bytes([0x00, 0x00, 0x82, 0x00, 0x00, 0x08, 0x04, 0x02, 0x01, 0x09, 0x04, 0x00,
                0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x80, 0x00])


def pin_ef(card):
    for apdu in (JPKI, bytes.fromhex("00A4020C020018")):
        if transmit(card, apdu)[-2:] != b"\x90\x00":
            fail(f"{apdu.hex()} was refused")


pad = serve("{ do: enter, pin: auth_pin, after: 300ms }")
try:
    ctx, card = connect()
    # The reader's attributes, as the profile has them.
    vendor = attribute(card, s.SCARD_ATTR_VENDOR_NAME)
    model = attribute(card, s.SCARD_ATTR_VENDOR_IFD_TYPE)
    version = int.from_bytes(attribute(card, s.SCARD_ATTR_VENDOR_IFD_VERSION), "little")
    serial = attribute(card, s.SCARD_ATTR_VENDOR_IFD_SERIAL_NO)
    maxinput = int.from_bytes(attribute(card, s.SCARD_ATTR_MAXINPUT), "little")
    if (vendor, model, version, serial) != (b"kazasu test readers\0", b"PIN pad 424k\0",
                                            0x02010007, b"KZ0000424\0"):
        fail(f"attributes: {vendor!r} {model!r} {version:#x} {serial!r}")
    if maxinput != 512:
        fail(f"MAXINPUT {maxinput}, the synthetic reader's 522-byte messages less 10 expected")
    # The features and their codes.
    rv, features = control(card, ctl(3400))
    if rv != s.SCARD_S_SUCCESS:
        fail(f"GET_FEATURE_REQUEST: {s.SCardGetErrorMessage(rv)}")
    codes = {tag: int.from_bytes(v, "big") for tag, v in tlvs(features).items()}
    want = {0x06: ctl(0x330006), 0x07: ctl(0x330007), 0x0A: ctl(0x33000A),
            0x12: ctl(0x330012), 0x13: ctl(1)}
    if codes != want:
        fail(f"features {codes}, expected {want}")
    rv, props = control(card, codes[0x12])
    if rv != s.SCARD_S_SUCCESS:
        fail(f"GET_TLV_PROPERTIES: {s.SCardGetErrorMessage(rv)}")
    p = tlvs(props)
    got = (int.from_bytes(p[10], "little"), p[6][0], p[7][0], int.from_bytes(p[11], "little"))
    if got != (0x10000, 4, 8, 0x1209):
        fail(f"TLV properties (dwMaxAPDUDataSize, min, max PIN, wIdVendor) {got}")
    # VERIFY PIN DIRECT: the pad's operator types the identity's auth PIN.
    pin_ef(card)
    t0 = time.monotonic()
    rv, answer = control(card, codes[0x06], VERIFY)
    if rv != s.SCARD_S_SUCCESS or answer != b"\x90\x00":
        fail(f"VERIFY PIN DIRECT: {s.SCardGetErrorMessage(rv)} {answer.hex()}")
    # The PIN is verified: the authentication key signs.
    if transmit(card, bytes.fromhex("00A4020C020017"))[-2:] != b"\x90\x00":
        fail("SELECT of the auth key refused")
    digest_info = bytes.fromhex("3031300d060960864801650304020105000420") + hashlib.sha256(b"kazasu").digest()
    sig = transmit(card, bytes([0x80, 0x2A, 0x00, 0x80, len(digest_info)]) + digest_info + b"\x00")
    if sig[-2:] != b"\x90\x00" or len(sig) != 258:
        fail(f"the signature after the pad's VERIFY: {sig[-2:].hex()}, {len(sig)} bytes")
    # A code the reader offers no feature for.
    rv, _ = control(card, ctl(3500))
    if rv != s.SCARD_E_UNSUPPORTED_FEATURE:
        fail(f"SCARD_CTL_CODE(3500): {s.SCardGetErrorMessage(rv)}, not SCARD_E_UNSUPPORTED_FEATURE")
    s.SCardDisconnect(card, s.SCARD_LEAVE_CARD)
    s.SCardReleaseContext(ctx)
finally:
    pad.stop()
lines = [json.loads(l) for l in open(pad.transcript)]
controls = [l for l in lines if l["event"] == "control"]
attributes = [l for l in lines if l["event"] == "attribute"]
if len(controls) < 4 or len(attributes) < 5:
    fail(f"the transcript has {len(controls)} control and {len(attributes)} attribute lines")
# The PIN the pad typed (serve prints the test identity's PINs) is nowhere in the transcript.
log = open(pad.log).read()
pin = re.search(r"auth PIN (\d+)", log)
if not pin:
    fail(f"serve did not name the identity's auth PIN: {log}")
text = open(pad.transcript).read().upper()
spaced = " ".join(f"{b:02X}" for b in pin.group(1).encode())
if spaced in text or pin.group(1).encode().hex().upper() in text:
    fail("the typed PIN is in the serve transcript")
verify_lines = [l for l in controls if l["code"] == "0x42330006"]
if not verify_lines or verify_lines[0]["response"] != "90 00":
    fail(f"the transcript's VERIFY PIN DIRECT: {verify_lines}")

# The same pad, its operator pressing Cancel.
pad = serve("{ do: cancel, after: 200ms }")
try:
    ctx, card = connect()
    pin_ef(card)
    rv, answer = control(card, ctl(0x330006), VERIFY)
    if rv != s.SCARD_S_SUCCESS or answer != b"\x64\x01":
        fail(f"Cancel on the pad: {s.SCardGetErrorMessage(rv)} {answer.hex()}, 64 01 expected")
    left = transmit(card, bytes.fromhex("00200080"))
    if left != b"\x63\xC3":
        fail(f"tries left after a cancel: {left.hex()}")
    s.SCardDisconnect(card, s.SCARD_LEAVE_CARD)
    s.SCardReleaseContext(ctx)
finally:
    pad.stop()
print(f"part10-check: {READER} on pinpad-424k: attributes (vendor, model, version 2.1.7, "
      f"serial, MAXINPUT {maxinput}), {len(codes)} features, dwMaxAPDUDataSize 65536, "
      f"VERIFY PIN DIRECT 90 00 (the key then signs), Cancel 64 01 with 3 tries kept, "
      f"an unknown code SCARD_E_UNSUPPORTED_FEATURE")
