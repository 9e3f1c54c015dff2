#!/usr/bin/env python3
"""A panic inside kazasu's pcscd driver is caught (the driver's panic-test build panics on the
command FF EE 00 00 00): the command ends with an error, pcscd lives on, and the same card on the
same slot answers the next command.
Usage: ci/panic-check.py SLOT-SOCKET READER-NAME   (pcscd with the panic-test build of the driver)"""
import socket
import struct
import sys
import threading
import time

from smartcard.scard import (SCARD_LEAVE_CARD, SCARD_PROTOCOL_T1, SCARD_SCOPE_USER,
                             SCARD_SHARE_SHARED, SCARD_STATE_PRESENT, SCARD_STATE_UNAWARE,
                             SCardConnect, SCardDisconnect, SCardEstablishContext,
                             SCardGetStatusChange, SCardTransmit)

path, reader = sys.argv[1], sys.argv[2]
ATR = bytes.fromhex("3B8180018080")


def fail(why):
    sys.exit(f"panic-check: {why}")


def holder(s):
    """Answers the driver: the ATR, then 90 00 to every APDU."""
    try:
        while True:
            head = s.recv(2)
            if len(head) < 2:
                return
            body = s.recv(struct.unpack(">H", head)[0])
            if body == b"\x04":
                s.sendall(struct.pack(">H", len(ATR)) + ATR)
            elif len(body) > 1:
                s.sendall(b"\x00\x02\x90\x00")
    except OSError:
        return


s = socket.socket(socket.AF_UNIX)
s.connect(path)
threading.Thread(target=holder, args=(s,), daemon=True).start()
hr, ctx = SCardEstablishContext(SCARD_SCOPE_USER)
state = SCARD_STATE_UNAWARE
deadline = time.time() + 5
while not state & SCARD_STATE_PRESENT and time.time() < deadline:
    hr, st = SCardGetStatusChange(ctx, 1000, [(reader, state)])
    if hr == 0:
        state = st[0][1]
hr, card, proto = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1)
if hr != 0:
    fail(f"cannot connect ({hr:#x})")
hr, answer = SCardTransmit(card, proto, [0xFF, 0xEE, 0x00, 0x00, 0x00])
if hr == 0:
    fail(f"the panicking command succeeded ({bytes(answer).hex()}): is this the panic-test build?")
hr2, fresh = SCardEstablishContext(SCARD_SCOPE_USER)
SCardDisconnect(card, SCARD_LEAVE_CARD)
hr3, card, proto = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1)
hr4, answer = SCardTransmit(card, proto, [0x00, 0xA4, 0x04, 0x00, 0x02, 0x3F, 0x00]) if hr3 == 0 else (hr3, [])
print(f"panic-check: the panicking command ended with {hr:#x}; pcscd {'serves' if hr2 == 0 else 'lost'} "
      f"a new client; the next command answered {bytes(answer).hex() or '(nothing)'}")
if hr2 != 0 or hr4 != 0 or bytes(answer) != b"\x90\x00":
    fail("pcscd or the slot did not survive the panic")
