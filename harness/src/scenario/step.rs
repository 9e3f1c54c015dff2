//! The step vocabulary: a step is a card step or an onboarding step, written as a keyword with
//! its arguments; the parser (with file:line:column errors and hints for unknown words) and the
//! JSON schema both read the keyword tables here.
use super::card_step::{AuthFlow, CardAction, CardStep, ReadFile, Sign, UidCheck, VerifyPin};
use super::expect::{CARD_EXPECT_FIELDS, CardExpect, ONBOARDING_EXPECT_FIELDS, OnboardingExpect};
use super::onboarding_step::{
    HttpStep, OnboardingAction, OnboardingStep, OrderStep, RegisterStep, WebsiteStep,
};
use kazasu_sim::platform::profile::Millis;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::fmt;

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

pub(super) const CARD_WORDS: &[&str] = &[
    "tap",
    "remove",
    "approve",
    "deselect",
    "jpki_auth_flow",
    "atr",
];

pub(super) const ONBOARDING_WORDS: &[&str] = &["account_status", "commission"];

pub(super) const CARD_KEYS: &[&str] = &[
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

pub(super) const ONBOARDING_KEYS: &[&str] = &[
    "register",
    "website",
    "order",
    "account_status",
    "commission",
    "http",
];

pub(super) const STEP_KEYS: &[&str] = &[
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
pub(super) enum AnyAction {
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
pub(super) enum AnyExpect {
    Card(CardExpect),
    Onboarding(OnboardingExpect),
}

/// Reads a step's `expect` map for a known action, refusing — at the field — any field the
/// action cannot check, then the family's own type reads the rest.
pub(super) struct ExpectSeed<'a>(&'a AnyAction);

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
pub(super) struct CheckedKeys<'a, A> {
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

pub(super) fn card_word(word: &str) -> Option<CardAction> {
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

pub(super) fn onboarding_word(word: &str) -> Option<OnboardingAction> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn step(yaml: &str) -> Result<Step, String> {
        serde_saphyr::from_str(yaml).map_err(|e| e.to_string())
    }

    /// The keywords the JSON schema offers: bare words, and the action keys of each family.
    fn schema_words() -> (Vec<String>, Vec<String>, Vec<String>) {
        let schema = schemars::schema_for!(Step);
        let v = serde_json::to_value(&schema).expect("a schema is JSON");
        let one_of = v["oneOf"].as_array().expect("oneOf");
        let strings = |x: &serde_json::Value| -> Vec<String> {
            x.as_array()
                .expect("an array")
                .iter()
                .map(|s| s.as_str().expect("a word").to_string())
                .collect()
        };
        let keys = |x: &serde_json::Value| -> Vec<String> {
            x["properties"]
                .as_object()
                .expect("properties")
                .keys()
                .filter(|k| !["expect", "save", "name"].contains(&k.as_str()))
                .cloned()
                .collect()
        };
        (
            strings(&one_of[0]["enum"]),
            keys(&one_of[1]),
            keys(&one_of[2]),
        )
    }

    #[test]
    fn the_schema_and_the_parser_agree_on_every_keyword() {
        let (bare, card, onboarding) = schema_words();
        let sorted = |v: &[&str]| {
            let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
            v.sort();
            v
        };
        let mut ours = card.clone();
        ours.sort();
        assert_eq!(ours, sorted(CARD_KEYS), "card step keys");
        let mut ours = onboarding.clone();
        ours.sort();
        assert_eq!(ours, sorted(ONBOARDING_KEYS), "onboarding step keys");
        let mut words: Vec<&str> = CARD_WORDS.iter().chain(ONBOARDING_WORDS).copied().collect();
        words.sort();
        let mut b = bare.clone();
        b.sort();
        assert_eq!(b, sorted(&words), "bare words");
        // Every word the schema offers parses, bare and as a key, into a step of its family
        // whose keyword is that word.
        for w in &bare {
            let s = step(w).unwrap_or_else(|e| panic!("bare `{w}` does not parse: {e}"));
            assert_eq!(s.keyword(), w);
        }
        let value = |k: &str| match k {
            "apdu" => "00 A4 04 00",
            "wait" => "10ms",
            "select" => "jpki",
            "select_ef" => "000A",
            "read_file" => "{ ef: 000A }",
            "verify_pin" => "{ ef: \"0018\" }",
            "sign" => "{ key: \"0017\" }",
            "uid" => "{}",
            "register" => "{ name: n, business_type: corporation, invitation_code: c }",
            "website" => "{ url: null }",
            "order" => "{ product: p }",
            "http" => "{ method: GET, path: / }",
            _ => "null",
        };
        for (keys, onboarding) in [(&card, false), (&onboarding, true)] {
            for k in keys {
                let s = step(&format!("{{ {k}: {} }}", value(k)))
                    .unwrap_or_else(|e| panic!("`{k}:` does not parse: {e}"));
                assert_eq!((s.keyword(), s.is_onboarding()), (k.as_str(), onboarding));
            }
        }
    }

    #[test]
    fn an_unknown_word_or_key_is_refused_with_what_is_known() {
        let e = step("tapp").expect_err("unknown word");
        assert!(
            e.contains("unknown step `tapp`") && e.contains("tap"),
            "{e}"
        );
        let e = step("{ tapp: {} }").expect_err("unknown key");
        assert!(e.contains("tapp") && e.contains("read_file"), "{e}");
        let e = step("{ tap: null, commission: null }").expect_err("two actions");
        assert!(e.contains("one action"), "{e}");
        let e = step("{ tap: null, expect: { status: 200 } }").expect_err("wrong family");
        assert!(e.contains("`status` is an onboarding expectation"), "{e}");
    }
}
