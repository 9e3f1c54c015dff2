//! The JPKI AP (公的個人認証AP) as files on the card OS, exactly as `docs/jpki.md`
//! describes it: certificates, CA certificates, token info, keys and PINs.

use crate::iso7816::status::StatusWord;
use crate::platform::identity::{JpkiKeyRefs, Subject};
use crate::platform::os::{Access, Charset, Ef, EfBody, IsoApp, PinRecord, PinSpec, Refusal};
use crate::platform::profile::{Device, JpkiParams};
use crate::platform::signature::Scheme;
use crate::secret::Secret;
use std::sync::Arc;

/// AID of the JPKI AP.
pub const AID: [u8; 10] = [0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];

/// Elementary files of the JPKI AP.
pub mod ef {
    /// 署名用 certificate (needs the signature PIN).
    pub const SIGN_CERT: u16 = 0x0001;
    /// 署名用 CA certificate.
    pub const SIGN_CA_CERT: u16 = 0x0002;
    /// Token info: a 160-byte PKCS#11 token-info record; its first 32 bytes are the token name.
    pub const TOKEN_INFO: u16 = 0x0006;
    /// Certificate presence flags.
    pub const CERT_FLAGS: u16 = 0x0008;
    /// A protected EF whose purpose and access condition are not public: no credential a client
    /// has opens it (reported), so READ BINARY answers 69 82.
    pub const PROTECTED_0009: u16 = 0x0009;
    /// The terminal-CA key that face-recognition terminals' certificates are checked against
    /// with `80 A2` (reported); the check itself is not public: `80 A2` answers 6A 86.
    pub const TERMINAL_CA: u16 = 0x0016;
    /// 利用者証明用 certificate.
    pub const AUTH_CERT: u16 = 0x000A;
    /// 利用者証明用 CA certificate.
    pub const AUTH_CA_CERT: u16 = 0x000B;
    /// 利用者証明用 private key.
    pub const AUTH_KEY: u16 = 0x0017;
    /// 利用者証明用 PIN.
    pub const AUTH_PIN: u16 = 0x0018;
    /// 署名用 private key.
    pub const SIGN_KEY: u16 = 0x001A;
    /// 署名用 PIN.
    pub const SIGN_PIN: u16 = 0x001B;
}

/// EF 0006: a PKCS#11 `CK_TOKEN_INFO` record serialised with 32-bit big-endian integers,
/// 160 bytes, byte for byte as a public reader recorded it on a physical card: the label (the
/// token name, which tells a card from a phone), the manufacturer `000…0001`, the model, a
/// 16-digit serial, the flags (RNG, login required, user PIN initialised, token initialised),
/// session counts 1/0/1/0, PIN lengths 16 and 6, four memory sizes "unavailable", the versions
/// as ASCII `03` and `01`, and a 16-byte time. Clients that read only 32 bytes get the label.
/// The serial is the card's (its 15 digits after a `0`); the time, unknown on real cards, is 16
/// ASCII `0`s.
pub fn token_info(label: &str, model: &str, serial: &str) -> Vec<u8> {
    fn padded(text: &str, len: usize, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(text.as_bytes());
        out.resize(start + len, b' ');
    }
    let mut v = Vec::with_capacity(160);
    padded(label, 32, &mut v);
    padded("00000000000000000000000000000001", 32, &mut v);
    padded(model, 16, &mut v);
    padded(&format!("{serial:0>16}"), 16, &mut v);
    // CKF_RNG | CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED.
    const FLAGS: u32 = 0x0000_040D;
    const UNAVAILABLE: u32 = u32::MAX;
    let words = [
        FLAGS,
        1,  // max sessions
        0,  // sessions
        1,  // max read/write sessions
        0,  // read/write sessions
        16, // max PIN length
        6,  // min PIN length
        UNAVAILABLE,
        UNAVAILABLE,
        UNAVAILABLE,
        UNAVAILABLE,
    ];
    for w in words {
        v.extend_from_slice(&w.to_be_bytes());
    }
    // Hardware and firmware versions: ASCII "03" and "01" on a real card (reported).
    v.extend_from_slice(b"0301");
    v.extend_from_slice(&[b'0'; 16]);
    debug_assert_eq!(v.len(), 160);
    v
}

/// The JPKI keys and certificates `device` carries for `subject`: a phone its own (its
/// スマホ用電子証明書, issued by the same CAs), the card and a test card the card's.
pub fn keys_of(subject: &Subject, device: Device) -> JpkiKeyRefs<'_> {
    match device {
        Device::Android => subject.keys.android.refs(),
        Device::Iphone => subject.keys.iphone.refs(),
        Device::Card | Device::TestCard => subject.keys.card(),
    }
}

/// Builds the JPKI AP of `device` for `subject` (a phone with its own keys and certificates);
/// its PINs take persistent slots from `pins`.
pub(crate) fn build(
    params: &JpkiParams,
    subject: &Subject,
    device: Device,
    pins: &mut Vec<PinRecord>,
) -> IsoApp {
    let keys = keys_of(subject, device);
    let id = &subject.identity;
    let mut slot = |pin: &Secret<String>, tries: u8| {
        pins.push(PinRecord {
            value: Secret::new(pin.expose().as_bytes().to_vec()),
            tries_left: tries,
        });
        pins.len() - 1
    };
    let auth_tries = params.auth_pin_tries.value;
    let sign_tries = params.sign_pin_tries.value;
    let auth_slot = slot(&id.pins.auth, auth_tries);
    let sign_slot = slot(&id.pins.sign, sign_tries);
    let binary = |data: &[u8], read: Access| EfBody::Binary {
        data: Arc::from(data),
        read,
    };
    let auth_cert_read = if params.auth_cert_needs_pin.value {
        Access::AnyPin(vec![ef::AUTH_PIN])
    } else {
        Access::Always
    };
    let auth_key_usage = if params.auth_key_needs_approval.value {
        Access::Approval
    } else {
        Access::AnyPin(vec![ef::AUTH_PIN])
    };
    let files = vec![
        Ef {
            fid: ef::SIGN_CERT,
            body: binary(keys.sign_cert, Access::AnyPin(vec![ef::SIGN_PIN])),
        },
        Ef {
            fid: ef::SIGN_CA_CERT,
            body: binary(&subject.sign_ca_cert, Access::Always),
        },
        Ef {
            fid: ef::TOKEN_INFO,
            body: binary(
                &token_info(
                    &params.token.value,
                    &params.token_model.value,
                    &id.card_serial,
                ),
                Access::Always,
            ),
        },
        Ef {
            fid: ef::CERT_FLAGS,
            body: binary(&[0x8F, 0x8F, 0x00], Access::Always),
        },
        Ef {
            fid: ef::PROTECTED_0009,
            body: binary(&[0xFF; 16], Access::AnyPin(Vec::new())),
        },
        Ef {
            fid: ef::TERMINAL_CA,
            body: binary(&[], Access::AnyPin(Vec::new())),
        },
        Ef {
            fid: ef::AUTH_CERT,
            body: binary(keys.auth_cert, auth_cert_read),
        },
        Ef {
            fid: ef::AUTH_CA_CERT,
            body: binary(&subject.auth_ca_cert, Access::Always),
        },
        Ef {
            fid: ef::AUTH_KEY,
            body: EfBody::Key {
                key: Arc::new(keys.auth_key.clone()),
                usage: auth_key_usage,
            },
        },
        Ef {
            fid: ef::AUTH_PIN,
            body: EfBody::Pin {
                slot: auth_slot,
                spec: PinSpec {
                    min_len: 4,
                    max_len: 4,
                    charset: Charset::Digits,
                    max_tries: auth_tries,
                },
            },
        },
        Ef {
            fid: ef::SIGN_KEY,
            body: EfBody::Key {
                key: Arc::new(keys.sign_key.clone()),
                usage: Access::AnyPin(vec![ef::SIGN_PIN]),
            },
        },
        Ef {
            fid: ef::SIGN_PIN,
            body: EfBody::Pin {
                slot: sign_slot,
                spec: PinSpec {
                    min_len: 6,
                    max_len: 16,
                    charset: Charset::UpperAlnum,
                    max_tries: sign_tries,
                },
            },
        },
    ];
    IsoApp {
        aid: AID.to_vec(),
        files,
        select_mf_ok: params.select_mf_after_ap_ok.value,
        last_command: Some(params.last_command_indicator.value),
        refused: vec![
            // `80 AE`: 69 82 (reported, OpenSC pull request #959).
            Refusal {
                cla: 0x80,
                ins: 0xAE,
                sw: StatusWord::SECURITY_STATUS_NOT_SATISFIED,
            },
            // `80 A2`, the terminal-CA key check: 6A 86 with P1P2 00 00, 00 AE, 80 00 and 00 B6
            // (reported by myna-card's author), taken for every P1P2 (modelled).
            Refusal {
                cla: 0x80,
                ins: 0xA2,
                sw: StatusWord::WRONG_P1P2,
            },
            // INTERNAL AUTHENTICATE on the JPKI keys: 69 82 (reported by myna-card's author).
            Refusal {
                cla: 0x00,
                ins: 0x88,
                sw: StatusWord::SECURITY_STATUS_NOT_SATISFIED,
            },
        ],
        sign_schemes: params
            .signature_p1
            .value
            .iter()
            .filter_map(|p1| Scheme::from_p1(*p1))
            .collect(),
        default_key: None,
        internal_authenticate: false,
        change_key: false,
    }
}
