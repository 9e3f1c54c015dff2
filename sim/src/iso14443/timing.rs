//! Air time of ISO/IEC 14443 frames and the protocol's waiting times, from the carrier frequency
//! (`docs/contactless.md`). Pure functions: a frame and a bit rate in, a duration out.

use crate::platform::profile::NfcType;
use crate::time::SimDuration;

/// Carrier frequency fc in Hz.
pub const FC_HZ: f64 = 13.56e6;

fn from_carrier_cycles(cycles: f64) -> SimDuration {
    SimDuration::from_nanos((cycles / FC_HZ * 1e9).round() as u64)
}

/// Elementary time unit (one bit) at `kbps` (106, 212, 424, 848): 128 / (fc × D), D = kbps / 106.
pub fn etu_cycles(kbps: u32) -> f64 {
    let d = match kbps {
        212 => 2.0,
        424 => 4.0,
        848 => 8.0,
        _ => 1.0,
    };
    128.0 / d
}

/// Type B: the card's unmodulated subcarrier before its SOF (TR1), 10–11 etu by ISO/IEC
/// 14443-3 §7 at the rates these cards use; kazasu takes 10.
pub const TYPE_B_TR1_ETU: f64 = 10.0;
/// Type B: extra guard time between characters (EGT), 0–2 etu for the card; kazasu models 1 etu
/// both ways (the reader's may be longer; no public measurement of these readers).
pub const TYPE_B_EGT_ETU: f64 = 1.0;

/// Air time of a frame of `bytes` bytes (CRC included) at `kbps`, sent by the card
/// (`from_card`) or the reader.
///
/// Type A: 9 bits a byte (8 data + parity) plus start and end of frame (2 etu).
/// Type B: 10 bits a byte (start, 8 data, stop) with an EGT between characters, plus SOF
/// (12 etu) and EOF (10 etu); a card's frame starts with its TR1 preamble.
pub fn frame_air_time(nfc: NfcType, kbps: u32, bytes: usize, from_card: bool) -> SimDuration {
    let etus = match nfc {
        NfcType::A => (9 * bytes + 2) as f64,
        NfcType::B => {
            let tr1 = if from_card { TYPE_B_TR1_ETU } else { 0.0 };
            let egt = TYPE_B_EGT_ETU * bytes.saturating_sub(1) as f64;
            (10 * bytes + 22) as f64 + egt + tr1
        }
    };
    from_carrier_cycles(etus * etu_cycles(kbps))
}

/// Air time of a Type A short frame (REQA/WUPA: 7 data bits, start and end).
pub fn short_frame_air_time() -> SimDuration {
    from_carrier_cycles(9.0 * 128.0)
}

/// Frame waiting time: (256 × 16 / fc) × 2^FWI.
pub fn fwt(fwi: u8) -> SimDuration {
    from_carrier_cycles(4096.0 * f64::from(1u32 << fwi.min(14)))
}

/// The longest frame waiting time a WTX may grant (the FWT of FWI 14).
pub fn fwt_max() -> SimDuration {
    fwt(14)
}

/// Start-up frame guard time after the ATS: 4096 × 2^SFGI / fc (none for SFGI 0).
pub fn sfgt(sfgi: u8) -> SimDuration {
    if sfgi == 0 || sfgi > 14 {
        SimDuration::ZERO
    } else {
        from_carrier_cycles(4096.0 * f64::from(1u32 << sfgi))
    }
}

/// The card's minimum response delay after the end of a reader frame:
/// Type A 1172 / fc, Type B TR0 min 8 etu at 106 kbit/s = 1024 / fc (ISO/IEC 14443-3 §7).
pub fn picc_min_delay(nfc: NfcType) -> SimDuration {
    match nfc {
        NfcType::A => from_carrier_cycles(1172.0),
        NfcType::B => from_carrier_cycles(1024.0),
    }
}

/// The reader's minimum delay before its next frame after a card frame (1172 / fc for both).
pub fn pcd_min_delay() -> SimDuration {
    from_carrier_cycles(1172.0)
}

/// The guard time after the field is switched on, before the first command (ISO/IEC 14443-3: 5 ms).
pub fn field_on_guard() -> SimDuration {
    SimDuration::from_millis(5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fwt_matches_the_reference() {
        let us = |d: SimDuration| d.as_nanos() as f64 / 1e3;
        assert!((us(fwt(0)) - 302.06).abs() < 0.1, "{}", fwt(0));
        assert!((us(fwt(4)) - 4833.0).abs() < 1.0, "{}", fwt(4));
        assert!((us(fwt(10)) - 309_314.0).abs() < 10.0, "{}", fwt(10));
        assert!((us(fwt(13)) - 2_474_516.0).abs() < 100.0, "{}", fwt(13));
        assert!((us(fwt(14)) - 4_949_032.0).abs() < 100.0, "{}", fwt(14));
    }

    #[test]
    fn a_byte_at_106k_takes_nine_or_ten_bits() {
        // One etu at 106 kbit/s = 128 / 13.56 MHz = 9.4395 µs.
        let one_a = frame_air_time(NfcType::A, 106, 1, true).as_nanos() as f64;
        assert!((one_a - 11.0 * 9439.5).abs() < 5.0, "{one_a}");
        let one_b = frame_air_time(NfcType::B, 106, 1, false).as_nanos() as f64;
        assert!((one_b - 32.0 * 9439.5).abs() < 5.0, "{one_b}");
        // Four times the bit rate, a quarter of the time.
        let fast = frame_air_time(NfcType::B, 424, 100, false).as_nanos() as f64;
        let slow = frame_air_time(NfcType::B, 106, 100, false).as_nanos() as f64;
        assert!((slow / fast - 4.0).abs() < 0.001);
    }

    #[test]
    fn type_b_frames_have_a_tr1_preamble_from_the_card_and_egt_between_characters() {
        let etu = |d: SimDuration| d.as_nanos() as f64 / 9439.5;
        // A 10-byte frame: 100 bits + SOF 12 + EOF 10 + 9 EGTs of 1 etu; the card adds TR1 (10).
        let from_reader = etu(frame_air_time(NfcType::B, 106, 10, false));
        let from_card = etu(frame_air_time(NfcType::B, 106, 10, true));
        assert!((from_reader - 131.0).abs() < 0.01, "{from_reader}");
        assert!(
            (from_card - from_reader - TYPE_B_TR1_ETU).abs() < 0.01,
            "{from_card}"
        );
        // Type A has neither.
        assert_eq!(
            frame_air_time(NfcType::A, 106, 10, true),
            frame_air_time(NfcType::A, 106, 10, false)
        );
    }
}
