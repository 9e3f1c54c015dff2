//! Commissioning: the onboarding ends with the bought reader's first read — the smartphone
//! eligibility-check flow, with the ordered product's reader profile and a virtual Android phone,
//! its signature checked against its certificate.

use crate::flows::{self, Host, ReadMode};
use kazasu_sim::profile::Device;
use kazasu_sim::{Card, FaultPlan, Fixtures, Reader};
use rand_core::SeedableRng;
use std::sync::Arc;

/// Reads a virtual Android phone through `reader_profile`; `Ok` describes the read, `Err` says
/// why it failed.
pub fn first_read(reader_profile: &str, seed: u64) -> Result<String, String> {
    let reader = Arc::new(crate::suite::reader_profile(reader_profile, None)?);
    let phone = Arc::new(crate::suite::card_profile("android-jpki", None)?);
    let fixtures = Fixtures::embedded();
    let subject = fixtures.default_subject();
    let pin = subject.identity.pins.auth.clone();
    let card = Card::new(phone, subject, seed).map_err(|e| e.to_string())?;
    let mut r = Reader::new(
        reader,
        card,
        FaultPlan::none(rand_chacha::ChaCha8Rng::seed_from_u64(seed)),
    );
    let start = r.now();
    r.tap()
        .map_err(|e| format!("the phone was not detected: {e}"))?;
    let mut host = Host::new(&mut r);
    let out = flows::jpki_auth_flow(
        &mut host,
        Device::Android,
        &pin,
        b"commissioning",
        ReadMode::Chunked,
    )
    .map_err(|e| format!("the first read failed: {e}"))?;
    let cert = openssl::x509::X509::from_der(&out.certificate)
        .map_err(|e| format!("the phone's certificate is not X.509: {e}"))?;
    let key = cert.public_key().map_err(|e| e.to_string())?;
    let rsa = key.rsa().map_err(|e| e.to_string())?;
    let mut recovered = vec![0u8; rsa.size() as usize];
    let n = rsa
        .public_decrypt(&out.signature, &mut recovered, openssl::rsa::Padding::PKCS1)
        .map_err(|_| "the phone's signature does not verify with its certificate".to_string())?;
    if recovered[..n] != out.digest_info[..] {
        return Err("the phone's signature is over other data".into());
    }
    let took = r.now().since(start);
    Ok(format!(
        "an Android phone was read through {reader_profile} in {took} (simulated): certificate read, RSA-2048 signature verified"
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_builtin_reader_reads_a_phone() {
        for (name, _) in kazasu_sim::reader_profile::BUILTIN_READER_PROFILES {
            let d = super::first_read(name, 1).unwrap();
            assert!(d.contains("signature verified"), "{d}");
        }
        assert!(super::first_read("no-such-reader", 1).is_err());
    }
}
