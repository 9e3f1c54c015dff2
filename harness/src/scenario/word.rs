//! Reading an action enum (a derived, externally tagged `Deserialize`) from how a step writes
//! it: a bare word (`- tap`), or one entry of the step's map (`- apdu: 00 A4 …`) whose value is
//! read from the map itself, so that its errors keep their file:line:column.
use serde::Deserializer;
use serde::de::{self, MapAccess, Visitor};

/// A bare keyword (`- tap`) read as an action enum: the word names the variant, and the
/// argument is absent (a unit, which an `Option` argument reads as `None`).
pub(super) struct Bare<'a>(pub(super) &'a str);

impl<'de> Deserializer<'de> for Bare<'_> {
    type Error = de::value::Error;
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_enum(self)
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

impl<'de> de::EnumAccess<'de> for Bare<'_> {
    type Error = de::value::Error;
    type Variant = NoArgument;
    fn variant_seed<S: de::DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, NoArgument), Self::Error> {
        let word = de::value::StrDeserializer::<Self::Error>::new(self.0);
        Ok((seed.deserialize(word)?, NoArgument))
    }
}

/// The missing argument of a bare keyword.
pub(super) struct NoArgument;

impl<'de> de::VariantAccess<'de> for NoArgument {
    type Error = de::value::Error;
    fn unit_variant(self) -> Result<(), Self::Error> {
        Ok(())
    }
    fn newtype_variant_seed<S: de::DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<S::Value, Self::Error> {
        seed.deserialize(de::value::UnitDeserializer::new())
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("this step needs arguments"))
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("this step needs arguments"))
    }
}

/// A step map's action entry read as an action enum: the key names the variant, and the
/// argument is the entry's value, read from the map itself so that its errors keep their
/// file:line:column.
pub(super) struct Keyed<'a, A> {
    pub(super) key: &'a str,
    pub(super) map: &'a mut A,
}

impl<'de, A: MapAccess<'de>> Deserializer<'de> for Keyed<'_, A> {
    type Error = A::Error;
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_enum(self)
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

impl<'de, A: MapAccess<'de>> de::EnumAccess<'de> for Keyed<'_, A> {
    type Error = A::Error;
    type Variant = Self;
    fn variant_seed<S: de::DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self), A::Error> {
        let key = de::value::StrDeserializer::<A::Error>::new(self.key);
        Ok((seed.deserialize(key)?, self))
    }
}

impl<'de, A: MapAccess<'de>> de::VariantAccess<'de> for Keyed<'_, A> {
    type Error = A::Error;
    fn unit_variant(self) -> Result<(), A::Error> {
        // `- tap: {}` and `- tap: null` alike: a word's value says nothing.
        self.map.next_value::<de::IgnoredAny>().map(drop)
    }
    fn newtype_variant_seed<S: de::DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<S::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(Shaped::Tuple(len, visitor))
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(Shaped::Struct(fields, visitor))
    }
}

/// A tuple or struct variant's argument, read from a map value.
pub(super) enum Shaped<V> {
    Tuple(usize, V),
    Struct(&'static [&'static str], V),
}

impl<'de, V: Visitor<'de>> de::DeserializeSeed<'de> for Shaped<V> {
    type Value = V::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        match self {
            Shaped::Tuple(len, v) => d.deserialize_tuple(len, v),
            Shaped::Struct(fields, v) => d.deserialize_struct("", fields, v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::fmt;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum Act {
        Go,
        Say(String),
        Maybe(Option<u8>),
        Pair(u8, u8),
        Named { x: u8 },
    }

    /// A map with one entry, read as an `Act` the way a step reads its action.
    struct Entry(Act);

    impl<'de> Deserialize<'de> for Entry {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Entry;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a map")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
                    let key = map.next_key::<String>()?.expect("one entry");
                    let act = Act::deserialize(Keyed {
                        key: &key,
                        map: &mut map,
                    })?;
                    Ok(Entry(act))
                }
            }
            d.deserialize_map(V)
        }
    }

    fn entry(yaml: &str) -> Result<Act, String> {
        serde_saphyr::from_str::<Entry>(yaml)
            .map(|e| e.0)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_bare_word_is_a_variant_without_an_argument_or_with_an_optional_one() {
        assert_eq!(Act::deserialize(Bare("go")), Ok(Act::Go));
        assert_eq!(Act::deserialize(Bare("maybe")), Ok(Act::Maybe(None)));
        assert!(Act::deserialize(Bare("say")).is_err(), "say needs its text");
        assert!(Act::deserialize(Bare("pair")).is_err());
        assert!(Act::deserialize(Bare("named")).is_err());
    }

    #[test]
    fn a_map_entry_is_a_variant_with_the_entry_value_as_its_argument() {
        assert_eq!(entry("{ go: null }"), Ok(Act::Go));
        assert_eq!(entry("{ go: { anything: 1 } }"), Ok(Act::Go));
        assert_eq!(entry("{ say: hello }"), Ok(Act::Say("hello".into())));
        assert_eq!(entry("{ maybe: 7 }"), Ok(Act::Maybe(Some(7))));
        assert_eq!(entry("{ pair: [1, 2] }"), Ok(Act::Pair(1, 2)));
        assert_eq!(entry("{ named: { x: 3 } }"), Ok(Act::Named { x: 3 }));
        let e = entry("{ maybe: many }").expect_err("not a number");
        assert!(
            e.contains("line 1"),
            "the value's error keeps its position: {e}"
        );
    }
}
