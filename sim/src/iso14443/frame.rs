//! ISO/IEC 14443-4 blocks on the wire: I-, R- and S-blocks with their PCB, optional CID and NAD,
//! and the CRC_A / CRC_B that ends every frame (`docs/contactless.md`).
//!
//! As in smoltcp's `wire` layer, [`Block`] is a parsed representation borrowing its information
//! field; [`Block::parse`] and [`Block::emit`] are inverses. Bad bytes are an error, not a panic.

use crate::platform::profile::NfcType;

/// What kind of block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    /// Information block; `chaining` = more blocks of the same message follow.
    I {
        /// The chaining bit.
        chaining: bool,
    },
    /// Receive-ready acknowledgement.
    RAck,
    /// Receive-ready negative acknowledgement.
    RNak,
    /// S(DESELECT).
    Deselect,
    /// S(WTX) with its INF byte's WTXM (1..=59).
    Wtx {
        /// Waiting-time extension multiplier.
        wtxm: u8,
    },
}

/// A parsed block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block<'a> {
    /// Kind (with the chaining bit for I-blocks).
    pub kind: BlockKind,
    /// Block number (bit 1 of the PCB) of I- and R-blocks; `false` for S-blocks.
    pub number: bool,
    /// CID, when the PCB says one follows.
    pub cid: Option<u8>,
    /// NAD (I-blocks only), when the PCB says one follows.
    pub nad: Option<u8>,
    /// Information field: the APDU part of an I-block; empty otherwise (WTX carries it in `kind`).
    pub inf: &'a [u8],
}

/// Why bytes are not a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Fewer bytes than a PCB and a CRC.
    #[error("frame too short")]
    TooShort,
    /// The CRC does not match.
    #[error("CRC error")]
    Crc,
    /// The PCB is not a valid I-, R- or S-block coding.
    #[error("invalid PCB {0:02X}")]
    Pcb(u8),
    /// A field announced by the PCB is missing or malformed.
    #[error("malformed block")]
    Malformed,
}

impl<'a> Block<'a> {
    /// An I-block.
    pub fn i(number: bool, chaining: bool, inf: &'a [u8]) -> Self {
        Block {
            kind: BlockKind::I { chaining },
            number,
            cid: None,
            nad: None,
            inf,
        }
    }
    /// An R(ACK).
    pub fn ack(number: bool) -> Self {
        Block {
            kind: BlockKind::RAck,
            number,
            cid: None,
            nad: None,
            inf: &[],
        }
    }
    /// An R(NAK).
    pub fn nak(number: bool) -> Self {
        Block {
            kind: BlockKind::RNak,
            number,
            cid: None,
            nad: None,
            inf: &[],
        }
    }
    /// An S(DESELECT).
    pub fn deselect() -> Self {
        Block {
            kind: BlockKind::Deselect,
            number: false,
            cid: None,
            nad: None,
            inf: &[],
        }
    }
    /// An S(WTX) request or response.
    pub fn wtx(wtxm: u8) -> Self {
        Block {
            kind: BlockKind::Wtx { wtxm },
            number: false,
            cid: None,
            nad: None,
            inf: &[],
        }
    }

    /// The PCB byte.
    pub fn pcb(&self) -> u8 {
        let cid = if self.cid.is_some() { 0x08 } else { 0 };
        match self.kind {
            BlockKind::I { chaining } => {
                0x02 | (u8::from(chaining) << 4)
                    | cid
                    | if self.nad.is_some() { 0x04 } else { 0 }
                    | u8::from(self.number)
            }
            BlockKind::RAck => 0xA2 | cid | u8::from(self.number),
            BlockKind::RNak => 0xB2 | cid | u8::from(self.number),
            BlockKind::Deselect => 0xC2 | cid,
            BlockKind::Wtx { .. } => 0xF2 | cid,
        }
    }

    /// Parses a frame without its CRC.
    pub fn parse(bytes: &'a [u8]) -> Result<Block<'a>, FrameError> {
        let (&pcb, mut rest) = bytes.split_first().ok_or(FrameError::TooShort)?;
        let has_cid = pcb & 0x08 != 0;
        let take = |rest: &mut &'a [u8]| -> Result<u8, FrameError> {
            let (&b, r) = rest.split_first().ok_or(FrameError::Malformed)?;
            *rest = r;
            Ok(b)
        };
        let cid = if has_cid {
            Some(take(&mut rest)? & 0x0F)
        } else {
            None
        };
        let number = pcb & 0x01 != 0;
        match pcb & 0xC0 {
            0x00 => {
                // I-block: b6 must be 0, b2 must be 1.
                if pcb & 0x22 != 0x02 {
                    return Err(FrameError::Pcb(pcb));
                }
                let nad = if pcb & 0x04 != 0 {
                    Some(take(&mut rest)?)
                } else {
                    None
                };
                Ok(Block {
                    kind: BlockKind::I {
                        chaining: pcb & 0x10 != 0,
                    },
                    number,
                    cid,
                    nad,
                    inf: rest,
                })
            }
            0x80 => {
                // R-block: b6 = 1, b3 = 0, b2 = 1, no INF.
                if pcb & 0x26 != 0x22 || !rest.is_empty() {
                    return Err(FrameError::Pcb(pcb));
                }
                let kind = if pcb & 0x10 != 0 {
                    BlockKind::RNak
                } else {
                    BlockKind::RAck
                };
                Ok(Block {
                    kind,
                    number,
                    cid,
                    nad: None,
                    inf: &[],
                })
            }
            0xC0 => {
                if pcb & 0x07 != 0x02 {
                    return Err(FrameError::Pcb(pcb));
                }
                match pcb & 0x30 {
                    0x00 if rest.is_empty() => Ok(Block {
                        kind: BlockKind::Deselect,
                        number: false,
                        cid,
                        nad: None,
                        inf: &[],
                    }),
                    0x30 => {
                        let inf = take(&mut rest)?;
                        let wtxm = inf & 0x3F;
                        if !rest.is_empty() || wtxm == 0 || wtxm > 59 {
                            return Err(FrameError::Malformed);
                        }
                        Ok(Block {
                            kind: BlockKind::Wtx { wtxm },
                            number: false,
                            cid,
                            nad: None,
                            inf: &[],
                        })
                    }
                    _ => Err(FrameError::Pcb(pcb)),
                }
            }
            _ => Err(FrameError::Pcb(pcb)),
        }
    }

    /// Appends the frame without its CRC.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.pcb());
        if let Some(cid) = self.cid {
            out.push(cid & 0x0F);
        }
        if let (BlockKind::I { .. }, Some(nad)) = (self.kind, self.nad) {
            out.push(nad);
        }
        match self.kind {
            BlockKind::I { .. } => out.extend_from_slice(self.inf),
            BlockKind::Wtx { wtxm } => out.push(wtxm & 0x3F),
            _ => {}
        }
    }

    /// Bytes of PCB, CID and NAD before the information field.
    pub fn prologue_len(&self) -> usize {
        1 + usize::from(self.cid.is_some()) + usize::from(self.nad.is_some())
    }
}

/// The next segment of a chained message: the part of `len` bytes starting at `start` that fits an
/// information field of `room` bytes, as `(end, more)` — `more` is the chaining bit. Both the
/// reader and the card split messages with this one function.
pub fn next_segment(start: usize, len: usize, room: usize) -> (usize, bool) {
    let end = start.saturating_add(room.max(1)).min(len);
    (end, end < len)
}

/// The information-field room of a frame of `frame_size` bytes: minus PCB and CRC.
pub fn inf_room(frame_size: usize) -> usize {
    frame_size.saturating_sub(3).max(1)
}

const fn crc_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u16;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x8408
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

static CRC_TABLE: [u16; 256] = crc_table();

fn crc16(init: u16, data: &[u8]) -> u16 {
    data.iter().fold(init, |crc, b| {
        (crc >> 8) ^ CRC_TABLE[usize::from((crc ^ u16::from(*b)) as u8)]
    })
}

/// CRC_A of ISO/IEC 14443-3 (initial 6363, no final inversion), low byte first.
pub fn crc_a(data: &[u8]) -> [u8; 2] {
    crc16(0x6363, data).to_le_bytes()
}

/// CRC_B of ISO/IEC 14443-3 (initial FFFF, final inversion), low byte first.
pub fn crc_b(data: &[u8]) -> [u8; 2] {
    (!crc16(0xFFFF, data)).to_le_bytes()
}

/// Appends the CRC of `frame`'s type to it.
pub fn append_crc(nfc: NfcType, frame: &mut Vec<u8>) {
    let crc = match nfc {
        NfcType::A => crc_a(frame),
        NfcType::B => crc_b(frame),
    };
    frame.extend_from_slice(&crc);
}

/// Checks and strips the CRC: the frame's content without it.
pub fn check_crc(nfc: NfcType, frame: &[u8]) -> Result<&[u8], FrameError> {
    if frame.len() < 3 {
        return Err(FrameError::TooShort);
    }
    let (body, crc) = frame.split_at(frame.len() - 2);
    let expect = match nfc {
        NfcType::A => crc_a(body),
        NfcType::B => crc_b(body),
    };
    if crc == expect {
        Ok(body)
    } else {
        Err(FrameError::Crc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn crc_check_values() {
        // Check values of CRC-16/ISO-IEC-14443-3-A (BF05) and CRC-16/IBM-SDLC (906E) over "123456789".
        assert_eq!(u16::from_le_bytes(crc_a(b"123456789")), 0xBF05);
        assert_eq!(u16::from_le_bytes(crc_b(b"123456789")), 0x906E);
        // Known frame: RATS E0 80 has CRC_A 31 73.
        assert_eq!(crc_a(&[0xE0, 0x80]), [0x31, 0x73]);
    }

    #[test]
    fn pcbs_of_the_reference() {
        assert_eq!(Block::i(false, false, &[]).pcb(), 0x02);
        assert_eq!(Block::i(true, true, &[]).pcb(), 0x13);
        assert_eq!(Block::ack(true).pcb(), 0xA3);
        assert_eq!(Block::nak(false).pcb(), 0xB2);
        assert_eq!(Block::deselect().pcb(), 0xC2);
        assert_eq!(Block::wtx(3).pcb(), 0xF2);
        let mut v = Vec::new();
        Block::wtx(59).emit(&mut v);
        assert_eq!(v, [0xF2, 59]);
    }

    #[test]
    fn invalid_blocks_are_errors() {
        assert_eq!(Block::parse(&[]), Err(FrameError::TooShort));
        assert!(Block::parse(&[0x00]).is_err(), "I-block without b2");
        assert!(Block::parse(&[0xA2, 0x00]).is_err(), "R-block with INF");
        assert!(Block::parse(&[0xF2]).is_err(), "WTX without INF");
        assert!(Block::parse(&[0xF2, 0x00]).is_err(), "WTXM 0");
        assert!(Block::parse(&[0xF2, 60]).is_err(), "WTXM 60");
        assert!(Block::parse(&[0x0A]).is_err(), "CID announced, missing");
        assert!(Block::parse(&[0xE2]).is_err(), "S-block 10");
        let mut f = vec![0x02, 0x90, 0x00];
        append_crc(NfcType::B, &mut f);
        assert!(check_crc(NfcType::B, &f).is_ok());
        f[1] ^= 1;
        assert_eq!(check_crc(NfcType::B, &f), Err(FrameError::Crc));
    }

    fn any_block() -> impl Strategy<Value = (u8, bool, bool, Option<u8>, Option<u8>, Vec<u8>, u8)> {
        (
            0u8..5,
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(0u8..16),
            proptest::option::of(any::<u8>()),
            proptest::collection::vec(any::<u8>(), 0..64),
            1u8..=59,
        )
    }

    proptest! {
        #[test]
        fn emit_then_parse_is_identity((k, number, chaining, cid, nad, inf, wtxm) in any_block()) {
            let mut b = match k {
                0 => Block::i(number, chaining, &inf),
                1 => Block::ack(number),
                2 => Block::nak(number),
                3 => Block::deselect(),
                _ => Block::wtx(wtxm),
            };
            b.cid = cid;
            if k == 0 { b.nad = nad; }
            let mut v = Vec::new();
            b.emit(&mut v);
            prop_assert_eq!(Block::parse(&v).unwrap(), b);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
            let _ = Block::parse(&bytes);
            let _ = check_crc(NfcType::A, &bytes);
        }
    }
}
