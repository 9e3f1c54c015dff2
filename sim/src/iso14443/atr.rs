//! What a reader learns from a contactless card at activation — ATQB (Type B), ATS (Type A) —
//! and the ATR a PC/SC part 3 reader builds from them (`docs/contactless.md`).

use crate::platform::profile::{CardProfile, NfcType};

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

/// The fixed interface bytes of SCM Microsystems' proprietary "simulated" T=1 ATR for a
/// contactless card (SCR331-DI manual, §4.5): TA1 91, TB1 00, TC1 FF, TD1 91, TA2 81, TD2 71,
/// TA3 FE, TB3 40, TC3 00.
pub const SCM_INTERFACE_BYTES: [u8; 9] = [0x91, 0x00, 0xFF, 0x91, 0x81, 0x71, 0xFE, 0x40, 0x00];

/// The ATR an SCM-style reader reports for a Type B card: `3B Fk`, the interface bytes, then
/// historical bytes `42` (Type B), the PUPI's length and the PUPI (`00` and none when the
/// reader strips it, its default since firmware 5.10), `01` (T=CL), ATQB protocol-info bytes 1
/// and 3, and TCK. `None` for a Type A card: its layout in this form is not public.
pub fn scm_contactless_atr(p: &CardProfile, pupi: Option<&[u8]>) -> Option<Vec<u8>> {
    if p.contactless.nfc_type.value != NfcType::B {
        return None;
    }
    let info = atqb_protocol_info(p);
    let pupi = pupi.unwrap_or_default();
    let mut hist = vec![0x42, pupi.len() as u8];
    hist.extend_from_slice(pupi);
    hist.extend_from_slice(&[0x01, info[0], info[2]]);
    let mut atr = vec![0x3B, 0xF0 | hist.len() as u8];
    atr.extend_from_slice(&SCM_INTERFACE_BYTES);
    atr.extend_from_slice(&hist);
    let tck = atr[1..].iter().fold(0u8, |acc, b| acc ^ b);
    atr.push(tck);
    Some(atr)
}

/// What the profile shows of the card at activation: ISO/IEC 14443 data, built here so that the
/// profile (data) needs nothing of this layer.
impl CardProfile {
    /// The frame size in bytes the card accepts (from FSCI).
    pub fn frame_size(&self) -> usize {
        frame_size(self.contactless.fsci.value)
    }

    /// The ATR the host sees: the profile's own for test cards, else the one a PC/SC part 3
    /// reader builds from the ATS (Type A) or ATQB (Type B).
    pub fn atr(&self) -> Vec<u8> {
        match &self.atr {
            Some(atr) => atr.value.0.clone(),
            None => pcsc_contactless_atr(self),
        }
    }
}

/// What a PC/SC part-3 contactless ATR tells about the card behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContactlessAtr {
    /// The reader's generic ATR (`3B 80 80 01 01`): nothing about the card.
    Generic,
    /// Historical bytes of 8 that read as a Type B card's ATQB application data, protocol info
    /// and MBLI: its bit rates, frame size and FWI.
    TypeB {
        /// ATQB application data.
        application_data: [u8; 4],
        /// Bit rates the card takes, kbit/s (106 always).
        bit_rates: Vec<u32>,
        /// Largest frame the card takes, bytes.
        max_frame: usize,
        /// Frame waiting time index.
        fwi: u8,
    },
    /// Other historical bytes: a Type A card's ATS historical bytes (the ATR carries no FWI
    /// or frame size for Type A).
    TypeA {
        /// The historical bytes.
        historical: Vec<u8>,
    },
    /// Not a part-3 contactless ATR (a contact card, or a reader of its own kind).
    Other,
}

/// Reads a PC/SC part-3 contactless ATR (`3B 8n 80 01 <n historical bytes> TCK`).
pub fn read_pcsc_contactless_atr(atr: &[u8]) -> ContactlessAtr {
    if atr == [0x3B, 0x80, 0x80, 0x01, 0x01] {
        return ContactlessAtr::Generic;
    }
    let n = match atr {
        [0x3B, t0, 0x80, 0x01, ..] if t0 & 0xF0 == 0x80 => usize::from(t0 & 0x0F),
        _ => return ContactlessAtr::Other,
    };
    if atr.len() != 4 + n + 1 || atr[1..].iter().fold(0u8, |a, b| a ^ b) != 0 {
        return ContactlessAtr::Other;
    }
    let hist = &atr[4..4 + n];
    // Type B: application data (4), protocol info (3: bit rates; FSCI | protocol type; FWI |
    // ADC | FO), MBLI | CID. The protocol type's "ISO/IEC 14443-4 compliant" bit tells it apart.
    if n == 8 && hist[5] & 0x0F == 0x01 && hist[5] >> 4 <= 12 && hist[6] >> 4 <= 14 {
        let rates = hist[4];
        let mut bit_rates = vec![106];
        for (bit, kbps) in [(0x01u8, 212u32), (0x02, 424), (0x04, 848)] {
            if rates & bit != 0 || rates & (bit << 4) != 0 {
                bit_rates.push(kbps);
            }
        }
        return ContactlessAtr::TypeB {
            application_data: [hist[0], hist[1], hist[2], hist[3]],
            bit_rates,
            max_frame: frame_size(hist[5] >> 4),
            fwi: hist[6] >> 4,
        };
    }
    ContactlessAtr::TypeA {
        historical: hist.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two ATRs in pcsc-tools' list (2016 and 2019), byte for byte: the FWI-10 card with
    /// 212/424 kbit/s and the FWI-13 card at 106 kbit/s only, behind SCM-style readers.
    #[test]
    fn scm_atrs_match_the_public_list() {
        let hex = |s: &str| crate::parse_hex(s).unwrap();
        let fwi10 = CardProfile::builtin("mynumber-card").unwrap();
        assert_eq!(
            scm_contactless_atr(&fwi10, None).unwrap(),
            hex("3B F5 91 00 FF 91 81 71 FE 40 00 42 00 01 B3 A1 15")
        );
        let slow = CardProfile::builtin("mynumber-card-106k").unwrap();
        assert_eq!(
            scm_contactless_atr(&slow, None).unwrap(),
            hex("3B F5 91 00 FF 91 81 71 FE 40 00 42 00 01 00 D1 D6")
        );
        let with_pupi = scm_contactless_atr(&fwi10, Some(&[1, 2, 3, 4])).unwrap();
        assert_eq!(with_pupi[..2], [0x3B, 0xF9]);
        assert_eq!(with_pupi[11..17], [0x42, 0x04, 1, 2, 3, 4]);
        assert_eq!(with_pupi[1..].iter().fold(0, |a, b| a ^ b), 0, "TCK");
    }

    #[test]
    fn a_type_b_atr_reads_back_as_its_profile_builds_it() {
        let p = CardProfile::builtin("mynumber-card").unwrap();
        let atr = pcsc_contactless_atr(&p);
        match read_pcsc_contactless_atr(&atr) {
            ContactlessAtr::TypeB {
                max_frame,
                fwi,
                bit_rates,
                ..
            } => {
                assert_eq!(max_frame, 256);
                assert_eq!(fwi, p.contactless.fwi.value);
                assert!(bit_rates.contains(&424), "{bit_rates:?}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            read_pcsc_contactless_atr(&[0x3B, 0x80, 0x80, 0x01, 0x01]),
            ContactlessAtr::Generic
        );
        let mut bad = atr.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(read_pcsc_contactless_atr(&bad), ContactlessAtr::Other);
        let a = CardProfile::builtin("android-jpki").unwrap();
        assert_eq!(scm_contactless_atr(&a, None), None, "Type A: not public");
        assert!(matches!(
            read_pcsc_contactless_atr(&pcsc_contactless_atr(&a)),
            ContactlessAtr::TypeA { .. } | ContactlessAtr::TypeB { .. }
        ));
    }
}
