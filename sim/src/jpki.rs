//! The JPKI AP (公的個人認証AP) as files on the card OS, exactly as `docs/jpki.md`
//! describes it: certificates, CA certificates, token info, keys and PINs.

use crate::identity::Subject;
use crate::os::{Access, Charset, Ef, EfBody, IsoApp, PinRecord, PinSpec};
use crate::profile::JpkiParams;
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
    /// Token info: a 32-byte space-padded name.
    pub const TOKEN_INFO: u16 = 0x0006;
    /// Certificate presence flags.
    pub const CERT_FLAGS: u16 = 0x0008;
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

/// The token name as EF 0006 holds it: 32 bytes, space-padded.
pub fn token_info(name: &str) -> Vec<u8> {
    let mut v = name.as_bytes().to_vec();
    v.resize(32, b' ');
    v
}

/// Builds the JPKI AP for `subject`; its PINs take persistent slots from `pins`.
pub(crate) fn build(params: &JpkiParams, subject: &Subject, pins: &mut Vec<PinRecord>) -> IsoApp {
    let keys = &subject.keys;
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
            body: binary(&keys.sign_cert, Access::AnyPin(vec![ef::SIGN_PIN])),
        },
        Ef {
            fid: ef::SIGN_CA_CERT,
            body: binary(&subject.sign_ca_cert, Access::Always),
        },
        Ef {
            fid: ef::TOKEN_INFO,
            body: binary(&token_info(&params.token.value), Access::Always),
        },
        Ef {
            fid: ef::CERT_FLAGS,
            body: binary(&[0x8F, 0x8F, 0x00], Access::Always),
        },
        Ef {
            fid: ef::AUTH_CERT,
            body: binary(&keys.auth_cert, auth_cert_read),
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
        refuses_80ae: true,
    }
}
