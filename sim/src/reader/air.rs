//! The air as a sniffer hears it: every frame's bytes (CRC included) with its time and what
//! happened to it, and the field switching on and off. The reader keeps this only when asked
//! ([`super::Reader::keep_air`]) — for exports such as pcapng — so an ordinary run carries no
//! frame bytes (and no secret in them).
//!
//! Also here: the bytes of the activation commands the reader model sends (REQA, anticollision,
//! SELECT, RATS, PPS; REQB, ATTRIB), from ISO/IEC 14443-3 and -4.

use super::log::{Direction, Fate};
use crate::iso14443::frame::append_crc;
use crate::platform::profile::NfcType;
use crate::time::SimTime;

/// One thing on the air.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AirRecord {
    /// When it started.
    pub at: SimTime,
    /// When it ended (`at` for the field switching).
    pub end: SimTime,
    /// What it was.
    pub kind: AirKind,
}

/// A frame or the field switching.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AirKind {
    /// The reader switched its field on (a tap, or the field reset after a failure).
    FieldOn,
    /// The field went off, or the card left it.
    FieldOff,
    /// A frame as sent, CRC included (short frames such as REQA: their one byte).
    Frame {
        /// Which way.
        dir: Direction,
        /// The bytes the sender put on the air (a corrupted frame: as received).
        bytes: Vec<u8>,
        /// What happened to it.
        fate: Fate,
    },
}

/// The select code of cascade level `level` (1..=3): 93, 95, 97.
fn select_code(level: u8) -> u8 {
    0x91 + 2 * level.clamp(1, 3)
}

fn with_crc(nfc: NfcType, mut bytes: Vec<u8>) -> Vec<u8> {
    append_crc(nfc, &mut bytes);
    bytes
}

/// ISO/IEC 14443-4 bit-rate divisor code of `kbps` (106 → 0 … 848 → 3).
fn rate_code(kbps: u32) -> u8 {
    match kbps {
        0..=106 => 0,
        107..=212 => 1,
        213..=424 => 2,
        _ => 3,
    }
}

/// REQA, a 7-bit short frame.
pub fn reqa() -> Vec<u8> {
    vec![0x26]
}

/// ANTICOLLISION at `level` with no UID bit known (NVB 20).
pub fn anticollision(level: u8) -> Vec<u8> {
    vec![select_code(level), 0x20]
}

/// ANTICOLLISION at `level` with the first two UID bytes known (NVB 40): the round after a
/// collision. The card answers the rest of its UID CLn with the BCC.
pub fn anticollision_known(level: u8, known: [u8; 2]) -> Vec<u8> {
    vec![select_code(level), 0x40, known[0], known[1]]
}

/// SELECT at `level` of the UID CLn with its BCC.
pub fn select(level: u8, uid_bcc: [u8; 5]) -> Vec<u8> {
    let mut f = vec![select_code(level), 0x70];
    f.extend_from_slice(&uid_bcc);
    with_crc(NfcType::A, f)
}

/// The SAK answer.
pub fn sak(sak: u8) -> Vec<u8> {
    with_crc(NfcType::A, vec![sak])
}

/// RATS with the reader's FSDI, CID 0.
pub fn rats(fsdi: u8) -> Vec<u8> {
    with_crc(NfcType::A, vec![0xE0, (fsdi & 0x0F) << 4])
}

/// PPS to `kbps` both ways (PPS1 present).
pub fn pps(kbps: u32) -> Vec<u8> {
    let d = rate_code(kbps);
    with_crc(NfcType::A, vec![0xD0, 0x11, (d << 2) | d])
}

/// The card's PPS response.
pub fn pps_response() -> Vec<u8> {
    with_crc(NfcType::A, vec![0xD0])
}

/// REQB for every AFI, one slot.
pub fn reqb() -> Vec<u8> {
    with_crc(NfcType::B, vec![0x05, 0x00, 0x00])
}

/// ATTRIB of the card with `pupi`: the reader's FSDI and bit rate `kbps` both ways, ISO/IEC
/// 14443-4, CID 0.
pub fn attrib(pupi: &[u8], fsdi: u8, kbps: u32) -> Vec<u8> {
    let d = rate_code(kbps);
    let mut f = vec![0x1D];
    f.extend(pupi.iter().copied().chain(std::iter::repeat(0)).take(4));
    f.extend_from_slice(&[0x00, (d << 6) | (d << 4) | (fsdi & 0x0F), 0x01, 0x00]);
    with_crc(NfcType::B, f)
}

/// A card's answer with its CRC (ATS, ATQB, the ATTRIB answer).
pub fn answer(nfc: NfcType, bytes: &[u8]) -> Vec<u8> {
    with_crc(nfc, bytes.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iso14443::frame::check_crc;

    #[test]
    fn activation_commands_have_their_iso_14443_lengths_and_good_crcs() {
        assert_eq!(reqa(), [0x26]);
        assert_eq!(anticollision(1), [0x93, 0x20]);
        assert_eq!(anticollision(2), [0x95, 0x20]);
        assert_eq!(anticollision_known(3, [1, 2]), [0x97, 0x40, 1, 2]);
        let sel = select(1, [1, 2, 3, 4, 4]);
        assert_eq!((sel.len(), &sel[..2]), (9, &[0x93, 0x70][..]));
        for (frame, nfc, len) in [
            (sel, NfcType::A, 9),
            (sak(0x20), NfcType::A, 3),
            (rats(8), NfcType::A, 4),
            (pps(424), NfcType::A, 5),
            (pps_response(), NfcType::A, 3),
            (reqb(), NfcType::B, 5),
            (attrib(&[1, 2, 3, 4], 8, 212), NfcType::B, 11),
        ] {
            assert_eq!(frame.len(), len, "{frame:02X?}");
            assert!(check_crc(nfc, &frame).is_ok(), "{frame:02X?}");
        }
        assert_eq!(rats(8)[..2], [0xE0, 0x80]);
        assert_eq!(pps(424)[..3], [0xD0, 0x11, 0x0A]);
        assert_eq!(
            attrib(&[1, 2, 3, 4], 8, 212)[..9],
            [0x1D, 1, 2, 3, 4, 0, 0x58, 1, 0]
        );
    }
}
