//! An independent verifier (RustCrypto `rsa` + `x509-parser`, no OpenSSL) for signatures and
//! certificates that the card produced with OpenSSL.

use rsa::pkcs8::DecodePublicKey;
pub use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha2::{Digest, Sha256};

/// The RSA public key of a DER certificate.
pub fn public_key(cert_der: &[u8]) -> RsaPublicKey {
    let (rest, cert) =
        x509_parser::parse_x509_certificate(cert_der).expect("a DER X.509 certificate");
    assert!(rest.is_empty(), "bytes after the certificate");
    RsaPublicKey::from_public_key_der(cert.public_key().raw).expect("an RSA public key")
}

/// Checks a PKCS#1 v1.5 SHA-256 signature over `data` with the key of `cert_der`.
pub fn signature_verifies(cert_der: &[u8], data: &[u8], signature: &[u8]) -> bool {
    let hash = Sha256::digest(data);
    public_key(cert_der)
        .verify(Pkcs1v15Sign::new::<Sha256>(), &hash, signature)
        .is_ok()
}

/// Checks that `cert_der` is signed (sha256WithRSAEncryption) by the key of `ca_der`.
pub fn issued_by(cert_der: &[u8], ca_der: &[u8]) -> bool {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).unwrap();
    let tbs: &[u8] = cert.tbs_certificate.as_ref();
    signature_verifies(ca_der, tbs, &cert.signature_value.data)
}
