#!/usr/bin/env python3
"""A reader's own failures as a PC/SC client meets them on kazasu's pcscd driver (pyscard), each
from a serve-script fault of the reader model:

- the reader unplugged during a command (`reader_unplugged`): that command fails with
  SCARD_E_READER_UNAVAILABLE — not a card removal — and the slot is empty after;
- the card silent through the reader's retries (every frame of an exchange lost): the command
  fails with SCARD_E_NOT_TRANSACTED (the driver's IFD_RESPONSE_TIMEOUT), the card stays
  present, and the same connection's next command answers 90 00;
- a card that never answers its activation (`power_up_fails`): present and mute, and
  SCardConnect gets SCARD_W_UNPOWERED_CARD (the driver's IFD_ERROR_POWER_ACTION).

Usage: reader-fault-check.py path/to/kazasu SLOT "READER NAME"   (pcscd on kazasu's driver)
"""
import sys
import time

import served
from smartcard import scard as s

KAZASU, SLOT, READER = sys.argv[1], sys.argv[2], sys.argv[3]
SELECT = list(bytes.fromhex("00A4040C0AD392F000260100000001"))
def fail(msg):
    served.fail("reader-fault-check", msg)


def serve(fault):
    """A card on SLOT whose reader has `fault`, and a client connecting to it."""
    card = served.Served("reader-fault-check", KAZASU, SLOT, f"faults:\n  - {fault}\n")
    rv, ctx = s.SCardEstablishContext(s.SCARD_SCOPE_USER)
    rv, handle, _ = s.SCardConnect(ctx, READER, s.SCARD_SHARE_SHARED, s.SCARD_PROTOCOL_T1)
    return card, ctx, handle, rv


def transmit(card, apdu):
    rv, answer = s.SCardTransmit(card, s.SCARD_PCI_T1, apdu)
    return rv, bytes(answer)


def state(ctx):
    rv, states = s.SCardGetStatusChange(ctx, 0, [(READER, s.SCARD_STATE_UNAWARE)])
    return states[0][1] if rv == s.SCARD_S_SUCCESS else 0


# The reader unplugged during the second command.
proc, ctx, card, rv = serve("{ when: { exchange: 2 }, do: reader_unplugged }")
if rv != s.SCARD_S_SUCCESS:
    fail(f"SCardConnect: {s.SCardGetErrorMessage(rv)}")
rv, answer = transmit(card, SELECT)
if (rv, answer) != (s.SCARD_S_SUCCESS, b"\x90\x00"):
    fail(f"the first command: {s.SCardGetErrorMessage(rv)} {answer.hex()}")
rv, _ = transmit(card, SELECT)
if rv != s.SCARD_E_READER_UNAVAILABLE:
    fail(f"a command cut by the reader's going: {s.SCardGetErrorMessage(rv)}, "
         "not SCARD_E_READER_UNAVAILABLE")
unplugged = s.SCardGetErrorMessage(rv).strip()
deadline = time.monotonic() + 2
while not state(ctx) & s.SCARD_STATE_EMPTY:
    if time.monotonic() > deadline:
        fail(f"the slot is not empty after the reader went: state {state(ctx):#x}")
    time.sleep(0.01)
proc.stop()

# Every frame of the second exchange lost: the reader gives up, the card stays.
proc, ctx, card, rv = serve("{ when: { exchange: 2, probability: 1.0 }, do: frame_lost }")
if rv != s.SCARD_S_SUCCESS:
    fail(f"SCardConnect: {s.SCardGetErrorMessage(rv)}")
transmit(card, SELECT)
rv, _ = transmit(card, SELECT)
if rv != s.SCARD_E_NOT_TRANSACTED:
    fail(f"a command the card never answered: {s.SCardGetErrorMessage(rv)}, "
         "not SCARD_E_NOT_TRANSACTED")
if not state(ctx) & s.SCARD_STATE_PRESENT:
    fail(f"the card left with the reader's time-out: state {state(ctx):#x}")
rv, answer = transmit(card, SELECT)
if (rv, answer) != (s.SCARD_S_SUCCESS, b"\x90\x00"):
    fail(f"the command after the time-out: {s.SCardGetErrorMessage(rv)} {answer.hex()}")
proc.stop()
# A card that never answers its activation: present, mute, and no connection to it.
proc, ctx, card, rv = serve("{ when: { tap: 1 }, do: power_up_fails }")
if rv != s.SCARD_W_UNPOWERED_CARD:
    fail(f"SCardConnect to a mute card: {s.SCardGetErrorMessage(rv)}, not SCARD_W_UNPOWERED_CARD")
if not state(ctx) & s.SCARD_STATE_PRESENT or not state(ctx) & s.SCARD_STATE_MUTE:
    fail(f"a mute card's state {state(ctx):#x}, not present and mute")
proc.stop()
print(f"reader-fault-check: {READER}: the reader unplugged mid-command → {unplugged}, the slot "
      "empty; the card silent through the retries → Transaction failed, the card still present "
      "and the next command 90 00; a card that never answers its activation → present and mute, "
      "SCardConnect: Card is unpowered")
