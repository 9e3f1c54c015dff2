//! The scenario format: YAML files with one scenario or a list, parsed into typed structures
//! (with file:line:column errors), checked, and expanded into runnable cases.
//!
//! ```yaml
//! name: android auth flow fits a 1 s hold
//! tags: [jpki, smartphone, performance]
//! card: android-jpki
//! reader: typical-424k
//! steps:
//!   - tap
//!   - apdu: 00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01
//!     expect: { sw: "9000" }
//!   - verify_pin: { ef: "0018", pin: "${secrets.auth_pin}" }
//!   - read_file: { ef: "000A", save: auth_cert }
//!   - sign: { key: "0017", digest_of: nonce, verify_with: auth_cert }
//!   - remove
//! budget: { total: 1000ms }
//! ```

pub mod suite;
pub mod variables;

use kazasu_sim::platform::profile::Millis;
use kazasu_sim::reader::fault::Fault;
use kazasu_sim::{Secret, StatusWord};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// One scenario as written.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What it checks, in a few words; unique in the suite.
    pub name: String,
    /// What it checks and why a user cares.
    #[serde(default)]
    pub description: String,
    /// Tags for `--tag`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Card profile: a built-in name or a YAML path.
    #[serde(default = "default_card")]
    pub card: String,
    /// Reader profile: a built-in name or a YAML path.
    #[serde(default = "default_reader")]
    pub reader: String,
    /// Test identity on the card (`scenarios/fixtures/identities.yaml`).
    #[serde(default)]
    pub identity: Option<String>,
    /// Highest bit rate to negotiate, kbit/s.
    #[serde(default)]
    pub bit_rate: Option<u32>,
    /// Secrets (PINs, codes) used as `${secrets.NAME}`; never printed. `auth_pin`, `sign_pin`
    /// and `card_info_pin` default to the identity's PINs.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub secrets: BTreeMap<String, Secret<String>>,
    /// The steps.
    pub steps: Vec<Step>,
    /// Timing budget in simulated time.
    #[serde(default)]
    pub budget: Option<Budget>,
    /// Faults injected by the reader and card layers.
    #[serde(default)]
    #[schemars(schema_with = "faults_schema")]
    pub faults: Vec<Fault>,
    /// A fixed seed for this scenario (default: derived from the run's seed and the case name).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Expands the scenario into one case per combination.
    #[serde(default)]
    pub matrix: Option<Matrix>,
    /// Onboarding: the embedded service's calendar day, YYYY-MM-DD (default: today in Japan).
    #[serde(default)]
    pub today: Option<String>,
    /// The kind of reader this case is about. Under a reader of another kind (`--reader`, a
    /// matrix) the case is reported "not applicable", never failed: its expectations belong to
    /// the reader it is about.
    #[serde(default)]
    pub applies_to: Option<AppliesTo>,
    /// Whether the case can harm a physical card: it sends a wrong PIN, blocks or changes a
    /// PIN, or uses one PIN more than once. `kazasu certify --device` runs only cases that say
    /// `destructive: false` (every bundled scenario says which it is).
    #[serde(default)]
    pub destructive: Option<bool>,
}

/// The reader capabilities a case is about; every one given must hold for the case to apply.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppliesTo {
    /// Exactly this reader profile (by its `name`): a case about one product's reader.
    #[serde(default)]
    pub reader: Option<String>,
    /// What the reader does with extended-length APDUs.
    #[serde(default)]
    pub extended_apdus: Option<ExtendedApdusKind>,
    /// The reader gives up after at most this many waiting-time extensions in one exchange
    /// (its `max_wtx`): a case about a reader that ends a WTX storm.
    #[serde(default)]
    pub max_wtx_at_most: Option<u32>,
    /// What the reader does with two cards in the field.
    #[serde(default)]
    pub collision: Option<CollisionKind>,
    /// The ATR the reader reports for a contactless card.
    #[serde(default)]
    pub atr_form: Option<AtrFormKind>,
    /// The reader's frames hold at most this many bytes (its FSD), so that answers chain: a
    /// case about chaining.
    #[serde(default)]
    pub frame_size_at_most: Option<usize>,
}

/// A reader's handling of extended-length APDUs (as in reader profiles).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ExtendedApdusKind {
    /// Passed to the card.
    Supported,
    /// Answered by the reader with 67 00.
    WrongLength,
    /// The transmit fails.
    TransportError,
}

/// A reader's handling of two cards in the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CollisionKind {
    /// Anticollision picks one card.
    Resolve,
    /// No usable card.
    Refuse,
}

/// The ATR form a reader reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AtrFormKind {
    /// PC/SC part 3, built from the card's ATS or ATQB.
    Part3,
    /// `3B 80 80 01 01` whatever the card.
    Generic,
}

impl ExtendedApdusKind {
    /// As written in scenarios and profiles.
    fn spelling(self) -> &'static str {
        match self {
            Self::Supported => "supported",
            Self::WrongLength => "wrong-length",
            Self::TransportError => "transport-error",
        }
    }
}

impl CollisionKind {
    /// As written in scenarios and profiles.
    fn spelling(self) -> &'static str {
        match self {
            Self::Resolve => "resolve",
            Self::Refuse => "refuse",
        }
    }
}

impl AtrFormKind {
    /// As written in scenarios and profiles.
    fn spelling(self) -> &'static str {
        match self {
            Self::Part3 => "part3",
            Self::Generic => "generic",
        }
    }
}

impl AppliesTo {
    /// Why the case does not apply to `reader` (`None`: it applies).
    pub fn unmet(&self, reader: &kazasu_sim::ReaderProfile) -> Option<String> {
        use kazasu_sim::reader::profile::{AtrForm, CollisionHandling, ExtendedApdus};
        let mut missing = Vec::new();
        if let Some(name) = &self.reader
            && *name != reader.name
        {
            missing.push(format!("the reader `{name}`"));
        }
        if let Some(want) = self.extended_apdus {
            let has = match reader.extended_apdus.value {
                ExtendedApdus::Supported => ExtendedApdusKind::Supported,
                ExtendedApdus::WrongLength => ExtendedApdusKind::WrongLength,
                ExtendedApdus::TransportError => ExtendedApdusKind::TransportError,
            };
            if has != want {
                missing.push(format!(
                    "a reader whose extended APDUs are {} (this one: {})",
                    want.spelling(),
                    has.spelling()
                ));
            }
        }
        if let Some(most) = self.max_wtx_at_most {
            match reader.max_wtx.as_ref().map(|m| m.value) {
                Some(has) if has <= most => {}
                Some(has) => missing.push(format!(
                    "a reader that gives up after at most {most} waiting-time extensions (this one: {has})"
                )),
                None => missing.push(format!(
                    "a reader that gives up after at most {most} waiting-time extensions (this one grants them all)"
                )),
            }
        }
        if let Some(want) = self.collision {
            let has = match reader.collision.value {
                CollisionHandling::Resolve => CollisionKind::Resolve,
                CollisionHandling::Refuse => CollisionKind::Refuse,
            };
            if has != want {
                missing.push(format!(
                    "a reader that {} two cards in the field (this one: {})",
                    want.spelling(),
                    has.spelling()
                ));
            }
        }
        if let Some(want) = self.atr_form {
            let has = match reader.atr_form.as_ref().map(|f| f.value) {
                Some(AtrForm::Generic) => AtrFormKind::Generic,
                _ => AtrFormKind::Part3,
            };
            if has != want {
                missing.push(format!(
                    "a reader reporting the {} ATR form (this one: {})",
                    want.spelling(),
                    has.spelling()
                ));
            }
        }
        if let Some(most) = self.frame_size_at_most {
            let has = kazasu_sim::iso14443::atr::frame_size(reader.fsdi.value);
            if has > most {
                missing.push(format!(
                    "a reader with frames of at most {most} bytes (this one: {has})"
                ));
            }
        }
        (!missing.is_empty()).then(|| format!("needs {}", missing.join(", and ")))
    }
}

fn default_card() -> String {
    "mynumber-card".into()
}
fn default_reader() -> String {
    "typical-424k".into()
}

/// Timing budgets in simulated time.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// From the start of the case to the end of its last step.
    #[schemars(with = "String")]
    pub total: Millis,
}

/// Dimensions that expand a scenario into cases.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    /// Card profiles.
    #[serde(default)]
    pub card: Vec<String>,
    /// Reader profiles.
    #[serde(default)]
    pub reader: Vec<String>,
    /// Highest bit rates, kbit/s.
    #[serde(default)]
    pub bit_rate: Vec<u32>,
}

/// What to select.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SelectTarget {
    /// The JPKI AP.
    Jpki,
    /// The card-info input support AP.
    CardInfo,
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

fn default_digest_of() -> String {
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

/// `register` arguments: the onboarding service's registration form (every field may use
/// `${secrets.NAME}`; omitted fields are not sent).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterStep {
    /// The name as registered on the portal, a space, the 10-digit institution code.
    #[serde(default)]
    pub name: Option<String>,
    /// Postal code (default 100-0001).
    #[serde(default)]
    pub postal_code: Option<String>,
    /// Contact e-mail (default desk@example.jp).
    #[serde(default)]
    pub contact_email: Option<String>,
    /// `corporation` or `sole_proprietor`.
    #[serde(default)]
    pub business_type: Option<String>,
    /// `invitation_code` (default) or `documents`.
    #[serde(default)]
    pub verification: Option<String>,
    /// The invitation code, usually `${secrets.invitation_code}`.
    #[serde(default)]
    pub invitation_code: Option<String>,
    /// 法人番号.
    #[serde(default)]
    pub corporate_number: Option<String>,
}

/// `order` arguments.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderStep {
    /// The product id (`sanwa-body`).
    pub product: String,
    /// The account (default: the one the case registered last).
    #[serde(default)]
    pub account: Option<String>,
}

/// `website` arguments: a URL, or `skip: true`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebsiteStep {
    /// The URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Skip the optional step.
    #[serde(default)]
    pub skip: bool,
}

/// `http` arguments: a raw request to the onboarding service.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpStep {
    /// GET, POST, PUT.
    pub method: String,
    /// The path, `/api/…` (`${account}` is the account the case registered last).
    pub path: String,
    /// A JSON body (YAML here); strings may use `${secrets.NAME}`.
    #[serde(default)]
    pub json: Option<serde_json::Value>,
    /// A raw body (sent as given, as application/json).
    #[serde(default)]
    pub body: Option<String>,
}

/// What a card step does: it talks to the reader and the card in the field.
#[derive(Clone, Debug)]
pub enum CardAction {
    /// The card enters the field (detection, anticollision, activation).
    Tap,
    /// The card leaves the field.
    Remove,
    /// Approve on the phone (iPhone: Face ID / Touch ID stand-in).
    Approve,
    /// PC/SC disconnect: S(DESELECT).
    Deselect,
    /// Let simulated time pass.
    Wait(Millis),
    /// A raw command APDU, hex with `${secrets.X}` / `${saved.X}`.
    Apdu(String),
    /// SELECT an application.
    Select(SelectTarget),
    /// SELECT an EF by FID.
    SelectEf(String),
    /// Read a whole file, sized by its DER header.
    ReadFile(ReadFile),
    /// SELECT a PIN EF and VERIFY (or query the counter).
    VerifyPin(VerifyPin),
    /// SELECT a key EF and COMPUTE DIGITAL SIGNATURE, optionally checking it.
    Sign(Sign),
    /// The whole eligibility-check read in the device's order.
    JpkiAuthFlow(AuthFlow),
    /// Check or remember the card's UID.
    Uid(UidCheck),
    /// The ATR the reader reports for the card (its data: the ATR bytes).
    Atr,
}

/// What an onboarding step does: it talks to the onboarding service.
#[derive(Clone, Debug)]
pub enum OnboardingAction {
    /// Register a business account.
    Register(RegisterStep),
    /// The optional website step.
    Website(WebsiteStep),
    /// Order a reader.
    Order(OrderStep),
    /// Read the account's status (default: the one registered last).
    AccountStatus(Option<String>),
    /// The bought reader's first read of a phone.
    Commission,
    /// A raw HTTP request.
    Http(HttpStep),
}

/// Every field a card step's `expect` may have.
pub const CARD_EXPECT_FIELDS: &[&str] = &[
    "sw",
    "data",
    "data_prefix",
    "data_regex",
    "data_len",
    "transport_error",
    "within",
];
/// Every field an onboarding step's `expect` may have.
pub const ONBOARDING_EXPECT_FIELDS: &[&str] = &[
    "status",
    "errors",
    "account_status",
    "json",
    "notes",
    "retry_after",
    "within",
];
const LINK_ONLY: &[&str] = &["transport_error", "within"];
const TIME_ONLY: &[&str] = &["within"];
const DATA_ONLY: &[&str] = &["data", "data_prefix", "data_regex", "data_len", "within"];

impl CardAction {
    /// The step's keyword.
    pub fn keyword(&self) -> &'static str {
        match self {
            CardAction::Tap => "tap",
            CardAction::Remove => "remove",
            CardAction::Approve => "approve",
            CardAction::Deselect => "deselect",
            CardAction::Wait(_) => "wait",
            CardAction::Apdu(_) => "apdu",
            CardAction::Select(_) => "select",
            CardAction::SelectEf(_) => "select_ef",
            CardAction::ReadFile(_) => "read_file",
            CardAction::VerifyPin(_) => "verify_pin",
            CardAction::Sign(_) => "sign",
            CardAction::JpkiAuthFlow(_) => "jpki_auth_flow",
            CardAction::Uid(_) => "uid",
            CardAction::Atr => "atr",
        }
    }

    /// The `expect` fields this step can check. A tap or a DESELECT has no response, only a
    /// possible transport error; `remove`, `approve` and `wait` cannot fail at all; `uid` reads
    /// the UID the reader saw and `atr` the ATR it reports, with no status word.
    pub fn checkable(&self) -> &'static [&'static str] {
        match self {
            CardAction::Tap | CardAction::Deselect => LINK_ONLY,
            CardAction::Remove | CardAction::Approve | CardAction::Wait(_) => TIME_ONLY,
            CardAction::Uid(_) | CardAction::Atr => DATA_ONLY,
            _ => CARD_EXPECT_FIELDS,
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

impl OnboardingAction {
    /// The step's keyword.
    pub fn keyword(&self) -> &'static str {
        match self {
            OnboardingAction::Register(_) => "register",
            OnboardingAction::Website(_) => "website",
            OnboardingAction::Order(_) => "order",
            OnboardingAction::AccountStatus(_) => "account_status",
            OnboardingAction::Commission => "commission",
            OnboardingAction::Http(_) => "http",
        }
    }
}
/// A status-word pattern: `9000`, or with `x` for any nibble (`63Cx`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwPattern {
    value: u16,
    mask: u16,
    text: [u8; 4],
}

impl SwPattern {
    /// Parses `9000`, `63Cx`, `6Axx`.
    pub fn parse(text: &str) -> Result<SwPattern, String> {
        let t = text.trim().replace(' ', "");
        if t.len() != 4 {
            return Err(format!(
                "status word `{text}` must be 4 hex digits, `x` for any digit (e.g. 63Cx)"
            ));
        }
        let (mut value, mut mask) = (0u16, 0u16);
        let mut shown = [0u8; 4];
        for (i, c) in t.chars().enumerate() {
            value <<= 4;
            mask <<= 4;
            shown[i] = c.to_ascii_uppercase() as u8;
            if c == 'x' || c == 'X' {
                shown[i] = b'x';
                continue;
            }
            let d = c
                .to_digit(16)
                .ok_or_else(|| format!("status word `{text}`: `{c}` is not a hex digit or x"))?;
            value |= d as u16;
            mask |= 0xF;
        }
        Ok(SwPattern {
            value,
            mask,
            text: shown,
        })
    }
    /// Whether `sw` matches.
    pub fn matches(&self, sw: StatusWord) -> bool {
        sw.0 & self.mask == self.value
    }
}

impl fmt::Display for SwPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.text).unwrap_or("????"))
    }
}

/// One or more accepted status words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwExpect(pub Vec<SwPattern>);

impl<'de> Deserialize<'de> for SwExpect {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SwExpect;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a status word like \"9000\" or \"63Cx\", or a list of them")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SwExpect, E> {
                SwPattern::parse(v)
                    .map(|p| SwExpect(vec![p]))
                    .map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SwExpect, E> {
                self.visit_str(&format!("{v:04}"))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<SwExpect, A::Error> {
                let mut v = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    v.push(SwPattern::parse(&s).map_err(de::Error::custom)?);
                }
                if v.is_empty() {
                    return Err(de::Error::custom(
                        "an empty list of status words accepts nothing",
                    ));
                }
                Ok(SwExpect(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for SwExpect {
    fn schema_name() -> Cow<'static, str> {
        "StatusWords".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A status word (`9000`, `x` for any hex digit: `63Cx`) or a list of them.",
            "oneOf": [
                { "type": "string", "pattern": "^[0-9A-Fa-fxX]{4}$" },
                { "type": "array", "items": { "type": "string", "pattern": "^[0-9A-Fa-fxX]{4}$" }, "minItems": 1 }
            ]
        })
    }
}

/// Which transport error a step expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransportErrorKind {
    /// Any transport error.
    Any,
    /// The card was removed (or lost power) during the exchange.
    CardRemoved,
    /// The card gave no valid answer after the reader's retries.
    NoAnswer,
    /// No card in the field.
    NoCard,
    /// More waiting-time extensions than the reader grants.
    TooManyWtx,
    /// Two cards in the field.
    Collision,
    /// The reader does not carry extended APDUs.
    ExtendedApduUnsupported,
}

/// What a card step must produce. High-level steps expect 9000 unless told otherwise. Which of
/// these fields a step may carry depends on its action ([`CardAction::checkable`]); any other is
/// refused when the scenario is loaded.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CardExpect {
    /// Status word(s) of the step's last response.
    #[serde(default)]
    pub sw: Option<SwExpect>,
    /// Exact response data, hex (may use `${saved.NAME}`).
    #[serde(default)]
    pub data: Option<String>,
    /// Response data starts with these bytes, hex.
    #[serde(default)]
    pub data_prefix: Option<String>,
    /// A regular expression that the response data, as upper-case hex without spaces, matches.
    #[serde(default)]
    pub data_regex: Option<String>,
    /// Response data length in bytes.
    #[serde(default)]
    pub data_len: Option<usize>,
    /// The step fails with a transport error (of this kind).
    #[serde(default)]
    pub transport_error: Option<TransportErrorKind>,
    /// The step takes at most this much simulated time.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub within: Option<Millis>,
}

/// What an onboarding step must produce (by default: an HTTP 2xx answer).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OnboardingExpect {
    /// The HTTP status (default: any 2xx).
    #[serde(default)]
    pub status: Option<u16>,
    /// Exactly these field-error codes (`name.code_check_digit`), in any order.
    #[serde(default)]
    pub errors: Option<Vec<String>>,
    /// The account's status afterwards (`active`, `pending_document_review`, `ready`).
    #[serde(default)]
    pub account_status: Option<String>,
    /// Values in the JSON answer, by JSON pointer (`/order/subsidy_yen: 4900`).
    #[serde(default)]
    pub json: Option<BTreeMap<String, serde_json::Value>>,
    /// Each text appears in one of the answer's notes.
    #[serde(default)]
    pub notes: Option<Vec<String>>,
    /// The answer has (true) or has not (false) a Retry-After header.
    #[serde(default)]
    pub retry_after: Option<bool>,
    /// The step takes at most this much simulated time (the in-process service only).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub within: Option<Millis>,
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

/// An onboarding step: a request to the onboarding service and what to expect of its answer.
#[derive(Clone, Debug)]
pub struct OnboardingStep {
    /// What the step does.
    pub action: OnboardingAction,
    /// What it must produce.
    pub expect: OnboardingExpect,
    /// A name for reports.
    pub name: Option<String>,
}

/// One step of a scenario, of one of two families that share nothing but a name: card steps
/// talk to the reader and card, onboarding steps to the onboarding service. Each family has its
/// own expectations; a field of the other family is refused when the scenario is loaded.
#[derive(Clone, Debug)]
pub enum Step {
    /// Reader and card.
    Card(CardStep),
    /// Onboarding service.
    Onboarding(OnboardingStep),
}

impl Step {
    /// The step's keyword.
    pub fn keyword(&self) -> &'static str {
        match self {
            Step::Card(s) => s.action.keyword(),
            Step::Onboarding(s) => s.action.keyword(),
        }
    }
    /// The name given for reports.
    pub fn name(&self) -> Option<&str> {
        match self {
            Step::Card(s) => s.name.as_deref(),
            Step::Onboarding(s) => s.name.as_deref(),
        }
    }
    /// Whether the step talks to the onboarding service.
    pub fn is_onboarding(&self) -> bool {
        matches!(self, Step::Onboarding(_))
    }
}

const CARD_WORDS: &[&str] = &[
    "tap",
    "remove",
    "approve",
    "deselect",
    "jpki_auth_flow",
    "atr",
];
const ONBOARDING_WORDS: &[&str] = &["account_status", "commission"];
const CARD_KEYS: &[&str] = &[
    "apdu",
    "wait",
    "select",
    "select_ef",
    "read_file",
    "verify_pin",
    "sign",
    "jpki_auth_flow",
    "uid",
    "atr",
    "tap",
    "remove",
    "approve",
    "deselect",
];
const ONBOARDING_KEYS: &[&str] = &[
    "register",
    "website",
    "order",
    "account_status",
    "commission",
    "http",
];
const STEP_KEYS: &[&str] = &[
    "apdu",
    "wait",
    "select",
    "select_ef",
    "read_file",
    "verify_pin",
    "sign",
    "jpki_auth_flow",
    "uid",
    "atr",
    "tap",
    "remove",
    "approve",
    "deselect",
    "register",
    "website",
    "order",
    "account_status",
    "commission",
    "http",
    "expect",
    "save",
    "name",
];

/// A step's action while it is being read: either family.
enum AnyAction {
    Card(CardAction),
    Onboarding(OnboardingAction),
}

impl AnyAction {
    fn keyword(&self) -> &'static str {
        match self {
            AnyAction::Card(a) => a.keyword(),
            AnyAction::Onboarding(a) => a.keyword(),
        }
    }
    fn checkable(&self) -> &'static [&'static str] {
        match self {
            AnyAction::Card(a) => a.checkable(),
            AnyAction::Onboarding(_) => ONBOARDING_EXPECT_FIELDS,
        }
    }
}

/// What a step's `expect` was read into: the family its action decided.
enum AnyExpect {
    Card(CardExpect),
    Onboarding(OnboardingExpect),
}

/// Reads a step's `expect` map for a known action, refusing — at the field — any field the
/// action cannot check, then the family's own type reads the rest.
struct ExpectSeed<'a>(&'a AnyAction);

impl<'de> de::DeserializeSeed<'de> for ExpectSeed<'_> {
    type Value = AnyExpect;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<AnyExpect, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ExpectSeed<'_> {
    type Value = AnyExpect;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of expectations, e.g. { sw: \"9000\" }")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AnyExpect, A::Error> {
        let checked = CheckedKeys {
            inner: map,
            action: self.0,
        };
        let d = de::value::MapAccessDeserializer::new(checked);
        Ok(match self.0 {
            AnyAction::Card(_) => AnyExpect::Card(CardExpect::deserialize(d)?),
            AnyAction::Onboarding(_) => AnyExpect::Onboarding(OnboardingExpect::deserialize(d)?),
        })
    }
}

/// A map whose keys are checked against what an action can check before they are read.
struct CheckedKeys<'a, A> {
    inner: A,
    action: &'a AnyAction,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for CheckedKeys<'_, A> {
    type Error = A::Error;
    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let Some(key) = self.inner.next_key::<String>()? else {
            return Ok(None);
        };
        let allowed = self.action.checkable();
        if !allowed.contains(&key.as_str()) {
            let keyword = self.action.keyword();
            let own = match self.action {
                AnyAction::Card(_) => CARD_EXPECT_FIELDS,
                AnyAction::Onboarding(_) => ONBOARDING_EXPECT_FIELDS,
            };
            let (family, step) = match self.action {
                AnyAction::Card(_) => ("an onboarding expectation", "a card step"),
                AnyAction::Onboarding(_) => ("a card expectation", "an onboarding step"),
            };
            let message = if own.contains(&key.as_str()) {
                format!(
                    "`{keyword}` steps cannot check `{key}`: they check only {}",
                    allowed.join(", ")
                )
            } else if CARD_EXPECT_FIELDS.contains(&key.as_str())
                || ONBOARDING_EXPECT_FIELDS.contains(&key.as_str())
            {
                format!(
                    "`{key}` is {family}, and `{keyword}` is {step}: it checks only {}",
                    allowed.join(", ")
                )
            } else {
                return Err(de::Error::unknown_field(&key, allowed));
            };
            return Err(de::Error::custom(message));
        }
        seed.deserialize(de::value::StringDeserializer::new(key))
            .map(Some)
    }
    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, A::Error> {
        self.inner.next_value_seed(seed)
    }
}

fn card_word(word: &str) -> Option<CardAction> {
    Some(match word {
        "tap" => CardAction::Tap,
        "remove" => CardAction::Remove,
        "approve" => CardAction::Approve,
        "deselect" => CardAction::Deselect,
        "jpki_auth_flow" => CardAction::JpkiAuthFlow(AuthFlow::default()),
        "atr" => CardAction::Atr,
        _ => return None,
    })
}

fn onboarding_word(word: &str) -> Option<OnboardingAction> {
    Some(match word {
        "account_status" => OnboardingAction::AccountStatus(None),
        "commission" => OnboardingAction::Commission,
        _ => return None,
    })
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Clone, Copy)]
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Step;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a step: `tap`, `remove`, `approve`, `deselect`, or a map with one action key",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Step, E> {
                if let Some(action) = card_word(v) {
                    return Ok(Step::Card(CardStep {
                        action,
                        expect: CardExpect::default(),
                        save: None,
                        name: None,
                    }));
                }
                if let Some(action) = onboarding_word(v) {
                    return Ok(Step::Onboarding(OnboardingStep {
                        action,
                        expect: OnboardingExpect::default(),
                        name: None,
                    }));
                }
                let words: Vec<&str> = CARD_WORDS.iter().chain(ONBOARDING_WORDS).copied().collect();
                Err(E::custom(format!(
                    "unknown step `{v}`, expected one of {}",
                    words.join(", ")
                )))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Step, A::Error> {
                let (mut action, mut expect, mut save, mut name) =
                    (None::<AnyAction>, None, None::<String>, None);
                while let Some(key) = map.next_key::<String>()? {
                    let a = match key.as_str() {
                        "apdu" => AnyAction::Card(CardAction::Apdu(map.next_value()?)),
                        "wait" => AnyAction::Card(CardAction::Wait(map.next_value::<Millis>()?)),
                        "select" => AnyAction::Card(CardAction::Select(map.next_value()?)),
                        "select_ef" => AnyAction::Card(CardAction::SelectEf(map.next_value()?)),
                        "read_file" => AnyAction::Card(CardAction::ReadFile(map.next_value()?)),
                        "verify_pin" => AnyAction::Card(CardAction::VerifyPin(map.next_value()?)),
                        "sign" => AnyAction::Card(CardAction::Sign(map.next_value()?)),
                        "jpki_auth_flow" => AnyAction::Card(CardAction::JpkiAuthFlow(
                            map.next_value::<Option<AuthFlow>>()?.unwrap_or_default(),
                        )),
                        "uid" => AnyAction::Card(CardAction::Uid(map.next_value()?)),
                        "register" => {
                            AnyAction::Onboarding(OnboardingAction::Register(map.next_value()?))
                        }
                        "website" => {
                            AnyAction::Onboarding(OnboardingAction::Website(map.next_value()?))
                        }
                        "order" => {
                            AnyAction::Onboarding(OnboardingAction::Order(map.next_value()?))
                        }
                        "account_status" => AnyAction::Onboarding(OnboardingAction::AccountStatus(
                            map.next_value()?,
                        )),
                        "commission" => {
                            map.next_value::<de::IgnoredAny>()?;
                            AnyAction::Onboarding(OnboardingAction::Commission)
                        }
                        "http" => AnyAction::Onboarding(OnboardingAction::Http(map.next_value()?)),
                        "tap" | "remove" | "approve" | "deselect" | "atr" => {
                            map.next_value::<de::IgnoredAny>()?;
                            AnyAction::Card(card_word(&key).expect("a card word"))
                        }
                        "expect" => {
                            let Some(a) = &action else {
                                return Err(de::Error::custom(
                                    "`expect` comes before the step's action: write the action first (`- apdu: …`, then `expect:`), since what a step can check depends on it",
                                ));
                            };
                            expect = Some(map.next_value_seed(ExpectSeed(a))?);
                            continue;
                        }
                        "save" => {
                            save = Some(map.next_value::<String>()?);
                            continue;
                        }
                        "name" => {
                            name = Some(map.next_value::<String>()?);
                            continue;
                        }
                        other => return Err(de::Error::unknown_field(other, STEP_KEYS)),
                    };
                    if let Some(first) = action.replace(a) {
                        return Err(de::Error::custom(format!(
                            "a step has one action, this one has `{}` and `{key}`; write them as two steps",
                            first.keyword()
                        )));
                    }
                }
                let action = action.ok_or_else(|| {
                    de::Error::custom(format!(
                        "this step has no action; add a card action ({}) or an onboarding action ({})",
                        CARD_KEYS.join(", "),
                        ONBOARDING_KEYS.join(", ")
                    ))
                })?;
                Ok(match action {
                    AnyAction::Card(action) => {
                        if save.is_some() && !action.has_response() {
                            return Err(de::Error::custom(format!(
                                "`save` on a `{}` step: it has no response data to save{}",
                                action.keyword(),
                                if matches!(action, CardAction::Uid(_)) {
                                    "; remember a UID with `uid: {{ save: NAME }}`"
                                } else {
                                    ""
                                }
                            )));
                        }
                        let expect = match expect {
                            Some(AnyExpect::Card(e)) => e,
                            _ => CardExpect::default(),
                        };
                        Step::Card(CardStep {
                            action,
                            expect,
                            save,
                            name,
                        })
                    }
                    AnyAction::Onboarding(action) => {
                        if save.is_some() {
                            return Err(de::Error::custom(format!(
                                "`save` on a `{}` step: onboarding steps save nothing (the account a case registered last is `${{account}}`)",
                                action.keyword()
                            )));
                        }
                        let expect = match expect {
                            Some(AnyExpect::Onboarding(e)) => e,
                            _ => OnboardingExpect::default(),
                        };
                        Step::Onboarding(OnboardingStep {
                            action,
                            expect,
                            name,
                        })
                    }
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Step {
    fn schema_name() -> Cow<'static, str> {
        "Step".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let card_expect = generator.subschema_for::<CardExpect>();
        let onboarding_expect = generator.subschema_for::<OnboardingExpect>();
        let read_file = generator.subschema_for::<ReadFile>();
        let verify_pin = generator.subschema_for::<VerifyPin>();
        let sign = generator.subschema_for::<Sign>();
        let auth = generator.subschema_for::<AuthFlow>();
        let uid = generator.subschema_for::<UidCheck>();
        let register = generator.subschema_for::<RegisterStep>();
        let website = generator.subschema_for::<WebsiteStep>();
        let order = generator.subschema_for::<OrderStep>();
        let http = generator.subschema_for::<HttpStep>();
        json_schema!({
            "description": "A step: a bare word, or a map with exactly one action key plus optional expect, save and name. Card steps and onboarding steps have different expectations.",
            "oneOf": [
                { "type": "string", "enum": ["tap", "remove", "approve", "deselect", "jpki_auth_flow", "atr", "account_status", "commission"] },
                {
                    "type": "object",
                    "description": "A card step: talks to the reader and the card.",
                    "additionalProperties": false,
                    "minProperties": 1,
                    "properties": {
                        "apdu": { "type": "string", "description": "Command APDU, hex; ${secrets.NAME} and ${saved.NAME} are substituted." },
                        "wait": { "type": "string", "description": "Simulated time to let pass, e.g. 500ms." },
                        "select": { "type": "string", "description": "jpki, card-info, readertest, or an AID in hex." },
                        "select_ef": { "type": "string", "description": "FID, 4 hex digits." },
                        "read_file": read_file,
                        "verify_pin": verify_pin,
                        "sign": sign,
                        "jpki_auth_flow": { "anyOf": [auth, { "type": "null" }] },
                        "uid": uid,
                        "tap": {}, "remove": {}, "approve": {}, "deselect": {},
                        "atr": { "description": "The ATR the reader reports for the card; expect: data, data_prefix, data_len, data_regex." },
                        "expect": card_expect,
                        "save": { "type": "string", "description": "Save the response data under this name (steps with a response)." },
                        "name": { "type": "string" }
                    }
                },
                {
                    "type": "object",
                    "description": "An onboarding step: talks to the onboarding service.",
                    "additionalProperties": false,
                    "minProperties": 1,
                    "properties": {
                        "register": register,
                        "website": website,
                        "order": order,
                        "account_status": { "type": ["string", "null"], "description": "The account (default: the one registered last)." },
                        "commission": {},
                        "http": http,
                        "expect": onboarding_expect,
                        "name": { "type": "string" }
                    }
                }
            ]
        })
    }
}
fn faults_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "description": "Faults: { when: { tap | exchange [, frame, byte] | probability }, do: action }.",
        "items": {
            "type": "object",
            "additionalProperties": false,
            "required": ["when", "do"],
            "properties": {
                "when": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "tap": { "type": "integer", "minimum": 1 },
                        "exchange": { "type": "integer", "minimum": 1 },
                        "frame": { "type": "integer", "minimum": 1 },
                        "byte": { "type": "integer", "minimum": 0 },
                        "probability": { "type": "number", "minimum": 0, "maximum": 1 }
                    }
                },
                "do": {
                    "oneOf": [
                        { "type": "string", "enum": ["field_off", "frame_lost", "crc_error", "collision", "new_uid"] },
                        { "type": "object", "additionalProperties": false, "properties": { "slow_card": { "type": "number", "exclusiveMinimum": 0 } }, "required": ["slow_card"] },
                        { "type": "object", "additionalProperties": false, "properties": { "wtx_storm": { "type": "integer", "minimum": 1 } }, "required": ["wtx_storm"] }
                    ]
                }
            }
        }
    })
}

/// A scenario file: one scenario or a list of them.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ScenarioFile {
    /// A list.
    Many(Vec<Scenario>),
    /// One.
    One(Box<Scenario>),
}

/// The JSON Schema of scenario files.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(ScenarioFile);
    serde_json::to_string_pretty(&schema).expect("a schema serialises") + "\n"
}
