//! The 共通カードAP (common card AP) and the 住基AP (basic resident register AP) of the physical
//! My Number card: record files read with READ RECORD, a 4-digit PIN each with its own counter,
//! JICSAP's CHANGE KEY, and the 共通カードAP's key that signs a challenge with no credential
//! (`docs/jpki.md`).
//!
//! The 共通カードAP's record is what client software reads first on every マイナポータル or e-Tax
//! login (`00 A4 04 0C 0A D3 92 10 00 31 00 01 01 01 00`, then `00 B2 01 0C 00`): the card's
//! serial, the issuing municipality's code and the expiry date, in 28 ASCII digits.

use crate::iso7816::status::StatusWord;
use crate::platform::cv_cert::KeyId;
use crate::platform::identity::Subject;
use crate::platform::os::{Access, Ef, EfBody, IsoApp, PinRecord, Refusal, store_pin};
use crate::platform::profile::PinAppParams;
use std::sync::Arc;

/// AID of the 共通カードAP.
pub const AID: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x01, 0x00];

/// AID of the 住基AP.
pub const JUKI_AID: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x01];

/// Elementary files and keys of both applications.
pub mod ef {
    /// 共通カードAP: record 1 is `01 1C` + serial (15) ‖ municipality code (5) ‖ expiry (8).
    pub const CARD_RECORD: u16 = 0x0001;
    /// Both: one record, a 16-byte key reference (the same in both applications).
    pub const KEY_REFERENCE: u16 = 0x0002;
    /// 共通カードAP: the key INTERNAL AUTHENTICATE signs with, no credential needed.
    pub const CARD_KEY: u16 = 0x0019;
    /// Both: the application's 4-digit PIN.
    pub const PIN: u16 = 0x001C;
}

/// The 共通カードAP's record 1: `01 1C` and 28 ASCII digits — the card serial (15), the issuing
/// municipality's code (5) and the expiry date `YYYYMMDD` (8).
pub fn card_record(subject: &Subject) -> Vec<u8> {
    let id = &subject.identity;
    let digits = format!(
        "{}{}{}",
        id.card_serial,
        id.municipality_code,
        id.card_expiry_yyyymmdd()
    );
    let mut record = vec![0x01, digits.len() as u8];
    record.extend_from_slice(digits.as_bytes());
    record
}

/// The 16-byte key reference both applications' EF 0002 holds (its meaning is not public;
/// kazasu writes a key id of the municipality).
pub fn key_reference(subject: &Subject) -> [u8; 16] {
    KeyId::municipal(&subject.identity.municipality_code, "10", "001")
        .expect("identities are checked to have 5-digit municipality codes")
        .0
}

fn records(records: Vec<Vec<u8>>) -> EfBody {
    EfBody::Records {
        records: records.into_iter().map(Arc::from).collect(),
        read: Access::Always,
    }
}

fn app(aid: [u8; 10], files: Vec<Ef>, session_key: StatusWord, internal_auth: bool) -> IsoApp {
    IsoApp {
        aid: aid.to_vec(),
        files,
        select_mf_ok: true,
        last_command: None,
        // SET SESSION KEY (`80 AE`): 66 F1 in the 共通カードAP, 69 82 in the 住基AP even after
        // the PIN (reported by myna-card's author).
        refused: vec![Refusal {
            cla: 0x80,
            ins: 0xAE,
            sw: session_key,
        }],
        sign_schemes: Vec::new(),
        default_key: None,
        internal_authenticate: internal_auth,
        change_key: true,
    }
}

/// Builds the 共通カードAP for `subject`; its PIN takes a persistent slot from `pins`.
pub(crate) fn build(params: &PinAppParams, subject: &Subject, pins: &mut Vec<PinRecord>) -> IsoApp {
    let tries = params.pin_tries.value;
    let slot = store_pin(
        pins,
        subject.identity.pins.common().expose().as_bytes(),
        tries,
    );
    let files = vec![
        Ef {
            fid: ef::CARD_RECORD,
            body: records(vec![card_record(subject)]),
        },
        Ef {
            fid: ef::KEY_REFERENCE,
            body: records(vec![key_reference(subject).to_vec()]),
        },
        Ef {
            fid: ef::CARD_KEY,
            body: EfBody::Key {
                key: Arc::new(subject.keys.common_key.clone()),
                usage: Access::Always,
            },
        },
        Ef::digit_pin(ef::PIN, slot, 4, tries),
    ];
    app(AID, files, StatusWord::NO_SESSION_KEY, true)
}

/// Builds the 住基AP for `subject`; its PIN takes a persistent slot from `pins`. Verifying it
/// opens nothing a client can see (reported).
pub(crate) fn build_juki(
    params: &PinAppParams,
    subject: &Subject,
    pins: &mut Vec<PinRecord>,
) -> IsoApp {
    let tries = params.pin_tries.value;
    let slot = store_pin(
        pins,
        subject.identity.pins.juki().expose().as_bytes(),
        tries,
    );
    let files = vec![
        Ef {
            fid: ef::KEY_REFERENCE,
            body: records(vec![key_reference(subject).to_vec()]),
        },
        Ef::digit_pin(ef::PIN, slot, 4, tries),
    ];
    app(
        JUKI_AID,
        files,
        StatusWord::SECURITY_STATUS_NOT_SATISFIED,
        false,
    )
}
