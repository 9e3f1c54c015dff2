//! The JSON lines of a served card's transcript (`kazasu serve --transcript`): one typed record,
//! written by `serve`, read by `import kazasu`, `replay` and `check-transcript`. The command of a
//! secret-bearing command is redacted before a record is made, and so is an answer that echoes
//! the secret of an earlier command on the slot (the readertest card's dump of the last VERIFY):
//! no record holds a secret.
//!
//! ```text
//! {"event":"card_inserted","slot":0,"t_ms":0.83}
//! {"atr":"3B 88 80 01 …","event":"getatr","slot":0,"t_ms":23.57}
//! {"command":"00 20 00 80 04 ** ** ** **","event":"apdu","response":"","sim_ns":2411000,"slot":0,"sw":"9000","t_ms":31.2}
//! {"event":"card_removed","slot":0,"t_ms":812.0,"why":"the script removed the card"}
//! ```

use crate::record::redact_secrets;
use kazasu_sim::hex_spaced;
use kazasu_sim::vpcd::Request;
use serde::{Deserialize, Serialize};
use std::sync::{Mutex, PoisonError};

/// The secrets a slot's host sent — the data of its secret-bearing commands — so that an answer
/// echoing one is hidden in the transcript too. Keeps the last [`Echoes::KEPT`]; a secret
/// shorter than 3 bytes is not looked for (it would hide ordinary data by chance).
#[derive(Debug, Default)]
pub struct Echoes(Mutex<Vec<Vec<u8>>>);

impl Echoes {
    /// How many secrets a slot remembers.
    pub const KEPT: usize = 16;

    /// Remembers the secret data of `command`, if it carries any.
    pub fn note(&self, command: &[u8]) {
        if !kazasu_sim::carries_secret(command) {
            return;
        }
        let Ok(parsed) = kazasu_sim::Command::parse(command) else {
            return;
        };
        if parsed.data.len() < 3 {
            return;
        }
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if !kept.iter().any(|s| s == parsed.data) {
            if kept.len() == Self::KEPT {
                kept.remove(0);
            }
            kept.push(parsed.data.to_vec());
        }
    }

    /// Whether `data` holds one of the remembered secrets.
    pub fn hides(&self, data: &[u8]) -> bool {
        let kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        kept.iter()
            .any(|s| data.windows(s.len()).any(|w| w == s.as_slice()))
    }
}

/// A time as a line writes it, milliseconds: whole microseconds over 1000, the double nearest the
/// decimal, so it prints as one (`106.911`, never `106.91132400000001`).
pub fn t_ms(elapsed: std::time::Duration) -> f64 {
    elapsed.as_micros() as f64 / 1e3
}

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
    CardInserted {
        /// What the link reached: `kazasu's driver at PATH`, `vpcd at ADDR`, `in-process`
        /// (absent in transcripts of earlier versions).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        via: Option<String>,
    },
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
        /// The response data, hex; `**` for each byte of an answer that echoes a secret.
        response: String,
        /// The status word, 4 hex digits; empty when the card gave no answer.
        sw: String,
        /// Simulated time of the exchange, nanoseconds.
        #[serde(default)]
        sim_ns: Option<u64>,
    },
    /// An `SCardControl` request through kazasu's driver and the reader's answer (a PIN-pad
    /// command's structure carries no PIN: the pad does).
    Control {
        /// The control code, `0x42330006`.
        code: String,
        /// The request's data, hex.
        data: String,
        /// `done`, `unsupported` or `failed`.
        answer: String,
        /// The answer's data, hex.
        response: String,
    },
    /// An `SCardGetAttrib` request through kazasu's driver.
    Attribute {
        /// The tag, `0x00010100`.
        tag: String,
        /// The value, hex; empty when the reader has no such attribute.
        value: String,
    },
}

impl ServedEvent {
    /// The event's name as written in the `event` field.
    pub fn name(&self) -> &'static str {
        match self {
            ServedEvent::CardInserted { .. } => "card_inserted",
            ServedEvent::CardRemoved { .. } => "card_removed",
            ServedEvent::GetAtr { .. } => "getatr",
            ServedEvent::PowerOn => "poweron",
            ServedEvent::PowerOff => "poweroff",
            ServedEvent::Reset => "reset",
            ServedEvent::Apdu { .. } => "apdu",
            ServedEvent::Control { .. } => "control",
            ServedEvent::Attribute { .. } => "attribute",
        }
    }

    /// A reader request of kazasu's driver and its answer frame (the answer byte, the data).
    pub fn reader_request(request: &Request, reply: &[u8]) -> Option<ServedEvent> {
        use kazasu_sim::vpcd::ReaderAnswer;
        let (verdict, data) = ReaderAnswer::of(reply);
        let answer = match verdict {
            ReaderAnswer::Done => "done",
            ReaderAnswer::Unsupported => "unsupported",
            ReaderAnswer::Failed => "failed",
        };
        Some(match request {
            Request::Control { code, data: sent } => ServedEvent::Control {
                code: format!("{code:#010X}"),
                data: hex_spaced(sent),
                answer: answer.into(),
                response: hex_spaced(data),
            },
            Request::Attribute(tag) => ServedEvent::Attribute {
                tag: format!("{tag:#010X}"),
                value: hex_spaced(data),
            },
            _ => return None,
        })
    }

    /// An exchange: the command (redacted when it carries a secret) and the reply bytes
    /// (data ‖ SW; fewer than 2 bytes are recorded as data without a status word), the data
    /// hidden when it echoes a secret `echoes` remembers.
    pub fn exchange(command: &[u8], reply: &[u8], sim_ns: u64, echoes: &Echoes) -> ServedEvent {
        echoes.note(command);
        let (data, sw) = if reply.len() >= 2 {
            reply.split_at(reply.len() - 2)
        } else {
            (reply, &[][..])
        };
        let response = if echoes.hides(data) {
            vec!["**"; data.len()].join(" ")
        } else {
            hex_spaced(data)
        };
        ServedEvent::Apdu {
            command: redact_secrets(command),
            response,
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
            Just(ServedEvent::CardInserted { via: None }),
            Just(ServedEvent::CardInserted {
                via: Some("kazasu's driver at /tmp/kazasu-ifd/slot-0.sock".into())
            }),
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
                .prop_map(|(c, r, ns)| ServedEvent::exchange(
                    &c,
                    &r,
                    ns,
                    &Echoes::default()
                )),
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
            &Echoes::default(),
        );
        let ServedEvent::Apdu { command, sw, .. } = e else {
            unreachable!()
        };
        assert_eq!(command, "00 2C 00 80 02 ** **");
        assert_eq!(sw, "9000");
    }

    /// Times written from whole microseconds print as short decimals.
    #[test]
    fn times_print_without_float_noise() {
        for nanos in [
            106_911_324u64, // as_secs_f64() × 1e3 gives 106.91132400000001
            1_000,
            999_999,
            123_456_789_123,
            2_044_480_000,
        ] {
            let line = ServedLine {
                t_ms: t_ms(std::time::Duration::from_nanos(nanos)),
                slot: 0,
                event: ServedEvent::PowerOn,
            };
            let text = line.emit();
            let shown = text
                .split("\"t_ms\":")
                .nth(1)
                .and_then(|t| t.split(',').next())
                .unwrap();
            let decimals = shown.split('.').nth(1).map_or(0, str::len);
            assert!(decimals <= 3, "at most microseconds: {text}");
        }
    }

    /// The readertest card's dump (`80 40`) answers the last VERIFY APDU, PIN included: the
    /// record hides that answer as it hides the VERIFY, and shows other answers as they are.
    #[test]
    fn an_answer_that_echoes_a_secret_is_hidden_in_the_record() {
        let echoes = Echoes::default();
        let verify = [0x80, 0x20, 0x00, 0x00, 0x04, 0x31, 0x32, 0x33, 0x34];
        let _ = ServedEvent::exchange(&verify, &[0x90, 0x00], 1, &echoes);
        let mut dump = verify.to_vec();
        dump.extend_from_slice(&[0x90, 0x00]);
        let ServedEvent::Apdu { response, sw, .. } =
            ServedEvent::exchange(&[0x80, 0x40, 0x00, 0x00, 0x00], &dump, 1, &echoes)
        else {
            unreachable!()
        };
        assert_eq!(response, ["**"; 9].join(" "));
        assert!(!response.contains("31 32 33 34"));
        assert_eq!(sw, "9000");
        let ServedEvent::Apdu { response, .. } = ServedEvent::exchange(
            &[0x80, 0x34, 0x00, 0x04, 0x04],
            &[1, 2, 3, 4, 0x90, 0x00],
            1,
            &echoes,
        ) else {
            unreachable!()
        };
        assert_eq!(response, "01 02 03 04", "other answers as they are");
    }
}
