//! What a reader learns from a contactless card at activation — ATQB (Type B), ATS (Type A) —
//! and the ATR a PC/SC part 3 reader builds from them (`docs/contactless.md`).

use crate::profile::{CardProfile, NfcType};

/// Frame sizes in bytes by FSCI/FSDI index 0..=12 (including PCB and CRC).
pub const FRAME_SIZES: [usize; 13] = [16, 24, 32, 40, 48, 64, 96, 128, 256, 512, 1024, 2048, 4096];

/// Frame size in bytes for an FSCI/FSDI index; indexes above 12 are treated as 12 (4096).
pub fn frame_size(index: u8) -> usize {
    FRAME_SIZES[usize::from(index.min(12))]
}

/// The bit-rate capability byte of ATQB protocol info / ATS TA(1) for rates in kbit/s,
/// both directions, "same rate both ways" not required.
pub fn bit_rate_byte(rates: &[u32]) -> u8 {
    let mut b = 0u8;
    for r in rates {
        b |= match r {
            212 => 0x11,
            424 => 0x22,
            848 => 0x44,
            _ => 0,
        };
    }
    // b8 = 1: the card needs the same bit rate in both directions (as the My Number card's B3).
    if b != 0 { b | 0x80 } else { b }
}

/// The 3 protocol-info bytes of a Type B card's ATQB.
pub fn atqb_protocol_info(p: &CardProfile) -> [u8; 3] {
    let c = &p.contactless;
    [
        bit_rate_byte(&c.bit_rates.value),
        (c.fsci.value.min(8) << 4) | 0x01, // max frame size code, ISO 14443-4 compliant
        (c.fwi.value << 4) | (c.protocol_options.value & 0x0F),
    ]
}

/// The ATS of a Type A card (TL first).
pub fn ats(p: &CardProfile) -> Vec<u8> {
    let c = &p.contactless;
    let hist = &c.historical_bytes.value.0;
    let mut ats = vec![0, 0x70 | c.fsci.value.min(12)];
    ats.push(bit_rate_byte(&c.bit_rates.value));
    ats.push((c.fwi.value << 4) | c.sfgi.value);
    ats.push(c.protocol_options.value);
    ats.extend_from_slice(hist);
    ats[0] = ats.len() as u8;
    ats
}

/// The ATR of PC/SC part 3: `3B 8n 80 01 <historical bytes> TCK`.
pub fn pcsc_contactless_atr(p: &CardProfile) -> Vec<u8> {
    let c = &p.contactless;
    let hist: Vec<u8> = match c.nfc_type.value {
        NfcType::A => c.historical_bytes.value.0.clone(),
        NfcType::B => {
            let mut h = c.historical_bytes.value.0.clone();
            h.extend_from_slice(&atqb_protocol_info(p));
            h.push(0x00); // MBLI 0 (no limit), CID 0 from the ATTRIB answer
            h
        }
    };
    let mut atr = vec![0x3B, 0x80 | hist.len() as u8, 0x80, 0x01];
    atr.extend_from_slice(&hist);
    let tck = atr[1..].iter().fold(0u8, |acc, b| acc ^ b);
    atr.push(tck);
    atr
}
