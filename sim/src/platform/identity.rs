//! Test identities: synthetic people with My Numbers, PINs and JPKI keys and certificates.
//!
//! The committed fixtures under `sim/data/fixtures/` are embedded in the binary;
//! [`Fixtures::from_files`] loads another set from files a caller has read.

use crate::platform::my_number;
use crate::secret::Secret;
use openssl::pkey::Private;
use openssl::rsa::Rsa;
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// Sex as the card's basic four facts record it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    /// 1
    Male,
    /// 2
    Female,
    /// 9 (not applicable)
    Other,
}

impl Sex {
    /// The ISO/IEC 5218 digit the card stores.
    pub fn code(self) -> &'static str {
        match self {
            Sex::Male => "1",
            Sex::Female => "2",
            Sex::Other => "9",
        }
    }
}

/// The PINs of an identity.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pins {
    /// 利用者証明用 PIN: 4 digits.
    pub auth: Secret<String>,
    /// 署名用 PIN: 6–16 upper-case letters and digits.
    pub sign: Secret<String>,
    /// 券面事項入力補助用 PIN: 4 digits.
    pub card_info: Secret<String>,
    /// The 住基AP's PIN (EF 001C): 4 digits; the card-info PIN when not given (municipal
    /// counters usually set the 4-digit PINs to one value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub juki: Option<Secret<String>>,
    /// The 共通カードAP's PIN (EF 001C): 4 digits; the card-info PIN when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common: Option<Secret<String>>,
}

impl Pins {
    /// The 住基AP's PIN.
    pub fn juki(&self) -> &Secret<String> {
        self.juki.as_ref().unwrap_or(&self.card_info)
    }
    /// The 共通カードAP's PIN.
    pub fn common(&self) -> &Secret<String> {
        self.common.as_ref().unwrap_or(&self.card_info)
    }
}

/// The Japanese era (元号) of a date and its year in that era: 令和 from 2019-05-01, 平成 from
/// 1989-01-08, 昭和 from 1926-12-25, 大正 from 1912-07-30, 明治 before.
pub fn era_year(year: u16, month: u8, day: u8) -> (&'static str, u16) {
    const ERAS: [(&str, (u16, u8, u8)); 4] = [
        ("令和", (2019, 5, 1)),
        ("平成", (1989, 1, 8)),
        ("昭和", (1926, 12, 25)),
        ("大正", (1912, 7, 30)),
    ];
    for (name, start) in ERAS {
        if (year, month, day) >= start {
            return (name, year - start.0 + 1);
        }
    }
    ("明治", year.saturating_sub(1867))
}

/// The era code of JIS X 0301 for a date: 1 明治, 2 大正, 3 昭和, 4 平成, 5 令和 (JPKI signature
/// certificates write a birth date as this digit then `YYYYMMDD`).
pub fn era_code(year: u16, month: u8, day: u8) -> u8 {
    match era_year(year, month, day).0 {
        "令和" => 5,
        "平成" => 4,
        "昭和" => 3,
        "大正" => 2,
        _ => 1,
    }
}

/// A synthetic person.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// A short id used in scenarios (`yamada-taro`).
    pub id: String,
    /// Name as on the card.
    pub name: String,
    /// Birth date `YYYY-MM-DD`.
    pub birth_date: String,
    /// Sex.
    pub sex: Sex,
    /// Address as on the card (full-width digits, as real cards write them).
    pub address: String,
    /// The address's prefecture and municipality romanised (`[Tokyo-to, Chiyoda-ku]`): the
    /// signature certificate's subject localities.
    #[serde(default)]
    pub locality: Vec<String>,
    /// The 12-digit My Number (passes the check digit).
    pub my_number: Secret<String>,
    /// The year the card expires (part of 照合番号B); the card expires on the holder's birthday
    /// of that year.
    pub card_expiry_year: u16,
    /// The 5-digit local government code (地方公共団体コード without its check digit) of the
    /// municipality that issued the card: the 共通カードAP's record, MF object 00F0 and the
    /// card-info AP's certificate subject carry it.
    pub municipality_code: String,
    /// The card's 15-digit serial number, as the 共通カードAP's record and MF object 0045 carry it.
    pub card_serial: String,
    /// The 4-digit security code (part of 照合番号B).
    pub security_code: Secret<String>,
    /// PINs.
    pub pins: Pins,
}

impl Identity {
    /// Birth date as `YYYYMMDD`.
    pub fn birth_yyyymmdd(&self) -> String {
        self.birth_date.replace('-', "")
    }

    /// The card's expiry date `YYYYMMDD`: the holder's birthday in `card_expiry_year` (28
    /// February for a 29 February birthday in a common year).
    pub fn card_expiry_yyyymmdd(&self) -> String {
        let b = self.birth_yyyymmdd();
        let year = self.card_expiry_year;
        let leap =
            year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
        let month_day = match b.get(4..) {
            Some("0229") if !leap => "0228",
            Some(md) => md,
            None => "0101",
        };
        format!("{year:04}{month_day}")
    }

    /// The birth date with its **Japanese-era** year, `YYMMDD` (1980-02-17 is 昭和55: `550217`):
    /// the 券面事項確認AP's birth-date key and the start of 照合番号B.
    pub fn birth_era_yymmdd(&self) -> Secret<String> {
        let b = self.birth_yyyymmdd();
        let (year, month, day) = (
            b[..4].parse::<u16>().unwrap_or(0),
            b[4..6].parse::<u8>().unwrap_or(0),
            b[6..].parse::<u8>().unwrap_or(0),
        );
        let (_, era_year) = era_year(year, month, day);
        Secret::new(format!("{:02}{}", era_year % 100, &b[4..]))
    }

    /// 照合番号B: the birth date with its **Japanese-era** year, `YYMMDD` (1980-02-17 is 昭和55:
    /// `550217`), then the expiry year `YYYY` (western) and the 4-digit security code
    /// (reported by readers checked on real cards).
    pub fn check_code_b(&self) -> Secret<String> {
        Secret::new(format!(
            "{}{}{}",
            self.birth_era_yymmdd().expose(),
            self.card_expiry_year,
            self.security_code.expose()
        ))
    }

    fn validate(&self) -> Result<(), FixtureError> {
        let invalid = |rule| FixtureError::Invalid {
            id: self.id.clone(),
            rule,
        };
        if !my_number::is_valid(self.my_number.expose()) {
            return Err(invalid("my_number fails the check digit"));
        }
        let b = self.birth_yyyymmdd();
        if b.len() != 8 || !b.bytes().all(|c| c.is_ascii_digit()) {
            return Err(invalid("birth_date must be YYYY-MM-DD"));
        }
        let pins = &self.pins;
        let four_digits = |p: &str| p.len() == 4 && p.bytes().all(|c| c.is_ascii_digit());
        if !four_digits(pins.auth.expose()) || !four_digits(pins.card_info.expose()) {
            return Err(invalid("the auth and card-info PINs are 4 digits"));
        }
        let s = pins.sign.expose();
        if !(6..=16).contains(&s.len())
            || !s
                .bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            return Err(invalid(
                "the signature PIN is 6-16 upper-case letters and digits",
            ));
        }
        if !four_digits(self.security_code.expose()) {
            return Err(invalid("security_code is 4 digits"));
        }
        if [pins.juki.as_ref(), pins.common.as_ref()]
            .into_iter()
            .flatten()
            .any(|p| !four_digits(p.expose()))
        {
            return Err(invalid("the juki and common PINs are 4 digits"));
        }
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|c| c.is_ascii_digit());
        if !digits(&self.municipality_code, 5) {
            return Err(invalid("municipality_code is 5 digits"));
        }
        if !digits(&self.card_serial, 15) {
            return Err(invalid("card_serial is 15 digits"));
        }
        Ok(())
    }
}

/// Test identities that cannot be used: which file or identity, and why.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// A file that cannot be read.
    #[error("{path}: {reason}")]
    Unreadable {
        /// Its path in the fixtures folder.
        path: String,
        /// Why.
        reason: String,
    },
    /// `identities.yaml` is not what it should be.
    #[error("identities.yaml: {0}")]
    Identities(String),
    /// An identity breaks a rule of the test data.
    #[error("identity {id}: {rule}")]
    Invalid {
        /// The identity.
        id: String,
        /// The rule.
        rule: &'static str,
    },
    /// A certificate that is not PEM.
    #[error("{path}: not a PEM certificate: {source}")]
    Certificate {
        /// Its path.
        path: String,
        /// openssl's reason.
        source: openssl::error::ErrorStack,
    },
    /// A key that is not an RSA private key.
    #[error("{path}: {source}")]
    Key {
        /// Its path.
        path: String,
        /// Why.
        source: KeyError,
    },
    /// An identity id asked for that is not among them.
    #[error("no test identity `{id}`; known identities: {}", known.join(", "))]
    Unknown {
        /// The id asked for.
        id: String,
        /// The ids there are.
        known: Vec<String>,
    },
}

/// A private-key operation or key text that failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Not an RSA private key.
    #[error("not an RSA private key: {0}")]
    NotAKey(openssl::error::ErrorStack),
    /// The RSA operation itself.
    #[error("RSA private-key operation failed: {0}")]
    Operation(openssl::error::ErrorStack),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityFile {
    identities: Vec<Identity>,
}

/// An RSA-2048 private key. Prints as `***`.
#[derive(Clone)]
pub struct PrivateKey(pub(crate) Rsa<Private>);

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(***)")
    }
}

impl PrivateKey {
    /// Parses a PEM private key (PKCS#1 or PKCS#8).
    pub fn from_pem(pem: &[u8]) -> Result<Self, KeyError> {
        Rsa::private_key_from_pem(pem)
            .map(PrivateKey)
            .map_err(KeyError::NotAKey)
    }
    /// The RSA private-key operation with PKCS#1 v1.5 type 1 padding — what the card does for
    /// COMPUTE DIGITAL SIGNATURE with P1 = 00. `input` is at most modulus length − 11 bytes.
    pub fn sign_pkcs1(&self, input: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut out = vec![0u8; self.0.size() as usize];
        let n = self
            .0
            .private_encrypt(input, &mut out, openssl::rsa::Padding::PKCS1)
            .map_err(KeyError::Operation)?;
        out.truncate(n);
        Ok(out)
    }
    /// The raw RSA private-key operation on an already encoded block of the modulus length
    /// (the PSS schemes encode it themselves).
    pub fn sign_raw(&self, block: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut out = vec![0u8; self.size()];
        let n = self
            .0
            .private_encrypt(block, &mut out, openssl::rsa::Padding::NONE)
            .map_err(KeyError::Operation)?;
        out.truncate(n);
        Ok(out)
    }
    /// Modulus length in bytes.
    pub fn size(&self) -> usize {
        self.0.size() as usize
    }
    /// The public key as the card-info AP writes it: `90 <exponent>` then `91 <modulus>`
    /// (BER-TLV, 265 bytes for RSA-2048).
    pub fn public_tlv(&self) -> Vec<u8> {
        let (e, n) = (self.0.e().to_vec(), self.0.n().to_vec());
        let mut out = Vec::with_capacity(n.len() + e.len() + 8);
        out.push(0x90);
        out.push(e.len() as u8);
        out.extend_from_slice(&e);
        out.extend_from_slice(&[0x91, 0x82]);
        out.extend_from_slice(&(n.len() as u16).to_be_bytes());
        out.extend_from_slice(&n);
        out
    }
    /// The public key as PEM (SubjectPublicKeyInfo), for verifiers.
    pub fn public_pem(&self) -> Vec<u8> {
        self.0.public_key_to_pem().unwrap_or_default()
    }
    /// Modulus length in bits.
    pub fn bits(&self) -> usize {
        self.0.n().num_bits() as usize
    }
}

/// The JPKI key pairs and certificates of one device (a phone's スマホ用電子証明書 are its own,
/// issued by the same CAs as the card's).
#[derive(Debug)]
pub struct JpkiKeys {
    /// 利用者証明用 key (EF 0017).
    pub auth_key: PrivateKey,
    /// 利用者証明用 certificate, DER (EF 000A).
    pub auth_cert: Vec<u8>,
    /// 署名用 key (EF 001A).
    pub sign_key: PrivateKey,
    /// 署名用 certificate, DER (EF 0001).
    pub sign_cert: Vec<u8>,
}

/// Keys and certificates of one identity.
#[derive(Debug)]
pub struct IdentityKeys {
    /// 利用者証明用 key (EF 0017).
    pub auth_key: PrivateKey,
    /// 利用者証明用 certificate, DER (EF 000A).
    pub auth_cert: Vec<u8>,
    /// 署名用 key (EF 001A).
    pub sign_key: PrivateKey,
    /// 署名用 certificate, DER (EF 0001).
    pub sign_cert: Vec<u8>,
    /// The Android phone's own JPKI keys and certificates.
    pub android: JpkiKeys,
    /// The iPhone's own JPKI keys and certificates.
    pub iphone: JpkiKeys,
    /// The card-info AP's own key (key 0013; signs challenges without a PIN).
    pub card_info_key: PrivateKey,
    /// The key the card-info AP's certificate (EF 0004) certifies and its records (EF 0003,
    /// EF 0007) are signed with: the municipality's `<code>31` key.
    pub card_info_signer: PrivateKey,
    /// The 共通カードAP's key 0019 (INTERNAL AUTHENTICATE, no credential; its public half is
    /// nowhere on the card).
    pub common_key: PrivateKey,
    /// The municipality's `<code>30` key that MF object 00F8 certifies and that signs 7F21.
    pub mf_key: PrivateKey,
    /// The card's own key in the 券面事項確認AP (key 001A, DF 12 / DF 24 / DF 42).
    pub card_face_key: PrivateKey,
    /// The municipality's `<code>21` key the 券面事項確認AP's certificate (EF 0004) certifies
    /// and its records (EF 0001, 0002, 0005) are signed with.
    pub card_face_signer: PrivateKey,
}

/// The test keys of the MF objects' certificate chain shared by every card.
#[derive(Debug)]
pub struct MfChainKeys {
    /// Stand-in for the CA key `6000020`/001 (signs 00F8).
    pub root: PrivateKey,
    /// Stand-in for the `0000050`/001 key (certified in 7F21).
    pub leaf: PrivateKey,
}

/// The JPKI keys and certificates one device of an identity carries, borrowed.
#[derive(Clone, Copy, Debug)]
pub struct JpkiKeyRefs<'a> {
    /// 利用者証明用 key (EF 0017).
    pub auth_key: &'a PrivateKey,
    /// 利用者証明用 certificate, DER (EF 000A).
    pub auth_cert: &'a [u8],
    /// 署名用 key (EF 001A).
    pub sign_key: &'a PrivateKey,
    /// 署名用 certificate, DER (EF 0001).
    pub sign_cert: &'a [u8],
}

impl IdentityKeys {
    /// The card's own JPKI keys and certificates.
    pub fn card(&self) -> JpkiKeyRefs<'_> {
        JpkiKeyRefs {
            auth_key: &self.auth_key,
            auth_cert: &self.auth_cert,
            sign_key: &self.sign_key,
            sign_cert: &self.sign_cert,
        }
    }
}

impl JpkiKeys {
    /// The phone's keys and certificates, borrowed.
    pub fn refs(&self) -> JpkiKeyRefs<'_> {
        JpkiKeyRefs {
            auth_key: &self.auth_key,
            auth_cert: &self.auth_cert,
            sign_key: &self.sign_key,
            sign_cert: &self.sign_cert,
        }
    }
}

/// One person with their key material and the CA certificates their card carries.
#[derive(Debug)]
pub struct Subject {
    /// Who.
    pub identity: Identity,
    /// Their keys and certificates.
    pub keys: IdentityKeys,
    /// 利用者証明用 CA certificate, DER (EF 000B).
    pub auth_ca_cert: Vec<u8>,
    /// 署名用 CA certificate, DER (EF 0002).
    pub sign_ca_cert: Vec<u8>,
    /// The stand-in for the CA `6000033` that certifies the card-info AP's signer (EF 0004).
    pub card_info_issuer: Arc<PrivateKey>,
    /// The stand-in for the CA `6000023` that certifies the card-face AP's signer (EF 0004).
    pub card_face_ca: Arc<PrivateKey>,
    /// The stand-ins of the MF's certificate chain: the CA `6000020` that signs object 00F8,
    /// and the `0000050` key object 7F21 certifies.
    pub mf_chain: Arc<MfChainKeys>,
    /// What applications derive from this subject once and every card of it shares (the
    /// card-info AP's files carry the issuer's signatures); the identity never looks inside.
    pub(crate) derived: Derived,
}

/// Values derived from a [`Subject`], one per type, made on first use and shared afterwards.
#[derive(Default)]
pub(crate) struct Derived(Mutex<Vec<Arc<dyn Any + Send + Sync>>>);

impl Derived {
    /// The value of type `T`, made by `init` the first time it is asked for.
    pub fn get_or_init<T: Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Arc<T> {
        let mut values = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = values.iter().find_map(|v| v.clone().downcast::<T>().ok()) {
            return found;
        }
        let made = Arc::new(init());
        values.push(made.clone());
        made
    }
}

impl fmt::Debug for Derived {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Derived(..)")
    }
}

/// A set of test identities with their keys: the committed fixtures or files given by path.
#[derive(Debug)]
pub struct Fixtures {
    subjects: BTreeMap<String, Arc<Subject>>,
    order: Vec<String>,
}

/// Reads the text of a fixture file by its path relative to the fixtures folder.
pub type FixtureReader<'a> = dyn Fn(&str) -> Result<Vec<u8>, FixtureError> + 'a;

macro_rules! embedded_fixtures {
    ($($path:literal),* $(,)?) => {
        /// The committed fixture files, by path relative to `sim/data/fixtures/`.
        pub const EMBEDDED_FIXTURES: &[(&str, &[u8])] = &[
            $(($path, include_bytes!(concat!("../../data/fixtures/", $path)))),*
        ];
    };
}

embedded_fixtures!(
    "identities.yaml",
    "pki/auth-ca.pem",
    "pki/sign-ca.pem",
    "pki/card-info-issuer.key.pem",
    "pki/mf-root.key.pem",
    "pki/card-face-ca.key.pem",
    "pki/mf-0000050.key.pem",
    "pki/yamada-taro/auth.pem",
    "pki/yamada-taro/auth.key.pem",
    "pki/yamada-taro/sign.pem",
    "pki/yamada-taro/sign.key.pem",
    "pki/yamada-taro/android-auth.pem",
    "pki/yamada-taro/android-auth.key.pem",
    "pki/yamada-taro/android-sign.pem",
    "pki/yamada-taro/android-sign.key.pem",
    "pki/yamada-taro/iphone-auth.pem",
    "pki/yamada-taro/iphone-auth.key.pem",
    "pki/yamada-taro/iphone-sign.pem",
    "pki/yamada-taro/iphone-sign.key.pem",
    "pki/yamada-taro/card-info.key.pem",
    "pki/yamada-taro/card-info-signer.key.pem",
    "pki/yamada-taro/common.key.pem",
    "pki/yamada-taro/mf.key.pem",
    "pki/yamada-taro/card-face.key.pem",
    "pki/yamada-taro/card-face-signer.key.pem",
    "pki/suzuki-hanako/auth.pem",
    "pki/suzuki-hanako/auth.key.pem",
    "pki/suzuki-hanako/sign.pem",
    "pki/suzuki-hanako/sign.key.pem",
    "pki/suzuki-hanako/android-auth.pem",
    "pki/suzuki-hanako/android-auth.key.pem",
    "pki/suzuki-hanako/android-sign.pem",
    "pki/suzuki-hanako/android-sign.key.pem",
    "pki/suzuki-hanako/iphone-auth.pem",
    "pki/suzuki-hanako/iphone-auth.key.pem",
    "pki/suzuki-hanako/iphone-sign.pem",
    "pki/suzuki-hanako/iphone-sign.key.pem",
    "pki/suzuki-hanako/card-info.key.pem",
    "pki/suzuki-hanako/card-info-signer.key.pem",
    "pki/suzuki-hanako/common.key.pem",
    "pki/suzuki-hanako/mf.key.pem",
    "pki/suzuki-hanako/card-face.key.pem",
    "pki/suzuki-hanako/card-face-signer.key.pem",
    "pki/tanaka-ichiro/auth.pem",
    "pki/tanaka-ichiro/auth.key.pem",
    "pki/tanaka-ichiro/sign.pem",
    "pki/tanaka-ichiro/sign.key.pem",
    "pki/tanaka-ichiro/android-auth.pem",
    "pki/tanaka-ichiro/android-auth.key.pem",
    "pki/tanaka-ichiro/android-sign.pem",
    "pki/tanaka-ichiro/android-sign.key.pem",
    "pki/tanaka-ichiro/iphone-auth.pem",
    "pki/tanaka-ichiro/iphone-auth.key.pem",
    "pki/tanaka-ichiro/iphone-sign.pem",
    "pki/tanaka-ichiro/iphone-sign.key.pem",
    "pki/tanaka-ichiro/card-info.key.pem",
    "pki/tanaka-ichiro/card-info-signer.key.pem",
    "pki/tanaka-ichiro/common.key.pem",
    "pki/tanaka-ichiro/mf.key.pem",
    "pki/tanaka-ichiro/card-face.key.pem",
    "pki/tanaka-ichiro/card-face-signer.key.pem",
);

fn pem_cert_to_der(pem: &[u8], path: &str) -> Result<Vec<u8>, FixtureError> {
    openssl::x509::X509::from_pem(pem)
        .and_then(|c| c.to_der())
        .map_err(|source| FixtureError::Certificate {
            path: path.to_owned(),
            source,
        })
}

impl Fixtures {
    /// The committed fixtures, parsed once per process.
    pub fn embedded() -> &'static Fixtures {
        static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
        FIXTURES.get_or_init(|| {
            let read = |path: &str| {
                EMBEDDED_FIXTURES
                    .iter()
                    .find(|(p, _)| *p == path)
                    .map(|(_, b)| b.to_vec())
                    .ok_or_else(|| FixtureError::Unreadable {
                        path: path.to_owned(),
                        reason: "not among the embedded fixtures".into(),
                    })
            };
            Fixtures::from_files(&read)
                .unwrap_or_else(|e| panic!("the committed fixtures are broken: {e}"))
        })
    }

    /// Parses `identities.yaml` and each identity's `pki/<id>/…` files through `read`.
    pub fn from_files(read: &FixtureReader<'_>) -> Result<Fixtures, FixtureError> {
        let text = read("identities.yaml")?;
        let text =
            String::from_utf8(text).map_err(|_| FixtureError::Identities("not UTF-8".into()))?;
        let file: IdentityFile =
            serde_saphyr::from_str(&text).map_err(|e| FixtureError::Identities(e.to_string()))?;
        let auth_ca_cert = pem_cert_to_der(&read("pki/auth-ca.pem")?, "pki/auth-ca.pem")?;
        let sign_ca_cert = pem_cert_to_der(&read("pki/sign-ca.pem")?, "pki/sign-ca.pem")?;
        let shared_key = |path: &str| {
            PrivateKey::from_pem(&read(path)?).map_err(|source| FixtureError::Key {
                path: path.into(),
                source,
            })
        };
        let card_info_issuer = Arc::new(shared_key("pki/card-info-issuer.key.pem")?);
        let card_face_ca = Arc::new(shared_key("pki/card-face-ca.key.pem")?);
        let mf_chain = Arc::new(MfChainKeys {
            root: shared_key("pki/mf-root.key.pem")?,
            leaf: shared_key("pki/mf-0000050.key.pem")?,
        });
        let mut subjects = BTreeMap::new();
        let mut order = Vec::new();
        for identity in file.identities {
            identity.validate()?;
            let id = identity.id.clone();
            let file = |name: &str| read(&format!("pki/{id}/{name}"));
            let key = |name: &str| {
                PrivateKey::from_pem(&file(name)?).map_err(|source| FixtureError::Key {
                    path: format!("pki/{id}/{name}"),
                    source,
                })
            };
            let cert = |name: &str| pem_cert_to_der(&file(name)?, &format!("pki/{id}/{name}"));
            let keys = IdentityKeys {
                auth_key: key("auth.key.pem")?,
                auth_cert: pem_cert_to_der(&file("auth.pem")?, &format!("pki/{id}/auth.pem"))?,
                sign_key: key("sign.key.pem")?,
                sign_cert: pem_cert_to_der(&file("sign.pem")?, &format!("pki/{id}/sign.pem"))?,
                android: JpkiKeys {
                    auth_key: key("android-auth.key.pem")?,
                    auth_cert: cert("android-auth.pem")?,
                    sign_key: key("android-sign.key.pem")?,
                    sign_cert: cert("android-sign.pem")?,
                },
                iphone: JpkiKeys {
                    auth_key: key("iphone-auth.key.pem")?,
                    auth_cert: cert("iphone-auth.pem")?,
                    sign_key: key("iphone-sign.key.pem")?,
                    sign_cert: cert("iphone-sign.pem")?,
                },
                card_info_key: key("card-info.key.pem")?,
                card_info_signer: key("card-info-signer.key.pem")?,
                common_key: key("common.key.pem")?,
                mf_key: key("mf.key.pem")?,
                card_face_key: key("card-face.key.pem")?,
                card_face_signer: key("card-face-signer.key.pem")?,
            };
            if subjects.contains_key(&id) {
                return Err(FixtureError::Identities(format!(
                    "identity {id} appears twice"
                )));
            }
            order.push(id.clone());
            subjects.insert(
                id,
                Arc::new(Subject {
                    identity,
                    keys,
                    auth_ca_cert: auth_ca_cert.clone(),
                    sign_ca_cert: sign_ca_cert.clone(),
                    card_info_issuer: card_info_issuer.clone(),
                    card_face_ca: card_face_ca.clone(),
                    mf_chain: mf_chain.clone(),
                    derived: Derived::default(),
                }),
            );
        }
        if order.is_empty() {
            return Err(FixtureError::Identities("it lists no identity".into()));
        }
        Ok(Fixtures { subjects, order })
    }

    /// An identity by id.
    pub fn subject(&self, id: &str) -> Result<Arc<Subject>, FixtureError> {
        self.subjects
            .get(id)
            .cloned()
            .ok_or_else(|| FixtureError::Unknown {
                id: id.to_owned(),
                known: self.order.clone(),
            })
    }

    /// The identity `id` names, or the default one when it names none.
    pub fn subject_or_default(&self, id: Option<&str>) -> Result<Arc<Subject>, FixtureError> {
        match id {
            Some(id) => self.subject(id),
            None => Ok(self.default_subject()),
        }
    }

    /// The first identity: the default person on a virtual card.
    pub fn default_subject(&self) -> Arc<Subject> {
        self.subjects[&self.order[0]].clone()
    }

    /// Identity ids in file order.
    pub fn ids(&self) -> &[String] {
        &self.order
    }
}

#[cfg(test)]
mod era_tests {
    use super::era_year;

    #[test]
    fn era_years_change_on_the_day_the_era_began() {
        assert_eq!(era_year(1980, 2, 17), ("昭和", 55));
        assert_eq!(era_year(1989, 1, 7), ("昭和", 64));
        assert_eq!(era_year(1989, 1, 8), ("平成", 1));
        assert_eq!(era_year(1992, 11, 23), ("平成", 4));
        assert_eq!(era_year(2019, 4, 30), ("平成", 31));
        assert_eq!(era_year(2019, 5, 1), ("令和", 1));
        assert_eq!(era_year(1926, 12, 24), ("大正", 15));
        assert_eq!(era_year(1926, 12, 25), ("昭和", 1));
        assert_eq!(era_year(1912, 7, 29), ("明治", 45));
    }
}
