//! The readertest applet and the Athena cards, as public PC/SC test programs drive them.

mod common;

use common::*;
use kazasu_sim::applets::readertest::pattern;
use kazasu_sim::{Card, CardProfile, Fixtures, SimTime, hex_spaced};
use std::sync::Arc;

#[test]
fn readertest_select_forms() {
    for aid in [
        "A0 00 00 00 18 FF",
        "A0 00 00 00 18 FF 01",
        "A0 00 00 00 18 50",
    ] {
        let mut c = card("readertest");
        assert_eq!(
            sw(&mut c, "80 30 00 00"),
            "6D00",
            "{aid}: nothing selected yet"
        );
        assert_eq!(
            sw(
                &mut c,
                &format!("00 A4 04 00 {:02X} {aid} 00", aid.split(' ').count())
            ),
            "9000",
            "{aid}"
        );
        assert_eq!(sw(&mut c, "80 30 00 00"), "9000");
    }
}

#[test]
fn readertest_iso_cases() {
    let mut c = card("readertest");
    tx(&mut c, "00 A4 04 00 06 A0 00 00 00 18 FF");
    // Case 1.
    assert_eq!(sw(&mut c, "80 30 00 00"), "9000");
    assert_eq!(sw(&mut c, "80 30 00 00 00"), "9000", "with Le 00");
    assert_eq!(sw(&mut c, "80 30 00 00 01 00"), "6700", "Lc != 0");
    // Case 3: data 00 01 02 …
    for ins in ["32", "21"] {
        assert_eq!(
            sw(&mut c, &format!("80 {ins} 00 00 05 00 01 02 03 04")),
            "9000"
        );
        assert_eq!(
            sw(&mut c, &format!("80 {ins} 00 00 05 00 01 02 09 04")),
            "6A03",
            "index of the first wrong byte"
        );
    }
    let full = hex_spaced(&pattern(255));
    assert_eq!(sw(&mut c, &format!("80 32 00 00 FF {full}")), "9000");
    // Case 2: P1P2 bytes, Le must match.
    for len in [1usize, 16, 255, 256] {
        let le = if len == 256 { 0 } else { len };
        let (data, s) = tx(
            &mut c,
            &format!("80 34 {:02X} {:02X} {le:02X}", len >> 8, len & 0xFF),
        );
        assert_eq!(
            (data, s.to_string()),
            (pattern(len), "9000".into()),
            "{len}"
        );
    }
    assert_eq!(sw(&mut c, "80 34 00 10 0F"), "6700", "Le must equal P1P2");
    let (data, _) = tx(&mut c, "80 3C 00 10 05");
    assert_eq!(data, pattern(16), "INS 3C ignores Le");
    // Extended case 2 (the readertest profile takes extended APDUs).
    let (data, s) = tx(&mut c, "80 34 10 00 00 10 00");
    assert_eq!((data.len(), s.to_string()), (4096, "9000".into()));
    // Case 4.
    let (data, s) = tx(&mut c, "80 36 00 04 03 00 01 02 04");
    assert_eq!((data, s.to_string()), (pattern(4), "9000".into()));
    assert_eq!(sw(&mut c, "80 36 00 04 03 00 07 02 04"), "6A01");
    assert_eq!(sw(&mut c, "80 36 00 04 00"), "6700", "case 2 form: no data");
    // Other INS and classes.
    assert_eq!(sw(&mut c, "80 50 00 00"), "6D00");
    assert_eq!(sw(&mut c, "00 30 00 00"), "6E00");
}

#[test]
fn readertest_tpdu_mode_answers_61xx_and_get_response() {
    let mut profile = CardProfile::builtin("readertest").unwrap();
    profile.readertest.as_mut().unwrap().mode.value =
        kazasu_sim::platform::profile::ReadertestMode::Tpdu;
    let mut c = Card::new(Arc::new(profile), Fixtures::embedded().default_subject(), 1).unwrap();
    c.power_on();
    tx(&mut c, "00 A4 04 00 06 A0 00 00 00 18 FF");
    assert_eq!(sw(&mut c, "80 36 00 0A 02 00 01 0A"), "610A");
    let (data, s) = tx(&mut c, "80 C0 00 00 0A");
    assert_eq!((data, s.to_string()), (pattern(10), "9000".into()));
    assert_eq!(sw(&mut c, "80 C0 00 00 0A"), "6A86", "nothing pending");
}

#[test]
fn readertest_time_request_costs_card_time() {
    let mut c = card("readertest");
    tx(&mut c, "00 A4 04 00 06 A0 00 00 00 18 FF");
    let a = c
        .process(&[0x80, 0x38, 0x00, 0x0A], SimTime::START)
        .answer()
        .unwrap();
    assert_eq!(a.response.sw.to_string(), "9000");
    assert!(
        a.processing.as_nanos() >= 100_000_000,
        "10 units of 10 ms: {}",
        a.processing
    );
    let short = c
        .process(&[0x80, 0x38, 0x00, 0x01], SimTime::START)
        .answer()
        .unwrap();
    assert!(short.processing < a.processing);
}

#[test]
fn readertest_verify_dump_and_retry_counter() {
    let mut c = card("readertest");
    tx(&mut c, "00 A4 04 00 06 A0 00 00 00 18 FF");
    let (dump, _) = tx(&mut c, "80 40 00 00 08");
    assert_eq!(dump, vec![0x42; 8], "memory starts as 0x42 bytes");
    assert_eq!(sw(&mut c, "80 20 00 00 00"), "63C3");
    assert_eq!(sw(&mut c, "80 20 00 00 04 31 32 33 34"), "9000");
    let (dump, _) = tx(&mut c, "80 40 00 00 00");
    assert_eq!(
        dump,
        kazasu_sim::parse_hex("80 20 00 00 04 31 32 33 34").unwrap(),
        "dump returns the last VERIFY"
    );
    assert_eq!(sw(&mut c, "80 20 00 00 04 31 32 39 34"), "6A02");
    assert_eq!(sw(&mut c, "80 20 00 00 00"), "63C2");
    assert_eq!(
        sw(&mut c, "80 24 00 00 03 31 32 33"),
        "9000",
        "MODIFY with the pattern"
    );
    let (dump, _) = tx(&mut c, "80 40 00 00 00");
    assert_eq!(
        dump,
        kazasu_sim::parse_hex("80 24 00 00 03 31 32 33").unwrap()
    );
    assert_eq!(
        sw(&mut c, "80 20 00 00 00"),
        "63C3",
        "a right VERIFY restores the counter"
    );
    for left in ["6A00", "6A00", "6A00"] {
        assert_eq!(sw(&mut c, "80 20 00 00 01 30"), left);
    }
    assert_eq!(sw(&mut c, "80 20 00 00 00"), "63C0");
    assert_eq!(sw(&mut c, "80 20 00 00 01 31"), "6984", "blocked");
}

#[test]
fn athena_cards_carry_their_atrs_and_answer_extended_cases() {
    for (profile, atr) in [
        (
            "athena-ext-case2",
            "3B D6 18 00 80 B1 80 6D 1F 03 80 51 00 61 10 30 9E",
        ),
        ("athena-ext-case2-t0", "3F 96 18 80 01 80 51 00 61 10 30 9F"),
        (
            "athena-ext-case3",
            "3B D6 18 00 81 B1 80 7D 1F 03 80 51 00 61 10 30 8F",
        ),
    ] {
        let mut c = card(profile);
        assert_eq!(hex_spaced(c.atr()), atr, "{profile}");
        let (data, s) = tx(&mut c, "80 00 04 33 00 FF FF");
        assert_eq!((data.len(), s.to_string()), (65535, "9000".into()));
        assert!(data.iter().all(|b| *b == 0x33));
        let payload = hex_spaced(&vec![0x5Au8; 65535]);
        assert_eq!(
            sw(&mut c, &format!("80 12 01 80 00 FF FF {payload}")),
            "9000"
        );
        assert_eq!(sw(&mut c, "80 00 05 33 00 00 10"), "6A86");
        assert_eq!(sw(&mut c, "80 12 01 81 00 00 01 00"), "6A86");
        assert_eq!(sw(&mut c, "80 77 00 00"), "6D00");
        assert_eq!(sw(&mut c, "00 00 04 33 00 00 10"), "6E00");
    }
}
