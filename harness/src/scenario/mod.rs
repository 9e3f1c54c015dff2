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

mod applies_to;
mod card_step;
mod expect;
mod onboarding_step;
mod step;
mod word;

pub use applies_to::{AppliesTo, AtrFormKind, CollisionKind, ExtendedApdusKind};
pub use card_step::{
    AttributeTag, AuthFlow, CardAction, CardStep, Control, ControlTarget, PadAction, PinPadPlan,
    ReadFile, ReadHow, SelectTarget, Sign, UidCheck, VerifyPin,
};
pub use expect::{
    CARD_EXPECT_FIELDS, CardExpect, Mismatch, ONBOARDING_EXPECT_FIELDS, OnboardingExpect,
    RefusalKind, SwExpect, SwPattern, SwPatternError, TransportErrorKind,
};
pub use onboarding_step::{
    HttpStep, OnboardingAction, OnboardingStep, OrderStep, RegisterStep, WebsiteStep,
};
pub use step::Step;

use kazasu_sim::Secret;
use kazasu_sim::platform::profile::Millis;
use kazasu_sim::reader::fault::Fault;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use std::collections::BTreeMap;

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
    /// Test identity on the card (`sim/data/fixtures/identities.yaml`).
    #[serde(default)]
    pub identity: Option<String>,
    /// Highest bit rate to negotiate, kbit/s.
    #[serde(default)]
    pub bit_rate: Option<u32>,
    /// Secrets (PINs, codes) used as `${secrets.NAME}`; never printed. `auth_pin`, `sign_pin`,
    /// `card_info_pin`, `juki_pin` and `common_pin` default to the identity's PINs,
    /// `my_number`, `check_code_b` and `birth_date_key` to its 照合番号A, 照合番号B and era
    /// birth date (`YYMMDD`).
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
