#!/usr/bin/env python3
"""Taps on kazasu's pcscd reader driver as a PC/SC client sees them (pyscard): a card attached to
a slot's socket — as kazasu attaches one, answering the driver's ATR request — and detached, 200
times one by one: the time from attaching (and from detaching) until SCardGetStatusChange reports
the card present (absent), whose medians must be at most 1 ms; then 1,000 taps back to back with
no wait at all, which must come out as exactly 2,000 events in pcscd's event counter (none lost,
none merged) and an empty slot at the end; and a card whose holder is killed (SIGKILL) during a
command: the command ends with an error within a second, the slot is empty, and pcscd still
serves clients; and an SCardControl to a card held by such a plain holder (no kazasu greeting)
is refused at once rather than forwarded to a holder that would never answer.
Usage: ci/tap-check.py SLOT-SOCKET READER-NAME   (pcscd with kazasu's driver; no card served there)"""
import socket
import statistics
import struct
import sys
import time

import os
import signal
import subprocess
import threading

from smartcard.scard import (SCARD_E_UNSUPPORTED_FEATURE, SCARD_PROTOCOL_T1, SCARD_SCOPE_USER,
                             SCARD_SHARE_SHARED, SCARD_STATE_EMPTY, SCARD_STATE_PRESENT,
                             SCARD_STATE_UNAWARE, SCardConnect, SCardControl,
                             SCardEstablishContext, SCardGetStatusChange, SCardTransmit)

path, reader = sys.argv[1], sys.argv[2]
ATR = bytes.fromhex("3B8180018080")


def fail(why):
    sys.exit(f"tap-check: {why}")


def attach():
    """A card on the slot: connect, answer the driver's GET ATR."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(path)
    head = b""
    while len(head) < 3:
        chunk = s.recv(3 - len(head))
        if not chunk:
            fail("the driver closed the socket before asking for the ATR")
        head += chunk
    if head != b"\x00\x01\x04":
        fail(f"the driver's first request is {head.hex()}, not GET ATR")
    s.sendall(struct.pack(">H", len(ATR)) + ATR)
    return s


hr, ctx = SCardEstablishContext(SCARD_SCOPE_USER)
if hr != 0:
    fail("pcscd is not reachable")
hr, states = SCardGetStatusChange(ctx, 0, [(reader, SCARD_STATE_UNAWARE)])
if hr != 0:
    fail(f"no reader {reader!r}")
state = states[0][1]


def wait_for(flag):
    """Until the reader shows `flag`; the state it showed."""
    global state
    deadline = time.perf_counter() + 5
    while not state & flag:
        if time.perf_counter() > deadline:
            fail(f"the reader never showed {flag:#x} (state {state:#x})")
        hr, st = SCardGetStatusChange(ctx, 5000, [(reader, state)])
        if hr == 0:
            state = st[0][1]
    return state


wait_for(SCARD_STATE_EMPTY)
inserts, removals = [], []
for _ in range(200):
    t = time.perf_counter()
    s = attach()
    wait_for(SCARD_STATE_PRESENT)
    inserts.append(time.perf_counter() - t)
    t = time.perf_counter()
    s.close()
    wait_for(SCARD_STATE_EMPTY)
    removals.append(time.perf_counter() - t)
ms = lambda v: statistics.median(v) * 1e3
print(f"tap-check: 200 taps: present after {ms(inserts):.3f} ms (median; max "
      f"{max(inserts) * 1e3:.2f}), absent after {ms(removals):.3f} ms (median; max {max(removals) * 1e3:.2f})")

events = lambda st: st >> 16
before = events(state)
for _ in range(1000):
    attach().close()
# Until pcscd's loop has shown every queued edge: the counter stops moving on an empty slot.
deadline = time.perf_counter() + 30
seen = before
while time.perf_counter() < deadline:
    hr, st = SCardGetStatusChange(ctx, 500, [(reader, state)])
    if hr == 0:
        state = st[0][1]
        seen = events(state)
    elif (seen - before) % 65536 >= 2000 and state & SCARD_STATE_EMPTY:
        break
counted = (seen - before) % 65536
print(f"tap-check: 1,000 taps back to back: {counted} events in pcscd's counter (2,000 expected), "
      f"slot {'empty' if state & SCARD_STATE_EMPTY else 'not empty'} at the end")
# A holder killed mid-command: a process that attaches a card and never answers an APDU.
holder = subprocess.Popen([sys.executable, "-c", f"""
import socket, struct, time
s = socket.socket(socket.AF_UNIX); s.connect({path!r})
assert s.recv(3) == b"\\x00\\x01\\x04"
s.sendall(struct.pack(">H", {len(ATR)}) + {ATR!r})
time.sleep(60)
"""])
wait_for(SCARD_STATE_PRESENT)
hr, card, proto = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1)
if hr != 0:
    fail(f"cannot connect to the held card ({hr:#x})")
# A holder that is not kazasu (no greeting) answers no reader requests: refused at once.
t = time.perf_counter()
hr, _ = SCardControl(card, 0x42000D48, [])
asked = time.perf_counter() - t
if hr != SCARD_E_UNSUPPORTED_FEATURE or asked > 0.5:
    fail(f"GET_FEATURE_REQUEST to a card held by a plain vpcd holder: {hr:#x} after {asked:.3f} s, "
         "not SCARD_E_UNSUPPORTED_FEATURE at once")
ended = {}
def command():
    t = time.perf_counter()
    hr, answer = SCardTransmit(card, proto, [0x00, 0xA4, 0x04, 0x00, 0x02, 0x3F, 0x00])
    ended["hr"], ended["after"] = hr, time.perf_counter() - t
sender = threading.Thread(target=command)
sender.start()
time.sleep(0.2)
os.kill(holder.pid, signal.SIGKILL)
holder.wait()
killed_at = time.perf_counter()
sender.join(10)
if sender.is_alive() or "hr" not in ended:
    fail("the command never ended after its card's holder was killed")
took = ended["after"] - 0.2
wait_for(SCARD_STATE_EMPTY)
hr, fresh = SCardEstablishContext(SCARD_SCOPE_USER)
print(f"tap-check: holder killed mid-command: the command ended {took * 1e3:.1f} ms after with "
      f"{ended['hr']:#x}, the slot is empty, pcscd {'serves' if hr == 0 else 'does not serve'} a new client")

bad = []
if ended["hr"] == 0:
    bad.append("the command succeeded although its card's holder was killed")
if took > 1:
    bad.append(f"the killed command ended {took:.1f} s later")
if hr != 0:
    bad.append("pcscd no longer serves clients")
if ms(inserts) > 1 or ms(removals) > 1:
    bad.append("a median above 1 ms")
if counted != 2000:
    bad.append(f"{counted} events, not 2,000")
if not state & SCARD_STATE_EMPTY:
    bad.append("the slot is not empty")
if bad:
    fail("; ".join(bad))
