#!/usr/bin/env python3
"""A tiny reading program, as eligibility-check software reads a smartphone's JPKI
authentication certificate: SELECT the JPKI AP, VERIFY the authentication PIN, SELECT the
certificate, READ BINARY until its DER length is read. Writes the certificate (DER).

Usage: read_cert.py READER-NAME PIN OUT.der
"""
import sys

from smartcard.System import readers

reader_name, pin, out = sys.argv[1:4]


def send(connection, hex_apdu, data=b""):
    apdu = list(bytes.fromhex(hex_apdu.replace(" ", ""))) + list(data)
    answer, sw1, sw2 = connection.transmit(apdu)
    if (sw1, sw2) != (0x90, 0x00):
        sys.exit(f"read_cert: > {hex_apdu}: SW {sw1:02X}{sw2:02X}")
    return bytes(answer)


matches = [r for r in readers() if str(r).startswith(reader_name)]
if not matches:
    sys.exit(f"read_cert: no reader {reader_name!r}")
connection = matches[0].createConnection()
connection.connect()
send(connection, "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01")  # the JPKI AP
send(connection, "00 A4 02 0C 02 00 18")  # the authentication PIN
send(connection, f"00 20 00 80 {len(pin):02X}", pin.encode())  # VERIFY
send(connection, "00 A4 02 0C 02 00 0A")  # the authentication certificate
header = send(connection, "00 B0 00 00 04")  # 30 82 hh ll
length = 4 + int.from_bytes(header[2:4], "big")
cert = bytearray(header)
while len(cert) < length:
    chunk = min(0xFF, length - len(cert))
    offset = len(cert)
    cert += send(connection, f"00 B0 {offset >> 8:02X} {offset & 0xFF:02X} {chunk:02X}")
open(out, "wb").write(cert)
print(f"read_cert: {length} bytes of certificate from {matches[0]}")
