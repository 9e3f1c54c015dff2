//! The test PKI: two test root CAs (authentication and signature, like JPKI's) and, per test
//! identity, RSA-2048 keys with X.509 v3 certificates shaped like real JPKI ones.
//!
//! The CAs are named as test CAs and are never a real JPKI CA. Generation happens once, by
//! `kazasu gen-test-pki`, and its output is committed under `sim/data/fixtures/pki/`;
//! this module only computes the files, the caller writes them.

use crate::platform::identity::Identity;
use openssl::asn1::{Asn1Integer, Asn1Object, Asn1OctetString, Asn1Time};
use openssl::bn::BigNum;
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509Extension, X509Name};

/// Organisation of every test CA (where a real one says `JPKI`, J-LIS's own test CAs `JPKI-TEST`).
pub const TEST_ORG: &str = "kazasu-TEST";
/// The second organisational unit of every test CA (where a real one names J-LIS): says plainly
/// that it is not a real JPKI CA.
pub const TEST_OU: &str =
    "NOT A REAL JPKI CA - a kazasu test PKI for testing card reading software";

/// Validity of the test CAs, as UTCTime: RFC 5280 §4.1.2.5 wants UTCTime for dates up to 2049,
/// and a strict verifier that re-encodes the TBS rejects GeneralizedTime there.
const CA_VALIDITY: (&str, &str) = ("250101000000Z", "450101000000Z");
/// Validity of end-entity certificates: longer than the real five years, so that committed
/// fixtures do not expire under the tests.
const EE_VALIDITY: (&str, &str) = ("250401000000Z", "400331235959Z");

/// The OID arc under which JPKI signature certificates carry the holder's facts in
/// SubjectAltName otherName entries: `.1` name, `.4` birth date, `.3` sex, `.5` address, then
/// `.2` and `.6` (placeholders of zeros on a JPKI test card's certificate), in that order.
pub const HOLDER_FACTS_ARC: &str = "1.2.392.200149.8.5.5";

/// Certificate policies of the test certificates: UUID-based OIDs (ITU-T X.667, arc 2.25) of
/// kazasu's own — JPKI's real policy OIDs are not claimed by a test certificate.
pub const TEST_POLICY_SIGN: &str = "2.25.329800735698586629295641978511506172918";
/// The authentication certificates' test policy.
pub const TEST_POLICY_AUTH: &str = "2.25.329800735698586629295641978511506172919";

/// Sizes of real JPKI certificates, DER bytes: production CA certificates 1,301–1,319; a JPKI
/// test card's authentication certificate 1,590 and signature certificate 1,758 (the shapes and
/// sizes of the certificates the myna-card crate ships from a test card). The test PKI stays
/// within 5 % of them (`sim/tests/jpki.rs`).
pub const REAL_CA_SIZES: std::ops::RangeInclusive<usize> = 1301..=1319;
/// A real authentication certificate's size (a JPKI test card's).
pub const REAL_AUTH_SIZE: usize = 1590;
/// A real signature certificate's size (a JPKI test card's).
pub const REAL_SIGN_SIZE: usize = 1758;

/// Minimal DER writing for the extensions openssl's builders do not make.
mod der {
    /// One TLV with a definite length.
    pub fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
        crate::iso7816::tlv::encode(&[tag], value)
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

fn serial(n: u32) -> Result<Asn1Integer, ErrorStack> {
    BigNum::from_u32(n)?.to_asn1_integer()
}

fn extension(oid: &str, critical: bool, value: &[u8]) -> Result<X509Extension, ErrorStack> {
    let oid = Asn1Object::from_str(oid)?;
    let octets = Asn1OctetString::new_from_bytes(value)?;
    X509Extension::new_from_der(&oid, critical, &octets)
}

/// certificatePolicies, critical, with one policy and its CPS URI (RFC 5280 §4.2.1.4), as
/// JPKI user certificates carry it.
fn policies(policy: &str) -> Result<X509Extension, ErrorStack> {
    let cps = der::seq(&[
        der::oid("1.3.6.1.5.5.7.2.1"),
        der::ia5("http://kazasu.invalid/cps.html"),
    ]);
    let info = der::seq(&[der::oid(policy), der::seq(&[cps])]);
    extension("2.5.29.32", true, &der::seq(&[info]))
}

/// A Name (RDNSequence) of (attribute OID, value) pairs, as JPKI certificates encode names:
/// the country (C) as PrintableString, every other attribute (O, OU, L, CN) as UTF8String.
fn dn(entries: &[(&str, &str)]) -> Vec<u8> {
    let rdns: Vec<Vec<u8>> = entries
        .iter()
        .map(|(attr, value)| {
            let v = if *attr == C {
                der::tlv(0x13, value.as_bytes())
            } else {
                der::utf8(value)
            };
            der::tlv(0x31, &der::seq(&[der::oid(attr), v]))
        })
        .collect();
    der::seq(&rdns)
}

const C: &str = "2.5.4.6";
const O: &str = "2.5.4.10";
const OU: &str = "2.5.4.11";
const CN: &str = "2.5.4.3";
const L: &str = "2.5.4.7";

/// The service's name as JPKI certificates write it in their alternative names — C, O, the
/// service for `purpose` (利用者証明用 or 署名用) and the operator as two OUs — marked as a test
/// (the real ones name 公的個人認証サービス and 地方公共団体情報システム機構).
fn service_name(purpose: Purpose) -> Vec<u8> {
    let service = match purpose {
        Purpose::Auth => "利用者証明用（試験）",
        Purpose::Sign => "署名用（試験）",
    };
    dn(&[
        (C, "JP"),
        (O, "kazasu試験用 公的個人認証"),
        (OU, service),
        (OU, "実在しない試験用PKI"),
    ])
}

/// Which JPKI service a CA and its certificates belong to.
#[derive(Clone, Copy)]
enum Purpose {
    /// 利用者証明用.
    Auth,
    /// 署名用.
    Sign,
}

/// Subject (CA) or issuer alternative name: one directoryName.
fn alt_name(oid: &str, purpose: Purpose) -> Result<X509Extension, ErrorStack> {
    extension(
        oid,
        false,
        &der::seq(&[der::tlv(0xA4, &service_name(purpose))]),
    )
}

/// A CRL distribution point named by a directoryName.
fn crl_distribution_point(name: &[u8]) -> Result<X509Extension, ErrorStack> {
    let dp = der::seq(&[der::tlv(0xA0, &der::tlv(0xA0, &der::tlv(0xA4, name)))]);
    extension("2.5.29.31", false, &der::seq(&[dp]))
}

/// The CA's name for `purpose` (`user authentication`, `digital signature`) as (OID, value).
fn ca_name(purpose: &str) -> [(&'static str, String); 4] {
    [
        (C, "JP".into()),
        (O, TEST_ORG.into()),
        (OU, format!("JPKI for {purpose}")),
        (OU, TEST_OU.into()),
    ]
}

fn borrowed<'a>(entries: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    entries.iter().map(|(a, v)| (*a, v.as_str())).collect()
}

/// The holder's facts as JPKI signature certificates carry them: SubjectAltName otherName
/// entries under [`HOLDER_FACTS_ARC`] — name, birth date (the era code of JIS X 0301, 1 明治 to
/// 5 令和, then `YYYYMMDD`), sex, address, and the two zero placeholders a test card shows.
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
    let b = identity.birth_yyyymmdd();
    let (y, m, d) = (
        b[..4].parse().unwrap_or(0),
        b[4..6].parse().unwrap_or(0),
        b[6..].parse().unwrap_or(0),
    );
    let era = crate::platform::identity::era_code(y, m, d);
    let names = der::seq(&[
        other(1, &identity.name),
        other(4, &format!("{era}{b}")),
        other(3, identity.sex.code()),
        other(5, &identity.address),
        other(2, "00000"),
        other(6, "000000000000000000"),
    ]);
    extension("2.5.29.17", false, &names)
}

struct Ca {
    key: PKey<Private>,
    cert: X509,
    name: [(&'static str, String); 4],
    purpose: Purpose,
}

fn new_key() -> Result<PKey<Private>, ErrorStack> {
    PKey::from_rsa(Rsa::generate(2048)?)
}

fn validity(b: &mut X509Builder, (from, to): (&str, &str)) -> Result<(), ErrorStack> {
    let (from, to) = (Asn1Time::from_str(from)?, Asn1Time::from_str(to)?);
    b.set_not_before(&from)?;
    b.set_not_after(&to)
}

fn x509_name(der: &[u8]) -> Result<X509Name, ErrorStack> {
    X509Name::from_der(der)
}

/// A self-signed test CA shaped like a JPKI root: key usage, the service's name as
/// SubjectAltName, basic constraints, a CRL distribution point naming itself, SKI.
fn make_ca(service: Purpose, serial_no: u32) -> Result<Ca, ErrorStack> {
    let key = new_key()?;
    let name = ca_name(match service {
        Purpose::Auth => "user authentication",
        Purpose::Sign => "digital signature",
    });
    let subject_der = dn(&borrowed(&name));
    let subject = x509_name(&subject_der)?;
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    b.set_serial_number(&*serial(serial_no)?)?;
    b.set_subject_name(&subject)?;
    b.set_issuer_name(&subject)?;
    b.set_pubkey(&key)?;
    validity(&mut b, CA_VALIDITY)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()?,
    )?;
    b.append_extension(alt_name("2.5.29.17", service)?)?;
    b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
    b.append_extension(crl_distribution_point(&subject_der)?)?;
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
    b.append_extension(ski)?;
    b.sign(&key, MessageDigest::sha256())?;
    Ok(Ca {
        key,
        cert: b.build(),
        name,
        purpose: service,
    })
}

/// What kind of end-entity certificate.
enum Holder<'a> {
    /// 利用者証明用: names no one; client authentication; OCSP.
    Auth(&'a Identity),
    /// 署名用: the holder's facts in SubjectAltName.
    Sign(&'a Identity),
}

fn make_end_entity(
    ca: &Ca,
    key: &PKey<Private>,
    subject: &X509Name,
    serial_no: u32,
    holder: Holder<'_>,
) -> Result<X509, ErrorStack> {
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    b.set_serial_number(&*serial(serial_no)?)?;
    b.set_subject_name(subject)?;
    b.set_issuer_name(ca.cert.subject_name())?;
    b.set_pubkey(key)?;
    validity(&mut b, EE_VALIDITY)?;
    let identity = match holder {
        Holder::Auth(i) | Holder::Sign(i) => i,
    };
    let mut usage = KeyUsage::new();
    usage.critical().digital_signature();
    if matches!(holder, Holder::Sign(_)) {
        usage.non_repudiation();
    }
    b.append_extension(usage.build()?)?;
    match holder {
        Holder::Auth(_) => {
            b.append_extension(ExtendedKeyUsage::new().client_auth().build()?)?;
            b.append_extension(policies(TEST_POLICY_AUTH)?)?;
        }
        Holder::Sign(_) => {
            b.append_extension(holder_facts(identity)?)?;
            b.append_extension(policies(TEST_POLICY_SIGN)?)?;
        }
    }
    b.append_extension(alt_name("2.5.29.18", ca.purpose)?)?;
    // The CRL distribution point of the holder's municipality, as JPKI names it.
    let mut crldp: Vec<(&str, String)> = ca.name[..3].to_vec();
    crldp.push((OU, "CRL Distribution Points".into()));
    let (prefecture, city) = match identity.locality.as_slice() {
        [p, c, ..] => (p.clone(), c.clone()),
        [p] => (p.clone(), p.clone()),
        [] => ("Tokyo-to".into(), "Chiyoda-ku".into()),
    };
    crldp.push((OU, prefecture));
    crldp.push((CN, format!("{city} CRLDP")));
    b.append_extension(crl_distribution_point(&dn(&borrowed(&crldp)))?)?;
    if let Holder::Auth(_) = holder {
        let aia = der::seq(&[
            der::oid("1.3.6.1.5.5.7.48.1"),
            der::tlv(0x86, b"http://test-ocsp-userauthentication.kazasu.invalid"),
        ]);
        b.append_extension(extension("1.3.6.1.5.5.7.1.1", false, &der::seq(&[aia]))?)?;
    }
    let aki = AuthorityKeyIdentifier::new()
        .keyid(true)
        .issuer(true)
        .build(&b.x509v3_context(Some(&ca.cert), None))?;
    b.append_extension(aki)?;
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(Some(&ca.cert), None))?;
    b.append_extension(ski)?;
    b.sign(&ca.key, MessageDigest::sha256())?;
    Ok(b.build())
}

/// A file of the generated PKI: its path relative to `sim/data/fixtures/` and its contents.
pub struct GeneratedFile {
    /// Relative path, e.g. `pki/yamada-taro/auth.pem`.
    pub path: String,
    /// PEM text.
    pub contents: Vec<u8>,
}

/// Generates the two test CAs, the card-info AP's test issuer key, the MF chain's two shared keys
/// and the card-face AP's CA stand-in and, for every identity, the authentication and signature
/// keys and certificates of its card, its Android phone and its iPhone, its card-info AP key and
/// signer, its 共通カードAP key, its municipality's MF chain key, and its card-face AP key and
/// signer. Real JPKI
/// authentication certificates carry no personal data, so their subject is a serial-like name;
/// the signature certificate names the holder's locality (romanised) and carries the holder's
/// facts in SubjectAltName.
pub fn generate(identities: &[Identity]) -> Result<Vec<GeneratedFile>, ErrorStack> {
    let auth_ca = make_ca(Purpose::Auth, 1)?;
    let sign_ca = make_ca(Purpose::Sign, 2)?;
    let issuer = new_key()?;
    let card_face_ca = new_key()?;
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
        GeneratedFile {
            path: "pki/card-face-ca.key.pem".into(),
            contents: card_face_ca.private_key_to_pem_pkcs8()?,
        },
        GeneratedFile {
            path: "pki/card-face-ca.pub.pem".into(),
            contents: card_face_ca.public_key_to_pem()?,
        },
        GeneratedFile {
            path: "pki/mf-root.key.pem".into(),
            contents: new_key()?.private_key_to_pem_pkcs8()?,
        },
        GeneratedFile {
            path: "pki/mf-0000050.key.pem".into(),
            contents: new_key()?.private_key_to_pem_pkcs8()?,
        },
    ];
    for (i, identity) in identities.iter().enumerate() {
        let id = &identity.id;
        // The card's and each phone's own key pairs and certificates (a phone's スマホ用電子証明書
        // is issued apart from the card's, by the same CAs): serials n, n + 1 for the card,
        // n + 2, n + 3 for Android, n + 4, n + 5 for iPhone.
        let n = 1000 + 6 * i as u32;
        for (k, prefix) in ["", "android-", "iphone-"].into_iter().enumerate() {
            let n = n + 2 * k as u32;
            let auth_key = new_key()?;
            let auth_subject =
                x509_name(&dn(&[(C, "JP"), (CN, &format!("9999KAZASUTEST{n:08}A"))]))?;
            let auth_cert = make_end_entity(
                &auth_ca,
                &auth_key,
                &auth_subject,
                n,
                Holder::Auth(identity),
            )?;
            let sign_key = new_key()?;
            let mut sign_rdns = vec![(C, "JP")];
            for locality in &identity.locality {
                sign_rdns.push((L, locality.as_str()));
            }
            let cn = format!("202504019999KAZASU{:09}S", n + 1);
            sign_rdns.push((CN, &cn));
            let sign_subject = x509_name(&dn(&sign_rdns))?;
            let sign_cert = make_end_entity(
                &sign_ca,
                &sign_key,
                &sign_subject,
                n + 1,
                Holder::Sign(identity),
            )?;
            for (file, contents) in [
                ("auth.pem", auth_cert.to_pem()?),
                ("auth.key.pem", auth_key.private_key_to_pem_pkcs8()?),
                ("sign.pem", sign_cert.to_pem()?),
                ("sign.key.pem", sign_key.private_key_to_pem_pkcs8()?),
            ] {
                files.push(GeneratedFile {
                    path: format!("pki/{id}/{prefix}{file}"),
                    contents,
                });
            }
        }
        for file in [
            "card-info.key.pem",
            "card-info-signer.key.pem",
            "common.key.pem",
            "mf.key.pem",
            "card-face.key.pem",
            "card-face-signer.key.pem",
        ] {
            files.push(GeneratedFile {
                path: format!("pki/{id}/{file}"),
                contents: new_key()?.private_key_to_pem_pkcs8()?,
            });
        }
    }
    Ok(files)
}
