//! What a step may expect: status-word patterns (`63Cx`), data, transport errors and time for card
//! steps; status, error codes, account status and JSON pointers for onboarding steps.
use kazasu_sim::StatusWord;
use kazasu_sim::platform::profile::Millis;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// An expectation that did not hold, for either kind of step: what the scenario wanted and what
/// happened, in the words a report shows (the step it happened at is the report's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// What the scenario expected.
    pub expected: String,
    /// What happened instead.
    pub actual: String,
}

impl Mismatch {
    /// What was expected, and what happened.
    pub fn new(expected: impl Into<String>, actual: impl Into<String>) -> Self {
        Mismatch {
            expected: expected.into(),
            actual: actual.into(),
        }
    }
}

/// Every field a card step's `expect` may have.
pub const CARD_EXPECT_FIELDS: &[&str] = &[
    "sw",
    "data",
    "data_prefix",
    "data_regex",
    "data_len",
    "refused",
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

/// A status-word pattern: `9000`, or with `x` for any nibble (`63Cx`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwPattern {
    value: u16,
    mask: u16,
    text: [u8; 4],
}

/// Text that is not a status-word pattern.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SwPatternError {
    /// Not four digits.
    #[error("status word `{0}` must be 4 hex digits, `x` for any digit (e.g. 63Cx)")]
    Length(String),
    /// A character that is neither.
    #[error("status word `{text}`: `{bad}` is not a hex digit or x")]
    Digit {
        /// The pattern.
        text: String,
        /// The character.
        bad: char,
    },
}

impl SwPattern {
    /// Parses `9000`, `63Cx`, `6Axx`.
    pub fn parse(text: &str) -> Result<SwPattern, SwPatternError> {
        let t = text.trim().replace(' ', "");
        if t.len() != 4 {
            return Err(SwPatternError::Length(text.to_owned()));
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
            let d = c.to_digit(16).ok_or_else(|| SwPatternError::Digit {
                text: text.to_owned(),
                bad: c,
            })?;
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
    /// The reader itself went away during the exchange.
    ReaderUnplugged,
    /// The card is in the field but never answered its activation.
    Unresponsive,
}

/// How a reader refuses a request (`SCardControl`, `SCardGetAttrib`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    /// Any refusal.
    Any,
    /// No such feature or attribute, or a malformed request (SCARD_E_UNSUPPORTED_FEATURE).
    Unsupported,
    /// The reader failed it (SCARD_E_NOT_TRANSACTED: an unknown escape, the card lost).
    Failed,
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
    /// The reader refuses the request (control and attribute steps).
    #[serde(default)]
    pub refused: Option<RefusalKind>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_with_x_matches_any_nibble_there_and_reads_back_as_written() {
        let p = SwPattern::parse("63Cx").expect("valid");
        assert!(p.matches(StatusWord(0x63C2)) && p.matches(StatusWord(0x63C0)));
        assert!(!p.matches(StatusWord(0x6300)) && !p.matches(StatusWord(0x9000)));
        assert_eq!(p.to_string(), "63Cx");
        assert!(SwPattern::parse("90").is_err());
        assert!(SwPattern::parse("90G0").is_err());
    }

    #[test]
    fn an_expected_status_may_be_one_pattern_or_several() {
        let one: SwExpect = serde_saphyr::from_str("\"9000\"").expect("one");
        assert_eq!(one.0.len(), 1);
        let two: SwExpect = serde_saphyr::from_str("[\"6A82\", \"63Cx\"]").expect("two");
        assert_eq!(two.0.len(), 2);
        assert!(two.0[1].matches(StatusWord(0x63C1)));
    }
}
