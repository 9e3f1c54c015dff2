//! Signing a bundle: an Ed25519 signature over manifest.json's bytes, with keys as
//! `openssl genpkey -algorithm ed25519` writes them (PKCS#8 PEM), so that anyone can check a
//! bundle with openssl alone:
//! `openssl pkeyutl -verify -pubin -inkey PUB.pem -rawin -in manifest.json -sigfile manifest.json.sig`.
//! The manifest names the key by the SHA-256 of its DER public key
//! (`openssl pkey -pubin -in PUB.pem -outform DER | sha256sum`).

use crate::files::FileError;
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::sign::{Signer, Verifier};
use std::path::{Path, PathBuf};

/// A signing key that cannot be used, or a signature that cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file.
    #[error(transparent)]
    Read(#[from] FileError),
    /// Not a PEM private key.
    #[error(
        "{}: not a PEM private key; make one with `openssl genpkey -algorithm ed25519 -out {}`",
        .0.display(),
        .0.display()
    )]
    NotPrivate(PathBuf),
    /// Not a PEM public key.
    #[error(
        "{}: not a PEM public key; write it with `openssl pkey -in KEY.pem -pubout -out {}`",
        .0.display(),
        .0.display()
    )]
    NotPublic(PathBuf),
    /// A private key of another algorithm.
    #[error(
        "{}: not an Ed25519 key; kazasu signs bundles with Ed25519 (`openssl genpkey -algorithm ed25519`)",
        .0.display()
    )]
    PrivateNotEd25519(PathBuf),
    /// A public key of another algorithm.
    #[error("{}: not an Ed25519 public key", .0.display())]
    PublicNotEd25519(PathBuf),
    /// openssl could not encode the key or sign.
    #[error("cannot {doing}: {source}")]
    Openssl {
        /// `sign`, `encode the public key`.
        doing: &'static str,
        /// openssl's reason.
        source: openssl::error::ErrorStack,
    },
}

/// An Ed25519 private key, read from a PEM file.
pub fn private_key(path: &Path) -> Result<PKey<Private>, KeyError> {
    let pem = crate::files::read_bounded(path, 64 << 10)?;
    let key =
        PKey::private_key_from_pem(&pem).map_err(|_| KeyError::NotPrivate(path.to_path_buf()))?;
    if key.id() != Id::ED25519 {
        return Err(KeyError::PrivateNotEd25519(path.to_path_buf()));
    }
    Ok(key)
}

/// An Ed25519 public key, read from a PEM file (`openssl pkey -in KEY.pem -pubout`).
pub fn public_key(path: &Path) -> Result<PKey<Public>, KeyError> {
    let pem = crate::files::read_bounded(path, 64 << 10)?;
    let key =
        PKey::public_key_from_pem(&pem).map_err(|_| KeyError::NotPublic(path.to_path_buf()))?;
    if key.id() != Id::ED25519 {
        return Err(KeyError::PublicNotEd25519(path.to_path_buf()));
    }
    Ok(key)
}

/// openssl's failure at `doing`.
fn openssl(doing: &'static str) -> impl FnOnce(openssl::error::ErrorStack) -> KeyError {
    move |source| KeyError::Openssl { doing, source }
}

/// The SHA-256 (lower-case hex) of a key's DER public key.
pub fn fingerprint<T: openssl::pkey::HasPublic>(key: &PKey<T>) -> Result<String, KeyError> {
    let der = key
        .public_key_to_der()
        .map_err(openssl("encode the public key"))?;
    Ok(super::manifest::sha256_hex(&der))
}

/// The raw 64-byte Ed25519 signature of `bytes`.
pub fn sign(key: &PKey<Private>, bytes: &[u8]) -> Result<Vec<u8>, KeyError> {
    let mut signer = Signer::new_without_digest(key).map_err(openssl("sign"))?;
    signer.sign_oneshot_to_vec(bytes).map_err(openssl("sign"))
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
