//! A step: a card step or an onboarding step, written as a keyword with its argument. The
//! keywords, their arguments and their schema come from the two action enums
//! ([`CardAction`], [`OnboardingAction`]); this file reads a step map around them (the action,
//! `expect` checked against what the action can check, `save`, `name`) with file:line:column
//! errors and hints, and assembles the step's JSON schema from the enums' own.
use super::card_step::{CardAction, CardStep};
use super::expect::{CARD_EXPECT_FIELDS, CardExpect, ONBOARDING_EXPECT_FIELDS, OnboardingExpect};
use super::onboarding_step::{OnboardingAction, OnboardingStep};
use super::word::{Bare, Keyed};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::fmt;
use std::sync::LazyLock;
use strum::VariantNames;

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

/// The keys a step map may have beside its action.
const STEP_FIELDS: &[&str] = &["expect", "save", "name"];

/// Every key a step map may have: the actions of both families, then [`STEP_FIELDS`].
static STEP_KEYS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    CardAction::VARIANTS
        .iter()
        .chain(OnboardingAction::VARIANTS)
        .chain(STEP_FIELDS)
        .copied()
        .collect()
});

/// The keywords that may stand alone as a step (`- tap`): those whose argument may be left out.
pub(super) fn bare_words() -> Vec<&'static str> {
    CardAction::VARIANTS
        .iter()
        .chain(OnboardingAction::VARIANTS)
        .copied()
        .filter(|w| bare_action(w).is_some_and(|a| a.is_ok()))
        .collect()
}

/// A bare keyword read as its action with no argument: `None` for a word that is no action,
/// an error for an action that needs an argument.
fn bare_action(word: &str) -> Option<Result<AnyAction, de::value::Error>> {
    fn bare<T: DeserializeOwned>(word: &str) -> Result<T, de::value::Error> {
        T::deserialize(Bare(word))
    }
    if CardAction::VARIANTS.contains(&word) {
        Some(bare(word).map(AnyAction::Card))
    } else if OnboardingAction::VARIANTS.contains(&word) {
        Some(bare(word).map(AnyAction::Onboarding))
    } else {
        None
    }
}

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
            let (family, step, family_step) = match self.action {
                AnyAction::Card(_) => (
                    "an onboarding expectation",
                    "a card step",
                    "an onboarding step",
                ),
                AnyAction::Onboarding(_) => {
                    ("a card expectation", "an onboarding step", "a card step")
                }
            };
            let message = if own.contains(&key.as_str()) {
                format!(
                    "`{keyword}` steps cannot check `{key}`: they check only {}; remove it, or \
                     move it to a step that can check it",
                    allowed.join(", ")
                )
            } else if CARD_EXPECT_FIELDS.contains(&key.as_str())
                || ONBOARDING_EXPECT_FIELDS.contains(&key.as_str())
            {
                format!(
                    "`{key}` is {family}, and `{keyword}` is {step}: it checks only {}; remove \
                     it, or move it to {family_step}",
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

/// A step from its parts, refusing a `save` the action cannot honour.
fn finish<E: de::Error>(
    action: AnyAction,
    expect: Option<AnyExpect>,
    save: Option<String>,
    name: Option<String>,
) -> Result<Step, E> {
    Ok(match action {
        AnyAction::Card(action) => {
            if save.is_some() && !action.has_response() {
                return Err(E::custom(format!(
                    "`save` on a `{}` step: it has no response data to save{}",
                    action.keyword(),
                    if matches!(action, CardAction::Uid(_)) {
                        "; remember a UID with `uid: { save: NAME }`"
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
                return Err(E::custom(format!(
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

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Clone, Copy)]
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Step;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "a step: a word ({}) or a map with one action key",
                    bare_words().join(", ")
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Step, E> {
                match bare_action(v) {
                    Some(Ok(action)) => finish(action, None, None, None),
                    Some(Err(_)) => Err(E::custom(format!(
                        "`{v}` needs an argument: write it as `- {v}: …`; the steps that stand alone are {}",
                        bare_words().join(", ")
                    ))),
                    None => Err(E::custom(format!(
                        "unknown step `{v}`, expected one of {}",
                        bare_words().join(", ")
                    ))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Step, A::Error> {
                let (mut action, mut expect, mut save, mut name) =
                    (None::<AnyAction>, None, None::<String>, None);
                while let Some(key) = map.next_key::<String>()? {
                    let entry = |map| Keyed { key: &key, map };
                    let a = if CardAction::VARIANTS.contains(&key.as_str()) {
                        AnyAction::Card(CardAction::deserialize(entry(&mut map))?)
                    } else if OnboardingAction::VARIANTS.contains(&key.as_str()) {
                        AnyAction::Onboarding(OnboardingAction::deserialize(entry(&mut map))?)
                    } else {
                        match key.as_str() {
                            "expect" => {
                                let Some(a) = &action else {
                                    return Err(de::Error::custom(
                                        "`expect` comes before the step's action: write the action first (`- apdu: …`, then `expect:`), since what a step can check depends on it",
                                    ));
                                };
                                expect = Some(map.next_value_seed(ExpectSeed(a))?);
                            }
                            "save" => save = Some(map.next_value::<String>()?),
                            "name" => name = Some(map.next_value::<String>()?),
                            other => return Err(de::Error::unknown_field(other, &STEP_KEYS)),
                        }
                        continue;
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
                        CardAction::VARIANTS.join(", "),
                        OnboardingAction::VARIANTS.join(", ")
                    ))
                })?;
                finish(action, expect, save, name)
            }
        }
        d.deserialize_any(V)
    }
}

/// The step-map properties of an action enum's schema: its keywords, each with its argument's
/// schema and the variant's description. schemars writes an externally tagged enum as a `oneOf`
/// of string words (variants without an argument) and one-property objects (the others).
fn action_properties(enum_schema: &Schema) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::{Value, json};
    let mut properties = serde_json::Map::new();
    let variants = enum_schema
        .get("oneOf")
        .and_then(Value::as_array)
        .expect("an action enum's schema is a oneOf of its variants");
    for variant in variants {
        let description = variant.get("description").cloned();
        let words = variant
            .get("enum")
            .and_then(Value::as_array)
            .cloned()
            .or_else(|| variant.get("const").map(|c| vec![c.clone()]));
        if let Some(words) = words {
            for word in words {
                let word = word.as_str().expect("a variant's word is a string");
                let mut entry = json!({});
                if let Some(d) = &description {
                    entry["description"] = d.clone();
                }
                properties.insert(word.to_owned(), entry);
            }
            continue;
        }
        let own = variant
            .get("properties")
            .and_then(Value::as_object)
            .expect("a variant with an argument is a one-property object");
        for (keyword, argument) in own {
            let mut argument = argument.clone();
            if let (Some(d), Some(obj)) = (&description, argument.as_object_mut()) {
                obj.entry("description").or_insert_with(|| d.clone());
            }
            properties.insert(keyword.clone(), argument);
        }
    }
    properties
}

impl JsonSchema for Step {
    fn schema_name() -> Cow<'static, str> {
        "Step".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let family = |description: &str, actions: Schema, expect: Schema, save: bool| {
            let mut properties = action_properties(&actions);
            properties.insert("expect".into(), expect.to_value());
            if save {
                properties.insert(
                    "save".into(),
                    serde_json::json!({ "type": "string", "description": "Save the response data under this name (steps with a response)." }),
                );
            }
            properties.insert("name".into(), serde_json::json!({ "type": "string" }));
            json_schema!({
                "type": "object",
                "description": description,
                "additionalProperties": false,
                "minProperties": 1,
                "properties": properties
            })
        };
        let card_actions = CardAction::json_schema(generator);
        let card_expect = generator.subschema_for::<CardExpect>();
        let onboarding_actions = OnboardingAction::json_schema(generator);
        let onboarding_expect = generator.subschema_for::<OnboardingExpect>();
        let card = family(
            "A card step: talks to the reader and the card.",
            card_actions,
            card_expect,
            true,
        );
        let onboarding = family(
            "An onboarding step: talks to the onboarding service.",
            onboarding_actions,
            onboarding_expect,
            false,
        );
        json_schema!({
            "description": "A step: a bare word, or a map with exactly one action key plus optional expect, save and name. Card steps and onboarding steps have different expectations.",
            "oneOf": [
                { "type": "string", "enum": bare_words() },
                card,
                onboarding
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::card_step::{AuthFlow, ReadHow};
    use super::*;

    fn step(yaml: &str) -> Result<Step, String> {
        serde_saphyr::from_str(yaml).map_err(|e| e.to_string())
    }

    /// What the JSON schema offers: the bare words, and each family's action keys with the
    /// examples the schema gives of their argument.
    /// A family's action keys, each with the examples of its argument.
    type Keys = Vec<(String, Vec<serde_json::Value>)>;

    fn schema_words() -> (Vec<String>, [Keys; 2]) {
        let schema = schemars::schema_for!(Step);
        let v = serde_json::to_value(&schema).expect("a schema is JSON");
        let one_of = v["oneOf"].as_array().expect("oneOf");
        let bare = one_of[0]["enum"]
            .as_array()
            .expect("the bare words")
            .iter()
            .map(|s| s.as_str().expect("a word").to_string())
            .collect();
        let keys = |x: &serde_json::Value| {
            x["properties"]
                .as_object()
                .expect("properties")
                .iter()
                .filter(|(k, _)| !STEP_FIELDS.contains(&k.as_str()))
                .map(|(k, p)| {
                    let examples = p["examples"].as_array().cloned().unwrap_or_default();
                    (k.clone(), examples)
                })
                .collect()
        };
        (bare, [keys(&one_of[1]), keys(&one_of[2])])
    }

    #[test]
    fn the_schema_and_the_parser_agree_on_every_keyword() {
        let (bare, [card, onboarding]) = schema_words();
        let sorted = |v: &mut dyn Iterator<Item = String>| {
            let mut v: Vec<String> = v.collect();
            v.sort();
            v
        };
        for (family, schema, variants) in [
            ("card", &card, CardAction::VARIANTS),
            ("onboarding", &onboarding, OnboardingAction::VARIANTS),
        ] {
            assert_eq!(
                sorted(&mut schema.iter().map(|(k, _)| k.clone())),
                sorted(&mut variants.iter().map(|s| s.to_string())),
                "the schema's {family} step keys are the {family} actions"
            );
        }
        assert!(bare.iter().any(|w| w == "tap") && bare.iter().any(|w| w == "commission"));
        assert!(!bare.iter().any(|w| w == "apdu"), "apdu needs its command");
        // Every word the schema offers parses, bare and as a key (with each example the schema
        // gives of its argument, or none), into a step of its family whose keyword is that word.
        for w in &bare {
            let s = step(w).unwrap_or_else(|e| panic!("bare `{w}` does not parse: {e}"));
            assert_eq!(s.keyword(), w);
        }
        for (keys, onboarding) in [(&card, false), (&onboarding, true)] {
            for (k, examples) in keys {
                let arguments: Vec<String> = if examples.is_empty() {
                    vec!["null".into()]
                } else {
                    // JSON is YAML's flow syntax.
                    examples.iter().map(|e| e.to_string()).collect()
                };
                for argument in arguments {
                    let s = step(&format!("{{ {k}: {argument} }}"))
                        .unwrap_or_else(|e| panic!("`{k}: {argument}` does not parse: {e}"));
                    assert_eq!((s.keyword(), s.is_onboarding()), (k.as_str(), onboarding));
                }
            }
        }
    }

    #[test]
    fn a_word_that_needs_an_argument_says_how_to_write_it() {
        let e = step("apdu").expect_err("apdu needs its command");
        assert!(
            e.contains("`apdu` needs an argument") && e.contains("- apdu: …"),
            "{e}"
        );
        let e = step("{ wait: 10 parsecs }").expect_err("not a duration");
        assert!(
            e.contains("line 1"),
            "the argument's error keeps its position: {e}"
        );
        let s = step("{ jpki_auth_flow: { how: extended } }").expect("arguments");
        assert!(matches!(
            s,
            Step::Card(CardStep {
                action: CardAction::JpkiAuthFlow(AuthFlow {
                    how: ReadHow::Extended,
                    ..
                }),
                ..
            })
        ));
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
