#!/usr/bin/env python3
"""kill -9 of `kazasu serve` in the middle of a command, on kazasu's pcscd driver (pyscard): the
served readertest card's time request (`80 38 00 FF`, about half a second) is slowed four times
(a serve-script fault, paced in real time) so that the client's SCardTransmit is waiting when
kazasu is killed. The transmit must end with an error
within a second, the slot must be empty after, and pcscd must serve a new client.

Usage: kill-check.py path/to/kazasu SLOT "READER NAME"   (pcscd on kazasu's driver)
"""
import os
import signal
import sys
import threading
import time

import served
from smartcard import scard as s

KAZASU, SLOT, READER = sys.argv[1], sys.argv[2], sys.argv[3]


def fail(msg):
    served.fail("kill-check", msg)


card_holder = served.Served(
    "kill-check", KAZASU, SLOT,
    "faults:\n  - { when: { exchange: 2 }, do: { slow_card: 4.0 } }\n",
    card="readertest", args=("--pace", "realtime"))
serve = card_holder.proc
rv, ctx = s.SCardEstablishContext(s.SCARD_SCOPE_USER)
rv, card, _ = s.SCardConnect(ctx, READER, s.SCARD_SHARE_SHARED, s.SCARD_PROTOCOL_T1)
if rv != s.SCARD_S_SUCCESS:
    fail(f"SCardConnect: {s.SCardGetErrorMessage(rv)}")
select = list(bytes.fromhex("00A4040006A000000018FF"))
rv, answer = s.SCardTransmit(card, s.SCARD_PCI_T1, select)
if rv != s.SCARD_S_SUCCESS or bytes(answer) != b"\x90\x00":
    fail(f"the first SELECT: {s.SCardGetErrorMessage(rv)} {bytes(answer).hex()}")

result = {}


def slow_command():
    rv, answer = s.SCardTransmit(card, s.SCARD_PCI_T1, list(bytes.fromhex("803800FF")))
    result["rv"], result["answer"], result["at"] = rv, bytes(answer), time.perf_counter()


t = threading.Thread(target=slow_command)
t.start()
time.sleep(0.3)
if "rv" in result:
    fail(f"the slowed command answered before the kill: {result}")
os.kill(serve.pid, signal.SIGKILL)
killed = time.perf_counter()
serve.wait(5)
t.join(5)
if "rv" not in result:
    fail("the command never ended after kazasu was killed")
took = result["at"] - killed
if result["rv"] == s.SCARD_S_SUCCESS and len(result["answer"]) >= 2:
    fail(f"the command succeeded ({result['answer'].hex()}) although kazasu was killed")
if took > 1.0:
    fail(f"the command ended {took:.2f} s after the kill")
# The slot is empty and pcscd serves a new client.
rv, ctx2 = s.SCardEstablishContext(s.SCARD_SCOPE_USER)
if rv != s.SCARD_S_SUCCESS:
    fail(f"pcscd gone after the kill: {s.SCardGetErrorMessage(rv)}")
deadline = time.monotonic() + 2
while True:
    rv, states = s.SCardGetStatusChange(ctx2, 100, [(READER, s.SCARD_STATE_UNAWARE)])
    if rv == s.SCARD_S_SUCCESS and states[0][1] & s.SCARD_STATE_EMPTY:
        break
    if time.monotonic() > deadline:
        fail(f"the slot is not empty after the kill: state {states[0][1]:#x}")
print(f"kill-check: kazasu serve killed (SIGKILL) mid-command on {READER}: the command ended "
      f"{took * 1e3:.1f} ms later with {s.SCardGetErrorMessage(result['rv']).strip()}, the slot "
      f"empty, pcscd serving")
