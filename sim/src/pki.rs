//! The test PKI: two test root CAs (authentication and signature, like JPKI's) and, per test
//! identity, RSA-2048 keys with X.509 v3 certificates shaped like real JPKI ones.
//!
//! The CAs are named as test CAs and are never a real JPKI CA. Generation happens once, by
//! `kazasu gen-test-pki`, and its output is committed under `scenarios/fixtures/pki/`;
//! this module only computes the files, the caller writes them.

use crate::identity::Identity;
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509Name, X509NameBuilder};

/// Organisation name in every test certificate: says plainly that it is not a real JPKI CA.
pub const TEST_ORG: &str = "kazasu TEST PKI - NOT A REAL JPKI CA";

/// Validity of the test CAs.
const CA_VALIDITY: (&str, &str) = ("20250101000000Z", "20450101000000Z");
/// Validity of end-entity certificates: longer than the real five years, so that committed
/// fixtures do not expire under the tests.
const EE_VALIDITY: (&str, &str) = ("20250401000000Z", "20400331235959Z");

fn name(entries: &[(Nid, &str)]) -> Result<X509Name, ErrorStack> {
    let mut b = X509NameBuilder::new()?;
    for (nid, value) in entries {
        b.append_entry_by_nid_with_type(*nid, value, openssl::asn1::Asn1Type::UTF8STRING)?;
    }
    Ok(b.build())
}

fn serial(n: u32) -> Result<Asn1Integer, ErrorStack> {
    BigNum::from_u32(n)?.to_asn1_integer()
}

struct Ca {
    key: PKey<Private>,
    cert: X509,
}

fn new_key() -> Result<PKey<Private>, ErrorStack> {
    PKey::from_rsa(Rsa::generate(2048)?)
}

fn make_ca(common_name: &str, serial_no: u32) -> Result<Ca, ErrorStack> {
    let key = new_key()?;
    let subject = name(&[
        (Nid::COUNTRYNAME, "JP"),
        (Nid::ORGANIZATIONNAME, TEST_ORG),
        (Nid::COMMONNAME, common_name),
    ])?;
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let sn = serial(serial_no)?;
    b.set_serial_number(&sn)?;
    b.set_subject_name(&subject)?;
    b.set_issuer_name(&subject)?;
    b.set_pubkey(&key)?;
    let (from, to) = (
        Asn1Time::from_str(CA_VALIDITY.0)?,
        Asn1Time::from_str(CA_VALIDITY.1)?,
    );
    b.set_not_before(&from)?;
    b.set_not_after(&to)?;
    b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()?,
    )?;
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
    b.append_extension(ski)?;
    b.sign(&key, MessageDigest::sha256())?;
    Ok(Ca {
        key,
        cert: b.build(),
    })
}

fn make_end_entity(
    ca: &Ca,
    key: &PKey<Private>,
    subject: &X509Name,
    serial_no: u32,
    signature_cert: bool,
) -> Result<X509, ErrorStack> {
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let sn = serial(serial_no)?;
    b.set_serial_number(&sn)?;
    b.set_subject_name(subject)?;
    b.set_issuer_name(ca.cert.subject_name())?;
    b.set_pubkey(key)?;
    let (from, to) = (
        Asn1Time::from_str(EE_VALIDITY.0)?,
        Asn1Time::from_str(EE_VALIDITY.1)?,
    );
    b.set_not_before(&from)?;
    b.set_not_after(&to)?;
    let mut usage = KeyUsage::new();
    usage.critical().digital_signature();
    if signature_cert {
        usage.non_repudiation();
    }
    b.append_extension(usage.build()?)?;
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(Some(&ca.cert), None))?;
    b.append_extension(ski)?;
    let aki = AuthorityKeyIdentifier::new()
        .keyid(true)
        .build(&b.x509v3_context(Some(&ca.cert), None))?;
    b.append_extension(aki)?;
    b.sign(&ca.key, MessageDigest::sha256())?;
    Ok(b.build())
}

/// A file of the generated PKI: its path relative to `scenarios/fixtures/` and its contents.
pub struct GeneratedFile {
    /// Relative path, e.g. `pki/yamada-taro/auth.pem`.
    pub path: String,
    /// PEM text.
    pub contents: Vec<u8>,
}

/// Generates the two test CAs and, for every identity, its authentication and signature keys and
/// certificates. Real JPKI authentication certificates carry no personal data, so the subject is
/// a serial-like name; the signature certificate names the person.
pub fn generate(identities: &[Identity]) -> Result<Vec<GeneratedFile>, ErrorStack> {
    let auth_ca = make_ca("kazasu TEST JPKI User Authentication CA", 1)?;
    let sign_ca = make_ca("kazasu TEST JPKI Digital Signature CA", 2)?;
    let mut files = vec![
        GeneratedFile {
            path: "pki/auth-ca.pem".into(),
            contents: auth_ca.cert.to_pem()?,
        },
        GeneratedFile {
            path: "pki/auth-ca.key.pem".into(),
            contents: auth_ca.key.private_key_to_pem_pkcs8()?,
        },
        GeneratedFile {
            path: "pki/sign-ca.pem".into(),
            contents: sign_ca.cert.to_pem()?,
        },
        GeneratedFile {
            path: "pki/sign-ca.key.pem".into(),
            contents: sign_ca.key.private_key_to_pem_pkcs8()?,
        },
    ];
    for (i, identity) in identities.iter().enumerate() {
        let id = &identity.id;
        let n = 1000 + 2 * i as u32;
        let auth_key = new_key()?;
        let auth_subject = name(&[
            (Nid::COUNTRYNAME, "JP"),
            (Nid::COMMONNAME, &format!("TEST{n:08}A")),
        ])?;
        let auth_cert = make_end_entity(&auth_ca, &auth_key, &auth_subject, n, false)?;
        let sign_key = new_key()?;
        let sign_subject = name(&[
            (Nid::COUNTRYNAME, "JP"),
            (Nid::LOCALITYNAME, &identity.address),
            (Nid::COMMONNAME, &identity.name),
        ])?;
        let sign_cert = make_end_entity(&sign_ca, &sign_key, &sign_subject, n + 1, true)?;
        for (file, contents) in [
            ("auth.pem", auth_cert.to_pem()?),
            ("auth.key.pem", auth_key.private_key_to_pem_pkcs8()?),
            ("sign.pem", sign_cert.to_pem()?),
            ("sign.key.pem", sign_key.private_key_to_pem_pkcs8()?),
        ] {
            files.push(GeneratedFile {
                path: format!("pki/{id}/{file}"),
                contents,
            });
        }
    }
    Ok(files)
}
