//! The 共通カードAP and the 住基AP of the physical card, read the way clients read them.

mod common;

use common::*;
use kazasu_sim::{Fixtures, applets::common_card};
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use sha2::{Digest, Sha256};

const SELECT_COMMON: &str = "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 01 00";
const SELECT_JUKI: &str = "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 01";

fn fixture_key(path: &str) -> RsaPrivateKey {
    let pem = std::fs::read_to_string(format!(
        "{}/data/fixtures/pki/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    RsaPrivateKey::from_pkcs8_pem(&pem).unwrap()
}

/// What a マイナポータル client sends first on every login: SELECT, then READ RECORD by short
/// EF id with no SELECT of the EF and no VERIFY; `01 1C` and 28 digits.
#[test]
fn the_card_record_reads_by_short_ef_id_with_no_credential() {
    let mut c = card_for("mynumber-card", "suzuki-hanako");
    assert_eq!(sw(&mut c, SELECT_COMMON), "9000");
    let (record, s) = tx(&mut c, "00 B2 01 0C 00");
    assert_eq!(s.to_string(), "9000");
    assert_eq!(record[..2], [0x01, 0x1C]);
    let digits = std::str::from_utf8(&record[2..]).unwrap();
    assert_eq!(digits.len(), 28);
    let id = &Fixtures::embedded()
        .subject("suzuki-hanako")
        .unwrap()
        .identity;
    assert_eq!(&digits[..15], id.card_serial);
    assert_eq!(&digits[15..20], "27127", "the issuing municipality");
    assert_eq!(&digits[20..], "20341123", "expiry: the 2034 birthday");
    // myna-card's way: SELECT the EF, then READ RECORD of the current EF.
    let mut m = card_for("mynumber-card", "suzuki-hanako");
    tx(&mut m, SELECT_COMMON);
    assert_eq!(sw(&mut m, "00 A4 02 0C 02 00 01"), "9000");
    assert_eq!(tx(&mut m, "00 B2 01 04 00").0, record);
    // The municipality and expiry agree with the MF objects 00F0 and 00F2.
    let mut f = card_for("mynumber-card", "suzuki-hanako");
    assert_eq!(tx(&mut f, "00 CA 00 F0 00").0, b"27127");
    assert_eq!(tx(&mut f, "00 CA 00 F2 00").0, &record[22..]);
    assert_eq!(tx(&mut f, "00 CA 00 45 00").0, &record[2..17], "card id");
}

#[test]
fn records_answer_as_record_files_do() {
    let mut c = card("mynumber-card");
    tx(&mut c, SELECT_COMMON);
    assert_eq!(sw(&mut c, "00 B2 02 0C 00"), "6A83", "no record 2");
    assert_eq!(sw(&mut c, "00 B2 00 0C 00"), "6A86", "record 0");
    assert_eq!(
        sw(&mut c, "00 B2 01 0D 00"),
        "6A86",
        "only 'record number in P1'"
    );
    assert_eq!(
        sw(&mut c, "00 B2 01 0C 10"),
        "6C1E",
        "Le too short: the length"
    );
    assert_eq!(sw(&mut c, "00 B2 01 0C"), "6700", "no Le");
    assert_eq!(
        sw(&mut c, "00 B0 81 00 00"),
        "6981",
        "READ BINARY of a record file"
    );
    assert_eq!(
        sw(&mut c, "00 B2 01 F4 00"),
        "6A82",
        "SFI 30 does not exist"
    );
    assert_eq!(
        sw(&mut c, "00 B2 01 E4 00"),
        "6981",
        "the key 001C is no record file"
    );
    let (key_ref, s) = tx(&mut c, "00 B2 01 14 00");
    assert_eq!((key_ref.len(), s.to_string().as_str()), (16, "9000"));
    // The same key reference in the 住基AP.
    tx(&mut c, SELECT_JUKI);
    assert_eq!(tx(&mut c, "00 B2 01 14 00").0, key_ref);
    assert_eq!(
        sw(&mut c, "00 B2 01 0C 00"),
        "6A82",
        "no card record in the 住基AP"
    );
}

/// `00 88 00 99 Lc <challenge> 00`: a PKCS#1 v1.5 signature of the challenge's SHA-256
/// DigestInfo by key 0019, with no credential, the same for the same challenge.
#[test]
fn internal_authenticate_signs_a_challenge_with_no_credential() {
    let key = fixture_key("yamada-taro/common.key.pem").to_public_key();
    let mut c = card("mynumber-card");
    tx(&mut c, SELECT_COMMON);
    let challenge = b"kazasu challenge";
    let apdu = format!("00 88 00 99 10 {} 00", kazasu_sim::hex_spaced(challenge));
    let (signature, s) = tx(&mut c, &apdu);
    assert_eq!(s.to_string(), "9000");
    assert_eq!(signature.len(), 256);
    key.verify(
        Pkcs1v15Sign::new::<Sha256>(),
        &Sha256::digest(challenge),
        &signature,
    )
    .expect("signed by key 0019");
    assert_eq!(tx(&mut c, &apdu).0, signature, "deterministic");
    assert_eq!(sw(&mut c, "00 88 00 99 00"), "6700", "an empty challenge");
    assert_eq!(
        sw(&mut c, "00 88 00 9A 02 01 02 00"),
        "6A82",
        "no key 001A here"
    );
    assert_eq!(
        sw(&mut c, "00 88 00 9C 02 01 02 00"),
        "6A82",
        "001C is a PIN"
    );
    // SET SESSION KEY: 66 F1 here, 69 82 in the 住基AP even with its PIN; the JPKI AP's
    // INTERNAL AUTHENTICATE stays refused.
    assert_eq!(sw(&mut c, "80 AE 00 00 02 01 02"), "66F1");
    tx(&mut c, SELECT_JUKI);
    assert_eq!(sw(&mut c, &verify_at(0x9C, "1234")), "9000");
    assert_eq!(sw(&mut c, "80 AE 00 00 02 01 02"), "6982");
    assert_eq!(
        sw(&mut c, &apdu),
        "6D00",
        "no INTERNAL AUTHENTICATE in the 住基AP"
    );
    tx(&mut c, SELECT_JPKI);
    assert_eq!(sw(&mut c, "00 88 00 97 02 01 02 00"), "6982");
}

fn verify_at(p2: u8, pin: &str) -> String {
    format!(
        "00 20 00 {p2:02X} {:02X} {}",
        pin.len(),
        kazasu_sim::hex_spaced(pin.as_bytes())
    )
}

/// Each application's 001C is a 4-digit PIN with its own counter; CHANGE KEY `80 32 00 80`
/// changes it once it is verified.
#[test]
fn each_pin_has_its_own_counter_and_changes_with_change_key() {
    let mut c = card("mynumber-card");
    tx(&mut c, SELECT_COMMON);
    assert_eq!(sw(&mut c, "00 20 00 9C"), "63C3");
    assert_eq!(sw(&mut c, &verify_at(0x9C, "9999")), "63C2");
    assert_eq!(sw(&mut c, &verify_at(0x9C, "12345")), "6700", "5 digits");
    tx(&mut c, SELECT_JUKI);
    assert_eq!(
        sw(&mut c, "00 20 00 9C"),
        "63C3",
        "the 住基AP's counter is its own"
    );
    assert_eq!(c.tries_left(&common_card::AID, 0x1C), Some(2));
    assert_eq!(c.tries_left(&common_card::JUKI_AID, 0x1C), Some(3));
    // CHANGE KEY before VERIFY: 69 82; after: the new PIN works, the old one does not.
    tx(&mut c, "00 A4 02 0C 02 00 1C");
    assert_eq!(sw(&mut c, "80 32 00 80 04 31 31 31 31"), "6982");
    assert_eq!(sw(&mut c, &verify_apdu("1234")), "9000");
    assert_eq!(sw(&mut c, "80 32 00 80 04 31 31 31 31"), "9000");
    assert_eq!(
        sw(&mut c, "80 32 01 80 04 31 31 31 31"),
        "6A86",
        "P1 must be 00"
    );
    assert_eq!(
        sw(&mut c, "80 32 00 80 04 31 31 31 41"),
        "6A80",
        "digits only"
    );
    c.power_off();
    c.power_on();
    tx(&mut c, SELECT_JUKI);
    assert_eq!(sw(&mut c, &verify_at(0x9C, "1234")), "63C2");
    assert_eq!(sw(&mut c, &verify_at(0x9C, "1111")), "9000");
    tx(&mut c, SELECT_COMMON);
    assert_eq!(
        sw(&mut c, &verify_at(0x9C, "1234")),
        "9000",
        "共通 unchanged"
    );
}

#[test]
fn phones_have_neither_application() {
    for profile in ["android-jpki", "iphone-jpki"] {
        let mut p = card(profile);
        assert_eq!(sw(&mut p, SELECT_COMMON), "6A82", "{profile}");
        assert_eq!(sw(&mut p, SELECT_JUKI), "6A82", "{profile}");
    }
}
