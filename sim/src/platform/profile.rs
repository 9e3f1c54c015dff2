//! Card profiles: everything that varies between a My Number card, an Android phone, an iPhone
//! and the reader-test cards, as data. Every value says how sure it is.
//!
//! Profiles are YAML files under `sim/data/profiles/`, embedded in the binary
//! ([`CardProfile::builtin`]) and loadable by path ([`CardProfile::from_yaml`]).

use super::bit_rate::BitRate;
use crate::time::{SimDuration, human};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The longest a card may take over one command (`processing.*`).
pub const MAX_PROCESSING: SimDuration = SimDuration::from_millis(60_000);

/// The longest a phone's approval may last.
pub const MAX_WINDOW: SimDuration = SimDuration::from_millis(3_600_000);

/// How sure a profile value is (see `docs/jpki.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sureness {
    /// Several independent implementations agree.
    Confirmed,
    /// One public source.
    Reported,
    /// No public source: our own reasonable model.
    Modelled,
    /// Measured on a device by `kazasu calibrate` (the note says which, when and how).
    Measured,
}

/// A profile value with its sureness and an optional note on its source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// How sure it is.
    pub sure: Sureness,
    /// Where it comes from, or why this model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A duration in a profile, written like `"350ms"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
#[schemars(
    description = "A duration: numbers with units (ns, us, ms, s, min), e.g. \"350ms\", \"1s 500ms\", \"800us\"",
    example = "350ms"
)]
pub struct Millis(
    #[serde(with = "human")]
    #[schemars(with = "String")]
    pub SimDuration,
);

/// Bytes in a profile, written as hex with optional spaces: `"00 00 05 E0"`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct HexBytes(pub Vec<u8>);

impl fmt::Debug for HexBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::hex_spaced(&self.0))
    }
}

impl Serialize for HexBytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::hex_spaced(&self.0))
    }
}

impl schemars::JsonSchema for HexBytes {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "HexBytes".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "Bytes in hex, spaces or colons between them allowed: \"00 00 05 E0\"",
            "pattern": "^[0-9A-Fa-f:\\s]*$",
            "examples": ["00 00 05 E0"]
        })
    }
}

impl<'de> Deserialize<'de> for HexBytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        crate::parse_hex(&text)
            .map(HexBytes)
            .map_err(serde::de::Error::custom)
    }
}

/// What kind of device the profile is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Device {
    /// The physical My Number card.
    Card,
    /// An Android phone with the JPKI applet in its secure element.
    Android,
    /// An iPhone with the JPKI applet (approval with Face ID / Touch ID).
    Iphone,
    /// A test card for reader and driver developers.
    TestCard,
}

/// An application the card carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AppletName {
    /// 公的個人認証AP (JPKI).
    Jpki,
    /// 券面事項入力補助AP (card-info input support).
    CardInfo,
    /// 共通カードAP (the card record read at every マイナポータル login).
    CommonCard,
    /// 券面事項確認AP (card-face confirmation).
    CardFace,
    /// 住基AP (basic resident register).
    Juki,
    /// The pcsc-lite readertest applet.
    Readertest,
    /// The Athena extended-APDU test card behaviour.
    Athena,
}

/// ISO/IEC 14443 type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum NfcType {
    /// Type A (RATS/ATS).
    A,
    /// Type B (ATQB/ATTRIB).
    B,
}

/// How the card's UID (Type A) or PUPI (Type B) behaves across taps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum UidBehaviour {
    /// The same identifier on every tap.
    Fixed,
    /// A new random identifier on every tap (from the seeded RNG).
    RandomPerTap,
}

/// What the card answers to the iPhone's last-command indicator `80 FC 00 00`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LastCommandIndicator {
    /// 90 00 (iPhone).
    Accept,
    /// 67 00 (physical card).
    WrongLength,
    /// 6D 00.
    InsNotSupported,
}

/// Contactless parameters: what the reader sees during activation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Contactless {
    /// Type A or B.
    #[serde(rename = "type")]
    pub nfc_type: Sourced<NfcType>,
    /// UID / PUPI behaviour.
    pub uid: Sourced<UidBehaviour>,
    /// The fixed UID / PUPI (for `fixed`), or the length of a random one.
    pub uid_bytes: Sourced<HexBytes>,
    /// Card frame size index FSCI (0..=12): 8 = 256 bytes.
    pub fsci: Sourced<u8>,
    /// Frame waiting time index FWI (0..=14).
    pub fwi: Sourced<u8>,
    /// Start-up frame guard time index SFGI (0..=14).
    pub sfgi: Sourced<u8>,
    /// Supported bit rates in kbit/s (106, 212, 424, 848), both directions.
    pub bit_rates: Sourced<Vec<u32>>,
    /// Type B: the 4 application-data bytes of ATQB. Type A: the ATS historical bytes.
    pub historical_bytes: Sourced<HexBytes>,
    /// Type B: the low nibble of ATQB protocol-info byte 3 (ADC and FO bits).
    /// Type A: TC of the ATS (0x02 = CID supported).
    #[serde(default = "default_options")]
    pub protocol_options: Sourced<u8>,
}

fn default_options() -> Sourced<u8> {
    Sourced {
        value: 0,
        sure: Sureness::Modelled,
        note: None,
    }
}

/// Processing times of the card per command class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Processing {
    /// SELECT (application or file).
    pub select: Sourced<Millis>,
    /// READ BINARY, per command.
    pub read: Sourced<Millis>,
    /// READ BINARY, added per KiB of data returned.
    pub read_per_kib: Sourced<Millis>,
    /// VERIFY with data (and the retry-counter query).
    pub verify: Sourced<Millis>,
    /// CHANGE REFERENCE DATA.
    pub change_pin: Sourced<Millis>,
    /// COMPUTE DIGITAL SIGNATURE (RSA-2048).
    pub sign: Sourced<Millis>,
    /// Any other command, including refusals.
    pub other: Sourced<Millis>,
}

/// Parameters of the JPKI AP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JpkiParams {
    /// The token name in EF 0006 (space-padded to 32 bytes).
    pub token: Sourced<String>,
    /// Whether reading the authentication certificate (EF 000A) needs the auth PIN.
    pub auth_cert_needs_pin: Sourced<bool>,
    /// Whether the authentication key needs a phone approval (iPhone) instead of the auth PIN.
    pub auth_key_needs_approval: Sourced<bool>,
    /// What the card answers to `80 FC 00 00`.
    pub last_command_indicator: Sourced<LastCommandIndicator>,
    /// Auth PIN tries (EF 0018).
    pub auth_pin_tries: Sourced<u8>,
    /// Signature PIN tries (EF 001B).
    pub sign_pin_tries: Sourced<u8>,
    /// Whether `00 A4 00 00` (select MF) answers 90 00 once the AP is selected (6A 86 before).
    pub select_mf_after_ap_ok: Sourced<bool>,
    /// The P1 values of COMPUTE DIGITAL SIGNATURE the AP offers (`signature.rs`: 00..05).
    pub signature_p1: Sourced<Vec<u8>>,
    /// EF 0006's PKCS#11 token-info record: model (16 bytes) and manufacturer (32 bytes).
    pub token_model: Sourced<String>,
}

/// Parameters of the 券面事項入力補助AP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CardInfoParams {
    /// Tries of the card-info PIN (EF 0011).
    pub pin_tries: Sourced<u8>,
    /// Tries of 照合番号A (EF 0014) and 照合番号B (EF 0015).
    pub check_code_tries: Sourced<u8>,
}

/// Parameters of the 券面事項確認AP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CardFaceParams {
    /// Tries of the birth-date key (EF 0011).
    pub birth_key_tries: Sourced<u8>,
    /// Tries of 照合番号A (EF 0013) and 照合番号B (EF 0012).
    pub check_code_tries: Sourced<u8>,
}

/// Parameters of an application whose only credential is a 4-digit PIN (共通カードAP, 住基AP).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PinAppParams {
    /// Tries of the PIN (EF 001C).
    pub pin_tries: Sourced<u8>,
}

/// The phone approval (iPhone: Face ID / Touch ID) that authorises the auth key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalParams {
    /// How long an approval lasts.
    pub window: Sourced<Millis>,
    /// How many signatures one approval allows.
    pub signatures: Sourced<u32>,
}

/// Parameters of the readertest applet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadertestParams {
    /// `apdu` (case 4 answers with data) or `tpdu` (case 4 answers 61 xx, data by GET RESPONSE).
    pub mode: Sourced<ReadertestMode>,
    /// Card time per unit of P2 in the time-request command (INS 38).
    pub time_unit: Sourced<Millis>,
}

/// How the readertest applet answers case 4 commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReadertestMode {
    /// Data in the response.
    Apdu,
    /// 61 xx, then GET RESPONSE.
    Tpdu,
}

/// A card profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CardProfile {
    /// Its name (`android-jpki`).
    pub name: String,
    /// What it models, for `kazasu profiles`.
    pub description: String,
    /// The kind of device.
    pub device: Device,
    /// The applications it carries, in selection order.
    pub applets: Vec<AppletName>,
    /// Whether the card accepts extended-length APDUs.
    pub extended_apdus: Sourced<bool>,
    /// An ATR to present instead of the one a PC/SC part 3 reader builds (test cards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atr: Option<Sourced<HexBytes>>,
    /// The contact-interface ATR the card hands over with GET DATA `00 CA 5F 51` at MF level
    /// (physical cards), in the form the card stores it: without TS (`3B`), its last byte the
    /// XOR of the others (TCK); absent: GET DATA is not offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_atr: Option<Sourced<HexBytes>>,
    /// The data objects GET DATA `00 CA <tag>` answers at MF level besides `5F 51`, as 4 hex
    /// digits each (`0042`, `0045`, `0066`, `00F0`, `00F2`, `00F7`, `00F8`, `7F21`); absent:
    /// none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mf_objects: Option<Sourced<Vec<super::mf_object::MfObject>>>,
    /// Whether a warm reset (PC/SC reconnect with a reset) keeps the current application and
    /// its verified PINs; absent: it does, as reported for the physical card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warm_reset_keeps_verify: Option<Sourced<bool>>,
    /// Contactless parameters.
    pub contactless: Contactless,
    /// Processing times.
    pub processing: Processing,
    /// The JPKI AP, when `applets` has `jpki`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jpki: Option<JpkiParams>,
    /// The card-info AP, when `applets` has `card-info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_info: Option<CardInfoParams>,
    /// The 券面事項確認AP, when `applets` has `card-face`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_face: Option<CardFaceParams>,
    /// The 共通カードAP, when `applets` has `common-card`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_card: Option<PinAppParams>,
    /// The 住基AP, when `applets` has `juki`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub juki: Option<PinAppParams>,
    /// The phone approval, for iPhone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalParams>,
    /// The readertest applet, when `applets` has `readertest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readertest: Option<ReadertestParams>,
}

/// Why a profile could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The YAML does not parse into a profile.
    #[error("{origin}: {message}")]
    Syntax {
        /// File name or `builtin:NAME`.
        origin: String,
        /// The parser's message with line and column.
        message: String,
    },
    /// The profile parses but is inconsistent.
    #[error("{origin}: {message}\n  hint: {hint}")]
    Invalid {
        /// File name or `builtin:NAME`.
        origin: String,
        /// What is wrong.
        message: String,
        /// How to fix it.
        hint: String,
    },
    /// No built-in profile has that name.
    #[error("no card profile named `{name}`; built-in profiles: {known}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The built-in names.
        known: String,
    },
}

macro_rules! builtin_card_profiles {
    ($($name:literal),* $(,)?) => {
        /// Names and YAML text of the built-in card profiles.
        pub const BUILTIN_CARD_PROFILES: &[(&str, &str)] = &[
            $(($name, include_str!(concat!("../../data/profiles/cards/", $name, ".yaml")))),*
        ];
    };
}

builtin_card_profiles!(
    "mynumber-card",
    "mynumber-card-fwi13",
    "mynumber-card-41e0",
    "mynumber-card-106k",
    "android-jpki",
    "android-jpki-extended",
    "iphone-jpki",
    "iphone-jpki-extended",
    "iphone-jpki-type-b",
    "readertest",
    "athena-ext-case2",
    "athena-ext-case2-t0",
    "athena-ext-case3",
);

/// Parses profile YAML into `T`; syntax errors carry `origin` and the parser's line and column.
pub(crate) fn parse_yaml<T: serde::de::DeserializeOwned>(
    text: &str,
    origin: &str,
) -> Result<T, ProfileError> {
    serde_saphyr::from_str(text).map_err(|e| ProfileError::Syntax {
        origin: origin.to_string(),
        message: e.to_string(),
    })
}

/// The YAML of a built-in profile by name, or an error listing the known names.
/// Built-in profiles parsed once per process: a suite asks for the same few profiles for every
/// case, and the parse and checks cost more than a copy.
pub(crate) struct BuiltinCache<T>(std::sync::OnceLock<Vec<std::sync::OnceLock<T>>>);

impl<T: Clone> BuiltinCache<T> {
    pub(crate) const fn new() -> Self {
        BuiltinCache(std::sync::OnceLock::new())
    }

    /// The profile `name` of `table`, parsed by `parse` the first time.
    pub(crate) fn get(
        &self,
        table: &'static [(&'static str, &'static str)],
        name: &str,
        parse: fn(&str, &str) -> Result<T, ProfileError>,
    ) -> Result<T, ProfileError> {
        let text = builtin_text(table, name)?;
        let index = table
            .iter()
            .position(|(n, _)| *n == name)
            .expect("builtin_text found it");
        let slots = self
            .0
            .get_or_init(|| table.iter().map(|_| std::sync::OnceLock::new()).collect());
        if let Some(p) = slots[index].get() {
            return Ok(p.clone());
        }
        let parsed = parse(text, &format!("builtin:{name}"))?;
        Ok(slots[index].get_or_init(|| parsed).clone())
    }
}

pub(crate) fn builtin_text(
    table: &'static [(&'static str, &'static str)],
    name: &str,
) -> Result<&'static str, ProfileError> {
    table
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .ok_or_else(|| ProfileError::Unknown {
            name: name.to_string(),
            known: table.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
        })
}

impl CardProfile {
    /// Parses a profile from YAML; `origin` names the source in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<CardProfile, ProfileError> {
        let profile: CardProfile = parse_yaml(text, origin)?;
        profile.check(origin)?;
        Ok(profile)
    }

    /// A built-in profile by name (parsed once per process, then copied).
    pub fn builtin(name: &str) -> Result<CardProfile, ProfileError> {
        static PARSED: BuiltinCache<CardProfile> = BuiltinCache::new();
        PARSED.get(BUILTIN_CARD_PROFILES, name, CardProfile::from_yaml)
    }

    /// Whether a warm reset keeps the verified PINs (the default).
    pub fn warm_reset_keeps_verify(&self) -> bool {
        self.warm_reset_keeps_verify
            .as_ref()
            .is_none_or(|w| w.value)
    }

    /// Checks that the profile is consistent (sections for its applets, values in range).
    pub fn check(&self, origin: &str) -> Result<(), ProfileError> {
        let invalid = |message: String, hint: &str| ProfileError::Invalid {
            origin: origin.to_string(),
            message,
            hint: hint.to_string(),
        };
        if let Some(atr) = &self.contact_atr {
            let bytes = &atr.value.0;
            let body_xor = bytes[..bytes.len().saturating_sub(1)]
                .iter()
                .fold(0u8, |x, b| x ^ b);
            if bytes.len() < 2 || bytes.first() == Some(&0x3B) || bytes.last() != Some(&body_xor) {
                return Err(invalid(
                    format!("contact_atr {:?} is not a stored contact ATR", atr.value),
                    "write it as the card stores it: without 3B (TS), the last byte the XOR of \
                     the others (e.g. E0 00 FF 81 31 FE 45 14)",
                ));
            }
        }
        let c = &self.contactless;
        if c.fsci.value > 12 {
            return Err(invalid(
                format!("contactless.fsci is {}", c.fsci.value),
                "FSCI is 0..=12 (8 = 256 bytes)",
            ));
        }
        if c.fwi.value > 14 {
            return Err(invalid(
                format!("contactless.fwi is {}", c.fwi.value),
                "FWI is 0..=14",
            ));
        }
        if c.sfgi.value > 14 {
            return Err(invalid(
                format!("contactless.sfgi is {}", c.sfgi.value),
                "SFGI is 0..=14",
            ));
        }
        if let Some(bad) = c
            .bit_rates
            .value
            .iter()
            .find(|r| BitRate::from_kbps(**r).is_err())
        {
            return Err(invalid(
                format!("contactless.bit_rates has {bad}"),
                "bit rates are 106, 212, 424 or 848 kbit/s",
            ));
        }
        if !c.bit_rates.value.contains(&106) {
            return Err(invalid(
                "contactless.bit_rates lacks 106".into(),
                "every ISO 14443 card supports 106 kbit/s",
            ));
        }
        if c.nfc_type.value == NfcType::B && c.historical_bytes.value.0.len() != 4 {
            return Err(invalid(
                "contactless.historical_bytes must be the 4 ATQB application-data bytes for Type B"
                    .into(),
                "write 4 bytes, e.g. \"00 00 05 E0\"",
            ));
        }
        if c.historical_bytes.value.0.len() > 15 {
            return Err(invalid(
                "contactless.historical_bytes is longer than 15 bytes".into(),
                "an ATR carries at most 15 historical bytes",
            ));
        }
        if !matches!(c.uid_bytes.value.0.len(), 4 | 7 | 10) {
            return Err(invalid(
                "contactless.uid_bytes must be 4, 7 or 10 bytes".into(),
                "Type B PUPIs are 4 bytes; Type A UIDs 4, 7 or 10",
            ));
        }
        // Every duration is bounded: a card's time for one command by what a slow secure
        // element could take (an RSA-2048 signature takes about a second), the others by what
        // the simulated clock and a case's frames must hold.
        let p = &self.processing;
        for (name, d) in [
            ("select", &p.select),
            ("read", &p.read),
            ("read_per_kib", &p.read_per_kib),
            ("verify", &p.verify),
            ("change_pin", &p.change_pin),
            ("sign", &p.sign),
            ("other", &p.other),
        ] {
            if d.value.0 > MAX_PROCESSING {
                return Err(invalid(
                    format!(
                        "processing.{name} is {}, longer than {MAX_PROCESSING}",
                        d.value.0
                    ),
                    "a card answers one command within a minute; write e.g. 350ms or 1.2s",
                ));
            }
        }
        if let Some(a) = &self.approval
            && a.window.value.0 > MAX_WINDOW
        {
            return Err(invalid(
                format!(
                    "approval.window is {}, longer than {MAX_WINDOW}",
                    a.window.value.0
                ),
                "a phone's approval lasts seconds to minutes",
            ));
        }
        if let Some(r) = &self.readertest
            && r.time_unit.value.0 > MAX_PROCESSING
        {
            return Err(invalid(
                format!(
                    "readertest.time_unit is {}, longer than {MAX_PROCESSING}",
                    r.time_unit.value.0
                ),
                "the time request waits a multiple of this unit: keep it under a minute",
            ));
        }
        if let Some(atr) = &self.atr
            && !(2..=33).contains(&atr.value.0.len())
        {
            return Err(invalid(
                "atr must be 2..=33 bytes".into(),
                "an ATR fits 33 bytes",
            ));
        }
        let needs = |applet: AppletName, present: bool, section: &str| {
            if self.applets.contains(&applet) && !present {
                Err(invalid(
                    format!("applets lists {applet:?} but the `{section}` section is missing"),
                    "add the section or remove the applet",
                ))
            } else {
                Ok(())
            }
        };
        needs(AppletName::Jpki, self.jpki.is_some(), "jpki")?;
        needs(AppletName::CardInfo, self.card_info.is_some(), "card_info")?;
        needs(
            AppletName::CommonCard,
            self.common_card.is_some(),
            "common_card",
        )?;
        needs(AppletName::Juki, self.juki.is_some(), "juki")?;
        needs(AppletName::CardFace, self.card_face.is_some(), "card_face")?;
        needs(
            AppletName::Readertest,
            self.readertest.is_some(),
            "readertest",
        )?;
        if let Some(j) = &self.jpki
            && j.auth_key_needs_approval.value
            && self.approval.is_none()
        {
            return Err(invalid(
                "jpki.auth_key_needs_approval is true but `approval` is missing".into(),
                "add approval: { window, signatures }",
            ));
        }
        if let Some(j) = &self.jpki
            && (j.token.value.len() > 32 || !j.token.value.is_ascii())
        {
            return Err(invalid(
                "jpki.token must be at most 32 ASCII characters".into(),
                "EF 0006 holds a 32-byte space-padded name",
            ));
        }
        if let Some(j) = &self.jpki {
            if let Some(bad) = j
                .signature_p1
                .value
                .iter()
                .find(|p1| crate::platform::signature::Scheme::from_p1(**p1).is_none())
            {
                return Err(invalid(
                    format!("jpki.signature_p1 has {bad}, which no JPKI card offers"),
                    "the card's signature schemes are P1 0 to 5 (docs/jpki.md)",
                ));
            }
            if !j.signature_p1.value.contains(&0) {
                return Err(invalid(
                    "jpki.signature_p1 lacks 0".into(),
                    "every JPKI card and phone signs a DigestInfo with P1 = 00",
                ));
            }
            if j.token_model.value.len() > 16 || !j.token_model.value.is_ascii() {
                return Err(invalid(
                    "jpki.token_model must be at most 16 ASCII characters".into(),
                    "the token-info record holds a 16-byte space-padded model",
                ));
            }
        }
        Ok(())
    }
}
