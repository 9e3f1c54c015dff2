//! What a reader answers through PC/SC beside the card's APDUs, sans IO: its attributes
//! (`SCardGetAttrib`) and its PC/SC part 10 features (`SCardControl`) — the feature list, the
//! TLV properties, a PIN pad's VERIFY PIN DIRECT and MODIFY PIN DIRECT, vendor escapes.
//!
//! The PIN is typed on the pad by an [`Operator`] (a scenario or serve script says what that
//! person does); the reader puts it into the command it sends the card, so the PIN never
//! crosses to the host, and its bytes are masked in the air the reader keeps. Codes and
//! layouts are pcsc-lite's `reader.h`; a PIN entry that times out answers 64 00 and one
//! cancelled 64 01, as libccid gives them (`docs/pcsc-reader.md`).

use super::air;
use super::error::LinkError;
use super::log::Direction;
use super::profile::ReaderProfile;
use crate::iso14443::frame::{append_crc, check_crc};
use crate::platform::profile::NfcType;
use crate::secret::Secret;
use crate::time::SimDuration;

/// PC/SC's control codes, part 10's feature tags and the attribute tags the reader answers.
pub mod code {
    /// `SCARD_CTL_CODE(code)` as pcsc-lite defines it.
    pub const fn ctl(code: u32) -> u32 {
        0x4200_0000 + code
    }
    /// `CM_IOCTL_GET_FEATURE_REQUEST`: the features and their control codes.
    pub const GET_FEATURE_REQUEST: u32 = ctl(3400);
    /// The control code a reader gives a part 10 feature (libccid's: `SCARD_CTL_CODE(0x330000 +
    /// tag)`).
    pub const fn feature(tag: u8) -> u32 {
        ctl(0x33_0000 + tag as u32)
    }
    /// `FEATURE_VERIFY_PIN_DIRECT`.
    pub const VERIFY_PIN_DIRECT: u8 = 0x06;
    /// `FEATURE_MODIFY_PIN_DIRECT`.
    pub const MODIFY_PIN_DIRECT: u8 = 0x07;
    /// `FEATURE_IFD_PIN_PROPERTIES`.
    pub const IFD_PIN_PROPERTIES: u8 = 0x0A;
    /// `FEATURE_GET_TLV_PROPERTIES`.
    pub const GET_TLV_PROPERTIES: u8 = 0x12;
    /// `FEATURE_CCID_ESC_COMMAND`.
    pub const CCID_ESC_COMMAND: u8 = 0x13;
    /// The escape command's control code (libccid's `IOCTL_SMARTCARD_VENDOR_IFD_EXCHANGE`).
    pub const ESCAPE: u32 = ctl(1);

    /// `SCARD_ATTR_VENDOR_NAME`.
    pub const ATTR_VENDOR_NAME: u32 = 0x0001_0100;
    /// `SCARD_ATTR_VENDOR_IFD_TYPE`.
    pub const ATTR_VENDOR_IFD_TYPE: u32 = 0x0001_0101;
    /// `SCARD_ATTR_VENDOR_IFD_VERSION`.
    pub const ATTR_VENDOR_IFD_VERSION: u32 = 0x0001_0102;
    /// `SCARD_ATTR_VENDOR_IFD_SERIAL_NO`.
    pub const ATTR_VENDOR_IFD_SERIAL_NO: u32 = 0x0001_0103;
    /// `SCARD_ATTR_CHANNEL_ID`.
    pub const ATTR_CHANNEL_ID: u32 = 0x0002_0110;
    /// `SCARD_ATTR_MAX_IFSD`.
    pub const ATTR_MAX_IFSD: u32 = 0x0003_0125;
    /// `SCARD_ATTR_CURRENT_IFSC`.
    pub const ATTR_CURRENT_IFSC: u32 = 0x0008_0207;
    /// `SCARD_ATTR_CURRENT_IFSD`.
    pub const ATTR_CURRENT_IFSD: u32 = 0x0008_0208;
    /// `SCARD_ATTR_ICC_PRESENCE`.
    pub const ATTR_ICC_PRESENCE: u32 = 0x0009_0300;
    /// `SCARD_ATTR_ICC_INTERFACE_STATUS`.
    pub const ATTR_ICC_INTERFACE_STATUS: u32 = 0x0009_0301;
    /// `SCARD_ATTR_MAXINPUT`.
    pub const ATTR_MAXINPUT: u32 = 0x0007_A007;

    /// Part 10's TLV property tags (`PCSCv2_PART10_PROPERTY_…`).
    pub mod property {
        /// wLcdLayout.
        pub const LCD_LAYOUT: u8 = 1;
        /// bEntryValidationCondition.
        pub const ENTRY_VALIDATION_CONDITION: u8 = 2;
        /// bTimeOut2.
        pub const TIMEOUT2: u8 = 3;
        /// bMinPINSize.
        pub const MIN_PIN_SIZE: u8 = 6;
        /// bMaxPINSize.
        pub const MAX_PIN_SIZE: u8 = 7;
        /// sFirmwareID.
        pub const FIRMWARE_ID: u8 = 8;
        /// dwMaxAPDUDataSize.
        pub const MAX_APDU_DATA_SIZE: u8 = 10;
        /// wIdVendor.
        pub const ID_VENDOR: u8 = 11;
        /// wIdProduct.
        pub const ID_PRODUCT: u8 = 12;
    }
}

/// What the person at the PIN pad does at the next PIN entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Operator {
    /// Nobody is there: the entry times out (64 00).
    #[default]
    Away,
    /// Types `pin` (and, for a change, `new_pin` twice) and presses OK, `after` the prompt.
    Enters {
        /// The PIN typed.
        pin: Secret<String>,
        /// The new PIN, for a change.
        new_pin: Option<Secret<String>>,
        /// How long the typing takes.
        after: SimDuration,
    },
    /// Presses Cancel `after` the prompt (64 01).
    Cancels {
        /// How long until the key is pressed.
        after: SimDuration,
    },
}

/// Why a control request gets no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The reader has no such feature (pcscd: `SCARD_E_UNSUPPORTED_FEATURE`).
    #[error("the reader has no feature with control code {0:#010X}")]
    Unsupported(u32),
    /// The request's structure is too short or its lengths disagree (libccid refuses it:
    /// `SCARD_E_UNSUPPORTED_FEATURE` too).
    #[error("malformed {feature} structure: {why}")]
    Malformed {
        /// The feature.
        feature: &'static str,
        /// What is wrong.
        why: String,
    },
    /// The reader failed the request (an escape it does not know; pcscd:
    /// `SCARD_E_NOT_TRANSACTED`).
    #[error("the reader refused escape command {0}")]
    EscapeRefused(String),
    /// The exchange with the card failed during a PIN-pad command.
    #[error("{0}")]
    Link(LinkError),
    /// The PC/SC stack failed the request (`SCARD_E_NOT_TRANSACTED` and the like).
    #[error("the reader failed the request: {0}")]
    Failed(String),
}

/// The attributes a reader answers, by the names scenarios give them.
pub const ATTRIBUTES: &[(&str, u32)] = &[
    ("vendor-name", code::ATTR_VENDOR_NAME),
    ("ifd-type", code::ATTR_VENDOR_IFD_TYPE),
    ("ifd-version", code::ATTR_VENDOR_IFD_VERSION),
    ("ifd-serial-no", code::ATTR_VENDOR_IFD_SERIAL_NO),
    ("channel-id", code::ATTR_CHANNEL_ID),
    ("max-ifsd", code::ATTR_MAX_IFSD),
    ("current-ifsc", code::ATTR_CURRENT_IFSC),
    ("current-ifsd", code::ATTR_CURRENT_IFSD),
    ("maxinput", code::ATTR_MAXINPUT),
    ("icc-presence", code::ATTR_ICC_PRESENCE),
    ("icc-interface-status", code::ATTR_ICC_INTERFACE_STATUS),
];

/// The part 10 features by the names scenarios give them (their tags).
pub const FEATURES: &[(&str, u8)] = &[
    ("verify-pin-direct", code::VERIFY_PIN_DIRECT),
    ("modify-pin-direct", code::MODIFY_PIN_DIRECT),
    ("ifd-pin-properties", code::IFD_PIN_PROPERTIES),
    ("get-tlv-properties", code::GET_TLV_PROPERTIES),
    ("ccid-esc-command", code::CCID_ESC_COMMAND),
];

/// The control code GET_FEATURE_REQUEST's answer gives `tag`, if it lists it.
pub fn listed_code(feature_list: &[u8], tag: u8) -> Option<u32> {
    let mut rest = feature_list;
    while let [t, 4, a, b, c, d, tail @ ..] = rest {
        if *t == tag {
            return Some(u32::from_be_bytes([*a, *b, *c, *d]));
        }
        rest = tail;
    }
    None
}

/// A VERIFY PIN DIRECT structure for a PIN of ASCII digits the pad sends as typed (Lc set to
/// its length), to the PIN of reference `p2` — how the JPKI and card-info PINs are verified.
pub fn verify_ascii_pin(p2: u8, min_digits: u8, max_digits: u8) -> Vec<u8> {
    // bTimerOut 0 (the pad's), bTimerOut2 0, bmFormatString 0x82 (bytes, position 0, left,
    // ASCII), bmPINBlockString 0 (no block: as typed), bmPINLengthFormat 0,
    // wPINMaxExtraDigit (max, min), bEntryValidationCondition 2 (OK key), bNumberMessage 1,
    // wLangId 0x0409, bMsgIndex 0, bTeoPrologue 00 00 00, then the APDU's length and the APDU.
    let apdu = [0x00, 0x20, 0x00, p2, 0x00];
    let mut s = vec![
        0x00, 0x00, 0x82, 0x00, 0x00, max_digits, min_digits, 0x02, 0x01, 0x09, 0x04, 0x00,
    ];
    s.extend([0x00, 0x00, 0x00]);
    s.extend((apdu.len() as u32).to_le_bytes());
    s.extend(apdu);
    s
}

/// The answer to a PIN entry that timed out (libccid, CCID bError F0).
pub const PIN_TIMED_OUT: [u8; 2] = [0x64, 0x00];
/// The answer to a PIN entry cancelled on the pad (libccid, CCID bError EF).
pub const PIN_CANCELLED: [u8; 2] = [0x64, 0x01];
/// PC/SC part 10: the two new PINs typed differ.
pub const NEW_PINS_DIFFER: [u8; 2] = [0x64, 0x02];
/// PC/SC part 10: a PIN shorter or longer than the pad and the command allow.
pub const PIN_LENGTH_REFUSED: [u8; 2] = [0x64, 0x03];
/// PC/SC part 10: a parameter of the structure is invalid.
pub const INVALID_PARAMETER: [u8; 2] = [0x6B, 0x80];

/// The features a reader of `profile` offers, in the order GET_FEATURE_REQUEST lists them.
pub fn features(profile: &ReaderProfile) -> Vec<u8> {
    let pad = profile.pin_pad.as_ref().map(|p| &p.value);
    let mut tags = Vec::new();
    if pad.is_some() {
        tags.push(code::VERIFY_PIN_DIRECT);
    }
    if pad.is_some_and(|p| p.modify) {
        tags.push(code::MODIFY_PIN_DIRECT);
    }
    tags.push(code::IFD_PIN_PROPERTIES);
    tags.push(code::GET_TLV_PROPERTIES);
    if profile
        .escapes
        .as_ref()
        .is_some_and(|e| !e.value.is_empty())
    {
        tags.push(code::CCID_ESC_COMMAND);
    }
    tags
}

/// The control code of a feature tag.
fn feature_code(tag: u8) -> u32 {
    if tag == code::CCID_ESC_COMMAND {
        code::ESCAPE
    } else {
        code::feature(tag)
    }
}

/// GET_FEATURE_REQUEST's answer: a TLV per feature, its control code big-endian.
pub fn feature_list(profile: &ReaderProfile) -> Vec<u8> {
    features(profile)
        .into_iter()
        .flat_map(|tag| {
            let mut tlv = vec![tag, 4];
            tlv.extend(feature_code(tag).to_be_bytes());
            tlv
        })
        .collect()
}

/// GET_TLV_PROPERTIES' answer, values little-endian: the validation key, the pad's PIN sizes,
/// the firmware, the USB ids and dwMaxAPDUDataSize (0: short APDUs only; 65,536 where the
/// reader passes extended APDUs, as libccid reports a TPDU or extended-APDU reader).
pub fn tlv_properties(profile: &ReaderProfile) -> Vec<u8> {
    use code::property::*;
    let mut out = Vec::new();
    let mut put = |tag: u8, value: &[u8]| {
        out.push(tag);
        out.push(value.len() as u8);
        out.extend_from_slice(value);
    };
    put(LCD_LAYOUT, &0u16.to_le_bytes());
    // Validation key pressed.
    put(ENTRY_VALIDATION_CONDITION, &[0x02]);
    put(TIMEOUT2, &[0x00]);
    if let Some(pad) = &profile.pin_pad {
        put(MIN_PIN_SIZE, &[pad.value.min_digits]);
        put(MAX_PIN_SIZE, &[pad.value.max_digits]);
    }
    let attributes = attributes_of(profile);
    put(FIRMWARE_ID, attributes.version.as_bytes());
    let usb = profile.usb();
    let (vendor, product) = usb.vendor_product().unwrap_or((0x1209, 0x0001));
    put(ID_VENDOR, &vendor.to_le_bytes());
    put(ID_PRODUCT, &product.to_le_bytes());
    let max_apdu: u32 = match profile.extended_apdus.value {
        super::profile::ExtendedApdus::Supported => 0x1_0000,
        _ => 0,
    };
    put(MAX_APDU_DATA_SIZE, &max_apdu.to_le_bytes());
    out
}

/// IFD_PIN_PROPERTIES' answer (`PIN_PROPERTIES_STRUCTURE`): no display, validation key, no
/// second time-out.
pub fn pin_properties() -> Vec<u8> {
    vec![0x00, 0x00, 0x02, 0x00]
}

/// The reader's description (the profile's, or kazasu's synthetic one).
fn attributes_of(profile: &ReaderProfile) -> super::profile::Attributes {
    profile.attributes.as_ref().map_or_else(
        || super::profile::Attributes {
            vendor: "kazasu".into(),
            model: profile.name.clone(),
            version: "1.0.0".into(),
            serial: None,
        },
        |a| a.value.clone(),
    )
}

/// A string attribute as PC/SC gives it: NUL-terminated.
fn c_string(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// A PIN entry's command, read from a VERIFY or MODIFY PIN DIRECT structure.
struct PinCommand {
    timeout_s: u8,
    format: u8,
    block: u8,
    length_format: u8,
    min_digits: u8,
    max_digits: u8,
    /// Offsets of the current and new PIN (MODIFY), in bytes after the PIN position.
    offsets: Option<(u8, u8)>,
    /// MODIFY: bConfirmPIN.
    confirm: u8,
    apdu: Vec<u8>,
}

impl PinCommand {
    /// Reads `PIN_VERIFY_STRUCTURE` (`modify` false) or `PIN_MODIFY_STRUCTURE`.
    fn parse(data: &[u8], modify: bool) -> Result<PinCommand, ControlError> {
        let feature = if modify {
            "PIN_MODIFY_STRUCTURE"
        } else {
            "PIN_VERIFY_STRUCTURE"
        };
        let malformed = |why: String| ControlError::Malformed { feature, why };
        let header = if modify { 24 } else { 19 };
        if data.len() < header + 4 {
            return Err(malformed(format!(
                "{} bytes, shorter than its {header}-byte header and a 4-byte APDU",
                data.len()
            )));
        }
        let extra = if modify { 7 } else { 5 };
        let declared = u32::from_le_bytes([
            data[header - 4],
            data[header - 3],
            data[header - 2],
            data[header - 1],
        ]) as usize;
        if declared != data.len() - header {
            return Err(malformed(format!(
                "ulDataLength says {declared} bytes of APDU, {} follow",
                data.len() - header
            )));
        }
        Ok(PinCommand {
            timeout_s: data[0],
            format: data[2],
            block: data[3],
            length_format: data[4],
            // wPINMaxExtraDigit 0xXXYY, little-endian: YY (max) first.
            max_digits: data[extra],
            min_digits: data[extra + 1],
            offsets: modify.then(|| (data[5], data[6])),
            confirm: if modify { data[9] } else { 0 },
            apdu: data[header..].to_vec(),
        })
    }

    /// The command with `pin` placed at the PIN position plus `offset` bytes (and its length
    /// where the block carries one); the range of the APDU the PIN occupies. `None`: the
    /// structure asks for a layout the pad cannot make (6B 80).
    fn place(&self, apdu: &mut Vec<u8>, pin: &str, offset: u8) -> Option<std::ops::Range<usize>> {
        let bytes_unit = self.format & 0x80 != 0;
        let position = usize::from((self.format >> 3) & 0x0F);
        let right = self.format & 0x04 != 0;
        let digits: Vec<u8> = pin.bytes().map(|b| b.wrapping_sub(b'0')).collect();
        if digits.iter().any(|d| *d > 9) {
            return None;
        }
        let encoded: Vec<u8> = match self.format & 0x03 {
            // Binary: a digit per byte.
            0 => digits.clone(),
            // BCD: two digits per byte, an odd last digit padded with F.
            1 => digits
                .chunks(2)
                .map(|c| c[0] << 4 | c.get(1).copied().unwrap_or(0x0F))
                .collect(),
            2 => pin.as_bytes().to_vec(),
            _ => return None,
        };
        // Bit units place the PIN at a bit offset: only whole bytes are modelled.
        let position = if bytes_unit {
            position
        } else if position % 8 == 0 {
            position / 8
        } else {
            return None;
        };
        let start = 5 + position + usize::from(offset);
        let block = usize::from(self.block & 0x0F);
        let pin_at = if block == 0 {
            // No block: the PIN as typed, Lc set to the data that results.
            apdu.truncate(start.max(5));
            apdu.resize(start, 0xFF);
            let at = apdu.len();
            apdu.extend_from_slice(&encoded);
            apdu[4] = u8::try_from(apdu.len() - 5).ok()?;
            at..apdu.len()
        } else {
            if encoded.len() > block || apdu.len() < start + block {
                return None;
            }
            let at = if right {
                start + block - encoded.len()
            } else {
                start
            };
            apdu[at..at + encoded.len()].copy_from_slice(&encoded);
            at..at + encoded.len()
        };
        // The PIN's length, where the block carries it (e.g. ISO 9564 format 2's `2L`).
        let length_bits = usize::from(self.block >> 4);
        if length_bits > 0 {
            let unit_bytes = self.length_format & 0x10 != 0;
            let at = usize::from(self.length_format & 0x0F);
            let bit = 8 * 5 + if unit_bytes { 8 * at } else { at };
            put_bits(apdu, bit, length_bits, digits.len())?;
        }
        Some(pin_at)
    }
}

/// Writes `value` in `width` bits at bit offset `bit` (most significant bit first).
fn put_bits(buf: &mut [u8], bit: usize, width: usize, value: usize) -> Option<()> {
    if width > 8 || (bit + width).div_ceil(8) > buf.len() {
        return None;
    }
    for i in 0..width {
        let b = bit + i;
        let on = (value >> (width - 1 - i)) & 1 == 1;
        let mask = 0x80u8 >> (b % 8);
        if on {
            buf[b / 8] |= mask;
        } else {
            buf[b / 8] &= !mask;
        }
    }
    Some(())
}

/// What the PIN pad needs of the reader it sits in: time passing while its operator types,
/// and the command it completed sent to the card (the PIN's bytes, `secrets`, kept out of
/// whatever the reader records).
pub trait PadHost {
    /// Lets `d` pass.
    fn wait(&mut self, d: SimDuration);
    /// Sends the command to the card; its answer.
    fn send(&mut self, apdu: &[u8], secrets: &[Vec<u8>]) -> Result<Vec<u8>, LinkError>;
}

/// An attribute as `SCardGetAttrib` gives it, or `None` for one the reader does not know;
/// `card_fsci`: the FSCI of the card in the field, if one is.
pub fn attribute(profile: &ReaderProfile, card_fsci: Option<u8>, tag: u32) -> Option<Vec<u8>> {
    let a = attributes_of(profile);
    let dword = |v: u32| v.to_le_bytes().to_vec();
    Some(match tag {
        code::ATTR_VENDOR_NAME => c_string(&a.vendor),
        code::ATTR_VENDOR_IFD_TYPE => c_string(&a.model),
        code::ATTR_VENDOR_IFD_VERSION => dword(a.version_dword()?),
        code::ATTR_VENDOR_IFD_SERIAL_NO => c_string(a.serial.as_deref()?),
        // 0xDDDDCCCC: DDDD 0x0020 is USB.
        code::ATTR_CHANNEL_ID => dword(0x0020_0000),
        code::ATTR_MAX_IFSD => dword(profile.usb().max_ifsd),
        code::ATTR_CURRENT_IFSD => dword(profile.frame_size().saturating_sub(2) as u32),
        code::ATTR_CURRENT_IFSC => {
            let fsc = crate::iso14443::atr::frame_size(card_fsci?);
            dword(fsc.saturating_sub(2) as u32)
        }
        // libccid: the largest command the host may send, dwMaxCCIDMessageLength − 10.
        code::ATTR_MAXINPUT => dword(profile.usb().max_message.saturating_sub(10)),
        // libccid's values: 2 (present, "swallowed") or 0.
        code::ATTR_ICC_PRESENCE => vec![if card_fsci.is_some() { 2 } else { 0 }],
        code::ATTR_ICC_INTERFACE_STATUS => vec![u8::from(card_fsci.is_some())],
        _ => return None,
    })
}

/// Answers an `SCardControl` request to a reader of `profile` whose pad's person is
/// `operator`.
pub fn control(
    profile: &ReaderProfile,
    operator: &Operator,
    control_code: u32,
    data: &[u8],
    host: &mut dyn PadHost,
) -> Result<Vec<u8>, ControlError> {
    let offered = |tag: u8| features(profile).contains(&tag);
    match control_code {
        code::GET_FEATURE_REQUEST => Ok(feature_list(profile)),
        c if c == code::feature(code::GET_TLV_PROPERTIES) => Ok(tlv_properties(profile)),
        c if c == code::feature(code::IFD_PIN_PROPERTIES) => Ok(pin_properties()),
        c if c == code::feature(code::VERIFY_PIN_DIRECT) && offered(code::VERIFY_PIN_DIRECT) => {
            pin_entry(profile, operator, PinCommand::parse(data, false)?, host)
        }
        c if c == code::feature(code::MODIFY_PIN_DIRECT) && offered(code::MODIFY_PIN_DIRECT) => {
            pin_entry(profile, operator, PinCommand::parse(data, true)?, host)
        }
        code::ESCAPE if offered(code::CCID_ESC_COMMAND) => {
            let escapes = profile.escapes.as_ref().map(|e| &e.value);
            escapes
                .and_then(|e| e.iter().find(|e| e.command.0 == data))
                .map(|e| e.answer.0.clone())
                .ok_or_else(|| ControlError::EscapeRefused(crate::hex_spaced(data)))
        }
        other => Err(ControlError::Unsupported(other)),
    }
}

/// A PIN entry on the pad, then the command with the PIN to the card.
fn pin_entry(
    profile: &ReaderProfile,
    operator: &Operator,
    cmd: PinCommand,
    host: &mut dyn PadHost,
) -> Result<Vec<u8>, ControlError> {
    let Some(pad) = profile.pin_pad.as_ref().map(|p| &p.value) else {
        return Err(ControlError::Unsupported(code::feature(
            code::VERIFY_PIN_DIRECT,
        )));
    };
    if cmd.apdu.len() < 5 || cmd.min_digits > cmd.max_digits {
        return Ok(INVALID_PARAMETER.to_vec());
    }
    let timeout = match cmd.timeout_s {
        0 => pad.timeout.0,
        s => SimDuration::from_secs(u64::from(s)),
    };
    let (pin, new_pin, after) = match operator {
        Operator::Enters {
            pin,
            new_pin,
            after,
        } if *after < timeout => (pin, new_pin, *after),
        Operator::Cancels { after } if *after < timeout => {
            host.wait(*after);
            return Ok(PIN_CANCELLED.to_vec());
        }
        // Nobody there, or too slow: the pad gives up.
        _ => {
            host.wait(timeout);
            return Ok(PIN_TIMED_OUT.to_vec());
        }
    };
    host.wait(after);
    let allowed = |p: &Secret<String>| {
        let n = p.expose().len();
        n >= usize::from(pad.min_digits.max(cmd.min_digits))
            && n <= usize::from(pad.max_digits.min(cmd.max_digits))
    };
    let mut apdu = cmd.apdu.clone();
    let mut placed = Vec::new();
    match cmd.offsets {
        None => {
            if !allowed(pin) {
                return Ok(PIN_LENGTH_REFUSED.to_vec());
            }
            match cmd.place(&mut apdu, pin.expose(), 0) {
                Some(r) => placed.push(r),
                None => return Ok(INVALID_PARAMETER.to_vec()),
            }
        }
        Some((old_at, new_at)) => {
            let Some(new_pin) = new_pin else {
                // The operator typed no new PIN: the pad waits until it gives up.
                host.wait(timeout.saturating_sub(after));
                return Ok(PIN_TIMED_OUT.to_vec());
            };
            let asks_current = cmd.confirm & 0x02 != 0;
            if (asks_current && !allowed(pin)) || !allowed(new_pin) {
                return Ok(PIN_LENGTH_REFUSED.to_vec());
            }
            if asks_current {
                match cmd.place(&mut apdu, pin.expose(), old_at) {
                    Some(r) => placed.push(r),
                    None => return Ok(INVALID_PARAMETER.to_vec()),
                }
            }
            match cmd.place(&mut apdu, new_pin.expose(), new_at) {
                Some(r) => placed.push(r),
                None => return Ok(INVALID_PARAMETER.to_vec()),
            }
        }
    }
    let secrets: Vec<Vec<u8>> = placed.iter().map(|r| apdu[r.clone()].to_vec()).collect();
    host.send(&apdu, &secrets).map_err(ControlError::Link)
}

/// Masks every occurrence of `secrets` in the frames the reader sent, their CRC recomputed: a
/// PIN the pad put into a command never reaches a capture.
pub fn mask_in_air(records: &mut [air::AirRecord], secrets: &[Vec<u8>]) {
    for r in records {
        let air::AirKind::Frame { dir, bytes, .. } = &mut r.kind else {
            continue;
        };
        if *dir != Direction::ToCard {
            continue;
        }
        let nfc = [NfcType::A, NfcType::B]
            .into_iter()
            .find(|n| check_crc(*n, bytes).is_ok());
        let body = bytes
            .len()
            .saturating_sub(if nfc.is_some() { 2 } else { 0 });
        let mut masked = false;
        for s in secrets.iter().filter(|s| !s.is_empty()) {
            let mut i = 0;
            while i + s.len() <= body {
                if bytes[i..i + s.len()] == s[..] {
                    bytes[i..i + s.len()].fill(b'*');
                    masked = true;
                    i += s.len();
                } else {
                    i += 1;
                }
            }
        }
        if let (true, Some(nfc)) = (masked, nfc) {
            bytes.truncate(body);
            append_crc(nfc, bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::Reader;
    use crate::{Card, CardProfile, FaultPlan, Fixtures};
    use rand_core::SeedableRng;
    use std::sync::Arc;

    fn reader(profile: &str) -> (Reader, String) {
        let card_profile = Arc::new(CardProfile::builtin("mynumber-card").expect("built-in"));
        let subject = Fixtures::embedded().default_subject();
        let pin = subject.identity.pins.auth.expose().clone();
        let card = Card::new(card_profile, subject, 1).expect("card");
        let reader = Arc::new(ReaderProfile::builtin(profile).expect("built-in"));
        let rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        (Reader::new(reader, card, FaultPlan::new(vec![], rng)), pin)
    }

    /// VERIFY of the JPKI auth PIN with four ASCII digits placed by the pad (bmFormatString
    /// 0x82: bytes, position 0, left, ASCII; a 4-byte block, no length field).
    fn verify_structure(timeout_s: u8) -> Vec<u8> {
        let apdu = [0x00, 0x20, 0x00, 0x80, 0x04, 0xFF, 0xFF, 0xFF, 0xFF];
        let mut s = vec![
            timeout_s, 0x00, 0x82, 0x04, 0x00, 0x04, 0x04, 0x02, 0x01, 0x09, 0x04,
        ];
        s.extend([0x00, 0x00, 0x00, 0x00]);
        s.extend((apdu.len() as u32).to_le_bytes());
        s.extend(apdu);
        s
    }

    fn at_the_pin_ef(r: &mut Reader) {
        r.tap().expect("tap");
        let select = [0x00, 0xA4, 0x04, 0x0C, 0x0A];
        let mut cmd = select.to_vec();
        cmd.extend(crate::applets::jpki::AID);
        assert!(
            r.transmit(&cmd)
                .expect("select")
                .response
                .ends_with(&[0x90, 0x00])
        );
        let ef = [0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18];
        assert!(
            r.transmit(&ef)
                .expect("select EF")
                .response
                .ends_with(&[0x90, 0x00])
        );
    }

    #[test]
    fn the_feature_list_names_what_the_profile_has_with_libccids_codes() {
        let (r, _) = reader("pinpad-424k");
        let list = feature_list(&r.profile);
        assert_eq!(
            list,
            [
                0x06, 4, 0x42, 0x33, 0x00, 0x06, 0x07, 4, 0x42, 0x33, 0x00, 0x07, 0x0A, 4, 0x42,
                0x33, 0x00, 0x0A, 0x12, 4, 0x42, 0x33, 0x00, 0x12, 0x13, 4, 0x42, 0x00, 0x00, 0x01
            ]
        );
        let (plain, _) = reader("typical-424k");
        assert_eq!(features(&plain.profile), [0x0A, 0x12], "no pad, no escapes");
    }

    #[test]
    fn tlv_properties_carry_the_max_apdu_size_the_profile_implies() {
        fn max_apdu(tlv: &[u8]) -> u32 {
            let mut i = 0;
            while i + 2 <= tlv.len() {
                let (tag, len) = (tlv[i], usize::from(tlv[i + 1]));
                if tag == code::property::MAX_APDU_DATA_SIZE {
                    return u32::from_le_bytes(tlv[i + 2..i + 2 + len].try_into().expect("4"));
                }
                i += 2 + len;
            }
            panic!("no dwMaxAPDUDataSize in {tlv:02X?}")
        }
        let (r, _) = reader("typical-424k");
        assert_eq!(max_apdu(&tlv_properties(&r.profile)), 0x1_0000);
        let (r, _) = reader("basic-106k");
        assert_ne!(
            r.profile.extended_apdus.value,
            super::super::profile::ExtendedApdus::Supported
        );
        assert_eq!(max_apdu(&tlv_properties(&r.profile)), 0, "short APDUs only");
        let (r, _) = reader("pinpad-424k");
        let tlv = tlv_properties(&r.profile);
        assert!(
            tlv.windows(3)
                .any(|w| w == [code::property::MIN_PIN_SIZE, 1, 4])
        );
        assert!(
            tlv.windows(3)
                .any(|w| w == [code::property::MAX_PIN_SIZE, 1, 8])
        );
    }

    #[test]
    fn attributes_come_from_the_profile_as_pcsc_encodes_them() {
        let (r, _) = reader("pinpad-424k");
        assert_eq!(
            r.attribute(code::ATTR_VENDOR_NAME).expect("vendor"),
            b"kazasu test readers\0"
        );
        assert_eq!(
            r.attribute(code::ATTR_VENDOR_IFD_VERSION).expect("version"),
            0x0201_0007u32.to_le_bytes()
        );
        assert_eq!(
            r.attribute(code::ATTR_VENDOR_IFD_SERIAL_NO)
                .expect("serial"),
            b"KZ0000424\0"
        );
        assert_eq!(r.attribute(code::ATTR_ICC_PRESENCE), Some(vec![0]));
        assert_eq!(r.attribute(0x0001_FFFF), None, "an unknown tag");
        let (plain, _) = reader("typical-424k");
        assert_eq!(
            plain.attribute(code::ATTR_VENDOR_IFD_TYPE).expect("model"),
            b"typical-424k\0"
        );
        assert_eq!(plain.attribute(code::ATTR_VENDOR_IFD_SERIAL_NO), None);
    }

    #[test]
    fn the_pad_puts_the_typed_pin_into_the_verify_and_masks_it_in_the_air() {
        let (mut r, pin) = reader("pinpad-424k");
        r.keep_air();
        at_the_pin_ef(&mut r);
        let _ = r.take_air();
        r.set_operator(Operator::Enters {
            pin: Secret::new(pin.clone()),
            new_pin: None,
            after: SimDuration::from_millis(2_000),
        });
        let t0 = r.now();
        let verify = code::feature(code::VERIFY_PIN_DIRECT);
        assert_eq!(
            r.control(verify, &verify_structure(0)),
            Ok(vec![0x90, 0x00])
        );
        assert!(
            r.now().since(t0) >= SimDuration::from_millis(2_000),
            "typing takes time"
        );
        let air = r.take_air();
        let sent: Vec<&Vec<u8>> = air
            .iter()
            .filter_map(|a| match &a.kind {
                air::AirKind::Frame { dir, bytes, .. } if *dir == Direction::ToCard => Some(bytes),
                _ => None,
            })
            .collect();
        assert!(!sent.is_empty());
        for f in &sent {
            assert!(
                !f.windows(pin.len()).any(|w| w == pin.as_bytes()),
                "{f:02X?}"
            );
            assert!(
                [NfcType::A, NfcType::B]
                    .iter()
                    .any(|n| check_crc(*n, f).is_ok()),
                "CRC recomputed"
            );
        }
        assert!(sent.iter().any(|f| f.windows(4).any(|w| w == b"****")));
        // A wrong PIN typed: the card's own answer comes back.
        r.set_operator(Operator::Enters {
            pin: Secret::new("0000".into()),
            new_pin: None,
            after: SimDuration::ZERO,
        });
        assert_eq!(
            r.control(verify, &verify_structure(0)),
            Ok(vec![0x63, 0xC2])
        );
    }

    #[test]
    fn nobody_at_the_pad_a_cancel_and_a_short_pin_answer_as_the_pad_does() {
        let (mut r, _) = reader("pinpad-424k");
        at_the_pin_ef(&mut r);
        let verify = code::feature(code::VERIFY_PIN_DIRECT);
        let t0 = r.now();
        assert_eq!(
            r.control(verify, &verify_structure(0)),
            Ok(PIN_TIMED_OUT.to_vec())
        );
        assert_eq!(
            r.now().since(t0),
            SimDuration::from_secs(30),
            "the pad's own time-out"
        );
        let t0 = r.now();
        assert_eq!(
            r.control(verify, &verify_structure(5)),
            Ok(PIN_TIMED_OUT.to_vec())
        );
        assert_eq!(
            r.now().since(t0),
            SimDuration::from_secs(5),
            "the command's time-out"
        );
        r.set_operator(Operator::Cancels {
            after: SimDuration::from_millis(800),
        });
        assert_eq!(
            r.control(verify, &verify_structure(0)),
            Ok(PIN_CANCELLED.to_vec())
        );
        r.set_operator(Operator::Enters {
            pin: Secret::new("123".into()),
            new_pin: None,
            after: SimDuration::ZERO,
        });
        assert_eq!(
            r.control(verify, &verify_structure(0)),
            Ok(PIN_LENGTH_REFUSED.to_vec())
        );
        // The card still answers: the retry counter untouched by any of these.
        let counter = r
            .transmit(&[0x00, 0x20, 0x00, 0x80])
            .expect("counter")
            .response;
        assert_eq!(counter, [0x63, 0xC3]);
    }

    #[test]
    fn malformed_structures_and_missing_features_are_refused() {
        let (mut r, _) = reader("pinpad-424k");
        let verify = code::feature(code::VERIFY_PIN_DIRECT);
        assert!(matches!(
            r.control(verify, &[0x00; 10]),
            Err(ControlError::Malformed { .. })
        ));
        let mut lying = verify_structure(0);
        lying[15] = 0x20;
        assert!(matches!(
            r.control(verify, &lying),
            Err(ControlError::Malformed { .. })
        ));
        assert_eq!(
            r.control(code::ESCAPE, &[0xFF, 0x00, 0x48, 0x00, 0x00]),
            Ok(b"2.1.7\x90\x00".to_vec())
        );
        assert!(matches!(
            r.control(code::ESCAPE, &[0x01]),
            Err(ControlError::EscapeRefused(_))
        ));
        let (mut plain, _) = reader("typical-424k");
        assert_eq!(
            plain.control(verify, &verify_structure(0)),
            Err(ControlError::Unsupported(verify))
        );
        assert_eq!(
            plain.control(code::ctl(3500), &[]),
            Err(ControlError::Unsupported(code::ctl(3500)))
        );
    }

    #[test]
    fn the_ascii_verify_structure_sends_the_pin_as_typed() {
        let (mut r, pin) = reader("pinpad-424k");
        at_the_pin_ef(&mut r);
        r.set_operator(Operator::Enters {
            pin: Secret::new(pin),
            new_pin: None,
            after: SimDuration::ZERO,
        });
        let code = listed_code(&feature_list(&r.profile), code::VERIFY_PIN_DIRECT).expect("listed");
        assert_eq!(
            r.control(code, &verify_ascii_pin(0x80, 4, 4)),
            Ok(vec![0x90, 0x00])
        );
        assert_eq!(listed_code(&feature_list(&r.profile), 0x42), None);
    }

    #[test]
    fn the_pad_changes_a_verified_pin_to_the_new_one_typed_twice() {
        let (mut r, pin) = reader("pinpad-424k");
        at_the_pin_ef(&mut r);
        r.set_operator(Operator::Enters {
            pin: Secret::new(pin),
            new_pin: Some(Secret::new("5678".into())),
            after: SimDuration::ZERO,
        });
        let verify = code::feature(code::VERIFY_PIN_DIRECT);
        assert_eq!(
            r.control(verify, &verify_structure(0)),
            Ok(vec![0x90, 0x00])
        );
        // PIN_MODIFY_STRUCTURE: ASCII as typed, no current PIN asked (the card's CHANGE
        // REFERENCE DATA with P1 01 takes the new one after a VERIFY), 4-8 digits.
        let apdu = [0x00, 0x24, 0x01, 0x80, 0x00];
        let mut modify = vec![
            0x00, 0x00, 0x82, 0x00, 0x00, 0x00, 0x00, 0x08, 0x04, 0x01, 0x02, 0x02, 0x09, 0x04,
            0x00, 0x01, 0x02, 0x00, 0x00, 0x00,
        ];
        modify.extend((apdu.len() as u32).to_le_bytes());
        modify.extend(apdu);
        let change = code::feature(code::MODIFY_PIN_DIRECT);
        assert_eq!(r.control(change, &modify), Ok(vec![0x90, 0x00]));
        let verify_new = [0x00, 0x20, 0x00, 0x80, 0x04, b'5', b'6', b'7', b'8'];
        assert_eq!(
            r.transmit(&verify_new).expect("answered").response,
            [0x90, 0x00],
            "the new PIN is the card's"
        );
    }

    #[test]
    fn bcd_and_length_fields_are_placed_bit_for_bit() {
        // ISO 9564 format 2: `2L PP PP FF …`, BCD from byte 1 in a 7-byte block, the length in
        // 4 bits at bit 4.
        let cmd = PinCommand {
            timeout_s: 0,
            format: 0x89,
            block: 0x47,
            length_format: 0x04,
            min_digits: 4,
            max_digits: 8,
            offsets: None,
            confirm: 0,
            apdu: vec![
                0x00, 0x20, 0x00, 0x01, 0x08, 0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            ],
        };
        let mut apdu = cmd.apdu.clone();
        let at = cmd.place(&mut apdu, "12345", 0).expect("placed");
        assert_eq!(apdu[5..], [0x25, 0x12, 0x34, 0x5F, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(at, 6..9);
    }
}
