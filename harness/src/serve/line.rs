//! The JSON lines of a served card's transcript (`kazasu serve --transcript`): one typed record,
//! written by `serve`, read by `import kazasu`, `replay` and `check-transcript`. The command of a
//! secret-bearing command is redacted before a record is made, so no record holds a secret.
//!
//! ```text
//! {"event":"card_inserted","slot":0,"t_ms":0.83}
//! {"atr":"3B 88 80 01 …","event":"getatr","slot":0,"t_ms":23.57}
//! {"command":"00 20 00 80 04 ** ** ** **","event":"apdu","response":"","sim_ns":2411000,"slot":0,"sw":"9000","t_ms":31.2}
//! {"event":"card_removed","slot":0,"t_ms":812.0,"why":"the script removed the card"}
//! ```

use crate::record::redact_secrets;
use kazasu_sim::hex_spaced;
use serde::{Deserialize, Serialize};

/// One line: when (milliseconds of wall time since serve started), which vpcd slot, what.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServedLine {
    /// Wall time since serve started, milliseconds.
    pub t_ms: f64,
    /// The vpcd slot.
    pub slot: u16,
    /// What happened.
    #[serde(flatten)]
    pub event: ServedEvent,
}

/// What a line records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ServedEvent {
    /// The link connected: the card is in the field.
    CardInserted,
    /// The link went down: the card left the field.
    CardRemoved {
        /// Why.
        why: String,
    },
    /// vpcd asked for the ATR.
    #[serde(rename = "getatr")]
    GetAtr {
        /// The ATR answered, hex.
        atr: String,
    },
    /// vpcd powered the card on.
    #[serde(rename = "poweron")]
    PowerOn,
    /// vpcd powered the card off.
    #[serde(rename = "poweroff")]
    PowerOff,
    /// vpcd reset the card.
    Reset,
    /// A command APDU and the card's answer.
    Apdu {
        /// The command, hex, secret data as `**`.
        command: String,
        /// The response data, hex.
        response: String,
        /// The status word, 4 hex digits; empty when the card gave no answer.
        sw: String,
        /// Simulated time of the exchange, nanoseconds.
        #[serde(default)]
        sim_ns: Option<u64>,
    },
}

impl ServedEvent {
    /// The event's name as written in the `event` field.
    pub fn name(&self) -> &'static str {
        match self {
            ServedEvent::CardInserted => "card_inserted",
            ServedEvent::CardRemoved { .. } => "card_removed",
            ServedEvent::GetAtr { .. } => "getatr",
            ServedEvent::PowerOn => "poweron",
            ServedEvent::PowerOff => "poweroff",
            ServedEvent::Reset => "reset",
            ServedEvent::Apdu { .. } => "apdu",
        }
    }

    /// An exchange: the command (redacted when it carries a secret) and the reply bytes
    /// (data ‖ SW; fewer than 2 bytes are recorded as data without a status word).
    pub fn exchange(command: &[u8], reply: &[u8], sim_ns: u64) -> ServedEvent {
        let (data, sw) = if reply.len() >= 2 {
            reply.split_at(reply.len() - 2)
        } else {
            (reply, &[][..])
        };
        ServedEvent::Apdu {
            command: redact_secrets(command),
            response: hex_spaced(data),
            sw: hex::encode_upper(sw),
            sim_ns: Some(sim_ns),
        }
    }
}

/// A line that is not a transcript line.
#[derive(Debug, thiserror::Error)]
#[error("{}not a kazasu transcript line: {source}", line.map(|n| format!("transcript line {n}: ")).unwrap_or_default())]
pub struct NotALine {
    /// Its 1-based number, when read from a whole transcript.
    pub line: Option<usize>,
    /// What JSON says of it.
    pub source: serde_json::Error,
}

impl ServedLine {
    /// Reads one line.
    pub fn parse(line: &str) -> Result<ServedLine, NotALine> {
        serde_json::from_str(line).map_err(|source| NotALine { line: None, source })
    }

    /// Writes the line (without the newline).
    pub fn emit(&self) -> String {
        serde_json::to_string(self).expect("a transcript line serialises")
    }
}

/// Reads a whole transcript: every non-empty line, with its 1-based line number.
pub fn read_all(text: &str) -> Result<Vec<(usize, ServedLine)>, NotALine> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            ServedLine::parse(l)
                .map(|s| (i + 1, s))
                .map_err(|e| NotALine {
                    line: Some(i + 1),
                    ..e
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event() -> impl Strategy<Value = ServedEvent> {
        prop_oneof![
            Just(ServedEvent::CardInserted),
            ".{0,40}".prop_map(|why| ServedEvent::CardRemoved { why }),
            proptest::collection::vec(any::<u8>(), 0..33).prop_map(|a| ServedEvent::GetAtr {
                atr: hex_spaced(&a)
            }),
            Just(ServedEvent::PowerOn),
            Just(ServedEvent::PowerOff),
            Just(ServedEvent::Reset),
            (
                proptest::collection::vec(any::<u8>(), 4..300),
                proptest::collection::vec(any::<u8>(), 0..300),
                any::<u64>()
            )
                .prop_map(|(c, r, ns)| ServedEvent::exchange(&c, &r, ns)),
        ]
    }

    proptest! {
        #[test]
        fn every_line_reads_back_as_written(
            ticks in any::<u32>(),
            slot in any::<u16>(),
            event in event(),
        ) {
            // Binary fractions of a millisecond print and read back exactly.
            let line = ServedLine { t_ms: f64::from(ticks) / 1024.0, slot, event };
            let text = line.emit();
            prop_assert!(!text.contains('\n'));
            prop_assert_eq!(ServedLine::parse(&text).unwrap(), line);
        }
    }

    #[test]
    fn the_committed_sample_reads_and_unknown_events_are_errors() {
        let sample = include_str!("../../../scenarios/traces/pkcs11-sign.kazasu.jsonl");
        let lines = read_all(sample).unwrap();
        assert!(lines.iter().any(|(_, l)| l.event.name() == "apdu"));
        for (_, l) in &lines {
            let again = ServedLine::parse(&l.emit()).unwrap();
            assert_eq!(&again, l);
        }
        let e = read_all("{\"event\":\"teleport\",\"slot\":0,\"t_ms\":1}\n").unwrap_err();
        assert_eq!(e.line, Some(1));
        assert!(e.to_string().contains("teleport"), "{e}");
    }

    #[test]
    fn a_secret_bearing_command_is_redacted_in_the_record() {
        let e = ServedEvent::exchange(
            &[0x00, 0x2C, 0x00, 0x80, 0x02, 0x12, 0x34],
            &[0x90, 0x00],
            1,
        );
        let ServedEvent::Apdu { command, sw, .. } = e else {
            unreachable!()
        };
        assert_eq!(command, "00 2C 00 80 02 ** **");
        assert_eq!(sw, "9000");
    }
}
