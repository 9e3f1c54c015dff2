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

use kazasu_sim::fault::Fault;
use kazasu_sim::profile::Millis;
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

/// What a step does.
#[derive(Clone, Debug)]
pub enum Action {
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
    /// Onboarding: register a business account.
    Register(RegisterStep),
    /// Onboarding: the optional website step.
    Website(WebsiteStep),
    /// Onboarding: order a reader.
    Order(OrderStep),
    /// Onboarding: read the account's status (default: the one registered last).
    AccountStatus(Option<String>),
    /// Onboarding: the bought reader's first read of a phone.
    Commission,
    /// Onboarding: a raw HTTP request.
    Http(HttpStep),
}

impl Action {
    /// The step's keyword.
    pub fn keyword(&self) -> &'static str {
        match self {
            Action::Tap => "tap",
            Action::Remove => "remove",
            Action::Approve => "approve",
            Action::Deselect => "deselect",
            Action::Wait(_) => "wait",
            Action::Apdu(_) => "apdu",
            Action::Select(_) => "select",
            Action::SelectEf(_) => "select_ef",
            Action::ReadFile(_) => "read_file",
            Action::VerifyPin(_) => "verify_pin",
            Action::Sign(_) => "sign",
            Action::JpkiAuthFlow(_) => "jpki_auth_flow",
            Action::Uid(_) => "uid",
            Action::Register(_) => "register",
            Action::Website(_) => "website",
            Action::Order(_) => "order",
            Action::AccountStatus(_) => "account_status",
            Action::Commission => "commission",
            Action::Http(_) => "http",
        }
    }

    /// Whether the step talks to the onboarding service.
    pub fn is_onboarding(&self) -> bool {
        matches!(
            self,
            Action::Register(_)
                | Action::Website(_)
                | Action::Order(_)
                | Action::AccountStatus(_)
                | Action::Commission
                | Action::Http(_)
        )
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

/// What a step must produce. High-level steps expect 9000 unless told otherwise.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
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
    /// Onboarding: the HTTP status (default: any 2xx).
    #[serde(default)]
    pub status: Option<u16>,
    /// Onboarding: exactly these field-error codes (`name.code_check_digit`), in any order.
    #[serde(default)]
    pub errors: Option<Vec<String>>,
    /// Onboarding: the account's status afterwards (`active`, `pending_document_review`, `ready`).
    #[serde(default)]
    pub account_status: Option<String>,
    /// Onboarding: values in the JSON answer, by JSON pointer (`/order/subsidy_yen: 4900`).
    #[serde(default)]
    pub json: Option<BTreeMap<String, serde_json::Value>>,
    /// Onboarding: each text appears in one of the answer's notes.
    #[serde(default)]
    pub notes: Option<Vec<String>>,
    /// Onboarding: the answer has a Retry-After header.
    #[serde(default)]
    pub retry_after: Option<bool>,
}

/// One step: an action, what to expect of it, an optional name and a name to save data under.
#[derive(Clone, Debug)]
pub struct Step {
    /// What the step does.
    pub action: Action,
    /// What it must produce.
    pub expect: Option<Expect>,
    /// Save the response data under this name.
    pub save: Option<String>,
    /// A name for reports.
    pub name: Option<String>,
}

const WORDS: &[&str] = &[
    "tap",
    "remove",
    "approve",
    "deselect",
    "jpki_auth_flow",
    "account_status",
    "commission",
];
const KEYS: &[&str] = &[
    "apdu",
    "wait",
    "select",
    "select_ef",
    "read_file",
    "verify_pin",
    "sign",
    "jpki_auth_flow",
    "uid",
    "register",
    "website",
    "order",
    "account_status",
    "commission",
    "http",
    "tap",
    "remove",
    "approve",
    "deselect",
    "expect",
    "save",
    "name",
];

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
                let action = match v {
                    "tap" => Action::Tap,
                    "remove" => Action::Remove,
                    "approve" => Action::Approve,
                    "deselect" => Action::Deselect,
                    "jpki_auth_flow" => Action::JpkiAuthFlow(AuthFlow::default()),
                    "account_status" => Action::AccountStatus(None),
                    "commission" => Action::Commission,
                    _ => return Err(E::unknown_variant(v, WORDS)),
                };
                Ok(Step {
                    action,
                    expect: None,
                    save: None,
                    name: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Step, A::Error> {
                let (mut action, mut expect, mut save, mut name) = (None, None, None, None);
                while let Some(key) = map.next_key::<String>()? {
                    let a = match key.as_str() {
                        "apdu" => Action::Apdu(map.next_value()?),
                        "wait" => Action::Wait(map.next_value::<Millis>()?),
                        "select" => Action::Select(map.next_value()?),
                        "select_ef" => Action::SelectEf(map.next_value()?),
                        "read_file" => Action::ReadFile(map.next_value()?),
                        "verify_pin" => Action::VerifyPin(map.next_value()?),
                        "sign" => Action::Sign(map.next_value()?),
                        "jpki_auth_flow" => Action::JpkiAuthFlow(
                            map.next_value::<Option<AuthFlow>>()?.unwrap_or_default(),
                        ),
                        "uid" => Action::Uid(map.next_value()?),
                        "register" => Action::Register(map.next_value()?),
                        "website" => Action::Website(map.next_value()?),
                        "order" => Action::Order(map.next_value()?),
                        "account_status" => Action::AccountStatus(map.next_value()?),
                        "commission" => {
                            map.next_value::<de::IgnoredAny>()?;
                            Action::Commission
                        }
                        "http" => Action::Http(map.next_value()?),
                        "tap" | "remove" | "approve" | "deselect" => {
                            map.next_value::<de::IgnoredAny>()?;
                            self.visit_str::<A::Error>(&key)?.action
                        }
                        "expect" => {
                            expect = Some(map.next_value::<Expect>()?);
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
                        other => return Err(de::Error::unknown_field(other, KEYS)),
                    };
                    if let Some(first) = action.replace(a) {
                        let first: &Action = &first;
                        return Err(de::Error::custom(format!(
                            "a step has one action, this one has `{}` and `{key}`; write them as two steps",
                            first.keyword()
                        )));
                    }
                }
                let action = action.ok_or_else(|| {
                    de::Error::custom("this step has no action; add one of apdu, select, read_file, verify_pin, sign, jpki_auth_flow, wait, uid, register, website, order, account_status, commission, http")
                })?;
                Ok(Step {
                    action,
                    expect,
                    save,
                    name,
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
        let expect = generator.subschema_for::<Expect>();
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
            "description": "A step: a bare word, or a map with exactly one action key plus optional expect, save and name.",
            "oneOf": [
                { "type": "string", "enum": ["tap", "remove", "approve", "deselect", "jpki_auth_flow", "account_status", "commission"] },
                {
                    "type": "object",
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
                        "register": register,
                        "website": website,
                        "order": order,
                        "account_status": { "type": ["string", "null"], "description": "The account (default: the one registered last)." },
                        "commission": {},
                        "http": http,
                        "tap": {}, "remove": {}, "approve": {}, "deselect": {},
                        "expect": expect,
                        "save": { "type": "string", "description": "Save the response data under this name." },
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
