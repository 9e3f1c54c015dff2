//! The 券面事項確認AP (card-face confirmation AP) of the physical My Number card: what is printed
//! on the card, signed — the holder's birth date, sex, name, address, photo, expiry and security
//! code, and the My Number as a picture — behind three keys (the birth date, 照合番号A,
//! 照合番号B), with the card's own key and the certificate of the municipality key that signs
//! the records (`docs/jpki.md`).
//!
//! Files, byte for byte as on the public test card: EF 0001 the age record (547 bytes), EF 0002
//! the card face (`DF 21` offsets from the start of the file, `DF 22` … `DF 2A`), EF 0003 the AP's
//! basic information (320 bytes), EF 0004 the CV certificate (568 bytes), EF 0005 the rendered My
//! Number (with the card key and a signature), EF 0006 sixteen `FF`. Every length of 128 or more
//! is written `82 hh ll`.

use crate::iso7816::status::StatusWord;
use crate::iso7816::tlv::write_long as tlv;
use crate::platform::cv_cert::{self, KeyId};
use crate::platform::identity::Subject;
use crate::platform::images;
use crate::platform::os::{Access, Ef, EfBody, IsoApp, PinRecord, Refusal, store_pin};
use crate::platform::profile::CardFaceParams;
use crate::platform::signature::Scheme;
use crate::secret::Secret;
use std::sync::Arc;

/// AID of the card-face confirmation AP.
pub const AID: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x02];

/// Elementary files and keys of the card-face AP.
pub mod ef {
    /// The age record: birth date, card key, signature. Opened by the birth-date key only.
    pub const AGE: u16 = 0x0001;
    /// The card face. Opened by 照合番号A or B.
    pub const FACE: u16 = 0x0002;
    /// The AP's basic information. Free.
    pub const BASIC_INFO: u16 = 0x0003;
    /// The CV certificate of the key that signs 0001, 0002 and 0005. Free.
    pub const CERTIFICATE: u16 = 0x0004;
    /// The My Number as a picture, with the card key and a signature. Opened by 照合番号A only.
    pub const MY_NUMBER_IMAGE: u16 = 0x0005;
    /// Sixteen `FF` bytes, purpose not public. Opened by 照合番号A or B.
    pub const UNKNOWN_0006: u16 = 0x0006;
    /// The birth-date key: the birth date with its Japanese-era year, `YYMMDD`.
    pub const BIRTH_KEY: u16 = 0x0011;
    /// 照合番号B: era birth date, expiry year, security code (14 digits).
    pub const CHECK_CODE_B: u16 = 0x0012;
    /// 照合番号A: the 12-digit My Number.
    pub const CHECK_CODE_A: u16 = 0x0013;
    /// The card's own key: `80 2A 00 00` signs a DigestInfo with no credential.
    pub const CARD_KEY: u16 = 0x001A;
}

/// The key id of the CA that certifies the AP's signer in EF 0004: `6000023`/001 (JPKI's test
/// hierarchy; production cards name `5000023`).
pub fn issuer_key_id() -> KeyId {
    KeyId::new("6000023", "001").expect("seven and three digits")
}

/// The key id of the municipality's key EF 0004 certifies: `<code>21`/000.
pub fn signer_key_id(subject: &Subject) -> KeyId {
    KeyId::municipal(&subject.identity.municipality_code, "21", "000")
        .expect("identities are checked to have 5-digit municipality codes")
}

/// The DigestInfo prefix of EF 0002's signature: SHA-256 over 96 bytes, three digests.
pub const THREE_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x71, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x60,
];

/// The card-face AP's files of one subject (the signatures made once per subject).
#[derive(Debug)]
pub struct Files {
    /// EF 0001.
    pub age: Vec<u8>,
    /// EF 0002.
    pub face: Vec<u8>,
    /// EF 0003.
    pub basic_info: Vec<u8>,
    /// EF 0004.
    pub certificate: Vec<u8>,
    /// EF 0005.
    pub my_number_image: Vec<u8>,
}

fn field(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 5);
    tlv(&[0xDF, tag], value, &mut out);
    out
}

impl Files {
    /// Builds every file of `subject`'s card-face AP.
    pub fn new(subject: &Subject) -> Files {
        let id = &subject.identity;
        let signer = &subject.keys.card_face_signer;
        let sign = |data: &[u8]| cv_cert::sign(signer, data);
        let card_key = subject.keys.card_face_key.public_tlv();

        // EF 0001: FF 10 { DF 11 birth date, DF 12 card key, DF 13 signature over both }.
        let mut signed = field(0x11, id.birth_yyyymmdd().as_bytes());
        signed.extend(field(0x12, &card_key));
        let mut inner = signed.clone();
        inner.extend(field(0x13, &sign(&signed)));
        let mut age = Vec::new();
        tlv(&[0xFF, 0x10], &inner, &mut age);

        // EF 0002: FF 20 { DF 21 offsets, DF 22 … DF 2A }. DF 28 signs three digests — of
        // DF 22‖DF 23‖DF 24, of DF 25‖DF 26 and of DF 27, complete TLVs; DF 29 and DF 2A follow
        // the signature, uncovered.
        let mut fields = vec![
            field(0x22, id.birth_yyyymmdd().as_bytes()),
            field(0x23, id.sex.code().as_bytes()),
            field(0x24, &card_key),
            field(0x25, &images::text_png(&id.name)),
            field(0x26, &images::text_png(&id.address)),
            field(0x27, &images::photo_jp2(&id.id)),
        ];
        let mut digest_info = THREE_DIGEST_INFO_PREFIX.to_vec();
        for part in [&fields[0..3], &fields[3..5], &fields[5..6]] {
            digest_info.extend_from_slice(&openssl::sha::sha256(&part.concat()));
        }
        let signature = signer
            .sign_pkcs1(&digest_info)
            .expect("a 115-byte DigestInfo fits an RSA-2048 key");
        fields.push(field(0x28, &signature));
        fields.push(field(0x29, id.card_expiry_yyyymmdd().as_bytes()));
        fields.push(field(0x2A, &images::text_png(id.security_code.expose())));
        let body_len = 3 + 2 * fields.len() + fields.iter().map(Vec::len).sum::<usize>();
        let header = 5; // FF 20 82 hh ll: the card face is always longer than 255 bytes
        let mut offsets = Vec::with_capacity(2 * fields.len());
        let mut at = header + 3 + 2 * fields.len();
        for f in &fields {
            offsets.extend_from_slice(&(at as u16).to_be_bytes());
            at += f.len();
        }
        let mut inner = field(0x21, &offsets);
        inner.extend(fields.concat());
        debug_assert_eq!(inner.len(), body_len);
        let mut face = Vec::with_capacity(header + inner.len());
        tlv(&[0xFF, 0x20], &inner, &mut face);

        // EF 0003: FF 30 { DF 31 versions, DF 32 a key id, DF 33 00, DF 34 municipality,
        // DF 35 a key id and 256 opaque bytes }.
        let mut opaque = KeyId::new("5900025", "001")
            .expect("seven and three digits")
            .0
            .to_vec();
        for block in 0u8..8 {
            let seed = format!("kazasu card-face DF35 {} {block}", id.card_serial);
            opaque.extend_from_slice(&openssl::sha::sha256(seed.as_bytes()));
        }
        let mut inner = field(0x31, &[0x06, 0x03, 0x0E, 0x01]);
        inner.extend(field(
            0x32,
            &KeyId::new("6000024", "001")
                .expect("seven and three digits")
                .0,
        ));
        inner.extend(field(0x33, &[0x00]));
        inner.extend(field(0x34, id.municipality_code.as_bytes()));
        inner.extend(field(0x35, &opaque));
        let mut basic_info = Vec::with_capacity(320);
        tlv(&[0xFF, 0x30], &inner, &mut basic_info);

        let certificate = cv_cert::certificate(
            issuer_key_id(),
            &subject.card_face_ca,
            signer_key_id(subject),
            signer,
        );

        // EF 0005: FF 40 { DF 41 the My Number as a picture, DF 42 card key, DF 43 signature }.
        let mut signed = field(0x41, &images::text_png(id.my_number.expose()));
        signed.extend(field(0x42, &card_key));
        let mut inner = signed.clone();
        inner.extend(field(0x43, &sign(&signed)));
        let mut my_number_image = Vec::new();
        tlv(&[0xFF, 0x40], &inner, &mut my_number_image);

        Files {
            age,
            face,
            basic_info,
            certificate,
            my_number_image,
        }
    }
}

/// Builds the card-face AP for `subject`; its keys take persistent slots from `pins`.
pub(crate) fn build(
    params: &CardFaceParams,
    subject: &Subject,
    pins: &mut Vec<PinRecord>,
) -> IsoApp {
    let id = &subject.identity;
    let mut slot =
        |value: &Secret<String>, tries: u8| store_pin(pins, value.expose().as_bytes(), tries);
    let birth_tries = params.birth_key_tries.value;
    let code_tries = params.check_code_tries.value;
    let birth_slot = slot(&id.birth_era_yymmdd(), birth_tries);
    let b_slot = slot(&id.check_code_b(), code_tries);
    let a_slot = slot(&id.my_number, code_tries);
    let files = subject.derived.get_or_init(|| Files::new(subject));
    let (binary, key) = (Ef::binary, Ef::digit_pin);
    let a_or_b = || Access::AnyPin(vec![ef::CHECK_CODE_A, ef::CHECK_CODE_B]);
    let b_len = id.check_code_b().expose().len();
    IsoApp {
        aid: AID.to_vec(),
        files: vec![
            binary(ef::AGE, &files.age, Access::AnyPin(vec![ef::BIRTH_KEY])),
            binary(ef::FACE, &files.face, a_or_b()),
            binary(ef::BASIC_INFO, &files.basic_info, Access::Always),
            binary(ef::CERTIFICATE, &files.certificate, Access::Always),
            binary(
                ef::MY_NUMBER_IMAGE,
                &files.my_number_image,
                Access::AnyPin(vec![ef::CHECK_CODE_A]),
            ),
            binary(ef::UNKNOWN_0006, &[0xFF; 16], a_or_b()),
            key(ef::BIRTH_KEY, birth_slot, 6, birth_tries),
            key(ef::CHECK_CODE_B, b_slot, b_len, code_tries),
            key(ef::CHECK_CODE_A, a_slot, 12, code_tries),
            Ef {
                fid: ef::CARD_KEY,
                body: EfBody::Key {
                    key: Arc::new(subject.keys.card_face_key.clone()),
                    usage: Access::Always,
                },
            },
        ],
        select_mf_ok: true,
        last_command: None,
        refused: vec![
            // SET SESSION KEY: 66 F1, no secure messaging here (reported by myna-card's author).
            Refusal {
                cla: 0x80,
                ins: 0xAE,
                sw: StatusWord::NO_SESSION_KEY,
            },
            // INTERNAL AUTHENTICATE on this AP's keys: 69 85 (reported by myna-card's author).
            Refusal {
                cla: 0x00,
                ins: 0x88,
                sw: StatusWord::CONDITIONS_NOT_SATISFIED,
            },
        ],
        sign_schemes: vec![Scheme::Verbatim],
        default_key: Some(ef::CARD_KEY),
        internal_authenticate: false,
        change_key: false,
    }
}
