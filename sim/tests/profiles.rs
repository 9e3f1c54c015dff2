//! Profiles: every built-in profile loads, derives the right ATR, and bad ones fail helpfully.

use kazasu_sim::platform::profile::{BUILTIN_CARD_PROFILES, Device, NfcType};
use kazasu_sim::{CardProfile, Fixtures, hex_spaced, platform::my_number};

#[test]
fn every_builtin_profile_loads() {
    for (name, _) in BUILTIN_CARD_PROFILES {
        let p = CardProfile::builtin(name).unwrap();
        assert_eq!(p.name, *name);
    }
    let names: Vec<_> = BUILTIN_CARD_PROFILES.iter().map(|(n, _)| *n).collect();
    for required in ["mynumber-card", "android-jpki", "iphone-jpki", "readertest"] {
        assert!(names.contains(&required), "{required}");
    }
}

#[test]
fn the_my_number_card_atr_is_the_one_readers_report() {
    let p = CardProfile::builtin("mynumber-card").unwrap();
    assert_eq!(p.contactless.nfc_type.value, NfcType::B);
    assert_eq!(
        hex_spaced(&p.atr()),
        "3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F"
    );
    assert_eq!(p.frame_size(), 256);
}

/// The four physical-card variants give, through a part-3 reader, the four ATRs public lists
/// hold byte for byte: ATQB application data, protocol info (byte 3's FO = 01: CID supported,
/// NAD not), TCK.
#[test]
fn the_four_card_variants_give_the_four_part3_atrs() {
    for (profile, atr) in [
        ("mynumber-card", "3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F"),
        (
            "mynumber-card-41e0",
            "3B 88 80 01 00 00 41 E0 B3 81 A1 00 3B",
        ),
        (
            "mynumber-card-106k",
            "3B 88 80 01 00 4B 51 FF 00 81 D1 00 BC",
        ),
        (
            "mynumber-card-fwi13",
            "3B 88 80 01 00 4B 51 FF B3 81 D1 00 0F",
        ),
    ] {
        let p = CardProfile::builtin(profile).unwrap();
        assert_eq!(hex_spaced(&p.atr()), atr, "{profile}");
        assert_eq!(p.atr()[10] & 0x03, 0x01, "{profile}: FO = 01");
        assert_eq!(p.device, Device::Card);
    }
}

#[test]
fn type_a_atr_is_built_from_the_ats_historical_bytes() {
    let p = CardProfile::builtin("android-jpki").unwrap();
    assert_eq!(p.device, Device::Android);
    let atr = p.atr();
    assert_eq!(atr[..4], [0x3B, 0x85, 0x80, 0x01]);
    assert_eq!(atr[4..9], p.contactless.historical_bytes.value.0[..]);
    let tck = atr[1..atr.len() - 1].iter().fold(0, |a, b| a ^ b);
    assert_eq!(*atr.last().unwrap(), tck);
    let ats = kazasu_sim::iso14443::atr::ats(&p);
    assert_eq!(ats[0] as usize, ats.len(), "TL counts itself");
    assert_eq!(ats[1] & 0x0F, 8, "FSCI");
}

#[test]
fn profiles_say_how_sure_each_value_is() {
    // Every value in the YAML carries `sure:`; `deny_unknown_fields` and `Sourced<T>` make a
    // missing one a load error. This checks the load error says where.
    let text = BUILTIN_CARD_PROFILES
        .iter()
        .find(|(n, _)| *n == "android-jpki")
        .unwrap()
        .1;
    let broken = text.replace(
        "fwi: { value: 8, sure: modelled, note: \"about 77 ms\" }",
        "fwi: { value: 8 }",
    );
    let err = CardProfile::from_yaml(&broken, "android-broken.yaml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("android-broken.yaml"), "{err}");
    assert!(err.contains("sure"), "{err}");
    assert!(err.contains("line"), "names the line: {err}");
}

#[test]
fn inconsistent_profiles_are_refused_with_a_hint() {
    let base = BUILTIN_CARD_PROFILES
        .iter()
        .find(|(n, _)| *n == "mynumber-card")
        .unwrap()
        .1;
    let cases = [
        ("fsci: { value: 8,", "fsci: { value: 13,", "FSCI"),
        (
            "bit_rates: { value: [106, 212, 424]",
            "bit_rates: { value: [212, 424]",
            "106",
        ),
        (
            "applets: [jpki, card-info, card-face, common-card, juki]",
            "applets: [jpki, card-info, card-face, common-card, juki, readertest]",
            "readertest",
        ),
        (
            "historical_bytes: { value: \"00 00 05 E0\"",
            "historical_bytes: { value: \"00 00 05\"",
            "4 ATQB",
        ),
        ("common_card:\n", "common_cards:\n", "common_card"),
        ("card_face:\n", "card_faces:\n", "card_face"),
        ("\"00F8\", \"7F21\"", "\"00F8\", \"5F51\"", "no MF object"),
    ];
    for (from, to, says) in cases {
        assert!(base.contains(from), "{from}");
        let err = CardProfile::from_yaml(&base.replace(from, to), "x.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains(says), "{to}: {err}");
        assert!(err.contains("x.yaml"), "{err}");
    }
    let err = CardProfile::builtin("nokia-3310").unwrap_err().to_string();
    assert!(
        err.contains("android-jpki"),
        "lists the known profiles: {err}"
    );
}

#[test]
fn identities_are_synthetic_and_pass_the_check_digit() {
    let f = Fixtures::embedded();
    assert!(f.ids().len() >= 3);
    let mut births = Vec::new();
    for id in f.ids() {
        let s = f.subject(id).unwrap();
        let n = s.identity.my_number.expose();
        assert!(my_number::is_valid(n), "{id}");
        assert!(n.starts_with("9999"), "obviously synthetic: {id}");
        births.push(s.identity.birth_date.clone());
        // Secrets never print.
        let shown = format!("{:?}", s.identity);
        assert!(!shown.contains(n.as_str()), "{shown}");
        assert!(
            !shown.contains(s.identity.pins.auth.expose().as_str()),
            "{shown}"
        );
        assert!(
            !shown.contains(s.identity.pins.sign.expose().as_str()),
            "{shown}"
        );
        assert!(!format!("{:?}", s.keys).contains("PRIVATE"));
    }
    births.dedup();
    assert_eq!(births.len(), f.ids().len(), "different birth dates");
}

/// GET DATA 5F 51's contact ATR is written as the card stores it: a profile with `3B` in front
/// or a wrong checksum is refused at load, with the form to write.
#[test]
fn a_contact_atr_is_stored_without_ts_and_with_its_checksum() {
    let builtin = BUILTIN_CARD_PROFILES
        .iter()
        .find(|(name, _)| *name == "mynumber-card")
        .expect("built-in")
        .1;
    assert!(CardProfile::from_yaml(builtin, "mynumber-card").is_ok());
    for (bad, why) in [
        ("3B E0 00 FF 81 31 FE 45 14", "with TS"),
        ("E0 00 FF 81 31 FE 45 15", "wrong checksum"),
        ("14", "too short"),
    ] {
        let text = builtin.replace("\"E0 00 FF 81 31 FE 45 14\"", &format!("\"{bad}\""));
        let err = CardProfile::from_yaml(&text, "t.yaml")
            .expect_err(why)
            .to_string();
        assert!(err.contains("without 3B (TS)"), "{why}: {err}");
    }
}

/// Each tap of a physical-card profile draws a new PUPI from the card's seed (the same seed
/// draws the same ones); a profile with `uid: fixed` keeps its own.
#[test]
fn a_physical_card_draws_its_pupi_per_tap_from_its_seed() {
    let pupis = |profile: &str, seed: u64| {
        let p = std::sync::Arc::new(CardProfile::builtin(profile).expect("built-in"));
        let subject = Fixtures::embedded().default_subject();
        let mut card = kazasu_sim::Card::new(p, subject, seed).expect("card");
        (0..3)
            .map(|_| {
                card.power_on();
                let uid = card.uid().to_vec();
                card.power_off();
                uid
            })
            .collect::<Vec<_>>()
    };
    let taps = pupis("mynumber-card", 1);
    assert!(taps.iter().all(|p| p.len() == 4), "{taps:02X?}");
    assert!(taps[0] != taps[1] && taps[1] != taps[2], "{taps:02X?}");
    assert_eq!(
        pupis("mynumber-card", 1),
        taps,
        "the case's seed draws them"
    );
    assert_ne!(pupis("mynumber-card", 2), taps);
    let fixed = pupis("readertest", 1);
    assert!(fixed.windows(2).all(|w| w[0] == w[1]), "{fixed:02X?}");
}
