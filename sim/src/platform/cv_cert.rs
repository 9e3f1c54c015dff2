//! The My Number card's own certificates: JICSAP card-verifiable (CV) certificates and the
//! 16-byte key identifiers they name keys by. The card-info AP's EF 0004 and the MF's GET DATA
//! objects 00F8 and 7F21 carry them; the issuers' keys are kazasu's test stand-ins
//! (`sim/data/fixtures/pki/`).
//!
//! A certificate body is 297 bytes: the issuer's key id (16), the subject's key id (16) and the
//! subject's RSA-2048 public key (`90 03 <e> 91 82 01 00 <n>`, 265). The signature is PKCS#1
//! v1.5 with SHA-256 over the body's value by the issuer's key. Every length of 128 or more is
//! written `82 hh ll`, as the card writes it.

use crate::iso7816::tlv::write_long as tlv;
use crate::platform::identity::PrivateKey;
use crate::platform::signature::SHA256_DIGEST_INFO_PREFIX;

/// A key identifier: seven ASCII digits naming the key, the bytes `08 05`, a three-digit
/// generation and four padding bytes (`00`). The first digit is 5 in the production hierarchy
/// and 6 in JPKI's test hierarchy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyId(pub [u8; 16]);

impl KeyId {
    /// The key id of `name` (seven digits) and `generation` (three digits); `None` when either
    /// is not that many ASCII digits.
    pub fn new(name: &str, generation: &str) -> Option<KeyId> {
        let digits = |s: &str, n| s.len() == n && s.bytes().all(|c| c.is_ascii_digit());
        if !digits(name, 7) || !digits(generation, 3) {
            return None;
        }
        let mut id = [0u8; 16];
        id[..7].copy_from_slice(name.as_bytes());
        id[7..9].copy_from_slice(&[0x08, 0x05]);
        id[9..12].copy_from_slice(generation.as_bytes());
        Some(KeyId(id))
    }

    /// The key id of a municipality's key: its 5-digit code, a 2-digit role (`30` the MF chain,
    /// `31` the card-info AP, `21` the card-face AP) and a generation. `None` when the code is
    /// not five digits.
    pub fn municipal(code: &str, role: &str, generation: &str) -> Option<KeyId> {
        KeyId::new(&format!("{code}{role}"), generation)
    }
}

/// The signature the card's PKI makes: PKCS#1 v1.5 over SHA-256 of `data`.
pub fn sign(key: &PrivateKey, data: &[u8]) -> Vec<u8> {
    let digest_info = [&SHA256_DIGEST_INFO_PREFIX[..], &openssl::sha::sha256(data)].concat();
    key.sign_pkcs1(&digest_info)
        .expect("a 51-byte DigestInfo fits an RSA-2048 key")
}

/// The 297-byte body: issuer key id, subject key id, subject public key.
pub fn body(issuer: KeyId, subject: KeyId, subject_key: &PrivateKey) -> Vec<u8> {
    let mut body = Vec::with_capacity(297);
    body.extend_from_slice(&issuer.0);
    body.extend_from_slice(&subject.0);
    body.extend(subject_key.public_tlv());
    body
}

/// A CV certificate as the card-info AP's EF 0004 holds it:
/// `7F 21 82 02 33 { 5F 4E 82 01 29 <body>, 5F 37 82 01 00 <signature> }` (568 bytes).
pub fn certificate(
    issuer: KeyId,
    issuer_key: &PrivateKey,
    subject: KeyId,
    subject_key: &PrivateKey,
) -> Vec<u8> {
    let body = body(issuer, subject, subject_key);
    let mut inner = Vec::with_capacity(570);
    tlv(&[0x5F, 0x4E], &body, &mut inner);
    tlv(&[0x5F, 0x37], &sign(issuer_key, &body), &mut inner);
    let mut out = Vec::with_capacity(inner.len() + 5);
    tlv(&[0x7F, 0x21], &inner, &mut out);
    out
}

/// The same certificate as the MF's GET DATA objects return it, without the `7F 21` template
/// and with a header list in front: `4D 0A 42 10 5F 20 10 5F 49 82 01 09` (the certification
/// authority reference, 16 bytes; the holder reference, 16; the public key, 265), then the
/// `5F 4E` body and the `5F 37` signature — 575 bytes.
pub fn mf_object(
    issuer: KeyId,
    issuer_key: &PrivateKey,
    subject: KeyId,
    subject_key: &PrivateKey,
) -> Vec<u8> {
    let wrapped = certificate(issuer, issuer_key, subject, subject_key);
    let mut out = vec![
        0x4D, 0x0A, 0x42, 0x10, 0x5F, 0x20, 0x10, 0x5F, 0x49, 0x82, 0x01, 0x09,
    ];
    out.extend_from_slice(&wrapped[5..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_have_the_card_layout() {
        let id = KeyId::new("6000033", "001").unwrap();
        assert_eq!(&id.0[..7], b"6000033");
        assert_eq!(id.0[7..9], [0x08, 0x05]);
        assert_eq!(&id.0[9..12], b"001");
        assert_eq!(id.0[12..], [0; 4]);
        assert_eq!(
            KeyId::municipal("13101", "31", "000").unwrap().0[..7],
            *b"1310131"
        );
        assert!(KeyId::new("600003", "001").is_none());
        assert!(KeyId::new("600003x", "001").is_none());
        assert!(KeyId::municipal("1310", "31", "000").is_none());
    }
}
