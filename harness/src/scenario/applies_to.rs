//! `applies_to`: what a case needs of the reader under test (a named reader, extended APDUs, at
//! most so many WTX, a collision behaviour, an ATR form, a frame size, a PIN pad); a case whose needs the
//! reader does not meet is not applicable rather than failed.
use schemars::JsonSchema;
use serde::Deserialize;

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
    /// The reader has a PIN pad (`true`) or has none (`false`): a case about PIN entry on the
    /// reader.
    #[serde(default)]
    pub pin_pad: Option<bool>,
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
    /// SCM's proprietary form, `3B F5 91 00 FF 91 81 71 FE 40 00 42 …` (with or without the
    /// PUPI).
    Scm,
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
            Self::Scm => "scm",
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
                Some(AtrForm::Scm | AtrForm::ScmWithPupi) => AtrFormKind::Scm,
                Some(AtrForm::Part3) | None => AtrFormKind::Part3,
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
        if let Some(want) = self.pin_pad
            && want != reader.pin_pad.is_some()
        {
            missing.push(if want {
                "a reader with a PIN pad (this one has none)".to_string()
            } else {
                "a reader without a PIN pad (this one has one)".to_string()
            });
        }
        (!missing.is_empty()).then(|| format!("needs {}", missing.join(", and ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kazasu_sim::ReaderProfile;

    fn needs(yaml: &str) -> AppliesTo {
        serde_saphyr::from_str(yaml).expect("valid applies_to")
    }

    #[test]
    fn a_need_the_reader_meets_is_none_and_one_it_does_not_says_what() {
        let typical = ReaderProfile::builtin("typical-424k").expect("built-in");
        assert_eq!(needs("{ reader: typical-424k }").unmet(&typical), None);
        let why = needs("{ reader: fast-848k }")
            .unmet(&typical)
            .expect("another reader");
        assert!(why.contains("fast-848k"), "{why}");
        let basic = ReaderProfile::builtin("basic-106k").expect("built-in");
        let why = needs("{ extended_apdus: supported }")
            .unmet(&basic)
            .expect("short APDUs only");
        assert!(why.contains("extended"), "{why}");
        let pad = ReaderProfile::builtin("pinpad-424k").expect("built-in");
        assert_eq!(needs("{ pin_pad: true }").unmet(&pad), None);
        assert_eq!(needs("{ pin_pad: false }").unmet(&typical), None);
        let why = needs("{ pin_pad: true }").unmet(&typical).expect("no pad");
        assert!(why.contains("PIN pad"), "{why}");
        assert!(needs("{ pin_pad: false }").unmet(&pad).is_some());
    }
}
