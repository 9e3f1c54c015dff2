//! Serve scripts: when cards enter and leave the field, approvals, warm resets, the reader's
//! faults and the person at its PIN pad, read from YAML and checked before serving starts.

use crate::serve::error::ServeError;
use std::time::Duration;

/// What a serve script can do to a card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScriptAction {
    /// The card enters the field.
    Tap,
    /// The card leaves the field.
    Remove,
    /// The phone approval (iPhone).
    Approve,
    /// A warm reset of the card as another program on the PC causes one: a PC/SC connection
    /// to the slot's reader and `SCardReconnect(…, SCARD_RESET_CARD)`. pcscd resets the card
    /// through vpcd (it keeps its verified PINs) and the reading software's next command gets
    /// `SCARD_W_RESET_CARD`. Needs kazasu built with the `pcsc` feature and the pcscd of this PC.
    WarmReset,
}

/// As a script writes it (`tap`, `remove`, `approve`, `warm_reset`).
impl std::fmt::Display for ScriptAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ScriptAction::Tap => "tap",
            ScriptAction::Remove => "remove",
            ScriptAction::Approve => "approve",
            ScriptAction::WarmReset => "warm_reset",
        })
    }
}

/// One scripted event: at a time since the start, or after a number of APDUs on its slot.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptEvent {
    /// Wall time since serving started (e.g. `2s`).
    #[serde(default, with = "humantime_serde_opt")]
    pub at: Option<Duration>,
    /// After the slot answered this many APDUs.
    #[serde(default)]
    pub after_apdus: Option<u64>,
    /// The slot (default: every slot).
    #[serde(default)]
    pub slot: Option<u16>,
    /// What happens.
    #[serde(rename = "do")]
    pub action: ScriptAction,
}

mod humantime_serde_opt {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| humantime::parse_duration(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// A serve script: card-side events and faults.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeScript {
    /// Whether the cards start in the field (default true).
    #[serde(default)]
    pub start_in_field: Option<bool>,
    /// Events in any order.
    #[serde(default)]
    pub events: Vec<ScriptEvent>,
    /// Faults applied by each slot's reader model.
    #[serde(default)]
    pub faults: Vec<kazasu_sim::Fault>,
    /// What the person at the reader's PIN pad does (a reader profile with a `pin_pad`).
    #[serde(default)]
    pub pin_pad: Option<ServedPinPad>,
}

/// The person at a served reader's PIN pad.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServedPinPad {
    /// `enter`, `cancel` or `away`.
    #[serde(rename = "do")]
    pub action: crate::scenario::PadAction,
    /// The PIN typed: one of the served identity's by name (`auth_pin`, the default;
    /// `card_info_pin`, `sign_pin`) or digits (a wrong PIN, say).
    #[serde(default)]
    pub pin: Option<String>,
    /// The new PIN a change types, by name or digits.
    #[serde(default)]
    pub new_pin: Option<String>,
    /// How long the typing or the key press takes (default 1s).
    #[serde(default, with = "humantime_serde_opt")]
    pub after: Option<Duration>,
}

impl ServedPinPad {
    /// The operator for a card of `subject`: named PINs are that identity's.
    pub fn operator(
        &self,
        subject: &kazasu_sim::Subject,
    ) -> Result<kazasu_sim::reader::pcsc::Operator, ServeError> {
        use kazasu_sim::reader::pcsc::Operator;
        let after = kazasu_sim::SimDuration::from_nanos(
            self.after
                .unwrap_or(Duration::from_secs(1))
                .as_nanos()
                .min(u128::from(u64::MAX)) as u64,
        );
        let pins = &subject.identity.pins;
        let pin = |name: &str| match name {
            "auth_pin" => Ok(pins.auth.clone()),
            "card_info_pin" => Ok(pins.card_info.clone()),
            "sign_pin" => Ok(pins.sign.clone()),
            digits if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                Ok(kazasu_sim::Secret::new(digits.to_string()))
            }
            other => Err(ServeError::Script(format!(
                "the serve script's pin_pad types `{other}`: give auth_pin, card_info_pin, \
                 sign_pin (the served identity's) or digits"
            ))),
        };
        Ok(match self.action {
            crate::scenario::PadAction::Away => Operator::Away,
            crate::scenario::PadAction::Cancel => Operator::Cancels { after },
            crate::scenario::PadAction::Enter => Operator::Enters {
                pin: pin(self.pin.as_deref().unwrap_or("auth_pin"))?,
                new_pin: self.new_pin.as_deref().map(pin).transpose()?,
                after,
            },
        })
    }
}

impl ServeScript {
    /// Reads and checks a script file.
    pub fn load(path: &std::path::Path) -> Result<ServeScript, ServeError> {
        let bad = |reason: String| ServeError::File {
            path: path.to_path_buf(),
            reason,
        };
        let text = crate::files::read_text(path, crate::files::SMALL_YAML)?;
        let script: ServeScript = serde_saphyr::from_str(&text).map_err(|e| bad(e.to_string()))?;
        for (i, e) in script.events.iter().enumerate() {
            if e.at.is_some() == e.after_apdus.is_some() {
                return Err(bad(format!(
                    "event {}: give exactly one of `at` and `after_apdus`",
                    i + 1
                )));
            }
        }
        for f in &script.faults {
            f.check().map_err(|m| bad(format!("fault: {m}")))?;
        }
        Ok(script)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The serve-script reference names every action and every field a script may hold.
    #[test]
    fn the_reference_page_names_every_action_and_field() {
        let page = include_str!("../../../docs/reference/serve-scripts.md");
        for action in [
            ScriptAction::Tap,
            ScriptAction::Remove,
            ScriptAction::Approve,
            ScriptAction::WarmReset,
        ] {
            assert!(page.contains(&format!("| `{action}` |")), "{action}");
        }
        for field in [
            "start_in_field",
            "events",
            "faults",
            "at",
            "after_apdus",
            "slot",
            "do",
        ] {
            assert!(
                page.contains(&format!("| `{field}` |"))
                    || page.contains(&format!("`events[].{field}`")),
                "{field}"
            );
        }
        // The example on the page loads.
        let example = page
            .split("```yaml\n")
            .nth(1)
            .unwrap()
            .split("```")
            .next()
            .unwrap();
        let script: ServeScript = serde_saphyr::from_str(example).unwrap();
        assert_eq!(script.events.len(), 4);
    }

    #[test]
    fn the_example_script_loads() {
        let path = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scenarios/serve/phone-pulled-away.yaml"
        ));
        let s = ServeScript::load(path).unwrap();
        assert_eq!(s.start_in_field, Some(false));
        assert_eq!(s.events.len(), 4);
        assert_eq!(s.events[2].after_apdus, Some(4));
        assert_eq!(s.events[3].at, Some(Duration::from_secs(4)));
    }

    #[test]
    fn a_script_event_needs_exactly_one_trigger() {
        let dir = std::env::temp_dir().join(format!("kazasu-serve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("bad.yaml");
        std::fs::write(&f, "events:\n  - { at: 1s, after_apdus: 3, do: remove }\n").unwrap();
        let err = ServeScript::load(&f).unwrap_err();
        assert!(
            err.to_string()
                .contains("exactly one of `at` and `after_apdus`"),
            "{err}"
        );
        std::fs::write(&f, "events:\n  - { at: 1s, do: dance }\n").unwrap();
        assert!(
            ServeScript::load(&f)
                .unwrap_err()
                .to_string()
                .contains("dance")
        );
    }
}
