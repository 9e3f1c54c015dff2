//! The 券面事項入力補助AP of the physical card.

mod common;

use common::*;
use kazasu_sim::{Fixtures, applets::card_info, platform::my_number};
use rsa::pkcs8::DecodePublicKey;
use rsa::{BigUint, Pkcs1v15Sign, RsaPublicKey};
use sha2::{Digest, Sha256};

#[test]
fn my_number_and_basic_four_need_a_pin() {
    let mut c = card("mynumber-card");
    assert_eq!(sw(&mut c, SELECT_CARD_INFO), "9000");
    assert_eq!(sw(&mut c, "00 A4 02 0C 02 00 01"), "9000");
    assert_eq!(
        sw(&mut c, "00 B0 00 00 00"),
        "6982",
        "My Number before the PIN"
    );
    assert_eq!(
        sw(&mut c, "00 B0 82 00 00"),
        "6982",
        "basic four before the PIN"
    );
    tx(&mut c, "00 A4 02 0C 02 00 11");
    assert_eq!(sw(&mut c, "00 20 00 80"), "63C3");
    assert_eq!(sw(&mut c, &verify_apdu("1234")), "9000");
    let (mn, s) = tx(&mut c, "00 B0 81 00 11");
    assert_eq!(s.to_string(), "9000");
    assert_eq!(mn.len(), 17);
    assert_eq!(mn[..3], [0xFF, 0x10, 0x0C]);
    assert_eq!(mn[15..], [0xFF, 0xFF], "filler");
    let number = std::str::from_utf8(&mn[3..15]).unwrap();
    assert!(my_number::is_valid(number));
    assert_eq!(number, "999900000011");
    let (b4, s) = tx(&mut c, "00 B0 82 00 00");
    assert_eq!(s.to_string(), "9000");
    assert_eq!(b4[..2], [0xFF, 0x20]);
    let subject = Fixtures::embedded().subject("yamada-taro").unwrap();
    assert_eq!(b4, card_info::basic_four_file(&subject));
    let text = String::from_utf8_lossy(&b4);
    assert!(
        text.contains("山田\u{3000}太郎")
            && text.contains("19800401")
            && text.contains("東京都千代田区試験町１丁目")
    );
    // The integrity record opens with the PIN too.
    assert_eq!(sw(&mut c, "00 B0 83 00 00"), "9000");
}

#[test]
fn check_codes_a_and_b_unlock_the_files_too() {
    let mut c = card_for("mynumber-card", "suzuki-hanako");
    tx(&mut c, SELECT_CARD_INFO);
    // 照合番号A: the My Number itself; 10 tries (reported).
    assert_eq!(sw(&mut c, "00 20 00 94"), "63CA");
    assert_eq!(
        sw(
            &mut c,
            &format!("00 20 00 94 0C {}", kazasu_sim::hex_spaced(b"999900000011"))
        ),
        "63C9"
    );
    assert_eq!(
        sw(
            &mut c,
            &format!("00 20 00 94 0C {}", kazasu_sim::hex_spaced(b"999900000020"))
        ),
        "9000"
    );
    assert_eq!(sw(&mut c, "00 B0 81 00 11"), "9000");
    // 照合番号B: the birth date with its Japanese-era year (1992-11-23 is 平成4: 041123), the
    // expiry year and the security code. The western year is refused.
    let mut c = card_for("mynumber-card", "suzuki-hanako");
    tx(&mut c, SELECT_CARD_INFO);
    let western = "921123".to_string() + "2034" + "0815";
    assert_eq!(
        sw(
            &mut c,
            &format!(
                "00 20 00 95 {:02X} {}",
                western.len(),
                kazasu_sim::hex_spaced(western.as_bytes())
            )
        ),
        "63C9"
    );
    let b = "041123".to_string() + "2034" + "0815";
    assert_eq!(
        sw(
            &mut c,
            &format!(
                "00 20 00 95 {:02X} {}",
                b.len(),
                kazasu_sim::hex_spaced(b.as_bytes())
            )
        ),
        "9000"
    );
    assert_eq!(sw(&mut c, "00 B0 82 00 04"), "9000");
}

#[test]
fn card_info_pin_blocks_after_its_tries() {
    let mut c = card("mynumber-card");
    tx(&mut c, SELECT_CARD_INFO);
    for left in ["63C2", "63C1", "63C0"] {
        assert_eq!(sw(&mut c, "00 20 00 91 04 39 39 39 39"), left);
    }
    assert_eq!(sw(&mut c, "00 20 00 91 04 31 32 33 34"), "6984");
    // The JPKI auth PIN is a different PIN object.
    tx(&mut c, SELECT_JPKI);
    assert_eq!(sw(&mut c, "00 20 00 98"), "63C3");
}

fn verify_code(c: &mut kazasu_sim::Card, key: u8, code: &str) -> String {
    sw(
        c,
        &format!(
            "00 20 00 {:02X} {:02X} {}",
            0x80 | key,
            code.len(),
            kazasu_sim::hex_spaced(code.as_bytes())
        ),
    )
}

/// Which files each credential opens, exactly as real cards do: A opens the My Number and not
/// the basic four, B the basic four and not the My Number; 0003, 0006 and 0007 open with any of
/// the three; 0004, 0005 and 0008 are free.
#[test]
fn each_file_opens_with_exactly_its_credentials() {
    let subject = Fixtures::embedded().subject("yamada-taro").unwrap();
    let id = &subject.identity;
    let b = id.check_code_b();
    let opens = |credential: Option<(u8, &str)>| -> Vec<u16> {
        let mut c = card("mynumber-card");
        tx(&mut c, SELECT_CARD_INFO);
        if let Some((key, value)) = credential {
            assert_eq!(verify_code(&mut c, key, value), "9000");
        }
        (1..=8u16)
            .filter(|fid| sw(&mut c, &format!("00 B0 {:02X} 00 01", 0x80 | fid)) == "9000")
            .collect()
    };
    assert_eq!(opens(None), vec![4, 5, 8], "free files");
    assert_eq!(
        opens(Some((0x11, "1234"))),
        (1..=8).collect::<Vec<_>>(),
        "the PIN opens all"
    );
    assert_eq!(
        opens(Some((0x14, id.my_number.expose()))),
        vec![1, 3, 4, 5, 6, 7, 8],
        "照合番号A: not the basic four"
    );
    assert_eq!(
        opens(Some((0x15, b.expose()))),
        vec![2, 3, 4, 5, 6, 7, 8],
        "照合番号B: not the My Number"
    );
}

#[test]
fn basic_four_offsets_point_at_each_field() {
    let mut c = card("mynumber-card");
    tx(&mut c, SELECT_CARD_INFO);
    assert_eq!(verify_code(&mut c, 0x11, "1234"), "9000");
    let (file, _) = tx(&mut c, "00 B0 82 00 00");
    // FF 20 L, then DF 21 08 and four u16 offsets of DF 22..DF 25 from the start of the file.
    let header = if file[2] == 0x81 { 4 } else { 3 };
    assert_eq!(file[header..header + 3], [0xDF, 0x21, 0x08]);
    for (i, tag) in [0x22u8, 0x23, 0x24, 0x25].iter().enumerate() {
        let at = header + 3 + 2 * i;
        let offset = usize::from(u16::from_be_bytes([file[at], file[at + 1]]));
        assert_eq!(
            file[offset..offset + 2],
            [0xDF, *tag],
            "DF {tag:02X} at {offset}"
        );
    }
    let sex_at = usize::from(u16::from_be_bytes([file[header + 9], file[header + 10]]));
    assert_eq!(
        &file[sex_at..],
        &[0xDF, 0x25, 0x01, b'1'],
        "the file ends with 性別"
    );
}

/// EF 0004 is the CV certificate of the municipality's key (`<code>31`/000) by the CA `6000033`
/// (kazasu's stand-in key, `card-info-issuer.pub.pem`); EF 0003's digests match EF 0001 as stored
/// and EF 0002 without its offset table, and its signature, like EF 0007's over the AP's key,
/// verifies (RustCrypto) with the key EF 0004 certifies; the AP's key signs a challenge with
/// `80 2A 00 00` and no PIN.
#[test]
fn integrity_record_and_ap_key_verify_against_the_test_pki() {
    let ca = RsaPublicKey::from_public_key_pem(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/fixtures/pki/card-info-issuer.pub.pem"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut c = card_for("mynumber-card", "tanaka-ichiro");
    tx(&mut c, SELECT_CARD_INFO);
    let cert = read_whole_at(&mut c, 0x84);
    assert_eq!(cert.len(), 568);
    assert_eq!(
        cert[..10],
        [0x7F, 0x21, 0x82, 0x02, 0x33, 0x5F, 0x4E, 0x82, 0x01, 0x29]
    );
    let body = &cert[10..307];
    assert_eq!(cert[307..312], [0x5F, 0x37, 0x82, 0x01, 0x00]);
    assert_eq!(&body[..7], b"6000033");
    assert_eq!(body[7..16], [0x08, 0x05, b'0', b'0', b'1', 0, 0, 0, 0]);
    assert_eq!(&body[16..23], b"0110131", "<municipality>31");
    assert_eq!(body[23..32], [0x08, 0x05, b'0', b'0', b'0', 0, 0, 0, 0]);
    assert_ne!(body[..16], body[16..32], "issuer and subject differ");
    ca.verify(
        Pkcs1v15Sign::new::<Sha256>(),
        &Sha256::digest(body),
        &cert[312..],
    )
    .expect("EF 0004 signed by the CA");
    let signer = RsaPublicKey::new(
        BigUint::from_bytes_be(&body[32 + 9..]),
        BigUint::from_bytes_be(&body[32 + 2..32 + 5]),
    )
    .unwrap();
    assert!(signer != ca, "the CA's key is not on the card");
    let pkcs1 = |data: &[u8], sig: &[u8]| {
        signer
            .verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(data), sig)
            .is_ok()
    };
    // The AP's own key signs without any credential.
    let challenge = tx(&mut c, "00 84 00 00 10").0;
    let digest_info = [
        &kazasu_sim::platform::signature::SHA256_DIGEST_INFO_PREFIX[..],
        &Sha256::digest(&challenge),
    ]
    .concat();
    let (challenge_sig, s) = tx(
        &mut c,
        &format!("80 2A 00 00 33 {} 00", kazasu_sim::hex_spaced(&digest_info)),
    );
    assert_eq!(s.to_string(), "9000");
    assert_eq!(sw(&mut c, "80 2A 03 00 05 01 02 03 04 05 00"), "6A86");
    assert_eq!(
        verify_code(
            &mut c,
            0x15,
            Fixtures::embedded()
                .subject("tanaka-ichiro")
                .unwrap()
                .identity
                .check_code_b()
                .expose()
        ),
        "9000"
    );
    let integrity = read_whole_at(&mut c, 0x83);
    assert_eq!(integrity[..5], [0xFF, 0x30, 0x82, 0x01, 0x4B]);
    let (digests, signature) = (&integrity[5..75], &integrity[80..]);
    assert_eq!(integrity[75..80], [0xDF, 0x33, 0x82, 0x01, 0x00]);
    assert!(pkcs1(digests, signature), "EF 0003's issuer signature");
    assert!(!pkcs1(&integrity[5..74], signature));
    // DF 31 over EF 0001 as stored; DF 32 over EF 0002 from DF 22 on. (B does not open 0001:
    // take it from a PIN session.)
    let mut p = card_for("mynumber-card", "tanaka-ichiro");
    tx(&mut p, SELECT_CARD_INFO);
    assert_eq!(verify_code(&mut p, 0x11, "0000"), "9000");
    let my_number = read_whole_at(&mut p, 0x81);
    let basic_four = read_whole_at(&mut p, 0x82);
    assert_eq!(digests[..3], [0xDF, 0x31, 0x20]);
    assert_eq!(digests[3..35], Sha256::digest(&my_number)[..]);
    assert_eq!(digests[35..38], [0xDF, 0x32, 0x20]);
    let header = if basic_four[2] == 0x81 { 4 } else { 3 };
    assert_eq!(
        digests[38..70],
        Sha256::digest(&basic_four[header + 11..])[..]
    );
    // EF 0007: FF 50 { DF 51 the AP key, DF 52 the issuer's signature over DF 51 }.
    let signed_key = read_whole_at(&mut c, 0x87);
    assert_eq!(signed_key[..5], [0xFF, 0x50, 0x82, 0x02, 0x13]);
    let key_object = &signed_key[5..5 + 270];
    assert_eq!(key_object[..5], [0xDF, 0x51, 0x82, 0x01, 0x09]);
    assert!(pkcs1(key_object, &signed_key[5 + 270 + 5..]));
    // 90 03 e, 91 82 01 00 n: the key that signed the challenge.
    let ap_key = RsaPublicKey::new(
        BigUint::from_bytes_be(&key_object[5 + 9..]),
        BigUint::from_bytes_be(&key_object[5 + 2..5 + 5]),
    )
    .unwrap();
    assert!(
        ap_key
            .verify(
                Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(&challenge),
                &challenge_sig
            )
            .is_ok()
    );
}

/// EF 0005: 164 bytes, `FF 40 82 00 9F { DF 41 04 …, DF 42 10 <key id 6000034/001>, DF 43 82 00 80
/// <32 bytes, none FF> <96 × FF> }`, free to read; DF 43 is no digest of EF 0001.
#[test]
fn ap_basic_data_has_the_card_layout() {
    let mut c = card("mynumber-card");
    tx(&mut c, SELECT_CARD_INFO);
    let data = read_whole_at(&mut c, 0x85);
    assert_eq!(data.len(), 164);
    assert_eq!(data[..5], [0xFF, 0x40, 0x82, 0x00, 0x9F]);
    assert_eq!(data[5..12], [0xDF, 0x41, 0x04, 0x01, 0x03, 0x0E, 0x01]);
    assert_eq!(data[12..15], [0xDF, 0x42, 0x10]);
    assert_eq!(&data[15..22], b"6000034");
    assert_eq!(data[31..36], [0xDF, 0x43, 0x82, 0x00, 0x80]);
    let (opaque, filler) = data[36..].split_at(32);
    assert!(opaque.iter().all(|b| *b != 0xFF));
    assert!(filler.iter().all(|b| *b == 0xFF) && filler.len() == 96);
    assert_eq!(sw(&mut c, "00 20 00 91 04 31 32 33 34"), "9000");
    let my_number = read_whole_at(&mut c, 0x81);
    assert_ne!(opaque, &Sha256::digest(&my_number)[..]);
}

#[test]
fn key_0012_is_issued_blocked() {
    let mut c = card("mynumber-card");
    tx(&mut c, SELECT_CARD_INFO);
    assert_eq!(sw(&mut c, "00 20 00 92"), "63C0", "counter query");
    assert_eq!(
        verify_code(&mut c, 0x12, "1234"),
        "6984",
        "VERIFY with data"
    );
    assert_eq!(sw(&mut c, "00 20 00 91"), "63C3", "the PIN is untouched");
}
