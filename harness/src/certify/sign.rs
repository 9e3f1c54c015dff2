//! Signing a bundle: an Ed25519 signature over manifest.json's bytes, with keys as
//! `openssl genpkey -algorithm ed25519` writes them (PKCS#8 PEM), so that anyone can check a
//! bundle with openssl alone:
//! `openssl pkeyutl -verify -pubin -inkey PUB.pem -rawin -in manifest.json -sigfile manifest.json.sig`.
//! The manifest names the key by the SHA-256 of its DER public key
//! (`openssl pkey -pubin -in PUB.pem -outform DER | sha256sum`).

use openssl::pkey::{Id, PKey, Private, Public};
use openssl::sign::{Signer, Verifier};
use std::path::Path;

/// An Ed25519 private key, read from a PEM file.
pub fn private_key(path: &Path) -> Result<PKey<Private>, String> {
    let pem = crate::files::read_bounded(path, 64 << 10)?;
    let key = PKey::private_key_from_pem(&pem).map_err(|_| {
        format!(
            "{}: not a PEM private key; make one with `openssl genpkey -algorithm ed25519 -out {}`",
            path.display(),
            path.display()
        )
    })?;
    if key.id() != Id::ED25519 {
        return Err(format!(
            "{}: not an Ed25519 key; kazasu signs bundles with Ed25519 (`openssl genpkey -algorithm ed25519`)",
            path.display()
        ));
    }
    Ok(key)
}

/// An Ed25519 public key, read from a PEM file (`openssl pkey -in KEY.pem -pubout`).
pub fn public_key(path: &Path) -> Result<PKey<Public>, String> {
    let pem = crate::files::read_bounded(path, 64 << 10)?;
    let key = PKey::public_key_from_pem(&pem).map_err(|_| {
        format!(
            "{}: not a PEM public key; write it with `openssl pkey -in KEY.pem -pubout -out {}`",
            path.display(),
            path.display()
        )
    })?;
    if key.id() != Id::ED25519 {
        return Err(format!("{}: not an Ed25519 public key", path.display()));
    }
    Ok(key)
}

/// The SHA-256 (lower-case hex) of a key's DER public key.
pub fn fingerprint<T: openssl::pkey::HasPublic>(key: &PKey<T>) -> Result<String, String> {
    let der = key
        .public_key_to_der()
        .map_err(|e| format!("cannot encode the public key: {e}"))?;
    Ok(super::manifest::sha256_hex(&der))
}

/// The raw 64-byte Ed25519 signature of `bytes`.
pub fn sign(key: &PKey<Private>, bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut signer = Signer::new_without_digest(key).map_err(|e| format!("cannot sign: {e}"))?;
    signer
        .sign_oneshot_to_vec(bytes)
        .map_err(|e| format!("cannot sign: {e}"))
}

/// Whether `signature` is `key`'s Ed25519 signature of `bytes`.
pub fn verifies(key: &PKey<Public>, bytes: &[u8], signature: &[u8]) -> bool {
    Verifier::new_without_digest(key)
        .and_then(|mut v| v.verify_oneshot(signature, bytes))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_with_its_key_only() {
        let key = PKey::generate_ed25519().unwrap();
        let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
        let other = PKey::generate_ed25519().unwrap();
        let other = PKey::public_key_from_der(&other.public_key_to_der().unwrap()).unwrap();
        let sig = sign(&key, b"manifest").unwrap();
        assert_eq!(sig.len(), 64);
        assert!(verifies(&public, b"manifest", &sig));
        assert!(!verifies(&public, b"manifest!", &sig));
        assert!(!verifies(&other, b"manifest", &sig));
        assert_eq!(fingerprint(&key).unwrap(), fingerprint(&public).unwrap());
    }
}
