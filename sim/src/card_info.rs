//! The 券面事項入力補助AP (card-info input support AP) of the physical My Number card: its PIN,
//! 照合番号A/B, the My Number file and the basic four facts (`docs/jpki.md`).

use crate::identity::Subject;
use crate::os::{Access, Charset, Ef, EfBody, IsoApp, PinRecord, PinSpec};
use crate::profile::CardInfoParams;
use crate::secret::Secret;
use std::sync::Arc;

/// AID of the card-info input support AP.
pub const AID: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08];

/// Elementary files of the card-info AP.
pub mod ef {
    /// My Number: `FF 10 0C` + 12 ASCII digits + `FF FF` filler.
    pub const MY_NUMBER: u16 = 0x0001;
    /// Basic four facts (name, address, birth date, sex) as BER-TLV, UTF-8.
    pub const BASIC_FOUR: u16 = 0x0002;
    /// Digests of 0001 and 0002.
    pub const DIGESTS: u16 = 0x0003;
    /// The card-info PIN (4 digits).
    pub const PIN: u16 = 0x0011;
    /// 照合番号A: the 12-digit My Number as a PIN.
    pub const CHECK_CODE_A: u16 = 0x0014;
    /// 照合番号B: birth date YYMMDD + expiry year + security code as a PIN.
    pub const CHECK_CODE_B: u16 = 0x0015;
}

fn tlv(tag: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(tag);
    match value.len() {
        n @ 0..=0x7F => out.push(n as u8),
        n @ 0x80..=0xFF => out.extend_from_slice(&[0x81, n as u8]),
        n => {
            out.push(0x82);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    out.extend_from_slice(value);
}

/// EF 0001: `FF 10 0C` + the 12 digits + `FF FF`.
pub fn my_number_file(my_number: &str) -> Vec<u8> {
    let mut v = vec![0xFF, 0x10, 0x0C];
    v.extend_from_slice(my_number.as_bytes());
    v.extend_from_slice(&[0xFF, 0xFF]);
    v
}

/// EF 0002: `FF 20 L { DF 21 header, DF 22 name, DF 23 address, DF 24 birth, DF 25 sex }`.
/// The header's content is not public: modelled as 16 zero bytes.
pub fn basic_four_file(subject: &Subject) -> Vec<u8> {
    let id = &subject.identity;
    let mut inner = Vec::new();
    tlv(&[0xDF, 0x21], &[0u8; 16], &mut inner);
    tlv(&[0xDF, 0x22], id.name.as_bytes(), &mut inner);
    tlv(&[0xDF, 0x23], id.address.as_bytes(), &mut inner);
    tlv(&[0xDF, 0x24], id.birth_yyyymmdd().as_bytes(), &mut inner);
    tlv(&[0xDF, 0x25], id.sex.code().as_bytes(), &mut inner);
    let mut out = Vec::new();
    tlv(&[0xFF, 0x20], &inner, &mut out);
    out
}

/// EF 0003 (modelled): `30 L { 04 20 SHA-256(EF 0001), 04 20 SHA-256(EF 0002) }`.
fn digests_file(my_number: &[u8], basic_four: &[u8]) -> Vec<u8> {
    let sha = |d: &[u8]| openssl::sha::sha256(d);
    let mut inner = Vec::new();
    tlv(&[0x04], &sha(my_number), &mut inner);
    tlv(&[0x04], &sha(basic_four), &mut inner);
    let mut out = Vec::new();
    tlv(&[0x30], &inner, &mut out);
    out
}

/// Builds the card-info AP for `subject`; its PINs take persistent slots from `pins`.
pub(crate) fn build(
    params: &CardInfoParams,
    subject: &Subject,
    pins: &mut Vec<PinRecord>,
) -> IsoApp {
    let id = &subject.identity;
    let mut slot = |value: &str, tries: u8| {
        pins.push(PinRecord {
            value: Secret::new(value.as_bytes().to_vec()),
            tries_left: tries,
        });
        pins.len() - 1
    };
    let pin_tries = params.pin_tries.value;
    let code_tries = params.check_code_tries.value;
    let pin_slot = slot(id.pins.card_info.expose(), pin_tries);
    let a_slot = slot(id.my_number.expose(), code_tries);
    let b_slot = slot(id.check_code_b().expose(), code_tries);
    let my_number = my_number_file(id.my_number.expose());
    let basic_four = basic_four_file(subject);
    let digests = digests_file(&my_number, &basic_four);
    let protected = || Access::AnyPin(vec![ef::PIN, ef::CHECK_CODE_A, ef::CHECK_CODE_B]);
    let pin = |slot, len, tries| EfBody::Pin {
        slot,
        spec: PinSpec {
            min_len: len,
            max_len: len,
            charset: Charset::Digits,
            max_tries: tries,
        },
    };
    let b_len = id.check_code_b().expose().len();
    IsoApp {
        aid: AID.to_vec(),
        files: vec![
            Ef {
                fid: ef::MY_NUMBER,
                body: EfBody::Binary {
                    data: Arc::from(my_number),
                    read: protected(),
                },
            },
            Ef {
                fid: ef::BASIC_FOUR,
                body: EfBody::Binary {
                    data: Arc::from(basic_four),
                    read: protected(),
                },
            },
            Ef {
                fid: ef::DIGESTS,
                body: EfBody::Binary {
                    data: Arc::from(digests),
                    read: Access::Always,
                },
            },
            Ef {
                fid: ef::PIN,
                body: pin(pin_slot, 4, pin_tries),
            },
            Ef {
                fid: ef::CHECK_CODE_A,
                body: pin(a_slot, 12, code_tries),
            },
            Ef {
                fid: ef::CHECK_CODE_B,
                body: pin(b_slot, b_len, code_tries),
            },
        ],
        select_mf_ok: true,
        last_command: None,
        refuses_80ae: false,
    }
}
