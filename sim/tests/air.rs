//! The air as a sniffer hears it (`Reader::keep_air`): the same frames as the frame log, with
//! their bytes and good CRCs, the field switching, and nothing kept unless asked.

#[path = "common/reader.rs"]
mod common;

use common::*;
use kazasu_sim::iso14443::frame::{BlockKind, check_crc};
use kazasu_sim::platform::profile::NfcType;
use kazasu_sim::reader::air::AirKind;
use kazasu_sim::reader::{Direction, Fate, FrameWhat};

const SELECT_JPKI: &str = "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01";

/// The frames of the air record, as (direction, bytes, fate).
fn frames(air: &[kazasu_sim::reader::air::AirRecord]) -> Vec<(Direction, Vec<u8>, Fate)> {
    air.iter()
        .filter_map(|r| match &r.kind {
            AirKind::Frame { dir, bytes, fate } => Some((*dir, bytes.clone(), *fate)),
            _ => None,
        })
        .collect()
}

#[test]
fn the_air_holds_every_logged_frame_with_its_bytes_and_the_field_switching() {
    for (card, nfc) in [("mynumber-card", NfcType::B), ("android-jpki", NfcType::A)] {
        let mut r = reader("typical-424k", card, "");
        r.keep_air();
        r.tap().unwrap();
        let mut logged: Vec<_> = r.last_frames().to_vec();
        send(&mut r, SELECT_JPKI).unwrap();
        logged.extend_from_slice(r.last_frames());
        // A certificate read: chained answers at FSD 256.
        send(&mut r, "00 B0 00 00 00 03 00").unwrap();
        logged.extend_from_slice(r.last_frames());
        r.remove();
        let air = r.take_air();
        assert!(
            matches!(air.first().map(|a| &a.kind), Some(AirKind::FieldOn)),
            "{card}"
        );
        assert!(
            matches!(air.last().map(|a| &a.kind), Some(AirKind::FieldOff)),
            "{card}"
        );
        let on_air = frames(&air);
        let logged: Vec<_> = logged
            .iter()
            .filter(|f| f.what != FrameWhat::Timeout)
            .collect();
        assert_eq!(
            on_air.len(),
            logged.len(),
            "{card}: one air frame per logged frame"
        );
        for ((dir, bytes, fate), log) in on_air.iter().zip(&logged) {
            assert_eq!(
                (*dir, bytes.len(), *fate),
                (log.dir, log.len as usize, log.fate),
                "{card}: {log}"
            );
            let short = matches!(
                log.what,
                FrameWhat::Reqa | FrameWhat::Atqa | FrameWhat::Anticollision(_) | FrameWhat::Uid(_)
            );
            if !short {
                assert!(check_crc(nfc, bytes).is_ok(), "{card}: {log}: {bytes:02X?}");
            }
        }
        let first = &on_air[0].1;
        match nfc {
            NfcType::A => assert_eq!(first, &[0x26], "REQA"),
            NfcType::B => assert_eq!(first[..3], [0x05, 0x00, 0x00], "REQB"),
        }
        // The SELECT went out in one I-block: its INF is the command.
        let select = kazasu_sim::parse_hex(SELECT_JPKI).unwrap();
        assert!(
            on_air.iter().any(|(d, b, _)| *d == Direction::ToCard
                && b.len() == select.len() + 3
                && b[1..b.len() - 2] == select[..]),
            "{card}: no I-block carries the SELECT"
        );
        assert!(r.take_air().is_empty(), "taken once");
    }
}

#[test]
fn without_keep_air_no_frame_bytes_are_kept() {
    let mut r = reader("typical-424k", "mynumber-card", "");
    r.tap().unwrap();
    send(&mut r, SELECT_JPKI).unwrap();
    assert!(r.take_air().is_empty());
}

#[test]
fn a_corrupted_frame_is_on_the_air_with_its_bad_crc() {
    let faults = "- { when: { exchange: 1, frame: 2 }, do: crc_error }";
    let mut r = reader("typical-424k", "mynumber-card", faults);
    r.keep_air();
    r.tap().unwrap();
    send(&mut r, SELECT_JPKI).unwrap();
    let on_air = frames(&r.take_air());
    let bad: Vec<_> = on_air
        .iter()
        .filter(|(_, _, f)| *f == Fate::Corrupted)
        .collect();
    assert_eq!(bad.len(), 1, "{on_air:02X?}");
    assert!(check_crc(NfcType::B, &bad[0].1).is_err());
}

/// An answer given from outside (a recording replayed through the air model) goes through the
/// card's radio side like its own: chained at the reader's frame size, with S(WTX) while the card
/// "works" past its frame waiting time, and only for the next command.
#[test]
fn an_answer_given_from_outside_goes_through_the_air_like_the_cards_own() {
    let mut r = reader("typical-424k", "android-jpki", "");
    r.tap().unwrap();
    let recorded: Vec<u8> = (0..600u16).map(|i| i as u8).chain([0x90, 0x00]).collect();
    r.card_mut().answer_next_with(
        kazasu_sim::Response::parse(&recorded).unwrap(),
        kazasu_sim::SimDuration::from_millis(300),
    );
    let got = r.transmit(&[0x00, 0xCA, 0x01, 0x02, 0x00]).unwrap();
    assert_eq!(got.response, recorded);
    let frames = r.last_frames();
    let kind = |f: &&kazasu_sim::reader::FrameRecord| match f.what {
        FrameWhat::Block { kind, .. } => Some(kind),
        _ => None,
    };
    assert!(
        frames
            .iter()
            .filter_map(|f| kind(&f))
            .any(|k| matches!(k, BlockKind::Wtx { .. })),
        "{frames:?}"
    );
    let chained = frames
        .iter()
        .filter(|f| f.dir == Direction::ToReader)
        .filter(|f| kind(f) == Some(BlockKind::I { chaining: true }))
        .count();
    assert!(chained >= 2, "600 bytes come chained: {frames:?}");
    assert!(got.duration >= kazasu_sim::SimDuration::from_millis(300));
    // The next command is the card's own again.
    let own = r.transmit(&[0x00, 0xCA, 0x01, 0x02, 0x00]).unwrap();
    assert_ne!(own.response, recorded);
    assert!(!r.card_mut().clear_scripted(), "nothing left over");
}
