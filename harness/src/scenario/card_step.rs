//! The card steps' arguments and actions (tap, select, apdu, read_file, verify_pin, sign, the
//! JPKI auth flow, uid, atr …) with the expectations each may carry.
use super::expect::CardExpect;
use kazasu_sim::platform::profile::Millis;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};
use serde_json::json;

/// What to select.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SelectTarget {
    /// The JPKI AP.
    Jpki,
    /// The card-info input support AP.
    CardInfo,
    /// The 券面事項確認AP.
    CardFace,
    /// The 共通カードAP.
    CommonCard,
    /// The 住基AP.
    Juki,
    /// The readertest applet.
    Readertest,
    /// Any AID, hex.
    Aid(String),
}

impl<'de> Deserialize<'de> for SelectTarget {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "jpki" => SelectTarget::Jpki,
            "card-info" => SelectTarget::CardInfo,
            "card-face" => SelectTarget::CardFace,
            "common-card" => SelectTarget::CommonCard,
            "juki" => SelectTarget::Juki,
            "readertest" => SelectTarget::Readertest,
            _ => SelectTarget::Aid(s),
        })
    }
}

/// How `read_file` reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadHow {
    /// SELECT EF, then short READ BINARY of at most 256 bytes.
    #[default]
    Chunked,
    /// SELECT EF, the header, then the rest in one extended READ BINARY.
    Extended,
    /// No SELECT: the short-EF-id form for the header, then chunks.
    Sfi,
}

/// `read_file` arguments.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadFile {
    /// The EF, 4 hex digits.
    pub ef: String,
    /// Save the file's bytes under this name (`${saved.NAME}`, `verify_with`).
    #[serde(default)]
    pub save: Option<String>,
    /// How to read.
    #[serde(default)]
    pub how: ReadHow,
}

/// `verify_pin` arguments.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyPin {
    /// The PIN EF, 4 hex digits (selected first).
    pub ef: String,
    /// The PIN, usually `${secrets.NAME}`; omit to query the retry counter.
    #[serde(default)]
    pub pin: Option<String>,
    /// Typed on the reader's PIN pad instead (VERIFY PIN DIRECT; what the person at the pad
    /// does is the `pin_pad` step's).
    #[serde(default)]
    pub on_pad: bool,
}

/// What a `control` step asks the reader: a PC/SC part 10 feature by name (its control code
/// taken from the reader's GET_FEATURE_REQUEST answer, as reading software does), the feature
/// list itself, or a raw control code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlTarget {
    /// `get-feature-request` (CM_IOCTL_GET_FEATURE_REQUEST).
    FeatureList,
    /// A feature by its tag (`verify-pin-direct`, `get-tlv-properties` …).
    Feature(u8),
    /// A control code (`0x42000DAC`).
    Code(u32),
}

impl<'de> Deserialize<'de> for ControlTarget {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use kazasu_sim::reader::pcsc::FEATURES;
        let s = String::deserialize(d)?;
        if s == "get-feature-request" {
            return Ok(ControlTarget::FeatureList);
        }
        if let Some((_, tag)) = FEATURES.iter().find(|(n, _)| *n == s) {
            return Ok(ControlTarget::Feature(*tag));
        }
        if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))
            && let Ok(code) = u32::from_str_radix(hex, 16)
        {
            return Ok(ControlTarget::Code(code));
        }
        let names: Vec<&str> = std::iter::once("get-feature-request")
            .chain(FEATURES.iter().map(|(n, _)| *n))
            .collect();
        Err(serde::de::Error::custom(format!(
            "`{s}` is no control code: give a feature ({}) or a code in hex, e.g. 0x42000DAC",
            names.join(", ")
        )))
    }
}

/// `control` arguments.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Control {
    /// get-feature-request, a feature (verify-pin-direct, modify-pin-direct,
    /// ifd-pin-properties, get-tlv-properties, ccid-esc-command) or a control code in hex.
    #[schemars(with = "String", example = &"get-tlv-properties")]
    pub code: ControlTarget,
    /// The request's data, hex (`${saved.NAME}` substituted).
    #[serde(default)]
    pub data: Option<String>,
}

/// An `attribute` step's tag: by name, or in hex.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttributeTag(pub u32);

impl<'de> Deserialize<'de> for AttributeTag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use kazasu_sim::reader::pcsc::ATTRIBUTES;
        let s = String::deserialize(d)?;
        if let Some((_, tag)) = ATTRIBUTES.iter().find(|(n, _)| *n == s) {
            return Ok(AttributeTag(*tag));
        }
        if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))
            && let Ok(tag) = u32::from_str_radix(hex, 16)
        {
            return Ok(AttributeTag(tag));
        }
        let names: Vec<&str> = ATTRIBUTES.iter().map(|(n, _)| *n).collect();
        Err(serde::de::Error::custom(format!(
            "`{s}` is no reader attribute: give one of {} or a tag in hex, e.g. 0x00010100",
            names.join(", ")
        )))
    }
}

/// What the person at the PIN pad does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PadAction {
    /// Types the PIN (and the new one, for a change) and presses OK.
    Enter,
    /// Presses Cancel.
    Cancel,
    /// Is not there: the entry times out.
    Away,
}

/// `pin_pad` arguments: what the person at the reader's PIN pad does from now on.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PinPadPlan {
    /// enter, cancel or away.
    #[serde(rename = "do")]
    pub action: PadAction,
    /// The PIN typed (enter), usually `${secrets.NAME}`.
    #[serde(default)]
    pub pin: Option<String>,
    /// The new PIN, typed twice (enter, for MODIFY PIN DIRECT).
    #[serde(default)]
    pub new_pin: Option<String>,
    /// How long the typing or the key press takes (default 1s).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub after: Option<Millis>,
}

/// `sign` arguments.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sign {
    /// The key EF, 4 hex digits (selected first).
    pub key: String,
    /// What to hash into the DigestInfo: `nonce` (a fresh random nonce) or hex data.
    #[serde(default = "default_digest_of")]
    pub digest_of: String,
    /// A saved certificate to check the signature with.
    #[serde(default)]
    pub verify_with: Option<String>,
}

pub(super) fn default_digest_of() -> String {
    "nonce".into()
}

/// `jpki_auth_flow` arguments.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthFlow {
    /// The auth PIN (default `${secrets.auth_pin}`); not used on an iPhone.
    #[serde(default)]
    pub pin: Option<String>,
    /// How to read the certificate.
    #[serde(default)]
    pub how: ReadHow,
    /// Approve on the phone first when it is an iPhone (default true).
    #[serde(default)]
    pub approve: Option<bool>,
}

/// `uid` arguments: remember the card's UID or compare with one remembered.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UidCheck {
    /// Remember the current UID under this name.
    #[serde(default)]
    pub save: Option<String>,
    /// Fail unless the UID differs from this remembered one.
    #[serde(default)]
    pub differs_from: Option<String>,
    /// Fail unless the UID equals this remembered one.
    #[serde(default)]
    pub same_as: Option<String>,
}

/// What a card step does: it talks to the reader and the card in the field.
///
/// This enum is the card steps' vocabulary: each variant's name (in snake_case) is the step's
/// keyword, its payload the step's argument, its doc comment the description in the JSON
/// schema. The parser, the schema and the "unknown step" hints all read it; a new step kind is
/// a variant here and its arm in the runner (`run/card_steps.rs`).
#[derive(Clone, Debug, Deserialize, JsonSchema, strum::IntoStaticStr, strum::VariantNames)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum CardAction {
    /// The card enters the field (detection, anticollision, activation).
    Tap,
    /// The card leaves the field.
    Remove,
    /// Approve on the phone (iPhone: Face ID / Touch ID stand-in).
    Approve,
    /// PC/SC disconnect: S(DESELECT).
    Deselect,
    /// PC/SC reconnect with a reset (SCARD_RESET_CARD): the card re-activated with the field
    /// left on; it keeps its verified PINs.
    WarmReset,
    /// Simulated time to let pass, e.g. 500ms.
    Wait(#[schemars(with = "String", example = &"500ms")] Millis),
    /// Command APDU, hex; ${secrets.NAME} and ${saved.NAME} are substituted.
    Apdu(#[schemars(example = &"00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01")] String),
    /// SELECT an application: jpki, card-info, card-face, common-card, juki, readertest, or an
    /// AID in hex.
    Select(#[schemars(with = "String", example = &"jpki")] SelectTarget),
    /// SELECT an EF by its FID, 4 hex digits.
    SelectEf(#[schemars(example = &"000A")] String),
    /// Read a whole file, sized by its DER header.
    ReadFile(#[schemars(example = json!({ "ef": "000A", "save": "auth_cert" }))] ReadFile),
    /// SELECT a PIN EF and VERIFY (or query the counter).
    VerifyPin(
        #[schemars(example = json!({ "ef": "0018", "pin": "${secrets.auth_pin}" }))] VerifyPin,
    ),
    /// SELECT a key EF and COMPUTE DIGITAL SIGNATURE, optionally checking it.
    Sign(#[schemars(example = json!({ "key": "0017", "verify_with": "auth_cert" }))] Sign),
    /// The whole eligibility-check read in the device's order (arguments optional).
    #[serde(deserialize_with = "or_default")]
    JpkiAuthFlow(#[schemars(with = "Option<AuthFlow>")] AuthFlow),
    /// Check or remember the card's UID.
    Uid(#[schemars(example = json!({ "save": "first" }))] UidCheck),
    /// The ATR the reader reports for the card; expect: data, data_prefix, data_len, data_regex.
    Atr,
    /// SCardControl to the reader: a PC/SC part 10 feature or a control code, with data;
    /// expect: data…, sw (a PIN-pad command's), refused.
    Control(#[schemars(example = json!({ "code": "get-tlv-properties" }))] Control),
    /// SCardGetAttrib: a reader attribute by name (vendor-name, ifd-type, ifd-version,
    /// ifd-serial-no, channel-id, max-ifsd, current-ifsc, current-ifsd, maxinput,
    /// icc-presence, icc-interface-status) or tag; expect: data…, refused.
    Attribute(#[schemars(with = "String", example = &"vendor-name")] AttributeTag),
    /// What the person at the reader's PIN pad does from now on: enter a PIN, cancel, or be
    /// away.
    PinPad(
        #[schemars(example = json!({ "do": "enter", "pin": "${secrets.auth_pin}", "after": "2s" }))]
         PinPadPlan,
    ),
}

/// An argument that may be left out (`- jpki_auth_flow`, `jpki_auth_flow: null`): its default.
fn or_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

pub(super) const LINK_ONLY: &[&str] = &["transport_error", "within"];

pub(super) const TIME_ONLY: &[&str] = &["within"];

pub(super) const DATA_ONLY: &[&str] = &["data", "data_prefix", "data_regex", "data_len", "within"];

/// What a reader request can check: its answer's data, the status word a PIN-pad command ends
/// in, or that the reader refused it.
pub(super) const READER_REQUEST: &[&str] = &[
    "sw",
    "data",
    "data_prefix",
    "data_regex",
    "data_len",
    "refused",
    "transport_error",
    "within",
];

/// What an APDU step can check: everything but a reader's refusal.
pub(super) const APDU: &[&str] = &[
    "sw",
    "data",
    "data_prefix",
    "data_regex",
    "data_len",
    "transport_error",
    "within",
];

impl CardAction {
    /// The step's keyword.
    pub fn keyword(&self) -> &'static str {
        self.into()
    }

    /// The `expect` fields this step can check. A tap, a DESELECT or a warm reset has no
    /// response, only a possible transport error; `remove`, `approve` and `wait` cannot fail at all; `uid` reads
    /// the UID the reader saw and `atr` the ATR it reports, with no status word.
    pub fn checkable(&self) -> &'static [&'static str] {
        match self {
            CardAction::Tap | CardAction::Deselect | CardAction::WarmReset => LINK_ONLY,
            CardAction::Remove
            | CardAction::Approve
            | CardAction::Wait(_)
            | CardAction::PinPad(_) => TIME_ONLY,
            CardAction::Uid(_) | CardAction::Atr => DATA_ONLY,
            CardAction::Control(_) | CardAction::Attribute(_) => READER_REQUEST,
            _ => APDU,
        }
    }

    /// Whether the step ends in a response whose data `save:` can keep.
    pub fn has_response(&self) -> bool {
        self.checkable().contains(&"sw")
    }

    /// High-level steps must end in 90 00 unless their expectation says otherwise.
    pub fn wants_ok(&self) -> bool {
        matches!(
            self,
            CardAction::Select(_)
                | CardAction::SelectEf(_)
                | CardAction::ReadFile(_)
                | CardAction::VerifyPin(_)
                | CardAction::Sign(_)
                | CardAction::JpkiAuthFlow(_)
        )
    }
}

/// A card step: an action on the reader and card, what to expect of it, a name for reports and
/// a name to save its response data under.
#[derive(Clone, Debug)]
pub struct CardStep {
    /// What the step does.
    pub action: CardAction,
    /// What it must produce.
    pub expect: CardExpect,
    /// Save the response data under this name.
    pub save: Option<String>,
    /// A name for reports.
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_steps_check_only_link_fields_and_only_data_steps_can_save() {
        assert_eq!(CardAction::Tap.keyword(), "tap");
        assert_eq!(CardAction::Tap.checkable(), ["transport_error", "within"]);
        assert_eq!(CardAction::Remove.checkable(), ["within"]);
        assert!(CardAction::Atr.checkable().contains(&"data_len"));
        assert!(!CardAction::Atr.checkable().contains(&"sw"));
        assert!(CardAction::Apdu("00 A4 04 00".into()).has_response());
        assert!(!CardAction::Tap.has_response());
    }

    #[test]
    fn a_select_names_an_application_or_gives_an_aid() {
        let t: SelectTarget = serde_saphyr::from_str("card-info").expect("known name");
        assert!(matches!(t, SelectTarget::CardInfo));
        let t: SelectTarget = serde_saphyr::from_str("D3 92 10 00").expect("an AID");
        assert!(matches!(t, SelectTarget::Aid(a) if a == "D3 92 10 00"));
    }
}
