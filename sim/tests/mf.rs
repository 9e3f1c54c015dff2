//! The physical card's MF level: GET DATA objects and the CV certificate chain they carry.

mod common;

use common::*;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{BigUint, Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};

fn fixture_public_key(path: &str) -> RsaPublicKey {
    let pem = std::fs::read_to_string(format!(
        "{}/data/fixtures/pki/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    RsaPrivateKey::from_pkcs8_pem(&pem).unwrap().to_public_key()
}

/// A 575-byte MF certificate object: its body (CAR, CHR, key) and signature.
struct MfCert {
    body: Vec<u8>,
    signature: Vec<u8>,
}

impl MfCert {
    fn parse(object: &[u8]) -> MfCert {
        assert_eq!(object.len(), 575);
        assert_eq!(
            object[..12],
            [
                0x4D, 0x0A, 0x42, 0x10, 0x5F, 0x20, 0x10, 0x5F, 0x49, 0x82, 0x01, 0x09
            ],
            "the header list"
        );
        assert_eq!(object[12..17], [0x5F, 0x4E, 0x82, 0x01, 0x29]);
        assert_eq!(object[314..319], [0x5F, 0x37, 0x82, 0x01, 0x00]);
        MfCert {
            body: object[17..314].to_vec(),
            signature: object[319..].to_vec(),
        }
    }
    fn issuer(&self) -> &[u8] {
        &self.body[..16]
    }
    fn subject(&self) -> &[u8] {
        &self.body[16..32]
    }
    fn key(&self) -> RsaPublicKey {
        let key = &self.body[32..];
        assert_eq!(key[..5], [0x90, 0x03, 0x01, 0x00, 0x01]);
        assert_eq!(key[5..9], [0x91, 0x82, 0x01, 0x00]);
        RsaPublicKey::new(
            BigUint::from_bytes_be(&key[9..]),
            BigUint::from_bytes_be(&key[2..5]),
        )
        .unwrap()
    }
    fn signed_by(&self, key: &RsaPublicKey) -> bool {
        key.verify(
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(&self.body),
            &self.signature,
        )
        .is_ok()
    }
}

/// myna-card's main example starts with GET DATA 0045 right after power-up; every object
/// answers at MF level, the certificates only to an extended Le.
#[test]
fn the_objects_answer_at_mf_level() {
    let mut c = card("mynumber-card");
    let (card_id, s) = tx(&mut c, "00 CA 00 45 00");
    assert_eq!(s.to_string(), "9000");
    assert!(card_id.iter().all(u8::is_ascii_graphic));
    let (issuer, _) = tx(&mut c, "00 CA 00 42 00");
    assert_eq!(&issuer[..7], b"6000020");
    assert_eq!(issuer[7..9], [0x08, 0x05]);
    let (recognition, s) = tx(&mut c, "00 CA 00 66 00");
    assert_eq!((recognition[0], s.to_string().as_str()), (0x66, "9000"));
    assert_eq!(tx(&mut c, "00 CA 00 F0 00").0, b"13101");
    assert_eq!(tx(&mut c, "00 CA 00 F2 00").0, b"20350401");
    assert_eq!(
        sw(&mut c, "00 CA 00 F8 00"),
        "6700",
        "a short Le cannot hold 575 bytes"
    );
    let (f8, s) = tx(&mut c, "00 CA 00 F8 00 00 00");
    assert_eq!((f8.len(), s.to_string().as_str()), (575, "9000"));
    assert_eq!(sw(&mut c, "00 CA 7F 21 00"), "6700");
    assert_eq!(sw(&mut c, "00 CA 01 02 00"), "6A88", "an unknown tag");
    assert_eq!(sw(&mut c, "00 CA 00 F0 02 01 02 00"), "6700", "data");
    assert_eq!(sw(&mut c, "00 CA 00 F0 03"), "6700", "Le under the length");
}

/// 00F8 certifies the municipality's key (`<code>30`/002) under the CA `6000020`; 7F21 the key
/// `0000050` under the municipality's key; 00F7 names the key that signs 7F21.
#[test]
fn the_chain_verifies_link_by_link() {
    let mut c = card_for("mynumber-card", "tanaka-ichiro");
    let f8 = MfCert::parse(&tx(&mut c, "00 CA 00 F8 00 00 00").0);
    let next = MfCert::parse(&tx(&mut c, "00 CA 7F 21 00 00 00").0);
    let f7 = tx(&mut c, "00 CA 00 F7 00").0;
    assert_eq!(&f8.issuer()[..7], b"6000020");
    assert_eq!(&f8.subject()[..7], b"0110130", "<municipality>30");
    assert_eq!(&f8.subject()[9..12], b"002");
    assert!(f8.signed_by(&fixture_public_key("mf-root.key.pem")));
    assert_eq!(next.issuer(), f8.subject(), "7F21 is the next link");
    assert_eq!(f7, f8.subject(), "00F7 names the key that signs 7F21");
    assert!(next.signed_by(&f8.key()));
    assert!(!next.signed_by(&fixture_public_key("mf-root.key.pem")));
    assert_eq!(&next.subject()[..7], b"0000050");
    assert_eq!(next.key(), fixture_public_key("mf-0000050.key.pem"));
}

#[test]
fn objects_differ_by_variant_and_answer_only_at_mf_level() {
    let mut old = card("mynumber-card-41e0");
    assert_eq!(
        sw(&mut old, "00 CA 7F 21 00 00 00"),
        "6A88",
        "older cards lack 7F21"
    );
    assert_eq!(sw(&mut old, "00 CA 00 F8 00 00 00"), "9000");
    let mut c = card("mynumber-card");
    tx(&mut c, SELECT_JPKI);
    assert_eq!(
        sw(&mut c, "00 CA 00 45 00"),
        "6A88",
        "inside an AP: the INS exists"
    );
    assert_eq!(sw(&mut c, "00 CA 5F 51 00"), "6A88");
    // The issuer security domain brings the MF objects back.
    assert_eq!(sw(&mut c, "00 A4 04 0C 07 A0 00 00 01 51 00 00"), "9000");
    assert_eq!(sw(&mut c, "00 CA 00 45 00"), "9000");
    for phone in ["android-jpki", "iphone-jpki"] {
        let mut p = card(phone);
        assert_eq!(sw(&mut p, "00 CA 00 45 00"), "6D00", "{phone}");
    }
}
