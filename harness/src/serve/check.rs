//! Checking a `kazasu serve` transcript (JSON lines) afterwards against expectations: did the
//! software under test send these commands, in this order, and did the card answer as expected?
//!
//! ```yaml
//! - { command: "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01", expect: { sw: "9000" } }
//! - { command_prefix: "80 2A", expect: { sw: "9000", data_len: 256 } }
//! - { event: card_removed }
//! ```

use crate::scenario::SwExpect;
use crate::serve::line::{self, ServedEvent, ServedLine};
use serde::Deserialize;

/// One expected event, matched against the next events of the transcript in order.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// An APDU with exactly this command (hex, as the transcript shows it, `**` for secrets).
    #[serde(default)]
    pub command: Option<String>,
    /// An APDU whose command starts with this.
    #[serde(default)]
    pub command_prefix: Option<String>,
    /// A non-APDU event: `card_inserted`, `card_removed`, `poweron`, …
    #[serde(default)]
    pub event: Option<String>,
    /// What the answer must be.
    #[serde(default)]
    pub expect: Option<AnswerExpect>,
}

/// Expectations on the card's answer.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerExpect {
    /// Status word(s).
    #[serde(default)]
    pub sw: Option<SwExpect>,
    /// Response data length.
    #[serde(default)]
    pub data_len: Option<usize>,
    /// Response data starts with these bytes (hex).
    #[serde(default)]
    pub data_prefix: Option<String>,
}

/// Hex as compared: upper case, spaces dropped (`3082`, `30 82` and `30 82 ` are the same bytes).
fn norm(hex: &str) -> String {
    hex.split_whitespace().collect::<String>().to_uppercase()
}

/// Checks `transcript` (JSON lines) against `expected`; returns one line per expectation
/// (`Ok` = met) or an input error.
pub fn check(
    transcript: &str,
    expected: &[Expected],
) -> Result<Vec<Result<String, String>>, String> {
    let events: Vec<ServedLine> = line::read_all(transcript)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    let mut at = 0;
    let mut out = Vec::new();
    for (k, x) in expected.iter().enumerate() {
        let what = match (&x.command, &x.command_prefix, &x.event) {
            (Some(c), None, None) => format!("APDU {c}"),
            (None, Some(p), None) => format!("APDU starting {p}"),
            (None, None, Some(e)) => format!("event {e}"),
            _ => {
                return Err(format!(
                    "expectation {}: give exactly one of command, command_prefix, event",
                    k + 1
                ));
            }
        };
        let found = events[at..].iter().position(|e| {
            let command = match &e.event {
                ServedEvent::Apdu { command, .. } => Some(norm(command)),
                _ => None,
            };
            match (&x.command, &x.command_prefix, &x.event, command) {
                (Some(c), _, _, Some(cmd)) => cmd == norm(c),
                (_, Some(p), _, Some(cmd)) => cmd.starts_with(&norm(p)),
                (_, _, Some(name), _) => e.event.name() == name,
                _ => false,
            }
        });
        let Some(i) = found.map(|i| i + at) else {
            out.push(Err(if at == 0 {
                format!("{what}: not found in the transcript")
            } else {
                format!("{what}: not found after transcript line {at}")
            }));
            continue;
        };
        at = i + 1;
        let (sw_text, response) = match &events[i].event {
            ServedEvent::Apdu { sw, response, .. } => (sw.as_str(), response.as_str()),
            _ => ("", ""),
        };
        let mut problems = Vec::new();
        if let Some(a) = &x.expect {
            let sw = u16::from_str_radix(sw_text, 16)
                .map(kazasu_sim::StatusWord)
                .ok();
            if let Some(want) = &a.sw
                && !sw.is_some_and(|sw| want.0.iter().any(|p| p.matches(sw)))
            {
                let w = want
                    .0
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(" or ");
                problems.push(format!(
                    "SW {w} expected, got {}",
                    if sw_text.is_empty() {
                        "no answer"
                    } else {
                        sw_text
                    }
                ));
            }
            let data = norm(response);
            let len = data.len() / 2;
            if let Some(n) = a.data_len
                && n != len
            {
                problems.push(format!("{n} bytes expected, got {len}"));
            }
            if let Some(p) = &a.data_prefix
                && !data.starts_with(&norm(p))
            {
                problems.push(format!("data starting {p} expected"));
            }
        }
        out.push(if problems.is_empty() {
            Ok(format!("{what} (transcript line {})", i + 1))
        } else {
            Err(format!(
                "{what} (transcript line {}): {}",
                i + 1,
                problems.join("; ")
            ))
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = r#"{"event":"card_inserted","slot":0,"t_ms":1.0}
{"event":"apdu","slot":0,"t_ms":2.0,"command":"00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01","response":"","sw":"9000","sim_ns":1}
{"event":"apdu","slot":0,"t_ms":3.0,"command":"00 20 00 80 04 ** ** ** **","response":"","sw":"63C2","sim_ns":1}
{"event":"apdu","slot":0,"t_ms":4.0,"command":"80 2A 00 80 03 01 02 03 00","response":"AA BB","sw":"9000","sim_ns":1}
{"event":"card_removed","slot":0,"t_ms":5.0,"why":"x"}
"#;

    fn exp(yaml: &str) -> Vec<Expected> {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn in_order_expectations_hold_or_say_why_not() {
        let r = check(T, &exp("- { event: card_inserted }\n- { command: \"00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01\", expect: { sw: \"9000\" } }\n- { command_prefix: \"0020\", expect: { sw: 63Cx } }\n- { command_prefix: \"80 2A\", expect: { sw: \"9000\", data_len: 2, data_prefix: aa } }\n- { event: card_removed }\n")).unwrap();
        assert!(r.iter().all(Result::is_ok), "{r:?}");
        let r = check(
            T,
            &exp("- { command_prefix: \"80 2A\" }\n- { command_prefix: \"00 A4\" }\n"),
        )
        .unwrap();
        assert!(
            r[0].is_ok() && r[1].as_ref().unwrap_err().contains("not found"),
            "order matters: {r:?}"
        );
        let r = check(
            T,
            &exp("- { command_prefix: \"00 20\", expect: { sw: \"9000\" } }\n"),
        )
        .unwrap();
        assert!(
            r[0].as_ref()
                .unwrap_err()
                .contains("SW 9000 expected, got 63C2"),
            "{r:?}"
        );
        assert!(check("not json\n", &[]).unwrap_err().contains("line 1"));
        // What is nowhere in the transcript says so, not "after line 0".
        let r = check(T, &exp("- { command_prefix: \"80 FC\" }\n")).unwrap();
        let why = r[0].as_ref().unwrap_err();
        assert!(why.ends_with("not found in the transcript"), "{why}");
        assert!(!why.contains("line 0"), "{why}");
    }
}
