//! A card pulled away at any frame of a chained READ BINARY or of a signature: the host sees a
//! transport error — never a wrong response — and after the next tap both sides are in a
//! defined state: the card starts afresh, its persistent state is what it had committed.

#[path = "common/mod.rs"]
mod card_helpers;
#[path = "common/reader.rs"]
mod common;

use common::*;
use kazasu_sim::reader::{EventKind, Fate};
use kazasu_sim::{Fixtures, LinkError, applets::jpki};

const SELECT_JPKI: &str = "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01";

/// Frames of a 256-byte READ through basic-106k (FSD 64): 1 command + 5 answers + 4 R(ACK).
const READ_FRAMES: u32 = 10;

#[test]
fn removal_at_every_frame_of_a_chained_read() {
    let cert = &Fixtures::embedded().default_subject().keys.auth_cert;
    for frame in 1..=READ_FRAMES + 1 {
        for byte in [None, Some(1), Some(2)] {
            let at = byte.map_or(String::new(), |b| format!(", byte: {b}"));
            let yaml =
                format!("- {{ when: {{ exchange: 3, frame: {frame}{at} }}, do: field_off }}");
            let mut r = reader("basic-106k", "mynumber-card", &yaml);
            r.tap().unwrap();
            send(&mut r, SELECT_JPKI).unwrap();
            send(&mut r, "00 20 00 98 04 31 32 33 34").unwrap();
            let result = send(&mut r, "00 B0 8A 00 00");
            let what = format!("field off at frame {frame} byte {byte:?}");
            if frame > READ_FRAMES {
                let (data, sw) = result.unwrap();
                assert_eq!(
                    (data.as_slice(), sw.as_str()),
                    (&cert[..256], "9000"),
                    "{what}: after the last frame"
                );
                continue;
            }
            assert_eq!(result.unwrap_err(), LinkError::CardRemoved, "{what}");
            assert!(!r.is_present(), "{what}");
            assert!(
                r.last_frames().iter().any(|f| f.fate == Fate::FieldOff),
                "{what}"
            );
            assert!(
                r.take_events()
                    .iter()
                    .any(|e| e.kind == EventKind::CardRemoved),
                "{what}"
            );
            assert_eq!(
                r.transmit(&[0x00, 0xB0, 0x8A, 0x00, 0x04]).unwrap_err(),
                LinkError::NoCard,
                "{what}"
            );
            // Tap again: a fresh card session; the same bytes come back.
            r.tap().unwrap();
            assert_eq!(
                send(&mut r, "00 B0 8A 00 04").unwrap().1,
                "6A82",
                "{what}: no application selected"
            );
            send(&mut r, SELECT_JPKI).unwrap();
            assert_eq!(
                send(&mut r, "00 20 00 98").unwrap().1,
                "63C3",
                "{what}: not verified, no try lost"
            );
            let (data, sw) = send(&mut r, "00 B0 8A 00 00").unwrap();
            assert_eq!(
                (data.as_slice(), sw.as_str()),
                (&cert[..256], "9000"),
                "{what}"
            );
        }
    }
}

#[test]
fn removal_during_a_signature() {
    let cert = Fixtures::embedded()
        .default_subject()
        .keys
        .auth_cert
        .clone();
    // Android: sign takes 180 ms against FWT 77 ms: frames are I, S(WTX), S(WTX), I+, R(ACK), I.
    for frame in 1..=6 {
        let yaml = format!("- {{ when: {{ exchange: 5, frame: {frame} }}, do: field_off }}");
        let mut r = reader("typical-424k", "android-jpki", &yaml);
        r.tap().unwrap();
        send(&mut r, SELECT_JPKI).unwrap();
        send(&mut r, "00 A4 02 0C 02 00 18").unwrap();
        send(&mut r, "00 20 00 80 04 31 32 33 34").unwrap();
        send(&mut r, "00 A4 02 0C 02 00 17").unwrap();
        let sign = "80 2A 00 80 05 01 02 03 04 05 00";
        assert_eq!(
            send(&mut r, sign).unwrap_err(),
            LinkError::CardRemoved,
            "frame {frame}"
        );
        assert_eq!(
            r.card().tries_left(&jpki::AID, jpki::ef::AUTH_PIN),
            Some(3),
            "frame {frame}"
        );
        r.tap().unwrap();
        send(&mut r, SELECT_JPKI).unwrap();
        send(&mut r, "00 A4 02 0C 02 00 17").unwrap();
        assert_eq!(
            send(&mut r, sign).unwrap().1,
            "6982",
            "frame {frame}: the PIN must be entered again"
        );
        send(&mut r, "00 20 00 98 04 31 32 33 34").unwrap();
        let (sig, sw) = send(&mut r, sign).unwrap();
        assert_eq!((sig.len(), sw.as_str()), (256, "9000"));
        let _ = &cert;
    }
}

#[test]
fn a_fault_at_a_precise_point_strikes_once_even_when_frames_are_counted_again() {
    // The phone leaves as it answers a short command (exchange 4, frame 2). After a new tap the
    // reader deselects and re-activates (as a PC/SC power-on does): those frames are counted
    // again under exchange 4, and the fault must not strike a second time.
    let mut r = reader(
        "typical-424k",
        "android-jpki",
        "- { when: { exchange: 4, frame: 2 }, do: field_off }",
    );
    r.tap().unwrap();
    for apdu in [
        SELECT_JPKI,
        "00 A4 02 0C 02 00 18",
        "00 20 00 80 04 31 32 33 34",
    ] {
        r.transmit(&kazasu_sim::parse_hex(apdu).unwrap()).unwrap();
    }
    assert_eq!(
        r.transmit(&kazasu_sim::parse_hex("00 A4 02 0C 02 00 0A").unwrap())
            .unwrap_err(),
        LinkError::CardRemoved
    );
    r.tap().unwrap();
    r.disconnect().unwrap();
    r.connect().unwrap();
    let t = r
        .transmit(&kazasu_sim::parse_hex(SELECT_JPKI).unwrap())
        .unwrap();
    assert_eq!(t.response, [0x90, 0x00]);
}

/// A warm reset (PC/SC reconnect with SCARD_RESET_CARD) keeps the VERIFY of the selected
/// application and the PUPI, as a real card does; selecting another application, the issuer
/// security domain or taking the card out of the field clears it. A profile may say a warm reset
/// clears it too.
#[test]
fn a_warm_reset_keeps_the_verify_and_power_off_clears_it() {
    use card_helpers::{SELECT_CARD_INFO, sign_apdu, verify_apdu};
    let sign = |r: &mut kazasu_sim::Reader| {
        send(r, "00 A4 02 0C 02 00 17").unwrap();
        send(r, &sign_apdu(b"after a reset")).unwrap().1
    };
    let mut r = reader("typical-424k", "mynumber-card", "");
    r.tap().unwrap();
    send(&mut r, SELECT_JPKI).unwrap();
    send(&mut r, "00 A4 02 0C 02 00 18").unwrap();
    assert_eq!(send(&mut r, &verify_apdu("1234")).unwrap().1, "9000");
    let pupi = r.card().uid().to_vec();
    let atr = r.warm_reset().unwrap();
    assert_eq!(atr, r.reported_atr());
    assert_eq!(r.card().uid(), pupi, "the same PUPI: the field stayed on");
    send(&mut r, SELECT_JPKI).unwrap();
    assert_eq!(
        sign(&mut r),
        "9000",
        "kept across the warm reset and a re-SELECT"
    );
    // The issuer security domain clears it.
    send(&mut r, "00 A4 04 0C 07 A0 00 00 01 51 00 00").unwrap();
    send(&mut r, SELECT_JPKI).unwrap();
    assert_eq!(sign(&mut r), "6982", "cleared by the ISD");
    // Another application clears it.
    send(&mut r, "00 A4 02 0C 02 00 18").unwrap();
    send(&mut r, &verify_apdu("1234")).unwrap();
    send(&mut r, SELECT_CARD_INFO).unwrap();
    send(&mut r, SELECT_JPKI).unwrap();
    assert_eq!(sign(&mut r), "6982", "cleared by another application");
    // Power-off clears it.
    send(&mut r, "00 A4 02 0C 02 00 18").unwrap();
    send(&mut r, &verify_apdu("1234")).unwrap();
    r.remove();
    r.tap().unwrap();
    send(&mut r, SELECT_JPKI).unwrap();
    assert_eq!(sign(&mut r), "6982", "cleared by the field going off");

    let mut profile = kazasu_sim::CardProfile::builtin("mynumber-card").unwrap();
    profile.warm_reset_keeps_verify = Some(kazasu_sim::platform::profile::Sourced {
        value: false,
        sure: kazasu_sim::platform::profile::Sureness::Modelled,
        note: None,
    });
    let mut clears = reader_with(
        kazasu_sim::ReaderProfile::builtin("typical-424k").unwrap(),
        profile,
        "",
        1,
    );
    clears.tap().unwrap();
    send(&mut clears, SELECT_JPKI).unwrap();
    send(&mut clears, "00 A4 02 0C 02 00 18").unwrap();
    send(&mut clears, &verify_apdu("1234")).unwrap();
    clears.warm_reset().unwrap();
    send(&mut clears, SELECT_JPKI).unwrap();
    assert_eq!(
        sign(&mut clears),
        "6982",
        "the profile says a warm reset clears it"
    );
}
