//! Proxmark3 `.trace` files (`trace save`): records back to back, no header — a 32-bit
//! timestamp and 16-bit duration in carrier periods (1/13.56 MHz for ISO 14443), a 15-bit length
//! with the card-to-reader bit, the frame as on the air (CRC included), then its parity bytes.
//! The frames go through the same ISO 14443 reading as pcap air captures ([`super::air`]).

use super::air::{AirFrame, read_air};
use super::model::{ParseError, RawTrace, err};

/// Carrier periods a microsecond.
const TICKS_PER_US: f64 = 13.56;

/// Reads a `.trace` file; a record cut short is an error naming it.
pub(super) fn parse_proxmark_raw(bytes: &[u8]) -> Result<RawTrace, ParseError> {
    let frames = proxmark_frames(bytes)?;
    let mut raw = RawTrace::with_capacity(frames.len() / 4);
    read_air(&frames, None, &mut raw);
    Ok(raw)
}

/// The air frames of a `.trace` file.
pub(super) fn proxmark_frames(bytes: &[u8]) -> Result<Vec<AirFrame>, ParseError> {
    let mut frames = Vec::new();
    let (mut at, mut first, mut last, mut wraps) = (0usize, None::<u64>, 0u64, 0u64);
    while bytes.len() - at >= 8 {
        let number = frames.len() + 1;
        let ts = u64::from(u32::from_le_bytes(
            bytes[at..at + 4].try_into().expect("4 bytes"),
        ));
        let len_field = u16::from_le_bytes([bytes[at + 6], bytes[at + 7]]);
        let (n, from_card) = (usize::from(len_field & 0x7FFF), len_field & 0x8000 != 0);
        if n == 0 {
            break;
        }
        let need = 8 + n + n.div_ceil(8);
        if bytes.len() - at < need {
            return Err(err(
                number,
                format!(
                    "record {number} at byte {at} needs {need} bytes, {} are left (the file is cut short)",
                    bytes.len() - at
                ),
            ));
        }
        // The 32-bit tick count wraps after about 317 s.
        if ts < last {
            wraps += 1 << 32;
        }
        last = ts;
        let ticks = ts + wraps;
        let start = *first.get_or_insert(ticks);
        frames.push(AirFrame {
            number,
            at_us: ((ticks - start) as f64 / TICKS_PER_US) as u64,
            event: if from_card { 0xFF } else { 0xFE },
            bytes: bytes[at + 8..at + 8 + n].to_vec(),
        });
        at += need;
    }
    if frames.is_empty() {
        return Err(err(
            0,
            "no record: not a Proxmark3 trace (`trace save` writes records of 8 header bytes, the frame and its parity)",
        ));
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::trace::model::What;

    fn record(ts: u32, from_card: bool, frame: &[u8]) -> Vec<u8> {
        let mut r = ts.to_le_bytes().to_vec();
        r.extend(992u16.to_le_bytes());
        r.extend((frame.len() as u16 | if from_card { 0x8000 } else { 0 }).to_le_bytes());
        r.extend_from_slice(frame);
        r.extend(vec![0u8; frame.len().div_ceil(8)]);
        r
    }

    #[test]
    fn a_type_b_wake_up_reads_as_a_card_arriving_with_its_atr() {
        // As in hf_14b_reader: WUPB, ATQB (PUPI 820DE174, application data 20381922,
        // protocol info 00 21 85), then ATTRIB and its answer, timed in carrier periods.
        let b = |x: &[u8]| {
            let mut v = x.to_vec();
            kazasu_sim::iso14443::frame::append_crc(
                kazasu_sim::platform::profile::NfcType::B,
                &mut v,
            );
            v
        };
        // The tick count wraps between the first two: 13,560 periods apart, 1 ms.
        let mut file = record(u32::MAX - 9_999, false, &b(&[0x05, 0x00, 0x08]));
        let atqb = [
            0x50, 0x82, 0x0D, 0xE1, 0x74, 0x20, 0x38, 0x19, 0x22, 0x00, 0x21, 0x85,
        ];
        file.extend(record(3_560, true, &b(&atqb)));
        let attrib = [0x1D, 0x82, 0x0D, 0xE1, 0x74, 0x00, 0x08, 0x01, 0x00];
        file.extend(record(30_000, false, &b(&attrib)));
        file.extend(record(40_000, true, &b(&[0x00])));
        let raw = parse_proxmark_raw(&file).unwrap();
        let (_, e) = &raw.events[0];
        let atr = kazasu_sim::parse_hex("3B 88 80 01 20 38 19 22 00 21 85 00").unwrap();
        assert!(
            matches!(&e.what, What::Inserted { atr: Some(a) } if a[..12] == atr[..]),
            "{:?}",
            e.what
        );
        assert_eq!(e.at_us, Some(1_000));
        let mut cut = file.clone();
        cut.truncate(file.len() - 2);
        assert_eq!(parse_proxmark_raw(&cut).err().map(|e| e.line), Some(4));
        assert!(parse_proxmark_raw(b"\0\0\0\0\0\0\0\0").is_err());
    }
}
