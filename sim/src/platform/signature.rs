//! The signature schemes of the JPKI card's COMPUTE DIGITAL SIGNATURE (`80 2A P1 P2`): what the
//! card does with the command data for each P1 before its RSA private-key operation.
//!
//! | P1 | data the host sends | what the card signs |
//! |----|---------------------|---------------------|
//! | 00 | 1..245 bytes (a DigestInfo, usually) | PKCS#1 v1.5 over the data as sent |
//! | 01 | the message | PKCS#1 v1.5 over the bare SHA-256 of it (no DigestInfo) |
//! | 02 | a 32-byte SHA-256 | PKCS#1 v1.5 over the SHA-256 DigestInfo of it |
//! | 03 | the message | PKCS#1 v1.5 over the SHA-256 DigestInfo of its hash |
//! | 04 | a 32-byte SHA-256 | RSASSA-PSS (SHA-256, MGF1-SHA-256, 32-byte salt) |
//! | 05 | the message | RSASSA-PSS over its SHA-256 |
//!
//! Reported by a public reader library that exercised every P1 on a real card and recovered the
//! padded block with the certificate's public key (`docs/jpki.md`); any other P1 answers 6A 86.
//! The PSS salt comes from the card's seeded generator, so a seeded run signs the same bytes
//! every time while two signatures over one hash still differ.

use crate::iso7816::status::StatusWord as Sw;
use crate::platform::identity::{KeyError, PrivateKey};

/// One P1 of COMPUTE DIGITAL SIGNATURE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// 00: PKCS#1 v1.5 over the data as sent.
    Verbatim,
    /// 01: PKCS#1 v1.5 over the bare SHA-256 of the data.
    Sha256Bare,
    /// 02: PKCS#1 v1.5 over the DigestInfo of a SHA-256 the host computed.
    PrehashedDigestInfo,
    /// 03: PKCS#1 v1.5 over the DigestInfo of the SHA-256 of the data.
    Sha256DigestInfo,
    /// 04: RSASSA-PSS over a SHA-256 the host computed.
    PrehashedPss,
    /// 05: RSASSA-PSS over the SHA-256 of the data.
    Sha256Pss,
}

/// Every scheme, in P1 order.
pub const ALL: [Scheme; 6] = [
    Scheme::Verbatim,
    Scheme::Sha256Bare,
    Scheme::PrehashedDigestInfo,
    Scheme::Sha256DigestInfo,
    Scheme::PrehashedPss,
    Scheme::Sha256Pss,
];

/// `DigestInfo` prefix for SHA-256 (RFC 8017 §9.2, note 1).
pub const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// The SHA-256 length, which is also the PSS salt length the card uses.
const HASH_LEN: usize = 32;

impl Scheme {
    /// The scheme of a P1 byte, if the card knows it.
    pub fn from_p1(p1: u8) -> Option<Scheme> {
        ALL.get(usize::from(p1)).copied()
    }

    /// The P1 byte.
    pub fn p1(self) -> u8 {
        ALL.iter().position(|s| *s == self).expect("in ALL") as u8
    }

    /// Whether the card hashes the data itself.
    pub fn hashes_on_card(self) -> bool {
        matches!(
            self,
            Scheme::Sha256Bare | Scheme::Sha256DigestInfo | Scheme::Sha256Pss
        )
    }

    /// Checks the length of the command data: 67 00 when the card cannot take it.
    pub fn check_input(self, data: &[u8], key: &PrivateKey) -> Result<(), Sw> {
        let ok = match self {
            Scheme::Verbatim => (1..=key.size() - 11).contains(&data.len()),
            Scheme::PrehashedDigestInfo | Scheme::PrehashedPss => data.len() == HASH_LEN,
            _ => !data.is_empty(),
        };
        if ok { Ok(()) } else { Err(Sw::WRONG_LENGTH) }
    }

    /// Signs `data` as this scheme does; `salt` is drawn only by the PSS schemes.
    pub fn sign(
        self,
        key: &PrivateKey,
        data: &[u8],
        salt: &mut dyn FnMut() -> [u8; HASH_LEN],
    ) -> Result<Vec<u8>, KeyError> {
        let sha = openssl::sha::sha256;
        let digest_info = |hash: &[u8]| [&SHA256_DIGEST_INFO_PREFIX[..], hash].concat();
        match self {
            Scheme::Verbatim => key.sign_pkcs1(data),
            Scheme::Sha256Bare => key.sign_pkcs1(&sha(data)),
            Scheme::PrehashedDigestInfo => key.sign_pkcs1(&digest_info(data)),
            Scheme::Sha256DigestInfo => key.sign_pkcs1(&digest_info(&sha(data))),
            Scheme::PrehashedPss => key.sign_raw(&pss_encode(data, &salt(), key.bits())),
            Scheme::Sha256Pss => key.sign_raw(&pss_encode(&sha(data), &salt(), key.bits())),
        }
    }
}

/// EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with SHA-256 and MGF1-SHA-256 for a key of `mod_bits`:
/// the encoded message, left-padded with zero to the modulus length for the raw RSA operation.
fn pss_encode(m_hash: &[u8], salt: &[u8; HASH_LEN], mod_bits: usize) -> Vec<u8> {
    let em_bits = mod_bits - 1;
    let em_len = em_bits.div_ceil(8);
    let mut m_prime = vec![0u8; 8];
    m_prime.extend_from_slice(m_hash);
    m_prime.extend_from_slice(salt);
    let h = openssl::sha::sha256(&m_prime);
    let db_len = em_len - HASH_LEN - 1;
    let mut db = vec![0u8; db_len];
    db[db_len - HASH_LEN - 1] = 0x01;
    db[db_len - HASH_LEN..].copy_from_slice(salt);
    for (i, chunk) in db.chunks_mut(HASH_LEN).enumerate() {
        let mask = openssl::sha::sha256(&[&h[..], &(i as u32).to_be_bytes()].concat());
        for (d, m) in chunk.iter_mut().zip(mask) {
            *d ^= m;
        }
    }
    db[0] &= 0xFF >> (8 * em_len - em_bits);
    let mut em = vec![0u8; mod_bits.div_ceil(8) - em_len];
    em.extend_from_slice(&db);
    em.extend_from_slice(&h);
    em.push(0xBC);
    em
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p1_round_trips_and_unknown_p1_is_refused() {
        for (i, s) in ALL.iter().enumerate() {
            assert_eq!(Scheme::from_p1(i as u8), Some(*s));
            assert_eq!(s.p1(), i as u8);
        }
        assert_eq!(Scheme::from_p1(0x06), None);
        assert_eq!(Scheme::from_p1(0x80), None);
    }

    #[test]
    fn pss_encoding_has_the_rfc_8017_shape() {
        let em = pss_encode(&[0xAB; 32], &[0x11; 32], 2048);
        assert_eq!(em.len(), 256);
        assert_eq!(em[0] & 0x80, 0, "the top bit is cleared for emBits = 2047");
        assert_eq!(*em.last().unwrap(), 0xBC);
    }
}
