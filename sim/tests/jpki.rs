//! The JPKI AP, command by command, as `docs/jpki.md` lists them.

mod common;
#[path = "common/verify.rs"]
mod verify;

use common::*;
use kazasu_sim::{SimDuration, SimTime, applets::jpki};
use verify::PublicKeyParts;

fn read_whole(card: &mut kazasu_sim::Card, fid: u16) -> Vec<u8> {
    assert_eq!(
        sw(
            card,
            &format!("00 A4 02 0C 02 {:02X} {:02X}", fid >> 8, fid & 0xFF)
        ),
        "9000"
    );
    let (head, s) = tx(card, "00 B0 00 00 04");
    assert_eq!(s.to_string(), "9000");
    assert_eq!(head[..2], [0x30, 0x82], "certificates start 30 82");
    let total = usize::from(u16::from_be_bytes([head[2], head[3]])) + 4;
    let mut data = head;
    while data.len() < total {
        let off = data.len();
        let le = (total - off).min(256);
        let (chunk, s) = tx(
            card,
            &format!(
                "00 B0 {:02X} {:02X} {:02X}",
                off >> 8,
                off & 0xFF,
                le & 0xFF
            ),
        );
        assert_eq!(s.to_string(), "9000");
        data.extend(chunk);
    }
    data
}

#[test]
fn select_forms() {
    let mut c = card("mynumber-card");
    // 00 A4 00 00 (select MF) after a cold reset: 6A86.
    assert_eq!(sw(&mut c, "00 A4 00 00"), "6A86");
    assert_eq!(sw(&mut c, SELECT_JPKI), "9000");
    // With the AP selected it answers 9000 and changes nothing.
    assert_eq!(sw(&mut c, "00 A4 00 00"), "9000");
    for fid in [
        "00 01", "00 02", "00 06", "00 08", "00 0A", "00 0B", "00 17", "00 18", "00 1A", "00 1B",
    ] {
        assert_eq!(
            sw(&mut c, &format!("00 A4 02 0C 02 {fid}")),
            "9000",
            "EF {fid}"
        );
    }
    assert_eq!(sw(&mut c, "00 A4 02 0C 02 00 0C"), "6A82", "no EF 000C");
    assert_eq!(sw(&mut c, "00 A4 02 0C 01 00"), "6700", "an FID is 2 bytes");
    assert_eq!(sw(&mut c, "00 A4 02 05 02 00 0A"), "6A86", "P2 05");
    assert_eq!(
        sw(&mut c, "00 A4 08 0C 02 00 0A"),
        "6A86",
        "select by path is not supported"
    );
    assert_eq!(
        sw(&mut c, "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 02"),
        "6A82",
        "unknown AID"
    );
    assert_eq!(
        sw(&mut c, "00 A4 04 04 0A D3 92 F0 00 26 01 00 00 00 01"),
        "6A86"
    );
    assert_eq!(
        sw(&mut c, "00 A4 04 0C"),
        "6700",
        "select by name needs a name"
    );
    // The physical card also carries the card-info AP.
    assert_eq!(sw(&mut c, SELECT_CARD_INFO), "9000");
    // Android and iPhone carry the JPKI AP only.
    for profile in ["android-jpki", "iphone-jpki"] {
        let mut p = card(profile);
        assert_eq!(sw(&mut p, SELECT_CARD_INFO), "6A82", "{profile}");
        assert_eq!(sw(&mut p, SELECT_JPKI), "9000", "{profile}");
    }
}

#[test]
fn files_need_a_selected_application() {
    let mut c = card("mynumber-card");
    assert_eq!(sw(&mut c, "00 A4 02 0C 02 00 0A"), "6A82");
    assert_eq!(sw(&mut c, "00 B0 8A 00 04"), "6A82");
    assert_eq!(sw(&mut c, "00 B0 00 00 04"), "6A82");
    assert_eq!(sw(&mut c, &verify_apdu("1234")), "6A82");
    assert_eq!(sw(&mut c, &sign_apdu(b"x")), "6A82");
}

/// A phone's スマホ用電子証明書 are its own: the card, the Android phone and the iPhone of one
/// person serve three different authentication and signature certificates and keys, issued by
/// the same CAs (each verifies under the CA certificate the device serves).
#[test]
fn phones_carry_their_own_certificates_under_the_cards_cas() {
    use rsa::pkcs8::DecodePublicKey;
    use sha2::{Digest, Sha256};
    let subject = kazasu_sim::Fixtures::embedded()
        .subject("suzuki-hanako")
        .unwrap();
    let mut seen = Vec::new();
    for profile in ["mynumber-card", "android-jpki", "iphone-jpki"] {
        let mut c = card_for(profile, "suzuki-hanako");
        tx(&mut c, SELECT_JPKI);
        if profile == "iphone-jpki" {
            assert!(c.approve(SimTime::START), "Face ID stands in for the PIN");
        } else {
            tx(&mut c, "00 A4 02 0C 02 00 18");
            assert_eq!(sw(&mut c, &verify_apdu("5678")), "9000", "{profile}");
        }
        let auth = read_whole_at(&mut c, 0x8A);
        let auth_ca = read_whole_at(&mut c, 0x8B);
        assert_eq!(auth_ca, subject.auth_ca_cert, "{profile}: the same CA");
        let (_, cert) = x509_parser::parse_x509_certificate(&auth).unwrap();
        let (_, ca) = x509_parser::parse_x509_certificate(&auth_ca).unwrap();
        let ca_key = rsa::RsaPublicKey::from_public_key_der(ca.public_key().raw).unwrap();
        ca_key
            .verify(
                rsa::Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(cert.tbs_certificate.as_ref()),
                &cert.signature_value.data,
            )
            .unwrap_or_else(|e| panic!("{profile}: issued by the card's CA: {e}"));
        // The key 0017 behind the certificate signs.
        tx(&mut c, "00 A4 02 0C 02 00 17");
        let (sig, s) = tx(&mut c, &sign_apdu(b"phone"));
        assert_eq!(s.to_string(), "9000", "{profile}");
        let public = cert.public_key().raw.to_vec();
        rsa::RsaPublicKey::from_public_key_der(&public)
            .unwrap()
            .verify(
                rsa::Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(b"phone"),
                &sig,
            )
            .unwrap_or_else(|e| panic!("{profile}: the certificate's key signed: {e}"));
        seen.push((auth, public, sig));
    }
    for i in 0..3 {
        for j in i + 1..3 {
            assert_ne!(seen[i].0, seen[j].0, "certificates {i} and {j}");
            assert_ne!(seen[i].1, seen[j].1, "keys {i} and {j}");
            assert_ne!(seen[i].2, seen[j].2, "signatures {i} and {j}");
        }
    }
}

#[test]
fn token_info_and_certificate_flags() {
    for (profile, token) in [
        ("mynumber-card", "JPKIAPICCTOKEN2"),
        ("android-jpki", "JPKIAPGPSETOKEN"),
        ("iphone-jpki", "JPKIAPIOSTOKEN"),
    ] {
        let mut c = card(profile);
        tx(&mut c, SELECT_JPKI);
        assert_eq!(sw(&mut c, "00 A4 02 0C 02 00 06"), "9000");
        // A client that reads 32 bytes gets the label of the 160-byte token-info record.
        let (data, s) = tx(&mut c, "00 B0 00 00 20");
        assert_eq!(s.to_string(), "9000");
        assert_eq!(data.len(), 32);
        assert_eq!(
            String::from_utf8(data).unwrap().trim_end(),
            token,
            "{profile}"
        );
        let (record, _) = tx(&mut c, "00 B0 00 00 00");
        assert_eq!(record.len(), 160, "a PKCS#11 token-info record");
        // The physical card's record, byte for byte but the serial and the time (myna-card's
        // layout test of a real card).
        assert_eq!(&record[32..64], b"00000000000000000000000000000001");
        let serial = &record[80..96];
        assert!(serial.iter().all(u8::is_ascii_digit), "16 ASCII digits");
        assert_eq!(record[96..100], [0x00, 0x00, 0x04, 0x0D], "flags");
        assert_eq!(
            record[100..124],
            [
                0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 6
            ],
            "sessions 1/0/1/0, PIN lengths 16 and 6"
        );
        assert_eq!(record[124..140], [0xFF; 16], "memory: unavailable");
        assert_eq!(&record[140..144], b"0301", "versions as ASCII");
        if profile == "mynumber-card" {
            assert_eq!(
                String::from_utf8_lossy(&record[64..80]).trim_end(),
                "E16R01NJ"
            );
        }
        // Reading past the 160 bytes: offset beyond end.
        assert_eq!(sw(&mut c, "00 B0 00 A0 01"), "6B00");
        assert_eq!(sw(&mut c, "00 A4 02 0C 02 00 08"), "9000");
        assert_eq!(
            tx(&mut c, "00 B0 00 00 00").0,
            vec![0x8F, 0x8F, 0x00],
            "Le 00 = up to 256 bytes"
        );
    }
}

#[test]
fn read_binary_offsets_short_ef_id_and_extended_le() {
    let mut c = card("mynumber-card");
    tx(&mut c, SELECT_JPKI);
    // Short EF id: reads 000A without SELECT EF.
    let (head, s) = tx(&mut c, "00 B0 8A 00 04");
    assert_eq!(s.to_string(), "9000");
    let total = usize::from(u16::from_be_bytes([head[2], head[3]])) + 4;
    // Extended Le reads the rest of the certificate in one command, as real clients do.
    let (rest, s) = tx(
        &mut c,
        &format!(
            "00 B0 8A 04 00 {:02X} {:02X}",
            (total - 4) >> 8,
            (total - 4) & 0xFF
        ),
    );
    assert_eq!(s.to_string(), "9000");
    let mut cert = head.clone();
    cert.extend(rest);
    assert_eq!(cert.len(), total);
    let subject = kazasu_sim::Fixtures::embedded()
        .subject("yamada-taro")
        .unwrap();
    assert_eq!(
        cert, subject.keys.auth_cert,
        "the card holds the identity's auth certificate"
    );
    // The whole file read in 256-byte chunks with 15-bit offsets gives the same bytes.
    assert_eq!(read_whole(&mut c, 0x000A), cert);
    // Extended Le 00 00 (65536) is "everything there is".
    let (all, s) = tx(&mut c, "00 B0 00 00 00 00 00");
    assert_eq!((all.len(), s.to_string()), (total, "9000".into()));
    // Offsets.
    let (byte, _) = tx(
        &mut c,
        &format!(
            "00 B0 {:02X} {:02X} 01",
            (total - 1) >> 8,
            (total - 1) & 0xFF
        ),
    );
    assert_eq!(byte, vec![cert[total - 1]]);
    assert_eq!(
        sw(
            &mut c,
            &format!("00 B0 {:02X} {:02X} 01", total >> 8, total & 0xFF)
        ),
        "6B00"
    );
    assert_eq!(
        sw(&mut c, "00 B0 7F FF 01"),
        "6B00",
        "largest 15-bit offset"
    );
    // A short read near the end returns what is there.
    let (tail, s) = tx(
        &mut c,
        &format!(
            "00 B0 {:02X} {:02X} 00",
            (total - 10) >> 8,
            (total - 10) & 0xFF
        ),
    );
    assert_eq!((tail.len(), s.to_string()), (10, "9000".into()));
    // The CA certificates are free to read, by SFI too.
    assert_eq!(sw(&mut c, "00 B0 8B 00 04"), "9000");
    assert_eq!(sw(&mut c, "00 B0 82 00 04"), "9000");
    // Malformed READ BINARY forms.
    assert_eq!(sw(&mut c, "00 B0 00 00"), "6700", "no Le");
    assert_eq!(sw(&mut c, "00 B0 00 00 01 00"), "6700", "data in a READ");
    assert_eq!(
        sw(&mut c, "00 B0 AA 00 04"),
        "6A86",
        "SFI with bits 6-5 set"
    );
    assert_eq!(sw(&mut c, "00 B0 80 00 04"), "6A86", "SFI 0");
    assert_eq!(sw(&mut c, "00 B0 8C 00 04"), "6A82", "no EF with SFI 0C");
    // PIN and key files are never read.
    assert_eq!(sw(&mut c, "00 B0 98 00 04"), "6982");
    assert_eq!(sw(&mut c, "00 B0 97 00 04"), "6982");
}

#[test]
fn certificates_have_the_structure_of_real_ones() {
    let mut c = card("mynumber-card");
    tx(&mut c, SELECT_JPKI);
    let auth = read_whole(&mut c, jpki::ef::AUTH_CERT);
    let auth_ca = read_whole(&mut c, jpki::ef::AUTH_CA_CERT);
    let sign_ca = read_whole(&mut c, jpki::ef::SIGN_CA_CERT);
    assert!(
        verify::issued_by(&auth, &auth_ca),
        "000A is issued by the CA in 000B"
    );
    assert!(
        verify::issued_by(&auth_ca, &auth_ca),
        "000B is a self-signed root"
    );
    let (_, cert) = x509_parser::parse_x509_certificate(&auth).unwrap();
    assert_eq!(cert.version().0, 2, "X.509 v3");
    assert_eq!(
        cert.signature_algorithm.algorithm.to_id_string(),
        "1.2.840.113549.1.1.11",
        "sha256WithRSAEncryption"
    );
    assert_eq!(verify::public_key(&auth).size(), 256, "RSA-2048");
    let ku = cert.key_usage().unwrap().expect("key usage present");
    assert!(ku.critical && ku.value.digital_signature());
    let (_, ca) = x509_parser::parse_x509_certificate(&auth_ca).unwrap();
    assert!(ca.is_ca());
    assert!(
        ca.subject().to_string().contains("NOT A REAL JPKI CA"),
        "{}",
        ca.subject()
    );
    assert!(
        cert.validity().is_valid(),
        "the test certificates are valid today"
    );
    // The signature certificate needs the signature PIN, then chains to 0002.
    assert_eq!(sw(&mut c, "00 B0 81 00 04"), "6982");
    tx(&mut c, "00 A4 02 0C 02 00 1B");
    assert_eq!(sw(&mut c, &verify_apdu("YAMADA2026")), "9000");
    let sign = read_whole(&mut c, jpki::ef::SIGN_CERT);
    assert!(verify::issued_by(&sign, &sign_ca));
    let (_, s) = x509_parser::parse_x509_certificate(&sign).unwrap();
    assert!(s.key_usage().unwrap().unwrap().value.non_repudiation());
    shapes_match_real_jpki_certificates(&auth, &auth_ca, &sign, &sign_ca);
}

/// What a reader of real JPKI certificates relies on: sizes within 5 % of real ones (CA
/// certificates 1,301–1,319 bytes; a JPKI test card's auth and signature certificates 1,590 and
/// 1,758), validity as UTCTime (RFC 5280 up to 2049), the holder's facts only in the signature
/// certificate (SubjectAltName otherName under 1.2.392.200149.8.5.5, name with U+3000, birth date
/// as era code + YYYYMMDD), romanised localities and a serial-like CN.
fn shapes_match_real_jpki_certificates(auth: &[u8], auth_ca: &[u8], sign: &[u8], sign_ca: &[u8]) {
    use kazasu_sim::platform::pki::{REAL_AUTH_SIZE, REAL_CA_SIZES, REAL_SIGN_SIZE};
    use x509_parser::extensions::GeneralName;
    let within_5_percent = |len: usize, lo: usize, hi: usize| {
        len as f64 >= lo as f64 * 0.95 && len as f64 <= hi as f64 * 1.05
    };
    for ca in [auth_ca, sign_ca] {
        let (lo, hi) = (*REAL_CA_SIZES.start(), *REAL_CA_SIZES.end());
        assert!(
            within_5_percent(ca.len(), lo, hi),
            "CA certificate of {} bytes",
            ca.len()
        );
    }
    assert!(
        within_5_percent(auth.len(), REAL_AUTH_SIZE, REAL_AUTH_SIZE),
        "auth: {}",
        auth.len()
    );
    assert!(
        within_5_percent(sign.len(), REAL_SIGN_SIZE, REAL_SIGN_SIZE),
        "sign: {}",
        sign.len()
    );
    for der in [auth, auth_ca, sign, sign_ca] {
        let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
        let tbs: &[u8] = cert.tbs_certificate.as_ref();
        // Validity: SEQUENCE { UTCTime (tag 17, 13 bytes), UTCTime }.
        let utc = [0x17, 0x0D];
        let hits = tbs.windows(2).filter(|w| *w == utc).count();
        assert!(hits >= 2, "validity is written as UTCTime");
        assert!(
            !tbs.windows(2).any(|w| w == [0x18, 0x0F]),
            "no GeneralizedTime"
        );
    }
    // Names as JPKI encodes them: C a PrintableString, every other attribute a UTF8String; the
    // alternative names' directoryName C, O and two OUs (the service, the operator).
    for (der, alt_oid) in [
        (auth, "2.5.29.18"),
        (sign, "2.5.29.18"),
        (auth_ca, "2.5.29.17"),
        (sign_ca, "2.5.29.17"),
    ] {
        let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
        let string_types = |name: &x509_parser::x509::X509Name<'_>| {
            name.iter_attributes()
                .map(|a| (a.attr_type().to_id_string(), a.attr_value().tag().0))
                .collect::<Vec<_>>()
        };
        for name in [cert.subject(), cert.issuer()] {
            for (attr, tag) in string_types(name) {
                let want = if attr == "2.5.4.6" { 19 } else { 12 };
                assert_eq!(tag, want, "{attr} in {name}");
            }
        }
        let ext = cert
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == alt_oid)
            .expect("the service's name as an alternative name");
        use x509_parser::extensions::ParsedExtension;
        let names = match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(n) => &n.general_names,
            ParsedExtension::IssuerAlternativeName(n) => &n.general_names,
            other => panic!("{other:?}"),
        };
        let dir = names
            .iter()
            .find_map(|g| match g {
                GeneralName::DirectoryName(d) => Some(d.clone()),
                _ => None,
            })
            .expect("a directoryName");
        let attrs: Vec<(String, u32)> = string_types(&dir);
        let types: Vec<&str> = attrs.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(
            types,
            ["2.5.4.6", "2.5.4.10", "2.5.4.11", "2.5.4.11"],
            "C, O, OU, OU"
        );
        assert_eq!(
            attrs.iter().map(|(_, t)| *t).collect::<Vec<_>>(),
            [19, 12, 12, 12]
        );
    }
    let (_, a) = x509_parser::parse_x509_certificate(auth).unwrap();
    assert!(
        a.subject_alternative_name().unwrap().is_none(),
        "the auth certificate names no one"
    );
    assert!(a.subject().iter_locality().next().is_none());
    let (_, s) = x509_parser::parse_x509_certificate(sign).unwrap();
    let localities: Vec<_> = s
        .subject()
        .iter_locality()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    assert_eq!(localities, ["Tokyo-to", "Chiyoda-ku"]);
    let cn = s
        .subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    assert!(cn.len() >= 20 && cn.is_ascii(), "serial-like CN: {cn}");
    let san = s
        .subject_alternative_name()
        .unwrap()
        .expect("SubjectAltName");
    let facts: Vec<(String, Vec<u8>)> = san
        .value
        .general_names
        .iter()
        .filter_map(|g| match g {
            GeneralName::OtherName(oid, value) => Some((oid.to_id_string(), value.to_vec())),
            _ => None,
        })
        .collect();
    let arcs: Vec<String> = facts.iter().map(|(o, _)| o.clone()).collect();
    let arc = |n: u8| format!("1.2.392.200149.8.5.5.{n}");
    assert_eq!(
        arcs,
        [1, 4, 3, 5, 2, 6].map(arc),
        "the order a JPKI test card shows"
    );
    let text = |v: &[u8]| String::from_utf8_lossy(v).to_string();
    assert!(text(&facts[0].1).contains("山田\u{3000}太郎"));
    assert!(
        text(&facts[1].1).contains("319800401"),
        "昭和 (3) + 19800401"
    );
    assert!(
        text(&facts[3].1).contains("１丁目１番１号"),
        "full-width digits"
    );
}

#[test]
fn verify_counts_blocks_and_reports() {
    let mut c = card("mynumber-card");
    tx(&mut c, SELECT_JPKI);
    tx(&mut c, "00 A4 02 0C 02 00 18");
    assert_eq!(
        sw(&mut c, "00 20 00 80"),
        "63C3",
        "counter query uses no try"
    );
    assert_eq!(sw(&mut c, "00 20 00 80"), "63C3");
    assert_eq!(sw(&mut c, &verify_apdu("9999")), "63C2");
    assert_eq!(sw(&mut c, "00 20 00 80"), "63C2");
    assert_eq!(
        sw(&mut c, &verify_apdu("1234")),
        "9000",
        "right PIN resets the counter"
    );
    assert_eq!(
        sw(&mut c, "00 20 00 80"),
        "63C3",
        "the counter query tells the tries left even when verified: a JPKI card never answers 9000"
    );
    // SFI forms address the PIN without selecting it.
    tx(&mut c, "00 A4 02 0C 02 00 0A");
    assert_eq!(sw(&mut c, "00 20 00 98"), "63C3");
    assert_eq!(sw(&mut c, "00 20 00 9B"), "63C5");
    // A wrong PIN clears the verified state.
    assert_eq!(sw(&mut c, "00 20 00 98 04 30 30 30 30"), "63C2");
    assert_eq!(sw(&mut c, "00 20 00 98"), "63C2");
    // Wrong forms use no try.
    assert_eq!(
        sw(&mut c, "00 20 00 98 03 31 32 33"),
        "6700",
        "auth PIN is 4 digits"
    );
    assert_eq!(sw(&mut c, "00 20 01 98"), "6A86");
    assert_eq!(sw(&mut c, "00 20 00 00"), "6A86");
    assert_eq!(sw(&mut c, "00 20 00 99"), "6A82", "no PIN with SFI 19");
    tx(&mut c, "00 A4 02 0C 02 00 0A");
    assert_eq!(
        sw(&mut c, "00 20 00 80 04 31 32 33 34"),
        "6A82",
        "the current EF is not a PIN"
    );
    assert_eq!(sw(&mut c, "00 20 00 98"), "63C2");
}

#[test]
fn auth_pin_blocks_after_three_and_sign_pin_after_five_across_power_cycles() {
    let mut c = card("mynumber-card");
    tx(&mut c, SELECT_JPKI);
    tx(&mut c, "00 A4 02 0C 02 00 18");
    assert_eq!(sw(&mut c, &verify_apdu("0000")), "63C2");
    assert_eq!(sw(&mut c, &verify_apdu("0000")), "63C1");
    // A power cycle (the card leaves the field) does not restore tries.
    c.power_off();
    c.power_on();
    tx(&mut c, SELECT_JPKI);
    assert_eq!(sw(&mut c, "00 20 00 98"), "63C1");
    assert_eq!(
        sw(&mut c, "00 20 00 98 04 30 30 30 30"),
        "63C0",
        "the try that blocks"
    );
    assert_eq!(
        sw(&mut c, "00 20 00 98 04 31 32 33 34"),
        "6984",
        "even the right PIN"
    );
    assert_eq!(
        sw(&mut c, "00 20 00 98"),
        "63C0",
        "the counter query on a blocked PIN: no try left, not 6984"
    );
    c.power_off();
    c.power_on();
    tx(&mut c, SELECT_JPKI);
    assert_eq!(
        sw(&mut c, "00 20 00 98 04 31 32 33 34"),
        "6984",
        "blocked stays blocked"
    );
    assert_eq!(c.tries_left(&jpki::AID, jpki::ef::AUTH_PIN), Some(0));
    // The signature PIN has its own 5 tries.
    for left in (0..5).rev() {
        assert_eq!(
            sw(&mut c, "00 20 00 9B 06 41 41 41 41 41 41"),
            format!("63C{left}")
        );
    }
    assert_eq!(
        sw(&mut c, "00 20 00 9B 0A 59 41 4D 41 44 41 32 30 32 36"),
        "6984"
    );
    // Blocked PINs cannot be changed either.
    assert_eq!(sw(&mut c, "00 24 01 98 04 31 31 31 31"), "6984");
}

#[test]
fn change_reference_data() {
    let mut c = card("mynumber-card");
    tx(&mut c, SELECT_JPKI);
    tx(&mut c, "00 A4 02 0C 02 00 18");
    assert_eq!(
        sw(&mut c, "00 24 01 80 04 34 33 32 31"),
        "6982",
        "needs the PIN verified first"
    );
    assert_eq!(sw(&mut c, &verify_apdu("1234")), "9000");
    assert_eq!(
        sw(&mut c, "00 24 01 80 03 34 33 32"),
        "6700",
        "auth PIN is 4 digits"
    );
    assert_eq!(
        sw(&mut c, "00 24 01 80 04 34 33 32 41"),
        "6A80",
        "digits only"
    );
    assert_eq!(
        sw(&mut c, "00 24 00 80 08 31 32 33 34 34 33 32 31"),
        "6A86",
        "only P1 = 01"
    );
    assert_eq!(sw(&mut c, "00 24 01 80 04 34 33 32 31"), "9000");
    c.power_off();
    c.power_on();
    tx(&mut c, SELECT_JPKI);
    assert_eq!(
        sw(&mut c, "00 20 00 98 04 31 32 33 34"),
        "63C2",
        "old PIN no longer works"
    );
    assert_eq!(
        sw(&mut c, "00 20 00 98 04 34 33 32 31"),
        "9000",
        "new PIN survives a power cycle"
    );
    // Signature PIN: 6-16 upper-case letters and digits.
    assert_eq!(
        sw(&mut c, "00 20 00 9B 0A 59 41 4D 41 44 41 32 30 32 36"),
        "9000"
    );
    assert_eq!(
        sw(&mut c, "00 24 01 9B 06 61 62 63 64 65 66"),
        "6A80",
        "lower case refused"
    );
    assert_eq!(
        sw(&mut c, "00 24 01 9B 05 41 42 43 44 45"),
        "6700",
        "too short"
    );
    assert_eq!(sw(&mut c, "00 24 01 9B 06 41 42 43 31 32 33"), "9000");
}

#[test]
fn signatures_verify_independently_and_need_the_pin() {
    let mut c = card("mynumber-card");
    tx(&mut c, SELECT_JPKI);
    let cert = read_whole(&mut c, jpki::ef::AUTH_CERT);
    tx(&mut c, "00 A4 02 0C 02 00 17");
    assert_eq!(
        sw(&mut c, &sign_apdu(b"challenge")),
        "6982",
        "sign without VERIFY"
    );
    assert_eq!(sw(&mut c, "00 20 00 98 04 31 32 33 34"), "9000");
    let (sig, s) = tx(&mut c, &sign_apdu(b"challenge"));
    assert_eq!(s.to_string(), "9000");
    assert_eq!(sig.len(), 256);
    assert!(verify::signature_verifies(&cert, b"challenge", &sig));
    assert!(!verify::signature_verifies(&cert, b"challengf", &sig));
    // SFI form: P2 = 97 addresses the auth key without SELECT.
    tx(&mut c, "00 A4 02 0C 02 00 0A");
    let (sig2, s) = tx(
        &mut c,
        &format!("80 2A 00 97 33 {} 00", digest_info_hex(b"other")),
    );
    assert_eq!(s.to_string(), "9000");
    assert!(verify::signature_verifies(&cert, b"other", &sig2));
    // Without Le the card answers the signature too; with a Le too short for it: 6700.
    let (sig3, _) = tx(
        &mut c,
        &format!("80 2A 00 97 33 {}", digest_info_hex(b"other")),
    );
    assert_eq!(sig3, sig2, "PKCS#1 v1.5 is deterministic");
    assert_eq!(
        sw(
            &mut c,
            &format!("80 2A 00 97 33 {} 10", digest_info_hex(b"x"))
        ),
        "6700"
    );
    // Input bounds: 1..=245 bytes.
    let max = "AB ".repeat(245);
    assert_eq!(sw(&mut c, &format!("80 2A 00 97 F5 {max} 00")), "9000");
    let over = "AB ".repeat(246);
    assert_eq!(sw(&mut c, &format!("80 2A 00 97 F6 {over} 00")), "6700");
    assert_eq!(sw(&mut c, "80 2A 00 97 00"), "6700", "no input");
    // P1 beyond the card's six schemes → 6A86; unknown P2 → 6A86.
    for p1 in ["06", "80", "FF"] {
        assert_eq!(
            sw(
                &mut c,
                &format!("80 2A {p1} 97 33 {} 00", digest_info_hex(b"x"))
            ),
            "6A86"
        );
    }
    assert_eq!(
        sw(
            &mut c,
            &format!("80 2A 00 20 33 {} 00", digest_info_hex(b"x"))
        ),
        "6A86"
    );
    assert_eq!(
        sw(
            &mut c,
            &format!("80 2A 00 98 33 {} 00", digest_info_hex(b"x"))
        ),
        "6A82",
        "0018 is a PIN, not a key"
    );
    // The signature key needs the signature PIN.
    assert_eq!(
        sw(
            &mut c,
            &format!("80 2A 00 9A 33 {} 00", digest_info_hex(b"x"))
        ),
        "6982"
    );
    assert_eq!(
        sw(&mut c, "00 20 00 9B 0A 59 41 4D 41 44 41 32 30 32 36"),
        "9000"
    );
    let (ssig, s) = tx(
        &mut c,
        &format!("80 2A 00 9A 33 {} 00", digest_info_hex(b"contract")),
    );
    assert_eq!(s.to_string(), "9000");
    let subject = kazasu_sim::Fixtures::embedded()
        .subject("yamada-taro")
        .unwrap();
    assert!(verify::signature_verifies(
        &subject.keys.sign_cert,
        b"contract",
        &ssig
    ));
}

#[test]
fn security_state_is_lost_on_power_off_and_on_selecting_another_application() {
    let mut c = card("mynumber-card");
    tx(&mut c, SELECT_JPKI);
    assert_eq!(sw(&mut c, "00 20 00 98 04 31 32 33 34"), "9000");
    c.power_off();
    c.power_on();
    tx(&mut c, SELECT_JPKI);
    assert_eq!(
        sw(&mut c, "00 20 00 98"),
        "63C3",
        "not verified after a power cycle"
    );
    assert_eq!(
        sw(
            &mut c,
            &format!("80 2A 00 97 33 {} 00", digest_info_hex(b"x"))
        ),
        "6982"
    );
    assert_eq!(sw(&mut c, "00 20 00 98 04 31 32 33 34"), "9000");
    tx(&mut c, SELECT_CARD_INFO);
    tx(&mut c, SELECT_JPKI);
    assert_eq!(
        sw(
            &mut c,
            &format!("80 2A 00 97 33 {} 00", digest_info_hex(b"x"))
        ),
        "6982",
        "selecting another application starts afresh"
    );
}

#[test]
fn wrong_commands_get_the_reference_status_words() {
    let mut c = card("mynumber-card");
    tx(&mut c, SELECT_JPKI);
    assert_eq!(sw(&mut c, "00 02 00 00 00"), "6D00", "no such instruction");
    assert_eq!(
        sw(&mut c, "00 CA 01 00 00"),
        "6A88",
        "GET DATA exists, the tag not"
    );
    assert_eq!(sw(&mut c, "80 AE 00 00 00"), "6982", "80 AE in the JPKI AP");
    assert_eq!(
        sw(&mut c, "80 A4 02 0C 02 00 0A"),
        "6E00",
        "SELECT with a proprietary class"
    );
    assert_eq!(
        sw(&mut c, "00 2A 00 97 01 00 00"),
        "6E00",
        "signature with the ISO class"
    );
    assert_eq!(
        sw(&mut c, "0C B0 00 00 04"),
        "69FC",
        "secure messaging is refused as the card refuses it"
    );
    assert_eq!(
        sw(&mut c, "10 B0 00 00 04"),
        "6E00",
        "command chaining is not supported"
    );
    assert_eq!(sw(&mut c, "FF B0 00 00 04"), "6E00", "CLA FF is invalid");
    assert_eq!(sw(&mut c, "20 B0 00 00 04"), "6E00", "RFU class");
    assert_eq!(sw(&mut c, "01 B0 00 00 04"), "6881", "logical channel 1");
    assert_eq!(
        sw(&mut c, "03 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01"),
        "6881"
    );
    assert_eq!(
        sw(&mut c, "41 B0 00 00 04"),
        "6881",
        "further interindustry channel 5"
    );
    assert_eq!(sw(&mut c, "81 2A 00 97 01 00 00"), "6881");
    assert_eq!(sw(&mut c, "00 B0 00"), "6700", "3 bytes are not an APDU");
    assert_eq!(sw(&mut c, ""), "6700", "nor are 0 bytes");
    assert_eq!(
        sw(&mut c, "00 A4 02 0C 05 00 0A"),
        "6700",
        "Lc larger than the data"
    );
    // The card is still usable after all of that.
    assert_eq!(sw(&mut c, "00 B0 8A 00 04"), "9000");
}

#[test]
fn last_command_indicator_differs_by_device() {
    let mut card_ = card("mynumber-card");
    tx(&mut card_, SELECT_JPKI);
    assert_eq!(
        sw(&mut card_, "80 FC 00 00"),
        "6700",
        "physical cards refuse it"
    );
    let mut iphone = card("iphone-jpki");
    tx(&mut iphone, SELECT_JPKI);
    assert_eq!(sw(&mut iphone, "80 FC 00 00"), "9000");
    assert_eq!(sw(&mut iphone, "00 FC 00 00"), "6E00");
}

#[test]
fn android_needs_the_pin_before_the_auth_certificate() {
    let mut c = card("android-jpki");
    tx(&mut c, SELECT_JPKI);
    assert_eq!(
        sw(&mut c, "00 B0 8A 00 04"),
        "6982",
        "auth cert before the PIN"
    );
    tx(&mut c, "00 A4 02 0C 02 00 0A");
    assert_eq!(sw(&mut c, "00 B0 00 00 04"), "6982");
    assert_eq!(
        sw(&mut c, "00 B0 8B 00 04"),
        "9000",
        "the CA certificate stays free"
    );
    assert_eq!(sw(&mut c, "00 20 00 98 04 31 32 33 34"), "9000");
    assert_eq!(sw(&mut c, "00 B0 8A 00 04"), "9000");
    // Phones take no extended APDUs (profile parameter).
    assert_eq!(sw(&mut c, "00 B0 8A 04 00 01 00"), "6700");
}

#[test]
fn iphone_signs_only_within_a_fresh_approval() {
    let mut c = card("iphone-jpki");
    tx(&mut c, SELECT_JPKI);
    let cert = read_whole(&mut c, jpki::ef::AUTH_CERT);
    let sign = format!("80 2A 00 97 33 {} 00", digest_info_hex(b"nonce"));
    assert_eq!(sw(&mut c, &sign), "6982", "no approval yet");
    // A VERIFY does not stand in for the approval.
    assert_eq!(sw(&mut c, "00 20 00 98 04 31 32 33 34"), "9000");
    assert_eq!(sw(&mut c, &sign), "6982");
    let t0 = SimTime::START;
    assert!(c.approve(t0));
    let (sig, s) = c
        .process(&kazasu_sim::parse_hex(&sign).unwrap(), t0)
        .answer()
        .map(|a| (a.response.data, a.response.sw))
        .unwrap();
    assert_eq!(s.to_string(), "9000");
    assert!(verify::signature_verifies(&cert, b"nonce", &sig));
    assert_eq!(sw(&mut c, &sign), "6982", "one signature per approval");
    // The approval lapses after its window.
    assert!(c.approve(t0));
    let late = t0 + SimDuration::from_secs(31);
    let s = c
        .process(&kazasu_sim::parse_hex(&sign).unwrap(), late)
        .answer()
        .unwrap()
        .response
        .sw;
    assert_eq!(s.to_string(), "6982", "after the approval window");
    // The approval is the phone's, not the field's: it survives the phone leaving the field.
    assert!(c.approve(late));
    c.power_off();
    c.power_on();
    tx(&mut c, SELECT_JPKI);
    let s = c
        .process(&kazasu_sim::parse_hex(&sign).unwrap(), late)
        .answer()
        .unwrap()
        .response
        .sw;
    assert_eq!(s.to_string(), "9000");
    // Cards without approval refuse the event.
    let mut android = card("android-jpki");
    assert!(!android.approve(t0));
}

#[test]
fn unpowered_cards_answer_nothing() {
    let mut c = card("mynumber-card");
    c.power_off();
    assert_eq!(
        c.process(&[0x00, 0xA4, 0x00, 0x00], SimTime::START),
        kazasu_sim::CardReply::Unpowered
    );
}

#[test]
fn phones_and_cards_get_a_new_uid_every_tap_and_a_pinned_one_stays() {
    let mut phone = card("android-jpki");
    let first = phone.uid().to_vec();
    phone.power_off();
    phone.power_on();
    assert_ne!(phone.uid(), first.as_slice());
    assert_eq!(phone.uid()[0], 0x08, "random UIDs start with 08");
    let mut c = card("mynumber-card");
    let pupi = c.uid().to_vec();
    c.power_off();
    c.power_on();
    assert_ne!(
        c.uid(),
        pupi.as_slice(),
        "a Type B PUPI is random per activation"
    );
    assert_eq!(c.uid().len(), 4);
    let mut pinned = card("readertest");
    let fixed = pinned.uid().to_vec();
    pinned.power_off();
    pinned.power_on();
    assert_eq!(pinned.uid(), fixed.as_slice());
    // The same seed gives the same UIDs.
    let again = card("android-jpki");
    assert_eq!(again.uid(), first.as_slice());
}

#[test]
fn every_identity_has_its_own_keys() {
    let mut seen = Vec::new();
    for id in kazasu_sim::Fixtures::embedded().ids() {
        let mut c = card_for("mynumber-card", id);
        tx(&mut c, SELECT_JPKI);
        let cert = read_whole(&mut c, jpki::ef::AUTH_CERT);
        assert!(!seen.contains(&cert), "{id} shares a certificate");
        seen.push(cert);
    }
    assert!(seen.len() >= 3);
}

#[test]
fn corrections_from_readers_checked_on_real_cards() {
    for device in ["mynumber-card", "android-jpki", "iphone-jpki"] {
        let mut c = card(device);
        // GET CHALLENGE works in any state, before any SELECT too, Le bytes of fresh data.
        let (a, s) = tx(&mut c, "00 84 00 00 08");
        assert_eq!(
            (a.len(), s.to_string()),
            (8, "9000".to_string()),
            "{device}"
        );
        let (b, _) = tx(&mut c, "00 84 00 00 08");
        assert_ne!(a, b, "{device}: a fresh challenge each time");
        assert_eq!(
            tx(&mut c, "00 84 00 00 00").0.len(),
            256,
            "{device}: Le 00 = 256"
        );
        assert_eq!(sw(&mut c, "00 84 00 00"), "6700", "{device}: no Le");
        assert_eq!(sw(&mut c, "00 84 01 00 08"), "6A86", "{device}");
        // The MF by its file id is not found, with or without an application.
        assert_eq!(sw(&mut c, "00 A4 00 0C 02 3F 00"), "6A82", "{device}");
        tx(&mut c, SELECT_JPKI);
        assert_eq!(sw(&mut c, "00 A4 00 0C 02 3F 00"), "6A82", "{device}");
        // Secure-messaging classes.
        assert_eq!(sw(&mut c, "0C A4 02 0C 02 00 0A"), "6882", "{device}");
        assert_eq!(sw(&mut c, "0C B0 00 00 04"), "69FC", "{device}");
        assert_eq!(sw(&mut c, "08 20 00 98"), "69FC", "{device}");
        // A VERIFY stays in force when the same application is selected again (the iPhone's
        // auth key answers to the approval, not the PIN).
        if device != "iphone-jpki" {
            assert_eq!(sw(&mut c, "00 20 00 98 04 31 32 33 34"), "9000", "{device}");
            tx(&mut c, SELECT_JPKI);
            assert_eq!(
                sw(
                    &mut c,
                    &format!("80 2A 00 97 33 {} 00", digest_info_hex(b"x"))
                ),
                "9000",
                "{device}: still verified, the key signs"
            );
        }
    }
}

/// COMPUTE DIGITAL SIGNATURE with each P1 the physical card offers, every signature checked by
/// an independent verifier (RustCrypto): 00 as sent, 01 bare SHA-256, 02/03 DigestInfo of a
/// given hash / of the message, 04/05 RSASSA-PSS of a given hash / of the message.
#[test]
fn every_signature_scheme_verifies_independently() {
    use rsa::{Pkcs1v15Sign, Pss};
    use sha2::{Digest, Sha256};
    let mut c = card("mynumber-card");
    tx(&mut c, SELECT_JPKI);
    let key = verify::public_key(&read_whole(&mut c, jpki::ef::AUTH_CERT));
    assert_eq!(sw(&mut c, "00 20 00 98 04 31 32 33 34"), "9000");
    let message = b"kazasu signature schemes".to_vec();
    let hash = Sha256::digest(&message).to_vec();
    let sign = |c: &mut kazasu_sim::Card, p1: u8, data: &[u8]| {
        let (sig, s) = tx(
            c,
            &format!(
                "80 2A {p1:02X} 97 {:02X} {} 00",
                data.len(),
                kazasu_sim::hex_spaced(data)
            ),
        );
        assert_eq!(s.to_string(), "9000", "P1 {p1:02X}");
        sig
    };
    let digest_info = [
        &kazasu_sim::platform::signature::SHA256_DIGEST_INFO_PREFIX[..],
        &hash,
    ]
    .concat();
    let bare = Pkcs1v15Sign::new_unprefixed();
    let p1_00 = sign(&mut c, 0x00, &digest_info);
    assert!(
        key.verify(Pkcs1v15Sign::new::<Sha256>(), &hash, &p1_00)
            .is_ok()
    );
    let p1_01 = sign(&mut c, 0x01, &message);
    assert!(
        key.verify(bare.clone(), &hash, &p1_01).is_ok(),
        "01: the bare hash"
    );
    assert!(
        key.verify(Pkcs1v15Sign::new::<Sha256>(), &hash, &p1_01)
            .is_err()
    );
    for p1 in [0x02, 0x03] {
        let data = if p1 == 0x02 { &hash } else { &message };
        let sig = sign(&mut c, p1, data);
        assert_eq!(sig, p1_00, "P1 {p1:02X} signs the same DigestInfo as 00");
    }
    let p1_04 = sign(&mut c, 0x04, &hash);
    let p1_05 = sign(&mut c, 0x05, &message);
    for (p1, sig) in [(4, &p1_04), (5, &p1_05)] {
        assert!(
            key.verify(Pss::new::<Sha256>(), &hash, sig).is_ok(),
            "P1 0{p1}: PSS"
        );
        assert!(
            key.verify(Pss::new::<Sha256>(), &Sha256::digest(b"x"), sig)
                .is_err()
        );
    }
    assert_ne!(p1_04, sign(&mut c, 0x04, &hash), "a fresh salt each time");
    // Input the schemes cannot take: 67 00.
    assert_eq!(
        sw(&mut c, &format!("80 2A 02 97 1F {} 00", "AB ".repeat(31))),
        "6700"
    );
    assert_eq!(
        sw(&mut c, &format!("80 2A 04 97 21 {} 00", "AB ".repeat(33))),
        "6700"
    );
    // Phones offer only P1 00 (modelled): the others answer 6A 86.
    let mut phone = card("android-jpki");
    tx(&mut phone, SELECT_JPKI);
    assert_eq!(sw(&mut phone, "00 20 00 98 04 31 32 33 34"), "9000");
    assert_eq!(
        sw(
            &mut phone,
            &format!("80 2A 03 97 05 {} 00", "AB ".repeat(5))
        ),
        "6A86"
    );
}

/// GET DATA `00 CA 5F 51` at MF level hands over the contact ATR as the card stores it — no TS,
/// the last byte the XOR of the others, which a client checks before it puts `3B` in front
/// (reported); with an application selected it is not offered. EF 0009 and EF 0016 exist and no
/// credential opens them; `80 A2` is refused.
#[test]
fn get_data_contact_atr_and_the_closed_files() {
    let mut c = card("mynumber-card");
    let (atr, s) = tx(&mut c, "00 CA 5F 51 00");
    assert_eq!(s.to_string(), "9000");
    assert_eq!(kazasu_sim::hex_spaced(&atr), "E0 00 FF 81 31 FE 45 14");
    let (tck, body) = atr.split_last().expect("bytes");
    assert_eq!(
        body.iter().fold(0, |a, b| a ^ b),
        *tck,
        "TCK checks, as contact_atr() does"
    );
    assert_eq!(atr[0] & 0x0F, 0, "T0: no historical bytes");
    assert_eq!(sw(&mut c, "00 CA 5F 52 00"), "6A88", "another tag");
    assert_eq!(sw(&mut c, "00 CA 5F 51 02"), "6700", "Le too short");
    let mut phone = card("android-jpki");
    assert_eq!(
        sw(&mut phone, "00 CA 5F 51 00"),
        "6D00",
        "phones: not offered"
    );
    tx(&mut c, SELECT_JPKI);
    assert_eq!(sw(&mut c, "00 A4 02 0C 02 00 09"), "9000");
    assert_eq!(sw(&mut c, "00 B0 00 00 00"), "6982");
    assert_eq!(sw(&mut c, "00 20 00 98 04 31 32 33 34"), "9000");
    assert_eq!(
        sw(&mut c, "00 B0 89 00 00"),
        "6982",
        "not with the auth PIN either"
    );
    assert_eq!(sw(&mut c, "00 A4 02 0C 02 00 16"), "9000");
    for p1p2 in ["00 00", "00 AE", "80 00", "00 B6"] {
        assert_eq!(
            sw(&mut c, &format!("80 A2 {p1p2} 05 01 02 03 04 05")),
            "6A86",
            "{p1p2}"
        );
    }
    assert_eq!(sw(&mut c, "00 A4 02 0C 02 00 17"), "9000");
    assert_eq!(
        sw(&mut c, "00 88 00 00 04 01 02 03 04 00"),
        "6982",
        "INTERNAL AUTHENTICATE"
    );
    assert_eq!(
        sw(&mut c, "00 84 00 00 00 00 08"),
        "6985",
        "GET CHALLENGE, extended Le"
    );
    let (challenge, s) = tx(&mut c, "00 84 00 00 00");
    assert_eq!(
        (s.to_string(), challenge.len()),
        ("9000".into(), 256),
        "Le 00: 256 bytes"
    );
}

/// SELECT of the issuer security domain leaves the AP and clears what was verified; a DF name
/// given in part selects the first application it starts.
#[test]
fn the_issuer_security_domain_clears_a_verify_and_a_prefix_selects() {
    let mut c = card("mynumber-card");
    tx(&mut c, SELECT_JPKI);
    assert_eq!(sw(&mut c, "00 A4 02 0C 02 00 18"), "9000");
    assert_eq!(sw(&mut c, "00 20 00 80 04 31 32 33 34"), "9000");
    assert_eq!(sw(&mut c, "00 A4 04 0C 07 A0 00 00 01 51 00 00"), "9000");
    assert_eq!(
        sw(&mut c, "00 CA 5F 51 00"),
        "9000",
        "MF-level GET DATA again"
    );
    tx(&mut c, SELECT_JPKI);
    assert_eq!(sw(&mut c, "00 A4 02 0C 02 00 17"), "9000");
    let di = format!(
        "80 2A 00 80 33 {} 00",
        "30 31 30 0D 06 09 60 86 48 01 65 03 04 02 01 05 00 04 20 ".to_owned() + &"AB ".repeat(32)
    );
    assert_eq!(sw(&mut c, &di), "6982", "the VERIFY is gone");
    assert_eq!(
        sw(&mut c, "00 A4 04 0C 01 D3"),
        "9000",
        "a prefix of the JPKI AP's name"
    );
    assert_eq!(sw(&mut c, "00 A4 02 0C 02 00 0A"), "9000");
    let mut phone = card("android-jpki");
    assert_eq!(
        sw(&mut phone, "00 A4 04 0C 07 A0 00 00 01 51 00 00"),
        "6A82",
        "not on phones"
    );
}

/// The MF has one EF, 001E: it selects, and reading it answers 69 81; no other MF EF exists.
#[test]
fn the_mf_has_an_ef_001e_that_cannot_be_read() {
    let mut c = card("mynumber-card");
    assert_eq!(sw(&mut c, "00 A4 02 0C 02 00 1E"), "9000");
    assert_eq!(sw(&mut c, "00 B0 00 00 04"), "6981");
    assert_eq!(sw(&mut c, "00 B2 01 04 00"), "6981");
    assert_eq!(sw(&mut c, "00 B0 9E 00 04"), "6A82", "not by short EF id");
    for fid in ["2F 10", "2F 11", "3F 00"] {
        assert_eq!(
            sw(&mut c, &format!("00 A4 02 0C 02 {fid}")),
            "6A82",
            "{fid}"
        );
    }
    assert_eq!(
        sw(&mut c, "00 B0 00 00 04"),
        "6A82",
        "nothing selected any more"
    );
}
