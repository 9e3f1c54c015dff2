//! The 券面事項入力補助AP (card-info input support AP) of the physical My Number card: its PIN,
//! 照合番号A/B, the My Number file, the basic four facts, the issuer-signed integrity record and
//! the AP's own key, with each file's access rule as real cards apply it (`docs/jpki.md`).

use crate::iso7816::tlv::{encode as tlv_vec, write as tlv, write_long};
use crate::platform::cv_cert::{self, KeyId};
use crate::platform::identity::Subject;
use crate::platform::os::{Access, Ef, EfBody, IsoApp, PinRecord, store_pin};
use crate::platform::profile::CardInfoParams;
use crate::platform::signature::Scheme;
use std::sync::Arc;

/// AID of the card-info input support AP.
pub const AID: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08];

/// Elementary files and keys of the card-info AP.
pub mod ef {
    /// My Number: `FF 10 0C` + 12 ASCII digits + `FF FF` filler. PIN or 照合番号A.
    pub const MY_NUMBER: u16 = 0x0001;
    /// Basic four facts (name, address, birth date, sex) as BER-TLV, UTF-8. PIN or 照合番号B.
    pub const BASIC_FOUR: u16 = 0x0002;
    /// The integrity record: digests of 0001 and 0002 and the issuer's signature. PIN or a code.
    pub const INTEGRITY: u16 = 0x0003;
    /// The AP's card-verifiable certificate of the issuer key. Free.
    pub const CERTIFICATE: u16 = 0x0004;
    /// The AP's basic information. Free.
    pub const AP_BASIC_DATA: u16 = 0x0005;
    /// The public key a terminal delivers a session key to. PIN or a code.
    pub const SESSION_KEY: u16 = 0x0006;
    /// The AP's own public key (key 0013), signed by the issuer. PIN or a code.
    pub const SIGNED_PUBLIC_KEY: u16 = 0x0007;
    /// Sixteen `FF` bytes; purpose not public.
    pub const UNKNOWN_0008: u16 = 0x0008;
    /// The card-info PIN (4 digits).
    pub const PIN: u16 = 0x0011;
    /// A key reference issued blocked: its counter query answers 63 C0, a VERIFY 69 84.
    pub const BLOCKED_0012: u16 = 0x0012;
    /// The AP's own signing key: `80 2A 00 00` signs a DigestInfo without a PIN.
    pub const AP_KEY: u16 = 0x0013;
    /// 照合番号A: the 12-digit My Number as a PIN.
    pub const CHECK_CODE_A: u16 = 0x0014;
    /// 照合番号B: birth date (Japanese-era YYMMDD) + expiry year + security code as a PIN.
    pub const CHECK_CODE_B: u16 = 0x0015;
}

/// The key id of the CA that certifies the AP's signer in EF 0004: `6000033`/001, JPKI's test
/// hierarchy (production cards name `5000033`); kazasu's stand-in key signs for it.
pub fn issuer_key_id() -> KeyId {
    KeyId::new("6000033", "001").expect("seven and three digits")
}

/// The key id EF 0005's DF 42 names: `6000034`/001 (as on the public test card).
pub fn basic_data_key_id() -> KeyId {
    KeyId::new("6000034", "001").expect("seven and three digits")
}

/// The key id of the municipality's key EF 0004 certifies: `<code>31`/000.
pub fn signer_key_id(subject: &Subject) -> KeyId {
    KeyId::municipal(&subject.identity.municipality_code, "31", "000")
        .expect("identities are checked to have 5-digit municipality codes")
}

/// EF 0001: `FF 10 0C` + the 12 digits + `FF FF`.
pub fn my_number_file(my_number: &str) -> Vec<u8> {
    let mut v = vec![0xFF, 0x10, 0x0C];
    v.extend_from_slice(my_number.as_bytes());
    v.extend_from_slice(&[0xFF, 0xFF]);
    v
}

/// EF 0002: `FF 20 L { DF 21 08 offsets, DF 22 name, DF 23 address, DF 24 birth, DF 25 sex }`.
/// `DF 21` holds four big-endian u16 offsets of DF 22..DF 25 from the start of the file
/// (reported, with a real card's file byte for byte).
pub fn basic_four_file(subject: &Subject) -> Vec<u8> {
    let id = &subject.identity;
    let fields = [
        tlv_vec(&[0xDF, 0x22], id.name.as_bytes()),
        tlv_vec(&[0xDF, 0x23], id.address.as_bytes()),
        tlv_vec(&[0xDF, 0x24], id.birth_yyyymmdd().as_bytes()),
        tlv_vec(&[0xDF, 0x25], id.sex.code().as_bytes()),
    ];
    let table_len = 2 + 1 + 8;
    let inner_len = table_len + fields.iter().map(Vec::len).sum::<usize>();
    let outer_header = tlv_vec(&[0xFF, 0x20], &vec![0; inner_len]).len() - inner_len;
    let mut offsets = Vec::with_capacity(8);
    let mut at = outer_header + table_len;
    for f in &fields {
        offsets.extend_from_slice(&(at as u16).to_be_bytes());
        at += f.len();
    }
    let mut inner = tlv_vec(&[0xDF, 0x21], &offsets);
    inner.extend(fields.concat());
    tlv_vec(&[0xFF, 0x20], &inner)
}

/// What EF 0003's `DF 32` digest covers: EF 0002's outer value without the offset table
/// (`DF 22` to the end), as a public reader checked on a real card.
pub fn basic_four_digest_source(file: &[u8]) -> &[u8] {
    // FF 20 <len> then DF 21 08 <8 bytes>.
    let header = match file.get(2) {
        Some(0x81) => 4,
        Some(0x82) => 5,
        _ => 3,
    };
    file.get(header + 11..).unwrap_or_default()
}

/// The card-info AP's files of one subject, with the issuer's signatures (computed once).
#[derive(Debug)]
pub struct Files {
    /// EF 0001.
    pub my_number: Vec<u8>,
    /// EF 0002.
    pub basic_four: Vec<u8>,
    /// EF 0003.
    pub integrity: Vec<u8>,
    /// EF 0004.
    pub certificate: Vec<u8>,
    /// EF 0005.
    pub ap_basic_data: Vec<u8>,
    /// EF 0006.
    pub session_key: Vec<u8>,
    /// EF 0007.
    pub signed_public_key: Vec<u8>,
}

impl Files {
    /// Builds every file of `subject`'s card-info AP. The records' signatures are PKCS#1 v1.5
    /// with SHA-256, over the objects before the signature as written, by the municipality's
    /// key that EF 0004 certifies (the CA's stand-in signs EF 0004 itself).
    pub fn new(subject: &Subject) -> Files {
        let id = &subject.identity;
        let signer = &subject.keys.card_info_signer;
        let sign = |data: &[u8]| cv_cert::sign(signer, data);
        let my_number = my_number_file(id.my_number.expose());
        let basic_four = basic_four_file(subject);
        let mut signed = tlv_vec(&[0xDF, 0x31], &openssl::sha::sha256(&my_number));
        tlv(
            &[0xDF, 0x32],
            &openssl::sha::sha256(basic_four_digest_source(&basic_four)),
            &mut signed,
        );
        let mut integrity_inner = signed.clone();
        tlv(&[0xDF, 0x33], &sign(&signed), &mut integrity_inner);
        let integrity = tlv_vec(&[0xFF, 0x30], &integrity_inner);

        // EF 0004: the CV certificate of the municipality's key by the CA `6000033`.
        let certificate = cv_cert::certificate(
            issuer_key_id(),
            &subject.card_info_issuer,
            signer_key_id(subject),
            signer,
        );

        // EF 0005: FF 40 { DF 41 version etc., DF 42 a key id, DF 43 32 opaque bytes + 96 FF },
        // 164 bytes with every long length as 82 hh ll (as on the public test card). DF 43's
        // 32 bytes match no digest of the card's files; kazasu draws them from the card serial
        // (none of them FF, so a reader can tell them from the filler).
        let mut basic_inner = Vec::with_capacity(160);
        write_long(&[0xDF, 0x41], &[0x01, 0x03, 0x0E, 0x01], &mut basic_inner);
        write_long(&[0xDF, 0x42], &basic_data_key_id().0, &mut basic_inner);
        let mut opaque =
            openssl::sha::sha256(format!("kazasu card-info DF43 {}", id.card_serial).as_bytes())
                .map(|b| b.min(0xFE))
                .to_vec();
        opaque.resize(128, 0xFF);
        write_long(&[0xDF, 0x43], &opaque, &mut basic_inner);
        let mut ap_basic_data = Vec::with_capacity(164);
        write_long(&[0xFF, 0x40], &basic_inner, &mut ap_basic_data);

        let ap_key = &subject.keys.card_info_key;
        let session_key = tlv_vec(&[0xA1], &ap_key.public_tlv());
        let key_object = tlv_vec(&[0xDF, 0x51], &ap_key.public_tlv());
        let mut signed_key_inner = key_object.clone();
        tlv(&[0xDF, 0x52], &sign(&key_object), &mut signed_key_inner);
        let signed_public_key = tlv_vec(&[0xFF, 0x50], &signed_key_inner);
        Files {
            my_number,
            basic_four,
            integrity,
            certificate,
            ap_basic_data,
            session_key,
            signed_public_key,
        }
    }
}

/// Builds the card-info AP for `subject`; its PINs take persistent slots from `pins`.
pub(crate) fn build(
    params: &CardInfoParams,
    subject: &Subject,
    pins: &mut Vec<PinRecord>,
) -> IsoApp {
    let id = &subject.identity;
    let mut slot = |value: &[u8], tries: u8| store_pin(pins, value, tries);
    let pin_tries = params.pin_tries.value;
    let code_tries = params.check_code_tries.value;
    let pin_slot = slot(id.pins.card_info.expose().as_bytes(), pin_tries);
    let a_slot = slot(id.my_number.expose().as_bytes(), code_tries);
    let b_slot = slot(id.check_code_b().expose().as_bytes(), code_tries);
    // Issued blocked: no value opens it.
    let blocked_slot = slot(&[], 0);
    let files = subject.derived.get_or_init(|| Files::new(subject));
    let by = |keys: &[u16]| Access::AnyPin(keys.to_vec());
    let pin_or_a = by(&[ef::PIN, ef::CHECK_CODE_A]);
    let pin_or_b = by(&[ef::PIN, ef::CHECK_CODE_B]);
    let pin_or_code = || by(&[ef::PIN, ef::CHECK_CODE_A, ef::CHECK_CODE_B]);
    let (binary, pin) = (Ef::binary, Ef::digit_pin);
    let b_len = id.check_code_b().expose().len();
    IsoApp {
        aid: AID.to_vec(),
        files: vec![
            binary(ef::MY_NUMBER, &files.my_number, pin_or_a),
            binary(ef::BASIC_FOUR, &files.basic_four, pin_or_b),
            binary(ef::INTEGRITY, &files.integrity, pin_or_code()),
            binary(ef::CERTIFICATE, &files.certificate, Access::Always),
            binary(ef::AP_BASIC_DATA, &files.ap_basic_data, Access::Always),
            binary(ef::SESSION_KEY, &files.session_key, pin_or_code()),
            binary(
                ef::SIGNED_PUBLIC_KEY,
                &files.signed_public_key,
                pin_or_code(),
            ),
            binary(ef::UNKNOWN_0008, &[0xFF; 16], Access::Always),
            pin(ef::PIN, pin_slot, 4, pin_tries),
            pin(ef::BLOCKED_0012, blocked_slot, 4, 0),
            Ef {
                fid: ef::AP_KEY,
                body: EfBody::Key {
                    key: Arc::new(subject.keys.card_info_key.clone()),
                    usage: Access::Always,
                },
            },
            pin(ef::CHECK_CODE_A, a_slot, 12, code_tries),
            pin(ef::CHECK_CODE_B, b_slot, b_len, code_tries),
        ],
        select_mf_ok: true,
        last_command: None,
        refused: Vec::new(),
        sign_schemes: vec![Scheme::Verbatim],
        default_key: Some(ef::AP_KEY),
        internal_authenticate: false,
        change_key: false,
    }
}
