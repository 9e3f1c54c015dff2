//! The virtual reader: activation, chaining, WTX, timing, extended APDUs, events.

#[path = "common/reader.rs"]
mod common;

use common::*;
use kazasu_sim::iso14443::frame::BlockKind;
use kazasu_sim::reader::{Direction, EventKind, Fate, FrameWhat};
use kazasu_sim::{LinkError, SimDuration, applets::readertest::pattern, hex_spaced};

const SELECT_JPKI: &str = "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01";

#[test]
fn tap_activates_and_connect_returns_the_pcsc_atr() {
    let mut r = reader("typical-424k", "mynumber-card", "");
    assert_eq!(r.transmit(&[0, 0xA4, 0, 0]).unwrap_err(), LinkError::NoCard);
    r.tap().unwrap();
    let whats: Vec<_> = r.last_frames().iter().map(|f| f.what).collect();
    assert_eq!(
        whats,
        [
            FrameWhat::Reqb,
            FrameWhat::Atqb,
            FrameWhat::Attrib,
            FrameWhat::AttribAnswer
        ],
        "Type B activation"
    );
    assert_eq!(
        hex_spaced(&r.connect().unwrap()),
        "3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F"
    );
    assert_eq!(r.bit_rate(), 424, "highest rate both support");
    assert_eq!(send(&mut r, SELECT_JPKI).unwrap().1, "9000");
    let events = r.take_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::CardPresent);
    r.remove();
    assert_eq!(r.take_events()[0].kind, EventKind::CardRemoved);
    assert_eq!(r.transmit(&[0, 0xA4, 0, 0]).unwrap_err(), LinkError::NoCard);
    assert_eq!(r.connect().unwrap_err(), LinkError::NoCard);

    let mut a = reader("typical-424k", "android-jpki", "");
    a.tap().unwrap();
    let whats: Vec<_> = a.last_frames().iter().map(|f| f.what).collect();
    assert_eq!(whats[..2], [FrameWhat::Reqa, FrameWhat::Atqa]);
    assert!(
        whats.contains(&FrameWhat::Rats)
            && whats.contains(&FrameWhat::Ats)
            && whats.contains(&FrameWhat::Pps)
    );
    // A 7-byte UID needs two cascade levels.
    let mut t = reader("basic-106k", "readertest", "");
    t.tap().unwrap();
    assert!(
        t.last_frames()
            .iter()
            .any(|f| f.what == FrameWhat::Select(2))
    );
    assert_eq!(t.bit_rate(), 106, "basic reader: 106 only, no PPS");
    assert!(!t.last_frames().iter().any(|f| f.what == FrameWhat::Pps));
}

#[test]
fn disconnect_deselects_and_connect_reactivates() {
    let mut r = reader("typical-424k", "android-jpki", "");
    r.tap().unwrap();
    send(&mut r, SELECT_JPKI).unwrap();
    r.disconnect().unwrap();
    let f = r.last_frames();
    assert_eq!(f.len(), 2);
    assert!(matches!(
        f[0].what,
        FrameWhat::Block {
            kind: BlockKind::Deselect,
            ..
        }
    ));
    assert!(matches!(
        f[1].what,
        FrameWhat::Block {
            kind: BlockKind::Deselect,
            ..
        }
    ));
    // The next transmit re-activates the card; its security state started afresh.
    assert_eq!(
        send(&mut r, "00 B0 8B 00 04").unwrap().1,
        "6A82",
        "no application selected after re-activation"
    );
}

#[test]
fn long_commands_and_answers_chain_with_small_frames() {
    // basic-106k: FSD 64, so a 256-byte answer comes in 5 frames; the card's FSC 256.
    let mut r = reader("basic-106k", "readertest", "");
    r.tap().unwrap();
    send(&mut r, "00 A4 04 00 06 A0 00 00 00 18 FF").unwrap();
    let (data, sw) = send(&mut r, "80 34 01 00 00").unwrap();
    assert_eq!((data, sw.as_str()), (pattern(256), "9000"));
    let from_card: Vec<_> = r
        .last_frames()
        .iter()
        .filter(|f| f.dir == Direction::ToReader)
        .collect();
    assert_eq!(from_card.len(), 5, "258 bytes in 61-byte pieces");
    assert!(from_card.iter().take(4).all(|f| matches!(
        f.what,
        FrameWhat::Block {
            kind: BlockKind::I { chaining: true },
            ..
        }
    )));
    // A long command chains to the card: 250 data bytes through a card with FSC 256 fits; with
    // the readertest profile's frame size lowered to 16 bytes it needs 20 blocks.
    let mut card = kazasu_sim::CardProfile::builtin("readertest").unwrap();
    card.contactless.fsci.value = 0;
    let mut r = reader_with(
        kazasu_sim::ReaderProfile::builtin("typical-424k").unwrap(),
        card,
        "",
        1,
    );
    r.tap().unwrap();
    send(&mut r, "00 A4 04 00 06 A0 00 00 00 18 FF").unwrap();
    let cmd = format!("80 32 00 00 FA {}", hex_spaced(&pattern(250)));
    assert_eq!(send(&mut r, &cmd).unwrap().1, "9000");
    let to_card = r
        .last_frames()
        .iter()
        .filter(|f| f.dir == Direction::ToCard)
        .count();
    assert_eq!(
        to_card,
        255usize.div_ceil(13),
        "255 bytes in 13-byte pieces"
    );
}

#[test]
fn slow_commands_get_waiting_time_extensions() {
    let mut r = reader("typical-424k", "mynumber-card", "");
    r.tap().unwrap();
    send(&mut r, SELECT_JPKI).unwrap();
    send(&mut r, "00 20 00 98 04 31 32 33 34").unwrap();
    let t = sign_with_key_0017(&mut r);
    assert_eq!(t.response.len(), 258);
    assert!(
        wtx_frames(&r) >= 2,
        "the 380 ms signature exceeds FWT 309 ms: request and response"
    );
    assert!(
        t.duration >= SimDuration::from_millis(380),
        "{}",
        t.duration
    );
    // The readertest time request: 10 units of 10 ms against FWI 7 (39 ms).
    let mut t = reader("typical-424k", "readertest", "");
    t.tap().unwrap();
    send(&mut t, "00 A4 04 00 06 A0 00 00 00 18 FF").unwrap();
    assert_eq!(send(&mut t, "80 38 00 0A").unwrap().1, "9000");
    assert!(t.last_frames().iter().any(|f| matches!(
        f.what,
        FrameWhat::Block {
            kind: BlockKind::Wtx { .. },
            ..
        }
    )));
}

#[test]
fn wtx_storms_are_honoured_and_a_strict_reader_gives_up() {
    let mut r = reader(
        "typical-424k",
        "android-jpki",
        "- { when: { exchange: 1 }, do: { wtx_storm: 20 } }",
    );
    r.tap().unwrap();
    assert_eq!(send(&mut r, SELECT_JPKI).unwrap().1, "9000");
    assert_eq!(wtx_frames(&r), 40, "20 requests, 20 responses");
    // fast-848k grants at most 100 WTX per exchange.
    let mut f = reader(
        "fast-848k",
        "android-jpki",
        "- { when: { exchange: 1 }, do: { wtx_storm: 101 } }",
    );
    f.tap().unwrap();
    assert_eq!(
        send(&mut f, SELECT_JPKI).unwrap_err(),
        LinkError::TooManyWtx
    );
}

#[test]
fn extended_apdus_depend_on_the_reader() {
    let read_ext = "00 B0 8A 00 00 01 00";
    let mut typical = reader("typical-424k", "mynumber-card", "");
    typical.tap().unwrap();
    send(&mut typical, SELECT_JPKI).unwrap();
    let (data, sw) = send(&mut typical, read_ext).unwrap();
    assert_eq!((data.len(), sw.as_str()), (256, "9000"));
    let mut basic = reader("basic-106k", "mynumber-card", "");
    basic.tap().unwrap();
    send(&mut basic, SELECT_JPKI).unwrap();
    assert_eq!(
        send(&mut basic, read_ext).unwrap_err(),
        LinkError::ExtendedApduUnsupported
    );
    assert_eq!(
        send(&mut basic, "00 B0 8A 00 04").unwrap().1,
        "9000",
        "short APDUs still work"
    );
    let mut p = kazasu_sim::ReaderProfile::builtin("basic-106k").unwrap();
    p.extended_apdus.value = kazasu_sim::reader::profile::ExtendedApdus::WrongLength;
    let mut w = reader_with(
        p,
        kazasu_sim::CardProfile::builtin("mynumber-card").unwrap(),
        "",
        1,
    );
    w.tap().unwrap();
    send(&mut w, SELECT_JPKI).unwrap();
    assert_eq!(send(&mut w, read_ext).unwrap().1, "6700");
    assert!(w.last_frames().is_empty(), "the reader answered itself");
}

#[test]
fn collisions_and_new_uids_at_tap() {
    let mut r = reader(
        "basic-106k",
        "android-jpki",
        "- { when: { tap: 1 }, do: collision }",
    );
    assert_eq!(r.tap().unwrap_err(), LinkError::Collision);
    assert!(!r.is_present());
    r.tap().unwrap();
    let mut resolve = reader(
        "typical-424k",
        "android-jpki",
        "- { when: { tap: 1 }, do: collision }",
    );
    resolve.tap().unwrap();
    let rounds = resolve
        .last_frames()
        .iter()
        .filter(|f| f.what == FrameWhat::Anticollision(1))
        .count();
    assert_eq!(rounds, 2, "an extra anticollision round");
    let mut c = reader(
        "typical-424k",
        "mynumber-card",
        "- { when: { tap: 2 }, do: new_uid }",
    );
    c.tap().unwrap();
    let first = c.card().uid().to_vec();
    c.remove();
    c.tap().unwrap();
    assert_ne!(
        c.card().uid(),
        first.as_slice(),
        "a new random UID at tap 2"
    );
}

/// Hand-computed: a 256-byte READ BINARY on the My Number card (Type B) through typical-424k.
/// etu at 106 kbit/s = 128 / 13.56 MHz; Type B frames cost 10 etu a byte, 1 etu EGT between
/// bytes and 22 etu SOF/EOF, and the card's frames start with a 10-etu TR1.
#[test]
fn a_256_byte_read_takes_the_hand_computed_time_at_106_and_424() {
    let etu106_ns = 128.0 / 13.56e6 * 1e9; // 9439.528 ns
    for (kbps, d) in [(106u32, 1.0f64), (424, 4.0)] {
        let etu = etu106_ns / d;
        let frame = |bytes: f64| (10.0 * bytes + (bytes - 1.0) + 22.0) * etu;
        let card_frame = |bytes: f64| frame(bytes) + 10.0 * etu;
        let expected_ns = 500_000.0                   // half the 1 ms host overhead
            + frame(8.0)                              // I(0): PCB + 5-byte APDU + CRC
            + 5_500_000.0                             // card: 4 ms read + 6 ms/KiB × 256 B
            + card_frame(256.0)                       // I(0)+: PCB + 253 bytes + CRC (FSD 256)
            + 1172.0 / 13.56e6 * 1e9                  // reader turnaround
            + frame(3.0)                              // R(ACK,1)
            + 1024.0 / 13.56e6 * 1e9                  // card TR0
            + card_frame(8.0)                         // I(1): last 3 data bytes + SW + CRC
            + 500_000.0; // the other half of the overhead
        let mut r = reader("typical-424k", "mynumber-card", "");
        r.set_max_bit_rate(Some(kbps));
        r.tap().unwrap();
        assert_eq!(r.bit_rate(), kbps);
        send(&mut r, SELECT_JPKI).unwrap();
        send(&mut r, "00 A4 02 0C 02 00 0A").unwrap();
        let t = r.transmit(&[0x00, 0xB0, 0x00, 0x00, 0x00]).unwrap();
        assert_eq!(t.response.len(), 258);
        let got = t.duration.as_nanos() as f64;
        assert!(
            (got - expected_ns).abs() < 10.0,
            "{kbps} kbit/s: {got} ns vs hand-computed {expected_ns} ns"
        );
        assert_eq!(r.last_frames().len(), 4);
    }
}

#[test]
fn lost_and_corrupted_frames_are_recovered() {
    for fault in ["frame_lost", "crc_error"] {
        for frame in 1..=4 {
            let yaml = format!("- {{ when: {{ exchange: 3, frame: {frame} }}, do: {fault} }}");
            let mut r = reader("typical-424k", "mynumber-card", &yaml);
            r.tap().unwrap();
            send(&mut r, SELECT_JPKI).unwrap();
            send(&mut r, "00 A4 02 0C 02 00 0A").unwrap();
            let (data, sw) = send(&mut r, "00 B0 00 00 00")
                .unwrap_or_else(|e| panic!("{fault} at frame {frame}: {e}"));
            assert_eq!(
                (data.len(), sw.as_str()),
                (256, "9000"),
                "{fault} at frame {frame}"
            );
            let subject = kazasu_sim::Fixtures::embedded().default_subject();
            assert_eq!(
                data[..],
                subject.keys.auth_cert[..256],
                "{fault} at frame {frame}: right bytes"
            );
            let fates: Vec<_> = r.last_frames().iter().map(|f| f.fate).collect();
            assert!(
                fates.contains(&if fault == "frame_lost" {
                    Fate::Lost
                } else {
                    Fate::Corrupted
                }),
                "{fates:?}"
            );
        }
    }
}

#[test]
fn a_card_that_never_answers_fails_with_a_transport_error_after_the_retries() {
    let mut r = reader(
        "typical-424k",
        "android-jpki",
        "- { when: { probability: 1.0, exchange: 2 }, do: frame_lost }",
    );
    r.tap().unwrap();
    send(&mut r, SELECT_JPKI).unwrap();
    let before = r.now();
    assert_eq!(send(&mut r, SELECT_JPKI).unwrap_err(), LinkError::NoAnswer);
    let timeouts = r
        .last_frames()
        .iter()
        .filter(|f| f.what == FrameWhat::Timeout)
        .count();
    assert!(timeouts >= 3, "first try + 2 retries: {timeouts}");
    assert!(r.now().since(before) >= kazasu_sim::iso14443::timing::fwt(8).saturating_mul(3));
    // The reader reset the field and re-activated the card: it is usable again.
    assert!(r.is_present());
    assert_eq!(send(&mut r, SELECT_JPKI).unwrap().1, "9000");
}

#[test]
fn the_reader_answers_get_data_itself_on_every_profile() {
    for reader_profile in ["basic-106k", "typical-424k", "fast-848k"] {
        for card_profile in ["mynumber-card", "android-jpki", "readertest"] {
            let mut r = reader(reader_profile, card_profile, "");
            r.tap().unwrap();
            let at = |r: &mut kazasu_sim::Reader, apdu: &[u8]| {
                let t = r.transmit(apdu).unwrap();
                assert!(
                    r.last_frames().is_empty(),
                    "{reader_profile}/{card_profile}: {} reached the card",
                    hex_spaced(apdu)
                );
                t.response
            };
            let uid = r.card().uid().to_vec();
            let mut want = uid.clone();
            want.extend_from_slice(&[0x90, 0x00]);
            assert_eq!(at(&mut r, &[0xFF, 0xCA, 0x00, 0x00, 0x00]), want);
            let contactless = &r.card().profile().contactless;
            let mut hist =
                if contactless.nfc_type.value == kazasu_sim::platform::profile::NfcType::A {
                    contactless.historical_bytes.value.0.clone()
                } else {
                    Vec::new()
                };
            hist.extend_from_slice(&[0x90, 0x00]);
            assert_eq!(at(&mut r, &[0xFF, 0xCA, 0x01, 0x00, 0x00]), hist);
            assert_eq!(at(&mut r, &[0xFF, 0xCA, 0x02, 0x00, 0x00]), [0x6A, 0x81]);
            assert_eq!(
                at(&mut r, &[0xFF, 0xCA, 0x00, 0x00, 0x01]),
                [0x6C, uid.len() as u8],
                "a wrong Le is told the right one"
            );
            // The card still answers its own commands afterwards.
            let t = r
                .transmit(&kazasu_sim::parse_hex(SELECT_JPKI).unwrap())
                .unwrap();
            assert!(!r.last_frames().is_empty());
            assert!(t.response.len() >= 2);
        }
    }
}

/// SELECT key 0017 and COMPUTE DIGITAL SIGNATURE over 32 bytes (after the PIN or approval).
fn sign_with_key_0017(r: &mut kazasu_sim::Reader) -> kazasu_sim::Transmitted {
    send(r, "00 A4 02 0C 02 00 17").unwrap();
    r.transmit(&kazasu_sim::parse_hex(&format!("80 2A 00 80 20 {} 00", "AB ".repeat(32))).unwrap())
        .unwrap()
}

/// The S(WTX) frames of the last exchange.
fn wtx_frames(r: &kazasu_sim::Reader) -> usize {
    r.last_frames()
        .iter()
        .filter(|f| {
            matches!(
                f.what,
                FrameWhat::Block {
                    kind: BlockKind::Wtx { .. },
                    ..
                }
            )
        })
        .count()
}

#[test]
fn the_two_card_variants_differ_in_their_atr_and_in_wtx_during_a_signature() {
    for (profile, atr, wtx) in [
        (
            "mynumber-card",
            "3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F",
            true,
        ),
        (
            "mynumber-card-fwi13",
            "3B 88 80 01 00 4B 51 FF B3 81 D1 00 0F",
            false,
        ),
    ] {
        let mut r = reader("typical-424k", profile, "");
        r.tap().unwrap();
        assert_eq!(
            hex_spaced(&r.atr().unwrap()),
            atr,
            "{profile}: the ATR seen in the field"
        );
        send(&mut r, SELECT_JPKI).unwrap();
        send(&mut r, "00 20 00 98 04 31 32 33 34").unwrap();
        send(&mut r, "00 A4 02 0C 02 00 17").unwrap();
        let t = r
            .transmit(
                &kazasu_sim::parse_hex(&format!("80 2A 00 80 20 {} 00", "AB ".repeat(32))).unwrap(),
            )
            .unwrap();
        assert_eq!(t.response.len(), 258, "{profile}");
        assert_eq!(
            wtx_frames(&r) > 0,
            wtx,
            "{profile}: WTX during the 380 ms signature"
        );
    }
}

#[test]
fn an_iphone_seen_as_type_b_at_fwi_7_needs_wtx_for_every_signature() {
    let mut r = reader("typical-424k", "iphone-jpki-type-b", "");
    assert!(r.approve());
    r.tap().unwrap();
    assert_eq!(r.bit_rate(), 106, "106 kbit/s only");
    send(&mut r, SELECT_JPKI).unwrap();
    let t = sign_with_key_0017(&mut r);
    assert_eq!(t.response.len(), 258);
    assert!(
        wtx_frames(&r) >= 2,
        "150 ms of signing against a 38.7 ms FWT"
    );
}

/// The reader profile decides the ATR: part-3 readers build it from the card's ATQB / ATS, a
/// generic reader reports `3B 80 80 01 01` for every card; test cards keep their own. The
/// reader still answers FF CA with the card's identifier.
#[test]
fn the_reader_profile_decides_the_atr_form() {
    for (reader_name, card_name, want) in [
        (
            "typical-424k",
            "mynumber-card",
            "3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F",
        ),
        (
            "fast-848k",
            "mynumber-card",
            "3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F",
        ),
        ("basic-106k", "mynumber-card", "3B 80 80 01 01"),
        ("basic-106k", "android-jpki", "3B 80 80 01 01"),
    ] {
        let mut r = reader(reader_name, card_name, "");
        assert_eq!(r.atr(), None, "no ATR before the tap");
        r.tap().unwrap();
        assert_eq!(
            hex_spaced(&r.atr().unwrap()),
            want,
            "{reader_name} + {card_name}"
        );
        assert_eq!(hex_spaced(&r.connect().unwrap()), want, "PC/SC connect");
        let (uid, sw) = send(&mut r, "FF CA 00 00 00").unwrap();
        assert_eq!((uid.len(), sw.as_str()), (r.card().uid().len(), "9000"));
    }
    // A test card's own ATR stays whatever the reader.
    let mut r = reader("basic-106k", "athena-ext-case2", "");
    r.tap().unwrap();
    assert_ne!(hex_spaced(&r.atr().unwrap()), "3B 80 80 01 01");
}
