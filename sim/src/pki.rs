//! The test PKI: two test root CAs (authentication and signature, like JPKI's) and, per test
//! identity, RSA-2048 keys with X.509 v3 certificates shaped like real JPKI ones.
//!
//! The CAs are named as test CAs and are never a real JPKI CA. Generation happens once, by
//! `kazasu gen-test-pki`, and its output is committed under `scenarios/fixtures/pki/`;
//! this module only computes the files, the caller writes them.

use crate::identity::Identity;
use openssl::asn1::{Asn1Integer, Asn1Object, Asn1OctetString, Asn1Time};
use openssl::bn::BigNum;
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509Extension, X509Name, X509NameBuilder};

/// Organisation name in every test certificate: says plainly that it is not a real JPKI CA.
pub const TEST_ORG: &str = "kazasu TEST PKI - NOT A REAL JPKI CA";

/// Validity of the test CAs, as UTCTime: RFC 5280 §4.1.2.5 wants UTCTime for dates up to 2049,
/// and a strict verifier that re-encodes the TBS rejects GeneralizedTime there.
const CA_VALIDITY: (&str, &str) = ("250101000000Z", "450101000000Z");
/// Validity of end-entity certificates: longer than the real five years, so that committed
/// fixtures do not expire under the tests.
const EE_VALIDITY: (&str, &str) = ("250401000000Z", "400331235959Z");

/// The OID arc under which JPKI signature certificates carry the holder's facts in
/// SubjectAltName otherName entries: `.1` name, `.3` sex, `.4` birth date, `.5` address.
pub const HOLDER_FACTS_ARC: &str = "1.2.392.200149.8.5.5";

/// Certificate policies of the test certificates: UUID-based OIDs (ITU-T X.667, arc 2.25) of
/// kazasu's own — JPKI's real policy OIDs are not claimed by a test certificate.
pub const TEST_POLICY_SIGN: &str = "2.25.329800735698586629295641978511506172918";
/// The authentication certificates' test policy.
pub const TEST_POLICY_AUTH: &str = "2.25.329800735698586629295641978511506172919";
/// The test CAs' policy.
pub const TEST_POLICY_CA: &str = "2.25.329800735698586629295641978511506172920";

/// A real JPKI CA certificate is 1,301–1,319 bytes DER; the test CAs land inside that range.
pub const CA_SIZE_RANGE: std::ops::RangeInclusive<usize> = 1301..=1319;

/// Minimal DER writing for the extensions openssl's builders do not make.
mod der {
    /// One TLV with a definite length.
    pub fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
        crate::tlv::encode(&[tag], value)
    }
    pub fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
        tlv(0x30, &parts.concat())
    }
    pub fn oid(dotted: &str) -> Vec<u8> {
        let arcs: Vec<u128> = dotted
            .split('.')
            .map(|a| a.parse().expect("OID arc"))
            .collect();
        let mut body = vec![(arcs[0] * 40 + arcs[1]) as u8];
        for &arc in &arcs[2..] {
            let mut bytes = vec![(arc & 0x7F) as u8];
            let mut rest = arc >> 7;
            while rest > 0 {
                bytes.push(0x80 | (rest & 0x7F) as u8);
                rest >>= 7;
            }
            bytes.reverse();
            body.extend(bytes);
        }
        tlv(0x06, &body)
    }
    pub fn utf8(text: &str) -> Vec<u8> {
        tlv(0x0C, text.as_bytes())
    }
    pub fn ia5(text: &str) -> Vec<u8> {
        tlv(0x16, text.as_bytes())
    }
}

fn name(entries: &[(Nid, &str)]) -> Result<X509Name, ErrorStack> {
    let mut b = X509NameBuilder::new()?;
    for (nid, value) in entries {
        let ty = if value.is_ascii() {
            openssl::asn1::Asn1Type::PRINTABLESTRING
        } else {
            openssl::asn1::Asn1Type::UTF8STRING
        };
        b.append_entry_by_nid_with_type(*nid, value, ty)?;
    }
    Ok(b.build())
}

fn serial(n: u32) -> Result<Asn1Integer, ErrorStack> {
    BigNum::from_u32(n)?.to_asn1_integer()
}

fn extension(oid: &str, critical: bool, value: &[u8]) -> Result<X509Extension, ErrorStack> {
    let oid = Asn1Object::from_str(oid)?;
    let octets = Asn1OctetString::new_from_bytes(value)?;
    X509Extension::new_from_der(&oid, critical, &octets)
}

/// certificatePolicies with one policy, its CPS URI and a user notice (RFC 5280 §4.2.1.4).
fn policies(policy: &str, notice: &str) -> Result<X509Extension, ErrorStack> {
    let cps = der::seq(&[
        der::oid("1.3.6.1.5.5.7.2.1"),
        der::ia5("http://kazasu.invalid/cps"),
    ]);
    let user_notice = der::seq(&[
        der::oid("1.3.6.1.5.5.7.2.2"),
        der::seq(&[der::utf8(notice)]),
    ]);
    let info = der::seq(&[der::oid(policy), der::seq(&[cps, user_notice])]);
    extension("2.5.29.32", false, &der::seq(&[info]))
}

/// A GeneralNames with one directoryName naming the test issuer in Japanese and English.
fn issuer_alt_name(oid: &str) -> Result<X509Extension, ErrorStack> {
    let rdn = |attr: &str, value: Vec<u8>| der::tlv(0x31, &der::seq(&[der::oid(attr), value]));
    let dn = der::seq(&[
        rdn("2.5.4.6", der::tlv(0x13, b"JP")),
        rdn(
            "2.5.4.10",
            der::utf8("試験用 地方公共団体情報システム機構（kazasu、実在しない）"),
        ),
    ]);
    extension(oid, false, &der::seq(&[der::tlv(0xA4, &dn)]))
}

/// CRL distribution point and OCSP access (in `.invalid`, never resolvable).
fn revocation_pointers(kind: &str) -> Result<[X509Extension; 2], ErrorStack> {
    let uri = |u: &str| der::tlv(0x86, u.as_bytes());
    let dp = der::seq(&[der::tlv(
        0xA0,
        &der::tlv(0xA0, &uri(&format!("http://kazasu.invalid/crl/{kind}.crl"))),
    )]);
    let aia = der::seq(&[
        der::oid("1.3.6.1.5.5.7.48.1"),
        uri("http://kazasu.invalid/ocsp"),
    ]);
    Ok([
        extension("2.5.29.31", false, &der::seq(&[dp]))?,
        extension("1.3.6.1.5.5.7.1.1", false, &der::seq(&[aia]))?,
    ])
}

/// The holder's facts as JPKI signature certificates carry them: SubjectAltName otherName
/// entries under [`HOLDER_FACTS_ARC`] — name, sex, birth date (`E` + `YYYYMMDD`), address.
fn holder_facts(identity: &Identity) -> Result<X509Extension, ErrorStack> {
    let other = |arc: u8, value: &str| {
        der::tlv(
            0xA0,
            &[
                der::oid(&format!("{HOLDER_FACTS_ARC}.{arc}")),
                der::tlv(0xA0, &der::utf8(value)),
            ]
            .concat(),
        )
    };
    let names = der::seq(&[
        other(1, &identity.name),
        other(3, identity.sex.code()),
        other(4, &format!("E{}", identity.birth_yyyymmdd())),
        other(5, &identity.address),
    ]);
    extension("2.5.29.17", false, &names)
}

struct Ca {
    key: PKey<Private>,
    cert: X509,
}

fn new_key() -> Result<PKey<Private>, ErrorStack> {
    PKey::from_rsa(Rsa::generate(2048)?)
}

fn validity(b: &mut X509Builder, (from, to): (&str, &str)) -> Result<(), ErrorStack> {
    let (from, to) = (Asn1Time::from_str(from)?, Asn1Time::from_str(to)?);
    b.set_not_before(&from)?;
    b.set_not_after(&to)
}

fn ca_cert(
    key: &PKey<Private>,
    purpose: &str,
    serial_no: u32,
    notice: &str,
) -> Result<X509, ErrorStack> {
    let subject = name(&[
        (Nid::COUNTRYNAME, "JP"),
        (Nid::ORGANIZATIONNAME, TEST_ORG),
        (
            Nid::ORGANIZATIONALUNITNAME,
            &format!("kazasu TEST JPKI for {purpose}"),
        ),
    ])?;
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    b.set_serial_number(&*serial(serial_no)?)?;
    b.set_subject_name(&subject)?;
    b.set_issuer_name(&subject)?;
    b.set_pubkey(key)?;
    validity(&mut b, CA_VALIDITY)?;
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
    b.append_extension(policies(TEST_POLICY_CA, notice)?)?;
    b.append_extension(issuer_alt_name("2.5.29.18")?)?;
    b.sign(key, MessageDigest::sha256())?;
    Ok(b.build())
}

/// A self-signed test CA whose DER size lands in [`CA_SIZE_RANGE`]: the user notice is padded.
fn make_ca(purpose: &str, serial_no: u32) -> Result<Ca, ErrorStack> {
    let key = new_key()?;
    let base = "kazasu test CA; not JPKI.";
    let target = (CA_SIZE_RANGE.start() + CA_SIZE_RANGE.end()) / 2;
    let mut padding = 0usize;
    for _ in 0..16 {
        let notice = format!("{base}{}", ".".repeat(padding));
        let cert = ca_cert(&key, purpose, serial_no, &notice)?;
        let len = cert.to_der()?.len();
        if CA_SIZE_RANGE.contains(&len) {
            return Ok(Ca { key, cert });
        }
        padding = (padding + target).saturating_sub(len);
    }
    // The shape itself outgrew the range: keep the certificate, the size test says so.
    let cert = ca_cert(&key, purpose, serial_no, base)?;
    Ok(Ca { key, cert })
}

fn make_end_entity(
    ca: &Ca,
    key: &PKey<Private>,
    subject: &X509Name,
    serial_no: u32,
    holder: Option<&Identity>,
) -> Result<X509, ErrorStack> {
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    b.set_serial_number(&*serial(serial_no)?)?;
    b.set_subject_name(subject)?;
    b.set_issuer_name(ca.cert.subject_name())?;
    b.set_pubkey(key)?;
    validity(&mut b, EE_VALIDITY)?;
    let mut usage = KeyUsage::new();
    usage.critical().digital_signature();
    if holder.is_some() {
        usage.non_repudiation();
    }
    b.append_extension(usage.build()?)?;
    let (policy, kind) = match holder {
        Some(_) => (TEST_POLICY_SIGN, "sign"),
        None => (TEST_POLICY_AUTH, "auth"),
    };
    b.append_extension(policies(
        policy,
        "kazasu test certificate; identifies no one.",
    )?)?;
    if let Some(identity) = holder {
        b.append_extension(holder_facts(identity)?)?;
    }
    b.append_extension(issuer_alt_name("2.5.29.18")?)?;
    for ext in revocation_pointers(kind)? {
        b.append_extension(ext)?;
    }
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

/// Generates the two test CAs, the card-info AP's test issuer key and, for every identity, its
/// authentication and signature keys and certificates and its card-info AP key. Real JPKI
/// authentication certificates carry no personal data, so their subject is a serial-like name;
/// the signature certificate names the holder's locality (romanised) and carries the holder's
/// facts in SubjectAltName.
pub fn generate(identities: &[Identity]) -> Result<Vec<GeneratedFile>, ErrorStack> {
    let auth_ca = make_ca("user authentication", 1)?;
    let sign_ca = make_ca("digital signature", 2)?;
    let issuer = new_key()?;
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
        GeneratedFile {
            path: "pki/card-info-issuer.key.pem".into(),
            contents: issuer.private_key_to_pem_pkcs8()?,
        },
        GeneratedFile {
            path: "pki/card-info-issuer.pub.pem".into(),
            contents: issuer.public_key_to_pem()?,
        },
    ];
    for (i, identity) in identities.iter().enumerate() {
        let id = &identity.id;
        let n = 1000 + 2 * i as u32;
        let auth_key = new_key()?;
        let auth_subject = name(&[
            (Nid::COUNTRYNAME, "JP"),
            (Nid::COMMONNAME, &format!("9999KAZASUTEST{n:08}A")),
        ])?;
        let auth_cert = make_end_entity(&auth_ca, &auth_key, &auth_subject, n, None)?;
        let sign_key = new_key()?;
        let mut sign_rdns = vec![(Nid::COUNTRYNAME, "JP")];
        for locality in &identity.locality {
            sign_rdns.push((Nid::LOCALITYNAME, locality.as_str()));
        }
        let cn = format!("9999KAZASUTEST{:08}S", n + 1);
        sign_rdns.push((Nid::COMMONNAME, &cn));
        let sign_subject = name(&sign_rdns)?;
        let sign_cert = make_end_entity(&sign_ca, &sign_key, &sign_subject, n + 1, Some(identity))?;
        let card_info_key = new_key()?;
        for (file, contents) in [
            ("auth.pem", auth_cert.to_pem()?),
            ("auth.key.pem", auth_key.private_key_to_pem_pkcs8()?),
            ("sign.pem", sign_cert.to_pem()?),
            ("sign.key.pem", sign_key.private_key_to_pem_pkcs8()?),
            (
                "card-info.key.pem",
                card_info_key.private_key_to_pem_pkcs8()?,
            ),
        ] {
            files.push(GeneratedFile {
                path: format!("pki/{id}/{file}"),
                contents,
            });
        }
    }
    Ok(files)
}
