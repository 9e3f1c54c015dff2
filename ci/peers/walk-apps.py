#!/usr/bin/env python3
"""A client-style walk of the physical card's other applications through pcscd (pyscard), as the
public clients send it: GET DATA objects at MF level, the 共通カードAP's record by short EF id and
its INTERNAL AUTHENTICATE, the 住基AP's PIN by SFI, the card-info AP's certificate read whole with
an extended Le and again in chunks, the 券面事項確認AP's card face after 照合番号A by SFI and its
age record after the birth-date key; every signature is checked with openssl against the test
PKI's public keys. On phone profiles the card-only applications must be absent.

Usage: walk-apps.py card|phone READER-NAME FIXTURES-DIR WORK-DIR
"""
import hashlib
import pathlib
import subprocess
import sys

from smartcard.System import readers

kind, reader_name, fixtures, work = sys.argv[1:5]
fixtures, work = pathlib.Path(fixtures), pathlib.Path(work)


def fail(message):
    print(f"walk-apps ({kind}): FAIL: {message}", file=sys.stderr)
    sys.exit(1)


matches = [r for r in readers() if str(r).startswith(reader_name)]
if not matches:
    fail(f"no reader {reader_name!r} among {[str(r) for r in readers()]}")
connection = matches[0].createConnection()
connection.connect()


def send(hex_apdu, want_sw="9000"):
    data, sw1, sw2 = connection.transmit(list(bytes.fromhex(hex_apdu.replace(" ", ""))))
    sw = f"{sw1:02X}{sw2:02X}"
    if want_sw is not None and sw != want_sw:
        fail(f"> {hex_apdu}: SW {sw}, expected {want_sw}")
    return bytes(data)


def der_len(n):
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def der_int(value):
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return b"\x02" + der_len(len(body)) + body


def public_pem(name, key_tlv):
    """A PEM file of the key a card writes as 90 03 <e> 91 82 01 00 <n>."""
    if key_tlv[:2] != b"\x90\x03" or key_tlv[5:9] != b"\x91\x82\x01\x00":
        fail(f"{name}: not a card public key: {key_tlv[:9].hex()}")
    e, n = int.from_bytes(key_tlv[2:5], "big"), int.from_bytes(key_tlv[9:265], "big")
    seq = der_int(n) + der_int(e)
    (work / f"{name}.der").write_bytes(b"\x30" + der_len(len(seq)) + seq)
    subprocess.run(["openssl", "rsa", "-pubin", "-RSAPublicKey_in", "-inform", "DER",
                    "-in", str(work / f"{name}.der"), "-out", str(work / f"{name}.pem")],
                   check=True, capture_output=True)
    return work / f"{name}.pem"


def fixture_public(path):
    out = work / (path.replace("/", "_") + ".pub.pem")
    subprocess.run(["openssl", "pkey", "-in", str(fixtures / path), "-pubout", "-out", str(out)],
                   check=True, capture_output=True)
    return out


def verify(what, public, data, signature):
    (work / "data").write_bytes(data)
    (work / "sig").write_bytes(signature)
    result = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(public), "-signature",
                             str(work / "sig"), str(work / "data")], capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"{what}: the signature does not verify ({result.stdout.strip()} {result.stderr.strip()})")
    print(f"walk-apps ({kind}): {what}: signature verified by openssl")


SELECT_COMMON = "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 01 00"
SELECT_JUKI = "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 01"
SELECT_CARD_INFO = "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08"
SELECT_CARD_FACE = "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 02"
ISD = "00 A4 04 0C 07 A0 00 00 01 51 00 00"

if kind == "phone":
    send(SELECT_COMMON, "6A82")
    send(SELECT_JUKI, "6A82")
    send(SELECT_CARD_FACE, "6A82")
    send("00 CA 00 45 00", "6D00")
    print("walk-apps (phone): no 共通カードAP, no 住基AP, no 券面事項確認AP, no MF objects")
    sys.exit(0)

# MF level, right after power-up: GET DATA 0045 first (myna-card's main example), then the chain.
card_id = send("00 CA 00 45 00")
send("00 CA 00 F8 00", "6700")
f8 = send("00 CA 00 F8 00 00 00")
if len(f8) != 575 or f8[:12] != bytes.fromhex("4D0A42105F20105F49820109"):
    fail(f"00F8: {len(f8)} bytes, {f8[:12].hex()}")
body, sig = f8[17:314], f8[319:]
verify("MF 00F8 (CA 6000020 stand-in)", fixture_public("mf-root.key.pem"), body, sig)
next_link = send("00 CA 7F 21 00 00 00")
verify("MF 7F21 (the key in 00F8)", public_pem("f8-key", body[32:]), next_link[17:314], next_link[319:])
if send("00 CA 00 F7 00") != body[16:32]:
    fail("00F7 does not name the key 00F8 certifies")

# 共通カードAP: READ RECORD by short EF id, no SELECT of the EF, no PIN; INTERNAL AUTHENTICATE.
send(SELECT_COMMON)
record = send("00 B2 01 0C 00")
digits = record[2:].decode("ascii")
if record[:2] != b"\x01\x1c" or len(digits) != 28 or not digits.isdigit():
    fail(f"the card record: {record.hex()}")
if digits[:15].encode() != card_id:
    fail(f"the record's serial {digits[:15]} is not MF 0045 {card_id!r}")
send(ISD)
if send("00 CA 00 F0 00").decode() != digits[15:20] or send("00 CA 00 F2 00").decode() != digits[20:]:
    fail("the record's municipality or expiry differs from MF 00F0 / 00F2")
send(SELECT_COMMON)
challenge = bytes(range(1, 33))
signature = send("00 88 00 99 20 " + challenge.hex() + " 00")
verify("共通カードAP INTERNAL AUTHENTICATE", fixture_public("yamada-taro/common.key.pem"), challenge, signature)
send("80 AE 00 00 02 01 02", "66F1")
print(f"walk-apps (card): 共通カードAP record {digits[:15]} {digits[15:20]} {digits[20:]}")

# 住基AP: its own PIN, VERIFY by SFI.
send(SELECT_JUKI)
send("00 20 00 9C", "63C3")
send("00 20 00 9C 04 31 32 33 34")
send("80 AE 00 00 02 01 02", "6982")
print("walk-apps (card): 住基AP PIN verified by SFI, SET SESSION KEY refused")

# Card-info AP: VERIFY by SFI, EF 0004 whole with an extended Le and again in chunks.
send(SELECT_CARD_INFO)
send("00 20 00 91 04 31 32 33 34")
whole = send("00 B0 84 00 00 00 00")
chunks = send("00 B0 84 00 00")
while len(chunks) < len(whole):
    chunks += send(f"00 B0 {len(chunks) >> 8:02X} {len(chunks) & 0xFF:02X} 00")
if whole != chunks or len(whole) != 568:
    fail(f"EF 0004: {len(whole)} bytes whole, {len(chunks)} in chunks, different: {whole != chunks}")
cert_body = whole[10:307]
verify("card-info EF 0004 (CA 6000033 stand-in)", fixtures / "card-info-issuer.pub.pem",
       cert_body, whole[312:])
integrity = send("00 B0 83 00 00 00 00")
verify("card-info EF 0003 (the key EF 0004 certifies)", public_pem("ci-signer", cert_body[32:]),
       integrity[5:75], integrity[80:])

def verify_recover(what, public, signature, expected):
    """Checks a PKCS#1 v1.5 signature over a DigestInfo openssl cannot compute itself."""
    (work / "sig").write_bytes(signature)
    result = subprocess.run(["openssl", "pkeyutl", "-verifyrecover", "-pubin", "-inkey", str(public),
                             "-in", str(work / "sig")], capture_output=True)
    if result.returncode != 0 or result.stdout != expected:
        fail(f"{what}: the signature does not recover the expected DigestInfo")
    print(f"walk-apps ({kind}): {what}: signature verified by openssl")


def tlvs(file):
    """(tag, start, value) of the DF xx fields inside a FF xx 82 hh ll template."""
    out, at = [], 5
    while at < len(file):
        tag, length = file[at + 1], file[at + 2]
        if length == 0x82:
            size, header = int.from_bytes(file[at + 3:at + 5], "big"), 5
        else:
            size, header = length, 3
        out.append((tag, at, file[at + header:at + header + size]))
        at += header + size
    return out


# Card-face AP (券面事項確認AP): 照合番号A by SFI, EF 0004 and EF 0002 whole with an extended Le.
send(SELECT_CARD_FACE)
face_cert = send("00 B0 84 00 00 00 00")
verify("card-face EF 0004 (CA 6000023 stand-in)", fixtures / "card-face-ca.pub.pem",
       face_cert[10:307], face_cert[312:])
signer = public_pem("cf-signer", face_cert[10 + 32:307])
send("00 B0 82 00 00 00 00", "6982")
send("00 20 00 93 0C " + b"999900000011".hex())
face = send("00 B0 82 00 00 00 00")
fields = tlvs(face)
if [t for t, _, _ in fields] != list(range(0x21, 0x2B)):
    fail(f"EF 0002 fields: {[hex(t) for t, _, _ in fields]}")
starts = [start for _, start, _ in fields[1:]]
offsets = [int.from_bytes(fields[0][2][i:i + 2], "big") for i in range(0, 18, 2)]
if offsets != starts:
    fail(f"DF 21 offsets {offsets} are not the fields' places {starts}")
digests = b"".join(hashlib.sha256(face[fields[a][1]:fields[b][1]]).digest()
                   for a, b in [(1, 4), (4, 6), (6, 7)])
prefix = bytes.fromhex("3071300D060960864801650304020105000460")
verify_recover("card-face EF 0002 (three digests)", signer, fields[7][2], prefix + digests)
if face[fields[6][1] + 9:fields[6][1] + 13] != b"jP  ":
    fail("DF 27 is no JP2 file")
# The birth-date key opens the age record EF 0001 in a fresh session.
send(ISD)
send(SELECT_CARD_FACE)
send("00 20 00 91 06 " + b"550401".hex())
age = send("00 B0 81 00 00 00 00")
age_fields = tlvs(age)
verify("card-face EF 0001 (age record)", signer, age[5:age_fields[2][1]], age_fields[2][2])
print("walk-apps (card): every application walked")
